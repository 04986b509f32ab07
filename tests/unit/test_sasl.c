/*
 * test_sasl.c — unit tests for src/auth/sasl.c: PLAIN (RFC 4616) and LOGIN
 * state machines, fed byte-exact client input, including every malformed
 * shape a client can send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "lib/base64.h"
#include "lib/buf.h"

/* Base64 of n raw bytes, as a client would send it (caller frees). */
static char *b64(const char *raw, size_t n)
{
	struct buf b = BUF_INIT;
	base64_encode(&b, raw, n);
	return buf_steal(&b);
}

/* One step with raw (unencoded) client bytes. */
static enum sasl_result step_raw(struct sasl *s, const char *raw, size_t n, struct buf *ch)
{
	char *enc = b64(raw, n);
	enum sasl_result r = sasl_step(s, enc, strlen(enc), ch);
	free(enc);
	return r;
}

static struct sasl *plain(void)
{
	struct sasl *s = sasl_new("PLAIN", 5);
	assert_non_null(s);
	return s;
}

static struct sasl *login(void)
{
	struct sasl *s = sasl_new("LOGIN", 5);
	assert_non_null(s);
	return s;
}

/* PLAIN message that must be rejected as the initial response. */
static void assert_plain_bad(const char *raw, size_t n)
{
	struct sasl *s = plain();
	struct buf ch = BUF_INIT;
	assert_int_equal(step_raw(s, raw, n, &ch), SASL_BAD);
	assert_string_equal(sasl_authcid(s), "");
	assert_int_equal(sasl_password_len(s), 0);
	/* and nothing more is accepted after a failure */
	assert_int_equal(step_raw(s, "\0u\0p", 4, &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_mechanism_names(void **state)
{
	(void)state;
	struct sasl *s;
	const char *names[] = { "PLAIN", "plain", "Plain", "LOGIN", "login", "lOgIn" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		s = sasl_new(names[i], strlen(names[i]));
		assert_non_null(s);
		sasl_free(&s);
		assert_null(s);
	}
	/* the length is the truth, not a NUL */
	s = sasl_new("PLAINjunk", 5);
	assert_non_null(s);
	sasl_free(&s);
	assert_null(sasl_new("PLAIN", 4));
	assert_null(sasl_new("PLAIN\0", 6));
	assert_null(sasl_new("PLAINX", 6));
	assert_null(sasl_new("CRAM-MD5", 8));
	assert_null(sasl_new("XOAUTH2", 7));
	assert_null(sasl_new("", 0));
	assert_null(sasl_new(NULL, 0));
	sasl_free(NULL);
	sasl_free(&s);
	assert_string_equal(SASL_MECHANISMS, "PLAIN LOGIN");
}

static void test_plain_initial_response(void **state)
{
	(void)state;
	/* RFC 4616 section 4, example: "\0tim\0tanstaaftanstaaf" */
	struct sasl *s = plain();
	struct buf ch = BUF_INIT;
	const char *in = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";
	assert_int_equal(sasl_step(s, in, strlen(in), &ch), SASL_DONE);
	assert_string_equal(sasl_authzid(s), "");
	assert_string_equal(sasl_authcid(s), "tim");
	assert_int_equal(sasl_password_len(s), 16);
	assert_memory_equal(sasl_password(s), "tanstaaftanstaaf", 16);
	/* a step after DONE is an error */
	assert_int_equal(sasl_step(s, in, strlen(in), &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_plain_with_authzid(void **state)
{
	(void)state;
	/* RFC 4616 section 4: "Ursel\0Kurt\0xipj3plmq" */
	struct sasl *s = plain();
	struct buf ch = BUF_INIT;
	const char *in = "VXJzZWwAS3VydAB4aXBqM3BsbXE=";
	assert_int_equal(sasl_step(s, in, strlen(in), &ch), SASL_DONE);
	assert_string_equal(sasl_authzid(s), "Ursel");
	assert_string_equal(sasl_authcid(s), "Kurt");
	assert_int_equal(sasl_password_len(s), 9);
	assert_string_equal(sasl_password(s), "xipj3plmq");
	sasl_free(&s);
	buf_free(&ch);
}

static void test_plain_without_initial_response(void **state)
{
	(void)state;
	struct sasl *s = plain();
	struct buf ch = BUF_INIT;
	buf_puts(&ch, "stale");
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	/* the empty challenge: the protocol sends "334 " / "+ " */
	assert_int_equal(ch.len, 0);
	assert_int_equal(step_raw(s, "\0user@example.org\0p\xc3\xa4ss", 23, &ch), SASL_DONE);
	assert_string_equal(sasl_authcid(s), "user@example.org");
	assert_int_equal(sasl_password_len(s), 5);
	assert_memory_equal(sasl_password(s), "p\xc3\xa4ss", 5);
	sasl_free(&s);

	/* after the empty challenge, an empty line is an empty response: malformed */
	s = plain();
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, "", 0, &ch), SASL_BAD);
	sasl_free(&s);

	/* "=" only stands for an empty initial response, not a continuation */
	s = plain();
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, "=", 1, &ch), SASL_BAD);
	sasl_free(&s);

	/* NULL is only valid as the (absent) initial response */
	s = plain();
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_plain_empty_initial_response(void **state)
{
	(void)state;
	struct sasl *s = plain();
	struct buf ch = BUF_INIT;
	/* "=": an empty PLAIN message has no fields */
	assert_int_equal(sasl_step(s, "=", 1, &ch), SASL_BAD);
	sasl_free(&s);
	s = plain();
	assert_int_equal(sasl_step(s, "", 0, &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_plain_fields(void **state)
{
	(void)state;
	/* empty authcid, empty password, both */
	assert_plain_bad("\0\0secret", 8);
	assert_plain_bad("\0user\0", 6);
	assert_plain_bad("\0\0", 2);
	assert_plain_bad("authz\0\0", 7);
	/* missing NULs */
	assert_plain_bad("usersecret", 10);
	assert_plain_bad("user\0secret", 11);
	assert_plain_bad("\0", 1);
	/* a NUL inside the password */
	assert_plain_bad("\0user\0sec\0ret", 13);
	assert_plain_bad("\0user\0secret\0", 13);
	/* invalid UTF-8 in each field */
	assert_plain_bad("\xff\0user\0secret", 13);
	assert_plain_bad("\0us\xc3\0secret", 11);
	assert_plain_bad("\0user\0sec\xed\xa0\x80", 12);   /* surrogate */
	assert_plain_bad("\0user\0\xc0\xafxx", 10);        /* overlong */
}

static void test_plain_field_lengths(void **state)
{
	(void)state;
	char raw[3 * 256 + 2];
	struct buf ch = BUF_INIT;

	/* 255 octets in each field: the most RFC 4616 obliges us to take */
	memset(raw, 'z', 255);
	raw[255] = '\0';
	memset(raw + 256, 'c', 255);
	raw[511] = '\0';
	memset(raw + 512, 'p', 255);
	struct sasl *s = plain();
	assert_int_equal(step_raw(s, raw, 767, &ch), SASL_DONE);
	assert_int_equal(strlen(sasl_authzid(s)), 255);
	assert_int_equal(strlen(sasl_authcid(s)), 255);
	assert_int_equal(sasl_password_len(s), 255);
	assert_int_equal(strlen(sasl_password(s)), 255);
	sasl_free(&s);

	/* 256 in any one field is too long */
	char r2[600];
	memset(r2, 'a', sizeof r2);
	r2[256] = '\0';
	r2[258] = '\0';
	assert_plain_bad(r2, 260);               /* authzid 256 */
	r2[0] = '\0';
	r2[256] = 'a';
	r2[257] = '\0';
	assert_plain_bad(r2, 260);               /* authcid 256 */
	r2[257] = 'a';
	r2[0] = '\0';
	r2[2] = '\0';
	assert_plain_bad(r2, 3 + 256);           /* password 256 */
	buf_free(&ch);
}

static void test_plain_password_255(void **state)
{
	(void)state;
	char raw[3 + 255];
	struct buf ch = BUF_INIT;
	memset(raw, 'q', sizeof raw);
	raw[0] = '\0';
	raw[2] = '\0';
	struct sasl *s = plain();
	assert_int_equal(step_raw(s, raw, sizeof raw, &ch), SASL_DONE);
	assert_string_equal(sasl_authcid(s), "q");
	assert_int_equal(sasl_password_len(s), 255);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_bad_base64(void **state)
{
	(void)state;
	/* "\0u\0p" = "AHUAcA==" */
	const char *bad[] = {
		"AHUAcA",        /* padding missing */
		"AHUAcA=",       /* short padding */
		"AHUAcA===",
		"AHUA cA==",     /* whitespace */
		"AHUAcA==\r",
		"AHU!cA==",      /* outside the alphabet */
		"AH=AcA==",      /* padding inside */
		"=AHUAcA=",
		"AHUAcA==AAAA",  /* data after padding */
		"*",
		"-_-_",          /* base64url is not base64 */
	};
	struct buf ch = BUF_INIT;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sasl *s = plain();
		assert_int_equal(sasl_step(s, bad[i], strlen(bad[i]), &ch), SASL_BAD);
		sasl_free(&s);
		s = login();
		assert_int_equal(sasl_step(s, bad[i], strlen(bad[i]), &ch), SASL_BAD);
		sasl_free(&s);
	}
	/* the good one, to show the table above is not failing for another reason */
	struct sasl *s = plain();
	assert_int_equal(sasl_step(s, "AHUAcA==", 8, &ch), SASL_DONE);
	assert_string_equal(sasl_password(s), "p");
	sasl_free(&s);
	/* a NUL byte inside the encoded line */
	s = plain();
	assert_int_equal(sasl_step(s, "AHUA\0A==", 8, &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_too_long(void **state)
{
	(void)state;
	struct buf ch = BUF_INIT;
	/* valid base64 of 3075 bytes = 4100 characters */
	char *raw = calloc(1, 3075);
	assert_non_null(raw);
	memset(raw + 2, 'x', 3073);
	raw[1] = 'u';
	raw[2] = '\0';
	char *enc = b64(raw, 3075);
	assert_int_equal(strlen(enc), 4100);
	struct sasl *s = plain();
	assert_int_equal(sasl_step(s, enc, strlen(enc), &ch), SASL_BAD);
	sasl_free(&s);
	s = login();
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, enc, strlen(enc), &ch), SASL_BAD);
	sasl_free(&s);

	/* exactly SASL_MAX_INPUT is decoded (and then rejected for the 255 limit) */
	char *at_max = b64(raw, 3072);
	assert_int_equal(strlen(at_max), SASL_MAX_INPUT);
	s = login();
	assert_int_equal(sasl_step(s, at_max, SASL_MAX_INPUT, &ch), SASL_BAD);
	sasl_free(&s);
	free(at_max);
	free(enc);
	free(raw);
	buf_free(&ch);
}

static void test_login_two_step(void **state)
{
	(void)state;
	struct sasl *s = login();
	struct buf ch = BUF_INIT;
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	assert_string_equal(buf_cstr(&ch), "VXNlcm5hbWU6");      /* "Username:" */
	assert_int_equal(sasl_step(s, "dXNlckBleGFtcGxlLm9yZw==", 24, &ch), SASL_CHALLENGE);
	assert_string_equal(buf_cstr(&ch), "UGFzc3dvcmQ6");      /* "Password:" */
	assert_string_equal(sasl_authcid(s), "");                /* not before DONE */
	assert_int_equal(sasl_step(s, "c2VjcmV0", 8, &ch), SASL_DONE);
	assert_string_equal(sasl_authzid(s), "");
	assert_string_equal(sasl_authcid(s), "user@example.org");
	assert_int_equal(sasl_password_len(s), 6);
	assert_string_equal(sasl_password(s), "secret");
	assert_int_equal(sasl_step(s, "c2VjcmV0", 8, &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_login_initial_response(void **state)
{
	(void)state;
	struct sasl *s = login();
	struct buf ch = BUF_INIT;
	assert_int_equal(sasl_step(s, "dXNlckBleGFtcGxlLm9yZw==", 24, &ch), SASL_CHALLENGE);
	assert_string_equal(buf_cstr(&ch), "UGFzc3dvcmQ6");
	/* a Latin-1 password is taken as is: LOGIN has no charset rule */
	assert_int_equal(step_raw(s, "p\xe4ss", 4, &ch), SASL_DONE);
	assert_string_equal(sasl_authcid(s), "user@example.org");
	assert_int_equal(sasl_password_len(s), 4);
	assert_memory_equal(sasl_password(s), "p\xe4ss", 4);
	sasl_free(&s);

	/* "=" is an empty user name */
	s = login();
	assert_int_equal(sasl_step(s, "=", 1, &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_login_bad(void **state)
{
	(void)state;
	struct buf ch = BUF_INIT;
	struct sasl *s;

	/* empty user name on the continuation line */
	s = login();
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, "", 0, &ch), SASL_BAD);
	sasl_free(&s);

	/* user name with NUL, invalid UTF-8, 256 octets */
	const struct { const char *p; size_t n; } users[] = {
		{ "us\0er", 5 }, { "us\xff" "er", 5 },
	};
	for (size_t i = 0; i < 2; i++) {
		s = login();
		assert_int_equal(step_raw(s, users[i].p, users[i].n, &ch), SASL_BAD);
		sasl_free(&s);
	}
	char longname[256];
	memset(longname, 'n', sizeof longname);
	s = login();
	assert_int_equal(step_raw(s, longname, 256, &ch), SASL_BAD);
	sasl_free(&s);
	s = login();
	assert_int_equal(step_raw(s, longname, 255, &ch), SASL_CHALLENGE);
	/* password: empty, NUL inside, 256 octets */
	assert_int_equal(sasl_step(s, "", 0, &ch), SASL_BAD);
	sasl_free(&s);
	s = login();
	assert_int_equal(step_raw(s, "u", 1, &ch), SASL_CHALLENGE);
	assert_int_equal(step_raw(s, "pa\0ss", 5, &ch), SASL_BAD);
	assert_int_equal(sasl_password_len(s), 0);
	sasl_free(&s);
	s = login();
	assert_int_equal(step_raw(s, "u", 1, &ch), SASL_CHALLENGE);
	assert_int_equal(step_raw(s, longname, 256, &ch), SASL_BAD);
	sasl_free(&s);
	s = login();
	assert_int_equal(step_raw(s, "u", 1, &ch), SASL_CHALLENGE);
	assert_int_equal(step_raw(s, longname, 255, &ch), SASL_DONE);
	assert_int_equal(sasl_password_len(s), 255);
	sasl_free(&s);

	/* "=" is not an empty password: only an initial response may be "=" */
	s = login();
	assert_int_equal(step_raw(s, "u", 1, &ch), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, "=", 1, &ch), SASL_BAD);
	sasl_free(&s);

	/* no response where one is due */
	s = login();
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, NULL, 0, &ch), SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
}

static void test_null_challenge_buffer(void **state)
{
	(void)state;
	struct sasl *s = login();
	assert_int_equal(sasl_step(s, NULL, 0, NULL), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, "dQ==", 4, NULL), SASL_CHALLENGE);
	assert_int_equal(sasl_step(s, "cA==", 4, NULL), SASL_DONE);
	assert_string_equal(sasl_authcid(s), "u");
	sasl_free(&s);
	assert_int_equal(sasl_step(NULL, "cA==", 4, NULL), SASL_BAD);
	assert_string_equal(sasl_authcid(NULL), "");
	assert_int_equal(sasl_password_len(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechanism_names),
		cmocka_unit_test(test_plain_initial_response),
		cmocka_unit_test(test_plain_with_authzid),
		cmocka_unit_test(test_plain_without_initial_response),
		cmocka_unit_test(test_plain_empty_initial_response),
		cmocka_unit_test(test_plain_fields),
		cmocka_unit_test(test_plain_field_lengths),
		cmocka_unit_test(test_plain_password_255),
		cmocka_unit_test(test_bad_base64),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_login_two_step),
		cmocka_unit_test(test_login_initial_response),
		cmocka_unit_test(test_login_bad),
		cmocka_unit_test(test_null_challenge_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
