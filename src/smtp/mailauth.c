/*
 * mailauth.c — SPF, DKIM, DMARC and ARC on mail received on the MX port,
 * and what becomes of the message by their verdicts.
 *
 *   MAIL FROM accepted ── SPF check starts (DNS runs while RCPT and DATA go on)
 *   DATA/BDAT octets   ── the DKIM and ARC verifiers hash them as they are spooled
 *   end of data        ── busy (no input read): wait for SPF, finish DKIM
 *                          and ARC (key lookups), then DMARC on the From domain
 *                          ──► refuse (5xx / 4xx) or accept, maybe into Junk,
 *                              with Received-SPF and Authentication-Results
 *                              placed after our Received field, and, when an
 *                              alias forwards it elsewhere, our ARC set above
 *                              that Received field (sealed with the DKIM key
 *                              of the alias's domain)
 *
 * Nothing here blocks the loop: every lookup is a callback.  A temporary
 * DNS failure that could change the outcome gives 451, never a silent
 * pass: SPF temperror always (the sender may be refusing to be checked),
 * DMARC temperror, and DKIM temperror when DMARC would otherwise refuse.
 * ARC is only recorded (RFC 8617 is informational): it never refuses.
 * Mail from authenticated clients (submission) is not checked.  When the
 * connection goes while the checks run, the session cancels them and goes
 * too: nothing else waits on them.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailauth/arc.h"
#include "mailauth/authres.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_keys.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"
#include "net/loop.h"
#include "smtp/dmarcrpt_collect.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAILAUTH_DKIM_MAX 8     /* signatures handed to DMARC; the verifier bounds its own count */

struct smtp_mailauth {
	struct mailauth_dns dns;
	struct spf_check *spf;
	bool spf_done;
	struct spf_outcome spf_out;
	struct dkim_verify *dkim;
	bool dkim_done;
	struct arc_verify *arc;
	bool arc_done;
	struct dmarc_check *dmarc;
	bool waiting;                   /* end of data reached: the session is busy until the verdict */
	smtp_mailauth_done_fn done;
	struct smtp_mailauth_verdict verdict;
};

static const struct config *cfg_of(const struct smtp_session *s)
{
	return s->srv->cfg;
}

static bool wanted(const struct smtp_session *s)
{
	const struct config *cfg = cfg_of(s);
	return !smtp_is_submission(s) && !s->authenticated &&
	       (cfg->mailauth.spf || cfg->mailauth.dkim || cfg->mailauth.dmarc || cfg->mailauth.arc > 0);
}

static struct smtp_mailauth *mailauth_get(struct smtp_session *s)
{
	if (!s->ma) {
		struct dns_resolver *r = smtp_resolver(s);
		if (!r)
			return NULL;
		s->ma = xcalloc(1, sizeof *s->ma);
		s->ma->dns = mailauth_dns_resolver(r);
	}
	return s->ma;
}

void smtp_mailauth_reset(struct smtp_session *s)
{
	struct smtp_mailauth *ma = s->ma;
	if (!ma)
		return;
	spf_check_cancel(&ma->spf);
	dkim_verify_free(&ma->dkim);
	arc_verify_free(&ma->arc);
	dmarc_check_cancel(ma->dmarc);
	buf_free(&ma->verdict.fields);
	buf_free(&ma->verdict.top);
	free(ma);
	s->ma = NULL;
}

/* ---- SPF, from MAIL FROM on ---------------------------------------------------- */

static void maybe_decide(struct smtp_session *s);

static void on_spf(const struct spf_outcome *o, void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_mailauth *ma = s->ma;
	ma->spf = NULL;
	ma->spf_out = *o;
	ma->spf_done = true;
	if (ma->waiting)
		maybe_decide(s);
}

