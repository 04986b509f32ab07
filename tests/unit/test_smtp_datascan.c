/* test_smtp_datascan.c — DATA/BDAT content scanning (src/smtp/datascan.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/buf.h"
#include "smtp/datascan.h"

static void collect(void *ctx, const char *p, size_t n)
{
	buf_append(ctx, p, n);
}

struct result {
	bool end;
	size_t used;
	bool bare, too_long;
	struct buf out;
};

/* Feed in pieces of `step` octets (0: all at once). */
static void run(const char *in, size_t len, size_t step, struct result *r)
{
	struct smtp_datascan ds;
	smtp_datascan_init(&ds, 1000);
	memset(r, 0, sizeof *r);
	size_t off = 0;
	while (off < len && !r->end) {
		size_t n = step ? step : len;
		if (n > len - off)
			n = len - off;
		off += smtp_datascan_data(&ds, in + off, n, &r->end, collect, &r->out);
	}
	r->used = off;
	r->bare = ds.bare_eol;
	r->too_long = ds.too_long;
}

/* Every way of cutting the input gives the same answer. */
static void expect(const char *in, bool end, size_t used, const char *out, bool bare, bool too_long)
{
	size_t len = strlen(in);
	for (size_t step = 0; step <= 7; step++) {
		struct result r;
		run(in, len, step, &r);
		assert_int_equal(r.end, end);
		if (end)
			assert_int_equal(r.used, used);
		assert_int_equal(r.out.len, strlen(out));
		assert_memory_equal(buf_cstr(&r.out), out, strlen(out));
		assert_int_equal(r.bare, bare);
		assert_int_equal(r.too_long, too_long);
		buf_free(&r.out);
	}
}

static void test_plain_message(void **state)
{
	expect("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", true, 23, "Subject: x\r\n\r\nbody\r\n", false, false);
	expect(".\r\n", true, 3, "", false, false);
	expect("a\r\n.\r", false, 0, "a\r\n", false, false);
}

static void test_dot_stuffing(void **state)
{
	expect("..\r\n...x\r\n.y\r\n.\r\n", true, 17, ".\r\n..x\r\ny\r\n", false, false);
}

static void test_smuggling_shapes_do_not_end_data(void **state)
{
	/* none of these is <CRLF>.<CRLF>: data continues, and the message is marked bad */
	expect("a\n.\r\nMAIL FROM:<x@y>\r\n", false, 0, "a\n.\r\nMAIL FROM:<x@y>\r\n", true, false);
	expect("a\r\n.\nb\r\n", false, 0, "a\r\n\nb\r\n", true, false);   /* the dot counts as stuffing */
	expect("a\r.\r\nb\r\n", false, 0, "a\r.\r\nb\r\n", true, false);
	expect("a\r\n.\rb\r\n", false, 0, "a\r\n\rb\r\n", true, false);
	/* and the real end still ends it */
	expect("a\n.\r\nb\r\n.\r\n", true, 11, "a\n.\r\nb\r\n", true, false);
}

static void count_calls(void *ctx, const char *p, size_t n)
{
	(*(int *)ctx)++;
}

/*
 * Content goes out in the longest runs the input allows: lines without a
 * leading dot in one call, however many there are; a stuffed dot cuts the
 * run once.  (Line by line, a 1 MiB body was some 30,000 calls.)
 */
static void test_runs_span_lines(void **state)
{
	static const char body[] = "Subject: x\r\n\r\nline one\r\nline two\r\nbare\nlf and bare\rcr\r\n";
	struct smtp_datascan ds;
	smtp_datascan_init(&ds, 1000);
	int calls = 0;
	bool end;
	assert_int_equal(smtp_datascan_data(&ds, body, strlen(body), &end, count_calls, &calls), strlen(body));
	assert_false(end);
	assert_int_equal(calls, 1);

	static const char stuffed[] = "a\r\nb\r\n..c\r\nd\r\n.\r\n";
	smtp_datascan_init(&ds, 1000);
	calls = 0;
	assert_int_equal(smtp_datascan_data(&ds, stuffed, strlen(stuffed), &end, count_calls, &calls),
			 strlen(stuffed));
	assert_true(end);
	assert_int_equal(calls, 2);
	expect(stuffed, true, strlen(stuffed), "a\r\nb\r\n.c\r\nd\r\n", false, false);
	expect(body, false, 0, body, true, false);
}

static void test_line_length(void **state)
{
	char in[1200], out[1200];
	memset(in, 'x', 998);
	strcpy(in + 998, "\r\n.\r\n");
	memcpy(out, in, 1000);
	out[1000] = '\0';
	expect(in, true, 1003, out, false, false);
	memset(in, 'x', 999);
	strcpy(in + 999, "\r\n.\r\n");
	struct result r;
	run(in, strlen(in), 0, &r);
	assert_true(r.end);
	assert_true(r.too_long);
	buf_free(&r.out);
}

static void test_chunks(void **state)
{
	struct smtp_datascan ds;
	smtp_datascan_init(&ds, 1000);
	smtp_datascan_chunk(&ds, "abc\r", 4);
	smtp_datascan_chunk(&ds, "\ndef\r\n", 6);
	smtp_datascan_chunk_end(&ds);
	assert_false(ds.bare_eol);
	smtp_datascan_init(&ds, 1000);
	smtp_datascan_chunk(&ds, "abc\r", 4);
	smtp_datascan_chunk_end(&ds);
	assert_true(ds.bare_eol);
	smtp_datascan_init(&ds, 1000);
	smtp_datascan_chunk(&ds, "a\nb", 3);
	assert_true(ds.bare_eol);
	smtp_datascan_init(&ds, 1000);
	smtp_datascan_chunk(&ds, "a\r\r\n", 4);
	assert_true(ds.bare_eol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_message),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_smuggling_shapes_do_not_end_data),
		cmocka_unit_test(test_runs_span_lines),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
