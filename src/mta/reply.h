/*
 * reply.h — what an SMTP server says to tern's SMTP client: the reply
 * parser (RFC 5321 §4.2, multi-line "250-..." / "250 ..."), enhanced
 * status codes (RFC 3463, RFC 2034), the EHLO capability set, and xtext
 * (RFC 3461 §4) for the DSN parameters the client sends.
 *
 * Pure functions on bytes: no sockets, no event loop.  client.c feeds
 * whatever the socket gave; the parser says when a whole reply is there.
 * The peer is untrusted: every line, the number of lines and the total are
 * bounded, and exceeding a bound is a protocol error, never a bigger
 * buffer.  Text kept from a reply has control characters replaced by '?'
 * (and non-UTF-8 octets too), so it is safe in logs and DSNs.
 */
#ifndef TERN_MTA_REPLY_H
#define TERN_MTA_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define MTA_REPLY_LINE_MAX 2048          /* octets in one line, without CRLF (Postfix line_length_limit) */
#define MTA_REPLY_TOTAL_MAX (64 * 1024)  /* octets in one reply, CRLFs included */
#define MTA_REPLY_LINES_MAX 100          /* lines in one reply */
#define MTA_REPLY_TEXT_MAX 512           /* mta_reply_join() output, NUL included (mta_rcpt.reply) */

struct mta_reply {
	int code;                   /* 200..599 (3xx: 354 only in practice) */
	char enhanced[16];          /* "5.1.1": from the reply's first line, or derived from code */
	bool enhanced_given;        /* enhanced came from the peer */
	size_t nlines;
	/* The lines as received minus CRLF, sanitised, each followed by '\n'. */
	struct buf lines;
};

enum mta_reply_status {
	MTA_REPLY_MORE,             /* everything fed was consumed; the reply is not complete */
	MTA_REPLY_DONE,             /* a complete reply is in .reply */
	MTA_REPLY_ERROR,            /* the peer broke the grammar or a limit; .error says how */
};

struct mta_reply_parser {
	struct mta_reply reply;
	enum mta_reply_status status;
	const char *error;          /* static text, for logs and tern's own reason */
	char line[MTA_REPLY_LINE_MAX + 1];   /* the line being received (+ a CR) */
	size_t linelen;
	size_t total;
};

void mta_reply_parser_init(struct mta_reply_parser *p);
void mta_reply_parser_free(struct mta_reply_parser *p);
/* Forget the reply (after DONE) to parse the next; ERROR is final until init. */
void mta_reply_parser_next(struct mta_reply_parser *p);

/*
 * Feed n octets.  Returns how many were consumed: all of them while the
 * status stays MORE; up to and including the final line's LF when it
 * becomes DONE (the rest belongs to the next reply); unspecified on ERROR.
 * Lines end in LF, with an optional CR before it.  Feeding in any split
 * gives the same replies as feeding all at once.
 */
size_t mta_reply_feed(struct mta_reply_parser *p, const char *data, size_t n);

/*
 * The reply as one line for a DSN or log: the lines joined with "; ",
 * cut (at a UTF-8 boundary) to fit size.  Returns the length written.
 */
size_t mta_reply_join(const struct mta_reply *r, char *out, size_t size);

/* Iterate the lines: *pos starts at 0; false at the end.  The line excludes the "250-" prefix. */
bool mta_reply_text_line(const struct mta_reply *r, size_t *pos, const char **text, size_t *len);

/*
 * Parse an RFC 3463 code "c.s.d" at the start of text (followed by a space
 * or the end); class must be the reply's first digit.  Writes it to out
 * (16 octets) and returns its length in text, or 0 when there is none.
 */
size_t mta_enhanced_parse(const char *text, size_t n, int code, char out[16]);

/* ---- EHLO ------------------------------------------------------------- */

enum {
	MTA_CAP_PIPELINING   = 1u << 0,
	MTA_CAP_SIZE         = 1u << 1,
	MTA_CAP_8BITMIME     = 1u << 2,
	MTA_CAP_SMTPUTF8     = 1u << 3,
	MTA_CAP_STARTTLS     = 1u << 4,
	MTA_CAP_CHUNKING     = 1u << 5,
	MTA_CAP_DSN          = 1u << 6,
	MTA_CAP_AUTH         = 1u << 7,
	MTA_CAP_ENHANCEDSTATUSCODES = 1u << 8,
	MTA_CAP_REQUIRETLS   = 1u << 9,
};

enum {
	MTA_AUTH_PLAIN    = 1u << 0,
	MTA_AUTH_LOGIN    = 1u << 1,
	MTA_AUTH_CRAM_MD5 = 1u << 2,
	MTA_AUTH_OTHER    = 1u << 3,
};

struct mta_caps {
	unsigned flags;             /* MTA_CAP_* */
	uint64_t size_limit;        /* SIZE n; 0: none declared (or unparsable) */
	unsigned auth;              /* MTA_AUTH_* offered after AUTH (or the old AUTH=) */
};

/* The capabilities of a 250 reply to EHLO (its first line is the greeting, skipped). */
void mta_caps_parse(const struct mta_reply *r, struct mta_caps *caps);

/* ---- xtext ------------------------------------------------------------ */

/* Append the xtext encoding of s[0..n) to out: '+' HEX HEX for '+', '=', and octets outside 33..126. */
void mta_xtext_append(struct buf *out, const char *s, size_t n);

#endif
