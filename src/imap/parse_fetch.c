/*
 * parse_fetch.c — FETCH and STORE arguments (RFC 9051 §6.4.5, §6.4.6;
 * BINARY RFC 3516; CONDSTORE/QRESYNC RFC 7162 modifiers), and the flag
 * lists STORE and APPEND share.
 *
 * Each fetch-att becomes a struct imap_fetch_att with the name the
 * response must carry (RFC 9051 §7.5.2): keywords upper-cased, BODY.PEEK
 * and BINARY.PEEK reported without ".PEEK", header field names as the
 * client spelled them, a partial as its origin octet only.  fetch.c and
 * section.c (the session side) only read these.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/parse_priv.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "store/keywords.h"

static const struct {
	const char *name;
	enum imap_fetch_type type;
} simple_atts[] = {
	{ "FLAGS", FA_FLAGS }, { "INTERNALDATE", FA_INTERNALDATE }, { "RFC822.SIZE", FA_RFC822_SIZE },
	{ "ENVELOPE", FA_ENVELOPE }, { "BODY", FA_BODY }, { "BODYSTRUCTURE", FA_BODYSTRUCTURE },
	{ "UID", FA_UID }, { "MODSEQ", FA_MODSEQ }, { "RFC822", FA_RFC822 },
	{ "RFC822.HEADER", FA_RFC822_HEADER }, { "RFC822.TEXT", FA_RFC822_TEXT },
};

static struct imap_fetch_att *att_new(struct imap_p *p, enum imap_fetch_type type)
{
	struct imap_cmd *c = p->cmd;
	if (c->natts == IMAP_FETCH_MAX_ATTS) {
		imap_p_fail(p, "Too many fetch attributes");
		return NULL;
	}
	/* Capacity doubles at each power of two. */
	if (c->natts == 0 || (c->natts >= 4 && (c->natts & (c->natts - 1)) == 0))
		c->atts = xrealloc(c->atts, (c->natts ? c->natts * 2 : 4) * sizeof *c->atts);
	struct imap_fetch_att *a = &c->atts[c->natts++];
	memset(a, 0, sizeof *a);
	a->type = type;
	return a;
}

static const char *simple_name(enum imap_fetch_type type)
{
	for (size_t i = 0; i < ARRAY_LEN(simple_atts); i++)
		if (simple_atts[i].type == type)
			return simple_atts[i].name;
	return "";
}

static bool add_simple(struct imap_p *p, enum imap_fetch_type type)
{
	struct imap_fetch_att *a = att_new(p, type);
	if (!a)
		return false;
	a->name = xstrdup(simple_name(type));
	return true;
}

