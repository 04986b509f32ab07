/*
 * test_dns.c — src/dns/ without a DNS server: the rdata parsers of
 * dns_int.h on well-formed and hostile wire data, the name checks, the
 * reverse names, MX ordering, the mapping of a libunbound result
 * (dns_answer_build, fed hand-made struct ub_result), and the resolver's
 * callback rules on names libunbound answers itself (localhost, .invalid).
 * tests/e2e/test_dns.py drives the same code against a real NSD.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/dns_int.h"
#include "lib/log.h"

/* Wire bytes from a string literal (which may hold NULs): W("\3foo\0"). */
#define W(s) (const uint8_t *)(s), (sizeof(s) - 1)

static void name_ok(const uint8_t *p, size_t len, const char *want, size_t want_used)
{
	char out[DNS_NAME_TEXT_MAX];
	size_t used = 12345;
	assert_true(dns_rdata_name(p, len, &used, out, sizeof out));
	assert_string_equal(out, want);
	assert_int_equal(used, want_used);
}

static void name_bad(const uint8_t *p, size_t len)
{
	char out[DNS_NAME_TEXT_MAX];
	size_t used;
	assert_false(dns_rdata_name(p, len, &used, out, sizeof out));
}

/* A wire name of labels of the given lengths, each filled with ch, then the root. */
static size_t make_name(uint8_t *buf, const size_t *labels, size_t n, uint8_t ch)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		buf[o++] = (uint8_t)labels[i];
		memset(buf + o, ch, labels[i]);
		o += labels[i];
	}
	buf[o++] = 0;
	return o;
}

static void test_name_basic(void **state)
{
	(void)state;
	name_ok(W("\0"), "", 1);
	name_ok(W("\3foo\0"), "foo", 5);
	name_ok(W("\3MX1\7Example\4TEST\0"), "mx1.example.test", 18);
	name_ok(W("\3_25\4_tcp\2mx\0"), "_25._tcp.mx", 13);
	/* bytes after the name are the caller's business: used says where it ended */
	name_ok(W("\3foo\0trailing"), "foo", 5);
}

static void test_name_truncated(void **state)
{
	(void)state;
	name_bad(W(""));
	name_bad(W("\3"));
	name_bad(W("\3fo"));
	name_bad(W("\3foo"));               /* no root label */
	name_bad(W("\3foo\3bar"));
	name_bad((const uint8_t *)"\3foo\0", 4);  /* the root byte is just past len */
}

static void test_name_pointers_and_label_types(void **state)
{
	(void)state;
	name_bad(W("\xc0\x0c"));
	name_bad(W("\3foo\xc0\x00"));
	name_bad(W("\xc0"));
	name_bad(W("\x40\0"));              /* extended label type (RFC 6891) */
	name_bad(W("\x80\0"));
	name_bad(W("\xff\0"));
}

static void test_name_label_and_total_limits(void **state)
{
	(void)state;
	uint8_t buf[600];
	char want[600];

	size_t l63[] = { 63 };
	size_t n = make_name(buf, l63, 1, 'a');
	memset(want, 'a', 63);
	want[63] = '\0';
	name_ok(buf, n, want, 65);

	/* 64 is 0x40: not a length at all */
	size_t l64[] = { 64 };
	n = make_name(buf, l64, 1, 'a');
	name_bad(buf, n);

	/* 63+1 + 63+1 + 63+1 + 61+1 + root = 255 octets: the longest name */
	size_t l255[] = { 63, 63, 63, 61 };
	n = make_name(buf, l255, 4, 'b');
	assert_int_equal(n, 255);
	char out[DNS_NAME_TEXT_MAX];
	size_t used;
	assert_true(dns_rdata_name(buf, n, &used, out, sizeof out));
	assert_int_equal(used, 255);
	assert_int_equal(strlen(out), 253);

	/* one octet more */
	size_t l256[] = { 63, 63, 63, 62 };
	n = make_name(buf, l256, 4, 'b');
	assert_int_equal(n, 256);
	name_bad(buf, n);

	/* many short labels over 255 */
	size_t ones[128];
	for (size_t i = 0; i < 128; i++)
		ones[i] = 1;
	n = make_name(buf, ones, 127, 'c');    /* 127*2 + 1 = 255 */
	assert_true(dns_rdata_name(buf, n, &used, out, sizeof out));
	n = make_name(buf, ones, 128, 'c');    /* 257 */
	name_bad(buf, n);

	/* the longest name in the longest text form still fits DNS_NAME_TEXT_MAX */
	n = make_name(buf, l255, 4, 0);
	assert_true(dns_rdata_name(buf, n, &used, out, sizeof out));
	assert_int_equal(strlen(out), 250 * 4 + 3);
	assert_true(strlen(out) < DNS_NAME_TEXT_MAX);
}

