/*
 * tlsrpt_record.c — the TLSRPT policy record, _smtp._tls.<domain> TXT
 * (RFC 8460 §3), parsed strictly:
 *
 *   tlsrpt-record     = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
 *   field-delim       = *WSP ";" *WSP
 *   tlsrpt-field      = tlsrpt-rua / tlsrpt-extension
 *   tlsrpt-version    = %s"v=TLSRPTv1"
 *   tlsrpt-rua        = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-extension  = tlsrpt-ext-name "=" tlsrpt-ext-value
 *   tlsrpt-ext-name   = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   tlsrpt-ext-value  = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * A URI here is any run of visible characters but ',' and ';' (a literal
 * comma or semicolon inside a URI must be percent-encoded to be told
 * from the separators).  mailto: URIs give an address (percent-decoded,
 * hfields after '?' dropped, exactly one '@'), https: URIs a host (a DNS
 * name, lower-cased) and port; other schemes are skipped.  The caller
 * decides what several records mean (§3: not exactly one TLSRPT record
 * means none).
 */
#include "mta/tlsrpt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

static void set_why(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t size, const char *fmt, ...)
{
	if (!why || size == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }
static bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static bool uri_char(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != ',' && c != ';'; }
static bool ext_value_char(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != ';' && c != '='; }

/* "mailto:" addr-spec [ "?" hfields ]; the address percent-decoded. */
static bool parse_mailto(const char *p, size_t n, struct tlsrpt_uri *u)
{
	size_t end = 0;
	while (end < n && p[end] != '?')
		end++;
	size_t o = 0, ats = 0;
	for (size_t i = 0; i < end; i++) {
		char c = p[i];
		if (c == '%') {
			if (i + 2 >= end)
				return false;
			int h = hex_digit(p[i + 1]), l = hex_digit(p[i + 2]);
			if (h < 0 || l < 0)
				return false;
			c = (char)(h * 16 + l);
			i += 2;
		}
		unsigned char uc = (unsigned char)c;
		/* One mailbox, printable ASCII: no list, no brackets, nothing to smuggle into a header. */
		if (uc <= 0x20 || uc >= 0x7f || c == ',' || c == '<' || c == '>' || c == '"' || c == '(' ||
		    c == ')' || c == '\\' || c == ';' || c == ':')
			return false;
		ats += c == '@';
		if (o >= TLSRPT_ADDR_MAX)
			return false;
		u->addr[o++] = c;
	}
	u->addr[o] = '\0';
	if (ats != 1)
		return false;
	const char *at = strchr(u->addr, '@');
	return at != u->addr && at[1] != '\0' && at[1] != '.' && u->addr[o - 1] != '.';
}

/* "https://" host [":" port] [path]; host a DNS name. */
static bool parse_https(const char *p, size_t n, struct tlsrpt_uri *u)
{
	if (n < 2 || p[0] != '/' || p[1] != '/')
		return false;
	p += 2;
	n -= 2;
	size_t h = 0;
	while (h < n && p[h] != ':' && p[h] != '/' && p[h] != '?' && p[h] != '#')
		h++;
	if (h == 0 || h > 253)
		return false;
	for (size_t i = 0; i < h; i++) {
		char c = p[i];
		if (!is_alnum(c) && c != '-' && c != '.')
			return false;   /* userinfo, IP literals in brackets, percent escapes: not for us */
		u->host[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	u->host[h] = '\0';
	if (u->host[0] == '.' || u->host[0] == '-' || strstr(u->host, ".."))
		return false;
	u->port = 443;
	if (h < n && p[h] == ':') {
		size_t i = h + 1;
		unsigned port = 0;
		size_t digits = 0;
		while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 6) {
			port = port * 10 + (unsigned)(p[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || port == 0 || port > 65535 || (i < n && p[i] != '/' && p[i] != '?'))
			return false;
		u->port = (uint16_t)port;
	}
	return true;
}

/* One URI of the rua list; false: not usable (an unknown scheme, a malformed address), skipped. */
static bool parse_uri(const char *p, size_t n, struct tlsrpt_uri *u)
{
	memset(u, 0, sizeof *u);
	if (n == 0 || n > TLSRPT_URI_MAX)
		return false;
	memcpy(u->uri, p, n);
	u->uri[n] = '\0';
	if (n > 7 && strncasecmp(p, "mailto:", 7) == 0) {
		u->kind = TLSRPT_MAILTO;
		return parse_mailto(p + 7, n - 7, u);
	}
	if (n > 6 && strncasecmp(p, "https:", 6) == 0) {
		u->kind = TLSRPT_HTTPS;
		return parse_https(p + 6, n - 6, u);
	}
	return false;
}

enum tlsrpt_parse_result tlsrpt_record_parse(const char *txt, size_t len, struct tlsrpt_record *out,
					     char *why, size_t why_size)
{
	static const char version[] = "v=TLSRPTv1";
	const size_t vlen = sizeof version - 1;
	memset(out, 0, sizeof *out);
	set_why(why, why_size, "%s", "");
	if (!txt || len < vlen || memcmp(txt, version, vlen) != 0)
		return TLSRPT_PARSE_OTHER;
	/* "v=TLSRPTv10": another version, not ours. */
	if (len > vlen && txt[vlen] != ';' && !is_wsp(txt[vlen]))
		return TLSRPT_PARSE_OTHER;
	if (len > TLSRPT_TXT_MAX) {
		set_why(why, why_size, "record longer than %d octets", TLSRPT_TXT_MAX);
		return TLSRPT_PARSE_INVALID;
	}
	size_t i = vlen;
	bool have_rua = false;
	size_t fields = 0;
	for (;;) {
		/* field-delim */
		while (i < len && is_wsp(txt[i]))
			i++;
		if (i == len)
			break;
		if (txt[i] != ';') {
			set_why(why, why_size, "expected ';' at offset %zu", i);
			return TLSRPT_PARSE_INVALID;
		}
		i++;
		while (i < len && is_wsp(txt[i]))
			i++;
		if (i == len)
			break;          /* the optional trailing delimiter */
		/* field name */
		size_t name = i;
		if (!is_alnum(txt[i])) {
			set_why(why, why_size, "bad field name at offset %zu", i);
			return TLSRPT_PARSE_INVALID;
		}
		while (i < len && (is_alnum(txt[i]) || txt[i] == '_' || txt[i] == '-' || txt[i] == '.'))
			i++;
		size_t nlen = i - name;
		if (nlen > 32 || i == len || txt[i] != '=') {
			set_why(why, why_size, "bad field at offset %zu", name);
			return TLSRPT_PARSE_INVALID;
		}
		i++;
		fields++;
		if (nlen == 3 && memcmp(txt + name, "rua", 3) == 0) {
			if (have_rua) {
				set_why(why, why_size, "more than one rua field");
				return TLSRPT_PARSE_INVALID;
			}
			have_rua = true;
			for (;;) {
				size_t u = i;
				while (i < len && uri_char((unsigned char)txt[i]))
					i++;
				if (i == u) {
					set_why(why, why_size, "empty URI at offset %zu", u);
					return TLSRPT_PARSE_INVALID;
				}
				if (i - u > TLSRPT_URI_MAX) {
					set_why(why, why_size, "URI longer than %d octets", TLSRPT_URI_MAX);
					return TLSRPT_PARSE_INVALID;
				}
				struct tlsrpt_uri uri;
				if (parse_uri(txt + u, i - u, &uri)) {
					if (out->nrua == TLSRPT_RUA_MAX) {
						set_why(why, why_size, "more than %d report URIs", TLSRPT_RUA_MAX);
						return TLSRPT_PARSE_INVALID;
					}
					out->rua[out->nrua++] = uri;
				}
				size_t j = i;
				while (j < len && is_wsp(txt[j]))
					j++;
				if (j < len && txt[j] == ',') {
					i = j + 1;
					while (i < len && is_wsp(txt[i]))
						i++;
					continue;
				}
				break;
			}
		} else {
			size_t v = i;
			while (i < len && ext_value_char((unsigned char)txt[i]))
				i++;
			if (i == v) {
				set_why(why, why_size, "empty value at offset %zu", v);
				return TLSRPT_PARSE_INVALID;
			}
		}
	}
	if (fields == 0 || !have_rua) {
		set_why(why, why_size, "no rua field");
		return TLSRPT_PARSE_INVALID;
	}
	if (out->nrua == 0) {
		set_why(why, why_size, "no usable mailto: or https: URI in rua");
		return TLSRPT_PARSE_INVALID;
	}
	return TLSRPT_PARSE_OK;
}
