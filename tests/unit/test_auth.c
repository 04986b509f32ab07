/*
 * test_auth.c — unit tests for src/auth: password hashes (argon2id, other
 * argon2 variants, crypt(3) formats), the brute-force throttle (with an
 * injected clock), and the verification worker pool with a fake lookup.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <argon2.h>
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/authpool.h"
#include "auth/password.h"
#include "auth/throttle.h"
#include "lib/util.h"
#include "lib/xalloc.h"

/* ---- password ------------------------------------------------------------ */

/* `openssl passwd -6 -salt abc secret`, computed once. */
static const char fixed_sha512[] =
	"$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1";

static char *crypt_hash(const char *prefix, unsigned long count, const char *password)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof setting));
	struct crypt_data *cd = calloc(1, sizeof *cd);
	assert_non_null(cd);
	const char *h = crypt_r(password, setting, cd);
	assert_non_null(h);
	assert_true(h[0] == '$');
	char *out = xstrdup(h);
	free(cd);
	return out;
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void test_hash_round_trip(void **state)
{
	(void)state;
	char *h = password_hash("correct horse", 13);
	assert_non_null(h);
	assert_true(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	assert_true(password_verify(h, "correct horse", 13));
	assert_false(password_verify(h, "correct hors", 12));
	assert_false(password_verify(h, "correct horsf", 13));
	assert_false(password_verify(h, "Correct horse", 13));
	assert_false(password_verify(h, "", 0));
	/* length is the truth: a longer buffer with the same prefix differs */
	assert_false(password_verify(h, "correct horse battery", 21));
	assert_false(password_verify(h, NULL, 13));

	/* a fresh salt every time */
	char *h2 = password_hash("correct horse", 13);
	assert_non_null(h2);
	assert_string_not_equal(h, h2);
	assert_true(password_verify(h2, "correct horse", 13));
	free(h);
	free(h2);
}

static void test_hash_binary_and_empty(void **state)
{
	(void)state;
	/* argon2 takes any bytes, NUL included */
	char *h = password_hash("a\0b\xff", 4);
	assert_non_null(h);
	assert_true(password_verify(h, "a\0b\xff", 4));
	assert_false(password_verify(h, "a", 1));
	assert_false(password_verify(h, "a\0b", 3));
	assert_false(password_verify(h, "a\0c\xff", 4));
	free(h);

	h = password_hash("", 0);
	assert_non_null(h);
	assert_true(password_verify(h, "", 0));
	assert_true(password_verify(h, NULL, 0));
	assert_false(password_verify(h, "x", 1));
	free(h);
}

static void test_sha512_crypt(void **state)
{
	(void)state;
	char *h = crypt_hash("$6$", 0, "hunter2");
	assert_true(strncmp(h, "$6$", 3) == 0);
	assert_true(password_verify(h, "hunter2", 7));
	assert_false(password_verify(h, "hunter3", 7));
	assert_false(password_verify(h, "hunter", 6));
	free(h);

	assert_true(password_verify(fixed_sha512, "secret", 6));
	assert_false(password_verify(fixed_sha512, "Secret", 6));
	assert_false(password_verify(fixed_sha512, "secret ", 7));
	assert_false(password_verify(fixed_sha512, "", 0));
	/* tampered hash */
	char t[sizeof fixed_sha512];
	memcpy(t, fixed_sha512, sizeof t);
	t[sizeof t - 2] = t[sizeof t - 2] == 'A' ? 'B' : 'A';
	assert_false(password_verify(t, "secret", 6));
	/* truncated hash */
	t[sizeof t - 2] = '\0';
	assert_false(password_verify(t, "secret", 6));
}

static void test_nul_in_password_crypt(void **state)
{
	(void)state;
	/* crypt_r would see only "secret": must not be accepted */
	assert_false(password_verify(fixed_sha512, "secret\0junk", 11));
	assert_false(password_verify(fixed_sha512, "secret\0", 7));
	char *h = crypt_hash("$2b$", 4, "pw");
	assert_false(password_verify(h, "pw\0", 3));
	assert_true(password_verify(h, "pw", 2));
	free(h);
}

static void test_other_crypt_formats(void **state)
{
	(void)state;
	char *h = crypt_hash("$2b$", 5, "bcrypt pass");
	assert_true(strncmp(h, "$2b$05$", 7) == 0);
	assert_true(password_verify(h, "bcrypt pass", 11));
	assert_false(password_verify(h, "bcrypt pasS", 11));
	free(h);

	h = crypt_hash("$5$", 0, "sha256 pass");
	assert_true(password_verify(h, "sha256 pass", 11));
	assert_false(password_verify(h, "sha256 pas", 10));
	free(h);

	h = crypt_hash("$y$", 0, "yescrypt pass");
	assert_true(strncmp(h, "$y$", 3) == 0);
	assert_true(password_verify(h, "yescrypt pass", 13));
	assert_false(password_verify(h, "yescrypt", 8));
	free(h);

	/* SHA-crypt with explicit rounds, within bounds */
	h = crypt_hash("$6$", 10000, "rounds");
	assert_non_null(strstr(h, "rounds=10000$"));
	assert_true(password_verify(h, "rounds", 6));
	free(h);
}

static void test_other_argon2(void **state)
{
	(void)state;
	const unsigned char salt[] = "0123456789abcdef";
	char enc[256];

	/* argon2i, t=3 m=4096 p=2, 24-byte tag, as another tool would make it */
	assert_int_equal(argon2i_hash_encoded(3, 4096, 2, "other tool", 10, salt, 16, 24,
					      enc, sizeof enc), ARGON2_OK);
	assert_true(strncmp(enc, "$argon2i$v=19$m=4096,t=3,p=2$", 29) == 0);
	assert_true(password_verify(enc, "other tool", 10));
	assert_false(password_verify(enc, "other tooL", 10));

	/* argon2id with other parameters */
	assert_int_equal(argon2id_hash_encoded(1, 8192, 1, "x", 1, salt, 8, 16,
					       enc, sizeof enc), ARGON2_OK);
	assert_true(password_verify(enc, "x", 1));
	assert_false(password_verify(enc, "y", 1));

	/* argon2d too */
	assert_int_equal(argon2d_hash_encoded(1, 1024, 1, "dd", 2, salt, 16, 32,
					      enc, sizeof enc), ARGON2_OK);
	assert_true(password_verify(enc, "dd", 2));
	assert_false(password_verify(enc, "d", 1));
}

static void test_excessive_cost(void **state)
{
	(void)state;
	struct timespec a, b;
	char bcrypt31[CRYPT_GENSALT_OUTPUT_SIZE + 64];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	assert_non_null(crypt_gensalt_rn("$2b$", 31, NULL, 0, setting, sizeof setting));
	snprintf(bcrypt31, sizeof bcrypt31, "%s%s", setting, "u5Zk1fCGMcM0I1i0wdbA4nXX1PUNHlW");
	assert_int_equal(strlen(bcrypt31), 60);
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* 4 TiB of memory: refused before libargon2 tries to allocate it */
	assert_false(password_verify("$argon2id$v=19$m=4294967295,t=2,p=1$"
				     "MDEyMzQ1Njc4OWFiY2RlZg$0W53UTiLIhP0ftjkucb1amFqkaPNRCLAsTYSmhS/5qY",
				     "x", 1));
	/* 2^32-1 passes */
	assert_false(password_verify("$argon2id$v=19$m=19456,t=4294967295,p=1$"
				     "MDEyMzQ1Njc4OWFiY2RlZg$0W53UTiLIhP0ftjkucb1amFqkaPNRCLAsTYSmhS/5qY",
				     "x", 1));
	/* a number that does not fit */
	assert_false(password_verify("$argon2id$v=19$m=99999999999999999999,t=2,p=1$"
				     "MDEyMzQ1Njc4OWFiY2RlZg$0W53UTiLIhP0ftjkucb1amFqkaPNRCLAsTYSmhS/5qY",
				     "x", 1));
	/* bcrypt cost 31 would run for days */
	assert_false(password_verify(bcrypt31, "x", 1));
	/* SHA-crypt with the maximum rounds libxcrypt allows (minutes) */
	assert_false(password_verify("$6$rounds=999999999$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9Y"
				     "B2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1", "x", 1));
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(elapsed_ms(&a, &b) < 2000);
}

static void test_garbage_formats(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "$", "$$", "plain", "secret", "*", "!", "!$6$abc$x", "*LK*",
		"abJnggxhB/yWI",                    /* DES: not starting with '$' */
		"$argon2id$", "$argon2id$v=19$", "$argon2id$v=19$m=19456,t=2,p=1$",
		"$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!",
		"$argon2id$v=19$m=19456,t=2,p=0$MDEyMzQ1Njc4OWFiY2RlZg$0W53UTiLIhP0ftjkucb1amFqkaPNRCLAsTYSmhS/5qY",
		"$argon2x$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$0W53UTiLIhP0ftjkucb1amFqkaPNRCLAsTYSmhS/5qY",
		"$argon2$", "$6$", "$6$abc", "$6$abc$", "$99$abc$def", "$2b$", "$2b$xx$", "$1$",
		"$7$", "$y$", "$y$j9T$",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_false(password_verify(bad[i], "secret", 6));
		assert_false(password_verify(bad[i], "", 0));
	}
	assert_false(password_verify(NULL, "secret", 6));

	/* a very long "hash" */
	char *longh = xmalloc(5000);
	memset(longh, 'a', 4999);
	longh[0] = '$';
	longh[1] = '6';
	longh[2] = '$';
	longh[4999] = '\0';
	assert_false(password_verify(longh, "secret", 6));
	free(longh);
}

