/*
 * dsn.c — writes a delivery status notification (RFC 3464 inside an RFC
 * 6522 multipart/report) as one complete message to a file descriptor.
 *
 * The queue (src/queue/) decides that a report is due and for which
 * recipients; this file only formats.  The report has three parts:
 *
 *   1. text/plain for people: who, what happened, the remote reply;
 *   2. message/delivery-status for programs: per-message fields, then one
 *      group of fields per recipient;
 *   3. the original, streamed from its spool file with pread(): the whole
 *      message (message/rfc822) or its header section only
 *      (text/rfc822-headers) for RET=HDRS, delay and success reports, and
 *      originals over DSN_FULL_MAX.
 *
 * Everything that came from the network (addresses, ORCPT, ENVID, the
 * remote reply, the remote host name) is sanitised before it is written:
 * no CR, LF or other control characters, bounded lengths, long fields
 * folded at whitespace.  No generated line can begin with "--" (each starts
 * with a fixed word, "<" or whitespace), and the part of the original that
 * is included is scanned for the boundary before anything is written, so
 * no content can contain a MIME delimiter.
 *
 * 8-bit: message/delivery-status stays 7-bit: a non-ASCII address is
 * written in RFC 6533's utf-8-addr-xtext form ("utf-8;" with \x{HHHH}
 * escapes); non-ASCII in a diagnostic or a host name becomes "?".  The
 * text/plain part shows a non-ASCII (valid UTF-8) address as it is, and is
 * then declared charset=utf-8, 8bit.  The To: field carries the envelope
 * sender as RFC 6532 allows (such an address can only be reached over
 * SMTPUTF8 in the first place).  An 8-bit original or text part makes the
 * report Content-Transfer-Encoding: 8bit at the top and on that part.
 *
 * Output goes through one buffer of DSN_OUT_BUF octets; every write(2)
 * handles EINTR and partial writes, and the first error ends the report.
 */
#include "queue/dsn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

/* ---- limits ------------------------------------------------------------ */

#define DSN_LINE_MAX     998                /* RFC 5322 §2.1.1, octets before CRLF */
#define DSN_FOLD_WIDTH   78                 /* fold header fields at whitespace before this */
#define DSN_TEXT_WIDTH   76                 /* wrap the text/plain part */
#define DSN_TEXT_INDENT  "    "             /* continuation lines of a recipient's entry */
#define DSN_TOKEN_MAX    900                /* longest unbroken word in a folded field */
#define DSN_HDR_MAX      (1024 * 1024)      /* header section read for text/rfc822-headers */
#define DSN_ADDR_MAX     512                /* an address as written (after encoding) */
#define DSN_DIAG_MAX     2000               /* a diagnostic, after sanitising */
#define DSN_HOST_MAX     255                /* Remote-MTA, Reporting-MTA */
#define DSN_ENVID_MAX    200                /* RFC 3461 allows 100 */
#define DSN_QID_MAX      64
#define DSN_BOUNDARY_RND 32                 /* random characters in the boundary (~158 bits) */
#define DSN_BOUNDARY_TRY 8                  /* boundaries tried before giving up */
#define DSN_OUT_BUF      8192
#define DSN_READ_CHUNK   8192

/* ---- buffered output ----------------------------------------------------- */

struct dsn_out {
	int fd;
	int err;            /* errno of the first failure; nothing more is written after it */
	uint64_t total;     /* octets accepted by write(2) */
	size_t len;
	char buf[DSN_OUT_BUF];
};

static void out_flush(struct dsn_out *o)
{
	size_t done = 0;
	while (o->err == 0 && done < o->len) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
		} else if (n == 0) {
			o->err = EIO;       /* no progress on a non-empty write: never spin */
		} else {
			done += (size_t)n;
			o->total += (uint64_t)n;
		}
	}
	o->len = 0;
}

static void out_put(struct dsn_out *o, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0 && o->err == 0) {
		size_t room = sizeof o->buf - o->len;
		size_t take = n < room ? n : room;
		memcpy(o->buf + o->len, s, take);
		o->len += take;
		s += take;
		n -= take;
		if (o->len == sizeof o->buf)
			out_flush(o);
	}
}

static void out_crlf(struct dsn_out *o)
{
	out_put(o, "\r\n", 2);
}

