/*
 * test_imap_sort.c — the pieces of SORT (src/imap/sort_subject.c): base
 * subject extraction (RFC 5256 §2.1) with imaptest's sort-subject
 * cases and hostile ones, the i;unicode-casemap form (RFC 5051) and the
 * ENVELOPE reader, fed envelopes written by mail_meta_parse() exactly as
 * delivery stores them, and damaged ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/sort.h"
#include "lib/buf.h"
#include "mail/meta.h"

static void check_base(const char *subject, const char *want, bool want_reply)
{
	struct buf b = BUF_INIT;
	bool reply = !want_reply;
	imap_sort_base_subject(&b, subject, strlen(subject), &reply);
	if (strcmp(buf_cstr(&b), want) != 0)
		fail_msg("base subject of \"%s\": got \"%s\", want \"%s\"", subject, buf_cstr(&b), want);
	if (reply != want_reply)
		fail_msg("base subject of \"%s\": reply %d, want %d", subject, reply, want_reply);
	buf_free(&b);
}

static void test_base_subject(void **state)
{
	(void)state;
	check_base("", "", false);
	check_base("a", "A", false);
	check_base("  hello   world\t ", "HELLO WORLD", false);
	check_base("Re: hello", "HELLO", true);
	check_base("RE:hello", "HELLO", true);
	check_base("Fwd: Fw: re: hello", "HELLO", true);
	check_base("Re[2]: hello", "HELLO", true);
	check_base("Re [x] : hello", "HELLO", true);
	check_base("hello (fwd)", "HELLO", true);
	check_base("hello (FWD)  (fwd) ", "HELLO", true);
	check_base("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "B", true);
	check_base("Re: [FWD: c]", "C", true);
	check_base("[xyz]", "[XYZ]", false);
	check_base("[xyz] ", "[XYZ]", false);
	check_base("[list] hello", "HELLO", false);
	check_base("[a][b] hello", "HELLO", false);
	check_base("re: [fwd: [fwd: re: [fwd: babylon]]]", "BABYLON", true);
	check_base("Ad: Re: Ad: Re: Ad: x", "AD: RE: AD: RE: AD: X", false);
	check_base("b (a)", "B (A)", false);
	check_base("Reply: hello", "REPLY: HELLO", false);
	check_base("re", "RE", false);
	check_base("re:", "", true);
	check_base("[fwd:]", "", true);
	check_base("[unterminated hello", "[UNTERMINATED HELLO", false);
	check_base("]]]] [[[[", "]]]] [[[[", false);
	check_base("(fwd)", "", true);
	check_base("\r\n", "", false);
}

/* Deeply nested wrappers: linear, and nothing left over. */
static void test_base_subject_long(void **state)
{
	(void)state;
	struct buf in = BUF_INIT, out = BUF_INIT;
	for (int i = 0; i < 5000; i++)
		buf_puts(&in, "[fwd: Re: ");
	buf_puts(&in, "x");
	for (int i = 0; i < 5000; i++)
		buf_puts(&in, "]");
	imap_sort_base_subject(&out, in.data, in.len, NULL);
	assert_string_equal(buf_cstr(&out), "X");
	buf_reset(&in);
	buf_reset(&out);
	for (int i = 0; i < 20000; i++)
		buf_puts(&in, "[");
	imap_sort_base_subject(&out, in.data, in.len, NULL);
	assert_int_equal(out.len, 20000);
	buf_free(&in);
	buf_free(&out);
}

