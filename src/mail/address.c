/*
 * address.c — address-list parsing; see address.h.
 *
 * Two steps: the value is cut into RFC 5322 lexical tokens (atoms, quoted
 * strings, domain literals, comments, specials), then a small parser walks
 * the tokens.  Comments nest with a counter, so no input can make either
 * step recurse.
 */
#include "mail/address.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mail/header.h"

enum tok_type { T_ATOM, T_QSTR, T_DLIT, T_COMMENT, T_SPECIAL };

struct tok {
	uint8_t type;           /* enum tok_type */
	char ch;                /* T_SPECIAL: the character */
	bool space_before;      /* whitespace or a comment came before */
	uint32_t start, len;    /* content (without quotes / parens); input <= MAIL_FIELD_MAX */
};

struct parser {
	const char *s;
	struct tok *t;
	size_t n, pos;
	struct mail_address *head, *tail;
	size_t count;
	struct buf tmp;
};

static bool is_special(char c)
{
	return strchr("()<>[]:;@\\,.\"", c) != NULL && c != '\0';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t tokenize(const char *s, size_t n, struct tok *t)
{
	size_t i = 0, nt = 0;
	bool space = false;
	while (i < n) {
		char c = s[i];
		if (is_space(c)) {
			space = true;
			i++;
			continue;
		}
		struct tok *k = &t[nt];
		k->space_before = space;
		space = false;
		if (c == '(') {
			size_t depth = 1, j = i + 1;
			while (j < n && depth > 0) {
				if (s[j] == '\\' && j + 1 < n)
					j++;
				else if (s[j] == '(')
					depth++;
				else if (s[j] == ')')
					depth--;
				j++;
			}
			k->type = T_COMMENT;
			k->start = (uint32_t)(i + 1);
			k->len = (uint32_t)((depth == 0 ? j - 1 : j) - (i + 1));
			i = j;
			space = true;   /* a comment separates words like whitespace */
		} else if (c == '"' || c == '[') {
			char close = c == '"' ? '"' : ']';
			size_t j = i + 1;
			while (j < n && s[j] != close) {
				if (s[j] == '\\' && j + 1 < n)
					j++;
				j++;
			}
			k->type = c == '"' ? T_QSTR : T_DLIT;
			k->start = (uint32_t)(c == '"' ? i + 1 : i);
			k->len = (uint32_t)(c == '"' ? (j < n ? j : n) - (i + 1) : (j < n ? j + 1 : n) - i);
			i = j < n ? j + 1 : n;
		} else if (is_special(c) && c != '\\' && c != ')' && c != ']') {
			k->type = T_SPECIAL;
			k->ch = c;
			k->start = (uint32_t)i;
			k->len = 1;
			i++;
		} else {
			/* atom; stray ) ] \ are taken as atom text */
			size_t j = i + 1;
			while (j < n && !is_space(s[j]) &&
			       !(is_special(s[j]) && s[j] != ')' && s[j] != ']' && s[j] != '\\'))
				j++;
			k->type = T_ATOM;
			k->start = (uint32_t)i;
			k->len = (uint32_t)(j - i);
			i = j;
		}
		nt++;
	}
	return nt;
}

/* Append token content, removing quoted-pair backslashes for quoted strings and comments. */
static void append_tok(struct buf *b, const char *s, const struct tok *k)
{
	if (k->type != T_QSTR && k->type != T_COMMENT) {
		buf_append(b, s + k->start, k->len);
		return;
	}
	const char *p = s + k->start;
	for (size_t i = 0; i < k->len; i++) {
		if (p[i] == '\\' && i + 1 < k->len)
			i++;
		buf_putc(b, p[i]);
	}
}

static const struct tok *peek(struct parser *p)
{
	while (p->pos < p->n && p->t[p->pos].type == T_COMMENT)
		p->pos++;
	return p->pos < p->n ? &p->t[p->pos] : NULL;
}

static bool is_ch(const struct tok *k, char c)
{
	return k && k->type == T_SPECIAL && k->ch == c;
}

static void add(struct parser *p, char *name, char *route, char *mailbox, char *domain, bool invalid)
{
	struct mail_address *a = xcalloc(1, sizeof *a);
	a->name = name;
	a->route = route;
	a->mailbox = mailbox;
	a->domain = domain;
	a->invalid = invalid;
	if (p->tail)
		p->tail->next = a;
	else
		p->head = a;
	p->tail = a;
	p->count++;
}

static char *tmp_dup(struct parser *p)
{
	return xmemdup0(p->tmp.data ? p->tmp.data : "", p->tmp.len);
}

/* phrase = 1*(atom / quoted-string / "."), words joined by one space where the input had space. */
static bool parse_phrase(struct parser *p)
{
	buf_reset(&p->tmp);
	bool any = false;
	const struct tok *k;
	while ((k = peek(p)) && (k->type == T_ATOM || k->type == T_QSTR || is_ch(k, '.'))) {
		if (any && k->space_before)
			buf_putc(&p->tmp, ' ');
		append_tok(&p->tmp, p->s, k);
		any = true;
		p->pos++;
	}
	return any;
}

static bool is_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return false;
		if (c <= ' ' || c == 127 || (c != '.' && is_special((char)c)))
			return false;
	}
	return true;
}

