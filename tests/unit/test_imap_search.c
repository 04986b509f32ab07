/*
 * test_imap_search.c — SEARCH key evaluation (src/imap/search.c) against
 * real messages from data/imap/ (LF on disk, turned into CRLF as the
 * store keeps them), with the metadata computed by mail_meta_parse()
 * exactly as delivery does.  Key trees are built by hand (the parser is
 * tested on its own) and freed by a local helper.
 *
 * Every key type is covered, plus: Unicode case folding on both sides,
 * RFC 2047 and charset decoding, what BODY must not see (preamble,
 * epilogue, non-text parts), "$" (RFC 5182), '*' in sets, UTC day
 * boundaries, cheap-keys-first (the text is never read when a flag
 * already fails), one text read per message, unreadable text, and the
 * depth guard.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/parse.h"
#include "imap/search.h"
#include "imap/seqset.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mail/meta.h"
#include "store/store.h"

/* ---- messages ---------------------------------------------------------- */

struct tmsg {
	char *text;
	size_t len;
	struct mail_meta meta;
	struct store_message_data m;
	uint32_t seq;
	int text_calls;
	bool unreadable;
	bool recent;        /* \Recent for the searching session */
};

static char *load_crlf(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, "data/imap/%s.eml", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf raw = BUF_INIT, b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&raw, chunk, n);
	fclose(f);
	for (size_t i = 0; i < raw.len; i++) {
		if (raw.data[i] == '\n' && (i == 0 || raw.data[i - 1] != '\r'))
			buf_putc(&b, '\r');
		buf_putc(&b, raw.data[i]);
	}
	buf_free(&raw);
	/* exactly len bytes: ASan catches a read past the end */
	*len = b.len;
	char *exact = xmalloc(b.len ? b.len : 1);
	memcpy(exact, b.data ? b.data : "", b.len);
	buf_free(&b);
	return exact;
}

static void tmsg_from_bytes(struct tmsg *t, char *text, size_t len, uint32_t seq, uint32_t uid)
{
	memset(t, 0, sizeof *t);
	t->text = text;
	t->len = len;
	mail_meta_parse(text, len, &t->meta);
	t->seq = seq;
	t->m.uid = uid;
	t->m.modseq = 10;
	t->m.keywords = "";
	t->m.size = len;
	t->m.sent_date = t->meta.sent_date;
	t->m.envelope = t->meta.envelope;
	t->m.body = t->meta.body;
	t->m.bodystructure = t->meta.bodystructure;
	t->m.parts = t->meta.parts;
	t->m.header_size = t->meta.header_size;
	t->m.subject = t->meta.subject;
	t->m.from = t->meta.from;
}

static void tmsg_load(struct tmsg *t, const char *name, uint32_t seq, uint32_t uid)
{
	size_t len;
	char *text = load_crlf(name, &len);
	tmsg_from_bytes(t, text, len, seq, uid);
}

static void tmsg_free(struct tmsg *t)
{
	mail_meta_free(&t->meta);
	free(t->text);
}

static const char *tmsg_text(void *arg, size_t *len)
{
	struct tmsg *t = arg;
	t->text_calls++;
	if (t->unreadable) {
		*len = 0;
		return NULL;
	}
	*len = t->len;
	return t->text;
}

/* ---- key trees --------------------------------------------------------- */

static struct imap_skey *K(enum imap_skey_type type)
{
	struct imap_skey *k = xcalloc(1, sizeof *k);
	k->type = type;
	return k;
}

static struct imap_skey *KS(enum imap_skey_type type, const char *s)
{
	struct imap_skey *k = K(type);
	k->str = xstrdup(s);
	return k;
}

static struct imap_skey *KH(const char *field, const char *s)
{
	struct imap_skey *k = KS(SK_HEADER, s);
	k->field = xstrdup(field);
	return k;
}

static struct imap_skey *KN(enum imap_skey_type type, uint64_t n)
{
	struct imap_skey *k = K(type);
	k->num = n;
	return k;
}

static struct imap_skey *KF(enum imap_skey_type type, uint32_t flag)
{
	struct imap_skey *k = K(type);
	k->flag = flag;
	return k;
}

static int64_t days(int y, int mon, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d };
	return (int64_t)timegm(&tm) / 86400;
}

static struct imap_skey *KD(enum imap_skey_type type, int y, int mon, int d)
{
	struct imap_skey *k = K(type);
	k->date = days(y, mon, d);
	return k;
}

static struct imap_skey *KSET(enum imap_skey_type type, const char *set)
{
	struct imap_skey *k = K(type);
	assert_true(imap_seqset_parse(set, strlen(set), true, &k->set));
	return k;
}

