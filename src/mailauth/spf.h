/*
 * spf.h — Sender Policy Framework (RFC 7208): the asynchronous
 * check_host() of one identity, and the trace fields that record it.
 *
 * The SMTP session starts a check at MAIL FROM (identity mailfrom; the
 * null sender checks postmaster@<helo>) and, if it wants, for HELO; the
 * callback brings the result later on the session's loop, never from
 * inside spf_check_start().  All DNS goes through struct mailauth_dns.
 * A check is bounded: 10 DNS-querying terms, 2 void lookups, 10 names
 * per MX or PTR answer, records of at most SPF_RECORD_MAX bytes, and a
 * whole-check timeout that ends in temperror.
 *
 *   struct spf_request rq = { .ip = peer_ip, .helo = helo,
 *                             .mail_from = "user@example.org",
 *                             .receiver = cfg->hostname };
 *   s->spf = spf_check_start(&dns, base, &rq, on_spf, s);
 *   ...
 *   static void on_spf(const struct spf_outcome *o, void *arg)
 *   {       // o->result; copy *o if it is needed later; s->spf is gone now
 *   }
 */
#ifndef TERN_MAILAUTH_SPF_H
#define TERN_MAILAUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "mailauth/mailauth_dns.h"

struct event_base;
struct sockaddr;
struct buf;
struct spf_check;

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_identity {
	SPF_IDENTITY_MAILFROM,   /* the MAIL FROM reverse-path (postmaster@helo when null) */
	SPF_IDENTITY_HELO,       /* postmaster@<helo> */
};

/* Default for spf_request.timeout_ms: RFC 7208 §4.6.4 asks for at least 20 s. */
#define SPF_TIMEOUT_MS_DEFAULT 20000

struct spf_request {
	const char *ip;                 /* client address as text ("192.0.2.1", "2001:db8::1",
	                                   "::ffff:192.0.2.1" counts as IPv4), or NULL: use addr */
	const struct sockaddr *addr;    /* AF_INET / AF_INET6, used when ip is NULL */
	const char *helo;               /* HELO/EHLO argument as the client sent it */
	const char *mail_from;          /* reverse-path without <>; NULL or "" is the null sender */
	const char *receiver;           /* our host name: %{r} and receiver=; NULL: "unknown" */
	enum spf_identity identity;
	unsigned timeout_ms;            /* whole check; 0: SPF_TIMEOUT_MS_DEFAULT */
};

/* Sizes of struct spf_outcome's text fields; longer input is cut (it is only shown). */
#define SPF_NAME_MAX 256
#define SPF_ADDRESS_MAX 512
#define SPF_MECHANISM_MAX 128
#define SPF_EXPLANATION_MAX 512
#define SPF_PROBLEM_MAX 192

/*
 * What a check found.  Plain data without pointers: copy it by value.
 * All text is printable ASCII (anything else from the network is shown
 * as '?'), NUL-terminated.
 */
struct spf_outcome {
	enum spf_result result;
	enum spf_identity identity;
	char client_ip[46];                     /* IPv4-mapped addresses as IPv4 */
	char helo[SPF_NAME_MAX];
	char envelope_from[SPF_ADDRESS_MAX];    /* the reverse-path as given; "" for the null sender */
	char sender[SPF_ADDRESS_MAX];           /* the <sender> checked: local-part@domain */
	char domain[SPF_NAME_MAX];              /* the <domain> checked (the identity's domain) */
	char receiver[SPF_NAME_MAX];
	char mechanism[SPF_MECHANISM_MAX];      /* the matching directive as written, "default"
	                                           when none matched, "" for none/errors */
	char explanation[SPF_EXPLANATION_MAX];  /* the domain's exp= text for a fail; "" if none */
	char problem[SPF_PROBLEM_MAX];          /* why, for temperror/permerror (and none) */
	unsigned dns_lookups;                   /* terms that counted against the limit of 10 */
	unsigned void_lookups;
};

/* o is valid during the call only.  The check is finished and freed after it. */
typedef void (*spf_done_cb)(const struct spf_outcome *o, void *arg);

/*
 * Start a check.  dns and req are read during this call only (strings are
 * copied).  cb runs exactly once, later, on base's loop — unless
 * spf_check_cancel() comes first.  Never NULL.
 */
struct spf_check *spf_check_start(const struct mailauth_dns *dns, struct event_base *base,
				  const struct spf_request *req, spf_done_cb cb, void *arg);

/* Stop a check before its callback ran (its DNS queries are cancelled); *c = NULL. */
void spf_check_cancel(struct spf_check **c);

/* "pass", "fail", ... as in Received-SPF and Authentication-Results. */
const char *spf_result_name(enum spf_result r);

/*
 * Append the whole Received-SPF field (RFC 7208 §9.1), folded, ending in
 * CRLF: result, a comment for people, then client-ip, envelope-from,
 * helo, receiver, identity, mechanism (and problem for errors).
 */
void spf_format_received_spf(const struct spf_outcome *o, struct buf *b);

/*
 * Append the SPF resinfo of an Authentication-Results field (RFC 8601
 * §2.7.2), without the leading "; ": "spf=pass smtp.mailfrom=example.org"
 * (smtp.helo=... for the HELO identity).
 */
void spf_format_auth_results(const struct spf_outcome *o, struct buf *b);

#endif