/* One whole line from trusted pieces; callers keep it under DSN_LINE_MAX. */
static void out_line(struct dsn_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_line(struct dsn_out *o, const char *fmt, ...)
{
	char line[DSN_LINE_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	out_put(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	out_crlf(o);
}

/*
 * Write s[0..n) as words separated by spaces, breaking lines before width
 * and starting each continuation line with cont.  A word longer than hard
 * is cut (never inside a UTF-8 sequence).  For a header field cont is " ",
 * so the breaks are RFC 5322 folding and unfolding restores the value.
 */
static void out_wrapped(struct dsn_out *o, const char *s, size_t n, size_t width,
			const char *cont, size_t hard)
{
	size_t contlen = strlen(cont);
	size_t col = 0;
	bool line_empty = true;
	size_t i = 0;
	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		size_t end = i;
		while (end < n && s[end] != ' ')
			end++;
		while (i < end) {
			size_t take = end - i;
			if (take > hard) {
				take = hard;
				while (take > 1 && ((unsigned char)s[i + take] & 0xc0) == 0x80)
					take--;
			}
			if (!line_empty) {
				if (col + 1 + take > width) {
					out_crlf(o);
					out_put(o, cont, contlen);
					col = contlen;
				} else {
					out_put(o, " ", 1);
					col++;
				}
			}
			out_put(o, s + i, take);
			col += take;
			line_empty = false;
			i += take;
		}
	}
	out_crlf(o);
}

/* ---- sanitising ---------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (n available) and its code point; 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t j = 1; j < len; j++) {
		if ((s[j] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[j] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/*
 * Free text (a diagnostic, an ENVID) as one line of printable US-ASCII:
 * CR, LF and TAB become spaces, other control octets and each non-ASCII
 * character (or octet that is not UTF-8) "?",
 * runs of spaces one space, no space at either end; at most max octets,
 * "..." marking a cut.
 */
static void clean_text(struct buf *b, const char *s, size_t max)
{
	size_t start = b->len;
	bool space = false;
	const unsigned char *p = (const unsigned char *)nz(s);
	size_t n = strlen((const char *)p);
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		unsigned char c = len == 1 ? p[i] : '?';    /* one "?" per UTF-8 character */
		i += len ? len : 1;
		if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
			space = b->len > start;
			continue;
		}
		if (c < 0x20 || c >= 0x7f)
			c = '?';
		if (b->len - start + (space ? 1 : 0) + 1 > max) {
			if (max > 3) {
				while (b->len - start > max - 3)
					b->len--;
				buf_puts(b, "...");
			}
			break;
		}
		if (space)
			buf_putc(b, ' ');
		space = false;
		buf_putc(b, (char)c);
	}
}

/* A host name, queue id or the like: [A-Za-z0-9.-_:[]] kept, anything else "?". */
static void clean_token(struct buf *b, const char *s, size_t max, const char *dflt)
{
	size_t start = b->len;
	for (const unsigned char *p = (const unsigned char *)nz(s); *p && b->len - start < max; p++) {
		unsigned char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
		buf_putc(b, ok ? (char)c : '?');
	}
	if (b->len == start)
		buf_puts(b, dflt);
}

/*
 * An address for people (text part, To:): printable US-ASCII and
 * well-formed non-ASCII UTF-8 kept, anything else "?".  Returns whether
 * non-ASCII was written.
 */
static bool clean_display(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len;
	bool eight = false;
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		if (b->len - start + (len ? len : 1) > DSN_ADDR_MAX)
			break;
		if (len > 1) {
			buf_append(b, p + i, len);
			eight = true;
			i += len;
			continue;
		}
		buf_putc(b, len == 1 && cp >= 0x20 && cp < 0x7f ? (char)cp : '?');
		i++;
	}
	return eight;
}

