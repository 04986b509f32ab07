/*
 * route.c — from a destination (recipient domain or the relay) to the
 * ordered list of addresses to try (mta_int.h).
 *
 *   MX lookup ─ OK ──────────► hosts by preference (null MX: bounce 5.1.10)
 *   (+ the     │      NODATA ───────► the name itself (implicit MX, RFC 5321 §5.1)
 *   destination│      NXDOMAIN ─────► bounce 5.1.2      TEMPFAIL ─► defer 4.4.3
 *   policy)    ▼
 *   destination policy enforced? ─► drop hosts no pattern matches (RFC 8461 §4.1)
 *       └─► per host: AAAA and A in parallel ─► IPv6 then IPv4 addresses
 *             └─► DANE candidate? ─► TLSA _port._tcp.host ─► the host's TLS policy
 *
 * A bracketed relay "[host]" skips the MX step, an address literal skips
 * DNS altogether.  Hostile DNS is bounded: at most MTA_MAX_MX_HOSTS hosts
 * and MTA_MAX_ADDRS addresses; an MX target that is an IP address is not a
 * host name and is skipped; our own host name in the MX list drops it and
 * every less preferred host, and nothing left means the mail loops.  With
 * the relay every failure is temporary: a broken relay setting must not
 * bounce everyone's mail.
 *
 * TLS policy per host (route_host_policy):
 *   DANE (RFC 7672 §2.2) when dane is on, the MX answer was DNSSEC-secure
 *   (or there was no MX step: implicit MX, "[host]" relay), and every
 *   address answer of the host that had addresses was secure.  Then the
 *   TLSA RRset of _port._tcp.host decides: secure with a usable record →
 *   DANE; secure with none usable → ENCRYPT (TLS without authentication,
 *   never plain text, RFC 7672 §2.2); insecure, NXDOMAIN, NODATA → as if
 *   none; TEMPFAIL or bogus → the host is not usable at all (RFC 7672
 *   §2.1.1): its addresses are dropped, and with nothing left the mail is
 *   deferred 4.7.5.
 *   Otherwise VERIFY when a destination policy (struct mta_policy_source,
 *   MTA-STS) enforces one, else MAY (opportunistic, as before DANE).
 *   (ENCRYPT with an enforced destination policy becomes VERIFY.)
 */
#include "mta/mta_int.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

/* ---- destinations ---------------------------------------------------------- */

static bool parse_port(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool is_ip(const char *s, int *family)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		if (family)
			*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		if (family)
			*family = AF_INET6;
		return true;
	}
	return false;
}

/* A host name into out: lower case, no trailing dot, valid. */
static bool set_name(char *out, size_t size, const char *s, size_t n)
{
	if (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= size)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	ascii_lower(out, n);
	return dns_name_valid(out);
}

bool mta_dest_relay(const char *relay, uint16_t default_port, struct mta_dest *out)
{
	memset(out, 0, sizeof *out);
	out->relay = true;
	out->port = default_port;
	size_t n = strlen(relay);
	const char *host = relay, *rest;
	size_t hostlen;
	if (n && relay[0] == '[') {
		const char *close = memchr(relay, ']', n);
		if (!close)
			return false;
		host = relay + 1;
		hostlen = (size_t)(close - host);
		rest = close + 1;
		if (hostlen > 5 && strncasecmp(host, "IPv6:", 5) == 0) {
			host += 5;
			hostlen -= 5;
		}
	} else {
		const char *colon = memchr(relay, ':', n);
		if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - relay)))
			return false;   /* a bare IPv6 address: it needs brackets */
		hostlen = colon ? (size_t)(colon - relay) : n;
		rest = relay + hostlen;
		out->mx = true;
	}
	if (*rest == ':') {
		if (!parse_port(rest + 1, strlen(rest + 1), &out->port))
			return false;
	} else if (*rest != '\0') {
		return false;
	}
	if (hostlen == 0 || hostlen >= sizeof out->name)
		return false;
	memcpy(out->name, host, hostlen);
	out->name[hostlen] = '\0';
	if (is_ip(out->name, NULL)) {
		out->literal = true;
		out->mx = false;
		return true;
	}
	return set_name(out->name, sizeof out->name, host, hostlen);
}

