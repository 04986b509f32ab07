/*
 * fuzz_imap_url.c — the IMAP URL parser (src/imap/imapurl.c, RFC 5092):
 * any input either parses into a URL whose parts keep the invariants the
 * CATENATE code relies on, or is refused with a reason.  Every accepted
 * URL is parsed again from the same bytes and must give the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imapurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void check(const struct imap_url *u)
{
	if (u->uid == 0)
		abort();                /* a URL always names a message */
	if (u->section && (!u->section[0] || strlen(u->section) > IMAP_URL_SECTION_MAX))
		abort();
	if (u->mailbox && !u->mailbox[0])
		abort();
	if (u->partial && u->length == 0)
		abort();
	if (!u->partial && (u->offset || u->length))
		abort();
	if (u->user && !u->host)
		abort();
	if (u->urlauth != (u->access != NULL) || (u->mech != NULL) != (u->token != NULL) || (u->expire && !u->urlauth))
		abort();
	for (const char *s = u->section; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > 2 * IMAP_URL_MAX)
		return 0;
	/* An exact-size copy, so that a read past the end is caught. */
	char *p = malloc(n ? n : 1);
	memcpy(p, d, n);
	struct imap_url u, again;
	const char *err = NULL;
	if (imap_url_parse(p, n, &u, &err)) {
		check(&u);
		if (u.rump_len > n || (u.urlauth && !u.rump_len))
			abort();
		if (!imap_url_parse(p, n, &again, &err) || again.uid != u.uid || again.uidvalidity != u.uidvalidity ||
		    again.offset != u.offset || again.length != u.length || !again.mailbox != !u.mailbox ||
		    (u.mailbox && strcmp(again.mailbox, u.mailbox) != 0))
			abort();
		imap_url_free(&again);
		imap_url_free(&u);
	} else if (!err || !err[0]) {
		abort();
	}
	free(p);
	return 0;
}
