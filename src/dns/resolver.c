/*
 * resolver.c — struct dns_resolver (dns.h): one libunbound context per
 * event loop, its answers delivered on that loop.
 *
 * libunbound runs in threaded async mode (ub_ctx_async(ctx, 1)): queries
 * are resolved and validated on a thread of its own, and answers come back
 * through a pipe whose end is ub_fd(); a persistent EV_READ event on it
 * calls ub_process(), which calls on_answer() for each finished query on
 * the loop's thread.  libunbound's event API (ub_ctx_create_ub_event) would
 * save the thread, but its callback hands over the raw answer packet, which
 * we would then have to parse (compression and all) ourselves; here
 * libunbound has already split the answer into rdata, so the only wire
 * format we parse is each record's rdata (rdata.c).
 *
 * Each query has our own deadline (DNS_QUERY_TIMEOUT_MS): libunbound
 * retries an unreachable server for about 17 s (1.17, measured), each one of
 * a list in turn, so a list of dead servers can take minutes, and a caller
 * (an SMTP session, the delivery queue) needs an answer in bounded time.
 *
 * A query's life:  dns_lookup() -> pending -> on_answer() | on_deadline()
 * | dns_cancel() | dns_resolver_free().  When libunbound cannot cancel a
 * query (it always should, but its API allows failure) the query stays
 * in the list as a zombie (cb == NULL) until its answer arrives or the
 * resolver is freed, because libunbound still holds a pointer to it.
 */
#include "dns/dns_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define DNS_QUERY_TIMEOUT_MS 20000
#define ROOT_KEY_FILE "/usr/share/dns/root.key"
/* RFC 1035 class IN. */
#define CLASS_IN 1

struct dns_query {
	struct dns_resolver *r;
	struct dns_query *prev, *next;
	int async_id;
	enum dns_type type;
	dns_cb cb;              /* NULL: cancelled, libunbound may still answer */
	void *arg;
	struct event *deadline;         /* or, for an answer from the cache, its zero timer */
	struct dns_result *cached;      /* answered from the cache: delivered by on_cached() */
	char name[DNS_NAME_TEXT_MAX];   /* for logs, and the cache key */
};

struct dns_resolver {
	struct event_base *base;
	struct ub_ctx *ctx;
	struct event *readable;
	struct dns_query *queries;
	int processing;         /* inside ub_process(): freeing must wait */
	bool dying;             /* dns_resolver_free() was called during ub_process() */
	struct dns_cache *cache;
	uint64_t from_cache, from_unbound;      /* queries answered each way, for tests */
};

#define DNS_CACHE_SLOTS 512

static void cached_free(struct dns_query *q)
{
	if (q->cached) {
		dns_answer_free(q->cached);
		free(q->cached);
		q->cached = NULL;
	}
}

static void query_unlink_free(struct dns_query *q)
{
	struct dns_resolver *r = q->r;
	if (q->prev)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	if (q->deadline)
		event_free(q->deadline);
	cached_free(q);
	free(q);
}

/* Stop q without a callback: freed now, or a zombie if libunbound keeps it. */
static void query_stop(struct dns_query *q)
{
	q->cb = NULL;
	if (q->deadline)
		evtimer_del(q->deadline);
	if (q->cached) {
		query_unlink_free(q);
		return;
	}
	int err = ub_cancel(q->r->ctx, q->async_id);
	if (err == 0)
		query_unlink_free(q);
	else
		log_debug("dns", "msg=\"cancel refused, waiting for the answer\" name=%s err=%s",
			  lq(q->name), lq(ub_strerror(err)));
}

