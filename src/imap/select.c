/*
 * select.c — SELECT, EXAMINE, CLOSE, UNSELECT, and the view: the session's
 * picture of the selected mailbox (sequence number -> UID) and how it
 * catches up with changes made by others.
 *
 * The store keeps a modseq per change (flags, new messages, expunges).  The
 * view remembers the highest modseq it reflects; imap_sync asks the store
 * what happened since and announces it.  Expunges made by others are held
 * back ("gone", still numbered) while the client may be relying on
 * sequence numbers (RFC 9051 §7.5.1), and announced at the next point
 * where EXPUNGE responses are allowed.  Other sessions' commits wake a
 * session in IDLE through a store watch (store_notify -> event_active).
 * Under NOTIFY (notify.c) the kinds of news the client did not ask for
 * wait: expunges in gone, new messages in held (not yet in the view).
 */
#include "imap/session.h"
#include "imap/searchcmd.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "store/keywords.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const flag_names[] = { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft" };

void imap_put_flags(struct buf *b, uint32_t flags, const char *keywords, bool recent)
{
	buf_putc(b, '(');
	bool first = true;
	if (recent) {
		buf_puts(b, "\\Recent");
		first = false;
	}
	for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
		if (!(flags & (1u << i)))
			continue;
		if (!first)
			buf_putc(b, ' ');
		buf_puts(b, flag_names[i]);
		first = false;
	}
	if (keywords && *keywords) {
		if (!first)
			buf_putc(b, ' ');
		buf_puts(b, keywords);
	}
	buf_putc(b, ')');
}

/* ---- \Recent ---------------------------------------------------------------- */

bool imap_is_recent(const struct imap_session *s, uint32_t uid)
{
	const struct imap_view *v = s->view;
	if (s->rev2 || !v)
		return false;
	for (size_t i = 0; i < v->nrecent; i++)
		if (uid >= v->recent[i].lo && uid <= v->recent[i].hi)
			return true;
	return false;
}

static size_t recent_count(const struct imap_view *v)
{
	size_t n = 0;
	for (size_t i = 0; i < v->nrecent; i++) {
		size_t lo = imap_lower_bound(v->uids, v->n, v->recent[i].lo);
		size_t hi = v->recent[i].hi == UINT32_MAX ? v->n : imap_lower_bound(v->uids, v->n, v->recent[i].hi + 1);
		n += hi - lo;
	}
	return n;
}

static void recent_add(struct imap_view *v, uint32_t lo, uint32_t hi)
{
	if (lo > hi)
		return;
	if (v->nrecent && v->recent[v->nrecent - 1].hi + 1 == lo) {
		v->recent[v->nrecent - 1].hi = hi;
		return;
	}
	if (v->nrecent == IMAP_RECENT_RANGES) {
		memmove(v->recent, v->recent + 1, (IMAP_RECENT_RANGES - 1) * sizeof v->recent[0]);
		v->nrecent--;
	}
	v->recent[v->nrecent].lo = lo;
	v->recent[v->nrecent].hi = hi;
	v->nrecent++;
}

/* Claim for this session the view's UIDs no session has claimed yet (not under EXAMINE). */
static void claim_recent(struct imap_session *s)
{
	struct imap_view *v = s->view;
	if (v->readonly || !v->n)
		return;
	uint32_t upto = v->uids[v->n - 1] + 1;      /* the store never hands out UID 2^32-1 */
	uint32_t from;
	if (store_mailbox_recent_claim(imap_store(s), v->mailbox_id, upto, &from) == STORE_OK && from < upto)
		recent_add(v, from, upto - 1);
}

static void put_flag_list(struct imap_session *s, const char *keywords)
{
	struct buf b = BUF_INIT;
	const char *kw = keywords && *keywords ? keywords : NULL;
	buf_printf(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s)\r\n", kw ? " " : "", kw ? kw : "");
	buf_printf(&b, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s \\*)] Flags permitted\r\n",
		   kw ? " " : "", kw ? kw : "");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

void imap_view_flags_update(struct imap_session *s, const char *mailbox_keywords)
{
	struct imap_view *v = s->view;
	if (!v || !mailbox_keywords || store_kw_subset(mailbox_keywords, v->keywords))
		return;
	free(v->keywords);
	v->keywords = xstrdup(mailbox_keywords);
	put_flag_list(s, v->keywords);
}

