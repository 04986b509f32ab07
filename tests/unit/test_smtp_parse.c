/*
 * test_smtp_parse.c — unit tests of src/smtp/parse.c, the SMTP command-line
 * grammar: verb splitting, MAIL/RCPT paths and parameters, BDAT, HELO and
 * xtext.  Table-driven: each row is one command argument and the exact
 * outcome (fields, or reply code and enhanced code) it must give.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/parse.h"

/* Path flags, compared all at once. */
enum {
	F_NULL = 1 << 0, F_PM = 1 << 1, F_ROUTE = 1 << 2, F_QUOTED = 1 << 3,
	F_RELAY = 1 << 4, F_UTF8 = 1 << 5, F_LIT = 1 << 6,
};

static unsigned path_flags(const struct smtp_path *p)
{
	return (p->null ? F_NULL : 0) | (p->postmaster ? F_PM : 0) |
	       (p->source_route ? F_ROUTE : 0) | (p->quoted ? F_QUOTED : 0) |
	       (p->relay_hack ? F_RELAY : 0) | (p->utf8 ? F_UTF8 : 0) |
	       (p->address_literal ? F_LIT : 0);
}

/* Inputs may contain NULs: len 0 means strlen. */
static size_t case_len(const char *s, size_t len)
{
	return len ? len : strlen(s);
}

static void expect_error(const char *what, const struct smtp_error *err, int code, const char *enh)
{
	if (err->code != code || err->enhanced == NULL || strcmp(err->enhanced, enh) != 0 || err->text == NULL)
		fail_msg("%s: got %d %s %s, want %d %s", what, err->code,
			 err->enhanced ? err->enhanced : "(null)", err->text ? err->text : "(null)", code, enh);
}

static void expect_str(const char *what, const char *field, const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("%s: %s is \"%s\", want \"%s\"", what, field, got, want);
}

/* ---- paths of MAIL and RCPT ------------------------------------------- */

enum path_cmd { MAIL, RCPT, RCPT8 };   /* RCPT8: RCPT in an SMTPUTF8 transaction */

struct path_case {
	enum path_cmd cmd;
	const char *in;
	size_t len;
	int code;                 /* 0: must succeed */
	const char *enh;
	const char *local, *domain, *address;
	unsigned flags;
};

#define OK(cmd, in, l, d, a, f) { cmd, in, 0, 0, NULL, l, d, a, f }
#define ERR(cmd, in, code, enh) { cmd, in, 0, code, enh, NULL, NULL, NULL, 0 }
#define ERRN(cmd, in, len, code, enh) { cmd, in, len, code, enh, NULL, NULL, NULL, 0 }

