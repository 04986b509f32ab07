/*
 * dkimsign.c — DKIM signing of mail submitted by an authenticated user
 * (submission and submissions ports; never mail received on the MX port).
 *
 * The signer is started when DATA/BDAT opens the spool and sees every
 * message octet as it is written (data.c's emit()), so the body hash is
 * done when the data ends and the message is never read twice.  At end
 * of data the domain of the From field — not the envelope sender: the
 * author domain is what receivers (and DMARC) check, as OpenDKIM and
 * Postfix set-ups sign — picks the key: a local domain with an active
 * key in DATA_DIR/dkim/ (mailauth/dkim_keys.h) gets a DKIM-Signature
 * placed right after our Received field, before the message's own
 * header, for local and remote recipients alike (submission.c puts it
 * there, with the fields a submission server adds, which are signed too).
 * Signing is a few hundred microseconds of CPU (RSA-2048; Ed25519 much
 * less), done inline on the loop.  A key that cannot be
 * used is logged and the message goes out unsigned rather than not at
 * all.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_keys.h"

#include <stdlib.h>
#include <string.h>

void smtp_dkim_begin(struct smtp_session *s)
{
	if (smtp_is_submission(s) && s->authenticated)
		s->spool.dkim = dkim_sign_new();
}

void smtp_dkim_feed(struct smtp_session *s, const char *p, size_t n)
{
	if (s->spool.dkim)
		dkim_sign_feed(s->spool.dkim, p, n);
}

void smtp_dkim_sign(struct smtp_session *s, const struct buf *added, struct buf *sig)
{
	struct smtp_spool *sp = &s->spool;
	if (!sp->dkim)
		return;
	const char *id = s->c ? s->c->id : "-";
	char domain[254], sel[DKIM_SELECTOR_MAX + 1];
	EVP_PKEY *key = NULL;
	if (!dkim_sign_from_domain(sp->dkim, domain, sizeof domain) ||
	    !store_domain_is_local(smtp_store(s), domain) ||
	    !dkim_keystore_get(s->srv->dkim_keys, domain, &key, sel))
		goto out;
	if (added->len)
		dkim_sign_prepend_fields(sp->dkim, added->data, added->len);
	if (!dkim_sign_finish(sp->dkim, key, domain, sel, now_unix(), NULL, sig)) {
		log_warn("smtp", "session=%s msg=\"DKIM signing failed, sent unsigned\" id=%s domain=%s selector=%s",
			 id, s->msgid, domain, sel);
		goto out;
	}
	log_info("smtp", "session=%s msg=\"DKIM signed\" id=%s domain=%s selector=%s", id, s->msgid, domain, sel);
out:
	EVP_PKEY_free(key);
	dkim_sign_free(&sp->dkim);
}
