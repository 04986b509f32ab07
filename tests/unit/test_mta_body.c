/*
 * test_mta_body.c — unit tests of src/mta/body.c, the DATA / BDAT
 * encoder: dot-stuffing, bare LF to CRLF, the final CRLF and ".", and the
 * same output however the input is split.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "mta/body.h"

static void encode_split(const char *in, size_t n, bool dot, size_t cut, struct buf *out)
{
	struct mta_body b;
	mta_body_init(&b, dot);
	buf_reset(out);
	if (cut > n)
		cut = n;
	mta_body_encode(&b, in, cut, out);
	mta_body_encode(&b, in + cut, n - cut, out);
	mta_body_finish(&b, out);
}

/* The encoding of in, checked against want for every split point and byte by byte. */
static void expect(const char *in, bool dot, const char *want)
{
	size_t n = strlen(in);
	struct buf out = BUF_INIT;
	for (size_t cut = 0; cut <= n; cut++) {
		encode_split(in, n, dot, cut, &out);
		if (out.len != strlen(want) || (out.len && memcmp(out.data, want, out.len) != 0))
			fail_msg("in \"%s\" cut %zu: got \"%s\" want \"%s\"", in, cut, buf_cstr(&out), want);
	}
	struct mta_body b;
	mta_body_init(&b, dot);
	buf_reset(&out);
	for (size_t i = 0; i < n; i++)
		mta_body_encode(&b, in + i, 1, &out);
	mta_body_finish(&b, &out);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void test_data(void **state)
{
	expect("a\r\nb\r\n", true, "a\r\nb\r\n.\r\n");
	expect(".a\r\n..b\r\n.\r\nx.y\r\n", true, "..a\r\n...b\r\n..\r\nx.y\r\n.\r\n");
	expect("no final newline", true, "no final newline\r\n.\r\n");
	expect("", true, ".\r\n");
	expect("\r\n", true, "\r\n.\r\n");
	expect("bare\nlf\n.dot", true, "bare\r\nlf\r\n..dot\r\n.\r\n");
	expect("trailing cr\r", true, "trailing cr\r\n.\r\n");
	expect("mid\rcr\r\n", true, "mid\rcr\r\n.\r\n");
	expect(".", true, "..\r\n.\r\n");
	/* A dot after a bare CR does not start a line. */
	expect("a\r.b\r\n", true, "a\r.b\r\n.\r\n");
}

static void test_bdat(void **state)
{
	expect(".a\r\n..b\r\n", false, ".a\r\n..b\r\n");
	expect("x", false, "x\r\n");
	expect("", false, "");
	expect("a\nb", false, "a\r\nb\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data),
		cmocka_unit_test(test_bdat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
