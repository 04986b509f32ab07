/*
 * binary.h — a MIME entity with its content-transfer-encodings undone, for
 * URLFETCH BINARY (RFC 5524) of a message or message/rfc822 part.
 *
 * BINARY of a single part is that part's body decoded (section.c).  For an
 * entity that holds other parts — a whole message, a message/rfc822 part,
 * a multipart — RFC 5524 asks for the data "without content-transfer-
 * encoding", which for a container means its leaves: every base64 or
 * quoted-printable leaf below it is decoded in place and its
 * Content-Transfer-Encoding field says "binary", so that what comes out is
 * still a MIME entity that describes itself truthfully.  This is what
 * Dovecot returns.  Boundaries, preambles, epilogues and every other header
 * field are copied as they are.  A leaf in an encoding tern cannot decode
 * (x-uuencode, ...) is copied as it is, with its field unchanged.
 *
 * Knows nothing of IMAP, the network or storage.
 */
#ifndef TERN_MAIL_BINARY_H
#define TERN_MAIL_BINARY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * Convert the entity ent[0..len) (its header, the empty line, its body)
 * into out (appended).  *body_off gets where the converted entity's body
 * starts in what was appended.  False (out unchanged) when the entity is
 * itself a leaf whose encoding cannot be decoded.
 */
bool mail_binary_entity(const char *ent, size_t len, struct buf *out, size_t *body_off);

#endif
