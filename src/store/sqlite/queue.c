/*
 * queue.c — the outbound queue (SQLite backend): what the operator does
 * (list, delete, retry, hold) and what the scheduler does (due entries,
 * deferral, finishing).  Rows are written by the delivery writer
 * (writer.c), one per remote recipient, all naming the message's blob;
 * deleting the last reference frees the blob (triggers in schema.c,
 * files in blob.c).
 */
#include "store/sqlite/sq.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define QUEUE_COLUMNS \
	"SELECT id, sender, rcpt, orcpt, notify, ret, envid, size, created, next_attempt," \
	" attempts, last_error, message_id, blob_id, queue_offset, held, warned, body_8bit, smtputf8," \
	" requiretls FROM queue"
static const char SQL_QUEUE_LIST[] = QUEUE_COLUMNS " ORDER BY id";
static const char SQL_QUEUE_DUE[] =
	QUEUE_COLUMNS " WHERE next_attempt <= ?1 AND held = 0 ORDER BY next_attempt, id LIMIT ?2";
static const char SQL_QUEUE_NEXT_DUE[] = "SELECT min(next_attempt) FROM queue WHERE held = 0";
static const char SQL_QUEUE_DELETE[] = "DELETE FROM queue WHERE id = ?1";
static const char SQL_QUEUE_RETRY[] = "UPDATE queue SET next_attempt = ?2 WHERE id = ?1";
static const char SQL_QUEUE_DEFER[] =
	"UPDATE queue SET next_attempt = ?2, attempts = attempts + 1, last_error = ?3 WHERE id = ?1";
static const char SQL_QUEUE_HOLD[] = "UPDATE queue SET held = ?2 WHERE id = ?1";
static const char SQL_QUEUE_DEFER_WARNED[] =
	"UPDATE queue SET next_attempt = ?2, attempts = attempts + 1, last_error = ?3, warned = 1 WHERE id = ?1";
static const char SQL_QUEUE_RETRY_ALL[] = "UPDATE queue SET next_attempt = ?1 WHERE held = 0";
static const char SQL_QUEUE_HOLD_ALL[] = "UPDATE queue SET held = 1 WHERE held = 0";
static const char SQL_QUEUE_RELEASE_ALL[] = "UPDATE queue SET held = 0, next_attempt = ?1 WHERE held = 1";

/* A listed entry with its strings owned. */
struct queue_row {
	struct store_queue_entry e;
	char *strings[8];
};

static const char *keep(struct queue_row *r, int i, const char *s)
{
	r->strings[i] = xstrdup(s);
	return r->strings[i];
}

/* Run the prepared (and bound) st and hand every row to cb. */
static enum store_status queue_rows(struct store_sq *sq, sqlite3_stmt *st, store_queue_cb cb, void *ctx)
{
	/* Collected first, so that the callback may change the queue (retry, delete). */
	struct queue_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			rows = xrealloc(rows, cap * sizeof *rows);
		}
		struct queue_row *r = &rows[n++];
		memset(r, 0, sizeof *r);
		r->e.id = sqlite3_column_int64(st, 0);
		r->e.sender = keep(r, 0, store_sq_text(st, 1));
		r->e.rcpt = keep(r, 1, store_sq_text(st, 2));
		r->e.orcpt = keep(r, 2, store_sq_text(st, 3));
		r->e.notify = (unsigned)sqlite3_column_int(st, 4);
		r->e.ret = keep(r, 3, store_sq_text(st, 5));
		r->e.envid = keep(r, 4, store_sq_text(st, 6));
		r->e.size = (uint64_t)sqlite3_column_int64(st, 7);
		r->e.created = sqlite3_column_int64(st, 8);
		r->e.next_attempt = sqlite3_column_int64(st, 9);
		r->e.attempts = (unsigned)sqlite3_column_int(st, 10);
		r->e.last_error = keep(r, 5, store_sq_text(st, 11));
		r->e.message_id = keep(r, 6, store_sq_text(st, 12));
		r->e.blob_id = keep(r, 7, store_sq_text(st, 13));
		r->e.queue_offset = (uint64_t)sqlite3_column_int64(st, 14);
		r->e.held = sqlite3_column_int(st, 15) != 0;
		r->e.warned = sqlite3_column_int(st, 16) != 0;
		r->e.body_8bit = sqlite3_column_int(st, 17) != 0;
		r->e.smtputf8 = sqlite3_column_int(st, 18) != 0;
		r->e.requiretls = sqlite3_column_int(st, 19) != 0;
	}
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "queue list");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < n; i++) {
		if (status == STORE_OK)
			cb(ctx, &rows[i].e);
		for (size_t j = 0; j < ARRAY_LEN(rows[i].strings); j++)
			free(rows[i].strings[j]);
	}
	free(rows);
	return status;
}

