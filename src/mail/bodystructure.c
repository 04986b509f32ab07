/*
 * bodystructure.c — BODY / BODYSTRUCTURE output; see bodystructure.h.
 *
 * Recursive over the part tree, whose depth mime.c bounds by MAIL_MAX_DEPTH.
 */
#include "mail/bodystructure.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/envelope.h"
#include "mail/header.h"
#include "mail/imapstr.h"
#include "mail/mimeparam.h"

#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)"

struct writer {
	const struct mail_mime *m;
	bool ext;
	struct buf *out;
};

/* The unfolded value of a field into tmp; false when absent. */
static bool field_value(const struct writer *w, const struct mail_field_ref *r, struct buf *tmp)
{
	buf_reset(tmp);
	if (!r->present)
		return false;
	mail_hdr_unfold(tmp, w->m->msg + r->off, r->len);
	return true;
}

static void write_nfield(const struct writer *w, const struct mail_field_ref *r)
{
	struct buf tmp = BUF_INIT;
	if (field_value(w, r, &tmp))
		mail_imapstr_nstring(w->out, buf_cstr(&tmp), tmp.len);
	else
		buf_puts(w->out, "NIL");
	buf_free(&tmp);
}

static void write_params(struct buf *out, const struct mail_params *p, bool add_charset)
{
	if (p->n == 0 && !add_charset) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			buf_putc(out, ' ');
		mail_imapstr_cstr(out, p->v[i].name);
		buf_putc(out, ' ');
		mail_imapstr_nstring(out, p->v[i].value, p->v[i].value_len);
	}
	if (add_charset)
		buf_puts(out, p->n ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	buf_putc(out, ')');
}

static void write_disposition(const struct writer *w, const struct mail_part *p)
{
	struct buf tmp = BUF_INIT;
	char *disp = NULL;
	struct mail_params params = { 0 };
	if (field_value(w, &p->disposition, &tmp) &&
	    mail_disposition_parse(buf_cstr(&tmp), tmp.len, &disp, &params)) {
		buf_putc(w->out, '(');
		mail_imapstr_cstr(w->out, disp);
		buf_putc(w->out, ' ');
		write_params(w->out, &params, false);
		buf_putc(w->out, ')');
	} else {
		buf_puts(w->out, "NIL");
	}
	free(disp);
	mail_params_free(&params);
	buf_free(&tmp);
}

static void write_language(const struct writer *w, const struct mail_part *p)
{
	struct buf tmp = BUF_INIT;
	struct mail_slice tags[MAIL_MAX_LANGUAGES];
	size_t n = 0;
	if (field_value(w, &p->language, &tmp))
		n = mail_language_parse(buf_cstr(&tmp), tmp.len, tags, MAIL_MAX_LANGUAGES);
	if (n == 0) {
		buf_puts(w->out, "NIL");
	} else {
		buf_putc(w->out, '(');
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_putc(w->out, ' ');
			mail_imapstr_nstring(w->out, tags[i].p, tags[i].len);
		}
		buf_putc(w->out, ')');
	}
	buf_free(&tmp);
}

/* disposition, language, location: the tail shared by both kinds of part. */
static void write_ext_tail(const struct writer *w, const struct mail_part *p)
{
	buf_putc(w->out, ' ');
	write_disposition(w, p);
	buf_putc(w->out, ' ');
	write_language(w, p);
	buf_putc(w->out, ' ');
	write_nfield(w, &p->location);
}

static void write_encoding(const struct writer *w, const struct mail_part *p)
{
	if (p->encoding.present) {
		const char *s = w->m->msg + p->encoding.off;
		size_t n = p->encoding.len, i = 0;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		size_t start = i;
		while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
		       s[i] != '(' && s[i] != ';')
			i++;
		if (i > start) {
			mail_imapstr_nstring(w->out, s + start, i - start);
			return;
		}
	}
	buf_puts(w->out, "\"7BIT\"");
}

