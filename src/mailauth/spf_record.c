/*
 * spf_record.c — parse one SPF record into its terms; see spf_record.h.
 *
 *   record    = version terms *SP
 *   terms     = *( 1*SP ( directive / modifier ) )
 *   directive = [ qualifier ] mechanism
 *   modifier  = redirect / explanation / unknown-modifier
 *   unknown-modifier = name "=" macro-string
 *   name      = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
 *
 * A term is a modifier exactly when it starts with a name followed by
 * "="; anything else must be a known mechanism.  Names are case-insensitive.
 */
#include "mailauth/spf_record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mailauth/spf_macro.h"

bool spf_record_is_spf1(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

const char *spf_mech_name(enum spf_mech m)
{
	static const char *const names[] = { "all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists" };
	return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "?";
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool fail(char *why, size_t whysize, const char *what, const char *term, size_t tlen)
{
	if (whysize)
		snprintf(why, whysize, "%s: '%.*s'", what, tlen > 64 ? 64 : (int)tlen, term);
	return false;
}

/* "/" ("0" / %x31-39 0*2DIGIT), at most max: no leading zeros (§5.6). */
static bool parse_prefix(const char *s, size_t n, unsigned max, uint8_t *out)
{
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint8_t)v;
	return true;
}

/* Offset of the "/" that starts a trailing "/" 1*DIGIT in s[0..n), or n. */
static size_t trailing_slash_digits(const char *s, size_t n)
{
	size_t i = n;
	while (i > 0 && is_digit((unsigned char)s[i - 1]))
		i--;
	if (i == n || i == 0 || s[i - 1] != '/')
		return n;
	return i - 1;
}

/*
 * Split a dual-cidr-length off the end of s[0..*n): [ "/" ip4 ] [ "//" ip6 ].
 * *n becomes the length before it.  false for a bad prefix length.
 */
static bool strip_dual_cidr(const char *s, size_t *n, uint8_t *c4, uint8_t *c6)
{
	size_t e = *n;
	size_t p = trailing_slash_digits(s, e);
	if (p < e && p > 0 && s[p - 1] == '/') {
		if (!parse_prefix(s + p + 1, e - p - 1, 128, c6))
			return false;
		e = p - 1;
		p = trailing_slash_digits(s, e);
	}
	if (p < e) {
		if (!parse_prefix(s + p + 1, e - p - 1, 32, c4))
			return false;
		e = p;
	}
	*n = e;
	return true;
}

/* ip4-network: four qnums, each 0..255 without leading zeros. */
static bool parse_ip4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;
	for (int k = 0; k < 4; k++) {
		if (k > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		size_t st = i;
		unsigned v = 0;
		while (i < n && is_digit((unsigned char)s[i]) && i - st < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		size_t dl = i - st;
		if (dl == 0 || (dl > 1 && s[st] == '0') || v > 255)
			return false;
		out[k] = (uint8_t)v;
	}
	return i == n;
}

static bool parse_ip6(const char *s, size_t n, uint8_t out[16])
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

static enum spf_mech mech_lookup(const char *s, size_t n, bool *ok)
{
	static const struct { const char *name; enum spf_mech m; } tab[] = {
		{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE }, { "a", SPF_MECH_A },
		{ "mx", SPF_MECH_MX }, { "ptr", SPF_MECH_PTR }, { "ip4", SPF_MECH_IP4 },
		{ "ip6", SPF_MECH_IP6 }, { "exists", SPF_MECH_EXISTS },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		if (strlen(tab[i].name) == n && strncasecmp(tab[i].name, s, n) == 0) {
			*ok = true;
			return tab[i].m;
		}
	}
	*ok = false;
	return SPF_MECH_ALL;
}

/* A directive at term[0..tlen), text offset off into the record. */
static bool parse_directive(const char *rec, size_t off, size_t tlen, struct spf_term *t,
			    char *why, size_t whysize)
{
	const char *term = rec + off;
	size_t i = 0;
	memset(t, 0, sizeof *t);
	t->qualifier = '+';
	t->text_off = (uint16_t)off;
	t->text_len = (uint16_t)tlen;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (strchr("+-~?", term[0])) {
		t->qualifier = term[0];
		i++;
	}
	size_t ns = i;
	while (i < tlen && (is_alpha((unsigned char)term[i]) || is_digit((unsigned char)term[i])))
		i++;
	bool known;
	t->mech = mech_lookup(term + ns, i - ns, &known);
	if (!known || (i < tlen && term[i] != ':' && term[i] != '/'))
		return fail(why, whysize, "unknown mechanism", term, tlen);
	const char *rest = term + i;
	size_t rlen = tlen - i;
	bool colon = rlen > 0 && rest[0] == ':';
	const char *arg = colon ? rest + 1 : rest;
	size_t alen = colon ? rlen - 1 : rlen;

	switch (t->mech) {
	case SPF_MECH_ALL:
		if (rlen)
			return fail(why, whysize, "all takes no argument", term, tlen);
		return true;
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
	case SPF_MECH_PTR:
		if (!colon) {
			if (t->mech == SPF_MECH_PTR && rlen == 0)
				return true;
			return fail(why, whysize, "bad mechanism syntax", term, tlen);
		}
		if (!spf_domain_spec_valid(arg, alen, &t->spec_uses_p))
			return fail(why, whysize, "bad domain-spec", term, tlen);
		t->spec_off = (uint16_t)(arg - rec);
		t->spec_len = (uint16_t)alen;
		return true;
	case SPF_MECH_A:
	case SPF_MECH_MX: {
		size_t n = alen;
		if (!strip_dual_cidr(arg, &n, &t->cidr4, &t->cidr6))
			return fail(why, whysize, "bad prefix length", term, tlen);
		if (!colon) {
			if (n != 0)
				return fail(why, whysize, "bad mechanism syntax", term, tlen);
			return true;
		}
		if (!spf_domain_spec_valid(arg, n, &t->spec_uses_p))
			return fail(why, whysize, "bad domain-spec", term, tlen);
		t->spec_off = (uint16_t)(arg - rec);
		t->spec_len = (uint16_t)n;
		return true;
	}
	case SPF_MECH_IP4:
	case SPF_MECH_IP6: {
		if (!colon)
			return fail(why, whysize, "address missing", term, tlen);
		const char *slash = memchr(arg, '/', alen);
		size_t netlen = slash ? (size_t)(slash - arg) : alen;
		bool ok = t->mech == SPF_MECH_IP4 ? parse_ip4(arg, netlen, t->addr) : parse_ip6(arg, netlen, t->addr);
		if (!ok)
			return fail(why, whysize, "bad address", term, tlen);
		if (slash) {
			uint8_t *c = t->mech == SPF_MECH_IP4 ? &t->cidr4 : &t->cidr6;
			if (!parse_prefix(slash + 1, alen - netlen - 1, t->mech == SPF_MECH_IP4 ? 32 : 128, c))
				return fail(why, whysize, "bad prefix length", term, tlen);
		}
		return true;
	}
	}
	return fail(why, whysize, "unknown mechanism", term, tlen);
}

/* Length of a modifier name at the start of term, or 0 when it is not one followed by "=". */
static size_t modifier_name_len(const char *term, size_t tlen)
{
	if (!is_alpha((unsigned char)term[0]))
		return 0;
	size_t i = 1;
	while (i < tlen) {
		unsigned char c = (unsigned char)term[i];
		if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.'))
			break;
		i++;
	}
	return i < tlen && term[i] == '=' ? i : 0;
}

static bool parse_modifier(struct spf_record *r, size_t off, size_t tlen, size_t nlen,
			   char *why, size_t whysize)
{
	const char *term = r->text + off;
	const char *val = term + nlen + 1;
	size_t vlen = tlen - nlen - 1;
	bool is_redirect = nlen == 8 && strncasecmp(term, "redirect", 8) == 0;
	bool is_exp = nlen == 3 && strncasecmp(term, "exp", 3) == 0;
	if (is_redirect || is_exp) {
		if (is_redirect ? r->has_redirect : r->has_exp)
			return fail(why, whysize, "modifier given twice", term, tlen);
		bool uses_p;
		if (!spf_domain_spec_valid(val, vlen, &uses_p))
			return fail(why, whysize, "bad domain-spec", term, tlen);
		uint16_t voff = (uint16_t)(val - r->text);
		if (is_redirect) {
			r->has_redirect = true;
			r->redirect_off = voff;
			r->redirect_len = (uint16_t)vlen;
			r->redirect_uses_p = uses_p;
		} else {
			r->has_exp = true;
			r->exp_off = voff;
			r->exp_len = (uint16_t)vlen;
			r->exp_uses_p = uses_p;
		}
		return true;
	}
	/* Unknown modifiers are ignored, but only when well-formed (§6, A/3). */
	if (spf_macro_expand(val, vlen, SPF_MACRO_MODIFIER, NULL, NULL, 0, NULL, NULL) != SPF_MACRO_OK)
		return fail(why, whysize, "bad modifier value", term, tlen);
	return true;
}

bool spf_record_parse(const char *txt, size_t len, struct spf_record *out, char *why, size_t whysize)
{
	memset(out, 0, sizeof *out);
	if (whysize)
		why[0] = '\0';
	if (len > SPF_RECORD_MAX) {
		if (whysize)
			snprintf(why, whysize, "record longer than %d bytes", SPF_RECORD_MAX);
		return false;
	}
	if (!spf_record_is_spf1(txt, len)) {
		if (whysize)
			snprintf(why, whysize, "not a v=spf1 record");
		return false;
	}
	/* Only printable ASCII and spaces: terms are separated by SP alone (§4.6.1, §3.1). */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)txt[i];
		if (c < 0x20 || c > 0x7e) {
			if (whysize)
				snprintf(why, whysize, "control or non-ASCII byte 0x%02x at offset %zu", c, i);
			return false;
		}
	}
	/* Counting first bounds the allocation by what the record really holds. */
	size_t nterms = 0;
	for (size_t i = 6; i < len; i++)
		if (txt[i] != ' ' && txt[i - 1] == ' ')
			nterms++;
	if (nterms > SPF_TERMS_MAX) {
		if (whysize)
			snprintf(why, whysize, "more than %d terms", SPF_TERMS_MAX);
		return false;
	}
	out->text = xmemdup0(txt, len);
	out->len = len;
	out->terms = xcalloc(nterms ? nterms : 1, sizeof *out->terms);

	size_t i = 6;
	while (i < len) {
		while (i < len && out->text[i] == ' ')
			i++;
		if (i >= len)
			break;
		size_t st = i;
		while (i < len && out->text[i] != ' ')
			i++;
		size_t tlen = i - st;
		size_t nlen = modifier_name_len(out->text + st, tlen);
		bool ok;
		if (nlen) {
			ok = parse_modifier(out, st, tlen, nlen, why, whysize);
		} else {
			struct spf_term *t = &out->terms[out->n_terms];
			ok = parse_directive(out->text, st, tlen, t, why, whysize);
			if (ok) {
				out->n_terms++;
				if (t->mech == SPF_MECH_ALL)
					out->has_all = true;
			}
		}
		if (!ok) {
			spf_record_free(out);
			return false;
		}
	}
	return true;
}

void spf_record_free(struct spf_record *r)
{
	free(r->text);
	free(r->terms);
	memset(r, 0, sizeof *r);
}
