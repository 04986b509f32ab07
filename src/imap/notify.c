/*
 * notify.c — NOTIFY (RFC 5465): what the client asked to hear of, the
 * store watches that tell of it, and the untagged responses that carry it.
 *
 * State (struct imap_notify, s->notify; NULL means "as before NOTIFY"):
 *  - the selected mailbox's events (the selected / selected-delayed
 *    group).  select.c's imap_sync asks imap_notify_selected_events which
 *    kinds of news to announce; what is not asked for waits in the view
 *    (expunges in gone, new messages in held).  MessageNew fetch-atts are
 *    sent after EXISTS through fetch.c (imap_fetch_unsolicited), as much
 *    as the output allows; the rest waits in fetch[] for the socket.
 *  - for the other groups, one entry per mailbox of the account that a
 *    group matches (sorted by id; at most NOTIFY_MAX_MAILBOXES), each with
 *    the union of the events of the groups that match it (as Dovecot does),
 *    a store watch when that includes a message event, and the STATUS
 *    values the client was last told.  A watch puts its entry on the
 *    dirty list (under mu: watches fire on the committer's thread) and
 *    wakes the session; only dirty entries are looked at, so a change in
 *    one mailbox costs one indexed query whatever the account's size.
 *  - an account watch (store_account_watch_add) for created, deleted and
 *    renamed mailboxes and subscription changes.  On it the mailbox list
 *    (and the subscriptions) are read again and merged by id with the
 *    entries: O(n log n) per change of the list.  New mailboxes that
 *    match a group (personal, inboxes, subtree, a name in mailboxes)
 *    are watched from then on.
 *
 * Delivery: at once in IDLE (idle.c), when no command is in progress
 * (imap_notify_wake, from the session's wake event, or from imap_process
 * once the command in progress is done), and before each tagged OK
 * (imap_ok).  A client that does not read gets nothing more until its
 * output drains below IMAP_OUTPUT_MAX: what happened meanwhile is only
 * the dirty flags, so memory is bounded by the number of entries.
 *
 * STATUS (RFC 5465 §5.1-5.3), only the items that changed since the last
 * one sent: MessageNew MESSAGES UIDNEXT, MessageExpunge MESSAGES, and
 * HIGHESTMODSEQ for all three once CONDSTORE/QRESYNC is enabled (without
 * it a flag change elsewhere has no STATUS item to show in); UIDVALIDITY
 * whenever it changes.  NOTIFY SET STATUS sends the §3.1 sets at once.
 * MailboxName and SubscriptionChange are LIST responses (§5.4, §5.5);
 * \Subscribed is reported when subscriptions are tracked (a subscribed
 * filter or SubscriptionChange).  The session's own changes are reported
 * too (RFC 5465 §5 only says SHOULD omit).
 */
#include "imap/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NOTIFY_MAX_MAILBOXES 10000  /* mailboxes of an account one NOTIFY SET may watch */

struct notify_mbox {
	struct imap_notify *n;
	int64_t id;
	char *name;
	char special_use[16];
	unsigned events;                /* IMAP_NEV_* of the groups that match it */
	struct store_watch *watch;      /* when events has a message event */
	uint32_t messages, uidnext, uidvalidity;
	uint64_t highestmodseq;         /* as the client was last told (or knew) */
	bool dirty;                     /* under n->mu: on the dirty list */
	struct notify_mbox *next_dirty;
};

/* A group for mailboxes other than the selected one; names decoded, sorted, unique. */
struct notify_group {
	enum imap_notify_filter filter;
	unsigned events;
	char **names;
	size_t nnames;
};

