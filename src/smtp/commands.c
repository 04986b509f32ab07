/*
 * commands.c — the SMTP commands outside a mail transaction: HELO, EHLO,
 * STARTTLS, RSET, NOOP, QUIT, VRFY, EXPN, HELP.
 */
#include "smtp/session.h"
#include "auth/sasl.h"
#include "net/tls.h"
#include "lib/log.h"
#include "lib/util.h"

#include <event2/buffer.h>
#include <string.h>

static bool tls_offered(struct smtp_session *s)
{
	return !s->c->tls && s->c->role != ROLE_SUBMISSIONS && tls_available();
}

/* AUTH is offered on the submission roles once TLS is up (or plaintext is allowed). */
static bool auth_offered(struct smtp_session *s)
{
	return smtp_is_submission(s) && (s->c->tls || s->srv->cfg->auth.allow_plaintext);
}

void smtp_cmd_helo(struct smtp_session *s, bool ehlo, const char *args, size_t len)
{
	struct smtp_error err;
	if (!smtp_parse_helo(args, len, &err)) {
		smtp_reply_error(s, err.code, err.enhanced, "%s", err.text);
		return;
	}
	smtp_transaction_reset(s);
	memcpy(s->helo, args, len);
	s->helo[len] = '\0';
	s->esmtp = ehlo;
	s->state = ST_READY;
	const char *host = s->srv->cfg->hostname;
	if (!ehlo) {
		smtp_reply(s, 250, "", "%s", host);
		return;
	}
	struct buf b = BUF_INIT;
	buf_printf(&b, "250-%s\r\n", host);
	buf_puts(&b, "250-PIPELINING\r\n");
	buf_printf(&b, "250-SIZE %llu\r\n", (unsigned long long)s->srv->cfg->smtp.max_message_size);
	if (tls_offered(s))
		buf_puts(&b, "250-STARTTLS\r\n");
	if (auth_offered(s) && !s->authenticated)
		buf_puts(&b, "250-AUTH " SASL_MECHANISMS "\r\n");
	buf_puts(&b, "250-ENHANCEDSTATUSCODES\r\n");
	buf_puts(&b, "250-8BITMIME\r\n");
	buf_puts(&b, "250-DSN\r\n");
	buf_puts(&b, "250-SMTPUTF8\r\n");
	if (s->c->tls)
		buf_puts(&b, "250-REQUIRETLS\r\n");
	buf_puts(&b, "250 CHUNKING\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

void smtp_cmd_starttls(struct smtp_session *s, size_t arglen)
{
	if (arglen) {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	if (s->c->tls) {
		smtp_reply_error(s, 503, "5.5.1", "TLS already active");
		return;
	}
	if (!tls_offered(s)) {
		smtp_reply(s, 454, "4.7.0", "TLS not available");
		return;
	}
	if (s->state != ST_READY && s->state != ST_FRESH) {
		smtp_reply_error(s, 503, "5.5.1", "STARTTLS not allowed during a mail transaction");
		return;
	}
	/*
	 * Anything the client sent after STARTTLS was sent in plaintext but
	 * would be read as if it came through TLS (CVE-2011-0411).  A client
	 * that does this is broken or an attack: refuse, and drop that data.
	 */
	struct evbuffer *in = conn_input(s->c);
	size_t extra = evbuffer_get_length(in);
	if (extra) {
		evbuffer_drain(in, extra);
		log_info("smtp", "session=%s msg=\"data pipelined after STARTTLS, discarded\" ip=%s octets=%zu",
			 s->c->id, s->c->peer_ip, extra);
		smtp_reply_error(s, 503, "5.5.1", "STARTTLS must be the last command sent before the TLS handshake");
		return;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	conn_starttls(s->c);
}

void smtp_cmd_simple(struct smtp_session *s, enum smtp_verb verb, const char *args, size_t len)
{
	switch (verb) {
	case SMTP_RSET:
		if (len) {
			smtp_reply_error(s, 501, "5.5.4", "Syntax: RSET");
			return;
		}
		smtp_transaction_reset(s);
		if (s->state != ST_FRESH)
			s->state = ST_READY;
		smtp_reply(s, 250, "2.0.0", "Ok");
		return;
	case SMTP_NOOP:
		smtp_reply(s, 250, "2.0.0", "Ok");
		return;
	case SMTP_QUIT:
		smtp_reply(s, 221, "2.0.0", "%s closing connection", s->srv->cfg->hostname);
		smtp_close(s);
		return;
	case SMTP_VRFY:
		if (!len) {
			smtp_reply_error(s, 501, "5.5.4", "Syntax: VRFY address");
			return;
		}
		/* RFC 5321 §3.5.3: 252 reveals nothing about which users exist. */
		smtp_reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
		return;
	case SMTP_EXPN:
		smtp_reply_error(s, 502, "5.5.1", "EXPN not available");
		return;
	case SMTP_HELP:
		smtp_reply(s, 214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH");
		return;
	default:
		smtp_reply_error(s, 500, "5.5.1", "Command unrecognized");
		return;
	}
}
