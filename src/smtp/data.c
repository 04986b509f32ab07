/*
 * data.c — receiving message content: DATA (dot-terminated) and BDAT
 * (RFC 3030 chunks) into a spool file.
 *
 * Bytes are scanned once as they arrive: dot-unstuffing, the end-of-data
 * marker, line length, size, and bare CR / bare LF.  End of data is only
 * <CRLF>.<CRLF>; a bare LF or CR never starts a new line for this purpose
 * and makes the whole message refused, so no "second message" hidden in
 * the data (SMTP smuggling) can ever be delivered.  Over-long lines and
 * oversized messages are read to their end and then refused.
 *
 * The spool file starts with our Return-Path and Received headers; nothing
 * is fsync'd here, the store writer's group commit makes it durable.
 */
#include "smtp/session.h"
#include "smtp/datascan.h"
#include "net/loop.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailauth/dkim.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SPOOL_FLUSH (64 * 1024)


/* Write what is buffered and then p[0..n) (n may be 0), in one writev. */
static void spool_write(struct smtp_spool *sp, const char *p, size_t n)
{
	struct iovec iov[2] = { { sp->out.data, sp->out.len }, { (void *)p, n } };
	int first = sp->out.len ? 0 : 1;
	size_t total = sp->out.len + n;
	while (total && !sp->io_error) {
		ssize_t w = writev(sp->fd, iov + first, 2 - first);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_error("smtp", "msg=\"spool write failed\" path=%s error=%s", lq(sp->path), lq(strerror(errno)));
			sp->io_error = true;
			break;
		}
		sp->flushed += (size_t)w;
		total -= (size_t)w;
		for (size_t left = (size_t)w; left && first < 2; ) {
			size_t take = left < iov[first].iov_len ? left : iov[first].iov_len;
			iov[first].iov_base = (char *)iov[first].iov_base + take;
			iov[first].iov_len -= take;
			left -= take;
			if (!iov[first].iov_len)
				first++;
		}
	}
	buf_reset(&sp->out);
}

static void spool_flush(struct smtp_spool *sp)
{
	spool_write(sp, NULL, 0);
}

/* Message content (not our headers): counted against the size limit. */
static void emit(void *ctx, const char *p, size_t n)
{
	struct smtp_session *s = ctx;
	struct smtp_spool *sp = &s->spool;
	sp->size += n;
	if (sp->size > s->srv->cfg->smtp.max_message_size) {
		if (!sp->too_big)
			buf_free(&sp->out);
		sp->too_big = true;
		return;
	}
	if (sp->io_error)
		return;
	smtp_dkim_feed(s, p, n);
	smtp_mailauth_feed(s, p, n);
	smtp_hdrwatch_feed(&sp->hdr, p, n);
	/* Big runs go to the file straight from the input buffer, not copied first. */
	if (sp->out.len + n >= SPOOL_FLUSH)
		spool_write(sp, p, n);
	else
		buf_append(&sp->out, p, n);
}

void smtp_spool_discard(struct smtp_session *s)
{
	struct smtp_spool *sp = &s->spool;
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->path) {
		unlink(sp->path);
		free(sp->path);
	}
	buf_free(&sp->out);
	dkim_sign_free(&sp->dkim);
	memset(sp, 0, sizeof *sp);
	sp->fd = -1;
}

static const char *protocol_name(struct smtp_session *s)
{
	static const char *const names[] = {
		"ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA", "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA",
	};
	if (!s->esmtp)
		return "SMTP";
	unsigned i = (s->authenticated ? 1u : 0u) | (s->c->tls ? 2u : 0u) | (s->mail.smtputf8 ? 4u : 0u);
	return names[i];
}

/* Create the spool file and write Return-Path and Received. */
static bool spool_open(struct smtp_session *s)
{
	struct smtp_spool *sp = &s->spool;
	smtp_spool_discard(s);
	/*
	 * Written where the store keeps it: a delivery then need not rename
	 * the file (nor sync a spool directory entry that only lives for the
	 * length of a transaction).
	 */
	sp->fd = store_blob_create(smtp_store(s), sp->blob_id, sizeof sp->blob_id, &sp->path);
	if (sp->fd < 0) {
		log_error("smtp", "session=%s msg=\"cannot create spool file\"", s->c->id);
		return false;
	}

	const struct config *cfg = s->srv->cfg;
	struct buf *o = &sp->out;
	buf_printf(o, "Return-Path: <%s>\r\n", s->mail.path.null ? "" : s->mail.path.address);
	sp->return_path_size = o->len;

	char date[64];
	format_rfc5322_date(date, sizeof date, now_unix());
	bool v6 = strchr(s->c->peer_ip, ':') != NULL;
	if (s->authenticated && !cfg->delivery.received_client_ip) {
		/*
		 * A submission names the user, not where they were: the address of
		 * someone's home or hotel is nobody's business downstream
		 * (received_client_ip = yes puts it back).
		 */
		buf_printf(o, "Received: from %s (Authenticated sender: %s)\r\n\tby %s (tern) with %s id %s",
			   s->helo, s->auth_user, cfg->hostname, protocol_name(s), s->msgid);
	} else if (s->authenticated) {
		buf_printf(o, "Received: from %s ([%s%s]) (Authenticated sender: %s)\r\n\tby %s (tern) with %s id %s",
			   s->helo, v6 ? "IPv6:" : "", s->c->peer_ip, s->auth_user, cfg->hostname, protocol_name(s),
			   s->msgid);
	} else {
		buf_printf(o, "Received: from %s ([%s%s])\r\n\tby %s (tern) with %s id %s",
			   s->helo, v6 ? "IPv6:" : "", s->c->peer_ip, cfg->hostname, protocol_name(s), s->msgid);
	}
	if (s->c->tls) {
		int bits = conn_tls_bits(s->c);
		buf_printf(o, "\r\n\t(using %s with cipher %s (%d/%d bits))",
			   conn_tls_version(s->c), conn_tls_cipher(s->c), bits, bits);
	}
	/* Naming the recipient is useful with one, a privacy leak with several. */
	if (s->nrcpts == 1)
		buf_printf(o, "\r\n\tfor <%s>", s->rcpts[0].address);
	buf_printf(o, "; %s\r\n", date);
	sp->prefix_size = o->len;
	smtp_datascan_init(&sp->scan, SMTP_TEXT_LINE_MAX);
	smtp_dkim_begin(s);
	smtp_mailauth_data(s);
	smtp_hdrwatch_init(&sp->hdr);
	return true;
}

