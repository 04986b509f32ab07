/*
 * test_dkim.c — unit tests of DKIM in src/mailauth/: the canonicalisation
 * examples of RFC 6376 §3.4.5, the signed example of RFC 8463 Appendix A
 * (both its Ed25519 and its 1024-bit RSA signature must verify with the
 * published keys), tag-list and key-record errors, l=, x= and t=,
 * revoked and missing keys, several signatures, and sign-then-verify for
 * RSA and Ed25519.  DNS is an in-process table behind struct
 * mailauth_dns, answering from a zero timer on a real event loop, as the
 * resolver does (never from inside lookup()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_int.h"

#include "mailauth_zone.h"

/* ---- running the verifier ------------------------------------------------ */

struct run {
	struct dkim_verdict v[DKIM_MAX_SIGS];
	size_t n;
	bool called;
};

static void on_done(void *arg, const struct dkim_verdict *v, size_t n)
{
	struct run *r = arg;
	memcpy(r->v, v, n * sizeof *v);
	r->n = n;
	r->called = true;
}

/* Verify msg fed in pieces of step octets (0: whole). */
static struct run verify_msg(struct zone *z, const char *msg, size_t len, size_t step, int64_t now)
{
	struct mailauth_dns dns = { zone_lookup, zone_cancel, z };
	struct dkim_verify *v = dkim_verify_new(&dns, now);
	for (size_t o = 0; o < len; ) {
		size_t take = step && len - o > step ? step : len - o;
		dkim_verify_feed(v, msg + o, take);
		o += take;
	}
	struct run r = { .n = 0 };
	if (dkim_verify_finish(v, on_done, &r)) {
		const struct dkim_verdict *res = dkim_verify_results(v, &r.n);
		memcpy(r.v, res, r.n * sizeof *res);
	} else {
		assert_false(r.called);     /* never from inside finish */
		event_base_dispatch(z->base);
		assert_true(r.called);
	}
	dkim_verify_free(&v);
	return r;
}

/* ---- RFC 8463 Appendix A ---------------------------------------------------- */

static const char rfc8463_msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n"
	"\r\n";

/* The unsigned message of the example: what the tests sign themselves. */
static const char *plain_msg(void)
{
	return strstr(rfc8463_msg, "From: Joe");
}

