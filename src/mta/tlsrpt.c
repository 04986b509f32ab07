/*
 * tlsrpt.c — the daily TLS report run (RFC 8460), on the queue
 * scheduler's loop, and the small pieces mta.c records with.
 *
 *   mta_tlsrpt_tick ──► new UTC day, first tick, or `tern tlsrpt send`'s request file?
 *        └─► run: the (day, domain) pairs pending in the store, one at a time:
 *             item_start ─► TXT _smtp._tls.<domain> ─► on_txt
 *                  ├─ exactly one valid TLSRPT record ─► report: rows ─► JSON ─► gzip
 *                  │      ├─ each mailto: ─► mail_deliver (store writer: local INBOX or the queue)
 *                  │      └─ each https:  ─► post_start: A/AAAA of the host ─► POST in a thread
 *                  │    then the rows go (store_tlsrpt_delete)
 *                  ├─ no record, or not exactly one (§3) ─► the rows go, unreported
 *                  └─ DNS failed ─► the rows stay for the next run (given up after TLSRPT_KEEP_DAYS)
 *             ─► next item (from an event of its own, never inside a callback)
 *
 * Reports are best effort, as every implementation treats them: a
 * report handed to the writer or to an HTTPS upload is not retried, and
 * its rows are deleted once it is handed over.  The HTTPS upload runs
 * libcurl's blocking interface in a detached thread that owns everything
 * it uses (URL, body, the addresses our resolver found), with connect
 * and total timeouts, and only logs its outcome: one upload per domain
 * per day does not justify a second libcurl event-loop driver beside
 * sts_fetch.c, and nothing on the loop waits for it.
 */
#include "mta/tlsrpt.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_keys.h"
#include "mta/report.h"

#define TLSRPT_REQUEST_FILE "tlsrpt-send"
#define TLSRPT_RUN_MAX 1000             /* (day, domain) pairs per run; the rest wait for the next */
#define TLSRPT_KEEP_DAYS 3              /* a domain whose DNS keeps failing loses its rows after this */
#define TLSRPT_ROWS_MAX 10000           /* rows of one report (one per distinct outcome) */
#define TLSRPT_HTTPS_CONNECT_MS 10000
#define TLSRPT_HTTPS_TIMEOUT_MS 60000

struct post;

struct mta_tlsrpt {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	struct store_writer *writer;
	struct dns_resolver *dns;
	struct event *next_ev;
	struct report_run run;
	struct dns_query *txt_q;        /* the current item's TXT lookup */
	struct post *posts;             /* HTTPS uploads still resolving their host */
	char from[TLSRPT_ADDR_MAX + 1];
	struct dkim_keystore *keys;     /* to sign report mail with the From domain's key */
};

/* ---- what a failure was --------------------------------------------------------- */

struct verify_map {
	long code;
	const char *type;
};

static const struct verify_map verify_types[] = {
	{ X509_V_ERR_CERT_HAS_EXPIRED, "certificate-expired" },
	{ X509_V_ERR_CERT_NOT_YET_VALID, "certificate-expired" },
	{ X509_V_ERR_HOSTNAME_MISMATCH, "certificate-host-mismatch" },
	{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "certificate-not-trusted" },
	{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "certificate-not-trusted" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "certificate-not-trusted" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "certificate-not-trusted" },
	{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "certificate-not-trusted" },
	{ X509_V_ERR_CERT_UNTRUSTED, "certificate-not-trusted" },
	{ X509_V_ERR_CERT_REJECTED, "certificate-not-trusted" },
	{ X509_V_ERR_DANE_NO_MATCH, "validation-failure" },
};

const char *tlsrpt_result_type(long verify_result, const char *reason)
{
	for (size_t i = 0; verify_result != X509_V_OK && i < ARRAY_LEN(verify_types); i++)
		if (verify_types[i].code == verify_result)
			return verify_types[i].type;
	if (verify_result != X509_V_OK)
		return "validation-failure";
	if (!reason)
		return "validation-failure";
	if (strstr(reason, "STARTTLS was not offered") || strstr(reason, "refused STARTTLS") ||
	    strstr(reason, "TLS is not available"))
		return "starttls-not-supported";
	if (strstr(reason, "certificate names (") && strstr(reason, "do not match"))
		return "certificate-host-mismatch";
	/* The client quotes OpenSSL's words for a failed verification: find them. */
	for (size_t i = 0; i < ARRAY_LEN(verify_types); i++) {
		const char *words = X509_verify_cert_error_string(verify_types[i].code);
		if (words && *words && strstr(reason, words))
			return verify_types[i].type;
	}
	return "validation-failure";
}

