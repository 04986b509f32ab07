/*
 * util.h — small helpers: ASCII case, UTF-8 validity, random ids, time.
 */
#ifndef TERN_LIB_UTIL_H
#define TERN_LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ASCII-only case folding: network protocols' keywords are ASCII. */
bool ascii_ieq(const char *a, size_t alen, const char *b);   /* b is NUL-terminated */
bool ascii_iprefix(const char *s, size_t n, const char *prefix);
void ascii_lower(char *s, size_t n);

/* Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
bool utf8_valid(const char *s, size_t n);
bool is_ascii(const char *s, size_t n);

/* The value of a hex digit (either case), -1 for any other octet (a negative char too). */
int hex_digit(int c);

/*
 * A random identifier of n characters from [0-9A-Z] minus look-alikes,
 * NUL-terminated into out (which holds n + 1).  Used for session and
 * message ids.
 */
void random_id(char *out, size_t n);

/* Write all n octets to fd, again after short writes and EINTR; false (errno set) on an error. */
bool write_full(int fd, const void *p, size_t n);

uint64_t now_ms(void);          /* CLOCK_MONOTONIC, for timeouts */
uint64_t now_us(void);          /* CLOCK_MONOTONIC, for measuring */
int64_t now_unix(void);         /* wall clock seconds */

/* RFC 5322 date-time of t in local time: "Thu, 26 Nov 2026 16:49:55 +0000". */
void format_rfc5322_date(char *out, size_t size, int64_t t);

#endif
