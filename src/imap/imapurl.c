/*
 * imapurl.c — the IMAP URL parser (imapurl.h, RFC 5092 §11's grammar for
 * the message and part forms CATENATE needs).
 */
#include "imap/imapurl.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "lib/xalloc.h"

struct url_p {
	const char *s;
	size_t len, pos;
	const char *err;
};

static bool fail(struct url_p *p, const char *err)
{
	if (!p->err)
		p->err = err;
	return false;
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * achar (RFC 5092): unreserved / sub-delims-sh / "&" / "=" (and "%" for
 * pct-encoded, handled by the caller); bchar adds ":", "@" and "/".
 */
static bool is_achar(int c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	switch (c) {
	case '-': case '.': case '_': case '~':                        /* unreserved */
	case '!': case '$': case '\'': case '(': case ')': case '*':   /* sub-delims-sh */
	case '+': case ',':
	case '&': case '=':
		return true;
	}
	return false;
}

static bool is_bchar(int c)
{
	return is_achar(c) || c == ':' || c == '@' || c == '/';
}

/* The keyword kw (with its "=", case-insensitive) at the cursor: consume it. */
static bool keyword(struct url_p *p, const char *kw)
{
	size_t n = strlen(kw);
	if (p->len - p->pos < n || !ascii_ieq(p->s + p->pos, n, kw))
		return false;
	p->pos += n;
	return true;
}

/*
 * 1*bchar (or achar when !slash) percent-decoded into a new string, up to
 * the first octet outside the class.  Decoded control characters and NUL
 * are refused: nothing this URL names can contain them.
 */
static bool decoded(struct url_p *p, bool slash, size_t max, char **out)
{
	struct buf b = BUF_INIT;
	size_t start = p->pos;
	while (p->pos < p->len) {
		int c = (unsigned char)p->s[p->pos];
		if (c == '%') {
			int h = p->pos + 2 < p->len ? hexval((unsigned char)p->s[p->pos + 1]) : -1;
			int l = h >= 0 ? hexval((unsigned char)p->s[p->pos + 2]) : -1;
			if (l < 0) {
				buf_free(&b);
				return fail(p, "Invalid percent-encoding");
			}
			c = h * 16 + l;
			if (c < 0x20 || c == 0x7f) {
				buf_free(&b);
				return fail(p, "Control character in URL");
			}
			p->pos += 3;
		} else if (slash && c == '/' && p->pos + 1 < p->len && p->s[p->pos + 1] == ';') {
			break;      /* "/;UID=", "/;SECTION=": the next URL part */
		} else if (slash ? is_bchar(c) : is_achar(c)) {
			p->pos++;
		} else {
			break;
		}
		if (b.len >= max) {
			buf_free(&b);
			return fail(p, "URL component too long");
		}
		buf_putc(&b, (char)c);
	}
	if (p->pos == start) {
		buf_free(&b);
		return fail(p, "Empty URL component");
	}
	*out = buf_steal(&b);
	return true;
}

static bool number64(struct url_p *p, uint64_t *v)
{
	uint64_t n = 0;
	size_t digits = 0;
	while (p->pos < p->len && is_digit((unsigned char)p->s[p->pos])) {
		unsigned d = (unsigned)(p->s[p->pos] - '0');
		if (++digits > 19 || n > (UINT64_MAX / 2 - d) / 10)
			return fail(p, "Number too large");
		n = n * 10 + d;
		p->pos++;
	}
	if (!digits)
		return fail(p, "Expected a number");
	*v = n;
	return true;
}

static bool nz_number32(struct url_p *p, uint32_t *v)
{
	uint64_t n;
	if (!number64(p, &n))
		return false;
	if (n == 0 || n > UINT32_MAX)
		return fail(p, "Invalid number");
	*v = (uint32_t)n;
	return true;
}

/* iserver after "imap://": [iuserinfo "@"] host [":" port], up to the "/" that starts the path. */
static bool server(struct url_p *p, struct imap_url *u)
{
	size_t end = p->pos;
	while (end < p->len && p->s[end] != '/')
		end++;
	const char *at = memchr(p->s + p->pos, '@', end - p->pos);
	if (at) {
		struct url_p up = { .s = p->s, .len = (size_t)(at - p->s), .pos = p->pos };
		if (!decoded(&up, false, 256, &u->user))
			return fail(p, up.err);
		/* ";AUTH=mech" names how to log in: any is fine, the session is logged in already */
		if (up.pos < up.len && !keyword(&up, ";AUTH="))
			return fail(p, "Invalid user in URL");
		while (up.pos < up.len && (is_achar((unsigned char)up.s[up.pos]) || up.s[up.pos] == '%'))
			up.pos++;
		if (up.pos != up.len)
			return fail(p, "Invalid user in URL");
		p->pos = (size_t)(at - p->s) + 1;
	}
	size_t hs = p->pos;
	bool bracket = p->pos < end && p->s[p->pos] == '[';   /* IP-literal */
	while (p->pos < end && (bracket ? p->s[p->pos] != ']'
					: (is_alpha((unsigned char)p->s[p->pos]) || is_digit((unsigned char)p->s[p->pos]) ||
					   p->s[p->pos] == '-' || p->s[p->pos] == '.')))
		p->pos++;
	if (bracket) {
		if (p->pos >= end)
			return fail(p, "Invalid host in URL");
		p->pos++;
	}
	if (p->pos == hs || p->pos - hs > 255)
		return fail(p, "Invalid host in URL");
	u->host = xstrndup(p->s + hs, p->pos - hs);
	if (p->pos < end && p->s[p->pos] == ':') {
		uint64_t port;
		p->pos++;
		if (!number64(p, &port) || port > 65535)
			return fail(p, "Invalid port in URL");
	}
	if (p->pos != end || end == p->len)
		return fail(p, "Invalid server in URL");
	return true;
}

/* iuid [isection] [ipartial] after the mailbox: ";UID=n" ["/;SECTION=s"] ["/;PARTIAL=o[.l]"] */
static bool message_part(struct url_p *p, struct imap_url *u)
{
	if (!keyword(p, ";UID="))
		return fail(p, "URL names no message (;UID=)");
	if (!nz_number32(p, &u->uid))
		return false;
	if (keyword(p, "/;SECTION=") && !decoded(p, true, IMAP_URL_SECTION_MAX, &u->section))
		return false;
	if (keyword(p, "/;PARTIAL=")) {
		u->partial = true;
		u->length = UINT64_MAX;
		if (!number64(p, &u->offset))
			return false;
		if (p->pos < p->len && p->s[p->pos] == '.') {
			p->pos++;
			if (!number64(p, &u->length) || u->length == 0)
				return fail(p, "Invalid partial length");
		}
	}
	if (p->pos < p->len && (keyword(p, ";EXPIRE=") || keyword(p, ";URLAUTH=")))
		return fail(p, "URLAUTH URLs are not supported");
	if (p->pos != p->len)
		return fail(p, "Unexpected characters in URL");
	return true;
}

/* "/" enc-mailbox [";UIDVALIDITY=" nz-number] "/" message_part */
static bool absolute_path(struct url_p *p, struct imap_url *u)
{
	p->pos++;   /* the "/" */
	if (!decoded(p, true, 1024, &u->mailbox))
		return false;
	if (keyword(p, ";UIDVALIDITY=") && !nz_number32(p, &u->uidvalidity))
		return false;
	if (p->pos >= p->len || p->s[p->pos] != '/')
		return fail(p, "URL names no message (/;UID=)");
	p->pos++;
	return message_part(p, u);
}

bool imap_url_parse(const char *url, size_t len, struct imap_url *out, const char **err)
{
	memset(out, 0, sizeof *out);
	struct url_p p = { .s = url, .len = len };
	bool ok;
	if (len == 0 || len > IMAP_URL_MAX) {
		ok = fail(&p, len ? "URL too long" : "Empty URL");
	} else if (keyword(&p, "imap://")) {
		ok = server(&p, out) && absolute_path(&p, out);
	} else if (url[0] == '/') {
		ok = len > 1 && url[1] != '/' ? absolute_path(&p, out) : fail(&p, "Network-path URLs need imap:");
	} else if (url[0] == ';') {
		ok = message_part(&p, out);
	} else {
		ok = fail(&p, "Not an IMAP URL");
	}
	if (ok)
		return true;
	*err = p.err ? p.err : "Invalid URL";
	imap_url_free(out);
	return false;
}

void imap_url_free(struct imap_url *u)
{
	free(u->user);
	free(u->host);
	free(u->mailbox);
	free(u->section);
	memset(u, 0, sizeof *u);
}
