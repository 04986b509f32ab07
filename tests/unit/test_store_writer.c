/*
 * test_store_writer.c — unit tests of the store's delivery path: the
 * group-commit writer (statuses, one shared blob, UIDs and MODSEQs, done()
 * only after COMMIT, 8 concurrent submitter threads), the outbound queue
 * and blob reference counting, reopening, crash recovery, blob ids in time
 * order and the WAL kept bounded by the checkpoint thread.
 */
#include "test_store_util.h"

#include <time.h>

/* ---- delivery ----------------------------------------------------------- */

struct msg_check {
	uint32_t expect_uid;
	uint64_t last_modseq;
	struct buf subjects;
	size_t n;
};

static void check_message(void *ctx, const struct store_message *m)
{
	struct msg_check *c = ctx;
	assert_int_equal(m->uid, c->expect_uid);     /* 1..N without gaps */
	assert_true(m->modseq > c->last_modseq);     /* strictly increasing */
	c->expect_uid++;
	c->last_modseq = m->modseq;
	c->n++;
	assert_int_equal(m->flags, 0);
	assert_string_equal(m->keywords, "");
	assert_int_equal(m->internaldate, 1700000100);
	assert_string_equal(m->from, "Alice <alice@example.net>");
	buf_printf(&c->subjects, "%s=%u;", m->subject, m->uid);
}

