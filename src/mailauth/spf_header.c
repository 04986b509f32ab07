/*
 * spf_header.c — the trace fields of an SPF result: Received-SPF
 * (RFC 7208 §9.1) and the spf resinfo of Authentication-Results
 * (RFC 8601 §2.7.2).  See spf.h.  Everything in struct spf_outcome is
 * printable ASCII already; here it is only quoted where the grammar
 * needs it.
 */
#include "mailauth/spf.h"

#include <stdio.h>
#include <string.h>

#include "lib/buf.h"

/* atext of RFC 5322 §3.2.3 */
static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool is_dot_atom(const char *s)
{
	if (!*s || *s == '.')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (p[1] == '.' || p[1] == '\0')
				return false;
		} else if (!is_atext((unsigned char)*p)) {
			return false;
		}
	}
	return true;
}

/* dot-atom when it is one, else quoted-string */
static void put_value(struct buf *b, const char *s)
{
	if (is_dot_atom(s)) {
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '"');
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

/* comment text: parentheses and backslashes escaped */
static void put_ctext(struct buf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p == '(' || *p == ')' || *p == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
}

/* Appends piece, folding before it when the current line would pass 78 columns. */
static void put_folded(struct buf *b, size_t *line_start, const char *piece, size_t n)
{
	if (b->len - *line_start + 1 + n > 78 && b->len > *line_start + 1) {
		buf_puts(b, "\r\n\t");
		*line_start = b->len - 1;
	} else {
		buf_putc(b, ' ');
	}
	buf_append(b, piece, n);
}

static void comment_text(const struct spf_outcome *o, struct buf *t)
{
	const char *who = o->sender;
	const char *ip = o->client_ip;
	switch (o->result) {
	case SPF_PASS:
		buf_printf(t, "domain of %s designates %s as permitted sender", who, ip);
		break;
	case SPF_FAIL:
		buf_printf(t, "domain of %s does not designate %s as permitted sender", who, ip);
		break;
	case SPF_SOFTFAIL:
		buf_printf(t, "domain of transitioning %s does not designate %s as permitted sender", who, ip);
		break;
	case SPF_NEUTRAL:
		buf_printf(t, "%s is neither permitted nor denied by domain of %s", ip, who);
		break;
	case SPF_NONE:
		buf_printf(t, "domain of %s does not designate permitted sender hosts", who);
		break;
	case SPF_PERMERROR:
		buf_printf(t, "permanent error in processing domain of %s: %s", who, o->problem);
		break;
	case SPF_TEMPERROR:
		buf_printf(t, "temporary error in processing during lookup of %s: %s", who, o->problem);
		break;
	}
}

void spf_format_received_spf(const struct spf_outcome *o, struct buf *b)
{
	size_t line_start = b->len;
	buf_printf(b, "Received-SPF: %s", spf_result_name(o->result));

	/* The comment, word by word so that it folds. */
	struct buf text = BUF_INIT, c = BUF_INIT;
	comment_text(o, &text);
	buf_putc(&c, '(');
	put_ctext(&c, o->receiver);
	buf_puts(&c, ": ");
	put_ctext(&c, buf_cstr(&text));
	buf_putc(&c, ')');
	const char *s = buf_cstr(&c);
	while (*s) {
		const char *sp = strchr(s, ' ');
		size_t n = sp ? (size_t)(sp - s) : strlen(s);
		if (n)
			put_folded(b, &line_start, s, n);
		s += n;
		while (*s == ' ')
			s++;
	}

	struct {
		const char *key, *value;
	} kv[] = {
		{ "client-ip", o->client_ip },
		{ "envelope-from", o->envelope_from[0] ? o->envelope_from : "<>" },
		{ "helo", o->helo },
		{ "receiver", o->receiver },
		{ "identity", o->identity == SPF_IDENTITY_HELO ? "helo" : "mailfrom" },
		{ "mechanism", o->mechanism },
		{ "problem", o->result == SPF_PERMERROR || o->result == SPF_TEMPERROR ? o->problem : "" },
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
		if (!kv[i].value[0] && strcmp(kv[i].key, "helo") != 0)
			continue;
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s=", kv[i].key);
		put_value(&p, kv[i].value);
		buf_putc(&p, ';');
		put_folded(b, &line_start, p.data, p.len);
		buf_free(&p);
	}
	buf_puts(b, "\r\n");
	buf_free(&text);
	buf_free(&c);
}

void spf_format_auth_results(const struct spf_outcome *o, struct buf *b)
{
	buf_printf(b, "spf=%s", spf_result_name(o->result));
	if (o->identity == SPF_IDENTITY_HELO) {
		buf_puts(b, " smtp.helo=");
		put_value(b, o->domain);
		return;
	}
	/* pvalue = [ [ local-part ] "@" ] domain-name: the whole sender when it needs no quoting */
	buf_puts(b, " smtp.mailfrom=");
	const char *at = strrchr(o->sender, '@');
	char local[SPF_ADDRESS_MAX];
	snprintf(local, sizeof local, "%.*s", at ? (int)(at - o->sender) : 0, o->sender);
	if (at && is_dot_atom(local) && is_dot_atom(at + 1))
		buf_puts(b, o->sender);
	else
		put_value(b, o->domain);
}
