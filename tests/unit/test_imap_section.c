/*
 * test_imap_section.c — FETCH body items (src/imap/section.c): BODY[...]
 * with every section spec, nested part numbers, message/rfc822 HEADER and
 * TEXT, HEADER.FIELDS (.NOT), partials, RFC822*, BINARY and BINARY.SIZE,
 * against real messages from data/imap/ (CRLF as stored) and the part map
 * mail_meta_parse() builds for them at delivery.  Every result is compared
 * byte for byte with the expected string; range results are read from the
 * message at the offsets section.c returned.
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
#include "imap/section.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mail/meta.h"

struct tmsg {
	char *text;
	size_t len;
	struct mail_meta meta;
};

static void tmsg_bytes(struct tmsg *t, const char *s, size_t n)
{
	t->text = xmalloc(n ? n : 1);
	memcpy(t->text, s, n);
	t->len = n;
	mail_meta_parse(t->text, n, &t->meta);
}

static void tmsg_load(struct tmsg *t, const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "data/imap/%s.eml", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf raw = BUF_INIT, b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&raw, chunk, n);
	fclose(f);
	for (size_t i = 0; i < raw.len; i++) {
		if (raw.data[i] == '\n' && (i == 0 || raw.data[i - 1] != '\r'))
			buf_putc(&b, '\r');
		buf_putc(&b, raw.data[i]);
	}
	tmsg_bytes(t, b.data, b.len);
	buf_free(&raw);
	buf_free(&b);
}

static void tmsg_free(struct tmsg *t)
{
	mail_meta_free(&t->meta);
	free(t->text);
}

/* An att for type with part numbers "1.2.3" ("" = none) and spec. */
static struct imap_fetch_att att_make(enum imap_fetch_type type, const char *part, enum imap_section_spec spec)
{
	struct imap_fetch_att a;
	memset(&a, 0, sizeof a);
	a.type = type;
	a.spec = spec;
	const char *p = part;
	while (*p) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		assert_true(a.nparts < IMAP_SECTION_DEPTH);
		a.part[a.nparts++] = (uint32_t)v;
		p = *end == '.' ? end + 1 : end;
	}
	return a;
}

static struct imap_fetch_att att_fields(const char *part, bool not, const char *const *names)
{
	struct imap_fetch_att a = att_make(FA_BODY_SECTION, part, not ? SEC_HEADER_FIELDS_NOT : SEC_HEADER_FIELDS);
	size_t n = 0;
	while (names[n])
		n++;
	a.fields = xcalloc(n ? n : 1, sizeof *a.fields);
	a.nfields = n;
	for (size_t i = 0; i < n; i++) {
		a.fields[i].p = xstrdup(names[i]);
		a.fields[i].n = strlen(names[i]);
	}
	return a;
}

static void att_free(struct imap_fetch_att *a)
{
	for (size_t i = 0; i < a->nfields; i++)
		free(a->fields[i].p);
	free(a->fields);
}

/* What the item sends: the bytes (NUL-terminated copy, *n its length) and the kind. */
static char *get(const struct tmsg *t, const struct imap_fetch_att *a, enum imap_section_kind *kind, size_t *n)
{
	struct imap_section s;
	imap_section_get(a, t->meta.parts, t->len, imap_section_needs_blob(a) ? t->text : NULL,
			 imap_section_needs_blob(a) ? t->len : 0, &s);
	*kind = s.kind;
	char *r;
	if (s.kind == IMAP_SECTION_RANGE) {
		assert_true(s.offset <= t->len && s.length <= t->len - s.offset);
		r = xmemdup0(t->text + s.offset, (size_t)s.length);
		*n = (size_t)s.length;
	} else {
		r = xmemdup0(s.data.data ? s.data.data : "", s.data.len);
		*n = s.data.len;
	}
	imap_section_free(&s);
	return r;
}

