/* test_config.c — tern.conf parsing, defaults and validation (src/lib/config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

static int load(const char *text, struct config *cfg, struct buf *err)
{
	buf_reset(err);
	return config_load_string(text, "t.conf", cfg, err);
}

static void test_defaults(void **state)
{
	struct config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(load("", &cfg, &err), 0);
	assert_string_equal(cfg.data_dir, "/var/lib/tern");
	assert_int_equal(cfg.smtp.max_message_size, 50ull << 20);
	assert_int_equal(cfg.smtp.max_recipients, 100);
	assert_int_equal(cfg.smtp.timeout_ms, 300000);
	assert_false(cfg.auth.allow_plaintext);
	assert_null(cfg.user);
	for (int r = 0; r < ROLE_COUNT; r++)
		assert_int_equal(cfg.listen[r].n, 0);
	config_free(&cfg);
	buf_free(&err);
}

static void test_contract_example(void **state)
{
	/* The example of CONTRACT.md, '#' comments included. */
	const char *text =
		"hostname = mail.example.org        # used in banners, Received, HELO\n"
		"data_dir = /var/lib/tern\n"
		"user = tern                        # serve drops to this user\n"
		"postmaster = admin@example.org\n"
		"\n[tls]\ncert = /etc/tern/cert.pem\nkey = /etc/tern/key.pem\n"
		"\n[listen]                           # omit a key to disable that listener\n"
		"smtp = 0.0.0.0:25, [::]:25\nsubmission = 0.0.0.0:587\nsubmissions = 0.0.0.0:465\n"
		"imap = 0.0.0.0:143\nimaps = 0.0.0.0:993\npop3 = 0.0.0.0:110\npop3s = 0.0.0.0:995\n"
		"\n[smtp]\nmax_message_size = 50M\nmax_recipients = 100\n"
		"\n[auth]\nallow_plaintext = no               # yes permits LOGIN\n"
		"\n[dns]\nnameservers = 127.0.0.1:5353       # default: /etc/resolv.conf\n"
		"\n[log]\nlevel = info                       # debug | info | warn | error\n";
	struct config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(load(text, &cfg, &err), 0);
	assert_string_equal(cfg.hostname, "mail.example.org");
	assert_string_equal(cfg.user, "tern");
	assert_string_equal(cfg.postmaster, "admin@example.org");
	assert_int_equal(cfg.listen[ROLE_SMTP].n, 2);
	assert_string_equal(cfg.listen[ROLE_SMTP].addrs[0].host, "0.0.0.0");
	assert_int_equal(cfg.listen[ROLE_SMTP].addrs[0].port, 25);
	assert_string_equal(cfg.listen[ROLE_SMTP].addrs[1].host, "::");
	assert_int_equal(cfg.listen[ROLE_SMTP].addrs[1].port, 25);
	assert_int_equal(cfg.listen[ROLE_POP3S].addrs[0].port, 995);
	assert_string_equal(cfg.dns.nameservers, "127.0.0.1:5353");
	assert_int_equal(cfg.log.level, LOG_INFO);
	config_free(&cfg);
	buf_free(&err);
}

static void test_every_problem_reported(void **state)
{
	const char *text =
		"data_dir = relative\nfrobnicate = 1\n[smtp]\nmax_message_size = 12Q\nmax_recipients = -1\n"
		"timeout = forever\n[listen]\nsmtp = 127.0.0.1\nsubmission = 1.2.3.4:70000\nimaps = 127.0.0.1:993\n"
		"[auth]\nallow_plaintext = maybe\n[nosuch]\nx = y\n[log]\nlevel = loud\n";
	struct config cfg;
	struct buf err = BUF_INIT;
	int n = load(text, &cfg, &err);
	const char *e = buf_cstr(&err);
	const char *expect[] = { "data_dir", "frobnicate", "max_message_size", "max_recipients", "timeout",
				 "no :port", "70000", "allow_plaintext", "[nosuch]", "level", "imaps" };
	for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
		if (!strstr(e, expect[i]))
			fail_msg("missing '%s' in:\n%s", expect[i], e);
	}
	assert_true(n >= 11);
	config_free(&cfg);
	buf_free(&err);
}

