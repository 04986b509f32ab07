/*
 * test_cli.c — unit tests of the admin commands (src/cli/): cli_run against
 * a temporary data directory, with stdin fed from a pipe and stdout/stderr
 * captured in files, checking output, exit codes (0 ok, 1 user error,
 * 2 internal error) and the one-line error messages.  Mail for `mail` and
 * `queue` is delivered through the store's writer with hand-made metadata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/password.h"
#include "cli/cli.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	struct config cfg;
};

struct result {
	int rc;
	char *out;
	size_t outlen;
	char *err;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/tern-test-cli-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	config_defaults(&f->cfg);
	free(f->cfg.data_dir);
	f->cfg.data_dir = xstrdup(f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static char *slurp(int fd, size_t *len)
{
	off_t n = lseek(fd, 0, SEEK_END);
	assert_true(n >= 0);
	char *data = xmalloc((size_t)n + 1);
	assert_int_equal(pread(fd, data, (size_t)n, 0), n);
	data[n] = '\0';
	if (len)
		*len = (size_t)n;
	return data;
}

/* Run `tern ARGS...` (NULL-terminated) with input on stdin (NULL: empty). */
static struct result run_v(struct fixture *f, const char *input, va_list ap)
{
	char *argv[16];
	int argc = 0;
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
		argv[argc++] = (char *)a;
	argv[argc] = NULL;

	char path[128];
	snprintf(path, sizeof path, "%s/.out-XXXXXX", f->dir);
	int out = mkstemp(path);
	unlink(path);
	snprintf(path, sizeof path, "%s/.err-XXXXXX", f->dir);
	int err = mkstemp(path);
	unlink(path);
	int in[2];
	assert_int_equal(pipe(in), 0);
	if (input)
		assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);

	fflush(stdout);
	fflush(stderr);
	int saved[3] = { dup(0), dup(1), dup(2) };
	dup2(in[0], 0);
	dup2(out, 1);
	dup2(err, 2);
	struct result r;
	r.rc = cli_run(argc, argv, &f->cfg);
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	close(in[0]);
	r.out = slurp(out, &r.outlen);
	r.err = slurp(err, NULL);
	close(out);
	close(err);
	return r;
}

static struct result run(struct fixture *f, const char *input, ...)
{
	va_list ap;
	va_start(ap, input);
	struct result r = run_v(f, input, ap);
	va_end(ap);
	return r;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Expect rc and exact stdout; stderr empty on success. */
static void expect(struct fixture *f, int rc, const char *out, const char *input, ...)
{
	va_list ap;
	va_start(ap, input);
	struct result r = run_v(f, input, ap);
	va_end(ap);
	if (r.rc != rc || (out && strcmp(r.out, out) != 0))
		print_error("rc=%d out=[%s] err=[%s]\n", r.rc, r.out, r.err);
	assert_int_equal(r.rc, rc);
	if (out)
		assert_string_equal(r.out, out);
	if (rc == 0)
		assert_string_equal(r.err, "");
	result_free(&r);
}

/* Expect a user error (1) with exactly this one-line message. */
static void expect_error(struct fixture *f, int rc, const char *err, const char *input, ...)
{
	va_list ap;
	va_start(ap, input);
	struct result r = run_v(f, input, ap);
	va_end(ap);
	if (r.rc != rc || strcmp(r.err, err) != 0)
		print_error("rc=%d out=[%s] err=[%s]\n", r.rc, r.out, r.err);
	assert_int_equal(r.rc, rc);
	assert_string_equal(r.err, err);
	assert_string_equal(r.out, "");
	result_free(&r);
}

static char *account_hash(struct fixture *f, const char *address)
{
	struct store *s = store_open(f->dir);
	assert_non_null(s);
	struct store_account a;
	assert_int_equal(store_account_get(s, address, &a), STORE_OK);
	char *h = a.password_hash;
	store_close(&s);
	return h;
}

/* ---- domain ------------------------------------------------------------- */

static void test_domain(void **state)
{
	struct fixture *f = *state;
	expect(f, 0, "", NULL, "domain", "add", "example.org", NULL);
	expect(f, 0, "", NULL, "domain", "add", "EXAMPLE.NET", NULL);
	expect(f, 0, "", NULL, "domain", "add", "B\xc3\xbc" "cher.Example", NULL);   /* Bücher: IDN */
	expect(f, 0, "example.net\nexample.org\nxn--bcher-kva.example\n", NULL, "domain", "list", NULL);
	expect_error(f, 1, "tern: domain add: domain example.org already exists\n", NULL,
		     "domain", "add", "Example.org", NULL);
	expect_error(f, 1, "tern: domain add: invalid domain 'bad domain'\n", NULL, "domain", "add", "bad domain", NULL);
	expect_error(f, 1, "tern: domain add: invalid domain 'a..b'\n", NULL, "domain", "add", "a..b", NULL);
	expect_error(f, 1, "tern: domain del: no such domain nowhere.example\n", NULL,
		     "domain", "del", "nowhere.example", NULL);
	expect(f, 0, "", NULL, "domain", "del", "b\xc3\xbc" "cher.example", NULL);
	expect(f, 0, "example.net\nexample.org\n", NULL, "domain", "list", NULL);
	/* not empty */
	expect(f, 0, "", "pw\n", "user", "add", "a@example.org", "--password-stdin", NULL);
	expect_error(f, 1, "tern: domain del: domain example.org still has accounts or aliases\n", NULL,
		     "domain", "del", "example.org", NULL);
	/* usage */
	expect_error(f, 1, "tern: domain add: usage: tern domain add DOMAIN\n", NULL, "domain", "add", NULL);
	expect_error(f, 1, "tern: domain list: usage: tern domain list \n", NULL, "domain", "list", "x", NULL);
	struct result r = run(f, NULL, "domain", "frob", NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "tern: domain frob: unknown command; usage: tern domain add|del"));
	result_free(&r);
	r = run(f, NULL, "domain", NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "tern: domain: usage:"));
	result_free(&r);
}

