/*
 * test_store_util.h — fixtures shared by the store tests (test_store.c,
 * test_store_writer.c): a fresh data directory per test, provisioning,
 * spool files, synchronous delivery through the writer, reading a message
 * back.  Metadata is filled by hand: no dependency on the MIME parser.
 */
#ifndef TERN_TEST_STORE_UTIL_H
#define TERN_TEST_STORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/names.h"
#include "store/store.h"

/* Each test file uses some of these helpers. */
#define HELPER static __attribute__((unused))

struct fixture {
	char dir[64];
	struct store *s;
};

HELPER int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

HELPER int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/tern-test-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->s = store_open(f->dir);
	if (!f->s)
		return -1;
	*state = f;
	return 0;
}

HELPER int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->s);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

HELPER int64_t account_id(struct store *s, const char *address)
{
	struct store_account a;
	assert_int_equal(store_account_get(s, address, &a), STORE_OK);
	int64_t id = a.id;
	store_account_clear(&a);
	return id;
}

HELPER int64_t inbox_id(struct store *s, int64_t account)
{
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(s, account, "INBOX", &mb), STORE_OK);
	return mb.id;
}

HELPER char *spool_file(const char *spool_dir, const char *content, size_t n)
{
	size_t size = strlen(spool_dir) + 32;
	char *path = xmalloc(size);
	snprintf(path, size, "%s/test-XXXXXX", spool_dir);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	close(fd);
	return path;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int pending;
	int ok;
	int failed;
};

HELPER void waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof *w);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

HELPER void waiter_add(struct waiter *w, int n)
{
	pthread_mutex_lock(&w->lock);
	w->pending += n;
	pthread_mutex_unlock(&w->lock);
}

HELPER void waiter_wait(struct waiter *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->pending > 0)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

HELPER void on_done(struct store_delivery *d)
{
	struct waiter *w = d->arg;
	pthread_mutex_lock(&w->lock);
	if (d->status == STORE_OK)
		w->ok++;
	else
		w->failed++;
	w->pending--;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

HELPER struct mail_meta test_meta(const char *subject)
{
	struct mail_meta m = {
		.envelope = (char *)"(NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL)",
		.body = (char *)"(\"text\" \"plain\" NIL NIL NIL \"7bit\" 5 1)",
		.bodystructure = (char *)"(\"text\" \"plain\" NIL NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL)",
		.subject = (char *)subject,
		.from = (char *)"Alice <alice@example.net>",
		.message_id = (char *)"abc@example.net",
		.sent_date = 1700000000,
		.parts = (char *)"",
		.header_size = 20,
		.body_lines = 1,
	};
	return m;
}

/*
 * Deliver the message in file path (blob_id: a store_blob_create file, else
 * NULL for a spool file) synchronously; returns the status.
 */
HELPER enum store_status deliver_file(struct store_writer *wr, const char *path, const char *blob_id, size_t size,
				      const int64_t *accounts, size_t naccounts,
				      const struct store_remote_rcpt *remote, size_t nremote, uint64_t offset,
				      const char *subject)
{
	struct waiter w;
	waiter_init(&w);
	struct mail_meta meta = test_meta(subject);
	struct store_delivery d = {
		.spool_path = path,
		.blob_id = blob_id,
		.size = size,
		.message_id = "TESTID",
		.internaldate = 1700000100,
		.meta = &meta,
		.account_ids = accounts,
		.naccounts = naccounts,
		.remote = remote,
		.nremote = nremote,
		.queue_offset = offset,
		.sender = "sender@example.net",
		.done = on_done,
		.arg = &w,
	};
	waiter_add(&w, 1);
	store_deliver(wr, &d);
	waiter_wait(&w);
	return d.status;
}

/* Deliver content from a new spool file synchronously; returns the status. */
HELPER enum store_status deliver_one(struct store_writer *wr, const char *spool_dir, const char *content,
				     const int64_t *accounts, size_t naccounts,
				     const struct store_remote_rcpt *remote, size_t nremote, uint64_t offset,
				     const char *subject)
{
	char *path = spool_file(spool_dir, content, strlen(content));
	enum store_status rc = deliver_file(wr, path, NULL, strlen(content), accounts, naccounts, remote, nremote,
					    offset, subject);
	free(path);
	return rc;
}

HELPER char *read_message(struct store *s, int64_t mailbox, uint32_t uid, ino_t *ino)
{
	int fd;
	uint64_t size;
	assert_int_equal(store_message_open(s, mailbox, uid, &fd, &size), STORE_OK);
	char *data = xmalloc(size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, data + got, size - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	data[got] = '\0';
	char extra;
	assert_int_equal(read(fd, &extra, 1), 0);   /* exactly size bytes */
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	if (ino)
		*ino = st.st_ino;
	/* read-only */
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);
	return data;
}

HELPER size_t count_files(const char *dir)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_files(path);
		else
			n++;
	}
	closedir(d);
	return n;
}

HELPER size_t count_blobs(const struct fixture *f)
{
	char path[128];
	snprintf(path, sizeof path, "%s/blobs", f->dir);
	return count_files(path);
}

HELPER void provision(struct store *s)
{
	assert_int_equal(store_domain_add(s, "example.org"), STORE_OK);
	assert_int_equal(store_domain_add(s, "example.com"), STORE_OK);
	assert_int_equal(store_account_add(s, "Alice@example.org", "hash-a"), STORE_OK);
	assert_int_equal(store_account_add(s, "bob@example.org", "hash-b"), STORE_OK);
	assert_int_equal(store_account_add(s, "carol@example.com", "hash-c"), STORE_OK);
}

#endif
