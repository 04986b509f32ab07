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
	STORE_QUOTA,        /* over the account's quota */
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
 * A handle for each of nloops event-loop threads (a handle serves one
 * thread at a time), each with its own spool subdirectory
 * store_spool_dir()/<i>: threads creating files side by side in one
 * directory queue up on its lock.  NULL (logged) on failure.
 */
struct store **store_open_per_loop(const char *data_dir, size_t nloops);
void store_close_per_loop(struct store ***stores, size_t nloops);

/*
 * Path of the spool directory (in data_dir) where sessions write incoming
 * messages, directly or in subdirectories one level down.
 */
const char *store_spool_dir(struct store *s);

/*
 * Create an empty message file where the store keeps it for good, so a
 * delivery need not move it (store_delivery.blob_id): open for writing,
 * mode 0640.  blob_id gets its id (idsize >= STORE_BLOB_ID_MAX), *path
 * its path (the caller frees it).  -1 (logged) on failure.  Until a
 * delivery of it commits the file is nobody's: the caller removes it if
 * it gives up, and store_recover removes it after a crash.
 */
#define STORE_BLOB_ID_MAX 64
int store_blob_create(struct store *s, char *blob_id, size_t idsize, char **path);

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

/* ---- what IMAP and POP3 need -------------------------------------------- */

/*
 * Mailbox names given to and returned by these calls are UTF-8 with '/' as
 * the hierarchy separator ("INBOX" case-insensitive, every other name
 * exact); the protocols translate (modified UTF-7, other separators).
 * Names are at most STORE_MAILBOX_NAME_MAX octets, no empty levels, no
 * leading or trailing '/', no control characters, no '*' or '%'.
 */
#define STORE_MAILBOX_NAME_MAX 500
#define STORE_KEYWORDS_MAX 1024     /* octets of a message's keyword list */
#define STORE_MAILBOX_KEYWORDS_MAX 64   /* distinct keywords per mailbox */

struct store_mailbox_info {
	int64_t id;
	const char *name;
	const char *special_use;    /* "\\Sent" etc., "" if none */
	bool subscribed;
	bool has_children;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;            /* messages without \Seen */
	uint32_t deleted;           /* messages with \Deleted */
	uint64_t size;              /* sum of message sizes */
	const char *keywords;       /* keywords used in the mailbox, space-separated */
	uint32_t first_recent_uid;  /* \Recent: no session has claimed UIDs from here on */
	uint32_t recent;            /* messages from first_recent_uid on */
};
typedef void (*store_mailbox_info_cb)(void *ctx, const struct store_mailbox_info *mb);

/* Every mailbox of the account with its status, INBOX first, then by name. */
enum store_status store_mailbox_infos(struct store *s, int64_t account_id, store_mailbox_info_cb cb, void *ctx);
/* One mailbox by name (STORE_NOTFOUND if none). */
enum store_status store_mailbox_info(struct store *s, int64_t account_id, const char *name,
				     store_mailbox_info_cb cb, void *ctx);

/*
 * Create name (special_use "" or one of \Archive \Drafts \Junk \Sent
 * \Trash \All \Flagged; STORE_INVALID otherwise), creating missing
 * parents too.  STORE_EXISTS if name exists.
 */
enum store_status store_mailbox_create(struct store *s, int64_t account_id, const char *name,
				       const char *special_use);
/*
 * Delete name and its messages.  STORE_INVALID for INBOX, STORE_INUSE when
 * it has children, STORE_NOTFOUND when absent.
 */
enum store_status store_mailbox_delete(struct store *s, int64_t account_id, const char *name);
/*
 * Rename from to to, children along (from/x becomes to/x), creating missing
 * parents of to.  Renaming INBOX moves its messages to a new mailbox to
 * and leaves INBOX empty (RFC 9051 §6.3.6).  STORE_EXISTS if to exists,
 * STORE_NOTFOUND if from does not, STORE_INVALID for to inside from.
 */
