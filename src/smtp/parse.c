/*
 * parse.c — the SMTP command-line grammar (see parse.h).
 *
 * The session (session.c) hands us one command line without its CRLF; we
 * split off the verb, and parse the arguments of MAIL, RCPT, BDAT and
 * HELO/EHLO into fixed-size result structs.  Everything here is a pure
 * function over (pointer, length): no session state, no logging (the
 * session logs the reply it sends), and no heap memory except the short-lived
 * string libidn2 returns for an internationalized domain.
 *
 * Grammar: RFC 5321 §4.1.2 (Path, Mailbox, Local-part, Domain,
 * address-literal), widened by RFC 6531 (UTF-8 in atext, qtext and U-label
 * sub-domains), plus the ESMTP parameters SIZE (RFC 1870), BODY (RFC 6152 /
 * RFC 3030), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461), AUTH
 * (RFC 4954) and REQUIRETLS (RFC 8689).
 *
 * We are strict on the path because the address is later used for lookups
 * and written into headers and logs; lenient only where real clients need it
 * (one space after "FROM:", any printable HELO argument).
 */
#include "smtp/parse.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <string.h>

#include "lib/util.h"

/* ---- replies --------------------------------------------------------- */

static const struct smtp_error err_mail_syntax = { 501, "5.5.4", "Syntax: MAIL FROM:<address>" };
static const struct smtp_error err_rcpt_syntax = { 501, "5.5.4", "Syntax: RCPT TO:<address>" };
static const struct smtp_error err_param_syntax = { 501, "5.5.4", "Bad parameter syntax" };
static const struct smtp_error err_param_unknown = { 555, "5.5.4", "Unsupported parameter" };
static const struct smtp_error err_param_dup = { 501, "5.5.4", "Duplicate parameter" };
static const struct smtp_error err_size = { 501, "5.5.4", "Bad SIZE value: expected up to 20 digits" };
static const struct smtp_error err_body = { 501, "5.5.4", "Bad BODY value: expected 7BIT, 8BITMIME or BINARYMIME" };
static const struct smtp_error err_smtputf8 = { 501, "5.5.4", "SMTPUTF8 takes no value" };
static const struct smtp_error err_requiretls = { 501, "5.5.4", "REQUIRETLS takes no value" };
static const struct smtp_error err_ret = { 501, "5.5.4", "Bad RET value: expected FULL or HDRS" };
static const struct smtp_error err_envid = { 501, "5.5.4", "Bad ENVID value: expected xtext of at most 100 characters" };
static const struct smtp_error err_auth = { 501, "5.5.4", "Bad AUTH value: expected xtext or <>" };
static const struct smtp_error err_notify = { 501, "5.5.4", "Bad NOTIFY value: expected NEVER or SUCCESS,FAILURE,DELAY" };
static const struct smtp_error err_orcpt = { 501, "5.5.4", "Bad ORCPT value: expected rfc822;xtext or utf-8;xtext" };
static const struct smtp_error err_need_utf8 = { 553, "5.6.7", "SMTPUTF8 required for non-ASCII addresses" };
static const struct smtp_error err_bdat = { 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]" };
static const struct smtp_error err_helo_empty = { 501, "5.5.4", "Syntax: HELO/EHLO hostname" };
static const struct smtp_error err_helo_long = { 501, "5.5.4", "HELO/EHLO hostname too long" };
static const struct smtp_error err_helo_char = { 501, "5.5.4", "Invalid character in HELO/EHLO hostname" };

/*
 * Address errors differ between MAIL (5.1.7, bad sender) and RCPT (5.1.3,
 * bad recipient); the path parser takes the set that fits its caller.
 */
struct path_errors {
	bool rcpt;
	struct smtp_error syntax;        /* no <...> where one belongs */
	struct smtp_error bad;           /* grammar violation inside the path */
	struct smtp_error too_long;      /* path > 256 */
	struct smtp_error local_long;    /* local part > 64 */
	struct smtp_error domain_long;   /* domain > 255 */
	struct smtp_error bad_utf8;
	struct smtp_error bad_domain;    /* LDH / IDN failure */
	struct smtp_error bad_literal;
	struct smtp_error null_path;     /* <> where it is not allowed */
};

