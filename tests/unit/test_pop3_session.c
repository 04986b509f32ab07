/*
 * test_pop3_session.c — the POP3 session state machine, in process: a real
 * store in a temporary directory, the real auth pool, one event loop
 * running the server, and the test talking to it over a socketpair.
 * Covers the states and their commands, every error reply a client can
 * provoke, pipelining, the maildrop lock, UPDATE only after QUIT, \Seen
 * (one store change per session, at QUIT or disconnect), the pre-login
 * deadline and the idle timeout, and streaming a message larger than the
 * output buffer.  TLS (STLS,
 * pop3s) is tested end to end in tests/e2e/test_pop3.py.
 */
#include "session_harness.h"

#include "pop3/pop3.h"
#include "pop3/session.h"

static int env_setup(void **state)
{
	struct env *e = env_new("/tmp/tern-test-pop3-XXXXXX", "pop.example.org");
	struct pop3_server *srv = pop3_server_new(&e->cfg, e->wr, e->pool, 1);
	assert_non_null(srv);
	env_run(e, srv, ROLE_POP3, pop3_handler(srv, ROLE_POP3));
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	env_stop(e);
	struct pop3_server *srv = e->srv;
	pop3_server_free(&srv);
	env_free(e);
	return 0;
}

static struct pop3_server *pop3_srv(struct env *e)
{
	return e->srv;
}

static struct client *login(struct env *e, const char *user)
{
	struct client *c = client_open(e);
	expect(c, "+OK pop.example.org POP3 server ready");
	char line[128];
	snprintf(line, sizeof line, "USER %s", user);
	cmd(c, line, "+OK");
	cmd(c, "PASS " PW, "+OK Logged in");
	return c;
}

static uint32_t flags_of(struct env *e, uint32_t uid);

/* ---- tests --------------------------------------------------------------- */

static void test_greeting_capa_quit(void **state)
{
	struct env *e = *state;
	struct client *c = client_open(e);
	expect(c, "+OK pop.example.org POP3 server ready");
	cmd(c, "CAPA", "+OK");
	struct buf capa = client_multi(c);
	const char *want[] = { "TOP\r\n", "UIDL\r\n", "RESP-CODES\r\n", "AUTH-RESP-CODE\r\n", "PIPELINING\r\n",
			       "EXPIRE NEVER\r\n", "LOGIN-DELAY 0\r\n", "USER\r\n", "SASL PLAIN LOGIN\r\n",
			       "IMPLEMENTATION tern\r\n" };
	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		assert_non_null(strstr(capa.data, want[i]));
	assert_null(strstr(capa.data, "STLS"));   /* no TLS configured here */
	assert_null(strstr(capa.data, "APOP"));
	buf_free(&capa);
	cmd(c, "QUIT", "+OK Bye");
	assert_true(client_eof(c));
	client_close(c);
}

static void test_commands_in_wrong_state(void **state)
{
	struct env *e = *state;
	struct client *c = client_open(e);
	expect(c, "+OK");
	cmd(c, "STAT", "-ERR STAT not allowed before login");
	cmd(c, "LIST", "-ERR LIST not allowed before login");
	cmd(c, "RETR 1", "-ERR RETR not allowed before login");
	cmd(c, "TOP 1 1", "-ERR TOP not allowed before login");
	cmd(c, "DELE 1", "-ERR DELE not allowed before login");
	cmd(c, "UIDL", "-ERR UIDL not allowed before login");
	cmd(c, "RSET", "-ERR RSET not allowed before login");
	cmd(c, "PASS " PW, "-ERR Send USER first");
	cmd(c, "APOP alice@example.org 0123456789abcdef0123456789abcdef", "-ERR APOP not supported");
	cmd(c, "STLS", "-ERR TLS not available");
	client_close(c);

	c = login(e, "alice@example.org");
	cmd(c, "USER bob@example.org", "-ERR USER not allowed after login");
	cmd(c, "PASS x", "-ERR PASS not allowed after login");
	cmd(c, "AUTH PLAIN", "-ERR AUTH not allowed after login");
	cmd(c, "STLS", "-ERR STLS not allowed after login");
	cmd(c, "NOOP", "+OK");
	cmd(c, "QUIT", "+OK Bye (maildrop empty)");
	client_close(c);
}

