/*
 * report_rows.c — what the report tables (tlsrpt.c, dmarcrpt.c) share in
 * the SQLite backend: rows keyed by a UTC day and a domain, checked and
 * deleted the same way once their report went out.
 */
#include "store/sqlite/sq.h"

#include <string.h>

bool store_sq_report_day_valid(const char *day)
{
	if (!day || strlen(day) != 10)
		return false;
	for (size_t i = 0; i < 10; i++) {
		bool dash = i == 4 || i == 7;
		if (dash ? day[i] != '-' : (day[i] < '0' || day[i] > '9'))
			return false;
	}
	return true;
}

enum store_status store_sq_report_delete(struct store_sq *sq, const char *sql, const char *what, const char *day,
					 const char *domain, uint64_t *removed)
{
	if (removed)
		*removed = 0;
	if (!store_sq_report_day_valid(day) || !domain)
		return STORE_INVALID;
	sqlite3_stmt *st = store_sq_stmt(sq, sql);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	if (!store_sq_step_done(sq, st, what))
		return STORE_IOERR;
	if (removed)
		*removed = (uint64_t)sqlite3_changes(sq->db);
	return STORE_OK;
}
