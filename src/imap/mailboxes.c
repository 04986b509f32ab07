/*
 * mailboxes.c — the commands about mailboxes rather than messages:
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 §6.3.4-8),
 * LIST with LIST-EXTENDED, LIST-STATUS and SPECIAL-USE (RFC 9051 §6.3.9,
 * RFC 5258, 5819, 6154), LSUB (RFC 3501 §6.3.9), NAMESPACE (RFC 2342),
 * STATUS (RFC 9051 §6.3.11 with RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ,
 * RFC 7889 APPENDLIMIT) and QUOTA (RFC 9208).
 *
 * Names reach the store as UTF-8 through imap_mailbox_arg (session.c),
 * and go back to the client through imap_put_mailbox.  Pattern matching
 * and the choice of what a listing returns are in listmatch.c; this file
 * reads the account's mailboxes (one store_mailbox_infos call, which also
 * carries every STATUS count, so LIST-STATUS costs no further query) and
 * writes the responses.
 *
 * Decisions where the RFCs leave a choice:
 *  - DELETE of a mailbox with children is refused with NO [INUSE]: the
 *    store keeps no \Noselect placeholders (every mailbox's parents exist
 *    as real mailboxes), so the RFC 9051 §6.3.5 alternative — delete it and
 *    leave a \Noselect name — is not available.  DELETE of the mailbox this
 *    session has selected is refused with NO [INUSE] too (other sessions
 *    see it vanish); RENAME of it is allowed and the view follows.
 *  - \HasChildren / \HasNoChildren are always returned (CHILDREN is
 *    announced), special-use attributes always (RFC 6154 §2); attribute
 *    order: special use, children, \Subscribed.  No \Marked/\Unmarked.
 *  - The hierarchy delimiter is "/" and there is one personal namespace
 *    with the empty prefix.  A non-empty LIST reference is simply put in
 *    front of the pattern (a pattern starting with "/" ignores it); the
 *    root returned for the "" pattern is always "".
 *  - "Extended" LIST (RFC 5258 §3: selection or return options, or a
 *    pattern list) ignores empty patterns; only the basic LIST "" form
 *    asks for the delimiter.  The parser does not say whether a single
 *    pattern was given in parentheses, so LIST "" ("") counts as basic.
 *  - Quota: one quota root "" for the whole account.  Only resources with
 *    a limit are listed (RFC 9208 §4.1: a QUOTA response lists at least
 *    one), so an account without limits has no quota root: GETQUOTAROOT
 *    answers "* QUOTAROOT mailbox" alone and GETQUOTA "" NO [NONEXISTENT].
 *    STORAGE is in units of 1024 octets, usage rounded up, limit down.
 *    SETQUOTA is NO [NOPERM]: limits are the administrator's
 *    (`tern user quota`).
 *  - STATUS RECENT counts the messages no session has claimed as \Recent
 *    yet (what the next SELECT would see); APPENDLIMIT is [smtp]
 *    max_message_size, the same for every mailbox.
 */
#include "imap/session.h"
#include "imap/listmatch.h"
#include "imap/mutf7.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUTPUT_CHUNK 65536      /* LIST output is handed to the connection in pieces of about this size */

static bool is_inbox(const char *name)
{
	return strcmp(name, "INBOX") == 0;
}

/* imap_mailbox_arg, releasing out when it fails (a failed decode may leave memory in it). */
static bool mailbox_arg(struct imap_session *s, const struct imap_cmd *cmd, const struct imap_str *arg,
			struct buf *out)
{
	if (imap_mailbox_arg(s, cmd, arg, out))
		return true;
	buf_free(out);
	return false;
}

/* ---- CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE ------------------------------ */

/* The special uses store.h accepts (RFC 6154 §2), in the spelling it wants; NULL if unknown. */
static const char *special_use_canonical(const char *use)
{
	static const char *const uses[] = {
		"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash", "\\All", "\\Flagged",
	};
	for (size_t i = 0; i < ARRAY_LEN(uses); i++)
		if (strcasecmp(use, uses[i]) == 0)
			return uses[i];
	return NULL;
}

