/*
 * reply.c — SMTP replies, EHLO capabilities and xtext; see reply.h.
 *
 * The parser is byte-driven: a partial line waits in a fixed array of
 * MTA_REPLY_LINE_MAX (+1 for a CR), so what a peer can make us hold is
 * bounded before anything is allocated; complete lines are validated
 * (three digits, then ' ', '-' or the end; the same code on every line)
 * and appended, sanitised, to the reply.
 */
#include "mta/reply.h"

#include <string.h>

#include "lib/util.h"

void mta_reply_parser_init(struct mta_reply_parser *p)
{
	memset(p, 0, sizeof *p);
	p->status = MTA_REPLY_MORE;
}

void mta_reply_parser_free(struct mta_reply_parser *p)
{
	buf_free(&p->reply.lines);
}

void mta_reply_parser_next(struct mta_reply_parser *p)
{
	if (p->status == MTA_REPLY_ERROR)
		return;
	struct buf keep = p->reply.lines;
	buf_reset(&keep);
	memset(&p->reply, 0, sizeof p->reply);
	p->reply.lines = keep;
	p->status = MTA_REPLY_MORE;
	p->linelen = 0;
	p->total = 0;
}

static void parser_error(struct mta_reply_parser *p, const char *why)
{
	p->status = MTA_REPLY_ERROR;
	p->error = why;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1..3 digits at t[*i]; advances *i. */
static bool digits3(const char *t, size_t n, size_t *i)
{
	size_t start = *i;
	while (*i < n && *i - start < 3 && is_digit(t[*i]))
		(*i)++;
	return *i > start && !(*i < n && is_digit(t[*i]));
}

size_t mta_enhanced_parse(const char *t, size_t n, int code, char out[16])
{
	if (n < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[0] - '0' != code / 100 || t[1] != '.')
		return 0;
	size_t i = 2;
	if (!digits3(t, n, &i) || i >= n || t[i] != '.')
		return 0;
	i++;
	if (!digits3(t, n, &i))
		return 0;
	if (i < n && t[i] != ' ')
		return 0;
	memcpy(out, t, i);
	out[i] = '\0';
	return i;
}

/* Append line[0..n) to the reply: control characters, and every 8-bit octet unless the line is UTF-8, become '?'. */
static void append_sanitised(struct buf *b, const char *line, size_t n)
{
	bool utf8 = utf8_valid(line, n);
	buf_reserve(b, n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			c = '?';
		b->data[b->len++] = (char)c;
	}
	b->data[b->len++] = '\n';
	b->data[b->len] = '\0';
}

/* A complete line (its LF consumed) is in p->line. */
static void end_line(struct mta_reply_parser *p)
{
	struct mta_reply *r = &p->reply;
	size_t len = p->linelen;
	const char *line = p->line;
	p->linelen = 0;
	if (len && line[len - 1] == '\r')
		len--;
	if (len > MTA_REPLY_LINE_MAX) {
		parser_error(p, "reply line too long");
		return;
	}
	if (len < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		parser_error(p, "malformed reply line");
		return;
	}
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	bool last = len == 3 || line[3] == ' ';
	if (r->nlines > 0 && code != r->code) {
		parser_error(p, "inconsistent reply codes");
		return;
	}
	if (r->nlines == MTA_REPLY_LINES_MAX) {
		parser_error(p, "too many reply lines");
		return;
	}
	if (r->nlines == 0) {
		r->code = code;
		if (len > 4 && mta_enhanced_parse(line + 4, len - 4, code, r->enhanced))
			r->enhanced_given = true;
	}
	append_sanitised(&r->lines, line, len);
	r->nlines++;
	if (last) {
		if (!r->enhanced_given) {
			r->enhanced[0] = (char)('0' + code / 100);
			memcpy(r->enhanced + 1, ".0.0", 5);
		}
		p->status = MTA_REPLY_DONE;
	}
}

size_t mta_reply_feed(struct mta_reply_parser *p, const char *data, size_t n)
{
	size_t i = 0;
	while (i < n && p->status == MTA_REPLY_MORE) {
		const char *lf = memchr(data + i, '\n', n - i);
		size_t chunk = lf ? (size_t)(lf - (data + i)) : n - i;
		size_t line_room = MTA_REPLY_LINE_MAX + 1 - p->linelen;
		size_t total_room = MTA_REPLY_TOTAL_MAX - p->total;
		/* The same error, at the same octet, however the input is split. */
		if (chunk > line_room || chunk > total_room) {
			parser_error(p, line_room <= total_room ? "reply line too long" : "reply too long");
			return i;
		}
		memcpy(p->line + p->linelen, data + i, chunk);
		p->linelen += chunk;
		p->total += chunk;
		i += chunk;
		if (!lf)
			break;
		if (p->total == MTA_REPLY_TOTAL_MAX) {
			parser_error(p, "reply too long");
			return i;
		}
		p->total++;
		i++;
		end_line(p);
	}
	return i;
}

bool mta_reply_text_line(const struct mta_reply *r, size_t *pos, const char **text, size_t *len)
{
	if (*pos >= r->lines.len)
		return false;
	const char *line = r->lines.data + *pos;
	const char *nl = memchr(line, '\n', r->lines.len - *pos);
	size_t n = nl ? (size_t)(nl - line) : r->lines.len - *pos;
	*pos += n + 1;
	*text = n > 4 ? line + 4 : line + n;
	*len = n > 4 ? n - 4 : 0;
	return true;
}

size_t mta_reply_join(const struct mta_reply *r, char *out, size_t size)
{
	if (size == 0)
		return 0;
	struct buf b = BUF_INIT;
	const char *p = r->lines.data;
	size_t left = r->lines.len;
	while (left > 0) {
		const char *nl = memchr(p, '\n', left);
		size_t n = nl ? (size_t)(nl - p) : left;
		if (b.len)
			buf_append(&b, "; ", 2);
		buf_append(&b, p, n);
		if (!nl)
			break;
		p += n + 1;
		left -= n + 1;
	}
	size_t len = b.len < size - 1 ? b.len : size - 1;
	/* Do not end inside a UTF-8 sequence. */
	while (len > 0 && len < b.len && ((unsigned char)b.data[len] & 0xc0) == 0x80)
		len--;
	if (len)
		memcpy(out, b.data, len);
	out[len] = '\0';
	buf_free(&b);
	return len;
}

/* ---- EHLO ------------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned bit;
} cap_names[] = {
	{ "PIPELINING", MTA_CAP_PIPELINING },
	{ "SIZE", MTA_CAP_SIZE },
	{ "8BITMIME", MTA_CAP_8BITMIME },
	{ "SMTPUTF8", MTA_CAP_SMTPUTF8 },
	{ "STARTTLS", MTA_CAP_STARTTLS },
	{ "CHUNKING", MTA_CAP_CHUNKING },
	{ "DSN", MTA_CAP_DSN },
	{ "AUTH", MTA_CAP_AUTH },
	{ "ENHANCEDSTATUSCODES", MTA_CAP_ENHANCEDSTATUSCODES },
	{ "REQUIRETLS", MTA_CAP_REQUIRETLS },
};

static unsigned auth_mech(const char *s, size_t n)
{
	if (ascii_ieq(s, n, "PLAIN"))
		return MTA_AUTH_PLAIN;
	if (ascii_ieq(s, n, "LOGIN"))
		return MTA_AUTH_LOGIN;
	if (ascii_ieq(s, n, "CRAM-MD5"))
		return MTA_AUTH_CRAM_MD5;
	return n ? MTA_AUTH_OTHER : 0;
}

/* SIZE's argument: digits only, no overflow; else 0 (no limit known). */
static uint64_t parse_size(const char *s, size_t n)
{
	uint64_t v = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]) || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