static void test_dummy_costs_the_same(void **state)
{
	(void)state;
	char *h = password_hash("pw", 2);
	assert_non_null(h);
	struct timespec a, b, c;
	double real = 0, dummy = 0;
	for (int i = 0; i < 3; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_false(password_verify(h, "nope", 4));
		clock_gettime(CLOCK_MONOTONIC, &b);
		password_verify_dummy("nope", 4);
		clock_gettime(CLOCK_MONOTONIC, &c);
		real += elapsed_ms(&a, &b);
		dummy += elapsed_ms(&b, &c);
	}
	/* Same parameters, so the same order of cost; loose bounds against noise. */
	assert_true(dummy > real / 4);
	assert_true(dummy < real * 4);
	password_verify_dummy(NULL, 0);
	password_verify_dummy("", 0);
	free(h);
}

/* ---- throttle ------------------------------------------------------------ */

static uint64_t fake_now = 1000000000;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static int throttle_setup(void **state)
{
	(void)state;
	auth_throttle_set_clock(fake_clock);
	/* every entry from earlier tests decays */
	fake_now += 24 * 3600 * 1000ULL;
	auth_throttle_configure(100, 1000);
	return 0;
}

static int throttle_teardown(void **state)
{
	(void)state;
	auth_throttle_set_clock(NULL);
	auth_throttle_configure(500, 15000);
	return 0;
}

