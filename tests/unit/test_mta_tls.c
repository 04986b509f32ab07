/*
 * test_mta_tls.c — unit tests of src/mta/tls.c: host-name matching (RFC
 * 6125 / RFC 8461 §4.1: wildcards, IDN A-labels, trailing dots, case),
 * the MTA-STS style MX filter (mta_dest_policy_allows), TLSA usability
 * (RFC 7672 §3.1.3), the policy object, and real TLS handshakes between
 * an OpenSSL server and the MTA's client context over a memory BIO pair,
 * one per policy: VERIFY (chain, names, wildcards, CN fallback, expiry,
 * untrusted), DANE-EE and DANE-TA (match, mismatch, names), and
 * ENCRYPT/MAY (anything goes).  The certificates are made here, fresh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "mta/mta_int.h"

/* ---- names --------------------------------------------------------------------- */

struct match_case {
	const char *pattern, *name;
	bool match;
};

static const struct match_case match_cases[] = {
	/* exact, case, trailing dots */
	{ "mx.example.com", "mx.example.com", true },
	{ "MX.Example.COM", "mx.example.com", true },
	{ "mx.example.com", "Mx.EXAMPLE.com", true },
	{ "mx.example.com.", "mx.example.com", true },
	{ "mx.example.com", "mx.example.com.", true },
	{ "mx.example.com.", "mx.example.com.", true },
	{ "mx.example.com..", "mx.example.com", false },
	{ "mx.example.com", "mx2.example.com", false },
	{ "mx.example.com", "example.com", false },
	{ "example.com", "mx.example.com", false },
	{ "mx.example.co", "mx.example.com", false },
	/* wildcards: the whole leftmost label, exactly one label */
	{ "*.example.com", "mx.example.com", true },
	{ "*.Example.Com.", "MX.example.com", true },
	{ "*.example.com", "example.com", false },
	{ "*.example.com", "a.b.example.com", false },
	{ "*.example.com", ".example.com", false },
	{ "*.example.com", "mx.example.org", false },
	{ "*.example.com", "mx.notexample.com", false },
	{ "*.mx.example.com", "mx.example.com", false },
	{ "*.com", "example.com", false },          /* at least two labels after the wildcard */
	{ "*", "localhost", false },
	{ "*.", "a.", false },
	{ "f*.example.com", "foo.example.com", false },   /* no partial wildcards */
	{ "*o.example.com", "foo.example.com", false },
	{ "mx.*.example.com", "mx.a.example.com", false },
	{ "mx.example.*", "mx.example.com", false },
	{ "**.example.com", "a.example.com", false },
	{ "*.*.example.com", "a.b.example.com", false },
	{ "*.example.com", "*.example.com", false },  /* a name is not a pattern */
	{ "mx.example.com", "*.example.com", false },
	/* IDN: A-labels compare as text; U-labels as their A-labels */
	{ "xn--bcher-kva.example", "xn--bcher-kva.example", true },
	{ "XN--BCHER-KVA.example", "xn--bcher-kva.example", true },
	{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example", true },
	{ "xn--bcher-kva.example", "b\xc3\xbc" "cher.example", true },
	{ "*.xn--bcher-kva.example", "mx.b\xc3\xbc" "cher.example", true },
	{ "*.b\xc3\xbc" "cher.example", "mx.xn--bcher-kva.example", true },
	{ "*.example.com", "xn--bcher-kva.example.com", true },   /* the wildcard takes an A-label too */
	{ "xn--*.example.com", "xn--bcher-kva.example.com", false },
	{ "bucher.example", "xn--bcher-kva.example", false },
	{ "b\xc3" "cher.example", "xn--bcher-kva.example", false },    /* not UTF-8 */
	/* junk */
	{ "", "", false },
	{ "", "mx.example.com", false },
	{ "mx.example.com", "", false },
	{ ".", ".", false },
	{ "mx..example.com", "mx..example.com", false },
	{ "mx example.com", "mx example.com", false },
	{ "mx_1.example.com", "mx_1.example.com", false },
	{ "mx.example.com\n", "mx.example.com", false },
	{ "-", "-", true },         /* an LDH label, odd but harmless */
};

static void test_name_match(void **state)
{
	for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
		const struct match_case *c = &match_cases[i];
		if (mta_tls_name_match(c->pattern, c->name) != c->match)
			fail_msg("\"%s\" vs \"%s\": want %s", c->pattern, c->name, c->match ? "match" : "no match");
	}
	assert_false(mta_tls_name_match(NULL, "mx.example.com"));
	assert_false(mta_tls_name_match("mx.example.com", NULL));
}

