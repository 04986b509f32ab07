/* mailauth_dns.c — the mailauth DNS table over the real resolver; see mailauth_dns.h. */
#include "mailauth/mailauth_dns.h"

static struct dns_query *resolver_lookup(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg)
{
	return dns_lookup(ctx, name, type, cb, arg);
}

static void resolver_cancel(void *ctx, struct dns_query *q)
{
	dns_cancel(q);
}

struct mailauth_dns mailauth_dns_resolver(struct dns_resolver *r)
{
	return (struct mailauth_dns){ .lookup = resolver_lookup, .cancel = resolver_cancel, .ctx = r };
}
