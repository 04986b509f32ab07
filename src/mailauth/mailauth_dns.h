/*
 * mailauth_dns.h — how SPF, DKIM, DMARC and ARC ask DNS.
 *
 * Through this table and not dns_lookup() directly, so that the
 * conformance tests (the RFC 7208 suite, DKIM key records) can answer
 * from an in-process zone table with the same code paths that serve uses
 * with libunbound.  The rules are dns.h's: the callback runs later on the
 * caller's loop, never from inside lookup(); cancel() before it has run
 * means it never will.
 */
#ifndef TERN_MAILAUTH_MAILAUTH_DNS_H
#define TERN_MAILAUTH_MAILAUTH_DNS_H

#include "dns/dns.h"

struct mailauth_dns {
	struct dns_query *(*lookup)(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg);
	void (*cancel)(void *ctx, struct dns_query *q);
	void *ctx;
};

/* The table for a real resolver (ctx = the struct dns_resolver). */
struct mailauth_dns mailauth_dns_resolver(struct dns_resolver *r);

#endif