/* A compound key over the NULL-terminated children. */
static struct imap_skey *node(enum imap_skey_type type, ...)
{
	struct imap_skey *k = K(type), **tail = &k->child, *c;
	va_list ap;
	va_start(ap, type);
	while ((c = va_arg(ap, struct imap_skey *)) != NULL) {
		*tail = c;
		tail = &c->next;
	}
	va_end(ap);
	return k;
}

static void free_tree(struct imap_skey *k)
{
	while (k) {
		struct imap_skey *next = k->next;
		free_tree(k->child);
		free(k->str);
		free(k->field);
		imap_seqset_free(&k->set);
		free(k->cache);
		free(k);
		k = next;
	}
}

static bool match_prepared(struct imap_skey *root, struct tmsg *t, const struct imap_seqset *saved)
{
	imap_search_prepare(root, 10, 100, saved);
	struct imap_search_msg msg = { t->seq, &t->m, tmsg_text, t, t->recent };
	bool r = imap_search_match(root, &msg);
	free_tree(root);
	return r;
}

/* The message against "SEARCH key" (root AND of one key), with max seq 10 and max UID 100. */
static bool match1(struct tmsg *t, struct imap_skey *key)
{
	return match_prepared(node(SK_AND, key, NULL), t, NULL);
}

/* ---- metadata keys ----------------------------------------------------- */

static void test_flags(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	t.m.flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	assert_true(match1(&t, KF(SK_FLAG, STORE_FLAG_SEEN)));
	assert_true(match1(&t, KF(SK_FLAG, STORE_FLAG_FLAGGED)));
	assert_false(match1(&t, KF(SK_FLAG, STORE_FLAG_ANSWERED)));
	assert_false(match1(&t, KF(SK_FLAG, STORE_FLAG_DELETED)));
	assert_false(match1(&t, KF(SK_FLAG, STORE_FLAG_DRAFT)));
	assert_false(match1(&t, KF(SK_UNFLAG, STORE_FLAG_SEEN)));
	assert_true(match1(&t, KF(SK_UNFLAG, STORE_FLAG_DELETED)));
	assert_true(match1(&t, KF(SK_UNFLAG, STORE_FLAG_DRAFT)));
	/* not \Recent: NEW and RECENT no, OLD yes */
	assert_false(match1(&t, K(SK_NEW)));
	assert_false(match1(&t, K(SK_RECENT)));
	assert_true(match1(&t, K(SK_OLD)));
	assert_true(match1(&t, K(SK_ALL)));
	t.m.flags = 0;
	assert_false(match1(&t, K(SK_NEW)));
	/* \Recent: NEW only while unseen (RFC 3501 §6.4.4) */
	t.recent = true;
	assert_true(match1(&t, K(SK_RECENT)));
	assert_false(match1(&t, K(SK_OLD)));
	assert_true(match1(&t, K(SK_NEW)));
	t.m.flags = STORE_FLAG_SEEN;
	assert_false(match1(&t, K(SK_NEW)));
	t.recent = false;
	t.m.flags = 0;
	assert_true(match1(&t, KF(SK_UNFLAG, STORE_FLAG_SEEN)));
	assert_int_equal(t.text_calls, 0);
	tmsg_free(&t);
}

static void test_keywords(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	t.m.keywords = "$Forwarded Work $label1";
	assert_true(match1(&t, KS(SK_KEYWORD, "work")));
	assert_true(match1(&t, KS(SK_KEYWORD, "$forwarded")));
	assert_true(match1(&t, KS(SK_KEYWORD, "$LABEL1")));
	assert_false(match1(&t, KS(SK_KEYWORD, "Wor")));          /* whole keywords only */
	assert_false(match1(&t, KS(SK_KEYWORD, "label1")));
	assert_false(match1(&t, KS(SK_UNKEYWORD, "WORK")));
	assert_true(match1(&t, KS(SK_UNKEYWORD, "Junk")));
	t.m.keywords = "";
	assert_false(match1(&t, KS(SK_KEYWORD, "work")));
	assert_true(match1(&t, KS(SK_UNKEYWORD, "work")));
	tmsg_free(&t);
}

