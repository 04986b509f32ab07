/*
 * sts.c — struct mta_sts (sts.h): per-domain discovery of MTA-STS
 * policies (RFC 8461) on one event loop, with the in-memory cache.
 *
 * One entry per domain asked about (a hash table), holding the cached
 * policy, the last failed fetch, and the discovery under way with the
 * requests waiting for it.  A discovery:
 *
 *   entry_start ──TXT _mta-sts.<domain>──► on_txt ──sts_cache_decide──┬─► answer (cache / none / failure)
 *                                                                      └─► addr_start ──A + AAAA mta-sts.<domain>──►
 *   on_addr (both) ──sts_fetch_start──► on_fetched ──sts_policy_parse──► entry_fetched | entry_fetch_failed
 *
 * Requests are answered through answer_all(): each gets its own copy of
 * the policy and its own event, made active, whose callback (on_ready)
 * calls the caller's; so a caller's callback never runs inside
 * mta_sts_get() nor inside any of the module's own steps, and may do
 * anything, mta_sts_free() included.  A refresh (STS_STEP_REFRESH)
 * answers the waiting requests from the cache first and runs on without
 * them; requests arriving meanwhile are answered from the cache at once.
 */
#include "mta/sts_int.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define STS_BUCKETS 256
#define STS_SWEEP_MIN 1024      /* entries before idle, policy-less ones are swept */

struct mta_sts_req {
	struct mta_sts *s;
	struct mta_sts_req *prev, *next;
	struct mta_sts_req **head;      /* the list it is on: an entry's waiters, or s->ready */
	mta_sts_cb cb;
	void *arg;
	struct event *ev;               /* active once answered */
	enum mta_sts_status status;
	enum mta_sts_source source;
	struct mta_sts_policy *policy;  /* the answer's own copy */
	char why[256];
};

struct sts_entry {
	struct sts_entry *next;         /* hash chain */
	struct mta_sts *s;
	char domain[STS_DOMAIN_MAX + 1];
	struct mta_sts_policy *policy;  /* cached, maybe expired; NULL: none */
	char fail_id[MTA_STS_ID_MAX + 1];       /* last failed fetch: id, retry time, reason */
	int64_t fail_until;
	char fail_why[200];
	/* The discovery under way. */
	bool busy;
	bool refresh;                   /* waiters already answered from the cache */
	char id[MTA_STS_ID_MAX + 1];    /* the TXT record's */
	struct dns_query *txt_q, *a_q, *aaaa_q;
	char *addrs[STS_ADDR_MAX];
	size_t naddrs;
	bool addr_tempfail;
	struct sts_fetch *fetch;
	struct mta_sts_req *waiters;
};

struct mta_sts {
	struct event_base *base;
	struct dns_resolver *dns;
	struct sts_fetcher *fetcher;
	bool enabled;
	unsigned port;
	char *ca_file;                  /* NULL: the system's store */
	char *cache_dir;                /* data_dir/mta-sts; NULL: memory only */
	struct sts_entry *buckets[STS_BUCKETS];
	size_t nentries, sweep_at;
	size_t nbusy;                   /* entries with a discovery under way */
	struct mta_sts_req *ready;      /* answered, callback pending */
};

/* ---- requests -------------------------------------------------------------- */

static void req_link(struct mta_sts_req *q, struct mta_sts_req **head)
{
	q->head = head;
	q->prev = NULL;
	q->next = *head;
	if (*head)
		(*head)->prev = q;
	*head = q;
}

static void req_unlink(struct mta_sts_req *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else if (q->head)
		*q->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	q->head = NULL;
}

static void req_free(struct mta_sts_req *q)
{
	req_unlink(q);
	if (q->ev)
		event_free(q->ev);
	mta_sts_policy_free(&q->policy);
	free(q);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct mta_sts_req *q = arg;
	req_unlink(q);          /* off s->ready: the callback may free s */
	q->cb(q->policy, q->arg);
	req_free(q);
}

