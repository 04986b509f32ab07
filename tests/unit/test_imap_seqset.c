/*
 * test_imap_seqset.c — IMAP sequence sets (src/imap/seqset.c) and modified
 * UTF-7 mailbox names (src/imap/mutf7.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/mutf7.h"
#include "imap/seqset.h"
#include "lib/buf.h"

static bool P(const char *s, struct imap_seqset *set)
{
	return imap_seqset_parse(s, strlen(s), true, set);
}

/* Format into a static string (for assertions). */
static const char *fmt(const struct imap_seqset *set)
{
	static char out[4096];
	struct buf b = BUF_INIT;
	imap_seqset_format(set, &b);
	snprintf(out, sizeof out, "%s", b.data ? b.data : "");
	buf_free(&b);
	return out;
}

static void test_seqset_parse(void **state)
{
	(void)state;
	struct imap_seqset s;
	assert_true(P("1", &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].lo, 1);
	assert_int_equal(s.r[0].hi, 1);
	imap_seqset_free(&s);
	assert_true(P("1:5,7,9:*", &s));
	assert_int_equal(s.n, 3);
	assert_int_equal(s.r[2].lo, 9);
	assert_int_equal(s.r[2].hi, IMAP_SEQ_STAR);
	assert_string_equal(fmt(&s), "1:5,7,9:*");
	imap_seqset_free(&s);
	assert_true(P("*", &s));
	assert_int_equal(s.r[0].lo, IMAP_SEQ_STAR);
	imap_seqset_free(&s);
	assert_true(P("5:2", &s));              /* either order */
	assert_int_equal(s.r[0].lo, 5);
	assert_int_equal(s.r[0].hi, 2);
	imap_seqset_free(&s);
	assert_true(P("1:4294967295", &s));
	assert_int_equal(s.r[0].hi, 4294967295u);
	imap_seqset_free(&s);
	assert_true(P("$", &s));
	assert_true(s.saved);
	assert_int_equal(s.n, 0);
	assert_string_equal(fmt(&s), "$");
	imap_seqset_free(&s);
	assert_false(imap_seqset_parse("$", 1, false, &s));

	static const char *const bad[] = { "", "0", "0:5", "5:0", "01", "4294967296", "99999999999999999999",
					   "1,", ",1", "1,,2", "1:", ":1", "1::2", "1:2:3", "a", "1 2", "$,1",
					   "1,$", "$$", "**", "*1", "1*", "-1", "+1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (P(bad[i], &s))
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(s.n, 0);
		assert_null(s.r);
	}
	/* not NUL-terminated: the length is the truth */
	assert_true(imap_seqset_parse("12,34", 2, false, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].lo, 12);
	imap_seqset_free(&s);
}

static void test_seqset_resolve(void **state)
{
	(void)state;
	struct imap_seqset s;
	assert_true(P("9:*,1:3,2,4,20:15", &s));
	imap_seqset_resolve(&s, 12);
	/* 1:3 + 2 + 4 -> 1:4; 9:12 and 12:... ; 15:20 stays */
	assert_string_equal(fmt(&s), "1:4,9:12,15:20");
	assert_true(imap_seqset_contains(&s, 1));
	assert_true(imap_seqset_contains(&s, 4));
	assert_false(imap_seqset_contains(&s, 5));
	assert_false(imap_seqset_contains(&s, 8));
	assert_true(imap_seqset_contains(&s, 12));
	assert_false(imap_seqset_contains(&s, 13));
	assert_true(imap_seqset_contains(&s, 20));
	assert_false(imap_seqset_contains(&s, 21));
	assert_false(imap_seqset_contains(&s, 0));
	imap_seqset_free(&s);

	/* '*' larger than the other end: "5:*" with star 3 is 3:5 */
	assert_true(P("5:*", &s));
	imap_seqset_resolve(&s, 3);
	assert_string_equal(fmt(&s), "3:5");
	imap_seqset_free(&s);

	/* empty mailbox: '*' and "1:*" match nothing; plain numbers stay */
	assert_true(P("*", &s));
	imap_seqset_resolve(&s, 0);
	assert_int_equal(s.n, 0);
	assert_false(imap_seqset_contains(&s, 1));
	imap_seqset_free(&s);
	assert_true(P("1:*,7", &s));
	imap_seqset_resolve(&s, 0);
	assert_string_equal(fmt(&s), "7");
	imap_seqset_free(&s);

	/* the whole range: no iteration over the numbers it spans */
	assert_true(P("1:4294967295,4294967295,*", &s));
	imap_seqset_resolve(&s, 4294967295u);
	assert_string_equal(fmt(&s), "1:4294967295");
	assert_true(imap_seqset_contains(&s, 4294967295u));
	assert_true(imap_seqset_contains(&s, 2000000000u));
	imap_seqset_free(&s);

	/* adjacency merges, a gap of one does not */
	assert_true(P("1,2,3,5,6,8", &s));
	imap_seqset_resolve(&s, 100);
	assert_string_equal(fmt(&s), "1:3,5:6,8");
	/* resolving twice changes nothing */
	imap_seqset_resolve(&s, 1);
	assert_string_equal(fmt(&s), "1:3,5:6,8");
	imap_seqset_free(&s);

	/* "$" resolves to nothing by itself (the session substitutes it) */
	assert_true(P("$", &s));
	imap_seqset_resolve(&s, 10);
	assert_int_equal(s.n, 0);
	imap_seqset_free(&s);
}

