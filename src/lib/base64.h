/*
 * base64.h — RFC 4648 base64 with explicit lengths (SASL, MIME).
 */
#ifndef TERN_LIB_BASE64_H
#define TERN_LIB_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Append the encoding of p[0..n) to out. */
void base64_encode(struct buf *out, const void *p, size_t n);

/*
 * Strict decode (SASL): only the alphabet and correct '=' padding; no
 * whitespace.  Appends to out and returns true, or returns false with out
 * unchanged in length.
 */
bool base64_decode(struct buf *out, const char *s, size_t n);

/*
 * Lenient decode (MIME bodies): skips characters outside the alphabet and
 * stops at '='.  Never fails.
 */
void base64_decode_lenient(struct buf *out, const char *s, size_t n);

#endif
