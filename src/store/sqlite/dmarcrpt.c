/*
 * dmarcrpt.c — DMARC aggregate report rows (RFC 7489 §7.2) in the SQLite
 * backend: each SMTP loop flushes its in-memory counts (one transaction
 * for all of them, an UPSERT per row, schema 6), the daily reporter lists
 * what is pending, reads one day and domain, and deletes it once
 * reported.  Every string is cut to its STORE_DMARCRPT_*_MAX before it is
 * bound, so the primary key stays bounded whatever a sender put in.
 */
#include "store/sqlite/sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_DMARCRPT_UPSERT[] =
	"INSERT INTO dmarcrpt (day, domain, source_ip, header_from, envelope_from, disposition, eval_dkim,"
	" eval_spf, dkim_domain, dkim_result, spf_result, published, rua, count)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
	" ON CONFLICT (day, domain, source_ip, header_from, envelope_from, disposition, eval_dkim, eval_spf,"
	" dkim_domain, dkim_result, spf_result) DO UPDATE SET count = count + excluded.count,"
	" published = excluded.published, rua = excluded.rua";
static const char SQL_DMARCRPT_PENDING[] =
	"SELECT day, domain, sum(count) FROM dmarcrpt GROUP BY day, domain ORDER BY day, domain LIMIT ?1";
static const char SQL_DMARCRPT_ROWS[] =
	"SELECT source_ip, header_from, envelope_from, disposition, eval_dkim, eval_spf, dkim_domain,"
	" dkim_result, spf_result, published, rua, count FROM dmarcrpt WHERE day = ?1 AND domain = ?2"
	" ORDER BY source_ip, header_from, envelope_from, disposition, dkim_domain, dkim_result, spf_result";
static const char SQL_DMARCRPT_DELETE[] = "DELETE FROM dmarcrpt WHERE day = ?1 AND domain = ?2";

static void bind_cut(sqlite3_stmt *st, int col, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	sqlite3_bind_text(st, col, s ? s : "", (int)(n < max ? n : max), SQLITE_STATIC);
}

static bool row_valid(const struct store_dmarcrpt_row *r)
{
	return store_sq_report_day_valid(r->day) && r->domain && r->domain[0] &&
	       strlen(r->domain) <= STORE_DMARCRPT_DOMAIN_MAX &&
	       r->header_from && r->source_ip && r->disposition && r->eval_dkim && r->eval_spf && r->count > 0 &&
	       r->count <= INT32_MAX;
}

enum store_status store_sq_dmarcrpt_record(struct store *s, const struct store_dmarcrpt_row *rows, size_t n)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	for (size_t i = 0; i < n; i++)
		if (!row_valid(&rows[i]))
			return STORE_INVALID;
	if (n == 0)
		return STORE_OK;
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	for (size_t i = 0; i < n; i++) {
		const struct store_dmarcrpt_row *r = &rows[i];
		sqlite3_stmt *st = store_sq_stmt(sq, SQL_DMARCRPT_UPSERT);
		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, r->day, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->domain, -1, SQLITE_STATIC);
		bind_cut(st, 3, r->source_ip, STORE_DMARCRPT_IP_MAX);
		bind_cut(st, 4, r->header_from, STORE_DMARCRPT_DOMAIN_MAX);
		bind_cut(st, 5, r->envelope_from, STORE_DMARCRPT_DOMAIN_MAX);
		bind_cut(st, 6, r->disposition, STORE_DMARCRPT_WORD_MAX);
		bind_cut(st, 7, r->eval_dkim, STORE_DMARCRPT_WORD_MAX);
		bind_cut(st, 8, r->eval_spf, STORE_DMARCRPT_WORD_MAX);
		bind_cut(st, 9, r->dkim_domain, STORE_DMARCRPT_DOMAIN_MAX);
		bind_cut(st, 10, r->dkim_result, STORE_DMARCRPT_WORD_MAX);
		bind_cut(st, 11, r->spf_result, STORE_DMARCRPT_WORD_MAX);
		bind_cut(st, 12, r->published, STORE_DMARCRPT_PUBLISHED_MAX);
		bind_cut(st, 13, r->rua, STORE_DMARCRPT_RUA_MAX);
		sqlite3_bind_int64(st, 14, (sqlite3_int64)r->count);
		if (!store_sq_step_done(sq, st, "dmarcrpt record"))
			goto fail;
	}
	return store_sq_commit(sq) ? STORE_OK : STORE_IOERR;
fail:
	store_sq_rollback(sq);
	return STORE_IOERR;
}

struct pending_row {
	char day[11];
	char *domain;
	uint64_t messages;
};

enum store_status store_sq_dmarcrpt_pending(struct store *s, size_t limit, store_dmarcrpt_pending_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_DMARCRPT_PENDING);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, limit == 0 || limit > INT32_MAX ? -1 : (sqlite3_int64)limit);
	/* Collected first, so that the callback may use the store (delete what it reported). */
	struct pending_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			rows = xrealloc(rows, cap * sizeof *rows);
		}
		struct pending_row *p = &rows[n++];
		snprintf(p->day, sizeof p->day, "%s", store_sq_text(st, 0));
		p->domain = xstrdup(store_sq_text(st, 1));
		p->messages = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "dmarcrpt pending");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < n; i++) {
		if (status == STORE_OK) {
			struct store_dmarcrpt_pending p = { rows[i].day, rows[i].domain, rows[i].messages };
			cb(ctx, &p);
		}
		free(rows[i].domain);
	}
	free(rows);
	return status;
}

enum store_status store_sq_dmarcrpt_rows(struct store *s, const char *day, const char *domain,
					 store_dmarcrpt_row_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	if (!store_sq_report_day_valid(day) || !domain)
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_DMARCRPT_ROWS);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	/* Streamed: the callback only copies what it is given. */
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_dmarcrpt_row r = {
			.day = day,
			.domain = domain,
			.source_ip = store_sq_text(st, 0),
			.header_from = store_sq_text(st, 1),
			.envelope_from = store_sq_text(st, 2),
			.disposition = store_sq_text(st, 3),
			.eval_dkim = store_sq_text(st, 4),
			.eval_spf = store_sq_text(st, 5),
			.dkim_domain = store_sq_text(st, 6),
			.dkim_result = store_sq_text(st, 7),
			.spf_result = store_sq_text(st, 8),
			.published = store_sq_text(st, 9),
			.rua = store_sq_text(st, 10),
			.count = (uint64_t)sqlite3_column_int64(st, 11),
		};
		cb(ctx, &r);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "dmarcrpt rows");
		return STORE_IOERR;
	}
	return STORE_OK;
}

enum store_status store_sq_dmarcrpt_delete(struct store *s, const char *day, const char *domain, uint64_t *removed)
{
	return store_sq_report_delete((struct store_sq *)(void *)s, SQL_DMARCRPT_DELETE, "dmarcrpt delete", day,
				      domain, removed);
}