const char *tlsrpt_sts_failure_type(const char *why)
{
	if (!why)
		return "sts-policy-fetch-error";
	if (strstr(why, "invalid policy") || strstr(why, "not text/plain"))
		return "sts-policy-invalid";
	/* libcurl's words for a refused server certificate: "SSL certificate problem: ...", "... certificate ..." */
	if (strstr(why, "certificate") || strstr(why, "SSL peer"))
		return "sts-webpki-invalid";
	return "sts-policy-fetch-error";
}

/* ---- the request file of `tern tlsrpt send` (mta/report.c) --------------------- */

bool mta_tlsrpt_request_done(const char *data_dir, char *summary, size_t size)
{
	return report_request_done(data_dir, TLSRPT_REQUEST_FILE, summary, size);
}

bool mta_tlsrpt_request(const char *data_dir, const char *day)
{
	return report_request(data_dir, TLSRPT_REQUEST_FILE, day);
}

bool mta_tlsrpt_request_pending(const char *data_dir)
{
	return report_request_pending(data_dir, TLSRPT_REQUEST_FILE);
}

/* ---- HTTPS reports: POST in a thread ------------------------------------------- */

struct post {
	struct post *prev, *next;
	struct mta_tlsrpt *r;
	struct dns_query *q;
	bool tried_aaaa;
	char url[TLSRPT_URI_MAX + 1];
	char host[254];
	uint16_t port;
	char *ca_file;
	char domain[STORE_TLSRPT_DOMAIN_MAX + 1];
	char addr[64];
	struct buf body;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ready;

static void curl_init_once(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static void post_free(struct post *p)
{
	buf_free(&p->body);
	free(p->ca_file);
	free(p);
}

static void post_unlink(struct post *p)
{
	struct mta_tlsrpt *r = p->r;
	if (p->prev)
		p->prev->next = p->next;
	else if (r && r->posts == p)
		r->posts = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	p->r = NULL;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

static int on_resolver_start(void *resolver_state, void *reserved, void *userdata)
{
	return 1;   /* only our CURLOPT_RESOLVE address: never the system's resolver */
}

#define SETOPT(opt, val) ok = ok && curl_easy_setopt(easy, opt, val) == CURLE_OK

static void *post_thread(void *arg)
{
	struct post *p = arg;
	char err[CURL_ERROR_SIZE] = "";
	char resolve[400];
	bool v6 = strchr(p->addr, ':') != NULL;
	snprintf(resolve, sizeof resolve, "%s:%u:%s%s%s", p->host, p->port, v6 ? "[" : "", p->addr, v6 ? "]" : "");
	struct curl_slist *res = curl_slist_append(NULL, resolve);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/tlsrpt+gzip");
	CURL *easy = curl_easy_init();
	bool ok = easy && res && hdr;
	SETOPT(CURLOPT_URL, p->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	SETOPT(CURLOPT_RESOLVE, res);
	SETOPT(CURLOPT_RESOLVER_START_FUNCTION, on_resolver_start);
	SETOPT(CURLOPT_PROXY, "");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (p->ca_file) {
		SETOPT(CURLOPT_CAINFO, p->ca_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);
	}
	SETOPT(CURLOPT_HTTPHEADER, hdr);
	SETOPT(CURLOPT_POSTFIELDS, p->body.data);
	SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body.len);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)TLSRPT_HTTPS_CONNECT_MS);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)TLSRPT_HTTPS_TIMEOUT_MS);
	SETOPT(CURLOPT_WRITEFUNCTION, discard_body);
	SETOPT(CURLOPT_ERRORBUFFER, err);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_USERAGENT, "tern (TLSRPT)");
	long code = 0;
	CURLcode rc = CURLE_FAILED_INIT;
	if (ok)
		rc = curl_easy_perform(easy);
	if (rc == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	/* §5.4: a 2xx means the report was taken. */
	if (rc == CURLE_OK && code >= 200 && code < 300)
		log_info("tlsrpt", "msg=\"report posted\" domain=%s url=%s status=%ld", lq(p->domain), lq(p->url), code);
	else
		log_warn("tlsrpt", "msg=\"report upload failed\" domain=%s url=%s status=%ld error=%s", lq(p->domain),
			 lq(p->url), code, lq(rc != CURLE_OK ? (err[0] ? err : curl_easy_strerror(rc)) : "not 2xx"));
	if (easy)
		curl_easy_cleanup(easy);
	curl_slist_free_all(res);
	curl_slist_free_all(hdr);
	post_free(p);
	return NULL;
}