static void test_internaldate(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	/* 2026-03-02 23:59:59 UTC: the day is 2 March in UTC */
	t.m.internaldate = days(2026, 3, 3) * 86400 - 1;
	assert_true(match1(&t, KD(SK_ON, 2026, 3, 2)));
	assert_false(match1(&t, KD(SK_ON, 2026, 3, 3)));
	assert_true(match1(&t, KD(SK_BEFORE, 2026, 3, 3)));
	assert_false(match1(&t, KD(SK_BEFORE, 2026, 3, 2)));
	assert_true(match1(&t, KD(SK_SINCE, 2026, 3, 2)));
	assert_false(match1(&t, KD(SK_SINCE, 2026, 3, 3)));
	/* one second later it is the 3rd */
	t.m.internaldate++;
	assert_true(match1(&t, KD(SK_ON, 2026, 3, 3)));
	assert_true(match1(&t, KD(SK_SINCE, 2026, 3, 3)));
	assert_false(match1(&t, KD(SK_BEFORE, 2026, 3, 3)));
	/* before the epoch: floor, not truncation */
	t.m.internaldate = -1;
	assert_true(match1(&t, KD(SK_ON, 1969, 12, 31)));
	assert_true(match1(&t, KD(SK_BEFORE, 1970, 1, 1)));
	tmsg_free(&t);
}

static void test_sentdate(void **state)
{
	(void)state;
	struct tmsg t, nd;
	/*
	 * Date: Mon, 02 Mar 2026 23:30:00 -0800 = 3 March 07:30 UTC; the day
	 * counts as written, in the field's own zone: 2 March (RFC 9051 §6.4.4)
	 */
	tmsg_load(&t, "multi", 1, 1);
	assert_int_equal(t.m.sent_date, days(2026, 3, 3) * 86400 + 7 * 3600 + 30 * 60);
	assert_true(match1(&t, KD(SK_SENTON, 2026, 3, 2)));
	assert_false(match1(&t, KD(SK_SENTON, 2026, 3, 3)));
	assert_true(match1(&t, KD(SK_SENTBEFORE, 2026, 3, 3)));
	assert_false(match1(&t, KD(SK_SENTBEFORE, 2026, 3, 2)));
	assert_true(match1(&t, KD(SK_SENTSINCE, 2026, 3, 2)));
	assert_false(match1(&t, KD(SK_SENTSINCE, 2026, 3, 3)));
	/* INTERNALDATE does not leak into SENT* */
	t.m.internaldate = days(2020, 1, 1) * 86400;
	assert_false(match1(&t, KD(SK_SENTON, 2020, 1, 1)));
	tmsg_free(&t);

	/* no Date: no SENT* key matches, and NOT of one does */
	tmsg_load(&nd, "nodate", 1, 1);
	assert_int_equal(nd.m.sent_date, 0);
	assert_false(match1(&nd, KD(SK_SENTBEFORE, 2100, 1, 1)));
	assert_false(match1(&nd, KD(SK_SENTSINCE, 1970, 1, 1)));
	assert_false(match1(&nd, KD(SK_SENTON, 1970, 1, 1)));
	assert_true(match1(&nd, node(SK_NOT, KD(SK_SENTBEFORE, 2100, 1, 1), NULL)));
	tmsg_free(&nd);
}

static void test_size_modseq(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	assert_int_equal(t.m.size, 1529);
	assert_true(match1(&t, KN(SK_LARGER, 1528)));
	assert_false(match1(&t, KN(SK_LARGER, 1529)));
	assert_true(match1(&t, KN(SK_SMALLER, 1530)));
	assert_false(match1(&t, KN(SK_SMALLER, 1529)));
	t.m.modseq = 42;
	assert_true(match1(&t, KN(SK_MODSEQ, 42)));
	assert_true(match1(&t, KN(SK_MODSEQ, 1)));
	assert_false(match1(&t, KN(SK_MODSEQ, 43)));
	tmsg_free(&t);
}

static void test_sets(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 3, 57);
	assert_true(match1(&t, KSET(SK_SEQSET, "1:3")));
	assert_true(match1(&t, KSET(SK_SEQSET, "1,3,9")));
	assert_false(match1(&t, KSET(SK_SEQSET, "4:*")));       /* * = 10 */
	assert_true(match1(&t, KSET(SK_SEQSET, "*:2")));        /* = 2:10 */
	assert_false(match1(&t, KSET(SK_SEQSET, "57")));        /* sequence numbers, not UIDs */
	assert_true(match1(&t, KSET(SK_UID, "57")));
	assert_true(match1(&t, KSET(SK_UID, "50:*")));          /* * = 100 */
	assert_false(match1(&t, KSET(SK_UID, "3")));
	assert_false(match1(&t, KSET(SK_UID, "58:99")));
	t.seq = 10;
	t.m.uid = 100;
	assert_true(match1(&t, KSET(SK_SEQSET, "*")));
	assert_true(match1(&t, KSET(SK_UID, "*")));
	tmsg_free(&t);
}

