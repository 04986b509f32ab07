/*
 * test_dmarc.c — src/mailauth/dmarc*.c and authres.c: the record parser
 * on good and hostile records, organisational domains from the Public
 * Suffix List, alignment, p/sp/pct, and policy discovery through an
 * in-process zone table behind struct mailauth_dns (answers from the loop,
 * never from inside lookup(), as the real resolver does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mailauth/authres.h"
#include "mailauth/dmarc.h"

/* ---- the record ------------------------------------------------------------ */

static enum dmarc_parse parse(const char *txt, struct dmarc_record *rec)
{
	return dmarc_record_parse(txt, strlen(txt), rec);
}

static void test_record_full(void **state)
{
	(void)state;
	struct dmarc_record r;
	assert_int_equal(parse("v=DMARC1; p=reject; sp=quarantine; pct=25; adkim=s; aspf=r; ri=3600; fo=1:d; "
			       "rua=mailto:agg@example.org!10m, mailto:other@example.net; ruf=mailto:f@example.org",
			       &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.sp, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.pct, 25);
	assert_true(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.ri, 3600);
	assert_string_equal(r.fo, "1:d");
	assert_int_equal(r.nrua, 2);
	assert_string_equal(r.rua[0], "mailto:agg@example.org");
	assert_string_equal(r.rua[1], "mailto:other@example.net");
	assert_int_equal(r.nruf, 1);
}

static void test_record_defaults_and_case(void **state)
{
	(void)state;
	struct dmarc_record r;
	assert_int_equal(parse("v=DMARC1;p=None", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.sp, DMARC_POLICY_UNSET);
	assert_int_equal(r.pct, 100);
	assert_false(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.fo, "0");
	/* folding white space around tags and values, a trailing ';' */
	assert_int_equal(parse("  v = DMARC1 ;\r\n\tP = QUARANTINE ; ", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
	/* bad optional values fall back to their defaults, the policy stands */
	assert_int_equal(parse("v=DMARC1; p=reject; pct=150; adkim=x; ri=-1; fo=zz", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.pct, 100);
	assert_false(r.adkim_strict);
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.fo, "0");
	/* the first occurrence of a tag counts; unknown tags and junk are skipped */
	assert_int_equal(parse("v=DMARC1; p=reject; p=none; x-new=1; junk; pct=0", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.pct, 0);
}

static void test_record_not_dmarc(void **state)
{
	(void)state;
	struct dmarc_record r;
	assert_int_equal(parse("", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse("v=spf1 -all", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse("p=reject; v=DMARC1", &r), DMARC_RECORD_NOT_DMARC);   /* v= must be first */
	assert_int_equal(parse("v=dmarc1; p=reject", &r), DMARC_RECORD_NOT_DMARC);   /* "match precisely" */
	assert_int_equal(parse("v=DMARC10; p=reject", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse(";v=DMARC1; p=reject", &r), DMARC_RECORD_NOT_DMARC);
}

static void test_record_without_policy(void **state)
{
	(void)state;
	struct dmarc_record r;
	assert_int_equal(parse("v=DMARC1", &r), DMARC_RECORD_INVALID);
	assert_int_equal(parse("v=DMARC1; p=bounce", &r), DMARC_RECORD_INVALID);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=bogus", &r), DMARC_RECORD_INVALID);
	/* with a valid rua, as if p=none (RFC 7489 §6.6.3) */
	assert_int_equal(parse("v=DMARC1; p=bounce; rua=mailto:a@example.org", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(parse("v=DMARC1; rua=mailto:a@example.org", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	/* an invalid URI is no reporting address */
	assert_int_equal(parse("v=DMARC1; rua=not a uri", &r), DMARC_RECORD_INVALID);
}

static void test_record_hostile(void **state)
{
	(void)state;
	struct dmarc_record r;
	/* far more URIs than kept, each far longer than kept */
	struct buf b = BUF_INIT;
	buf_puts(&b, "v=DMARC1; p=reject; rua=");
	for (int i = 0; i < 50; i++) {
		buf_puts(&b, i ? ",mailto:" : "mailto:");
		for (int k = 0; k < (i % 2 ? 400 : 10); k++)
			buf_putc(&b, 'a');
		buf_puts(&b, "@example.org");
	}
	assert_int_equal(dmarc_record_parse(b.data, b.len, &r), DMARC_RECORD_OK);
	assert_int_equal(r.nrua, DMARC_URIS_MAX);
	for (size_t i = 0; i < r.nrua; i++)
		assert_true(strlen(r.rua[i]) < DMARC_URI_MAX);
	buf_free(&b);
	/* a NUL is an octet like any other, not the end ("reject\0" is no policy), and no terminator is needed */
	static const char nul[] = "v=DMARC1; p=reject\0; p=none";
	assert_int_equal(dmarc_record_parse(nul, sizeof nul - 1, &r), DMARC_RECORD_INVALID);
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=rejectXXXX", 18, &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
}

/* ---- organisational domains and the verdict ---------------------------------- */

static void org(const char *domain, const char *want)
{
	char out[256];
	assert_true(dmarc_org_domain(domain, out, sizeof out));
	assert_string_equal(out, want);
}

static void test_org_domain(void **state)
{
	(void)state;
	org("example.com", "example.com");
	org("mail.example.com", "example.com");
	org("a.b.c.example.co.uk", "example.co.uk");
	org("co.uk", "co.uk");
	org("example.test", "example.test");
	org("deep.sub.example.test", "example.test");
	char tiny[4];
	assert_false(dmarc_org_domain("example.com", tiny, sizeof tiny));
}

static struct dmarc_record record(const char *txt)
{
	struct dmarc_record r;
	assert_int_equal(parse(txt, &r), DMARC_RECORD_OK);
	return r;
}

static void test_alignment(void **state)
{
	(void)state;
	struct dmarc_record relaxed = record("v=DMARC1; p=reject");
	struct dmarc_record strict = record("v=DMARC1; p=reject; adkim=s; aspf=s");
	struct dmarc_dkim_pass sub = { "mail.example.com" }, other = { "example.net" };
	struct dmarc_result r;

	/* SPF for a subdomain of the From domain: aligned when relaxed, not when strict */
	struct dmarc_input in = { .from_domain = "example.com", .spf_pass = true, .spf_domain = "bounce.example.com",
				  .pct_roll = 0 };
	dmarc_evaluate(&in, &relaxed, "example.com", &r);
	assert_int_equal(r.status, DMARC_PASS);
	assert_true(r.spf_aligned);
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	dmarc_evaluate(&in, &strict, "example.com", &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.disposition, DMARC_POLICY_REJECT);

	/* an SPF pass that is not a pass does not align */
	in.spf_pass = false;
	in.spf_domain = "example.com";
	dmarc_evaluate(&in, &relaxed, "example.com", &r);
	assert_int_equal(r.status, DMARC_FAIL);

	/* DKIM: any one aligned signature is enough */
	in.dkim = (struct dmarc_dkim_pass[]){ other, sub };
	in.ndkim = 2;
	dmarc_evaluate(&in, &relaxed, "example.com", &r);
	assert_int_equal(r.status, DMARC_PASS);
	assert_true(r.dkim_aligned);
	assert_false(r.spf_aligned);
	dmarc_evaluate(&in, &strict, "example.com", &r);
	assert_int_equal(r.status, DMARC_FAIL);
	in.ndkim = 1;       /* only the unrelated domain */
	dmarc_evaluate(&in, &relaxed, "example.com", &r);
	assert_int_equal(r.status, DMARC_FAIL);

	/* relaxed alignment is by organisational domain, not by suffix */
	struct dmarc_dkim_pass cousin = { "other.co.uk" };
	struct dmarc_input uk = { .from_domain = "example.co.uk", .dkim = &cousin, .ndkim = 1, .pct_roll = 0 };
	dmarc_evaluate(&uk, &relaxed, "example.co.uk", &r);
	assert_int_equal(r.status, DMARC_FAIL);
}

static void test_subdomain_policy_and_pct(void **state)
{
	(void)state;
	struct dmarc_record rec = record("v=DMARC1; p=reject; sp=quarantine");
	struct dmarc_input in = { .from_domain = "news.example.com", .pct_roll = 0 };
	struct dmarc_result r;
	/* found at the organisational domain for a subdomain: sp */
	dmarc_evaluate(&in, &rec, "example.com", &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.policy, DMARC_POLICY_QUARANTINE);
	/* found at the From domain itself: p */
	dmarc_evaluate(&in, &rec, "news.example.com", &r);
	assert_int_equal(r.policy, DMARC_POLICY_REJECT);
	/* no sp: p for subdomains too */
	struct dmarc_record nosp = record("v=DMARC1; p=reject");
	dmarc_evaluate(&in, &nosp, "example.com", &r);
	assert_int_equal(r.policy, DMARC_POLICY_REJECT);

	/* pct=30: rolls 0..29 get the policy, the rest one step milder */
	struct dmarc_record some = record("v=DMARC1; p=reject; pct=30");
	struct dmarc_input top = { .from_domain = "example.com", .pct_roll = 29 };
	dmarc_evaluate(&top, &some, "example.com", &r);
	assert_int_equal(r.disposition, DMARC_POLICY_REJECT);
	assert_false(r.sampled_out);
	top.pct_roll = 30;
	dmarc_evaluate(&top, &some, "example.com", &r);
	assert_int_equal(r.disposition, DMARC_POLICY_QUARANTINE);
	assert_true(r.sampled_out);
	struct dmarc_record q0 = record("v=DMARC1; p=quarantine; pct=0");
	dmarc_evaluate(&top, &q0, "example.com", &r);
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	/* random rolls stay within the two outcomes, and both happen */
	top.pct_roll = -1;
	int strict_n = 0, mild_n = 0;
	for (int i = 0; i < 400; i++) {
		dmarc_evaluate(&top, &some, "example.com", &r);
		if (r.disposition == DMARC_POLICY_REJECT)
			strict_n++;
		else if (r.disposition == DMARC_POLICY_QUARANTINE)
			mild_n++;
	}
	assert_int_equal(strict_n + mild_n, 400);
	assert_true(strict_n > 60 && strict_n < 180);   /* 120 expected */
}

/* ---- discovery through a zone table ------------------------------------------ */

struct rr {
	const char *name;
	enum dns_status status;
	const char *txt[3];
};

struct zone {
	struct event_base *base;
	const struct rr *rrs;
	size_t nrrs;
	unsigned lookups;
	char asked[8][300];
};

struct pending {
	struct zone *z;
	const struct rr *rr;
	dns_cb cb;
	void *arg;
	struct event *ev;
};

static void answer(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct dns_txt txt[3];
	struct dns_result r = { .type = DNS_TXT, .status = p->rr ? p->rr->status : DNS_NXDOMAIN, .why = "test" };
	if (p->rr && p->rr->status == DNS_OK) {
		for (size_t i = 0; i < 3 && p->rr->txt[i]; i++) {
			txt[i].data = (char *)p->rr->txt[i];
			txt[i].len = strlen(p->rr->txt[i]);
			r.n++;
		}
		r.txt = txt;
		if (r.n == 0)
			r.status = DNS_NODATA;
	}
	event_free(p->ev);
	dns_cb cb = p->cb;
	void *cbarg = p->arg;
	free(p);
	cb(&r, cbarg);
}

static struct dns_query *zone_lookup(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg)
{
	struct zone *z = ctx;
	assert_int_equal(type, DNS_TXT);
	if (z->lookups < 8)
		snprintf(z->asked[z->lookups], sizeof z->asked[0], "%s", name);
	z->lookups++;
	struct pending *p = calloc(1, sizeof *p);
	p->z = z;
	p->cb = cb;
	p->arg = arg;
	for (size_t i = 0; i < z->nrrs; i++)
		if (strcmp(z->rrs[i].name, name) == 0)
			p->rr = &z->rrs[i];
	p->ev = evtimer_new(z->base, answer, p);
	static const struct timeval now = { 0, 0 };
	evtimer_add(p->ev, &now);
	return (struct dns_query *)p;
}

static void zone_cancel(void *ctx, struct dns_query *q)
{
	struct pending *p = (struct pending *)q;
	event_free(p->ev);
	free(p);
}

struct outcome {
	bool called;
	bool inside;        /* called before dmarc_check_start returned */
	struct dmarc_result r;
};

static bool starting;

static void on_done(const struct dmarc_result *r, void *arg)
{
	struct outcome *o = arg;
	o->called = true;
	o->inside = starting;
	o->r = *r;
}

static struct outcome discover(struct zone *z, const struct dmarc_input *in)
{
	struct mailauth_dns dns = { .lookup = zone_lookup, .cancel = zone_cancel, .ctx = z };
	struct outcome o = { 0 };
	starting = true;
	struct dmarc_check *c = dmarc_check_start(z->base, &dns, in, on_done, &o);
	starting = false;
	assert_non_null(c);
	assert_false(o.called);
	event_base_dispatch(z->base);
	assert_true(o.called);
	assert_false(o.inside);
	return o;
}

static const struct rr zone_rrs[] = {
	{ "_dmarc.example.com", DNS_OK, { "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com" } },
	{ "_dmarc.own.example.com", DNS_OK, { "some other text", "v=DMARC1; p=none" } },
	{ "_dmarc.two.example.org", DNS_OK, { "v=DMARC1; p=reject", "v=DMARC1; p=none" } },
	{ "_dmarc.example.org", DNS_OK, { "v=DMARC1; p=reject" } },
	{ "_dmarc.slow.example.net", DNS_TEMPFAIL, { NULL } },
	{ "_dmarc.example.net", DNS_OK, { "v=DMARC1; p=reject" } },
	{ "_dmarc.nopolicy.example", DNS_OK, { "v=DMARC1; p=maybe" } },
	{ "_dmarc.example", DNS_OK, { "v=DMARC1; p=reject" } },
};

static struct zone make_zone(void **state)
{
	struct zone z = { .base = *state, .rrs = zone_rrs, .nrrs = sizeof zone_rrs / sizeof zone_rrs[0] };
	return z;
}

static void test_discovery(void **state)
{
	struct zone z = make_zone(state);
	/* at the From domain itself, on the first lookup */
	struct dmarc_input in = { .from_domain = "Example.COM", .pct_roll = 0 };
	struct outcome o = discover(&z, &in);
	assert_int_equal(z.lookups, 1);
	assert_string_equal(z.asked[0], "_dmarc.example.com");
	assert_int_equal(o.r.status, DMARC_FAIL);
	assert_int_equal(o.r.policy, DMARC_POLICY_REJECT);
	assert_string_equal(o.r.record_domain, "example.com");
	assert_int_equal(o.r.rec.nrua, 1);

	/* a subdomain without its own record: the organisational domain's sp */
	z = make_zone(state);
	in.from_domain = "deep.news.example.com";
	o = discover(&z, &in);
	assert_int_equal(z.lookups, 2);
	assert_string_equal(z.asked[0], "_dmarc.deep.news.example.com");
	assert_string_equal(z.asked[1], "_dmarc.example.com");
	assert_int_equal(o.r.policy, DMARC_POLICY_QUARANTINE);
	assert_string_equal(o.r.record_domain, "example.com");

	/* a subdomain with its own record (among other TXT): that one, with no second lookup */
	z = make_zone(state);
	in.from_domain = "own.example.com";
	o = discover(&z, &in);
	assert_int_equal(z.lookups, 1);
	assert_int_equal(o.r.status, DMARC_FAIL);
	assert_int_equal(o.r.policy, DMARC_POLICY_NONE);

	/* two DMARC records: no DMARC processing, and no fallback either */
	z = make_zone(state);
	in.from_domain = "two.example.org";
	o = discover(&z, &in);
	assert_int_equal(z.lookups, 1);
	assert_int_equal(o.r.status, DMARC_NONE);

	/* a temporary failure is temperror, never a pass nor the parent's policy */
	z = make_zone(state);
	in.from_domain = "slow.example.net";
	o = discover(&z, &in);
	assert_int_equal(z.lookups, 1);
	assert_int_equal(o.r.status, DMARC_TEMPERROR);

	/* nothing anywhere */
	z = make_zone(state);
	in.from_domain = "nowhere.example.info";
	o = discover(&z, &in);
	assert_int_equal(z.lookups, 2);
	assert_int_equal(o.r.status, DMARC_NONE);
	assert_false(o.r.have_record);

	/* a record without a usable policy: none */
	z = make_zone(state);
	in.from_domain = "nopolicy.example";
	o = discover(&z, &in);
	assert_int_equal(o.r.status, DMARC_NONE);

	/* aligned DKIM passes */
	z = make_zone(state);
	struct dmarc_dkim_pass d = { "Example.org" };
	struct dmarc_input signed_in = { .from_domain = "example.org", .dkim = &d, .ndkim = 1, .pct_roll = 0 };
	o = discover(&z, &signed_in);
	assert_int_equal(o.r.status, DMARC_PASS);
	assert_true(o.r.dkim_aligned);
}

static void test_bad_from_domain(void **state)
{
	struct zone z = make_zone(state);
	static const char *const bad[] = { "", "localhost", "exa mple.com", "a..b.com", "-" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct dmarc_input in = { .from_domain = bad[i], .pct_roll = 0 };
		struct outcome o = discover(&z, &in);
		assert_int_equal(o.r.status, DMARC_PERMERROR);
	}
	assert_int_equal(z.lookups, 0);
}

static void test_cancel(void **state)
{
	struct zone z = make_zone(state);
	struct mailauth_dns dns = { .lookup = zone_lookup, .cancel = zone_cancel, .ctx = &z };
	struct outcome o = { 0 };
	struct dmarc_input in = { .from_domain = "example.com", .pct_roll = 0 };
	dmarc_check_cancel(dmarc_check_start(z.base, &dns, &in, on_done, &o));
	struct dmarc_input bad = { .from_domain = "", .pct_roll = 0 };
	dmarc_check_cancel(dmarc_check_start(z.base, &dns, &bad, on_done, &o));
	event_base_dispatch(z.base);
	assert_false(o.called);
}

/* ---- Authentication-Results ---------------------------------------------------- */

static void test_authres(void **state)
{
	(void)state;
	struct dmarc_result r;
	struct dmarc_record rec = record("v=DMARC1; p=reject; pct=0");
	struct dmarc_input in = { .from_domain = "example.com", .pct_roll = 50 };
	dmarc_evaluate(&in, &rec, "example.com", &r);
	char s[256];
	dmarc_authres(&r, s, sizeof s);
	assert_string_equal(s, "dmarc=fail (p=reject dis=quarantine) header.from=example.com");
	dmarc_evaluate(&in, NULL, NULL, &r);
	dmarc_authres(&r, s, sizeof s);
	assert_string_equal(s, "dmarc=none header.from=example.com");

	struct buf b = BUF_INIT;
	const char *const res[] = { "spf=pass smtp.mailfrom=example.com", s };
	authres_format(&b, "mx.example.org", res, 2);
	assert_string_equal(b.data, "Authentication-Results: mx.example.org;\r\n"
				    "\tspf=pass smtp.mailfrom=example.com;\r\n"
				    "\tdmarc=none header.from=example.com\r\n");
	buf_reset(&b);
	authres_format(&b, "mx.example.org", NULL, 0);
	assert_string_equal(b.data, "Authentication-Results: mx.example.org; none\r\n");
	buf_free(&b);

	const char *id = "mx.example.org";
	assert_true(authres_is_ours(" mx.example.org; spf=pass", 25, id));
	assert_true(authres_is_ours("MX.Example.ORG;dkim=pass", 24, id));
	assert_true(authres_is_ours(" (comment (nested) \\) here)\r\n\tmx.example.org 1; none", 52, id));
	assert_true(authres_is_ours(" \"mx.example.org\"; none", 23, id));
	assert_false(authres_is_ours(" mx.example.org.evil; none", 26, id));
	assert_false(authres_is_ours(" evil.mx.example.org; none", 26, id));
	assert_false(authres_is_ours(" mx.example.or", 14, id));
	assert_false(authres_is_ours("", 0, id));
	assert_false(authres_is_ours(" (unterminated comment mx.example.org", 37, id));
}

static int setup(void **state)
{
	*state = event_base_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	event_base_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_full),
		cmocka_unit_test(test_record_defaults_and_case),
		cmocka_unit_test(test_record_not_dmarc),
		cmocka_unit_test(test_record_without_policy),
		cmocka_unit_test(test_record_hostile),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_subdomain_policy_and_pct),
		cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_from_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test(test_authres),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
