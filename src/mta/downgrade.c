/*
 * downgrade.c — the 7-bit downgrade of an 8-bit message; see downgrade.h.
 *
 * The MIME parser (src/mail/mime.c) gives a flat array of parts in
 * document order, each with the offsets of its header and body and a
 * parent index.  Three passes over that array, none recursive:
 *
 *   classify  (forward: a parent is decided before its children) each
 *             part's fate: WALK (a composite whose children are looked
 *             at), ENCODE (a body to re-encode), KEEP (left as it is) or
 *             INSIDE (within an ENCODE or KEEP ancestor's body, not looked
 *             at on its own);
 *   propagate (backward) "something below changed", so that a composite
 *             labelled 8bit is relabelled and an embedded message gets
 *             its MIME-Version only when needed;
 *   emit      (forward) copies the message, replacing the header and body
 *             of each changed part.  Part ranges nest and hdr_start never
 *             goes backwards, so one cursor into the input suffices.
 */
#include "mta/downgrade.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/mimeparam.h"

/* ---- quoted-printable --------------------------------------------------- */

static const char hexdig[] = "0123456789ABCDEF";

/* Does a line break (CRLF, a bare LF) or the end of the input come at in[i]? */
static bool line_end_at(const char *in, size_t n, size_t i)
{
	return i >= n || in[i] == '\n' || (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n');
}

void mta_qp_encode(const char *in, size_t n, struct buf *out)
{
	buf_reserve(out, MTA_QP_MAX(n));
	size_t col = 0;         /* octets on the current output line */
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)in[i];
		if (c == '\n' || (c == '\r' && i + 1 < n && in[i + 1] == '\n')) {
			buf_append(out, "\r\n", 2);
			col = 0;
			i += c == '\n' ? 1 : 2;
			continue;
		}
		bool last_on_line = line_end_at(in, n, i + 1);
		bool literal;
		if (c == ' ' || c == '\t')
			literal = !last_on_line;        /* rule 3: no white space at the end of a line */
		else
			literal = c >= 33 && c <= 126 && c != '=';
		/*
		 * A line that starts "--" could be taken for a boundary of an
		 * enclosing multipart (a soft break can put "--" at a line's
		 * start; "=" is a boundary character, so encoding can too).
		 */
		if (c == '-' && col == 0)
			literal = false;
		size_t tok = literal ? 1 : 3;
		/* Rule 5: at most 76 per line; a line that goes on needs room for its "=". */
		size_t room = last_on_line ? MTA_QP_LINE_MAX : MTA_QP_LINE_MAX - 1;
		if (col + tok > room) {
			buf_append(out, "=\r\n", 3);
			col = 0;
			continue;       /* again at the start of a line (the "-" rule) */
		}
		if (literal) {
			buf_putc(out, (char)c);
		} else {
			char e[3] = { '=', hexdig[c >> 4], hexdig[c & 15] };
			buf_append(out, e, 3);
		}
		col += tok;
		i++;
	}
}

/* ---- classification ------------------------------------------------------- */

enum fate {
	FATE_WALK,
	FATE_ENCODE,
	FATE_KEEP,
	FATE_INSIDE,
};

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80 || p[i] == '\0')
			return true;
	return false;
}

/* The part's Content-Type as type and subtype, lower-cased into the buffers; false when absent or malformed. */
static bool part_ctype(const struct mail_mime *m, const struct mail_part *part, char *type, size_t tsize,
		       char *subtype, size_t ssize)
{
	if (!part->ctype.present)
		return false;
	struct buf v = BUF_INIT;
	char *t = NULL, *st = NULL;
	struct mail_params params;
	mail_hdr_unfold(&v, m->msg + part->ctype.off, part->ctype.len);
	bool ok = mail_content_type_parse(buf_cstr(&v), v.len, &t, &st, &params);
	if (ok) {
		snprintf(type, tsize, "%s", t);
		snprintf(subtype, ssize, "%s", st);
		ascii_lower(type, strlen(type));
		ascii_lower(subtype, strlen(subtype));
		free(t);
		free(st);
		mail_params_free(&params);
	}
	buf_free(&v);
	return ok;
}

/* May this encoding label be replaced by quoted-printable (it names a domain, not a transformation)? */
static bool cte_is_domain(enum mail_cte cte)
{
	return cte == MAIL_CTE_NONE || cte == MAIL_CTE_7BIT || cte == MAIL_CTE_8BIT || cte == MAIL_CTE_BINARY;
}

/*
 * The fate of parts[id], whose parent (if any) is walked; 8-bit octets
 * that must stay are noted in res.  A composite labelled base64 or
 * quoted-printable is broken (RFC 2045 §6.4): its children are not
 * believed, and it is kept whole.
 */