static void on_answer(void *mydata, int err, struct ub_result *u)
{
	struct dns_query *q = mydata;
	dns_cb cb = q->cb;
	void *arg = q->arg;
	enum dns_type type = q->type;
	struct dns_result res;

	if (!err && u)
		dns_cache_put(q->r->cache, q->name, type, u, now_ms());
	if (cb) {
		if (err)
			dns_answer_fail(&res, type, DNS_TEMPFAIL, ub_strerror(err));
		else
			dns_answer_build(u, type, &res);
		if (res.bogus)
			log_info("dns", "msg=\"DNSSEC validation failed\" name=%s type=%d why=%s",
				 lq(q->name), (int)type, lq(res.why));
	}
	/* Unlinked before the callback, which may cancel or start other queries. */
	query_unlink_free(q);
	if (cb) {
		cb(&res, arg);
		dns_answer_free(&res);
	}
	if (u)
		ub_resolve_free(u);
}

/* An answer from the cache, on the loop's next turn (never inside dns_lookup). */
static void on_cached(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	dns_cb cb = q->cb;
	void *cb_arg = q->arg;
	struct dns_result *res = q->cached;
	q->cached = NULL;
	query_unlink_free(q);
	if (cb)
		cb(res, cb_arg);
	dns_answer_free(res);
	free(res);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	dns_cb cb = q->cb;
	void *cb_arg = q->arg;
	struct dns_result res;
	log_info("dns", "msg=\"query timed out\" name=%s type=%d after_ms=%d",
		 lq(q->name), (int)q->type, DNS_QUERY_TIMEOUT_MS);
	dns_answer_fail(&res, q->type, DNS_TEMPFAIL, "timeout");
	query_stop(q);
	if (cb)
		cb(&res, cb_arg);
}

static void resolver_destroy(struct dns_resolver *r)
{
	if (r->readable)
		event_free(r->readable);
	/* Stops libunbound's thread; the callbacks of its pending queries are dropped. */
	if (r->ctx)
		ub_ctx_delete(r->ctx);
	while (r->queries)
		query_unlink_free(r->queries);
	dns_cache_free(&r->cache);
	free(r);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;
	r->processing++;
	int err = ub_process(r->ctx);
	r->processing--;
	if (err)
		log_warn("dns", "msg=\"ub_process failed\" err=%s", lq(ub_strerror(err)));
	if (r->dying && r->processing == 0)
		resolver_destroy(r);
}

/* "ip", "ip:port", "[ip6]", "[ip6]:port" or a bare IPv6 address -> "ip@port" for ub_ctx_set_fwd. */
static bool parse_nameserver(const char *s, size_t n, char *out, size_t outsize)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t hlen, plen = 0;
	const char *colon = memchr(s, ':', n);
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return false;
		hlen = (size_t)(close - s - 1);
		s++;
		size_t rest = n - hlen - 2;
		if (rest > 0) {
			if (close[1] != ':' || rest < 2)
				return false;
			port = close + 2;
			plen = rest - 1;
		}
	} else if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1) == NULL) {
		hlen = (size_t)(colon - s);
		port = colon + 1;
		plen = n - hlen - 1;
	} else {
		hlen = n;
	}
	if (hlen == 0 || hlen >= sizeof host)
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	unsigned char a[16];
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return false;
	unsigned long p = 53;
	if (port) {
		if (plen == 0 || plen > 5)
			return false;
		p = 0;
		for (size_t i = 0; i < plen; i++) {
			if (port[i] < '0' || port[i] > '9')
				return false;
			p = p * 10 + (unsigned long)(port[i] - '0');
		}
		if (p == 0 || p > 65535)
			return false;
	}
	int w = snprintf(out, outsize, "%s@%lu", host, p);
	return w > 0 && (size_t)w < outsize;
}

static bool set_forwarders(struct ub_ctx *ctx, const char *list)
{
	const char *p = list;
	int count = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		char fwd[INET6_ADDRSTRLEN + 8];
		if (!parse_nameserver(s, n, fwd, sizeof fwd)) {
			log_error("dns", "msg=\"bad nameserver\" value=%s", lqn(s, n));
			return false;
		}
		int err = ub_ctx_set_fwd(ctx, fwd);
		if (err) {
			log_error("dns", "msg=\"cannot use nameserver\" value=%s err=%s", lq(fwd), lq(ub_strerror(err)));
			return false;
		}
		count++;
		if (!end)
			break;
		p = end + 1;
	}
	if (count == 0) {
		log_error("dns", "msg=\"no nameserver in the list\" value=%s", lq(list));
		return false;
	}
	return true;
}

