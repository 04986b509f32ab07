/*
 * searchcmd.c — SEARCH and UID SEARCH (RFC 9051 §6.4.4), with ESEARCH
 * result options (RFC 4731: MIN MAX ALL COUNT), SEARCHRES (RFC 5182: SAVE
 * and "$") and CONDSTORE's MODSEQ in results (RFC 7162 §3.1.5).
 *
 * Evaluation itself is search.c; this walks the view's messages in UID
 * order through the index and maps a blob only for messages that reach a
 * text key.
 */
#include "imap/searchcmd.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct scan {
	struct imap_session *s;
	const struct imap_skey *search;
	imap_search_hit_fn hit;
	void *ctx;
	/* the blob of the message being evaluated, mapped on demand */
	const struct store_message_data *m;
	void *map;
	size_t maplen;
	int fd;
	bool tried;
};

static const char *message_text(void *arg, size_t *len)
{
	struct scan *r = arg;
	if (!r->tried) {
		r->tried = true;
		const char *p = imap_message_map(r->s, r->m, &r->fd, &r->maplen);
		r->map = p && r->maplen ? (void *)p : NULL;
	}
	*len = r->maplen;
	return r->map;
}

static int scan_one(void *ctx, const struct store_message_data *m)
{
	struct scan *r = ctx;
	uint32_t seq = imap_view_seq(r->s->view, m->uid);
	if (!seq)
		return 0;
	struct imap_search_msg msg = { seq, m, message_text, r, imap_is_recent(r->s, m->uid) };
	r->m = m;
	r->tried = false;
	r->map = NULL;
	r->maplen = 0;
	r->fd = -1;
	bool hit = imap_search_match(r->search, &msg);
	if (r->map)
		munmap(r->map, r->maplen);
	if (r->fd >= 0)
		close(r->fd);
	return hit ? r->hit(r->ctx, m, seq) : 0;
}

enum store_status imap_search_scan_range(struct imap_session *s, const struct imap_skey *search, uint32_t uid_lo,
					 uint32_t uid_hi, imap_search_hit_fn hit, void *ctx)
{
	struct scan r = { .s = s, .search = search, .hit = hit, .ctx = ctx, .fd = -1 };
	return store_message_range(imap_store(s), s->view->mailbox_id, uid_lo, uid_hi, 0, scan_one, &r);
}

enum store_status imap_search_scan(struct imap_session *s, struct imap_cmd *cmd, imap_search_hit_fn hit,
				   void *ctx)
{
	struct imap_view *v = s->view;
	imap_search_prepare(cmd->search, (uint32_t)v->n, v->n ? v->uids[v->n - 1] : 0, &v->saved);
	if (!v->n)
		return STORE_OK;
	return imap_search_scan_range(s, cmd->search, v->uids[0], v->uids[v->n - 1], hit, ctx);
}

void imap_condstore_enable(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->view)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->view->modseq);
}

bool imap_search_uses_modseq(const struct imap_skey *k)
{
	for (; k; k = k->next)
		if (k->type == SK_MODSEQ || imap_search_uses_modseq(k->child))
			return true;
	return false;
}

void imap_put_ordered_set(struct buf *b, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j] != UINT32_MAX && v[j + 1] == v[j] + 1)
			j++;
		if (i)
			buf_putc(b, ',');
		if (j > i)
			buf_printf(b, "%u:%u", v[i], v[j]);
		else
			buf_printf(b, "%u", v[i]);
		i = j + 1;
	}
}

/*
 * PARTIAL lo:hi (RFC 9394): 1-based positions in the result list,
 * negative ones counted from its end (-1 the last).  *from and *count
 * select the window; count 0 when nothing is in it.
 */
static void partial_window(const struct imap_cmd *cmd, size_t n, size_t *from, size_t *count)
{
	int64_t lo = cmd->partial_lo, hi = cmd->partial_hi;
	if (lo < 0) {
		lo = (int64_t)n + lo + 1;
		hi = (int64_t)n + hi + 1;
		if (lo < 1)
			lo = 1;
	}
	if (hi > (int64_t)n)
		hi = (int64_t)n;
	*from = lo >= 1 ? (size_t)(lo - 1) : 0;
	*count = hi >= lo && lo >= 1 ? (size_t)(hi - lo + 1) : 0;
}

