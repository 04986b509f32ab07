/*
 * urlauth.c — the per-mailbox keys of URLAUTH (RFC 4467) (SQLite
 * backend): created by the first GENURLAUTH of a mailbox, forgotten by
 * RESETKEY (every URL authorised with them stops working), gone with
 * their mailbox.  The protocol layer does the HMAC; the store only keeps
 * the secret.
 */
#include "store/sqlite/sq.h"

#include <string.h>

static const char SQL_KEY_GET[] = "SELECT key FROM urlauth_keys WHERE mailbox_id = ?1";
static const char SQL_KEY_ADD[] = "INSERT OR IGNORE INTO urlauth_keys (mailbox_id, key) VALUES (?1, ?2)";
static const char SQL_KEY_RESET_ONE[] =
	"DELETE FROM urlauth_keys WHERE mailbox_id = ?2"
	" AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1)";
static const char SQL_KEY_RESET_ALL[] =
	"DELETE FROM urlauth_keys WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1)";

static enum store_status key_get(struct store_sq *sq, int64_t mailbox_id, uint8_t *key)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_KEY_GET);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	enum store_status status = STORE_NOTFOUND;
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_URLAUTH_KEY_LEN) {
		memcpy(key, sqlite3_column_blob(st, 0), STORE_URLAUTH_KEY_LEN);
		status = STORE_OK;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sq_log_error(sq, "urlauth key");
		status = STORE_IOERR;
	}
	sqlite3_reset(st);
	return status;
}

enum store_status store_sq_urlauth_key(struct store *s, int64_t mailbox_id, const uint8_t *new_key, uint8_t *key)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	enum store_status status = key_get(sq, mailbox_id, key);
	if (status != STORE_NOTFOUND || !new_key)
		return status;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_KEY_ADD);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_blob(st, 2, new_key, STORE_URLAUTH_KEY_LEN, SQLITE_STATIC);
	if (!store_sq_step_done(sq, st, "urlauth key insert"))
		return STORE_IOERR;
	/* Another session may have made one first (OR IGNORE): whichever is stored counts. */
	return key_get(sq, mailbox_id, key);
}

enum store_status store_sq_urlauth_reset(struct store *s, int64_t account_id, int64_t mailbox_id)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, mailbox_id > 0 ? SQL_KEY_RESET_ONE : SQL_KEY_RESET_ALL);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	if (mailbox_id > 0)
		sqlite3_bind_int64(st, 2, mailbox_id);
	return store_sq_step_done(sq, st, "urlauth reset") ? STORE_OK : STORE_IOERR;
}
