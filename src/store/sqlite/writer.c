/*
 * writer.c — the delivery committer (SQLite backend): one thread with its
 * own index connection that turns pending deliveries into durable mail,
 * and one that waits for the disk.
 *
 * store_deliver() only appends to a list under a mutex (callers are event
 * loops and must never wait for a disk).  The thread takes everything
 * pending (up to WRITER_MAX_BATCH) and commits it as one group:
 *
 *   1. place: rename each spool file to blobs/XY/<id> (mkdir XY on demand),
 *      unless it was created there (store_blob_create, as SMTP does);
 *   2. ONE BEGIN IMMEDIATE ... COMMIT: per delivery a blobs row, a message
 *      in each local recipient's INBOX (uid from uidnext, modseq from
 *      highestmodseq, one UPDATE ... RETURNING) or, for an APPEND
 *      (mailbox_id > 0), in that mailbox with the given flags and keywords
 *      and a quota check, a queue row per remote recipient; each delivery
 *      inside its own SAVEPOINT so one failing delivery does not take the
 *      others along (a MULTIAPPEND chain, store_delivery.atomic_next,
 *      shares one SAVEPOINT: all of it or none).  This handle runs with synchronous=NORMAL: the COMMIT
 *      writes the WAL without syncing it, and checkpoints none of it
 *      (another thread does, checkpoint.c);
 *   3. ONE syncfs() on the data directory's file system: every blob's data,
 *      every new directory entry and the WAL become durable at once, which
 *      is far cheaper than an fsync per file and per directory, and than a
 *      second flush for the index.  A second thread (the syncer) does it,
 *      for every group committed by then, while the writer goes on with
 *      the next group: the disk's wait and the index work overlap;
 *   4. only then: remove the files of deliveries that did not make it,
 *      store_notify() every mailbox that got a message, set every status
 *      and call every done().
 *
 * A crash of the process loses nothing written (the page cache survives
 * it).  A power cut before the syncfs() returned may keep some of the
 * group's rows without their blobs, since the file system writes the two
 * in no set order; none of them had been acknowledged, and store_recover
 * checks the newest blobs before anything is served and expunges the
 * messages whose file is missing or short.  Files whose rows never
 * committed are unreferenced and removed by store_recover.  A COMMIT that
 * fails fails the whole group (STORE_IOERR); a sync that fails after it
 * reports the group failed but keeps its rows (a client retries: at worst
 * a message arrives twice).  Readers may see the rows in the millisecond
 * between COMMIT and the sync.
 */
#include "store/sqlite/sq.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "store/keywords.h"

#define WRITER_MAX_BATCH 256

static const char SQL_SAVEPOINT[] = "SAVEPOINT delivery";
static const char SQL_RELEASE[] = "RELEASE delivery";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO delivery";
static const char SQL_COPY_SAVEPOINT[] = "SAVEPOINT copy";
static const char SQL_COPY_RELEASE[] = "RELEASE copy";
static const char SQL_COPY_ROLLBACK_TO[] = "ROLLBACK TO copy";
static const char SQL_BLOB_INSERT[] = "INSERT INTO blobs (id, size, refcount, created) VALUES (?1, ?2, 0, ?3)";
static const char SQL_INBOX_NEXT[] =
	"UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
	" WHERE account_id = ?1 AND name = 'INBOX' RETURNING id, uidnext - 1, highestmodseq";
/* The first mailbox with the \Junk attribute: DMARC quarantine and "junk instead of reject". */
static const char SQL_JUNK_NEXT[] =
	"UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
	" WHERE id = (SELECT id FROM mailboxes WHERE account_id = ?1 AND special_use = '\\Junk' ORDER BY id LIMIT 1)"
	" RETURNING id, uidnext - 1, highestmodseq";
static const char SQL_APPEND_NEXT[] =
	"UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
	" WHERE id = ?2 AND account_id = ?1 RETURNING id, uidnext - 1, highestmodseq, uidvalidity";
static const char SQL_MESSAGE_INSERT[] =
	"INSERT INTO messages (mailbox_id, uid, modseq, internaldate, size, blob_id, envelope, body,"
	" bodystructure, subject, from_addr, message_id, sent_date, parts, header_size, body_lines, flags, keywords)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
