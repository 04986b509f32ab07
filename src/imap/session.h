/*
 * session.h — one IMAP session's state, shared by the files of src/imap/
 * (session.c: lifecycle, command assembly, dispatch, responses;
 * auth.c: CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE, ENABLE, ID;
 * mailboxes.c: CREATE DELETE RENAME SUBSCRIBE LIST LSUB NAMESPACE STATUS
 * and QUOTA; select.c: SELECT EXAMINE CLOSE UNSELECT, the message view and
 * untagged updates; fetch.c: FETCH; modify.c: STORE EXPUNGE COPY MOVE;
 * searchcmd.c: SEARCH; append.c: APPEND; idle.c: IDLE; notify.c: NOTIFY).
 * Not for use outside src/imap/.
 *
 * States (RFC 9051 §3):  NOTAUTH --LOGIN/AUTHENTICATE--> AUTH
 *   --SELECT/EXAMINE--> SELECTED --CLOSE/UNSELECT--> AUTH;  any --LOGOUT--> end.
 *
 * Input: session.c assembles one whole command (lines + literals, see
 * parse.h) before anything runs; while a command is in progress
 * asynchronously (password check, APPEND commit, a FETCH streaming its
 * output) no further input is read, so pipelined commands are answered in
 * order.
 */
#ifndef TERN_IMAP_SESSION_H
#define TERN_IMAP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/authpool.h"
#include "auth/sasl.h"
#include "imap/parse.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "mail/meta.h"
#include "net/conn.h"
#include "store/store.h"

#define IMAP_MAX_LITERALS 64            /* literals in one command */
#define IMAP_MAX_ERRORS 20              /* BAD commands before BYE */
#define IMAP_RECENT_RANGES 8            /* \Recent claims remembered per selected mailbox */
#define IMAP_OUTPUT_MAX (256 * 1024)    /* queued output before input (or a FETCH) waits */
#define IMAP_IDLE_TIMEOUT_MS (30 * 60 * 1000)   /* RFC 9051 §5.4: at least 30 minutes */
#define IMAP_PREAUTH_TIMEOUT_MS (60 * 1000)     /* before login: a client has no reason to dawdle */

struct event;

struct imap_server {
	const struct config *cfg;
	struct store_writer *writer;
	struct auth_pool *auth;
	struct store **stores;          /* one per loop thread, by loop_index() */
	size_t nstores;
	struct conn_handler handlers[2];
	uint64_t preauth_timeout_ms;    /* IMAP_PREAUTH_TIMEOUT_MS */
};

/* Shorter timeouts than IMAP_PREAUTH_TIMEOUT_MS / IMAP_IDLE_TIMEOUT_MS, for tests. */
void imap_server_set_timeouts(struct imap_server *srv, uint64_t preauth_ms, uint64_t idle_ms);

enum imap_state { IST_NOTAUTH, IST_AUTH, IST_SELECTED, IST_LOGOUT };

enum imap_busy {
	IBUSY_NONE,
	IBUSY_AUTH,         /* password check on the auth pool */
	IBUSY_DELAY,        /* answering a failed login after the throttle delay */
	IBUSY_APPEND,       /* APPEND commit on the store writer */
	IBUSY_OUTPUT,       /* a command producing output waits for it to drain */
	IBUSY_IDLE,         /* IDLE: waiting for DONE */
	IBUSY_SASL,         /* AUTHENTICATE: waiting for a continuation line */
};

enum imap_input { IN_LINE, IN_LITERAL };

/* The selected mailbox as this session sees it (RFC 9051 §7.5.1 numbering). */
struct imap_view {
	int64_t mailbox_id;
	char *name;                     /* UTF-8 */
	bool readonly;                  /* EXAMINE */
	uint32_t uidvalidity;
	uint32_t *uids;                 /* seq - 1 -> uid, ascending */
	size_t n, cap;
	uint32_t *gone;                 /* expunged by others, not yet announced (ascending) */
	size_t ngone, capgone;
	uint32_t *held;                 /* new, not announced: NOTIFY without MessageNew here (ascending) */
	size_t nheld, capheld;
	uint64_t modseq;                /* changes up to this are reflected */
	char *keywords;                 /* keywords announced in FLAGS */
	struct store_watch *watch;
	struct imap_seqset saved;       /* SEARCHRES "$", UIDs (resolved) */
	/*
	 * \Recent (IMAP4rev1): the UID ranges this session claimed, oldest
	 * first; under EXAMINE one open range from the mailbox's first
	 * unclaimed UID.  Past IMAP_RECENT_RANGES claims the oldest is dropped.
	 */
	struct { uint32_t lo, hi; } recent[IMAP_RECENT_RANGES];
	size_t nrecent;
};

/* A command that runs over several turns of the loop (FETCH, large SEARCH results...). */
struct imap_job {
	void (*step)(struct imap_job *j);   /* produce more output; finish with imap_job_done */
	void (*free)(struct imap_job *j);
	struct imap_session *s;
};

