/*
 * mta_int.h — what the MTA's files share: destinations and their
 * addresses (route.c), the per-job delivery (mta.c) and the per-connection
 * SMTP session (client.c).  Not for use outside src/mta/.
 *
 *   mta_deliver() ──► delivery ──► idle session for the destination? ──► session_start_job
 *                         │                       (no)
 *                         └──► route (MX, A/AAAA) ──► addresses ──► session per address
 *                                                                   until one takes the job
 *
 * A session reports back to its delivery with mta_delivery_session_end():
 * the job is done (every rcpt has its result), or nothing was sent and the
 * next address should be tried (the reason is in the delivery's last_*),
 * or the TLS handshake failed and the same address should be tried once
 * more without STARTTLS (only where the address's TLS policy allows plain
 * text).
 *
 * TLS policy (tls.c): route.c decides one struct mta_tls_policy per host
 * (DANE from DNSSEC-signed TLSA records, or a destination-wide policy from
 * a struct mta_policy_source such as MTA-STS, or opportunistic), every
 * address carries a reference to its host's, and client.c applies it to
 * the connection: STARTTLS required or not, which certificate checks, and
 * whether a failure may fall back to plain text.
 */
#ifndef TERN_MTA_MTA_INT_H
#define TERN_MTA_MTA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "mta/mta.h"
#include "mta/body.h"
#include "mta/reply.h"
#include "lib/buf.h"

struct event;
struct event_base;
struct dns_resolver;
struct dns_tlsa;

#define MTA_MAX_MX_HOSTS 10     /* MX hosts tried per attempt (hostile DNS) */
#define MTA_MAX_ADDRS 20        /* addresses tried per attempt */
#define MTA_IDLE_MS 5000        /* an idle connection is kept this long for the next job */
#define MTA_QUIT_WAIT_MS 5000   /* after QUIT, wait at most this for 221 / close */
#define MTA_CHUNK (64 * 1024)   /* octets read from the message file at a time; BDAT chunk size */
#define MTA_OUT_HIGH (256 * 1024)   /* stop filling the socket's output above this */
#define MTA_OUT_LOW (64 * 1024)     /* refill when it drains below this */
#define MTA_IN_HIGH (64 * 1024)     /* input buffered while no reply is expected */
#define MTA_BDAT_WINDOW 4       /* BDAT chunks in flight with PIPELINING */

/* ---- tls.c: TLS policies and the checks of a peer's certificate --------- */

enum mta_tls_mode {     /* in order of strength (mta.c apply_relay_tls compares them) */
	MTA_TLS_NONE,       /* plain text: never STARTTLS */
	MTA_TLS_MAY,        /* opportunistic (RFC 7435): STARTTLS when offered, certificate unchecked,
			       plain text when the handshake fails */
	MTA_TLS_ENCRYPT,    /* STARTTLS required, certificate unchecked: a secure TLSA RRset with no
			       usable record (RFC 7672 §2.2) */
	MTA_TLS_VERIFY,     /* STARTTLS required; the chain ends at a trusted CA (tls_ca_file, else the
			       system's store) and the certificate is valid for one of names[]
			       (RFC 6125; what MTA-STS asks, RFC 8461 §4.1) */
	MTA_TLS_DANE,       /* STARTTLS required; the certificate matches one of tlsa[] (RFC 7672) */
};

/* How a connection's TLS came out: the logs' tls= (per connection) and tls_peer= (per recipient). */
enum mta_tls_outcome {
	MTA_TLSO_NONE,          /* plain text */
	MTA_TLSO_OPPORTUNISTIC, /* TLS, the peer not authenticated */
	MTA_TLSO_VERIFIED,      /* TLS, PKIX chain and name checked (VERIFY) */
	MTA_TLSO_DANE,          /* TLS, a TLSA record matched (DANE) */
	MTA_TLSO_FAILED,        /* the policy's check failed: nothing may be sent on this connection */
};

#define MTA_TLS_MAX_NAMES 16    /* reference names of one VERIFY policy */
#define MTA_TLSA_MAX 16         /* usable TLSA records kept per host (hostile DNS) */
#define MTA_DEST_MAX_PATTERNS 64    /* MX patterns of a destination policy kept by a route */
/*
 * The status of every TLS policy failure (RFC 3463 "cryptographic
 * failure", always temporary).  Their reasons start with it, "4.7.5 TLS is
 * required ...", so that the queue's last error (`tern queue list`, and
 * the status of a notice when the entry expires: queue_reply_status)
 * keeps it.
 */
#define MTA_TLS_STATUS "4.7.5"

struct mta_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	uint8_t *data;
};

