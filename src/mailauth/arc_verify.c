/*
 * arc_verify.c — ARC chain validation (RFC 8617 §5.2) of a message fed as
 * it streams in.
 *
 * At the end of the header section the ARC sets are collected and their
 * structure checked (arc_set.c); a chain that cannot be one fails there
 * without a lookup.  Otherwise the newest ARC-Message-Signature gets a
 * body canonicaliser, which the rest of the message goes through, as a
 * DKIM signature's would.  At end of message its body hash is compared,
 * the header hashes of that AMS and of every ARC-Seal are computed, and
 * one TXT lookup per distinct key (most chains reuse a few) is started;
 * the last answer gives the verdict: pass when the newest AMS and all the
 * seals verify, fail naming the first that does not.  Older AMSes are not
 * checked: the body may have changed since (that is what ARC is for), and
 * the oldest-pass refinement is not done.
 *
 * When sealing may follow, the message also goes through a DKIM signer
 * (relaxed/relaxed), whose header collector and body hash arc_seal.c uses.
 */
#include "mailauth/arc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

const char *arc_result_name(enum arc_result r)
{
	switch (r) {
	case ARC_RESULT_NONE: return "none";
	case ARC_RESULT_PASS: return "pass";
	case ARC_RESULT_FAIL: return "fail";
	}
	return "none";
}

struct arc_verify *arc_verify_new(const struct mailauth_dns *dns, int64_t now, bool seal)
{
	struct arc_verify *v = xcalloc(1, sizeof *v);
	v->dns = *dns;
	v->now = now;
	if (seal)
		v->sign = dkim_sign_new();
	return v;
}

static void conclude(struct arc_verify *v, enum arc_result r, const char *why)
{
	v->final = true;
	v->verdict.result = r;
	snprintf(v->verdict.why, sizeof v->verdict.why, "%s", why ? why : "");
}

static void start(struct arc_verify *v)
{
	v->started = true;
	dkim_headers_split(&v->hdr);
	const char *why;
	bool ok = arc_sets_collect(&v->hdr, &v->sets, &why);
	v->verdict.instances = v->sets.n;
	memcpy(v->verdict.domain, v->sets.newest_d, sizeof v->verdict.domain);
	if (v->sets.n == 0) {
		conclude(v, ARC_RESULT_NONE, NULL);     /* as DKIM: nothing found in what was kept is none */
		return;
	}
	if (!ok) {
		conclude(v, ARC_RESULT_FAIL, why);
		return;
	}
	if (v->hdr.overflow) {
		conclude(v, ARC_RESULT_FAIL, "header section too big");
		return;
	}
	size_t len;
	const char *f = arc_sets_get(&v->hdr, &v->sets, v->sets.n, ARC_AMS, &len);
	const char *colon = memchr(f, ':', len);
	size_t voff = (size_t)(colon - f) + 1;
	if (!dkim_sig_parse_arc(f + voff, len - voff, DKIM_SIG_AMS, &v->ams, &why)) {
		conclude(v, ARC_RESULT_FAIL, "malformed ARC-Message-Signature");
		return;
	}
	v->ams.b_raw_start += voff;
	v->ams.b_raw_end += voff;
	if (!dkim_body_init(&v->body, v->ams.bcanon, v->ams.has_l ? v->ams.l : UINT64_MAX)) {
		conclude(v, ARC_RESULT_FAIL, "out of memory");
		return;
	}
	v->body_on = true;
}

void arc_verify_feed(struct arc_verify *v, const char *data, size_t len)
{
	if (v->sign)
		dkim_sign_feed(v->sign, data, len);
	if (!v->started) {
		if (!dkim_headers_take(&v->hdr, &data, &len))
			return;
		start(v);
	}
	if (v->body_on && len)
		dkim_body_feed(&v->body, data, len);
}

