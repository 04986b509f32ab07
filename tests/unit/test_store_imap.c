/*
 * test_store_imap.c — unit tests of what the store offers IMAP and POP3
 * (store.h, "what IMAP and POP3 need") with the SQLite backend, each in a
 * fresh data directory: mailbox names and keyword lists, create / delete /
 * rename / subscribe, STATUS counters, flags and keywords with
 * UNCHANGEDSINCE, modseq progression and changes since a modseq, expunge,
 * copy and move, quotas (copy, APPEND through the writer, the CLI-facing
 * set/get), message ranges and blobs, change notification and the
 * mailbox lock, and the schema 1 -> 2 migration.
 */
#include "test_store_util.h"

#include <sqlite3.h>

#include "store/keywords.h"

/* ---- helpers ------------------------------------------------------------ */

/* A copy of every reported change, in order. */
struct changes {
	struct store_change v[256];
	char kw[256][128];
	size_t n;
};

static void collect_change(void *ctx, const struct store_change *c)
{
	struct changes *cs = ctx;
	assert_true(cs->n < 256);
	cs->v[cs->n] = *c;
	snprintf(cs->kw[cs->n], sizeof cs->kw[0], "%s", c->keywords ? c->keywords : "");
	cs->v[cs->n].keywords = cs->kw[cs->n];
	cs->n++;
}

struct infos {
	struct buf names;               /* "name(flags);" */
	struct store_mailbox_info last; /* of the last one reported, strings not kept */
	char keywords[1100];
	size_t n;
};

static void collect_info(void *ctx, const struct store_mailbox_info *mb)
{
	struct infos *in = ctx;
	buf_printf(&in->names, "%s%s%s%s;", mb->name, mb->has_children ? "+" : "", mb->subscribed ? "" : "-",
		   mb->special_use);
	in->last = *mb;
	snprintf(in->keywords, sizeof in->keywords, "%s", mb->keywords);
	in->last.name = in->last.special_use = in->last.keywords = NULL;
	in->n++;
}

/* The info of one mailbox (asserting it exists). */
static struct store_mailbox_info info_of(struct store *s, int64_t account, const char *name, char kw[1100])
{
	struct infos in = { 0 };
	assert_int_equal(store_mailbox_info(s, account, name, collect_info, &in), STORE_OK);
	assert_int_equal(in.n, 1);
	if (kw)
		snprintf(kw, 1100, "%s", in.keywords);
	buf_free(&in.names);
	return in.last;
}

static char *mailbox_names(struct store *s, int64_t account)
{
	struct infos in = { 0 };
	assert_int_equal(store_mailbox_infos(s, account, collect_info, &in), STORE_OK);
	return buf_steal(&in.names);
}

static int64_t mailbox_id_of(struct store *s, int64_t account, const char *name)
{
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(s, account, name, &mb), STORE_OK);
	return mb.id;
}

/* Deliver n messages to the account's INBOX ("message k" bodies). */
static void fill_inbox(struct store *s, struct store_writer *wr, int64_t account, int n)
{
	for (int k = 1; k <= n; k++) {
		char msg[64];
		snprintf(msg, sizeof msg, "Subject: m%d\r\n\r\nmessage %d\r\n", k, k);
		assert_int_equal(deliver_one(wr, store_spool_dir(s), msg, &account, 1, NULL, 0, 0, "subj"), STORE_OK);
	}
}

/* APPEND through the writer; returns the status, *uid and *uidvalidity set. */
static enum store_status append_one(struct store *s, struct store_writer *wr, int64_t account, int64_t mailbox,
				    const char *content, uint32_t flags, const char *keywords, uint32_t *uid,
				    uint32_t *uidvalidity)
{
	struct waiter w;
	waiter_init(&w);
	struct mail_meta meta = test_meta("appended");
	struct store_delivery d = {
		.spool_path = spool_file(store_spool_dir(s), content, strlen(content)),
		.size = strlen(content),
		.message_id = "APPENDID",
		.internaldate = 1700000200,
		.meta = &meta,
		.account_ids = &account,
		.naccounts = 1,
		.sender = "",
		.mailbox_id = mailbox,
		.flags = flags,
		.keywords = keywords,
		.done = on_done,
		.arg = &w,
	};
	waiter_add(&w, 1);
	store_deliver(wr, &d);
	waiter_wait(&w);
	free((char *)d.spool_path);
	if (uid)
		*uid = d.uid;
	if (uidvalidity)
		*uidvalidity = d.uidvalidity;
	return d.status;
}

struct msg_view {
	uint32_t uid[64];
	uint32_t flags[64];
	uint64_t modseq[64];
	char keywords[64][256];
	char blob[64][32];
	char envelope[64][128];
	size_t n;
	size_t stop_after;          /* 0: never stop */
};

static int collect_data(void *ctx, const struct store_message_data *m)
{
	struct msg_view *v = ctx;
	assert_true(v->n < 64);
	v->uid[v->n] = m->uid;
	v->flags[v->n] = m->flags;
	v->modseq[v->n] = m->modseq;
	snprintf(v->keywords[v->n], sizeof v->keywords[0], "%s", m->keywords);
	snprintf(v->blob[v->n], sizeof v->blob[0], "%s", m->blob_id);
	snprintf(v->envelope[v->n], sizeof v->envelope[0], "%s", m->envelope);
	v->n++;
	return v->stop_after && v->n >= v->stop_after;
}

static struct msg_view *view(struct store *s, int64_t mailbox)
{
	struct msg_view *v = xcalloc(1, sizeof *v);
	assert_int_equal(store_message_range(s, mailbox, 1, UINT32_MAX, 0, collect_data, v), STORE_OK);
	return v;
}

static uint64_t highestmodseq(struct store *s, int64_t mailbox)
{
	uint64_t hms = 0;
	uint32_t next = 0;
	assert_int_equal(store_mailbox_changes(s, mailbox, UINT64_MAX, NULL, NULL, &hms, &next), STORE_OK);
	return hms;
}

/* Run a statement on index.db from outside the store. */
static void raw_sql(const struct fixture *f, const char *sql)
{
	char path[128];
	snprintf(path, sizeof path, "%s/index.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fail_msg("sql failed: %s", err);
	sqlite3_close(db);
}

/* ---- names and keyword lists -------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	char out[STORE_MAILBOX_NAME_MAX + 1];
	assert_true(store_name_mailbox("Sent", out));
	assert_string_equal(out, "Sent");
	assert_true(store_name_mailbox("inbox", out));
	assert_string_equal(out, "INBOX");
	assert_true(store_name_mailbox("iNbOx/Sub", out));
	assert_string_equal(out, "INBOX/Sub");
	assert_true(store_name_mailbox("INBOXES", out));
	assert_string_equal(out, "INBOXES");
	assert_true(store_name_mailbox("a/b/c", out));
	assert_true(store_name_mailbox("Entw\xc3\xbcrfe", out));
	assert_true(store_name_is_inbox("INBOX"));
	assert_false(store_name_is_inbox("INBOX/x"));

	const char *bad[] = {
		"", "/a", "a/", "a//b", "a*", "a%b", "a\tb", "a\x7f", "\xc3", "\xc2\x85", "a\nb", "\xff",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(store_name_mailbox(bad[i], out));
	char longname[STORE_MAILBOX_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname);
	longname[STORE_MAILBOX_NAME_MAX] = '\0';
	assert_true(store_name_mailbox(longname, out));
	longname[STORE_MAILBOX_NAME_MAX] = 'a';
	longname[STORE_MAILBOX_NAME_MAX + 1] = '\0';
	assert_false(store_name_mailbox(longname, out));
}

static void test_keyword_lists(void **state)
{
	(void)state;
	struct buf a = BUF_INIT, b = BUF_INIT;
	assert_true(store_kw_normalize(NULL, &a));
	assert_string_equal(buf_cstr(&a), "");
	assert_true(store_kw_normalize("  $Junk  foo $junk FOO bar ", &a));
	assert_string_equal(buf_cstr(&a), "$Junk foo bar");
	assert_int_equal(store_kw_count(buf_cstr(&a)), 3);
	assert_false(store_kw_normalize("\\Seen", &a));
	assert_false(store_kw_normalize("a(b", &a));
	assert_false(store_kw_normalize("a]", &a));
	assert_false(store_kw_normalize("caf\xc3\xa9", &a));
	assert_false(store_kw_normalize("a\"b", &a));
	char big[STORE_KEYWORDS_MAX + 20];
	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_false(store_kw_normalize(big, &a));

	assert_true(store_kw_has("$Junk foo", "FOO", 3));
	assert_false(store_kw_has("$Junk foo", "fo", 2));
	assert_true(store_kw_same("a B c", "C b A"));
	assert_false(store_kw_same("a b", "a b c"));

	/* merge: the mailbox's spelling wins, new ones are added */
	bool changed;
	assert_true(store_kw_merge("$Junk Work", "work new", &a, &b, &changed));
	assert_true(changed);
	assert_string_equal(buf_cstr(&a), "$Junk Work new");
	assert_string_equal(buf_cstr(&b), "Work new");
	assert_true(store_kw_merge("$Junk Work", "WORK", &a, &b, &changed));
	assert_false(changed);
	assert_string_equal(buf_cstr(&b), "Work");

	/* the 65th distinct keyword is refused */
	struct buf many = BUF_INIT;
	for (int i = 0; i < STORE_MAILBOX_KEYWORDS_MAX; i++)
		buf_printf(&many, "%sk%d", i ? " " : "", i);
	assert_true(store_kw_merge("", buf_cstr(&many), &a, &b, &changed));
	assert_int_equal(store_kw_count(buf_cstr(&a)), STORE_MAILBOX_KEYWORDS_MAX);
	assert_false(store_kw_merge(buf_cstr(&many), "extra", &a, &b, &changed));
	assert_true(store_kw_merge(buf_cstr(&many), "K3", &a, &b, &changed));
	buf_free(&many);

	assert_true(store_kw_apply("a b", STORE_FLAGS_ADD, "B c", &a));
	assert_string_equal(buf_cstr(&a), "a b c");
	assert_true(store_kw_apply("a b c", STORE_FLAGS_REMOVE, "B", &a));
	assert_string_equal(buf_cstr(&a), "a c");
	assert_true(store_kw_apply("a b c", STORE_FLAGS_REPLACE, "x", &a));
	assert_string_equal(buf_cstr(&a), "x");
	assert_true(store_kw_apply("a", STORE_FLAGS_REPLACE, "", &a));
	assert_string_equal(buf_cstr(&a), "");
	buf_free(&a);
	buf_free(&b);
}

