/*
 * fuzz_smtp_data.c — the DATA/BDAT content scanner.  Beyond not crashing:
 * the first input octet picks a piece size, and the result of feeding the
 * rest in pieces must equal the result of feeding it whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/datascan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void collect(void *ctx, const char *p, size_t n)
{
	buf_append(ctx, p, n);
}

static size_t feed(const char *p, size_t n, size_t step, struct buf *out, struct smtp_datascan *ds, bool *end)
{
	smtp_datascan_init(ds, 1000);
	size_t off = 0;
	*end = false;
	while (off < n && !*end) {
		size_t k = step < n - off ? step : n - off;
		off += smtp_datascan_data(ds, p + off, k, end, collect, out);
	}
	return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 16 + 1;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;

	struct buf whole = BUF_INIT, pieces = BUF_INIT;
	struct smtp_datascan a, b;
	bool end_a, end_b;
	size_t used_a = feed(p, n, n ? n : 1, &whole, &a, &end_a);
	size_t used_b = feed(p, n, step, &pieces, &b, &end_b);
	if (end_a != end_b || used_a != used_b || whole.len != pieces.len ||
	    (whole.len && memcmp(whole.data, pieces.data, whole.len) != 0) ||
	    a.bare_eol != b.bare_eol || a.too_long != b.too_long)
		abort();
	/* The output never holds more than the input, and a clean message has only CRLF line ends. */
	if (whole.len > used_a)
		abort();
	if (!a.bare_eol)
		for (size_t i = 0; i < whole.len; i++)
			if ((whole.data[i] == '\n') != (i > 0 && whole.data[i - 1] == '\r' && whole.data[i] == '\n'))
				abort();

	struct smtp_datascan c;
	smtp_datascan_init(&c, 1000);
	for (size_t off = 0; off < n; off += step)
		smtp_datascan_chunk(&c, p + off, step < n - off ? step : n - off);
	smtp_datascan_chunk_end(&c);
	buf_free(&whole);
	buf_free(&pieces);
	return 0;
}
