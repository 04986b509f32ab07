/*
 * spf_macro.c — the SPF macro language (RFC 7208 §7): checking and
 * expanding macro-strings, the domain-end rule of domain-specs, and the
 * shaping of an expanded name for DNS.  See spf_macro.h.
 *
 *   macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                  / "%%" / "%_" / "%-"
 *   transformers = *DIGIT [ "r" ]
 *   delimiter    = "." / "-" / "+" / "," / "/" / "_" / "="
 */
#include "mailauth/spf_macro.h"

#include <string.h>

/* A value is split into at most this many parts; more is refused (TOO_LONG). */
#define SPF_MACRO_PARTS_MAX 512
/* Digits beyond this count as "all parts" anyway. */
#define SPF_MACRO_DIGITS_CAP 1000

struct out {
	char *p;
	size_t size, len;
	bool overflow;
};

static void out_putc(struct out *o, char c)
{
	if (!o->p)
		return;
	if (o->len + 1 >= o->size) {
		o->overflow = true;
		return;
	}
	o->p[o->len++] = c;
}

static void out_puts(struct out *o, const char *s)
{
	while (*s)
		out_putc(o, *s++);
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_delimiter(unsigned char c)
{
	return c && strchr(".-+,/_=", c) != NULL;
}

/* RFC 3986 unreserved: what an uppercase macro leaves unescaped (§7.3). */
static bool is_unreserved(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool letter_allowed(char l, enum spf_macro_kind kind)
{
	if (strchr("slodiphv", l))
		return true;
	/* c, r and t only make sense to a human reading the explanation. */
	if (strchr("crt", l))
		return kind != SPF_MACRO_DOMAIN;
	return false;
}

static const char *letter_value(char l, const struct spf_macro_vars *v)
{
	const char *s = NULL;
	switch (l) {
	case 's': s = v->sender; break;
	case 'l': s = v->local; break;
	case 'o': s = v->sender_domain; break;
	case 'd': s = v->domain; break;
	case 'i': s = v->ip_dotted; break;
	case 'p': s = v->ptr_name; break;
	case 'h': s = v->helo; break;
	case 'c': s = v->ip_text; break;
	case 'r': s = v->receiver; break;
	case 't': s = v->timestamp; break;
	case 'v': s = v->ipv6 ? "ip6" : "in-addr"; break;
	}
	return s ? s : "";
}

static void put_escaped(struct out *o, char c, bool url)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char u = (unsigned char)c;
	if (!url || is_unreserved(u)) {
		out_putc(o, c);
		return;
	}
	out_putc(o, '%');
	out_putc(o, hex[u >> 4]);
	out_putc(o, hex[u & 15]);
}

/*
 * §7.3: split on any of the delimiters (each one separates; empty parts
 * stay), reverse when asked, keep the rightmost keep parts (0: all), join
 * with "." and URL-escape for an uppercase letter.
 */
static bool put_transformed(struct out *o, const char *val, const char *delims, size_t ndelims,
			    unsigned keep, bool reverse, bool url)
{
	size_t start[SPF_MACRO_PARTS_MAX], plen[SPF_MACRO_PARTS_MAX];
	size_t n = 0, from = 0, vlen = strlen(val);
	for (size_t i = 0; i <= vlen; i++) {
		bool delim = i < vlen && (ndelims ? memchr(delims, val[i], ndelims) != NULL : val[i] == '.');
		if (i < vlen && !delim)
			continue;
		if (n == SPF_MACRO_PARTS_MAX)
			return false;
		start[n] = from;
		plen[n] = i - from;
		n++;
		from = i + 1;
	}
	size_t first = keep && keep < n ? n - keep : 0;
	for (size_t k = first; k < n; k++) {
		size_t idx = reverse ? n - 1 - k : k;
		if (k > first)
			out_putc(o, '.');
		for (size_t j = 0; j < plen[idx]; j++)
			put_escaped(o, val[start[idx] + j], url);
	}
	return true;
}

/*
 * The walker.  *last_macro_end is the offset just after the last
 * macro-expand (0 when none), which the domain-end rule needs.
 */
static enum spf_macro_status walk(const char *s, size_t len, enum spf_macro_kind kind,
				  const struct spf_macro_vars *v, struct out *o, bool *uses_p,
				  size_t *last_macro_end)
{
	if (uses_p)
		*uses_p = false;
	*last_macro_end = 0;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c != '%') {
			bool ok = (c >= 0x21 && c <= 0x7e) || (c == ' ' && kind == SPF_MACRO_EXPLAIN);
			if (!ok)
				return SPF_MACRO_SYNTAX;
			out_putc(o, (char)c);
			i++;
			continue;
		}
		if (i + 1 >= len)
			return SPF_MACRO_SYNTAX;
		char n = s[i + 1];
		if (n == '%' || n == '_' || n == '-') {
			out_puts(o, n == '%' ? "%" : n == '_' ? " " : "%20");
			i += 2;
			*last_macro_end = i;
			continue;
		}
		if (n != '{')
			return SPF_MACRO_SYNTAX;
		i += 2;
		if (i >= len)
			return SPF_MACRO_SYNTAX;
		char letter = s[i];
		bool upper = letter >= 'A' && letter <= 'Z';
		if (upper)
			letter = (char)(letter - 'A' + 'a');
		if (!letter_allowed(letter, kind))
			return SPF_MACRO_SYNTAX;
		if (letter == 'p' && uses_p)
			*uses_p = true;
		i++;
		unsigned keep = 0;
		bool have_digits = false;
		while (i < len && is_digit((unsigned char)s[i])) {
			have_digits = true;
			if (keep < SPF_MACRO_DIGITS_CAP)
				keep = keep * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		/* "If a DIGIT is specified, the value MUST be nonzero." */
		if (have_digits && keep == 0)
			return SPF_MACRO_SYNTAX;
		bool reverse = false;
		if (i < len && (s[i] == 'r' || s[i] == 'R')) {
			reverse = true;
			i++;
		}
		size_t dstart = i;
		while (i < len && is_delimiter((unsigned char)s[i]))
			i++;
		size_t ndelims = i - dstart;
		if (i >= len || s[i] != '}')
			return SPF_MACRO_SYNTAX;
		i++;
		*last_macro_end = i;
		if (o->p && !put_transformed(o, letter_value(letter, v), s + dstart, ndelims, keep, reverse, upper))
			return SPF_MACRO_TOO_LONG;
	}
	return SPF_MACRO_OK;
}

