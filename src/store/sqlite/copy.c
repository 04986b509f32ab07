/*
 * copy.c — COPY and MOVE (SQLite backend): new rows in the destination
 * that share the source's blob (its reference count goes up; no file is
 * copied) and every cached column, with UIDs taken in the order of the
 * source UIDs.  A move then expunges the sources like store_expunge.
 *
 * The quota is checked after the rows are in, inside the transaction:
 * the usage counters are kept by triggers (schema.c), so the check is one
 * row read, and going over rolls everything back — the caller sees
 * STORE_QUOTA with nothing done, as if checked first.  A move leaves the
 * usage as it was and is not checked.
 */
#include "store/sqlite/sq.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/keywords.h"

static const char SQL_COPY_ONE[] =
	"INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internaldate, size, blob_id, envelope,"
	" body, bodystructure, subject, from_addr, message_id, sent_date, parts, header_size, body_lines)"
	" SELECT ?3, ?4, ?5, flags, keywords, internaldate, size, blob_id, envelope, body, bodystructure,"
	" subject, from_addr, message_id, sent_date, parts, header_size, body_lines"
	" FROM messages WHERE mailbox_id = ?1 AND uid = ?2 RETURNING keywords";
static const char SQL_ALL_UIDS[] = "SELECT uid FROM messages WHERE mailbox_id = ?1 ORDER BY uid";
static const char SQL_UIDNEXT_SET[] = "UPDATE mailboxes SET uidnext = ?2 WHERE id = ?1";

/* Every UID of a mailbox, ascending (malloc'd). */
static enum store_status all_uids(struct store_sq *sq, int64_t mailbox_id, uint32_t **out, size_t *n)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ALL_UIDS);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		(*out)[(*n)++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "mailbox uids");
		return STORE_IOERR;
	}
	return STORE_OK;
}

/* Copy one message: *new_uid set (0 when the source does not exist); its keywords join *kw. */
static enum store_status copy_one(struct store_sq *sq, int64_t src, int64_t dst, uint32_t uid, uint32_t next,
				  uint64_t modseq, uint32_t *new_uid, struct buf *kw, struct buf *tmp)
{
	*new_uid = 0;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_COPY_ONE);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, src);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, dst);
	sqlite3_bind_int64(st, 4, next);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)modseq);
	int rc = sqlite3_step(st);
	bool found = rc == SQLITE_ROW;
	bool kw_ok = true;
	if (found) {
		const char *k = store_sq_text(st, 0);
		if (*k) {
			struct buf canon = BUF_INIT;
			bool changed;
			kw_ok = store_kw_merge(buf_cstr(kw), k, tmp, &canon, &changed);
			buf_free(&canon);
			if (kw_ok && changed) {
				buf_reset(kw);
				buf_puts(kw, buf_cstr(tmp));
			}
		}
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "message copy");
		return STORE_IOERR;
	}
	if (!kw_ok)
		return STORE_INVALID;
	if (found)
		*new_uid = next;
	return STORE_OK;
}

enum store_status store_sq_copy_rows(struct store_sq *sq, int64_t src, int64_t dst, const uint32_t *uids, size_t n,
				     uint32_t *new_uids, size_t *ncopied)
{
	uint32_t *own = NULL;
	*ncopied = 0;
	enum store_status status;
	if (!uids) {
		status = all_uids(sq, src, &own, &n);
		if (status != STORE_OK)
			return status;
		uids = own;
	}
	if (n == 0) {
		free(own);
		return STORE_OK;
	}
	uint64_t modseq;
	uint32_t first;
	status = store_sq_mailbox_bump(sq, dst, 0, &modseq, &first, NULL);
	if (status != STORE_OK) {
		free(own);
		return status;
	}
	struct buf kw = BUF_INIT, tmp = BUF_INIT;
	uint64_t next = first;
	for (size_t i = 0; i < n && status == STORE_OK; i++) {
		uint32_t got = 0;
		if (i > 0 && uids[i] == uids[i - 1]) {
			/* the same message twice: one copy */
			if (new_uids)
				new_uids[i] = new_uids[i - 1];
			continue;
		}
		if (next > UINT32_MAX) {
			log_error("store", "msg=\"mailbox out of uids\" mailbox=%lld", (long long)dst);
			status = STORE_IOERR;
		} else {
			status = copy_one(sq, src, dst, uids[i], (uint32_t)next, modseq, &got, &kw, &tmp);
		}
		if (new_uids)
			new_uids[i] = got;
		if (got) {
			next++;
			(*ncopied)++;
		}
	}
	if (status == STORE_OK && *ncopied) {
		sqlite3_stmt *st = store_sq_stmt(sq, SQL_UIDNEXT_SET);
		if (!st) {
			status = STORE_IOERR;
		} else {
			sqlite3_bind_int64(st, 1, dst);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)next);
			if (!store_sq_step_done(sq, st, "uidnext"))
				status = STORE_IOERR;
		}
	}
	if (status == STORE_OK && kw.len)
		status = store_sq_mailbox_keywords_add(sq, dst, buf_cstr(&kw), NULL);
	buf_free(&kw);
	buf_free(&tmp);
	free(own);
	return status;
}

enum store_status store_sq_copy(struct store *s, int64_t src_mailbox_id, int64_t dst_mailbox_id,
				const uint32_t *uids, size_t n, bool move, uint32_t *new_uids,
				store_change_cb removed, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	if (new_uids && n)
		memset(new_uids, 0, n * sizeof *new_uids);
	if (!uids || n == 0)
		return STORE_OK;
	uint32_t *gone = NULL;
	size_t ngone = 0, ncopied = 0;
	uint64_t modseq = 0;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	int64_t account = store_sq_mailbox_account(sq, src_mailbox_id);
	int64_t dst_account = store_sq_mailbox_account(sq, dst_mailbox_id);
	if (account < 0 || dst_account < 0)
		goto fail;
	if (account == 0 || dst_account == 0) {
		status = STORE_NOTFOUND;
		goto fail;
	}
	if (account != dst_account) {
		status = STORE_INVALID;
		goto fail;
	}
	status = store_sq_copy_rows(sq, src_mailbox_id, dst_mailbox_id, uids, n, new_uids, &ncopied);
	if (status != STORE_OK)
		goto fail;
	if (ncopied == 0) {
		store_sq_rollback(sq);  /* nothing existed: no modseq to spend */
		return STORE_OK;
	}
	if (move)
		status = store_sq_expunge_rows(sq, src_mailbox_id, uids, n, false, &gone, &ngone, &modseq);
	else
		status = store_sq_quota_verify(sq, account);
	if (status != STORE_OK)
		goto fail;
	if (!store_sq_commit(sq)) {
		status = STORE_IOERR;
		goto fail;
	}
	store_notify(dst_mailbox_id);
	if (ngone && src_mailbox_id != dst_mailbox_id)
		store_notify(src_mailbox_id);
	for (size_t i = 0; i < ngone && removed; i++) {
		struct store_change c = { .uid = gone[i], .modseq = modseq, .expunged = true, .keywords = "" };
		removed(ctx, &c);
	}
	free(gone);
	return STORE_OK;
fail:
	store_sq_rollback(sq);
	free(gone);
	if (new_uids)
		memset(new_uids, 0, n * sizeof *new_uids);
	return status;
}