static const struct path_errors mail_errors = {
	false,
	{ 501, "5.5.4", "Syntax: MAIL FROM:<address>" },
	{ 501, "5.1.7", "Bad sender address syntax" },
	{ 501, "5.1.7", "Sender address too long" },
	{ 501, "5.1.7", "Sender address local part too long" },
	{ 501, "5.1.7", "Sender address domain too long" },
	{ 501, "5.1.7", "Sender address has invalid UTF-8 or control characters" },
	{ 501, "5.1.7", "Bad sender domain syntax" },
	{ 501, "5.1.7", "Bad address literal in sender address" },
	{ 501, "5.1.7", "Bad sender address syntax" },
};

static const struct path_errors rcpt_errors = {
	true,
	{ 501, "5.5.4", "Syntax: RCPT TO:<address>" },
	{ 501, "5.1.3", "Bad recipient address syntax" },
	{ 501, "5.1.3", "Recipient address too long" },
	{ 501, "5.1.3", "Recipient address local part too long" },
	{ 501, "5.1.3", "Recipient address domain too long" },
	{ 501, "5.1.3", "Recipient address has invalid UTF-8 or control characters" },
	{ 501, "5.1.3", "Bad recipient domain syntax" },
	{ 501, "5.1.3", "Bad address literal in recipient address" },
	{ 501, "5.1.3", "Null recipient address <> not allowed" },
};

/* ---- verbs ------------------------------------------------------------ */

