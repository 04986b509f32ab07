/*
 * answer.c — a libunbound result (struct ub_result) as a struct dns_result:
 * the status from rcode / nxdomain / havedata / bogus, the records through
 * the parsers of rdata.c, MX ordering.  resolver.c calls it on the loop
 * thread, hands the result to the caller's callback, then frees both.
 */
#include "dns/dns_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* The RCODEs libunbound reports (RFC 1035 §4.1.1). */

struct mx_sortable {
	struct dns_mx mx;
	uint32_t key;
};

static int mx_cmp(const void *a, const void *b)
{
	const struct mx_sortable *x = a, *y = b;
	if (x->mx.pref != y->mx.pref)
		return x->mx.pref < y->mx.pref ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

void dns_mx_sort(struct dns_mx *mx, size_t n)
{
	if (n < 2)
		return;
	/* A random key per record makes the order among equal prefs a uniform shuffle. */
	struct mx_sortable *s = xcalloc(n, sizeof *s);
	for (size_t i = 0; i < n; i++) {
		s[i].mx = mx[i];
		s[i].key = arc4random();
	}
	qsort(s, n, sizeof *s, mx_cmp);
	for (size_t i = 0; i < n; i++)
		mx[i] = s[i].mx;
	free(s);
}

void dns_answer_fail(struct dns_result *out, enum dns_type t, enum dns_status st, const char *why)
{
	memset(out, 0, sizeof *out);
	out->type = t;
	out->status = st;
	out->why = why;
}

static const char *rcode_why(int rcode)
{
	switch (rcode) {
	case RCODE_SERVFAIL:
		return "SERVFAIL";
	case RCODE_REFUSED:
		return "REFUSED";
	case 1:
		return "FORMERR";
	case 4:
		return "NOTIMP";
	}
	return "rcode";
}

/* Parse record i of u into slot k of out; false when malformed. */
static bool parse_one(struct dns_result *out, const uint8_t *p, size_t len, size_t k)
{
	char name[DNS_NAME_TEXT_MAX];
	switch (out->type) {
	case DNS_MX:
		return dns_rdata_mx(p, len, &out->mx[k]);
	case DNS_A:
	case DNS_AAAA:
		if (!dns_rdata_addr(p, len, out->type, name, sizeof name))
			return false;
		out->addrs[k] = xstrdup(name);
		return true;
	case DNS_TXT:
		return dns_rdata_txt(p, len, &out->txt[k]);
	case DNS_TLSA:
		return dns_rdata_tlsa(p, len, &out->tlsa[k]);
	case DNS_PTR:
		if (!dns_rdata_ptr(p, len, name, sizeof name))
			return false;
		out->names[k] = xstrdup(name);
		return true;
	}
	return false;
}

static void parse_records(const struct ub_result *u, struct dns_result *out)
{
	size_t count = 0;
	while (u->data[count])
		count++;
	switch (out->type) {
	case DNS_MX: out->mx = xcalloc(count, sizeof *out->mx); break;
	case DNS_A:
	case DNS_AAAA: out->addrs = xcalloc(count, sizeof *out->addrs); break;
	case DNS_TXT: out->txt = xcalloc(count, sizeof *out->txt); break;
	case DNS_TLSA: out->tlsa = xcalloc(count, sizeof *out->tlsa); break;
	case DNS_PTR: out->names = xcalloc(count, sizeof *out->names); break;
	}
	size_t k = 0, bad = 0;
	for (size_t i = 0; i < count; i++) {
		if (u->len[i] >= 0 && parse_one(out, (const uint8_t *)u->data[i], (size_t)u->len[i], k))
			k++;
		else
			bad++;
	}
	out->n = k;
	if (bad)
		log_warn("dns", "msg=\"malformed record dropped\" name=%s type=%d count=%zu",
			 lq(u->qname ? u->qname : "?"), (int)out->type, bad);
	if (out->type == DNS_MX) {
		dns_mx_sort(out->mx, k);
		out->null_mx = k == 1 && bad == 0 && out->mx[0].host[0] == '\0';
	}
}

void dns_answer_build(const struct ub_result *u, enum dns_type t, struct dns_result *out)
{
	dns_answer_fail(out, t, DNS_TEMPFAIL, NULL);
	if (u->bogus) {
		/* Forged or broken: never data, always "later" (RFC 7672 §2.1.1). */
		out->bogus = true;
		out->why = u->why_bogus ? u->why_bogus : "bogus";
		return;
	}
	out->secure = u->secure != 0;
	if (u->rcode == RCODE_NXDOMAIN || (u->nxdomain && !u->havedata)) {
		out->status = DNS_NXDOMAIN;
		return;
	}
	if (u->rcode != RCODE_NOERROR) {
		out->secure = false;
		out->why = rcode_why(u->rcode);
		return;
	}
	if (!u->havedata || !u->data || !u->data[0]) {
		out->status = DNS_NODATA;
		return;
	}
	parse_records(u, out);
	if (out->n == 0) {
		dns_answer_free(out);
		dns_answer_fail(out, t, DNS_TEMPFAIL, "malformed rdata");
		return;
	}
	out->status = DNS_OK;
}

void dns_answer_free(struct dns_result *r)
{
	if (r->addrs)
		for (size_t i = 0; i < r->n; i++)
			free(r->addrs[i]);
	if (r->names)
		for (size_t i = 0; i < r->n; i++)
			free(r->names[i]);
	if (r->txt)
		for (size_t i = 0; i < r->n; i++)
			free(r->txt[i].data);
	if (r->tlsa)
		for (size_t i = 0; i < r->n; i++)
			free(r->tlsa[i].data);
	free(r->addrs);
	free(r->names);
	free(r->txt);
	free(r->tlsa);
	free(r->mx);
	r->addrs = r->names = NULL;
	r->txt = NULL;
	r->tlsa = NULL;
	r->mx = NULL;
	r->n = 0;
}
