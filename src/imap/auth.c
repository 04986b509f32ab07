/*
 * auth.c — the commands of the not-authenticated state and the session's
 * capabilities: CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE (SASL-IR),
 * ENABLE and ID.
 *
 * Password checks run on the auth pool (src/auth/) exactly as for SMTP: the
 * answer to a failed attempt comes after the throttle's delay and reads the
 * same whether or not the account exists.  Without TLS and without
 * allow_plaintext, LOGINDISABLED is announced and no credentials are taken.
 */
#include "imap/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool plaintext_ok(const struct imap_session *s)
{
	return s->c->tls || s->srv->cfg->auth.allow_plaintext;
}

void imap_capability_line(struct imap_session *s, struct buf *b)
{
	buf_puts(b, "CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE");
	if (s->state == IST_NOTAUTH) {
		if (!s->c->tls && s->c->role == ROLE_IMAP)
			buf_puts(b, " STARTTLS");
		if (plaintext_ok(s))
			buf_puts(b, " AUTH=PLAIN AUTH=LOGIN");
		else
			buf_puts(b, " LOGINDISABLED");
		return;
	}
	buf_puts(b, " IDLE UIDPLUS MOVE NAMESPACE CHILDREN UNSELECT SPECIAL-USE CREATE-SPECIAL-USE"
		    " LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES STATUS=SIZE BINARY CONDSTORE QRESYNC"
		    " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES CONTEXT=SEARCH CONTEXT=SORT"
		    " MULTIAPPEND CATENATE URLAUTH URLAUTH=BINARY NOTIFY"
		    " UTF8=ACCEPT QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE");
	buf_printf(b, " APPENDLIMIT=%llu", (unsigned long long)s->srv->cfg->smtp.max_message_size);
	if (!conn_compressed(s->c))
		buf_puts(b, " COMPRESS=DEFLATE");
}

void imap_cmd_capability(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "* ");
	imap_capability_line(s, &b);
	buf_puts(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
	imap_ok(s, cmd, "CAPABILITY completed");
}

void imap_cmd_starttls(struct imap_session *s, struct imap_cmd *cmd)
{
	if (s->c->tls || s->c->role != ROLE_IMAP) {
		imap_bad(s, cmd->tag, "TLS is already active");
		return;
	}
	imap_tagged(s, cmd->tag, "OK", "Begin TLS negotiation now");
	/* conn_starttls drops input pipelined behind STARTTLS (command injection). */
	conn_starttls(s->c);
}

void imap_auth_cleanup(struct imap_session *s)
{
	sasl_free(&s->sasl);
	if (s->areq) {
		auth_request_clear(s->areq);
		XFREE(&s->areq);
	}
}

