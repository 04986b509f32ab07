/*
 * store.c — the public store API (store.h): each call finds the backend's
 * ops through the struct store_base every handle starts with and forwards
 * to it.  Only the SQLite backend exists; a second backend would be chosen
 * here (by configuration) in store_open and store_writer_start.
 */
#include "store/store.h"
#include "store/backend.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct store_ops *ops_of(struct store *s)
{
	return ((const struct store_base *)(const void *)s)->ops;
}

static const struct store_ops *writer_ops_of(struct store_writer *w)
{
	return ((const struct store_writer_base *)(const void *)w)->ops;
}

const char *store_status_str(enum store_status st)
{
	switch (st) {
	case STORE_OK: return "ok";
	case STORE_NOTFOUND: return "not found";
	case STORE_EXISTS: return "already exists";
	case STORE_INVALID: return "invalid name or address";
	case STORE_INUSE: return "in use";
	case STORE_QUOTA: return "over quota";
	case STORE_IOERR: return "i/o error";
	}
	return "unknown status";
}

struct store *store_open(const char *data_dir)
{
	return store_sqlite_ops.open(data_dir);
}

void store_close(struct store **s)
{
	if (!s || !*s)
		return;
	ops_of(*s)->close(*s);
	*s = NULL;
}

struct store **store_open_per_loop(const char *data_dir, size_t nloops)
{
	struct store **stores = xcalloc(nloops, sizeof *stores);
	for (size_t i = 0; i < nloops; i++) {
		stores[i] = store_open(data_dir);
		if (!stores[i]) {
			store_close_per_loop(&stores, nloops);
			return NULL;
		}
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/%zu", store_spool_dir(stores[i]), i);
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			log_error("store", "msg=\"cannot create spool directory\" path=%s error=%s", lq(dir),
				  lq(strerror(errno)));
			store_close_per_loop(&stores, nloops);
			return NULL;
		}
	}
	return stores;
}

void store_close_per_loop(struct store ***stores, size_t nloops)
{
	if (!*stores)
		return;
	for (size_t i = 0; i < nloops; i++)
		store_close(&(*stores)[i]);
	free(*stores);
	*stores = NULL;
}

const char *store_spool_dir(struct store *s)
{
	return ops_of(s)->spool_dir(s);
}

int store_blob_create(struct store *s, char *blob_id, size_t idsize, char **path)
{
	return ops_of(s)->blob_create(s, blob_id, idsize, path);
}

void store_recover(struct store *s)
{
	ops_of(s)->recover(s);
}

enum store_status store_domain_add(struct store *s, const char *domain)
{
	return ops_of(s)->domain_add(s, domain);
}

enum store_status store_domain_del(struct store *s, const char *domain)
{
	return ops_of(s)->domain_del(s, domain);
}

bool store_domain_is_local(struct store *s, const char *domain)
{
	return ops_of(s)->domain_is_local(s, domain);
}

enum store_status store_domain_list(struct store *s, store_name_cb cb, void *ctx)
{
	return ops_of(s)->domain_list(s, cb, ctx);
}

enum store_status store_account_add(struct store *s, const char *address, const char *password_hash)
{
	return ops_of(s)->account_add(s, address, password_hash);
}

enum store_status store_account_passwd(struct store *s, const char *address, const char *password_hash)
{
	return ops_of(s)->account_passwd(s, address, password_hash);
}

enum store_status store_account_del(struct store *s, const char *address)
{
	return ops_of(s)->account_del(s, address);
}

enum store_status store_account_get(struct store *s, const char *address, struct store_account *out)
{
	return ops_of(s)->account_get(s, address, out);
}

void store_account_clear(struct store_account *a)
{
	if (!a)
		return;
	free(a->password_hash);
	a->password_hash = NULL;
}

enum store_status store_account_list(struct store *s, const char *domain, store_account_cb cb, void *ctx)
{
	return ops_of(s)->account_list(s, domain, cb, ctx);
}

enum store_status store_alias_add(struct store *s, const char *alias, const char *const *targets, size_t ntargets)
{
	return ops_of(s)->alias_add(s, alias, targets, ntargets);
}

enum store_status store_alias_del(struct store *s, const char *alias)
{
	return ops_of(s)->alias_del(s, alias);
}

enum store_status store_alias_list(struct store *s, store_alias_cb cb, void *ctx)
{
	return ops_of(s)->alias_list(s, cb, ctx);
}

enum store_status store_resolve_rcpt(struct store *s, const char *address, struct store_rcpt *out)
{
	return ops_of(s)->resolve_rcpt(s, address, out);
}

void store_rcpt_clear(struct store_rcpt *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nremote; i++)
		free(r->remote[i]);
	r->nremote = 0;
	r->naccounts = 0;
}

