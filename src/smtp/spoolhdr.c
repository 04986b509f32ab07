/*
 * spoolhdr.c — the message's header as the spool sees it, and changing it
 * before the message is handed to the store.
 *
 * smtp_hdrwatch watches the octets as they are spooled and notes which
 * fields of interest the header has (Bcc, Message-ID, Date, and
 * Authentication-Results) without keeping any of it, so that the end of
 * data knows whether the header must change at all.  Most messages need
 * no change but an insertion: new fields right after our trace fields
 * (Return-Path, Received), done in the write buffer when the whole message
 * is still in it.  Otherwise smtp_spool_rewrite() writes a new spool file
 * once: our trace fields, the new fields, the header without the dropped
 * fields, then the body copied inside the kernel (copy_file_range).  The
 * ARC set of a forwarded message goes above our Received field instead,
 * right after Return-Path: the top of what the queue sends.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const struct {
	const char *name;
	unsigned bit;
} watched[] = {
	{ "bcc", SMTP_HDR_BCC },
	{ "message-id", SMTP_HDR_MESSAGE_ID },
	{ "date", SMTP_HDR_DATE },
	{ "authentication-results", SMTP_HDR_AUTH_RESULTS },
	{ "from", SMTP_HDR_FROM },
};

void smtp_hdrwatch_init(struct smtp_hdrwatch *w)
{
	memset(w, 0, sizeof *w);
	w->bol = true;
	w->in_header = true;
}

static void field_name_done(struct smtp_hdrwatch *w)
{
	while (w->nlen && (w->name[w->nlen - 1] == ' ' || w->name[w->nlen - 1] == '\t'))
		w->nlen--;      /* "Bcc :" is still Bcc (obsolete syntax, RFC 5322 §4.5) */
	for (size_t i = 0; i < ARRAY_LEN(watched); i++)
		if (w->nlen == strlen(watched[i].name) && strncasecmp(w->name, watched[i].name, w->nlen) == 0)
			w->seen |= watched[i].bit;
}

void smtp_hdrwatch_feed(struct smtp_hdrwatch *w, const char *p, size_t n)
{
	for (size_t i = 0; i < n && w->in_header; i++) {
		char c = p[i];
		if (w->bol) {
			w->bol = false;
			if (c == '\r' || c == '\n') {
				w->in_header = false;      /* the empty line */
				break;
			}
			w->naming = c != ' ' && c != '\t';
			w->nlen = 0;
		}
		if (c == '\n') {
			w->bol = true;
			w->naming = false;
			continue;
		}
		if (!w->naming)
			continue;
		if (c == ':') {
			field_name_done(w);
			w->naming = false;
		} else if (w->nlen < sizeof w->name) {
			w->name[w->nlen++] = c;
		} else {
			w->naming = false;      /* longer than any name watched */
		}
	}
}

/* ---- rewriting ------------------------------------------------------------------- */

/* Copy from[off..off+n) to the end of to. */
static bool copy_rest(int from, off_t off, int to, uint64_t n)
{
	while (n) {
		ssize_t c = copy_file_range(from, &off, to, NULL, n > (1u << 30) ? (1u << 30) : (size_t)n, 0);
		if (c > 0) {
			n -= (uint64_t)c;
			continue;
		}
		if (c < 0 && errno == EINTR)
			continue;
		if (c == 0 || (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP))
			return false;
		/* No copy_file_range here: plain reads and writes. */
		char buf[65536];
		while (n) {
			ssize_t r = pread(from, buf, n < sizeof buf ? (size_t)n : sizeof buf, off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0 || !write_full(to, buf, (size_t)r))
				return false;
			off += r;
			n -= (uint64_t)r;
		}
	}
	return true;
}

/*
 * The header of the message in fd from off, field by field (a field is
 * its line and its continuation lines), written to out unless drop says
 * so; *used is set to the octets of the header read, the empty line
 * included.  Reads in blocks: a header of any size costs bounded memory
 * but for the one field being looked at, which is capped (a longer field
 * is kept as it is, undecided).
 */
#define FIELD_MAX (64 * 1024)

struct field_reader {
	int fd;
	off_t off;
	char block[65536];
	size_t len, pos;
	bool eof;
};

static int next_octet(struct field_reader *r)
{
	if (r->pos == r->len) {
		if (r->eof)
			return -1;
		ssize_t n;
		do
			n = pread(r->fd, r->block, sizeof r->block, r->off);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			r->eof = true;
			return n < 0 ? -2 : -1;
		}
		r->off += n;
		r->len = (size_t)n;
		r->pos = 0;
	}
	return (unsigned char)r->block[r->pos++];
}

static int peek_octet(struct field_reader *r)
{
	int c = next_octet(r);
	if (c >= 0)
		r->pos--;
	return c;
}

