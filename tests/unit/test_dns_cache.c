/*
 * test_dns_cache.c — the resolver's own answer cache (src/dns/cache.c):
 * what is kept and for how long, that a kept answer reads back exactly as
 * a fresh one, and that the resolver serves repeated questions from it
 * with the same guarantees as from libunbound (on a later loop turn,
 * cancellable, freed with the resolver).
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

#include "dns/dns.h"
#include "dns/dns_int.h"
#include "lib/log.h"

/* TXT rdata: one character-string. */
static char txt1[] = "\x0bv=spf1 -all";
static char txt2[] = "\x05hello";

static struct ub_result result(int rcode, char **data, int *len, int ttl)
{
	struct ub_result u = { .qname = (char *)"x", .rcode = rcode, .data = data, .len = len, .ttl = ttl };
	u.havedata = data && data[0];
	u.nxdomain = rcode == RCODE_NXDOMAIN;
	return u;
}

static void test_kept_and_read_back(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(64);
	char *data[] = { txt1, txt2, NULL };
	int len[] = { (int)sizeof txt1 - 1, (int)sizeof txt2 - 1 };
	struct ub_result u = result(RCODE_NOERROR, data, len, 300);
	u.secure = 1;
	dns_cache_put(c, "Example.TEST.", DNS_TXT, &u, 1000);

	struct dns_result r;
	/* the name without case and trailing dot; the type is part of the key */
	assert_true(dns_cache_get(c, "example.test", DNS_TXT, 2000, &r));
	assert_int_equal(r.status, DNS_OK);
	assert_true(r.secure);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.txt[0].data, "v=spf1 -all");
	assert_string_equal(r.txt[1].data, "hello");
	dns_answer_free(&r);
	assert_false(dns_cache_get(c, "example.test", DNS_MX, 2000, &r));
	assert_false(dns_cache_get(c, "other.test", DNS_TXT, 2000, &r));

	/* until the TTL has run out */
	assert_true(dns_cache_get(c, "EXAMPLE.test.", DNS_TXT, 1000 + 299999, &r));
	dns_answer_free(&r);
	assert_false(dns_cache_get(c, "example.test", DNS_TXT, 1000 + 300000, &r));
	assert_false(dns_cache_get(c, "example.test", DNS_TXT, 1000, &r));   /* gone for good */

	/* a newer answer replaces the old one */
	dns_cache_put(c, "example.test", DNS_TXT, &u, 5000);
	char *data2[] = { txt2, NULL };
	int len2[] = { (int)sizeof txt2 - 1 };
	struct ub_result u2 = result(RCODE_NOERROR, data2, len2, 60);
	dns_cache_put(c, "example.test", DNS_TXT, &u2, 6000);
	assert_true(dns_cache_get(c, "example.test", DNS_TXT, 7000, &r));
	assert_int_equal(r.n, 1);
	assert_string_equal(r.txt[0].data, "hello");
	dns_answer_free(&r);
	dns_cache_free(&c);
	assert_null(c);
	dns_cache_free(&c);
}

static void test_negative_answers_kept(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(64);
	struct ub_result nx = result(RCODE_NXDOMAIN, NULL, NULL, 60);
	dns_cache_put(c, "gone.test", DNS_A, &nx, 0);
	char *none[] = { NULL };
	struct ub_result nodata = result(RCODE_NOERROR, none, NULL, 60);
	dns_cache_put(c, "_dmarc.example.test", DNS_TXT, &nodata, 0);
	struct dns_result r;
	assert_true(dns_cache_get(c, "gone.test", DNS_A, 10, &r));
	assert_int_equal(r.status, DNS_NXDOMAIN);
	dns_answer_free(&r);
	assert_true(dns_cache_get(c, "_dmarc.example.test", DNS_TXT, 10, &r));
	assert_int_equal(r.status, DNS_NODATA);
	dns_answer_free(&r);
	dns_cache_free(&c);
}

