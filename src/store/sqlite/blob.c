/*
 * blob.c — message files on disk (SQLite backend): where a blob lives,
 * unlinking blobs the index no longer references, and crash recovery.
 *
 * A blob is data_dir/blobs/XY/<id>, XY being the first two characters of
 * its id, written once and never changed.  Ids are made in time order
 * (store_sq_blob_new_id) so that the index and the directories take new
 * mail at one place rather than all over.  The index is the truth: a blob
 * exists for readers only while a blobs row names it.  Files are created
 * (renamed from the spool) before their row commits, and unlinked after
 * their row is gone, so a crash can leave unreferenced files behind;
 * store_recover removes such leftovers.  A power cut can also keep the
 * row of a delivery that was never acknowledged without its file (the
 * writer syncs both at once, writer.c): store_recover expunges those.
 */
#include "store/sqlite/sq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const char SQL_GC_LIST[] = "SELECT id FROM blob_gc";
static const char SQL_GC_DONE[] = "DELETE FROM blob_gc WHERE id = ?1";
static const char SQL_BLOB_KNOWN[] = "SELECT 1 FROM blobs WHERE id = ?1";
static const char SQL_BLOB_COUNT[] = "SELECT count(*) FROM blobs";
static const char SQL_BLOB_NEWEST[] =
	"SELECT id, size FROM blobs WHERE created >= (SELECT max(created) FROM blobs) - ?1";
static const char SQL_BLOB_MESSAGES[] = "SELECT mailbox_id, uid FROM messages WHERE blob_id = ?1";
static const char SQL_BLOB_QUEUE_DROP[] = "DELETE FROM queue WHERE blob_id = ?1";

/*
 * How far back from the newest blob a power cut can have torn deliveries:
 * only the group whose syncfs() had not returned (writer.c), a matter of
 * milliseconds; a minute covers a clock step too.
 */
#define TORN_WINDOW_S 60

bool store_sq_blob_id_valid(const char *id)
{
	size_t n = strnlen(id, SQ_BLOB_ID_LEN + 1);
	if (n != SQ_BLOB_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

/*
 * A new id: XY, the directory, then the time in microseconds, then 11
 * random characters (about 54 bits: unique whoever makes the id, and a
 * file is created O_EXCL anyway).  Random ids scattered every delivery
 * over the whole blobs b-tree, the messages_blob index and 961
 * directories, so each group commit wrote a page of each per message and
 * each syncfs() a directory block per message; in time order one group's
 * deliveries share their pages and their directory.  XY moves on every
 * 1024 s and comes round again after some 11 days, so the directories stay
 * evenly filled.  All digits are from random_id's alphabet, whose ASCII
 * order is its numeric order.
 */
void store_sq_blob_new_id(char *out)
{
	static const char digits[] = "0123456789BCDFGHJKLMNPQRSTVWXYZ";
	const unsigned base = sizeof digits - 1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t sec = ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
	uint64_t us = sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	unsigned dir = (unsigned)((sec / 1024) % (base * base));
	out[0] = digits[dir / base];
	out[1] = digits[dir % base];
	for (int i = 12; i >= 2; i--) {         /* 31^11 us: some 800 years */
		out[i] = digits[us % base];
		us /= base;
	}
	random_id(out + 13, SQ_BLOB_ID_LEN - 13);
}

bool store_sq_blob_path(const struct store_sq *sq, const char *id, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%.2s/%s", sq->blob_dir, id, id);
	return n > 0 && (size_t)n < size;
}

int store_sq_blob_create(struct store *s, char *blob_id, size_t idsize, char **path)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	*path = NULL;
	if (idsize < SQ_BLOB_ID_LEN + 1)
		return -1;
	char p[SQ_PATH_MAX];
	for (int attempt = 0; attempt < 4; attempt++) {
		store_sq_blob_new_id(blob_id);
		if (!store_sq_blob_path(sq, blob_id, p, sizeof p))
			return -1;
		int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno == ENOENT) {
			char dir[SQ_PATH_MAX];
			snprintf(dir, sizeof dir, "%s/%.2s", sq->blob_dir, blob_id);
			if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
				log_error("store", "msg=\"cannot create blob directory\" path=%s err=%s", lq(dir),
					  lq(strerror(errno)));
				return -1;
			}
			fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		}
		if (fd >= 0) {
			*path = xstrdup(p);
			return fd;
		}
		if (errno != EEXIST)
			break;
		/* an id collision: astronomically unlikely, but a blob is never overwritten */
	}
	log_error("store", "msg=\"cannot create blob\" path=%s err=%s", lq(p), lq(strerror(errno)));
	return -1;
}