static const char ed_record[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rsa_record[] =
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
static const char ed_seed_b64[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

#define NOW 1790910000      /* 2026-10-02 */

static struct zone rfc_zone(struct event_base *base)
{
	struct zone z = { .base = base };
	zone_add(&z, "brisbane._domainkey.football.example.com", ed_record, DNS_OK);
	zone_add(&z, "test._domainkey.football.example.com", rsa_record, DNS_OK);
	return z;
}

static int setup(void **state)
{
	*state = event_base_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	event_base_free(*state);
	return 0;
}

static void test_rfc8463_example(void **state)
{
	struct zone z = rfc_zone(*state);
	size_t steps[] = { 0, 1, 7, 64 };
	for (size_t i = 0; i < 4; i++) {
		struct run r = verify_msg(&z, rfc8463_msg, strlen(rfc8463_msg), steps[i], NOW);
		assert_int_equal(r.n, 2);
		assert_int_equal(r.v[0].result, DKIM_RESULT_PASS);
		assert_string_equal(r.v[0].domain, "football.example.com");
		assert_string_equal(r.v[0].selector, "brisbane");
		assert_string_equal(r.v[0].algorithm, "ed25519-sha256");
		assert_string_equal(r.v[0].b, "/gCrinpc");
		assert_int_equal(r.v[1].result, DKIM_RESULT_PASS);
		assert_string_equal(r.v[1].selector, "test");
	}
	struct run r = verify_msg(&z, rfc8463_msg, strlen(rfc8463_msg), 0, NOW);
	struct buf ar = BUF_INIT;
	dkim_format_results(r.v, r.n, &ar);
	assert_string_equal(buf_cstr(&ar),
			    "dkim=pass header.d=football.example.com header.s=brisbane header.a=ed25519-sha256 header.b=/gCrinpc; "
			    "dkim=pass header.d=football.example.com header.s=test header.a=rsa-sha256 header.b=F45dVWDf");
	buf_free(&ar);
}

/* Replace the first occurrence of from with to in msg. */
static char *edit(const char *msg, const char *from, const char *to)
{
	const char *p = strstr(msg, from);
	assert_non_null(p);
	struct buf b = BUF_INIT;
	buf_append(&b, msg, (size_t)(p - msg));
	buf_puts(&b, to);
	buf_puts(&b, p + strlen(from));
	return buf_steal(&b);
}

static void test_rfc8463_tampered(void **state)
{
	struct zone z = rfc_zone(*state);
	char *m = edit(rfc8463_msg, "hungry", "angry");
	struct run r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_FAIL);
	assert_string_equal(r.v[0].why, "body hash did not verify");
	assert_int_equal(r.v[1].result, DKIM_RESULT_FAIL);
	free(m);
	m = edit(rfc8463_msg, "dinner", "lunch");
	r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_FAIL);
	assert_string_equal(r.v[0].why, "signature did not verify");
	assert_int_equal(r.v[1].result, DKIM_RESULT_FAIL);
	free(m);
	/* From is oversigned: one more From above breaks both. */
	m = edit(rfc8463_msg, "From: Joe", "From: Mallory <m@evil.example>\r\nFrom: Joe");
	r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_FAIL);
	assert_int_equal(r.v[1].result, DKIM_RESULT_FAIL);
	free(m);
	/* An unsigned field may be added; relaxed body whitespace may change. */
	m = edit(rfc8463_msg, "Message-ID:", "X-Mailer: any\r\nMessage-ID:");
	char *m2 = edit(m, "game.  Are", "game. \t Are");
	r = verify_msg(&z, m2, strlen(m2), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PASS);
	assert_int_equal(r.v[1].result, DKIM_RESULT_PASS);
	free(m);
	free(m2);
	/* rsa-sha1 is refused whatever (RFC 8301). */
	m = edit(rfc8463_msg, "a=rsa-sha256", "a=rsa-sha1");
	r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PASS);
	assert_int_equal(r.v[1].result, DKIM_RESULT_PERMERROR);
	free(m);
}

