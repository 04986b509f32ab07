/*
 * notify.c — in-process change notification (store_watch_add,
 * store_watch_remove, store_notify; per account store_account_watch_add and
 * store_notify_account) and the in-memory mailbox locks
 * (store_mailbox_lock/unlock); see store.h.
 *
 * Backend-independent: whatever backend commits a change, the committer
 * calls store_notify(mailbox_id) and every watcher of that mailbox in this
 * process hears of it.  (A PostgreSQL backend would add LISTEN/NOTIFY
 * for the other processes; nothing here would change.)
 *
 * An account's watchers share the table under the key -account_id (mailbox
 * and account ids are both positive, so the two never meet).
 *
 * The watchers live in a fixed hash table of singly linked lists keyed by
 * mailbox id, under one mutex.  store_notify calls each watcher's fn while
 * holding that mutex: that is what makes store_watch_remove a barrier
 * (once it has taken the mutex, no fn of its watcher is running).  Hence
 * fn must be quick and must never call store_watch_add, store_watch_remove
 * or store_notify (it would deadlock on the mutex).
 */
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>

#include "lib/xalloc.h"

#define WATCH_BUCKETS 1024      /* power of two; 10,000 watchers ~ 10 per bucket */
#define LOCK_BUCKETS 256

struct store_watch {
	struct store_watch *next;
	int64_t mailbox_id;
	void (*fn)(void *arg);
	void *arg;
};

static pthread_mutex_t watch_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct store_watch *watch_table[WATCH_BUCKETS];

struct mailbox_lock {
	struct mailbox_lock *next;
	int64_t mailbox_id;
};

static pthread_mutex_t lock_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct mailbox_lock *lock_table[LOCK_BUCKETS];

static size_t bucket(int64_t id, size_t nbuckets)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;    /* Fibonacci hashing */
	return (size_t)(h >> 32) & (nbuckets - 1);
}

struct store_watch *store_watch_add(int64_t mailbox_id, void (*fn)(void *arg), void *arg)
{
	struct store_watch *w = xcalloc(1, sizeof *w);
	w->mailbox_id = mailbox_id;
	w->fn = fn;
	w->arg = arg;
	size_t b = bucket(mailbox_id, WATCH_BUCKETS);
	pthread_mutex_lock(&watch_mutex);
	w->next = watch_table[b];
	watch_table[b] = w;
	pthread_mutex_unlock(&watch_mutex);
	return w;
}

void store_watch_remove(struct store_watch **wp)
{
	if (!wp || !*wp)
		return;
	struct store_watch *w = *wp;
	size_t b = bucket(w->mailbox_id, WATCH_BUCKETS);
	pthread_mutex_lock(&watch_mutex);
	for (struct store_watch **p = &watch_table[b]; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&watch_mutex);
	free(w);
	*wp = NULL;
}

void store_notify(int64_t mailbox_id)
{
	size_t b = bucket(mailbox_id, WATCH_BUCKETS);
	pthread_mutex_lock(&watch_mutex);
	for (struct store_watch *w = watch_table[b]; w; w = w->next)
		if (w->mailbox_id == mailbox_id)
			w->fn(w->arg);
	pthread_mutex_unlock(&watch_mutex);
}

struct store_watch *store_account_watch_add(int64_t account_id, void (*fn)(void *arg), void *arg)
{
	return store_watch_add(-account_id, fn, arg);
}

void store_notify_account(int64_t account_id)
{
	store_notify(-account_id);
}

bool store_mailbox_lock(int64_t mailbox_id)
{
	size_t b = bucket(mailbox_id, LOCK_BUCKETS);
	pthread_mutex_lock(&lock_mutex);
	for (struct mailbox_lock *l = lock_table[b]; l; l = l->next) {
		if (l->mailbox_id == mailbox_id) {
			pthread_mutex_unlock(&lock_mutex);
			return false;
		}
	}
	struct mailbox_lock *l = xmalloc(sizeof *l);
	l->mailbox_id = mailbox_id;
	l->next = lock_table[b];
	lock_table[b] = l;
	pthread_mutex_unlock(&lock_mutex);
	return true;
}

void store_mailbox_unlock(int64_t mailbox_id)
{
	size_t b = bucket(mailbox_id, LOCK_BUCKETS);
	struct mailbox_lock *found = NULL;
	pthread_mutex_lock(&lock_mutex);
	for (struct mailbox_lock **p = &lock_table[b]; *p; p = &(*p)->next) {
		if ((*p)->mailbox_id == mailbox_id) {
			found = *p;
			*p = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&lock_mutex);
	free(found);
}

static void (*queue_fn)(void *arg);
static void *queue_arg;

void store_queue_watch(void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&watch_mutex);
	queue_fn = fn;
	queue_arg = arg;
	pthread_mutex_unlock(&watch_mutex);
}

void store_queue_notify(void)
{
	pthread_mutex_lock(&watch_mutex);
	if (queue_fn)
		queue_fn(queue_arg);
	pthread_mutex_unlock(&watch_mutex);
}