static void test_name_limits(void **state)
{
	/* 63-octet labels are fine, 64 are not; 253 octets in all, not 254. */
	char label63[64], label64[65], name[300], pattern[300];
	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(name, sizeof name, "%s.example.com", label63);
	assert_true(mta_tls_name_match(name, name));
	snprintf(pattern, sizeof pattern, "*.example.com");
	assert_true(mta_tls_name_match(pattern, name));
	snprintf(name, sizeof name, "%s.example.com", label64);
	assert_false(mta_tls_name_match(name, name));
	/* 4 x 63 + 3 dots = 255 > 253 */
	snprintf(name, sizeof name, "%s.%s.%s.%s", label63, label63, label63, label63);
	assert_false(mta_tls_name_match(name, name));
	/* 3 x 63 + 61 + 3 dots = 253 */
	char l61[62];
	memset(l61, 'b', 61);
	l61[61] = '\0';
	snprintf(name, sizeof name, "%s.%s.%s.%s", label63, label63, label63, l61);
	assert_int_equal(strlen(name), 253);
	assert_true(mta_tls_name_match(name, name));
	char dotted[sizeof name + 1];
	snprintf(dotted, sizeof dotted, "%s.", name);
	assert_true(mta_tls_name_match(dotted, name));
}

static void test_dest_policy_allows(void **state)
{
	const char *mx[] = { "mail.example.com", "*.mx.example.net", NULL };
	struct mta_dest_policy p = { .enforce = true, .mx = mx, .nmx = 3, .source = "MTA-STS" };
	assert_true(mta_dest_policy_allows(&p, "mail.example.com"));
	assert_true(mta_dest_policy_allows(&p, "MAIL.example.com."));
	assert_true(mta_dest_policy_allows(&p, "a.mx.example.net"));
	assert_false(mta_dest_policy_allows(&p, "mx.example.net"));
	assert_false(mta_dest_policy_allows(&p, "b.a.mx.example.net"));
	assert_false(mta_dest_policy_allows(&p, "evil.example.com"));
	p.enforce = false;
	assert_true(mta_dest_policy_allows(&p, "evil.example.com"));
	assert_true(mta_dest_policy_allows(NULL, "evil.example.com"));
	p.enforce = true;
	p.nmx = 0;
	assert_false(mta_dest_policy_allows(&p, "mail.example.com"));
}

/* ---- policies and TLSA ------------------------------------------------------------ */

static void test_policy(void **state)
{
	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_VERIFY, "MTA-STS", "mx.example.com");
	assert_true(mta_tls_required(p));
	assert_string_equal(mta_tls_mode_name(p->mode), "verify");
	assert_true(mta_tls_policy_add_name(p, "MX.Example.com."));
	assert_true(mta_tls_policy_add_name(p, "b\xc3\xbc" "cher.example"));
	assert_false(mta_tls_policy_add_name(p, "*.example.com"));     /* a reference name, not a pattern */
	assert_false(mta_tls_policy_add_name(p, "bad..name"));
	assert_false(mta_tls_policy_add_name(p, ""));
	assert_int_equal(p->nnames, 2);
	assert_string_equal(p->names[0], "mx.example.com");
	assert_string_equal(p->names[1], "xn--bcher-kva.example");
	for (int i = 2; i < MTA_TLS_MAX_NAMES; i++)
		assert_true(mta_tls_policy_add_name(p, "x.example.com"));
	assert_false(mta_tls_policy_add_name(p, "y.example.com"));     /* full */
	struct mta_tls_policy *q = mta_tls_policy_ref(p);
	assert_ptr_equal(p, q);
	assert_int_equal(p->refs, 2);
	mta_tls_policy_unref(&q);
	assert_null(q);
	assert_int_equal(p->refs, 1);
	mta_tls_policy_unref(&p);
	assert_null(p);
	mta_tls_policy_unref(&p);      /* NULL is fine */

	struct mta_tls_policy *m = mta_tls_policy_new(MTA_TLS_MAY, NULL, NULL);
	assert_false(mta_tls_required(m));
	assert_string_equal(m->source, "default");
	assert_string_equal(m->host, "");
	mta_tls_policy_unref(&m);
	m = mta_tls_policy_new(MTA_TLS_ENCRYPT, "tlsa-unusable", "mx");
	assert_true(mta_tls_required(m));
	mta_tls_policy_unref(&m);
	assert_false(mta_tls_required(NULL));
	assert_string_equal(mta_tls_outcome_name(MTA_TLSO_DANE), "dane-verified");
	assert_string_equal(mta_tls_outcome_name(MTA_TLSO_OPPORTUNISTIC), "opportunistic");
}