static const char SQL_QUEUE_INSERT[] =
	"INSERT INTO queue (blob_id, queue_offset, size, message_id, sender, rcpt, orcpt, notify, ret, envid,"
	" created, next_attempt, body_8bit, smtputf8, requiretls)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14)";

struct sq_writer {
	struct store_writer_base base;  /* first: store.c finds the ops through it */
	struct store_sq *sq;            /* used by the writer thread only */
	int data_fd;                    /* for syncfs */
	int blob_fd;                    /* blobs/, for mkdirat/renameat */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_delivery **pending;    /* under lock */
	size_t npending, cap;
	bool stopping;                  /* under lock: finish what is pending, then exit */
	bool exited;                    /* under lock: the thread takes nothing more */

	/* The syncer: committed groups waiting for their sync (top of this file). */
	pthread_t syncer;
	bool syncer_started;
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	struct group *sync_head, **sync_tail;   /* under sync_lock, oldest first */
	bool sync_stopping;             /* under sync_lock: the writer is gone */

	struct sq_checkpointer *checkpointer;   /* checkpoint.c */
};

/* Per-delivery state within one group. */
struct work {
	struct store_delivery *d;
	char blob_id[SQ_BLOB_ID_LEN + 1];
	char rel[SQ_BLOB_ID_LEN + 4];   /* "XY/<id>" relative to blobs/ */
	bool placed;                    /* the file is in blobs/ */
	unsigned copies;                /* messages + queue rows written */
	enum store_status status;
	struct buf keywords;            /* APPEND: normalised keywords */
	int64_t *mailboxes;             /* mailboxes that got a message, to notify */
	size_t nmailboxes;
	uint32_t uid, uidvalidity;      /* APPEND: where the message went */
};

static const char *bind_str(const char *s)
{
	return s ? s : "";
}

/* ---- 1. placing blobs ---------------------------------------------------- */

static void discard_spool(struct work *w)
{
	if (w->d->spool_path && unlink(w->d->spool_path) != 0 && errno != ENOENT)
		log_error("store", "msg=\"cannot remove spool file\" path=%s err=%s", lq(w->d->spool_path),
			  lq(strerror(errno)));
}

static int rename_noreplace(const char *from, int dirfd, const char *to)
{
	int rc = renameat2(AT_FDCWD, from, dirfd, to, RENAME_NOREPLACE);
	if (rc != 0 && errno == EINVAL)     /* file system without RENAME_NOREPLACE */
		rc = renameat(AT_FDCWD, from, dirfd, to);
	return rc;
}

static bool place_blob(struct sq_writer *wr, struct work *w)
{
	const char *spool = w->d->spool_path;
	if (chmod(spool, 0640) != 0) {
		log_error("store", "msg=\"spool file unusable\" path=%s err=%s", lq(spool), lq(strerror(errno)));
		return false;
	}
	for (int attempt = 0; attempt < 4; attempt++) {
		store_sq_blob_new_id(w->blob_id);
		snprintf(w->rel, sizeof w->rel, "%.2s/%s", w->blob_id, w->blob_id);
		int rc = rename_noreplace(spool, wr->blob_fd, w->rel);
		if (rc != 0 && errno == ENOENT) {
			char dir[3] = { w->blob_id[0], w->blob_id[1], '\0' };
			if (mkdirat(wr->blob_fd, dir, 0750) != 0 && errno != EEXIST) {
				log_error("store", "msg=\"cannot create blob directory\" dir=%s err=%s", dir,
					  lq(strerror(errno)));
				return false;
			}
			rc = rename_noreplace(spool, wr->blob_fd, w->rel);
		}
		if (rc == 0) {
			w->placed = true;
			return true;
		}
		if (errno != EEXIST)
			break;
		/* an id collision: astronomically unlikely, but a blob is never overwritten */
	}
	log_error("store", "msg=\"cannot move spool file to blobs\" path=%s err=%s", lq(spool), lq(strerror(errno)));
	return false;
}

