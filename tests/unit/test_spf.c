/*
 * test_spf.c — src/mailauth/spf*.c: the whole RFC 7208 test suite
 * (data/spf/rfc7208-tests.txt, converted from the suite's YAML by
 * scripts/spf-suite-convert.py) run through spf_check_start() against an
 * in-process zone table behind struct mailauth_dns, plus direct tests of
 * the macro expander (the examples of RFC 7208 §7.4), the record parser,
 * the lookup limits, the timeout, cancelling, and the trace fields.
 *
 * The zone answers like the suite's own driver: on the loop, from a zero
 * timer, never inside lookup(); TIMEOUT entries answer DNS_TEMPFAIL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns_int.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mailauth/spf.h"
#include "mailauth/spf_macro.h"
#include "mailauth/spf_record.h"

#define SUITE_TXT "data/spf/rfc7208-tests.txt"
#define SUITE_YML "data/spf/rfc7208-tests.yml"
#define SHARED_YML "../../../shared/testdata/spf/rfc7208-tests.yml"

/* ---- the zone ------------------------------------------------------------ */

struct zentry {
	char *name;
	char type[8];              /* TXT A AAAA MX PTR CNAME TIMEOUT */
	size_t nf;
	char *f[8];                /* values (TXT strings; MX pref, host) */
	size_t flen[8];
};

struct zone {
	struct zentry *e;
	size_t n, cap;
	struct event_base *base;
	size_t outstanding;        /* lookups neither answered nor cancelled */
	size_t lookups, cancels;
	bool hang;                 /* never answer: for the timeout test */
};

struct fake_query {
	struct zone *z;
	struct event *ev;
	char name[1100];
	enum dns_type type;
	dns_cb cb;
	void *arg;
};

static void zone_clear(struct zone *z)
{
	for (size_t i = 0; i < z->n; i++) {
		free(z->e[i].name);
		for (size_t k = 0; k < z->e[i].nf; k++)
			free(z->e[i].f[k]);
	}
	z->n = 0;
}

static void zone_add(struct zone *z, const char *name, const char *type, size_t nf, char **f, size_t *flen)
{
	if (z->n == z->cap) {
		z->cap = z->cap ? z->cap * 2 : 64;
		z->e = xrealloc(z->e, z->cap * sizeof *z->e);
	}
	struct zentry *e = &z->e[z->n++];
	memset(e, 0, sizeof *e);
	e->name = xstrdup(name);
	snprintf(e->type, sizeof e->type, "%s", type);
	assert_true(nf <= 8);
	e->nf = nf;
	for (size_t i = 0; i < nf; i++) {
		e->f[i] = xmemdup0(f[i], flen ? flen[i] : strlen(f[i]));
		e->flen[i] = flen ? flen[i] : strlen(f[i]);
	}
}

/* A record from C: zadd(z, "example.com", "TXT", "v=spf1 -all", NULL) */
static void zadd(struct zone *z, const char *name, const char *type, ...)
{
	char *f[8];
	size_t n = 0;
	va_list ap;
	va_start(ap, type);
	const char *s;
	while ((s = va_arg(ap, const char *)) != NULL && n < 8)
		f[n++] = (char *)s;
	va_end(ap);
	zone_add(z, name, type, n, f, NULL);
}

static bool same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static const char *type_name(enum dns_type t)
{
	switch (t) {
	case DNS_A: return "A";
	case DNS_AAAA: return "AAAA";
	case DNS_MX: return "MX";
	case DNS_TXT: return "TXT";
	case DNS_PTR: return "PTR";
	default: return "?";
	}
}

