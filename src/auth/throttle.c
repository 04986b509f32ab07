/*
 * throttle.c — brute-force throttling of logins (see throttle.h).
 *
 * Two fixed tables, one keyed by client IP and one by the (lower-cased)
 * name tried, each THROTTLE_SETS × THROTTLE_WAYS entries.  A key is reduced
 * to a 64-bit SipHash-2-4 tag under a random per-process key: the tables
 * hold no user names, and a client cannot choose names that pile up in one
 * set to push out somebody else's counter.  A full set drops its entry with
 * the oldest failure.  An entry whose last failure is THROTTLE_DECAY_MS old
 * counts as clear.
 *
 * One mutex guards everything: the work under it is a few dozen loads and
 * stores, far below the argon2 verification each call accompanies.
 * Called by auth_pool (authpool.c) on its worker threads.
 */
#include "auth/throttle.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define THROTTLE_WAYS 8
#define THROTTLE_SETS 512                       /* × WAYS = 4096 entries per table */
#define THROTTLE_DECAY_MS (15 * 60 * 1000)
#define THROTTLE_COUNT_MAX 1000                 /* saturates; the delay capped long before */
#define THROTTLE_KEY_MAX 320                    /* longest name hashed (auth_request.user) */

struct throttle_entry {
	uint64_t tag;           /* 0 = free */
	uint64_t last_ms;       /* time of the last failure */
	uint32_t count;
};

struct throttle_table {
	struct throttle_entry e[THROTTLE_SETS][THROTTLE_WAYS];
};

static pthread_mutex_t throttle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t throttle_once = PTHREAD_ONCE_INIT;
static struct throttle_table ip_table, user_table;
static uint64_t sip_k0, sip_k1;
/* Defaults match config.c's [auth] failure_delay / max_failure_delay. */
static uint64_t base_delay_ms = 500;
static uint64_t max_delay_ms = 15000;
static uint64_t (*throttle_clock)(void) = now_ms;

/* ---- SipHash-2-4 (Aumasson & Bernstein), 64-bit output ------------------ */

