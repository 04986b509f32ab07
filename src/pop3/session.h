/*
 * session.h — one POP3 session's state, shared by the files of src/pop3/
 * (session.c: lifecycle, input loop, replies; auth.c: USER/PASS/AUTH;
 * maildrop.c: the INBOX snapshot, its lock and the UPDATE expunge;
 * commands.c: CAPA, STLS and the TRANSACTION commands; retr.c: the
 * multi-line responses sent as output drains).  Not for use outside
 * src/pop3/.
 *
 * States (RFC 1939 §3; the function that moves between them in brackets):
 *
 *   AUTHORIZATION --AUTH needing more [pop3_cmd_auth]--> SASL
 *   SASL --response line [pop3_auth_line]--> AUTHORIZATION (checking, busy)
 *   AUTHORIZATION --PASS / SASL done, password checked, maildrop locked
 *                   [pop3_login_finished]--> TRANSACTION
 *   TRANSACTION --QUIT [pop3_cmd_quit]--> UPDATE: \Seen for the retrieved
 *                   messages, expunge the marked ones, reply, close
 *   AUTHORIZATION --QUIT--> close;  AUTHORIZATION --STLS--> AUTHORIZATION (TLS)
 *   AUTHORIZATION / SASL --POP3_PRELOGIN_TIMEOUT_MS after connect--> "-ERR", close
 *   any --drop / timeout / shutdown [on_closed]--> closed: \Seen for the
 *                   retrieved messages, nothing deleted
 *
 * \Seen is not set message by message as RETRs complete (one durable store
 * transaction each, 1,000 fsyncs for 1,000 messages) but collected
 * (pop3_msg.retrieved) and set with one store_flags_change when the
 * session ends, however it ends.  RSET does not undo a retrieval; TOP is
 * not one.  At QUIT a message both retrieved and marked deleted gets no
 * \Seen: it is about to go.
 *
 * While busy (a password check in flight, or a failed login waiting out
 * its throttle delay) no input is read.  While a multi-line response is
 * being sent (s->send.kind != SEND_NONE) no input is read either, so
 * pipelined commands are answered strictly in order.
 */
#ifndef TERN_POP3_SESSION_H
#define TERN_POP3_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/authpool.h"
#include "auth/sasl.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "net/conn.h"
#include "pop3/dotstuff.h"
#include "pop3/parse.h"
#include "store/store.h"

#define POP3_AUTH_LINE_MAX 12288    /* SASL responses may exceed 255 octets (RFC 5034 §4) */
#define POP3_MAX_ERRORS 10          /* bad commands before the connection is closed */
#define POP3_TIMEOUT_MS (10 * 60 * 1000)   /* RFC 1939 §3: at least 10 minutes, in every state */
/*
 * From connect to login, whatever the client sends meanwhile (a trickle of
 * NOOPs, a stalled USER/PASS or AUTH exchange): the value IMAP uses before
 * login (IMAP_PREAUTH_TIMEOUT_MS), as Dovecot's login processes do.
 */
#define POP3_PRELOGIN_TIMEOUT_MS (60 * 1000)
#define POP3_OUTPUT_MAX (64 * 1024) /* queued output past which we wait for it to drain */
#define POP3_READ_CHUNK (64 * 1024) /* blob octets read per step of RETR/TOP */

struct pop3_server {
	const struct config *cfg;
	struct auth_pool *auth;
	struct store **stores;          /* one per loop thread, by loop_index() */
	size_t nstores;
	struct conn_handler handlers[2];
	uint64_t idle_timeout_ms;       /* POP3_TIMEOUT_MS; tests shorten it */
	uint64_t prelogin_timeout_ms;   /* POP3_PRELOGIN_TIMEOUT_MS; tests shorten it (sessions opened after) */
};

enum pop3_state {
	ST_AUTHORIZATION,
	ST_SASL,            /* AUTH: waiting for a continuation line */
	ST_TRANSACTION,
};

enum pop3_busy { BUSY_NONE, BUSY_AUTH, BUSY_DELAY };

/* One message of the maildrop, as it was at login. */
struct pop3_msg {
	uint32_t uid;
	uint32_t flags;                 /* store flags at login, \Seen kept current */
	uint64_t size;
	bool deleted;                   /* marked by DELE */
	bool retrieved;                 /* a RETR completed: \Seen due when the session ends */
};

struct pop3_maildrop {
	int64_t mailbox_id;
	uint32_t uidvalidity;
	bool locked;
	struct pop3_msg *msgs;          /* message number i is msgs[i - 1] */
	size_t n;
	size_t ndeleted;
	uint64_t size;                  /* all messages */
	uint64_t deleted_size;          /* marked ones */
};

enum pop3_send_kind { SEND_NONE, SEND_LIST, SEND_UIDL, SEND_MESSAGE };

