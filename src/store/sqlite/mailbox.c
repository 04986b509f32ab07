/*
 * mailbox.c — mailboxes and the messages in them (SQLite backend).
 *
 * Mailbox names are UTF-8 with '/' as hierarchy separator; "INBOX" is
 * matched case-insensitively (RFC 9051 §5.1), every other name exactly
 * (store_name_mailbox normalises).  Creating, deleting and renaming live
 * in mbox_admin.c.  The counters a STATUS needs (messages, unseen,
 * deleted, size) are columns kept by triggers (schema.c): reading them
 * never scans messages.
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
#include "store/keywords.h"

static const char SQL_UIDVALIDITY_NEXT[] =
	"UPDATE meta SET value = max(value + 1, ?1) WHERE key = 'uidvalidity' RETURNING value";
static const char SQL_MAILBOX_INSERT[] =
	"INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_MAILBOX_GET[] =
	"SELECT m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,"
	" m.messages FROM mailboxes m WHERE m.account_id = ?1 AND m.name = ?2";
static const char SQL_MAILBOX_LIST[] =
	"SELECT m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,"
	" m.messages FROM mailboxes m WHERE m.account_id = ?1 ORDER BY m.name <> 'INBOX', m.name";
static const char SQL_ACCOUNT_EXISTS[] = "SELECT 1 FROM accounts WHERE id = ?1";
static const char SQL_MAILBOX_EXISTS[] = "SELECT 1 FROM mailboxes WHERE id = ?1";
static const char SQL_MESSAGE_LIST[] =
	"SELECT uid, modseq, flags, keywords, internaldate, size, from_addr, subject"
	" FROM messages WHERE mailbox_id = ?1 ORDER BY uid";
static const char SQL_MESSAGE_BLOB[] =
	"SELECT blob_id, size FROM messages WHERE mailbox_id = ?1 AND uid = ?2";
/* children of m: names in [m.name || '/', m.name || '0'), '0' being the octet after '/' */
#define SQL_INFO_COLUMNS \
	"SELECT m.id, m.name, m.special_use," \
	" EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name)," \
	" m.uidvalidity, m.uidnext, m.highestmodseq," \
	" m.messages, m.unseen, m.deleted, m.size, m.keywords," \
	" EXISTS (SELECT 1 FROM mailboxes c WHERE c.account_id = m.account_id" \
	"  AND c.name > m.name || '/' AND c.name < m.name || '0')," \
	" m.first_recent_uid," \
	" (SELECT count(*) FROM messages r WHERE r.mailbox_id = m.id AND r.uid >= m.first_recent_uid)" \
	" FROM mailboxes m"
static const char SQL_MAILBOX_INFOS[] =
	SQL_INFO_COLUMNS " WHERE m.account_id = ?1 ORDER BY m.name <> 'INBOX', m.name";
static const char SQL_MAILBOX_INFO[] =
	SQL_INFO_COLUMNS " WHERE m.account_id = ?1 AND m.name = ?2";
static const char SQL_MAILBOX_BUMP[] =
	"UPDATE mailboxes SET highestmodseq = highestmodseq + 1, uidnext = uidnext + ?2"
	" WHERE id = ?1 RETURNING highestmodseq, uidnext - ?2, uidvalidity";
static const char SQL_MAILBOX_KEYWORDS[] = "SELECT keywords FROM mailboxes WHERE id = ?1";
static const char SQL_MAILBOX_KEYWORDS_SET[] = "UPDATE mailboxes SET keywords = ?2 WHERE id = ?1";
static const char SQL_MAILBOX_ACCOUNT[] = "SELECT account_id FROM mailboxes WHERE id = ?1";
static const char SQL_MESSAGE_RANGE[] =
	"SELECT uid, modseq, flags, keywords, internaldate, size, sent_date, envelope, body, bodystructure,"
	" parts, header_size, body_lines, subject, from_addr, blob_id"
	" FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid LIMIT ?4";

enum store_status store_sq_mailbox_insert(struct store_sq *sq, int64_t account_id, const char *name,
					  const char *special_use, int64_t *id)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_MAILBOX_NAME_MAX || !utf8_valid(name, n))
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
	if (id)
		*id = sqlite3_last_insert_rowid(sq->db);
	return STORE_OK;
}