static void test_saved_set(void **state)
{
	(void)state;
	struct tmsg t;
	struct imap_seqset saved;
	uint32_t uids[] = { 5, 7 };
	imap_seqset_from_sorted(&saved, uids, 2);
	tmsg_load(&t, "multi", 2, 7);
	/* "$" means UIDs whether it stood as a sequence set or after UID */
	assert_true(match_prepared(node(SK_AND, KSET(SK_SEQSET, "$"), NULL), &t, &saved));
	assert_true(match_prepared(node(SK_AND, KSET(SK_UID, "$"), NULL), &t, &saved));
	t.seq = 5;
	t.m.uid = 6;
	assert_false(match_prepared(node(SK_AND, KSET(SK_SEQSET, "$"), NULL), &t, &saved));
	assert_false(match_prepared(node(SK_AND, KSET(SK_UID, "$"), NULL), &t, &saved));
	assert_true(match_prepared(node(SK_AND, node(SK_NOT, KSET(SK_UID, "$"), NULL), NULL), &t, &saved));
	/* nothing saved: "$" is empty */
	t.m.uid = 5;
	assert_false(match_prepared(node(SK_AND, KSET(SK_SEQSET, "$"), NULL), &t, NULL));
	assert_false(match_prepared(node(SK_AND, KSET(SK_UID, "$"), NULL), &t, NULL));
	assert_true(match_prepared(node(SK_AND, KSET(SK_UID, "$"), NULL), &t, &saved));
	imap_seqset_free(&saved);
	tmsg_free(&t);
}

static void test_boolean(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	t.m.flags = STORE_FLAG_SEEN;
	assert_true(match1(&t, node(SK_OR, KF(SK_FLAG, STORE_FLAG_DRAFT), KF(SK_FLAG, STORE_FLAG_SEEN), NULL)));
	assert_true(match1(&t, node(SK_OR, KF(SK_FLAG, STORE_FLAG_SEEN), KF(SK_FLAG, STORE_FLAG_DRAFT), NULL)));
	assert_false(match1(&t, node(SK_OR, KF(SK_FLAG, STORE_FLAG_DRAFT), KF(SK_FLAG, STORE_FLAG_DELETED), NULL)));
	assert_false(match1(&t, node(SK_NOT, KF(SK_FLAG, STORE_FLAG_SEEN), NULL)));
	assert_true(match1(&t, node(SK_NOT, node(SK_NOT, K(SK_ALL), NULL), NULL)));
	/* a parenthesised list is an AND */
	assert_true(match1(&t, node(SK_AND, KF(SK_FLAG, STORE_FLAG_SEEN), K(SK_ALL), NULL)));
	assert_false(match1(&t, node(SK_AND, KF(SK_FLAG, STORE_FLAG_SEEN), K(SK_RECENT), NULL)));
	assert_true(match1(&t, node(SK_AND, NULL)));            /* empty: vacuously true */
	/* the root AND: every key must hold */
	assert_true(match_prepared(node(SK_AND, KF(SK_FLAG, STORE_FLAG_SEEN), KS(SK_SUBJECT, "meeting"), NULL),
				   &t, NULL));
	assert_false(match_prepared(node(SK_AND, KF(SK_FLAG, STORE_FLAG_SEEN), KS(SK_SUBJECT, "nope"), NULL),
				    &t, NULL));
	/* OR with a text key on either side, text key true or false */
	assert_true(match1(&t, node(SK_OR, KS(SK_BODY, "crème"), KF(SK_FLAG, STORE_FLAG_DRAFT), NULL)));
	assert_false(match1(&t, node(SK_OR, KS(SK_BODY, "wombat"), KF(SK_FLAG, STORE_FLAG_DRAFT), NULL)));
	assert_true(match1(&t, node(SK_OR, KS(SK_BODY, "wombat"), KS(SK_TEXT, "koala"), NULL)));
	tmsg_free(&t);
}

/* ---- text keys --------------------------------------------------------- */