static void test_throttle_doubles_and_caps(void **state)
{
	(void)state;
	const uint64_t want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	assert_int_equal(auth_throttle_peek("192.0.2.1", "alice@example.org"), 0);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(auth_throttle_failure("192.0.2.1", "alice@example.org"), want[i]);
		/* peek reports without counting */
		assert_int_equal(auth_throttle_peek("192.0.2.1", "alice@example.org"), want[i]);
		assert_int_equal(auth_throttle_peek("192.0.2.1", "alice@example.org"), want[i]);
	}
	/* many more failures: stays at the cap, no overflow */
	for (int i = 0; i < 5000; i++)
		assert_int_equal(auth_throttle_failure("192.0.2.1", "alice@example.org"), 1000);

	/* a large max: the doubling goes on */
	auth_throttle_configure(1, UINT64_MAX);
	assert_int_equal(auth_throttle_failure("192.0.2.99", "doubling"), 1);
	assert_int_equal(auth_throttle_failure("192.0.2.99", "doubling"), 2);
	assert_int_equal(auth_throttle_failure("192.0.2.99", "doubling"), 4);
	assert_int_equal(auth_throttle_failure("192.0.2.99", "doubling"), 8);
	/* max below base is raised to base */
	auth_throttle_configure(300, 10);
	assert_int_equal(auth_throttle_failure("192.0.2.98", "low-max"), 300);
	assert_int_equal(auth_throttle_failure("192.0.2.98", "low-max"), 300);
	auth_throttle_configure(100, 1000);
}

