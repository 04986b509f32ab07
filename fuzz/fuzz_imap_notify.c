/*
 * fuzz_imap_notify.c — the NOTIFY parser (src/imap/parse_notify.c, with
 * the fetch-atts of parse_fetch.c).
 *
 * The input is what follows "a NOTIFY " on the command line; a literal
 * header "{n}" at the end of an input line takes the next n octets as its
 * data, out of band, as the session would pass them.  Checks: the same
 * answer twice; a reason on every refusal, NO only with [BADEVENT ...] or
 * [LIMIT]; an accepted command within the limits (groups, names), with at
 * most one selected group, fetch-atts only when there is one, events only
 * of the supported kinds, and mailbox events never for the selected one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LITS 8

static void check(const struct imap_cmd *c)
{
	if (c->type != IMAP_CMD_NOTIFY)
		abort();
	if (c->notify_none) {
		if (c->notify_ngroups || c->natts)
			abort();
		return;
	}
	if (c->notify_ngroups == 0 || c->notify_ngroups > IMAP_NOTIFY_MAX_GROUPS)
		abort();
	size_t names = 0, selected = 0;
	for (size_t i = 0; i < c->notify_ngroups; i++) {
		const struct imap_notify_group *g = &c->notify_groups[i];
		if (g->events & ~(unsigned)(IMAP_NEV_MESSAGE | IMAP_NEV_MAILBOXNAME | IMAP_NEV_SUBSCRIPTIONCHANGE))
			abort();
		bool sel = g->filter == IMAP_NF_SELECTED || g->filter == IMAP_NF_SELECTED_DELAYED;
		if (sel) {
			selected++;
			if (g->events & ~(unsigned)IMAP_NEV_MESSAGE)
				abort();
		}
		if ((g->filter == IMAP_NF_SUBTREE || g->filter == IMAP_NF_MAILBOXES) != (g->nmailboxes > 0))
			abort();
		for (size_t j = 0; j < g->nmailboxes; j++)
			if (!g->mailboxes[j].p || strlen(g->mailboxes[j].p) > g->mailboxes[j].n)
				abort();
		names += g->nmailboxes;
	}
	if (selected > 1 || names > IMAP_NOTIFY_MAX_NAMES || (c->natts && !selected))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	struct buf text = BUF_INIT;
	struct imap_literal lits[MAX_LITS];
	size_t nlits = 0;
	buf_puts(&text, "a NOTIFY ");
	size_t i = 0;
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) : size;
		buf_append(&text, data + i, end - i);
		buf_puts(&text, "\r\n");
		i = nl ? end + 1 : size;
		/* "{n}" at the line's end: the next n octets are its data */
		if (text.len >= 5 && text.data[text.len - 3] == '}' && nlits < MAX_LITS) {
			size_t open = text.len - 3;
			while (open > 0 && text.data[open - 1] >= '0' && text.data[open - 1] <= '9')
				open--;
			if (open > 0 && text.data[open - 1] == '{' && open < text.len - 3 && text.len - 3 - open <= 5) {
				size_t n = (size_t)strtoul(text.data + open, NULL, 10);
				if (n > size - i)
					n = size - i;
				memset(&lits[nlits], 0, sizeof lits[nlits]);
				lits[nlits].data = (const char *)data + i;
				lits[nlits].len = n;
				lits[nlits].fd = -1;
				nlits++;
				i += n;
			}
		}
	}
	struct imap_cmd c, again;
	const char *err, *err2;
	enum imap_parse_result r = imap_parse(text.data, text.len, lits, nlits, size & 1, &c, &err);
	enum imap_parse_result r2 = imap_parse(text.data, text.len, lits, nlits, size & 1, &again, &err2);
	if (r != r2)
		abort();
	if (r == IMAP_PARSE_OK) {
		check(&c);
		if (c.notify_ngroups != again.notify_ngroups || c.natts != again.natts)
			abort();
	} else {
		if (!err || !*err || strcmp(err, err2) != 0)
			abort();
		if (r == IMAP_PARSE_NO && strncmp(err, "[BADEVENT (", 11) != 0 && strncmp(err, "[LIMIT]", 7) != 0)
			abort();
		if (r == IMAP_PARSE_BADCHARSET)
			abort();
	}
	imap_cmd_free(&c);
	imap_cmd_free(&again);
	buf_free(&text);
	return 0;
}
