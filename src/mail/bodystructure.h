/*
 * bodystructure.h — IMAP BODY and BODYSTRUCTURE of a parsed message
 * (RFC 9051 §7.5.2, RFC 3501 §7.4.2), as Dovecot writes them.
 *
 * Type, subtype, parameter names and values are sent as written in the
 * message; defaults are "text" "plain" ("charset" "us-ascii") (a text type
 * without a charset gets that parameter added), "message" "rfc822" inside
 * multipart/digest, and "7BIT" for a missing Content-Transfer-Encoding.
 * Sizes are octets of the body as stored; line counts are LF counts.
 * Extension data: body MD5 (Content-MD5, or NIL), disposition, language
 * (always a list), location for single parts; parameters, disposition,
 * language, location for multiparts.  A multipart without any body part
 * gets an empty text/plain one, because the grammar needs at least one.
 */
#ifndef TERN_MAIL_BODYSTRUCTURE_H
#define TERN_MAIL_BODYSTRUCTURE_H

#include <stdbool.h>

#include "lib/buf.h"
#include "mail/mime.h"

/* Append "(...)": BODYSTRUCTURE when extended, else BODY. */
void mail_bodystructure_write(struct buf *out, const struct mail_mime *m, bool extended);

#endif