void imap_esearch_reply(struct buf *b, const struct imap_cmd *cmd, const uint32_t *nums, const uint64_t *modseqs,
			size_t n, bool modseq)
{
	unsigned shown = cmd->search_ret & ~(IMAP_RET_SAVE | IMAP_RET_UPDATE | IMAP_RET_CONTEXT);
	if (!shown && (cmd->search_ret & IMAP_RET_SAVE) && !(cmd->search_ret & IMAP_RET_UPDATE))
		return;     /* SAVE alone: no result wanted now (RFC 5182 §2.1) */
	if (!shown)
		shown = IMAP_RET_ALL;
	buf_puts(b, "* ESEARCH (TAG ");
	imap_put_string(b, cmd->tag, strlen(cmd->tag));
	buf_putc(b, ')');
	if (cmd->uid)
		buf_puts(b, " UID");
	if ((shown & IMAP_RET_MIN) && n)
		buf_printf(b, " MIN %u", nums[0]);
	if ((shown & IMAP_RET_MAX) && n)
		buf_printf(b, " MAX %u", nums[n - 1]);
	if ((shown & IMAP_RET_ALL) && n) {
		buf_puts(b, " ALL ");
		imap_put_ordered_set(b, nums, n);
	}
	if (shown & IMAP_RET_COUNT)
		buf_printf(b, " COUNT %zu", n);
	if (shown & IMAP_RET_PARTIAL) {
		size_t from, count;
		partial_window(cmd, n, &from, &count);
		buf_printf(b, " PARTIAL (%d:%d ", (int)cmd->partial_lo, (int)cmd->partial_hi);
		if (count)
			imap_put_ordered_set(b, nums + from, count);
		else
			buf_puts(b, "NIL");
		buf_putc(b, ')');
	}
	if (modseq && n) {
		/*
		 * RFC 7162 §3.1.5 with RFC 4731: the highest modseq of the
		 * messages returned — only MIN's and MAX's when nothing else is.
		 */
		uint64_t hi = 0;
		if (!(shown & ~(IMAP_RET_MIN | IMAP_RET_MAX))) {
			if (shown & IMAP_RET_MIN)
				hi = modseqs[0];
			if ((shown & IMAP_RET_MAX) && modseqs[n - 1] > hi)
				hi = modseqs[n - 1];
		} else {
			for (size_t i = 0; i < n; i++)
				if (modseqs[i] > hi)
					hi = modseqs[i];
		}
		buf_printf(b, " MODSEQ %llu", (unsigned long long)hi);
	}
	buf_puts(b, "\r\n");
}

void imap_search_reply(struct imap_session *s, const struct imap_cmd *cmd, const char *name, const uint32_t *nums,
		       const uint64_t *modseqs, size_t n, bool modseq)
{
	struct buf b = BUF_INIT;
	if (cmd->esearch) {
		imap_esearch_reply(&b, cmd, nums, modseqs, n, modseq);
	} else {
		uint64_t hi = 0;
		buf_printf(&b, "* %s", name);
		for (size_t i = 0; i < n; i++) {
			buf_printf(&b, " %u", nums[i]);
			if (modseqs[i] > hi)
				hi = modseqs[i];
			if (b.len > 65536) {
				imap_write(s, b.data, b.len);
				buf_reset(&b);
			}
		}
		/* RFC 7162 §3.1.5: the highest modseq of the messages found */
		if (modseq && n)
			buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)hi);
		buf_puts(&b, "\r\n");
	}
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

/* ---- SEARCH ---------------------------------------------------------------- */

struct search_hits {
	uint32_t *uids;
	uint64_t *modseqs;
	size_t n, cap;
};

static int search_hit(void *ctx, const struct store_message_data *m, uint32_t seq)
{
	struct search_hits *h = ctx;
	(void)seq;
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->uids = xrealloc(h->uids, h->cap * sizeof *h->uids);
		h->modseqs = xrealloc(h->modseqs, h->cap * sizeof *h->modseqs);
	}
	h->uids[h->n] = m->uid;
	h->modseqs[h->n++] = m->modseq;
	return 0;
}

/* SEARCHRES SAVE: the UIDs found; with only MIN and/or MAX just those (RFC 5182 §2.4). */
void imap_search_save(struct imap_view *v, unsigned ret, const uint32_t *uids, size_t n)
{
	imap_seqset_free(&v->saved);
	if (n && (ret & (IMAP_RET_MIN | IMAP_RET_MAX)) && !(ret & (IMAP_RET_ALL | IMAP_RET_COUNT))) {
		uint32_t keep[2];
		size_t nkeep = 0;
		if (ret & IMAP_RET_MIN)
			keep[nkeep++] = uids[0];
		if ((ret & IMAP_RET_MAX) && (nkeep == 0 || uids[n - 1] != keep[0]))
			keep[nkeep++] = uids[n - 1];
		imap_seqset_from_sorted(&v->saved, keep, nkeep);
	} else {
		imap_seqset_from_sorted(&v->saved, uids, n);
	}
}

void imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_view *v = s->view;
	bool modseq = imap_search_uses_modseq(cmd->search);
	if (modseq)
		imap_condstore_enable(s);
	struct search_hits h = { 0 };
	uint64_t seen_modseq = v->modseq;
	enum store_status st = imap_search_scan(s, cmd, search_hit, &h);
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, "SEARCH");
		free(h.uids);
		free(h.modseqs);
		return;
	}
	/* Results as the client numbers them: UID order is sequence order. */
	uint32_t *nums = h.n ? xmalloc(h.n * sizeof *nums) : NULL;
	for (size_t i = 0; i < h.n; i++)
		nums[i] = cmd->uid ? h.uids[i] : imap_view_seq(v, h.uids[i]);

	if (cmd->search_ret & IMAP_RET_SAVE)
		imap_search_save(v, cmd->search_ret, h.uids, h.n);
	imap_search_reply(s, cmd, "SEARCH", nums, h.modseqs, h.n, modseq);
	if (cmd->search_ret & IMAP_RET_UPDATE)
		imap_search_ctx_add(s, cmd, h.uids, h.n, seen_modseq);
	free(nums);
	free(h.uids);
	free(h.modseqs);
	imap_ok(s, cmd, "%s completed", cmd->uid ? "UID SEARCH" : "SEARCH");
}