/* RFC 5322 ftext: printable US-ASCII except ':'. */
static bool field_name_ok(const struct imap_str *f)
{
	if (f->n == 0)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		unsigned char c = (unsigned char)f->p[i];
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

/* SP "(" header-fld-name *(SP header-fld-name) ")" */
static bool header_list(struct imap_p *p, struct imap_fetch_att *a)
{
	if (imap_p_peek(p) == ']')
		return imap_p_fail(p, "Missing header field list");
	if (!imap_p_arg(p, "Missing header field list") || !imap_p_char(p, '(', "Expected a header field list"))
		return false;
	for (;;) {
		if (a->nfields == IMAP_FETCH_MAX_FIELDS)
			return imap_p_fail(p, "Too many header fields");
		if (a->nfields == 0 || (a->nfields >= 4 && (a->nfields & (a->nfields - 1)) == 0))
			a->fields = xrealloc(a->fields, (a->nfields ? a->nfields * 2 : 4) * sizeof *a->fields);
		struct imap_str *f = &a->fields[a->nfields];
		memset(f, 0, sizeof *f);
		a->nfields++;
		if (!imap_p_astring(p, f, "Missing header field name"))
			return false;
		if (!field_name_ok(f))
			return imap_p_fail(p, "Invalid header field name");
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	return imap_p_char(p, ')', "Invalid header field list");
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/*
 * section = "[" [section-spec] "]", or for BINARY section-binary =
 * "[" [section-part] "]"; the cursor is on the '['.
 */
static bool section(struct imap_p *p, struct imap_fetch_att *a, bool binary)
{
	p->pos++;
	if (imap_p_peek(p) == ']') {
		p->pos++;
		return true;
	}
	if (is_digit(imap_p_peek(p))) {
		for (;;) {
			if (a->nparts == IMAP_SECTION_DEPTH)
				return imap_p_fail(p, "Section part nested too deeply");
			if (!imap_p_number(p, &a->part[a->nparts], true, "Invalid section part number"))
				return false;
			a->nparts++;
			if (imap_p_peek(p) != '.')
				return imap_p_char(p, ']', "Invalid section");
			p->pos++;
			if (!is_digit(imap_p_peek(p)))
				break;
		}
	}
	if (binary)
		return imap_p_fail(p, "A BINARY section holds part numbers only");
	size_t st = p->pos;
	while (p->pos < p->len && ((p->s[p->pos] >= 'A' && p->s[p->pos] <= 'Z') ||
				   (p->s[p->pos] >= 'a' && p->s[p->pos] <= 'z') || p->s[p->pos] == '.'))
		p->pos++;
	const char *t = p->s + st;
	size_t n = p->pos - st;
	if (ascii_ieq(t, n, "HEADER")) {
		a->spec = SEC_HEADER;
	} else if (ascii_ieq(t, n, "HEADER.FIELDS")) {
		a->spec = SEC_HEADER_FIELDS;
	} else if (ascii_ieq(t, n, "HEADER.FIELDS.NOT")) {
		a->spec = SEC_HEADER_FIELDS_NOT;
	} else if (ascii_ieq(t, n, "TEXT")) {
		a->spec = SEC_TEXT;
	} else if (ascii_ieq(t, n, "MIME")) {
		if (a->nparts == 0)
			return imap_p_fail(p, "MIME needs a part number");
		a->spec = SEC_MIME;
	} else {
		return imap_p_fail(p, "Invalid section");
	}
	if ((a->spec == SEC_HEADER_FIELDS || a->spec == SEC_HEADER_FIELDS_NOT) && !header_list(p, a))
		return false;
	return imap_p_char(p, ']', "Invalid section");
}

/* "<" number64 "." nz-number64 ">" */
static bool partial(struct imap_p *p, struct imap_fetch_att *a)
{
	if (imap_p_peek(p) != '<')
		return true;
	p->pos++;
	if (!imap_p_number64(p, &a->offset, false, "Invalid partial offset") ||
	    !imap_p_char(p, '.', "Invalid partial") ||
	    !imap_p_number64(p, &a->length, true, "Invalid partial length") || !imap_p_char(p, '>', "Invalid partial"))
		return false;
	a->partial = true;
	return true;
}

static const char *spec_name(enum imap_section_spec spec)
{
	switch (spec) {
	case SEC_HEADER: return "HEADER";
	case SEC_HEADER_FIELDS: return "HEADER.FIELDS";
	case SEC_HEADER_FIELDS_NOT: return "HEADER.FIELDS.NOT";
	case SEC_TEXT: return "TEXT";
	case SEC_MIME: return "MIME";
	case SEC_NONE: break;
	}
	return "";
}

static void put_field(struct buf *b, const struct imap_str *f)
{
	bool atom = true;
	for (size_t i = 0; i < f->n; i++)
		if (!imap_p_is_atom_char((unsigned char)f->p[i]))
			atom = false;
	if (atom) {
		buf_append(b, f->p, f->n);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < f->n; i++) {
		if (f->p[i] == '"' || f->p[i] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, f->p[i]);
	}
	buf_putc(b, '"');
}

static void section_name(struct imap_fetch_att *a, const char *base)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, base);
	buf_putc(&b, '[');
	for (size_t i = 0; i < a->nparts; i++)
		buf_printf(&b, "%s%u", i ? "." : "", a->part[i]);
	if (a->spec != SEC_NONE) {
		if (a->nparts)
			buf_putc(&b, '.');
		buf_puts(&b, spec_name(a->spec));
	}
	if (a->nfields) {
		buf_puts(&b, " (");
		for (size_t i = 0; i < a->nfields; i++) {
			if (i)
				buf_putc(&b, ' ');
			put_field(&b, &a->fields[i]);
		}
		buf_putc(&b, ')');
	}
	buf_putc(&b, ']');
	if (a->partial)
		buf_printf(&b, "<%llu>", (unsigned long long)a->offset);
	a->name = buf_steal(&b);
}

static bool fetch_att(struct imap_p *p)
{
	size_t st = p->pos;
	while (p->pos < p->len && ((p->s[p->pos] >= 'A' && p->s[p->pos] <= 'Z') ||
				   (p->s[p->pos] >= 'a' && p->s[p->pos] <= 'z') || is_digit(p->s[p->pos]) ||
				   p->s[p->pos] == '.'))
		p->pos++;
	const char *t = p->s + st;
	size_t n = p->pos - st;
	bool bracket = imap_p_peek(p) == '[';
	if (n == 0)
		return imap_p_fail(p, imap_p_at_eol(p) ? "Missing fetch attribute" : "Invalid fetch attribute");
	if (!bracket) {
		for (size_t i = 0; i < ARRAY_LEN(simple_atts); i++)
			if (ascii_ieq(t, n, simple_atts[i].name))
				return add_simple(p, simple_atts[i].type);
		if (ascii_ieq(t, n, "BODY.PEEK") || ascii_ieq(t, n, "BINARY") || ascii_ieq(t, n, "BINARY.PEEK") ||
		    ascii_ieq(t, n, "BINARY.SIZE"))
			return imap_p_fail(p, "Missing section");
		return imap_p_fail(p, "Unknown fetch attribute");
	}
	struct imap_fetch_att *a;
	if (ascii_ieq(t, n, "BODY") || ascii_ieq(t, n, "BODY.PEEK")) {
		if (!(a = att_new(p, FA_BODY_SECTION)))
			return false;
		a->peek = n == 9;
		if (!section(p, a, false) || !partial(p, a))
			return false;
		section_name(a, "BODY");
	} else if (ascii_ieq(t, n, "BINARY") || ascii_ieq(t, n, "BINARY.PEEK")) {
		if (!(a = att_new(p, FA_BINARY_SECTION)))
			return false;
		a->peek = n == 11;
		if (!section(p, a, true) || !partial(p, a))
			return false;
		section_name(a, "BINARY");
	} else if (ascii_ieq(t, n, "BINARY.SIZE")) {
		if (!(a = att_new(p, FA_BINARY_SIZE)) || !section(p, a, true))
			return false;
		section_name(a, "BINARY.SIZE");
	} else {
		return imap_p_fail(p, "Unknown fetch attribute");
	}
	return true;
}

bool imap_p_fetch_att_list(struct imap_p *p)
{
	p->pos++;
	if (imap_p_peek(p) == ')')
		return imap_p_fail(p, "Empty fetch attribute list");
	for (;;) {
		if (!fetch_att(p))
			return false;
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	return imap_p_char(p, ')', "Invalid fetch attribute list");
}

/* ALL / FAST / FULL */
static bool fetch_macro(struct imap_p *p, bool *done)
{
	static const enum imap_fetch_type full[] = { FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE, FA_ENVELOPE, FA_BODY };
	size_t n;
	*done = false;
	if (imap_p_keyword(p, "ALL"))
		n = 4;
	else if (imap_p_keyword(p, "FAST"))
		n = 3;
	else if (imap_p_keyword(p, "FULL"))
		n = 5;
	else
		return true;
	*done = true;
	p->cmd->fetch_all_macro = true;
	for (size_t i = 0; i < n; i++)
		if (!add_simple(p, full[i]))
			return false;
	return true;
}

/* SP "(" fetch-modifier *(SP fetch-modifier) ")" */
static bool fetch_modifiers(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_char(p, '(', "Unexpected characters after command"))
		return false;
	for (;;) {
		if (imap_p_keyword(p, "CHANGEDSINCE")) {
			if (c->changedsince)
				return imap_p_fail(p, "Duplicate CHANGEDSINCE");
			if (!imap_p_arg(p, "Missing CHANGEDSINCE value") ||
			    !imap_p_number64(p, &c->changedsince, true, "Invalid CHANGEDSINCE value"))
				return false;
		} else if (imap_p_keyword(p, "VANISHED")) {
			if (c->vanished)
				return imap_p_fail(p, "Duplicate VANISHED");
			c->vanished = true;
		} else {
			return imap_p_fail(p, "Unknown FETCH modifier");
		}
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	if (!imap_p_char(p, ')', "Invalid FETCH modifier list"))
		return false;
	/* RFC 7162 §3.2.6 */
	if (c->vanished && !c->uid)
		return imap_p_fail(p, "VANISHED is only valid with UID FETCH");
	if (c->vanished && !c->changedsince)
		return imap_p_fail(p, "VANISHED needs CHANGEDSINCE");
	return true;
}

bool imap_p_cmd_fetch(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing sequence set") || !imap_p_seqset(p, &c->set, true) ||
	    !imap_p_arg(p, "Missing fetch attributes"))
		return false;
	if (imap_p_peek(p) == '(') {
		if (!imap_p_fetch_att_list(p))
			return false;
	} else {
		bool macro;
		if (!fetch_macro(p, &macro))
			return false;
		if (!macro && !fetch_att(p))
			return false;
	}
	if (imap_p_opt_arg(p))
		return fetch_modifiers(p);
	return true;
}

/* ---- flags (STORE, and APPEND in parse.c) ---------------------------------- */

static const struct {
	const char *name;
	uint32_t bit;
} system_flags[] = {
	{ "Answered", STORE_FLAG_ANSWERED }, { "Flagged", STORE_FLAG_FLAGGED },
	{ "Deleted", STORE_FLAG_DELETED }, { "Seen", STORE_FLAG_SEEN }, { "Draft", STORE_FLAG_DRAFT },
};

static bool one_flag(struct imap_p *p, uint32_t *flags, struct buf *kw, size_t *count)
{
	const char *a;
	size_t n;
	if (++*count > IMAP_FLAGS_MAX)
		return imap_p_fail(p, "Too many flags");
	if (imap_p_peek(p) == '\\') {
		p->pos++;
		if (imap_p_peek(p) == '*')
			return imap_p_fail(p, "\\* is not a flag");
		if (!imap_p_atom(p, &a, &n, "Invalid flag"))
			return false;
		/*
		 * The server's to set (RFC 3501 §2.3.2), so ignored; clients that
		 * replace FLAGS with what they were shown send it back.
		 */
		if (ascii_ieq(a, n, "Recent"))
			return true;
		for (size_t i = 0; i < ARRAY_LEN(system_flags); i++) {
			if (ascii_ieq(a, n, system_flags[i].name)) {
				*flags |= system_flags[i].bit;
				return true;
			}
		}
		return imap_p_fail(p, "Unknown system flag");
	}
	if (!imap_p_atom(p, &a, &n, "Missing flag"))
		return false;
	/* Keywords are case-insensitive: "$Junk" and "$junk" are one. */
	if (!store_kw_has(buf_cstr(kw), a, n)) {
		if (kw->len)
			buf_putc(kw, ' ');
		buf_append(kw, a, n);
	}
	return true;
}

bool imap_p_flags(struct imap_p *p, bool bare, uint32_t *flags, char **keywords)
{
	struct buf kw = BUF_INIT;
	size_t count = 0;
	*flags = 0;
	if (bare && imap_p_peek(p) == '(')
		bare = false;
	if (!bare) {
		if (!imap_p_char(p, '(', "Expected a flag list"))
			goto fail;
		if (imap_p_peek(p) != ')') {
			for (;;) {
				if (!one_flag(p, flags, &kw, &count))
					goto fail;
				if (imap_p_peek(p) != ' ')
					break;
				p->pos++;
			}
		}
		if (!imap_p_char(p, ')', "Invalid flag list"))
			goto fail;
	} else {
		for (;;) {
			if (!one_flag(p, flags, &kw, &count))
				goto fail;
			if (!imap_p_opt_arg(p))
				break;
		}
	}
	free(*keywords);
	*keywords = buf_steal(&kw);
	return true;
fail:
	buf_free(&kw);
	return false;
}

bool imap_p_cmd_store(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing sequence set") || !imap_p_seqset(p, &c->set, true) ||
	    !imap_p_arg(p, "Missing STORE action"))
		return false;
	if (imap_p_peek(p) == '(') {
		/* store-modifiers: only UNCHANGEDSINCE (RFC 7162) is known */
		p->pos++;
		if (!imap_p_keyword(p, "UNCHANGEDSINCE"))
			return imap_p_fail(p, "Unknown STORE modifier");
		if (!imap_p_arg(p, "Missing UNCHANGEDSINCE value") ||
		    !imap_p_number64(p, &c->unchangedsince, false, "Invalid UNCHANGEDSINCE value") ||
		    !imap_p_char(p, ')', "Invalid STORE modifier list") || !imap_p_arg(p, "Missing STORE action"))
			return false;
		c->has_unchangedsince = true;
	}
	c->store_op = STORE_FLAGS_REPLACE;
	if (imap_p_peek(p) == '+') {
		c->store_op = STORE_FLAGS_ADD;
		p->pos++;
	} else if (imap_p_peek(p) == '-') {
		c->store_op = STORE_FLAGS_REMOVE;
		p->pos++;
	}
	if (imap_p_keyword(p, "FLAGS.SILENT"))
		c->silent = true;
	else if (!imap_p_keyword(p, "FLAGS"))
		return imap_p_fail(p, "Expected FLAGS, +FLAGS or -FLAGS");
	return imap_p_arg(p, "Missing flags") && imap_p_flags(p, true, &c->flags, &c->keywords);
}
