/*
 * mimeparam.c — MIME structured field parsing; see mimeparam.h.
 */
#include "mail/mimeparam.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/charset.h"
#include "mail/rfc2047.h"

struct cursor {
	const char *s;
	size_t n, pos;
};

static void skip_cfws(struct cursor *c)
{
	while (c->pos < c->n) {
		char ch = c->s[c->pos];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->pos++;
		} else if (ch == '(') {
			size_t depth = 1;
			c->pos++;
			while (c->pos < c->n && depth > 0) {
				char x = c->s[c->pos];
				if (x == '\\' && c->pos + 1 < c->n)
					c->pos++;
				else if (x == '(')
					depth++;
				else if (x == ')')
					depth--;
				c->pos++;
			}
		} else {
			break;
		}
	}
}

/* RFC 2045 token, leniently allowing 8-bit octets (raw UTF-8 file names exist). */
static bool is_token_char(unsigned char ch)
{
	if (ch <= ' ' || ch == 127)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", ch) == NULL;
}

static size_t token(struct cursor *c)
{
	size_t start = c->pos;
	while (c->pos < c->n && is_token_char((unsigned char)c->s[c->pos]))
		c->pos++;
	return c->pos - start;
}

/* At a '"': append the unquoted content to out. */
static void quoted_string(struct cursor *c, struct buf *out)
{
	c->pos++;
	while (c->pos < c->n && c->s[c->pos] != '"') {
		if (c->s[c->pos] == '\\' && c->pos + 1 < c->n)
			c->pos++;
		char ch = c->s[c->pos++];
		if (ch != '\r' && ch != '\n')
			buf_putc(out, ch);
	}
	if (c->pos < c->n)
		c->pos++;
}

static void skip_to_semicolon(struct cursor *c)
{
	while (c->pos < c->n && c->s[c->pos] != ';') {
		if (c->s[c->pos] == '"') {
			struct buf dummy = BUF_INIT;
			quoted_string(c, &dummy);
			buf_free(&dummy);
			continue;
		}
		c->pos++;
	}
}

struct raw_param {
	char *name;
	struct buf value;
	/* RFC 2231 */
	bool is2231, extended;
	uint32_t idx;
	size_t base_len;
	bool used;
};

static void classify(struct raw_param *r)
{
	char *star = strchr(r->name, '*');
	r->is2231 = false;
	if (!star || star == r->name)
		return;
	const char *p = star + 1;
	uint32_t idx = 0;
	bool has_idx = false;
	if (*p >= '0' && *p <= '9') {
		if (*p == '0' && p[1] >= '0' && p[1] <= '9')
			return;         /* leading zeros are not allowed */
		while (*p >= '0' && *p <= '9') {
			if (idx > 100000)
				return;
			idx = idx * 10 + (uint32_t)(*p - '0');
			p++;
		}
		has_idx = true;
	}
	bool ext = false;
	if (*p == '*') {
		ext = true;
		p++;
	}
	if (*p != '\0' || (!has_idx && !ext))
		return;
	r->is2231 = true;
	r->extended = ext;
	r->idx = idx;
	r->base_len = (size_t)(star - r->name);
}