static void lower_nodot(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	size_t n = strlen(s);
	if (n && s[n - 1] == '.')
		s[n - 1] = '\0';
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* Answer one query from the zone into r (heap parts freed by answer_free). */
static void zone_answer(struct zone *z, const char *qname, enum dns_type type, struct dns_result *r)
{
	memset(r, 0, sizeof *r);
	r->type = type;
	char name[1100];
	if (type == DNS_PTR) {
		if (!dns_reverse_name(qname, name, sizeof name)) {
			r->status = DNS_BADNAME;
			return;
		}
	} else {
		snprintf(name, sizeof name, "%s", qname);
	}
	/* CNAMEs are followed, as a resolver does; a loop is a server failure. */
	for (int hops = 0;; hops++) {
		const char *target = NULL;
		for (size_t i = 0; i < z->n && !target; i++)
			if (!strcmp(z->e[i].type, "CNAME") && same_name(z->e[i].name, name))
				target = z->e[i].f[0];
		if (!target)
			break;
		if (hops == 8) {
			r->status = DNS_TEMPFAIL;
			r->why = "CNAME loop";
			return;
		}
		snprintf(name, sizeof name, "%s", target);
	}
	bool exists = false;
	const char *tn = type_name(type);
	struct zentry *found[64];
	size_t n = 0;
	for (size_t i = 0; i < z->n; i++) {
		struct zentry *e = &z->e[i];
		if (!same_name(e->name, name))
			continue;
		exists = true;
		if (!strcmp(e->type, "TIMEOUT")) {
			if (n == 0) {
				r->status = DNS_TEMPFAIL;
				r->why = "timeout";
				return;
			}
			break;
		}
		if (!strcmp(e->type, tn) && n < 64)
			found[n++] = e;
	}
	if (!exists) {
		r->status = DNS_NXDOMAIN;
		return;
	}
	if (n == 0) {
		r->status = DNS_NODATA;
		return;
	}
	r->status = DNS_OK;
	r->n = n;
	switch (type) {
	case DNS_TXT:
		r->txt = xcalloc(n, sizeof *r->txt);
		for (size_t i = 0; i < n; i++) {
			struct buf b = BUF_INIT;
			for (size_t k = 0; k < found[i]->nf; k++)
				buf_append(&b, found[i]->f[k], found[i]->flen[k]);
			r->txt[i].len = b.len;
			r->txt[i].data = buf_steal(&b);
		}
		break;
	case DNS_A:
	case DNS_AAAA:
		r->addrs = xcalloc(n, sizeof *r->addrs);
		for (size_t i = 0; i < n; i++) {
			uint8_t a[16];
			char t[64];
			int af = type == DNS_A ? AF_INET : AF_INET6;
			assert_int_equal(inet_pton(af, found[i]->f[0], a), 1);
			inet_ntop(af, a, t, sizeof t);
			r->addrs[i] = xstrdup(t);
		}
		break;
	case DNS_MX:
		r->mx = xcalloc(n, sizeof *r->mx);
		for (size_t i = 0; i < n; i++) {
			r->mx[i].pref = (unsigned)atoi(found[i]->f[0]);
			snprintf(r->mx[i].host, sizeof r->mx[i].host, "%s", found[i]->f[1]);
			lower_nodot(r->mx[i].host);
		}
		qsort(r->mx, n, sizeof *r->mx, mx_cmp);
		r->null_mx = n == 1 && r->mx[0].host[0] == '\0';
		break;
	case DNS_PTR:
		r->names = xcalloc(n, sizeof *r->names);
		for (size_t i = 0; i < n; i++) {
			r->names[i] = xstrdup(found[i]->f[0]);
			lower_nodot(r->names[i]);
		}
		break;
	default:
		r->status = DNS_NODATA;
		r->n = 0;
	}
}

static void answer_free(struct dns_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->txt)
			free(r->txt[i].data);
		if (r->addrs)
			free(r->addrs[i]);
		if (r->names)
			free(r->names[i]);
	}
	free(r->txt);
	free(r->addrs);
	free(r->names);
	free(r->mx);
}

static void fake_fire(evutil_socket_t fd, short what, void *arg)
{
	struct fake_query *q = arg;
	struct zone *z = q->z;
	struct dns_result r;
	zone_answer(z, q->name, q->type, &r);
	z->outstanding--;
	event_free(q->ev);
	dns_cb cb = q->cb;
	void *cbarg = q->arg;
	free(q);
	cb(&r, cbarg);
	answer_free(&r);
}

static struct dns_query *fake_lookup(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg)
{
	struct zone *z = ctx;
	/* As dns_lookup(): a name it cannot carry does not start. */
	if (strlen(name) >= 1024)
		return NULL;
	struct fake_query *q = xcalloc(1, sizeof *q);
	q->z = z;
	snprintf(q->name, sizeof q->name, "%s", name);
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->ev = evtimer_new(z->base, fake_fire, q);
	z->outstanding++;
	z->lookups++;
	if (!z->hang) {
		struct timeval tv = { 0, 0 };
		evtimer_add(q->ev, &tv);
	}
	return (struct dns_query *)(void *)q;
}

static void fake_cancel(void *ctx, struct dns_query *dq)
{
	struct zone *z = ctx;
	struct fake_query *q = (struct fake_query *)(void *)dq;
	z->outstanding--;
	z->cancels++;
	event_free(q->ev);
	free(q);
}

/* ---- running one check --------------------------------------------------- */

struct done {
	bool called;
	int calls;
	struct spf_outcome o;
};

static void on_done(const struct spf_outcome *o, void *arg)
{
	struct done *d = arg;
	d->called = true;
	d->calls++;
	d->o = *o;
}

static struct spf_outcome run_check(struct zone *z, const char *ip, const char *helo, const char *from,
				    enum spf_identity id)
{
	struct mailauth_dns dns = { fake_lookup, fake_cancel, z };
	struct spf_request rq = { .ip = ip, .helo = helo, .mail_from = from,
				  .receiver = "receiver.example", .identity = id };
	struct done d = { 0 };
	struct spf_check *c = spf_check_start(&dns, z->base, &rq, on_done, &d);
	assert_non_null(c);
	assert_false(d.called);             /* never from inside start */
	event_base_dispatch(z->base);
	assert_int_equal(d.calls, 1);
	assert_int_equal(z->outstanding, 0);
	return d.o;
}