/* ---- mailbox administration --------------------------------------------- */

static void test_create(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");

	assert_int_equal(store_mailbox_create(s, alice, "Work/Projects/tern", ""), STORE_OK);
	char *names = mailbox_names(s, alice);
	assert_string_equal(names, "INBOX;Archive\\Archive;Drafts\\Drafts;Junk\\Junk;Sent\\Sent;Trash\\Trash;"
				   "Work+-;Work/Projects+-;Work/Projects/tern-;");   /* CREATE does not subscribe */
	free(names);
	assert_int_equal(store_mailbox_create(s, alice, "Work/Projects", NULL), STORE_EXISTS);
	assert_int_equal(store_mailbox_create(s, alice, "inbox", ""), STORE_EXISTS);
	assert_int_equal(store_mailbox_create(s, alice, "Work/Other", "\\Flagged"), STORE_OK);
	assert_int_equal(store_mailbox_create(s, alice, "All", "\\All"), STORE_OK);
	assert_int_equal(store_mailbox_create(s, alice, "X", "\\Important"), STORE_INVALID);
	assert_int_equal(store_mailbox_create(s, alice, "X", "Sent"), STORE_INVALID);
	assert_int_equal(store_mailbox_create(s, alice, "a//b", ""), STORE_INVALID);
	assert_int_equal(store_mailbox_create(s, alice, "a*", ""), STORE_INVALID);
	assert_int_equal(store_mailbox_create(s, alice, "", ""), STORE_INVALID);
	assert_int_equal(store_mailbox_create(s, 999999, "X", ""), STORE_NOTFOUND);
	/* INBOX children, whatever the spelling of INBOX */
	assert_int_equal(store_mailbox_create(s, alice, "inbox/Lists", ""), STORE_OK);
	struct store_mailbox_info in = info_of(s, alice, "INBOX", NULL);
	assert_true(in.has_children);
	info_of(s, alice, "INBOX/Lists", NULL);
	in = info_of(s, alice, "Work/Other", NULL);
	assert_false(in.has_children);
	assert_false(in.subscribed);
	assert_true(in.uidvalidity > 0);
	assert_int_equal(in.uidnext, 1);
	assert_int_equal(in.messages, 0);
	/* UIDVALIDITY never repeats, even for a re-created name */
	uint32_t uv = in.uidvalidity;
	assert_int_equal(store_mailbox_delete(s, alice, "Work/Other"), STORE_OK);
	assert_int_equal(store_mailbox_create(s, alice, "Work/Other", ""), STORE_OK);
	assert_true(info_of(s, alice, "Work/Other", NULL).uidvalidity > uv);

	/* other accounts are not affected; info of an absent name */
	names = mailbox_names(s, bob);
	assert_string_equal(names, "INBOX;Archive\\Archive;Drafts\\Drafts;Junk\\Junk;Sent\\Sent;Trash\\Trash;");
	free(names);
	struct infos none = { 0 };
	assert_int_equal(store_mailbox_info(s, bob, "Work", collect_info, &none), STORE_NOTFOUND);
	assert_int_equal(store_mailbox_info(s, bob, "a//b", collect_info, &none), STORE_INVALID);
	assert_int_equal(none.n, 0);
	assert_int_equal(store_mailbox_infos(s, 999999, collect_info, &none), STORE_NOTFOUND);
	/* a name with multi-byte UTF-8 */
	assert_int_equal(store_mailbox_create(s, alice, "Entw\xc3\xbcrfe/\xe2\x9c\x93", ""), STORE_OK);
	assert_true(info_of(s, alice, "Entw\xc3\xbcrfe", NULL).has_children);
}

static void test_delete(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);

	assert_int_equal(store_mailbox_delete(s, alice, "INBOX"), STORE_INVALID);
	assert_int_equal(store_mailbox_delete(s, alice, "inbox"), STORE_INVALID);
	assert_int_equal(store_mailbox_delete(s, alice, "Nope"), STORE_NOTFOUND);
	assert_int_equal(store_mailbox_create(s, alice, "P/C", ""), STORE_OK);
	assert_int_equal(store_mailbox_delete(s, alice, "P"), STORE_INUSE);
	/* "P0" and "PX" are not children of "P" */
	assert_int_equal(store_mailbox_create(s, alice, "Q0", ""), STORE_OK);
	assert_int_equal(store_mailbox_create(s, alice, "Q", ""), STORE_OK);
	assert_false(info_of(s, alice, "Q", NULL).has_children);
	assert_int_equal(store_mailbox_delete(s, alice, "Q"), STORE_OK);

	/* a mailbox with messages (two of them shared with bob's INBOX through one blob) */
	fill_inbox(s, wr, alice, 2);
	int64_t ids[] = { alice, bob };
	assert_int_equal(deliver_one(wr, store_spool_dir(s), "shared\r\n", ids, 2, NULL, 0, 0, "x"), STORE_OK);
	int64_t inbox = inbox_id(s, alice);
	int64_t pc = mailbox_id_of(s, alice, "P/C");
	uint32_t uids[] = { 1, 2, 3 }, new_uids[3];
	assert_int_equal(store_copy(s, inbox, pc, uids, 3, true, new_uids, NULL, NULL), STORE_OK);
	assert_int_equal(store_expunge(s, pc, (uint32_t[]){ 1 }, 1, false, NULL, NULL), STORE_OK);
	struct store_quota q;
	assert_int_equal(store_quota_get(s, alice, &q), STORE_OK);
	assert_int_equal(q.messages_used, 2);
	assert_int_equal(count_blobs(f), 2);

	assert_int_equal(store_mailbox_delete(s, alice, "P/C"), STORE_OK);
	assert_int_equal(store_quota_get(s, alice, &q), STORE_OK);
	assert_int_equal(q.messages_used, 0);
	assert_int_equal(q.storage_used, 0);
	assert_int_equal(count_blobs(f), 1);    /* bob still has the shared one */
	assert_int_equal(store_mailbox_changes(s, pc, 0, NULL, NULL, NULL, NULL), STORE_NOTFOUND);
	assert_int_equal(store_mailbox_delete(s, alice, "P"), STORE_OK);
	assert_int_equal(store_mailbox_delete(s, alice, "P"), STORE_NOTFOUND);
	/* its expunged rows went with it */
	char path[128];
	snprintf(path, sizeof path, "%s/index.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM expunged WHERE mailbox_id = ?1", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, pc);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_writer_stop(&wr);
}

