/*
 * notice.c — telling a sender what became of their mail: the recipients
 * collected per action (struct queue_notice), the RFC 3464 report written
 * with dsn_write() into a new blob, and its delivery from <> through the
 * store writer like any message: into the sender's INBOX when the sender
 * is local (the usual case: our users submitted the mail), else into the
 * queue for the sender's own MX.
 *
 * The report starts with "Return-Path: <>", as every stored message starts
 * with its Return-Path; queue rows skip that line.  A notice is never sent
 * about mail from <> (the caller's rule), so a notice cannot cause one.
 */
#include "queue/queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/meta.h"
#include "net/loop.h"
#include "store/store.h"

#define RETURN_PATH_NULL "Return-Path: <>\r\n"

static const char *keep(struct queue_notice *n, const char *s)
{
	if (!s)
		return NULL;
	n->strings = xrealloc(n->strings, (n->nstrings + 1) * sizeof *n->strings);
	n->strings[n->nstrings] = xstrdup(s);
	return n->strings[n->nstrings++];
}

void queue_notice_add(struct queue_notice *n, const struct queue_item *it, const struct mta_rcpt *r,
		      enum dsn_action action, const char *remote_mta)
{
	n->rcpts = xrealloc(n->rcpts, (n->n + 1) * sizeof *n->rcpts);
	struct dsn_rcpt *d = &n->rcpts[n->n++];
	memset(d, 0, sizeof *d);
	d->rcpt = keep(n, it->rcpt);
	d->orcpt = keep(n, it->orcpt);
	d->action = action;
	d->status = keep(n, r->status[0] ? r->status : action == DSN_FAILED ? "5.0.0" :
			 action == DSN_DELAYED ? "4.0.0" : "2.0.0");
	/* The MTA reports "host[ip]:port"; Remote-MTA names the host. */
	char host[256] = "";
	if (remote_mta && strcmp(remote_mta, "none") != 0)
		snprintf(host, sizeof host, "%.*s", (int)strcspn(remote_mta, "["), remote_mta);
	d->remote_mta = host[0] && r->remote ? keep(n, host) : NULL;
	d->diagnostic = r->reply[0] ? keep(n, r->reply) : NULL;
	d->diagnostic_remote = r->remote;
	d->last_attempt = now_unix();
	d->will_retry_until = 0;
	if (n->created == 0 || it->created < n->created)
		n->created = it->created;
}

void queue_notice_clear(struct queue_notice *n)
{
	for (size_t i = 0; i < n->nstrings; i++)
		free(n->strings[i]);
	free(n->strings);
	free(n->rcpts);
	memset(n, 0, sizeof *n);
}

/* A notice on its way through the writer. */
struct notice_delivery {
	struct store_delivery d;
	struct mail_meta meta;
	struct store_rcpt rcpt;
	struct store_remote_rcpt remote[STORE_MAX_EXPANSION];
	char blob_id[STORE_BLOB_ID_MAX];
	char message_id[17];
	char *path;
	struct loop *loop;
	void (*done)(void *arg);
	void *arg;
};

static void notice_done_on_loop(void *arg)
{
	struct notice_delivery *nd = arg;
	if (nd->d.status != STORE_OK)
		log_error("queue", "msg=\"notification not stored\" queue_id=%s status=%s", nd->message_id,
			  store_status_str(nd->d.status));
	nd->done(nd->arg);
	mail_meta_free(&nd->meta);
	store_rcpt_clear(&nd->rcpt);
	free(nd->path);
	free(nd);
}

static void notice_done_on_writer(struct store_delivery *d)
{
	struct notice_delivery *nd = (struct notice_delivery *)(void *)d;
	loop_post(nd->loop, notice_done_on_loop, nd);
}

/* The report into a new blob; its size, or -1. */
static int64_t write_report(struct store *s, const struct queue_item *msg, const struct dsn_report *r,
			    char *blob_id, size_t idsize, char **path)
{
	int orig = -1;
	/* Without the original the sender still hears what became of the mail. */
	if (store_blob_open(s, msg->blob_id, &orig) != STORE_OK)
		log_error("queue", "msg=\"cannot open the message for its notification: sent without it\" queue_id=%s",
			  msg->message_id);
	int out = store_blob_create(s, blob_id, idsize, path);
	if (out < 0) {
		if (orig >= 0)
			close(orig);
		return -1;
	}
	int64_t size = -1;
	if (write_full(out, RETURN_PATH_NULL, sizeof RETURN_PATH_NULL - 1)) {
		int64_t w = dsn_write(r, orig, msg->queue_offset, out);
		if (w >= 0)
			size = w + (int64_t)(sizeof RETURN_PATH_NULL - 1);
	}
	if (size < 0)
		log_error("queue", "msg=\"cannot write the notification\" queue_id=%s err=%s", msg->message_id,
			  lq(strerror(errno)));
	if (orig >= 0)
		close(orig);
	close(out);
	return size;
}

