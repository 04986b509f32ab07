/*
 * dkim_canon.c — canonicalisation (RFC 6376 §3.4), the streaming body
 * hash with l=, the header section collected as a message streams in,
 * and the header hash of §3.7.
 *
 * The body canonicaliser is a small state machine over octets, so the
 * hash is the same however the body is cut into pieces (SMTP DATA
 * arrives in whatever reads the socket gives): trailing empty lines are
 * held back as a count until content shows they were not trailing, and
 * relaxed whitespace as a flag until a non-space shows it was not at the
 * end of a line.  Nothing but a 4 KiB staging buffer is kept.
 */
#include "mailauth/dkim_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/address.h"
#include "mail/header.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

void dkim_canon_header(enum dkim_canon c, const char *field, size_t n, struct buf *out)
{
	if (c == DKIM_CANON_SIMPLE) {
		buf_append(out, field, n);
		buf_append(out, "\r\n", 2);
		return;
	}
	const char *colon = memchr(field, ':', n);
	size_t nl = colon ? (size_t)(colon - field) : n;
	size_t ne = nl;
	while (ne > 0 && (is_wsp(field[ne - 1]) || field[ne - 1] == '\r' || field[ne - 1] == '\n'))
		ne--;
	buf_reserve(out, n + 3);
	for (size_t i = 0; i < ne; i++) {
		char ch = field[i];
		buf_putc(out, (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch);
	}
	buf_putc(out, ':');
	bool emitted = false, space = false;
	for (size_t i = nl + 1; i < n; i++) {
		char ch = field[i];
		if (ch == '\r' || ch == '\n')
			continue;               /* unfolding */
		if (is_wsp(ch)) {
			space = emitted;
			continue;
		}
		if (space)
			buf_putc(out, ' ');
		space = false;
		buf_putc(out, ch);
		emitted = true;
	}
	buf_append(out, "\r\n", 2);
}

/* ---- body ---------------------------------------------------------------- */

bool dkim_body_init(struct dkim_body *b, enum dkim_canon c, uint64_t limit)
{
	memset(b, 0, sizeof *b);
	b->canon = c;
	b->limit = limit;
	b->md = EVP_MD_CTX_new();
	if (!b->md || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(b->md);
		b->md = NULL;
		return false;
	}
	return true;
}

static void body_flush(struct dkim_body *b)
{
	if (b->outlen && b->md)
		EVP_DigestUpdate(b->md, b->out, b->outlen);
	b->outlen = 0;
}

/* Canonical output, cut at l=. */
static void body_put(struct dkim_body *b, const char *p, size_t n)
{
	b->any = true;
	uint64_t room = b->limit - b->hashed;
	if (n > room)
		n = (size_t)room;
	b->hashed += n;
	while (n) {
		if (b->outlen == sizeof b->out)
			body_flush(b);
		size_t take = sizeof b->out - b->outlen;
		if (take > n)
			take = n;
		memcpy(b->out + b->outlen, p, take);
		b->outlen += take;
		p += take;
		n -= take;
	}
}

/* A content octet of the current line: the held-back empty lines and space were not trailing. */
static void body_content(struct dkim_body *b, char c)
{
	for (; b->empty_lines; b->empty_lines--)
		body_put(b, "\r\n", 2);
	if (b->wsp) {
		body_put(b, " ", 1);
		b->wsp = false;
	}
	body_put(b, &c, 1);
	b->line_content = true;
}

static void body_eol(struct dkim_body *b)
{
	b->wsp = false;
	if (b->line_content)
		body_put(b, "\r\n", 2);
	else
		b->empty_lines++;
	b->line_content = false;
}

void dkim_body_feed(struct dkim_body *b, const char *p, size_t n)
{
	bool relaxed = b->canon == DKIM_CANON_RELAXED;
	for (size_t i = 0; i < n; i++) {
		/* The common case in one copy: a run inside a line with nothing held back. */
		if (!b->cr && !b->wsp && b->empty_lines == 0) {
			size_t j = i;
			while (j < n && p[j] != '\r' && !(relaxed && is_wsp(p[j])))
				j++;
			if (j > i) {
				body_put(b, p + i, j - i);
				b->line_content = true;
				i = j - 1;
				continue;
			}
		}
		char c = p[i];
		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				body_eol(b);
				continue;
			}
			body_content(b, '\r');  /* a CR that ends no line is content */
		}
		if (c == '\r') {
			b->cr = true;
		} else if (relaxed && is_wsp(c)) {
			/* A run is one space, and none at the end of a line (§3.4.4). */
			b->wsp = true;
		} else {
			body_content(b, c);
		}
	}
}

void dkim_body_final(struct dkim_body *b, uint8_t md[64], size_t *len)
{
	if (b->cr) {
		b->cr = false;
		body_content(b, '\r');
	}
	if (b->line_content)
		body_eol(b);    /* a last line without CRLF gets one */
	if (b->canon == DKIM_CANON_SIMPLE && !b->any)
		body_put(b, "\r\n", 2);     /* an empty body is one CRLF (§3.4.3) */
	body_flush(b);
	unsigned int l = 0;
	if (b->md)
		EVP_DigestFinal_ex(b->md, md, &l);
	*len = l;
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
}

void dkim_body_free(struct dkim_body *b)
{
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
}

/* ---- header section ------------------------------------------------------- */