struct imap_notify {
	struct imap_session *s;
	struct imap_cmd *cmd;           /* the NOTIFY SET in force (the selected group's fetch-atts) */
	unsigned sel_events;
	bool sel_delayed;
	struct notify_group *groups;
	size_t ngroups;
	bool track_subs;                /* a subscribed filter or SubscriptionChange */
	struct store_watch *account_watch;
	struct notify_mbox **mb;        /* every mailbox of the account, by id */
	size_t nmb;
	struct notify_mbox **byname;    /* the same, by name */
	char **subs;                    /* subscribed names, sorted */
	size_t nsubs;
	pthread_mutex_t mu;             /* dirty, account_dirty */
	struct notify_mbox *dirty;
	bool account_dirty;
	bool deferred;                  /* a wake came while nothing could be sent */
	int64_t fetch_mailbox;          /* fetch[] are UIDs of this mailbox */
	uint32_t *fetch;                /* MessageNew FETCHes still to send (ascending) */
	size_t nfetch, capfetch;
};

/* ---- names ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and remove duplicates (freeing them). */
static void names_sort(char **v, size_t *n)
{
	if (*n == 0)
		return;
	qsort(v, *n, sizeof *v, cmp_str);
	size_t k = 1;
	for (size_t i = 1; i < *n; i++) {
		if (strcmp(v[i], v[k - 1]) == 0)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*n = k;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Whether the sorted v holds exactly p[0..len). */
static bool names_have(char *const *v, size_t n, const char *p, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(p, v[mid], len);
		if (c == 0 && v[mid][len])
			c = -1;
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static bool is_subscribed(const struct imap_notify *n, const char *name)
{
	return names_have(n->subs, n->nsubs, name, strlen(name));
}

static bool group_matches(const struct imap_notify *n, const struct notify_group *g, const char *name,
			  const char *special_use)
{
	size_t len = strlen(name);
	switch (g->filter) {
	case IMAP_NF_PERSONAL:
		return true;    /* one personal namespace: every mailbox of the account */
	case IMAP_NF_INBOXES:
		/* where deliveries go (RFC 5465 §6.3): INBOX, and \Junk for mail judged junk */
		return strcmp(name, "INBOX") == 0 || strcmp(special_use, "\\Junk") == 0;
	case IMAP_NF_SUBSCRIBED:
		return is_subscribed(n, name);
	case IMAP_NF_MAILBOXES:
		return names_have(g->names, g->nnames, name, len);
	case IMAP_NF_SUBTREE:
		/* the name itself or any ancestor of it: one lookup per level */
		for (size_t i = 0; i <= len; i++)
			if ((i == len || name[i] == '/') && names_have(g->names, g->nnames, name, i))
				return true;
		return false;
	case IMAP_NF_SELECTED:
	case IMAP_NF_SELECTED_DELAYED:
		break;
	}
	return false;
}

static unsigned name_events(const struct imap_notify *n, const char *name, const char *special_use)
{
	unsigned ev = 0;
	for (size_t i = 0; i < n->ngroups; i++)
		if (group_matches(n, &n->groups[i], name, special_use))
			ev |= n->groups[i].events;
	return ev;
}

/* ---- watches ------------------------------------------------------------------ */

/* Any thread, under the store's watch mutex: queue the entry, wake the session's loop. */
static void mbox_fired(void *arg)
{
	struct notify_mbox *m = arg;
	struct imap_notify *n = m->n;
	pthread_mutex_lock(&n->mu);
	if (!m->dirty) {
		m->dirty = true;
		m->next_dirty = n->dirty;
		n->dirty = m;
	}
	pthread_mutex_unlock(&n->mu);
	event_active(n->s->wake, EV_READ, 0);
}

static void account_fired(void *arg)
{
	struct imap_notify *n = arg;
	pthread_mutex_lock(&n->mu);
	n->account_dirty = true;
	pthread_mutex_unlock(&n->mu);
	event_active(n->s->wake, EV_READ, 0);
}

/* Watch m exactly when it has a message event. */
static void mbox_watch_update(struct notify_mbox *m)
{
	bool want = (m->events & IMAP_NEV_MESSAGE) != 0;
	if (want && !m->watch)
		m->watch = store_watch_add(m->id, mbox_fired, m);
	else if (!want && m->watch)
		store_watch_remove(&m->watch);
}

static void mbox_free(struct notify_mbox *m)
{
	struct imap_notify *n = m->n;
	store_watch_remove(&m->watch);      /* a barrier: mbox_fired is not running, and will not */
	pthread_mutex_lock(&n->mu);
	if (m->dirty) {
		for (struct notify_mbox **p = &n->dirty; *p; p = &(*p)->next_dirty) {
			if (*p == m) {
				*p = m->next_dirty;
				break;
			}
		}
	}
	pthread_mutex_unlock(&n->mu);
	free(m->name);
	free(m);
}

/* Watches first: once they are gone nothing on another thread can reach n. */
static void notify_destroy(struct imap_notify *n)
{
	store_watch_remove(&n->account_watch);
	for (size_t i = 0; i < n->nmb; i++)
		mbox_free(n->mb[i]);
	free(n->mb);
	free(n->byname);
	names_free(n->subs, n->nsubs);
	for (size_t i = 0; i < n->ngroups; i++)
		names_free(n->groups[i].names, n->groups[i].nnames);
	free(n->groups);
	free(n->fetch);
	if (n->cmd) {
		imap_cmd_free(n->cmd);
		free(n->cmd);
	}
	pthread_mutex_destroy(&n->mu);
	free(n);
}

void imap_notify_free(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	s->notify = NULL;
	if (n)
		notify_destroy(n);
}

/* ---- responses ---------------------------------------------------------------- */

static void children_cb(void *ctx, const struct store_mailbox_info *mb)
{
	*(bool *)ctx = mb->has_children;
}

/* Asked of the store: the entries hold only the mailboxes that are watched. */
static bool has_children(const struct imap_notify *n, const char *name)
{
	bool children = false;
	store_mailbox_info(imap_store(n->s), n->s->account_id, name, children_cb, &children);
	return children;
}

/* "* LIST (attrs) "/" name [("OLDNAME" (old))]"; m NULL for a name with no mailbox. */
static void put_list(struct imap_notify *n, struct buf *b, const char *name, const struct notify_mbox *m,
		     const char *oldname)
{
	struct imap_session *s = n->s;
	buf_puts(b, "* LIST (");
	if (!m) {
		buf_puts(b, "\\NonExistent");
	} else {
		if (*m->special_use) {
			buf_puts(b, m->special_use);
			buf_putc(b, ' ');
		}
		buf_puts(b, has_children(n, name) ? "\\HasChildren" : "\\HasNoChildren");
	}
	if (n->track_subs && is_subscribed(n, name))
		buf_puts(b, " \\Subscribed");
	buf_puts(b, ") \"/\" ");
	imap_put_mailbox(s, b, name);
	if (oldname) {
		buf_puts(b, " (\"OLDNAME\" (");
		imap_put_mailbox(s, b, oldname);
		buf_puts(b, "))");
	}
	buf_puts(b, "\r\n");
}

struct status_now {
	uint32_t messages, uidnext, uidvalidity;
	uint64_t highestmodseq;
};

/* "* STATUS name (items)" for the items asked, in put_status's order (mailboxes.c); the entry remembers them. */
static void put_status(struct imap_notify *n, struct buf *b, struct notify_mbox *m, const struct status_now *now,
		       unsigned items)
{
	if (!items)
		return;
	buf_puts(b, "* STATUS ");
	imap_put_mailbox(n->s, b, m->name);
	const char *sp = " (";
	if (items & IMAP_STATUS_MESSAGES) {
		buf_printf(b, "%sMESSAGES %u", sp, now->messages);
		m->messages = now->messages;
		sp = " ";
	}
	if (items & IMAP_STATUS_UIDNEXT) {
		buf_printf(b, "%sUIDNEXT %u", sp, now->uidnext);
		m->uidnext = now->uidnext;
		sp = " ";
	}
	if (items & IMAP_STATUS_UIDVALIDITY) {
		buf_printf(b, "%sUIDVALIDITY %u", sp, now->uidvalidity);
		m->uidvalidity = now->uidvalidity;
		sp = " ";
	}
	if (items & IMAP_STATUS_HIGHESTMODSEQ) {
		buf_printf(b, "%sHIGHESTMODSEQ %llu", sp, (unsigned long long)now->highestmodseq);
		m->highestmodseq = now->highestmodseq;
	}
	buf_puts(b, ")\r\n");
}

static bool is_selected(const struct imap_notify *n, int64_t id)
{
	return n->s->view && n->s->view->mailbox_id == id;
}

/* The STATUS items an event for m may carry (RFC 5465 §5.1-5.3). */
static unsigned event_items(const struct imap_notify *n, unsigned ev)
{
	unsigned items = 0;
	if (ev & IMAP_NEV_MESSAGENEW)
		items |= IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT;
	if (ev & IMAP_NEV_MESSAGEEXPUNGE)
		items |= IMAP_STATUS_MESSAGES;
	if ((ev & IMAP_NEV_MESSAGE) && (n->s->condstore || n->s->qresync))
		items |= IMAP_STATUS_HIGHESTMODSEQ;
	if (ev & IMAP_NEV_MESSAGE)
		items |= IMAP_STATUS_UIDVALIDITY;
	return items;
}

/* A watched mailbox changed: STATUS with what changed of what the client asked for. */
static void report_status(struct imap_notify *n, struct buf *b, struct notify_mbox *m)
{
	struct imap_session *s = n->s;
	if (is_selected(n, m->id))
		return;         /* the selected mailbox has its own events */
	struct store_mailbox cur;
	if (store_mailbox_get(imap_store(s), s->account_id, m->name, &cur) != STORE_OK || cur.id != m->id)
		return;         /* renamed or deleted: the account watch has the news */
	struct status_now now = { cur.messages, cur.uidnext, cur.uidvalidity, cur.highestmodseq };
	unsigned items = event_items(n, m->events);
	if (now.messages == m->messages)
		items &= ~(unsigned)IMAP_STATUS_MESSAGES;
	if (now.uidnext == m->uidnext)
		items &= ~(unsigned)IMAP_STATUS_UIDNEXT;
	if (now.uidvalidity == m->uidvalidity)
		items &= ~(unsigned)IMAP_STATUS_UIDVALIDITY;
	if (now.highestmodseq == m->highestmodseq)
		items &= ~(unsigned)IMAP_STATUS_HIGHESTMODSEQ;
	put_status(n, b, m, &now, items);
}

/* NOTIFY SET STATUS (RFC 5465 §3.1): the items each watched mailbox's events need, changed or not. */
static void initial_status(struct imap_notify *n, struct buf *b, struct notify_mbox *m)
{
	if (!(m->events & IMAP_NEV_MESSAGE) || is_selected(n, m->id))
		return;
	unsigned items = 0;
	if (m->events & IMAP_NEV_MESSAGENEW)
		items |= IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT | IMAP_STATUS_UIDVALIDITY;
	if (m->events & IMAP_NEV_MESSAGEEXPUNGE)
		items |= IMAP_STATUS_MESSAGES;
	if (m->events & IMAP_NEV_FLAGCHANGE)
		items |= IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_HIGHESTMODSEQ;
	if ((m->events & (IMAP_NEV_MESSAGENEW | IMAP_NEV_MESSAGEEXPUNGE)) && (n->s->condstore || n->s->qresync))
		items |= IMAP_STATUS_HIGHESTMODSEQ;
	struct status_now now = { m->messages, m->uidnext, m->uidvalidity, m->highestmodseq };
	put_status(n, b, m, &now, items);
}

/* ---- the account's mailboxes ------------------------------------------------------ */

struct listing {
	struct notify_mbox **v;
	size_t n, cap;
	bool overflow;
	struct imap_notify *owner;
};

static int cmp_id(const void *a, const void *b);

/*
 * An entry for mb when a group matches it, or when it has one under
 * another name (renamed away from a watched name: its LIST with OLDNAME
 * is due, then it is dropped at the next refresh, quietly, its events 0).
 */
static void list_cb(void *ctx, const struct store_mailbox *mb)
{
	struct listing *l = ctx;
	struct imap_notify *n = l->owner;
	unsigned ev = name_events(n, mb->name, mb->special_use);
	if (!ev) {
		struct notify_mbox key = { .id = mb->id }, *kp = &key;
		struct notify_mbox **had = n->nmb ? bsearch(&kp, n->mb, n->nmb, sizeof *n->mb, cmp_id) : NULL;
		if (!had || strcmp((*had)->name, mb->name) == 0)
			return;
	}
	if (l->overflow)
		return;
	if (l->n == NOTIFY_MAX_MAILBOXES) {
		l->overflow = true;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	struct notify_mbox *m = xcalloc(1, sizeof *m);
	m->n = n;
	m->events = ev;
	m->id = mb->id;
	m->name = xstrdup(mb->name);
	snprintf(m->special_use, sizeof m->special_use, "%s", mb->special_use);
	m->messages = mb->messages;
	m->uidnext = mb->uidnext;
	m->uidvalidity = mb->uidvalidity;
	m->highestmodseq = mb->highestmodseq;
	l->v[l->n++] = m;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]->name);
		free(l->v[i]);
	}
	free(l->v);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = (*(struct notify_mbox *const *)a)->id, y = (*(struct notify_mbox *const *)b)->id;
	return x < y ? -1 : x > y;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(struct notify_mbox *const *)a)->name, (*(struct notify_mbox *const *)b)->name);
}

