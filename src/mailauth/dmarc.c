/*
 * dmarc.c — DMARC policy discovery and the verdict (RFC 7489 §4.2, §6.6).
 *
 *   start ──► TXT _dmarc.<From domain> ──► one v=DMARC1 record ──► evaluate
 *                 │ none there (NXDOMAIN, NODATA, no DMARC record)
 *                 ▼
 *             TXT _dmarc.<organisational domain> ──► evaluate (none if none)
 *
 * A temporary DNS failure at either step is temperror, never "no policy":
 * a domain that publishes p=reject must not get its forgeries through
 * because its DNS server was slow.  Two or more DMARC records at a name
 * mean no DMARC processing (§6.6.3), as does a record without a usable
 * policy.  The callback always comes from the loop, never from inside
 * dmarc_check_start().
 */
#include "mailauth/dmarc.h"

#include <event2/event.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

/* ---- organisational domains ---------------------------------------------- */

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	/* Debian's publicsuffix package, newer than the list compiled into libpsl */
	psl = psl_latest(NULL);
	if (!psl)
		psl = psl_builtin();
}

bool dmarc_org_domain(const char *domain, char *out, size_t outsize)
{
	pthread_once(&psl_once, psl_load);
	const char *reg = psl ? psl_registrable_domain(psl, domain) : NULL;
	/* NULL: domain is itself a public suffix (or no list at all): it stands alone. */
	const char *org = reg ? reg : domain;
	int n = snprintf(out, outsize, "%s", org);
	return n >= 0 && (size_t)n < outsize;
}

/* ---- the verdict ----------------------------------------------------------- */

static bool aligned(const char *id, const char *from, bool strict)
{
	if (!id || !*id)
		return false;
	if (strict)
		return strcasecmp(id, from) == 0;
	char a[256], b[256];
	if (!dmarc_org_domain(id, a, sizeof a) || !dmarc_org_domain(from, b, sizeof b))
		return false;
	return strcasecmp(a, b) == 0;
}

