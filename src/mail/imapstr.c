/*
 * imapstr.c — IMAP string output; see imapstr.h.
 */
#include "mail/imapstr.h"

#include <stdbool.h>
#include <string.h>

void mail_imapstr_nstring(struct buf *out, const char *s, size_t n)
{
	if (!s) {
		buf_puts(out, "NIL");
		return;
	}
	bool literal = n > MAIL_IMAPSTR_QUOTED_MAX;
	size_t specials = 0;
	for (size_t i = 0; i < n && !literal; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == 0 || c >= 0x80)
			literal = true;
		else if (c == '"' || c == '\\')
			specials++;
	}
	if (literal) {
		buf_printf(out, "{%zu}\r\n", n);
		size_t start = out->len;
		buf_append(out, s, n);
		for (size_t i = start; i < out->len; i++)
			if (out->data[i] == '\0')
				out->data[i] = (char)0x80;
		return;
	}
	buf_reserve(out, n + specials + 2);
	buf_putc(out, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			buf_append(out, s + run, i - run);
			buf_putc(out, '\\');
			run = i;
		}
	}
	buf_append(out, s + run, n - run);
	buf_putc(out, '"');
}

void mail_imapstr_cstr(struct buf *out, const char *s)
{
	mail_imapstr_nstring(out, s, s ? strlen(s) : 0);
}
