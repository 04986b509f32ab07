/*
 * urlmeta.c — URLFETCH (url BODYPARTSTRUCTURE BINARY BODY) (RFC 5524).
 *
 * The part a URL names is taken as a MIME entity: its MIME header and its
 * body (for a URL without a section, the whole message).  BODY is what
 * plain URLFETCH returns.  BINARY is the entity's body with the transfer
 * encodings undone (mail/binary.h: a leaf decoded; a container with each of
 * its leaves decoded and relabelled "binary"), or NIL when the part is in
 * an encoding tern cannot decode.  BODYPARTSTRUCTURE is the entity's
 * BODYSTRUCTURE; with BINARY it describes the converted data (encodings,
 * sizes and line counts of what BINARY returns), as RFC 5524 §3.1 asks, so
 * that a client can use the two together.
 *
 * Each item is its own parenthesised list (url-metadata = 1*(SP "("
 * url-metadata-el ")"), RFC 5524 §5).  Dovecot puts them in one list; its
 * maintainers call that a bug (imaptest pull request 3), and tern follows
 * the RFC.
 *
 * A section with a suffix (HEADER, TEXT, MIME, HEADER.FIELDS) is not a
 * part: BINARY gives its octets as they are (there is no encoding to undo)
 * and BODYPARTSTRUCTURE describes the part the section belongs to.
 */
#include "imap/urlmeta.h"

#include "imap/catenate.h"
#include "mail/binary.h"
#include "mail/bodystructure.h"
#include "mail/mime.h"

#include <stdbool.h>
#include <string.h>

struct meta_fetch {
	const struct imap_url *u;
	unsigned params;
	struct buf *out;
};

/* The part-number prefix of a section ("1.2" of "1.2.MIME"), as a length of sec. */
static size_t part_prefix(const char *sec)
{
	size_t n = 0, end = 0;
	while (sec[n] >= '0' && sec[n] <= '9') {
		while (sec[n] >= '0' && sec[n] <= '9')
			n++;
		end = n;
		if (sec[n] != '.')
			break;
		n++;
	}
	return end;
}

/* ;PARTIAL=offset.length of the URL, applied to data[0..*n). */
static const char *apply_partial(const struct imap_url *u, const char *data, size_t *n)
{
	if (!u->partial)
		return data;
	size_t o = u->offset < *n ? (size_t)u->offset : *n;
	size_t l = *n - o;
	if (u->length < l)
		l = (size_t)u->length;
	*n = l;
	return data + o;
}

static void put_literal(struct buf *out, const char *p, size_t n, bool allow8)
{
	buf_printf(out, "%s{%zu}\r\n", allow8 && memchr(p, '\0', n) ? "~" : "", n);
	buf_append(out, p, n);
}

static void put_structure(struct buf *out, const char *ent, size_t len)
{
	struct mail_mime m;
	mail_mime_parse(ent, len, &m);
	buf_puts(out, " (BODYPARTSTRUCTURE ");
	mail_bodystructure_write(out, &m, true);
	buf_putc(out, ')');
	mail_mime_free(&m);
}

static int meta_items(struct meta_fetch *mf, const char *blob, size_t bloblen, const struct store_message_data *m)
{
	const char *sec = mf->u->section ? mf->u->section : "";
	size_t plen = part_prefix(sec);
	bool suffix = sec[plen] != '\0';
	char part[IMAP_URL_SECTION_MAX + 1];
	if (plen >= sizeof part)
		return IMAP_URL_PART_BADSECTION;
	memcpy(part, sec, plen);
	part[plen] = '\0';
	struct mail_part_loc loc;
	uint64_t size = m->size < bloblen ? m->size : bloblen;
	if (plen == 0) {
		memset(&loc, 0, sizeof loc);
		loc.body_end = size;
	} else if (!mail_parts_find(m->parts, part, &loc) || loc.body_end > size || loc.mime_end > loc.body_start ||
		   loc.mime_start > loc.mime_end || loc.body_start > loc.body_end) {
		return IMAP_URL_PART_BADSECTION;
	}
	/* The entity: the MIME header (the message header for part 1 of a single-part message) and the body. */
	struct buf ent = BUF_INIT;
	buf_append(&ent, blob + loc.mime_start, (size_t)(loc.mime_end - loc.mime_start));
	if (plen > 0 && loc.mime_end == loc.mime_start)
		buf_puts(&ent, "\r\n");         /* no MIME header at all: an empty one */
	buf_append(&ent, blob + loc.body_start, (size_t)(loc.body_end - loc.body_start));

	struct buf conv = BUF_INIT;
	size_t conv_body = 0;
	bool binary = (mf->params & IMAP_URLFETCH_BINARY) && !suffix;
	bool decoded = binary && mail_binary_entity(ent.data ? ent.data : "", ent.len, &conv, &conv_body);

	if (mf->params & IMAP_URLFETCH_BODYPARTSTRUCTURE) {
		if (decoded)
			put_structure(mf->out, conv.data, conv.len);
		else
			put_structure(mf->out, ent.data ? ent.data : "", ent.len);
	}
	if (mf->params & (IMAP_URLFETCH_BINARY | IMAP_URLFETCH_BODY)) {
		struct buf raw = BUF_INIT;
		const char *data = NULL;
		size_t n = 0;
		if (decoded) {
			/* A URL without a section names the message, header and all. */
			size_t from = plen == 0 ? 0 : conv_body;
			data = conv.data + from;
			n = conv.len - from;
		} else if (!binary || suffix) {
			if (imap_url_section(mf->u, m, blob, bloblen, &raw) == IMAP_URL_PART_OK) {
				data = raw.data ? raw.data : "";
				n = raw.len;
			}
		}
		buf_puts(mf->out, mf->params & IMAP_URLFETCH_BINARY ? " (BINARY " : " (BODY ");
		if (data && decoded)
			data = apply_partial(mf->u, data, &n);
		if (data)
			put_literal(mf->out, data, n, mf->params & IMAP_URLFETCH_BINARY);
		else
			buf_puts(mf->out, "NIL");
		buf_putc(mf->out, ')');
		buf_free(&raw);
	}
	buf_free(&conv);
	buf_free(&ent);
	return IMAP_URL_PART_OK;
}

static int meta_message(void *ctx, const struct store_message_data *m, const char *blob, size_t len)
{
	return meta_items(ctx, blob, len, m);
}

int imap_url_meta(struct imap_session *s, int64_t mailbox_id, const struct imap_url *u, unsigned params,
		  struct buf *out)
{
	struct meta_fetch mf = { .u = u, .params = params, .out = out };
	return imap_url_message(s, mailbox_id, u->uid, meta_message, &mf);
}