static void test_seqset_copy_from_sorted(void **state)
{
	(void)state;
	struct imap_seqset s, c;
	assert_true(P("3:1,*", &s));
	imap_seqset_copy(&c, &s);
	imap_seqset_free(&s);
	assert_string_equal(fmt(&c), "3:1,*");
	imap_seqset_free(&c);
	struct imap_seqset empty = { 0 };
	imap_seqset_copy(&c, &empty);
	assert_int_equal(c.n, 0);
	assert_null(c.r);

	uint32_t v[] = { 1, 2, 3, 5, 7, 8, 8, 9, 4294967295u };
	imap_seqset_from_sorted(&s, v, sizeof v / sizeof v[0]);
	assert_string_equal(fmt(&s), "1:3,5,7:9,4294967295");
	assert_true(imap_seqset_contains(&s, 8));
	assert_false(imap_seqset_contains(&s, 6));
	imap_seqset_free(&s);
	imap_seqset_from_sorted(&s, v, 0);
	assert_int_equal(s.n, 0);
	assert_string_equal(fmt(&s), "");
	imap_seqset_free(&s);
}

static void test_seqset_hostile(void **state)
{
	(void)state;
	/* 10,000 elements, in reverse order, with overlaps: parsed, sorted, merged */
	struct buf b = BUF_INIT;
	for (int i = 10000; i >= 1; i--)
		buf_printf(&b, "%s%d", i == 10000 ? "" : ",", i * 2);
	struct imap_seqset s;
	assert_true(imap_seqset_parse(b.data, b.len, false, &s));
	assert_int_equal(s.n, 10000);
	imap_seqset_resolve(&s, 30000);
	assert_int_equal(s.n, 10000);
	assert_int_equal(s.r[0].lo, 2);
	assert_int_equal(s.r[9999].lo, 20000);
	assert_true(imap_seqset_contains(&s, 19998));
	assert_false(imap_seqset_contains(&s, 19999));
	imap_seqset_free(&s);
	buf_reset(&b);
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "%s1:4294967295", i ? "," : "");
	assert_true(imap_seqset_parse(b.data, b.len, false, &s));
	imap_seqset_resolve(&s, 5);
	assert_int_equal(s.n, 1);
	imap_seqset_free(&s);
	/* a trailing comma after 10,000 good elements still fails, and frees */
	buf_putc(&b, ',');
	assert_false(imap_seqset_parse(b.data, b.len, false, &s));
	assert_null(s.r);
	buf_free(&b);
}

/* ---- modified UTF-7 ------------------------------------------------------------ */

static bool dec(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "pre");
	bool ok = imap_mutf7_to_utf8(in, strlen(in), &b);
	bool r;
	if (want)
		r = ok && b.len == 3 + strlen(want) && memcmp(b.data + 3, want, strlen(want)) == 0;
	else
		r = !ok && b.len == 3 && strcmp(b.data, "pre") == 0;    /* untouched on failure */
	buf_free(&b);
	return r;
}

static bool enc(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	imap_utf8_to_mutf7(in, strlen(in), &b);
	bool r = b.len == strlen(want) && memcmp(b.data ? b.data : "", want, b.len) == 0;
	if (!r)
		print_error("encoded \"%s\" as \"%s\", want \"%s\"\n", in, b.data ? b.data : "", want);
	buf_free(&b);
	return r;
}

