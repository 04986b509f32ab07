/*
 * arc_seal.c — the ARC set tern adds when it forwards a message (RFC 8617
 * §5.1): ARC-Authentication-Results with the results tern computed,
 * ARC-Message-Signature (a DKIM signature without v=, relaxed/relaxed, of
 * the same header fields a DKIM signature of ours covers, and the
 * DKIM-Signature fields), and ARC-Seal over the chain with the new set.
 *
 * The AMS comes from the DKIM signer the verifier fed (dkim_sign_field());
 * the seal is folded and signed with the same helpers (dkim_int.h).  The
 * set is meant for the top of the header: none of the fields the AMS
 * signs may come after it, which holds for the trace fields tern adds.
 */
#include "mailauth/arc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mailauth/authres.h"

/* The fields our AMS signs: a DKIM signature's, plus the DKIM signatures themselves. */
static const char *const ams_headers[] = {
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Sender",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe", "List-Post",
	"List-Owner", "List-Archive", "DKIM-Signature", NULL,
};

/* A field as arc_seal_hash() wants it: without its final CRLF. */
static struct arc_field field_of(const struct buf *b)
{
	size_t n = b->len;
	if (n >= 2 && b->data[n - 2] == '\r' && b->data[n - 1] == '\n')
		n -= 2;
	return (struct arc_field){ b->data, n };
}

bool arc_seal(struct arc_verify *v, EVP_PKEY *key, const char *domain, const char *selector, int64_t now,
	      const char *authserv_id, const char *const *resinfo, size_t nresinfo, struct buf *out,
	      const char **why)
{
	const char *alg = dkim_key_algorithm(key);
	if (!v->sign || !alg) {
		*why = !alg ? "key is neither RSA nor Ed25519" : "not made for sealing";
		return false;
	}
	/* A failed chain is sealed over its own set only, so where it failed does not matter (§5.1.2). */
	unsigned n = v->sets.n;
	if (n >= ARC_MAX_INSTANCE) {
		*why = "the chain has 50 sets already";
		return false;
	}
	enum arc_result r = v->verdict.result;
	const char *cv = r == ARC_RESULT_PASS ? "pass" : r == ARC_RESULT_FAIL ? "fail" : "none";
	unsigned inst = n + 1;
	char lead[16];
	snprintf(lead, sizeof lead, "i=%u;", inst);

	/* The AAR is our Authentication-Results under another name, with i= first. */
	struct buf ar = BUF_INIT, aar = BUF_INIT, ams = BUF_INIT, as = BUF_INIT;
	authres_format(&ar, authserv_id, resinfo, nresinfo);
	const char *colon = memchr(ar.data, ':', ar.len);
	buf_printf(&aar, "ARC-Authentication-Results: %s", lead);
	buf_append(&aar, colon + 1, ar.len - (size_t)(colon + 1 - ar.data));
	bool ok = dkim_sign_field(v->sign, key, "ARC-Message-Signature", lead, domain, selector, now, ams_headers, &ams);
	if (!ok) {
		*why = "cannot sign the message (header too big, or a crypto failure)";
		goto done;
	}

	struct dkim_fold w = { &as, 0 };
	buf_puts(&as, "ARC-Seal:");
	w.col = as.len;
	dkim_fold_put(&w, lead, strlen(lead), true);
	dkim_fold_tag(&w, "a", alg);
	dkim_fold_tag(&w, "cv", cv);
	dkim_fold_tag(&w, "d", domain);
	dkim_fold_tag(&w, "s", selector);
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)now);
	dkim_fold_tag(&w, "t", num);
	dkim_fold_put(&w, "b=", 2, true);

	unsigned from = r == ARC_RESULT_FAIL ? inst : 1;
	size_t nf = 0;
	struct arc_field *fields = xcalloc(3 * (size_t)inst, sizeof *fields);
	for (unsigned i = from; i < inst; i++)
		for (enum arc_member m = ARC_AAR; m <= ARC_AS; m++) {
			fields[nf].p = arc_sets_get(&v->hdr, &v->sets, i, m, &fields[nf].len);
			nf++;
		}
	if (ok) {
		fields[nf++] = field_of(&aar);
		fields[nf++] = field_of(&ams);
		fields[nf++] = (struct arc_field){ as.data, as.len };
		uint8_t md[32];
		arc_seal_hash(fields, nf, as.len, as.len, md);
		ok = dkim_fold_signature(&w, key, md);
	}
	free(fields);
	if (!ok) {
		*why = "cannot sign the seal";
		goto done;
	}
	buf_append(out, as.data, as.len);
	buf_append(out, ams.data, ams.len);
	buf_append(out, aar.data, aar.len);
done:
	buf_free(&ar);
	buf_free(&aar);
	buf_free(&ams);
	buf_free(&as);
	return ok;
}