/* Give q its answer and schedule its callback. */
static void req_answer(struct mta_sts_req *q, enum mta_sts_status st, enum mta_sts_source src,
		       const struct mta_sts_policy *p, const char *why)
{
	req_unlink(q);
	q->status = st;
	q->source = src;
	q->policy = st == MTA_STS_OK ? mta_sts_policy_dup(p) : NULL;
	snprintf(q->why, sizeof q->why, "%s", why ? why : "");
	req_link(q, &q->s->ready);
	event_active(q->ev, EV_TIMEOUT, 0);
}

static void answer_all(struct sts_entry *e, enum mta_sts_status st, enum mta_sts_source src,
		       const struct mta_sts_policy *p, const char *why)
{
	while (e->waiters)
		req_answer(e->waiters, st, src, p, why);
}

/* ---- entries ---------------------------------------------------------------- */

static unsigned domain_hash(const char *d)
{
	uint32_t h = 2166136261u;
	for (; *d; d++)
		h = (h ^ (unsigned char)*d) * 16777619u;
	return h % STS_BUCKETS;
}

static void entry_stop(struct sts_entry *e)
{
	if (e->txt_q)
		dns_cancel(e->txt_q);
	if (e->a_q)
		dns_cancel(e->a_q);
	if (e->aaaa_q)
		dns_cancel(e->aaaa_q);
	e->txt_q = e->a_q = e->aaaa_q = NULL;
	sts_fetch_cancel(e->fetch);
	e->fetch = NULL;
	for (size_t i = 0; i < e->naddrs; i++)
		free(e->addrs[i]);
	e->naddrs = 0;
	e->addr_tempfail = false;
	if (e->busy)
		e->s->nbusy--;
	e->busy = e->refresh = false;
}

static void entry_free(struct sts_entry *e)
{
	entry_stop(e);
	while (e->waiters)
		req_free(e->waiters);
	mta_sts_policy_free(&e->policy);
	free(e);
}

/* Drop idle entries that hold nothing worth keeping (no valid policy, no failure to remember). */
static void sweep(struct mta_sts *s, int64_t now)
{
	for (size_t b = 0; b < STS_BUCKETS; b++) {
		struct sts_entry **pp = &s->buckets[b];
		while (*pp) {
			struct sts_entry *e = *pp;
			if (!e->busy && !e->waiters && !sts_cache_valid(e->policy, now) && now >= e->fail_until) {
				*pp = e->next;
				entry_free(e);
				s->nentries--;
			} else {
				pp = &e->next;
			}
		}
	}
	s->sweep_at = s->nentries * 2 > STS_SWEEP_MIN ? s->nentries * 2 : STS_SWEEP_MIN;
}

/* The entry of domain (normalised), made and filled from the cache file when new. */
static struct sts_entry *entry_get(struct mta_sts *s, const char *domain)
{
	unsigned h = domain_hash(domain);
	for (struct sts_entry *e = s->buckets[h]; e; e = e->next)
		if (strcmp(e->domain, domain) == 0)
			return e;
	int64_t now = now_unix();
	if (s->nentries >= s->sweep_at)
		sweep(s, now);
	struct sts_entry *e = xcalloc(1, sizeof *e);
	e->s = s;
	snprintf(e->domain, sizeof e->domain, "%s", domain);
	if (s->cache_dir)
		e->policy = sts_cache_load(s->cache_dir, domain, now);
	e->next = s->buckets[h];
	s->buckets[h] = e;
	s->nentries++;
	return e;
}

static void log_policy(const struct sts_entry *e, const struct mta_sts_policy *p, enum mta_sts_source src)
{
	log_info("mta", "msg=\"mta-sts policy\" domain=%s mode=%s id=%s max_age=%llu mx=%zu source=%s",
		 lq(e->domain), mta_sts_mode_name(p->mode), lq(p->id), (unsigned long long)p->max_age,
		 p->nmx, src == MTA_STS_FETCHED ? "fetch" : "cache");
}