static void test_bad_input(void **state)
{
	struct env *e = *state;
	struct client *c = login(e, "alice@example.org");
	cmd(c, "XYZZY", "-ERR Unknown command");
	cmd(c, "RETR", "-ERR Syntax: RETR message");
	cmd(c, "RETR x", "-ERR Invalid message number");
	cmd(c, "RETR 1", "-ERR No such message");
	cmd(c, "TOP 1", "-ERR Syntax: TOP message lines");
	cmd(c, "STAT now", "-ERR This command takes no arguments");
	/* 253 octets + CRLF = 255 is allowed, 254 + CRLF is not (RFC 2449 §4). */
	char line[300];
	memset(line, ' ', sizeof line);
	memcpy(line, "NOOP", 4);
	line[253] = '\0';
	cmd(c, line, "+OK");
	line[253] = ' ';
	line[254] = '\0';
	cmd(c, line, "-ERR Line too long");
	assert_int_equal(write(c->fd, "NOOP\0\r\n", 7), 7);
	expect(c, "-ERR NUL in command");
	cmd(c, "QUIT", "+OK");
	client_close(c);
}

static void test_too_many_errors_closes(void **state)
{
	struct env *e = *state;
	struct client *c = client_open(e);
	expect(c, "+OK");
	for (int i = 0; i < 9; i++)
		cmd(c, "BAD", "-ERR Unknown command");
	cmd(c, "BAD", "-ERR Unknown command");
	expect(c, "-ERR Too many errors");
	assert_true(client_eof(c));
	client_close(c);
}

static void test_overlong_line_is_refused_and_skipped(void **state)
{
	struct env *e = *state;
	struct client *c = client_open(e);
	expect(c, "+OK");
	/* Longer than even an AUTH line may be: refused once, the rest discarded up to its LF. */
	size_t n = 40000;
	char *big = xmalloc(n + 3);
	memset(big, 'A', n);
	memcpy(big + n, "\r\n", 3);
	client_send(c, big);
	free(big);
	expect(c, "-ERR Line too long");
	cmd(c, "NOOP", "+OK");
	client_close(c);
}

static void test_login_failures(void **state)
{
	struct env *e = *state;
	struct client *c = client_open(e);
	expect(c, "+OK");
	cmd(c, "USER alice@example.org", "+OK");
	cmd(c, "PASS wrong", "-ERR [AUTH] Authentication failed");
	/* USER is needed again after a failed PASS. */
	cmd(c, "PASS " PW, "-ERR Send USER first");
	/* Unknown account: the same answer. */
	cmd(c, "USER nobody@example.org", "+OK");
	cmd(c, "PASS " PW, "-ERR [AUTH] Authentication failed");
	cmd(c, "USER alice@example.org", "+OK");
	cmd(c, "PASS " PW, "+OK Logged in, 0 messages (0 octets)");
	client_close(c);
}

static void test_plaintext_refused_without_tls(void **state)
{
	struct env *e = *state;
	e->cfg.auth.allow_plaintext = false;
	struct client *c = client_open(e);
	expect(c, "+OK");
	cmd(c, "CAPA", "+OK");
	struct buf capa = client_multi(c);
	assert_null(strstr(capa.data, "USER"));
	assert_null(strstr(capa.data, "SASL"));
	buf_free(&capa);
	cmd(c, "USER alice@example.org", "-ERR [AUTH] Plaintext authentication disallowed without TLS");
	cmd(c, "PASS " PW, "-ERR [AUTH] Plaintext authentication disallowed without TLS");
	cmd(c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldC1wdw==",
	    "-ERR [AUTH] Plaintext authentication disallowed without TLS");
	cmd(c, "AUTH", "+OK");
	struct buf mechs = client_multi(c);
	assert_int_equal(mechs.len, 0);
	buf_free(&mechs);
	e->cfg.auth.allow_plaintext = true;
	client_close(c);
}