enum spf_macro_status spf_macro_expand(const char *s, size_t len, enum spf_macro_kind kind,
				       const struct spf_macro_vars *v, char *out, size_t outsize,
				       size_t *outlen, bool *uses_p)
{
	static const struct spf_macro_vars none;
	struct out o = { .p = outsize ? out : NULL, .size = outsize };
	size_t last;
	enum spf_macro_status st = walk(s, len, kind, v ? v : &none, &o, uses_p, &last);
	if (st == SPF_MACRO_OK && o.overflow)
		st = SPF_MACRO_TOO_LONG;
	if (o.p)
		o.p[o.len] = '\0';
	if (outlen)
		*outlen = o.len;
	return st;
}

/*
 * toplabel = ( *alphanum ALPHA *alphanum )
 *          / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static bool toplabel_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	bool alpha = false, dash = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_alpha(c))
			alpha = true;
		else if (c == '-')
			dash = true;
		else if (!is_digit(c))
			return false;
	}
	if (dash)
		return s[0] != '-' && s[n - 1] != '-';
	return alpha;
}

bool spf_domain_spec_valid(const char *s, size_t len, bool *uses_p)
{
	if (len == 0)
		return false;
	struct out o = { 0 };
	size_t last;
	if (walk(s, len, SPF_MACRO_DOMAIN, NULL, &o, uses_p, &last) != SPF_MACRO_OK)
		return false;
	if (last == len)
		return true;    /* domain-end = macro-expand */
	/* domain-end = "." toplabel [ "." ], within the literal tail */
	const char *tail = s + last;
	size_t n = len - last;
	if (tail[n - 1] == '.')
		n--;
	const char *dot = NULL;
	for (size_t i = n; i > 0; i--) {
		if (tail[i - 1] == '.') {
			dot = tail + i - 1;
			break;
		}
	}
	if (!dot)
		return false;
	return toplabel_valid(dot + 1, (size_t)(tail + n - (dot + 1)));
}

bool spf_macro_domain_finish(char *name)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	size_t cut = 0;
	while (n - cut > 253) {
		const char *dot = memchr(name + cut, '.', n - cut);
		if (!dot)
			return false;
		cut = (size_t)(dot - name) + 1;
	}
	if (cut) {
		memmove(name, name + cut, n - cut + 1);
		n -= cut;
	}
	if (n == 0)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > 63) {
			return false;
		}
	}
	return label > 0;
}