/* The discovery is over: answer with the cached policy, if valid, else with st. */
static void entry_finish(struct sts_entry *e, enum mta_sts_status st, const char *why)
{
	int64_t now = now_unix();
	if (sts_cache_valid(e->policy, now)) {
		if (e->waiters)
			log_policy(e, e->policy, MTA_STS_CACHED);
		answer_all(e, MTA_STS_OK, MTA_STS_CACHED, e->policy, why);
	} else {
		answer_all(e, st, MTA_STS_FETCHED, NULL, why);
	}
	entry_stop(e);
}

static void entry_fetch_failed(struct sts_entry *e, const char *why)
{
	int64_t now = now_unix();
	snprintf(e->fail_id, sizeof e->fail_id, "%s", e->id);
	snprintf(e->fail_why, sizeof e->fail_why, "%s", why);
	e->fail_until = now + STS_RETRY_AFTER_S;
	/* §3.3: tell the administrator when a policy in force cannot be refreshed. */
	bool in_force = sts_cache_valid(e->policy, now) && e->policy->mode != STS_NONE;
	log_write(in_force ? LOG_WARN : LOG_INFO, "mta",
		  "msg=\"mta-sts fetch failed\" domain=%s id=%s why=%s cached=%s", lq(e->domain), lq(e->id),
		  lq(why), in_force ? mta_sts_mode_name(e->policy->mode) : "none");
	char msg[300];
	snprintf(msg, sizeof msg, "policy fetch failed: %s", why);
	entry_finish(e, MTA_STS_FAILED, msg);
}

static void entry_fetched(struct sts_entry *e, struct mta_sts_policy *p)
{
	struct mta_sts *s = e->s;
	snprintf(p->id, sizeof p->id, "%s", e->id);
	p->fetched = now_unix();
	p->expires = p->fetched + (int64_t)p->max_age;
	mta_sts_policy_free(&e->policy);
	e->policy = p;
	e->fail_id[0] = '\0';
	e->fail_until = 0;
	if (s->cache_dir)
		sts_cache_store(s->cache_dir, e->domain, p);
	log_policy(e, p, MTA_STS_FETCHED);
	/* Answered even when max_age is 0: it was valid when fetched, for the mail that asked. */
	answer_all(e, MTA_STS_OK, MTA_STS_FETCHED, p, "");
	entry_stop(e);
}

/* ---- the steps ------------------------------------------------------------ */

static void on_fetched(bool ok, const char *body, size_t len, const char *why, void *arg)
{
	struct sts_entry *e = arg;
	e->fetch = NULL;
	if (!ok) {
		entry_fetch_failed(e, why);
		return;
	}
	struct mta_sts_policy tmp;
	const char *perr;
	if (!sts_policy_parse(body, len, &tmp, &perr)) {
		char msg[200];
		snprintf(msg, sizeof msg, "invalid policy: %s", perr);
		entry_fetch_failed(e, msg);
		return;
	}
	struct mta_sts_policy *p = xmalloc(sizeof *p);
	*p = tmp;
	entry_fetched(e, p);
}

static void fetch_start(struct sts_entry *e)
{
	struct mta_sts *s = e->s;
	char host[STS_DOMAIN_MAX + 16];
	snprintf(host, sizeof host, "mta-sts.%s", e->domain);
	struct sts_fetch_params fp = {
		.host = host,
		.port = s->port,
		.addrs = (const char *const *)e->addrs,
		.naddrs = e->naddrs,
		.ca_file = s->ca_file,
	};
	log_debug("mta", "msg=\"mta-sts fetch\" domain=%s id=%s addrs=%zu", lq(e->domain), lq(e->id), e->naddrs);
	e->fetch = sts_fetch_start(s->fetcher, &fp, on_fetched, e);
	if (!e->fetch)
		entry_fetch_failed(e, "cannot start the HTTPS request");
}

static void addr_collect(struct sts_entry *e, const struct dns_result *r)
{
	if (r->status == DNS_TEMPFAIL)
		e->addr_tempfail = true;
	if (r->status != DNS_OK)
		return;
	for (size_t i = 0; i < r->n && e->naddrs < STS_ADDR_MAX; i++)
		e->addrs[e->naddrs++] = xstrdup(r->addrs[i]);
}

