/*
 * downgrade.h — the 7-bit downgrade of an 8-bit message for a peer that
 * does not offer 8BITMIME (RFC 6152 §3: such a server must not be sent
 * 8-bit data; RFC 1652 §3 describes the conversion), as Postfix does with
 * its "8BITMIME to 7BIT conversion" (disable_mime_output_conversion = no).
 *
 * mta_downgrade() takes a whole message in memory (client.c maps the
 * message file) and the MIME structure src/mail/mime.c finds in it, and
 * re-encodes as quoted-printable (RFC 2045 §6.7) every leaf body part —
 * and the body of a message that is not MIME at all — that holds 8-bit
 * octets (or NULs) and is labelled 8bit, binary, 7bit or nothing.  Its
 * Content-Transfer-Encoding field is replaced (a second one dropped) or
 * added.  Everything else is copied octet for octet:
 *
 *   - parts already base64 / quoted-printable (or an unknown encoding);
 *   - each multipart is walked part by part and message/rfc822 into the
 *     embedded message (whose own header may get the same treatment); a
 *     composite labelled 8bit or binary with something re-encoded below is
 *     relabelled 7bit — never a non-identity encoding (RFC 2045 §6.4);
 *   - message/global and message/global-headers, -delivery-status ... may be encoded
 *     (RFC 6532 §3.5, RFC 6533), so they are, as one leaf;
 *   - 8-bit octets where no encoding is allowed (another message type, a
 *     multipart's preamble or epilogue, a boundary, a composite labelled
 *     base64) stay and are reported (residual_8bit);
 *   - 8-bit octets in header fields stay (RFC 2047 encoding is the
 *     sender's job; Postfix leaves them too) and are reported (header_8bit);
 *   - 8-bit content inside a part beyond the MIME parser's nesting or part
 *     limits (MAIL_MAX_DEPTH, MAIL_MAX_PARTS) cannot be converted: too_deep
 *     (Postfix refuses such mail with 5.6.0 "MIME nesting exceeds safety
 *     limit", and so does the client).
 *
 * A message (the top level, or an embedded message) that gets a part
 * re-encoded and has no MIME-Version field gets "MIME-Version: 1.0"; a
 * re-encoded part without Content-Type gets "Content-Type: text/plain;
 * charset=utf-8" (or charset=unknown-8bit, RFC 1428, when the octets are
 * not UTF-8) instead of the us-ascii default that would now be wrong.
 * Added fields end in CRLF.
 *
 * A DKIM signature over a re-encoded body no longer verifies; that is
 * accepted (Postfix the same): the alternative is not delivering.
 *
 * Bounded: one pass of the MIME parser (linear; limits in mime.h) and one
 * of the encoder; no recursion.  The output is at most
 * MTA_DOWNGRADE_MAX(len, nparts) octets.  Pure: no I/O, never fails.
 */
#ifndef TERN_MTA_DOWNGRADE_H
#define TERN_MTA_DOWNGRADE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Longest quoted-printable line, "=" of a soft break included (RFC 2045 §6.7 rule 5). */
#define MTA_QP_LINE_MAX 76
/* Octets the encoding of n octets can take: 3 per octet plus a soft break at least every 73. */
#define MTA_QP_MAX(n) (3 * (size_t)(n) + (size_t)(n) / 4 + 3)
/* Header octets a re-encoded part can gain (MIME-Version, Content-Type, Content-Transfer-Encoding). */
#define MTA_DOWNGRADE_HDR_EXTRA 160
#define MTA_DOWNGRADE_MAX(len, nparts) (MTA_QP_MAX(len) + (size_t)(nparts) * MTA_DOWNGRADE_HDR_EXTRA)

struct mta_downgrade_result {
	bool changed;           /* the output differs from the input */
	size_t parts_encoded;   /* bodies re-encoded as quoted-printable */
	size_t parts_relabelled;    /* composites whose 8bit/binary label became 7bit */
	size_t nparts;          /* MIME parts found (for MTA_DOWNGRADE_MAX) */
	bool header_8bit;       /* 8-bit octets left in a header */
	bool residual_8bit;     /* 8-bit octets left in body data no encoding is allowed for */
	bool too_deep;          /* 8-bit content beyond the MIME limits, left as it is */
};

/*
 * Append the 7-bit form of msg[0..len) to out (the input itself, octet for
 * octet, when nothing needed to change) and describe what was done in
 * *res.  Returns res->changed.
 */
bool mta_downgrade(const char *msg, size_t len, struct buf *out, struct mta_downgrade_result *res);

/*
 * Append the quoted-printable encoding of in[0..n) to out (RFC 2045 §6.7):
 * CRLF (and a bare LF) become hard line breaks (CRLF), "=", controls, NUL,
 * 8-bit octets and white space before a line break or the end become =XX,
 * lines are at most MTA_QP_LINE_MAX with soft breaks ("=" CRLF), and a
 * "-" that would start a line is =2D so that no encoded line can look like
 * a MIME boundary.  At most MTA_QP_MAX(n) octets.
 */
void mta_qp_encode(const char *in, size_t n, struct buf *out);

#endif
