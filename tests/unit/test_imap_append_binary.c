/*
 * test_imap_append_binary.c — NUL octets of a literal8 APPEND moved into
 * base64 bodies (src/imap/append_binary.c): which parts are converted,
 * the header rewrite, and the cases that cannot be converted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "imap/append_binary.h"

static enum imap_binconv conv(const char *msg, size_t len, struct buf *out)
{
	buf_reset(out);
	return imap_append_binary_convert(msg, len, out);
}

#define LIT(s) s, sizeof s - 1

static void test_convert(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(conv(LIT("Subject: x\r\n\r\nno nul\r\n"), &b), IMAP_BINCONV_NONE);
	assert_int_equal(b.len, 0);

	/* a single-part message: its CTE field replaced */
	assert_int_equal(conv(LIT("Subject: x\r\nContent-Transfer-Encoding: binary\r\nX: y\r\n\r\n\0-\xe4\r\n"), &b),
			 IMAP_BINCONV_DONE);
	assert_string_equal(b.data, "Subject: x\r\nX: y\r\nContent-Transfer-Encoding: base64\r\n\r\nAC3kDQo=\r\n");
	/* no CTE field at all, a folded one, bare LF */
	assert_int_equal(conv(LIT("Subject: x\n\n\0\n"), &b), IMAP_BINCONV_DONE);
	assert_string_equal(b.data, "Subject: x\nContent-Transfer-Encoding: base64\r\n\nAAo=\r\n");
	assert_int_equal(conv(LIT("Content-Transfer-Encoding:\r\n 8bit\r\nA: b\r\n\r\n\0"), &b), IMAP_BINCONV_DONE);
	assert_string_equal(b.data, "A: b\r\nContent-Transfer-Encoding: base64\r\n\r\nAA==\r\n");

	/* multipart: only the part with NUL; the boundary keeps its line break */
	const char mp[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n--b\r\n"
			  "Content-Type: application/octet-stream\r\n\r\n\0\0\0\r\n--b--\r\n";
	assert_int_equal(conv(mp, sizeof mp - 1, &b), IMAP_BINCONV_DONE);
	assert_string_equal(b.data, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n--b\r\n"
				    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
				    "AAAA\r\n--b--\r\n");

	/* long bodies: 76-character lines */
	char big[200 + 20];
	memcpy(big, "A: b\r\n\r\n", 8);
	memset(big + 8, 0, 200);
	assert_int_equal(conv(big, 208, &b), IMAP_BINCONV_DONE);
	const char *body = strstr(b.data, "\r\n\r\n") + 4;
	assert_int_equal(strcspn(body, "\r"), 76);

	/* where no encoding can go */
	assert_int_equal(conv(LIT("Subject: \0x\r\n\r\nbody\r\n"), &b), IMAP_BINCONV_IMPOSSIBLE);
	assert_int_equal(b.len, 0);
	assert_int_equal(conv(LIT("Content-Transfer-Encoding: base64\r\n\r\nAA\0AA\r\n"), &b), IMAP_BINCONV_IMPOSSIBLE);
	const char pre[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\0amble\r\n--b\r\n\r\nx\r\n--b--\r\n";
	assert_int_equal(conv(pre, sizeof pre - 1, &b), IMAP_BINCONV_IMPOSSIBLE);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_convert),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
