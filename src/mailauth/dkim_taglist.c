/*
 * dkim_taglist.c — the tag=value list of DKIM-Signature fields and key
 * records (RFC 6376 §3.2), split into slices of the input.
 *
 *   tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  = ALPHA *(ALPHA / DIGIT / "_")
 *   tag-value = [ tval *( 1*(WSP / FWS) tval ) ],  tval = 1*(%x21-3A / %x3C-7E)
 *
 * Strict: an empty tag-spec (";;"), a name without '=', a control or
 * 8-bit octet in a value, and a tag given twice (§3.2: "MUST NOT" —
 * the whole list is then invalid) all refuse the list.  Folding is
 * accepted wherever FWS is, as any run of SP, HTAB, CR, LF: the header
 * scanner upstream has already made sure line breaks are CRLF.
 */
#include "mailauth/dkim_int.h"

#include <string.h>

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_valchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

enum dkim_taglist_status dkim_taglist_parse(const char *p, size_t n, struct dkim_tag *tags, size_t max,
					    size_t *ntags)
{
	size_t i = 0, count = 0;
	*ntags = 0;
	for (;;) {
		while (i < n && is_fws(p[i]))
			i++;
		if (i == n)
			break;          /* end, possibly after a final ';' */
		if (!is_alpha(p[i]))
			return DKIM_TAGS_SYNTAX;
		size_t ns = i;
		while (i < n && (is_alpha(p[i]) || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			i++;
		size_t nlen = i - ns;
		while (i < n && is_fws(p[i]))
			i++;
		if (i == n || p[i] != '=')
			return DKIM_TAGS_SYNTAX;
		i++;
		size_t raw_start = i;
		while (i < n && is_fws(p[i]))
			i++;
		size_t vs = i, ve = i;
		while (i < n && p[i] != ';') {
			if (is_valchar((unsigned char)p[i]))
				ve = i + 1;
			else if (!is_fws(p[i]))
				return DKIM_TAGS_SYNTAX;
			i++;
		}
		for (size_t k = 0; k < count; k++)
			if (tags[k].name_len == nlen && memcmp(tags[k].name, p + ns, nlen) == 0)
				return DKIM_TAGS_DUPLICATE;
		if (count == max)
			return DKIM_TAGS_TOO_MANY;
		tags[count++] = (struct dkim_tag){
			.name = p + ns, .name_len = nlen, .value = p + vs, .value_len = ve - vs,
			.raw_start = raw_start, .raw_end = i,
		};
		if (i == n)
			break;
		i++;            /* ';' */
	}
	*ntags = count;
	return DKIM_TAGS_OK;
}

bool dkim_base64_decode(const char *s, size_t n, uint8_t *out, size_t max, size_t *outlen)
{
	uint32_t acc = 0;
	unsigned bits = 0, pad = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;
		if (is_fws((char)c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return false;   /* data after padding */
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == max)
				return false;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* 6-bit groups left over: 0 (complete), 2 (one '=' ... ) or 4 bits; padding must match. */
	if (pad > 2 || (pad && bits / 2 != pad) || bits == 6)
		return false;
	if (bits && (acc & ((1u << bits) - 1)))
		return false;   /* non-canonical trailing bits */
	*outlen = o;
	return true;
}
