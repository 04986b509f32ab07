/*
 * deliver.c — end of message: the last checks, the metadata parse, and the
 * hand-over to the store writer; then the reply once the commit is durable.
 *
 * One blob serves every local recipient (each gets a row in its INBOX) and
 * every remote one (a queue row that skips our Return-Path line).  The
 * 250 is sent from smtp_commit_done(), which runs only after the writer
 * has synced the blob and committed the index.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void smtp_delivery_cleanup(struct smtp_session *s)
{
	struct store_delivery *d = s->delivery;
	if (d) {
		free((void *)d->account_ids);
		free((void *)d->remote);
		free(d);
		s->delivery = NULL;
	}
	mail_meta_free(&s->meta);
	memset(&s->meta, 0, sizeof s->meta);
}

/* "a@x,b@y" for the log line (cut when long). */
static void rcpt_list(struct smtp_session *s, struct buf *b)
{
	for (size_t i = 0; i < s->nrcpts; i++) {
		if (b->len > 800) {
			buf_printf(b, ",...(%zu)", s->nrcpts);
			break;
		}
		if (i)
			buf_putc(b, ',');
		buf_puts(b, s->rcpts[i].address);
	}
}

static void log_result(struct smtp_session *s, const char *result, int code, const char *reason)
{
	struct buf to = BUF_INIT;
	rcpt_list(s, &to);
	log_info("smtp", "session=%s msg=%s id=%s from=%s to=%s size=%llu code=%d%s%s%s",
		 s->c ? s->c->id : "-", result, s->msgid,
		 lq(s->mail.path.null ? "<>" : s->mail.path.address), lq(buf_cstr(&to)),
		 (unsigned long long)s->spool.size, code,
		 reason ? " reason=" : "", reason ? lq(reason) : "",
		 s->c ? "" : " client=gone");
	buf_free(&to);
}

/* Refuse the message at end of data: reply, log, forget the transaction. */
static void refuse(struct smtp_session *s, int code, const char *enhanced, const char *text, const char *reason)
{
	log_result(s, "rejected", code, reason);
	if (code >= 500)
		smtp_reply_error(s, code, enhanced, "%s", text);
	else
		smtp_reply(s, code, enhanced, "%s", text);
	smtp_transaction_reset(s);
	s->state = ST_READY;
}

static void commit_done(struct smtp_session *s)
{
	struct store_delivery *d = s->delivery;
	s->busy = BUSY_NONE;
	s->transactions++;
	switch (d->status) {
	case STORE_OK:
		log_result(s, "accepted", 250, NULL);
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->msgid);
		break;
	case STORE_NOTFOUND:
		log_result(s, "rejected", 550, "recipients gone");
		smtp_reply(s, 550, "5.1.1", "Recipient address rejected: User unknown");
		break;
	case STORE_QUOTA:
		log_result(s, "rejected", 452, "quota");
		smtp_reply(s, 452, "4.2.2", "Mailbox full, try again later");
		break;
	default:
		log_result(s, "rejected", 451, store_status_str(d->status));
		smtp_reply(s, 451, "4.3.0", "Temporary failure storing the message, try again later");
		break;
	}
	/* The writer took the spool file over, whatever the outcome. */
	free(s->spool.path);
	s->spool.path = NULL;
	smtp_transaction_reset(s);
	s->state = ST_READY;
	if (s->c)
		smtp_process(s);   /* answers 421 first when the server is stopping */
}

static void delivery_done_on_writer(struct store_delivery *d)
{
	smtp_post(d->arg, commit_done);
}

/* Collect distinct local accounts and remote recipients of all RCPTs. */
static void build_targets(struct smtp_session *s, struct store_delivery *d)
{
	size_t na = 0, nr = 0;
	for (size_t i = 0; i < s->nrcpts; i++) {
		na += s->rcpts[i].naccounts;
		nr += s->rcpts[i].nremote;
	}
	int64_t *acc = xcalloc(na ? na : 1, sizeof *acc);
	struct store_remote_rcpt *rem = xcalloc(nr ? nr : 1, sizeof *rem);
	size_t ua = 0, ur = 0;
	for (size_t i = 0; i < s->nrcpts; i++) {
		const struct smtp_rcpt *r = &s->rcpts[i];
		for (size_t j = 0; j < r->naccounts; j++) {
			bool dup = false;
			for (size_t k = 0; k < ua && !dup; k++)
				dup = acc[k] == r->account_ids[j];
			if (!dup)
				acc[ua++] = r->account_ids[j];
		}
		for (size_t j = 0; j < r->nremote; j++) {
			bool dup = false;
			for (size_t k = 0; k < ur && !dup; k++)
				dup = strcmp(rem[k].rcpt, r->remote[j]) == 0;
			if (dup)
				continue;
			rem[ur].rcpt = r->remote[j];
			/* An alias expanding elsewhere keeps the address the sender used as ORCPT. */
			rem[ur].orcpt = r->orcpt ? r->orcpt : (strcmp(r->address, r->remote[j]) ? r->address : NULL);
			rem[ur].notify = r->notify;
			ur++;
		}
	}
	d->account_ids = acc;
	d->naccounts = ua;
	d->remote = rem;
	d->nremote = ur;
}