void store_sq_blob_gc(struct store_sq *sq)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_GC_LIST);
	if (!st)
		return;
	char **ids = NULL;
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		ids = xrealloc(ids, (n + 1) * sizeof *ids);
		ids[n++] = xstrdup(store_sq_text(st, 0));
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < n; i++) {
		char path[SQ_PATH_MAX];
		/* The file goes first: if we stop in between, the row makes the next run retry. */
		if (store_sq_blob_id_valid(ids[i]) && store_sq_blob_path(sq, ids[i], path, sizeof path) &&
		    unlink(path) != 0 && errno != ENOENT) {
			log_error("store", "msg=\"cannot remove blob\" path=%s err=%s", lq(path), lq(strerror(errno)));
		} else if ((st = store_sq_stmt(sq, SQL_GC_DONE)) != NULL) {
			sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
			store_sq_step_done(sq, st, "blob gc");
			log_debug("store", "msg=\"blob freed\" blob=%s", lq(ids[i]));
		}
		free(ids[i]);
	}
	free(ids);
}

/* ---- recovery ----------------------------------------------------------- */

struct recover {
	struct store_sq *sq;
	struct timespec start;  /* only files changed before this are leftovers */
	unsigned removed_spool;
	unsigned removed_blobs;
	int64_t referenced;
};

/*
 * Whether the file's last status change is older than recovery: a rename
 * into blobs/ updates ctime, so this spares what a delivery running
 * alongside recovery (against the rules: recover runs before the writer
 * starts) might be committing.  start is read from the precise clock, so
 * every file changed before recovery began counts as a leftover, even
 * when the file system stamps ctime finer than the kernel's coarse clock.
 */
static bool before_start(const struct recover *r, const struct stat *st)
{
	if (st->st_ctim.tv_sec != r->start.tv_sec)
		return st->st_ctim.tv_sec < r->start.tv_sec;
	return st->st_ctim.tv_nsec < r->start.tv_nsec;
}

/* Remove files in dir (path for logs) older than the recovery; descend `depth` more levels. */
static void recover_spool_dir(struct recover *r, int dfd, const char *path, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		log_error("store", "msg=\"cannot read spool\" path=%s err=%s", lq(path), lq(strerror(errno)));
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.' || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			/* Sessions spool into one subdirectory per loop thread. */
			int sub = depth > 0 ? openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW) : -1;
			if (sub >= 0)
				recover_spool_dir(r, sub, e->d_name, depth - 1);
			continue;
		}
		if (!before_start(r, &st))
			continue;
		if (unlinkat(dfd, e->d_name, 0) == 0) {
			r->removed_spool++;
			log_info("store", "msg=\"removed spool leftover\" file=%s size=%lld", lq(e->d_name),
				 (long long)st.st_size);
		} else {
			log_error("store", "msg=\"cannot remove spool file\" file=%s err=%s", lq(e->d_name),
				  lq(strerror(errno)));
		}
	}
	closedir(d);
}

static void recover_spool(struct recover *r)
{
	int dfd = open(r->sq->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		log_error("store", "msg=\"cannot read spool\" path=%s err=%s", lq(r->sq->spool_dir), lq(strerror(errno)));
		return;
	}
	recover_spool_dir(r, dfd, r->sq->spool_dir, 1);
}

/* 1 referenced, 0 not, -1 error */
static int blob_known(struct store_sq *sq, const char *id)
{
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_BLOB_KNOWN);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	store_sq_log_error(sq, "blob lookup");
	return -1;
}

static void recover_blob_dir(struct recover *r, int parent, const char *name)
{
	int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		log_error("store", "msg=\"cannot read blob directory\" dir=%s err=%s", lq(name), lq(strerror(errno)));
		if (dfd >= 0)
			close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
			continue;
		struct stat st;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			log_warn("store", "msg=\"unexpected directory in blobs\" dir=%s/%s", lq(name), lq(e->d_name));
			continue;
		}
		int known = 0;
		/* A file is a blob only under the directory its id names. */
		if (store_sq_blob_id_valid(e->d_name) && strncmp(e->d_name, name, 2) == 0 && strlen(name) == 2)
			known = blob_known(r->sq, e->d_name);
		if (known < 0)
			break;   /* the index is unreadable: remove nothing */
		if (known > 0) {
			r->referenced++;
			continue;
		}
		if (!before_start(r, &st))
			continue;
		if (unlinkat(dfd, e->d_name, 0) == 0) {
			r->removed_blobs++;
			log_info("store", "msg=\"removed unreferenced blob\" file=%s/%s size=%lld", lq(name),
				 lq(e->d_name), (long long)st.st_size);
		} else {
			log_error("store", "msg=\"cannot remove blob\" file=%s/%s err=%s", lq(name), lq(e->d_name),
				  lq(strerror(errno)));
		}
	}
	closedir(d);
}

