/*
 * sts_policy.c — the MTA-STS grammars (RFC 8461 §3.1 TXT record, §3.2
 * policy body), MX pattern matching (§4.1) and the policy value helpers
 * of sts.h.  Pure functions over (pointer, length), written for hostile
 * input: what they accept is documented in sts_int.h; fuzz/fuzz_mta_sts.c
 * and tests/unit/test_mta_sts.c exercise them.
 */
#include "mta/sts_int.h"

#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s[0..n) is exactly the NUL-terminated lit. */
static bool equals(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Drop blanks at both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	while (*n && is_wsp(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_wsp((*s)[*n - 1]))
		(*n)--;
}

/* (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."): extension names of both grammars. */
static bool ext_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 32 || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

const char *mta_sts_mode_name(enum mta_sts_mode mode)
{
	switch (mode) {
	case STS_NONE:
		return "none";
	case STS_TESTING:
		return "testing";
	case STS_ENFORCE:
		return "enforce";
	}
	return "?";
}

const char *mta_sts_status_name(enum mta_sts_status st)
{
	switch (st) {
	case MTA_STS_OK:
		return "OK";
	case MTA_STS_NONE:
		return "NONE";
	case MTA_STS_TEMPFAIL:
		return "TEMPFAIL";
	case MTA_STS_FAILED:
		return "FAIL";
	}
	return "?";
}

/* ---- host names and patterns ----------------------------------------- */

/*
 * RFC 5321 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig
 * [Ldh-str]; labels of 1..63, 253 in all.  One trailing dot is dropped.
 * Lower-cased into out (size cap + 1).
 */
static bool hostname_parse(const char *s, size_t n, char *out, size_t cap)
{
	if (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || n > cap)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = lower(c);
	}
	if (label == 0 || s[n - 1] == '-')
		return false;
	out[n] = '\0';
	return true;
}

bool sts_pattern_parse(const char *s, size_t n, char out[256])
{
	size_t skip = 0;
	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		memcpy(out, "*.", 2);
		skip = 2;
	}
	return hostname_parse(s + skip, n - skip, out + skip, 253);
}

bool sts_domain_normalize(const char *domain, char out[STS_DOMAIN_MAX + 1])
{
	return domain && hostname_parse(domain, strlen(domain), out, STS_DOMAIN_MAX);
}

/* a[0..n) equals the lower-case b[0..n), ASCII case-insensitively. */
static bool ieq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != b[i])
			return false;
	return true;
}

bool mta_sts_pattern_match(const char *pattern, const char *mxhost)
{
	if (!pattern || !mxhost)
		return false;
	size_t hn = strlen(mxhost);
	if (hn && mxhost[hn - 1] == '.')
		hn--;
	if (hn == 0 || memchr(mxhost, '*', hn))
		return false;
	if (pattern[0] == '*' && pattern[1] == '.') {
		/* "*.example.com": one label, then ".example.com" exactly. */
		const char *suffix = pattern + 1;
		size_t sn = strlen(suffix);
		if (hn <= sn || !ieq_n(mxhost + hn - sn, suffix, sn))
			return false;
		const char *dot = memchr(mxhost, '.', hn);
		return dot == mxhost + hn - sn && dot > mxhost;
	}
	return strlen(pattern) == hn && ieq_n(mxhost, pattern, hn);
}

bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *mxhost)
{
	if (!p)
		return false;
	for (size_t i = 0; i < p->nmx; i++)
		if (mta_sts_pattern_match(p->mx[i], mxhost))
			return true;
	return false;
}

/* ---- the policy body (§3.2) ------------------------------------------ */

void sts_policy_clear(struct mta_sts_policy *p)
{
	for (size_t i = 0; i < p->nmx; i++)
		free(p->mx[i]);
	free(p->mx);
	memset(p, 0, sizeof *p);
}

struct mta_sts_policy *mta_sts_policy_dup(const struct mta_sts_policy *p)
{
	if (!p)
		return NULL;
	struct mta_sts_policy *d = xmalloc(sizeof *d);
	*d = *p;
	d->mx = p->nmx ? xcalloc(p->nmx, sizeof *d->mx) : NULL;
	for (size_t i = 0; i < p->nmx; i++)
		d->mx[i] = xstrdup(p->mx[i]);
	return d;
}

