/*
 * section.c — what a FETCH body item sends (section.h), worked out from
 * the part map (mail/mime.h) that delivery stored in the index.
 *
 *   BODY[]  RFC822                 the whole message, [0, size)
 *   BODY[HEADER]  RFC822.HEADER    top-level header incl. the empty line
 *   BODY[TEXT]  RFC822.TEXT        top-level body
 *   BODY[s]                        part s's body (a multipart's with its
 *                                  boundaries; a message/rfc822's = the
 *                                  embedded message, header and all)
 *   BODY[s.MIME]                   part s's MIME header incl. empty line
 *   BODY[s.HEADER] / [s.TEXT]      only for message/rfc822 parts
 *   BODY[s.HEADER.FIELDS (..)]     the named fields, in message order, as
 *                                  written (folding and line breaks kept),
 *                                  then an empty line; .NOT: the others
 *   BINARY[s]  BINARY.SIZE[s]      part s decoded from base64 / QP (RFC
 *                                  3516); BINARY[] is the whole message
 *
 * Everything but HEADER.FIELDS and decoded BINARY is a byte range of the
 * blob, which the session streams from the file.  Sections that do not
 * exist (or a part map that does not parse) give an empty string, except
 * BINARY of a missing part, which is NIL (RFC 3516), and BINARY.SIZE of
 * one, which is 0 (the grammar has no NIL there).
 */
#include "imap/section.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "mail/cte.h"
#include "mail/header.h"
#include "mail/mime.h"

/* "1.2.3" from att's part numbers; false when the numbers cannot name a part. */
static bool section_name(const uint32_t *part, size_t nparts, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	if (nparts > IMAP_SECTION_DEPTH)
		return false;
	for (size_t i = 0; i < nparts; i++) {
		if (part[i] == 0)
			return false;
		int w = snprintf(out + used, size - used, "%s%u", i ? "." : "", part[i]);
		if (w < 0 || (size_t)w >= size - used)
			return false;
		used += (size_t)w;
	}
	return true;
}

/* Look up a part and check its offsets against the message size. */
static bool find_part(const uint32_t *part, size_t nparts, const char *parts, uint64_t size,
		      struct mail_part_loc *loc)
{
	char name[IMAP_SECTION_DEPTH * 11 + 1];
	if (!section_name(part, nparts, name, sizeof name) || !mail_parts_find(parts, name, loc))
		return false;
	/* mail_parts_find checked the order of the offsets; a map from another message would not fit. */
	return loc->body_end <= size && loc->mime_end <= size;
}

static void set_range(struct imap_section *out, uint64_t start, uint64_t end)
{
	out->kind = IMAP_SECTION_RANGE;
	out->offset = start;
	out->length = end - start;
}

static bool name_listed(const struct imap_fetch_att *att, const struct mail_hdr_field *f)
{
	for (size_t i = 0; i < att->nfields; i++) {
		const struct imap_str *s = &att->fields[i];
		if (s->p && !s->nil && s->n == f->name_len && ascii_ieq(f->name, f->name_len, s->p) &&
		    strlen(s->p) == s->n)
			return true;
	}
	return false;
}

/*
 * HEADER.FIELDS (.NOT): the fields of the header block h[0..n) whose name
 * is (not) listed, each from its name to the end of its last continuation
 * line, then the empty line.  A field cut off without a line break gets
 * CRLF; a bare LF ending a field becomes CRLF.
 */