static const struct path_case path_cases[] = {
	/* plain, case, the one tolerated space */
	OK(MAIL, "FROM:<user@example.org>", "user", "example.org", "user@example.org", 0),
	OK(MAIL, "FROM: <user@example.org>", "user", "example.org", "user@example.org", 0),
	OK(MAIL, "from:<User@Example.ORG>", "User", "example.org", "User@example.org", 0),
	OK(MAIL, "FROM:<>", "", "", "", F_NULL),
	OK(MAIL, "FROM: <>", "", "", "", F_NULL),
	OK(MAIL, "FROM:<a.b+tag@x>", "a.b+tag", "x", "a.b+tag@x", 0),
	OK(MAIL, "FROM:<a@localhost>", "a", "localhost", "a@localhost", 0),
	OK(MAIL, "FROM:<a@123.example>", "a", "123.example", "a@123.example", 0),
	OK(MAIL, "FROM:<a@a-b.c0.example>", "a", "a-b.c0.example", "a@a-b.c0.example", 0),
	OK(MAIL, "FROM:<#$&'*+-/=?^_`{|}~@x>", "#$&'*+-/=?^_`{|}~", "x", "#$&'*+-/=?^_`{|}~@x", 0),
	/* source routes */
	OK(MAIL, "FROM:<@a.example,@b.example:user@c.example>", "user", "c.example", "user@c.example", F_ROUTE),
	OK(MAIL, "FROM:<@a.example:user@c.example>", "user", "c.example", "user@c.example", F_ROUTE),
	OK(RCPT, "TO:<@a.example,@b.example:user@c.example>", "user", "c.example", "user@c.example", F_ROUTE),
	/* quoted local parts */
	OK(MAIL, "FROM:<\"john..doe\"@example.org>", "john..doe", "example.org", "\"john..doe\"@example.org", F_QUOTED),
	OK(MAIL, "FROM:<\"a\\\"b\"@x>", "a\"b", "x", "\"a\\\"b\"@x", F_QUOTED),
	OK(MAIL, "FROM:<\"a\\\\b\"@x>", "a\\b", "x", "\"a\\\\b\"@x", F_QUOTED),
	OK(MAIL, "FROM:<\"a@b\"@x>", "a@b", "x", "\"a@b\"@x", F_QUOTED | F_RELAY),
	OK(MAIL, "FROM:<\"john\"@example.org>", "john", "example.org", "john@example.org", F_QUOTED),
	OK(MAIL, "FROM:<\"\\j\\o\\h\\n\"@example.org>", "john", "example.org", "john@example.org", F_QUOTED),
	OK(MAIL, "FROM:<\"a b\"@x>", "a b", "x", "\"a b\"@x", F_QUOTED),
	OK(MAIL, "FROM:<\"a>b\"@x>", "a>b", "x", "\"a>b\"@x", F_QUOTED),
	OK(MAIL, "FROM:<\"\"@x>", "", "x", "\"\"@x", F_QUOTED),
	OK(MAIL, "FROM:<\".a\"@x>", ".a", "x", "\".a\"@x", F_QUOTED),
	/* relay hacks */
	OK(MAIL, "FROM:<user%other.example@local.example>", "user%other.example", "local.example",
	   "user%other.example@local.example", F_RELAY),
	OK(RCPT, "TO:<other!user@local>", "other!user", "local", "other!user@local", F_RELAY),
	OK(RCPT, "TO:<\"user@other\"@local>", "user@other", "local", "\"user@other\"@local", F_QUOTED | F_RELAY),
	/* address literals, stored canonical */
	OK(MAIL, "FROM:<user@[192.0.2.1]>", "user", "[192.0.2.1]", "user@[192.0.2.1]", F_LIT),
	OK(MAIL, "FROM:<user@[IPv6:2001:DB8::1]>", "user", "[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]", F_LIT),
	OK(RCPT, "TO:<user@[ipv6:2001:db8:0:0:0:0:0:1]>", "user", "[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]", F_LIT),
	OK(RCPT, "TO:<user@[IPv6:::ffff:192.0.2.1]>", "user", "[IPv6:::ffff:192.0.2.1]", "user@[IPv6:::ffff:192.0.2.1]", F_LIT),
	/* IDN and UTF-8 */
	OK(MAIL, "FROM:<user@xn--bcher-kva.example>", "user", "xn--bcher-kva.example", "user@xn--bcher-kva.example", 0),
	OK(MAIL, "FROM:<user@XN--BCHER-KVA.example>", "user", "xn--bcher-kva.example", "user@xn--bcher-kva.example", 0),
	OK(MAIL, "FROM:<user@bücher.example> SMTPUTF8", "user", "xn--bcher-kva.example", "user@xn--bcher-kva.example", F_UTF8),
	OK(MAIL, "FROM:<user@Bücher.Example> SMTPUTF8", "user", "xn--bcher-kva.example", "user@xn--bcher-kva.example", F_UTF8),
	OK(RCPT8, "TO:<user@bücher.example>", "user", "xn--bcher-kva.example", "user@xn--bcher-kva.example", F_UTF8),
	OK(MAIL, "FROM:<jöran@example.org> SMTPUTF8", "jöran", "example.org", "jöran@example.org", F_UTF8),
	OK(RCPT8, "TO:<用户@例子.广告>", "用户", "xn--fsqu00a.xn--4rr70v", "用户@xn--fsqu00a.xn--4rr70v", F_UTF8),
	/* non-transitional: ß stays ß (transitional processing would give "ss") */
	OK(RCPT8, "TO:<a@straße.example>", "a", "xn--strae-oqa.example", "a@xn--strae-oqa.example", F_UTF8),
	OK(RCPT8, "TO:<\"jö ran\"@example.org>", "jö ran", "example.org", "\"jö ran\"@example.org", F_QUOTED | F_UTF8),
	OK(RCPT8, "TO:<@bücher.example:user@example.org>", "user", "example.org", "user@example.org", F_ROUTE),
	OK(RCPT8, "TO:<user@example.org>", "user", "example.org", "user@example.org", 0),
	/* Postmaster */
	OK(RCPT, "TO:<Postmaster>", "Postmaster", "", "Postmaster", F_PM),
	OK(RCPT, "TO:<postmaster>", "Postmaster", "", "Postmaster", F_PM),
	OK(RCPT, "to: <POSTMASTER>", "Postmaster", "", "Postmaster", F_PM),
	OK(RCPT, "TO:<postmaster@example.org>", "postmaster", "example.org", "postmaster@example.org", 0),

	/* 501 5.5.4: no proper "FROM:<...>" */
	ERR(MAIL, "", 501, "5.5.4"),
	ERR(MAIL, "FROM:", 501, "5.5.4"),
	ERR(MAIL, "FROM:user@example.org", 501, "5.5.4"),
	ERR(MAIL, "FROM:  <a@b>", 501, "5.5.4"),
	ERR(MAIL, "FROM :<a@b>", 501, "5.5.4"),
	ERR(MAIL, " FROM:<a@b>", 501, "5.5.4"),
	ERR(MAIL, "FROM:\t<a@b>", 501, "5.5.4"),
	ERR(MAIL, "FROM<a@b>", 501, "5.5.4"),
	ERR(MAIL, "TO:<a@b>", 501, "5.5.4"),
	ERR(MAIL, "FROM:<a@b", 501, "5.5.4"),
	ERR(MAIL, "FROM:<a@b>x", 501, "5.5.4"),
	ERR(MAIL, "FROM:<a@b>>", 501, "5.5.4"),
	ERR(MAIL, "FROM:<a@b>\tSIZE=1", 501, "5.5.4"),
	ERR(MAIL, "FROM:<\"a@b>", 501, "5.5.4"),
	ERR(MAIL, "FROM:a@b <a@b>", 501, "5.5.4"),
	ERR(RCPT, "TO:user@example.org", 501, "5.5.4"),
	ERR(RCPT, "FROM:<a@b>", 501, "5.5.4"),
	ERR(RCPT, "TO:  <a@b>", 501, "5.5.4"),
	ERR(RCPT, "TO:", 501, "5.5.4"),
	/* 501 5.1.7 / 5.1.3: bad address */
	ERR(MAIL, "FROM:<a b@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:< a@b>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b >", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a..b@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<.a@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a.@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<postmaster>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b.>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@.b>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b..c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@-b.c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b-.c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b.c->", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b.-c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b_c.d>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@b\"c\">", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a\\b@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<\"a\"b@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a\"b\"@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a(comment)@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a,b@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a<b@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[192.0.2.256]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[192.0.2.1>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[192.0.2.1]x>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[192.0.2]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[IPv6:1.2.3.4]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[IPv6:2001:db8::g]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[2001:db8::1]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[x400:foo]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[IPv6:]>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@[ 192.0.2.1]>", 501, "5.1.7"),
	ERRN(MAIL, "FROM:<a@[192.0.2.1\0x]>", 22, 501, "5.1.7"),
	ERRN(MAIL, "FROM:<a\0b@c>", 12, 501, "5.1.7"),
	ERRN(MAIL, "FROM:<ab@c\0>", 12, 501, "5.1.7"),
	ERR(MAIL, "FROM:<a\x01@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a\x7f@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a\r\n@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<\"a\x01\"@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<\"a\\\x01\"@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<\"a\\\x7f\"@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<\"a\tb\"@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@a.example,b.example:u@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@a.example,@:u@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@a.example u@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@a.example:>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@[192.0.2.1]:u@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<@a_b:u@c>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<:u@c>", 501, "5.1.7"),
	ERR(RCPT, "TO:<>", 501, "5.1.3"),
	ERR(RCPT, "TO:<a b@c>", 501, "5.1.3"),
	ERR(RCPT, "TO:<a@b.>", 501, "5.1.3"),
	ERR(RCPT, "TO:<\"Postmaster\">", 501, "5.1.3"),
	ERR(RCPT, "TO:<@a.example:Postmaster>", 501, "5.1.3"),
	ERR(RCPT, "TO:<postmasterx>", 501, "5.1.3"),
	ERR(RCPT, "TO:<post.master>", 501, "5.1.3"),
	ERR(RCPT, "TO:<a@[192.0.2.300]>", 501, "5.1.3"),
	/* UTF-8: 553 without SMTPUTF8, 501 when not UTF-8 or not a valid IDN */
	ERR(MAIL, "FROM:<jöran@example.org>", 553, "5.6.7"),
	ERR(MAIL, "FROM:<user@bücher.example>", 553, "5.6.7"),
	ERR(MAIL, "FROM:<user@bücher.example> SMTPUTF8=YES", 501, "5.5.4"),
	ERR(RCPT, "TO:<user@bücher.example>", 553, "5.6.7"),
	ERR(RCPT, "TO:<jöran@example.org>", 553, "5.6.7"),
	ERR(RCPT, "TO:<@bücher.example:user@example.org>", 553, "5.6.7"),
	ERR(MAIL, "FROM:<j\xffran@example.org> SMTPUTF8", 501, "5.1.7"),
	ERR(MAIL, "FROM:<j\xffran@example.org>", 501, "5.1.7"),
	ERR(MAIL, "FROM:<\xc0\xaf@example.org> SMTPUTF8", 501, "5.1.7"),
	ERR(MAIL, "FROM:<a@\xed\xa0\x80.example> SMTPUTF8", 501, "5.1.7"),
	ERR(RCPT8, "TO:<j\xc3@example.org>", 501, "5.1.3"),
	ERR(RCPT8, "TO:<a\xc2\x85" "b@example.org>", 501, "5.1.3"),      /* C1 control NEL */
	ERR(RCPT8, "TO:<\"a\xc2\x9f\"@example.org>", 501, "5.1.3"),
	OK(RCPT8, "TO:<a\xc2\xa0" "b@example.org>", "a\xc2\xa0" "b", "example.org", "a\xc2\xa0" "b@example.org", F_UTF8),
	ERR(RCPT8, "TO:<a@\xe2\x80\x8d.example>", 501, "5.1.3"),
	ERR(RCPT8, "TO:<a@bü_x.example>", 501, "5.1.3"),
	ERR(RCPT8, "TO:<a@bü.>", 501, "5.1.3"),
	ERR(RCPT8, "TO:<a@xn--zz.ü>", 501, "5.1.3"),
	ERR(RCPT8, "TO:<\"a\\ü\"@example.org>", 501, "5.1.3"),
};