static inline uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND do { \
	v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
	v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
} while (0)

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t siphash24(uint64_t k0, uint64_t k1, const unsigned char *m, size_t n)
{
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w = load_le64(m + i);
		v3 ^= w;
		SIPROUND;
		SIPROUND;
		v0 ^= w;
	}
	uint64_t b = (uint64_t)n << 56;
	for (size_t j = 0; i + j < n; j++)
		b |= (uint64_t)m[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void throttle_init_key(void)
{
	unsigned char k[16];
	if (RAND_bytes(k, sizeof k) != 1) {
		/* Only set placement suffers from a guessable key, not correctness. */
		log_warn("auth", "msg=\"RAND_bytes failed, throttle hash key is predictable\"");
		uint64_t t = now_ms();
		memcpy(k, &t, sizeof t);
		memcpy(k + 8, &t, sizeof t);
	}
	sip_k0 = load_le64(k);
	sip_k1 = load_le64(k + 8);
}

/* The tag of a key; user names are lower-cased first (ASCII, like addresses' local parts in practice). */
static uint64_t throttle_tag(const char *key, bool lower)
{
	unsigned char tmp[THROTTLE_KEY_MAX];
	size_t n = strnlen(key, sizeof tmp);

	memcpy(tmp, key, n);
	if (lower)
		ascii_lower((char *)tmp, n);
	uint64_t tag = siphash24(sip_k0, sip_k1, tmp, n);
	return tag ? tag : 1;   /* 0 marks a free slot */
}

static bool entry_live(const struct throttle_entry *e, uint64_t now)
{
	/* now < last_ms only when a test clock steps back: keep the entry */
	return e->tag != 0 && e->count > 0 &&
	       (now < e->last_ms || now - e->last_ms < THROTTLE_DECAY_MS);
}

/* The live entry for tag, or NULL. */
static struct throttle_entry *table_find(struct throttle_table *t, uint64_t tag, uint64_t now)
{
	struct throttle_entry *set = t->e[tag % THROTTLE_SETS];
	for (size_t i = 0; i < THROTTLE_WAYS; i++) {
		if (set[i].tag == tag) {
			if (entry_live(&set[i], now))
				return &set[i];
			set[i].tag = 0;         /* decayed */
			return NULL;
		}
	}
	return NULL;
}

/* The entry for tag, claiming a slot (free, decayed, or the oldest) if needed. */
static struct throttle_entry *table_get(struct throttle_table *t, uint64_t tag, uint64_t now)
{
	struct throttle_entry *e = table_find(t, tag, now);
	if (e != NULL)
		return e;

	struct throttle_entry *set = t->e[tag % THROTTLE_SETS];
	struct throttle_entry *victim = &set[0];
	for (size_t i = 0; i < THROTTLE_WAYS; i++) {
		if (!entry_live(&set[i], now)) {
			victim = &set[i];
			break;
		}
		if (set[i].last_ms < victim->last_ms)
			victim = &set[i];
	}
	victim->tag = tag;
	victim->count = 0;
	victim->last_ms = now;
	return victim;
}

static void table_clear(struct throttle_table *t, uint64_t tag)
{
	struct throttle_entry *set = t->e[tag % THROTTLE_SETS];
	for (size_t i = 0; i < THROTTLE_WAYS; i++)
		if (set[i].tag == tag)
			memset(&set[i], 0, sizeof set[i]);
}

/* base * 2^(n-1), capped at max; 0 for n = 0.  Called with the mutex held. */
static uint64_t delay_for(uint32_t n)
{
	if (n == 0)
		return 0;
	uint64_t d = base_delay_ms;
	for (uint32_t i = 1; i < n && d < max_delay_ms; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	return d < max_delay_ms ? d : max_delay_ms;
}

void auth_throttle_configure(uint64_t base_ms, uint64_t max_ms)
{
	pthread_mutex_lock(&throttle_mu);
	base_delay_ms = base_ms;
	max_delay_ms = max_ms < base_ms ? base_ms : max_ms;
	pthread_mutex_unlock(&throttle_mu);
}

void auth_throttle_set_clock(uint64_t (*clock)(void))
{
	pthread_mutex_lock(&throttle_mu);
	throttle_clock = clock != NULL ? clock : now_ms;
	pthread_mutex_unlock(&throttle_mu);
}

/* Count one more failure for tag (0: none); returns the new count.  Under throttle_mu. */
static uint32_t bump(struct throttle_table *t, uint64_t tag, uint64_t now)
{
	if (!tag)
		return 0;
	struct throttle_entry *e = table_get(t, tag, now);
	if (e->count < THROTTLE_COUNT_MAX)
		e->count++;
	e->last_ms = now;
	return e->count;
}

uint64_t auth_throttle_failure(const char *ip, const char *user)
{
	pthread_once(&throttle_once, throttle_init_key);
	uint64_t ip_tag = ip != NULL ? throttle_tag(ip, false) : 0;
	uint64_t user_tag = user != NULL ? throttle_tag(user, true) : 0;

	pthread_mutex_lock(&throttle_mu);
	uint64_t now = throttle_clock();
	uint32_t n_ip = bump(&ip_table, ip_tag, now);
	uint32_t n_user = bump(&user_table, user_tag, now);
	uint64_t d = delay_for(n_ip > n_user ? n_ip : n_user);
	pthread_mutex_unlock(&throttle_mu);
	return d;
}

void auth_throttle_success(const char *ip, const char *user)
{
	pthread_once(&throttle_once, throttle_init_key);
	uint64_t ip_tag = ip != NULL ? throttle_tag(ip, false) : 0;
	uint64_t user_tag = user != NULL ? throttle_tag(user, true) : 0;

	pthread_mutex_lock(&throttle_mu);
	if (ip_tag)
		table_clear(&ip_table, ip_tag);
	if (user_tag)
		table_clear(&user_table, user_tag);
	pthread_mutex_unlock(&throttle_mu);
}

uint64_t auth_throttle_peek(const char *ip, const char *user)
{
	pthread_once(&throttle_once, throttle_init_key);
	uint64_t ip_tag = ip != NULL ? throttle_tag(ip, false) : 0;
	uint64_t user_tag = user != NULL ? throttle_tag(user, true) : 0;
	uint32_t n = 0;

	pthread_mutex_lock(&throttle_mu);
	uint64_t now = throttle_clock();
	struct throttle_entry *e;
	if (ip_tag && (e = table_find(&ip_table, ip_tag, now)) != NULL)
		n = e->count;
	if (user_tag && (e = table_find(&user_table, user_tag, now)) != NULL && e->count > n)
		n = e->count;
	uint64_t d = delay_for(n);
	pthread_mutex_unlock(&throttle_mu);
	return d;
}
