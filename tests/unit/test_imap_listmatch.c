/*
 * test_imap_listmatch.c — LIST pattern matching and LIST/LSUB selection
 * (src/imap/listmatch.c): wildcards at every position, the hierarchy
 * delimiter, INBOX's case-insensitivity, hostile patterns (time-bounded),
 * a randomised comparison with a plain dynamic-programming matcher, and
 * the RFC 5258 / RFC 3501 selection rules (SUBSCRIBED, SPECIAL-USE,
 * RECURSIVEMATCH with CHILDINFO, LSUB's \Noselect parents).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/listmatch.h"
#include "listmatch_ref.h"

static bool match(const char *pat, const char *name)
{
	struct imap_listmatch *m = imap_listmatch_new(pat, strlen(pat));
	bool r = imap_listmatch(m, name, strlen(name));
	imap_listmatch_free(&m);
	assert_null(m);
	return r;
}

/* ---- matching ---------------------------------------------------------------- */

static void test_literal(void **state)
{
	assert_true(match("Sent", "Sent"));
	assert_false(match("Sent", "sent"));           /* only INBOX ignores case */
	assert_false(match("Sent", "Sent/x"));
	assert_false(match("Sent", "Sen"));
	assert_false(match("Sent/x", "Sent"));
	assert_true(match("", ""));
	assert_false(match("", "a"));
	assert_true(match("a/b/c", "a/b/c"));
}

static void test_star(void **state)
{
	assert_true(match("*", "a"));
	assert_true(match("*", "a/b/c"));
	assert_true(match("*", ""));
	assert_true(match("*b", "a/b"));            /* start */
	assert_true(match("a*", "a/b/c"));          /* end */
	assert_true(match("a*c", "a/b/c"));         /* middle, across levels */
	assert_true(match("a*c", "ac"));            /* empty */
	assert_false(match("a*c", "a/b/d"));
	assert_true(match("*a*", "xxaxx"));
	assert_true(match("a/*", "a/b/c"));
	assert_false(match("a/*", "a"));
	assert_true(match("*/*", "a/b"));
	assert_false(match("*/*", "ab"));
	assert_true(match("**", "a/b"));
	assert_true(match("a**b", "a/x/b"));
}

static void test_percent(void **state)
{
	assert_true(match("%", "a"));
	assert_true(match("%", "Sent Items"));
	assert_false(match("%", "a/b"));
	assert_true(match("%", ""));
	assert_true(match("a/%", "a/b"));
	assert_false(match("a/%", "a/b/c"));
	assert_false(match("a/%", "a"));
	assert_true(match("%/b", "a/b"));           /* start */
	assert_false(match("%/b", "a/x/b"));
	assert_true(match("a%c", "abbc"));          /* middle */
	assert_false(match("a%c", "a/c"));
	assert_true(match("a%", "abc"));            /* end */
	assert_false(match("a%", "ab/c"));
	assert_true(match("%/%", "a/b"));
	assert_false(match("%/%", "a/b/c"));
	assert_true(match("%/%/%", "a/b/c"));
	assert_true(match("%%", "ab"));
	assert_false(match("%%", "a/b"));
	/* a '%' next to a '*' is as wide as the '*' */
	assert_true(match("a%*", "a/b/c"));
	assert_true(match("a*%", "a/b/c"));
	assert_true(match("a%*%c", "a/b/c"));
	assert_true(match("%*", "x/y"));
}

static void test_inbox_case(void **state)
{
	assert_true(match("INBOX", "INBOX"));
	assert_true(match("inbox", "INBOX"));
	assert_true(match("InBoX", "INBOX"));
	assert_true(match("inbox/%", "INBOX/Sub"));
	assert_true(match("Inbox/*", "INBOX/a/b"));
	assert_false(match("inbox/sub", "INBOX/Sub"));   /* only the INBOX part */
	assert_true(match("i*", "INBOX"));
	assert_true(match("%x", "INBOX"));
	assert_true(match("in%", "INBOX"));
	assert_true(match("inbox", "inbox"));
	/* a name that merely starts with INBOX is an ordinary name */
	assert_false(match("inboxes", "INBOXES"));
	assert_true(match("INBOXES", "INBOXES"));
	assert_false(match("inbox%", "INBOXES"));
	assert_true(match("INBOX%", "INBOXES"));
	assert_false(match("inbox", "INBOXES"));
}

