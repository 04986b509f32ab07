/*
 * alias.c — aliases and their targets (SQLite backend).  An alias is
 * "local@domain" or "@domain" (catch-all, stored with an empty local part)
 * in a local domain; its targets are addresses anywhere, kept in the order
 * they were added, without duplicates.  Expansion is resolve.c's job.
 */
#include "store/sqlite/sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_ALIAS_ID[] =
	"SELECT a.id FROM aliases a JOIN domains d ON d.id = a.domain_id"
	" WHERE d.name = ?1 AND a.localpart = ?2";
static const char SQL_ALIAS_INSERT[] =
	"INSERT INTO aliases (domain_id, localpart, created) VALUES (?1, ?2, ?3)";
static const char SQL_ALIAS_NTARGETS[] = "SELECT count(*) FROM alias_targets WHERE alias_id = ?1";
static const char SQL_TARGET_INSERT[] =
	"INSERT INTO alias_targets (alias_id, target) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
static const char SQL_ALIAS_DELETE[] =
	"DELETE FROM aliases WHERE domain_id = (SELECT id FROM domains WHERE name = ?1) AND localpart = ?2";
static const char SQL_ALIAS_LIST[] =
	"SELECT a.id, a.localpart, d.name, t.target"
	" FROM aliases a JOIN domains d ON d.id = a.domain_id JOIN alias_targets t ON t.alias_id = a.id"
	" ORDER BY d.name, a.localpart, a.id, t.id";

int64_t store_sq_alias_id(struct store_sq *sq, const char *local, size_t n, const char *domain)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ALIAS_ID);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, n ? local : "", (int)n, SQLITE_STATIC);
	return store_sq_step_id(sq, st, "alias lookup");
}

static int64_t count_targets(struct store_sq *sq, int64_t alias_id)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ALIAS_NTARGETS);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, alias_id);
	int64_t n = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		store_sq_log_error(sq, "alias target count");
	sqlite3_reset(st);
	return n;
}

enum store_status store_sq_alias_add(struct store *s, const char *alias, const char *const *targets, size_t n)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a, t;
	if (!alias || !store_name_alias(alias, &a) || n == 0 || n > STORE_MAX_EXPANSION)
		return STORE_INVALID;
	for (size_t i = 0; i < n; i++)
		if (!targets[i] || !store_name_address(targets[i], &t))
			return STORE_INVALID;

	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	int64_t domain_id = store_sq_domain_id(sq, a.domain);
	if (domain_id <= 0) {
		status = domain_id == 0 ? STORE_NOTFOUND : STORE_IOERR;
		goto out;
	}
	int64_t id = store_sq_alias_id(sq, a.local, strlen(a.local), a.domain);
	if (id < 0)
		goto out;
	sqlite3_stmt *st;
	if (id == 0) {
		st = store_sq_stmt(sq, SQL_ALIAS_INSERT);
		if (!st)
			goto out;
		sqlite3_bind_int64(st, 1, domain_id);
		sqlite3_bind_text(st, 2, a.local, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_unix());
		if (!store_sq_step_done(sq, st, "alias insert"))
			goto out;
		id = sqlite3_last_insert_rowid(sq->db);
	}
	int added = 0;
	for (size_t i = 0; i < n; i++) {
		char norm[STORE_LOCAL_MAX + 1 + STORE_DOMAIN_MAX + 1];
		store_name_address(targets[i], &t);
		snprintf(norm, sizeof norm, "%s@%s", t.local, t.domain);
		st = store_sq_stmt(sq, SQL_TARGET_INSERT);
		if (!st)
			goto out;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, norm, -1, SQLITE_STATIC);
		if (!store_sq_step_done(sq, st, "alias target insert"))
			goto out;
		added += sqlite3_changes(sq->db);
	}
	if (added == 0) {
		status = STORE_EXISTS;
		goto out;
	}
	/* An alias that can never expand within the limit is refused now, not at delivery. */
	int64_t total = count_targets(sq, id);
	if (total < 0)
		goto out;
	if (total > STORE_MAX_EXPANSION) {
		status = STORE_INVALID;
		goto out;
	}
	if (!store_sq_commit(sq))
		goto out;
	log_info("store", "msg=\"alias added\" alias=%s@%s targets=%d", lq(a.local), lq(a.domain), added);
	return STORE_OK;
out:
	store_sq_rollback(sq);
	return status;
}

enum store_status store_sq_alias_del(struct store *s, const char *alias)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a;
	if (!alias || !store_name_alias(alias, &a))
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ALIAS_DELETE);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, a.domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a.local, -1, SQLITE_STATIC);
	if (!store_sq_step_done(sq, st, "alias delete"))
		return STORE_IOERR;
	if (sqlite3_changes(sq->db) == 0)
		return STORE_NOTFOUND;
	log_info("store", "msg=\"alias deleted\" alias=%s@%s", lq(a.local), lq(a.domain));
	return STORE_OK;
}

struct alias_row {
	char *alias;
	char **targets;
	size_t n;
};

enum store_status store_sq_alias_list(struct store *s, store_alias_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ALIAS_LIST);
	if (!st)
		return STORE_IOERR;
	/* Collected first (rows grouped by alias id), so that the callback may use the store. */
	struct alias_row *rows = NULL;
	size_t nrows = 0;
	int64_t last = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (nrows == 0 || id != last) {
			rows = xrealloc(rows, (nrows + 1) * sizeof *rows);
			struct alias_row *r = &rows[nrows++];
			size_t len = strlen(store_sq_text(st, 1)) + 1 + strlen(store_sq_text(st, 2)) + 1;
			r->alias = xmalloc(len);
			snprintf(r->alias, len, "%s@%s", store_sq_text(st, 1), store_sq_text(st, 2));
			r->targets = NULL;
			r->n = 0;
			last = id;
		}
		struct alias_row *r = &rows[nrows - 1];
		r->targets = xrealloc(r->targets, (r->n + 1) * sizeof *r->targets);
		r->targets[r->n++] = xstrdup(store_sq_text(st, 3));
	}
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "alias list");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < nrows; i++) {
		if (status == STORE_OK)
			cb(ctx, rows[i].alias, (const char *const *)rows[i].targets, rows[i].n);
		for (size_t j = 0; j < rows[i].n; j++)
			free(rows[i].targets[j]);
		free(rows[i].targets);
		free(rows[i].alias);
	}
	free(rows);
	return status;
}