static void test_relay_tls(void **state)
{
	static const struct {
		const char *text;
		const char *problem;    /* NULL: accepted */
	} cases[] = {
		{ "[delivery]\nrelay = [smtp.example.net]:587\nrelay_tls = verify\n", NULL },
		{ "[delivery]\nrelay = smtp.example.net\nrelay_tls = verify\n", NULL },
		{ "[delivery]\nrelay = [192.0.2.1]:25\nrelay_tls = encrypt\n", NULL },
		{ "[delivery]\nrelay = [192.0.2.1]\nrelay_tls = may\n", NULL },
		{ "[delivery]\nrelay_tls = sometimes\n", "relay_tls: must be may, encrypt or verify" },
		{ "[delivery]\nrelay_tls = VERIFY\n", "relay_tls: must be may, encrypt or verify" },
		{ "[delivery]\nrelay = [192.0.2.1]:25\nrelay_tls = verify\n",
		  "relay_tls: verify needs the relay's host name, not an address ([192.0.2.1]:25)" },
		{ "[delivery]\nrelay = [IPv6:2001:db8::1]\nrelay_tls = verify\n", "not an address" },
		{ "[delivery]\nrelay = [2001:db8::1]:587\nrelay_tls = verify\n", "not an address" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config cfg;
		struct buf err = BUF_INIT;
		int n = load(cases[i].text, &cfg, &err);
		if (cases[i].problem ? n != 1 || !strstr(buf_cstr(&err), cases[i].problem) : n != 0)
			fail_msg("case %zu: %d problems: %s", i, n, buf_cstr(&err));
		config_free(&cfg);
		buf_free(&err);
	}
}

static void test_sizes_and_durations(void **state)
{
	uint64_t v;
	assert_true(config_parse_size("50M", &v));
	assert_int_equal(v, 50ull << 20);
	assert_true(config_parse_size("1k", &v));
	assert_int_equal(v, 1024);
	assert_true(config_parse_size("2G", &v));
	assert_int_equal(v, 2ull << 30);
	assert_true(config_parse_size("100", &v));
	assert_int_equal(v, 100);
	assert_false(config_parse_size("", &v));
	assert_false(config_parse_size("M", &v));
	assert_false(config_parse_size("-1", &v));
	assert_false(config_parse_size("99999999999999999999G", &v));
	assert_false(config_parse_size("18446744073709551615G", &v));
	assert_true(config_parse_duration("5m", &v));
	assert_int_equal(v, 300000);
	assert_true(config_parse_duration("30", &v));
	assert_int_equal(v, 30000);
	assert_true(config_parse_duration("250ms", &v));
	assert_int_equal(v, 250);
	assert_true(config_parse_duration("2d", &v));
	assert_int_equal(v, 2 * 86400000ull);
	assert_false(config_parse_duration("5 m", &v));
	assert_false(config_parse_duration("1w", &v));
}

static void test_listen_forms(void **state)
{
	struct listen_list l = { NULL, 0 };
	struct buf err = BUF_INIT;
	assert_true(config_parse_listen("127.0.0.1:2525,[::1]:2525 , 0.0.0.0:25", &l, &err));
	assert_int_equal(l.n, 3);
	assert_string_equal(l.addrs[1].host, "::1");
	assert_false(config_parse_listen("localhost:25", &l, &err));   /* numeric only */
	assert_false(config_parse_listen("[::1:25", &l, &err));
	assert_false(config_parse_listen("1.2.3.4:0", &l, &err));
	assert_false(config_parse_listen("1.2.3.4:2x5", &l, &err));
	assert_false(config_parse_listen(" , ", &l, &err));
	assert_int_equal(l.n, 3);   /* a failed parse leaves the old list */
	free(l.addrs);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_contract_example),
		cmocka_unit_test(test_every_problem_reported),
		cmocka_unit_test(test_relay_tls),
		cmocka_unit_test(test_sizes_and_durations),
		cmocka_unit_test(test_listen_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
