/*
 * fuzz_imap_parse.c — the IMAP command parser, sequence sets and modified
 * UTF-7 (src/imap/parse*.c, seqset.c, mutf7.c).
 *
 * The first octet picks the mode and options; the rest is the input.
 *
 *   mode 0/1  a command as the session assembles it: lines are split at
 *             LF, a literal header at a line's end takes the next n octets
 *             of input as the literal's data (out of band, like the
 *             session), imap_parse_literal_is_message() is asked at each
 *             header and a "message" literal may be passed as spooled.
 *             Option bits corrupt the literal table (drop, add, flip kind)
 *             to reach the mismatch paths.  Checks: same answer twice, a
 *             reason on every BAD, a sane tag, and the sets it returns
 *             survive resolve/format/parse.
 *   mode 2    a sequence set: format/parse round trip, resolve invariants.
 *   mode 3    modified UTF-7: decode then encode gives the input back;
 *             encode then decode gives valid UTF-8 input back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mutf7.h"
#include "imap/parse.h"
#include "imap/seqset.h"
#include "lib/buf.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LITS 16

static void check_resolved(const struct imap_seqset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].lo == 0 || s->r[i].lo > s->r[i].hi)
			abort();
		if (i && (uint64_t)s->r[i - 1].hi + 1 >= s->r[i].lo)
			abort();        /* must be sorted, disjoint and merged */
		if (!imap_seqset_contains(s, s->r[i].lo) || !imap_seqset_contains(s, s->r[i].hi))
			abort();
		if (s->r[i].lo > 1 && imap_seqset_contains(s, s->r[i].lo - 1))
			abort();
		if (s->r[i].hi < UINT32_MAX && imap_seqset_contains(s, s->r[i].hi + 1))
			abort();
	}
}

/* A parsed set: format -> parse gives the same ranges; resolve keeps its promises. */
static void check_set(const struct imap_seqset *set, uint32_t star)
{
	struct buf b = BUF_INIT;
	imap_seqset_format(set, &b);
	struct imap_seqset again;
	if (set->saved || set->n) {
		if (!imap_seqset_parse(b.data, b.len, true, &again))
			abort();
		if (again.n != set->n || again.saved != set->saved ||
		    (set->n && memcmp(again.r, set->r, set->n * sizeof *set->r)))
			abort();
		imap_seqset_free(&again);
	}
	struct imap_seqset r;
	imap_seqset_copy(&r, set);
	imap_seqset_resolve(&r, star);
	check_resolved(&r);
	/* the resolved form formats and parses back to itself */
	buf_reset(&b);
	imap_seqset_format(&r, &b);
	if (r.n) {
		if (!imap_seqset_parse(b.data, b.len, false, &again))
			abort();
		imap_seqset_resolve(&again, star);
		if (again.n != r.n || memcmp(again.r, r.r, r.n * sizeof *r.r))
			abort();
		imap_seqset_free(&again);
	}
	imap_seqset_free(&r);
	buf_free(&b);
}

static void fuzz_seqset(const uint8_t *d, size_t n, uint8_t opt)
{
	struct imap_seqset s;
	uint32_t star = opt & 0x20 ? 0 : opt & 0x10 ? UINT32_MAX : (uint32_t)(opt & 0x0f) * 97u + 1;
	if (!imap_seqset_parse((const char *)d, n, opt & 1, &s)) {
		if (s.n || s.r)
			abort();
		return;
	}
	check_set(&s, star);
	/* from_sorted over the resolved set's small values */
	imap_seqset_resolve(&s, star);
	uint32_t v[64];
	size_t k = 0;
	for (size_t i = 0; i < s.n && k < 64; i++)
		for (uint64_t x = s.r[i].lo; x <= s.r[i].hi && k < 64; x++)
			v[k++] = (uint32_t)x;
	struct imap_seqset f;
	imap_seqset_from_sorted(&f, v, k);
	check_resolved(&f);
	for (size_t i = 0; i < k; i++)
		if (!imap_seqset_contains(&f, v[i]))
			abort();
	imap_seqset_free(&f);
	imap_seqset_free(&s);
}

static void fuzz_mutf7(const uint8_t *d, size_t n)
{
	const char *s = (const char *)d;
	struct buf u = BUF_INIT, m = BUF_INIT, back = BUF_INIT;
	if (imap_mutf7_to_utf8(s, n, &u)) {
		/* strict decoding: the one encoding of the result is the input */
		if (!utf8_valid(u.data ? u.data : "", u.len))
			abort();
		imap_utf8_to_mutf7(u.data ? u.data : "", u.len, &m);
		if (m.len != n || (n && memcmp(m.data, s, n)))
			abort();
	} else if (u.len) {
		abort();
	}
	buf_reset(&m);
	imap_utf8_to_mutf7(s, n, &m);
	for (size_t i = 0; i < m.len; i++)
		if ((unsigned char)m.data[i] < 0x20 || (unsigned char)m.data[i] > 0x7e)
			abort();
	if (utf8_valid(s, n) && !memchr(s, '\0', n)) {
		if (!imap_mutf7_to_utf8(m.data ? m.data : "", m.len, &back))
			abort();
		if (back.len != n || (n && memcmp(back.data, s, n)))
			abort();
	}
	buf_free(&u);
	buf_free(&m);
	buf_free(&back);
}