/* ---- certificates for the handshakes -------------------------------------------------- */

struct pki {
	EVP_PKEY *ca_key, *key, *other_key;
	X509 *ca;
	X509 *leaf;         /* CA-signed, SAN mx.example.com, alt.example.net */
	X509 *wild;         /* CA-signed, SAN *.example.com */
	X509 *cn_only;      /* CA-signed, no SAN, CN mx.example.com */
	X509 *san_other;    /* CA-signed, SAN other.example, CN mx.example.com */
	X509 *expired;      /* CA-signed, SAN mx.example.com, expired */
	X509 *self;         /* self-signed, SAN mx.example.com */
	X509 *self_expired; /* self-signed, expired */
	char ca_file[64];
	SSL_CTX *client;
};

static long serial = 1;

static void add_ext(X509 *x, X509V3_CTX *v, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer, EVP_PKEY *issuer_key,
		       bool ca, long from_days, long to_days)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509V3_CTX v;
	X509V3_set_ctx_nodb(&v);
	X509V3_set_ctx(&v, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &v, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		add_ext(x, &v, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (san)
		add_ext(x, &v, NID_subject_alt_name, san);
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static int pki_setup(void **state)
{
	struct pki *k = calloc(1, sizeof *k);
	k->ca_key = EVP_EC_gen("P-256");
	k->key = EVP_EC_gen("P-256");
	k->other_key = EVP_EC_gen("P-256");
	if (!k->ca_key || !k->key || !k->other_key)
		return -1;
	k->ca = make_cert(k->ca_key, "Test CA", NULL, NULL, NULL, true, -1, 30);
	k->leaf = make_cert(k->key, "mx.example.com", "DNS:mx.example.com,DNS:alt.example.net", k->ca, k->ca_key,
			    false, -1, 30);
	k->wild = make_cert(k->key, "wild", "DNS:*.example.com", k->ca, k->ca_key, false, -1, 30);
	k->cn_only = make_cert(k->key, "mx.example.com", NULL, k->ca, k->ca_key, false, -1, 30);
	k->san_other = make_cert(k->key, "mx.example.com", "DNS:other.example", k->ca, k->ca_key, false, -1, 30);
	k->expired = make_cert(k->key, "mx.example.com", "DNS:mx.example.com", k->ca, k->ca_key, false, -30, -1);
	k->self = make_cert(k->key, "mx.example.com", "DNS:mx.example.com", NULL, NULL, false, -1, 30);
	k->self_expired = make_cert(k->key, "mx.example.com", "DNS:mx.example.com", NULL, NULL, false, -30, -1);
	snprintf(k->ca_file, sizeof k->ca_file, "/tmp/test_mta_tls_ca_XXXXXX");
	int fd = mkstemp(k->ca_file);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	PEM_write_X509(f, k->ca);
	fclose(f);
	k->client = mta_tls_ctx_new(k->ca_file);
	if (!k->client)
		return -1;
	*state = k;
	return 0;
}

static int pki_teardown(void **state)
{
	struct pki *k = *state;
	unlink(k->ca_file);
	SSL_CTX_free(k->client);
	X509 *certs[] = { k->ca, k->leaf, k->wild, k->cn_only, k->san_other, k->expired, k->self, k->self_expired };
	for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++)
		X509_free(certs[i]);
	EVP_PKEY_free(k->ca_key);
	EVP_PKEY_free(k->key);
	EVP_PKEY_free(k->other_key);
	free(k);
	return 0;
}

/* ---- one handshake -------------------------------------------------------------------- */

struct result {
	bool setup;                 /* mta_tls_ssl_setup said yes */
	bool handshake;             /* the client's side completed */
	enum mta_tls_outcome outcome;
	char why[512];              /* setup's, the verify error's, or the check's */
	enum mta_tls_outcome judged;    /* MAY: what VERIFY against the host would say (mta_tls_ssl_judge) */
	char judged_why[512];
};

/* The server presents cert (and chain, when given); the client runs under policy p. */
static struct result run(struct pki *k, const struct mta_tls_policy *p, X509 *cert, EVP_PKEY *key, X509 *chain)
{
	struct result r = { 0 };
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(sctx);
	assert_int_equal(SSL_CTX_use_certificate(sctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, key), 1);
	if (chain)
		assert_int_equal(SSL_CTX_add1_chain_cert(sctx, chain), 1);
	SSL *server = SSL_new(sctx);
	SSL *client = SSL_new(k->client);
	assert_non_null(server);
	assert_non_null(client);
	if (p->host[0])
		SSL_set_tlsext_host_name(client, p->host);
	r.setup = mta_tls_ssl_setup(client, p, r.why, sizeof r.why);
	if (!r.setup)
		goto out;
	BIO *bc, *bs;
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(client, bc, bc);
	SSL_set_bio(server, bs, bs);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	bool cdone = false, sdone = false, failed = false;
	for (int i = 0; i < 100 && !failed && !(cdone && sdone); i++) {
		if (!cdone) {
			int rc = SSL_do_handshake(client);
			int e = SSL_get_error(client, rc);
			if (rc == 1)
				cdone = true;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				failed = true;
		}
		if (!sdone) {
			int rc = SSL_do_handshake(server);
			int e = SSL_get_error(server, rc);
			if (rc == 1 || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE))
				sdone = true;
		}
	}
	r.handshake = cdone && !failed;
	if (r.handshake) {
		r.outcome = mta_tls_ssl_check(client, p, r.why, sizeof r.why);
		if (p->mode == MTA_TLS_MAY)
			r.judged = mta_tls_ssl_judge(client, p->host, r.judged_why, sizeof r.judged_why);
	} else if (!mta_tls_verify_error(client, r.why, sizeof r.why))
		snprintf(r.why, sizeof r.why, "handshake failed (not the certificate)");
out:
	ERR_clear_error();
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(sctx);
	return r;
}

