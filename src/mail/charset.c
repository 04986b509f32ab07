/*
 * charset.c — charset conversion to UTF-8; see charset.h.
 */
#include "mail/charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/xalloc.h"

static const char replacement[] = "\xef\xbf\xbd";   /* U+FFFD */

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlongs, surrogates, > U+10FFFF */
	if (c == 0xe0 && s[1] < 0xa0) return 0;
	if (c == 0xed && s[1] > 0x9f) return 0;
	if (c == 0xf0 && s[1] < 0x90) return 0;
	if (c == 0xf4 && s[1] > 0x8f) return 0;
	return len;
}

void mail_utf8_append_lossy(struct buf *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	if (n == 0)
		return;
	buf_reserve(out, n);
	while (i < n) {
		size_t l = utf8_seq_len(s + i, n - i);
		if (l) {
			i += l;
			continue;
		}
		buf_append(out, s + run, i - run);
		buf_append(out, replacement, 3);
		i++;
		run = i;
	}
	buf_append(out, s + run, n - run);
}

/* Copy an acceptable charset name into out (NUL-terminated), or fail. */
static bool charset_name(const char *name, size_t len, char *out, size_t size)
{
	const char *star = memchr(name, '*', len);   /* RFC 2231: charset*lang */
	if (star)
		len = (size_t)(star - name);
	if (len == 0 || len >= size)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			  c == '.' || c == ':' || c == '+';
		if (!ok)
			return false;
		out[i] = c;
	}
	out[len] = '\0';
	return true;
}

static bool is_utf8_name(const char *cs)
{
	return ascii_ieq(cs, strlen(cs), "utf-8") || ascii_ieq(cs, strlen(cs), "utf8") ||
	       ascii_ieq(cs, strlen(cs), "us-ascii") || ascii_ieq(cs, strlen(cs), "ascii");
}

bool mail_charset_to_utf8(struct buf *out, const char *name, size_t name_len,
			  const char *s, size_t n)
{
	char cs[MAIL_CHARSET_NAME_MAX + 1];
	if (!charset_name(name, name_len, cs, sizeof cs)) {
		mail_utf8_append_lossy(out, s, n);
		return false;
	}
	if (is_utf8_name(cs)) {
		mail_utf8_append_lossy(out, s, n);
		return true;
	}
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1) {
		mail_utf8_append_lossy(out, s, n);
		return false;
	}
	size_t start = out->len;
	char *in = (char *)s;
	size_t inleft = n;
	for (;;) {
		buf_reserve(out, inleft * 4 + 16);
		char *o = out->data + out->len;
		size_t oleft = out->cap - out->len - 1;
		size_t r = iconv(cd, inleft ? &in : NULL, inleft ? &inleft : NULL, &o, &oleft);
		out->len = (size_t)(o - out->data);
		out->data[out->len] = '\0';
		if (r != (size_t)-1) {
			if (inleft == 0) {
				/* flush the shift state of stateful charsets */
				buf_reserve(out, 16);
				o = out->data + out->len;
				oleft = out->cap - out->len - 1;
				iconv(cd, NULL, NULL, &o, &oleft);
				out->len = (size_t)(o - out->data);
				out->data[out->len] = '\0';
				break;
			}
			continue;
		}
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL (truncated sequence): mark it and go on */
		buf_append(out, replacement, 3);
		if (inleft == 0)
			break;
		in++;
		inleft--;
		if (errno == EINVAL && inleft == 0)
			break;
		if (inleft == 0)
			break;
	}
	iconv_close(cd);
	/*
	 * glibc's converters do not all reject what they cannot vouch for
	 * (its UTF-8 aliases pass some invalid input through), so check.
	 */
	if (!utf8_valid(out->data + start, out->len - start)) {
		char *conv = xmemdup0(out->data + start, out->len - start);
		size_t clen = out->len - start;
		out->len = start;
		out->data[start] = '\0';
		mail_utf8_append_lossy(out, conv, clen);
		free(conv);
	}
	return true;
}
