/*
 * searchctx.c — RETURN (UPDATE) search contexts (RFC 5267 §4,
 * CONTEXT=SEARCH) and CANCELUPDATE.
 *
 * A context keeps a SEARCH's key tree and its result as UIDs.  After
 * each command has announced the mailbox's changes (imap_ok, session.c),
 * imap_search_ctx_update() asks the store what changed since the
 * context last looked (store_mailbox_changes, from its modseq), evaluates
 * only those messages, and reports the differences:
 *
 *   * ESEARCH (TAG "t") [UID] ADDTO (0 set)
 *   * ESEARCH (TAG "t") [UID] REMOVEFROM (0 set)
 *
 * with position 0, as for any unsorted result (RFC 5267 §4.3.3).  So an
 * update costs one index query and the evaluation of what changed, never
 * a new search of the mailbox.  Expunged messages leave the results just
 * before their EXPUNGE is sent (imap_search_ctx_expunging, from the
 * view's one place of announcing them), while their sequence numbers
 * still mean what the client thinks.
 *
 * SORT RETURN (UPDATE) is refused with NOUPDATE (§4.3.1): a sorted
 * context would have to report positions, which tern does not track.
 * At most IMAP_CONTEXT_MAX contexts live in a session; past that, NOUPDATE
 * too.  Contexts end with the selection (SELECT, EXAMINE, CLOSE, UNSELECT,
 * logout).
 */
#include "imap/searchcmd.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct imap_search_ctx {
	struct imap_search_ctx *next;
	char tag[IMAP_TAG_MAX + 1];
	bool uid;
	struct imap_skey *search;   /* owned */
	uint32_t *uids;             /* the result, ascending */
	size_t n;
	uint64_t modseq;            /* changes up to this are reflected */
};

static void ctx_free(struct imap_search_ctx *c)
{
	imap_skey_free(c->search);
	free(c->uids);
	free(c);
}

static size_t ctx_count(const struct imap_session *s)
{
	size_t n = 0;
	for (const struct imap_search_ctx *c = s->search_ctxs; c; c = c->next)
		n++;
	return n;
}

static void noupdate(struct imap_session *s, const char *tag, const char *why)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "* NO [NOUPDATE ");
	imap_put_string(&b, tag, strlen(tag));
	buf_printf(&b, "] %s\r\n", why);
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

bool imap_search_ctx_add(struct imap_session *s, struct imap_cmd *cmd, const uint32_t *uids, size_t n,
			 uint64_t modseq)
{
	if (cmd->type == IMAP_CMD_SORT) {
		noupdate(s, cmd->tag, "Sorted results are not kept up to date");
		return false;
	}
	if (ctx_count(s) >= IMAP_CONTEXT_MAX) {
		noupdate(s, cmd->tag, "Too many search contexts");
		return false;
	}
	struct imap_search_ctx *c = xcalloc(1, sizeof *c);
	memcpy(c->tag, cmd->tag, sizeof c->tag);
	c->uid = cmd->uid;
	c->search = cmd->search;
	cmd->search = NULL;
	c->uids = xmalloc((n ? n : 1) * sizeof *c->uids);
	if (n)
		memcpy(c->uids, uids, n * sizeof *c->uids);
	c->n = n;
	c->modseq = modseq;
	c->next = s->search_ctxs;
	s->search_ctxs = c;
	return true;
}

void imap_search_ctx_free_all(struct imap_session *s)
{
	while (s->search_ctxs) {
		struct imap_search_ctx *c = s->search_ctxs;
		s->search_ctxs = c->next;
		ctx_free(c);
	}
}

/* ---- updates ----------------------------------------------------------------- */

struct u32s {
	uint32_t *v;
	size_t n, cap;
};