static void post_launch(struct post *p)
{
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, post_thread, p) != 0) {
		log_error("tlsrpt", "msg=\"cannot start the upload\" domain=%s url=%s", lq(p->domain), lq(p->url));
		post_free(p);
	}
	pthread_attr_destroy(&attr);
}

static void on_post_addr(const struct dns_result *res, void *arg)
{
	struct post *p = arg;
	p->q = NULL;
	if (res->status == DNS_OK && res->n > 0) {
		snprintf(p->addr, sizeof p->addr, "%s", res->addrs[0]);
		post_unlink(p);
		post_launch(p);
		return;
	}
	if (!p->tried_aaaa) {
		p->tried_aaaa = true;
		p->q = dns_lookup(p->r->dns, p->host, DNS_AAAA, on_post_addr, p);
		if (p->q)
			return;
	}
	log_warn("tlsrpt", "msg=\"report upload failed: host not found\" domain=%s url=%s", lq(p->domain), lq(p->url));
	post_unlink(p);
	post_free(p);
}

static void post_start(struct mta_tlsrpt *r, const struct tlsrpt_uri *u, const char *domain, const struct buf *gz)
{
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ready) {
		log_error("tlsrpt", "msg=\"libcurl does not initialise: report not uploaded\" domain=%s", lq(domain));
		return;
	}
	struct post *p = xcalloc(1, sizeof *p);
	snprintf(p->url, sizeof p->url, "%s", u->uri);
	snprintf(p->host, sizeof p->host, "%s", u->host);
	snprintf(p->domain, sizeof p->domain, "%s", domain);
	p->port = u->port;
	p->ca_file = r->cfg->delivery.tls_ca_file ? xstrdup(r->cfg->delivery.tls_ca_file) : NULL;
	buf_append(&p->body, gz->data, gz->len);
	p->r = r;
	p->next = r->posts;
	if (r->posts)
		r->posts->prev = p;
	r->posts = p;
	p->q = dns_lookup(r->dns, p->host, DNS_A, on_post_addr, p);
	if (!p->q) {
		log_warn("tlsrpt", "msg=\"report upload failed: bad host\" domain=%s url=%s", lq(domain), lq(p->url));
		post_unlink(p);
		post_free(p);
	}
}

/* ---- one report ------------------------------------------------------------------ */

/* A day's rows for one domain, owned. */
struct rows {
	struct store_tlsrpt_result *r;
	struct report_strings strings;
	size_t n;
	bool truncated;
};

static void rows_collect(void *ctx, const struct store_tlsrpt_result *r)
{
	struct rows *rs = ctx;
	if (rs->n >= TLSRPT_ROWS_MAX) {
		rs->truncated = true;
		return;
	}
	rs->r = xrealloc(rs->r, (rs->n + 1) * sizeof *rs->r);
	struct store_tlsrpt_result *c = &rs->r[rs->n++];
	*c = *r;
	c->day = report_strings_keep(&rs->strings, r->day);
	c->domain = report_strings_keep(&rs->strings, r->domain);
	c->policy_type = report_strings_keep(&rs->strings, r->policy_type);
	c->policy_strings = report_strings_keep(&rs->strings, r->policy_strings);
	c->mx_hosts = report_strings_keep(&rs->strings, r->mx_hosts);
	c->result_type = report_strings_keep(&rs->strings, r->result_type);
	c->sending_ip = report_strings_keep(&rs->strings, r->sending_ip);
	c->receiving_mx = report_strings_keep(&rs->strings, r->receiving_mx);
	c->receiving_ip = report_strings_keep(&rs->strings, r->receiving_ip);
}

static void rows_free(struct rows *rs)
{
	report_strings_free(&rs->strings);
	free(rs->r);
	memset(rs, 0, sizeof *rs);
}