/* A file made by store_blob_create is in its place already. */
static void take_blob(struct work *w)
{
	if (!store_sq_blob_id_valid(w->d->blob_id)) {
		w->status = STORE_INVALID;
		return;
	}
	memcpy(w->blob_id, w->d->blob_id, SQ_BLOB_ID_LEN + 1);
	snprintf(w->rel, sizeof w->rel, "%.2s/%s", w->blob_id, w->blob_id);
	w->placed = true;
}

static void remove_blob(struct sq_writer *wr, struct work *w)
{
	if (w->placed && unlinkat(wr->blob_fd, w->rel, 0) != 0 && errno != ENOENT)
		log_error("store", "msg=\"cannot remove blob\" blob=%s err=%s", w->blob_id, lq(strerror(errno)));
	w->placed = false;
}

static void prepare(struct sq_writer *wr, struct work *w)
{
	const struct store_delivery *d = w->d;
	w->status = STORE_OK;
	if (!d->spool_path || (d->naccounts && (!d->meta || !d->account_ids)) ||
	    (d->nremote && (!d->remote || d->queue_offset > d->size)))
		w->status = STORE_INVALID;
	else if (d->mailbox_id > 0 && (d->naccounts != 1 || !store_kw_normalize(d->keywords, &w->keywords)))
		w->status = STORE_INVALID;
	else if (d->naccounts + d->nremote == 0)
		w->status = STORE_NOTFOUND;
	else if (d->blob_id)
		take_blob(w);
	else if (!place_blob(wr, w))
		w->status = STORE_IOERR;
	if (w->status != STORE_OK)
		discard_spool(w);
}

/* ---- 3. index rows ------------------------------------------------------- */

static bool exec_cached(struct store_sq *sq, const char *sql)
{
	sqlite3_stmt *st = store_sq_stmt(sq, sql);
	return st && store_sq_step_done(sq, st, sql);
}

/*
 * Take a UID and a modseq in the delivery's mailbox for account_id: its
 * INBOX, or for an APPEND the given mailbox (which must be the account's).
 * STORE_NOTFOUND when there is no such account or mailbox any more.
 */
static enum store_status next_uid(struct store_sq *sq, struct work *w, int64_t account_id, int64_t *mailbox_id,
				  int64_t *uid, int64_t *modseq)
{
	const struct store_delivery *d = w->d;
	bool junk = d->junk && d->mailbox_id <= 0;
	sqlite3_stmt *st = store_sq_stmt(sq, d->mailbox_id > 0 ? SQL_APPEND_NEXT : junk ? SQL_JUNK_NEXT : SQL_INBOX_NEXT);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_int64(st, 1, account_id);
	if (d->mailbox_id > 0)
		sqlite3_bind_int64(st, 2, d->mailbox_id);
	int rc = sqlite3_step(st);
	if (junk && rc == SQLITE_DONE) {
		/* No Junk mailbox (the user deleted it): INBOX, rather than no copy at all. */
		sqlite3_reset(st);
		st = store_sq_stmt(sq, SQL_INBOX_NEXT);
		if (!st)
			return STORE_IOERR;
		sqlite3_bind_int64(st, 1, account_id);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			store_sq_log_error(sq, "mailbox uid");
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? STORE_NOTFOUND : STORE_IOERR;
	}
	*mailbox_id = sqlite3_column_int64(st, 0);
	*uid = sqlite3_column_int64(st, 1);
	*modseq = sqlite3_column_int64(st, 2);
	if (d->mailbox_id > 0)
		w->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	if (*uid <= 0 || *uid > UINT32_MAX) {
		log_error("store", "msg=\"mailbox out of uids\" mailbox=%lld", (long long)*mailbox_id);
		return STORE_IOERR;
	}
	return STORE_OK;
}

/*
 * One local copy: STORE_OK, STORE_NOTFOUND (no such account or mailbox
 * any more), STORE_QUOTA, STORE_IOERR; for an APPEND also STORE_INVALID
 * (too many keywords in the mailbox).
 */