/* ---- user --------------------------------------------------------------- */

static void test_user(void **state)
{
	struct fixture *f = *state;
	expect_error(f, 1, "tern: user add: no such domain example.org\n", "pw\n",
		     "user", "add", "alice@example.org", "--password-stdin", NULL);
	expect(f, 0, "", NULL, "domain", "add", "example.org", NULL);
	expect(f, 0, "", "s3cret pass\r\n", "user", "add", "--password-stdin", "Alice@Example.ORG", NULL);
	char *h = account_hash(f, "alice@example.org");
	assert_true(strncmp(h, "$argon2id$", 10) == 0);
	assert_true(password_verify(h, "s3cret pass", 11));
	assert_false(password_verify(h, "s3cret pass\r", 12));
	free(h);

	expect_error(f, 1, "tern: user add: account alice@example.org already exists\n", "pw\n",
		     "user", "add", "alice@example.org", "--password-stdin", NULL);
	expect_error(f, 1, "tern: user add: empty password refused\n", "\n",
		     "user", "add", "bob@example.org", "--password-stdin", NULL);
	expect_error(f, 1, "tern: user add: empty password refused\n", "",
		     "user", "add", "bob@example.org", "--password-stdin", NULL);
	char longpw[1100];
	memset(longpw, 'x', 1050);
	strcpy(longpw + 1050, "\n");
	expect_error(f, 1, "tern: user add: password longer than 1024 octets\n", longpw,
		     "user", "add", "bob@example.org", "--password-stdin", NULL);
	expect_error(f, 1, "tern: user add: invalid address 'bob'\n", "pw\n",
		     "user", "add", "bob", "--password-stdin", NULL);
	expect_error(f, 1, "tern: user add: invalid address 'b b@example.org'\n", "pw\n",
		     "user", "add", "b b@example.org", "--password-stdin", NULL);
	expect_error(f, 1, "tern: user add: usage: tern user add ADDRESS [--password-stdin]\n", NULL,
		     "user", "add", "a@example.org", "b@example.org", NULL);
	expect_error(f, 1, "tern: user add: usage: tern user add ADDRESS [--password-stdin]\n", NULL,
		     "user", "add", "--password", "a@example.org", NULL);
	/* only the first line is the password */
	expect(f, 0, "", "first\nsecond\n", "user", "add", "bob@example.org", "--password-stdin", NULL);
	h = account_hash(f, "bob@example.org");
	assert_true(password_verify(h, "first", 5));
	free(h);

	/* passwd */
	expect(f, 0, "", "n3w\n", "user", "passwd", "ALICE@example.org", "--password-stdin", NULL);
	h = account_hash(f, "alice@example.org");
	assert_true(password_verify(h, "n3w", 3));
	assert_false(password_verify(h, "s3cret pass", 11));
	free(h);
	expect_error(f, 1, "tern: user passwd: no such account nobody@example.org\n", "x\n",
		     "user", "passwd", "nobody@example.org", "--password-stdin", NULL);
	expect_error(f, 1, "tern: user passwd: empty password refused\n", "\n",
		     "user", "passwd", "alice@example.org", "--password-stdin", NULL);

	/* list */
	expect(f, 0, "", NULL, "domain", "add", "example.net", NULL);
	expect(f, 0, "", "pw\n", "user", "add", "carol@example.net", "--password-stdin", NULL);
	expect(f, 0, "carol@example.net\nAlice@example.org\nbob@example.org\n", NULL, "user", "list", NULL);
	expect(f, 0, "Alice@example.org\nbob@example.org\n", NULL, "user", "list", "Example.ORG", NULL);
	expect_error(f, 1, "tern: user list: no such domain nowhere.example\n", NULL,
		     "user", "list", "nowhere.example", NULL);

	/* del */
	expect(f, 0, "", NULL, "user", "del", "bob@example.org", NULL);
	expect_error(f, 1, "tern: user del: no such account bob@example.org\n", NULL,
		     "user", "del", "bob@example.org", NULL);
	expect(f, 0, "Alice@example.org\n", NULL, "user", "list", "example.org", NULL);
	expect_error(f, 1, "tern: user del: usage: tern user del ADDRESS\n", NULL, "user", "del", NULL);
	struct result r = run(f, NULL, "user", "frob", NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "tern: user frob: unknown command; usage: tern user add|passwd"));
	result_free(&r);
}

