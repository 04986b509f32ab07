/*
 * tlsrpt.c — TLS reporting results (RFC 8460) in the SQLite backend: the
 * SMTP client records one outcome per connection (an UPSERT that adds to
 * the row's count, schema 5), the daily reporter lists what is pending,
 * reads one day and domain, and deletes it once reported.
 *
 * Every string is cut to its STORE_TLSRPT_*_MAX before it is bound, the
 * multi-line ones at a line boundary, so that the primary key stays
 * bounded whatever the DNS or a policy host served.
 */
#include "store/sqlite/sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_TLSRPT_UPSERT[] =
	"INSERT INTO tlsrpt (day, domain, policy_type, policy_strings, mx_hosts, result_type, sending_ip,"
	" receiving_mx, receiving_ip, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
	" ON CONFLICT (day, domain, policy_type, policy_strings, result_type, sending_ip, receiving_mx,"
	" receiving_ip) DO UPDATE SET count = count + excluded.count, mx_hosts = excluded.mx_hosts";
static const char SQL_TLSRPT_PENDING[] =
	"SELECT day, domain, sum(CASE WHEN result_type = '' THEN count ELSE 0 END),"
	" sum(CASE WHEN result_type <> '' THEN count ELSE 0 END)"
	" FROM tlsrpt GROUP BY day, domain ORDER BY day, domain LIMIT ?1";
static const char SQL_TLSRPT_ROWS[] =
	"SELECT policy_type, policy_strings, mx_hosts, result_type, sending_ip, receiving_mx, receiving_ip, count"
	" FROM tlsrpt WHERE day = ?1 AND domain = ?2"
	" ORDER BY policy_type, policy_strings, result_type <> '', result_type, receiving_mx, receiving_ip, sending_ip";
static const char SQL_TLSRPT_DELETE[] = "DELETE FROM tlsrpt WHERE day = ?1 AND domain = ?2";

/* s cut to at most max octets; with lines, at the last '\n' boundary that fits. */
static int bound_len(const char *s, size_t max, bool lines)
{
	size_t n = s ? strlen(s) : 0;
	if (n <= max)
		return (int)n;
	if (!lines)
		return (int)max;
	size_t cut = max;
	while (cut > 0 && s[cut] != '\n')
		cut--;
	return (int)cut;
}

static void bind_bounded(sqlite3_stmt *st, int col, const char *s, size_t max, bool lines)
{
	sqlite3_bind_text(st, col, s ? s : "", bound_len(s, max, lines), SQLITE_STATIC);
}

enum store_status store_sq_tlsrpt_record(struct store *s, const struct store_tlsrpt_result *r)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	if (!store_sq_report_day_valid(r->day) || !r->domain || !r->domain[0] ||
	    strlen(r->domain) > STORE_TLSRPT_DOMAIN_MAX ||
	    !r->policy_type || !r->policy_type[0] || r->count == 0 || r->count > INT32_MAX)
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_TLSRPT_UPSERT);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, r->day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->domain, -1, SQLITE_STATIC);
	bind_bounded(st, 3, r->policy_type, STORE_TLSRPT_TYPE_MAX, false);
	bind_bounded(st, 4, r->policy_strings, STORE_TLSRPT_POLICY_MAX, true);
	bind_bounded(st, 5, r->mx_hosts, STORE_TLSRPT_MX_MAX, true);
	bind_bounded(st, 6, r->result_type, STORE_TLSRPT_TYPE_MAX, false);
	bind_bounded(st, 7, r->sending_ip, STORE_TLSRPT_IP_MAX, false);
	bind_bounded(st, 8, r->receiving_mx, STORE_TLSRPT_HOST_MAX, false);
	bind_bounded(st, 9, r->receiving_ip, STORE_TLSRPT_IP_MAX, false);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)r->count);
	return store_sq_step_done(sq, st, "tlsrpt record") ? STORE_OK : STORE_IOERR;
}

struct pending_row {
	char day[STORE_TLSRPT_DAY_LEN + 1];
	char *domain;
	uint64_t successes, failures;
};

enum store_status store_sq_tlsrpt_pending(struct store *s, size_t limit, store_tlsrpt_pending_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_TLSRPT_PENDING);
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
		p->successes = (uint64_t)sqlite3_column_int64(st, 2);
		p->failures = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	enum store_status status = STORE_OK;
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "tlsrpt pending");
		status = STORE_IOERR;
	}
	for (size_t i = 0; i < n; i++) {
		if (status == STORE_OK) {
			struct store_tlsrpt_pending p = { rows[i].day, rows[i].domain, rows[i].successes, rows[i].failures };
			cb(ctx, &p);
		}
		free(rows[i].domain);
	}
	free(rows);
	return status;
}

enum store_status store_sq_tlsrpt_rows(struct store *s, const char *day, const char *domain,
				       store_tlsrpt_row_cb cb, void *ctx)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	if (!store_sq_report_day_valid(day) || !domain)
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_TLSRPT_ROWS);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	/*
	 * Streamed: the callback only reads what it is given (the reporter
	 * builds JSON from it).  A day's rows for one domain are few: one per
	 * distinct outcome.
	 */
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_tlsrpt_result r = {
			.day = day,
			.domain = domain,
			.policy_type = store_sq_text(st, 0),
			.policy_strings = store_sq_text(st, 1),
			.mx_hosts = store_sq_text(st, 2),
			.result_type = store_sq_text(st, 3),
			.sending_ip = store_sq_text(st, 4),
			.receiving_mx = store_sq_text(st, 5),
			.receiving_ip = store_sq_text(st, 6),
			.count = (uint64_t)sqlite3_column_int64(st, 7),
		};
		cb(ctx, &r);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "tlsrpt rows");
		return STORE_IOERR;
	}
	return STORE_OK;
}

enum store_status store_sq_tlsrpt_delete(struct store *s, const char *day, const char *domain, uint64_t *removed)
{
	return store_sq_report_delete((struct store_sq *)(void *)s, SQL_TLSRPT_DELETE, "tlsrpt delete", day, domain,
				      removed);
}
