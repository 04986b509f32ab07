/*
 * parse.c — the IMAP command parser (parse.h): the cursor and the grammar's
 * tokens (atoms, quoted strings, literals, numbers, sequence sets, dates),
 * the command table, the commands with simple arguments, and the helpers
 * the session calls while a command is still arriving.
 *
 * FETCH, STORE and flag lists live in parse_fetch.c, SEARCH in
 * parse_search.c, the mailbox commands with options (SELECT, CREATE, LIST,
 * LSUB, STATUS) in parse_list.c, NOTIFY in parse_notify.c; parse_priv.h is
 * what they share.  The grammar is RFC 9051
 * §9 with the RFC 3501 forms clients still send, and the extensions tern
 * announces.  The parser never reads outside [text, text + len), recurses
 * only in SEARCH (depth-limited), and allocates in proportion to the text.
 */
#include "imap/parse.h"

#include <stdlib.h>
#include <string.h>

#include "imap/parse_priv.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "lib/xalloc.h"

/* ---- the cursor ------------------------------------------------------------ */

bool imap_p_fail(struct imap_p *p, const char *err)
{
	if (!p->err)
		p->err = err;
	return false;
}

int imap_p_peek(const struct imap_p *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

int imap_p_peek_at(const struct imap_p *p, size_t off)
{
	return off < p->len - p->pos ? (unsigned char)p->s[p->pos + off] : -1;
}

bool imap_p_is_atom_char(int c)
{
	if (c < 0x21 || c > 0x7e)
		return false;       /* SP, CTL, 8-bit */
	switch (c) {
	case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
		return false;
	}
	return true;
}

static bool is_astring_char(int c)
{
	return c == ']' || imap_p_is_atom_char(c);
}

static bool is_tag_char(int c)
{
	return c != '+' && is_astring_char(c);
}

/* Octets of the line end at the cursor: 2 (CRLF), 1 (LF) or 0. */
static size_t eol_len(const struct imap_p *p)
{
	if (p->pos < p->len && p->s[p->pos] == '\n')
		return 1;
	if (p->len - p->pos >= 2 && p->s[p->pos] == '\r' && p->s[p->pos + 1] == '\n')
		return 2;
	return 0;
}

bool imap_p_at_eol(const struct imap_p *p)
{
	return p->pos >= p->len || eol_len(p) > 0;
}

bool imap_p_arg(struct imap_p *p, const char *missing)
{
	if (imap_p_peek(p) != ' ')
		return imap_p_fail(p, imap_p_at_eol(p) ? missing : "Syntax error: expected a space");
	p->pos++;
	if (imap_p_at_eol(p))
		return imap_p_fail(p, missing);
	if (imap_p_peek(p) == ' ')
		return imap_p_fail(p, "Syntax error: extra space");
	return true;
}

bool imap_p_opt_arg(struct imap_p *p)
{
	if (imap_p_peek(p) != ' ')
		return false;
	p->pos++;
	if (imap_p_at_eol(p) || imap_p_peek(p) == ' ') {
		p->pos--;
		return false;
	}
	return true;
}

bool imap_p_char(struct imap_p *p, char c, const char *err)
{
	if (imap_p_peek(p) != (unsigned char)c)
		return imap_p_fail(p, err);
	p->pos++;
	return true;
}

bool imap_p_end(struct imap_p *p)
{
	size_t e = eol_len(p);
	if (e && p->pos + e == p->len) {
		p->pos += e;
		return true;
	}
	if (p->pos >= p->len)
		return imap_p_fail(p, "Command not terminated by CRLF");
	return imap_p_fail(p, "Unexpected characters after command");
}

/* ---- tokens ---------------------------------------------------------------- */

bool imap_p_atom(struct imap_p *p, const char **a, size_t *n, const char *missing)
{
	size_t st = p->pos;
	while (p->pos < p->len && imap_p_is_atom_char((unsigned char)p->s[p->pos]))
		p->pos++;
	if (p->pos == st)
		return imap_p_fail(p, imap_p_at_eol(p) ? missing : "Invalid characters in command");
	*a = p->s + st;
	*n = p->pos - st;
	return true;
}

bool imap_p_keyword(struct imap_p *p, const char *kw)
{
	size_t n = 0;
	while (p->pos + n < p->len && imap_p_is_atom_char((unsigned char)p->s[p->pos + n]))
		n++;
	if (!n || !ascii_ieq(p->s + p->pos, n, kw))
		return false;
	p->pos += n;
	return true;
}

void imap_p_str_free(struct imap_str *s)
{
	free(s->p);
	memset(s, 0, sizeof *s);
}

static void str_set(struct imap_str *out, const char *s, size_t n)
{
	free(out->p);
	out->p = xmemdup0(s, n);
	out->n = n;
	out->nil = false;
}

static bool quoted(struct imap_p *p, struct imap_str *out)
{
	struct buf b = BUF_INIT;
	bool eight = false;
	p->pos++;
	for (;;) {
		if (p->pos >= p->len)
			goto unterminated;
		unsigned char c = (unsigned char)p->s[p->pos];
		if (c == '"')
			break;
		if (c == '\r' || c == '\n')
			goto unterminated;
		if (c == '\0') {
			imap_p_fail(p, "NUL octet in quoted string");
			goto fail;
		}
		if (c == '\\') {
			p->pos++;
			c = p->pos < p->len ? (unsigned char)p->s[p->pos] : 0;
			if (c != '"' && c != '\\') {
				imap_p_fail(p, "Invalid escape in quoted string");
				goto fail;
			}
		} else if (c >= 0x80) {
			eight = true;
		}
		buf_putc(&b, (char)c);
		p->pos++;
	}
	p->pos++;
	if (eight && !p->probe) {
		if (!p->utf8) {
			imap_p_fail(p, "8-bit characters in a quoted string need UTF8=ACCEPT; use a literal");
			goto fail;
		}
		if (!utf8_valid(b.data, b.len)) {
			imap_p_fail(p, "Invalid UTF-8 in quoted string");
			goto fail;
		}
	}
	free(out->p);
	out->n = b.len;
	out->p = buf_steal(&b);
	out->nil = false;
	return true;
unterminated:
	imap_p_fail(p, "Unterminated quoted string");
fail:
	buf_free(&b);
	return false;
}

/*
 * A literal header "{n}", "{n+}" (or "~{n}", "~{n+}" where allow8) and its
 * line end, and the next literal's octets.  message: the APPEND message
 * position, where a spooled literal is expected and its octets are not
 * copied (*msg points to it instead).
 */
static bool literal(struct imap_p *p, struct imap_str *out, bool allow8, bool message,
		    const struct imap_literal **msg)
{
	bool binary = false;
	if (imap_p_peek(p) == '~') {
		if (!allow8)
			return imap_p_fail(p, "Binary literal (~{n}) not allowed here");
		binary = true;
		p->pos++;
	}
	if (!imap_p_char(p, '{', "Invalid literal"))
		return false;
	uint64_t n = 0;
	size_t digits = 0;
	bool overflow = false;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		unsigned d = (unsigned)(p->s[p->pos] - '0');
		if (++digits > 20 || n > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			n = n * 10 + d;
		p->pos++;
	}
	if (!digits)
		return imap_p_fail(p, "Invalid literal length");
	if (imap_p_peek(p) == '+')
		p->pos++;
	if (!imap_p_char(p, '}', "Invalid literal"))
		return false;
	if (p->probe && p->pos == p->len) {
		/*
		 * The header being announced: imap_parse_literal_is_message()
		 * wants to know what it is (a count too large to read is still
		 * the message, to be refused as too large).
		 */
		p->probe_end = true;
		p->probe_message = message;
		return imap_p_fail(p, "");
	}
	if (overflow)
		return imap_p_fail(p, "Invalid literal length");
	size_t e = eol_len(p);
	if (!e)
		return imap_p_fail(p, "A literal header must end its line");
	p->pos += e;
	if (p->probe) {
		if (out)
			str_set(out, "", 0);
		return true;
	}
	if (p->lit >= p->nlits)
		return imap_p_fail(p, "Missing literal data");
	const struct imap_literal *l = &p->lits[p->lit++];
	if ((uint64_t)l->len != n)
		return imap_p_fail(p, "Literal length does not match its data");
	if (l->binary != binary)
		return imap_p_fail(p, "Literal kind does not match its data");
	if (!l->data && l->len) {
		if (!message)
			return imap_p_fail(p, "Literal in an unexpected position");
	} else {
		if (!message && l->len > IMAP_LITERAL_MAX)
			return imap_p_fail(p, "Literal too large");
		if (!binary && l->len && memchr(l->data, '\0', l->len))
			return imap_p_fail(p, "NUL octet in literal");
	}
	if (msg)
		*msg = l;
	if (out)
		str_set(out, l->data ? l->data : "", l->len);
	return true;
}

bool imap_p_string(struct imap_p *p, struct imap_str *out, const char *missing)
{
	int c = imap_p_peek(p);
	if (c == '"')
		return quoted(p, out);
	if (c == '{' || (c == '~' && imap_p_peek_at(p, 1) == '{'))
		return literal(p, out, false, false, NULL);
	return imap_p_fail(p, imap_p_at_eol(p) ? missing : "Expected a quoted string or literal");
}

bool imap_p_astring(struct imap_p *p, struct imap_str *out, const char *missing)
{
	int c = imap_p_peek(p);
	if (c == '"' || c == '{' || (c == '~' && imap_p_peek_at(p, 1) == '{'))
		return imap_p_string(p, out, missing);
	size_t st = p->pos;
	while (p->pos < p->len && is_astring_char((unsigned char)p->s[p->pos]))
		p->pos++;
	if (p->pos == st)
		return imap_p_fail(p, imap_p_at_eol(p) ? missing : "Invalid characters in command");
	str_set(out, p->s + st, p->pos - st);
	return true;
}

bool imap_p_nstring(struct imap_p *p, struct imap_str *out, const char *missing)
{
	if (imap_p_keyword(p, "NIL")) {
		str_set(out, "", 0);
		out->nil = true;
		return true;
	}
	return imap_p_string(p, out, missing);
}

bool imap_p_list_mailbox(struct imap_p *p, struct imap_str *out, const char *missing)
{
	int c = imap_p_peek(p);
	if (c == '"' || c == '{' || (c == '~' && imap_p_peek_at(p, 1) == '{'))
		return imap_p_string(p, out, missing);
	size_t st = p->pos;
	while (p->pos < p->len) {
		c = (unsigned char)p->s[p->pos];
		if (!is_astring_char(c) && c != '%' && c != '*')
			break;
		p->pos++;
	}
	if (p->pos == st)
		return imap_p_fail(p, imap_p_at_eol(p) ? missing : "Invalid characters in mailbox pattern");
	str_set(out, p->s + st, p->pos - st);
	return true;
}

/* 1*DIGIT up to max; nz: no leading zero and not 0. */
static bool digits(struct imap_p *p, uint64_t *v, uint64_t max, bool nz)
{
	size_t st = p->pos;
	uint64_t x = 0;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		unsigned d = (unsigned)(p->s[p->pos] - '0');
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
		p->pos++;
	}
	if (p->pos == st || (nz && p->s[st] == '0'))
		return false;
	*v = x;
	return true;
}