static void test_throttle_ip_and_user_independent(void **state)
{
	(void)state;
	/* three failures: ip A with user u1 */
	for (int i = 0; i < 3; i++)
		auth_throttle_failure("198.51.100.1", "u1@example.org");
	/* fresh ip and fresh user: first failure */
	assert_int_equal(auth_throttle_failure("198.51.100.2", "u2@example.org"), 100);
	/* the same user from another ip: the user's counter (4th) decides */
	assert_int_equal(auth_throttle_failure("198.51.100.3", "u1@example.org"), 800);
	/* the same ip with another user: the ip's counter (4th) decides */
	assert_int_equal(auth_throttle_failure("198.51.100.1", "u3@example.org"), 800);

	assert_int_equal(auth_throttle_peek("198.51.100.1", NULL), 800);        /* ip A: 4 */
	assert_int_equal(auth_throttle_peek(NULL, "u1@example.org"), 800);      /* u1: 4 */
	assert_int_equal(auth_throttle_peek("198.51.100.3", NULL), 100);        /* ip C: 1 */
	assert_int_equal(auth_throttle_peek(NULL, "u3@example.org"), 100);
	assert_int_equal(auth_throttle_peek("198.51.100.9", "nobody"), 0);
	assert_int_equal(auth_throttle_peek("198.51.100.2", "u2@example.org"), 100);

	/* user names are compared case-insensitively, IPs as given */
	assert_int_equal(auth_throttle_peek(NULL, "U1@Example.ORG"), 800);
	assert_int_equal(auth_throttle_failure("203.0.113.7", "Case@Example.org"), 100);
	assert_int_equal(auth_throttle_failure("203.0.113.8", "case@example.ORG"), 200);
	assert_int_equal(auth_throttle_peek(NULL, "CASE@EXAMPLE.ORG"), 200);
}

static void test_throttle_success_clears(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		auth_throttle_failure("198.51.100.50", "clear@example.org");
	auth_throttle_failure("198.51.100.51", "clear@example.org");     /* user: 5 */
	auth_throttle_failure("198.51.100.50", "other@example.org");     /* ip: 5 */
	assert_int_equal(auth_throttle_peek("198.51.100.50", NULL), 1000);
	assert_int_equal(auth_throttle_peek("198.51.100.51", NULL), 100);
	assert_int_equal(auth_throttle_peek(NULL, "other@example.org"), 100);

	auth_throttle_success("198.51.100.50", "Clear@Example.org");
	assert_int_equal(auth_throttle_peek("198.51.100.50", "clear@example.org"), 0);
	/* only the ip and the account that succeeded are cleared */
	assert_int_equal(auth_throttle_peek("198.51.100.51", NULL), 100);
	assert_int_equal(auth_throttle_peek(NULL, "other@example.org"), 100);
	/* counting restarts from one */
	assert_int_equal(auth_throttle_failure("198.51.100.50", "clear@example.org"), 100);
}

static void test_throttle_decay(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		auth_throttle_failure("198.51.100.70", "decay@example.org");
	assert_int_equal(auth_throttle_peek("198.51.100.70", "decay@example.org"), 400);

	/* 14:59 after the last failure: still there */
	fake_now += 15 * 60 * 1000 - 1;
	assert_int_equal(auth_throttle_peek("198.51.100.70", NULL), 400);
	assert_int_equal(auth_throttle_peek(NULL, "decay@example.org"), 400);
	/* a failure now refreshes it: the window starts again */
	assert_int_equal(auth_throttle_failure("198.51.100.70", "decay@example.org"), 800);
	fake_now += 10 * 60 * 1000;
	assert_int_equal(auth_throttle_peek("198.51.100.70", "decay@example.org"), 800);
	/* 15:00 after the last failure: gone */
	fake_now += 5 * 60 * 1000;
	assert_int_equal(auth_throttle_peek("198.51.100.70", NULL), 0);
	assert_int_equal(auth_throttle_peek(NULL, "decay@example.org"), 0);
	assert_int_equal(auth_throttle_failure("198.51.100.70", "decay@example.org"), 100);
}

static void test_throttle_bounded_table(void **state)
{
	(void)state;
	char ip[64], user[64];
	/* far more keys than the tables hold: old ones are dropped, nothing grows */
	for (int i = 0; i < 20000; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		snprintf(user, sizeof user, "flood%d@example.org", i);
		fake_now++;
		assert_int_equal(auth_throttle_failure(ip, user), 100);
	}
	/* the most recent keys are still counted */
	assert_int_equal(auth_throttle_peek(ip, NULL), 100);
	assert_int_equal(auth_throttle_peek(NULL, user), 100);
	/* a key under sustained attack survives the flood (oldest are evicted first) */
	for (int i = 0; i < 3; i++)
		auth_throttle_failure("192.0.2.200", "target@example.org");
	for (int i = 0; i < 500; i++) {
		snprintf(user, sizeof user, "flood-b%d@example.org", i);
		fake_now++;
		auth_throttle_failure(NULL, user);
	}
	assert_int_equal(auth_throttle_peek(NULL, "target@example.org"), 400);
}