static void header_fields(const char *h, size_t n, const struct imap_fetch_att *att, bool not,
			  struct buf *out)
{
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	mail_hdr_iter_init(&it, h, n);
	while (mail_hdr_next(&it, &f)) {
		if (name_listed(att, &f) == not)
			continue;
		size_t start = (size_t)(f.name - h);
		size_t end = it.pos;
		if (end > start && h[end - 1] == '\n') {
			size_t body = end - 1;
			if (body > start && h[body - 1] == '\r')
				body--;
			buf_append(out, f.name, body - start);
		} else {
			buf_append(out, f.name, end - start);
		}
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");
}

/* BODY[...], RFC822, RFC822.HEADER, RFC822.TEXT (before the partial). */
static void body_section(const struct imap_fetch_att *att, enum imap_section_spec spec, size_t nparts,
			 const char *parts, uint64_t size, const char *blob, size_t bloblen,
			 struct imap_section *out)
{
	struct mail_part_loc loc;
	if (nparts == 0 && spec == SEC_NONE) {
		set_range(out, 0, size);
		return;
	}
	if (!find_part(att->part, nparts, parts, size, &loc))
		return;
	switch (spec) {
	case SEC_NONE:
		set_range(out, loc.body_start, loc.body_end);
		break;
	case SEC_MIME:
		if (nparts > 0)
			set_range(out, loc.mime_start, loc.mime_end);
		break;
	case SEC_HEADER:
		if (loc.message)
			set_range(out, loc.body_start, loc.text_start);
		break;
	case SEC_TEXT:
		if (loc.message)
			set_range(out, loc.text_start, loc.body_end);
		break;
	case SEC_HEADER_FIELDS:
	case SEC_HEADER_FIELDS_NOT:
		if (!loc.message || !blob || loc.text_start > bloblen)
			break;
		header_fields(blob + loc.body_start, (size_t)(loc.text_start - loc.body_start), att,
			      spec == SEC_HEADER_FIELDS_NOT, &out->data);
		break;
	}
}

/*
 * BINARY[...] and BINARY.SIZE[...].  Parts in an identity encoding are
 * sent as a range of the blob, unless they hold a NUL, which only a
 * literal8 can carry: then they are copied so the session sees the NUL.
 */
static void binary_section(const struct imap_fetch_att *att, const char *parts, uint64_t size,
			   const char *blob, size_t bloblen, struct imap_section *out)
{
	bool sizeonly = att->type == FA_BINARY_SIZE;
	uint64_t start = 0, end = size;
	enum mail_cte cte = MAIL_CTE_NONE;
	if (att->nparts > 0) {
		struct mail_part_loc loc;
		if (!find_part(att->part, att->nparts, parts, size, &loc)) {
			if (!sizeonly)
				out->kind = IMAP_SECTION_NIL;
			return;
		}
		start = loc.body_start;
		end = loc.body_end;
		cte = loc.cte;
	}
	switch (cte) {
	case MAIL_CTE_UNKNOWN:
		out->kind = IMAP_SECTION_UNKNOWN_CTE;
		return;
	case MAIL_CTE_BASE64:
	case MAIL_CTE_QP:
		if (!blob || end > bloblen)
			return;
		mail_cte_decode(cte, blob + start, (size_t)(end - start), &out->data);
		out->size = out->data.len;
		if (sizeonly)
			buf_free(&out->data);
		return;
	default:
		break;
	}
	out->size = end - start;
	if (sizeonly)
		return;
	if (blob && end <= bloblen && memchr(blob + start, '\0', (size_t)(end - start))) {
		buf_append(&out->data, blob + start, (size_t)(end - start));
		return;
	}
	set_range(out, start, end);
}

/* <offset.length>: what lies at offset, at most length octets; nothing when offset is past the end. */
static void apply_partial(const struct imap_fetch_att *att, struct imap_section *out)
{
	if (!att->partial)
		return;
	if (out->kind == IMAP_SECTION_RANGE) {
		uint64_t o = att->offset < out->length ? att->offset : out->length;
		uint64_t l = out->length - o;
		out->offset += o;
		out->length = att->length < l ? att->length : l;
	} else if (out->kind == IMAP_SECTION_BUILT) {
		size_t len = out->data.len;
		size_t o = att->offset < len ? (size_t)att->offset : len;
		size_t l = len - o;
		if (att->length < l)
			l = (size_t)att->length;
		if (o && l)
			memmove(out->data.data, out->data.data + o, l);
		out->data.len = l;
		if (out->data.data)
			out->data.data[l] = '\0';
	}
}

void imap_section_get(const struct imap_fetch_att *att, const char *parts, uint64_t size, const char *blob,
		      size_t bloblen, struct imap_section *out)
{
	memset(out, 0, sizeof *out);
	out->kind = IMAP_SECTION_BUILT;
	if (!blob)
		bloblen = 0;
	switch (att->type) {
	case FA_RFC822:
		body_section(att, SEC_NONE, 0, parts, size, blob, bloblen, out);
		break;
	case FA_RFC822_HEADER:
		body_section(att, SEC_HEADER, 0, parts, size, blob, bloblen, out);
		break;
	case FA_RFC822_TEXT:
		body_section(att, SEC_TEXT, 0, parts, size, blob, bloblen, out);
		break;
	case FA_BODY_SECTION:
		body_section(att, att->spec, att->nparts, parts, size, blob, bloblen, out);
		break;
	case FA_BINARY_SECTION:
		binary_section(att, parts, size, blob, bloblen, out);
		break;
	case FA_BINARY_SIZE:
		binary_section(att, parts, size, blob, bloblen, out);
		return;         /* a size takes no partial */
	default:
		return;         /* not a body item */
	}
	apply_partial(att, out);
}

bool imap_section_needs_blob(const struct imap_fetch_att *att)
{
	switch (att->type) {
	case FA_BODY_SECTION:
		return att->spec == SEC_HEADER_FIELDS || att->spec == SEC_HEADER_FIELDS_NOT;
	case FA_BINARY_SECTION:
	case FA_BINARY_SIZE:
		return true;
	default:
		return false;
	}
}

void imap_section_free(struct imap_section *s)
{
	buf_free(&s->data);
}
