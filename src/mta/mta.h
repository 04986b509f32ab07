/*
 * mta.h — the SMTP client: one message, one destination, many recipients.
 *
 * The queue scheduler (src/queue/) hands the MTA jobs; the MTA finds the
 * destination's hosts (the relay, or the recipient domain's MX hosts in
 * preference order, implicit MX, every A/AAAA address of each), talks
 * SMTP to them (EHLO/HELO, STARTTLS, PIPELINING, SIZE, 8BITMIME,
 * SMTPUTF8, DSN, CHUNKING, AUTH to a relay), and reports an outcome per
 * recipient.  A connection left idle after a job is kept a few seconds for
 * the next job to the same destination.
 *
 * TLS is per host: opportunistic (STARTTLS when offered, unchecked) unless
 * DNSSEC-signed TLSA records ask for DANE ([delivery] dane, RFC 7672) or a
 * destination policy (MTA-STS) asks for verified TLS; then TLS is
 * mandatory, the certificate must pass, and a host that fails is skipped
 * like an unreachable one (4.7.5 when none is left), never used in plain
 * text.  The per-recipient log line says tls=yes|no tls_policy=may|
 * encrypt|verify|dane tls_peer=none|opportunistic|verified|dane-verified.
 *
 * Everything runs on the loop the MTA was created on; done() is called on
 * that loop, never from inside mta_deliver().  Concurrency limits are the
 * scheduler's: it never has more than max_per_destination jobs to one
 * destination, nor max_connections in all, in flight.
 */
#ifndef TERN_MTA_MTA_H
#define TERN_MTA_MTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config;
struct dns_resolver;
struct mta;

enum mta_result {
	MTA_SENT,           /* the remote host took it (2xx after the data) */
	MTA_DEFERRED,       /* try again later (4xx, no host reachable, DNS TEMPFAIL, ...) */
	MTA_BOUNCED,        /* permanent (5xx, null MX, NXDOMAIN, SMTPUTF8 needed, ...) */
};

/* The DSN NOTIFY bits as the queue stores them (smtp/parse.h agrees). */
#define MTA_NOTIFY_NEVER   1u
#define MTA_NOTIFY_SUCCESS 2u
#define MTA_NOTIFY_FAILURE 4u
#define MTA_NOTIFY_DELAY   8u

struct mta_rcpt {
	/* In. */
	const char *addr;           /* forward-path, no angle brackets */
	const char *orcpt;          /* DSN ORCPT as received, decoded ("rfc822;a@b"), "" for none */
	unsigned notify;            /* MTA_NOTIFY_* bits; 0 = not given */
	/* Out, set before done(). */
	enum mta_result result;
	char status[16];            /* enhanced status code, "2.0.0", "5.1.1", "4.4.1" */
	/*
	 * What to tell the sender: the remote reply as received (multi-line
	 * replies joined with "; ", at most 511 bytes) when remote is true,
	 * otherwise tern's own reason ("connection refused", "host not found";
	 * a TLS policy failure's starts with its status: "4.7.5 TLS is
	 * required (DANE) but ...").
	 */
	char reply[512];
	bool remote;                /* reply came from the remote host (DSN Diagnostic-Code: smtp) */
	bool dsn_passed;            /* sent: the peer offered DSN and got NOTIFY (it reports success itself) */
};

struct mta_job {
	/* In. */
	const char *queue_id;       /* for logs (the message's tern id) */
	const char *domain;         /* the recipients' domain (all share it); unused with a relay */
	const char *sender;         /* reverse-path, "" for <> */
	const char *envid;          /* DSN ENVID, "" none */
	const char *ret;            /* DSN RET "FULL" / "HDRS" / "" */
	const char *path;           /* the message file (a blob) */
	uint64_t offset;            /* the message starts this many octets into the file */
	uint64_t size;              /* octets from offset to the end */
	bool body_8bit;             /* BODY=8BITMIME was declared (or 8-bit octets seen) */
	bool smtputf8;              /* SMTPUTF8 was declared: the peer must offer it, else bounce 5.6.7 */
	/*
	 * REQUIRETLS (RFC 8689): only to hosts with a DANE or MTA-STS
	 * (verified) TLS policy that offer REQUIRETLS themselves, else
	 * bounce 5.7.30.  tls_optional ("TLS-Required: No", §5, ignored
	 * with requiretls): the recipient's policy is not enforced, TLS is
	 * still used when it can be.
	 */
	bool requiretls;
	bool tls_optional;
	struct mta_rcpt *rcpts;
	size_t nrcpts;
	/* Out, set before done(). */
	char relay[320];            /* "host[ip]:port" of the last host tried, "none" when none was */
	bool tls;                   /* the message went over TLS (authenticated or not) */
	/* Called once, on the MTA's loop, when every rcpt has its result. */
	void (*done)(struct mta_job *job);
	void *arg;
};

/* NULL (logged) on failure, e.g. an unreadable relay_password_file. */
struct mta *mta_new(struct event_base *base, const struct config *cfg, struct dns_resolver *dns);
/* Closes idle connections; jobs still running are abandoned (done not called). */
void mta_free(struct mta **m);
/* Start a job; the job and everything it points to must live until done(). */
void mta_deliver(struct mta *m, struct mta_job *job);

#endif