static void addr_maybe_done(struct sts_entry *e)
{
	if (e->a_q || e->aaaa_q)
		return;
	if (e->naddrs > 0) {
		fetch_start(e);
		return;
	}
	char why[300];
	snprintf(why, sizeof why, e->addr_tempfail ? "cannot resolve mta-sts.%s (DNS failure)"
				: "mta-sts.%s has no address", e->domain);
	entry_fetch_failed(e, why);
}

static void on_a(const struct dns_result *r, void *arg)
{
	struct sts_entry *e = arg;
	e->a_q = NULL;
	addr_collect(e, r);
	addr_maybe_done(e);
}

static void on_aaaa(const struct dns_result *r, void *arg)
{
	struct sts_entry *e = arg;
	e->aaaa_q = NULL;
	addr_collect(e, r);
	addr_maybe_done(e);
}

static void addr_start(struct sts_entry *e)
{
	struct mta_sts *s = e->s;
	char host[STS_DOMAIN_MAX + 16];
	snprintf(host, sizeof host, "mta-sts.%s", e->domain);
	/* Both queries first: an answer cannot arrive inside dns_lookup(). */
	e->a_q = dns_lookup(s->dns, host, DNS_A, on_a, e);
	e->aaaa_q = dns_lookup(s->dns, host, DNS_AAAA, on_aaaa, e);
	if (!e->a_q || !e->aaaa_q)
		e->addr_tempfail = true;
	addr_maybe_done(e);
}

static void on_txt(const struct dns_result *r, void *arg)
{
	struct sts_entry *e = arg;
	e->txt_q = NULL;
	enum sts_txt_answer ans = STS_ANSWER_NONE;
	const char *why = "no _mta-sts TXT record";
	char whybuf[320];
	switch (r->status) {
	case DNS_OK:
		if (sts_txt_select(r->txt, r->n, e->id, &why))
			ans = STS_ANSWER_ID;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		break;
	case DNS_BADNAME:
		why = "not a valid domain name";
		break;
	case DNS_TEMPFAIL:
		ans = STS_ANSWER_TEMPFAIL;
		snprintf(whybuf, sizeof whybuf, "TXT lookup failed: %s", r->why ? r->why : "temporary failure");
		why = whybuf;
		break;
	}
	struct sts_cache_view view = { .policy = e->policy, .fail_id = e->fail_id, .fail_until = e->fail_until };
	int64_t now = now_unix();
	switch (sts_cache_decide(&view, ans, e->id, now)) {
	case STS_STEP_CACHE:
		if (ans == STS_ANSWER_ID && strcmp(e->policy->id, e->id) != 0) {
			snprintf(whybuf, sizeof whybuf, "policy fetch failed less than %ds ago: %s",
				 STS_RETRY_AFTER_S, e->fail_why);
			why = whybuf;
		} else if (ans == STS_ANSWER_ID) {
			why = "";
		}
		entry_finish(e, MTA_STS_OK, why);
		return;
	case STS_STEP_NONE:
		log_debug("mta", "msg=\"mta-sts: no policy\" domain=%s why=%s", lq(e->domain), lq(why));
		entry_finish(e, MTA_STS_NONE, why);
		return;
	case STS_STEP_TEMPFAIL:
		log_info("mta", "msg=\"mta-sts lookup failed\" domain=%s why=%s", lq(e->domain), lq(why));
		entry_finish(e, MTA_STS_TEMPFAIL, why);
		return;
	case STS_STEP_FAILED:
		snprintf(whybuf, sizeof whybuf, "policy fetch failed less than %ds ago: %s",
			 STS_RETRY_AFTER_S, e->fail_why);
		entry_finish(e, MTA_STS_FAILED, whybuf);
		return;
	case STS_STEP_REFRESH:
		log_policy(e, e->policy, MTA_STS_CACHED);
		answer_all(e, MTA_STS_OK, MTA_STS_CACHED, e->policy, "");
		e->refresh = true;
		addr_start(e);
		return;
	case STS_STEP_FETCH:
		addr_start(e);
		return;
	}
}