enum store_status store_sq_mailbox_bump(struct store_sq *sq, int64_t mailbox_id, uint32_t count, uint64_t *modseq,
					uint32_t *first_uid, uint32_t *uidvalidity)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_BUMP);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, count);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			store_sq_log_error(sq, "mailbox modseq");
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? STORE_NOTFOUND : STORE_IOERR;
	}
	int64_t m = sqlite3_column_int64(st, 0);
	int64_t uid = sqlite3_column_int64(st, 1);
	int64_t uv = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	/* UIDs are 32 bits on the wire: a mailbox that ran out needs a new UIDVALIDITY (delete, re-create) */
	if (count && (uid <= 0 || uid + (int64_t)count - 1 > (int64_t)UINT32_MAX)) {
		log_error("store", "msg=\"mailbox out of uids\" mailbox=%lld", (long long)mailbox_id);
		return STORE_IOERR;
	}
	*modseq = (uint64_t)m;
	if (first_uid)
		*first_uid = (uint32_t)uid;
	if (uidvalidity)
		*uidvalidity = (uint32_t)uv;
	return STORE_OK;
}

enum store_status store_sq_mailbox_keywords_add(struct store_sq *sq, int64_t mailbox_id, const char *kw,
						struct buf *canon)
{
	struct buf tmp = BUF_INIT;
	if (!canon)
		canon = &tmp;
	buf_reset(canon);
	if (!kw || !*kw) {
		buf_free(&tmp);
		return STORE_OK;
	}
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_KEYWORDS);
	if (!st) {
		buf_free(&tmp);
		return STORE_IOERR;
	}
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			store_sq_log_error(sq, "mailbox keywords");
		sqlite3_reset(st);
		buf_free(&tmp);
		return rc == SQLITE_DONE ? STORE_NOTFOUND : STORE_IOERR;
	}
	struct buf merged = BUF_INIT;
	bool changed = false;
	bool ok = store_kw_merge(store_sq_text(st, 0), kw, &merged, canon, &changed);
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (!ok) {
		log_info("store", "msg=\"too many keywords in mailbox\" mailbox=%lld max=%d", (long long)mailbox_id,
			 STORE_MAILBOX_KEYWORDS_MAX);
		status = STORE_INVALID;
	} else if (changed) {
		st = store_sq_stmt(sq, SQL_MAILBOX_KEYWORDS_SET);
		if (!st) {
			status = STORE_IOERR;
		} else {
			sqlite3_bind_int64(st, 1, mailbox_id);
			sqlite3_bind_text(st, 2, buf_cstr(&merged), -1, SQLITE_STATIC);
			if (!store_sq_step_done(sq, st, "mailbox keywords update"))
				status = STORE_IOERR;
		}
	}
	buf_free(&merged);
	buf_free(&tmp);
	return status;
}

int64_t store_sq_mailbox_account(struct store_sq *sq, int64_t mailbox_id)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_ACCOUNT);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	return store_sq_step_id(sq, st, "mailbox account");
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
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	if (!name || !store_name_mailbox(name, norm))
		return STORE_INVALID;
	name = norm;
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

enum store_status store_sq_row_check(struct store_sq *sq, const char *sql, int64_t id)
{
	sqlite3_stmt *st = store_sq_stmt(sq, sql);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	store_sq_log_error(sq, "existence check");
	return STORE_IOERR;
}

