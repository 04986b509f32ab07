/*
 * flags.c — what changes messages in place (SQLite backend): STORE of
 * flags and keywords (with CONDSTORE's UNCHANGEDSINCE), EXPUNGE, and the
 * report of what changed since a modseq (untagged updates, QRESYNC).
 *
 * Modseq rules (RFC 7162): one call that changes anything bumps the
 * mailbox's highestmodseq once; every message it changed, and every
 * expunged row it wrote, gets that value.  A message whose flags end up
 * as they were keeps its modseq.  Nothing is reported to callbacks before
 * the COMMIT, so a callback never announces a change that was rolled back,
 * and callbacks may use the store freely.
 */
#include "store/sqlite/sq.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/keywords.h"

static const char SQL_MESSAGE_FLAGS[] =
	"SELECT flags, keywords, modseq FROM messages WHERE mailbox_id = ?1 AND uid = ?2";
static const char SQL_MESSAGE_FLAGS_SET[] =
	"UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5 WHERE mailbox_id = ?1 AND uid = ?2";
static const char SQL_EXPUNGE_ALL[] = "DELETE FROM messages WHERE mailbox_id = ?1 RETURNING uid";
/* spelled like the partial index messages_deleted's condition, so that it is used */
static const char SQL_EXPUNGE_DELETED[] =
	"DELETE FROM messages WHERE mailbox_id = ?1 AND flags & 8 <> 0 RETURNING uid";
static const char SQL_EXPUNGE_UID[] =
	"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2 AND (?3 = 0 OR flags & 8 <> 0)";
static const char SQL_EXPUNGED_INSERT[] =
	"INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)";
static const char SQL_CHANGES_MAILBOX[] = "SELECT highestmodseq, uidnext FROM mailboxes WHERE id = ?1";
static const char SQL_CHANGES_EXPUNGED[] =
	"SELECT uid, modseq FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY modseq, uid";
static const char SQL_CHANGES_MESSAGES[] =
	"SELECT uid, modseq, flags, keywords FROM messages WHERE mailbox_id = ?1 AND modseq > ?2"
	" ORDER BY modseq, uid";

/* A growing array of changes, reported after COMMIT. */
struct changes {
	struct store_change *v;
	size_t n, cap;
};

static void changes_add(struct changes *c, uint32_t uid, uint64_t modseq, bool expunged, uint32_t flags,
			const char *keywords)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xrealloc(c->v, c->cap * sizeof *c->v);
	}
	c->v[c->n++] = (struct store_change){
		.uid = uid,
		.modseq = modseq,
		.expunged = expunged,
		.flags = flags,
		.keywords = keywords ? xstrdup(keywords) : NULL,
	};
}

static void changes_free(struct changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		free((char *)c->v[i].keywords);
	free(c->v);
	memset(c, 0, sizeof *c);
}

static void push_uid(uint32_t **v, size_t *n, size_t *cap, uint32_t uid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = uid;
}

/* ---- STORE --------------------------------------------------------------- */

/* One message: reads it, applies the change, writes it if it changed. */
static enum store_status change_one(struct store_sq *sq, int64_t mailbox_id, uint32_t uid, enum store_flag_op op,
				    uint32_t flags, const char *kw, uint64_t unchangedsince, uint64_t *modseq,
				    struct changes *done, uint32_t **failed, size_t *nfailed, size_t *capfailed,
				    struct buf *newkw)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MESSAGE_FLAGS);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return STORE_OK;    /* unknown UID: ignored */
		store_sq_log_error(sq, "message flags");
		return STORE_IOERR;
	}
	uint32_t cur = (uint32_t)sqlite3_column_int64(st, 0);
	uint64_t cur_modseq = (uint64_t)sqlite3_column_int64(st, 2);
	bool kw_ok = store_kw_apply(store_sq_text(st, 1), op, kw, newkw);
	bool kw_same = kw_ok && store_kw_same(store_sq_text(st, 1), buf_cstr(newkw));
	sqlite3_reset(st);

	/* RFC 7162 §3.1.3: a message modified since the client looked is left alone and reported */
	if (unchangedsince && cur_modseq > unchangedsince) {
		if (failed)
			push_uid(failed, nfailed, capfailed, uid);
		return STORE_OK;
	}
	if (!kw_ok)
		return STORE_INVALID;
	uint32_t next = op == STORE_FLAGS_ADD ? cur | flags : op == STORE_FLAGS_REMOVE ? cur & ~flags : flags;
	if (next == cur && kw_same)
		return STORE_OK;
	if (*modseq == 0) {
		enum store_status status = store_sq_mailbox_bump(sq, mailbox_id, 0, modseq, NULL, NULL);
		if (status != STORE_OK)
			return status;
	}
	st = store_sq_stmt(sq, SQL_MESSAGE_FLAGS_SET);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, next);
	sqlite3_bind_text(st, 4, buf_cstr(newkw), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)*modseq);
	if (!store_sq_step_done(sq, st, "message flags update"))
		return STORE_IOERR;
	changes_add(done, uid, *modseq, false, next, buf_cstr(newkw));
	return STORE_OK;
}

