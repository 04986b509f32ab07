/*
 * searchcmd.c — SEARCH and UID SEARCH (RFC 9051 §6.4.4), with ESEARCH
 * result options (RFC 4731: MIN MAX ALL COUNT), SEARCHRES (RFC 5182: SAVE
 * and "$") and CONDSTORE's MODSEQ in results (RFC 7162 §3.1.5).
 *
 * Evaluation itself is search.c; this walks the view's messages in UID
 * order through the index and maps a blob only for messages that reach a
 * text key.
 */
#include "imap/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct search_run {
	struct imap_session *s;
	struct imap_cmd *cmd;
	bool needs_text;
	uint32_t *hits;         /* UIDs */
	size_t nhits, cap;
	uint64_t max_modseq;
	/* the blob of the message being evaluated, mapped on demand */
	const struct store_message_data *m;
	void *map;
	size_t maplen;
	int fd;
	bool tried;
};

static const char *message_text(void *arg, size_t *len)
{
	struct search_run *r = arg;
	if (!r->tried) {
		r->tried = true;
		const char *p = imap_message_map(r->s, r->m, &r->fd, &r->maplen);
		r->map = p && r->maplen ? (void *)p : NULL;
	}
	*len = r->maplen;
	return r->map;
}

static int search_one(void *ctx, const struct store_message_data *m)
{
	struct search_run *r = ctx;
	uint32_t seq = imap_view_seq(r->s->view, m->uid);
	if (!seq)
		return 0;
	struct imap_search_msg msg = { seq, m, message_text, r, imap_is_recent(r->s, m->uid) };
	r->m = m;
	r->tried = false;
	r->map = NULL;
	r->maplen = 0;
	r->fd = -1;
	bool hit = imap_search_match(r->cmd->search, &msg);
	if (r->map)
		munmap(r->map, r->maplen);
	if (r->fd >= 0)
		close(r->fd);
	if (!hit)
		return 0;
	if (r->nhits == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->hits = xrealloc(r->hits, r->cap * sizeof *r->hits);
	}
	r->hits[r->nhits++] = m->uid;
	if (m->modseq > r->max_modseq)
		r->max_modseq = m->modseq;
	return 0;
}

static bool uses_modseq(const struct imap_skey *k)
{
	for (; k; k = k->next)
		if (k->type == SK_MODSEQ || uses_modseq(k->child))
			return true;
	return false;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_view *v = s->view;
	bool modseq = uses_modseq(cmd->search);
	if (modseq)
		s->condstore = true;
	imap_search_prepare(cmd->search, (uint32_t)v->n, v->n ? v->uids[v->n - 1] : 0, &v->saved);
	struct search_run r = { .s = s, .cmd = cmd, .fd = -1 };
	if (v->n) {
		enum store_status st = store_message_range(imap_store(s), v->mailbox_id, v->uids[0], v->uids[v->n - 1],
							   0, search_one, &r);
		if (st != STORE_OK) {
			imap_store_error(s, cmd->tag, st, "SEARCH");
			free(r.hits);
			return;
		}
	}
	/* Results as the client numbers them. */
	uint32_t *nums = r.nhits ? xmalloc(r.nhits * sizeof *nums) : NULL;
	for (size_t i = 0; i < r.nhits; i++)
		nums[i] = cmd->uid ? r.hits[i] : imap_view_seq(v, r.hits[i]);
	if (r.nhits > 1)
		qsort(nums, r.nhits, sizeof *nums, cmp_u32);

	unsigned ret = cmd->search_ret;
	if (ret & IMAP_RET_SAVE) {
		/* SAVE with only MIN and/or MAX keeps just those (RFC 5182 §2.4). */
		imap_seqset_free(&v->saved);
		uint32_t keep[2];
		size_t nkeep = 0;
		if (r.nhits && (ret & (IMAP_RET_MIN | IMAP_RET_MAX)) && !(ret & (IMAP_RET_ALL | IMAP_RET_COUNT))) {
			uint32_t *u = r.hits;
			if (ret & IMAP_RET_MIN)
				keep[nkeep++] = u[0];
			if ((ret & IMAP_RET_MAX) && (nkeep == 0 || u[r.nhits - 1] != keep[0]))
				keep[nkeep++] = u[r.nhits - 1];
			imap_seqset_from_sorted(&v->saved, keep, nkeep);
		} else {
			imap_seqset_from_sorted(&v->saved, r.hits, r.nhits);
		}
	}
	struct buf b = BUF_INIT;
	if (cmd->esearch) {
		unsigned shown = ret & ~IMAP_RET_SAVE;
		if (shown || !(ret & IMAP_RET_SAVE)) {
			if (!shown)
				shown = IMAP_RET_ALL;
			buf_puts(&b, "* ESEARCH (TAG ");
			imap_put_string(&b, cmd->tag, strlen(cmd->tag));
			buf_putc(&b, ')');
			if (cmd->uid)
				buf_puts(&b, " UID");
			if ((shown & IMAP_RET_MIN) && r.nhits)
				buf_printf(&b, " MIN %u", nums[0]);
			if ((shown & IMAP_RET_MAX) && r.nhits)
				buf_printf(&b, " MAX %u", nums[r.nhits - 1]);
			if ((shown & IMAP_RET_ALL) && r.nhits) {
				struct imap_seqset set = { 0 };
				imap_seqset_from_sorted(&set, nums, r.nhits);
				buf_puts(&b, " ALL ");
				imap_seqset_format(&set, &b);
				imap_seqset_free(&set);
			}
			if (shown & IMAP_RET_COUNT)
				buf_printf(&b, " COUNT %zu", r.nhits);
			if (modseq && r.nhits)
				buf_printf(&b, " MODSEQ %llu", (unsigned long long)r.max_modseq);
			buf_puts(&b, "\r\n");
		}
	} else {
		buf_puts(&b, "* SEARCH");
		for (size_t i = 0; i < r.nhits; i++) {
			buf_printf(&b, " %u", nums[i]);
			if (b.len > 65536) {
				imap_write(s, b.data, b.len);
				buf_reset(&b);
			}
		}
		if (modseq && r.nhits)
			buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)r.max_modseq);
		buf_puts(&b, "\r\n");
	}
	imap_write(s, b.data, b.len);
	buf_free(&b);
	free(nums);
	free(r.hits);
	imap_ok(s, cmd, "%s completed", cmd->uid ? "UID SEARCH" : "SEARCH");
}
