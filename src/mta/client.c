/*
 * client.c — one outbound SMTP connection: the client side of RFC 5321
 * with PIPELINING (RFC 2920), SIZE (1870), 8BITMIME (6152), STARTTLS
 * (3207), AUTH PLAIN (4954, 4616), DSN (3461), CHUNKING (3030) and
 * SMTPUTF8 (6531).  mta.c owns the jobs; a session serves one job at a
 * time and reports to its delivery (mta_int.h).
 *
 *   CONNECT ─► GREETING ─► EHLO ─(5xx)─► HELO
 *                           │             │
 *                           ├─► STARTTLS ─► HANDSHAKE ─► EHLO (again, over TLS)
 *                           ├─► AUTH (relay with a password, only over TLS)
 *                           ▼
 *              [RSET] ─► MAIL ─► (RCPT replies...) ─► DATA ─► BODY ─► DOT ─┐
 *                 ▲                                   └──► BDAT ──────────┤
 *                 └──────────────────── IDLE ◄─────────────────────────────┘
 *                                        └─► QUIT (idle timeout, no reuse)
 *
 * on_greeting / on_ehlo / on_helo / on_starttls / tls_up / on_auth /
 * on_rset / on_mail_group / on_data / on_dot / on_bdat make the
 * transitions.  With PIPELINING, MAIL, every RCPT and (without CHUNKING)
 * DATA go out in one write and the replies are matched in order; without
 * it, one command per reply.  Every reply has a deadline
 * (command_timeout); connecting has connect_timeout; writes that make no
 * progress time out in the bufferevent.
 *
 * Failure before MAIL is answered means nothing was sent: the delivery
 * tries the next address (MTA_END_NEXT).  Later, whatever is still open
 * is deferred and the job is over (MTA_END_DONE).  The message is read
 * from its file a chunk at a time while the socket's output is below
 * MTA_OUT_HIGH.
 *
 * A session is closed (socket gone) by session_close() and freed by a
 * zero-delay event afterwards, so code running in its callbacks may close
 * it and return without touching freed memory.
 *
 * TLS follows the address's policy (s->policy, tls.c): MAY starts TLS when
 * it is offered and, when the handshake fails, lets the delivery retry the
 * address in plain text (MTA_END_PLAIN).  ENCRYPT, VERIFY and DANE need
 * TLS: no STARTTLS offered, STARTTLS refused, a failed handshake or a
 * certificate that does not pass the policy's check (tls_up) ends the
 * session before MAIL with 4.7.5 and the next address is tried
 * (tls_refuse, MTA_END_NEXT) — nothing is ever sent in plain text then.
 * Each connection logs its TLS outcome once: tls=none|opportunistic|
 * verified|dane-verified with policy=none|may|encrypt|verify|dane.
 */
#include "mta/mta_int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mta/downgrade.h"
#include "mta/tlsrpt.h"

enum fate { KEEP, QUIT, CLOSE };

static void process_input(struct mta_session *s);
static void start_transaction(struct mta_session *s);
static void send_ehlo(struct mta_session *s);
static void pump_data(struct mta_session *s);
static void pump_bdat(struct mta_session *s);
static void write_timeout(struct mta_session *s, bool on);

static const struct config *cfg_of(const struct mta_session *s)
{
	return mta_config(s->m);
}

static const char *qid(const struct mta_session *s)
{
	return s->d ? s->d->job->queue_id : NULL;
}

static void set_timer(struct mta_session *s, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(s->timer, &tv);
}

static void arm_reply_timer(struct mta_session *s)
{
	set_timer(s, cfg_of(s)->delivery.command_timeout_ms);
}

/* n more replies are due; the deadline starts with the first outstanding one. */
static void expect(struct mta_session *s, unsigned n)
{
	if (s->nexpect == 0)
		arm_reply_timer(s);
	s->nexpect += n;
}

static void send_buf(struct mta_session *s, struct buf *line, bool secret)
{
	if (log_enabled(LOG_DEBUG))
		log_debug("mta", "session=%s send=%s", s->id, lq(secret ? "AUTH PLAIN (credentials)" : buf_cstr(line)));
	buf_append(line, "\r\n", 2);
	bufferevent_write(s->bev, line->data, line->len);
}

static void send_cmd(struct mta_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void send_cmd(struct mta_session *s, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	send_buf(s, &line, false);
	buf_free(&line);
}

static enum mta_result reply_result(int code)
{
	return code >= 500 ? MTA_BOUNCED : code >= 400 ? MTA_DEFERRED : MTA_SENT;
}

/* ---- closing ------------------------------------------------------------------ */

static void session_destroy(struct mta_session *s)
{
	mta_session_unlink(s->m, s);
	mta_tls_policy_unref(&s->policy);
	event_free(s->timer);
	event_free(s->free_ev);
	mta_reply_parser_free(&s->rp);
	free(s->rcpt_idx);
	free(s->chunk);
	buf_free(&s->out);
	buf_free(&s->downgraded);
	free(s);
}

static void on_free(evutil_socket_t fd, short what, void *arg)
{
	session_destroy(arg);
}

/* The socket goes now; the struct on the next loop turn. */
static void session_close(struct mta_session *s)
{
	if (s->closed)
		return;
	mta_idle_remove(s->m, s);
	s->closed = true;
	mta_session_closed(s->m, s);
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->timer);
	event_active(s->free_ev, 0, 0);
}

void mta_session_free(struct mta_session *s)
{
	if (s->d && s->d->session == s)
		s->d->session = NULL;
	s->d = NULL;
	session_close(s);
	session_destroy(s);
}

void mta_session_quit(struct mta_session *s)
{
	if (s->closed)
		return;
	mta_idle_remove(s->m, s);
	/* Only between commands: inside DATA "QUIT" would be message text. */
	switch (s->state) {
	case MTA_S_CONNECT:
	case MTA_S_HANDSHAKE:
	case MTA_S_BODY:
	case MTA_S_BDAT:
	case MTA_S_QUIT:
		session_close(s);
		return;
	default:
		break;
	}
	send_cmd(s, "QUIT");
	s->state = MTA_S_QUIT;
	s->nexpect = 1;
	set_timer(s, MTA_QUIT_WAIT_MS);
}

/*
 * The job leaves the session: keep the connection for the next job, say
 * QUIT, or just close; then tell the delivery (which may start the next
 * address, or — later, never from here — call done()).
 */
static void end_job(struct mta_session *s, enum mta_session_end how, enum fate fate)
{
	struct mta_delivery *d = s->d;
	s->d = NULL;
	s->reused = false;
	XFREE(&s->rcpt_idx);
	buf_free(&s->downgraded);       /* a converted message is not kept for the next job */
	s->use_downgraded = false;
	if (s->bev)
		write_timeout(s, false);
	if (fate == KEEP && !s->broken && !s->closed && mta_idle_put(s->m, s)) {
		s->state = MTA_S_IDLE;
		s->stage = "idle";
		s->nexpect = 0;
		set_timer(s, MTA_IDLE_MS);
	} else if (fate == CLOSE || s->broken) {
		session_close(s);
	} else {
		mta_session_quit(s);
	}
	if (d)
		mta_delivery_session_end(d, s, how);
}