/*
 * One host's TLS policy.  Made by route.c, never changed once handed out,
 * and shared by reference: each address of the host, the delivery that
 * holds the addresses and every session connected under it keep one
 * (mta_tls_policy_ref / mta_tls_policy_unref).
 */
struct mta_tls_policy {
	unsigned refs;
	enum mta_tls_mode mode;
	char source[32];        /* for logs: "default", "dane", "tlsa-unusable", or the policy source's (a copy:
				   the route that names it goes before the sessions do) */
	char host[256];         /* the host's name (DANE base domain, messages); "" for an address literal */
	char *names[MTA_TLS_MAX_NAMES];     /* VERIFY: the names the certificate may be valid for
					       (A-labels, lower case, no trailing dot) */
	size_t nnames;
	struct mta_tlsa tlsa[MTA_TLSA_MAX]; /* DANE: the usable records */
	size_t ntlsa;
};

/* refs = 1.  host may be NULL or "" (a literal). */
struct mta_tls_policy *mta_tls_policy_new(enum mta_tls_mode mode, const char *source, const char *host);
struct mta_tls_policy *mta_tls_policy_ref(struct mta_tls_policy *p);
/* Drops one reference and NULLs *p; the last one frees. */
void mta_tls_policy_unref(struct mta_tls_policy **p);
/* A reference name for VERIFY (U-labels become A-labels); false when full or not a host name. */
bool mta_tls_policy_add_name(struct mta_tls_policy *p, const char *name);
/* A TLSA record for DANE; false (not added) when it is unusable or the policy is full. */
bool mta_tls_policy_add_tlsa(struct mta_tls_policy *p, const struct dns_tlsa *rr);
/* STARTTLS is mandatory and a failure never falls back to plain text. */
bool mta_tls_required(const struct mta_tls_policy *p);
const char *mta_tls_mode_name(enum mta_tls_mode m);         /* "none", "may", "encrypt", "verify", "dane" */
const char *mta_tls_outcome_name(enum mta_tls_outcome o);   /* "none", "opportunistic", "verified", "dane-verified", "failed" */

/*
 * Whether a TLSA record is usable for SMTP (RFC 7672 §3.1.3, RFC 7671):
 * usage DANE-TA(2) or DANE-EE(3) (PKIX-TA(0) / PKIX-EE(1) are not),
 * selector Cert(0) or SPKI(1), matching type Full(0) with data that parses
 * as a certificate / public key, SHA2-256(1) with 32 octets or
 * SHA2-512(2) with 64.
 */
bool mta_tlsa_usable(uint8_t usage, uint8_t selector, uint8_t mtype, const uint8_t *data, size_t len);

/*
 * Does the host name `name` match `pattern` (a certificate's DNS-ID, or an
 * MTA-STS "mx" pattern)?  RFC 6125 §6.4 as RFC 8461 §4.1 applies it:
 * ASCII case-insensitive, one trailing dot ignored on either side,
 * U-labels compared as their A-labels (IDNA2008), and a wildcard only as
 * the whole leftmost label — "*.example.com" matches exactly one label in
 * front of example.com, so neither "example.com" nor "a.b.example.com";
 * "f*.example.com", "*" alone, "*.com" (fewer than two labels after the
 * wildcard) and a "*" anywhere else match nothing.  A name that is itself
 * a pattern matches nothing.  Pure; safe on any input.
 */
bool mta_tls_name_match(const char *pattern, const char *name);

/*
 * The TLS client context of an MTA: TLS 1.2 or later, no verification by
 * default (each connection sets its own, mta_tls_ssl_setup), the CAs of
 * ca_file (PEM) or else the system's default store for VERIFY, and
 * OpenSSL's DANE support enabled.  NULL (logged) when ca_file cannot be
 * loaded or OpenSSL fails.
 */
SSL_CTX *mta_tls_ctx_new(const char *ca_file);
/* Before the handshake: the verification p asks for (SNI is the caller's).  false with why when it cannot be set up. */
bool mta_tls_ssl_setup(SSL *ssl, const struct mta_tls_policy *p, char *why, size_t size);
/*
 * After a completed handshake: the outcome under p.  MTA_TLSO_FAILED (and
 * why) when p's check failed; otherwise why describes what matched, for
 * logs ("TLSA 3 1 1 at depth 0", "mx.example.com"), or is "".
 */
enum mta_tls_outcome mta_tls_ssl_check(SSL *ssl, const struct mta_tls_policy *p, char *why, size_t size);
/*
 * After a completed handshake without verification (MAY): what VERIFY with
 * name as the reference identity would have said, the connection left as
 * it is.  The chain's result is the one OpenSSL records even under
 * SSL_VERIFY_NONE, against the same CA store.  MTA-STS "testing" reports it.
 */
