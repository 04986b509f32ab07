/*
 * quota.c — account quotas (SQLite backend).  Limits are accounts.
 * quota_storage / quota_messages (0 = unlimited); usage is accounts.
 * used_storage / used_messages, kept by triggers on messages (schema.c),
 * so that every check is one row read even on a 100,000-message account.
 *
 * Who checks: SMTP asks store_quota_check at RCPT time, to refuse early;
 * the writer (every delivery and APPEND) and COPY check again inside their
 * transaction with store_sq_quota_verify, with the real size.
 */
#include "store/sqlite/sq.h"

#include <string.h>

#include "lib/log.h"

static const char SQL_QUOTA_GET[] =
	"SELECT used_storage, quota_storage, used_messages, quota_messages FROM accounts WHERE id = ?1";
static const char SQL_QUOTA_SET[] =
	"UPDATE accounts SET quota_storage = ?3, quota_messages = ?4"
	" WHERE domain_id = (SELECT id FROM domains WHERE name = ?1) AND localpart = ?2";

static int64_t clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

enum store_status store_sq_quota_get(struct store *s, int64_t account_id, struct store_quota *out)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUOTA_GET);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	int rc = sqlite3_step(st);
	enum store_status status = STORE_OK;
	if (rc == SQLITE_ROW) {
		/* negative only if a counter were ever wrong: never report a wrapped-around number */
		int64_t v;
		out->storage_used = (v = sqlite3_column_int64(st, 0)) > 0 ? (uint64_t)v : 0;
		out->storage_limit = (v = sqlite3_column_int64(st, 1)) > 0 ? (uint64_t)v : 0;
		out->messages_used = (v = sqlite3_column_int64(st, 2)) > 0 ? (uint64_t)v : 0;
		out->messages_limit = (v = sqlite3_column_int64(st, 3)) > 0 ? (uint64_t)v : 0;
	} else if (rc == SQLITE_DONE) {
		status = STORE_NOTFOUND;
	} else {
		store_sq_log_error(sq, "quota get");
		status = STORE_IOERR;
	}
	sqlite3_reset(st);
	return status;
}

enum store_status store_sq_quota_set(struct store *s, const char *address, uint64_t storage, uint64_t messages)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a;
	if (!address || !store_name_address(address, &a))
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUOTA_SET);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, a.domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a.local, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, clamp(storage));
	sqlite3_bind_int64(st, 4, clamp(messages));
	if (!store_sq_step_done(sq, st, "quota set"))
		return STORE_IOERR;
	if (sqlite3_changes(sq->db) == 0)
		return STORE_NOTFOUND;
	log_info("store", "msg=\"quota set\" account=%s@%s storage=%llu messages=%llu", lq(a.local), lq(a.domain),
		 (unsigned long long)storage, (unsigned long long)messages);
	return STORE_OK;
}

static bool over(const struct store_quota *q, uint64_t more_storage, uint64_t more_messages)
{
	if (q->storage_limit &&
	    (q->storage_used > q->storage_limit || more_storage > q->storage_limit - q->storage_used))
		return true;
	return q->messages_limit &&
	       (q->messages_used > q->messages_limit || more_messages > q->messages_limit - q->messages_used);
}

enum store_status store_sq_quota_check(struct store *s, int64_t account_id, uint64_t size)
{
	struct store_quota q;
	enum store_status status = store_sq_quota_get(s, account_id, &q);
	if (status != STORE_OK)
		return status;
	return over(&q, size, 1) ? STORE_QUOTA : STORE_OK;
}

enum store_status store_sq_quota_verify(struct store_sq *sq, int64_t account_id)
{
	struct store_quota q;
	enum store_status status = store_sq_quota_get((struct store *)(void *)sq, account_id, &q);
	if (status != STORE_OK)
		return status;
	if (!over(&q, 0, 0))
		return STORE_OK;
	log_info("store", "msg=\"over quota\" account=%lld storage=%llu/%llu messages=%llu/%llu", (long long)account_id,
		 (unsigned long long)q.storage_used, (unsigned long long)q.storage_limit,
		 (unsigned long long)q.messages_used, (unsigned long long)q.messages_limit);
	return STORE_QUOTA;
}
