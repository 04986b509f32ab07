/*
 * test_pop3.c — the pure parts of the POP3 server: the command-line parser
 * (src/pop3/parse.c) and the RETR/TOP dot-stuffer (src/pop3/dotstuff.c),
 * the latter fed whole, byte by byte and in every two-piece split, which
 * must all give the same output.  The session state machine is tested in
 * test_pop3_session.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "pop3/dotstuff.h"
#include "pop3/parse.h"

/* ---- parser ------------------------------------------------------------- */

static bool parse(const char *line, struct pop3_cmd *cmd)
{
	return pop3_parse_command(line, strlen(line), cmd);
}

static void test_parse_simple_commands(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum pop3_verb verb;
	} cases[] = {
		{ "STAT", POP3_STAT }, { "stat", POP3_STAT }, { "StAt", POP3_STAT }, { "NOOP", POP3_NOOP },
		{ "RSET", POP3_RSET }, { "QUIT", POP3_QUIT }, { "CAPA", POP3_CAPA }, { "STLS", POP3_STLS },
		{ "QUIT ", POP3_QUIT }, { "STAT   ", POP3_STAT },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pop3_cmd cmd;
		assert_true(parse(cases[i].line, &cmd));
		assert_int_equal(cmd.verb, cases[i].verb);
		assert_false(cmd.has_msg);
	}
}

static void test_parse_no_arguments_allowed(void **state)
{
	(void)state;
	const char *bad[] = { "STAT 1", "NOOP x", "RSET 1", "QUIT now", "CAPA x", "STLS x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pop3_cmd cmd;
		assert_false(parse(bad[i], &cmd));
		assert_int_not_equal(cmd.verb, POP3_UNKNOWN);
		assert_string_equal(cmd.error, "This command takes no arguments");
	}
}

static void test_parse_unknown(void **state)
{
	(void)state;
	const char *bad[] = { "", " ", "FOO", "STATX", "STA", " STAT", "STAT\t", "RETR1", "LISTS 1",
			      "\xff\xfe", "HELO there" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pop3_cmd cmd;
		assert_false(parse(bad[i], &cmd));
		assert_int_equal(cmd.verb, POP3_UNKNOWN);
		assert_string_equal(cmd.error, "Unknown command");
	}
}

static void test_parse_message_numbers(void **state)
{
	(void)state;
	struct pop3_cmd cmd;
	assert_true(parse("RETR 1", &cmd));
	assert_int_equal(cmd.verb, POP3_RETR);
	assert_true(cmd.has_msg);
	assert_int_equal(cmd.msg, 1);

	assert_true(parse("dele   42  ", &cmd));
	assert_int_equal(cmd.verb, POP3_DELE);
	assert_int_equal(cmd.msg, 42);

	assert_true(parse("LIST", &cmd));
	assert_false(cmd.has_msg);
	assert_true(parse("LIST 7", &cmd));
	assert_true(cmd.has_msg);
	assert_int_equal(cmd.msg, 7);
	assert_true(parse("UIDL", &cmd));
	assert_false(cmd.has_msg);
	assert_true(parse("UIDL 0009", &cmd));
	assert_int_equal(cmd.msg, 9);

	/* 0 and huge numbers parse; the session answers "no such message". */
	assert_true(parse("RETR 0", &cmd));
	assert_int_equal(cmd.msg, 0);
	assert_true(parse("RETR 4294967296", &cmd));
	assert_int_equal(cmd.msg, 4294967296ull);
	assert_true(parse("RETR 99999999999999999999999999", &cmd));
	assert_true(cmd.msg == UINT64_MAX);

	assert_true(parse("TOP 3 0", &cmd));
	assert_int_equal(cmd.verb, POP3_TOP);
	assert_int_equal(cmd.msg, 3);
	assert_int_equal(cmd.lines, 0);
	assert_true(parse("top 3 18446744073709551616", &cmd));
	assert_true(cmd.lines == UINT64_MAX);
}