static const struct {
	const char *name;
	enum smtp_verb verb;
} smtp_verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "BDAT", SMTP_BDAT },
	{ "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT },
	{ "VRFY", SMTP_VRFY }, { "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP },
	{ "STARTTLS", SMTP_STARTTLS }, { "AUTH", SMTP_AUTH },
};

enum smtp_verb smtp_parse_verb(const char *line, size_t len, const char **args, size_t *argslen)
{
	size_t vlen = 0;
	if (line == NULL) {
		*args = "";
		*argslen = 0;
		return SMTP_UNKNOWN;
	}
	while (vlen < len && line[vlen] != ' ')
		vlen++;

	size_t start = vlen < len ? vlen + 1 : len;   /* exactly one space */
	size_t end = len;
	while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	*args = line + start;
	*argslen = end - start;

	for (size_t i = 0; i < ARRAY_LEN(smtp_verbs); i++)
		if (ascii_ieq(line, vlen, smtp_verbs[i].name))
			return smtp_verbs[i].verb;
	return SMTP_UNKNOWN;
}

/* ---- small helpers ------------------------------------------------------ */

/*
 * A bounded writer into one of the fixed result arrays.  The limits checked
 * before writing make overflow impossible, but the writer refuses anyway
 * (and says so) rather than trusting that arithmetic.
 */
struct sink {
	char *p;
	size_t size;
	size_t len;
	bool overflow;
};

static void sink_init(struct sink *s, char *p, size_t size)
{
	s->p = p;
	s->size = size;
	s->len = 0;
	s->overflow = false;
	p[0] = '\0';
}

static void sink_put(struct sink *s, const char *p, size_t n)
{
	if (s->overflow || n >= s->size - s->len) {
		s->overflow = true;
		return;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void sink_putc(struct sink *s, char c)
{
	sink_put(s, &c, 1);
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext, widened by RFC 6531 to any UTF-8 non-ASCII byte (validity is checked separately). */
static bool is_atext(unsigned char c)
{
	return is_alnum(c) || c >= 0x80 || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Dot-string = Atom *("." Atom): decides whether a local part needs quoting. */
static bool is_dot_string(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i - 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/*
 * Well-formed UTF-8 without C1 controls (U+0080..U+009F, encoded C2 80..C2 9F):
 * those are control characters too, and must not reach headers or logs.
 */
static bool utf8_clean(const char *s, size_t n)
{
	if (!utf8_valid(s, n))
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)s[i] == 0xc2 && (unsigned char)s[i + 1] < 0xa0)
			return false;
	return true;
}

/* ---- xtext (RFC 3461 §4) ---------------------------------------------- */

/*
 * Besides the grammar, a decoded control character (+00 .. +1F, +7F) is
 * refused: a NUL could not be represented in the C string, and CR/LF in an
 * ENVID or ORCPT would end up in DSN headers and logs.
 */
bool smtp_xtext_decode(const char *s, size_t len, char *out, size_t outsize)
{
	if (out == NULL || outsize == 0)
		return false;
	out[0] = '\0';
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (len - i < 3)
				goto fail;
			int hi = hex_digit((unsigned char)s[i + 1]);
			int lo = hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				goto fail;
			c = (unsigned char)(hi << 4 | lo);
			if (c < 0x20 || c == 0x7f)
				goto fail;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			goto fail;
		}
		if (o + 1 >= outsize)
			goto fail;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return true;
fail:
	out[0] = '\0';
	return false;
}

/* ---- domains ------------------------------------------------------------ */

/* Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str], labels <= 63. */
static bool domain_ldh_valid(const char *d, size_t n)
{
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return false;
		} else if (!is_alnum(c)) {
			return false;
		}
		if (++label > 63)
			return false;
	}
	return label > 0 && d[n - 1] != '-';
}

/*
 * address-literal: "[a.b.c.d]" or "[IPv6:...]".  Stored in the canonical
 * form inet_ntop gives, so that lookups and logs see one spelling.  The
 * General-address-literal (other tags) is refused: nothing could route it.
 */
static bool parse_address_literal(const char *d, size_t n, char *out, size_t outsize)
{
	char tmp[64], canon[INET6_ADDRSTRLEN];
	unsigned char bin[16];

	if (n < 3 || d[0] != '[' || d[n - 1] != ']')
		return false;
	d++;
	n -= 2;
	bool v6 = ascii_iprefix(d, n, "IPv6:");
	if (v6) {
		d += 5;
		n -= 5;
	}
	if (n == 0 || n >= sizeof tmp)
		return false;
	/* inet_pton stops at a NUL: make sure there is none, nor anything odd. */
	for (size_t i = 0; i < n; i++)
		if (!(hex_digit((unsigned char)d[i]) >= 0 || d[i] == '.' || d[i] == ':'))
			return false;
	memcpy(tmp, d, n);
	tmp[n] = '\0';
	int af = v6 ? AF_INET6 : AF_INET;
	if (inet_pton(af, tmp, bin) != 1 || inet_ntop(af, bin, canon, sizeof canon) == NULL)
		return false;

	struct sink s;
	sink_init(&s, out, outsize);
	sink_put(&s, v6 ? "[IPv6:" : "[", v6 ? 6 : 1);
	sink_put(&s, canon, strlen(canon));
	sink_putc(&s, ']');
	return !s.overflow;
}

/*
 * Parse a Domain or address-literal of n bytes into out (lower-case, IDN
 * U-labels converted to A-labels).  *literal tells which it was.
 */
static bool parse_domain(const char *d, size_t n, const struct path_errors *pe,
			 char out[SMTP_MAX_DOMAIN + 1], bool *literal, struct smtp_error *err)
{
	*literal = false;
	out[0] = '\0';
	if (n == 0) {
		*err = pe->bad;
		return false;
	}
	if (n > SMTP_MAX_DOMAIN) {
		*err = pe->domain_long;
		return false;
	}
	if (d[0] == '[') {
		if (!parse_address_literal(d, n, out, SMTP_MAX_DOMAIN + 1)) {
			*err = pe->bad_literal;
			return false;
		}
		*literal = true;
		return true;
	}
	if (is_ascii(d, n)) {
		/* ASCII, A-labels included, are kept as they are (lower-cased). */
		if (!domain_ldh_valid(d, n)) {
			*err = pe->bad_domain;
			return false;
		}
		memcpy(out, d, n);
		out[n] = '\0';
		ascii_lower(out, n);
		return true;
	}

	/* U-labels: the caller checked UTF-8 validity; control bytes were refused earlier. */
	char tmp[SMTP_MAX_DOMAIN + 1];
	char *alabel = NULL;
	memcpy(tmp, d, n);
	tmp[n] = '\0';
	int rc = idn2_to_ascii_8z(tmp, &alabel, IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		*err = rc == IDN2_TOO_BIG_DOMAIN ? pe->domain_long : pe->bad_domain;
		idn2_free(alabel);
		return false;
	}
	size_t alen = strlen(alabel);
	bool ok = false;
	if (alen > SMTP_MAX_DOMAIN)
		*err = pe->domain_long;
	else if (!domain_ldh_valid(alabel, alen))
		*err = pe->bad_domain;
	else
		ok = true;
	if (ok) {
		memcpy(out, alabel, alen);
		out[alen] = '\0';
		ascii_lower(out, alen);
	}
	idn2_free(alabel);
	return ok;
}

/* ---- paths ---------------------------------------------------------------- */

/*
 * Find the '>' that closes a path starting with '<' at p[0], skipping
 * quoted strings (a quoted local part may hold '>').  Returns its index.
 */
static bool path_find_end(const char *p, size_t len, size_t *end)
{
	bool quoted = false;
	for (size_t i = 1; i < len; i++) {
		if (quoted) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				quoted = false;
		} else if (p[i] == '"') {
			quoted = true;
		} else if (p[i] == '>') {
			*end = i;
			return true;
		}
	}
	return false;
}

