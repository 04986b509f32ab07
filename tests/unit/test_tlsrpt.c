/*
 * test_tlsrpt.c — unit tests of TLS reporting (RFC 8460): the
 * _smtp._tls TXT record parser (§3) whole and byte by byte, the JSON
 * report (§4) against the exact expected text, the gzip round trip, the
 * report message (§5.3: headers, file name, attachment), the result-type
 * of a failure, the UTC day helpers, and the store's aggregation (UPSERT
 * counts, pending list, rows, delete, bounded strings).  Collection from
 * real deliveries and the sending of reports (mail and HTTPS) are in
 * tests/e2e/test_tlsrpt.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mta/tlsrpt.h"
#include "store/store.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- the TXT record ------------------------------------------------------------ */

static enum tlsrpt_parse_result parse(const char *txt, struct tlsrpt_record *rec)
{
	char why[200];
	return tlsrpt_record_parse(txt, strlen(txt), rec, why, sizeof why);
}

static void test_record_ok(void **state)
{
	(void)state;
	struct tlsrpt_record r;
	assert_int_equal(parse("v=TLSRPTv1; rua=mailto:reports@example.com", &r), TLSRPT_PARSE_OK);
	assert_int_equal(r.nrua, 1);
	assert_int_equal(r.rua[0].kind, TLSRPT_MAILTO);
	assert_string_equal(r.rua[0].addr, "reports@example.com");

	assert_int_equal(parse("v=TLSRPTv1;rua=mailto:a@x.example,https://Reports.Example.NET:8443/v1/tlsrpt;", &r),
			 TLSRPT_PARSE_OK);
	assert_int_equal(r.nrua, 2);
	assert_int_equal(r.rua[1].kind, TLSRPT_HTTPS);
	assert_string_equal(r.rua[1].host, "reports.example.net");
	assert_int_equal(r.rua[1].port, 8443);
	assert_string_equal(r.rua[1].uri, "https://Reports.Example.NET:8443/v1/tlsrpt");

	/* Blanks around separators, extensions, a trailing delimiter with blanks. */
	assert_int_equal(parse("v=TLSRPTv1 ;  ext_1.x=foo ; rua=mailto:a@b.example , https://r.example/ ; ", &r),
			 TLSRPT_PARSE_OK);
	assert_int_equal(r.nrua, 2);
	assert_int_equal(r.rua[1].port, 443);

	/* Percent-decoding; hfields dropped; an unknown scheme skipped. */
	assert_int_equal(parse("v=TLSRPTv1; rua=ftp://x.example/,mailto:tls%2Drpt@example.org?subject=hi", &r),
			 TLSRPT_PARSE_OK);
	assert_int_equal(r.nrua, 1);
	assert_string_equal(r.rua[0].addr, "tls-rpt@example.org");
}

