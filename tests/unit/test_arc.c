/*
 * test_arc.c — unit tests of ARC (RFC 8617) in src/mailauth/arc*.c: the
 * AAR instance parser; seal-then-verify round trips (no chain → i=1
 * cv=none, then i=2 cv=pass; Ed25519 and RSA; fed whole and one octet at
 * a time); and chains broken on purpose: a set member missing, a gap in
 * i=, a duplicate instance, cv=fail, i over 50, i=1 with cv=pass, a body
 * or header changed, an ARC-Seal over changed sets, a missing key; a
 * failed chain sealed with cv=fail over its own set only; no seal at 50.
 * Keys are made here and published in the in-process DNS table of
 * mailauth_zone.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "mailauth/arc.h"
#include "mailauth/arc_int.h"

#include "mailauth_zone.h"

/* ---- keys, and the table that publishes them ------------------------------- */

/* The zone, and the records it points to. */
struct keytable {
	struct zone z;
	char record[4][1024];
};

/* A new key (EVP_PKEY_ED25519 or EVP_PKEY_RSA), its record published as name. */
static EVP_PKEY *new_key(struct keytable *t, int type, const char *name)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;
	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	if (type == EVP_PKEY_RSA)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(c, 1024), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	EVP_PKEY_CTX_free(c);
	uint8_t der[1024];
	size_t len = sizeof der;
	if (type == EVP_PKEY_ED25519) {
		assert_int_equal(EVP_PKEY_get_raw_public_key(k, der, &len), 1);
	} else {
		unsigned char *p = der;
		int n = i2d_PUBKEY(k, &p);
		assert_true(n > 0);
		len = (size_t)n;
	}
	struct buf b = BUF_INIT;
	base64_encode(&b, der, len);
	char *rec = t->record[t->z.n];
	snprintf(rec, sizeof t->record[0], "v=DKIM1; k=%s; p=%s", type == EVP_PKEY_RSA ? "rsa" : "ed25519", buf_cstr(&b));
	buf_free(&b);
	zone_add(&t->z, name, rec, DNS_OK);
	return k;
}

/* ---- running the verifier and the sealer ------------------------------------ */

#define NOW 1790910000

struct run {
	struct arc_verdict v;
	bool called;
};

static void on_done(void *arg, const struct arc_verdict *v)
{
	struct run *r = arg;
	r->v = *v;
	r->called = true;
}

/* Verify msg fed in pieces of step octets (0: whole); with key, also seal it into *sealed. */
static struct arc_verdict verify_seal(struct keytable *t, const char *msg, size_t step, EVP_PKEY *key,
				      const char *domain, struct buf *sealed, bool *seal_ok, const char **why)
{
	struct mailauth_dns dns = { zone_lookup, zone_cancel, &t->z };
	struct arc_verify *v = arc_verify_new(&dns, NOW, key != NULL);
	size_t len = strlen(msg);
	for (size_t o = 0; o < len; ) {
		size_t take = step && len - o > step ? step : len - o;
		arc_verify_feed(v, msg + o, take);
		o += take;
	}
	struct run r = { .called = false };
	if (!arc_verify_finish(v, on_done, &r)) {
		event_base_dispatch(t->z.base);
		assert_true(r.called);
	} else {
		r.v = *arc_verify_result(v);
	}
	if (key) {
		static const char *const res[] = { "spf=pass smtp.mailfrom=list@lists.example", "dkim=none" };
		struct buf set = BUF_INIT;
		*seal_ok = arc_seal(v, key, domain, "arc", NOW, "mx.example.net", res, 2, &set, why);
		if (sealed) {
			buf_append(sealed, set.data, set.len);
			buf_puts(sealed, msg);
		}
		buf_free(&set);
	}
	arc_verify_free(&v);
	assert_null(v);
	return r.v;
}

static struct arc_verdict verify(struct keytable *t, const char *msg)
{
	return verify_seal(t, msg, 0, NULL, NULL, NULL, NULL, NULL);
}

static const char base_msg[] =
	"From: Joe <joe@origin.example>\r\n"
	"To: list@lists.example\r\n"
	"Subject: is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
	"Message-ID: <20030712040037.46341.5F8J@origin.example>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