static void test_sasl(void **state)
{
	struct env *e = *state;
	struct client *c = client_open(e);
	expect(c, "+OK");
	cmd(c, "AUTH", "+OK");
	struct buf mechs = client_multi(c);
	assert_string_equal(mechs.data, "PLAIN\r\nLOGIN\r\n");
	buf_free(&mechs);
	cmd(c, "AUTH CRAM-MD5", "-ERR Unsupported authentication mechanism");
	/* PLAIN without initial response, cancelled. */
	cmd(c, "AUTH PLAIN", "+ ");
	cmd(c, "*", "-ERR Authentication cancelled");
	/* Bad base64. */
	cmd(c, "AUTH PLAIN !!!!", "-ERR [AUTH] Cannot decode");
	/* LOGIN, two steps, wrong password. */
	cmd(c, "AUTH LOGIN", "+ VXNlcm5hbWU6");
	cmd(c, "YWxpY2VAZXhhbXBsZS5vcmc=", "+ UGFzc3dvcmQ6");
	cmd(c, "d3Jvbmc=", "-ERR [AUTH] Authentication failed");
	/* PLAIN with initial response: \0alice@example.org\0secret-pw */
	cmd(c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldC1wdw==", "+OK Logged in");
	cmd(c, "QUIT", "+OK");
	client_close(c);

	/* A SASL response longer than a command may be, but too long even for SASL. */
	c = client_open(e);
	expect(c, "+OK");
	cmd(c, "AUTH PLAIN", "+ ");
	size_t n = 20000;
	char *big = xmalloc(n + 3);
	memset(big, 'A', n);
	memcpy(big + n, "\r\n", 3);
	client_send(c, big);
	free(big);
	expect(c, "-ERR [AUTH] Authentication exchange line is too long");
	cmd(c, "NOOP", "+OK");
	client_close(c);
}

static const char msg1[] = "From: a@example.net\r\nSubject: one\r\n\r\nfirst\r\n.dotted\r\n.\r\nlast\r\n";
static const char msg2[] = "From: b@example.net\r\nSubject: two\r\n\r\nbody two\r\n";

static void test_transaction(void **state)
{
	struct env *e = *state;
	deliver(e, msg1);
	deliver(e, msg2);
	size_t s1 = strlen(msg1), s2 = strlen(msg2);
	char want[256];

	struct client *c = client_open(e);
	expect(c, "+OK");
	cmd(c, "USER alice@example.org", "+OK");
	snprintf(want, sizeof want, "+OK Logged in, 2 messages (%zu octets)", s1 + s2);
	cmd(c, "PASS " PW, want);
	snprintf(want, sizeof want, "+OK 2 %zu", s1 + s2);
	cmd(c, "STAT", want);
	cmd(c, "LIST", "+OK 2 messages");
	struct buf b = client_multi(c);
	snprintf(want, sizeof want, "1 %zu\r\n2 %zu\r\n", s1, s2);
	assert_string_equal(b.data, want);
	buf_free(&b);
	snprintf(want, sizeof want, "+OK 2 %zu", s2);
	cmd(c, "LIST 2", want);
	cmd(c, "LIST 3", "-ERR No such message");
	cmd(c, "LIST 0", "-ERR No such message");

	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(e->f.s, e->alice, "INBOX", &mb), STORE_OK);
	cmd(c, "UIDL", "+OK");
	b = client_multi(c);
	snprintf(want, sizeof want, "1 %u.1\r\n2 %u.2\r\n", mb.uidvalidity, mb.uidvalidity);
	assert_string_equal(b.data, want);
	buf_free(&b);
	snprintf(want, sizeof want, "+OK 2 %u.2", mb.uidvalidity);
	cmd(c, "UIDL 2", want);

	/* RETR: exact octets, dot-unstuffed by the client; \Seen recorded when the session ends. */
	assert_false(flags_of(e, 1) & STORE_FLAG_SEEN);
	snprintf(want, sizeof want, "+OK %zu octets", s1);
	cmd(c, "RETR 1", want);
	b = client_multi(c);
	assert_string_equal(b.data, msg1);
	buf_free(&b);
	assert_false(flags_of(e, 1) & STORE_FLAG_SEEN);

	/* TOP: header, blank line, n lines; no \Seen. */
	cmd(c, "TOP 2 0", "+OK");
	b = client_multi(c);
	assert_string_equal(b.data, "From: b@example.net\r\nSubject: two\r\n\r\n");
	buf_free(&b);
	cmd(c, "TOP 1 2", "+OK");
	b = client_multi(c);
	assert_string_equal(b.data, "From: a@example.net\r\nSubject: one\r\n\r\nfirst\r\n.dotted\r\n");
	buf_free(&b);
	assert_false(flags_of(e, 2) & STORE_FLAG_SEEN);

	/* DELE marks; the message is gone for this session, RSET brings it back. */
	cmd(c, "DELE 1", "+OK Message 1 deleted");
	cmd(c, "DELE 1", "-ERR Message is deleted");
	cmd(c, "RETR 1", "-ERR Message is deleted");
	cmd(c, "TOP 1 0", "-ERR Message is deleted");
	cmd(c, "LIST 1", "-ERR Message is deleted");
	cmd(c, "UIDL 1", "-ERR Message is deleted");
	snprintf(want, sizeof want, "+OK 1 %zu", s2);
	cmd(c, "STAT", want);
	cmd(c, "LIST", "+OK 1 messages");
	b = client_multi(c);
	snprintf(want, sizeof want, "2 %zu\r\n", s2);
	assert_string_equal(b.data, want);
	buf_free(&b);
	cmd(c, "RSET", "+OK 2 messages");
	snprintf(want, sizeof want, "+OK 2 %zu", s1 + s2);
	cmd(c, "STAT", want);

	/* Deletion happens at QUIT only, and is done when +OK arrives. */
	cmd(c, "DELE 2", "+OK");
	cmd(c, "NOOP", "+OK");
	assert_int_not_equal(flags_of(e, 2), UINT32_MAX);
	cmd(c, "QUIT", "+OK Bye (1 messages left)");
	assert_true(client_eof(c));
	client_close(c);
	assert_int_equal(flags_of(e, 2), UINT32_MAX);   /* gone */
	assert_true(flags_of(e, 1) & STORE_FLAG_SEEN);

	/* Numbers are per session: the remaining message is 1 now; its UIDL has not changed. */
	c = login(e, "alice@example.org");
	snprintf(want, sizeof want, "+OK 1 %u.1", mb.uidvalidity);
	cmd(c, "UIDL 1", want);
	cmd(c, "UIDL 2", "-ERR No such message");
	cmd(c, "QUIT", "+OK");
	client_close(c);
}