/* Timeout, lost connection, protocol error: what is open is deferred (or, before MAIL was answered, the next address). */
static void session_abort(struct mta_session *s, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void session_abort(struct mta_session *s, const char *status, const char *fmt, ...)
{
	char why[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	s->broken = true;
	struct mta_delivery *d = s->d;
	if (!d) {
		log_debug("mta", "session=%s msg=\"closed\" relay=%s reason=%s", s->id, lq(s->relay), lq(why));
		session_close(s);
		return;
	}
	log_info("mta", "session=%s queue_id=%s msg=\"session failed\" relay=%s reason=%s", s->id,
		 lq(qid(s)), lq(s->relay), lq(why));
	if (!s->mail_done) {
		mta_delivery_error(d, MTA_DEFERRED, status, why, false);
		end_job(s, s->reused ? MTA_END_RETRY : MTA_END_NEXT, CLOSE);
	} else {
		mta_rcpt_result_all(d, MTA_DEFERRED, status, why, false);
		end_job(s, MTA_END_DONE, CLOSE);
	}
}

static void session_lost(struct mta_session *s, bool timeout)
{
	if (timeout)
		session_abort(s, "4.4.2", "conversation with %s[%s] timed out while %s", s->addr.host, s->addr.ip, s->stage);
	else
		session_abort(s, "4.4.2", "lost connection with %s[%s] while %s", s->addr.host, s->addr.ip, s->stage);
}

/* The server refused something before the transaction: next address, with its reply (as a temporary failure). */
static void fail_next(struct mta_session *s, const struct mta_reply *r, const char *what)
{
	char text[MTA_REPLY_TEXT_MAX], status[16];
	mta_reply_join(r, text, sizeof text);
	snprintf(status, sizeof status, "%s", r->enhanced);
	status[0] = '4';
	log_info("mta", "session=%s queue_id=%s msg=%s relay=%s reply=%s", s->id, lq(qid(s)), lq(what),
		 lq(s->relay), lq(text));
	mta_delivery_error(s->d, MTA_DEFERRED, status, text, true);
	end_job(s, MTA_END_NEXT, QUIT);
}

/* ---- connecting ----------------------------------------------------------------- */

static void connect_failed(struct mta_session *s, int err)
{
	char why[1024];
	snprintf(why, sizeof why, "connect to %s: %s", s->relay, strerror(err ? err : ECONNREFUSED));
	log_info("mta", "session=%s queue_id=%s msg=\"connect failed\" relay=%s reason=%s", s->id,
		 lq(qid(s)), lq(s->relay), lq(why));
	mta_delivery_error(s->d, MTA_DEFERRED, "4.4.1", why, false);
	end_job(s, MTA_END_NEXT, CLOSE);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

#define STAGE_END "sending end of data -- message may be sent more than once"

static void on_write(struct bufferevent *bev, void *arg)
{
	struct mta_session *s = arg;
	if (s->state == MTA_S_BODY) {
		pump_data(s);
	} else if (s->state == MTA_S_BDAT && !s->body_end) {
		pump_bdat(s);
	} else if ((s->state == MTA_S_DOT || s->state == MTA_S_BDAT) && s->nexpect && s->body_end &&
		   evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		/*
		 * The end of data is out: now it is the server's turn, and a loss
		 * may mean it has the message.  It may be scanning a big message,
		 * so this wait is the long one (RFC 5321 §4.5.3.2.6: 10 minutes).
		 */
		s->stage = STAGE_END;
		const struct config *cfg = cfg_of(s);
		uint64_t ms = cfg->delivery.data_done_timeout_ms;
		set_timer(s, ms > cfg->delivery.command_timeout_ms ? ms : cfg->delivery.command_timeout_ms);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg);

/*
 * The bufferevent's write timeout guards only the message transfer (a
 * server that stops reading); replies have our own timer.  Outside the
 * transfer it stays off: an OpenSSL bufferevent reports write timeouts
 * even with nothing to write, which would kill idle TLS connections.
 */
static void write_timeout(struct mta_session *s, bool on)
{
	uint64_t ms = cfg_of(s)->delivery.command_timeout_ms;
	struct timeval wt = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	bufferevent_set_timeouts(s->bev, NULL, on ? &wt : NULL);
}

static void setup_bev(struct mta_session *s)
{
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, MTA_IN_HIGH);
	bufferevent_setwatermark(s->bev, EV_WRITE, MTA_OUT_LOW, 0);
	write_timeout(s, false);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void connected(struct mta_session *s)
{
	evtimer_del(s->timer);
	setup_bev(s);
	s->state = MTA_S_GREETING;
	s->stage = "receiving the initial server greeting";
	log_debug("mta", "session=%s msg=connected relay=%s", s->id, lq(s->relay));
	expect(s, 1);
}

/* What requires TLS, for reasons: "DANE", "MTA-STS", ... */
static const char *policy_label(const struct mta_tls_policy *p)
{
	switch (p->mode) {
	case MTA_TLS_DANE: return "DANE";
	case MTA_TLS_ENCRYPT: return "DANE, no usable TLSA record";
	default: return p->source;
	}
}

/*
 * The policy requires TLS and this connection cannot have it: nothing was
 * sent, the next address is tried (RFC 7672 §2.2, RFC 8461 §5), 4.7.5 if
 * none is left.  Never kept for reuse.
 */
static void tls_refuse(struct mta_session *s, enum fate fate, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void tls_refuse(struct mta_session *s, enum fate fate, const char *fmt, ...)
{
	char what[768], why[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(why, sizeof why, "%s TLS is required (%s) but %s", MTA_TLS_STATUS, policy_label(s->policy), what);
	log_warn("mta", "session=%s queue_id=%s msg=\"TLS required, host not used\" relay=%s tls=%s policy=%s reason=%s",
		 s->id, lq(qid(s)), lq(s->relay), mta_tls_outcome_name(MTA_TLSO_FAILED),
		 mta_tls_mode_name(s->policy->mode), lq(why));
	s->tls_logged = true;
	if (fate == CLOSE)
		s->broken = true;
	mta_delivery_error(s->d, MTA_DEFERRED, MTA_TLS_STATUS, why, false);
	end_job(s, MTA_END_NEXT, fate == KEEP ? QUIT : fate);
}

static void tls_failed(struct mta_session *s, const char *reason)
{
	char why[1024], cert[256];
	SSL *ssl = s->state == MTA_S_HANDSHAKE ? bufferevent_openssl_get_ssl(s->bev) : NULL;
	bool bad_cert = ssl && mta_tls_verify_error(ssl, cert, sizeof cert);
	s->tls_verify_result = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;     /* the TLS-RPT result type */
	if (mta_tls_required(s->policy)) {
		if (bad_cert)
			tls_refuse(s, CLOSE, "the certificate of %s[%s] did not verify: %s", s->addr.host, s->addr.ip, cert);
		else
			tls_refuse(s, CLOSE, "the TLS handshake with %s[%s] failed: %s", s->addr.host, s->addr.ip, reason);
		return;
	}
	snprintf(why, sizeof why, "TLS handshake with %s[%s] failed: %s", s->addr.host, s->addr.ip, reason);
	log_warn("mta", "session=%s queue_id=%s msg=\"TLS handshake failed\" relay=%s reason=%s", s->id,
		 lq(qid(s)), lq(s->relay), lq(reason));
	s->broken = true;
	mta_delivery_error(s->d, MTA_DEFERRED, "4.7.5", why, false);
	end_job(s, MTA_END_PLAIN, CLOSE);
}

static void tls_up(struct mta_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	char info[512] = "";
	evtimer_del(s->timer);
	enum mta_tls_outcome o = ssl ? mta_tls_ssl_check(ssl, s->policy, info, sizeof info) : MTA_TLSO_FAILED;
	if (o == MTA_TLSO_FAILED) {
		/* Handshake done, nothing sent yet: the connection goes without a word. */
		tls_refuse(s, CLOSE, "the certificate of %s[%s] did not verify: %s", s->addr.host, s->addr.ip,
			   info[0] ? info : "no TLS");
		return;
	}
	s->tls = true;
	s->tls_outcome = o;
	s->tls_logged = true;
	if (ssl && s->policy->mode == MTA_TLS_MAY && s->policy->host[0] && cfg_of(s)->delivery.tlsrpt) {
		/* For TLS-RPT of a destination whose MTA-STS policy is in "testing" mode (mta.c). */
		char judged[512];
		if (mta_tls_ssl_judge(ssl, s->policy->host, judged, sizeof judged) == MTA_TLSO_FAILED)
			s->tls_unverified = tlsrpt_result_type(SSL_get_verify_result(ssl), judged);
	}
	if (s->d) {
		s->d->job->tls = true;
		s->d->tls_outcome = o;
	}
	log_info("mta", "session=%s queue_id=%s msg=\"TLS established\" relay=%s version=%s cipher=%s tls=%s policy=%s%s%s",
		 s->id, lq(qid(s)), lq(s->relay), ssl ? SSL_get_version(ssl) : "-",
		 ssl ? SSL_get_cipher_name(ssl) : "-", mta_tls_outcome_name(o), mta_tls_mode_name(s->policy->mode),
		 info[0] ? " match=" : "", info[0] ? lq(info) : "");
	send_ehlo(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct mta_session *s = arg;
	if (s->state == MTA_S_CONNECT) {
		if (what & BEV_EVENT_CONNECTED)
			connected(s);
		else
			connect_failed(s, (what & BEV_EVENT_TIMEOUT) ? ETIMEDOUT : EVUTIL_SOCKET_ERROR());
		return;
	}
	if (s->state == MTA_S_HANDSHAKE) {
		if (what & BEV_EVENT_CONNECTED) {
			tls_up(s);
			return;
		}
		char reason[256] = "";
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e)
			ERR_error_string_n(e, reason, sizeof reason);
		else if (what & BEV_EVENT_TIMEOUT)
			snprintf(reason, sizeof reason, "timed out");
		else if (what & BEV_EVENT_EOF)
			snprintf(reason, sizeof reason, "connection closed");
		else
			snprintf(reason, sizeof reason, "%s", strerror(EVUTIL_SOCKET_ERROR()));
		while (bufferevent_get_openssl_error(bev))
			;
		tls_failed(s, reason);
		return;
	}
	if (what & BEV_EVENT_CONNECTED)
		return;
	/* A last reply (a 421, say) may have come with the close. */
	if (what & BEV_EVENT_EOF) {
		process_input(s);
		if (s->closed)
			return;
	}
	if (s->state == MTA_S_IDLE || s->state == MTA_S_QUIT) {
		log_debug("mta", "session=%s msg=\"connection closed\" relay=%s state=%s event=0x%x", s->id,
			  lq(s->relay), s->state == MTA_S_IDLE ? "idle" : "quit", (unsigned)what);
		session_close(s);
		return;
	}
	session_lost(s, (what & BEV_EVENT_TIMEOUT) != 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;
	switch (s->state) {
	case MTA_S_CONNECT:
		connect_failed(s, s->connect_errno ? s->connect_errno : ETIMEDOUT);
		return;
	case MTA_S_IDLE:
		mta_session_quit(s);
		return;
	case MTA_S_QUIT:
		session_close(s);
		return;
	case MTA_S_HANDSHAKE:
		tls_failed(s, "timed out");
		return;
	default:
		session_lost(s, true);
		return;
	}
}

/* Bind to source_ip when it is of the destination's family. */
static bool bind_source(struct mta_session *s, int fd)
{
	const char *src = cfg_of(s)->delivery.source_ip;
	if (!src || !*src)
		return true;
	struct mta_addr a;
	if (!mta_addr_set(&a, src, src, 0)) {
		log_warn("mta", "msg=\"bad source_ip\" source_ip=%s", lq(src));
		return true;
	}
	if (a.sa.ss_family != s->addr.sa.ss_family)
		return true;
	if (bind(fd, (struct sockaddr *)&a.sa, a.salen) != 0) {
		int err = errno;
		log_warn("mta", "session=%s msg=\"cannot bind source_ip\" source_ip=%s error=%s", s->id, lq(src),
			 lq(strerror(err)));
		errno = err;
		return false;
	}
	return true;
}

struct mta_session *mta_session_connect(struct mta *m, struct mta_delivery *d, const struct mta_addr *a,
					struct mta_tls_policy *tls, bool no_tls)
{
	struct mta_session *s = xcalloc(1, sizeof *s);
	struct event_base *base = mta_base(m);
	s->m = m;
	s->d = d;
	d->session = s;
	s->addr = *a;
	s->policy = tls ? mta_tls_policy_ref(tls) : mta_tls_policy_new(MTA_TLS_MAY, "default", a->host);
	s->no_tls = no_tls || s->policy->mode == MTA_TLS_NONE;
	assert(!(s->no_tls && mta_tls_required(s->policy)));
	mta_addr_format(a, s->relay, sizeof s->relay);
	snprintf(s->key, sizeof s->key, "%s", d->key);
	random_id(s->id, 10);
	mta_reply_parser_init(&s->rp);
	s->timer = evtimer_new(base, on_timer, s);
	s->free_ev = event_new(base, -1, 0, on_free, s);
	if (!s->timer || !s->free_ev) {
		log_error("mta", "msg=\"event_new failed\"");
		abort();
	}
	mta_session_link(m, s);
	snprintf(d->job->relay, sizeof d->job->relay, "%s", s->relay);
	d->job->tls = false;
	d->tls_known = true;
	d->tls_mode = s->policy->mode;
	d->tls_outcome = MTA_TLSO_NONE;
	s->state = MTA_S_CONNECT;
	s->stage = "connecting";
	log_debug("mta", "session=%s queue_id=%s msg=connecting relay=%s starttls=%s policy=%s", s->id, lq(qid(s)),
		  lq(s->relay), s->no_tls ? "no" : "yes", mta_tls_mode_name(s->policy->mode));

	int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || !bind_source(s, fd)) {
		s->connect_errno = errno;
		if (fd >= 0)
			close(fd);
		set_timer(s, 0);    /* reported from the loop, not from inside this call */
		return s;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		close(fd);
		s->connect_errno = ENOMEM;
		set_timer(s, 0);
		return s;
	}
	setup_bev(s);
	set_timer(s, cfg_of(s)->delivery.connect_timeout_ms);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&s->addr.sa, (int)s->addr.salen) < 0) {
		s->connect_errno = errno ? errno : ECONNREFUSED;
		set_timer(s, 0);
	}
	return s;
}

/* ---- reading replies ------------------------------------------------------------ */

static void on_greeting(struct mta_session *s, const struct mta_reply *r);
static void on_ehlo(struct mta_session *s, const struct mta_reply *r);
static void on_helo(struct mta_session *s, const struct mta_reply *r);
static void on_starttls(struct mta_session *s, const struct mta_reply *r);
static void on_auth(struct mta_session *s, const struct mta_reply *r);
static void on_rset(struct mta_session *s, const struct mta_reply *r);
static void on_mail_group(struct mta_session *s, const struct mta_reply *r);
static void on_data(struct mta_session *s, const struct mta_reply *r);
static void on_dot(struct mta_session *s, const struct mta_reply *r);
static void on_bdat(struct mta_session *s, const struct mta_reply *r);

static void accepted_result(struct mta_session *s, enum mta_result res, const char *status,
			    const char *text, bool remote)
{
	struct mta_delivery *d = s->d;
	for (size_t i = 0; i < d->job->nrcpts; i++) {
		if (d->rstate[i] != MTA_RS_ACCEPTED)
			continue;
		mta_rcpt_result(d, i, res, status, text, remote);
		/* The peer got our NOTIFY: success notices are its business now (RFC 3461 §5.2). */
		struct mta_rcpt *r = &d->job->rcpts[i];
		r->dsn_passed = res == MTA_SENT && (s->caps.flags & MTA_CAP_DSN) && r->notify != 0;
	}
}

static void handle_reply(struct mta_session *s, const struct mta_reply *r)
{
	if (s->state == MTA_S_QUIT) {
		session_close(s);
		return;
	}
	if (r->code == 421)
		s->broken = true;       /* the server is closing the connection */
	/* 421 inside a transaction: the server goes away, taking everything still open. */
	if (r->code == 421 && s->mail_done && !s->discard &&
	    (s->state == MTA_S_MAIL || s->state == MTA_S_DATA || s->state == MTA_S_DOT || s->state == MTA_S_BDAT)) {
		char text[MTA_REPLY_TEXT_MAX];
		mta_reply_join(r, text, sizeof text);
		mta_rcpt_result_all(s->d, MTA_DEFERRED, r->enhanced, text, true);
		end_job(s, MTA_END_DONE, CLOSE);
		return;
	}
	switch (s->state) {
	case MTA_S_GREETING: on_greeting(s, r); return;
	case MTA_S_EHLO: on_ehlo(s, r); return;
	case MTA_S_HELO: on_helo(s, r); return;
	case MTA_S_STARTTLS: on_starttls(s, r); return;
	case MTA_S_AUTH: on_auth(s, r); return;
	case MTA_S_RSET: on_rset(s, r); return;
	case MTA_S_MAIL: on_mail_group(s, r); return;
	case MTA_S_DATA: on_data(s, r); return;
	case MTA_S_DOT: on_dot(s, r); return;
	case MTA_S_BDAT: on_bdat(s, r); return;
	default:
		session_abort(s, "4.4.2", "protocol error with %s[%s] while %s: unexpected reply", s->addr.host,
			      s->addr.ip, s->stage);
		return;
	}
}

/* Feed what the server sent to the reply parser while replies are due. */
static void process_input(struct mta_session *s)
{
	if (s->in_input || s->closed)
		return;
	s->in_input = true;
	while (!s->closed) {
		/* Fetched each time: STARTTLS replaces the bufferevent. */
		struct evbuffer *in = bufferevent_get_input(s->bev);
		if (evbuffer_get_length(in) == 0)
			break;
		if (s->nexpect == 0) {
			if (s->state == MTA_S_IDLE) {
				log_debug("mta", "session=%s msg=\"server spoke while idle, closing\" relay=%s", s->id, lq(s->relay));
				session_close(s);
			}
			break;      /* otherwise it waits, bounded by the read high-water mark */
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = mta_reply_feed(&s->rp, v.iov_base, v.iov_len);
		evbuffer_drain(in, used);
		if (s->rp.status == MTA_REPLY_ERROR) {
			if (s->state == MTA_S_QUIT)
				session_close(s);
			else
				session_abort(s, "4.4.2", "protocol error with %s[%s] while %s: %s", s->addr.host,
					      s->addr.ip, s->stage, s->rp.error);
			break;
		}
		if (s->rp.status != MTA_REPLY_DONE)
			continue;
		s->nexpect--;
		if (s->nexpect)
			arm_reply_timer(s);
		else
			evtimer_del(s->timer);
		if (log_enabled(LOG_DEBUG)) {
			char text[MTA_REPLY_TEXT_MAX];
			mta_reply_join(&s->rp.reply, text, sizeof text);
			log_debug("mta", "session=%s recv=%s", s->id, lq(text));
		}
		handle_reply(s, &s->rp.reply);
		if (!s->closed)
			mta_reply_parser_next(&s->rp);
	}
	s->in_input = false;
}

/* ---- hello, TLS, AUTH ------------------------------------------------------------ */

static void send_ehlo(struct mta_session *s)
{
	const char *me = cfg_of(s)->hostname;
	send_cmd(s, "EHLO %s", me && *me ? me : "localhost");
	s->state = MTA_S_EHLO;
	s->stage = "performing the EHLO handshake";
	expect(s, 1);
}

static void on_greeting(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code / 100 != 2) {
		fail_next(s, r, "greeting refused");
		return;
	}
	/* "220 name ...": a server that calls itself by our name is us (Postfix: loops back to myself). */
	size_t pos = 0, n;
	const char *t;
	const char *me = cfg_of(s)->hostname;
	if (me && mta_reply_text_line(r, &pos, &t, &n)) {
		size_t w = 0;
		while (w < n && t[w] != ' ')
			w++;
		if (w && ascii_ieq(t, w, me)) {
			char why[1024];
			snprintf(why, sizeof why, "mail for %s loops back to myself (%s[%s] greeted me with my own hostname)",
				 s->d->dest.name, s->addr.host, s->addr.ip);
			log_warn("mta", "session=%s queue_id=%s msg=\"mail loops back to myself\" relay=%s", s->id,
				 lq(qid(s)), lq(s->relay));
			mta_delivery_error(s->d, MTA_DEFERRED, "4.4.6", why, false);
			end_job(s, MTA_END_NEXT, QUIT);
			return;
		}
	}
	send_ehlo(s);
}

static bool relay_auth(const struct mta_session *s)
{
	return s->d->dest.relay && mta_password(s->m) && cfg_of(s)->delivery.relay_username;
}

static void send_auth(struct mta_session *s)
{
	const char *user = cfg_of(s)->delivery.relay_username;
	const char *pw = mta_password(s->m);
	struct buf plain = BUF_INIT, line = BUF_INIT;
	buf_putc(&plain, '\0');
	buf_puts(&plain, user);
	buf_putc(&plain, '\0');
	buf_puts(&plain, pw);
	buf_puts(&line, "AUTH PLAIN ");
	base64_encode(&line, plain.data, plain.len);
	send_buf(s, &line, true);
	OPENSSL_cleanse(plain.data, plain.len);
	OPENSSL_cleanse(line.data, line.len);
	buf_free(&plain);
	buf_free(&line);
	s->state = MTA_S_AUTH;
	s->stage = "sending AUTH";
	expect(s, 1);
}

/* Refuse the job for a reason of ours, before any transaction. */
static void refuse_all(struct mta_session *s, enum mta_result res, const char *status, const char *why,
		       enum fate fate)
{
	mta_rcpt_result_all(s->d, res, status, why, false);
	end_job(s, MTA_END_DONE, fate);
}

/* EHLO (or HELO) done: STARTTLS, AUTH, or the transaction. */
static void after_hello(struct mta_session *s)
{
	char why[1024];
	if (!s->tls && !s->no_tls && (s->caps.flags & MTA_CAP_STARTTLS) && mta_ssl_ctx(s->m)) {
		send_cmd(s, "STARTTLS");
		s->state = MTA_S_STARTTLS;
		s->stage = "sending STARTTLS";
		expect(s, 1);
		return;
	}
	if (!s->tls && mta_tls_required(s->policy)) {
		if (!(s->caps.flags & MTA_CAP_STARTTLS))
			tls_refuse(s, QUIT, "STARTTLS was not offered by host %s[%s]", s->addr.host, s->addr.ip);
		else
			tls_refuse(s, QUIT, "TLS is not available to talk to host %s[%s]", s->addr.host, s->addr.ip);
		return;
	}
	if (!s->tls && !s->tls_logged) {
		s->tls_logged = true;
		log_info("mta", "session=%s queue_id=%s msg=\"no TLS\" relay=%s tls=none policy=%s reason=%s", s->id,
			 lq(qid(s)), lq(s->relay), mta_tls_mode_name(s->policy->mode),
			 lq(s->no_tls ? (s->policy->mode == MTA_TLS_NONE ? "TLS not wanted" : "STARTTLS failed before")
			    : (s->caps.flags & MTA_CAP_STARTTLS) ? "no TLS context" : "STARTTLS not offered"));
	}
	if (relay_auth(s)) {
		if (!s->tls) {
			snprintf(why, sizeof why, "relay %s[%s] %s: not sending the password in clear", s->addr.host,
				 s->addr.ip, s->no_tls ? "has no working STARTTLS" : "offers no STARTTLS");
			log_warn("mta", "session=%s queue_id=%s msg=\"no TLS to the relay, AUTH not attempted\" relay=%s",
				 s->id, lq(qid(s)), lq(s->relay));
			refuse_all(s, MTA_DEFERRED, "4.7.0", why, QUIT);
			return;
		}
		if (!(s->caps.flags & MTA_CAP_AUTH)) {
			log_info("mta", "session=%s queue_id=%s msg=\"relay offers no AUTH, sending without\" relay=%s",
				 s->id, lq(qid(s)), lq(s->relay));
		} else if (!(s->caps.auth & MTA_AUTH_PLAIN)) {
			snprintf(why, sizeof why, "relay %s[%s] offers no AUTH PLAIN", s->addr.host, s->addr.ip);
			log_warn("mta", "session=%s queue_id=%s msg=\"relay offers no AUTH PLAIN\" relay=%s", s->id,
				 lq(qid(s)), lq(s->relay));
			refuse_all(s, MTA_DEFERRED, "4.7.0", why, QUIT);
			return;
		} else {
			send_auth(s);
			return;
		}
	}
	start_transaction(s);
}

static void on_ehlo(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code / 100 == 2) {
		mta_caps_parse(r, &s->caps);
		s->esmtp = true;
		after_hello(s);
		return;
	}
	if (r->code / 100 == 5 && !s->tls) {
		send_cmd(s, "HELO %s", cfg_of(s)->hostname && *cfg_of(s)->hostname ? cfg_of(s)->hostname : "localhost");
		s->state = MTA_S_HELO;
		s->stage = "performing the HELO handshake";
		expect(s, 1);
		return;
	}
	fail_next(s, r, "EHLO refused");
}

static void on_helo(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code / 100 != 2) {
		fail_next(s, r, "HELO refused");
		return;
	}
	memset(&s->caps, 0, sizeof s->caps);
	s->esmtp = false;
	after_hello(s);
}

static void start_tls(struct mta_session *s)
{
	/* Anything after the 220 came in the clear: an injection attempt (CVE-2011-0411 style), dropped. */
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t extra = evbuffer_get_length(in);
	if (extra) {
		log_warn("mta", "session=%s queue_id=%s msg=\"data after the STARTTLS reply discarded\" relay=%s octets=%zu",
			 s->id, lq(qid(s)), lq(s->relay), extra);
		evbuffer_drain(in, extra);
	}
	SSL *ssl = SSL_new(mta_ssl_ctx(s->m));
	if (!ssl) {
		tls_failed(s, "SSL_new failed");
		return;
	}
	if (!s->addr.literal)
		SSL_set_tlsext_host_name(ssl, s->addr.host);   /* SNI: the MX host's name */
	char why[256];
	if (!mta_tls_ssl_setup(ssl, s->policy, why, sizeof why)) {
		SSL_free(ssl);
		tls_failed(s, why);
		return;
	}
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	struct bufferevent *f = bufferevent_openssl_filter_new(mta_base(s->m), s->bev, ssl,
							       BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!f) {
		SSL_free(ssl);
		tls_failed(s, "cannot set up the TLS layer");
		return;
	}
	s->bev = f;
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	setup_bev(s);
	s->state = MTA_S_HANDSHAKE;
	s->stage = "performing the TLS handshake";
	arm_reply_timer(s);
}

static void on_starttls(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code / 100 == 2) {
		start_tls(s);
		return;
	}
	char text[MTA_REPLY_TEXT_MAX];
	mta_reply_join(r, text, sizeof text);
	if (mta_tls_required(s->policy)) {
		tls_refuse(s, QUIT, "host %s[%s] refused STARTTLS: %s", s->addr.host, s->addr.ip, text);
		return;
	}
	log_info("mta", "session=%s queue_id=%s msg=\"STARTTLS refused, continuing without TLS\" relay=%s reply=%s",
		 s->id, lq(qid(s)), lq(s->relay), lq(text));
	s->no_tls = true;
	after_hello(s);
}

static void on_auth(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code / 100 == 2) {
		log_info("mta", "session=%s queue_id=%s msg=\"authenticated to the relay\" relay=%s user=%s", s->id,
			 lq(qid(s)), lq(s->relay), lq(cfg_of(s)->delivery.relay_username));
		start_transaction(s);
		return;
	}
	char text[MTA_REPLY_TEXT_MAX], status[16];
	mta_reply_join(r, text, sizeof text);
	snprintf(status, sizeof status, "%s", r->enhanced);
	status[0] = '4';    /* our credentials, not the recipient: retry after the operator fixes them */
	log_warn("mta", "session=%s queue_id=%s msg=\"relay authentication failed\" relay=%s user=%s reply=%s",
		 s->id, lq(qid(s)), lq(s->relay), lq(cfg_of(s)->delivery.relay_username), lq(text));
	mta_rcpt_result_all(s->d, MTA_DEFERRED, status, text, true);
	end_job(s, MTA_END_DONE, QUIT);
}

