/*
 * catenate.c — CATENATE (RFC 4469): build one APPEND message from TEXT
 * literals (spooled by session.c) and URLs naming messages or parts of
 * them in the user's own mailboxes (imapurl.h), into a new spool file
 * that append.c then checks and stores like any message.
 *
 * A URL is resolved through the store with the session's account only,
 * so it can never reach another user's mail; one that does not resolve
 * (bad syntax, another server, a wrong UIDVALIDITY, no such message or
 * mailbox) refuses the whole APPEND with NO [BADURL url].  The message
 * grows at most to the APPENDLIMIT: past it, NO [TOOBIG].
 */
#include "imap/catenate.h"
#include "imap/imapurl.h"
#include "imap/section.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

struct cat_out {
	struct imap_session *s;
	const char *tag;
	int fd;
	uint64_t size, limit;
	bool failed;            /* the NO has been sent */
};

static bool out_write(struct cat_out *o, const char *p, size_t n)
{
	if (o->size + n > o->limit) {
		imap_tagged(o->s, o->tag, "NO", "[TOOBIG] Message over the limit of %llu octets",
			    (unsigned long long)o->limit);
		o->failed = true;
		return false;
	}
	while (n) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_error("imap", "session=%s msg=\"spool write failed\" err=%s", o->s->c ? o->s->c->id : "-",
				  lq(strerror(errno)));
			imap_store_error(o->s, o->tag, STORE_IOERR, "APPEND");
			o->failed = true;
			return false;
		}
		p += w;
		n -= (size_t)w;
		o->size += (uint64_t)w;
	}
	return true;
}

/* A TEXT part: its spooled literal, copied; NUL only in a literal8 (RFC 3516). */
static bool add_text(struct cat_out *o, const struct imap_literal *l)
{
	if (l->len == 0)
		return true;
	if (l->fd < 0 && !l->data) {
		imap_bad(o->s, o->tag, "Missing TEXT literal");
		o->failed = true;
		return false;
	}
	const char *p = l->data;
	void *map = NULL;
	if (!p) {
		map = mmap(NULL, l->len, PROT_READ, MAP_SHARED, l->fd, 0);
		if (map == MAP_FAILED) {
			imap_store_error(o->s, o->tag, STORE_IOERR, "APPEND");
			o->failed = true;
			return false;
		}
		p = map;
	}
	bool ok;
	if (!l->binary && memchr(p, '\0', l->len)) {
		imap_tagged(o->s, o->tag, "NO", "[CANNOT] NUL octet in a TEXT part; use a literal8");
		o->failed = true;
		ok = false;
	} else {
		ok = out_write(o, p, l->len);
	}
	if (map)
		munmap(map, l->len);
	return ok;
}