enum mta_tls_outcome mta_tls_ssl_judge(SSL *ssl, const char *name, char *why, size_t size);
/* After a failed handshake: true with the reason when the peer's certificate was refused. */
bool mta_tls_verify_error(SSL *ssl, char *why, size_t size);

/* ---- route.c: where mail for a destination goes ------------------------ */

struct mta_dest {
	char name[256];         /* domain or relay host, lower case; the IP text for a literal */
	uint16_t port;
	bool mx;                /* look up MX first (false: "[host]" or an address literal) */
	bool literal;           /* name is an IP address */
	bool relay;             /* the configured relay: every failure is temporary */
};

struct mta_addr {
	char host[256];         /* the host's name (SNI, logs); the IP text for a literal */
	char ip[64];            /* numeric */
	uint16_t port;
	bool literal;
	struct sockaddr_storage sa;
	socklen_t salen;
};

/* "[host]:port", "[1.2.3.4]", "host:port", "host" (port defaults to default_port). */
bool mta_dest_relay(const char *relay, uint16_t default_port, struct mta_dest *out);
/* A recipient domain: a name (MX lookup) or "[192.0.2.1]" / "[IPv6:2001:db8::1]". */
bool mta_dest_domain(const char *domain, uint16_t port, struct mta_dest *out);
/* Fill a from a numeric ip; false when ip is not one. */
bool mta_addr_set(struct mta_addr *a, const char *host, const char *ip, uint16_t port);
/* "host[ip]:port", as in logs and mta_job.relay. */
void mta_addr_format(const struct mta_addr *a, char *out, size_t size);

struct mta_route_result {
	bool ok;                /* naddrs >= 1 */
	enum mta_result result; /* !ok: MTA_DEFERRED or MTA_BOUNCED */
	char status[16];
	char reason[512];       /* tern's words, for mta_rcpt.reply */
	struct mta_addr *addrs; /* owned by the callback from then on (free()) */
	struct mta_tls_policy **tls;    /* tls[i]: addrs[i]'s policy, one reference each; taken with
					   addrs (the callback sets both NULL), else released here */
	size_t naddrs;
};

typedef void (*mta_route_cb)(struct mta_route_result *res, void *arg);
struct mta_route;

/*
 * A destination-wide TLS policy from outside the DNS — MTA-STS (RFC
 * 8461) is meant to be one.  With enforce, every MX host that none of the
 * patterns matches (mta_tls_name_match) is dropped before its addresses
 * are looked up (RFC 8461 §4.1), and each remaining host gets VERIFY with
 * its own name as the reference identity, unless DANE applies to it
 * (DANE takes precedence, RFC 8461 §2).  Nothing left: deferred 4.7.5.
 */
struct mta_dest_policy {
	bool enforce;                   /* false: no policy (MTA-STS "none", "testing", or none found) */
	const char *const *mx;          /* the patterns: "mx.example.com", "*.example.net" */
	size_t nmx;                     /* the route keeps at most MTA_DEST_MAX_PATTERNS */
	const char *source;             /* static, for logs and reasons: "MTA-STS" */
};

/* The answer: p NULL means no policy; p and what it points to need to live only during the call. */
typedef void (*mta_dest_policy_cb)(const struct mta_dest_policy *p, void *arg);

/*
 * Where destination policies come from (mta_set_policy_source): a small
 * vtable, so that the MTA-STS module plugs in without route.c knowing it.
 * start() is asked for each recipient domain (never for the relay or an
 * address literal) at the same time as its MX lookup, and the route waits
 * for both.  It returns a handle and calls cb later on the loop, never
 * inside start(); or NULL, meaning "no policy", and then never calls cb.
 * cancel() is called before cb ran when the route is abandoned (or the
 * MX answer alone already decided it); cb must not run after it.
 */
struct mta_policy_source {
	void *(*start)(void *ctx, const char *domain, mta_dest_policy_cb cb, void *arg);
	void (*cancel)(void *ctx, void *lookup);
	void *ctx;
};

/*
 * Resolve dest to its ordered addresses: MX hosts by preference (or the
 * domain itself when it has no MX), IPv6 then IPv4 addresses of each, and
 * each host's TLS policy.  A host named myhostname, and every host not
 * preferred over it, is dropped (RFC 5321 §5.1).  dane: look for TLSA
 * records (RFC 7672).  policies: NULL, or where a recipient domain's
 * destination policy comes from (it must outlive the route).  cb runs
 * later on the loop, never inside this call.
 */
