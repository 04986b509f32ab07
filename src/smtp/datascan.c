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

size_t smtp_datascan_data(struct smtp_datascan *ds, const char *p, size_t n, bool *end,
			  smtp_emit_fn emit, void *ctx)
{
	size_t i = 0;
	*end = false;
	while (i < n) {
		char ch = p[i];
		switch (ds->state) {
		case D_LINE_START:
			if (ch == '.') {
				ds->state = D_DOT;
				i++;
			} else {
				ds->state = D_IN_LINE;
			}
			break;
		case D_IN_LINE: {
			size_t j = i;
			while (j < n && p[j] != '\r' && p[j] != '\n')
				j++;
			if (j > i) {
				emit(ctx, p + i, j - i);
				ds->line_len += j - i;
				i = j;
			} else if (ch == '\r') {
				ds->state = D_CR;
				i++;
			} else {  /* bare LF: content, never a line end */
				ds->bare_eol = true;
				emit(ctx, "\n", 1);
				ds->line_len++;
				i++;
			}
			break;
		}
		case D_CR:
			if (ch == '\n') {
				emit(ctx, "\r\n", 2);
				end_line(ds);
				ds->state = D_LINE_START;
				i++;
			} else {  /* bare CR */
				ds->bare_eol = true;
				emit(ctx, "\r", 1);
				ds->line_len++;
				ds->state = D_IN_LINE;
			}
			break;
		case D_DOT:
			if (ch == '\r') {
				ds->state = D_DOT_CR;
				i++;
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
