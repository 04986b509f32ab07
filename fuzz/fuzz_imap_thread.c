/*
 * fuzz_imap_thread.c — libFuzzer target for THREAD's hostile-input
 * parts: the message-id parser (src/imap/thread_msgid.c), base subject
 * extraction (sort_subject.c) and both threading algorithms (thread.c).
 *
 * The input is a mailbox, one message per line: "Message-ID field TAB
 * References field TAB Subject TAB date".  Checked: every id is
 * non-empty, bounded and free of '<', '>', spaces and controls; the
 * output of each algorithm names every message exactly once and its
 * parentheses balance.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/sort.h"
#include "imap/thread.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define FUZZ_MAX_MSGS 200

static void check_id(const struct buf *id)
{
	if (id->len == 0 || id->len > IMAP_MSGID_MAX)
		abort();
	for (size_t i = 0; i < id->len; i++) {
		unsigned char c = (unsigned char)id->data[i];
		if (c == '<' || c == '>' || c <= ' ' || c == 0x7f)
			abort();
	}
}

/* Every number 1..n exactly once, parentheses balanced and never empty at the top. */
static void check_output(const struct buf *b, size_t n)
{
	unsigned char seen[FUZZ_MAX_MSGS + 1] = { 0 };
	long depth = 0;
	size_t count = 0;
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth < 0)
				abort();
		} else if (c >= '0' && c <= '9') {
			unsigned long v = 0;
			while (i < b->len && b->data[i] >= '0' && b->data[i] <= '9')
				v = v * 10 + (unsigned long)(b->data[i++] - '0');
			i--;
			if (v == 0 || v > n || seen[v]++)
				abort();
			count++;
		} else if (c != ' ') {
			abort();
		}
	}
	if (depth != 0 || count != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *s = (const char *)d;
	struct imap_thread_msg msgs[FUZZ_MAX_MSGS];
	struct buf arena = BUF_INIT, id = BUF_INIT;
	size_t nmsgs = 0;
	/* offsets first: the arena moves while it grows */
	struct { size_t id_off, id_len, refs_off, nrefs, subj_off, subj_len; int64_t date; bool reply; } raw[FUZZ_MAX_MSGS];
	size_t *ref_off = xmalloc(sizeof *ref_off * FUZZ_MAX_MSGS * 8), nref = 0;
	size_t *ref_len = xmalloc(sizeof *ref_len * FUZZ_MAX_MSGS * 8);
	for (size_t pos = 0; pos < n && nmsgs < FUZZ_MAX_MSGS;) {
		const char *line = s + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;
		pos += len + 1;
		const char *f[4] = { line, "", "", "" };
		size_t fl[4] = { len, 0, 0, 0 };
		for (int k = 0; k < 3; k++) {
			const char *tab = memchr(f[k], '\t', fl[k]);
			if (!tab)
				break;
			f[k + 1] = tab + 1;
			fl[k + 1] = fl[k] - (size_t)(tab + 1 - f[k]);
			fl[k] = (size_t)(tab - f[k]);
		}
		memset(&raw[nmsgs], 0, sizeof raw[nmsgs]);
		size_t p = 0;
		if (imap_msgid_next(f[0], fl[0], &p, &id)) {
			check_id(&id);
			raw[nmsgs].id_off = arena.len;
			raw[nmsgs].id_len = id.len;
			buf_append(&arena, id.data, id.len);
		}
		raw[nmsgs].refs_off = nref;
		p = 0;
		while (imap_msgid_next(f[1], fl[1], &p, &id)) {
			check_id(&id);
			if (raw[nmsgs].nrefs == 8)
				continue;
			ref_off[nref] = arena.len;
			ref_len[nref++] = id.len;
			raw[nmsgs].nrefs++;
			buf_append(&arena, id.data, id.len);
		}
		raw[nmsgs].subj_off = arena.len;
		imap_sort_base_subject(&arena, f[2], fl[2], &raw[nmsgs].reply);
		raw[nmsgs].subj_len = arena.len - raw[nmsgs].subj_off;
		raw[nmsgs].date = fl[3] ? (unsigned char)f[3][0] % 4 : 0;
		nmsgs++;
	}
	struct imap_thread_ref *refs = xmalloc(sizeof *refs * (nref ? nref : 1));
	const char *base = arena.data ? arena.data : "";
	for (size_t i = 0; i < nref; i++)
		refs[i] = (struct imap_thread_ref){ base + ref_off[i], ref_len[i] };
	for (size_t i = 0; i < nmsgs; i++)
		msgs[i] = (struct imap_thread_msg){
			.num = (uint32_t)i + 1, .date = raw[i].date, .subject = base + raw[i].subj_off,
			.subject_len = raw[i].subj_len, .reply = raw[i].reply,
			.msgid = raw[i].id_len ? base + raw[i].id_off : NULL, .msgid_len = raw[i].id_len,
			.refs = refs + raw[i].refs_off, .nrefs = raw[i].nrefs,
		};
	struct buf out = BUF_INIT;
	imap_thread_references(&out, msgs, nmsgs);
	check_output(&out, nmsgs);
	buf_reset(&out);
	imap_thread_orderedsubject(&out, msgs, nmsgs);
	check_output(&out, nmsgs);
	buf_free(&out);
	free(refs);
	free(ref_off);
	free(ref_len);
	buf_free(&arena);
	buf_free(&id);
	return 0;
}
