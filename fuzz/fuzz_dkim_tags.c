/*
 * fuzz_dkim_tags.c — libFuzzer target for the DKIM tag-list splitter
 * (src/mailauth/dkim_taglist.c), the DKIM-Signature parser (dkim_sig.c)
 * and the key record parser (dkim_keyrec.c).
 *
 * The input is what a hostile sender puts in a DKIM-Signature field, or
 * what a hostile DNS zone publishes as a key record; each parser gets all
 * of it.  Besides the sanitizers, the target aborts when a result breaks
 * an invariant: tag slices outside the input or overlapping, a tag with
 * an empty or bad name, an accepted signature without From in h=, with
 * i= outside d=, or with strings not NUL-terminated within their fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dkim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void check_tags(const char *p, size_t n)
{
	struct dkim_tag t[DKIM_MAX_TAGS];
	size_t nt = 99;
	if (dkim_taglist_parse(p, n, t, DKIM_MAX_TAGS, &nt) != DKIM_TAGS_OK)
		return;
	CHECK(nt <= DKIM_MAX_TAGS);
	size_t prev_end = 0;
	for (size_t i = 0; i < nt; i++) {
		CHECK(t[i].name >= p && t[i].name + t[i].name_len <= p + n && t[i].name_len > 0);
		CHECK(t[i].value >= p && t[i].value + t[i].value_len <= p + n);
		CHECK(t[i].raw_start <= t[i].raw_end && t[i].raw_end <= n && t[i].raw_start >= prev_end);
		CHECK((size_t)(t[i].value - p) >= t[i].raw_start);
		CHECK((size_t)(t[i].value - p) + t[i].value_len <= t[i].raw_end);
		prev_end = t[i].raw_end;
		for (size_t j = 0; j < i; j++)
			CHECK(t[j].name_len != t[i].name_len || memcmp(t[j].name, t[i].name, t[i].name_len) != 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *p = malloc(n ? n : 1);
	memcpy(p, d, n);
	check_tags(p, n);

	struct dkim_sig sig;
	const char *why = NULL;
	if (dkim_sig_parse(p, n, &sig, &why)) {
		CHECK(memchr(sig.d, '\0', sizeof sig.d) && memchr(sig.s, '\0', sizeof sig.s));
		CHECK(memchr(sig.i, '\0', sizeof sig.i) && memchr(sig.i_domain, '\0', sizeof sig.i_domain));
		CHECK(sig.nh >= 1 && sig.nh <= DKIM_MAX_H);
		bool from = false;
		for (size_t i = 0; i < sig.nh; i++) {
			CHECK(memchr(sig.h[i], '\0', DKIM_MAX_HNAME) && sig.h[i][0]);
			from = from || strcasecmp(sig.h[i], "from") == 0;
		}
		CHECK(from);
		CHECK(sig.blen > 0 && sig.blen <= DKIM_MAX_B && sig.bhlen > 0 && sig.bhlen <= sizeof sig.bh);
		size_t il = strlen(sig.i_domain), dl = strlen(sig.d);
		CHECK(il >= dl && strcmp(sig.i_domain + il - dl, sig.d) == 0);
		CHECK(sig.b_raw_start <= sig.b_raw_end && sig.b_raw_end <= n);
		CHECK(strlen(sig.b_prefix) <= 8);
	} else {
		CHECK(why && *why);
	}

	struct dkim_keyrec k;
	why = NULL;
	if (dkim_keyrec_parse(p, n, &k, &why))
		CHECK(k.revoked ? k.plen == 0 : (k.plen > 0 && k.plen <= DKIM_MAX_P));
	else
		CHECK(why && *why);
	free(p);
	return 0;
}
