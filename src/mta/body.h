/*
 * body.h — the message as it goes on the wire: the streaming encoder of
 * DATA (dot-stuffing, RFC 5321 §4.5.2, and the final "." line) and of BDAT
 * chunks (RFC 3030: no stuffing).  Either way a bare LF becomes CRLF and
 * the message is made to end with CRLF.
 *
 * Pure and incremental: the client reads the message file a chunk at a
 * time and encodes each chunk as it goes, so nothing ever holds more than
 * one chunk; splitting the input anywhere gives the same output.
 */
#ifndef TERN_MTA_BODY_H
#define TERN_MTA_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct mta_body {
	bool dot_stuff;     /* DATA; false for BDAT */
	bool bol;           /* the next octet starts a line */
	bool any;           /* something was encoded */
	char last;          /* the last octet written */
};

void mta_body_init(struct mta_body *b, bool dot_stuff);
/* Append the encoding of in[0..n) to out; at most 2n + 1 octets. */
void mta_body_encode(struct mta_body *b, const char *in, size_t n, struct buf *out);
/* Append the end: CRLF when the last line lacks one, then ".\r\n" for DATA. */
void mta_body_finish(struct mta_body *b, struct buf *out);

#endif
