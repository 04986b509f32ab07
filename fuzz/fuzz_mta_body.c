/*
 * fuzz_mta_body.c — libFuzzer target for src/mta/body.c, the DATA / BDAT
 * encoder.  The input (its first octet chooses DATA or BDAT and a split
 * point) is encoded in two pieces and whole; both must agree, and the
 * output must be what an SMTP server can receive: CRLF line ends only,
 * for DATA no line but the last that is a lone ".", and un-stuffing it
 * must give back the input with bare LFs made CRLF and a final CRLF.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void encode(const char *in, size_t n, bool dot, size_t cut, struct buf *out)
{
	struct mta_body b;
	mta_body_init(&b, dot);
	mta_body_encode(&b, in, cut, out);
	mta_body_encode(&b, in + cut, n - cut, out);
	mta_body_finish(&b, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n == 0)
		return 0;
	bool dot = d[0] & 1;
	const char *in = (const char *)d + 1;
	size_t len = n - 1;
	size_t cut = len ? (size_t)(d[0] >> 1) % (len + 1) : 0;

	struct buf whole = BUF_INIT, split = BUF_INIT, want = BUF_INIT, undone = BUF_INIT;
	encode(in, len, dot, 0, &whole);
	encode(in, len, dot, cut, &split);
	CHECK(whole.len == split.len && (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0));

	/* What the receiver must end up with. */
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			buf_putc(&want, '\r');
		buf_putc(&want, in[i]);
	}
	if (want.len && !(want.len >= 1 && want.data[want.len - 1] == '\n'))
		buf_puts(&want, want.data[want.len - 1] == '\r' ? "\n" : "\r\n");

	/* Every LF is preceded by CR. */
	for (size_t i = 0; i < whole.len; i++)
		if (whole.data[i] == '\n')
			CHECK(i > 0 && whole.data[i - 1] == '\r');
	if (dot) {
		CHECK(whole.len >= 3 && memcmp(whole.data + whole.len - 3, ".\r\n", 3) == 0);
		CHECK(whole.len == 3 || (whole.len >= 5 && memcmp(whole.data + whole.len - 5, "\r\n.\r\n", 5) == 0));
		/* Un-stuff line by line, up to the final ".". */
		size_t i = 0, end = whole.len - 3;
		bool bol = true;
		while (i < end) {
			if (bol && whole.data[i] == '.') {
				CHECK(i + 1 < end && whole.data[i + 1] == '.');
				i++;
			}
			buf_putc(&undone, whole.data[i]);
			bol = whole.data[i] == '\n';
			i++;
		}
	} else {
		buf_append(&undone, whole.data ? whole.data : "", whole.len);
	}
	CHECK(undone.len == want.len && (want.len == 0 || memcmp(undone.data, want.data, want.len) == 0));
	buf_free(&whole);
	buf_free(&split);
	buf_free(&want);
	buf_free(&undone);
	return 0;
}
