/*
 * test_mime.c — the MIME parser as a whole: mail_meta_parse() on the corpus
 * in data/mime/ (exact ENVELOPE, BODY, BODYSTRUCTURE and part maps), part
 * map lookups checked against the bytes they point at, limits, truncated
 * and hostile input.
 *
 * Corpus files are stored with LF line ends; most cases convert them to
 * CRLF first (the normal form), the bare-LF cases use them as they are.
 * Expected strings were checked by hand against the RFC 9051 grammar and
 * Dovecot's conventions (see src/mail/bodystructure.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mail/cte.h"
#include "mail/meta.h"
#include "mail/mime.h"
#include "mail/mimeparam.h"

/* Load data/mime/<name>.eml, optionally turning LF into CRLF, into an exactly sized buffer. */
static char *load(const char *name, bool crlf, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, "data/mime/%s.eml", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf raw = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&raw, chunk, n);
	fclose(f);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < raw.len; i++) {
		if (crlf && raw.data[i] == '\n' && (i == 0 || raw.data[i - 1] != '\r'))
			buf_putc(&b, '\r');
		buf_putc(&b, raw.data[i]);
	}
	buf_free(&raw);
	/* exactly len bytes, no terminator: ASan catches any read past the end */
	*len = b.len;
	char *exact = xmalloc(b.len ? b.len : 1);
	memcpy(exact, b.data ? b.data : "", b.len);
	buf_free(&b);
	return exact;
}

struct corpus_case {
	const char *file;
	bool crlf;
	const char *envelope, *body, *bodystructure, *parts;
};