static void check_casemap(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	imap_sort_casemap(&b, in, strlen(in));
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_casemap(void **state)
{
	(void)state;
	check_casemap("abc XYZ [_]", "ABC XYZ [_]");
	check_casemap("\xc3\xa9t\xc3\xa9", "E\xcc\x81TE\xcc\x81");         /* été: É decomposed */
	check_casemap("\xc3\x89T\xc3\x89", "E\xcc\x81TE\xcc\x81");         /* ÉTÉ, the same */
	check_casemap("\xef\xac\x81", "fi");        /* ligature fi: its own titlecase, then NFKD */
	check_casemap("\xc7\x86", "Dz\xcc\x8c");     /* dž: titlecase Dž (not DŽ), then NFKD */
	check_casemap("a\xff" "b", "A\xef\xbf\xbd" "B");                 /* malformed: U+FFFD */
}

static void check_env(const char *header, enum imap_env_field f, const char *name, const char *mailbox,
		      const char *host)
{
	struct buf msg = BUF_INIT;
	buf_puts(&msg, header);
	buf_puts(&msg, "\r\nbody\r\n");
	struct mail_meta meta;
	mail_meta_parse(msg.data, msg.len, &meta);
	struct imap_env_str n = { 0 }, m = { 0 }, h = { 0 };
	bool ok = imap_env_first_address(meta.envelope, f, &n, &m, &h);
	if (!mailbox) {
		assert_false(ok);
	} else {
		assert_true(ok);
		if (name)
			assert_string_equal(buf_cstr(&n.v), name);
		else
			assert_true(n.nil);
		assert_string_equal(buf_cstr(&m.v), mailbox);
		if (host)
			assert_string_equal(buf_cstr(&h.v), host);
		else
			assert_true(h.nil);
	}
	buf_free(&n.v);
	buf_free(&m.v);
	buf_free(&h.v);
	mail_meta_free(&meta);
	buf_free(&msg);
}

static void test_envelope(void **state)
{
	(void)state;
	check_env("From: foo bar <a@b.c>\r\n", IMAP_ENV_FROM, "foo bar", "a", "b.c");
	check_env("From: \"q\\\"uoted\" <a@b.c>, x@y\r\n", IMAP_ENV_FROM, "q\"uoted", "a", "b.c");
	check_env("To: grp: xx@xx.org, yy@yy.org;\r\n", IMAP_ENV_TO, NULL, "grp", NULL);
	check_env("Cc: user2@domain2.org (foo bar)\r\n", IMAP_ENV_CC, "foo bar", "user2", "domain2.org");
	check_env("Subject: x\r\n", IMAP_ENV_FROM, NULL, NULL, NULL);
	check_env("From: =?iso-8859-1?q?foo_aar?= <e@f.g>\r\n", IMAP_ENV_FROM, "=?iso-8859-1?q?foo_aar?=", "e", "f.g");
	/* an 8-bit name goes out as a literal */
	check_env("From: \xc3\xa9mile <e@f.g>\r\n", IMAP_ENV_FROM, "\xc3\xa9mile", "e", "f.g");

	struct buf b = BUF_INIT;
	assert_true(imap_env_string("(\"date\" \"sub\\\\j\" NIL NIL NIL NIL NIL NIL NIL \"<id@x>\")", IMAP_ENV_MESSAGE_ID, &b));
	assert_string_equal(buf_cstr(&b), "<id@x>");
	buf_reset(&b);
	assert_true(imap_env_string("(\"date\" \"sub\\\\j\" NIL NIL NIL NIL NIL NIL NIL \"<id@x>\")", IMAP_ENV_SUBJECT, &b));
	assert_string_equal(buf_cstr(&b), "sub\\j");
	buf_reset(&b);
	assert_true(imap_env_string("(NIL {3}\r\nabc NIL)", IMAP_ENV_SUBJECT, &b));
	assert_string_equal(buf_cstr(&b), "abc");
	/* damaged rows: no reading past the end, just no value */
	buf_reset(&b);
	assert_false(imap_env_string("(NIL {30}\r\nabc)", IMAP_ENV_SUBJECT, &b));
	assert_false(imap_env_string("(NIL \"abc", IMAP_ENV_SUBJECT, &b));
	assert_false(imap_env_string("(NIL NIL", IMAP_ENV_MESSAGE_ID, &b));
	assert_false(imap_env_string("", IMAP_ENV_DATE, &b));
	assert_false(imap_env_string(NULL, IMAP_ENV_DATE, &b));
	assert_false(imap_env_string("((((((((((x", IMAP_ENV_SUBJECT, &b));
	struct imap_env_str n = { 0 }, m = { 0 }, h = { 0 };
	assert_false(imap_env_first_address("(NIL NIL ((\"a\" NIL \"b\"", IMAP_ENV_FROM, &n, &m, &h));
	assert_true(m.nil);
	assert_false(imap_env_first_address("(NIL NIL NIL", IMAP_ENV_FROM, &n, &m, &h));
	buf_free(&n.v);
	buf_free(&m.v);
	buf_free(&h.v);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_base_subject_long),
		cmocka_unit_test(test_casemap),
		cmocka_unit_test(test_envelope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