static void u32s_push(struct u32s *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = x;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void u32s_sort_unique(struct u32s *a)
{
	if (a->n < 2)
		return;
	qsort(a->v, a->n, sizeof *a->v, cmp_u32);
	size_t k = 1;
	for (size_t i = 1; i < a->n; i++)
		if (a->v[i] != a->v[k - 1])
			a->v[k++] = a->v[i];
	a->n = k;
}

static bool u32_has(const uint32_t *v, size_t n, uint32_t x)
{
	size_t i = imap_lower_bound(v, n, x);
	return i < n && v[i] == x;
}

static void changed_cb(void *ctx, const struct store_change *c)
{
	if (!c->expunged)
		u32s_push(ctx, c->uid);
}

static int hit_cb(void *ctx, const struct store_message_data *m, uint32_t seq)
{
	(void)seq;
	u32s_push(ctx, m->uid);
	return 0;
}

static void put_update(struct imap_session *s, const struct imap_search_ctx *c, const char *what,
		       struct u32s *nums)
{
	if (!nums->n)
		return;
	u32s_sort_unique(nums);
	struct buf b = BUF_INIT;
	buf_puts(&b, "* ESEARCH (TAG ");
	imap_put_string(&b, c->tag, strlen(c->tag));
	buf_printf(&b, ")%s %s (0 ", c->uid ? " UID" : "", what);
	imap_put_ordered_set(&b, nums->v, nums->n);
	buf_puts(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

/* The changes one context has not seen: what joins and leaves its result. */
static void ctx_update(struct imap_session *s, struct imap_search_ctx *c)
{
	struct imap_view *v = s->view;
	struct u32s changed = { 0 }, hits = { 0 }, added = { 0 }, removed = { 0 };
	uint64_t highest = c->modseq;
	uint32_t uidnext = 0;
	if (store_mailbox_changes(imap_store(s), v->mailbox_id, c->modseq, changed_cb, &changed, &highest,
				  &uidnext) != STORE_OK)
		goto out;
	u32s_sort_unique(&changed);
	/* Evaluate the changed messages still in the view, a run of neighbours per index query. */
	for (size_t i = 0; i < changed.n;) {
		size_t pos = imap_lower_bound(v->uids, v->n, changed.v[i]);
		if (pos >= v->n || v->uids[pos] != changed.v[i]) {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < changed.n && pos + (j - i) < v->n && v->uids[pos + (j - i)] == changed.v[j])
			j++;
		if (imap_search_scan_range(s, c->search, changed.v[i], changed.v[j - 1], hit_cb, &hits) != STORE_OK)
			goto out;
		i = j;
	}
	/* The new result: the old one, less what left the view or stopped matching, plus the new hits. */
	struct u32s next = { 0 };
	for (size_t i = 0; i < c->n; i++) {
		uint32_t uid = c->uids[i];
		bool in_view = u32_has(v->uids, v->n, uid);
		bool recheck = u32_has(changed.v, changed.n, uid);
		if (in_view && (!recheck || u32_has(hits.v, hits.n, uid))) {
			u32s_push(&next, uid);
			continue;
		}
		/* one that left the view went with its EXPUNGE (imap_search_ctx_expunging) */
		if (in_view)
			u32s_push(&removed, c->uid ? uid : imap_view_seq(v, uid));
	}
	for (size_t i = 0; i < hits.n; i++) {
		uint32_t uid = hits.v[i];
		if (u32_has(c->uids, c->n, uid))
			continue;
		u32s_push(&next, uid);
		u32s_push(&added, c->uid ? uid : imap_view_seq(v, uid));
	}
	u32s_sort_unique(&next);
	free(c->uids);
	c->uids = next.v;
	c->n = next.n;
	c->modseq = highest;
	put_update(s, c, "REMOVEFROM", &removed);
	put_update(s, c, "ADDTO", &added);
out:
	free(changed.v);
	free(hits.v);
	free(added.v);
	free(removed.v);
}

void imap_search_ctx_expunging(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_view *v = s->view;
	if (!v)
		return;
	for (struct imap_search_ctx *c = s->search_ctxs; c; c = c->next) {
		struct u32s removed = { 0 };
		size_t k = 0, j = 0;
		for (size_t i = 0; i < c->n; i++) {
			while (j < n && uids[j] < c->uids[i])
				j++;
			if (j < n && uids[j] == c->uids[i])
				u32s_push(&removed, c->uid ? c->uids[i] : imap_view_seq(v, c->uids[i]));
			else
				c->uids[k++] = c->uids[i];
		}
		c->n = k;
		put_update(s, c, "REMOVEFROM", &removed);
		free(removed.v);
	}
}

void imap_search_ctx_update(struct imap_session *s)
{
	if (!s->view) {
		imap_search_ctx_free_all(s);
		return;
	}
	for (struct imap_search_ctx *c = s->search_ctxs; c; c = c->next)
		ctx_update(s, c);
}

void imap_cmd_cancelupdate(struct imap_session *s, struct imap_cmd *cmd)
{
	/* Every tag must name a context; none is cancelled otherwise. */
	for (size_t i = 0; i < cmd->natoms; i++) {
		const struct imap_search_ctx *c = s->search_ctxs;
		while (c && (strlen(c->tag) != cmd->atoms[i].n || memcmp(c->tag, cmd->atoms[i].p, cmd->atoms[i].n)))
			c = c->next;
		if (!c) {
			imap_bad(s, cmd->tag, "Unknown search context");
			return;
		}
	}
	for (size_t i = 0; i < cmd->natoms; i++) {
		for (struct imap_search_ctx **pc = &s->search_ctxs; *pc; pc = &(*pc)->next) {
			struct imap_search_ctx *c = *pc;
			if (strlen(c->tag) == cmd->atoms[i].n && !memcmp(c->tag, cmd->atoms[i].p, cmd->atoms[i].n)) {
				*pc = c->next;
				ctx_free(c);
				break;
			}
		}
	}
	imap_ok(s, cmd, "CANCELUPDATE completed");
}