static const struct corpus_case corpus[] = {
	{ "rfc822_multipart", true,
	/* envelope: RFC 3501 group syntax, obsolete route, comment as name; subject raw */
		"(\"Thu, 26 Nov 2026 16:49:55 +0100\" \"=?iso-8859-1?q?h=E9llo?= =?utf-8?b?d8O2cmxk?=\" ((\"Doe,"
		" John\" NIL \"john\" \"example.com\")) ((\"Doe, John\" NIL \"john\" \"example.com\")) ((\"Doe,"
		" John\" NIL \"john\" \"example.com\")) ((NIL NIL \"Group\" NIL)(NIL NIL \"a\" \"b.c\")(\"x y\""
		" \"@r1,@r2\" \"q\" \"d.e\")(NIL NIL NIL NIL)(\"Comment Name\" NIL \"plain\" \"host\")) NIL NIL"
		" NIL \"<abc@example.com>\")",
	/* body */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"1\" NIL \"7BIT\" 8 1)(\"message\" \"rfc822\""
		" NIL \"3\" NIL \"7BIT\" 224 (NIL \"Part 3\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\" \"plain\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1)(\"application\" \"octet-stream\" NIL NIL"
		" NIL \"base64\" 12) \"mixed\") 13) \"mixed\")",
	/* bodystructure */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"1\" NIL \"7BIT\" 8 1 NIL NIL NIL NIL)(\"message\""
		" \"rfc822\" NIL \"3\" NIL \"7BIT\" 224 (NIL \"Part 3\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\""
		" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)(\"application\""
		" \"octet-stream\" NIL NIL NIL \"base64\" 12 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"part3\")"
		" NIL NIL NIL) 13 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"toplevel\") NIL NIL NIL)",
	/* parts */
		"0 r 0 0 677 313 -\n"
		"1 l 325 368 376 - -\n"
		"2 r 390 437 661 503 -\n"
		"2.1 l 512 540 550 - -\n"
		"2.2 l 561 638 650 - b\n"
		"",
	},
	{ "nested3", true,
	/* envelope */
		"(NIL \"nested\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) ((NIL NIL"
		" \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	/* body */
		"((((\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 11 0)(\"image\" \"png\" NIL \"<img1@x>\""
		" NIL \"base64\" 12) \"related\")(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\""
		" 17 1) \"alternative\")(\"application\" \"pdf\" (\"name\" \"doc.pdf\") NIL \"A document\" \"7BIT\""
		" 3) \"mixed\")",
	/* bodystructure */
		"((((\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 11 0 NIL NIL NIL NIL)(\"image\""
		" \"png\" NIL \"<img1@x>\" NIL \"base64\" 12 NIL (\"inline\" (\"filename\" \"a.png\")) NIL NIL)"
		" \"related\" (\"boundary\" \"L3\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL"
		" NIL \"quoted-printable\" 17 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"L2\") NIL NIL"
		" NIL)(\"application\" \"pdf\" (\"name\" \"doc.pdf\") NIL \"A document\" \"7BIT\" 3 \"Q2hlY2sgSW50ZWdyaXR5IQ==\""
		" (\"attachment\" (\"filename\" \"doc.pdf\")) (\"en\" \"de\") \"http://example.org/doc.pdf\")"
		" \"mixed\" (\"boundary\" \"L1\") NIL NIL NIL)",
	/* parts */
		"0 r 0 0 828 86 -\n"
		"1 m 102 156 551 - -\n"
		"1.1 m 162 212 430 - -\n"
		"1.1.1 l 218 260 271 - -\n"
		"1.1.2 l 279 410 422 - b\n"
		"1.2 l 438 526 543 - q\n"
		"2 l 559 805 808 - -\n"
		"",
	},
	{ "missing_close", true,
	/* envelope */
		"(NIL \"no close\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	/* body */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 3 0)(\"text\" \"plain\" (\"charset\""
		" \"us-ascii\") NIL NIL \"7BIT\" 5 1) \"mixed\")",
	/* bodystructure */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 3 0 NIL NIL NIL NIL)(\"text\""
		" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\""
		" \"xyz\") NIL NIL NIL)",
	/* parts */
		"0 r 0 0 120 66 -\n"
		"1 l 73 101 104 - -\n"
		"2 l 113 115 120 - -\n"
		"",
	},
	{ "no_boundary", true,
	/* envelope */
		"(NIL \"boundary never appears\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	/* body */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0) \"mixed\")",
	/* bodystructure */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0) \"mixed\" (\"boundary\""
		" \"never\") NIL NIL NIL)",
	/* parts */
		"0 r 0 0 106 82 -\n"
		"",
	},
	{ "boundary_special", true,
	/* envelope */
		"(NIL \"special boundary\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	/* body */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 1 0)(\"text\" \"enriched\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 1 0) \"alternative\")",
	/* bodystructure */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"text\""
		" \"enriched\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL) \"alternative\""
		" (\"boundary\" \"=_a'()+_,-./:=?b \\\"q\\\"\") NIL NIL NIL)",
	/* parts */
		"0 r 0 0 242 103 -\n"
		"1 l 127 155 156 - -\n"
		"2 l 182 213 214 - -\n"
		"",
	},
	{ "rfc2231", true,
	/* envelope */
		"(NIL \"2231\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	/* body */
		"(\"application\" \"x-stuff\" (\"title*\" \"us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't"
		" it!\" \"name\" \"ab.txt\" \"gap*0\" \"x\" \"gap*2\" \"y\") NIL NIL \"7BIT\" 3)",
	/* bodystructure */
		"(\"application\" \"x-stuff\" (\"title*\" \"us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't"
		" it!\" \"name\" \"ab.txt\" \"gap*0\" \"x\" \"gap*2\" \"y\") NIL NIL \"7BIT\" 3 NIL (\"attachment\""
		" (\"filename*\" \"UTF-8''%E2%82%AC%20rates.txt\")) NIL NIL)",
	/* parts */
		"0 r 0 0 289 286 -\n"
		"1 l 0 286 289 - -\n"
		"",
	},
	{ "groups", true,
	/* envelope */
		"(\"Thu,      13        Feb          1969      23:32               -0330 (Newfoundland Time)\""
		" NIL ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Mary Smith\" \"@node.test\" \"mary\" \"example.net\")"
		"(NIL NIL \"jdoe\" \"test.example\")) ((\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\"))"
		" ((NIL NIL \"A Group\" NIL)(\"Chris Jones\" NIL \"c\" \"public.example\")(NIL NIL \"joe\" \"example.org\")"
		"(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) ((NIL NIL \"Hidden recipients\" NIL)"
		"(NIL NIL NIL NIL)) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) \"<1234@local.machine.example>"
		" <3456@example.net>\" \"<testabcd.1234@silly.test>\")",
	/* body */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1)",
	/* bodystructure */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)",
	/* parts */
		"0 r 0 0 706 696 -\n"
		"1 l 0 696 706 - -\n"
		"",
	},
	{ "digest", true,
	/* envelope */
		"(NIL \"digest\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	/* body */
		"((\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 21 (NIL \"first\" NIL NIL NIL NIL NIL NIL NIL"
		" NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 3 0) 2)(\"text\" \"plain\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 5 0) \"digest\")",
	/* bodystructure */
		"((\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 21 (NIL \"first\" NIL NIL NIL NIL NIL NIL NIL"
		" NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 3 0 NIL NIL NIL NIL) 2"
		" NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 5 0 NIL NIL"
		" NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)",
	/* parts */
		"0 r 0 0 140 63 -\n"
		"1 r 68 70 91 88 -\n"
		"1.1 l 70 88 91 - -\n"
		"2 l 98 126 131 - -\n"
		"",
	},
	{ "truncated_header", true,
	/* envelope */
		"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	/* body */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)(\"text\" \"plain\" (\"charset\""
		" \"us-ascii\") NIL NIL \"7BIT\" 0 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\""
		" 0 0) \"mixed\")",
	/* bodystructure */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)(\"text\""
		" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)(\"text\" \"html\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \":foo\")"
		" NIL NIL NIL)",
	/* parts */
		"0 r 0 0 135 50 -\n"
		"1 l 58 58 58 - -\n"
		"2 l 66 90 90 - -\n"
		"3 l 100 123 123 - -\n"
		"",
	},
	{ "header_only", true,
	/* envelope */
		"(NIL \"header only, no empty line\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL"
		" \"x\" \"y\")) NIL NIL NIL NIL NIL)",
	/* body */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)",
	/* bodystructure */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)",
	/* parts */
		"0 r 0 0 72 72 -\n"
		"1 l 0 72 72 - -\n"
		"",
	},
	{ "body_only", true,
	/* envelope */
		"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	/* body */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 38 2)",
	/* bodystructure */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 38 2 NIL NIL NIL NIL)",
	/* parts */
		"0 r 0 0 40 2 -\n"
		"1 l 0 2 40 - -\n"
		"",
	},
	{ "8bit_headers", true,
	/* envelope */
		"(NIL {27}\r\n"
		"=?utf-8?q?caf=C3=A9?= caf\xc3""\xa9"" (({5}\r\n"
		"J\xc3""\xb6""rg NIL {5}\r\n"
		"j\xc3""\xb6""rg {15}\r\n"
		"b\xc3""\xbc""cher.example)) (({5}\r\n"
		"J\xc3""\xb6""rg NIL {5}\r\n"
		"j\xc3""\xb6""rg {15}\r\n"
		"b\xc3""\xbc""cher.example)) (({5}\r\n"
		"J\xc3""\xb6""rg NIL {5}\r\n"
		"j\xc3""\xb6""rg {15}\r\n"
		"b\xc3""\xbc""cher.example)) NIL NIL NIL NIL NIL)",
	/* body */
		"(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL {8}\r\n"
		"r\xc3""\xa9""sum\xc3""\xa9"" \"7BIT\" 6 1)",
	/* bodystructure */
		"(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL {8}\r\n"
		"r\xc3""\xa9""sum\xc3""\xa9"" \"7BIT\" 6 1 NIL NIL NIL NIL)",
	/* parts */
		"0 r 0 0 155 149 -\n"
		"1 l 0 149 155 - -\n"
		"",
	},
	{ "encoded_words", true,
	/* envelope */
		"(NIL \"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="
		" and =?utf-8?q?=E2=82?= =?utf-8?q?=AC_euro?= =?bad?x?y?= =?utf-8?q?unterminated\" ((\"=?ISO-8859-1?Q?Andr=E9?="
		" Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\""
		" \"vm1.ulg.ac.be\")) ((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\"))"
		" ((\"=?x-unknown-cs?q?caf=C3=A9?=\" NIL \"u\" \"example.com\")) NIL NIL NIL NIL)",
	/* body */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 6 1)",
	/* bodystructure */
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 6 1 NIL NIL NIL NIL)",
	/* parts */
		"0 r 0 0 317 311 -\n"
		"1 l 0 311 317 - -\n"
		"",
	},
	{ "rfc822_multipart", false,
	/* envelope */
		"(\"Thu, 26 Nov 2026 16:49:55 +0100\" \"=?iso-8859-1?q?h=E9llo?= =?utf-8?b?d8O2cmxk?=\" ((\"Doe,"
		" John\" NIL \"john\" \"example.com\")) ((\"Doe, John\" NIL \"john\" \"example.com\")) ((\"Doe,"
		" John\" NIL \"john\" \"example.com\")) ((NIL NIL \"Group\" NIL)(NIL NIL \"a\" \"b.c\")(\"x y\""
		" \"@r1,@r2\" \"q\" \"d.e\")(NIL NIL NIL NIL)(\"Comment Name\" NIL \"plain\" \"host\")) NIL NIL"
		" NIL \"<abc@example.com>\")",
	/* body */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"1\" NIL \"7BIT\" 7 1)(\"message\" \"rfc822\""
		" NIL \"3\" NIL \"7BIT\" 211 (NIL \"Part 3\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\" \"plain\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 9 1)(\"application\" \"octet-stream\" NIL NIL NIL"
		" \"base64\" 12) \"mixed\") 13) \"mixed\")",
	/* bodystructure */
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"1\" NIL \"7BIT\" 7 1 NIL NIL NIL NIL)(\"message\""
		" \"rfc822\" NIL \"3\" NIL \"7BIT\" 211 (NIL \"Part 3\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\""
		" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 9 1 NIL NIL NIL NIL)(\"application\""
		" \"octet-stream\" NIL NIL NIL \"base64\" 12 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"part3\")"
		" NIL NIL NIL) 13 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"toplevel\") NIL NIL NIL)",
	/* parts */
		"0 r 0 0 644 305 -\n"
		"1 l 316 356 363 - -\n"
		"2 r 375 419 630 482 -\n"
		"2.1 l 490 516 525 - -\n"
		"2.2 l 534 608 620 - b\n"
		"",
	},
};

