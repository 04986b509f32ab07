/*
 * arc_int.h — the pieces of ARC (RFC 8617) that arc_verify.c and
 * arc_seal.c share and the unit tests and fuzz target reach: the ARC sets
 * of a header section (arc_set.c) and the hash an ARC-Seal signs.  Not
 * for use outside src/mailauth/ (and the tests).
 */
#ifndef TERN_MAILAUTH_ARC_INT_H
#define TERN_MAILAUTH_ARC_INT_H

#include "mailauth/arc.h"
#include "mailauth/dkim_int.h"

enum arc_member { ARC_AAR, ARC_AMS, ARC_AS };

/* The ARC fields of a header section, by instance. */
struct arc_sets {
	unsigned n;                                     /* the highest i= seen; 0: no ARC field */
	size_t field[ARC_MAX_INSTANCE + 1][3];          /* index + 1 into dkim_headers.fields; 0: none */
	enum dkim_cv cv[ARC_MAX_INSTANCE + 1];          /* of each ARC-Seal */
	char newest_d[254];                             /* d= of ARC-Seal i=n when it parsed */
};

/*
 * The i= of an ARC-Authentication-Results value (after the colon):
 * "[FWS] i [FWS] = [FWS] 1*DIGIT [FWS] ;".  false when it does not start so.
 */
bool arc_aar_instance(const char *p, size_t n, unsigned *instance);

/*
 * Collect h's ARC sets and check the chain's structure (RFC 8617 §5.2
 * steps 2-3): every field's i= readable and 1..50, one AAR, AMS and AS
 * per instance, no gap in 1..n, the ARC-Seals parse, i=1 says cv=none,
 * the later ones cv=pass, none says cv=fail.  true: n == 0 (no chain) or
 * a well-formed chain; false with *why (static): the chain fails.  s->n
 * is set either way (what a seal after a failed chain counts from).
 */
bool arc_sets_collect(const struct dkim_headers *h, struct arc_sets *s, const char **why);

/* The raw field (name: value, no final CRLF) of instance i's member m; NULL, 0 when absent. */
const char *arc_sets_get(const struct dkim_headers *h, const struct arc_sets *s, unsigned i, enum arc_member m,
			 size_t *len);

struct arc_field {
	const char *p;
	size_t len;                 /* without the final CRLF */
};

/*
 * SHA-256 of what an ARC-Seal signs (RFC 8617 §5.1.1): the fields in the
 * order given (AAR, AMS, AS of instance 1, then 2, ...), relaxed; the
 * last, the seal itself, with its b= value (b_start..b_end, offsets in
 * that field) removed and no final CRLF.
 */
void arc_seal_hash(const struct arc_field *f, size_t n, size_t b_start, size_t b_end, uint8_t md[32]);

/* ---- the verifier's state (arc_verify.c), which arc_seal.c reads ---------- */

#define ARC_MAX_KEYS (ARC_MAX_INSTANCE + 1)

struct arc_key {
	struct arc_verify *v;
	char name[256];
	struct dns_query *q;
	enum dkim_result status;        /* PASS: rec is the key */
	const char *why;
	struct dkim_keyrec rec;
};

struct arc_verify {
	struct mailauth_dns dns;
	int64_t now;
	struct dkim_headers hdr;
	bool started;
	bool final;                     /* the verdict is in */
	struct arc_sets sets;
	struct dkim_sig ams;            /* the newest AMS */
	struct dkim_body body;
	bool body_on;
	uint8_t ams_hash[32];
	size_t ams_key;
	struct dkim_sig *seals;         /* sets.n of them, at end of message */
	uint8_t (*seal_hash)[32];
	size_t *seal_key;
	struct arc_key *keys;           /* ARC_MAX_KEYS of them, made at end of message when needed */
	size_t nkeys, pending;
	struct arc_verdict verdict;
	arc_verify_cb cb;
	void *arg;
	struct dkim_sign *sign;         /* for arc_seal() */
};

#endif