static void run_path_case(const struct path_case *c, size_t idx)
{
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	struct smtp_error err = { 0, NULL, NULL };
	const struct smtp_path *p;
	char what[400];
	bool ok;

	snprintf(what, sizeof what, "path case %zu (%s)", idx, c->in);
	if (c->cmd == MAIL) {
		ok = smtp_parse_mail(c->in, case_len(c->in, c->len), &m, &err);
		p = &m.path;
	} else {
		ok = smtp_parse_rcpt(c->in, case_len(c->in, c->len), c->cmd == RCPT8, &r, &err);
		p = &r.path;
	}
	if (c->code == 0) {
		if (!ok)
			fail_msg("%s: failed with %d %s %s", what, err.code, err.enhanced, err.text);
		expect_str(what, "localpart", p->localpart, c->local);
		expect_str(what, "domain", p->domain, c->domain);
		expect_str(what, "address", p->address, c->address);
		if (path_flags(p) != c->flags)
			fail_msg("%s: flags 0x%x, want 0x%x", what, path_flags(p), c->flags);
	} else {
		if (ok)
			fail_msg("%s: accepted, want %d %s", what, c->code, c->enh);
		expect_error(what, &err, c->code, c->enh);
		/* a failed parse leaves nothing half-filled behind */
		expect_str(what, "address", p->address, "");
	}
}

static void test_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof path_cases / sizeof path_cases[0]; i++)
		run_path_case(&path_cases[i], i);
}

/* ---- length limits, exactly at and one past ------------------------------- */

static void fill(char *p, size_t n, char c)
{
	memset(p, c, n);
	p[n] = '\0';
}

/* A domain of n bytes of LDH labels (63 max each). */
static void make_domain(char *out, size_t n)
{
	size_t i = 0, label = 0;
	while (i < n) {
		if (label == 63 && i + 1 < n) {
			out[i++] = '.';
			label = 0;
			continue;
		}
		out[i++] = 'd';
		label++;
	}
	out[i] = '\0';
}