static bool same_base(const struct raw_param *a, const struct raw_param *b)
{
	if (a->base_len != b->base_len)
		return false;
	for (size_t i = 0; i < a->base_len; i++) {
		char x = a->name[i], y = b->name[i];
		if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
		if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

static void push(struct mail_params *out, char *name, struct buf *value)
{
	struct mail_param *p = &out->v[out->n++];
	p->name = name;
	p->value_len = value->len;
	p->value = buf_steal(value);
}

/* Merge RFC 2231 sets; raw[] is consumed.  O(n^2) with n <= MAIL_MAX_PARAMS. */
static void merge(struct raw_param *raw, size_t nraw, struct mail_params *out)
{
	out->v = xcalloc(nraw ? nraw : 1, sizeof *out->v);
	out->n = 0;
	for (size_t i = 0; i < nraw; i++)
		classify(&raw[i]);
	for (size_t i = 0; i < nraw; i++) {
		struct raw_param *r = &raw[i];
		if (r->used)
			continue;
		if (!r->is2231) {
			r->used = true;
			push(out, r->name, &r->value);
			continue;
		}
		/* Gather the set: segment k must appear exactly once for k = 0..count-1. */
		size_t count = 0;
		bool any_ext = false;
		for (size_t j = i; j < nraw; j++)
			if (raw[j].is2231 && !raw[j].used && same_base(r, &raw[j])) {
				count++;
				any_ext |= raw[j].extended;
			}
		struct raw_param **seg = xcalloc(count, sizeof *seg);
		bool ok = true;
		for (size_t j = i; j < nraw; j++) {
			struct raw_param *x = &raw[j];
			if (!x->is2231 || x->used || !same_base(r, x))
				continue;
			if (x->idx >= count || seg[x->idx])
				ok = false;
			else
				seg[x->idx] = x;
		}
		if (!ok) {
			/* leave them as written */
			for (size_t j = i; j < nraw; j++) {
				struct raw_param *x = &raw[j];
				if (x->is2231 && !x->used && same_base(r, x)) {
					x->used = true;
					push(out, x->name, &x->value);
				}
			}
			free(seg);
			continue;
		}
		struct buf v = BUF_INIT;
		if (any_ext && !seg[0]->extended)
			buf_puts(&v, "''");
		for (size_t k = 0; k < count; k++) {
			struct raw_param *x = seg[k];
			if (any_ext && !x->extended) {
				for (size_t m = 0; m < x->value.len; m++) {
					if (x->value.data[m] == '%')
						buf_puts(&v, "%25");
					else
						buf_putc(&v, x->value.data[m]);
				}
			} else {
				buf_append(&v, x->value.data, x->value.len);
			}
			x->used = true;
		}
		struct buf name = BUF_INIT;
		buf_append(&name, r->name, r->base_len);
		if (any_ext)
			buf_putc(&name, '*');
		push(out, buf_steal(&name), &v);
		for (size_t k = 0; k < count; k++) {
			free(seg[k]->name);
			seg[k]->name = NULL;
			buf_free(&seg[k]->value);
		}
		free(seg);
	}
}

static void parse_params(struct cursor *c, struct mail_params *out)
{
	struct raw_param raw[MAIL_MAX_PARAMS];
	size_t nraw = 0;
	for (;;) {
		skip_cfws(c);
		if (c->pos >= c->n)
			break;
		if (c->s[c->pos] != ';') {
			skip_to_semicolon(c);
			continue;
		}
		c->pos++;
		skip_cfws(c);
		size_t ns = c->pos;
		size_t nl = token(c);
		if (nl == 0)
			continue;
		skip_cfws(c);
		if (c->pos >= c->n || c->s[c->pos] != '=') {
			skip_to_semicolon(c);
			continue;
		}
		c->pos++;
		skip_cfws(c);
		struct buf v = BUF_INIT;
		if (c->pos < c->n && c->s[c->pos] == '"') {
			quoted_string(c, &v);
		} else if (c->pos < c->n && c->s[c->pos] == '=') {
			/* broken mailers: name==?utf-8?b?...?= unquoted */
			size_t vs = c->pos;
			while (c->pos < c->n && c->s[c->pos] != ';' && c->s[c->pos] != ' ' &&
			       c->s[c->pos] != '\t' && c->s[c->pos] != '\r' && c->s[c->pos] != '\n')
				c->pos++;
			buf_append(&v, c->s + vs, c->pos - vs);
		} else {
			size_t vs = c->pos;
			size_t vl = token(c);
			buf_append(&v, c->s + vs, vl);
		}
		if (nraw >= MAIL_MAX_PARAMS) {
			buf_free(&v);
			continue;
		}
		raw[nraw] = (struct raw_param){ 0 };
		raw[nraw].name = xmemdup0(c->s + ns, nl);
		raw[nraw].value = v;
		nraw++;
	}
	merge(raw, nraw, out);
}

bool mail_content_type_parse(const char *s, size_t n, char **type, char **subtype,
			     struct mail_params *params)
{
	struct cursor c = { s, n, 0 };
	*type = *subtype = NULL;
	params->v = NULL;
	params->n = 0;
	skip_cfws(&c);
	size_t ts = c.pos, tl = token(&c);
	skip_cfws(&c);
	if (tl == 0 || c.pos >= n || s[c.pos] != '/')
		return false;
	c.pos++;
	skip_cfws(&c);
	size_t ss = c.pos, sl = token(&c);
	if (sl == 0)
		return false;
	*type = xmemdup0(s + ts, tl);
	*subtype = xmemdup0(s + ss, sl);
	parse_params(&c, params);
	return true;
}

bool mail_disposition_parse(const char *s, size_t n, char **disp, struct mail_params *params)
{
	struct cursor c = { s, n, 0 };
	*disp = NULL;
	params->v = NULL;
	params->n = 0;
	skip_cfws(&c);
	size_t ds = c.pos, dl = token(&c);
	if (dl == 0)
		return false;
	*disp = xmemdup0(s + ds, dl);
	parse_params(&c, params);
	return true;
}

size_t mail_language_parse(const char *s, size_t n, struct mail_slice *tags, size_t max)
{
	struct cursor c = { s, n, 0 };
	size_t nt = 0;
	while (c.pos < n && nt < max) {
		skip_cfws(&c);
		size_t ts = c.pos, tl = token(&c);
		if (tl) {
			tags[nt].p = s + ts;
			tags[nt].len = tl;
			nt++;
		}
		skip_cfws(&c);
		/* anything up to the next comma is junk */
		while (c.pos < n && s[c.pos] != ',')
			c.pos++;
		if (c.pos < n)
			c.pos++;
	}
	return nt;
}

const struct mail_param *mail_params_get(const struct mail_params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (ascii_ieq(p->v[i].name, strlen(p->v[i].name), name))
			return &p->v[i];
	return NULL;
}

void mail_params_free(struct mail_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

void mail_param_decode(const struct mail_param *p, struct buf *out)
{
	size_t nl = strlen(p->name);
	const char *v = p->value;
	size_t n = p->value_len;
	if (nl == 0 || p->name[nl - 1] != '*') {
		mail_rfc2047_decode(out, v, n);
		return;
	}
	/* charset'language'%XX... */
	const char *q1 = memchr(v, '\'', n);
	const char *q2 = q1 ? memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v)) : NULL;
	const char *cs = "us-ascii";
	size_t csl = 8;
	if (q1 && q2) {
		if (q1 > v) {
			cs = v;
			csl = (size_t)(q1 - v);
		}
		n -= (size_t)(q2 + 1 - v);
		v = q2 + 1;
	}
	struct buf raw = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '%' && i + 2 < n &&
		    hex_digit(v[i + 1]) >= 0 && hex_digit(v[i + 2]) >= 0) {
			buf_putc(&raw, (char)(hex_digit(v[i + 1]) * 16 + hex_digit(v[i + 2])));
			i += 2;
		} else {
			buf_putc(&raw, v[i]);
		}
	}
	mail_charset_to_utf8(out, cs, csl, raw.data ? raw.data : "", raw.len);
	buf_free(&raw);
}
