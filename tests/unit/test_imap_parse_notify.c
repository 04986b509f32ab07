/*
 * test_imap_parse_notify.c — the parser of NOTIFY (RFC 5465 §3.1, §8;
 * src/imap/parse_notify.c): what comes out of each form, BAD for every
 * malformed one, NO [BADEVENT (...)] for unsupported events, NO [LIMIT]
 * past the limits, and no prefix of a good command crashes.
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
#include "parse_harness.h"


static void bad(const char *text)
{
	if (parse(text) != IMAP_PARSE_BAD)
		fail_msg("not BAD: %s", text);
	assert_non_null(E);
}

static void test_none_and_set(void **state)
{
	(void)state;
	assert_int_equal(parse("a NOTIFY NONE\r\n"), IMAP_PARSE_OK);
	assert_int_equal(C.type, IMAP_CMD_NOTIFY);
	assert_true(C.notify_none);
	assert_int_equal(C.notify_ngroups, 0);

	assert_int_equal(parse("a notify set status (selected (MessageNew (uid body.peek[header.fields (from to "
			       "subject)]) MessageExpunge)) (subtree Lists (MessageNew)) (mailboxes (misc \"x y\" "
			       "{0}\r\n) NONE)\r\n"),
			 IMAP_PARSE_BAD);   /* a literal with no data given: BAD, not a crash */
	assert_int_equal(parse("a notify set status (selected (MessageNew (uid body.peek[header.fields (from to "
			       "subject)]) MessageExpunge)) (subtree Lists (MessageNew)) (mailboxes (misc \"x y\") "
			       "NONE)\r\n"),
			 IMAP_PARSE_OK);
	assert_false(C.notify_none);
	assert_true(C.notify_status);
	assert_int_equal(C.notify_ngroups, 3);
	assert_int_equal(C.notify_groups[0].filter, IMAP_NF_SELECTED);
	assert_int_equal(C.notify_groups[0].events, IMAP_NEV_MESSAGENEW | IMAP_NEV_MESSAGEEXPUNGE);
	assert_int_equal(C.natts, 2);
	assert_int_equal(C.atts[0].type, FA_UID);
	assert_int_equal(C.atts[1].type, FA_BODY_SECTION);
	assert_true(C.atts[1].peek);
	assert_string_equal(C.atts[1].name, "BODY[HEADER.FIELDS (from to subject)]");
	assert_int_equal(C.notify_groups[1].filter, IMAP_NF_SUBTREE);
	assert_int_equal(C.notify_groups[1].nmailboxes, 1);
	assert_string_equal(C.notify_groups[1].mailboxes[0].p, "Lists");
	assert_int_equal(C.notify_groups[1].events, IMAP_NEV_MESSAGENEW);
	assert_int_equal(C.notify_groups[2].filter, IMAP_NF_MAILBOXES);
	assert_int_equal(C.notify_groups[2].nmailboxes, 2);
	assert_string_equal(C.notify_groups[2].mailboxes[1].p, "x y");
	assert_int_equal(C.notify_groups[2].events, 0);

	assert_int_equal(parse("a NOTIFY SET (selected-delayed (FlagChange)) (inboxes (MessageNew MessageExpunge)) "
			       "(personal (MailboxName SubscriptionChange)) (subscribed NONE)\r\n"),
			 IMAP_PARSE_OK);
	assert_false(C.notify_status);
	assert_int_equal(C.notify_ngroups, 4);
	assert_int_equal(C.notify_groups[0].filter, IMAP_NF_SELECTED_DELAYED);
	assert_int_equal(C.notify_groups[0].events, IMAP_NEV_FLAGCHANGE);
	assert_int_equal(C.notify_groups[1].filter, IMAP_NF_INBOXES);
	assert_int_equal(C.notify_groups[2].filter, IMAP_NF_PERSONAL);
	assert_int_equal(C.notify_groups[2].events, IMAP_NEV_MAILBOXNAME | IMAP_NEV_SUBSCRIPTIONCHANGE);
	assert_int_equal(C.notify_groups[3].filter, IMAP_NF_SUBSCRIBED);
	assert_int_equal(C.natts, 0);

	/* Dovecot's leniency, which imaptest's "notify" script relies on */
	assert_int_equal(parse("a NOTIFY SET STATUS (mailboxes box2 (MessageExpunge))\r\n"), IMAP_PARSE_OK);
	assert_int_equal(parse("a NOTIFY SET STATUS (mailboxes box2 (FlagChange))\r\n"), IMAP_PARSE_OK);
}

static void test_badevent(void **state)
{
	(void)state;
	const char *no[] = {
		"a NOTIFY SET (personal (AnnotationChange))\r\n",
		"a NOTIFY SET (personal (MessageNew MailboxMetadataChange))\r\n",
		"a NOTIFY SET (personal (ServerMetadataChange))\r\n",
		"a NOTIFY SET (inboxes (FooBar)) (personal (MessageNew))\r\n",
		"a NOTIFY SET (selected (AnnotationChange))\r\n",
	};
	for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
		if (parse(no[i]) != IMAP_PARSE_NO)
			fail_msg("not NO: %s", no[i]);
		assert_non_null(strstr(E, "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName "
					  "SubscriptionChange)]"));
	}
	/* syntax first: an unknown event in a command that is BAD anyway */
	bad("a NOTIFY SET (personal (FooBar)) junk\r\n");
}

