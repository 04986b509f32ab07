/*
 * uids.c — a mailbox's UID list and its \Recent claims, for IMAP SELECT
 * (SQLite backend).
 *
 * SELECT needs every UID (the sequence-number map) and the modseq that
 * list corresponds to, and nothing else.  Both are read in one read
 * transaction, so a change committed concurrently is either wholly in the
 * list and the modseq, or wholly after them — and then the session's next
 * store_mailbox_changes reports it.  The (mailbox_id, uid) unique index
 * covers the query, so no message row is touched.
 *
 * Reading 100,000 rows still costs milliseconds, and clients SELECT the
 * same big mailboxes over and over (every device, every reconnect), so the
 * last few lists read are kept process-wide.  A cached list is used only if
 * the mailbox row, read in the same transaction, still says what it said
 * then: every change to a mailbox bumps its highestmodseq (schema.c), and a
 * deleted and re-created mailbox has a new uidvalidity.
 */
#include "store/sqlite/sq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define UIDS_CACHE_SLOTS 16
#define UIDS_CACHE_MIN 1024                     /* shorter lists are cheap to read */
#define UIDS_CACHE_BYTES (32u << 20)            /* all slots together */

struct uids_slot {
	char *dir;              /* data_dir: which database */
	int64_t mailbox_id;
	int64_t uidvalidity;
	uint64_t modseq;
	uint32_t *uids;
	size_t n;
	uint64_t used;          /* LRU stamp */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uids_slot cache[UIDS_CACHE_SLOTS];
static uint64_t cache_clock;
static size_t cache_bytes;

static struct uids_slot *cache_find(const char *dir, int64_t mailbox_id)
{
	for (size_t i = 0; i < UIDS_CACHE_SLOTS; i++)
		if (cache[i].uids && cache[i].mailbox_id == mailbox_id && strcmp(cache[i].dir, dir) == 0)
			return &cache[i];
	return NULL;
}

static void slot_clear(struct uids_slot *c)
{
	cache_bytes -= c->n * sizeof *c->uids;
	free(c->uids);
	free(c->dir);
	memset(c, 0, sizeof *c);
}

enum cache_state { CACHE_MISS, CACHE_CURRENT, CACHE_STALE };

/*
 * A copy of the cached list of this mailbox (capacity in *cap): CACHE_CURRENT
 * if it is the list at modseq, CACHE_STALE if it is an older list of the
 * same mailbox (its modseq in *cached_modseq), to be brought up to date.
 */
static enum cache_state cache_get(const char *dir, int64_t mailbox_id, int64_t uidvalidity, uint64_t modseq,
				  uint32_t **uids, size_t *n, size_t *cap, uint64_t *cached_modseq)
{
	enum cache_state state = CACHE_MISS;
	pthread_mutex_lock(&cache_lock);
	struct uids_slot *c = cache_find(dir, mailbox_id);
	if (c && c->uidvalidity == uidvalidity && c->modseq <= modseq) {
		*cap = c->n + 256;
		*uids = xmalloc(*cap * sizeof **uids);
		memcpy(*uids, c->uids, c->n * sizeof **uids);
		*n = c->n;
		*cached_modseq = c->modseq;
		c->used = ++cache_clock;
		state = c->modseq == modseq ? CACHE_CURRENT : CACHE_STALE;
	}
	pthread_mutex_unlock(&cache_lock);
	return state;
}

static void cache_put(const char *dir, int64_t mailbox_id, int64_t uidvalidity, uint64_t modseq,
		      const uint32_t *uids, size_t n)
{
	size_t bytes = n * sizeof *uids;
	if (n < UIDS_CACHE_MIN || bytes > UIDS_CACHE_BYTES / 2)
		return;
	pthread_mutex_lock(&cache_lock);
	struct uids_slot *c = cache_find(dir, mailbox_id);
	if (c && c->modseq > modseq && c->uidvalidity == uidvalidity) {
		pthread_mutex_unlock(&cache_lock);
		return;         /* a newer list is already there */
	}
	if (c)
		slot_clear(c);
	for (;;) {
		struct uids_slot *lru = NULL, *free_slot = NULL;
		for (size_t i = 0; i < UIDS_CACHE_SLOTS; i++) {
			if (!cache[i].uids)
				free_slot = &cache[i];
			else if (!lru || cache[i].used < lru->used)
				lru = &cache[i];
		}
		if (free_slot && cache_bytes + bytes <= UIDS_CACHE_BYTES) {
			c = free_slot;
			break;
		}
		slot_clear(lru);        /* a slot is taken or over budget: lru is set */
	}
	c->dir = xstrdup(dir);
	c->mailbox_id = mailbox_id;
	c->uidvalidity = uidvalidity;
	c->modseq = modseq;
	c->uids = xmalloc(bytes);
	memcpy(c->uids, uids, bytes);
	c->n = n;
	c->used = ++cache_clock;
	cache_bytes += bytes;
	pthread_mutex_unlock(&cache_lock);
}

static const char SQL_RECENT_GET[] = "SELECT first_recent_uid FROM mailboxes WHERE id = ?1";
static const char SQL_RECENT_SET[] = "UPDATE mailboxes SET first_recent_uid = ?2 WHERE id = ?1";

enum store_status store_sq_mailbox_recent_claim(struct store *s, int64_t mailbox_id, uint32_t upto, uint32_t *from)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	*from = upto;
	/* Most SELECTs find nothing to claim: look before taking the write lock. */
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_RECENT_GET);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	uint32_t seen = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	if (rc == SQLITE_ROW && seen >= upto) {
		*from = seen;
		return STORE_OK;
	}
	if (!store_sq_begin(sq))
		return STORE_IOERR;
	enum store_status status = STORE_IOERR;
	st = store_sq_stmt(sq, SQL_RECENT_GET);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			status = STORE_NOTFOUND;
		else
			store_sq_log_error(sq, "recent claim");
		sqlite3_reset(st);
		goto out;
	}
	uint32_t first = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (first < upto) {
		if (!(st = store_sq_stmt(sq, SQL_RECENT_SET)))
			goto out;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, upto);
		if (!store_sq_step_done(sq, st, "recent claim"))
			goto out;
		if (!store_sq_commit(sq))
			goto out;
	}
	*from = first;
	status = STORE_OK;
