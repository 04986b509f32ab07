/*
 * fetch.c — FETCH and UID FETCH (RFC 9051 §6.4.5, BINARY RFC 3516,
 * CONDSTORE/QRESYNC RFC 7162 CHANGEDSINCE, MODSEQ and VANISHED).
 *
 * Metadata (FLAGS, ENVELOPE, BODYSTRUCTURE, sizes, dates) comes from the
 * index; content never passes through memory whole: a section that is one
 * byte range of the blob is queued as a file segment, read as the socket
 * drains.  Only HEADER.FIELDS and BINARY build their bytes in memory.
 *
 * FETCH runs as a job: a batch of messages per step, and the next step
 * only once the output has drained below IMAP_OUTPUT_MAX, so "FETCH 1:*"
 * on 100,000 messages costs a bounded amount of memory.  NOTIFY's
 * MessageNew fetch-atts (notify.c) use the same code through
 * imap_fetch_unsolicited, with the same limit on output.
 */
#include "imap/session.h"
#include "imap/searchcmd.h"
#include "imap/section.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FETCH_BATCH 256

struct fetch_job {
	struct imap_job job;
	struct imap_cmd *cmd;
	uint32_t *uids;
	size_t n, next;
	bool want_flags;        /* FLAGS, requested or implied by an implicit \Seen */
	bool want_modseq;
	bool need_blob;         /* some item needs the mapped message */
	bool unreadable;        /* some message data could not be read: NO at the end */
	struct buf out;
};

static void fetch_free(struct imap_job *j)
{
	struct fetch_job *f = (struct fetch_job *)j;
	imap_cmd_free(f->cmd);
	free(f->cmd);
	free(f->uids);
	buf_free(&f->out);
	free(f);
}

static void put_internaldate(struct buf *b, int64_t t)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	buf_printf(b, "\"%2d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
		   tm.tm_hour, tm.tm_min, tm.tm_sec);
}

struct fetch_msg {
	struct fetch_job *f;
	struct imap_session *s;
	size_t pos;             /* in f->uids */
	size_t end;
	bool stopped;           /* output backed up: the batch resumes at pos */
};

static void flush_out(struct imap_session *s, struct buf *b)
{
	imap_write(s, b->data, b->len);
	buf_reset(b);
}

/*
 * A message file that cannot be read gives NIL for the item and sets
 * *unreadable, so that the command ends in NO [SERVERBUG]: a client must
 * not cache made-up content as the message's.
 */