struct chain {
	struct keytable t;
	EVP_PKEY *k1, *k2;
	struct buf one, two;        /* base_msg sealed by lists.example (i=1), then by mx.example (i=2) */
};

static int setup(void **state)
{
	struct chain *c = calloc(1, sizeof *c);
	c->t.z.base = event_base_new();
	c->k1 = new_key(&c->t, EVP_PKEY_ED25519, "arc._domainkey.lists.example");
	c->k2 = new_key(&c->t, EVP_PKEY_RSA, "arc._domainkey.mx.example");
	bool ok;
	const char *why = NULL;
	struct arc_verdict v = verify_seal(&c->t, base_msg, 0, c->k1, "lists.example", &c->one, &ok, &why);
	assert_int_equal(v.result, ARC_RESULT_NONE);
	assert_true(ok);
	v = verify_seal(&c->t, buf_cstr(&c->one), 0, c->k2, "mx.example", &c->two, &ok, &why);
	assert_int_equal(v.result, ARC_RESULT_PASS);
	assert_true(ok);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct chain *c = *state;
	EVP_PKEY_free(c->k1);
	EVP_PKEY_free(c->k2);
	buf_free(&c->one);
	buf_free(&c->two);
	event_base_free(c->t.z.base);
	free(c);
	return 0;
}