static void test_keys(void **state)
{
	struct event_base *base = *state;
	struct zone z = { .base = base };
	zone_add(&z, "brisbane._domainkey.football.example.com", "v=DKIM1; k=ed25519; p=", DNS_OK);
	zone_add(&z, "test._domainkey.football.example.com", NULL, DNS_TEMPFAIL);
	struct run r = verify_msg(&z, rfc8463_msg, strlen(rfc8463_msg), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r.v[0].why, "key revoked");
	assert_int_equal(r.v[1].result, DKIM_RESULT_TEMPERROR);

	struct zone z2 = { .base = base };  /* no keys at all; the ed25519 selector gets the RSA key */
	zone_add(&z2, "brisbane._domainkey.football.example.com", rsa_record, DNS_OK);
	r = verify_msg(&z2, rfc8463_msg, strlen(rfc8463_msg), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r.v[0].why, "key type does not match a=");
	assert_int_equal(r.v[1].result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r.v[1].why, "no key");

	/* t=s: i= must be d= itself. */
	char strict[200];
	snprintf(strict, sizeof strict, "%s; t=s", ed_record);
	struct zone z3 = { .base = base };
	zone_add(&z3, "brisbane._domainkey.football.example.com", strict, DNS_OK);
	r = verify_msg(&z3, rfc8463_msg, strlen(rfc8463_msg), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PASS);
	char *m = edit(rfc8463_msg, "i=@football.example.com", "i=@news.football.example.com");
	r = verify_msg(&z3, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
	free(m);
}

static void test_canon_rfc6376(void **state)
{
	/* RFC 6376 §3.4.5. */
	static const char msg[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
	struct dkim_headers h = { .raw = BUF_INIT };
	size_t used = dkim_headers_feed(&h, msg, sizeof msg - 1);
	assert_true(h.done);
	dkim_headers_split(&h);
	assert_int_equal(h.nfields, 2);
	struct buf rel = BUF_INIT, sim = BUF_INIT;
	for (size_t i = 0; i < h.nfields; i++) {
		dkim_canon_header(DKIM_CANON_RELAXED, h.raw.data + h.fields[i].off, h.fields[i].len, &rel);
		dkim_canon_header(DKIM_CANON_SIMPLE, h.raw.data + h.fields[i].off, h.fields[i].len, &sim);
	}
	assert_string_equal(buf_cstr(&rel), "a:X\r\nb:Y Z\r\n");
	assert_string_equal(buf_cstr(&sim), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	buf_free(&rel);
	buf_free(&sim);
	dkim_headers_free(&h);

	struct {
		const char *body;
		enum dkim_canon c;
		const char *canon;
	} cases[] = {
		{ " C \r\nD \t E\r\n\r\n\r\n", DKIM_CANON_RELAXED, " C\r\nD E\r\n" },
		{ " C \r\nD \t E\r\n\r\n\r\n", DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n" },
		{ "", DKIM_CANON_RELAXED, "" },
		{ "", DKIM_CANON_SIMPLE, "\r\n" },
		{ "\r\n\r\n", DKIM_CANON_SIMPLE, "\r\n" },
		{ "\r\n\r\n", DKIM_CANON_RELAXED, "" },
		{ "a\r\n \r\n\t\r\n", DKIM_CANON_RELAXED, "a\r\n" },
		{ "a", DKIM_CANON_SIMPLE, "a\r\n" },
		{ "a  b ", DKIM_CANON_RELAXED, "a b\r\n" },
		{ "x\r\n\r\ny\r\n", DKIM_CANON_RELAXED, "x\r\n\r\ny\r\n" },
		{ "x\ry\r", DKIM_CANON_SIMPLE, "x\ry\r\r\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		uint8_t want[32], got[64];
		unsigned wl;
		EVP_Digest(cases[i].canon, strlen(cases[i].canon), want, &wl, EVP_sha256(), NULL);
		for (size_t step = 0; step < 3; step++) {
			struct dkim_body b;
			assert_true(dkim_body_init(&b, cases[i].c, UINT64_MAX));
			const char *p = cases[i].body;
			size_t n = strlen(p);
			for (size_t o = 0; o < n; ) {
				size_t take = step && n - o > step ? step : n - o;
				dkim_body_feed(&b, p + o, take);
				o += take;
			}
			size_t gl;
			dkim_body_final(&b, got, &gl);
			assert_int_equal(gl, 32);
			if (memcmp(got, want, 32) != 0)
				fail_msg("case %zu step %zu", i, step);
		}
	}
	/* l= cuts the canonical body. */
	struct dkim_body b;
	uint8_t got[64], want[32];
	size_t gl;
	unsigned wl;
	assert_true(dkim_body_init(&b, DKIM_CANON_RELAXED, 5));
	dkim_body_feed(&b, "ab  cd\r\nmore\r\n", 14);
	assert_int_equal(b.hashed, 5);
	dkim_body_final(&b, got, &gl);
	EVP_Digest("ab cd", 5, want, &wl, EVP_sha256(), NULL);
	assert_memory_equal(got, want, 32);
	(void)used;
	(void)state;
}

static void test_tag_errors(void **state)
{
	struct dkim_tag t[DKIM_MAX_TAGS];
	size_t n;
	assert_int_equal(dkim_taglist_parse("a=1; b = 2 ;c=", 14, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(t[1].value_len, 1);
	assert_int_equal(t[2].value_len, 0);
	assert_int_equal(dkim_taglist_parse("a=1;", 4, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_OK);
	assert_int_equal(dkim_taglist_parse("a=1;;b=2", 8, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_SYNTAX);
	assert_int_equal(dkim_taglist_parse("a=1; a=2", 8, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_DUPLICATE);
	assert_int_equal(dkim_taglist_parse("a", 1, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_SYNTAX);
	assert_int_equal(dkim_taglist_parse("1a=x", 4, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_SYNTAX);
	assert_int_equal(dkim_taglist_parse("a=x\001y", 5, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_SYNTAX);
	assert_int_equal(dkim_taglist_parse("a=\xc3\xa9", 4, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_SYNTAX);
	assert_int_equal(dkim_taglist_parse("a=x y\r\n z", 9, t, DKIM_MAX_TAGS, &n), DKIM_TAGS_OK);
	assert_int_equal(t[0].value_len, 7);

	static const char good[] = "v=1; a=rsa-sha256; d=example.org; s=sel; h=From:To; bh=AAAA; b=AAAA";
	struct dkim_sig sig;
	const char *why;
	assert_true(dkim_sig_parse(good, strlen(good), &sig, &why));
	assert_string_equal(sig.i, "@example.org");
	assert_int_equal(sig.hcanon, DKIM_CANON_SIMPLE);
	assert_int_equal(sig.bcanon, DKIM_CANON_SIMPLE);
	assert_int_equal(sig.nh, 2);
	struct {
		const char *sig, *why;
	} bad[] = {
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=To; bh=AAAA; b=AAAA", "From not signed" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA; s=x", "duplicate tag" },
		{ "v=1; a=rsa-sha256; d=example.org; h=From; bh=AAAA; b=AAAA", "required tag missing" },
		{ "v=2; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA", "unknown version" },
		{ "v=1; a=rsa-md5; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA", "unknown algorithm" },
		{ "v=1; a=rsa-sha256; c=fancy; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA", "unknown canonicalization" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA; i=u@example.com", "i= not within d=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA; i=u@badexample.org", "i= not within d=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA; l=x", "bad l=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA; t=10; x=5", "x= before t=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AA!A", "bad b=" },
		{ "v=1; a=rsa-sha256; d=exa mple.org; s=sel; h=From; bh=AAAA; b=AAAA", "bad d=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From::To; bh=AAAA; b=AAAA", "bad h= list" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=From; bh=AAAA; b=AAAA; q=http", "no supported query method" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (dkim_sig_parse(bad[i].sig, strlen(bad[i].sig), &sig, &why))
			fail_msg("accepted: %s", bad[i].sig);
		if (strcmp(why, bad[i].why) != 0)
			fail_msg("%s: %s, not %s", bad[i].sig, why, bad[i].why);
	}
	/* Unknown tags are ignored, sub-domain i= is fine. */
	static const char extra[] = "v=1; a=ed25519-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; "
				    "foo=bar; z=From:x|To:y; i=user@mail.example.org";
	assert_true(dkim_sig_parse(extra, strlen(extra), &sig, &why));
	assert_string_equal(sig.i_domain, "mail.example.org");

	struct dkim_keyrec k;
	assert_true(dkim_keyrec_parse(ed_record, strlen(ed_record), &k, &why));
	assert_int_equal(k.k, DKIM_KEY_ED25519);
	assert_int_equal(k.plen, 32);
	assert_true(dkim_keyrec_parse("p=AQAB; t=y:s; n=hello", 22, &k, &why));
	assert_true(k.testing && k.strict && k.k == DKIM_KEY_RSA);
	assert_true(dkim_keyrec_parse("v=DKIM1; p=", 11, &k, &why));
	assert_true(k.revoked);
	const char *badkeys[] = {
		"v=DKIM1; h=sha1; p=AQAB", "v=DKIM1; s=tlsrpt; p=AQAB", "v=DKIM2; p=AQAB", "p=AQAB; v=DKIM1",
		"p=AQAB; p=AQAB", "v=DKIM1; k=rsa", "v=DKIM1; p=not base64!", "v=DKIM1; k=dsa; p=AQAB",
	};
	for (size_t i = 0; i < sizeof badkeys / sizeof *badkeys; i++)
		if (dkim_keyrec_parse(badkeys[i], strlen(badkeys[i]), &k, &why))
			fail_msg("accepted key: %s", badkeys[i]);
	(void)state;
}

/* ---- signatures the test makes itself (for l=, x=, t=) ------------------------ */

static EVP_PKEY *rfc_ed_key(void)
{
	struct buf seed = BUF_INIT;
	assert_true(base64_decode(&seed, ed_seed_b64, strlen(ed_seed_b64)));
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, (unsigned char *)seed.data, seed.len);
	buf_free(&seed);
	assert_non_null(k);
	return k;
}

/* Prepend an ed25519 signature with extra tags (before bh=) and body limit l (0: none). */
static char *handmade(const char *msg, const char *extra, uint64_t l)
{
	const char *body = strstr(msg, "\r\n\r\n") + 4;
	struct dkim_body b;
	assert_true(dkim_body_init(&b, DKIM_CANON_RELAXED, l ? l : UINT64_MAX));
	dkim_body_feed(&b, body, strlen(body));
	uint8_t bh[64];
	size_t bhl;
	dkim_body_final(&b, bh, &bhl);
	struct buf f = BUF_INIT;
	buf_puts(&f, "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=football.example.com;\r\n"
		     " s=brisbane; h=from:to:subject; ");
	buf_puts(&f, extra);
	buf_puts(&f, " bh=");
	base64_encode(&f, bh, bhl);
	buf_puts(&f, "; b=");
	struct dkim_headers h = { .raw = BUF_INIT };
	dkim_headers_feed(&h, msg, strlen(msg));
	dkim_headers_split(&h);
	char names[3][DKIM_MAX_HNAME] = { "from", "to", "subject" };
	uint8_t md[32];
	dkim_header_hash(&h, DKIM_CANON_RELAXED, (const char (*)[DKIM_MAX_HNAME])names, 3, f.data, f.len, f.len, f.len, md);
	dkim_headers_free(&h);
	EVP_PKEY *k = rfc_ed_key();
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t sig[64];
	size_t sl = sizeof sig;
	assert_int_equal(EVP_DigestSignInit(m, NULL, NULL, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &sl, md, 32), 1);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(k);
	base64_encode(&f, sig, sl);
	buf_puts(&f, "\r\n");
	buf_puts(&f, msg);
	return buf_steal(&f);
}

static void test_limits_and_times(void **state)
{
	struct zone z = rfc_zone(*state);
	char *m = handmade(plain_msg(), "", 0);
	struct run r = verify_msg(&z, m, strlen(m), 3, NOW);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PASS);
	free(m);

	/* l=: what follows the signed length may change; an l= beyond the body is refused. */
	m = handmade(plain_msg(), "l=10;", 10);
	char *m2 = edit(m, "Joe.\r\n", "Joe.\r\nP.S. appended by a list\r\n");
	r = verify_msg(&z, m2, strlen(m2), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PASS);
	free(m2);
	m2 = edit(m, "Hi.", "Ha.");
	r = verify_msg(&z, m2, strlen(m2), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_FAIL);
	free(m2);
	free(m);
	m = handmade(plain_msg(), "l=100000;", 100000);
	r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r.v[0].why, "l= longer than the body");
	free(m);

	/* x=: expired; t= far ahead. */
	m = handmade(plain_msg(), "t=1790000000; x=1790900000;", 0);
	r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r.v[0].why, "signature expired");
	r = verify_msg(&z, m, strlen(m), 0, 1790800000);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PASS);
	free(m);
	m = handmade(plain_msg(), "t=1791000000;", 0);
	r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
	free(m);
}

static void test_multiple_bound(void **state)
{
	struct zone z = rfc_zone(*state);
	/* Seven signatures: the first DKIM_MAX_SIGS are evaluated, the rest ignored. */
	char *m = strdup(plain_msg());
	for (int i = 0; i < 7; i++) {
		char *n = handmade(m, "", 0);
		free(m);
		m = n;
	}
	z.lookups = 0;
	struct run r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.n, DKIM_MAX_SIGS);
	assert_int_equal(z.lookups, DKIM_MAX_SIGS);
	for (size_t i = 0; i < r.n; i++)
		assert_int_equal(r.v[i].result, DKIM_RESULT_PASS);
	free(m);

	/* No signature: final at once, no callback, no lookup. */
	z.lookups = 0;
	r = verify_msg(&z, plain_msg(), strlen(plain_msg()), 0, NOW);
	assert_int_equal(r.n, 0);
	assert_int_equal(z.lookups, 0);
	struct buf ar = BUF_INIT;
	dkim_format_results(r.v, r.n, &ar);
	assert_string_equal(buf_cstr(&ar), "dkim=none");
	buf_free(&ar);

	/* A malformed signature is judged without DNS. */
	m = edit(rfc8463_msg, "s=brisbane;", "s=brisbane; s=brisbane;");
	r = verify_msg(&z, m, strlen(m), 0, NOW);
	assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r.v[0].why, "duplicate tag");
	assert_int_equal(r.v[1].result, DKIM_RESULT_PASS);
	free(m);

	/* Freeing with lookups in flight cancels them. */
	struct mailauth_dns dns = { zone_lookup, zone_cancel, &z };
	struct dkim_verify *v = dkim_verify_new(&dns, NOW);
	dkim_verify_feed(v, rfc8463_msg, strlen(rfc8463_msg));
	struct run rr = { .n = 0 };
	assert_false(dkim_verify_finish(v, on_done, &rr));
	dkim_verify_free(&v);
	event_base_loop(z.base, EVLOOP_NONBLOCK);
	assert_false(rr.called);
}

/* ---- sign, then verify ------------------------------------------------------- */

/* The key record a CLI would publish for k. */
static char *record_for(EVP_PKEY *k)
{
	struct buf r = BUF_INIT;
	uint8_t raw[64];
	size_t rl = sizeof raw;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &rl), 1);
		buf_puts(&r, "v=DKIM1; k=ed25519; p=");
		base64_encode(&r, raw, rl);
	} else {
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(k, &der);
		assert_true(n > 0);
		buf_puts(&r, "v=DKIM1; k=rsa; p=");
		base64_encode(&r, der, (size_t)n);
		OPENSSL_free(der);
	}
	return buf_steal(&r);
}

static const char outgoing[] =
	"From: Ada Lovelace <ada@example.org>\r\n"
	"To: Grace <grace@example.net>, bob@example.net\r\n"
	"Cc: c@example.com\r\n"
	"Subject: =?utf-8?q?caf=C3=A9?= and a rather long subject line that goes on\r\n"
	" and is folded\r\n"
	"Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
	"Message-ID: <abc@example.org>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"X-Unsigned: yes\r\n"
	"\r\n"
	"Hello  there \r\n"
	"\r\n"
	"second paragraph\r\n"
	"\r\n\r\n";

static char *sign_with(EVP_PKEY *k, const char *msg, size_t step)
{
	struct dkim_sign *s = dkim_sign_new();
	size_t n = strlen(msg);
	for (size_t o = 0; o < n; ) {
		size_t take = step && n - o > step ? step : n - o;
		dkim_sign_feed(s, msg + o, take);
		o += take;
	}
	char dom[254];
	assert_true(dkim_sign_from_domain(s, dom, sizeof dom));
	assert_string_equal(dom, "example.org");
	struct buf out = BUF_INIT;
	assert_true(dkim_sign_finish(s, k, "example.org", "tern202612", 1790900000, NULL, &out));
	dkim_sign_free(&s);
	/* Folded to at most 78 columns, continuation lines start with a space. */
	const char *p = out.data;
	assert_true(strncmp(p, "DKIM-Signature: v=1;", 20) == 0);
	for (const char *e; (e = strstr(p, "\r\n")); p = e + 2) {
		assert_true(e - p <= 78);
		if (p != out.data && *p)
			assert_true(*p == ' ');
	}
	assert_non_null(strstr(out.data, "h=From:From:Subject:Date:To:Cc:Message-ID:"));
	assert_null(strstr(out.data, "X-Unsigned"));
	buf_puts(&out, msg);
	return buf_steal(&out);
}

static void test_sign_verify(void **state)
{
	EVP_PKEY *keys[2] = { EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
			      EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") };
	for (int i = 0; i < 2; i++) {
		assert_non_null(keys[i]);
		char *rec = record_for(keys[i]);
		struct zone z = { .base = *state };
		zone_add(&z, "tern202612._domainkey.example.org", rec, DNS_OK);
		for (size_t step = 0; step < 40; step += 13) {
			char *m = sign_with(keys[i], outgoing, step);
			struct run r = verify_msg(&z, m, strlen(m), step ? step + 1 : 0, NOW);
			assert_int_equal(r.n, 1);
			if (r.v[0].result != DKIM_RESULT_PASS)
				fail_msg("key %d step %zu: %s (%s)", i, step, dkim_result_name(r.v[0].result), r.v[0].why);
			assert_string_equal(r.v[0].algorithm, i == 0 ? "rsa-sha256" : "ed25519-sha256");
			/* From added later (oversigned), and a changed Subject, fail. */
			char *m2 = edit(m, "From: Ada", "From: Eve <eve@evil.example>\r\nFrom: Ada");
			r = verify_msg(&z, m2, strlen(m2), 0, NOW);
			assert_int_equal(r.v[0].result, DKIM_RESULT_FAIL);
			free(m2);
			m2 = edit(m, "Message-ID: <abc", "Message-ID: <abd");
			r = verify_msg(&z, m2, strlen(m2), 0, NOW);
			assert_int_equal(r.v[0].result, DKIM_RESULT_FAIL);
			free(m2);
			free(m);
		}
		free(rec);
		EVP_PKEY_free(keys[i]);
	}
	/* An RSA key under 1024 bits is not accepted (RFC 8301). */
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	if (small) {   /* a strict OpenSSL policy may refuse to make one */
		char *rec = record_for(small);
		struct zone z = { .base = *state };
		zone_add(&z, "tern202612._domainkey.example.org", rec, DNS_OK);
		char *m = sign_with(small, outgoing, 0);
		struct run r = verify_msg(&z, m, strlen(m), 0, NOW);
		assert_int_equal(r.v[0].result, DKIM_RESULT_PERMERROR);
		assert_string_equal(r.v[0].why, "RSA key under 1024 bits");
		free(m);
		free(rec);
		EVP_PKEY_free(small);
	}
}

static void test_sign_from(void **state)
{
	const char *cases[][2] = {
		{ "From: a@Example.ORG\r\n\r\nx\r\n", "example.org" },
		{ "Subject: x\r\nFROM: \"Doe, J\" <j@sub.example.org>, k@other.example\r\n\r\n", "sub.example.org" },
		{ "From: a@example.org\r\nFrom: b@example.net\r\n\r\n", NULL },
		{ "To: a@example.org\r\n\r\n", NULL },
		{ "From: undisclosed\r\n\r\n", NULL },
		{ "From: a@exa/mple.org\r\n\r\n", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct dkim_sign *s = dkim_sign_new();
		dkim_sign_feed(s, cases[i][0], strlen(cases[i][0]));
		char d[254];
		bool ok = dkim_sign_from_domain(s, d, sizeof d);
		if (cases[i][1]) {
			assert_true(ok);
			assert_string_equal(d, cases[i][1]);
		} else {
			assert_false(ok);
		}
		dkim_sign_free(&s);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_rfc6376),
		cmocka_unit_test(test_tag_errors),
		cmocka_unit_test_setup_teardown(test_rfc8463_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc8463_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiple_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
		cmocka_unit_test(test_sign_from),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