enum store_status store_sq_flags_change(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
					enum store_flag_op op, uint32_t flags, const char *keywords,
					uint64_t unchangedsince, store_change_cb changed, void *ctx,
					uint32_t **failed, size_t *nfailed)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	size_t capfailed = 0;
	if (failed)
		*failed = NULL;
	if (nfailed)
		*nfailed = 0;
	if (!failed || !nfailed)
		failed = NULL;
	if (op != STORE_FLAGS_ADD && op != STORE_FLAGS_REMOVE && op != STORE_FLAGS_REPLACE)
		return STORE_INVALID;
	flags &= SQ_FLAGS_ALL;
	struct buf kw = BUF_INIT, canon = BUF_INIT, newkw = BUF_INIT;
	struct changes done = { 0 };
	uint64_t modseq = 0;
	if (!store_kw_normalize(keywords, &kw)) {
		buf_free(&kw);
		return STORE_INVALID;
	}

	enum store_status status = STORE_IOERR;
	if (!store_sq_begin(sq))
		goto out;
	int64_t account = store_sq_mailbox_account(sq, mailbox_id);
	if (account <= 0) {
		status = account == 0 ? STORE_NOTFOUND : STORE_IOERR;
		goto out;
	}
	/* Keywords being set join the mailbox's dictionary and take its spelling. */
	if (op != STORE_FLAGS_REMOVE) {
		status = store_sq_mailbox_keywords_add(sq, mailbox_id, buf_cstr(&kw), &canon);
		if (status != STORE_OK)
			goto out;
	} else {
		buf_puts(&canon, buf_cstr(&kw));
	}
	status = STORE_OK;
	for (size_t i = 0; i < n && status == STORE_OK; i++) {
		if (i > 0 && uids[i] == uids[i - 1])
			continue;
		status = change_one(sq, mailbox_id, uids[i], op, flags, buf_cstr(&canon), unchangedsince, &modseq,
				    &done, failed, nfailed, &capfailed, &newkw);
	}
	if (status != STORE_OK)
		goto out;
	if (!store_sq_commit(sq)) {
		status = STORE_IOERR;
		goto out;
	}
	if (done.n)
		store_notify(mailbox_id);
	for (size_t i = 0; i < done.n; i++)
		if (changed)
			changed(ctx, &done.v[i]);
	goto cleanup;
out:
	store_sq_rollback(sq);
	if (failed) {
		free(*failed);
		*failed = NULL;
		*nfailed = 0;
	}
cleanup:
	changes_free(&done);
	buf_free(&kw);
	buf_free(&canon);
	buf_free(&newkw);
	return status;
}

/* ---- EXPUNGE ------------------------------------------------------------- */

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

enum store_status store_sq_expunge_rows(struct store_sq *sq, int64_t mailbox_id, const uint32_t *uids, size_t n,
					bool only_deleted, uint32_t **out, size_t *nout, uint64_t *modseq)
{
	*out = NULL;
	*nout = 0;
	*modseq = 0;
	size_t cap = 0;
	sqlite3_stmt *st;
	if (!uids) {
		/* every (\Deleted) message: one statement, whatever the size of the mailbox */
		st = store_sq_stmt(sq, only_deleted ? SQL_EXPUNGE_DELETED : SQL_EXPUNGE_ALL);
		if (!st)
			return STORE_IOERR;
		sqlite3_bind_int64(st, 1, mailbox_id);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			push_uid(out, nout, &cap, (uint32_t)sqlite3_column_int64(st, 0));
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			store_sq_log_error(sq, "expunge");
			return STORE_IOERR;
		}
		if (*nout > 1)
			qsort(*out, *nout, sizeof **out, uid_cmp);
	} else {
		for (size_t i = 0; i < n; i++) {
			if (i > 0 && uids[i] <= uids[i - 1])
				continue;   /* not ascending: a duplicate at best */
			st = store_sq_stmt(sq, SQL_EXPUNGE_UID);
			if (!st)
				return STORE_IOERR;
			sqlite3_bind_int64(st, 1, mailbox_id);
			sqlite3_bind_int64(st, 2, uids[i]);
			sqlite3_bind_int(st, 3, only_deleted);
			if (!store_sq_step_done(sq, st, "expunge uid"))
				return STORE_IOERR;
			if (sqlite3_changes(sq->db) > 0)
				push_uid(out, nout, &cap, uids[i]);
		}
	}
	if (*nout == 0)
		return STORE_OK;
	enum store_status status = store_sq_mailbox_bump(sq, mailbox_id, 0, modseq, NULL, NULL);
	if (status != STORE_OK)
		return status;
	for (size_t i = 0; i < *nout; i++) {
		st = store_sq_stmt(sq, SQL_EXPUNGED_INSERT);
		if (!st)
			return STORE_IOERR;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (*out)[i]);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)*modseq);
		if (!store_sq_step_done(sq, st, "expunged insert"))
			return STORE_IOERR;
	}
	return STORE_OK;
}