static bool set_option(struct ub_ctx *ctx, const char *opt, const char *val)
{
	int err = ub_ctx_set_option(ctx, opt, val);
	if (err)
		log_error("dns", "msg=\"unbound option refused\" option=%s value=%s err=%s",
			  lq(opt), lq(val), lq(ub_strerror(err)));
	return err == 0;
}

static bool set_trust_anchor(struct ub_ctx *ctx, const char *ta)
{
	if (ta && strcmp(ta, "none") == 0)
		return true;
	const char *path = ta ? ta : ROOT_KEY_FILE;
	/*
	 * libunbound reads the file when the context is finalized (the end of
	 * dns_resolver_new); opening it here first, as the user that will run
	 * the queries, names the real problem of a wrong path or permission.
	 */
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!ta) {
			log_info("dns", "msg=\"no root trust anchor, DNSSEC validation off\" path=%s", ROOT_KEY_FILE);
			return true;
		}
		log_error("dns", "msg=\"cannot read the trust anchor\" path=%s error=%s", lq(path), lq(strerror(errno)));
		return false;
	}
	fclose(f);
	int err = ub_ctx_add_ta_file(ctx, path);
	if (err) {
		log_error("dns", "msg=\"trust anchor refused\" path=%s err=%s", lq(path), lq(ub_strerror(err)));
		return false;
	}
	return true;
}

struct dns_resolver *dns_resolver_new(struct event_base *base, const char *nameservers,
				      const char *trust_anchor)
{
	struct dns_resolver *r = xcalloc(1, sizeof *r);
	r->base = base;
	r->ctx = ub_ctx_create();
	if (!r->ctx) {
		log_error("dns", "msg=\"ub_ctx_create failed\"");
		goto fail;
	}
	/* Loopback nameservers are what tests and local caches use. */
	if (!set_option(r->ctx, "do-not-query-localhost:", "no"))
		goto fail;
	bool explicit_servers = nameservers && *nameservers;
	if (explicit_servers) {
		/*
		 * The operator's servers answer for names libunbound would
		 * otherwise answer itself with NXDOMAIN: "test." (RFC 6761; the
		 * e2e tests serve their zones under it, see finalize below) and
		 * the reverse zones of private and documentation addresses
		 * (10/8, 192.168/16, 192.0.2/24, 2001:db8::/32, ...:
		 * unblock-lan-zones), which a site's own DNS serves.  None of
		 * them can be proved from the root, so they are insecure unless
		 * a trust anchor of their own covers them.
		 */
		if (!set_forwarders(r->ctx, nameservers) ||
		    !set_option(r->ctx, "domain-insecure:", "test.") ||
		    !set_option(r->ctx, "unblock-lan-zones:", "yes") ||
		    !set_option(r->ctx, "insecure-lan-zones:", "yes"))
			goto fail;
	} else {
		/* No ub_ctx_hosts(): MX and TLSA answers must come from the DNS, not /etc/hosts. */
		int err = ub_ctx_resolvconf(r->ctx, NULL);
		if (err)
			log_warn("dns", "msg=\"cannot read /etc/resolv.conf, resolving from the root\" err=%s",
				 lq(ub_strerror(err)));
	}
	if (!set_trust_anchor(r->ctx, trust_anchor))
		goto fail;
	int err = ub_ctx_async(r->ctx, 1);
	if (err) {
		log_error("dns", "msg=\"ub_ctx_async failed\" err=%s", lq(ub_strerror(err)));
		goto fail;
	}
	/*
	 * The last step of the set-up, because it finalizes the context
	 * (loads the trust anchor, starts the validator): a trust anchor file
	 * that does not parse fails here, not at every lookup.  ".test" is
	 * transparent (asked of the nameservers) with explicit nameservers,
	 * else NXDOMAIN as unbound's default has it.  Not the option
	 * "local-zone: test. nodefault": ub_ctx_set_option() keeps the whole
	 * "test. nodefault" as the zone name (libunbound 1.17,
	 * cfg_parse_local_zone), so nodefault has no effect there.
	 */
	err = ub_ctx_zone_add(r->ctx, "test.", explicit_servers ? "transparent" : "static");
	if (err) {
		log_error("dns", "msg=\"cannot set up the resolver (trust anchor or options)\" err=%s",
			  lq(ub_strerror(err)));
		goto fail;
	}
	r->cache = dns_cache_new(DNS_CACHE_SLOTS);
	r->readable = event_new(base, ub_fd(r->ctx), EV_READ | EV_PERSIST, on_readable, r);
	if (!r->readable || event_add(r->readable, NULL) != 0) {
		log_error("dns", "msg=\"cannot watch the resolver's pipe\"");
		goto fail;
	}
	return r;
fail:
	resolver_destroy(r);
	return NULL;
}

void dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;
	if (!r)
		return;
	*rp = NULL;
	if (r->processing) {
		/* Called from a callback inside ub_process(): finish in on_readable(). */
		for (struct dns_query *q = r->queries; q; q = q->next) {
			q->cb = NULL;
			if (q->deadline)
				evtimer_del(q->deadline);
		}
		r->dying = true;
		return;
	}
	resolver_destroy(r);
}

struct dns_query *dns_lookup(struct dns_resolver *r, const char *name, enum dns_type type,
			     dns_cb cb, void *arg)
{
	if (r->dying || !name)
		return NULL;
	struct dns_query *q = xcalloc(1, sizeof *q);
	if (type == DNS_PTR) {
		if (!dns_reverse_name(name, q->name, sizeof q->name))
			goto fail;
	} else {
		if (!dns_name_valid(name))
			goto fail;
		snprintf(q->name, sizeof q->name, "%s", name);
	}
	q->r = r;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	struct dns_result hit;
	if (dns_cache_get(r->cache, q->name, type, now_ms(), &hit)) {
		static const struct timeval now = { 0, 0 };
		q->deadline = evtimer_new(r->base, on_cached, q);
		if (!q->deadline || evtimer_add(q->deadline, &now) != 0) {
			dns_answer_free(&hit);
			goto fail;
		}
		q->cached = xmalloc(sizeof *q->cached);
		*q->cached = hit;
		r->from_cache++;
		goto linked;
	}
	q->deadline = evtimer_new(r->base, on_deadline, q);
	if (!q->deadline)
		goto fail;
	int err = ub_resolve_async(r->ctx, q->name, (int)type, CLASS_IN, q, on_answer, &q->async_id);
	if (err) {
		log_warn("dns", "msg=\"cannot start the query\" name=%s err=%s", lq(q->name), lq(ub_strerror(err)));
		goto fail;
	}
	r->from_unbound++;
	struct timeval tv = { DNS_QUERY_TIMEOUT_MS / 1000, (DNS_QUERY_TIMEOUT_MS % 1000) * 1000 };
	evtimer_add(q->deadline, &tv);
linked:
	q->next = r->queries;
	if (r->queries)
		r->queries->prev = q;
	r->queries = q;
	return q;
fail:
	if (q->deadline)
		event_free(q->deadline);
	free(q);
	return NULL;
}

void dns_cancel(struct dns_query *q)
{
	if (q && q->cb)
		query_stop(q);
}

void dns_resolver_counts(const struct dns_resolver *r, uint64_t *from_cache, uint64_t *from_unbound)
{
	*from_cache = r->from_cache;
	*from_unbound = r->from_unbound;
}
