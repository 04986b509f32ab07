/*
 * mutf7.c — modified UTF-7 for IMAP mailbox names (see mutf7.h).
 *
 * session.c decodes every mailbox argument of a non-UTF8=ACCEPT session
 * with imap_mutf7_to_utf8() and encodes every name it sends with
 * imap_utf8_to_mutf7(); the store only ever sees UTF-8.
 */
#include "imap/mutf7.h"

#include <stdint.h>

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xc0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xe0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		t[0] = (char)(0xf0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, t, n);
}

static bool printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* One base64 run starting after '&' (s[*i] is its first character); false when invalid. */
static bool decode_run(const unsigned char *s, size_t n, size_t *i, struct buf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t units = 0;
	for (;;) {
		if (*i >= n)
			return false;           /* no shift back to US-ASCII */
		unsigned char c = s[(*i)++];
		if (c == '-')
			break;
		int v = b64_value(c);
		if (v < 0)
			return false;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (high) {
			if (u < 0xdc00 || u > 0xdfff)
				return false;
			put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			return false;
		} else {
			if (u == 0 || (u < 0x80 && printable((unsigned char)u)))
				return false;   /* must have been written as itself */
			put_utf8(out, u);
		}
	}
	/* At most 4 padding bits, all zero, and something was encoded. */
	return units > 0 && nbits < 6 && bits == 0 && high == 0;
}

bool imap_mutf7_to_utf8(const char *str, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t start = out->len;
	bool after_run = false;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c != '&') {
			if (!printable(c))
				goto fail;
			buf_putc(out, (char)c);
			after_run = false;
			i++;
			continue;
		}
		i++;
		if (i < n && s[i] == '-') {
			buf_putc(out, '&');
			after_run = false;
			i++;
			continue;
		}
		/* "-&" between two runs: they should have been one. */
		if (after_run || !decode_run(s, n, &i, out))
			goto fail;
		after_run = true;
	}
	return true;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return false;
}

/* Strict UTF-8 decoding of one character at s[*i]; U+FFFD for one invalid octet. */
static uint32_t next_cp(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i];
	size_t len;
	uint32_t cp;
	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
	else goto bad;
	if (*i + len > n)
		goto bad;
	for (size_t j = 1; j < len; j++) {
		if ((s[*i + j] & 0xc0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[*i + j] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*i += len;
	return cp;
bad:
	(*i)++;
	return 0xfffd;
}

void imap_utf8_to_mutf7(const char *str, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		if (printable(s[i])) {
			if (s[i] == '&')
				buf_append(out, "&-", 2);
			else
				buf_putc(out, (char)s[i]);
			i++;
			continue;
		}
		/* One run for the whole stretch of characters that cannot stand for themselves. */
		buf_putc(out, '&');
		uint32_t bits = 0;
		unsigned nbits = 0;
		while (i < n && !printable(s[i])) {
			uint32_t cp = next_cp(s, n, &i);
			uint32_t u[2];
			size_t nu = 1;
			if (cp >= 0x10000) {
				u[0] = 0xd800 + ((cp - 0x10000) >> 10);
				u[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				nu = 2;
			} else {
				u[0] = cp;
			}
			for (size_t k = 0; k < nu; k++) {
				bits = (bits << 16) | u[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					buf_putc(out, b64_chars[(bits >> nbits) & 63]);
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits)
			buf_putc(out, b64_chars[(bits << (6 - nbits)) & 63]);
		buf_putc(out, '-');
	}
}
