/*
 * append.c — APPEND (RFC 9051 §6.3.12) with UIDPLUS's APPENDUID, BINARY's
 * literal8 and UTF8=ACCEPT's UTF8 form.
 *
 * The message literal was spooled to a file while the command was read
 * (session.c); here its metadata is parsed once and the file is handed to
 * the store writer, which commits it with the other pending deliveries
 * (one syncfs, one transaction) and enforces the quota.  The tagged OK goes
 * out only from the writer's completion, so it means "on disk".
 */
#include "imap/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct append_ctx {
	struct store_delivery d;
	struct imap_cmd *cmd;
	char *path;
	char msgid[17];
	int64_t account_id;
	struct imap_session *session;
};

void imap_append_cleanup(struct imap_session *s)
{
	struct store_delivery *d = s->delivery;
	if (!d)
		return;
	struct append_ctx *a = d->arg;
	imap_cmd_free(a->cmd);
	free(a->cmd);
	free(a->path);
	free(a);
	mail_meta_free(&s->meta);
	memset(&s->meta, 0, sizeof s->meta);
	s->delivery = NULL;
}

static void append_finished(struct imap_session *s)
{
	struct store_delivery *d = s->delivery;
	struct append_ctx *a = d->arg;
	s->busy = IBUSY_NONE;
	if (s->c) {
		const char *tag = a->cmd->tag;
		switch (d->status) {
		case STORE_OK:
			log_info("imap", "session=%s msg=\"appended\" user=%s uid=%u size=%llu", s->c->id, lq(s->user),
				 d->uid, (unsigned long long)d->size);
			imap_ok(s, a->cmd, "[APPENDUID %u %u] APPEND completed", d->uidvalidity, d->uid);
			break;
		case STORE_NOTFOUND:
			imap_tagged(s, tag, "NO", "[TRYCREATE] No such mailbox");
			break;
		default:
			imap_store_error(s, tag, d->status, "APPEND");
			break;
		}
	}
	imap_append_cleanup(s);
	if (s->c)
		imap_process(s);
}

static void append_done_on_writer(struct store_delivery *d)
{
	struct append_ctx *a = d->arg;
	imap_post(a->session, append_finished);
}

struct mailbox_id {
	bool found;
	int64_t id;
};

static void got_mailbox(void *ctx, const struct store_mailbox_info *mb)
{
	struct mailbox_id *m = ctx;
	m->found = true;
	m->id = mb->id;
}

void imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd)
{
	/* Take the spooled message out of the literal table, so the command reset keeps the file. */
	int fd = -1;
	char *path = NULL;
	for (size_t i = 0; i < s->nlits; i++) {
		if (s->lits[i].fd >= 0) {
			fd = s->lits[i].fd;
			path = (char *)s->lits[i].path;
			s->lits[i].fd = -1;
			s->lits[i].path = NULL;
		}
	}
	struct buf name = BUF_INIT;
	struct mailbox_id mb = { 0 };
	if (fd < 0 || !path) {
		imap_bad(s, cmd->tag, "Missing message literal");
		goto fail;
	}
	if (!imap_mailbox_arg(s, cmd, &cmd->mailbox, &name))
		goto fail;
	enum store_status st = store_mailbox_info(imap_store(s), s->account_id, name.data, got_mailbox, &mb);
	if (st == STORE_NOTFOUND || (st == STORE_OK && !mb.found)) {
		imap_tagged(s, cmd->tag, "NO", "[TRYCREATE] No such mailbox");
		goto fail;
	}
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, "APPEND");
		goto fail;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		imap_store_error(s, cmd->tag, STORE_IOERR, "APPEND");
		goto fail;
	}
	if (sb.st_size == 0) {
		imap_tagged(s, cmd->tag, "NO", "[CANNOT] Empty message");
		goto fail;
	}
	void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		imap_store_error(s, cmd->tag, STORE_IOERR, "APPEND");
		goto fail;
	}
	/* RFC 9051 §4.3: NUL only travels in a literal8 (RFC 3516 APPEND). */
	if (!(cmd->append.msg && cmd->append.msg->binary) && memchr(map, '\0', (size_t)sb.st_size)) {
		munmap(map, (size_t)sb.st_size);
		imap_tagged(s, cmd->tag, "NO", "[CANNOT] NUL octet in a message; use a literal8");
		goto fail;
	}
	mail_meta_parse(map, (size_t)sb.st_size, &s->meta);
	munmap(map, (size_t)sb.st_size);
	close(fd);
	fd = -1;

	struct append_ctx *a = xcalloc(1, sizeof *a);
	a->cmd = cmd;
	s->cmd_parsed = NULL;
	a->path = path;
	path = NULL;
	a->account_id = s->account_id;
	random_id(a->msgid, 16);
	struct store_delivery *d = &a->d;
	d->spool_path = a->path;
	d->size = (uint64_t)sb.st_size;
	d->message_id = a->msgid;
	d->internaldate = cmd->append.has_date ? cmd->append.date : now_unix();
	d->meta = &s->meta;
	d->account_ids = &a->account_id;
	d->naccounts = 1;
	d->sender = "";
	d->mailbox_id = mb.id;
	d->flags = cmd->append.flags;
	d->keywords = cmd->append.keywords;
	d->done = append_done_on_writer;
	d->arg = a;
	s->delivery = d;
	s->busy = IBUSY_APPEND;
	a->session = s;
	store_deliver(s->srv->writer, d);
	buf_free(&name);
	return;
fail:
	if (fd >= 0)
		close(fd);
	if (path) {
		unlink(path);
		free(path);
	}
	buf_free(&name);
}
