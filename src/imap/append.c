/*
 * append.c — APPEND (RFC 9051 §6.3.12) with UIDPLUS's APPENDUID, BINARY's
 * literal8, UTF8=ACCEPT's UTF8 form, MULTIAPPEND (RFC 3502: several
 * messages in one command) and CATENATE (RFC 4469, catenate.c builds the
 * message).
 *
 * Each message literal was spooled to a file while the command was read
 * (session.c); here every message is checked and its metadata parsed
 * once, and only when all of them pass are they handed to the store
 * writer as one atomic chain (store_delivery.atomic_next): one
 * transaction, one syncfs, all stored or none, the quota enforced across
 * them.  The tagged OK goes out only from the writer's completion of the
 * last one, so it means "all on disk".
 */
#include "imap/append_binary.h"
#include "imap/catenate.h"
#include "imap/session.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* One message of the command, from its spool file to its delivery. */
struct append_msg {
	struct store_delivery d;
	char *path;                 /* the spool file, until the writer takes it over */
	char msgid[17];
	struct mail_meta meta;
};

struct append_ctx {
	struct imap_cmd *cmd;
	struct imap_session *session;
	int64_t account_id;
	struct append_msg *msgs;
	size_t n;
};

static void append_ctx_free(struct append_ctx *a, bool unlink_spool)
{
	for (size_t i = 0; i < a->n; i++) {
		if (unlink_spool && a->msgs[i].path)
			unlink(a->msgs[i].path);
		free(a->msgs[i].path);
		mail_meta_free(&a->msgs[i].meta);
	}
	free(a->msgs);
	imap_cmd_free(a->cmd);
	free(a->cmd);
	free(a);
}

void imap_append_cleanup(struct imap_session *s)
{
	struct store_delivery *d = s->delivery;
	if (!d)
		return;
	/* The writer took the spool files over (moved or removed them). */
	append_ctx_free(d->arg, false);
	s->delivery = NULL;
}

/* "[APPENDUID v set]": the UIDs are consecutive, being taken in one transaction, but say so only if they are. */
static void put_uidset(struct buf *b, const struct append_ctx *a)
{
	for (size_t i = 0; i < a->n;) {
		size_t j = i + 1;
		while (j < a->n && a->msgs[j].d.uid == a->msgs[j - 1].d.uid + 1)
			j++;
		buf_printf(b, i ? ",%u" : "%u", a->msgs[i].d.uid);
		if (j - i > 1)
			buf_printf(b, ":%u", a->msgs[j - 1].d.uid);
		i = j;
	}
}

