/*
 * session.h — one SMTP session's state, shared by the files of src/smtp/
 * (session.c: lifecycle, input loop, replies; commands.c: the simple
 * commands; transaction.c: MAIL/RCPT and relay policy; authcmd.c: AUTH;
 * data.c: DATA/BDAT reception; dkimsign.c: DKIM signing of submissions;
 * deliver.c: end of data).  Not for use outside src/smtp/.
 *
 * States (the function that moves between them in brackets):
 *
 *   FRESH --EHLO/HELO [smtp_cmd_helo]--> READY --MAIL [smtp_cmd_mail]--> MAIL
 *   MAIL --RCPT ok [smtp_cmd_rcpt]--> RCPT --DATA [smtp_cmd_data]--> DATA
 *   RCPT --BDAT [smtp_cmd_bdat]--> BDAT (chunk) --250--> RCPT/BDAT ... --LAST--> commit
 *   DATA --"." [smtp_data_consume]--> commit (busy) --done [smtp_commit_done]--> READY
 *   any --RSET/EHLO--> READY;  READY --STARTTLS--> FRESH (after handshake)
 *
 * While busy (a commit or a password check in flight) no input is read.
 */
#ifndef TERN_SMTP_SESSION_H
#define TERN_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "auth/authpool.h"
#include "auth/sasl.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "net/conn.h"
#include "smtp/datascan.h"
#include "smtp/parse.h"
#include "store/store.h"

struct dkim_sign;
struct dkim_keystore;
struct dns_resolver;
struct smtp_mailauth;

#define SMTP_LINE_MAX 512          /* command line incl. CRLF, RFC 5321 §4.5.3.1.4 */
#define SMTP_AUTH_LINE_MAX 12288   /* AUTH lines, RFC 4954 §4 */
#define SMTP_TEXT_LINE_MAX 1000    /* text line incl. CRLF, §4.5.3.1.6 */

struct smtp_server {
	const struct config *cfg;
	struct store_writer *writer;
	struct auth_pool *auth;
	struct store **stores;          /* one per loop thread, by loop_index() */
	size_t nstores;
	struct conn_handler handlers[3];
	struct dkim_keystore *dkim_keys;    /* signing keys of the local domains */
	struct dns_resolver **resolvers;    /* one per loop thread, made on first use there (mailauth) */
	size_t nresolvers;
};

enum smtp_state {
	ST_FRESH,       /* no HELO/EHLO yet */
	ST_READY,       /* between transactions */
	ST_MAIL,        /* MAIL accepted, no recipient yet */
	ST_RCPT,        /* at least one recipient */
	ST_DATA,        /* receiving DATA */
	ST_BDAT,        /* receiving a BDAT chunk */
	ST_AUTH,        /* waiting for a SASL response line */
};

enum smtp_busy { BUSY_NONE, BUSY_COMMIT, BUSY_AUTH, BUSY_DELAY, BUSY_MAILAUTH };

/* Header fields the spool watches for (spoolhdr.c). */
enum {
	SMTP_HDR_BCC = 1u << 0,
	SMTP_HDR_MESSAGE_ID = 1u << 1,
	SMTP_HDR_DATE = 1u << 2,
	SMTP_HDR_AUTH_RESULTS = 1u << 3,
	SMTP_HDR_FROM = 1u << 4,
};

struct smtp_hdrwatch {
	bool bol, in_header, naming;
	char name[32];
	size_t nlen;
	unsigned seen;              /* SMTP_HDR_* */
};

struct smtp_rcpt {
	char *address;                  /* as given, normalised */
	char *orcpt;                    /* DSN ORCPT or NULL */
	unsigned notify;
	size_t naccounts;
	int64_t *account_ids;
	size_t nremote;
	char **remote;
};

/* Incoming message: spool file and the byte-level checks of DATA/BDAT. */
struct smtp_spool {
	int fd;
	char *path;
	char blob_id[STORE_BLOB_ID_MAX];    /* the file is the store's blob of this id */
	struct buf out;                 /* write buffer */
	uint64_t flushed;               /* octets already written to the file */
	uint64_t size;                  /* message octets (after dot-unstuffing), without our trace headers */
	uint64_t prefix_size;           /* our Return-Path + Received */
	uint64_t return_path_size;
	struct smtp_datascan scan;      /* bare CR/LF, long lines, end of DATA */
	bool too_big, io_error;
	struct dkim_sign *dkim;         /* submission: the DKIM signer hashing as data arrives */
	struct smtp_hdrwatch hdr;       /* which fields the header has */
};

struct smtp_session {
	struct smtp_server *srv;
	struct conn *c;                 /* NULL once the connection is gone (orphan) */
	struct loop *loop;
	enum smtp_state state;
	enum smtp_busy busy;
	bool orphan;                    /* connection gone while busy: free when done */
	bool shutting_down;
	bool quit;
	bool esmtp;
	unsigned errors;
	char helo[256];
	struct buf line;

	/* authentication */
	bool authenticated;
	int64_t account_id;
	char auth_user[320];
	struct sasl *sasl;
	struct auth_request *areq;
	unsigned auth_failures;

	/* transaction */
	char msgid[17];
	struct smtp_mail_args mail;
	struct smtp_rcpt *rcpts;
	size_t nrcpts;
	struct smtp_spool spool;
	bool bdat_used;
	bool bdat_last;
	uint64_t bdat_chunk;            /* size of the current chunk */
	bool bdat_discard;              /* the current chunk is read and dropped, then refused */
	enum smtp_state bdat_return;    /* state after a discarded chunk */
	uint64_t bdat_remaining;
	unsigned transactions;

	/* SPF, DKIM, DMARC, ARC on the MX port (mailauth.c), from MAIL FROM to end of data */
	struct smtp_mailauth *ma;

