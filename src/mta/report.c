/*
 * report.c — the pieces the daily reporters share (see report.h): gzip,
 * UTC days, the request file of `tern ... send`, DKIM-signing the report
 * mail and handing it to the store writer.  Moved here from the TLS-RPT
 * reporter when DMARC aggregate reports came, so there is one copy.
 */
#include "mta/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/meta.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_keys.h"
#include "net/loop.h"
#include "store/store.h"

/* ---- gzip and days ---------------------------------------------------------------- */

bool report_gzip(const void *p, size_t n, struct buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 15 + 16: a gzip header and trailer instead of zlib's. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	uLong bound = deflateBound(&z, (uLong)n);
	buf_reserve(out, (size_t)bound);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)bound;
	int rc = deflate(&z, Z_FINISH);
	if (rc == Z_STREAM_END) {
		out->len += bound - z.avail_out;
		out->data[out->len] = '\0';     /* buf's promise */
	}
	deflateEnd(&z);
	return rc == Z_STREAM_END;
}

int64_t report_day_start(const char *day)
{
	int y, m, d;
	char tail;
	if (!day || strlen(day) != 10 || sscanf(day, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 ||
	    m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)   /* 2026-02-30 normalised to March: not a date */
		return -1;
	return (int64_t)t;
}

void report_day_of(int64_t t, char out[11])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		snprintf(out, 11, "1970-01-01");
}

/* ---- the request file --------------------------------------------------------------- */

static void request_path(const char *data_dir, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", data_dir, name);
}

static void done_path(const char *data_dir, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s.done", data_dir, name);
}

/* text into path, whole or not at all (a temporary file renamed). */
static bool file_put(const char *path, const char *text)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return false;
	size_t n = strlen(text);
	bool ok = write(fd, text, n) == (ssize_t)n;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return false;
	}
	return true;
}

/* The first line of path, which is then removed; false when there is none. */
static bool file_take_line(const char *path, char *line, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, line, size - 1);
	close(fd);
	unlink(path);
	line[n > 0 ? n : 0] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	return true;
}

bool report_request_done(const char *data_dir, const char *name, char *summary, size_t size)
{
	char path[4096], line[128];
	done_path(data_dir, name, path, sizeof path);
	if (!file_take_line(path, line, sizeof line))
		return false;
	snprintf(summary, size, "%s", line);
	return true;
}

bool report_request(const char *data_dir, const char *name, const char *day)
{
	char path[4096], line[32];
	done_path(data_dir, name, path, sizeof path);
	unlink(path);       /* an answer to an earlier request */
	request_path(data_dir, name, path, sizeof path);
	snprintf(line, sizeof line, "%s\n", day ? day : "all");
	if (!file_put(path, line)) {
		log_error("report", "msg=\"cannot write the request\" path=%s error=%s", lq(path), lq(strerror(errno)));
		return false;
	}
	return true;
}

bool report_request_pending(const char *data_dir, const char *name)
{
	char path[4096];
	request_path(data_dir, name, path, sizeof path);
	return access(path, F_OK) == 0;
}

bool report_request_take(const char *data_dir, const char *name, const char *sub, bool *all, char day[11])
{
	char path[4096], line[32];
	request_path(data_dir, name, path, sizeof path);
	if (!file_take_line(path, line, sizeof line))
		return false;
	*all = strcmp(line, "all") == 0 || line[0] == '\0';
	if (!*all) {
		if (report_day_start(line) < 0) {
			log_warn(sub, "msg=\"bad report request ignored\" day=%s", lq(line));
			return false;
		}
		memcpy(day, line, 11);     /* report_day_start checked: exactly 10 characters and the NUL */
	}
	return true;
}

void report_request_answer(const char *data_dir, const char *name, const char *sub, size_t count)
{
	char path[4096], text[64];
	done_path(data_dir, name, path, sizeof path);
	snprintf(text, sizeof text, "%zu\n", count);
	if (!file_put(path, text))
		log_warn(sub, "msg=\"cannot write the answer to the report request\" path=%s", lq(path));
}

/* ---- the run --------------------------------------------------------------------------- */

bool report_run_due(struct report_run *rr)
{
	if (rr->running)
		return false;
	report_day_of(now_unix(), rr->today);
	rr->day[0] = '\0';
	rr->all = false;
	if (report_request_take(rr->data_dir, rr->request_file, rr->sub, &rr->all, rr->day)) {
		if (rr->all)
			rr->day[0] = '\0';
		rr->ack = true;
		return true;
	}
	if (strcmp(rr->today, rr->last_day) == 0)
		return false;
	memcpy(rr->last_day, rr->today, sizeof rr->last_day);
	return true;
}

