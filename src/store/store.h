/*
 * store.h — the mailstore: domains, accounts, aliases, mailboxes, messages,
 * the outbound queue, and durable delivery.
 *
 * Two kinds of handle:
 *
 *  - struct store: a connection to the index, for one thread at a time
 *    (each loop thread, each auth worker and the CLI open their own).  All
 *    its calls are synchronous quick local disk operations.
 *
 *  - struct store_writer: the delivery committer, one per process, with its
 *    own thread.  store_deliver() hands it a message; it batches whatever
 *    deliveries are pending into one group commit (one syncfs for all their
 *    blobs, one index transaction), then calls each delivery's done
 *    callback on the writer thread.  A delivery is reported STORE_OK only
 *    once blob and index rows are durable.
 *
 * Addresses passed in are normalised by the caller: local part as received
 * (compared case-insensitively in ASCII), domain lower-case ASCII (IDN as
 * A-labels).  The store never sees protocol details; its statuses are mapped
 * to reply codes by each protocol.
 *
 * A backend implements struct store_ops (store/backend.h); the SQLite one
 * lives in store/sqlite/.
 */
#ifndef TERN_STORE_STORE_H
#define TERN_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/meta.h"

enum store_status {
	STORE_OK = 0,
	STORE_NOTFOUND,     /* no such domain / account / alias / message */
	STORE_EXISTS,       /* already there */
	STORE_INVALID,      /* malformed name or address */
	STORE_INUSE,        /* domain still has accounts or aliases */
	STORE_QUOTA,        /* over quota (later) */
	STORE_IOERR,        /* disk or database failure: temporary for the client */
};

const char *store_status_str(enum store_status st);

struct store;
struct store_writer;

/* ---- opening ------------------------------------------------------------ */

/*
 * Open (creating and migrating on first use) the store in data_dir.
 * Returns NULL and logs on failure.  The data directory layout:
 *   data_dir/index.db   SQLite index (WAL)
 *   data_dir/blobs/     message files, blobs/XY/<id>
 *   data_dir/spool/     files being received, not yet committed
 */
struct store *store_open(const char *data_dir);
void store_close(struct store **s);

/*
 * Path of the spool directory (in data_dir) where sessions write incoming
 * messages, directly or in subdirectories one level down.
 */
const char *store_spool_dir(struct store *s);

/*
 * Remove leftovers of a crash: spool files and blobs that no index row
 * references.  Call once at server start, before any delivery.
 */
void store_recover(struct store *s);

/* ---- domains ------------------------------------------------------------ */

enum store_status store_domain_add(struct store *s, const char *domain);
enum store_status store_domain_del(struct store *s, const char *domain);   /* STORE_INUSE if not empty */
bool store_domain_is_local(struct store *s, const char *domain);
typedef void (*store_name_cb)(void *ctx, const char *name);
enum store_status store_domain_list(struct store *s, store_name_cb cb, void *ctx);

/* ---- accounts ----------------------------------------------------------- */

struct store_account {
	int64_t id;
	char address[320];      /* localpart@domain as created */
	char *password_hash;    /* owned by the struct; free with store_account_clear */
	uint64_t quota_storage; /* octets, 0 = unlimited */
	uint64_t quota_messages;
};

/* Creates the account with INBOX, Sent, Drafts, Junk, Trash, Archive (SPECIAL-USE), one transaction. */
enum store_status store_account_add(struct store *s, const char *address, const char *password_hash);
enum store_status store_account_passwd(struct store *s, const char *address, const char *password_hash);
/* Removes the account, its mailboxes and messages; blobs no longer referenced are deleted. */
enum store_status store_account_del(struct store *s, const char *address);
/* Exact account (no alias, no +tag); case-insensitive local part. */
enum store_status store_account_get(struct store *s, const char *address, struct store_account *out);
void store_account_clear(struct store_account *a);
typedef void (*store_account_cb)(void *ctx, const struct store_account *a);
/* domain NULL: all accounts. */
enum store_status store_account_list(struct store *s, const char *domain, store_account_cb cb, void *ctx);

/* ---- aliases ------------------------------------------------------------ */

/*
 * alias is "local@domain", or "@domain" for the domain's catch-all.  Targets
 * are addresses, local or remote.  Adding to an existing alias adds the new
 * targets to it.  The alias's domain must be local.
 */
enum store_status store_alias_add(struct store *s, const char *alias, const char *const *targets, size_t ntargets);
enum store_status store_alias_del(struct store *s, const char *alias);
typedef void (*store_alias_cb)(void *ctx, const char *alias, const char *const *targets, size_t ntargets);
enum store_status store_alias_list(struct store *s, store_alias_cb cb, void *ctx);

/* ---- recipients --------------------------------------------------------- */

#define STORE_MAX_EXPANSION 100   /* final recipients one address may expand to */