static void append_finished(struct imap_session *s)
{
	struct store_delivery *d = s->delivery;
	struct append_ctx *a = d->arg;
	s->busy = IBUSY_NONE;
	if (s->c) {
		const char *tag = a->cmd->tag;
		switch (d->status) {
		case STORE_OK: {
			uint64_t size = 0;
			for (size_t i = 0; i < a->n; i++)
				size += a->msgs[i].d.size;
			struct buf set = BUF_INIT;
			put_uidset(&set, a);
			log_info("imap", "session=%s msg=\"appended\" user=%s messages=%zu uid=%s size=%llu", s->c->id,
				 lq(s->user), a->n, set.data, (unsigned long long)size);
			imap_ok(s, a->cmd, "[APPENDUID %u %s] APPEND completed", d->uidvalidity, set.data);
			buf_free(&set);
			break;
		}
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

/* On the writer thread, once per message in chain order: the last one ends the command. */
static void append_done_on_writer(struct store_delivery *d)
{
	struct append_ctx *a = d->arg;
	if (d == &a->msgs[a->n - 1].d)
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

/* Replace the spool file's content with the converted message. */
static bool rewrite_spool(int fd, const struct buf *b)
{
	if (ftruncate(fd, 0) != 0)
		return false;
	for (size_t done = 0; done < b->len;) {
		ssize_t w = pwrite(fd, b->data + done, b->len - done, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		done += (size_t)w;
	}
	return true;
}

/*
 * NUL octets in a binary message go into base64 bodies (append_binary.h):
 * the spool file is rewritten and m's size and metadata come from the
 * converted message.  false with the tagged NO sent.
 */
static bool append_convert(struct imap_session *s, const char *tag, int fd, const char *map, size_t size,
			   struct append_msg *m)
{
	struct buf conv = BUF_INIT;
	enum imap_binconv r = imap_append_binary_convert(map, size, &conv);
	bool ok = false;
	if (r == IMAP_BINCONV_IMPOSSIBLE) {
		imap_tagged(s, tag, "NO", "[UNKNOWN-CTE] NUL octets outside a body part cannot be stored");
	} else if (!rewrite_spool(fd, &conv)) {
		imap_store_error(s, tag, STORE_IOERR, "APPEND");
	} else {
		mail_meta_parse(conv.data, conv.len, &m->meta);
		m->d.size = (uint64_t)conv.len;
		ok = true;
	}
	buf_free(&conv);
	return ok;
}

/*
 * Check one spooled message and parse its metadata.  binary: NUL octets
 * may be in it (a literal8, or CATENATE which checked its TEXT parts);
 * they are converted away.  false with the tagged NO sent.
 */
static bool append_check(struct imap_session *s, const char *tag, const char *path, bool binary, uint64_t limit,
			 struct append_msg *m)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		imap_store_error(s, tag, STORE_IOERR, "APPEND");
		return false;
	}
	bool ok = false;
	size_t size = (size_t)sb.st_size;
	if (size == 0) {
		imap_tagged(s, tag, "NO", "[CANNOT] Empty message");
	} else if ((uint64_t)sb.st_size > limit) {
		/* Only CATENATE gets here: a literal over the limit was refused while it arrived. */
		imap_tagged(s, tag, "NO", "[TOOBIG] Message over the limit of %llu octets", (unsigned long long)limit);
	} else {
		void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			imap_store_error(s, tag, STORE_IOERR, "APPEND");
		} else if (!binary && memchr(map, '\0', size)) {
			/* RFC 9051 §4.3: NUL only travels in a literal8 (RFC 3516 APPEND). */
			imap_tagged(s, tag, "NO", "[CANNOT] NUL octet in a message; use a literal8");
			munmap(map, size);
		} else if (memchr(map, '\0', size)) {
			ok = append_convert(s, tag, fd, map, size, m);
			munmap(map, size);
		} else {
			mail_meta_parse(map, size, &m->meta);
			munmap(map, size);
			m->d.size = (uint64_t)size;
			ok = true;
		}
	}
	close(fd);
	return ok;
}

/* Take the spooled literal out of the session's table, so the command reset keeps the file. */
static char *take_spool(struct imap_session *s, const struct imap_literal *l)
{
	if (!l || l < s->lits || l >= s->lits + s->nlits)
		return NULL;
	struct imap_literal *own = &s->lits[l - s->lits];
	if (own->fd < 0 || !own->path)
		return NULL;
	close(own->fd);
	own->fd = -1;
	char *path = (char *)own->path;
	own->path = NULL;
	return path;
}

void imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf name = BUF_INIT;
	struct mailbox_id mb = { 0 };
	struct append_ctx *a = xcalloc(1, sizeof *a);
	a->msgs = xcalloc(cmd->append.n ? cmd->append.n : 1, sizeof *a->msgs);
	a->n = cmd->append.n;
	/* Every spool file is this command's from here on, whatever happens next. */
	for (size_t i = 0; i < a->n; i++)
		a->msgs[i].path = take_spool(s, cmd->append.msgs[i].msg);
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
	uint64_t limit = s->srv->cfg->smtp.max_message_size, total = 0;
	uint64_t total_limit = imap_append_total_limit(limit);
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_append_msg *am = &cmd->append.msgs[i];
		struct append_msg *m = &a->msgs[i];
		bool binary = am->msg && am->msg->binary;
		if (am->nparts) {
			if (!imap_catenate(s, cmd->tag, am, limit, &m->path))
				goto fail;
			binary = true;
		} else if (!m->path) {
			imap_bad(s, cmd->tag, "Missing message literal");
			goto fail;
		}
		if (!append_check(s, cmd->tag, m->path, binary, limit, m))
			goto fail;
		total += m->d.size;
		if (total > total_limit) {
			imap_tagged(s, cmd->tag, "NO", "[LIMIT] Too many octets in one APPEND");
			goto fail;
		}
	}

	a->cmd = cmd;
	s->cmd_parsed = NULL;
	a->account_id = s->account_id;
	a->session = s;
	int64_t now = now_unix();
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_append_msg *am = &cmd->append.msgs[i];
		struct append_msg *m = &a->msgs[i];
		struct store_delivery *d = &m->d;
		random_id(m->msgid, 16);
		d->spool_path = m->path;
		d->message_id = m->msgid;
		d->internaldate = am->has_date ? am->date : now;
		d->meta = &m->meta;
		d->account_ids = &a->account_id;
		d->naccounts = 1;
		d->sender = "";
		d->mailbox_id = mb.id;
		d->flags = am->flags;
		d->keywords = am->keywords;
		d->done = append_done_on_writer;
		d->arg = a;
		d->atomic_next = i + 1 < a->n ? &a->msgs[i + 1].d : NULL;
	}
	s->delivery = &a->msgs[0].d;
	s->busy = IBUSY_APPEND;
	store_deliver(s->srv->writer, s->delivery);
	buf_free(&name);
	return;
fail:
	append_ctx_free(a, true);
	buf_free(&name);
}