bool mta_dest_domain(const char *domain, uint16_t port, struct mta_dest *out)
{
	memset(out, 0, sizeof *out);
	out->port = port;
	size_t n = strlen(domain);
	if (n >= 2 && domain[0] == '[' && domain[n - 1] == ']') {
		const char *ip = domain + 1;
		size_t iplen = n - 2;
		int fam = AF_INET;
		if (iplen > 5 && strncasecmp(ip, "IPv6:", 5) == 0) {
			ip += 5;
			iplen -= 5;
			fam = AF_INET6;
		}
		if (iplen == 0 || iplen >= sizeof out->name)
			return false;
		memcpy(out->name, ip, iplen);
		out->name[iplen] = '\0';
		int got;
		if (!is_ip(out->name, &got) || got != fam)
			return false;
		out->literal = true;
		return true;
	}
	out->mx = true;
	return set_name(out->name, sizeof out->name, domain, n);
}

bool mta_addr_set(struct mta_addr *a, const char *host, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof *a);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->salen = sizeof *s4;
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->salen = sizeof *s6;
	} else {
		return false;
	}
	snprintf(a->host, sizeof a->host, "%s", host);
	snprintf(a->ip, sizeof a->ip, "%s", ip);
	a->port = port;
	a->literal = is_ip(host, NULL);
	return true;
}

void mta_addr_format(const struct mta_addr *a, char *out, size_t size)
{
	snprintf(out, size, "%s[%s]:%u", a->host, a->ip, a->port);
}

/* ---- the lookup -------------------------------------------------------------- */

enum { Q6, Q4 };

struct route_host;

struct route_query {
	struct route_host *h;
	int which;              /* Q6 / Q4 */
	struct dns_query *q;
	enum dns_status status;
	bool secure;
	char ips[MTA_MAX_ADDRS][64];
	size_t n;
};

struct route_host {
	struct mta_route *r;
	char name[256];
	unsigned pref;
	struct route_query q[2];
	struct dns_query *tlsaq;
	struct mta_tls_policy *tls;     /* from the TLSA answer (DANE / ENCRYPT); NULL: none */
	bool unusable;                  /* RFC 7672 §2.1.1: the TLSA lookup failed */
};

struct mta_route {
	struct event_base *base;
	struct dns_resolver *dns;
	struct mta_dest dest;
	char myhostname[256];
	bool dane;
	bool mx_secure;         /* the MX answer was DNSSEC-secure, or there was no MX step */
	mta_route_cb cb;
	void *arg;
	struct dns_query *mxq;
	struct route_host hosts[MTA_MAX_MX_HOSTS];
	size_t nhosts;
	size_t pending;         /* address or TLSA queries outstanding */
	bool finished;          /* route_done was called: the result is decided */
	char unusable_why[512]; /* why the last unusable host was dropped */
	/* The destination policy (struct mta_policy_source, e.g. MTA-STS). */
	const struct mta_policy_source *src;
	void *srcq;             /* its lookup, until it answers */
	bool hosts_ready;       /* the MX step is over: hosts[] waits for the policy */
	bool enforce;
	char **patterns;        /* the enforced policy's MX patterns */
	size_t npatterns;
	char policy_source[32];
	struct event *ev;       /* delivers the result */
	struct mta_route_result res;
};

static void route_fail(struct mta_route *r, enum mta_result res, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void route_fail(struct mta_route *r, enum mta_result res, const char *status, const char *fmt, ...)
{
	r->res.ok = false;
	r->res.result = res;
	snprintf(r->res.status, sizeof r->res.status, "%s", status);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->res.reason, sizeof r->res.reason, fmt, ap);
	va_end(ap);
}

static void route_policy_stop(struct mta_route *r);