static void put_section(struct imap_session *s, struct buf *b, const struct imap_fetch_att *att,
			const struct store_message_data *m, int *fd, const char **blob, size_t *bloblen,
			bool *unreadable)
{
	if (imap_section_needs_blob(att) && !*blob) {
		*blob = imap_message_map(s, m, fd, bloblen);
		if (!*blob) {
			log_error("imap", "session=%s msg=\"blob unreadable\" uid=%u", s->c ? s->c->id : "-", m->uid);
			*bloblen = 0;
			*unreadable = true;
			buf_puts(b, att->name);
			buf_puts(b, " NIL");
			return;
		}
	}
	struct imap_section sec;
	imap_section_get(att, m->parts, m->size, *blob, *blob ? *bloblen : 0, &sec);
	buf_puts(b, att->name);
	buf_putc(b, ' ');
	switch (sec.kind) {
	case IMAP_SECTION_NIL:
	case IMAP_SECTION_UNKNOWN_CTE:
		buf_puts(b, "NIL");
		break;
	case IMAP_SECTION_BUILT:
		if (att->type == FA_BINARY_SIZE) {
			buf_printf(b, "%llu", (unsigned long long)sec.size);
			break;
		}
		if (att->type == FA_BINARY_SECTION && memchr(sec.data.data ? sec.data.data : "", '\0', sec.data.len))
			buf_printf(b, "~{%zu}\r\n", sec.data.len);
		else
			buf_printf(b, "{%zu}\r\n", sec.data.len);
		buf_append(b, sec.data.data ? sec.data.data : "", sec.data.len);
		break;
	case IMAP_SECTION_RANGE:
		if (att->type == FA_BINARY_SIZE) {
			buf_printf(b, "%llu", (unsigned long long)sec.length);
			break;
		}
		if (sec.length && *fd < 0 && store_blob_open(imap_store(s), m->blob_id, fd) != STORE_OK) {
			log_error("imap", "session=%s msg=\"blob unreadable\" uid=%u", s->c ? s->c->id : "-", m->uid);
			*unreadable = true;
			buf_puts(b, "NIL");
			break;
		}
		buf_printf(b, "{%llu}\r\n", (unsigned long long)sec.length);
		if (sec.length == 0)
			break;
		if (sec.length <= 16384 && *blob) {
			buf_append(b, *blob + sec.offset, (size_t)sec.length);
			break;
		}
		flush_out(s, b);
		if (s->c && !conn_write_file(s->c, *fd, sec.offset, sec.length)) {
			/* Announced and cannot be sent (out of descriptors): keep the stream in step. */
			*unreadable = true;
			buf_reserve(b, (size_t)sec.length);
			memset(b->data + b->len, ' ', (size_t)sec.length);
			b->len += (size_t)sec.length;
			b->data[b->len] = '\0';
		}
		break;
	}
	imap_section_free(&sec);
}

static int fetch_one(void *ctx, const struct store_message_data *m)
{
	struct fetch_msg *fm = ctx;
	struct fetch_job *f = fm->f;
	struct imap_session *s = fm->s;
	/* The range query also returns UIDs between ours that the set does not name. */
	while (fm->pos < fm->end && f->uids[fm->pos] < m->uid)
		fm->pos++;
	if (fm->pos >= fm->end || f->uids[fm->pos] != m->uid)
		return 0;
	fm->pos++;
	if (f->cmd->changedsince && m->modseq <= f->cmd->changedsince)
		return 0;
	uint32_t seq = imap_view_seq(s->view, m->uid);
	if (!seq)
		return 0;

	struct buf *b = &f->out;
	if (f->want_flags)
		imap_view_announce_keywords(s, m->keywords);   /* goes out ahead of b: still before this FETCH */
	buf_printf(b, "* %u FETCH (", seq);
	/* A flag, not a length test: a streamed literal empties b on the way (flush_out). */
	bool first = true;
	if (f->cmd->uid) {
		buf_printf(b, "UID %u", m->uid);
		first = false;
	}
	if (f->want_flags) {
		buf_puts(b, first ? "FLAGS " : " FLAGS ");
		imap_put_flags(b, m->flags, m->keywords, imap_is_recent(s, m->uid));
		first = false;
	}
	if (f->want_modseq) {
		buf_printf(b, "%sMODSEQ (%llu)", first ? "" : " ", (unsigned long long)m->modseq);
		first = false;
	}

	int fd = -1;
	const char *blob = NULL;
	size_t bloblen = 0;
	for (size_t i = 0; i < f->cmd->natts; i++) {
		const struct imap_fetch_att *att = &f->cmd->atts[i];
		if (att->type == FA_UID && f->cmd->uid)
			continue;
		if (att->type == FA_FLAGS || att->type == FA_MODSEQ)
			continue;
		if (!first)
			buf_putc(b, ' ');
		first = false;
		switch (att->type) {
		case FA_UID:
			buf_printf(b, "UID %u", m->uid);
			break;
		case FA_INTERNALDATE:
			buf_puts(b, "INTERNALDATE ");
			put_internaldate(b, m->internaldate);
			break;
		case FA_RFC822_SIZE:
			buf_printf(b, "RFC822.SIZE %llu", (unsigned long long)m->size);
			break;
		case FA_ENVELOPE:
			buf_printf(b, "ENVELOPE %s", m->envelope && *m->envelope ? m->envelope : "NIL");
			break;
		case FA_BODY:
			buf_printf(b, "BODY %s", m->body);
			break;
		case FA_BODYSTRUCTURE:
			buf_printf(b, "BODYSTRUCTURE %s", m->bodystructure);
			break;
		default:
			put_section(s, b, att, m, &fd, &blob, &bloblen, &f->unreadable);
			break;
		}
	}
	buf_puts(b, ")\r\n");
	if (blob && bloblen)
		munmap((void *)blob, bloblen);
	if (fd >= 0)
		close(fd);
	if (b->len > 65536)
		flush_out(s, b);
	/* Between batches the job waits for the socket; within one it must not run ahead of it either. */
	fm->stopped = s->c && conn_output_pending(s->c) + b->len > IMAP_OUTPUT_MAX;
	return fm->stopped;
}