/* local-part: words and dots up to "@" or a delimiter; a space-separated word restarts it. */
static char *parse_local(struct parser *p)
{
	struct buf b = BUF_INIT;
	bool quoted = false, any = false;
	const struct tok *k;
	while ((k = peek(p)) && (k->type == T_ATOM || k->type == T_QSTR || is_ch(k, '.'))) {
		if (any && k->space_before && k->type != T_SPECIAL && b.len > 0 &&
		    b.data[b.len - 1] != '.') {
			buf_reset(&b);  /* "John Doe john@x": keep the last word run */
			quoted = false;
		}
		if (k->type == T_QSTR)
			quoted = true;
		append_tok(&b, p->s, k);
		any = true;
		p->pos++;
	}
	if (!any) {
		buf_free(&b);
		return NULL;
	}
	if (quoted && !is_dot_atom(buf_cstr(&b), b.len)) {
		struct buf q = BUF_INIT;
		buf_putc(&q, '"');
		for (size_t i = 0; i < b.len; i++) {
			if (b.data[i] == '"' || b.data[i] == '\\')
				buf_putc(&q, '\\');
			buf_putc(&q, b.data[i]);
		}
		buf_putc(&q, '"');
		buf_free(&b);
		return buf_steal(&q);
	}
	return buf_steal(&b);
}

