/*
 * fuzz_pop3_dotstuff.c — the RETR/TOP encoder.  The first octet picks the
 * piece size and TOP's line count (or RETR); the rest is the message.
 * Feeding it in pieces must equal feeding it whole, and a RETR response,
 * decoded the way a client does (split at CRLF, drop the stuffed dot, stop
 * at the lone "."), must give back the message with its line ends made
 * CRLF (bare LF becomes CRLF, an unterminated last line is terminated).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "pop3/dotstuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode(const char *p, size_t n, size_t step, bool top, uint64_t lines, struct buf *out)
{
	struct pop3_dotstuff d;
	pop3_dotstuff_init(&d, top, lines);
	for (size_t off = 0; off < n && !d.done; off += step) {
		size_t k = step < n - off ? step : n - off;
		size_t used = pop3_dotstuff_feed(&d, p + off, k, out);
		if (used > k || (used < k && !d.done))
			abort();
	}
	pop3_dotstuff_finish(&d, out);
}

/* What a client reads back: the lines up to the lone ".", unstuffed, each with CRLF. */
static void decode(const struct buf *in, struct buf *out)
{
	size_t i = 0;
	for (;;) {
		const char *lf = memchr(in->data + i, '\n', in->len - i);
		if (!lf)
			abort();   /* no terminator */
		size_t end = (size_t)(lf - in->data);
		if (end == i || in->data[end - 1] != '\r')
			abort();   /* every line end is CRLF */
		const char *line = in->data + i;
		size_t len = end - 1 - i;
		i = end + 1;
		if (len == 1 && line[0] == '.') {
			if (i != in->len)
				abort();   /* the terminator is last */
			return;
		}
		if (len && line[0] == '.') {
			line++;
			len--;
		}
		buf_append(out, line, len);
		buf_append(out, "\r\n", 2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] & 15) + 1;
	bool top = data[0] & 16;
	uint64_t lines = data[0] >> 5;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;

	struct buf whole = BUF_INIT, pieces = BUF_INIT;
	encode(p, n, n ? n : 1, top, lines, &whole);
	encode(p, n, step, top, lines, &pieces);
	if (whole.len != pieces.len || memcmp(whole.data, pieces.data, whole.len) != 0)
		abort();

	struct buf got = BUF_INIT, want = BUF_INIT;
	decode(&whole, &got);
	if (!top) {
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
				buf_putc(&want, '\r');
			buf_putc(&want, p[i]);
		}
		if (n && p[n - 1] != '\n') {
			if (p[n - 1] != '\r')
				buf_putc(&want, '\r');
			buf_putc(&want, '\n');
		}
		if (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len) != 0))
			abort();
	}
	buf_free(&whole);
	buf_free(&pieces);
	buf_free(&got);
	buf_free(&want);
	return 0;
}
