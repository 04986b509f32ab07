/*
 * mime.h — the MIME structure of a message, and the part map.
 *
 * mail_mime_parse() makes one pass over a whole message in memory and
 * returns a flat array of parts (a tree by index) with exact byte offsets.
 * The model is Dovecot's: a multipart part has its body parts as children;
 * a message/rfc822 (or message/global) part has exactly one child, the
 * embedded message, whose header starts where the part's body starts.
 *
 * Boundaries: a line starting with "--" followed by the boundary of any
 * open multipart (innermost checked first; trailing junk after the
 * boundary ignored) ends whatever is open below that multipart, even a
 * header that has no empty line yet.  The line break before the boundary
 * line belongs to the boundary.  A boundary followed by "--" closes its
 * multipart; what follows is the multipart's epilogue.  A boundary that
 * never appears leaves the multipart with no children; one that is never
 * closed runs to the end.  Bare LF is accepted as a line break throughout.
 *
 * Defaults (RFC 2045/2046): no Content-Type means text/plain; charset=
 * us-ascii, or message/rfc822 inside multipart/digest.  A Content-Type that
 * does not parse, or a multipart without a usable boundary, is treated as
 * text/plain.  A multipart or message part that would exceed
 * MAIL_MAX_DEPTH or MAIL_MAX_PARTS is kept as one opaque part
 * (described as application/octet-stream); once MAIL_MAX_PARTS is reached
 * no further boundaries are recognised at all.  Time is linear in the
 * input (times the nesting depth for lines that start with "--").
 */
#ifndef TERN_MAIL_MIME_H
#define TERN_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/cte.h"
#include "mail/meta.h"

#define MAIL_PART_NONE UINT32_MAX
/* Boundaries longer than this are not believed (RFC 2046 allows 70). */
#define MAIL_BOUNDARY_MAX 200

enum mail_part_kind {
	MAIL_PART_LEAF,
	MAIL_PART_MULTIPART,
	MAIL_PART_MESSAGE,      /* message/rfc822 or message/global: one child */
};

enum mail_ctype_src {
	MAIL_CTYPE_GIVEN,       /* Content-Type as written */
	MAIL_CTYPE_TEXT,        /* default or unusable: text/plain; charset=us-ascii */
	MAIL_CTYPE_DIGEST,      /* default inside multipart/digest: message/rfc822 */
	MAIL_CTYPE_OPAQUE,      /* multipart/message beyond the limits: application/octet-stream */
};

/* A header field's raw folded value: msg[off .. off+len); present false if absent. */
struct mail_field_ref {
	size_t off, len;
	bool present;
};

struct mail_part {
	uint32_t parent, first_child, last_child, next_sibling;
	uint32_t depth;                 /* top level 0 */
	enum mail_part_kind kind;
	enum mail_ctype_src ctype_src;
	bool is_digest;                 /* multipart/digest */
	enum mail_cte cte;
	size_t hdr_start;               /* header is [hdr_start, body_start), empty line included */
	size_t body_start, body_end;
	uint64_t body_lines;            /* LF count in the body */
	uint64_t nl_at_body;            /* internal: LFs before body_start */
	struct mail_field_ref ctype, encoding, id, description, md5, disposition, language, location;
};

struct mail_mime {
	const char *msg;
	size_t len;
	struct mail_part *parts;        /* parts[0] is the message itself */
	size_t nparts;
};

void mail_mime_parse(const char *msg, size_t len, struct mail_mime *out);
void mail_mime_free(struct mail_mime *m);

/* ---- the part map ------------------------------------------------------- */

/*
 * The part map is a string with one line per addressable IMAP section, in
 * section order:
 *
 *   <section> SP <kind> SP <mime_start> SP <body_start> SP <body_end> SP <text_start> SP <cte> LF
 *
 *   section     "0" for the whole message, else RFC 9051 §6.4.5 numbering
 *               ("1", "2.1", ...): a non-multipart message has part 1 (its
 *               body); a message/rfc822 part's subparts are numbered as
 *               the embedded message's parts.
 *   kind        'm' multipart, 'r' message/rfc822|global (and "0"), 'l' other.
 *   mime_start  decimal offset; [mime_start, body_start) is BODY[s.MIME]
 *               (for part 1 of a non-multipart message, the message header).
 *   body_start, body_end   BODY[s] is [body_start, body_end).
 *   text_start  for 'r': BODY[s.HEADER] is [body_start, text_start) and
 *               BODY[s.TEXT] is [text_start, body_end); "-" otherwise.
 *   cte         Content-Transfer-Encoding, one of "-78BbqU" (see cte.h).
 *
 * Example, a multipart/mixed with a text part and a message/rfc822:
 *   0 r 0 0 1200 310 -
 *   1 l 352 394 420 - -
 *   2 r 460 520 1150 600 -
 *   2.1 l 520 600 1150 - q
 */
void mail_parts_map(const struct mail_mime *m, struct buf *out);

struct mail_part_loc {
	uint64_t mime_start, mime_end;  /* BODY[section.MIME] */
	uint64_t body_start, body_end;  /* BODY[section], BINARY[section] */
	bool multipart;
	bool message;                   /* section.HEADER / .TEXT exist */
	uint64_t text_start;            /* message: HEADER = [body_start, text_start), TEXT = [text_start, body_end) */
	enum mail_cte cte;
};

/*
 * Look up section ("" for the whole message, else "1", "1.2", ...; no
 * HEADER/TEXT/MIME suffix) in a part map.  False when the section does not
 * exist or is malformed, or the map is damaged.
 */
bool mail_parts_find(const char *parts, const char *section, struct mail_part_loc *out);

#endif
