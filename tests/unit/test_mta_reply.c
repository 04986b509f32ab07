/*
 * test_mta_reply.c — unit tests of src/mta/reply.c: the SMTP reply parser
 * (fed whole, a byte at a time and in every two-piece split, which must
 * agree), its limits, enhanced status codes, sanitising and joining, the
 * EHLO capability set, and xtext.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/reply.h"

/* Parse the first reply in data[0..n) fed in pieces of `step` (0: all at once). */
static enum mta_reply_status parse_steps(struct mta_reply_parser *p, const char *data, size_t n,
					 size_t step, size_t *consumed)
{
	mta_reply_parser_init(p);
	size_t off = 0;
	while (off < n && p->status == MTA_REPLY_MORE) {
		size_t len = step && n - off > step ? step : n - off;
		off += mta_reply_feed(p, data + off, len);
		if (p->status == MTA_REPLY_MORE && len == 0)
			break;
	}
	if (consumed)
		*consumed = off;
	return p->status;
}

static char joined[MTA_REPLY_TEXT_MAX];

/* The same outcome whole, byte by byte, and split in two at every point. */
static enum mta_reply_status parse_all_ways(const char *data, size_t n, struct mta_reply_parser *out)
{
	struct mta_reply_parser ref;
	size_t ref_used;
	enum mta_reply_status st = parse_steps(&ref, data, n, 0, &ref_used);
	char ref_join[MTA_REPLY_TEXT_MAX];
	mta_reply_join(&ref.reply, ref_join, sizeof ref_join);
	for (size_t step = 1; step <= 3; step++) {
		struct mta_reply_parser p;
		size_t used;
		assert_int_equal(parse_steps(&p, data, n, step, &used), st);
		if (st == MTA_REPLY_DONE) {
			assert_int_equal(used, ref_used);
			assert_int_equal(p.reply.code, ref.reply.code);
			assert_string_equal(p.reply.enhanced, ref.reply.enhanced);
			mta_reply_join(&p.reply, joined, sizeof joined);
			assert_string_equal(joined, ref_join);
		}
		mta_reply_parser_free(&p);
	}
	if (n < 300) {
		for (size_t cut = 1; cut < n; cut++) {
			struct mta_reply_parser p;
			mta_reply_parser_init(&p);
			size_t used = mta_reply_feed(&p, data, cut);
			if (p.status == MTA_REPLY_MORE)
				used += mta_reply_feed(&p, data + cut, n - cut);
			assert_int_equal(p.status, st);
			if (st == MTA_REPLY_DONE) {
				assert_int_equal(used, ref_used);
				assert_int_equal(p.reply.code, ref.reply.code);
			}
			mta_reply_parser_free(&p);
		}
	}
	*out = ref;
	mta_reply_join(&out->reply, joined, sizeof joined);
	return st;
}

#define S(lit) lit, sizeof(lit) - 1

static void test_single_line(void **state)
{
	struct mta_reply_parser p;
	assert_int_equal(parse_all_ways(S("250 2.1.5 Ok\r\n"), &p), MTA_REPLY_DONE);
	assert_int_equal(p.reply.code, 250);
	assert_string_equal(p.reply.enhanced, "2.1.5");
	assert_true(p.reply.enhanced_given);
	assert_int_equal(p.reply.nlines, 1);
	assert_string_equal(joined, "250 2.1.5 Ok");
	mta_reply_parser_free(&p);

	/* A bare LF ends a line too; "250" alone is a complete reply. */
	assert_int_equal(parse_all_ways(S("250\n"), &p), MTA_REPLY_DONE);
	assert_int_equal(p.reply.code, 250);
	assert_string_equal(p.reply.enhanced, "2.0.0");
	assert_false(p.reply.enhanced_given);
	mta_reply_parser_free(&p);

	assert_int_equal(parse_all_ways(S("354 go ahead\r\n"), &p), MTA_REPLY_DONE);
	assert_int_equal(p.reply.code, 354);
	mta_reply_parser_free(&p);
}