/* domain: atoms, dots and domain literals, concatenated. */
static char *parse_domain(struct parser *p)
{
	struct buf b = BUF_INIT;
	const struct tok *k;
	bool want_word = true;  /* words must be separated by dots: "b junk" ends at "b" */
	while ((k = peek(p)) && (k->type == T_ATOM || k->type == T_DLIT || is_ch(k, '.'))) {
		bool word = k->type != T_SPECIAL;
		if (word && !want_word)
			break;
		want_word = !word;
		append_tok(&b, p->s, k);
		p->pos++;
	}
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Skip to the end of the current mailbox: "," (or ";" in a group) or the end. */
static bool skip_garbage(struct parser *p, bool in_group)
{
	bool skipped = false;
	const struct tok *k;
	while ((k = peek(p)) && !is_ch(k, ',') && !(in_group && is_ch(k, ';'))) {
		p->pos++;
		skipped = true;
	}
	return skipped;
}

static char *last_comment(struct parser *p, size_t from, size_t to)
{
	for (size_t i = to; i > from; i--) {
		const struct tok *k = &p->t[i - 1];
		if (k->type == T_COMMENT) {
			struct buf b = BUF_INIT;
			append_tok(&b, p->s, k);
			/* trim */
			size_t a = 0, e = b.len;
			while (a < e && is_space(b.data[a])) a++;
			while (e > a && is_space(b.data[e - 1])) e--;
			char *r = e > a ? xmemdup0(b.data + a, e - a) : NULL;
			buf_free(&b);
			return r;
		}
	}
	return NULL;
}

static void parse_angle(struct parser *p, char *name, bool in_group)
{
	bool invalid = false;
	char *route = NULL, *local = NULL, *domain = NULL;
	p->pos++;       /* '<' */
	const struct tok *k = peek(p);
	if (is_ch(k, '@')) {
		/* obs-route = obs-domain-list ":" ; obs-domain-list = "@" domain *("," "@" domain) */
		struct buf r = BUF_INIT;
		while ((k = peek(p)) && (is_ch(k, '@') || is_ch(k, ','))) {
			p->pos++;
			if (k->ch == ',')
				continue;
			char *d = parse_domain(p);
			if (r.len)
				buf_putc(&r, ',');
			buf_putc(&r, '@');
			if (d)
				buf_puts(&r, d);
			free(d);
		}
		if (is_ch(peek(p), ':')) {
			p->pos++;
			route = buf_steal(&r);
		} else {
			invalid = true;
			buf_free(&r);
		}
	}
	local = parse_local(p);
	if (is_ch(peek(p), '@')) {
		p->pos++;
		domain = parse_domain(p);
	}
	if (is_ch(peek(p), '>'))
		p->pos++;
	else
		invalid = true;
	if (skip_garbage(p, in_group))
		invalid = true;
	if (!local) {
		local = xstrdup("MISSING_MAILBOX");
		invalid = true;
	}
	if (!domain) {
		domain = xstrdup("MISSING_DOMAIN");
		invalid = true;
	}
	add(p, name, route, local, domain, invalid);
}

static void parse_mailbox(struct parser *p, bool in_group)
{
	size_t start = p->pos;
	bool have_phrase = parse_phrase(p);
	if (is_ch(peek(p), '<')) {
		char *name = have_phrase && p->tmp.len ? tmp_dup(p) : NULL;
		parse_angle(p, name, in_group);
		return;
	}
	/* addr-spec */
	p->pos = start;
	bool invalid = false;
	char *local = parse_local(p);
	char *domain = NULL;
	if (is_ch(peek(p), '@')) {
		p->pos++;
		domain = parse_domain(p);
	}
	/* an angle address after garbage: "a b c <x@y>" is handled above, "x@y <z@w>" is junk */
	if (skip_garbage(p, in_group))
		invalid = true;
	if (!local && !domain && !invalid)
		return;         /* nothing here (only comments) */
	char *name = last_comment(p, start, p->pos);
	if (!local) {
		local = xstrdup("MISSING_MAILBOX");
		invalid = true;
	}
	if (!domain) {
		domain = xstrdup("MISSING_DOMAIN");
		invalid = true;
	}
	add(p, name, NULL, local, domain, invalid);
}

static void parse_address(struct parser *p)
{
	size_t start = p->pos;
	if (parse_phrase(p) && is_ch(peek(p), ':')) {
		/* group = display-name ":" [group-list] ";" */
		p->pos++;
		add(p, NULL, NULL, tmp_dup(p), NULL, false);
		bool closed = false;
		const struct tok *k;
		while ((k = peek(p)) && p->count < MAIL_ADDR_MAX) {
			if (is_ch(k, ',')) {
				p->pos++;
				continue;
			}
			if (is_ch(k, ';')) {
				p->pos++;
				closed = true;
				break;
			}
			size_t before = p->pos;
			parse_mailbox(p, true);
			if (p->pos == before)
				p->pos++;       /* cannot happen, but never loop */
		}
		add(p, NULL, NULL, NULL, NULL, !closed);
		return;
	}
	p->pos = start;
	parse_mailbox(p, false);
	/* a stray ";" or ":" ends up here */
	const struct tok *k = peek(p);
	if (k && !is_ch(k, ','))
		p->pos++;
}

struct mail_address *mail_address_parse(const char *s, size_t n)
{
	if (n > MAIL_FIELD_MAX)
		n = MAIL_FIELD_MAX;
	struct parser p = { 0 };
	p.s = s;
	p.t = xmalloc((n ? n : 1) * sizeof *p.t);
	p.n = tokenize(s, n, p.t);
	while (p.pos < p.n && p.count < MAIL_ADDR_MAX) {
		const struct tok *k = peek(&p);
		if (!k)
			break;
		if (is_ch(k, ',')) {
			p.pos++;
			continue;
		}
		size_t before = p.pos;
		parse_address(&p);
		if (p.pos == before)
			p.pos++;
	}
	free(p.t);
	buf_free(&p.tmp);
	return p.head;
}

void mail_address_free(struct mail_address **list)
{
	struct mail_address *a = *list;
	while (a) {
		struct mail_address *next = a->next;
		free(a->name);
		free(a->route);
		free(a->mailbox);
		free(a->domain);
		free(a);
		a = next;
	}
	*list = NULL;
}
