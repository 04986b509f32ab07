/*
 * fuzz_dmarc_record.c — libFuzzer target for src/mailauth/dmarc_record.c
 * and authres.c.
 *
 * The input is a hostile _dmarc TXT record.  Besides the sanitizers, the
 * target aborts when a parsed record breaks an invariant: pct within
 * 0..100, policies in range, URIs bounded, NUL-terminated and printable,
 * and an OK record always with a policy.  The same bytes also go through
 * the Authentication-Results authserv-id matcher.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/authres.h"
#include "mailauth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void check_uris(char uris[][DMARC_URI_MAX], size_t n)
{
	CHECK(n <= DMARC_URIS_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(uris[i], DMARC_URI_MAX);
		CHECK(len > 0 && len < DMARC_URI_MAX);
		CHECK(strchr(uris[i], ':'));
		for (size_t k = 0; k < len; k++)
			CHECK((unsigned char)uris[i][k] > ' ' && (unsigned char)uris[i][k] < 0x7f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	/* an exact-size copy, so reading past n is caught */
	char *txt = malloc(n ? n : 1);
	if (!txt)
		return 0;
	memcpy(txt, d, n);
	struct dmarc_record r;
	enum dmarc_parse p = dmarc_record_parse(txt, n, &r);
	CHECK(p == DMARC_RECORD_OK || p == DMARC_RECORD_NOT_DMARC || p == DMARC_RECORD_INVALID);
	if (p == DMARC_RECORD_OK) {
		CHECK(r.p >= DMARC_POLICY_NONE && r.p <= DMARC_POLICY_REJECT);
		CHECK(r.sp <= DMARC_POLICY_REJECT);
		CHECK(r.pct <= 100);
		CHECK(memchr(r.fo, '\0', sizeof r.fo));
		check_uris(r.rua, r.nrua);
		check_uris(r.ruf, r.nruf);
	}
	(void)authres_is_ours(txt, n, "mx.example.org");
	free(txt);
	return 0;
}
