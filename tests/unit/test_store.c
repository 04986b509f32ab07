/*
 * test_store.c — unit tests of the store (src/store/) with the SQLite
 * backend, each in a fresh temporary data directory: names, opening,
 * domains, accounts and mailboxes, aliases, recipient resolution and the
 * sender check.  Delivery, the queue and recovery are in
 * test_store_writer.c.
 */
#include "test_store_util.h"

static void collect_name(void *ctx, const char *name)
{
	struct buf *b = ctx;
	buf_printf(b, "%s;", name);
}

static void collect_account(void *ctx, const struct store_account *a)
{
	struct buf *b = ctx;
	buf_printf(b, "%s;", a->address);
}

static void collect_alias(void *ctx, const char *alias, const char *const *t, size_t n)
{
	struct buf *b = ctx;
	buf_printf(b, "%s=", alias);
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? "," : "", t[i]);
	buf_puts(b, ";");
}

/* Write content into a new spool file; returns its path (malloc'd). */
/* ---- names -------------------------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	char d[STORE_DOMAIN_MAX + 1];
	assert_true(store_name_domain("Example.ORG", d));
	assert_string_equal(d, "example.org");
	assert_true(store_name_domain("localhost", d));
	assert_true(store_name_domain("xn--bcher-kva.example", d));
	assert_false(store_name_domain("", d));
	assert_false(store_name_domain("a..b", d));
	assert_false(store_name_domain(".a", d));
	assert_false(store_name_domain("a.", d));
	assert_false(store_name_domain("-a.b", d));
	assert_false(store_name_domain("a-.b", d));
	assert_false(store_name_domain("a b", d));
	assert_false(store_name_domain("a_b.c", d));
	assert_false(store_name_domain("b\xc3\xbc" "cher.de", d));
	char label[80];
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_false(store_name_domain(label, d));  /* label > 63 */
	label[63] = '\0';
	assert_true(store_name_domain(label, d));
	char longname[300];
	memset(longname, 'a', sizeof longname);
	for (size_t i = 10; i < sizeof longname; i += 10)
		longname[i] = '.';
	longname[254] = '\0';   /* 254 > 253 */
	assert_false(store_name_domain(longname, d));
	longname[253] = '\0';
	if (longname[252] == '.')
		longname[252] = 'a';
	assert_true(store_name_domain(longname, d));

	struct store_addr a;
	assert_true(store_name_address("John.Doe+tag@Example.org", &a));
	assert_string_equal(a.local, "John.Doe+tag");
	assert_string_equal(a.domain, "example.org");
	assert_true(store_name_address("j\xc3\xb6rg@example.org", &a));     /* SMTPUTF8 */
	assert_false(store_name_address("j\xc3@example.org", &a));          /* bad UTF-8 */
	assert_false(store_name_address("@example.org", &a));
	assert_false(store_name_address("a@", &a));
	assert_false(store_name_address("a", &a));
	assert_false(store_name_address("a b@example.org", &a));
	assert_false(store_name_address("a\t@example.org", &a));
	assert_false(store_name_address("a\r\n@example.org", &a));
	assert_false(store_name_address("a@b@example.org", &a));
	assert_false(store_name_address("<a>@example.org", &a));
	assert_false(store_name_address("\"a\"@example.org", &a));
	char local[80];
	memset(local, 'x', 65);
	strcpy(local + 65, "@e.org");
	assert_false(store_name_address(local, &a));                         /* local part > 64 */
	strcpy(local + 64, "@e.org");
	assert_true(store_name_address(local, &a));
	assert_true(store_name_alias("@example.org", &a));
	assert_string_equal(a.local, "");
	assert_false(store_name_alias("@", &a));

	assert_int_equal(store_name_untagged_len("bob+x"), 3);
	assert_int_equal(store_name_untagged_len("bob"), 0);
	assert_int_equal(store_name_untagged_len("+x"), 0);
	assert_int_equal(store_name_untagged_len("a+b+c"), 1);
}

static void test_status_str(void **state)
{
	(void)state;
	const enum store_status all[] = { STORE_OK, STORE_NOTFOUND, STORE_EXISTS, STORE_INVALID,
					  STORE_INUSE, STORE_QUOTA, STORE_IOERR };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		const char *si = store_status_str(all[i]);
		assert_non_null(si);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(si, store_status_str(all[j]));
	}
	assert_string_equal(store_status_str(STORE_OK), "ok");
}

