/*
 * queue.c — the outbound queue as the operator sees it (SQLite backend):
 * list, delete, retry.  Rows are written by the delivery writer (writer.c),
 * one per remote recipient, all naming the message's blob; deleting the
 * last reference frees the blob (triggers in schema.c, files in blob.c).
 */
#include "store/sqlite/sq.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_QUEUE_LIST[] =
	"SELECT id, sender, rcpt, orcpt, notify, ret, envid, size, created, next_attempt,"
	" attempts, last_error, message_id FROM queue ORDER BY id";
static const char SQL_QUEUE_DELETE[] = "DELETE FROM queue WHERE id = ?1";
static const char SQL_QUEUE_RETRY[] = "UPDATE queue SET next_attempt = ?2 WHERE id = ?1";

/* A listed entry with its strings owned. */
struct queue_row {
	struct store_queue_entry e;
	char *strings[7];
};

static const char *keep(struct queue_row *r, int i, const char *s)
{
	r->strings[i] = xstrdup(s);
	return r->strings[i];
}

enum store_status store_sq_queue_list(struct store *s, store_queue_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_LIST);
	if (!st)
		return STORE_IOERR;
	/* Collected first, so that the callback may change the queue (retry, delete). */
	struct queue_row *rows = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = xrealloc(rows, (n + 1) * sizeof *rows);
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

enum store_status store_sq_queue_delete(struct store *s, int64_t id)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_DELETE);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, id);
	if (!store_sq_step_done(sq, st, "queue delete"))
		return STORE_IOERR;
	if (sqlite3_changes(sq->db) == 0)
		return STORE_NOTFOUND;
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
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_unix());
	if (!store_sq_step_done(sq, st, "queue retry"))
		return STORE_IOERR;
	if (sqlite3_changes(sq->db) == 0)
		return STORE_NOTFOUND;
	return STORE_OK;
}