static void test_rename(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	assert_int_equal(store_mailbox_create(s, alice, "A/B/C", ""), STORE_OK);
	assert_int_equal(store_mailbox_create(s, alice, "AB", ""), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, alice, "A/B/C", true), STORE_OK);
	int64_t b_id = mailbox_id_of(s, alice, "A/B");
	uint32_t uv = info_of(s, alice, "A/B", NULL).uidvalidity;

	assert_int_equal(store_mailbox_rename(s, alice, "Nope", "X"), STORE_NOTFOUND);
	assert_int_equal(store_mailbox_rename(s, alice, "A", "Sent"), STORE_EXISTS);
	assert_int_equal(store_mailbox_rename(s, alice, "A", "A/B/D"), STORE_INVALID);
	assert_int_equal(store_mailbox_rename(s, alice, "A", "A"), STORE_EXISTS);
	assert_int_equal(store_mailbox_rename(s, alice, "A", "a//"), STORE_INVALID);
	assert_int_equal(store_mailbox_subscribe(s, alice, "A/B", false), STORE_OK);

	/* children along, "AB" is not a child; missing parents of the target made */
	assert_int_equal(store_mailbox_rename(s, alice, "A/B", "X/Y/Z"), STORE_OK);
	char *names = mailbox_names(s, alice);
	/* the subscription of A/B/C went along to X/Y/Z/C */
	assert_string_equal(names, "INBOX;A-;AB-;Archive\\Archive;Drafts\\Drafts;Junk\\Junk;Sent\\Sent;Trash\\Trash;"
				   "X+-;X/Y+-;X/Y/Z+-;X/Y/Z/C;");
	free(names);
	/* same mailbox: id, UIDVALIDITY and subscription kept */
	struct store_mailbox_info in = info_of(s, alice, "X/Y/Z", NULL);
	assert_int_equal(in.id, b_id);
	assert_int_equal(in.uidvalidity, uv);
	assert_false(in.subscribed);
	assert_int_equal(store_mailbox_rename(s, alice, "X", "A/X"), STORE_OK);
	names = mailbox_names(s, alice);
	assert_string_equal(names, "INBOX;A+-;A/X+-;A/X/Y+-;A/X/Y/Z+-;A/X/Y/Z/C;AB-;Archive\\Archive;Drafts\\Drafts;"
				   "Junk\\Junk;Sent\\Sent;Trash\\Trash;");
	free(names);
}

static void test_rename_inbox(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 3);
	int64_t inbox = inbox_id(s, alice);
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 1 }, 1, false, NULL, NULL), STORE_OK);
	uint32_t two = 2;
	assert_int_equal(store_flags_change(s, inbox, &two, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, "$Work", 0, NULL,
					    NULL, NULL, NULL), STORE_OK);
	assert_int_equal(store_mailbox_create(s, alice, "INBOX/Keep", ""), STORE_OK);
	uint64_t before = highestmodseq(s, inbox);
	uint32_t inbox_uv = info_of(s, alice, "INBOX", NULL).uidvalidity;

	assert_int_equal(store_mailbox_rename(s, alice, "inbox", "Old/Inbox"), STORE_OK);
	struct store_mailbox_info in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.id, inbox);
	assert_int_equal(in.messages, 0);
	assert_int_equal(in.uidnext, 4);
	assert_int_equal(in.uidvalidity, inbox_uv);
	assert_true(in.has_children);     /* INBOX/Keep stayed where it was */
	char kw[1100];
	struct store_mailbox_info old = info_of(s, alice, "Old/Inbox", kw);
	assert_int_equal(old.messages, 2);
	assert_int_equal(old.uidnext, 3);
	assert_true(old.uidvalidity > inbox_uv);
	assert_string_equal(kw, "$Work");
	struct msg_view *v = view(s, old.id);
	assert_int_equal(v->n, 2);
	assert_int_equal(v->uid[0], 1);
	assert_int_equal(v->uid[1], 2);
	assert_int_equal(v->flags[0], STORE_FLAG_FLAGGED);   /* was INBOX uid 2 */
	assert_string_equal(v->keywords[0], "$Work");
	free(v);

	/* INBOX's clients see two expunges with one new modseq */
	struct changes cs = { 0 };
	uint64_t hms;
	assert_int_equal(store_mailbox_changes(s, inbox, before, collect_change, &cs, &hms, NULL), STORE_OK);
	assert_int_equal(cs.n, 2);
	assert_true(cs.v[0].expunged && cs.v[1].expunged);
	assert_int_equal(cs.v[0].uid, 2);
	assert_int_equal(cs.v[1].uid, 3);
	assert_int_equal(cs.v[0].modseq, before + 1);
	assert_int_equal(hms, before + 1);

	/* a new delivery goes to the (empty) INBOX, after its old UIDs */
	fill_inbox(s, wr, alice, 1);
	v = view(s, inbox);
	assert_int_equal(v->n, 1);
	assert_int_equal(v->uid[0], 4);
	free(v);
	assert_int_equal(store_mailbox_rename(s, alice, "INBOX", "Old/Inbox"), STORE_EXISTS);
	assert_int_equal(store_mailbox_rename(s, alice, "INBOX", "INBOX/Two"), STORE_OK);
	assert_int_equal(info_of(s, alice, "INBOX/Two", NULL).messages, 1);
	store_writer_stop(&wr);
}

static void collect_name(void *ctx, const char *name)
{
	buf_printf(ctx, "%s;", name);
}

static void test_subscribe(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	assert_true(info_of(s, alice, "Sent", NULL).subscribed);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Sent", false), STORE_OK);
	assert_false(info_of(s, alice, "Sent", NULL).subscribed);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Sent", false), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Sent", true), STORE_OK);
	assert_true(info_of(s, alice, "Sent", NULL).subscribed);
	assert_int_equal(store_mailbox_subscribe(s, alice, "inbox", false), STORE_OK);
	assert_false(info_of(s, alice, "INBOX", NULL).subscribed);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Nope", true), STORE_NOTFOUND);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Nope", false), STORE_NOTFOUND);
	assert_int_equal(store_mailbox_subscribe(s, alice, "a%", true), STORE_INVALID);

	/* a subscription is a name: it outlives DELETE, comes back to life with CREATE */
	assert_int_equal(store_mailbox_create(s, alice, "Gone", ""), STORE_OK);
	assert_false(info_of(s, alice, "Gone", NULL).subscribed);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Gone", true), STORE_OK);
	assert_int_equal(store_mailbox_delete(s, alice, "Gone"), STORE_OK);
	struct buf subs = BUF_INIT;
	assert_int_equal(store_subscriptions(s, alice, collect_name, &subs), STORE_OK);
	assert_string_equal(buf_cstr(&subs), "Archive;Drafts;Gone;Junk;Sent;Trash;");
	assert_int_equal(store_mailbox_create(s, alice, "Gone", ""), STORE_OK);
	assert_true(info_of(s, alice, "Gone", NULL).subscribed);
	assert_int_equal(store_mailbox_delete(s, alice, "Gone"), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Gone", false), STORE_OK);
	assert_int_equal(store_mailbox_subscribe(s, alice, "Gone", false), STORE_NOTFOUND);
	buf_reset(&subs);
	assert_int_equal(store_subscriptions(s, alice, collect_name, &subs), STORE_OK);
	assert_string_equal(buf_cstr(&subs), "Archive;Drafts;Junk;Sent;Trash;");
	/* the other account's are its own */
	buf_reset(&subs);
	assert_int_equal(store_subscriptions(s, account_id(s, "bob@example.org"), collect_name, &subs), STORE_OK);
	assert_string_equal(buf_cstr(&subs), "Archive;Drafts;INBOX;Junk;Sent;Trash;");
	buf_free(&subs);
}

/* ---- flags, modseq, changes ---------------------------------------------- */

