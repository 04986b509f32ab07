/*
 * dmarcrpt.h — DMARC aggregate reports (RFC 7489 §7.2, Appendix C) sent
 * by tern as a receiver.
 *
 *   smtp/mailauth.c decide() ─► smtp/dmarcrpt_collect.c: counts in memory per loop
 *        └─ every 60 s and at stop ─► store (dmarcrpt table, one transaction)
 *   dmarcrpt_xml.c   the feedback document of Appendix C from the stored rows
 *   dmarcrpt_agg.c   the bounded in-memory table the collector counts in
 *   dmarcrpt_mail.c  the report as a message (§7.2.1.1)
 *   dmarcrpt_uri.c   one rua= mailto: URI with its !size
 *   dmarcrpt.c       the daily reporter on the scheduler's loop (§7.1 authorisation of external destinations)
 *
 * The aggregate (struct dmarcrpt_agg) is pure and bounded, so that the
 * unit tests can drive it; the collector owns one per loop thread.
 */
#ifndef TERN_MTA_DMARCRPT_H
#define TERN_MTA_DMARCRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "store/store.h"

struct dmarc_record;

/* ---- dmarcrpt_xml.c: the feedback document (RFC 7489 Appendix C) --------------- */

struct dmarcrpt_report_info {
	const char *org_name;
	const char *email;          /* the submitter's address */
	const char *report_id;
	const char *day;            /* "YYYY-MM-DD": the date_range is that whole UTC day */
	const char *domain;         /* the policy domain */
	const char *published;      /* the rows' published: "adkim=r aspf=r p=none sp=none pct=100" */
};

/*
 * Append the XML of rows (one day and domain) to out: report_metadata,
 * policy_published (from info->published: the known keys only), one
 * <record> per row.  Every value escaped (&<>"' as entities, control
 * and non-ASCII octets as "?"), never raw.
 */
void dmarcrpt_xml_build(const struct dmarcrpt_report_info *info, const struct store_dmarcrpt_row *rows, size_t n,
			struct buf *out);

/* The published string of a record ("adkim=r aspf=s p=reject sp=none pct=100") into out. */
void dmarcrpt_published(const struct dmarc_record *rec, char *out, size_t size);

/* ---- dmarcrpt_mail.c: the report as a message (RFC 7489 §7.2.1.1) ------------------ */

struct dmarcrpt_mail {
	const char *from;
	const char *to;
	const char *submitter;      /* our host name */
	const char *domain;         /* the policy domain */
	const char *report_id;
	const char *day;
	int64_t now;
	const void *gz;
	size_t gzlen;
};

/* The whole message, CRLF, starting with "Return-Path: <from>" (*return_path_len: that line's length). */
void dmarcrpt_mail_write(const struct dmarcrpt_mail *m, struct buf *out, size_t *return_path_len);
/* receiver!policy-domain!begin!end.xml.gz */
void dmarcrpt_file_name(const char *submitter, const char *domain, const char *day, struct buf *out);

/* ---- dmarcrpt.c: the reporter on the scheduler's loop ------------------------------- */

#define DMARCRPT_ADDR_MAX 320

struct dmarcrpt_uri {
	char addr[DMARCRPT_ADDR_MAX + 1];   /* the mailto: address */
	uint64_t max_size;                  /* !size, in octets; 0: no limit */
};

/* dmarcrpt_uri.c — one rua URI: a mailto: with a plain address and an optional !size[kmgt]; false for anything else. */
bool dmarcrpt_uri_parse(const char *uri, size_t len, struct dmarcrpt_uri *out);

struct event_base;
struct config;
struct dns_resolver;
struct mta_dmarcrpt;

/* NULL when [mailauth] dmarc_reports is off.  All arguments must outlive it. */
struct mta_dmarcrpt *mta_dmarcrpt_new(struct event_base *base, const struct config *cfg, struct store *store,
				      struct store_writer *writer, struct dns_resolver *dns);
void mta_dmarcrpt_free(struct mta_dmarcrpt **r);
/* As mta_tlsrpt_tick: once per UTC day (past days), and on `tern dmarc report send`'s request. */
void mta_dmarcrpt_tick(struct mta_dmarcrpt *r);
/* `tern dmarc report send`: the request file (mta/report.h), day or NULL for every day. */
bool mta_dmarcrpt_request(const char *data_dir, const char *day);
bool mta_dmarcrpt_request_pending(const char *data_dir);
bool mta_dmarcrpt_request_done(const char *data_dir, char *summary, size_t size);

/* ---- dmarcrpt_agg.c: the in-memory aggregate of one loop (smtp/dmarcrpt_collect.c) ---  */

#define DMARCRPT_AGG_MAX 4096       /* distinct rows one loop keeps between flushes; more are dropped (counted) */

struct dmarcrpt_entry;

struct dmarcrpt_agg {
	struct dmarcrpt_entry *slots;   /* open addressing, 2 * DMARCRPT_AGG_MAX */
	size_t n;
	uint64_t dropped;               /* messages not counted since the last flush: the table was full */
};

void dmarcrpt_agg_init(struct dmarcrpt_agg *a);
void dmarcrpt_agg_free(struct dmarcrpt_agg *a);
/* Count one message of row r (r->count ignored); strings are copied, cut to the store's limits.  false: full. */
bool dmarcrpt_agg_add(struct dmarcrpt_agg *a, const struct store_dmarcrpt_row *r);
/* The rows (pointing into a, valid until the next add or clear), *n of them; caller frees the array. */
struct store_dmarcrpt_row *dmarcrpt_agg_rows(const struct dmarcrpt_agg *a, size_t *n);
/* Empty it (dropped back to 0). */
void dmarcrpt_agg_clear(struct dmarcrpt_agg *a);

#endif