static void entry_start(struct sts_entry *e)
{
	char name[STS_DOMAIN_MAX + 16];
	snprintf(name, sizeof name, "_mta-sts.%s", e->domain);
	e->busy = true;
	e->s->nbusy++;
	e->id[0] = '\0';
	e->txt_q = dns_lookup(e->s->dns, name, DNS_TXT, on_txt, e);
	if (!e->txt_q) {
		struct dns_result r = {
			.type = DNS_TXT,
			.status = dns_name_valid(name) ? DNS_TEMPFAIL : DNS_BADNAME,
			.why = "the query did not start",
		};
		on_txt(&r, e);
	}
}

/* ---- the interface --------------------------------------------------------- */

struct mta_sts *mta_sts_new(struct event_base *base, const struct config *cfg, struct dns_resolver *dns)
{
	struct mta_sts *s = xcalloc(1, sizeof *s);
	s->base = base;
	s->dns = dns;
	s->enabled = cfg->delivery.mta_sts;
	s->port = cfg->delivery.mta_sts_port ? cfg->delivery.mta_sts_port : 443;
	s->ca_file = cfg->delivery.tls_ca_file ? xstrdup(cfg->delivery.tls_ca_file) : NULL;
	if (cfg->data_dir) {
		size_t n = strlen(cfg->data_dir) + sizeof "/mta-sts";
		s->cache_dir = xmalloc(n);
		snprintf(s->cache_dir, n, "%s/mta-sts", cfg->data_dir);
	}
	s->sweep_at = STS_SWEEP_MIN;
	s->fetcher = sts_fetcher_new(base);
	if (!s->fetcher) {
		mta_sts_free(&s);
		return NULL;
	}
	return s;
}

void mta_sts_free(struct mta_sts **sp)
{
	struct mta_sts *s = *sp;
	if (!s)
		return;
	for (size_t b = 0; b < STS_BUCKETS; b++) {
		while (s->buckets[b]) {
			struct sts_entry *e = s->buckets[b];
			s->buckets[b] = e->next;
			entry_free(e);
		}
	}
	while (s->ready)
		req_free(s->ready);
	sts_fetcher_free(&s->fetcher);
	free(s->ca_file);
	free(s->cache_dir);
	free(s);
	*sp = NULL;
}

struct mta_sts_req *mta_sts_get(struct mta_sts *s, const char *domain, mta_sts_cb cb, void *arg)
{
	struct mta_sts_req *q = xcalloc(1, sizeof *q);
	q->s = s;
	q->cb = cb;
	q->arg = arg;
	q->ev = event_new(s->base, -1, 0, on_ready, q);
	if (!q->ev) {
		log_error("mta", "msg=\"mta-sts: out of memory for an event\"");
		abort();
	}
	char dom[STS_DOMAIN_MAX + 1];
	if (!s->enabled) {
		req_answer(q, MTA_STS_NONE, MTA_STS_FETCHED, NULL, "MTA-STS is off ([delivery] mta_sts)");
		return q;
	}
	if (!sts_domain_normalize(domain, dom)) {
		req_answer(q, MTA_STS_NONE, MTA_STS_FETCHED, NULL, "not a host name");
		return q;
	}
	struct sts_entry *e = entry_get(s, dom);
	if (e->busy && e->refresh && sts_cache_valid(e->policy, now_unix())) {
		/* A refresh is under way behind a valid cached policy. */
		req_answer(q, MTA_STS_OK, MTA_STS_CACHED, e->policy, "");
		return q;
	}
	req_link(q, &e->waiters);
	if (!e->busy)
		entry_start(e);
	return q;
}

void mta_sts_cancel(struct mta_sts_req *req)
{
	if (req)
		req_free(req);
}

bool mta_sts_busy(const struct mta_sts *s)
{
	return s->nbusy > 0 || s->ready != NULL;
}

enum mta_sts_status mta_sts_req_status(const struct mta_sts_req *req, enum mta_sts_source *source,
				       const char **why)
{
	if (source)
		*source = req->source;
	if (why)
		*why = req->why;
	return req->status;
}