/* The URL as resp-text-code text: no "]", CR, LF or NUL (RFC 4469 url-resp-text), and not too long. */
static void badurl(struct cat_out *o, const struct imap_str *url, const char *why)
{
	char safe[256];
	size_t n = 0;
	for (size_t i = 0; i < url->n && n < sizeof safe - 1; i++) {
		unsigned char c = (unsigned char)url->p[i];
		safe[n++] = c == ']' || c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	safe[n] = '\0';
	imap_tagged(o->s, o->tag, "NO", "[BADURL %s] %s", n ? safe : "?", why);
	o->failed = true;
}

/*
 * The section of a URL as a FETCH body item: "BODY.PEEK[section]" run
 * through the FETCH parser, so that the two agree on every section form.
 */
static bool url_att(const struct imap_url *u, struct imap_cmd *fetch)
{
	const char *sec = u->section ? u->section : "";
	if (strpbrk(sec, "\r\n[]{}"))
		return false;
	char text[IMAP_URL_SECTION_MAX + 64];
	int n = snprintf(text, sizeof text, "u FETCH 1 BODY.PEEK[%s]\r\n", sec);
	if (n < 0 || (size_t)n >= sizeof text)
		return false;
	const char *err;
	if (imap_parse(text, (size_t)n, NULL, 0, true, fetch, &err) != IMAP_PARSE_OK)
		return false;
	if (fetch->natts != 1 || fetch->atts[0].type != FA_BODY_SECTION) {
		imap_cmd_free(fetch);
		return false;
	}
	struct imap_fetch_att *a = &fetch->atts[0];
	a->partial = u->partial;
	a->offset = u->offset;
	a->length = u->length;
	return true;
}

int imap_url_section(const struct imap_url *u, const struct store_message_data *m, const char *blob, size_t len,
		     struct buf *out)
{
	struct imap_cmd fetch;
	memset(&fetch, 0, sizeof fetch);
	if (!url_att(u, &fetch))
		return IMAP_URL_PART_BADSECTION;
	struct imap_section sec;
	imap_section_get(&fetch.atts[0], m->parts, m->size, blob, len, &sec);
	int result = IMAP_URL_PART_OK;
	if (sec.kind == IMAP_SECTION_RANGE && sec.offset + sec.length <= len)
		buf_append(out, blob + sec.offset, (size_t)sec.length);
	else if (sec.kind == IMAP_SECTION_BUILT)
		buf_append(out, sec.data.data ? sec.data.data : "", sec.data.len);
	else if (sec.kind == IMAP_SECTION_RANGE)
		result = IMAP_URL_PART_ERROR;
	imap_section_free(&sec);
	imap_cmd_free(&fetch);
	return result;
}

struct url_message {
	struct imap_session *s;
	int (*fn)(void *ctx, const struct store_message_data *m, const char *blob, size_t len);
	void *ctx;
	int result;
};

static int url_message(void *ctx, const struct store_message_data *m)
{
	struct url_message *um = ctx;
	int fd = -1;
	size_t len = 0;
	const char *blob = imap_message_map(um->s, m, &fd, &len);
	if (!blob) {
		if (fd >= 0)
			close(fd);
		um->result = IMAP_URL_PART_ERROR;
		return 1;
	}
	um->result = um->fn(um->ctx, m, blob, len);
	if (len)
		munmap((void *)blob, len);
	close(fd);
	return 1;
}

int imap_url_message(struct imap_session *s, int64_t mailbox_id, uint32_t uid,
		     int (*fn)(void *ctx, const struct store_message_data *m, const char *blob, size_t len), void *ctx)
{
	struct url_message um = { .s = s, .fn = fn, .ctx = ctx, .result = IMAP_URL_PART_NOMESSAGE };
	enum store_status st = store_message_range(imap_store(s), mailbox_id, uid, uid, 1, url_message, &um);
	return st != STORE_OK ? IMAP_URL_PART_ERROR : um.result;
}

struct url_part {
	const struct imap_url *u;
	struct buf *out;
};

static int url_part(void *ctx, const struct store_message_data *m, const char *blob, size_t len)
{
	struct url_part *up = ctx;
	return imap_url_section(up->u, m, blob, len, up->out);
}

int imap_url_part(struct imap_session *s, int64_t mailbox_id, const struct imap_url *u, struct buf *out)
{
	struct url_part up = { .u = u, .out = out };
	return imap_url_message(s, mailbox_id, u->uid, url_part, &up);
}

void imap_url_got_mailbox(void *ctx, const struct store_mailbox_info *mb)
{
	struct imap_url_mailbox *m = ctx;
	m->found = true;
	m->id = mb->id;
	m->uidvalidity = mb->uidvalidity;
}

static bool add_url(struct cat_out *o, const struct imap_str *url)
{
	struct imap_session *s = o->s;
	struct imap_url u;
	const char *err;
	if (memchr(url->p, '\0', url->n) || !imap_url_parse(url->p, url->n, &u, &err)) {
		badurl(o, url, "Invalid URL");
		return false;
	}
	struct imap_url_mailbox mb = { 0 };
	bool ok = false;
	const char *hostname = s->srv->cfg->hostname;
	if (u.host && (!hostname || strcasecmp(u.host, hostname) != 0)) {
		badurl(o, url, "URL of another server");
		goto out;
	}
	if (u.user && strcasecmp(u.user, s->user) != 0) {
		badurl(o, url, "URL of another user");
		goto out;
	}
	if (u.urlauth) {
		badurl(o, url, "Invalid URL");  /* URLAUTH-authorised URLs are for URLFETCH */
		goto out;
	}
	if (!u.mailbox) {
		if (s->state != IST_SELECTED || !s->view) {
			badurl(o, url, "Relative URL without a selected mailbox");
			goto out;
		}
		mb.found = true;
		mb.id = s->view->mailbox_id;
		mb.uidvalidity = s->view->uidvalidity;
	} else {
		enum store_status st = store_mailbox_info(imap_store(s), s->account_id, u.mailbox, imap_url_got_mailbox, &mb);
		if (st != STORE_OK && st != STORE_NOTFOUND) {
			imap_store_error(s, o->tag, st, "APPEND");
			o->failed = true;
			goto out;
		}
	}
	if (!mb.found || (u.uidvalidity && u.uidvalidity != mb.uidvalidity)) {
		badurl(o, url, mb.found ? "UIDVALIDITY does not match" : "No such mailbox");
		goto out;
	}
	struct buf data = BUF_INIT;
	int r = imap_url_part(s, mb.id, &u, &data);
	if (r == IMAP_URL_PART_ERROR) {
		imap_store_error(s, o->tag, STORE_IOERR, "APPEND");
		o->failed = true;
	} else if (r != IMAP_URL_PART_OK) {
		badurl(o, url, r == IMAP_URL_PART_BADSECTION ? "Invalid section in URL" : "No such message");
	} else {
		ok = out_write(o, data.data ? data.data : "", data.len);
	}
	buf_free(&data);
out:
	imap_url_free(&u);
	return ok;
}

bool imap_catenate(struct imap_session *s, const char *tag, const struct imap_append_msg *m, uint64_t limit,
		   char **path)
{
	struct cat_out o = { .s = s, .tag = tag, .limit = limit };
	o.fd = imap_spool_create(s, path);
	if (o.fd < 0) {
		imap_tagged(s, tag, "NO", "[UNAVAILABLE] Temporary failure, try again");
		return false;
	}
	bool ok = true;
	for (size_t i = 0; ok && i < m->nparts; i++)
		ok = m->parts[i].text ? add_text(&o, m->parts[i].text) : add_url(&o, &m->parts[i].url);
	close(o.fd);
	return ok;
}
