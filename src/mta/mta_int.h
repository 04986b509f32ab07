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
 * more without STARTTLS.
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

#define MTA_MAX_MX_HOSTS 10     /* MX hosts tried per attempt (hostile DNS) */
#define MTA_MAX_ADDRS 20        /* addresses tried per attempt */
#define MTA_IDLE_MS 5000        /* an idle connection is kept this long for the next job */
#define MTA_QUIT_WAIT_MS 5000   /* after QUIT, wait at most this for 221 / close */
#define MTA_CHUNK (64 * 1024)   /* octets read from the message file at a time; BDAT chunk size */
#define MTA_OUT_HIGH (256 * 1024)   /* stop filling the socket's output above this */
#define MTA_OUT_LOW (64 * 1024)     /* refill when it drains below this */
#define MTA_IN_HIGH (64 * 1024)     /* input buffered while no reply is expected */
#define MTA_BDAT_WINDOW 4       /* BDAT chunks in flight with PIPELINING */

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
	size_t naddrs;
};

typedef void (*mta_route_cb)(struct mta_route_result *res, void *arg);
struct mta_route;

/*
 * Resolve dest to its ordered addresses: MX hosts by preference (or the
 * domain itself when it has no MX), IPv6 then IPv4 addresses of each.  A
 * host named myhostname, and every host not preferred over it, is dropped
 * (RFC 5321 §5.1).  cb runs later on the loop, never inside this call.
 */
struct mta_route *mta_route_start(struct event_base *base, struct dns_resolver *dns,
				  const struct mta_dest *dest, const char *myhostname,
				  mta_route_cb cb, void *arg);
/* Before cb has run; cb will not run. */
void mta_route_cancel(struct mta_route *r);

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
	size_t naddrs, next_addr;
	struct mta_session *session;
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
	unsigned bdat_inflight;
	bool bdat_failed;
	int bdat_fail_code;
	char bdat_fail_status[16];
	char bdat_fail_reply[MTA_REPLY_TEXT_MAX];
};

/* Connect to a for d (no_tls: do not use STARTTLS even when offered). */
struct mta_session *mta_session_connect(struct mta *m, struct mta_delivery *d,
					const struct mta_addr *a, bool no_tls);
/* Give an idle session a new job (RSET first if the last transaction failed). */
void mta_session_start_job(struct mta_session *s, struct mta_delivery *d);
/* Close now, without QUIT (mta_free, cache pressure). */
void mta_session_free(struct mta_session *s);
/* Close politely: QUIT, then free. */
void mta_session_quit(struct mta_session *s);

#endif
