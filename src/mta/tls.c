/*
 * tls.c — the SMTP client's TLS policies (mta_int.h): the policy object
 * route.c builds per host, host-name matching (RFC 6125 / RFC 8461 §4.1),
 * the client TLS context, and what client.c calls around a STARTTLS
 * handshake: set the verification up before it, judge the result after.
 *
 *   MAY / ENCRYPT   no verification (SSL_VERIFY_NONE); ENCRYPT only makes
 *                   STARTTLS mandatory (client.c)
 *   VERIFY          SSL_VERIFY_PEER against the context's CA store (the
 *                   handshake fails on a bad chain), then the leaf's
 *                   DNS-IDs (or, without any, its CN) must match one of
 *                   the policy's names (mta_tls_ssl_check)
 *   DANE            OpenSSL's DANE (RFC 7671): the usable TLSA records,
 *                   the host as base domain and reference name for
 *                   DANE-TA, no name check for DANE-EE (RFC 7672 §3.1.1),
 *                   SSL_VERIFY_PEER so that a mismatch fails the
 *                   handshake; checked again after it (dane authority)
 *
 * Nothing here blocks or touches the network; the handshake itself is
 * client.c's (bufferevent_openssl).
 */
#include "mta/mta_int.h"

#include <idn2.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define NAME_MAX_LEN 253        /* a host name's text, without the trailing dot */

/* ---- policies --------------------------------------------------------------- */

struct mta_tls_policy *mta_tls_policy_new(enum mta_tls_mode mode, const char *source, const char *host)
{
	struct mta_tls_policy *p = xcalloc(1, sizeof *p);
	p->refs = 1;
	p->mode = mode;
	snprintf(p->source, sizeof p->source, "%s", source ? source : "default");
	snprintf(p->host, sizeof p->host, "%s", host ? host : "");
	return p;
}

struct mta_tls_policy *mta_tls_policy_ref(struct mta_tls_policy *p)
{
	if (p)
		p->refs++;
	return p;
}

void mta_tls_policy_unref(struct mta_tls_policy **pp)
{
	struct mta_tls_policy *p = *pp;
	if (!p)
		return;
	*pp = NULL;
	if (--p->refs > 0)
		return;
	for (size_t i = 0; i < p->nnames; i++)
		free(p->names[i]);
	for (size_t i = 0; i < p->ntlsa; i++)
		free(p->tlsa[i].data);
	free(p);
}

bool mta_tls_required(const struct mta_tls_policy *p)
{
	return p && p->mode >= MTA_TLS_ENCRYPT;
}

const char *mta_tls_mode_name(enum mta_tls_mode m)
{
	switch (m) {
	case MTA_TLS_NONE: return "none";
	case MTA_TLS_MAY: return "may";
	case MTA_TLS_ENCRYPT: return "encrypt";
	case MTA_TLS_VERIFY: return "verify";
	case MTA_TLS_DANE: return "dane";
	}
	return "?";
}

const char *mta_tls_outcome_name(enum mta_tls_outcome o)
{
	switch (o) {
	case MTA_TLSO_NONE: return "none";
	case MTA_TLSO_OPPORTUNISTIC: return "opportunistic";
	case MTA_TLSO_VERIFIED: return "verified";
	case MTA_TLSO_DANE: return "dane-verified";
	case MTA_TLSO_FAILED: return "failed";
	}
	return "?";
}

/* ---- names ------------------------------------------------------------------ */

static bool ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/*
 * s as a host name in out: A-labels, lower case, no trailing dot, labels
 * of 1..63 letters/digits/hyphens, at most 253 octets.  allow_wild: a
 * leading "*." is kept (and not passed through IDNA).  false otherwise.
 */
static bool name_normalize(const char *s, bool allow_wild, char *out, size_t size)
{
	if (!s || size < NAME_MAX_LEN + 1)
		return false;
	size_t n = strlen(s);
	if (n == 0 || n > 1024)
		return false;
	const char *prefix = "";
	if (allow_wild && n >= 2 && s[0] == '*' && s[1] == '.') {
		prefix = "*.";
		s += 2;
		n -= 2;
	}
	char tmp[1025];
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (n && tmp[n - 1] == '.')
		tmp[--n] = '\0';
	if (n == 0)
		return false;
	char *alabel = NULL;
	const char *ascii = tmp;
	if (!is_ascii(tmp, n)) {
		/* U-labels: compared as their A-labels (RFC 6125 §6.4.2). */
		if (!utf8_valid(tmp, n) || idn2_to_ascii_8z(tmp, &alabel, IDN2_NONTRANSITIONAL) != IDN2_OK)
			return false;
		ascii = alabel;
	}
	int w = snprintf(out, size, "%s%s", prefix, ascii);
	idn2_free(alabel);
	if (w < 0 || (size_t)w >= size || (size_t)w > NAME_MAX_LEN + strlen(prefix))
		return false;
	char *name = out + strlen(prefix);
	size_t len = strlen(name);
	ascii_lower(name, len);
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else if (!ldh(name[i])) {
			return false;
		} else {
			label++;
		}
	}
	return true;
}