void imap_cmd_create(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf name = BUF_INIT;
	if (!mailbox_arg(s, cmd, &cmd->mailbox, &name))
		return;
	const char *use = cmd->use[0] ? special_use_canonical(cmd->use) : "";
	if (!use) {
		/* RFC 6154 §3: the special use is the problem, not the name */
		imap_tagged(s, cmd->tag, "NO", "[USEATTR] CREATE: special use not supported");
	} else if (is_inbox(name.data)) {
		imap_tagged(s, cmd->tag, "NO", "[ALREADYEXISTS] INBOX always exists");
	} else {
		/* STORE_INVALID: a name the store cannot hold (empty level, wildcard, control character, too long) */
		enum store_status st = store_mailbox_create(imap_store(s), s->account_id, name.data, use);
		if (st == STORE_OK)
			imap_ok(s, cmd, "CREATE completed");
		else
			imap_store_error(s, cmd->tag, st, "CREATE");
	}
	buf_free(&name);
}

void imap_cmd_delete(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf name = BUF_INIT;
	if (!mailbox_arg(s, cmd, &cmd->mailbox, &name))
		return;
	if (is_inbox(name.data)) {
		imap_tagged(s, cmd->tag, "NO", "[CANNOT] INBOX cannot be deleted");
	} else if (s->view && strcmp(s->view->name, name.data) == 0) {
		imap_tagged(s, cmd->tag, "NO", "[INUSE] DELETE: mailbox is selected, close it first");
	} else {
		enum store_status st = store_mailbox_delete(imap_store(s), s->account_id, name.data);
		if (st == STORE_OK)
			imap_ok(s, cmd, "DELETE completed");
		else    /* a name the store cannot hold names no mailbox */
			imap_store_error(s, cmd->tag, st == STORE_INVALID ? STORE_NOTFOUND : st, "DELETE");
	}
	buf_free(&name);
}

static void found_cb(void *ctx, const struct store_mailbox_info *mb)
{
	(void)mb;
	*(bool *)ctx = true;
}

static bool mailbox_exists(struct imap_session *s, const char *name)
{
	bool found = false;
	return store_mailbox_info(imap_store(s), s->account_id, name, found_cb, &found) == STORE_OK && found;
}

/* The selected mailbox (or an ancestor of it) was renamed from -> to: the view follows. */
static void view_renamed(struct imap_session *s, const char *from, const char *to)
{
	struct imap_view *v = s->view;
	size_t fn = strlen(from);
	if (!v || is_inbox(from) || strncmp(v->name, from, fn) != 0 || (v->name[fn] && v->name[fn] != '/'))
		return;
	struct buf b = BUF_INIT;
	buf_puts(&b, to);
	buf_puts(&b, v->name + fn);
	free(v->name);
	v->name = buf_steal(&b);
}

void imap_cmd_rename(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf from = BUF_INIT, to = BUF_INIT;
	if (!mailbox_arg(s, cmd, &cmd->mailbox, &from) || !mailbox_arg(s, cmd, &cmd->mailbox2, &to))
		goto out;
	enum store_status st = store_mailbox_rename(imap_store(s), s->account_id, from.data, to.data);
	if (st == STORE_OK) {
		view_renamed(s, from.data, to.data);
		imap_ok(s, cmd, "RENAME completed");
	} else if (st == STORE_INVALID && !mailbox_exists(s, from.data)) {
		/* the source cannot exist: that, not the new name, is the problem */
		imap_store_error(s, cmd->tag, STORE_NOTFOUND, "RENAME");
	} else {
		/* STORE_INVALID here: a new name the store cannot hold, or one inside the old */
		imap_store_error(s, cmd->tag, st, "RENAME");
	}
out:
	buf_free(&from);
	buf_free(&to);
}

void imap_cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd)
{
	bool on = cmd->type == IMAP_CMD_SUBSCRIBE;
	const char *what = on ? "SUBSCRIBE" : "UNSUBSCRIBE";
	struct buf name = BUF_INIT;
	if (!mailbox_arg(s, cmd, &cmd->mailbox, &name))
		return;
	/* Only an existing mailbox can be subscribed (NONEXISTENT); a subscription outlives its mailbox. */
	enum store_status st = store_mailbox_subscribe(imap_store(s), s->account_id, name.data, on);
	if (st == STORE_OK)
		imap_ok(s, cmd, "%s completed", what);
	else
		imap_store_error(s, cmd->tag, st == STORE_INVALID ? STORE_NOTFOUND : st, what);
	buf_free(&name);
}

