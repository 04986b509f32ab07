/*
 * keywords.c — keyword lists (keywords.h): validation, merging into a
 * mailbox's dictionary of keywords, and the add/remove/replace of STORE.
 *
 * The lists are short (a mailbox holds at most STORE_MAILBOX_KEYWORDS_MAX
 * keywords, a message at most STORE_KEYWORDS_MAX octets of them), so plain
 * linear scans are the right tool.
 */
#include "store/keywords.h"

#include <string.h>

/* IMAP atom-char: not atom-specials ( ) { SP CTL % * " \ ] and ASCII only. */
static bool atom_char(unsigned char c)
{
	if (c <= ' ' || c >= 0x7f)
		return false;
	return !strchr("(){%*\"\\]", c);
}

/* The next token of list at *p: start and length; false at the end. */
static bool next_token(const char **p, const char **tok, size_t *n)
{
	const char *s = *p;
	while (*s == ' ')
		s++;
	if (!*s) {
		*p = s;
		return false;
	}
	const char *e = s;
	while (*e && *e != ' ')
		e++;
	*tok = s;
	*n = (size_t)(e - s);
	*p = e;
	return true;
}

static bool token_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

bool store_kw_has(const char *list, const char *kw, size_t n)
{
	const char *p = list ? list : "", *tok;
	size_t tn;
	while (next_token(&p, &tok, &tn))
		if (token_eq(tok, tn, kw, n))
			return true;
	return false;
}

/* The spelling of kw in list, or NULL. */
static const char *find(const char *list, const char *kw, size_t n)
{
	const char *p = list, *tok;
	size_t tn;
	while (next_token(&p, &tok, &tn))
		if (token_eq(tok, tn, kw, n))
			return tok;
	return NULL;
}

static void put_token(struct buf *out, const char *tok, size_t n)
{
	if (out->len)
		buf_putc(out, ' ');
	buf_append(out, tok, n);
}

bool store_kw_normalize(const char *in, struct buf *out)
{
	buf_reset(out);
	buf_puts(out, "");
	const char *p = in ? in : "", *tok;
	size_t n;
	while (next_token(&p, &tok, &n)) {
		if (tok[0] == '\\')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!atom_char((unsigned char)tok[i]))
				return false;
		if (store_kw_has(buf_cstr(out), tok, n))
			continue;
		put_token(out, tok, n);
		if (out->len > STORE_KEYWORDS_MAX)
			return false;
	}
	return true;
}

size_t store_kw_count(const char *list)
{
	const char *p = list ? list : "", *tok;
	size_t n, count = 0;
	while (next_token(&p, &tok, &n))
		count++;
	return count;
}

bool store_kw_merge(const char *mailbox, const char *add, struct buf *merged, struct buf *canon, bool *changed)
{
	buf_reset(merged);
	buf_reset(canon);
	buf_puts(merged, mailbox ? mailbox : "");
	buf_puts(canon, "");
	*changed = false;
	size_t count = store_kw_count(buf_cstr(merged));
	const char *p = add ? add : "", *tok;
	size_t n;
	while (next_token(&p, &tok, &n)) {
		const char *known = find(buf_cstr(merged), tok, n);
		if (!known) {
			if (++count > STORE_MAILBOX_KEYWORDS_MAX)
				return false;
			put_token(merged, tok, n);
			*changed = true;
			/* merged may have moved: canon takes tok itself, same spelling */
			put_token(canon, tok, n);
		} else {
			put_token(canon, known, n);
		}
	}
	return true;
}

bool store_kw_apply(const char *cur, enum store_flag_op op, const char *arg, struct buf *out)
{
	buf_reset(out);
	buf_puts(out, "");
	const char *p, *tok;
	size_t n;
	if (op != STORE_FLAGS_REPLACE) {
		/* the current ones, minus those removed */
		p = cur ? cur : "";
		while (next_token(&p, &tok, &n)) {
			if (op == STORE_FLAGS_REMOVE && store_kw_has(arg, tok, n))
				continue;
			if (!store_kw_has(buf_cstr(out), tok, n))
				put_token(out, tok, n);
		}
	}
	if (op != STORE_FLAGS_REMOVE) {
		p = arg ? arg : "";
		while (next_token(&p, &tok, &n))
			if (!store_kw_has(buf_cstr(out), tok, n))
				put_token(out, tok, n);
	}
	return out->len <= STORE_KEYWORDS_MAX;
}

bool store_kw_subset(const char *a, const char *b)
{
	const char *p = a ? a : "", *tok;
	size_t n;
	while (next_token(&p, &tok, &n))
		if (!store_kw_has(b, tok, n))
			return false;
	return true;
}

bool store_kw_same(const char *a, const char *b)
{
	return store_kw_subset(a, b) && store_kw_subset(b, a);
}