void smtp_mailauth_mail(struct smtp_session *s)
{
	smtp_mailauth_reset(s);
	if (!wanted(s))
		return;
	struct smtp_mailauth *ma = mailauth_get(s);
	if (!ma)
		return;
	if (!cfg_of(s)->mailauth.spf) {
		ma->spf_done = true;
		ma->spf_out.result = SPF_NONE;
		return;
	}
	struct spf_request rq = {
		.ip = s->c->peer_ip,
		.helo = s->helo,
		.mail_from = s->mail.path.null ? "" : s->mail.path.address,
		.receiver = cfg_of(s)->hostname,
		.identity = SPF_IDENTITY_MAILFROM,
	};
	ma->spf = spf_check_start(&ma->dns, loop_base(s->loop), &rq, on_spf, s);
}

/* ---- DKIM and ARC, as the data streams in ---------------------------------------- */

/* The first recipient an alias expands to remote addresses: its domain's key seals (NULL: none). */
static const char *forwarding_rcpt(const struct smtp_session *s)
{
	for (size_t i = 0; i < s->nrcpts; i++)
		if (s->rcpts[i].nremote)
			return s->rcpts[i].address;
	return NULL;
}

void smtp_mailauth_data(struct smtp_session *s)
{
	struct smtp_mailauth *ma = s->ma;
	const struct config *cfg = cfg_of(s);
	if (!ma)
		return;
	dkim_verify_free(&ma->dkim);
	arc_verify_free(&ma->arc);
	ma->dkim_done = ma->arc_done = false;
	if (cfg->mailauth.dkim || cfg->mailauth.dmarc)
		ma->dkim = dkim_verify_new(&ma->dns, now_unix());
	if (cfg->mailauth.arc > 0)
		ma->arc = arc_verify_new(&ma->dns, now_unix(), cfg->mailauth.arc_seal && forwarding_rcpt(s));
}

void smtp_mailauth_feed(struct smtp_session *s, const char *p, size_t n)
{
	if (s->ma && s->ma->dkim)
		dkim_verify_feed(s->ma->dkim, p, n);
	if (s->ma && s->ma->arc)
		arc_verify_feed(s->ma->arc, p, n);
}

/* ---- the verdict ------------------------------------------------------------------ */

/* The verdict is handed over by value: done() may well reset the transaction, and with it s->ma. */
/* The session in smtp_mailauth_end() on this loop thread: a verdict for it is not "later". */
static __thread struct smtp_session *ending;

static void finish(struct smtp_session *s)
{
	struct smtp_mailauth *ma = s->ma;
	ma->waiting = false;
	ma->verdict.later = ending != s;
	s->busy = BUSY_NONE;
	smtp_mailauth_done_fn done = ma->done;
	ma->done = NULL;
	struct smtp_mailauth_verdict v = ma->verdict;
	memset(&ma->verdict.fields, 0, sizeof ma->verdict.fields);
	memset(&ma->verdict.top, 0, sizeof ma->verdict.top);
	done(s, &v);
	buf_free(&v.fields);
	buf_free(&v.top);
}

/* Is this (local) recipient domain one whose refusals become Junk? */
static bool junk_instead(const struct config *cfg, const char *domain)
{
	const char *list = cfg->mailauth.junk_instead;
	if (!list || !domain)
		return false;
	size_t dl = strlen(domain);
	for (const char *p = list; *p; ) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		if ((size_t)(e - p) == dl && dl && strncasecmp(p, domain, dl) == 0)
			return true;
		p = e;
	}
	return false;
}

/*
 * A refusal, or Junk when every recipient's domain asks for that: one
 * message cannot be refused for some recipients at end of data, and
 * filing it for all beats losing it for the ones who wanted it filed.
 */
static void refuse_or_junk(struct smtp_session *s, int code, const char *enhanced, const char *text,
			   const char *reason)
{
	struct smtp_mailauth_verdict *v = &s->ma->verdict;
	bool all_junk = s->nrcpts > 0;
	for (size_t i = 0; i < s->nrcpts && all_junk; i++) {
		const char *at = strrchr(s->rcpts[i].address, '@');
		all_junk = junk_instead(cfg_of(s), at ? at + 1 : NULL);
	}
	v->reason = reason;
	if (all_junk) {
		v->junk = true;
		return;
	}
	v->code = code;
	snprintf(v->enhanced, sizeof v->enhanced, "%s", enhanced);
	snprintf(v->text, sizeof v->text, "%s", text);
}

