/*
 * fuzz_arc.c — libFuzzer target for the ARC header-set parser
 * (src/mailauth/arc_set.c: AAR instances, the sets of a header section and
 * their structure, through dkim_sig.c's AMS and ARC-Seal kinds) and the
 * verifier and sealer around it (arc_verify.c, arc_seal.c).
 *
 * The input is a message as a hostile sender sends it, header and body.
 * It is fed to the verifier in two pieces cut where the first octet says,
 * with DNS that always fails (so the verdict is final inside finish), then
 * sealed with a fixed Ed25519 key.  Besides the sanitizers, the target
 * aborts when a result breaks an invariant: a well-formed chain with a
 * member missing, a cv= out of place or more than 50 sets; a verdict of
 * none for a message with ARC sets, or pass without keys; a seal that does
 * not start the next instance, or whose set the parser does not find.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/arc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static struct dns_query *no_lookup(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg)
{
	return NULL;    /* "could not start": the verifier must cope without a callback */
}

static void no_cancel(void *ctx, struct dns_query *q)
{
	abort();        /* nothing was started */
}

static void never(void *arg, const struct arc_verdict *v)
{
	abort();
}

static EVP_PKEY *fixed_key(void)
{
	static EVP_PKEY *key;
	static const uint8_t seed[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
	if (!key)
		key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
	return key;
}

/* Parse the header section of p[0..n) and check the sets' invariants; returns the sets' n. */
static unsigned check_sets(const char *p, size_t n, bool *well_formed)
{
	struct dkim_headers h;
	memset(&h, 0, sizeof h);
	dkim_headers_feed(&h, p, n);
	dkim_headers_split(&h);
	struct arc_sets s;
	const char *why = NULL;
	bool ok = arc_sets_collect(&h, &s, &why);
	*well_formed = ok && !h.overflow;
	if (ok) {
		CHECK(why == NULL && s.n <= ARC_MAX_INSTANCE);
		for (unsigned i = 1; i <= s.n; i++) {
			size_t len;
			for (enum arc_member m = ARC_AAR; m <= ARC_AS; m++)
				CHECK(arc_sets_get(&h, &s, i, m, &len) != NULL && len > 0);
			CHECK(s.cv[i] == (i == 1 ? DKIM_CV_NONE : DKIM_CV_PASS));
		}
	} else {
		CHECK(why && *why && s.n > 0);
	}
	CHECK(memchr(s.newest_d, '\0', sizeof s.newest_d));
	dkim_headers_free(&h);
	return s.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n == 0)
		return 0;
	size_t cut = d[0] % n;
	d++;
	n--;
	char *p = malloc(n ? n : 1);
	memcpy(p, d, n);
	bool well_formed;
	unsigned sets = check_sets(p, n, &well_formed);

	struct mailauth_dns dns = { no_lookup, no_cancel, NULL };
	struct arc_verify *v = arc_verify_new(&dns, 1790910000, true);
	if (cut > n)
		cut = n;
	arc_verify_feed(v, p, cut);
	arc_verify_feed(v, p + cut, n - cut);
	CHECK(arc_verify_finish(v, never, NULL));
	const struct arc_verdict *r = arc_verify_result(v);
	CHECK(r->result != ARC_RESULT_PASS);         /* no key can be had */
	CHECK(memchr(r->why, '\0', sizeof r->why) && memchr(r->domain, '\0', sizeof r->domain));
	CHECK(r->instances == sets);
	CHECK((r->result == ARC_RESULT_NONE) == (sets == 0));
	CHECK(r->result == ARC_RESULT_NONE || r->why[0]);

	static const char *const res[] = { "spf=none smtp.mailfrom=x@y.example" };
	struct buf out = BUF_INIT;
	const char *why = NULL;
	if (arc_seal(v, fixed_key(), "seal.example", "sel", 1790910000, "mx.example", res, 1, &out, &why)) {
		char lead[32];
		int ll = snprintf(lead, sizeof lead, "ARC-Seal: i=%u;", sets + 1);
		CHECK(out.len > (size_t)ll && memcmp(out.data, lead, (size_t)ll) == 0);
		CHECK(sets < ARC_MAX_INSTANCE);
		if (well_formed && sets == 0) {
			/* Our set alone, on a message that had none, is a well-formed chain of one. */
			buf_append(&out, p, n);
			bool wf;
			CHECK(check_sets(out.data, out.len, &wf) == 1 && wf);
		}
	} else {
		CHECK(why && *why);
	}
	buf_free(&out);
	arc_verify_free(&v);
	CHECK(v == NULL);
	free(p);
	return 0;
}