/* msg with every occurrence of from replaced by to. */
static char *replace(const char *msg, const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	size_t fl = strlen(from);
	for (const char *p = msg; *p; ) {
		const char *hit = strstr(p, from);
		if (!hit) {
			buf_puts(&b, p);
			break;
		}
		buf_append(&b, p, (size_t)(hit - p));
		buf_puts(&b, to);
		p = hit + fl;
	}
	char *out = strdup(buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* msg without the header field starting with prefix (and its continuation lines). */
static char *drop_field(const char *msg, const char *prefix)
{
	const char *f = strstr(msg, prefix);
	assert_non_null(f);
	const char *e = f;
	do
		e = strstr(e, "\r\n") + 2;
	while (*e == ' ' || *e == '\t');
	struct buf b = BUF_INIT;
	buf_append(&b, msg, (size_t)(f - msg));
	buf_puts(&b, e);
	char *out = strdup(buf_cstr(&b));
	buf_free(&b);
	return out;
}

static void assert_fails(struct keytable *t, char *msg, const char *why)
{
	struct arc_verdict v = verify(t, msg);
	assert_int_equal(v.result, ARC_RESULT_FAIL);
	assert_string_equal(v.why, why);
	free(msg);
}

/* ---- the tests ----------------------------------------------------------------- */

static void test_aar_instance(void **state)
{
	unsigned i;
	assert_true(arc_aar_instance(" i=1; lists.example; spf=pass", 29, &i));
	assert_int_equal(i, 1);
	assert_true(arc_aar_instance("\r\n\ti = 42 ;x", 12, &i));
	assert_int_equal(i, 42);
	assert_false(arc_aar_instance(" lists.example; i=1;", 20, &i));
	assert_false(arc_aar_instance(" i=;", 4, &i));
	assert_false(arc_aar_instance(" i=1", 4, &i));
	assert_false(arc_aar_instance(" i=1234567890;", 14, &i));
	assert_false(arc_aar_instance("", 0, &i));
}

static void test_round_trip(void **state)
{
	struct chain *c = *state;
	const char *one = buf_cstr(&c->one), *two = buf_cstr(&c->two);
	/* The set goes on top: AS, AMS, AAR; the AAR carries what we computed. */
	assert_true(strncmp(one, "ARC-Seal: i=1; a=ed25519-sha256; cv=none; d=lists.example; s=arc;\r\n t=1790910000;", 81) == 0);
	assert_non_null(strstr(one, "\r\nARC-Message-Signature: i=1; a=ed25519-sha256; c=relaxed/relaxed;"));
	assert_non_null(strstr(one, "\r\nARC-Authentication-Results: i=1; mx.example.net;\r\n\tspf=pass "
				    "smtp.mailfrom=list@lists.example;\r\n\tdkim=none\r\nFrom: Joe"));
	assert_true(strncmp(two, "ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=mx.example;", 50) == 0);
	for (const char *p = two; *p && strncmp(p, "\r\n\r\n", 4) != 0; ) {
		const char *e = strstr(p, "\r\n");
		assert_true(e - p <= 78);
		p = e + 2;
	}
	/* Both chains verify, however the octets arrive. */
	size_t steps[] = { 0, 1, 7 };
	for (size_t k = 0; k < 3; k++) {
		bool ok;
		const char *why;
		struct arc_verdict v = verify_seal(&c->t, one, steps[k], NULL, NULL, NULL, &ok, &why);
		assert_int_equal(v.result, ARC_RESULT_PASS);
		assert_int_equal(v.instances, 1);
		assert_string_equal(v.domain, "lists.example");
		v = verify_seal(&c->t, two, steps[k], NULL, NULL, NULL, &ok, &why);
		assert_int_equal(v.result, ARC_RESULT_PASS);
		assert_int_equal(v.instances, 2);
		assert_string_equal(v.domain, "mx.example");
		assert_string_equal(v.why, "");
	}
	/* Two distinct keys for three signatures: two lookups. */
	c->t.z.lookups = 0;
	verify(&c->t, two);
	assert_int_equal(c->t.z.lookups, 2);
	struct buf ar = BUF_INIT;
	struct arc_verdict v = verify(&c->t, two);
	arc_format_result(&v, "192.0.2.1", &ar);
	assert_string_equal(buf_cstr(&ar), "arc=pass (i=2) smtp.remote-ip=192.0.2.1");
	buf_free(&ar);
}

static void test_no_chain(void **state)
{
	struct chain *c = *state;
	c->t.z.lookups = 0;
	struct arc_verdict v = verify(&c->t, base_msg);
	assert_int_equal(v.result, ARC_RESULT_NONE);
	assert_int_equal(v.instances, 0);
	assert_int_equal(c->t.z.lookups, 0);
	struct buf ar = BUF_INIT;
	arc_format_result(&v, NULL, &ar);
	assert_string_equal(buf_cstr(&ar), "arc=none");
	buf_free(&ar);
}

static void test_structure(void **state)
{
	struct chain *c = *state;
	const char *two = buf_cstr(&c->two);
	c->t.z.lookups = 0;
	/* A set member missing. */
	assert_fails(&c->t, drop_field(two, "ARC-Message-Signature: i=1;"), "incomplete ARC set");
	assert_fails(&c->t, drop_field(two, "ARC-Authentication-Results: i=2;"), "incomplete ARC set");
	/* A gap: set 2 renumbered 3. */
	char *gap = replace(two, "ARC-Seal: i=2;", "ARC-Seal: i=3;");
	char *gap2 = replace(gap, "ARC-Message-Signature: i=2;", "ARC-Message-Signature: i=3;");
	free(gap);
	assert_fails(&c->t, replace(gap2, "ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: i=3;"),
		     "incomplete ARC set");
	free(gap2);
	/* A duplicate instance: the AAR of set 1 twice. */
	char *dup = replace(two, "ARC-Authentication-Results: i=1;",
			    "ARC-Authentication-Results: i=1; x; none\r\nARC-Authentication-Results: i=1;");
	assert_fails(&c->t, dup, "duplicate ARC field for one instance");
	/* i over 50, and i=0. */
	assert_fails(&c->t, replace(two, "ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: i=51;"),
		     "i= out of 1..50");
	assert_fails(&c->t, replace(two, "ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: i=0;"),
		     "i= out of 1..50");
	/* cv= that cannot be. */
	assert_fails(&c->t, replace(two, "cv=none", "cv=pass"), "ARC-Seal i=1 without cv=none");
	assert_fails(&c->t, replace(two, "cv=pass", "cv=none"), "ARC-Seal without cv=pass");
	assert_fails(&c->t, replace(two, "cv=pass", "cv=fail"), "ARC-Seal says cv=fail");
	assert_fails(&c->t, replace(two, "cv=none", "cv=maybe"), "malformed ARC-Seal");
	/* h= has no place in a seal; an AMS needs its i=. */
	assert_fails(&c->t, replace(two, "ARC-Seal: i=2;", "ARC-Seal: i=2; h=From;"), "malformed ARC-Seal");
	assert_fails(&c->t, replace(two, "ARC-Authentication-Results: i=1;", "ARC-Authentication-Results: x=1;"),
		     "ARC-Authentication-Results without i=");
	/* None of that asked DNS: structure is judged first. */
	assert_int_equal(c->t.z.lookups, 0);
}

static void test_signatures(void **state)
{
	struct chain *c = *state;
	const char *two = buf_cstr(&c->two);
	/* The body or a signed header changed after the newest AMS. */
	assert_fails(&c->t, replace(two, "Are you hungry yet?", "Are you hungry now?"),
		     "ARC-Message-Signature body hash did not verify");
	assert_fails(&c->t, replace(two, "Subject: is dinner ready?", "Subject: is dinner  ready!"),
		     "ARC-Message-Signature i=2: signature did not verify");
	/* An unsigned header may change; relaxed canonicalisation forgives folding. */
	char *extra = replace(two, "Subject: is dinner ready?", "X-List: added\r\nSubject: is  dinner\r\n ready?");
	struct arc_verdict v = verify(&c->t, extra);
	assert_int_equal(v.result, ARC_RESULT_PASS);
	free(extra);
	/* An older set altered: its seal and the newer ones break; the newest is named. */
	assert_fails(&c->t, replace(two, "dkim=none\r\nARC-Seal: i=1", "dkim=pass\r\nARC-Seal: i=1"),
		     "ARC-Seal i=2: signature did not verify");
	/* A key that is not there. */
	struct keytable empty = { .z = { .base = c->t.z.base } };
	v = verify(&empty, two);
	assert_int_equal(v.result, ARC_RESULT_FAIL);
	assert_string_equal(v.why, "ARC-Message-Signature i=2: no key");
	struct buf ar = BUF_INIT;
	arc_format_result(&v, "192.0.2.1", &ar);
	assert_string_equal(buf_cstr(&ar), "arc=fail (ARC-Message-Signature i=2: no key) smtp.remote-ip=192.0.2.1");
	buf_free(&ar);
}

static void test_seal_failed_chain(void **state)
{
	struct chain *c = *state;
	/* A chain broken in transit is sealed cv=fail, and that seal covers its own set only. */
	char *bad = replace(buf_cstr(&c->one), "Are you hungry yet?", "Are you hungry now?");
	struct buf sealed = BUF_INIT;
	bool ok;
	const char *why;
	struct arc_verdict v = verify_seal(&c->t, bad, 0, c->k2, "mx.example", &sealed, &ok, &why);
	assert_int_equal(v.result, ARC_RESULT_FAIL);
	assert_true(ok);
	assert_true(strncmp(buf_cstr(&sealed), "ARC-Seal: i=2; a=rsa-sha256; cv=fail;", 37) == 0);
	v = verify(&c->t, buf_cstr(&sealed));
	assert_int_equal(v.result, ARC_RESULT_FAIL);
	assert_string_equal(v.why, "ARC-Seal says cv=fail");
	buf_free(&sealed);
	free(bad);
}

static void test_no_seal_at_50(void **state)
{
	struct chain *c = *state;
	struct buf m = BUF_INIT;
	buf_puts(&m, "ARC-Seal: i=50; a=rsa-sha256; cv=pass; d=x.example; s=s; b=AAAA\r\n"
		     "ARC-Message-Signature: i=50; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\n"
		     "ARC-Authentication-Results: i=50; x.example; none\r\n");
	buf_puts(&m, base_msg);
	bool ok = true;
	const char *why = NULL;
	struct arc_verdict v = verify_seal(&c->t, buf_cstr(&m), 0, c->k2, "mx.example", NULL, &ok, &why);
	assert_int_equal(v.result, ARC_RESULT_FAIL);
	assert_int_equal(v.instances, 50);
	assert_false(ok);
	assert_string_equal(why, "the chain has 50 sets already");
	buf_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aar_instance),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signatures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_failed_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_seal_at_50, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
