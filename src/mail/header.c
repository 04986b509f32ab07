/*
 * header.c — header block iteration and unfolding; see header.h.
 */
#include "mail/header.h"

#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

size_t mail_line_len(const char *p, size_t n, size_t *eol)
{
	const char *lf = memchr(p, '\n', n);
	if (!lf) {
		*eol = 0;
		return n;
	}
	size_t l = (size_t)(lf - p) + 1;
	*eol = (l >= 2 && p[l - 2] == '\r') ? 2 : 1;
	return l;
}

void mail_hdr_iter_init(struct mail_hdr_iter *it, const char *p, size_t len)
{
	it->p = p;
	it->len = len;
	it->pos = 0;
	it->count = 0;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* An empty line: LF or CRLF alone. */
static bool line_is_empty(const char *p, size_t n)
{
	return (n >= 1 && p[0] == '\n') || (n >= 2 && p[0] == '\r' && p[1] == '\n');
}

bool mail_hdr_next(struct mail_hdr_iter *it, struct mail_hdr_field *f)
{
	while (it->pos < it->len) {
		const char *line = it->p + it->pos;
		size_t rest = it->len - it->pos;
		if (line_is_empty(line, rest))
			return false;
		size_t eol;
		size_t ll = mail_line_len(line, rest, &eol);
		it->pos += ll;
		if (is_wsp(line[0]))
			continue;       /* continuation of nothing (or of a skipped line) */

		const char *colon = memchr(line, ':', ll - eol);
		if (!colon)
			continue;
		size_t nl = (size_t)(colon - line);
		while (nl > 0 && is_wsp(line[nl - 1]))
			nl--;           /* obs-optional: "Subject : x" */
		bool ok = nl > 0;
		for (size_t i = 0; i < nl && ok; i++) {
			unsigned char c = (unsigned char)line[i];
			ok = c > 32 && c < 127;
		}

		/* The value runs over continuation lines. */
		size_t vstart = (size_t)(colon - it->p) + 1;
		size_t vend = it->pos - eol;
		while (it->pos < it->len && is_wsp(it->p[it->pos])) {
			ll = mail_line_len(it->p + it->pos, it->len - it->pos, &eol);
			it->pos += ll;
			vend = it->pos - eol;
		}
		if (!ok)
			continue;
		if (it->count >= MAIL_HDR_MAX_FIELDS) {
			log_info("mail", "msg=\"header field limit reached\" limit=%d", MAIL_HDR_MAX_FIELDS);
			it->pos = it->len;
			return false;
		}
		it->count++;
		f->name = line;
		f->name_len = nl;
		f->value = it->p + vstart;
		f->value_len = vend >= vstart ? vend - vstart : 0;
		return true;
	}
	return false;
}

bool mail_hdr_is(const struct mail_hdr_field *f, const char *name)
{
	return ascii_ieq(f->name, f->name_len, name);
}

void mail_hdr_unfold(struct buf *out, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n && (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n'))
		i++;
	size_t start = out->len;
	size_t kept = 0;
	buf_reserve(out, n - i < MAIL_FIELD_MAX ? n - i : MAIL_FIELD_MAX);
	for (; i < n && kept < MAIL_FIELD_MAX; i++) {
		char c = v[i];
		if (c == '\n' || (c == '\r' && i + 1 < n && v[i + 1] == '\n'))
			continue;
		out->data[out->len++] = c;
		kept++;
	}
	while (out->len > start && is_wsp(out->data[out->len - 1]))
		out->len--;
	out->data[out->len] = '\0';
}
