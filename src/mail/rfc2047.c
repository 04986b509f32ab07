/*
 * rfc2047.c — encoded-word decoding; see rfc2047.h.
 *
 * One left-to-right pass.  Decoded bytes of consecutive encoded words that
 * share a charset are collected in `pending` and converted when the run ends.
 */
#include "mail/rfc2047.h"

#include <string.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "mail/charset.h"

struct word {
	const char *charset;
	size_t charset_len;
	char enc;               /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len;             /* whole encoded word */
};

/* Parse an encoded word at s[0..n) (s starts with "=?"). */
static bool parse_word(const char *s, size_t n, struct word *w)
{
	size_t i = 2;
	w->charset = s + i;
	while (i < n && s[i] != '?' && s[i] != ' ' && s[i] != '\t' && i - 2 <= MAIL_CHARSET_NAME_MAX)
		i++;
	if (i >= n || s[i] != '?' || i == 2)
		return false;
	w->charset_len = i - 2;
	i++;
	if (i + 1 >= n || s[i + 1] != '?')
		return false;
	char e = s[i];
	if (e == 'b' || e == 'B')
		w->enc = 'B';
	else if (e == 'q' || e == 'Q')
		w->enc = 'Q';
	else
		return false;
	i += 2;
	w->text = s + i;
	while (i + 1 < n && !(s[i] == '?' && s[i + 1] == '=')) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			return false;
		i++;
	}
	if (i + 1 >= n)
		return false;
	w->text_len = (size_t)(s + i - w->text);
	w->len = i + 2;
	return true;
}

static void decode_word_bytes(struct buf *out, const struct word *w)
{
	if (w->enc == 'B') {
		base64_decode_lenient(out, w->text, w->text_len);
		return;
	}
	for (size_t i = 0; i < w->text_len; i++) {
		char c = w->text[i];
		if (c == '_') {
			buf_putc(out, ' ');
		} else if (c == '=' && i + 2 < w->text_len && hex_digit(w->text[i + 1]) >= 0 &&
			   hex_digit(w->text[i + 2]) >= 0) {
			buf_putc(out, (char)(hex_digit(w->text[i + 1]) * 16 + hex_digit(w->text[i + 2])));
			i += 2;
		} else {
			buf_putc(out, c);
		}
	}
}

static bool same_charset(const struct word *a, const struct word *b)
{
	if (a->charset_len != b->charset_len)
		return false;
	for (size_t i = 0; i < a->charset_len; i++) {
		char x = a->charset[i], y = b->charset[i];
		if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
		if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

void mail_rfc2047_decode(struct buf *out, const char *s, size_t n)
{
	struct buf pending = BUF_INIT;
	struct word cur = { 0 };
	bool have = false;      /* pending holds bytes of cur's charset */
	size_t i = 0, plain = 0;

	while (i < n) {
		const char *q = memchr(s + i, '=', n - i);
		if (!q)
			break;
		i = (size_t)(q - s);
		struct word w;
		if (i + 1 >= n || s[i + 1] != '?' || !parse_word(s + i, n - i, &w)) {
			i++;
			continue;
		}
		/* Text between the previous word and this one: dropped when it is only whitespace. */
		bool only_ws = have;
		for (size_t k = plain; k < i && only_ws; k++)
			only_ws = s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n';
		if (!only_ws || !have || !same_charset(&cur, &w)) {
			if (have) {
				mail_charset_to_utf8(out, cur.charset, cur.charset_len, buf_cstr(&pending), pending.len);
				buf_reset(&pending);
				have = false;
			}
			if (!only_ws)
				mail_utf8_append_lossy(out, s + plain, i - plain);
		}
		cur = w;
		have = true;
		decode_word_bytes(&pending, &w);
		i += w.len;
		plain = i;
	}
	if (have)
		mail_charset_to_utf8(out, cur.charset, cur.charset_len, buf_cstr(&pending), pending.len);
	mail_utf8_append_lossy(out, s + plain, n - plain);
	buf_free(&pending);
}
