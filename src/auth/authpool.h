/*
 * authpool.h — asynchronous credential checks on a small worker pool.
 *
 * Event-loop threads must not spend tens of milliseconds in argon2id, so a
 * protocol hands an auth_request to auth_verify() and gets done() called
 * on a worker thread when the answer is known; it then moves the result
 * back to its own loop.  The pool looks accounts up through the callbacks
 * given at start, which keeps src/auth free of the store.  This request →
 * callback shape is also what lets verification move to a separate
 * privileged process later without touching protocol code.
 */
#ifndef TERN_AUTH_AUTHPOOL_H
#define TERN_AUTH_AUTHPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct auth_lookup {
	/* Per worker thread: create/destroy whatever lookup() needs (e.g. a store handle). */
	void *(*thread_init)(void *arg);
	void (*thread_fini)(void *tctx);
	/*
	 * Find the account named user (an address).  On success fill *hash
	 * (malloc'd), *account_id and canonical (its address as stored, at
	 * most 320 bytes incl. NUL) and return true.
	 */
	bool (*lookup)(void *tctx, const char *user, char **hash, int64_t *account_id, char canonical[320]);
	void *arg;
};

struct auth_request {
	/* in */
	char ip[64];
	char authzid[320];
	char user[320];
	char *password;             /* owned by the request, wiped and freed by auth_request_clear */
	size_t password_len;
	/* out */
	bool ok;
	int64_t account_id;
	char address[320];          /* canonical address when ok */
	uint64_t delay_ms;          /* when !ok: wait this long before answering */
	/* completion, on a worker thread */
	void (*done)(struct auth_request *r);
	void *arg;
};

struct auth_pool;

struct auth_pool *auth_pool_start(unsigned nthreads, const struct auth_lookup *lookup);
void auth_pool_stop(struct auth_pool **p);

/*
 * Keep successful verifications for ttl_ms (authcache.h): a client that
 * logs in again with the same password within that time skips argon2id.
 * Call before the first auth_verify; 0 keeps nothing.
 */
void auth_pool_cache(struct auth_pool *p, uint64_t ttl_ms);

/* Queue r; r must stay valid until done(r) has been called. */
void auth_verify(struct auth_pool *p, struct auth_request *r);

/* A request (malloc'd) with the inputs copied, the password too. */
struct auth_request *auth_request_new(const char *ip, const char *authzid, const char *user, const char *password,
				      size_t password_len, void (*done)(struct auth_request *r), void *arg);

/* Wipe and free the password. */
void auth_request_clear(struct auth_request *r);

#endif