void mta_sts_policy_free(struct mta_sts_policy **p)
{
	if (!*p)
		return;
	sts_policy_clear(*p);
	XFREE(p);
}

struct policy_parse {
	struct mta_sts_policy *out;
	bool have_version, have_mode, have_max_age;
	size_t mx_cap;
};

/* One "key: value" line (without its line end, at most STS_LINE_MAX, no control characters but tabs). */
static const char *policy_line(struct policy_parse *pp, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return "a line without ':'";
	const char *key = line, *val = colon + 1;
	size_t klen = (size_t)(colon - line), vlen = n - klen - 1;
	trim(&key, &klen);
	trim(&val, &vlen);
	if (!ext_name_valid(key, klen))
		return "a malformed key";

	struct mta_sts_policy *p = pp->out;
	if (equals(key, klen, "version")) {
		if (pp->have_version)
			return NULL;
		if (!equals(val, vlen, "STSv1"))
			return "version is not STSv1";
		pp->have_version = true;
	} else if (equals(key, klen, "mode")) {
		if (pp->have_mode)
			return NULL;
		if (equals(val, vlen, "enforce"))
			p->mode = STS_ENFORCE;
		else if (equals(val, vlen, "testing"))
			p->mode = STS_TESTING;
		else if (equals(val, vlen, "none"))
			p->mode = STS_NONE;
		else
			return "mode is not enforce, testing or none";
		pp->have_mode = true;
	} else if (equals(key, klen, "max_age")) {
		if (pp->have_max_age)
			return NULL;
		if (vlen == 0 || vlen > 10)
			return "max_age is not 1 to 10 digits";
		uint64_t v = 0;
		for (size_t i = 0; i < vlen; i++) {
			if (!is_digit(val[i]))
				return "max_age is not 1 to 10 digits";
			v = v * 10 + (uint64_t)(val[i] - '0');
		}
		p->max_age = v > MTA_STS_MAX_AGE_MAX ? MTA_STS_MAX_AGE_MAX : v;
		pp->have_max_age = true;
	} else if (equals(key, klen, "mx")) {
		char pat[256];
		if (!sts_pattern_parse(val, vlen, pat))
			return "an mx pattern is not [*.]domain";
		if (p->nmx == STS_MX_MAX)
			return "too many mx patterns";
		if (p->nmx == pp->mx_cap) {
			pp->mx_cap = pp->mx_cap ? pp->mx_cap * 2 : 4;
			p->mx = xrealloc(p->mx, pp->mx_cap * sizeof *p->mx);
		}
		p->mx[p->nmx++] = xstrdup(pat);
	}
	/* Anything else is an extension: ignored (§3.2). */
	return NULL;
}

bool sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *out, const char **why)
{
	memset(out, 0, sizeof *out);
	struct policy_parse pp = { .out = out };
	const char *err = NULL;
	if (len > STS_POLICY_MAX) {
		err = "larger than 64 KiB";
		goto fail;
	}
	size_t pos = 0;
	while (pos < len && !err) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			n--;
		if (n > STS_LINE_MAX) {
			err = "a line longer than 1024 octets";
			break;
		}
		bool blank = true;
		for (size_t i = 0; i < n && !err; i++) {
			unsigned char c = (unsigned char)line[i];
			if ((c < ' ' && c != '\t') || c == 0x7f)
				err = "a control character";
			else if (!is_wsp((char)c))
				blank = false;
		}
		if (!err && !blank)
			err = policy_line(&pp, line, n);
	}
	if (!err && !pp.have_version)
		err = "no version";
	if (!err && !pp.have_mode)
		err = "no mode";
	if (!err && !pp.have_max_age)
		err = "no max_age";
	if (!err && out->nmx == 0 && out->mode != STS_NONE)
		err = "no mx";
	if (!err)
		return true;
fail:
	sts_policy_clear(out);
	if (why)
		*why = err;
	return false;
}

