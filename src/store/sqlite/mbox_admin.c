/*
 * mbox_admin.c — creating, deleting, renaming and subscribing mailboxes
 * (SQLite backend), each in one transaction.
 *
 * The hierarchy is in the names only ('/' separated; there is no parent
 * column): the children of "a" are the names in ["a/", "a0"), '0' being
 * the octet after '/', which the (account_id, name) index answers
 * directly.  Every mailbox's parents exist, because create and rename make
 * the missing ones and delete refuses a mailbox that has children.
 */
#include "store/sqlite/sq.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_ACCOUNT_EXISTS[] = "SELECT id FROM accounts WHERE id = ?1";
static const char SQL_MAILBOX_ID[] = "SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2";
static const char SQL_HAS_CHILDREN[] =
	"SELECT 1 FROM mailboxes WHERE account_id = ?1 AND name > ?2 || '/' AND name < ?2 || '0' LIMIT 1";
static const char SQL_MAILBOX_DELETE[] = "DELETE FROM mailboxes WHERE id = ?1";
/* substr and length both count characters: consistent for UTF-8 names */
static const char SQL_MAILBOX_RENAME[] =
	"UPDATE mailboxes SET name = ?3 || substr(name, length(?2) + 1)"
	" WHERE account_id = ?1 AND (name = ?2 OR (name > ?2 || '/' AND name < ?2 || '0'))";
static const char SQL_SUBSCRIBE[] = "INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?1, ?2)";
static const char SQL_UNSUBSCRIBE[] = "DELETE FROM subscriptions WHERE account_id = ?1 AND name = ?2";
/* A subscription follows its mailbox's rename, children along (as Dovecot's do). */
static const char SQL_SUBSCRIPTIONS_RENAME[] =
	"UPDATE OR REPLACE subscriptions SET name = ?3 || substr(name, length(?2) + 1)"
	" WHERE account_id = ?1 AND (name = ?2 OR (name > ?2 || '/' AND name < ?2 || '0'))";
static const char SQL_SUBSCRIPTIONS[] = "SELECT name FROM subscriptions WHERE account_id = ?1 ORDER BY name";

static const char *const special_uses[] = {
	"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash", "\\All", "\\Flagged",
};

/* > 0 the mailbox's id, 0 none, -1 error */
static int64_t mailbox_id(struct store_sq *sq, int64_t account_id, const char *name)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_ID);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	return store_sq_step_id(sq, st, "mailbox lookup");
}

/* 1 has children, 0 none, -1 error */
static int has_children(struct store_sq *sq, int64_t account_id, const char *name)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_HAS_CHILDREN);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int64_t r = store_sq_step_id(sq, st, "mailbox children");
	return r < 0 ? -1 : r > 0;
}

/* Create every missing parent of name (normalised), without special-use. */
static enum store_status create_parents(struct store_sq *sq, int64_t account_id, const char *name)
{
	char parent[STORE_MAILBOX_NAME_MAX + 1];
	for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
		size_t n = (size_t)(p - name);
		memcpy(parent, name, n);
		parent[n] = '\0';
		int64_t id = mailbox_id(sq, account_id, parent);
		if (id < 0)
			return STORE_IOERR;
		if (id > 0)
			continue;
		enum store_status status = store_sq_mailbox_insert(sq, account_id, parent, "", NULL);
		if (status != STORE_OK)
			return status;
	}
	return STORE_OK;
}

static bool special_use_valid(const char *su)
{
	if (!su || !*su)
		return true;
	for (size_t i = 0; i < ARRAY_LEN(special_uses); i++)
		if (strcmp(su, special_uses[i]) == 0)
			return true;
	return false;
}

enum store_status store_sq_mailbox_create(struct store *s, int64_t account_id, const char *name,
					  const char *special_use)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	if (!name || !store_name_mailbox(name, norm) || !special_use_valid(special_use))
		return STORE_INVALID;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = store_sq_row_check(sq, SQL_ACCOUNT_EXISTS, account_id);
	if (status == STORE_OK) {
		int64_t id = mailbox_id(sq, account_id, norm);
		status = id > 0 ? STORE_EXISTS : id < 0 ? STORE_IOERR : STORE_OK;
	}
	if (status == STORE_OK)
		status = create_parents(sq, account_id, norm);
	if (status == STORE_OK)
		status = store_sq_mailbox_insert(sq, account_id, norm, special_use ? special_use : "", NULL);
	if (status == STORE_OK && !store_sq_commit(sq))
		status = STORE_IOERR;
	if (status != STORE_OK) {
		store_sq_rollback(sq);
		return status;
	}
	log_info("store", "msg=\"mailbox created\" account=%lld mailbox=%s", (long long)account_id, lq(norm));
	return STORE_OK;
}