static void test_parse_bad_arguments(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		const char *error;
	} cases[] = {
		{ "RETR", "Syntax: RETR message" },
		{ "RETR ", "Syntax: RETR message" },
		{ "RETR 1 2", "Syntax: RETR message" },
		{ "RETR -1", "Invalid message number" },
		{ "RETR +1", "Invalid message number" },
		{ "RETR 1x", "Invalid message number" },
		{ "RETR one", "Invalid message number" },
		{ "DELE", "Syntax: DELE message" },
		{ "DELE 0x10", "Invalid message number" },
		{ "LIST 1 2", "Syntax: LIST [message]" },
		{ "LIST a", "Invalid message number" },
		{ "UIDL 1 2", "Syntax: UIDL [message]" },
		{ "TOP", "Syntax: TOP message lines" },
		{ "TOP 1", "Syntax: TOP message lines" },
		{ "TOP 1 2 3", "Syntax: TOP message lines" },
		{ "TOP 1 -2", "Invalid number of lines" },
		{ "TOP x 2", "Invalid message number" },
		{ "USER", "Syntax: USER name" },
		{ "USER ", "Syntax: USER name" },
		{ "USER a b", "Syntax: USER name" },
		{ "USER a\x01" "b", "Syntax: USER name" },
		{ "PASS", "Syntax: PASS password" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pop3_cmd cmd;
		assert_false(parse(cases[i].line, &cmd));
		assert_int_not_equal(cmd.verb, POP3_UNKNOWN);
		assert_string_equal(cmd.error, cases[i].error);
	}
}

static void test_parse_credentials(void **state)
{
	(void)state;
	struct pop3_cmd cmd;
	assert_true(parse("USER alice@example.org", &cmd));
	assert_int_equal(cmd.verb, POP3_USER);
	assert_int_equal(cmd.arglen, strlen("alice@example.org"));
	assert_memory_equal(cmd.arg, "alice@example.org", cmd.arglen);

	/* The password is the rest of the line as sent, spaces included (RFC 1939 §7). */
	assert_true(parse("PASS  my secret ", &cmd));
	assert_int_equal(cmd.verb, POP3_PASS);
	assert_int_equal(cmd.arglen, strlen(" my secret "));
	assert_memory_equal(cmd.arg, " my secret ", cmd.arglen);

	/* PASS with a NUL inside is refused, and the parser does not stop at it. */
	const char nul[] = "PASS ab\0cd";
	assert_false(pop3_parse_command(nul, sizeof nul - 1, &cmd));
	assert_int_equal(cmd.verb, POP3_PASS);

	/* A user name of exactly POP3_USER_MAX octets passes, one more does not. */
	char line[POP3_USER_MAX + 16];
	memcpy(line, "USER ", 5);
	memset(line + 5, 'u', POP3_USER_MAX);
	assert_true(pop3_parse_command(line, 5 + POP3_USER_MAX, &cmd));
	line[5 + POP3_USER_MAX] = 'u';
	assert_false(pop3_parse_command(line, 5 + POP3_USER_MAX + 1, &cmd));

	assert_true(parse("AUTH PLAIN AGFsaWNlAHB3", &cmd));
	assert_int_equal(cmd.verb, POP3_AUTH);
	assert_int_equal(cmd.arglen, strlen("PLAIN AGFsaWNlAHB3"));
	assert_memory_equal(cmd.arg, "PLAIN AGFsaWNlAHB3", cmd.arglen);
	assert_true(parse("AUTH", &cmd));
	assert_int_equal(cmd.arglen, 0);
	assert_true(parse("auth  LOGIN  ", &cmd));
	assert_int_equal(cmd.arglen, 5);
	assert_memory_equal(cmd.arg, "LOGIN", 5);

	assert_true(parse("APOP alice 0123456789abcdef", &cmd));
	assert_int_equal(cmd.verb, POP3_APOP);
}

static void test_parse_never_reads_past_length(void **state)
{
	(void)state;
	/* The buffer holds more than the length says: nothing after it may count. */
	const char buf[] = "RETR 12345";
	struct pop3_cmd cmd;
	assert_true(pop3_parse_command(buf, 6, &cmd));
	assert_int_equal(cmd.msg, 1);
	assert_false(pop3_parse_command(buf, 4, &cmd));   /* "RETR" without its argument */
	assert_string_equal(cmd.error, "Syntax: RETR message");
	assert_false(pop3_parse_command(buf, 3, &cmd));   /* "RET" */
	assert_int_equal(cmd.verb, POP3_UNKNOWN);
	/* One heap byte per input: ASan catches any read past it. */
	for (size_t n = 0; n <= strlen(buf); n++) {
		char *p = malloc(n ? n : 1);
		memcpy(p, buf, n);
		pop3_parse_command(p, n, &cmd);
		free(p);
	}
}

