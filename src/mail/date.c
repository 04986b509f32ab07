/*
 * date.c — RFC 5322 date parsing; see date.h.
 *
 * The value is cut into tokens (numbers, words, signed zones, and the
 * separators ":" and ","), with comments and whitespace dropped; the
 * grammar is then matched over the tokens.  No libc time functions: the
 * civil-to-days conversion is done here so any year 1000..9999 works the
 * same everywhere.
 */
#include "mail/date.h"

#include <string.h>

#include "lib/util.h"

#define DATE_MAX_TOKENS 16
#define DATE_MAX_INPUT 256

enum dtok_type { D_NUM, D_WORD, D_ZONE, D_COLON, D_COMMA };

struct dtok {
	enum dtok_type type;
	const char *s;
	size_t len;
	int64_t num;            /* D_NUM, D_ZONE (signed minutes) */
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static size_t tokenize(const char *s, size_t n, struct dtok *t)
{
	size_t i = 0, nt = 0;
	while (i < n && nt < DATE_MAX_TOKENS) {
		char c = s[i];
		if (c == '(') {
			size_t depth = 1;
			i++;
			while (i < n && depth > 0) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')')
					depth--;
				i++;
			}
			continue;
		}
		struct dtok *k = &t[nt];
		k->s = s + i;
		if (is_digit(c)) {
			size_t j = i;
			int64_t v = 0;
			while (j < n && is_digit(s[j])) {
				if (v < 100000000)
					v = v * 10 + (s[j] - '0');
				j++;
			}
			k->type = D_NUM;
			k->num = v;
			k->len = j - i;
			i = j;
		} else if (is_alpha(c)) {
			size_t j = i;
			while (j < n && is_alpha(s[j]))
				j++;
			k->type = D_WORD;
			k->len = j - i;
			i = j;
		} else if ((c == '+' || c == '-') && i + 4 < n && is_digit(s[i + 1]) &&
			   is_digit(s[i + 2]) && is_digit(s[i + 3]) && is_digit(s[i + 4])) {
			int h = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
			int m = (s[i + 3] - '0') * 10 + (s[i + 4] - '0');
			if (m > 59)
				return 0;
			k->type = D_ZONE;
			k->num = (c == '-' ? -1 : 1) * (h * 60 + m);
			k->len = 5;
			i += 5;
		} else if (c == ':' || c == ',') {
			k->type = c == ':' ? D_COLON : D_COMMA;
			k->len = 1;
			i++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '.') {
			i++;    /* "Nov." and "26.Nov" happen */
			continue;
		} else {
			return 0;
		}
		nt++;
	}
	if (i < n)
		return 0;       /* too many tokens: not a date */
	return nt;
}

/* Whether word k is name or a prefix of it at least 3 letters long ("Nov", "Novem", "November"). */
static bool word_abbrev(const struct dtok *k, const char *name)
{
	if (k->type != D_WORD || k->len < 3 || k->len > strlen(name))
		return false;
	for (size_t i = 0; i < k->len; i++) {
		char c = k->s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (c != name[i])
			return false;
	}
	return true;
}

/* Month 1..12 from "Jan" or "January"; 0 if none. */
static int month_of(const struct dtok *k)
{
	static const char *const names[] = { "january", "february", "march", "april", "may", "june",
		"july", "august", "september", "october", "november", "december" };
	for (int m = 0; m < 12; m++)
		if (word_abbrev(k, names[m]))
			return m + 1;
	return 0;
}

static bool is_weekday(const struct dtok *k)
{
	static const char *const names[] = { "monday", "tuesday", "wednesday", "thursday",
		"friday", "saturday", "sunday" };
	for (size_t d = 0; d < 7; d++)
		if (word_abbrev(k, names[d]))
			return true;
	return false;
}

