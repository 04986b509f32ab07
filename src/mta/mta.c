/*
 * mta.c — the SMTP client's jobs (mta.h): one delivery per job, from
 * route to result, and the cache of idle connections.
 *
 *   mta_deliver ─► checks (file, addresses) ─► idle session for the destination?
 *        │ yes: session_start_job ─────────────────────────────┐
 *        │ no:  route ─► addresses ─► try_next ─► session ──────┤
 *        │                  ▲                                    ▼
 *        │                  └── NEXT / PLAIN / RETRY ── mta_delivery_session_end
 *        └─► delivery_finish (every rcpt has a result) ─► job->done, on the loop
 *
 * A delivery tries one address at a time, in route order, until a
 * session takes the job (DONE) or none is left (every rcpt deferred with
 * the last address's reason).  A session that turns out dead when a job
 * reuses it from the cache gets replaced once, transparently (RETRY).
 * done() always runs from an event of its own, so that neither
 * mta_deliver() nor a session callback is ever re-entered by the queue.
 *
 * Idle cache: a session whose transaction ended cleanly is kept up to
 * MTA_IDLE_MS for the next job with the same key (the relay, or the
 * recipient domain), at most max_per_destination per key and
 * max_connections in all; the most recently used goes first.  A cached
 * session keeps the TLS policy it was connected under.
 *
 * TLS: the route gives each address its host's policy (mta_int.h, tls.c);
 * the delivery hands it to the session it connects, and only a policy
 * that allows plain text lets a failed handshake be retried without
 * STARTTLS (MTA_END_PLAIN).
 *
 * TLS-RPT (RFC 8460, tlsrpt.h): when a session leaves its delivery,
 * tlsrpt_record_session() adds its TLS outcome under the recipient
 * domain's policy to the store (one UPSERT on the queue's handle; an
 * error is logged, never fatal).  The MTA-STS policy text it reports is
 * remembered per domain (sts_memo) when the policy source answers.
 */
#include "mta/mta_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mta/sts.h"
#include "mta/tlsrpt.h"
#include "store/store.h"

/* Recipient domains whose MTA-STS policy is remembered for TLS-RPT's policy-string. */
#define TLSRPT_STS_MEMO 64

/* The last enforce or testing MTA-STS policy seen for a domain, for RFC 8460 §4.4's report. */
struct sts_memo {
	char domain[256];
	struct mta_sts_policy *policy;  /* a copy; "testing": delivered as without it, reported against it */
	const char *failure;    /* or: the policy was announced but could not be had (static result-type) */
};

struct mta {
	struct event_base *base;
	const struct config *cfg;
	struct dns_resolver *dns;
	SSL_CTX *ssl;
	const struct mta_policy_source *policies;  /* destination TLS policies (MTA-STS), or NULL */
	struct mta_sts *sts;                /* [delivery] mta_sts: the policy source, else NULL */
	struct mta_policy_source sts_source;
	char *password;             /* the relay's, or NULL */
	bool have_relay;
	struct mta_dest relay;
	enum mta_tls_mode relay_tls;    /* [delivery] relay_tls: the least the relay's TLS policy is */
	struct mta_delivery *deliveries;
	struct mta_session *sessions;   /* all, closed ones until freed */
	size_t nopen;                   /* sessions not closed */
	struct mta_session *idle;       /* most recently used first */
	size_t nidle;
	struct store *tlsrpt;           /* where TLS-RPT results go (the queue's handle), or NULL */
	struct sts_memo sts_memo[TLSRPT_STS_MEMO];
	size_t sts_memo_next;
};

struct event_base *mta_base(const struct mta *m) { return m->base; }
const struct config *mta_config(const struct mta *m) { return m->cfg; }
SSL_CTX *mta_ssl_ctx(const struct mta *m) { return m->ssl; }
const char *mta_password(const struct mta *m) { return m->password; }
void mta_set_policy_source(struct mta *m, const struct mta_policy_source *src) { m->policies = src; }
void mta_set_tlsrpt_store(struct mta *m, struct store *s) { m->tlsrpt = m->cfg->delivery.tlsrpt ? s : NULL; }

/* ---- MTA-STS as the destination policy source ------------------------------ */

struct sts_lookup {
	mta_dest_policy_cb cb;
	void *arg;
	struct mta_sts_req *req;
	struct mta *m;
	char domain[256];
};

