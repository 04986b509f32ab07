/*
 * test_imap_url.c — the IMAP URL parser (src/imap/imapurl.c, RFC 5092):
 * the forms CATENATE takes, percent-decoding, and every refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "imap/imapurl.h"

static struct imap_url U;
static const char *E;

static bool parse(const char *s)
{
	imap_url_free(&U);
	E = NULL;
	return imap_url_parse(s, strlen(s), &U, &E);
}

static void test_forms(void **state)
{
	(void)state;
	assert_true(parse("/INBOX/;uid=3"));
	assert_string_equal(U.mailbox, "INBOX");
	assert_int_equal(U.uid, 3);
	assert_int_equal(U.uidvalidity, 0);
	assert_null(U.section);
	assert_false(U.partial);
	assert_null(U.host);

	assert_true(parse("/Sent%20Items/2024;UIDVALIDITY=1234/;UID=20/;SECTION=1.2.MIME/;PARTIAL=10.20"));
	assert_string_equal(U.mailbox, "Sent Items/2024");
	assert_int_equal(U.uidvalidity, 1234);
	assert_int_equal(U.uid, 20);
	assert_string_equal(U.section, "1.2.MIME");
	assert_true(U.partial);
	assert_true(U.offset == 10 && U.length == 20);

	assert_true(parse("/a/b/;UID=1/;PARTIAL=7"));
	assert_string_equal(U.mailbox, "a/b");
	assert_true(U.offset == 7 && U.length == UINT64_MAX);

	assert_true(parse("imap://joe%40example.org;AUTH=*@Mail.Example.org:143/INBOX/;uid=1/;section=HEADER.FIELDS%20(FROM)"));
	assert_string_equal(U.user, "joe@example.org");
	assert_string_equal(U.host, "Mail.Example.org");
	assert_string_equal(U.section, "HEADER.FIELDS (FROM)");
	assert_true(parse("imap://[::1]/INBOX/;UID=1"));
	assert_string_equal(U.host, "[::1]");

	assert_true(parse(";UID=5/;SECTION=TEXT"));
	assert_null(U.mailbox);
	assert_int_equal(U.uid, 5);
	assert_string_equal(U.section, "TEXT");
	/* URLAUTH (RFC 4467): the rump ends with the access identifier */
	const char *ua = "imap://joe@example.org/INBOX/;uid=7/;section=1;expire=2030-01-02T03:04:05+01:00"
			 ";urlauth=user+joe@example.org:internal:0123456789abcdef0123456789ABCDEF01234567";
	assert_true(parse(ua));
	assert_true(U.urlauth && U.expire);
	assert_true(U.expire_time == 1893549845);    /* 2030-01-02T02:04:05Z */
	assert_string_equal(U.access, "user+joe@example.org");
	assert_string_equal(U.mech, "internal");
	assert_string_equal(U.token, "0123456789abcdef0123456789ABCDEF01234567");
	assert_int_equal(U.rump_len, strstr(ua, ":internal:") - ua);
	assert_true(parse("imap://h/INBOX/;UID=1;URLAUTH=anonymous"));
	assert_string_equal(U.access, "anonymous");
	assert_null(U.mech);
	assert_int_equal(U.rump_len, strlen("imap://h/INBOX/;UID=1;URLAUTH=anonymous"));
	assert_true(parse("imap://h/INBOX/;UID=1;URLAUTH=submit+fred"));
	assert_string_equal(U.access, "submit+fred");
	assert_false(parse("imap://h/INBOX/;UID=1;URLAUTH=nobody"));
	assert_false(parse("imap://h/INBOX/;UID=1;URLAUTH=anonymous:internal:0123"));
	assert_false(parse("imap://h/INBOX/;UID=1;URLAUTH=anonymous:internal"));
	assert_false(parse("imap://h/INBOX/;UID=1;EXPIRE=2030-01-02T03:04:05Z"));      /* EXPIRE needs URLAUTH */
	assert_false(parse("imap://h/INBOX/;UID=1;EXPIRE=2030-13-02T03:04:05Z;URLAUTH=anonymous"));
	assert_false(parse("imap://h/INBOX/;UID=1;URLAUTH=user+"));
	/* mailbox names in UTF-8, percent-encoded */
	assert_true(parse("/Entw%C3%BCrfe/;UID=2"));
	assert_string_equal(U.mailbox, "Entw\xc3\xbcrfe");
	imap_url_free(&U);
}

static void test_refusals(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "INBOX/;UID=1", "//host/INBOX/;UID=1", "/INBOX", "/INBOX/", "/INBOX/;UID=", "/INBOX/;UID=0",
		"/INBOX/;UID=4294967296", "/INBOX/;UID=1x", "/INBOX;UIDVALIDITY=0/;UID=1", "/INBOX;UIDVALIDITY=5;UID=1",
		"/IN%zzBOX/;UID=1", "/IN%4/;UID=1", "/IN%00/;UID=1", "/IN%0a/;UID=1", "/IN BOX/;UID=1",
		"/IN\x80/;UID=1", "/INBOX/;UID=1/;SECTION=", "/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;PARTIAL=",
		"/INBOX/;UID=1/;PARTIAL=99999999999999999999", "/INBOX/;UID=1;URLAUTH=anonymous:internal:00",
		"/INBOX/;UID=1/;EXPIRE=2030-01-01T00:00:00Z", "/INBOX/;UID=1 ", "/INBOX/;UID=1/", "imap://", "imap:///INBOX/;UID=1",
		"imap://host", "imap://host:99999/INBOX/;UID=1", "imap://user;X=1@host/INBOX/;UID=1", "imap://[::1/INBOX/;UID=1",
		"http://host/INBOX/;UID=1", ";UID=1/;SECTION=1 2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (parse(bad[i]))
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(E);
		assert_null(U.mailbox);
	}
	/* length limits */
	char longurl[IMAP_URL_MAX + 16];
	memset(longurl, 'a', sizeof longurl);
	memcpy(longurl, "/", 1);
	memcpy(longurl + IMAP_URL_MAX - 7, "/;UID=1", 8);
	assert_true(imap_url_parse(longurl, strlen(longurl), &U, &E) == false);  /* a 1024-octet mailbox at most */
	char sec[IMAP_URL_SECTION_MAX + 64];
	strcpy(sec, "/INBOX/;UID=1/;SECTION=");
	size_t n = strlen(sec);
	memset(sec + n, '1', IMAP_URL_SECTION_MAX + 1);
	sec[n + IMAP_URL_SECTION_MAX + 1] = '\0';
	assert_false(parse(sec));
	assert_string_equal(E, "URL component too long");
	sec[n + IMAP_URL_SECTION_MAX] = '\0';
	assert_true(parse(sec));
	/* never reads past the length given */
	imap_url_free(&U);
	assert_false(imap_url_parse("/INBOX/;UID=12", 12, &U, &E));
	assert_true(imap_url_parse("/INBOX/;UID=12", 13, &U, &E));
	assert_int_equal(U.uid, 1);
	imap_url_free(&U);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