/* IMAP's metadata of the report, for local recipients. */
static bool parse_meta(const char *path, int64_t size, struct mail_meta *meta)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	mail_meta_parse(map, (size_t)size, meta);
	munmap(map, (size_t)size);
	return true;
}

unsigned queue_notify_sender(struct store *s, struct store_writer *w, const struct config *cfg,
			     const struct queue_item *msg, const struct queue_notice *n, int64_t lifetime,
			     void (*done)(void *arg), void *arg)
{
	if (n->n == 0)
		return 0;
	const char *kind = n->rcpts[0].action == DSN_FAILED ? "failure" :
			   n->rcpts[0].action == DSN_DELAYED ? "delay" : "success";
	struct notice_delivery *nd = xcalloc(1, sizeof *nd);
	random_id(nd->message_id, 16);

	/* Where the sender gets it: local accounts (with aliases), or the queue. */
	const char *at = strrchr(msg->sender, '@');
	bool local = at && store_domain_is_local(s, at + 1);
	if (local) {
		enum store_status st = store_resolve_rcpt(s, msg->sender, &nd->rcpt);
		if (st != STORE_OK) {
			log_warn("queue", "queue_id=%s msg=\"notification dropped: sender unknown\" sender=<%s> kind=%s",
				 msg->message_id, msg->sender, kind);
			store_rcpt_clear(&nd->rcpt);
			free(nd);
			return 0;
		}
	} else {
		nd->rcpt.remote[0] = xstrdup(msg->sender);
		nd->rcpt.nremote = 1;
	}

	struct dsn_rcpt *rcpts = xcalloc(n->n, sizeof *rcpts);
	memcpy(rcpts, n->rcpts, n->n * sizeof *rcpts);
	for (size_t i = 0; i < n->n; i++)
		if (rcpts[i].action == DSN_DELAYED)
			rcpts[i].will_retry_until = n->created + lifetime;
	struct dsn_report r = {
		.hostname = cfg->hostname,
		.to = msg->sender,
		.envid = msg->envid,
		.ret = msg->ret,
		.queue_id = msg->message_id,
		.arrival = n->created,
		.now = now_unix(),
		.rcpts = rcpts,
		.nrcpts = n->n,
	};
	char *path = NULL;
	int64_t size = write_report(s, msg, &r, nd->blob_id, sizeof nd->blob_id, &path);
	free(rcpts);
	if (size < 0 || (nd->rcpt.naccounts && !parse_meta(path, size, &nd->meta))) {
		if (path)
			unlink(path);
		free(path);
		store_rcpt_clear(&nd->rcpt);
		free(nd);
		return 0;
	}
	nd->path = path;

	for (size_t i = 0; i < nd->rcpt.nremote; i++)
		nd->remote[i].rcpt = nd->rcpt.remote[i];
	struct store_delivery *d = &nd->d;
	d->spool_path = nd->path;
	d->blob_id = nd->blob_id;
	d->size = (uint64_t)size;
	d->message_id = nd->message_id;
	d->internaldate = now_unix();
	d->meta = nd->rcpt.naccounts ? &nd->meta : NULL;
	d->account_ids = nd->rcpt.account_ids;
	d->naccounts = nd->rcpt.naccounts;
	d->remote = nd->remote;
	d->nremote = nd->rcpt.nremote;
	d->queue_offset = sizeof RETURN_PATH_NULL - 1;
	d->sender = "";
	d->done = notice_done_on_writer;
	nd->loop = loop_current();
	nd->done = done;
	nd->arg = arg;
	log_info("queue", "queue_id=%s msg=\"sender notified\" kind=%s sender=<%s> notice=%s rcpts=%zu",
		 msg->message_id, kind, msg->sender, nd->message_id, n->n);
	store_deliver(w, d);
	return 1;
}