struct hammer_arg {
	int id;
};

static void *hammer(void *arg)
{
	struct hammer_arg *h = arg;
	char ip[64];
	snprintf(ip, sizeof ip, "172.16.0.%d", h->id);
	for (int i = 0; i < 2000; i++) {
		auth_throttle_failure(ip, "shared@example.org");
		auth_throttle_peek(ip, "shared@example.org");
	}
	return NULL;
}

static void test_throttle_threads(void **state)
{
	(void)state;
	pthread_t t[4];
	struct hammer_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(auth_throttle_peek(NULL, "shared@example.org"), 1000);
	auth_throttle_success("172.16.0.0", "shared@example.org");
	assert_int_equal(auth_throttle_peek("172.16.0.0", "shared@example.org"), 0);
	assert_int_equal(auth_throttle_peek("172.16.0.1", NULL), 1000);
}

/* ---- authpool ------------------------------------------------------------ */

static char *alice_hash, *bob_hash;

struct fake_tctx {
	int magic;
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static int inits, finis, lookups, completed;
static pthread_t main_thread;

static void *fake_init(void *arg)
{
	assert_ptr_equal(arg, &inits);
	struct fake_tctx *t = xmalloc(sizeof *t);
	t->magic = 0x5eed;
	pthread_mutex_lock(&pool_mu);
	inits++;
	pthread_mutex_unlock(&pool_mu);
	return t;
}

static void fake_fini(void *tctx)
{
	struct fake_tctx *t = tctx;
	assert_int_equal(t->magic, 0x5eed);
	free(t);
	pthread_mutex_lock(&pool_mu);
	finis++;
	pthread_mutex_unlock(&pool_mu);
}

static bool fake_lookup(void *tctx, const char *user, char **hash, int64_t *account_id,
			char canonical[320])
{
	struct fake_tctx *t = tctx;
	assert_int_equal(t->magic, 0x5eed);
	pthread_mutex_lock(&pool_mu);
	lookups++;
	pthread_mutex_unlock(&pool_mu);
	if (strcasecmp(user, "alice@example.org") == 0) {
		*hash = xstrdup(alice_hash);
		*account_id = 42;
		snprintf(canonical, 320, "alice@example.org");
		return true;
	}
	if (strcmp(user, "bob@example.org") == 0) {
		*hash = xstrdup(bob_hash);
		*account_id = 7;
		snprintf(canonical, 320, "bob@example.org");
		return true;
	}
	return false;
}

struct test_req {
	struct auth_request r;
	int calls;
	bool on_main;
	bool expect_ok;
};

static void test_done(struct auth_request *r)
{
	struct test_req *t = r->arg;
	pthread_mutex_lock(&pool_mu);
	t->calls++;
	t->on_main = pthread_equal(pthread_self(), main_thread);
	completed++;
	pthread_cond_broadcast(&pool_cv);
	pthread_mutex_unlock(&pool_mu);
}

static void req_init(struct test_req *t, const char *ip, const char *authzid, const char *user,
		     const char *password, bool expect_ok)
{
	memset(t, 0, sizeof *t);
	snprintf(t->r.ip, sizeof t->r.ip, "%s", ip);
	snprintf(t->r.authzid, sizeof t->r.authzid, "%s", authzid);
	snprintf(t->r.user, sizeof t->r.user, "%s", user);
	t->r.password = xstrdup(password);
	t->r.password_len = strlen(password);
	t->r.done = test_done;
	t->r.arg = t;
	/* outputs start as garbage: the pool must set them */
	t->r.ok = !expect_ok;
	t->r.account_id = -1;
	memset(t->r.address, 'X', sizeof t->r.address);
	t->r.delay_ms = 12345;
	t->expect_ok = expect_ok;
}

static void wait_completed(int n)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	pthread_mutex_lock(&pool_mu);
	while (completed < n) {
		if (pthread_cond_timedwait(&pool_cv, &pool_mu, &deadline) != 0)
			break;
	}
	int got = completed;
	pthread_mutex_unlock(&pool_mu);
	assert_int_equal(got, n);
}

