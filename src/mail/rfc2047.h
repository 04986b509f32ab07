/*
 * rfc2047.h — decoding of RFC 2047 encoded words ("=?charset?B?...?=") to UTF-8.
 *
 * Used for the decoded Subject and From name that listings and SORT use
 * (never for ENVELOPE, which IMAP sends raw).  Both B and Q encodings, any
 * charset glibc iconv knows; whitespace between adjacent encoded words is
 * dropped, and adjacent words in the same charset are converted together so
 * that a multi-byte character split across two words survives.  Malformed
 * words are left as they are; words in an unknown charset are taken as
 * UTF-8.  Text outside encoded words is taken as UTF-8 (RFC 6532).  The
 * output is always well-formed UTF-8.
 */
#ifndef TERN_MAIL_RFC2047_H
#define TERN_MAIL_RFC2047_H

#include <stddef.h>

#include "lib/buf.h"

/* Append the decoding of s[0..n) (an unfolded header value) to out. */
void mail_rfc2047_decode(struct buf *out, const char *s, size_t n);

#endif
