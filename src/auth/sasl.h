/*
 * sasl.h — server side SASL mechanisms PLAIN (RFC 4616) and LOGIN, as
 * protocol-independent state machines.
 *
 * The protocol feeds what the client sent, still base64 encoded (the
 * initial response of AUTH / AUTHENTICATE, then each continuation line),
 * and sends back the base64 challenge it is given.  Cancellation ("*") is
 * the protocol's business.  Credentials stay in the sasl object and are
 * wiped by sasl_free().
 */
#ifndef TERN_AUTH_SASL_H
#define TERN_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define SASL_MECHANISMS "PLAIN LOGIN"
#define SASL_MAX_INPUT 4096   /* base64 octets per step; longer is SASL_BAD */

enum sasl_result {
	SASL_CHALLENGE,   /* send the challenge, feed the next line */
	SASL_DONE,        /* credentials available */
	SASL_BAD,         /* malformed input (bad base64, missing fields, too long) */
};

struct sasl;

/* NULL when mech (case-insensitive) is not offered. */
struct sasl *sasl_new(const char *mech, size_t len);

/*
 * One step.  in is NULL when the client gave no initial response; "=" is an
 * empty initial response.  On SASL_CHALLENGE the base64 challenge is
 * written to challenge (reset first).
 */
enum sasl_result sasl_step(struct sasl *s, const char *in, size_t len, struct buf *challenge);

/* After SASL_DONE.  authzid is "" when not given. */
const char *sasl_authzid(const struct sasl *s);
const char *sasl_authcid(const struct sasl *s);
const char *sasl_password(const struct sasl *s);
size_t sasl_password_len(const struct sasl *s);

void sasl_free(struct sasl **s);

#endif