void report_run_offer(struct report_run *rr, const char *day, const char *domain)
{
	bool take = rr->day[0] ? strcmp(day, rr->day) == 0 : rr->all || strcmp(day, rr->today) < 0;
	if (!take)
		return;
	rr->items = xrealloc(rr->items, (rr->nitems + 1) * sizeof *rr->items);
	struct report_item *it = &rr->items[rr->nitems++];
	snprintf(it->day, sizeof it->day, "%s", day);
	it->domain = xstrdup(domain);
}

void report_run_end(struct report_run *rr)
{
	if (rr->ack) {
		report_request_answer(rr->data_dir, rr->request_file, rr->sub, rr->nitems);
		rr->ack = false;
	}
	for (size_t i = 0; i < rr->nitems; i++)
		free(rr->items[i].domain);
	free(rr->items);
	rr->items = NULL;
	rr->nitems = rr->cur = 0;
	rr->running = false;
}

bool report_run_begin(struct report_run *rr)
{
	if (rr->nitems == 0) {
		report_run_end(rr);
		return false;
	}
	log_info(rr->sub, "msg=\"report run\" reports=%zu%s%s", rr->nitems, rr->day[0] ? " day=" : "", rr->day);
	rr->running = true;
	rr->cur = 0;
	return true;
}

const char *report_strings_keep(struct report_strings *rs, const char *s)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 32;
		rs->v = xrealloc(rs->v, rs->cap * sizeof *rs->v);
	}
	rs->v[rs->n] = xstrdup(s ? s : "");
	return rs->v[rs->n++];
}

void report_strings_free(struct report_strings *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->v[i]);
	free(rs->v);
	memset(rs, 0, sizeof *rs);
}

void report_from_address(char *out, size_t size, const char *configured, const char *hostname)
{
	if (configured)
		snprintf(out, size, "%s", configured);
	else
		snprintf(out, size, "postmaster@%s", hostname);
}

/* ---- the report mail ----------------------------------------------------------------- */

void report_mail_head(struct buf *out, const char *from, const char *to, const char *date, const char *domain,
		      const char *submitter, const char *report_id, size_t *return_path_len)
{
	size_t start = out->len;
	buf_printf(out, "Return-Path: <%s>\r\n", from);
	if (return_path_len)
		*return_path_len = out->len - start;
	buf_printf(out, "From: <%s>\r\n", from);
	buf_printf(out, "To: <%s>\r\n", to);
	buf_printf(out, "Date: %s\r\n", date);
	buf_printf(out, "Subject: Report Domain: %s\r\n Submitter: %s\r\n Report-ID: <%s>\r\n", domain, submitter,
		   report_id);
}

#define B64_LINE 76

void report_mime_attachment(struct buf *out, const char *boundary, const char *type, const char *name,
			    const void *data, size_t len)
{
	buf_printf(out, "--%s\r\n", boundary);
	buf_printf(out, "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n", type);
	buf_printf(out, "Content-Disposition: attachment;\r\n filename=\"%s\"\r\n\r\n", name);
	struct buf b64 = BUF_INIT;
	base64_encode(&b64, data, len);
	for (size_t i = 0; i < b64.len; i += B64_LINE) {
		size_t n = b64.len - i < B64_LINE ? b64.len - i : B64_LINE;
		buf_append(out, b64.data + i, n);
		buf_puts(out, "\r\n");
	}
	buf_free(&b64);
}

void report_sign(struct dkim_keystore *keys, const char *from, const char *sub, struct buf *msg, size_t rp_len)
{
	const char *at = strrchr(from, '@');
	EVP_PKEY *key = NULL;
	char sel[DKIM_SELECTOR_MAX + 1];
	if (!at || !keys || !dkim_keystore_get(keys, at + 1, &key, sel)) {
		log_info(sub, "msg=\"report mail not DKIM-signed: no active key\" domain=%s", lq(at ? at + 1 : "-"));
		return;
	}
	struct dkim_sign *sg = dkim_sign_new();
	dkim_sign_feed(sg, msg->data + rp_len, msg->len - rp_len);
	struct buf sig = BUF_INIT;
	if (dkim_sign_finish(sg, key, at + 1, sel, now_unix(), NULL, &sig)) {
		struct buf out = BUF_INIT;
		buf_reserve(&out, msg->len + sig.len);
		buf_append(&out, msg->data, rp_len);
		buf_append(&out, sig.data, sig.len);
		buf_append(&out, msg->data + rp_len, msg->len - rp_len);
		buf_free(msg);
		*msg = out;
	} else {
		log_warn(sub, "msg=\"DKIM signing of the report failed, sent unsigned\" domain=%s", lq(at + 1));
	}
	buf_free(&sig);
	dkim_sign_free(&sg);
	EVP_PKEY_free(key);
}