struct find_flags {
	uint32_t uid;
	uint32_t flags;
};

static void find_flags_cb(void *ctx, const struct store_message *m)
{
	struct find_flags *f = ctx;
	if (m->uid == f->uid)
		f->flags = m->flags;
}

/* The flags of uid in alice's INBOX, UINT32_MAX when it does not exist. */
static uint32_t flags_of(struct env *e, uint32_t uid)
{
	struct find_flags f = { uid, UINT32_MAX };
	assert_int_equal(store_message_list(e->f.s, e->inbox, find_flags_cb, &f), STORE_OK);
	return f.flags;
}

static void test_drop_without_quit_keeps_mail(void **state)
{
	struct env *e = *state;
	deliver(e, msg1);
	struct client *c = login(e, "alice@example.org");
	cmd(c, "DELE 1", "+OK");
	client_close(c);            /* no QUIT */
	/* The lock goes with the connection: a new login works at once, and the mail is there. */
	for (int i = 0; i < 100; i++) {
		c = client_open(e);
		expect(c, "+OK");
		cmd(c, "USER alice@example.org", "+OK");
		client_send(c, "PASS " PW "\r\n");
		char *line = client_line(c);
		bool ok = strncmp(line, "+OK", 3) == 0;
		free(line);
		if (ok)
			break;
		client_close(c);
		c = NULL;
		usleep(10000);
	}
	assert_non_null(c);
	cmd(c, "STAT", "+OK 1 ");
	client_close(c);
	assert_int_not_equal(flags_of(e, 1), UINT32_MAX);
}

