/*
 * imapstr.h — IMAP string output for ENVELOPE and BODYSTRUCTURE.
 *
 * A value goes out as NIL (no value), as a quoted string with \ and "
 * escaped, or as a literal "{n}\r\n<bytes>" when it holds CR, LF, NUL or
 * 8-bit octets, or is longer than MAIL_IMAPSTR_QUOTED_MAX (RFC 3501
 * quoted strings may carry none of those).  A literal may not contain NUL
 * either, so NUL octets are sent as 0x80, as Dovecot does; results are thus
 * plain C strings that a server can send verbatim.
 */
#ifndef TERN_MAIL_IMAPSTR_H
#define TERN_MAIL_IMAPSTR_H

#include <stddef.h>

#include "lib/buf.h"

#define MAIL_IMAPSTR_QUOTED_MAX 1024

/* Append s[0..n) as a string, or NIL when s is NULL. */
void mail_imapstr_nstring(struct buf *out, const char *s, size_t n);
/* Same for a NUL-terminated s (NULL → NIL). */
void mail_imapstr_cstr(struct buf *out, const char *s);

#endif