static void test_address_keys(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	/* From: =?ISO-8859-1?Q?Andr=E9_M=FCller?= <andre@example.org> */
	assert_true(match1(&t, KS(SK_FROM, "müller")));
	assert_true(match1(&t, KS(SK_FROM, "ANDRÉ MÜLLER")));
	assert_true(match1(&t, KS(SK_FROM, "andre@EXAMPLE.org")));
	assert_false(match1(&t, KS(SK_FROM, "M=FCller")));     /* decoded, not raw */
	assert_false(match1(&t, KS(SK_FROM, "bob")));
	/* To: folded over two lines */
	assert_true(match1(&t, KS(SK_TO, "bob example")));
	assert_true(match1(&t, KS(SK_TO, "carol@example.net")));
	assert_true(match1(&t, KS(SK_TO, "com>, \"carol\"")));  /* the fold is gone */
	assert_false(match1(&t, KS(SK_TO, "dave")));
	assert_true(match1(&t, KS(SK_CC, "DAVE@example.com")));
	assert_false(match1(&t, KS(SK_CC, "eve")));
	assert_true(match1(&t, KS(SK_BCC, "eve@")));
	assert_false(match1(&t, KS(SK_BCC, "dave")));
	/* the inner message's From is not the message's */
	assert_false(match1(&t, KS(SK_FROM, "inner")));
	/* "" : the field is there */
	assert_true(match1(&t, KS(SK_CC, "")));
	tmsg_free(&t);

	tmsg_load(&t, "nodate", 1, 1);
	/* =?utf-8?b?SsO2cmcgU2NobWlkdA==?= = "Jörg Schmidt" */
	assert_true(match1(&t, KS(SK_FROM, "jörg schmidt")));
	assert_true(match1(&t, KS(SK_FROM, "JÖRG")));
	assert_false(match1(&t, KS(SK_FROM, "SsO2")));
	assert_false(match1(&t, KS(SK_CC, "")));               /* no Cc field at all */
	assert_true(match1(&t, KS(SK_TO, "undisclosed")));
	tmsg_free(&t);
}

static void test_subject_header(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	/* Subject: =?UTF-8?B?R3LDvMOfZQ==?= from the\r\n quarterly meeting = "Grüße from the quarterly meeting" */
	assert_true(match1(&t, KS(SK_SUBJECT, "grüße from the quarterly")));
	/* full case folding: ß folds to ss on both sides */
	assert_true(match1(&t, KS(SK_SUBJECT, "GRÜSSE")));
	assert_true(match1(&t, KS(SK_SUBJECT, "grüsse")));
	assert_true(match1(&t, KS(SK_SUBJECT, "the quarterly meeting")));
	assert_false(match1(&t, KS(SK_SUBJECT, "R3LDvMOfZQ")));
	assert_false(match1(&t, KS(SK_SUBJECT, "koala")));      /* the embedded message's */
	/* HEADER: any occurrence, name case-insensitive */
	assert_true(match1(&t, KH("x-tag", "second")));
	assert_true(match1(&t, KH("X-TAG", "FIRST")));
	assert_false(match1(&t, KH("X-Tag", "third")));
	assert_true(match1(&t, KH("x-tag", "")));
	assert_false(match1(&t, KH("X-Missing", "")));
	assert_true(match1(&t, KH("Message-ID", "multi-1@")));
	assert_true(match1(&t, KH("content-type", "boundary=\"outer\"")));
	assert_true(match1(&t, KH("subject", "grüsse")));       /* HEADER decodes too */
	tmsg_free(&t);

	tmsg_load(&t, "nodate", 1, 1);
	/* "A subject that is folded\r\n\twith a tab and =?iso-8859-1?q?caf=E9?=" */
	assert_true(match1(&t, KS(SK_SUBJECT, "folded\twith")));
	assert_true(match1(&t, KS(SK_SUBJECT, "and café")));
	assert_true(match1(&t, KS(SK_SUBJECT, "CAFÉ")));
	assert_false(match1(&t, KS(SK_SUBJECT, "caf=E9")));
	tmsg_free(&t);
}

static void test_body(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	/* part 1: quoted-printable ISO-8859-1, soft line break */
	assert_true(match1(&t, KS(SK_BODY, "crème brûlée")));
	assert_true(match1(&t, KS(SK_BODY, "CAFÉ")));
	assert_true(match1(&t, KS(SK_BODY, "line break joined")));
	assert_false(match1(&t, KS(SK_BODY, "cr=E8me")));
	/* part 2: base64 UTF-8 HTML; ß and SS fold alike */
	assert_true(match1(&t, KS(SK_BODY, "und straße")));
	assert_true(match1(&t, KS(SK_BODY, "<b>strasse</b>")));
	assert_true(match1(&t, KS(SK_BODY, "STRAẞE")));        /* capital sharp s */
	/* part 5: message/rfc822 > multipart/alternative > windows-1252 QP and us-ascii html */
	assert_true(match1(&t, KS(SK_BODY, "5 € “quoted” echidna")));
	assert_true(match1(&t, KS(SK_BODY, "ECHIDNA HTML")));
	/* never searched: preamble, epilogue, application/..., image/..., headers */
	assert_false(match1(&t, KS(SK_BODY, "platypus")));
	assert_false(match1(&t, KS(SK_BODY, "dingo")));
	assert_false(match1(&t, KS(SK_BODY, "wombat")));
	assert_false(match1(&t, KS(SK_BODY, "kangaroo")));
	assert_false(match1(&t, KS(SK_BODY, "koala")));
	assert_false(match1(&t, KS(SK_BODY, "quarterly")));
	/* no match across parts */
	assert_false(match1(&t, KS(SK_BODY, "joined.<p>")));
	assert_true(match1(&t, KS(SK_BODY, "")));
	tmsg_free(&t);

	tmsg_load(&t, "nodate", 1, 1);
	/* single part, base64 UTF-8 */
	assert_true(match1(&t, KS(SK_BODY, "grüße aus köln")));
	assert_true(match1(&t, KS(SK_BODY, "mit äöü")));
	assert_false(match1(&t, KS(SK_BODY, "R3LDvMOfZSBhdXMg")));
	tmsg_free(&t);

	tmsg_load(&t, "nested", 1, 1);
	/* 1.2.1: windows-1252 QP, 0x85 is the ellipsis */
	assert_true(match1(&t, KS(SK_BODY, "naïve résumé … ellipsis")));
	assert_true(match1(&t, KS(SK_BODY, "PLAIN ALTERNATIVE")));
	/* 3.1: the forwarded message's single QP part */
	assert_true(match1(&t, KS(SK_BODY, "with = sign")));
	assert_false(match1(&t, KS(SK_BODY, "begin 644")));   /* application/x-stuff */
	assert_false(match1(&t, KS(SK_BODY, "R0lGOD")));      /* image/gif */
	assert_false(match1(&t, KS(SK_BODY, "forwarded body with =3D")));
	tmsg_free(&t);
}