static enum store_status insert_message(struct store_sq *sq, struct work *w, int64_t account_id)
{
	const struct store_delivery *d = w->d;
	const struct mail_meta *m = d->meta;
	bool append = d->mailbox_id > 0;
	int64_t mailbox_id, uid, modseq;
	enum store_status status = next_uid(sq, w, account_id, &mailbox_id, &uid, &modseq);
	if (status != STORE_OK)
		return status;
	struct buf kw = BUF_INIT;
	if (append) {
		status = store_sq_mailbox_keywords_add(sq, mailbox_id, buf_cstr(&w->keywords), &kw);
		if (status != STORE_OK) {
			buf_free(&kw);
			return status;
		}
	}

	sqlite3_stmt *st = store_sq_stmt(sq, SQL_MESSAGE_INSERT);
	if (!st) {
		buf_free(&kw);
		return STORE_IOERR;
	}
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, modseq);
	sqlite3_bind_int64(st, 4, d->internaldate);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)d->size);
	sqlite3_bind_text(st, 6, w->blob_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, bind_str(m->envelope), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, bind_str(m->body), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, bind_str(m->bodystructure), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, bind_str(m->subject), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, bind_str(m->from), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, bind_str(m->message_id), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, m->sent_date);
	sqlite3_bind_text(st, 14, bind_str(m->parts), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)m->header_size);
	sqlite3_bind_int64(st, 16, (sqlite3_int64)m->body_lines);
	sqlite3_bind_int64(st, 17, append ? d->flags & SQ_FLAGS_ALL : 0);
	sqlite3_bind_text(st, 18, buf_cstr(&kw), -1, SQLITE_STATIC);
	bool ok = store_sq_step_done(sq, st, "message insert");
	buf_free(&kw);
	if (!ok)
		return STORE_IOERR;
	/*
	 * Checked after the insert, inside the transaction, so that the real
	 * size counts and concurrent deliveries cannot both slip under the
	 * limit.  SMTP also checks at RCPT time, to refuse early.
	 */
	if ((status = store_sq_quota_verify(sq, account_id)) != STORE_OK)
		return status;
	if (append)
		w->uid = (uint32_t)uid;
	if (!w->mailboxes)
		w->mailboxes = xmalloc(d->naccounts * sizeof *w->mailboxes);
	w->mailboxes[w->nmailboxes++] = mailbox_id;
	return STORE_OK;
}

/*
 * A copy for one of several accounts, undone alone if that account is
 * over quota, so that one full mailbox does not cost the others theirs.
 */
static enum store_status insert_copy(struct store_sq *sq, struct work *w, int64_t account_id)
{
	const struct store_delivery *d = w->d;
	if (d->mailbox_id > 0 || d->naccounts < 2)
		return insert_message(sq, w, account_id);
	if (!exec_cached(sq, SQL_COPY_SAVEPOINT))
		return STORE_IOERR;
	enum store_status st = insert_message(sq, w, account_id);
	if (st != STORE_OK && !exec_cached(sq, SQL_COPY_ROLLBACK_TO))
		return STORE_IOERR;
	if (!exec_cached(sq, SQL_COPY_RELEASE))
		return STORE_IOERR;
	return st;
}

static bool insert_queue(struct store_sq *sq, struct work *w, const struct store_remote_rcpt *r, int64_t now)
{
	const struct store_delivery *d = w->d;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_QUEUE_INSERT);
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, w->blob_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)d->queue_offset);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(d->size - d->queue_offset));
	sqlite3_bind_text(st, 4, bind_str(d->message_id), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, bind_str(d->sender), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, bind_str(r->rcpt), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, bind_str(r->orcpt), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, r->notify);
	sqlite3_bind_text(st, 9, bind_str(d->ret), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, bind_str(d->envid), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_int(st, 12, d->body_8bit);
	sqlite3_bind_int(st, 13, d->smtputf8);
	sqlite3_bind_int(st, 14, d->requiretls);
	return store_sq_step_done(sq, st, "queue insert");
}

