/*
 * sts_int.h — what the MTA-STS files share (sts.c, sts_policy.c,
 * sts_cache.c, sts_fetch.c) and what the unit tests and the fuzz target
 * reach past the public sts.h: the parsers, the cache rules as a pure
 * function, the cache files, and the HTTPS fetcher.
 */
#ifndef TERN_MTA_STS_INT_H
#define TERN_MTA_STS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mta/sts.h"

struct dns_txt;
struct event_base;

/* ---- limits ------------------------------------------------------------- */

#define STS_POLICY_MAX      65536   /* policy body octets (RFC 8461 §3.3 suggests 64 KiB) */
#define STS_LINE_MAX        1024    /* one policy line, without its line end */
#define STS_MX_MAX          64      /* mx patterns in one policy (what the SMTP client's route keeps) */
#define STS_DOMAIN_MAX      244     /* so that "_mta-sts." + domain fits 253 */
#define STS_ADDR_MAX        16      /* addresses of mta-sts.<domain> handed to libcurl */
#define STS_CONNECT_TIMEOUT_MS 10000
#define STS_FETCH_TIMEOUT_MS   15000    /* the whole HTTPS exchange (RFC: at most a minute) */
#define STS_RETRY_AFTER_S   300     /* no new fetch for an id whose fetch failed this recently (§3.3) */
#define STS_REFRESH_AFTER_S 86400   /* refetch a valid cached policy this old behind the answer (§3.3) */
#define STS_CACHE_MAX       (STS_POLICY_MAX + 256)      /* a cache file */

/* ---- sts_policy.c: the grammars of RFC 8461 §3.1 and §3.2 (pure) -------- */

/*
 * A policy body (§3.2).  Lines end in LF or CRLF; blank lines are
 * skipped; blanks around keys and values are allowed; keys and values are
 * case-sensitive as the RFC's %s"" says.  version, mode and max_age are
 * required and only their first occurrence counts (§3.2: later duplicates
 * are ignored); mx (repeatable) is required unless mode is none, so that
 * a "mode: none" policy withdrawing MTA-STS (§8.3) is taken without mx
 * lines.  Unknown keys are ignored (their values are not checked beyond
 * having no control characters).  Invalid: a line without ':', a key
 * outside (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."), a bad value
 * of a known key, a NUL, CR or other control character, a line over
 * STS_LINE_MAX, a body over STS_POLICY_MAX, more than STS_MX_MAX mx.
 * max_age beyond MTA_STS_MAX_AGE_MAX is cut to it.  On success out is
 * filled (id, fetched, expires zero) and owns its mx array (free with
 * sts_policy_clear); on failure out is empty and why says what was wrong.
 */
bool sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *out, const char **why);
void sts_policy_clear(struct mta_sts_policy *p);
/* The policy as a body sts_policy_parse() reads back to the same (mode, mx, max_age). */
void sts_policy_format(const struct mta_sts_policy *p, struct buf *out);

/*
 * An mx pattern: ["*."] Domain (RFC 5321 labels: letters, digits,
 * interior hyphens, 1..63 each, 253 in all), one trailing dot tolerated.
 * true with the lower-cased pattern, without the dot, in out (256 bytes).
 */
bool sts_pattern_parse(const char *s, size_t n, char out[256]);

enum sts_txt_kind {
	STS_TXT_OTHER,      /* not an STSv1 record: ignored */
	STS_TXT_VALID,      /* v=STSv1 with an id */
	STS_TXT_INVALID,    /* begins as v=STSv1 but breaks the grammar, or has no id */
};

/*
 * One TXT record (§3.1): "v=STSv1" then ";"-separated fields, blanks
 * around the ";" allowed, a trailing ";" allowed: "id=" 1*32(ALPHA /
 * DIGIT) (the first id counts) and extensions name=value.
 */
enum sts_txt_kind sts_txt_parse(const char *s, size_t n, char id[MTA_STS_ID_MAX + 1]);

/*
 * The TXT RRset of _mta-sts.<domain>: true with the id when exactly one
 * record is STSv1 and it is valid; false (no policy) with why otherwise.
 */
bool sts_txt_select(const struct dns_txt *txt, size_t n, char id[MTA_STS_ID_MAX + 1], const char **why);