static void test_deliver_simple(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	const char *spool = store_spool_dir(s);
	const char *msg = "Return-Path: <sender@example.net>\r\nSubject: hi\r\n\r\nbody\r\n";
	uint64_t offset = strlen("Return-Path: <sender@example.net>\r\n");

	/* two local recipients (one listed twice) and two remote ones: one blob */
	int64_t ids[] = { alice, bob, alice };
	struct store_remote_rcpt remote[] = {
		{ "x@remote.example", "rfc822;x@remote.example", 3 },
		{ "y@remote.example", NULL, 0 },
	};
	assert_int_equal(deliver_one(wr, spool, msg, ids, 3, remote, 2, offset, "s1"), STORE_OK);
	assert_int_equal(count_blobs(f), 1);
	char spooldir[128];
	snprintf(spooldir, sizeof spooldir, "%s/spool", f->dir);
	assert_int_equal(count_files(spooldir), 0);

	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(s, alice, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.messages, 1);      /* listed twice, one copy */
	assert_int_equal(mb.uidnext, 2);
	assert_int_equal(mb.highestmodseq, 2);
	ino_t ia, ib;
	char *da = read_message(s, inbox_id(s, alice), 1, &ia);
	char *db = read_message(s, inbox_id(s, bob), 1, &ib);
	assert_string_equal(da, msg);
	assert_string_equal(db, msg);
	assert_true(ia == ib);                 /* the same file */
	free(da);
	free(db);
	int fd;
	uint64_t size;
	assert_int_equal(store_message_open(s, inbox_id(s, alice), 2, &fd, &size), STORE_NOTFOUND);
	assert_int_equal(store_message_open(s, 999999, 1, &fd, &size), STORE_NOTFOUND);

	/* no recipients at all, and an account that is gone: NOTFOUND, nothing left behind */
	assert_int_equal(deliver_one(wr, spool, msg, NULL, 0, NULL, 0, 0, "s2"), STORE_NOTFOUND);
	int64_t gone[] = { 424242 };
	assert_int_equal(deliver_one(wr, spool, msg, gone, 1, NULL, 0, 0, "s3"), STORE_NOTFOUND);
	/* one gone, one present: delivered to the present one */
	int64_t mixed[] = { 424242, bob };
	assert_int_equal(deliver_one(wr, spool, msg, mixed, 2, NULL, 0, 0, "s4"), STORE_OK);
	assert_int_equal(count_blobs(f), 2);
	assert_int_equal(count_files(spooldir), 0);
	assert_int_equal(store_mailbox_get(s, bob, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.messages, 2);
	assert_int_equal(mb.uidnext, 3);

	/* invalid: local recipients without metadata; queue offset past the end */
	struct waiter w;
	waiter_init(&w);
	struct store_delivery d = {
		.spool_path = spool_file(spool, "x", 1), .size = 1, .message_id = "BAD",
		.account_ids = ids, .naccounts = 1, .meta = NULL, .done = on_done, .arg = &w,
	};
	waiter_add(&w, 1);
	store_deliver(wr, &d);
	waiter_wait(&w);
	assert_int_equal(d.status, STORE_INVALID);
	free((char *)d.spool_path);
	assert_int_equal(deliver_one(wr, spool, "abc", NULL, 0, remote, 1, 4, "s5"), STORE_INVALID);
	assert_int_equal(count_blobs(f), 2);
	assert_int_equal(count_files(spooldir), 0);

	store_writer_stop(&wr);
	assert_null(wr);
}

struct queue_seen {
	size_t n;
	int64_t ids[8];
	uint64_t sizes[8];
	struct buf text;
};

static void collect_queue(void *ctx, const struct store_queue_entry *e)
{
	struct queue_seen *q = ctx;
	if (q->n < 8) {
		q->ids[q->n] = e->id;
		q->sizes[q->n] = e->size;
	}
	q->n++;
	buf_printf(&q->text, "%s|%s|%s|%u|%s|%s|%u|%s|%s;", e->sender, e->rcpt, e->orcpt, e->notify, e->ret,
		   e->envid, e->attempts, e->last_error, e->message_id);
	assert_true(e->created > 0);
	assert_true(e->next_attempt >= e->created);
}

static void test_queue_and_refcounts(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	const char *spool = store_spool_dir(s);
	const char *msg = "Return-Path: <s@x>\r\n\r\nhello\r\n";
	uint64_t offset = strlen("Return-Path: <s@x>\r\n");
	struct store_remote_rcpt remote[] = {
		{ "x@remote.example", "rfc822;X@remote.example", 6 },
		{ "y@remote.example", NULL, 0 },
	};

	/* A: local alice + 2 remote; B: alice only; C: alice + bob */
	int64_t a_only[] = { alice };
	int64_t both[] = { alice, bob };
	assert_int_equal(deliver_one(wr, spool, msg, a_only, 1, remote, 2, offset, "A"), STORE_OK);
	assert_int_equal(deliver_one(wr, spool, msg, a_only, 1, NULL, 0, 0, "B"), STORE_OK);
	assert_int_equal(deliver_one(wr, spool, msg, both, 2, NULL, 0, 0, "C"), STORE_OK);
	store_writer_stop(&wr);
	assert_int_equal(count_blobs(f), 3);

	struct queue_seen q = { 0 };
	assert_int_equal(store_queue_list(s, collect_queue, &q), STORE_OK);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.sizes[0], strlen(msg) - offset);
	assert_int_equal(q.sizes[1], strlen(msg) - offset);
	assert_string_equal(buf_cstr(&q.text),
			    "sender@example.net|x@remote.example|rfc822;X@remote.example|6|||0||TESTID;"
			    "sender@example.net|y@remote.example||0|||0||TESTID;");
	int64_t q0 = q.ids[0], q1 = q.ids[1];
	assert_int_equal(store_queue_retry(s, q0), STORE_OK);
	assert_int_equal(store_queue_retry(s, 999999), STORE_NOTFOUND);
	assert_int_equal(store_queue_delete(s, 999999), STORE_NOTFOUND);

	/* deleting alice frees B (hers alone), keeps A (queued) and C (bob's too) */
	assert_int_equal(store_account_del(s, "alice@example.org"), STORE_OK);
	assert_int_equal(count_blobs(f), 2);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(s, bob, "INBOX", &mb), STORE_OK);
	char *data = read_message(s, mb.id, 1, NULL);
	assert_string_equal(data, msg);
	free(data);
	/* the queue holds A: deleting one row keeps it, the last one frees it */
	assert_int_equal(store_queue_delete(s, q0), STORE_OK);
	assert_int_equal(store_queue_delete(s, q0), STORE_NOTFOUND);
	assert_int_equal(count_blobs(f), 2);
	assert_int_equal(store_queue_delete(s, q1), STORE_OK);
	assert_int_equal(count_blobs(f), 1);
	q.n = 0;
	buf_reset(&q.text);
	assert_int_equal(store_queue_list(s, collect_queue, &q), STORE_OK);
	assert_int_equal(q.n, 0);
	assert_int_equal(store_account_del(s, "bob@example.org"), STORE_OK);
	assert_int_equal(count_blobs(f), 0);
	buf_free(&q.text);
}