/* ---- STATUS ------------------------------------------------------------------ */

/* What LIST and STATUS need of a mailbox (a copy: the store's strings die with its callback). */
struct mbox {
	char *name;
	char *special_use;
	bool subscribed;
	bool has_children;
	bool nonexistent;           /* a subscription whose mailbox is gone (LIST, LSUB) */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	uint32_t messages, unseen, deleted, recent;
	uint64_t size;
};

static void mbox_copy(struct mbox *m, const struct store_mailbox_info *mb)
{
	m->name = xstrdup(mb->name ? mb->name : "");
	m->special_use = xstrdup(mb->special_use ? mb->special_use : "");
	m->subscribed = mb->subscribed;
	m->has_children = mb->has_children;
	m->uidvalidity = mb->uidvalidity;
	m->uidnext = mb->uidnext;
	m->highestmodseq = mb->highestmodseq;
	m->messages = mb->messages;
	m->unseen = mb->unseen;
	m->recent = mb->recent;
	m->deleted = mb->deleted;
	m->size = mb->size;
}

static void mbox_clear(struct mbox *m)
{
	free(m->name);
	free(m->special_use);
}

/* "* STATUS name (items)\r\n", items in the order of RFC 9051 §7.3.4's examples, then the extensions'. */
static void put_status(struct imap_session *s, struct buf *b, const struct mbox *m, unsigned items)
{
	buf_puts(b, "* STATUS ");
	imap_put_mailbox(s, b, m->name);
	buf_puts(b, " (");
	const struct {
		unsigned bit;
		const char *name;
		uint64_t value;
	} item[] = {
		{ IMAP_STATUS_MESSAGES, "MESSAGES", m->messages },
		{ IMAP_STATUS_RECENT, "RECENT", m->recent },
		{ IMAP_STATUS_UIDNEXT, "UIDNEXT", m->uidnext },
		{ IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY", m->uidvalidity },
		{ IMAP_STATUS_UNSEEN, "UNSEEN", m->unseen },
		{ IMAP_STATUS_DELETED, "DELETED", m->deleted },
		{ IMAP_STATUS_SIZE, "SIZE", m->size },
		{ IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ", m->highestmodseq },
		{ IMAP_STATUS_APPENDLIMIT, "APPENDLIMIT", s->srv->cfg->smtp.max_message_size },
	};
	const char *sp = "";
	for (size_t i = 0; i < ARRAY_LEN(item); i++) {
		if (items & item[i].bit) {
			buf_printf(b, "%s%s %llu", sp, item[i].name, (unsigned long long)item[i].value);
			sp = " ";
		}
	}
	buf_puts(b, ")\r\n");
}

static void status_cb(void *ctx, const struct store_mailbox_info *mb)
{
	struct mbox *m = ctx;
	if (!m->name)
		mbox_copy(m, mb);
}

void imap_cmd_status(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf name = BUF_INIT;
	if (!mailbox_arg(s, cmd, &cmd->mailbox, &name))
		return;
	/* RFC 7162 §3.1: asking for HIGHESTMODSEQ enables CONDSTORE. */
	if (cmd->status_items & IMAP_STATUS_HIGHESTMODSEQ)
		s->condstore = true;
	struct mbox m = { 0 };
	enum store_status st = store_mailbox_info(imap_store(s), s->account_id, name.data, status_cb, &m);
	if (st == STORE_OK && !m.name)
		st = STORE_NOTFOUND;
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st == STORE_INVALID ? STORE_NOTFOUND : st, "STATUS");
	} else {
		struct buf b = BUF_INIT;
		put_status(s, &b, &m, cmd->status_items);
		imap_write(s, b.data, b.len);
		buf_free(&b);
		imap_ok(s, cmd, "STATUS completed");
	}
	mbox_clear(&m);
	buf_free(&name);
}

