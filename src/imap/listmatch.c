/*
 * listmatch.c — LIST pattern matching and LIST/LSUB selection (see
 * listmatch.h).
 *
 * The matcher runs the pattern's automaton on all states at once: state i
 * means "the first i pattern tokens have matched", one bit each.  For a
 * name octet c the next state set is
 *
 *     ((D & LIT[c]) << 1)  |  (D & STAR)  |  (c != '/' ? D & PCT : 0)
 *
 * followed by the empty-match closure (a wildcard may match nothing:
 * state i on a wildcard token also enables i + 1).  Because runs of
 * wildcards are folded into one token, a wildcard is always followed by a
 * literal or the end, so the closure is a single shift.  The name matches
 * when the last state is set after its last octet.  No backtracking, no
 * recursion, no allocation while matching.
 */
#include "imap/listmatch.h"
#include "lib/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* states <= tokens + 1 <= 2 * literals + 2 */
#define STATES_MAX (2 * IMAP_LISTMATCH_LITERALS_MAX + 2)
#define WORDS_MAX ((STATES_MAX + 63) / 64)

struct imap_listmatch {
	bool never;                 /* too many literal octets: matches nothing */
	size_t nstates;
	size_t words;
	uint8_t cls[256];           /* octet -> literal class (0: not in the pattern) */
	uint64_t *star, *pct, *wild;
	uint64_t *lit;              /* per class, words each; class 0 is all zero */
};

static bool inbox_rooted(const char *name, size_t n)
{
	static const char inbox[] = "INBOX";
	if (n < 5 || (n > 5 && name[5] != '/'))
		return false;
	for (size_t i = 0; i < 5; i++) {
		char c = name[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != inbox[i])
			return false;
	}
	return true;
}

static void set_bit(uint64_t *v, size_t i)
{
	v[i / 64] |= UINT64_C(1) << (i % 64);
}

struct imap_listmatch *imap_listmatch_new(const char *p, size_t n)
{
	struct imap_listmatch *m = xcalloc(1, sizeof *m);
	/* Fold wildcard runs: "**", "*%", "%*" are "*"; "%%" is "%". */
	char *tok = xmalloc(n + 1);
	size_t ntok = 0, literals = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		bool wild = c == '*' || c == '%';
		if (wild && ntok && (tok[ntok - 1] == '*' || tok[ntok - 1] == '%')) {
			if (c == '*')
				tok[ntok - 1] = '*';
			continue;
		}
		if (!wild && ++literals > IMAP_LISTMATCH_LITERALS_MAX) {
			m->never = true;
			free(tok);
			return m;
		}
		tok[ntok++] = c;
	}
	m->nstates = ntok + 1;
	m->words = (m->nstates + 63) / 64;

	/* Literal classes: one bit mask per distinct octet of the pattern. */
	size_t nclasses = 1;
	for (size_t i = 0; i < ntok; i++) {
		unsigned char c = (unsigned char)tok[i];
		if (c != '*' && c != '%' && !m->cls[c])
			m->cls[c] = (uint8_t)nclasses++;
	}
	uint64_t *bits = xcalloc((3 + nclasses) * m->words, sizeof *bits);
	m->star = bits;
	m->pct = bits + m->words;
	m->wild = bits + 2 * m->words;
	m->lit = bits + 3 * m->words;
	for (size_t i = 0; i < ntok; i++) {
		unsigned char c = (unsigned char)tok[i];
		if (c == '*') {
			set_bit(m->star, i);
			set_bit(m->wild, i);
		} else if (c == '%') {
			set_bit(m->pct, i);
			set_bit(m->wild, i);
		} else {
			set_bit(m->lit + (size_t)m->cls[c] * m->words, i);
		}
	}
	free(tok);
	return m;
}

void imap_listmatch_free(struct imap_listmatch **pm)
{
	struct imap_listmatch *m = *pm;
	if (!m)
		return;
	free(m->star);
	free(m);
	*pm = NULL;
}

/* v |= (src << 1) over words */
static void or_shifted(uint64_t *v, const uint64_t *src, size_t words)
{
	uint64_t carry = 0;
	for (size_t w = 0; w < words; w++) {
		uint64_t x = src[w];
		v[w] |= (x << 1) | carry;
		carry = x >> 63;
	}
}

static void closure(const struct imap_listmatch *m, uint64_t *d)
{
	uint64_t t[WORDS_MAX];
	for (size_t w = 0; w < m->words; w++)
		t[w] = d[w] & m->wild[w];
	or_shifted(d, t, m->words);
}