bool imap_p_number(struct imap_p *p, uint32_t *v, bool nz, const char *err)
{
	uint64_t x;
	if (!digits(p, &x, UINT32_MAX, nz))
		return imap_p_fail(p, err);
	*v = (uint32_t)x;
	return true;
}

bool imap_p_number64(struct imap_p *p, uint64_t *v, bool nz, const char *err)
{
	if (!digits(p, v, INT64_MAX, nz))
		return imap_p_fail(p, err);
	return true;
}

bool imap_p_seqset(struct imap_p *p, struct imap_seqset *set, bool allow_saved)
{
	size_t st = p->pos;
	while (p->pos < p->len && strchr("0123456789:*,$", p->s[p->pos]) && p->s[p->pos])
		p->pos++;
	imap_seqset_free(set);
	if (p->pos == st)
		return imap_p_fail(p, imap_p_at_eol(p) ? "Missing sequence set" : "Invalid sequence set");
	if (!imap_seqset_parse(p->s + st, p->pos - st, allow_saved, set))
		return imap_p_fail(p, "Invalid sequence set");
	return true;
}

/* ---- dates ----------------------------------------------------------------- */

static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* n digits exactly (n <= 4). */
static bool fixed_digits(struct imap_p *p, int n, int *v)
{
	if (p->len - p->pos < (size_t)n)
		return false;
	*v = 0;
	for (int i = 0; i < n; i++) {
		char c = p->s[p->pos + (size_t)i];
		if (c < '0' || c > '9')
			return false;
		*v = *v * 10 + (c - '0');
	}
	p->pos += (size_t)n;
	return true;
}

