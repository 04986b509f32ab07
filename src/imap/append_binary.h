/*
 * append_binary.h — storing a literal8 APPEND (RFC 3516) whose content has
 * NUL octets: the leaf parts holding them are re-encoded as base64 (as
 * Dovecot's binary converter does on save), so that BODY[] never has to
 * carry NUL in a plain literal while BINARY[] still yields every octet.
 * For append.c only.
 */
#ifndef TERN_IMAP_APPEND_BINARY_H
#define TERN_IMAP_APPEND_BINARY_H

#include <stddef.h>

#include "lib/buf.h"

enum imap_binconv {
	IMAP_BINCONV_NONE,          /* no NUL: store as it is */
	IMAP_BINCONV_DONE,          /* out holds the converted message */
	IMAP_BINCONV_IMPOSSIBLE,    /* NUL in a header, a boundary, a preamble or an encoded part */
};

/*
 * Convert msg[0..len): every leaf part whose body has a NUL and whose
 * Content-Transfer-Encoding is an identity one (none, 7bit, 8bit, binary)
 * gets a base64 body and "Content-Transfer-Encoding: base64" in place of
 * its old field; everything else is copied octet for octet.  Linear (one
 * MIME parse, one pass); the output is at most 4/3 of the input plus
 * 80 octets per part.
 */
enum imap_binconv imap_append_binary_convert(const char *msg, size_t len, struct buf *out);

#endif