static void test_verb_names(void **state)
{
	(void)state;
	assert_string_equal(pop3_verb_name(POP3_RETR), "RETR");
	assert_string_equal(pop3_verb_name(POP3_TOP), "TOP");
	assert_string_equal(pop3_verb_name(POP3_UNKNOWN), "?");
}

/* ---- dot-stuffer -------------------------------------------------------- */

/* Encode in[0..n) cut at the given points (ascending, 0 pieces = whole). */
static char *stuff_split(bool top, uint64_t lines, const char *in, size_t n, const size_t *cuts, size_t ncuts,
			 size_t *outlen)
{
	struct pop3_dotstuff d;
	struct buf out = BUF_INIT;
	pop3_dotstuff_init(&d, top, lines);
	size_t pos = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		size_t used = pop3_dotstuff_feed(&d, in + pos, end - pos, &out);
		assert_true(used <= end - pos);
		if (used < end - pos)
			assert_true(d.done);
		pos = end;
	}
	pop3_dotstuff_finish(&d, &out);
	*outlen = out.len;
	return buf_steal(&out);
}

/* Check the encoding whole, byte by byte, and in every split into two pieces. */
static void check_stuff(bool top, uint64_t lines, const char *in, const char *expect)
{
	size_t n = strlen(in), len;
	char *whole = stuff_split(top, lines, in, n, NULL, 0, &len);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(whole, expect, len);
	free(whole);

	size_t *cuts = calloc(n + 1, sizeof *cuts);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	char *bytes = stuff_split(top, lines, in, n, cuts, n ? n - 1 : 0, &len);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(bytes, expect, len);
	free(bytes);
	for (size_t cut = 0; cut <= n; cut++) {
		char *two = stuff_split(top, lines, in, n, &cut, 1, &len);
		assert_int_equal(len, strlen(expect));
		assert_memory_equal(two, expect, len);
		free(two);
	}
	free(cuts);
}

static void test_stuff_plain(void **state)
{
	(void)state;
	check_stuff(false, 0, "", ".\r\n");
	check_stuff(false, 0, "a\r\n", "a\r\n.\r\n");
	check_stuff(false, 0, "Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n");
}

static void test_stuff_dots(void **state)
{
	(void)state;
	check_stuff(false, 0, ".\r\n", "..\r\n.\r\n");
	check_stuff(false, 0, "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n");
	check_stuff(false, 0, "a\r\n..x\r\n.\r\n", "a\r\n...x\r\n..\r\n.\r\n");
	check_stuff(false, 0, ".first\r\nmid.dle\r\n", "..first\r\nmid.dle\r\n.\r\n");
	/* Only a dot at the start of a line is doubled. */
	check_stuff(false, 0, "x.\r\n. .\r\n", "x.\r\n.. .\r\n.\r\n");
}

static void test_stuff_line_ends(void **state)
{
	(void)state;
	/* An unterminated last line is ended before the terminator. */
	check_stuff(false, 0, "a\r\nb", "a\r\nb\r\n.\r\n");
	check_stuff(false, 0, "a\r\n.", "a\r\n..\r\n.\r\n");
	check_stuff(false, 0, "a\r", "a\r\n.\r\n");
	/* Bare LF becomes CRLF, and starts a line for dot-stuffing. */
	check_stuff(false, 0, "a\nb\n", "a\r\nb\r\n.\r\n");
	check_stuff(false, 0, "a\n.\n", "a\r\n..\r\n.\r\n");
	/* A bare CR is content, not a line end. */
	check_stuff(false, 0, "a\r.b\r\n", "a\r.b\r\n.\r\n");
	check_stuff(false, 0, "a\r\r\n.\r\n", "a\r\r\n..\r\n.\r\n");
}

static const char msg[] = "From: a@example.org\r\n"
			  "Subject: s\r\n"
			  "\r\n"
			  "line 1\r\n"
			  ".line 2\r\n"
			  "line 3\r\n";