/* A-d-l = At-domain *( "," At-domain ) ":" — validated, then forgotten. */
static bool parse_source_route(const char *p, size_t n, size_t *used,
			       const struct path_errors *pe, struct smtp_error *err)
{
	char scratch[SMTP_MAX_DOMAIN + 1];
	size_t i = 0;
	for (;;) {
		if (i >= n || p[i] != '@')
			goto bad;
		size_t start = ++i;
		while (i < n && p[i] != ',' && p[i] != ':')
			i++;
		if (i >= n)
			goto bad;
		bool literal;
		if (!parse_domain(p + start, i - start, pe, scratch, &literal, err))
			return false;
		if (literal)
			goto bad;
		if (p[i++] == ':')
			break;
	}
	*used = i;
	return true;
bad:
	*err = pe->bad;
	return false;
}

/*
 * The local part at p: a Quoted-string or a Dot-string, ending at '@' or at
 * the end of the path.  Writes the unquoted form to out->localpart and sets
 * *used to the number of raw bytes consumed.
 */
static bool parse_local_part(const char *p, size_t n, size_t *used, struct smtp_path *out,
			     const struct path_errors *pe, struct smtp_error *err)
{
	struct sink s;
	size_t i = 0;

	sink_init(&s, out->localpart, sizeof out->localpart);
	if (n > 0 && p[0] == '"') {
		out->quoted = true;
		for (i = 1; ; i++) {
			if (i >= n)
				goto bad;                   /* unterminated */
			unsigned char c = (unsigned char)p[i];
			if (c == '"')
				break;
			if (c == '\\') {
				/* quoted-pairSMTP = "\" %d32-126 */
				if (++i >= n || (unsigned char)p[i] < 32 || (unsigned char)p[i] > 126)
					goto bad;
				c = (unsigned char)p[i];
			} else if (c < 32 || c == 127) {
				goto bad;
			}
			sink_putc(&s, (char)c);    /* overflow only if too long: reported below */
		}
		i++;                                        /* closing quote */
	} else {
		while (i < n && p[i] != '@') {
			unsigned char c = (unsigned char)p[i];
			if (c != '.' && !is_atext(c))
				goto bad;
			i++;
		}
		if (!is_dot_string(p, i))
			goto bad;
		sink_put(&s, p, i);
	}
	if (i > SMTP_MAX_LOCALPART) {
		*err = pe->local_long;
		return false;
	}
	if (s.overflow)
		goto bad;
	*used = i;
	return true;
bad:
	*err = pe->bad;
	return false;
}