/* ---- the transaction ------------------------------------------------------------- */

static void send_mail(struct mta_session *s);
static bool downgrade_message(struct mta_session *s);
static uint64_t message_size(const struct mta_session *s);

static void start_transaction(struct mta_session *s)
{
	struct mta_delivery *d = s->d;
	const struct mta_job *job = d->job;
	char why[1024];
	s->mail_done = s->mail_ok = s->data_sent = s->discard = false;
	s->rcpt_sent = s->rcpt_replied = s->naccepted = s->rcpt_cursor = 0;
	free(s->rcpt_idx);
	s->rcpt_idx = xcalloc(job->nrcpts ? job->nrcpts : 1, sizeof *s->rcpt_idx);
	s->body_pos = 0;
	s->body_end = false;
	s->bdat_inflight = 0;
	s->bdat_failed = false;
	buf_free(&s->downgraded);
	s->use_downgraded = false;

	if (job->requiretls && (!s->tls || (s->policy->mode != MTA_TLS_DANE && s->policy->mode != MTA_TLS_VERIFY) ||
				!(s->caps.flags & MTA_CAP_REQUIRETLS))) {
		/* Another host may do better; when none does, the last reason bounces (RFC 8689 §4.2.1). */
		snprintf(why, sizeof why, "REQUIRETLS is required, but host %s[%s] %s", s->addr.host, s->addr.ip,
			 !s->tls ? "gave no TLS" : !(s->caps.flags & MTA_CAP_REQUIRETLS) ? "does not offer REQUIRETLS"
			 : "has no verified TLS policy (DANE or MTA-STS)");
		log_info("mta", "session=%s queue_id=%s msg=\"host not used for a REQUIRETLS message\" relay=%s reason=%s",
			 s->id, lq(qid(s)), lq(s->relay), lq(why));
		mta_delivery_error(s->d, MTA_BOUNCED, "5.7.30", why, false);
		end_job(s, MTA_END_NEXT, QUIT);
		return;
	}
	if (job->smtputf8 && !(s->caps.flags & MTA_CAP_SMTPUTF8)) {
		snprintf(why, sizeof why, "SMTPUTF8 is required, but was not offered by host %s[%s]", s->addr.host,
			 s->addr.ip);
		refuse_all(s, MTA_BOUNCED, "5.6.7", why, KEEP);
		return;
	}
	/* Before SIZE is checked and declared: the 7-bit form is what goes. */
	if (job->body_8bit && !(s->caps.flags & MTA_CAP_8BITMIME) && !downgrade_message(s))
		return;
	uint64_t size = message_size(s);
	if ((s->caps.flags & MTA_CAP_SIZE) && s->caps.size_limit && size > s->caps.size_limit) {
		snprintf(why, sizeof why, "message size %llu exceeds size limit %llu of server %s[%s]",
			 (unsigned long long)size, (unsigned long long)s->caps.size_limit, s->addr.host, s->addr.ip);
		refuse_all(s, MTA_BOUNCED, "5.3.4", why, KEEP);
		return;
	}
	if (s->need_rset) {
		send_cmd(s, "RSET");
		s->state = MTA_S_RSET;
		s->stage = "sending RSET";
		expect(s, 1);
		return;
	}
	send_mail(s);
}

