/*
 * authcmd.c — SMTP AUTH (RFC 4954) on the submission roles.
 *
 * The SASL exchange is src/auth/sasl.c; the password check runs on the
 * auth pool and reports back through smtp_post().  A failed attempt is
 * answered only after the throttle's delay, and the answer is the same
 * whether or not the account exists.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

void smtp_auth_cleanup(struct smtp_session *s)
{
	sasl_free(&s->sasl);
	if (s->areq) {
		auth_request_clear(s->areq);
		XFREE(&s->areq);
	}
}

static void auth_delay_over(struct conn *c)
{
	struct smtp_session *s = c->session;
	s->busy = BUSY_NONE;
	smtp_reply_error(s, 535, "5.7.8", "Authentication credentials invalid");
	smtp_process(s);
}

static void auth_finished(struct smtp_session *s)
{
	struct auth_request *r = s->areq;
	s->areq = NULL;
	s->busy = BUSY_NONE;
	if (!s->c) {   /* orphan */
		auth_request_clear(r);
		free(r);
		return;
	}
	if (r->ok) {
		s->authenticated = true;
		s->account_id = r->account_id;
		snprintf(s->auth_user, sizeof s->auth_user, "%s", r->address);
		log_info("smtp", "session=%s msg=\"auth ok\" user=%s ip=%s", s->c->id, lq(r->address), s->c->peer_ip);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		auth_request_clear(r);
		free(r);
		smtp_process(s);
		return;
	}
	s->auth_failures++;
	log_info("smtp", "session=%s msg=\"auth failed\" user=%s ip=%s delay_ms=%llu",
		 s->c->id, lq(r->user), s->c->peer_ip, (unsigned long long)r->delay_ms);
	uint64_t delay = r->delay_ms;
	auth_request_clear(r);
	free(r);
	if (delay) {
		s->busy = BUSY_DELAY;
		conn_timer(s->c, delay, auth_delay_over);
		return;
	}
	auth_delay_over(s->c);
}

static void auth_done_on_worker(struct auth_request *r)
{
	smtp_post(r->arg, auth_finished);
}

/* The SASL exchange is complete: check the credentials asynchronously. */
static void verify(struct smtp_session *s)
{
	struct auth_request *r = auth_request_new(s->c->peer_ip, sasl_authzid(s->sasl), sasl_authcid(s->sasl),
						  sasl_password(s->sasl), sasl_password_len(s->sasl),
						  auth_done_on_worker, s);
	sasl_free(&s->sasl);
	s->areq = r;
	s->busy = BUSY_AUTH;
	s->state = ST_READY;
	auth_verify(s->srv->auth, r);
}

static void step(struct smtp_session *s, const char *in, size_t len)
{
	struct buf challenge = BUF_INIT;
	switch (sasl_step(s->sasl, in, len, &challenge)) {
	case SASL_CHALLENGE:
		s->state = ST_AUTH;
		smtp_reply(s, 334, "", "%s", buf_cstr(&challenge));
		break;
	case SASL_DONE:
		verify(s);
		break;
	case SASL_BAD:
		sasl_free(&s->sasl);
		s->state = ST_READY;
		smtp_reply_error(s, 501, "5.5.2", "Cannot decode AUTH response");
		break;
	}
	buf_free(&challenge);
}

void smtp_cmd_auth(struct smtp_session *s, const char *args, size_t len)
{
	if (!smtp_is_submission(s)) {
		smtp_reply_error(s, 503, "5.5.1", "Authentication not enabled");
		return;
	}
	if (!s->c->tls && !s->srv->cfg->auth.allow_plaintext) {
		smtp_reply_error(s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
		return;
	}
	if (s->state == ST_FRESH) {
		smtp_reply_error(s, 503, "5.5.1", "Send EHLO first");
		return;
	}
	if (s->authenticated) {
		smtp_reply_error(s, 503, "5.5.1", "Already authenticated");
		return;
	}
	if (s->state != ST_READY) {
		smtp_reply_error(s, 503, "5.5.1", "AUTH not allowed during a mail transaction");
		return;
	}
	const char *sp = memchr(args, ' ', len);
	size_t mlen = sp ? (size_t)(sp - args) : len;
	if (mlen == 0) {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	s->sasl = sasl_new(args, mlen);
	if (!s->sasl) {
		smtp_reply_error(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	if (sp)
		step(s, sp + 1, len - mlen - 1);
	else
		step(s, NULL, 0);
}

void smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	if (!line) {
		sasl_free(&s->sasl);
		s->state = ST_READY;
		smtp_reply_error(s, 500, "5.5.6", "Authentication exchange line is too long");
		return;
	}
	if (len == 1 && line[0] == '*') {
		sasl_free(&s->sasl);
		s->state = ST_READY;
		smtp_reply_error(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	step(s, line, len);
}