static void expect_bytes(const struct tmsg *t, const struct imap_fetch_att *a, enum imap_section_kind kind,
			 const char *want, size_t wantlen)
{
	enum imap_section_kind k;
	size_t n;
	char *got = get(t, a, &k, &n);
	if (n != wantlen || memcmp(got, want, n) != 0)
		print_error("got [%s] (%zu), want [%s] (%zu)\n", got, n, want, wantlen);
	assert_int_equal(k, kind);
	assert_int_equal(n, wantlen);
	assert_memory_equal(got, want, n);
	free(got);
}

static void expect(const struct tmsg *t, const struct imap_fetch_att *a, enum imap_section_kind kind,
		   const char *want)
{
	expect_bytes(t, a, kind, want, strlen(want));
}

static void expect_body(const struct tmsg *t, const char *part, enum imap_section_spec spec, const char *want)
{
	struct imap_fetch_att a = att_make(FA_BODY_SECTION, part, spec);
	expect(t, &a, *want ? IMAP_SECTION_RANGE : IMAP_SECTION_BUILT, want);
}

static uint64_t binary_size(const struct tmsg *t, const char *part, enum imap_section_kind *kind)
{
	struct imap_fetch_att a = att_make(FA_BINARY_SIZE, part, SEC_NONE);
	struct imap_section s;
	assert_true(imap_section_needs_blob(&a));
	imap_section_get(&a, t->meta.parts, t->len, t->text, t->len, &s);
	*kind = s.kind;
	uint64_t r = s.size;
	assert_int_equal(s.data.len, 0);
	imap_section_free(&s);
	return r;
}

#define MULTI_HEADER \
	"Return-Path: <sender@example.org>\r\n" \
	"From: =?ISO-8859-1?Q?Andr=E9_M=FCller?= <andre@example.org>\r\n" \
	"To: Bob Example <bob@example.com>,\r\n" \
	" \"Carol\" <carol@example.net>\r\n" \
	"Cc: dave@example.com\r\n" \
	"Bcc: eve@example.com\r\n" \
	"Subject: =?UTF-8?B?R3LDvMOfZQ==?= from the\r\n" \
	" quarterly meeting\r\n" \
	"Date: Mon, 02 Mar 2026 23:30:00 -0800\r\n" \
	"Message-ID: <multi-1@example.org>\r\n" \
	"X-Tag: first\r\n" \
	"X-Tag: second tag\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n" \
	"\r\n"

#define INNER_MESSAGE \
	"From: Inner Sender <inner@example.com>\r\n" \
	"Subject: Inner subject koala\r\n" \
	"Content-Type: multipart/alternative; boundary=\"inner\"\r\n" \
	"\r\n" \
	"--inner\r\n" \
	"Content-Type: text/plain; charset=windows-1252\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n" \
	"Price: 5 =80 =93quoted=94 echidna\r\n" \
	"--inner\r\n" \
	"Content-Type: text/html; charset=us-ascii\r\n" \
	"\r\n" \
	"<i>echidna html</i>\r\n" \
	"--inner--"

static void test_whole_and_top(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi");
	assert_int_equal(t.len, 1529);
	struct imap_fetch_att a = att_make(FA_BODY_SECTION, "", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_RANGE, t.text, t.len);
	a = att_make(FA_RFC822, "", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_RANGE, t.text, t.len);

	expect_body(&t, "", SEC_HEADER, MULTI_HEADER);
	a = att_make(FA_RFC822_HEADER, "", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_RANGE, MULTI_HEADER);

	const char *text = t.text + strlen(MULTI_HEADER);
	assert_memory_equal(text, "This preamble", 13);
	a = att_make(FA_BODY_SECTION, "", SEC_TEXT);
	expect_bytes(&t, &a, IMAP_SECTION_RANGE, text, t.len - strlen(MULTI_HEADER));
	a = att_make(FA_RFC822_TEXT, "", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_RANGE, text, t.len - strlen(MULTI_HEADER));
	/* MIME needs a part number */
	expect_body(&t, "", SEC_MIME, "");
	/* not a body item at all */
	a = att_make(FA_UID, "", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_BUILT, "");
	tmsg_free(&t);
}

