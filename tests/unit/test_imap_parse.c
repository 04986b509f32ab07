/*
 * test_imap_parse.c — the IMAP command parser (src/imap/parse*.c): every
 * command's grammar, accepted and rejected, literals, strings, FETCH
 * names, SEARCH trees, and the session helpers (literal headers, APPEND
 * message detection, tags).  Sequence sets and modified UTF-7 are in
 * test_imap_seqset.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"
#include "lib/buf.h"

static struct imap_cmd C;
static const char *E;

static enum imap_parse_result parse_lits(const char *text, const struct imap_literal *lits, size_t n, bool utf8)
{
	imap_cmd_free(&C);
	return imap_parse(text, strlen(text), lits, n, utf8, &C, &E);
}

static enum imap_parse_result parse(const char *text)
{
	return parse_lits(text, NULL, 0, false);
}

static struct imap_literal lit(const char *data, size_t len)
{
	struct imap_literal l = { .data = data, .len = len, .fd = -1 };
	return l;
}

#define OK(t) do { \
	enum imap_parse_result r_ = parse(t); \
	if (r_ != IMAP_PARSE_OK) \
		fail_msg("%s: %s", t, E); \
} while (0)
#define BAD(t) do { \
	assert_int_equal(parse(t), IMAP_PARSE_BAD); \
	assert_non_null(E); \
	assert_true(E[0] != '\0'); \
} while (0)
#define BADMSG(t, msg) do { \
	assert_int_equal(parse(t), IMAP_PARSE_BAD); \
	assert_string_equal(E, msg); \
} while (0)

static void teardown_cmd(void)
{
	imap_cmd_free(&C);
}

/* ---- tags, command names, line ends ------------------------------------------ */

static void test_basics(void **state)
{
	(void)state;
	OK("a1 NOOP\r\n");
	assert_string_equal(C.tag, "a1");
	assert_int_equal(C.type, IMAP_CMD_NOOP);
	OK("A2 noop\r\n");
	OK("x CaPaBiLiTy\r\n");
	assert_int_equal(C.type, IMAP_CMD_CAPABILITY);
	OK("t LOGOUT\n");               /* bare LF tolerated */
	OK("t] NOOP\r\n");               /* ']' is an ASTRING-CHAR, allowed in tags */
	assert_string_equal(C.tag, "t]");
	BADMSG("+ NOOP\r\n", "Invalid tag");
	BADMSG("a+b NOOP\r\n", "Syntax error: expected a space");
	BADMSG("(a NOOP\r\n", "Invalid tag");
	BADMSG("\r\n", "Empty command line");
	BADMSG("a\r\n", "Missing command");
	BADMSG("a \r\n", "Missing command");
	BADMSG("a FOO\r\n", "Unknown command");
	BADMSG("a NOOP x\r\n", "Unexpected characters after command");
	BADMSG("a NOOP \r\n", "Unexpected characters after command");
	BADMSG("a  NOOP\r\n", "Syntax error: extra space");
	BADMSG("a NOOP", "Command not terminated by CRLF");
	BADMSG("a NOOP\r\nb NOOP\r\n", "Unexpected characters after command");
	BAD("a NO\x80OP\r\n");
	BAD("a NOOP\r");

	char tag[80], line[120];
	memset(tag, 't', 64);
	tag[64] = '\0';
	snprintf(line, sizeof line, "%s NOOP\r\n", tag);
	OK(line);
	assert_int_equal(strlen(C.tag), 64);
	memset(tag, 't', 65);
	tag[65] = '\0';
	snprintf(line, sizeof line, "%s NOOP\r\n", tag);
	BADMSG(line, "Invalid tag");
	assert_string_equal(C.tag, "");

	/* Commands without arguments refuse any. */
	static const char *const noargs[] = { "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "NAMESPACE",
					      "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE" };
	for (size_t i = 0; i < sizeof noargs / sizeof noargs[0]; i++) {
		snprintf(line, sizeof line, "a %s\r\n", noargs[i]);
		OK(line);
		snprintf(line, sizeof line, "a %s 1\r\n", noargs[i]);
		BADMSG(line, "Unexpected characters after command");
	}
	OK("a EXPUNGE\r\n");
	assert_false(C.uid);
	teardown_cmd();
}

static void test_parse_tag(void **state)
{
	(void)state;
	char t[IMAP_TAG_MAX + 1];
	imap_parse_tag("abc LOGIN x", 11, t);
	assert_string_equal(t, "abc");
	imap_parse_tag("abc", 3, t);
	assert_string_equal(t, "abc");
	imap_parse_tag("+abc x", 6, t);
	assert_string_equal(t, "*");
	imap_parse_tag("ab(c x", 6, t);
	assert_string_equal(t, "*");
	imap_parse_tag("", 0, t);
	assert_string_equal(t, "*");
	imap_parse_tag(" x", 2, t);
	assert_string_equal(t, "*");
	char big[100];
	memset(big, 'a', sizeof big);
	imap_parse_tag(big, sizeof big, t);
	assert_string_equal(t, "*");
}

/* ---- strings and literals ------------------------------------------------------ */

static void test_login_strings(void **state)
{
	(void)state;
	OK("a LOGIN joe secret\r\n");
	assert_int_equal(C.type, IMAP_CMD_LOGIN);
	assert_string_equal(C.user.p, "joe");
	assert_string_equal(C.pass.p, "secret");
	OK("a login \"joe doe\" \"a\\\"b\\\\c\"\r\n");
	assert_string_equal(C.user.p, "joe doe");
	assert_string_equal(C.pass.p, "a\"b\\c");
	assert_int_equal(C.pass.n, 5);
	OK("a LOGIN \"\" \"\"\r\n");
	assert_int_equal(C.user.n, 0);
	assert_non_null(C.user.p);
	OK("a LOGIN joe] pw\r\n");             /* astring allows ']' */
	assert_string_equal(C.user.p, "joe]");
	BADMSG("a LOGIN joe\r\n", "Missing password");
	BADMSG("a LOGIN\r\n", "Missing user name");
	BADMSG("a LOGIN joe \r\n", "Missing password");
	BADMSG("a LOGIN joe pw extra\r\n", "Unexpected characters after command");
	BADMSG("a LOGIN \"joe pw\r\n", "Unterminated quoted string");
	BADMSG("a LOGIN \"j\\oe\" pw\r\n", "Invalid escape in quoted string");
	BAD("a LOGIN jo%e pw\r\n");
	BAD("a LOGIN jo*e pw\r\n");
	BAD("a LOGIN (joe) pw\r\n");
	BAD("a LOGIN joe \"pw\"x\r\n");

	/* 8-bit: quoted only with UTF8=ACCEPT, and then valid UTF-8 only. */
	const char *q8 = "a LOGIN \"j\xc3\xb6rg\" pw\r\n";
	assert_int_equal(parse_lits(q8, NULL, 0, false), IMAP_PARSE_BAD);
	assert_non_null(strstr(E, "UTF8=ACCEPT"));
	assert_int_equal(parse_lits(q8, NULL, 0, true), IMAP_PARSE_OK);
	assert_string_equal(C.user.p, "j\xc3\xb6rg");
	assert_int_equal(parse_lits("a LOGIN \"j\xc3rg\" pw\r\n", NULL, 0, true), IMAP_PARSE_BAD);
	assert_string_equal(E, "Invalid UTF-8 in quoted string");
	assert_int_equal(parse_lits("a LOGIN j\xc3\xb6rg pw\r\n", NULL, 0, true), IMAP_PARSE_BAD);

	/* NUL in the text itself */
	const char nul[] = "a LOGIN \"a\0b\" pw\r\n";
	imap_cmd_free(&C);
	assert_int_equal(imap_parse(nul, sizeof nul - 1, NULL, 0, false, &C, &E), IMAP_PARSE_BAD);
	assert_string_equal(E, "NUL octet in quoted string");
	teardown_cmd();
}