static void login_delay_over(struct conn *c)
{
	struct imap_session *s = c->session;
	s->busy = IBUSY_NONE;
	imap_tagged(s, s->pending_tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	if (++s->auth_failures >= 5) {
		imap_untagged(s, "BYE Too many failed logins");
		imap_close(s);
		return;
	}
	imap_preauth_timer(s);    /* the delay borrowed the connection's timer */
	imap_process(s);
}

static void auth_finished(struct imap_session *s)
{
	struct auth_request *r = s->areq;
	s->areq = NULL;
	s->busy = IBUSY_NONE;
	if (!s->c) {   /* orphan */
		auth_request_clear(r);
		free(r);
		return;
	}
	if (r->ok) {
		s->state = IST_AUTH;
		s->account_id = r->account_id;
		snprintf(s->user, sizeof s->user, "%s", r->address);
		log_info("imap", "session=%s msg=\"login\" user=%s ip=%s tls=%s", s->c->id, lq(r->address),
			 s->c->peer_ip, s->c->tls ? "yes" : "no");
		auth_request_clear(r);
		free(r);
		conn_timer(s->c, 0, NULL);
		struct buf b = BUF_INIT;
		imap_capability_line(s, &b);
		imap_tagged(s, s->pending_tag, "OK", "[%s] Logged in", b.data);
		buf_free(&b);
		imap_process(s);
		return;
	}
	log_info("imap", "session=%s msg=\"auth failed\" user=%s ip=%s delay_ms=%llu", s->c->id, lq(r->user),
		 s->c->peer_ip, (unsigned long long)r->delay_ms);
	uint64_t delay = r->delay_ms;
	auth_request_clear(r);
	free(r);
	if (delay) {
		s->busy = IBUSY_DELAY;
		conn_timer(s->c, delay, login_delay_over);
		return;
	}
	login_delay_over(s->c);
}

static void auth_done_on_worker(struct auth_request *r)
{
	imap_post(r->arg, auth_finished);
}

static void verify(struct imap_session *s, const char *tag, const char *authzid, const char *user,
		   const char *pass, size_t passlen)
{
	struct auth_request *r = auth_request_new(s->c->peer_ip, authzid, user, pass, passlen, auth_done_on_worker, s);
	if (tag != s->pending_tag)
		snprintf(s->pending_tag, sizeof s->pending_tag, "%s", tag);
	s->areq = r;
	s->busy = IBUSY_AUTH;
	auth_verify(s->srv->auth, r);
}

void imap_cmd_login(struct imap_session *s, struct imap_cmd *cmd)
{
	if (!plaintext_ok(s)) {
		imap_tagged(s, cmd->tag, "NO", "[PRIVACYREQUIRED] LOGIN is disabled without TLS; use STARTTLS");
		return;
	}
	if (cmd->user.n == 0 || cmd->user.n >= 320 || memchr(cmd->user.p, '\0', cmd->user.n)) {
		/* Same answer as a wrong password, after the same kind of delay. */
		verify(s, cmd->tag, "", "", cmd->pass.p ? cmd->pass.p : "", cmd->pass.n);
		return;
	}
	verify(s, cmd->tag, "", cmd->user.p, cmd->pass.p ? cmd->pass.p : "", cmd->pass.n);
}

static void sasl_step_input(struct imap_session *s, const char *in, size_t len)
{
	struct buf challenge = BUF_INIT;
	switch (sasl_step(s->sasl, in, len, &challenge)) {
	case SASL_CHALLENGE:
		s->busy = IBUSY_SASL;
		buf_puts(&challenge, "\r\n");
		imap_write(s, "+ ", 2);
		imap_write(s, challenge.data, challenge.len);
		break;
	case SASL_DONE: {
		struct sasl *sa = s->sasl;
		s->sasl = NULL;
		s->busy = IBUSY_NONE;
		verify(s, s->pending_tag, sasl_authzid(sa), sasl_authcid(sa), sasl_password(sa), sasl_password_len(sa));
		sasl_free(&sa);
		break;
	}
	case SASL_BAD:
		sasl_free(&s->sasl);
		s->busy = IBUSY_NONE;
		imap_bad(s, s->pending_tag, "Invalid SASL response");
		break;
	}
	buf_free(&challenge);
}

void imap_cmd_authenticate(struct imap_session *s, struct imap_cmd *cmd)
{
	if (!plaintext_ok(s)) {
		imap_tagged(s, cmd->tag, "NO", "[PRIVACYREQUIRED] Authentication is disabled without TLS");
		return;
	}
	s->sasl = sasl_new(cmd->mech.p ? cmd->mech.p : "", cmd->mech.n);
	if (!s->sasl) {
		imap_tagged(s, cmd->tag, "NO", "[CANNOT] Unsupported authentication mechanism");
		return;
	}
	snprintf(s->pending_tag, sizeof s->pending_tag, "%s", cmd->tag);
	if (cmd->has_ir) {
		/* SASL-IR: an empty initial response was sent as "="; sasl wants it as "=" too. */
		if (cmd->ir.n == 0)
			sasl_step_input(s, "=", 1);
		else
			sasl_step_input(s, cmd->ir.p, cmd->ir.n);
	} else {
		sasl_step_input(s, NULL, 0);
	}
}

void imap_auth_line(struct imap_session *s, const char *line, size_t len)
{
	if (!line) {
		sasl_free(&s->sasl);
		s->busy = IBUSY_NONE;
		imap_bad(s, s->pending_tag, "SASL response too long");
		return;
	}
	if (len == 1 && line[0] == '*') {
		sasl_free(&s->sasl);
		s->busy = IBUSY_NONE;
		imap_bad(s, s->pending_tag, "Authentication cancelled");
		return;
	}
	sasl_step_input(s, line, len);
}

void imap_cmd_enable(struct imap_session *s, struct imap_cmd *cmd)
{
	if (s->state != IST_AUTH) {
		imap_bad(s, cmd->tag, "ENABLE is only valid before a mailbox is selected");
		return;
	}
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < cmd->natoms; i++) {
		const struct imap_str *a = &cmd->atoms[i];
		const char *name = NULL;
		if (a->n == 9 && ascii_iprefix(a->p, a->n, "CONDSTORE")) {
			if (!s->condstore)
				name = "CONDSTORE";
			s->condstore = true;
		} else if (a->n == 7 && ascii_iprefix(a->p, a->n, "QRESYNC")) {
			if (!s->qresync)
				name = "QRESYNC";
			s->qresync = s->condstore = true;
		} else if (a->n == 11 && ascii_iprefix(a->p, a->n, "UTF8=ACCEPT")) {
			if (!s->utf8)
				name = "UTF8=ACCEPT";
			s->utf8 = true;
		} else if (a->n == 9 && ascii_iprefix(a->p, a->n, "IMAP4rev2")) {
			if (!s->rev2)
				name = "IMAP4rev2";
			s->rev2 = true;
		}
		if (name) {
			buf_putc(&b, ' ');
			buf_puts(&b, name);
		}
	}
	imap_untagged(s, "ENABLED%s", buf_cstr(&b));
	buf_free(&b);
	imap_ok(s, cmd, "ENABLE completed");
}

void imap_cmd_id(struct imap_session *s, struct imap_cmd *cmd)
{
	if (s->c && cmd->natoms >= 2) {
		/* What the client says about itself helps when reading logs; its values are untrusted text. */
		struct buf b = BUF_INIT;
		for (size_t i = 0; i + 1 < cmd->natoms && i < 8; i += 2) {
			if (cmd->atoms[i].nil || cmd->atoms[i + 1].nil)
				continue;
			buf_printf(&b, "%s%.*s=%.*s", b.len ? "," : "", (int)(cmd->atoms[i].n > 30 ? 30 : cmd->atoms[i].n),
				   cmd->atoms[i].p, (int)(cmd->atoms[i + 1].n > 64 ? 64 : cmd->atoms[i + 1].n),
				   cmd->atoms[i + 1].p);
		}
		log_info("imap", "session=%s msg=\"client id\" id=%s", s->c->id, lq(buf_cstr(&b)));
		buf_free(&b);
	}
	/* The version only to a logged-in client: before login it tells a scanner which bugs to try. */
	if (s->state == IST_NOTAUTH)
		imap_untagged(s, "ID (\"name\" \"tern\")");
	else
		imap_untagged(s, "ID (\"name\" \"tern\" \"version\" \"%s\")", TERN_VERSION);
	imap_ok(s, cmd, "ID completed");
}