/* "-Mon-yyyy" after the day; checks the day against the month. */
static bool month_year(struct imap_p *p, int day, int *m, int *y)
{
	if (p->len - p->pos < 5 || p->s[p->pos] != '-')
		return false;
	*m = 0;
	for (int i = 0; i < 12; i++)
		if (ascii_ieq(p->s + p->pos + 1, 3, months[i]))
			*m = i + 1;
	if (!*m || p->s[p->pos + 4] != '-')
		return false;
	p->pos += 5;
	if (!fixed_digits(p, 4, y) || *y < 1)
		return false;
	return day >= 1 && day <= days_in_month(*y, *m);
}

bool imap_p_search_date(struct imap_p *p, int64_t *days)
{
	bool missing = imap_p_at_eol(p);
	bool q = imap_p_peek(p) == '"';
	int d = 0, m, y;
	if (q)
		p->pos++;
	if (!fixed_digits(p, 1, &d))
		goto bad;
	int d2;
	if (fixed_digits(p, 1, &d2))
		d = d * 10 + d2;
	if (!month_year(p, d, &m, &y))
		goto bad;
	if (q && !imap_p_char(p, '"', "Invalid date"))
		return false;
	*days = days_from_civil(y, m, d);
	return true;
bad:
	return imap_p_fail(p, missing ? "Missing date" : "Invalid date (expected d-Mon-yyyy)");
}

/* The octet c at the cursor: consume it (no reason recorded when absent). */
static bool take(struct imap_p *p, char c)
{
	if (imap_p_peek(p) != (unsigned char)c)
		return false;
	p->pos++;
	return true;
}

/*
 * date-time: DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP
 * zone DQUOTE, as Unix time.  The day may also be a single digit without
 * the leading space, as some clients send it.
 */
static bool date_time(struct imap_p *p, int64_t *t)
{
	int d, d2, m, y, hh, mm, ss, zh, zm, sign;
	if (!take(p, '"'))
		goto bad;
	take(p, ' ');
	if (!fixed_digits(p, 1, &d))
		goto bad;
	if (fixed_digits(p, 1, &d2))
		d = d * 10 + d2;
	if (!month_year(p, d, &m, &y) || !take(p, ' ') || !fixed_digits(p, 2, &hh) || !take(p, ':') ||
	    !fixed_digits(p, 2, &mm) || !take(p, ':') || !fixed_digits(p, 2, &ss) || !take(p, ' '))
		goto bad;
	if (take(p, '+'))
		sign = 1;
	else if (take(p, '-'))
		sign = -1;
	else
		goto bad;
	if (!fixed_digits(p, 2, &zh) || !fixed_digits(p, 2, &zm) || !take(p, '"'))
		goto bad;
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		goto bad;
	*t = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss - sign * (zh * 3600 + zm * 60);
	return true;
bad:
	return imap_p_fail(p, "Invalid date-time (expected \"dd-Mon-yyyy hh:mm:ss +zzzz\")");
}