void imap_view_announce_keywords(struct imap_session *s, const char *keywords)
{
	struct imap_view *v = s->view;
	if (!v || !keywords || !*keywords || store_kw_subset(keywords, v->keywords))
		return;
	struct buf all = BUF_INIT;
	buf_puts(&all, v->keywords ? v->keywords : "");
	const char *p = keywords;
	while (*p) {
		const char *end = strchr(p, ' ');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char one[STORE_KEYWORDS_MAX + 1];
		if (n && n < sizeof one) {
			memcpy(one, p, n);
			one[n] = '\0';
			if (!store_kw_subset(one, all.data)) {
				if (all.len)
					buf_putc(&all, ' ');
				buf_puts(&all, one);
			}
		}
		p = end ? end + 1 : p + n;
	}
	imap_view_flags_update(s, buf_cstr(&all));
	buf_free(&all);
}

static void got_keywords(void *ctx, const struct store_mailbox_info *mb)
{
	struct imap_session *s = ctx;
	imap_view_flags_update(s, mb->keywords);
}

void imap_view_refresh_keywords(struct imap_session *s)
{
	if (s->view)
		store_mailbox_info(imap_store(s), s->account_id, s->view->name, got_keywords, s);
}

size_t imap_lower_bound(const uint32_t *a, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	size_t i = imap_lower_bound(v->uids, v->n, uid);
	return i < v->n && v->uids[i] == uid ? (uint32_t)(i + 1) : 0;
}

bool imap_view_uids(struct imap_session *s, struct imap_seqset *set, bool uid, uint32_t **out, size_t *n)
{
	struct imap_view *v = s->view;
	*out = NULL;
	*n = 0;
	if (set->saved) {
		/* "$": the saved result, UIDs either way (RFC 5182). */
		uint32_t *r = v->n ? xmalloc(v->n * sizeof *r) : NULL;
		size_t k = 0;
		for (size_t i = 0; i < v->n; i++)
			if (imap_seqset_contains(&v->saved, v->uids[i]))
				r[k++] = v->uids[i];
		*out = r;
		*n = k;
		return true;
	}
	if (!uid) {
		for (size_t i = 0; i < set->n; i++)
			if (set->r[i].lo > v->n || set->r[i].hi > v->n)
				return false;
		if (v->n == 0) {
			/* "*" names no message in an empty mailbox: an error like any other number. */
			return set->n == 0;
		}
	}
	uint32_t star = uid ? (v->n ? v->uids[v->n - 1] : 0) : (uint32_t)v->n;
	imap_seqset_resolve(set, star);
	size_t cap = 0;
	uint32_t *r = NULL;
	size_t k = 0;
	for (size_t i = 0; i < set->n; i++) {
		size_t from, to;
		if (uid) {
			from = imap_lower_bound(v->uids, v->n, set->r[i].lo);
			to = imap_lower_bound(v->uids, v->n, set->r[i].hi == UINT32_MAX ? UINT32_MAX : set->r[i].hi + 1);
			if (set->r[i].hi == UINT32_MAX)
				to = v->n;
		} else {
			if (set->r[i].lo == 0)
				continue;
			from = set->r[i].lo - 1;
			to = set->r[i].hi;
		}
		if (to <= from)
			continue;
		if (k + (to - from) > cap) {
			cap = k + (to - from);
			r = xrealloc(r, cap * sizeof *r);
		}
		memcpy(r + k, v->uids + from, (to - from) * sizeof *r);
		k += to - from;
	}
	*out = r;
	*n = k;
	return true;
}

/* ---- keeping up -------------------------------------------------------------- */

struct change_list {
	struct imap_view *v;
	uint32_t *gone;         /* expunged by others, in the view */
	size_t ngone, capgone;
	uint32_t *fresh;        /* new messages */
	size_t nfresh, capfresh;
	struct flagchange {
		uint32_t uid;
		uint32_t flags;
		uint64_t modseq;
		char *keywords;
	} *changed;
	size_t nchanged, capchanged;
};

static void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = xrealloc(*a, *cap * sizeof **a);
	}
	(*a)[(*n)++] = x;
}

static bool is_gone(const struct imap_view *v, uint32_t uid)
{
	size_t i = imap_lower_bound(v->gone, v->ngone, uid);
	return i < v->ngone && v->gone[i] == uid;
}

