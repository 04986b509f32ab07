/*
 * fuzz_imap_listmatch.c — the LIST pattern matcher and LIST/LSUB selection
 * (src/imap/listmatch.c) against plain, obviously right reference
 * versions: a quadratic dynamic-programming matcher, and a quadratic
 * all-pairs evaluation of the RFC 5258 selection rules.  Any difference
 * aborts.
 *
 * Input: byte 0 = selection options (low 3 bits) and which names are
 * subscribed / special-use (seeded from byte 1); then the text, split at
 * '\n': the first line is the pattern (several, split at '\t'), the other
 * lines are mailbox names.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/listmatch.h"
#include "../tests/unit/listmatch_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static bool is_desc(const char *anc, const char *name)
{
	size_t n = strlen(anc);
	return strncmp(anc, name, n) == 0 && name[n] == '/';
}

#define MAX_NAMES 64
#define MAX_PATS 8

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 2 || n > 4096)
		return 0;
	unsigned sel = d[0] & 7;
	unsigned seed = d[1] | (unsigned)d[0] << 8;
	char *text = malloc(n - 1);
	memcpy(text, d + 2, n - 2);
	text[n - 2] = '\0';
	size_t tn = n - 2;

	/* patterns: the first line, split at tabs */
	char *nl = memchr(text, '\n', tn);
	size_t plen = nl ? (size_t)(nl - text) : tn;
	const char *pstart[MAX_PATS];
	size_t plens[MAX_PATS], npats = 0;
	for (size_t i = 0, start = 0; i <= plen && npats < MAX_PATS; i++) {
		if (i == plen || text[i] == '\t') {
			pstart[npats] = text + start;
			plens[npats++] = i - start;
			start = i + 1;
		}
	}
	struct imap_listmatch *pats[MAX_PATS];
	for (size_t k = 0; k < npats; k++)
		pats[k] = imap_listmatch_new(pstart[k], plens[k]);

	/* names: the other lines (NUL-terminated in place; the matcher also sees embedded NULs below) */
	struct imap_list_entry e[MAX_NAMES];
	bool matched[MAX_NAMES];
	size_t ne = 0;
	char *p = nl ? nl + 1 : NULL;
	while (p && ne < MAX_NAMES) {
		char *end = strchr(p, '\n');
		if (end)
			*end = '\0';
		size_t len = strlen(p);
		bool dup = false;   /* the store's names are unique */
		for (size_t i = 0; i < ne && !dup; i++)
			dup = strcmp(e[i].name, p) == 0;
		if (len <= IMAP_LISTMATCH_LITERALS_MAX && !dup) {
			bool any = false;
			for (size_t k = 0; k < npats; k++) {
				bool got = imap_listmatch(pats[k], p, len);
				bool want = ref_match(pstart[k], plens[k], p, len);
				if (got != want) {
					fprintf(stderr, "mismatch: pattern %.*s name %s\n", (int)plens[k], pstart[k], p);
					abort();
				}
				any |= got;
			}
			memset(&e[ne], 0, sizeof e[ne]);
			e[ne].name = p;
			e[ne].subscribed = (seed >> (ne % 16)) & 1;
			e[ne].special_use = (seed >> ((ne + 5) % 16)) & 1;
			e[ne].data = &matched[ne];
			matched[ne] = any;
			ne++;
		}
		p = end ? end + 1 : NULL;
	}

	imap_list_select(e, ne, pats, npats, sel);

	/* the same rules, evaluated pair by pair */
	bool criteria = sel & (IMAP_LISTSEL_SUBSCRIBED | IMAP_LISTSEL_SPECIAL_USE);
	bool recursive = criteria && (sel & IMAP_LISTSEL_RECURSIVE);
	for (size_t i = 0; i < ne; i++) {
		bool m = *(bool *)e[i].data;
		bool meets = (!(sel & IMAP_LISTSEL_SUBSCRIBED) || e[i].subscribed) &&
			     (!(sel & IMAP_LISTSEL_SPECIAL_USE) || e[i].special_use);
		bool desc_sel = false, desc_hidden = false;
		for (size_t j = 0; j < ne; j++) {
			if (!is_desc(e[i].name, e[j].name))
				continue;
			bool jm = (!(sel & IMAP_LISTSEL_SUBSCRIBED) || e[j].subscribed) &&
				  (!(sel & IMAP_LISTSEL_SPECIAL_USE) || e[j].special_use);
			desc_sel |= jm;
			desc_hidden |= jm && !*(bool *)e[j].data;
		}
		bool show = m && (meets || (recursive && desc_hidden));
		bool childinfo = show && recursive && (meets ? desc_sel : true);
		if (e[i].show != show || e[i].childinfo != childinfo || (show && e[i].selected != meets)) {
			fprintf(stderr, "selection differs for %s\n", e[i].name);
			abort();
		}
		/* listing order: a name's descendants follow it without a gap */
		size_t j = i + 1;
		while (j < ne && is_desc(e[i].name, e[j].name))
			j++;
		for (; j < ne; j++)
			if (is_desc(e[i].name, e[j].name))
				abort();
	}
	for (size_t k = 0; k < npats; k++)
		imap_listmatch_free(&pats[k]);
	free(text);
	return 0;
}