struct mta_route *mta_route_start(struct event_base *base, struct dns_resolver *dns,
				  const struct mta_dest *dest, const char *myhostname, bool dane,
				  const struct mta_policy_source *policies, mta_route_cb cb, void *arg);
/* Before cb has run; cb will not run. */
void mta_route_cancel(struct mta_route *r);
/* Would an enforced policy with these patterns keep MX host `host`? (RFC 8461 §4.1) */
bool mta_dest_policy_allows(const struct mta_dest_policy *p, const char *host);

/* ---- mta.c: one job ------------------------------------------------------ */

enum mta_rstate {
	MTA_RS_PENDING,         /* no result yet, RCPT not accepted */
	MTA_RS_ACCEPTED,        /* RCPT 2xx in this transaction, waiting for the data's reply */
	MTA_RS_DONE,            /* result set */
};

struct mta_session;

struct mta_delivery {
	struct mta *m;
	struct mta_job *job;
	struct mta_delivery *prev, *next;   /* the MTA's deliveries */
	struct mta_dest dest;
	char key[300];          /* the idle-cache key of dest */
	int fd;                 /* the message file */
	uint64_t start_ms;
	uint8_t *rstate;        /* enum mta_rstate per rcpt */
	size_t npending;        /* rcpts not DONE */
	struct mta_route *route;
	struct mta_addr *addrs;
	struct mta_tls_policy **tls;    /* tls[i]: addrs[i]'s policy (a reference each) */
	size_t naddrs, next_addr;
	struct mta_session *session;
	bool tls_known;                     /* a session had the job: tls_mode / tls_outcome are its */
	enum mta_tls_mode tls_mode;         /* of the session that has (or last had) the job, for the result lines */
	enum mta_tls_outcome tls_outcome;
	bool plain_retry;       /* trying the current address again without STARTTLS */
	bool reuse_retried;     /* a dead cached connection was already replaced once */
	bool finished;
	/* Why the last address failed, for when none is left. */
	enum mta_result last_result;
	char last_status[16];
	char last_reply[512];
	bool last_remote;
	char last_session[11];  /* for the result lines once no session is attached */
	struct event *finish_ev;
};

enum mta_session_end {
	MTA_END_DONE,           /* every rcpt has its result */
	MTA_END_NEXT,           /* nothing was sent: try the next address (reason in last_*) */
	MTA_END_PLAIN,          /* TLS handshake failed: try this address again without STARTTLS */
	MTA_END_RETRY,          /* a cached connection was dead before MAIL was answered: start afresh */
};

/* Set one rcpt's result (and log it); it must not be DONE yet. */
void mta_rcpt_result(struct mta_delivery *d, size_t i, enum mta_result res, const char *status,
		     const char *reply, bool remote);
/* Every rcpt not DONE gets this result. */
void mta_rcpt_result_all(struct mta_delivery *d, enum mta_result res, const char *status,
			 const char *reply, bool remote);
/* Record why this address failed (MTA_END_NEXT). */
void mta_delivery_error(struct mta_delivery *d, enum mta_result res, const char *status,
			const char *reply, bool remote);
/* From the session that had d: it is detached from d once this returns. */
void mta_delivery_session_end(struct mta_delivery *d, struct mta_session *s, enum mta_session_end how);

/* The MTA's parts that sessions use. */
struct event_base *mta_base(const struct mta *m);
const struct config *mta_config(const struct mta *m);
SSL_CTX *mta_ssl_ctx(const struct mta *m);
const char *mta_password(const struct mta *m);
/* Plug in where recipient domains' TLS policies come from (MTA-STS); NULL: none.  src must outlive m. */
void mta_set_policy_source(struct mta *m, const struct mta_policy_source *src);
/* Keep s for the next job to key; false when it cannot be kept (caller closes it). */
bool mta_idle_put(struct mta *m, struct mta_session *s);
void mta_idle_remove(struct mta *m, struct mta_session *s);
/* Sessions are linked from creation to free; closed (no socket left) in between counts no more. */
void mta_session_link(struct mta *m, struct mta_session *s);
void mta_session_closed(struct mta *m, struct mta_session *s);
void mta_session_unlink(struct mta *m, struct mta_session *s);

/* ---- client.c: one connection --------------------------------------------- */