static void route_free(struct mta_route *r)
{
	route_policy_stop(r);
	dns_cancel(r->mxq);
	for (size_t h = 0; h < r->nhosts; h++) {
		for (int w = Q6; w <= Q4; w++)
			dns_cancel(r->hosts[h].q[w].q);
		dns_cancel(r->hosts[h].tlsaq);
		mta_tls_policy_unref(&r->hosts[h].tls);
	}
	if (r->res.tls)
		for (size_t i = 0; i < r->res.naddrs; i++)
			mta_tls_policy_unref(&r->res.tls[i]);
	free(r->res.tls);
	free(r->res.addrs);    /* NULL unless the callback left it */
	for (size_t i = 0; i < r->npatterns; i++)
		free(r->patterns[i]);
	free(r->patterns);
	event_free(r->ev);
	free(r);
}

static void route_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct mta_route *r = arg;
	if (!r->res.ok && r->dest.relay && r->res.result == MTA_BOUNCED) {
		r->res.result = MTA_DEFERRED;   /* the relay's trouble is ours, not the recipient's */
		r->res.status[0] = '4';
	}
	route_policy_stop(r);
	r->cb(&r->res, r->arg);
	route_free(r);
}

/* Finish later, on the loop (also when nothing asynchronous happened). */
static void route_done(struct mta_route *r)
{
	r->finished = true;
	event_active(r->ev, 0, 0);
}

static bool have_addr(const struct mta_route *r, const char *ip)
{
	for (size_t i = 0; i < r->res.naddrs; i++)
		if (strcmp(r->res.addrs[i].ip, ip) == 0)
			return true;
	return false;
}

/* ---- TLS policy per host -------------------------------------------------------- */

/* The policy of a host without (or beyond) DANE: the destination's, else opportunistic. */
static struct mta_tls_policy *route_host_policy(struct mta_route *r, struct route_host *h)
{
	if (h->tls && h->tls->mode == MTA_TLS_DANE)
		return mta_tls_policy_ref(h->tls);     /* DANE takes precedence (RFC 8461 §2) */
	if (r->enforce) {
		struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_VERIFY, r->policy_source, h->name);
		if (!mta_tls_policy_add_name(p, h->name))
			p->mode = MTA_TLS_ENCRYPT;      /* not reached: hosts are valid names */
		return p;
	}
	if (h->tls)
		return mta_tls_policy_ref(h->tls);     /* ENCRYPT */
	return mta_tls_policy_new(MTA_TLS_MAY, "default", h->name);
}

/* Every lookup is answered: build the list. */
static void route_collect(struct mta_route *r)
{
	r->res.addrs = xcalloc(MTA_MAX_ADDRS, sizeof *r->res.addrs);
	r->res.tls = xcalloc(MTA_MAX_ADDRS, sizeof *r->res.tls);
	bool tempfail = false, unusable = false;
	size_t dropped = 0;
	for (size_t h = 0; h < r->nhosts; h++) {
		struct route_host *host = &r->hosts[h];
		if (host->unusable) {
			unusable = true;
			continue;
		}
		struct mta_tls_policy *p = NULL;
		for (int w = Q6; w <= Q4; w++) {
			struct route_query *q = &host->q[w];
			if (q->status == DNS_TEMPFAIL)
				tempfail = true;
			for (size_t i = 0; i < q->n; i++) {
				if (have_addr(r, q->ips[i]))
					continue;
				if (r->res.naddrs == MTA_MAX_ADDRS) {
					dropped++;
				} else if (mta_addr_set(&r->res.addrs[r->res.naddrs], host->name, q->ips[i], r->dest.port)) {
					if (!p)
						p = route_host_policy(r, host);
					r->res.tls[r->res.naddrs++] = mta_tls_policy_ref(p);
				}
			}
		}
		if (p)
			log_debug("mta", "msg=\"TLS policy\" dest=%s host=%s policy=%s source=%s", lq(r->dest.name),
				  lq(host->name), mta_tls_mode_name(p->mode), lq(p->source));
		mta_tls_policy_unref(&p);
	}
	if (dropped)
		log_info("mta", "msg=\"address limit reached, the rest not tried\" dest=%s limit=%d dropped=%zu",
			 lq(r->dest.name), MTA_MAX_ADDRS, dropped);
	if (r->res.naddrs > 0) {
		r->res.ok = true;
	} else {
		XFREE(&r->res.addrs);
		XFREE(&r->res.tls);
		if (unusable)
			route_fail(r, MTA_DEFERRED, MTA_TLS_STATUS, "%s", r->unusable_why);
		else if (tempfail)
			route_fail(r, MTA_DEFERRED, "4.4.3", "cannot find an address of %s%s: temporary DNS failure",
				   r->nhosts > 1 ? "the mail exchangers of " : "",
				   r->nhosts > 1 ? r->dest.name : r->hosts[0].name);
		else
			route_fail(r, MTA_BOUNCED, "5.4.4", "no address found for %s%s",
				   r->nhosts > 1 ? "the mail exchangers of " : "host ",
				   r->nhosts > 1 ? r->dest.name : r->hosts[0].name);
	}
	route_done(r);
}

