/*
 * fuzz_mail_address.c — libFuzzer target for the RFC 5322 address-list
 * parser and its ENVELOPE output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mail/address.h"
#include "mail/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = xmalloc(n ? n : 1);
	memcpy(s, d, n);
	struct mail_address *a = mail_address_parse(s, n);
	struct buf b = BUF_INIT;
	mail_envelope_write_addresses(&b, a);
	for (struct mail_address *x = a; x; x = x->next)
		if (x->domain && !x->mailbox)
			abort();        /* a domain without a mailbox is never produced */
	buf_free(&b);
	mail_address_free(&a);
	free(s);
	return 0;
}
