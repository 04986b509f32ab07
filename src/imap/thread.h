/*
 * thread.h — THREAD (RFC 5256): message-id lists and the two threading
 * algorithms, ORDEREDSUBJECT and REFERENCES, as pure functions over an
 * array of messages (threadcmd.c gathers them from the index and the
 * References field, thread.c threads them, thread_msgid.c parses ids).
 *
 * Message-ids come from hostile mail: they are parsed with explicit
 * lengths, each at most IMAP_MSGID_MAX octets, and a message contributes
 * at most IMAP_THREAD_MAX_REFS references (the last ones, which name its
 * nearest ancestors).  Threading uses a hash table of ids, walks parent
 * chains with a bound, and writes the result without recursion, so a
 * hostile mailbox (reference loops, 10,000-deep chains) costs time in
 * proportion to its size and a fixed amount of stack.
 */
#ifndef TERN_IMAP_THREAD_H
#define TERN_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define IMAP_MSGID_MAX 998              /* octets of one id between < and > (a line's worth) */
#define IMAP_THREAD_MAX_REFS 1000       /* references kept per message */

/*
 * The next message-id of the field value s[0..n) from *pos on: the
 * octets between "<" and ">", with folding whitespace taken out, into
 * out (reset first).  Comments and quoted strings outside the brackets
 * are skipped; an id that is empty, longer than IMAP_MSGID_MAX or
 * holds a "<" or a control character is skipped as invalid.  false when
 * there are no more; *pos advances past what was read.
 */
bool imap_msgid_next(const char *s, size_t n, size_t *pos, struct buf *out);

struct imap_thread_ref {
	const char *p;
	size_t len;
};

struct imap_thread_msg {
	uint32_t num;                   /* what the reply names it by: sequence number or UID */
	int64_t date;                   /* the Date: field, else INTERNALDATE (RFC 5256 §2.2) */
	const char *subject;            /* base subject in comparison form (sort.h) */
	size_t subject_len;
	bool reply;                     /* the subject had Re:, Fwd:, (fwd) or [fwd: ] */
	const char *msgid;              /* its Message-ID; NULL when none */
	size_t msgid_len;
	const struct imap_thread_ref *refs;     /* References (else In-Reply-To), oldest first */
	size_t nrefs;
};

/*
 * Append the threads of msgs[0..n) (in sequence order: ties in date go
 * to the earlier one) as THREAD's response data, "(1 2)(3 (4)(5))" —
 * without the "THREAD" itself; nothing when n is 0.
 */
void imap_thread_orderedsubject(struct buf *out, const struct imap_thread_msg *msgs, size_t n);
void imap_thread_references(struct buf *out, const struct imap_thread_msg *msgs, size_t n);

#endif
