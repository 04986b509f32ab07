/*
 * session_harness.h — running a protocol server in process for the session
 * tests (test_pop3_session.c, test_imap_session.c): a real store in a
 * temporary directory with alice@ and bob@example.org, the real auth pool
 * and store writer, one event loop, and a client talking to the server
 * over a socketpair, line by line.
 */
#ifndef TERN_TESTS_SESSION_HARNESS_H
#define TERN_TESTS_SESSION_HARNESS_H

#include "test_store_util.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "auth/authpool.h"
#include "auth/password.h"
#include "auth/throttle.h"
#include "lib/config.h"
#include "lib/util.h"
#include "net/conn.h"
#include "net/loop.h"

#define PW "secret-pw"

struct env {
	struct fixture f;
	struct config cfg;
	struct store_writer *wr;
	struct auth_pool *pool;
	struct loop **loops;
	void *srv;                          /* the test's protocol server */
	enum listen_role role;              /* what client_open connects to */
	const struct conn_handler *handler;
	int64_t alice, inbox;
};

/* ---- auth lookups (as serve.c does them) -------------------------------- */

HELPER void *lookup_init(void *arg)
{
	return store_open(arg);
}

HELPER void lookup_fini(void *tctx)
{
	struct store *s = tctx;
	store_close(&s);
}

HELPER bool lookup(void *tctx, const char *user, char **hash, int64_t *id, char canonical[320])
{
	struct store_account a;
	if (!tctx || store_account_get(tctx, user, &a) != STORE_OK)
		return false;
	*hash = a.password_hash;
	a.password_hash = NULL;
	*id = a.id;
	snprintf(canonical, 320, "%s", a.address);
	store_account_clear(&a);
	return true;
}

/* ---- running things on the loop ----------------------------------------- */

