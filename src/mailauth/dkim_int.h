/*
 * dkim_int.h — the pieces of DKIM (RFC 6376, RFC 8463) that dkim_verify.c
 * and dkim_sign.c share and that the unit tests and fuzz targets reach
 * directly: the tag-list splitter (dkim_taglist.c), the DKIM-Signature
 * parser (dkim_sig.c), the key record parser (dkim_keyrec.c), the
 * canonicalisations and the streaming header/body collector
 * (dkim_canon.c), and the key check and field building that ARC (arc*.c,
 * RFC 8617: DKIM-like signatures) uses too.  Not for use outside
 * src/mailauth/ (and the tests).
 *
 * Every parser takes (pointer, length), copies what it keeps into bounded
 * fields, and refuses what does not fit instead of allocating for it.
 */
#ifndef TERN_MAILAUTH_DKIM_INT_H
#define TERN_MAILAUTH_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"

/* ---- limits: everything hostile input can make us keep ----------------- */

#define DKIM_MAX_TAGS 32            /* tags in one tag list (14 are defined) */
#define DKIM_MAX_SIG_FIELD 8192     /* one DKIM-Signature field, raw */
#define DKIM_MAX_KEY_RECORD 4096    /* one key record (joined TXT strings) */
#define DKIM_MAX_B 1024             /* decoded b= (RSA 8192 bits) */
#define DKIM_MAX_P 1200             /* decoded p= (SPKI of RSA 8192 bits) */
#define DKIM_MAX_H 64               /* names in h= */
#define DKIM_MAX_HNAME 64           /* length of one header field name in h= */
#define DKIM_MAX_HEADER (256 * 1024)  /* header section kept for hashing */
#define DKIM_MAX_FIELDS 1000        /* header fields looked at */
#define DKIM_MAX_SIGS 5             /* signatures evaluated per message */

enum dkim_canon { DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED };
enum dkim_alg { DKIM_ALG_RSA_SHA256, DKIM_ALG_ED25519_SHA256, DKIM_ALG_RSA_SHA1 };
enum dkim_keytype { DKIM_KEY_RSA, DKIM_KEY_ED25519 };

/* ---- tag lists (RFC 6376 §3.2) ----------------------------------------- */

struct dkim_tag {
	const char *name;
	size_t name_len;
	const char *value;      /* surrounding FWS removed; inner FWS kept */
	size_t value_len;
	size_t raw_start;       /* offset of the octet after '=' */
	size_t raw_end;         /* offset of the ';' ending it, or the list's length */
};

enum dkim_taglist_status { DKIM_TAGS_OK, DKIM_TAGS_SYNTAX, DKIM_TAGS_DUPLICATE, DKIM_TAGS_TOO_MANY };

/* Split p[0..n) into tags; the slices point into p.  Tag names are case-sensitive. */
enum dkim_taglist_status dkim_taglist_parse(const char *p, size_t n, struct dkim_tag *tags, size_t max,
					    size_t *ntags);

/* ---- the DKIM-Signature field (RFC 6376 §3.5) --------------------------- */

/* Which field a tag list is: the same grammar, different required tags. */
enum dkim_sig_kind { DKIM_SIG_DKIM, DKIM_SIG_AMS, DKIM_SIG_AS };
/* ARC-Seal cv= (RFC 8617 §4.1.3). */
enum dkim_cv { DKIM_CV_NONE, DKIM_CV_PASS, DKIM_CV_FAIL };

struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char d[254];                /* lower case */
	char s[64];
	char i[320];                /* "" when absent (then "@" d) */
	char i_domain[254];         /* the part after '@', lower case */
	char h[DKIM_MAX_H][DKIM_MAX_HNAME];
	size_t nh;
	uint8_t bh[64];
	size_t bhlen;
	uint8_t b[DKIM_MAX_B];
	size_t blen;
	char b_prefix[9];           /* first 8 characters of b= (RFC 6008 header.b) */
	bool has_l, has_t, has_x;
	uint64_t l;
	int64_t t, x;
	size_t b_raw_start, b_raw_end;  /* b='s value in the parsed value, FWS included */
	unsigned instance;          /* ARC i= (AMS, AS); 0 for DKIM */
	enum dkim_cv cv;            /* ARC-Seal only */
};

/*
 * Parse the value of a DKIM-Signature field (after the colon).  false
 * with *why (a static string) on anything that makes it a permerror:
 * syntax, a duplicate or missing required tag, v != 1, an unknown
 * algorithm or canonicalisation, h= without From, i= outside d=, x < t.
 * rsa-sha1 parses (alg = DKIM_ALG_RSA_SHA1) so the verifier can say why
 * it refuses it.
 */
bool dkim_sig_parse(const char *p, size_t n, struct dkim_sig *sig, const char **why);
/*
 * The same for ARC-Message-Signature (kind DKIM_SIG_AMS: no v=, i= is the
 * instance, any number >= 1; c= as DKIM) and ARC-Seal (DKIM_SIG_AS: i=,
 * cv=, a, b, d, s required; h= or bh= refuse it; relaxed always).
 */
bool dkim_sig_parse_arc(const char *p, size_t n, enum dkim_sig_kind kind, struct dkim_sig *sig, const char **why);

/* ---- the key record (RFC 6376 §3.6.1) ----------------------------------- */

struct dkim_keyrec {
	enum dkim_keytype k;
	bool revoked;           /* p= empty */
	bool testing;           /* t=y */
	bool strict;            /* t=s: i= must be d= exactly */
	uint8_t p[DKIM_MAX_P];
	size_t plen;
};

/* false with *why on a record that cannot be used (permerror). */
bool dkim_keyrec_parse(const char *p, size_t n, struct dkim_keyrec *key, const char **why);