static void fetch_step(struct imap_job *j)
{
	struct fetch_job *f = (struct fetch_job *)j;
	struct imap_session *s = j->s;
	if (!s->c) {
		imap_job_done(s);
		return;
	}
	if (f->next < f->n) {
		size_t end = f->next + FETCH_BATCH < f->n ? f->next + FETCH_BATCH : f->n;
		struct fetch_msg fm = { f, s, f->next, end, false };
		enum store_status st = store_message_range(imap_store(s), s->view->mailbox_id, f->uids[f->next],
							   f->uids[end - 1], 0, fetch_one, &fm);
		flush_out(s, &f->out);
		f->next = fm.stopped ? fm.pos : end;
		if (st != STORE_OK) {
			imap_store_error(s, f->cmd->tag, st, "FETCH");
			imap_job_done(s);
		}
		return;
	}
	if (f->unreadable)
		imap_tagged(s, f->cmd->tag, "NO", "[SERVERBUG] %s: some message data could not be read",
			    f->cmd->uid ? "UID FETCH" : "FETCH");
	else
		imap_ok(s, f->cmd, "%s completed", f->cmd->uid ? "UID FETCH" : "FETCH");
	imap_job_done(s);
}

static bool sets_seen(const struct imap_fetch_att *a)
{
	switch (a->type) {
	case FA_RFC822:
	case FA_RFC822_TEXT:
	case FA_BODY_SECTION:
	case FA_BINARY_SECTION:
		return !a->peek;
	default:
		return false;
	}
}

/* FLAGS and MODSEQ asked for (fetch_one puts them first); whether an item sets \Seen. */
static bool fetch_wants(struct fetch_job *f, const struct imap_cmd *cmd)
{
	bool seen = false;
	for (size_t i = 0; i < cmd->natts; i++) {
		const struct imap_fetch_att *a = &cmd->atts[i];
		if (a->type == FA_FLAGS)
			f->want_flags = true;
		if (a->type == FA_MODSEQ)
			f->want_modseq = true;
		if (sets_seen(a))
			seen = true;
	}
	return seen;
}

size_t imap_fetch_unsolicited(struct imap_session *s, struct imap_cmd *cmd, const uint32_t *uids, size_t n)
{
	struct fetch_job f = { .cmd = cmd, .uids = (uint32_t *)uids, .n = n };
	(void)fetch_wants(&f, cmd);
	if (s->condstore && f.want_flags)
		f.want_modseq = true;   /* RFC 7162 §3.1.4.1, as for FETCH */
	size_t next = 0;
	while (next < n && s->c && s->view && conn_output_pending(s->c) <= IMAP_OUTPUT_MAX) {
		size_t end = next + FETCH_BATCH < n ? next + FETCH_BATCH : n;
		struct fetch_msg fm = { &f, s, next, end, false };
		enum store_status st = store_message_range(imap_store(s), s->view->mailbox_id, uids[next],
							   uids[end - 1], 0, fetch_one, &fm);
		flush_out(s, &f.out);
		next = fm.stopped ? fm.pos : end;
		if (st != STORE_OK)
			next = n;       /* logged by the store; no tagged reply to carry a NO */
	}
	buf_free(&f.out);
	return next;
}