static void collect_change(void *ctx, const struct store_change *c)
{
	struct change_list *cl = ctx;
	struct imap_view *v = cl->v;
	uint32_t last = v->n ? v->uids[v->n - 1] : 0;
	if (c->expunged) {
		if (imap_view_seq(v, c->uid) && !is_gone(v, c->uid))
			push_u32(&cl->gone, &cl->ngone, &cl->capgone, c->uid);
		size_t h = imap_lower_bound(v->held, v->nheld, c->uid);
		if (h < v->nheld && v->held[h] == c->uid) {
			/* never announced, so nothing to announce now */
			memmove(v->held + h, v->held + h + 1, (v->nheld - h - 1) * sizeof *v->held);
			v->nheld--;
		}
		return;
	}
	if (c->uid > last) {
		push_u32(&cl->fresh, &cl->nfresh, &cl->capfresh, c->uid);
		return;
	}
	if (!imap_view_seq(v, c->uid))
		return;
	if (cl->nchanged == cl->capchanged) {
		cl->capchanged = cl->capchanged ? cl->capchanged * 2 : 16;
		cl->changed = xrealloc(cl->changed, cl->capchanged * sizeof *cl->changed);
	}
	struct flagchange *f = &cl->changed[cl->nchanged++];
	f->uid = c->uid;
	f->flags = c->flags;
	f->modseq = c->modseq;
	f->keywords = xstrdup(c->keywords ? c->keywords : "");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t *dedupe_sorted(uint32_t *a, size_t *n)
{
	if (*n == 0)
		return a;
	qsort(a, *n, sizeof *a, cmp_u32);
	size_t k = 1;
	for (size_t i = 1; i < *n; i++)
		if (a[i] != a[k - 1])
			a[k++] = a[i];
	*n = k;
	return a;
}

/* Remove uids (ascending, all in the view) and announce them. */
static void view_drop(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_view *v = s->view;
	if (n == 0)
		return;
	if (s->search_ctxs)
		imap_search_ctx_expunging(s, uids, n);     /* REMOVEFROM while the numbers hold (RFC 5267) */
	if (s->qresync) {
		/* RFC 7162 §3.2.10: VANISHED replaces EXPUNGE once QRESYNC is enabled. */
		struct imap_seqset set = { 0 };
		imap_seqset_from_sorted(&set, uids, n);
		struct buf b = BUF_INIT;
		buf_puts(&b, "* VANISHED ");
		imap_seqset_format(&set, &b);
		buf_puts(&b, "\r\n");
		imap_write(s, b.data, b.len);
		buf_free(&b);
		imap_seqset_free(&set);
	} else {
		/* Highest first, so each number is still valid when the client reads it. */
		struct buf b = BUF_INIT;
		for (size_t i = n; i-- > 0;) {
			uint32_t seq = imap_view_seq(v, uids[i]);
			if (seq)
				buf_printf(&b, "* %u EXPUNGE\r\n", seq);
			if (b.len > 65536) {
				imap_write(s, b.data, b.len);
				buf_reset(&b);
			}
		}
		imap_write(s, b.data, b.len);
		buf_free(&b);
	}
	/* One pass to compact the view. */
	size_t k = 0, j = 0;
	for (size_t i = 0; i < v->n; i++) {
		while (j < n && uids[j] < v->uids[i])
			j++;
		if (j < n && uids[j] == v->uids[i])
			continue;
		v->uids[k++] = v->uids[i];
	}
	v->n = k;
	/* Forget them in gone as well. */
	k = 0;
	j = 0;
	for (size_t i = 0; i < v->ngone; i++) {
		while (j < n && uids[j] < v->gone[i])
			j++;
		if (j < n && uids[j] == v->gone[i])
			continue;
		v->gone[k++] = v->gone[i];
	}
	v->ngone = k;
}

void imap_view_remove(struct imap_session *s, const uint32_t *uids, size_t n)
{
	view_drop(s, uids, n);
}

void imap_view_own_change(struct imap_session *s, uint64_t modseq)
{
	struct imap_view *v = s->view;
	/* Each committing call raises highestmodseq by one: +1 means nobody else came in between. */
	if (v && modseq == v->modseq + 1)
		v->modseq = modseq;
}

void imap_sync(struct imap_session *s, bool expunges_ok)
{
	struct imap_view *v = s->view;
	if (!v || !s->c)
		return;
	struct change_list cl = { .v = v };
	uint64_t highest = 0;
	uint32_t uidnext = 0;
	enum store_status st = store_mailbox_changes(imap_store(s), v->mailbox_id, v->modseq, collect_change, &cl,
						     &highest, &uidnext);
	if (st == STORE_NOTFOUND) {
		imap_untagged(s, "BYE The selected mailbox was deleted");
		imap_close(s);
		goto out;
	}
	if (st != STORE_OK)
		goto out;

	/* NOTIFY decides which kinds of news this mailbox gets; the others wait in gone and held. */
	unsigned events = imap_notify_selected_events(s);
	/* Expunges by others join the held-back list. */
	for (size_t i = 0; i < cl.ngone; i++)
		push_u32(&v->gone, &v->ngone, &v->capgone, cl.gone[i]);
	v->gone = dedupe_sorted(v->gone, &v->ngone);
	if (expunges_ok && (events & IMAP_NEV_MESSAGEEXPUNGE) && v->ngone) {
		uint32_t *gone = v->gone;
		size_t ngone = v->ngone;
		v->gone = NULL;
		v->ngone = v->capgone = 0;
		view_drop(s, gone, ngone);
		free(gone);
	}

	if (cl.nfresh && !(events & IMAP_NEV_MESSAGENEW)) {
		for (size_t i = 0; i < cl.nfresh; i++)
			push_u32(&v->held, &v->nheld, &v->capheld, cl.fresh[i]);
		v->held = dedupe_sorted(v->held, &v->nheld);
		cl.nfresh = 0;
	} else if (v->nheld && (events & IMAP_NEV_MESSAGENEW)) {
		for (size_t i = 0; i < v->nheld; i++)
			push_u32(&cl.fresh, &cl.nfresh, &cl.capfresh, v->held[i]);
		XFREE(&v->held);
		v->nheld = v->capheld = 0;
	}
	if (cl.nfresh) {
		cl.fresh = dedupe_sorted(cl.fresh, &cl.nfresh);
		if (v->n + cl.nfresh > v->cap) {
			v->cap = v->n + cl.nfresh + 16;
			v->uids = xrealloc(v->uids, v->cap * sizeof *v->uids);
		}
		memcpy(v->uids + v->n, cl.fresh, cl.nfresh * sizeof *cl.fresh);
		v->n += cl.nfresh;
		imap_untagged(s, "%zu EXISTS", v->n);
		claim_recent(s);
		if (!s->rev2)
			imap_untagged(s, "%zu RECENT", recent_count(v));
		imap_notify_new_messages(s, cl.fresh, cl.nfresh);
	}

	if (cl.nchanged && (events & IMAP_NEV_FLAGCHANGE)) {
		struct buf kw = BUF_INIT;
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < cl.nchanged; i++) {
			struct flagchange *f = &cl.changed[i];
			/* A later change of the same message supersedes this one. */
			bool superseded = false;
			for (size_t j = i + 1; j < cl.nchanged && j < i + 64 && !superseded; j++)
				superseded = cl.changed[j].uid == f->uid;
			uint32_t seq = imap_view_seq(v, f->uid);
			if (superseded || !seq || is_gone(v, f->uid))
				continue;
			if (*f->keywords && !store_kw_subset(f->keywords, v->keywords)) {
				if (kw.len)
					buf_putc(&kw, ' ');
				buf_puts(&kw, f->keywords);
			}
			buf_printf(&b, "* %u FETCH (", seq);
			if (s->qresync || s->notify)    /* RFC 5465 §5.1: UID and FLAGS */
				buf_printf(&b, "UID %u ", f->uid);
			buf_puts(&b, "FLAGS ");
			imap_put_flags(&b, f->flags, f->keywords, imap_is_recent(s, f->uid));
			if (s->condstore)
				buf_printf(&b, " MODSEQ (%llu)", (unsigned long long)f->modseq);
			buf_puts(&b, ")\r\n");
		}
		/* New keywords: FLAGS first, so the client knows them when it reads the FETCHes. */
		imap_view_announce_keywords(s, buf_cstr(&kw));
		imap_write(s, b.data, b.len);
		buf_free(&b);
		buf_free(&kw);
	}
	/*
	 * Held-back expunges stay pending in gone; the modseq still advances,
	 * since gone remembers them.
	 */
	if (highest > v->modseq)
		v->modseq = highest;
	/* RFC 5267 §4.3: search context updates go with the other untagged updates, IDLE's too */
	if (s->search_ctxs)
		imap_search_ctx_update(s);
out:
	for (size_t i = 0; i < cl.nchanged; i++)
		free(cl.changed[i].keywords);
	free(cl.changed);
	free(cl.gone);
	free(cl.fresh);
}