/* ---- domains ------------------------------------------------------------ */

static void test_domains(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	assert_int_equal(store_domain_add(s, "Example.ORG"), STORE_OK);
	assert_int_equal(store_domain_add(s, "example.org"), STORE_EXISTS);
	assert_int_equal(store_domain_add(s, "xn--bcher-kva.example"), STORE_OK);
	assert_int_equal(store_domain_add(s, "bad domain"), STORE_INVALID);
	assert_int_equal(store_domain_add(s, ""), STORE_INVALID);
	assert_true(store_domain_is_local(s, "example.org"));
	assert_true(store_domain_is_local(s, "EXAMPLE.org"));
	assert_false(store_domain_is_local(s, "example.net"));
	assert_false(store_domain_is_local(s, "not valid"));

	struct buf b = BUF_INIT;
	assert_int_equal(store_domain_list(s, collect_name, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "example.org;xn--bcher-kva.example;");

	assert_int_equal(store_domain_del(s, "example.net"), STORE_NOTFOUND);
	assert_int_equal(store_domain_del(s, "a..b"), STORE_INVALID);
	/* not empty: an account, then only an alias */
	assert_int_equal(store_account_add(s, "a@example.org", "h"), STORE_OK);
	assert_int_equal(store_domain_del(s, "example.org"), STORE_INUSE);
	const char *t[] = { "x@example.net" };
	assert_int_equal(store_alias_add(s, "list@example.org", t, 1), STORE_OK);
	assert_int_equal(store_account_del(s, "a@example.org"), STORE_OK);
	assert_int_equal(store_domain_del(s, "example.org"), STORE_INUSE);
	assert_int_equal(store_alias_del(s, "list@example.org"), STORE_OK);
	assert_int_equal(store_domain_del(s, "Example.Org"), STORE_OK);
	assert_false(store_domain_is_local(s, "example.org"));

	buf_reset(&b);
	assert_int_equal(store_domain_list(s, collect_name, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "xn--bcher-kva.example;");
	buf_free(&b);
}

/* ---- accounts and mailboxes --------------------------------------------- */

struct mb_list {
	struct buf names;
	uint32_t uidvalidity[8];
	size_t n;
};

static void collect_mailbox(void *ctx, const struct store_mailbox *mb)
{
	struct mb_list *l = ctx;
	buf_printf(&l->names, "%s%s%s;", mb->name, *mb->special_use ? " " : "", mb->special_use);
	if (l->n < 8)
		l->uidvalidity[l->n++] = mb->uidvalidity;
	assert_int_equal(mb->uidnext, 1);
	assert_int_equal(mb->highestmodseq, 1);
	assert_int_equal(mb->messages, 0);
}

static void test_accounts(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	assert_int_equal(store_account_add(s, "alice@example.org", "h"), STORE_NOTFOUND);
	assert_int_equal(store_domain_add(s, "example.org"), STORE_OK);
	assert_int_equal(store_account_add(s, "Alice@Example.org", "hash1"), STORE_OK);
	assert_int_equal(store_account_add(s, "ALICE@example.org", "hash2"), STORE_EXISTS);
	assert_int_equal(store_account_add(s, "alice example.org", "h"), STORE_INVALID);
	assert_int_equal(store_account_add(s, "@example.org", "h"), STORE_INVALID);
	assert_int_equal(store_account_add(s, "bob@example.org", "hb"), STORE_OK);

	struct store_account a;
	assert_int_equal(store_account_get(s, "aLiCe@EXAMPLE.ORG", &a), STORE_OK);
	assert_string_equal(a.address, "Alice@example.org");     /* as created, domain lower-case */
	assert_string_equal(a.password_hash, "hash1");
	assert_true(a.id > 0);
	int64_t alice = a.id;
	store_account_clear(&a);
	assert_null(a.password_hash);
	assert_int_equal(store_account_get(s, "alice+tag@example.org", &a), STORE_NOTFOUND);
	assert_int_equal(store_account_get(s, "nobody@example.org", &a), STORE_NOTFOUND);
	assert_int_equal(store_account_get(s, "bad", &a), STORE_INVALID);

	assert_int_equal(store_account_passwd(s, "alice@example.org", "hash9"), STORE_OK);
	assert_int_equal(store_account_get(s, "alice@example.org", &a), STORE_OK);
	assert_string_equal(a.password_hash, "hash9");
	store_account_clear(&a);
	assert_int_equal(store_account_passwd(s, "nobody@example.org", "x"), STORE_NOTFOUND);
	assert_int_equal(store_account_passwd(s, "x@unknown.example", "x"), STORE_NOTFOUND);
	assert_int_equal(store_account_passwd(s, "bad", "x"), STORE_INVALID);

	struct buf b = BUF_INIT;
	assert_int_equal(store_account_list(s, NULL, collect_account, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "Alice@example.org;bob@example.org;");
	buf_reset(&b);
	assert_int_equal(store_account_list(s, "EXAMPLE.org", collect_account, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "Alice@example.org;bob@example.org;");
	assert_int_equal(store_account_list(s, "example.net", collect_account, &b), STORE_NOTFOUND);
	assert_int_equal(store_account_list(s, "bad name", collect_account, &b), STORE_INVALID);
	buf_free(&b);

	/* the standard mailboxes, with SPECIAL-USE and distinct UIDVALIDITY */
	struct mb_list l = { BUF_INIT, { 0 }, 0 };
	assert_int_equal(store_mailbox_list(s, alice, collect_mailbox, &l), STORE_OK);
	assert_string_equal(buf_cstr(&l.names),
			    "INBOX;Archive \\Archive;Drafts \\Drafts;Junk \\Junk;Sent \\Sent;Trash \\Trash;");
	assert_int_equal(l.n, 6);
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(l.uidvalidity[i], l.uidvalidity[j]);
	buf_free(&l.names);
	assert_int_equal(store_mailbox_list(s, 999999, collect_mailbox, &l), STORE_NOTFOUND);

	struct store_mailbox mb, mb2;
	assert_int_equal(store_mailbox_get(s, alice, "inbox", &mb), STORE_OK);
	assert_string_equal(mb.name, "INBOX");
	assert_int_equal(store_mailbox_get(s, alice, "Sent", &mb2), STORE_OK);
	assert_string_equal(mb2.special_use, "\\Sent");
	assert_int_equal(store_mailbox_get(s, alice, "sent", &mb2), STORE_NOTFOUND);  /* only INBOX folds */
	assert_int_equal(store_mailbox_get(s, alice, "Nope", &mb2), STORE_NOTFOUND);
	assert_int_equal(store_mailbox_get(s, alice, "", &mb2), STORE_INVALID);

	/* re-creating the account: every UIDVALIDITY is higher than before */
	uint32_t old = mb.uidvalidity;
	assert_int_equal(store_account_del(s, "ALICE@example.org"), STORE_OK);
	assert_int_equal(store_account_del(s, "alice@example.org"), STORE_NOTFOUND);
	assert_int_equal(store_account_del(s, "bad"), STORE_INVALID);
	assert_int_equal(store_account_get(s, "alice@example.org", &a), STORE_NOTFOUND);
	assert_int_equal(store_account_add(s, "alice@example.org", "h"), STORE_OK);
	alice = account_id(s, "alice@example.org");
	assert_int_equal(store_mailbox_get(s, alice, "INBOX", &mb), STORE_OK);
	assert_true(mb.uidvalidity > old);
	assert_true(mb.uidvalidity > l.uidvalidity[5]);
}

/* ---- aliases ------------------------------------------------------------ */

static void test_aliases(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	const char *t1[] = { "bob@example.org", "x@Remote.EXAMPLE" };
	const char *t2[] = { "bob@example.org", "y@remote.example" };
	const char *bad[] = { "not an address" };
	assert_int_equal(store_alias_add(s, "team@example.org", t1, 2), STORE_OK);
	assert_int_equal(store_alias_add(s, "team@example.org", t1, 2), STORE_EXISTS);
	assert_int_equal(store_alias_add(s, "TEAM@example.org", t2, 2), STORE_OK);    /* adds y only */
	assert_int_equal(store_alias_add(s, "team@example.net", t1, 2), STORE_NOTFOUND);
	assert_int_equal(store_alias_add(s, "team@example.org", bad, 1), STORE_INVALID);
	assert_int_equal(store_alias_add(s, "team@example.org", t1, 0), STORE_INVALID);
	assert_int_equal(store_alias_add(s, "a b@example.org", t1, 1), STORE_INVALID);
	assert_int_equal(store_alias_add(s, "@example.org", t1, 1), STORE_OK);        /* catch-all */

	/* an alias whose targets exceed the expansion limit is refused */
	char *many[STORE_MAX_EXPANSION + 1];
	for (size_t i = 0; i <= STORE_MAX_EXPANSION; i++) {
		many[i] = xmalloc(64);
		snprintf(many[i], 64, "m%zu@remote.example", i);
	}
	assert_int_equal(store_alias_add(s, "big@example.org", (const char *const *)many, STORE_MAX_EXPANSION + 1),
			 STORE_INVALID);
	assert_int_equal(store_alias_add(s, "big@example.org", (const char *const *)many, STORE_MAX_EXPANSION),
			 STORE_OK);
	assert_int_equal(store_alias_add(s, "big@example.org", (const char *const *)many + 1, STORE_MAX_EXPANSION),
			 STORE_INVALID);
	for (size_t i = 0; i <= STORE_MAX_EXPANSION; i++)
		free(many[i]);
	assert_int_equal(store_alias_del(s, "big@example.org"), STORE_OK);

	struct buf b = BUF_INIT;
	assert_int_equal(store_alias_list(s, collect_alias, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b),
			    "@example.org=bob@example.org;"
			    "team@example.org=bob@example.org,x@remote.example,y@remote.example;");
	assert_int_equal(store_alias_del(s, "Team@example.org"), STORE_OK);
	assert_int_equal(store_alias_del(s, "team@example.org"), STORE_NOTFOUND);
	assert_int_equal(store_alias_del(s, "x"), STORE_INVALID);
	assert_int_equal(store_alias_del(s, "@example.org"), STORE_OK);
	buf_reset(&b);
	assert_int_equal(store_alias_list(s, collect_alias, &b), STORE_OK);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

/* ---- recipient resolution ----------------------------------------------- */

static bool has_account(const struct store_rcpt *r, int64_t id)
{
	for (size_t i = 0; i < r->naccounts; i++)
		if (r->account_ids[i] == id)
			return true;
	return false;
}

static bool has_remote(const struct store_rcpt *r, const char *addr)
{
	for (size_t i = 0; i < r->nremote; i++)
		if (strcmp(r->remote[i], addr) == 0)
			return true;
	return false;
}

static void add_alias1(struct store *s, const char *alias, const char *target)
{
	const char *t[] = { target };
	assert_int_equal(store_alias_add(s, alias, t, 1), STORE_OK);
}

static void test_resolve(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	int64_t carol = account_id(s, "carol@example.com");
	struct store_rcpt r;

	/* exact account, case-insensitive local part, +tag */
	assert_int_equal(store_resolve_rcpt(s, "alice@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], alice);
	assert_int_equal(r.nremote, 0);
	store_rcpt_clear(&r);
	assert_int_equal(store_resolve_rcpt(s, "ALICE@example.org", &r), STORE_OK);
	assert_int_equal(r.account_ids[0], alice);
	store_rcpt_clear(&r);
	assert_int_equal(store_resolve_rcpt(s, "alice+lists@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], alice);
	store_rcpt_clear(&r);

	/* unknown, non-local, invalid */
	assert_int_equal(store_resolve_rcpt(s, "nobody@example.org", &r), STORE_NOTFOUND);
	assert_int_equal(r.naccounts + r.nremote, 0);
	assert_int_equal(store_resolve_rcpt(s, "alice@example.net", &r), STORE_NOTFOUND);
	assert_int_equal(store_resolve_rcpt(s, "+tag@example.org", &r), STORE_NOTFOUND);
	assert_int_equal(store_resolve_rcpt(s, "no at sign", &r), STORE_INVALID);

	/* multi-target alias with remote targets; an exact alias wins over +tag */
	const char *team[] = { "alice@example.org", "Bob@example.org", "x@remote.example", "alice@example.org" };
	assert_int_equal(store_alias_add(s, "team@example.org", team, 4), STORE_OK);
	assert_int_equal(store_resolve_rcpt(s, "Team@Example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 2);
	assert_true(has_account(&r, alice) && has_account(&r, bob));
	assert_int_equal(r.nremote, 1);
	assert_string_equal(r.remote[0], "x@remote.example");
	store_rcpt_clear(&r);
	assert_int_equal(store_resolve_rcpt(s, "team+foo@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 2);
	store_rcpt_clear(&r);
	add_alias1(s, "alice+special@example.org", "carol@example.com");
	assert_int_equal(store_resolve_rcpt(s, "alice+special@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], carol);
	store_rcpt_clear(&r);

	/* an alias shadows the account of the same name */
	add_alias1(s, "bob@example.org", "y@remote.example");
	assert_int_equal(store_resolve_rcpt(s, "bob@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 0);
	assert_int_equal(r.nremote, 1);
	assert_string_equal(r.remote[0], "y@remote.example");
	store_rcpt_clear(&r);
	/* ... unless it names itself: the copy reaches the account (and the recursion stops) */
	add_alias1(s, "bob@example.org", "bob@example.org");
	assert_int_equal(store_resolve_rcpt(s, "bob@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], bob);
	assert_int_equal(r.nremote, 1);
	store_rcpt_clear(&r);

	/* recursion: l1 -> l2 -> l3 -> carol, and the duplicates collapse */
	add_alias1(s, "l1@example.org", "l2@example.org");
	add_alias1(s, "l1@example.org", "carol@example.com");
	add_alias1(s, "l2@example.org", "l3@example.org");
	add_alias1(s, "l3@example.org", "CAROL@example.com");
	add_alias1(s, "l3@example.org", "team@example.org");
	assert_int_equal(store_resolve_rcpt(s, "l1@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 3);
	assert_true(has_account(&r, carol) && has_account(&r, alice) && has_account(&r, bob));
	assert_int_equal(r.nremote, 2);    /* team's x, and y through the bob alias */
	assert_true(has_remote(&r, "x@remote.example") && has_remote(&r, "y@remote.example"));
	store_rcpt_clear(&r);

	/* loop: p -> q -> p, plus alice; the loop is cut, alice stays */
	add_alias1(s, "p@example.org", "q@example.org");
	add_alias1(s, "q@example.org", "p@example.org");
	assert_int_equal(store_resolve_rcpt(s, "p@example.org", &r), STORE_NOTFOUND);
	add_alias1(s, "q@example.org", "alice@example.org");
	assert_int_equal(store_resolve_rcpt(s, "p@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], alice);
	store_rcpt_clear(&r);

	/* nesting deeper than 10 is refused */
	for (int i = 0; i < 12; i++) {
		char a[64], t[64];
		snprintf(a, sizeof a, "d%d@example.org", i);
		snprintf(t, sizeof t, "d%d@example.org", i + 1);
		add_alias1(s, a, t);
	}
	add_alias1(s, "d12@example.org", "alice@example.org");
	assert_int_equal(store_resolve_rcpt(s, "d0@example.org", &r), STORE_INVALID);
	assert_int_equal(r.naccounts + r.nremote, 0);
	assert_int_equal(store_resolve_rcpt(s, "d3@example.org", &r), STORE_OK);   /* 10 levels */
	assert_int_equal(r.account_ids[0], alice);
	store_rcpt_clear(&r);

	/* more than STORE_MAX_EXPANSION final recipients is refused */
	for (int k = 0; k < 2; k++) {
		char *many[60];
		for (int i = 0; i < 60; i++) {
			many[i] = xmalloc(64);
			snprintf(many[i], 64, "r%d-%d@remote.example", k, i);
		}
		char name[32];
		snprintf(name, sizeof name, "half%d@example.org", k);
		assert_int_equal(store_alias_add(s, name, (const char *const *)many, 60), STORE_OK);
		for (int i = 0; i < 60; i++)
			free(many[i]);
		add_alias1(s, "huge@example.org", name);
	}
	assert_int_equal(store_resolve_rcpt(s, "half0@example.org", &r), STORE_OK);
	assert_int_equal(r.nremote, 60);
	store_rcpt_clear(&r);
	assert_int_equal(store_resolve_rcpt(s, "huge@example.org", &r), STORE_INVALID);

	/* catch-all: last resort, after account and +tag */
	assert_int_equal(store_resolve_rcpt(s, "whoever@example.com", &r), STORE_NOTFOUND);
	add_alias1(s, "@example.com", "alice@example.org");
	assert_int_equal(store_resolve_rcpt(s, "whoever@example.com", &r), STORE_OK);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], alice);
	store_rcpt_clear(&r);
	assert_int_equal(store_resolve_rcpt(s, "carol+x@example.com", &r), STORE_OK);
	assert_int_equal(r.account_ids[0], carol);
	store_rcpt_clear(&r);
	/* a catch-all pointing into its own domain at nothing: loop cut, not found */
	add_alias1(s, "@example.org", "ghost@example.org");
	assert_int_equal(store_resolve_rcpt(s, "unknown@example.org", &r), STORE_NOTFOUND);

	/* a deleted account simply stops receiving through the alias */
	assert_int_equal(store_account_del(s, "carol@example.com"), STORE_OK);
	assert_int_equal(store_resolve_rcpt(s, "alice+special@example.org", &r), STORE_OK);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], alice);      /* catch-all of example.com */
	store_rcpt_clear(&r);
}

static void test_sender_allowed(void **state)
{
	struct fixture *f = *state;
	struct store *s = f->s;
	provision(s);
	int64_t alice = account_id(s, "alice@example.org");
	int64_t bob = account_id(s, "bob@example.org");
	add_alias1(s, "sales@example.org", "alice@example.org");
	add_alias1(s, "all@example.org", "sales@example.org");
	add_alias1(s, "all@example.org", "bob@example.org");
	add_alias1(s, "@example.org", "alice@example.org");

	assert_true(store_sender_allowed(s, alice, "alice@example.org"));
	assert_true(store_sender_allowed(s, alice, "ALICE@EXAMPLE.ORG"));
	assert_true(store_sender_allowed(s, alice, "alice+news@example.org"));
	assert_true(store_sender_allowed(s, alice, "sales@example.org"));
	assert_true(store_sender_allowed(s, alice, "sales+x@example.org"));
	assert_true(store_sender_allowed(s, alice, "all@example.org"));   /* recursively */
	assert_true(store_sender_allowed(s, bob, "all@example.org"));
	assert_false(store_sender_allowed(s, bob, "sales@example.org"));
	assert_false(store_sender_allowed(s, alice, "bob@example.org"));
	assert_false(store_sender_allowed(s, alice, "anything@example.org"));  /* not via the catch-all */
	assert_false(store_sender_allowed(s, alice, "alice@example.com"));
	assert_false(store_sender_allowed(s, alice, "alicex@example.org"));
	assert_false(store_sender_allowed(s, alice, ""));
	assert_false(store_sender_allowed(s, alice, "not valid"));
	assert_false(store_sender_allowed(s, 987654, "alice@example.org"));
}

/* ---- opening ------------------------------------------------------------ */

static void test_open(void **state)
{
	struct fixture *f = *state;
	/* a second handle on the same directory, and reopening after close */
	struct store *s2 = store_open(f->dir);
	assert_non_null(s2);
	assert_int_equal(store_domain_add(f->s, "example.org"), STORE_OK);
	assert_true(store_domain_is_local(s2, "example.org"));
	store_close(&s2);
	assert_null(s2);
	store_close(&s2);   /* NULL is fine */
	store_close(&f->s);
	f->s = store_open(f->dir);
	assert_non_null(f->s);
	assert_true(store_domain_is_local(f->s, "example.org"));
	char spool[128];
	snprintf(spool, sizeof spool, "%s/spool", f->dir);
	assert_string_equal(store_spool_dir(f->s), spool);
	struct stat st;
	assert_int_equal(stat(spool, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);
	char db[128];
	snprintf(db, sizeof db, "%s/index.db", f->dir);
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(st.st_mode & 0077 & ~0040, 0);     /* password hashes: not world-readable */

	/* not a directory we can create */
	assert_null(store_open("/proc/version/sub"));
	assert_null(store_writer_start("/proc/version/sub"));
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_status_str),
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_allowed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