static struct sts_memo *sts_memo_find(struct mta *m, const char *domain)
{
	for (size_t i = 0; i < TLSRPT_STS_MEMO; i++)
		if (m->sts_memo[i].domain[0] && strcasecmp(m->sts_memo[i].domain, domain) == 0)
			return &m->sts_memo[i];
	return NULL;
}

static void sts_memo_clear(struct sts_memo *e)
{
	mta_sts_policy_free(&e->policy);
	memset(e, 0, sizeof *e);
}

/* The domain's entry, emptied: the one it had, else the oldest. */
static struct sts_memo *sts_memo_slot(struct mta *m, const char *domain)
{
	struct sts_memo *e = sts_memo_find(m, domain);
	if (!e) {
		e = &m->sts_memo[m->sts_memo_next];
		m->sts_memo_next = (m->sts_memo_next + 1) % TLSRPT_STS_MEMO;
	}
	sts_memo_clear(e);
	snprintf(e->domain, sizeof e->domain, "%s", domain);
	return e;
}

static void sts_memo_forget(struct mta *m, const char *domain)
{
	struct sts_memo *e = sts_memo_find(m, domain);
	if (e)
		sts_memo_clear(e);
}

/* The policy's MX patterns match host (RFC 8461 §4.1), as the route judges them when it enforces. */
static bool sts_policy_lists(const struct mta_sts_policy *p, const char *host)
{
	struct mta_dest_policy dp = { .enforce = true, .mx = (const char *const *)p->mx, .nmx = p->nmx };
	return mta_dest_policy_allows(&dp, host);
}

/* p as RFC 8460 §4.4 reports it (rebuilt from the parsed policy): policy-string lines and mx-host. */
static void sts_policy_report(const struct mta_sts_policy *p, struct buf *strings, struct buf *mx)
{
	buf_printf(strings, "version: STSv1\nmode: %s\n", mta_sts_mode_name(p->mode));
	for (size_t i = 0; i < p->nmx; i++) {
		buf_printf(strings, "mx: %s\n", p->mx[i]);
		buf_printf(mx, "%s%s", i ? "\n" : "", p->mx[i]);
	}
	buf_printf(strings, "max_age: %llu", (unsigned long long)p->max_age);
}

static void on_sts_policy(const struct mta_sts_policy *p, void *arg)
{
	struct sts_lookup *l = arg;
	if (l->m->tlsrpt) {
		/*
		 * What the sessions of this route report (RFC 8460 §4.3): the
		 * policy enforced or tested, or a policy announced (TXT) that
		 * could not be fetched or parsed, or nothing of MTA-STS.
		 */
		const char *why = NULL;
		if (p && (p->mode == STS_ENFORCE || p->mode == STS_TESTING))
			sts_memo_slot(l->m, l->domain)->policy = mta_sts_policy_dup(p);
		else if (!p && mta_sts_req_status(l->req, NULL, &why) == MTA_STS_FAILED)
			sts_memo_slot(l->m, l->domain)->failure = tlsrpt_sts_failure_type(why);
		else
			sts_memo_forget(l->m, l->domain);
	}
	/* "testing" and "none" deliver as without a policy (RFC 8461 §5). */
	struct mta_dest_policy dp = {
		.enforce = true,
		.mx = p ? (const char *const *)p->mx : NULL,
		.nmx = p ? p->nmx : 0,
		.source = "MTA-STS",
	};
	mta_dest_policy_cb cb = l->cb;
	void *cb_arg = l->arg;
	free(l);
	cb(p && p->mode == STS_ENFORCE ? &dp : NULL, cb_arg);
}

static void *sts_start(void *ctx, const char *domain, mta_dest_policy_cb cb, void *arg)
{
	struct mta *m = ctx;
	struct sts_lookup *l = xmalloc(sizeof *l);
	l->cb = cb;
	l->arg = arg;
	l->m = m;
	snprintf(l->domain, sizeof l->domain, "%s", domain);
	l->req = mta_sts_get(m->sts, domain, on_sts_policy, l);
	return l;
}

static void sts_cancel(void *ctx, void *lookup)
{
	struct sts_lookup *l = lookup;
	mta_sts_cancel(l->req);
	free(l);
}

/* ---- sessions and the idle cache ------------------------------------------ */

