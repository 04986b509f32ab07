/*
 * dmarcrpt.c — the daily DMARC aggregate report run (RFC 7489 §7.2), on
 * the queue scheduler's loop, beside the TLS-RPT one.
 *
 *   mta_dmarcrpt_tick ──► new UTC day, first tick, or `tern dmarc report send`'s request?
 *        └─► run: the (day, domain) pairs pending in the store, one at a time:
 *             item_start ─► rows ─► XML ─► gzip ─► the rua mailto: URIs, one at a time:
 *                  ├─ same organisational domain as the policy domain ─► mail it
 *                  └─ else TXT <domain>._report._dmarc.<rua domain> (§7.1)
 *                       ├─ a v=DMARC1 record ─► mail it
 *                       └─ none, or DNS failed ─► skipped (logged)
 *               (a URI's !size smaller than the gzipped report: skipped)
 *             then the rows go (store_dmarcrpt_delete) ─► next item (own event)
 *
 * Best effort, as with TLS-RPT: a report handed to the writer is not
 * retried.  The report mail goes out through the queue as remote mail
 * (or into a local INBOX through the writer), never through the MX
 * port, so it is not DMARC-checked here and adds no rows.
 */
#include "mta/dmarcrpt.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailauth/dkim_keys.h"
#include "mailauth/dmarc.h"
#include "mta/report.h"

#define DMARCRPT_REQUEST_FILE "dmarc-report-send"
#define DMARCRPT_RUN_MAX 1000           /* (day, domain) pairs per run */
#define DMARCRPT_ROWS_MAX 10000         /* records of one report */

struct mta_dmarcrpt {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	struct store_writer *writer;
	struct dns_resolver *dns;
	struct event *next_ev;
	struct report_run run;
	struct dns_query *txt_q;
	char from[DMARCRPT_ADDR_MAX + 1];
	struct dkim_keystore *keys;
	/* the current item's report */
	struct buf gz;
	char report_id[128];
	struct dmarcrpt_uri uris[DMARC_URIS_MAX];
	size_t nuris, uri;
};

/* ---- the request file ---------------------------------------------------------------------- */

bool mta_dmarcrpt_request(const char *data_dir, const char *day)
{
	return report_request(data_dir, DMARCRPT_REQUEST_FILE, day);
}

bool mta_dmarcrpt_request_pending(const char *data_dir)
{
	return report_request_pending(data_dir, DMARCRPT_REQUEST_FILE);
}

bool mta_dmarcrpt_request_done(const char *data_dir, char *summary, size_t size)
{
	return report_request_done(data_dir, DMARCRPT_REQUEST_FILE, summary, size);
}

/* ---- one report ------------------------------------------------------------------------------ */

struct rows {
	struct store_dmarcrpt_row *r;
	struct report_strings strings;
	size_t n;
	bool truncated;
	char published[STORE_DMARCRPT_PUBLISHED_MAX + 1];
	char rua[STORE_DMARCRPT_RUA_MAX + 1];
};

static void rows_collect(void *ctx, const struct store_dmarcrpt_row *r)
{
	struct rows *rs = ctx;
	if (rs->n >= DMARCRPT_ROWS_MAX) {
		rs->truncated = true;
		return;
	}
	/* The policy last published: the rows carry it, all alike but for records changed during the day. */
	snprintf(rs->published, sizeof rs->published, "%s", r->published);
	snprintf(rs->rua, sizeof rs->rua, "%s", r->rua);
	rs->r = xrealloc(rs->r, (rs->n + 1) * sizeof *rs->r);
	struct store_dmarcrpt_row *c = &rs->r[rs->n++];
	*c = *r;
	c->source_ip = report_strings_keep(&rs->strings, r->source_ip);
	c->header_from = report_strings_keep(&rs->strings, r->header_from);
	c->envelope_from = report_strings_keep(&rs->strings, r->envelope_from);
	c->disposition = report_strings_keep(&rs->strings, r->disposition);
	c->eval_dkim = report_strings_keep(&rs->strings, r->eval_dkim);
	c->eval_spf = report_strings_keep(&rs->strings, r->eval_spf);
	c->dkim_domain = report_strings_keep(&rs->strings, r->dkim_domain);
	c->dkim_result = report_strings_keep(&rs->strings, r->dkim_result);
	c->spf_result = report_strings_keep(&rs->strings, r->spf_result);
	c->published = c->rua = "";
}

static void rows_free(struct rows *rs)
{
	report_strings_free(&rs->strings);
	free(rs->r);
	memset(rs, 0, sizeof *rs);
}