struct imap_session {
	struct imap_server *srv;
	struct conn *c;                 /* NULL once the connection is gone (orphan) */
	struct loop *loop;
	enum imap_state state;
	enum imap_busy busy;
	bool orphan;
	bool shutting_down;
	bool logout;
	unsigned errors;
	uint64_t login_deadline;        /* now_ms() past which a session not logged in is closed */

	/* command assembly */
	enum imap_input in;
	struct buf line;
	struct buf cmd;                 /* lines, literal headers in place, contents out of band */
	struct buf litmem;              /* in-memory literal contents, back to back */
	struct imap_literal *lits;
	size_t *lit_offs;               /* offset of each in-memory literal in litmem */
	size_t nlits;
	uint64_t lit_remaining;
	bool lit_spool;                 /* the current literal goes to a spool file */
	int lit_fd;
	char *lit_path;
	const char *fail;               /* the command is being read only to be refused with this */
	bool fail_no;                   /* ... as NO (else BAD) */
	char fail_tag[IMAP_TAG_MAX + 1];

	/* the command being executed */
	struct imap_cmd *cmd_parsed;
	struct imap_job *job;

	/* authentication */
	int64_t account_id;
	char user[320];
	struct sasl *sasl;
	struct auth_request *areq;
	char pending_tag[IMAP_TAG_MAX + 1];   /* the command awaiting a continuation (AUTHENTICATE, IDLE) */
	unsigned auth_failures;

	/* ENABLEd / implied */
	bool utf8;                      /* UTF8=ACCEPT */
	bool condstore;
	bool qresync;
	bool rev2;                      /* IMAP4rev2 enabled */

	struct imap_view *view;         /* SELECTED */
	struct imap_search_ctx *search_ctxs;    /* RETURN (UPDATE) searches (searchctx.c) */
	struct event *wake;             /* activated by store notifications */
	struct imap_notify *notify;     /* NOTIFY SET in force (notify.c), NULL without */

	/* APPEND in flight (the first of its messages) */
	struct store_delivery *delivery;
};

/* ---- session.c ------------------------------------------------------------ */