/* A multi-line response in progress. */
struct pop3_send {
	enum pop3_send_kind kind;
	size_t next;                    /* LIST/UIDL: index of the next message to list */
	size_t index;                   /* MESSAGE: which message */
	bool retr;                      /* MESSAGE: RETR (retrieved when complete), else TOP */
	int fd;                         /* MESSAGE: the blob, -1 when none */
	uint64_t remaining;             /* MESSAGE: blob octets still to read */
	struct pop3_dotstuff ds;
	char *chunk;                    /* read buffer, POP3_READ_CHUNK octets */
	struct buf out;
};

struct pop3_session {
	struct pop3_server *srv;
	struct conn *c;                 /* NULL once the connection is gone (orphan) */
	struct loop *loop;
	enum pop3_state state;
	enum pop3_busy busy;
	bool orphan;                    /* connection gone while a password check runs: free when done */
	bool shutting_down;
	bool quit;
	unsigned errors;
	struct buf line;
	uint64_t last_active;           /* now_ms() of the last command line or response progress */
	uint64_t login_deadline;        /* now_ms() past which a session not logged in is closed */

	/* authentication */
	bool have_user;                 /* USER given, PASS expected */
	char user[POP3_USER_MAX + 1];   /* USER's name; after login the account's address */
	int64_t account_id;
	struct sasl *sasl;
	struct auth_request *areq;

	/* transaction */
	struct pop3_maildrop drop;
	struct pop3_send send;
	unsigned retrieved;             /* complete RETRs */
	unsigned deleted;               /* messages expunged at QUIT */
};

/* session.c */
/* Queue one response line (CRLF added). */
void pop3_reply(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "-ERR ..." that counts as a client error; closes the connection at POP3_MAX_ERRORS. */
void pop3_error(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_process(struct pop3_session *s);
void pop3_close(struct pop3_session *s);
struct store *pop3_store(struct pop3_session *s);
/* Run fn on the session's loop from another thread; frees an orphaned session instead. */
void pop3_post(struct pop3_session *s, void (*fn)(struct pop3_session *s));
/* Whether USER/PASS and AUTH may be used now (TLS up, or plaintext allowed). */
bool pop3_plaintext_ok(const struct pop3_session *s);
/* (Re)start the idle timer, counting from now; after the connection timer served something else. */
void pop3_idle_timer(struct pop3_session *s);
/*
 * Set \Seen on the retrieved messages (not on those marked deleted when
 * skip_deleted) in one store call, logging a failure; STORE_OK also when
 * there was nothing to do.  Durable on STORE_OK.
 */
enum store_status pop3_record_seen(struct pop3_session *s, bool skip_deleted);

/* auth.c */
void pop3_cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd);
/* A line in ST_SASL; line NULL: it was too long. */
void pop3_auth_line(struct pop3_session *s, const char *line, size_t len);
void pop3_auth_cleanup(struct pop3_session *s);

/* maildrop.c */
enum pop3_open_result { POP3_OPEN_OK, POP3_OPEN_INUSE, POP3_OPEN_FAILED };
/* Lock the account's INBOX and take the snapshot of its messages. */
enum pop3_open_result pop3_maildrop_open(struct pop3_maildrop *d, struct store *st, int64_t account_id);
/* Unlock and forget; safe on a maildrop never opened or already closed. */
void pop3_maildrop_close(struct pop3_maildrop *d);
/*
 * The message numbered num if it exists and is not marked deleted; else
 * NULL with *why saying which ("No such message", "Message is deleted").
 */
struct pop3_msg *pop3_maildrop_get(struct pop3_maildrop *d, uint64_t num, const char **why);
/*
 * \Seen for the retrieved messages (skip_deleted: not those marked
 * deleted), one store_flags_change for all; *n counts them.  They are no
 * longer "retrieved" on STORE_OK.  Durable on STORE_OK.
 */
enum store_status pop3_maildrop_mark_seen(struct pop3_maildrop *d, struct store *st, bool skip_deleted, size_t *n);
/*
 * Expunge the marked messages (UPDATE); *removed counts them.  Durable on
 * STORE_OK; the expunged ones are then no longer "retrieved" either.
 */
enum store_status pop3_maildrop_update(struct pop3_maildrop *d, struct store *st, unsigned *removed);

/* commands.c */
void pop3_cmd_capa(struct pop3_session *s);
void pop3_cmd_stls(struct pop3_session *s);
void pop3_cmd_quit(struct pop3_session *s);
/* STAT LIST UIDL DELE RSET NOOP (TRANSACTION state). */
void pop3_cmd_transaction(struct pop3_session *s, const struct pop3_cmd *cmd);

/* retr.c */
void pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd);   /* RETR and TOP */
/* Start LIST or UIDL without argument ("+OK" already sent). */
void pop3_send_listing(struct pop3_session *s, enum pop3_send_kind kind);
/* Send more of the response in progress; true when it is complete. */
bool pop3_send_step(struct pop3_session *s);
void pop3_send_cleanup(struct pop3_session *s);

#endif