bool imap_listmatch(const struct imap_listmatch *m, const char *name, size_t n)
{
	if (m->never)
		return false;
	size_t words = m->words;
	uint64_t d[WORDS_MAX] = { 0 }, next[WORDS_MAX], x[WORDS_MAX];
	d[0] = 1;
	closure(m, d);
	bool inbox = inbox_rooted(name, n);
	for (size_t j = 0; j < n; j++) {
		unsigned char c = (unsigned char)name[j];
		const uint64_t *lit = m->lit + (size_t)m->cls[c] * words;
		const uint64_t *alt = NULL;
		if (inbox && j < 5) {
			/* the INBOX part of the name matches letters in either case */
			unsigned char o = c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A')
				: c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
			alt = m->lit + (size_t)m->cls[o] * words;
		}
		uint64_t any = 0;
		for (size_t w = 0; w < words; w++) {
			x[w] = d[w] & (lit[w] | (alt ? alt[w] : 0));
			next[w] = d[w] & (m->star[w] | (c != '/' ? m->pct[w] : 0));
		}
		or_shifted(next, x, words);
		closure(m, next);
		for (size_t w = 0; w < words; w++) {
			d[w] = next[w];
			any |= d[w];
		}
		if (!any)
			return false;
	}
	size_t last = m->nstates - 1;
	return (d[last / 64] >> (last % 64)) & 1;
}

/* ---- selection -------------------------------------------------------------- */

/* Listing order: INBOX's tree first; '/' sorts before every other octet so a subtree is contiguous. */
static int entry_cmp(const void *pa, const void *pb)
{
	const char *a = ((const struct imap_list_entry *)pa)->name;
	const char *b = ((const struct imap_list_entry *)pb)->name;
	bool ia = inbox_rooted(a, strlen(a)), ib = inbox_rooted(b, strlen(b));
	if (ia != ib)
		return ia ? -1 : 1;
	for (;; a++, b++) {
		unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca != cb) {
			unsigned ka = ca == '/' ? 1 : ca == 0 ? 0 : ca + 1;
			unsigned kb = cb == '/' ? 1 : cb == 0 ? 0 : cb + 1;
			return ka < kb ? -1 : 1;
		}
		if (!ca)
			return 0;
	}
}

/* Whether anc is a proper ancestor of name ("a" of "a/b", not of "ab"). */
static bool is_ancestor(const char *anc, const char *name)
{
	size_t n = strlen(anc);
	return strncmp(anc, name, n) == 0 && name[n] == '/';
}

/* Fold child's findings into its parent (the nearest listed ancestor). */
static void propagate(const struct imap_list_entry *child, struct imap_list_entry *parent, unsigned sel)
{
	bool meets = (!(sel & IMAP_LISTSEL_SUBSCRIBED) || child->subscribed) &&
		     (!(sel & IMAP_LISTSEL_SPECIAL_USE) || child->special_use);
	parent->desc_sel |= child->desc_sel || meets;
	parent->desc_hidden |= child->desc_hidden || (meets && !child->matched);
}

void imap_list_select(struct imap_list_entry *e, size_t n, struct imap_listmatch *const *pats, size_t npats,
		      unsigned sel)
{
	if (n > 1)
		qsort(e, n, sizeof *e, entry_cmp);
	for (size_t i = 0; i < n; i++) {
		e[i].matched = false;
		e[i].desc_sel = e[i].desc_hidden = false;
		size_t len = strlen(e[i].name);
		for (size_t k = 0; k < npats && !e[i].matched; k++)
			e[i].matched = imap_listmatch(pats[k], e[i].name, len);
	}

	bool criteria = sel & (IMAP_LISTSEL_SUBSCRIBED | IMAP_LISTSEL_SPECIAL_USE);
	bool recursive = criteria && (sel & IMAP_LISTSEL_RECURSIVE);
	if (recursive) {
		/*
		 * Descendants before their ancestors are decided: walk in listing
		 * order keeping the chain of ancestors on a stack, and fold each
		 * entry into its parent when the walk leaves its subtree.
		 */
		size_t *stack = xmalloc((n ? n : 1) * sizeof *stack);
		size_t depth = 0;
		for (size_t i = 0; i <= n; i++) {
			while (depth && (i == n || !is_ancestor(e[stack[depth - 1]].name, e[i].name))) {
				depth--;
				if (depth)
					propagate(&e[stack[depth]], &e[stack[depth - 1]], sel);
			}
			if (i < n)
				stack[depth++] = i;
		}
		free(stack);
	}

	for (size_t i = 0; i < n; i++) {
		struct imap_list_entry *x = &e[i];
		bool meets = (!(sel & IMAP_LISTSEL_SUBSCRIBED) || x->subscribed) &&
			     (!(sel & IMAP_LISTSEL_SPECIAL_USE) || x->special_use);
		x->show = x->selected = x->childinfo = false;
		if (!x->matched)
			continue;
		if (meets) {
			x->show = x->selected = true;
			x->childinfo = recursive && x->desc_sel;
		} else if (recursive && x->desc_hidden) {
			x->show = x->childinfo = true;
		}
	}
}
