/*
 * fuzz_mail_date.c — libFuzzer target for the RFC 5322 date parser, and the
 * RFC 2047 decoder, which both take short header values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/date.h"
#include "mail/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = xmalloc(n ? n : 1);
	memcpy(s, d, n);
	int64_t t;
	if (mail_date_parse(s, n, &t) && (t < -100000000000LL || t > 300000000000LL))
		abort();        /* years 1000..9999 only */
	struct buf b = BUF_INIT;
	mail_rfc2047_decode(&b, s, n);
	if (!utf8_valid(b.data ? b.data : "", b.len))
		abort();
	buf_free(&b);
	free(s);
	return 0;
}
