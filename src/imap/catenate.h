/*
 * catenate.h — CATENATE (RFC 4469): one APPEND message assembled from
 * TEXT literals and IMAP URLs (catenate.c).  For append.c only.
 */
#ifndef TERN_IMAP_CATENATE_H
#define TERN_IMAP_CATENATE_H

#include "imap/session.h"

/*
 * Build m's message into a new spool file (*path, malloc'd, set as soon
 * as the file exists, even on failure: the caller removes it), at most
 * limit octets.  false when it cannot be built, with the tagged reply
 * sent: NO [BADURL url], [TOOBIG], [CANNOT] (NUL in a TEXT literal),
 * or a store error.  May only read the store.
 */
bool imap_catenate(struct imap_session *s, const char *tag, const struct imap_append_msg *m, uint64_t limit,
		   char **path);

#endif