out:
	store_sq_rollback(sq);
	return status;
}

static const char SQL_UIDS_MAILBOX[] = "SELECT highestmodseq, messages, uidvalidity FROM mailboxes WHERE id = ?1";
static const char SQL_UIDS[] = "SELECT uid FROM messages WHERE mailbox_id = ?1 AND uid > ?2 ORDER BY uid";
/* Every removal of a message is on record here (flags.c), with the modseq it got. */
static const char SQL_EXPUNGED_SINCE[] =
	"SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid";
/* "flags & 1 = 0" exactly as in the partial index messages_unseen (schema.c), so that it is used. */
static const char SQL_FIRST_UNSEEN[] = "SELECT MIN(uid) FROM messages WHERE mailbox_id = ?1 AND flags & 1 = 0";

static bool first_unseen_uid(struct store_sq *sq, int64_t mailbox_id, uint32_t *out)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_FIRST_UNSEEN);
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint32_t)sqlite3_column_int64(st, 0);   /* NULL reads as 0: none */
	else
		store_sq_log_error(sq, "first unseen");
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

/* Remove from the sorted list v what was expunged after modseq (merging two sorted lists). */
static bool drop_expunged(struct store_sq *sq, int64_t mailbox_id, uint64_t modseq, uint32_t *v, size_t *n)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_EXPUNGED_SINCE);
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)modseq);
	size_t r = 0, w = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t gone = (uint32_t)sqlite3_column_int64(st, 0);
		while (r < *n && v[r] < gone)
			v[w++] = v[r++];
		if (r < *n && v[r] == gone)
			r++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sq_log_error(sq, "expunged since");
		return false;
	}
	while (r < *n)
		v[w++] = v[r++];
	*n = w;
	return true;
}

enum store_status store_sq_mailbox_uids(struct store *s, int64_t mailbox_id, uint32_t **uids, size_t *n,
					uint64_t *highestmodseq, uint32_t *first_unseen)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	enum store_status status = STORE_IOERR;
	uint32_t *v = NULL;
	size_t count = 0, cap = 0;
	*uids = NULL;
	*n = 0;
	if (!store_sq_exec(sq, "BEGIN"))
		return STORE_IOERR;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_UIDS_MAILBOX);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			status = STORE_NOTFOUND;
		else
			store_sq_log_error(sq, "mailbox uids");
		sqlite3_reset(st);
		goto out;
	}
	uint64_t hms = (uint64_t)sqlite3_column_int64(st, 0);
	int64_t expected = sqlite3_column_int64(st, 1);
	int64_t uidvalidity = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	if (first_unseen && !first_unseen_uid(sq, mailbox_id, first_unseen))
		goto out;
	uint64_t cached_modseq = 0;
	enum cache_state cs = cache_get(sq->data_dir, mailbox_id, uidvalidity, hms, &v, &count, &cap, &cached_modseq);
	if (cs == CACHE_STALE && !drop_expunged(sq, mailbox_id, cached_modseq, v, &count))
		goto out;
	if (cs == CACHE_MISS && expected > 0 && expected < 50000000) {
		/* The counter is a hint for the allocation only; the rows are the truth. */
		cap = (size_t)expected + 16;
		v = xmalloc(cap * sizeof *v);
	}
	if (cs != CACHE_CURRENT) {
		/* UIDs only grow: what is new is above the last one known. */
		if (!(st = store_sq_stmt(sq, SQL_UIDS)))
			goto out;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, count ? v[count - 1] : 0);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (count == cap) {
				cap = cap ? cap * 2 : 256;
				v = xrealloc(v, cap * sizeof *v);
			}
			v[count++] = (uint32_t)sqlite3_column_int64(st, 0);
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			store_sq_log_error(sq, "mailbox uids");
			goto out;
		}
	}
	if (!store_sq_commit(sq))
		goto out;
	if (cs != CACHE_CURRENT)
		cache_put(sq->data_dir, mailbox_id, uidvalidity, hms, v, count);
	*uids = v;
	*n = count;
	v = NULL;
	if (highestmodseq)
		*highestmodseq = hms;
	status = STORE_OK;
out:
	store_sq_rollback(sq);
	free(v);
	return status;
}
