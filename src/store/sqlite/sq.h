/*
 * sq.h — internals shared by the files of the SQLite store backend.
 *
 *   db.c       connection set-up (pragmas), prepared-statement cache, transactions
 *   schema.c   versioned schema and migrations
 *   backend.c  store_sqlite_ops, open/close
 *   blob.c     blob file paths, unlinking freed blobs, crash recovery
 *   domain.c   domains
 *   account.c  accounts (and their initial mailboxes)
 *   alias.c    aliases and their targets
 *   resolve.c  recipient resolution, sender checks
 *   mailbox.c  mailboxes and messages: reading, counters, modseq and keyword helpers
 *   mbox_admin.c  creating, deleting, renaming, subscribing mailboxes
 *   flags.c    flag and keyword changes, expunge, changes since a modseq
 *   copy.c     copying and moving messages between mailboxes
 *   quota.c    account quotas
 *   uids.c     the UID list for SELECT (cached process-wide), \Recent claims
 *   queue.c    the outbound queue
 *   tlsrpt.c   TLS reporting results (RFC 8460)
 *   dmarcrpt.c DMARC aggregate report rows (RFC 7489 §7.2)
 *   report_rows.c  what tlsrpt.c and dmarcrpt.c share: the day check, delete by day and domain
 *   writer.c   the group-commit delivery thread
 *
 * Nothing here leaks out of store/sqlite/: callers see store.h only.
 */
#ifndef TERN_STORE_SQLITE_SQ_H
#define TERN_STORE_SQLITE_SQ_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "store/backend.h"
#include "store/names.h"
#include "store/store.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_BLOB_ID_LEN 24
#define SQ_PATH_MAX 4096
/* the system flags the index keeps (store.h); other bits are dropped */
#define SQ_FLAGS_ALL (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DELETED | \
		      STORE_FLAG_DRAFT)

struct sq_cached_stmt {
	const char *sql;        /* identity of a static SQL string */
	sqlite3_stmt *stmt;
};

/* One connection to index.db; used by one thread at a time (see store.h). */
struct store_sq {
	struct store_base base; /* first: store.c finds the ops through it */
	sqlite3 *db;
	char *data_dir;
	char *spool_dir;
	char *blob_dir;
	struct sq_cached_stmt *stmts;
	size_t nstmts;
};

/* ---- db.c --------------------------------------------------------------- */

/* Create the directories, open and migrate index.db.  NULL (logged) on failure. */
struct store_sq *store_sq_handle_open(const char *data_dir);
void store_sq_handle_close(struct store_sq *sq);

/*
 * The prepared statement for sql, reset and with its bindings cleared.
 * sql must be a string with static storage: the cache is keyed by its
 * address.  Every user calls sqlite3_reset() when done, so that no read
 * transaction stays open between calls.  NULL (logged) on failure.
 */
sqlite3_stmt *store_sq_stmt(struct store_sq *sq, const char *sql);

/* Run sql (no results) outside the cache; false (logged) on failure. */
bool store_sq_exec(struct store_sq *sq, const char *sql);

/* BEGIN IMMEDIATE (takes the write lock up front, waiting up to the busy timeout). */
bool store_sq_begin(struct store_sq *sq);
bool store_sq_commit(struct store_sq *sq);
void store_sq_rollback(struct store_sq *sq);

/* Log the connection's last error, with what was being done. */
void store_sq_log_error(struct store_sq *sq, const char *what);

/* Step a statement expected to return SQLITE_DONE, then reset it. */
bool store_sq_step_done(struct store_sq *sq, sqlite3_stmt *st, const char *what);
/* Step a bound query whose one column is an id: the id, 0 when no row, -1 on error (logged); resets st. */
int64_t store_sq_step_id(struct store_sq *sq, sqlite3_stmt *st, const char *what);

/* Column text, never NULL. */
const char *store_sq_text(sqlite3_stmt *st, int col);

/* ---- schema.c ----------------------------------------------------------- */

bool store_sq_migrate(struct store_sq *sq);

