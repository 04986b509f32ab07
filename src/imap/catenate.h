/*
 * catenate.h — CATENATE (RFC 4469): one APPEND message assembled from
 * TEXT literals and IMAP URLs (catenate.c).  For append.c only.
 */
#ifndef TERN_IMAP_CATENATE_H
#define TERN_IMAP_CATENATE_H

#include "imap/imapurl.h"
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

/*
 * The octets URL u names in mailbox_id (its message, BODY.PEEK[section]
 * and partial), appended to out: IMAP_URL_PART_OK, _NOMESSAGE,
 * _BADSECTION, or _ERROR (the store or the message file failed, logged).
 * Also URLFETCH's.  The caller has checked that u may be read.
 */
/* A URL's mailbox, from store_mailbox_info with imap_url_got_mailbox. */
struct imap_url_mailbox {
	bool found;
	int64_t id;
	uint32_t uidvalidity;
};
void imap_url_got_mailbox(void *ctx, const struct store_mailbox_info *mb);

enum { IMAP_URL_PART_ERROR = -1, IMAP_URL_PART_NOMESSAGE = 0, IMAP_URL_PART_OK = 1, IMAP_URL_PART_BADSECTION = 2 };
int imap_url_part(struct imap_session *s, int64_t mailbox_id, const struct imap_url *u, struct buf *out);
/* The same for message m, its blob mapped at blob[0..len): what imap_url_part does once it has the message. */
int imap_url_section(const struct imap_url *u, const struct store_message_data *m, const char *blob, size_t len,
		     struct buf *out);
/*
 * fn(ctx, m, blob, len) on message uid of mailbox_id with its blob mapped,
 * returning what fn returns (an IMAP_URL_PART_* value), or
 * IMAP_URL_PART_NOMESSAGE / _ERROR when there is no such message or it
 * cannot be read.
 */
int imap_url_message(struct imap_session *s, int64_t mailbox_id, uint32_t uid,
		     int (*fn)(void *ctx, const struct store_message_data *m, const char *blob, size_t len), void *ctx);

#endif