static void test_text(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	assert_true(match1(&t, KS(SK_TEXT, "crème")));          /* body */
	assert_true(match1(&t, KS(SK_TEXT, "grüsse")));         /* decoded header */
	assert_true(match1(&t, KS(SK_TEXT, "x-tag: second")));  /* field names are header text */
	assert_true(match1(&t, KS(SK_TEXT, "notes.bin")));      /* a part's MIME header */
	assert_true(match1(&t, KS(SK_TEXT, "inner subject koala")));   /* the embedded message's header */
	assert_false(match1(&t, KS(SK_TEXT, "wombat")));        /* non-text body */
	assert_false(match1(&t, KS(SK_TEXT, "platypus")));      /* preamble */
	assert_false(match1(&t, KS(SK_TEXT, "dingo")));         /* epilogue */
	tmsg_free(&t);
}

/* A bare-LF message, a message that is only a header, and an empty one. */
static void test_odd_messages(void **state)
{
	(void)state;
	struct tmsg t;
	const char *lf = "Subject: Bare LF\nFrom: a@b\n\nline one\nLINE TWO\n";
	tmsg_from_bytes(&t, xmemdup0(lf, strlen(lf)), strlen(lf), 1, 1);
	assert_true(match1(&t, KS(SK_SUBJECT, "bare lf")));
	assert_true(match1(&t, KS(SK_BODY, "line two")));
	assert_false(match1(&t, KS(SK_BODY, "bare")));
	tmsg_free(&t);

	const char *ho = "Subject: only a header\r\nX-A: 1\r\n";
	tmsg_from_bytes(&t, xmemdup0(ho, strlen(ho)), strlen(ho), 1, 1);
	assert_true(match1(&t, KH("x-a", "1")));
	assert_false(match1(&t, KS(SK_BODY, "header")));
	assert_true(match1(&t, KS(SK_TEXT, "only a header")));
	tmsg_free(&t);

	tmsg_from_bytes(&t, xmalloc(1), 0, 1, 1);
	assert_false(match1(&t, KS(SK_SUBJECT, "")));
	assert_false(match1(&t, KS(SK_BODY, "x")));
	assert_true(match1(&t, KS(SK_BODY, "")));
	assert_true(match1(&t, K(SK_ALL)));
	tmsg_free(&t);
}

/* ---- evaluation order and robustness ----------------------------------- */

