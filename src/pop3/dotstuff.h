/*
 * dotstuff.h — the streaming encoder of RETR and TOP multi-line responses
 * (RFC 1939 §3): a line starting with "." gets one more "." in front, and
 * the response ends with ".\r\n" (after a CRLF that ends an unterminated
 * last line).  TOP stops after the header, its blank line and n body
 * lines.
 *
 * Pure and incremental: the message is fed in chunks as it is read from
 * its blob, and the output does not depend on where the chunks are cut.
 * No allocation beyond appending to the caller's buffer, which grows by at
 * most twice the input plus a few octets per call.
 *
 * Stored messages are CRLF throughout (SMTP refuses bare CR/LF), so a
 * LIST size equals the octets RETR sends before stuffing and termination.
 * A bare LF, should one be stored anyway, is sent as CRLF because clients
 * split lines at LF and the protocol requires CRLF; such a message's
 * LIST size is then short by one octet per bare LF.
 */
#ifndef TERN_POP3_DOTSTUFF_H
#define TERN_POP3_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct pop3_dotstuff {
	bool top;                   /* TOP: stop after the header and `lines` body lines */
	uint64_t lines;             /* TOP: body lines still to send */
	bool in_body;               /* past the blank line that ends the header */
	bool line_start;            /* the next octet starts a line */
	bool prev_cr;               /* the last octet seen was CR */
	uint64_t line_len;          /* octets of the current line so far, line end excluded */
	bool done;                  /* TOP: everything wanted has been emitted */
};

/* RETR: top = false.  TOP: top = true, lines = body lines wanted. */
void pop3_dotstuff_init(struct pop3_dotstuff *d, bool top, uint64_t lines);

/*
 * Encode p[0..n) onto out.  Returns the octets used: less than n only when
 * TOP has everything it wants (d->done), after which input is ignored.
 */
size_t pop3_dotstuff_feed(struct pop3_dotstuff *d, const char *p, size_t n, struct buf *out);

/* End of the message: CRLF if a line is unterminated, then ".\r\n". */
void pop3_dotstuff_finish(struct pop3_dotstuff *d, struct buf *out);

#endif