void mta_session_link(struct mta *m, struct mta_session *s)
{
	s->prev = NULL;
	s->next = m->sessions;
	if (m->sessions)
		m->sessions->prev = s;
	m->sessions = s;
	m->nopen++;
}

void mta_session_closed(struct mta *m, struct mta_session *s)
{
	m->nopen--;
}

void mta_session_unlink(struct mta *m, struct mta_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (m->sessions == s)
		m->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

void mta_idle_remove(struct mta *m, struct mta_session *s)
{
	if (!s->idle)
		return;
	if (s->idle_prev)
		s->idle_prev->idle_next = s->idle_next;
	else
		m->idle = s->idle_next;
	if (s->idle_next)
		s->idle_next->idle_prev = s->idle_prev;
	s->idle_prev = s->idle_next = NULL;
	s->idle = false;
	m->nidle--;
}

bool mta_idle_put(struct mta *m, struct mta_session *s)
{
	unsigned same = 0;
	for (struct mta_session *i = m->idle; i; i = i->idle_next)
		same += strcmp(i->key, s->key) == 0;
	if (same >= m->cfg->delivery.max_per_destination || m->nidle >= m->cfg->delivery.max_connections)
		return false;
	s->idle_prev = NULL;
	s->idle_next = m->idle;
	if (m->idle)
		m->idle->idle_prev = s;
	m->idle = s;
	s->idle = true;
	m->nidle++;
	return true;
}

static struct mta_session *idle_take(struct mta *m, const char *key)
{
	for (struct mta_session *s = m->idle; s; s = s->idle_next) {
		if (strcmp(s->key, key) == 0) {
			mta_idle_remove(m, s);
			return s;
		}
	}
	return NULL;
}

/* Make room for a new connection: the least recently used idle one goes. */
static void idle_evict(struct mta *m)
{
	if (m->nopen < m->cfg->delivery.max_connections || !m->idle)
		return;
	struct mta_session *s = m->idle;
	while (s->idle_next)
		s = s->idle_next;
	mta_idle_remove(m, s);
	mta_session_quit(s);
}

/* ---- results ------------------------------------------------------------------ */

static const char *result_name(enum mta_result r)
{
	return r == MTA_SENT ? "sent" : r == MTA_DEFERRED ? "deferred" : "bounced";
}

void mta_rcpt_result(struct mta_delivery *d, size_t i, enum mta_result res, const char *status,
		     const char *reply, bool remote)
{
	struct mta_rcpt *r = &d->job->rcpts[i];
	if (d->rstate[i] == MTA_RS_DONE)
		return;
	d->rstate[i] = MTA_RS_DONE;
	d->npending--;
	r->result = res;
	snprintf(r->status, sizeof r->status, "%s", status);
	snprintf(r->reply, sizeof r->reply, "%s", reply);
	r->remote = remote;
	r->dsn_passed = false;
	char to[sizeof r->reply];
	snprintf(to, sizeof to, "<%s>", r->addr);
	log_info("mta", "session=%s queue_id=%s to=%s relay=%s delay=%.1f tls=%s tls_policy=%s tls_peer=%s dsn=%s status=%s reply=%s",
		 d->session ? d->session->id : d->last_session[0] ? d->last_session : "-", lq(d->job->queue_id), lq(to), lq(d->job->relay),
		 (double)(now_ms() - d->start_ms) / 1000.0, d->job->tls ? "yes" : "no",
		 d->tls_known ? mta_tls_mode_name(d->tls_mode) : "-",
		 d->tls_known ? mta_tls_outcome_name(d->job->tls ? d->tls_outcome : MTA_TLSO_NONE) : "-", lq(r->status),
		 result_name(res), lq(r->reply));
}

void mta_rcpt_result_all(struct mta_delivery *d, enum mta_result res, const char *status,
			 const char *reply, bool remote)
{
	for (size_t i = 0; i < d->job->nrcpts; i++)
		if (d->rstate[i] != MTA_RS_DONE)
			mta_rcpt_result(d, i, res, status, reply, remote);
}

void mta_delivery_error(struct mta_delivery *d, enum mta_result res, const char *status,
			const char *reply, bool remote)
{
	d->last_result = res;
	snprintf(d->last_status, sizeof d->last_status, "%s", status);
	snprintf(d->last_reply, sizeof d->last_reply, "%s", reply);
	d->last_remote = remote;
}

/* ---- deliveries ----------------------------------------------------------------- */

static void delivery_unlink(struct mta_delivery *d)
{
	struct mta *m = d->m;
	if (d->prev)
		d->prev->next = d->next;
	else if (m->deliveries == d)
		m->deliveries = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
}

/* The addresses and their TLS policies. */
static void delivery_drop_addrs(struct mta_delivery *d)
{
	if (d->tls)
		for (size_t i = 0; i < d->naddrs; i++)
			mta_tls_policy_unref(&d->tls[i]);
	XFREE(&d->tls);
	XFREE(&d->addrs);
	d->naddrs = 0;
}

static void delivery_free(struct mta_delivery *d)
{
	delivery_unlink(d);
	mta_route_cancel(d->route);
	if (d->fd >= 0)
		close(d->fd);
	if (d->finish_ev)
		event_free(d->finish_ev);
	free(d->rstate);
	delivery_drop_addrs(d);
	free(d);
}

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct mta_delivery *d = arg;
	struct mta_job *job = d->job;
	delivery_free(d);
	job->done(job);
}

