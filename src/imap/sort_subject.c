/*
 * sort_subject.c — base subject extraction (RFC 5256 §2.1), the
 * i;unicode-casemap comparison form (RFC 5051) and the ENVELOPE reader
 * that SORT and THREAD use to take their keys from the index (sort.h).
 *
 * The base subject works on a private copy of the subject with a start
 * and an end index that only ever move inwards, so every step is a
 * bounded scan and the whole extraction is linear in the subject's
 * length; each pass of the outer loop removes at least one character.
 */
#include "imap/sort.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#include "lib/util.h"
#include "mail/charset.h"

/* ---- i;unicode-casemap -------------------------------------------------- */

void imap_sort_casemap(struct buf *out, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (is_ascii(s, n)) {
		/* Titlecase of ASCII is upper case, and NFKD leaves it alone. */
		buf_reserve(out, n);
		for (size_t i = 0; i < n; i++) {
			char c = s[i];
			out->data[out->len + i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
		}
		out->len += n;
		out->data[out->len] = '\0';
		return;
	}
	struct buf u = BUF_INIT;
	mail_utf8_append_lossy(&u, s, n);
	const uint8_t *p = (const uint8_t *)buf_cstr(&u), *end = p + u.len;
	struct buf t = BUF_INIT;
	while (p < end) {
		ucs4_t c;
		int l = u8_mbtouc(&c, p, (size_t)(end - p));
		if (l <= 0)
			l = 1;
		p += l;
		uint8_t enc[6];
		int el = u8_uctomb(enc, uc_totitle(c), sizeof enc);
		if (el > 0)
			buf_append(&t, enc, (size_t)el);
	}
	size_t rl = 0;
	uint8_t *r = u8_normalize(UNINORM_NFKD, (const uint8_t *)buf_cstr(&t), t.len, NULL, &rl);
	if (r) {
		buf_append(out, r, rl);
		free(r);
	} else {
		buf_append(out, buf_cstr(&t), t.len);
	}
	buf_free(&t);
	buf_free(&u);
}

/* ---- base subject --------------------------------------------------------- */

struct subj {
	const char *s;
	size_t b, e;            /* the current subject is s[b..e) */
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* (2) subj-trailer: "(fwd)" / WSP, removed from the end repeatedly. */
static bool strip_trailers(struct subj *x)
{
	bool fwd = false;
	for (;;) {
		if (x->e > x->b && is_wsp(x->s[x->e - 1])) {
			x->e--;
		} else if (x->e - x->b >= 5 && ascii_ieq(x->s + x->e - 5, 5, "(fwd)")) {
			x->e -= 5;
			fwd = true;
		} else {
			return fwd;
		}
	}
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at i: the index after it, or 0 when there is none. */
static size_t blob_at(const struct subj *x, size_t i)
{
	if (i >= x->e || x->s[i] != '[')
		return 0;
	for (size_t j = i + 1; j < x->e; j++) {
		if (x->s[j] == '[')
			return 0;
		if (x->s[j] == ']') {
			j++;
			while (j < x->e && is_wsp(x->s[j]))
				j++;
			return j;
		}
	}
	return 0;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at i: the index after it, or 0. */
static size_t refwd_at(const struct subj *x, size_t i)
{
	size_t n = x->e - i;
	if (n >= 2 && ascii_ieq(x->s + i, 2, "re"))
		i += 2;
	else if (n >= 3 && ascii_ieq(x->s + i, 3, "fwd"))
		i += 3;
	else if (n >= 2 && ascii_ieq(x->s + i, 2, "fw"))
		i += 2;
	else
		return 0;
	while (i < x->e && is_wsp(x->s[i]))
		i++;
	size_t after = blob_at(x, i);
	if (after)
		i = after;
	return i < x->e && x->s[i] == ':' ? i + 1 : 0;
}

/* (3) subj-leader = (*subj-blob subj-refwd) / WSP, removed from the start repeatedly. */
static bool strip_leaders(struct subj *x)
{
	bool re = false;
	for (;;) {
		if (x->b < x->e && is_wsp(x->s[x->b])) {
			x->b++;
			continue;
		}
		size_t i = x->b, next;
		while ((next = blob_at(x, i)) != 0)
			i = next;
		size_t after = refwd_at(x, i);
		if (!after)
			return re;
		x->b = after;
		re = true;
	}
}

void imap_sort_base_subject(struct buf *out, const char *subj, size_t n, bool *is_reply)
{
	/* (1) tabs and line breaks become spaces, runs of spaces one space. */
	struct buf norm = BUF_INIT;
	buf_reserve(&norm, n);
	for (size_t i = 0; i < n; i++) {
		char c = subj[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && norm.len && norm.data[norm.len - 1] == ' ')
			continue;
		buf_putc(&norm, c);
	}
	struct subj x = { buf_cstr(&norm), 0, norm.len };
	bool reply = false;
	for (;;) {
		if (strip_trailers(&x))
			reply = true;
		for (;;) {
			if (strip_leaders(&x))
				reply = true;
			/* (4) a leading blob goes when something is left after it. */
			size_t after = blob_at(&x, x.b);
			if (!after || after >= x.e)
				break;
			x.b = after;
		}
		/* (6) [fwd: ...] wraps the whole subject: unwrap and start over. */
		if (x.e - x.b >= 6 && ascii_ieq(x.s + x.b, 5, "[fwd:") && x.s[x.e - 1] == ']') {
			x.b += 5;
			x.e--;
			reply = true;
			continue;
		}
		break;
	}
	imap_sort_casemap(out, x.s + x.b, x.e - x.b);
	buf_free(&norm);
	if (is_reply)
		*is_reply = reply;
}

/* ---- the ENVELOPE reader ---------------------------------------------------- */

/*
 * The ENVELOPE comes from the index, written by mail/envelope.c, but is
 * read with every bound checked all the same: a damaged row must not
 * make a SORT read past its string.
 */
struct env_cur {
	const char *p, *end;
};

static void env_skip_sp(struct env_cur *c)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
}

/* NIL, a quoted string or a literal; into out (may be NULL to skip). */
static bool env_nstring(struct env_cur *c, struct imap_env_str *out)
{
	env_skip_sp(c);
	if (out) {
		out->nil = false;
		buf_reset(&out->v);
	}
	if (c->end - c->p >= 3 && ascii_ieq(c->p, 3, "NIL")) {
		c->p += 3;
		if (out)
			out->nil = true;
		return true;
	}
	if (c->p < c->end && *c->p == '"') {
		for (c->p++; c->p < c->end; c->p++) {
			char ch = *c->p;
			if (ch == '"') {
				c->p++;
				return true;
			}
			if (ch == '\\' && c->p + 1 < c->end)
				ch = *++c->p;
			if (out)
				buf_putc(&out->v, ch);
		}
		return false;
	}
	if (c->p < c->end && *c->p == '{') {
		size_t len = 0;
		const char *q = c->p + 1;
		while (q < c->end && *q >= '0' && *q <= '9' && len < (size_t)1 << 30)
			len = len * 10 + (size_t)(*q++ - '0');
		if (q >= c->end || *q != '}' || c->end - q < 3 || q[1] != '\r' || q[2] != '\n')
			return false;
		q += 3;
		if ((size_t)(c->end - q) < len)
			return false;
		if (out)
			buf_append(&out->v, q, len);
		c->p = q + len;
		return true;
	}
	return false;
}

/* Any value: an nstring or a parenthesised list of values (nesting bounded). */
static bool env_skip_value(struct env_cur *c, unsigned depth)
{
	env_skip_sp(c);
	if (c->p < c->end && *c->p == '(') {
		if (depth > 4)
			return false;
		c->p++;
		for (;;) {
			env_skip_sp(c);
			if (c->p >= c->end)
				return false;
			if (*c->p == ')') {
				c->p++;
				return true;
			}
			if (!env_skip_value(c, depth + 1))
				return false;
		}
	}
	return env_nstring(c, NULL);
}

/* Position c at field f of env. */
static bool env_seek(struct env_cur *c, const char *env, enum imap_env_field f)
{
	if (!env)
		return false;
	c->p = env;
	c->end = env + strlen(env);
	if (c->p >= c->end || *c->p != '(')
		return false;
	c->p++;
	for (unsigned i = 0; i < (unsigned)f; i++)
		if (!env_skip_value(c, 1))
			return false;
	env_skip_sp(c);
	return true;
}

static void env_str_nil(struct imap_env_str *s)
{
	if (s) {
		s->nil = true;
		buf_reset(&s->v);
	}
}

bool imap_env_first_address(const char *env, enum imap_env_field f, struct imap_env_str *name,
			    struct imap_env_str *mailbox, struct imap_env_str *host)
{
	env_str_nil(name);
	env_str_nil(mailbox);
	env_str_nil(host);
	struct env_cur c;
	if (!env_seek(&c, env, f) || c.p >= c.end || *c.p != '(')
		return false;
	c.p++;
	env_skip_sp(&c);
	if (c.p >= c.end || *c.p != '(')
		return false;
	c.p++;
	struct imap_env_str adl = { 0 };
	bool ok = env_nstring(&c, name) && env_nstring(&c, &adl) && env_nstring(&c, mailbox) &&
		  env_nstring(&c, host);
	buf_free(&adl.v);
	if (!ok) {
		env_str_nil(name);
		env_str_nil(mailbox);
		env_str_nil(host);
	}
	return ok;
}

bool imap_env_string(const char *env, enum imap_env_field f, struct buf *out)
{
	struct env_cur c;
	struct imap_env_str s = { 0 };
	bool ok = env_seek(&c, env, f) && env_nstring(&c, &s) && !s.nil;
	if (ok)
		buf_append(out, buf_cstr(&s.v), s.v.len);
	buf_free(&s.v);
	return ok;
}