void sts_policy_format(const struct mta_sts_policy *p, struct buf *out)
{
	buf_printf(out, "version: STSv1\nmode: %s\n", mta_sts_mode_name(p->mode));
	for (size_t i = 0; i < p->nmx; i++)
		buf_printf(out, "mx: %s\n", p->mx[i]);
	buf_printf(out, "max_age: %llu\n", (unsigned long long)p->max_age);
}

/* ---- the TXT record (§3.1) ------------------------------------------- */

/* 1*(%x21-3A / %x3C / %x3E-7E): printable ASCII but "=", ";" and space. */
static bool ext_value_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '=' || c == ';')
			return false;
	}
	return true;
}

static enum sts_txt_kind txt_parse(const char *s, size_t n, char id[MTA_STS_ID_MAX + 1])
{
	static const char v[] = "v=STSv1";
	size_t vn = sizeof v - 1;
	id[0] = '\0';
	if (n < vn || memcmp(s, v, vn) != 0 || (n > vn && s[vn] != ';' && !is_wsp(s[vn])))
		return STS_TXT_OTHER;
	size_t pos = vn, fields = 0;
	while (pos < n) {
		/* *WSP ";" *WSP field, the last field possibly empty (a trailing ";"). */
		while (pos < n && is_wsp(s[pos]))
			pos++;
		if (pos == n)
			break;
		if (s[pos] != ';')
			return STS_TXT_INVALID;
		pos++;
		const char *f = s + pos;
		const char *semi = memchr(f, ';', n - pos);
		size_t fn = semi ? (size_t)(semi - f) : n - pos;
		pos += fn;
		trim(&f, &fn);
		if (fn == 0) {
			if (pos < n)
				return STS_TXT_INVALID;     /* ";;" */
			break;
		}
		const char *eq = memchr(f, '=', fn);
		if (!eq)
			return STS_TXT_INVALID;
		size_t name_n = (size_t)(eq - f), val_n = fn - name_n - 1;
		const char *val = eq + 1;
		if (equals(f, name_n, "id")) {
			if (val_n == 0 || val_n > MTA_STS_ID_MAX)
				return STS_TXT_INVALID;
			for (size_t i = 0; i < val_n; i++)
				if (!is_alnum(val[i]))
					return STS_TXT_INVALID;
			if (!id[0]) {
				memcpy(id, val, val_n);
				id[val_n] = '\0';
			}
		} else if (!ext_name_valid(f, name_n) || !ext_value_valid(val, val_n)) {
			return STS_TXT_INVALID;
		}
		fields++;
	}
	return fields && id[0] ? STS_TXT_VALID : STS_TXT_INVALID;
}

enum sts_txt_kind sts_txt_parse(const char *s, size_t n, char id[MTA_STS_ID_MAX + 1])
{
	enum sts_txt_kind k = txt_parse(s, n, id);
	if (k != STS_TXT_VALID)
		id[0] = '\0';
	return k;
}

bool sts_txt_select(const struct dns_txt *txt, size_t n, char id[MTA_STS_ID_MAX + 1], const char **why)
{
	size_t sts = 0;
	enum sts_txt_kind kind = STS_TXT_OTHER;
	char one[MTA_STS_ID_MAX + 1] = "";
	for (size_t i = 0; i < n; i++) {
		char tmp[MTA_STS_ID_MAX + 1];
		enum sts_txt_kind k = sts_txt_parse(txt[i].data, txt[i].len, tmp);
		if (k == STS_TXT_OTHER)
			continue;
		sts++;
		kind = k;
		memcpy(one, tmp, sizeof one);
	}
	id[0] = '\0';
	if (sts == 0) {
		*why = "no v=STSv1 TXT record";
		return false;
	}
	if (sts > 1) {
		*why = "more than one v=STSv1 TXT record";
		return false;
	}
	if (kind != STS_TXT_VALID) {
		*why = "invalid v=STSv1 TXT record";
		return false;
	}
	memcpy(id, one, MTA_STS_ID_MAX + 1);
	return true;
}