/* Every rcpt has its result: done() soon, on the loop. */
static void delivery_finish(struct mta_delivery *d)
{
	if (d->finished)
		return;
	d->finished = true;
	event_active(d->finish_ev, 0, 0);
}

static bool need_auth(const struct mta_delivery *d)
{
	return d->dest.relay && d->m->password != NULL;
}

static void try_next(struct mta_delivery *d)
{
	if (d->next_addr >= d->naddrs) {
		if (!d->last_status[0])
			mta_delivery_error(d, MTA_DEFERRED, "4.4.1", "no host could be reached", false);
		mta_rcpt_result_all(d, d->last_result, d->last_status, d->last_reply, d->last_remote);
		delivery_finish(d);
		return;
	}
	idle_evict(d->m);
	mta_session_connect(d->m, d, &d->addrs[d->next_addr], d->tls[d->next_addr], d->plain_retry);
}

/*
 * What the sender asked of TLS (RFC 8689): REQUIRETLS keeps only hosts
 * whose certificate will be verified (DANE, or MTA-STS's VERIFY), and
 * bounces 5.7.30 when there are none; "TLS-Required: No" turns every
 * policy that requires TLS into an opportunistic one, but for the relay,
 * whose TLS is the operator's relay_tls (the password goes over it) and no
 * recipient's policy.  false: the delivery is finished.
 */
static bool apply_sender_tls_wishes(struct mta_delivery *d)
{
	const struct mta_job *job = d->job;
	if (job->requiretls) {
		size_t k = 0;
		for (size_t i = 0; i < d->naddrs; i++) {
			enum mta_tls_mode mode = d->tls[i]->mode;
			if (mode == MTA_TLS_DANE || mode == MTA_TLS_VERIFY) {
				d->addrs[k] = d->addrs[i];
				d->tls[k++] = d->tls[i];
			} else {
				mta_tls_policy_unref(&d->tls[i]);
			}
		}
		d->naddrs = k;
		if (k == 0) {
			char why[600];
			snprintf(why, sizeof why, "REQUIRETLS is required, but no host of %s has a verified TLS policy"
				 " (DANE or MTA-STS)", d->dest.name);
			log_info("mta", "queue_id=%s msg=\"no route\" dest=%s dsn=5.7.30 reason=%s", lq(job->queue_id),
				 lq(d->dest.name), lq(why));
			mta_rcpt_result_all(d, MTA_BOUNCED, "5.7.30", why, false);
			delivery_finish(d);
			return false;
		}
	} else if (job->tls_optional && !d->dest.relay) {
		for (size_t i = 0; i < d->naddrs; i++) {
			if (!mta_tls_required(d->tls[i]))
				continue;
			log_info("mta", "queue_id=%s msg=\"TLS-Required: No, the host's TLS policy is not enforced\" "
				 "host=%s policy=%s", lq(job->queue_id), lq(d->addrs[i].host),
				 mta_tls_mode_name(d->tls[i]->mode));
			mta_tls_policy_unref(&d->tls[i]);
			d->tls[i] = mta_tls_policy_new(MTA_TLS_MAY, "tls-required-no", d->addrs[i].host);
		}
	}
	return true;
}

/*
 * [delivery] relay_tls for the relay's hosts: ENCRYPT makes STARTTLS
 * mandatory; VERIFY also checks the certificate against the host connected
 * to or the relay's name as configured (Postfix's "verify" level).  A
 * stronger policy the route found (DANE for "[host]") stays: the modes are
 * in order of strength.
 */
