/* authres.c — Authentication-Results (RFC 8601); see authres.h. */
#include "mailauth/authres.h"

#include <string.h>
#include <strings.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Past white space and (nested, quoted-pair aware) comments; depth is bounded by the input. */
static size_t skip_cfws(const char *v, size_t len, size_t i)
{
	for (;;) {
		while (i < len && is_wsp(v[i]))
			i++;
		if (i >= len || v[i] != '(')
			return i;
		size_t depth = 0;
		while (i < len) {
			char c = v[i++];
			if (c == '\\' && i < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
		}
	}
}

bool authres_is_ours(const char *value, size_t len, const char *authserv_id)
{
	size_t i = skip_cfws(value, len, 0);
	size_t start = i;
	bool quoted = i < len && value[i] == '"';
	if (quoted) {
		start = ++i;
		while (i < len && value[i] != '"')
			i++;
	} else {
		/* RFC 2045 token characters: the id ends at white space, ';', '(' or a tspecial. */
		while (i < len && !is_wsp(value[i]) && !strchr(";()<>@,:\\\"/[]?=", value[i]))
			i++;
	}
	size_t n = i - start, idlen = strlen(authserv_id);
	return n == idlen && n > 0 && strncasecmp(value + start, authserv_id, n) == 0;
}

void authres_format(struct buf *out, const char *authserv_id, const char *const *resinfo, size_t n)
{
	buf_printf(out, "Authentication-Results: %s;", authserv_id);
	if (n == 0) {
		buf_puts(out, " none\r\n");
		return;
	}
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "\r\n\t%s%s", resinfo[i], i + 1 < n ? ";" : "");
	buf_puts(out, "\r\n");
}
