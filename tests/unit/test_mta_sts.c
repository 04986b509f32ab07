/*
 * test_mta_sts.c — unit tests of MTA-STS (src/mta/sts*.c): the policy
 * body parser (RFC 8461 §3.2) with its limits, duplicates and line ends,
 * the TXT record parser and record selection (§3.1), MX pattern syntax
 * and matching (§4.1), the cache rules as a pure function over a clock
 * of the test's own (§3.3, §5.1), the cache files, and the module's
 * promises that need no network (answers come later, never inside
 * mta_sts_get; cancel; free inside a callback).  Discovery and fetching
 * against real DNS and HTTPS servers are in tests/e2e/test_mta_sts.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/config.h"
#include "lib/log.h"
#include "mta/sts.h"
#include "mta/sts_int.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- policy bodies ------------------------------------------------------------ */

static struct mta_sts_policy parse_ok(const char *text, size_t n)
{
	struct mta_sts_policy p;
	const char *why = NULL;
	bool ok = sts_policy_parse(text, n, &p, &why);
	if (!ok)
		fail_msg("policy refused (%s): %.*s", why, (int)(n > 200 ? 200 : n), text);
	return p;
}

static void expect_invalid(const char *text, size_t n, const char *want)
{
	struct mta_sts_policy p;
	const char *why = NULL;
	if (sts_policy_parse(text, n, &p, &why))
		fail_msg("policy taken, wanted '%s': %.*s", want, (int)(n > 200 ? 200 : n), text);
	assert_non_null(why);
	assert_string_equal(why, want);
	assert_int_equal(p.nmx, 0);
	assert_null(p.mx);
}

static void test_policy_example(void **state)
{
	/* RFC 8461 §3.2's example. */
	struct mta_sts_policy p = parse_ok(S("version: STSv1\r\n"
					     "mode: enforce\r\n"
					     "mx: mail.example.com\r\n"
					     "mx: *.example.net\r\n"
					     "mx: backupmx.example.com\r\n"
					     "max_age: 604800\r\n"));
	assert_int_equal(p.mode, STS_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.nmx, 3);
	assert_string_equal(p.mx[0], "mail.example.com");
	assert_string_equal(p.mx[1], "*.example.net");
	assert_string_equal(p.mx[2], "backupmx.example.com");
	assert_string_equal(p.id, "");
	assert_int_equal(p.fetched, 0);
	sts_policy_clear(&p);
	assert_null(p.mx);
}

static void test_policy_layout(void **state)
{
	const char *variants[] = {
		"version: STSv1\nmode: testing\nmx: a.example.com\nmax_age: 10\n",     /* LF */
		"version: STSv1\nmode: testing\nmx: a.example.com\nmax_age: 10",       /* no final line end */
		"version:STSv1\r\nmode:testing\r\nmx:a.example.com\r\nmax_age:10\r\n", /* no blank after ':' */
		"version: STSv1 \t\nmode:\ttesting\nmx:  A.Example.COM.  \nmax_age: 10\n\n\n", /* blanks, case, dot, blank lines */
		"  version : STSv1\n\n mode : testing\r\n\t\r\nmx : a.example.com\nmax_age :10\n",  /* blanks around keys */
		"max_age: 10\nmx: a.example.com\nmode: testing\nversion: STSv1\n",     /* any order */
		"version: STSv1\nfoo: bar baz\nmode: testing\nx.y_z-1: \xc3\xa9t\xc3\xa9\nmx: a.example.com\nmax_age: 10\nempty:\n",
	};
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		struct mta_sts_policy p = parse_ok(variants[i], strlen(variants[i]));
		assert_int_equal(p.mode, STS_TESTING);
		assert_int_equal(p.max_age, 10);
		assert_int_equal(p.nmx, 1);
		assert_string_equal(p.mx[0], "a.example.com");
		sts_policy_clear(&p);
	}
}