/* ---- commands with simple arguments ---------------------------------------- */

static bool mailbox(struct imap_p *p, struct imap_str *out)
{
	return imap_p_arg(p, "Missing mailbox name") && imap_p_astring(p, out, "Missing mailbox name");
}

static bool base64_ir(const char *s, size_t n)
{
	size_t pad = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			     c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

static bool cmd_authenticate(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	const char *a;
	size_t n;
	if (!imap_p_arg(p, "Missing authentication mechanism") ||
	    !imap_p_atom(p, &a, &n, "Missing authentication mechanism"))
		return false;
	str_set(&c->mech, a, n);
	if (!imap_p_opt_arg(p))
		return true;
	/* SASL-IR: base64, or "=" for an empty initial response. */
	size_t st = p->pos;
	while (p->pos < p->len && p->s[p->pos] != ' ' && p->s[p->pos] != '\r' && p->s[p->pos] != '\n')
		p->pos++;
	n = p->pos - st;
	if (n == 1 && p->s[st] == '=') {
		str_set(&c->ir, "", 0);
	} else {
		if (!base64_ir(p->s + st, n))
			return imap_p_fail(p, "Invalid base64 in initial response");
		str_set(&c->ir, p->s + st, n);
	}
	c->has_ir = true;
	return true;
}

static bool cmd_login(struct imap_p *p)
{
	return imap_p_arg(p, "Missing user name") && imap_p_astring(p, &p->cmd->user, "Missing user name") &&
	       imap_p_arg(p, "Missing password") && imap_p_astring(p, &p->cmd->pass, "Missing password");
}

static bool cmd_enable(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing capability name"))
		return false;
	c->atoms = xcalloc(IMAP_ENABLE_MAX, sizeof *c->atoms);
	do {
		const char *a;
		size_t n;
		if (c->natoms == IMAP_ENABLE_MAX)
			return imap_p_fail(p, "Too many capabilities");
		if (!imap_p_atom(p, &a, &n, "Missing capability name"))
			return false;
		str_set(&c->atoms[c->natoms++], a, n);
	} while (imap_p_opt_arg(p));
	return true;
}

static bool cmd_one_mailbox(struct imap_p *p)
{
	return mailbox(p, &p->cmd->mailbox);
}

static bool cmd_select(struct imap_p *p)
{
	return mailbox(p, &p->cmd->mailbox) && imap_p_select_params(p);
}

static bool cmd_rename(struct imap_p *p)
{
	return mailbox(p, &p->cmd->mailbox) && imap_p_arg(p, "Missing new mailbox name") &&
	       imap_p_astring(p, &p->cmd->mailbox2, "Missing new mailbox name");
}

static void append_msg_clear(struct imap_append_msg *m)
{
	free(m->keywords);
	for (size_t j = 0; j < m->nparts; j++)
		imap_p_str_free(&m->parts[j].url);
	free(m->parts);
	memset(m, 0, sizeof *m);
}

/* CATENATE (RFC 4469): "(" cat-part *(SP cat-part) ")", cat-part = TEXT literal / URL astring. */
static bool catenate(struct imap_p *p, struct imap_append_msg *m)
{
	if (!imap_p_arg(p, "Missing CATENATE parts") || !imap_p_char(p, '(', "Expected ( after CATENATE"))
		return false;
	for (;;) {
		if (m->nparts == IMAP_CATENATE_MAX_PARTS) {
			p->res = IMAP_PARSE_NO;
			return imap_p_fail(p, "[LIMIT] Too many parts in one CATENATE");
		}
		if (!m->parts)
			m->parts = xcalloc(IMAP_CATENATE_MAX_PARTS, sizeof *m->parts);
		struct imap_catpart *cp = &m->parts[m->nparts];
		if (imap_p_keyword(p, "TEXT")) {
			int ch;
			if (!imap_p_arg(p, "Missing TEXT literal"))
				return false;
			ch = imap_p_peek(p);
			if (ch != '{' && !(ch == '~' && imap_p_peek_at(p, 1) == '{'))
				return imap_p_fail(p, "TEXT needs a literal");
			/* BINARY (RFC 3516) lets a TEXT part be a literal8 as well. */
			if (!literal(p, NULL, true, true, &cp->text))
				return false;
		} else if (imap_p_keyword(p, "URL")) {
			if (!imap_p_arg(p, "Missing URL") || !imap_p_astring(p, &cp->url, "Missing URL"))
				return false;
		} else {
			return imap_p_fail(p, "Expected TEXT or URL");
		}
		m->nparts++;
		if (imap_p_peek(p) == ')') {
			p->pos++;
			return true;
		}
		if (!imap_p_arg(p, "Expected ) after CATENATE parts"))
			return false;
	}
}

/* append-message: [flag-list SP] [date-time SP] (literal / literal8 / UTF8 (literal8) / CATENATE (...)) */
static bool append_message(struct imap_p *p, struct imap_append_msg *m)
{
	if (imap_p_peek(p) == '(') {
		if (!imap_p_flags(p, false, &m->flags, &m->keywords) || !imap_p_arg(p, "Missing message literal"))
			return false;
	}
	if (imap_p_peek(p) == '"') {
		if (!date_time(p, &m->date) || !imap_p_arg(p, "Missing message literal"))
			return false;
		m->has_date = true;
	}
	if (!m->keywords)
		m->keywords = xstrdup("");
	if (imap_p_keyword(p, "UTF8")) {
		/* RFC 6855: UTF8 (~{n}) */
		if (!imap_p_arg(p, "Missing message literal") || !imap_p_char(p, '(', "Expected ( after UTF8"))
			return false;
		if (!(imap_p_peek(p) == '~' && imap_p_peek_at(p, 1) == '{'))
			return imap_p_fail(p, "UTF8 needs a binary literal (~{n})");
		if (!literal(p, NULL, true, true, &m->msg) || !imap_p_char(p, ')', "Expected ) after UTF8 literal"))
			return false;
		m->utf8 = true;
		return true;
	}
	if (imap_p_keyword(p, "CATENATE"))
		return catenate(p, m);
	int ch = imap_p_peek(p);
	if (ch != '{' && !(ch == '~' && imap_p_peek_at(p, 1) == '{'))
		return imap_p_fail(p, "Expected a message literal");
	return literal(p, NULL, true, true, &m->msg);
}

/* APPEND mailbox 1*(SP append-message): MULTIAPPEND (RFC 3502). */
static bool cmd_append(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	struct imap_append *ap = &c->append;
	if (!mailbox(p, &c->mailbox) || !imap_p_arg(p, "Missing message literal"))
		return false;
	for (;;) {
		if (ap->n == IMAP_APPEND_MAX_MESSAGES && p->probe) {
			/* Past the limit a literal is still a message, refused as such once it has arrived. */
			append_msg_clear(&ap->msgs[--ap->n]);
		} else if (ap->n == IMAP_APPEND_MAX_MESSAGES) {
			p->res = IMAP_PARSE_NO;
			return imap_p_fail(p, "[LIMIT] Too many messages in one APPEND");
		}
		if (!ap->msgs)
			ap->msgs = xcalloc(IMAP_APPEND_MAX_MESSAGES, sizeof *ap->msgs);
		if (!append_message(p, &ap->msgs[ap->n++]))
			return false;
		if (!imap_p_opt_arg(p))
			return true;
	}
}

static bool cmd_copy(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	return imap_p_arg(p, "Missing sequence set") && imap_p_seqset(p, &c->set, true) &&
	       mailbox(p, &c->mailbox);
}

static bool cmd_uid_expunge(struct imap_p *p)
{
	return imap_p_arg(p, "Missing sequence set") && imap_p_seqset(p, &p->cmd->set, true);
}

static bool cmd_id(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing ID parameters"))
		return false;
	if (imap_p_keyword(p, "NIL"))
		return true;
	if (!imap_p_char(p, '(', "Expected ( or NIL"))
		return false;
	if (imap_p_peek(p) != ')') {
		c->atoms = xcalloc(2 * IMAP_ID_MAX_PAIRS, sizeof *c->atoms);
		for (;;) {
			if (c->natoms == 2 * IMAP_ID_MAX_PAIRS)
				return imap_p_fail(p, "Too many ID parameters");
			struct imap_str *k = &c->atoms[c->natoms++], *v = &c->atoms[c->natoms++];
			if (!imap_p_string(p, k, "Missing ID field") || !imap_p_arg(p, "Missing ID value") ||
			    !imap_p_nstring(p, v, "Missing ID value"))
				return false;
			if (k->n > IMAP_ID_KEY_MAX)
				return imap_p_fail(p, "ID field name too long");
			if (v->n > IMAP_ID_VALUE_MAX)
				return imap_p_fail(p, "ID value too long");
			if (imap_p_peek(p) != ' ')
				break;
			p->pos++;
		}
	}
	return imap_p_char(p, ')', "Invalid ID parameter list");
}

/* One more astring (or atom) into c->atoms, at most max of them. */
static bool push_astring(struct imap_p *p, size_t max, const char *missing)
{
	struct imap_cmd *c = p->cmd;
	if (c->natoms == max) {
		p->res = IMAP_PARSE_NO;
		return imap_p_fail(p, "[LIMIT] Too many URLs in one command");
	}
	if (!c->atoms)
		c->atoms = xcalloc(max, sizeof *c->atoms);
	return imap_p_astring(p, &c->atoms[c->natoms++], missing);
}

/* GENURLAUTH 1*(SP url-rump SP mechanism) (RFC 4467 §9) */
static bool cmd_genurlauth(struct imap_p *p)
{
	do {
		if (!imap_p_arg(p, "Missing URL") || !push_astring(p, 2 * IMAP_URLAUTH_MAX_URLS, "Missing URL") ||
		    !imap_p_arg(p, "Missing mechanism") ||
		    !push_astring(p, 2 * IMAP_URLAUTH_MAX_URLS, "Missing mechanism"))
			return false;
	} while (imap_p_peek(p) == ' ');
	return true;
}

/* url-fetch-param (RFC 5524 §5): each at most once, and BINARY or BODY, not both. */
static bool urlfetch_param(struct imap_p *p, unsigned *params)
{
	const char *a;
	size_t n;
	if (!imap_p_atom(p, &a, &n, "Missing URLFETCH parameter"))
		return false;
	unsigned bit = ascii_ieq(a, n, "BODYPARTSTRUCTURE") ? IMAP_URLFETCH_BODYPARTSTRUCTURE
		     : ascii_ieq(a, n, "BINARY") ? IMAP_URLFETCH_BINARY
		     : ascii_ieq(a, n, "BODY") ? IMAP_URLFETCH_BODY : 0;
	if (!bit)
		return imap_p_fail(p, "Unknown URLFETCH parameter");
	if (*params & bit)
		return imap_p_fail(p, "URLFETCH parameter given twice");
	*params |= bit;
	if ((*params & IMAP_URLFETCH_BINARY) && (*params & IMAP_URLFETCH_BODY))
		return imap_p_fail(p, "URLFETCH BINARY and BODY exclude each other");
	return true;
}

/*
 * URLFETCH 1*(SP url-fetch-arg), url-fetch-arg = url /
 * "(" url *(SP url-fetch-param) ")" (RFC 4467 §9, RFC 5524 §5).
 */
static bool cmd_urlfetch(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	do {
		if (!imap_p_arg(p, "Missing URL"))
			return false;
		bool ext = imap_p_peek(p) == '(';
		if (ext)
			p->pos++;
		if (!push_astring(p, IMAP_URLAUTH_MAX_URLS, "Missing URL"))
			return false;
		if (!c->url_params)
			c->url_params = xcalloc(IMAP_URLAUTH_MAX_URLS, sizeof *c->url_params);
		unsigned *params = &c->url_params[c->natoms - 1];
		if (!ext)
			continue;
		*params = IMAP_URLFETCH_EXT;
		while (imap_p_peek(p) == ' ') {
			p->pos++;
			if (!urlfetch_param(p, params))
				return false;
		}
		if (!imap_p_char(p, ')', "Missing ) after URLFETCH parameters"))
			return false;
	} while (imap_p_peek(p) == ' ');
	return true;
}

/* RESETKEY [SP mailbox *(SP mechanism)] */
static bool cmd_resetkey(struct imap_p *p)
{
	if (imap_p_peek(p) != ' ')
		return true;
	if (!mailbox(p, &p->cmd->mailbox))
		return false;
	while (imap_p_peek(p) == ' ')
		if (!imap_p_arg(p, "Missing mechanism") || !push_astring(p, IMAP_URLAUTH_MAX_URLS, "Missing mechanism"))
			return false;
	return true;
}

static bool cmd_compress(struct imap_p *p)
{
	const char *a;
	size_t n;
	if (!imap_p_arg(p, "Missing compression mechanism") ||
	    !imap_p_atom(p, &a, &n, "Missing compression mechanism"))
		return false;
	str_set(&p->cmd->arg, a, n);
	return true;
}

static bool cmd_getquota(struct imap_p *p)
{
	return imap_p_arg(p, "Missing quota root") && imap_p_astring(p, &p->cmd->arg, "Missing quota root");
}

static bool cmd_setquota(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!cmd_getquota(p) || !imap_p_arg(p, "Missing resource list") ||
	    !imap_p_char(p, '(', "Expected a resource list"))
		return false;
	c->atoms = xcalloc(IMAP_QUOTA_MAX_RESOURCES, sizeof *c->atoms);
	c->limits = xcalloc(IMAP_QUOTA_MAX_RESOURCES, sizeof *c->limits);
	if (imap_p_peek(p) != ')') {
		for (;;) {
			const char *a;
			size_t n;
			if (c->natoms == IMAP_QUOTA_MAX_RESOURCES)
				return imap_p_fail(p, "Too many quota resources");
			if (!imap_p_atom(p, &a, &n, "Missing resource name") || !imap_p_arg(p, "Missing resource limit") ||
			    !imap_p_number64(p, &c->limits[c->natoms], false, "Invalid resource limit"))
				return false;
			str_set(&c->atoms[c->natoms++], a, n);
			if (imap_p_peek(p) != ' ')
				break;
			p->pos++;
		}
	}
	return imap_p_char(p, ')', "Invalid resource list");
}