/* Without --password-stdin and without a terminal: exit 1 with advice.  In a new session, so no tty. */
static void test_user_no_tty(void **state)
{
	struct fixture *f = *state;
	expect(f, 0, "", NULL, "domain", "add", "example.org", NULL);
	fflush(stdout);
	fflush(stderr);
	int errpipe[2];
	assert_int_equal(pipe(errpipe), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setsid();
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(errpipe[1], 2);
		char *argv[] = { (char *)"user", (char *)"add", (char *)"alice@example.org", NULL };
		_exit(cli_run(3, argv, &f->cfg));
	}
	close(errpipe[1]);
	char err[512] = "";
	ssize_t n, got = 0;
	while ((n = read(errpipe[0], err + got, sizeof err - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = '\0';
	close(errpipe[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_string_equal(err, "tern: user add: no terminal to ask for the password; use --password-stdin\n");
	expect(f, 0, "", NULL, "user", "list", NULL);   /* nothing created */
}

/* ---- alias -------------------------------------------------------------- */

static void test_alias(void **state)
{
	struct fixture *f = *state;
	expect(f, 0, "", NULL, "domain", "add", "example.org", NULL);
	expect(f, 0, "", NULL, "alias", "add", "team@example.org", "a@example.org, b@B\xc3\xbc" "cher.example", NULL);
	expect(f, 0, "", NULL, "alias", "add", "team@example.org", "c@remote.example", "a@example.org", NULL);
	expect(f, 0, "", NULL, "alias", "add", "@Example.org", "a@example.org", NULL);
	expect(f, 0,
	       "@example.org -> a@example.org\n"
	       "team@example.org -> a@example.org, b@xn--bcher-kva.example, c@remote.example\n",
	       NULL, "alias", "list", NULL);
	expect_error(f, 1, "tern: alias add: alias team@example.org already has these targets\n", NULL,
		     "alias", "add", "team@example.org", "a@example.org", NULL);
	expect_error(f, 1, "tern: alias add: no such domain example.net\n", NULL,
		     "alias", "add", "team@example.net", "a@example.org", NULL);
	expect_error(f, 1, "tern: alias add: invalid target ''\n", NULL,
		     "alias", "add", "x@example.org", "a@example.org,,b@example.org", NULL);
	expect_error(f, 1, "tern: alias add: invalid target 'nobody'\n", NULL,
		     "alias", "add", "x@example.org", "nobody", NULL);
	expect_error(f, 1, "tern: alias add: invalid alias 'x y@example.org'\n", NULL,
		     "alias", "add", "x y@example.org", "a@example.org", NULL);
	expect_error(f, 1, "tern: alias add: usage: tern alias add ALIAS TARGET[,TARGET...]\n", NULL,
		     "alias", "add", "x@example.org", NULL);

	/* the new alias resolves as the store documents */
	struct store *s = store_open(f->dir);
	struct store_rcpt r;
	assert_int_equal(store_resolve_rcpt(s, "team@example.org", &r), STORE_OK);
	/* b@ and c@ are remote; a@ has no account, so the catch-all sends it to a@ again: loop cut */
	assert_int_equal(r.nremote, 2);
	assert_int_equal(r.naccounts, 0);
	store_rcpt_clear(&r);
	store_close(&s);

	expect(f, 0, "", NULL, "alias", "del", "TEAM@example.org", NULL);
	expect_error(f, 1, "tern: alias del: no such alias team@example.org\n", NULL,
		     "alias", "del", "team@example.org", NULL);
	expect(f, 0, "", NULL, "alias", "del", "@example.org", NULL);
	expect(f, 0, "", NULL, "alias", "list", NULL);
}

/* ---- mail and queue (messages delivered through the writer) -------------- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void on_done(struct store_delivery *d)
{
	struct waiter *w = d->arg;
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void deliver(struct fixture *f, const char *content, size_t n, const char *rcpt, const char *remote,
		    const char *subject, int64_t date)
{
	struct store *s = store_open(f->dir);
	assert_non_null(s);
	struct store_account a = { 0 };
	size_t naccounts = 0;
	if (rcpt) {
		assert_int_equal(store_account_get(s, rcpt, &a), STORE_OK);
		naccounts = 1;
	}
	char path[256];
	snprintf(path, sizeof path, "%s/msg-XXXXXX", store_spool_dir(s));
	int fd = mkstemp(path);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	close(fd);
	struct mail_meta meta = {
		.subject = (char *)subject,
		.from = (char *)"Bob <bob@example.net>",
	};
	struct store_remote_rcpt rr = { remote, NULL, 0 };
	struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	struct store_delivery d = {
		.spool_path = path, .size = n, .message_id = "M1", .internaldate = date, .meta = &meta,
		.account_ids = &a.id, .naccounts = naccounts, .remote = &rr, .nremote = remote ? 1 : 0,
		.queue_offset = 0, .sender = "", .done = on_done, .arg = &w,
	};
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	store_deliver(wr, &d);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	store_writer_stop(&wr);
	assert_int_equal(d.status, STORE_OK);
	store_account_clear(&a);
	store_close(&s);
}

static void test_mail(void **state)
{
	struct fixture *f = *state;
	expect(f, 0, "", NULL, "domain", "add", "example.org", NULL);
	expect(f, 0, "", "pw\n", "user", "add", "alice@example.org", "--password-stdin", NULL);
	expect(f, 0, "", NULL, "mail", "list", "alice@example.org", NULL);

	const char *m1 = "From: Bob <bob@example.net>\r\nSubject: Hello\r\n\r\nHi!\r\n";
	deliver(f, m1, strlen(m1), "alice@example.org", NULL, "Hello", 1700000000);
	/* a big binary message: every byte value, NULs included, more than one read buffer */
	size_t big_n = 300000;
	char *big = xmalloc(big_n);
	for (size_t i = 0; i < big_n; i++)
		big[i] = (char)(i * 7 + i / 256);
	deliver(f, big, big_n, "alice@example.org", NULL, "tab\there\nnewline", 1700086400);

	char expect_list[512];
	snprintf(expect_list, sizeof expect_list,
		 "1\t\t%zu\t2023-11-14T22:13:20Z\tBob <bob@example.net>\tHello\n"
		 "2\t\t%zu\t2023-11-15T22:13:20Z\tBob <bob@example.net>\ttab here newline\n",
		 strlen(m1), big_n);
	expect(f, 0, expect_list, NULL, "mail", "list", "ALICE@example.org", NULL);
	expect(f, 0, expect_list, NULL, "mail", "list", "alice@example.org", "inbox", NULL);
	expect(f, 0, "", NULL, "mail", "list", "alice@example.org", "Sent", NULL);

	expect(f, 0, m1, NULL, "mail", "cat", "alice@example.org", "INBOX", "1", NULL);
	struct result r = run(f, NULL, "mail", "cat", "alice@example.org", "INBOX", "2", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.outlen, big_n);
	assert_memory_equal(r.out, big, big_n);
	result_free(&r);
	free(big);

	expect_error(f, 1, "tern: mail cat: no message with UID 3 in INBOX\n", NULL,
		     "mail", "cat", "alice@example.org", "INBOX", "3", NULL);
	expect_error(f, 1, "tern: mail cat: invalid UID 'x1'\n", NULL, "mail", "cat", "alice@example.org", "INBOX", "x1", NULL);
	expect_error(f, 1, "tern: mail cat: invalid UID '0'\n", NULL, "mail", "cat", "alice@example.org", "INBOX", "0", NULL);
	expect_error(f, 1, "tern: mail cat: invalid UID '4294967296'\n", NULL,
		     "mail", "cat", "alice@example.org", "INBOX", "4294967296", NULL);
	expect_error(f, 1, "tern: mail cat: invalid UID '-1'\n", NULL, "mail", "cat", "alice@example.org", "INBOX", "-1", NULL);
	expect_error(f, 1, "tern: mail list: no mailbox 'Nope' in alice@example.org\n", NULL,
		     "mail", "list", "alice@example.org", "Nope", NULL);
	expect_error(f, 1, "tern: mail list: no such account bob@example.org\n", NULL,
		     "mail", "list", "bob@example.org", NULL);
	expect_error(f, 1, "tern: mail cat: usage: tern mail cat ADDRESS MAILBOX UID\n", NULL,
		     "mail", "cat", "alice@example.org", "INBOX", NULL);
}

static void test_queue(void **state)
{
	struct fixture *f = *state;
	expect(f, 0, "", NULL, "queue", "list", NULL);
	expect(f, 0, "", NULL, "domain", "add", "example.org", NULL);
	const char *m = "Subject: out\r\n\r\nbye\r\n";
	deliver(f, m, strlen(m), NULL, "far@remote.example", "out", 1700000000);
	deliver(f, m, strlen(m), NULL, "other@remote.example", "out", 1700000000);

	struct result r = run(f, NULL, "queue", "list", NULL);
	assert_int_equal(r.rc, 0);
	long long id1, id2;
	char created[32];
	unsigned long long size;
	char line2[256];
	assert_int_equal(sscanf(r.out, "%lld\t%31s\t<>\tfar@remote.example\t%llu\t0\t\n", &id1, created, &size), 3);
	assert_int_equal(size, strlen(m));
	assert_int_equal(strlen(created), 20);    /* 2026-11-26T16:49:55Z */
	assert_int_equal(created[19], 'Z');
	const char *nl = strchr(r.out, '\n');
	assert_non_null(nl);
	snprintf(line2, sizeof line2, "%s", nl + 1);
	assert_int_equal(sscanf(line2, "%lld\t", &id2), 1);
	assert_non_null(strstr(line2, "\t<>\tother@remote.example\t"));
	result_free(&r);

	char id1s[32], id2s[32];
	snprintf(id1s, sizeof id1s, "%lld", id1);
	snprintf(id2s, sizeof id2s, "%lld", id2);
	expect(f, 0, "", NULL, "queue", "retry", id1s, NULL);
	expect(f, 0, "", NULL, "queue", "retry", "all", NULL);
	expect_error(f, 1, "tern: queue retry: no queue entry 999\n", NULL, "queue", "retry", "999", NULL);
	expect_error(f, 1, "tern: queue retry: invalid queue id 'x'\n", NULL, "queue", "retry", "x", NULL);
	expect(f, 0, "", NULL, "queue", "delete", id1s, NULL);
	expect_error(f, 1, "tern: queue delete: no queue entry 999\n", NULL, "queue", "delete", "999", NULL);
	expect_error(f, 1, "tern: queue delete: invalid queue id 'all'\n", NULL, "queue", "delete", "all", NULL);
	r = run(f, NULL, "queue", "list", NULL);
	assert_int_equal(r.rc, 0);
	assert_null(strstr(r.out, "far@remote.example"));
	assert_non_null(strstr(r.out, "other@remote.example"));
	result_free(&r);
	expect(f, 0, "", NULL, "queue", "delete", id2s, NULL);
	expect(f, 0, "", NULL, "queue", "list", NULL);
}

/* ---- dispatch and internal errors ---------------------------------------- */

static void test_dispatch(void **state)
{
	struct fixture *f = *state;
	expect_error(f, 1, "tern: cli: unknown command 'frob'\n", NULL, "frob", NULL);
	struct result r = run(f, NULL, NULL);
	assert_int_equal(r.rc, 1);
	result_free(&r);
	expect_error(f, 1, "tern: queue list: usage: tern queue list \n", NULL, "queue", "list", "extra", NULL);

	/* a data directory that cannot be opened is an internal error (2) */
	free(f->cfg.data_dir);
	f->cfg.data_dir = xstrdup("/proc/version/impossible");
	r = run(f, NULL, "domain", "list", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "tern: domain list: cannot open the store in /proc/version/impossible\n"));
	result_free(&r);
	free(f->cfg.data_dir);
	f->cfg.data_dir = xstrdup(f->dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_no_tty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
