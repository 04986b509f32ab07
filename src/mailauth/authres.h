/*
 * authres.h — the Authentication-Results header field (RFC 8601).
 *
 * tern adds one at delivery, naming itself (the authserv-id, its
 * hostname), with a resinfo per method ("spf=pass smtp.mailfrom=...",
 * "dkim=...", "dmarc=..."), each formatted by its own module.  Fields
 * already in the message that claim our authserv-id were not written by
 * us — or not for this hop — and are removed (§5), which is what
 * authres_is_ours() is for.
 */
#ifndef TERN_MAILAUTH_AUTHRES_H
#define TERN_MAILAUTH_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * Does this Authentication-Results field body (the part after the colon,
 * unfolded or not, len octets) name authserv_id?  Comments and white space
 * before the id are skipped; the id is compared without regard to case.
 */
bool authres_is_ours(const char *value, size_t len, const char *authserv_id);

/*
 * Append the whole field, CRLF-terminated and folded one resinfo per line:
 * "Authentication-Results: mx.example.org;\r\n\tspf=pass ...;\r\n\tdkim=..."
 * With n == 0: "Authentication-Results: mx.example.org; none".
 */
void authres_format(struct buf *out, const char *authserv_id, const char *const *resinfo, size_t n);

#endif
