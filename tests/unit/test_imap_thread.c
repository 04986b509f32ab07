/*
 * test_imap_thread.c — THREAD's algorithms (src/imap/thread.c) and
 * message-id parser (thread_msgid.c): the RFC 5256 steps one by one
 * (links, loops refused, duplicate ids, dummies pruned or kept, subject
 * grouping, date order with sequence tie-breaks), ORDEREDSUBJECT, and
 * hostile shapes: reference loops, a 1000-long References, a chain
 * 20,000 deep (no recursion), every message with the same id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/sort.h"
#include "imap/thread.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

/* A message as a test writes it: "id", "ref ref ..." (space-separated, no <>), subject, date. */
struct spec {
	const char *id;
	const char *refs;
	const char *subject;
	int64_t date;
};

struct built {
	struct imap_thread_msg *msgs;
	struct imap_thread_ref *refs;
	char **strings;
	size_t nstrings;
};

static char *keep(struct built *b, char *s)
{
	b->strings = xrealloc(b->strings, (b->nstrings + 1) * sizeof *b->strings);
	b->strings[b->nstrings++] = s;
	return s;
}

static void build(struct built *b, const struct spec *sp, size_t n)
{
	memset(b, 0, sizeof *b);
	b->msgs = xcalloc(n ? n : 1, sizeof *b->msgs);
	size_t nrefs = 0, total = 1;
	for (size_t i = 0; i < n; i++)
		for (const char *r = sp[i].refs; r && *r; r++)
			total += *r == ' ' ? 1 : 0;
	b->refs = xcalloc(total + n, sizeof *b->refs);
	for (size_t i = 0; i < n; i++) {
		struct imap_thread_msg *m = &b->msgs[i];
		m->num = (uint32_t)i + 1;
		m->date = sp[i].date;
		struct buf subj = BUF_INIT;
		const char *s = sp[i].subject ? sp[i].subject : "";
		imap_sort_base_subject(&subj, s, strlen(s), &m->reply);
		m->subject_len = subj.len;
		m->subject = keep(b, buf_steal(&subj));
		if (sp[i].id) {
			m->msgid = sp[i].id;
			m->msgid_len = strlen(sp[i].id);
		}
		m->refs = b->refs + nrefs;
		char *copy = keep(b, xstrdup(sp[i].refs ? sp[i].refs : ""));
		for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
			b->refs[nrefs].p = tok;
			b->refs[nrefs++].len = strlen(tok);
			m->nrefs++;
		}
	}
}

static void built_free(struct built *b)
{
	for (size_t i = 0; i < b->nstrings; i++)
		free(b->strings[i]);
	free(b->strings);
	free(b->msgs);
	free(b->refs);
}

static void check_refs(const struct spec *sp, size_t n, const char *want)
{
	struct built b;
	build(&b, sp, n);
	struct buf out = BUF_INIT;
	imap_thread_references(&out, b.msgs, n);
	if (strcmp(buf_cstr(&out), want) != 0)
		fail_msg("REFERENCES: got \"%s\", want \"%s\"", buf_cstr(&out), want);
	buf_free(&out);
	built_free(&b);
}