static void apply_relay_tls(struct mta_delivery *d)
{
	enum mta_tls_mode want = d->m->relay_tls;
	if (!d->dest.relay || want <= MTA_TLS_MAY)
		return;
	for (size_t i = 0; i < d->naddrs; i++) {
		if (d->tls[i]->mode >= want)
			continue;
		struct mta_tls_policy *p = mta_tls_policy_new(want, "relay_tls", d->addrs[i].host);
		if (want == MTA_TLS_VERIFY) {
			/* A name that is no host name is left out; with none, the session refuses to go on. */
			mta_tls_policy_add_name(p, d->addrs[i].host);
			if (strcasecmp(d->addrs[i].host, d->dest.name) != 0)
				mta_tls_policy_add_name(p, d->dest.name);
		}
		mta_tls_policy_unref(&d->tls[i]);
		d->tls[i] = p;
	}
}

static void on_route(struct mta_route_result *res, void *arg)
{
	struct mta_delivery *d = arg;
	d->route = NULL;
	if (!res->ok) {
		log_info("mta", "queue_id=%s msg=\"no route\" dest=%s dsn=%s reason=%s", lq(d->job->queue_id),
			 lq(d->dest.name), res->status, lq(res->reason));
		mta_rcpt_result_all(d, res->result, res->status, res->reason, false);
		delivery_finish(d);
		return;
	}
	delivery_drop_addrs(d);
	d->addrs = res->addrs;
	d->tls = res->tls;
	d->naddrs = res->naddrs;
	res->addrs = NULL;
	res->tls = NULL;
	d->next_addr = 0;
	d->plain_retry = false;
	apply_relay_tls(d);
	if (!apply_sender_tls_wishes(d))
		return;
	try_next(d);
}

static void delivery_route(struct mta_delivery *d)
{
	/* "TLS-Required: No": neither DANE nor MTA-STS is asked (RFC 8689 §5). */
	bool ignore = d->job->tls_optional && !d->job->requiretls;
	d->route = mta_route_start(d->m->base, d->m->dns, &d->dest, d->m->cfg->hostname,
				   d->m->cfg->delivery.dane && !ignore, ignore ? NULL : d->m->policies, on_route, d);
}

/* ---- TLS-RPT: one result per connection (RFC 8460) --------------------------------- */

/*
 * The address this host sends from to ip: the configured source_ip, else
 * the kernel's choice, asked through a connected UDP socket (no packet is
 * sent).  The session's own socket is closed by now.  "" when unknown.
 */
static void sending_ip(const struct mta *m, const struct mta_addr *a, char *out, size_t size)
{
	out[0] = '\0';
	if (m->cfg->delivery.source_ip) {
		snprintf(out, size, "%s", m->cfg->delivery.source_ip);
		return;
	}
	int fd = socket(a->sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct sockaddr_storage local;
	socklen_t len = sizeof local;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&local, &len) == 0) {
		const void *addr = local.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&local)->sin6_addr
							       : (const void *)&((struct sockaddr_in *)&local)->sin_addr;
		if (!inet_ntop(local.ss_family, addr, out, (socklen_t)size))
			out[0] = '\0';
	}
	close(fd);
}

/* DANE's policy-string (RFC 8460 §4.4): the usable TLSA records in presentation form, one per line. */
static void tlsa_strings(const struct mta_tls_policy *p, struct buf *out)
{
	for (size_t i = 0; i < p->ntlsa && out->len < STORE_TLSRPT_POLICY_MAX; i++) {
		const struct mta_tlsa *t = &p->tlsa[i];
		buf_printf(out, "%s%u %u %u ", i ? "\n" : "", t->usage, t->selector, t->mtype);
		for (size_t k = 0; k < t->len && out->len < STORE_TLSRPT_POLICY_MAX; k++)
			buf_printf(out, "%02x", t->data[k]);
	}
}