/* "localpart@domain", the local part quoted (with \" and \\) iff it is not a Dot-string. */
static void path_build_address(struct smtp_path *out)
{
	struct sink s;
	size_t ll = strlen(out->localpart);

	sink_init(&s, out->address, sizeof out->address);
	if (is_dot_string(out->localpart, ll)) {
		sink_put(&s, out->localpart, ll);
	} else {
		sink_putc(&s, '"');
		for (size_t i = 0; i < ll; i++) {
			if (out->localpart[i] == '"' || out->localpart[i] == '\\')
				sink_putc(&s, '\\');
			sink_putc(&s, out->localpart[i]);
		}
		sink_putc(&s, '"');
	}
	if (out->domain[0] != '\0') {
		sink_putc(&s, '@');
		sink_put(&s, out->domain, strlen(out->domain));
	}
	/* Cannot happen: 2*64+2 + 1 + 255 < sizeof address.  Stay safe if it ever could. */
	if (s.overflow)
		out->address[0] = '\0';
}

/*
 * Parse the inside of "<...>" (n bytes, without the brackets).  smtputf8
 * says whether non-ASCII is allowed on this transaction.
 */
static bool parse_path(const char *p, size_t n, bool smtputf8, struct smtp_path *out,
		       const struct path_errors *pe, struct smtp_error *err)
{
	if (n + 2 > SMTP_MAX_PATH) {
		*err = pe->too_long;
		return false;
	}
	if (n == 0) {
		if (pe->rcpt) {
			*err = pe->null_path;
			return false;
		}
		out->null = true;
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 32 || c == 127) {
			*err = pe->bad;
			return false;
		}
	}
	if (!is_ascii(p, n)) {
		if (!utf8_clean(p, n)) {
			*err = pe->bad_utf8;
			return false;
		}
		if (!smtputf8) {
			*err = err_need_utf8;
			return false;
		}
	}

	size_t i = 0, used;
	if (p[0] == '@') {
		if (!parse_source_route(p, n, &used, pe, err))
			return false;
		out->source_route = true;
		i = used;
	}
	if (!parse_local_part(p + i, n - i, &used, out, pe, err))
		return false;
	bool local_utf8 = !is_ascii(p + i, used);
	i += used;

	if (i == n) {
		/* RFC 5321 §4.1.1.3: RCPT TO:<Postmaster> needs no domain. */
		if (pe->rcpt && !out->quoted && !out->source_route &&
		    ascii_ieq(out->localpart, strlen(out->localpart), "postmaster")) {
			out->postmaster = true;
			strcpy(out->localpart, "Postmaster");
			strcpy(out->address, "Postmaster");
			return true;
		}
		*err = pe->bad;
		return false;
	}
	if (p[i] != '@') {
		*err = pe->bad;
		return false;
	}
	i++;
	if (!parse_domain(p + i, n - i, pe, out->domain, &out->address_literal, err))
		return false;

	out->utf8 = local_utf8 || !is_ascii(p + i, n - i);
	out->relay_hack = strpbrk(out->localpart, "%!@") != NULL;
	path_build_address(out);
	return true;
}

/* ---- ESMTP parameters ----------------------------------------------------- */

/*
 * One esmtp-param = esmtp-keyword ["=" esmtp-value] from the space-separated
 * list at *p (RFC 5321 §4.1.2).  Returns false at the end of the list;
 * syntax errors are reported through *bad.
 */
struct param {
	const char *kw;
	size_t kwlen;
	const char *val;     /* NULL: no "=" */
	size_t vallen;
};