static void on_rset(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code / 100 == 2) {
		s->need_rset = false;
		send_mail(s);
		return;
	}
	s->broken = true;
	char text[MTA_REPLY_TEXT_MAX];
	mta_reply_join(r, text, sizeof text);
	mta_delivery_error(s->d, MTA_DEFERRED, "4.4.2", text, true);
	end_job(s, s->reused ? MTA_END_RETRY : MTA_END_NEXT, QUIT);
}

static bool type_clean(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return false;
	return true;
}

/* RCPT for the next rcpt without a result; false when there is none. */
static bool send_next_rcpt(struct mta_session *s)
{
	struct mta_delivery *d = s->d;
	const struct mta_job *job = d->job;
	while (s->rcpt_cursor < job->nrcpts && d->rstate[s->rcpt_cursor] != MTA_RS_PENDING)
		s->rcpt_cursor++;
	if (s->rcpt_cursor >= job->nrcpts)
		return false;
	size_t i = s->rcpt_cursor++;
	const struct mta_rcpt *r = &job->rcpts[i];
	struct buf line = BUF_INIT;
	buf_printf(&line, "RCPT TO:<%s>", r->addr);
	if (s->caps.flags & MTA_CAP_DSN) {
		if (r->notify & MTA_NOTIFY_NEVER) {
			buf_puts(&line, " NOTIFY=NEVER");
		} else if (r->notify & (MTA_NOTIFY_SUCCESS | MTA_NOTIFY_FAILURE | MTA_NOTIFY_DELAY)) {
			const char *sep = " NOTIFY=";
			if (r->notify & MTA_NOTIFY_SUCCESS) { buf_puts(&line, sep); buf_puts(&line, "SUCCESS"); sep = ","; }
			if (r->notify & MTA_NOTIFY_FAILURE) { buf_puts(&line, sep); buf_puts(&line, "FAILURE"); sep = ","; }
			if (r->notify & MTA_NOTIFY_DELAY) { buf_puts(&line, sep); buf_puts(&line, "DELAY"); }
		}
		const char *o = r->orcpt;
		const char *semi = o ? strchr(o, ';') : NULL;
		if (semi && type_clean(o, (size_t)(semi - o)) && semi[1]) {
			buf_puts(&line, " ORCPT=");
			buf_append(&line, o, (size_t)(semi - o) + 1);
			mta_xtext_append(&line, semi + 1, strlen(semi + 1));
		} else if ((!o || !*o) && is_ascii(r->addr, strlen(r->addr))) {
			buf_puts(&line, " ORCPT=rfc822;");
			mta_xtext_append(&line, r->addr, strlen(r->addr));
		}
	}
	send_buf(s, &line, false);
	buf_free(&line);
	s->rcpt_idx[s->rcpt_sent++] = i;
	s->stage = "sending RCPT TO";
	expect(s, 1);
	return true;
}

