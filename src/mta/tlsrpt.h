/*
 * tlsrpt.h — SMTP TLS Reporting (RFC 8460) as a sending MTA.
 *
 *   mta.c (delivery thread) ── one result per connection ──► store (tlsrpt table, UPSERT)
 *   scheduler timer ─► mta_tlsrpt_tick ─► day over (or `tern tlsrpt send`)?
 *        └─► per day and policy domain: _smtp._tls TXT ─► tlsrpt_record_parse
 *             ─► tlsrpt_json_build ─► gzip ─► rua mailto: (tlsrpt_mail_write, through the writer)
 *                                           └► rua https: (POST, libcurl in a thread)
 *
 * The parts:
 *   tlsrpt_record.c  the _smtp._tls TXT record (§3), strict
 *   tlsrpt_json.c    the JSON report (§4) from the stored rows
 *   tlsrpt_mail.c    the report message (§5.3): multipart/report, gzip, base64
 *   tlsrpt.c         the daily reporter, and what mta.c records with
 *   report.c         shared with DMARC reports: gzip, days, the request file, mail out
 *
 * Loops (§5.3): the report mail carries "TLS-Required: No" (RFC 8689
 * §5), so tern's own queue delivers it whatever the TLS policy of the
 * report's destination, and mta.c records nothing for such mail: its
 * policy was not even looked up.
 */
#ifndef TERN_MTA_TLSRPT_H
#define TERN_MTA_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mta/report.h"
#include "store/store.h"

struct event_base;
struct config;
struct dns_resolver;
struct mta;

/* ---- tlsrpt_record.c: "v=TLSRPTv1; rua=..." (RFC 8460 §3) ------------------- */

#define TLSRPT_TXT_MAX 2048         /* a longer record is refused (hostile DNS) */
#define TLSRPT_RUA_MAX 8            /* URIs kept; more make the record invalid */
#define TLSRPT_URI_MAX 512          /* octets of one URI */
#define TLSRPT_ADDR_MAX 320         /* a mailto: address, decoded */

enum tlsrpt_uri_kind { TLSRPT_MAILTO, TLSRPT_HTTPS };

struct tlsrpt_uri {
	enum tlsrpt_uri_kind kind;
	char uri[TLSRPT_URI_MAX + 1];   /* as published */
	char addr[TLSRPT_ADDR_MAX + 1]; /* mailto: the address (percent-decoded, no hfields); https: "" */
	char host[254];                 /* https: the host, lower case */
	uint16_t port;                  /* https: 443 unless given */
};

struct tlsrpt_record {
	struct tlsrpt_uri rua[TLSRPT_RUA_MAX];
	size_t nrua;                    /* >= 1 when parsed OK */
};

enum tlsrpt_parse_result {
	TLSRPT_PARSE_OK,
	TLSRPT_PARSE_OTHER,     /* not a TLSRPT record (no "v=TLSRPTv1" first): ignore it */
	TLSRPT_PARSE_INVALID,   /* starts like one but breaks the grammar, or no usable rua */
};

/*
 * Parse one TXT record (its strings concatenated, len octets, no NUL
 * needed).  Grammar of §3: "v=TLSRPTv1", then fields separated by ";"
 * with optional blanks, one "rua=" with URIs separated by "," (mailto:
 * and https: are used, others skipped), extension fields
 * name=value checked and ignored, an optional trailing ";".  why gets the
 * reason for INVALID.  Pure; safe on any input.
 */
enum tlsrpt_parse_result tlsrpt_record_parse(const char *txt, size_t len, struct tlsrpt_record *out,
					     char *why, size_t why_size);

/* ---- tlsrpt_json.c: the report (RFC 8460 §4) --------------------------------- */

struct tlsrpt_report_info {
	const char *organization;   /* organization-name */
	const char *contact;        /* contact-info; NULL or "": the submitter's from address */
	const char *report_id;
	const char *day;            /* "YYYY-MM-DD": the date-range is that whole UTC day */
	const char *domain;         /* policy domain */
};

/*
 * Append the JSON report of rows (one day and domain, in the order
 * store_tlsrpt_rows gives: rows of one policy are adjacent) to out: one
 * entry of policies[] per distinct (policy-type, policy-string), its
 * summary, and a failure-details entry per failure row.  Compact, no
 * white space; every string escaped (control and non-ASCII octets as
 * "?", never raw).
 */
void tlsrpt_json_build(const struct tlsrpt_report_info *info, const struct store_tlsrpt_result *rows, size_t n,
		       struct buf *out);

