/*
 * postmaster.c — where mail for the postmaster goes (RFC 5321 §4.5.1).
 *
 * A server MUST accept "postmaster" without a domain and postmaster@ every
 * domain it serves, whether or not the operator set anything up.  In
 * order: an account or alias of that name (the caller has looked already),
 * the configured `postmaster` address, postmaster@ a local domain (the
 * host name's own first, for the bare form), and last the oldest account
 * of the domain, then of the whole server: on a personal or family server
 * that is the operator, and a message to the postmaster that reaches a
 * person beats one refused.  Only a server with no account at all refuses.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The configured postmaster: its local recipients, or the address itself for the queue. */
static enum store_status resolve_configured(struct store *st, const char *pm, struct store_rcpt *res)
{
	const char *at = strrchr(pm, '@');
	if (at && store_domain_is_local(st, at + 1))
		return store_resolve_rcpt(st, pm, res);
	res->remote[0] = xstrdup(pm);
	res->nremote = 1;
	return STORE_OK;
}

struct domains {
	const char *hostname;
	char *best;             /* the local domain the host name is in, longest */
	char *first;
};

static void on_domain(void *ctx, const char *name)
{
	struct domains *d = ctx;
	if (!d->first)
		d->first = xstrdup(name);
	size_t hn = strlen(d->hostname), dn = strlen(name);
	bool inside = dn <= hn && strcasecmp(d->hostname + hn - dn, name) == 0 &&
		      (dn == hn || d->hostname[hn - dn - 1] == '.');
	if (inside && (!d->best || dn > strlen(d->best))) {
		free(d->best);
		d->best = xstrdup(name);
	}
}

struct oldest {
	int64_t id;
	char address[320];
};

static void on_account(void *ctx, const struct store_account *a)
{
	struct oldest *o = ctx;
	if (o->id == 0 || a->id < o->id) {
		o->id = a->id;
		snprintf(o->address, sizeof o->address, "%s", a->address);
	}
}

/* The oldest account of domain (NULL: of all); false if there is none. */
static bool oldest_account(struct store *st, const char *domain, struct oldest *o)
{
	memset(o, 0, sizeof *o);
	return store_account_list(st, domain, on_account, o) == STORE_OK && o->id != 0;
}

static enum store_status resolve_named(struct store *st, const char *domain, struct store_rcpt *res, char **address)
{
	struct buf a = BUF_INIT;
	buf_printf(&a, "postmaster@%s", domain);
	enum store_status rc = store_resolve_rcpt(st, a.data, res);
	if (rc == STORE_OK)
		*address = buf_steal(&a);
	buf_free(&a);
	return rc;
}

enum store_status smtp_postmaster_resolve(struct smtp_session *s, const char *domain, struct store_rcpt *res,
					  char **address)
{
	struct store *st = smtp_store(s);
	const char *pm = s->srv->cfg->postmaster;
	*address = NULL;
	if (pm) {
		*address = xstrdup(pm);
		return resolve_configured(st, pm, res);
	}

	enum store_status rc = STORE_NOTFOUND;
	struct domains d = { .hostname = s->srv->cfg->hostname ? s->srv->cfg->hostname : "" };
	if (!domain) {
		/* the bare form: postmaster@ the host's own domain, else @ the first one */
		if (store_domain_list(st, on_domain, &d) != STORE_OK) {
			rc = STORE_IOERR;
			goto out;
		}
		const char *try[2] = { d.best, d.first };
		for (size_t i = 0; i < 2 && rc == STORE_NOTFOUND; i++) {
			if (try[i] && (i == 0 || !d.best || strcasecmp(try[i], d.best) != 0))
				rc = resolve_named(st, try[i], res, address);
		}
		if (rc != STORE_NOTFOUND)
			goto out;
		domain = d.best ? d.best : d.first;
	}

	struct oldest o;
	if ((domain && oldest_account(st, domain, &o)) || oldest_account(st, NULL, &o)) {
		res->account_ids[0] = o.id;
		res->naccounts = 1;
		*address = xstrdup(o.address);
		log_warn("smtp", "session=%s msg=\"no postmaster set up, delivering to the oldest account\" to=%s "
			 "hint=\"set postmaster in the config or add a postmaster@ alias\"", s->c->id, lq(o.address));
		rc = STORE_OK;
	}
out:
	free(d.best);
	free(d.first);
	return rc;
}