static void test_corpus(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
		const struct corpus_case *c = &corpus[i];
		size_t len;
		char *msg = load(c->file, c->crlf, &len);
		struct mail_meta m;
		mail_meta_parse(msg, len, &m);
		print_message("corpus %s\n", c->file);
		assert_string_equal(m.envelope, c->envelope);
		assert_string_equal(m.body, c->body);
		assert_string_equal(m.bodystructure, c->bodystructure);
		assert_string_equal(m.parts, c->parts);
		mail_meta_free(&m);
		free(msg);
	}
}

/* The bytes a section points at. */
struct view {
	const char *msg;
	struct mail_part_loc loc;
};

static void assert_span(const char *msg, uint64_t start, uint64_t end, const char *want)
{
	assert_true(end >= start);
	assert_int_equal(end - start, strlen(want));
	assert_memory_equal(msg + start, want, end - start);
}

static struct mail_part_loc find(const char *parts, const char *section)
{
	struct mail_part_loc loc;
	assert_true(mail_parts_find(parts, section, &loc));
	return loc;
}

static void test_rfc822_sections(void **state)
{
	(void)state;
	size_t len;
	char *msg = load("rfc822_multipart", true, &len);
	struct mail_meta m;
	mail_meta_parse(msg, len, &m);

	struct mail_part_loc l = find(m.parts, "");
	assert_int_equal(l.body_start, 0);
	assert_int_equal(l.body_end, len);
	assert_true(l.message);
	assert_int_equal(l.text_start, m.header_size);
	assert_memory_equal(msg + l.text_start - 4, "\r\n\r\n", 4);

	l = find(m.parts, "1");
	assert_span(msg, l.body_start, l.body_end, "Part 1\r\n");
	assert_span(msg, l.mime_start, l.mime_end, "Content-Id: 1\r\nContent-Type: text/plain\r\n\r\n");
	assert_false(l.message);
	assert_false(l.multipart);

	l = find(m.parts, "2");
	assert_true(l.message);
	assert_span(msg, l.body_start, l.text_start,
		    "Subject: Part 3\r\nContent-Type: multipart/mixed; boundary=part3\r\n\r\n");
	assert_memory_equal(msg + l.text_start, "--part3\r\n", 9);
	assert_memory_equal(msg + l.body_end - 9, "--part3--", 9);

	l = find(m.parts, "2.1");
	assert_span(msg, l.body_start, l.body_end, "Part 3.1\r\n");
	assert_span(msg, l.mime_start, l.mime_end, "Content-Type: text/plain\r\n\r\n");

	l = find(m.parts, "2.2");
	assert_int_equal(l.cte, MAIL_CTE_BASE64);
	assert_span(msg, l.body_start, l.body_end, "UGFydCAzLjI=");
	struct buf dec = BUF_INIT;
	mail_cte_decode(l.cte, msg + l.body_start, l.body_end - l.body_start, &dec);
	assert_string_equal(buf_cstr(&dec), "Part 3.2");
	buf_free(&dec);

	struct mail_part_loc none;
	assert_false(mail_parts_find(m.parts, "3", &none));
	assert_false(mail_parts_find(m.parts, "2.3", &none));
	assert_false(mail_parts_find(m.parts, "1.1", &none));
	assert_false(mail_parts_find(m.parts, "0", &none));
	assert_false(mail_parts_find(m.parts, "01", &none));
	assert_false(mail_parts_find(m.parts, "2.", &none));
	assert_false(mail_parts_find(m.parts, ".2", &none));
	assert_false(mail_parts_find(m.parts, "2.HEADER", &none));

	assert_string_equal(m.subject, "h\xc3\xa9llow\xc3\xb6rld");
	assert_string_equal(m.from, "Doe, John <john@example.com>");
	assert_string_equal(m.message_id, "abc@example.com");
	assert_int_equal(m.sent_date, 1795708195);      /* 2026-11-26 15:49:55 UTC */
	assert_int_equal(m.header_size, 313);
	assert_int_equal(m.body_lines, 25);
	mail_meta_free(&m);
	free(msg);
}

