/*
 * section.h — what a FETCH body item (BODY[...]<p>, BINARY[...],
 * BINARY.SIZE[...], RFC822, RFC822.HEADER, RFC822.TEXT) sends, worked out
 * from the part map in the index (mail/mime.h) without parsing the blob.
 *
 * Most items are one contiguous byte range of the blob (the whole message,
 * a part, its MIME header, a message/rfc822's header or text), which the
 * session streams straight from the file.  HEADER.FIELDS (.NOT) filters
 * one header into memory (a header is bounded by the message size limit);
 * BINARY decodes the part's transfer encoding (RFC 3516) into memory.
 * <offset.length> partials are applied last, to whatever the item yields.
 */
#ifndef TERN_IMAP_SECTION_H
#define TERN_IMAP_SECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parse.h"
#include "lib/buf.h"

enum imap_section_kind {
	IMAP_SECTION_RANGE,     /* blob bytes [offset, offset + length) */
	IMAP_SECTION_BUILT,     /* the bytes in data */
	IMAP_SECTION_NIL,       /* send NIL */
	IMAP_SECTION_UNKNOWN_CTE,   /* BINARY of a part whose encoding cannot be decoded: NO [UNKNOWN-CTE] */
};

struct imap_section {
	enum imap_section_kind kind;
	uint64_t offset, length;    /* RANGE */
	struct buf data;            /* BUILT (owned; free with imap_section_free) */
	uint64_t size;              /* BINARY.SIZE: the decoded size */
};

/*
 * Work out att for one message.  parts is the message's part map, size its
 * size; blob/bloblen the mapped message, needed only when
 * imap_section_needs_blob(att) (HEADER.FIELDS, BINARY, BINARY.SIZE).
 * A section that does not exist yields an empty BUILT string (BINARY: NIL
 * per RFC 3516 when the part does not exist).  Never fails otherwise: a
 * damaged part map yields the whole message for "" and empty for the rest.
 */
void imap_section_get(const struct imap_fetch_att *att, const char *parts, uint64_t size, const char *blob,
		      size_t bloblen, struct imap_section *out);
bool imap_section_needs_blob(const struct imap_fetch_att *att);
void imap_section_free(struct imap_section *s);

#endif