/* The shared helpers of mta/report.h, by their TLS-RPT names. */
static inline bool tlsrpt_gzip(const void *p, size_t n, struct buf *out)
{
	return report_gzip(p, n, out);
}

static inline int64_t tlsrpt_day_start(const char *day)
{
	return report_day_start(day);
}

static inline void tlsrpt_day_of(int64_t t, char out[11])
{
	report_day_of(t, out);
}

/* ---- tlsrpt_mail.c: the report as a message (RFC 8460 §5.3) ------------------ */

struct tlsrpt_mail {
	const char *from;           /* the envelope and header sender */
	const char *to;             /* the rua mailto: address */
	const char *submitter;      /* our host name */
	const char *domain;         /* the policy domain */
	const char *report_id;
	const char *day;
	const char *unique;         /* the file name's unique part */
	int64_t now;                /* Date: */
	const void *gz;             /* the gzipped JSON */
	size_t gzlen;
};

/*
 * The whole message, CRLF line ends, starting with "Return-Path: <from>"
 * (as a stored message does; *header_len gets that line's length, for the
 * queue offset).  The attachment is named
 * submitter!domain!begin!end!unique.json.gz (§5.1).
 */
void tlsrpt_mail_write(const struct tlsrpt_mail *m, struct buf *out, size_t *return_path_len);
/* The attachment's file name (§5.1), for logs and the HTTPS upload's tests. */
void tlsrpt_file_name(const char *submitter, const char *domain, const char *day, const char *unique,
		      struct buf *out);

/* ---- tlsrpt.c: the reporter on the scheduler's loop --------------------------- */

struct mta_tlsrpt;

/*
 * The reporter of a serve process: on the queue scheduler's loop, with
 * its store handle, writer and resolver (all must outlive it).  NULL when
 * [delivery] tlsrpt is off.
 */
struct mta_tlsrpt *mta_tlsrpt_new(struct event_base *base, const struct config *cfg, struct store *store,
				  struct store_writer *writer, struct dns_resolver *dns);
/* Lookups and work not started are dropped; HTTPS uploads under way finish on their own. */
void mta_tlsrpt_free(struct mta_tlsrpt **r);
/*
 * Called often (the scheduler's timer, a few seconds): starts the report
 * run once per UTC day (the first call after 00:00 UTC, and the first
 * call at all: every past day still in the store), and whenever `tern
 * tlsrpt send` has left its request (mta_tlsrpt_request) in data_dir.
 * Cheap when there is nothing to do.
 */
void mta_tlsrpt_tick(struct mta_tlsrpt *r);

/*
 * For `tern tlsrpt send`: ask the running server for a report run now,
 * of day ("YYYY-MM-DD") or, NULL, of every day with results (today
 * included).  A file in data_dir the server takes at its next tick.
 * false (logged) when it cannot be written.
 */
bool mta_tlsrpt_request(const char *data_dir, const char *day);
/* Whether the request file is still there (the server has not taken it yet). */
bool mta_tlsrpt_request_pending(const char *data_dir);
/*
 * Whether the server has finished the requested run: it leaves a file
 * with the number of (day, domain) result sets it handled, which this
 * takes (summary gets that number).  false while the run goes on.
 */
bool mta_tlsrpt_request_done(const char *data_dir, char *summary, size_t size);

/* ---- recording (mta.c) ------------------------------------------------------ */

/*
 * The RFC 8460 §4.3 result-type of a TLS policy failure: from the
 * certificate verification result (an X509_V_ERR_* code, 0 when unknown)
 * when there is one, else from the SMTP client's reason text (the
 * "4.7.5 TLS is required (...) but ..." of client.c, which quotes
 * OpenSSL's verification error).  Never NULL; "validation-failure" when
 * nothing more precise fits.  Pure.
 */
const char *tlsrpt_result_type(long verify_result, const char *reason);
/*
 * The result-type when an announced MTA-STS policy could not be had
 * (mta_sts_req_status MTA_STS_FAILED, its why): "sts-policy-invalid"
 * (the body did not parse, or was not text/plain), "sts-webpki-invalid"
 * (the policy host's certificate failed), else "sts-policy-fetch-error".
 */
const char *tlsrpt_sts_failure_type(const char *why);

/* Where mta.c records results (the queue's own handle); NULL: record nothing. */
void mta_set_tlsrpt_store(struct mta *m, struct store *s);

#endif