static bool param_next(const char **p, const char *end, struct param *prm, bool *bad)
{
	const char *s = *p;
	*bad = false;
	while (s < end && *s == ' ')
		s++;
	if (s == end) {
		*p = s;
		return false;
	}
	const char *tok = s;
	while (s < end && *s != ' ')
		s++;
	*p = s;

	const char *eq = memchr(tok, '=', (size_t)(s - tok));
	prm->kw = tok;
	prm->kwlen = (size_t)((eq ? eq : s) - tok);
	prm->val = eq ? eq + 1 : NULL;
	prm->vallen = eq ? (size_t)(s - eq - 1) : 0;

	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	if (prm->kwlen == 0 || !is_alnum((unsigned char)prm->kw[0]))
		goto bad;
	for (size_t i = 1; i < prm->kwlen; i++)
		if (!is_alnum((unsigned char)prm->kw[i]) && prm->kw[i] != '-')
			goto bad;
	/* esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531) */
	if (eq) {
		if (prm->vallen == 0)
			goto bad;
		for (size_t i = 0; i < prm->vallen; i++) {
			unsigned char c = (unsigned char)prm->val[i];
			if (c < 33 || c == '=' || c == 127)
				goto bad;
		}
	}
	return true;
bad:
	*bad = true;
	return true;
}

/* SIZE = 1*20DIGIT; a value beyond uint64_t is an error, not a wrap. */
static bool parse_size_value(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)v[i]))
			return false;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

static bool parse_notify_value(const char *v, size_t n, unsigned *out)
{
	unsigned bits = 0;
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		const char *item = v + start;
		size_t ilen = i - start;
		if (ascii_ieq(item, ilen, "NEVER"))
			bits |= SMTP_NOTIFY_NEVER;
		else if (ascii_ieq(item, ilen, "SUCCESS"))
			bits |= SMTP_NOTIFY_SUCCESS;
		else if (ascii_ieq(item, ilen, "FAILURE"))
			bits |= SMTP_NOTIFY_FAILURE;
		else if (ascii_ieq(item, ilen, "DELAY"))
			bits |= SMTP_NOTIFY_DELAY;
		else
			return false;                  /* includes empty items */
		if (i == n)
			break;
		i++;
	}
	/* NEVER must stand alone (RFC 3461 §4.1). */
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return false;
	*out = bits;
	return true;
}

/* ORCPT = addr-type ";" xtext, addr-type "rfc822" or "utf-8" (stored lower-case). */
static bool parse_orcpt_value(const char *v, size_t n, char *out, size_t outsize)
{
	const char *semi = memchr(v, ';', n);
	if (semi == NULL)
		return false;
	size_t tlen = (size_t)(semi - v);
	const char *type;
	if (ascii_ieq(v, tlen, "rfc822"))
		type = "rfc822;";
	else if (ascii_ieq(v, tlen, "utf-8"))
		type = "utf-8;";
	else
		return false;
	size_t prefix = strlen(type);
	size_t xlen = n - tlen - 1;
	if (xlen == 0 || outsize <= prefix)
		return false;
	memcpy(out, type, prefix);
	if (!smtp_xtext_decode(semi + 1, xlen, out + prefix, outsize - prefix) ||
	    !utf8_clean(out + prefix, strlen(out + prefix))) {
		out[0] = '\0';
		return false;
	}
	return true;
}

enum {
	P_SIZE = 1 << 0, P_BODY = 1 << 1, P_SMTPUTF8 = 1 << 2, P_RET = 1 << 3,
	P_ENVID = 1 << 4, P_AUTH = 1 << 5, P_NOTIFY = 1 << 6, P_ORCPT = 1 << 7,
	P_REQUIRETLS = 1 << 8,
};

static bool param_seen(unsigned *seen, unsigned bit, struct smtp_error *err)
{
	if (*seen & bit) {
		*err = err_param_dup;
		return true;
	}
	*seen |= bit;
	return false;
}

static bool parse_mail_params(const char *p, const char *end, struct smtp_mail_args *out,
			      struct smtp_error *err)
{
	struct param prm;
	unsigned seen = 0;
	bool bad;

