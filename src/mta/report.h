/*
 * report.h — what the daily feedback reporters share: TLS-RPT (RFC 8460,
 * mta/tlsrpt.c) and DMARC aggregate reports (RFC 7489 §7.2,
 * mta/dmarcrpt.c).  Both gzip a document, mail it from a configured
 * address through the store writer (a local INBOX or the queue), sign
 * that mail with the From domain's DKIM key, count UTC days, and take
 * their `tern ... send` request from a file in data_dir.
 */
#ifndef TERN_MTA_REPORT_H
#define TERN_MTA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct store;
struct store_writer;
struct dkim_keystore;

#define REPORT_ADDR_MAX 320         /* a report address (from or to) */

/* gzip (RFC 1952) of p[0..n) appended to out; false on a zlib failure. */
bool report_gzip(const void *p, size_t n, struct buf *out);

/* Seconds of day "YYYY-MM-DD" 00:00:00 UTC; -1 if it is not a date. */
int64_t report_day_start(const char *day);
/* "YYYY-MM-DD" of unix time t, UTC. */
void report_day_of(int64_t t, char out[11]);

/*
 * The request file of `tern tlsrpt|dmarc report send`, named name in
 * data_dir ("tlsrpt-send"; the answer is name.done).  Subsystem sub is
 * for log lines.  See mta_tlsrpt_request and its neighbours for the
 * protocol: request (day or NULL for all), pending while not taken,
 * done once the run is over (summary: the number of reports handled).
 */
bool report_request(const char *data_dir, const char *name, const char *day);
bool report_request_pending(const char *data_dir, const char *name);
bool report_request_done(const char *data_dir, const char *name, char *summary, size_t size);
/* The server's side: the request, taken (the file is removed): true with *all or day set. */
bool report_request_take(const char *data_dir, const char *name, const char *sub, bool *all, char day[11]);
/* The server's answer once the run is over: count as the summary. */
void report_request_answer(const char *data_dir, const char *name, const char *sub, size_t count);

/*
 * The (day, domain) work of one report run, and when a run is due: the
 * first tick, the first after 00:00 UTC (every past day still stored),
 * or a `send` request (that day, or every day, today's included).
 */
struct report_item {
	char day[11];
	char *domain;
};

struct report_run {
	const char *data_dir;           /* set by the owner: where the request file is */
	const char *request_file;
	const char *sub;                /* log subsystem */
	char last_day[11];              /* the UTC day of the last daily run */
	struct report_item *items;
	size_t nitems, cur;
	bool running;
	bool ack;                       /* asked for: answer the request when it ends */
	/* the filter of the run being collected */
	bool all;
	char day[11];                   /* "" unless one day was asked for */
	char today[11];
};

/* Whether a run is due now (never while one runs); sets the filter for report_run_offer. */
bool report_run_due(struct report_run *rr);
/* A pending (day, domain) from the store: kept when the filter wants it. */
void report_run_offer(struct report_run *rr, const char *day, const char *domain);
/* The run is over (or never started): answer a request, drop the items. */
void report_run_end(struct report_run *rr);
/* The items are collected: none ends the run (false); else it is logged and runs from the first (true). */
bool report_run_begin(struct report_run *rr);

/*
 * The strings a report copies out of store rows while it is built (a
 * row's own are valid only inside the store's callback).
 */
struct report_strings {
	char **v;
	size_t n, cap;
};
/* A copy of s ("" for NULL) that lives until report_strings_free. */
const char *report_strings_keep(struct report_strings *rs, const char *s);
void report_strings_free(struct report_strings *rs);

/* The configured report sender, or postmaster@ the hostname. */
void report_from_address(char *out, size_t size, const char *configured, const char *hostname);

/*
 * The first fields of a report mail, alike for DMARC (RFC 7489 §7.2.1.1)
 * and TLS-RPT (RFC 8460 §5.3): Return-Path (its length in
 * *return_path_len), From, To, Date and the "Report Domain: ...
 * Submitter: ... Report-ID: <...>" Subject.
 */
void report_mail_head(struct buf *out, const char *from, const char *to, const char *date, const char *domain,
		      const char *submitter, const char *report_id, size_t *return_path_len);

/*
 * One MIME part of a report mail: "--boundary", the Content-Type, a
 * base64 body of data[0..len) in 76-column lines, attachment file name.
 */
void report_mime_attachment(struct buf *out, const char *boundary, const char *type, const char *name,
			    const void *data, size_t len);

/*
 * Receivers check DKIM before they trust a report: msg (its first rp_len
 * octets the Return-Path line) signed with the key of from's domain when
 * keys has an active one, the signature inserted after Return-Path;
 * unsigned, and logged, without.
 */
void report_sign(struct dkim_keystore *keys, const char *from, const char *sub, struct buf *msg, size_t rp_len);

/*
 * Hand the message (msg, its first rp_len octets the Return-Path line) to
 * the writer for one address: a local account's INBOX, or the queue for
 * a remote one.  Called on a loop thread (the outcome is logged there);
 * domain is the report's subject, for logs.  Best effort: logged, never
 * retried.
 */
void report_mail_deliver(struct store *store, struct store_writer *writer, const char *sub, const char *from,
			 const char *to, const char *domain, const struct buf *msg, size_t rp_len);

#endif