/* ---- the command table ----------------------------------------------------- */

struct command {
	const char *name;
	enum imap_cmd_type type;
	bool (*args)(struct imap_p *p);     /* NULL: no arguments */
	bool uid;                           /* may follow "UID" */
};

static const struct command commands[] = {
	{ "CAPABILITY", IMAP_CMD_CAPABILITY, NULL, false },
	{ "NOOP", IMAP_CMD_NOOP, NULL, false },
	{ "LOGOUT", IMAP_CMD_LOGOUT, NULL, false },
	{ "STARTTLS", IMAP_CMD_STARTTLS, NULL, false },
	{ "AUTHENTICATE", IMAP_CMD_AUTHENTICATE, cmd_authenticate, false },
	{ "LOGIN", IMAP_CMD_LOGIN, cmd_login, false },
	{ "ENABLE", IMAP_CMD_ENABLE, cmd_enable, false },
	{ "SELECT", IMAP_CMD_SELECT, cmd_select, false },
	{ "EXAMINE", IMAP_CMD_EXAMINE, cmd_select, false },
	{ "CREATE", IMAP_CMD_CREATE, imap_p_cmd_create, false },
	{ "DELETE", IMAP_CMD_DELETE, cmd_one_mailbox, false },
	{ "RENAME", IMAP_CMD_RENAME, cmd_rename, false },
	{ "SUBSCRIBE", IMAP_CMD_SUBSCRIBE, cmd_one_mailbox, false },
	{ "UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE, cmd_one_mailbox, false },
	{ "LIST", IMAP_CMD_LIST, imap_p_cmd_list, false },
	{ "LSUB", IMAP_CMD_LSUB, imap_p_cmd_lsub, false },
	{ "NAMESPACE", IMAP_CMD_NAMESPACE, NULL, false },
	{ "STATUS", IMAP_CMD_STATUS, imap_p_cmd_status, false },
	{ "APPEND", IMAP_CMD_APPEND, cmd_append, false },
	{ "IDLE", IMAP_CMD_IDLE, NULL, false },
	{ "CHECK", IMAP_CMD_CHECK, NULL, false },
	{ "CLOSE", IMAP_CMD_CLOSE, NULL, false },
	{ "UNSELECT", IMAP_CMD_UNSELECT, NULL, false },
	{ "EXPUNGE", IMAP_CMD_EXPUNGE, NULL, true },
	{ "SEARCH", IMAP_CMD_SEARCH, imap_p_cmd_search, true },
	{ "FETCH", IMAP_CMD_FETCH, imap_p_cmd_fetch, true },
	{ "STORE", IMAP_CMD_STORE, imap_p_cmd_store, true },
	{ "COPY", IMAP_CMD_COPY, cmd_copy, true },
	{ "MOVE", IMAP_CMD_MOVE, cmd_copy, true },
	{ "ID", IMAP_CMD_ID, cmd_id, false },
	{ "COMPRESS", IMAP_CMD_COMPRESS, cmd_compress, false },
	{ "GETQUOTA", IMAP_CMD_GETQUOTA, cmd_getquota, false },
	{ "GETQUOTAROOT", IMAP_CMD_GETQUOTAROOT, cmd_one_mailbox, false },
	{ "SETQUOTA", IMAP_CMD_SETQUOTA, cmd_setquota, false },
	{ "SORT", IMAP_CMD_SORT, imap_p_cmd_sort, true },
	{ "THREAD", IMAP_CMD_THREAD, imap_p_cmd_thread, true },
	{ "CANCELUPDATE", IMAP_CMD_CANCELUPDATE, imap_p_cmd_cancelupdate, false },
	{ "GENURLAUTH", IMAP_CMD_GENURLAUTH, cmd_genurlauth, false },
	{ "RESETKEY", IMAP_CMD_RESETKEY, cmd_resetkey, false },
	{ "URLFETCH", IMAP_CMD_URLFETCH, cmd_urlfetch, false },
	{ "NOTIFY", IMAP_CMD_NOTIFY, imap_p_cmd_notify, false },
};

static const struct command *find_command(const char *a, size_t n)
{
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (ascii_ieq(a, n, commands[i].name))
			return &commands[i];
	return NULL;
}

/* The tag at the start of text: its length, or 0 when it is not a valid tag. */
static size_t tag_len(const char *s, size_t len)
{
	size_t n = 0;
	while (n < len && is_tag_char((unsigned char)s[n]))
		n++;
	return n <= IMAP_TAG_MAX ? n : 0;
}

void imap_parse_tag(const char *line, size_t len, char out[IMAP_TAG_MAX + 1])
{
	size_t n = tag_len(line, len);
	if (n == 0 || (n < len && line[n] != ' ' && line[n] != '\r' && line[n] != '\n')) {
		strcpy(out, "*");
		return;
	}
	memcpy(out, line, n);
	out[n] = '\0';
}

static void cmd_clear(struct imap_cmd *c)
{
	imap_p_str_free(&c->mailbox);
	imap_p_str_free(&c->mailbox2);
	imap_p_str_free(&c->mech);
	imap_p_str_free(&c->ir);
	imap_p_str_free(&c->user);
	imap_p_str_free(&c->pass);
	for (size_t i = 0; i < c->natoms; i++)
		imap_p_str_free(&c->atoms[i]);
	XFREE(&c->atoms);
	c->natoms = 0;
	XFREE(&c->limits);
	XFREE(&c->url_params);
	imap_seqset_free(&c->qr_known_uids);
	imap_seqset_free(&c->qr_seq_match);
	imap_seqset_free(&c->qr_uid_match);
	imap_p_str_free(&c->reference);
	for (size_t i = 0; i < c->npatterns; i++)
		imap_p_str_free(&c->patterns[i]);
	XFREE(&c->patterns);
	c->npatterns = 0;
	for (size_t i = 0; i < c->append.n; i++)
		append_msg_clear(&c->append.msgs[i]);
	XFREE(&c->append.msgs);
	c->append.n = 0;
	imap_seqset_free(&c->set);
	for (size_t i = 0; i < c->natts; i++) {
		struct imap_fetch_att *a = &c->atts[i];
		for (size_t j = 0; j < a->nfields; j++)
			imap_p_str_free(&a->fields[j]);
		free(a->fields);
		free(a->name);
	}
	XFREE(&c->atts);
	c->natts = 0;
	XFREE(&c->keywords);
	imap_skey_free(c->search);
	c->search = NULL;
	imap_p_str_free(&c->arg);
	imap_p_notify_free(c);
}

void imap_cmd_free(struct imap_cmd *c)
{
	if (!c)
		return;
	cmd_clear(c);
	memset(c, 0, sizeof *c);
}

static bool parse_command(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	size_t n = tag_len(p->s, p->len);
	if (n == 0)
		return imap_p_fail(p, imap_p_at_eol(p) ? "Empty command line" : "Invalid tag");
	memcpy(c->tag, p->s, n);
	c->tag[n] = '\0';
	p->pos = n;
	const char *a;
	size_t an;
	if (!imap_p_arg(p, "Missing command") || !imap_p_atom(p, &a, &an, "Missing command"))
		return false;
	const struct command *cmd = find_command(a, an);
	if (!cmd && ascii_ieq(a, an, "UID")) {
		if (!imap_p_arg(p, "Missing command after UID") || !imap_p_atom(p, &a, &an, "Missing command after UID"))
			return false;
		cmd = find_command(a, an);
		if (!cmd || !cmd->uid)
			return imap_p_fail(p, "Unknown UID command");
		c->uid = true;
		if (cmd->type == IMAP_CMD_EXPUNGE) {
			c->type = IMAP_CMD_EXPUNGE;
			return cmd_uid_expunge(p) && imap_p_end(p);
		}
	}
	if (!cmd)
		return imap_p_fail(p, "Unknown command");
	c->type = cmd->type;
	if (cmd->args && !cmd->args(p))
		return false;
	return imap_p_end(p);
}

enum imap_parse_result imap_parse(const char *text, size_t len, const struct imap_literal *lits, size_t nlits,
				  bool utf8, struct imap_cmd *out, const char **err)
{
	struct imap_p p = { .s = text, .len = len, .lits = lits, .nlits = nlits, .utf8 = utf8, .cmd = out,
			    .res = IMAP_PARSE_BAD };
	memset(out, 0, sizeof *out);
	*err = NULL;
	bool ok = parse_command(&p);
	if (ok && p.lit != p.nlits)
		ok = imap_p_fail(&p, "More literals than the command uses");
	if (ok)
		return IMAP_PARSE_OK;
	cmd_clear(out);
	*err = p.err ? p.err : "Syntax error";
	return p.res == IMAP_PARSE_BADCHARSET || p.res == IMAP_PARSE_NO ? p.res : IMAP_PARSE_BAD;
}

/* ---- while a command arrives -------------------------------------------------- */

bool imap_parse_literal_header(const char *line, size_t len, uint64_t *size, bool *nonsync, bool *binary,
			       bool *bad)
{
	*bad = false;
	*size = 0;
	*nonsync = *binary = false;
	if (len < 2 || line[len - 1] != '}')
		return false;
	/* Back over what a count can be made of; a '{' there makes it a literal header. */
	size_t i = len - 1;
	while (i > 0 && ((line[i - 1] >= '0' && line[i - 1] <= '9') || line[i - 1] == '+' || line[i - 1] == '-'))
		i--;
	if (i == 0 || line[i - 1] != '{')
		return false;
	size_t open = i - 1;
	size_t end = len - 1;
	uint64_t n = 0;
	size_t digits = 0;
	bool overflow = false;
	while (i < end && line[i] >= '0' && line[i] <= '9') {
		unsigned d = (unsigned)(line[i] - '0');
		/* Past 20 digits or 64 bits the count saturates: still bad, but plainly over any limit. */
		if (++digits > 20 || n > (UINT64_MAX - d) / 10)
			overflow = true;
		n = overflow ? UINT64_MAX : n * 10 + d;
		i++;
	}
	/*
	 * Said even of a bad header: after "+}" the client sends its octets
	 * without waiting, so the session must not take them for commands
	 * (a CRLF injection when the count is unreadable).
	 */
	*nonsync = line[end - 1] == '+';
	if (i < end && line[i] == '+')
		i++;
	if (!digits || i != end || overflow) {
		*bad = true;
		*size = overflow && i == end ? UINT64_MAX : 0;
		return false;
	}
	*size = n;
	*binary = open > 0 && line[open - 1] == '~';
	return true;
}

/*
 * Run APPEND's grammar over the command so far, literals skipped (their
 * octets are not there yet), up to the literal header just announced at
 * the very end: literal() stops there and says whether that position is
 * an APPEND message (or a CATENATE TEXT part) or any other literal.
 */
bool imap_parse_literal_is_message(const char *text, size_t len)
{
	struct imap_cmd c;
	memset(&c, 0, sizeof c);
	struct imap_p p = { .s = text, .len = len, .probe = true, .utf8 = true, .cmd = &c };
	size_t n = tag_len(text, len);
	const char *a;
	size_t an;
	if (n == 0)
		goto out;
	p.pos = n;
	if (!imap_p_arg(&p, "") || !imap_p_atom(&p, &a, &an, "") || !ascii_ieq(a, an, "APPEND"))
		goto out;
	(void)cmd_append(&p);
out:
	cmd_clear(&c);
	return p.probe_end && p.probe_message;
}