/* ---- SELECT / EXAMINE ---------------------------------------------------------- */

static void watch_fired(void *arg)
{
	/* Any thread: only wake the session's own loop. */
	struct imap_session *s = arg;
	event_active(s->wake, EV_READ, 0);
}

void imap_view_free(struct imap_session *s)
{
	struct imap_view *v = s->view;
	if (!v)
		return;
	store_watch_remove(&v->watch);
	free(v->name);
	free(v->uids);
	free(v->gone);
	free(v->held);
	free(v->keywords);
	imap_seqset_free(&v->saved);
	free(v);
	s->view = NULL;
	if (s->state == IST_SELECTED)
		s->state = IST_AUTH;
}

struct select_info {
	bool found;
	int64_t id;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	char *keywords;
	char *special_use;
	bool has_children;
	uint32_t first_recent_uid;
};

static void got_info(void *ctx, const struct store_mailbox_info *mb)
{
	struct select_info *si = ctx;
	si->found = true;
	si->id = mb->id;
	si->uidvalidity = mb->uidvalidity;
	si->uidnext = mb->uidnext;
	si->first_recent_uid = mb->first_recent_uid;
	si->highestmodseq = mb->highestmodseq;
	si->keywords = xstrdup(mb->keywords ? mb->keywords : "");
	si->special_use = xstrdup(mb->special_use ? mb->special_use : "");
	si->has_children = mb->has_children;
}

