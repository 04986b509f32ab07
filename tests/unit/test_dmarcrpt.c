/*
 * test_dmarcrpt.c — unit tests of DMARC aggregate reports (RFC 7489
 * §7.2): the feedback XML (Appendix C) against the exact expected
 * document, escaping of hostile values, the published-policy string, the
 * per-loop in-memory aggregate and its cap, the store calls (one
 * transaction for many rows, UPSERT counts, pending, rows, delete), and
 * the shared report helpers (gzip, days) through their DMARC users.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "mailauth/dmarc.h"
#include "mta/dmarcrpt.h"
#include "mta/report.h"
#include "store/store.h"

static struct store_dmarcrpt_row row(const char *ip, const char *disp)
{
	return (struct store_dmarcrpt_row){
		.day = "2026-12-06", .domain = "example.org", .source_ip = ip, .header_from = "example.org",
		.envelope_from = "example.org", .disposition = disp, .eval_dkim = "fail", .eval_spf = "pass",
		.dkim_domain = "", .dkim_result = "", .spf_result = "pass",
		.published = "adkim=r aspf=r p=reject sp=none pct=100", .rua = "mailto:d@example.org", .count = 1,
	};
}

static void test_xml(void **state)
{
	(void)state;
	struct store_dmarcrpt_row rows[2] = { row("192.0.2.1", "none"), row("192.0.2.2", "reject") };
	rows[0].count = 3;
	rows[0].dkim_domain = "example.org";
	rows[0].dkim_result = "pass";
	rows[0].eval_dkim = "pass";
	rows[1].envelope_from = "";
	rows[1].eval_spf = "fail";
	rows[1].spf_result = "fail";
	struct dmarcrpt_report_info info = { "mx.test", "postmaster@mx.test", "20261206.abc@mx.test", "2026-12-06",
					     "example.org", rows[0].published };
	struct buf out = BUF_INIT;
	dmarcrpt_xml_build(&info, rows, 2, &out);
	const char *want =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback><version>1.0</version><report_metadata>"
		"<org_name>mx.test</org_name><email>postmaster@mx.test</email><report_id>20261206.abc@mx.test</report_id>"
		"<date_range><begin>1796515200</begin><end>1796601599</end></date_range></report_metadata>"
		"<policy_published><domain>example.org</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p>"
		"<sp>none</sp><pct>100</pct></policy_published>"
		"<record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated>"
		"<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
		"<identifiers><header_from>example.org</header_from><envelope_from>example.org</envelope_from>"
		"</identifiers><auth_results><dkim><domain>example.org</domain><result>pass</result></dkim>"
		"<spf><domain>example.org</domain><result>pass</result></spf></auth_results></record>"
		"<record><row><source_ip>192.0.2.2</source_ip><count>1</count><policy_evaluated>"
		"<disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>"
		"<identifiers><header_from>example.org</header_from></identifiers><auth_results>"
		"<spf><domain>example.org</domain><result>fail</result></spf></auth_results></record>"
		"</feedback>\n";
	assert_string_equal(buf_cstr(&out), want);
	assert_int_equal(report_day_start("2026-12-06"), 1796515200);
	buf_free(&out);
}

static void test_xml_escaping(void **state)
{
	(void)state;
	struct store_dmarcrpt_row r = row("192.0.2.1", "none");
	r.header_from = "<evil>&\"'\x01\xc3\xa9";
	r.dkim_domain = "]]></dkim><x>";
	r.dkim_result = "pass";
	struct dmarcrpt_report_info info = { "Org & <Co>", "a@b", "id<1>", "2026-12-06", "ex\"ample.org",
					     "p=<x> adkim=s&" };
	struct buf out = BUF_INIT;
	dmarcrpt_xml_build(&info, &r, 1, &out);
	const char *x = buf_cstr(&out);
	assert_non_null(strstr(x, "<header_from>&lt;evil&gt;&amp;&quot;&apos;??" "?</header_from>"));
	assert_non_null(strstr(x, "<domain>]]&gt;&lt;/dkim&gt;&lt;x&gt;</domain>"));
	assert_non_null(strstr(x, "<org_name>Org &amp; &lt;Co&gt;</org_name>"));
	assert_non_null(strstr(x, "<report_id>id&lt;1&gt;</report_id>"));
	assert_non_null(strstr(x, "<domain>ex&quot;ample.org</domain>"));
	assert_non_null(strstr(x, "<adkim>s&amp;</adkim><p>&lt;x&gt;</p></policy_published>"));
	assert_null(strstr(x, "<evil>"));
	for (const char *p = x; *p; p++)
		assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	buf_free(&out);
}

static void test_published(void **state)
{
	(void)state;
	struct dmarc_record rec;
	const char txt[] = "v=DMARC1; p=quarantine; adkim=s; pct=50; rua=mailto:a@example.org";
	assert_int_equal(dmarc_record_parse(txt, strlen(txt), &rec), DMARC_RECORD_OK);
	char pub[128];
	dmarcrpt_published(&rec, pub, sizeof pub);
	assert_string_equal(pub, "adkim=s aspf=r p=quarantine sp=quarantine pct=50");
}

static void test_agg(void **state)
{
	(void)state;
	struct dmarcrpt_agg a;
	dmarcrpt_agg_init(&a);
	struct store_dmarcrpt_row r1 = row("192.0.2.1", "none"), r2 = row("192.0.2.2", "none");
	for (int i = 0; i < 5; i++)
		assert_true(dmarcrpt_agg_add(&a, &r1));
	assert_true(dmarcrpt_agg_add(&a, &r2));
	r2.published = "adkim=r aspf=r p=none sp=none pct=100";   /* not part of the key: follows the latest */
	assert_true(dmarcrpt_agg_add(&a, &r2));
	size_t n = 0;
	struct store_dmarcrpt_row *rows = dmarcrpt_agg_rows(&a, &n);
	assert_int_equal(n, 2);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += rows[i].count;
		if (strcmp(rows[i].source_ip, "192.0.2.2") == 0) {
			assert_int_equal(rows[i].count, 2);
			assert_string_equal(rows[i].published, "adkim=r aspf=r p=none sp=none pct=100");
		} else {
			assert_int_equal(rows[i].count, 5);
		}
	}
	assert_int_equal(total, 7);
	free(rows);

	/* Hostile lengths are cut to the store's limits, not grown. */
	char longname[2000];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	struct store_dmarcrpt_row big = r1;
	big.header_from = longname;
	assert_true(dmarcrpt_agg_add(&a, &big));
	rows = dmarcrpt_agg_rows(&a, &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true(strlen(rows[i].header_from) <= STORE_DMARCRPT_DOMAIN_MAX);
	free(rows);

	/* The cap: distinct rows beyond DMARCRPT_AGG_MAX are dropped and counted; known ones still count. */
	dmarcrpt_agg_clear(&a);
	char ip[64];
	for (int i = 0; i < DMARCRPT_AGG_MAX; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.1", i / 256, i % 256);
		struct store_dmarcrpt_row r = row(ip, "none");
		assert_true(dmarcrpt_agg_add(&a, &r));
	}
	struct store_dmarcrpt_row extra = row("203.0.113.9", "none");
	assert_false(dmarcrpt_agg_add(&a, &extra));
	assert_false(dmarcrpt_agg_add(&a, &extra));
	assert_int_equal(a.dropped, 2);
	struct store_dmarcrpt_row known = row("10.0.0.1", "none");
	assert_true(dmarcrpt_agg_add(&a, &known));
	assert_int_equal(a.n, DMARCRPT_AGG_MAX);
	dmarcrpt_agg_clear(&a);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.dropped, 0);
	assert_true(dmarcrpt_agg_add(&a, &extra));
	dmarcrpt_agg_free(&a);
}