enum store_status store_sq_queue_list(struct store *s, store_queue_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_LIST);
	if (!st)
		return STORE_IOERR;
	return queue_rows(sq, st, cb, ctx);
}

enum store_status store_sq_queue_due(struct store *s, int64_t now, size_t limit, store_queue_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_DUE);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, limit > INT32_MAX ? INT32_MAX : (sqlite3_int64)limit);
	return queue_rows(sq, st, cb, ctx);
}

enum store_status store_sq_queue_next_due(struct store *s, int64_t *when)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_NEXT_DUE);
	*when = 0;
	if (!st)
		return STORE_IOERR;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*when = sqlite3_column_int64(st, 0);    /* NULL (no row) reads as 0 */
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		store_sq_log_error(sq, "queue next due");
		return STORE_IOERR;
	}
	return STORE_OK;
}

/* One UPDATE of one row by id, already bound from ?2 on. */
static enum store_status update_one(struct store_sq *sq, sqlite3_stmt *st, int64_t id, const char *what)
{
	sqlite3_bind_int64(st, 1, id);
	if (!store_sq_step_done(sq, st, what))
		return STORE_IOERR;
	return sqlite3_changes(sq->db) == 0 ? STORE_NOTFOUND : STORE_OK;
}

enum store_status store_sq_queue_delete(struct store *s, int64_t id)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_DELETE);
	if (!st)
		return STORE_IOERR;
	enum store_status status = update_one(sq, st, id, "queue delete");
	if (status != STORE_OK)
		return status;
	log_info("store", "msg=\"queue entry deleted\" id=%lld", (long long)id);
	store_sq_blob_gc(sq);
	return STORE_OK;
}

enum store_status store_sq_queue_retry(struct store *s, int64_t id)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_RETRY);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 2, now_unix());
	return update_one(sq, st, id, "queue retry");
}


enum store_status store_sq_queue_hold(struct store *s, int64_t id, bool held)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_HOLD);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int(st, 2, held);
	return update_one(sq, st, id, "queue hold");
}



bool store_sq_blob_path_op(struct store *s, const char *blob_id, char *out, size_t size)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	return store_sq_blob_id_valid(blob_id) && store_sq_blob_path(sq, blob_id, out, size);
}

enum store_status store_sq_queue_apply(struct store *s, const struct store_queue_outcome *o, size_t n)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	if (n == 0)
		return STORE_OK;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	bool freed = false;
	for (size_t i = 0; i < n; i++) {
		const char *sql = o[i].op == STORE_QUEUE_FINISH ? SQL_QUEUE_DELETE
				  : o[i].warned ? SQL_QUEUE_DEFER_WARNED : SQL_QUEUE_DEFER;
		sqlite3_stmt *st = store_sq_stmt(sq, sql);
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, o[i].id);
		if (o[i].op == STORE_QUEUE_DEFER) {
			sqlite3_bind_int64(st, 2, o[i].next_attempt);
			sqlite3_bind_text(st, 3, o[i].error ? o[i].error : "", -1, SQLITE_STATIC);
		}
		if (!store_sq_step_done(sq, st, "queue outcome"))
			goto fail;
		freed |= o[i].op == STORE_QUEUE_FINISH && sqlite3_changes(sq->db) > 0;
	}
	if (!store_sq_commit(sq))
		goto fail;
	if (freed)
		store_sq_blob_gc(sq);
	return STORE_OK;
fail:
	store_sq_rollback(sq);
	return STORE_IOERR;
}

enum store_status store_sq_queue_all(struct store *s, enum store_queue_all_op op, uint64_t *changed)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	const char *sql = op == STORE_QUEUE_RETRY_ALL ? SQL_QUEUE_RETRY_ALL
			  : op == STORE_QUEUE_HOLD_ALL ? SQL_QUEUE_HOLD_ALL : SQL_QUEUE_RELEASE_ALL;
	sqlite3_stmt *st = store_sq_stmt(sq, sql);
	*changed = 0;
	if (!st)
		return STORE_IOERR;
	if (op != STORE_QUEUE_HOLD_ALL)
		sqlite3_bind_int64(st, 1, now_unix());
	if (!store_sq_step_done(sq, st, "queue all"))
		return STORE_IOERR;
	*changed = (uint64_t)sqlite3_changes(sq->db);
	return STORE_OK;
}