/* The Content-Type of a part as written; false when there is none usable. */
static bool parse_ctype(const struct writer *w, const struct mail_part *p, char **type,
			char **subtype, struct mail_params *params)
{
	struct buf tmp = BUF_INIT;
	bool ok = field_value(w, &p->ctype, &tmp) &&
		  mail_content_type_parse(buf_cstr(&tmp), tmp.len, type, subtype, params);
	buf_free(&tmp);
	if (!ok) {
		*type = *subtype = NULL;
		params->v = NULL;
		params->n = 0;
	}
	return ok;
}

static void write_part(const struct writer *w, uint32_t id);

static void write_multipart(const struct writer *w, const struct mail_part *p)
{
	char *type, *subtype;
	struct mail_params params;
	parse_ctype(w, p, &type, &subtype, &params);
	if (p->first_child == MAIL_PART_NONE)
		buf_puts(w->out, EMPTY_BODY);
	for (uint32_t c = p->first_child; c != MAIL_PART_NONE; c = w->m->parts[c].next_sibling)
		write_part(w, c);
	buf_putc(w->out, ' ');
	if (subtype)
		mail_imapstr_cstr(w->out, subtype);
	else
		buf_puts(w->out, "\"x-unknown\"");
	if (w->ext) {
		buf_putc(w->out, ' ');
		write_params(w->out, &params, false);
		write_ext_tail(w, p);
	}
	free(type);
	free(subtype);
	mail_params_free(&params);
}

static void write_single(const struct writer *w, const struct mail_part *p)
{
	char *type = NULL, *subtype = NULL;
	struct mail_params params = { 0 };
	bool text = false;

	enum mail_ctype_src src = p->ctype_src;
	if (src == MAIL_CTYPE_GIVEN && !parse_ctype(w, p, &type, &subtype, &params))
		src = MAIL_CTYPE_TEXT;  /* cannot happen: mime.c checked that it parses */
	switch (src) {
	case MAIL_CTYPE_GIVEN:
		text = ascii_ieq(type, strlen(type), "text");
		mail_imapstr_cstr(w->out, type);
		buf_putc(w->out, ' ');
		mail_imapstr_cstr(w->out, subtype);
		buf_putc(w->out, ' ');
		write_params(w->out, &params, text && !mail_params_get(&params, "charset"));
		break;
	case MAIL_CTYPE_TEXT:
		text = true;
		buf_puts(w->out, "\"text\" \"plain\" (\"charset\" \"us-ascii\")");
		break;
	case MAIL_CTYPE_DIGEST:
		buf_puts(w->out, "\"message\" \"rfc822\" NIL");
		break;
	case MAIL_CTYPE_OPAQUE:
		parse_ctype(w, p, &type, &subtype, &params);
		buf_puts(w->out, "\"application\" \"octet-stream\" ");
		write_params(w->out, &params, false);
		break;
	}

	buf_putc(w->out, ' ');
	write_nfield(w, &p->id);
	buf_putc(w->out, ' ');
	write_nfield(w, &p->description);
	buf_putc(w->out, ' ');
	write_encoding(w, p);
	buf_printf(w->out, " %zu", p->body_end - p->body_start);

	if (p->kind == MAIL_PART_MESSAGE && p->first_child != MAIL_PART_NONE) {
		const struct mail_part *c = &w->m->parts[p->first_child];
		buf_putc(w->out, ' ');
		mail_envelope_write(w->out, w->m->msg + c->hdr_start, c->body_start - c->hdr_start);
		buf_putc(w->out, ' ');
		write_part(w, p->first_child);
		buf_printf(w->out, " %llu", (unsigned long long)p->body_lines);
	} else if (text) {
		buf_printf(w->out, " %llu", (unsigned long long)p->body_lines);
	}

	if (w->ext) {
		buf_putc(w->out, ' ');
		write_nfield(w, &p->md5);
		write_ext_tail(w, p);
	}
	free(type);
	free(subtype);
	mail_params_free(&params);
}

static void write_part(const struct writer *w, uint32_t id)
{
	const struct mail_part *p = &w->m->parts[id];
	buf_putc(w->out, '(');
	if (p->kind == MAIL_PART_MULTIPART)
		write_multipart(w, p);
	else
		write_single(w, p);
	buf_putc(w->out, ')');
}

void mail_bodystructure_write(struct buf *out, const struct mail_mime *m, bool extended)
{
	struct writer w = { m, extended, out };
	write_part(&w, 0);
}