/* Untagged or continuation output: "* " + formatted text + CRLF. */
void imap_untagged(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Raw output (already formatted, CRLFs included). */
void imap_write(struct imap_session *s, const void *p, size_t n);
/* Tagged completion: "tag OK|NO|BAD text". */
void imap_tagged(struct imap_session *s, const char *tag, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Tagged BAD that also counts toward IMAP_MAX_ERRORS. */
void imap_bad(struct imap_session *s, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* OK for cmd, after announcing pending changes as the command allows (imap_sync). */
void imap_ok(struct imap_session *s, const struct imap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void imap_close(struct imap_session *s);
/* Before login, a connection idle for IMAP_PREAUTH_TIMEOUT_MS is closed (the conn_timer callback). */
void imap_preauth_timeout(struct conn *c);
/* (Re)arm the connection timer for what is left of the pre-login deadline. */
void imap_preauth_timer(struct imap_session *s);
void imap_process(struct imap_session *s);
struct store *imap_store(struct imap_session *s);
void imap_post(struct imap_session *s, void (*fn)(struct imap_session *s));
/* Append a string as an IMAP quoted string or literal (for untrusted / 8-bit text). */
void imap_put_string(struct buf *b, const char *p, size_t n);
/* Append a mailbox name (UTF-8 in the store) in the session's encoding (mUTF-7 unless UTF8=ACCEPT). */
void imap_put_mailbox(struct imap_session *s, struct buf *b, const char *utf8name);
/* Decode a mailbox argument to the store's UTF-8 name; false (with a BAD sent) when invalid. */
bool imap_mailbox_arg(struct imap_session *s, const struct imap_cmd *cmd, const struct imap_str *arg,
		      struct buf *out);
/* A job takes over the session until imap_job_done (which frees it and resumes input). */
void imap_job_start(struct imap_session *s, struct imap_job *j);
void imap_job_done(struct imap_session *s);
/*
 * The message file of m mapped read-only (*len octets; "" when empty),
 * opening it first unless *fd already is; NULL (logged) if it cannot be
 * read or is not the size the index says — mapping a truncated file would
 * fault on access.  The caller munmaps a non-empty map and closes *fd.
 */
const char *imap_message_map(struct imap_session *s, const struct store_message_data *m, int *fd, size_t *len);
/* A new spool file in the store's spool directory: its fd (read-write), *path malloc'd; -1 (logged) if not. */
int imap_spool_create(struct imap_session *s, char **path);
/* The tagged NO for a store failure: "NO [CODE] text". */
void imap_store_error(struct imap_session *s, const char *tag, enum store_status st, const char *what);

/* ---- auth.c --------------------------------------------------------------- */
void imap_capability_line(struct imap_session *s, struct buf *b);
void imap_cmd_capability(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_starttls(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_login(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_authenticate(struct imap_session *s, struct imap_cmd *cmd);
void imap_auth_line(struct imap_session *s, const char *line, size_t len);
void imap_cmd_enable(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_id(struct imap_session *s, struct imap_cmd *cmd);
void imap_auth_cleanup(struct imap_session *s);

/* ---- mailboxes.c ---------------------------------------------------------- */
void imap_cmd_create(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_delete(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_rename(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_list(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_namespace(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_status(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_quota(struct imap_session *s, struct imap_cmd *cmd);  /* GETQUOTA GETQUOTAROOT SETQUOTA */

/* ---- select.c ------------------------------------------------------------- */
void imap_cmd_select(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_close(struct imap_session *s, struct imap_cmd *cmd);     /* CLOSE and UNSELECT */
void imap_view_free(struct imap_session *s);
/*
 * Bring the view up to date and announce what changed: EXISTS, FETCH
 * (FLAGS), and — when expunges_ok — EXPUNGE or VANISHED for messages
 * others removed.  RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or
 * SEARCH, nor with UID-less sequence numbers in flight.
 */
void imap_sync(struct imap_session *s, bool expunges_ok);
/* Sequence number of uid (1-based), 0 if not in the view. */
uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid);
/* Index of the first element >= x in the ascending array a. */
size_t imap_lower_bound(const uint32_t *a, size_t n, uint32_t x);
/*
 * Resolve set (sequence numbers, or UIDs when uid) to the ascending UIDs of
 * the view it names (*out malloc'd, NULL when none).  false: a sequence
 * number beyond the view (the caller answers BAD).
 */
bool imap_view_uids(struct imap_session *s, struct imap_seqset *set, bool uid, uint32_t **out, size_t *n);
/* Forget uids (this session's own EXPUNGE/MOVE), announcing EXPUNGE or VANISHED. */
void imap_view_remove(struct imap_session *s, const uint32_t *uids, size_t n);
/* The session's own change reached modseq: advance the view when nothing else happened meanwhile. */
void imap_view_own_change(struct imap_session *s, uint64_t modseq);
/* Announce FLAGS/PERMANENTFLAGS when new keywords appeared. */
void imap_view_flags_update(struct imap_session *s, const char *mailbox_keywords);
/* The same, reading the mailbox's keywords from the store. */
void imap_view_refresh_keywords(struct imap_session *s);
/*
 * Before a FETCH carrying keywords (space-separated) goes out: those the
 * client has not been told of join the view's and FLAGS/PERMANENTFLAGS are
 * announced.  Another session may have set them since the last FLAGS.
 */
void imap_view_announce_keywords(struct imap_session *s, const char *keywords);
void imap_put_flags(struct buf *b, uint32_t flags, const char *keywords, bool recent);
/* Whether uid is \Recent for this session (never for an IMAP4rev2 one: RFC 9051 dropped it). */
bool imap_is_recent(const struct imap_session *s, uint32_t uid);

/* ---- fetch.c / modify.c / searchcmd.c / append.c / idle.c ----------------- */
void imap_cmd_fetch(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_store(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_expunge(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_copy(struct imap_session *s, struct imap_cmd *cmd);   /* COPY and MOVE */
void imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd);
void imap_append_cleanup(struct imap_session *s);
void imap_cmd_idle(struct imap_session *s, struct imap_cmd *cmd);
void imap_idle_line(struct imap_session *s, const char *line, size_t len);
void imap_idle_wake(struct imap_session *s);
void imap_cmd_compress(struct imap_session *s, struct imap_cmd *cmd);
/*
 * The FETCH responses for uids (in the view, ascending) with cmd's
 * fetch-atts, unsolicited (NOTIFY MessageNew); never sets \Seen.  Stops
 * once output backs up past IMAP_OUTPUT_MAX: returns how many were done.
 */
size_t imap_fetch_unsolicited(struct imap_session *s, struct imap_cmd *cmd, const uint32_t *uids, size_t n);

/* ---- notify.c: NOTIFY (RFC 5465) -------------------------------------------- */
void imap_cmd_notify(struct imap_session *s, struct imap_cmd *cmd);
/* The IMAP_NEV_* message events the selected mailbox gets: all of them without NOTIFY. */
unsigned imap_notify_selected_events(const struct imap_session *s);
/* imap_sync announced uids (ascending) with EXISTS: MessageNew's fetch-atts follow. */
void imap_notify_new_messages(struct imap_session *s, const uint32_t *uids, size_t n);
/* News of other mailboxes (STATUS, LIST) and unsent MessageNew FETCHes, now. */
void imap_notify_push(struct imap_session *s);
/* A store notification while not in IDLE: everything, when no command is in progress. */
void imap_notify_wake(struct imap_session *s);
/* Something waits for the next point where it may be sent. */
bool imap_notify_pending(const struct imap_session *s);
/* Back to no NOTIFY (NOTIFY NONE, logout): watches removed first. */
void imap_notify_free(struct imap_session *s);

/* ---- urlauth.c: URLAUTH (RFC 4467) ------------------------------------------ */
void imap_cmd_genurlauth(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_resetkey(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_urlfetch(struct imap_session *s, struct imap_cmd *cmd);

#endif
