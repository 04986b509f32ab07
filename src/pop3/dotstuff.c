/*
 * dotstuff.c — RETR/TOP response encoding; see dotstuff.h.
 *
 * One pass over the input: runs of ordinary octets are copied in one
 * append, and only line starts and line ends need a decision.  A line end
 * is LF (with or without the CR before it); a CR alone is content.  For
 * TOP the header ends at the first empty line (nothing but CRLF or LF),
 * which is sent; after it every line end counts one body line.
 */
#include "pop3/dotstuff.h"

#include <string.h>

void pop3_dotstuff_init(struct pop3_dotstuff *d, bool top, uint64_t lines)
{
	memset(d, 0, sizeof *d);
	d->top = top;
	d->lines = lines;
	d->line_start = true;
}

/* A line just ended (its LF was emitted): update the TOP bookkeeping. */
static void line_ended(struct pop3_dotstuff *d)
{
	bool empty = d->line_len == 0 || (d->line_len == 1 && d->prev_cr);
	d->line_len = 0;
	d->line_start = true;
	if (!d->top)
		return;
	if (!d->in_body) {
		if (empty) {
			d->in_body = true;
			if (d->lines == 0)
				d->done = true;
		}
		return;
	}
	if (--d->lines == 0)
		d->done = true;
}

size_t pop3_dotstuff_feed(struct pop3_dotstuff *d, const char *p, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n && !d->done) {
		if (d->line_start) {
			d->line_start = false;
			if (p[i] == '.')
				buf_putc(out, '.');
		}
		/* Copy up to and including the next LF, or to the end of the input. */
		const char *lf = memchr(p + i, '\n', n - i);
		size_t run = lf ? (size_t)(lf - (p + i)) : n - i;
		if (run) {
			buf_append(out, p + i, run);
			d->line_len += run;
			d->prev_cr = p[i + run - 1] == '\r';
			i += run;
		}
		if (!lf)
			break;
		/* The LF: a bare one becomes CRLF. */
		if (d->prev_cr)
			buf_putc(out, '\n');
		else
			buf_append(out, "\r\n", 2);
		i++;
		line_ended(d);
		d->prev_cr = false;
	}
	return i;
}

void pop3_dotstuff_finish(struct pop3_dotstuff *d, struct buf *out)
{
	if (!d->done && !d->line_start) {
		/* An unterminated last line: a CR already sent only needs its LF. */
		if (d->prev_cr)
			buf_putc(out, '\n');
		else
			buf_append(out, "\r\n", 2);
	}
	buf_append(out, ".\r\n", 3);
	d->done = true;
}