static void test_idle_timeout_deletes_nothing(void **state)
{
	struct env *e = *state;
	assert_true(pop3_srv(e)->idle_timeout_ms >= 10 * 60 * 1000);     /* RFC 1939 §3 */
	pop3_srv(e)->idle_timeout_ms = 1500;     /* sessions opened from here on */
	deliver(e, msg1);
	struct client *c = login(e, "alice@example.org");
	cmd(c, "RETR 1", "+OK");
	struct buf b = client_multi(c);
	buf_free(&b);
	cmd(c, "DELE 1", "+OK");
	/* Closed without a reply and without UPDATE; the retrieval is recorded. */
	assert_true(client_eof(c));
	client_close(c);
	assert_int_not_equal(flags_of(e, 1), UINT32_MAX);
	assert_true(flags_of(e, 1) & STORE_FLAG_SEEN);
	/* The lock went with it. */
	c = login(e, "alice@example.org");
	cmd(c, "STAT", "+OK 1 ");
	cmd(c, "QUIT", "+OK");
	client_close(c);
}

static void test_unreadable_message_is_sys_temp(void **state)
{
	struct env *e = *state;
	deliver(e, msg1);
	struct client *c = login(e, "alice@example.org");
	/* The message file vanishes under the index (a disk fault): a temporary error, the session goes on. */
	char blobs[128];
	snprintf(blobs, sizeof blobs, "%s/blobs", e->f.dir);
	nftw(blobs, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	cmd(c, "RETR 1", "-ERR [SYS/TEMP]");
	cmd(c, "TOP 1 0", "-ERR [SYS/TEMP]");
	cmd(c, "STAT", "+OK 1 ");
	cmd(c, "QUIT", "+OK");
	client_close(c);
}

static void test_in_use(void **state)
{
	struct env *e = *state;
	struct client *a = login(e, "alice@example.org");
	struct client *b = client_open(e);
	expect(b, "+OK");
	cmd(b, "USER alice@example.org", "+OK");
	cmd(b, "PASS " PW, "-ERR [IN-USE]");
	/* Still in AUTHORIZATION: another account works on the same connection. */
	cmd(b, "STAT", "-ERR STAT not allowed before login");
	cmd(b, "USER bob@example.org", "+OK");
	cmd(b, "PASS " PW, "+OK Logged in");
	cmd(a, "QUIT", "+OK");
	client_close(a);
	/* After QUIT the maildrop is free again. */
	struct client *c = login(e, "alice@example.org");
	cmd(c, "QUIT", "+OK");
	client_close(c);
	client_close(b);
}

static void test_pipelining(void **state)
{
	struct env *e = *state;
	deliver(e, msg1);
	deliver(e, msg2);
	struct client *c = client_open(e);
	expect(c, "+OK");
	/* Everything in one write, including the password check in the middle. */
	client_send(c, "USER alice@example.org\r\nPASS " PW "\r\nSTAT\r\nRETR 2\r\nDELE 1\r\nLIST\r\nNOOP\r\nQUIT\r\n");
	expect(c, "+OK Send PASS");
	expect(c, "+OK Logged in");
	expect(c, "+OK 2 ");
	expect(c, "+OK ");
	struct buf b = client_multi(c);
	assert_string_equal(b.data, msg2);
	buf_free(&b);
	expect(c, "+OK Message 1 deleted");
	expect(c, "+OK 1 messages");
	b = client_multi(c);
	buf_free(&b);
	expect(c, "+OK");
	expect(c, "+OK Bye");
	assert_true(client_eof(c));
	client_close(c);
	assert_int_equal(flags_of(e, 1), UINT32_MAX);
	assert_true(flags_of(e, 2) & STORE_FLAG_SEEN);
}

static void test_large_message_streams(void **state)
{
	struct env *e = *state;
	/* 3 MiB of lines that all need stuffing: far more than the output buffer holds. */
	size_t lines = 3 * 1024 * 1024 / 64;
	struct buf m = BUF_INIT;
	buf_puts(&m, "Subject: big\r\n\r\n");
	for (size_t i = 0; i < lines; i++)
		buf_printf(&m, ".%061zu\r\n", i);
	deliver(e, m.data);
	struct client *c = login(e, "alice@example.org");
	char want[64];
	snprintf(want, sizeof want, "+OK %zu octets", m.len);
	/* A command pipelined behind the RETR is answered after the whole message. */
	client_send(c, "RETR 1\r\nNOOP\r\n");
	expect(c, want);
	struct buf b = client_multi(c);
	assert_int_equal(b.len, m.len);
	assert_memory_equal(b.data, m.data, m.len);
	buf_free(&b);
	expect(c, "+OK");
	cmd(c, "TOP 1 3", "+OK");
	b = client_multi(c);
	assert_string_equal(b.data, "Subject: big\r\n\r\n."
			    "0000000000000000000000000000000000000000000000000000000000000\r\n."
			    "0000000000000000000000000000000000000000000000000000000000001\r\n."
			    "0000000000000000000000000000000000000000000000000000000000002\r\n");
	buf_free(&b);
	client_close(c);
	buf_free(&m);
}

static void test_drop_while_checking_password(void **state)
{
	struct env *e = *state;
	/* The connection goes while the auth pool works: the session is freed when the check reports. */
	for (int i = 0; i < 5; i++) {
		struct client *c = client_open(e);
		expect(c, "+OK");
		client_send(c, "USER alice@example.org\r\nPASS " PW "\r\n");
		client_close(c);
	}
	/* ...and it must not keep the maildrop locked. */
	usleep(300000);
	struct client *c = login(e, "alice@example.org");
	client_close(c);
}

static void test_shutdown(void **state)
{
	struct env *e = *state;
	deliver(e, msg1);
	struct client *a = login(e, "alice@example.org");
	cmd(a, "DELE 1", "+OK");
	struct client *b = client_open(e);
	expect(b, "+OK");
	on_loop(e, shutdown_all, NULL);
	expect(a, "-ERR [SYS/TEMP] Server shutting down");
	expect(b, "-ERR [SYS/TEMP] Server shutting down");
	assert_true(client_eof(a));
	assert_true(client_eof(b));
	client_close(a);
	client_close(b);
	/* Nothing deleted, nothing locked. */
	assert_int_not_equal(flags_of(e, 1), UINT32_MAX);
	assert_true(store_mailbox_lock(e->inbox));
	store_mailbox_unlock(e->inbox);
}

static void test_changes_by_another_session(void **state)
{
	struct env *e = *state;
	deliver(e, msg1);
	deliver(e, msg2);
	struct client *c = login(e, "alice@example.org");
	cmd(c, "DELE 2", "+OK");
	/* IMAP expunges both meanwhile: the numbers stay, content is gone, QUIT still succeeds. */
	uint32_t uids[2] = { 1, 2 };
	assert_int_equal(store_expunge(e->f.s, e->inbox, uids, 2, false, NULL, NULL), STORE_OK);
	cmd(c, "STAT", "+OK 1 ");
	cmd(c, "RETR 1", "-ERR Message 1 was removed by another session");
	cmd(c, "TOP 1 0", "-ERR Message 1 was removed by another session");
	cmd(c, "QUIT", "+OK Bye");
	client_close(c);
	/* New mail during a session is not seen by it (fixed numbering), but by the next one. */
	c = login(e, "alice@example.org");
	cmd(c, "STAT", "+OK 0 0");
	deliver(e, msg1);
	cmd(c, "STAT", "+OK 0 0");
	cmd(c, "QUIT", "+OK");
	client_close(c);
	c = login(e, "alice@example.org");
	cmd(c, "STAT", "+OK 1 ");
	client_close(c);
}

/* ---- the pre-login deadline ---------------------------------------------- */

/* The line that says the login deadline passed, then EOF. */
static void expect_login_timeout(struct client *c)
{
	expect(c, "-ERR Disconnected, no login in time");
	assert_true(client_eof(c));
}

static void test_prelogin_deadline(void **state)
{
	struct env *e = *state;
	assert_int_equal(pop3_srv(e)->prelogin_timeout_ms, 60 * 1000);     /* as IMAP before login */
	pop3_srv(e)->prelogin_timeout_ms = 300;
	uint64_t t0 = now_ms();
	/* Saying nothing. */
	struct client *c = client_open(e);
	expect(c, "+OK");
	expect_login_timeout(c);
	assert_true(now_ms() - t0 >= 300);
	client_close(c);
	/* USER given, PASS never. */
	c = client_open(e);
	expect(c, "+OK");
	cmd(c, "USER alice@example.org", "+OK");
	expect_login_timeout(c);
	client_close(c);
	/* Stalled at the SASL continuation. */
	c = client_open(e);
	expect(c, "+OK");
	cmd(c, "AUTH LOGIN", "+ VXNlcm5hbWU6");
	expect_login_timeout(c);
	client_close(c);
	/* A failed login does not start the clock again. */
	c = client_open(e);
	expect(c, "+OK");
	cmd(c, "USER alice@example.org", "+OK");
	cmd(c, "PASS wrong", "-ERR [AUTH]");
	expect_login_timeout(c);
	client_close(c);
}

static void test_prelogin_deadline_not_extended_by_activity(void **state)
{
	struct env *e = *state;
	pop3_srv(e)->prelogin_timeout_ms = 600;
	struct client *c = client_open(e);
	expect(c, "+OK");
	uint64_t t0 = now_ms();
	/* A NOOP every 50 ms is activity, but no login: closed at the deadline all the same. */
	bool closed = false;
	for (int i = 0; i < 60 && !closed; i++) {
		/* The write may find the connection closed already; the -ERR before that is still to read. */
		ssize_t w = write(c->fd, "NOOP\r\n", 6);
		(void)w;
		char *line = client_line(c);
		closed = strncmp(line, "-ERR Disconnected, no login in time", 35) == 0;
		if (!closed && strcmp(line, "+OK") != 0)
			fail_msg("unexpected \"%s\"", line);
		free(line);
		usleep(50000);
	}
	assert_true(closed);
	uint64_t took = now_ms() - t0;
	assert_true(took >= 550 && took < 2500);
	assert_true(client_eof(c));
	client_close(c);
}

static void test_prelogin_deadline_spares_logged_in_sessions(void **state)
{
	struct env *e = *state;
	assert_true(pop3_srv(e)->idle_timeout_ms >= 10 * 60 * 1000);     /* RFC 1939 §3 */
	pop3_srv(e)->prelogin_timeout_ms = 400;
	struct client *in = login(e, "alice@example.org");
	struct client *out = client_open(e);
	expect(out, "+OK");
	usleep(200000);
	cmd(out, "NOOP", "+OK");
	/* Logging in late, but before the deadline: the deadline no longer applies. */
	struct client *late = login(e, "bob@example.org");
	expect_login_timeout(out);
	client_close(out);
	usleep(500000);       /* past the deadline of both logged-in sessions */
	cmd(in, "STAT", "+OK 0 0");
	cmd(late, "STAT", "+OK 0 0");
	cmd(in, "QUIT", "+OK Bye");
	cmd(late, "QUIT", "+OK Bye");
	client_close(in);
	client_close(late);
}

/* ---- \Seen: one store change per session --------------------------------- */

static uint64_t inbox_modseq(struct env *e)
{
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(e->f.s, e->alice, "INBOX", &mb), STORE_OK);
	return mb.highestmodseq;
}

