/*
 * test_mta_downgrade.c — unit tests of src/mta/downgrade.c, the 7-bit
 * downgrade for peers without 8BITMIME: the quoted-printable encoder's
 * rules (line length, soft breaks, trailing white space, "=", a leading
 * "-"), which parts are re-encoded, relabelled or left alone (base64,
 * multipart, message/rfc822, message/global, message/partial), the fields
 * added, and hostile MIME (missing boundaries, a huge line, deep nesting).
 * Every conversion is also checked to be bounded, 7-bit where it says so,
 * and a fixed point (converting the output again changes nothing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/cte.h"
#include "mail/mime.h"
#include "mta/body.h"
#include "mta/downgrade.h"

static bool any_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80 || p[i] == '\0')
			return true;
	return false;
}

/* Every line of p[0..n) (CRLF-separated) at most max octets. */
static void assert_lines_max(const char *p, size_t n, size_t max)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			assert_true(i > 0 && p[i - 1] == '\r');
			col = 0;
		} else if (p[i] != '\r' || i + 1 >= n || p[i + 1] != '\n') {
			col++;
			if (col > max)
				fail_msg("line longer than %zu at offset %zu", max, i);
		}
	}
}

/* Convert, with the checks every conversion must pass; returns the result, output in *out. */
static struct mta_downgrade_result convert(const char *msg, size_t len, struct buf *out)
{
	struct mta_downgrade_result res;
	buf_reset(out);
	bool changed = mta_downgrade(msg, len, out, &res);
	assert_int_equal(changed, res.changed);
	assert_true(out->len <= MTA_DOWNGRADE_MAX(len, res.nparts));
	if (!changed) {
		assert_int_equal(out->len, len);
		assert_true(len == 0 || memcmp(out->data, msg, len) == 0);
	}
	if (!res.header_8bit && !res.residual_8bit && !res.too_deep)
		assert_false(any_8bit(out->data ? out->data : "", out->len));
	/* A fixed point: the output needs nothing more. */
	struct buf again = BUF_INIT;
	struct mta_downgrade_result res2;
	assert_false(mta_downgrade(out->data ? out->data : "", out->len, &again, &res2));
	buf_free(&again);
	return res;
}

static void expect_conversion(const char *in, const char *want)
{
	struct buf out = BUF_INIT;
	convert(in, strlen(in), &out);
	if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		fail_msg("got:\n%s\nwant:\n%s", buf_cstr(&out), want);
	buf_free(&out);
}

static void qp(const char *in, size_t n, struct buf *out)
{
	buf_reset(out);
	mta_qp_encode(in, n, out);
	assert_true(out->len <= MTA_QP_MAX(n));
	assert_false(any_8bit(out->data ? out->data : "", out->len));
	assert_lines_max(out->data ? out->data : "", out->len, MTA_QP_LINE_MAX);
}

/* in encodes to want, and decodes back to in (bare LFs as CRLF). */
static void expect_qp(const char *in, const char *want)
{
	struct buf out = BUF_INIT, dec = BUF_INIT, norm = BUF_INIT;
	size_t n = strlen(in);
	qp(in, n, &out);
	assert_string_equal(buf_cstr(&out), want);
	mail_qp_decode(out.data ? out.data : "", out.len, &dec);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			buf_putc(&norm, '\r');
		buf_putc(&norm, in[i]);
	}
	assert_int_equal(dec.len, norm.len);
	assert_true(norm.len == 0 || memcmp(dec.data, norm.data, norm.len) == 0);
	buf_free(&out);
	buf_free(&dec);
	buf_free(&norm);
}