static void test_nested_sections(void **state)
{
	(void)state;
	size_t len;
	char *msg = load("nested3", true, &len);
	struct mail_meta m;
	mail_meta_parse(msg, len, &m);

	struct mail_part_loc l = find(m.parts, "1");
	assert_true(l.multipart);
	assert_memory_equal(msg + l.body_start, "--L2\r\n", 6);
	assert_memory_equal(msg + l.body_end - 6, "--L2--", 6);

	l = find(m.parts, "1.1.1");
	assert_span(msg, l.body_start, l.body_end, "<p>deep</p>");
	l = find(m.parts, "1.1.2");
	assert_span(msg, l.body_start, l.body_end, "iVBORw0KGgo=");
	assert_span(msg, l.mime_start, l.mime_end,
		    "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
		    "Content-ID: <img1@x>\r\nContent-Disposition: inline; filename=\"a.png\"\r\n\r\n");
	struct buf dec = BUF_INIT;
	mail_cte_decode(l.cte, msg + l.body_start, l.body_end - l.body_start, &dec);
	assert_int_equal(dec.len, 8);
	assert_memory_equal(dec.data, "\x89PNG\r\n\x1a\n", 8);
	buf_reset(&dec);

	l = find(m.parts, "1.2");
	assert_int_equal(l.cte, MAIL_CTE_QP);
	mail_cte_decode(l.cte, msg + l.body_start, l.body_end - l.body_start, &dec);
	assert_string_equal(buf_cstr(&dec), "caf\xc3\xa9 soft");
	buf_free(&dec);

	l = find(m.parts, "2");
	assert_span(msg, l.body_start, l.body_end, "PDF");
	assert_memory_equal(msg + l.mime_start, "Content-Type: application/pdf", 29);
	struct mail_part_loc none;
	assert_false(mail_parts_find(m.parts, "3", &none));
	assert_false(mail_parts_find(m.parts, "1.3", &none));
	assert_false(mail_parts_find(m.parts, "1.1.3", &none));
	mail_meta_free(&m);
	free(msg);
}

