/*
 * domain.c — the local domains (SQLite backend).  A domain is stored
 * lower-case; it cannot be deleted while accounts or aliases live in it.
 */
#include "store/sqlite/sq.h"

#include <stdlib.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_DOMAIN_ID[] = "SELECT id FROM domains WHERE name = ?1";
static const char SQL_DOMAIN_INSERT[] =
	"INSERT INTO domains (name, created) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";
static const char SQL_DOMAIN_USED[] =
	"SELECT EXISTS (SELECT 1 FROM accounts WHERE domain_id = ?1)"
	" OR EXISTS (SELECT 1 FROM aliases WHERE domain_id = ?1)";
static const char SQL_DOMAIN_DELETE[] = "DELETE FROM domains WHERE id = ?1";
static const char SQL_DOMAIN_LIST[] = "SELECT name FROM domains ORDER BY name";

int64_t store_sq_domain_id(struct store_sq *sq, const char *domain)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_DOMAIN_ID);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	return store_sq_step_id(sq, st, "domain lookup");
}

enum store_status store_sq_domain_add(struct store *s, const char *domain)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char name[STORE_DOMAIN_MAX + 1];
	if (!domain || !store_name_domain(domain, name))
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_DOMAIN_INSERT);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_unix());
	if (!store_sq_step_done(sq, st, "domain add"))
		return STORE_IOERR;
	if (sqlite3_changes(sq->db) == 0)
		return STORE_EXISTS;
	log_info("store", "msg=\"domain added\" domain=%s", lq(name));
	return STORE_OK;
}

enum store_status store_sq_domain_del(struct store *s, const char *domain)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char name[STORE_DOMAIN_MAX + 1];
	if (!domain || !store_name_domain(domain, name))
		return STORE_INVALID;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	int64_t id = store_sq_domain_id(sq, name);
	if (id <= 0) {
		status = id == 0 ? STORE_NOTFOUND : STORE_IOERR;
		goto out;
	}
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_DOMAIN_USED);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	bool used = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		store_sq_log_error(sq, "domain usage");
		goto out;
	}
	if (used) {
		status = STORE_INUSE;
		goto out;
	}
	st = store_sq_stmt(sq, SQL_DOMAIN_DELETE);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (!store_sq_step_done(sq, st, "domain delete") || !store_sq_commit(sq))
		goto out;
	log_info("store", "msg=\"domain deleted\" domain=%s", lq(name));
	return STORE_OK;
out:
	store_sq_rollback(sq);
	return status;
}

bool store_sq_domain_is_local(struct store *s, const char *domain)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char name[STORE_DOMAIN_MAX + 1];
	if (!domain || !store_name_domain(domain, name))
		return false;
	return store_sq_domain_id(sq, name) > 0;
}

enum store_status store_sq_domain_list(struct store *s, store_name_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_DOMAIN_LIST);
	if (!st)
		return STORE_IOERR;
	/* Collected first, so that the callback may use the store freely. */
	char **names = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(store_sq_text(st, 0));
	}
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "domain list");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < n; i++) {
		if (status == STORE_OK)
			cb(ctx, names[i]);
		free(names[i]);
	}
	free(names);
	return status;
}