/* The key slot for s._domainkey.d, shared by the signatures naming the same one. */
static bool key_slot(struct arc_verify *v, const struct dkim_sig *sig, size_t *slot)
{
	char name[256];
	int n = snprintf(name, sizeof name, "%s._domainkey.%s", sig->s, sig->d);
	if (n < 0 || n >= 254)
		return false;
	for (size_t k = 0; k < v->nkeys; k++)
		if (strcmp(v->keys[k].name, name) == 0) {
			*slot = k;
			return true;
		}
	if (v->nkeys == ARC_MAX_KEYS)
		return false;
	struct arc_key *k = &v->keys[v->nkeys];
	k->v = v;
	memcpy(k->name, name, (size_t)n + 1);
	*slot = v->nkeys++;
	return true;
}

/* Which signature fails first, newest AMS then the seals newest first: that is the verdict. */
static void judge(struct arc_verify *v)
{
	const char *why;
	const struct arc_key *k = &v->keys[v->ams_key];
	enum dkim_result r = k->status == DKIM_RESULT_PASS ? dkim_check_key(&v->ams, &k->rec, v->ams_hash, &why)
							   : k->status;
	if (r != DKIM_RESULT_PASS) {
		char text[96];
		snprintf(text, sizeof text, "ARC-Message-Signature i=%u: %s", v->sets.n,
			 k->status == DKIM_RESULT_PASS ? why : k->why);
		conclude(v, ARC_RESULT_FAIL, text);
		return;
	}
	for (unsigned i = v->sets.n; i >= 1; i--) {
		k = &v->keys[v->seal_key[i - 1]];
		r = k->status == DKIM_RESULT_PASS ? dkim_check_key(&v->seals[i - 1], &k->rec, v->seal_hash[i - 1], &why)
						  : k->status;
		if (r != DKIM_RESULT_PASS) {
			char text[96];
			snprintf(text, sizeof text, "ARC-Seal i=%u: %s", i, k->status == DKIM_RESULT_PASS ? why : k->why);
			conclude(v, ARC_RESULT_FAIL, text);
			return;
		}
	}
	conclude(v, ARC_RESULT_PASS, NULL);
}

static void on_key(const struct dns_result *r, void *arg)
{
	struct arc_key *k = arg;
	struct arc_verify *v = k->v;
	k->q = NULL;
	k->status = dkim_key_from_answer(r, &k->rec, &k->why);
	if (--v->pending == 0) {
		judge(v);
		v->cb(v->arg, &v->verdict);     /* may free v: nothing after this */
	}
}

/* Parse seal i and compute what it signs: sets 1..i, in order. */
static bool prepare_seal(struct arc_verify *v, unsigned i, struct arc_field *fields)
{
	struct dkim_sig *sig = &v->seals[i - 1];
	size_t n = 0, len;
	for (unsigned k = 1; k <= i; k++)
		for (enum arc_member m = ARC_AAR; m <= ARC_AS; m++) {
			fields[n].p = arc_sets_get(&v->hdr, &v->sets, k, m, &len);
			fields[n++].len = len;
		}
	const struct arc_field *self = &fields[n - 1];
	const char *colon = memchr(self->p, ':', self->len);
	size_t voff = (size_t)(colon - self->p) + 1;
	const char *why;
	if (!dkim_sig_parse_arc(self->p + voff, self->len - voff, DKIM_SIG_AS, sig, &why))
		return false;   /* arc_sets_collect() parsed it already: cannot happen */
	arc_seal_hash(fields, n, sig->b_raw_start + voff, sig->b_raw_end + voff, v->seal_hash[i - 1]);
	return true;
}