/* ---- blob.c ------------------------------------------------------------- */

/* WAL checkpoints off the writer's thread (checkpoint.c). */
struct sq_checkpointer;
struct sq_checkpointer *store_sq_checkpointer_start(const char *data_dir, sqlite3 *writer_db);
void store_sq_checkpointer_stop(struct sq_checkpointer *cp, sqlite3 *writer_db);

bool store_sq_blob_id_valid(const char *id);
/* A fresh id, SQ_BLOB_ID_LEN characters and a NUL, in time order. */
void store_sq_blob_new_id(char *out);
int store_sq_blob_create(struct store *s, char *blob_id, size_t idsize, char **path);
/* data_dir/blobs/XY/<id>; false if it does not fit. */
bool store_sq_blob_path(const struct store_sq *sq, const char *id, char *out, size_t size);
/* Unlink the files of blobs whose last reference went away (after a COMMIT). */
void store_sq_blob_gc(struct store_sq *sq);
void store_sq_recover(struct store *s);
enum store_status store_sq_blob_open(struct store *s, const char *blob_id, int *fd);

/* ---- domain.c ----------------------------------------------------------- */

/* > 0: the domain's id, 0: not a local domain, -1: database error. */
int64_t store_sq_domain_id(struct store_sq *sq, const char *domain);
enum store_status store_sq_domain_add(struct store *s, const char *domain);
enum store_status store_sq_domain_del(struct store *s, const char *domain);
bool store_sq_domain_is_local(struct store *s, const char *domain);
enum store_status store_sq_domain_list(struct store *s, store_name_cb cb, void *ctx);

/* ---- account.c ---------------------------------------------------------- */

/* Account id of local (n octets) @ domain: > 0 found, 0 none, -1 error. */
int64_t store_sq_account_id(struct store_sq *sq, const char *local, size_t n, const char *domain);
enum store_status store_sq_account_add(struct store *s, const char *address, const char *password_hash);
enum store_status store_sq_account_passwd(struct store *s, const char *address, const char *password_hash);
enum store_status store_sq_account_del(struct store *s, const char *address);
enum store_status store_sq_account_get(struct store *s, const char *address, struct store_account *out);
enum store_status store_sq_account_list(struct store *s, const char *domain, store_account_cb cb, void *ctx);

/* ---- alias.c ------------------------------------------------------------ */

/* Alias id of local (n octets, 0 = catch-all) @ domain: > 0 found, 0 none, -1 error. */
int64_t store_sq_alias_id(struct store_sq *sq, const char *local, size_t n, const char *domain);
enum store_status store_sq_alias_add(struct store *s, const char *alias, const char *const *targets, size_t n);
enum store_status store_sq_alias_del(struct store *s, const char *alias);
enum store_status store_sq_alias_list(struct store *s, store_alias_cb cb, void *ctx);

/* ---- resolve.c ---------------------------------------------------------- */

enum store_status store_sq_resolve_rcpt(struct store *s, const char *address, struct store_rcpt *out);
bool store_sq_sender_allowed(struct store *s, int64_t account_id, const char *address);

/* ---- mailbox.c ---------------------------------------------------------- */

/* Insert one mailbox row (inside the caller's transaction); *id (may be NULL) gets its id. */
enum store_status store_sq_mailbox_insert(struct store_sq *sq, int64_t account_id, const char *name,
					  const char *special_use, int64_t *id);
/*
 * Bump the mailbox's highestmodseq by one and take count UIDs from uidnext
 * (count may be 0): *modseq the new highestmodseq, *first_uid the first
 * UID taken, *uidvalidity (may be NULL).  STORE_NOTFOUND if no such mailbox.
 */
enum store_status store_sq_mailbox_bump(struct store_sq *sq, int64_t mailbox_id, uint32_t count, uint64_t *modseq,
					uint32_t *first_uid, uint32_t *uidvalidity);
/*
 * Add the keywords of kw (normalised, see store/keywords.h) to the
 * mailbox's dictionary (inside the caller's transaction); canon (may be
 * NULL) receives kw in the mailbox's spelling.  STORE_INVALID when the
 * mailbox would exceed STORE_MAILBOX_KEYWORDS_MAX.
 */