static void test_name_escaping(void **state)
{
	(void)state;
	/* '.' and '\' inside a label, so "a.b" as one label is not two labels */
	name_ok(W("\3a.b\4test\0"), "a\\.b.test", 10);
	name_ok(W("\3a\\b\0"), "a\\\\b", 5);
	/* not printable ASCII: \DDD, decimal */
	name_ok(W("\1\0\0"), "\\000", 3);
	name_ok(W("\1 \0"), "\\032", 3);
	name_ok(W("\1\x7f\0"), "\\127", 3);
	name_ok(W("\2\xc3\xa9\0"), "\\195\\169", 4);
	name_ok(W("\1\xff\0"), "\\255", 3);
	name_ok(W("\3\t\n\r\0"), "\\009\\010\\013", 5);
	/* printable specials stay as they are, upper case is lowered */
	name_ok(W("\5*-_\"~\0"), "*-_\"~", 7);
	name_ok(W("\3ABC\0"), "abc", 5);
	/* such names are never valid query names */
	assert_false(dns_name_valid("a\\.b.test"));
	assert_false(dns_name_valid("\\000"));
}

static void test_name_output_too_small(void **state)
{
	(void)state;
	char out[16];
	size_t used;
	assert_false(dns_rdata_name(W("\0"), &used, out, 0));
	assert_true(dns_rdata_name(W("\0"), &used, out, 1));
	assert_string_equal(out, "");
	/* "foo" needs 4 */
	assert_false(dns_rdata_name(W("\3foo\0"), &used, out, 3));
	assert_true(dns_rdata_name(W("\3foo\0"), &used, out, 4));
	assert_string_equal(out, "foo");
	/* "a.b" needs 4: the dot counts */
	assert_false(dns_rdata_name(W("\1a\1b\0"), &used, out, 3));
	assert_true(dns_rdata_name(W("\1a\1b\0"), &used, out, 4));
	assert_string_equal(out, "a.b");
	/* "\000" needs 5: an escape is not cut in half */
	assert_false(dns_rdata_name(W("\1\0\0"), &used, out, 4));
	assert_true(dns_rdata_name(W("\1\0\0"), &used, out, 5));
	assert_string_equal(out, "\\000");
	assert_false(dns_rdata_name(W("\1.\0"), &used, out, 2));
	assert_true(dns_rdata_name(W("\1.\0"), &used, out, 3));
	assert_string_equal(out, "\\.");
}

static void test_mx(void **state)
{
	(void)state;
	struct dns_mx mx;
	assert_true(dns_rdata_mx(W("\0\x0a\3mx1\7example\4test\0"), &mx));
	assert_int_equal(mx.pref, 10);
	assert_string_equal(mx.host, "mx1.example.test");
	assert_true(dns_rdata_mx(W("\xff\xff\2MX\0"), &mx));
	assert_int_equal(mx.pref, 65535);
	assert_string_equal(mx.host, "mx");
	/* the root: a null MX (RFC 7505) when it is the only record */
	assert_true(dns_rdata_mx(W("\0\0\0"), &mx));
	assert_int_equal(mx.pref, 0);
	assert_string_equal(mx.host, "");
	/* short, truncated, trailing bytes, pointer */
	assert_false(dns_rdata_mx(W(""), &mx));
	assert_false(dns_rdata_mx(W("\0"), &mx));
	assert_false(dns_rdata_mx(W("\0\x0a"), &mx));
	assert_false(dns_rdata_mx(W("\0\x0a\3mx"), &mx));
	assert_false(dns_rdata_mx(W("\0\x0a\3mx1"), &mx));
	assert_false(dns_rdata_mx(W("\0\x0a\3mx1\0\0"), &mx));
	assert_false(dns_rdata_mx(W("\0\x0a\0x"), &mx));
	assert_false(dns_rdata_mx(W("\0\x0a\xc0\x0c"), &mx));
	/* a valid wire name whose text does not fit host[256] */
	uint8_t buf[300] = { 0, 10 };
	size_t labels[] = { 60, 60 };
	size_t n = make_name(buf + 2, labels, 2, 1);
	assert_false(dns_rdata_mx(buf, n + 2, &mx));
	/* the longest plain name does */
	size_t l255[] = { 63, 63, 63, 61 };
	n = make_name(buf + 2, l255, 4, 'x');
	assert_true(dns_rdata_mx(buf, n + 2, &mx));
	assert_int_equal(strlen(mx.host), 253);
}

