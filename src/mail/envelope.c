/*
 * envelope.c — IMAP ENVELOPE construction; see envelope.h.
 */
#include "mail/envelope.h"

#include "mail/header.h"
#include "mail/imapstr.h"

static const char *const field_names[MAIL_ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

void mail_envelope_collect(const char *hdr, size_t n, struct mail_field_ref f[MAIL_ENV_COUNT])
{
	struct mail_hdr_iter it;
	struct mail_hdr_field h;
	for (size_t i = 0; i < MAIL_ENV_COUNT; i++)
		f[i] = (struct mail_field_ref){ 0, 0, false };
	mail_hdr_iter_init(&it, hdr, n);
	while (mail_hdr_next(&it, &h)) {
		for (size_t i = 0; i < MAIL_ENV_COUNT; i++) {
			if (!f[i].present && mail_hdr_is(&h, field_names[i])) {
				f[i].present = true;
				f[i].off = (size_t)(h.value - hdr);
				f[i].len = h.value_len;
				break;
			}
		}
	}
}

void mail_envelope_write_addresses(struct buf *out, const struct mail_address *a)
{
	if (!a) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (; a; a = a->next) {
		buf_putc(out, '(');
		mail_imapstr_cstr(out, a->name);
		buf_putc(out, ' ');
		mail_imapstr_cstr(out, a->route);
		buf_putc(out, ' ');
		mail_imapstr_cstr(out, a->mailbox);
		buf_putc(out, ' ');
		mail_imapstr_cstr(out, a->domain);
		buf_putc(out, ')');
	}
	buf_putc(out, ')');
}

static void write_string(struct buf *out, const char *hdr, const struct mail_field_ref *r,
			 struct buf *tmp)
{
	if (!r->present) {
		buf_puts(out, "NIL");
		return;
	}
	buf_reset(tmp);
	mail_hdr_unfold(tmp, hdr + r->off, r->len);
	mail_imapstr_nstring(out, buf_cstr(tmp), tmp->len);
}

static struct mail_address *parse_addresses(const char *hdr, const struct mail_field_ref *r,
					    struct buf *tmp)
{
	if (!r->present)
		return NULL;
	buf_reset(tmp);
	mail_hdr_unfold(tmp, hdr + r->off, r->len);
	return mail_address_parse(buf_cstr(tmp), tmp->len);
}

void mail_envelope_write(struct buf *out, const char *hdr, size_t n)
{
	struct mail_field_ref f[MAIL_ENV_COUNT];
	struct buf tmp = BUF_INIT;
	mail_envelope_collect(hdr, n, f);

	buf_putc(out, '(');
	write_string(out, hdr, &f[MAIL_ENV_DATE], &tmp);
	buf_putc(out, ' ');
	write_string(out, hdr, &f[MAIL_ENV_SUBJECT], &tmp);

	struct mail_address *from = parse_addresses(hdr, &f[MAIL_ENV_FROM], &tmp);
	for (int i = MAIL_ENV_FROM; i <= MAIL_ENV_BCC; i++) {
		buf_putc(out, ' ');
		if (i == MAIL_ENV_FROM) {
			mail_envelope_write_addresses(out, from);
			continue;
		}
		struct mail_address *a = parse_addresses(hdr, &f[i], &tmp);
		if (!a && (i == MAIL_ENV_SENDER || i == MAIL_ENV_REPLY_TO))
			mail_envelope_write_addresses(out, from);
		else
			mail_envelope_write_addresses(out, a);
		mail_address_free(&a);
	}
	mail_address_free(&from);

	buf_putc(out, ' ');
	write_string(out, hdr, &f[MAIL_ENV_IN_REPLY_TO], &tmp);
	buf_putc(out, ' ');
	write_string(out, hdr, &f[MAIL_ENV_MESSAGE_ID], &tmp);
	buf_putc(out, ')');
	buf_free(&tmp);
}