struct sub_list {
	char **v;
	size_t n, cap;
};

static void sub_cb(void *ctx, const char *name)
{
	struct sub_list *l = ctx;
	if (l->n == NOTIFY_MAX_MAILBOXES)
		return;         /* subscriptions without mailboxes: at most as many as mailboxes are kept */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = xstrdup(name);
}

/*
 * Read the subscriptions, then the account's mailboxes that a group
 * matches (the subscribed filter matching the new subscriptions); false
 * on a store error or past NOTIFY_MAX_MAILBOXES (*overflow).
 */
static bool read_account(struct imap_notify *n, struct listing *l, struct sub_list *subs, bool *overflow)
{
	struct imap_session *s = n->s;
	*overflow = false;
	l->owner = n;
	if (n->track_subs) {
		if (store_subscriptions(imap_store(s), s->account_id, sub_cb, subs) != STORE_OK)
			return false;
		names_sort(subs->v, &subs->n);
	}
	char **keep = n->subs;
	size_t nkeep = n->nsubs;
	n->subs = subs->v;
	n->nsubs = subs->n;
	enum store_status st = store_mailbox_list(imap_store(s), s->account_id, list_cb, l);
	n->subs = keep;
	n->nsubs = nkeep;
	if (st != STORE_OK)
		return false;
	if (l->overflow) {
		*overflow = true;
		return false;
	}
	return true;
}