	while (param_next(&p, end, &prm, &bad)) {
		if (bad) {
			*err = err_param_syntax;
			return false;
		}
		const char *v = prm.val;
		size_t vn = prm.vallen;
		if (ascii_ieq(prm.kw, prm.kwlen, "SIZE")) {
			if (param_seen(&seen, P_SIZE, err))
				return false;
			if (!v || !parse_size_value(v, vn, &out->size)) {
				*err = err_size;
				return false;
			}
			out->size_given = true;
		} else if (ascii_ieq(prm.kw, prm.kwlen, "BODY")) {
			if (param_seen(&seen, P_BODY, err))
				return false;
			if (v && ascii_ieq(v, vn, "7BIT"))
				out->body = SMTP_BODY_7BIT;
			else if (v && ascii_ieq(v, vn, "8BITMIME"))
				out->body = SMTP_BODY_8BITMIME;
			else if (v && ascii_ieq(v, vn, "BINARYMIME"))
				out->body = SMTP_BODY_BINARYMIME;
			else {
				*err = err_body;
				return false;
			}
		} else if (ascii_ieq(prm.kw, prm.kwlen, "SMTPUTF8")) {
			if (param_seen(&seen, P_SMTPUTF8, err))
				return false;
			if (v) {
				*err = err_smtputf8;
				return false;
			}
			out->smtputf8 = true;
		} else if (ascii_ieq(prm.kw, prm.kwlen, "REQUIRETLS")) {
			if (param_seen(&seen, P_REQUIRETLS, err))
				return false;
			if (v) {
				*err = err_requiretls;
				return false;
			}
			out->requiretls = true;
		} else if (ascii_ieq(prm.kw, prm.kwlen, "RET")) {
			if (param_seen(&seen, P_RET, err))
				return false;
			if (v && ascii_ieq(v, vn, "FULL"))
				out->ret = SMTP_RET_FULL;
			else if (v && ascii_ieq(v, vn, "HDRS"))
				out->ret = SMTP_RET_HDRS;
			else {
				*err = err_ret;
				return false;
			}
		} else if (ascii_ieq(prm.kw, prm.kwlen, "ENVID")) {
			if (param_seen(&seen, P_ENVID, err))
				return false;
			/* RFC 3461 §4.4: printable US-ASCII after decoding, at most 100. */
			if (!v || !smtp_xtext_decode(v, vn, out->envid, sizeof out->envid) ||
			    !is_ascii(out->envid, strlen(out->envid))) {
				out->envid[0] = '\0';
				*err = err_envid;
				return false;
			}
		} else if (ascii_ieq(prm.kw, prm.kwlen, "AUTH")) {
			if (param_seen(&seen, P_AUTH, err))
				return false;
			if (v && vn == 2 && memcmp(v, "<>", 2) == 0)
				continue;
			if (!v || !smtp_xtext_decode(v, vn, out->auth, sizeof out->auth) ||
			    !utf8_clean(out->auth, strlen(out->auth))) {
				out->auth[0] = '\0';
				*err = err_auth;
				return false;
			}
		} else {
			*err = err_param_unknown;
			return false;
		}
	}
	return true;
}

static bool parse_rcpt_params(const char *p, const char *end, struct smtp_rcpt_args *out,
			      struct smtp_error *err)
{
	struct param prm;
	unsigned seen = 0;
	bool bad;

	while (param_next(&p, end, &prm, &bad)) {
		if (bad) {
			*err = err_param_syntax;
			return false;
		}
		if (ascii_ieq(prm.kw, prm.kwlen, "NOTIFY")) {
			if (param_seen(&seen, P_NOTIFY, err))
				return false;
			if (!prm.val || !parse_notify_value(prm.val, prm.vallen, &out->notify)) {
				*err = err_notify;
				return false;
			}
		} else if (ascii_ieq(prm.kw, prm.kwlen, "ORCPT")) {
			if (param_seen(&seen, P_ORCPT, err))
				return false;
			if (!prm.val || !parse_orcpt_value(prm.val, prm.vallen, out->orcpt, sizeof out->orcpt)) {
				*err = err_orcpt;
				return false;
			}
		} else {
			*err = err_param_unknown;
			return false;
		}
	}
	return true;
}