bool arc_verify_finish(struct arc_verify *v, arc_verify_cb cb, void *arg)
{
	if (!v->started)
		start(v);
	v->cb = cb;
	v->arg = arg;
	if (v->body_on) {
		uint8_t bh[64];
		size_t bhlen;
		uint64_t hashed = v->body.hashed;
		dkim_body_final(&v->body, bh, &bhlen);
		v->body_on = false;
		if (v->ams.alg == DKIM_ALG_RSA_SHA1)
			conclude(v, ARC_RESULT_FAIL, "rsa-sha1 is not accepted (RFC 8301)");
		else if (v->ams.has_x && v->ams.x < v->now)
			conclude(v, ARC_RESULT_FAIL, "ARC-Message-Signature expired");
		else if (v->ams.has_l && hashed < v->ams.l)
			conclude(v, ARC_RESULT_FAIL, "l= longer than the body");
		else if (bhlen != v->ams.bhlen || memcmp(bh, v->ams.bh, bhlen) != 0)
			conclude(v, ARC_RESULT_FAIL, "ARC-Message-Signature body hash did not verify");
	}
	if (v->final)
		return true;

	size_t len;
	const char *f = arc_sets_get(&v->hdr, &v->sets, v->sets.n, ARC_AMS, &len);
	dkim_header_hash(&v->hdr, v->ams.hcanon, v->ams.h, v->ams.nh, f, len, v->ams.b_raw_start, v->ams.b_raw_end,
			 v->ams_hash);
	unsigned n = v->sets.n;
	v->seals = xcalloc(n, sizeof *v->seals);
	v->seal_hash = xcalloc(n, sizeof *v->seal_hash);
	v->seal_key = xcalloc(n, sizeof *v->seal_key);
	struct arc_field *fields = xcalloc(3 * (size_t)n, sizeof *fields);
	v->keys = xcalloc(ARC_MAX_KEYS, sizeof *v->keys);
	bool ok = key_slot(v, &v->ams, &v->ams_key);
	for (unsigned i = 1; i <= n && ok; i++) {
		ok = prepare_seal(v, i, fields) && key_slot(v, &v->seals[i - 1], &v->seal_key[i - 1]);
		if (ok && v->seals[i - 1].alg == DKIM_ALG_RSA_SHA1) {
			conclude(v, ARC_RESULT_FAIL, "rsa-sha1 is not accepted (RFC 8301)");
			free(fields);
			return true;
		}
	}
	free(fields);
	if (!ok) {
		conclude(v, ARC_RESULT_FAIL, "bad key name");
		return true;
	}
	/* Count first: an answer must not find pending at 0 while lookups are still being started. */
	v->pending = v->nkeys + 1;
	for (size_t k = 0; k < v->nkeys; k++) {
		struct arc_key *key = &v->keys[k];
		key->q = v->dns.lookup(v->dns.ctx, key->name, DNS_TXT, on_key, key);
		if (!key->q) {
			key->status = DKIM_RESULT_TEMPERROR;
			key->why = "key lookup failed";
			v->pending--;
		}
	}
	if (--v->pending == 0) {
		judge(v);
		return true;
	}
	return false;
}

const struct arc_verdict *arc_verify_result(const struct arc_verify *v)
{
	return &v->verdict;
}

void arc_verify_free(struct arc_verify **pv)
{
	struct arc_verify *v = *pv;
	if (!v)
		return;
	for (size_t k = 0; k < v->nkeys; k++)
		if (v->keys[k].q)
			v->dns.cancel(v->dns.ctx, v->keys[k].q);
	if (v->body_on)
		dkim_body_free(&v->body);
	dkim_headers_free(&v->hdr);
	dkim_sign_free(&v->sign);
	free(v->seals);
	free(v->seal_hash);
	free(v->seal_key);
	free(v->keys);
	free(v);
	*pv = NULL;
}

void arc_format_result(const struct arc_verdict *v, const char *remote_ip, struct buf *out)
{
	buf_printf(out, "arc=%s", arc_result_name(v->result));
	if (v->result == ARC_RESULT_PASS)
		buf_printf(out, " (i=%u)", v->instances);
	else if (v->result == ARC_RESULT_FAIL && v->why[0]) {
		/* A comment: no parentheses or backslashes of its own. */
		buf_puts(out, " (");
		for (const char *p = v->why; *p; p++)
			buf_putc(out, (*p == '(' || *p == ')' || *p == '\\') ? ' ' : *p);
		buf_putc(out, ')');
	}
	if (remote_ip && remote_ip[0])
		buf_printf(out, " smtp.remote-ip=%s", remote_ip);
}