/* A TLSA answer (RFC 7672 §2.2): the host's DANE / ENCRYPT policy, nothing, or unusable. */
static void on_tlsa(const struct dns_result *res, void *arg)
{
	struct route_host *h = arg;
	struct mta_route *r = h->r;
	h->tlsaq = NULL;
	if (res->status == DNS_TEMPFAIL) {
		h->unusable = true;
		snprintf(r->unusable_why, sizeof r->unusable_why,
			 "%s TLSA lookup for _%u._tcp.%s failed (%s): the host is not used while its TLS policy is unknown",
			 MTA_TLS_STATUS, r->dest.port, h->name, res->bogus ? "DNSSEC validation failed" : res->why ? res->why : "temporary failure");
		log_warn("mta", "msg=\"TLSA lookup failed, host not used\" dest=%s host=%s bogus=%s why=%s", lq(r->dest.name),
			 lq(h->name), res->bogus ? "yes" : "no", lq(res->why));
	} else if (res->status == DNS_OK && res->secure) {
		size_t unusable = 0, over = 0;
		struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_DANE, "dane", h->name);
		for (size_t i = 0; i < res->n; i++) {
			const struct dns_tlsa *t = &res->tlsa[i];
			if (!mta_tlsa_usable(t->usage, t->selector, t->mtype, t->data, t->len))
				unusable++;
			else if (!mta_tls_policy_add_tlsa(p, t))
				over++;     /* beyond MTA_TLSA_MAX */
		}
		if (p->ntlsa == 0) {
			p->mode = MTA_TLS_ENCRYPT;      /* TLS is promised, authentication impossible */
			snprintf(p->source, sizeof p->source, "tlsa-unusable");
		}
		log_info("mta", "msg=\"DANE TLSA records\" dest=%s host=%s port=%u usable=%zu unusable=%zu over_limit=%zu policy=%s",
			 lq(r->dest.name), lq(h->name), r->dest.port, p->ntlsa, unusable, over, mta_tls_mode_name(p->mode));
		h->tls = p;
	} else if (res->status == DNS_OK) {
		log_debug("mta", "msg=\"insecure TLSA records ignored\" host=%s", lq(h->name));
	}
	if (--r->pending == 0)
		route_collect(r);
}

/* RFC 7672 §2.2: TLSA only behind a secure MX answer and secure addresses. */
static bool dane_candidate(const struct mta_route *r, const struct route_host *h)
{
	if (!r->dane || !r->mx_secure)
		return false;
	bool any = false;
	for (int w = Q6; w <= Q4; w++) {
		if (h->q[w].status != DNS_OK)
			continue;
		if (!h->q[w].secure)
			return false;
		any = true;
	}
	return any;
}