static void rebuild_byname(struct imap_notify *n)
{
	free(n->byname);
	n->byname = n->nmb ? xmalloc(n->nmb * sizeof *n->byname) : NULL;
	if (n->nmb)
		memcpy(n->byname, n->mb, n->nmb * sizeof *n->byname);
	if (n->nmb)
		qsort(n->byname, n->nmb, sizeof *n->byname, cmp_name);
}

/* SubscriptionChange (RFC 5465 §5.5): a LIST for each name whose subscription changed. */
static void report_subscriptions(struct imap_notify *n, struct buf *b, char **old, size_t nold)
{
	unsigned sub_events = 0;
	for (size_t i = 0; i < n->ngroups; i++)
		if (n->groups[i].filter == IMAP_NF_SUBSCRIBED)
			sub_events |= n->groups[i].events;  /* the name was or is subscribed */
	size_t i = 0, j = 0;
	while (i < nold || j < n->nsubs) {
		int c = i == nold ? 1 : j == n->nsubs ? -1 : strcmp(old[i], n->subs[j]);
		const char *name = c < 0 ? old[i] : n->subs[j];
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		struct notify_mbox *m = NULL;
		struct notify_mbox key = { .name = (char *)name }, *kp = &key, **hit =
			n->nmb ? bsearch(&kp, n->byname, n->nmb, sizeof *n->byname, cmp_name) : NULL;
		if (hit)
			m = *hit;
		unsigned ev = sub_events | name_events(n, name, m ? m->special_use : "");
		if (ev & IMAP_NEV_SUBSCRIPTIONCHANGE)
			put_list(n, b, name, m, NULL);
		if (c < 0)
			i++;
		else
			j++;
	}
}