/*
 * What this connection says for the recipient domain's TLS-RPT report:
 * a success when TLS came up under the policy, a failure when the policy
 * could not be met (the host was skipped), nothing when the connection
 * never got as far as TLS (connect, greeting, EHLO), was reused from the
 * idle cache (counted when it was made), went to the relay or an address
 * literal, or carried mail whose policy was not looked up ("TLS-Required:
 * No", the reports themselves among them: RFC 8460 §5.3).  A domain that
 * announced an MTA-STS policy tern could not fetch or parse gets, for each
 * session delivered without it, an sts failure of that kind
 * (sts-policy-fetch-error, -invalid, sts-webpki-invalid).  One whose
 * policy is in mode "testing" has its opportunistic sessions reported
 * under that policy, with the failure VERIFY would have found.  One UPSERT;
 * an error is logged and delivery goes on.
 */
static void tlsrpt_record_session(struct mta_delivery *d, struct mta_session *s, enum mta_session_end how)
{
	struct mta *m = d->m;
	const struct mta_tls_policy *p = s->policy;
	if (!m->tlsrpt || !p || d->dest.relay || d->dest.literal || !d->dest.mx || d->job->tls_optional ||
	    s->reused || p->mode == MTA_TLS_NONE || how == MTA_END_RETRY)
		return;
	const char *result = NULL;      /* NULL: success */
	if (s->tls) {
		if (p->mode == MTA_TLS_ENCRYPT)
			result = "tlsa-invalid";        /* secure TLSA RRset, no usable record (RFC 7672 §2.2) */
	} else if (how == MTA_END_PLAIN) {
		result = tlsrpt_result_type(s->tls_verify_result, d->last_reply);
	} else if (!s->tls_logged) {
		return;
	} else if (mta_tls_required(p)) {
		result = tlsrpt_result_type(s->tls_verify_result, d->last_reply);
	} else if (d->plain_retry) {
		return;     /* the failed handshake before this plain retry was counted */
	} else {
		result = "starttls-not-supported";
	}
	const char *type = p->mode == MTA_TLS_DANE || p->mode == MTA_TLS_ENCRYPT ? "tlsa"
			   : p->mode == MTA_TLS_VERIFY ? "sts" : "no-policy-found";
	struct buf strings = BUF_INIT, mx = BUF_INIT;
	const struct sts_memo *e = p->mode == MTA_TLS_VERIFY || p->mode == MTA_TLS_MAY
				   ? sts_memo_find(m, d->dest.name) : NULL;
	if (p->mode == MTA_TLS_DANE) {
		tlsa_strings(p, &strings);
	} else if (e && e->policy && (p->mode == MTA_TLS_VERIFY || e->policy->mode == STS_TESTING)) {
		type = "sts";
		sts_policy_report(e->policy, &strings, &mx);
		/*
		 * "testing" (RFC 8461 §5): delivered as without a policy (MAY),
		 * but reported as the policy would have judged the session: an MX
		 * host it does not list, or a certificate VERIFY would refuse.
		 */
		if (p->mode == MTA_TLS_MAY && !result && s->tls)
			result = sts_policy_lists(e->policy, s->addr.host) ? s->tls_unverified : "validation-failure";
	} else if (e && e->failure && p->mode == MTA_TLS_MAY) {
		/* Delivered as without a policy because the announced one could not be had: an sts failure. */
		type = "sts";
		result = e->failure;
	}
	char day[11], local_ip[64] = "";
	tlsrpt_day_of(now_unix(), day);
	if (result)
		sending_ip(m, &s->addr, local_ip, sizeof local_ip);
	struct store_tlsrpt_result r = {
		.day = day,
		.domain = d->dest.name,
		.policy_type = type,
		.policy_strings = buf_cstr(&strings),
		.mx_hosts = buf_cstr(&mx),
		.result_type = result ? result : "",
		.sending_ip = result ? local_ip : "",
		.receiving_mx = result ? s->addr.host : "",
		.receiving_ip = result ? s->addr.ip : "",
		.count = 1,
	};
	enum store_status st = store_tlsrpt_record(m->tlsrpt, &r);
	if (st != STORE_OK)
		log_warn("mta", "session=%s msg=\"TLS-RPT result not recorded\" domain=%s status=%s", s->id,
			 lq(d->dest.name), store_status_str(st));
	else
		log_debug("mta", "session=%s msg=\"TLS-RPT result\" domain=%s policy=%s result=%s", s->id,
			  lq(d->dest.name), type, result ? result : "success");
	buf_free(&strings);
	buf_free(&mx);
}

