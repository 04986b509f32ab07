/*
 * modify.c — the commands that change messages: STORE (with CONDSTORE
 * UNCHANGEDSINCE), EXPUNGE and UID EXPUNGE (UIDPLUS), COPY and MOVE (with
 * COPYUID).  Each is one store transaction, durable before the tagged OK.
 */
#include "imap/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

static bool writable(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (s->view->readonly) {
		imap_tagged(s, cmd->tag, "NO", "[READ-ONLY] The mailbox is open read-only");
		return false;
	}
	return true;
}

static void track_modseq(void *ctx, const struct store_change *c)
{
	uint64_t *modseq = ctx;
	if (c->modseq > *modseq)
		*modseq = c->modseq;
}

/* ---- STORE ------------------------------------------------------------------- */

struct store_report {
	struct imap_session *s;
	const struct imap_cmd *cmd;
	const uint32_t *uids;       /* the messages to report, ascending */
	size_t n, pos;
	const uint32_t *failed;
	size_t nfailed;
	struct buf out;
};

static bool in_sorted(const uint32_t *a, size_t n, uint32_t x)
{
	size_t i = imap_lower_bound(a, n, x);
	return i < n && a[i] == x;
}

static int report_flags(void *ctx, const struct store_message_data *m)
{
	struct store_report *r = ctx;
	while (r->pos < r->n && r->uids[r->pos] < m->uid)
		r->pos++;
	if (r->pos >= r->n || r->uids[r->pos] != m->uid)
		return 0;
	if (in_sorted(r->failed, r->nfailed, m->uid))
		return 0;
	uint32_t seq = imap_view_seq(r->s->view, m->uid);
	if (!seq)
		return 0;
	imap_view_announce_keywords(r->s, m->keywords);        /* another session's, set meanwhile */
	buf_printf(&r->out, "* %u FETCH (FLAGS ", seq);
	imap_put_flags(&r->out, m->flags, m->keywords, imap_is_recent(r->s, m->uid));
	if (r->cmd->uid)
		buf_printf(&r->out, " UID %u", m->uid);
	if (r->s->condstore)
		buf_printf(&r->out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	buf_puts(&r->out, ")\r\n");
	if (r->out.len > 65536) {
		imap_write(r->s, r->out.data, r->out.len);
		buf_reset(&r->out);
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void imap_cmd_store(struct imap_session *s, struct imap_cmd *cmd)
{
	if (!writable(s, cmd))
		return;
	uint32_t *uids;
	size_t n;
	if (!imap_view_uids(s, &cmd->set, cmd->uid, &uids, &n)) {
		imap_bad(s, cmd->tag, "Invalid message sequence number");
		return;
	}
	if (cmd->has_unchangedsince)
		s->condstore = true;
	uint32_t *failed = NULL;
	size_t nfailed = 0;
	uint64_t modseq = 0;
	enum store_status st = STORE_OK;
	if (cmd->has_unchangedsince && cmd->unchangedsince == 0) {
		/* Every message has a modseq above 0: all fail (RFC 7162 §3.1.3). */
		failed = n ? xmalloc(n * sizeof *failed) : NULL;
		if (n)
			memcpy(failed, uids, n * sizeof *failed);
		nfailed = n;
	} else if (n) {
		st = store_flags_change(imap_store(s), s->view->mailbox_id, uids, n, cmd->store_op, cmd->flags,
					cmd->keywords, cmd->has_unchangedsince ? cmd->unchangedsince : 0, track_modseq,
					&modseq, &failed, &nfailed);
	}
	if (st != STORE_OK) {
		if (st == STORE_INVALID)
			imap_tagged(s, cmd->tag, "NO", "[LIMIT] Too many keywords");
		else
			imap_store_error(s, cmd->tag, st, "STORE");
		goto out;
	}
	if (nfailed)
		qsort(failed, nfailed, sizeof *failed, cmp_u32);
	if (modseq)
		imap_view_own_change(s, modseq);
	/* New keywords must be announced before FETCH responses carrying them. */
	if (cmd->keywords && *cmd->keywords && cmd->store_op != STORE_FLAGS_REMOVE)
		imap_view_refresh_keywords(s);

	if (!cmd->silent && n) {
		struct store_report r = { s, cmd, uids, n, 0, failed, nfailed, BUF_INIT };
		store_message_range(imap_store(s), s->view->mailbox_id, uids[0], uids[n - 1], 0, report_flags, &r);
		imap_write(s, r.out.data, r.out.len);
		buf_free(&r.out);
	}
	if (nfailed) {
		/* MODIFIED lists UIDs for UID STORE, sequence numbers otherwise. */
		uint32_t *nums = xmalloc(nfailed * sizeof *nums);
		size_t k = 0;
		for (size_t i = 0; i < nfailed; i++) {
			uint32_t v = cmd->uid ? failed[i] : imap_view_seq(s->view, failed[i]);
			if (v)
				nums[k++] = v;
		}
		qsort(nums, k, sizeof *nums, cmp_u32);
		struct imap_seqset set = { 0 };
		imap_seqset_from_sorted(&set, nums, k);
		struct buf b = BUF_INIT;
		imap_seqset_format(&set, &b);
		imap_ok(s, cmd, "[MODIFIED %s] Conditional STORE failed for some messages", buf_cstr(&b));
		buf_free(&b);
		imap_seqset_free(&set);
		free(nums);
	} else {
		imap_ok(s, cmd, "%s completed", cmd->uid ? "UID STORE" : "STORE");
	}
out:
	free(failed);
	free(uids);
}

/* ---- EXPUNGE ------------------------------------------------------------------ */

struct removed_list {
	uint32_t *u;
	size_t n, cap;
	uint64_t modseq;
};

static void collect_removed(void *ctx, const struct store_change *c)
{
	struct removed_list *r = ctx;
	if (c->modseq > r->modseq)
		r->modseq = c->modseq;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->u = xrealloc(r->u, r->cap * sizeof *r->u);
	}
	r->u[r->n++] = c->uid;
}

/*
 * Announce our own removals (only those the client knows) and, when advance,
 * take the view's modseq past them.  A MOVE into the selected mailbox does
 * not advance: its new copies share the expunge's modseq, and imap_sync must
 * still find them to announce EXISTS.
 */
static void announce_removed_as(struct imap_session *s, struct removed_list *r, bool advance)
{
	if (!r->n)
		return;
	qsort(r->u, r->n, sizeof *r->u, cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++)
		if (imap_view_seq(s->view, r->u[i]) && (k == 0 || r->u[k - 1] != r->u[i]))
			r->u[k++] = r->u[i];
	imap_view_remove(s, r->u, k);
	if (advance)
		imap_view_own_change(s, r->modseq);
}

static void announce_removed(struct imap_session *s, struct removed_list *r)
{
	announce_removed_as(s, r, true);
}

void imap_cmd_expunge(struct imap_session *s, struct imap_cmd *cmd)
{
	if (!writable(s, cmd))
		return;
	struct removed_list r = { 0 };
	enum store_status st;
	if (cmd->uid) {
		uint32_t *uids;
		size_t n;
		if (!imap_view_uids(s, &cmd->set, true, &uids, &n)) {
			imap_bad(s, cmd->tag, "Invalid UID set");
			return;
		}
		st = n ? store_expunge(imap_store(s), s->view->mailbox_id, uids, n, true, collect_removed, &r)
		       : STORE_OK;
		free(uids);
	} else {
		st = store_expunge(imap_store(s), s->view->mailbox_id, NULL, 0, true, collect_removed, &r);
	}
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, "EXPUNGE");
		free(r.u);
		return;
	}
	announce_removed(s, &r);
	free(r.u);
	imap_ok(s, cmd, "%s completed", cmd->uid ? "UID EXPUNGE" : "EXPUNGE");
}