static struct store *store_for_due;

/* The scheduler's calls: due rows (soonest first, held skipped), deferral, hold, finish. */
static void collect_due(void *ctx, const struct store_queue_entry *e)
{
	struct queue_seen *q = ctx;
	if (q->n < 8)
		q->ids[q->n] = e->id;
	q->n++;
	buf_printf(&q->text, "%s:%u:%s:%d%d;", e->rcpt, e->attempts, e->last_error, e->held, e->warned);
	char path[4096];
	assert_true(store_blob_path(store_for_due, e->blob_id, path, sizeof path));
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(e->queue_offset, strlen("Return-Path: <s@x>\r\n"));
}

static void test_queue_scheduling(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	const char *msg = "Return-Path: <s@x>\r\n\r\nhello\r\n";
	uint64_t offset = strlen("Return-Path: <s@x>\r\n");
	struct store_remote_rcpt remote[] = {
		{ "x@remote.example", NULL, 0 },
		{ "y@remote.example", NULL, 0 },
		{ "z@remote.example", NULL, 0 },
	};
	assert_int_equal(deliver_one(wr, store_spool_dir(s), msg, NULL, 0, remote, 3, offset, "Q"), STORE_OK);
	store_writer_stop(&wr);

	int64_t now = time(NULL);
	store_for_due = s;
	struct queue_seen q = { 0 };
	assert_int_equal(store_queue_due(s, now + 1, 10, collect_due, &q), STORE_OK);
	assert_int_equal(q.n, 3);
	int64_t x = q.ids[0], y = q.ids[1], z = q.ids[2];
	int64_t when = -1;
	assert_int_equal(store_queue_next_due(s, &when), STORE_OK);
	assert_true(when > 0 && when <= now + 1);

	/* y later, z held: only x is due now; y comes back after its time. */
	struct store_queue_outcome later = { y, STORE_QUEUE_DEFER, now + 100, "451 4.3.0 later", false };
	assert_int_equal(store_queue_apply(s, &later, 1), STORE_OK);
	later = (struct store_queue_outcome){ y, STORE_QUEUE_DEFER, now + 200, "451 4.3.0 later again", true };
	assert_int_equal(store_queue_apply(s, &later, 1), STORE_OK);
	assert_int_equal(store_queue_hold(s, z, true), STORE_OK);
	q.n = 0;
	buf_reset(&q.text);
	assert_int_equal(store_queue_due(s, now + 1, 10, collect_due, &q), STORE_OK);
	assert_string_equal(buf_cstr(&q.text), "x@remote.example:0::00;");
	q.n = 0;
	buf_reset(&q.text);
	assert_int_equal(store_queue_due(s, now + 300, 10, collect_due, &q), STORE_OK);
	assert_string_equal(buf_cstr(&q.text), "x@remote.example:0::00;y@remote.example:2:451 4.3.0 later again:01;");
	/* the limit is kept */
	q.n = 0;
	buf_reset(&q.text);
	assert_int_equal(store_queue_due(s, now + 300, 1, collect_due, &q), STORE_OK);
	assert_int_equal(q.n, 1);

	/* held rows do not count for the next wake-up; a row gone is skipped */
	struct store_queue_outcome fin[] = { { x, STORE_QUEUE_FINISH, 0, NULL, false },
					     { x, STORE_QUEUE_FINISH, 0, NULL, false },
					     { 999999, STORE_QUEUE_DEFER, now, "x", false } };
	assert_int_equal(store_queue_apply(s, fin, 3), STORE_OK);
	assert_int_equal(store_queue_next_due(s, &when), STORE_OK);
	assert_int_equal(when, now + 200);
	fin[0].id = y;
	assert_int_equal(store_queue_apply(s, fin, 1), STORE_OK);
	assert_int_equal(store_queue_next_due(s, &when), STORE_OK);
	assert_int_equal(when, 0);
	assert_int_equal(count_blobs(f), 1);
	assert_int_equal(store_queue_hold(s, z, false), STORE_OK);
	assert_int_equal(store_queue_next_due(s, &when), STORE_OK);
	assert_true(when > 0);
	char path[4096];
	q.n = 0;
	buf_reset(&q.text);
	assert_int_equal(store_queue_due(s, now + 300, 10, collect_due, &q), STORE_OK);
	assert_int_equal(q.n, 1);
	/* the whole queue at once */
	uint64_t changed;
	assert_int_equal(store_queue_all(s, STORE_QUEUE_HOLD_ALL, &changed), STORE_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(store_queue_next_due(s, &when), STORE_OK);
	assert_int_equal(when, 0);
	assert_int_equal(store_queue_all(s, STORE_QUEUE_RELEASE_ALL, &changed), STORE_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(store_queue_all(s, STORE_QUEUE_RETRY_ALL, &changed), STORE_OK);
	assert_int_equal(changed, 1);
	fin[0].id = z;
	assert_int_equal(store_queue_apply(s, fin, 1), STORE_OK);
	assert_int_equal(count_blobs(f), 0);
	assert_false(store_blob_path(s, "../../etc/passwd", path, sizeof path));
	assert_int_equal(store_queue_hold(s, z, true), STORE_NOTFOUND);
	buf_free(&q.text);
}

/* done() runs only once the rows are committed: check from inside the callback. */
struct visible_check {
	const char *dir;
	int64_t account;
	uint32_t seen_messages;
	struct waiter w;
};

static void on_done_check_visible(struct store_delivery *d)
{
	struct visible_check *v = d->arg;
	struct store *other = store_open(v->dir);
	struct store_mailbox mb;
	if (other && store_mailbox_get(other, v->account, "INBOX", &mb) == STORE_OK)
		v->seen_messages = mb.messages;
	store_close(&other);
	d->arg = &v->w;
	on_done(d);
}

static void test_done_after_commit(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	struct visible_check v = { .dir = f->dir, .account = alice };
	waiter_init(&v.w);
	struct mail_meta meta = test_meta("v");
	struct store_delivery d = {
		.spool_path = spool_file(store_spool_dir(s), "hello", 5), .size = 5, .message_id = "V",
		.meta = &meta, .account_ids = &alice, .naccounts = 1,
		.done = on_done_check_visible, .arg = &v,
	};
	waiter_add(&v.w, 1);
	store_deliver(wr, &d);
	waiter_wait(&v.w);
	assert_int_equal(d.status, STORE_OK);
	assert_int_equal(v.seen_messages, 1);
	free((char *)d.spool_path);
	store_writer_stop(&wr);
}

/* ---- concurrent submitters ---------------------------------------------- */

#define THREADS 8
#define PER_THREAD 200

struct submitter {
	struct store_writer *wr;
	const char *spool;
	int64_t accounts[2];
	int index;
	struct waiter *w;
	struct store_delivery d[PER_THREAD];
	struct mail_meta meta[PER_THREAD];
	char subject[PER_THREAD][32];
	char content[PER_THREAD][128];
	struct store_remote_rcpt remote;
};

static void *submit_main(void *arg)
{
	struct submitter *t = arg;
	t->remote = (struct store_remote_rcpt){ "far@remote.example", NULL, 0 };
	for (int i = 0; i < PER_THREAD; i++) {
		char subject[32];
		snprintf(subject, sizeof subject, "t%d-m%d", t->index, i);
		memcpy(t->subject[i], subject, sizeof subject);
		int n = snprintf(t->content[i], sizeof t->content[i],
				 "Return-Path: <s@x>\r\nSubject: %s\r\n\r\nmessage %d of thread %d\r\n",
				 subject, i, t->index);
		t->meta[i] = test_meta(t->subject[i]);
		t->d[i] = (struct store_delivery){
			.spool_path = spool_file(t->spool, t->content[i], (size_t)n),
			.size = (uint64_t)n,
			.message_id = t->subject[i],
			.internaldate = 1700000100,
			.meta = &t->meta[i],
			.account_ids = t->accounts,
			.naccounts = 2,
			.remote = &t->remote,
			.nremote = (i % 4 == 0) ? 1 : 0,
			.queue_offset = strlen("Return-Path: <s@x>\r\n"),
			.sender = "s@x",
			.done = on_done,
			.arg = t->w,
		};
		store_deliver(t->wr, &t->d[i]);
	}
	return NULL;
}

struct queue_sizes {
	size_t n;
	bool sizes_ok;
};

static void check_queue_size(void *ctx, const struct store_queue_entry *e)
{
	struct queue_sizes *q = ctx;
	q->n++;
	/* rebuild the message from its id ("tT-mI") and compare sizes past the Return-Path */
	int t, i;
	char content[128];
	if (sscanf(e->message_id, "t%d-m%d", &t, &i) != 2) {
		q->sizes_ok = false;
		return;
	}
	int n = snprintf(content, sizeof content,
			 "Return-Path: <s@x>\r\nSubject: %s\r\n\r\nmessage %d of thread %d\r\n",
			 e->message_id, i, t);
	if (e->size != (uint64_t)n - strlen("Return-Path: <s@x>\r\n") || strcmp(e->rcpt, "far@remote.example") != 0)
		q->sizes_ok = false;
}

static void test_concurrent_delivery(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	struct waiter w;
	waiter_init(&w);
	waiter_add(&w, THREADS * PER_THREAD);

	struct submitter *subs = xcalloc(THREADS, sizeof *subs);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		subs[i].wr = wr;
		subs[i].spool = store_spool_dir(s);
		subs[i].accounts[0] = alice;
		subs[i].accounts[1] = bob;
		subs[i].index = i;
		subs[i].w = &w;
		assert_int_equal(pthread_create(&th[i], NULL, submit_main, &subs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	waiter_wait(&w);
	store_writer_stop(&wr);
	assert_int_equal(w.ok, THREADS * PER_THREAD);
	assert_int_equal(w.failed, 0);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			assert_int_equal(subs[i].d[j].status, STORE_OK);

	/* one blob per delivery, shared by both recipients */
	assert_int_equal(count_blobs(f), THREADS * PER_THREAD);

	/* reopen: everything is there, UIDs 1..N without gaps, modseqs increasing */
	store_close(&f->s);
	f->s = s = store_open(f->dir);
	assert_non_null(s);
	int64_t boxes[2] = { inbox_id(s, alice), inbox_id(s, bob) };
	struct msg_check c[2];
	for (int k = 0; k < 2; k++) {
		c[k] = (struct msg_check){ .expect_uid = 1 };
		assert_int_equal(store_message_list(s, boxes[k], check_message, &c[k]), STORE_OK);
		assert_int_equal(c[k].n, THREADS * PER_THREAD);
		struct store_mailbox mb;
		assert_int_equal(store_mailbox_get(s, k ? bob : alice, "INBOX", &mb), STORE_OK);
		assert_int_equal(mb.messages, THREADS * PER_THREAD);
		assert_int_equal(mb.uidnext, THREADS * PER_THREAD + 1);
		assert_int_equal(mb.highestmodseq, c[k].last_modseq);
	}
	assert_int_equal(store_message_list(s, 999999, check_message, &c[0]), STORE_NOTFOUND);

	/* exact bytes, and the same file for both recipients: spot-check a few */
	for (int i = 0; i < THREADS; i++) {
		for (int j = 0; j < PER_THREAD; j += 37) {
			char key[48];
			snprintf(key, sizeof key, "%s=", subs[i].subject[j]);
			unsigned uid[2];
			for (int k = 0; k < 2; k++) {
				const char *p = strstr(buf_cstr(&c[k].subjects), key);
				assert_non_null(p);
				uid[k] = (unsigned)strtoul(p + strlen(key), NULL, 10);
			}
			ino_t ino[2];
			for (int k = 0; k < 2; k++) {
				char *data = read_message(s, boxes[k], uid[k], &ino[k]);
				assert_string_equal(data, subs[i].content[j]);
				free(data);
			}
			assert_true(ino[0] == ino[1]);
		}
	}
	buf_free(&c[0].subjects);
	buf_free(&c[1].subjects);

	struct queue_sizes q = { 0, true };
	assert_int_equal(store_queue_list(s, check_queue_size, &q), STORE_OK);
	assert_int_equal(q.n, THREADS * PER_THREAD / 4);
	assert_true(q.sizes_ok);

	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			free((char *)subs[i].d[j].spool_path);
	free(subs);
}

/* ---- recovery ----------------------------------------------------------- */

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "junk", 4), 4);
	close(fd);
}

static void test_recover(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_int_equal(deliver_one(wr, store_spool_dir(s), "kept", &alice, 1, NULL, 0, 0, "k"), STORE_OK);
	store_writer_stop(&wr);
	assert_int_equal(count_blobs(f), 1);

	/* leftovers of a crash: a half-received spool file, blobs never committed, a stray */
	char path[256];
	snprintf(path, sizeof path, "%s/spool/partial", f->dir);
	touch(path);
	snprintf(path, sizeof path, "%s/spool/1", f->dir);   /* a loop thread's spool directory */
	mkdir(path, 0750);
	snprintf(path, sizeof path, "%s/spool/1/partial2", f->dir);
	touch(path);
	snprintf(path, sizeof path, "%s/blobs/ZZ", f->dir);
	mkdir(path, 0750);
	snprintf(path, sizeof path, "%s/blobs/ZZ/ZZ0000000000000000000000", f->dir);
	touch(path);
	snprintf(path, sizeof path, "%s/blobs/ZZ/tmpfile", f->dir);
	touch(path);
	snprintf(path, sizeof path, "%s/blobs/stray", f->dir);
	touch(path);
	assert_int_equal(count_blobs(f), 4);

	store_close(&f->s);
	f->s = s = store_open(f->dir);
	store_recover(s);
	assert_int_equal(count_blobs(f), 1);
	char spooldir[128];
	snprintf(spooldir, sizeof spooldir, "%s/spool", f->dir);
	assert_int_equal(count_files(spooldir), 0);   /* counts files in subdirectories too */
	char *data = read_message(s, inbox_id(s, alice), 1, NULL);
	assert_string_equal(data, "kept");
	free(data);

	/* running it again changes nothing */
	store_recover(s);
	assert_int_equal(count_blobs(f), 1);
}

/* Path of the file behind a stored message, through the descriptor the store hands out. */
static void message_path(struct store *s, int64_t mailbox, uint32_t uid, char *out, size_t size)
{
	int fd;
	uint64_t msize;
	assert_int_equal(store_message_open(s, mailbox, uid, &fd, &msize), STORE_OK);
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, size - 1);
	assert_true(n > 0);
	out[n] = '\0';
	close(fd);
}