/* The same message with bare LF: same structure, LF-exact offsets. */
static void test_bare_lf(void **state)
{
	(void)state;
	size_t len;
	char *msg = load("rfc822_multipart", false, &len);
	struct mail_meta m;
	mail_meta_parse(msg, len, &m);
	assert_string_equal(m.body,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"1\" NIL \"7BIT\" 7 1)(\"message\" \"rfc822\""
		" NIL \"3\" NIL \"7BIT\" 211 (NIL \"Part 3\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\" \"plain\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 9 1)(\"application\" \"octet-stream\" NIL NIL"
		" NIL \"base64\" 12) \"mixed\") 13) \"mixed\")");
	struct mail_part_loc l = find(m.parts, "1");
	assert_span(msg, l.body_start, l.body_end, "Part 1\n");
	l = find(m.parts, "2.1");
	assert_span(msg, l.body_start, l.body_end, "Part 3.1\n");
	assert_span(msg, l.mime_start, l.mime_end, "Content-Type: text/plain\n\n");
	l = find(m.parts, "2");
	assert_span(msg, l.body_start, l.text_start,
		    "Subject: Part 3\nContent-Type: multipart/mixed; boundary=part3\n\n");
	assert_int_equal(m.header_size, 305);
	mail_meta_free(&m);
	free(msg);
}

/* Mixed line ends: CRLF header, LF body. */
static void test_mixed_line_ends(void **state)
{
	(void)state;
	const char msg[] = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
			   "--b\nContent-Type: text/plain\n\nline\r\n--b\r\n\nlast\n--b--\n";
	struct mail_meta m;
	mail_meta_parse(msg, sizeof msg - 1, &m);
	struct mail_part_loc l = find(m.parts, "1");
	assert_span(msg, l.body_start, l.body_end, "line");
	l = find(m.parts, "2");
	assert_span(msg, l.mime_start, l.mime_end, "\n");
	assert_span(msg, l.body_start, l.body_end, "last");
	mail_meta_free(&m);
}

static void test_rfc2231_decode(void **state)
{
	(void)state;
	size_t len;
	char *msg = load("rfc2231", true, &len);
	struct mail_mime mm;
	mail_mime_parse(msg, len, &mm);
	const struct mail_part *p = &mm.parts[0];
	assert_true(p->ctype.present);
	struct buf v = BUF_INIT, out = BUF_INIT;
	char *type, *subtype;
	struct mail_params params;
	/* the header is folded: unfold like the parser does */
	for (size_t i = 0; i < p->ctype.len; i++)
		if (msg[p->ctype.off + i] != '\r' && msg[p->ctype.off + i] != '\n')
			buf_putc(&v, msg[p->ctype.off + i]);
	assert_true(mail_content_type_parse(v.data, v.len, &type, &subtype, &params));
	const struct mail_param *t = mail_params_get(&params, "title*");
	assert_non_null(t);
	mail_param_decode(t, &out);
	assert_string_equal(buf_cstr(&out), "This is even more ***fun*** isn't it!");
	buf_reset(&out);
	t = mail_params_get(&params, "name");
	assert_non_null(t);
	assert_string_equal(t->value, "ab.txt");
	assert_null(mail_params_get(&params, "gap"));
	assert_non_null(mail_params_get(&params, "gap*2"));
	free(type);
	free(subtype);
	mail_params_free(&params);
	buf_free(&v);
	buf_free(&out);
	mail_mime_free(&mm);
	free(msg);
}