enum store_status store_sq_mailbox_delete(struct store *s, int64_t account_id, const char *name)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	if (!name || !store_name_mailbox(name, norm) || store_name_is_inbox(norm))
		return STORE_INVALID;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	int64_t id = mailbox_id(sq, account_id, norm);
	if (id <= 0) {
		status = id == 0 ? STORE_NOTFOUND : STORE_IOERR;
		goto fail;
	}
	int children = has_children(sq, account_id, norm);
	if (children != 0) {
		status = children > 0 ? STORE_INUSE : STORE_IOERR;
		goto fail;
	}
	/* the trigger mailboxes_delete takes the messages first; expunged rows cascade */
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_DELETE);
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (!store_sq_step_done(sq, st, "mailbox delete") || !store_sq_commit(sq))
		goto fail;
	log_info("store", "msg=\"mailbox deleted\" account=%lld mailbox=%s", (long long)account_id, lq(norm));
	store_sq_blob_gc(sq);
	store_notify(id);
	return STORE_OK;
fail:
	store_sq_rollback(sq);
	return status;
}

/*
 * RENAME INBOX (RFC 9051 §6.3.9): a new mailbox takes every message of
 * INBOX (new UIDs there, fresh UIDVALIDITY) and INBOX stays, empty, its
 * messages expunged.  INBOX's children are not renamed.
 */
static enum store_status rename_inbox(struct store_sq *sq, int64_t account_id, int64_t inbox, const char *to)
{
	int64_t dst;
	size_t ncopied, ngone;
	uint32_t *gone = NULL;
	uint64_t modseq;
	enum store_status status = create_parents(sq, account_id, to);
	if (status == STORE_OK)
		status = store_sq_mailbox_insert(sq, account_id, to, "", &dst);
	if (status == STORE_OK)
		status = store_sq_copy_rows(sq, inbox, dst, NULL, 0, NULL, &ncopied);
	if (status == STORE_OK)
		status = store_sq_expunge_rows(sq, inbox, NULL, 0, false, &gone, &ngone, &modseq);
	free(gone);
	return status;
}

enum store_status store_sq_mailbox_rename(struct store *s, int64_t account_id, const char *from, const char *to)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char f[STORE_MAILBOX_NAME_MAX + 1], t[STORE_MAILBOX_NAME_MAX + 1];
	if (!from || !to || !store_name_mailbox(from, f) || !store_name_mailbox(to, t))
		return STORE_INVALID;
	size_t fn = strlen(f);
	bool inbox = store_name_is_inbox(f);
	/* to inside from; INBOX keeps its children, so INBOX/x is a fine new name for it */
	if (!inbox && strncmp(t, f, fn) == 0 && t[fn] == '/')
		return STORE_INVALID;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	int64_t id = mailbox_id(sq, account_id, f);
	if (id <= 0) {
		status = id == 0 ? STORE_NOTFOUND : STORE_IOERR;
		goto fail;
	}
	int64_t exists = mailbox_id(sq, account_id, t);
	if (exists != 0) {
		status = exists > 0 ? STORE_EXISTS : STORE_IOERR;
		goto fail;
	}
	if (inbox) {
		status = rename_inbox(sq, account_id, id, t);
		if (status != STORE_OK)
			goto fail;
	} else {
		status = create_parents(sq, account_id, t);
		if (status != STORE_OK)
			goto fail;
		sqlite3_stmt *st = store_sq_stmt(sq, SQL_MAILBOX_RENAME);
		status = STORE_IOERR;
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, account_id);
		sqlite3_bind_text(st, 2, f, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_CONSTRAINT_UNIQUE) {
			status = STORE_EXISTS;  /* a child's new name is taken */
			goto fail;
		}
		if (rc != SQLITE_DONE) {
			store_sq_log_error(sq, "mailbox rename");
			goto fail;
		}
		st = store_sq_stmt(sq, SQL_SUBSCRIPTIONS_RENAME);
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, account_id);
		sqlite3_bind_text(st, 2, f, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
		if (!store_sq_step_done(sq, st, "subscriptions rename"))
			goto fail;
	}
	if (!store_sq_commit(sq)) {
		status = STORE_IOERR;
		goto fail;
	}
	log_info("store", "msg=\"mailbox renamed\" account=%lld from=%s to=%s", (long long)account_id, lq(f), lq(t));
	if (inbox)
		store_notify(id);
	return STORE_OK;
fail:
	store_sq_rollback(sq);
	return status;
}

/*
 * SUBSCRIBE needs the mailbox to exist (NOTFOUND otherwise); UNSUBSCRIBE
 * takes any subscribed name, its mailbox gone or not.
 */
enum store_status store_sq_mailbox_subscribe(struct store *s, int64_t account_id, const char *name, bool on)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	if (!name || !store_name_mailbox(name, norm))
		return STORE_INVALID;
	int64_t id = mailbox_id(sq, account_id, norm);
	if (id < 0)
		return STORE_IOERR;
	if (on && id == 0)
		return STORE_NOTFOUND;
	sqlite3_stmt *st = store_sq_stmt(sq, on ? SQL_SUBSCRIBE : SQL_UNSUBSCRIBE);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, norm, -1, SQLITE_STATIC);
	if (!store_sq_step_done(sq, st, "mailbox subscribe"))
		return STORE_IOERR;
	return id > 0 || sqlite3_changes(sq->db) ? STORE_OK : STORE_NOTFOUND;
}

enum store_status store_sq_subscriptions(struct store *s, int64_t account_id, store_name_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_SUBSCRIPTIONS);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "subscriptions");
		return STORE_IOERR;
	}
	return STORE_OK;
}