static void send_data_cmd(struct mta_session *s)
{
	send_cmd(s, "DATA");
	s->data_sent = true;
	expect(s, 1);
}

static void send_mail(struct mta_session *s)
{
	const struct mta_job *job = s->d->job;
	unsigned caps = s->caps.flags;
	struct buf line = BUF_INIT;
	buf_printf(&line, "MAIL FROM:<%s>", job->sender ? job->sender : "");
	if (caps & MTA_CAP_SIZE)
		buf_printf(&line, " SIZE=%llu", (unsigned long long)message_size(s));
	if (job->body_8bit && (caps & MTA_CAP_8BITMIME))
		buf_puts(&line, " BODY=8BITMIME");
	if (job->smtputf8)
		buf_puts(&line, " SMTPUTF8");
	if (job->requiretls)
		buf_puts(&line, " REQUIRETLS");
	if (caps & MTA_CAP_DSN) {
		if (job->ret && (strcasecmp(job->ret, "FULL") == 0 || strcasecmp(job->ret, "HDRS") == 0))
			buf_printf(&line, " RET=%s", job->ret);
		if (job->envid && *job->envid) {
			buf_puts(&line, " ENVID=");
			mta_xtext_append(&line, job->envid, strlen(job->envid));
		}
	}
	send_buf(s, &line, false);
	buf_free(&line);
	s->state = MTA_S_MAIL;
	s->stage = "sending MAIL FROM";
	expect(s, 1);
	if (caps & MTA_CAP_PIPELINING) {
		while (send_next_rcpt(s))
			;
		if (!(caps & MTA_CAP_CHUNKING))
			send_data_cmd(s);
		s->stage = "sending MAIL FROM";
	}
}

