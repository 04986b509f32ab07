/*
 * test_mail_text.c — the small parsers and encoders of src/mail/: header
 * iteration and unfolding, RFC 2047 decoding, charset conversion, RFC 5322
 * dates, IMAP string output, MIME parameters (RFC 2231) and
 * Content-Transfer-Encoding decoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/charset.h"
#include "mail/cte.h"
#include "mail/date.h"
#include "mail/header.h"
#include "mail/imapstr.h"
#include "mail/mimeparam.h"
#include "mail/rfc2047.h"

/* ---- header ------------------------------------------------------------ */

static void test_header_iter(void **state)
{
	(void)state;
	const char h[] = "Subject: hello\r\n world\r\n"
			 "no colon here\r\n"
			 " orphan continuation\r\n"
			 "Bad Name: x\r\n"
			 "X-Empty:\r\n"
			 "Obs-Space  : v\r\n"
			 "From:a@b\n"
			 "\r\n"
			 "Body: not a header\r\n";
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	mail_hdr_iter_init(&it, h, sizeof h - 1);
	assert_true(mail_hdr_next(&it, &f));
	assert_true(mail_hdr_is(&f, "SUBJECT"));
	assert_int_equal(f.value_len, strlen(" hello\r\n world"));
	assert_memory_equal(f.value, " hello\r\n world", f.value_len);
	assert_true(mail_hdr_next(&it, &f));
	assert_true(mail_hdr_is(&f, "x-empty"));
	assert_int_equal(f.value_len, 0);
	assert_true(mail_hdr_next(&it, &f));
	assert_int_equal(f.name_len, 9);
	assert_true(mail_hdr_is(&f, "obs-space"));
	assert_true(mail_hdr_next(&it, &f));
	assert_true(mail_hdr_is(&f, "from"));
	assert_memory_equal(f.value, "a@b", 3);
	assert_int_equal(f.value_len, 3);
	assert_false(mail_hdr_next(&it, &f));
	assert_false(mail_hdr_next(&it, &f));

	/* a block cut in the middle of a field: never past the length */
	mail_hdr_iter_init(&it, "A: 1\r\nB: 2\r\n", 9);
	assert_true(mail_hdr_next(&it, &f));
	assert_true(mail_hdr_next(&it, &f));
	assert_true(mail_hdr_is(&f, "b"));
	assert_int_equal(f.value_len, 1);
	assert_false(mail_hdr_next(&it, &f));
}

static void test_header_unfold(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	const char v[] = "  hello\r\n  world\r\n\tagain \t";
	mail_hdr_unfold(&b, v, sizeof v - 1);
	assert_string_equal(buf_cstr(&b), "hello  world\tagain");
	buf_reset(&b);
	mail_hdr_unfold(&b, "a\rb\n c", 6);     /* a lone CR stays */
	assert_string_equal(buf_cstr(&b), "a\rb c");
	buf_reset(&b);
	mail_hdr_unfold(&b, "\r\n ", 3);
	assert_int_equal(b.len, 0);
	buf_free(&b);

	/* capped */
	struct buf big = BUF_INIT;
	for (int i = 0; i < 100000; i++)
		buf_puts(&big, "x\r\n ");
	mail_hdr_unfold(&b, big.data, big.len);
	assert_true(b.len <= MAIL_FIELD_MAX && b.len >= MAIL_FIELD_MAX - 1);  /* minus a trimmed space */
	buf_free(&b);
	buf_free(&big);
}

static void test_header_field_limit(void **state)
{
	(void)state;
	struct buf h = BUF_INIT;
	for (int i = 0; i < MAIL_HDR_MAX_FIELDS + 5; i++)
		buf_puts(&h, "X: y\r\n");
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	mail_hdr_iter_init(&it, h.data, h.len);
	size_t n = 0;
	while (mail_hdr_next(&it, &f))
		n++;
	assert_int_equal(n, MAIL_HDR_MAX_FIELDS);
	buf_free(&h);
}

/* ---- RFC 2047 ---------------------------------------------------------- */

