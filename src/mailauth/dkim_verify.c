/*
 * dkim_verify.c — verification of up to DKIM_MAX_SIGS DKIM-Signature
 * fields of a message (RFC 6376 §6), fed as it streams in.
 *
 * While the header section arrives it is kept (bounded); at the empty
 * line the signature fields are parsed and each gets its own body
 * canonicaliser (c= and l= differ per signature), which the rest of the
 * message goes through.  At end of message the body hashes are compared,
 * the header hashes computed, and one TXT lookup per remaining signature
 * started; the last answer completes the verdicts.
 *
 * Refused whatever the key (permerror): a malformed signature, rsa-sha1
 * (RFC 8301 §3.1), x= in the past, t= more than DKIM_FUTURE_SLACK ahead,
 * l= longer than the body.  A body hash mismatch or a bad signature is
 * fail; a missing, revoked, mismatched or sub-1024-bit RSA key is
 * permerror; a DNS failure temperror.
 */
#include "mailauth/dkim.h"
#include "mailauth/dkim_int.h"

#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define DKIM_FUTURE_SLACK 3600     /* clock skew tolerated for t= */
#define DKIM_RSA_MIN_BITS 1024     /* RFC 8301 §3.2 */
#define DKIM_RSA_MAX_BITS 8192

struct vsig {
	struct dkim_verify *v;
	size_t index;
	bool ok;                    /* parsed and worth a lookup */
	struct dkim_sig sig;
	struct dkim_body body;
	uint8_t hhash[32];
	struct dns_query *q;
};

struct dkim_verify {
	struct mailauth_dns dns;
	int64_t now;
	struct dkim_headers hdr;
	bool started;               /* headers done and signatures set up */
	struct vsig sigs[DKIM_MAX_SIGS];
	struct dkim_verdict verdicts[DKIM_MAX_SIGS];
	size_t nsigs;
	size_t pending;
	dkim_verify_cb cb;
	void *arg;
};

const char *dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_NONE: return "none";
	case DKIM_RESULT_PASS: return "pass";
	case DKIM_RESULT_FAIL: return "fail";
	case DKIM_RESULT_NEUTRAL: return "neutral";
	case DKIM_RESULT_POLICY: return "policy";
	case DKIM_RESULT_TEMPERROR: return "temperror";
	case DKIM_RESULT_PERMERROR: return "permerror";
	}
	return "none";
}

static const char *alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_ALG_RSA_SHA256: return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256: return "ed25519-sha256";
	case DKIM_ALG_RSA_SHA1: return "rsa-sha1";
	}
	return "";
}

struct dkim_verify *dkim_verify_new(const struct mailauth_dns *dns, int64_t now)
{
	struct dkim_verify *v = xcalloc(1, sizeof *v);
	v->dns = *dns;
	v->now = now;
	return v;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memmove(dst, src, n);
	dst[n] = '\0';
}

static void verdict(struct vsig *s, enum dkim_result r, const char *why)
{
	struct dkim_verdict *d = &s->v->verdicts[s->index];
	d->result = r;
	d->why = why;
	s->ok = false;
}

/* The header section is complete: find and parse the signatures, start their body hashes. */
static void start(struct dkim_verify *v)
{
	v->started = true;
	dkim_headers_split(&v->hdr);
	for (size_t i = 0; i < v->hdr.nfields && v->nsigs < DKIM_MAX_SIGS; i++) {
		const struct dkim_field *f = &v->hdr.fields[i];
		if (!dkim_field_is(&v->hdr, f, "DKIM-Signature", 14))
			continue;
		struct vsig *s = &v->sigs[v->nsigs];
		struct dkim_verdict *d = &v->verdicts[v->nsigs];
		s->v = v;
		s->index = v->nsigs++;
		d->algorithm = "";
		const char *field = v->hdr.raw.data + f->off;
		const char *colon = memchr(field, ':', f->len);
		size_t voff = (size_t)(colon - field) + 1;
		const char *why;
		if (!dkim_sig_parse(field + voff, f->len - voff, &s->sig, &why)) {
			/* Say who it claimed to be from when that much parsed. */
			copy_str(d->domain, sizeof d->domain, s->sig.d);
			copy_str(d->selector, sizeof d->selector, s->sig.s);
			verdict(s, DKIM_RESULT_PERMERROR, why);
			continue;
		}
		s->sig.b_raw_start += voff;
		s->sig.b_raw_end += voff;
		copy_str(d->domain, sizeof d->domain, s->sig.d);
		copy_str(d->selector, sizeof d->selector, s->sig.s);
		copy_str(d->auid, sizeof d->auid, s->sig.i);
		copy_str(d->b, sizeof d->b, s->sig.b_prefix);
		d->algorithm = alg_name(s->sig.alg);
		if (!dkim_body_init(&s->body, s->sig.bcanon, s->sig.has_l ? s->sig.l : UINT64_MAX)) {
			verdict(s, DKIM_RESULT_TEMPERROR, "out of memory");
			continue;
		}
		s->ok = true;
	}
}