/*
 * The account's list of mailboxes changed: merge the new listing into the
 * entries by id, reporting what MailboxName asks for, then the
 * subscriptions.  false: over NOTIFY_MAX_MAILBOXES (or a store error).
 */
static bool account_refresh(struct imap_notify *n, struct buf *b)
{
	struct listing l = { 0 };
	struct sub_list subs = { 0 };
	bool overflow;
	if (!read_account(n, &l, &subs, &overflow)) {
		listing_free(&l);
		names_free(subs.v, subs.n);
		return !overflow;   /* a store error: try again at the next change */
	}
	char **oldsubs = n->subs;
	size_t noldsubs = n->nsubs;
	n->subs = subs.v;
	n->nsubs = subs.n;
	if (l.n)
		qsort(l.v, l.n, sizeof *l.v, cmp_id);
	/* the names as they are now, for \HasChildren of what is reported */
	struct notify_mbox **old = n->mb;
	size_t nold = n->nmb;
	n->mb = l.v;
	n->nmb = l.n;
	rebuild_byname(n);
	/* listing entries replaced by the old ones they describe; byname points at them until the end */
	struct notify_mbox **dead = l.n ? xmalloc(l.n * sizeof *dead) : NULL;
	size_t ndead = 0;
	size_t i = 0, j = 0;
	while (i < nold || j < l.n) {
		struct notify_mbox *o = i < nold ? old[i] : NULL, *m = j < l.n ? l.v[j] : NULL;
		if (o && m && o->id == m->id) {
			unsigned ev = name_events(n, m->name, m->special_use);
			if (strcmp(o->name, m->name) != 0 && ((ev | o->events) & IMAP_NEV_MAILBOXNAME))
				put_list(n, b, m->name, m, o->name);
			/* the entry stays (its watch, its dirty state, what the client was told); new name */
			free(o->name);
			o->name = xstrdup(m->name);
			memcpy(o->special_use, m->special_use, sizeof o->special_use);
			bool had = (o->events & IMAP_NEV_MESSAGE) != 0;
			o->events = ev;
			if (!had) {     /* newly watched: the client is taken to know it as it is */
				o->messages = m->messages;
				o->uidnext = m->uidnext;
				o->uidvalidity = m->uidvalidity;
				o->highestmodseq = m->highestmodseq;
			}
			mbox_watch_update(o);
			dead[ndead++] = m;
			l.v[j] = o;
			i++;
			j++;
		} else if (m && (!o || m->id < o->id)) {
			m->events = name_events(n, m->name, m->special_use);
			if (m->events & IMAP_NEV_MAILBOXNAME)
				put_list(n, b, m->name, m, NULL);
			mbox_watch_update(m);
			j++;
		} else {
			if (o->events & IMAP_NEV_MAILBOXNAME)
				put_list(n, b, o->name, NULL, NULL);
			mbox_free(o);
			i++;
		}
	}
	free(old);
	rebuild_byname(n);      /* the entries moved */
	for (size_t k = 0; k < ndead; k++) {
		free(dead[k]->name);
		free(dead[k]);
	}
	free(dead);
	if (n->track_subs)
		report_subscriptions(n, b, oldsubs, noldsubs);
	names_free(oldsubs, noldsubs);
	return true;
}

