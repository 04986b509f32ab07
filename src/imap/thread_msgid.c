/*
 * thread_msgid.c — message-ids out of Message-ID, In-Reply-To and
 * References field values (RFC 5322 §3.6.4) for THREAD (thread.h).
 *
 * Real mail bends the grammar (spaces inside ids, ids without "@",
 * comments between them), so this takes what a reader would: the octets
 * between "<" and ">", folding whitespace removed, skipping comments and
 * quoted strings outside the brackets.  One pass, no recursion; every
 * index is checked against n.
 */
#include "imap/thread.h"

/* Past a comment starting at s[i] == '(' (nested, with quoted-pairs); n if unterminated. */
static size_t skip_comment(const char *s, size_t n, size_t i)
{
	size_t depth = 0;
	for (; i < n; i++) {
		if (s[i] == '\\') {
			i++;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return n;
}

/* Past a quoted string starting at s[i] == '"'; n if unterminated. */
static size_t skip_quoted(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n;
}

bool imap_msgid_next(const char *s, size_t n, size_t *pos, struct buf *out)
{
	size_t i = *pos;
	while (i < n) {
		char c = s[i];
		if (c == '(') {
			i = skip_comment(s, n, i);
			continue;
		}
		if (c == '"') {
			i = skip_quoted(s, n, i);
			continue;
		}
		if (c != '<') {
			i++;
			continue;
		}
		/* an id: up to the next '>', restarting at a nested '<' */
		buf_reset(out);
		bool valid = true;
		size_t j = i + 1;
		for (; j < n && s[j] != '>' && s[j] != '<'; j++) {
			unsigned char u = (unsigned char)s[j];
			if (u == ' ' || u == '\t' || u == '\r' || u == '\n')
				continue;
			if (u < 0x20 || u == 0x7f || out->len >= IMAP_MSGID_MAX) {
				valid = false;
				continue;
			}
			buf_putc(out, (char)u);
		}
		if (j >= n) {
			*pos = n;
			return false;
		}
		if (s[j] == '<') {
			i = j;
			continue;
		}
		i = j + 1;
		if (valid && out->len > 0) {
			*pos = i;
			return true;
		}
	}
	*pos = n;
	return false;
}
