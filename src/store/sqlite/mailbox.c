/*
 * mailbox.c — mailboxes and the messages in them (SQLite backend).
 *
 * Mailbox names are UTF-8 with '/' as hierarchy separator; "INBOX" is
 * matched case-insensitively (RFC 9051 §5.1), every other name exactly.
 * UIDVALIDITY comes from one counter for the whole index (meta table),
 * at least the current time and always above the last value handed out,
 * so a mailbox re-created under an old name never reuses a UIDVALIDITY.
 */
#include "store/sqlite/sq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_UIDVALIDITY_NEXT[] =
	"UPDATE meta SET value = max(value + 1, ?1) WHERE key = 'uidvalidity' RETURNING value";
static const char SQL_MAILBOX_INSERT[] =
	"INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_MAILBOX_GET[] =
	"SELECT m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,"
	" (SELECT count(*) FROM messages WHERE mailbox_id = m.id)"
	" FROM mailboxes m WHERE m.account_id = ?1 AND m.name = ?2";
static const char SQL_MAILBOX_LIST[] =
	"SELECT m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,"
	" (SELECT count(*) FROM messages WHERE mailbox_id = m.id)"
	" FROM mailboxes m WHERE m.account_id = ?1 ORDER BY m.name <> 'INBOX', m.name";
static const char SQL_ACCOUNT_EXISTS[] = "SELECT 1 FROM accounts WHERE id = ?1";
static const char SQL_MAILBOX_EXISTS[] = "SELECT 1 FROM mailboxes WHERE id = ?1";
static const char SQL_MESSAGE_LIST[] =
	"SELECT uid, modseq, flags, keywords, internaldate, size, from_addr, subject"
	" FROM messages WHERE mailbox_id = ?1 ORDER BY uid";
static const char SQL_MESSAGE_BLOB[] =
	"SELECT blob_id, size FROM messages WHERE mailbox_id = ?1 AND uid = ?2";

enum store_status store_sq_mailbox_create(struct store_sq *sq, int64_t account_id, const char *name,
					  const char *special_use)
{
	size_t n = strlen(name);
	if (n == 0 || n >= sizeof ((struct store_mailbox *)0)->name || !utf8_valid(name, n))
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_UIDVALIDITY_NEXT);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, now_unix());
	if (sqlite3_step(st) != SQLITE_ROW) {
		store_sq_log_error(sq, "uidvalidity");
		sqlite3_reset(st);
		return STORE_IOERR;
	}
	int64_t uidvalidity = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (uidvalidity <= 0 || uidvalidity > UINT32_MAX) {
		log_error("store", "msg=\"uidvalidity out of range\" value=%lld", (long long)uidvalidity);
		return STORE_IOERR;
	}

	st = store_sq_stmt(sq, SQL_MAILBOX_INSERT);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, special_use ? special_use : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, uidvalidity);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return STORE_EXISTS;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "mailbox insert");
		return STORE_IOERR;
	}
	return STORE_OK;
}

static void mailbox_from_row(sqlite3_stmt *st, struct store_mailbox *out)
{
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(st, 0);
	snprintf(out->name, sizeof out->name, "%s", store_sq_text(st, 1));
	snprintf(out->special_use, sizeof out->special_use, "%s", store_sq_text(st, 2));
	out->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
	out->uidnext = (uint32_t)sqlite3_column_int64(st, 4);
	out->highestmodseq = (uint64_t)sqlite3_column_int64(st, 5);
	out->messages = (uint32_t)sqlite3_column_int64(st, 6);
}

enum store_status store_sq_mailbox_get(struct store *s, int64_t account_id, const char *name,
				       struct store_mailbox *out)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	memset(out, 0, sizeof *out);
	if (!name || !*name)
		return STORE_INVALID;
	if (ascii_ieq(name, strlen(name), "INBOX"))
		name = "INBOX";
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_GET);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	enum store_status status;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		mailbox_from_row(st, out);
		status = STORE_OK;
	} else if (rc == SQLITE_DONE) {
		status = STORE_NOTFOUND;
	} else {
		store_sq_log_error(sq, "mailbox get");
		status = STORE_IOERR;
	}
	sqlite3_reset(st);
	return status;
}

/* 1: the row exists, 0: it does not, -1: error. */
static int row_exists(struct store_sq *sq, const char *sql, int64_t id)
{
	sqlite3_stmt *st = store_sq_stmt(sq, sql);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	store_sq_log_error(sq, "existence check");
	return -1;
}

enum store_status store_sq_mailbox_list(struct store *s, int64_t account_id, store_mailbox_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	int exists = row_exists(sq, SQL_ACCOUNT_EXISTS, account_id);
	if (exists <= 0)
		return exists == 0 ? STORE_NOTFOUND : STORE_IOERR;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_LIST);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	/* Collected first, so that the callback may use the store freely. */
	struct store_mailbox *list = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		list = xrealloc(list, (n + 1) * sizeof *list);
		mailbox_from_row(st, &list[n++]);
	}
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "mailbox list");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < n && status == STORE_OK; i++)
		cb(ctx, &list[i]);
	free(list);
	return status;
}

/*
 * Streams rows to the callback (a mailbox may hold a great many messages),
 * inside one read transaction.  So the callback must not call
 * store_message_list on the same handle; other calls are fine.
 */
enum store_status store_sq_message_list(struct store *s, int64_t mailbox_id, store_message_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	int exists = row_exists(sq, SQL_MAILBOX_EXISTS, mailbox_id);
	if (exists <= 0)
		return exists == 0 ? STORE_NOTFOUND : STORE_IOERR;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MESSAGE_LIST);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_message m = {
			.uid = (uint32_t)sqlite3_column_int64(st, 0),
			.modseq = (uint64_t)sqlite3_column_int64(st, 1),
			.flags = (uint32_t)sqlite3_column_int64(st, 2),
			.keywords = store_sq_text(st, 3),
			.internaldate = sqlite3_column_int64(st, 4),
			.size = (uint64_t)sqlite3_column_int64(st, 5),
			.from = store_sq_text(st, 6),
			.subject = store_sq_text(st, 7),
		};
		cb(ctx, &m);
	}
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "message list");
		status = STORE_IOERR;
	}
	sqlite3_reset(st);
	return status;
}

enum store_status store_sq_message_open(struct store *s, int64_t mailbox_id, uint32_t uid, int *fd,
					uint64_t *size)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	*fd = -1;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MESSAGE_BLOB);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			store_sq_log_error(sq, "message lookup");
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? STORE_NOTFOUND : STORE_IOERR;
	}
	char blob_id[SQ_BLOB_ID_LEN + 1];
	snprintf(blob_id, sizeof blob_id, "%s", store_sq_text(st, 0));
	uint64_t msg_size = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);

	char path[SQ_PATH_MAX];
	if (!store_sq_blob_id_valid(blob_id) || !store_sq_blob_path(sq, blob_id, path, sizeof path)) {
		log_error("store", "msg=\"bad blob id in index\" mailbox=%lld uid=%u", (long long)mailbox_id, uid);
		return STORE_IOERR;
	}
	int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0) {
		log_error("store", "msg=\"cannot open blob\" path=%s err=%s", lq(path), lq(strerror(errno)));
		return STORE_IOERR;
	}
	*fd = f;
	*size = msg_size;
	return STORE_OK;
}