static void test_policy_duplicates_and_modes(void **state)
{
	/* §3.2: a duplicated non-mx field counts once, the first time, even when the later one is bad. */
	struct mta_sts_policy p = parse_ok(S("version: STSv1\nmode: enforce\nmode: none\nmode: bogus\n"
					     "max_age: 5\nmax_age: 99999999999999\nversion: STSv9\n"
					     "mx: a.example.com\nmx: a.example.com\nmx: *.b.example.com\n"));
	assert_int_equal(p.mode, STS_ENFORCE);
	assert_int_equal(p.max_age, 5);
	assert_int_equal(p.nmx, 3);
	sts_policy_clear(&p);

	/* mode none needs no mx (the way to withdraw MTA-STS, §8.3); it may have some. */
	p = parse_ok(S("version: STSv1\nmode: none\nmax_age: 0\n"));
	assert_int_equal(p.mode, STS_NONE);
	assert_int_equal(p.nmx, 0);
	assert_int_equal(p.max_age, 0);
	sts_policy_clear(&p);
	p = parse_ok(S("version: STSv1\nmode: none\nmx: a.example.com\nmax_age: 1\n"));
	assert_int_equal(p.nmx, 1);
	sts_policy_clear(&p);

	/* Keys are case-sensitive (%s in the ABNF): "Mode" is an unknown key, so mode is missing. */
	expect_invalid(S("version: STSv1\nMode: enforce\nmx: a.example.com\nmax_age: 1\n"), "no mode");
	expect_invalid(S("version: STSv1\nmode: Enforce\nmx: a.example.com\nmax_age: 1\n"),
		       "mode is not enforce, testing or none");
	expect_invalid(S("version: stsv1\nmode: enforce\nmx: a.example.com\nmax_age: 1\n"), "version is not STSv1");
}

static void test_policy_invalid(void **state)
{
	expect_invalid(S(""), "no version");
	expect_invalid(S("\n\n"), "no version");
	expect_invalid(S("mode: enforce\nmx: a.example.com\nmax_age: 1\n"), "no version");
	expect_invalid(S("version: STSv1\nmx: a.example.com\nmax_age: 1\n"), "no mode");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\n"), "no max_age");
	expect_invalid(S("version: STSv1\nmode: enforce\nmax_age: 1\n"), "no mx");
	expect_invalid(S("version: STSv1\nmode: testing\nmax_age: 1\n"), "no mx");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 1\ngarbage\n"),
		       "a line without ':'");
	expect_invalid(S("<html><body>Not found</body></html>\n"), "a line without ':'");
	expect_invalid(S("version: STSv1\n: x\n"), "a malformed key");
	expect_invalid(S("version: STSv1\n_x: y\n"), "a malformed key");
	expect_invalid(S("version: STSv1\nx y: z\n"), "a malformed key");
	expect_invalid(S("version: STSv1\nabcdefghijabcdefghijabcdefghijabc: z\n"), "a malformed key");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 1\r\r\n"), "a control character");
	expect_invalid(S("version: STSv1\rmode: enforce\nmx: a.example.com\nmax_age: 1\n"), "a control character");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 1\nx: \0\n"),
		       "a control character");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 1\nx: \x7f\n"),
		       "a control character");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: -1\n"),
		       "max_age is not 1 to 10 digits");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 1 d\n"),
		       "max_age is not 1 to 10 digits");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age:\n"),
		       "max_age is not 1 to 10 digits");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 12345678901\n"),
		       "max_age is not 1 to 10 digits");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: +1\n"),
		       "max_age is not 1 to 10 digits");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.*.example.com\nmax_age: 1\n"),
		       "an mx pattern is not [*.]domain");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx: a.example.com, b.example.com\nmax_age: 1\n"),
		       "an mx pattern is not [*.]domain");
	expect_invalid(S("version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n"), "an mx pattern is not [*.]domain");
}