/* Every address query is answered: the TLSA lookups of the DANE candidates, then the list. */
static void route_addrs_done(struct mta_route *r)
{
	size_t start = 0;
	for (size_t h = 0; h < r->nhosts; h++)
		if (dane_candidate(r, &r->hosts[h]))
			start++;
	r->pending = start;
	if (start == 0) {
		route_collect(r);
		return;
	}
	for (size_t h = 0; h < r->nhosts; h++) {
		struct route_host *host = &r->hosts[h];
		if (!dane_candidate(r, host))
			continue;
		char name[300];
		snprintf(name, sizeof name, "_%u._tcp.%s", r->dest.port, host->name);
		host->tlsaq = dns_lookup(r->dns, name, DNS_TLSA, on_tlsa, host);
		if (!host->tlsaq) {
			if (dns_name_valid(name)) {
				host->unusable = true;  /* as a TEMPFAIL */
				snprintf(r->unusable_why, sizeof r->unusable_why,
					 "%s TLSA lookup for %s failed (cannot start the lookup): the host is not used while its TLS policy is unknown",
					 MTA_TLS_STATUS, name);
			}
			/* A name too long for the DNS has no TLSA records. */
			if (--r->pending == 0)
				route_collect(r);
		}
	}
}

static void on_addr(const struct dns_result *res, void *arg)
{
	struct route_query *q = arg;
	struct mta_route *r = q->h->r;
	q->q = NULL;
	q->status = res->status;
	q->secure = res->secure;
	if (res->status == DNS_OK) {
		for (size_t i = 0; i < res->n && q->n < MTA_MAX_ADDRS; i++)
			snprintf(q->ips[q->n++], sizeof q->ips[0], "%s", res->addrs[i]);
	} else if (res->status == DNS_TEMPFAIL) {
		log_info("mta", "msg=\"address lookup failed\" host=%s type=%s why=%s", lq(q->h->name),
			 q->which == Q6 ? "AAAA" : "A", lq(res->why));
	}
	if (--r->pending == 0)
		route_addrs_done(r);
}

static void lookup_addrs(struct mta_route *r)
{
	for (size_t h = 0; h < r->nhosts; h++)
		for (int w = Q6; w <= Q4; w++) {
			struct route_query *q = &r->hosts[h].q[w];
			q->h = &r->hosts[h];
			q->which = w;
			r->pending++;
		}
	/* Counted first: an answer never comes inside dns_lookup, but a failure to start is handled here. */
	for (size_t h = 0; h < r->nhosts; h++)
		for (int w = Q6; w <= Q4; w++) {
			struct route_query *q = &r->hosts[h].q[w];
			q->q = dns_lookup(r->dns, q->h->name, w == Q6 ? DNS_AAAA : DNS_A, on_addr, q);
			if (!q->q) {
				q->status = dns_name_valid(q->h->name) ? DNS_TEMPFAIL : DNS_BADNAME;
				if (--r->pending == 0)
					route_addrs_done(r);
			}
		}
}

/* ---- the destination policy: the hook for MTA-STS -------------------------------- */

bool mta_dest_policy_allows(const struct mta_dest_policy *p, const char *host)
{
	if (!p || !p->enforce)
		return true;
	for (size_t i = 0; i < p->nmx; i++)
		if (p->mx[i] && mta_tls_name_match(p->mx[i], host))
			return true;
	return false;
}

/* The MX step and the policy are both in: filter the hosts, then their addresses. */
static void route_continue(struct mta_route *r)
{
	if (!r->hosts_ready || r->srcq || r->finished)
		return;
	if (r->enforce) {
		struct mta_dest_policy p = { .enforce = true, .mx = (const char *const *)r->patterns,
					     .nmx = r->npatterns, .source = r->policy_source };
		size_t kept = 0;
		for (size_t h = 0; h < r->nhosts; h++) {
			if (mta_dest_policy_allows(&p, r->hosts[h].name)) {
				if (kept != h)
					r->hosts[kept] = r->hosts[h];
				kept++;
			} else {
				log_info("mta", "msg=\"MX host not allowed by the policy, skipped\" dest=%s host=%s source=%s",
					 lq(r->dest.name), lq(r->hosts[h].name), lq(r->policy_source));
			}
		}
		r->nhosts = kept;
		for (size_t h = 0; h < r->nhosts; h++)
			for (int w = Q6; w <= Q4; w++)
				r->hosts[h].q[w].h = &r->hosts[h];
		if (kept == 0) {
			route_fail(r, MTA_DEFERRED, MTA_TLS_STATUS, "%s no mail exchanger of %s matches its %s policy",
				   MTA_TLS_STATUS, r->dest.name, r->policy_source);
			route_done(r);
			return;
		}
	}
	lookup_addrs(r);
}

