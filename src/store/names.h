/*
 * names.h — validation and normalisation of the names the store keeps:
 * domains, addresses, aliases.
 *
 * Backend-independent (the SQLite and a later PostgreSQL backend share it).
 * Input is hostile (it comes from SMTP, IMAP logins and the command line):
 * every function checks lengths against the RFC 5321 limits before copying
 * into fixed-size buffers and never reads past the terminating NUL.
 *
 * Rules:
 *  - domain: a host name in ASCII (IDN already as A-labels), labels of
 *    1..63 characters [a-z0-9-] not starting or ending with '-', at most
 *    253 characters in total, no trailing dot.  Returned lower-case.
 *  - local part: 1..64 octets, no blanks, control characters or the
 *    RFC 5322 specials ()<>[]:;@\," ; non-ASCII must be valid UTF-8
 *    (SMTPUTF8).  Kept as given: the store compares it case-insensitively
 *    in ASCII.
 *  - address: local@domain, at most 254 octets.
 *  - alias: an address, or "@domain" (the domain's catch-all).
 *  - mailbox: see store.h (STORE_MAILBOX_NAME_MAX octets of UTF-8, '/'
 *    separated levels, none empty, no control characters, '*' or '%').
 *    A first level spelled "INBOX" in any case becomes "INBOX".
 */
#ifndef TERN_STORE_NAMES_H
#define TERN_STORE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

#define STORE_LOCAL_MAX 64
#define STORE_DOMAIN_MAX 253
#define STORE_ADDRESS_MAX 254

struct store_addr {
	char local[STORE_LOCAL_MAX + 1];    /* "" only for a catch-all alias */
	char domain[STORE_DOMAIN_MAX + 1];  /* lower-case */
};

/* Validate domain and write its lower-case form to out. */
bool store_name_domain(const char *domain, char out[STORE_DOMAIN_MAX + 1]);

/* Validate one local part of n octets. */
bool store_name_local_valid(const char *local, size_t n);

/* Split and validate "local@domain" (local part non-empty). */
bool store_name_address(const char *address, struct store_addr *out);

/* Like store_name_address, but "@domain" (empty local part) is allowed too. */
bool store_name_alias(const char *alias, struct store_addr *out);

/*
 * Length of the local part without its "+tag" (sub-addressing), or 0 when
 * it has no tag (or nothing before the '+').
 */
size_t store_name_untagged_len(const char *local);

/* Validate a mailbox name and write its normalised form (INBOX) to out. */
bool store_name_mailbox(const char *name, char out[STORE_MAILBOX_NAME_MAX + 1]);

/* Whether name (normalised) is INBOX itself. */
bool store_name_is_inbox(const char *name);

#endif