/* ---- delivery ------------------------------------------------------------------ */

unsigned imap_notify_selected_events(const struct imap_session *s)
{
	return s->notify ? s->notify->sel_events : IMAP_NEV_MESSAGE;
}

/* Send the MessageNew FETCHes waiting, as far as the output allows. */
static void send_fetches(struct imap_notify *n)
{
	struct imap_session *s = n->s;
	if (!s->view || s->view->mailbox_id != n->fetch_mailbox) {
		n->nfetch = 0;  /* another mailbox now: those numbers mean nothing */
		return;
	}
	size_t done = imap_fetch_unsolicited(s, n->cmd, n->fetch, n->nfetch);
	memmove(n->fetch, n->fetch + done, (n->nfetch - done) * sizeof *n->fetch);
	n->nfetch -= done;
	if (n->nfetch && s->c)
		conn_notify_drained(s->c);
}

void imap_notify_new_messages(struct imap_session *s, const uint32_t *uids, size_t nuids)
{
	struct imap_notify *n = s->notify;
	if (!n || !n->cmd || !n->cmd->natts || !(n->sel_events & IMAP_NEV_MESSAGENEW) || !s->view || !nuids)
		return;
	if (n->nfetch && n->fetch_mailbox != s->view->mailbox_id)
		n->nfetch = 0;
	n->fetch_mailbox = s->view->mailbox_id;
	if (n->nfetch + nuids > n->capfetch) {
		n->capfetch = n->nfetch + nuids + 16;
		n->fetch = xrealloc(n->fetch, n->capfetch * sizeof *n->fetch);
	}
	memcpy(n->fetch + n->nfetch, uids, nuids * sizeof *uids);
	n->nfetch += nuids;
	send_fetches(n);
}

