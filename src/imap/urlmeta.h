/*
 * urlmeta.h — the metadata items of an extended URLFETCH (RFC 5524):
 * BODYPARTSTRUCTURE, BINARY and BODY for the part an IMAP URL names.
 */
#ifndef TERN_IMAP_URLMETA_H
#define TERN_IMAP_URLMETA_H

#include <stdint.h>

#include "imap/imapurl.h"
#include "imap/session.h"
#include "lib/buf.h"

/*
 * Append " (BODYPARTSTRUCTURE body)", " (BINARY data)" and " (BODY data)"
 * (those that params, IMAP_URLFETCH_*, asks for, in that order) for the
 * part u names in mailbox_id.  Returns what imap_url_part does
 * (catenate.h); out is only complete on IMAP_URL_PART_OK.  The caller has
 * checked that u may be read.
 */
int imap_url_meta(struct imap_session *s, int64_t mailbox_id, const struct imap_url *u, unsigned params,
		  struct buf *out);

#endif
