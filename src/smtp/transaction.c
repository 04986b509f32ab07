/*
 * transaction.c — MAIL and RCPT: sender and recipient policy.
 *
 * The relay rule is the heart of it: a recipient outside the local domains
 * is accepted only from an authenticated submission client.  Everything
 * that could smuggle a remote destination past that check through a local
 * domain — source routes, '%' and '!' routing, a quoted '@' — is refused
 * as a relay attempt for unauthenticated clients.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void rcpt_free(struct smtp_rcpt *r)
{
	free(r->address);
	free(r->orcpt);
	free(r->account_ids);
	for (size_t i = 0; i < r->nremote; i++)
		free(r->remote[i]);
	free(r->remote);
}

void smtp_transaction_reset(struct smtp_session *s)
{
	for (size_t i = 0; i < s->nrcpts; i++)
		rcpt_free(&s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	memset(&s->mail, 0, sizeof s->mail);
	s->msgid[0] = '\0';
	s->bdat_used = s->bdat_last = false;
	smtp_spool_discard(s);
	smtp_delivery_cleanup(s);
	smtp_mailauth_reset(s);
	if (s->state == ST_MAIL || s->state == ST_RCPT || s->state == ST_DATA || s->state == ST_BDAT)
		s->state = ST_READY;
}

void smtp_cmd_mail(struct smtp_session *s, const char *args, size_t len)
{
	const struct config *cfg = s->srv->cfg;
	if (s->state == ST_FRESH) {
		smtp_reply_error(s, 503, "5.5.1", "Send HELO/EHLO first");
		return;
	}
	if (s->state != ST_READY) {
		smtp_reply_error(s, 503, "5.5.1", "Nested MAIL command");
		return;
	}
	if (smtp_is_submission(s) && !s->authenticated) {
		smtp_reply_error(s, 530, "5.7.0", "Authentication required");
		return;
	}
	struct smtp_error err;
	if (!smtp_parse_mail(args, len, &s->mail, &err)) {
		smtp_reply_error(s, err.code, err.enhanced, "%s", err.text);
		memset(&s->mail, 0, sizeof s->mail);
		return;
	}
	if (s->mail.body == SMTP_BODY_BINARYMIME) {
		smtp_reply_error(s, 555, "5.5.4", "BINARYMIME not supported");
		memset(&s->mail, 0, sizeof s->mail);
		return;
	}
	/* Offered only under TLS (RFC 8689 §4): elsewhere an unknown parameter. */
	if (s->mail.requiretls && !s->c->tls) {
		smtp_reply_error(s, 555, "5.5.4", "REQUIRETLS not supported without TLS");
		memset(&s->mail, 0, sizeof s->mail);
		return;
	}
	if (s->mail.size_given && s->mail.size > cfg->smtp.max_message_size) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed limit of %llu octets",
			   (unsigned long long)cfg->smtp.max_message_size);
		log_info("smtp", "session=%s msg=rejected stage=mail from=%s size=%llu reason=size",
			 s->c->id, lq(s->mail.path.address), (unsigned long long)s->mail.size);
		memset(&s->mail, 0, sizeof s->mail);
		return;
	}
	if (smtp_is_submission(s) && !s->mail.path.null &&
	    !store_sender_allowed(smtp_store(s), s->account_id, s->mail.path.address)) {
		smtp_reply_error(s, 553, "5.7.1", "Sender address rejected: not owned by user %s", s->auth_user);
		log_info("smtp", "session=%s msg=rejected stage=mail from=%s user=%s reason=\"sender not owned\"",
			 s->c->id, lq(s->mail.path.address), lq(s->auth_user));
		memset(&s->mail, 0, sizeof s->mail);
		return;
	}
	random_id(s->msgid, 16);
	s->state = ST_MAIL;
	smtp_reply(s, 250, "2.1.0", "Ok");
	smtp_mailauth_mail(s);
}

static void reject_rcpt(struct smtp_session *s, const struct smtp_rcpt_args *r, int code,
			const char *enhanced, const char *text, const char *reason)
{
	log_info("smtp", "session=%s msg=rejected stage=rcpt id=%s from=%s to=%s code=%d reason=%s",
		 s->c->id, s->msgid, lq(s->mail.path.address), lq(r->path.address), code, lq(reason));
	smtp_reply_error(s, code, enhanced, "%s", text);
}

/* Fill rcpt from a store resolution. */
static void take_resolution(struct smtp_rcpt *rcpt, struct store_rcpt *res)
{
	rcpt->naccounts = res->naccounts;
	rcpt->account_ids = xcalloc(res->naccounts ? res->naccounts : 1, sizeof *rcpt->account_ids);
	memcpy(rcpt->account_ids, res->account_ids, res->naccounts * sizeof *rcpt->account_ids);
	rcpt->nremote = res->nremote;
	rcpt->remote = xcalloc(res->nremote ? res->nremote : 1, sizeof *rcpt->remote);
	for (size_t i = 0; i < res->nremote; i++) {
		rcpt->remote[i] = res->remote[i];
		res->remote[i] = NULL;
	}
	res->nremote = 0;
}