static void deliver(struct smtp_session *s, bool junk);

/*
 * The MX checks are in: refuse, or put their trace fields on (and take
 * forged ones off) and deliver.  A verdict that came from a DNS callback
 * resumes the input, which waited for it, unless the commit now does.
 */
static void after_mailauth(struct smtp_session *s, const struct smtp_mailauth_verdict *v)
{
	bool theirs = (s->spool.hdr.seen & SMTP_HDR_AUTH_RESULTS) != 0;
	if (v->code) {
		refuse(s, v->code, v->enhanced, v->text, v->reason);
	} else if ((v->fields.len || v->top.len || theirs) &&
		   !smtp_spool_rewrite_top(s, &v->top, &v->fields, theirs ? smtp_mailauth_drop_authres : NULL, s)) {
		refuse(s, 451, "4.3.0", "Temporary failure, try again later", "spool write");
	} else {
		if (v->junk)
			log_info("smtp", "session=%s msg=\"filed as junk\" id=%s reason=%s", s->c ? s->c->id : "-",
				 s->msgid, lq(v->reason ? v->reason : "-"));
		deliver(s, v->junk);
	}
	if (v->later && s->busy == BUSY_NONE && s->c)
		smtp_process(s);
}

void smtp_end_of_message(struct smtp_session *s)
{
	struct smtp_spool *sp = &s->spool;
	s->state = ST_READY;
	if (sp->too_big) {
		refuse(s, 552, "5.3.4", "Message size exceeds fixed maximum message size", "size");
		return;
	}
	if (sp->scan.bare_eol) {
		refuse(s, 550, "5.6.0", "Message refused: bare CR or LF in message data (must be CRLF)", "bare CR/LF");
		return;
	}
	if (sp->scan.too_long) {
		refuse(s, 500, "5.5.2", "Message refused: line longer than 1000 octets", "line too long");
		return;
	}
	if (smtp_is_submission(s) && s->authenticated) {
		if (!smtp_submission_finish(s)) {
			refuse(s, 451, "4.3.0", "Temporary failure, try again later", "spool write");
			return;
		}
		deliver(s, false);
		return;
	}
	smtp_mailauth_end(s, after_mailauth);
}

static void deliver(struct smtp_session *s, bool junk)
{
	struct smtp_spool *sp = &s->spool;
	struct store_delivery *d = xcalloc(1, sizeof *d);
	s->delivery = d;
	build_targets(s, d);
	uint64_t file_size = sp->prefix_size + sp->size;
	/*
	 * Metadata for IMAP, parsed once now: from the write buffer when the
	 * whole message is still in it (most mail), else from an mmap of the
	 * file, which the page cache serves.
	 */
	bool in_memory = sp->flushed == 0 && sp->out.len == file_size;
	if (d->naccounts && in_memory) {
		mail_meta_parse(sp->out.data, sp->out.len, &s->meta);
		d->meta = &s->meta;
	}
	if (!smtp_spool_finish(s)) {
		refuse(s, 451, "4.3.0", "Temporary failure, try again later", "spool write");
		return;
	}
	if (d->naccounts && !in_memory) {
		void *map = mmap(NULL, file_size, PROT_READ, MAP_SHARED, sp->fd, 0);
		if (map == MAP_FAILED) {
			refuse(s, 451, "4.3.0", "Temporary failure, try again later", "mmap");
			return;
		}
		mail_meta_parse(map, file_size, &s->meta);   /* the results are copies */
		munmap(map, file_size);
		d->meta = &s->meta;
	}
	close(sp->fd);
	sp->fd = -1;

	d->spool_path = sp->path;
	d->blob_id = sp->blob_id;
	d->size = file_size;
	d->message_id = s->msgid;
	d->internaldate = now_unix();
	d->queue_offset = sp->return_path_size;
	d->sender = s->mail.path.null ? "" : s->mail.path.address;
	d->ret = s->mail.ret == SMTP_RET_FULL ? "FULL" : s->mail.ret == SMTP_RET_HDRS ? "HDRS" : NULL;
	d->envid = s->mail.envid[0] ? s->mail.envid : NULL;
	/* BINARYMIME is never offered, so 8BITMIME is the only non-7-bit body. */
	d->body_8bit = s->mail.body == SMTP_BODY_8BITMIME;
	d->smtputf8 = s->mail.smtputf8;
	d->requiretls = s->mail.requiretls;
	d->junk = junk;
	d->done = delivery_done_on_writer;
	d->arg = s;
	s->busy = BUSY_COMMIT;
	store_deliver(s->srv->writer, d);
}