enum store_status store_mailbox_rename(struct store *s, int64_t account_id, const char *from, const char *to);
/*
 * Subscriptions are names (RFC 9051 §6.3.10): SUBSCRIBE needs the mailbox
 * (STORE_NOTFOUND), UNSUBSCRIBE does not; a subscription outlives DELETE
 * and follows RENAME; CREATE does not subscribe (an account's first
 * mailboxes are).
 */
enum store_status store_mailbox_subscribe(struct store *s, int64_t account_id, const char *name, bool on);
/* Every subscribed name of the account, by name, whether its mailbox exists or not. */
enum store_status store_subscriptions(struct store *s, int64_t account_id, store_name_cb cb, void *ctx);

/*
 * URLAUTH (RFC 4467): the secret key of a mailbox.  When it has none and
 * new_key is given, new_key becomes its key (the caller makes it random);
 * STORE_NOTFOUND when there is none (or no such mailbox).
 */
#define STORE_URLAUTH_KEY_LEN 32
enum store_status store_urlauth_key(struct store *s, int64_t mailbox_id, const uint8_t *new_key,
				    uint8_t key[STORE_URLAUTH_KEY_LEN]);
/* RESETKEY: forget the key of one mailbox of the account (mailbox_id > 0) or of every one. */
enum store_status store_urlauth_reset(struct store *s, int64_t account_id, int64_t mailbox_id);

/* Everything the index holds of a message. */
struct store_message_data {
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;
	const char *keywords;       /* space-separated, "" if none */
	int64_t internaldate;
	uint64_t size;
	int64_t sent_date;
	const char *envelope;
	const char *body;
	const char *bodystructure;
	const char *parts;          /* part map (mime.h) */
	uint64_t header_size;
	uint64_t body_lines;
	const char *subject;
	const char *from;
	const char *blob_id;        /* for store_blob_open */
};
/* Return non-zero to stop the iteration early. */
typedef int (*store_message_data_cb)(void *ctx, const struct store_message_data *m);

/*
 * Messages with uid_lo <= uid <= uid_hi in UID order, at most limit of
 * them (0: no limit).  Returns STORE_OK also when the callback stopped it.
 * Rows are streamed from one read transaction: the callback may read
 * through s and open blobs, but must not change anything through s nor
 * call store_message_range on it again.
 */
enum store_status store_message_range(struct store *s, int64_t mailbox_id, uint32_t uid_lo, uint32_t uid_hi,
				      size_t limit, store_message_data_cb cb, void *ctx);
/*
 * The UIDs of a mailbox (ascending, *uids malloc'd, caller frees), the
 * highestmodseq they reflect and the UID of the first message without
 * \Seen (0: none; for IMAP4rev1's [UNSEEN n]), read in one snapshot: what
 * SELECT needs, and nothing more, so that it stays quick on a
 * 100,000-message mailbox.  highestmodseq and first_unseen may be NULL.
 */
enum store_status store_mailbox_uids(struct store *s, int64_t mailbox_id, uint32_t **uids, size_t *n,
				     uint64_t *highestmodseq, uint32_t *first_unseen);
/*
 * \Recent (RFC 3501 §2.3.2): the first session to learn of a message sees
 * it as recent.  Claim for the caller the UIDs below upto not claimed yet:
 * *from receives where the unclaimed ones began (nothing was claimed when
 * *from >= upto).  Does not count as a change of the mailbox (no modseq).
 */
enum store_status store_mailbox_recent_claim(struct store *s, int64_t mailbox_id, uint32_t upto, uint32_t *from);
/* Open a blob (from store_message_data.blob_id) read-only.  Caller closes fd. */
enum store_status store_blob_open(struct store *s, const char *blob_id, int *fd);

/* What changed in a mailbox after a modseq (for untagged updates and QRESYNC). */
struct store_change {
	uint32_t uid;
	uint64_t modseq;
	bool expunged;              /* else: new or changed, flags/keywords current */
	uint32_t flags;
	const char *keywords;
};
typedef void (*store_change_cb)(void *ctx, const struct store_change *c);
/*
 * Report every message and every expunge with modseq > since, in modseq
 * order (expunges of one modseq before changes of the same), and the
 * mailbox's current highestmodseq and uidnext.  STORE_NOTFOUND if the
 * mailbox is gone.
 */