size_t dkim_headers_feed(struct dkim_headers *h, const char *p, size_t n)
{
	if (h->done)
		return 0;
	if (h->raw.len == 0 && h->match == 0)
		h->match = 2;   /* the start counts as after a CRLF: a message may begin with its empty line */
	size_t i = 0;
	while (i < n && !h->done) {
		char c = p[i++];
		if (c == '\r')
			h->match = h->match == 2 ? 3 : 1;
		else if (c == '\n' && h->match == 1)
			h->match = 2;
		else if (c == '\n' && h->match == 3)
			h->done = true;
		else
			h->match = 0;
	}
	if (h->raw.len + i > DKIM_MAX_HEADER)
		h->overflow = true;
	if (!h->overflow)
		buf_append(&h->raw, p, i);
	return i;
}

bool dkim_headers_take(struct dkim_headers *h, const char **p, size_t *n)
{
	size_t used = dkim_headers_feed(h, *p, *n);
	*p += used;
	*n -= used;
	return h->done;
}

static void add_field(struct dkim_headers *h, size_t off, size_t len)
{
	if (h->nfields == DKIM_MAX_FIELDS) {
		h->overflow = true;
		return;
	}
	if (h->nfields == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->fields = xrealloc(h->fields, h->cap * sizeof *h->fields);
	}
	const char *f = h->raw.data + off;
	const char *colon = memchr(f, ':', len);
	size_t nl = 0;
	if (colon) {
		nl = (size_t)(colon - f);
		while (nl > 0 && is_wsp(f[nl - 1]))
			nl--;
	}
	h->fields[h->nfields++] = (struct dkim_field){ .off = off, .len = len, .name_len = nl };
}

void dkim_headers_split(struct dkim_headers *h)
{
	const char *p = h->raw.data;
	size_t n = h->raw.len, i = 0;
	size_t start = 0, end = 0;
	bool open = false;
	h->nfields = 0;
	while (i < n) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t le = lf ? (size_t)(lf - p) : n;         /* index of LF or n */
		size_t ce = (le > i && p[le - 1] == '\r') ? le - 1 : le;   /* content end */
		if (ce == i && lf)
			break;      /* the empty line */
		if (open && is_wsp(p[i])) {
			end = ce;
		} else {
			if (open)
				add_field(h, start, end - start);
			start = i;
			end = ce;
			open = true;
		}
		i = lf ? le + 1 : n;
	}
	if (open)
		add_field(h, start, end - start);
}

void dkim_headers_free(struct dkim_headers *h)
{
	buf_free(&h->raw);
	free(h->fields);
	h->fields = NULL;
	h->nfields = h->cap = 0;
}

bool dkim_field_is(const struct dkim_headers *h, const struct dkim_field *f, const char *name, size_t n)
{
	return f->name_len == n && strncasecmp(h->raw.data + f->off, name, n) == 0;
}

void dkim_header_hash(const struct dkim_headers *h, enum dkim_canon c, const char names[][DKIM_MAX_HNAME],
		      size_t nnames, const char *sigfield, size_t siglen, size_t sig_b_start, size_t sig_b_end,
		      uint8_t md[32])
{
	struct buf data = BUF_INIT;
	bool *used = xcalloc(h->nfields ? h->nfields : 1, sizeof *used);
	for (size_t k = 0; k < nnames; k++) {
		size_t nl = strlen(names[k]);
		for (size_t j = h->nfields; j > 0; j--) {
			const struct dkim_field *f = &h->fields[j - 1];
			if (!used[j - 1] && dkim_field_is(h, f, names[k], nl)) {
				used[j - 1] = true;
				dkim_canon_header(c, h->raw.data + f->off, f->len, &data);
				break;
			}
		}
		/* A name with no (more) instances signs nothing: that is how oversigning works. */
	}
	free(used);
	struct buf sig = BUF_INIT;
	buf_append(&sig, sigfield, sig_b_start);
	buf_append(&sig, sigfield + sig_b_end, siglen - sig_b_end);
	dkim_canon_header(c, sig.data, sig.len, &data);
	buf_free(&sig);
	data.len -= 2;      /* the signature field goes without its CRLF */
	unsigned int l;
	EVP_Digest(data.data, data.len, md, &l, EVP_sha256(), NULL);
	buf_free(&data);
}

/*
 * The domain of the single From field's first address, lower case (RFC 7489
 * §6.6.1: no From, or several, and there is no author domain to speak of).
 */
bool dkim_headers_from_domain(const struct dkim_headers *h, char *out, size_t size)
{
	if (h->overflow)
		return false;
	const struct dkim_field *from = NULL;
	for (size_t i = 0; i < h->nfields; i++) {
		if (dkim_field_is(h, &h->fields[i], "From", 4)) {
			if (from)
				return false;   /* two From fields: whose domain would it be? */
			from = &h->fields[i];
		}
	}
	if (!from)
		return false;
	const char *f = h->raw.data + from->off;
	const char *colon = memchr(f, ':', from->len);
	struct buf v = BUF_INIT;
	mail_hdr_unfold(&v, colon + 1, from->len - (size_t)(colon + 1 - f));
	struct mail_address *list = mail_address_parse(v.data ? v.data : "", v.len);
	buf_free(&v);
	bool ok = false;
	for (struct mail_address *a = list; a && !ok; a = a->next) {
		if (!a->mailbox || !a->domain || a->invalid)
			continue;
		size_t n = strlen(a->domain);
		if (n == 0 || n >= size || n > 253)
			break;
		ok = true;
		for (size_t i = 0; i < n && ok; i++) {
			char c = a->domain[i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
			out[i] = c;
		}
		out[n] = '\0';
		break;      /* the first address is the author that counts */
	}
	mail_address_free(&list);
	return ok;
}
