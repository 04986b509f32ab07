/*
 * mime.c — the MIME structure parser; see mime.h.
 *
 * One forward pass over the message, line by line, in two modes:
 *
 *   HEADER  reading the header of parts[cur] from its hdr_start; ends at
 *           the empty line, at end of input, or at a boundary line.
 *           header_done() then classifies the part: a multipart pushes its
 *           boundary and goes to BODY; a message part opens its child (the
 *           embedded message) at the same offset and stays in HEADER; any
 *           other part goes to BODY.
 *   BODY    skipping lines until one matches an open boundary
 *           (on_boundary(): closes the parts below that multipart and opens
 *           the next sibling in HEADER, or after a closing boundary stays in
 *           BODY for the epilogue) or the input ends (all open parts close).
 *
 * Open parts are the chain parts[cur] → parent → ... → parts[0]; the
 * boundary stack holds the open multiparts, so nothing here recurses.  A
 * running count of LFs gives every part's line count without rescanning.
 */
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/header.h"
#include "mail/mimeparam.h"

struct boundary {
	char *b;
	size_t len;
	uint32_t part;
};

struct parser {
	const char *s;
	size_t len;
	struct mail_mime *m;
	size_t cap;
	uint32_t cur;
	size_t pos;
	uint64_t nl;                    /* LFs in s[0 .. pos) */
	struct boundary stack[MAIL_MAX_DEPTH + 1];
	size_t nb;
	bool limit_logged;
};

static uint32_t new_part(struct parser *p, uint32_t parent, size_t hdr_start)
{
	struct mail_mime *m = p->m;
	if (m->nparts == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		m->parts = xrealloc(m->parts, p->cap * sizeof *m->parts);
	}
	uint32_t id = (uint32_t)m->nparts++;
	struct mail_part *part = &m->parts[id];
	memset(part, 0, sizeof *part);
	part->parent = parent;
	part->first_child = part->last_child = part->next_sibling = MAIL_PART_NONE;
	part->hdr_start = part->body_start = part->body_end = hdr_start;
	part->kind = MAIL_PART_LEAF;
	part->ctype_src = MAIL_CTYPE_TEXT;
	part->depth = parent == MAIL_PART_NONE ? 0 : m->parts[parent].depth + 1;
	if (parent != MAIL_PART_NONE) {
		struct mail_part *par = &m->parts[parent];
		if (par->last_child == MAIL_PART_NONE)
			par->first_child = id;
		else
			m->parts[par->last_child].next_sibling = id;
		par->last_child = id;
	}
	return id;
}

static void limit_hit(struct parser *p, const char *what)
{
	if (p->limit_logged)
		return;
	p->limit_logged = true;
	log_info("mail", "msg=\"mime limit reached, rest kept opaque\" limit=%s depth_max=%d parts_max=%d",
		 what, MAIL_MAX_DEPTH, MAIL_MAX_PARTS);
}

static void set_ref(struct mail_field_ref *r, const char *base, const struct mail_hdr_field *f)
{
	if (r->present)
		return;         /* the first occurrence counts */
	r->present = true;
	r->off = (size_t)(f->value - base);
	r->len = f->value_len;
}

static void collect_fields(struct parser *p, struct mail_part *part, size_t hs, size_t he)
{
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	mail_hdr_iter_init(&it, p->s + hs, he - hs);
	while (mail_hdr_next(&it, &f)) {
		if (f.name_len < 10 || !ascii_iprefix(f.name, f.name_len, "content-"))
			continue;
		if (mail_hdr_is(&f, "content-type"))
			set_ref(&part->ctype, p->s, &f);
		else if (mail_hdr_is(&f, "content-transfer-encoding"))
			set_ref(&part->encoding, p->s, &f);
		else if (mail_hdr_is(&f, "content-id"))
			set_ref(&part->id, p->s, &f);
		else if (mail_hdr_is(&f, "content-description"))
			set_ref(&part->description, p->s, &f);
		else if (mail_hdr_is(&f, "content-md5"))
			set_ref(&part->md5, p->s, &f);
		else if (mail_hdr_is(&f, "content-disposition"))
			set_ref(&part->disposition, p->s, &f);
		else if (mail_hdr_is(&f, "content-language"))
			set_ref(&part->language, p->s, &f);
		else if (mail_hdr_is(&f, "content-location"))
			set_ref(&part->location, p->s, &f);
	}
}