/* The rows of one delivery, inside the group's transaction. */
static enum store_status insert_delivery(struct store_sq *sq, struct work *w, int64_t now)
{
	const struct store_delivery *d = w->d;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_BLOB_INSERT);
	if (!st)
		return STORE_IOERR;
	sqlite3_bind_text(st, 1, w->blob_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)d->size);
	sqlite3_bind_int64(st, 3, now);
	if (!store_sq_step_done(sq, st, "blob insert"))
		return STORE_IOERR;
	bool over_quota = false;

	for (size_t i = 0; i < d->naccounts; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = d->account_ids[j] == d->account_ids[i];
		if (dup)
			continue;
		enum store_status st2 = insert_copy(sq, w, d->account_ids[i]);
		if (st2 == STORE_QUOTA && d->mailbox_id == 0 && d->naccounts > 1) {
			/* one full mailbox of an alias's: the others still get theirs */
			log_warn("store", "msg=\"recipient over quota, skipped\" message=%s account=%lld",
				 lq(d->message_id), (long long)d->account_ids[i]);
			over_quota = true;
			continue;
		}
		if (st2 == STORE_NOTFOUND && d->mailbox_id > 0)
			return STORE_NOTFOUND;  /* the APPEND's mailbox is gone (or not the account's) */
		if (st2 != STORE_OK && st2 != STORE_NOTFOUND)
			return st2;
		if (st2 == STORE_NOTFOUND) {
			log_warn("store", "msg=\"recipient account gone, skipped\" message=%s account=%lld",
				 lq(d->message_id), (long long)d->account_ids[i]);
			continue;
		}
		w->copies++;
	}
	for (size_t i = 0; i < d->nremote; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = d->remote[j].rcpt && d->remote[i].rcpt &&
			      strcasecmp(d->remote[j].rcpt, d->remote[i].rcpt) == 0;
		if (dup)
			continue;
		if (!insert_queue(sq, w, &d->remote[i], now))
			return STORE_IOERR;
		w->copies++;
	}
	return w->copies ? STORE_OK : over_quota ? STORE_QUOTA : STORE_NOTFOUND;
}

/* The end of the atomic chain (store_delivery.atomic_next) that starts at works[i]. */
static size_t chain_end(const struct work *works, size_t n, size_t i)
{
	size_t j = i + 1;
	while (j < n && works[j - 1].d->atomic_next == works[j].d)
		j++;
	return j;
}

/* Every delivery of a chain shares the fate of its first failure. */
static void chain_fail(struct work *works, size_t i, size_t j, enum store_status st)
{
	for (size_t k = i; k < j; k++) {
		works[k].status = st;
		works[k].nmailboxes = 0;
		works[k].uid = works[k].uidvalidity = 0;
	}
}

/*
 * Each chain (a lone delivery is a chain of one) inside its own
 * SAVEPOINT, so that one failing delivery does not take the others along
 * but takes its whole chain.
 */
static bool commit_rows(struct sq_writer *wr, struct work *works, size_t n)
{
	struct store_sq *sq = wr->sq;
	int64_t now = now_unix();
	if (!store_sq_begin(sq))
		return false;
	for (size_t i = 0, j; i < n; i = j) {
		j = chain_end(works, n, i);
		if (works[i].status != STORE_OK)
			continue;   /* group_place failed the whole chain */
		if (!exec_cached(sq, SQL_SAVEPOINT)) {
			store_sq_rollback(sq);
			return false;
		}
		enum store_status st = STORE_OK;
		for (size_t k = i; k < j && st == STORE_OK; k++)
			st = works[k].status = insert_delivery(sq, &works[k], now);
		if (st != STORE_OK) {
			chain_fail(works, i, j, st);
			if (!exec_cached(sq, SQL_ROLLBACK_TO)) {
				store_sq_rollback(sq);
				return false;
			}
		}
		if (!exec_cached(sq, SQL_RELEASE)) {
			store_sq_rollback(sq);
			return false;
		}
	}
	return store_sq_commit(sq);
}

/* ---- the group ----------------------------------------------------------- */

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Watchers hear of the new messages once they are durable, each mailbox once per group. */
static void notify_group(struct work *works, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		if (works[i].status == STORE_OK)
			total += works[i].nmailboxes;
	if (!total)
		return;
	int64_t *ids = xmalloc(total * sizeof *ids);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; works[i].status == STORE_OK && j < works[i].nmailboxes; j++)
			ids[k++] = works[i].mailboxes[j];
	qsort(ids, k, sizeof *ids, id_cmp);
	for (size_t i = 0; i < k; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			store_notify(ids[i]);
	free(ids);
}

