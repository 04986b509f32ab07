/*
 * sts.h — MTA-STS (RFC 8461): a recipient domain's policy, discovered,
 * fetched, parsed and cached for the SMTP client to consult before it
 * delivers to that domain.
 *
 * mta_sts_get() looks up the TXT record _mta-sts.<domain> through tern's
 * resolver (so [dns] nameservers apply), and when it announces a policy
 * whose id is not the cached one, resolves mta-sts.<domain> the same way
 * and fetches https://mta-sts.<domain>[:mta_sts_port]/.well-known/mta-sts.txt
 * with libcurl driven by the caller's event loop (no thread, nothing
 * blocking but the small read of a cache file).  Every request asks for
 * the TXT record again (the resolver caches it), so each delivery attempt
 * sees a new policy id (§5.1: check before failing a message); requests
 * for one domain share the lookups and the fetch that are under way.
 *
 * The cache (RFC 8461 §3.3, §5.1), per domain: the last policy fetched,
 * the TXT id it was fetched under, and its expiry (fetch time + max_age).
 * A valid (unexpired) cached policy is used, without a fetch, while the
 * TXT id is unchanged; it is also used when the TXT record disappears,
 * when DNS fails, and when fetching the new policy fails.  A cached policy
 * older than a day is answered at once and refreshed behind the answer.  A
 * failed fetch is not retried for the same id for five minutes (§3.3).
 * Policies are kept in memory and in cfg->data_dir/mta-sts/<domain> (one
 * small text file each, replaced by rename, read on the first request for
 * the domain), so a restart keeps them.
 *
 * What the SMTP client does with a policy (RFC 8461 §4, §5):
 *   STS_ENFORCE  deliver only to MX hosts that mta_sts_mx_match(), over
 *                TLS with a certificate that chains to a trusted CA
 *                ([delivery] tls_ca_file, else the system's store) and
 *                names the MX host (SAN DNS-ID, RFC 6125); a host that
 *                fails is skipped like an unreachable one, and the
 *                message is deferred, never bounced, when none is left.
 *   STS_TESTING  deliver as without a policy; log what enforce would
 *                have refused (TLSRPT material).
 *   STS_NONE     as without a policy (p is not NULL: the domain withdrew
 *                MTA-STS, §8.3, and that too is cached).
 * Everything runs on the loop the module was created on; free the module
 * before its resolver.
 */
#ifndef TERN_MTA_STS_H
#define TERN_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config;
struct dns_resolver;
struct mta_sts;
struct mta_sts_req;

#define MTA_STS_ID_MAX 32               /* TXT id: 1..32 letters and digits */
#define MTA_STS_MAX_AGE_MAX 31557600u   /* RFC 8461 §3.2: larger values are cut to this */

enum mta_sts_mode { STS_NONE, STS_TESTING, STS_ENFORCE };

struct mta_sts_policy {
	enum mta_sts_mode mode;
	char **mx;              /* patterns, lower case, no trailing dot: "mx.example.com", "*.example.net" */
	size_t nmx;             /* >= 1 unless mode is STS_NONE */
	uint64_t max_age;       /* seconds, <= MTA_STS_MAX_AGE_MAX */
	char id[MTA_STS_ID_MAX + 1];    /* the TXT id the policy was fetched under */
	int64_t fetched;        /* unix time of the fetch */
	int64_t expires;        /* fetched + max_age: valid while now < expires */
};

/* Why a request's answer is what it is (mta_sts_req_status). */
enum mta_sts_status {
	MTA_STS_OK,         /* p is the policy (fresh, or cached) */
	MTA_STS_NONE,       /* the domain announces no policy (no or no valid v=STSv1 TXT record), or MTA-STS is off */
	MTA_STS_TEMPFAIL,   /* the TXT lookup failed temporarily and nothing valid is cached */
	MTA_STS_FAILED,     /* the TXT record announces a policy that could not be fetched or is invalid; nothing valid cached */
};

enum mta_sts_source { MTA_STS_FETCHED, MTA_STS_CACHED };

/*
 * p: the policy to apply, NULL when there is none usable (deliver as
 * without MTA-STS, RFC 8461 §3.3).  p is valid only during the call; keep
 * a copy with mta_sts_policy_dup().
 */
typedef void (*mta_sts_cb)(const struct mta_sts_policy *p, void *arg);

/*
 * Reads [delivery] mta_sts (off: every request answers NULL, status
 * NONE), mta_sts_port, tls_ca_file, and data_dir (NULL: no cache on
 * disk) once, now.  dns must outlive the module.  NULL (logged) when
 * libcurl cannot start.
 */
struct mta_sts *mta_sts_new(struct event_base *base, const struct config *cfg, struct dns_resolver *dns);
/* Requests still pending are dropped: their callbacks are not called.  Allowed inside a callback. */
void mta_sts_free(struct mta_sts **s);

/*
 * The policy of domain (A-labels, any case, trailing dot allowed) for cb,
 * which is called exactly once, on the loop, never from inside
 * mta_sts_get(), unless the request is cancelled first.  Never NULL.
 */
struct mta_sts_req *mta_sts_get(struct mta_sts *s, const char *domain, mta_sts_cb cb, void *arg);
/* Before its callback has run: it will not run.  Not during or after it. */
void mta_sts_cancel(struct mta_sts_req *req);

/*
 * Whether work is under way: a lookup or fetch (a refresh goes on after
 * its requests were answered from the cache), or an answer not yet
 * delivered.  For a command that wants the cache up to date before it
 * exits.
 */
bool mta_sts_busy(const struct mta_sts *s);

/*
 * Inside req's callback only: how the answer came about, for logs and
 * `tern dns mta-sts`.  source says whether p came from this request's
 * fetch or the cache; why (never NULL, "" when nothing to say) says why p
 * is NULL, or why a cached policy was used after a failed fetch.
 */
enum mta_sts_status mta_sts_req_status(const struct mta_sts_req *req, enum mta_sts_source *source,
				       const char **why);

/*
 * RFC 8461 §4.1: whether mxhost (an MX record's host name, any case,
 * trailing dot allowed) matches one of p's mx patterns; "*.example.com"
 * matches exactly one further leftmost label ("a.example.com", not
 * "example.com" nor "a.b.example.com").  Pure.
 */
bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *mxhost);
/* The same for one pattern as stored in a policy (lower case, no trailing dot). */
bool mta_sts_pattern_match(const char *pattern, const char *mxhost);

/* A deep copy, and its release (*p becomes NULL). */
struct mta_sts_policy *mta_sts_policy_dup(const struct mta_sts_policy *p);
void mta_sts_policy_free(struct mta_sts_policy **p);

const char *mta_sts_mode_name(enum mta_sts_mode mode);         /* "none" "testing" "enforce" */
const char *mta_sts_status_name(enum mta_sts_status st);        /* "OK" "NONE" "TEMPFAIL" "FAIL" */

#endif
