/*
 * fuzz_mime.c — libFuzzer target for the whole message parser:
 * mail_meta_parse() on the input, then part map lookups of a few sections,
 * checking that every offset returned lies inside the input; and the
 * BINARY conversion of the input as one entity (mail/binary.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "mail/binary.h"
#include "lib/xalloc.h"
#include "mail/meta.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char *const sections[] = { "", "1", "2", "1.1", "1.2", "2.1", "1.1.1", "3.2.1" };
	log_set_level(LOG_ERROR);
	/* exactly n bytes, so ASan sees any read past the end */
	char *msg = xmalloc(n ? n : 1);
	memcpy(msg, d, n);
	struct mail_meta m;
	mail_meta_parse(msg, n, &m);
	if (m.header_size > n)
		abort();
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		struct mail_part_loc l;
		if (!mail_parts_find(m.parts, sections[i], &l))
			continue;
		if (l.mime_start > l.mime_end || l.body_start > l.body_end || l.body_end > n ||
		    l.text_start < l.body_start || l.text_start > l.body_end)
			abort();
	}
	/* the lookup itself on hostile text */
	struct mail_part_loc l;
	char *sec = xmemdup0(d, n < 64 ? n : 64);
	mail_parts_find(m.parts, sec, &l);
	free(sec);
	mail_meta_free(&m);
	struct buf conv = BUF_INIT;
	size_t body = 0;
	if (mail_binary_entity(msg, n, &conv, &body) && body > conv.len)
		abort();
	buf_free(&conv);
	free(msg);
	return 0;
}