/* QRESYNC (RFC 7162 §3.2.5): what changed since the client's last visit. */
struct qresync_ctx {
	struct imap_session *s;
	const struct imap_seqset *known;    /* resolved, or n = 0 for all */
	uint32_t *gone;
	size_t ngone, capgone;
	struct buf fetches;
};

static void qresync_change(void *ctx, const struct store_change *c)
{
	struct qresync_ctx *q = ctx;
	struct imap_view *v = q->s->view;
	if (c->expunged) {
		if (!q->known->n || imap_seqset_contains(q->known, c->uid))
			push_u32(&q->gone, &q->ngone, &q->capgone, c->uid);
		return;
	}
	uint32_t seq = imap_view_seq(v, c->uid);
	if (!seq)
		return;
	buf_printf(&q->fetches, "* %u FETCH (UID %u FLAGS ", seq, c->uid);
	imap_put_flags(&q->fetches, c->flags, c->keywords, imap_is_recent(q->s, c->uid));
	buf_printf(&q->fetches, " MODSEQ (%llu))\r\n", (unsigned long long)c->modseq);
}

static void qresync_report(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_view *v = s->view;
	if (cmd->qr_uidvalidity != v->uidvalidity)
		return;     /* the client's cache is void anyway: it starts over */
	struct imap_seqset known = { 0 };
	imap_seqset_copy(&known, &cmd->qr_known_uids);
	if (known.n)
		imap_seqset_resolve(&known, v->n ? v->uids[v->n - 1] : 0);
	struct qresync_ctx q = { .s = s, .known = &known };
	uint64_t highest;
	uint32_t uidnext;
	if (store_mailbox_changes(imap_store(s), v->mailbox_id, cmd->qr_modseq, qresync_change, &q, &highest,
				  &uidnext) == STORE_OK) {
		if (q.ngone) {
			q.gone = dedupe_sorted(q.gone, &q.ngone);
			struct imap_seqset set = { 0 };
			imap_seqset_from_sorted(&set, q.gone, q.ngone);
			struct buf b = BUF_INIT;
			buf_puts(&b, "* VANISHED (EARLIER) ");
			imap_seqset_format(&set, &b);
			buf_puts(&b, "\r\n");
			imap_write(s, b.data, b.len);
			buf_free(&b);
			imap_seqset_free(&set);
		}
		imap_write(s, q.fetches.data, q.fetches.len);
	}
	buf_free(&q.fetches);
	free(q.gone);
	imap_seqset_free(&known);
}