/* domain -> lower case, no trailing dot, into out; false unless a host name of <= STS_DOMAIN_MAX. */
bool sts_domain_normalize(const char *domain, char out[STS_DOMAIN_MAX + 1]);

/* ---- sts_cache.c: the cache rules (pure) and the cache files ------------- */

/* What is known about a domain before the TXT answer is looked at. */
struct sts_cache_view {
	const struct mta_sts_policy *policy;    /* cached (maybe expired), NULL: none */
	const char *fail_id;                    /* the id whose fetch failed last, "" none */
	int64_t fail_until;                     /* no fetch for fail_id before this */
};

enum sts_txt_answer { STS_ANSWER_ID, STS_ANSWER_NONE, STS_ANSWER_TEMPFAIL };

enum sts_step {
	STS_STEP_CACHE,     /* answer the cached policy, no fetch */
	STS_STEP_REFRESH,   /* answer the cached policy, then fetch to refresh it */
	STS_STEP_FETCH,     /* fetch, then answer (the cached policy if the fetch fails and it is valid) */
	STS_STEP_NONE,      /* answer: no policy */
	STS_STEP_TEMPFAIL,  /* answer: DNS failed */
	STS_STEP_FAILED,    /* answer: the fetch for this id failed recently */
};

/* Whether p is cached and unexpired at now. */
bool sts_cache_valid(const struct mta_sts_policy *p, int64_t now);

/* RFC 8461 §3.3 and §5.1: what to do with the TXT answer (id when STS_ANSWER_ID). */
enum sts_step sts_cache_decide(const struct sts_cache_view *c, enum sts_txt_answer txt,
			       const char *id, int64_t now);

/*
 * dir/<domain>: the first line "tern-mta-sts-cache 1 id=ID fetched=UNIX",
 * then the policy as sts_policy_format() writes it.  Written to a
 * temporary name and renamed over the old file (no fsync: it is a cache);
 * dir is created (0700) when missing.  Errors are logged and false.
 */
bool sts_cache_store(const char *dir, const char *domain, const struct mta_sts_policy *p);
/*
 * The cached policy of domain, or NULL when there is none, it is
 * unreadable or malformed (logged), or expired at now (then the file is
 * removed).  The caller frees it (mta_sts_policy_free).
 */
struct mta_sts_policy *sts_cache_load(const char *dir, const char *domain, int64_t now);

/* ---- sts_fetch.c: HTTPS GET with libcurl on a libevent loop -------------- */

struct sts_fetcher;
struct sts_fetch;

struct sts_fetch_params {
	const char *host;               /* "mta-sts.<domain>": URL host, SNI, certificate name */
	unsigned port;
	const char *const *addrs;       /* its numeric addresses (tern's resolver found them) */
	size_t naddrs;                  /* 1..STS_ADDR_MAX */
	const char *ca_file;            /* trusted CAs; NULL: the system's store */
};

/*
 * ok: a 200 response with media type text/plain (parameters allowed) and
 * a body of at most STS_POLICY_MAX octets, in body[0..len); else why.
 * Called on the loop from an event callback, outside libcurl; it must not
 * free the fetcher.
 */
typedef void (*sts_fetch_cb)(bool ok, const char *body, size_t len, const char *why, void *arg);

/* NULL (logged) when libcurl cannot start. */
struct sts_fetcher *sts_fetcher_new(struct event_base *base);
/* Fetches in flight are dropped without callback. */
void sts_fetcher_free(struct sts_fetcher **f);
/*
 * GET https://host[:port]/.well-known/mta-sts.txt connecting only to
 * addrs: TLS 1.2+, the certificate verified against ca_file and host, no
 * redirects, no proxy, STS_CONNECT_TIMEOUT_MS / STS_FETCH_TIMEOUT_MS.
 * cb is never called from inside sts_fetch_start(); NULL (cb will not be
 * called) when the transfer could not even be set up.
 */
struct sts_fetch *sts_fetch_start(struct sts_fetcher *f, const struct sts_fetch_params *p,
				  sts_fetch_cb cb, void *arg);
/* Before the callback: it will not be called. */
void sts_fetch_cancel(struct sts_fetch *x);

#endif