/* RFC 5465 §5.8: too much to watch; from now on as if NOTIFY NONE. */
static void overflow(struct imap_session *s)
{
	log_info("imap", "session=%s msg=\"NOTIFY overflow\" user=%s limit=%d", s->c ? s->c->id : "-", lq(s->user),
		 NOTIFY_MAX_MAILBOXES);
	imap_notify_free(s);
	imap_untagged(s, "OK [NOTIFICATIONOVERFLOW] Too many mailboxes to watch, notifications are off");
}

void imap_notify_push(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (!n || !s->c)
		return;
	n->deferred = false;
	struct buf b = BUF_INIT;
	pthread_mutex_lock(&n->mu);
	bool account = n->account_dirty;
	n->account_dirty = false;
	pthread_mutex_unlock(&n->mu);
	if (account && !account_refresh(n, &b)) {
		imap_write(s, b.data, b.len);
		buf_free(&b);
		overflow(s);
		return;
	}
	pthread_mutex_lock(&n->mu);
	struct notify_mbox *d = n->dirty;
	n->dirty = NULL;
	for (struct notify_mbox *m = d; m; m = m->next_dirty)
		m->dirty = false;
	pthread_mutex_unlock(&n->mu);
	/* next_dirty stays intact until an entry is queued again, which needs mu and a watch firing */
	for (struct notify_mbox *m = d; m; m = m->next_dirty) {
		report_status(n, &b, m);
		if (b.len > 65536) {
			imap_write(s, b.data, b.len);
			buf_reset(&b);
		}
	}
	imap_write(s, b.data, b.len);
	buf_free(&b);
	if (n->nfetch)
		send_fetches(n);
}

void imap_notify_wake(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (!n || !s->c || s->logout)
		return;
	/* RFC 5465 §3: between commands; never inside one, nor while one is still arriving */
	if (s->busy != IBUSY_NONE || s->in != IN_LINE || s->cmd.len) {
		n->deferred = true;
		return;
	}
	if (conn_output_pending(s->c) > IMAP_OUTPUT_MAX) {
		n->deferred = true;
		conn_notify_drained(s->c);
		return;
	}
	n->deferred = false;
	/* selected-delayed: EXPUNGE only where RFC 9051 §7.5.1 allows it, i.e. not now */
	if (s->view && n->sel_events)
		imap_sync(s, !n->sel_delayed);
	imap_notify_push(s);
}

bool imap_notify_pending(const struct imap_session *s)
{
	return s->notify && (s->notify->deferred || s->notify->nfetch);
}

/* ---- NOTIFY --------------------------------------------------------------------- */

