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
 * 1*bchar (or achar, cls) percent-decoded into a new string, up to
 * the first octet outside the class.  Decoded control characters and NUL
 * are refused: nothing this URL names can contain them.
 */
enum url_chars {
	URL_ACHAR,      /* enc-user, enc-auth-type */
	URL_BCHAR,      /* enc-mailbox, enc-section */
	URL_ACCESS,     /* an access identifier's user: achar, and "@" unencoded as clients send it */
};

static bool decoded(struct url_p *p, enum url_chars cls, size_t max, char **out)
{
	struct buf b = BUF_INIT;
	size_t start = p->pos;
	while (p->pos < p->len) {
		int c = (unsigned char)p->s[p->pos];
		if (c == '%') {
			int h = p->pos + 2 < p->len ? hex_digit((unsigned char)p->s[p->pos + 1]) : -1;
			int l = h >= 0 ? hex_digit((unsigned char)p->s[p->pos + 2]) : -1;
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
		} else if (cls == URL_BCHAR && c == '/' && p->pos + 1 < p->len && p->s[p->pos + 1] == ';') {
			break;      /* "/;UID=", "/;SECTION=": the next URL part */
		} else if (cls == URL_BCHAR ? is_bchar(c) : is_achar(c) || (cls == URL_ACCESS && c == '@')) {
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
		if (!decoded(&up, URL_ACHAR, 256, &u->user))
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

static bool digits(struct url_p *p, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p->pos >= p->len || !is_digit((unsigned char)p->s[p->pos]))
			return false;
		*v = *v * 10 + (p->s[p->pos++] - '0');
	}
	return true;
}

static bool sep(struct url_p *p, char c)
{
	if (p->pos >= p->len || (p->s[p->pos] != c && !(c == 'T' && p->s[p->pos] == 't')))
		return false;
	p->pos++;
	return true;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z / +HH:MM / -HH:MM) */
static bool expire_time(struct url_p *p, struct imap_url *u)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	if (!digits(p, 4, &y) || !sep(p, '-') || !digits(p, 2, &mo) || !sep(p, '-') || !digits(p, 2, &d) ||
	    !sep(p, 'T') || !digits(p, 2, &h) || !sep(p, ':') || !digits(p, 2, &mi) || !sep(p, ':') ||
	    !digits(p, 2, &sec))
		return fail(p, "Invalid ;EXPIRE= date-time");
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		size_t st = p->pos;
		while (p->pos < p->len && p->pos - st < 9 && is_digit((unsigned char)p->s[p->pos]))
			p->pos++;
		if (p->pos == st)
			return fail(p, "Invalid ;EXPIRE= date-time");
	}
	int sign = 0;
	if (p->pos < p->len && (p->s[p->pos] == 'Z' || p->s[p->pos] == 'z')) {
		p->pos++;
	} else if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) {
		sign = p->s[p->pos++] == '+' ? 1 : -1;
		if (!digits(p, 2, &oh) || !sep(p, ':') || !digits(p, 2, &om) || oh > 23 || om > 59)
			return fail(p, "Invalid ;EXPIRE= date-time");
	} else {
		return fail(p, "Invalid ;EXPIRE= date-time");
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return fail(p, "Invalid ;EXPIRE= date-time");
	/* days from civil (H. Hinnant), no libc time zone involved */
	int yy = mo <= 2 ? y - 1 : y;
	int era = yy / 400;
	int yoe = yy - era * 400;
	int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	u->expire_time = days * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	u->expire = true;
	return true;
}

/* ";URLAUTH=" access [":" mechanism ":" token] (RFC 4467 §7) */
static bool urlauth(struct url_p *p, struct imap_url *u)
{
	u->urlauth = true;
	if (keyword(p, "anonymous")) {
		u->access = xstrdup("anonymous");
	} else if (keyword(p, "authuser")) {
		u->access = xstrdup("authuser");
	} else {
		bool submit = keyword(p, "submit+");
		if (!submit && !keyword(p, "user+"))
			return fail(p, "Invalid URLAUTH access identifier");
		char *name;
		if (!decoded(p, URL_ACCESS, 256, &name))
			return false;
		size_t n = strlen(name);
		u->access = xmalloc(n + 8);
		memcpy(u->access, submit ? "submit+" : "user+", submit ? 7 : 5);
		memcpy(u->access + (submit ? 7 : 5), name, n + 1);
		free(name);
	}
	u->rump_len = p->pos;
	if (p->pos >= p->len || p->s[p->pos] != ':')
		return true;    /* a rump */
	p->pos++;
	size_t st = p->pos;
	while (p->pos < p->len && p->pos - st <= 64 &&
	       (is_alpha((unsigned char)p->s[p->pos]) || is_digit((unsigned char)p->s[p->pos]) ||
		p->s[p->pos] == '-' || p->s[p->pos] == '.'))
		p->pos++;
	if (p->pos == st || p->pos - st > 64 || p->pos >= p->len || p->s[p->pos] != ':')
		return fail(p, "Invalid URLAUTH mechanism");
	u->mech = xstrndup(p->s + st, p->pos - st);
	p->pos++;
	st = p->pos;
	while (p->pos < p->len && p->pos - st <= 256 && hex_digit((unsigned char)p->s[p->pos]) >= 0)
		p->pos++;
	if (p->pos - st < 32 || p->pos - st > 256)
		return fail(p, "Invalid URLAUTH token");
	u->token = xstrndup(p->s + st, p->pos - st);
	return true;
}

/* iuid [isection] [ipartial] after the mailbox: ";UID=n" ["/;SECTION=s"] ["/;PARTIAL=o[.l]"] */
static bool message_part(struct url_p *p, struct imap_url *u)
{
	if (!keyword(p, ";UID="))
		return fail(p, "URL names no message (;UID=)");
	if (!nz_number32(p, &u->uid))
		return false;
	if (keyword(p, "/;SECTION=") && !decoded(p, URL_BCHAR, IMAP_URL_SECTION_MAX, &u->section))
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
	if (keyword(p, ";EXPIRE=") && !expire_time(p, u))
		return false;
	if (keyword(p, ";URLAUTH=") && !urlauth(p, u))
		return false;
	if (u->expire && !u->urlauth)
		return fail(p, ";EXPIRE= without ;URLAUTH=");
	if (p->pos != p->len)
		return fail(p, "Unexpected characters in URL");
	return true;
}

/* "/" enc-mailbox [";UIDVALIDITY=" nz-number] "/" message_part */
static bool absolute_path(struct url_p *p, struct imap_url *u)
{
	p->pos++;   /* the "/" */
	if (!decoded(p, URL_BCHAR, 1024, &u->mailbox))
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
	free(u->access);
	free(u->mech);
	free(u->token);
	memset(u, 0, sizeof *u);
}
