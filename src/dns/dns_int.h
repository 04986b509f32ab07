/*
 * dns_int.h — what the files of src/dns/ share, and what the unit tests
 * and the fuzz target call directly: the rdata parsers (rdata.c), the
 * reverse-name builder (name.c) and the mapping of a libunbound result to
 * a struct dns_result (answer.c).  resolver.c owns the libunbound context
 * and the event loop side; nothing here blocks or touches the network.
 *
 * The parsers take rdata exactly as libunbound hands it over (network
 * order, no RDLENGTH prefix, names uncompressed — libunbound stores RRsets
 * decompressed) and treat every byte as hostile: each length is checked
 * against what is left, a compression pointer is an error (RFC 3597 §4:
 * not allowed in these types' rdata once decompressed), and a record must
 * be consumed exactly.  They return false on anything malformed and then
 * leave nothing allocated.
 */
#ifndef TERN_DNS_DNS_INT_H
#define TERN_DNS_DNS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

struct ub_result;

/* The DNS RCODEs answer.c tells apart (RFC 1035 §4.1.1). */
enum { RCODE_NOERROR = 0, RCODE_SERVFAIL = 2, RCODE_NXDOMAIN = 3, RCODE_REFUSED = 5 };

/* A domain name's text form: 253 characters, or 4x that with \DDD escapes. */
#define DNS_NAME_TEXT_MAX 1024

/*
 * The uncompressed wire name at p (at most len bytes available) as lower-case
 * text without the trailing dot ("" for the root).  Bytes that are not
 * printable ASCII, and '.' or '\' inside a label, are written as \DDD / \. / \\
 * (presentation format), so the text is unambiguous; such names fail
 * dns_name_valid() and so are never looked up.  *used is the name's wire
 * length.  false when malformed or when the text does not fit outsize.
 */
bool dns_rdata_name(const uint8_t *p, size_t len, size_t *used, char *out, size_t outsize);

/* MX: 16-bit preference + name filling the rest of the rdata. */
bool dns_rdata_mx(const uint8_t *p, size_t len, struct dns_mx *out);

/* A (4 bytes) or AAAA (16 bytes) as numeric text; out holds INET6_ADDRSTRLEN (46). */
bool dns_rdata_addr(const uint8_t *p, size_t len, enum dns_type type, char *out, size_t outsize);

/*
 * TXT: the character-strings concatenated; out->data malloc'd (NUL-terminated;
 * the data may hold NULs, out->len counts them).  An empty rdata, which RFC
 * 1035 does not allow (one or more strings), is read as one empty string:
 * to SPF or DMARC that is the same as a record that does not apply.
 */
bool dns_rdata_txt(const uint8_t *p, size_t len, struct dns_txt *out);

/* TLSA: usage, selector, matching type, association data (malloc'd, may be empty). */
bool dns_rdata_tlsa(const uint8_t *p, size_t len, struct dns_tlsa *out);

/* PTR: one name filling the rdata. */
bool dns_rdata_ptr(const uint8_t *p, size_t len, char *out, size_t outsize);

/*
 * "192.0.2.1" -> "1.2.0.192.in-addr.arpa", "2001:db8::1" -> the 32 nibbles
 * under ip6.arpa.  false when ip is not a numeric IPv4/IPv6 address or out
 * (at least 73 bytes for IPv6) is too small.
 */
bool dns_reverse_name(const char *ip, char *out, size_t outsize);

/* Sort by preference; equal preferences in random order (RFC 5321 §5.1). */
void dns_mx_sort(struct dns_mx *mx, size_t n);

/*
 * Fill out (zeroed first) from libunbound's result for a query of type t.
 * Malformed records are dropped with a log line; when none is left the
 * answer is DNS_TEMPFAIL why="malformed rdata".  Everything out points to is
 * owned by out until dns_answer_free(), except why: a static string, or for
 * a bogus answer u->why_bogus, so u must outlive out (resolver.c frees u
 * after the callback).
 */
void dns_answer_build(const struct ub_result *u, enum dns_type t, struct dns_result *out);
/* A result that is not an answer: status with why, nothing else. */
void dns_answer_fail(struct dns_result *out, enum dns_type t, enum dns_status st, const char *why);
void dns_answer_free(struct dns_result *r);

/*
 * A resolver's recent answers (cache.c), used on its loop only.  put keeps
 * u's answer to name/type for as long as its TTL runs (plain answers only:
 * NOERROR or NXDOMAIN, not bogus, small); get builds a kept, unexpired one
 * into out as dns_answer_build would and returns true.  name is compared
 * without case and without a trailing dot.
 */
struct dns_cache;
struct dns_cache *dns_cache_new(size_t slots);
void dns_cache_free(struct dns_cache **c);
void dns_cache_put(struct dns_cache *c, const char *name, enum dns_type t, const struct ub_result *u,
		   uint64_t now_ms);
bool dns_cache_get(struct dns_cache *c, const char *name, enum dns_type t, uint64_t now_ms,
		   struct dns_result *out);
/* How the resolver's queries were answered so far (for tests). */
void dns_resolver_counts(const struct dns_resolver *r, uint64_t *from_cache, uint64_t *from_unbound);

#endif