struct sync_call {
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

HELPER void run_sync(void *p)
{
	struct sync_call *c = p;
	if (c->fn)
		c->fn(c->arg);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Run fn(arg) on the loop thread and wait for it (fn NULL: wait for what was posted before). */
HELPER void on_loop(struct env *e, void (*fn)(void *), void *arg)
{
	struct sync_call c = { .fn = fn, .arg = arg, .done = false };
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	loop_post(e->loops[0], run_sync, &c);
	pthread_mutex_lock(&c.mu);
	while (!c.done)
		pthread_cond_wait(&c.cv, &c.mu);
	pthread_mutex_unlock(&c.mu);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
}

struct accept_arg {
	struct env *e;
	int fd;
};

HELPER void accept_on_loop(void *p)
{
	struct accept_arg *a = p;
	conn_accept(a->e->loops[0], a->fd, a->e->role, a->e->handler);
}

HELPER void close_all(void *p)
{
	(void)p;
	conn_close_all();
}

HELPER void shutdown_all(void *p)
{
	(void)p;
	conn_shutdown_all();
}

/* ---- fixture ------------------------------------------------------------- */

/*
 * Everything but the protocol server: the test creates that on e->cfg,
 * e->wr, e->pool (one loop), then calls env_run.
 */
HELPER struct env *env_new(const char *dir_template, const char *hostname)
{
	struct env *e = xcalloc(1, sizeof *e);
	snprintf(e->f.dir, sizeof e->f.dir, "%s", dir_template);
	assert_non_null(mkdtemp(e->f.dir));
	e->f.s = store_open(e->f.dir);
	assert_non_null(e->f.s);
	config_defaults(&e->cfg);
	free(e->cfg.data_dir);
	free(e->cfg.hostname);
	e->cfg.data_dir = xstrdup(e->f.dir);
	e->cfg.hostname = xstrdup(hostname);
	e->cfg.auth.allow_plaintext = true;
	auth_throttle_configure(20, 40);

	assert_int_equal(store_domain_add(e->f.s, "example.org"), STORE_OK);
	char *hash = password_hash(PW, strlen(PW));
	assert_non_null(hash);
	assert_int_equal(store_account_add(e->f.s, "alice@example.org", hash), STORE_OK);
	assert_int_equal(store_account_add(e->f.s, "bob@example.org", hash), STORE_OK);
	free(hash);
	e->alice = account_id(e->f.s, "alice@example.org");
	e->inbox = inbox_id(e->f.s, e->alice);

	e->wr = store_writer_start(e->f.dir);
	assert_non_null(e->wr);
	struct auth_lookup lk = { lookup_init, lookup_fini, lookup, e->cfg.data_dir };
	e->pool = auth_pool_start(2, &lk);
	e->loops = loops_create(1);
	return e;
}

/* Start the loop; client_open connects to handler as role. */
HELPER void env_run(struct env *e, void *srv, enum listen_role role, const struct conn_handler *handler)
{
	e->srv = srv;
	e->role = role;
	e->handler = handler;
	loops_run(e->loops, 1);
}

/* Close every connection and stop the loop: then the test frees its server, then env_free. */
HELPER void env_stop(struct env *e)
{
	on_loop(e, close_all, NULL);
	auth_pool_stop(&e->pool);       /* checks in flight report to the loop, which frees orphans */
	on_loop(e, NULL, NULL);
	loops_stop(e->loops, 1);
}

HELPER void env_free(struct env *e)
{
	store_writer_stop(&e->wr);
	config_free(&e->cfg);
	store_close(&e->f.s);
	nftw(e->f.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
}

HELPER void deliver(struct env *e, const char *content)
{
	assert_int_equal(deliver_one(e->wr, store_spool_dir(e->f.s), content, &e->alice, 1, NULL, 0, 0, "t"),
			 STORE_OK);
}

/* ---- the client side ----------------------------------------------------- */

struct client {
	int fd;
	char buf[1 << 16];
	size_t len;
};

HELPER struct client *client_open(struct env *e)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct client *c = xcalloc(1, sizeof *c);
	c->fd = sv[0];
	struct accept_arg a = { e, sv[1] };
	on_loop(e, accept_on_loop, &a);
	return c;
}

HELPER void client_close(struct client *c)
{
	close(c->fd);
	free(c);
}

HELPER void client_send(struct client *c, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(write(c->fd, s, n), (ssize_t)n);
}

/* Fill the buffer; false on EOF. */
HELPER bool client_fill(struct client *c)
{
	struct pollfd p = { c->fd, POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_true(c->len < sizeof c->buf);
	ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
	assert_true(r >= 0);
	c->len += (size_t)r;
	return r > 0;
}

/* One line, CRLF removed, into out (malloc'd). */
HELPER char *client_line(struct client *c)
{
	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);
		if (lf) {
			size_t n = (size_t)(lf - c->buf) + 1;
			assert_true(n >= 2 && lf[-1] == '\r');
			char *line = xmemdup0(c->buf, n - 2);
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return line;
		}
		if (!client_fill(c))
			fail_msg("connection closed; buffered %zu octets", c->len);
	}
}

/* Expect a line beginning with prefix. */
HELPER void expect(struct client *c, const char *prefix)
{
	char *line = client_line(c);
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		fail_msg("expected \"%s...\", got \"%s\"", prefix, line);
	free(line);
}

HELPER void cmd(struct client *c, const char *command, const char *prefix)
{
	client_send(c, command);
	client_send(c, "\r\n");
	expect(c, prefix);
}

/* The body of a multi-line response, dot-unstuffed, CRLFs kept; the "+OK" line is read by the caller. */
HELPER struct buf client_multi(struct client *c)
{
	struct buf b = BUF_INIT;
	for (;;) {
		char *line = client_line(c);
		if (strcmp(line, ".") == 0) {
			free(line);
			return b;
		}
		buf_puts(&b, line[0] == '.' ? line + 1 : line);
		buf_puts(&b, "\r\n");
		free(line);
	}
}

HELPER bool client_eof(struct client *c)
{
	char *lf;
	while (!(lf = memchr(c->buf, '\n', c->len)))
		if (!client_fill(c))
			return true;
	return false;
}

#endif
