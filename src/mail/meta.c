/*
 * meta.c — mail_meta_parse(): everything the index keeps about a message,
 * from one MIME parse (see meta.h).  Glue only: the work is in mime.c,
 * envelope.c, bodystructure.c, partmap.c, rfc2047.c, address.c, date.c.
 */
#include "mail/meta.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mail/address.h"
#include "mail/bodystructure.h"
#include "mail/charset.h"
#include "mail/date.h"
#include "mail/envelope.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"

/* Control characters become spaces, then the ends are trimmed: display text for listings. */
static char *clean_text(struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c < 0x20 || c == 0x7f)
			b->data[i] = ' ';
	}
	size_t s = 0, e = b->len;
	while (s < e && b->data[s] == ' ')
		s++;
	while (e > s && b->data[e - 1] == ' ')
		e--;
	char *r = xmemdup0(b->data ? b->data + s : "", e - s);
	buf_free(b);
	return r;
}

static char *decoded_subject(const char *hdr, const struct mail_field_ref *r)
{
	struct buf raw = BUF_INIT, dec = BUF_INIT;
	if (r->present) {
		mail_hdr_unfold(&raw, hdr + r->off, r->len);
		mail_rfc2047_decode(&dec, buf_cstr(&raw), raw.len);
	}
	buf_free(&raw);
	return clean_text(&dec);
}

static char *first_from(const char *hdr, const struct mail_field_ref *r)
{
	struct buf raw = BUF_INIT, out = BUF_INIT;
	if (!r->present)
		return xstrdup("");
	mail_hdr_unfold(&raw, hdr + r->off, r->len);
	struct mail_address *list = mail_address_parse(buf_cstr(&raw), raw.len);
	const struct mail_address *a = list;
	while (a && !a->domain)         /* skip group markers */
		a = a->next;
	if (a) {
		struct buf addr = BUF_INIT;
		mail_utf8_append_lossy(&addr, a->mailbox, strlen(a->mailbox));
		if (strcmp(a->domain, "MISSING_DOMAIN") != 0) {
			buf_putc(&addr, '@');
			mail_utf8_append_lossy(&addr, a->domain, strlen(a->domain));
		}
		if (a->name)
			mail_rfc2047_decode(&out, a->name, strlen(a->name));
		char *name = clean_text(&out);
		if (*name) {
			buf_puts(&out, name);
			buf_puts(&out, " <");
			buf_append(&out, addr.data, addr.len);
			buf_putc(&out, '>');
		} else {
			buf_append(&out, addr.data, addr.len);
		}
		free(name);
		buf_free(&addr);
	}
	mail_address_free(&list);
	buf_free(&raw);
	return clean_text(&out);
}

static char *message_id(const char *hdr, const struct mail_field_ref *r)
{
	struct buf raw = BUF_INIT, out = BUF_INIT;
	if (r->present) {
		mail_hdr_unfold(&raw, hdr + r->off, r->len);
		const char *s = buf_cstr(&raw);
		const char *lt = memchr(s, '<', raw.len);
		const char *gt = lt ? memchr(lt, '>', raw.len - (size_t)(lt - s)) : NULL;
		if (lt && gt) {
			mail_utf8_append_lossy(&out, lt + 1, (size_t)(gt - lt - 1));
		} else {
			size_t n = 0;
			while (n < raw.len && s[n] != ' ' && s[n] != '\t')
				n++;
			mail_utf8_append_lossy(&out, s, n);
		}
	}
	buf_free(&raw);
	return clean_text(&out);
}

static int64_t sent_date(const char *hdr, const struct mail_field_ref *r)
{
	int64_t t = 0;
	if (r->present) {
		struct buf raw = BUF_INIT;
		mail_hdr_unfold(&raw, hdr + r->off, r->len);
		if (!mail_date_parse(buf_cstr(&raw), raw.len, &t))
			t = 0;
		buf_free(&raw);
	}
	return t;
}

void mail_meta_parse(const char *msg, size_t len, struct mail_meta *out)
{
	struct mail_mime m;
	struct buf b = BUF_INIT;
	memset(out, 0, sizeof *out);
	if (!msg)
		len = 0;
	mail_mime_parse(msg ? msg : "", len, &m);
	const struct mail_part *root = &m.parts[0];
	size_t hlen = root->body_start;

	mail_envelope_write(&b, m.msg, hlen);
	out->envelope = buf_steal(&b);
	mail_bodystructure_write(&b, &m, false);
	out->body = buf_steal(&b);
	mail_bodystructure_write(&b, &m, true);
	out->bodystructure = buf_steal(&b);
	mail_parts_map(&m, &b);
	out->parts = buf_steal(&b);

	struct mail_field_ref f[MAIL_ENV_COUNT];
	mail_envelope_collect(m.msg, hlen, f);
	out->subject = decoded_subject(m.msg, &f[MAIL_ENV_SUBJECT]);
	out->from = first_from(m.msg, &f[MAIL_ENV_FROM]);
	out->message_id = message_id(m.msg, &f[MAIL_ENV_MESSAGE_ID]);
	out->sent_date = sent_date(m.msg, &f[MAIL_ENV_DATE]);
	out->header_size = hlen;
	out->body_lines = root->body_lines;
	mail_mime_free(&m);
}

void mail_meta_free(struct mail_meta *m)
{
	XFREE(&m->envelope);
	XFREE(&m->body);
	XFREE(&m->bodystructure);
	XFREE(&m->subject);
	XFREE(&m->from);
	XFREE(&m->message_id);
	XFREE(&m->parts);
}