static void caps_line(const char *t, size_t n, struct mta_caps *caps)
{
	size_t kw = 0;
	while (kw < n && t[kw] != ' ' && t[kw] != '=')
		kw++;
	bool old_auth = kw < n && t[kw] == '=';
	unsigned bit = 0;
	for (size_t i = 0; i < ARRAY_LEN(cap_names); i++)
		if (ascii_ieq(t, kw, cap_names[i].name))
			bit = cap_names[i].bit;
	if (!bit || (old_auth && bit != MTA_CAP_AUTH))
		return;
	caps->flags |= bit;
	/* The parameters, space separated. */
	size_t i = kw + 1;
	while (i < n) {
		size_t start = i;
		while (i < n && t[i] != ' ')
			i++;
		if (bit == MTA_CAP_AUTH)
			caps->auth |= auth_mech(t + start, i - start);
		else if (bit == MTA_CAP_SIZE && start == kw + 1)
			caps->size_limit = parse_size(t + start, i - start);
		i++;
	}
}

void mta_caps_parse(const struct mta_reply *r, struct mta_caps *caps)
{
	memset(caps, 0, sizeof *caps);
	size_t pos = 0;
	const char *t;
	size_t n;
	bool first = true;
	while (mta_reply_text_line(r, &pos, &t, &n)) {
		if (!first)
			caps_line(t, n, caps);
		first = false;
	}
}

/* ---- xtext ------------------------------------------------------------ */

void mta_xtext_append(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == '+' || c == '=') {
			char e[3] = { '+', hex[c >> 4], hex[c & 15] };
			buf_append(out, e, 3);
		} else {
			buf_putc(out, (char)c);
		}
	}
}
