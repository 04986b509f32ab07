/*
 * header.h — RFC 5322 header blocks: field iteration and unfolding.
 *
 * A header block is a byte range (pointer, length) that starts at the first
 * field and ends at the empty line (which may be included) or wherever the
 * caller decided the block ends (end of input, a MIME boundary).  Fields are
 * returned as slices of the input, never copied; the value slice is the raw
 * folded value after the colon, without the field's final line break.
 *
 * CRLF is expected but bare LF is accepted everywhere.  Lines that are not
 * fields (no colon, bad name, a continuation with nothing to continue) are
 * skipped.  At most MAIL_HDR_MAX_FIELDS fields are returned per block; the
 * rest are ignored (logged once per block).  Everything is one linear pass.
 *
 * Used by mime.c (Content-* fields of every part) and envelope.c.
 */
#ifndef TERN_MAIL_HEADER_H
#define TERN_MAIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define MAIL_HDR_MAX_FIELDS 10000
/* Longest unfolded field value kept for parsing or output; longer values are cut. */
#define MAIL_FIELD_MAX (64 * 1024)

struct mail_hdr_field {
	const char *name;       /* field name, trailing whitespace removed */
	size_t name_len;
	const char *value;      /* raw folded value after the colon */
	size_t value_len;       /* excludes the final line break */
};

struct mail_hdr_iter {
	const char *p;
	size_t len;
	size_t pos;
	size_t count;
};

void mail_hdr_iter_init(struct mail_hdr_iter *it, const char *p, size_t len);
/* Next field, or false at the empty line / end of block / field limit. */
bool mail_hdr_next(struct mail_hdr_iter *it, struct mail_hdr_field *f);

/* Whether f's name equals name (ASCII case-insensitive). */
bool mail_hdr_is(const struct mail_hdr_field *f, const char *name);

/*
 * Append the unfolded value: line breaks (CRLF or LF) removed, leading and
 * trailing SP/HTAB trimmed, cut at MAIL_FIELD_MAX bytes.  A CR that is not
 * part of a line break is kept.
 */
void mail_hdr_unfold(struct buf *out, const char *v, size_t n);

/*
 * Length of the line starting at p[0..n): up to and including its LF, or n
 * when there is none.  *eol gets the size of the line break (0, 1 or 2).
 */
size_t mail_line_len(const char *p, size_t n, size_t *eol);

#endif