/* ---- MAIL / RCPT ------------------------------------------------------------- */

/*
 * "FROM:" / "TO:", at most one space, then "<...>", then nothing or a space
 * and the parameters.  Sets the raw path (inside the brackets) and where the
 * parameters start.
 */
static bool split_path_args(const char *args, size_t len, const char *prefix,
			    const char **path, size_t *pathlen, const char **params)
{
	size_t i = strlen(prefix);
	size_t end;

	if (!ascii_iprefix(args, len, prefix))
		return false;
	if (i < len && args[i] == ' ')
		i++;                                /* "FROM: <a@b>", as Postfix allows */
	if (i >= len || args[i] != '<')
		return false;
	if (!path_find_end(args + i, len - i, &end))
		return false;
	*path = args + i + 1;
	*pathlen = end - 1;
	i += end + 1;
	if (i < len && args[i] != ' ')
		return false;
	*params = args + i;
	return true;
}

bool smtp_parse_mail(const char *args, size_t len, struct smtp_mail_args *out, struct smtp_error *err)
{
	const char *path, *params;
	size_t pathlen;

	memset(out, 0, sizeof *out);
	if (!split_path_args(args, len, "FROM:", &path, &pathlen, &params)) {
		*err = err_mail_syntax;
		return false;
	}
	/* Parameters first: SMTPUTF8 on this line decides whether the path may be UTF-8. */
	if (!parse_mail_params(params, args + len, out, err) ||
	    !parse_path(path, pathlen, out->smtputf8, &out->path, &mail_errors, err)) {
		memset(out, 0, sizeof *out);
		return false;
	}
	return true;
}

bool smtp_parse_rcpt(const char *args, size_t len, bool smtputf8, struct smtp_rcpt_args *out, struct smtp_error *err)
{
	const char *path, *params;
	size_t pathlen;

	memset(out, 0, sizeof *out);
	if (!split_path_args(args, len, "TO:", &path, &pathlen, &params)) {
		*err = err_rcpt_syntax;
		return false;
	}
	if (!parse_rcpt_params(params, args + len, out, err) ||
	    !parse_path(path, pathlen, smtputf8, &out->path, &rcpt_errors, err)) {
		memset(out, 0, sizeof *out);
		return false;
	}
	return true;
}

/* ---- BDAT, HELO ----------------------------------------------------------- */

bool smtp_parse_bdat(const char *args, size_t len, uint64_t *size, bool *last, struct smtp_error *err)
{
	size_t i = 0;
	uint64_t x = 0;

	*size = 0;
	*last = false;
	while (i < len && is_digit((unsigned char)args[i])) {
		if (i == 19)
			goto bad;                           /* 19 digits cannot overflow */
		x = x * 10 + (uint64_t)(args[i] - '0');
		i++;
	}
	if (i == 0)
		goto bad;
	if (i < len) {
		if (args[i] != ' ' || !ascii_ieq(args + i + 1, len - i - 1, "LAST"))
			goto bad;
		*last = true;
	}
	*size = x;
	return true;
bad:
	*err = err_bdat;
	return false;
}

/*
 * Lenient like Postfix: any printable ASCII is accepted, because a strict
 * check here rejects real clients (underscores, bare hostnames) and gains
 * nothing — the name is only recorded.  Non-ASCII is refused: the name goes
 * into the Received header of messages that may not be SMTPUTF8.
 */
bool smtp_parse_helo(const char *args, size_t len, struct smtp_error *err)
{
	if (len == 0) {
		*err = err_helo_empty;
		return false;
	}
	if (len > SMTP_MAX_DOMAIN) {
		*err = err_helo_long;
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)args[i];
		if (c <= 32 || c >= 127) {
			*err = err_helo_char;
			return false;
		}
	}
	return true;
}