/* ---- LIST LSUB ----------------------------------------------------------------- */

struct mbox_list {
	struct mbox *v;
	size_t n, cap;
};

static struct mbox *list_push(struct mbox_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	struct mbox *m = &l->v[l->n++];
	memset(m, 0, sizeof *m);
	return m;
}

static void list_cb(void *ctx, const struct store_mailbox_info *mb)
{
	mbox_copy(list_push(ctx), mb);
}

/* Subscribed names, for those without a mailbox. */
struct sub_list {
	char **v;
	size_t n, cap;
};

static void sub_cb(void *ctx, const char *name)
{
	struct sub_list *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = xstrdup(name);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * LSUB and LIST (SUBSCRIBED) also return subscribed names whose mailbox
 * is gone (RFC 5258 §3.1: \NonExistent): add them to l.
 */
static enum store_status add_orphan_subscriptions(struct imap_session *s, struct mbox_list *l)
{
	struct sub_list subs = { 0 };
	enum store_status st = store_subscriptions(imap_store(s), s->account_id, sub_cb, &subs);
	char **names = xcalloc(l->n ? l->n : 1, sizeof *names);
	for (size_t i = 0; i < l->n; i++)
		names[i] = l->v[i].name;
	qsort(names, l->n, sizeof *names, name_cmp);
	size_t nmb = l->n;
	for (size_t i = 0; st == STORE_OK && i < subs.n; i++) {
		if (bsearch(&subs.v[i], names, nmb, sizeof *names, name_cmp))
			continue;
		struct mbox *m = list_push(l);
		m->name = subs.v[i];
		subs.v[i] = NULL;
		m->special_use = xstrdup("");
		m->subscribed = m->nonexistent = true;
	}
	for (size_t i = 0; i < subs.n; i++)
		free(subs.v[i]);
	free(subs.v);
	free(names);
	return st;
}

/*
 * A reference or pattern as sent -> UTF-8 (no hierarchy rules, no INBOX
 * folding: that is the matcher's).  false when the encoding is invalid.
 */
static bool decode_pattern(struct imap_session *s, const struct imap_str *arg, struct buf *out)
{
	const char *p = arg->p ? arg->p : "";
	if (memchr(p, '\0', arg->n))
		return false;
	if (s->utf8) {
		if (!utf8_valid(p, arg->n))
			return false;
		buf_append(out, p, arg->n);
		return true;
	}
	return imap_mutf7_to_utf8(p, arg->n, out);
}

static void flush_chunk(struct imap_session *s, struct buf *b, bool all)
{
	if (b->len && (all || b->len >= OUTPUT_CHUNK)) {
		imap_write(s, b->data, b->len);
		buf_reset(b);
	}
}

/* One LIST / LSUB line (and its STATUS line for LIST-STATUS). */
static void put_list_line(struct imap_session *s, const struct imap_cmd *cmd, struct buf *b,
			  const struct imap_list_entry *e)
{
	const struct mbox *m = e->data;
	unsigned o = cmd->list_opts;
	if (cmd->type == IMAP_CMD_LSUB) {
		/* a parent that is listed only for its subscribed children (RFC 3501 §6.3.9) */
		buf_printf(b, "* LSUB (%s) \"/\" ", e->selected ? "" : "\\Noselect");
		imap_put_mailbox(s, b, m->name);
		buf_puts(b, "\r\n");
		return;
	}
	buf_puts(b, "* LIST (");
	if (m->nonexistent) {
		/* RFC 5258 §3.4: \NonExistent implies \Noselect, and it has no children to speak of */
		buf_puts(b, (o & IMAP_LIST_RET_SUBSCRIBED) ? "\\NonExistent \\Subscribed) \"/\" " : "\\NonExistent) \"/\" ");
		imap_put_mailbox(s, b, m->name);
		buf_puts(b, "\r\n");
		return;
	}
	if (*m->special_use) {
		buf_puts(b, m->special_use);
		buf_putc(b, ' ');
	}
	buf_puts(b, m->has_children ? "\\HasChildren" : "\\HasNoChildren");
	if ((o & IMAP_LIST_RET_SUBSCRIBED) && m->subscribed)
		buf_puts(b, " \\Subscribed");
	buf_puts(b, ") \"/\" ");
	imap_put_mailbox(s, b, m->name);
	if (e->childinfo) {
		/* RFC 5258 §3.5: the selection criteria some descendant meets */
		buf_puts(b, " (\"CHILDINFO\" (");
		if (o & IMAP_LIST_SEL_SUBSCRIBED)
			buf_puts(b, (o & IMAP_LIST_SEL_SPECIAL_USE) ? "\"SUBSCRIBED\" " : "\"SUBSCRIBED\"");
		if (o & IMAP_LIST_SEL_SPECIAL_USE)
			buf_puts(b, "\"SPECIAL-USE\"");
		buf_puts(b, "))");
	}
	buf_puts(b, "\r\n");
	/* RFC 5819: right after its LIST line; every listed mailbox exists and is selectable */
	if (o & IMAP_LIST_RET_STATUS)
		put_status(s, b, m, cmd->status_items);
}

void imap_cmd_list(struct imap_session *s, struct imap_cmd *cmd)
{
	bool lsub = cmd->type == IMAP_CMD_LSUB;
	unsigned o = lsub ? 0 : cmd->list_opts;
	bool extended = o != 0 || cmd->npatterns > 1;
	struct buf ref = BUF_INIT, pat = BUF_INIT, out = BUF_INIT;
	struct imap_listmatch **pats = xcalloc(cmd->npatterns ? cmd->npatterns : 1, sizeof *pats);
	size_t npats = 0;
	struct mbox_list l = { 0 };
	struct imap_list_entry *e = NULL;

	if (!decode_pattern(s, &cmd->reference, &ref)) {
		imap_bad(s, cmd->tag, "Invalid reference name");
		goto out;
	}
	if (!extended && cmd->npatterns == 1 && cmd->patterns[0].n == 0) {
		/* RFC 9051 §6.3.9: the delimiter and the (always empty) root */
		if (!lsub)
			imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_ok(s, cmd, "%s completed", lsub ? "LSUB" : "LIST");
		goto out;
	}
	for (size_t i = 0; i < cmd->npatterns; i++) {
		buf_reset(&pat);
		if (cmd->patterns[i].n == 0)
			continue;   /* extended LIST: an empty pattern matches nothing */
		if (cmd->patterns[i].p[0] != '/')
			buf_append(&pat, ref.data ? ref.data : "", ref.len);
		if (!decode_pattern(s, &cmd->patterns[i], &pat))
			continue;   /* no mailbox name decodes to it: it matches nothing */
		pats[npats++] = imap_listmatch_new(pat.data ? pat.data : "", pat.len);
	}
	if (o & IMAP_LIST_RET_STATUS && cmd->status_items & IMAP_STATUS_HIGHESTMODSEQ)
		s->condstore = true;    /* RFC 7162 §3.1 */
	if (!npats) {
		imap_ok(s, cmd, "%s completed", lsub ? "LSUB" : "LIST");
		goto out;
	}

	enum store_status st = store_mailbox_infos(imap_store(s), s->account_id, list_cb, &l);
	if (st == STORE_OK && (lsub || (o & IMAP_LIST_SEL_SUBSCRIBED)))
		st = add_orphan_subscriptions(s, &l);
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, lsub ? "LSUB" : "LIST");
		goto out;
	}
	e = xcalloc(l.n ? l.n : 1, sizeof *e);
	for (size_t i = 0; i < l.n; i++) {
		e[i].name = l.v[i].name;
		e[i].subscribed = l.v[i].subscribed;
		e[i].special_use = l.v[i].special_use[0] != '\0';
		e[i].data = &l.v[i];
	}
	unsigned sel = 0;
	if (lsub)
		sel = IMAP_LISTSEL_SUBSCRIBED | IMAP_LISTSEL_RECURSIVE;
	if (o & IMAP_LIST_SEL_SUBSCRIBED)
		sel |= IMAP_LISTSEL_SUBSCRIBED;
	if (o & IMAP_LIST_SEL_SPECIAL_USE)
		sel |= IMAP_LISTSEL_SPECIAL_USE;
	if (o & IMAP_LIST_SEL_RECURSIVEMATCH)
		sel |= IMAP_LISTSEL_RECURSIVE;
	imap_list_select(e, l.n, pats, npats, sel);
	for (size_t i = 0; i < l.n; i++) {
		if (!e[i].show)
			continue;
		put_list_line(s, cmd, &out, &e[i]);
		flush_chunk(s, &out, false);
	}
	flush_chunk(s, &out, true);
	imap_ok(s, cmd, "%s completed", lsub ? "LSUB" : "LIST");