static void expect_mail(const char *args, bool ok_wanted, int code, const char *enh, const char *text_has)
{
	struct smtp_mail_args m;
	struct smtp_error err = { 0, NULL, NULL };
	bool ok = smtp_parse_mail(args, strlen(args), &m, &err);
	if (ok != ok_wanted)
		fail_msg("MAIL %s: ok=%d, want %d (%d %s %s)", args, ok, ok_wanted,
			 err.code, err.enhanced ? err.enhanced : "", err.text ? err.text : "");
	if (!ok) {
		expect_error(args, &err, code, enh);
		if (text_has && strstr(err.text, text_has) == NULL)
			fail_msg("MAIL %s: text \"%s\" lacks \"%s\"", args, err.text, text_has);
	}
}

static void expect_rcpt(const char *args, bool smtputf8, bool ok_wanted, int code, const char *enh, const char *text_has)
{
	struct smtp_rcpt_args r;
	struct smtp_error err = { 0, NULL, NULL };
	bool ok = smtp_parse_rcpt(args, strlen(args), smtputf8, &r, &err);
	if (ok != ok_wanted)
		fail_msg("RCPT %s: ok=%d, want %d (%d %s %s)", args, ok, ok_wanted,
			 err.code, err.enhanced ? err.enhanced : "", err.text ? err.text : "");
	if (!ok) {
		expect_error(args, &err, code, enh);
		if (text_has && strstr(err.text, text_has) == NULL)
			fail_msg("RCPT %s: text \"%s\" lacks \"%s\"", args, err.text, text_has);
	}
}

static void test_local_part_length(void **state)
{
	char local[100], args[400];
	(void)state;

	fill(local, 64, 'l');
	snprintf(args, sizeof args, "FROM:<%s@example.org>", local);
	expect_mail(args, true, 0, NULL, NULL);
	snprintf(args, sizeof args, "TO:<%s@example.org>", local);
	expect_rcpt(args, false, true, 0, NULL, NULL);

	fill(local, 65, 'l');
	snprintf(args, sizeof args, "FROM:<%s@example.org>", local);
	expect_mail(args, false, 501, "5.1.7", "too long");
	snprintf(args, sizeof args, "TO:<%s@example.org>", local);
	expect_rcpt(args, false, false, 501, "5.1.3", "too long");

	/* quoted: the limit applies to the local part as sent, quotes included */
	fill(local, 62, 'q');
	snprintf(args, sizeof args, "TO:<\"%s\"@example.org>", local);
	expect_rcpt(args, false, true, 0, NULL, NULL);
	fill(local, 63, 'q');
	snprintf(args, sizeof args, "TO:<\"%s\"@example.org>", local);
	expect_rcpt(args, false, false, 501, "5.1.3", "too long");

	/* octets, not characters: 32 x "ö" is 64 octets, one more "a" is 65 */
	local[0] = '\0';
	for (int i = 0; i < 32; i++)
		strcat(local, "ö");
	snprintf(args, sizeof args, "TO:<%s@example.org>", local);
	expect_rcpt(args, true, true, 0, NULL, NULL);
	snprintf(args, sizeof args, "TO:<%sa@example.org>", local);
	expect_rcpt(args, true, false, 501, "5.1.3", "too long");
}

static void test_path_length(void **state)
{
	char local[100], domain[300], args[600];
	struct smtp_mail_args m;
	struct smtp_error err;
	(void)state;

	/* "<" + 64 + "@" + 189 + ">" = 256 */
	fill(local, 64, 'l');
	make_domain(domain, 189);
	snprintf(args, sizeof args, "FROM:<%s@%s>", local, domain);
	assert_true(smtp_parse_mail(args, strlen(args), &m, &err));
	assert_int_equal(strlen(m.path.address), 254);
	assert_string_equal(m.path.domain, domain);
	snprintf(args, sizeof args, "TO:<%s@%s>", local, domain);
	expect_rcpt(args, false, true, 0, NULL, NULL);

	make_domain(domain, 190);
	snprintf(args, sizeof args, "FROM:<%s@%s>", local, domain);
	expect_mail(args, false, 501, "5.1.7", "too long");
	snprintf(args, sizeof args, "TO:<%s@%s>", local, domain);
	expect_rcpt(args, false, false, 501, "5.1.3", "too long");

	/* a source route counts towards the path */
	make_domain(domain, 180);
	snprintf(args, sizeof args, "TO:<@r.example:%s@%s>", local, domain);    /* 2+11+64+1+180 = 258 */
	expect_rcpt(args, false, false, 501, "5.1.3", "too long");

	/* a giant path does not get further than the length check */
	char big[2000];
	memcpy(big, "FROM:<", 6);
	memset(big + 6, 'x', 1900);
	memcpy(big + 1906, "@b>", 4);
	expect_mail(big, false, 501, "5.1.7", "too long");
}

/*
 * The domain limit bites after IDN conversion: A-labels are longer than the
 * U-labels they came from.  libidn2 refuses names over 253 octets (the DNS
 * presentation limit), so that is the effective maximum for IDN domains.
 * "ü." becomes "xn--tda." (+5 octets).
 */
static void test_domain_length(void **state)
{
	char domain[300], args[400];
	struct smtp_rcpt_args r;
	struct smtp_error err;
	(void)state;

	strcpy(domain, "ü.");
	make_domain(domain + 3, 245);                   /* raw 248 -> A-label 253 */
	snprintf(args, sizeof args, "TO:<a@%s>", domain);
	assert_true(smtp_parse_rcpt(args, strlen(args), true, &r, &err));
	assert_int_equal(strlen(r.path.domain), 253);
	assert_memory_equal(r.path.domain, "xn--tda.", 8);
	assert_true(r.path.utf8);

	make_domain(domain + 3, 246);                   /* raw 249 -> A-label 254 */
	snprintf(args, sizeof args, "TO:<a@%s>", domain);
	expect_rcpt(args, true, false, 501, "5.1.3", "domain too long");
	snprintf(args, sizeof args, "FROM:<a@%s> SMTPUTF8", domain);
	expect_mail(args, false, 501, "5.1.7", "domain too long");
}