static void test_stuff_top(void **state)
{
	(void)state;
	check_stuff(true, 0, msg, "From: a@example.org\r\nSubject: s\r\n\r\n.\r\n");
	check_stuff(true, 1, msg, "From: a@example.org\r\nSubject: s\r\n\r\nline 1\r\n.\r\n");
	check_stuff(true, 2, msg, "From: a@example.org\r\nSubject: s\r\n\r\nline 1\r\n..line 2\r\n.\r\n");
	check_stuff(true, 3, msg,
		    "From: a@example.org\r\nSubject: s\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n");
	check_stuff(true, 1000, msg,
		    "From: a@example.org\r\nSubject: s\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n");
	check_stuff(true, UINT64_MAX, msg,
		    "From: a@example.org\r\nSubject: s\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n");
}

static void test_stuff_top_edges(void **state)
{
	(void)state;
	/* No blank line: everything is header, all of it is sent. */
	check_stuff(true, 0, "A: b\r\nC: d\r\n", "A: b\r\nC: d\r\n.\r\n");
	check_stuff(true, 0, "A: b", "A: b\r\n.\r\n");
	/* Empty header: the first line is the blank one. */
	check_stuff(true, 0, "\r\nbody\r\n", "\r\n.\r\n");
	check_stuff(true, 1, "\r\nbody\r\nmore\r\n", "\r\nbody\r\n.\r\n");
	/* Unterminated last body line within the count. */
	check_stuff(true, 5, "A: b\r\n\r\nx", "A: b\r\n\r\nx\r\n.\r\n");
	/* LF-only message. */
	check_stuff(true, 1, "A: b\n\nx\ny\n", "A: b\r\n\r\nx\r\n.\r\n");
	/* A line of just CR is not the blank line (CR CR LF). */
	check_stuff(true, 0, "A: b\r\r\n\r\nx\r\n", "A: b\r\r\n\r\n.\r\n");
	/* An empty message. */
	check_stuff(true, 0, "", ".\r\n");
	/* A dot-only line right after the header. */
	check_stuff(true, 1, "A: b\r\n\r\n.\r\nrest\r\n", "A: b\r\n\r\n..\r\n.\r\n");
}

static void test_stuff_top_stops_consuming(void **state)
{
	(void)state;
	struct pop3_dotstuff d;
	struct buf out = BUF_INIT;
	pop3_dotstuff_init(&d, true, 1);
	size_t used = pop3_dotstuff_feed(&d, msg, strlen(msg), &out);
	assert_true(d.done);
	assert_int_equal(used, strlen("From: a@example.org\r\nSubject: s\r\n\r\nline 1\r\n"));
	assert_int_equal(pop3_dotstuff_feed(&d, "more\r\n", 6, &out), 0);
	pop3_dotstuff_finish(&d, &out);
	assert_string_equal(buf_cstr(&out), "From: a@example.org\r\nSubject: s\r\n\r\nline 1\r\n.\r\n");
	buf_free(&out);
}

static void test_stuff_large(void **state)
{
	(void)state;
	/* 1 MiB of lines starting with '.', fed in 64 KiB chunks: every line doubled, size exact. */
	size_t lines = 1u << 17;   /* 8-octet lines */
	size_t n = lines * 8;
	char *in = malloc(n);
	for (size_t i = 0; i < lines; i++)
		memcpy(in + i * 8, ".abcde\r\n", 8);
	struct pop3_dotstuff d;
	struct buf out = BUF_INIT;
	pop3_dotstuff_init(&d, false, 0);
	for (size_t off = 0; off < n; off += 65536)
		assert_int_equal(pop3_dotstuff_feed(&d, in + off, 65536, &out), 65536);
	pop3_dotstuff_finish(&d, &out);
	assert_int_equal(out.len, n + lines + 3);
	assert_memory_equal(out.data, "..abcde\r\n..abcde\r\n", 18);
	assert_memory_equal(out.data + out.len - 12, "..abcde\r\n.\r\n", 12);
	buf_free(&out);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_simple_commands),
		cmocka_unit_test(test_parse_no_arguments_allowed),
		cmocka_unit_test(test_parse_unknown),
		cmocka_unit_test(test_parse_message_numbers),
		cmocka_unit_test(test_parse_bad_arguments),
		cmocka_unit_test(test_parse_credentials),
		cmocka_unit_test(test_parse_never_reads_past_length),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_stuff_plain),
		cmocka_unit_test(test_stuff_dots),
		cmocka_unit_test(test_stuff_line_ends),
		cmocka_unit_test(test_stuff_top),
		cmocka_unit_test(test_stuff_top_edges),
		cmocka_unit_test(test_stuff_top_stops_consuming),
		cmocka_unit_test(test_stuff_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
