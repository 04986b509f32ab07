/* body.c — the DATA / BDAT encoder; see body.h. */
#include "mta/body.h"

#include <string.h>

void mta_body_init(struct mta_body *b, bool dot_stuff)
{
	memset(b, 0, sizeof *b);
	b->dot_stuff = dot_stuff;
	b->bol = true;
}

void mta_body_encode(struct mta_body *b, const char *in, size_t n, struct buf *out)
{
	if (n == 0)
		return;
	buf_reserve(out, 2 * n + 1);
	char *o = out->data + out->len;
	char last = b->last;
	bool bol = b->bol;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '\n' && last != '\r')
			*o++ = '\r';
		else if (c == '.' && bol && b->dot_stuff)
			*o++ = '.';
		*o++ = c;
		last = c;
		bol = c == '\n';
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	b->last = last;
	b->bol = bol;
	b->any = true;
}

void mta_body_finish(struct mta_body *b, struct buf *out)
{
	if (b->any && !b->bol)
		buf_puts(out, b->last == '\r' ? "\n" : "\r\n");
	b->bol = true;
	b->last = '\n';
	if (b->dot_stuff)
		buf_puts(out, ".\r\n");
}
