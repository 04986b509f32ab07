/*
 * dsn.h — delivery status notifications (RFC 3464, RFC 3461 §6): the
 * multipart/report message tern sends to an envelope sender when mail to
 * some of its recipients failed, is delayed, or (NOTIFY=SUCCESS) was
 * delivered.  Pure formatting: the queue decides when and to whom, and
 * stores the result as a new message from <>.
 */
#ifndef TERN_QUEUE_DSN_H
#define TERN_QUEUE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dsn_action {
	DSN_FAILED,
	DSN_DELAYED,
	DSN_DELIVERED,
	DSN_RELAYED,        /* delivered to a host that does not do DSN */
};

struct dsn_rcpt {
	const char *rcpt;           /* Final-Recipient (rfc822;) */
	const char *orcpt;          /* ORCPT as received, decoded ("rfc822;a@b"), "" or NULL for none */
	enum dsn_action action;
	const char *status;         /* enhanced status "5.1.1" */
	const char *remote_mta;     /* host name for Remote-MTA: dns;..., NULL or "" when none */
	const char *diagnostic;     /* the remote reply (Diagnostic-Code: smtp;) or NULL */
	bool diagnostic_remote;     /* diagnostic came from the remote host; else tern's own words (X-tern;) */
	int64_t last_attempt;       /* unix time, 0 none */
	int64_t will_retry_until;   /* DSN_DELAYED: when the queue gives up (unix time) */
};

struct dsn_report {
	const char *hostname;       /* reporting MTA, also MAILER-DAEMON@hostname in From */
	const char *to;             /* the envelope sender being notified (never "") */
	const char *envid;          /* Original-Envelope-Id, "" / NULL none */
	const char *ret;            /* "HDRS": headers only; else a failure report has the whole message (within DSN_FULL_MAX) */
	const char *queue_id;       /* tern's id of the original message, X-Postfix-Queue-ID-like field */
	int64_t arrival;            /* Arrival-Date (unix time) */
	int64_t now;                /* Date of the report (unix time) */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
};

/* Larger originals are returned as their header only (like Postfix's bounce_size_limit). */
#define DSN_FULL_MAX (64 * 1024)

/*
 * Write the report as a complete RFC 5322 message (CRLF line ends) to
 * out_fd: the human-readable part, message/delivery-status, and the
 * original (message/rfc822, or text/rfc822-headers for RET=HDRS, for
 * delay and success reports, and for originals over DSN_FULL_MAX) read from orig_fd starting
 * at orig_offset; orig_fd -1 (the original is lost) leaves that part out.
 * Every field value that came from the network is
 * sanitised (no CR/LF, no control characters, lines folded under 998).
 * Returns the octets written, or -1 (errno set) on an I/O error.
 */
int64_t dsn_write(const struct dsn_report *r, int orig_fd, uint64_t orig_offset, int out_fd);

#endif