out:
	for (size_t i = 0; i < npats; i++)
		imap_listmatch_free(&pats[i]);
	free(pats);
	for (size_t i = 0; i < l.n; i++)
		mbox_clear(&l.v[i]);
	free(l.v);
	free(e);
	buf_free(&ref);
	buf_free(&pat);
	buf_free(&out);
}

void imap_cmd_namespace(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_ok(s, cmd, "NAMESPACE completed");
}

/* ---- QUOTA ------------------------------------------------------------------- */

/* "* QUOTA "" (...)" with the resources that have a limit; false (nothing written) when none has. */
static bool put_quota(struct buf *b, const struct store_quota *q)
{
	if (!q->storage_limit && !q->messages_limit)
		return false;
	buf_puts(b, "* QUOTA \"\" (");
	if (q->storage_limit) {
		uint64_t used_kib = q->storage_used / 1024 + (q->storage_used % 1024 != 0);
		buf_printf(b, "STORAGE %llu %llu", (unsigned long long)used_kib,
			   (unsigned long long)(q->storage_limit / 1024));
	}
	if (q->messages_limit)
		buf_printf(b, "%sMESSAGE %llu %llu", q->storage_limit ? " " : "", (unsigned long long)q->messages_used,
			   (unsigned long long)q->messages_limit);
	buf_puts(b, ")\r\n");
	return true;
}