static void test_decoded_fields(void **state)
{
	(void)state;
	size_t len;
	char *msg = load("encoded_words", true, &len);
	struct mail_meta m;
	mail_meta_parse(msg, len, &m);
	/* RFC 2047 §8 example: words in different charsets, whitespace between them dropped;
	 * a character split over two UTF-8 words; malformed words kept as they are */
	assert_string_equal(m.subject,
		"If you can read this you understand the example. and \xe2\x82\xac euro "
		"=?bad?x?y?= =?utf-8?q?unterminated");
	assert_string_equal(m.from, "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>");
	mail_meta_free(&m);
	free(msg);

	msg = load("groups", true, &len);
	mail_meta_parse(msg, len, &m);
	assert_string_equal(m.from, "Pete <pete@silly.test>");
	assert_string_equal(m.subject, "");
	assert_string_equal(m.message_id, "testabcd.1234@silly.test");
	assert_int_equal(m.sent_date, -27723480);      /* 1969-02-14 03:02 UTC */
	mail_meta_free(&m);
	free(msg);

	msg = load("8bit_headers", true, &len);
	mail_meta_parse(msg, len, &m);
	assert_string_equal(m.subject, "caf\xc3\xa9 caf\xc3\xa9");
	assert_string_equal(m.from, "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.example>");
	/* 8-bit header bytes go out as literals */
	assert_non_null(strstr(m.envelope, "(({5}\r\nJ\xc3\xb6rg NIL {5}\r\nj\xc3\xb6rg {15}\r\nb\xc3\xbc"));
	mail_meta_free(&m);
	free(msg);

	msg = load("header_only", true, &len);
	mail_meta_parse(msg, len, &m);
	assert_int_equal(m.header_size, len);
	assert_int_equal(m.body_lines, 0);
	assert_string_equal(m.from, "x@y");
	mail_meta_free(&m);
	free(msg);

	msg = load("body_only", true, &len);
	mail_meta_parse(msg, len, &m);
	assert_int_equal(m.header_size, 2);
	assert_int_equal(m.body_lines, 2);
	assert_string_equal(m.subject, "");
	assert_string_equal(m.from, "");
	assert_string_equal(m.message_id, "");
	assert_int_equal(m.sent_date, 0);
	struct mail_part_loc l = find(m.parts, "1");
	assert_span(msg, l.body_start, l.body_end, "body without any header\r\nsecond line\r\n");
	mail_meta_free(&m);
	free(msg);
}