/* The deliveries the writer took at once, committed together. */
struct group {
	struct group *next;             /* in the syncer's queue */
	struct work *works;
	size_t n;
	size_t placed;
	bool committed;
	uint64_t t_start, t_placed, t_committed, t_synced;  /* us, for the debug line */
};

static void group_place(struct sq_writer *wr, struct group *g, struct store_delivery **batch, size_t n)
{
	g->works = n ? xcalloc(n, sizeof *g->works) : NULL;
	g->n = n;
	g->placed = 0;
	g->t_start = now_us();
	for (size_t i = 0; i < n; i++) {
		g->works[i].d = batch[i];
		prepare(wr, &g->works[i]);
		g->placed += g->works[i].placed;
	}
	/* A chain with a delivery that cannot be placed fails whole (group_finish removes the placed blobs). */
	for (size_t i = 0, j; i < n; i = j) {
		j = chain_end(g->works, n, i);
		for (size_t k = i; k < j; k++) {
			if (g->works[k].status != STORE_OK) {
				chain_fail(g->works, i, j, g->works[k].status);
				break;
			}
		}
	}
	g->t_placed = now_us();
}

/*
 * Report a group's outcome: remove the blobs that no row references,
 * notify watchers, set every status and call every done().  durable: the
 * group's rows committed and a sync followed.  committed: they committed
 * (a failed sync after a commit leaves rows that reference their blobs;
 * the deliveries are still reported failed, so a client retries, and at
 * worst a message arrives twice — never a row without its blob).
 */
static void group_finish(struct sq_writer *wr, struct group *g, bool committed, bool durable)
{
	size_t good = 0;
	for (size_t i = 0; i < g->n; i++) {
		struct work *w = &g->works[i];
		bool had_row = committed && w->status == STORE_OK;
		if (!durable && w->status == STORE_OK)
			w->status = STORE_IOERR;
		if (w->status == STORE_OK)
			good++;
		else if (!had_row)
			remove_blob(wr, w);
	}
	if (durable) {
		notify_group(g->works, g->n);
		for (size_t i = 0; i < g->n; i++) {
			if (g->works[i].status == STORE_OK && g->works[i].d->nremote > 0) {
				store_queue_notify();
				break;
			}
		}
	}
	log_debug("store", "msg=\"delivery group committed\" deliveries=%zu ok=%zu place_us=%llu index_us=%llu"
		  " sync_us=%llu", g->n, good, (unsigned long long)(g->t_placed - g->t_start),
		  (unsigned long long)(g->t_committed - g->t_placed), (unsigned long long)(g->t_synced - g->t_committed));
	/* done() may free the delivery: nothing touches it afterwards. */
	for (size_t i = 0; i < g->n; i++) {
		struct store_delivery *d = g->works[i].d;
		d->status = g->works[i].status;
		d->uid = d->status == STORE_OK ? g->works[i].uid : 0;
		d->uidvalidity = d->status == STORE_OK ? g->works[i].uidvalidity : 0;
		buf_free(&g->works[i].keywords);
		free(g->works[i].mailboxes);
		if (d->status != STORE_OK)
			log_warn("store", "msg=\"delivery failed\" message=%s status=%s", lq(d->message_id),
				 lq(store_status_str(d->status)));
		if (d->done)
			d->done(d);
	}
	free(g->works);
	g->works = NULL;
	g->n = 0;
}

/*
 * One group: place its blobs and commit its rows, then hand it to the
 * syncer, and go on with the next group while that one syncs.
 */
static void writer_round(struct sq_writer *wr, struct store_delivery **batch, size_t n)
{
	struct group *g = xcalloc(1, sizeof *g);
	group_place(wr, g, batch, n);
	if (g->placed) {
		g->committed = commit_rows(wr, g->works, g->n);
		if (!g->committed)
			log_error("store", "msg=\"delivery group not committed\" deliveries=%zu", g->placed);
	}
	g->t_committed = now_us();
	pthread_mutex_lock(&wr->sync_lock);
	*wr->sync_tail = g;
	wr->sync_tail = &g->next;
	pthread_cond_signal(&wr->sync_cond);
	pthread_mutex_unlock(&wr->sync_lock);
}

