/*
 * arc.h — Authenticated Received Chain (RFC 8617): verifying the chain of
 * ARC sets a message arrives with (§5.2), and sealing it with the next
 * set when tern forwards the message (§5.1).
 *
 * Like dkim.h, the verifier takes the message as it is on the wire (CRLF,
 * no dot-stuffing) in pieces of any size while DATA streams: the header
 * section is kept (bounded), the body only goes through the canonicaliser
 * of the newest ARC-Message-Signature and, when sealing may follow, the
 * relaxed one of our own.  Keys are asked through struct mailauth_dns
 * and the verdict comes back through a callback on the caller's loop.
 * The result is informational (RFC 8617 §1): it is recorded, never acted
 * on here.  No function here blocks.
 */
#ifndef TERN_MAILAUTH_ARC_H
#define TERN_MAILAUTH_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/buf.h"
#include "mailauth/mailauth_dns.h"

#define ARC_MAX_INSTANCE 50        /* RFC 8617 §4.2.1 */

/* RFC 8617 §2.2 / RFC 8601 registry: the "arc" method's results. */
enum arc_result { ARC_RESULT_NONE, ARC_RESULT_PASS, ARC_RESULT_FAIL };

const char *arc_result_name(enum arc_result r);

struct arc_verdict {
	enum arc_result result;
	unsigned instances;         /* N, the newest i= seen (0: no ARC field; may be > 50 on a fail) */
	char domain[254];           /* d= of the newest ARC-Seal, "" when unknown */
	char why[96];               /* why it failed, "" otherwise */
};

struct arc_verify;
typedef void (*arc_verify_cb)(void *arg, const struct arc_verdict *v);

/*
 * now: the time x= is checked against.  seal: also hash the body as our
 * own ARC-Message-Signature will (arc_seal() needs it).  The dns table is
 * copied; its context must outlive the verifier.
 */
struct arc_verify *arc_verify_new(const struct mailauth_dns *dns, int64_t now, bool seal);
/* The message in order, in pieces of any size. */
void arc_verify_feed(struct arc_verify *v, const char *data, size_t len);
/*
 * End of message.  true: the verdict is final already (no chain, or one
 * broken without needing a key); cb is never called.  false: cb runs
 * later from a DNS callback, never from inside this call.
 */
bool arc_verify_finish(struct arc_verify *v, arc_verify_cb cb, void *arg);
const struct arc_verdict *arc_verify_result(const struct arc_verify *v);
/* Cancels lookups in flight (cb is not called).  *v becomes NULL. */
void arc_verify_free(struct arc_verify **v);

/*
 * Authentication-Results method text (RFC 8617 §7.2, RFC 8601 §2.7):
 * "arc=pass (i=2) smtp.remote-ip=192.0.2.1", "arc=fail (why) ...",
 * "arc=none ...".  remote_ip may be NULL.  Appended to out.
 */
void arc_format_result(const struct arc_verdict *v, const char *remote_ip, struct buf *out);

/*
 * After the verdict: the ARC set i=N+1 (ARC-Seal, ARC-Message-Signature,
 * ARC-Authentication-Results, each CRLF-terminated and folded) appended
 * to out, signed with key (RSA or Ed25519) as d=domain s=selector at time
 * now; its ARC-Authentication-Results is "i=N+1; authserv_id; " and the
 * resinfo joined like Authentication-Results.  cv= is the verdict (none,
 * pass, fail; a failed chain's seal signs only its own set, §5.1.2).
 * false, nothing appended, *why set: not made with seal, N already 50,
 * header too big, crypto failure.
 */
bool arc_seal(struct arc_verify *v, EVP_PKEY *key, const char *domain, const char *selector, int64_t now,
	      const char *authserv_id, const char *const *resinfo, size_t nresinfo, struct buf *out,
	      const char **why);

#endif
