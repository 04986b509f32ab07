/*
 * append_binary.c — NUL octets of a literal8 APPEND message moved into
 * base64 bodies (append_binary.h).
 */
#include "imap/append_binary.h"

#include <string.h>

#include "lib/base64.h"
#include "mail/mime.h"

#define B64_LINE 57     /* input octets per 76-character base64 line */

static bool identity_cte(enum mail_cte cte)
{
	return cte == MAIL_CTE_NONE || cte == MAIL_CTE_7BIT || cte == MAIL_CTE_8BIT || cte == MAIL_CTE_BINARY;
}

/* The start of the line holding offset off, at or after floor. */
static size_t line_start(const char *msg, size_t floor, size_t off)
{
	while (off > floor && msg[off - 1] != '\n')
		off--;
	return off;
}

/* Just past the line end at or after off (the end of a field's last folded line). */
static size_t line_end(const char *msg, size_t limit, size_t off)
{
	while (off < limit && msg[off] != '\n')
		off++;
	return off < limit ? off + 1 : off;
}

/*
 * The part's header without its Content-Transfer-Encoding field, with
 * "Content-Transfer-Encoding: base64" before the empty line that ends it.
 */
static void put_header(const char *msg, const struct mail_part *p, struct buf *out)
{
	size_t start = p->hdr_start, end = p->body_start;
	/* the empty line: the last line break of the header, CRLF or LF */
	size_t blank = end;
	if (blank > start && msg[blank - 1] == '\n') {
		blank--;
		if (blank > start && msg[blank - 1] == '\r')
			blank--;
	}
	size_t skip_from = blank, skip_to = blank;
	if (p->encoding.present && p->encoding.off >= start && p->encoding.off + p->encoding.len <= blank) {
		skip_from = line_start(msg, start, p->encoding.off);
		skip_to = line_end(msg, blank, p->encoding.off + p->encoding.len);
	}
	buf_append(out, msg + start, skip_from - start);
	buf_append(out, msg + skip_to, blank - skip_to);
	buf_puts(out, "Content-Transfer-Encoding: base64\r\n");
	buf_append(out, msg + blank, end - blank);
	if (blank == end)
		buf_puts(out, "\r\n");  /* a header cut short (no empty line): the body needs one */
}

static void put_base64(const char *p, size_t n, bool final_break, struct buf *out)
{
	for (size_t i = 0; i < n; i += B64_LINE) {
		size_t k = n - i < B64_LINE ? n - i : B64_LINE;
		base64_encode(out, p + i, k);
		if (i + k < n || final_break)
			buf_puts(out, "\r\n");
	}
}

enum imap_binconv imap_append_binary_convert(const char *msg, size_t len, struct buf *out)
{
	if (!memchr(msg, '\0', len))
		return IMAP_BINCONV_NONE;
	struct mail_mime m;
	mail_mime_parse(msg, len, &m);
	size_t pos = 0, start = out->len;
	/* Parts are in the order they appear, so their bodies come in increasing offsets. */
	for (size_t i = 0; i < m.nparts; i++) {
		const struct mail_part *p = &m.parts[i];
		if (p->kind != MAIL_PART_LEAF || !identity_cte(p->cte) || p->hdr_start < pos ||
		    p->body_end <= p->body_start || !memchr(msg + p->body_start, '\0', p->body_end - p->body_start))
			continue;
		buf_append(out, msg + pos, p->hdr_start - pos);
		put_header(msg, p, out);
		/* Inside a multipart the line break before the next boundary is the boundary's own. */
		put_base64(msg + p->body_start, p->body_end - p->body_start, p->body_end == len, out);
		pos = p->body_end;
	}
	buf_append(out, msg + pos, len - pos);
	mail_mime_free(&m);
	if (memchr(out->data + start, '\0', out->len - start)) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return IMAP_BINCONV_IMPOSSIBLE;
	}
	return IMAP_BINCONV_DONE;
}