static void test_policy_limits(void **state)
{
	/* max_age: the RFC's maximum is taken, larger 10-digit values are cut to it. */
	struct mta_sts_policy p = parse_ok(S("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n"));
	assert_int_equal(p.max_age, MTA_STS_MAX_AGE_MAX);
	sts_policy_clear(&p);
	p = parse_ok(S("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n"));
	assert_int_equal(p.max_age, MTA_STS_MAX_AGE_MAX);
	sts_policy_clear(&p);
	p = parse_ok(S("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 0000000007\n"));
	assert_int_equal(p.max_age, 7);
	sts_policy_clear(&p);

	/* STS_MX_MAX patterns, and one more. */
	struct buf b = BUF_INIT;
	buf_puts(&b, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < STS_MX_MAX; i++)
		buf_printf(&b, "mx: mx%d.example.com\n", i);
	p = parse_ok(b.data, b.len);
	assert_int_equal(p.nmx, STS_MX_MAX);
	char last[64];
	snprintf(last, sizeof last, "mx%d.example.com", STS_MX_MAX - 1);
	assert_string_equal(p.mx[STS_MX_MAX - 1], last);
	sts_policy_clear(&p);
	buf_puts(&b, "mx: one.more.example\n");
	expect_invalid(b.data, b.len, "too many mx patterns");

	/* A line of STS_LINE_MAX octets (its CRLF not counted), and one longer. */
	buf_reset(&b);
	buf_puts(&b, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nx: ");
	size_t start = b.len - 3;
	while (b.len - start < STS_LINE_MAX)
		buf_putc(&b, 'v');
	buf_puts(&b, "\r\n");
	p = parse_ok(b.data, b.len);
	sts_policy_clear(&p);
	b.len -= 2;
	buf_puts(&b, "v\r\n");
	expect_invalid(b.data, b.len, "a line longer than 1024 octets");

	/* A body of exactly STS_POLICY_MAX octets, and one more. */
	buf_reset(&b);
	buf_puts(&b, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n");
	while (b.len < STS_POLICY_MAX) {
		size_t room = STS_POLICY_MAX - b.len;
		if (room < 4) {
			buf_putc(&b, '\n');
			continue;
		}
		size_t n = room > 500 ? 500 : room;     /* a line of n octets with its LF */
		buf_puts(&b, "x:");
		for (size_t i = 3; i < n; i++)
			buf_putc(&b, 'p');
		buf_putc(&b, '\n');
	}
	assert_int_equal(b.len, STS_POLICY_MAX);
	p = parse_ok(b.data, b.len);
	sts_policy_clear(&p);
	buf_putc(&b, '\n');
	expect_invalid(b.data, b.len, "larger than 64 KiB");
	buf_free(&b);

	/* A label of 63 and of 64 octets; 253 octets in all and 254. */
	char pat[400];
	snprintf(pat, sizeof pat, "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %.63s.example\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	p = parse_ok(pat, strlen(pat));
	sts_policy_clear(&p);
	snprintf(pat, sizeof pat, "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %.64s.example\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_invalid(pat, strlen(pat), "an mx pattern is not [*.]domain");
}

static void test_policy_format_roundtrip(void **state)
{
	struct mta_sts_policy p = parse_ok(S("mx: *.A.example\nversion: STSv1\nmax_age: 42\nmode: testing\nmx: b.example.\n"));
	struct buf b = BUF_INIT;
	sts_policy_format(&p, &b);
	assert_string_equal(b.data, "version: STSv1\nmode: testing\nmx: *.a.example\nmx: b.example\nmax_age: 42\n");
	struct mta_sts_policy q = parse_ok(b.data, b.len);
	assert_int_equal(q.mode, p.mode);
	assert_int_equal(q.max_age, p.max_age);
	assert_int_equal(q.nmx, p.nmx);
	for (size_t i = 0; i < p.nmx; i++)
		assert_string_equal(q.mx[i], p.mx[i]);

	/* dup is deep; free clears the pointer. */
	snprintf(p.id, sizeof p.id, "abc");
	p.fetched = 100;
	p.expires = 142;
	struct mta_sts_policy *d = mta_sts_policy_dup(&p);
	assert_ptr_not_equal(d->mx, p.mx);
	assert_ptr_not_equal(d->mx[0], p.mx[0]);
	assert_string_equal(d->mx[1], "b.example");
	assert_string_equal(d->id, "abc");
	assert_int_equal(d->expires, 142);
	mta_sts_policy_free(&d);
	assert_null(d);
	mta_sts_policy_free(&d);
	assert_null(mta_sts_policy_dup(NULL));
	sts_policy_clear(&p);
	sts_policy_clear(&q);
	buf_free(&b);

	assert_string_equal(mta_sts_mode_name(STS_NONE), "none");
	assert_string_equal(mta_sts_mode_name(STS_TESTING), "testing");
	assert_string_equal(mta_sts_mode_name(STS_ENFORCE), "enforce");
	assert_string_equal(mta_sts_status_name(MTA_STS_FAILED), "FAIL");
}

/* ---- patterns and matching ------------------------------------------------------ */

static void test_pattern_syntax(void **state)
{
	char out[256];
	assert_true(sts_pattern_parse(S("mail.example.com"), out));
	assert_string_equal(out, "mail.example.com");
	assert_true(sts_pattern_parse(S("*.Example.NET."), out));
	assert_string_equal(out, "*.example.net");
	assert_true(sts_pattern_parse(S("x-1.a0"), out));
	assert_true(sts_pattern_parse(S("localhost"), out));
	assert_true(sts_pattern_parse(S("*.com"), out));
	assert_true(sts_pattern_parse(S("1.2.3.4"), out));   /* RFC 5321 Domain allows digit labels */

	const char *bad[] = {
		"", ".", "*", "*.", "**.example.com", "*example.com", "a.*.example.com", "*.*.example.com",
		"example..com", ".example.com", "example.com..", "-a.example", "a-.example", "a.-b.example",
		"a_b.example", "a b.example", "xn--\xc3\xa9.example", "a.example/", "[127.0.0.1]", "a.example:25",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (sts_pattern_parse(bad[i], strlen(bad[i]), out))
			fail_msg("pattern '%s' was taken", bad[i]);
}

static void test_mx_match(void **state)
{
	/* RFC 8461 §4.1. */
	assert_true(mta_sts_pattern_match("*.example.com", "mail.example.com"));
	assert_false(mta_sts_pattern_match("*.example.com", "example.com"));
	assert_false(mta_sts_pattern_match("*.example.com", "foo.bar.example.com"));
	/* Case and trailing dots. */
	assert_true(mta_sts_pattern_match("*.example.com", "MAIL.Example.COM."));
	assert_true(mta_sts_pattern_match("mx.example.com", "MX.EXAMPLE.COM"));
	assert_true(mta_sts_pattern_match("mx.example.com", "mx.example.com."));
	assert_false(mta_sts_pattern_match("mx.example.com", "mx.example.com.."));
	/* No partial or suffix matches. */
	assert_false(mta_sts_pattern_match("mx.example.com", "amx.example.com"));
	assert_false(mta_sts_pattern_match("mx.example.com", "mx.example.co"));
	assert_false(mta_sts_pattern_match("mx.example.com", "mx.example.com.evil"));
	assert_false(mta_sts_pattern_match("*.example.com", "mailexample.com"));
	assert_false(mta_sts_pattern_match("*.example.com", ".example.com"));
	assert_false(mta_sts_pattern_match("*.example.com", "a.xexample.com"));
	assert_false(mta_sts_pattern_match("*.example.com", "*.example.com"));
	assert_false(mta_sts_pattern_match("*.example.com", ""));
	assert_false(mta_sts_pattern_match("*.example.com", "."));
	assert_false(mta_sts_pattern_match("mx.example.com", ""));
	assert_false(mta_sts_pattern_match(NULL, "mx.example.com"));
	assert_false(mta_sts_pattern_match("mx.example.com", NULL));

	struct mta_sts_policy p = parse_ok(S("version: STSv1\nmode: enforce\nmax_age: 1\n"
					     "mx: mail.example.com\nmx: *.example.net\n"));
	assert_true(mta_sts_mx_match(&p, "mail.example.com"));
	assert_true(mta_sts_mx_match(&p, "mx2.example.net"));
	assert_false(mta_sts_mx_match(&p, "example.net"));
	assert_false(mta_sts_mx_match(&p, "mx.example.com"));
	assert_false(mta_sts_mx_match(NULL, "mail.example.com"));
	sts_policy_clear(&p);
	p = parse_ok(S("version: STSv1\nmode: none\nmax_age: 1\n"));
	assert_false(mta_sts_mx_match(&p, "mail.example.com"));
	sts_policy_clear(&p);
}

static void test_domain_normalize(void **state)
{
	char d[STS_DOMAIN_MAX + 1];
	assert_true(sts_domain_normalize("Example.COM.", d));
	assert_string_equal(d, "example.com");
	assert_false(sts_domain_normalize("", d));
	assert_false(sts_domain_normalize(NULL, d));
	assert_false(sts_domain_normalize("../etc", d));
	assert_false(sts_domain_normalize("a/b.example", d));
	assert_false(sts_domain_normalize(".", d));
	assert_false(sts_domain_normalize("*.example", d));
	char longd[300];
	memset(longd, 0, sizeof longd);
	for (size_t i = 0; i < STS_DOMAIN_MAX; i += 2)
		memcpy(longd + i, i + 2 < STS_DOMAIN_MAX ? "a." : "aa", 2);
	assert_int_equal(strlen(longd), STS_DOMAIN_MAX);
	assert_true(sts_domain_normalize(longd, d));
	longd[STS_DOMAIN_MAX] = 'a';
	assert_false(sts_domain_normalize(longd, d));
}

/* ---- TXT records --------------------------------------------------------------------- */

static enum sts_txt_kind txt(const char *s, char id[MTA_STS_ID_MAX + 1])
{
	return sts_txt_parse(s, strlen(s), id);
}

static void test_txt_parse(void **state)
{
	char id[MTA_STS_ID_MAX + 1];
	assert_int_equal(txt("v=STSv1; id=20160831085700Z;", id), STS_TXT_VALID);
	assert_string_equal(id, "20160831085700Z");
	assert_int_equal(txt("v=STSv1;id=abc", id), STS_TXT_VALID);
	assert_string_equal(id, "abc");
	assert_int_equal(txt("v=STSv1 ;\tid=abc ; ", id), STS_TXT_VALID);
	assert_int_equal(txt("v=STSv1; ext-1.x=val!ue; id=abc", id), STS_TXT_VALID);
	assert_string_equal(id, "abc");
	/* The first id counts. */
	assert_int_equal(txt("v=STSv1; id=first; id=second", id), STS_TXT_VALID);
	assert_string_equal(id, "first");
	assert_int_equal(txt("v=STSv1; id=12345678901234567890123456789012", id), STS_TXT_VALID);
	assert_int_equal(strlen(id), 32);

	/* Not STSv1 records at all: ignored. */
	const char *other[] = { "", "v=spf1 -all", "v=STSv10; id=a", "V=STSv1; id=a", "v=stsv1; id=a",
				" v=STSv1; id=a", "v=STSv", "id=a; v=STSv1" };
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		if (txt(other[i], id) != STS_TXT_OTHER)
			fail_msg("'%s' is not an STSv1 record", other[i]);

	/* STSv1 records that break the grammar. */
	const char *bad[] = {
		"v=STSv1", "v=STSv1;", "v=STSv1; ", "v=STSv1 id=abc", "v=STSv1; id=", "v=STSv1; id=a_b",
		"v=STSv1; id=a-b", "v=STSv1; id=123456789012345678901234567890123", "v=STSv1; ext=1",
		"v=STSv1;; id=abc", "v=STSv1; id=abc;;", "v=STSv1; id = abc", "v=STSv1; id=abc; x",
		"v=STSv1; id=abc; =x", "v=STSv1; id=abc; x=", "v=STSv1; id=abc; x=a=b", "v=STSv1; id=ab c",
		"v=STSv1; id=abc; _x=1", "v=STSv1; id=\xc3\xa9", "v=STSv1; id=abc; x=\x01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (txt(bad[i], id) != STS_TXT_INVALID)
			fail_msg("'%s' should be an invalid STSv1 record", bad[i]);
		assert_string_equal(id, "");
	}
	/* A NUL inside the record (TXT data may hold any octet). */
	assert_int_equal(sts_txt_parse(S("v=STSv1; id=ab\0c"), id), STS_TXT_INVALID);
}

static void test_txt_select(void **state)
{
	char id[MTA_STS_ID_MAX + 1];
	const char *why = NULL;
	char a[] = "v=spf1 -all", b[] = "v=STSv1; id=one", c[] = "v=STSv1; id=two", d[] = "v=STSv1; id=bad!";
	struct dns_txt one[] = { { sizeof a - 1, a }, { sizeof b - 1, b } };
	assert_true(sts_txt_select(one, 2, id, &why));
	assert_string_equal(id, "one");
	struct dns_txt two[] = { { sizeof b - 1, b }, { sizeof a - 1, a }, { sizeof c - 1, c } };
	assert_false(sts_txt_select(two, 3, id, &why));
	assert_string_equal(why, "more than one v=STSv1 TXT record");
	assert_string_equal(id, "");
	/* An invalid STSv1 record still counts as one: two records, no policy. */
	struct dns_txt inv[] = { { sizeof d - 1, d }, { sizeof b - 1, b } };
	assert_false(sts_txt_select(inv, 2, id, &why));
	assert_string_equal(why, "more than one v=STSv1 TXT record");
	assert_false(sts_txt_select(inv, 1, id, &why));
	assert_string_equal(why, "invalid v=STSv1 TXT record");
	assert_false(sts_txt_select(one, 1, id, &why));
	assert_string_equal(why, "no v=STSv1 TXT record");
	assert_false(sts_txt_select(NULL, 0, id, &why));
}

/* ---- the cache rules ------------------------------------------------------------------- */

static struct mta_sts_policy cached(const char *id, int64_t fetched, uint64_t max_age)
{
	struct mta_sts_policy p;
	memset(&p, 0, sizeof p);
	p.mode = STS_ENFORCE;
	snprintf(p.id, sizeof p.id, "%s", id);
	p.fetched = fetched;
	p.max_age = max_age;
	p.expires = fetched + (int64_t)max_age;
	return p;
}

static void test_cache_decide(void **state)
{
	const int64_t t0 = 1700000000;
	struct mta_sts_policy p = cached("one", t0, 7 * 86400);
	struct sts_cache_view none = { .policy = NULL, .fail_id = "", .fail_until = 0 };
	struct sts_cache_view have = { .policy = &p, .fail_id = "", .fail_until = 0 };

	/* Nothing cached: the TXT answer decides alone. */
	assert_int_equal(sts_cache_decide(&none, STS_ANSWER_ID, "one", t0), STS_STEP_FETCH);
	assert_int_equal(sts_cache_decide(&none, STS_ANSWER_NONE, "", t0), STS_STEP_NONE);
	assert_int_equal(sts_cache_decide(&none, STS_ANSWER_TEMPFAIL, "", t0), STS_STEP_TEMPFAIL);

	/* A valid policy: same id, no fetch; TXT gone or DNS down, still applies; new id, fetch. */
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_ID, "one", t0 + 10), STS_STEP_CACHE);
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_NONE, "", t0 + 10), STS_STEP_CACHE);
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_TEMPFAIL, "", t0 + 10), STS_STEP_CACHE);
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_ID, "two", t0 + 10), STS_STEP_FETCH);
	/* ids compare exactly (case too). */
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_ID, "ONE", t0 + 10), STS_STEP_FETCH);

	/* A day old: answered, and refreshed behind the answer. */
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_ID, "one", t0 + STS_REFRESH_AFTER_S - 1), STS_STEP_CACHE);
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_ID, "one", t0 + STS_REFRESH_AFTER_S), STS_STEP_REFRESH);
	/* ...but not again right after a failed refresh of that id. */
	struct sts_cache_view refail = { .policy = &p, .fail_id = "one", .fail_until = t0 + STS_REFRESH_AFTER_S + 300 };
	assert_int_equal(sts_cache_decide(&refail, STS_ANSWER_ID, "one", t0 + STS_REFRESH_AFTER_S + 1), STS_STEP_CACHE);
	assert_int_equal(sts_cache_decide(&refail, STS_ANSWER_ID, "one", t0 + STS_REFRESH_AFTER_S + 300), STS_STEP_REFRESH);

	/* Expiry: valid while now < fetched + max_age. */
	int64_t exp = p.expires;
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_NONE, "", exp - 1), STS_STEP_CACHE);
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_NONE, "", exp), STS_STEP_NONE);
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_TEMPFAIL, "", exp), STS_STEP_TEMPFAIL);
	assert_int_equal(sts_cache_decide(&have, STS_ANSWER_ID, "one", exp), STS_STEP_FETCH);
	assert_true(sts_cache_valid(&p, exp - 1));
	assert_false(sts_cache_valid(&p, exp));
	assert_false(sts_cache_valid(NULL, 0));

	/* max_age 0 is never valid from the cache. */
	struct mta_sts_policy zero = cached("z", t0, 0);
	struct sts_cache_view z = { .policy = &zero, .fail_id = "", .fail_until = 0 };
	assert_int_equal(sts_cache_decide(&z, STS_ANSWER_ID, "z", t0), STS_STEP_FETCH);

	/* A failed fetch for an id is not retried for STS_RETRY_AFTER_S (§3.3)... */
	struct sts_cache_view failed = { .policy = NULL, .fail_id = "two", .fail_until = t0 + STS_RETRY_AFTER_S };
	assert_int_equal(sts_cache_decide(&failed, STS_ANSWER_ID, "two", t0 + 1), STS_STEP_FAILED);
	assert_int_equal(sts_cache_decide(&failed, STS_ANSWER_ID, "two", t0 + STS_RETRY_AFTER_S), STS_STEP_FETCH);
	/* ...but another id is fetched at once. */
	assert_int_equal(sts_cache_decide(&failed, STS_ANSWER_ID, "three", t0 + 1), STS_STEP_FETCH);
	/* With a valid cached policy, the failure means: keep using it. */
	struct sts_cache_view both = { .policy = &p, .fail_id = "two", .fail_until = t0 + 400 };
	assert_int_equal(sts_cache_decide(&both, STS_ANSWER_ID, "two", t0 + 100), STS_STEP_CACHE);
	assert_int_equal(sts_cache_decide(&both, STS_ANSWER_ID, "two", t0 + 400), STS_STEP_FETCH);
	assert_int_equal(sts_cache_decide(&both, STS_ANSWER_ID, "one", t0 + 100), STS_STEP_CACHE);
	/* A NULL fail_id is no failure. */
	struct sts_cache_view nul = { .policy = NULL, .fail_id = NULL, .fail_until = t0 + 400 };
	assert_int_equal(sts_cache_decide(&nul, STS_ANSWER_ID, "two", t0), STS_STEP_FETCH);
}

