/*
 * db.c — one connection to index.db: directories, pragmas, the cache of
 * prepared statements and transaction helpers, for the rest of the SQLite
 * backend (sq.h).
 *
 * Settings, and why:
 *   journal_mode=WAL   readers (IMAP sessions, the CLI) never block the
 *                      delivery writer, nor it them;
 *   synchronous=FULL   a COMMIT is on disk when it returns, which is what
 *                      lets the writer report STORE_OK;
 *   foreign_keys=ON    the cascades and blob reference counts rely on it;
 *   busy_timeout       the CLI writes while the server runs: wait for the
 *                      other writer instead of failing at once.
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
#include "lib/xalloc.h"

static bool ensure_dir(const char *path)
{
	if (mkdir(path, 0750) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return true;
		errno = ENOTDIR;
	}
	log_error("store", "msg=\"cannot create directory\" path=%s err=%s", lq(path), lq(strerror(errno)));
	return false;
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static bool pragma(sqlite3 *db, const char *sql, const char *expect)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return false;
	int rc = sqlite3_step(st);
	bool ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
	if (ok && expect) {
		const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		ok = v && strcmp(v, expect) == 0;
	}
	sqlite3_finalize(st);
	return ok;
}

struct store_sq *store_sq_handle_open(const char *data_dir)
{
	if (!data_dir || !*data_dir) {
		log_error("store", "msg=\"no data directory\"");
		return NULL;
	}
	struct store_sq *sq = xcalloc(1, sizeof *sq);
	sq->base.ops = &store_sqlite_ops;
	sq->data_dir = xstrdup(data_dir);
	sq->spool_dir = path_join(data_dir, "spool");
	sq->blob_dir = path_join(data_dir, "blobs");
	char *db_path = path_join(data_dir, "index.db");

	if (!ensure_dir(data_dir) || !ensure_dir(sq->spool_dir) || !ensure_dir(sq->blob_dir))
		goto fail;

	int rc = sqlite3_open_v2(db_path, &sq->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("store", "msg=\"cannot open index\" path=%s err=%s", lq(db_path),
			  lq(sq->db ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc)));
		goto fail;
	}
	/*
	 * The index holds password hashes: 0640 rather than SQLite's 0644 (its
	 * -wal and -shm files take the database file's mode).  chmod, never
	 * open+close: closing any descriptor of the file would drop the POSIX
	 * locks of every other connection in this process.
	 */
	struct stat st;
	if (stat(db_path, &st) == 0 && (st.st_mode & 0777) != 0640)
		chmod(db_path, 0640);
	sqlite3_extended_result_codes(sq->db, 1);
	sqlite3_busy_timeout(sq->db, SQ_BUSY_TIMEOUT_MS);
	sqlite3_db_config(sq->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (!pragma(sq->db, "PRAGMA journal_mode=WAL", "wal") ||
	    !pragma(sq->db, "PRAGMA synchronous=FULL", NULL) ||
	    !pragma(sq->db, "PRAGMA foreign_keys=ON", NULL) ||
	    !pragma(sq->db, "PRAGMA trusted_schema=OFF", NULL)) {
		log_error("store", "msg=\"cannot configure index\" path=%s err=%s", lq(db_path),
			  lq(sqlite3_errmsg(sq->db)));
		goto fail;
	}
	if (!store_sq_migrate(sq))
		goto fail;
	free(db_path);
	return sq;
fail:
	free(db_path);
	store_sq_handle_close(sq);
	return NULL;
}

void store_sq_handle_close(struct store_sq *sq)
{
	if (!sq)
		return;
	for (size_t i = 0; i < sq->nstmts; i++)
		sqlite3_finalize(sq->stmts[i].stmt);
	free(sq->stmts);
	if (sq->db && sqlite3_close(sq->db) != SQLITE_OK)
		log_error("store", "msg=\"index close failed\" err=%s", lq(sqlite3_errmsg(sq->db)));
	free(sq->data_dir);
	free(sq->spool_dir);
	free(sq->blob_dir);
	free(sq);
}

sqlite3_stmt *store_sq_stmt(struct store_sq *sq, const char *sql)
{
	/* A few dozen statements: a linear scan over pointers costs less than one step. */
	for (size_t i = 0; i < sq->nstmts; i++) {
		if (sq->stmts[i].sql == sql) {
			sqlite3_stmt *st = sq->stmts[i].stmt;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(sq->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_error("store", "msg=\"prepare failed\" err=%s sql=%s", lq(sqlite3_errmsg(sq->db)), lq(sql));
		return NULL;
	}
	sq->stmts = xrealloc(sq->stmts, (sq->nstmts + 1) * sizeof *sq->stmts);
	sq->stmts[sq->nstmts].sql = sql;
	sq->stmts[sq->nstmts].stmt = st;
	sq->nstmts++;
	return st;
}

bool store_sq_exec(struct store_sq *sq, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(sq->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("store", "msg=\"sql failed\" err=%s sql=%s", lq(err ? err : sqlite3_errmsg(sq->db)), lq(sql));
		sqlite3_free(err);
		return false;
	}
	return true;
}

bool store_sq_begin(struct store_sq *sq)
{
	return store_sq_exec(sq, "BEGIN IMMEDIATE");
}

bool store_sq_commit(struct store_sq *sq)
{
	if (store_sq_exec(sq, "COMMIT"))
		return true;
	/* A failed COMMIT may leave the transaction open: end it so the handle stays usable. */
	store_sq_rollback(sq);
	return false;
}

void store_sq_rollback(struct store_sq *sq)
{
	if (!sqlite3_get_autocommit(sq->db))
		sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
}

void store_sq_log_error(struct store_sq *sq, const char *what)
{
	log_error("store", "msg=%s err=%s code=%d", lq(what), lq(sqlite3_errmsg(sq->db)),
		  sqlite3_extended_errcode(sq->db));
}

int64_t store_sq_step_id(struct store_sq *sq, sqlite3_stmt *st, const char *what)
{
	int64_t id;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
	} else if (rc == SQLITE_DONE) {
		id = 0;
	} else {
		store_sq_log_error(sq, what);
		id = -1;
	}
	sqlite3_reset(st);
	return id;
}

bool store_sq_step_done(struct store_sq *sq, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_sq_log_error(sq, what);
		sqlite3_reset(st);
		return false;
	}
	sqlite3_reset(st);
	return true;
}

const char *store_sq_text(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? t : "";
}