static int pool_setup(void **state)
{
	(void)state;
	alice_hash = password_hash("alice pw", 8);
	assert_non_null(alice_hash);
	bob_hash = crypt_hash("$6$", 0, "bob pw");
	main_thread = pthread_self();
	inits = finis = lookups = completed = 0;
	auth_throttle_set_clock(NULL);
	auth_throttle_configure(10, 80);
	return 0;
}

static int pool_teardown(void **state)
{
	(void)state;
	free(alice_hash);
	free(bob_hash);
	auth_throttle_configure(500, 15000);
	return 0;
}

static void test_pool_concurrent(void **state)
{
	(void)state;
	enum { N = 20 };
	struct test_req *reqs = xcalloc(N, sizeof *reqs);
	struct auth_lookup lk = { fake_init, fake_fini, fake_lookup, &inits };
	struct auth_pool *p = auth_pool_start(2, &lk);
	assert_non_null(p);
	completed = 0;

	for (int i = 0; i < N; i++) {
		char ip[64];
		snprintf(ip, sizeof ip, "2001:db8::%d", i);
		switch (i % 7) {
		case 0: req_init(&reqs[i], ip, "", "alice@example.org", "alice pw", true); break;
		case 1: req_init(&reqs[i], ip, "", "alice@example.org", "alice PW", false); break;
		case 2: req_init(&reqs[i], ip, "", "nobody@example.org", "alice pw", false); break;
		case 3: req_init(&reqs[i], ip, "ALICE@example.org", "Alice@Example.org", "alice pw", true); break;
		case 4: req_init(&reqs[i], ip, "bob@example.org", "alice@example.org", "alice pw", false); break;
		case 5: req_init(&reqs[i], ip, "", "bob@example.org", "bob pw", true); break;
		case 6: req_init(&reqs[i], ip, "", "bob@example.org", "alice pw", false); break;
		}
	}
	for (int i = 0; i < N; i++)
		auth_verify(p, &reqs[i].r);
	wait_completed(N);

	for (int i = 0; i < N; i++) {
		struct auth_request *r = &reqs[i].r;
		assert_int_equal(reqs[i].calls, 1);
		assert_false(reqs[i].on_main);
		assert_int_equal(r->ok, reqs[i].expect_ok);
		if (r->ok) {
			assert_int_equal(r->delay_ms, 0);
			if (i % 7 == 5) {
				assert_int_equal(r->account_id, 7);
				assert_string_equal(r->address, "bob@example.org");
			} else {
				assert_int_equal(r->account_id, 42);
				assert_string_equal(r->address, "alice@example.org");
			}
		} else {
			assert_true(r->delay_ms >= 10 && r->delay_ms <= 80);
			assert_int_equal(r->account_id, 0);
			assert_string_equal(r->address, "");
		}
		/* the pool does not touch the password: the protocol clears it */
		assert_non_null(r->password);
		auth_request_clear(r);
		assert_null(r->password);
		assert_int_equal(r->password_len, 0);
		auth_request_clear(r);
	}
	auth_pool_stop(&p);
	assert_null(p);
	assert_int_equal(inits, 2);
	assert_int_equal(finis, 2);
	/* authzid mismatches are refused before any lookup */
	int mismatches = 0;
	for (int i = 0; i < N; i++)
		mismatches += i % 7 == 4;
	assert_int_equal(lookups, N - mismatches);
	free(reqs);
}

static void test_pool_failures_throttled(void **state)
{
	(void)state;
	struct auth_lookup lk = { fake_init, fake_fini, fake_lookup, &inits };
	struct auth_pool *p = auth_pool_start(1, &lk);
	assert_non_null(p);
	struct test_req t;
	const uint64_t want[] = { 10, 20, 40, 80, 80 };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		completed = 0;
		/* unknown and known users count alike: the ip's counter rises */
		req_init(&t, "192.0.2.77", "", i % 2 ? "ghost@example.org" : "bob@example.org",
			 "wrong", false);
		auth_verify(p, &t.r);
		wait_completed(1);
		assert_false(t.r.ok);
		assert_int_equal(t.r.delay_ms, want[i]);
		auth_request_clear(&t.r);
	}
	/* a success clears the ip and the account */
	completed = 0;
	req_init(&t, "192.0.2.77", "", "bob@example.org", "bob pw", true);
	auth_verify(p, &t.r);
	wait_completed(1);
	assert_true(t.r.ok);
	assert_int_equal(auth_throttle_peek("192.0.2.77", "bob@example.org"), 0);
	assert_int_equal(auth_throttle_peek(NULL, "ghost@example.org"), 20);
	auth_request_clear(&t.r);
	auth_pool_stop(&p);
}