static void test_literals(void **state)
{
	(void)state;
	struct imap_literal l[3];
	l[0] = lit("joe", 3);
	l[1] = lit("se cr\"et", 8);
	assert_int_equal(parse_lits("a LOGIN {3}\r\n {8}\r\n\r\n", l, 2, false), IMAP_PARSE_OK);
	assert_string_equal(C.user.p, "joe");
	assert_string_equal(C.pass.p, "se cr\"et");
	assert_int_equal(C.pass.n, 8);
	/* LITERAL+ / LITERAL- non-synchronising form */
	assert_int_equal(parse_lits("a LOGIN {3+}\r\n {8+}\r\n\r\n", l, 2, false), IMAP_PARSE_OK);
	assert_string_equal(C.pass.p, "se cr\"et");
	/* 8-bit in a literal is fine without UTF8=ACCEPT */
	l[0] = lit("j\xf6rg", 4);
	assert_int_equal(parse_lits("a LOGIN {4}\r\n pw\r\n", l, 1, false), IMAP_PARSE_OK);
	assert_int_equal(C.user.n, 4);
	/* count mismatch */
	l[0] = lit("joe", 3);
	assert_int_equal(parse_lits("a LOGIN {4}\r\n pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "Literal length does not match its data");
	/* missing and extra literals */
	assert_int_equal(parse_lits("a LOGIN {3}\r\n {8}\r\n\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "Missing literal data");
	assert_int_equal(parse_lits("a LOGIN {3}\r\n pw\r\n", l, 2, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "More literals than the command uses");
	assert_int_equal(parse_lits("a LOGIN joe pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	/* NUL octets never in a non-binary literal */
	l[0] = lit("a\0b", 3);
	assert_int_equal(parse_lits("a LOGIN {3}\r\n pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "NUL octet in literal");
	/* literal8 only where the grammar allows it */
	l[0] = lit("joe", 3);
	l[0].binary = true;
	assert_int_equal(parse_lits("a LOGIN ~{3}\r\n pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "Binary literal (~{n}) not allowed here");
	/* the kind must match what the session received */
	assert_int_equal(parse_lits("a LOGIN {3}\r\n pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "Literal kind does not match its data");
	/* a literal header ends its line */
	l[0] = lit("joe", 3);
	assert_int_equal(parse_lits("a LOGIN {3} pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "A literal header must end its line");
	assert_int_equal(parse_lits("a LOGIN {3x}\r\n pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a LOGIN {}\r\n pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a LOGIN {123456789012345678901}\r\n pw\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "Invalid literal length");
	/* a spooled literal is only acceptable as an APPEND message */
	struct imap_literal sp = { .data = NULL, .len = 10, .fd = 5, .path = "/x" };
	assert_int_equal(parse_lits("a LOGIN {10}\r\n pw\r\n", &sp, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "Literal in an unexpected position");
	/* empty literal */
	l[0] = lit(NULL, 0);
	assert_int_equal(parse_lits("a LOGIN {0}\r\n pw\r\n", l, 1, false), IMAP_PARSE_OK);
	assert_int_equal(C.user.n, 0);
	assert_non_null(C.user.p);
	/* a literal as the mailbox, another in the middle of a SEARCH */
	l[0] = lit("Sent Items", 10);
	assert_int_equal(parse_lits("a SELECT {10}\r\n\r\n", l, 1, false), IMAP_PARSE_OK);
	assert_string_equal(C.mailbox.p, "Sent Items");
	l[0] = lit("x y", 3);
	assert_int_equal(parse_lits("a SEARCH SUBJECT {3}\r\n SEEN\r\n", l, 1, false), IMAP_PARSE_OK);
	/* too large for a non-message literal */
	static char big[IMAP_LITERAL_MAX + 1];
	memset(big, 'x', sizeof big);
	l[0] = lit(big, sizeof big);
	char line[64];
	snprintf(line, sizeof line, "a LOGIN {%zu}\r\n pw\r\n", sizeof big);
	assert_int_equal(parse_lits(line, l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "Literal too large");
	teardown_cmd();
}

static void test_literal_header(void **state)
{
	(void)state;
	uint64_t n;
	bool ns, bin, bad;
#define LH(s) imap_parse_literal_header(s, strlen(s), &n, &ns, &bin, &bad)
	assert_true(LH("a LOGIN {5}"));
	assert_int_equal(n, 5);
	assert_false(ns);
	assert_false(bin);
	assert_true(LH("a LOGIN {5+}"));
	assert_true(ns);
	assert_true(LH("a APPEND x ~{12}"));
	assert_true(bin);
	assert_int_equal(n, 12);
	assert_true(LH("a APPEND x ~{12+}"));
	assert_true(bin && ns);
	assert_true(LH("{0}"));
	assert_int_equal(n, 0);
	assert_true(LH("{18446744073709551615}"));
	assert_true(n == UINT64_MAX);
	assert_false(LH("{18446744073709551616}"));
	assert_true(bad);
	assert_false(LH("{000000000000000000001}"));    /* 21 digits */
	assert_true(bad);
	assert_true(LH("{00000000000000000001}"));      /* 20 digits */
	assert_int_equal(n, 1);
	assert_false(LH("a NOOP"));
	assert_false(bad);
	assert_false(LH("a LOGIN \"x\""));
	assert_false(bad);
	assert_false(LH("a SELECT foo}"));
	assert_false(bad);
	assert_false(LH("a SELECT {foo}"));
	assert_false(bad);
	assert_false(LH("a SELECT {}"));
	assert_true(bad);
	assert_false(LH("a SELECT {5-}"));
	assert_true(bad);
	assert_false(LH("a SELECT {+}"));
	assert_true(bad);
	assert_false(LH("a SELECT {1+2}"));
	assert_true(bad);
	assert_false(LH("}"));
	assert_false(LH(""));
#undef LH
}

static void test_literal_is_message(void **state)
{
	(void)state;
#define IM(s) imap_parse_literal_is_message(s, strlen(s))
	assert_true(IM("a APPEND INBOX {310}"));
	assert_true(IM("a append inbox {310+}"));
	assert_true(IM("a APPEND INBOX (\\Seen $Junk) {310}"));
	assert_true(IM("a APPEND INBOX () \"12-Jan-2024 10:00:00 +0100\" {310}"));
	assert_true(IM("a APPEND INBOX \" 2-Jan-2024 10:00:00 -0000\" ~{310}"));
	assert_true(IM("a APPEND INBOX UTF8 (~{310}"));
	assert_true(IM("a APPEND \"Sent Items\" {310}"));
	assert_true(IM("a APPEND {5}\r\n (\\Seen) {310}"));      /* mailbox sent as a literal */
	assert_true(IM("a APPEND {5+}\r\n {310}"));
	assert_false(IM("a APPEND {5}"));                        /* that is the mailbox */
	assert_true(IM("a APPEND INBOX {99999999999999999999999}"));   /* too large to read: still the message */
	/* MULTIAPPEND: every message; CATENATE: TEXT parts, not a URL sent as a literal */
	assert_true(IM("a APPEND INBOX {3}\r\n {310}"));
	assert_true(IM("a APPEND INBOX {3}\r\n (\\Seen) \"12-Jan-2024 10:00:00 +0100\" {310}"));
	assert_true(IM("a APPEND INBOX CATENATE (TEXT {310}"));
	assert_true(IM("a APPEND INBOX CATENATE (URL \"/x\" TEXT ~{310}"));
	assert_true(IM("a APPEND INBOX CATENATE (TEXT {3}\r\n) CATENATE (TEXT {310}"));
	assert_false(IM("a APPEND INBOX CATENATE (URL {5}"));
	assert_false(IM("a APPEND INBOX CATENATE (TEXT {3}\r\n URL {5}"));
	assert_false(IM("a APPEND INBOX {3}\r\n {3}\r\n x {5}"));
	assert_false(IM("a LOGIN {5}"));
	assert_false(IM("a LOGIN joe {5}"));
	assert_false(IM("a SEARCH TEXT {5}"));
	assert_false(IM("a APPEND INBOX (\\Seen"));
	assert_false(IM("a APPEND INBOX foo {5}"));
	assert_false(IM("APPEND INBOX {5}"));
	assert_false(IM(""));
#undef IM
}

/* ---- authentication and session commands ---------------------------------------- */

static void test_authenticate(void **state)
{
	(void)state;
	OK("a AUTHENTICATE PLAIN\r\n");
	assert_int_equal(C.type, IMAP_CMD_AUTHENTICATE);
	assert_string_equal(C.mech.p, "PLAIN");
	assert_false(C.has_ir);
	OK("a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n");
	assert_true(C.has_ir);
	assert_string_equal(C.ir.p, "AGpvZQBzZWNyZXQ=");
	OK("a authenticate plain =\r\n");
	assert_true(C.has_ir);
	assert_int_equal(C.ir.n, 0);
	assert_string_equal(C.mech.p, "plain");
	BADMSG("a AUTHENTICATE\r\n", "Missing authentication mechanism");
	BADMSG("a AUTHENTICATE PLAIN ab*c\r\n", "Invalid base64 in initial response");
	BADMSG("a AUTHENTICATE PLAIN a=b\r\n", "Invalid base64 in initial response");
	BADMSG("a AUTHENTICATE PLAIN abc===\r\n", "Invalid base64 in initial response");
	BADMSG("a AUTHENTICATE PLAIN abc def\r\n", "Unexpected characters after command");
	teardown_cmd();
}

static void test_enable_id(void **state)
{
	(void)state;
	OK("a ENABLE CONDSTORE UTF8=ACCEPT\r\n");
	assert_int_equal(C.type, IMAP_CMD_ENABLE);
	assert_int_equal(C.natoms, 2);
	assert_string_equal(C.atoms[0].p, "CONDSTORE");
	assert_string_equal(C.atoms[1].p, "UTF8=ACCEPT");
	BADMSG("a ENABLE\r\n", "Missing capability name");
	BAD("a ENABLE (X)\r\n");

	OK("a ID NIL\r\n");
	assert_int_equal(C.type, IMAP_CMD_ID);
	assert_int_equal(C.natoms, 0);
	OK("a ID (\"name\" \"mutt\" \"version\" NIL)\r\n");
	assert_int_equal(C.natoms, 4);
	assert_string_equal(C.atoms[1].p, "mutt");
	assert_true(C.atoms[3].nil);
	assert_false(C.atoms[1].nil);
	OK("a ID ()\r\n");
	BAD("a ID\r\n");
	BAD("a ID (name \"x\")\r\n");          /* field must be a string */
	BAD("a ID (\"name\")\r\n");
	BAD("a ID (\"name\" \"x\"\r\n");
	/* RFC 2971 limits */
	char line[40000];
	int off = snprintf(line, sizeof line, "a ID (");
	for (int i = 0; i < 31; i++)
		off += snprintf(line + off, sizeof line - (size_t)off, "%s\"k%d\" \"v\"", i ? " " : "", i);
	snprintf(line + off, sizeof line - (size_t)off, ")\r\n");
	BADMSG(line, "Too many ID parameters");
	off = snprintf(line, sizeof line, "a ID (");
	for (int i = 0; i < 30; i++)
		off += snprintf(line + off, sizeof line - (size_t)off, "%s\"k%d\" \"v\"", i ? " " : "", i);
	snprintf(line + off, sizeof line - (size_t)off, ")\r\n");
	OK(line);
	assert_int_equal(C.natoms, 60);
	BADMSG("a ID (\"0123456789012345678901234567890\" \"v\")\r\n", "ID field name too long");
	off = snprintf(line, sizeof line, "a ID (\"k\" \"");
	memset(line + off, 'v', 1025);
	snprintf(line + off + 1025, sizeof line - (size_t)off - 1025, "\")\r\n");
	BADMSG(line, "ID value too long");
	teardown_cmd();
}

static void test_compress_quota(void **state)
{
	(void)state;
	OK("a COMPRESS DEFLATE\r\n");
	assert_int_equal(C.type, IMAP_CMD_COMPRESS);
	assert_string_equal(C.arg.p, "DEFLATE");
	BADMSG("a COMPRESS\r\n", "Missing compression mechanism");
	OK("a GETQUOTA \"\"\r\n");
	assert_int_equal(C.type, IMAP_CMD_GETQUOTA);
	assert_int_equal(C.arg.n, 0);
	OK("a GETQUOTAROOT INBOX\r\n");
	assert_int_equal(C.type, IMAP_CMD_GETQUOTAROOT);
	assert_string_equal(C.mailbox.p, "INBOX");
	OK("a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)\r\n");
	assert_int_equal(C.type, IMAP_CMD_SETQUOTA);
	assert_int_equal(C.natoms, 2);
	assert_string_equal(C.atoms[1].p, "MESSAGE");
	assert_true(C.limits[0] == 512 && C.limits[1] == 1000);
	OK("a SETQUOTA root ()\r\n");
	assert_int_equal(C.natoms, 0);
	BAD("a SETQUOTA root (STORAGE)\r\n");
	BAD("a SETQUOTA root (STORAGE x)\r\n");
	BAD("a SETQUOTA root\r\n");
	BAD("a GETQUOTAROOT\r\n");
	teardown_cmd();
}

/* ---- mailbox commands ------------------------------------------------------------ */

static void test_mailbox_commands(void **state)
{
	(void)state;
	OK("a SELECT INBOX\r\n");
	assert_int_equal(C.type, IMAP_CMD_SELECT);
	assert_string_equal(C.mailbox.p, "INBOX");
	assert_false(C.condstore || C.qresync);
	OK("a EXAMINE \"Sent Items\"\r\n");
	assert_int_equal(C.type, IMAP_CMD_EXAMINE);
	assert_string_equal(C.mailbox.p, "Sent Items");
	BADMSG("a SELECT\r\n", "Missing mailbox name");
	BADMSG("a SELECT \r\n", "Missing mailbox name");
	BADMSG("a SELECT INBOX extra\r\n", "Unexpected characters after command");
	OK("a DELETE foo/bar\r\n");
	assert_int_equal(C.type, IMAP_CMD_DELETE);
	OK("a SUBSCRIBE &AOQ-\r\n");
	assert_int_equal(C.type, IMAP_CMD_SUBSCRIBE);
	assert_string_equal(C.mailbox.p, "&AOQ-");          /* left undecoded */
	OK("a UNSUBSCRIBE x\r\n");
	assert_int_equal(C.type, IMAP_CMD_UNSUBSCRIBE);
	OK("a RENAME old \"new one\"\r\n");
	assert_int_equal(C.type, IMAP_CMD_RENAME);
	assert_string_equal(C.mailbox2.p, "new one");
	BADMSG("a RENAME old\r\n", "Missing new mailbox name");
	BAD("a DELETE a b\r\n");

	OK("a CREATE foo\r\n");
	assert_int_equal(C.type, IMAP_CMD_CREATE);
	assert_string_equal(C.use, "");
	OK("a CREATE MySent (USE (\\Sent))\r\n");
	assert_string_equal(C.use, "\\Sent");
	OK("a CREATE x (use (\\junk))\r\n");
	assert_string_equal(C.use, "\\Junk");
	OK("a CREATE x (USE ())\r\n");
	assert_string_equal(C.use, "");
	BADMSG("a CREATE x (USE (\\Sent \\Trash))\r\n", "Only one special-use attribute per mailbox");
	OK("a CREATE x (USE (\\Important))\r\n");         /* unknown: the session says NO [USEATTR] */
	assert_string_equal(C.use, "\\Important");
	OK("a CREATE x (USE (\\VeryVeryLongAttributeName))\r\n");
	assert_int_equal(strlen(C.use), sizeof C.use - 1);
	assert_string_equal(C.use, "\\VeryVeryLongAt");
	BADMSG("a CREATE x (FOO)\r\n", "Unknown CREATE parameter");
	BAD("a CREATE x (USE (Sent))\r\n");
	BAD("a CREATE x (USE (\\Sent)\r\n");
	BADMSG("a CREATE\r\n", "Missing mailbox name");

	OK("a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)\r\n");
	assert_int_equal(C.type, IMAP_CMD_STATUS);
	assert_int_equal(C.status_items, 0x1ff);
	OK("a status inbox (messages)\r\n");
	assert_int_equal(C.status_items, IMAP_STATUS_MESSAGES);
	BADMSG("a STATUS INBOX ()\r\n", "Invalid characters in command");
	BADMSG("a STATUS INBOX (FOO)\r\n", "Unknown status item");
	BADMSG("a STATUS INBOX\r\n", "Missing status items");
	BAD("a STATUS INBOX MESSAGES\r\n");
	BAD("a STATUS INBOX (MESSAGES\r\n");
	teardown_cmd();
}

static void test_select_params(void **state)
{
	(void)state;
	OK("a SELECT INBOX (CONDSTORE)\r\n");
	assert_true(C.condstore);
	assert_false(C.qresync);
	OK("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
	assert_true(C.qresync);
	assert_int_equal(C.qr_uidvalidity, 67890007);
	assert_true(C.qr_modseq == 20050715194045000ull);
	assert_int_equal(C.qr_known_uids.n, 3);
	assert_int_equal(C.qr_known_uids.r[1].lo, 43);
	assert_int_equal(C.qr_seq_match.n, 0);
	OK("a EXAMINE INBOX (QRESYNC (1 2 1:100 (1,10,20 5,50,99)))\r\n");
	assert_int_equal(C.qr_known_uids.n, 1);
	assert_int_equal(C.qr_seq_match.n, 3);
	assert_int_equal(C.qr_uid_match.n, 3);
	assert_int_equal(C.qr_uid_match.r[2].lo, 99);
	OK("a SELECT INBOX (QRESYNC (1 2 (1 5)))\r\n");         /* seq-match without known-uids */
	assert_int_equal(C.qr_known_uids.n, 0);
	assert_int_equal(C.qr_seq_match.n, 1);
	OK("a SELECT INBOX (QRESYNC (1 2))\r\n");
	OK("a SELECT INBOX (CONDSTORE QRESYNC (1 2))\r\n");
	assert_true(C.condstore && C.qresync);
	BADMSG("a SELECT INBOX (QRESYNC (0 2))\r\n", "Invalid UIDVALIDITY");
	BADMSG("a SELECT INBOX (QRESYNC (1 0))\r\n", "Invalid MODSEQ in QRESYNC");
	BAD("a SELECT INBOX (QRESYNC (1))\r\n");
	BAD("a SELECT INBOX (QRESYNC (1 2 1:*))\r\n");
	BAD("a SELECT INBOX (QRESYNC (1 2 $))\r\n");
	BAD("a SELECT INBOX (QRESYNC (1 2 1:5 (1)))\r\n");
	BAD("a SELECT INBOX (QRESYNC (1 2 1:5 (1 2))\r\n");
	BAD("a SELECT INBOX (QRESYNC)\r\n");
	BADMSG("a SELECT INBOX (CONDSTORE CONDSTORE)\r\n", "Duplicate CONDSTORE");
	BADMSG("a SELECT INBOX (FOO)\r\n", "Unknown SELECT parameter");
	BAD("a SELECT INBOX ()\r\n");
	BAD("a SELECT INBOX CONDSTORE\r\n");
	teardown_cmd();
}

static void test_list(void **state)
{
	(void)state;
	OK("a LIST \"\" *\r\n");
	assert_int_equal(C.type, IMAP_CMD_LIST);
	assert_int_equal(C.reference.n, 0);
	assert_int_equal(C.npatterns, 1);
	assert_string_equal(C.patterns[0].p, "*");
	assert_int_equal(C.list_opts, 0);
	OK("a LIST \"\" \"\"\r\n");
	assert_int_equal(C.patterns[0].n, 0);
	OK("a list foo/ %/b*]\r\n");
	assert_string_equal(C.reference.p, "foo/");
	assert_string_equal(C.patterns[0].p, "%/b*]");
	OK("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Sent*\" %) RETURN (CHILDREN)\r\n");
	assert_int_equal(C.npatterns, 3);
	assert_string_equal(C.patterns[1].p, "Sent*");
	assert_true(C.list_opts & IMAP_LIST_SEL_SUBSCRIBED);
	assert_true(C.list_opts & IMAP_LIST_SEL_RECURSIVEMATCH);
	assert_true(C.list_opts & IMAP_LIST_RET_SUBSCRIBED);    /* implied */
	assert_true(C.list_opts & IMAP_LIST_RET_CHILDREN);
	OK("a LIST (SPECIAL-USE) \"\" * RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n");
	assert_true(C.list_opts & IMAP_LIST_SEL_SPECIAL_USE);
	assert_true(C.list_opts & IMAP_LIST_RET_SPECIAL_USE);
	assert_true(C.list_opts & IMAP_LIST_RET_STATUS);
	assert_int_equal(C.status_items, IMAP_STATUS_MESSAGES | IMAP_STATUS_UNSEEN);
	OK("a LIST () \"\" * RETURN ()\r\n");
	assert_int_equal(C.list_opts, 0);
	OK("a LIST \"\" * RETURN (SUBSCRIBED)\r\n");
	assert_int_equal(C.list_opts, IMAP_LIST_RET_SUBSCRIBED);
	BADMSG("a LIST (RECURSIVEMATCH) \"\" *\r\n", "RECURSIVEMATCH needs another selection option");
	BADMSG("a LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n", "RECURSIVEMATCH needs another selection option");
	BADMSG("a LIST (FOO) \"\" *\r\n", "Unknown LIST selection option");
	BADMSG("a LIST \"\" * RETURN (FOO)\r\n", "Unknown LIST return option");
	BADMSG("a LIST \"\" * FOO (CHILDREN)\r\n", "Unexpected characters after command");
	BAD("a LIST \"\" * RETURN (STATUS ())\r\n");
	BAD("a LIST \"\" ()\r\n");
	BAD("a LIST \"\" (a\r\n");
	BAD("a LIST * *\r\n");                      /* reference is a mailbox, no wildcards */
	BADMSG("a LIST \"\"\r\n", "Missing mailbox pattern");
	BADMSG("a LIST\r\n", "Missing reference name");

	OK("a LSUB \"\" *\r\n");
	assert_int_equal(C.type, IMAP_CMD_LSUB);
	assert_int_equal(C.npatterns, 1);
	BAD("a LSUB \"\" (*)\r\n");
	BAD("a LSUB \"\"\r\n");
	teardown_cmd();
}

static void test_append(void **state)
{
	(void)state;
	const char *msg = "From: a\r\n\r\nhi\r\n";
	struct imap_literal l[2];
	l[0] = lit(msg, strlen(msg));
	assert_int_equal(parse_lits("a APPEND INBOX {15}\r\n\r\n", l, 1, false), IMAP_PARSE_OK);
	assert_int_equal(C.type, IMAP_CMD_APPEND);
	assert_ptr_equal(C.append.msgs[0].msg, &l[0]);
	assert_false(C.append.msgs[0].has_date);
	assert_int_equal(C.append.msgs[0].flags, 0);
	assert_string_equal(C.append.msgs[0].keywords, "");
	assert_false(C.append.msgs[0].utf8);

	assert_int_equal(parse_lits("a APPEND Drafts (\\Seen \\Draft $Forwarded foo FOO) "
				    "\"14-Jul-2023 02:44:25 -0700\" {15+}\r\n\r\n", l, 1, false), IMAP_PARSE_OK);
	assert_int_equal(C.append.msgs[0].flags, STORE_FLAG_SEEN | STORE_FLAG_DRAFT);
	assert_string_equal(C.append.msgs[0].keywords, "$Forwarded foo");
	assert_true(C.append.msgs[0].has_date);
	assert_true(C.append.msgs[0].date == 1689327865);   /* 2023-07-14T09:44:25Z */

	assert_int_equal(parse_lits("a APPEND INBOX \" 1-Jan-1970 00:00:00 +0000\" {15}\r\n\r\n", l, 1, false),
			 IMAP_PARSE_OK);
	assert_true(C.append.msgs[0].date == 0);
	assert_int_equal(parse_lits("a APPEND INBOX \"29-Feb-2024 23:59:59 +0100\" {15}\r\n\r\n", l, 1, false),
			 IMAP_PARSE_OK);
	assert_true(C.append.msgs[0].date == 1709247599);     /* 2024-02-29T22:59:59Z */
	assert_int_equal(parse_lits("a APPEND INBOX \"29-Feb-2023 23:59:59 +0100\" {15}\r\n\r\n", l, 1, false),
			 IMAP_PARSE_BAD);
	assert_non_null(strstr(E, "Invalid date-time"));
	assert_int_equal(parse_lits("a APPEND INBOX \"01-Jan-2024 24:00:00 +0000\" {15}\r\n\r\n", l, 1, false),
			 IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND INBOX \"01-Foo-2024 10:00:00 +0000\" {15}\r\n\r\n", l, 1, false),
			 IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND INBOX \"01-Jan-2024 10:00:00 0000\" {15}\r\n\r\n", l, 1, false),
			 IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND INBOX \"01-Jan-2024 10:00 +0000\" {15}\r\n\r\n", l, 1, false),
			 IMAP_PARSE_BAD);

	/* literal8 (BINARY) and the UTF8 form (RFC 6855) */
	l[0].binary = true;
	assert_int_equal(parse_lits("a APPEND INBOX ~{15}\r\n\r\n", l, 1, false), IMAP_PARSE_OK);
	assert_false(C.append.msgs[0].utf8);
	assert_int_equal(parse_lits("a APPEND INBOX UTF8 (~{15}\r\n)\r\n", l, 1, true), IMAP_PARSE_OK);
	assert_true(C.append.msgs[0].utf8);
	assert_int_equal(parse_lits("a APPEND INBOX (\\Seen) UTF8 (~{15+}\r\n)\r\n", l, 1, true), IMAP_PARSE_OK);
	assert_int_equal(parse_lits("a APPEND INBOX UTF8 (~{15}\r\n\r\n", l, 1, true), IMAP_PARSE_BAD);
	l[0].binary = false;
	assert_int_equal(parse_lits("a APPEND INBOX UTF8 ({15}\r\n)\r\n", l, 1, true), IMAP_PARSE_BAD);
	assert_string_equal(E, "UTF8 needs a binary literal (~{n})");

	/* a spooled message */
	struct imap_literal sp = { .data = NULL, .len = 1000, .fd = 7, .path = "/tmp/x" };
	assert_int_equal(parse_lits("a APPEND INBOX {1000}\r\n\r\n", &sp, 1, false), IMAP_PARSE_OK);
	assert_ptr_equal(C.append.msgs[0].msg, &sp);
	/* mailbox as a literal, then the message */
	l[0] = lit("Sent Items", 10);
	l[1] = lit(msg, strlen(msg));
	assert_int_equal(parse_lits("a APPEND {10}\r\n {15}\r\n\r\n", l, 2, false), IMAP_PARSE_OK);
	assert_string_equal(C.mailbox.p, "Sent Items");
	assert_ptr_equal(C.append.msgs[0].msg, &l[1]);
	/* NUL in an in-memory non-binary message */
	l[0] = lit("a\0b", 3);
	assert_int_equal(parse_lits("a APPEND INBOX {3}\r\n\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_string_equal(E, "NUL octet in literal");
	l[0].binary = true;
	assert_int_equal(parse_lits("a APPEND INBOX ~{3}\r\n\r\n", l, 1, false), IMAP_PARSE_OK);

	l[0] = lit(msg, strlen(msg));
	BADMSG("a APPEND INBOX\r\n", "Missing message literal");
	BADMSG("a APPEND INBOX (\\Seen)\r\n", "Missing message literal");
	BADMSG("a APPEND INBOX hello\r\n", "Expected a message literal");
	/* \Recent is the server's: ignored, not an error */
	assert_int_equal(parse_lits("a APPEND INBOX (\\Recent \\Seen) {15}\r\n\r\n", l, 1, false), IMAP_PARSE_OK);
	assert_int_equal(C.append.msgs[0].flags, STORE_FLAG_SEEN);
	teardown_cmd();
	assert_int_equal(parse_lits("a APPEND INBOX \\Seen {15}\r\n\r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND INBOX {15}\r\n extra\r\n", l, 1, false), IMAP_PARSE_BAD);
	teardown_cmd();
}

/* MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469) */
static void test_multiappend_catenate(void **state)
{
	(void)state;
	const char *msg = "From: a\r\n\r\nhi\r\n";
	struct imap_literal l[3];
	l[0] = lit(msg, strlen(msg));
	l[1] = lit(msg, strlen(msg));
	l[2] = lit(msg, strlen(msg));
	assert_int_equal(parse_lits("a APPEND INBOX {15}\r\n (\\Seen) {15}\r\n\r\n", l, 2, false), IMAP_PARSE_OK);
	assert_int_equal(C.append.n, 2);
	assert_ptr_equal(C.append.msgs[0].msg, &l[0]);
	assert_int_equal(C.append.msgs[0].flags, 0);
	assert_ptr_equal(C.append.msgs[1].msg, &l[1]);
	assert_int_equal(C.append.msgs[1].flags, STORE_FLAG_SEEN);
	assert_string_equal(C.append.msgs[1].keywords, "");
	assert_int_equal(parse_lits("a APPEND INBOX {15}\r\n {15}\r\n", l, 2, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND INBOX {15}\r\n  {15}\r\n\r\n", l, 2, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND INBOX {15}\r\n \r\n", l, 1, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND INBOX {15}\r\n\r\n", l, 2, false), IMAP_PARSE_BAD);

	/* CATENATE: TEXT literals and URLs, mixed with plain messages */
	assert_int_equal(parse_lits("a APPEND INBOX CATENATE (TEXT {15}\r\n URL \"/INBOX/;uid=3\" TEXT {15}\r\n)"
				    " (\\Flagged) {15}\r\n\r\n", l, 3, false), IMAP_PARSE_OK);
	assert_int_equal(C.append.n, 2);
	assert_null(C.append.msgs[0].msg);
	assert_int_equal(C.append.msgs[0].nparts, 3);
	assert_ptr_equal(C.append.msgs[0].parts[0].text, &l[0]);
	assert_null(C.append.msgs[0].parts[1].text);
	assert_string_equal(C.append.msgs[0].parts[1].url.p, "/INBOX/;uid=3");
	assert_ptr_equal(C.append.msgs[0].parts[2].text, &l[1]);
	assert_ptr_equal(C.append.msgs[1].msg, &l[2]);
	assert_int_equal(C.append.msgs[1].flags, STORE_FLAG_FLAGGED);
	assert_int_equal(parse_lits("a APPEND INBOX catenate (url \"/INBOX/;uid=3\") catenate (url x)\r\n", l, 0,
				    false), IMAP_PARSE_OK);
	assert_int_equal(C.append.n, 2);
	BADMSG("a APPEND INBOX CATENATE ()\r\n", "Expected TEXT or URL");
	BADMSG("a APPEND INBOX CATENATE (URL)\r\n", "Syntax error: expected a space");
	BADMSG("a APPEND INBOX CATENATE (TEXT \"x\")\r\n", "TEXT needs a literal");
	BADMSG("a APPEND INBOX CATENATE (URL x\r\n", "Expected ) after CATENATE parts");
	BAD("a APPEND INBOX CATENATE\r\n");
	BAD("a APPEND INBOX CATENATE (URL x) \r\n");

	/* the limits: NO [LIMIT], not BAD */
	struct buf b = BUF_INIT;
	buf_puts(&b, "a APPEND INBOX");
	for (int i = 0; i <= IMAP_APPEND_MAX_MESSAGES; i++)
		buf_puts(&b, " CATENATE (URL x)");
	buf_puts(&b, "\r\n");
	assert_int_equal(parse_lits(b.data, NULL, 0, false), IMAP_PARSE_NO);
	assert_string_equal(E, "[LIMIT] Too many messages in one APPEND");
	buf_reset(&b);
	buf_puts(&b, "a APPEND INBOX CATENATE (URL x");
	for (int i = 0; i < IMAP_CATENATE_MAX_PARTS; i++)
		buf_puts(&b, " URL x");
	buf_puts(&b, ")\r\n");
	assert_int_equal(parse_lits(b.data, NULL, 0, false), IMAP_PARSE_NO);
	assert_string_equal(E, "[LIMIT] Too many parts in one CATENATE");
	buf_free(&b);
	teardown_cmd();
}

/* URLAUTH (RFC 4467) */
static void test_urlauth_commands(void **state)
{
	(void)state;
	OK("a GENURLAUTH \"imap://u@h/INBOX/;uid=1;urlauth=anonymous\" INTERNAL \"imap://x\" internal\r\n");
	assert_int_equal(C.type, IMAP_CMD_GENURLAUTH);
	assert_int_equal(C.natoms, 4);
	assert_string_equal(C.atoms[0].p, "imap://u@h/INBOX/;uid=1;urlauth=anonymous");
	assert_string_equal(C.atoms[3].p, "internal");
	BADMSG("a GENURLAUTH\r\n", "Missing URL");
	BADMSG("a GENURLAUTH \"imap://x\"\r\n", "Missing mechanism");
	OK("a URLFETCH \"imap://x\" imap://y\r\n");
	assert_int_equal(C.type, IMAP_CMD_URLFETCH);
	assert_int_equal(C.natoms, 2);
	BADMSG("a URLFETCH\r\n", "Missing URL");
	/* RFC 5524: (url params), each URL its own set */
	OK("a URLFETCH (\"imap://x\" BINARY bodypartstructure) imap://y (imap://z) (imap://w BODY)\r\n");
	assert_int_equal(C.natoms, 4);
	assert_string_equal(C.atoms[0].p, "imap://x");
	assert_int_equal(C.url_params[0], IMAP_URLFETCH_EXT | IMAP_URLFETCH_BINARY | IMAP_URLFETCH_BODYPARTSTRUCTURE);
	assert_int_equal(C.url_params[1], 0);
	assert_int_equal(C.url_params[2], IMAP_URLFETCH_EXT);
	assert_int_equal(C.url_params[3], IMAP_URLFETCH_EXT | IMAP_URLFETCH_BODY);
	BADMSG("a URLFETCH (imap://x BINARY BODY)\r\n", "URLFETCH BINARY and BODY exclude each other");
	BADMSG("a URLFETCH (imap://x BODY binary)\r\n", "URLFETCH BINARY and BODY exclude each other");
	BADMSG("a URLFETCH (imap://x BINARY BINARY)\r\n", "URLFETCH parameter given twice");
	BADMSG("a URLFETCH (imap://x PARTS)\r\n", "Unknown URLFETCH parameter");
	BADMSG("a URLFETCH (imap://x BINARY\r\n", "Missing ) after URLFETCH parameters");
	BADMSG("a URLFETCH (imap://x BINARY) \r\n", "Missing URL");
	BAD("a URLFETCH (\r\n");
	BAD("a URLFETCH (imap://x (BINARY))\r\n");
	OK("a RESETKEY\r\n");
	assert_int_equal(C.type, IMAP_CMD_RESETKEY);
	assert_null(C.mailbox.p);
	OK("a RESETKEY INBOX INTERNAL\r\n");
	assert_string_equal(C.mailbox.p, "INBOX");
	assert_int_equal(C.natoms, 1);
	BAD("a RESETKEY \r\n");
	struct buf b = BUF_INIT;
	buf_puts(&b, "a URLFETCH");
	for (int i = 0; i <= IMAP_URLAUTH_MAX_URLS; i++)
		buf_puts(&b, " x");
	buf_puts(&b, "\r\n");
	assert_int_equal(parse_lits(b.data, NULL, 0, false), IMAP_PARSE_NO);
	buf_free(&b);
	teardown_cmd();
}

/* ---- selected-state commands ------------------------------------------------------ */

static void test_copy_move_expunge(void **state)
{
	(void)state;
	OK("a COPY 1:3,5 Trash\r\n");
	assert_int_equal(C.type, IMAP_CMD_COPY);
	assert_false(C.uid);
	assert_int_equal(C.set.n, 2);
	assert_string_equal(C.mailbox.p, "Trash");
	OK("a UID COPY 1:* \"Sent Items\"\r\n");
	assert_true(C.uid);
	assert_int_equal(C.set.r[0].hi, IMAP_SEQ_STAR);
	OK("a uid move $ Junk\r\n");
	assert_int_equal(C.type, IMAP_CMD_MOVE);
	assert_true(C.set.saved);
	OK("a MOVE 2 Junk\r\n");
	BADMSG("a COPY 0 Trash\r\n", "Invalid sequence set");
	BADMSG("a COPY 1:3\r\n", "Missing mailbox name");
	BADMSG("a COPY Trash\r\n", "Invalid sequence set");
	BADMSG("a COPY\r\n", "Missing sequence set");
	OK("a UID EXPUNGE 3:5,9\r\n");
	assert_int_equal(C.type, IMAP_CMD_EXPUNGE);
	assert_true(C.uid);
	assert_int_equal(C.set.n, 2);
	BADMSG("a UID EXPUNGE\r\n", "Missing sequence set");
	BADMSG("a UID EXPUNGE 1 2\r\n", "Unexpected characters after command");
	BADMSG("a UID NOOP\r\n", "Unknown UID command");
	BADMSG("a UID LOGIN a b\r\n", "Unknown UID command");
	BADMSG("a UID\r\n", "Missing command after UID");
	teardown_cmd();
}

static const struct imap_fetch_att *att(size_t i)
{
	assert_true(i < C.natts);
	return &C.atts[i];
}

static void test_fetch(void **state)
{
	(void)state;
	OK("a FETCH 1 FLAGS\r\n");
	assert_int_equal(C.type, IMAP_CMD_FETCH);
	assert_int_equal(C.natts, 1);
	assert_int_equal(att(0)->type, FA_FLAGS);
	assert_string_equal(att(0)->name, "FLAGS");
	assert_false(C.fetch_all_macro);

	OK("a FETCH 1:* ALL\r\n");
	assert_true(C.fetch_all_macro);
	assert_int_equal(C.natts, 4);
	assert_int_equal(att(3)->type, FA_ENVELOPE);
	OK("a FETCH 1 fast\r\n");
	assert_int_equal(C.natts, 3);
	OK("a FETCH 1 FULL\r\n");
	assert_int_equal(C.natts, 5);
	assert_int_equal(att(4)->type, FA_BODY);
	assert_string_equal(att(4)->name, "BODY");
	BADMSG("a FETCH 1 (ALL)\r\n", "Unknown fetch attribute");

	OK("a FETCH 1 (flags internaldate rfc822.size envelope body bodystructure uid modseq rfc822 "
	   "rfc822.header rfc822.text)\r\n");
	static const enum imap_fetch_type types[] = { FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE, FA_ENVELOPE,
						      FA_BODY, FA_BODYSTRUCTURE, FA_UID, FA_MODSEQ, FA_RFC822,
						      FA_RFC822_HEADER, FA_RFC822_TEXT };
	static const char *const names[] = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY",
					     "BODYSTRUCTURE", "UID", "MODSEQ", "RFC822", "RFC822.HEADER",
					     "RFC822.TEXT" };
	assert_int_equal(C.natts, 11);
	for (size_t i = 0; i < 11; i++) {
		assert_int_equal(att(i)->type, types[i]);
		assert_string_equal(att(i)->name, names[i]);
	}

	OK("a FETCH 1 BODY[]\r\n");
	assert_int_equal(att(0)->type, FA_BODY_SECTION);
	assert_false(att(0)->peek);
	assert_int_equal(att(0)->spec, SEC_NONE);
	assert_int_equal(att(0)->nparts, 0);
	assert_string_equal(att(0)->name, "BODY[]");
	OK("a FETCH 1 body.peek[header.fields (Date From)]<0.100>\r\n");
	assert_true(att(0)->peek);
	assert_int_equal(att(0)->spec, SEC_HEADER_FIELDS);
	assert_int_equal(att(0)->nfields, 2);
	assert_string_equal(att(0)->fields[1].p, "From");
	assert_true(att(0)->partial);
	assert_true(att(0)->offset == 0 && att(0)->length == 100);
	assert_string_equal(att(0)->name, "BODY[HEADER.FIELDS (Date From)]<0>");
	OK("a FETCH 1 BODY[1.2.MIME]\r\n");
	assert_int_equal(att(0)->nparts, 2);
	assert_int_equal(att(0)->part[1], 2);
	assert_int_equal(att(0)->spec, SEC_MIME);
	assert_string_equal(att(0)->name, "BODY[1.2.MIME]");
	OK("a FETCH 1 BODY[3.HEADER.FIELDS.NOT (\"Received\" X-Spam)]\r\n");
	assert_int_equal(att(0)->spec, SEC_HEADER_FIELDS_NOT);
	assert_string_equal(att(0)->name, "BODY[3.HEADER.FIELDS.NOT (Received X-Spam)]");
	OK("a FETCH 1 BODY[HEADER.FIELDS (\"a(b\")]\r\n");
	assert_string_equal(att(0)->name, "BODY[HEADER.FIELDS (\"a(b\")]");
	OK("a FETCH 1 (BODY[TEXT]<100.5> BODY.PEEK[1] BODY[HEADER] BODY[4.1.TEXT])\r\n");
	assert_int_equal(C.natts, 4);
	assert_string_equal(att(0)->name, "BODY[TEXT]<100>");
	assert_string_equal(att(1)->name, "BODY[1]");
	assert_true(att(1)->peek);
	assert_string_equal(att(2)->name, "BODY[HEADER]");
	assert_string_equal(att(3)->name, "BODY[4.1.TEXT]");
	BADMSG("a FETCH 1 BODY[MIME]\r\n", "MIME needs a part number");
	BADMSG("a FETCH 1 BODY[0]\r\n", "Invalid section part number");
	BADMSG("a FETCH 1 BODY[01]\r\n", "Invalid section part number");
	BADMSG("a FETCH 1 BODY[1.]\r\n", "Invalid section");
	BADMSG("a FETCH 1 BODY[FOO]\r\n", "Invalid section");
	BADMSG("a FETCH 1 BODY[HEADER.FIELDS]\r\n", "Missing header field list");
	BAD("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n");
	BADMSG("a FETCH 1 BODY[HEADER.FIELDS (a:b)]\r\n", "Invalid header field name");
	BAD("a FETCH 1 BODY[HEADER\r\n");
	BADMSG("a FETCH 1 BODY[]<0.0>\r\n", "Invalid partial length");
	BAD("a FETCH 1 BODY[]<0>\r\n");
	BAD("a FETCH 1 BODY[]<5.10\r\n");
	BADMSG("a FETCH 1 BODY.PEEK\r\n", "Missing section");

	/* BINARY (RFC 3516) */
	OK("a FETCH 1 (BINARY[1.2] BINARY.PEEK[]<0.10> BINARY.SIZE[3])\r\n");
	assert_int_equal(att(0)->type, FA_BINARY_SECTION);
	assert_string_equal(att(0)->name, "BINARY[1.2]");
	assert_false(att(0)->peek);
	assert_true(att(1)->peek);
	assert_string_equal(att(1)->name, "BINARY[]<0>");
	assert_int_equal(att(2)->type, FA_BINARY_SIZE);
	assert_string_equal(att(2)->name, "BINARY.SIZE[3]");
	BADMSG("a FETCH 1 BINARY[HEADER]\r\n", "A BINARY section holds part numbers only");
	BADMSG("a FETCH 1 BINARY[1.MIME]\r\n", "A BINARY section holds part numbers only");
	BAD("a FETCH 1 BINARY.SIZE[1]<0.5>\r\n");
	BADMSG("a FETCH 1 BINARY\r\n", "Missing section");

	/* section depth limit */
	char line[400];
	int off = snprintf(line, sizeof line, "a FETCH 1 BODY[");
	for (int i = 0; i < IMAP_SECTION_DEPTH; i++)
		off += snprintf(line + off, sizeof line - (size_t)off, "%s1", i ? "." : "");
	snprintf(line + off, sizeof line - (size_t)off, "]\r\n");
	OK(line);
	assert_int_equal(att(0)->nparts, IMAP_SECTION_DEPTH);
	off = snprintf(line, sizeof line, "a FETCH 1 BODY[");
	for (int i = 0; i <= IMAP_SECTION_DEPTH; i++)
		off += snprintf(line + off, sizeof line - (size_t)off, "%s1", i ? "." : "");
	snprintf(line + off, sizeof line - (size_t)off, "]\r\n");
	BADMSG(line, "Section part nested too deeply");

	/* modifiers (CONDSTORE / QRESYNC) */
	OK("a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n");
	assert_true(C.changedsince == 12345);
	assert_false(C.vanished);
	OK("a UID FETCH 1:* FLAGS (CHANGEDSINCE 5 VANISHED)\r\n");
	assert_true(C.uid && C.vanished);
	OK("a UID FETCH 1:* FAST (VANISHED CHANGEDSINCE 5)\r\n");
	assert_true(C.fetch_all_macro && C.vanished);
	BADMSG("a FETCH 1:* FLAGS (CHANGEDSINCE 5 VANISHED)\r\n", "VANISHED is only valid with UID FETCH");
	BADMSG("a UID FETCH 1:* FLAGS (VANISHED)\r\n", "VANISHED needs CHANGEDSINCE");
	BADMSG("a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n", "Invalid CHANGEDSINCE value");
	BADMSG("a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n", "Duplicate CHANGEDSINCE");
	BADMSG("a FETCH 1 FLAGS (FOO)\r\n", "Unknown FETCH modifier");
	BADMSG("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n", "Invalid CHANGEDSINCE value");
	OK("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775807)\r\n");

	OK("a UID FETCH 1:5,7 (UID FLAGS)\r\n");
	assert_true(C.uid);
	assert_int_equal(C.set.n, 2);
	BADMSG("a FETCH 1 ()\r\n", "Empty fetch attribute list");
	BADMSG("a FETCH 1 (FLAGS\r\n", "Invalid fetch attribute list");
	BADMSG("a FETCH 1 FOO\r\n", "Unknown fetch attribute");
	BADMSG("a FETCH 1\r\n", "Missing fetch attributes");
	BADMSG("a FETCH 1 (FLAGS  UID)\r\n", "Invalid fetch attribute");
	BAD("a FETCH 1 FLAGS UID\r\n");
	teardown_cmd();
}

static void test_store(void **state)
{
	(void)state;
	OK("a STORE 1:3 +FLAGS.SILENT (\\Seen $Junk)\r\n");
	assert_int_equal(C.type, IMAP_CMD_STORE);
	assert_int_equal(C.store_op, STORE_FLAGS_ADD);
	assert_true(C.silent);
	assert_int_equal(C.flags, STORE_FLAG_SEEN);
	assert_string_equal(C.keywords, "$Junk");
	assert_false(C.has_unchangedsince);
	OK("a STORE 1 -FLAGS \\Deleted \\Flagged\r\n");
	assert_int_equal(C.store_op, STORE_FLAGS_REMOVE);
	assert_false(C.silent);
	assert_int_equal(C.flags, STORE_FLAG_DELETED | STORE_FLAG_FLAGGED);
	assert_string_equal(C.keywords, "");
	OK("a store 1 flags ()\r\n");
	assert_int_equal(C.store_op, STORE_FLAGS_REPLACE);
	assert_int_equal(C.flags, 0);
	OK("a STORE 1 FLAGS (\\answered \\DRAFT a B a b)\r\n");
	assert_int_equal(C.flags, STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT);
	assert_string_equal(C.keywords, "a B");
	OK("a UID STORE 5 (UNCHANGEDSINCE 0) +FLAGS (x)\r\n");
	assert_true(C.uid && C.has_unchangedsince);
	assert_true(C.unchangedsince == 0);
	OK("a STORE 5 (UNCHANGEDSINCE 320162338) FLAGS.SILENT \\Seen\r\n");
	assert_true(C.unchangedsince == 320162338);
	OK("a STORE 1 FLAGS (\\Recent \\Flagged)\r\n");
	assert_int_equal(C.flags, STORE_FLAG_FLAGGED);
	BADMSG("a STORE 1 +FLAGS (\\*)\r\n", "\\* is not a flag");
	BADMSG("a STORE 1 +FLAGS (\\Foo)\r\n", "Unknown system flag");
	BADMSG("a STORE 1 +FLAG (\\Seen)\r\n", "Expected FLAGS, +FLAGS or -FLAGS");
	BADMSG("a STORE 1 *FLAGS (\\Seen)\r\n", "Expected FLAGS, +FLAGS or -FLAGS");
	BADMSG("a STORE 1 +FLAGS\r\n", "Missing flags");
	BADMSG("a STORE 1 (FOO 1) +FLAGS (x)\r\n", "Unknown STORE modifier");
	BAD("a STORE 1 (UNCHANGEDSINCE) +FLAGS (x)\r\n");
	BAD("a STORE 1 +FLAGS (\\Seen\r\n");
	BAD("a STORE 1 +FLAGS (\\Seen )\r\n");
	BAD("a STORE 1 +FLAGS (a%b)\r\n");
	BAD("a STORE 1 +FLAGS \\Seen (x)\r\n");
	BAD("a STORE +FLAGS (x)\r\n");
	char line[4000];
	int off = snprintf(line, sizeof line, "a STORE 1 +FLAGS (");
	for (int i = 0; i < 129; i++)
		off += snprintf(line + off, sizeof line - (size_t)off, "%sk%d", i ? " " : "", i);
	snprintf(line + off, sizeof line - (size_t)off, ")\r\n");
	BADMSG(line, "Too many flags");
	teardown_cmd();
}

/* ---- SEARCH ------------------------------------------------------------------------- */

static const struct imap_skey *child(const struct imap_skey *k, size_t i)
{
	const struct imap_skey *c = k->child;
	while (c && i--)
		c = c->next;
	assert_non_null(c);
	return c;
}

static size_t nchildren(const struct imap_skey *k)
{
	size_t n = 0;
	for (const struct imap_skey *c = k->child; c; c = c->next)
		n++;
	return n;
}

static void test_search_keys(void **state)
{
	(void)state;
	OK("a SEARCH ALL\r\n");
	assert_int_equal(C.type, IMAP_CMD_SEARCH);
	assert_non_null(C.search);
	assert_int_equal(C.search->type, SK_AND);
	assert_int_equal(nchildren(C.search), 1);
	assert_int_equal(child(C.search, 0)->type, SK_ALL);
	assert_false(C.esearch);

	OK("a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
	assert_int_equal(nchildren(C.search), 3);
	assert_int_equal(child(C.search, 0)->type, SK_FLAG);
	assert_int_equal(child(C.search, 0)->flag, STORE_FLAG_FLAGGED);
	assert_int_equal(child(C.search, 1)->type, SK_SINCE);
	assert_true(child(C.search, 1)->date == 8797);     /* 1994-02-01 */
	const struct imap_skey *n = child(C.search, 2);
	assert_int_equal(n->type, SK_NOT);
	assert_int_equal(nchildren(n), 1);
	assert_int_equal(child(n, 0)->type, SK_FROM);
	assert_string_equal(child(n, 0)->str, "Smith");

	OK("a SEARCH OR (SEEN UNDELETED) OR 1:5 UID 7:* TO x\r\n");
	const struct imap_skey *o = child(C.search, 0);
	assert_int_equal(o->type, SK_OR);
	assert_int_equal(nchildren(o), 2);
	const struct imap_skey *par = child(o, 0);
	assert_int_equal(par->type, SK_AND);
	assert_int_equal(nchildren(par), 2);
	assert_int_equal(child(par, 1)->type, SK_UNFLAG);
	assert_int_equal(child(par, 1)->flag, STORE_FLAG_DELETED);
	const struct imap_skey *o2 = child(o, 1);
	assert_int_equal(o2->type, SK_OR);
	assert_int_equal(child(o2, 0)->type, SK_SEQSET);
	assert_int_equal(child(o2, 0)->set.r[0].hi, 5);
	assert_int_equal(child(o2, 1)->type, SK_UID);
	assert_int_equal(child(o2, 1)->set.r[0].hi, IMAP_SEQ_STAR);
	assert_int_equal(child(C.search, 1)->type, SK_TO);

	OK("a SEARCH HEADER X-Spam \"\" LARGER 100 SMALLER 9223372036854775807 KEYWORD $Junk UNKEYWORD foo\r\n");
	assert_int_equal(child(C.search, 0)->type, SK_HEADER);
	assert_string_equal(child(C.search, 0)->field, "X-Spam");
	assert_string_equal(child(C.search, 0)->str, "");
	assert_int_equal(child(C.search, 1)->type, SK_LARGER);
	assert_true(child(C.search, 1)->num == 100);
	assert_int_equal(child(C.search, 2)->type, SK_SMALLER);
	assert_int_equal(child(C.search, 3)->type, SK_KEYWORD);
	assert_string_equal(child(C.search, 3)->str, "$Junk");
	assert_int_equal(child(C.search, 4)->type, SK_UNKEYWORD);

	OK("a SEARCH NEW OLD RECENT ANSWERED DELETED DRAFT SEEN UNANSWERED UNDRAFT UNFLAGGED UNSEEN\r\n");
	assert_int_equal(nchildren(C.search), 11);
	assert_int_equal(child(C.search, 0)->type, SK_NEW);
	assert_int_equal(child(C.search, 1)->type, SK_OLD);
	assert_int_equal(child(C.search, 2)->type, SK_RECENT);
	assert_int_equal(child(C.search, 10)->type, SK_UNFLAG);
	assert_int_equal(child(C.search, 10)->flag, STORE_FLAG_SEEN);

	OK("a SEARCH BEFORE \"1-Jan-1970\" ON 31-Dec-1969 SENTBEFORE 01-Mar-2000 SENTON 29-Feb-2000 "
	   "SENTSINCE 1-jan-2038 BCC b CC c BODY d TEXT e SUBJECT f\r\n");
	assert_true(child(C.search, 0)->date == 0);
	assert_true(child(C.search, 1)->date == -1);
	assert_true(child(C.search, 2)->date == 11017);
	assert_true(child(C.search, 3)->date == 11016);
	assert_int_equal(child(C.search, 4)->type, SK_SENTSINCE);
	assert_int_equal(child(C.search, 9)->type, SK_SUBJECT);

	OK("a SEARCH $\r\n");
	assert_true(child(C.search, 0)->set.saved);
	OK("a UID SEARCH UID $\r\n");
	assert_true(C.uid);
	assert_true(child(C.search, 0)->set.saved);

	OK("a SEARCH MODSEQ 0\r\n");
	assert_int_equal(child(C.search, 0)->type, SK_MODSEQ);
	OK("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n");
	assert_true(child(C.search, 0)->num == 620162338);
	BADMSG("a SEARCH MODSEQ \"/flags/\\\\draft\" foo 1\r\n", "Invalid MODSEQ entry type");
	BAD("a SEARCH MODSEQ\r\n");
	BAD("a SEARCH MODSEQ x\r\n");

	BADMSG("a SEARCH\r\n", "Missing search criteria");
	BADMSG("a SEARCH FOO\r\n", "Unknown search key");
	BADMSG("a SEARCH SINCE 32-Jan-2020\r\n", "Invalid date (expected d-Mon-yyyy)");
	BAD("a SEARCH SINCE 1-Jan-20\r\n");
	BAD("a SEARCH SINCE 1-Jna-2020\r\n");
	BAD("a SEARCH SINCE \"1-Jan-2020\r\n");
	BADMSG("a SEARCH SINCE\r\n", "Missing date");
	BADMSG("a SEARCH FROM\r\n", "Missing search string");
	BADMSG("a SEARCH OR SEEN\r\n", "Missing second search key after OR");
	BADMSG("a SEARCH NOT\r\n", "Missing search key after NOT");
	BAD("a SEARCH (SEEN\r\n");
	BAD("a SEARCH ()\r\n");
	BAD("a SEARCH SEEN )\r\n");
	BAD("a SEARCH KEYWORD \\Seen\r\n");
	BAD("a SEARCH HEADER \"a:b\" x\r\n");
	BAD("a SEARCH LARGER -1\r\n");
	BAD("a SEARCH 0\r\n");
	BAD("a SEARCH 1,\r\n");
	BAD("a SEARCH UID 1:x\r\n");
	BAD("a SEARCH SEEN  ALL\r\n");
	teardown_cmd();
}

static void test_search_return_charset(void **state)
{
	(void)state;
	OK("a SEARCH RETURN (MIN MAX COUNT ALL SAVE) UNSEEN\r\n");
	assert_true(C.esearch);
	assert_int_equal(C.search_ret, IMAP_RET_MIN | IMAP_RET_MAX | IMAP_RET_COUNT | IMAP_RET_ALL | IMAP_RET_SAVE);
	OK("a UID SEARCH RETURN () ALL\r\n");
	assert_true(C.esearch);
	assert_int_equal(C.search_ret, 0);
	BADMSG("a SEARCH RETURN (FOO) ALL\r\n", "Unknown RETURN option");
	BAD("a SEARCH RETURN MIN ALL\r\n");
	BAD("a SEARCH RETURN (MIN)\r\n");

	OK("a SEARCH CHARSET UTF-8 SUBJECT \"x\"\r\n");
	assert_string_equal(C.charset, "UTF-8");
	OK("a SEARCH RETURN (COUNT) CHARSET us-ascii ALL\r\n");
	assert_string_equal(C.charset, "us-ascii");
	assert_true(C.esearch);
	BAD("a SEARCH CHARSET UTF-8 RETURN (COUNT) ALL\r\n");   /* RETURN comes first */

	/* a literal in ISO-8859-1 is converted to UTF-8 */
	struct imap_literal l = lit("M\xfcller", 6);
	assert_int_equal(parse_lits("a SEARCH CHARSET ISO-8859-1 FROM {6}\r\n\r\n", &l, 1, false), IMAP_PARSE_OK);
	assert_string_equal(child(C.search, 0)->str, "M\xc3\xbcller");
	/* without CHARSET (or UTF-8), invalid UTF-8 becomes U+FFFD */
	assert_int_equal(parse_lits("a SEARCH FROM {6}\r\n\r\n", &l, 1, false), IMAP_PARSE_OK);
	assert_string_equal(child(C.search, 0)->str, "M\xef\xbf\xbdller");

	assert_int_equal(parse("a SEARCH CHARSET X-NO-SUCH-CHARSET ALL\r\n"), IMAP_PARSE_BADCHARSET);
	assert_string_equal(E, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
	assert_string_equal(C.tag, "a");
	assert_null(C.search);
	assert_int_equal(parse("a SEARCH CHARSET \"UTF-8//TRANSLIT\" ALL\r\n"), IMAP_PARSE_BADCHARSET);
	assert_int_equal(parse("a SEARCH CHARSET 0123456789012345678901234567890123456789 ALL\r\n"),
			 IMAP_PARSE_BADCHARSET);
	teardown_cmd();
}

static void test_search_limits(void **state)
{
	(void)state;
	/* nesting: 32 levels pass, 33 do not */
	char line[30000];
	for (int depth = 32; depth <= 33; depth++) {
		int off = snprintf(line, sizeof line, "a SEARCH ");
		for (int i = 0; i < depth; i++)
			off += snprintf(line + off, sizeof line - (size_t)off, "(");
		off += snprintf(line + off, sizeof line - (size_t)off, "SEEN");
		for (int i = 0; i < depth; i++)
			off += snprintf(line + off, sizeof line - (size_t)off, ")");
		snprintf(line + off, sizeof line - (size_t)off, "\r\n");
		if (depth == 32)
			OK(line);
		else
			BADMSG(line, "Search keys nested too deeply");
	}
	int off = snprintf(line, sizeof line, "a SEARCH ");
	for (int i = 0; i < 40; i++)
		off += snprintf(line + off, sizeof line - (size_t)off, "NOT ");
	snprintf(line + off, sizeof line - (size_t)off, "SEEN\r\n");
	BADMSG(line, "Search keys nested too deeply");
	/* NOT NOT ... 32 deep is fine */
	off = snprintf(line, sizeof line, "a SEARCH ");
	for (int i = 0; i < 32; i++)
		off += snprintf(line + off, sizeof line - (size_t)off, "NOT ");
	snprintf(line + off, sizeof line - (size_t)off, "SEEN\r\n");
	OK(line);
	/* key count: the root plus 999 keys pass, one more does not */
	for (int keys = 999; keys <= 1000; keys++) {
		off = snprintf(line, sizeof line, "a SEARCH");
		for (int i = 0; i < keys; i++)
			off += snprintf(line + off, sizeof line - (size_t)off, " SEEN");
		snprintf(line + off, sizeof line - (size_t)off, "\r\n");
		if (keys == 999)
			OK(line);
		else
			BADMSG(line, "Too many search keys");
	}
	teardown_cmd();
}

/* Every command's name maps to its type; UID forms set uid. */
static void test_command_table(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum imap_cmd_type type;
		bool uid;
	} cases[] = {
		{ "a STARTTLS\r\n", IMAP_CMD_STARTTLS, false },
		{ "a NAMESPACE\r\n", IMAP_CMD_NAMESPACE, false },
		{ "a IDLE\r\n", IMAP_CMD_IDLE, false },
		{ "a CHECK\r\n", IMAP_CMD_CHECK, false },
		{ "a CLOSE\r\n", IMAP_CMD_CLOSE, false },
		{ "a UNSELECT\r\n", IMAP_CMD_UNSELECT, false },
		{ "a LOGOUT\r\n", IMAP_CMD_LOGOUT, false },
		{ "a UID SEARCH ALL\r\n", IMAP_CMD_SEARCH, true },
		{ "a UID STORE 1 FLAGS ()\r\n", IMAP_CMD_STORE, true },
		{ "a UID FETCH 1 UID\r\n", IMAP_CMD_FETCH, true },
		{ "a UID COPY 1 x\r\n", IMAP_CMD_COPY, true },
		{ "a UID MOVE 1 x\r\n", IMAP_CMD_MOVE, true },
		{ "a uid expunge 1\r\n", IMAP_CMD_EXPUNGE, true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		OK(cases[i].line);
		assert_int_equal(C.type, cases[i].type);
		assert_int_equal(C.uid, cases[i].uid);
	}
	teardown_cmd();
}

/* Inputs the fuzzer found or that once misbehaved. */
static void test_regressions(void **state)
{
	(void)state;
	/* cmd_free on a zeroed and on a failed command is harmless */
	struct imap_cmd z;
	memset(&z, 0, sizeof z);
	imap_cmd_free(&z);
	imap_cmd_free(NULL);
	BAD("a FETCH 1 (BODY[HEADER.FIELDS (a b c\r\n");
	imap_cmd_free(&C);
	BAD("a SEARCH OR (SEEN NOT (FROM x\r\n");
	imap_cmd_free(&C);
	/* a literal header at the very end of the text */
	struct imap_literal l = lit("x", 1);
	assert_int_equal(parse_lits("a LOGIN {1}", &l, 1, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a LOGIN ~", &l, 1, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a LOGIN {1", &l, 1, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a FETCH 1 BODY[", NULL, 0, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a FETCH 1 BODY[1.", NULL, 0, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a SEARCH SINCE \"", NULL, 0, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a APPEND x \"", NULL, 0, false), IMAP_PARSE_BAD);
	assert_int_equal(parse_lits("a LOGIN \"\\", NULL, 0, false), IMAP_PARSE_BAD);
	teardown_cmd();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_parse_tag),
		cmocka_unit_test(test_login_strings),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_literal_header),
		cmocka_unit_test(test_literal_is_message),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_enable_id),
		cmocka_unit_test(test_compress_quota),
		cmocka_unit_test(test_mailbox_commands),
		cmocka_unit_test(test_select_params),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_multiappend_catenate),
		cmocka_unit_test(test_urlauth_commands),
		cmocka_unit_test(test_copy_move_expunge),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_search_keys),
		cmocka_unit_test(test_search_return_charset),
		cmocka_unit_test(test_search_limits),
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_regressions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
