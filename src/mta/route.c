/*
 * route.c — from a destination (recipient domain or the relay) to the
 * ordered list of addresses to try (mta_int.h).
 *
 *   MX lookup ─ OK ──────────► hosts by preference (null MX: bounce 5.1.10)
 *       │      NODATA ───────► the name itself (implicit MX, RFC 5321 §5.1)
 *       │      NXDOMAIN ─────► bounce 5.1.2      TEMPFAIL ─► defer 4.4.3
 *       └─► per host: AAAA and A in parallel ─► IPv6 then IPv4 addresses
 *
 * A bracketed relay "[host]" skips the MX step, an address literal skips
 * DNS altogether.  Hostile DNS is bounded: at most MTA_MAX_MX_HOSTS hosts
 * and MTA_MAX_ADDRS addresses; an MX target that is an IP address is not a
 * host name and is skipped; our own host name in the MX list drops it and
 * every less preferred host, and nothing left means the mail loops.  With
 * the relay every failure is temporary: a broken relay setting must not
 * bounce everyone's mail.
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
	char ips[MTA_MAX_ADDRS][64];
	size_t n;
};

struct route_host {
	struct mta_route *r;
	char name[256];
	unsigned pref;
	struct route_query q[2];
};

struct mta_route {
	struct event_base *base;
	struct dns_resolver *dns;
	struct mta_dest dest;
	char myhostname[256];
	mta_route_cb cb;
	void *arg;
	struct dns_query *mxq;
	struct route_host hosts[MTA_MAX_MX_HOSTS];
	size_t nhosts;
	size_t pending;         /* address queries outstanding */
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

static void route_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct mta_route *r = arg;
	if (!r->res.ok && r->dest.relay && r->res.result == MTA_BOUNCED) {
		r->res.result = MTA_DEFERRED;   /* the relay's trouble is ours, not the recipient's */
		r->res.status[0] = '4';
	}
	r->cb(&r->res, r->arg);
	free(r->res.addrs);    /* NULL unless the callback left it */
	event_free(r->ev);
	free(r);
}

/* Finish later, on the loop (also when nothing asynchronous happened). */
static void route_done(struct mta_route *r)
{
	event_active(r->ev, 0, 0);
}

static bool have_addr(const struct mta_route *r, const char *ip)
{
	for (size_t i = 0; i < r->res.naddrs; i++)
		if (strcmp(r->res.addrs[i].ip, ip) == 0)
			return true;
	return false;
}

/* Every address query is answered: build the list. */
static void route_collect(struct mta_route *r)
{
	r->res.addrs = xcalloc(MTA_MAX_ADDRS, sizeof *r->res.addrs);
	bool tempfail = false;
	size_t dropped = 0;
	for (size_t h = 0; h < r->nhosts; h++) {
		struct route_host *host = &r->hosts[h];
		for (int w = Q6; w <= Q4; w++) {
			struct route_query *q = &host->q[w];
			if (q->status == DNS_TEMPFAIL)
				tempfail = true;
			for (size_t i = 0; i < q->n; i++) {
				if (have_addr(r, q->ips[i]))
					continue;
				if (r->res.naddrs == MTA_MAX_ADDRS)
					dropped++;
				else if (mta_addr_set(&r->res.addrs[r->res.naddrs], host->name, q->ips[i], r->dest.port))
					r->res.naddrs++;
			}
		}
	}
	if (dropped)
		log_info("mta", "msg=\"address limit reached, the rest not tried\" dest=%s limit=%d dropped=%zu",
			 lq(r->dest.name), MTA_MAX_ADDRS, dropped);
	if (r->res.naddrs > 0) {
		r->res.ok = true;
	} else {
		XFREE(&r->res.addrs);
		if (tempfail)
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

static void on_addr(const struct dns_result *res, void *arg)
{
	struct route_query *q = arg;
	struct mta_route *r = q->h->r;
	q->q = NULL;
	q->status = res->status;
	if (res->status == DNS_OK) {
		for (size_t i = 0; i < res->n && q->n < MTA_MAX_ADDRS; i++)
			snprintf(q->ips[q->n++], sizeof q->ips[0], "%s", res->addrs[i]);
	} else if (res->status == DNS_TEMPFAIL) {
		log_info("mta", "msg=\"address lookup failed\" host=%s type=%s why=%s", lq(q->h->name),
			 q->which == Q6 ? "AAAA" : "A", lq(res->why));
	}
	if (--r->pending == 0)
		route_collect(r);
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
					route_collect(r);
			}
		}
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
		lookup_addrs(r);
		return;
	case DNS_OK:
		break;
	}
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
	lookup_addrs(r);
}

struct mta_route *mta_route_start(struct event_base *base, struct dns_resolver *dns,
				  const struct mta_dest *dest, const char *myhostname,
				  mta_route_cb cb, void *arg)
{
	struct mta_route *r = xcalloc(1, sizeof *r);
	r->base = base;
	r->dns = dns;
	r->dest = *dest;
	snprintf(r->myhostname, sizeof r->myhostname, "%s", myhostname ? myhostname : "");
	r->cb = cb;
	r->arg = arg;
	r->ev = event_new(base, -1, 0, route_deliver, r);
	if (!r->ev) {
		log_error("mta", "msg=\"event_new failed\"");
		abort();
	}
	if (dest->literal) {
		r->res.addrs = xcalloc(1, sizeof *r->res.addrs);
		if (mta_addr_set(&r->res.addrs[0], dest->name, dest->name, dest->port)) {
			r->res.ok = true;
			r->res.naddrs = 1;
		} else {
			XFREE(&r->res.addrs);
			route_fail(r, MTA_BOUNCED, "5.1.2", "bad address literal %s", dest->name);
		}
		route_done(r);
	} else if (!dest->mx) {
		add_host(r, dest->name, 0);
		lookup_addrs(r);
	} else {
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
	dns_cancel(r->mxq);
	for (size_t h = 0; h < r->nhosts; h++)
		for (int w = Q6; w <= Q4; w++)
			dns_cancel(r->hosts[h].q[w].q);
	free(r->res.addrs);
	event_free(r->ev);
	free(r);
}