static void test_record_other_and_invalid(void **state)
{
	(void)state;
	struct tlsrpt_record r;
	/* Not ours: ignored, not an error (§3: other TXT records live beside it). */
	assert_int_equal(parse("v=spf1 -all", &r), TLSRPT_PARSE_OTHER);
	assert_int_equal(parse("v=TLSRPTv10; rua=mailto:a@b.example", &r), TLSRPT_PARSE_OTHER);
	assert_int_equal(parse("V=TLSRPTv1; rua=mailto:a@b.example", &r), TLSRPT_PARSE_OTHER);  /* %s: case-sensitive */
	assert_int_equal(parse(" v=TLSRPTv1; rua=mailto:a@b.example", &r), TLSRPT_PARSE_OTHER);
	assert_int_equal(parse("", &r), TLSRPT_PARSE_OTHER);

	static const char *const bad[] = {
		"v=TLSRPTv1",                                   /* no field */
		"v=TLSRPTv1;",                                  /* no field */
		"v=TLSRPTv1; ext=1",                            /* no rua */
		"v=TLSRPTv1; rua=",                             /* empty URI */
		"v=TLSRPTv1; rua=mailto:a@b.example,",          /* empty URI after a comma */
		"v=TLSRPTv1 rua=mailto:a@b.example",            /* no ';' */
		"v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example",   /* two rua */
		"v=TLSRPTv1; rua=mailto:a@b.example; ext",      /* field without '=' */
		"v=TLSRPTv1; rua=mailto:a@b.example; ext=",     /* empty value */
		"v=TLSRPTv1; rua=mailto:a@b.example; =x",       /* empty name */
		"v=TLSRPTv1; rua=mailto:a@b.example; e=a=b",    /* '=' in a value */
		"v=TLSRPTv1; rua=ftp://x.example/",             /* no usable URI */
		"v=TLSRPTv1; rua=mailto:no-at-sign",
		"v=TLSRPTv1; rua=mailto:a@b@c.example",
		"v=TLSRPTv1; rua=mailto:a%0d%0aBcc:x@y.example@z.example",  /* header injection */
		"v=TLSRPTv1; rua=mailto:<a@b.example>",
		"v=TLSRPTv1; rua=mailto:a@b.example%2",         /* cut percent escape */
		"v=TLSRPTv1; rua=https://user@host.example/",
		"v=TLSRPTv1; rua=https://[::1]/",
		"v=TLSRPTv1; rua=https://h.example:0/",
		"v=TLSRPTv1; rua=https://h.example:70000/",
		"v=TLSRPTv1; rua=https:/h.example/",
		"v=TLSRPTv1; rua=mailto:a@b.example; aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",  /* name of 33 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		enum tlsrpt_parse_result pr = parse(bad[i], &r);
		if (pr != TLSRPT_PARSE_INVALID)
			fail_msg("accepted: %s", bad[i]);
	}
	/* A name of 32 is fine. */
	assert_int_equal(parse("v=TLSRPTv1; rua=mailto:a@b.example; aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1", &r),
			 TLSRPT_PARSE_OK);
	/* Limits: URIs and record length. */
	struct buf b = BUF_INIT;
	buf_puts(&b, "v=TLSRPTv1; rua=");
	for (int i = 0; i < TLSRPT_RUA_MAX + 1; i++)
		buf_printf(&b, "%smailto:r%d@x.example", i ? "," : "", i);
	assert_int_equal(tlsrpt_record_parse(b.data, b.len, &r, NULL, 0), TLSRPT_PARSE_INVALID);
	buf_reset(&b);
	buf_puts(&b, "v=TLSRPTv1; rua=mailto:a@b.example; x=");
	while (b.len <= TLSRPT_TXT_MAX)
		buf_putc(&b, 'y');
	assert_int_equal(tlsrpt_record_parse(b.data, b.len, &r, NULL, 0), TLSRPT_PARSE_INVALID);
	buf_free(&b);
	/* A NUL inside: the length is the truth, and NUL is no URI character. */
	assert_int_equal(tlsrpt_record_parse(S("v=TLSRPTv1; rua=mailto:a@b.ex\0ample"), &r, NULL, 0),
			 TLSRPT_PARSE_INVALID);
}

/* Every prefix parses to something without reading past it (ASan checks the bounds). */
static void test_record_prefixes(void **state)
{
	(void)state;
	const char *full = "v=TLSRPTv1; x-y=z; rua=mailto:a%40x@b.example?s=1, https://h.example:444/p;";
	size_t n = strlen(full);
	for (size_t i = 0; i <= n; i++) {
		char *copy = xmalloc(i ? i : 1);
		memcpy(copy, full, i);
		struct tlsrpt_record r;
		enum tlsrpt_parse_result pr = tlsrpt_record_parse(copy, i, &r, NULL, 0);
		assert_true(pr == TLSRPT_PARSE_OK || pr == TLSRPT_PARSE_OTHER || pr == TLSRPT_PARSE_INVALID);
		free(copy);
	}
	struct tlsrpt_record r;
	/* a%40x@b has two '@': that URI is skipped, the https: one is kept. */
	assert_int_equal(tlsrpt_record_parse(full, n, &r, NULL, 0), TLSRPT_PARSE_OK);
	assert_int_equal(r.nrua, 1);
	assert_int_equal(r.rua[0].kind, TLSRPT_HTTPS);
	assert_int_equal(r.rua[0].port, 444);
}

/* ---- the JSON report -------------------------------------------------------------- */

static struct store_tlsrpt_result row(const char *type, const char *strings, const char *mx, const char *result,
				      const char *sip, const char *rmx, const char *rip, uint64_t count)
{
	return (struct store_tlsrpt_result){ "2026-12-06", "example.org", type, strings, mx, result, sip, rmx, rip, count };
}

static void test_json(void **state)
{
	(void)state;
	struct store_tlsrpt_result rows[] = {
		row("sts", "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400", "mx.example.org",
		    "", "", "", "", 5),
		row("sts", "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400", "mx.example.org",
		    "certificate-expired", "192.0.2.1", "mx.example.org", "198.51.100.7", 2),
		row("tlsa", "3 1 1 abcd", "", "validation-failure", "192.0.2.1", "mx2.example.org", "2001:db8::7", 1),
	};
	struct tlsrpt_report_info info = {
		.organization = "Tern \"Test\" Org",
		.contact = "postmaster@mail.example.net",
		.report_id = "20261206.abc@mail.example.net",
		.day = "2026-12-06",
		.domain = "example.org",
	};
	struct buf out = BUF_INIT;
	tlsrpt_json_build(&info, rows, 3, &out);
	const char *want =
		"{\"organization-name\":\"Tern \\\"Test\\\" Org\","
		"\"date-range\":{\"start-datetime\":\"2026-12-06T00:00:00Z\",\"end-datetime\":\"2026-12-06T23:59:59Z\"},"
		"\"contact-info\":\"postmaster@mail.example.net\",\"report-id\":\"20261206.abc@mail.example.net\","
		"\"policies\":["
		"{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[\"version: STSv1\",\"mode: enforce\","
		"\"mx: mx.example.org\",\"max_age: 86400\"],\"policy-domain\":\"example.org\",\"mx-host\":[\"mx.example.org\"]},"
		"\"summary\":{\"total-successful-session-count\":5,\"total-failure-session-count\":2},"
		"\"failure-details\":[{\"result-type\":\"certificate-expired\",\"sending-mta-ip\":\"192.0.2.1\","
		"\"receiving-mx-hostname\":\"mx.example.org\",\"receiving-ip\":\"198.51.100.7\",\"failed-session-count\":2}]},"
		"{\"policy\":{\"policy-type\":\"tlsa\",\"policy-string\":[\"3 1 1 abcd\"],\"policy-domain\":\"example.org\"},"
		"\"summary\":{\"total-successful-session-count\":0,\"total-failure-session-count\":1},"
		"\"failure-details\":[{\"result-type\":\"validation-failure\",\"sending-mta-ip\":\"192.0.2.1\","
		"\"receiving-mx-hostname\":\"mx2.example.org\",\"receiving-ip\":\"2001:db8::7\",\"failed-session-count\":1}]}"
		"]}";
	assert_string_equal(buf_cstr(&out), want);

	/* no-policy-found: no policy-string, no mx-host; hostile text stays inside its string. */
	buf_reset(&out);
	struct store_tlsrpt_result np[] = {
		row("no-policy-found", "", "", "", "", "", "", 3),
		row("no-policy-found", "", "", "starttls-not-supported", "192.0.2.1", "mx\"],\x01\xff.example", "", 1),
	};
	tlsrpt_json_build(&info, np, 2, &out);
	assert_non_null(strstr(buf_cstr(&out),
		"{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"example.org\"},"
		"\"summary\":{\"total-successful-session-count\":3,\"total-failure-session-count\":1},"
		"\"failure-details\":[{\"result-type\":\"starttls-not-supported\",\"sending-mta-ip\":\"192.0.2.1\","
		"\"receiving-mx-hostname\":\"mx\\\"],??.example\",\"failed-session-count\":1}]}"));
	buf_free(&out);
}

static void test_gzip(void **state)
{
	(void)state;
	const char *text = "{\"policies\":[]} {\"policies\":[]} {\"policies\":[]}";
	struct buf gz = BUF_INIT;
	assert_true(tlsrpt_gzip(text, strlen(text), &gz));
	assert_true(gz.len > 18);
	assert_int_equal((unsigned char)gz.data[0], 0x1f);     /* gzip magic */
	assert_int_equal((unsigned char)gz.data[1], 0x8b);
	z_stream z;
	memset(&z, 0, sizeof z);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	char back[256];
	z.next_in = (Bytef *)gz.data;
	z.avail_in = (uInt)gz.len;
	z.next_out = (Bytef *)back;
	z.avail_out = sizeof back;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(sizeof back - z.avail_out, strlen(text));
	assert_memory_equal(back, text, strlen(text));
	inflateEnd(&z);
	buf_free(&gz);
}

/* ---- the message ---------------------------------------------------------------------- */

static void test_mail(void **state)
{
	(void)state;
	const char gz[] = "\x1f\x8b binary";
	struct tlsrpt_mail m = {
		.from = "postmaster@mail.example.net",
		.to = "tlsrpt@example.org",
		.submitter = "mail.example.net",
		.domain = "example.org",
		.report_id = "20261206.abc@mail.example.net",
		.day = "2026-12-06",
		.unique = "abc",
		.now = 1765065600,
		.gz = gz,
		.gzlen = sizeof gz - 1,
	};
	struct buf out = BUF_INIT;
	size_t rp = 0;
	tlsrpt_mail_write(&m, &out, &rp);
	const char *s = buf_cstr(&out);
	assert_int_equal(rp, strlen("Return-Path: <postmaster@mail.example.net>\r\n"));
	assert_memory_equal(s, "Return-Path: <postmaster@mail.example.net>\r\n", rp);
	assert_non_null(strstr(s, "\r\nSubject: Report Domain: example.org\r\n Submitter: mail.example.net\r\n"
				  " Report-ID: <20261206.abc@mail.example.net>\r\n"));
	assert_non_null(strstr(s, "\r\nTLS-Report-Domain: example.org\r\n"));
	assert_non_null(strstr(s, "\r\nTLS-Report-Submitter: mail.example.net\r\n"));
	assert_non_null(strstr(s, "\r\nTLS-Required: No\r\n"));
	assert_non_null(strstr(s, "\r\nContent-Type: multipart/report; report-type=\"tlsrpt\";\r\n boundary=\""));
	assert_non_null(strstr(s, "\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n"));
	/* 2026-12-06T00:00:00Z is 1796515200. */
	assert_non_null(strstr(s, "filename=\"mail.example.net!example.org!1796515200!1796601599!abc.json.gz\""));
	struct buf b64 = BUF_INIT;
	base64_encode(&b64, gz, sizeof gz - 1);
	assert_non_null(strstr(s, buf_cstr(&b64)));
	buf_free(&b64);
	/* No bare LF, no line over 998. */
	size_t line = 0;
	for (size_t i = 0; i < out.len; i++) {
		if (out.data[i] == '\n')
			assert_true(i > 0 && out.data[i - 1] == '\r');
		line = out.data[i] == '\n' ? 0 : line + 1;
		assert_true(line <= 998);
	}
	buf_free(&out);
}

/* ---- result types and days --------------------------------------------------------------- */

static void test_result_type(void **state)
{
	(void)state;
	assert_string_equal(tlsrpt_result_type(X509_V_ERR_CERT_HAS_EXPIRED, NULL), "certificate-expired");
	assert_string_equal(tlsrpt_result_type(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "x"), "certificate-not-trusted");
	assert_string_equal(tlsrpt_result_type(X509_V_ERR_HOSTNAME_MISMATCH, NULL), "certificate-host-mismatch");
	assert_string_equal(tlsrpt_result_type(X509_V_ERR_DANE_NO_MATCH, NULL), "validation-failure");
	assert_string_equal(tlsrpt_result_type(X509_V_ERR_OUT_OF_MEM, NULL), "validation-failure");
	/* From the client's reason texts. */
	assert_string_equal(tlsrpt_result_type(0, "4.7.5 TLS is required (MTA-STS) but STARTTLS was not offered by "
					       "host mx.example[192.0.2.1]"), "starttls-not-supported");
	assert_string_equal(tlsrpt_result_type(0, "4.7.5 TLS is required (DANE) but host mx[1.2.3.4] refused "
					       "STARTTLS: 454 no"), "starttls-not-supported");
	assert_string_equal(tlsrpt_result_type(0, "4.7.5 TLS is required (MTA-STS) but the certificate of mx[1.2.3.4] "
					       "did not verify: certificate names (a.example) do not match mx.example"),
			    "certificate-host-mismatch");
	char reason[300];
	snprintf(reason, sizeof reason, "4.7.5 TLS is required (MTA-STS) but the certificate of mx[1.2.3.4] did not "
		 "verify: %s", X509_verify_cert_error_string(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
	assert_string_equal(tlsrpt_result_type(0, reason), "certificate-not-trusted");
	snprintf(reason, sizeof reason, "... did not verify: %s", X509_verify_cert_error_string(X509_V_ERR_CERT_HAS_EXPIRED));
	assert_string_equal(tlsrpt_result_type(0, reason), "certificate-expired");
	assert_string_equal(tlsrpt_result_type(0, "the TLS handshake with mx[1.2.3.4] failed: EOF"), "validation-failure");
	assert_string_equal(tlsrpt_result_type(0, NULL), "validation-failure");

	/* An announced MTA-STS policy that could not be had (sts.c's words). */
	assert_string_equal(tlsrpt_sts_failure_type("policy fetch failed: HTTP status 404"), "sts-policy-fetch-error");
	assert_string_equal(tlsrpt_sts_failure_type("policy fetch failed: mta-sts.x.example has no address"),
			    "sts-policy-fetch-error");
	assert_string_equal(tlsrpt_sts_failure_type("policy fetch failed: invalid policy: no mode"), "sts-policy-invalid");
	assert_string_equal(tlsrpt_sts_failure_type("policy fetch failed: media type text/html, not text/plain"),
			    "sts-policy-invalid");
	assert_string_equal(tlsrpt_sts_failure_type("policy fetch failed: SSL certificate problem: unable to get local "
						    "issuer certificate"), "sts-webpki-invalid");
	assert_string_equal(tlsrpt_sts_failure_type(NULL), "sts-policy-fetch-error");
}

static void test_days(void **state)
{
	(void)state;
	assert_int_equal(tlsrpt_day_start("1970-01-01"), 0);
	assert_int_equal(tlsrpt_day_start("2026-12-06"), 1796515200);
	assert_int_equal(tlsrpt_day_start("2024-02-29"), 1709164800);
	assert_int_equal(tlsrpt_day_start("2026-02-30"), -1);
	assert_int_equal(tlsrpt_day_start("2026-13-01"), -1);
	assert_int_equal(tlsrpt_day_start("2026-12-6"), -1);
	assert_int_equal(tlsrpt_day_start("2026-12-06x"), -1);
	assert_int_equal(tlsrpt_day_start(NULL), -1);
	char d[11];
	tlsrpt_day_of(1796515200 + 86399, d);
	assert_string_equal(d, "2026-12-06");
	tlsrpt_day_of(1796515200 + 86400, d);
	assert_string_equal(d, "2026-12-07");
}

/* ---- the store's aggregation --------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void collect_pending(void *ctx, const struct store_tlsrpt_pending *p)
{
	buf_printf(ctx, "%s %s %llu/%llu;", p->day, p->domain, (unsigned long long)p->successes,
		   (unsigned long long)p->failures);
}

static void collect_rows(void *ctx, const struct store_tlsrpt_result *r)
{
	buf_printf(ctx, "%s|%s|%s|%s|%s|%s|%llu;", r->policy_type, r->result_type, r->receiving_mx, r->receiving_ip,
		   r->sending_ip, r->mx_hosts, (unsigned long long)r->count);
}

static void test_store(void **state)
{
	(void)state;
	char dir[] = "/tmp/tern-test-tlsrpt-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *s = store_open(dir);
	assert_non_null(s);

	struct store_tlsrpt_result ok = { "2026-12-06", "example.org", "sts", "version: STSv1\nmode: enforce",
					  "mx.example.org", "", "", "", "", 1 };
	struct store_tlsrpt_result bad = ok;
	bad.result_type = "certificate-expired";
	bad.sending_ip = "192.0.2.1";
	bad.receiving_mx = "mx.example.org";
	bad.receiving_ip = "198.51.100.7";
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_tlsrpt_record(s, &ok), STORE_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(store_tlsrpt_record(s, &bad), STORE_OK);
	struct store_tlsrpt_result other = ok;
	other.domain = "example.net";
	other.policy_type = "no-policy-found";
	other.policy_strings = "";
	other.mx_hosts = "";
	assert_int_equal(store_tlsrpt_record(s, &other), STORE_OK);
	struct store_tlsrpt_result yesterday = ok;
	yesterday.day = "2026-12-05";
	yesterday.count = 3;
	assert_int_equal(store_tlsrpt_record(s, &yesterday), STORE_OK);

	/* Invalid input is refused, not stored. */
	struct store_tlsrpt_result inv = ok;
	inv.day = "2026-12-6";
	assert_int_equal(store_tlsrpt_record(s, &inv), STORE_INVALID);
	inv = ok;
	inv.count = 0;
	assert_int_equal(store_tlsrpt_record(s, &inv), STORE_INVALID);
	inv = ok;
	inv.domain = "";
	assert_int_equal(store_tlsrpt_record(s, &inv), STORE_INVALID);

	struct buf b = BUF_INIT;
	assert_int_equal(store_tlsrpt_pending(s, 0, collect_pending, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "2026-12-05 example.org 3/0;2026-12-06 example.net 1/0;2026-12-06 example.org 5/2;");
	buf_reset(&b);
	assert_int_equal(store_tlsrpt_pending(s, 1, collect_pending, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "2026-12-05 example.org 3/0;");

	/* One row per distinct outcome, counts aggregated; successes first. */
	buf_reset(&b);
	assert_int_equal(store_tlsrpt_rows(s, "2026-12-06", "example.org", collect_rows, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "sts|||||mx.example.org|5;"
					  "sts|certificate-expired|mx.example.org|198.51.100.7|192.0.2.1|mx.example.org|2;");

	/* Long strings are cut, multi-line ones at a line boundary: the row is still one row. */
	struct buf big = BUF_INIT;
	for (int i = 0; big.len < STORE_TLSRPT_POLICY_MAX + 500; i++)
		buf_printf(&big, "mx: host%d.example.org\n", i);
	struct buf host = BUF_INIT;
	while (host.len < 1000)
		buf_puts(&host, "a");
	struct store_tlsrpt_result huge = bad;
	huge.domain = "huge.example";
	huge.policy_strings = big.data;
	huge.receiving_mx = host.data;
	assert_int_equal(store_tlsrpt_record(s, &huge), STORE_OK);
	assert_int_equal(store_tlsrpt_record(s, &huge), STORE_OK);
	buf_reset(&b);
	assert_int_equal(store_tlsrpt_rows(s, "2026-12-06", "huge.example", collect_rows, &b), STORE_OK);
	assert_non_null(strstr(buf_cstr(&b), "|2;"));
	assert_null(strstr(buf_cstr(&b), ";sts"));      /* one row */
	buf_free(&big);
	buf_free(&host);

	uint64_t removed = 0;
	assert_int_equal(store_tlsrpt_delete(s, "2026-12-06", "example.org", &removed), STORE_OK);
	assert_int_equal(removed, 2);
	assert_int_equal(store_tlsrpt_delete(s, "2026-12-06", "huge.example", NULL), STORE_OK);
	buf_reset(&b);
	assert_int_equal(store_tlsrpt_pending(s, 0, collect_pending, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "2026-12-05 example.org 3/0;2026-12-06 example.net 1/0;");
	buf_free(&b);
	store_close(&s);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the config keys ---------------------------------------------------------------------- */

static void test_config(void **state)
{
	(void)state;
	struct config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(config_load_string("hostname = mx.example\n", "t", &cfg, &err), 0);
	assert_true(cfg.delivery.tlsrpt);
	assert_null(cfg.delivery.tlsrpt_from);
	config_free(&cfg);
	assert_int_equal(config_load_string("hostname = mx.example\n[delivery]\ntlsrpt = no\n"
					    "tlsrpt_from = reports@example.org\ntlsrpt_organization = Example Org\n"
					    "tlsrpt_contact = https://example.org/tls\n", "t", &cfg, &err), 0);
	assert_false(cfg.delivery.tlsrpt);
	assert_string_equal(cfg.delivery.tlsrpt_from, "reports@example.org");
	assert_string_equal(cfg.delivery.tlsrpt_organization, "Example Org");
	config_free(&cfg);
	static const char *const bad[] = {
		"[delivery]\ntlsrpt_from = no-at-sign\n",
		"[delivery]\ntlsrpt_from = <a@b.example>\n",
		"[delivery]\ntlsrpt_from = a@b@c\n",
		"[delivery]\ntlsrpt = maybe\n",
		"[delivery]\ntlsrpt_organization = caf\xc3\xa9\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		buf_reset(&err);
		if (config_load_string(bad[i], "t", &cfg, &err) == 0)
			fail_msg("accepted: %s", bad[i]);
		config_free(&cfg);
	}
	buf_free(&err);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_ok),
		cmocka_unit_test(test_record_other_and_invalid),
		cmocka_unit_test(test_record_prefixes),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_result_type),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