static bool boundary_ok(const char *b, size_t n)
{
	if (n == 0 || n > MAIL_BOUNDARY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (b[i] == '\r' || b[i] == '\n' || b[i] == '\0')
			return false;
	return true;
}

/*
 * Classify parts[cur] from its header [hdr_start, body_start) and set up
 * what comes next.  Returns true when the next mode is HEADER (a message
 * part opened its embedded message), false for BODY.
 */
static bool header_done(struct parser *p)
{
	uint32_t id = p->cur;
	struct mail_part *part = &p->m->parts[id];
	collect_fields(p, part, part->hdr_start, part->body_start);
	part->nl_at_body = p->nl;
	part->cte = part->encoding.present ?
		mail_cte_parse(p->s + part->encoding.off, part->encoding.len) : MAIL_CTE_NONE;

	bool in_digest = part->parent != MAIL_PART_NONE && p->m->parts[part->parent].is_digest;
	bool want_multipart = false, want_message = false;
	char *boundary = NULL;
	size_t blen = 0;

	if (!part->ctype.present) {
		part->ctype_src = in_digest ? MAIL_CTYPE_DIGEST : MAIL_CTYPE_TEXT;
		want_message = in_digest;
	} else {
		struct buf v = BUF_INIT;
		char *type, *subtype;
		struct mail_params params;
		mail_hdr_unfold(&v, p->s + part->ctype.off, part->ctype.len);
		if (!mail_content_type_parse(buf_cstr(&v), v.len, &type, &subtype, &params)) {
			part->ctype_src = MAIL_CTYPE_TEXT;
		} else {
			part->ctype_src = MAIL_CTYPE_GIVEN;
			size_t tl = strlen(type), sl = strlen(subtype);
			if (ascii_ieq(type, tl, "multipart")) {
				const struct mail_param *b = mail_params_get(&params, "boundary");
				if (b && boundary_ok(b->value, b->value_len)) {
					want_multipart = true;
					boundary = xmemdup0(b->value, b->value_len);
					blen = b->value_len;
					part->is_digest = ascii_ieq(subtype, sl, "digest");
				} else {
					part->ctype_src = MAIL_CTYPE_TEXT;
				}
			} else if (ascii_ieq(type, tl, "message") &&
				   (ascii_ieq(subtype, sl, "rfc822") || ascii_ieq(subtype, sl, "global"))) {
				want_message = true;
			}
			free(type);
			free(subtype);
			mail_params_free(&params);
		}
		buf_free(&v);
	}

	if (want_multipart || want_message) {
		bool deep = part->depth + 1 > MAIL_MAX_DEPTH || p->nb >= MAIL_MAX_DEPTH;
		bool many = want_message && p->m->nparts >= MAIL_MAX_PARTS;
		if (deep || many) {
			limit_hit(p, deep ? "depth" : "parts");
			part->ctype_src = MAIL_CTYPE_OPAQUE;
			part->is_digest = false;
			want_multipart = want_message = false;
		}
	}
	if (want_multipart) {
		part->kind = MAIL_PART_MULTIPART;
		p->stack[p->nb].b = boundary;
		p->stack[p->nb].len = blen;
		p->stack[p->nb].part = id;
		p->nb++;
		return false;
	}
	free(boundary);
	if (want_message) {
		part->kind = MAIL_PART_MESSAGE;
		p->cur = new_part(p, id, part->body_start);
		return true;
	}
	part->kind = MAIL_PART_LEAF;
	return false;
}

/* Index into the boundary stack of the boundary that line s[lp..) is, or -1. */
static int match_boundary(struct parser *p, size_t lp)
{
	size_t rest = p->len - lp;
	if (p->nb == 0 || rest < 3 || p->s[lp] != '-' || p->s[lp + 1] != '-')
		return -1;
	for (size_t k = p->nb; k > 0; k--) {
		const struct boundary *b = &p->stack[k - 1];
		if (rest - 2 >= b->len && memcmp(p->s + lp + 2, b->b, b->len) == 0)
			return (int)(k - 1);
	}
	return -1;
}

/* Close parts[id] at end (clamped to its body start), lines from the LF count nl_end. */
static void close_part(struct parser *p, uint32_t id, size_t end, uint64_t nl_end)
{
	struct mail_part *part = &p->m->parts[id];
	if (end <= part->body_start) {
		part->body_end = part->body_start;
		part->body_lines = 0;
	} else {
		part->body_end = end;
		part->body_lines = nl_end - part->nl_at_body;
	}
}

static void pop_to(struct parser *p, size_t nb)
{
	while (p->nb > nb) {
		p->nb--;
		free(p->stack[p->nb].b);
		p->stack[p->nb].b = NULL;
	}
}

/*
 * The line at lp is boundary k.  Close everything open below its
 * multipart, then either open the next body part (returns true: HEADER)
 * or, for a closing boundary, continue in the multipart's epilogue.
 */
static bool on_boundary(struct parser *p, int k, size_t lp)
{
	uint32_t mp = p->stack[k].part;
	size_t blen = p->stack[k].len;
	size_t end = lp;
	uint64_t nl_end = p->nl;
	if (lp > 0 && p->s[lp - 1] == '\n') {
		end = lp - 1;
		nl_end--;       /* that LF belongs to the boundary */
		if (end > 0 && p->s[end - 1] == '\r')
			end--;
	}
	for (uint32_t id = p->cur; id != mp && id != MAIL_PART_NONE; id = p->m->parts[id].parent)
		close_part(p, id, end, nl_end);

	size_t eol;
	size_t ll = mail_line_len(p->s + lp, p->len - lp, &eol);
	bool closing = lp + 2 + blen + 2 <= p->len && p->s[lp + 2 + blen] == '-' &&
		       p->s[lp + 3 + blen] == '-';
	p->pos = lp + ll;
	if (eol)
		p->nl++;
	p->cur = mp;
	if (closing) {
		pop_to(p, (size_t)k);
		return false;
	}
	pop_to(p, (size_t)k + 1);
	if (p->m->nparts >= MAIL_MAX_PARTS) {
		/* Too many parts: everything from here on is the multipart's body. */
		limit_hit(p, "parts");
		pop_to(p, 0);
		return false;
	}
	p->cur = new_part(p, mp, p->pos);
	return true;
}

/* Read the header of parts[cur] from p->pos.  Returns the next mode (true: HEADER). */
static bool read_header(struct parser *p)
{
	struct mail_part *part = &p->m->parts[p->cur];
	part->hdr_start = p->pos;
	while (p->pos < p->len) {
		const char *line = p->s + p->pos;
		size_t rest = p->len - p->pos;
		if (line[0] == '\n' || (rest >= 2 && line[0] == '\r' && line[1] == '\n')) {
			p->pos += line[0] == '\n' ? 1 : 2;
			p->nl++;
			part->body_start = p->pos;
			return header_done(p);
		}
		int k = match_boundary(p, p->pos);
		if (k >= 0) {
			/* Header cut short by a boundary: the part has no body. */
			size_t end = p->pos;
			if (end > part->hdr_start && p->s[end - 1] == '\n') {
				end--;
				if (end > part->hdr_start && p->s[end - 1] == '\r')
					end--;
			}
			part->body_start = part->body_end = end;
			size_t nb = p->nb;
			header_done(p);
			/*
			 * A multipart declared in a cut-short header has no body, so
			 * its boundary cannot be what ends it (as in Dovecot); an
			 * embedded message opened here is empty and closes with it.
			 */
			pop_to(p, nb);
			return on_boundary(p, k, p->pos);
		}
		size_t eol;
		p->pos += mail_line_len(line, rest, &eol);
		if (eol)
			p->nl++;
	}
	part->body_start = p->len;
	return header_done(p);
}

/* Skip body lines of the open parts; returns true (HEADER) after a boundary, false at the end. */
static bool read_body(struct parser *p, bool *done)
{
	while (p->pos < p->len) {
		int k = match_boundary(p, p->pos);
		if (k >= 0)
			return on_boundary(p, k, p->pos);
		size_t eol;
		p->pos += mail_line_len(p->s + p->pos, p->len - p->pos, &eol);
		if (eol)
			p->nl++;
	}
	for (uint32_t id = p->cur; id != MAIL_PART_NONE; id = p->m->parts[id].parent)
		close_part(p, id, p->len, p->nl);
	*done = true;
	return false;
}

void mail_mime_parse(const char *msg, size_t len, struct mail_mime *out)
{
	struct parser p = { 0 };
	if (!msg) {
		msg = "";
		len = 0;
	}
	memset(out, 0, sizeof *out);
	out->msg = msg;
	out->len = len;
	p.s = msg;
	p.len = len;
	p.m = out;
	p.cur = new_part(&p, MAIL_PART_NONE, 0);

	bool header = true, done = false;
	while (!done) {
		if (header)
			header = read_header(&p);
		else
			header = read_body(&p, &done);
	}
	pop_to(&p, 0);
}

void mail_mime_free(struct mail_mime *m)
{
	free(m->parts);
	m->parts = NULL;
	m->nparts = 0;
}
