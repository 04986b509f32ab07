/*
 * fuzz_imap_section.c — libFuzzer target for FETCH body items
 * (imap_section_get) and, on the same message, the text keys of SEARCH
 * (imap_search_match: MIME parse, transfer and charset decoding, case
 * folding).
 *
 * Input: 12 control bytes, then the message.
 *   d[0]  bits 0-2 item (BODY[] BINARY BINARY.SIZE RFC822 RFC822.HEADER
 *         RFC822.TEXT), bits 3-5 section spec, bit 6 partial, bit 7: the
 *         part map is taken from the input (d[11] octets after the control
 *         bytes) instead of being built by mail_meta_parse, to feed
 *         section.c damaged maps
 *   d[1]  number of part numbers (mod 5); d[2..5] the numbers (mod 7, so 0 occurs)
 *   d[6..9] partial offset and length (16 bits each)
 *   d[10] bits 0-3 which HEADER.FIELDS names, bits 4-7 the search needle
 * Checks: ranges lie inside the message; built data is bounded by it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"
#include "imap/search.h"
#include "imap/section.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mail/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* The unreadable blob. */
static const char *no_text(void *arg, size_t *len)
{
	(void)arg;
	*len = 0;
	return NULL;
}

struct fuzz_msg {
	const char *p;
	size_t len;
};

static const char *msg_text(void *arg, size_t *len)
{
	const struct fuzz_msg *f = arg;
	*len = f->len;
	return f->p;
}

static void search_text(const char *msg, size_t len, unsigned sel, const struct mail_meta *meta)
{
	static const char *const needles[] = { "a", "\xc3\xa9", "ss", "", "\xc3\x9f", "--", "=", "\xe2\x82\xac",
					       "subject", "\xef\xbf\xbd", "x", "1", "\r\n", "b", "\xc4\xb0", "A" };
	static const enum imap_skey_type types[] = { SK_BODY, SK_TEXT, SK_SUBJECT, SK_FROM, SK_HEADER };
	struct imap_skey keys[5], root;
	memset(keys, 0, sizeof keys);
	memset(&root, 0, sizeof root);
	for (size_t i = 0; i < 5; i++) {
		keys[i].type = types[i];
		keys[i].str = (char *)needles[(sel + i) % 16];
		keys[i].field = (char *)"content-type";
	}
	struct store_message_data m = { .uid = 1, .size = len, .keywords = "", .parts = meta->parts };
	struct fuzz_msg fm = { msg, len };
	struct imap_search_msg sm = { .seq = 1, .m = &m, .text = msg_text, .arg = &fm };
	/* each key on its own (no prepare: needles folded per call), then all in one AND with prepare */
	for (size_t i = 0; i < 5; i++)
		(void)imap_search_match(&keys[i], &sm);
	root.type = SK_AND;
	root.child = &keys[0];
	for (size_t i = 0; i < 4; i++)
		keys[i].next = &keys[i + 1];
	imap_search_prepare(&root, 1, 1, NULL);
	(void)imap_search_match(&root, &sm);
	(void)imap_search_needs_text(&root);
	struct imap_search_msg none = { .seq = 1, .m = &m, .text = no_text, .arg = NULL };
	(void)imap_search_match(&root, &none);
	for (size_t i = 0; i < 5; i++)
		XFREE(&keys[i].cache);
	XFREE(&root.cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const enum imap_fetch_type items[] = { FA_BODY_SECTION, FA_BINARY_SECTION, FA_BINARY_SIZE,
						      FA_RFC822, FA_RFC822_HEADER, FA_RFC822_TEXT,
						      FA_BODY_SECTION, FA_BODY_SECTION };
	static const char *const names[] = { "Subject", "TO", "content-type", "X" };
	log_set_level(LOG_ERROR);
	if (n < 12)
		return 0;
	struct imap_fetch_att att;
	struct imap_str fields[4];
	memset(&att, 0, sizeof att);
	att.type = items[d[0] & 7];
	att.spec = (enum imap_section_spec)(((d[0] >> 3) & 7) % 6);
	att.partial = (d[0] & 0x40) != 0;
	att.nparts = d[1] % 5;
	for (size_t i = 0; i < att.nparts; i++)
		att.part[i] = d[2 + i] % 7;
	att.offset = (uint64_t)d[6] << 8 | d[7];
	att.length = (uint64_t)d[8] << 8 | d[9];
	for (size_t i = 0; i < 4; i++) {
		if (!(d[10] & (1u << i)))
			continue;
		fields[att.nfields].p = (char *)names[i];
		fields[att.nfields].n = strlen(names[i]);
		fields[att.nfields].nil = false;
		att.nfields++;
	}
	att.fields = fields;

	const uint8_t *rest = d + 12;
	size_t restn = n - 12;
	char *fmap = NULL;
	if (d[0] & 0x80) {
		size_t ml = d[11] < restn ? d[11] : restn;
		fmap = xmemdup0(rest, ml);
		rest += ml;
		restn -= ml;
	}
	/* exactly restn bytes, so ASan sees any read past the end */
	char *msg = xmalloc(restn ? restn : 1);
	memcpy(msg, rest, restn);
	struct mail_meta meta;
	mail_meta_parse(msg, restn, &meta);

	struct imap_section s;
	imap_section_get(&att, fmap ? fmap : meta.parts, restn, msg, restn, &s);
	switch (s.kind) {
	case IMAP_SECTION_RANGE:
		if (s.offset > restn || s.length > restn - s.offset)
			abort();
		break;
	case IMAP_SECTION_BUILT:
		/* HEADER.FIELDS may add a CR per line break and the final CRLF */
		if (s.data.len > 2 * restn + 2 || s.size > restn)
			abort();
		break;
	default:
		break;
	}
	imap_section_free(&s);

	/* the same without the blob (unreadable): must not crash either */
	imap_section_get(&att, fmap ? fmap : meta.parts, restn, NULL, 0, &s);
	if (s.kind == IMAP_SECTION_RANGE && (s.offset > restn || s.length > restn - s.offset))
		abort();
	imap_section_free(&s);

	search_text(msg, restn, d[10] >> 4, &meta);

	mail_meta_free(&meta);
	free(fmap);
	free(msg);
	return 0;
}
