/*
 * charset.h — conversion of message text to UTF-8 (glibc iconv).
 *
 * Used by rfc2047.c (encoded words) and mimeparam.c (RFC 2231 values).
 * Output is always well-formed UTF-8: bytes that do not convert become
 * U+FFFD.  Charset names from messages are hostile: they are checked
 * against a conservative alphabet (so no "//TRANSLIT" style suffixes reach
 * iconv) and a length limit before iconv_open() sees them.
 */
#ifndef TERN_MAIL_CHARSET_H
#define TERN_MAIL_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define MAIL_CHARSET_NAME_MAX 64

/*
 * Append s[0..n) converted from charset (name[0..name_len), case-insensitive,
 * an RFC 2231 "*language" suffix ignored) to out as UTF-8.  Returns false
 * when the charset is unknown or unacceptable; the bytes are then appended
 * as if they were UTF-8 (invalid sequences replaced), which is right for
 * the common mislabelled cases.
 */
bool mail_charset_to_utf8(struct buf *out, const char *name, size_t name_len,
			  const char *s, size_t n);

/* Append s[0..n) as UTF-8, every byte of an invalid sequence as U+FFFD. */
void mail_utf8_append_lossy(struct buf *out, const char *s, size_t n);

#endif
