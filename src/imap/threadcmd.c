/*
 * threadcmd.c — THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT and
 * REFERENCES over the messages a search selects.
 *
 * What threading needs of each message is gathered once, in the scan
 * (searchcmd.c), into one arena: the sent date, base subject and
 * Message-ID come from the index row (the decoded Subject, the
 * ENVELOPE); only REFERENCES reads the blob, and only its header, for
 * the References field, which the index does not keep.  thread.c then
 * threads the array.
 */
#include "imap/searchcmd.h"
#include "imap/sort.h"
#include "imap/thread.h"
#include "lib/xalloc.h"
#include "mail/header.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Header octets read for References: 1000 ids of a line each, with room to spare. */
#define THREAD_HEADER_MAX (1024 * 1024)

/* A message as gathered: offsets into the arena (it moves while it grows). */
struct tmsg {
	uint32_t num;
	int64_t date;
	size_t subj_off, subj_len;
	bool reply;
	size_t id_off, id_len;      /* id_len 0: none */
	size_t refs, nrefs;         /* into thread_run.refs */
};

struct tref {
	size_t off, len;
};

struct thread_run {
	struct imap_session *s;
	const struct imap_cmd *cmd;
	struct tmsg *msgs;
	size_t n, cap;
	struct tref *refs;
	size_t nrefs, caprefs;
	struct buf arena;
	struct buf tmp, id;
	struct buf hdr;             /* the header of the message at hand */
	struct tref *ring;          /* the last IMAP_THREAD_MAX_REFS references of one message */
};

static size_t arena_put(struct buf *arena, const char *p, size_t n)
{
	size_t off = arena->len;
	buf_append(arena, p, n);
	return off;
}

static void ref_push(struct thread_run *r, size_t off, size_t len)
{
	if (r->nrefs == r->caprefs) {
		r->caprefs = r->caprefs ? r->caprefs * 2 : 1024;
		r->refs = xrealloc(r->refs, r->caprefs * sizeof *r->refs);
	}
	r->refs[r->nrefs].off = off;
	r->refs[r->nrefs++].len = len;
}

/* The ids of a field value, the last IMAP_THREAD_MAX_REFS of them, onto r->refs; how many. */
static size_t refs_from(struct thread_run *r, const char *v, size_t n)
{
	size_t pos = 0, total = 0;
	while (imap_msgid_next(v, n, &pos, &r->id)) {
		struct tref *slot = &r->ring[total % IMAP_THREAD_MAX_REFS];
		slot->off = arena_put(&r->arena, r->id.data, r->id.len);
		slot->len = r->id.len;
		total++;
	}
	size_t keep = total < IMAP_THREAD_MAX_REFS ? total : IMAP_THREAD_MAX_REFS;
	for (size_t i = total - keep; i < total; i++)
		ref_push(r, r->ring[i % IMAP_THREAD_MAX_REFS].off, r->ring[i % IMAP_THREAD_MAX_REFS].len);
	return keep;
}

/*
 * The References field of m's header (the first one), unfolded into
 * r->tmp; false if none.  Only the header is read, with one pread: at
 * most THREAD_HEADER_MAX octets of it, which holds any References worth
 * having (IMAP_THREAD_MAX_REFS ids).
 */
static bool references_field(struct thread_run *r, const struct store_message_data *m)
{
	int fd = -1;
	if (store_blob_open(imap_store(r->s), m->blob_id, &fd) != STORE_OK)
		return false;
	size_t want = m->header_size && m->header_size < THREAD_HEADER_MAX ? (size_t)m->header_size : THREAD_HEADER_MAX;
	if (want > m->size)
		want = (size_t)m->size;
	buf_reset(&r->hdr);
	buf_reserve(&r->hdr, want);
	ssize_t got = pread(fd, r->hdr.data, want, 0);
	close(fd);
	if (got <= 0)
		return false;
	r->hdr.len = (size_t)got;
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	mail_hdr_iter_init(&it, r->hdr.data, r->hdr.len);
	while (mail_hdr_next(&it, &f)) {
		if (mail_hdr_is(&f, "references")) {
			buf_reset(&r->tmp);
			mail_hdr_unfold(&r->tmp, f.value, f.value_len);
			return true;
		}
	}
	return false;
}

