/*
 * dns.h — the asynchronous resolver (libunbound), one per event loop.
 *
 * Queries run inside libunbound; their answers come back on the loop that
 * owns the resolver, through the callback, never from inside dns_lookup()
 * itself (so a caller may start a query while holding half-built state).
 * A validating resolver: every answer says whether DNSSEC proved it
 * (secure) or proved it forged (bogus, which is reported as a temporary
 * failure, as RFC 7672 wants for DANE).
 */
#ifndef TERN_DNS_DNS_H
#define TERN_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dns_resolver;
struct dns_query;

enum dns_type {
	DNS_A = 1,
	DNS_PTR = 12,
	DNS_MX = 15,
	DNS_TXT = 16,
	DNS_AAAA = 28,
	DNS_TLSA = 52,
};

enum dns_status {
	DNS_OK,         /* n >= 1 records */
	DNS_NXDOMAIN,   /* the name does not exist */
	DNS_NODATA,     /* the name exists, no record of this type */
	DNS_TEMPFAIL,   /* SERVFAIL, timeout, bogus DNSSEC, resolver trouble: try again later */
	DNS_BADNAME,    /* not a valid domain name (too long, empty label): permanent */
};

struct dns_mx {
	unsigned pref;
	char host[256];     /* lower case, no trailing dot; "" for the root (null MX) */
};

struct dns_txt {
	size_t len;
	char *data;         /* the record's character-strings concatenated, NUL-terminated */
};

struct dns_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	uint8_t *data;
};

struct dns_result {
	enum dns_type type;
	enum dns_status status;
	bool secure;        /* DNSSEC-validated (also for NXDOMAIN/NODATA: authenticated denial) */
	bool bogus;         /* validation failed; status is DNS_TEMPFAIL */
	const char *why;    /* for logs when status is DNS_TEMPFAIL: "SERVFAIL", "timeout", unbound's text */
	size_t n;
	/* One of these, by type; valid only during the callback. */
	struct dns_mx *mx;          /* sorted by pref; equal prefs in random order (RFC 5321 §5.1) */
	bool null_mx;               /* exactly one MX, host "." (RFC 7505) */
	char **addrs;               /* A / AAAA: numeric text ("192.0.2.1", "2001:db8::1") */
	struct dns_txt *txt;
	struct dns_tlsa *tlsa;
	char **names;               /* PTR: lower case, no trailing dot */
};

typedef void (*dns_cb)(const struct dns_result *r, void *arg);

/*
 * nameservers: "ip[:port], ..." (IPv6 as "[::1]:53"), NULL or "" for
 * /etc/resolv.conf.  With explicit nameservers they also answer for
 * "test." and the reverse zones of private and documentation addresses,
 * which are then insecure unless trust_anchor covers them.  trust_anchor:
 * file of DS or DNSKEY records in zone file syntax; "none" for no
 * validation; NULL for the root key Debian ships (dns-root-data), or no
 * validation when that is absent.  NULL (logged) on failure.
 */
struct dns_resolver *dns_resolver_new(struct event_base *base, const char *nameservers,
				      const char *trust_anchor);
/* Pending queries are cancelled; their callbacks are not called. */
void dns_resolver_free(struct dns_resolver **r);

/*
 * Start a query.  name is a domain (trailing dot optional), or for PTR an
 * IP address in text form.  Returns a handle for dns_cancel, or NULL when
 * the query could not even start (then cb was not and will not be called;
 * the caller treats it as DNS_TEMPFAIL, or DNS_BADNAME for a bad name —
 * dns_name_valid tells which).
 */
struct dns_query *dns_lookup(struct dns_resolver *r, const char *name, enum dns_type type,
			     dns_cb cb, void *arg);
/* Before its callback has run: the callback will not be called.  Not after it. */
void dns_cancel(struct dns_query *q);

/* Syntax check of a domain name: labels 1..63, total <= 253, no empty label. */
bool dns_name_valid(const char *name);

const char *dns_status_name(enum dns_status s);

#endif