/* ---- the cache files ------------------------------------------------------------------- */

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/tern-test-sts-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[STS_CACHE_MAX + 2];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_cache_files(void **state)
{
	char *base = make_tmpdir();
	char dir[512], path[600];
	snprintf(dir, sizeof dir, "%s/mta-sts", base);
	int64_t now = 1700000000;

	/* Nothing there yet: no policy, nothing logged as an error. */
	assert_null(sts_cache_load(dir, "example.com", now));

	struct mta_sts_policy p = parse_ok(S("version: STSv1\nmode: enforce\nmx: *.example.com\nmx: mx.example.net\nmax_age: 86400\n"));
	snprintf(p.id, sizeof p.id, "abc123");
	p.fetched = now;
	p.expires = now + 86400;
	assert_true(sts_cache_store(dir, "Example.COM.", &p));     /* creates the directory */
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof path, "%s/example.com", dir);
	assert_string_equal(read_file(path), "tern-mta-sts-cache 1 id=abc123 fetched=1700000000\n"
			    "version: STSv1\nmode: enforce\nmx: *.example.com\nmx: mx.example.net\nmax_age: 86400\n");
	assert_int_equal(count_files(dir), 1);     /* no temporary file left */

	struct mta_sts_policy *q = sts_cache_load(dir, "EXAMPLE.com", now + 10);
	assert_non_null(q);
	assert_int_equal(q->mode, STS_ENFORCE);
	assert_string_equal(q->id, "abc123");
	assert_int_equal(q->fetched, now);
	assert_int_equal(q->expires, now + 86400);
	assert_int_equal(q->nmx, 2);
	assert_string_equal(q->mx[1], "mx.example.net");
	mta_sts_policy_free(&q);

	/* Replaced by a newer one. */
	p.mode = STS_TESTING;
	snprintf(p.id, sizeof p.id, "def");
	assert_true(sts_cache_store(dir, "example.com", &p));
	q = sts_cache_load(dir, "example.com", now);
	assert_non_null(q);
	assert_int_equal(q->mode, STS_TESTING);
	assert_string_equal(q->id, "def");
	mta_sts_policy_free(&q);
	assert_int_equal(count_files(dir), 1);

	/* Expired: not returned, and the file goes. */
	assert_null(sts_cache_load(dir, "example.com", now + 86400));
	assert_int_equal(access(path, F_OK), -1);

	/* Malformed files are ignored (and left alone). */
	const char *bad[] = {
		"",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 100\n",
		"tern-mta-sts-cache 2 id=a fetched=1700000000\nversion: STSv1\nmode: enforce\nmx: a.example\nmax_age: 100\n",
		"tern-mta-sts-cache 1 id=a_b fetched=1700000000\nversion: STSv1\nmode: enforce\nmx: a.example\nmax_age: 100\n",
		"tern-mta-sts-cache 1 id= fetched=1700000000\nversion: STSv1\nmode: enforce\nmx: a.example\nmax_age: 100\n",
		"tern-mta-sts-cache 1 id=a fetched=17x\nversion: STSv1\nmode: enforce\nmx: a.example\nmax_age: 100\n",
		"tern-mta-sts-cache 1 id=a fetched=1700000000",
		"tern-mta-sts-cache 1 id=a fetched=1700000000\nversion: STSv1\nmode: bogus\nmx: a.example\nmax_age: 100\n",
		"tern-mta-sts-cache 1 id=a\nversion: STSv1\nmode: enforce\nmx: a.example\nmax_age: 100\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(path, bad[i]);
		if (sts_cache_load(dir, "example.com", now))
			fail_msg("cache file %zu was taken", i);
		assert_int_equal(access(path, F_OK), 0);
	}
	write_file(path, "tern-mta-sts-cache 1 id=a fetched=1700000000\nversion: STSv1\nmode: none\nmax_age: 100\n");
	q = sts_cache_load(dir, "example.com", now);
	assert_non_null(q);
	assert_int_equal(q->mode, STS_NONE);
	mta_sts_policy_free(&q);

	/* Names that are no host names never become paths. */
	assert_false(sts_cache_store(dir, "../escape", &p));
	assert_false(sts_cache_store(dir, "a/b", &p));
	assert_null(sts_cache_load(dir, "../mta-sts/example.com", now));
	/* A directory that cannot be made. */
	char nodir[600];
	snprintf(nodir, sizeof nodir, "%s/example.com/sub", dir);
	assert_false(sts_cache_store(nodir, "example.com", &p));

	sts_policy_clear(&p);
	unlink(path);
	rmdir(dir);
	rmdir(base);
	free(base);
}