static void start_body(struct mta_session *s, bool bdat);

/* Every RCPT sent so far has its reply: more RCPTs, DATA, BDAT, or the end. */
static void after_rcpts(struct mta_session *s)
{
	if (!(s->caps.flags & MTA_CAP_PIPELINING) && s->mail_ok && send_next_rcpt(s))
		return;
	if (s->data_sent) {     /* pipelined: its reply is next */
		s->state = MTA_S_DATA;
		s->stage = "sending DATA command";
		return;
	}
	if (!s->mail_ok || s->naccepted == 0) {
		end_job(s, MTA_END_DONE, KEEP);     /* need_rset says whether the server has a transaction open */
		return;
	}
	if (s->caps.flags & MTA_CAP_CHUNKING) {
		start_body(s, true);
		return;
	}
	send_data_cmd(s);
	s->state = MTA_S_DATA;
	s->stage = "sending DATA command";
}

static void on_mail_reply(struct mta_session *s, const struct mta_reply *r)
{
	char text[MTA_REPLY_TEXT_MAX];
	if (r->code == 421 && s->reused) {
		/* A cached connection the server had given up on: start afresh, once. */
		s->broken = true;
		mta_reply_join(r, text, sizeof text);
		mta_delivery_error(s->d, MTA_DEFERRED, r->enhanced, text, true);
		end_job(s, MTA_END_RETRY, CLOSE);
		return;
	}
	s->mail_done = true;
	if (r->code / 100 == 2) {
		s->mail_ok = true;
		s->need_rset = true;
		s->stage = "sending RCPT TO";
		if (s->rcpt_sent == 0)
			after_rcpts(s);
		return;
	}
	mta_reply_join(r, text, sizeof text);
	if (r->code / 100 == 3)     /* not a reply MAIL can have */
		mta_rcpt_result_all(s->d, MTA_DEFERRED, "4.5.0", text, true);
	else
		mta_rcpt_result_all(s->d, reply_result(r->code), r->enhanced, text, true);
	if (r->code == 421) {
		end_job(s, MTA_END_DONE, CLOSE);
		return;
	}
	/* Pipelined: the RCPT and DATA replies are still to come. */
	if (s->rcpt_sent == 0)
		after_rcpts(s);
}