static void ignore_change(void *ctx, const struct store_change *c)
{
	uint64_t *modseq = ctx;
	if (c->modseq > *modseq)
		*modseq = c->modseq;
}

/* VANISHED (EARLIER) for UID FETCH ... (CHANGEDSINCE m VANISHED), RFC 7162 §3.2.6. */
struct vanished_ctx {
	const struct imap_seqset *set;
	uint32_t *u;
	size_t n, cap;
};

static void vanished_change(void *ctx, const struct store_change *c)
{
	struct vanished_ctx *v = ctx;
	if (!c->expunged || !imap_seqset_contains(v->set, c->uid))
		return;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->u = xrealloc(v->u, v->cap * sizeof *v->u);
	}
	v->u[v->n++] = c->uid;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void report_vanished(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_seqset set = { 0 };
	imap_seqset_copy(&set, &cmd->set);
	struct imap_view *v = s->view;
	imap_seqset_resolve(&set, v->n ? v->uids[v->n - 1] : 0);
	struct vanished_ctx vc = { .set = &set };
	uint64_t highest;
	uint32_t uidnext;
	if (store_mailbox_changes(imap_store(s), v->mailbox_id, cmd->changedsince, vanished_change, &vc, &highest,
				  &uidnext) == STORE_OK && vc.n) {
		qsort(vc.u, vc.n, sizeof *vc.u, cmp_u32);
		size_t k = 1;
		for (size_t i = 1; i < vc.n; i++)
			if (vc.u[i] != vc.u[k - 1])
				vc.u[k++] = vc.u[i];
		struct imap_seqset out = { 0 };
		imap_seqset_from_sorted(&out, vc.u, k);
		struct buf b = BUF_INIT;
		buf_puts(&b, "* VANISHED (EARLIER) ");
		imap_seqset_format(&out, &b);
		buf_puts(&b, "\r\n");
		imap_write(s, b.data, b.len);
		buf_free(&b);
		imap_seqset_free(&out);
	}
	free(vc.u);
	imap_seqset_free(&set);
}

void imap_cmd_fetch(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->vanished && !s->qresync) {
		imap_bad(s, cmd->tag, "VANISHED requires ENABLE QRESYNC");
		return;
	}
	struct fetch_job *f = xcalloc(1, sizeof *f);
	if (!imap_view_uids(s, &cmd->set, cmd->uid, &f->uids, &f->n)) {
		free(f);
		imap_bad(s, cmd->tag, "Invalid message sequence number");
		return;
	}
	bool seen = fetch_wants(f, cmd);
	if (f->want_modseq || cmd->changedsince)
		imap_condstore_enable(s);
	if (cmd->changedsince || (s->condstore && f->want_flags))
		f->want_modseq = true;   /* RFC 7162 §3.1.4.1 */

	if (seen && !s->view->readonly && f->n) {
		/* Reading a body marks it \Seen (RFC 9051 §6.4.5); the response then carries the new FLAGS. */
		uint64_t modseq = 0;
		uint32_t *failed = NULL;
		size_t nfailed = 0;
		enum store_status st = store_flags_change(imap_store(s), s->view->mailbox_id, f->uids, f->n,
							  STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, ignore_change,
							  &modseq, &failed, &nfailed);
		free(failed);
		if (st == STORE_OK && modseq) {
			f->want_flags = true;
			imap_view_own_change(s, modseq);
		}
	}
	if (cmd->vanished)
		report_vanished(s, cmd);
	/* The job owns the command from here. */
	f->cmd = cmd;
	s->cmd_parsed = NULL;
	f->job.step = fetch_step;
	f->job.free = fetch_free;
	imap_job_start(s, &f->job);
}