static void test_multi_line(void **state)
{
	struct mta_reply_parser p;
	const char ehlo[] = "250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
	assert_int_equal(parse_all_ways(ehlo, sizeof ehlo - 1, &p), MTA_REPLY_DONE);
	assert_int_equal(p.reply.nlines, 4);
	assert_string_equal(joined, "250-mx.example.org Hello; 250-PIPELINING; 250-SIZE 1000; 250 8BITMIME");
	size_t pos = 0, n;
	const char *t;
	assert_true(mta_reply_text_line(&p.reply, &pos, &t, &n));
	assert_int_equal(n, strlen("mx.example.org Hello"));
	assert_memory_equal(t, "mx.example.org Hello", n);
	assert_true(mta_reply_text_line(&p.reply, &pos, &t, &n));
	assert_memory_equal(t, "PIPELINING", n);
	mta_reply_parser_free(&p);

	/* The enhanced code comes from the first line. */
	assert_int_equal(parse_all_ways(S("550-5.1.1 no such user\r\n550 5.7.1 and more\r\n"), &p), MTA_REPLY_DONE);
	assert_string_equal(p.reply.enhanced, "5.1.1");
	mta_reply_parser_free(&p);
}

static void test_pipelined_replies(void **state)
{
	const char in[] = "250 2.1.0 ok\r\n250-2.1.5 one\r\n250 2.1.5 two\r\n550 5.1.1 bad\r\n354 go\r\n";
	int want_code[] = { 250, 250, 550, 354 };
	for (size_t step = 0; step <= 5; step++) {
		struct mta_reply_parser p;
		mta_reply_parser_init(&p);
		size_t off = 0, got = 0;
		while (off < sizeof in - 1) {
			size_t len = step && sizeof in - 1 - off > step ? step : sizeof in - 1 - off;
			off += mta_reply_feed(&p, in + off, len);
			assert_int_not_equal(p.status, MTA_REPLY_ERROR);
			if (p.status == MTA_REPLY_DONE) {
				assert_true(got < 4);
				assert_int_equal(p.reply.code, want_code[got]);
				got++;
				mta_reply_parser_next(&p);
			}
		}
		assert_int_equal(got, 4);
		mta_reply_parser_free(&p);
	}
}

static void expect_error(const char *in, size_t n, const char *why)
{
	struct mta_reply_parser p;
	assert_int_equal(parse_all_ways(in, n, &p), MTA_REPLY_ERROR);
	assert_string_equal(p.error, why);
	mta_reply_parser_free(&p);
}

static void test_malformed(void **state)
{
	expect_error(S("hello\r\n"), "malformed reply line");
	expect_error(S("25\r\n"), "malformed reply line");
	expect_error(S("2x0 ok\r\n"), "malformed reply line");
	expect_error(S("250x ok\r\n"), "malformed reply line");
	expect_error(S("199 ok\r\n"), "malformed reply line");
	expect_error(S("600 ok\r\n"), "malformed reply line");
	expect_error(S(" 250 ok\r\n"), "malformed reply line");
	expect_error(S("\r\n"), "malformed reply line");
	expect_error(S("250-ok\r\n251 ok\r\n"), "inconsistent reply codes");
	expect_error(S("250-ok\r\ngarbage\r\n"), "malformed reply line");
	/* ERROR stays: nothing more is consumed. */
	struct mta_reply_parser p;
	mta_reply_parser_init(&p);
	mta_reply_feed(&p, S("xyz\r\n"));
	assert_int_equal(p.status, MTA_REPLY_ERROR);
	assert_int_equal(mta_reply_feed(&p, S("250 ok\r\n")), 0);
	mta_reply_parser_next(&p);
	assert_int_equal(p.status, MTA_REPLY_ERROR);
	mta_reply_parser_free(&p);
}

/* A reply of lines lines, each of linelen octets before CRLF. */
static char *make_reply(size_t lines, size_t linelen, size_t *n)
{
	char *b = malloc(lines * (linelen + 2) + 1);
	size_t o = 0;
	for (size_t i = 0; i < lines; i++) {
		memcpy(b + o, i + 1 == lines ? "250 " : "250-", 4);
		memset(b + o + 4, 'a', linelen - 4);
		o += linelen;
		b[o++] = '\r';
		b[o++] = '\n';
	}
	*n = o;
	return b;
}