static void check_ordered(const struct spec *sp, size_t n, const char *want)
{
	struct built b;
	build(&b, sp, n);
	struct buf out = BUF_INIT;
	imap_thread_orderedsubject(&out, b.msgs, n);
	if (strcmp(buf_cstr(&out), want) != 0)
		fail_msg("ORDEREDSUBJECT: got \"%s\", want \"%s\"", buf_cstr(&out), want);
	buf_free(&out);
	built_free(&b);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_references_links(void **state)
{
	(void)state;
	check_refs(NULL, 0, "");
	/* imaptest thread: c's older parent a is broken, c under b would loop: c stays a root */
	const struct spec loop[] = { { "a@b", NULL, NULL, 3 }, { "b@b", "a@b c@b", NULL, 1 }, { "c@b", "b@b", NULL, 2 } };
	check_refs(loop, N(loop), "(3 2)(1)");
	check_refs(loop + 1, 2, "(2 1)");
	/* a plain chain and a branch */
	const struct spec tree[] = { { "a", NULL, "x", 0 }, { "b", "a", "x", 0 }, { "c", "a b", "x", 0 }, { "d", "a", "x", 0 } };
	check_refs(tree, N(tree), "(1 (2 3)(4))");
	/* a duplicate id gets a container of its own; the first comer keeps the id */
	const struct spec dup[] = { { "a", NULL, NULL, 0 }, { "b", "a", NULL, 0 }, { "c", "b", NULL, 0 }, { "b", "a", NULL, 0 } };
	check_refs(dup, N(dup), "(1 (2 3)(4))");
	/* a message referring to itself, and a loop through References alone */
	const struct spec self[] = { { "a", "a", NULL, 0 }, { "b", "c b", NULL, 1 }, { "c", "b c", NULL, 2 } };
	check_refs(self, N(self), "(1)(2)(3)");   /* the last reference is itself: no parent */
}

static void test_references_dummies(void **state)
{
	(void)state;
	/* two children of a missing parent keep their dummy at the root */
	const struct spec two[] = { { NULL, "a@b", NULL, 0 }, { NULL, "a@b", NULL, 1 } };
	check_refs(two, N(two), "((1)(2))");
	/* a dummy root with one child is dropped; subjects then join the two */
	const struct spec one[] = { { "a@b", NULL, "foo", 0 }, { "b@b", "c@b", "Re: foo", 1 } };
	check_refs(one, N(one), "(1 2)");
	/* dummies between messages vanish: the grandchild hangs under the grandparent */
	const struct spec mid[] = { { "a", NULL, NULL, 0 }, { "c", "a b", NULL, 1 }, { "d", "a b", NULL, 2 } };
	check_refs(mid, N(mid), "(1 (2)(3))");
	/* a dummy root's date is its first child's */
	const struct spec date[] = { { "z", NULL, "zz", 5 }, { NULL, "q", "x", 9 }, { NULL, "q", "y", 1 } };
	check_refs(date, N(date), "((3)(2))(1)");
}

static void test_references_subjects(void **state)
{
	(void)state;
	/* same subject, neither a reply: a new dummy holds both */
	const struct spec same[] = { { "a", NULL, "hello", 0 }, { "b", NULL, "hello", 1 }, { "c", NULL, "other", 2 } };
	check_refs(same, N(same), "((1)(2))(3)");
	/* a reply goes under the original, whichever came first */
	const struct spec reply[] = { { "a", NULL, "Re: hello", 0 }, { "b", NULL, "hello", 1 } };
	check_refs(reply, N(reply), "(2 1)");
	/* empty subjects never group */
	const struct spec empty[] = { { "a", NULL, "", 0 }, { "b", NULL, "Re:", 1 } };
	check_refs(empty, N(empty), "(1)(2)");
	/* equal dates: sequence order */
	const struct spec ties[] = { { "a", NULL, "x", 7 }, { "b", NULL, "y", 7 }, { "c", NULL, "z", 7 } };
	check_refs(ties, N(ties), "(1)(2)(3)");
}

static void test_orderedsubject(void **state)
{
	(void)state;
	check_ordered(NULL, 0, "");
	/* imaptest thread-orderedsubject2 */
	const struct spec s[] = { { NULL, NULL, "a", 10 }, { NULL, NULL, "b", 9 }, { NULL, NULL, "a", 8 },
				  { NULL, NULL, "b", 7 }, { NULL, NULL, "a", 30 }, { NULL, NULL, "b", 29 },
				  { NULL, NULL, "a", 28 }, { NULL, NULL, "b", 27 } };
	check_ordered(s, N(s), "(4 (2)(8)(6))(3 (1)(7)(5))");
	const struct spec pair[] = { { NULL, NULL, "", 0 }, { NULL, NULL, "Re: ", 0 }, { NULL, NULL, "Re: x", 1 } };
	check_ordered(pair, N(pair), "(1 2)(3)");
}

/* References up to 1000 ids long: every message refers to all earlier ones. */
static void test_long_references(void **state)
{
	(void)state;
	enum { M = 1001 };
	struct spec sp[M];
	char ids[M][16];
	struct buf all = BUF_INIT;
	char **refs = xcalloc(M, sizeof *refs);
	for (int i = 0; i < M; i++) {
		snprintf(ids[i], sizeof ids[i], "m%d", i);
		refs[i] = xstrdup(buf_cstr(&all));
		if (i)
			buf_putc(&all, ' ');
		buf_puts(&all, ids[i]);
		sp[i] = (struct spec){ ids[i], refs[i], "s", i };
	}
	struct built b;
	build(&b, sp, M);
	struct buf out = BUF_INIT;
	imap_thread_references(&out, b.msgs, M);
	/* one chain: "(1 2 3 ... 1001)" */
	struct buf want = BUF_INIT;
	buf_putc(&want, '(');
	for (int i = 0; i < M; i++)
		buf_printf(&want, i ? " %d" : "%d", i + 1);
	buf_putc(&want, ')');
	assert_string_equal(buf_cstr(&out), buf_cstr(&want));
	buf_free(&out);
	buf_free(&want);
	built_free(&b);
	for (int i = 0; i < M; i++)
		free(refs[i]);
	free(refs);
	buf_free(&all);
}

/* 20,000 messages each replying to the previous one, in reverse order, and all alternating branches. */
static void test_deep(void **state)
{
	(void)state;
	enum { M = 20000 };
	struct imap_thread_msg *msgs = xcalloc(M, sizeof *msgs);
	struct imap_thread_ref *refs = xcalloc(M, sizeof *refs);
	char (*ids)[16] = xcalloc(M, sizeof *ids);
	for (int i = 0; i < M; i++)
		snprintf(ids[i], sizeof ids[i], "d%d", i);
	for (int i = 0; i < M; i++) {
		msgs[i].num = (uint32_t)i + 1;
		msgs[i].date = i;
		msgs[i].subject = "";
		msgs[i].msgid = ids[i];
		msgs[i].msgid_len = strlen(ids[i]);
		/* message i replies to i-2: two interleaved chains under message 1 and 2, then a branch */
		if (i >= 2) {
			refs[i].p = ids[i - 2];
			refs[i].len = strlen(ids[i - 2]);
			msgs[i].refs = &refs[i];
			msgs[i].nrefs = 1;
		}
	}
	struct buf out = BUF_INIT;
	imap_thread_references(&out, msgs, M);
	assert_true(out.len > 0);
	assert_int_equal(out.data[0], '(');
	assert_int_equal(out.data[out.len - 1], ')');
	/* each message exactly once */
	size_t count = 0;
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] >= '0' && out.data[i] <= '9' && (i == 0 || out.data[i - 1] < '0' || out.data[i - 1] > '9'))
			count++;
	assert_int_equal(count, M);
	/* branching at every level: (1 (3 (5 ...)) */
	for (int i = 0; i < M; i++) {
		msgs[i].nrefs = 0;
		if (i) {
			/* i's parent is (i-1)/2 rounded: a binary tree of depth 14, branching everywhere */
			refs[i].p = ids[(i - 1) / 2];
			refs[i].len = strlen(ids[(i - 1) / 2]);
			msgs[i].refs = &refs[i];
			msgs[i].nrefs = 1;
		}
	}
	buf_reset(&out);
	imap_thread_references(&out, msgs, M);
	assert_true(strncmp(out.data, "(1 (2 (4 (8 ", 12) == 0);
	buf_free(&out);
	free(ids);
	free(refs);
	free(msgs);
}