static void check_2047(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	mail_rfc2047_decode(&b, in, strlen(in));
	print_message("%s\n", in);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_rfc2047(void **state)
{
	(void)state;
	/* RFC 2047 §8 examples */
	check_2047("(=?ISO-8859-1?Q?a?=)", "(a)");
	check_2047("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	check_2047("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
	check_2047("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)");
	check_2047("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)");
	check_2047("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
	check_2047("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)");
	check_2047("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld J\xc3\xb8rn Simonsen");
	check_2047("=?US-ASCII?Q?Keith_Moore?=", "Keith Moore");
	/* B, lower case letters, UTF-8 */
	check_2047("=?utf-8?b?w6nDqA==?=", "\xc3\xa9\xc3\xa8");
	check_2047("=?UTF-8?B?4oKs?= and =?utf-8?Q?=E2=82=AC?=", "\xe2\x82\xac and \xe2\x82\xac");
	/* a character split across two words of the same charset */
	check_2047("=?utf-8?b?4oI=?= =?utf-8?b?rA==?=", "\xe2\x82\xac");
	check_2047("=?utf-8?q?=E2?= =?UTF-8?q?=82=AC?=", "\xe2\x82\xac");
	/* RFC 2231 language suffix */
	check_2047("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
	/* other charsets through iconv */
	check_2047("=?windows-1252?q?=80?=", "\xe2\x82\xac");
	check_2047("=?koi8-r?b?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	check_2047("=?iso-2022-jp?b?GyRCJEgkJiQtJWYlIRsoQg==?=",
		   "\xe3\x81\xa8\xe3\x81\x86\xe3\x81\x8d\xe3\x83\xa6\xe3\x82\xa1");
	/* unknown charset: bytes taken as UTF-8 */
	check_2047("=?x-unknown?q?caf=C3=A9?=", "caf\xc3\xa9");
	check_2047("=?x-unknown?q?caf=E9?=", "caf\xef\xbf\xbd");
	/* hostile charset names never reach iconv options */
	check_2047("=?utf-8//TRANSLIT?q?x?=", "x");
	/* malformed: left alone */
	check_2047("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	check_2047("=?utf-8?q?abc", "=?utf-8?q?abc");
	check_2047("=??q?abc?=", "=??q?abc?=");
	check_2047("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
	check_2047("a =? b ?= c", "a =? b ?= c");
	check_2047("=", "=");
	check_2047("=?", "=?");
	/* text around words, and words inside quotes */
	check_2047("x=?utf-8?q?y?=z", "xyz");
	check_2047("\"=?utf-8?q?Andr=C3=A9?=\" <a@b>", "\"Andr\xc3\xa9\" <a@b>");
	/* raw 8-bit: kept when UTF-8, replaced otherwise */
	check_2047("caf\xc3\xa9", "caf\xc3\xa9");
	check_2047("caf\xe9!", "caf\xef\xbf\xbd!");
	/* empty encoded text */
	check_2047("=?utf-8?q?" "?=x", "x");
}

/* Fuzzer finds: output must stay valid UTF-8 whatever iconv does with a charset alias. */
static void test_rfc2047_regressions(void **state)
{
	(void)state;
	static const char crash1[] =
		"\x3d\x71\x3f\x46\xff\xff\xff\x45\x32\x3d\x38\x2c\x3f\x3d\x20\x3d"
		"\x3f\x75\x74\x66\x2b\x2d\x38\x3f\x71\x3f\x46\x3d\x3d\x3d\x3d\x3d"
		"\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\xba\xba\xba"
		"\xba\xba\xba\xba\xba\xba\xba\xba\xfa\xba\xba\xba\xba\xba\xba\xba"
		"\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba"
		"\xba\xba\xba\xba\xba\xba\xba\xba\xba\xba\x3d\x45\x32\x3d\x45\x3d"
		"\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d\x3d"
		"\x45\x32\x3d\x45\x32\x3d\x38\x38\x3f\x71\x3f\x3d\x45";
	struct buf b = BUF_INIT;
	mail_rfc2047_decode(&b, crash1, sizeof crash1 - 1);
	assert_true(utf8_valid(buf_cstr(&b), b.len));
	buf_reset(&b);
	/* UTF-8 spelled so that only iconv recognises it, with invalid bytes */
	mail_rfc2047_decode(&b, "=?utf+-8?q?=FF=E2=88?=", 22);
	assert_true(utf8_valid(buf_cstr(&b), b.len));
	buf_reset(&b);
	/* an encoded word that decodes to nothing, alone */
	mail_rfc2047_decode(&b, "=?utf-8?b?" "?=", 12);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_charset(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_true(mail_charset_to_utf8(&b, "ISO-8859-1", 10, "\xe9t\xe9", 3));
	assert_string_equal(buf_cstr(&b), "\xc3\xa9t\xc3\xa9");
	buf_reset(&b);
	assert_false(mail_charset_to_utf8(&b, "no-such-charset", 15, "ok", 2));
	assert_string_equal(buf_cstr(&b), "ok");
	buf_reset(&b);
	/* invalid input in a real charset: U+FFFD, and on */
	assert_true(mail_charset_to_utf8(&b, "UTF-16LE", 8, "a\0b", 3));
	assert_string_equal(buf_cstr(&b), "a\xef\xbf\xbd");
	buf_reset(&b);
	assert_true(mail_charset_to_utf8(&b, "shift_jis", 9, "\x82\xa0\xff", 3));
	assert_string_equal(buf_cstr(&b), "\xe3\x81\x82\xef\xbf\xbd");
	buf_reset(&b);
	/* lossy UTF-8: overlongs, surrogates, truncated sequences */
	mail_utf8_append_lossy(&b, "\xc0\xaf|\xed\xa0\x80|\xe2\x82", 9);
	assert_string_equal(buf_cstr(&b),
		"\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
	buf_free(&b);
}

/* ---- dates ------------------------------------------------------------- */

static void check_date(const char *in, int64_t want)
{
	int64_t t = 0;
	print_message("%s\n", in);
	assert_true(mail_date_parse(in, strlen(in), &t));
	assert_int_equal(t, want);
}

static void check_bad_date(const char *in)
{
	int64_t t = 12345;
	print_message("%s\n", in);
	assert_false(mail_date_parse(in, strlen(in), &t));
}

static void test_dates(void **state)
{
	(void)state;
	/* 2026-11-26 15:49:55 UTC = 1795708195 */
	check_date("Thu, 26 Nov 2026 16:49:55 +0100", 1795708195);
	check_date("26 Nov 2026 16:49:55 +0100", 1795708195);
	check_date("Thursday, 26 November 2026 15:49:55 GMT", 1795708195);
	check_date("Thu, 26 Nov 2026 15:49:55 UT", 1795708195);
	check_date("Thu, 26 Nov 2026 15:49:55 Z", 1795708195);
	check_date("Thu, 26 Nov 2026 10:49:55 EST", 1795708195);
	check_date("Thu, 26 Nov 2026 07:49:55 PST", 1795708195);
	check_date("Thu, 26 Nov 2026 08:49:55 PDT", 1795708195);
	check_date("thu, 26 nov 2026 15:49:55 -0000 (UTC)", 1795708195);
	check_date("Thu, 26 Nov 2026 15:49:55 A", 1795708195);    /* military: -0000 */
	check_date("Thu, 26 Nov 2026 15:49:55", 1795708195);      /* no zone */
	check_date("Thu, 26 Nov 26 15:49:55 +0000", 1795708195);  /* 2-digit year */
	check_date("Thu, 26 Nov 126 15:49:55 +0000", 1795708195); /* 3-digit year */
	check_date("Thu, 26 Nov 2026 15:49 +0000", 1795708140);   /* no seconds */
	check_date("Thu 26 Nov 2026 15:49:55 +0000", 1795708195);
	check_date("(c) Thu, (d) 26 (e) Nov (f) 2026 (g) 15:49:55 (h) +0000 (i)", 1795708195);
	check_date("Thu Nov 26 15:49:55 2026", 1795708195);        /* asctime */
	check_date("Thu Nov 26 15:49:55 UTC 2026", 1795708195);    /* date(1) */
	check_date("26 Nov 2026 15:49:55 GMT+0000", 1795708195);
	check_date("Thu, 26 Nov. 2026 15:49:55 +0000", 1795708195);
	/* RFC 5322 A.5: obsolete spacing */
	check_date("Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n"
		   "               -0330 (Newfoundland Time)", -27723480);
	check_date("Fri, 21 Nov 1997 09:55:06 -0600", 880127706);
	check_date("1 Jan 1970 00:00:00 +0000", 0);
	check_date("Sat, 31 Dec 99 23:59:60 +0000", 946684799);    /* leap second, 2-digit 99 */
	check_date("29 Feb 2024 12:00:00 +0000", 1709208000);
	check_date("01 Jan 2000 00:00:00 +1400", 946634400);

	check_bad_date("");
	check_bad_date("yesterday");
	check_bad_date("Thu, 26 Foo 2026 15:49:55 +0000");
	check_bad_date("Thu, 32 Nov 2026 15:49:55 +0000");
	check_bad_date("29 Feb 2023 12:00:00 +0000");
	check_bad_date("Thu, 26 Nov 2026 24:00:00 +0000");
	check_bad_date("Thu, 26 Nov 2026 15:60:00 +0000");
	check_bad_date("Thu, 26 Nov 2026 15:49:55 +0099");
	check_bad_date("Thu, 26 Nov 2026 15:49:55 +9900");
	check_bad_date("Thu, 26 Nov 2026 15:49:55 +0000 extra words");
	check_bad_date("Thu, 26 Nov 2026");
	check_bad_date("Thu, 26 Nov 1 15:49:55");
	check_bad_date("Thu, 26 Nov 12345 15:49:55");
	check_bad_date("Thu, 123 Nov 2026 15:49:55");
	check_bad_date("26 Nov 2026 15:49:55 +0000 \x80");

	/* length is respected: the zone past n is not seen */
	int64_t t;
	const char *s = "26 Nov 2026 15:49:55 +0100";
	assert_true(mail_date_parse(s, 20, &t));
	assert_int_equal(t, 1795708195);
	/* a very long value is not a date */
	char big[1000];
	memset(big, ' ', sizeof big);
	memcpy(big, s, strlen(s));
	assert_false(mail_date_parse(big, sizeof big, &t));
}

/* ---- IMAP strings ------------------------------------------------------ */

static void check_imapstr(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	mail_imapstr_nstring(&b, in, n);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void test_imapstr(void **state)
{
	(void)state;
	check_imapstr(NULL, 0, "NIL");
	check_imapstr("", 0, "\"\"");
	check_imapstr("NIL", 3, "\"NIL\"");
	check_imapstr("a \"b\" \\c", 8, "\"a \\\"b\\\" \\\\c\"");
	check_imapstr("caf\xc3\xa9", 5, "{5}\r\ncaf\xc3\xa9");
	check_imapstr("a\r\nb", 4, "{4}\r\na\r\nb");
	check_imapstr("a\rb", 3, "{3}\r\na\rb");
	check_imapstr("a\0b", 3, "{3}\r\na\x80" "b");
	char big[MAIL_IMAPSTR_QUOTED_MAX + 1];
	memset(big, 'x', sizeof big);
	struct buf b = BUF_INIT;
	mail_imapstr_nstring(&b, big, MAIL_IMAPSTR_QUOTED_MAX);
	assert_int_equal(b.len, MAIL_IMAPSTR_QUOTED_MAX + 2);
	buf_reset(&b);
	mail_imapstr_nstring(&b, big, sizeof big);
	assert_memory_equal(b.data, "{1025}\r\nxxx", 11);
	buf_reset(&b);
	mail_imapstr_cstr(&b, NULL);
	mail_imapstr_cstr(&b, "x");
	assert_string_equal(buf_cstr(&b), "NIL\"x\"");
	buf_free(&b);
}

/* ---- MIME parameters --------------------------------------------------- */

static void check_ctype(const char *in, const char *type, const char *subtype, const char *params)
{
	char *t, *st;
	struct mail_params p;
	print_message("%s\n", in);
	bool ok = mail_content_type_parse(in, strlen(in), &t, &st, &p);
	if (!type) {
		assert_false(ok);
		assert_null(t);
		assert_int_equal(p.n, 0);
		return;
	}
	assert_true(ok);
	assert_string_equal(t, type);
	assert_string_equal(st, subtype);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < p.n; i++)
		buf_printf(&b, "%s[%s]=[%s]", i ? " " : "", p.v[i].name, p.v[i].value);
	assert_string_equal(buf_cstr(&b), params);
	buf_free(&b);
	free(t);
	free(st);
	mail_params_free(&p);
}

static void test_content_type(void **state)
{
	(void)state;
	check_ctype("text/plain", "text", "plain", "");
	check_ctype(" Text / Plain ; Charset = \"UTF-8\" ", "Text", "Plain", "[Charset]=[UTF-8]");
	check_ctype("text/plain; charset=us-ascii (Plain text)", "text", "plain", "[charset]=[us-ascii]");
	check_ctype("(c)multipart/mixed(c);(c)boundary(c)=(c)\"a\\\"b\"(c)", "multipart", "mixed",
		    "[boundary]=[a\"b]");
	check_ctype("a/b; x=1;; y=2; junk; z=\"3", "a", "b", "[x]=[1] [y]=[2] [z]=[3]");
	check_ctype("a/b; bad name=1; ok=2", "a", "b", "[ok]=[2]");
	check_ctype("a/b; name==?utf-8?b?w6k=?=", "a", "b", "[name]=[=?utf-8?b?w6k=?=]");
	check_ctype("a/b; name=\xc3\xa9.txt", "a", "b", "[name]=[\xc3\xa9.txt]");
	check_ctype("a/b; empty=", "a", "b", "[empty]=[]");
	/* RFC 2231 */
	check_ctype("message/external-body; access-type=URL;\r\n"
		    " URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
		    "message", "external-body",
		    "[access-type]=[URL] [URL]=[ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar]");
	check_ctype("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
		    "application", "x-stuff", "[title*]=[us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A]");
	check_ctype("a/b; t*1=\"x%y\"; t*0*=utf-8''%41", "a", "b", "[t*]=[utf-8''%41x%25y]");
	check_ctype("a/b; t*0=\"a\"; t*1*=%41", "a", "b", "[t*]=[''a%41]");
	check_ctype("a/b; T*0=x; t*1=y", "a", "b", "[T]=[xy]");
	check_ctype("a/b; t*0=x; t*0=y", "a", "b", "[t*0]=[x] [t*0]=[y]");
	check_ctype("a/b; t*01=x", "a", "b", "[t*01]=[x]");
	check_ctype("a/b; *0=x", "a", "b", "[*0]=[x]");
	/* malformed */
	check_ctype("", NULL, NULL, NULL);
	check_ctype("text", NULL, NULL, NULL);
	check_ctype("text/", NULL, NULL, NULL);
	check_ctype("/plain", NULL, NULL, NULL);
	check_ctype("\"text\"/plain", NULL, NULL, NULL);

	/* too many parameters: the rest is ignored */
	struct buf b = BUF_INIT;
	buf_puts(&b, "a/b");
	for (int i = 0; i < 500; i++)
		buf_printf(&b, "; p%d=%d", i, i);
	char *t, *st;
	struct mail_params p;
	assert_true(mail_content_type_parse(b.data, b.len, &t, &st, &p));
	assert_int_equal(p.n, MAIL_MAX_PARAMS);
	free(t);
	free(st);
	mail_params_free(&p);
	buf_free(&b);
}

static void test_param_decode(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct mail_param p = { "filename*", "UTF-8''%E2%82%AC%20rates.txt", 28 };
	mail_param_decode(&p, &b);
	assert_string_equal(buf_cstr(&b), "\xe2\x82\xac rates.txt");
	buf_reset(&b);
	struct mail_param q = { "title*", "iso-8859-1'fr'caf%E9", 20 };
	mail_param_decode(&q, &b);
	assert_string_equal(buf_cstr(&b), "caf\xc3\xa9");
	buf_reset(&b);
	struct mail_param r = { "name", "=?utf-8?q?caf=C3=A9?=.txt", 25 };
	mail_param_decode(&r, &b);
	assert_string_equal(buf_cstr(&b), "caf\xc3\xa9.txt");
	buf_reset(&b);
	struct mail_param s = { "x*", "%4", 2 };       /* truncated escape kept */
	mail_param_decode(&s, &b);
	assert_string_equal(buf_cstr(&b), "%4");
	buf_free(&b);
}

static void test_disposition_language(void **state)
{
	(void)state;
	char *d;
	struct mail_params p;
	assert_true(mail_disposition_parse("attachment; filename=\"a b.txt\"; size=12", 40, &d, &p));
	assert_string_equal(d, "attachment");
	assert_int_equal(p.n, 2);
	assert_string_equal(mail_params_get(&p, "FILENAME")->value, "a b.txt");
	free(d);
	mail_params_free(&p);
	assert_false(mail_disposition_parse(" ; x=y", 6, &d, &p));
	assert_null(d);

	struct mail_slice tags[4];
	const char *l = "en-US, (comment) de ,, fr junk, it, es";
	size_t n = mail_language_parse(l, strlen(l), tags, 4);
	assert_int_equal(n, 4);
	assert_int_equal(tags[0].len, 5);
	assert_memory_equal(tags[0].p, "en-US", 5);
	assert_memory_equal(tags[1].p, "de", 2);
	assert_memory_equal(tags[2].p, "fr", 2);
	assert_memory_equal(tags[3].p, "it", 2);
	assert_int_equal(mail_language_parse("", 0, tags, 4), 0);
}

/* ---- Content-Transfer-Encoding ----------------------------------------- */

static void test_cte(void **state)
{
	(void)state;
	assert_int_equal(mail_cte_parse("", 0), MAIL_CTE_NONE);
	assert_int_equal(mail_cte_parse(" BASE64 ", 8), MAIL_CTE_BASE64);
	assert_int_equal(mail_cte_parse("quoted-printable (x)", 20), MAIL_CTE_QP);
	assert_int_equal(mail_cte_parse("7bit", 4), MAIL_CTE_7BIT);
	assert_int_equal(mail_cte_parse("8Bit", 4), MAIL_CTE_8BIT);
	assert_int_equal(mail_cte_parse("binary", 6), MAIL_CTE_BINARY);
	assert_int_equal(mail_cte_parse("x-uue", 5), MAIL_CTE_UNKNOWN);
	assert_int_equal(mail_cte_parse("base6", 5), MAIL_CTE_UNKNOWN);
	for (int c = MAIL_CTE_NONE; c <= MAIL_CTE_UNKNOWN; c++)
		assert_int_equal(mail_cte_from_char(mail_cte_char((enum mail_cte)c)), c);
	assert_int_equal(mail_cte_from_char('z'), MAIL_CTE_UNKNOWN);
	assert_int_equal(mail_cte_from_char('\0'), MAIL_CTE_UNKNOWN);

	struct buf b = BUF_INIT;
	const char qp[] = "caf=C3=A9 =\r\nsoft  \r\ntab\t\r\n=3d=3D=XY=\r\n=4";
	mail_qp_decode(qp, sizeof qp - 1, &b);
	assert_string_equal(buf_cstr(&b), "caf\xc3\xa9 soft\r\ntab\r\n==" "=XY=4");
	buf_reset(&b);
	mail_qp_decode("a=\nb\nc", 6, &b);       /* bare LF */
	assert_string_equal(buf_cstr(&b), "ab\nc");
	buf_reset(&b);
	mail_qp_decode("=", 1, &b);
	assert_string_equal(buf_cstr(&b), "");
	buf_reset(&b);
	mail_cte_decode(MAIL_CTE_BASE64, "aGVs\r\nbG8=\r\n", 12, &b);
	assert_string_equal(buf_cstr(&b), "hello");
	buf_reset(&b);
	mail_cte_decode(MAIL_CTE_8BIT, "a\0b", 3, &b);
	assert_int_equal(b.len, 3);
	buf_free(&b);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_iter),
		cmocka_unit_test(test_header_unfold),
		cmocka_unit_test(test_header_field_limit),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_rfc2047_regressions),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_imapstr),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_param_decode),
		cmocka_unit_test(test_disposition_language),
		cmocka_unit_test(test_cte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