static void check_cmd(const struct imap_cmd *c, uint32_t star)
{
	if (!c->tag[0] || strlen(c->tag) > IMAP_TAG_MAX)
		abort();
	check_set(&c->set, star);
	check_set(&c->qr_known_uids, star);
	for (size_t i = 0; i < c->natts; i++)
		if (!c->atts[i].name || !c->atts[i].name[0] || c->atts[i].nparts > IMAP_SECTION_DEPTH)
			abort();
	if (c->type == IMAP_CMD_SEARCH && (!c->search || c->search->type != SK_AND || !c->search->child))
		abort();
	if (c->type == IMAP_CMD_APPEND && (!c->append.n || c->append.n > IMAP_APPEND_MAX_MESSAGES))
		abort();
	for (size_t i = 0; i < c->append.n; i++) {
		const struct imap_append_msg *m = &c->append.msgs[i];
		if (!m->keywords || (!m->msg) == (m->nparts == 0) || m->nparts > IMAP_CATENATE_MAX_PARTS)
			abort();
		for (size_t j = 0; j < m->nparts; j++)
			if (!m->parts[j].text && !m->parts[j].url.p)
				abort();
	}
	if (c->type == IMAP_CMD_STORE && !c->keywords)
		abort();
	for (size_t i = 0; i < c->natoms; i++)
		if (!c->atoms[i].p)
			abort();
	for (size_t i = 0; i < c->npatterns; i++)
		if (!c->patterns[i].p)
			abort();
}

static void fuzz_command(const uint8_t *d, size_t n, uint8_t opt)
{
	/* Assemble like the session: text lines, literal octets out of band. */
	char *text = malloc(n + 1);
	char *litdata = malloc(n + 1);
	struct imap_literal lits[MAX_LITS + 1];
	size_t tlen = 0, dlen = 0, nlits = 0, offs[MAX_LITS + 1];
	size_t i = 0;
	while (i < n) {
		const uint8_t *nl = memchr(d + i, '\n', n - i);
		size_t llen = nl ? (size_t)(nl - (d + i)) : n - i;
		memcpy(text + tlen, d + i, llen);
		size_t line_start = tlen;
		tlen += llen;
		i += llen;
		if (!nl)
			break;
		i++;
		uint64_t sz;
		bool nonsync, binary, bad;
		if (!imap_parse_literal_header(text + line_start, llen, &sz, &nonsync, &binary, &bad) ||
		    nlits == MAX_LITS) {
			text[tlen++] = '\n';
			continue;
		}
		bool message = imap_parse_literal_is_message(text, tlen);
		text[tlen++] = '\n';
		size_t take = sz < n - i ? (size_t)sz : n - i;
		memcpy(litdata + dlen, d + i, take);
		offs[nlits] = dlen;
		lits[nlits] = (struct imap_literal){ .len = take, .fd = -1, .binary = binary };
		if (message && (opt & 0x02)) {
			lits[nlits].fd = 1000;      /* "spooled": never read by the parser */
			lits[nlits].path = "/nonexistent";
		}
		nlits++;
		dlen += take;
		i += take;
	}
	/* The session's line ends are CRLF; option 0x04 keeps the bare LFs. */
	char *crlf = malloc(2 * tlen + 1);
	size_t clen = 0;
	for (size_t k = 0; k < tlen; k++) {
		if (text[k] == '\n' && !(opt & 0x04))
			crlf[clen++] = '\r';
		crlf[clen++] = text[k];
	}
	/* Pointers only now that litdata is complete. */
	for (size_t k = 0; k < nlits; k++)
		lits[k].data = lits[k].fd >= 0 ? NULL : litdata + offs[k];
	if ((opt & 0x08) && nlits)
		nlits--;                                   /* one literal missing */
	if ((opt & 0x10) && nlits < MAX_LITS + 1)
		lits[nlits++] = (struct imap_literal){ .data = "x", .len = 1, .fd = -1 };   /* one extra */
	if ((opt & 0x20) && nlits)
		lits[0].binary = !lits[0].binary;

	bool utf8 = opt & 0x01;
	struct imap_cmd a, b;
	const char *ea, *eb;
	enum imap_parse_result ra = imap_parse(crlf, clen, lits, nlits, utf8, &a, &ea);
	enum imap_parse_result rb = imap_parse(crlf, clen, lits, nlits, utf8, &b, &eb);
	if (ra != rb || (ea != eb))
		abort();
	if (ra == IMAP_PARSE_OK) {
		if (a.type != b.type || strcmp(a.tag, b.tag))
			abort();
		check_cmd(&a, (uint32_t)n);
	} else if (!ea || !ea[0]) {
		abort();
	}
	char tag[IMAP_TAG_MAX + 1];
	imap_parse_tag(crlf, clen, tag);
	if (!tag[0] || strlen(tag) > IMAP_TAG_MAX)
		abort();
	imap_cmd_free(&a);
	imap_cmd_free(&b);
	imap_cmd_free(&a);          /* twice is harmless */
	free(crlf);
	free(text);
	free(litdata);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	/* A private copy of exactly the input, so ASan sees any read past the end. */
	size_t n = size - 1;
	uint8_t *d = malloc(n ? n : 1);
	memcpy(d, data + 1, n);
	switch (opt >> 6) {
	case 0:
	case 1:
		fuzz_command(d, n, opt);
		break;
	case 2:
		fuzz_seqset(d, n, opt);
		break;
	case 3:
		fuzz_mutf7(d, n);
		break;
	}
	free(d);
	return 0;
}
