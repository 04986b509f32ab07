/*
 * test_mail_binary.c — mail_binary_entity (mail/binary.h): the leaves of an
 * entity decoded in place and relabelled, everything else copied, and
 * what cannot be decoded refused (a leaf) or left alone (inside).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "mail/binary.h"

static void convert(const char *in, bool want_ok, const char *want, size_t want_body)
{
	struct buf out = BUF_INIT;
	buf_puts(&out, "kept");         /* appended to, not replaced */
	size_t body = 99;
	bool ok = mail_binary_entity(in, strlen(in), &out, &body);
	assert_int_equal(ok, want_ok);
	if (!ok) {
		assert_int_equal(out.len, 4);
	} else {
		assert_int_equal(out.len, 4 + strlen(want));
		assert_memory_equal(out.data + 4, want, strlen(want));
		assert_int_equal(body, want_body);
	}
	buf_free(&out);
}

static void test_leaf(void **state)
{
	(void)state;
	const char *hdr = "Content-Type: text/plain\r\nContent-Transfer-Encoding:  BASE64 \r\n\r\n";
	char in[256], want[256];
	snprintf(in, sizeof in, "%saGVsbG8g\r\nd29ybGQ=\r\n", hdr);
	const char *newhdr = "Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n";
	snprintf(want, sizeof want, "%shello world", newhdr);
	convert(in, true, want, strlen(newhdr));
	/* quoted-printable, soft line breaks and all */
	convert("Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc\r\n", true,
		"Content-Transfer-Encoding: binary\r\n\r\na=bc\r\n", strlen("Content-Transfer-Encoding: binary\r\n\r\n"));
	/* identity encodings and none: unchanged */
	convert("Content-Type: text/plain\r\n\r\nplain\r\n", true, "Content-Type: text/plain\r\n\r\nplain\r\n", 28);
	convert("Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9\r\n", true,
		"Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9\r\n", 35);
	/* an encoding that cannot be undone: refused, out untouched */
	convert("Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n", false, NULL, 0);
}

static void test_container(void **state)
{
	(void)state;
	const char *in =
		"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n"
		"--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAE=\r\n"
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nx=41\r\n"
		"--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
		"--b--\r\npost\r\n";
	static const char want[] =
		"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n"
		"--b\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\r\n"
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n"
		"Content-Transfer-Encoding: binary\r\n\r\nxA\r\n"
		"--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
		"--b--\r\npost\r\n";
	struct buf out = BUF_INIT;
	size_t body = 0;
	assert_true(mail_binary_entity(in, strlen(in), &out, &body));
	assert_int_equal(out.len, sizeof want - 1);
	assert_memory_equal(out.data, want, sizeof want - 1);
	assert_int_equal(body, strlen("Content-Type: multipart/mixed; boundary=b\r\n\r\n"));
	buf_free(&out);
	/* empty input: an empty entity */
	assert_true(mail_binary_entity("", 0, &out, &body));
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf),
		cmocka_unit_test(test_container),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