static void test_parts(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi");
	/* the line break before a boundary belongs to the boundary */
	expect_body(&t, "1", SEC_NONE, "Caf=E9 cr=E8me br=FBl=E9e for everyone.\r\nSoft line=\r\n break joined.");
	expect_body(&t, "1", SEC_MIME,
		    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	expect_body(&t, "3", SEC_NONE, "The octet stream says wombat but is not text.");
	expect_body(&t, "3", SEC_MIME,
		    "Content-Type: application/octet-stream; name=\"notes.bin\"\r\n"
		    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	/* HEADER and TEXT of a part exist only for message/rfc822 */
	expect_body(&t, "1", SEC_HEADER, "");
	expect_body(&t, "1", SEC_TEXT, "");
	/* message/rfc822: the part is the whole embedded message */
	expect_body(&t, "5", SEC_NONE, INNER_MESSAGE);
	expect_body(&t, "5", SEC_MIME, "Content-Type: message/rfc822\r\n\r\n");
	expect_body(&t, "5", SEC_HEADER,
		    "From: Inner Sender <inner@example.com>\r\n"
		    "Subject: Inner subject koala\r\n"
		    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n");
	expect_body(&t, "5", SEC_TEXT,
		    "--inner\r\n"
		    "Content-Type: text/plain; charset=windows-1252\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\n"
		    "Price: 5 =80 =93quoted=94 echidna\r\n"
		    "--inner\r\n"
		    "Content-Type: text/html; charset=us-ascii\r\n"
		    "\r\n"
		    "<i>echidna html</i>\r\n"
		    "--inner--");
	/* its subparts are numbered as the embedded message's */
	expect_body(&t, "5.1", SEC_NONE, "Price: 5 =80 =93quoted=94 echidna");
	expect_body(&t, "5.1", SEC_MIME,
		    "Content-Type: text/plain; charset=windows-1252\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	expect_body(&t, "5.2", SEC_NONE, "<i>echidna html</i>");
	expect_body(&t, "5.1", SEC_HEADER, "");
	/* parts that do not exist: empty */
	expect_body(&t, "6", SEC_NONE, "");
	expect_body(&t, "5.3", SEC_NONE, "");
	expect_body(&t, "1.1", SEC_NONE, "");
	expect_body(&t, "6", SEC_MIME, "");
	expect_body(&t, "0", SEC_NONE, "");
	expect_body(&t, "4294967295", SEC_NONE, "");
	tmsg_free(&t);
}

static void test_nested(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "nested");
	expect_body(&t, "1.1", SEC_NONE, "plain alternative");
	expect_body(&t, "1.2.1", SEC_NONE, "<p>na=EFve r=E9sum=E9 =85 ellipsis</p>");
	expect_body(&t, "1.2.1", SEC_MIME,
		    "Content-Type: text/html; charset=windows-1252\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	expect_body(&t, "1.2.2", SEC_NONE, "R0lGODlhAQABAAAAACw=");
	expect_body(&t, "1.2", SEC_MIME, "Content-Type: multipart/related; boundary=c\r\n\r\n");
	/* a multipart's body: its parts with their boundaries */
	expect_body(&t, "1.2", SEC_NONE,
		    "--c\r\n"
		    "Content-Type: text/html; charset=windows-1252\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\n"
		    "<p>na=EFve r=E9sum=E9 =85 ellipsis</p>\r\n"
		    "--c\r\n"
		    "Content-Type: image/gif\r\n"
		    "Content-Transfer-Encoding: base64\r\n"
		    "\r\n"
		    "R0lGODlhAQABAAAAACw=\r\n"
		    "--c--");
	expect_body(&t, "1.2.3", SEC_NONE, "");
	expect_body(&t, "1.2.1.1", SEC_NONE, "");
	/* message/rfc822 whose message is a single part: 3.1 is its body */
	expect_body(&t, "3", SEC_HEADER, "Subject: forwarded\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	expect_body(&t, "3", SEC_TEXT, "Forwarded body with =3D sign");
	expect_body(&t, "3.1", SEC_NONE, "Forwarded body with =3D sign");
	expect_body(&t, "3.2", SEC_NONE, "");
	struct imap_fetch_att a = att_make(FA_BINARY_SECTION, "3.1", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_BUILT, "Forwarded body with = sign");
	a = att_make(FA_BINARY_SECTION, "1.2.1", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_BUILT, "<p>na\xefve r\xe9sum\xe9 \x85 ellipsis</p>");
	a = att_make(FA_BINARY_SECTION, "1.2.2", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_BUILT, "GIF89a\x01\x00\x01\x00\x00\x00\x00,", 14);
	/* x-uuencode: NO [UNKNOWN-CTE] for BINARY and BINARY.SIZE; BODY is fine */
	a = att_make(FA_BINARY_SECTION, "2", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_UNKNOWN_CTE, "");
	enum imap_section_kind k;
	binary_size(&t, "2", &k);
	assert_int_equal(k, IMAP_SECTION_UNKNOWN_CTE);
	expect_body(&t, "2", SEC_NONE, "begin 644 x");
	tmsg_free(&t);
}

static void test_header_fields(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi");
	static const char *const f1[] = { "SUBJECT", "x-tag", "To", "X-Absent", NULL };
	struct imap_fetch_att a = att_fields("", false, f1);
	assert_true(imap_section_needs_blob(&a));
	/* message order, folding kept, every occurrence, then the empty line */
	expect(&t, &a, IMAP_SECTION_BUILT,
	       "To: Bob Example <bob@example.com>,\r\n"
	       " \"Carol\" <carol@example.net>\r\n"
	       "Subject: =?UTF-8?B?R3LDvMOfZQ==?= from the\r\n"
	       " quarterly meeting\r\n"
	       "X-Tag: first\r\n"
	       "X-Tag: second tag\r\n"
	       "\r\n");
	att_free(&a);

	static const char *const f2[] = { "return-path", "FROM", "to", "cc", "bcc", "subject", "message-id",
					  "x-tag", NULL };
	a = att_fields("", true, f2);
	expect(&t, &a, IMAP_SECTION_BUILT,
	       "Date: Mon, 02 Mar 2026 23:30:00 -0800\r\n"
	       "MIME-Version: 1.0\r\n"
	       "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	       "\r\n");
	att_free(&a);

	/* nothing listed matches: just the empty line */
	static const char *const f3[] = { "X-Nothing", NULL };
	a = att_fields("", false, f3);
	expect(&t, &a, IMAP_SECTION_BUILT, "\r\n");
	att_free(&a);
	/* a name must match whole, not as a prefix */
	static const char *const f4[] = { "X-Ta", "Subject:", NULL };
	a = att_fields("", false, f4);
	expect(&t, &a, IMAP_SECTION_BUILT, "\r\n");
	att_free(&a);

	/* of an embedded message */
	static const char *const f5[] = { "subject", "content-type", NULL };
	a = att_fields("5", false, f5);
	expect(&t, &a, IMAP_SECTION_BUILT,
	       "Subject: Inner subject koala\r\n"
	       "Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n");
	att_free(&a);
	a = att_fields("5", true, f5);
	expect(&t, &a, IMAP_SECTION_BUILT, "From: Inner Sender <inner@example.com>\r\n\r\n");
	att_free(&a);
	/* of a part that is not a message: nothing */
	a = att_fields("1", false, f5);
	expect(&t, &a, IMAP_SECTION_BUILT, "");
	att_free(&a);
	/* with a partial */
	a = att_fields("5", false, f5);
	a.partial = true;
	a.offset = 9;
	a.length = 13;
	expect(&t, &a, IMAP_SECTION_BUILT, "Inner subject");
	/* the blob could not be read */
	struct imap_section s;
	imap_section_get(&a, t.meta.parts, t.len, NULL, 0, &s);
	assert_int_equal(s.kind, IMAP_SECTION_BUILT);
	assert_int_equal(s.data.len, 0);
	imap_section_free(&s);
	att_free(&a);
	tmsg_free(&t);
}

/* Bare LF line ends in a header: each field sent ends in CRLF; a last field without any line break gets one. */
static void test_header_fields_odd(void **state)
{
	(void)state;
	struct tmsg t;
	const char *m = "Subject: one\n two\nTo: y\nX: z\n\nbody\n";
	tmsg_bytes(&t, m, strlen(m));
	static const char *const f[] = { "subject", "to", NULL };
	struct imap_fetch_att a = att_fields("", false, f);
	expect(&t, &a, IMAP_SECTION_BUILT, "Subject: one\n two\r\nTo: y\r\n\r\n");
	att_free(&a);
	tmsg_free(&t);

	const char *h = "Junk line\r\nTo: a\r\nSubject: cut";
	tmsg_bytes(&t, h, strlen(h));
	a = att_fields("", false, f);
	expect(&t, &a, IMAP_SECTION_BUILT, "To: a\r\nSubject: cut\r\n\r\n");
	att_free(&a);
	expect_body(&t, "", SEC_HEADER, h);
	a = att_make(FA_BODY_SECTION, "", SEC_TEXT);
	expect(&t, &a, IMAP_SECTION_RANGE, "");     /* exists, empty */
	tmsg_free(&t);
}

static void test_partial(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi");
	struct imap_fetch_att a = att_make(FA_BODY_SECTION, "", SEC_TEXT);
	a.partial = true;
	a.offset = 0;
	a.length = 10;
	expect(&t, &a, IMAP_SECTION_RANGE, "This pream");
	a.offset = 5;
	a.length = 8;
	expect(&t, &a, IMAP_SECTION_RANGE, "preamble");
	/* the length runs past the end: what there is */
	a = att_make(FA_BODY_SECTION, "1", SEC_NONE);
	a.partial = true;
	a.offset = 60;
	a.length = 1000;
	expect(&t, &a, IMAP_SECTION_RANGE, "joined.");
	/* the offset is past the end: empty */
	a.offset = 67;
	expect(&t, &a, IMAP_SECTION_RANGE, "");
	a.offset = UINT64_MAX;
	a.length = UINT64_MAX;
	expect(&t, &a, IMAP_SECTION_RANGE, "");
	a.offset = 0;
	a.length = 0;
	expect(&t, &a, IMAP_SECTION_RANGE, "");
	a = att_make(FA_BODY_SECTION, "", SEC_NONE);
	a.partial = true;
	a.offset = 1520;
	a.length = UINT64_MAX;
	expect(&t, &a, IMAP_SECTION_RANGE, " dingo.\r\n");   /* the last 9 of 1529 octets */
	/* of a decoded BINARY */
	a = att_make(FA_BINARY_SECTION, "1", SEC_NONE);
	a.partial = true;
	a.offset = 3;
	a.length = 4;
	expect(&t, &a, IMAP_SECTION_BUILT, "\xe9 cr");
	a.offset = 1000;
	expect(&t, &a, IMAP_SECTION_BUILT, "");
	/* a nonexistent part stays empty */
	a = att_make(FA_BODY_SECTION, "9", SEC_NONE);
	a.partial = true;
	a.offset = 0;
	a.length = 5;
	expect(&t, &a, IMAP_SECTION_BUILT, "");
	tmsg_free(&t);
}

static void test_binary(void **state)
{
	(void)state;
	struct tmsg t;
	enum imap_section_kind k;
	tmsg_load(&t, "multi");
	/* quoted-printable, soft line break */
	static const char p1[] = "Caf\xe9 cr\xe8me br\xfbl\xe9" "e for everyone.\r\nSoft line break joined.";
	struct imap_fetch_att a = att_make(FA_BINARY_SECTION, "1", SEC_NONE);
	assert_true(imap_section_needs_blob(&a));
	expect(&t, &a, IMAP_SECTION_BUILT, p1);
	assert_int_equal(binary_size(&t, "1", &k), strlen(p1));
	assert_int_equal(k, IMAP_SECTION_BUILT);
	/* base64 */
	a = att_make(FA_BINARY_SECTION, "2", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_BUILT, "<p>Stra&szlig;e</p> <b>STRASSE</b> und Stra\xc3\x9f" "e\r\n");
	assert_int_equal(binary_size(&t, "2", &k), 48);
	/* base64 with a NUL in it: built (the session then sends literal8) */
	a = att_make(FA_BINARY_SECTION, "4", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_BUILT, "\x89PNG\r\n\x1a\n kangaroo \x00\x01", 20);
	assert_int_equal(binary_size(&t, "4", &k), 20);
	/* 7bit: passed through as a range */
	a = att_make(FA_BINARY_SECTION, "3", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_RANGE, "The octet stream says wombat but is not text.");
	assert_int_equal(binary_size(&t, "3", &k), 45);
	/* a message part, and the multipart inside it */
	a = att_make(FA_BINARY_SECTION, "5", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_RANGE, INNER_MESSAGE);
	a = att_make(FA_BINARY_SECTION, "5.1", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_BUILT, "Price: 5 \x80 \x93quoted\x94 echidna");
	/* BINARY[] is the whole message, undecoded */
	a = att_make(FA_BINARY_SECTION, "", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_RANGE, t.text, t.len);
	assert_int_equal(binary_size(&t, "", &k), t.len);
	/* no such part: NIL; its size 0 */
	a = att_make(FA_BINARY_SECTION, "7", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_NIL, "");
	a = att_make(FA_BINARY_SECTION, "5.1.1", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_NIL, "");
	assert_int_equal(binary_size(&t, "7", &k), 0);
	assert_int_equal(k, IMAP_SECTION_BUILT);
	/* blob unreadable: decoding yields nothing rather than garbage */
	a = att_make(FA_BINARY_SECTION, "1", SEC_NONE);
	struct imap_section s;
	imap_section_get(&a, t.meta.parts, t.len, NULL, 0, &s);
	assert_int_equal(s.kind, IMAP_SECTION_BUILT);
	assert_int_equal(s.data.len, 0);
	imap_section_free(&s);
	tmsg_free(&t);

	/* a single-part base64 message: BINARY[1] is its decoded body, BODY[1] raw, BODY[2] nothing */
	tmsg_load(&t, "nodate");
	a = att_make(FA_BINARY_SECTION, "1", SEC_NONE);
	expect(&t, &a, IMAP_SECTION_BUILT, "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\r\nZweite Zeile mit "
	       "\xc3\x84\xc3\x96\xc3\x9c.\r\n");
	assert_int_equal(binary_size(&t, "1", &k), 46);
	expect_body(&t, "1", SEC_NONE, "R3LDvMOfZSBhdXMgS8O2bG4uDQpad2VpdGUgWmVpbGUgbWl0IMOEw5bDnC4NCg==\r\n");
	expect_body(&t, "2", SEC_NONE, "");
	/* part 1's MIME header of a single-part message: the message header */
	struct imap_fetch_att h = att_make(FA_BODY_SECTION, "", SEC_HEADER);
	enum imap_section_kind hk;
	size_t hn;
	char *hdr = get(&t, &h, &hk, &hn);
	expect_body(&t, "1", SEC_MIME, hdr);
	free(hdr);
	tmsg_free(&t);

	/* 8bit text with a NUL byte: BINARY copies it so that literal8 is used */
	const char *raw = "Content-Transfer-Encoding: 8bit\r\n\r\nab\0cd";
	tmsg_bytes(&t, raw, 40);
	a = att_make(FA_BINARY_SECTION, "1", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_BUILT, "ab\0cd", 5);
	a = att_make(FA_BODY_SECTION, "1", SEC_NONE);
	expect_bytes(&t, &a, IMAP_SECTION_RANGE, "ab\0cd", 5);
	tmsg_free(&t);
}

/* A part map that does not parse, or does not fit the message: "" is the whole message, the rest is empty. */
static void test_damaged_map(void **state)
{
	(void)state;
	const char *msg = "Subject: x\r\n\r\nbody\r\n";
	size_t len = strlen(msg);
	static const char *const maps[] = {
		NULL, "", "garbage\n", "0 r 0 0 9999 12 -\n1 l 0 14 9999 - -\n",
		"0 r 0 0 20 14 -\n1 l 0 14 20 - -", "0 r 0 0 20 30 -\n", "0 x 0 0 20 14 -\n",
	};
	for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
		struct imap_section s;
		struct imap_fetch_att a = att_make(FA_BODY_SECTION, "", SEC_NONE);
		imap_section_get(&a, maps[i], len, msg, len, &s);
		assert_int_equal(s.kind, IMAP_SECTION_RANGE);
		assert_int_equal(s.offset, 0);
		assert_int_equal(s.length, len);
		imap_section_free(&s);
		a = att_make(FA_RFC822, "", SEC_NONE);
		imap_section_get(&a, maps[i], len, msg, len, &s);
		assert_int_equal(s.kind, IMAP_SECTION_RANGE);
		assert_int_equal(s.length, len);
		imap_section_free(&s);
		if (i == 4)
			continue;       /* that one is well-formed */
		static const enum imap_section_spec specs[] = { SEC_NONE, SEC_HEADER, SEC_TEXT, SEC_MIME,
								SEC_HEADER_FIELDS };
		for (size_t j = 0; j < sizeof specs / sizeof specs[0]; j++) {
			a = att_make(FA_BODY_SECTION, j == 0 || j == 3 ? "1" : "", specs[j]);
			imap_section_get(&a, maps[i], len, msg, len, &s);
			assert_int_equal(s.kind, IMAP_SECTION_BUILT);
			assert_int_equal(s.data.len, 0);
			imap_section_free(&s);
		}
		a = att_make(FA_BINARY_SECTION, "1", SEC_NONE);
		imap_section_get(&a, maps[i], len, msg, len, &s);
		assert_int_equal(s.kind, IMAP_SECTION_NIL);
		imap_section_free(&s);
	}
	/* the well-formed one works */
	struct imap_section s;
	struct imap_fetch_att a = att_make(FA_BODY_SECTION, "1", SEC_NONE);
	imap_section_get(&a, maps[4], len, msg, len, &s);
	assert_int_equal(s.kind, IMAP_SECTION_RANGE);
	assert_int_equal(s.offset, 14);
	assert_int_equal(s.length, 6);
	imap_section_free(&s);
	/* part numbers past IMAP_SECTION_DEPTH name nothing */
	a = att_make(FA_BODY_SECTION, "1", SEC_NONE);
	a.nparts = IMAP_SECTION_DEPTH + 1;
	imap_section_get(&a, maps[4], len, msg, len, &s);
	assert_int_equal(s.kind, IMAP_SECTION_BUILT);
	assert_int_equal(s.data.len, 0);
	imap_section_free(&s);
}

static void test_needs_blob(void **state)
{
	(void)state;
	static const struct {
		enum imap_fetch_type type;
		enum imap_section_spec spec;
		bool needs;
	} cases[] = {
		{ FA_RFC822, SEC_NONE, false }, { FA_RFC822_HEADER, SEC_NONE, false },
		{ FA_RFC822_TEXT, SEC_NONE, false }, { FA_BODY_SECTION, SEC_NONE, false },
		{ FA_BODY_SECTION, SEC_HEADER, false }, { FA_BODY_SECTION, SEC_TEXT, false },
		{ FA_BODY_SECTION, SEC_MIME, false }, { FA_BODY_SECTION, SEC_HEADER_FIELDS, true },
		{ FA_BODY_SECTION, SEC_HEADER_FIELDS_NOT, true }, { FA_BINARY_SECTION, SEC_NONE, true },
		{ FA_BINARY_SIZE, SEC_NONE, true }, { FA_FLAGS, SEC_NONE, false },
		{ FA_BODYSTRUCTURE, SEC_NONE, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct imap_fetch_att a = att_make(cases[i].type, "", cases[i].spec);
		assert_int_equal(imap_section_needs_blob(&a), cases[i].needs);
	}
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_top),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_header_fields_odd),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_damaged_map),
		cmocka_unit_test(test_needs_blob),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