static void test_infos_counters(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 4);
	int64_t inbox = inbox_id(s, alice);
	struct store_mailbox_info in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.messages, 4);
	assert_int_equal(in.unseen, 4);
	assert_int_equal(in.deleted, 0);
	uint64_t total = 0;
	for (int k = 1; k <= 4; k++) {
		char msg[64];
		total += (uint64_t)snprintf(msg, sizeof msg, "Subject: m%d\r\n\r\nmessage %d\r\n", k, k);
	}
	assert_int_equal(in.size, total);
	assert_int_equal(in.uidnext, 5);

	uint32_t a[] = { 1, 2, 3 };
	assert_int_equal(store_flags_change(s, inbox, a, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL, NULL,
					    NULL, NULL), STORE_OK);
	uint32_t b[] = { 2, 4 };
	assert_int_equal(store_flags_change(s, inbox, b, 2, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL, 0, NULL, NULL,
					    NULL, NULL), STORE_OK);
	in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.unseen, 1);
	assert_int_equal(in.deleted, 2);
	uint32_t c[] = { 2 };
	assert_int_equal(store_flags_change(s, inbox, c, 1, STORE_FLAGS_REPLACE, STORE_FLAG_DRAFT, NULL, 0, NULL, NULL,
					    NULL, NULL), STORE_OK);
	in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.unseen, 2);
	assert_int_equal(in.deleted, 1);
	assert_int_equal(store_expunge(s, inbox, NULL, 0, true, NULL, NULL), STORE_OK);
	in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.messages, 3);
	assert_int_equal(in.unseen, 1);
	assert_int_equal(in.deleted, 0);

	/* the same counters come through the list, and store_mailbox_get agrees */
	struct infos all = { 0 };
	assert_int_equal(store_mailbox_infos(s, alice, collect_info, &all), STORE_OK);
	assert_int_equal(all.n, 6);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(s, alice, "inbox", &mb), STORE_OK);
	assert_int_equal(mb.messages, 3);
	buf_free(&all.names);
	store_writer_stop(&wr);
}

static void test_flags(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 3);
	int64_t inbox = inbox_id(s, alice);
	uint64_t m0 = highestmodseq(s, inbox);

	/* add: one new modseq for all, unknown UIDs ignored */
	uint32_t uids[] = { 1, 2, 3, 99 };
	struct changes cs = { 0 };
	assert_int_equal(store_flags_change(s, inbox, uids, 4, STORE_FLAGS_ADD, STORE_FLAG_SEEN | 0x100, "$Work Later",
					    0, collect_change, &cs, NULL, NULL), STORE_OK);
	assert_int_equal(cs.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(cs.v[i].uid, i + 1);
		assert_int_equal(cs.v[i].modseq, m0 + 1);
		assert_int_equal(cs.v[i].flags, STORE_FLAG_SEEN);   /* unknown bits dropped */
		assert_false(cs.v[i].expunged);
		assert_string_equal(cs.v[i].keywords, "$Work Later");
	}
	assert_int_equal(highestmodseq(s, inbox), m0 + 1);

	/* the same again: nothing changes, no modseq spent */
	cs.n = 0;
	assert_int_equal(store_flags_change(s, inbox, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN, "$work", 0,
					    collect_change, &cs, NULL, NULL), STORE_OK);
	assert_int_equal(cs.n, 0);
	assert_int_equal(highestmodseq(s, inbox), m0 + 1);

	/* remove, case-insensitively; spelling of the mailbox's dictionary kept */
	cs.n = 0;
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 2 }, 1, STORE_FLAGS_REMOVE, 0, "LATER", 0,
					    collect_change, &cs, NULL, NULL), STORE_OK);
	assert_int_equal(cs.n, 1);
	assert_string_equal(cs.v[0].keywords, "$Work");
	assert_int_equal(cs.v[0].flags, STORE_FLAG_SEEN);
	assert_int_equal(cs.v[0].modseq, m0 + 2);
	cs.n = 0;
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 3 }, 1, STORE_FLAGS_ADD, 0, "later LATER new", 0,
					    collect_change, &cs, NULL, NULL), STORE_OK);
	assert_int_equal(cs.n, 1);
	assert_string_equal(cs.v[0].keywords, "$Work Later new");

	/* replace */
	cs.n = 0;
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 1 }, 1, STORE_FLAGS_REPLACE,
					    STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED, "NEW", 0, collect_change, &cs,
					    NULL, NULL), STORE_OK);
	assert_int_equal(cs.n, 1);
	assert_int_equal(cs.v[0].flags, STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED);
	assert_string_equal(cs.v[0].keywords, "new");
	char kw[1100];
	info_of(s, alice, "INBOX", kw);
	assert_string_equal(kw, "$Work Later new");   /* grow-only */

	struct msg_view *v = view(s, inbox);
	assert_int_equal(v->n, 3);
	assert_int_equal(v->flags[0], STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED);
	assert_string_equal(v->keywords[0], "new");
	assert_string_equal(v->keywords[1], "$Work");
	assert_int_equal(v->modseq[1], m0 + 2);
	free(v);

	/* invalid keywords, too long a list, too many in the mailbox: nothing done */
	uint64_t m = highestmodseq(s, inbox);
	assert_int_equal(store_flags_change(s, inbox, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_DELETED, "\\Seen", 0, NULL,
					    NULL, NULL, NULL), STORE_INVALID);
	assert_int_equal(store_flags_change(s, inbox, uids, 3, STORE_FLAGS_ADD, 0, "a(b", 0, NULL, NULL, NULL, NULL),
			 STORE_INVALID);
	struct buf many = BUF_INIT;
	for (int i = 0; i < STORE_MAILBOX_KEYWORDS_MAX; i++)
		buf_printf(&many, "%skw%d", i ? " " : "", i);
	assert_int_equal(store_flags_change(s, inbox, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_DELETED, buf_cstr(&many), 0,
					    NULL, NULL, NULL, NULL), STORE_INVALID);
	buf_free(&many);
	/* 60 keywords of 16 octets fit the dictionary (64) and the list given, not message 3's list */
	for (int i = 0; i < 60; i++)
		buf_printf(&many, "%skeyword-number%02d", i ? " " : "", i);
	assert_true(many.len <= STORE_KEYWORDS_MAX);
	assert_int_equal(store_flags_change(s, inbox, uids, 3, STORE_FLAGS_ADD, 0, buf_cstr(&many), 0, NULL, NULL, NULL,
					    NULL), STORE_INVALID);
	buf_free(&many);
	assert_int_equal(highestmodseq(s, inbox), m);
	assert_int_equal(info_of(s, alice, "INBOX", kw).deleted, 0);
	assert_string_equal(kw, "$Work Later new");
	assert_int_equal(store_flags_change(s, 999999, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL, NULL,
					    NULL, NULL), STORE_NOTFOUND);
	store_writer_stop(&wr);
}

static void test_unchangedsince(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 3);
	int64_t inbox = inbox_id(s, alice);
	uint64_t m0 = highestmodseq(s, inbox);      /* message 3 has m0, 1 and 2 less */
	struct msg_view *v = view(s, inbox);
	assert_int_equal(v->modseq[2], m0);
	assert_true(v->modseq[0] < v->modseq[1]);
	uint64_t m1 = v->modseq[0];
	free(v);

	/* UNCHANGEDSINCE m1: messages 2 and 3 were modified after, they fail */
	uint32_t uids[] = { 1, 2, 3 };
	uint32_t *failed = NULL;
	size_t nfailed = 0;
	struct changes cs = { 0 };
	assert_int_equal(store_flags_change(s, inbox, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, m1,
					    collect_change, &cs, &failed, &nfailed), STORE_OK);
	assert_int_equal(nfailed, 2);
	assert_int_equal(failed[0], 2);
	assert_int_equal(failed[1], 3);
	free(failed);
	assert_int_equal(cs.n, 1);
	assert_int_equal(cs.v[0].uid, 1);
	assert_int_equal(cs.v[0].modseq, m0 + 1);

	/* UNCHANGEDSINCE the current highestmodseq: all pass; message 1 changes nothing, keeps its modseq */
	cs.n = 0;
	assert_int_equal(store_flags_change(s, inbox, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, m0 + 1,
					    collect_change, &cs, &failed, &nfailed), STORE_OK);
	assert_int_equal(nfailed, 0);
	assert_null(failed);
	assert_int_equal(cs.n, 2);
	assert_int_equal(cs.v[0].uid, 2);
	assert_int_equal(cs.v[1].uid, 3);
	assert_int_equal(cs.v[0].modseq, m0 + 2);
	v = view(s, inbox);
	assert_int_equal(v->modseq[0], m0 + 1);
	free(v);

	/* a message that would not change still fails the test when modified since */
	cs.n = 0;
	assert_int_equal(store_flags_change(s, inbox, uids, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, m0,
					    collect_change, &cs, &failed, &nfailed), STORE_OK);
	assert_int_equal(nfailed, 1);
	assert_int_equal(failed[0], 1);
	free(failed);
	assert_int_equal(cs.n, 0);
	store_writer_stop(&wr);
}