static void test_empty_message(void **state)
{
	(void)state;
	struct mail_meta m;
	mail_meta_parse("", 0, &m);
	assert_string_equal(m.envelope, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	assert_string_equal(m.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)");
	assert_string_equal(m.bodystructure,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)");
	assert_string_equal(m.parts, "0 r 0 0 0 0 -\n1 l 0 0 0 - -\n");
	assert_int_equal(m.header_size, 0);
	assert_int_equal(m.body_lines, 0);
	assert_string_equal(m.subject, "");
	mail_meta_free(&m);

	mail_meta_parse(NULL, 5, &m);   /* no message at all: same as empty */
	assert_string_equal(m.parts, "0 r 0 0 0 0 -\n1 l 0 0 0 - -\n");
	mail_meta_free(&m);
}

/* A top-level message/rfc822 and message/global: part 1 is the embedded message. */
static void test_toplevel_message(void **state)
{
	(void)state;
	const char msg[] = "Content-Type: message/global\r\n\r\n"
			   "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n";
	struct mail_meta m;
	mail_meta_parse(msg, sizeof msg - 1, &m);
	assert_string_equal(m.body,
		"(\"message\" \"global\" NIL NIL NIL \"7BIT\" 63 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL)"
		" (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 4 1) 4)");
	struct mail_part_loc l = find(m.parts, "1");
	assert_true(l.message);
	assert_span(msg, l.mime_start, l.mime_end, "Content-Type: message/global\r\n\r\n");
	assert_span(msg, l.body_start, l.text_start,
		    "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	assert_span(msg, l.text_start, l.body_end, "hi\r\n");
	l = find(m.parts, "1.1");
	assert_false(l.message);
	assert_span(msg, l.body_start, l.body_end, "hi\r\n");
	assert_span(msg, l.mime_start, l.mime_end,
		    "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	struct mail_part_loc none;
	assert_false(mail_parts_find(m.parts, "1.2", &none));
	assert_false(mail_parts_find(m.parts, "2", &none));
	mail_meta_free(&m);
}

/* Defaults and oddities: invalid Content-Type, multipart without boundary, type case kept. */
static void test_content_type_edge_cases(void **state)
{
	(void)state;
	struct mail_meta m;
	const char *bad = "Content-Type: text\r\n\r\nx";
	mail_meta_parse(bad, strlen(bad), &m);
	assert_string_equal(m.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 1 0)");
	mail_meta_free(&m);

	const char *nob = "Content-Type: multipart/mixed\r\n\r\n--x\r\n";
	mail_meta_parse(nob, strlen(nob), &m);
	assert_string_equal(m.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 5 1)");
	mail_meta_free(&m);

	const char *cased = "Content-Type: TEXT/Html (comment); Charset=\"ISO-8859-1\"; format=flowed\r\n"
			    "Content-Transfer-Encoding: Quoted-Printable (why)\r\n\r\nx=\r\n";
	mail_meta_parse(cased, strlen(cased), &m);
	assert_string_equal(m.bodystructure,
		"(\"TEXT\" \"Html\" (\"Charset\" \"ISO-8859-1\" \"format\" \"flowed\") NIL NIL"
		" \"Quoted-Printable\" 4 1 NIL NIL NIL NIL)");
	struct mail_part_loc l = find(m.parts, "1");
	assert_int_equal(l.cte, MAIL_CTE_QP);
	mail_meta_free(&m);

	const char *image = "Content-Type: image/gif; name=\"a \\\"b\\\".gif\"\r\n"
			    "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin";
	mail_meta_parse(image, strlen(image), &m);
	assert_string_equal(m.body,
		"(\"image\" \"gif\" (\"name\" \"a \\\"b\\\".gif\") NIL NIL \"x-uuencode\" 5)");
	l = find(m.parts, "1");
	assert_int_equal(l.cte, MAIL_CTE_UNKNOWN);
	mail_meta_free(&m);
}

/* The same message followed by garbage, parsed with the right length: identical results. */
static void test_trailing_garbage_ignored(void **state)
{
	(void)state;
	size_t len;
	char *msg = load("nested3", true, &len);
	char *big = xmalloc(len + 64);
	memcpy(big, msg, len);
	memcpy(big + len, "\r\n--L1\r\nContent-Type: text/plain\r\n\r\nGARBAGE\r\n--L1--\r\n", 53);
	struct mail_meta a, b;
	mail_meta_parse(msg, len, &a);
	mail_meta_parse(big, len, &b);
	assert_string_equal(a.bodystructure, b.bodystructure);
	assert_string_equal(a.parts, b.parts);
	assert_string_equal(a.envelope, b.envelope);
	mail_meta_free(&a);
	mail_meta_free(&b);
	free(big);
	free(msg);
}

/* Every prefix of a message parses, and every offset stays inside it. */
static void test_every_prefix(void **state)
{
	(void)state;
	size_t len;
	char *msg = load("rfc822_multipart", true, &len);
	static const char *const sections[] = { "", "1", "2", "2.1", "2.2", "1.1" };
	for (size_t n = 0; n <= len; n++) {
		char *cut = xmalloc(n ? n : 1);
		memcpy(cut, msg, n);
		struct mail_meta m;
		mail_meta_parse(cut, n, &m);
		assert_true(m.header_size <= n);
		for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
			struct mail_part_loc l;
			if (!mail_parts_find(m.parts, sections[s], &l))
				continue;
			assert_true(l.mime_start <= l.mime_end);
			assert_true(l.body_start <= l.body_end);
			assert_true(l.body_end <= n);
			assert_true(l.text_start >= l.body_start && l.text_start <= l.body_end);
		}
		mail_meta_free(&m);
		free(cut);
	}
	free(msg);
}

/* depth multiparts inside each other; fixed-width boundaries so none is a prefix of another */
static void build_nested(struct buf *b, int depth)
{
	for (int i = 0; i < depth; i++)
		buf_printf(b, "Content-Type: multipart/mixed; boundary=\"b%03d\"\r\n\r\n--b%03d\r\n", i, i);
	buf_puts(b, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (int i = depth - 1; i >= 0; i--)
		buf_printf(b, "--b%03d--\r\n", i);
}

static void test_depth_limit(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	build_nested(&b, MAIL_MAX_DEPTH + 10);
	struct mail_mime mm;
	mail_mime_parse(b.data, b.len, &mm);
	uint32_t maxdepth = 0;
	size_t opaque = 0;
	for (size_t i = 0; i < mm.nparts; i++) {
		if (mm.parts[i].depth > maxdepth)
			maxdepth = mm.parts[i].depth;
		if (mm.parts[i].ctype_src == MAIL_CTYPE_OPAQUE)
			opaque++;
	}
	assert_int_equal(maxdepth, MAIL_MAX_DEPTH);
	assert_int_equal(opaque, 1);
	assert_int_equal(mm.nparts, MAIL_MAX_DEPTH + 1);
	mail_mime_free(&mm);

	struct mail_meta m;
	mail_meta_parse(b.data, b.len, &m);
	assert_non_null(strstr(m.bodystructure, "(\"application\" \"octet-stream\" (\"boundary\""));
	/* the deepest addressable part is 64 levels down */
	struct buf sec = BUF_INIT;
	for (int i = 0; i < MAIL_MAX_DEPTH; i++)
		buf_puts(&sec, i ? ".1" : "1");
	struct mail_part_loc l;
	assert_true(mail_parts_find(m.parts, sec.data, &l));
	buf_puts(&sec, ".1");
	assert_false(mail_parts_find(m.parts, sec.data, &l));
	buf_free(&sec);
	mail_meta_free(&m);

	/* exactly at the limit everything is parsed */
	buf_reset(&b);
	build_nested(&b, MAIL_MAX_DEPTH);
	mail_mime_parse(b.data, b.len, &mm);
	assert_int_equal(mm.nparts, MAIL_MAX_DEPTH + 1);
	assert_int_equal(mm.parts[mm.nparts - 1].ctype_src, MAIL_CTYPE_GIVEN);
	assert_int_equal(mm.parts[mm.nparts - 1].kind, MAIL_PART_LEAF);
	mail_mime_free(&mm);
	buf_free(&b);

	/* nested message/rfc822 too */
	for (int i = 0; i < MAIL_MAX_DEPTH + 10; i++)
		buf_puts(&b, "Content-Type: message/rfc822\r\n\r\n");
	buf_puts(&b, "Subject: bottom\r\n\r\nx\r\n");
	mail_meta_parse(b.data, b.len, &m);
	assert_non_null(strstr(m.bodystructure, "\"application\" \"octet-stream\" NIL"));
	mail_meta_free(&m);
	buf_free(&b);
}

static void test_parts_limit(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=a\r\n\r\n");
	for (int i = 0; i < MAIL_MAX_PARTS + 500; i++)
		buf_printf(&b, "--a\r\n\r\n%d\r\n", i);
	buf_puts(&b, "--a--\r\n");
	struct mail_mime mm;
	mail_mime_parse(b.data, b.len, &mm);
	assert_int_equal(mm.nparts, MAIL_MAX_PARTS);
	/* the last part takes everything after it, as opaque text */
	const struct mail_part *root = &mm.parts[0];
	assert_int_equal(root->body_end, b.len);
	mail_mime_free(&mm);

	struct mail_meta m;
	mail_meta_parse(b.data, b.len, &m);
	struct mail_part_loc l;
	assert_true(mail_parts_find(m.parts, "4999", &l));
	assert_span(b.data, l.body_start, l.body_end, "4998");
	assert_false(mail_parts_find(m.parts, "5000", &l));
	mail_meta_free(&m);
	buf_free(&b);
}

/* A 10 MB header: linear time, bounded output. */
static void test_huge_header(void **state)
{
	(void)state;
	size_t big = 10 * 1024 * 1024;
	struct buf b = BUF_INIT;
	buf_puts(&b, "Subject: ");
	buf_reserve(&b, big * 2);
	for (size_t i = 0; i < big / 8; i++)
		buf_append(&b, "a@b.cd, ", 8);
	buf_puts(&b, "\r\nTo: ");
	for (size_t i = 0; i < big / 8; i++)
		buf_append(&b, "a@b.cd, ", 8);
	buf_puts(&b, "\r\n\r\nbody\r\n");
	struct mail_meta m;
	mail_meta_parse(b.data, b.len, &m);
	assert_true(strlen(m.envelope) < 2 * 1024 * 1024);
	assert_true(strlen(m.subject) <= 64 * 1024);
	assert_int_equal(m.body_lines, 1);
	mail_meta_free(&m);
	buf_free(&b);

	/* many short header lines and many folds */
	buf_puts(&b, "Subject: x");
	for (size_t i = 0; i < 1000000; i++)
		buf_puts(&b, "\r\n y");
	buf_puts(&b, "\r\n");
	for (size_t i = 0; i < 200000; i++)
		buf_puts(&b, "X-A: b\r\n");
	buf_puts(&b, "\r\n");
	mail_meta_parse(b.data, b.len, &m);
	assert_int_equal(m.header_size, b.len);
	assert_true(strlen(m.subject) <= 64 * 1024);
	mail_meta_free(&m);
	buf_free(&b);
}

/* Many lines starting with "--" against deep boundaries stay fast (no quadratic rescans). */
static void test_many_dash_lines(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < MAIL_MAX_DEPTH - 1; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%0199d\"\r\n\r\n--%0199d\r\n", i, i);
	buf_puts(&b, "\r\n");
	for (int i = 0; i < 200000; i++)
		buf_puts(&b, "--00000000000000000000000000000000000000000000000000000000000000000000000x\r\n");
	struct mail_meta m;
	mail_meta_parse(b.data, b.len, &m);
	assert_true(strlen(m.parts) > 0);
	mail_meta_free(&m);
	buf_free(&b);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_rfc822_sections),
		cmocka_unit_test(test_nested_sections),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_mixed_line_ends),
		cmocka_unit_test(test_rfc2231_decode),
		cmocka_unit_test(test_decoded_fields),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_toplevel_message),
		cmocka_unit_test(test_content_type_edge_cases),
		cmocka_unit_test(test_trailing_garbage_ignored),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_parts_limit),
		cmocka_unit_test(test_huge_header),
		cmocka_unit_test(test_many_dash_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