static void test_utf8_and_odd_octets(void **state)
{
	assert_true(match("\xe5\x8f\xb0\xe5\x8c\x97", "\xe5\x8f\xb0\xe5\x8c\x97"));
	assert_true(match("%\xe5\x8c\x97", "\xe5\x8f\xb0\xe5\x8c\x97"));
	assert_true(match("*/\xc3\xa9t\xc3\xa9", "Archive/\xc3\xa9t\xc3\xa9"));
	/* every octet value is an ordinary literal */
	char pat[2] = { 0 }, name[2] = { 0 };
	for (int c = 1; c < 256; c++) {
		if (c == '*' || c == '%')
			continue;
		pat[0] = name[0] = (char)c;
		assert_true(match(pat, name));
		struct imap_listmatch *m = imap_listmatch_new(pat, 1);
		char other = (char)(c == 'x' ? 'y' : 'x');
		assert_false(imap_listmatch(m, &other, 1));
		imap_listmatch_free(&m);
	}
	/* NUL octets with explicit lengths */
	struct imap_listmatch *m = imap_listmatch_new("a\0b", 3);
	assert_true(imap_listmatch(m, "a\0b", 3));
	assert_false(imap_listmatch(m, "a", 1));
	imap_listmatch_free(&m);
	imap_listmatch_free(&m);   /* NULL is fine */
}

static void test_long_patterns(void **state)
{
	/* Patterns wider than one 64-bit word of states. */
	char pat[600], name[600];
	for (size_t i = 0; i < 300; i++) {
		pat[2 * i] = (char)('a' + i % 26);
		pat[2 * i + 1] = i % 3 ? '%' : '*';
		name[i] = (char)('a' + i % 26);
	}
	struct imap_listmatch *m = imap_listmatch_new(pat, 600);
	assert_true(imap_listmatch(m, name, 300));
	assert_false(imap_listmatch(m, name, 299));
	name[150] = '/';    /* every octet must be a literal here, and no literal is '/' */
	assert_false(imap_listmatch(m, name, 300));
	imap_listmatch_free(&m);

	/* The literal limit: exactly the limit works, one more matches nothing. */
	size_t lim = IMAP_LISTMATCH_LITERALS_MAX;
	char *big = malloc(lim + 2);
	memset(big, 'a', lim + 1);
	big[lim + 1] = '\0';
	m = imap_listmatch_new(big, lim);
	assert_true(imap_listmatch(m, big, lim));
	assert_false(imap_listmatch(m, big, lim + 1));
	imap_listmatch_free(&m);
	m = imap_listmatch_new(big, lim + 1);
	assert_false(imap_listmatch(m, big, lim + 1));
	imap_listmatch_free(&m);
	/* wildcards do not count toward it */
	char *wide = malloc(3 * lim);
	for (size_t i = 0; i < lim; i++) {
		wide[3 * i] = '*';
		wide[3 * i + 1] = '%';
		wide[3 * i + 2] = 'a';
	}
	m = imap_listmatch_new(wide, 3 * lim);
	assert_true(imap_listmatch(m, big, lim));
	assert_true(imap_listmatch(m, big, lim + 1));
	assert_false(imap_listmatch(m, big, lim - 1));
	imap_listmatch_free(&m);
	free(wide);
	free(big);
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_hostile_patterns_are_bounded(void **state)
{
	/*
	 * A backtracking matcher takes exponential time on these; here each
	 * match is name length × states / 64 word operations.  10,000 matches
	 * of 500-octet names against 2,000-state patterns must take well under
	 * a few seconds even under sanitizers (a backtracking matcher would not
	 * finish one).
	 */
	char pat[4096], name[512];
	size_t pn = 0;
	for (int i = 0; i < 1000; i++) {
		pat[pn++] = i % 2 ? '*' : '%';
		pat[pn++] = 'a';
	}
	pat[pn++] = 'b';
	memset(name, 'a', 500);
	struct imap_listmatch *m = imap_listmatch_new(pat, pn);
	double t0 = seconds();
	for (int i = 0; i < 2000; i++)
		assert_false(imap_listmatch(m, name, 500));
	imap_listmatch_free(&m);

	const char *evil[] = { "%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*a", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
			       "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%ab", "*/*/*/*/*/*/*/*/*/*/*/*/x" };
	for (size_t k = 0; k < sizeof evil / sizeof evil[0]; k++) {
		m = imap_listmatch_new(evil[k], strlen(evil[k]));
		for (int i = 0; i < 2000; i++) {
			for (int j = 0; j < 500; j++)
				name[j] = k == 3 ? (j % 2 ? '/' : 'a') : 'a';
			assert_int_equal(imap_listmatch(m, name, 500), k == 0);
		}
		imap_listmatch_free(&m);
	}
	double elapsed = seconds() - t0;
	assert_true(elapsed < 5.0);
}

static void test_random_against_reference(void **state)
{
	static const char alpha[] = "ab/*%INBOXinbox";
	srand(12345);
	char pat[24], name[24];
	unsigned long mismatches = 0, matched = 0;
	for (int it = 0; it < 200000; it++) {
		size_t pn = (size_t)rand() % 12, sn = (size_t)rand() % 14;
		for (size_t i = 0; i < pn; i++)
			pat[i] = alpha[rand() % (int)(sizeof alpha - 1)];
		for (size_t i = 0; i < sn; i++)
			name[i] = alpha[rand() % 3 + (rand() % 4 == 0 ? 5 : 0)];
		if (it % 7 == 0 && sn >= 5) {
			memcpy(name, it % 2 ? "INBOX" : "inbox", 5);
			if (sn > 5)
				name[5] = '/';
		}
		struct imap_listmatch *m = imap_listmatch_new(pat, pn);
		bool got = imap_listmatch(m, name, sn);
		imap_listmatch_free(&m);
		bool want = ref_match(pat, pn, name, sn);
		if (got != want && mismatches++ < 5)
			fprintf(stderr, "mismatch: pattern \"%.*s\" name \"%.*s\" got %d\n", (int)pn, pat,
				(int)sn, name, got);
		matched += want;
	}
	assert_int_equal(mismatches, 0);
	assert_true(matched > 1000);    /* the test does reach matching cases */
}

/* ---- selection ---------------------------------------------------------------- */

struct mb {
	const char *name;
	bool subscribed;
	bool special;
};

/* Run a selection; returns the listed names as "name" / "name+C" (childinfo) / "name-" (not selected itself). */
static void run(const struct mb *mbs, size_t n, const char *const *patterns, size_t npats, unsigned sel,
		char *out, size_t outsize)
{
	struct imap_list_entry *e = calloc(n, sizeof *e);
	for (size_t i = 0; i < n; i++) {
		e[i].name = mbs[i].name;
		e[i].subscribed = mbs[i].subscribed;
		e[i].special_use = mbs[i].special;
	}
	struct imap_listmatch *pats[8] = { 0 };
	for (size_t k = 0; k < npats; k++)
		pats[k] = imap_listmatch_new(patterns[k], strlen(patterns[k]));
	imap_list_select(e, n, pats, npats, sel);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!e[i].show)
			continue;
		size_t len = strlen(out);
		snprintf(out + len, outsize - len, "%s%s%s%s", len ? " " : "", e[i].name, e[i].selected ? "" : "-",
			 e[i].childinfo ? "+C" : "");
	}
	for (size_t k = 0; k < npats; k++)
		imap_listmatch_free(&pats[k]);
	free(e);
}