/* Wait until the session that held alice's INBOX has ended (on_closed runs on the loop). */
static void wait_unlocked(struct env *e)
{
	for (int i = 0; i < 500; i++) {
		if (store_mailbox_lock(e->inbox)) {
			store_mailbox_unlock(e->inbox);
			return;
		}
		usleep(10000);
	}
	fail_msg("the maildrop stays locked");
}

static void retr(struct client *c, unsigned num)
{
	char line[32];
	snprintf(line, sizeof line, "RETR %u", num);
	cmd(c, line, "+OK");
	struct buf b = client_multi(c);
	buf_free(&b);
}

#define MANY 40

static void test_retr_many_then_quit_is_one_flags_change(void **state)
{
	struct env *e = *state;
	for (int i = 0; i < MANY; i++)
		deliver(e, msg2);
	uint64_t before = inbox_modseq(e);
	struct client *c = login(e, "alice@example.org");
	/* Pipelined, as a downloading client does. */
	struct buf req = BUF_INIT;
	for (unsigned i = 1; i <= MANY; i++)
		buf_printf(&req, "RETR %u\r\n", i);
	client_send(c, buf_cstr(&req));
	buf_free(&req);
	for (unsigned i = 1; i <= MANY; i++) {
		expect(c, "+OK");
		struct buf b = client_multi(c);
		assert_string_equal(b.data, msg2);
		buf_free(&b);
	}
	/* Nothing written yet... */
	assert_int_equal(inbox_modseq(e), before);
	for (uint32_t uid = 1; uid <= MANY; uid++)
		assert_false(flags_of(e, uid) & STORE_FLAG_SEEN);
	/* ...and at QUIT all of it in one change (one modseq), durable before the +OK. */
	cmd(c, "QUIT", "+OK Bye (40 messages left)");
	assert_int_equal(inbox_modseq(e), before + 1);
	for (uint32_t uid = 1; uid <= MANY; uid++)
		assert_true(flags_of(e, uid) & STORE_FLAG_SEEN);
	assert_true(client_eof(c));
	client_close(c);
	/* A later session: nothing left to do, nothing written. */
	c = login(e, "alice@example.org");
	retr(c, 1);
	cmd(c, "QUIT", "+OK");
	client_close(c);
	assert_int_equal(inbox_modseq(e), before + 1);
}