	/* the delivery in flight */
	struct store_delivery *delivery;
	struct mail_meta meta;
};

/* session.c */
void smtp_reply(struct smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A reply that also counts as a client error (and closes at max_errors). */
void smtp_reply_error(struct smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void smtp_process(struct smtp_session *s);
void smtp_close(struct smtp_session *s);
struct store *smtp_store(struct smtp_session *s);
bool smtp_is_submission(const struct smtp_session *s);
/* Run fn on the session's loop from another thread; frees an orphaned session instead. */
void smtp_post(struct smtp_session *s, void (*fn)(struct smtp_session *s));

/* commands.c */
void smtp_cmd_helo(struct smtp_session *s, bool ehlo, const char *args, size_t len);
void smtp_cmd_starttls(struct smtp_session *s, size_t arglen);
void smtp_cmd_simple(struct smtp_session *s, enum smtp_verb verb, const char *args, size_t len);

/* transaction.c */
void smtp_cmd_mail(struct smtp_session *s, const char *args, size_t len);
void smtp_cmd_rcpt(struct smtp_session *s, const char *args, size_t len);
/*
 * Where mail for the postmaster goes when no account or alias has the
 * name (postmaster.c): domain is the RCPT's, NULL for the bare form.
 * *address gets the address it resolved to (the caller frees it).
 */
enum store_status smtp_postmaster_resolve(struct smtp_session *s, const char *domain, struct store_rcpt *res,
					  char **address);
void smtp_transaction_reset(struct smtp_session *s);

/* authcmd.c */
void smtp_cmd_auth(struct smtp_session *s, const char *args, size_t len);
void smtp_auth_line(struct smtp_session *s, const char *line, size_t len);
void smtp_auth_cleanup(struct smtp_session *s);

/* data.c */
void smtp_cmd_data(struct smtp_session *s, size_t arglen);
void smtp_cmd_bdat(struct smtp_session *s, const char *args, size_t len);
/* Consume DATA / BDAT input; returns false when more input is needed. */
bool smtp_data_consume(struct smtp_session *s);
bool smtp_bdat_consume(struct smtp_session *s);
void smtp_spool_discard(struct smtp_session *s);
/* Write out what is buffered; false on I/O error. */
bool smtp_spool_finish(struct smtp_session *s);

/* dkimsign.c: DKIM signing of submitted mail */
void smtp_dkim_begin(struct smtp_session *s);
void smtp_dkim_feed(struct smtp_session *s, const char *p, size_t n);
/*
 * End of data: the DKIM-Signature field into sig when the From domain is
 * local with an active key (nothing otherwise); added: fields the
 * submission server puts at the top of the header, signed with it.
 */
void smtp_dkim_sign(struct smtp_session *s, const struct buf *added, struct buf *sig);

/* spoolhdr.c: the header as spooled, and changing it */
void smtp_hdrwatch_init(struct smtp_hdrwatch *w);
void smtp_hdrwatch_feed(struct smtp_hdrwatch *w, const char *p, size_t n);
/* Drop this header field (name, value after the colon, both with their lengths)? */
typedef bool (*smtp_hdr_drop_fn)(const char *name, size_t nlen, const char *value, size_t vlen, void *ctx);
/*
 * Put insert (whole fields, CRLF-terminated) after our trace fields and,
 * with drop, leave out the header fields it says: in the write buffer when
 * the message is all there and nothing is dropped, else in a new spool
 * file written once.  False on an I/O error (logged).
 */
bool smtp_spool_rewrite(struct smtp_session *s, const struct buf *insert, smtp_hdr_drop_fn drop, void *ctx);
/* The same, with top (whole fields, or NULL) put before our Received field, right after Return-Path. */
bool smtp_spool_rewrite_top(struct smtp_session *s, const struct buf *top, const struct buf *insert,
			    smtp_hdr_drop_fn drop, void *ctx);

/* submission.c: what a submission server adds and removes, then the DKIM signature */
bool smtp_submission_finish(struct smtp_session *s);

/* mailauth.c */
struct smtp_mailauth_verdict {
	int code;                   /* 0: accept */
	char enhanced[16];
	char text[512];
	bool junk;                  /* accept into each local recipient's Junk */
	const char *reason;         /* static, for the log */
	struct buf fields;          /* Received-SPF and Authentication-Results, to put on the message */
	struct buf top;             /* our ARC set (forwarded mail), to put above our Received field */
	bool later;                 /* from a DNS callback, not from inside smtp_mailauth_end(): input waits */
};
typedef void (*smtp_mailauth_done_fn)(struct smtp_session *s, const struct smtp_mailauth_verdict *v);
void smtp_mailauth_mail(struct smtp_session *s);                /* MAIL FROM accepted: SPF starts */
void smtp_mailauth_data(struct smtp_session *s);                /* the spool is open: DKIM starts */
void smtp_mailauth_feed(struct smtp_session *s, const char *p, size_t n);
/* End of data: done() runs once with the verdict, maybe later (the session is BUSY_MAILAUTH meanwhile). */
void smtp_mailauth_end(struct smtp_session *s, smtp_mailauth_done_fn done);
/* Cancel whatever is in flight and forget the results (transaction reset, session end). */
void smtp_mailauth_reset(struct smtp_session *s);
/* Drop fn for Authentication-Results fields that claim to be ours (RFC 8601 §5). */
bool smtp_mailauth_drop_authres(const char *name, size_t nlen, const char *value, size_t vlen, void *ctx);

/* session.c */
struct dns_resolver *smtp_resolver(struct smtp_session *s);
const char *smtp_authserv_id(const struct smtp_session *s);

/* deliver.c */
void smtp_end_of_message(struct smtp_session *s);
void smtp_delivery_cleanup(struct smtp_session *s);

#endif