static void recover_blobs(struct recover *r)
{
	int dfd = open(r->sq->blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		log_error("store", "msg=\"cannot read blobs\" path=%s err=%s", lq(r->sq->blob_dir), lq(strerror(errno)));
		if (dfd >= 0)
			close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			recover_blob_dir(r, dfd, e->d_name);
		} else if (before_start(r, &st) && unlinkat(dfd, e->d_name, 0) == 0) {
			r->removed_blobs++;
			log_info("store", "msg=\"removed stray file in blobs\" file=%s", lq(e->d_name));
		}
	}
	closedir(d);
}

/* Take the copies of a blob whose file did not survive out of the index, as an expunge. */
static void drop_torn_blob(struct store_sq *sq, const char *id)
{
	struct row { int64_t mailbox_id; uint32_t uid; } *rows = NULL;
	size_t n = 0;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_BLOB_MESSAGES);
	if (!st)
		return;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		rows = xrealloc(rows, (n + 1) * sizeof *rows);
		rows[n].mailbox_id = sqlite3_column_int64(st, 0);
		rows[n++].uid = (uint32_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < n; i++)
		store_sq_expunge((struct store *)(void *)sq, rows[i].mailbox_id, &rows[i].uid, 1, false, NULL, NULL);
	free(rows);
	if ((st = store_sq_stmt(sq, SQL_BLOB_QUEUE_DROP)) != NULL) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		store_sq_step_done(sq, st, "torn queue rows");
	}
	store_sq_blob_gc(sq);
	log_warn("store", "msg=\"message lost in a power cut before it was acknowledged, removed\" blob=%s copies=%zu",
		 lq(id), n);
}

/*
 * The newest blobs must exist whole: a delivery group's rows and files
 * become durable in one sync, in no set order, so a power cut can keep a
 * row whose file is missing or short (never one that was acknowledged).
 */
static void recover_torn(struct recover *r)
{
	struct store_sq *sq = r->sq;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_BLOB_NEWEST);
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, TORN_WINDOW_S);
	char **torn = NULL;
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = store_sq_text(st, 0);
		int64_t size = sqlite3_column_int64(st, 1);
		char path[SQ_PATH_MAX];
		struct stat sb;
		if (!store_sq_blob_id_valid(id) || !store_sq_blob_path(sq, id, path, sizeof path))
			continue;
		if (stat(path, &sb) == 0 && sb.st_size >= size)
			continue;
		torn = xrealloc(torn, (n + 1) * sizeof *torn);
		torn[n++] = xstrdup(id);
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < n; i++) {
		drop_torn_blob(sq, torn[i]);
		free(torn[i]);
	}
	free(torn);
}

void store_sq_recover(struct store *s)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct recover r = { .sq = sq };
	clock_gettime(CLOCK_REALTIME, &r.start);

	store_sq_blob_gc(sq);   /* frees left over by a crash between a COMMIT and its unlinks */
	recover_torn(&r);
	recover_spool(&r);
	recover_blobs(&r);

	int64_t rows = -1;
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_BLOB_COUNT);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		rows = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	if (rows > r.referenced)
		log_error("store", "msg=\"blob files missing\" missing=%lld", (long long)(rows - r.referenced));
	log_info("store", "msg=\"recovery done\" spool_removed=%u blobs_removed=%u blobs=%lld",
		 r.removed_spool, r.removed_blobs, (long long)r.referenced);
}

enum store_status store_sq_blob_open(struct store *s, const char *blob_id, int *fd)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	char path[SQ_PATH_MAX];
	*fd = -1;
	/* The id came back from the index, but a caller may hand over anything: no path tricks. */
	if (!blob_id || !store_sq_blob_id_valid(blob_id) || !store_sq_blob_path(sq, blob_id, path, sizeof path))
		return STORE_INVALID;
	int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0) {
		if (errno == ENOENT)
			return STORE_NOTFOUND;   /* expunged and collected meanwhile */
		log_error("store", "msg=\"cannot open blob\" path=%s err=%s", lq(path), lq(strerror(errno)));
		return STORE_IOERR;
	}
	*fd = f;
	return STORE_OK;
}