/* "\x{HEX}" at s, as RFC 6533's EmbeddedUnicodeChar (2 to 6 digits): its length and value, or 0. */
static size_t embedded_unicode(const char *s, size_t n, uint32_t *value)
{
	if (n < 6 || s[0] != '\\' || s[1] != 'x' || s[2] != '{')
		return 0;
	uint32_t v = 0;
	size_t d = 0;
	while (3 + d < n && d < 7) {
		char c = s[3 + d];
		int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (h < 0)
			break;
		v = v << 4 | (uint32_t)h;
		d++;
	}
	if (d < 2 || d > 6 || 3 + d >= n || s[3 + d] != '}' || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*value = v;
	return 4 + d;
}

/*
 * Append "type;address" for Final-Recipient / Original-Recipient, 7-bit:
 * ASCII (or octets that are not UTF-8) as "rfc822;addr" with control and
 * 8-bit octets as "?"; well-formed non-ASCII UTF-8, or a value already of
 * type utf-8, as "utf-8;" utf-8-addr-xtext (RFC 6533 §3): QCHARs as they
 * are, an escape already present kept, space + = \ and non-ASCII as
 * \x{HEX}; control octets, and non-ASCII that is not UTF-8, become "?".
 */
static void typed_address(struct buf *b, const char *a, size_t n, bool utf8_type)
{
	if (!utf8_type && (is_ascii(a, n) || !utf8_valid(a, n))) {
		buf_puts(b, "rfc822;");
		for (size_t i = 0; i < n && i < DSN_ADDR_MAX; i++) {
			unsigned char c = (unsigned char)a[i];
			buf_putc(b, c >= 0x20 && c < 0x7f ? (char)c : '?');
		}
		return;
	}
	buf_puts(b, "utf-8;");
	size_t start = b->len;
	const unsigned char *p = (const unsigned char *)a;
	size_t i = 0;
	while (i < n) {
		char unit[16];
		size_t ulen;
		uint32_t cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		uint32_t ev = 0;
		size_t esc = utf8_type ? embedded_unicode(a + i, n - i, &ev) : 0;
		if (esc && (ev < 0x20 || ev == 0x7f)) {
			unit[0] = '?';              /* an escaped control is no better than a raw one */
			ulen = 1;
			len = esc;
		} else if (esc) {
			memcpy(unit, a + i, esc);
			ulen = esc;
			len = esc;
		} else if (len == 0) {
			unit[0] = '?';
			ulen = 1;
			len = 1;
		} else if (cp < 0x20 || cp == 0x7f) {
			unit[0] = '?';
			ulen = 1;
		} else if (cp == ' ' || cp == '+' || cp == '=' || cp == '\\' || cp >= 0x80) {
			ulen = (size_t)snprintf(unit, sizeof unit, "\\x{%02X}", (unsigned)cp);
		} else {
			unit[0] = (char)cp;
			ulen = 1;
		}
		if (b->len - start + ulen > DSN_ADDR_MAX)
			break;
		buf_append(b, unit, ulen);
		i += len;
	}
}

/* An ORCPT as stored ("rfc822;a@b", "utf-8;...", or a bare address taken as rfc822). */
static void typed_orcpt(struct buf *b, const char *orcpt)
{
	size_t n = strlen(orcpt);
	const char *semi = memchr(orcpt, ';', n);
	size_t tlen = semi ? (size_t)(semi - orcpt) : 0;
	if (semi && ascii_ieq(orcpt, tlen, "utf-8")) {
		typed_address(b, semi + 1, n - tlen - 1, true);
		return;
	}
	if (semi && ascii_ieq(orcpt, tlen, "rfc822")) {
		typed_address(b, semi + 1, n - tlen - 1, false);
		return;
	}
	typed_address(b, orcpt, n, false);
}

/* The address part of an ORCPT, for people. */
static const char *orcpt_address(const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	if (semi && (ascii_ieq(orcpt, (size_t)(semi - orcpt), "utf-8") ||
		     ascii_ieq(orcpt, (size_t)(semi - orcpt), "rfc822")))
		return semi + 1;
	return orcpt;
}

static void utf8_encode(struct buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char)(0xc0 | cp >> 6));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_putc(b, (char)(0xe0 | cp >> 12));
		buf_putc(b, (char)(0x80 | (cp >> 6 & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(b, (char)(0xf0 | cp >> 18));
		buf_putc(b, (char)(0x80 | (cp >> 12 & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp >> 6 & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/* An ORCPT's address for people (clean_display), a utf-8 one's \x{HEX} decoded. */
static bool orcpt_display(struct buf *b, const char *orcpt)
{
	const char *a = orcpt_address(orcpt);
	size_t n = strlen(a);
	if (a == orcpt || !ascii_iprefix(orcpt, (size_t)(a - orcpt), "utf-8;"))
		return clean_display(b, a, n);
	struct buf d = BUF_INIT;
	for (size_t i = 0; i < n;) {
		uint32_t v;
		size_t e = embedded_unicode(a + i, n - i, &v);
		if (e) {
			utf8_encode(&d, v);
			i += e;
		} else {
			buf_putc(&d, a[i++]);
		}
	}
	bool eight = clean_display(b, buf_cstr(&d), d.len);
	buf_free(&d);
	return eight;
}

/* Enhanced status code (RFC 3463): class "." 1*3digit "." 1*3digit. */
static bool status_valid(const char *s)
{
	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return false;
	s += 2;
	for (int part = 0; part < 2; part++) {
		int d = 0;
		while (*s >= '0' && *s <= '9' && d < 4) {
			s++;
			d++;
		}
		if (d < 1 || d > 3)
			return false;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

static const char *action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_DELAYED:
		return "delayed";
	case DSN_DELIVERED:
		return "delivered";
	case DSN_RELAYED:
		return "relayed";
	case DSN_FAILED:
	default:
		return "failed";
	}
}

static const char *rcpt_status(const struct dsn_rcpt *rc)
{
	if (status_valid(rc->status))
		return rc->status;
	switch (rc->action) {
	case DSN_DELAYED:
		return "4.0.0";
	case DSN_DELIVERED:
	case DSN_RELAYED:
		return "2.0.0";
	case DSN_FAILED:
	default:
		return "5.0.0";
	}
}

/* RFC 5322 date-time in UTC with English names, whatever the locale. */
static void format_date(char *out, size_t size, int64_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	if (t < 0)
		t = 0;
	if (t > 253402300799)               /* 9999-12-31T23:59:59Z: four-digit years */
		t = 253402300799;
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	snprintf(out, size, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* ---- the original: what is included, checked before anything is written --- */

struct dsn_orig {
	bool full;          /* message/rfc822 with the whole message, else text/rfc822-headers */
	uint64_t len;       /* octets of the original to copy from orig_offset */
	bool eightbit;      /* an octet >= 0x80 among them */
	bool has_boundary;  /* the boundary occurs among them: choose another */
};

/*
 * Read the original from off: at most limit octets, or (headers) up to the
 * first empty line — a line ends at CRLF, a bare LF or a bare CR, as
 * orig_copy() sees them.  Sets len, eightbit and has_boundary for what is
 * included; *more says whether the original goes on past limit.
 * Returns 0, or -1 with errno on a read error.
 */
static int orig_scan(int fd, uint64_t off, uint64_t limit, bool headers, const char *boundary,
		     struct dsn_orig *g, bool *more)
{
	size_t blen = strlen(boundary);
	char buf[DSN_READ_CHUNK + 128];
	size_t carry = 0;                   /* tail of the previous chunk, for matches across chunks */
	uint64_t pos = 0;                   /* octets read */
	uint64_t line_start = 0;
	size_t line_len = 0;
	bool prev_cr = false;
	bool done = false;
	g->len = 0;
	g->eightbit = false;
	g->has_boundary = false;
	*more = false;
	while (!done) {
		uint64_t want = limit + 1 - pos;    /* one more than the limit tells "more" */
		if (want > DSN_READ_CHUNK)
			want = DSN_READ_CHUNK;
		ssize_t n = pread(fd, buf + carry, (size_t)want, (off_t)(off + pos));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			g->len = pos;
			break;
		}
		size_t use = (size_t)n;
		if (pos + use > limit) {
			use = (size_t)(limit - pos);
			*more = true;
			done = true;
		}
		if (headers) {
			for (size_t i = 0; i < use; i++) {
				char c = buf[carry + i];
				if (prev_cr && c == '\n') {
					prev_cr = false;
					line_start = pos + i + 1;
					continue;
				}
				prev_cr = false;
				if (c == '\r' || c == '\n') {
					if (line_len == 0) {         /* the empty line: header ends */
						use = i;
						*more = false;
						done = true;
						break;
					}
					line_len = 0;
					prev_cr = c == '\r';
					line_start = pos + i + 1;
					continue;
				}
				line_len++;
			}
		}
		for (size_t i = 0; i < use && !g->eightbit; i++)
			if ((unsigned char)buf[carry + i] >= 0x80)
				g->eightbit = true;
		if (!g->has_boundary && memmem(buf, carry + use, boundary, blen))
			g->has_boundary = true;
		pos += use;
		g->len = pos;
		if (carry + use >= blen - 1) {
			memmove(buf, buf + carry + use - (blen - 1), blen - 1);
			carry = blen - 1;
		} else {
			carry += use;
		}
	}
	/* A header section cut at the limit ends at the last complete line when there is one. */
	if (headers && *more && line_start > 0)
		g->len = line_start;
	return 0;
}

/* What to include (see dsn.h), with boundary checked against it. */
static int orig_plan(int fd, uint64_t off, bool want_full, const char *boundary, struct dsn_orig *g)
{
	bool more;
	if (want_full) {
		if (orig_scan(fd, off, DSN_FULL_MAX, false, boundary, g, &more) < 0)
			return -1;
		if (!more) {
			g->full = true;
			return 0;
		}
	}
	g->full = false;
	return orig_scan(fd, off, DSN_HDR_MAX, true, boundary, g, &more);
}

/*
 * Copy len octets of the original from off, every line ended by CRLF (a
 * bare LF or bare CR becomes CRLF, a last line without one gets one) and no
 * line over DSN_LINE_MAX: a longer one is broken, in the header section as
 * a folded continuation ("CRLF SP") so the header stays a header.
 */
static int orig_copy(struct dsn_out *o, int fd, uint64_t off, uint64_t len)
{
	char buf[DSN_READ_CHUNK];
	uint64_t pos = 0;
	size_t col = 0;
	bool prev_cr = false, in_header = true;
	while (pos < len && o->err == 0) {
		uint64_t want = len - pos < sizeof buf ? len - pos : sizeof buf;
		ssize_t n = pread(fd, buf, (size_t)want, (off_t)(off + pos));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;                      /* shorter than it was: copy what there is */
		pos += (uint64_t)n;
		size_t i = 0;
		while (i < (size_t)n) {
			char c = buf[i];
			if (prev_cr && c == '\n') {
				prev_cr = false;
				i++;
				continue;
			}
			prev_cr = false;
			if (c == '\r' || c == '\n') {
				out_crlf(o);
				if (col == 0)
					in_header = false;
				col = 0;
				prev_cr = c == '\r';
				i++;
				continue;
			}
			if (col >= DSN_LINE_MAX) {
				out_put(o, in_header ? "\r\n " : "\r\n", in_header ? 3 : 2);
				col = in_header ? 1 : 0;
			}
			size_t j = i, room = DSN_LINE_MAX - col;
			while (j < (size_t)n && j - i < room && buf[j] != '\r' && buf[j] != '\n')
				j++;
			out_put(o, buf + i, j - i);
			col += j - i;
			i = j;
		}
	}
	if (col > 0)
		out_crlf(o);
	return 0;
}

/* ---- the report -------------------------------------------------------- */

enum dsn_kind { KIND_FAILED, KIND_DELAYED, KIND_SUCCESS };

static enum dsn_kind report_kind(const struct dsn_report *r)
{
	bool delayed = false;
	for (size_t i = 0; i < r->nrcpts; i++) {
		if (r->rcpts[i].action == DSN_FAILED ||
		    (r->rcpts[i].action != DSN_DELAYED && r->rcpts[i].action != DSN_DELIVERED &&
		     r->rcpts[i].action != DSN_RELAYED))
			return KIND_FAILED;
		if (r->rcpts[i].action == DSN_DELAYED)
			delayed = true;
	}
	return delayed ? KIND_DELAYED : KIND_SUCCESS;
}

/* Sanitised values shared by the parts. */
struct dsn_ctx {
	const struct dsn_report *r;
	enum dsn_kind kind;
	struct buf host;        /* reporting MTA */
	struct buf qid;
	char boundary[64];
	struct buf tmp;         /* scratch for one field or paragraph */
	struct buf tmp2;
	struct buf diag;
};

static void write_top_header(struct dsn_out *o, struct dsn_ctx *c, bool eightbit)
{
	const struct dsn_report *r = c->r;
	static const char *const subjects[] = {
		[KIND_FAILED] = "Undelivered Mail Returned to Sender",
		[KIND_DELAYED] = "Delayed Mail (still being retried)",
		[KIND_SUCCESS] = "Successful Mail Delivery Report",
	};
	char date[64], stamp[32], rnd[25];
	int64_t now = r->now > 0 ? r->now : now_unix();
	format_date(date, sizeof date, now);
	time_t tt = (time_t)now;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm) == 0)
		strcpy(stamp, "0");
	random_id(rnd, sizeof rnd - 1);

	out_line(o, "From: Mail Delivery System <MAILER-DAEMON@%s>", c->host.data);
	buf_reset(&c->tmp);
	clean_display(&c->tmp, nz(r->to), strlen(nz(r->to)));
	out_line(o, "To: <%s>", buf_cstr(&c->tmp));
	out_line(o, "Subject: %s", subjects[c->kind]);
	out_line(o, "Date: %s", date);
	out_line(o, "Message-ID: <%s.%s@%s>", stamp, rnd, c->host.data);
	out_line(o, "Auto-Submitted: auto-replied");
	out_line(o, "MIME-Version: 1.0");
	out_line(o, "Content-Type: multipart/report; report-type=delivery-status;");
	out_line(o, "\tboundary=\"%s\"", c->boundary);
	if (eightbit)
		out_line(o, "Content-Transfer-Encoding: 8bit");
	out_crlf(o);
	out_line(o, "This is a MIME-encapsulated message: a delivery status notification.");
	out_crlf(o);
}

/* One recipient's entry in the text part: "<rcpt>: what happened", wrapped. */
static void write_text_rcpt(struct dsn_out *o, struct dsn_ctx *c, const struct dsn_rcpt *rc)
{
	struct buf *t = &c->tmp;
	buf_reset(t);
	buf_putc(t, '<');
	clean_display(t, nz(rc->rcpt), strlen(nz(rc->rcpt)));
	if (rc->orcpt && *rc->orcpt) {
		/* "(expanded from <alias>)" when the sender wrote another address */
		buf_reset(&c->diag);
		orcpt_display(&c->diag, rc->orcpt);
		if (!ascii_ieq(t->data + 1, t->len - 1, buf_cstr(&c->diag)))
			buf_printf(t, "> (expanded from <%s>)", buf_cstr(&c->diag));
		else
			buf_putc(t, '>');
	} else {
		buf_putc(t, '>');
	}
	buf_putc(t, ':');

	buf_reset(&c->tmp2);
	clean_token(&c->tmp2, rc->remote_mta, DSN_HOST_MAX, "");
	const char *host = c->tmp2.len ? c->tmp2.data : NULL;
	buf_reset(&c->diag);
	clean_text(&c->diag, rc->diagnostic, DSN_DIAG_MAX);
	bool has_diag = c->diag.len > 0;
	switch (rc->action) {
	case DSN_DELIVERED:
		buf_puts(t, " delivered");
		if (host)
			buf_printf(t, " to host %s", host);
		break;
	case DSN_RELAYED:
		buf_puts(t, " relayed");
		if (host)
			buf_printf(t, " to host %s", host);
		buf_puts(t, ", which does not send delivery notifications; none will follow");
		break;
	case DSN_DELAYED:
	case DSN_FAILED:
	default:
		if (has_diag && rc->diagnostic_remote && host)
			buf_printf(t, " host %s said:", host);
		else if (has_diag && rc->diagnostic_remote)
			buf_puts(t, " the remote server said:");
		else if (!has_diag)
			buf_printf(t, " %s (status %s)",
				   rc->action == DSN_DELAYED ? "temporary failure" : "delivery failed",
				   rcpt_status(rc));
		break;
	}
	if (has_diag) {
		if (rc->action == DSN_DELIVERED || rc->action == DSN_RELAYED)
			buf_putc(t, ':');
		buf_putc(t, ' ');
		buf_append(t, c->diag.data, c->diag.len);
		if (!rc->diagnostic_remote && host && rc->action != DSN_DELIVERED &&
		    rc->action != DSN_RELAYED)
			buf_printf(t, " (host %s)", host);
	}
	if (rc->action == DSN_DELAYED && rc->will_retry_until > 0) {
		char date[64];
		format_date(date, sizeof date, rc->will_retry_until);
		buf_printf(t, "; delivery will be tried again until %s", date);
	}
	out_wrapped(o, t->data, t->len, DSN_TEXT_WIDTH, DSN_TEXT_INDENT, DSN_TEXT_WIDTH - 4);
}

static void write_text_part(struct dsn_out *o, struct dsn_ctx *c, bool utf8, bool full, bool have_orig)
{
	const struct dsn_report *r = c->r;
	out_line(o, "--%s", c->boundary);
	out_line(o, "Content-Description: Notification");
	out_line(o, "Content-Type: text/plain; charset=%s", utf8 ? "utf-8" : "us-ascii");
	if (utf8)
		out_line(o, "Content-Transfer-Encoding: 8bit");
	out_crlf(o);
	out_line(o, "This is the mail delivery system at host %s.", c->host.data);
	out_crlf(o);
	switch (c->kind) {
	case KIND_FAILED:
		out_line(o, "Your message could not be delivered to one or more of its");
		out_line(o, "recipients.  For them the failure is permanent and delivery will not");
		out_line(o, "be tried again.  The recipients and the reasons are listed below.");
		break;
	case KIND_DELAYED:
		out_line(o, "THIS IS A WARNING ONLY.  YOU DO NOT NEED TO SEND YOUR MESSAGE AGAIN.");
		out_crlf(o);
		out_line(o, "Your message has not been delivered yet to the recipients listed");
		out_line(o, "below.  Delivery will be tried again for a while; if it still fails,");
		out_line(o, "you will be told.");
		break;
	case KIND_SUCCESS:
		out_line(o, "As you asked, this is to tell you what became of your message");
		out_line(o, "for the recipients listed below.");
		break;
	}
	out_crlf(o);
	if (c->kind != KIND_SUCCESS) {
		out_line(o, "If you need help, forward this report to your postmaster, who can");
		out_line(o, "find the message by its queue id %s.", c->qid.data);
		out_crlf(o);
	}
	if (!have_orig)
		out_line(o, "Your message itself could not be read back to attach it.");
	else
		out_line(o, full ? "Your message is attached after the delivery report."
				 : "The header of your message is attached after the delivery report.");

	static const struct {
		enum dsn_action action;
		const char *heading;
	} groups[] = {
		{ DSN_FAILED, "Could not be delivered:" },
		{ DSN_DELAYED, "Delayed, delivery is still being tried:" },
		{ DSN_DELIVERED, "Delivered:" },
		{ DSN_RELAYED, "Relayed to a system that does not report on delivery:" },
	};
	for (size_t g = 0; g < ARRAY_LEN(groups); g++) {
		bool any = false;
		for (size_t i = 0; i < r->nrcpts; i++) {
			enum dsn_action a = r->rcpts[i].action;
			if (a != DSN_DELAYED && a != DSN_DELIVERED && a != DSN_RELAYED)
				a = DSN_FAILED;
			if (a != groups[g].action)
				continue;
			if (!any) {
				out_crlf(o);
				out_line(o, "%s", groups[g].heading);
				any = true;
			}
			out_crlf(o);
			write_text_rcpt(o, c, &r->rcpts[i]);
		}
	}
	out_crlf(o);
	out_line(o, "    The mail system at %s", c->host.data);
	out_crlf(o);
}

static void write_status_rcpt(struct dsn_out *o, struct dsn_ctx *c, const struct dsn_rcpt *rc)
{
	struct buf *t = &c->tmp;
	char date[64];
	out_crlf(o);
	if (rc->orcpt && *rc->orcpt) {
		buf_reset(t);
		typed_orcpt(t, rc->orcpt);
		out_line(o, "Original-Recipient: %s", t->data);
	}
	buf_reset(t);
	typed_address(t, nz(rc->rcpt), strlen(nz(rc->rcpt)), false);
	out_line(o, "Final-Recipient: %s", t->data);
	out_line(o, "Action: %s", action_name(rc->action));
	out_line(o, "Status: %s", rcpt_status(rc));
	if (rc->remote_mta && *rc->remote_mta) {
		buf_reset(t);
		clean_token(t, rc->remote_mta, DSN_HOST_MAX, "unknown");
		out_line(o, "Remote-MTA: dns; %s", t->data);
	}
	if (rc->diagnostic && *rc->diagnostic) {
		buf_reset(t);
		buf_puts(t, rc->diagnostic_remote ? "Diagnostic-Code: smtp; " : "Diagnostic-Code: X-tern; ");
		size_t before = t->len;
		clean_text(t, rc->diagnostic, DSN_DIAG_MAX);
		if (t->len > before)
			out_wrapped(o, t->data, t->len, DSN_FOLD_WIDTH, " ", DSN_TOKEN_MAX);
	}
	if (rc->last_attempt > 0) {
		format_date(date, sizeof date, rc->last_attempt);
		out_line(o, "Last-Attempt-Date: %s", date);
	}
	if (rc->action == DSN_DELAYED && rc->will_retry_until > 0) {
		format_date(date, sizeof date, rc->will_retry_until);
		out_line(o, "Will-Retry-Until: %s", date);
	}
}

static void write_status_part(struct dsn_out *o, struct dsn_ctx *c)
{
	const struct dsn_report *r = c->r;
	char date[64];
	out_line(o, "--%s", c->boundary);
	out_line(o, "Content-Description: Delivery report");
	out_line(o, "Content-Type: message/delivery-status");
	out_crlf(o);
	if (r->envid && *r->envid) {
		buf_reset(&c->tmp);
		clean_text(&c->tmp, r->envid, DSN_ENVID_MAX);
		if (c->tmp.len)
			out_line(o, "Original-Envelope-Id: %s", c->tmp.data);
	}
	out_line(o, "Reporting-MTA: dns; %s", c->host.data);
	if (r->arrival > 0) {
		format_date(date, sizeof date, r->arrival);
		out_line(o, "Arrival-Date: %s", date);
	}
	out_line(o, "X-Tern-Queue-ID: %s", c->qid.data);
	for (size_t i = 0; i < r->nrcpts; i++)
		write_status_rcpt(o, c, &r->rcpts[i]);
	out_crlf(o);
}

static int write_original_part(struct dsn_out *o, struct dsn_ctx *c, const struct dsn_orig *g,
			       int fd, uint64_t off)
{
	const char *what = g->full ? "Message" : "Message Headers";
	out_line(o, "--%s", c->boundary);
	out_line(o, "Content-Description: %s%s", c->kind == KIND_SUCCESS ? "" : "Undelivered ", what);
	out_line(o, "Content-Type: %s", g->full ? "message/rfc822" : "text/rfc822-headers");
	if (g->eightbit)
		out_line(o, "Content-Transfer-Encoding: 8bit");
	out_crlf(o);
	if (orig_copy(o, fd, off, g->len) < 0)
		return -1;
	out_crlf(o);
	out_line(o, "--%s--", c->boundary);
	return 0;
}

int64_t dsn_write(const struct dsn_report *r, int orig_fd, uint64_t orig_offset, int out_fd)
{
	if (r == NULL || r->rcpts == NULL || r->nrcpts == 0) {
		errno = EINVAL;
		return -1;
	}
	struct dsn_ctx c = { .r = r, .kind = report_kind(r) };
	int64_t ret = -1;
	int saved = 0;

	clean_token(&c.host, r->hostname, DSN_HOST_MAX, "localhost");
	clean_token(&c.qid, r->queue_id, DSN_QID_MAX, "unknown");

	/* The whole message only comes back with a failure (RFC 3461 §4.3; Postfix does the same). */
	bool want_full = c.kind == KIND_FAILED && !(r->ret && strcasecmp(r->ret, "HDRS") == 0);
	struct dsn_orig g = { 0 };
	int tries = 0;
	for (;;) {
		char rnd[DSN_BOUNDARY_RND + 1];
		random_id(rnd, DSN_BOUNDARY_RND);
		snprintf(c.boundary, sizeof c.boundary, "=_tern_%s", rnd);
		if (orig_fd < 0)
			break;
		if (orig_plan(orig_fd, orig_offset, want_full, c.boundary, &g) < 0) {
			saved = errno;
			goto out;
		}
		if (!g.has_boundary)
			break;
		if (++tries == DSN_BOUNDARY_TRY) {
			log_error("queue", "queue_id=%s msg=\"every MIME boundary tried occurs in the original\"",
				  lq(c.qid.data));
			saved = EIO;
			goto out;
		}
	}

	/* Does the text part show a non-ASCII address? */
	bool utf8_text = false;
	for (size_t i = 0; i < r->nrcpts; i++) {
		buf_reset(&c.tmp);
		const char *a = nz(r->rcpts[i].rcpt);
		utf8_text |= clean_display(&c.tmp, a, strlen(a));
		if (r->rcpts[i].orcpt && *r->rcpts[i].orcpt)
			utf8_text |= orcpt_display(&c.tmp, r->rcpts[i].orcpt);
	}

	struct dsn_out o = { .fd = out_fd };
	write_top_header(&o, &c, utf8_text || g.eightbit);
	write_text_part(&o, &c, utf8_text, g.full, orig_fd >= 0);
	write_status_part(&o, &c);
	if (orig_fd < 0)
		out_line(&o, "--%s--", c.boundary);
	else if (write_original_part(&o, &c, &g, orig_fd, orig_offset) < 0) {
		saved = errno;
		goto out;
	}
	out_flush(&o);
	if (o.err) {
		saved = o.err;
		goto out;
	}
	ret = (int64_t)o.total;
out:
	buf_free(&c.host);
	buf_free(&c.qid);
	buf_free(&c.tmp);
	buf_free(&c.tmp2);
	buf_free(&c.diag);
	if (ret < 0)
		errno = saved;
	return ret;
}