/* ---- the module, without network ------------------------------------------------------ */

struct calls {
	int n;
	bool had_policy;
	enum mta_sts_status st;
	char why[256];
	struct mta_sts_req *req;
	struct mta_sts **free_me;
	struct event_base *base;
};

static void on_policy(const struct mta_sts_policy *p, void *arg)
{
	struct calls *c = arg;
	c->n++;
	c->had_policy = p != NULL;
	const char *why;
	enum mta_sts_source src;
	c->st = mta_sts_req_status(c->req, &src, &why);
	snprintf(c->why, sizeof c->why, "%s", why);
	if (c->free_me)
		mta_sts_free(c->free_me);
}

static void test_module_without_network(void **state)
{
	struct event_base *base = event_base_new();
	/* A resolver nobody answers: these requests must not need it. */
	struct dns_resolver *r = dns_resolver_new(base, "127.0.0.1:9", "none");
	assert_non_null(r);
	struct config cfg;
	config_defaults(&cfg);
	free(cfg.data_dir);
	cfg.data_dir = NULL;

	/* Off in the config: NONE, later, once. */
	cfg.delivery.mta_sts = false;
	struct mta_sts *s = mta_sts_new(base, &cfg, r);
	assert_non_null(s);
	struct calls c1 = { 0 };
	assert_false(mta_sts_busy(s));
	c1.req = mta_sts_get(s, "example.com", on_policy, &c1);
	assert_non_null(c1.req);
	assert_int_equal(c1.n, 0);
	assert_true(mta_sts_busy(s));      /* an answer not yet delivered */
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_false(mta_sts_busy(s));
	assert_int_equal(c1.n, 1);
	assert_false(c1.had_policy);
	assert_int_equal(c1.st, MTA_STS_NONE);
	assert_string_equal(c1.why, "MTA-STS is off ([delivery] mta_sts)");
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(c1.n, 1);
	mta_sts_free(&s);
	assert_null(s);

	/* On: a name that is no host name is NONE without any lookup. */
	cfg.delivery.mta_sts = true;
	s = mta_sts_new(base, &cfg, r);
	struct calls c2 = { 0 }, c3 = { 0 }, c4 = { 0 };
	c2.req = mta_sts_get(s, "not a domain", on_policy, &c2);
	c3.req = mta_sts_get(s, "", on_policy, &c3);
	/* Cancelled before its turn: never called. */
	c4.req = mta_sts_get(s, "bad_name", on_policy, &c4);
	mta_sts_cancel(c4.req);
	assert_int_equal(c2.n + c3.n, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(c2.n, 1);
	assert_int_equal(c2.st, MTA_STS_NONE);
	assert_string_equal(c2.why, "not a host name");
	assert_int_equal(c3.n, 1);
	assert_int_equal(c4.n, 0);

	/* Freeing the module inside a callback, with other answers still pending. */
	struct calls c5 = { 0 }, c6 = { 0 };
	c5.req = mta_sts_get(s, "-", on_policy, &c5);
	c6.req = mta_sts_get(s, "-", on_policy, &c6);
	c5.free_me = c6.free_me = &s;
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(c5.n + c6.n, 1);
	assert_null(s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(c5.n + c6.n, 1);

	/* A pending lookup dropped by mta_sts_free: no callback, no leak. */
	s = mta_sts_new(base, &cfg, r);
	struct calls c7 = { 0 };
	c7.req = mta_sts_get(s, "example.com", on_policy, &c7);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_true(mta_sts_busy(s));      /* the TXT lookup is under way */
	/* Cancelled, the discovery goes on (it still fills the cache). */
	mta_sts_cancel(c7.req);
	assert_true(mta_sts_busy(s));
	struct calls c8 = { 0 };
	c8.req = mta_sts_get(s, "EXAMPLE.com.", on_policy, &c8);
	mta_sts_free(&s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(c7.n + c8.n, 0);

	dns_resolver_free(&r);
	event_base_free(base);
	config_free(&cfg);
}

int main(void)
{
	log_set_level(LOG_ERROR);      /* the malformed cache files are warned about */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_example),
		cmocka_unit_test(test_policy_layout),
		cmocka_unit_test(test_policy_duplicates_and_modes),
		cmocka_unit_test(test_policy_invalid),
		cmocka_unit_test(test_policy_limits),
		cmocka_unit_test(test_policy_format_roundtrip),
		cmocka_unit_test(test_pattern_syntax),
		cmocka_unit_test(test_mx_match),
		cmocka_unit_test(test_domain_normalize),
		cmocka_unit_test(test_txt_parse),
		cmocka_unit_test(test_txt_select),
		cmocka_unit_test(test_cache_decide),
		cmocka_unit_test(test_cache_files),
		cmocka_unit_test(test_module_without_network),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