static void report(struct mta_tlsrpt *r, const struct report_item *it, const struct tlsrpt_record *rec)
{
	const struct config *cfg = r->cfg;
	struct rows rs = { 0 };
	if (store_tlsrpt_rows(r->store, it->day, it->domain, rows_collect, &rs) != STORE_OK || rs.n == 0) {
		rows_free(&rs);
		return;
	}
	if (rs.truncated)
		log_warn("tlsrpt", "msg=\"report cut\" domain=%s day=%s rows=%d", lq(it->domain), it->day, TLSRPT_ROWS_MAX);
	char unique[17], report_id[128];
	random_id(unique, 16);
	char compact[9];
	snprintf(compact, sizeof compact, "%.4s%.2s%.2s", it->day, it->day + 5, it->day + 8);
	snprintf(report_id, sizeof report_id, "%s.%s@%s", compact, unique, cfg->hostname);
	struct tlsrpt_report_info info = {
		.organization = cfg->delivery.tlsrpt_organization ? cfg->delivery.tlsrpt_organization : cfg->hostname,
		.contact = cfg->delivery.tlsrpt_contact ? cfg->delivery.tlsrpt_contact : r->from,
		.report_id = report_id,
		.day = it->day,
		.domain = it->domain,
	};
	struct buf json = BUF_INIT, gz = BUF_INIT;
	tlsrpt_json_build(&info, rs.r, rs.n, &json);
	uint64_t ok = 0, failed = 0;
	for (size_t i = 0; i < rs.n; i++)
		*(rs.r[i].result_type[0] ? &failed : &ok) += rs.r[i].count;
	rows_free(&rs);
	if (!tlsrpt_gzip(json.data, json.len, &gz)) {
		log_error("tlsrpt", "msg=\"gzip failed\" domain=%s", lq(it->domain));
		goto out;
	}
	log_info("tlsrpt", "msg=\"report\" domain=%s day=%s report_id=%s successes=%llu failures=%llu uris=%zu",
		 lq(it->domain), it->day, lq(report_id), (unsigned long long)ok, (unsigned long long)failed, rec->nrua);
	for (size_t i = 0; i < rec->nrua; i++) {
		const struct tlsrpt_uri *u = &rec->rua[i];
		if (u->kind == TLSRPT_HTTPS) {
			post_start(r, u, it->domain, &gz);
			continue;
		}
		struct tlsrpt_mail m = {
			.from = r->from,
			.to = u->addr,
			.submitter = cfg->hostname,
			.domain = it->domain,
			.report_id = report_id,
			.day = it->day,
			.unique = unique,
			.now = now_unix(),
			.gz = gz.data,
			.gzlen = gz.len,
		};
		struct buf msg = BUF_INIT;
		size_t rp_len = 0;
		tlsrpt_mail_write(&m, &msg, &rp_len);
		report_sign(r->keys, r->from, "tlsrpt", &msg, rp_len);
		report_mail_deliver(r->store, r->writer, "tlsrpt", r->from, u->addr, it->domain, &msg, rp_len);
		buf_free(&msg);
	}
out:
	buf_free(&json);
	buf_free(&gz);
}

/* ---- the run ------------------------------------------------------------------------ */

static void forget(struct mta_tlsrpt *r, const struct report_item *it)
{
	if (store_tlsrpt_delete(r->store, it->day, it->domain, NULL) != STORE_OK)
		log_error("tlsrpt", "msg=\"cannot delete reported results\" domain=%s day=%s", lq(it->domain), it->day);
}

static void item_next(struct mta_tlsrpt *r)
{
	r->run.cur++;
	event_active(r->next_ev, 0, 0);
}