enum store_status store_sq_mailbox_list(struct store *s, int64_t account_id, store_mailbox_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	enum store_status exists = store_sq_row_check(sq, SQL_ACCOUNT_EXISTS, account_id);
	if (exists != STORE_OK)
		return exists;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_LIST);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	/* Collected first, so that the callback may use the store freely. */
	struct store_mailbox *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {     /* doubling: one row more each time would copy O(n^2) octets */
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
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
	enum store_status exists = store_sq_row_check(sq, SQL_MAILBOX_EXISTS, mailbox_id);
	if (exists != STORE_OK)
		return exists;
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

/* ---- what IMAP and POP3 need -------------------------------------------- */

static void info_from_row(sqlite3_stmt *st, struct store_mailbox_info *out)
{
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(st, 0);
	out->name = xstrdup(store_sq_text(st, 1));
	out->special_use = xstrdup(store_sq_text(st, 2));
	out->subscribed = sqlite3_column_int(st, 3) != 0;
	out->uidvalidity = (uint32_t)sqlite3_column_int64(st, 4);
	out->uidnext = (uint32_t)sqlite3_column_int64(st, 5);
	out->highestmodseq = (uint64_t)sqlite3_column_int64(st, 6);
	out->messages = (uint32_t)sqlite3_column_int64(st, 7);
	out->unseen = (uint32_t)sqlite3_column_int64(st, 8);
	out->deleted = (uint32_t)sqlite3_column_int64(st, 9);
	out->size = (uint64_t)sqlite3_column_int64(st, 10);
	out->keywords = xstrdup(store_sq_text(st, 11));
	out->has_children = sqlite3_column_int(st, 12) != 0;
	out->first_recent_uid = (uint32_t)sqlite3_column_int64(st, 13);
	out->recent = (uint32_t)sqlite3_column_int64(st, 14);
}

static void info_clear(struct store_mailbox_info *mb)
{
	free((char *)mb->name);
	free((char *)mb->special_use);
	free((char *)mb->keywords);
}

/*
 * Rows of a bound info query, collected first so that the callback may use
 * the store freely, then reported.  STORE_NOTFOUND when there was none.
 */
static enum store_status report_infos(struct store_sq *sq, sqlite3_stmt *st, store_mailbox_info_cb cb, void *ctx)
{
	struct store_mailbox_info *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		info_from_row(st, &list[n++]);
	}
	sqlite3_reset(st);
	enum store_status status = n ? STORE_OK : STORE_NOTFOUND;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "mailbox infos");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < n; i++) {
		if (status == STORE_OK)
			cb(ctx, &list[i]);
		info_clear(&list[i]);
	}
	free(list);
	return status;
}

enum store_status store_sq_mailbox_infos(struct store *s, int64_t account_id, store_mailbox_info_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	enum store_status exists = store_sq_row_check(sq, SQL_ACCOUNT_EXISTS, account_id);
	if (exists != STORE_OK)
		return exists;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_INFOS);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	enum store_status status = report_infos(sq, st, cb, ctx);
	return status == STORE_NOTFOUND ? STORE_OK : status;   /* an account without mailboxes */
}

enum store_status store_sq_mailbox_info(struct store *s, int64_t account_id, const char *name,
					store_mailbox_info_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	if (!name || !store_name_mailbox(name, norm))
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_INFO);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, norm, -1, SQLITE_STATIC);
	return report_infos(sq, st, cb, ctx);
}

/*
 * Streams rows (a FETCH may cover a whole mailbox) inside one read
 * transaction: the callback may read through the same handle (other
 * statements) and open blobs, but must not call store_message_range on
 * it again nor change anything through it.
 */
enum store_status store_sq_message_range(struct store *s, int64_t mailbox_id, uint32_t uid_lo, uint32_t uid_hi,
					 size_t limit, store_message_data_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	enum store_status exists = store_sq_row_check(sq, SQL_MAILBOX_EXISTS, mailbox_id);
	if (exists != STORE_OK)
		return exists;
	if (uid_lo > uid_hi)
		return STORE_OK;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MESSAGE_RANGE);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid_lo);
	sqlite3_bind_int64(st, 3, uid_hi);
	sqlite3_bind_int64(st, 4, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_message_data m = {
			.uid = (uint32_t)sqlite3_column_int64(st, 0),
			.modseq = (uint64_t)sqlite3_column_int64(st, 1),
			.flags = (uint32_t)sqlite3_column_int64(st, 2),
			.keywords = store_sq_text(st, 3),
			.internaldate = sqlite3_column_int64(st, 4),
			.size = (uint64_t)sqlite3_column_int64(st, 5),
			.sent_date = sqlite3_column_int64(st, 6),
			.envelope = store_sq_text(st, 7),
			.body = store_sq_text(st, 8),
			.bodystructure = store_sq_text(st, 9),
			.parts = store_sq_text(st, 10),
			.header_size = (uint64_t)sqlite3_column_int64(st, 11),
			.body_lines = (uint64_t)sqlite3_column_int64(st, 12),
			.subject = store_sq_text(st, 13),
			.from = store_sq_text(st, 14),
			.blob_id = store_sq_text(st, 15),
		};
		if (cb(ctx, &m) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "message range");
		status = STORE_IOERR;
	}
	sqlite3_reset(st);
	return status;
}