void dkim_verify_feed(struct dkim_verify *v, const char *data, size_t len)
{
	if (!v->started) {
		if (!dkim_headers_take(&v->hdr, &data, &len))
			return;
		start(v);
	}
	for (size_t i = 0; i < v->nsigs && len; i++)
		if (v->sigs[i].ok)
			dkim_body_feed(&v->sigs[i].body, data, len);
}

static EVP_PKEY *public_key(const struct dkim_keyrec *k)
{
	if (k->k == DKIM_KEY_ED25519)
		return k->plen == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->p, k->plen) : NULL;
	const unsigned char *p = k->p;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)k->plen);
	if (pk && p != k->p + k->plen) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (!pk) {
		/* Some publish the bare RSAPublicKey (PKCS#1); dkimpy and OpenDKIM take it too. */
		p = k->p;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)k->plen);
	}
	if (pk && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

static bool signature_ok(const struct dkim_sig *sig, const uint8_t hash[32], EVP_PKEY *pk)
{
	bool ok = false;
	if (sig->alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 §3: PureEd25519 over the SHA-256 hash, not over the data. */
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		ok = m && sig->blen == 64 && EVP_DigestVerifyInit(m, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(m, sig->b, sig->blen, hash, 32) == 1;
		EVP_MD_CTX_free(m);
		return ok;
	}
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	ok = c && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
	     EVP_PKEY_verify(c, sig->b, sig->blen, hash, 32) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

enum dkim_result dkim_check_key(const struct dkim_sig *sig, const struct dkim_keyrec *k, const uint8_t hash[32],
				const char **why)
{
	*why = NULL;
	if (k->revoked) {
		*why = "key revoked";
		return DKIM_RESULT_PERMERROR;
	}
	if ((k->k == DKIM_KEY_ED25519) != (sig->alg == DKIM_ALG_ED25519_SHA256)) {
		*why = "key type does not match a=";
		return DKIM_RESULT_PERMERROR;
	}
	if (k->strict && strcmp(sig->i_domain, sig->d) != 0) {
		*why = "i= not d= under a t=s key";
		return DKIM_RESULT_PERMERROR;
	}
	EVP_PKEY *pk = public_key(k);
	if (!pk) {
		*why = "bad public key";
		return DKIM_RESULT_PERMERROR;
	}
	if (k->k == DKIM_KEY_RSA) {
		int bits = EVP_PKEY_get_bits(pk);
		if (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
			EVP_PKEY_free(pk);
			*why = bits < DKIM_RSA_MIN_BITS ? "RSA key under 1024 bits" : "RSA key too big";
			return DKIM_RESULT_PERMERROR;
		}
	}
	bool ok = signature_ok(sig, hash, pk);
	EVP_PKEY_free(pk);
	if (ok)
		return DKIM_RESULT_PASS;
	*why = "signature did not verify";
	return DKIM_RESULT_FAIL;
}

enum dkim_result dkim_key_from_answer(const struct dns_result *r, struct dkim_keyrec *k, const char **why)
{
	if (r->status == DNS_NXDOMAIN || r->status == DNS_NODATA || r->status == DNS_BADNAME) {
		*why = "no key";
		return DKIM_RESULT_PERMERROR;
	}
	if (r->status != DNS_OK) {
		*why = "key lookup failed";
		return DKIM_RESULT_TEMPERROR;
	}
	/* Several records: the first that is a key record (§3.6.2.2 lets us choose). */
	*why = "bad key record";
	for (size_t i = 0; i < r->n && i < 8; i++)
		if (dkim_keyrec_parse(r->txt[i].data, r->txt[i].len, k, why))
			return DKIM_RESULT_PASS;
	return DKIM_RESULT_PERMERROR;
}

static void on_key(const struct dns_result *r, void *arg)
{
	struct vsig *s = arg;
	struct dkim_verify *v = s->v;
	s->q = NULL;
	struct dkim_keyrec k;
	const char *why;
	enum dkim_result res = dkim_key_from_answer(r, &k, &why);
	if (res == DKIM_RESULT_PASS) {
		v->verdicts[s->index].testing = k.testing;
		res = dkim_check_key(&s->sig, &k, s->hhash, &why);
	}
	verdict(s, res, why);
	if (--v->pending == 0)
		v->cb(v->arg, v->verdicts, v->nsigs);   /* may free v: nothing after this */
}

/* Everything that can be judged without the key; true when it is worth a lookup. */
static bool precheck(struct vsig *s)
{
	struct dkim_verify *v = s->v;
	const struct dkim_sig *g = &s->sig;
	uint8_t bh[64];
	size_t bhlen;
	uint64_t hashed = s->body.hashed;
	dkim_body_final(&s->body, bh, &bhlen);
	if (g->alg == DKIM_ALG_RSA_SHA1) {
		verdict(s, DKIM_RESULT_PERMERROR, "rsa-sha1 is not accepted (RFC 8301)");
		return false;
	}
	if (g->has_x && g->x < v->now) {
		verdict(s, DKIM_RESULT_PERMERROR, "signature expired");
		return false;
	}
	if (g->has_t && g->t > v->now + DKIM_FUTURE_SLACK) {
		verdict(s, DKIM_RESULT_PERMERROR, "signature timestamp in the future");
		return false;
	}
	if (g->has_l && hashed < g->l) {
		verdict(s, DKIM_RESULT_PERMERROR, "l= longer than the body");
		return false;
	}
	if (bhlen != g->bhlen || memcmp(bh, g->bh, bhlen) != 0) {
		verdict(s, DKIM_RESULT_FAIL, "body hash did not verify");
		return false;
	}
	const struct dkim_field *f = NULL;
	for (size_t i = 0, n = 0; i < v->hdr.nfields; i++) {
		if (dkim_field_is(&v->hdr, &v->hdr.fields[i], "DKIM-Signature", 14) && n++ == s->index) {
			f = &v->hdr.fields[i];
			break;
		}
	}
	dkim_header_hash(&v->hdr, g->hcanon, g->h, g->nh, v->hdr.raw.data + f->off, f->len, g->b_raw_start,
			 g->b_raw_end, s->hhash);
	return true;
}

bool dkim_verify_finish(struct dkim_verify *v, dkim_verify_cb cb, void *arg)
{
	if (!v->started)
		start(v);       /* no empty line: the message is all header */
	v->cb = cb;
	v->arg = arg;
	if (v->hdr.overflow && v->nsigs == 0)
		return true;    /* nothing found in what was kept: none */
	bool want[DKIM_MAX_SIGS] = { false };
	for (size_t i = 0; i < v->nsigs; i++) {
		struct vsig *s = &v->sigs[i];
		if (!s->ok)
			continue;
		if (v->hdr.overflow) {
			dkim_body_free(&s->body);
			verdict(s, DKIM_RESULT_PERMERROR, "header section too big");
			continue;
		}
		want[i] = precheck(s);
	}
	/* Count first: an answer must not find pending at 0 while lookups are still being started. */
	for (size_t i = 0; i < v->nsigs; i++)
		if (want[i])
			v->pending++;
	v->pending++;
	for (size_t i = 0; i < v->nsigs; i++) {
		if (!want[i])
			continue;
		struct vsig *s = &v->sigs[i];
		char name[400];
		int len = snprintf(name, sizeof name, "%s._domainkey.%s", s->sig.s, s->sig.d);
		if (len >= 254 || !(s->q = v->dns.lookup(v->dns.ctx, name, DNS_TXT, on_key, s))) {
			verdict(s, len >= 254 ? DKIM_RESULT_PERMERROR : DKIM_RESULT_TEMPERROR,
				len >= 254 ? "key name too long" : "key lookup failed");
			v->pending--;
		}
	}
	v->pending--;
	return v->pending == 0;
}

bool dkim_verify_from_domain(const struct dkim_verify *v, char *out, size_t size)
{
	return dkim_headers_from_domain(&v->hdr, out, size);
}

const struct dkim_verdict *dkim_verify_results(const struct dkim_verify *v, size_t *n)
{
	*n = v->nsigs;
	return v->verdicts;
}

void dkim_verify_free(struct dkim_verify **pv)
{
	struct dkim_verify *v = *pv;
	if (!v)
		return;
	for (size_t i = 0; i < v->nsigs; i++) {
		if (v->sigs[i].q)
			v->dns.cancel(v->dns.ctx, v->sigs[i].q);
		dkim_body_free(&v->sigs[i].body);
	}
	dkim_headers_free(&v->hdr);
	free(v);
	*pv = NULL;
}

/* A value for A-R: d= and s= are LDH already; b= is base64.  Nothing needs quoting. */
void dkim_format_results(const struct dkim_verdict *v, size_t n, struct buf *out)
{
	if (n == 0) {
		buf_puts(out, "dkim=none");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct dkim_verdict *d = &v[i];
		if (i)
			buf_puts(out, "; ");
		buf_printf(out, "dkim=%s", dkim_result_name(d->result));
		if (d->why)
			buf_printf(out, " (%s)", d->why);
		if (d->domain[0])
			buf_printf(out, " header.d=%s", d->domain);
		if (d->selector[0])
			buf_printf(out, " header.s=%s", d->selector);
		if (d->algorithm && d->algorithm[0])
			buf_printf(out, " header.a=%s", d->algorithm);
		if (d->b[0])
			buf_printf(out, " header.b=%s", d->b);
	}
}