static int thread_hit(void *ctx, const struct store_message_data *m, uint32_t seq)
{
	struct thread_run *r = ctx;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->msgs = xrealloc(r->msgs, r->cap * sizeof *r->msgs);
	}
	struct tmsg *t = &r->msgs[r->n++];
	memset(t, 0, sizeof *t);
	t->num = r->cmd->uid ? m->uid : seq;
	t->date = m->sent_date ? m->sent_date : m->internaldate;
	t->subj_off = r->arena.len;
	const char *subj = m->subject ? m->subject : "";
	imap_sort_base_subject(&r->arena, subj, strlen(subj), &t->reply);
	t->subj_len = r->arena.len - t->subj_off;
	if (r->cmd->thread_alg != IMAP_THREAD_REFERENCES)
		return 0;

	buf_reset(&r->tmp);
	size_t pos = 0;
	if (imap_env_string(m->envelope, IMAP_ENV_MESSAGE_ID, &r->tmp) &&
	    imap_msgid_next(r->tmp.data, r->tmp.len, &pos, &r->id)) {
		t->id_off = arena_put(&r->arena, r->id.data, r->id.len);
		t->id_len = r->id.len;
	}
	t->refs = r->nrefs;
	if (references_field(r, m))
		t->nrefs = refs_from(r, r->tmp.data ? r->tmp.data : "", r->tmp.len);
	if (t->nrefs == 0) {
		/* RFC 5256 §3 step 1A: no valid References, In-Reply-To's first id instead */
		buf_reset(&r->tmp);
		pos = 0;
		if (imap_env_string(m->envelope, IMAP_ENV_IN_REPLY_TO, &r->tmp) &&
		    imap_msgid_next(r->tmp.data, r->tmp.len, &pos, &r->id)) {
			ref_push(r, arena_put(&r->arena, r->id.data, r->id.len), r->id.len);
			t->nrefs = 1;
		}
	}
	return 0;
}

static void thread_run_free(struct thread_run *r)
{
	free(r->msgs);
	free(r->refs);
	free(r->ring);
	buf_free(&r->arena);
	buf_free(&r->tmp);
	buf_free(&r->id);
	buf_free(&r->hdr);
}

void imap_cmd_thread(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *what = cmd->uid ? "UID THREAD" : "THREAD";
	if (imap_search_uses_modseq(cmd->search))
		imap_condstore_enable(s);
	struct thread_run r = { .s = s, .cmd = cmd };
	r.ring = xmalloc(IMAP_THREAD_MAX_REFS * sizeof *r.ring);
	enum store_status st = imap_search_scan(s, cmd, thread_hit, &r);
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, what);
		thread_run_free(&r);
		return;
	}
	/* The arena is complete: offsets become pointers. */
	const char *base = r.arena.data ? r.arena.data : "";
	struct imap_thread_ref *refs = xmalloc((r.nrefs ? r.nrefs : 1) * sizeof *refs);
	for (size_t i = 0; i < r.nrefs; i++) {
		refs[i].p = base + r.refs[i].off;
		refs[i].len = r.refs[i].len;
	}
	struct imap_thread_msg *msgs = xmalloc((r.n ? r.n : 1) * sizeof *msgs);
	for (size_t i = 0; i < r.n; i++) {
		const struct tmsg *t = &r.msgs[i];
		msgs[i] = (struct imap_thread_msg){
			.num = t->num, .date = t->date, .subject = base + t->subj_off, .subject_len = t->subj_len,
			.reply = t->reply, .msgid = t->id_len ? base + t->id_off : NULL, .msgid_len = t->id_len,
			.refs = refs + t->refs, .nrefs = t->nrefs,
		};
	}
	struct buf b = BUF_INIT;
	buf_puts(&b, "* THREAD ");
	if (cmd->thread_alg == IMAP_THREAD_REFERENCES)
		imap_thread_references(&b, msgs, r.n);
	else
		imap_thread_orderedsubject(&b, msgs, r.n);
	if (r.n == 0)
		b.len--;        /* "* THREAD" alone */
	buf_puts(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
	free(msgs);
	free(refs);
	thread_run_free(&r);
	imap_ok(s, cmd, "%s completed", what);
}
