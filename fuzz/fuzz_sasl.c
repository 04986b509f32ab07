/*
 * fuzz_sasl.c — libFuzzer target for src/auth/sasl.c.
 *
 * Input: the first byte picks the mechanism (bit 0: PLAIN / LOGIN, bit 1:
 * mechanism name in lower case) and whether the first step has no initial
 * response (bit 2); bit 3 says the lines are raw bytes to base64-encode
 * first, so that the fuzzer reaches the PLAIN/LOGIN parsers behind the
 * decoder.  The rest is split on '\n' into the client's lines, each fed to
 * sasl_step.  After SASL_DONE the
 * credentials must honour what sasl.h and RFC 4616 promise.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/sasl.h"
#include "lib/base64.h"
#include "lib/buf.h"

#define MAX_STEPS 8

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void check_done(const struct sasl *s)
{
	const char *z = sasl_authzid(s), *c = sasl_authcid(s), *p = sasl_password(s);
	size_t plen = sasl_password_len(s);
	assert(strlen(z) <= 255);
	assert(strlen(c) >= 1 && strlen(c) <= 255);
	assert(plen >= 1 && plen <= 255);
	assert(memchr(p, '\0', plen) == NULL && p[plen] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n == 0)
		return 0;
	uint8_t mode = d[0];
	const char *mech = (mode & 1) ? ((mode & 2) ? "login" : "LOGIN") : ((mode & 2) ? "plain" : "PLAIN");
	struct sasl *s = sasl_new(mech, strlen(mech));
	assert(s != NULL);

	struct buf ch = BUF_INIT, enc = BUF_INIT;
	const char *p = (const char *)d + 1, *end = (const char *)d + n;
	int steps = 0;
	enum sasl_result r = SASL_CHALLENGE;

	if (mode & 4) {
		r = sasl_step(s, NULL, 0, &ch);
		assert(r == SASL_CHALLENGE);
		steps++;
	}
	while (r == SASL_CHALLENGE && steps < MAX_STEPS && p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		if (mode & 8) {
			buf_reset(&enc);
			base64_encode(&enc, p, (size_t)(line_end - p));
			r = sasl_step(s, buf_cstr(&enc), enc.len, &ch);
		} else {
			r = sasl_step(s, p, (size_t)(line_end - p), &ch);
		}
		steps++;
		if (r == SASL_DONE)
			check_done(s);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	/* once finished, every further step is refused */
	if (r != SASL_CHALLENGE)
		assert(sasl_step(s, "AHUAcA==", 8, &ch) == SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
	buf_free(&enc);
	return 0;
}