static void item_next(struct mta_dmarcrpt *r);
static void uri_next(struct mta_dmarcrpt *r);

static void mail_one(struct mta_dmarcrpt *r, const struct report_item *it, const struct dmarcrpt_uri *u)
{
	struct dmarcrpt_mail m = {
		.from = r->from,
		.to = u->addr,
		.submitter = r->cfg->hostname,
		.domain = it->domain,
		.report_id = r->report_id,
		.day = it->day,
		.now = now_unix(),
		.gz = r->gz.data,
		.gzlen = r->gz.len,
	};
	struct buf msg = BUF_INIT;
	size_t rp_len = 0;
	dmarcrpt_mail_write(&m, &msg, &rp_len);
	report_sign(r->keys, r->from, "dmarcrpt", &msg, rp_len);
	report_mail_deliver(r->store, r->writer, "dmarcrpt", r->from, u->addr, it->domain, &msg, rp_len);
	buf_free(&msg);
}

static void on_auth_txt(const struct dns_result *res, void *arg)
{
	struct mta_dmarcrpt *r = arg;
	r->txt_q = NULL;
	struct report_item *it = &r->run.items[r->run.cur];
	const struct dmarcrpt_uri *u = &r->uris[r->uri];
	bool ok = false;
	for (size_t i = 0; res->status == DNS_OK && i < res->n && !ok; i++) {
		const struct dns_txt *t = &res->txt[i];
		size_t n = t->len;
		const char *p = t->data;
		/* §7.1: "v=DMARC1" first, optionally followed by ";" and more tags. */
		ok = n >= 8 && strncmp(p, "v=DMARC1", 8) == 0 && (n == 8 || p[8] == ';' || p[8] == ' ');
	}
	if (ok)
		mail_one(r, it, u);
	else
		log_info("dmarcrpt", "msg=\"external destination not authorised, skipped\" domain=%s to=<%s>%s",
			 lq(it->domain), u->addr, res->status == DNS_TEMPFAIL ? " reason=dns" : "");
	r->uri++;
	uri_next(r);
}

static bool same_org(const char *a, const char *b)
{
	char oa[256], ob[256];
	return dmarc_org_domain(a, oa, sizeof oa) && dmarc_org_domain(b, ob, sizeof ob) && strcasecmp(oa, ob) == 0;
}

