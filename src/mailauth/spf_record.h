/*
 * spf_record.h — the SPF record parser (RFC 7208 §4.5, §4.6.1, §5, §6, §12).
 *
 * A record is parsed whole before any of it is evaluated, so that a
 * syntax error anywhere is a permerror whatever comes before it (§4.6).
 * The parser takes the TXT data as DNS delivered it (pointer and length;
 * it may hold NULs) and keeps its own copy; terms point into that copy.
 * Domain-specs are only checked here; expanding them is the evaluator's
 * job (spf.c, with spf_macro.h).
 */
#ifndef TERN_MAILAUTH_SPF_RECORD_H
#define TERN_MAILAUTH_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longer records are a permerror: real ones are a few hundred bytes. */
#define SPF_RECORD_MAX 4096
/* More terms than this are a permerror (only 10 of them may cause DNS lookups). */
#define SPF_TERMS_MAX 512

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	char qualifier;            /* '+', '-', '~' or '?' ('+' when not written) */
	uint16_t text_off, text_len;   /* the directive as written, for mechanism= */
	uint16_t spec_off, spec_len;   /* domain-spec; spec_len 0: none, the current <domain> */
	bool spec_uses_p;          /* the domain-spec needs %{p} */
	uint8_t cidr4, cidr6;      /* prefix lengths (a, mx: dual; ip4: cidr4; ip6: cidr6) */
	uint8_t addr[16];          /* ip4 (first 4 bytes) or ip6 network */
};

struct spf_record {
	char *text;                /* NUL-terminated copy of the record */
	size_t len;
	struct spf_term *terms;    /* the mechanisms, in order */
	size_t n_terms;
	bool has_all;              /* an "all" anywhere: redirect= is ignored (§6.1) */
	bool has_redirect, has_exp;
	uint16_t redirect_off, redirect_len, exp_off, exp_len;
	bool redirect_uses_p, exp_uses_p;
};

/* §4.5: the record begins "v=spf1" (any case) followed by a space or its end. */
bool spf_record_is_spf1(const char *txt, size_t len);

/*
 * Parse a whole record.  false on any syntax error, with a short
 * description in why (printable ASCII); out is then empty.
 */
bool spf_record_parse(const char *txt, size_t len, struct spf_record *out, char *why, size_t whysize);
void spf_record_free(struct spf_record *r);

/* "all", "include", ... for logs. */
const char *spf_mech_name(enum spf_mech m);

#endif
