/*
 * fuzz_spf_eval.c — libFuzzer target for the SPF evaluator (spf.c) and
 * its trace fields (spf_header.c) against hostile DNS answers.  The input
 * is a zone, one record a line:
 *
 *   NAME T TEXT      TXT (the rest of the line)     NAME A ADDR    A
 *   NAME 6 ADDR      AAAA                            NAME M PREF HOST   MX
 *   NAME P HOST      PTR (NAME is the address)       NAME X         timeout
 *
 * The first line's NAME is the MAIL FROM domain and the HELO; the first
 * byte picks the client address.  Answers come from a zero timer as with
 * the real resolver.  Checked: the callback runs once, no query is left
 * outstanding, the outcome's text is printable and the header fields are
 * well-formed lines.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns_int.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "mailauth/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define LINES_MAX 64

struct line {
	const char *name, *value;
	size_t nlen, vlen;
	char type;
};

struct zone {
	struct line l[LINES_MAX];
	size_t n;
	struct event_base *base;
	size_t outstanding;
};

struct fq {
	struct zone *z;
	struct event *ev;
	char name[1100];
	enum dns_type type;
	dns_cb cb;
	void *arg;
};

static bool name_is(const struct line *l, const char *name)
{
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	return l->nlen == n && strncasecmp(l->name, name, n) == 0;
}

static void fire(evutil_socket_t fd, short what, void *arg)
{
	struct fq *q = arg;
	struct zone *z = q->z;
	char tc = q->type == DNS_TXT ? 'T' : q->type == DNS_A ? 'A' : q->type == DNS_AAAA ? '6' :
		  q->type == DNS_MX ? 'M' : 'P';
	struct dns_result r = { .type = q->type, .status = DNS_NXDOMAIN };
	struct dns_txt txt[LINES_MAX];
	struct dns_mx mx[LINES_MAX];
	char *addrs[LINES_MAX], *names[LINES_MAX];
	char abuf[LINES_MAX][64], nbuf[LINES_MAX][256];
	char tbuf[LINES_MAX][2048];
	size_t k = 0;
	for (size_t i = 0; i < z->n; i++) {
		const struct line *l = &z->l[i];
		if (!name_is(l, q->name))
			continue;
		if (r.status == DNS_NXDOMAIN)
			r.status = DNS_NODATA;
		if (l->type == 'X' && k == 0) {
			r.status = DNS_TEMPFAIL;
			break;
		}
		if (l->type != tc)
			continue;
		size_t vl = l->vlen;
		switch (tc) {
		case 'T':
			if (vl >= sizeof tbuf[k])
				vl = sizeof tbuf[k] - 1;
			memcpy(tbuf[k], l->value, vl);
			tbuf[k][vl] = '\0';
			txt[k] = (struct dns_txt){ .len = vl, .data = tbuf[k] };
			break;
		case 'A':
		case '6': {
			uint8_t a[16];
			char t[64];
			snprintf(t, sizeof t, "%.*s", (int)(vl < 63 ? vl : 63), l->value);
			int af = tc == 'A' ? AF_INET : AF_INET6;
			if (inet_pton(af, t, a) != 1)
				continue;
			inet_ntop(af, a, abuf[k], sizeof abuf[k]);
			addrs[k] = abuf[k];
			break;
		}
		case 'M': {
			mx[k].pref = (unsigned)atoi(l->value);
			const char *sp = memchr(l->value, ' ', vl);
			size_t hl = sp ? vl - (size_t)(sp + 1 - l->value) : 0;
			snprintf(mx[k].host, sizeof mx[k].host, "%.*s", (int)(hl < 255 ? hl : 255), sp ? sp + 1 : "");
			break;
		}
		case 'P':
			snprintf(nbuf[k], sizeof nbuf[k], "%.*s", (int)(vl < 255 ? vl : 255), l->value);
			names[k] = nbuf[k];
			break;
		}
		k++;
	}
	if (k) {
		r.status = DNS_OK;
		r.n = k;
		r.txt = txt;
		r.mx = mx;
		r.null_mx = tc == 'M' && k == 1 && mx[0].host[0] == '\0';
		r.addrs = addrs;
		r.names = names;
	}
	z->outstanding--;
	event_free(q->ev);
	dns_cb cb = q->cb;
	void *cbarg = q->arg;
	free(q);
	cb(&r, cbarg);
}

static struct dns_query *lookup(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg)
{
	struct zone *z = ctx;
	if (!dns_name_valid(name) && type != DNS_PTR)
		return NULL;
	struct fq *q = calloc(1, sizeof *q);
	q->z = z;
	snprintf(q->name, sizeof q->name, "%s", name);
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->ev = evtimer_new(z->base, fire, q);
	struct timeval tv = { 0, 0 };
	evtimer_add(q->ev, &tv);
	z->outstanding++;
	return (struct dns_query *)(void *)q;
}

static void cancel(void *ctx, struct dns_query *dq)
{
	struct zone *z = ctx;
	struct fq *q = (struct fq *)(void *)dq;
	event_free(q->ev);
	free(q);
	z->outstanding--;
}

struct done {
	int calls;
	struct spf_outcome o;
};

static void on_done(const struct spf_outcome *o, void *arg)
{
	struct done *dn = arg;
	dn->calls++;
	dn->o = *o;
}

static void assert_printable(const char *s, size_t size)
{
	size_t n = strnlen(s, size);
	assert(n < size);
	for (size_t i = 0; i < n; i++)
		assert(s[i] >= 0x20 && s[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char *const ips[] = { "192.0.2.1", "2001:db8::1", "::ffff:198.51.100.7", "10.0.0.1" };
	static bool quiet;
	if (!quiet) {
		log_set_level(LOG_ERROR);
		quiet = true;
	}
	if (n < 2)
		return 0;
	char *text = malloc(n);
	memcpy(text, d + 1, n - 1);
	text[n - 1] = '\0';
	struct zone z = { 0 };
	size_t len = n - 1;
	for (size_t i = 0; i < len && z.n < LINES_MAX;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		const char *sp = memchr(text + i, ' ', e - i);
		if (sp && sp + 1 < text + e) {
			struct line *l = &z.l[z.n++];
			l->name = text + i;
			l->nlen = (size_t)(sp - (text + i));
			l->type = sp[1];
			l->value = sp + 2 < text + e ? sp + 3 : text + e;
			l->vlen = sp + 2 < text + e ? (size_t)(text + e - l->value) : 0;
			if (sp + 2 < text + e && sp[2] != ' ')
				l->vlen = 0, l->value = text + e;
		}
		i = e + 1;
	}
	if (z.n == 0) {
		free(text);
		return 0;
	}
	char domain[300];
	snprintf(domain, sizeof domain, "%.*s", (int)(z.l[0].nlen < 290 ? z.l[0].nlen : 290), z.l[0].name);
	char from[400];
	snprintf(from, sizeof from, "fuzz@%s", domain);

	z.base = event_base_new();
	struct mailauth_dns dns = { lookup, cancel, &z };
	struct spf_request rq = { .ip = ips[d[0] % 4], .helo = domain, .mail_from = d[0] & 4 ? "" : from,
				  .receiver = "mx.example.net",
				  .identity = d[0] & 8 ? SPF_IDENTITY_HELO : SPF_IDENTITY_MAILFROM };
	struct done dn = { 0 };
	struct spf_check *c = spf_check_start(&dns, z.base, &rq, on_done, &dn);
	assert(c && dn.calls == 0);
	event_base_dispatch(z.base);
	assert(dn.calls == 1 && z.outstanding == 0);
	const struct spf_outcome *o = &dn.o;
	assert(o->result >= SPF_NONE && o->result <= SPF_PERMERROR);
	assert(o->dns_lookups <= 11 && o->void_lookups <= 3);
	assert_printable(o->mechanism, sizeof o->mechanism);
	assert_printable(o->explanation, sizeof o->explanation);
	assert_printable(o->problem, sizeof o->problem);
	assert_printable(o->domain, sizeof o->domain);
	assert_printable(o->sender, sizeof o->sender);
	if (o->explanation[0])
		assert(o->result == SPF_FAIL);
	struct buf b = BUF_INIT;
	spf_format_received_spf(o, &b);
	assert(b.len >= 2 && b.data[b.len - 2] == '\r' && b.data[b.len - 1] == '\n');
	for (size_t i = 0; i < b.len; i++)
		assert((b.data[i] >= 0x20 && b.data[i] < 0x7f) || b.data[i] == '\r' || b.data[i] == '\n' ||
		       b.data[i] == '\t');
	buf_reset(&b);
	spf_format_auth_results(o, &b);
	assert(b.len > 4 && !memchr(b.data, '\n', b.len));
	buf_free(&b);
	event_base_free(z.base);
	free(text);
	return 0;
}