/*
 * SMTP writes the message straight into a blob file (store_blob_create)
 * and the delivery takes it as it is.  A power cut can keep the newest
 * group's rows without their files (writer.c syncs both at once); recovery
 * expunges such a message and keeps the rest.
 */
static void test_blob_create_and_torn_recovery(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	int64_t ids[] = { alice, bob };

	for (int i = 0; i < 2; i++) {
		char id[STORE_BLOB_ID_MAX], *path;
		int fd = store_blob_create(s, id, sizeof id, &path);
		assert_true(fd >= 0);
		assert_true(strstr(path, id) != NULL);
		const char *body = i == 0 ? "first message" : "second message";
		assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
		close(fd);

		assert_int_equal(deliver_file(wr, path, id, strlen(body), ids, 2, NULL, 0, 0, "direct"), STORE_OK);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);       /* taken where it was, not moved */
		assert_int_equal(st.st_mode & 0777, 0640);
		free(path);
	}
	store_writer_stop(&wr);
	assert_int_equal(count_blobs(f), 2);
	char *data = read_message(s, inbox_id(s, bob), 2, NULL);
	assert_string_equal(data, "second message");
	free(data);

	/* the second file lost its tail in the power cut, as if its sync never happened */
	char path[512];
	message_path(s, inbox_id(s, alice), 2, path, sizeof path);
	assert_int_equal(truncate(path, 3), 0);

	store_close(&f->s);
	f->s = s = store_open(f->dir);
	store_recover(s);
	int fd;
	uint64_t size;
	for (int k = 0; k < 2; k++) {
		int64_t inbox = inbox_id(s, ids[k]);
		assert_int_equal(store_message_open(s, inbox, 2, &fd, &size), STORE_NOTFOUND);
		data = read_message(s, inbox, 1, NULL);
		assert_string_equal(data, "first message");
		free(data);
		struct store_mailbox mb;
		assert_int_equal(store_mailbox_get(s, ids[k], "INBOX", &mb), STORE_OK);
		assert_int_equal(mb.messages, 1);
		assert_int_equal(mb.uidnext, 3);       /* the lost UID is never reused */
	}
	assert_int_equal(count_blobs(f), 1);
	assert_int_equal(access(path, F_OK), -1);

	/* a second recovery finds nothing more */
	store_recover(s);
	data = read_message(s, inbox_id(s, alice), 1, NULL);
	assert_string_equal(data, "first message");
	free(data);
}