static const struct mb tree[] = {
	{ "Trash", true, true },
	{ "a b", true, false },
	{ "INBOX/x", true, false },
	{ "a/b", false, false },
	{ "a", true, false },
	{ "INBOX", true, false },
	{ "a/b/c", true, false },
	{ "Sent", false, true },
	{ "a!", true, false },
};

static void test_order_and_plain_list(void **state)
{
	char out[512];
	const char *all[] = { "*" };
	run(tree, 9, all, 1, 0, out, sizeof out);
	/* INBOX's tree first; each name directly followed by its descendants */
	assert_string_equal(out, "INBOX INBOX/x Sent Trash a a/b a/b/c a b a!");
	const char *top[] = { "%" };
	run(tree, 9, top, 1, 0, out, sizeof out);
	assert_string_equal(out, "INBOX Sent Trash a a b a!");
	const char *two[] = { "Sent", "a/%", "Sent" };
	run(tree, 9, two, 3, 0, out, sizeof out);
	assert_string_equal(out, "Sent a/b");
	run(tree, 9, two, 0, 0, out, sizeof out);
	assert_string_equal(out, "");
	run(tree, 0, all, 1, IMAP_LISTSEL_SUBSCRIBED | IMAP_LISTSEL_RECURSIVE, out, sizeof out);
	assert_string_equal(out, "");
	const char *inbox[] = { "inbox*" };
	run(tree, 9, inbox, 1, 0, out, sizeof out);
	assert_string_equal(out, "INBOX INBOX/x");
}

static void test_subscribed_and_special_use(void **state)
{
	char out[512];
	const char *all[] = { "*" };
	run(tree, 9, all, 1, IMAP_LISTSEL_SUBSCRIBED, out, sizeof out);
	assert_string_equal(out, "INBOX INBOX/x Trash a a/b/c a b a!");
	run(tree, 9, all, 1, IMAP_LISTSEL_SPECIAL_USE, out, sizeof out);
	assert_string_equal(out, "Sent Trash");
	run(tree, 9, all, 1, IMAP_LISTSEL_SPECIAL_USE | IMAP_LISTSEL_SUBSCRIBED, out, sizeof out);
	assert_string_equal(out, "Trash");
	/* without RECURSIVEMATCH, % does not bring in unsubscribed parents */
	const char *sub[] = { "a/%" };
	run(tree, 9, sub, 1, IMAP_LISTSEL_SUBSCRIBED, out, sizeof out);
	assert_string_equal(out, "");
	/* RECURSIVEMATCH alone (no criteria) changes nothing */
	run(tree, 9, sub, 1, IMAP_LISTSEL_RECURSIVE, out, sizeof out);
	assert_string_equal(out, "a/b");
}

