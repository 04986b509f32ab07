/*
 * idle.c — IDLE (RFC 2177, RFC 9051 §6.3.13): the client waits, the server
 * pushes.  Changes committed by anyone in this process (other IMAP
 * sessions, SMTP deliveries, POP3) wake the session through its store watch
 * within the same loop turn; changes made by another process (the CLI)
 * show up at the next wake or command.  With NOTIFY (notify.c) the same
 * wake also brings news between commands, and of other mailboxes.
 */
#include "imap/session.h"
#include "lib/util.h"

#include <stdio.h>
#include <string.h>


void imap_cmd_idle(struct imap_session *s, struct imap_cmd *cmd)
{
	snprintf(s->pending_tag, sizeof s->pending_tag, "%s", cmd->tag);
	s->busy = IBUSY_IDLE;
	imap_write(s, "+ idling\r\n", 10);
	/* Anything that happened before IDLE began is news too. */
	imap_sync(s, true);
	imap_notify_push(s);
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	s->busy = IBUSY_NONE;
	if (!line || len != 4 || !ascii_iprefix(line, len, "DONE")) {
		imap_bad(s, s->pending_tag, "Expected DONE");
		return;
	}
	imap_sync(s, true);
	imap_notify_push(s);
	imap_tagged(s, s->pending_tag, "OK", "IDLE terminated");
}

void imap_idle_wake(struct imap_session *s)
{
	if (!s->c)
		return;
	if (s->busy != IBUSY_IDLE) {
		imap_notify_wake(s);    /* NOTIFY: between commands too (RFC 5465 §3) */
		return;
	}
	if (conn_output_pending(s->c) > IMAP_OUTPUT_MAX) {
		/* A client not reading: what changed waits in the store, and comes once it has drained. */
		conn_notify_drained(s->c);
		return;
	}
	imap_sync(s, true);
	imap_notify_push(s);    /* RFC 5465 §4: in IDLE, what NOTIFY asked for */
}