/* The current item's URIs from r->uri on; then its rows go and the next item starts. */
static void uri_next(struct mta_dmarcrpt *r)
{
	struct report_item *it = &r->run.items[r->run.cur];
	for (; r->uri < r->nuris; r->uri++) {
		const struct dmarcrpt_uri *u = &r->uris[r->uri];
		if (u->max_size && r->gz.len > u->max_size) {
			log_info("dmarcrpt", "msg=\"report larger than the destination's limit, skipped\" domain=%s "
				 "to=<%s> size=%zu max=%llu", lq(it->domain), u->addr, r->gz.len,
				 (unsigned long long)u->max_size);
			continue;
		}
		char rua_domain[256];
		snprintf(rua_domain, sizeof rua_domain, "%s", strrchr(u->addr, '@') + 1);
		for (char *p = rua_domain; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		if (same_org(rua_domain, it->domain)) {
			mail_one(r, it, u);
			continue;
		}
		char name[600];
		snprintf(name, sizeof name, "%s._report._dmarc.%s", it->domain, rua_domain);
		if (dns_name_valid(name)) {
			r->txt_q = dns_lookup(r->dns, name, DNS_TXT, on_auth_txt, r);
			if (r->txt_q)
				return;
		}
		log_info("dmarcrpt", "msg=\"external destination not checkable, skipped\" domain=%s to=<%s>",
			 lq(it->domain), u->addr);
	}
	if (store_dmarcrpt_delete(r->store, it->day, it->domain, NULL) != STORE_OK)
		log_error("dmarcrpt", "msg=\"cannot delete reported rows\" domain=%s day=%s", lq(it->domain), it->day);
	buf_free(&r->gz);
	item_next(r);
}

/* Build the current item's report and start on its URIs; false when there is nothing to send. */
static bool report_start(struct mta_dmarcrpt *r, const struct report_item *it)
{
	const struct config *cfg = r->cfg;
	struct rows rs = { 0 };
	if (store_dmarcrpt_rows(r->store, it->day, it->domain, rows_collect, &rs) != STORE_OK || rs.n == 0) {
		rows_free(&rs);
		return false;
	}
	if (rs.truncated)
		log_warn("dmarcrpt", "msg=\"report cut\" domain=%s day=%s rows=%d", lq(it->domain), it->day,
			 DMARCRPT_ROWS_MAX);
	r->nuris = r->uri = 0;
	for (const char *p = rs.rua; *p && r->nuris < DMARC_URIS_MAX;) {
		size_t n = strcspn(p, ",");
		if (dmarcrpt_uri_parse(p, n, &r->uris[r->nuris]))
			r->nuris++;
		p += n + (p[n] == ',');
	}
	char unique[17];
	random_id(unique, 16);
	snprintf(r->report_id, sizeof r->report_id, "%.4s%.2s%.2s.%s@%s", it->day, it->day + 5, it->day + 8, unique,
		 cfg->hostname);
	struct dmarcrpt_report_info info = {
		.org_name = cfg->mailauth.dmarc_report_org ? cfg->mailauth.dmarc_report_org : cfg->hostname,
		.email = r->from,
		.report_id = r->report_id,
		.day = it->day,
		.domain = it->domain,
		.published = rs.published,
	};
	struct buf xml = BUF_INIT;
	dmarcrpt_xml_build(&info, rs.r, rs.n, &xml);
	uint64_t messages = 0;
	for (size_t i = 0; i < rs.n; i++)
		messages += rs.r[i].count;
	rows_free(&rs);
	buf_reset(&r->gz);
	bool ok = report_gzip(xml.data, xml.len, &r->gz);
	buf_free(&xml);
	if (!ok) {
		log_error("dmarcrpt", "msg=\"gzip failed\" domain=%s", lq(it->domain));
		return false;
	}
	log_info("dmarcrpt", "msg=\"report\" domain=%s day=%s report_id=%s messages=%llu uris=%zu", lq(it->domain),
		 it->day, lq(r->report_id), (unsigned long long)messages, r->nuris);
	return true;
}

/* ---- the run ------------------------------------------------------------------------------------ */

static void item_next(struct mta_dmarcrpt *r)
{
	r->run.cur++;
	event_active(r->next_ev, 0, 0);
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
	struct mta_dmarcrpt *r = arg;
	while (r->run.cur < r->run.nitems) {
		struct report_item *it = &r->run.items[r->run.cur];
		if (report_start(r, it)) {
			uri_next(r);
			return;
		}
		store_dmarcrpt_delete(r->store, it->day, it->domain, NULL);
		r->run.cur++;
	}
	report_run_end(&r->run);
}

static void collect_pending(void *ctx, const struct store_dmarcrpt_pending *p)
{
	report_run_offer(ctx, p->day, p->domain);
}

static void run(struct mta_dmarcrpt *r)
{
	if (store_dmarcrpt_pending(r->store, DMARCRPT_RUN_MAX, collect_pending, &r->run) != STORE_OK) {
		log_error("dmarcrpt", "msg=\"cannot read the pending rows\"");
		report_run_end(&r->run);
		return;
	}
	if (report_run_begin(&r->run))
		event_active(r->next_ev, 0, 0);
}

void mta_dmarcrpt_tick(struct mta_dmarcrpt *r)
{
	if (r && report_run_due(&r->run))
		run(r);
}

struct mta_dmarcrpt *mta_dmarcrpt_new(struct event_base *base, const struct config *cfg, struct store *store,
				      struct store_writer *writer, struct dns_resolver *dns)
{
	if (!cfg->mailauth.dmarc_reports)
		return NULL;
	struct mta_dmarcrpt *r = xcalloc(1, sizeof *r);
	r->base = base;
	r->cfg = cfg;
	r->store = store;
	r->writer = writer;
	r->dns = dns;
	r->run.data_dir = cfg->data_dir;
	r->run.request_file = DMARCRPT_REQUEST_FILE;
	r->run.sub = "dmarcrpt";
	r->next_ev = event_new(base, -1, 0, on_next, r);
	if (!r->next_ev) {
		log_error("dmarcrpt", "msg=\"event_new failed\"");
		free(r);
		return NULL;
	}
	report_from_address(r->from, sizeof r->from, cfg->mailauth.dmarc_report_from, cfg->hostname);
	r->keys = dkim_keystore_new(cfg->data_dir);
	return r;
}

void mta_dmarcrpt_free(struct mta_dmarcrpt **rp)
{
	struct mta_dmarcrpt *r = *rp;
	if (!r)
		return;
	*rp = NULL;
	if (r->txt_q)
		dns_cancel(r->txt_q);
	r->run.ack = false;     /* a run cut short is no answer */
	report_run_end(&r->run);
	buf_free(&r->gz);
	event_free(r->next_ev);
	dkim_keystore_free(&r->keys);
	free(r);
}
