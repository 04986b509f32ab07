/*
 * test_authcache.c — the cache of verified credentials: what hits, what
 * never does, expiry, and the auth pool skipping argon2id for a password
 * it verified a moment ago while still refusing every other one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <argon2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/authcache.h"
#include "auth/authpool.h"
#include "auth/password.h"
#include "auth/throttle.h"
#include "lib/xalloc.h"

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

static void test_hit_only_for_the_same_hash_and_password(void **state)
{
	(void)state;
	struct auth_cache *c = auth_cache_new(16, 1000);
	assert_non_null(c);
	assert_false(auth_cache_hit(c, "$h1", "secret", 6));
	auth_cache_put(c, "$h1", "secret", 6);
	assert_true(auth_cache_hit(c, "$h1", "secret", 6));
	assert_false(auth_cache_hit(c, "$h1", "Secret", 6));
	assert_false(auth_cache_hit(c, "$h1", "secre", 5));
	assert_false(auth_cache_hit(c, "$h1", "secret\0", 7));
	/* a new hash (the password was changed) misses */
	assert_false(auth_cache_hit(c, "$h2", "secret", 6));
	/* the hash/password boundary is part of what is hashed */
	auth_cache_put(c, "ab", "c", 1);
	assert_false(auth_cache_hit(c, "a", "bc", 2));
	assert_false(auth_cache_hit(c, NULL, "c", 1));
	auth_cache_free(&c);
	assert_null(c);
	auth_cache_free(&c);
}

static void test_expiry_and_off(void **state)
{
	(void)state;
	struct auth_cache *c = auth_cache_new(16, 1000);
	auth_cache_set_clock(c, fake_clock);
	fake_now = 5000;
	auth_cache_put(c, "$h", "pw", 2);
	fake_now = 5999;
	assert_true(auth_cache_hit(c, "$h", "pw", 2));
	fake_now = 6000;
	assert_false(auth_cache_hit(c, "$h", "pw", 2));
	/* a new success starts a new period */
	auth_cache_put(c, "$h", "pw", 2);
	fake_now = 6500;
	assert_true(auth_cache_hit(c, "$h", "pw", 2));
	auth_cache_free(&c);

	/* ttl 0: no cache, nothing ever hits */
	assert_null(auth_cache_new(16, 0));
	auth_cache_put(NULL, "$h", "pw", 2);
	assert_false(auth_cache_hit(NULL, "$h", "pw", 2));
}

static void test_many_entries(void **state)
{
	(void)state;
	struct auth_cache *c = auth_cache_new(1024, 60000);
	char pw[32];
	for (int i = 0; i < 64; i++) {
		int n = snprintf(pw, sizeof pw, "pw%d", i);
		auth_cache_put(c, "$h", pw, (size_t)n);
	}
	/* direct-mapped: recent entries are mostly there, none wrongly */
	int hits = 0;
	for (int i = 0; i < 64; i++) {
		int n = snprintf(pw, sizeof pw, "pw%d", i);
		hits += auth_cache_hit(c, "$h", pw, (size_t)n);
		n = snprintf(pw, sizeof pw, "other%d", i);
		assert_false(auth_cache_hit(c, "$h", pw, (size_t)n));
	}
	assert_true(hits >= 56);
	auth_cache_free(&c);
}

/* ---- through the pool ---------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done_count;
static char *stored_hash;       /* what the fake account store holds; guarded by mu */

static bool fake_lookup(void *tctx, const char *user, char **hash, int64_t *account_id, char canonical[320])
{
	(void)tctx;
	if (strcmp(user, "alice@example.org") != 0)
		return false;
	pthread_mutex_lock(&mu);
	*hash = xstrdup(stored_hash);
	pthread_mutex_unlock(&mu);
	*account_id = 42;
	canonical[0] = '\0';
	return true;
}

static void on_done(struct auth_request *r)
{
	(void)r;
	pthread_mutex_lock(&mu);
	done_count++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

/* One verification through the pool: its outcome, and how long it took. */
static bool verify(struct auth_pool *p, const char *pw, double *ms)
{
	struct timespec a, b;
	struct auth_request *r = auth_request_new("192.0.2.1", "", "alice@example.org", pw, strlen(pw), on_done, NULL);
	pthread_mutex_lock(&mu);
	done_count = 0;
	pthread_mutex_unlock(&mu);
	clock_gettime(CLOCK_MONOTONIC, &a);
	auth_verify(p, r);
	pthread_mutex_lock(&mu);
	while (done_count == 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	clock_gettime(CLOCK_MONOTONIC, &b);
	*ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	bool ok = r->ok;
	auth_request_clear(r);
	free(r);
	return ok;
}

/* An argon2id hash costly enough (64 MiB, t=3) that skipping it shows. */
static char *slow_hash(const char *pw)
{
	unsigned char salt[16] = "0123456789abcdef";
	size_t len = argon2_encodedlen(3, 65536, 1, sizeof salt, 32, Argon2_id);
	char *out = xmalloc(len);
	assert_int_equal(argon2id_hash_encoded(3, 65536, 1, pw, strlen(pw), salt, sizeof salt, 32, out, len),
			 ARGON2_OK);
	return out;
}

static void test_pool_skips_argon2_for_a_verified_password(void **state)
{
	(void)state;
	auth_throttle_configure(1, 1);
	stored_hash = slow_hash("right horse");
	struct auth_lookup lk = { NULL, NULL, fake_lookup, NULL };
	struct auth_pool *p = auth_pool_start(1, &lk);
	assert_non_null(p);
	auth_pool_cache(p, 3600000);

	double first, again, wrong;
	assert_true(verify(p, "right horse", &first));
	assert_true(verify(p, "right horse", &again));
	/* the second login did not run argon2id: a tenth of the time is generous */
	assert_true(again * 10 < first);
	/* a wrong password still costs a full verification, and fails */
	assert_false(verify(p, "wrong horse", &wrong));
	assert_true(wrong * 2 > first);
	assert_true(verify(p, "right horse", &again));

	/* password changed: the old one is refused at once, the new one verifies */
	char *new_hash = password_hash("new horse", 9);
	pthread_mutex_lock(&mu);
	free(stored_hash);
	stored_hash = new_hash;
	pthread_mutex_unlock(&mu);
	assert_false(verify(p, "right horse", &wrong));
	assert_true(verify(p, "new horse", &again));

	auth_pool_stop(&p);
	free(stored_hash);
	auth_throttle_configure(500, 15000);
}

static void test_pool_without_cache_verifies_every_time(void **state)
{
	(void)state;
	auth_throttle_configure(1, 1);
	stored_hash = slow_hash("right horse");
	struct auth_lookup lk = { NULL, NULL, fake_lookup, NULL };
	struct auth_pool *p = auth_pool_start(1, &lk);
	auth_pool_cache(p, 0);
	double first, again;
	assert_true(verify(p, "right horse", &first));
	assert_true(verify(p, "right horse", &again));
	assert_true(again * 2 > first);
	auth_pool_stop(&p);
	free(stored_hash);
	auth_throttle_configure(500, 15000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_only_for_the_same_hash_and_password),
		cmocka_unit_test(test_expiry_and_off),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_pool_skips_argon2_for_a_verified_password),
		cmocka_unit_test(test_pool_without_cache_verifies_every_time),
	};
	return cmocka_run_group_tests_name("authcache", tests, NULL, NULL);
}