enum store_status store_mailbox_changes(struct store *s, int64_t mailbox_id, uint64_t since,
					store_change_cb cb, void *ctx, uint64_t *highestmodseq,
					uint32_t *uidnext);

enum store_flag_op { STORE_FLAGS_ADD, STORE_FLAGS_REMOVE, STORE_FLAGS_REPLACE };

/*
 * Change the flags (and keywords, space-separated; NULL = none) of the
 * given UIDs (ascending, unknown ones ignored).  With unchangedsince > 0
 * (CONDSTORE), a message whose modseq is above it is not changed and its
 * UID goes to *failed (caller frees; *nfailed set).  Every message whose
 * flags actually change gets one new modseq; changed() reports each with
 * its new state.  One transaction, durable on return.  STORE_QUOTA-free;
 * STORE_INVALID when the mailbox would exceed STORE_MAILBOX_KEYWORDS_MAX.
 */
enum store_status store_flags_change(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
				     enum store_flag_op op, uint32_t flags, const char *keywords,
				     uint64_t unchangedsince, store_change_cb changed, void *ctx,
				     uint32_t **failed, size_t *nfailed);

/*
 * Remove messages: the given UIDs (ascending; NULL with n = 0: every
 * message), only those with \Deleted when only_deleted.  Each removed
 * message is reported (expunged = true, with the new modseq) and recorded
 * for QRESYNC.  One transaction, durable on return; blobs nobody uses any
 * more are deleted.
 */
enum store_status store_expunge(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
				bool only_deleted, store_change_cb removed, void *ctx);

/*
 * Copy (or move) the given UIDs (ascending) to another mailbox of the same
 * account.  new_uids[i] receives the UID in the destination for uids[i]
 * (0 if that source message did not exist).  Flags and keywords are kept
 * (\Recent has no meaning here).  Checks the account's quota: STORE_QUOTA
 * with nothing done.  A move removes the sources like store_expunge (they
 * are reported through removed).  One transaction, durable on return.
 */
enum store_status store_copy(struct store *s, int64_t src_mailbox_id, int64_t dst_mailbox_id,
			     const uint32_t *uids, size_t n, bool move, uint32_t *new_uids,
			     store_change_cb removed, void *ctx);

/* Usage and limits of an account (0 limit = unlimited). */
struct store_quota {
	uint64_t storage_used, storage_limit;   /* octets */
	uint64_t messages_used, messages_limit;
};
enum store_status store_quota_get(struct store *s, int64_t account_id, struct store_quota *out);
/* Set the limits of an account (0 = unlimited). */
enum store_status store_quota_set(struct store *s, const char *address, uint64_t storage, uint64_t messages);
/* Whether one more message of size octets fits: STORE_OK or STORE_QUOTA. */
enum store_status store_quota_check(struct store *s, int64_t account_id, uint64_t size);

/*
 * Change notification inside one process.  Whoever commits a change to a
 * mailbox (sessions, the writer) calls store_notify(mailbox_id); every
 * watcher of that mailbox gets fn(arg) on the notifier's thread, so fn must
 * be quick and thread-safe (typically: post an event to its own loop).
 * Changes made by other processes (the CLI) are seen at the next poll.
 * The store calls store_notify itself after committing any of the calls
 * above that change a mailbox, and after each delivery group.
 * fn runs while the watcher table's mutex is held (that is what makes
 * store_watch_remove a barrier): it must never call store_watch_add,
 * store_watch_remove or store_notify (deadlock).
 */
struct store_watch;
struct store_watch *store_watch_add(int64_t mailbox_id, void (*fn)(void *arg), void *arg);
/* After this returns fn is not running and will not be called again. */
void store_watch_remove(struct store_watch **w);
void store_notify(int64_t mailbox_id);
/*
 * The same per account, for changes to its list of mailboxes: a mailbox
 * created, deleted or renamed, a subscription added or removed.  The
 * store calls store_notify_account after each of those commits (what
 * changed is for the watcher to find out); the same rules for fn apply.
 * Remove with store_watch_remove.
 */