static void test_seen_with_dele_rset_and_top(void **state)
{
	struct env *e = *state;
	for (int i = 0; i < 4; i++)
		deliver(e, msg1);
	uint64_t before = inbox_modseq(e);
	struct client *c = login(e, "alice@example.org");
	cmd(c, "TOP 1 0", "+OK");                  /* TOP is no retrieval, even of the whole message */
	struct buf b = client_multi(c);
	buf_free(&b);
	cmd(c, "TOP 1 1000", "+OK");
	b = client_multi(c);
	buf_free(&b);
	retr(c, 2);
	cmd(c, "DELE 2", "+OK");
	cmd(c, "RSET", "+OK");                     /* undoes the DELE, not the RETR */
	retr(c, 3);
	cmd(c, "DELE 3", "+OK");                   /* retrieved and deleted: no \Seen needed */
	retr(c, 4);
	cmd(c, "QUIT", "+OK Bye (3 messages left)");
	client_close(c);
	assert_false(flags_of(e, 1) & STORE_FLAG_SEEN);
	assert_true(flags_of(e, 2) & STORE_FLAG_SEEN);
	assert_int_equal(flags_of(e, 3), UINT32_MAX);
	assert_true(flags_of(e, 4) & STORE_FLAG_SEEN);
	assert_int_equal(inbox_modseq(e), before + 2);     /* one flags change, one expunge */
}

