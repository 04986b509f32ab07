/*
 * meta.h — what tern extracts from a message once, at delivery.
 *
 * mail_meta_parse() runs the MIME parser over a complete message held in
 * memory (normally an mmap of the spool file) and produces everything the
 * index caches so that IMAP never re-parses a blob for metadata: the IMAP
 * ENVELOPE, BODY and BODYSTRUCTURE strings, the decoded fields listings
 * and SORT use, and a part map (byte offsets of every MIME part) so that
 * BODY[1.2] can be streamed straight from the blob.
 *
 * The parser is written for hostile input: explicit lengths, no recursion
 * without a depth limit (MAIL_MAX_DEPTH), a cap on the number of parts
 * (MAIL_MAX_PARTS); past either the rest is treated as opaque text.  It
 * never fails on malformed mail: a broken message still gets valid IMAP
 * structures describing what could be understood.
 *
 * Knows nothing of the network or of storage.
 */
#ifndef TERN_MAIL_META_H
#define TERN_MAIL_META_H

#include <stddef.h>
#include <stdint.h>

#define MAIL_MAX_DEPTH 64
#define MAIL_MAX_PARTS 5000

struct mail_meta {
	char *envelope;       /* IMAP ENVELOPE, e.g. ("date" "subject" ((...)) ...) */
	char *body;           /* IMAP BODY (BODYSTRUCTURE without extension data) */
	char *bodystructure;  /* IMAP BODYSTRUCTURE with extension data */
	char *subject;        /* Subject decoded to UTF-8 (RFC 2047), unfolded; "" if none */
	char *from;           /* first From: mailbox as "Name <addr>" decoded to UTF-8; "" if none */
	char *message_id;     /* Message-ID as written, without <>; "" if none */
	int64_t sent_date;    /* Date: as Unix time; 0 when absent or unparsable */
	char *parts;          /* part map, see mail_parts_find() in mime.h */
	uint64_t header_size; /* octets of the top-level header incl. the empty line */
	uint64_t body_lines;  /* lines in the top-level body */
};

/* Parse msg[0..len) (CRLF line endings expected, bare LF tolerated). */
void mail_meta_parse(const char *msg, size_t len, struct mail_meta *out);
void mail_meta_free(struct mail_meta *m);

#endif
