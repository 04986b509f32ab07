/*
 * authcache.h — remembers, for a while, that a password matched a stored
 * hash, so that a client logging in again (a phone reconnecting, a desktop
 * client opening its fifth connection) does not pay argon2id each time.
 *
 * Only successes are kept, and only as HMAC-SHA256(key, hash, password)
 * with a key made at start and never written anywhere: no password, and
 * nothing an offline guesser could use, is in memory longer than the
 * request.  The stored hash is part of the digest, so a password change
 * (a new hash) misses at once.  A wrong password never hits, so every
 * guess still costs a full verification and goes through the throttle.
 * Safe to use from any thread.
 */
#ifndef TERN_AUTH_AUTHCACHE_H
#define TERN_AUTH_AUTHCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct auth_cache;

/* slots: how many successes are kept (rounded up to a power of two); ttl_ms 0: none is kept. */
struct auth_cache *auth_cache_new(size_t slots, uint64_t ttl_ms);
void auth_cache_free(struct auth_cache **c);

/* Did this password match this stored hash within the last ttl? */
bool auth_cache_hit(struct auth_cache *c, const char *hash, const char *password, size_t len);
/* It did just now. */
void auth_cache_put(struct auth_cache *c, const char *hash, const char *password, size_t len);

/* For tests: the clock the expiry reads (monotonic milliseconds). */
void auth_cache_set_clock(struct auth_cache *c, uint64_t (*clock)(void));

#endif