static void *writer_main(void *arg)
{
	struct sq_writer *wr = arg;
	struct store_delivery **batch = xmalloc(WRITER_MAX_BATCH * sizeof *batch);
	pthread_mutex_lock(&wr->lock);
	for (;;) {
		while (wr->npending == 0 && !wr->stopping)
			pthread_cond_wait(&wr->cond, &wr->lock);
		if (wr->npending == 0)
			break;  /* stopping, and everything is done */
		size_t n = wr->npending < WRITER_MAX_BATCH ? wr->npending : WRITER_MAX_BATCH;
		if (n < wr->npending && wr->pending[n - 1]->atomic_next == wr->pending[n]) {
			/* Never split a chain: it goes with the next group (it fits one, STORE_ATOMIC_MAX). */
			size_t k = n - 1;
			while (k > 0 && wr->pending[k - 1]->atomic_next == wr->pending[k])
				k--;
			if (k > 0)
				n = k;
		}
		memcpy(batch, wr->pending, n * sizeof *batch);
		wr->npending -= n;
		memmove(wr->pending, wr->pending + n, wr->npending * sizeof *wr->pending);
		pthread_mutex_unlock(&wr->lock);
		writer_round(wr, batch, n);
		pthread_mutex_lock(&wr->lock);
	}
	wr->exited = true;
	pthread_mutex_unlock(&wr->lock);
	free(batch);
	pthread_mutex_lock(&wr->sync_lock);
	wr->sync_stopping = true;
	pthread_cond_signal(&wr->sync_cond);
	pthread_mutex_unlock(&wr->sync_lock);
	return NULL;
}

/*
 * The syncer takes every group committed so far and makes them all
 * durable with ONE syncfs(): each of them committed before the call
 * began.  While it waits for the disk the writer commits the next group,
 * which the next syncfs() covers.
 */
static void *syncer_main(void *arg)
{
	struct sq_writer *wr = arg;
	pthread_mutex_lock(&wr->sync_lock);
	for (;;) {
		while (!wr->sync_head && !wr->sync_stopping)
			pthread_cond_wait(&wr->sync_cond, &wr->sync_lock);
		struct group *list = wr->sync_head;
		if (!list)
			break;  /* the writer is gone and everything is reported */
		wr->sync_head = NULL;
		wr->sync_tail = &wr->sync_head;
		pthread_mutex_unlock(&wr->sync_lock);

		bool any = false, synced = false;
		for (struct group *g = list; g; g = g->next)
			any |= g->committed;
		if (any) {
			synced = syncfs(wr->data_fd) == 0;
			if (!synced)
				log_error("store", "msg=\"syncfs failed\" err=%s", lq(strerror(errno)));
		}
		uint64_t t = now_us();
		while (list) {
			struct group *g = list;
			list = g->next;
			g->t_synced = t;
			group_finish(wr, g, g->committed, g->committed && synced);
			free(g);
		}
		pthread_mutex_lock(&wr->sync_lock);
	}
	pthread_mutex_unlock(&wr->sync_lock);
	return NULL;
}

static void writer_free(struct sq_writer *wr)
{
	if (wr->syncer_started) {
		/* the writer thread never ran (or has ended): let the syncer go */
		pthread_mutex_lock(&wr->sync_lock);
		wr->sync_stopping = true;
		pthread_cond_signal(&wr->sync_cond);
		pthread_mutex_unlock(&wr->sync_lock);
		pthread_join(wr->syncer, NULL);
	}
	if (wr->sq)
		store_sq_checkpointer_stop(wr->checkpointer, wr->sq->db);
	if (wr->data_fd >= 0)
		close(wr->data_fd);
	if (wr->blob_fd >= 0)
		close(wr->blob_fd);
	store_sq_handle_close(wr->sq);
	pthread_mutex_destroy(&wr->lock);
	pthread_cond_destroy(&wr->cond);
	pthread_mutex_destroy(&wr->sync_lock);
	pthread_cond_destroy(&wr->sync_cond);
	free(wr->pending);
	free(wr);
}

