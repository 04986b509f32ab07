/*
 * cte.c — Content-Transfer-Encoding parsing and decoding; see cte.h.
 */
#include "mail/cte.h"

#include <stdbool.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/util.h"

enum mail_cte mail_cte_parse(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	size_t start = i;
	while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
	       s[i] != '(' && s[i] != ';')
		i++;
	const char *t = s + start;
	size_t l = i - start;
	if (l == 0)
		return MAIL_CTE_NONE;
	if (ascii_ieq(t, l, "7bit"))
		return MAIL_CTE_7BIT;
	if (ascii_ieq(t, l, "8bit"))
		return MAIL_CTE_8BIT;
	if (ascii_ieq(t, l, "binary"))
		return MAIL_CTE_BINARY;
	if (ascii_ieq(t, l, "base64"))
		return MAIL_CTE_BASE64;
	if (ascii_ieq(t, l, "quoted-printable"))
		return MAIL_CTE_QP;
	return MAIL_CTE_UNKNOWN;
}

static const char cte_chars[] = "-78BbqU";

char mail_cte_char(enum mail_cte cte)
{
	return (unsigned)cte < sizeof cte_chars - 1 ? cte_chars[cte] : 'U';
}

enum mail_cte mail_cte_from_char(char c)
{
	const char *p = c ? strchr(cte_chars, c) : NULL;
	return p ? (enum mail_cte)(p - cte_chars) : MAIL_CTE_UNKNOWN;
}

/*
 * RFC 2045 §6.7: "=XX" octets, "=" at the end of a line is a soft break,
 * whitespace at the end of a line is transport padding and goes.
 */
void mail_qp_decode(const char *s, size_t n, struct buf *out)
{
	buf_reserve(out, n);
	size_t i = 0;
	while (i < n) {
		/* one line: [i, le) content, then the line break */
		const char *lf = memchr(s + i, '\n', n - i);
		size_t le = lf ? (size_t)(lf - s) : n;
		size_t ce = le;
		if (lf && ce > i && s[ce - 1] == '\r')
			ce--;
		size_t te = ce;
		while (te > i && (s[te - 1] == ' ' || s[te - 1] == '\t'))
			te--;
		bool soft = te > i && s[te - 1] == '=';
		if (soft)
			te--;
		for (size_t k = i; k < te; k++) {
			if (s[k] == '=' && k + 2 < te && hex_digit(s[k + 1]) >= 0 &&
			    hex_digit(s[k + 2]) >= 0) {
				buf_putc(out, (char)(hex_digit(s[k + 1]) * 16 + hex_digit(s[k + 2])));
				k += 2;
			} else {
				buf_putc(out, s[k]);
			}
		}
		if (!lf)
			break;
		if (!soft)
			buf_append(out, s + ce, le + 1 - ce);   /* keep the line break as it was */
		i = le + 1;
	}
}

void mail_cte_decode(enum mail_cte cte, const char *s, size_t n, struct buf *out)
{
	switch (cte) {
	case MAIL_CTE_BASE64:
		base64_decode_lenient(out, s, n);
		break;
	case MAIL_CTE_QP:
		mail_qp_decode(s, n, out);
		break;
	default:
		buf_append(out, s, n);
		break;
	}
}
