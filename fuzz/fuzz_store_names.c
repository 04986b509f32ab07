/*
 * fuzz_store_names.c — the store's name checks (store/names.h) and the
 * CLI's IDN conversion on arbitrary bytes: no crash, no read past the end,
 * and what is accepted is consistent (valid output, idempotent).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "store/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);
	memcpy(s, d, n);
	s[n] = '\0';
	char dom[STORE_DOMAIN_MAX + 1], dom2[STORE_DOMAIN_MAX + 1];
	if (store_name_domain(s, dom)) {
		assert(store_name_domain(dom, dom2) && strcmp(dom, dom2) == 0);
	}
	struct store_addr a, b;
	if (store_name_address(s, &a)) {
		assert(*a.local && *a.domain);
		char again[400];
		snprintf(again, sizeof again, "%s@%s", a.local, a.domain);
		assert(store_name_address(again, &b) && strcmp(a.local, b.local) == 0 && strcmp(a.domain, b.domain) == 0);
		assert(store_name_untagged_len(a.local) < strlen(a.local));
	}
	if (store_name_alias(s, &a))
		assert(*a.domain);
	store_name_local_valid((const char *)d, n > 64 ? 64 : n);
	char *x = cli_domain(s);
	free(x);
	x = cli_address(s, true);
	free(x);
	int64_t id;
	cli_parse_id(s, 1, INT64_MAX, &id);
	free(s);
	return 0;
}
