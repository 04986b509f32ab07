/*
 * backend.c — store_sqlite_ops: the SQLite backend's entry in the store
 * vtable (store/backend.h), plus open, close and the spool path.  The
 * operations themselves live in the neighbouring files (see sq.h).
 */
#include "store/sqlite/sq.h"

static struct store *sq_open(const char *data_dir)
{
	struct store_sq *sq = store_sq_handle_open(data_dir);
	return sq ? (struct store *)(void *)sq : NULL;
}

static void sq_close(struct store *s)
{
	store_sq_handle_close((struct store_sq *)(void *)s);
}

static const char *sq_spool_dir(struct store *s)
{
	return ((struct store_sq *)(void *)s)->spool_dir;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.spool_dir = sq_spool_dir,
	.blob_create = store_sq_blob_create,
	.recover = store_sq_recover,

	.domain_add = store_sq_domain_add,
	.domain_del = store_sq_domain_del,
	.domain_is_local = store_sq_domain_is_local,
	.domain_list = store_sq_domain_list,

	.account_add = store_sq_account_add,
	.account_passwd = store_sq_account_passwd,
	.account_del = store_sq_account_del,
	.account_get = store_sq_account_get,
	.account_list = store_sq_account_list,

	.alias_add = store_sq_alias_add,
	.alias_del = store_sq_alias_del,
	.alias_list = store_sq_alias_list,

	.resolve_rcpt = store_sq_resolve_rcpt,
	.sender_allowed = store_sq_sender_allowed,

	.mailbox_get = store_sq_mailbox_get,
	.mailbox_list = store_sq_mailbox_list,
	.message_list = store_sq_message_list,
	.message_open = store_sq_message_open,

	.mailbox_infos = store_sq_mailbox_infos,
	.mailbox_info = store_sq_mailbox_info,
	.mailbox_create = store_sq_mailbox_create,
	.mailbox_delete = store_sq_mailbox_delete,
	.mailbox_rename = store_sq_mailbox_rename,
	.mailbox_subscribe = store_sq_mailbox_subscribe,
	.subscriptions = store_sq_subscriptions,
	.urlauth_key = store_sq_urlauth_key,
	.urlauth_reset = store_sq_urlauth_reset,
	.mailbox_uids = store_sq_mailbox_uids,
	.mailbox_recent_claim = store_sq_mailbox_recent_claim,
	.message_range = store_sq_message_range,
	.blob_open = store_sq_blob_open,
	.mailbox_changes = store_sq_mailbox_changes,
	.flags_change = store_sq_flags_change,
	.expunge = store_sq_expunge,
	.copy = store_sq_copy,
	.quota_get = store_sq_quota_get,
	.quota_set = store_sq_quota_set,
	.quota_check = store_sq_quota_check,

	.queue_list = store_sq_queue_list,
	.queue_delete = store_sq_queue_delete,
	.queue_retry = store_sq_queue_retry,
	.queue_due = store_sq_queue_due,
	.queue_next_due = store_sq_queue_next_due,
	.queue_hold = store_sq_queue_hold,
	.blob_path = store_sq_blob_path_op,
	.queue_apply = store_sq_queue_apply,
	.queue_all = store_sq_queue_all,

	.tlsrpt_record = store_sq_tlsrpt_record,
	.tlsrpt_pending = store_sq_tlsrpt_pending,
	.tlsrpt_rows = store_sq_tlsrpt_rows,
	.tlsrpt_delete = store_sq_tlsrpt_delete,
	.dmarcrpt_record = store_sq_dmarcrpt_record,
	.dmarcrpt_pending = store_sq_dmarcrpt_pending,
	.dmarcrpt_rows = store_sq_dmarcrpt_rows,
	.dmarcrpt_delete = store_sq_dmarcrpt_delete,

	.writer_start = store_sq_writer_start,
	.writer_stop = store_sq_writer_stop,
	.deliver = store_sq_deliver,
};
