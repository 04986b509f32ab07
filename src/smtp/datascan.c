/*
 * datascan.c — see datascan.h.
 *
 * DATA states, by where we stand relative to "\r\n.\r\n" (the opening
 * "\r\n" is implied at the start of DATA and after every line):
 *
 *   LINE_START --'.'--> DOT --'\r'--> DOT_CR --'\n'--> end of data
 *        |               | other: stuffed dot dropped, byte re-read in IN_LINE
 *        | other          `
 *        v
 *     IN_LINE --'\r'--> CR --'\n'--> LINE_START
 *        ^  '\n' (bare LF)  | other (bare CR): byte re-read in IN_LINE
 *        `-----------------'
 */
#include "smtp/datascan.h"

#include <string.h>

enum { D_LINE_START, D_IN_LINE, D_CR, D_DOT, D_DOT_CR };

void smtp_datascan_init(struct smtp_datascan *ds, uint64_t max_line)
{
	ds->state = D_LINE_START;
	ds->line_len = 0;
	ds->max_line = max_line;
	ds->prev_cr = false;
	ds->bare_eol = false;
	ds->too_long = false;
}

static void end_line(struct smtp_datascan *ds)
{
	if (ds->line_len + 2 > ds->max_line)
		ds->too_long = true;
	ds->line_len = 0;
}

/*
 * Content is passed on as it came, but for the stuffed dots and the
 * terminator: so emit() gets the longest runs the input allows, many lines
 * at once, and each line costs two memchr() calls.  (Emitting line by
 * line, with a byte loop to find its end, made this the hottest function
 * of a 1 MiB delivery.)
 */
size_t smtp_datascan_data(struct smtp_datascan *ds, const char *p, size_t n, bool *end,
			  smtp_emit_fn emit, void *ctx)
{
	size_t i = 0, run = 0;     /* p[run..i) is content not yet emitted */
	*end = false;
	while (i < n) {
		char ch = p[i];
		switch (ds->state) {
		case D_LINE_START:
			if (ch == '.') {
				if (i > run)
					emit(ctx, p + run, i - run);
				ds->state = D_DOT;
				run = ++i;  /* the dot is not content */
			} else {
				ds->state = D_IN_LINE;
			}
			break;
		case D_IN_LINE: {
			const char *lf = memchr(p + i, '\n', n - i);
			size_t stop = lf ? (size_t)(lf - p) : n;
			const char *cr = memchr(p + i, '\r', stop - i);
			if (cr && lf && cr + 1 == lf) {         /* the line ends in CRLF */
				ds->line_len += (size_t)(cr - (p + i));
				end_line(ds);
				ds->state = D_LINE_START;
				i = stop + 1;
			} else if (cr) {                        /* a CR, maybe bare */
				ds->line_len += (size_t)(cr - (p + i));
				ds->state = D_CR;
				i = (size_t)(cr - p) + 1;
			} else if (lf) {                        /* bare LF: content, never a line end */
				ds->bare_eol = true;
				ds->line_len += stop - i + 1;
				i = stop + 1;
			} else {
				ds->line_len += n - i;
				i = n;
			}
			break;
		}
		case D_CR:                      /* the CR went out with the run */
			if (ch == '\n') {
				end_line(ds);
				ds->state = D_LINE_START;
				i++;
			} else {  /* bare CR */
				ds->bare_eol = true;
				ds->line_len++;
				ds->state = D_IN_LINE;
			}
			break;
		case D_DOT:
			if (ch == '\r') {
				ds->state = D_DOT_CR;
				run = ++i;  /* held back: maybe the terminator */
			} else {  /* a stuffed dot (RFC 5321 §4.5.2) */
				ds->state = D_IN_LINE;
			}
			break;
		case D_DOT_CR:
			if (ch == '\n') {
				*end = true;
				return i + 1;
			}
			ds->bare_eol = true;
			emit(ctx, "\r", 1);
			ds->line_len++;
			ds->state = D_IN_LINE;
			break;
		}
	}
	if (i > run)
		emit(ctx, p + run, i - run);
	return n;
}

void smtp_datascan_chunk(struct smtp_datascan *ds, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ds->prev_cr) {
			ds->prev_cr = false;
			if (ch == '\n') {
				end_line(ds);
				continue;
			}
			ds->bare_eol = true;
			ds->line_len++;
		}
		if (ch == '\r')
			ds->prev_cr = true;
		else if (ch == '\n')
			ds->bare_eol = true;
		else
			ds->line_len++;
	}
}

void smtp_datascan_chunk_end(struct smtp_datascan *ds)
{
	if (ds->prev_cr)
		ds->bare_eol = true;
	ds->prev_cr = false;
}