bool mta_tls_name_match(const char *pattern, const char *name)
{
	char p[NAME_MAX_LEN + 3], h[NAME_MAX_LEN + 3];
	if (!name_normalize(pattern, true, p, sizeof p) || !name_normalize(name, false, h, sizeof h))
		return false;
	if (p[0] != '*')
		return strcmp(p, h) == 0;
	/* "*.rest": exactly one label in front of rest, and rest has two labels at least. */
	const char *rest = p + 2;
	if (!strchr(rest, '.'))
		return false;
	const char *dot = strchr(h, '.');
	return dot && dot > h && strcmp(dot + 1, rest) == 0;
}

bool mta_tls_policy_add_name(struct mta_tls_policy *p, const char *name)
{
	char n[NAME_MAX_LEN + 3];
	if (p->nnames == MTA_TLS_MAX_NAMES || !name_normalize(name, false, n, sizeof n))
		return false;
	p->names[p->nnames++] = xstrdup(n);
	return true;
}

/* ---- TLSA records -------------------------------------------------------------- */

bool mta_tlsa_usable(uint8_t usage, uint8_t selector, uint8_t mtype, const uint8_t *data, size_t len)
{
	if (usage != 2 && usage != 3)
		return false;   /* PKIX-TA(0), PKIX-EE(1): not for SMTP (RFC 7672 §3.1.3) */
	if (selector > 1)
		return false;
	switch (mtype) {
	case 1:
		return len == 32;
	case 2:
		return len == 64;
	case 0:
		break;
	default:
		return false;
	}
	/* Full data: it must be a certificate (selector 0) or a public key (1), exactly. */
	if (len == 0 || len > 65535)
		return false;
	const unsigned char *q = data;
	bool ok;
	if (selector == 0) {
		X509 *x = d2i_X509(NULL, &q, (long)len);
		ok = x && q == data + len;
		X509_free(x);
	} else {
		EVP_PKEY *k = d2i_PUBKEY(NULL, &q, (long)len);
		ok = k && q == data + len;
		EVP_PKEY_free(k);
	}
	ERR_clear_error();
	return ok;
}

bool mta_tls_policy_add_tlsa(struct mta_tls_policy *p, const struct dns_tlsa *rr)
{
	if (p->ntlsa == MTA_TLSA_MAX || !mta_tlsa_usable(rr->usage, rr->selector, rr->mtype, rr->data, rr->len))
		return false;
	struct mta_tlsa *t = &p->tlsa[p->ntlsa++];
	t->usage = rr->usage;
	t->selector = rr->selector;
	t->mtype = rr->mtype;
	t->len = rr->len;
	t->data = xmalloc(rr->len ? rr->len : 1);
	memcpy(t->data, rr->data, rr->len);
	return true;
}

/* ---- the TLS context and one handshake ---------------------------------------- */

SSL_CTX *mta_tls_ctx_new(const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		log_error("mta", "msg=\"cannot create the TLS client context\"");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Opportunistic TLS (RFC 7435) unless a connection's policy says otherwise (mta_tls_ssl_setup). */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (ca_file && *ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			char err[256] = "";
			ERR_error_string_n(ERR_get_error(), err, sizeof err);
			ERR_clear_error();
			log_error("mta", "msg=\"cannot load tls_ca_file\" path=%s error=%s", lq(ca_file), lq(err));
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ERR_clear_error();
		log_warn("mta", "msg=\"cannot use the system's CA store, verified TLS will fail\"");
	}
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		ERR_clear_error();
		log_error("mta", "msg=\"cannot enable DANE in the TLS client context\"");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

bool mta_tls_ssl_setup(SSL *ssl, const struct mta_tls_policy *p, char *why, size_t size)
{
	snprintf(why, size, "%s", "");
	if (!p || p->mode <= MTA_TLS_ENCRYPT) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		return true;
	}
	if (p->mode == MTA_TLS_VERIFY) {
		if (p->nnames == 0) {
			snprintf(why, size, "no name to verify the certificate against");
			return false;
		}
		/* The chain fails the handshake; the names are checked after it (mta_tls_ssl_check). */
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		return true;
	}
	/* DANE: the host is the base domain and, for DANE-TA, the name the certificate must have. */
	if (!p->host[0] || SSL_dane_enable(ssl, p->host) <= 0) {
		ERR_clear_error();
		snprintf(why, size, "cannot enable DANE for %s", p->host[0] ? p->host : "an address literal");
		return false;
	}
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	size_t usable = 0;
	for (size_t i = 0; i < p->ntlsa; i++) {
		const struct mta_tlsa *t = &p->tlsa[i];
		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
			usable++;
	}
	ERR_clear_error();
	if (usable == 0) {
		snprintf(why, size, "no usable TLSA record for %s", p->host);
		return false;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return true;
}