static struct spf_outcome check(struct zone *z, const char *ip, const char *helo, const char *from)
{
	return run_check(z, ip, helo, from, SPF_IDENTITY_MAILFROM);
}

static struct zone *zone_new(void)
{
	struct zone *z = xcalloc(1, sizeof *z);
	z->base = event_base_new();
	return z;
}

static void zone_free(struct zone *z)
{
	zone_clear(z);
	free(z->e);
	event_base_free(z->base);
	free(z);
}

/* ---- the suite ------------------------------------------------------------ */

static size_t unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n + 0 + 1 && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char h[3] = { s[i + 1], s[i + 2], 0 };
			out[o++] = (char)strtol(h, NULL, 16);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[65536];
	size_t r;
	while ((r = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(&b, tmp, r);
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void assert_source_hash(const char *path, const char *want, bool required)
{
	size_t len;
	char *yml = read_file(path, &len);
	if (!yml) {
		assert_false(required);
		return;
	}
	char hex[65];
	sha256_hex(yml, len, hex);
	free(yml);
	if (strcmp(hex, want) != 0)
		fail_msg("%s changed (sha256 %s, converted from %s): rerun scripts/spf-suite-convert.py", path, hex, want);
}

static bool result_listed(const char *list, enum spf_result r)
{
	const char *name = spf_result_name(r);
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		if (l == n && strncmp(p, name, n) == 0)
			return true;
		p += l + (comma ? 1 : 0);
	}
	return false;
}

static void test_rfc7208_suite(void **state)
{
	size_t len;
	char *text = read_file(SUITE_TXT, &len);
	assert_non_null(text);
	const char *tag = "# spf-suite v1 sha256=";
	assert_memory_equal(text, tag, strlen(tag));
	char want[65];
	memcpy(want, text + strlen(tag), 64);
	want[64] = '\0';
	assert_source_hash(SUITE_YML, want, true);
	assert_source_hash(SHARED_YML, want, false);

	struct zone *z = zone_new();
	size_t scenarios = 0, tests = 0, passed = 0;
	char scenario[256] = "";
	char *save = NULL;
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		if (ln[0] == '#')
			continue;
		char *f[16];
		size_t flen[16], nf = 0;
		for (char *p = ln; nf < 16;) {
			char *tab = strchr(p, '\t');
			size_t l = tab ? (size_t)(tab - p) : strlen(p);
			f[nf] = xmalloc(l + 1);
			flen[nf] = unescape(p, l, f[nf]);
			nf++;
			if (!tab)
				break;
			p = tab + 1;
		}
		if (!strcmp(f[0], "S")) {
			zone_clear(z);
			scenarios++;
			snprintf(scenario, sizeof scenario, "%s", nf > 1 ? f[1] : "");
		} else if (!strcmp(f[0], "Z")) {
			assert_true(nf >= 3);
			zone_add(z, f[1], f[2], nf - 3, f + 3, flen + 3);
		} else if (!strcmp(f[0], "T")) {
			assert_true(nf == 6 || nf == 7);
			tests++;
			struct spf_outcome o = check(z, f[2], f[3], f[4]);
			bool ok = result_listed(f[5], o.result);
			if (ok && nf == 7) {
				/* The suite's driver sets "DEFAULT" as the default explanation. */
				const char *want_exp = strcmp(f[6], "DEFAULT") ? f[6] : "";
				ok = strcmp(o.explanation, want_exp) == 0;
			}
			if (ok)
				passed++;
			else
				print_message("FAIL %s / %s: got %s exp=\"%s\" problem=\"%s\", want %s%s%s\n", scenario,
					      f[1], spf_result_name(o.result), o.explanation, o.problem, f[5],
					      nf == 7 ? " exp=" : "", nf == 7 ? f[6] : "");
		}
		for (size_t i = 0; i < nf; i++)
			free(f[i]);
	}
	print_message("RFC 7208 suite: %zu of %zu tests passed in %zu scenarios\n", passed, tests, scenarios);
	assert_int_equal(scenarios, 16);
	assert_true(tests >= 200);
	assert_int_equal(passed, tests);
	zone_free(z);
	free(text);
}

/* ---- macros (§7.4) -------------------------------------------------------- */