bool store_sender_allowed(struct store *s, int64_t account_id, const char *address)
{
	return ops_of(s)->sender_allowed(s, account_id, address);
}

enum store_status store_mailbox_get(struct store *s, int64_t account_id, const char *name, struct store_mailbox *out)
{
	return ops_of(s)->mailbox_get(s, account_id, name, out);
}

enum store_status store_mailbox_list(struct store *s, int64_t account_id, store_mailbox_cb cb, void *ctx)
{
	return ops_of(s)->mailbox_list(s, account_id, cb, ctx);
}

enum store_status store_message_list(struct store *s, int64_t mailbox_id, store_message_cb cb, void *ctx)
{
	return ops_of(s)->message_list(s, mailbox_id, cb, ctx);
}

enum store_status store_message_open(struct store *s, int64_t mailbox_id, uint32_t uid, int *fd, uint64_t *size)
{
	return ops_of(s)->message_open(s, mailbox_id, uid, fd, size);
}

enum store_status store_mailbox_infos(struct store *s, int64_t account_id, store_mailbox_info_cb cb, void *ctx)
{
	return ops_of(s)->mailbox_infos(s, account_id, cb, ctx);
}

enum store_status store_mailbox_info(struct store *s, int64_t account_id, const char *name,
				     store_mailbox_info_cb cb, void *ctx)
{
	return ops_of(s)->mailbox_info(s, account_id, name, cb, ctx);
}

enum store_status store_mailbox_create(struct store *s, int64_t account_id, const char *name,
				       const char *special_use)
{
	enum store_status st = ops_of(s)->mailbox_create(s, account_id, name, special_use);
	if (st == STORE_OK)
		store_notify_account(account_id);
	return st;
}

enum store_status store_mailbox_delete(struct store *s, int64_t account_id, const char *name)
{
	enum store_status st = ops_of(s)->mailbox_delete(s, account_id, name);
	if (st == STORE_OK)
		store_notify_account(account_id);
	return st;
}

enum store_status store_mailbox_rename(struct store *s, int64_t account_id, const char *from, const char *to)
{
	enum store_status st = ops_of(s)->mailbox_rename(s, account_id, from, to);
	if (st == STORE_OK)
		store_notify_account(account_id);
	return st;
}

enum store_status store_mailbox_subscribe(struct store *s, int64_t account_id, const char *name, bool on)
{
	enum store_status st = ops_of(s)->mailbox_subscribe(s, account_id, name, on);
	if (st == STORE_OK)
		store_notify_account(account_id);
	return st;
}

enum store_status store_subscriptions(struct store *s, int64_t account_id, store_name_cb cb, void *ctx)
{
	return ops_of(s)->subscriptions(s, account_id, cb, ctx);
}

enum store_status store_urlauth_key(struct store *s, int64_t mailbox_id, const uint8_t *new_key,
				    uint8_t key[STORE_URLAUTH_KEY_LEN])
{
	return ops_of(s)->urlauth_key(s, mailbox_id, new_key, key);
}

enum store_status store_urlauth_reset(struct store *s, int64_t account_id, int64_t mailbox_id)
{
	return ops_of(s)->urlauth_reset(s, account_id, mailbox_id);
}

enum store_status store_mailbox_recent_claim(struct store *s, int64_t mailbox_id, uint32_t upto, uint32_t *from)
{
	return ops_of(s)->mailbox_recent_claim(s, mailbox_id, upto, from);
}

enum store_status store_mailbox_uids(struct store *s, int64_t mailbox_id, uint32_t **uids, size_t *n,
				     uint64_t *highestmodseq, uint32_t *first_unseen)
{
	return ops_of(s)->mailbox_uids(s, mailbox_id, uids, n, highestmodseq, first_unseen);
}

enum store_status store_message_range(struct store *s, int64_t mailbox_id, uint32_t uid_lo, uint32_t uid_hi,
				      size_t limit, store_message_data_cb cb, void *ctx)
{
	return ops_of(s)->message_range(s, mailbox_id, uid_lo, uid_hi, limit, cb, ctx);
}

enum store_status store_blob_open(struct store *s, const char *blob_id, int *fd)
{
	return ops_of(s)->blob_open(s, blob_id, fd);
}

enum store_status store_mailbox_changes(struct store *s, int64_t mailbox_id, uint64_t since,
					store_change_cb cb, void *ctx, uint64_t *highestmodseq,
					uint32_t *uidnext)
{
	return ops_of(s)->mailbox_changes(s, mailbox_id, since, cb, ctx, highestmodseq, uidnext);
}

enum store_status store_flags_change(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
				     enum store_flag_op op, uint32_t flags, const char *keywords,
				     uint64_t unchangedsince, store_change_cb changed, void *ctx,
				     uint32_t **failed, size_t *nfailed)
{
	return ops_of(s)->flags_change(s, mailbox_id, uids, n, op, flags, keywords, unchangedsince, changed, ctx,
				       failed, nfailed);
}