static enum fate classify(const struct mail_mime *m, uint32_t id, struct mta_downgrade_result *res)
{
	const struct mail_part *part = &m->parts[id];
	const char *body = m->msg + part->body_start;
	size_t blen = part->body_end - part->body_start;
	char type[64] = "", subtype[64] = "";
	bool typed = part_ctype(m, part, type, sizeof type, subtype, sizeof subtype);
	bool global = typed && strcmp(type, "message") == 0 && strncmp(subtype, "global", 6) == 0;

	if ((part->kind == MAIL_PART_MULTIPART || part->kind == MAIL_PART_MESSAGE) && !global) {
		if (cte_is_domain(part->cte))
			return FATE_WALK;
		if (has_8bit(body, blen))
			res->residual_8bit = true;
		return FATE_KEEP;
	}
	if (!has_8bit(body, blen))
		return FATE_KEEP;
	if (part->ctype_src == MAIL_CTYPE_OPAQUE) {
		res->too_deep = true;
		return FATE_KEEP;
	}
	/*
	 * message/global may be encoded (RFC 6532 §3.5), other message and
	 * multipart types may not (RFC 2045 §6.4) — here a multipart is one whose
	 * boundary was unusable, which receivers will not split either.
	 */
	bool may_encode = global || !typed || (strcmp(type, "message") != 0 && strcmp(type, "multipart") != 0);
	if (!may_encode || !cte_is_domain(part->cte)) {
		res->residual_8bit = true;
		return FATE_KEEP;
	}
	return FATE_ENCODE;
}

/* 8-bit octets in a walked multipart's own body: preamble, boundary lines, epilogue. */
static bool multipart_gaps_8bit(const struct mail_mime *m, uint32_t id)
{
	const struct mail_part *part = &m->parts[id];
	size_t pos = part->body_start;
	for (uint32_t c = part->first_child; c != MAIL_PART_NONE; c = m->parts[c].next_sibling) {
		const struct mail_part *ch = &m->parts[c];
		if (ch->hdr_start > pos && has_8bit(m->msg + pos, ch->hdr_start - pos))
			return true;
		if (ch->body_end > pos)
			pos = ch->body_end;
	}
	return part->body_end > pos && has_8bit(m->msg + pos, part->body_end - pos);
}

/* ---- emitting ----------------------------------------------------------------- */

/* Where the header's fields end: the start of its empty line, or body_start when it has none. */
static size_t fields_end(const char *msg, size_t hs, size_t bs)
{
	if (bs <= hs || msg[bs - 1] != '\n')
		return bs;
	if (bs - 1 == hs || msg[bs - 2] == '\n')
		return bs - 1;
	if (msg[bs - 2] == '\r' && (bs - 2 == hs || msg[bs - 3] == '\n'))
		return bs - 2;
	return bs;      /* the last line is a field: the header ended at a boundary */
}

static bool header_has(const char *msg, size_t hs, size_t he, const char *name)
{
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	mail_hdr_iter_init(&it, msg + hs, he - hs);
	while (mail_hdr_next(&it, &f))
		if (mail_hdr_is(&f, name))
			return true;
	return false;
}

/*
 * The header of a changed part, with its Content-Transfer-Encoding set to
 * cte (NULL: left alone) and the fields a re-encoded part needs added.
 */
static void emit_header(const struct mail_mime *m, uint32_t id, const char *cte, bool add_mime_version,
			const char *add_ctype, struct buf *out)
{
	const struct mail_part *part = &m->parts[id];
	const char *msg = m->msg;
	size_t hs = part->hdr_start, bs = part->body_start;
	size_t he = fields_end(msg, hs, bs);
	size_t cur = hs;
	bool cte_done = false;

	if (cte) {
		struct mail_hdr_iter it;
		struct mail_hdr_field f;
		mail_hdr_iter_init(&it, msg + hs, he - hs);
		while (mail_hdr_next(&it, &f)) {
			if (!mail_hdr_is(&f, "content-transfer-encoding"))
				continue;
			size_t fstart = (size_t)(f.name - msg);
			size_t vstart = (size_t)(f.value - msg);
			size_t vend = vstart + f.value_len;
			if (!cte_done) {
				/* Name and line break as written; only the value changes. */
				buf_append(out, msg + cur, vstart - cur);
				buf_putc(out, ' ');
				buf_puts(out, cte);
				cur = vend;
				cte_done = true;
				continue;
			}
			/* A second label would contradict the first: it goes, with its line break. */
			size_t eol = 0;
			if (vend < he && msg[vend] == '\n')
				eol = 1;
			else if (vend + 1 < he && msg[vend] == '\r' && msg[vend + 1] == '\n')
				eol = 2;
			buf_append(out, msg + cur, fstart - cur);
			cur = vend + eol;
		}
	}
	buf_append(out, msg + cur, he - cur);
	if (he > hs && msg[he - 1] != '\n' && (add_mime_version || add_ctype || (cte && !cte_done)))
		buf_append(out, "\r\n", 2);
	if (add_mime_version)
		buf_puts(out, "MIME-Version: 1.0\r\n");
	if (add_ctype)
		buf_printf(out, "Content-Type: %s\r\n", add_ctype);
	/* No label means 7bit already: only a re-encoded part needs one added. */
	if (cte && !cte_done && strcmp(cte, "7bit") != 0)
		buf_printf(out, "Content-Transfer-Encoding: %s\r\n", cte);
	buf_append(out, msg + he, bs - he);
}