static void test_changes(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	int64_t inbox = inbox_id(s, alice);
	uint64_t m0 = highestmodseq(s, inbox);
	fill_inbox(s, wr, alice, 4);                 /* modseqs m0+1 .. m0+4 */
	assert_int_equal(highestmodseq(s, inbox), m0 + 4);

	struct changes cs = { 0 };
	uint64_t hms;
	uint32_t next;
	assert_int_equal(store_mailbox_changes(s, inbox, m0 + 2, collect_change, &cs, &hms, &next), STORE_OK);
	assert_int_equal(hms, m0 + 4);
	assert_int_equal(next, 5);
	assert_int_equal(cs.n, 2);
	assert_int_equal(cs.v[0].uid, 3);
	assert_int_equal(cs.v[1].uid, 4);

	/* flag 1 (m0+5), expunge 2 and 3 (m0+6), flag 4 (m0+7) */
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 1 }, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					    NULL, NULL, NULL, NULL), STORE_OK);
	struct changes gone = { 0 };
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 2, 3 }, 2, false, collect_change, &gone), STORE_OK);
	assert_int_equal(gone.n, 2);
	assert_int_equal(gone.v[0].modseq, m0 + 6);
	assert_true(gone.v[0].expunged);
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 4 }, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					    NULL, NULL, NULL, NULL), STORE_OK);

	cs.n = 0;
	assert_int_equal(store_mailbox_changes(s, inbox, m0 + 4, collect_change, &cs, &hms, &next), STORE_OK);
	assert_int_equal(hms, m0 + 7);
	assert_int_equal(cs.n, 4);
	assert_int_equal(cs.v[0].uid, 1);
	assert_false(cs.v[0].expunged);
	assert_int_equal(cs.v[0].flags, STORE_FLAG_SEEN);
	assert_int_equal(cs.v[0].modseq, m0 + 5);
	assert_true(cs.v[1].expunged);
	assert_int_equal(cs.v[1].uid, 2);
	assert_true(cs.v[2].expunged);
	assert_int_equal(cs.v[2].uid, 3);
	assert_int_equal(cs.v[2].modseq, m0 + 6);
	assert_int_equal(cs.v[3].uid, 4);
	assert_int_equal(cs.v[3].modseq, m0 + 7);

	/* since 0: everything there is (messages with their current modseq), expunges included */
	cs.n = 0;
	assert_int_equal(store_mailbox_changes(s, inbox, 0, collect_change, &cs, &hms, NULL), STORE_OK);
	assert_int_equal(cs.n, 4);
	/* since now: nothing */
	cs.n = 0;
	assert_int_equal(store_mailbox_changes(s, inbox, hms, collect_change, &cs, NULL, NULL), STORE_OK);
	assert_int_equal(cs.n, 0);
	assert_int_equal(store_mailbox_changes(s, 999999, 0, collect_change, &cs, NULL, NULL), STORE_NOTFOUND);

	/* a UID expunged, its number never comes back */
	fill_inbox(s, wr, alice, 1);
	struct msg_view *v = view(s, inbox);
	assert_int_equal(v->n, 3);
	assert_int_equal(v->uid[2], 5);
	free(v);
	store_writer_stop(&wr);
}

static void test_expunge(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 6);
	int64_t inbox = inbox_id(s, alice);
	assert_int_equal(count_blobs(f), 6);
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 2, 3, 5 }, 3, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
					    NULL, 0, NULL, NULL, NULL, NULL), STORE_OK);
	uint64_t m = highestmodseq(s, inbox);

	/* explicit UIDs, only the \Deleted ones among them (UID EXPUNGE) */
	struct changes cs = { 0 };
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 1, 2, 77 }, 3, true, collect_change, &cs), STORE_OK);
	assert_int_equal(cs.n, 1);
	assert_int_equal(cs.v[0].uid, 2);
	assert_int_equal(cs.v[0].modseq, m + 1);
	assert_int_equal(count_blobs(f), 5);

	/* nothing to do: no modseq spent, nothing reported */
	cs.n = 0;
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 1, 4 }, 2, true, collect_change, &cs), STORE_OK);
	assert_int_equal(cs.n, 0);
	assert_int_equal(highestmodseq(s, inbox), m + 1);

	/* every \Deleted message (EXPUNGE) */
	assert_int_equal(store_expunge(s, inbox, NULL, 0, true, collect_change, &cs), STORE_OK);
	assert_int_equal(cs.n, 2);
	assert_int_equal(cs.v[0].uid, 3);
	assert_int_equal(cs.v[1].uid, 5);
	assert_int_equal(cs.v[1].modseq, m + 2);
	struct msg_view *v = view(s, inbox);
	assert_int_equal(v->n, 3);
	assert_int_equal(v->uid[0], 1);
	assert_int_equal(v->uid[1], 4);
	assert_int_equal(v->uid[2], 6);
	free(v);

	/* explicit UIDs without the \Deleted condition (POP3 DELE + QUIT) */
	cs.n = 0;
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 4 }, 1, false, collect_change, &cs), STORE_OK);
	assert_int_equal(cs.n, 1);
	/* every message */
	cs.n = 0;
	assert_int_equal(store_expunge(s, inbox, NULL, 0, false, collect_change, &cs), STORE_OK);
	assert_int_equal(cs.n, 2);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).messages, 0);
	assert_int_equal(count_blobs(f), 0);
	assert_int_equal(store_expunge(s, 999999, NULL, 0, false, NULL, NULL), STORE_NOTFOUND);

	/* all six expunges are on record for QRESYNC */
	cs.n = 0;
	assert_int_equal(store_mailbox_changes(s, inbox, 0, collect_change, &cs, NULL, NULL), STORE_OK);
	assert_int_equal(cs.n, 6);
	for (size_t i = 0; i < cs.n; i++)
		assert_true(cs.v[i].expunged);
	store_writer_stop(&wr);
}

/* ---- the UID list for SELECT (and its process-wide cache) ----------------- */

/* The list must be first, first+1, ... (n of them), leaving out the UIDs in skip (ascending, 0-ended). */
static void assert_uids(struct store *s, int64_t mailbox, uint32_t first, size_t n, const uint32_t *skip)
{
	uint32_t *uids = NULL;
	size_t got = 0;
	uint64_t modseq = 0;
	assert_int_equal(store_mailbox_uids(s, mailbox, &uids, &got, &modseq, NULL), STORE_OK);
	assert_int_equal(got, n);
	assert_int_equal(modseq, highestmodseq(s, mailbox));
	uint32_t want = first;
	for (size_t i = 0; i < got; i++, want++) {
		while (*skip && want >= *skip) {
			if (want == *skip)
				want++;
			skip++;
		}
		assert_int_equal(uids[i], want);
	}
	free(uids);
}

