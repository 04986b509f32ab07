/*
 * checkpoint.c — WAL checkpoints for the delivery writer (SQLite
 * backend), on a thread and connection of their own.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
 * past 1000 pages: it copies those pages into index.db and syncs twice,
 * some milliseconds during which the writer commits nothing and every
 * SMTP session waiting for its 250 waits too.  Under steady intake that
 * was every 150 or so deliveries.  So the writer's connection does no
 * checkpoints (its WAL hook only reports the WAL's size here) and this
 * thread runs a PASSIVE one, which never blocks the writer nor any
 * reader, while the writer goes on.  The WAL stays bounded the same way:
 * each checkpoint lets the writer start the WAL file over once no reader
 * still needs its older frames.
 */
#include "store/sqlite/sq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

/* SQLite's own default for wal_autocheckpoint. */
#define CHECKPOINT_PAGES 1000

/*
 * The WAL starts over only once a checkpoint has caught up with all of
 * it, and a PASSIVE checkpoint copies only the frames there were when it
 * began.  Under steady intake on a slow disk the thread can stay behind
 * for good and the WAL grows without end (CI saw 12 MiB in 1200
 * deliveries).  Past this size the writer catches up itself, between two
 * of its transactions, so nothing is appended while it copies.
 */
#define CHECKPOINT_BACKSTOP_PAGES (CHECKPOINT_PAGES * 5 / 2)

struct sq_checkpointer {
	struct store_sq *sq;            /* this thread's own connection */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool wanted;                    /* under lock: the WAL is past CHECKPOINT_PAGES */
	bool stopping;                  /* under lock */
};

static void *checkpointer_main(void *arg)
{
	struct sq_checkpointer *cp = arg;
	pthread_mutex_lock(&cp->lock);
	for (;;) {
		while (!cp->wanted && !cp->stopping)
			pthread_cond_wait(&cp->cond, &cp->lock);
		if (cp->stopping)
			break;
		cp->wanted = false;
		pthread_mutex_unlock(&cp->lock);

		uint64_t t0 = now_us();
		int wal = 0, copied = 0;
		int rc = sqlite3_wal_checkpoint_v2(cp->sq->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			store_sq_log_error(cp->sq, "checkpoint");
		else
			log_debug("store", "msg=\"checkpoint\" wal_pages=%d copied=%d us=%llu", wal, copied,
				  (unsigned long long)(now_us() - t0));
		pthread_mutex_lock(&cp->lock);
	}
	pthread_mutex_unlock(&cp->lock);
	return NULL;
}

/*
 * The writer's WAL hook, called after each of its COMMITs with the WAL's
 * size in pages.  Installing it is also what turns the connection's
 * automatic checkpoint off (sqlite3_wal_hook).  It asks on every COMMIT
 * past the threshold, not once: frames appended while a checkpoint runs
 * are left for the next one, and the WAL starts over only once all are in.
 * SQLITE_BUSY from the backstop means the thread's checkpoint is running:
 * the next COMMIT tries again.
 */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_checkpointer *cp = arg;
	if (pages >= CHECKPOINT_BACKSTOP_PAGES) {
		int wal = 0, copied = 0;
		int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
		log_debug("store", "msg=\"writer checkpoint\" rc=%d wal_pages=%d copied=%d", rc, wal, copied);
		return SQLITE_OK;
	}
	if (pages >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&cp->lock);
		cp->wanted = true;
		pthread_cond_signal(&cp->cond);
		pthread_mutex_unlock(&cp->lock);
	}
	return SQLITE_OK;
}

struct sq_checkpointer *store_sq_checkpointer_start(const char *data_dir, sqlite3 *writer_db)
{
	struct sq_checkpointer *cp = xcalloc(1, sizeof *cp);
	pthread_mutex_init(&cp->lock, NULL);
	pthread_cond_init(&cp->cond, NULL);
	cp->sq = store_sq_handle_open(data_dir);
	if (!cp->sq)
		goto fail;
	int rc = pthread_create(&cp->thread, NULL, checkpointer_main, cp);
	if (rc != 0) {
		log_error("store", "msg=\"cannot start checkpoint thread\" err=%s", lq(strerror(rc)));
		goto fail;
	}
	sqlite3_wal_hook(writer_db, on_wal_commit, cp);
	return cp;
fail:
	if (cp->sq)
		store_sq_handle_close(cp->sq);
	pthread_mutex_destroy(&cp->lock);
	pthread_cond_destroy(&cp->cond);
	free(cp);
	return NULL;
}

/* After the writer's last COMMIT: the writer's connection, closed after
 * this, makes the final checkpoint itself (SQLite does on the last close). */
void store_sq_checkpointer_stop(struct sq_checkpointer *cp, sqlite3 *writer_db)
{
	if (!cp)
		return;
	sqlite3_wal_hook(writer_db, NULL, NULL);
	pthread_mutex_lock(&cp->lock);
	cp->stopping = true;
	pthread_cond_signal(&cp->cond);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	store_sq_handle_close(cp->sq);
	pthread_mutex_destroy(&cp->lock);
	pthread_cond_destroy(&cp->cond);
	free(cp);
}