/* Resolve a local recipient, with the postmaster rule; STORE_NOTFOUND if nobody. */
static enum store_status resolve_local(struct smtp_session *s, const struct smtp_path *p, struct store_rcpt *res,
				       char **postmaster)
{
	enum store_status rc = store_resolve_rcpt(smtp_store(s), p->address, res);
	if (rc != STORE_NOTFOUND || strcasecmp(p->localpart, "postmaster") != 0)
		return rc;
	/* RFC 5321 §4.5.1: postmaster@ every local domain must be deliverable. */
	return smtp_postmaster_resolve(s, p->domain, res, postmaster);
}

void smtp_cmd_rcpt(struct smtp_session *s, const char *args, size_t len)
{
	const struct config *cfg = s->srv->cfg;
	if (s->state != ST_MAIL && s->state != ST_RCPT) {
		smtp_reply_error(s, 503, "5.5.1", s->state == ST_FRESH ? "Send HELO/EHLO first" : "Need MAIL before RCPT");
		return;
	}
	struct smtp_rcpt_args r;
	struct smtp_error err;
	if (!smtp_parse_rcpt(args, len, s->mail.smtputf8, &r, &err)) {
		smtp_reply_error(s, err.code, err.enhanced, "%s", err.text);
		return;
	}
	if (s->nrcpts >= cfg->smtp.max_recipients) {
		reject_rcpt(s, &r, 452, "4.5.3", "Too many recipients", "max_recipients");
		return;
	}

	struct store *st = smtp_store(s);
	struct store_rcpt res;
	memset(&res, 0, sizeof res);
	enum store_status rc;
	char *postmaster = NULL;    /* where a postmaster address went */

	if (r.path.postmaster) {
		/* "RCPT TO:<Postmaster>": the postmaster of this host's own domain. */
		rc = smtp_postmaster_resolve(s, NULL, &res, &postmaster);
	} else {
		bool local = !r.path.address_literal && store_domain_is_local(st, r.path.domain);
		if ((r.path.source_route || r.path.relay_hack || !local) && !s->authenticated) {
			reject_rcpt(s, &r, 554, "5.7.1", "Relay access denied", "relay");
			return;
		}
		if (local) {
			rc = resolve_local(s, &r.path, &res, &postmaster);
		} else {
			/* Authenticated submission to another domain: the outbound queue takes it. */
			res.remote[0] = xstrdup(r.path.address);
			res.nremote = 1;
			rc = STORE_OK;
		}
	}
	if (rc != STORE_OK)
		free(postmaster);
	if (rc == STORE_NOTFOUND) {
		store_rcpt_clear(&res);
		reject_rcpt(s, &r, 550, "5.1.1", "Recipient address rejected: User unknown in local recipient table", "unknown user");
		return;
	}
	if (rc != STORE_OK) {
		store_rcpt_clear(&res);
		reject_rcpt(s, &r, 451, "4.3.0", "Temporary lookup failure, try again later", store_status_str(rc));
		return;
	}

	/*
	 * A full mailbox is refused here, with the declared SIZE when there is
	 * one, rather than after the client has sent the whole message; the
	 * store checks again with the real size when it commits.
	 */
	size_t kept = 0;
	for (size_t i = 0; i < res.naccounts; i++) {
		if (store_quota_check(st, res.account_ids[i], s->mail.size_given ? s->mail.size : 0) != STORE_QUOTA) {
			res.account_ids[kept++] = res.account_ids[i];
			continue;
		}
		/*
		 * An alias with more targets: like Postfix's local(8), the others
		 * still get the message and this one's failure is logged (a
		 * bounce once outbound DSNs exist), not the whole RCPT refused.
		 */
		if (res.naccounts + res.nremote > 1)
			log_info("smtp", "session=%s msg=\"alias target over quota, skipped\" id=%s to=%s account=%lld",
				 s->c->id, s->msgid, lq(r.path.address), (long long)res.account_ids[i]);
	}
	if (kept == 0 && res.nremote == 0) {
		store_rcpt_clear(&res);
		free(postmaster);
		reject_rcpt(s, &r, 452, "4.2.2", "Mailbox full, try again later", "quota");
		return;
	}
	res.naccounts = kept;

	s->rcpts = xrealloc(s->rcpts, (s->nrcpts + 1) * sizeof *s->rcpts);
	struct smtp_rcpt *rcpt = &s->rcpts[s->nrcpts++];
	memset(rcpt, 0, sizeof *rcpt);
	/* the bare form is recorded as where it went; postmaster@domain as written */
	if (r.path.postmaster && postmaster) {
		rcpt->address = postmaster;
	} else {
		rcpt->address = xstrdup(r.path.address);
		free(postmaster);
	}
	rcpt->orcpt = r.orcpt[0] ? xstrdup(r.orcpt) : NULL;
	rcpt->notify = r.notify;
	take_resolution(rcpt, &res);
	store_rcpt_clear(&res);
	s->state = ST_RCPT;
	smtp_reply(s, 250, "2.1.5", "Ok");
}