static void test_mailbox_uids(void **state)
{
	static const uint32_t NONE[] = { 0 };
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t inbox = inbox_id(s, alice);
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	assert_uids(s, inbox, 1, 0, NONE);
	uint32_t *uids = NULL;
	size_t n = 0;
	assert_int_equal(store_mailbox_uids(s, 999999, &uids, &n, NULL, NULL), STORE_NOTFOUND);
	assert_null(uids);

	/* long enough to be cached: read twice (the second time from the cache) */
	fill_inbox(s, wr, alice, 1030);
	assert_uids(s, inbox, 1, 1030, NONE);
	assert_uids(s, inbox, 1, 1030, NONE);
	/* an expunge and an append each bump highestmodseq: the cached list is not used */
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 5 }, 1, false, NULL, NULL), STORE_OK);
	assert_uids(s, inbox, 1, 1029, (uint32_t[]){ 5, 0 });
	fill_inbox(s, wr, alice, 1);
	assert_uids(s, inbox, 1, 1030, (uint32_t[]){ 5, 0 });
	/* the last one known gone, new ones above it: merged in one refresh */
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 7, 1031 }, 2, false, NULL, NULL), STORE_OK);
	fill_inbox(s, wr, alice, 2);
	assert_uids(s, inbox, 1, 1030, (uint32_t[]){ 5, 7, 1031, 0 });
	/* the first message without \Seen, for [UNSEEN n] */
	uint32_t unseen = 99;
	assert_int_equal(store_mailbox_uids(s, inbox, &uids, &n, NULL, &unseen), STORE_OK);
	free(uids);
	assert_int_equal(unseen, 1);
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 1, 2, 3 }, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
					    NULL, 0, NULL, NULL, NULL, NULL), STORE_OK);
	assert_int_equal(store_mailbox_uids(s, inbox, &uids, &n, NULL, &unseen), STORE_OK);
	free(uids);
	assert_int_equal(unseen, 4);
	/* a deleted and re-created mailbox may get the same id: a new uidvalidity tells them apart */
	assert_int_equal(store_mailbox_create(s, alice, "Big", NULL), STORE_OK);
	int64_t big = mailbox_id_of(s, alice, "Big");
	assert_int_equal(store_mailbox_uids(s, inbox, &uids, &n, NULL, NULL), STORE_OK);
	uint32_t *copied = xcalloc(n, sizeof *copied);
	assert_int_equal(store_copy(s, inbox, big, uids, n, false, copied, NULL, NULL), STORE_OK);
	assert_int_equal(copied[n - 1], n);
	free(copied);
	free(uids);
	assert_uids(s, big, 1, 1030, NONE);
	assert_int_equal(store_mailbox_delete(s, alice, "Big"), STORE_OK);
	assert_int_equal(store_mailbox_create(s, alice, "Big", NULL), STORE_OK);
	assert_uids(s, mailbox_id_of(s, alice, "Big"), 1, 0, NONE);
	assert_int_equal(store_mailbox_uids(s, mailbox_id_of(s, alice, "Big"), &uids, &n, NULL, &unseen), STORE_OK);
	free(uids);
	assert_int_equal(unseen, 0);
	store_writer_stop(&wr);
}

static void test_recent_claims(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t inbox = inbox_id(s, alice);
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 3);
	struct store_mailbox_info in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.recent, 3);
	assert_int_equal(in.first_recent_uid, 1);
	uint64_t m = highestmodseq(s, inbox);

	/* the first session claims all three; a second gets none */
	uint32_t from = 0;
	assert_int_equal(store_mailbox_recent_claim(s, inbox, 4, &from), STORE_OK);
	assert_int_equal(from, 1);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).recent, 0);
	assert_int_equal(store_mailbox_recent_claim(s, inbox, 4, &from), STORE_OK);
	assert_int_equal(from, 4);
	assert_int_equal(highestmodseq(s, inbox), m);       /* not a change of the mailbox */

	/* new mail is recent again, claimed up to a point */
	fill_inbox(s, wr, alice, 2);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).recent, 2);
	assert_int_equal(store_mailbox_recent_claim(s, inbox, 5, &from), STORE_OK);
	assert_int_equal(from, 4);
	in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.recent, 1);
	assert_int_equal(in.first_recent_uid, 5);
	/* a claim never goes backwards */
	assert_int_equal(store_mailbox_recent_claim(s, inbox, 2, &from), STORE_OK);
	assert_int_equal(from, 5);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).first_recent_uid, 5);
	assert_int_equal(store_mailbox_recent_claim(s, 999999, 2, &from), STORE_NOTFOUND);
	store_writer_stop(&wr);
}

/* ---- copy, move, quota --------------------------------------------------- */

static void test_copy_move(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 4);
	int64_t inbox = inbox_id(s, alice);
	int64_t archive = mailbox_id_of(s, alice, "Archive");
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 3 }, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED,
					    "$Important", 0, NULL, NULL, NULL, NULL), STORE_OK);
	uint64_t am = highestmodseq(s, archive);

	/* copy 3, 4, 99 (missing), 1: UIDs in the destination in source order */
	uint32_t uids[] = { 1, 3, 4, 99 };
	uint32_t new_uids[4];
	assert_int_equal(store_copy(s, inbox, archive, uids, 4, false, new_uids, NULL, NULL), STORE_OK);
	assert_int_equal(new_uids[0], 1);
	assert_int_equal(new_uids[1], 2);
	assert_int_equal(new_uids[2], 3);
	assert_int_equal(new_uids[3], 0);
	assert_int_equal(count_blobs(f), 4);          /* shared, not copied */
	char kw[1100];
	struct store_mailbox_info in = info_of(s, alice, "Archive", kw);
	assert_int_equal(in.messages, 3);
	assert_int_equal(in.uidnext, 4);
	assert_int_equal(in.highestmodseq, am + 1);
	assert_string_equal(kw, "$Important");
	struct msg_view *src = view(s, inbox), *dst = view(s, archive);
	assert_int_equal(dst->n, 3);
	assert_int_equal(dst->flags[1], STORE_FLAG_FLAGGED);
	assert_string_equal(dst->keywords[1], "$Important");
	assert_string_equal(dst->blob[1], src->blob[2]);
	assert_string_equal(dst->envelope[1], src->envelope[2]);
	assert_int_equal(dst->modseq[0], am + 1);
	free(src);
	free(dst);
	char *body = read_message(s, archive, 2, NULL);
	assert_string_equal(body, "Subject: m3\r\n\r\nmessage 3\r\n");
	free(body);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).messages, 4);

	/* COPY into the same mailbox */
	assert_int_equal(store_copy(s, inbox, inbox, (uint32_t[]){ 2 }, 1, false, new_uids, NULL, NULL), STORE_OK);
	assert_int_equal(new_uids[0], 5);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).messages, 5);

	/* MOVE: the sources expunged and reported */
	int64_t trash = mailbox_id_of(s, alice, "Trash");
	struct changes cs = { 0 };
	uint64_t im = highestmodseq(s, inbox);
	assert_int_equal(store_copy(s, inbox, trash, (uint32_t[]){ 1, 2, 50 }, 3, true, new_uids, collect_change, &cs),
			 STORE_OK);
	assert_int_equal(new_uids[0], 1);
	assert_int_equal(new_uids[1], 2);
	assert_int_equal(new_uids[2], 0);
	assert_int_equal(cs.n, 2);
	assert_true(cs.v[0].expunged);
	assert_int_equal(cs.v[0].uid, 1);
	assert_int_equal(cs.v[1].uid, 2);
	assert_int_equal(cs.v[1].modseq, im + 1);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).messages, 3);
	assert_int_equal(info_of(s, alice, "Trash", NULL).messages, 2);
	struct store_quota q;
	assert_int_equal(store_quota_get(s, alice, &q), STORE_OK);
	assert_int_equal(q.messages_used, 3 + 3 + 2);

	/* nothing there to copy: nothing done */
	uint64_t tm = highestmodseq(s, trash);
	assert_int_equal(store_copy(s, inbox, trash, (uint32_t[]){ 1 }, 1, false, new_uids, NULL, NULL), STORE_OK);
	assert_int_equal(new_uids[0], 0);
	assert_int_equal(highestmodseq(s, trash), tm);

	/* only inside one account */
	assert_int_equal(store_copy(s, inbox, inbox_id(s, bob), (uint32_t[]){ 3 }, 1, false, new_uids, NULL, NULL),
			 STORE_INVALID);
	assert_int_equal(store_copy(s, inbox, 999999, (uint32_t[]){ 3 }, 1, false, new_uids, NULL, NULL),
			 STORE_NOTFOUND);
	assert_int_equal(info_of(s, bob, "INBOX", NULL).messages, 0);
	store_writer_stop(&wr);
}