static bool filter_header(int fd, off_t off, uint64_t size, int out, smtp_hdr_drop_fn drop, void *ctx,
			  uint64_t *used)
{
	struct field_reader r = { .fd = fd, .off = off };
	struct buf field = BUF_INIT;
	uint64_t consumed = 0;
	bool ok = true, done = false;
	while (!done && ok && consumed < size) {
		buf_reset(&field);
		uint64_t start = consumed;
		bool whole = true;
		/* one physical line, then its continuation lines */
		for (;;) {
			int c;
			while ((c = next_octet(&r)) >= 0) {
				consumed++;
				if (field.len < FIELD_MAX)
					buf_putc(&field, (char)c);
				else
					whole = false;
				if (c == '\n' || consumed == size)
					break;
			}
			if (c == -2)
				ok = false;
			if (c < 0 || consumed == size)
				break;
			int nx = peek_octet(&r);
			if (nx != ' ' && nx != '\t')
				break;
		}
		if (!ok)
			break;
		if (field.len <= 2 && (field.len == 0 || field.data[0] == '\r' || field.data[0] == '\n'))
			done = true;    /* the empty line ends the header (it is kept) */
		else if (whole && drop) {
			const char *colon = memchr(field.data, ':', field.len);
			if (colon && drop(field.data, (size_t)(colon - field.data), colon + 1,
					  field.len - (size_t)(colon + 1 - field.data), ctx))
				continue;
		}
		/* A field too long to look at is kept as it is, copied from the file. */
		ok = whole ? write_full(out, field.data, field.len)
			   : copy_rest(fd, off + (off_t)start, out, consumed - start);
	}
	buf_free(&field);
	*used = consumed;
	return ok;
}

bool smtp_spool_rewrite(struct smtp_session *s, const struct buf *insert, smtp_hdr_drop_fn drop, void *ctx)
{
	return smtp_spool_rewrite_top(s, NULL, insert, drop, ctx);
}

bool smtp_spool_rewrite_top(struct smtp_session *s, const struct buf *top, const struct buf *insert,
			    smtp_hdr_drop_fn drop, void *ctx)
{
	struct smtp_spool *sp = &s->spool;
	uint64_t file_size = sp->prefix_size + sp->size;
	bool in_memory = sp->flushed == 0 && sp->out.len == file_size;
	static const struct buf none = BUF_INIT;
	if (!top)
		top = &none;
	size_t rp = sp->return_path_size;
	if (!drop && in_memory) {
		/* The common case: the new fields go in the write buffer, behind our trace fields. */
		struct buf nb = BUF_INIT;
		buf_reserve(&nb, sp->out.len + top->len + insert->len);
		buf_append(&nb, sp->out.data, rp);
		buf_append(&nb, top->data, top->len);
		buf_append(&nb, sp->out.data + rp, sp->prefix_size - rp);
		buf_append(&nb, insert->data, insert->len);
		buf_append(&nb, sp->out.data + sp->prefix_size, sp->size);
		buf_free(&sp->out);
		sp->out = nb;
		sp->prefix_size += top->len + insert->len;
		return true;
	}
	if (!smtp_spool_finish(s))
		return false;
	char id[STORE_BLOB_ID_MAX];
	char *path = NULL;
	int fd = store_blob_create(smtp_store(s), id, sizeof id, &path);
	if (fd < 0)
		return false;
	char *prefix = xmalloc(sp->prefix_size ? sp->prefix_size : 1);
	uint64_t hdr = 0;
	bool ok = pread(sp->fd, prefix, sp->prefix_size, 0) == (ssize_t)sp->prefix_size &&
		  write_full(fd, prefix, rp) && write_full(fd, top->data, top->len) &&
		  write_full(fd, prefix + rp, sp->prefix_size - rp) && write_full(fd, insert->data, insert->len);
	free(prefix);
	uint64_t kept_header = 0;
	if (ok && drop) {
		off_t before = lseek(fd, 0, SEEK_END);
		ok = filter_header(sp->fd, (off_t)sp->prefix_size, sp->size, fd, drop, ctx, &hdr);
		off_t after = lseek(fd, 0, SEEK_END);
		kept_header = ok && before >= 0 && after >= before ? (uint64_t)(after - before) : 0;
	}
	ok = ok && copy_rest(sp->fd, (off_t)(sp->prefix_size + hdr), fd, sp->size - hdr);
	if (!ok) {
		log_error("smtp", "session=%s msg=\"cannot rewrite the spool file\" error=%s", s->c ? s->c->id : "-",
			  lq(strerror(errno)));
		close(fd);
		unlink(path);
		free(path);
		return false;
	}
	close(sp->fd);
	unlink(sp->path);
	free(sp->path);
	sp->fd = fd;
	sp->path = path;
	memcpy(sp->blob_id, id, sizeof sp->blob_id);
	sp->prefix_size += top->len + insert->len;
	sp->size = sp->size - hdr + kept_header;
	sp->flushed = sp->prefix_size + sp->size;
	return true;
}