static void test_limits(void **state)
{
	struct mta_reply_parser p;
	size_t n;
	char *b;

	b = make_reply(1, MTA_REPLY_LINE_MAX, &n);
	assert_int_equal(parse_all_ways(b, n, &p), MTA_REPLY_DONE);
	mta_reply_parser_free(&p);
	free(b);
	b = make_reply(1, MTA_REPLY_LINE_MAX + 1, &n);
	expect_error(b, n, "reply line too long");
	/* Without an end of line: it is the length that fails, not a timeout (2049 octets could still be 2048 + CR). */
	expect_error(b, n - 1, "reply line too long");
	assert_int_equal(parse_steps(&p, b, n - 2, 0, NULL), MTA_REPLY_MORE);
	mta_reply_parser_free(&p);
	free(b);
	/* The longest line also with a bare LF. */
	b = make_reply(1, MTA_REPLY_LINE_MAX, &n);
	b[n - 2] = '\n';
	assert_int_equal(parse_steps(&p, b, n - 1, 0, NULL), MTA_REPLY_DONE);
	mta_reply_parser_free(&p);
	free(b);

	b = make_reply(MTA_REPLY_LINES_MAX, 10, &n);
	assert_int_equal(parse_all_ways(b, n, &p), MTA_REPLY_DONE);
	assert_int_equal(p.reply.nlines, MTA_REPLY_LINES_MAX);
	mta_reply_parser_free(&p);
	free(b);
	b = make_reply(MTA_REPLY_LINES_MAX + 1, 10, &n);
	expect_error(b, n, "too many reply lines");
	free(b);

	/* 64 KiB exactly is fine, one octet more is not. */
	size_t per = 0, lines = 40;
	per = MTA_REPLY_TOTAL_MAX / lines;      /* octets per line, CRLF included */
	b = make_reply(lines, per - 2, &n);
	assert_int_equal(n, per * lines);
	size_t extra = MTA_REPLY_TOTAL_MAX - n;
	free(b);
	char *big = malloc(MTA_REPLY_TOTAL_MAX + 16);
	b = make_reply(lines, per - 2, &n);
	memcpy(big, b, n);
	free(b);
	/* Lengthen the last line to fill the limit exactly. */
	memmove(big + n - 2 + extra, big + n - 2, 2);
	memset(big + n - 2, 'b', extra);
	n += extra;
	assert_int_equal(n, MTA_REPLY_TOTAL_MAX);
	assert_int_equal(parse_steps(&p, big, n, 0, NULL), MTA_REPLY_DONE);
	mta_reply_parser_free(&p);
	assert_int_equal(parse_steps(&p, big, n, 1, NULL), MTA_REPLY_DONE);
	mta_reply_parser_free(&p);
	memmove(big + n - 1, big + n - 2, 2);
	big[n - 2] = 'c';
	n++;
	assert_int_equal(parse_steps(&p, big, n, 0, NULL), MTA_REPLY_ERROR);
	assert_string_equal(p.error, "reply too long");
	mta_reply_parser_free(&p);
	assert_int_equal(parse_steps(&p, big, n, 1, NULL), MTA_REPLY_ERROR);
	assert_string_equal(p.error, "reply too long");
	mta_reply_parser_free(&p);
	free(big);
}

static void expect_enhanced(const char *line, const char *enh, bool given)
{
	struct mta_reply_parser p;
	assert_int_equal(parse_all_ways(line, strlen(line), &p), MTA_REPLY_DONE);
	if (strcmp(p.reply.enhanced, enh) != 0 || p.reply.enhanced_given != given)
		fail_msg("%s: enhanced %s given %d, want %s %d", line, p.reply.enhanced, p.reply.enhanced_given, enh, given);
	mta_reply_parser_free(&p);
}

