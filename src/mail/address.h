/*
 * address.h — RFC 5322 address-list parsing (From, To, Cc, ...).
 *
 * Produces the list an IMAP ENVELOPE needs (RFC 3501 §7.4.2): one entry per
 * mailbox, and for group syntax a start entry (mailbox = group name, domain
 * NULL), the members, and an end entry (mailbox and domain NULL).
 *
 * Strings are raw: display names have their quoting removed but RFC 2047
 * encoded words are left alone (IMAP sends them as they are).  Handles
 * display names, comments (the last comment names an address that has no
 * display name: "user@host (Name)"), quoted strings, domain literals,
 * obsolete routes ("<@a,@b:user@host>") and obsolete spacing.  Garbage is
 * parsed best effort, never rejected: a missing local part or domain is
 * filled in as "MISSING_MAILBOX" / "MISSING_DOMAIN" (Dovecot's convention,
 * which clients have seen before), and the entry flagged invalid.
 *
 * Input beyond MAIL_FIELD_MAX bytes is ignored, and at most MAIL_ADDR_MAX
 * addresses are returned.  Linear in the input.
 */
#ifndef TERN_MAIL_ADDRESS_H
#define TERN_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define MAIL_ADDR_MAX 10000

struct mail_address {
	char *name;      /* display name (or comment), NULL if none */
	char *route;     /* obsolete source route "@a,@b", NULL if none */
	char *mailbox;   /* local part (quoted if it is not a dot-atom); group name; NULL at group end */
	char *domain;    /* NULL at group start and end */
	bool invalid;    /* something had to be filled in or skipped */
	struct mail_address *next;
};

/* Parse s[0..n) (an unfolded field value).  NULL when it holds no address. */
struct mail_address *mail_address_parse(const char *s, size_t n);
void mail_address_free(struct mail_address **list);

#endif