enum store_status store_sq_mailbox_keywords_add(struct store_sq *sq, int64_t mailbox_id, const char *kw,
						struct buf *canon);
/* The mailbox's account: > 0, 0 no such mailbox, -1 error. */
int64_t store_sq_mailbox_account(struct store_sq *sq, int64_t mailbox_id);

enum store_status store_sq_mailbox_get(struct store *s, int64_t account_id, const char *name,
				       struct store_mailbox *out);
enum store_status store_sq_mailbox_list(struct store *s, int64_t account_id, store_mailbox_cb cb, void *ctx);
enum store_status store_sq_message_list(struct store *s, int64_t mailbox_id, store_message_cb cb, void *ctx);
enum store_status store_sq_message_open(struct store *s, int64_t mailbox_id, uint32_t uid, int *fd,
					uint64_t *size);
enum store_status store_sq_mailbox_infos(struct store *s, int64_t account_id, store_mailbox_info_cb cb, void *ctx);
enum store_status store_sq_mailbox_info(struct store *s, int64_t account_id, const char *name,
					store_mailbox_info_cb cb, void *ctx);
enum store_status store_sq_mailbox_recent_claim(struct store *s, int64_t mailbox_id, uint32_t upto, uint32_t *from);
/* STORE_OK if sql (one ?1 = id parameter) finds a row, else STORE_NOTFOUND or STORE_IOERR (logged). */
enum store_status store_sq_row_check(struct store_sq *sq, const char *sql, int64_t id);
enum store_status store_sq_mailbox_uids(struct store *s, int64_t mailbox_id, uint32_t **uids, size_t *n,
					uint64_t *highestmodseq, uint32_t *first_unseen);
enum store_status store_sq_message_range(struct store *s, int64_t mailbox_id, uint32_t uid_lo, uint32_t uid_hi,
					 size_t limit, store_message_data_cb cb, void *ctx);

/* ---- mbox_admin.c ------------------------------------------------------- */

enum store_status store_sq_mailbox_create(struct store *s, int64_t account_id, const char *name,
					  const char *special_use);
enum store_status store_sq_mailbox_delete(struct store *s, int64_t account_id, const char *name);
enum store_status store_sq_mailbox_rename(struct store *s, int64_t account_id, const char *from, const char *to);
enum store_status store_sq_mailbox_subscribe(struct store *s, int64_t account_id, const char *name, bool on);
enum store_status store_sq_subscriptions(struct store *s, int64_t account_id, store_name_cb cb, void *ctx);
enum store_status store_sq_urlauth_key(struct store *s, int64_t mailbox_id, const uint8_t *new_key, uint8_t *key);
enum store_status store_sq_urlauth_reset(struct store *s, int64_t account_id, int64_t mailbox_id);

/* ---- flags.c ------------------------------------------------------------ */

enum store_status store_sq_flags_change(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
					enum store_flag_op op, uint32_t flags, const char *keywords,
					uint64_t unchangedsince, store_change_cb changed, void *ctx,
					uint32_t **failed, size_t *nfailed);
enum store_status store_sq_expunge(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
				   bool only_deleted, store_change_cb removed, void *ctx);
/*
 * The expunge itself, inside the caller's transaction: removes, records in
 * expunged with one new modseq and appends the UIDs (ascending) to *out
 * (malloc'd, *nout).  Used by store_expunge, a move and RENAME INBOX.
 */
enum store_status store_sq_expunge_rows(struct store_sq *sq, int64_t mailbox_id, const uint32_t *uids, size_t n,
					bool only_deleted, uint32_t **out, size_t *nout, uint64_t *modseq);
enum store_status store_sq_mailbox_changes(struct store *s, int64_t mailbox_id, uint64_t since,
					   store_change_cb cb, void *ctx, uint64_t *highestmodseq,
					   uint32_t *uidnext);

/* ---- copy.c ------------------------------------------------------------- */

