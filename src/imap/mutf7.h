/*
 * mutf7.h — modified UTF-7 (RFC 3501 §5.1.3) <-> UTF-8, for mailbox names
 * of sessions that have not ENABLEd UTF8=ACCEPT.
 *
 * Printable US-ASCII stands for itself, "&" is "&-", and every other run
 * of characters is "&" + UTF-16BE in base64 (with ',' for '/') + "-".
 * The decoder is strict, so that each name has exactly one encoding and
 * two spellings can never reach the same mailbox: it rejects unterminated
 * runs, characters outside the base64 alphabet, non-zero padding bits or
 * a superfluous base64 character, lone or reversed surrogates, printable
 * US-ASCII or U+0000 inside a run, two runs back to back ("&AOQ-&AOQ-"
 * for "&AOQA5A-"), and raw octets outside 0x20..0x7e.
 */
#ifndef TERN_IMAP_MUTF7_H
#define TERN_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * Append the UTF-8 form of s[0..n) to out.  false on an invalid encoding;
 * out is then as it was before the call.
 */
bool imap_mutf7_to_utf8(const char *s, size_t n, struct buf *out);

/*
 * Append the modified UTF-7 form of the UTF-8 s[0..n) to out.  Invalid
 * UTF-8 octets are encoded as U+FFFD.  imap_mutf7_to_utf8() of the result
 * gives s back for any valid UTF-8 s without U+0000.
 */
void imap_utf8_to_mutf7(const char *s, size_t n, struct buf *out);

#endif
