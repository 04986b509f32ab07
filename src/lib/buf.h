/*
 * buf.h — a growable byte buffer with an explicit length.
 *
 * The one string type for anything built piecewise or received from the
 * network.  data is always NUL-terminated (for convenience with C APIs) but
 * may also contain NULs; len is the truth.  A zeroed struct buf is an empty
 * buffer ready for use.
 */
#ifndef TERN_LIB_BUF_H
#define TERN_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);              /* len = 0, keeps memory */
void buf_free(struct buf *b);               /* releases memory, back to empty */
char *buf_steal(struct buf *b);             /* returns data (never NULL), buffer becomes empty */
const char *buf_cstr(struct buf *b);        /* data, "" when empty */

#endif
