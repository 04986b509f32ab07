/*
 * dmarcrpt_uri.c — one rua= URI of a DMARC record as the reporter uses
 * it (RFC 7489 §6.2, §6.3): "mailto:" a plain address, an optional
 * "!" size limit with a k/m/g/t unit.  Strict: anything a header could
 * be broken with (brackets, quotes, separators, percent-encoding,
 * hfields) makes the URI unusable, and it is skipped.
 */
#include "mta/dmarcrpt.h"

#include <string.h>
#include <strings.h>

bool dmarcrpt_uri_parse(const char *uri, size_t len, struct dmarcrpt_uri *out)
{
	memset(out, 0, sizeof *out);
	while (len && (*uri == ' ' || *uri == '\t'))
		uri++, len--;
	while (len && (uri[len - 1] == ' ' || uri[len - 1] == '\t'))
		len--;
	if (len < 8 || strncasecmp(uri, "mailto:", 7) != 0)
		return false;
	uri += 7, len -= 7;
	size_t alen = 0;
	while (alen < len && uri[alen] != '!')
		alen++;
	if (alen == 0 || alen > DMARCRPT_ADDR_MAX)
		return false;
	for (size_t i = 0; i < alen; i++) {
		unsigned char c = (unsigned char)uri[i];
		/* A plain address only: no hfields, no percent-encoding, nothing a header could be broken with. */
		if (c <= ' ' || c >= 0x7f || strchr("<>\"(),;:\\[]?%", c))
			return false;
	}
	const char *at = memchr(uri, '@', alen);
	if (!at || at == uri || at == uri + alen - 1 || memchr(at + 1, '@', (size_t)(uri + alen - at - 1)))
		return false;
	memcpy(out->addr, uri, alen);
	out->addr[alen] = '\0';
	if (alen == len)
		return true;
	/* "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] (§6.2) */
	const char *p = uri + alen + 1, *e = uri + len;
	uint64_t v = 0;
	if (p == e || *p < '0' || *p > '9')
		return false;
	for (; p < e && *p >= '0' && *p <= '9'; p++) {
		if (v > UINT64_MAX / 10 / 1024 / 1024 / 1024 / 1024)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p < e) {
		const char *units = "kmgt";
		const char *u = strchr(units, *p | 0x20);
		if (!u || !*p || p + 1 != e)
			return false;
		for (long i = 0; i <= u - units; i++)
			v *= 1024;
	}
	out->max_size = v ? v : 1;  /* "!0" allows nothing */
	return true;
}
