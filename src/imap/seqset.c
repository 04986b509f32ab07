/*
 * seqset.c — IMAP sequence sets (see seqset.h).
 *
 * The parser keeps '*' symbolic; resolve() pins it to the mailbox as the
 * command finds it, then sorts and merges, so contains() is a binary
 * search and format() prints the shortest form.  Every operation is
 * linear (sort: n log n) in the number of ranges, which is bounded by the
 * length of the text the client sent, never by the numbers it named.
 */
#include "imap/seqset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

/* nz-number (no leading zero, 1..4294967295) or '*'; advances *i. */
static bool seq_number(const char *s, size_t len, size_t *i, uint32_t *out)
{
	if (*i >= len)
		return false;
	if (s[*i] == '*') {
		(*i)++;
		*out = IMAP_SEQ_STAR;
		return true;
	}
	if (s[*i] < '1' || s[*i] > '9')
		return false;
	uint64_t v = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > UINT32_MAX)
			return false;
		(*i)++;
	}
	*out = (uint32_t)v;
	return true;
}

bool imap_seqset_parse(const char *s, size_t len, bool allow_saved, struct imap_seqset *out)
{
	memset(out, 0, sizeof *out);
	if (len == 0)
		return false;
	if (len == 1 && s[0] == '$') {
		if (!allow_saved)
			return false;
		out->saved = true;
		return true;
	}
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',')
			n++;
	/* Each element takes at least one octet plus its comma: n <= len / 2 + 1. */
	struct imap_range *r = xcalloc(n, sizeof *r);
	size_t i = 0, k = 0;
	for (;;) {
		uint32_t lo, hi;
		if (!seq_number(s, len, &i, &lo))
			goto fail;
		hi = lo;
		if (i < len && s[i] == ':') {
			i++;
			if (!seq_number(s, len, &i, &hi))
				goto fail;
		}
		r[k].lo = lo;
		r[k].hi = hi;
		k++;
		if (i == len)
			break;
		if (s[i] != ',' || k == n)
			goto fail;
		i++;
	}
	out->n = k;
	out->r = r;
	return true;
fail:
	free(r);
	return false;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	memset(set, 0, sizeof *set);
}

void imap_seqset_copy(struct imap_seqset *dst, const struct imap_seqset *src)
{
	dst->saved = src->saved;
	dst->n = src->n;
	dst->r = NULL;
	if (src->n) {
		dst->r = xmalloc(src->n * sizeof *dst->r);
		memcpy(dst->r, src->r, src->n * sizeof *dst->r);
	}
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/*
 * With star == 0 (an empty mailbox) a range with a '*' end is dropped: "*"
 * and "1:*" match nothing there.  A range without '*' is kept as it is; it
 * names numbers that do not exist, and the caller decides what that means
 * (BAD for sequence numbers, nothing for UIDs).
 */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	size_t k = 0;
	bool sorted = true;
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo, hi = set->r[i].hi;
		if (lo == IMAP_SEQ_STAR || hi == IMAP_SEQ_STAR) {
			if (star == 0)
				continue;
			if (lo == IMAP_SEQ_STAR)
				lo = star;
			if (hi == IMAP_SEQ_STAR)
				hi = star;
		}
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (k && range_cmp(&set->r[k - 1], &(struct imap_range){ lo, hi }) > 0)
			sorted = false;
		set->r[k].lo = lo;
		set->r[k].hi = hi;
		k++;
	}
	set->n = k;
	if (k == 0) {
		XFREE(&set->r);
		return;
	}
	if (!sorted)
		qsort(set->r, k, sizeof *set->r, range_cmp);
	/* Merge overlapping and adjacent ranges. */
	size_t w = 0;
	for (size_t i = 1; i < k; i++) {
		struct imap_range *last = &set->r[w];
		if ((uint64_t)set->r[i].lo <= (uint64_t)last->hi + 1) {
			if (set->r[i].hi > last->hi)
				last->hi = set->r[i].hi;
		} else {
			set->r[++w] = set->r[i];
		}
	}
	set->n = w + 1;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->n;
	if (v == 0)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static void put_number(struct buf *b, uint32_t v)
{
	if (v == IMAP_SEQ_STAR)
		buf_putc(b, '*');
	else
		buf_printf(b, "%u", v);
}

void imap_seqset_format(const struct imap_seqset *set, struct buf *b)
{
	if (set->saved) {
		buf_putc(b, '$');
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (i)
			buf_putc(b, ',');
		put_number(b, set->r[i].lo);
		if (set->r[i].hi != set->r[i].lo) {
			buf_putc(b, ':');
			put_number(b, set->r[i].hi);
		}
	}
}

void imap_seqset_from_sorted(struct imap_seqset *set, const uint32_t *v, size_t n)
{
	memset(set, 0, sizeof *set);
	if (n == 0)
		return;
	set->r = xmalloc(n * sizeof *set->r);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == 0)
			continue;   /* not a message number; never produced by a sane caller */
		if (k && (uint64_t)v[i] <= (uint64_t)set->r[k - 1].hi + 1) {
			if (v[i] > set->r[k - 1].hi)
				set->r[k - 1].hi = v[i];
			continue;
		}
		set->r[k].lo = set->r[k].hi = v[i];
		k++;
	}
	set->n = k;
	if (k == 0)
		XFREE(&set->r);
}