static enum dmarc_policy milder(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

static void result_init(const struct dmarc_input *in, struct dmarc_result *r)
{
	memset(r, 0, sizeof *r);
	snprintf(r->from_domain, sizeof r->from_domain, "%s", in->from_domain ? in->from_domain : "");
	if (!dmarc_org_domain(r->from_domain, r->org_domain, sizeof r->org_domain))
		r->org_domain[0] = '\0';
	r->policy = r->disposition = DMARC_POLICY_NONE;
}

void dmarc_evaluate(const struct dmarc_input *in, const struct dmarc_record *rec, const char *record_domain,
		    struct dmarc_result *r)
{
	result_init(in, r);
	if (!rec) {
		r->status = DMARC_NONE;
		return;
	}
	r->have_record = true;
	r->rec = *rec;
	snprintf(r->record_domain, sizeof r->record_domain, "%s", record_domain ? record_domain : "");

	r->spf_aligned = in->spf_pass && aligned(in->spf_domain, r->from_domain, rec->aspf_strict);
	for (size_t i = 0; i < in->ndkim && !r->dkim_aligned; i++)
		r->dkim_aligned = aligned(in->dkim[i].domain, r->from_domain, rec->adkim_strict);

	/* sp= is for subdomains: it applies when the record came from the organisational domain. */
	bool at_org = strcasecmp(r->record_domain, r->from_domain) != 0;
	r->policy = at_org && rec->sp != DMARC_POLICY_UNSET ? rec->sp : rec->p;

	if (r->spf_aligned || r->dkim_aligned) {
		r->status = DMARC_PASS;
		r->disposition = DMARC_POLICY_NONE;
		return;
	}
	r->status = DMARC_FAIL;
	r->disposition = r->policy;
	if (r->policy != DMARC_POLICY_NONE && rec->pct < 100) {
		unsigned roll = in->pct_roll >= 0 ? (unsigned)in->pct_roll % 100 : arc4random_uniform(100);
		if (roll >= rec->pct) {
			r->disposition = milder(r->policy);
			r->sampled_out = true;
		}
	}
}

/* ---- the lookups ------------------------------------------------------------- */

struct dmarc_check {
	struct mailauth_dns dns;
	struct dmarc_input in;
	char from[256];
	char spf_domain[256];
	struct dmarc_dkim_pass *dkim;
	char (*dkim_domains)[256];
	dmarc_cb cb;
	void *arg;
	struct dns_query *q;
	struct event *later;        /* a result known without DNS, delivered from the loop */
	bool at_org;                /* the second lookup is running */
	struct dmarc_result result;
};

static void check_free(struct dmarc_check *c)
{
	if (c->later)
		event_free(c->later);
	free(c->dkim);
	free(c->dkim_domains);
	free(c);
}

static void finish(struct dmarc_check *c)
{
	c->cb(&c->result, c->arg);
	check_free(c);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
	finish(arg);
}

static void finish_later(struct dmarc_check *c)
{
	static const struct timeval now = { 0, 0 };
	event_add(c->later, &now);
}

static void set_error(struct dmarc_check *c, enum dmarc_status st, const char *why)
{
	result_init(&c->in, &c->result);
	c->result.status = st;
	c->result.why = why;
}

static bool start_lookup(struct dmarc_check *c, const char *domain);

/*
 * The records at one name: the one DMARC record among them, if exactly
 * one; *count says how many there were (0: look further up).
 */
static bool pick_record(const struct dns_result *r, struct dmarc_record *rec, size_t *count)
{
	*count = 0;
	bool ok = false;
	for (size_t i = 0; i < r->n; i++) {
		struct dmarc_record tmp;
		enum dmarc_parse p = dmarc_record_parse(r->txt[i].data, r->txt[i].len, &tmp);
		if (p == DMARC_RECORD_NOT_DMARC)
			continue;
		(*count)++;
		ok = p == DMARC_RECORD_OK;
		if (ok)
			*rec = tmp;
	}
	return *count == 1 && ok;
}

static void on_txt(const struct dns_result *r, void *arg)
{
	struct dmarc_check *c = arg;
	c->q = NULL;
	const char *domain = c->at_org ? c->result.org_domain : c->from;
	size_t count = 0;
	struct dmarc_record rec;
	switch (r->status) {
	case DNS_OK:
		if (pick_record(r, &rec, &count)) {
			dmarc_evaluate(&c->in, &rec, domain, &c->result);
			finish(c);
			return;
		}
		if (count > 0) {        /* several records, or one without a policy: no DMARC here */
			set_error(c, DMARC_NONE, count > 1 ? "several DMARC records" : "DMARC record without a policy");
			finish(c);
			return;
		}
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		break;
	case DNS_TEMPFAIL:
		set_error(c, DMARC_TEMPERROR, r->why ? r->why : "DNS lookup failed");
		finish(c);
		return;
	case DNS_BADNAME:
		set_error(c, DMARC_PERMERROR, "not a valid domain name");
		finish(c);
		return;
	}
	if (!c->at_org && strcasecmp(c->result.org_domain, c->from) != 0) {
		c->at_org = true;
		if (start_lookup(c, c->result.org_domain))
			return;
		set_error(c, DMARC_TEMPERROR, "DNS lookup could not start");
		finish(c);
		return;
	}
	dmarc_evaluate(&c->in, NULL, NULL, &c->result);
	finish(c);
}

static bool start_lookup(struct dmarc_check *c, const char *domain)
{
	char name[300];
	int n = snprintf(name, sizeof name, "_dmarc.%s", domain);
	if (n < 0 || (size_t)n >= sizeof name || !dns_name_valid(name))
		return false;
	c->q = c->dns.lookup(c->dns.ctx, name, DNS_TXT, on_txt, c);
	return c->q != NULL;
}

static bool domain_ok(const char *d)
{
	if (!d || !*d || strlen(d) > 253 || !dns_name_valid(d))
		return false;
	return strchr(d, '.') != NULL;      /* a bare label has no organisational domain to speak of */
}

struct dmarc_check *dmarc_check_start(struct event_base *base, const struct mailauth_dns *dns,
				      const struct dmarc_input *in, dmarc_cb cb, void *arg)
{
	struct dmarc_check *c = xcalloc(1, sizeof *c);
	c->dns = *dns;
	c->cb = cb;
	c->arg = arg;
	c->later = evtimer_new(base, on_later, c);
	if (!c->later) {
		free(c);
		return NULL;
	}
	/* Our own copies: the caller's strings need not outlive this call. */
	snprintf(c->from, sizeof c->from, "%s", in->from_domain ? in->from_domain : "");
	for (char *p = c->from; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	snprintf(c->spf_domain, sizeof c->spf_domain, "%s", in->spf_domain ? in->spf_domain : "");
	c->in = *in;
	c->in.from_domain = c->from;
	c->in.spf_domain = c->spf_domain;
	if (in->ndkim) {
		c->dkim = xcalloc(in->ndkim, sizeof *c->dkim);
		c->dkim_domains = xcalloc(in->ndkim, sizeof *c->dkim_domains);
		for (size_t i = 0; i < in->ndkim; i++) {
			snprintf(c->dkim_domains[i], sizeof c->dkim_domains[i], "%s",
				 in->dkim[i].domain ? in->dkim[i].domain : "");
			c->dkim[i].domain = c->dkim_domains[i];
		}
	}
	c->in.dkim = c->dkim;
	result_init(&c->in, &c->result);

	if (!domain_ok(c->from)) {
		set_error(c, DMARC_PERMERROR, "no usable From domain");
		finish_later(c);
	} else if (!start_lookup(c, c->from)) {
		set_error(c, DMARC_TEMPERROR, "DNS lookup could not start");
		finish_later(c);
	}
	return c;
}

void dmarc_check_cancel(struct dmarc_check *c)
{
	if (!c)
		return;
	if (c->q)
		c->dns.cancel(c->dns.ctx, c->q);
	check_free(c);
}

/* ---- reporting ----------------------------------------------------------------- */

const char *dmarc_status_name(enum dmarc_status s)
{
	switch (s) {
	case DMARC_NONE: return "none";
	case DMARC_PASS: return "pass";
	case DMARC_FAIL: return "fail";
	case DMARC_TEMPERROR: return "temperror";
	case DMARC_PERMERROR: return "permerror";
	}
	return "none";
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_QUARANTINE: return "quarantine";
	case DMARC_POLICY_REJECT: return "reject";
	case DMARC_POLICY_UNSET:
	case DMARC_POLICY_NONE: break;
	}
	return "none";
}

void dmarc_authres(const struct dmarc_result *r, char *out, size_t outsize)
{
	/* The From domain came from the message: only what a domain may hold goes in. */
	const char *from = domain_ok(r->from_domain) ? r->from_domain : "invalid";
	if (r->have_record)
		snprintf(out, outsize, "dmarc=%s (p=%s dis=%s) header.from=%s", dmarc_status_name(r->status),
			 dmarc_policy_name(r->policy), dmarc_policy_name(r->disposition), from);
	else
		snprintf(out, outsize, "dmarc=%s header.from=%s", dmarc_status_name(r->status), from);
}
