/*
 * session.c — SMTP session lifecycle, the input loop and replies.
 *
 * smtp_process() is the one place input is read: it hands DATA/BDAT bytes
 * to data.c and command lines to the command functions, in order, until
 * input runs out or something asynchronous (commit, password check) makes
 * the session busy.  The async completion calls smtp_process() again, so
 * pipelined commands are answered strictly in order.
 *
 * A connection that goes away while the session is busy leaves the session
 * "orphaned": it lives on, without a connection, until the async work
 * reports back (a commit in flight still completes and is logged).
 */
#include "smtp/session.h"
#include "smtp/smtp.h"
#include "net/loop.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "dns/dns.h"
#include "mailauth/dkim_keys.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char busy_reply[] = "421 4.7.0 Too many connections from your address, try again later\r\n";

static void vreply(struct smtp_session *s, int code, const char *enhanced, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void vreply(struct smtp_session *s, int code, const char *enhanced, const char *fmt, va_list ap)
{
	if (!s->c)
		return;
	struct buf b = BUF_INIT;
	if (*enhanced)
		buf_printf(&b, "%d %s ", code, enhanced);
	else
		buf_printf(&b, "%d ", code);
	buf_vprintf(&b, fmt, ap);
	log_debug("smtp", "session=%s reply=%s", s->c->id, lq(buf_cstr(&b)));
	buf_puts(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

void smtp_reply(struct smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, code, enhanced, fmt, ap);
	va_end(ap);
}

void smtp_reply_error(struct smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, code, enhanced, fmt, ap);
	va_end(ap);
	if (s->c && ++s->errors >= s->srv->cfg->smtp.max_errors) {
		log_info("smtp", "session=%s msg=\"too many errors\" ip=%s errors=%u", s->c->id, s->c->peer_ip, s->errors);
		smtp_reply(s, 421, "4.7.0", "%s Too many errors, closing connection", s->srv->cfg->hostname);
		smtp_close(s);
	}
}

void smtp_close(struct smtp_session *s)
{
	s->quit = true;
	if (s->c)
		conn_close(s->c);
}

struct store *smtp_store(struct smtp_session *s)
{
	return s->srv->stores[loop_index(s->loop)];
}

bool smtp_is_submission(const struct smtp_session *s)
{
	return s->c && (s->c->role == ROLE_SUBMISSION || s->c->role == ROLE_SUBMISSIONS);
}

static void session_free(struct smtp_session *s)
{
	smtp_transaction_reset(s);
	smtp_auth_cleanup(s);
	buf_free(&s->line);
	free(s);
}

static void resolver_free_at_exit(void *arg)
{
	struct dns_resolver **slot = arg;
	dns_resolver_free(slot);
}

/*
 * The resolver of the calling session's loop, made there on first use
 * (libunbound's descriptor lives on that loop's base) and freed when the
 * loop stops; NULL, logged, when it cannot be made.
 */
struct dns_resolver *smtp_resolver(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;
	unsigned i = loop_index(s->loop);
	if (i >= srv->nresolvers)
		return NULL;
	if (!srv->resolvers[i]) {
		const struct config *cfg = srv->cfg;
		srv->resolvers[i] = dns_resolver_new(loop_base(s->loop), cfg->dns.nameservers, cfg->dns.trust_anchor);
		if (srv->resolvers[i])
			loop_at_exit(resolver_free_at_exit, &srv->resolvers[i]);
	}
	return srv->resolvers[i];
}

const char *smtp_authserv_id(const struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	return cfg->mailauth.authserv_id ? cfg->mailauth.authserv_id : cfg->hostname;
}

struct post_ctx {
	struct smtp_session *s;
	void (*fn)(struct smtp_session *s);
};

static void run_posted(void *arg)
{
	struct post_ctx *p = arg;
	struct smtp_session *s = p->s;
	void (*fn)(struct smtp_session *) = p->fn;
	free(p);
	fn(s);
	if (s->orphan && s->busy == BUSY_NONE)
		session_free(s);
}

void smtp_post(struct smtp_session *s, void (*fn)(struct smtp_session *s))
{
	struct post_ctx *p = xmalloc(sizeof *p);
	p->s = s;
	p->fn = fn;
	loop_post(s->loop, run_posted, p);
}

static bool looks_like_http(const char *line, size_t len)
{
	/* A web client or proxy pointed at the SMTP port: nothing useful can follow. */
	return ascii_iprefix(line, len, "GET ") || ascii_iprefix(line, len, "POST ") ||
	       ascii_iprefix(line, len, "CONNECT ") || ascii_iprefix(line, len, "Host:");
}

static void dispatch(struct smtp_session *s, const char *line, size_t len)
{
	const char *args;
	size_t alen;
	enum smtp_verb verb = smtp_parse_verb(line, len, &args, &alen);

	if (verb != SMTP_AUTH && len + 2 > SMTP_LINE_MAX) {
		smtp_reply_error(s, 500, "5.5.2", "Line too long");
		return;
	}
	switch (verb) {
	case SMTP_HELO: smtp_cmd_helo(s, false, args, alen); break;
	case SMTP_EHLO: smtp_cmd_helo(s, true, args, alen); break;
	case SMTP_MAIL: smtp_cmd_mail(s, args, alen); break;
	case SMTP_RCPT: smtp_cmd_rcpt(s, args, alen); break;
	case SMTP_DATA: smtp_cmd_data(s, alen); break;
	case SMTP_BDAT: smtp_cmd_bdat(s, args, alen); break;
	case SMTP_AUTH: smtp_cmd_auth(s, args, alen); break;
	case SMTP_STARTTLS: smtp_cmd_starttls(s, alen); break;
	case SMTP_RSET:
	case SMTP_NOOP:
	case SMTP_QUIT:
	case SMTP_VRFY:
	case SMTP_EXPN:
	case SMTP_HELP:
		smtp_cmd_simple(s, verb, args, alen);
		break;
	case SMTP_UNKNOWN:
		if (s->transactions == 0 && s->state == ST_FRESH && looks_like_http(line, len)) {
			log_info("smtp", "session=%s msg=\"HTTP request on SMTP port\" ip=%s", s->c->id, s->c->peer_ip);
			smtp_close(s);
			return;
		}
		smtp_reply_error(s, 500, "5.5.1", "Command unrecognized");
		break;
	}
}

/*
 * A client that keeps sending without reading our replies would make the
 * output buffer grow without end: past this, input waits until it drains.
 */
#define SMTP_OUTPUT_MAX (64 * 1024)

void smtp_process(struct smtp_session *s)
{
	while (s->c && !s->quit && s->busy == BUSY_NONE) {
		if (conn_output_pending(s->c) > SMTP_OUTPUT_MAX) {
			conn_notify_drained(s->c);
			return;
		}
		if (s->shutting_down && s->state != ST_DATA && s->state != ST_BDAT) {
			smtp_reply(s, 421, "4.3.2", "%s Service shutting down", s->srv->cfg->hostname);
			smtp_close(s);
			return;
		}
		if (s->state == ST_DATA) {
			if (!smtp_data_consume(s))
				return;
			continue;
		}
		if (s->state == ST_BDAT) {
			if (!smtp_bdat_consume(s))
				return;
			continue;
		}
		/* AUTH lines may be long (RFC 4954 §4); dispatch() holds other commands to 512. */
		enum conn_line r = conn_read_line(s->c, SMTP_AUTH_LINE_MAX, &s->line);
		if (r == CONN_LINE_NONE)
			return;
		if (r == CONN_LINE_TOOLONG) {
			if (s->state == ST_AUTH)
				smtp_auth_line(s, NULL, 0);
			else
				smtp_reply_error(s, 500, "5.5.2", "Line too long");
			continue;
		}
		if (s->state == ST_AUTH) {
			smtp_auth_line(s, s->line.data, s->line.len);
			continue;
		}
		if (memchr(s->line.data, '\0', s->line.len)) {
			smtp_reply_error(s, 500, "5.5.2", "NUL in command");
			continue;
		}
		log_debug("smtp", "session=%s command=%s", s->c->id,
			  lq(ascii_iprefix(s->line.data, s->line.len, "AUTH ") ? "AUTH ..." : s->line.data));
		dispatch(s, s->line.data, s->line.len);
	}
}

/* ---- conn_handler callbacks --------------------------------------------- */

static void on_open(struct conn *c)
{
	struct smtp_server *srv = c->h->ctx;
	struct smtp_session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->c = c;
	s->loop = c->loop;
	s->spool.fd = -1;
	c->session = s;
	smtp_reply(s, 220, "", "%s ESMTP tern", srv->cfg->hostname);
}

static void on_read(struct conn *c)
{
	smtp_process(c->session);
}

static void on_drained(struct conn *c)
{
	smtp_process(c->session);
}

static void on_tls_ready(struct conn *c)
{
	struct smtp_session *s = c->session;
	/* RFC 3207 §4.2: after STARTTLS the client starts over with EHLO. */
	if (c->role != ROLE_SUBMISSIONS) {
		s->state = ST_FRESH;
		s->esmtp = false;
		s->helo[0] = '\0';
	}
	smtp_process(s);
}

static void on_shutdown(struct conn *c)
{
	struct smtp_session *s = c->session;
	s->shutting_down = true;
	if (s->busy != BUSY_NONE || s->state == ST_DATA || s->state == ST_BDAT)
		return;  /* finishes the message first; smtp_commit_done says goodbye */
	smtp_reply(s, 421, "4.3.2", "%s Service shutting down", s->srv->cfg->hostname);
	smtp_close(s);
}

static void on_timeout(struct conn *c)
{
	struct smtp_session *s = c->session;
	smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->srv->cfg->hostname);
	smtp_close(s);
}