static void on_txt(const struct dns_result *res, void *arg)
{
	struct mta_tlsrpt *r = arg;
	struct report_item *it = &r->run.items[r->run.cur];
	r->txt_q = NULL;
	if (res->status == DNS_TEMPFAIL) {
		char today[11];
		tlsrpt_day_of(now_unix(), today);
		bool old = tlsrpt_day_start(today) - tlsrpt_day_start(it->day) > TLSRPT_KEEP_DAYS * 86400;
		log_warn("tlsrpt", "msg=\"policy lookup failed\" domain=%s day=%s reason=%s%s", lq(it->domain), it->day,
			 lq(res->why ? res->why : "temporary failure"), old ? " action=dropped" : " action=kept");
		if (old)
			forget(r, it);
		item_next(r);
		return;
	}
	struct tlsrpt_record rec, found = { 0 };
	size_t nrec = 0;
	char why[200] = "";
	for (size_t i = 0; res->status == DNS_OK && i < res->n; i++) {
		char w[200];
		enum tlsrpt_parse_result pr = tlsrpt_record_parse(res->txt[i].data, res->txt[i].len, &rec, w, sizeof w);
		if (pr == TLSRPT_PARSE_OTHER)
			continue;
		nrec++;     /* an invalid one counts too: §3, not exactly one record means none */
		if (pr == TLSRPT_PARSE_OK)
			found = rec;
		else
			snprintf(why, sizeof why, "%s", w);
	}
	if (nrec == 1 && !why[0])
		report(r, it, &found);
	else
		log_info("tlsrpt", "msg=\"no report wanted\" domain=%s day=%s records=%zu%s%s", lq(it->domain), it->day,
			 nrec, why[0] ? " reason=" : "", why[0] ? lq(why) : "");
	forget(r, it);
	item_next(r);
}

static void item_start(struct mta_tlsrpt *r)
{
	while (r->run.cur < r->run.nitems) {
		struct report_item *it = &r->run.items[r->run.cur];
		char name[300];
		snprintf(name, sizeof name, "_smtp._tls.%s", it->domain);
		if (dns_name_valid(name)) {
			r->txt_q = dns_lookup(r->dns, name, DNS_TXT, on_txt, r);
			if (r->txt_q)
				return;
			log_warn("tlsrpt", "msg=\"policy lookup did not start\" domain=%s", lq(it->domain));
		} else {
			forget(r, it);
		}
		r->run.cur++;
	}
	log_debug("tlsrpt", "msg=\"report run done\" items=%zu", r->run.nitems);
	report_run_end(&r->run);
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
	item_start(arg);
}

static void collect_pending(void *ctx, const struct store_tlsrpt_pending *p)
{
	report_run_offer(ctx, p->day, p->domain);
}

static void run(struct mta_tlsrpt *r)
{
	if (store_tlsrpt_pending(r->store, TLSRPT_RUN_MAX, collect_pending, &r->run) != STORE_OK) {
		log_error("tlsrpt", "msg=\"cannot read the pending results\"");
		report_run_end(&r->run);
		return;
	}
	if (report_run_begin(&r->run))
		item_start(r);
}

void mta_tlsrpt_tick(struct mta_tlsrpt *r)
{
	if (r && report_run_due(&r->run))
		run(r);
}

struct mta_tlsrpt *mta_tlsrpt_new(struct event_base *base, const struct config *cfg, struct store *store,
				  struct store_writer *writer, struct dns_resolver *dns)
{
	if (!cfg->delivery.tlsrpt)
		return NULL;
	struct mta_tlsrpt *r = xcalloc(1, sizeof *r);
	r->base = base;
	r->cfg = cfg;
	r->store = store;
	r->writer = writer;
	r->dns = dns;
	r->run.data_dir = cfg->data_dir;
	r->run.request_file = TLSRPT_REQUEST_FILE;
	r->run.sub = "tlsrpt";
	r->next_ev = event_new(base, -1, 0, on_next, r);
	if (!r->next_ev) {
		log_error("tlsrpt", "msg=\"event_new failed\"");
		free(r);
		return NULL;
	}
	report_from_address(r->from, sizeof r->from, cfg->delivery.tlsrpt_from, cfg->hostname);
	r->keys = dkim_keystore_new(cfg->data_dir);
	return r;
}

void mta_tlsrpt_free(struct mta_tlsrpt **rp)
{
	struct mta_tlsrpt *r = *rp;
	if (!r)
		return;
	*rp = NULL;
	if (r->txt_q)
		dns_cancel(r->txt_q);
	while (r->posts) {
		struct post *p = r->posts;
		if (p->q)
			dns_cancel(p->q);
		post_unlink(p);
		post_free(p);
	}
	r->run.ack = false;     /* a run cut short is no answer */
	report_run_end(&r->run);
	event_free(r->next_ev);
	dkim_keystore_free(&r->keys);
	free(r);
}