static void test_recursivematch(void **state)
{
	char out[512];
	unsigned sel = IMAP_LISTSEL_SUBSCRIBED | IMAP_LISTSEL_RECURSIVE;
	/* "a/b" is not subscribed but "a/b/c" is and is not listed by "a/%": CHILDINFO */
	const char *sub[] = { "a/%" };
	run(tree, 9, sub, 1, sel, out, sizeof out);
	assert_string_equal(out, "a/b-+C");
	/* with "*" the subscribed child is listed itself: no redundant line for a/b */
	const char *all[] = { "*" };
	run(tree, 9, all, 1, sel, out, sizeof out);
	assert_string_equal(out, "INBOX+C INBOX/x Trash a+C a/b/c a b a!");
	const char *top[] = { "%" };
	run(tree, 9, top, 1, sel, out, sizeof out);
	assert_string_equal(out, "INBOX+C Trash a+C a b a!");

	/* RFC 5258 §5 example 9 ("Qux2" itself absent: its child still counts) */
	static const struct mb ex9[] = {
		{ "Foo2", false, false }, { "Foo2/Bar1", true, false }, { "Foo2/Bar2", true, false },
		{ "Baz2", false, false }, { "Baz2/Bar2", true, false }, { "Baz2/Bar22", true, false },
		{ "Baz2/Bar222", true, false }, { "Eps2", true, false }, { "Eps2/Mamba", true, false },
		{ "Qux2/Bar2", true, false },
	};
	const char *p2[] = { "*2" };
	run(ex9, 10, p2, 1, sel, out, sizeof out);
	assert_string_equal(out, "Baz2/Bar2 Baz2/Bar22 Baz2/Bar222 Eps2+C Foo2-+C Foo2/Bar2 Qux2/Bar2");
	run(ex9, 10, top, 1, sel, out, sizeof out);
	assert_string_equal(out, "Baz2-+C Eps2+C Foo2-+C");

	/* several levels: the flags climb through unsubscribed ancestors */
	static const struct mb deep[] = { { "x", false, false }, { "x/y", false, false }, { "x/y/z", true, false } };
	run(deep, 3, top, 1, sel, out, sizeof out);
	assert_string_equal(out, "x-+C");
	const char *both[] = { "x", "x/y" };
	run(deep, 3, both, 2, sel, out, sizeof out);
	assert_string_equal(out, "x-+C x/y-+C");
	run(deep, 3, all, 1, sel, out, sizeof out);
	assert_string_equal(out, "x/y/z");

	/* SPECIAL-USE as the criterion */
	static const struct mb su[] = { { "Archive", false, false }, { "Archive/2024", false, true } };
	run(su, 2, top, 1, IMAP_LISTSEL_SPECIAL_USE | IMAP_LISTSEL_RECURSIVE, out, sizeof out);
	assert_string_equal(out, "Archive-+C");

	/* a name without its parent, and a sibling sharing a prefix ("ab" is no child of "a") */
	static const struct mb gap[] = { { "a", false, false }, { "ab", true, false }, { "a/b/c", true, false } };
	run(gap, 3, top, 1, sel, out, sizeof out);
	assert_string_equal(out, "a-+C ab");
}

static void test_lsub_noselect_parent(void **state)
{
	/* RFC 3501 §6.3.9: "foo/bar" subscribed, "foo" not: LSUB "" "%" returns foo as \Noselect */
	static const struct mb mbs[] = {
		{ "foo", false, false }, { "foo/bar", true, false }, { "INBOX", true, false },
	};
	char out[256];
	unsigned lsub = IMAP_LISTSEL_SUBSCRIBED | IMAP_LISTSEL_RECURSIVE;
	const char *top[] = { "%" };
	run(mbs, 3, top, 1, lsub, out, sizeof out);
	assert_string_equal(out, "INBOX foo-+C");
	const char *all[] = { "*" };
	run(mbs, 3, all, 1, lsub, out, sizeof out);
	assert_string_equal(out, "INBOX foo/bar");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_star),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_inbox_case),
		cmocka_unit_test(test_utf8_and_odd_octets),
		cmocka_unit_test(test_long_patterns),
		cmocka_unit_test(test_hostile_patterns_are_bounded),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_order_and_plain_list),
		cmocka_unit_test(test_subscribed_and_special_use),
		cmocka_unit_test(test_recursivematch),
		cmocka_unit_test(test_lsub_noselect_parent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