static void quota_root(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf name = BUF_INIT, b = BUF_INIT;
	if (!mailbox_arg(s, cmd, &cmd->mailbox, &name))
		return;
	struct store *st = imap_store(s);
	bool found = false;
	enum store_status rc = store_mailbox_info(st, s->account_id, name.data, found_cb, &found);
	if (rc == STORE_OK && !found)
		rc = STORE_NOTFOUND;
	struct store_quota q;
	if (rc == STORE_OK)
		rc = store_quota_get(st, s->account_id, &q);
	if (rc != STORE_OK) {
		imap_store_error(s, cmd->tag, rc == STORE_INVALID ? STORE_NOTFOUND : rc, "GETQUOTAROOT");
		goto out;
	}
	struct buf quota = BUF_INIT;
	bool has_root = put_quota(&quota, &q);
	buf_puts(&b, "* QUOTAROOT ");
	imap_put_mailbox(s, &b, name.data);
	buf_puts(&b, has_root ? " \"\"\r\n" : "\r\n");
	buf_append(&b, quota.data ? quota.data : "", quota.len);
	buf_free(&quota);
	imap_write(s, b.data, b.len);
	imap_ok(s, cmd, "GETQUOTAROOT completed");
out:
	buf_free(&name);
	buf_free(&b);
}

void imap_cmd_quota(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->type == IMAP_CMD_SETQUOTA) {
		imap_tagged(s, cmd->tag, "NO", "[NOPERM] Quotas are set by the administrator");
		return;
	}
	if (cmd->type == IMAP_CMD_GETQUOTAROOT) {
		quota_root(s, cmd);
		return;
	}
	struct store_quota q;
	enum store_status rc = store_quota_get(imap_store(s), s->account_id, &q);
	if (rc != STORE_OK) {
		imap_store_error(s, cmd->tag, rc, "GETQUOTA");
		return;
	}
	struct buf b = BUF_INIT;
	if (cmd->arg.n != 0 || !put_quota(&b, &q)) {
		imap_tagged(s, cmd->tag, "NO", "[NONEXISTENT] GETQUOTA: no such quota root");
	} else {
		imap_write(s, b.data, b.len);
		imap_ok(s, cmd, "GETQUOTA completed");
	}
	buf_free(&b);
}