enum store_status store_sq_copy(struct store *s, int64_t src_mailbox_id, int64_t dst_mailbox_id,
				const uint32_t *uids, size_t n, bool move, uint32_t *new_uids,
				store_change_cb removed, void *ctx);
/*
 * The copy itself, inside the caller's transaction, without quota check
 * (RENAME INBOX uses it to move every message: uids NULL, n 0).
 * new_uids may be NULL.
 */
enum store_status store_sq_copy_rows(struct store_sq *sq, int64_t src, int64_t dst, const uint32_t *uids, size_t n,
				     uint32_t *new_uids, size_t *ncopied);

/* ---- quota.c ------------------------------------------------------------ */

enum store_status store_sq_quota_get(struct store *s, int64_t account_id, struct store_quota *out);
enum store_status store_sq_quota_set(struct store *s, const char *address, uint64_t storage, uint64_t messages);
enum store_status store_sq_quota_check(struct store *s, int64_t account_id, uint64_t size);
/* Inside a transaction that added messages: STORE_QUOTA when the account is now over a limit. */
enum store_status store_sq_quota_verify(struct store_sq *sq, int64_t account_id);

/* ---- queue.c ------------------------------------------------------------ */

enum store_status store_sq_queue_list(struct store *s, store_queue_cb cb, void *ctx);
enum store_status store_sq_queue_delete(struct store *s, int64_t id);
enum store_status store_sq_queue_retry(struct store *s, int64_t id);
enum store_status store_sq_queue_due(struct store *s, int64_t now, size_t limit, store_queue_cb cb, void *ctx);
enum store_status store_sq_queue_next_due(struct store *s, int64_t *when);
enum store_status store_sq_queue_hold(struct store *s, int64_t id, bool held);
bool store_sq_blob_path_op(struct store *s, const char *blob_id, char *out, size_t size);
enum store_status store_sq_queue_apply(struct store *s, const struct store_queue_outcome *o, size_t n);
enum store_status store_sq_queue_all(struct store *s, enum store_queue_all_op op, uint64_t *changed);

/* ---- tlsrpt.c ----------------------------------------------------------- */

enum store_status store_sq_tlsrpt_record(struct store *s, const struct store_tlsrpt_result *r);
enum store_status store_sq_tlsrpt_pending(struct store *s, size_t limit, store_tlsrpt_pending_cb cb, void *ctx);
enum store_status store_sq_tlsrpt_rows(struct store *s, const char *day, const char *domain,
				       store_tlsrpt_row_cb cb, void *ctx);
enum store_status store_sq_tlsrpt_delete(struct store *s, const char *day, const char *domain, uint64_t *removed);

/* ---- report_rows.c ------------------------------------------------------ */

/* "YYYY-MM-DD" by its shape (digits and dashes). */
bool store_sq_report_day_valid(const char *day);
/* Run sql (DELETE ... WHERE day = ?1 AND domain = ?2); *removed (may be NULL) gets the rows gone. */
enum store_status store_sq_report_delete(struct store_sq *sq, const char *sql, const char *what, const char *day,
					 const char *domain, uint64_t *removed);

/* ---- dmarcrpt.c --------------------------------------------------------- */

enum store_status store_sq_dmarcrpt_record(struct store *s, const struct store_dmarcrpt_row *rows, size_t n);
enum store_status store_sq_dmarcrpt_pending(struct store *s, size_t limit, store_dmarcrpt_pending_cb cb,
					    void *ctx);
enum store_status store_sq_dmarcrpt_rows(struct store *s, const char *day, const char *domain,
					 store_dmarcrpt_row_cb cb, void *ctx);
enum store_status store_sq_dmarcrpt_delete(struct store *s, const char *day, const char *domain,
					   uint64_t *removed);

/* ---- writer.c ----------------------------------------------------------- */

struct store_writer *store_sq_writer_start(const char *data_dir);
void store_sq_writer_stop(struct store_writer *w);
void store_sq_deliver(struct store_writer *w, struct store_delivery *d);

#endif
