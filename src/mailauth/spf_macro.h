/*
 * spf_macro.h — the macro language of SPF (RFC 7208 §7): the syntax of
 * macro-strings, domain-specs and explain-strings, and their expansion.
 *
 * One walker does both: checking a string is expanding it without output.
 * Everything here is synchronous and pure; the values a macro needs (the
 * validated %{p} name above all, which takes DNS lookups) are computed by
 * the evaluator (spf.c) beforehand and handed in.  Inputs come from DNS and
 * SMTP and are hostile: lengths are explicit and output never exceeds the
 * caller's buffer (an expansion that would is refused, not cut).
 */
#ifndef TERN_MAILAUTH_SPF_MACRO_H
#define TERN_MAILAUTH_SPF_MACRO_H

#include <stdbool.h>
#include <stddef.h>

enum spf_macro_kind {
	SPF_MACRO_DOMAIN,     /* domain-spec of a mechanism, redirect= or exp=: letters s l o d i p h v */
	SPF_MACRO_EXPLAIN,    /* explain-string (the exp= TXT record): also c r t, and spaces */
	SPF_MACRO_MODIFIER,   /* an unknown modifier's value: checked, never expanded */
};

/* The values macro letters stand for (§7.3).  NULL reads as "". */
struct spf_macro_vars {
	const char *sender;       /* s: local-part@domain */
	const char *local;        /* l */
	const char *sender_domain;/* o */
	const char *domain;       /* d: the current <domain> */
	const char *ip_dotted;    /* i: dotted quad, or 32 dot-separated nibbles for IPv6 */
	const char *ptr_name;     /* p: validated name or "unknown" */
	const char *helo;         /* h */
	const char *ip_text;      /* c: the address as people write it */
	const char *receiver;     /* r */
	const char *timestamp;    /* t: seconds since the epoch */
	bool ipv6;                /* v: "ip6", else "in-addr" */
};

enum spf_macro_status {
	SPF_MACRO_OK,
	SPF_MACRO_SYNTAX,         /* not a valid string of this kind */
	SPF_MACRO_TOO_LONG,       /* valid, but the expansion does not fit */
};

/*
 * Check (out == NULL) or expand s[0..len) as a string of the given kind.
 * With out, at most outsize - 1 bytes plus a NUL are written and *outlen
 * says how many.  *uses_p (may be NULL) tells whether %{p} occurs, so the
 * caller knows to resolve it first.
 */
enum spf_macro_status spf_macro_expand(const char *s, size_t len, enum spf_macro_kind kind,
				       const struct spf_macro_vars *v, char *out, size_t outsize,
				       size_t *outlen, bool *uses_p);

/*
 * domain-spec = macro-string domain-end (§7.1): a valid macro-string that
 * ends in a macro or in "." toplabel ["."].  Empty is not valid.
 */
bool spf_domain_spec_valid(const char *s, size_t len, bool *uses_p);

/*
 * An expanded domain-spec made ready for a DNS query (§4.8, §7.3): one
 * trailing dot dropped, labels cut from the left until at most 253
 * characters remain, and every label 1..63 characters.  Works in place;
 * false when no usable name is left (the caller treats the target as a
 * name that does not exist).
 */
bool spf_macro_domain_finish(char *name);

#endif