static void test_qp_rules(void **state)
{
	expect_qp("", "");
	expect_qp("plain text\r\n", "plain text\r\n");
	expect_qp("Gr\xc3\xbc\xc3\x9f" "e\r\n", "Gr=C3=BC=C3=9Fe\r\n");
	expect_qp("a=b\r\n", "a=3Db\r\n");
	/* White space at the end of a line or of the data is encoded, elsewhere not. */
	expect_qp("a b \r\nc\t\r\nd ", "a b=20\r\nc=09\r\nd=20");
	expect_qp("  \r\n", " =20\r\n");
	/* Controls, a bare CR and NUL are encoded; a bare LF is a line break. */
	expect_qp("a\rb\x01\x7f", "a=0Db=01=7F");
	struct buf out = BUF_INIT;
	qp("a\0b", 3, &out);
	assert_string_equal(buf_cstr(&out), "a=00b");
	buf_free(&out);
	expect_qp("one\ntwo\n", "one\r\ntwo\r\n");
	expect_qp("x\r\r\n", "x=0D\r\n");
	/* A "-" that starts a line never stays a "-": no line can look like a boundary. */
	expect_qp("--frontier\r\n-a-\r\n", "=2D-frontier\r\n=2Da-\r\n");
	expect_qp(".dot\r\n", ".dot\r\n");
}