void mta_delivery_session_end(struct mta_delivery *d, struct mta_session *s, enum mta_session_end how)
{
	tlsrpt_record_session(d, s, how);
	if (d->session == s)
		d->session = NULL;
	snprintf(d->last_session, sizeof d->last_session, "%s", s->id);
	switch (how) {
	case MTA_END_DONE:
		if (d->npending)    /* a session never leaves rcpts open; be safe anyway */
			mta_rcpt_result_all(d, MTA_DEFERRED, "4.3.0", "delivery ended without a result", false);
		delivery_finish(d);
		return;
	case MTA_END_RETRY:
		if (!d->reuse_retried) {
			d->reuse_retried = true;
			log_info("mta", "session=%s queue_id=%s msg=\"cached connection was dead, reconnecting\" relay=%s",
				 s->id, lq(d->job->queue_id), lq(s->relay));
			snprintf(d->job->relay, sizeof d->job->relay, "none");
			d->job->tls = false;
			d->tls_known = false;
			d->last_status[0] = '\0';
			delivery_route(d);
			return;
		}
		break;
	case MTA_END_PLAIN:
		/* A policy that requires TLS never gets here (the session says NEXT); kept safe anyway. */
		if (!d->plain_retry && !need_auth(d) && !mta_tls_required(s->policy)) {
			d->plain_retry = true;
			log_info("mta", "session=%s queue_id=%s msg=\"TLS failed, retrying without STARTTLS\" relay=%s",
				 s->id, lq(d->job->queue_id), lq(s->relay));
			try_next(d);
			return;
		}
		break;
	case MTA_END_NEXT:
		break;
	}
	d->plain_retry = false;
	d->next_addr++;
	try_next(d);
}

/*
 * Sessions of jobs whose TLS rules differ from the destination's policy
 * (REQUIRETLS, "TLS-Required: No") are cached apart: a connection made
 * without the policy's TLS must never carry an ordinary job.
 */
static const char *key_suffix(const struct mta_job *job)
{
	return job->requiretls ? "|requiretls" : job->tls_optional ? "|tls-optional" : "";
}

/* An address the session would put into a command: no control characters, no brackets. */
static bool addr_clean(const char *s)
{
	if (!s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>')
			return false;
	return true;
}

void mta_deliver(struct mta *m, struct mta_job *job)
{
	struct mta_delivery *d = xcalloc(1, sizeof *d);
	d->m = m;
	d->job = job;
	d->fd = -1;
	d->start_ms = now_ms();
	d->rstate = xcalloc(job->nrcpts ? job->nrcpts : 1, 1);
	d->npending = job->nrcpts;
	d->finish_ev = event_new(m->base, -1, 0, on_finish, d);
	if (!d->finish_ev) {
		log_error("mta", "msg=\"event_new failed\"");
		abort();
	}
	d->next = m->deliveries;
	if (m->deliveries)
		m->deliveries->prev = d;
	m->deliveries = d;
	snprintf(job->relay, sizeof job->relay, "none");
	job->tls = false;

	if (job->nrcpts == 0) {
		delivery_finish(d);
		return;
	}
	if (job->sender && !addr_clean(job->sender)) {
		mta_rcpt_result_all(d, MTA_BOUNCED, "5.1.7", "bad sender address syntax", false);
		delivery_finish(d);
		return;
	}
	for (size_t i = 0; i < job->nrcpts; i++)
		if (!addr_clean(job->rcpts[i].addr) || !job->rcpts[i].addr[0])
			mta_rcpt_result(d, i, MTA_BOUNCED, "5.1.3", "bad recipient address syntax", false);
	if (m->have_relay) {
		d->dest = m->relay;
		snprintf(d->key, sizeof d->key, "relay%s", key_suffix(job));
	} else if (mta_dest_domain(job->domain ? job->domain : "", (uint16_t)m->cfg->delivery.smtp_port, &d->dest)) {
		snprintf(d->key, sizeof d->key, "%s%s", d->dest.name, key_suffix(job));
	} else {
		mta_rcpt_result_all(d, MTA_BOUNCED, "5.1.2", "bad destination domain", false);
		delivery_finish(d);
		return;
	}
	if (d->npending == 0) {
		delivery_finish(d);
		return;
	}
	d->fd = open(job->path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0) {
		char why[300];
		snprintf(why, sizeof why, "cannot open the message file: %s", strerror(errno));
		log_error("mta", "queue_id=%s msg=\"cannot open the message file\" path=%s error=%s",
			  lq(job->queue_id), lq(job->path), lq(strerror(errno)));
		mta_rcpt_result_all(d, MTA_DEFERRED, "4.3.0", why, false);
		delivery_finish(d);
		return;
	}
	struct stat st;
	if (fstat(d->fd, &st) != 0 || (uint64_t)st.st_size < job->offset || (uint64_t)st.st_size - job->offset < job->size) {
		log_error("mta", "queue_id=%s msg=\"message file shorter than its recorded size\" path=%s size=%llu offset=%llu",
			  lq(job->queue_id), lq(job->path), (unsigned long long)job->size, (unsigned long long)job->offset);
		mta_rcpt_result_all(d, MTA_DEFERRED, "4.3.0", "the message file is shorter than its recorded size", false);
		delivery_finish(d);
		return;
	}
	struct mta_session *s = idle_take(m, d->key);
	if (s)
		mta_session_start_job(s, d);
	else
		delivery_route(d);
}

/* ---- the MTA -------------------------------------------------------------- */

static char *read_password(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		log_error("mta", "msg=\"cannot read relay_password_file\" path=%s error=%s", lq(path), lq(strerror(errno)));
		return NULL;
	}
	char line[1024];
	char *pw = NULL;
	if (fgets(line, sizeof line, f)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		pw = xstrdup(line);
	}
	OPENSSL_cleanse(line, sizeof line);
	fclose(f);
	if (!pw || !*pw) {
		log_error("mta", "msg=\"relay_password_file has no password on its first line\" path=%s", lq(path));
		free(pw);
		return NULL;
	}
	return pw;
}