enum store_status store_sq_expunge(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
				   bool only_deleted, store_change_cb removed, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	uint32_t *gone = NULL;
	size_t ngone = 0;
	uint64_t modseq = 0;
	if (uids && n == 0)
		return STORE_OK;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	int64_t account = store_sq_mailbox_account(sq, mailbox_id);
	enum store_status status = account > 0 ? STORE_OK : account == 0 ? STORE_NOTFOUND : STORE_IOERR;
	if (status == STORE_OK)
		status = store_sq_expunge_rows(sq, mailbox_id, uids, n, only_deleted, &gone, &ngone, &modseq);
	if (status == STORE_OK && !store_sq_commit(sq))
		status = STORE_IOERR;
	if (status != STORE_OK) {
		store_sq_rollback(sq);
		free(gone);
		return status;
	}
	if (ngone) {
		store_sq_blob_gc(sq);
		store_notify(mailbox_id);
	}
	for (size_t i = 0; i < ngone && removed; i++) {
		struct store_change c = { .uid = gone[i], .modseq = modseq, .expunged = true, .keywords = "" };
		removed(ctx, &c);
	}
	free(gone);
	return STORE_OK;
}

/* ---- changes since a modseq ---------------------------------------------- */

/* Collect the rows of a bound changes query. */
static bool collect_changes(struct store_sq *sq, sqlite3_stmt *st, bool expunged, struct changes *c)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (expunged)
			changes_add(c, (uint32_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1), true,
				    0, "");
		else
			changes_add(c, (uint32_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1), false,
				    (uint32_t)sqlite3_column_int64(st, 2), store_sq_text(st, 3));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "mailbox changes");
		return false;
	}
	return true;
}

/*
 * Everything is read inside one read transaction, so that the reported
 * highestmodseq is exactly the state the reported changes lead to, then
 * reported after it ended (callbacks may use the store).
 */
enum store_status store_sq_mailbox_changes(struct store *s, int64_t mailbox_id, uint64_t since,
					   store_change_cb cb, void *ctx, uint64_t *highestmodseq,
					   uint32_t *uidnext)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct changes exp = { 0 }, msg = { 0 };
	enum store_status status = STORE_IOERR;
	if (since > INT64_MAX)
		since = INT64_MAX;
	if (!store_sq_exec(sq, "BEGIN"))
		return STORE_IOERR;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_CHANGES_MAILBOX);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			store_sq_log_error(sq, "mailbox changes");
		else
			status = STORE_NOTFOUND;
		sqlite3_reset(st);
		goto out;
	}
	uint64_t hms = (uint64_t)sqlite3_column_int64(st, 0);
	int64_t next = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);

	if (since < hms) {
		if (!(st = store_sq_stmt(sq, SQL_CHANGES_EXPUNGED)))
			goto out;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
		if (!collect_changes(sq, st, true, &exp))
			goto out;
		if (!(st = store_sq_stmt(sq, SQL_CHANGES_MESSAGES)))
			goto out;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
		if (!collect_changes(sq, st, false, &msg))
			goto out;
	}
	if (!store_sq_commit(sq))
		goto out;
	if (highestmodseq)
		*highestmodseq = hms;
	if (uidnext)
		*uidnext = next > UINT32_MAX ? UINT32_MAX : (uint32_t)next;
	/* merge by modseq; at equal modseq the expunges first */
	size_t i = 0, j = 0;
	while (cb && (i < exp.n || j < msg.n)) {
		if (j == msg.n || (i < exp.n && exp.v[i].modseq <= msg.v[j].modseq))
			cb(ctx, &exp.v[i++]);
		else
			cb(ctx, &msg.v[j++]);
	}
	status = STORE_OK;
out:
	store_sq_rollback(sq);
	changes_free(&exp);
	changes_free(&msg);
	return status;
}
