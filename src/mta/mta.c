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
 */
#include "mta/mta_int.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mta/sts.h"

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
	struct mta_delivery *deliveries;
	struct mta_session *sessions;   /* all, closed ones until freed */
	size_t nopen;                   /* sessions not closed */
	struct mta_session *idle;       /* most recently used first */
	size_t nidle;
};

struct event_base *mta_base(const struct mta *m) { return m->base; }
const struct config *mta_config(const struct mta *m) { return m->cfg; }
SSL_CTX *mta_ssl_ctx(const struct mta *m) { return m->ssl; }
const char *mta_password(const struct mta *m) { return m->password; }
void mta_set_policy_source(struct mta *m, const struct mta_policy_source *src) { m->policies = src; }

/* ---- MTA-STS as the destination policy source ------------------------------ */

struct sts_lookup {
	mta_dest_policy_cb cb;
	void *arg;
	struct mta_sts_req *req;
};

static void on_sts_policy(const struct mta_sts_policy *p, void *arg)
{
	struct sts_lookup *l = arg;
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
	struct sts_lookup *l = xmalloc(sizeof *l);
	l->cb = cb;
	l->arg = arg;
	l->req = mta_sts_get(ctx, domain, on_sts_policy, l);
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
 * policy that requires TLS into an opportunistic one.  false: the
 * delivery is finished.
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
	} else if (job->tls_optional) {
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

void mta_delivery_session_end(struct mta_delivery *d, struct mta_session *s, enum mta_session_end how)
{
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
		m->sts_source = (struct mta_policy_source){ sts_start, sts_cancel, m->sts };
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
	if (m->ssl)
		SSL_CTX_free(m->ssl);
	if (m->password) {
		OPENSSL_cleanse(m->password, strlen(m->password));
		free(m->password);
	}
	free(m);
}