struct store_rcpt {
	size_t naccounts;
	int64_t account_ids[STORE_MAX_EXPANSION];
	size_t nremote;
	char *remote[STORE_MAX_EXPANSION];   /* owned; free with store_rcpt_clear */
};

/*
 * Resolve a recipient in a local domain: exact alias, then account, then the
 * same two without a "+tag" in the local part, then the domain's catch-all.
 * Aliases expand recursively (depth 10, duplicates removed).  Returns
 * STORE_NOTFOUND when nothing matches (postmaster@ is the caller's rule).
 */
enum store_status store_resolve_rcpt(struct store *s, const char *address, struct store_rcpt *out);
void store_rcpt_clear(struct store_rcpt *r);

/*
 * Whether account_id may use address as envelope sender: its own address,
 * that with a +tag, or an alias (not a catch-all) that expands to it.
 */
bool store_sender_allowed(struct store *s, int64_t account_id, const char *address);

/* ---- mailboxes and messages --------------------------------------------- */

struct store_mailbox {
	int64_t id;
	char name[512];             /* UTF-8, '/' separated */
	char special_use[16];       /* "\\Sent" etc., "" if none */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
};

enum store_status store_mailbox_get(struct store *s, int64_t account_id, const char *name, struct store_mailbox *out);
typedef void (*store_mailbox_cb)(void *ctx, const struct store_mailbox *mb);
enum store_status store_mailbox_list(struct store *s, int64_t account_id, store_mailbox_cb cb, void *ctx);

/* System flags as bits; keywords are kept apart. */
enum {
	STORE_FLAG_SEEN     = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED  = 1 << 2,
	STORE_FLAG_DELETED  = 1 << 3,
	STORE_FLAG_DRAFT    = 1 << 4,
};

struct store_message {
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;
	const char *keywords;       /* space-separated, "" if none */
	int64_t internaldate;       /* Unix time */
	uint64_t size;
	const char *from;           /* decoded, for listings */
	const char *subject;
};
typedef void (*store_message_cb)(void *ctx, const struct store_message *m);
enum store_status store_message_list(struct store *s, int64_t mailbox_id, store_message_cb cb, void *ctx);

/* Open a message's blob read-only; *size is the message size.  Caller closes fd. */
enum store_status store_message_open(struct store *s, int64_t mailbox_id, uint32_t uid, int *fd, uint64_t *size);

/* ---- outbound queue ----------------------------------------------------- */

struct store_queue_entry {
	int64_t id;
	const char *sender;         /* envelope sender, "" for <> */
	const char *rcpt;
	const char *orcpt;          /* DSN ORCPT as received (xtext decoded), "" if none */
	unsigned notify;            /* DSN NOTIFY bits, see smtp; 0 = not given */
	const char *ret;            /* "FULL", "HDRS" or "" */
	const char *envid;          /* "" if none */
	uint64_t size;
	int64_t created;
	int64_t next_attempt;
	unsigned attempts;
	const char *last_error;     /* "" if none */
	const char *message_id;     /* tern's id of the message */
};
typedef void (*store_queue_cb)(void *ctx, const struct store_queue_entry *e);
enum store_status store_queue_list(struct store *s, store_queue_cb cb, void *ctx);
enum store_status store_queue_delete(struct store *s, int64_t id);   /* blob freed when unreferenced */
enum store_status store_queue_retry(struct store *s, int64_t id);    /* next_attempt = now */

/* ---- delivery (the group-commit writer) --------------------------------- */

struct store_remote_rcpt {
	const char *rcpt;
	const char *orcpt;
	unsigned notify;
};

struct store_delivery {
	/* Filled by the caller. */
	const char *spool_path;     /* complete message file in store_spool_dir(); the store takes it over */
	uint64_t size;              /* file size */
	const char *message_id;     /* tern's id, for logs and the queue */
	int64_t internaldate;
	const struct mail_meta *meta;   /* required when naccounts > 0 */
	const int64_t *account_ids;     /* local recipients: each gets the message in INBOX */
	size_t naccounts;
	const struct store_remote_rcpt *remote; /* queued for outbound delivery */
	size_t nremote;
	uint64_t queue_offset;      /* remote copies start this many octets into the file (skips Return-Path) */
	const char *sender;         /* envelope sender, "" for <> */
	const char *ret;            /* DSN RET or NULL */
	const char *envid;          /* DSN ENVID or NULL */

	/* Set by the writer before done() is called. */
	enum store_status status;

	/* Called once, on the writer thread, when the delivery is durable or has failed. */
	void (*done)(struct store_delivery *d);
	void *arg;                  /* for the caller */
};

struct store_writer *store_writer_start(const char *data_dir);
/* Finish pending deliveries (their done callbacks run), then stop. */
void store_writer_stop(struct store_writer **w);
void store_deliver(struct store_writer *w, struct store_delivery *d);

#endif