static struct mta_tls_policy *verify_policy(const char *name1, const char *name2)
{
	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_VERIFY, "test", name1);
	assert_true(mta_tls_policy_add_name(p, name1));
	if (name2)
		assert_true(mta_tls_policy_add_name(p, name2));
	return p;
}

static void expect_ok(struct result r, enum mta_tls_outcome want)
{
	if (!r.setup || !r.handshake || r.outcome != want)
		fail_msg("setup %d handshake %d outcome %s (want %s): %s", r.setup, r.handshake,
			 mta_tls_outcome_name(r.outcome), mta_tls_outcome_name(want), r.why);
}

static void expect_fail(struct result r, const char *why)
{
	if (r.setup && r.handshake && r.outcome != MTA_TLSO_FAILED)
		fail_msg("accepted (%s), want a failure with \"%s\"", mta_tls_outcome_name(r.outcome), why);
	if (!strstr(r.why, why))
		fail_msg("reason \"%s\", want \"%s\" in it", r.why, why);
}

/* ---- VERIFY ------------------------------------------------------------------------------- */

static void test_verify_chain_and_name(void **state)
{
	struct pki *k = *state;
	struct mta_tls_policy *p = verify_policy("mx.example.com", NULL);
	struct result r = run(k, p, k->leaf, k->key, NULL);
	expect_ok(r, MTA_TLSO_VERIFIED);
	assert_non_null(strstr(r.why, "mx.example.com"));
	mta_tls_policy_unref(&p);

	/* The second SAN, matched through the second reference name. */
	p = verify_policy("nope.example.org", "ALT.example.net.");
	expect_ok(run(k, p, k->leaf, k->key, NULL), MTA_TLSO_VERIFIED);
	mta_tls_policy_unref(&p);

	p = verify_policy("mx2.example.com", NULL);
	expect_fail(run(k, p, k->leaf, k->key, NULL),
		    "certificate names (mx.example.com, alt.example.net) do not match mx2.example.com");
	mta_tls_policy_unref(&p);
}