/* Decode a group's names (imap_mailbox_arg: mUTF-7 or UTF-8, INBOX); false with the reply sent. */
static bool group_names(struct imap_session *s, struct imap_cmd *cmd, const struct imap_notify_group *pg,
			struct notify_group *g)
{
	g->names = pg->nmailboxes ? xcalloc(pg->nmailboxes, sizeof *g->names) : NULL;
	struct buf name = BUF_INIT;
	for (size_t i = 0; i < pg->nmailboxes; i++) {
		if (!imap_mailbox_arg(s, cmd, &pg->mailboxes[i], &name)) {
			buf_free(&name);
			return false;
		}
		g->names[g->nnames++] = buf_steal(&name);
	}
	buf_free(&name);
	names_sort(g->names, &g->nnames);
	return true;
}

/* Build the state for cmd; NULL when refused (the reply sent). */
static struct imap_notify *notify_new(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_notify *n = xcalloc(1, sizeof *n);
	n->s = s;
	pthread_mutex_init(&n->mu, NULL);
	n->groups = xcalloc(cmd->notify_ngroups ? cmd->notify_ngroups : 1, sizeof *n->groups);
	for (size_t i = 0; i < cmd->notify_ngroups; i++) {
		const struct imap_notify_group *pg = &cmd->notify_groups[i];
		if (pg->filter == IMAP_NF_SELECTED || pg->filter == IMAP_NF_SELECTED_DELAYED) {
			n->sel_events = pg->events;
			n->sel_delayed = pg->filter == IMAP_NF_SELECTED_DELAYED;
			continue;
		}
		struct notify_group *g = &n->groups[n->ngroups++];
		g->filter = pg->filter;
		g->events = pg->events;
		if (pg->filter == IMAP_NF_SUBSCRIBED || (pg->events & IMAP_NEV_SUBSCRIPTIONCHANGE))
			n->track_subs = true;
		if (!group_names(s, cmd, pg, g))
			goto fail;
	}
	if (!n->ngroups)
		return n;
	/* Watch before reading, so a change committed in between is not missed. */
	n->account_watch = store_account_watch_add(s->account_id, account_fired, n);
	struct listing l = { 0 };
	struct sub_list subs = { 0 };
	bool over;
	if (!read_account(n, &l, &subs, &over)) {
		listing_free(&l);
		names_free(subs.v, subs.n);
		if (over)
			imap_tagged(s, cmd->tag, "NO", "[NOTIFICATIONOVERFLOW] More than %d mailboxes to watch",
				    NOTIFY_MAX_MAILBOXES);
		else
			imap_store_error(s, cmd->tag, STORE_IOERR, "NOTIFY");
		goto fail;
	}
	n->subs = subs.v;
	n->nsubs = subs.n;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < l.n; i++) {      /* INBOX first, then by name: the order STATUS goes in */
		struct notify_mbox *m = l.v[i];
		m->events = name_events(n, m->name, m->special_use);
		if (cmd->notify_status)
			initial_status(n, &b, m);
	}
	imap_write(s, b.data, b.len);
	buf_free(&b);
	if (l.n)
		qsort(l.v, l.n, sizeof *l.v, cmp_id);
	n->mb = l.v;
	n->nmb = l.n;
	rebuild_byname(n);
	for (size_t i = 0; i < n->nmb; i++)
		mbox_watch_update(n->mb[i]);
	return n;
fail:
	notify_destroy(n);
	return NULL;
}

void imap_cmd_notify(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->notify_none) {
		imap_notify_free(s);
		imap_ok(s, cmd, "NOTIFY completed");
		return;
	}
	struct imap_notify *n = notify_new(s, cmd);
	if (!n)
		return;
	imap_notify_free(s);
	s->notify = n;
	/* The state keeps the command: its fetch-atts are what MessageNew sends. */
	n->cmd = cmd;
	s->cmd_parsed = NULL;
	/* RFC 5465 §3.1: an implicit NOOP (imap_ok announces the selected mailbox's news). */
	imap_ok(s, cmd, "NOTIFY completed");
}
