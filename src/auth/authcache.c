/*
 * authcache.c — the cache of verified credentials (see authcache.h).
 *
 * A direct-mapped table: the digest picks its slot, a newer success
 * replaces whatever was there.  Losing an entry costs one argon2id run,
 * so no eviction policy is worth more than this.
 */
#include "auth/authcache.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define DIGEST_LEN 32

struct slot {
	unsigned char digest[DIGEST_LEN];
	uint64_t expires_ms;            /* 0: empty */
};

struct auth_cache {
	pthread_mutex_t mu;
	unsigned char key[32];
	uint64_t ttl_ms;
	size_t mask;
	struct slot *slots;
	uint64_t (*clock)(void);
};

struct auth_cache *auth_cache_new(size_t slots, uint64_t ttl_ms)
{
	if (ttl_ms == 0 || slots == 0)
		return NULL;
	size_t n = 1;
	while (n < slots && n < ((size_t)1 << 20))
		n <<= 1;
	struct auth_cache *c = xcalloc(1, sizeof *c);
	if (RAND_bytes(c->key, sizeof c->key) != 1) {
		log_error("auth", "msg=\"RAND_bytes failed, credential cache off\"");
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->ttl_ms = ttl_ms;
	c->mask = n - 1;
	c->slots = xcalloc(n, sizeof *c->slots);
	c->clock = now_ms;
	return c;
}

void auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache *c = *cp;
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->mu);
	OPENSSL_cleanse(c->key, sizeof c->key);
	OPENSSL_cleanse(c->slots, (c->mask + 1) * sizeof *c->slots);
	free(c->slots);
	free(c);
	*cp = NULL;
}

void auth_cache_set_clock(struct auth_cache *c, uint64_t (*clock)(void))
{
	if (c != NULL)
		c->clock = clock != NULL ? clock : now_ms;
}

/* Over the hash, a NUL (no hash string has one), the password. */
static bool digest_of(const struct auth_cache *c, const char *hash, const char *pw, size_t len,
		      unsigned char out[DIGEST_LEN])
{
	size_t hlen = strlen(hash) + 1;
	if (len > SIZE_MAX - hlen)
		return false;
	unsigned char *in = xmalloc(hlen + len);
	memcpy(in, hash, hlen);
	memcpy(in + hlen, pw, len);
	unsigned outlen = 0;
	bool ok = HMAC(EVP_sha256(), c->key, sizeof c->key, in, hlen + len, out, &outlen) != NULL &&
		  outlen == DIGEST_LEN;
	OPENSSL_cleanse(in, hlen + len);
	free(in);
	return ok;
}

static size_t slot_of(const struct auth_cache *c, const unsigned char d[DIGEST_LEN])
{
	size_t i;
	memcpy(&i, d, sizeof i);
	return i & c->mask;
}

bool auth_cache_hit(struct auth_cache *c, const char *hash, const char *password, size_t len)
{
	unsigned char d[DIGEST_LEN];
	if (c == NULL || hash == NULL || !digest_of(c, hash, password, len, d))
		return false;
	pthread_mutex_lock(&c->mu);
	struct slot *s = &c->slots[slot_of(c, d)];
	uint64_t now = c->clock();
	bool hit = s->expires_ms != 0 && now < s->expires_ms && CRYPTO_memcmp(s->digest, d, DIGEST_LEN) == 0;
	pthread_mutex_unlock(&c->mu);
	OPENSSL_cleanse(d, sizeof d);
	return hit;
}

void auth_cache_put(struct auth_cache *c, const char *hash, const char *password, size_t len)
{
	unsigned char d[DIGEST_LEN];
	if (c == NULL || hash == NULL || !digest_of(c, hash, password, len, d))
		return;
	pthread_mutex_lock(&c->mu);
	struct slot *s = &c->slots[slot_of(c, d)];
	memcpy(s->digest, d, DIGEST_LEN);
	s->expires_ms = c->clock() + c->ttl_ms;
	pthread_mutex_unlock(&c->mu);
	OPENSSL_cleanse(d, sizeof d);
}