/*
 * The message is accepted and an alias forwards it: our ARC set (RFC 8617
 * §5.1) with the results we just wrote, sealed with the active DKIM key of
 * the alias's domain.  Without a key, or at 50 sets, it goes unsealed.
 */
static void arc_seal_forwarded(struct smtp_session *s, const char *const *res, size_t nres)
{
	struct smtp_mailauth *ma = s->ma;
	const char *rcpt = forwarding_rcpt(s);
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	if (!ma->arc || !cfg_of(s)->mailauth.arc_seal || !at)
		return;
	char domain[256], sel[DKIM_SELECTOR_MAX + 1];
	size_t n = 0;
	for (const char *p = at + 1; *p && n + 1 < sizeof domain; p++)
		domain[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	domain[n] = '\0';
	const char *id = s->c ? s->c->id : "-";
	EVP_PKEY *key = NULL;
	if (!s->srv->dkim_keys || !dkim_keystore_get(s->srv->dkim_keys, domain, &key, sel)) {
		log_info("smtp", "session=%s msg=\"forwarded without an ARC seal\" id=%s domain=%s reason=%s", id,
			 s->msgid, lq(domain), lq("no DKIM key for the domain"));
		return;
	}
	const char *why = NULL;
	const struct arc_verdict *av = arc_verify_result(ma->arc);
	if (arc_seal(ma->arc, key, domain, sel, now_unix(), smtp_authserv_id(s), res, nres, &ma->verdict.top, &why))
		log_info("smtp", "session=%s msg=\"ARC sealed\" id=%s i=%u cv=%s d=%s s=%s", id, s->msgid,
			 av->instances + 1, arc_result_name(av->result), lq(domain), lq(sel));
	else
		log_info("smtp", "session=%s msg=\"forwarded without an ARC seal\" id=%s domain=%s reason=%s", id,
			 s->msgid, lq(domain), lq(why));
	EVP_PKEY_free(key);
}

static void decide_policy(struct smtp_session *s, const struct dmarc_result *dm, bool dkim_temp);

static void decide(struct smtp_session *s, const struct dmarc_result *dm)
{
	struct smtp_mailauth *ma = s->ma;
	const struct config *cfg = cfg_of(s);
	struct smtp_mailauth_verdict *v = &ma->verdict;
	size_t nd = 0;
	const struct dkim_verdict *dv = ma->dkim ? dkim_verify_results(ma->dkim, &nd) : NULL;
	bool dkim_temp = false;
	for (size_t i = 0; i < nd; i++)
		dkim_temp |= dv[i].result == DKIM_RESULT_TEMPERROR;
	const char *id = s->c ? s->c->id : "-";
	enum spf_result spf = ma->spf_out.result;
	const struct arc_verdict *av = ma->arc ? arc_verify_result(ma->arc) : NULL;

	log_info("smtp", "session=%s msg=mailauth id=%s spf=%s spf_domain=%s dkim=%zu dkim_pass=%s dmarc=%s "
		 "dmarc_policy=%s dmarc_disposition=%s from_domain=%s arc=%s arc_i=%u arc_why=%s",
		 id, s->msgid, spf_result_name(spf), lq(ma->spf_out.domain), nd,
		 nd && dv[0].result == DKIM_RESULT_PASS ? dv[0].domain : "-",
		 dm ? dmarc_status_name(dm->status) : "off", dm ? dmarc_policy_name(dm->policy) : "-",
		 dm ? dmarc_policy_name(dm->disposition) : "-", lq(dm ? dm->from_domain : "-"),
		 av ? arc_result_name(av->result) : "off", av ? av->instances : 0,
		 lq(av && av->why[0] ? av->why : "-"));

	/* The trace fields, whatever the outcome: they go in only when the message does. */
	if (cfg->mailauth.spf)
		spf_format_received_spf(&ma->spf_out, &v->fields);
	struct buf spf_ar = BUF_INIT, dkim_ar = BUF_INIT, arc_ar = BUF_INIT;
	char dmarc_ar[600] = "";
	const char *res[4];
	size_t nres = 0;
	if (cfg->mailauth.spf) {
		spf_format_auth_results(&ma->spf_out, &spf_ar);
		res[nres++] = buf_cstr(&spf_ar);
	}
	if (ma->dkim) {
		dkim_format_results(dv, nd, &dkim_ar);
		res[nres++] = buf_cstr(&dkim_ar);
	}
	if (dm) {
		dmarc_authres(dm, dmarc_ar, sizeof dmarc_ar);
		res[nres++] = dmarc_ar;
	}
	if (av) {
		arc_format_result(av, s->c ? s->c->peer_ip : NULL, &arc_ar);
		res[nres++] = buf_cstr(&arc_ar);
	}
	authres_format(&v->fields, smtp_authserv_id(s), res, nres);
	if (dm != NULL && dm->have_record)
		smtp_dmarcrpt_note(smtp_store(s), cfg, s->c ? s->c->peer_ip : NULL, dm, &ma->spf_out, dv, nd);
	decide_policy(s, dm, dkim_temp);
	if (!v->code)
		arc_seal_forwarded(s, res, nres);
	buf_free(&spf_ar);
	buf_free(&dkim_ar);
	buf_free(&arc_ar);
}

/* Refuse, ask again later, file as junk, or accept (the verdict's code stays 0). */
static void decide_policy(struct smtp_session *s, const struct dmarc_result *dm, bool dkim_temp)
{
	struct smtp_mailauth *ma = s->ma;
	const struct config *cfg = cfg_of(s);
	struct smtp_mailauth_verdict *v = &ma->verdict;
	enum spf_result spf = ma->spf_out.result;

	if (spf == SPF_TEMPERROR) {
		v->code = 451;
		snprintf(v->enhanced, sizeof v->enhanced, "4.7.24");
		snprintf(v->text, sizeof v->text, "Temporary SPF failure for %.200s, try again later",
			 ma->spf_out.domain);
		v->reason = "spf temperror";
		return;
	}
	if (spf == SPF_FAIL && cfg->mailauth.spf_fail_reject) {
		char text[600];
		/* The domain's own explanation (exp=) tells its users why (RFC 7208 §6.2). */
		snprintf(text, sizeof text, "SPF: %.46s is not allowed to send mail for %.150s%s%.300s",
			 s->c ? s->c->peer_ip : "this host", ma->spf_out.domain,
			 ma->spf_out.explanation[0] ? ": " : "", ma->spf_out.explanation);
		refuse_or_junk(s, 550, "5.7.23", text, "spf fail");
		return;
	}
	if (!dm)
		return;
	if (dm->status == DMARC_TEMPERROR) {
		v->code = 451;
		snprintf(v->enhanced, sizeof v->enhanced, "4.4.3");
		snprintf(v->text, sizeof v->text, "Temporary DNS failure looking up the DMARC policy of %.200s",
			 dm->from_domain);
		v->reason = "dmarc temperror";
		return;
	}
	if (dm->status != DMARC_FAIL || dm->disposition == DMARC_POLICY_NONE)
		return;
	if (dkim_temp) {
		/* A signature we could not check now may be the aligned pass: ask again later. */
		v->code = 451;
		snprintf(v->enhanced, sizeof v->enhanced, "4.7.5");
		snprintf(v->text, sizeof v->text, "Temporary failure verifying the DKIM signature, try again later");
		v->reason = "dkim temperror";
		return;
	}
	if (dm->disposition == DMARC_POLICY_QUARANTINE) {
		v->junk = true;
		v->reason = "dmarc quarantine";
		return;
	}
	char text[400];
	snprintf(text, sizeof text, "Unauthenticated mail from %.200s is refused by the DMARC policy of its domain",
		 dm->from_domain);
	refuse_or_junk(s, 550, "5.7.26", text, "dmarc reject");
}

static void on_dmarc(const struct dmarc_result *r, void *arg)
{
	struct smtp_session *s = arg;
	s->ma->dmarc = NULL;
	decide(s, r);
	finish(s);
}

static void start_dmarc(struct smtp_session *s)
{
	struct smtp_mailauth *ma = s->ma;
	char from[256];
	if (!cfg_of(s)->mailauth.dmarc || !ma->dkim) {
		decide(s, NULL);
		finish(s);
		return;
	}
	if (!dkim_verify_from_domain(ma->dkim, from, sizeof from)) {
		/* RFC 7489 §6.6.1: without exactly one From domain there is nothing to align with. */
		struct dmarc_result r;
		struct dmarc_input in = { .from_domain = "", .pct_roll = -1 };
		dmarc_evaluate(&in, NULL, NULL, &r);
		r.status = DMARC_PERMERROR;
		decide(s, &r);
		finish(s);
		return;
	}
	size_t nd = 0;
	const struct dkim_verdict *dv = dkim_verify_results(ma->dkim, &nd);
	struct dmarc_dkim_pass pass[MAILAUTH_DKIM_MAX];
	size_t np = 0;
	for (size_t i = 0; i < nd && np < MAILAUTH_DKIM_MAX; i++)
		if (dv[i].result == DKIM_RESULT_PASS && !dv[i].testing)
			pass[np++].domain = dv[i].domain;
	struct dmarc_input in = {
		.from_domain = from,
		.spf_pass = ma->spf_out.result == SPF_PASS,
		.spf_domain = ma->spf_out.domain,
		.dkim = pass,
		.ndkim = np,
		.pct_roll = -1,
	};
	ma->dmarc = dmarc_check_start(loop_base(s->loop), &ma->dns, &in, on_dmarc, s);
	if (!ma->dmarc) {
		struct dmarc_result r;
		dmarc_evaluate(&in, NULL, NULL, &r);
		r.status = DMARC_TEMPERROR;
		decide(s, &r);
		finish(s);
	}
}

static void maybe_decide(struct smtp_session *s)
{
	struct smtp_mailauth *ma = s->ma;
	if (ma->spf_done && ma->dkim_done && ma->arc_done && !ma->dmarc)
		start_dmarc(s);
}

static void on_dkim(void *arg, const struct dkim_verdict *v, size_t n)
{
	struct smtp_session *s = arg;
	s->ma->dkim_done = true;
	maybe_decide(s);
}

static void on_arc(void *arg, const struct arc_verdict *v)
{
	struct smtp_session *s = arg;
	s->ma->arc_done = true;
	maybe_decide(s);
}

void smtp_mailauth_end(struct smtp_session *s, smtp_mailauth_done_fn done)
{
	struct smtp_mailauth *ma = s->ma;
	if (!ma) {
		static const struct smtp_mailauth_verdict accept = { 0 };
		done(s, &accept);
		return;
	}
	buf_reset(&ma->verdict.fields);
	buf_reset(&ma->verdict.top);
	ma->verdict.code = 0;
	ma->verdict.junk = false;
	ma->verdict.reason = NULL;
	ma->done = done;
	ma->waiting = true;
	s->busy = BUSY_MAILAUTH;
	ending = s;
	ma->dkim_done = !ma->dkim || dkim_verify_finish(ma->dkim, on_dkim, s);
	ma->arc_done = !ma->arc || arc_verify_finish(ma->arc, on_arc, s);
	maybe_decide(s);    /* may finish, and free ma */
	ending = NULL;
}

bool smtp_mailauth_drop_authres(const char *name, size_t nlen, const char *value, size_t vlen, void *ctx)
{
	struct smtp_session *s = ctx;
	while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
		nlen--;
	if (nlen != 22 || strncasecmp(name, "Authentication-Results", 22) != 0)
		return false;
	bool ours = authres_is_ours(value, vlen, smtp_authserv_id(s));
	if (ours)
		log_info("smtp", "session=%s msg=\"removed an Authentication-Results field claiming to be ours\" id=%s",
			 s->c ? s->c->id : "-", s->msgid);
	return ours;
}