struct store_watch *store_account_watch_add(int64_t account_id, void (*fn)(void *arg), void *arg);
void store_notify_account(int64_t account_id);

/*
 * In-process exclusive lock on a mailbox (POP3's one session per maildrop).
 * It lives in memory only, so a crashed server never leaves it held.
 * false when someone else holds it.
 */
bool store_mailbox_lock(int64_t mailbox_id);
void store_mailbox_unlock(int64_t mailbox_id);

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
	const char *blob_id;        /* the message file (store_blob_path) */
	uint64_t queue_offset;      /* the message starts this many octets into the blob */
	bool held;                  /* `tern queue hold`: not tried until released */
	bool warned;                /* the delay DSN went out */
	bool body_8bit;             /* BODY=8BITMIME at MAIL FROM */
	bool smtputf8;              /* SMTPUTF8 at MAIL FROM */
	bool requiretls;            /* REQUIRETLS at MAIL FROM */
};
typedef void (*store_queue_cb)(void *ctx, const struct store_queue_entry *e);
/* Every entry, oldest first. */
enum store_status store_queue_list(struct store *s, store_queue_cb cb, void *ctx);
/* Entries not held whose next_attempt <= now, soonest first, at most limit of them. */
enum store_status store_queue_due(struct store *s, int64_t now, size_t limit, store_queue_cb cb, void *ctx);
/* The earliest next_attempt of the entries not held; 0 in *when when there is none. */
enum store_status store_queue_next_due(struct store *s, int64_t *when);
enum store_status store_queue_delete(struct store *s, int64_t id);   /* blob freed when unreferenced */
enum store_status store_queue_retry(struct store *s, int64_t id);    /* next_attempt = now */
enum store_status store_queue_hold(struct store *s, int64_t id, bool held);
/*
 * The scheduler's outcomes of one job in one transaction (one sync for
 * all its recipients): finished rows (delivered or bounced) go, quietly
 * (store_queue_delete is the operator's and logs); deferred ones get
 * attempts + 1, last_error and their next attempt (and warned when set).
 * Rows already gone are skipped.  Durable on return, like every call here.
 */
enum store_queue_op { STORE_QUEUE_FINISH, STORE_QUEUE_DEFER };
struct store_queue_outcome {
	int64_t id;
	enum store_queue_op op;
	int64_t next_attempt;       /* DEFER */
	const char *error;          /* DEFER: the new last_error */
	bool warned;                /* DEFER: the delay notice went out */
};
enum store_status store_queue_apply(struct store *s, const struct store_queue_outcome *o, size_t n);
/*
 * Every entry at once, one statement: RETRY (due now), HOLD, RELEASE
 * (not held, due now).  *changed gets the number of rows changed.
 */
enum store_queue_all_op { STORE_QUEUE_RETRY_ALL, STORE_QUEUE_HOLD_ALL, STORE_QUEUE_RELEASE_ALL };
enum store_status store_queue_all(struct store *s, enum store_queue_all_op op, uint64_t *changed);
/* The file of a blob (for the SMTP client, which streams it); false if out is too small. */
bool store_blob_path(struct store *s, const char *blob_id, char *out, size_t size);

/*
 * The queue scheduler's wake-up: the writer calls fn(arg) (on its thread)
 * after each durable group that queued remote recipients.  One watcher
 * per process; fn must be quick and thread-safe (post to a loop).
 */
void store_queue_watch(void (*fn)(void *arg), void *arg);
void store_queue_notify(void);

/* ---- TLS reporting (RFC 8460) -------------------------------------------- */

