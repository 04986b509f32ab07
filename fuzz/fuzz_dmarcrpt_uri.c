/*
 * fuzz_dmarcrpt_uri.c — libFuzzer target for src/mta/dmarcrpt_uri.c.
 *
 * The input is one hostile rua= URI.  Besides the sanitizers, the target
 * aborts when an accepted URI breaks what the report mail relies on: a
 * NUL-terminated address of printable ASCII with exactly one '@', none
 * of the characters that could break a header, within DMARCRPT_ADDR_MAX.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/dmarcrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct dmarcrpt_uri u;
	if (!dmarcrpt_uri_parse((const char *)d, n, &u))
		return 0;
	size_t len = strnlen(u.addr, sizeof u.addr);
	CHECK(len > 0 && len <= DMARCRPT_ADDR_MAX);
	const char *at = strchr(u.addr, '@');
	CHECK(at && at != u.addr && at[1] && !strchr(at + 1, '@'));
	for (size_t i = 0; i < len; i++)
		CHECK(u.addr[i] > ' ' && u.addr[i] < 0x7f && !strchr("<>\"(),;:\\[]?%\r\n", u.addr[i]));
	return 0;
}
