/*
 * date.h — RFC 5322 date-time parsing (the Date: field) to Unix time.
 *
 * Accepts the standard form and what RFC 5322 §4.3 calls obsolete, plus
 * what mailers really send: optional day of week (abbreviated or full),
 * missing seconds, two-digit years (< 50 → 20xx, otherwise 19xx) and
 * three-digit years (+1900), comments anywhere, numeric zones, UT/GMT/Z,
 * the US zones (EST ... PDT), military letters (taken as -0000 as RFC 5322
 * says), a missing zone (UTC), and the asctime() order
 * "Thu Nov 26 16:49:55 2026".  Anything else is rejected.
 */
#ifndef TERN_MAIL_DATE_H
#define TERN_MAIL_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse s[0..n); on success *t is seconds since the epoch (UTC). */
bool mail_date_parse(const char *s, size_t n, int64_t *t);
/* The same, and the zone's offset east of UTC in minutes (the day as written is day_of(t + zone * 60)). */
bool mail_date_parse_zone(const char *s, size_t n, int64_t *t, int *zone_minutes);

#endif
