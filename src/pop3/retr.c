/*
 * retr.c — the multi-line responses that can be large: RETR and TOP
 * (streamed from the message's blob through the dot-stuffer) and the
 * LIST / UIDL listings of the whole maildrop.
 *
 * Nothing is built whole in memory: each step adds output until about
 * POP3_OUTPUT_MAX octets wait in the connection's buffer, then the session
 * waits for conn_notify_drained (session.c) and continues.  A message is
 * read POP3_READ_CHUNK octets at a time.  If the blob cannot be read to its
 * end, the connection is closed without the terminating "." line, so a
 * client never takes a truncated message for a complete one.
 */
#include "pop3/session.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LISTING_BATCH 8192   /* octets of listing lines per conn_write */

void pop3_send_cleanup(struct pop3_session *s)
{
	struct pop3_send *p = &s->send;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	XFREE(&p->chunk);
	buf_free(&p->out);
	p->kind = SEND_NONE;
}

void pop3_send_listing(struct pop3_session *s, enum pop3_send_kind kind)
{
	s->send.kind = kind;
	s->send.next = 0;
}

void pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const char *why;
	struct pop3_msg *m = pop3_maildrop_get(&s->drop, cmd->msg, &why);
	if (!m) {
		pop3_error(s, "%s", why);
		return;
	}
	int fd;
	uint64_t size;
	enum store_status rc = store_message_open(pop3_store(s), s->drop.mailbox_id, m->uid, &fd, &size);
	if (rc == STORE_NOTFOUND) {
		/* Expunged through IMAP after our snapshot was taken. */
		pop3_reply(s, "-ERR Message %llu was removed by another session", (unsigned long long)cmd->msg);
		return;
	}
	if (rc != STORE_OK) {
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot read message %llu, try again later", (unsigned long long)cmd->msg);
		return;
	}
	struct pop3_send *p = &s->send;
	p->kind = SEND_MESSAGE;
	p->index = (size_t)(m - s->drop.msgs);
	p->retr = cmd->verb == POP3_RETR;
	p->fd = fd;
	p->remaining = size;
	p->chunk = xmalloc(POP3_READ_CHUNK);
	buf_reset(&p->out);
	pop3_dotstuff_init(&p->ds, !p->retr, cmd->lines);
	if (p->retr)
		pop3_reply(s, "+OK %llu octets", (unsigned long long)size);
	else
		pop3_reply(s, "+OK Top of message follows");
}

/* A batch of listing lines; false when the listing is complete. */
static bool listing_step(struct pop3_session *s)
{
	struct pop3_send *p = &s->send;
	struct pop3_maildrop *d = &s->drop;
	buf_reset(&p->out);
	while (p->next < d->n && p->out.len < LISTING_BATCH) {
		const struct pop3_msg *m = &d->msgs[p->next++];
		if (m->deleted)
			continue;
		if (p->kind == SEND_LIST)
			buf_printf(&p->out, "%zu %llu\r\n", p->next, (unsigned long long)m->size);
		else
			buf_printf(&p->out, "%zu %u.%u\r\n", p->next, d->uidvalidity, m->uid);
	}
	bool more = p->next < d->n;
	if (!more)
		buf_puts(&p->out, ".\r\n");
	conn_write(s->c, p->out.data, p->out.len);
	return more;
}

/*
 * RETR complete.  \Seen as IMAP sees it is recorded for all retrieved
 * messages at once when the session ends (pop3_record_seen), not one
 * durable transaction per message.  TOP leaves the flags alone, like
 * IMAP's BODY.PEEK.
 */
static void mark_retrieved(struct pop3_session *s, struct pop3_msg *m)
{
	s->retrieved++;
	m->retrieved = true;
}

enum store_status pop3_record_seen(struct pop3_session *s, bool skip_deleted)
{
	size_t n;
	enum store_status rc = pop3_maildrop_mark_seen(&s->drop, pop3_store(s), skip_deleted, &n);
	if (rc != STORE_OK)
		log_warn("pop3", "session=%s msg=\"cannot set \\\\Seen\" user=%s messages=%zu error=%s",
			 s->c ? s->c->id : "-", lq(s->user), n, lq(store_status_str(rc)));
	return rc;
}

/* One chunk of the message; false when the response is complete (or the connection closed). */
static bool message_step(struct pop3_session *s)
{
	struct pop3_send *p = &s->send;
	buf_reset(&p->out);
	if (p->remaining == 0 || p->ds.done) {
		pop3_dotstuff_finish(&p->ds, &p->out);
		conn_write(s->c, p->out.data, p->out.len);
		if (p->retr)
			mark_retrieved(s, &s->drop.msgs[p->index]);
		return false;
	}
	size_t want = p->remaining < POP3_READ_CHUNK ? (size_t)p->remaining : POP3_READ_CHUNK;
	ssize_t r;
	do
		r = read(p->fd, p->chunk, want);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		const struct pop3_msg *m = &s->drop.msgs[p->index];
		log_error("pop3", "session=%s msg=\"cannot read message, closing\" user=%s uid=%u missing=%llu error=%s",
			  s->c->id, lq(s->user), m->uid, (unsigned long long)p->remaining,
			  lq(r < 0 ? strerror(errno) : "blob shorter than its size"));
		pop3_close(s);
		return false;
	}
	p->remaining -= (uint64_t)r;
	pop3_dotstuff_feed(&p->ds, p->chunk, (size_t)r, &p->out);
	conn_write(s->c, p->out.data, p->out.len);
	return true;
}

bool pop3_send_step(struct pop3_session *s)
{
	struct pop3_send *p = &s->send;
	while (conn_output_pending(s->c) < POP3_OUTPUT_MAX) {
		bool more = p->kind == SEND_MESSAGE ? message_step(s) : listing_step(s);
		if (!more) {
			pop3_send_cleanup(s);
			return true;
		}
	}
	return false;
}