/* Append ", name" (or "name") to out, as far as it fits. */
static void list_add(char *out, size_t size, const char *name)
{
	size_t n = strlen(out), add = strlen(name) + (n ? 2 : 0);
	if (n + add >= size)
		return;
	if (n) {
		memcpy(out + n, ", ", 2);
		n += 2;
	}
	memcpy(out + n, name, strlen(name) + 1);
}

/* One presented identifier (a DNS-ID or a CN) against the policy's names. */
static bool presented_matches(const unsigned char *d, int len, const struct mta_tls_policy *p, char *seen,
			      size_t seensize)
{
	char id[NAME_MAX_LEN + 3];
	if (len <= 0 || (size_t)len >= sizeof id || memchr(d, '\0', (size_t)len))
		return false;
	memcpy(id, d, (size_t)len);
	id[len] = '\0';
	if (!is_ascii(id, (size_t)len))
		return false;   /* a DNS-ID is IA5 (A-labels); anything else is not a host name */
	list_add(seen, seensize, id);
	for (size_t i = 0; i < p->nnames; i++)
		if (mta_tls_name_match(id, p->names[i]))
			return true;
	return false;
}

/*
 * RFC 6125 §6.4: the DNS-IDs of the subjectAltName, or only when there is
 * none the subject's CNs (§6.4.4).  seen: the identifiers looked at, for
 * the reason of a mismatch.
 */
static bool cert_names_match(X509 *cert, const struct mta_tls_policy *p, char *seen, size_t seensize)
{
	bool any_dns = false, ok = false;
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !ok; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		any_dns = true;
		ok = presented_matches(ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName), p,
				       seen, seensize);
	}
	GENERAL_NAMES_free(gens);
	if (any_dns || ok)
		return ok;
	X509_NAME *subject = X509_get_subject_name(cert);
	for (int idx = -1; !ok && subject &&
	     (idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) >= 0;) {
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));
		if (len >= 0)
			ok = presented_matches(utf8, len, p, seen, seensize);
		OPENSSL_free(utf8);
	}
	ERR_clear_error();
	return ok;
}

enum mta_tls_outcome mta_tls_ssl_check(SSL *ssl, const struct mta_tls_policy *p, char *why, size_t size)
{
	snprintf(why, size, "%s", "");
	if (!p || p->mode <= MTA_TLS_ENCRYPT)
		return MTA_TLSO_OPPORTUNISTIC;
	X509 *peer = SSL_get0_peer_certificate(ssl);
	if (!peer) {
		snprintf(why, size, "no certificate was presented");
		return MTA_TLSO_FAILED;
	}
	long v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK) {
		snprintf(why, size, "%s", X509_verify_cert_error_string(v));
		return MTA_TLSO_FAILED;
	}
	if (p->mode == MTA_TLS_VERIFY) {
		char seen[256] = "";
		if (!cert_names_match(peer, p, seen, sizeof seen)) {
			char want[256] = "";
			for (size_t i = 0; i < p->nnames; i++)
				list_add(want, sizeof want, p->names[i]);
			snprintf(why, size, "certificate names (%s) do not match %s", seen[0] ? seen : "none", want);
			return MTA_TLSO_FAILED;
		}
		snprintf(why, size, "%s", seen);
		return MTA_TLSO_VERIFIED;
	}
	int depth = SSL_get0_dane_authority(ssl, NULL, NULL);
	uint8_t usage = 0, selector = 0, mtype = 0;
	if (depth < 0 || SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, NULL, NULL) < 0) {
		snprintf(why, size, "no TLSA record matched");
		return MTA_TLSO_FAILED;
	}
	snprintf(why, size, "TLSA %u %u %u at depth %d", usage, selector, mtype, depth);
	return MTA_TLSO_DANE;
}

enum mta_tls_outcome mta_tls_ssl_judge(SSL *ssl, const char *name, char *why, size_t size)
{
	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_VERIFY, "judge", name);
	enum mta_tls_outcome o;
	if (mta_tls_policy_add_name(p, name)) {
		o = mta_tls_ssl_check(ssl, p, why, size);
	} else {
		snprintf(why, size, "no name to verify the certificate against");
		o = MTA_TLSO_FAILED;
	}
	mta_tls_policy_unref(&p);
	return o;
}

bool mta_tls_verify_error(SSL *ssl, char *why, size_t size)
{
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v == X509_V_OK)
		return false;
	snprintf(why, size, "%s", X509_verify_cert_error_string(v));
	return true;
}
