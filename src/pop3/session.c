/*
 * session.c — POP3 session lifecycle, the input loop, replies and the
 * server object.
 *
 * pop3_process() is the one place input is read: it sends more of a
 * multi-line response in progress, or reads the next command line and
 * dispatches it, in order, until input runs out, output backs up, or a
 * password check makes the session busy.  Completions call it again.
 *
 * The idle timer is ours rather than the connection's read/write timeouts:
 * a RETR of a large message to a slow client may take longer than ten
 * minutes without the client sending anything, which is not idleness.
 * Activity is a complete command line or a response making progress;
 * stray octets that never make a line are not.  The timer fires at the
 * latest idle_timeout_ms (POP3_TIMEOUT_MS) after the last activity.  RFC 1939 §3: a
 * timed-out session closes without a reply and without entering UPDATE.
 *
 * Before login the same timer also enforces an absolute deadline,
 * prelogin_timeout_ms (POP3_PRELOGIN_TIMEOUT_MS) from connect, that no
 * activity extends: a client trickling commands or stalling a USER/PASS or
 * AUTH exchange is closed then, with a "-ERR" first.
 */
#include "pop3/pop3.h"
#include "pop3/session.h"
#include "net/loop.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char busy_reply[] = "-ERR [SYS/TEMP] Too many connections from your address, try again later\r\n";