struct mail_delivery {
	struct store_delivery d;
	struct mail_meta meta;
	struct store_rcpt rcpt;
	struct store_remote_rcpt remote[STORE_MAX_EXPANSION];
	char blob_id[STORE_BLOB_ID_MAX];
	char message_id[17];
	char to[REPORT_ADDR_MAX + 1];
	char domain[254];
	const char *sub;                /* a string literal: the log subsystem */
	char *path;
	char *sender;
	struct loop *loop;
};

static void mail_done_on_loop(void *arg)
{
	struct mail_delivery *md = arg;
	if (md->d.status != STORE_OK)
		log_error(md->sub, "msg=\"report not stored\" domain=%s to=<%s> status=%s", lq(md->domain), md->to,
			  store_status_str(md->d.status));
	else
		log_info(md->sub, "msg=\"report mailed\" domain=%s to=<%s> queue_id=%s", lq(md->domain), md->to,
			 md->message_id);
	mail_meta_free(&md->meta);
	store_rcpt_clear(&md->rcpt);
	free(md->path);
	free(md->sender);
	free(md);
}

static void mail_done_on_writer(struct store_delivery *d)
{
	struct mail_delivery *md = (struct mail_delivery *)(void *)d;
	loop_post(md->loop, mail_done_on_loop, md);
}

/* As notice.c does: a local address through the store's resolution, anything else queued. */
void report_mail_deliver(struct store *store, struct store_writer *writer, const char *sub, const char *from,
			 const char *to, const char *domain, const struct buf *msg, size_t rp_len)
{
	struct mail_delivery *md = xcalloc(1, sizeof *md);
	md->sub = sub;
	random_id(md->message_id, 16);
	snprintf(md->to, sizeof md->to, "%s", to);
	snprintf(md->domain, sizeof md->domain, "%s", domain);
	const char *at = strrchr(to, '@');
	bool local = at && store_domain_is_local(store, at + 1);
	if (local) {
		if (store_resolve_rcpt(store, to, &md->rcpt) != STORE_OK) {
			log_warn(sub, "msg=\"report dropped: no such local address\" domain=%s to=<%s>", lq(domain), to);
			goto fail;
		}
		mail_meta_parse(msg->data, msg->len, &md->meta);
	} else {
		md->rcpt.remote[0] = xstrdup(to);
		md->rcpt.nremote = 1;
	}
	int fd = store_blob_create(store, md->blob_id, sizeof md->blob_id, &md->path);
	if (fd < 0)
		goto fail;
	bool ok = write_full(fd, msg->data, msg->len);
	ok = close(fd) == 0 && ok;
	if (!ok) {
		log_error(sub, "msg=\"cannot write the report\" domain=%s error=%s", lq(domain), lq(strerror(errno)));
		unlink(md->path);
		goto fail;
	}
	for (size_t i = 0; i < md->rcpt.nremote; i++)
		md->remote[i].rcpt = md->rcpt.remote[i];
	md->sender = xstrdup(from);
	struct store_delivery *d = &md->d;
	d->blob_id = md->blob_id;
	d->spool_path = md->path;
	d->size = msg->len;
	d->message_id = md->message_id;
	d->internaldate = now_unix();
	d->meta = md->rcpt.naccounts ? &md->meta : NULL;
	d->account_ids = md->rcpt.account_ids;
	d->naccounts = md->rcpt.naccounts;
	d->remote = md->remote;
	d->nremote = md->rcpt.nremote;
	d->queue_offset = rp_len;
	d->sender = md->sender;
	d->done = mail_done_on_writer;
	md->loop = loop_current();
	store_deliver(writer, d);
	return;
fail:
	mail_meta_free(&md->meta);
	store_rcpt_clear(&md->rcpt);
	free(md->path);
	free(md);
}