static void on_closed(struct conn *c, enum conn_end why)
{
	struct smtp_session *s = c->session;
	if (!s)
		return;
	c->session = NULL;
	if (s->state == ST_DATA || s->state == ST_BDAT)
		log_info("smtp", "session=%s msg=\"connection lost during message\" id=%s size=%llu",
			 c->id, s->msgid, (unsigned long long)s->spool.size);
	if (s->busy == BUSY_COMMIT || s->busy == BUSY_AUTH) {
		s->orphan = true;
		s->c = NULL;
		return;
	}
	s->c = NULL;
	session_free(s);
}

/* ---- the server --------------------------------------------------------- */

struct smtp_server *smtp_server_new(const struct config *cfg, struct store_writer *writer,
				    struct auth_pool *auth, size_t nloops)
{
	struct smtp_server *srv = xcalloc(1, sizeof *srv);
	srv->cfg = cfg;
	srv->writer = writer;
	srv->auth = auth;
	srv->nstores = nloops;
	srv->stores = store_open_per_loop(cfg->data_dir, nloops);
	if (!srv->stores) {
		smtp_server_free(&srv);
		return NULL;
	}
	srv->dkim_keys = dkim_keystore_new(cfg->data_dir);
	srv->nresolvers = nloops;
	srv->resolvers = xcalloc(nloops ? nloops : 1, sizeof *srv->resolvers);
	static const char *const names[3] = { "smtp", "submission", "submissions" };
	for (int i = 0; i < 3; i++) {
		struct conn_handler *h = &srv->handlers[i];
		h->name = names[i];
		h->ctx = srv;
		h->max_per_ip = cfg->smtp.max_connections_per_ip;
		h->busy_reply = busy_reply;
		h->timeout_ms = cfg->smtp.timeout_ms;
		h->open = on_open;
		h->read = on_read;
		h->tls_ready = on_tls_ready;
		h->drained = on_drained;
		h->shutdown = on_shutdown;
		h->timeout = on_timeout;
		h->closed = on_closed;
	}
	return srv;
}

const struct conn_handler *smtp_handler(struct smtp_server *srv, enum listen_role role)
{
	switch (role) {
	case ROLE_SMTP: return &srv->handlers[0];
	case ROLE_SUBMISSION: return &srv->handlers[1];
	case ROLE_SUBMISSIONS: return &srv->handlers[2];
	default: return NULL;
	}
}

void smtp_server_free(struct smtp_server **psrv)
{
	struct smtp_server *srv = *psrv;
	if (!srv)
		return;
	store_close_per_loop(&srv->stores, srv->nstores);
	dkim_keystore_free(&srv->dkim_keys);
	free(srv->resolvers);       /* each freed by its loop as it stopped */
	free(srv);
	*psrv = NULL;
}