/*
 * The outbound TLS results of each UTC day, per recipient (policy) domain,
 * aggregated: one row per day, domain, policy and failure detail, whose
 * count grows with each session recorded (an UPSERT).  A success row has
 * result_type "" and no sending/receiving details.  Strings are cut to
 * the STORE_TLSRPT_*_MAX limits (policy_strings and mx_hosts at a line
 * boundary), so hostile DNS or policy text cannot grow a row without end.
 */
#define STORE_TLSRPT_DAY_LEN 10             /* "YYYY-MM-DD" */
#define STORE_TLSRPT_DOMAIN_MAX 253
#define STORE_TLSRPT_POLICY_MAX 4096        /* policy_strings: one policy-string per line */
#define STORE_TLSRPT_MX_MAX 2048            /* mx_hosts: one pattern per line */
#define STORE_TLSRPT_TYPE_MAX 40            /* policy_type, result_type */
#define STORE_TLSRPT_HOST_MAX 255           /* receiving_mx */
#define STORE_TLSRPT_IP_MAX 63              /* sending_ip, receiving_ip */

struct store_tlsrpt_result {
	const char *day;            /* "YYYY-MM-DD", UTC */
	const char *domain;         /* the policy domain, lower case */
	const char *policy_type;    /* "sts", "tlsa", "no-policy-found" */
	const char *policy_strings; /* "" or lines joined by '\n' */
	const char *mx_hosts;       /* "" or lines joined by '\n' (MTA-STS mx patterns) */
	const char *result_type;    /* "" for success, else an RFC 8460 §4.3 result type */
	const char *sending_ip;     /* failures only, "" otherwise */
	const char *receiving_mx;
	const char *receiving_ip;
	uint64_t count;             /* sessions: added to the row's count on record */
};
/* Add r->count sessions to r's row (created when new).  One statement. */
enum store_status store_tlsrpt_record(struct store *s, const struct store_tlsrpt_result *r);

/* A day and domain with results: the sessions that succeeded and failed. */
struct store_tlsrpt_pending {
	const char *day;
	const char *domain;
	uint64_t successes, failures;
};
typedef void (*store_tlsrpt_pending_cb)(void *ctx, const struct store_tlsrpt_pending *p);
/* Every day and domain with results, oldest day first, then by domain, at most limit (0: no limit). */
enum store_status store_tlsrpt_pending(struct store *s, size_t limit, store_tlsrpt_pending_cb cb, void *ctx);
typedef void (*store_tlsrpt_row_cb)(void *ctx, const struct store_tlsrpt_result *r);
/* The rows of one day and domain, by policy, then successes first; strings valid during cb only. */
enum store_status store_tlsrpt_rows(struct store *s, const char *day, const char *domain,
				    store_tlsrpt_row_cb cb, void *ctx);
/* Remove the rows of one day and domain (reported, or given up on); *removed may be NULL. */
enum store_status store_tlsrpt_delete(struct store *s, const char *day, const char *domain, uint64_t *removed);

/* ---- DMARC aggregate reports (RFC 7489 §7.2) ------------------------------ */

/*
 * What the SMTP receiver saw of each UTC day's mail, per policy domain,
 * aggregated: one row per distinct (source IP, identifiers, results),
 * whose count grows with each flush (an UPSERT).  published and rua are
 * the policy record last seen for the domain ("adkim=r aspf=r p=none
 * sp=none pct=100"; the rua= URIs joined by ','), kept with the rows so
 * that the report says what was published when the mail came.  Strings
 * are cut to the STORE_DMARCRPT_*_MAX limits.
 */
#define STORE_DMARCRPT_DOMAIN_MAX 253
#define STORE_DMARCRPT_IP_MAX 63
#define STORE_DMARCRPT_WORD_MAX 16          /* dispositions and results: "quarantine", "temperror" */
#define STORE_DMARCRPT_PUBLISHED_MAX 128
#define STORE_DMARCRPT_RUA_MAX 1100         /* DMARC_URIS_MAX URIs of DMARC_URI_MAX, and commas */