/* Is parts[id] the top of a message (the whole one, or one embedded in a message/rfc822 part)? */
static bool is_message_top(const struct mail_mime *m, uint32_t id)
{
	const struct mail_part *part = &m->parts[id];
	return part->parent == MAIL_PART_NONE || m->parts[part->parent].kind == MAIL_PART_MESSAGE;
}

static void note_headers_8bit(const struct mail_mime *m, const enum fate *fate, struct mta_downgrade_result *res)
{
	for (size_t i = 0; i < m->nparts && !res->header_8bit; i++) {
		const struct mail_part *part = &m->parts[i];
		if (fate[i] != FATE_INSIDE && has_8bit(m->msg + part->hdr_start, part->body_start - part->hdr_start))
			res->header_8bit = true;
	}
}

bool mta_downgrade(const char *msg, size_t len, struct buf *out, struct mta_downgrade_result *res)
{
	memset(res, 0, sizeof *res);
	if (!msg)
		msg = "";
	struct mail_mime m;
	mail_mime_parse(msg, len, &m);
	res->nparts = m.nparts;
	enum fate *fate = xcalloc(m.nparts, sizeof *fate);
	bool *changed = xcalloc(m.nparts, sizeof *changed);

	for (uint32_t i = 0; i < m.nparts; i++) {
		uint32_t par = m.parts[i].parent;
		if (par != MAIL_PART_NONE && fate[par] != FATE_WALK) {
			fate[i] = FATE_INSIDE;
			continue;
		}
		fate[i] = classify(&m, i, res);
		/*
		 * Past MAIL_MAX_PARTS the parser stops at boundaries, so the rest
		 * of the message lands in a multipart's epilogue: as beyond the
		 * nesting limit, content that cannot be converted.
		 */
		if (fate[i] == FATE_WALK && m.parts[i].kind == MAIL_PART_MULTIPART && multipart_gaps_8bit(&m, i)) {
			if (m.nparts >= MAIL_MAX_PARTS)
				res->too_deep = true;
			else
				res->residual_8bit = true;
		}
		changed[i] = fate[i] == FATE_ENCODE;
	}
	for (uint32_t i = (uint32_t)m.nparts; i-- > 1;)
		if (changed[i])
			changed[m.parts[i].parent] = true;
	note_headers_8bit(&m, fate, res);

	if (!changed[0]) {
		buf_append(out, msg, len);
		goto done;
	}
	res->changed = true;
	buf_reserve(out, len + len / 8);
	size_t cur = 0;
	for (uint32_t i = 0; i < m.nparts; i++) {
		if (!changed[i])
			continue;
		const struct mail_part *part = &m.parts[i];
		bool top = is_message_top(&m, i);
		bool add_mv = top && !header_has(msg, part->hdr_start, part->body_start, "mime-version");
		buf_append(out, msg + cur, part->hdr_start - cur);
		if (fate[i] == FATE_ENCODE) {
			const char *body = msg + part->body_start;
			size_t blen = part->body_end - part->body_start;
			const char *ctype = NULL;
			if (!part->ctype.present && part->ctype_src == MAIL_CTYPE_TEXT)
				ctype = utf8_valid(body, blen) ? "text/plain; charset=utf-8"
							       : "text/plain; charset=unknown-8bit";
			emit_header(&m, i, "quoted-printable", add_mv, ctype, out);
			mta_qp_encode(body, blen, out);
			cur = part->body_end;
			res->parts_encoded++;
		} else {
			bool relabel = part->cte == MAIL_CTE_8BIT || part->cte == MAIL_CTE_BINARY;
			emit_header(&m, i, relabel ? "7bit" : NULL, add_mv, NULL, out);
			cur = part->body_start;
			if (relabel)
				res->parts_relabelled++;
		}
	}
	buf_append(out, msg + cur, len - cur);
done:
	free(fate);
	free(changed);
	mail_mime_free(&m);
	return res->changed;
}
