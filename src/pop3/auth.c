/*
 * auth.c — POP3 login: USER/PASS (RFC 1939 §7) and AUTH (RFC 5034), then
 * opening the maildrop.
 *
 * Both end in the same password check on the auth pool (src/auth/), which
 * reports back through pop3_post().  A failed attempt is answered only
 * after the throttle's delay, with the same "-ERR [AUTH]" whether or not
 * the account exists.  Neither is accepted before TLS unless the config
 * allows plaintext (RFC 2595 §4).  A correct password for a maildrop that
 * another session holds gets "-ERR [IN-USE]" (RFC 2449 §8.1.1) and the
 * session stays in AUTHORIZATION.
 */
#include "pop3/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAINTEXT_REFUSED "[AUTH] Plaintext authentication disallowed without TLS, use STLS or port 995"

void pop3_auth_cleanup(struct pop3_session *s)
{
	sasl_free(&s->sasl);
	if (s->areq) {
		auth_request_clear(s->areq);
		XFREE(&s->areq);
	}
}

static void delay_over(struct conn *c)
{
	struct pop3_session *s = c->session;
	s->busy = BUSY_NONE;
	pop3_idle_timer(s);     /* the connection's one timer served the delay */
	pop3_error(s, "[AUTH] Authentication failed");
	pop3_process(s);
}

/* The credentials were right: lock the maildrop and take its snapshot. */
static void login(struct pop3_session *s, const struct auth_request *r)
{
	switch (pop3_maildrop_open(&s->drop, pop3_store(s), r->account_id)) {
	case POP3_OPEN_OK:
		break;
	case POP3_OPEN_INUSE:
		log_info("pop3", "session=%s msg=\"maildrop in use\" user=%s ip=%s", s->c->id, lq(r->address),
			 s->c->peer_ip);
		pop3_reply(s, "-ERR [IN-USE] Maildrop already in use by another session");
		return;
	case POP3_OPEN_FAILED:
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the maildrop, try again later");
		return;
	}
	s->state = ST_TRANSACTION;
	s->account_id = r->account_id;
	snprintf(s->user, sizeof s->user, "%s", r->address);
	log_info("pop3", "session=%s msg=login user=%s ip=%s messages=%zu size=%llu", s->c->id, lq(r->address),
		 s->c->peer_ip, s->drop.n, (unsigned long long)s->drop.size);
	pop3_reply(s, "+OK Logged in, %zu messages (%llu octets)", s->drop.n, (unsigned long long)s->drop.size);
}

static void auth_finished(struct pop3_session *s)
{
	struct auth_request *r = s->areq;
	s->areq = NULL;
	s->busy = BUSY_NONE;
	if (!s->c) {   /* orphan: run_posted frees the session */
		auth_request_clear(r);
		free(r);
		return;
	}
	if (r->ok) {
		login(s, r);
		auth_request_clear(r);
		free(r);
		pop3_process(s);
		return;
	}
	log_info("pop3", "session=%s msg=\"auth failed\" user=%s ip=%s delay_ms=%llu", s->c->id, lq(r->user),
		 s->c->peer_ip, (unsigned long long)r->delay_ms);
	uint64_t delay = r->delay_ms;
	auth_request_clear(r);
	free(r);
	if (delay) {
		s->busy = BUSY_DELAY;
		conn_timer(s->c, delay, delay_over);
		return;
	}
	delay_over(s->c);
}

static void auth_done_on_worker(struct auth_request *r)
{
	pop3_post(r->arg, auth_finished);
}

/* Check user/password on the auth pool; the password is copied (and wiped later). */
static void verify(struct pop3_session *s, const char *authzid, const char *user, const char *password,
		   size_t password_len)
{
	struct auth_request *r = auth_request_new(s->c->peer_ip, authzid, user, password, password_len,
						  auth_done_on_worker, s);
	s->areq = r;
	s->busy = BUSY_AUTH;
	s->state = ST_AUTHORIZATION;
	auth_verify(s->srv->auth, r);
}

void pop3_cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!pop3_plaintext_ok(s)) {
		pop3_error(s, PLAINTEXT_REFUSED);
		return;
	}
	/* RFC 1939 lets USER reject unknown names; answering alike reveals nothing. */
	memcpy(s->user, cmd->arg, cmd->arglen);
	s->user[cmd->arglen] = '\0';
	s->have_user = true;
	pop3_reply(s, "+OK Send PASS");
}

void pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!pop3_plaintext_ok(s)) {
		pop3_error(s, PLAINTEXT_REFUSED);
		return;
	}
	if (!s->have_user) {
		pop3_error(s, "Send USER first");
		return;
	}
	s->have_user = false;
	verify(s, "", s->user, cmd->arg, cmd->arglen);
}

static void step(struct pop3_session *s, const char *in, size_t len)
{
	struct buf challenge = BUF_INIT;
	switch (sasl_step(s->sasl, in, len, &challenge)) {
	case SASL_CHALLENGE:
		s->state = ST_SASL;
		pop3_reply(s, "+ %s", buf_cstr(&challenge));
		break;
	case SASL_DONE: {
		char authzid[320], user[320];
		snprintf(authzid, sizeof authzid, "%s", sasl_authzid(s->sasl));
		snprintf(user, sizeof user, "%s", sasl_authcid(s->sasl));
		verify(s, authzid, user, sasl_password(s->sasl), sasl_password_len(s->sasl));
		sasl_free(&s->sasl);
		break;
	}
	case SASL_BAD:
		sasl_free(&s->sasl);
		s->state = ST_AUTHORIZATION;
		pop3_error(s, "[AUTH] Cannot decode the AUTH response");
		break;
	}
	buf_free(&challenge);
}

void pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (cmd->arglen == 0) {
		/* The pre-RFC 5034 listing some clients still probe with (draft-myers-sasl-pop3). */
		struct buf b = BUF_INIT;
		buf_puts(&b, "+OK Mechanisms follow\r\n");
		if (pop3_plaintext_ok(s)) {
			const char *m = SASL_MECHANISMS;
			while (*m) {
				size_t n = strcspn(m, " ");
				buf_append(&b, m, n);
				buf_puts(&b, "\r\n");
				m += n;
				m += strspn(m, " ");
			}
		}
		buf_puts(&b, ".\r\n");
		conn_write(s->c, b.data, b.len);
		buf_free(&b);
		return;
	}
	if (!pop3_plaintext_ok(s)) {
		pop3_error(s, PLAINTEXT_REFUSED);
		return;
	}
	s->have_user = false;
	const char *sp = memchr(cmd->arg, ' ', cmd->arglen);
	size_t mlen = sp ? (size_t)(sp - cmd->arg) : cmd->arglen;
	s->sasl = sasl_new(cmd->arg, mlen);
	if (!s->sasl) {
		pop3_error(s, "Unsupported authentication mechanism");
		return;
	}
	if (sp)
		step(s, sp + 1, cmd->arglen - mlen - 1);
	else
		step(s, NULL, 0);
}

void pop3_auth_line(struct pop3_session *s, const char *line, size_t len)
{
	if (!line) {
		sasl_free(&s->sasl);
		s->state = ST_AUTHORIZATION;
		pop3_error(s, "[AUTH] Authentication exchange line is too long");
		return;
	}
	if (len == 1 && line[0] == '*') {
		sasl_free(&s->sasl);
		s->state = ST_AUTHORIZATION;
		pop3_error(s, "Authentication cancelled");
		return;
	}
	step(s, line, len);
}
