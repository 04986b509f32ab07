/*
 * imapurl.h — IMAP URLs (RFC 5092) naming one message or part of one:
 * what CATENATE's URL parts (RFC 4469) refer to.
 *
 * Accepted forms, keywords in any case:
 *   imap://[user[;AUTH=x]@]host[:port]/MAILBOX[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
 *   /MAILBOX[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]       (absolute path)
 *   ;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]                                (in the selected mailbox)
 * each optionally followed by URLAUTH (RFC 4467):
 *   [;EXPIRE=date-time];URLAUTH=access[:mechanism:token]
 * access being "anonymous", "authuser", "user+NAME" or "submit+NAME";
 * the "rump" is the URL up to and including the access identifier.
 * Mailbox and section are percent-decoded (the mailbox is UTF-8,
 * RFC 5092 §3.3).  The parser is pure, takes (pointer, length) and never
 * reads past it; it is written for hostile input: every length and number
 * is checked, every character class enforced.
 */
#ifndef TERN_IMAP_IMAPURL_H
#define TERN_IMAP_IMAPURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_URL_MAX 2048           /* octets of one URL */
#define IMAP_URL_SECTION_MAX 512    /* octets of a decoded section */

struct imap_url {
	char *user;                 /* imap://user@...: decoded, NULL when absent */
	char *host;                 /* imap://host: NULL for a relative URL */
	char *mailbox;              /* UTF-8, decoded; NULL: the selected mailbox */
	uint32_t uidvalidity;       /* 0: not given */
	uint32_t uid;
	char *section;              /* decoded ("HEADER", "1.2.MIME"...), NULL when absent */
	bool partial;
	uint64_t offset;
	uint64_t length;            /* UINT64_MAX: to the end */
	/* URLAUTH */
	bool urlauth;               /* ;URLAUTH= given */
	bool expire;
	int64_t expire_time;        /* Unix time */
	char *access;               /* "anonymous", "authuser", "user+NAME", "submit+NAME" (NAME decoded) */
	char *mech;                 /* NULL: a rump (GENURLAUTH's input) */
	char *token;                /* hex, as given */
	size_t rump_len;            /* url[0..rump_len) is what the token authorises */
};

/* Parse url[0..len); false with *err a static reason (the url is freed then). */
bool imap_url_parse(const char *url, size_t len, struct imap_url *out, const char **err);
void imap_url_free(struct imap_url *u);

#endif
