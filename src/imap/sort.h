/*
 * sort.h — the pieces SORT (RFC 5256, SORT=DISPLAY RFC 5957) and THREAD
 * share: base subject extraction, the i;unicode-casemap comparison form,
 * and reading address and string fields back out of the ENVELOPE the
 * index keeps (so that no sort key but References ever opens a blob).
 *
 * sort_subject.c implements them; sortcmd.c is the SORT command,
 * threadcmd.c the THREAD command, thread.c the threading algorithms.
 * All functions are pure and take (pointer, length) input.
 */
#ifndef TERN_IMAP_SORT_H
#define TERN_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * Append the base subject (RFC 5256 §2.1) of subj[0..n) — already RFC
 * 2047-decoded UTF-8 — to out, in the comparison form of
 * imap_sort_casemap().  *is_reply (may be NULL) is set when a Re:/Fwd:
 * leader, a (fwd) trailer or a [fwd: ...] wrapper was removed, as the
 * REFERENCES algorithm's subject grouping needs.
 */
void imap_sort_base_subject(struct buf *out, const char *subj, size_t n, bool *is_reply);

/*
 * Append s[0..n) in the form i;unicode-casemap (RFC 5051) compares: every
 * character's titlecase mapping, then NFKD.  Byte order of two results
 * is the collation's order (UTF-8 sorts as its code points).  Malformed
 * UTF-8 is taken lossily.
 */
void imap_sort_casemap(struct buf *out, const char *s, size_t n);

/* The ten ENVELOPE fields (RFC 9051 §7.5.2), in order. */
enum imap_env_field {
	IMAP_ENV_DATE, IMAP_ENV_SUBJECT, IMAP_ENV_FROM, IMAP_ENV_SENDER, IMAP_ENV_REPLY_TO,
	IMAP_ENV_TO, IMAP_ENV_CC, IMAP_ENV_BCC, IMAP_ENV_IN_REPLY_TO, IMAP_ENV_MESSAGE_ID,
};

/* An nstring or one address part read from an ENVELOPE: raw octets, unescaped. */
struct imap_env_str {
	bool nil;
	struct buf v;
};

/*
 * The first address of an address field of env (a NUL-terminated
 * ENVELOPE string as the index keeps it): name, mailbox and host.  A
 * group's first entry is its start (mailbox = the group name, host NIL).
 * false when the field is NIL, empty or env is malformed; the outputs
 * are then reset to NIL.  Caller frees the bufs.
 */
bool imap_env_first_address(const char *env, enum imap_env_field f, struct imap_env_str *name,
			    struct imap_env_str *mailbox, struct imap_env_str *host);

/* A string field (Date, Subject, In-Reply-To, Message-ID); false when NIL or malformed. */
bool imap_env_string(const char *env, enum imap_env_field f, struct buf *out);

#endif
