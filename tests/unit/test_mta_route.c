/*
 * test_mta_route.c — unit tests of the destination parsing in
 * src/mta/route.c: the relay setting ("[host]:port", "host:port", address
 * literals) and recipient domains (names, "[192.0.2.1]", "[IPv6:...]"),
 * and the "host[ip]:port" form of an address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "mta/mta_int.h"

struct relay_case {
	const char *in;
	bool ok;
	const char *name;
	unsigned port;
	bool mx, literal;
};

static const struct relay_case relay_cases[] = {
	{ "[smtp.example.org]:587", true, "smtp.example.org", 587, false, false },
	{ "[Smtp.Example.ORG.]", true, "smtp.example.org", 25, false, false },
	{ "smtp.example.org:2525", true, "smtp.example.org", 2525, true, false },
	{ "example.org", true, "example.org", 25, true, false },
	{ "[192.0.2.1]:26", true, "192.0.2.1", 26, false, true },
	{ "192.0.2.1", true, "192.0.2.1", 25, false, true },
	{ "[2001:db8::1]:587", true, "2001:db8::1", 587, false, true },
	{ "[IPv6:2001:db8::1]", true, "2001:db8::1", 25, false, true },
	{ "2001:db8::1", false, NULL, 0, false, false },
	{ "[host", false, NULL, 0, false, false },
	{ "[host]x", false, NULL, 0, false, false },
	{ "host:", false, NULL, 0, false, false },
	{ "host:0", false, NULL, 0, false, false },
	{ "host:65536", false, NULL, 0, false, false },
	{ "host:25x", false, NULL, 0, false, false },
	{ "", false, NULL, 0, false, false },
	{ "[]", false, NULL, 0, false, false },
	{ "bad..name", false, NULL, 0, false, false },
	{ "[bad..name]:25", false, NULL, 0, false, false },
};

static void test_relay(void **state)
{
	for (size_t i = 0; i < sizeof relay_cases / sizeof relay_cases[0]; i++) {
		const struct relay_case *c = &relay_cases[i];
		struct mta_dest d;
		bool ok = mta_dest_relay(c->in, 25, &d);
		if (ok != c->ok)
			fail_msg("%s: ok %d, want %d", c->in, ok, c->ok);
		if (!ok)
			continue;
		if (strcmp(d.name, c->name) != 0 || d.port != c->port || d.mx != c->mx || d.literal != c->literal || !d.relay)
			fail_msg("%s: got %s port %u mx %d literal %d", c->in, d.name, d.port, d.mx, d.literal);
	}
}

static void test_domain(void **state)
{
	struct mta_dest d;
	assert_true(mta_dest_domain("Example.ORG", 2525, &d));
	assert_string_equal(d.name, "example.org");
	assert_true(d.mx);
	assert_false(d.literal);
	assert_false(d.relay);
	assert_int_equal(d.port, 2525);
	assert_true(mta_dest_domain("[192.0.2.7]", 25, &d));
	assert_string_equal(d.name, "192.0.2.7");
	assert_true(d.literal);
	assert_false(d.mx);
	assert_true(mta_dest_domain("[IPv6:2001:DB8::7]", 25, &d));
	assert_true(d.literal);
	assert_false(mta_dest_domain("[2001:db8::7]", 25, &d));      /* RFC 5321 wants the tag */
	assert_false(mta_dest_domain("[IPv6:192.0.2.7]", 25, &d));
	assert_false(mta_dest_domain("[example.org]", 25, &d));
	assert_false(mta_dest_domain("", 25, &d));
	assert_false(mta_dest_domain("a..b", 25, &d));
}

static void test_addr(void **state)
{
	struct mta_addr a;
	char out[320];
	assert_true(mta_addr_set(&a, "mx.example.org", "192.0.2.1", 25));
	assert_false(a.literal);
	mta_addr_format(&a, out, sizeof out);
	assert_string_equal(out, "mx.example.org[192.0.2.1]:25");
	assert_true(mta_addr_set(&a, "2001:db8::1", "2001:db8::1", 587));
	assert_true(a.literal);
	assert_int_equal(a.sa.ss_family, AF_INET6);
	assert_false(mta_addr_set(&a, "x", "not-an-ip", 25));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