enum mta_sstate {
	MTA_S_CONNECT,          /* TCP connect in progress */
	MTA_S_GREETING,         /* waiting for 220 */
	MTA_S_EHLO,
	MTA_S_HELO,             /* EHLO was refused */
	MTA_S_STARTTLS,         /* waiting for 220 to STARTTLS */
	MTA_S_HANDSHAKE,        /* TLS handshake */
	MTA_S_AUTH,
	MTA_S_IDLE,             /* no job (in the idle cache) */
	MTA_S_RSET,             /* RSET before a new transaction */
	MTA_S_MAIL,             /* replies to MAIL, RCPT..., (pipelined) DATA */
	MTA_S_DATA,             /* waiting for 354 */
	MTA_S_BODY,             /* sending the dot-stuffed message */
	MTA_S_DOT,              /* waiting for the reply to "." */
	MTA_S_BDAT,             /* sending chunks, reading their replies */
	MTA_S_QUIT,             /* QUIT sent */
};

struct bufferevent;

struct mta_session {
	struct mta *m;
	struct mta_session *prev, *next;            /* all the MTA's sessions */
	struct mta_session *idle_prev, *idle_next;  /* the idle cache */
	bool idle;
	char key[300];          /* the destination it serves (idle cache) */
	char id[11];
	struct mta_addr addr;
	char relay[320];        /* "host[ip]:port" */
	struct mta_delivery *d; /* the job, NULL while idle or closing */

	enum mta_sstate state;
	struct bufferevent *bev;
	struct event *timer;    /* connect, reply, idle or QUIT deadline */
	struct event *free_ev;  /* frees the struct after a close */
	bool closed;
	struct mta_tls_policy *policy;      /* the address's TLS policy (a reference) */
	enum mta_tls_outcome tls_outcome;   /* how TLS came out (NONE until it is up) */
	bool tls_logged;        /* the connection's TLS outcome was logged */
	long tls_verify_result; /* X509_V_* of the certificate check that failed, 0 when unknown: the TLS-RPT
				   result type (tlsrpt_result_type); without it mta.c reads the reason text */
	const char *tls_unverified; /* MAY with TLS up: the TLS-RPT result type (static) of the check that
				       VERIFY against the host's name would have failed, NULL when it passes */
	bool no_tls;            /* do not STARTTLS (retry after a failed handshake) */
	bool tls;               /* TLS is up */
	bool esmtp;             /* EHLO worked */
	bool reused;            /* the current job came through the idle cache */
	bool need_rset;         /* a transaction may be open on the server */
	bool broken;            /* the server said 421 / broke the protocol: no reuse */
	bool in_input;          /* inside process_input() */
	int connect_errno;      /* connect() failed at once: reported from the timer */
	struct mta_caps caps;
	struct mta_reply_parser rp;
	unsigned nexpect;       /* replies still to come for commands sent */
	const char *stage;      /* "RCPT TO", ...: what was being done, for failure reasons */

	/* The transaction. */
	size_t *rcpt_idx;       /* RCPT commands sent, in order: rcpt index */
	size_t rcpt_sent, rcpt_replied, naccepted;
	size_t rcpt_cursor;     /* the next rcpt to consider for RCPT */
	bool mail_done;         /* the MAIL reply came */
	bool mail_ok;
	bool data_sent;         /* DATA pipelined after the RCPTs */
	bool discard;           /* 354 with no rcpt accepted: "." only */

	/* The message. */
	struct mta_body enc;
	uint64_t body_pos;      /* octets of the message read so far */
	bool body_end;          /* everything, end marker included, is in the output */
	char *chunk;            /* MTA_CHUNK read buffer */
	struct buf out;         /* encoded chunk */
	/*
	 * The 7-bit form of an 8-bit message for a peer without 8BITMIME
	 * (downgrade.h), made before MAIL and sent instead of the file; freed
	 * once all of it is in the socket's output (its size stays for SIZE=).
	 */
	struct buf downgraded;
	bool use_downgraded;
	uint64_t downgraded_size;
	unsigned bdat_inflight;
	bool bdat_failed;
	int bdat_fail_code;
	char bdat_fail_status[16];
	char bdat_fail_reply[MTA_REPLY_TEXT_MAX];
};

/*
 * Connect to a for d under TLS policy tls (the session takes a reference
 * of its own); no_tls: do not use STARTTLS even when offered (the retry
 * after a failed handshake, for a policy that allows plain text).
 */
struct mta_session *mta_session_connect(struct mta *m, struct mta_delivery *d, const struct mta_addr *a,
					struct mta_tls_policy *tls, bool no_tls);
/* Give an idle session a new job (RSET first if the last transaction failed). */
void mta_session_start_job(struct mta_session *s, struct mta_delivery *d);
/* Close now, without QUIT (mta_free, cache pressure). */
void mta_session_free(struct mta_session *s);
/* Close politely: QUIT, then free. */
void mta_session_quit(struct mta_session *s);

#endif