struct mta *mta_new(struct event_base *base, const struct config *cfg, struct dns_resolver *dns)
{
	/*
	 * A peer that closes while we write must be an error return, not the
	 * end of the process: libevent and OpenSSL write without MSG_NOSIGNAL.
	 * serve already ignores SIGPIPE; this covers every other caller.
	 */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	struct mta *m = xcalloc(1, sizeof *m);
	m->base = base;
	m->cfg = cfg;
	m->dns = dns;
	if (cfg->delivery.relay && *cfg->delivery.relay) {
		if (!mta_dest_relay(cfg->delivery.relay, (uint16_t)cfg->delivery.smtp_port, &m->relay)) {
			log_error("mta", "msg=\"bad relay\" relay=%s", lq(cfg->delivery.relay));
			goto fail;
		}
		m->have_relay = true;
	}
	/* config.c accepted only these (and verify only for a relay with a name). */
	const char *relay_tls = cfg->delivery.relay_tls;
	m->relay_tls = !relay_tls || strcmp(relay_tls, "may") == 0 ? MTA_TLS_MAY
		       : strcmp(relay_tls, "encrypt") == 0 ? MTA_TLS_ENCRYPT : MTA_TLS_VERIFY;
	if (cfg->delivery.relay_username && cfg->delivery.relay_password_file) {
		if (!m->have_relay)
			log_warn("mta", "msg=\"relay_username without relay, ignored\"");
		else if (!(m->password = read_password(cfg->delivery.relay_password_file)))
			goto fail;
	}
	m->ssl = mta_tls_ctx_new(cfg->delivery.tls_ca_file);
	if (!m->ssl)
		goto fail;     /* logged */
	if (cfg->delivery.mta_sts) {
		m->sts = mta_sts_new(base, cfg, dns);
		if (!m->sts)
			goto fail;     /* logged */
		m->sts_source = (struct mta_policy_source){ sts_start, sts_cancel, m };
		m->policies = &m->sts_source;
	}
	return m;
fail:
	mta_free(&m);
	return NULL;
}

void mta_free(struct mta **mp)
{
	struct mta *m = *mp;
	if (!m)
		return;
	*mp = NULL;
	while (m->sessions)
		mta_session_free(m->sessions);
	while (m->deliveries)
		delivery_free(m->deliveries);
	/* After the deliveries: freeing them cancelled their policy lookups. */
	mta_sts_free(&m->sts);
	for (size_t i = 0; i < TLSRPT_STS_MEMO; i++)
		sts_memo_clear(&m->sts_memo[i]);
	if (m->ssl)
		SSL_CTX_free(m->ssl);
	if (m->password) {
		OPENSSL_cleanse(m->password, strlen(m->password));
		free(m->password);
	}
	free(m);
}
