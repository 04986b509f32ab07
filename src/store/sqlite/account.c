/*
 * account.c — accounts (SQLite backend).  An account lives in a local
 * domain; its local part is kept as created and matched case-insensitively.
 * Creating one creates its standard mailboxes in the same transaction;
 * deleting one cascades to its mailboxes and messages, and the blob
 * reference-count triggers (schema.c) free the blobs nobody else uses.
 */
#include "store/sqlite/sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_ACCOUNT_ID[] =
	"SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id"
	" WHERE d.name = ?1 AND a.localpart = ?2";
static const char SQL_SUBSCRIBE_INITIAL[] =
	"INSERT OR IGNORE INTO subscriptions (account_id, name) SELECT account_id, name FROM mailboxes"
	" WHERE account_id = ?1";
static const char SQL_ACCOUNT_INSERT[] =
	"INSERT INTO accounts (domain_id, localpart, password_hash, created) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_ACCOUNT_PASSWD[] =
	"UPDATE accounts SET password_hash = ?3"
	" WHERE domain_id = (SELECT id FROM domains WHERE name = ?1) AND localpart = ?2";
static const char SQL_ACCOUNT_DELETE[] = "DELETE FROM accounts WHERE id = ?1";
static const char SQL_ACCOUNT_GET[] =
	"SELECT a.id, a.localpart, d.name, a.password_hash, a.quota_storage, a.quota_messages"
	" FROM accounts a JOIN domains d ON d.id = a.domain_id"
	" WHERE d.name = ?1 AND a.localpart = ?2";
static const char SQL_ACCOUNT_LIST[] =
	"SELECT a.id, a.localpart, d.name, a.password_hash, a.quota_storage, a.quota_messages"
	" FROM accounts a JOIN domains d ON d.id = a.domain_id"
	" WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, a.localpart";

/* The mailboxes every account starts with (RFC 6154 special-use). */
static const struct {
	const char *name;
	const char *special_use;
} initial_mailboxes[] = {
	{ "INBOX", "" },
	{ "Sent", "\\Sent" },
	{ "Drafts", "\\Drafts" },
	{ "Junk", "\\Junk" },
	{ "Trash", "\\Trash" },
	{ "Archive", "\\Archive" },
};

int64_t store_sq_account_id(struct store_sq *sq, const char *local, size_t n, const char *domain)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ACCOUNT_ID);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, local, (int)n, SQLITE_STATIC);
	return store_sq_step_id(sq, st, "account lookup");
}

enum store_status store_sq_account_add(struct store *s, const char *address, const char *password_hash)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a;
	if (!address || !store_name_address(address, &a))
		return STORE_INVALID;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	int64_t domain_id = store_sq_domain_id(sq, a.domain);
	if (domain_id <= 0) {
		status = domain_id == 0 ? STORE_NOTFOUND : STORE_IOERR;
		goto out;
	}
	int64_t id = store_sq_account_id(sq, a.local, strlen(a.local), a.domain);
	if (id != 0) {
		status = id > 0 ? STORE_EXISTS : STORE_IOERR;
		goto out;
	}
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ACCOUNT_INSERT);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, domain_id);
	sqlite3_bind_text(st, 2, a.local, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, password_hash ? password_hash : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_unix());
	if (!store_sq_step_done(sq, st, "account insert"))
		goto out;
	id = sqlite3_last_insert_rowid(sq->db);
	for (size_t i = 0; i < ARRAY_LEN(initial_mailboxes); i++) {
		status = store_sq_mailbox_insert(sq, id, initial_mailboxes[i].name,
						 initial_mailboxes[i].special_use, NULL);
		if (status != STORE_OK)
			goto out;
	}
	/* The account's first mailboxes are subscribed; later ones only when the user says so. */
	status = STORE_IOERR;
	st = store_sq_stmt(sq, SQL_SUBSCRIBE_INITIAL);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (!store_sq_step_done(sq, st, "initial subscriptions"))
		goto out;
	status = STORE_IOERR;
	if (!store_sq_commit(sq))
		goto out;
	log_info("store", "msg=\"account added\" account=%s@%s id=%lld", lq(a.local), lq(a.domain), (long long)id);
	return STORE_OK;
out:
	store_sq_rollback(sq);
	return status;
}

enum store_status store_sq_account_passwd(struct store *s, const char *address, const char *password_hash)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a;
	if (!address || !store_name_address(address, &a))
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ACCOUNT_PASSWD);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, a.domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a.local, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, password_hash ? password_hash : "", -1, SQLITE_STATIC);
	if (!store_sq_step_done(sq, st, "account passwd"))
		return STORE_IOERR;
	if (sqlite3_changes(sq->db) == 0)
		return STORE_NOTFOUND;
	log_info("store", "msg=\"password changed\" account=%s@%s", lq(a.local), lq(a.domain));
	return STORE_OK;
}

enum store_status store_sq_account_del(struct store *s, const char *address)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a;
	if (!address || !store_name_address(address, &a))
		return STORE_INVALID;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	int64_t id = store_sq_account_id(sq, a.local, strlen(a.local), a.domain);
	if (id <= 0) {
		status = id == 0 ? STORE_NOTFOUND : STORE_IOERR;
		goto out;
	}
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ACCOUNT_DELETE);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (!store_sq_step_done(sq, st, "account delete") || !store_sq_commit(sq))
		goto out;
	log_info("store", "msg=\"account deleted\" account=%s@%s id=%lld", lq(a.local), lq(a.domain), (long long)id);
	store_sq_blob_gc(sq);
	return STORE_OK;
out:
	store_sq_rollback(sq);
	return status;
}

static void account_from_row(sqlite3_stmt *st, struct store_account *out)
{
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(st, 0);
	snprintf(out->address, sizeof out->address, "%s@%s", store_sq_text(st, 1), store_sq_text(st, 2));
	out->password_hash = xstrdup(store_sq_text(st, 3));
	out->quota_storage = (uint64_t)sqlite3_column_int64(st, 4);
	out->quota_messages = (uint64_t)sqlite3_column_int64(st, 5);
}

enum store_status store_sq_account_get(struct store *s, const char *address, struct store_account *out)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a;
	memset(out, 0, sizeof *out);
	if (!address || !store_name_address(address, &a))
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ACCOUNT_GET);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, a.domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a.local, -1, SQLITE_STATIC);
	enum store_status status;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		account_from_row(st, out);
		status = STORE_OK;
	} else if (rc == SQLITE_DONE) {
		status = STORE_NOTFOUND;
	} else {
		store_sq_log_error(sq, "account get");
		status = STORE_IOERR;
	}
	sqlite3_reset(st);
	return status;
}

enum store_status store_sq_account_list(struct store *s, const char *domain, store_account_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char name[STORE_DOMAIN_MAX + 1];
	if (domain) {
		if (!store_name_domain(domain, name))
			return STORE_INVALID;
		int64_t id = store_sq_domain_id(sq, name);
		if (id <= 0)
			return id == 0 ? STORE_NOTFOUND : STORE_IOERR;
	}
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ACCOUNT_LIST);
	if (!st)
		return STORE_IOERR;
	if (domain)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	/* Collected first, so that the callback may use the store freely. */
	struct store_account *list = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		list = xrealloc(list, (n + 1) * sizeof *list);
		account_from_row(st, &list[n++]);
	}
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "account list");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < n; i++) {
		if (status == STORE_OK)
			cb(ctx, &list[i]);
		store_account_clear(&list[i]);
	}
	free(list);
	return status;
}