static void test_quota(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 3);
	int64_t inbox = inbox_id(s, alice);
	uint64_t one = strlen("Subject: m1\r\n\r\nmessage 1\r\n");

	struct store_quota q;
	assert_int_equal(store_quota_get(s, alice, &q), STORE_OK);
	assert_int_equal(q.messages_used, 3);
	assert_int_equal(q.storage_used, 3 * one);
	assert_int_equal(q.storage_limit, 0);
	assert_int_equal(q.messages_limit, 0);
	assert_int_equal(store_quota_check(s, alice, 1u << 30), STORE_OK);
	assert_int_equal(store_quota_get(s, 999999, &q), STORE_NOTFOUND);

	assert_int_equal(store_quota_set(s, "ALICE@example.org", 0, 4), STORE_OK);
	assert_int_equal(store_quota_set(s, "nobody@example.org", 0, 4), STORE_NOTFOUND);
	assert_int_equal(store_quota_set(s, "bad", 0, 4), STORE_INVALID);
	struct store_account a;
	assert_int_equal(store_account_get(s, "alice@example.org", &a), STORE_OK);
	assert_int_equal(a.quota_messages, 4);
	store_account_clear(&a);
	assert_int_equal(store_quota_check(s, alice, 10), STORE_OK);

	/* a copy of two would make 5 > 4: nothing done */
	int64_t archive = mailbox_id_of(s, alice, "Archive");
	uint32_t new_uids[2] = { 7, 7 };
	uint64_t am = highestmodseq(s, archive);
	assert_int_equal(store_copy(s, inbox, archive, (uint32_t[]){ 1, 2 }, 2, false, new_uids, NULL, NULL),
			 STORE_QUOTA);
	assert_int_equal(new_uids[0], 0);
	assert_int_equal(new_uids[1], 0);
	assert_int_equal(info_of(s, alice, "Archive", NULL).messages, 0);
	assert_int_equal(highestmodseq(s, archive), am);
	/* one fits */
	assert_int_equal(store_copy(s, inbox, archive, (uint32_t[]){ 1 }, 1, false, new_uids, NULL, NULL), STORE_OK);
	assert_int_equal(new_uids[0], 1);
	assert_int_equal(store_quota_check(s, alice, 1), STORE_QUOTA);
	/* a move is always allowed: it adds nothing */
	assert_int_equal(store_copy(s, inbox, archive, (uint32_t[]){ 2 }, 1, true, new_uids, NULL, NULL), STORE_OK);

	/* APPEND over the message limit */
	uint32_t uid = 9, uv = 9;
	assert_int_equal(append_one(s, wr, alice, archive, "x\r\n", 0, NULL, &uid, &uv), STORE_QUOTA);
	assert_int_equal(uid, 0);
	/* an ordinary INBOX delivery is checked the same way (SMTP also checks at RCPT time) */
	const char *more = "Subject: m4\r\n\r\nmessage 4\r\n";
	assert_int_equal(deliver_one(wr, store_spool_dir(s), more, &alice, 1, NULL, 0, 0, "subj"), STORE_QUOTA);
	assert_int_equal(store_quota_get(s, alice, &q), STORE_OK);
	assert_int_equal(q.messages_used, 4);

	/* storage limit */
	assert_int_equal(store_quota_set(s, "alice@example.org", 4 * one + 10, 0), STORE_OK);
	assert_int_equal(store_quota_check(s, alice, 10), STORE_OK);
	assert_int_equal(store_quota_check(s, alice, 11), STORE_QUOTA);
	assert_int_equal(append_one(s, wr, alice, archive, "0123456789x", 0, NULL, &uid, &uv), STORE_QUOTA);
	assert_int_equal(append_one(s, wr, alice, archive, "0123456789", 0, NULL, &uid, &uv), STORE_OK);
	assert_int_equal(store_quota_check(s, alice, 1), STORE_QUOTA);
	/* freeing space makes room again */
	assert_int_equal(store_expunge(s, archive, NULL, 0, false, NULL, NULL), STORE_OK);
	assert_int_equal(store_quota_check(s, alice, one), STORE_OK);
	assert_int_equal(store_quota_set(s, "alice@example.org", 0, 0), STORE_OK);
	assert_int_equal(store_quota_check(s, alice, UINT64_MAX), STORE_OK);
	store_writer_stop(&wr);
}

static void test_writer_append(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	int64_t drafts = mailbox_id_of(s, alice, "Drafts");
	uint32_t uv0 = info_of(s, alice, "Drafts", NULL).uidvalidity;
	uint64_t m0 = highestmodseq(s, drafts);

	uint32_t uid = 0, uv = 0;
	assert_int_equal(append_one(s, wr, alice, drafts, "Subject: draft\r\n\r\nhello\r\n",
				    STORE_FLAG_DRAFT | STORE_FLAG_SEEN, "$Todo $todo Later", &uid, &uv), STORE_OK);
	assert_int_equal(uid, 1);
	assert_int_equal(uv, uv0);
	assert_int_equal(append_one(s, wr, alice, drafts, "second\r\n", 0, "later", &uid, &uv), STORE_OK);
	assert_int_equal(uid, 2);
	char kw[1100];
	struct store_mailbox_info in = info_of(s, alice, "Drafts", kw);
	assert_int_equal(in.messages, 2);
	assert_int_equal(in.unseen, 1);
	assert_int_equal(in.highestmodseq, m0 + 2);
	assert_string_equal(kw, "$Todo Later");
	struct msg_view *v = view(s, drafts);
	assert_int_equal(v->n, 2);
	assert_int_equal(v->flags[0], STORE_FLAG_DRAFT | STORE_FLAG_SEEN);
	assert_string_equal(v->keywords[0], "$Todo Later");
	assert_string_equal(v->keywords[1], "Later");
	free(v);
	char *body = read_message(s, drafts, 1, NULL);
	assert_string_equal(body, "Subject: draft\r\n\r\nhello\r\n");
	free(body);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).messages, 0);

	/* not the account's mailbox, a mailbox gone, bad keywords: refused, nothing left behind */
	size_t blobs = count_blobs(f);
	assert_int_equal(append_one(s, wr, bob, drafts, "x\r\n", 0, NULL, &uid, &uv), STORE_NOTFOUND);
	assert_int_equal(uid, 0);
	assert_int_equal(store_mailbox_create(s, alice, "Gone", ""), STORE_OK);
	int64_t gone = mailbox_id_of(s, alice, "Gone");
	assert_int_equal(store_mailbox_delete(s, alice, "Gone"), STORE_OK);
	assert_int_equal(append_one(s, wr, alice, gone, "x\r\n", 0, NULL, &uid, &uv), STORE_NOTFOUND);
	assert_int_equal(append_one(s, wr, alice, drafts, "x\r\n", 0, "\\Recent", &uid, &uv), STORE_INVALID);
	assert_int_equal(count_blobs(f), blobs);
	char spooldir[128];
	snprintf(spooldir, sizeof spooldir, "%s/spool", f->dir);
	assert_int_equal(count_files(spooldir), 0);
	assert_int_equal(info_of(s, alice, "Drafts", NULL).messages, 2);
	store_writer_stop(&wr);
}

/* ---- reading ------------------------------------------------------------- */

static void test_range_and_blob(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 5);
	int64_t inbox = inbox_id(s, alice);

	struct msg_view *v = xcalloc(1, sizeof *v);
	assert_int_equal(store_message_range(s, inbox, 2, 4, 0, collect_data, v), STORE_OK);
	assert_int_equal(v->n, 3);
	assert_int_equal(v->uid[0], 2);
	assert_int_equal(v->uid[2], 4);
	assert_string_equal(v->envelope[0], "(NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	memset(v, 0, sizeof *v);
	assert_int_equal(store_message_range(s, inbox, 1, UINT32_MAX, 2, collect_data, v), STORE_OK);
	assert_int_equal(v->n, 2);
	memset(v, 0, sizeof *v);
	v->stop_after = 3;
	assert_int_equal(store_message_range(s, inbox, 1, UINT32_MAX, 0, collect_data, v), STORE_OK);
	assert_int_equal(v->n, 3);
	memset(v, 0, sizeof *v);
	assert_int_equal(store_message_range(s, inbox, 4, 2, 0, collect_data, v), STORE_OK);
	assert_int_equal(v->n, 0);
	assert_int_equal(store_message_range(s, 999999, 1, 10, 0, collect_data, v), STORE_NOTFOUND);

	/* the blob of uid 3 */
	memset(v, 0, sizeof *v);
	assert_int_equal(store_message_range(s, inbox, 3, 3, 0, collect_data, v), STORE_OK);
	int fd = -1;
	assert_int_equal(store_blob_open(s, v->blob[0], &fd), STORE_OK);
	char data[64] = { 0 };
	assert_true(read(fd, data, sizeof data - 1) > 0);
	assert_string_equal(data, "Subject: m3\r\n\r\nmessage 3\r\n");
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);
	assert_int_equal(store_blob_open(s, "../../etc/passwd", &fd), STORE_INVALID);
	assert_int_equal(fd, -1);
	assert_int_equal(store_blob_open(s, "AAAAAAAAAAAAAAAAAAAAAAAA", &fd), STORE_NOTFOUND);
	/* expunged: the blob is gone with its last reference */
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 3 }, 1, false, NULL, NULL), STORE_OK);
	assert_int_equal(store_blob_open(s, v->blob[0], &fd), STORE_NOTFOUND);
	free(v);
	store_writer_stop(&wr);
}

