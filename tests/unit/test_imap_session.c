/*
 * test_imap_session.c — IMAP session lifecycle in process (see
 * session_harness.h): the idle timeouts before and after login, shortened
 * so the tests need not wait half an hour; BYE on shutdown; and a client
 * vanishing in the middle of an APPEND literal, which must leave neither a
 * message nor a spool file behind.  Commands and their replies are tested
 * end to end in tests/e2e/test_imap*.py.
 */
#include "session_harness.h"

#include "imap/imap.h"
#include "imap/session.h"

static int env_setup(void **state)
{
	struct env *e = env_new("/tmp/tern-test-imap-XXXXXX", "imap.example.org");
	struct imap_server *srv = imap_server_new(&e->cfg, e->wr, e->pool, 1);
	assert_non_null(srv);
	env_run(e, srv, ROLE_IMAP, imap_handler(srv, ROLE_IMAP));
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	env_stop(e);
	struct imap_server *srv = e->srv;
	imap_server_free(&srv);
	env_free(e);
	return 0;
}

/* Send a tagged command; read to its tagged reply, which must begin with expect. */
static void tagged(struct client *c, const char *tag, const char *command, const char *expect_prefix)
{
	client_send(c, tag);
	client_send(c, " ");
	client_send(c, command);
	client_send(c, "\r\n");
	size_t n = strlen(tag);
	for (;;) {
		char *line = client_line(c);
		bool mine = strncmp(line, tag, n) == 0 && line[n] == ' ';
		if (mine && strncmp(line, expect_prefix, strlen(expect_prefix)) != 0)
			fail_msg("expected \"%s...\", got \"%s\"", expect_prefix, line);
		free(line);
		if (mine)
			return;
	}
}

static struct client *logged_in(struct env *e)
{
	struct client *c = client_open(e);
	expect(c, "* OK");
	tagged(c, "l", "LOGIN alice@example.org " PW, "l OK");
	return c;
}

static void test_idle_timeout_after_login(void **state)
{
	struct env *e = *state;
	struct imap_server *srv = e->srv;
	/* The real values: 30 minutes after login (RFC 9051 §5.4), one before. */
	assert_int_equal(imap_handler(srv, ROLE_IMAP)->timeout_ms, 30 * 60 * 1000);
	assert_int_equal(imap_handler(srv, ROLE_IMAPS)->timeout_ms, 30 * 60 * 1000);
	assert_int_equal(srv->preauth_timeout_ms, 60 * 1000);
	imap_server_set_timeouts(srv, 60000, 700);
	struct client *c = logged_in(e);
	tagged(c, "s", "SELECT INBOX", "s OK");
	/* Silence: BYE, then the connection closes. */
	expect(c, "* BYE Autologout");
	assert_true(client_eof(c));
	client_close(c);
}

static void test_preauth_timeout_spares_logged_in_sessions(void **state)
{
	struct env *e = *state;
	imap_server_set_timeouts(e->srv, 500, 60000);
	struct client *in = logged_in(e);
	struct client *pre = client_open(e);
	expect(pre, "* OK");
	expect(pre, "* BYE Autologout");
	assert_true(client_eof(pre));
	client_close(pre);
	/* Talking resets the clock, logged-in sessions have the long one. */
	usleep(300 * 1000);
	tagged(in, "n", "NOOP", "n OK");
	usleep(400 * 1000);
	tagged(in, "n2", "NOOP", "n2 OK");
	client_close(in);
}

static void test_preauth_timeout_during_authenticate(void **state)
{
	struct env *e = *state;
	imap_server_set_timeouts(e->srv, 500, 60000);
	struct client *c = client_open(e);
	expect(c, "* OK");
	/* Stalling at the SASL continuation is no way round the pre-login timeout. */
	client_send(c, "a AUTHENTICATE PLAIN\r\n");
	expect(c, "+ ");
	expect(c, "* BYE Autologout");
	assert_true(client_eof(c));
	client_close(c);
}

static void test_preauth_deadline_not_extended_by_activity(void **state)
{
	struct env *e = *state;
	imap_server_set_timeouts(e->srv, 800, 60000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct client *c = client_open(e);
	expect(c, "* OK");
	/* A command every 100 ms: the deadline still counts from connect, */
	for (int i = 0; i < 6; i++) {
		usleep(100 * 1000);
		cmd(c, "n NOOP", "n OK");
	}
	expect(c, "* BYE Autologout");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* so the BYE comes at 800 ms, not 800 ms after the last NOOP (1400 ms). */
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 750 && ms < 1300);
	assert_true(client_eof(c));
	client_close(c);
}

static void test_shutdown_says_bye(void **state)
{
	struct env *e = *state;
	struct client *c = logged_in(e);
	on_loop(e, shutdown_all, NULL);
	expect(c, "* BYE Server shutting down");
	assert_true(client_eof(c));
	client_close(c);
}

static void test_vanishing_mid_append_leaves_nothing(void **state)
{
	struct env *e = *state;
	struct client *c = logged_in(e);
	client_send(c, "a APPEND INBOX {1000}\r\n");
	expect(c, "+ ");
	client_send(c, "Subject: half\r\n\r\nonly part of it");
	client_close(c);
	/* The server notices on the loop; a fresh session then sees an empty INBOX. */
	c = logged_in(e);
	tagged(c, "s", "STATUS INBOX (MESSAGES)", "s OK");
	tagged(c, "x", "LOGOUT", "x OK");
	client_close(c);
	char spool[128];
	snprintf(spool, sizeof spool, "%s/spool", e->f.dir);
	for (int i = 0; i < 100 && count_files(spool) > 0; i++)
		usleep(10000);
	assert_int_equal(count_files(spool), 0);
	struct store_mailbox m;
	assert_int_equal(store_mailbox_get(e->f.s, e->alice, "INBOX", &m), STORE_OK);
	assert_int_equal(m.messages, 0);
	assert_int_equal(count_blobs(&e->f), 0);
}

int main(void)
{
	log_set_level(LOG_WARN);
	signal(SIGPIPE, SIG_IGN);   /* as serve does */
	loop_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_timeout_after_login, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_preauth_timeout_spares_logged_in_sessions, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_preauth_timeout_during_authenticate, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_preauth_deadline_not_extended_by_activity, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_says_bye, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_vanishing_mid_append_leaves_nothing, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