static void test_what_is_never_kept(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(64);
	char *data[] = { txt1, NULL };
	int len[] = { (int)sizeof txt1 - 1 };
	struct dns_result r;

	struct ub_result servfail = result(RCODE_SERVFAIL, NULL, NULL, 60);
	dns_cache_put(c, "a.test", DNS_TXT, &servfail, 0);
	assert_false(dns_cache_get(c, "a.test", DNS_TXT, 1, &r));

	struct ub_result bogus = result(RCODE_NOERROR, data, len, 60);
	bogus.bogus = 1;
	dns_cache_put(c, "b.test", DNS_TXT, &bogus, 0);
	assert_false(dns_cache_get(c, "b.test", DNS_TXT, 1, &r));

	struct ub_result nottl = result(RCODE_NOERROR, data, len, 0);
	dns_cache_put(c, "c.test", DNS_TXT, &nottl, 0);
	assert_false(dns_cache_get(c, "c.test", DNS_TXT, 1, &r));

	/* big answers are asked again rather than kept */
	static char big[5000];
	char *bd[] = { big, NULL };
	int bl[] = { (int)sizeof big };
	struct ub_result large = result(RCODE_NOERROR, bd, bl, 60);
	dns_cache_put(c, "d.test", DNS_TXT, &large, 0);
	assert_false(dns_cache_get(c, "d.test", DNS_TXT, 1, &r));

	/* the TTL is capped at an hour */
	struct ub_result day = result(RCODE_NOERROR, data, len, 86400);
	dns_cache_put(c, "e.test", DNS_TXT, &day, 0);
	assert_true(dns_cache_get(c, "e.test", DNS_TXT, 3599999, &r));
	dns_answer_free(&r);
	assert_false(dns_cache_get(c, "e.test", DNS_TXT, 3600000, &r));
	dns_cache_free(&c);
}

/* ---- through the resolver ---------------------------------------------------- */

struct seen {
	int calls;
	enum dns_status status;
	char first[64];
	struct event_base *base;
	int *pending;
	struct dns_resolver **free_me;
};

static void on_result(const struct dns_result *r, void *arg)
{
	struct seen *s = arg;
	s->calls++;
	s->status = r->status;
	if (r->status == DNS_OK && r->n > 0)
		snprintf(s->first, sizeof s->first, "%s", r->addrs[0]);
	if (s->free_me)
		dns_resolver_free(s->free_me);
	if (--*s->pending == 0)
		event_base_loopbreak(s->base);
}

static void run_loop(struct event_base *base)
{
	struct timeval guard = { 10, 0 };
	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
}

static void test_resolver_answers_again_from_the_cache(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	/* A dead forwarder: localhost is answered by libunbound itself. */
	struct dns_resolver *r = dns_resolver_new(base, "127.0.0.1:9", "none");
	assert_non_null(r);
	int pending = 1;
	struct seen first = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &first));
	run_loop(base);
	assert_int_equal(first.calls, 1);
	assert_string_equal(first.first, "127.0.0.1");
	uint64_t cached, asked;
	dns_resolver_counts(r, &cached, &asked);
	assert_int_equal(cached, 0);
	assert_int_equal(asked, 1);

	/* the same question again: from the cache, still never inside dns_lookup() */
	pending = 1;
	struct seen again = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "LOCALHOST.", DNS_A, on_result, &again));
	assert_int_equal(again.calls, 0);
	run_loop(base);
	assert_int_equal(again.calls, 1);
	assert_int_equal(again.status, DNS_OK);
	assert_string_equal(again.first, "127.0.0.1");
	dns_resolver_counts(r, &cached, &asked);
	assert_int_equal(cached, 1);
	assert_int_equal(asked, 1);

	/* a cached answer can be cancelled before it is delivered */
	struct seen cancelled = { .base = base, .pending = &pending };
	struct dns_query *q = dns_lookup(r, "localhost", DNS_A, on_result, &cancelled);
	assert_non_null(q);
	dns_cancel(q);
	pending = 1;
	struct seen after = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &after));
	run_loop(base);
	assert_int_equal(cancelled.calls, 0);
	assert_int_equal(after.calls, 1);

	/* its callback may free the resolver; pending cached answers go with it */
	pending = 1;
	struct seen freeing = { .base = base, .pending = &pending, .free_me = &r };
	struct seen dropped = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &freeing));
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &dropped));
	run_loop(base);
	assert_null(r);
	assert_int_equal(freeing.calls + dropped.calls, 1);

	/* freed with a cached answer still pending */
	r = dns_resolver_new(base, "127.0.0.1:9", "none");
	pending = 1;
	struct seen warm = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &warm));
	run_loop(base);
	struct seen never = { .base = base, .pending = &pending };
	assert_non_null(dns_lookup(r, "localhost", DNS_A, on_result, &never));
	dns_resolver_free(&r);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(never.calls, 0);
	event_base_free(base);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_and_read_back),
		cmocka_unit_test(test_negative_answers_kept),
		cmocka_unit_test(test_what_is_never_kept),
		cmocka_unit_test(test_resolver_answers_again_from_the_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