/* ---- MAIL parameters ----------------------------------------------------- */

struct mail_param_case {
	const char *in;
	int code;
	const char *enh;
	bool size_given;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	const char *envid;
	const char *auth;
};

#define MP_ERR(in, code, enh) { in, code, enh, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" }

static const struct mail_param_case mail_param_cases[] = {
	{ "FROM:<a@b>", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> ", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> SIZE=12345", 0, NULL, true, 12345, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> size=0", 0, NULL, true, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> SIZE=18446744073709551615", 0, NULL, true, UINT64_MAX, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> SIZE=00000000000000000001", 0, NULL, true, 1, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> BODY=7BIT", 0, NULL, false, 0, SMTP_BODY_7BIT, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> body=8bitmime", 0, NULL, false, 0, SMTP_BODY_8BITMIME, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> BODY=BINARYMIME", 0, NULL, false, 0, SMTP_BODY_BINARYMIME, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> SMTPUTF8", 0, NULL, false, 0, SMTP_BODY_NONE, true, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> smtputf8", 0, NULL, false, 0, SMTP_BODY_NONE, true, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> RET=FULL", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_FULL, "", "" },
	{ "FROM:<a@b> ret=hdrs", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_HDRS, "", "" },
	{ "FROM:<a@b> ENVID=QQ314159", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "QQ314159", "" },
	{ "FROM:<a@b> ENVID=a+2Bb+3Dc+20d", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "a+b=c d", "" },
	{ "FROM:<a@b> ENVID=a+2bb", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "a+b", "" },
	{ "FROM:<a@b> AUTH=<>", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<a@b> AUTH=user+40example.org", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "user@example.org" },
	{ "FROM:<a@b> AUTH=e+3Dmc2@example.com", 0, NULL, false, 0, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "e=mc2@example.com" },
	{ "FROM:<a@b> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=x SMTPUTF8 AUTH=<>", 0, NULL,
	  true, 10, SMTP_BODY_8BITMIME, true, SMTP_RET_HDRS, "x", "" },
	{ "FROM:<a@b>  SIZE=10   BODY=7BIT ", 0, NULL, true, 10, SMTP_BODY_7BIT, false, SMTP_RET_NONE, "", "" },
	{ "FROM:<> SIZE=10", 0, NULL, true, 10, SMTP_BODY_NONE, false, SMTP_RET_NONE, "", "" },

	MP_ERR("FROM:<a@b> SIZE=18446744073709551616", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=99999999999999999999", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=000000000000000000001", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=-1", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=+1", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=1k", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE==1", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> X-FOO=a=b", 501, "5.5.4"),     /* syntax before "unknown" */
	MP_ERR("FROM:<a@b> BODY=8BIT", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> BODY", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SMTPUTF8=yes", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> RET=NONE", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> RET", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID=a+0Db", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID=a+00b", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID=a+C3+BC", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID=a+2", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID=a+ZZ", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID=\xc3\xa4", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> AUTH", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> AUTH=", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> AUTH=a+0Ab", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> AUTH=+FF", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> AUTH=a+C2+85", 501, "5.5.4"),
	/* duplicates */
	MP_ERR("FROM:<a@b> SIZE=1 SIZE=2", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=1 size=1", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SMTPUTF8 smtputf8", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> REQUIRETLS=yes", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> REQUIRETLS requiretls", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> BODY=7BIT BODY=8BITMIME", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> RET=FULL RET=FULL", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> ENVID=x ENVID=y", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> AUTH=<> AUTH=<>", 501, "5.5.4"),
	/* unknown */
	MP_ERR("FROM:<a@b> FOO=bar", 555, "5.5.4"),
	MP_ERR("FROM:<a@b> XFOO", 555, "5.5.4"),
	MP_ERR("FROM:<a@b> NOTIFY=NEVER", 555, "5.5.4"),
	MP_ERR("FROM:<a@b> ORCPT=rfc822;a@b", 555, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=10 X-Y=1", 555, "5.5.4"),
	/* keyword / value syntax */
	MP_ERR("FROM:<a@b> =x", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> -FOO", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SI_ZE=1", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=1\x01", 501, "5.5.4"),
	MP_ERR("FROM:<a@b> SIZE=1\t", 501, "5.5.4"),
};

static void test_mail_params(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof mail_param_cases / sizeof mail_param_cases[0]; i++) {
		const struct mail_param_case *c = &mail_param_cases[i];
		struct smtp_mail_args m;
		struct smtp_error err = { 0, NULL, NULL };
		char what[300];
		snprintf(what, sizeof what, "mail param case %zu (%s)", i, c->in);
		bool ok = smtp_parse_mail(c->in, strlen(c->in), &m, &err);
		if (c->code) {
			if (ok)
				fail_msg("%s: accepted", what);
			expect_error(what, &err, c->code, c->enh);
			continue;
		}
		if (!ok)
			fail_msg("%s: failed with %d %s %s", what, err.code, err.enhanced, err.text);
		if (m.size_given != c->size_given || m.size != c->size)
			fail_msg("%s: size %d/%llu", what, m.size_given, (unsigned long long)m.size);
		if (m.body != c->body || m.smtputf8 != c->smtputf8 || m.ret != c->ret)
			fail_msg("%s: body %d smtputf8 %d ret %d", what, m.body, m.smtputf8, m.ret);
		expect_str(what, "envid", m.envid, c->envid);
		expect_str(what, "auth", m.auth, c->auth);
		if (m.requiretls)
			fail_msg("%s: requiretls", what);
	}
	struct smtp_mail_args m;
	struct smtp_error err;
	const char *in = "FROM:<a@b> RequireTLS SMTPUTF8";
	assert_true(smtp_parse_mail(in, strlen(in), &m, &err));
	assert_true(m.requiretls && m.smtputf8);
}

static void test_mail_param_texts(void **state)
{
	struct smtp_mail_args m;
	struct smtp_error err;
	(void)state;

	assert_false(smtp_parse_mail("FROM:<a@b> SIZE=1 SIZE=2", 24, &m, &err));
	assert_non_null(strstr(err.text, "Duplicate"));
	assert_false(smtp_parse_mail("FROM:<a@b> FOO=1", 16, &m, &err));
	assert_string_equal(err.text, "Unsupported parameter");
	assert_false(smtp_parse_mail("FROM:a@b", 8, &m, &err));
	assert_string_equal(err.text, "Syntax: MAIL FROM:<address>");
	assert_false(smtp_parse_mail("FROM:<a b@c>", 12, &m, &err));
	assert_string_equal(err.text, "Bad sender address syntax");
	assert_false(smtp_parse_mail("FROM:<jö@c>", 12, &m, &err));
	assert_string_equal(err.text, "SMTPUTF8 required for non-ASCII addresses");
}

/* ENVID: at most 100 octets after decoding. */
static void test_envid_length(void **state)
{
	char v[200], args[300];
	struct smtp_mail_args m;
	struct smtp_error err;
	(void)state;

	fill(v, 100, 'e');
	snprintf(args, sizeof args, "FROM:<a@b> ENVID=%s", v);
	assert_true(smtp_parse_mail(args, strlen(args), &m, &err));
	assert_string_equal(m.envid, v);

	/* 100 decoded octets from 102 encoded */
	fill(v, 99, 'e');
	snprintf(args, sizeof args, "FROM:<a@b> ENVID=%s+2B", v);
	assert_true(smtp_parse_mail(args, strlen(args), &m, &err));
	assert_int_equal(strlen(m.envid), 100);
	assert_int_equal(m.envid[99], '+');

	fill(v, 101, 'e');
	snprintf(args, sizeof args, "FROM:<a@b> ENVID=%s", v);
	assert_false(smtp_parse_mail(args, strlen(args), &m, &err));
	assert_int_equal(err.code, 501);
	assert_string_equal(err.enhanced, "5.5.4");
	assert_string_equal(m.envid, "");
}

/* Parameters are checked before the path, because SMTPUTF8 decides what the path may be. */
static void test_mail_error_order(void **state)
{
	struct smtp_mail_args m;
	struct smtp_error err;
	(void)state;

	assert_false(smtp_parse_mail("FROM:<a b@c> FOO=1", 18, &m, &err));
	assert_int_equal(err.code, 555);
	assert_false(smtp_parse_mail("FROM:<a b@c> SIZE=1", 19, &m, &err));
	assert_int_equal(err.code, 501);
	assert_string_equal(err.enhanced, "5.1.7");
	/* failure leaves a zeroed struct: no half-parsed size from the line */
	assert_false(m.size_given);
	assert_int_equal(m.size, 0);
}

/* ---- RCPT parameters ----------------------------------------------------- */

struct rcpt_param_case {
	const char *in;
	int code;
	const char *enh;
	unsigned notify;
	const char *orcpt;
};

static const struct rcpt_param_case rcpt_param_cases[] = {
	{ "TO:<a@b>", 0, NULL, 0, "" },
	{ "TO:<a@b> NOTIFY=NEVER", 0, NULL, SMTP_NOTIFY_NEVER, "" },
	{ "TO:<a@b> notify=never", 0, NULL, SMTP_NOTIFY_NEVER, "" },
	{ "TO:<a@b> NOTIFY=SUCCESS", 0, NULL, SMTP_NOTIFY_SUCCESS, "" },
	{ "TO:<a@b> NOTIFY=FAILURE,DELAY", 0, NULL, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, "" },
	{ "TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", 0, NULL,
	  SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, "" },
	{ "TO:<a@b> NOTIFY=delay,Success", 0, NULL, SMTP_NOTIFY_DELAY | SMTP_NOTIFY_SUCCESS, "" },
	{ "TO:<a@b> ORCPT=rfc822;user+40example.org", 0, NULL, 0, "rfc822;user@example.org" },
	{ "TO:<a@b> ORCPT=RFC822;a+2Bb@x", 0, NULL, 0, "rfc822;a+b@x" },
	{ "TO:<a@b> ORCPT=rfc822;a@x", 0, NULL, 0, "rfc822;a@x" },
	{ "TO:<a@b> ORCPT=utf-8;j+C3+B6ran@x", 0, NULL, 0, "utf-8;jöran@x" },
	{ "TO:<a@b> ORCPT=UTF-8;a@x", 0, NULL, 0, "utf-8;a@x" },
	{ "TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b", 0, NULL,
	  SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, "rfc822;a@b" },
	{ "TO:<Postmaster> NOTIFY=NEVER", 0, NULL, SMTP_NOTIFY_NEVER, "" },

	{ "TO:<a@b> NOTIFY=NEVER,SUCCESS", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=DELAY,NEVER", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=SUCCESS,,DELAY", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=SUCCESS,", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=,SUCCESS", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=FOO", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=SUCCESS FAILURE", 555, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=x400;foo", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=rfc822;", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=rfc822", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=;a@b", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=rfc822;a+0Db", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=rfc822;+FF", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=utf-8;a+C2+80", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=rfc822;a+4", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> NOTIFY=NEVER NOTIFY=DELAY", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;b", 501, "5.5.4", 0, "" },
	{ "TO:<a@b> SIZE=1", 555, "5.5.4", 0, "" },
	{ "TO:<a@b> SMTPUTF8", 555, "5.5.4", 0, "" },
	{ "TO:<a@b> BODY=8BITMIME", 555, "5.5.4", 0, "" },
	{ "TO:<a@b> X_=1", 501, "5.5.4", 0, "" },
};

static void test_rcpt_params(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rcpt_param_cases / sizeof rcpt_param_cases[0]; i++) {
		const struct rcpt_param_case *c = &rcpt_param_cases[i];
		struct smtp_rcpt_args r;
		struct smtp_error err = { 0, NULL, NULL };
		char what[300];
		snprintf(what, sizeof what, "rcpt param case %zu (%s)", i, c->in);
		bool ok = smtp_parse_rcpt(c->in, strlen(c->in), false, &r, &err);
		if (c->code) {
			if (ok)
				fail_msg("%s: accepted", what);
			expect_error(what, &err, c->code, c->enh);
			continue;
		}
		if (!ok)
			fail_msg("%s: failed with %d %s %s", what, err.code, err.enhanced, err.text);
		if (r.notify != c->notify)
			fail_msg("%s: notify 0x%x, want 0x%x", what, r.notify, c->notify);
		expect_str(what, "orcpt", r.orcpt, c->orcpt);
	}
}

/* ---- verb splitting ----------------------------------------------------- */

struct verb_case {
	const char *line;
	size_t len;
	enum smtp_verb verb;
	const char *args;
};

static const struct verb_case verb_cases[] = {
	{ "MAIL FROM:<a@b>", 0, SMTP_MAIL, "FROM:<a@b>" },
	{ "mail FROM:<a@b>", 0, SMTP_MAIL, "FROM:<a@b>" },
	{ "MAIL  FROM:<a@b>", 0, SMTP_MAIL, " FROM:<a@b>" },
	{ "MAIL FROM:<a@b> SIZE=1 \t ", 0, SMTP_MAIL, "FROM:<a@b> SIZE=1" },
	{ "RCPT TO:<a@b>", 0, SMTP_RCPT, "TO:<a@b>" },
	{ "EHLO example.org  ", 0, SMTP_EHLO, "example.org" },
	{ "helo example.org", 0, SMTP_HELO, "example.org" },
	{ "DATA", 0, SMTP_DATA, "" },
	{ "BDAT 10 LAST", 0, SMTP_BDAT, "10 LAST" },
	{ "RSET", 0, SMTP_RSET, "" },
	{ "NOOP anything at all", 0, SMTP_NOOP, "anything at all" },
	{ "NOOP \t ", 0, SMTP_NOOP, "" },
	{ "QUIT", 0, SMTP_QUIT, "" },
	{ "quit ", 0, SMTP_QUIT, "" },
	{ "VRFY user", 0, SMTP_VRFY, "user" },
	{ "EXPN list", 0, SMTP_EXPN, "list" },
	{ "HELP", 0, SMTP_HELP, "" },
	{ "STARTTLS", 0, SMTP_STARTTLS, "" },
	{ "StartTLS", 0, SMTP_STARTTLS, "" },
	{ "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", 0, SMTP_AUTH, "PLAIN dGVzdAB0ZXN0AHRlc3Q=" },
	{ "MAILX FROM:<a@b>", 0, SMTP_UNKNOWN, "FROM:<a@b>" },
	{ "MAI", 0, SMTP_UNKNOWN, "" },
	{ "STARTTLSX", 0, SMTP_UNKNOWN, "" },
	{ "", 0, SMTP_UNKNOWN, "" },
	{ " MAIL FROM:<a@b>", 0, SMTP_UNKNOWN, "MAIL FROM:<a@b>" },
	{ "HELO\texample.org", 0, SMTP_UNKNOWN, "" },
	{ "MAIL:FROM", 0, SMTP_UNKNOWN, "" },
	{ "QUIT\0", 5, SMTP_UNKNOWN, "" },
	{ "M\xc3\x84IL x", 0, SMTP_UNKNOWN, "x" },
};

static void test_verbs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof verb_cases / sizeof verb_cases[0]; i++) {
		const struct verb_case *c = &verb_cases[i];
		size_t len = case_len(c->line, c->len), alen = 99;
		const char *args = NULL;
		enum smtp_verb v = smtp_parse_verb(c->line, len, &args, &alen);
		if (v != c->verb)
			fail_msg("verb case %zu (%s): verb %d, want %d", i, c->line, v, c->verb);
		if (args == NULL || args < c->line || args + alen > c->line + len)
			fail_msg("verb case %zu (%s): args outside the line", i, c->line);
		if (alen != strlen(c->args) || memcmp(args, c->args, alen) != 0)
			fail_msg("verb case %zu (%s): args \"%.*s\", want \"%s\"", i, c->line, (int)alen, args, c->args);
	}
}

/* ---- BDAT ------------------------------------------------------------------- */

struct bdat_case {
	const char *in;
	bool ok;
	uint64_t size;
	bool last;
};

static const struct bdat_case bdat_cases[] = {
	{ "1000", true, 1000, false },
	{ "0 LAST", true, 0, true },
	{ "12 last", true, 12, true },
	{ "12 LaSt", true, 12, true },
	{ "0", true, 0, false },
	{ "007", true, 7, false },
	{ "9999999999999999999", true, 9999999999999999999ULL, false },
	{ "9999999999999999999 LAST", true, 9999999999999999999ULL, true },
	{ "10000000000000000000", false, 0, false },
	{ "", false, 0, false },
	{ "-1", false, 0, false },
	{ "+1", false, 0, false },
	{ " 1", false, 0, false },
	{ "1 ", false, 0, false },
	{ "1  LAST", false, 0, false },
	{ "1 LASTX", false, 0, false },
	{ "1 LAST x", false, 0, false },
	{ "1 FIRST", false, 0, false },
	{ "1x", false, 0, false },
	{ "x", false, 0, false },
	{ "LAST", false, 0, false },
	{ "1\tLAST", false, 0, false },
	{ "0x10", false, 0, false },
};

static void test_bdat(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bdat_cases / sizeof bdat_cases[0]; i++) {
		const struct bdat_case *c = &bdat_cases[i];
		uint64_t size = 42;
		bool last = true;
		struct smtp_error err = { 0, NULL, NULL };
		bool ok = smtp_parse_bdat(c->in, strlen(c->in), &size, &last, &err);
		if (ok != c->ok)
			fail_msg("bdat case %zu (%s): ok=%d", i, c->in, ok);
		if (ok && (size != c->size || last != c->last))
			fail_msg("bdat case %zu (%s): size %llu last %d", i, c->in, (unsigned long long)size, last);
		if (!ok)
			expect_error(c->in, &err, 501, "5.5.4");
	}
}

/* ---- HELO -------------------------------------------------------------------- */

struct helo_case {
	const char *in;
	size_t len;
	bool ok;
};

static const struct helo_case helo_cases[] = {
	{ "example.org", 0, true },
	{ "mail.example.org", 0, true },
	{ "[192.0.2.1]", 0, true },
	{ "[IPv6:2001:db8::1]", 0, true },
	{ "foo_bar", 0, true },          /* lenient, like Postfix */
	{ "localhost", 0, true },
	{ "x", 0, true },
	{ "", 0, false },
	{ "a b", 0, false },
	{ " a", 0, false },
	{ "a ", 0, false },
	{ "a\tb", 0, false },
	{ "a\0b", 3, false },
	{ "a\x7f", 0, false },
	{ "a\r\nb", 0, false },
	{ "bücher.example", 0, false },
};

static void test_helo(void **state)
{
	char name[300];
	struct smtp_error err;
	(void)state;

	for (size_t i = 0; i < sizeof helo_cases / sizeof helo_cases[0]; i++) {
		const struct helo_case *c = &helo_cases[i];
		err.code = 0;
		bool ok = smtp_parse_helo(c->in, case_len(c->in, c->len), &err);
		if (ok != c->ok)
			fail_msg("helo case %zu (%s): ok=%d", i, c->in, ok);
		if (!ok)
			expect_error(c->in, &err, 501, "5.5.4");
	}
	fill(name, 255, 'h');
	assert_true(smtp_parse_helo(name, 255, &err));
	fill(name, 256, 'h');
	assert_false(smtp_parse_helo(name, 256, &err));
	assert_int_equal(err.code, 501);
	assert_non_null(strstr(err.text, "too long"));
}

/* ---- xtext ------------------------------------------------------------------ */

struct xtext_case {
	const char *in;
	size_t outsize;
	bool ok;
	const char *out;
};

static const struct xtext_case xtext_cases[] = {
	{ "abc", 100, true, "abc" },
	{ "", 100, true, "" },
	{ "a+2Bb", 100, true, "a+b" },
	{ "a+2bb", 100, true, "a+b" },
	{ "+41+42", 100, true, "AB" },
	{ "+3D", 100, true, "=" },
	{ "+20", 100, true, " " },
	{ "+C3+BC", 100, true, "\xc3\xbc" },
	{ "!~<>", 100, true, "!~<>" },
	{ "abc", 4, true, "abc" },
	{ "abc", 3, false, "" },
	{ "a+41", 3, true, "aA" },
	{ "a+41", 2, false, "" },
	{ "a+", 100, false, "" },
	{ "a+4", 100, false, "" },
	{ "a+4G", 100, false, "" },
	{ "a+G4", 100, false, "" },
	{ "+", 100, false, "" },
	{ "a=b", 100, false, "" },
	{ "a b", 100, false, "" },
	{ "a\x7f" "b", 100, false, "" },
	{ "a\x1f" "b", 100, false, "" },
	{ "\xc3\xbc", 100, false, "" },
	{ "+00", 100, false, "" },
	{ "+0A", 100, false, "" },
	{ "+0d", 100, false, "" },
	{ "+7F", 100, false, "" },
};

static void test_xtext(void **state)
{
	char out[100];
	(void)state;

	for (size_t i = 0; i < sizeof xtext_cases / sizeof xtext_cases[0]; i++) {
		const struct xtext_case *c = &xtext_cases[i];
		memset(out, 'X', sizeof out);
		bool ok = smtp_xtext_decode(c->in, strlen(c->in), out, c->outsize);
		if (ok != c->ok)
			fail_msg("xtext case %zu (%s): ok=%d", i, c->in, ok);
		if (memchr(out, '\0', c->outsize) == NULL)
			fail_msg("xtext case %zu (%s): output not terminated", i, c->in);
		expect_str(c->in, "xtext", out, c->out);
		/* never a byte past outsize */
		if (c->outsize < sizeof out && out[c->outsize] != 'X')
			fail_msg("xtext case %zu (%s): wrote past outsize", i, c->in);
	}
	/* only len bytes are read: "+4" then a '1' beyond len */
	assert_false(smtp_xtext_decode("a+41", 3, out, sizeof out));
	assert_false(smtp_xtext_decode("abc", 3, out, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_local_part_length),
		cmocka_unit_test(test_path_length),
		cmocka_unit_test(test_domain_length),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_mail_param_texts),
		cmocka_unit_test(test_envid_length),
		cmocka_unit_test(test_mail_error_order),
		cmocka_unit_test(test_rcpt_params),
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_xtext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