static void test_addr(void **state)
{
	(void)state;
	char out[46];
	assert_true(dns_rdata_addr(W("\xc0\0\2\1"), DNS_A, out, sizeof out));
	assert_string_equal(out, "192.0.2.1");
	assert_true(dns_rdata_addr(W("\0\0\0\0"), DNS_A, out, sizeof out));
	assert_string_equal(out, "0.0.0.0");
	assert_true(dns_rdata_addr(W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1"), DNS_AAAA, out, sizeof out));
	assert_string_equal(out, "2001:db8::1");
	assert_true(dns_rdata_addr(W("\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\0\2\1"), DNS_AAAA, out, sizeof out));
	assert_string_equal(out, "::ffff:192.0.2.1");
	assert_true(dns_rdata_addr(W("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), DNS_AAAA,
				   out, sizeof out));
	assert_string_equal(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	/* wrong lengths for the type */
	assert_false(dns_rdata_addr(W(""), DNS_A, out, sizeof out));
	assert_false(dns_rdata_addr(W("\xc0\0\2"), DNS_A, out, sizeof out));
	assert_false(dns_rdata_addr(W("\xc0\0\2\1\0"), DNS_A, out, sizeof out));
	assert_false(dns_rdata_addr(W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1"), DNS_A, out, sizeof out));
	assert_false(dns_rdata_addr(W("\xc0\0\2\1"), DNS_AAAA, out, sizeof out));
	assert_false(dns_rdata_addr(W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0"), DNS_AAAA, out, sizeof out));
	assert_false(dns_rdata_addr(W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1\0"), DNS_AAAA, out, sizeof out));
	/* not an address type */
	assert_false(dns_rdata_addr(W("\xc0\0\2\1"), DNS_MX, out, sizeof out));
	/* output too small: "192.0.2.1" needs 10 */
	assert_false(dns_rdata_addr(W("\xc0\0\2\1"), DNS_A, out, 9));
	assert_true(dns_rdata_addr(W("\xc0\0\2\1"), DNS_A, out, 10));
	assert_string_equal(out, "192.0.2.1");
}

static void txt_ok(const uint8_t *p, size_t len, const char *want, size_t want_len)
{
	struct dns_txt t = { 0 };
	assert_true(dns_rdata_txt(p, len, &t));
	assert_int_equal(t.len, want_len);
	assert_memory_equal(t.data, want, want_len);
	assert_int_equal(t.data[t.len], '\0');
	free(t.data);
}

static void txt_bad(const uint8_t *p, size_t len)
{
	struct dns_txt t = { 0 };
	assert_false(dns_rdata_txt(p, len, &t));
	assert_null(t.data);    /* and LeakSanitizer sees nothing allocated */
}

static void test_txt(void **state)
{
	(void)state;
	txt_ok(W("\5hello"), "hello", 5);
	txt_ok(W("\7v=spf1 \4-all"), "v=spf1 -all", 11);
	/* zero-length strings anywhere */
	txt_ok(W("\0"), "", 0);
	txt_ok(W("\0\0\0"), "", 0);
	txt_ok(W("\2ab\0\2cd"), "abcd", 4);
	txt_ok(W("\0\1x\0"), "x", 1);
	/* an empty rdata (no string at all) reads as one empty string */
	txt_ok(W(""), "", 0);
	/* bytes kept as they are, NUL included: escaping is the printer's job */
	txt_ok(W("\3a\0b"), "a\0b", 3);
	txt_ok(W("\2\xff\\"), "\xff\\", 2);
	/* truncated */
	txt_bad(W("\5hell"));
	txt_bad(W("\1"));
	txt_bad(W("\2ab\5c"));
	txt_bad(W("\2ab\1"));
	txt_bad(W("\xff"));
	/* the longest string, and several of them */
	uint8_t buf[3 * 256];
	for (int i = 0; i < 3; i++) {
		buf[i * 256] = 255;
		memset(buf + i * 256 + 1, 'a' + i, 255);
	}
	struct dns_txt t = { 0 };
	assert_true(dns_rdata_txt(buf, sizeof buf, &t));
	assert_int_equal(t.len, 3 * 255);
	assert_int_equal(t.data[0], 'a');
	assert_int_equal(t.data[255], 'b');
	assert_int_equal(t.data[3 * 255 - 1], 'c');
	free(t.data);
	txt_bad(buf, sizeof buf - 1);
}

static void test_tlsa(void **state)
{
	(void)state;
	struct dns_tlsa t = { 0 };
	assert_true(dns_rdata_tlsa(W("\3\1\1\xde\xad\xbe\xef"), &t));
	assert_int_equal(t.usage, 3);
	assert_int_equal(t.selector, 1);
	assert_int_equal(t.mtype, 1);
	assert_int_equal(t.len, 4);
	assert_memory_equal(t.data, "\xde\xad\xbe\xef", 4);
	free(t.data);
	/* no association data: well-formed, never matches */
	memset(&t, 0, sizeof t);
	assert_true(dns_rdata_tlsa(W("\2\0\2"), &t));
	assert_int_equal(t.len, 0);
	assert_non_null(t.data);
	free(t.data);
	/* out-of-range field values are the caller's to judge */
	memset(&t, 0, sizeof t);
	assert_true(dns_rdata_tlsa(W("\xff\xff\xff\0"), &t));
	assert_int_equal(t.usage, 255);
	free(t.data);
	/* short */
	memset(&t, 0, sizeof t);
	assert_false(dns_rdata_tlsa(W(""), &t));
	assert_false(dns_rdata_tlsa(W("\3"), &t));
	assert_false(dns_rdata_tlsa(W("\3\1"), &t));
	assert_null(t.data);
}

static void test_ptr(void **state)
{
	(void)state;
	char out[DNS_NAME_TEXT_MAX];
	assert_true(dns_rdata_ptr(W("\3MX1\7example\4test\0"), out, sizeof out));
	assert_string_equal(out, "mx1.example.test");
	assert_true(dns_rdata_ptr(W("\0"), out, sizeof out));
	assert_string_equal(out, "");
	assert_false(dns_rdata_ptr(W(""), out, sizeof out));
	assert_false(dns_rdata_ptr(W("\3mx1"), out, sizeof out));
	assert_false(dns_rdata_ptr(W("\3mx1\0\0"), out, sizeof out));     /* trailing byte */
	assert_false(dns_rdata_ptr(W("\3mx1\xc0\x0c"), out, sizeof out));
	assert_false(dns_rdata_ptr(W("\3mx1\0"), out, 3));
}

static void test_name_valid(void **state)
{
	(void)state;
	char name[300];
	assert_false(dns_name_valid(NULL));
	assert_false(dns_name_valid(""));
	assert_false(dns_name_valid("."));
	assert_false(dns_name_valid(".."));
	assert_true(dns_name_valid("a"));
	assert_true(dns_name_valid("a."));
	assert_true(dns_name_valid("example.test"));
	assert_true(dns_name_valid("example.test."));
	assert_true(dns_name_valid("_25._tcp.mx-1.example.test"));
	assert_true(dns_name_valid("192.0.2.1"));
	assert_true(dns_name_valid("xn--bcher-kva.example"));
	/* empty labels */
	assert_false(dns_name_valid(".a"));
	assert_false(dns_name_valid("a.."));
	assert_false(dns_name_valid("a..b"));
	assert_false(dns_name_valid("a.b.."));
	/* characters: printable ASCII only, no backslash (libunbound would read an escape) */
	assert_false(dns_name_valid("a\\.b"));
	assert_false(dns_name_valid("a\\"));
	assert_false(dns_name_valid("\\065.test"));
	assert_false(dns_name_valid("sp ace.test"));
	assert_false(dns_name_valid("tab\t.test"));
	assert_false(dns_name_valid("del\x7f.test"));
	assert_false(dns_name_valid("b\xc3\xbc" "cher.test"));
	assert_false(dns_name_valid("new\nline.test"));

	/* labels of 63 and 64 */
	memset(name, 'a', 63);
	strcpy(name + 63, ".test");
	assert_true(dns_name_valid(name));
	memset(name, 'a', 64);
	strcpy(name + 64, ".test");
	assert_false(dns_name_valid(name));
	memset(name, 'a', 63);
	name[63] = '\0';
	assert_true(dns_name_valid(name));
	name[63] = 'a';
	name[64] = '\0';
	assert_false(dns_name_valid(name));
	/* the last label counts too */
	memcpy(name, "x.", 2);
	memset(name + 2, 'a', 64);
	name[66] = '\0';
	assert_false(dns_name_valid(name));

	/* 253 characters (255 octets on the wire), 253 plus the trailing dot, 254 */
	for (int i = 0; i < 4; i++) {
		memset(name + i * 64, 'b', 63);
		name[i * 64 + 63] = '.';
	}
	name[253] = '\0';       /* labels of 63, 63, 63, 61 */
	assert_int_equal(strlen(name), 253);
	assert_true(dns_name_valid(name));
	name[253] = '.';
	name[254] = '\0';
	assert_true(dns_name_valid(name));
	name[253] = 'b';
	assert_false(dns_name_valid(name));
	name[254] = '.';
	name[255] = '\0';
	assert_false(dns_name_valid(name));
}

static void test_reverse_name(void **state)
{
	(void)state;
	char out[128];
	assert_true(dns_reverse_name("192.0.2.1", out, sizeof out));
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	assert_true(dns_reverse_name("0.0.0.0", out, sizeof out));
	assert_string_equal(out, "0.0.0.0.in-addr.arpa");
	assert_true(dns_reverse_name("255.255.255.255", out, sizeof out));
	assert_string_equal(out, "255.255.255.255.in-addr.arpa");
	assert_true(dns_reverse_name("2001:db8::1", out, sizeof out));
	assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_true(dns_reverse_name("2001:DB8:0:0:0:0:ABCD:ef01", out, sizeof out));
	assert_string_equal(out, "1.0.f.e.d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_true(dns_reverse_name("::", out, sizeof out));
	assert_string_equal(out, "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
	/* a mapped IPv4 address is an IPv6 address */
	assert_true(dns_reverse_name("::ffff:192.0.2.1", out, sizeof out));
	assert_string_equal(out, "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");

	/* not numeric addresses */
	const char *bad[] = { "", "192.0.2", "192.0.2.256", "192.0.2.1 ", " 192.0.2.1", "192.0.2.1.",
			      "0x7f.0.0.1", "example.test", "2001:db8::g", "2001:db8:::1", "[::1]",
			      "::1%lo", "1:2:3:4:5:6:7:8:9" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		print_message("%s\n", bad[i]);
		assert_false(dns_reverse_name(bad[i], out, sizeof out));
	}

	/* buffer sizes: exactly enough, one less */
	assert_true(dns_reverse_name("192.0.2.1", out, sizeof "1.2.0.192.in-addr.arpa"));
	assert_false(dns_reverse_name("192.0.2.1", out, sizeof "1.2.0.192.in-addr.arpa" - 1));
	assert_false(dns_reverse_name("192.0.2.1", out, 0));
	size_t v6 = 32 * 2 + sizeof "ip6.arpa";
	assert_int_equal(v6, 73);
	memset(out, 'X', sizeof out);
	assert_true(dns_reverse_name("2001:db8::1", out, v6));
	assert_int_equal(strlen(out), 72);
	assert_int_equal(out[73], 'X');         /* nothing written past the size */
	assert_false(dns_reverse_name("2001:db8::1", out, v6 - 1));
}

static void test_mx_sort(void **state)
{
	(void)state;
	dns_mx_sort(NULL, 0);
	struct dns_mx one = { 7, "only" };
	dns_mx_sort(&one, 1);
	assert_int_equal(one.pref, 7);
	assert_string_equal(one.host, "only");

	struct dns_mx mx[] = {
		{ 30, "c" }, { 65535, "last" }, { 10, "a1" }, { 0, "first" }, { 20, "b" }, { 10, "a2" }, { 10, "a3" },
	};
	const size_t n = sizeof mx / sizeof mx[0];
	int first_seen[3] = { 0 };
	for (int round = 0; round < 300; round++) {
		dns_mx_sort(mx, n);
		assert_int_equal(mx[0].pref, 0);
		assert_string_equal(mx[0].host, "first");
		/* equal preferences: all three kept, each once */
		int seen[3] = { 0 };
		for (size_t i = 1; i <= 3; i++) {
			assert_int_equal(mx[i].pref, 10);
			assert_int_equal(strlen(mx[i].host), 2);
			assert_int_equal(mx[i].host[0], 'a');
			seen[mx[i].host[1] - '1']++;
		}
		assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
		first_seen[mx[1].host[1] - '1']++;
		assert_int_equal(mx[4].pref, 20);
		assert_int_equal(mx[5].pref, 30);
		assert_int_equal(mx[6].pref, 65535);
		assert_string_equal(mx[6].host, "last");
	}
	/* a shuffle: each of the three comes first sometimes (fails with p < 3 * (2/3)^300) */
	assert_true(first_seen[0] > 0 && first_seen[1] > 0 && first_seen[2] > 0);
}

static void test_status_name(void **state)
{
	(void)state;
	assert_string_equal(dns_status_name(DNS_OK), "OK");
	assert_string_equal(dns_status_name(DNS_NXDOMAIN), "NXDOMAIN");
	assert_string_equal(dns_status_name(DNS_NODATA), "NODATA");
	assert_string_equal(dns_status_name(DNS_TEMPFAIL), "TEMPFAIL");
	assert_string_equal(dns_status_name(DNS_BADNAME), "BADNAME");
	assert_string_equal(dns_status_name((enum dns_status)99), "?");
}

/* ---- dns_answer_build on hand-made libunbound results ------------------- */

struct fake {
	struct ub_result u;
	char *data[8];
	int len[8];
};

/* An empty result with this rcode; fake_add() appends rdata (and sets havedata). */
static void fake_init(struct fake *f, int rcode)
{
	memset(f, 0, sizeof *f);
	f->u.qname = "q.example.test";
	f->u.rcode = rcode;
	f->u.data = f->data;
	f->u.len = f->len;
}

static void fake_add(struct fake *f, const void *p, int len)
{
	size_t i = 0;
	while (f->data[i])
		i++;
	assert_true(i < 7);
	f->data[i] = (char *)p;
	f->len[i] = len;
	f->u.havedata = 1;
}

static void test_answer_status(void **state)
{
	(void)state;
	struct fake f;
	struct dns_result r;

	fake_init(&f, 0);
	f.u.bogus = 1;
	f.u.why_bogus = "signature expired";
	fake_add(&f, "\0\x0a\0", 3);
	dns_answer_build(&f.u, DNS_MX, &r);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	assert_true(r.bogus);
	assert_false(r.secure);
	assert_string_equal(r.why, "signature expired");
	assert_int_equal(r.n, 0);
	assert_null(r.mx);
	dns_answer_free(&r);

	fake_init(&f, 0);
	f.u.bogus = 1;
	dns_answer_build(&f.u, DNS_A, &r);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	assert_string_equal(r.why, "bogus");
	dns_answer_free(&r);

	fake_init(&f, 3);
	f.u.nxdomain = 1;
	f.u.secure = 1;
	dns_answer_build(&f.u, DNS_MX, &r);
	assert_int_equal(r.status, DNS_NXDOMAIN);
	assert_true(r.secure);
	assert_false(r.bogus);
	assert_int_equal(r.type, DNS_MX);
	dns_answer_free(&r);

	fake_init(&f, 2);
	f.u.secure = 1;         /* never secure with an error */
	dns_answer_build(&f.u, DNS_A, &r);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	assert_false(r.secure);
	assert_false(r.bogus);
	assert_string_equal(r.why, "SERVFAIL");
	dns_answer_free(&r);

	const struct { int rcode; const char *why; } errs[] = {
		{ 1, "FORMERR" }, { 4, "NOTIMP" }, { 5, "REFUSED" }, { 9, "rcode" },
	};
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		fake_init(&f, errs[i].rcode);
		dns_answer_build(&f.u, DNS_TXT, &r);
		assert_int_equal(r.status, DNS_TEMPFAIL);
		assert_string_equal(r.why, errs[i].why);
		dns_answer_free(&r);
	}

	/* NOERROR without data: NODATA, secure when the denial was proved */
	fake_init(&f, 0);
	f.u.secure = 1;
	dns_answer_build(&f.u, DNS_TLSA, &r);
	assert_int_equal(r.status, DNS_NODATA);
	assert_true(r.secure);
	assert_int_equal(r.n, 0);
	dns_answer_free(&r);

	fake_init(&f, 0);
	f.u.data = NULL;
	dns_answer_build(&f.u, DNS_A, &r);
	assert_int_equal(r.status, DNS_NODATA);
	dns_answer_free(&r);

	dns_answer_fail(&r, DNS_PTR, DNS_BADNAME, "x");
	assert_int_equal(r.type, DNS_PTR);
	assert_int_equal(r.status, DNS_BADNAME);
	assert_string_equal(r.why, "x");
	assert_int_equal(r.n, 0);
	dns_answer_free(&r);
}

static void test_answer_mx(void **state)
{
	(void)state;
	struct fake f;
	struct dns_result r;

	fake_init(&f, 0);
	f.u.secure = 1;
	fake_add(&f, "\0\x14\2mx\1b\0", 8);
	fake_add(&f, "\0\x0a\2mx\1a\0", 8);
	fake_add(&f, "\0\x0a\2mx", 5);      /* malformed: dropped */
	fake_add(&f, "\0\x05\2MX\1C\0", 8);
	dns_answer_build(&f.u, DNS_MX, &r);
	assert_int_equal(r.status, DNS_OK);
	assert_true(r.secure);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.mx[0].pref, 5);
	assert_string_equal(r.mx[0].host, "mx.c");
	assert_string_equal(r.mx[1].host, "mx.a");
	assert_string_equal(r.mx[2].host, "mx.b");
	assert_false(r.null_mx);
	dns_answer_free(&r);
	assert_null(r.mx);
	assert_int_equal(r.n, 0);
	dns_answer_free(&r);    /* twice is harmless */

	/* null MX: exactly one record, the root */
	fake_init(&f, 0);
	fake_add(&f, "\0\0\0", 3);
	dns_answer_build(&f.u, DNS_MX, &r);
	assert_int_equal(r.status, DNS_OK);
	assert_true(r.null_mx);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.mx[0].host, "");
	dns_answer_free(&r);

	/* the root among others is not a null MX */
	fake_init(&f, 0);
	fake_add(&f, "\0\0\0", 3);
	fake_add(&f, "\0\x0a\2mx\0", 6);
	dns_answer_build(&f.u, DNS_MX, &r);
	assert_int_equal(r.n, 2);
	assert_false(r.null_mx);
	dns_answer_free(&r);

	/* nor is it when another record was malformed */
	fake_init(&f, 0);
	fake_add(&f, "\0\0\0", 3);
	fake_add(&f, "\0", 1);
	dns_answer_build(&f.u, DNS_MX, &r);
	assert_int_equal(r.n, 1);
	assert_false(r.null_mx);
	dns_answer_free(&r);

	/* nothing well-formed left: a temporary failure, nothing allocated */
	fake_init(&f, 0);
	f.u.secure = 1;
	fake_add(&f, "\0", 1);
	fake_add(&f, "\0\x0a\xc0\x0c", 4);
	fake_add(&f, "\0\x0a\2mx\0", -1);   /* a negative length from libunbound */
	dns_answer_build(&f.u, DNS_MX, &r);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	assert_string_equal(r.why, "malformed rdata");
	assert_false(r.secure);
	assert_int_equal(r.n, 0);
	assert_null(r.mx);
	dns_answer_free(&r);
}

static void test_answer_other_types(void **state)
{
	(void)state;
	struct fake f;
	struct dns_result r;

	fake_init(&f, 0);
	fake_add(&f, "\xc0\0\2\1", 4);
	fake_add(&f, "\xc0\0\2", 3);
	fake_add(&f, "\x7f\0\0\1", 4);
	dns_answer_build(&f.u, DNS_A, &r);
	assert_int_equal(r.status, DNS_OK);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.addrs[0], "192.0.2.1");
	assert_string_equal(r.addrs[1], "127.0.0.1");
	dns_answer_free(&r);

	/* an A record in an AAAA answer is malformed */
	fake_init(&f, 0);
	fake_add(&f, "\xc0\0\2\1", 4);
	dns_answer_build(&f.u, DNS_AAAA, &r);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	dns_answer_free(&r);

	fake_init(&f, 0);
	fake_add(&f, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	dns_answer_build(&f.u, DNS_AAAA, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.addrs[0], "::1");
	dns_answer_free(&r);

	fake_init(&f, 0);
	fake_add(&f, "\3abc\0\3def", 9);
	fake_add(&f, "\5ab", 3);
	fake_add(&f, "", 0);
	dns_answer_build(&f.u, DNS_TXT, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.txt[0].len, 6);
	assert_string_equal(r.txt[0].data, "abcdef");
	assert_int_equal(r.txt[1].len, 0);
	assert_string_equal(r.txt[1].data, "");
	dns_answer_free(&r);

	fake_init(&f, 0);
	fake_add(&f, "\3\1\1\xab", 4);
	fake_add(&f, "\3\1", 2);
	dns_answer_build(&f.u, DNS_TLSA, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.tlsa[0].usage, 3);
	assert_int_equal(r.tlsa[0].len, 1);
	assert_int_equal(r.tlsa[0].data[0], 0xab);
	dns_answer_free(&r);

	fake_init(&f, 0);
	fake_add(&f, "\4HOST\7example\0", 14);
	fake_add(&f, "\4host\7example\0\0", 15);
	dns_answer_build(&f.u, DNS_PTR, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.names[0], "host.example");
	dns_answer_free(&r);
	assert_null(r.names);
}

/* ---- the resolver, on names libunbound answers without a server ---------- */

struct seen {
	int calls;
	enum dns_status status;
	char first[DNS_NAME_TEXT_MAX];
	struct dns_resolver **free_me;      /* dns_resolver_free() from the callback */
	struct dns_resolver *lookup_more;   /* start another query from the callback */
	struct seen *more;
	struct event_base *base;
	int *pending;
};

static void on_result(const struct dns_result *r, void *arg)
{
	struct seen *s = arg;
	s->calls++;
	s->status = r->status;
	if (r->status == DNS_OK && r->n > 0) {
		const char *v = r->type == DNS_PTR ? r->names[0] : r->type == DNS_MX ? r->mx[0].host : r->addrs[0];
		snprintf(s->first, sizeof s->first, "%s", v);
	}
	if (s->lookup_more) {
		assert_non_null(dns_lookup(s->lookup_more, "localhost", DNS_AAAA, on_result, s->more));
		(*s->pending)++;
	}
	if (s->free_me)
		dns_resolver_free(s->free_me);
	if (--*s->pending == 0)
		event_base_loopbreak(s->base);
}

static struct dns_resolver *local_resolver(struct event_base *base)
{
	/* A dead forwarder: nothing in these tests may reach it. */
	struct dns_resolver *r = dns_resolver_new(base, "127.0.0.1:9", "none");
	assert_non_null(r);
	return r;
}

static void run_loop(struct event_base *base)
{
	struct timeval guard = { 10, 0 };
	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
}

static void test_resolver_local_answers(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct dns_resolver *r = local_resolver(base);
	int pending = 0;
	struct seen a = { .base = base, .pending = &pending }, aaaa = a, ptr = a, nx = a, nodata = a;
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &a));
	assert_non_null(dns_lookup(r, "LOCALHOST.", DNS_AAAA, on_result, &aaaa));
	assert_non_null(dns_lookup(r, "127.0.0.1", DNS_PTR, on_result, &ptr));
	assert_non_null(dns_lookup(r, "no.such.invalid", DNS_A, on_result, &nx));
	assert_non_null(dns_lookup(r, "localhost", DNS_MX, on_result, &nodata));
	pending = 5;
	/* never from inside dns_lookup() */
	assert_int_equal(a.calls + aaaa.calls + ptr.calls + nx.calls + nodata.calls, 0);
	run_loop(base);
	assert_int_equal(pending, 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, DNS_OK);
	assert_string_equal(a.first, "127.0.0.1");
	assert_int_equal(aaaa.status, DNS_OK);
	assert_string_equal(aaaa.first, "::1");
	assert_int_equal(ptr.status, DNS_OK);
	assert_string_equal(ptr.first, "localhost");
	assert_int_equal(nx.status, DNS_NXDOMAIN);
	assert_int_equal(nodata.status, DNS_NODATA);
	dns_resolver_free(&r);
	assert_null(r);
	dns_resolver_free(&r);
	event_base_free(base);
}

static void test_resolver_refuses_bad_names(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct dns_resolver *r = local_resolver(base);
	int pending = 0;
	struct seen s = { .base = base, .pending = &pending };
	assert_null(dns_lookup(r, NULL, DNS_A, on_result, &s));
	assert_null(dns_lookup(r, "", DNS_A, on_result, &s));
	assert_null(dns_lookup(r, "a..b", DNS_MX, on_result, &s));
	assert_null(dns_lookup(r, "a\\.b", DNS_MX, on_result, &s));
	assert_null(dns_lookup(r, "localhost", DNS_PTR, on_result, &s));
	assert_null(dns_lookup(r, "192.0.2", DNS_PTR, on_result, &s));
	struct timeval t = { 0, 200000 };
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
	assert_int_equal(s.calls, 0);
	dns_resolver_free(&r);
	event_base_free(base);
}

static void test_resolver_cancel_and_free(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct dns_resolver *r = local_resolver(base);
	int pending = 0;
	struct seen cancelled = { .base = base, .pending = &pending };
	struct seen kept = cancelled;

	/*
	 * Cancelled before the loop ran: never called, even when libunbound's
	 * thread has already answered it.  (Cancelling from another query's
	 * callback cannot be tested without a server: which local answer comes
	 * first is up to libunbound, and cancelling after the callback ran is
	 * outside the contract.)
	 */
	struct dns_query *q = dns_lookup(r, "localhost", DNS_A, on_result, &cancelled);
	assert_non_null(q);
	usleep(100000);
	dns_cancel(q);
	dns_cancel(NULL);
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &kept));
	pending = 1;
	run_loop(base);
	assert_int_equal(cancelled.calls, 0);
	assert_int_equal(kept.calls, 1);
	struct timeval t = { 0, 200000 };
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
	assert_int_equal(cancelled.calls, 0);

	/* freed with queries pending: their callbacks are not called, nothing leaks */
	struct seen orphan = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &orphan));
	assert_non_null(dns_lookup(r, "127.0.0.1", DNS_PTR, on_result, &orphan));
	dns_resolver_free(&r);
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
	assert_int_equal(orphan.calls, 0);
	event_base_free(base);
}

static void test_resolver_callbacks_may_query_and_free(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct dns_resolver *r = local_resolver(base);
	int pending = 1;
	struct seen second = { .base = base, .pending = &pending };
	struct seen first = { .base = base, .pending = &pending, .lookup_more = r, .more = &second };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &first));
	run_loop(base);
	assert_int_equal(first.calls, 1);
	assert_int_equal(second.calls, 1);
	assert_string_equal(second.first, "::1");

	/* dns_resolver_free() from inside a callback, with other queries pending */
	pending = 3;
	struct seen killer = { .base = base, .pending = &pending, .free_me = &r };
	struct seen others = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &killer));
	assert_non_null(dns_lookup(r, "localhost", DNS_AAAA, on_result, &others));
	assert_non_null(dns_lookup(r, "127.0.0.1", DNS_PTR, on_result, &others));
	struct timeval t = { 1, 0 };
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
	assert_null(r);
	/* the first to finish freed the resolver; the others may have finished before it */
	assert_int_equal(killer.calls, 1);
	assert_true(others.calls <= 2);
	event_base_free(base);
}