static void test_mutf7_known(void **state)
{
	(void)state;
	/* RFC 3501 §5.1.3 example and friends */
	assert_true(dec("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"));
	assert_true(enc("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"));
	assert_true(dec("INBOX", "INBOX"));
	assert_true(dec("", ""));
	assert_true(dec("&-", "&"));
	assert_true(dec("a&-b&-", "a&b&"));
	assert_true(enc("a&b", "a&-b"));
	assert_true(dec("&AOQ-", "\xc3\xa4"));
	assert_true(enc("\xc3\xa4", "&AOQ-"));
	assert_true(dec("Entw&APw-rfe", "Entw\xc3\xbcrfe"));
	assert_true(enc("Entw\xc3\xbcrfe", "Entw&APw-rfe"));
	assert_true(dec("&AOQA5A-", "\xc3\xa4\xc3\xa4"));
	assert_true(enc("\xc3\xa4\xc3\xa4", "&AOQA5A-"));
	/* astral plane: surrogate pair (U+1F600) */
	assert_true(enc("\xf0\x9f\x98\x80", "&2D3eAA-"));
	assert_true(dec("&2D3eAA-", "\xf0\x9f\x98\x80"));
	/* '&' right after a run */
	assert_true(enc("\xc3\xa4&", "&AOQ-&-"));
	assert_true(dec("&AOQ-&-", "\xc3\xa4&"));
	/* controls are encoded; invalid UTF-8 becomes U+FFFD */
	assert_true(enc("a\tb", "a&AAk-b"));
	assert_true(dec("a&AAk-b", "a\tb"));
	assert_true(enc("\xff", "&,,0-"));
	assert_true(dec("&,,0-", "\xef\xbf\xbd"));
	assert_true(enc("", ""));
}

static void test_mutf7_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"&AGE",             /* unterminated */
		"&",                /* unterminated */
		"a&AOQ",            /* unterminated */
		"&AGE-",            /* encodes 'a' (printable ASCII) */
		"&ACY-",            /* encodes '&' */
		"&AEEAQg-",         /* encodes "AB" */
		"&AAA-",            /* U+0000 */
		"&AOQ-&AOQ-",       /* two runs back to back: non-minimal */
		"&AOR-",            /* non-zero padding bits */
		"&AOQA-",           /* a superfluous base64 character */
		"&AOQAAA-",         /* U+00E4 then U+0000 */
		"&A-",              /* 6 bits: nothing encoded */
		"&AO-",             /* 12 bits: half a character */
		"&2D0-",            /* lone high surrogate */
		"&2D3YPQ-",         /* high surrogate followed by another high */
		"&3gA-",            /* lone low surrogate */
		"&AO/-",            /* '/' is not in the modified alphabet */
		"&AO=-",            /* '=' padding is not used */
		"&AO Q-",           /* space inside a run */
		"a\x80",            /* raw 8-bit */
		"a\tb",             /* raw control */
		"a\x7f",
		"\xc3\xa4",         /* raw UTF-8 is not modified UTF-7 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (!dec(bad[i], NULL))
			fail_msg("accepted \"%s\"", bad[i]);
	/* embedded NUL with an explicit length */
	struct buf b = BUF_INIT;
	assert_false(imap_mutf7_to_utf8("a\0b", 3, &b));
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* Random valid UTF-8 (no NUL) survives encode + decode, and the encoding is canonical. */
static void test_mutf7_roundtrip(void **state)
{
	(void)state;
	static const uint32_t pool[] = { 'a', 'Z', '&', '-', '/', ' ', '~', 0x01, 0x1f, 0x7f, 0x80, 0xe4,
					 0x7ff, 0x800, 0x4e2d, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000,
					 0x1f600, 0x10ffff };
	srand(1234);
	for (int iter = 0; iter < 5000; iter++) {
		struct buf in = BUF_INIT, m = BUF_INIT, out = BUF_INIT, m2 = BUF_INIT;
		int len = rand() % 12;
		for (int i = 0; i < len; i++) {
			uint32_t cp = pool[(size_t)rand() % (sizeof pool / sizeof pool[0])];
			char t[4];
			size_t n;
			if (cp < 0x80) { t[0] = (char)cp; n = 1; }
			else if (cp < 0x800) { t[0] = (char)(0xc0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
			else if (cp < 0x10000) { t[0] = (char)(0xe0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
						 t[2] = (char)(0x80 | (cp & 0x3f)); n = 3; }
			else { t[0] = (char)(0xf0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			       t[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); t[3] = (char)(0x80 | (cp & 0x3f)); n = 4; }
			buf_append(&in, t, n);
		}
		imap_utf8_to_mutf7(in.data ? in.data : "", in.len, &m);
		assert_true(imap_mutf7_to_utf8(m.data ? m.data : "", m.len, &out));
		assert_int_equal(out.len, in.len);
		assert_memory_equal(out.data ? out.data : "", in.data ? in.data : "", in.len);
		imap_utf8_to_mutf7(out.data ? out.data : "", out.len, &m2);
		assert_int_equal(m2.len, m.len);
		assert_memory_equal(m2.data ? m2.data : "", m.data ? m.data : "", m.len);
		buf_free(&in);
		buf_free(&m);
		buf_free(&out);
		buf_free(&m2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seqset_parse),
		cmocka_unit_test(test_seqset_resolve),
		cmocka_unit_test(test_seqset_copy_from_sorted),
		cmocka_unit_test(test_seqset_hostile),
		cmocka_unit_test(test_mutf7_known),
		cmocka_unit_test(test_mutf7_invalid),
		cmocka_unit_test(test_mutf7_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
