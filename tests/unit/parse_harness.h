/*
 * parse_harness.h — what the IMAP parser unit tests share: one command
 * structure C reused (freed before each parse, so ASan sees a leak in any
 * path), the BAD reason E, and the every-prefix run.  Included by one test
 * file each; not a library.
 */
#ifndef TERN_TEST_PARSE_HARNESS_H
#define TERN_TEST_PARSE_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"

static struct imap_cmd C;
static const char *E;

static enum imap_parse_result parse(const char *text)
{
	imap_cmd_free(&C);
	return imap_parse(text, strlen(text), NULL, 0, false, &C, &E);
}

/*
 * good parses; then every proper prefix of it, cut before its line end,
 * is parsed too.  Some prefixes are commands of their own, so the result
 * is not checked: what fails here is a crash, or a leak under ASan.
 */
static void parse_each_prefix(const char *good)
{
	size_t n = strlen(good);
	assert_int_equal(parse(good), IMAP_PARSE_OK);
	char *buf = malloc(n + 1);
	assert_non_null(buf);
	for (size_t cut = 1; cut + 2 < n; cut++) {
		memcpy(buf, good, cut);
		memcpy(buf + cut, "\r\n", 3);
		(void)parse(buf);
	}
	free(buf);
}

#endif