/* Zone offset in minutes from a word (or D_ZONE); false if not a zone. */
static bool zone_of(const struct dtok *k, int64_t *min)
{
	static const struct { const char *name; int off; } zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
		{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	};
	if (k->type == D_ZONE) {
		*min = k->num;
		return true;
	}
	if (k->type != D_WORD)
		return false;
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		if (ascii_ieq(k->s, k->len, zones[i].name)) {
			*min = zones[i].off;
			return true;
		}
	}
	if (k->len == 1 && k->s[0] != 'j' && k->s[0] != 'J') {
		*min = 0;       /* military zone: RFC 5322 says treat as -0000 */
		return true;
	}
	return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* time = hour ":" minute [":" second] starting at t[*i]. */
static bool parse_time(const struct dtok *t, size_t nt, size_t *i, int *h, int *mi, int *se)
{
	size_t k = *i;
	if (k + 2 >= nt || t[k].type != D_NUM || t[k + 1].type != D_COLON || t[k + 2].type != D_NUM)
		return false;
	if (t[k].len > 2 || t[k + 2].len > 2)
		return false;
	*h = (int)t[k].num;
	*mi = (int)t[k + 2].num;
	*se = 0;
	k += 3;
	if (k + 1 < nt && t[k].type == D_COLON && t[k + 1].type == D_NUM && t[k + 1].len <= 2) {
		*se = (int)t[k + 1].num;
		k += 2;
	}
	if (*h > 23 || *mi > 59 || *se > 60)
		return false;
	if (*se == 60)
		*se = 59;       /* leap second: close enough */
	*i = k;
	return true;
}

static bool year_of(const struct dtok *k, int64_t *y)
{
	if (k->type != D_NUM || k->len < 2 || k->len > 4)
		return false;
	int64_t v = k->num;
	if (k->len == 2)
		v += v < 50 ? 2000 : 1900;
	else if (k->len == 3)
		v += 1900;
	if (v < 1000 || v > 9999)
		return false;
	*y = v;
	return true;
}

bool mail_date_parse(const char *s, size_t n, int64_t *out)
{
	int zone;
	return mail_date_parse_zone(s, n, out, &zone);
}

bool mail_date_parse_zone(const char *s, size_t n, int64_t *out, int *zone_minutes)
{
	struct dtok t[DATE_MAX_TOKENS];
	if (n > DATE_MAX_INPUT)
		return false;
	size_t nt = tokenize(s, n, t);
	size_t i = 0;
	int64_t year = 0, zone = 0;
	int mon = 0, day = 0, h = 0, mi = 0, se = 0;

	if (i < nt && is_weekday(&t[i])) {
		i++;
		if (i < nt && t[i].type == D_COMMA)
			i++;
	}
	if (i < nt && t[i].type == D_NUM) {
		/* day month year time */
		if (t[i].len > 2)
			return false;
		day = (int)t[i++].num;
		if (i >= nt || !(mon = month_of(&t[i])))
			return false;
		i++;
		if (i < nt && t[i].type == D_COMMA)
			i++;
		if (i >= nt || !year_of(&t[i], &year))
			return false;
		i++;
		if (!parse_time(t, nt, &i, &h, &mi, &se))
			return false;
	} else if (i < nt && (mon = month_of(&t[i]))) {
		/* asctime: month day time year */
		i++;
		if (i >= nt || t[i].type != D_NUM || t[i].len > 2)
			return false;
		day = (int)t[i++].num;
		if (!parse_time(t, nt, &i, &h, &mi, &se))
			return false;
		if (i < nt && zone_of(&t[i], &zone))
			i++;
		if (i >= nt || !year_of(&t[i], &year))
			return false;
		i++;
	} else {
		return false;
	}
	if (i < nt) {
		if (!zone_of(&t[i], &zone))
			return false;
		i++;
		/* "+0000 (UTC)" is gone with the comment; "GMT+0100" style: take the number */
		if (i < nt && t[i].type == D_ZONE) {
			zone = t[i].num;
			i++;
		}
	}
	if (i < nt)
		return false;
	if (day < 1 || day > days_in_month(year, mon))
		return false;
	if (zone < -24 * 60 || zone > 24 * 60)
		return false;
	int64_t days = days_from_civil(year, mon, day);
	*out = days * 86400 + h * 3600 + mi * 60 + se - zone * 60;
	*zone_minutes = (int)zone;
	return true;
}