/*
 * The key record in a TXT answer (dkim_verify.c): DKIM_RESULT_PASS with *k
 * the first record that parses, else PERMERROR (no key, none parses) or
 * TEMPERROR (the lookup failed), with *why.
 */
enum dkim_result dkim_key_from_answer(const struct dns_result *r, struct dkim_keyrec *k, const char **why);
/*
 * A signature's b= against its header hash with key k: PASS, FAIL (does
 * not verify) or PERMERROR (revoked, type mismatch, t=s and i= not d=, bad
 * or out-of-bounds RSA key), with *why for anything but PASS.
 */
enum dkim_result dkim_check_key(const struct dkim_sig *sig, const struct dkim_keyrec *k, const uint8_t hash[32],
				const char **why);

/* ---- canonicalisation (RFC 6376 §3.4) ----------------------------------- */

/* Append the canonical form of one raw field (name ... value, no final CRLF) plus CRLF. */
void dkim_canon_header(enum dkim_canon c, const char *field, size_t n, struct buf *out);

/*
 * The body canonicaliser and hash, fed in pieces of any size; the result
 * does not depend on how the body is cut.  limit: l= (UINT64_MAX for
 * none).  Owns an EVP_MD_CTX for SHA-256 (or SHA-1 for rsa-sha1, only so
 * that the structure is uniform: such signatures are refused anyway).
 */
struct dkim_body {
	enum dkim_canon canon;
	EVP_MD_CTX *md;
	uint64_t limit, hashed;
	uint64_t empty_lines;       /* CRLFs of empty lines not yet known not to be trailing */
	bool line_content;          /* the current line has content */
	bool wsp;                   /* relaxed: whitespace pending in the line */
	bool cr;                    /* a CR was the last octet */
	bool any;                   /* anything was emitted */
	char out[4096];
	size_t outlen;
};

bool dkim_body_init(struct dkim_body *b, enum dkim_canon c, uint64_t limit);
void dkim_body_feed(struct dkim_body *b, const char *p, size_t n);
/* The hash (32 octets) into md; *len its length.  The context is released. */
void dkim_body_final(struct dkim_body *b, uint8_t md[64], size_t *len);
void dkim_body_free(struct dkim_body *b);

/* ---- the header section, collected as the message streams ---------------- */

struct dkim_field {
	size_t off, len;            /* in raw, without the final CRLF */
	size_t name_len;            /* name without trailing WSP; 0: not a field */
};

struct dkim_headers {
	struct buf raw;
	struct dkim_field *fields;
	size_t nfields, cap;
	bool done;                  /* the empty line was seen (or the input began with it) */
	bool overflow;              /* over DKIM_MAX_HEADER octets or DKIM_MAX_FIELDS fields */
	unsigned match;             /* progress through CRLF CRLF */
};

/*
 * Feed message octets; returns how many belong to the header section
 * (the rest of p is body).  After done it returns 0.
 */
size_t dkim_headers_feed(struct dkim_headers *h, const char *p, size_t n);
/* The same, stepping *p and *n past what the header took; true once the header section is complete. */
bool dkim_headers_take(struct dkim_headers *h, const char **p, size_t *n);
/* Split raw into fields (at end of header, or at end of input for a message without body). */
void dkim_headers_split(struct dkim_headers *h);
void dkim_headers_free(struct dkim_headers *h);
bool dkim_field_is(const struct dkim_headers *h, const struct dkim_field *f, const char *name, size_t n);
/* The single From field's first domain, lower case; false without one, with several, or on overflow. */
bool dkim_headers_from_domain(const struct dkim_headers *h, char *out, size_t size);

/*
 * The data a signature signs (RFC 6376 §3.7), hashed with SHA-256 into
 * md: the fields h= names taken from the bottom up, then the signature
 * field itself (sigfield) with its b= value (sig_b_start..sig_b_end,
 * offsets in that field) removed and no final CRLF.
 */
void dkim_header_hash(const struct dkim_headers *h, enum dkim_canon c, const char names[][DKIM_MAX_HNAME],
		      size_t nnames, const char *sigfield, size_t siglen, size_t sig_b_start, size_t sig_b_end,
		      uint8_t md[32]);

/* ---- building signature fields (dkim_sign.c) ------------------------------ */

/* Folding writer: pieces that are never split, each after a space or a line break (at most 78 columns). */
struct dkim_fold {
	struct buf *b;
	size_t col;
};
void dkim_fold_put(struct dkim_fold *f, const char *p, size_t n, bool space);
/* "tag=value;" as one piece. */
void dkim_fold_tag(struct dkim_fold *f, const char *tag, const char *val);
/* Sign md with key (RSA PKCS#1 SHA-256 or PureEd25519), append b= base64 folded and CRLF; false on a crypto failure. */
bool dkim_fold_signature(struct dkim_fold *f, EVP_PKEY *key, const uint8_t md[32]);
/* "rsa-sha256" / "ed25519-sha256" for key, NULL for another type. */
const char *dkim_key_algorithm(EVP_PKEY *key);

struct dkim_sign;
/*
 * dkim_sign_finish() for any field of that form: name ("DKIM-Signature",
 * "ARC-Message-Signature") and lead, the first tag(s) ("v=1;", "i=2;").
 */
bool dkim_sign_field(struct dkim_sign *s, EVP_PKEY *key, const char *name, const char *lead, const char *domain,
		     const char *selector, int64_t now, const char *const *headers, struct buf *out);

/* Remove SP, HTAB, CR and LF (FWS inside base64 values) then decode; false if bad or over max. */
bool dkim_base64_decode(const char *s, size_t n, uint8_t *out, size_t max, size_t *outlen);

#endif