static void test_enhanced(void **state)
{
	expect_enhanced("550 5.1.1 <a@b>: unknown\r\n", "5.1.1", true);
	expect_enhanced("250 2.0.0\r\n", "2.0.0", true);
	expect_enhanced("452 4.5.3 too many\r\n", "4.5.3", true);
	expect_enhanced("550 5.123.456 x\r\n", "5.123.456", true);
	expect_enhanced("550 5.1.10 null MX\r\n", "5.1.10", true);
	/* not codes: the basic code's class decides */
	expect_enhanced("550 4.1.1 class mismatch\r\n", "5.0.0", false);
	expect_enhanced("550 5.1234.1 x\r\n", "5.0.0", false);
	expect_enhanced("550 5.1.1x\r\n", "5.0.0", false);
	expect_enhanced("550 5.1. x\r\n", "5.0.0", false);
	expect_enhanced("550 5..1 x\r\n", "5.0.0", false);
	expect_enhanced("550 3.1.1 x\r\n", "5.0.0", false);
	expect_enhanced("550  5.1.1 x\r\n", "5.0.0", false);
	expect_enhanced("421 closing\r\n", "4.0.0", false);
	expect_enhanced("250 ok\r\n", "2.0.0", false);
	expect_enhanced("354 go\r\n", "3.0.0", false);
	expect_enhanced("250-2.1.5\r\n250 2.1.5 ok\r\n", "2.1.5", true);

	char out[16];
	assert_int_equal(mta_enhanced_parse("5.7.1", 5, 550, out), 5);
	assert_string_equal(out, "5.7.1");
	assert_int_equal(mta_enhanced_parse("5.7.1 text", 10, 554, out), 5);
	assert_int_equal(mta_enhanced_parse("5.7", 3, 554, out), 0);
	assert_int_equal(mta_enhanced_parse("2.0.0", 5, 554, out), 0);
}

static void test_sanitise_and_join(void **state)
{
	struct mta_reply_parser p;
	assert_int_equal(parse_all_ways(S("220 a\x01" "b\tc\x7f" "d\r\n"), &p), MTA_REPLY_DONE);
	assert_string_equal(joined, "220 a?b c?d");
	mta_reply_parser_free(&p);
	/* NUL inside a line */
	const char nul[] = "220 x\0y\r\n";
	assert_int_equal(parse_all_ways(nul, sizeof nul - 1, &p), MTA_REPLY_DONE);
	assert_string_equal(joined, "220 x?y");
	mta_reply_parser_free(&p);
	/* Valid UTF-8 stays, invalid becomes '?'. */
	assert_int_equal(parse_all_ways(S("550 caf\xc3\xa9\r\n"), &p), MTA_REPLY_DONE);
	assert_string_equal(joined, "550 caf\xc3\xa9");
	mta_reply_parser_free(&p);
	assert_int_equal(parse_all_ways(S("550 caf\xe9 \xff\r\n"), &p), MTA_REPLY_DONE);
	assert_string_equal(joined, "550 caf? ?");
	mta_reply_parser_free(&p);
	/* A lone CR in a line is a control character. */
	assert_int_equal(parse_all_ways(S("250 a\rb\r\n"), &p), MTA_REPLY_DONE);
	assert_string_equal(joined, "250 a?b");
	mta_reply_parser_free(&p);

	/* Joining cuts at 511 octets and never inside a UTF-8 sequence. */
	char line[700];
	memcpy(line, "550 ", 4);
	size_t o = 4;
	while (o + 2 < 600) {
		line[o++] = (char)0xc3;
		line[o++] = (char)0xa9;
	}
	line[o++] = '\r';
	line[o++] = '\n';
	assert_int_equal(parse_steps(&p, line, o, 0, NULL), MTA_REPLY_DONE);
	char out[MTA_REPLY_TEXT_MAX];
	size_t n = mta_reply_join(&p.reply, out, sizeof out);
	assert_true(n <= MTA_REPLY_TEXT_MAX - 1);
	assert_int_equal(n, strlen(out));
	assert_true(n >= MTA_REPLY_TEXT_MAX - 3);
	assert_int_equal((n - 4) % 2, 0);
	char tiny[6];
	assert_int_equal(mta_reply_join(&p.reply, tiny, sizeof tiny), 4);    /* "550 " and no half character */
	assert_string_equal(tiny, "550 ");
	mta_reply_parser_free(&p);
}