static void check_ids(const char *field, const char *want)
{
	struct buf got = BUF_INIT, id = BUF_INIT;
	size_t pos = 0;
	while (imap_msgid_next(field, strlen(field), &pos, &id)) {
		if (got.len)
			buf_putc(&got, '|');
		buf_append(&got, id.data, id.len);
	}
	if (strcmp(buf_cstr(&got), want) != 0)
		fail_msg("ids of \"%s\": got \"%s\", want \"%s\"", field, buf_cstr(&got), want);
	buf_free(&got);
	buf_free(&id);
}

static void test_msgid(void **state)
{
	(void)state;
	check_ids("<a@b>", "a@b");
	check_ids("  <a@b> <c@d>\t<e@f>", "a@b|c@d|e@f");
	check_ids("<a@b><c@d>", "a@b|c@d");
	check_ids("<a\r\n @b>", "a@b");                /* folded inside */
	check_ids("(comment <x@y>) <a@b>", "a@b");      /* ids in comments are not ids */
	check_ids("(nested (comment <x@y>) still) <a@b>", "a@b");
	check_ids("\"quoted <x@y>\" <a@b>", "a@b");
	check_ids("<>  < > <a@b", "");                  /* empty ones and an unterminated one */
	check_ids("<x<a@b>", "a@b");                    /* restart at an inner < */
	check_ids("<a\001b> <c@d>", "c@d");             /* control characters: invalid */
	check_ids("garbage without brackets", "");
	check_ids("(unterminated <a@b>", "");
	check_ids("\"unterminated <a@b>", "");
	check_ids("", "");
	/* the length limit */
	struct buf big = BUF_INIT;
	buf_putc(&big, '<');
	for (int i = 0; i < IMAP_MSGID_MAX + 1; i++)
		buf_putc(&big, 'x');
	buf_puts(&big, "> <ok@x>");
	check_ids(buf_cstr(&big), "ok@x");
	buf_free(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_references_links),
		cmocka_unit_test(test_references_dummies),
		cmocka_unit_test(test_references_subjects),
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_long_references),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_msgid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
