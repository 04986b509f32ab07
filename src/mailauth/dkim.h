/*
 * dkim.h — DKIM signatures (RFC 6376; Ed25519 from RFC 8463; RFC 8301's
 * crypto rules): verification as a message streams in, and signing.
 *
 * Both sides take the message as it is on the wire (CRLF line ends, no
 * dot-stuffing) in pieces of any size, so SMTP can hash while DATA
 * streams and never reads the message twice: headers are kept (up to
 * DKIM_MAX_HEADER octets), the body only goes through the canonicaliser
 * and SHA-256.
 *
 * Verification asks DNS through struct mailauth_dns; its results come
 * back through a callback on the caller's loop.  Signing is CPU only
 * and synchronous.  No function here blocks.
 */
#ifndef TERN_MAILAUTH_DKIM_H
#define TERN_MAILAUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/buf.h"
#include "mailauth/mailauth_dns.h"

/* RFC 8601 §2.7.1 results. */
enum dkim_result {
	DKIM_RESULT_NONE,       /* no signature */
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,       /* the signature or the body hash does not verify */
	DKIM_RESULT_NEUTRAL,
	DKIM_RESULT_POLICY,     /* verifies, but refused by local policy (key too small) */
	DKIM_RESULT_TEMPERROR,  /* the key could not be fetched now */
	DKIM_RESULT_PERMERROR,  /* malformed signature or key, no key, revoked key, expired */
};

const char *dkim_result_name(enum dkim_result r);

struct dkim_verdict {
	enum dkim_result result;
	char domain[254];       /* d=, "" when the signature was too broken to say */
	char selector[64];      /* s= */
	char auid[320];         /* i= (or "@" d=) */
	char b[9];              /* first 8 characters of b=, for header.b (RFC 6008) */
	const char *algorithm;  /* "rsa-sha256", "ed25519-sha256", ... or "" */
	bool testing;           /* the key says t=y */
	const char *why;        /* static reason for anything but pass */
};

struct dkim_verify;
/* Called once with every verdict (n == 0: no signature); the verifier may be freed from inside. */
typedef void (*dkim_verify_cb)(void *arg, const struct dkim_verdict *v, size_t n);

/*
 * now: the time x= and t= are checked against (unix seconds).  The dns
 * table is copied; its context must outlive the verifier.
 */
struct dkim_verify *dkim_verify_new(const struct mailauth_dns *dns, int64_t now);
/* The message in order, in pieces of any size. */
void dkim_verify_feed(struct dkim_verify *v, const char *data, size_t len);
/*
 * End of message: the header hashes are computed and the key lookups
 * start.  Returns true when the verdicts are final already (no
 * signature, or none needing DNS); then cb is never called and
 * dkim_verify_results() has them.  false: cb runs later, from a DNS
 * callback, never from inside this call.
 */
bool dkim_verify_finish(struct dkim_verify *v, dkim_verify_cb cb, void *arg);
const struct dkim_verdict *dkim_verify_results(const struct dkim_verify *v, size_t *n);
/*
 * After finish: the domain of the message's single From field, lower case
 * (what DMARC aligns with); false when there is none, several, or the
 * header was too big to keep.
 */
bool dkim_verify_from_domain(const struct dkim_verify *v, char *out, size_t size);
/* Cancels lookups in flight (their cb is not called).  *v becomes NULL. */
void dkim_verify_free(struct dkim_verify **v);

/*
 * Authentication-Results method text for verdicts (RFC 8601, RFC 6008):
 * "dkim=pass header.d=example.org header.s=sel header.b=AbCdEfGh" per
 * signature joined by "; " (with a reason= comment-free "(why)" for
 * failures), "dkim=none" when n is 0.  Appended to out.
 */
void dkim_format_results(const struct dkim_verdict *v, size_t n, struct buf *out);

/* ---- signing ---------------------------------------------------------------- */

struct dkim_sign;

/* A signer (relaxed/relaxed, SHA-256) fed the message as it streams. */
struct dkim_sign *dkim_sign_new(void);
void dkim_sign_feed(struct dkim_sign *s, const char *data, size_t len);
/*
 * Header fields (each ending in CRLF) that go at the top of the header
 * before it is signed: the Message-ID and Date a submission server adds.
 * Call once the whole message was fed.
 */
void dkim_sign_prepend_fields(struct dkim_sign *s, const char *fields, size_t len);
/*
 * The domain of the (single) From field's first address, lower case, or
 * false when there is none, or several From fields, or the header was
 * too big to keep.  Valid once the header section is complete.
 */
bool dkim_sign_from_domain(struct dkim_sign *s, char *out, size_t size);
/*
 * The DKIM-Signature field ("DKIM-Signature: ...\r\n", folded to at most
 * 78 columns) for key (RSA or Ed25519), domain d=, selector s=, time t=.
 * headers: the field names to sign, NULL for dkim_default_headers; each
 * is listed as often as it occurs (all are signed), and From once more
 * so that a From added later breaks the signature.  Call after the whole
 * message was fed; false (nothing appended) on a crypto failure or a
 * header too big to sign.  May be called more than once (other keys).
 */
bool dkim_sign_finish(struct dkim_sign *s, EVP_PKEY *key, const char *domain, const char *selector,
		      int64_t now, const char *const *headers, struct buf *out);
void dkim_sign_free(struct dkim_sign **s);

/* NULL-terminated: From, To, Cc, Subject, Date, Message-ID, ... List-*. */
extern const char *const dkim_default_headers[];

#endif