static void expand_is(const char *in, const struct spf_macro_vars *v, const char *want)
{
	char out[512];
	size_t n;
	assert_int_equal(spf_macro_expand(in, strlen(in), SPF_MACRO_DOMAIN, v, out, sizeof out, &n, NULL), SPF_MACRO_OK);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_macro_rfc_examples(void **state)
{
	struct spf_macro_vars v = {
		.sender = "strong-bad@email.example.com", .local = "strong-bad",
		.sender_domain = "email.example.com", .domain = "email.example.com",
		.ip_dotted = "192.0.2.3", .ptr_name = "mx.example.org", .helo = "mx.example.org",
	};
	expand_is("%{s}", &v, "strong-bad@email.example.com");
	expand_is("%{o}", &v, "email.example.com");
	expand_is("%{d}", &v, "email.example.com");
	expand_is("%{d4}", &v, "email.example.com");
	expand_is("%{d3}", &v, "email.example.com");
	expand_is("%{d2}", &v, "example.com");
	expand_is("%{d1}", &v, "com");
	expand_is("%{dr}", &v, "com.example.email");
	expand_is("%{d2r}", &v, "example.email");
	expand_is("%{l}", &v, "strong-bad");
	expand_is("%{l-}", &v, "strong.bad");
	expand_is("%{lr}", &v, "strong-bad");
	expand_is("%{lr-}", &v, "bad.strong");
	expand_is("%{l1r-}", &v, "strong");
	expand_is("%{ir}.%{v}._spf.%{d2}", &v, "3.2.0.192.in-addr._spf.example.com");
	expand_is("%{lr-}.lp._spf.%{d2}", &v, "bad.strong.lp._spf.example.com");
	expand_is("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", &v, "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expand_is("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", &v, "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expand_is("%{d2}.trusted-domains.example.net", &v, "example.com.trusted-domains.example.net");
	expand_is("%%%_%-", &v, "% %20");
	expand_is("%{p}", &v, "mx.example.org");
	/* uppercase: URL-escaped after the transformation */
	v.local = "~jack&jill=up-a_b3.c";
	expand_is("%{L}", &v, "~jack%26jill%3Dup-a_b3.c");

	struct spf_macro_vars v6 = v;
	v6.ipv6 = true;
	v6.ip_dotted = "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1";
	char out[512];
	const char *s = "%{ir}.%{v}._spf.%{d2}";
	assert_int_equal(spf_macro_expand(s, strlen(s), SPF_MACRO_DOMAIN, &v6, out, sizeof out, NULL, NULL), SPF_MACRO_OK);
	assert_true(strcasecmp(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com") == 0);

	/* the IPv6 %{i} the evaluator builds, seen through an explanation */
	struct zone *z = zone_new();
	zadd(z, "e.example", "TXT", "v=spf1 -all exp=x.e.example", NULL);
	zadd(z, "x.e.example", "TXT", "%{i} %{c} %{v} %{r}", NULL);
	struct spf_outcome o = check(z, "2001:db8::cb01", "h.example", "a@e.example");
	assert_int_equal(o.result, SPF_FAIL);
	assert_string_equal(o.explanation,
			    "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1 2001:db8::cb01 ip6 receiver.example");
	zone_free(z);
}

static void test_macro_syntax(void **state)
{
	static const char *const bad[] = {
		"%", "%x", "%{", "%{s", "%{x}", "%{s0}", "%{s!}", "%{c}", "%{r}", "%{t}", "a b", "%(ir)", "foo%.bar",
		"\x80", "a\tb",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(spf_macro_expand(bad[i], strlen(bad[i]), SPF_MACRO_DOMAIN, NULL, NULL, 0, NULL, NULL),
				 SPF_MACRO_SYNTAX);
	/* c, r, t and spaces belong to explanations */
	const char *e = "%{c} at %{t} by %{R}";
	assert_int_equal(spf_macro_expand(e, strlen(e), SPF_MACRO_EXPLAIN, NULL, NULL, 0, NULL, NULL), SPF_MACRO_OK);
	/* domain-end */
	static const char *const good_spec[] = { "example.com", "example.com.", "%{d}", "a.%{d}", "x.xn--zckzah",
						 "foo:bar/baz.example.com", "%{d}%%", "a.b-c" };
	static const char *const bad_spec[] = { "", "museum", "museum.", "example.-com", "abc.123", "1.2.3.4",
						"example.com/24", "%{d}.", "%{d}com", "example.com-" };
	bool p;
	for (size_t i = 0; i < sizeof good_spec / sizeof good_spec[0]; i++)
		assert_true(spf_domain_spec_valid(good_spec[i], strlen(good_spec[i]), &p));
	for (size_t i = 0; i < sizeof bad_spec / sizeof bad_spec[0]; i++)
		assert_false(spf_domain_spec_valid(bad_spec[i], strlen(bad_spec[i]), &p));
	assert_true(spf_domain_spec_valid("%{p}.x.example", 14, &p));
	assert_true(p);
	/* overflow is refused, not cut */
	struct spf_macro_vars v = { .domain = "example.com" };
	char out[8];
	assert_int_equal(spf_macro_expand("%{d}", 4, SPF_MACRO_DOMAIN, &v, out, sizeof out, NULL, NULL),
			 SPF_MACRO_TOO_LONG);
}

static void test_domain_finish(void **state)
{
	char n[600];
	snprintf(n, sizeof n, "example.com.");
	assert_true(spf_macro_domain_finish(n));
	assert_string_equal(n, "example.com");
	/* longer than 253: labels go from the left */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 30; i++)
		buf_puts(&b, "abcdefghi.");
	buf_puts(&b, "example.com");
	snprintf(n, sizeof n, "%s", buf_cstr(&b));
	assert_true(spf_macro_domain_finish(n));
	assert_true(strlen(n) <= 253);
	assert_true(strlen(n) > 240);
	assert_string_equal(n + strlen(n) - 11, "example.com");
	buf_free(&b);
	snprintf(n, sizeof n, "a..b");
	assert_false(spf_macro_domain_finish(n));
	memset(n, 'a', 64);
	snprintf(n + 64, sizeof n - 64, ".com");
	assert_false(spf_macro_domain_finish(n));
	memset(n, 'a', 300);
	n[300] = '\0';
	assert_false(spf_macro_domain_finish(n));
}

/* ---- the record parser ---------------------------------------------------- */

static void parse_ok(const char *rec, size_t nterms)
{
	struct spf_record r;
	char why[128];
	if (!spf_record_parse(rec, strlen(rec), &r, why, sizeof why))
		fail_msg("'%s' refused: %s", rec, why);
	assert_int_equal(r.n_terms, nterms);
	spf_record_free(&r);
}

static void parse_bad(const char *rec)
{
	struct spf_record r;
	char why[128];
	if (spf_record_parse(rec, strlen(rec), &r, why, sizeof why))
		fail_msg("'%s' accepted", rec);
	assert_true(why[0] != '\0');
	assert_null(r.terms);
}

static void test_record_parse(void **state)
{
	parse_ok("v=spf1", 0);
	parse_ok("V=SPF1 -ALL", 1);
	parse_ok("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24//64 ptr exists:%{i}.x.example ~all", 7);
	parse_ok("v=spf1 a:foo.example/24 mx:foo.example//0 include:_spf.example ?all  ", 4);
	parse_ok("v=spf1 foo=bar redirect=_spf.example exp=exp.example", 0);
	parse_ok("v=spf1 moo.cow-far_out=man:dog/cat -all", 1);
	static const char *const bad[] = {
		"v=spf10", "v=spf1 -all.", "v=spf1 all:x", "v=spf1 all/8", "v=spf1 moo", "v=spf1 ip4:1.2.3",
		"v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.4/032", "v=spf1 ip4:01.2.3.4", "v=spf1 ip4:1.2.3.4//32",
		"v=spf1 ip4:1.2.3.4:8080", "v=spf1 ip6:::1/129", "v=spf1 ip6::CAFE::BABE", "v=spf1 ip6", "v=spf1 a/33",
		"v=spf1 a//129", "v=spf1 a/24/64", "v=spf1 a:", "v=spf1 ptr/0", "v=spf1 ptr:", "v=spf1 include",
		"v=spf1 include:", "v=spf1 exists", "v=spf1 exists:a.example/24", "v=spf1 redirect=a redirect=b",
		"v=spf1 exp=a.example exp=b.example", "v=spf1 exp=", "v=spf1 redirect:x.example", "v=spf1 1up=foo",
		"v=spf1 =all", "v=spf1 foo=%abc", "v=spf1 a:foo.example\x0dptr", "v=spf1 a:\xc3\xa9.example",
		"v=spf1 +redirect=x.example", "v=spf1 exp=%{r}.example",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_bad(bad[i]);
	/* a NUL inside is a byte like any other: refused */
	struct spf_record r;
	assert_false(spf_record_parse("v=spf1 a\0 -all", 14, &r, NULL, 0));
	/* length and term limits */
	struct buf b = BUF_INIT;
	buf_puts(&b, "v=spf1");
	while (b.len < SPF_RECORD_MAX)
		buf_puts(&b, " a");
	assert_false(spf_record_parse(b.data, b.len, &r, NULL, 0));
	buf_reset(&b);
	buf_puts(&b, "v=spf1");
	for (int i = 0; i <= SPF_TERMS_MAX; i++)
		buf_puts(&b, " a");
	assert_false(spf_record_parse(b.data, b.len, &r, NULL, 0));
	buf_free(&b);
	/* what the terms hold */
	const char *rec = "v=spf1 -a:x.example/24//64 ~ip4:192.0.2.128/25";
	char why[64];
	assert_true(spf_record_parse(rec, strlen(rec), &r, why, sizeof why));
	assert_int_equal(r.terms[0].mech, SPF_MECH_A);
	assert_int_equal(r.terms[0].qualifier, '-');
	assert_int_equal(r.terms[0].cidr4, 24);
	assert_int_equal(r.terms[0].cidr6, 64);
	assert_memory_equal(r.text + r.terms[0].spec_off, "x.example", 9);
	assert_int_equal(r.terms[0].spec_len, 9);
	assert_int_equal(r.terms[1].mech, SPF_MECH_IP4);
	assert_int_equal(r.terms[1].cidr4, 25);
	assert_memory_equal(r.terms[1].addr, "\xc0\x00\x02\x80", 4);
	spf_record_free(&r);
}

/* ---- the evaluator ------------------------------------------------------- */

static void test_lookup_limits(void **state)
{
	struct zone *z = zone_new();
	/* 10 includes at the limit pass, 11 are a permerror */
	char name[64], rec[256];
	for (int i = 0; i < 11; i++) {
		snprintf(name, sizeof name, "i%d.example", i);
		snprintf(rec, sizeof rec, "v=spf1 include:i%d.example", i + 1);
		zadd(z, name, "TXT", i == 10 ? "v=spf1 +all" : rec, NULL);
	}
	zadd(z, "top10.example", "TXT", "v=spf1 include:i1.example", NULL);
	zadd(z, "top11.example", "TXT", "v=spf1 include:i0.example", NULL);
	struct spf_outcome o = check(z, "192.0.2.1", "h.example", "x@top10.example");
	assert_int_equal(o.result, SPF_PASS);
	assert_int_equal(o.dns_lookups, 10);
	assert_string_equal(o.mechanism, "include:i1.example");
	o = check(z, "192.0.2.1", "h.example", "x@top11.example");
	assert_int_equal(o.result, SPF_PERMERROR);
	assert_non_null(strstr(o.problem, "10 DNS lookups"));
	/* void lookups: two are fine, the third is a permerror */
	zadd(z, "v2.example", "TXT", "v=spf1 a:n1.example a:n2.example ?all", NULL);
	zadd(z, "v3.example", "TXT", "v=spf1 a:n1.example a:n2.example exists:n3.example ?all", NULL);
	assert_int_equal(check(z, "192.0.2.1", "h.example", "x@v2.example").result, SPF_NEUTRAL);
	o = check(z, "192.0.2.1", "h.example", "x@v3.example");
	assert_int_equal(o.result, SPF_PERMERROR);
	assert_int_equal(o.void_lookups, 3);
	/* an include loop ends at the limit */
	zadd(z, "loop.example", "TXT", "v=spf1 include:loop.example", NULL);
	assert_int_equal(check(z, "192.0.2.1", "h.example", "x@loop.example").result, SPF_PERMERROR);
	/* MX: more than 10 names is a permerror; PTR: only the first 10 are looked at */
	for (int i = 0; i < 11; i++) {
		char pref[16], host[32];
		snprintf(pref, sizeof pref, "%d", i);
		snprintf(host, sizeof host, "mx%d.example", i);
		zadd(z, "many.example", "MX", pref, host, NULL);
		zadd(z, "1.2.0.192.in-addr.arpa", "PTR", host, NULL);
		zadd(z, host, "A", "192.0.2.1", NULL);
	}
	zadd(z, "many.example", "TXT", "v=spf1 mx -all", NULL);
	zadd(z, "ptr.example", "TXT", "v=spf1 ptr:mx10.example ptr:mx9.example -all", NULL);
	assert_int_equal(check(z, "192.0.2.1", "h.example", "x@many.example").result, SPF_PERMERROR);
	o = check(z, "192.0.2.1", "h.example", "x@ptr.example");
	assert_int_equal(o.result, SPF_PASS);
	assert_string_equal(o.mechanism, "ptr:mx9.example");
	zone_free(z);
}

static void test_identities(void **state)
{
	struct zone *z = zone_new();
	zadd(z, "helo.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all", NULL);
	zadd(z, "from.example", "TXT", "v=spf1 ip6:2001:db8::/32 -all", NULL);
	/* HELO identity checks postmaster@helo */
	struct spf_outcome o = run_check(z, "192.0.2.9", "helo.example", "u@from.example", SPF_IDENTITY_HELO);
	assert_int_equal(o.result, SPF_PASS);
	assert_string_equal(o.domain, "helo.example");
	assert_string_equal(o.sender, "postmaster@helo.example");
	assert_string_equal(o.mechanism, "ip4:192.0.2.0/24");
	/* the null sender does the same as the mailfrom identity */
	o = check(z, "192.0.2.9", "helo.example", "");
	assert_int_equal(o.result, SPF_PASS);
	assert_int_equal(o.identity, SPF_IDENTITY_MAILFROM);
	assert_string_equal(o.envelope_from, "");
	o = check(z, "2001:db8::5", "helo.example", "u@from.example");
	assert_int_equal(o.result, SPF_PASS);
	/* an IPv4-mapped client is IPv4 */
	o = check(z, "::ffff:192.0.2.9", "x", "u@helo.example");
	assert_int_equal(o.result, SPF_PASS);
	assert_string_equal(o.client_ip, "192.0.2.9");
	/* a sockaddr instead of text */
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "2001:db8::7", &sa.sin6_addr);
	struct mailauth_dns dns = { fake_lookup, fake_cancel, z };
	struct spf_request rq = { .addr = (struct sockaddr *)&sa, .helo = "x", .mail_from = "u@from.example" };
	struct done d = { 0 };
	spf_check_start(&dns, z->base, &rq, on_done, &d);
	event_base_dispatch(z->base);
	assert_int_equal(d.o.result, SPF_PASS);
	assert_string_equal(d.o.client_ip, "2001:db8::7");
	assert_string_equal(d.o.receiver, "unknown");
	/* found by fuzz_spf_eval: control bytes stay out of the outcome, and are not looked up as '?' */
	o = check(z, "192.0.2.9", "h", "a\001b@helo.example");
	assert_int_equal(o.result, SPF_PASS);
	assert_string_equal(o.sender, "a?b@helo.example");
	zadd(z, "hel?o.example", "TXT", "v=spf1 +all", NULL);
	o = check(z, "192.0.2.9", "h", "u@hel\001o.example");
	assert_int_equal(o.result, SPF_NONE);
	/* an internationalized domain is checked as its A-label */
	zadd(z, "xn--bcher-kva.example", "TXT", "v=spf1 ip4:192.0.2.9 -all", NULL);
	o = check(z, "192.0.2.9", "h", "u@b\xc3\xbc" "cher.example");
	assert_int_equal(o.result, SPF_PASS);
	assert_string_equal(o.domain, "xn--bcher-kva.example");
	/* no usable domain: none at once, still through the loop */
	o = check(z, "192.0.2.9", "[192.0.2.9]", "");
	assert_int_equal(o.result, SPF_NONE);
	assert_int_equal(z->lookups > 0, true);
	zone_free(z);
}

static void test_timeout_and_errors(void **state)
{
	struct zone *z = zone_new();
	zadd(z, "t.example", "TXT", "v=spf1 a -all", NULL);
	zadd(z, "dead.example", "TIMEOUT", NULL);
	zadd(z, "d.example", "TXT", "v=spf1 mx:dead.example -all", NULL);
	zadd(z, "p.example", "TXT", "v=spf1 ptr:dead.example ~all", NULL);
	/* DNS errors: temperror for a/mx/exists/include, no match for ptr */
	assert_int_equal(check(z, "192.0.2.1", "h", "x@d.example").result, SPF_TEMPERROR);
	assert_int_equal(check(z, "192.0.2.1", "h", "x@dead.example").result, SPF_TEMPERROR);
	assert_int_equal(check(z, "192.0.2.1", "h", "x@p.example").result, SPF_SOFTFAIL);

	/* a resolver that never answers: the whole-check timeout gives temperror */
	z->hang = true;
	struct mailauth_dns dns = { fake_lookup, fake_cancel, z };
	struct spf_request rq = { .ip = "192.0.2.1", .helo = "h", .mail_from = "x@t.example", .timeout_ms = 50 };
	struct done d = { 0 };
	size_t cancels = z->cancels;
	spf_check_start(&dns, z->base, &rq, on_done, &d);
	event_base_dispatch(z->base);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.o.result, SPF_TEMPERROR);
	assert_non_null(strstr(d.o.problem, "timed out"));
	assert_int_equal(z->cancels, cancels + 1);
	assert_int_equal(z->outstanding, 0);

	/* cancel before anything ran, and while a query is outstanding */
	d = (struct done){ 0 };
	struct spf_check *c = spf_check_start(&dns, z->base, &rq, on_done, &d);
	spf_check_cancel(&c);
	assert_null(c);
	event_base_dispatch(z->base);
	c = spf_check_start(&dns, z->base, &rq, on_done, &d);
	event_base_loop(z->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(z->outstanding, 1);
	spf_check_cancel(&c);
	assert_int_equal(z->outstanding, 0);
	event_base_dispatch(z->base);
	assert_false(d.called);
	spf_check_cancel(&c);   /* NULL: nothing */
	zone_free(z);
}

struct self_cancel {
	struct spf_check *c;
	int calls;
};

static void on_done_cancel(const struct spf_outcome *o, void *arg)
{
	struct self_cancel *sc = arg;
	sc->calls++;
	spf_check_cancel(&sc->c);      /* allowed, and a no-op: the check is freed on return */
	assert_null(sc->c);
}

static void test_include_and_callback(void **state)
{
	struct zone *z = zone_new();
	zadd(z, "outer.example", "TXT", "v=spf1 include:inner.example ~include:soft.example -all", NULL);
	zadd(z, "inner.example", "TXT", "v=spf1 ip4:192.0.2.1 -all", NULL);
	zadd(z, "soft.example", "TXT", "v=spf1 ip4:192.0.2.2 ?all", NULL);
	zadd(z, "tmp.example", "TXT", "v=spf1 include:gone.example -all", NULL);
	zadd(z, "gone.example", "TIMEOUT", NULL);
	zadd(z, "mxt.example", "TXT", "v=spf1 mx -all", NULL);
	zadd(z, "mxt.example", "MX", "10", "a.mxt.example", NULL);
	zadd(z, "mxt.example", "MX", "20", "b.mxt.example", NULL);
	zadd(z, "a.mxt.example", "TIMEOUT", NULL);
	zadd(z, "b.mxt.example", "A", "192.0.2.7", NULL);
	struct spf_outcome o = check(z, "192.0.2.1", "h", "x@outer.example");
	assert_int_equal(o.result, SPF_PASS);
	assert_string_equal(o.mechanism, "include:inner.example");
	o = check(z, "192.0.2.2", "h", "x@outer.example");
	assert_int_equal(o.result, SPF_SOFTFAIL);
	assert_string_equal(o.mechanism, "~include:soft.example");
	o = check(z, "192.0.2.3", "h", "x@outer.example");
	assert_int_equal(o.result, SPF_FAIL);
	assert_string_equal(o.mechanism, "-all");
	assert_int_equal(check(z, "192.0.2.3", "h", "x@tmp.example").result, SPF_TEMPERROR);
	/* one MX host failing does not hide a match on another; without one it is temperror */
	assert_int_equal(check(z, "192.0.2.7", "h", "x@mxt.example").result, SPF_PASS);
	assert_int_equal(check(z, "192.0.2.8", "h", "x@mxt.example").result, SPF_TEMPERROR);

	struct mailauth_dns dns = { fake_lookup, fake_cancel, z };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
	struct spf_request rq = { .addr = (struct sockaddr *)&sa, .helo = "h", .mail_from = "x@outer.example" };
	struct self_cancel sc = { 0 };
	sc.c = spf_check_start(&dns, z->base, &rq, on_done_cancel, &sc);
	event_base_dispatch(z->base);
	assert_int_equal(sc.calls, 1);
	assert_int_equal(z->outstanding, 0);
	zone_free(z);
}

static void test_trace_fields(void **state)
{
	struct zone *z = zone_new();
	zadd(z, "example.org", "TXT", "v=spf1 -ip4:192.0.2.0/24 ?all exp=why.example.org", NULL);
	zadd(z, "why.example.org", "TXT", "%{i} is not one of %{d}'s (see http://example.org/)", NULL);
	struct spf_outcome o = check(z, "192.0.2.1", "mail.example.net", "a.b@example.org");
	assert_int_equal(o.result, SPF_FAIL);
	assert_string_equal(o.explanation, "192.0.2.1 is not one of example.org's (see http://example.org/)");
	struct buf b = BUF_INIT;
	spf_format_received_spf(&o, &b);
	assert_string_equal(buf_cstr(&b),
			    "Received-SPF: fail (receiver.example: domain of a.b@example.org does not\r\n"
			    "\tdesignate 192.0.2.1 as permitted sender) client-ip=192.0.2.1;\r\n"
			    "\tenvelope-from=\"a.b@example.org\"; helo=mail.example.net;\r\n"
			    "\treceiver=receiver.example; identity=mailfrom; mechanism=\"-ip4:192.0.2.0/24\";\r\n");
	buf_reset(&b);
	spf_format_auth_results(&o, &b);
	assert_string_equal(buf_cstr(&b), "spf=fail smtp.mailfrom=a.b@example.org");

	/* errors carry the problem; IPv6 and odd values are quoted */
	zadd(z, "bad.example", "TXT", "v=spf1 ip4:1.2.3", NULL);
	o = run_check(z, "2001:db8::1", "we\"ird", "", SPF_IDENTITY_HELO);
	assert_int_equal(o.result, SPF_NONE);
	buf_reset(&b);
	spf_format_received_spf(&o, &b);
	assert_non_null(strstr(buf_cstr(&b), "client-ip=\"2001:db8::1\";"));
	assert_non_null(strstr(buf_cstr(&b), "helo=\"we\\\"ird\";"));
	assert_non_null(strstr(buf_cstr(&b), "envelope-from=\"<>\";"));
	assert_non_null(strstr(buf_cstr(&b), "identity=helo;"));
	o = check(z, "192.0.2.1", "h.example", "x@bad.example");
	assert_int_equal(o.result, SPF_PERMERROR);
	buf_reset(&b);
	spf_format_received_spf(&o, &b);
	assert_non_null(strstr(buf_cstr(&b), "problem="));
	/* every line folded within 78 columns, CRLF-terminated */
	const char *s = buf_cstr(&b);
	for (const char *nl; (nl = strstr(s, "\r\n")) != NULL; s = nl + 2)
		assert_true(nl - s <= 78);
	assert_string_equal(s, "");
	buf_reset(&b);
	spf_format_auth_results(&o, &b);
	assert_string_equal(buf_cstr(&b), "spf=permerror smtp.mailfrom=x@bad.example");
	buf_free(&b);
	zone_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7208_suite),
		cmocka_unit_test(test_macro_rfc_examples),
		cmocka_unit_test(test_macro_syntax),
		cmocka_unit_test(test_domain_finish),
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_lookup_limits),
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_timeout_and_errors),
		cmocka_unit_test(test_include_and_callback),
		cmocka_unit_test(test_trace_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
