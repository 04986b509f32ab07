/*
 * partmap.c — the part map: building it from a parsed tree, and looking a
 * section up in it.  Format and numbering rules are in mime.h.
 *
 * Building walks the tree recursively; the depth is bounded by the tree's,
 * which mime.c keeps at MAIL_MAX_DEPTH.
 */
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>

static char kind_char(const struct mail_part *p)
{
	switch (p->kind) {
	case MAIL_PART_MULTIPART:
		return 'm';
	case MAIL_PART_MESSAGE:
		return 'r';
	default:
		return 'l';
	}
}

static void emit_subsections(const struct mail_mime *m, uint32_t id, struct buf *sec,
			     struct buf *out);

/* One record for parts[id] under section sec, then its subparts. */
static void emit_part(const struct mail_mime *m, uint32_t id, struct buf *sec, struct buf *out)
{
	const struct mail_part *p = &m->parts[id];
	buf_printf(out, "%s %c %zu %zu %zu ", sec->data, kind_char(p), p->hdr_start,
		   p->body_start, p->body_end);
	if (p->kind == MAIL_PART_MESSAGE && p->first_child != MAIL_PART_NONE)
		buf_printf(out, "%zu", m->parts[p->first_child].body_start);
	else
		buf_putc(out, '-');
	buf_printf(out, " %c\n", mail_cte_char(p->cte));

	if (p->kind == MAIL_PART_MULTIPART) {
		size_t keep = sec->len;
		unsigned n = 0;
		for (uint32_t c = p->first_child; c != MAIL_PART_NONE; c = m->parts[c].next_sibling) {
			buf_printf(sec, ".%u", ++n);
			emit_part(m, c, sec, out);
			sec->len = keep;
			sec->data[keep] = '\0';
		}
	} else if (p->kind == MAIL_PART_MESSAGE && p->first_child != MAIL_PART_NONE) {
		emit_subsections(m, p->first_child, sec, out);
	}
}

/* The parts of the message parts[id] (a top-level or embedded message), under prefix sec. */
static void emit_subsections(const struct mail_mime *m, uint32_t id, struct buf *sec,
			     struct buf *out)
{
	const struct mail_part *p = &m->parts[id];
	size_t keep = sec->len;
	const char *dot = keep ? "." : "";
	if (p->kind == MAIL_PART_MULTIPART) {
		unsigned n = 0;
		for (uint32_t c = p->first_child; c != MAIL_PART_NONE; c = m->parts[c].next_sibling) {
			buf_printf(sec, "%s%u", dot, ++n);
			emit_part(m, c, sec, out);
			sec->len = keep;
			sec->data[keep] = '\0';
		}
	} else {
		buf_printf(sec, "%s1", dot);
		emit_part(m, id, sec, out);
		sec->len = keep;
		sec->data[keep] = '\0';
	}
}

void mail_parts_map(const struct mail_mime *m, struct buf *out)
{
	const struct mail_part *root = &m->parts[0];
	buf_printf(out, "0 r 0 0 %zu %zu %c\n", m->len, root->body_start, mail_cte_char(root->cte));
	struct buf sec = BUF_INIT;
	buf_puts(&sec, "");
	emit_subsections(m, 0, &sec, out);
	buf_free(&sec);
}

/* ---- lookup ------------------------------------------------------------- */

/* "" or nz-number *("." nz-number), bounded. */
static bool section_valid(const char *s)
{
	size_t n = strlen(s);
	if (n > 1024)
		return false;
	if (n == 0)
		return true;
	bool start = true;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (start)
				return false;
			start = true;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (start && s[i] == '0')
				return false;
			start = false;
		} else {
			return false;
		}
	}
	return !start;
}

static bool parse_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		if (x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
		s++;
	}
	*v = x;
	*p = s;
	return true;
}

static bool expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

static bool parse_record(const char *s, const char *end, struct mail_part_loc *out)
{
	char kind;
	uint64_t ms, bs, be, ts = 0;
	if (s >= end)
		return false;
	kind = *s++;
	if ((kind != 'm' && kind != 'r' && kind != 'l') || !expect(&s, end, ' ') ||
	    !parse_u64(&s, end, &ms) || !expect(&s, end, ' ') ||
	    !parse_u64(&s, end, &bs) || !expect(&s, end, ' ') ||
	    !parse_u64(&s, end, &be) || !expect(&s, end, ' '))
		return false;
	if (s < end && *s == '-')
		s++;
	else if (!parse_u64(&s, end, &ts))
		return false;
	if (!expect(&s, end, ' ') || s >= end)
		return false;
	char cte = *s++;
	if (s != end || ms > bs || bs > be || (kind == 'r' && (ts < bs || ts > be)))
		return false;
	out->mime_start = ms;
	out->mime_end = bs;
	out->body_start = bs;
	out->body_end = be;
	out->multipart = kind == 'm';
	out->message = kind == 'r';
	out->text_start = kind == 'r' ? ts : bs;
	out->cte = mail_cte_from_char(cte);
	return true;
}

bool mail_parts_find(const char *parts, const char *section, struct mail_part_loc *out)
{
	if (!parts || !section || !section_valid(section))
		return false;
	const char *want = *section ? section : "0";
	size_t wl = strlen(want);
	const char *p = parts;
	while (*p) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		if ((size_t)(end - p) > wl && memcmp(p, want, wl) == 0 && p[wl] == ' ')
			return parse_record(p + wl + 1, end, out);
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}
