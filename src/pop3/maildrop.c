/*
 * maildrop.c — a POP3 session's view of the account's INBOX.
 *
 * At login the INBOX is locked (store_mailbox_lock: in memory, so a crash
 * never leaves it held) and its messages are listed once; message numbers
 * index that snapshot for the whole session (RFC 1939 §5), whatever IMAP
 * does meanwhile.  Sizes are the stored sizes, which are exactly the
 * octets RETR sends before dot-stuffing (stored messages are CRLF).  DELE
 * only marks; pop3_maildrop_update() expunges the marked messages in one
 * durable store transaction when the client QUITs.  Likewise a completed
 * RETR only marks the message retrieved; pop3_maildrop_mark_seen() sets
 * \Seen on all of them in one transaction when the session ends.
 */
#include "pop3/session.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct collect {
	struct pop3_maildrop *d;
	size_t cap;
};

static void collect_message(void *ctx, const struct store_message *m)
{
	struct collect *c = ctx;
	struct pop3_maildrop *d = c->d;
	if (d->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		d->msgs = xrealloc(d->msgs, c->cap * sizeof *d->msgs);
	}
	d->msgs[d->n++] = (struct pop3_msg){ .uid = m->uid, .flags = m->flags, .size = m->size };
	d->size += m->size;
}

enum pop3_open_result pop3_maildrop_open(struct pop3_maildrop *d, struct store *st, int64_t account_id)
{
	struct store_mailbox mb;
	enum store_status rc = store_mailbox_get(st, account_id, "INBOX", &mb);
	if (rc != STORE_OK) {
		log_error("pop3", "msg=\"cannot find INBOX\" account=%lld error=%s", (long long)account_id,
			  lq(store_status_str(rc)));
		return POP3_OPEN_FAILED;
	}
	if (!store_mailbox_lock(mb.id))
		return POP3_OPEN_INUSE;
	memset(d, 0, sizeof *d);
	d->mailbox_id = mb.id;
	d->uidvalidity = mb.uidvalidity;
	d->locked = true;
	struct collect c = { d, 0 };
	rc = store_message_list(st, mb.id, collect_message, &c);
	if (rc != STORE_OK) {
		log_error("pop3", "msg=\"cannot list INBOX\" account=%lld error=%s", (long long)account_id,
			  lq(store_status_str(rc)));
		pop3_maildrop_close(d);
		return POP3_OPEN_FAILED;
	}
	return POP3_OPEN_OK;
}

void pop3_maildrop_close(struct pop3_maildrop *d)
{
	if (d->locked)
		store_mailbox_unlock(d->mailbox_id);
	free(d->msgs);
	memset(d, 0, sizeof *d);
}

struct pop3_msg *pop3_maildrop_get(struct pop3_maildrop *d, uint64_t num, const char **why)
{
	if (num == 0 || num > d->n) {
		*why = "No such message";
		return NULL;
	}
	struct pop3_msg *m = &d->msgs[num - 1];
	if (m->deleted) {
		*why = "Message is deleted";
		return NULL;
	}
	return m;
}

static void count_removed(void *ctx, const struct store_change *c)
{
	unsigned *removed = ctx;
	if (c->expunged)
		(*removed)++;
}

static bool seen_due(const struct pop3_msg *m, bool skip_deleted)
{
	return m->retrieved && !(skip_deleted && m->deleted);
}

enum store_status pop3_maildrop_mark_seen(struct pop3_maildrop *d, struct store *st, bool skip_deleted, size_t *n)
{
	/* The snapshot is in UID order, so the list is ascending as store_flags_change wants. */
	uint32_t *uids = NULL;
	*n = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (!seen_due(&d->msgs[i], skip_deleted))
			continue;
		if (!uids)
			uids = xmalloc((d->n - i) * sizeof *uids);
		uids[(*n)++] = d->msgs[i].uid;
	}
	if (*n == 0)
		return STORE_OK;
	uint32_t *failed = NULL;
	size_t nfailed = 0;
	/* Messages IMAP expunged meanwhile are ignored by the store. */
	enum store_status rc = store_flags_change(st, d->mailbox_id, uids, *n, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL,
						  0, NULL, NULL, &failed, &nfailed);
	free(failed);
	free(uids);
	if (rc != STORE_OK)
		return rc;
	for (size_t i = 0; i < d->n; i++) {
		struct pop3_msg *m = &d->msgs[i];
		if (seen_due(m, skip_deleted)) {
			m->retrieved = false;
			m->flags |= STORE_FLAG_SEEN;
		}
	}
	return STORE_OK;
}

enum store_status pop3_maildrop_update(struct pop3_maildrop *d, struct store *st, unsigned *removed)
{
	*removed = 0;
	if (d->ndeleted == 0)
		return STORE_OK;
	/* The snapshot is in UID order, so the list is ascending as store_expunge wants. */
	uint32_t *uids = xmalloc(d->ndeleted * sizeof *uids);
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->msgs[i].deleted)
			uids[n++] = d->msgs[i].uid;
	enum store_status rc = store_expunge(st, d->mailbox_id, uids, n, false, count_removed, removed);
	free(uids);
	if (rc == STORE_OK)
		for (size_t i = 0; i < d->n; i++)
			if (d->msgs[i].deleted)
				d->msgs[i].retrieved = false;   /* gone: no \Seen due */
	return rc;
}