/* ---- COPY / MOVE -------------------------------------------------------------- */

struct dest_info {
	bool found;
	int64_t id;
	uint32_t uidvalidity;
};

static void got_dest(void *ctx, const struct store_mailbox_info *mb)
{
	struct dest_info *d = ctx;
	d->found = true;
	d->id = mb->id;
	d->uidvalidity = mb->uidvalidity;
}

void imap_cmd_copy(struct imap_session *s, struct imap_cmd *cmd)
{
	bool move = cmd->type == IMAP_CMD_MOVE;
	const char *what = move ? (cmd->uid ? "UID MOVE" : "MOVE") : (cmd->uid ? "UID COPY" : "COPY");
	if (move && !writable(s, cmd))
		return;
	struct buf name = BUF_INIT;
	if (!imap_mailbox_arg(s, cmd, &cmd->mailbox, &name))
		return;
	uint32_t *uids = NULL, *new_uids = NULL;
	size_t n = 0;
	struct removed_list r = { 0 };
	if (!imap_view_uids(s, &cmd->set, cmd->uid, &uids, &n)) {
		imap_bad(s, cmd->tag, "Invalid message sequence number");
		goto out;
	}
	struct dest_info d = { 0 };
	enum store_status st = store_mailbox_info(imap_store(s), s->account_id, name.data, got_dest, &d);
	if (st == STORE_OK && !d.found)
		st = STORE_NOTFOUND;
	if (st == STORE_NOTFOUND) {
		imap_tagged(s, cmd->tag, "NO", "[TRYCREATE] No such mailbox");
		goto out;
	}
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, what);
		goto out;
	}
	if (n == 0) {
		imap_ok(s, cmd, "%s completed, no messages", what);
		goto out;
	}
	new_uids = xcalloc(n, sizeof *new_uids);
	st = store_copy(imap_store(s), s->view->mailbox_id, d.id, uids, n, move, new_uids, collect_removed, &r);
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, what);
		goto out;
	}
	/* COPYUID (RFC 4315): source and destination UIDs in matching order. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!new_uids[i])
			continue;
		uids[k] = uids[i];
		new_uids[k] = new_uids[i];
		k++;
	}
	struct buf code = BUF_INIT;
	if (k) {
		struct imap_seqset a = { 0 }, b = { 0 };
		imap_seqset_from_sorted(&a, uids, k);
		imap_seqset_from_sorted(&b, new_uids, k);
		buf_printf(&code, "[COPYUID %u ", d.uidvalidity);
		imap_seqset_format(&a, &code);
		buf_putc(&code, ' ');
		imap_seqset_format(&b, &code);
		buf_puts(&code, "] ");
		imap_seqset_free(&a);
		imap_seqset_free(&b);
	}
	if (move) {
		/* RFC 6851 §4.3: COPYUID comes in an untagged OK before the expunges. */
		if (code.len)
			imap_untagged(s, "OK %sMoved", code.data);
		/* RFC 6851 §3.3: into the selected mailbox it is COPY + EXPUNGE, the copies announced by EXISTS. */
		announce_removed_as(s, &r, d.id != s->view->mailbox_id);
		imap_ok(s, cmd, "%s completed", what);
	} else {
		imap_ok(s, cmd, "%s%s completed", buf_cstr(&code), what);
	}
	buf_free(&code);
out:
	free(r.u);
	free(uids);
	free(new_uids);
	buf_free(&name);
}
