/*
 * backend.h — the vtable a store backend implements (see store.h for the
 * meaning of each call).  store.c dispatches through it; the SQLite backend
 * (store/sqlite/) is the only one for now, a PostgreSQL one can sit beside
 * it without touching callers.  Change notification and mailbox locks
 * (store_watch_*, store_notify, store_mailbox_lock) are in-process state
 * shared by every backend (store/notify.c), not in this table.
 */
#ifndef TERN_STORE_BACKEND_H
#define TERN_STORE_BACKEND_H

#include "store/store.h"

struct store_ops {
	const char *name;
	struct store *(*open)(const char *data_dir);
	void (*close)(struct store *s);
	const char *(*spool_dir)(struct store *s);
	int (*blob_create)(struct store *s, char *blob_id, size_t idsize, char **path);
	void (*recover)(struct store *s);

	enum store_status (*domain_add)(struct store *s, const char *domain);
	enum store_status (*domain_del)(struct store *s, const char *domain);
	bool (*domain_is_local)(struct store *s, const char *domain);
	enum store_status (*domain_list)(struct store *s, store_name_cb cb, void *ctx);

	enum store_status (*account_add)(struct store *s, const char *address, const char *password_hash);
	enum store_status (*account_passwd)(struct store *s, const char *address, const char *password_hash);
	enum store_status (*account_del)(struct store *s, const char *address);
	enum store_status (*account_get)(struct store *s, const char *address, struct store_account *out);
	enum store_status (*account_list)(struct store *s, const char *domain, store_account_cb cb, void *ctx);

	enum store_status (*alias_add)(struct store *s, const char *alias, const char *const *targets, size_t n);
	enum store_status (*alias_del)(struct store *s, const char *alias);
	enum store_status (*alias_list)(struct store *s, store_alias_cb cb, void *ctx);

	enum store_status (*resolve_rcpt)(struct store *s, const char *address, struct store_rcpt *out);
	bool (*sender_allowed)(struct store *s, int64_t account_id, const char *address);

	enum store_status (*mailbox_get)(struct store *s, int64_t account_id, const char *name, struct store_mailbox *out);
	enum store_status (*mailbox_list)(struct store *s, int64_t account_id, store_mailbox_cb cb, void *ctx);
	enum store_status (*message_list)(struct store *s, int64_t mailbox_id, store_message_cb cb, void *ctx);
	enum store_status (*message_open)(struct store *s, int64_t mailbox_id, uint32_t uid, int *fd, uint64_t *size);

	enum store_status (*mailbox_infos)(struct store *s, int64_t account_id, store_mailbox_info_cb cb, void *ctx);
	enum store_status (*mailbox_info)(struct store *s, int64_t account_id, const char *name,
					  store_mailbox_info_cb cb, void *ctx);
	enum store_status (*mailbox_create)(struct store *s, int64_t account_id, const char *name,
					    const char *special_use);
	enum store_status (*mailbox_delete)(struct store *s, int64_t account_id, const char *name);
	enum store_status (*mailbox_rename)(struct store *s, int64_t account_id, const char *from, const char *to);
	enum store_status (*mailbox_subscribe)(struct store *s, int64_t account_id, const char *name, bool on);
	enum store_status (*subscriptions)(struct store *s, int64_t account_id, store_name_cb cb, void *ctx);
	enum store_status (*urlauth_key)(struct store *s, int64_t mailbox_id, const uint8_t *new_key, uint8_t *key);
	enum store_status (*urlauth_reset)(struct store *s, int64_t account_id, int64_t mailbox_id);
	enum store_status (*mailbox_recent_claim)(struct store *s, int64_t mailbox_id, uint32_t upto, uint32_t *from);
	enum store_status (*mailbox_uids)(struct store *s, int64_t mailbox_id, uint32_t **uids, size_t *n,
					  uint64_t *highestmodseq, uint32_t *first_unseen);
	enum store_status (*message_range)(struct store *s, int64_t mailbox_id, uint32_t uid_lo, uint32_t uid_hi,
					   size_t limit, store_message_data_cb cb, void *ctx);
	enum store_status (*blob_open)(struct store *s, const char *blob_id, int *fd);
	enum store_status (*mailbox_changes)(struct store *s, int64_t mailbox_id, uint64_t since,
					     store_change_cb cb, void *ctx, uint64_t *highestmodseq,
					     uint32_t *uidnext);
	enum store_status (*flags_change)(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
					  enum store_flag_op op, uint32_t flags, const char *keywords,
					  uint64_t unchangedsince, store_change_cb changed, void *ctx,
					  uint32_t **failed, size_t *nfailed);
	enum store_status (*expunge)(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
				     bool only_deleted, store_change_cb removed, void *ctx);
	enum store_status (*copy)(struct store *s, int64_t src_mailbox_id, int64_t dst_mailbox_id,
				  const uint32_t *uids, size_t n, bool move, uint32_t *new_uids,
				  store_change_cb removed, void *ctx);
	enum store_status (*quota_get)(struct store *s, int64_t account_id, struct store_quota *out);
	enum store_status (*quota_set)(struct store *s, const char *address, uint64_t storage, uint64_t messages);
	enum store_status (*quota_check)(struct store *s, int64_t account_id, uint64_t size);

	enum store_status (*queue_list)(struct store *s, store_queue_cb cb, void *ctx);
	enum store_status (*queue_delete)(struct store *s, int64_t id);
	enum store_status (*queue_retry)(struct store *s, int64_t id);
	enum store_status (*queue_due)(struct store *s, int64_t now, size_t limit, store_queue_cb cb, void *ctx);
	enum store_status (*queue_next_due)(struct store *s, int64_t *when);
	enum store_status (*queue_hold)(struct store *s, int64_t id, bool held);
	bool (*blob_path)(struct store *s, const char *blob_id, char *out, size_t size);
	enum store_status (*queue_apply)(struct store *s, const struct store_queue_outcome *o, size_t n);
	enum store_status (*queue_all)(struct store *s, enum store_queue_all_op op, uint64_t *changed);

	enum store_status (*tlsrpt_record)(struct store *s, const struct store_tlsrpt_result *r);
	enum store_status (*tlsrpt_pending)(struct store *s, size_t limit, store_tlsrpt_pending_cb cb, void *ctx);
	enum store_status (*tlsrpt_rows)(struct store *s, const char *day, const char *domain,
					 store_tlsrpt_row_cb cb, void *ctx);
	enum store_status (*tlsrpt_delete)(struct store *s, const char *day, const char *domain, uint64_t *removed);
	enum store_status (*dmarcrpt_record)(struct store *s, const struct store_dmarcrpt_row *rows, size_t n);
	enum store_status (*dmarcrpt_pending)(struct store *s, size_t limit, store_dmarcrpt_pending_cb cb, void *ctx);
	enum store_status (*dmarcrpt_rows)(struct store *s, const char *day, const char *domain,
					   store_dmarcrpt_row_cb cb, void *ctx);
	enum store_status (*dmarcrpt_delete)(struct store *s, const char *day, const char *domain, uint64_t *removed);

	struct store_writer *(*writer_start)(const char *data_dir);
	void (*writer_stop)(struct store_writer *w);
	void (*deliver)(struct store_writer *w, struct store_delivery *d);
};

/* Every struct store begins with this, so store.c can find the ops. */
struct store_base {
	const struct store_ops *ops;
};

struct store_writer_base {
	const struct store_ops *ops;
};

extern const struct store_ops store_sqlite_ops;

#endif
