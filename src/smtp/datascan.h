/*
 * datascan.h — the byte-level scanner of message content (DATA and BDAT).
 *
 * DATA: finds the end-of-data marker, removes dot-stuffing, and watches
 * for what must refuse a message: bare CR or bare LF, and text lines over
 * 1000 octets.  Only <CRLF>.<CRLF> ends DATA; a bare LF or CR never counts
 * as a line end, so "\n.\r\n" and friends cannot end the message early
 * (SMTP smuggling).  BDAT: the same checks without dot handling.
 *
 * Pure and incremental: the result does not depend on how the input is cut
 * into pieces.  No allocation; content goes to the emit callback in runs.
 */
#ifndef TERN_SMTP_DATASCAN_H
#define TERN_SMTP_DATASCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct smtp_datascan {
	int state;
	uint64_t line_len;          /* octets of the current line, without CRLF */
	uint64_t max_line;          /* longest allowed line incl. CRLF */
	bool prev_cr;               /* BDAT: the last octet was CR */
	bool bare_eol;              /* a CR or LF not part of CRLF was seen */
	bool too_long;              /* a line exceeded max_line */
};

typedef void (*smtp_emit_fn)(void *ctx, const char *p, size_t n);

/* Start a message; max_line includes the CRLF (1000 for RFC 5321). */
void smtp_datascan_init(struct smtp_datascan *ds, uint64_t max_line);

/*
 * DATA: scan p[0..n).  Message octets (unstuffed, CRLFs included, the
 * terminating ".\r\n" excluded) go to emit.  Returns the octets used; sets
 * *end when the terminator was completed, in which case the rest of p is
 * not part of the message.
 */
size_t smtp_datascan_data(struct smtp_datascan *ds, const char *p, size_t n, bool *end,
			  smtp_emit_fn emit, void *ctx);

/* BDAT: check a chunk's octets (the caller stores them as they are). */
void smtp_datascan_chunk(struct smtp_datascan *ds, const char *p, size_t n);
/* BDAT LAST: a trailing lone CR is a bare CR. */
void smtp_datascan_chunk_end(struct smtp_datascan *ds);

#endif
