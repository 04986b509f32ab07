/*
 * test_imap_parse_sort.c — the parser of SORT (RFC 5256, 5957), THREAD,
 * RETURN (PARTIAL / UPDATE) (RFC 5267, 9394) and CANCELUPDATE
 * (src/imap/parse_search.c): what comes out of each command, and the BAD
 * or NO [BADCHARSET] for every malformed one, whole and one byte short.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "imap/parse.h"
#include "parse_harness.h"


static void bad(const char *text)
{
	if (parse(text) != IMAP_PARSE_BAD)
		fail_msg("not BAD: %s", text);
}

static void test_sort(void **state)
{
	(void)state;
	assert_int_equal(parse("a SORT (REVERSE DATE subject ARRIVAL) UTF-8 ALL\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.type, IMAP_CMD_SORT);
	assert_false(C.uid);
	assert_int_equal(C.nsort, 3);
	assert_int_equal(C.sort[0].key, IMAP_SORT_DATE);
	assert_true(C.sort[0].reverse);
	assert_int_equal(C.sort[1].key, IMAP_SORT_SUBJECT);
	assert_false(C.sort[1].reverse);
	assert_int_equal(C.sort[2].key, IMAP_SORT_ARRIVAL);
	assert_string_equal(C.charset, "UTF-8");
	assert_non_null(C.search);
	assert_int_equal(C.search->child->type, SK_ALL);
	assert_false(C.esearch);

	assert_int_equal(parse("a UID SORT (DISPLAYFROM DISPLAYTO CC TO FROM SIZE) us-ascii SEEN 1:*\r\n"), IMAP_PARSE_OK);
	assert_true(C.uid);
	assert_int_equal(C.nsort, 6);
	assert_int_equal(C.sort[0].key, IMAP_SORT_DISPLAYFROM);
	assert_int_equal(C.sort[5].key, IMAP_SORT_SIZE);

	assert_int_equal(parse("a SORT RETURN (MIN COUNT) (DATE) UTF-8 ALL\r\n"), IMAP_PARSE_OK);
	assert_true(C.esearch);
	assert_int_equal(C.search_ret, IMAP_RET_MIN | IMAP_RET_COUNT);

	assert_int_equal(parse("a SORT (DATE) KOI9-X ALL\r\n"), IMAP_PARSE_BADCHARSET);
	const char *bads[] = {
		"a SORT\r\n", "a SORT (DATE)\r\n", "a SORT (DATE) UTF-8\r\n", "a SORT () UTF-8 ALL\r\n",
		"a SORT (FOO) UTF-8 ALL\r\n", "a SORT (REVERSE) UTF-8 ALL\r\n", "a SORT (REVERSE REVERSE DATE) UTF-8 ALL\r\n",
		"a SORT DATE UTF-8 ALL\r\n", "a SORT (DATE UTF-8 ALL\r\n", "a SORT (DATE  SIZE) UTF-8 ALL\r\n",
		"a SORT (DATE) UTF-8 ALL extra)\r\n", "a SORT CHARSET UTF-8 (DATE) ALL\r\n",
		"a SORT (D D D D D D D D D D D D D D D D D) UTF-8 ALL\r\n",
		"a SORT (DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE) UTF-8 ALL\r\n",
	};
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++)
		bad(bads[i]);
}

static void test_thread(void **state)
{
	(void)state;
	assert_int_equal(parse("a THREAD REFERENCES UTF-8 ALL\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.type, IMAP_CMD_THREAD);
	assert_int_equal(C.thread_alg, IMAP_THREAD_REFERENCES);
	assert_int_equal(parse("a UID THREAD orderedsubject US-ASCII SUBJECT x\r\n"), IMAP_PARSE_OK);
	assert_true(C.uid);
	assert_int_equal(C.thread_alg, IMAP_THREAD_ORDEREDSUBJECT);
	assert_int_equal(parse("a THREAD REFERENCES BIG5-X ALL\r\n"), IMAP_PARSE_BADCHARSET);
	bad("a THREAD\r\n");
	bad("a THREAD REFS UTF-8 ALL\r\n");
	bad("a THREAD REFERENCES\r\n");
	bad("a THREAD REFERENCES UTF-8\r\n");
	bad("a THREAD (REFERENCES) UTF-8 ALL\r\n");
	bad("a THREAD RETURN (ALL) REFERENCES UTF-8 ALL\r\n");
}

static void test_partial_update(void **state)
{
	(void)state;
	assert_int_equal(parse("a SEARCH RETURN (PARTIAL 5:2) ALL\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.search_ret, IMAP_RET_PARTIAL);
	assert_int_equal(C.partial_lo, 2);
	assert_int_equal(C.partial_hi, 5);
	assert_int_equal(parse("a SEARCH RETURN (PARTIAL -1:-100 COUNT) ALL\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.partial_lo, -100);
	assert_int_equal(C.partial_hi, -1);
	assert_int_equal(parse("a UID SORT RETURN (UPDATE PARTIAL 1:10) (DATE) UTF-8 ALL\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.search_ret, IMAP_RET_UPDATE | IMAP_RET_PARTIAL);
	assert_int_equal(parse("a SEARCH RETURN (UPDATE CONTEXT SAVE) ALL\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.search_ret, IMAP_RET_UPDATE | IMAP_RET_CONTEXT | IMAP_RET_SAVE);
	const char *bads[] = {
		"a SEARCH RETURN (PARTIAL) ALL\r\n", "a SEARCH RETURN (PARTIAL 1) ALL\r\n",
		"a SEARCH RETURN (PARTIAL 1:*) ALL\r\n", "a SEARCH RETURN (PARTIAL *:1) ALL\r\n",
		"a SEARCH RETURN (PARTIAL 0:3) ALL\r\n", "a SEARCH RETURN (PARTIAL -1:3) ALL\r\n",
		"a SEARCH RETURN (PARTIAL 1:-3) ALL\r\n", "a SEARCH RETURN (PARTIAL 1:2147483648) ALL\r\n",
		"a SEARCH RETURN (PARTIAL 1:2 PARTIAL 1:2) ALL\r\n", "a SEARCH RETURN (ALL PARTIAL 1:2) ALL\r\n",
		"a SEARCH RETURN (UPDATE UPDATE) ALL\r\n", "a SEARCH RETURN (PARTIAL 1:2\r\n",
		"a SEARCH RETURN (PARTIAL --1:-2) ALL\r\n",
	};
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++)
		bad(bads[i]);
}

static void test_cancelupdate(void **state)
{
	(void)state;
	assert_int_equal(parse("a CANCELUPDATE \"t1\" {2}\r\nt2\r\n"), IMAP_PARSE_BAD);   /* literal not supplied */
	assert_int_equal(parse("a CANCELUPDATE \"t1\" \"t 2\"\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.type, IMAP_CMD_CANCELUPDATE);
	assert_int_equal(C.natoms, 2);
	assert_string_equal(C.atoms[1].p, "t 2");
	bad("a CANCELUPDATE\r\n");
	bad("a CANCELUPDATE t1\r\n");        /* a string, not an atom */
	bad("a CANCELUPDATE \"t1\" \r\n");
	bad("a UID CANCELUPDATE \"t1\"\r\n");
	char many[64 * 6 + 64] = "a CANCELUPDATE";
	for (int i = 0; i < 33; i++)
		strcat(many, " \"x\"");
	strcat(many, "\r\n");
	bad(many);
}

/* No proper prefix of a good command (cut before its line end) crashes or leaks. */
static void test_prefixes(void **state)
{
	(void)state;
	const char *good[] = {
		"a SORT RETURN (MIN MAX PARTIAL -3:-1) (REVERSE SUBJECT DATE) UTF-8 OR SEEN SUBJECT \"x y\"\r\n",
		"a UID THREAD REFERENCES US-ASCII NOT DELETED\r\n",
		"a CANCELUPDATE \"a\" \"b\"\r\n",
	};
	for (size_t g = 0; g < sizeof good / sizeof *good; g++)
		parse_each_prefix(good[g]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_partial_update),
		cmocka_unit_test(test_cancelupdate),
		cmocka_unit_test(test_prefixes),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	imap_cmd_free(&C);
	return rc;
}