static void vreply(struct pop3_session *s, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void vreply(struct pop3_session *s, const char *fmt, va_list ap)
{
	if (!s->c)
		return;
	struct buf b = BUF_INIT;
	buf_vprintf(&b, fmt, ap);
	log_debug("pop3", "session=%s reply=%s", s->c->id, lq(buf_cstr(&b)));
	buf_puts(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

void pop3_error(struct pop3_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "-ERR ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pop3_reply(s, "%s", b.data);
	buf_free(&b);
	if (s->c && !s->quit && ++s->errors >= POP3_MAX_ERRORS) {
		log_info("pop3", "session=%s msg=\"too many errors\" ip=%s errors=%u", s->c->id, s->c->peer_ip, s->errors);
		pop3_reply(s, "-ERR Too many errors, closing connection");
		pop3_close(s);
	}
}

void pop3_close(struct pop3_session *s)
{
	s->quit = true;
	if (s->c)
		conn_close(s->c);
}

struct store *pop3_store(struct pop3_session *s)
{
	return s->srv->stores[loop_index(s->loop)];
}

bool pop3_plaintext_ok(const struct pop3_session *s)
{
	return s->c->tls || s->srv->cfg->auth.allow_plaintext;
}

static void session_free(struct pop3_session *s)
{
	pop3_send_cleanup(s);
	pop3_auth_cleanup(s);
	pop3_maildrop_close(&s->drop);
	buf_free(&s->line);
	free(s);
}

struct post_ctx {
	struct pop3_session *s;
	void (*fn)(struct pop3_session *s);
};

static void run_posted(void *arg)
{
	struct post_ctx *p = arg;
	struct pop3_session *s = p->s;
	void (*fn)(struct pop3_session *) = p->fn;
	free(p);
	fn(s);
	if (s->orphan && s->busy == BUSY_NONE)
		session_free(s);
}

void pop3_post(struct pop3_session *s, void (*fn)(struct pop3_session *s))
{
	struct post_ctx *p = xmalloc(sizeof *p);
	p->s = s;
	p->fn = fn;
	loop_post(s->loop, run_posted, p);
}

static void session_timer(struct conn *c);

/* Arm the connection's timer for the next idle timeout or, before login, the login deadline. */
static void arm_timer(struct pop3_session *s, uint64_t now)
{
	uint64_t idle = now - s->last_active;
	uint64_t wait = idle < s->srv->idle_timeout_ms ? s->srv->idle_timeout_ms - idle : 0;
	if (s->state != ST_TRANSACTION) {
		uint64_t left = s->login_deadline > now ? s->login_deadline - now : 0;
		if (left < wait)
			wait = left;
	}
	conn_timer(s->c, wait, session_timer);
}

static void session_timer(struct conn *c)
{
	struct pop3_session *s = c->session;
	uint64_t now = now_ms();
	if (s->state != ST_TRANSACTION && now >= s->login_deadline) {
		/* Not an autologout (nothing to keep or delete yet): say why, as Dovecot does. */
		log_info("pop3", "session=%s msg=\"login timeout\" ip=%s timeout_ms=%llu", c->id, c->peer_ip,
			 (unsigned long long)s->srv->prelogin_timeout_ms);
		pop3_reply(s, "-ERR Disconnected, no login in time");
		pop3_close(s);
		return;
	}
	if (now - s->last_active < s->srv->idle_timeout_ms) {
		arm_timer(s, now);
		return;
	}
	log_info("pop3", "session=%s msg=\"idle timeout\" ip=%s user=%s", c->id, c->peer_ip,
		 lq(s->state == ST_TRANSACTION ? s->user : "-"));
	pop3_close(s);
}

void pop3_idle_timer(struct pop3_session *s)
{
	s->last_active = now_ms();
	arm_timer(s, s->last_active);
}

/* Which commands each state accepts (RFC 1939 §4–6, RFC 2449, RFC 2595, RFC 5034). */
static bool allowed(enum pop3_state state, enum pop3_verb verb)
{
	switch (verb) {
	case POP3_CAPA:
	case POP3_QUIT:
	case POP3_NOOP:
		return true;
	case POP3_USER:
	case POP3_PASS:
	case POP3_APOP:
	case POP3_AUTH:
	case POP3_STLS:
		return state == ST_AUTHORIZATION;
	case POP3_STAT:
	case POP3_LIST:
	case POP3_RETR:
	case POP3_DELE:
	case POP3_RSET:
	case POP3_TOP:
	case POP3_UIDL:
		return state == ST_TRANSACTION;
	case POP3_UNKNOWN:
		break;
	}
	return false;
}

static void dispatch(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_cmd cmd;
	bool ok = pop3_parse_command(line, len, &cmd);
	if (cmd.verb != POP3_AUTH && len + 2 > POP3_LINE_MAX) {
		pop3_error(s, "Line too long");
		return;
	}
	if (cmd.verb == POP3_UNKNOWN) {
		pop3_error(s, "Unknown command");
		return;
	}
	if (!allowed(s->state, cmd.verb)) {
		pop3_error(s, "%s not allowed %s", pop3_verb_name(cmd.verb),
			   s->state == ST_TRANSACTION ? "after login" : "before login");
		return;
	}
	if (!ok) {
		pop3_error(s, "%s", cmd.error);
		return;
	}
	switch (cmd.verb) {
	case POP3_USER: pop3_cmd_user(s, &cmd); break;
	case POP3_PASS: pop3_cmd_pass(s, &cmd); break;
	case POP3_AUTH: pop3_cmd_auth(s, &cmd); break;
	case POP3_APOP:
		pop3_error(s, "APOP not supported, use USER/PASS or AUTH");
		break;
	case POP3_STLS: pop3_cmd_stls(s); break;
	case POP3_CAPA: pop3_cmd_capa(s); break;
	case POP3_QUIT: pop3_cmd_quit(s); break;
	case POP3_RETR:
	case POP3_TOP:
		pop3_cmd_retr(s, &cmd);
		break;
	case POP3_STAT:
	case POP3_LIST:
	case POP3_UIDL:
	case POP3_DELE:
	case POP3_RSET:
	case POP3_NOOP:
		pop3_cmd_transaction(s, &cmd);
		break;
	case POP3_UNKNOWN:
		break;
	}
}

static bool is_secret(const char *line, size_t len, enum pop3_state state)
{
	return state == ST_SASL || ascii_iprefix(line, len, "PASS") || ascii_iprefix(line, len, "AUTH") ||
	       ascii_iprefix(line, len, "APOP");
}

void pop3_process(struct pop3_session *s)
{
	while (s->c && !s->quit && s->busy == BUSY_NONE) {
		if (s->send.kind != SEND_NONE) {
			s->last_active = now_ms();
			if (!pop3_send_step(s)) {
				if (s->c && !s->quit)
					conn_notify_drained(s->c);
				return;
			}
			continue;
		}
		if (conn_output_pending(s->c) > POP3_OUTPUT_MAX) {
			conn_notify_drained(s->c);
			return;
		}
		if (s->shutting_down) {
			pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
			pop3_close(s);
			return;
		}
		enum conn_line r = conn_read_line(s->c, POP3_AUTH_LINE_MAX, &s->line);
		if (r == CONN_LINE_NONE)
			return;
		s->last_active = now_ms();
		if (r == CONN_LINE_TOOLONG) {
			if (s->state == ST_SASL)
				pop3_auth_line(s, NULL, 0);
			else
				pop3_error(s, "Line too long");
			continue;
		}
		if (s->state == ST_SASL) {
			pop3_auth_line(s, s->line.data, s->line.len);
			continue;
		}
		if (memchr(s->line.data, '\0', s->line.len)) {
			pop3_error(s, "NUL in command");
			continue;
		}
		log_debug("pop3", "session=%s command=%s", s->c->id,
			  lq(is_secret(s->line.data, s->line.len, s->state) ? "(credentials)" : s->line.data));
		dispatch(s, s->line.data, s->line.len);
	}
}

/* ---- conn_handler callbacks --------------------------------------------- */

static void on_open(struct conn *c)
{
	struct pop3_server *srv = c->h->ctx;
	struct pop3_session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->c = c;
	s->loop = c->loop;
	s->send.fd = -1;
	c->session = s;
	s->login_deadline = now_ms() + srv->prelogin_timeout_ms;
	/* No APOP timestamp in the greeting: APOP is not offered. */
	pop3_reply(s, "+OK %s POP3 server ready", srv->cfg->hostname);
	pop3_idle_timer(s);
}

static void on_read(struct conn *c)
{
	pop3_process(c->session);
}

static void on_drained(struct conn *c)
{
	pop3_process(c->session);
}

static void on_tls_ready(struct conn *c)
{
	struct pop3_session *s = c->session;
	/* RFC 2595 §4: after STLS the client starts over, without what it said before. */
	s->have_user = false;
	pop3_process(s);
}

static void on_shutdown(struct conn *c)
{
	struct pop3_session *s = c->session;
	s->shutting_down = true;
	/* A password check or a response in progress finishes first; pop3_process says goodbye. */
	if (s->busy != BUSY_NONE || s->send.kind != SEND_NONE)
		return;
	pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
	pop3_close(s);
}

static void on_closed(struct conn *c, enum conn_end why)
{
	struct pop3_session *s = c->session;
	if (!s)
		return;
	c->session = NULL;
	log_info("pop3", "session=%s msg=end user=%s retrieved=%u deleted=%u quit=%s",
		 c->id, lq(s->state == ST_TRANSACTION ? s->user : "-"), s->retrieved, s->deleted,
		 s->quit ? "yes" : "no");
	/*
	 * However the session ends, what was retrieved is \Seen (RFC 1939 §3:
	 * without QUIT no UPDATE, so DELE-marked messages stay, and get it too).
	 * After a QUIT this finds nothing left to do.
	 */
	if (s->state == ST_TRANSACTION)
		pop3_record_seen(s, false);
	s->c = NULL;
	/* The maildrop lock goes now, whatever is still in flight. */
	pop3_send_cleanup(s);
	pop3_maildrop_close(&s->drop);
	if (s->busy == BUSY_AUTH) {
		s->orphan = true;
		return;
	}
	session_free(s);
}

/* ---- the server --------------------------------------------------------- */

struct pop3_server *pop3_server_new(const struct config *cfg, struct store_writer *writer,
				    struct auth_pool *auth, size_t nloops)
{
	(void)writer;
	struct pop3_server *srv = xcalloc(1, sizeof *srv);
	srv->cfg = cfg;
	srv->auth = auth;
	srv->idle_timeout_ms = POP3_TIMEOUT_MS;
	srv->prelogin_timeout_ms = POP3_PRELOGIN_TIMEOUT_MS;
	srv->nstores = nloops;
	srv->stores = store_open_per_loop(cfg->data_dir, nloops);
	if (!srv->stores) {
		pop3_server_free(&srv);
		return NULL;
	}
	static const char *const names[2] = { "pop3", "pop3s" };
	for (int i = 0; i < 2; i++) {
		struct conn_handler *h = &srv->handlers[i];
		h->name = names[i];
		h->ctx = srv;
		/* The config's one per-address limit (it counts every protocol's connections). */
		h->max_per_ip = cfg->smtp.max_connections_per_ip;
		h->busy_reply = busy_reply;
		h->timeout_ms = 0;      /* our own idle timer, see the top of this file */
		h->open = on_open;
		h->read = on_read;
		h->tls_ready = on_tls_ready;
		h->drained = on_drained;
		h->shutdown = on_shutdown;
		h->timeout = NULL;
		h->closed = on_closed;
	}
	return srv;
}

const struct conn_handler *pop3_handler(struct pop3_server *srv, enum listen_role role)
{
	switch (role) {
	case ROLE_POP3: return &srv->handlers[0];
	case ROLE_POP3S: return &srv->handlers[1];
	default: return NULL;
	}
}

void pop3_server_free(struct pop3_server **psrv)
{
	struct pop3_server *srv = *psrv;
	if (!srv)
		return;
	store_close_per_loop(&srv->stores, srv->nstores);
	free(srv);
	*psrv = NULL;
}