static void test_pool_stop_drains(void **state)
{
	(void)state;
	enum { N = 8 };
	struct test_req reqs[N];
	struct auth_lookup lk = { fake_init, fake_fini, fake_lookup, &inits };
	struct auth_pool *p = auth_pool_start(2, &lk);
	assert_non_null(p);
	completed = 0;
	for (int i = 0; i < N; i++) {
		req_init(&reqs[i], "192.0.2.88", "", "nobody@example.org", "x", false);
		auth_verify(p, &reqs[i].r);
	}
	/* stop right away: every queued request still completes, once */
	auth_pool_stop(&p);
	assert_null(p);
	assert_int_equal(completed, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(reqs[i].calls, 1);
		assert_false(reqs[i].r.ok);
		auth_request_clear(&reqs[i].r);
	}
	auth_pool_stop(&p);     /* NULL: no-op */
	assert_null(auth_pool_start(2, NULL));
	assert_null(auth_pool_start(2, &(struct auth_lookup){ fake_init, fake_fini, NULL, NULL }));
}

static void test_pool_empty_user_and_null_password(void **state)
{
	(void)state;
	struct auth_lookup lk = { fake_init, fake_fini, fake_lookup, &inits };
	struct auth_pool *p = auth_pool_start(0, &lk);  /* 0 means one worker */
	assert_non_null(p);
	struct test_req t;
	completed = 0;
	req_init(&t, "192.0.2.90", "", "", "x", false);
	auth_verify(p, &t.r);
	wait_completed(1);
	assert_false(t.r.ok);
	assert_int_equal(t.calls, 1);
	auth_request_clear(&t.r);

	/* no password at all */
	completed = 0;
	req_init(&t, "192.0.2.90", "", "alice@example.org", "", false);
	auth_request_clear(&t.r);
	auth_verify(p, &t.r);
	wait_completed(1);
	assert_false(t.r.ok);

	/* fields without a NUL are cut, not overrun */
	completed = 0;
	req_init(&t, "192.0.2.91", "", "alice@example.org", "alice pw", true);
	memset(t.r.ip, 'i', sizeof t.r.ip);
	memset(t.r.authzid, 'z', sizeof t.r.authzid);
	auth_verify(p, &t.r);
	wait_completed(1);
	assert_false(t.r.ok);    /* authzid "zzz…" is not alice */
	auth_request_clear(&t.r);
	auth_pool_stop(&p);
}

int main(void)
{
	const struct CMUnitTest password_tests[] = {
		cmocka_unit_test(test_hash_round_trip),
		cmocka_unit_test(test_hash_binary_and_empty),
		cmocka_unit_test(test_sha512_crypt),
		cmocka_unit_test(test_nul_in_password_crypt),
		cmocka_unit_test(test_other_crypt_formats),
		cmocka_unit_test(test_other_argon2),
		cmocka_unit_test(test_excessive_cost),
		cmocka_unit_test(test_garbage_formats),
		cmocka_unit_test(test_dummy_costs_the_same),
	};
	const struct CMUnitTest throttle_tests[] = {
		cmocka_unit_test_setup(test_throttle_doubles_and_caps, throttle_setup),
		cmocka_unit_test_setup(test_throttle_ip_and_user_independent, throttle_setup),
		cmocka_unit_test_setup(test_throttle_success_clears, throttle_setup),
		cmocka_unit_test_setup(test_throttle_decay, throttle_setup),
		cmocka_unit_test_setup(test_throttle_bounded_table, throttle_setup),
		cmocka_unit_test_setup(test_throttle_threads, throttle_setup),
	};
	const struct CMUnitTest pool_tests[] = {
		cmocka_unit_test(test_pool_concurrent),
		cmocka_unit_test(test_pool_failures_throttled),
		cmocka_unit_test(test_pool_stop_drains),
		cmocka_unit_test(test_pool_empty_user_and_null_password),
	};
	int failed = cmocka_run_group_tests_name("password", password_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("throttle", throttle_tests, NULL, throttle_teardown);
	failed += cmocka_run_group_tests_name("authpool", pool_tests, pool_setup, pool_teardown);
	return failed;
}