enum store_status store_expunge(struct store *s, int64_t mailbox_id, const uint32_t *uids, size_t n,
				bool only_deleted, store_change_cb removed, void *ctx)
{
	return ops_of(s)->expunge(s, mailbox_id, uids, n, only_deleted, removed, ctx);
}

enum store_status store_copy(struct store *s, int64_t src_mailbox_id, int64_t dst_mailbox_id,
			     const uint32_t *uids, size_t n, bool move, uint32_t *new_uids,
			     store_change_cb removed, void *ctx)
{
	return ops_of(s)->copy(s, src_mailbox_id, dst_mailbox_id, uids, n, move, new_uids, removed, ctx);
}

enum store_status store_quota_get(struct store *s, int64_t account_id, struct store_quota *out)
{
	return ops_of(s)->quota_get(s, account_id, out);
}

enum store_status store_quota_set(struct store *s, const char *address, uint64_t storage, uint64_t messages)
{
	return ops_of(s)->quota_set(s, address, storage, messages);
}

enum store_status store_quota_check(struct store *s, int64_t account_id, uint64_t size)
{
	return ops_of(s)->quota_check(s, account_id, size);
}

enum store_status store_queue_list(struct store *s, store_queue_cb cb, void *ctx)
{
	return ops_of(s)->queue_list(s, cb, ctx);
}

enum store_status store_queue_delete(struct store *s, int64_t id)
{
	return ops_of(s)->queue_delete(s, id);
}

enum store_status store_queue_retry(struct store *s, int64_t id)
{
	return ops_of(s)->queue_retry(s, id);
}

enum store_status store_queue_due(struct store *s, int64_t now, size_t limit, store_queue_cb cb, void *ctx)
{
	return ops_of(s)->queue_due(s, now, limit, cb, ctx);
}

enum store_status store_queue_next_due(struct store *s, int64_t *when)
{
	return ops_of(s)->queue_next_due(s, when);
}


enum store_status store_queue_hold(struct store *s, int64_t id, bool held)
{
	return ops_of(s)->queue_hold(s, id, held);
}



enum store_status store_queue_apply(struct store *s, const struct store_queue_outcome *o, size_t n)
{
	return ops_of(s)->queue_apply(s, o, n);
}

enum store_status store_queue_all(struct store *s, enum store_queue_all_op op, uint64_t *changed)
{
	return ops_of(s)->queue_all(s, op, changed);
}

bool store_blob_path(struct store *s, const char *blob_id, char *out, size_t size)
{
	return ops_of(s)->blob_path(s, blob_id, out, size);
}

struct store_writer *store_writer_start(const char *data_dir)
{
	return store_sqlite_ops.writer_start(data_dir);
}

void store_writer_stop(struct store_writer **w)
{
	if (!w || !*w)
		return;
	writer_ops_of(*w)->writer_stop(*w);
	*w = NULL;
}

void store_deliver(struct store_writer *w, struct store_delivery *d)
{
	writer_ops_of(w)->deliver(w, d);
}

enum store_status store_tlsrpt_record(struct store *s, const struct store_tlsrpt_result *r)
{
	return ops_of(s)->tlsrpt_record(s, r);
}

enum store_status store_tlsrpt_pending(struct store *s, size_t limit, store_tlsrpt_pending_cb cb, void *ctx)
{
	return ops_of(s)->tlsrpt_pending(s, limit, cb, ctx);
}

enum store_status store_tlsrpt_rows(struct store *s, const char *day, const char *domain,
				    store_tlsrpt_row_cb cb, void *ctx)
{
	return ops_of(s)->tlsrpt_rows(s, day, domain, cb, ctx);
}

enum store_status store_tlsrpt_delete(struct store *s, const char *day, const char *domain, uint64_t *removed)
{
	return ops_of(s)->tlsrpt_delete(s, day, domain, removed);
}

enum store_status store_dmarcrpt_record(struct store *s, const struct store_dmarcrpt_row *rows, size_t n)
{
	return ops_of(s)->dmarcrpt_record(s, rows, n);
}

enum store_status store_dmarcrpt_pending(struct store *s, size_t limit, store_dmarcrpt_pending_cb cb, void *ctx)
{
	return ops_of(s)->dmarcrpt_pending(s, limit, cb, ctx);
}

enum store_status store_dmarcrpt_rows(struct store *s, const char *day, const char *domain,
				      store_dmarcrpt_row_cb cb, void *ctx)
{
	return ops_of(s)->dmarcrpt_rows(s, day, domain, cb, ctx);
}

enum store_status store_dmarcrpt_delete(struct store *s, const char *day, const char *domain, uint64_t *removed)
{
	return ops_of(s)->dmarcrpt_delete(s, day, domain, removed);
}