static void on_rcpt_reply(struct mta_session *s, const struct mta_reply *r)
{
	struct mta_delivery *d = s->d;
	size_t i = s->rcpt_idx[s->rcpt_replied++];
	if (s->mail_ok && d->rstate[i] == MTA_RS_PENDING) {
		if (r->code / 100 == 2) {
			d->rstate[i] = MTA_RS_ACCEPTED;
			s->naccepted++;
		} else {
			char text[MTA_REPLY_TEXT_MAX], status[16];
			mta_reply_join(r, text, sizeof text);
			snprintf(status, sizeof status, "%s", r->enhanced);
			enum mta_result res = r->code >= 500 ? MTA_BOUNCED : MTA_DEFERRED;
			/* RFC 5321 §4.5.3.1.10: 552 to RCPT means too many recipients, a temporary failure. */
			if (r->code == 552) {
				res = MTA_DEFERRED;
				status[0] = '4';
			}
			if (r->code / 100 == 3) {
				res = MTA_DEFERRED;
				snprintf(status, sizeof status, "4.5.0");
			}
			mta_rcpt_result(d, i, res, status, text, true);
		}
	}
	if (s->rcpt_replied == s->rcpt_sent)
		after_rcpts(s);
}

static void on_mail_group(struct mta_session *s, const struct mta_reply *r)
{
	if (!s->mail_done)
		on_mail_reply(s, r);
	else if (s->rcpt_replied < s->rcpt_sent)
		on_rcpt_reply(s, r);
	else
		session_abort(s, "4.4.2", "protocol error with %s[%s] while %s: unexpected reply", s->addr.host,
			      s->addr.ip, s->stage);
}

static void on_data(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code == 354) {
		if (s->naccepted == 0) {
			/* Pipelined DATA accepted though no recipient was: an empty end, no message. */
			s->discard = true;
			bufferevent_write(s->bev, ".\r\n", 3);
			s->state = MTA_S_DOT;
			s->stage = "sending end of data";
			expect(s, 1);
			return;
		}
		start_body(s, false);
		return;
	}
	if (s->naccepted > 0) {
		char text[MTA_REPLY_TEXT_MAX];
		mta_reply_join(r, text, sizeof text);
		if (r->code / 100 == 2)
			accepted_result(s, MTA_DEFERRED, "4.5.0", text, true);
		else
			accepted_result(s, reply_result(r->code), r->enhanced, text, true);
	}
	end_job(s, MTA_END_DONE, KEEP);
}

static void on_dot(struct mta_session *s, const struct mta_reply *r)
{
	s->need_rset = false;   /* after the end of data the transaction is over, whatever the reply */
	if (!s->discard) {
		char text[MTA_REPLY_TEXT_MAX];
		mta_reply_join(r, text, sizeof text);
		if (r->code / 100 == 3)
			accepted_result(s, MTA_DEFERRED, "4.5.0", text, true);
		else
			accepted_result(s, reply_result(r->code), r->enhanced, text, true);
	}
	end_job(s, MTA_END_DONE, KEEP);
}

static void on_bdat(struct mta_session *s, const struct mta_reply *r)
{
	s->bdat_inflight--;
	if (r->code / 100 != 2 && !s->bdat_failed) {
		s->bdat_failed = true;
		s->bdat_fail_code = r->code;
		snprintf(s->bdat_fail_status, sizeof s->bdat_fail_status, "%s", r->enhanced);
		mta_reply_join(r, s->bdat_fail_reply, sizeof s->bdat_fail_reply);
		if (r->code / 100 == 3)
			snprintf(s->bdat_fail_status, sizeof s->bdat_fail_status, "4.5.0");
	}
	if (s->bdat_inflight > 0) {
		if (!s->bdat_failed)
			pump_bdat(s);       /* the window has room again */
		return;
	}
	if (s->bdat_failed) {
		/* RFC 3030: the transaction failed; nothing more is sent, and RSET before the next. */
		accepted_result(s, s->bdat_fail_code >= 500 ? MTA_BOUNCED : MTA_DEFERRED, s->bdat_fail_status,
				s->bdat_fail_reply, true);
		end_job(s, MTA_END_DONE, KEEP);
		return;
	}
	if (s->body_end) {
		char text[MTA_REPLY_TEXT_MAX];
		mta_reply_join(r, text, sizeof text);
		s->need_rset = false;
		accepted_result(s, MTA_SENT, r->enhanced, text, true);
		end_job(s, MTA_END_DONE, KEEP);
		return;
	}
	pump_bdat(s);
}

/* ---- the message ------------------------------------------------------------------ */

static void file_error(struct mta_session *s, int err)
{
	char why[1024];
	struct mta_delivery *d = s->d;
	snprintf(why, sizeof why, "error reading the message file: %s",
		 err ? strerror(err) : "shorter than its recorded size");
	log_error("mta", "session=%s queue_id=%s msg=\"cannot read the message file\" path=%s error=%s", s->id,
		  lq(qid(s)), lq(d->job->path), lq(why));
	s->broken = true;
	mta_rcpt_result_all(d, MTA_DEFERRED, "4.3.0", why, false);
	end_job(s, MTA_END_DONE, CLOSE);
}

/* Octets of the message as it goes: the file's, or its 7-bit form's. */
static uint64_t message_size(const struct mta_session *s)
{
	return s->use_downgraded ? s->downgraded_size : s->d->job->size;
}

/*
 * An 8-bit message for a peer without 8BITMIME (RFC 6152 §3): convert it
 * to 7 bits (downgrade.h) into s->downgraded, which the body is then sent
 * from.  The whole message is mapped for the MIME parser — it is at most
 * about max_message_size, and the conversion at most MTA_DOWNGRADE_MAX of
 * it — and the map goes again before returning.  False when the session
 * was ended: the file cannot be read, or 8-bit content lies beyond the
 * MIME nesting limits (Postfix refuses that too, 5.6.0; another host may
 * offer 8BITMIME, so the next is tried and this one's reason bounces only
 * when none is left).  A DKIM signature over a re-encoded part breaks;
 * accepted, as in Postfix.
 */