static void test_drop_without_quit_records_seen(void **state)
{
	struct env *e = *state;
	deliver(e, msg1);
	deliver(e, msg2);
	struct buf big = BUF_INIT;
	buf_puts(&big, "Subject: big\r\n\r\n");
	for (size_t i = 0; i < 3 * 1024 * 1024 / 64; i++)
		buf_printf(&big, "%062zu\r\n", i);
	deliver(e, big.data);
	buf_free(&big);
	uint64_t before = inbox_modseq(e);
	struct client *c = login(e, "alice@example.org");
	retr(c, 1);
	retr(c, 2);
	cmd(c, "DELE 2", "+OK");
	cmd(c, "RETR 3", "+OK");                   /* started, never read to its end */
	client_close(c);                           /* no QUIT */
	wait_unlocked(e);
	/* \Seen for what was retrieved, DELE'd or not (nothing is deleted without QUIT); one change. */
	assert_true(flags_of(e, 1) & STORE_FLAG_SEEN);
	assert_true(flags_of(e, 2) & STORE_FLAG_SEEN);
	assert_false(flags_of(e, 3) & STORE_FLAG_SEEN);
	assert_int_not_equal(flags_of(e, 3), UINT32_MAX);
	assert_int_equal(inbox_modseq(e), before + 1);
}

int main(void)
{
	log_set_level(LOG_WARN);
	signal(SIGPIPE, SIG_IGN);   /* as serve does: a client gone is an error return, not a signal */
	loop_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting_capa_quit, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_commands_in_wrong_state, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_too_many_errors_closes, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line_is_refused_and_skipped, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_login_failures, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_refused_without_tls, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_sasl, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_transaction, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_drop_without_quit_keeps_mail, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout_deletes_nothing, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_message_is_sys_temp, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_in_use, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_pipelining, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_large_message_streams, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_drop_while_checking_password, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_changes_by_another_session, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_prelogin_deadline, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_prelogin_deadline_not_extended_by_activity, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_prelogin_deadline_spares_logged_in_sessions, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_retr_many_then_quit_is_one_flags_change, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_seen_with_dele_rset_and_top, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_drop_without_quit_records_seen, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