static void test_qp_line_length(void **state)
{
	struct buf out = BUF_INIT, dec = BUF_INIT;
	char line[301];
	memset(line, 'a', 300);
	line[300] = '\0';
	qp(line, 300, &out);
	/* 75 octets and "=", then the rest. */
	assert_int_equal(out.data[75], '=');
	assert_int_equal(out.data[76], '\r');
	mail_qp_decode(out.data, out.len, &dec);
	assert_int_equal(dec.len, 300);

	/* A line of exactly 76 needs no soft break; 77 does. */
	qp(line, 76, &out);
	assert_int_equal(out.len, 76);
	qp(line, 77, &out);
	assert_int_equal(out.len, 75 + 3 + 2);

	/* An =XX is never split, and 8-bit octets fill lines of at most 76. */
	char eight[200];
	memset(eight, '\xe9', sizeof eight);
	qp(eight, sizeof eight, &out);
	assert_int_equal(out.data[75], '=');      /* 25 triplets, then the soft break */
	assert_int_equal(out.data[76], '\r');
	buf_reset(&dec);
	mail_qp_decode(out.data, out.len, &dec);
	assert_int_equal(dec.len, sizeof eight);
	assert_memory_equal(dec.data, eight, sizeof eight);

	/* Trailing space at column 76 is encoded, which pushes it to a line of its own. */
	char sp[78];
	memset(sp, 'b', 75);
	sp[75] = ' ';
	sp[76] = '\0';
	qp(sp, 76, &out);
	assert_string_equal(buf_cstr(&out), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=\r\n=20");

	/* A "-" after a soft break is encoded too. */
	char dash[80];
	memset(dash, 'c', 75);
	memcpy(dash + 75, "--x", 4);
	qp(dash, 78, &out);
	assert_non_null(strstr(buf_cstr(&out), "=\r\n=2D-x"));
	buf_free(&out);
	buf_free(&dec);
}

static void test_non_mime_text(void **state)
{
	expect_conversion("From: a@example.org\r\nSubject: hi\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\nbye\r\n",
			  "From: a@example.org\r\nSubject: hi\r\n"
			  "MIME-Version: 1.0\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n"
			  "\r\nGr=C3=BC=C3=9Fe\r\nbye\r\n");
	/* Not UTF-8: the charset is not claimed. */
	expect_conversion("Subject: x\r\n\r\ncaf\xe9\r\n",
			  "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n");
	/* LF-only lines. */
	expect_conversion("Subject: x\n\n\xe9\n",
			  "Subject: x\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n\n=E9\r\n");
}

static void test_single_part_mime(void **state)
{
	/* The label is replaced in place; a second label goes; Content-Type stays as written. */
	expect_conversion("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
			  "Content-Transfer-Encoding: 8bit\r\nX-A: 1\r\ncontent-transfer-encoding: binary\r\n"
			  "Subject: s\r\n\r\ncaf\xe9 \r\n",
			  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\nX-A: 1\r\n"
			  "Subject: s\r\n\r\ncaf=E9=20\r\n");
	/* A folded label. */
	expect_conversion("MIME-Version: 1.0\r\nContent-Transfer-Encoding:\r\n 8bit (raw)\r\n\r\n\xe9\r\n",
			  "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n"
			  "Content-Type: text/plain; charset=unknown-8bit\r\n\r\n=E9\r\n");
}

static const char multipart_in[] =
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Gr\xc3\xbc\xc3\x9f" "e\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAEC/w==\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"all ascii\r\n"
	"--b1--\r\n"
	"epilogue\r\n";

static void test_multipart(void **state)
{
	struct buf out = BUF_INIT;
	struct mta_downgrade_result res = convert(multipart_in, strlen(multipart_in), &out);
	assert_true(res.changed);
	assert_int_equal(res.parts_encoded, 1);
	assert_int_equal(res.parts_relabelled, 0);
	const char *want =
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		"\r\n"
		"preamble\r\n"
		"--b1\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"Gr=C3=BC=C3=9Fe\r\n"
		"--b1\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"AAEC/w==\r\n"
		"--b1\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"all ascii\r\n"
		"--b1--\r\n"
		"epilogue\r\n";
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void test_nested_multipart(void **state)
{
	const char *in =
		"Content-Type: multipart/mixed; boundary=outer\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"--outer\r\n"
		"Content-Type: multipart/alternative; boundary=inner\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"--inner\r\n"
		"\r\n"
		"\xc3\xa9t\xc3\xa9\r\n"
		"--inner\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"\r\n"
		"<p>\xc3\xa9</p>\r\n"
		"--inner--\r\n"
		"--outer\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"7-bit under an 8bit label\r\n"
		"--outer--\r\n";
	const char *want =
		"Content-Type: multipart/mixed; boundary=outer\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"MIME-Version: 1.0\r\n"
		"\r\n"
		"--outer\r\n"
		"Content-Type: multipart/alternative; boundary=inner\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"--inner\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"=C3=A9t=C3=A9\r\n"
		"--inner\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"<p>=C3=A9</p>\r\n"
		"--inner--\r\n"
		"--outer\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"7-bit under an 8bit label\r\n"
		"--outer--\r\n";
	struct buf out = BUF_INIT;
	struct mta_downgrade_result res = convert(in, strlen(in), &out);
	assert_string_equal(buf_cstr(&out), want);
	assert_int_equal(res.parts_encoded, 2);
	assert_int_equal(res.parts_relabelled, 2);
	buf_free(&out);
}

static void test_message_rfc822(void **state)
{
	const char *in =
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"xx\"\r\n"
		"\r\n"
		"--xx\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"From: inner@example.org\r\n"
		"Subject: inner\r\n"
		"\r\n"
		"\xc3\xbc\r\n"
		"--xx--\r\n";
	const char *want =
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"xx\"\r\n"
		"\r\n"
		"--xx\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"From: inner@example.org\r\n"
		"Subject: inner\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"=C3=BC\r\n"
		"--xx--\r\n";
	expect_conversion(in, want);

	/* 8-bit in the embedded message's header stays (and is reported). */
	const char *hdr8 =
		"Content-Type: message/rfc822\r\n\r\nSubject: \xc3\xbc\r\n\r\nplain\r\n";
	struct buf out = BUF_INIT;
	struct mta_downgrade_result res = convert(hdr8, strlen(hdr8), &out);
	assert_false(res.changed);
	assert_true(res.header_8bit);

	/* message/global may be encoded, as a whole. */
	const char *global =
		"MIME-Version: 1.0\r\nContent-Type: message/global\r\n\r\nSubject: \xc3\xbc\r\n\r\n\xc3\xbc\r\n";
	res = convert(global, strlen(global), &out);
	assert_true(res.changed);
	assert_false(res.header_8bit);
	assert_string_equal(buf_cstr(&out), "MIME-Version: 1.0\r\nContent-Type: message/global\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n\r\nSubject: =C3=BC\r\n\r\n=C3=BC\r\n");

	/* message/partial may not: left, reported. */
	const char *partial =
		"MIME-Version: 1.0\r\nContent-Type: message/partial; id=\"x\"; number=1\r\n\r\n\xc3\xbc\r\n";
	res = convert(partial, strlen(partial), &out);
	assert_false(res.changed);
	assert_true(res.residual_8bit);
	buf_free(&out);
}

static void test_seven_bit_unchanged(void **state)
{
	struct buf out = BUF_INIT;
	struct mta_downgrade_result res = convert(multipart_in + 0, 0, &out);
	assert_false(res.changed);
	const char *plain = "From: a@example.org\r\nSubject: hi\r\n\r\njust ascii\r\n.\r\nend";
	res = convert(plain, strlen(plain), &out);
	assert_false(res.changed);
	assert_int_equal(out.len, strlen(plain));
	assert_memory_equal(out.data, plain, out.len);
	/* An 8bit label over 7-bit data: the data is fine as it is. */
	const char *label = "MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\nascii\r\n";
	res = convert(label, strlen(label), &out);
	assert_false(res.changed);
	/* 8-bit only in the top-level header: left, reported. */
	const char *h8 = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nascii\r\n";
	res = convert(h8, strlen(h8), &out);
	assert_false(res.changed);
	assert_true(res.header_8bit);
	assert_memory_equal(out.data, h8, strlen(h8));
	/* Base64 / quoted-printable parts holding 8-bit octets (broken) are left. */
	const char *b64 = "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n\xff\xfe\r\n";
	res = convert(b64, strlen(b64), &out);
	assert_false(res.changed);
	assert_true(res.residual_8bit);
	buf_free(&out);
}

/* The DATA encoder still dot-stuffs what the conversion makes. */
static void test_dot_stuffing_after(void **state)
{
	char in[200];
	int n = snprintf(in, sizeof in, "Subject: d\r\n\r\n.\xc3\xa9\r\n%.75s.x\xe9\r\n",
			 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	struct buf out = BUF_INIT, wire = BUF_INIT;
	struct mta_downgrade_result res = convert(in, (size_t)n, &out);
	assert_true(res.changed);
	/* The soft break puts ".x" at the start of a line. */
	assert_non_null(strstr(buf_cstr(&out), "\r\n.=C3=A9\r\n"));
	assert_non_null(strstr(buf_cstr(&out), "=\r\n.x=E9\r\n"));
	struct mta_body b;
	mta_body_init(&b, true);
	mta_body_encode(&b, out.data, out.len, &wire);
	mta_body_finish(&b, &wire);
	assert_non_null(strstr(buf_cstr(&wire), "\r\n..=C3=A9\r\n"));
	assert_non_null(strstr(buf_cstr(&wire), "=\r\n..x=E9\r\n"));
	buf_free(&out);
	buf_free(&wire);
}

/* The decoded body of the first leaf with 8-bit-free output equals want. */
static void assert_part_decodes(const char *msg, size_t len, uint32_t part, const char *want)
{
	struct mail_mime m;
	mail_mime_parse(msg, len, &m);
	assert_true(part < m.nparts);
	const struct mail_part *p = &m.parts[part];
	struct buf dec = BUF_INIT;
	mail_cte_decode(p->cte, msg + p->body_start, p->body_end - p->body_start, &dec);
	assert_int_equal(dec.len, strlen(want));
	assert_memory_equal(dec.data, want, dec.len);
	buf_free(&dec);
	mail_mime_free(&m);
}

static void test_hostile(void **state)
{
	struct buf out = BUF_INIT, in = BUF_INIT;
	struct mta_downgrade_result res;

	/* A boundary that never comes, one that is never closed. */
	const char *missing = "Content-Type: multipart/mixed; boundary=zz\r\n\r\n\xe9 no parts\r\n";
	res = convert(missing, strlen(missing), &out);
	assert_false(res.changed);
	assert_true(res.residual_8bit);     /* the preamble: nothing may be encoded there */
	const char *unclosed = "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\n\xe9\r\n";
	res = convert(unclosed, strlen(unclosed), &out);
	assert_true(res.changed);
	assert_part_decodes(out.data, out.len, 1, "\xe9\r\n");

	/* A boundary "=E9", a body line that encodes to it: must not become one. */
	const char *eqb = "Content-Type: multipart/mixed; boundary=\"=E9\"\r\n\r\n--=E9\r\n\r\n--\xe9\r\n--=E9--\r\n";
	res = convert(eqb, strlen(eqb), &out);
	assert_true(res.changed);
	assert_part_decodes(out.data, out.len, 1, "--\xe9");

	/* A huge line of 8-bit octets. */
	buf_puts(&in, "Subject: big\r\n\r\n");
	for (int i = 0; i < 1000000; i++)
		buf_putc(&in, (char)(0x80 | (i & 0x7f)));
	buf_puts(&in, "\r\n");
	res = convert(in.data, in.len, &out);
	assert_true(res.changed);
	assert_lines_max(out.data, out.len, MTA_QP_LINE_MAX);

	/* Nested 1000 deep with 8-bit at the bottom: beyond the limits, reported, not crashed. */
	buf_reset(&in);
	for (int i = 0; i < 1000; i++)
		buf_printf(&in, "Content-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n--d%d\r\n", i, i);
	buf_puts(&in, "\r\n\xe9\r\n");
	res = convert(in.data, in.len, &out);
	assert_false(res.changed);
	assert_true(res.too_deep);

	/* Nested message/rfc822 1000 deep. */
	buf_reset(&in);
	for (int i = 0; i < 1000; i++)
		buf_puts(&in, "Content-Type: message/rfc822\r\n\r\n");
	buf_puts(&in, "\r\n\xe9\r\n");
	res = convert(in.data, in.len, &out);
	assert_true(res.too_deep);

	/* More parts than the parser follows, 8-bit after the last it does. */
	buf_reset(&in);
	buf_puts(&in, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < MAIL_MAX_PARTS + 10; i++)
		buf_puts(&in, "--p\r\n\r\nx\r\n");
	buf_puts(&in, "--p\r\n\r\n\xe9\r\n--p--\r\n");
	res = convert(in.data, in.len, &out);
	assert_true(res.too_deep);

	/* A multipart labelled base64: its children are not believed. */
	const char *b64mp = "Content-Type: multipart/mixed; boundary=q\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			    "--q\r\n\r\n\xe9\r\n--q--\r\n";
	res = convert(b64mp, strlen(b64mp), &out);
	assert_false(res.changed);
	assert_true(res.residual_8bit);

	/* Header only, no empty line; a header cut off by a boundary; junk. */
	const char *cut = "Content-Type: multipart/mixed; boundary=k\r\n\r\n--k\r\nX: \xe9\r\n--k\r\n\r\n\xe9";
	res = convert(cut, strlen(cut), &out);
	assert_true(res.changed);
	assert_true(res.header_8bit);
	const char *junk[] = { "\xe9", "\r\n\xe9", "\n\n\n\xe9", "Content-Type: multipart/x; boundary=\"\"\r\n\r\n\xe9",
			       "X\r\n\r\n\0\0", "Content-Type: message/rfc822\r\n\r\n" };
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		convert(junk[i], strlen(junk[i]) + (i == 4 ? 2 : 0), &out);
	buf_free(&out);
	buf_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp_rules),
		cmocka_unit_test(test_qp_line_length),
		cmocka_unit_test(test_non_mime_text),
		cmocka_unit_test(test_single_part_mime),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_nested_multipart),
		cmocka_unit_test(test_message_rfc822),
		cmocka_unit_test(test_seven_bit_unchanged),
		cmocka_unit_test(test_dot_stuffing_after),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