static bool downgrade_message(struct mta_session *s)
{
	const struct mta_job *job = s->d->job;
	struct stat st;
	if (job->size == 0)
		return true;
	if (fstat(s->d->fd, &st) < 0 || job->size > SIZE_MAX / 4 || job->offset > UINT64_MAX - job->size ||
	    (uint64_t)st.st_size < job->offset + job->size) {
		file_error(s, errno);
		return false;
	}
	size_t maplen = (size_t)(job->offset + job->size);
	void *map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, s->d->fd, 0);
	if (map == MAP_FAILED) {
		file_error(s, errno);
		return false;
	}
	struct mta_downgrade_result res;
	buf_reset(&s->downgraded);
	bool changed = mta_downgrade((const char *)map + job->offset, (size_t)job->size, &s->downgraded, &res);
	munmap(map, maplen);
	if (res.too_deep) {
		char why[1024];
		buf_free(&s->downgraded);
		snprintf(why, sizeof why, "MIME nesting or part count exceeds safety limit: the 8-bit message cannot be converted "
			 "to 7bit for host %s[%s], which does not offer 8BITMIME", s->addr.host, s->addr.ip);
		log_info("mta", "session=%s queue_id=%s msg=\"8-bit message to a host without 8BITMIME, not convertible\" "
			 "relay=%s reason=%s", s->id, lq(qid(s)), lq(s->relay), lq(why));
		mta_delivery_error(s->d, MTA_BOUNCED, "5.6.0", why, false);
		end_job(s, MTA_END_NEXT, QUIT);
		return false;
	}
	log_info("mta", "session=%s queue_id=%s msg=\"8-bit message to a host without 8BITMIME, %s\" relay=%s "
		 "size=%llu downgraded_size=%zu parts_encoded=%zu parts_relabelled=%zu header_8bit=%s residual_8bit=%s",
		 s->id, lq(qid(s)), changed ? "downgraded to 7bit" : "no 8-bit body data, sent unchanged", lq(s->relay),
		 (unsigned long long)job->size, changed ? s->downgraded.len : (size_t)job->size, res.parts_encoded,
		 res.parts_relabelled, res.header_8bit ? "yes" : "no", res.residual_8bit ? "yes" : "no");
	if (changed) {
		s->use_downgraded = true;
		s->downgraded_size = s->downgraded.len;
	} else {
		buf_free(&s->downgraded);
	}
	return true;
}

/* Read up to want octets of the message at body_pos into s->chunk. */
static ssize_t read_chunk(struct mta_session *s, size_t want)
{
	const struct mta_job *job = s->d->job;
	ssize_t n;
	if (s->use_downgraded) {
		size_t left = s->downgraded.len - (size_t)s->body_pos;
		n = (ssize_t)(want < left ? want : left);
		if (n > 0)
			memcpy(s->chunk, s->downgraded.data + s->body_pos, (size_t)n);
		else
			errno = 0;
		return n;
	}
	do
		n = pread(s->d->fd, s->chunk, want, (off_t)(job->offset + s->body_pos));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = 0;
	return n;
}

static void start_body(struct mta_session *s, bool bdat)
{
	mta_body_init(&s->enc, !bdat);
	if (!s->chunk)
		s->chunk = xmalloc(MTA_CHUNK);
	bufferevent_setwatermark(s->bev, EV_WRITE, MTA_OUT_LOW, 0);
	write_timeout(s, true);
	s->body_pos = 0;
	s->body_end = false;
	if (bdat) {
		s->state = MTA_S_BDAT;
		s->stage = "sending message body";
		pump_bdat(s);
	} else {
		s->state = MTA_S_BODY;
		s->stage = "sending message body";
		pump_data(s);
	}
}

/* DATA: encode and queue chunks while the output is below the high-water mark. */
static void pump_data(struct mta_session *s)
{
	while (!s->closed && !s->body_end) {
		struct evbuffer *out = bufferevent_get_output(s->bev);
		if (evbuffer_get_length(out) >= MTA_OUT_HIGH)
			return;
		uint64_t left = message_size(s) - s->body_pos;
		buf_reset(&s->out);
		if (left == 0) {
			mta_body_finish(&s->enc, &s->out);
			evbuffer_add(out, s->out.data, s->out.len);
			s->body_end = true;
			buf_free(&s->downgraded);       /* all of it is in the output buffer */
			/* Told when all of it is out, to start the reply's deadline from there. */
			bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
			s->state = MTA_S_DOT;
			expect(s, 1);
			process_input(s);
			return;
		}
		ssize_t n = read_chunk(s, left < MTA_CHUNK ? (size_t)left : MTA_CHUNK);
		if (n <= 0) {
			file_error(s, errno);
			return;
		}
		s->body_pos += (uint64_t)n;
		mta_body_encode(&s->enc, s->chunk, (size_t)n, &s->out);
		evbuffer_add(out, s->out.data, s->out.len);
	}
}

/* BDAT: chunks while the window (1, or MTA_BDAT_WINDOW with PIPELINING) and the output allow. */
static void pump_bdat(struct mta_session *s)
{
	unsigned window = (s->caps.flags & MTA_CAP_PIPELINING) ? MTA_BDAT_WINDOW : 1;
	bool sent = false;
	while (!s->closed && !s->body_end && !s->bdat_failed && s->bdat_inflight < window) {
		struct evbuffer *out = bufferevent_get_output(s->bev);
		if (evbuffer_get_length(out) >= MTA_OUT_HIGH)
			break;
		uint64_t left = message_size(s) - s->body_pos;
		size_t want = left < MTA_CHUNK ? (size_t)left : MTA_CHUNK;
		ssize_t n = 0;
		if (want) {
			n = read_chunk(s, want);
			if (n <= 0) {
				file_error(s, errno);
				return;
			}
		}
		s->body_pos += (uint64_t)n;
		buf_reset(&s->out);
		mta_body_encode(&s->enc, s->chunk, (size_t)n, &s->out);
		bool last = s->body_pos == message_size(s);
		if (last)
			mta_body_finish(&s->enc, &s->out);
		evbuffer_add_printf(out, "BDAT %zu%s\r\n", s->out.len, last ? " LAST" : "");
		evbuffer_add(out, s->out.data, s->out.len);
		log_debug("mta", "session=%s send=\"BDAT %zu%s\"", s->id, s->out.len, last ? " LAST" : "");
		s->bdat_inflight++;
		expect(s, 1);
		sent = true;
		if (last) {
			s->body_end = true;
			buf_free(&s->downgraded);       /* all of it is in the output buffer */
			bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);   /* on_write when all is out */
		}
	}
	if (sent && !s->closed)
		process_input(s);
}

/* ---- reuse ----------------------------------------------------------------------- */

void mta_session_start_job(struct mta_session *s, struct mta_delivery *d)
{
	evtimer_del(s->timer);
	s->d = d;
	d->session = s;
	s->reused = true;
	snprintf(d->job->relay, sizeof d->job->relay, "%s", s->relay);
	d->job->tls = s->tls;
	d->tls_known = true;
	d->tls_mode = s->policy->mode;
	d->tls_outcome = s->tls_outcome;
	log_debug("mta", "session=%s queue_id=%s msg=\"reusing connection\" relay=%s", s->id, lq(qid(s)), lq(s->relay));
	start_transaction(s);
}