static void test_resolver_config(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	const char *good[] = {
		"127.0.0.1", "127.0.0.1:53", "::1", "[::1]", "[::1]:5353", " 127.0.0.1:53 , [::1]:53 ",
		"192.0.2.1:65535", "127.0.0.1,",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		print_message("good: %s\n", good[i]);
		struct dns_resolver *r = dns_resolver_new(base, good[i], "none");
		assert_non_null(r);
		dns_resolver_free(&r);
	}
	const char *bad[] = {
		"nonsense", "ns.example.test:53", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:5x",
		"127.0.0.1:123456", "[::1", "[::1]x", "[::1]:", "[]:53", "[127.0.0.1:53", ",", " , ",
		"127.0.0.1,,127.0.0.2", "1.2.3.4.5", "::1::2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		print_message("bad: %s\n", bad[i]);
		assert_null(dns_resolver_new(base, bad[i], "none"));
	}
	assert_null(dns_resolver_new(base, "127.0.0.1", "/nonexistent/trust-anchor"));
	/* a trust anchor that does not parse fails here, not at the first lookup */
	char path[] = "/tmp/tern-test-dns-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("not a trust anchor\n", f);
	fclose(f);
	assert_null(dns_resolver_new(base, "127.0.0.1", path));
	f = fopen(path, "w");
	fputs("example.test. 3600 IN DS 12345 13 2 "
	      "0d59a726b0a8958e73e6c5849c680d566059588b6abac548919444152bee4d55\n", f);
	fclose(f);
	struct dns_resolver *r = dns_resolver_new(base, "127.0.0.1", path);
	assert_non_null(r);
	dns_resolver_free(&r);
	unlink(path);
	event_base_free(base);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_basic),
		cmocka_unit_test(test_name_truncated),
		cmocka_unit_test(test_name_pointers_and_label_types),
		cmocka_unit_test(test_name_label_and_total_limits),
		cmocka_unit_test(test_name_escaping),
		cmocka_unit_test(test_name_output_too_small),
		cmocka_unit_test(test_mx),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_tlsa),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_reverse_name),
		cmocka_unit_test(test_mx_sort),
		cmocka_unit_test(test_status_name),
		cmocka_unit_test(test_answer_status),
		cmocka_unit_test(test_answer_mx),
		cmocka_unit_test(test_answer_other_types),
		cmocka_unit_test(test_resolver_local_answers),
		cmocka_unit_test(test_resolver_refuses_bad_names),
		cmocka_unit_test(test_resolver_cancel_and_free),
		cmocka_unit_test(test_resolver_callbacks_may_query_and_free),
		cmocka_unit_test(test_resolver_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