void smtp_cmd_data(struct smtp_session *s, size_t arglen)
{
	if (arglen) {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (s->state == ST_FRESH || s->state == ST_READY) {
		smtp_reply_error(s, 503, "5.5.1", s->state == ST_FRESH ? "Send HELO/EHLO first" : "Need MAIL command");
		return;
	}
	if (s->state == ST_MAIL) {
		smtp_reply_error(s, 503, "5.5.1", "No valid recipients");
		return;
	}
	if (s->bdat_used) {
		smtp_reply_error(s, 503, "5.5.1", "DATA cannot follow BDAT in one transaction");
		return;
	}
	if (!spool_open(s)) {
		smtp_reply(s, 451, "4.3.0", "Temporary failure, try again later");
		return;
	}
	s->state = ST_DATA;
	smtp_reply(s, 354, "", "End data with <CR><LF>.<CR><LF>");
}

bool smtp_data_consume(struct smtp_session *s)
{
	struct evbuffer *in = conn_input(s->c);
	for (;;) {
		struct evbuffer_iovec v[16];
		int n = evbuffer_peek(in, -1, NULL, v, 16);
		if (n <= 0)
			return false;
		if (n > 16)
			n = 16;
		size_t used = 0;
		bool end = false;
		for (int i = 0; i < n && !end; i++)
			used += smtp_datascan_data(&s->spool.scan, v[i].iov_base, v[i].iov_len, &end, emit, s);
		evbuffer_drain(in, used);
		if (end) {
			smtp_end_of_message(s);
			return true;
		}
	}
}

/* ---- BDAT --------------------------------------------------------------- */

static void scan_chunk(struct smtp_session *s, const char *p, size_t n)
{
	smtp_datascan_chunk(&s->spool.scan, p, n);
	emit(s, p, n);
}

void smtp_cmd_bdat(struct smtp_session *s, const char *args, size_t len)
{
	uint64_t size;
	bool last;
	struct smtp_error err;
	if (!smtp_parse_bdat(args, len, &size, &last, &err)) {
		/* Without a size the chunk cannot be skipped; its bytes will read as (bad) commands. */
		smtp_reply_error(s, err.code, err.enhanced, "%s", err.text);
		return;
	}
	s->bdat_remaining = size;
	s->bdat_chunk = size;
	s->bdat_last = last;
	s->bdat_discard = false;
	if (s->state != ST_RCPT) {
		/* The chunk must still be read, or its bytes would be taken for commands. */
		s->bdat_discard = true;
		s->bdat_return = s->state;
	} else if (!s->bdat_used) {
		if (!spool_open(s)) {
			s->bdat_discard = true;
			s->bdat_return = ST_RCPT;
			s->spool.io_error = true;
		} else {
			s->bdat_used = true;
		}
	}
	s->state = ST_BDAT;
}

static void bdat_chunk_done(struct smtp_session *s)
{
	if (s->bdat_discard) {
		s->state = s->bdat_return;
		if (s->spool.io_error) {
			smtp_reply(s, 451, "4.3.0", "Temporary failure, try again later");
			smtp_transaction_reset(s);
		} else if (s->state == ST_FRESH) {
			smtp_reply_error(s, 503, "5.5.1", "Send HELO/EHLO first");
		} else {
			smtp_reply_error(s, 503, "5.5.1", s->state == ST_MAIL ? "No valid recipients" : "Need MAIL and RCPT before BDAT");
		}
		return;
	}
	if (s->bdat_last) {
		smtp_datascan_chunk_end(&s->spool.scan);
		smtp_end_of_message(s);
		return;
	}
	if (s->spool.too_big) {
		/* No point reading more: refuse now, the client resets. */
		smtp_end_of_message(s);
		return;
	}
	s->state = ST_RCPT;
	smtp_reply(s, 250, "2.0.0", "%llu octets received", (unsigned long long)s->bdat_chunk);
}

bool smtp_bdat_consume(struct smtp_session *s)
{
	struct evbuffer *in = conn_input(s->c);
	while (s->bdat_remaining > 0) {
		struct evbuffer_iovec v[16];
		int n = evbuffer_peek(in, -1, NULL, v, 16);
		if (n <= 0)
			return false;
		if (n > 16)
			n = 16;
		size_t used = 0;
		for (int i = 0; i < n && s->bdat_remaining > 0; i++) {
			size_t take = v[i].iov_len;
			if (take > s->bdat_remaining)
				take = (size_t)s->bdat_remaining;
			if (!s->bdat_discard)
				scan_chunk(s, v[i].iov_base, take);
			s->bdat_remaining -= take;
			used += take;
		}
		evbuffer_drain(in, used);
	}
	bdat_chunk_done(s);
	return true;
}

bool smtp_spool_finish(struct smtp_session *s)
{
	struct smtp_spool *sp = &s->spool;
	if (sp->fd < 0)
		return false;
	spool_flush(sp);
	buf_free(&sp->out);
	return !sp->io_error;
}