/* The source's answer (see struct mta_policy_source). */
static void on_dest_policy(const struct mta_dest_policy *p, void *arg)
{
	struct mta_route *r = arg;
	bool waited = r->srcq != NULL;
	r->srcq = NULL;     /* answered: not to be cancelled any more */
	if (!waited || r->finished)
		return;         /* the MX answer alone decided; or a source that answers twice */
	if (p && p->enforce) {
		r->enforce = true;
		snprintf(r->policy_source, sizeof r->policy_source, "%s", p->source ? p->source : "destination");
		r->patterns = xcalloc(p->nmx ? p->nmx : 1, sizeof *r->patterns);
		for (size_t i = 0; i < p->nmx && r->npatterns < MTA_DEST_MAX_PATTERNS; i++)
			if (p->mx[i])
				r->patterns[r->npatterns++] = xstrdup(p->mx[i]);
		if (p->nmx > MTA_DEST_MAX_PATTERNS)
			log_info("mta", "msg=\"policy pattern limit reached, the rest not used\" dest=%s limit=%d patterns=%zu",
				 lq(r->dest.name), MTA_DEST_MAX_PATTERNS, p->nmx);
		log_info("mta", "msg=\"destination TLS policy\" dest=%s source=%s patterns=%zu", lq(r->dest.name),
			 lq(r->policy_source), r->npatterns);
	}
	route_continue(r);
}

/*
 * The hook: a recipient domain's policy is asked for with its MX lookup.
 * The MTA-STS module plugs in as r->src (mta_set_policy_source); without
 * one there is no policy and nothing waits.
 */
static void route_policy_start(struct mta_route *r)
{
	if (!r->src || !r->src->start || r->dest.relay || !r->dest.mx || r->dest.literal)
		return;
	r->srcq = r->src->start(r->src->ctx, r->dest.name, on_dest_policy, r);
}

static void route_policy_stop(struct mta_route *r)
{
	if (r->srcq && r->src->cancel)
		r->src->cancel(r->src->ctx, r->srcq);
	r->srcq = NULL;
}

/* The MX step is over (hosts[] is the list): on when the policy is in too. */
static void route_hosts_ready(struct mta_route *r)
{
	r->hosts_ready = true;
	route_continue(r);
}

static void add_host(struct mta_route *r, const char *name, unsigned pref)
{
	struct route_host *h = &r->hosts[r->nhosts++];
	memset(h, 0, sizeof *h);
	h->r = r;
	snprintf(h->name, sizeof h->name, "%s", name);
	h->pref = pref;
}