static void test_caps(void **state)
{
	struct mta_reply_parser p;
	struct mta_caps c;
	const char ehlo[] =
		"250-mx.example.org PIPELINING\r\n"     /* the greeting line is not a keyword */
		"250-pipelining\r\n"
		"250-SIZE 35882577\r\n"
		"250-8BITMIME\r\n"
		"250-SMTPUTF8\r\n"
		"250-STARTTLS\r\n"
		"250-CHUNKING\r\n"
		"250-DSN\r\n"
		"250-AUTH PLAIN login XOAUTH2\r\n"
		"250-X-UNKNOWN foo\r\n"
		"250 ENHANCEDSTATUSCODES\r\n";
	assert_int_equal(parse_steps(&p, ehlo, sizeof ehlo - 1, 0, NULL), MTA_REPLY_DONE);
	mta_caps_parse(&p.reply, &c);
	assert_int_equal(c.flags, MTA_CAP_PIPELINING | MTA_CAP_SIZE | MTA_CAP_8BITMIME | MTA_CAP_SMTPUTF8 |
				  MTA_CAP_STARTTLS | MTA_CAP_CHUNKING | MTA_CAP_DSN | MTA_CAP_AUTH |
				  MTA_CAP_ENHANCEDSTATUSCODES);
	assert_int_equal(c.size_limit, 35882577);
	assert_int_equal(c.auth, MTA_AUTH_PLAIN | MTA_AUTH_LOGIN | MTA_AUTH_OTHER);
	mta_reply_parser_free(&p);

	const char ehlo2[] = "250-mx\r\n250-SIZE\r\n250-AUTH=LOGIN PLAIN\r\n250-STARTTLSX\r\n250 8BITMIMEfoo\r\n";
	assert_int_equal(parse_steps(&p, ehlo2, sizeof ehlo2 - 1, 0, NULL), MTA_REPLY_DONE);
	mta_caps_parse(&p.reply, &c);
	assert_int_equal(c.flags, MTA_CAP_SIZE | MTA_CAP_AUTH);
	assert_int_equal(c.size_limit, 0);
	assert_int_equal(c.auth, MTA_AUTH_PLAIN | MTA_AUTH_LOGIN);
	mta_reply_parser_free(&p);

	const char ehlo3[] = "250-mx\r\n250-SIZE 12x\r\n250 SIZE 99999999999999999999999\r\n";
	assert_int_equal(parse_steps(&p, ehlo3, sizeof ehlo3 - 1, 0, NULL), MTA_REPLY_DONE);
	mta_caps_parse(&p.reply, &c);
	assert_int_equal(c.flags, MTA_CAP_SIZE);
	assert_int_equal(c.size_limit, 0);
	mta_reply_parser_free(&p);

	/* A one-line reply offers nothing. */
	assert_int_equal(parse_steps(&p, S("250 mx PIPELINING"), 0, NULL), MTA_REPLY_MORE);
	mta_reply_parser_free(&p);
	assert_int_equal(parse_steps(&p, S("250 mx PIPELINING\r\n"), 0, NULL), MTA_REPLY_DONE);
	mta_caps_parse(&p.reply, &c);
	assert_int_equal(c.flags, 0);
	mta_reply_parser_free(&p);
}

static void expect_xtext(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "<");
	mta_xtext_append(&b, in, n);
	assert_string_equal(b.data + 1, want);
	buf_free(&b);
}

static void test_xtext(void **state)
{
	expect_xtext(S("user@example.org"), "user@example.org");
	expect_xtext(S("a+b=c"), "a+2Bb+3Dc");
	expect_xtext(S("two words"), "two+20words");
	expect_xtext(S("!~"), "!~");
	expect_xtext(S("\x7f\x01"), "+7F+01");
	expect_xtext(S("caf\xc3\xa9"), "caf+C3+A9");
	expect_xtext(S(""), "");
	const char nul[] = { 'a', 0, 'b' };
	expect_xtext(nul, 3, "a+00b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line),
		cmocka_unit_test(test_multi_line),
		cmocka_unit_test(test_pipelined_replies),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_sanitise_and_join),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_xtext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