static void test_bad(void **state)
{
	(void)state;
	const char *bads[] = {
		"a NOTIFY\r\n", "a NOTIFY \r\n", "a NOTIFY FOO\r\n", "a NOTIFY NONE x\r\n", "a NOTIFY SET\r\n",
		"a NOTIFY SET \r\n", "a NOTIFY SET STATUS\r\n", "a NOTIFY SET STATUS \r\n", "a NOTIFY SET ()\r\n",
		"a NOTIFY SET (personal)\r\n", "a NOTIFY SET (personal ())\r\n", "a NOTIFY SET (personal  (MessageNew))\r\n",
		"a NOTIFY SET (bogus (MessageNew))\r\n", "a NOTIFY SET personal (MessageNew)\r\n",
		"a NOTIFY SET (personal (MessageNew)\r\n", "a NOTIFY SET (personal (MessageNew)) \r\n",
		"a NOTIFY SET (personal (MessageNew))  (inboxes NONE)\r\n",
		"a NOTIFY SET (subtree (MessageNew))\r\n", "a NOTIFY SET (subtree a)\r\n",
		"a NOTIFY SET (mailboxes () (MessageNew))\r\n", "a NOTIFY SET (mailboxes (a (MessageNew))\r\n",
		"a NOTIFY SET (selected (MessageNew)) (selected-delayed (MessageNew))\r\n",
		"a NOTIFY SET (selected (MessageNew)) (selected (MessageExpunge))\r\n",
		"a NOTIFY SET (selected (MailboxName))\r\n", "a NOTIFY SET (selected-delayed (SubscriptionChange))\r\n",
		"a NOTIFY SET (selected (MailboxMetadataChange))\r\n",
		"a NOTIFY SET (personal (MessageNew (UID)))\r\n", "a NOTIFY SET (selected (MessageNew ()))\r\n",
		"a NOTIFY SET (selected (MessageNew (BOGUS)))\r\n", "a NOTIFY SET (selected (MessageNew (ALL)))\r\n",
		"a NOTIFY SET (selected (MessageNew (UID))\r\n", "a NOTIFY SET (personal NONE NONE)\r\n",
		"a NOTIFY SET (personal (NONE)\r\n", "a NOTIFY SET (personal (\"MessageNew\"))\r\n",
		"a NOTIFY SET (mailboxes \"unterminated (MessageNew))\r\n",
		"a NOTIFY SET (personal (MessageNew))",
	};
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++)
		bad(bads[i]);
}

/* A NOTIFY SET with ngroups groups of nnames names each. */
static char *build(size_t ngroups, size_t nnames, const char *tail)
{
	size_t cap = 64 + ngroups * (40 + nnames * 8) + strlen(tail);
	char *t = malloc(cap);
	assert_non_null(t);
	size_t n = (size_t)snprintf(t, cap, "a NOTIFY SET");
	for (size_t g = 0; g < ngroups; g++) {
		n += (size_t)snprintf(t + n, cap - n, " (mailboxes (");
		for (size_t i = 0; i < nnames; i++)
			n += (size_t)snprintf(t + n, cap - n, "%sm%zu", i ? " " : "", i);
		n += (size_t)snprintf(t + n, cap - n, ") (MessageNew))");
	}
	snprintf(t + n, cap - n, "%s\r\n", tail);
	return t;
}

static void test_limits(void **state)
{
	(void)state;
	char *t = build(IMAP_NOTIFY_MAX_GROUPS, 1, "");
	assert_int_equal(parse(t), IMAP_PARSE_OK);
	assert_int_equal(C.notify_ngroups, IMAP_NOTIFY_MAX_GROUPS);
	free(t);
	t = build(IMAP_NOTIFY_MAX_GROUPS + 1, 1, "");
	assert_int_equal(parse(t), IMAP_PARSE_NO);
	assert_non_null(strstr(E, "[LIMIT]"));
	free(t);
	t = build(1, IMAP_NOTIFY_MAX_NAMES, "");
	assert_int_equal(parse(t), IMAP_PARSE_OK);
	assert_int_equal(C.notify_groups[0].nmailboxes, IMAP_NOTIFY_MAX_NAMES);
	free(t);
	t = build(2, IMAP_NOTIFY_MAX_NAMES / 2 + 1, "");
	assert_int_equal(parse(t), IMAP_PARSE_NO);
	assert_non_null(strstr(E, "[LIMIT]"));
	free(t);
	/* past a limit the rest is still parsed: a syntax error there is BAD */
	t = build(IMAP_NOTIFY_MAX_GROUPS + 5, 2, " (personal");
	assert_int_equal(parse(t), IMAP_PARSE_BAD);
	free(t);
	t = build(IMAP_NOTIFY_MAX_GROUPS + 5, 2, " (personal (AnnotationChange))");
	assert_int_equal(parse(t), IMAP_PARSE_NO);
	free(t);
}

/* No proper prefix of a good command (cut before its line end) crashes or leaks. */
static void test_prefixes(void **state)
{
	(void)state;
	const char *good[] = {
		"a NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge "
		"FlagChange)) (subtree (Lists \"a b\") (MessageNew MessageExpunge)) (personal (MailboxName))\r\n",
		"a NOTIFY SET (selected-delayed NONE) (mailboxes INBOX (MessageNew)) (subscribed (SubscriptionChange))\r\n",
	};
	for (size_t g = 0; g < sizeof good / sizeof *good; g++)
		parse_each_prefix(good[g]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_and_set),
		cmocka_unit_test(test_badevent),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_prefixes),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	imap_cmd_free(&C);
	return rc;
}