/* An MX answer: the hosts, or a permanent / temporary failure. */
static void on_mx(const struct dns_result *res, void *arg)
{
	struct mta_route *r = arg;
	const char *name = r->dest.name;
	r->mxq = NULL;
	switch (res->status) {
	case DNS_NXDOMAIN:
	case DNS_BADNAME:
		route_fail(r, MTA_BOUNCED, "5.1.2", "Host or domain name not found. Name service error for name=%s type=MX: %s",
			   name, res->status == DNS_NXDOMAIN ? "Host not found" : "bad name");
		route_done(r);
		return;
	case DNS_TEMPFAIL:
		route_fail(r, MTA_DEFERRED, "4.4.3", "Host or domain name not found. Name service error for name=%s type=MX: Host not found, try again (%s)",
			   name, res->why ? res->why : "temporary failure");
		route_done(r);
		return;
	case DNS_NODATA:
		if (strcasecmp(name, r->myhostname) == 0) {
			route_fail(r, MTA_BOUNCED, "5.4.6", "mail for %s loops back to myself", name);
			route_done(r);
			return;
		}
		add_host(r, name, 0);
		r->mx_secure = true;    /* implicit MX: the name's own address answers decide DANE */
		route_hosts_ready(r);
		return;
	case DNS_OK:
		break;
	}
	r->mx_secure = res->secure;
	if (res->null_mx) {
		route_fail(r, MTA_BOUNCED, "5.1.10", "Domain %s does not accept mail (nullMX)", name);
		route_done(r);
		return;
	}
	/* Our own name: it and every host not preferred over it go (RFC 5321 §5.1). */
	bool myself = false;
	unsigned mypref = 0;
	for (size_t i = 0; i < res->n; i++)
		if (strcasecmp(res->mx[i].host, r->myhostname) == 0 && (!myself || res->mx[i].pref < mypref)) {
			myself = true;
			mypref = res->mx[i].pref;
		}
	size_t skipped = 0, over = 0;
	for (size_t i = 0; i < res->n; i++) {
		const struct dns_mx *mx = &res->mx[i];
		if (r->nhosts == MTA_MAX_MX_HOSTS) {
			over++;
			continue;
		}
		if (myself && mx->pref >= mypref)
			continue;
		if (mx->host[0] == '\0' || is_ip(mx->host, NULL) || !dns_name_valid(mx->host)) {
			if (skipped++ == 0)
				log_info("mta", "msg=\"invalid MX host skipped\" domain=%s mx=%s", lq(name), lq(mx->host));
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < r->nhosts; j++)
			dup |= strcmp(r->hosts[j].name, mx->host) == 0;
		if (!dup)
			add_host(r, mx->host, mx->pref);
	}
	if (over)
		log_info("mta", "msg=\"MX host limit reached, the rest not tried\" domain=%s limit=%d dropped=%zu",
			 lq(name), MTA_MAX_MX_HOSTS, over);
	if (r->nhosts == 0) {
		if (myself)
			route_fail(r, MTA_BOUNCED, "5.4.6", "mail for %s loops back to myself", name);
		else
			route_fail(r, MTA_BOUNCED, "5.4.4", "no valid mail exchanger for %s", name);
		route_done(r);
		return;
	}
	route_hosts_ready(r);
}

struct mta_route *mta_route_start(struct event_base *base, struct dns_resolver *dns,
				  const struct mta_dest *dest, const char *myhostname, bool dane,
				  const struct mta_policy_source *policies, mta_route_cb cb, void *arg)
{
	struct mta_route *r = xcalloc(1, sizeof *r);
	r->base = base;
	r->dns = dns;
	r->dest = *dest;
	snprintf(r->myhostname, sizeof r->myhostname, "%s", myhostname ? myhostname : "");
	r->dane = dane;
	r->src = policies;
	r->cb = cb;
	r->arg = arg;
	r->ev = event_new(base, -1, 0, route_deliver, r);
	if (!r->ev) {
		log_error("mta", "msg=\"event_new failed\"");
		abort();
	}
	if (dest->literal) {
		r->res.addrs = xcalloc(1, sizeof *r->res.addrs);
		r->res.tls = xcalloc(1, sizeof *r->res.tls);
		if (mta_addr_set(&r->res.addrs[0], dest->name, dest->name, dest->port)) {
			r->res.ok = true;
			r->res.naddrs = 1;
			r->res.tls[0] = mta_tls_policy_new(MTA_TLS_MAY, "default", "");
		} else {
			XFREE(&r->res.addrs);
			XFREE(&r->res.tls);
			route_fail(r, MTA_BOUNCED, "5.1.2", "bad address literal %s", dest->name);
		}
		route_done(r);
	} else if (!dest->mx) {
		add_host(r, dest->name, 0);
		r->mx_secure = true;    /* "[host]": no MX step, the host's address answers decide DANE */
		route_hosts_ready(r);
	} else {
		route_policy_start(r);
		r->mxq = dns_lookup(dns, dest->name, DNS_MX, on_mx, r);
		if (!r->mxq) {
			bool bad = !dns_name_valid(dest->name);
			route_fail(r, bad ? MTA_BOUNCED : MTA_DEFERRED, bad ? "5.1.2" : "4.4.3",
				   "Host or domain name not found. Name service error for name=%s type=MX: %s",
				   dest->name, bad ? "bad name" : "cannot start the lookup");
			route_done(r);
		}
	}
	return r;
}

void mta_route_cancel(struct mta_route *r)
{
	if (!r)
		return;
	route_free(r);
}