void imap_cmd_select(struct imap_session *s, struct imap_cmd *cmd)
{
	bool examine = cmd->type == IMAP_CMD_EXAMINE;
	struct buf name = BUF_INIT;
	if (!imap_mailbox_arg(s, cmd, &cmd->mailbox, &name))
		return;
	if (cmd->qresync && !s->qresync) {
		imap_bad(s, cmd->tag, "QRESYNC is not enabled");
		buf_free(&name);
		return;
	}
	if (cmd->condstore || cmd->qresync)
		s->condstore = true;

	/* RFC 9051 §6.3.2: a SELECT first deselects, even if it then fails. */
	if (s->view) {
		imap_view_free(s);
		if (s->qresync || s->rev2)
			imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	struct store *st = imap_store(s);
	struct select_info si = { 0 };
	enum store_status rc = store_mailbox_info(st, s->account_id, name.data, got_info, &si);
	if (rc != STORE_OK || !si.found) {
		imap_store_error(s, cmd->tag, rc == STORE_OK ? STORE_NOTFOUND : rc, "SELECT");
		goto out;
	}
	struct imap_view *v = xcalloc(1, sizeof *v);
	v->mailbox_id = si.id;
	v->name = buf_steal(&name);
	v->readonly = examine;
	v->uidvalidity = si.uidvalidity;
	v->keywords = si.keywords;
	si.keywords = NULL;
	/* Watch before reading, so a change committed in between wakes us rather than slipping by. */
	v->watch = store_watch_add(si.id, watch_fired, s);
	uint32_t first_unseen = 0;
	rc = store_mailbox_uids(st, si.id, &v->uids, &v->n, &v->modseq, s->rev2 ? NULL : &first_unseen);
	if (rc != STORE_OK) {
		s->view = v;
		imap_view_free(s);
		imap_store_error(s, cmd->tag, rc, "SELECT");
		goto out;
	}
	v->cap = v->n;
	s->view = v;
	s->state = IST_SELECTED;
	if (examine)
		recent_add(v, si.first_recent_uid ? si.first_recent_uid : 1, UINT32_MAX);
	else
		claim_recent(s);

	struct buf b = BUF_INIT;
	buf_printf(&b, "* %zu EXISTS\r\n", v->n);
	if (!s->rev2)
		buf_printf(&b, "* %zu RECENT\r\n", recent_count(v));
	imap_write(s, b.data, b.len);
	buf_reset(&b);
	put_flag_list(s, v->keywords);
	/* RFC 3501 §6.3.1 (dropped by IMAP4rev2): the first message without \Seen. */
	uint32_t unseen_seq = first_unseen ? imap_view_seq(v, first_unseen) : 0;
	if (unseen_seq)
		buf_printf(&b, "* OK [UNSEEN %u] First unseen\r\n", unseen_seq);
	buf_printf(&b, "* OK [UIDVALIDITY %u] UIDs valid\r\n", v->uidvalidity);
	buf_printf(&b, "* OK [UIDNEXT %u] Predicted next UID\r\n", si.uidnext);
	buf_printf(&b, "* OK [HIGHESTMODSEQ %llu] Highest\r\n", (unsigned long long)v->modseq);
	if (s->rev2) {
		/* RFC 9051 §6.3.2: the mailbox's LIST response, with its attributes. */
		buf_printf(&b, "* LIST (%s%s%s) \"/\" ", si.has_children ? "\\HasChildren" : "\\HasNoChildren",
			   *si.special_use ? " " : "", si.special_use);
		imap_put_mailbox(s, &b, v->name);
		buf_puts(&b, "\r\n");
	}
	imap_write(s, b.data, b.len);
	buf_free(&b);
	if (cmd->qresync)
		qresync_report(s, cmd);
	imap_tagged(s, cmd->tag, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
		    examine ? "EXAMINE" : "SELECT");
out:
	free(si.keywords);
	free(si.special_use);
	buf_free(&name);
}

static void ignore_change(void *ctx, const struct store_change *c)
{
	(void)ctx;
	(void)c;
}

void imap_cmd_close(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_view *v = s->view;
	if (cmd->type == IMAP_CMD_CLOSE && !v->readonly) {
		/* CLOSE expunges silently (RFC 9051 §6.4.1). */
		enum store_status st = store_expunge(imap_store(s), v->mailbox_id, NULL, 0, true, ignore_change, NULL);
		if (st != STORE_OK) {
			imap_store_error(s, cmd->tag, st, "CLOSE");
			return;
		}
	}
	imap_view_free(s);
	imap_tagged(s, cmd->tag, "OK", "%s completed", cmd->type == IMAP_CMD_CLOSE ? "CLOSE" : "UNSELECT");
}