/* ---- notification and locks ---------------------------------------------- */

struct counter {
	pthread_mutex_t lock;
	int n;
};

static void count_fn(void *arg)
{
	struct counter *c = arg;
	pthread_mutex_lock(&c->lock);
	c->n++;
	pthread_mutex_unlock(&c->lock);
}

static int count_of(struct counter *c)
{
	pthread_mutex_lock(&c->lock);
	int n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void test_watch(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	int64_t inbox = inbox_id(s, alice);
	struct counter c1 = { PTHREAD_MUTEX_INITIALIZER, 0 }, c2 = { PTHREAD_MUTEX_INITIALIZER, 0 };
	struct counter cb = { PTHREAD_MUTEX_INITIALIZER, 0 };
	struct store_watch *w1 = store_watch_add(inbox, count_fn, &c1);
	struct store_watch *w2 = store_watch_add(inbox, count_fn, &c2);
	struct store_watch *wb = store_watch_add(inbox_id(s, bob), count_fn, &cb);

	/* a delivery: on the writer thread, before done() */
	fill_inbox(s, wr, alice, 1);
	assert_int_equal(count_of(&c1), 1);
	assert_int_equal(count_of(&c2), 1);
	assert_int_equal(count_of(&cb), 0);
	/* one delivery to both: each mailbox once */
	int64_t both[] = { alice, bob };
	assert_int_equal(deliver_one(wr, store_spool_dir(s), "x\r\n", both, 2, NULL, 0, 0, "x"), STORE_OK);
	assert_int_equal(count_of(&c1), 2);
	assert_int_equal(count_of(&cb), 1);
	/* a flags change, an expunge */
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 1 }, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					    NULL, NULL, NULL, NULL), STORE_OK);
	assert_int_equal(count_of(&c1), 3);
	/* a change that changes nothing notifies nobody */
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 1 }, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					    NULL, NULL, NULL, NULL), STORE_OK);
	assert_int_equal(count_of(&c1), 3);
	assert_int_equal(store_expunge(s, inbox, (uint32_t[]){ 1 }, 1, false, NULL, NULL), STORE_OK);
	assert_int_equal(count_of(&c1), 4);
	/* removed: not called again */
	store_watch_remove(&w1);
	assert_null(w1);
	store_watch_remove(&w1);    /* harmless */
	fill_inbox(s, wr, alice, 1);
	assert_int_equal(count_of(&c1), 4);
	assert_int_equal(count_of(&c2), 5);
	/* a copy notifies the destination, a move both */
	int64_t archive = mailbox_id_of(s, alice, "Archive");
	struct counter ca = { PTHREAD_MUTEX_INITIALIZER, 0 };
	struct store_watch *wa = store_watch_add(archive, count_fn, &ca);
	assert_int_equal(store_copy(s, inbox, archive, (uint32_t[]){ 2 }, 1, false, NULL, NULL, NULL), STORE_OK);
	assert_int_equal(count_of(&ca), 1);
	assert_int_equal(count_of(&c2), 5);
	assert_int_equal(store_copy(s, inbox, archive, (uint32_t[]){ 2 }, 1, true, NULL, NULL, NULL), STORE_OK);
	assert_int_equal(count_of(&ca), 2);
	assert_int_equal(count_of(&c2), 6);
	store_notify(archive);
	assert_int_equal(count_of(&ca), 3);
	store_watch_remove(&w2);
	store_watch_remove(&wb);
	store_watch_remove(&wa);
	store_notify(inbox);
	assert_int_equal(count_of(&c2), 6);
	store_writer_stop(&wr);
}

/* Many watchers on colliding mailboxes, added and removed while notifications run. */
struct churn {
	int64_t base;
	struct counter c;
};

static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	for (int i = 0; i < 2000; i++) {
		struct store_watch *w = store_watch_add(ch->base + (i % 7) * 1024, count_fn, &ch->c);
		store_notify(ch->base + (i % 7) * 1024);
		store_watch_remove(&w);
	}
	return NULL;
}

static void test_watch_threads(void **state)
{
	(void)state;
	struct churn ch[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		ch[i].base = 1000000 + i;
		ch[i].c = (struct counter){ PTHREAD_MUTEX_INITIALIZER, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, churn_main, &ch[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(ch[i].c.n, 2000);
	}
}

static void test_lock(void **state)
{
	(void)state;
	assert_true(store_mailbox_lock(42));
	assert_false(store_mailbox_lock(42));
	assert_true(store_mailbox_lock(42 + 256));     /* another mailbox */
	assert_true(store_mailbox_lock(43));
	store_mailbox_unlock(42);
	assert_false(store_mailbox_lock(42 + 256));
	assert_true(store_mailbox_lock(42));
	store_mailbox_unlock(42);
	store_mailbox_unlock(42 + 256);
	store_mailbox_unlock(43);
	store_mailbox_unlock(12345);                    /* not held: harmless */
	assert_true(store_mailbox_lock(43));
	store_mailbox_unlock(43);
}

/* ---- migration ------------------------------------------------------------ */

static void test_migration(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	struct store_writer *wr = store_writer_start(f->dir);
	assert_non_null(wr);
	fill_inbox(s, wr, alice, 3);
	store_writer_stop(&wr);
	int64_t inbox = inbox_id(s, alice);
	assert_int_equal(store_flags_change(s, inbox, (uint32_t[]){ 1 }, 1, STORE_FLAGS_ADD,
					    STORE_FLAG_SEEN | STORE_FLAG_DELETED, NULL, 0, NULL, NULL, NULL, NULL),
			 STORE_OK);
	store_close(&f->s);

	/* back to schema 1: what 1 -> 2, 2 -> 3 and 3 -> 4 added goes, the data stays */
	raw_sql(f, "DROP INDEX queue_due; ALTER TABLE queue DROP COLUMN held; ALTER TABLE queue DROP COLUMN warned;"
		   "ALTER TABLE queue DROP COLUMN body_8bit; ALTER TABLE queue DROP COLUMN smtputf8;"
		   "ALTER TABLE queue DROP COLUMN requiretls;"
		   "DROP TRIGGER messages_count_ins; DROP TRIGGER messages_count_del;"
		   "DROP TRIGGER messages_count_flags; DROP TRIGGER mailboxes_delete;"
		   "DROP INDEX messages_deleted; DROP INDEX messages_unseen;"
		   "ALTER TABLE accounts DROP COLUMN used_storage; ALTER TABLE accounts DROP COLUMN used_messages;"
		   "ALTER TABLE mailboxes DROP COLUMN keywords; ALTER TABLE mailboxes DROP COLUMN messages;"
		   "ALTER TABLE mailboxes DROP COLUMN unseen; ALTER TABLE mailboxes DROP COLUMN deleted;"
		   "ALTER TABLE mailboxes DROP COLUMN size; ALTER TABLE mailboxes DROP COLUMN first_recent_uid;"
		   "PRAGMA user_version = 1;");
	f->s = s = store_open(f->dir);
	assert_non_null(s);
	struct store_mailbox_info in = info_of(s, alice, "INBOX", NULL);
	assert_int_equal(in.messages, 3);
	assert_int_equal(in.unseen, 2);
	assert_int_equal(in.deleted, 1);
	assert_int_equal(in.size, 3 * strlen("Subject: m1\r\n\r\nmessage 1\r\n"));
	/* 2 -> 3: mail already there is not \Recent */
	assert_int_equal(in.recent, 0);
	assert_int_equal(in.first_recent_uid, 4);
	struct store_quota q;
	assert_int_equal(store_quota_get(s, alice, &q), STORE_OK);
	assert_int_equal(q.messages_used, 3);
	assert_int_equal(q.storage_used, in.size);
	/* and the triggers work again */
	assert_int_equal(store_expunge(s, inbox, NULL, 0, true, NULL, NULL), STORE_OK);
	assert_int_equal(info_of(s, alice, "INBOX", NULL).messages, 2);
	assert_int_equal(store_quota_get(s, alice, &q), STORE_OK);
	assert_int_equal(q.messages_used, 2);
	/* deleting the account leaves no blob behind */
	assert_int_equal(store_account_del(s, "alice@example.org"), STORE_OK);
	assert_int_equal(count_blobs(f), 0);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_keyword_lists),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infos_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchangedsince, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_uids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_and_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
		cmocka_unit_test(test_watch_threads),
		cmocka_unit_test(test_lock),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
