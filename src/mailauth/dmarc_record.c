/*
 * dmarc_record.c — the _dmarc TXT record (RFC 7489 §6.3, §6.4): a DKIM
 * style tag list, v=DMARC1 first.
 *
 * The record comes from whoever controls that DNS name: every length is
 * explicit, nothing is copied unbounded, and anything odd in an optional
 * tag falls back to its default rather than voiding the policy — which is
 * what the RFC asks, and what keeps a typo in "pct" from turning
 * p=reject into no policy at all.
 */
#include "mailauth/dmarc.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* [p, e) without the folding white space around it. */
static void trim(const char **p, const char **e)
{
	while (*p < *e && is_wsp(**p))
		(*p)++;
	while (*e > *p && is_wsp((*e)[-1]))
		(*e)--;
}

static bool token_is(const char *p, size_t n, const char *word)
{
	return n == strlen(word) && strncasecmp(p, word, n) == 0;
}

/* none | quarantine | reject; UNSET when it is none of them. */
static enum dmarc_policy parse_policy(const char *p, size_t n)
{
	if (token_is(p, n, "none"))
		return DMARC_POLICY_NONE;
	if (token_is(p, n, "quarantine"))
		return DMARC_POLICY_QUARANTINE;
	if (token_is(p, n, "reject"))
		return DMARC_POLICY_REJECT;
	return DMARC_POLICY_UNSET;
}

/* Decimal digits only, at most max; false for anything else. */
static bool parse_uint(const char *p, size_t n, uint32_t max, unsigned *out)
{
	if (n == 0 || n > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* scheme ":" something, printable ASCII without spaces (RFC 3986's shape, not every rule of it). */
static bool uri_valid(const char *p, size_t n)
{
	size_t i = 0;
	if (n == 0 || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z'))
		return false;
	while (i < n && p[i] != ':') {
		char c = p[i];
		bool ok = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
			  c == '.';
		if (!ok)
			return false;
		i++;
	}
	if (i == n || i + 1 == n)
		return false;
	for (size_t k = i + 1; k < n; k++)
		if ((unsigned char)p[k] <= ' ' || (unsigned char)p[k] >= 0x7f)
			return false;
	return true;
}

/* dmarc-uri *(*WSP "," *WSP dmarc-uri), each URI optionally followed by "!" size. */
static size_t parse_uris(const char *p, size_t n, char uris[][DMARC_URI_MAX])
{
	size_t count = 0;
	const char *end = p + n;
	while (p < end && count < DMARC_URIS_MAX) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *s = p, *e = comma ? comma : end;
		trim(&s, &e);
		/* '!' never occurs in a mailto: or https: URI tern would use; it starts the size limit */
		const char *bang = memchr(s, '!', (size_t)(e - s));
		if (bang)
			e = bang;
		if (uri_valid(s, (size_t)(e - s)) && (size_t)(e - s) < DMARC_URI_MAX) {
			memcpy(uris[count], s, (size_t)(e - s));
			uris[count][e - s] = '\0';
			count++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return count;
}

static bool fo_valid(const char *p, size_t n, size_t max)
{
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("01ds:", p[i]))
			return false;
	return true;
}

enum dmarc_parse dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec)
{
	memset(rec, 0, sizeof *rec);
	rec->pct = 100;
	rec->ri = 86400;
	memcpy(rec->fo, "0", 2);

	const char *p = txt, *end = txt + len;
	bool first = true, seen_p = false, bad_sp = false;
	unsigned seen = 0;      /* one bit per known tag: the first occurrence counts */
	enum { T_P = 1, T_SP = 2, T_PCT = 4, T_ADKIM = 8, T_ASPF = 16, T_RI = 32, T_FO = 64, T_RUA = 128, T_RUF = 256 };

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *s = p, *e = semi ? semi : end;
		p = semi ? semi + 1 : end;
		trim(&s, &e);
		if (s == e) {
			if (first)
				return DMARC_RECORD_NOT_DMARC;
			continue;       /* ";;" or a trailing ";" */
		}
		const char *eq = memchr(s, '=', (size_t)(e - s));
		if (!eq) {
			if (first)
				return DMARC_RECORD_NOT_DMARC;
			continue;       /* not a tag: skipped like an unknown one */
		}
		const char *ns = s, *ne = eq, *vs = eq + 1, *ve = e;
		trim(&ns, &ne);
		trim(&vs, &ve);
		size_t nl = (size_t)(ne - ns), vl = (size_t)(ve - vs);

		if (first) {
			/* "MUST match precisely" (§6.3): the value is case-sensitive. */
			if (!token_is(ns, nl, "v") || vl != 6 || memcmp(vs, "DMARC1", 6) != 0)
				return DMARC_RECORD_NOT_DMARC;
			first = false;
			continue;
		}
		unsigned bit = token_is(ns, nl, "p") ? T_P : token_is(ns, nl, "sp") ? T_SP
			     : token_is(ns, nl, "pct") ? T_PCT : token_is(ns, nl, "adkim") ? T_ADKIM
			     : token_is(ns, nl, "aspf") ? T_ASPF : token_is(ns, nl, "ri") ? T_RI
			     : token_is(ns, nl, "fo") ? T_FO : token_is(ns, nl, "rua") ? T_RUA
			     : token_is(ns, nl, "ruf") ? T_RUF : 0;
		if (bit == 0 || (seen & bit))
			continue;
		seen |= bit;
		switch (bit) {
		case T_P:
			rec->p = parse_policy(vs, vl);
			seen_p = rec->p != DMARC_POLICY_UNSET;
			break;
		case T_SP:
			rec->sp = parse_policy(vs, vl);
			bad_sp = rec->sp == DMARC_POLICY_UNSET;
			break;
		case T_PCT:
			if (!parse_uint(vs, vl, 100, &rec->pct))
				rec->pct = 100;
			break;
		case T_ADKIM:
		case T_ASPF: {
			bool strict = token_is(vs, vl, "s");
			if (bit == T_ADKIM)
				rec->adkim_strict = strict;
			else
				rec->aspf_strict = strict;
			break;
		}
		case T_RI:
			if (!parse_uint(vs, vl, UINT32_MAX, &rec->ri))
				rec->ri = 86400;
			break;
		case T_FO:
			if (fo_valid(vs, vl, sizeof rec->fo)) {
				memcpy(rec->fo, vs, vl);
				rec->fo[vl] = '\0';
			}
			break;
		case T_RUA:
			rec->nrua = parse_uris(vs, vl, rec->rua);
			break;
		case T_RUF:
			rec->nruf = parse_uris(vs, vl, rec->ruf);
			break;
		}
	}
	if (first)
		return DMARC_RECORD_NOT_DMARC;
	if (!seen_p || bad_sp) {
		/* §6.6.3 step 6: with somewhere to report to, a policy of none; else nothing. */
		if (rec->nrua == 0)
			return DMARC_RECORD_INVALID;
		rec->p = DMARC_POLICY_NONE;
		rec->sp = DMARC_POLICY_UNSET;
	}
	return DMARC_RECORD_OK;
}