static void test_verify_wildcard_cert(void **state)
{
	struct pki *k = *state;
	struct mta_tls_policy *p = verify_policy("mx.example.com", NULL);
	expect_ok(run(k, p, k->wild, k->key, NULL), MTA_TLSO_VERIFIED);
	mta_tls_policy_unref(&p);
	p = verify_policy("a.b.example.com", NULL);
	expect_fail(run(k, p, k->wild, k->key, NULL), "do not match a.b.example.com");
	mta_tls_policy_unref(&p);
	p = verify_policy("example.com", NULL);
	expect_fail(run(k, p, k->wild, k->key, NULL), "do not match example.com");
	mta_tls_policy_unref(&p);
}

static void test_verify_common_name(void **state)
{
	struct pki *k = *state;
	/* CN only counts without any DNS-ID (RFC 6125 §6.4.4). */
	struct mta_tls_policy *p = verify_policy("mx.example.com", NULL);
	expect_ok(run(k, p, k->cn_only, k->key, NULL), MTA_TLSO_VERIFIED);
	expect_fail(run(k, p, k->san_other, k->key, NULL), "certificate names (other.example) do not match");
	mta_tls_policy_unref(&p);
}

static void test_verify_untrusted_and_expired(void **state)
{
	struct pki *k = *state;
	struct mta_tls_policy *p = verify_policy("mx.example.com", NULL);
	expect_fail(run(k, p, k->self, k->key, NULL), "self-signed certificate");
	expect_fail(run(k, p, k->expired, k->key, NULL), "certificate has expired");
	mta_tls_policy_unref(&p);
	/* No name to check against: not even tried. */
	p = mta_tls_policy_new(MTA_TLS_VERIFY, "test", "mx.example.com");
	struct result r = run(k, p, k->leaf, k->key, NULL);
	assert_false(r.setup);
	assert_non_null(strstr(r.why, "no name"));
	mta_tls_policy_unref(&p);
}

/* ---- DANE ----------------------------------------------------------------------------------- */

static void digest_spki(EVP_PKEY *key, uint8_t out[32])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	assert_true(n > 0);
	unsigned len = 0;
	assert_int_equal(EVP_Digest(der, (size_t)n, out, &len, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
}

static void digest_cert(X509 *x, uint8_t out[32])
{
	unsigned len = 0;
	assert_int_equal(X509_digest(x, EVP_sha256(), out, &len), 1);
}

static struct mta_tls_policy *dane_policy(const char *host, uint8_t usage, uint8_t selector, const uint8_t *data,
					  size_t len)
{
	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_DANE, "dane", host);
	struct dns_tlsa rr = { .usage = usage, .selector = selector, .mtype = 1, .len = len, .data = (uint8_t *)data };
	assert_true(mta_tls_policy_add_tlsa(p, &rr));
	return p;
}

static void test_dane_ee(void **state)
{
	struct pki *k = *state;
	uint8_t spki[32], other[32];
	digest_spki(k->key, spki);
	digest_spki(k->other_key, other);
	/* DANE-EE: names and issuer do not matter (RFC 7672 §3.1.1), the key does. */
	struct mta_tls_policy *p = dane_policy("unrelated.example", 3, 1, spki, 32);
	struct result r = run(k, p, k->self, k->key, NULL);
	expect_ok(r, MTA_TLSO_DANE);
	assert_string_equal(r.why, "TLSA 3 1 1 at depth 0");
	expect_ok(run(k, p, k->leaf, k->key, NULL), MTA_TLSO_DANE);
	/* Nor does the validity period (RFC 7672 §3.1.1: the TLSA record is what vouches for the key). */
	expect_ok(run(k, p, k->self_expired, k->key, NULL), MTA_TLSO_DANE);
	mta_tls_policy_unref(&p);

	p = dane_policy("mx.example.com", 3, 1, other, 32);
	expect_fail(run(k, p, k->self, k->key, NULL), "no matching DANE TLSA records");
	mta_tls_policy_unref(&p);

	uint8_t cert[32];
	digest_cert(k->self, cert);
	p = dane_policy("mx.example.com", 3, 0, cert, 32);
	expect_ok(run(k, p, k->self, k->key, NULL), MTA_TLSO_DANE);
	expect_fail(run(k, p, k->leaf, k->key, NULL), "no matching DANE TLSA records");  /* same key, other cert */
	mta_tls_policy_unref(&p);
}

