/*
 * authpool.c — the credential-checking worker pool (see authpool.h).
 *
 * Protocol sessions queue auth_requests with auth_verify(); N pthreads take
 * them in FIFO order, look the account up through the auth_lookup
 * callbacks, run the (deliberately slow) password verification, consult the
 * brute-force throttle (throttle.h) and call r->done(r) on the worker.  An
 * unknown account costs exactly what a known one costs (a dummy argon2id
 * verification) and gives the same answer, so neither timing nor replies
 * tell a client which accounts exist.
 *
 * Outcomes are logged by the protocol, which knows the session; this file
 * logs only its own internal errors, and never a password.
 */
#include "auth/authpool.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authcache.h"
#include "auth/password.h"
#include "auth/throttle.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define AUTH_POOL_MAX_THREADS 64

/* auth_request has no link field, so the queue holds small nodes. */
struct auth_job {
	struct auth_request *r;
	struct auth_job *next;
};

struct auth_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct auth_job *head, *tail;   /* FIFO, guarded by mu */
	bool stopping;                  /* guarded by mu */
	struct auth_lookup lookup;
	unsigned nthreads;
	pthread_t *threads;
	struct auth_cache *cache;       /* NULL: every login verifies */
};

/* Force NUL termination of a fixed field filled by the caller. */
#define TERMINATE(field) ((field)[sizeof(field) - 1] = '\0')

static bool names_ieq(const char *a, const char *b)
{
	return ascii_ieq(a, strlen(a), b);
}

static void auth_process(struct auth_pool *p, void *tctx, struct auth_request *r)
{
	const char *pw = r->password != NULL ? r->password : "";
	size_t pwlen = r->password != NULL ? r->password_len : 0;

	TERMINATE(r->ip);
	TERMINATE(r->authzid);
	TERMINATE(r->user);
	r->ok = false;
	r->account_id = 0;
	r->address[0] = '\0';
	r->delay_ms = 0;

	/* We only let a user act as themselves; a proxy authorization is refused outright. */
	if (r->authzid[0] != '\0' && !names_ieq(r->authzid, r->user)) {
		r->delay_ms = auth_throttle_failure(r->ip, r->user);
		return;
	}

	char *hash = NULL;
	int64_t account_id = 0;
	char canonical[320] = "";
	bool found = r->user[0] != '\0' &&
		p->lookup.lookup(tctx, r->user, &hash, &account_id, canonical);

	if (found && hash != NULL) {
		r->ok = auth_cache_hit(p->cache, hash, pw, pwlen);
		if (!r->ok) {
			r->ok = password_verify(hash, pw, pwlen);
			if (r->ok)
				auth_cache_put(p->cache, hash, pw, pwlen);
		}
	} else {
		if (found)
			log_error("auth", "msg=\"lookup returned no hash\" user=%s", lq(r->user));
		password_verify_dummy(pw, pwlen);
	}
	free(hash);

	if (r->ok) {
		TERMINATE(canonical);
		r->account_id = account_id;
		/* a lookup that leaves canonical empty means "as typed" */
		memcpy(r->address, canonical[0] != '\0' ? canonical : r->user, sizeof r->address);
		auth_throttle_success(r->ip, r->user);
		if (canonical[0] != '\0' && !names_ieq(canonical, r->user))
			auth_throttle_success(NULL, canonical);
	} else {
		r->delay_ms = auth_throttle_failure(r->ip, r->user);
	}
}

static void *auth_worker(void *arg)
{
	struct auth_pool *p = arg;
	void *tctx = p->lookup.thread_init != NULL ? p->lookup.thread_init(p->lookup.arg) : NULL;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		struct auth_job *job = p->head;
		if (job == NULL) {      /* stopping and drained */
			pthread_mutex_unlock(&p->mu);
			break;
		}
		p->head = job->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);

		struct auth_request *r = job->r;
		free(job);
		auth_process(p, tctx, r);
		r->done(r);
	}

	if (p->lookup.thread_fini != NULL)
		p->lookup.thread_fini(tctx);
	return NULL;
}

/* Signal and join the first n workers, then free p. */
static void auth_pool_teardown(struct auth_pool *p, unsigned n)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
	/* Workers drain the queue before they leave, so it is empty here. */
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	auth_cache_free(&p->cache);
	free(p->threads);
	free(p);
}

struct auth_pool *auth_pool_start(unsigned nthreads, const struct auth_lookup *lookup)
{
	if (lookup == NULL || lookup->lookup == NULL) {
		log_error("auth", "msg=\"auth pool started without a lookup function\"");
		return NULL;
	}
	if (nthreads == 0)
		nthreads = 1;
	if (nthreads > AUTH_POOL_MAX_THREADS)
		nthreads = AUTH_POOL_MAX_THREADS;

	struct auth_pool *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->lookup = *lookup;
	p->threads = xcalloc(nthreads, sizeof *p->threads);
	for (unsigned i = 0; i < nthreads; i++) {
		int rc = pthread_create(&p->threads[i], NULL, auth_worker, p);
		if (rc != 0) {
			log_error("auth", "msg=\"cannot start auth worker\" error=%s", lq(strerror(rc)));
			auth_pool_teardown(p, i);
			return NULL;
		}
		p->nthreads = i + 1;
	}
	return p;
}

void auth_pool_stop(struct auth_pool **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	auth_pool_teardown(*pp, (*pp)->nthreads);
	*pp = NULL;
}

void auth_verify(struct auth_pool *p, struct auth_request *r)
{
	struct auth_job *job = xmalloc(sizeof *job);
	job->r = r;
	job->next = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct auth_request *auth_request_new(const char *ip, const char *authzid, const char *user, const char *password,
				      size_t password_len, void (*done)(struct auth_request *r), void *arg)
{
	struct auth_request *r = xcalloc(1, sizeof *r);
	snprintf(r->ip, sizeof r->ip, "%s", ip);
	snprintf(r->authzid, sizeof r->authzid, "%s", authzid);
	snprintf(r->user, sizeof r->user, "%s", user);
	r->password = xmemdup0(password, password_len);
	r->password_len = password_len;
	r->done = done;
	r->arg = arg;
	return r;
}

void auth_request_clear(struct auth_request *r)
{
	if (r == NULL)
		return;
	if (r->password != NULL) {
		OPENSSL_cleanse(r->password, r->password_len);
		free(r->password);
	}
	r->password = NULL;
	r->password_len = 0;
}

void auth_pool_cache(struct auth_pool *p, uint64_t ttl_ms)
{
	/* Before the first request only: workers read p->cache without the lock. */
	if (p != NULL && p->cache == NULL)
		p->cache = auth_cache_new(4096, ttl_ms);
}