static void test_uri(void **state)
{
	(void)state;
	struct dmarcrpt_uri u;
	const char *ok = " mailto:dmarc@example.org ";
	assert_true(dmarcrpt_uri_parse(ok, strlen(ok), &u));
	assert_string_equal(u.addr, "dmarc@example.org");
	assert_int_equal(u.max_size, 0);
	assert_true(dmarcrpt_uri_parse("MAILTO:a@b.example!10m", 22, &u));
	assert_string_equal(u.addr, "a@b.example");
	assert_int_equal(u.max_size, 10ull * 1024 * 1024);
	assert_true(dmarcrpt_uri_parse("mailto:a@b!500", 14, &u));
	assert_int_equal(u.max_size, 500);
	assert_true(dmarcrpt_uri_parse("mailto:a@b!2K", 13, &u));
	assert_int_equal(u.max_size, 2048);
	/* Only the given length counts: the rest of a rua list is not read. */
	assert_true(dmarcrpt_uri_parse("mailto:a@b,mailto:c@d", 10, &u));
	assert_string_equal(u.addr, "a@b");
	static const char *const bad[] = {
		"https://example.org/r", "mailto:", "mailto:nobody", "mailto:@b", "mailto:a@", "mailto:a@b@c",
		"mailto:a@b!", "mailto:a@b!10x", "mailto:a@b!k", "mailto:a@b!10mm", "mailto:<a@b>", "mailto:a b@c",
		"mailto:a@b?subject=x", "mailto:a%40b@c", "mailto:a@b\r\nBcc:x@y", "mailto:a@b!99999999999999999999",
		"mailto:a\"@b",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (dmarcrpt_uri_parse(bad[i], strlen(bad[i]), &u))
			fail_msg("accepted: %s", bad[i]);
	char longaddr[400];
	memset(longaddr, 'a', sizeof longaddr);
	memcpy(longaddr, "mailto:x@", 9);
	assert_false(dmarcrpt_uri_parse(longaddr, sizeof longaddr, &u));
}

static void test_mail(void **state)
{
	(void)state;
	const char gz[] = "\x1f\x8b gz";
	struct dmarcrpt_mail m = { "postmaster@mx.test", "d@example.org", "mx.test", "example.org",
				   "20261206.x@mx.test", "2026-12-06", 1796601600, gz, sizeof gz - 1 };
	struct buf out = BUF_INIT;
	size_t rp = 0;
	dmarcrpt_mail_write(&m, &out, &rp);
	const char *x = buf_cstr(&out);
	assert_int_equal(rp, strlen("Return-Path: <postmaster@mx.test>\r\n"));
	assert_non_null(strstr(x, "Subject: Report Domain: example.org\r\n Submitter: mx.test\r\n"
			       " Report-ID: <20261206.x@mx.test>\r\n"));
	assert_non_null(strstr(x, "Content-Type: application/gzip\r\n"));
	assert_non_null(strstr(x, "filename=\"mx.test!example.org!1796515200!1796601599.xml.gz\""));
	assert_non_null(strstr(x, "Auto-Submitted: auto-generated\r\n"));
	buf_free(&out);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void collect_pending(void *ctx, const struct store_dmarcrpt_pending *p)
{
	buf_printf(ctx, "%s|%s|%llu;", p->day, p->domain, (unsigned long long)p->messages);
}

static void collect_rows(void *ctx, const struct store_dmarcrpt_row *r)
{
	buf_printf(ctx, "%s|%s|%s|%s|%llu;", r->source_ip, r->disposition, r->spf_result, r->published,
		   (unsigned long long)r->count);
}

static void test_store(void **state)
{
	(void)state;
	char dir[] = "/tmp/tern-test-dmarcrpt-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct store *s = store_open(dir);
	assert_non_null(s);
	struct store_dmarcrpt_row rows[3] = { row("192.0.2.1", "none"), row("192.0.2.2", "reject"),
					      row("192.0.2.1", "none") };
	rows[0].count = 4;
	rows[1].spf_result = "fail";
	rows[2].day = "2026-12-07";
	assert_int_equal(store_dmarcrpt_record(s, rows, 3), STORE_OK);
	rows[0].count = 2;
	rows[0].published = "adkim=r aspf=r p=none sp=none pct=100";
	assert_int_equal(store_dmarcrpt_record(s, rows, 1), STORE_OK);
	assert_int_equal(store_dmarcrpt_record(s, rows, 0), STORE_OK);

	struct buf b = BUF_INIT;
	assert_int_equal(store_dmarcrpt_pending(s, 0, collect_pending, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "2026-12-06|example.org|7;2026-12-07|example.org|1;");
	buf_reset(&b);
	assert_int_equal(store_dmarcrpt_pending(s, 1, collect_pending, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "2026-12-06|example.org|7;");
	buf_reset(&b);
	assert_int_equal(store_dmarcrpt_rows(s, "2026-12-06", "example.org", collect_rows, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "192.0.2.1|none|pass|adkim=r aspf=r p=none sp=none pct=100|6;"
			    "192.0.2.2|reject|fail|adkim=r aspf=r p=reject sp=none pct=100|1;");

	/* One bad row: nothing of the batch is written. */
	struct store_dmarcrpt_row bad[2] = { row("192.0.2.9", "none"), row("192.0.2.9", "none") };
	bad[1].day = "yesterday";
	assert_int_equal(store_dmarcrpt_record(s, bad, 2), STORE_INVALID);
	bad[1] = bad[0];
	bad[1].domain = "";
	assert_int_equal(store_dmarcrpt_record(s, bad, 2), STORE_INVALID);
	bad[1] = bad[0];
	bad[1].count = 0;
	assert_int_equal(store_dmarcrpt_record(s, bad, 2), STORE_INVALID);

	uint64_t removed = 0;
	assert_int_equal(store_dmarcrpt_delete(s, "2026-12-06", "example.org", &removed), STORE_OK);
	assert_int_equal(removed, 2);
	assert_int_equal(store_dmarcrpt_delete(s, "nonsense", "example.org", NULL), STORE_INVALID);
	buf_reset(&b);
	assert_int_equal(store_dmarcrpt_pending(s, 0, collect_pending, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "2026-12-07|example.org|1;");
	buf_free(&b);
	store_close(&s);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The shared gzip helper, as the report attachment uses it. */
static void test_gzip(void **state)
{
	(void)state;
	struct buf gz = BUF_INIT;
	const char text[] = "<feedback>...</feedback>";
	assert_true(report_gzip(text, sizeof text - 1, &gz));
	assert_true(gz.len > 18 && (unsigned char)gz.data[0] == 0x1f && (unsigned char)gz.data[1] == 0x8b);
	char back[64];
	z_stream z = { 0 };
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)gz.data;
	z.avail_in = (uInt)gz.len;
	z.next_out = (Bytef *)back;
	z.avail_out = sizeof back;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, sizeof text - 1);
	assert_memory_equal(back, text, sizeof text - 1);
	inflateEnd(&z);
	buf_free(&gz);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_xml_escaping),
		cmocka_unit_test(test_published),
		cmocka_unit_test(test_agg),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_gzip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