static void test_dane_ta(void **state)
{
	struct pki *k = *state;
	uint8_t ca_cert[32], ca_spki[32];
	digest_cert(k->ca, ca_cert);
	digest_spki(k->ca_key, ca_spki);
	struct mta_tls_policy *p = dane_policy("mx.example.com", 2, 0, ca_cert, 32);
	struct result r = run(k, p, k->leaf, k->key, k->ca);     /* the server sends its TA */
	expect_ok(r, MTA_TLSO_DANE);
	assert_string_equal(r.why, "TLSA 2 0 1 at depth 1");
	/* DANE-TA checks the name: the base domain must be one of the certificate's. */
	expect_ok(run(k, p, k->wild, k->key, k->ca), MTA_TLSO_DANE);
	expect_fail(run(k, p, k->san_other, k->key, k->ca), "hostname mismatch");
	/* A certificate the TA did not sign. */
	expect_fail(run(k, p, k->self, k->key, NULL), "");
	mta_tls_policy_unref(&p);

	p = dane_policy("mx.example.com", 2, 1, ca_spki, 32);
	expect_ok(run(k, p, k->leaf, k->key, k->ca), MTA_TLSO_DANE);
	mta_tls_policy_unref(&p);
	p = dane_policy("elsewhere.example.com", 2, 1, ca_spki, 32);
	expect_fail(run(k, p, k->leaf, k->key, k->ca), "hostname mismatch");
	mta_tls_policy_unref(&p);
	/* DANE-TA is not a licence to ignore expiry. */
	p = dane_policy("mx.example.com", 2, 1, ca_spki, 32);
	expect_fail(run(k, p, k->expired, k->key, k->ca), "certificate has expired");
	mta_tls_policy_unref(&p);
}

static void test_dane_setup_needs_records(void **state)
{
	struct pki *k = *state;
	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_DANE, "dane", "mx.example.com");
	struct result r = run(k, p, k->self, k->key, NULL);
	assert_false(r.setup);
	assert_non_null(strstr(r.why, "no usable TLSA record"));
	mta_tls_policy_unref(&p);
	/* DANE needs a name (the base domain). */
	uint8_t spki[32];
	digest_spki(k->key, spki);
	p = dane_policy("", 3, 1, spki, 32);
	r = run(k, p, k->self, k->key, NULL);
	assert_false(r.setup);
	mta_tls_policy_unref(&p);
}

/* ---- ENCRYPT and MAY ---------------------------------------------------------------------------- */

static void test_unauthenticated(void **state)
{
	struct pki *k = *state;
	enum mta_tls_mode modes[] = { MTA_TLS_MAY, MTA_TLS_ENCRYPT };
	for (size_t i = 0; i < 2; i++) {
		struct mta_tls_policy *p = mta_tls_policy_new(modes[i], "test", "mx.example.com");
		expect_ok(run(k, p, k->self_expired, k->key, NULL), MTA_TLSO_OPPORTUNISTIC);
		expect_ok(run(k, p, k->san_other, k->key, NULL), MTA_TLSO_OPPORTUNISTIC);
		mta_tls_policy_unref(&p);
	}
}

/* MAY judged as VERIFY would (MTA-STS "testing"), the connection accepted all the same. */
static void test_may_judged(void **state)
{
	struct pki *k = *state;
	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_MAY, "test", "mx.example.com");
	struct result r = run(k, p, k->leaf, k->key, NULL);
	expect_ok(r, MTA_TLSO_OPPORTUNISTIC);
	assert_int_equal(r.judged, MTA_TLSO_VERIFIED);
	assert_string_equal(r.judged_why, "mx.example.com");
	r = run(k, p, k->san_other, k->key, NULL);
	expect_ok(r, MTA_TLSO_OPPORTUNISTIC);
	assert_int_equal(r.judged, MTA_TLSO_FAILED);
	assert_string_equal(r.judged_why, "certificate names (other.example) do not match mx.example.com");
	r = run(k, p, k->self, k->key, NULL);
	expect_ok(r, MTA_TLSO_OPPORTUNISTIC);
	assert_int_equal(r.judged, MTA_TLSO_FAILED);
	assert_non_null(strstr(r.judged_why, "self-signed certificate"));
	r = run(k, p, k->expired, k->key, NULL);
	expect_ok(r, MTA_TLSO_OPPORTUNISTIC);
	assert_int_equal(r.judged, MTA_TLSO_FAILED);
	assert_non_null(strstr(r.judged_why, "certificate has expired"));
	mta_tls_policy_unref(&p);
	/* An address literal has no name to judge against. */
	p = mta_tls_policy_new(MTA_TLS_MAY, "test", "");
	r = run(k, p, k->leaf, k->key, NULL);
	assert_int_equal(r.judged, MTA_TLSO_FAILED);
	assert_string_equal(r.judged_why, "no name to verify the certificate against");
	mta_tls_policy_unref(&p);
}

