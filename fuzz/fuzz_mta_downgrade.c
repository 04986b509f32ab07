/*
 * fuzz_mta_downgrade.c — libFuzzer target for src/mta/downgrade.c, the
 * 7-bit downgrade.  The input is a message.  The conversion must stay
 * within MTA_DOWNGRADE_MAX, give the input back unchanged when it says
 * nothing changed, hold no 8-bit octet when it reports none left, and be a
 * fixed point (converting its output changes nothing).  The
 * quoted-printable encoder, on the same input, must give lines of at most
 * 76 octets that decode (mail_qp_decode) back to the input with bare LFs
 * made CRLF.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/cte.h"
#include "mta/downgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static bool any_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80 || p[i] == '\0')
			return true;
	return false;
}

static void check_qp(const char *in, size_t n)
{
	struct buf enc = BUF_INIT, dec = BUF_INIT, want = BUF_INIT;
	mta_qp_encode(in, n, &enc);
	CHECK(enc.len <= MTA_QP_MAX(n));
	CHECK(!any_8bit(enc.data ? enc.data : "", enc.len));
	size_t col = 0;
	for (size_t i = 0; i < enc.len; i++) {
		if (enc.data[i] == '\n') {
			CHECK(i > 0 && enc.data[i - 1] == '\r');
			col = 0;
		} else if (enc.data[i] != '\r' || i + 1 >= enc.len || enc.data[i + 1] != '\n') {
			CHECK(enc.data[i] != '\r');     /* a CR only in a line break */
			CHECK(++col <= MTA_QP_LINE_MAX);
			CHECK(col > 1 || enc.data[i] != '-');
		} else {
			/* No white space right before a line break. */
			CHECK(i == 0 || (enc.data[i - 1] != ' ' && enc.data[i - 1] != '\t'));
		}
	}
	mail_qp_decode(enc.data ? enc.data : "", enc.len, &dec);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			buf_putc(&want, '\r');
		buf_putc(&want, in[i]);
	}
	CHECK(dec.len == want.len && (want.len == 0 || memcmp(dec.data, want.data, want.len) == 0));
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *msg = (const char *)d;
	struct buf out = BUF_INIT, again = BUF_INIT;
	struct mta_downgrade_result res, res2;
	bool changed = mta_downgrade(msg, n, &out, &res);
	CHECK(changed == res.changed);
	CHECK(out.len <= MTA_DOWNGRADE_MAX(n, res.nparts));
	if (!changed)
		CHECK(out.len == n && (n == 0 || memcmp(out.data, msg, n) == 0));
	if (!res.header_8bit && !res.residual_8bit && !res.too_deep)
		CHECK(!any_8bit(out.data ? out.data : "", out.len));
	CHECK(!mta_downgrade(out.data ? out.data : "", out.len, &again, &res2));
	buf_free(&out);
	buf_free(&again);
	check_qp(msg, n);
	return 0;
}
