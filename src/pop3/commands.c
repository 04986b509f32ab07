/*
 * commands.c — CAPA (RFC 2449), STLS (RFC 2595), QUIT and the UPDATE
 * state (\Seen for the retrieved messages, then the expunge), and the
 * TRANSACTION commands that need no message content: STAT, LIST, UIDL,
 * DELE, RSET, NOOP (RFC 1939 §5).  RETR and TOP, and the listings of LIST
 * and UIDL without argument, are sent by retr.c.
 */
#include "pop3/session.h"
#include "auth/sasl.h"
#include "net/tls.h"
#include "lib/log.h"
#include "lib/util.h"

#include <event2/buffer.h>
#include <string.h>

static bool stls_offered(const struct pop3_session *s)
{
	return s->state == ST_AUTHORIZATION && !s->c->tls && s->c->role == ROLE_POP3 && tls_available();
}

void pop3_cmd_capa(struct pop3_session *s)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "+OK Capability list follows\r\n"
		     "TOP\r\n"
		     "UIDL\r\n"
		     "RESP-CODES\r\n"
		     "AUTH-RESP-CODE\r\n"
		     "PIPELINING\r\n"
		     "EXPIRE NEVER\r\n"
		     "LOGIN-DELAY 0\r\n");
	/* RFC 2595 §4: mechanisms that would send a password in the clear are not advertised. */
	if (s->state == ST_AUTHORIZATION && pop3_plaintext_ok(s))
		buf_puts(&b, "USER\r\nSASL " SASL_MECHANISMS "\r\n");
	if (stls_offered(s))
		buf_puts(&b, "STLS\r\n");
	buf_puts(&b, "IMPLEMENTATION tern\r\n.\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

void pop3_cmd_stls(struct pop3_session *s)
{
	if (s->c->tls) {
		pop3_error(s, "TLS already active");
		return;
	}
	if (!stls_offered(s)) {
		pop3_reply(s, "-ERR TLS not available");
		return;
	}
	/*
	 * Anything sent after STLS was sent in plaintext but would be read as
	 * if it came through TLS (CVE-2011-0411, CVE-2021-33515): refuse, and
	 * drop that data.
	 */
	struct evbuffer *in = conn_input(s->c);
	size_t extra = evbuffer_get_length(in);
	if (extra) {
		evbuffer_drain(in, extra);
		log_info("pop3", "session=%s msg=\"data pipelined after STLS, discarded\" ip=%s octets=%zu",
			 s->c->id, s->c->peer_ip, extra);
		pop3_error(s, "STLS must be the last command sent before the TLS handshake");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	conn_starttls(s->c);
}

void pop3_cmd_quit(struct pop3_session *s)
{
	if (s->state != ST_TRANSACTION) {
		pop3_reply(s, "+OK Bye");
		pop3_close(s);
		return;
	}
	/*
	 * UPDATE (RFC 1939 §6): \Seen for what was retrieved (one store call),
	 * then the expunge; both are durable before the +OK.  A failed \Seen
	 * does not hold back the deletions the client asked for.
	 */
	enum store_status seen = pop3_record_seen(s, true);
	unsigned removed = 0;
	enum store_status rc = pop3_maildrop_update(&s->drop, pop3_store(s), &removed);
	s->deleted = removed;
	if (rc != STORE_OK) {
		log_error("pop3", "session=%s msg=\"expunge failed\" user=%s marked=%zu error=%s", s->c->id,
			  lq(s->user), s->drop.ndeleted, lq(store_status_str(rc)));
		pop3_reply(s, "-ERR [SYS/TEMP] Deleting the messages failed, none was deleted");
	} else if (seen != STORE_OK) {
		pop3_reply(s, "-ERR [SYS/TEMP] Marking the retrieved messages seen failed");
	} else if (s->drop.n - s->drop.ndeleted == 0) {
		pop3_reply(s, "+OK Bye (maildrop empty)");
	} else {
		pop3_reply(s, "+OK Bye (%zu messages left)", s->drop.n - s->drop.ndeleted);
	}
	pop3_close(s);
}

static void undeleted(const struct pop3_maildrop *d, size_t *n, uint64_t *size)
{
	*n = d->n - d->ndeleted;
	*size = d->size - d->deleted_size;
}

void pop3_cmd_transaction(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_maildrop *d = &s->drop;
	struct pop3_msg *m = NULL;
	const char *why = NULL;
	size_t n;
	uint64_t size;

	if (cmd->has_msg) {
		m = pop3_maildrop_get(d, cmd->msg, &why);
		if (!m) {
			pop3_error(s, "%s", why);
			return;
		}
	}
	switch (cmd->verb) {
	case POP3_STAT:
		undeleted(d, &n, &size);
		pop3_reply(s, "+OK %zu %llu", n, (unsigned long long)size);
		return;
	case POP3_LIST:
		if (m) {
			pop3_reply(s, "+OK %llu %llu", (unsigned long long)cmd->msg, (unsigned long long)m->size);
			return;
		}
		undeleted(d, &n, &size);
		pop3_reply(s, "+OK %zu messages (%llu octets)", n, (unsigned long long)size);
		pop3_send_listing(s, SEND_LIST);
		return;
	case POP3_UIDL:
		if (m) {
			pop3_reply(s, "+OK %llu %u.%u", (unsigned long long)cmd->msg, d->uidvalidity, m->uid);
			return;
		}
		pop3_reply(s, "+OK Unique-ID listing follows");
		pop3_send_listing(s, SEND_UIDL);
		return;
	case POP3_DELE:
		m->deleted = true;
		d->ndeleted++;
		d->deleted_size += m->size;
		pop3_reply(s, "+OK Message %llu deleted", (unsigned long long)cmd->msg);
		return;
	case POP3_RSET:
		for (size_t i = 0; i < d->n; i++)
			d->msgs[i].deleted = false;
		d->ndeleted = 0;
		d->deleted_size = 0;
		pop3_reply(s, "+OK %zu messages (%llu octets)", d->n, (unsigned long long)d->size);
		return;
	case POP3_NOOP:
		pop3_reply(s, "+OK");
		return;
	default:
		pop3_error(s, "Unknown command");
		return;
	}
}