static void test_cheap_first(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	t.m.flags = 0;
	/* the flag fails: the text is never read although BODY comes first */
	assert_false(match1(&t, node(SK_AND, KS(SK_BODY, "crème"), KF(SK_FLAG, STORE_FLAG_SEEN), NULL)));
	assert_false(match_prepared(node(SK_AND, KS(SK_BODY, "crème"), KS(SK_TEXT, "x"),
					 node(SK_OR, KS(SK_FROM, "a"), KS(SK_TO, "b"), NULL),
					 node(SK_NOT, node(SK_OR, KF(SK_FLAG, STORE_FLAG_DRAFT), K(SK_ALL), NULL), NULL),
					 NULL),
				    &t, NULL));
	/* decided without the text even where a text key sits inside: NOT (OR FROM ALL) is false */
	assert_false(match1(&t, node(SK_AND, KS(SK_BODY, "crème"),
				     node(SK_NOT, node(SK_OR, KS(SK_FROM, "a"), K(SK_ALL), NULL), NULL), NULL)));
	assert_true(match1(&t, node(SK_OR, KS(SK_BODY, "wombat"),
				    node(SK_OR, node(SK_NOT, KS(SK_SUBJECT, "q"), NULL), K(SK_ALL), NULL), NULL)));
	assert_int_equal(t.text_calls, 0);
	/* the text decides: read once */
	assert_true(match1(&t, node(SK_AND, KS(SK_BODY, "crème"), node(SK_NOT, KS(SK_FROM, "nobody"), NULL), NULL)));
	assert_int_equal(t.text_calls, 1);
	t.text_calls = 0;
	/* OR: the cheap side decides first */
	assert_true(match1(&t, node(SK_OR, KS(SK_BODY, "wombat"), K(SK_ALL), NULL)));
	assert_int_equal(t.text_calls, 0);
	/* many text keys, one read of the text */
	assert_true(match_prepared(node(SK_AND, KS(SK_BODY, "crème"), KS(SK_TEXT, "koala"), KS(SK_SUBJECT, "meeting"),
					KS(SK_FROM, "müller"), KH("x-tag", "first"), KS(SK_TEXT, "echidna"), NULL),
				   &t, NULL));
	assert_int_equal(t.text_calls, 1);
	tmsg_free(&t);
}

static void test_unreadable(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	t.unreadable = true;
	assert_false(match1(&t, KS(SK_SUBJECT, "meeting")));
	assert_false(match1(&t, KS(SK_BODY, "")));
	assert_false(match1(&t, KS(SK_TEXT, "crème")));
	assert_true(match1(&t, node(SK_NOT, KS(SK_BODY, "crème"), NULL)));
	assert_true(match1(&t, KN(SK_LARGER, 1)));
	/* no accessor at all */
	struct imap_skey *root = node(SK_AND, KS(SK_BODY, "x"), NULL);
	imap_search_prepare(root, 1, 1, NULL);
	struct imap_search_msg msg = { 1, &t.m, NULL, NULL, false };
	assert_false(imap_search_match(root, &msg));
	free_tree(root);
	tmsg_free(&t);
}

static void test_unprepared(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	/* text keys work without prepare (the needle is folded per call) */
	struct imap_skey *root = node(SK_AND, KS(SK_BODY, "CRÈME"), node(SK_NOT, KS(SK_SUBJECT, "NOPE"), NULL), NULL);
	struct imap_search_msg msg = { 1, &t.m, tmsg_text, &t, false };
	assert_true(imap_search_match(root, &msg));
	assert_true(imap_search_match(root, &msg));
	/* preparing twice is harmless */
	imap_search_prepare(root, 1, 1, NULL);
	imap_search_prepare(root, 1, 1, NULL);
	assert_true(imap_search_match(root, &msg));
	free_tree(root);
	assert_true(imap_search_match(NULL, &msg));
	tmsg_free(&t);
}

static void test_needs_text(void **state)
{
	(void)state;
	struct imap_skey *a = node(SK_AND, KF(SK_FLAG, STORE_FLAG_SEEN), KN(SK_LARGER, 5),
				   node(SK_OR, K(SK_ALL), node(SK_NOT, KSET(SK_UID, "1:*"), NULL), NULL), NULL);
	assert_false(imap_search_needs_text(a));
	imap_search_prepare(a, 3, 3, NULL);
	assert_false(imap_search_needs_text(a));
	free_tree(a);
	static const enum imap_skey_type text[] = { SK_FROM, SK_TO, SK_CC, SK_BCC, SK_SUBJECT, SK_BODY, SK_TEXT };
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
		struct imap_skey *b = node(SK_AND, K(SK_ALL),
					   node(SK_OR, K(SK_ALL), node(SK_NOT, KS(text[i], "x"), NULL), NULL), NULL);
		assert_true(imap_search_needs_text(b));
		imap_search_prepare(b, 3, 3, NULL);
		assert_true(imap_search_needs_text(b));
		free_tree(b);
	}
	struct imap_skey *h = node(SK_AND, KH("X", ""), NULL);
	assert_true(imap_search_needs_text(h));
	free_tree(h);
	assert_false(imap_search_needs_text(NULL));
}

/* n nested NOTs around ALL */
static struct imap_skey *nots(int n)
{
	struct imap_skey *k = K(SK_ALL);
	for (int i = 0; i < n; i++)
		k = node(SK_NOT, k, NULL);
	return k;
}