struct store_dmarcrpt_row {
	const char *day;            /* "YYYY-MM-DD", UTC */
	const char *domain;         /* the policy domain (where the record was found), lower case */
	const char *source_ip;
	const char *header_from;
	const char *envelope_from;  /* the SPF domain ("" when none) */
	const char *disposition;    /* none | quarantine | reject */
	const char *eval_dkim;      /* policy_evaluated dkim: pass | fail */
	const char *eval_spf;       /* policy_evaluated spf: pass | fail */
	const char *dkim_domain;    /* "" when the message had no signature */
	const char *dkim_result;
	const char *spf_result;
	const char *published;
	const char *rua;
	uint64_t count;
};
/* Add each row's count (created when new); all n rows in one transaction. */
enum store_status store_dmarcrpt_record(struct store *s, const struct store_dmarcrpt_row *rows, size_t n);

struct store_dmarcrpt_pending {
	const char *day;
	const char *domain;
	uint64_t messages;
};
typedef void (*store_dmarcrpt_pending_cb)(void *ctx, const struct store_dmarcrpt_pending *p);
/* Every day and domain with rows, oldest day first, then by domain, at most limit (0: no limit). */
enum store_status store_dmarcrpt_pending(struct store *s, size_t limit, store_dmarcrpt_pending_cb cb, void *ctx);
typedef void (*store_dmarcrpt_row_cb)(void *ctx, const struct store_dmarcrpt_row *r);
/* The rows of one day and domain, by source IP; strings valid during cb only. */
enum store_status store_dmarcrpt_rows(struct store *s, const char *day, const char *domain,
				      store_dmarcrpt_row_cb cb, void *ctx);
/* Remove the rows of one day and domain (reported, or given up on); *removed may be NULL. */
enum store_status store_dmarcrpt_delete(struct store *s, const char *day, const char *domain, uint64_t *removed);

/* ---- delivery (the group-commit writer) --------------------------------- */

struct store_remote_rcpt {
	const char *rcpt;
	const char *orcpt;
	unsigned notify;
};

struct store_delivery {
	/* Filled by the caller. */
	const char *spool_path;     /* complete message file in store_spool_dir(); the store takes it over */
	const char *blob_id;        /* or: spool_path came from store_blob_create with this id */
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
	bool body_8bit;             /* BODY=8BITMIME: told to the next hop */
	bool smtputf8;              /* SMTPUTF8: the next hop must support it */
	bool requiretls;            /* REQUIRETLS (RFC 8689): only over verified TLS to a peer that offers it */
	bool junk;                  /* local copies go to each account's \Junk mailbox (INBOX when it has none) */

	/*
	 * APPEND: with mailbox_id > 0 the message goes to that mailbox (of
	 * account_ids[0], naccounts = 1) with these flags and keywords instead
	 * of to INBOX.  Either way every account's quota is enforced: an
	 * account over it gets no copy (logged) while the others get theirs;
	 * STORE_QUOTA only when no copy at all could be made for that reason.
	 */
	int64_t mailbox_id;
	uint32_t flags;
	const char *keywords;

	/*
	 * MULTIAPPEND (RFC 3502): the next delivery of a chain handed over by
	 * one store_deliver() of its first.  A chain (at most
	 * STORE_ATOMIC_MAX) commits in one transaction, all or none: every
	 * one STORE_OK, or every one failed with the first failure's status.
	 * done() is called for each, in chain order, the last one last.
	 */
	struct store_delivery *atomic_next;

	/* Set by the writer before done() is called. */
	enum store_status status;
	uint32_t uid;               /* APPEND: the new message's UID */
	uint32_t uidvalidity;       /* APPEND: of the mailbox */

	/* Called once, on the writer thread, when the delivery is durable or has failed. */
	void (*done)(struct store_delivery *d);
	void *arg;                  /* for the caller */
};

#define STORE_ATOMIC_MAX 128     /* deliveries in one atomic chain */

struct store_writer *store_writer_start(const char *data_dir);
/* Finish pending deliveries (their done callbacks run), then stop. */
void store_writer_stop(struct store_writer **w);
void store_deliver(struct store_writer *w, struct store_delivery *d);

#endif
