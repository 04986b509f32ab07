/*
 * envelope.h — the IMAP ENVELOPE of a header block (RFC 9051 §7.5.2).
 *
 *   (date subject from sender reply-to to cc bcc in-reply-to message-id)
 *
 * String fields are the raw values, unfolded and trimmed, not RFC 2047
 * decoded; absent fields are NIL.  Address fields are lists of
 * (name adl mailbox host), with group syntax as (NIL NIL "group" NIL) ...
 * (NIL NIL NIL NIL); a field without any address is NIL.  Sender and
 * Reply-To default to From.  When a field occurs more than once the first
 * one counts.
 */
#ifndef TERN_MAIL_ENVELOPE_H
#define TERN_MAIL_ENVELOPE_H

#include <stddef.h>

#include "lib/buf.h"
#include "mail/address.h"
#include "mail/mime.h"

enum mail_env_field {
	MAIL_ENV_DATE, MAIL_ENV_SUBJECT, MAIL_ENV_FROM, MAIL_ENV_SENDER, MAIL_ENV_REPLY_TO,
	MAIL_ENV_TO, MAIL_ENV_CC, MAIL_ENV_BCC, MAIL_ENV_IN_REPLY_TO, MAIL_ENV_MESSAGE_ID,
	MAIL_ENV_COUNT
};

/* The raw values of the envelope fields in hdr[0..n); refs are offsets into hdr. */
void mail_envelope_collect(const char *hdr, size_t n, struct mail_field_ref f[MAIL_ENV_COUNT]);

/* Append "(...)", the ENVELOPE of the header block hdr[0..n). */
void mail_envelope_write(struct buf *out, const char *hdr, size_t n);

/* Append an address list as IMAP writes it, or NIL when empty. */
void mail_envelope_write_addresses(struct buf *out, const struct mail_address *list);

#endif