/* ---- TLSA usability --------------------------------------------------------------------------- */

static void test_tlsa_usable(void **state)
{
	struct pki *k = *state;
	uint8_t d32[32] = { 1 }, d64[64] = { 2 };
	assert_true(mta_tlsa_usable(3, 1, 1, d32, 32));
	assert_true(mta_tlsa_usable(3, 0, 1, d32, 32));
	assert_true(mta_tlsa_usable(2, 0, 1, d32, 32));
	assert_true(mta_tlsa_usable(2, 1, 2, d64, 64));
	assert_false(mta_tlsa_usable(0, 1, 1, d32, 32));  /* PKIX-TA */
	assert_false(mta_tlsa_usable(1, 1, 1, d32, 32));  /* PKIX-EE */
	assert_false(mta_tlsa_usable(4, 1, 1, d32, 32));
	assert_false(mta_tlsa_usable(3, 2, 1, d32, 32));
	assert_false(mta_tlsa_usable(3, 1, 3, d32, 32));
	assert_false(mta_tlsa_usable(3, 1, 1, d32, 31));  /* digest lengths are exact */
	assert_false(mta_tlsa_usable(3, 1, 1, d64, 64));
	assert_false(mta_tlsa_usable(3, 1, 2, d32, 32));
	assert_false(mta_tlsa_usable(3, 1, 1, d32, 0));
	/* Full data must parse as what the selector says. */
	unsigned char *der = NULL;
	int n = i2d_X509(k->self, &der);
	assert_true(n > 0);
	assert_true(mta_tlsa_usable(3, 0, 0, der, (size_t)n));
	assert_false(mta_tlsa_usable(3, 1, 0, der, (size_t)n));
	assert_false(mta_tlsa_usable(3, 0, 0, der, (size_t)n - 1));
	OPENSSL_free(der);
	der = NULL;
	n = i2d_PUBKEY(k->key, &der);
	assert_true(n > 0);
	assert_true(mta_tlsa_usable(2, 1, 0, der, (size_t)n));
	assert_false(mta_tlsa_usable(2, 0, 0, der, (size_t)n));
	OPENSSL_free(der);
	assert_false(mta_tlsa_usable(3, 0, 0, (const uint8_t *)"\x30", 1));
	assert_false(mta_tlsa_usable(3, 0, 0, NULL, 0));

	/* The policy keeps only usable ones, and at most MTA_TLSA_MAX. */
	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_DANE, "dane", "mx.example.com");
	struct dns_tlsa bad = { .usage = 1, .selector = 1, .mtype = 1, .len = 32, .data = d32 };
	struct dns_tlsa good = { .usage = 3, .selector = 1, .mtype = 1, .len = 32, .data = d32 };
	assert_false(mta_tls_policy_add_tlsa(p, &bad));
	for (int i = 0; i < MTA_TLSA_MAX; i++)
		assert_true(mta_tls_policy_add_tlsa(p, &good));
	assert_false(mta_tls_policy_add_tlsa(p, &good));
	assert_int_equal(p->ntlsa, MTA_TLSA_MAX);
	assert_memory_equal(p->tlsa[0].data, d32, 32);
	mta_tls_policy_unref(&p);
}

static void test_ctx_bad_ca_file(void **state)
{
	assert_null(mta_tls_ctx_new("/nonexistent/ca.pem"));
	SSL_CTX *ctx = mta_tls_ctx_new(NULL);      /* the system's store */
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_match),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_dest_policy_allows),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_verify_chain_and_name),
		cmocka_unit_test(test_verify_wildcard_cert),
		cmocka_unit_test(test_verify_common_name),
		cmocka_unit_test(test_verify_untrusted_and_expired),
		cmocka_unit_test(test_dane_ee),
		cmocka_unit_test(test_dane_ta),
		cmocka_unit_test(test_dane_setup_needs_records),
		cmocka_unit_test(test_unauthenticated),
		cmocka_unit_test(test_may_judged),
		cmocka_unit_test(test_tlsa_usable),
		cmocka_unit_test(test_ctx_bad_ca_file),
	};
	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