struct store_writer *store_sq_writer_start(const char *data_dir)
{
	struct sq_writer *wr = xcalloc(1, sizeof *wr);
	wr->base.ops = &store_sqlite_ops;
	wr->data_fd = wr->blob_fd = -1;
	pthread_mutex_init(&wr->lock, NULL);
	pthread_cond_init(&wr->cond, NULL);
	pthread_mutex_init(&wr->sync_lock, NULL);
	pthread_cond_init(&wr->sync_cond, NULL);
	wr->sync_tail = &wr->sync_head;
	wr->sq = store_sq_handle_open(data_dir);
	if (!wr->sq)
		goto fail;
	/* The group's syncfs() makes each COMMIT durable (top of this file). */
	if (sqlite3_exec(wr->sq->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		store_sq_log_error(wr->sq, "synchronous");
		goto fail;
	}
	wr->data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	wr->blob_fd = open(wr->sq->blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wr->data_fd < 0 || wr->blob_fd < 0) {
		log_error("store", "msg=\"cannot open data directory\" path=%s err=%s", lq(data_dir), lq(strerror(errno)));
		goto fail;
	}
	wr->checkpointer = store_sq_checkpointer_start(data_dir, wr->sq->db);
	if (!wr->checkpointer)
		goto fail;
	int rc = pthread_create(&wr->syncer, NULL, syncer_main, wr);
	if (rc != 0) {
		log_error("store", "msg=\"cannot start syncer thread\" err=%s", lq(strerror(rc)));
		goto fail;
	}
	wr->syncer_started = true;
	rc = pthread_create(&wr->thread, NULL, writer_main, wr);
	if (rc != 0) {
		log_error("store", "msg=\"cannot start writer thread\" err=%s", lq(strerror(rc)));
		goto fail;
	}
	return (struct store_writer *)(void *)wr;
fail:
	writer_free(wr);
	return NULL;
}

void store_sq_writer_stop(struct store_writer *w)
{
	struct sq_writer *wr = (struct sq_writer *)(void *)w;
	pthread_mutex_lock(&wr->lock);
	wr->stopping = true;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
	pthread_join(wr->thread, NULL);
	writer_free(wr);
}

/* A chain that never reaches the thread: every delivery failed with st, in chain order. */
static void deliver_refuse(struct store_delivery *d, enum store_status st)
{
	while (d) {
		struct store_delivery *next = d->atomic_next;  /* done() may free d */
		if (d->spool_path)
			unlink(d->spool_path);
		d->status = st;
		if (d->done)
			d->done(d);
		d = next;
	}
}

void store_sq_deliver(struct store_writer *w, struct store_delivery *d)
{
	struct sq_writer *wr = (struct sq_writer *)(void *)w;
	size_t n = 0;
	for (struct store_delivery *x = d; x && n <= STORE_ATOMIC_MAX; x = x->atomic_next)
		n++;
	if (n > STORE_ATOMIC_MAX) {
		log_error("store", "msg=\"atomic delivery chain too long\" message=%s", lq(d->message_id));
		deliver_refuse(d, STORE_INVALID);
		return;
	}
	pthread_mutex_lock(&wr->lock);
	if (wr->exited) {
		/* Only a caller racing store_writer_stop gets here; the thread is gone. */
		pthread_mutex_unlock(&wr->lock);
		log_error("store", "msg=\"delivery after writer stop\" message=%s", lq(d->message_id));
		deliver_refuse(d, STORE_IOERR);
		return;
	}
	if (wr->npending + n > wr->cap) {
		while (wr->npending + n > wr->cap)
			wr->cap = wr->cap ? wr->cap * 2 : 64;
		wr->pending = xrealloc(wr->pending, wr->cap * sizeof *wr->pending);
	}
	for (struct store_delivery *x = d; x; x = x->atomic_next)
		wr->pending[wr->npending++] = x;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
}