/*
 * The writer does no WAL checkpoint itself (checkpoint.c): its thread
 * must, or the WAL grows without end.  One delivery per COMMIT writes
 * some 8 pages, so 1200 of them write about 10,000 pages (40 MiB) to the
 * WAL; checkpoints let the writer start it over near 1000 pages (4 MiB).
 */
static void test_wal_checkpointed_by_its_thread(void **state)
{
	struct fixture *f = *state;
	provision(f->s);
	int64_t alice = account_id(f->s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	char wal[128];
	snprintf(wal, sizeof wal, "%s/index.db-wal", f->dir);
	off_t biggest = 0;
	for (int i = 0; i < 1200; i++) {
		char subject[32];
		snprintf(subject, sizeof subject, "m%d", i);
		assert_int_equal(deliver_one(wr, store_spool_dir(f->s), "Subject: x\r\n\r\nbody\r\n", &alice, 1,
					      NULL, 0, 0, subject), STORE_OK);
		struct stat st;
		assert_int_equal(stat(wal, &st), 0);
		if (st.st_size > biggest)
			biggest = st.st_size;
	}
	store_writer_stop(&wr);
	assert_true(biggest > 1 << 20);
	assert_true(biggest < 12 << 20);
}

/* A junk delivery lands in each account's \Junk mailbox, or INBOX for one that deleted it. */
static void test_junk_delivery(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	assert_int_equal(store_mailbox_delete(s, bob, "Junk"), STORE_OK);
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	const char *msg = "Subject: offer\r\n\r\nbuy now\r\n";
	char *path = spool_file(store_spool_dir(s), msg, strlen(msg));
	struct waiter w;
	waiter_init(&w);
	struct mail_meta meta = test_meta("offer");
	int64_t ids[] = { alice, bob };
	struct store_delivery d = {
		.spool_path = path, .size = strlen(msg), .message_id = "JUNK1", .internaldate = 1700000100,
		.meta = &meta, .account_ids = ids, .naccounts = 2, .sender = "spam@example.net", .junk = true,
		.done = on_done, .arg = &w,
	};
	waiter_add(&w, 1);
	store_deliver(wr, &d);
	waiter_wait(&w);
	free(path);
	assert_int_equal(d.status, STORE_OK);
	store_writer_stop(&wr);

	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(s, alice, "Junk", &mb), STORE_OK);
	assert_int_equal(mb.messages, 1);
	char *data = read_message(s, mb.id, 1, NULL);
	assert_string_equal(data, msg);
	free(data);
	assert_int_equal(store_mailbox_get(s, alice, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.messages, 0);
	assert_int_equal(store_mailbox_get(s, bob, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.messages, 1);
}

/*
 * An atomic chain (MULTIAPPEND): all of it in one transaction, consecutive
 * UIDs; one delivery that cannot be stored (its mailbox is not the
 * account's) fails every one, and none of their files stays behind.
 */
static void append_chain(struct store_writer *wr, const char *spool, int64_t *account, int64_t *mailboxes,
			 size_t n, struct store_delivery *d, struct mail_meta *meta)
{
	struct waiter w;
	waiter_init(&w);
	const char *msg = "Subject: chain\r\n\r\nlink\r\n";
	for (size_t i = 0; i < n; i++) {
		meta[i] = test_meta("chain");
		d[i] = (struct store_delivery){
			.spool_path = spool_file(spool, msg, strlen(msg)), .size = strlen(msg), .message_id = "CHAIN",
			.internaldate = 1700000100, .meta = &meta[i], .account_ids = account, .naccounts = 1,
			.sender = "", .mailbox_id = mailboxes[i], .flags = 0, .keywords = "", .done = on_done,
			.arg = &w, .atomic_next = i + 1 < n ? &d[i + 1] : NULL,
		};
	}
	waiter_add(&w, (int)n);
	store_deliver(wr, &d[0]);
	waiter_wait(&w);
	for (size_t i = 0; i < n; i++)
		free((char *)d[i].spool_path);
}

static void test_atomic_chain(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	int64_t ainbox = inbox_id(s, alice), binbox = inbox_id(s, bob);
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	const char *spool = store_spool_dir(s);
	struct store_delivery d[3];
	struct mail_meta meta[3];

	int64_t good[] = { ainbox, ainbox, ainbox };
	append_chain(wr, spool, &alice, good, 3, d, meta);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(d[i].status, STORE_OK);
		assert_int_equal(d[i].uid, i + 1);
	}
	assert_int_equal(d[0].uidvalidity, d[2].uidvalidity);

	/* the second goes to bob's INBOX, which is not alice's: none is stored */
	int64_t bad[] = { ainbox, binbox, ainbox };
	size_t blobs = count_blobs(f);
	append_chain(wr, spool, &alice, bad, 3, d, meta);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(d[i].status, STORE_NOTFOUND);
	assert_int_equal(count_blobs(f), blobs);
	char spooldir[128];
	snprintf(spooldir, sizeof spooldir, "%s/spool", f->dir);
	assert_int_equal(count_files(spooldir), 0);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(s, alice, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.uidnext, 4);
	assert_int_equal(store_mailbox_get(s, bob, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.messages, 0);

	/* the failed chain took no UIDs: the next one goes on from 4 */
	append_chain(wr, spool, &alice, good, 2, d, meta);
	assert_int_equal(d[0].status, STORE_OK);
	assert_int_equal(d[0].uid, 4);
	assert_int_equal(d[1].uid, 5);
	struct store_delivery *big = xcalloc(STORE_ATOMIC_MAX + 1, sizeof *big);
	struct mail_meta *bigmeta = xcalloc(STORE_ATOMIC_MAX + 1, sizeof *bigmeta);
	int64_t *boxes = xcalloc(STORE_ATOMIC_MAX + 1, sizeof *boxes);
	for (size_t i = 0; i <= STORE_ATOMIC_MAX; i++)
		boxes[i] = ainbox;
	/* longer than STORE_ATOMIC_MAX: refused whole */
	append_chain(wr, spool, &alice, boxes, STORE_ATOMIC_MAX + 1, big, bigmeta);
	for (size_t i = 0; i <= STORE_ATOMIC_MAX; i++)
		assert_int_equal(big[i].status, STORE_INVALID);
	assert_int_equal(count_files(spooldir), 0);
	/* exactly STORE_ATOMIC_MAX: stored whole, in one group */
	append_chain(wr, spool, &alice, boxes, STORE_ATOMIC_MAX, big, bigmeta);
	for (size_t i = 0; i < STORE_ATOMIC_MAX; i++) {
		assert_int_equal(big[i].status, STORE_OK);
		assert_int_equal(big[i].uid, 6 + i);
	}
	free(big);
	free(bigmeta);
	free(boxes);
	store_writer_stop(&wr);
}

/*
 * New blob ids go in time order, so that one group's deliveries share
 * their index pages and their directory (blob.c): ids made one after the
 * other never sort backwards, and they land in one or two directories.
 */
static void test_blob_ids_in_time_order(void **state)
{
	struct fixture *f = *state;
	enum { N = 300 };
	char ids[N][64];
	char dirs[N][3];
	size_t ndirs = 0;
	for (int i = 0; i < N; i++) {
		char *path = NULL;
		int fd = store_blob_create(f->s, ids[i], sizeof ids[i], &path);
		assert_true(fd >= 0);
		assert_int_equal(strlen(ids[i]), 24);
		char expect[256];
		snprintf(expect, sizeof expect, "%s/blobs/%.2s/%s", f->dir, ids[i], ids[i]);
		assert_string_equal(path, expect);
		if (i > 0) {
			assert_true(strcmp(ids[i - 1], ids[i]) != 0);
			/* the directory and the microseconds: never backwards */
			assert_true(strncmp(ids[i - 1], ids[i], 13) <= 0);
		}
		bool known = false;
		for (size_t j = 0; j < ndirs; j++)
			known |= memcmp(dirs[j], ids[i], 2) == 0;
		if (!known) {
			memcpy(dirs[ndirs], ids[i], 2);
			dirs[ndirs++][2] = '\0';
		}
		close(fd);
		unlink(path);
		free(path);
	}
	assert_true(ndirs <= 2);    /* 2 only if the 1024 s boundary fell inside the loop */
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deliver_simple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_and_refcounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_scheduling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_create_and_torn_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_ids_in_time_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_junk_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_checkpointed_by_its_thread, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
