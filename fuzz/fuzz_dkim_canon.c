/*
 * fuzz_dkim_canon.c — libFuzzer target for DKIM canonicalisation and the
 * streaming verifier (src/mailauth/dkim_canon.c, dkim_verify.c).
 *
 * The input is a hostile message.  Its first octet chooses piece sizes;
 * the rest goes through (1) both body canonicalisers, whole and in
 * pieces, which must give the same hash, (2) the header collector, whose
 * fields must lie inside what it kept, and each field through both
 * header canonicalisations, and (3) the verifier, with a DNS table that
 * cannot start a lookup (every signature that gets that far is a
 * temperror), so that signature parsing, body hashes with l= and header
 * hashes all run on hostile data.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"
#include "mailauth/dkim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static struct dns_query *no_lookup(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg)
{
	return NULL;
}

static void no_cancel(void *ctx, struct dns_query *q)
{
	abort();    /* nothing was started */
}

static void never(void *arg, const struct dkim_verdict *v, size_t n)
{
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	size_t step = (d[0] % 17) + 1;
	const char *p = (const char *)d + 1;
	n--;

	for (int c = 0; c < 2; c++) {
		uint8_t a[64], b[64];
		size_t al, bl;
		struct dkim_body whole, parts;
		CHECK(dkim_body_init(&whole, (enum dkim_canon)c, d[0] & 0x80 ? 40 : UINT64_MAX));
		CHECK(dkim_body_init(&parts, (enum dkim_canon)c, d[0] & 0x80 ? 40 : UINT64_MAX));
		dkim_body_feed(&whole, p, n);
		for (size_t o = 0; o < n; o += step)
			dkim_body_feed(&parts, p + o, n - o < step ? n - o : step);
		CHECK(whole.hashed == parts.hashed);
		dkim_body_final(&whole, a, &al);
		dkim_body_final(&parts, b, &bl);
		CHECK(al == 32 && bl == 32 && memcmp(a, b, 32) == 0);
	}

	struct dkim_headers h = { .raw = BUF_INIT };
	size_t used = 0;
	for (size_t o = 0; o < n && !h.done; o += step)
		used += dkim_headers_feed(&h, p + o, n - o < step ? n - o : step);
	CHECK(used <= n);
	dkim_headers_split(&h);
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < h.nfields; i++) {
		CHECK(h.fields[i].off + h.fields[i].len <= h.raw.len);
		CHECK(h.fields[i].name_len <= h.fields[i].len);
		buf_reset(&out);
		dkim_canon_header(DKIM_CANON_RELAXED, h.raw.data + h.fields[i].off, h.fields[i].len, &out);
		CHECK(out.len >= 3 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
		dkim_canon_header(DKIM_CANON_SIMPLE, h.raw.data + h.fields[i].off, h.fields[i].len, &out);
	}
	buf_free(&out);
	dkim_headers_free(&h);

	struct mailauth_dns dns = { no_lookup, no_cancel, NULL };
	struct dkim_verify *v = dkim_verify_new(&dns, 1790000000);
	for (size_t o = 0; o < n; o += step)
		dkim_verify_feed(v, p + o, n - o < step ? n - o : step);
	CHECK(dkim_verify_finish(v, never, NULL));
	size_t nv;
	const struct dkim_verdict *r = dkim_verify_results(v, &nv);
	CHECK(nv <= DKIM_MAX_SIGS);
	struct buf ar = BUF_INIT;
	dkim_format_results(r, nv, &ar);
	for (size_t i = 0; i < nv; i++)
		CHECK(r[i].result != DKIM_RESULT_PASS);
	buf_free(&ar);
	dkim_verify_free(&v);
	return 0;
}
