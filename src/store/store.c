/*
 * store.c — the public store API (store.h): each call finds the backend's
 * ops through the struct store_base every handle starts with and forwards
 * to it.  Only the SQLite backend exists; a second backend would be chosen
 * here (by configuration) in store_open and store_writer_start.
 */
#include "store/store.h"
#include "store/backend.h"

#include <stddef.h>
#include <stdlib.h>

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

const char *store_spool_dir(struct store *s)
{
	return ops_of(s)->spool_dir(s);
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