static void test_depth(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 1, 1);
	/* as deep as the parser allows: evaluated in full */
	assert_true(match1(&t, nots(IMAP_SEARCH_MAX_DEPTH)));
	assert_false(match1(&t, nots(IMAP_SEARCH_MAX_DEPTH - 1)));
	/* deeper: the part past the limit is not evaluated, whatever its length */
	bool a = match1(&t, nots(IMAP_SEARCH_MAX_DEPTH + 8));
	bool b = match1(&t, nots(IMAP_SEARCH_MAX_DEPTH + 9));
	assert_true(a == b);
	bool c = match1(&t, nots(10000));
	(void)c;
	struct imap_skey *deep = nots(5000);
	assert_false(imap_search_needs_text(deep));
	free_tree(deep);
	tmsg_free(&t);
}

/*
 * Trees as the real parser builds them (CHARSET conversion, nesting, "$"),
 * evaluated and then freed by imap_cmd_free(), which also releases the
 * prepared needles.
 */
static bool match_command_lit(const char *line, const char *literal, bool utf8, struct tmsg *t,
			      const struct imap_seqset *saved)
{
	struct imap_cmd cmd;
	const char *err = NULL;
	struct imap_literal lit = { .data = literal, .len = literal ? strlen(literal) : 0, .fd = -1 };
	memset(&cmd, 0, sizeof cmd);
	enum imap_parse_result r = imap_parse(line, strlen(line), literal ? &lit : NULL, literal ? 1 : 0, utf8,
					      &cmd, &err);
	if (r != IMAP_PARSE_OK)
		print_error("parse failed: %s: %s\n", line, err ? err : "?");
	assert_int_equal(r, IMAP_PARSE_OK);
	assert_non_null(cmd.search);
	imap_search_prepare(cmd.search, 10, 100, saved);
	struct imap_search_msg msg = { t->seq, &t->m, tmsg_text, t, t->recent };
	bool hit = imap_search_match(cmd.search, &msg);
	imap_cmd_free(&cmd);
	return hit;
}

static bool match_command(const char *line, struct tmsg *t, const struct imap_seqset *saved)
{
	return match_command_lit(line, NULL, false, t, saved);
}

static void test_parsed_commands(void **state)
{
	(void)state;
	struct tmsg t;
	tmsg_load(&t, "multi", 3, 57);
	t.m.flags = STORE_FLAG_SEEN;
	t.m.keywords = "Work";
	t.m.internaldate = days(2026, 3, 2) * 86400 + 3600;
	/* UTF8=ACCEPT: UTF-8 in quoted strings */
	assert_true(match_command_lit("a SEARCH SEEN SUBJECT \"GR\xc3\x9cSSE\"\r\n", NULL, true, &t, NULL));
	assert_false(match_command("a SEARCH UNSEEN SUBJECT meeting\r\n", &t, NULL));
	assert_true(match_command_lit("a SEARCH CHARSET UTF-8 FROM {7}\r\n BODY cr\r\n", "M\xc3\xbcller", false, &t,
				      NULL));
	/* an ISO-8859-1 literal converted by the parser: "crème" */
	assert_true(match_command_lit("a SEARCH CHARSET ISO-8859-1 BODY {5}\r\n\r\n", "CR\xc8ME", false, &t, NULL));
	assert_false(match_command_lit("a SEARCH CHARSET ISO-8859-1 BODY {5}\r\n\r\n", "CR\xc9ME", false, &t, NULL));
	assert_false(match_command("a SEARCH CHARSET UTF-8 BODY wombat\r\n", &t, NULL));
	assert_true(match_command("a SEARCH OR (UNSEEN BODY wombat) (KEYWORD work ON 2-Mar-2026 3)\r\n", &t, NULL));
	assert_false(match_command("a SEARCH NOT (TEXT koala HEADER X-Tag second) 1:*\r\n", &t, NULL));
	assert_true(match_command("a UID SEARCH UID 50:* SENTON 2-Mar-2026 LARGER 1000 NOT SMALLER 1000\r\n", &t,
				  NULL));
	assert_false(match_command("a SEARCH 4:* TEXT koala\r\n", &t, NULL));
	uint32_t u = 57;
	struct imap_seqset saved;
	imap_seqset_from_sorted(&saved, &u, 1);
	assert_true(match_command("a SEARCH $ CC dave\r\n", &t, &saved));
	assert_false(match_command("a SEARCH $ CC dave\r\n", &t, NULL));
	imap_seqset_free(&saved);
	tmsg_free(&t);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_internaldate),
		cmocka_unit_test(test_sentdate),
		cmocka_unit_test(test_size_modseq),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_saved_set),
		cmocka_unit_test(test_boolean),
		cmocka_unit_test(test_address_keys),
		cmocka_unit_test(test_subject_header),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_odd_messages),
		cmocka_unit_test(test_cheap_first),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_unprepared),
		cmocka_unit_test(test_needs_text),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_parsed_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
