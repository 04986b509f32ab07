/*
 * search.c — evaluation of an IMAP SEARCH key tree (search.h) against one
 * message at a time, for searchcmd.c.
 *
 * Metadata keys (flags, keywords, dates, sizes, sets, MODSEQ) read the
 * index row only.  Text keys read the raw message through the caller's
 * accessor, mapped at most once per message:
 *
 *   FROM TO CC BCC SUBJECT HEADER  every occurrence of the named field in
 *                                  the top-level header, unfolded and RFC
 *                                  2047-decoded;
 *   BODY                           every text/... leaf part (those inside
 *                                  message/rfc822 parts included), decoded
 *                                  from base64/quoted-printable and from its
 *                                  charset to UTF-8; preamble, epilogue and
 *                                  non-text parts are never looked at;
 *   TEXT                           "Name: value" of every field (decoded as
 *                                  above) of the top-level header, of each
 *                                  part's MIME header and of each embedded
 *                                  message's header; or BODY.
 *
 * A message is first evaluated on its index row alone, text keys taken
 * as unknown (three-valued logic); only when that leaves the answer open
 * is the text read, and then an AND tests metadata keys before nested
 * lists before text keys.  The result is what plain evaluation gives.
 *
 * Comparison is substring search after Unicode full case folding
 * (libunistring u8_casefold) of both sides; the needle is folded once per
 * command by imap_search_prepare() and kept in the key's private cache.
 * Everything built for one message (the MIME tree, the folded header and
 * body) lives in a struct search_ctx for the one imap_search_match() call
 * and is bounded by a small constant times the message size.
 *
 * Dates: BEFORE/ON/SINCE compare the calendar day of INTERNALDATE in UTC;
 * SENTBEFORE/SENTON/SENTSINCE the calendar day of the Date: header as
 * written, in its own zone (RFC 9051 §6.4.4): the index keeps Unix time,
 * so the zone is read again from the date string of the stored ENVELOPE.
 * A message without a usable Date: (sent_date 0) matches no SENT* key.
 */
#include "imap/search.h"
#include "mail/date.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/address.h"
#include "mail/charset.h"
#include "mail/cte.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/mimeparam.h"
#include "mail/rfc2047.h"
#include "store/keywords.h"

/*
 * A key's nesting below the root AND.  The parser allows
 * IMAP_SEARCH_MAX_DEPTH levels; anything deeper (a tree built by other
 * means) is not evaluated and does not match.
 */
#define SEARCH_DEPTH_LIMIT (IMAP_SEARCH_MAX_DEPTH + 1)

/*
 * The private cache of a text key: its case-folded needle, in one
 * allocation so that imap_skey_free() releases it with free().
 */
struct skey_cache {
	size_t len;             /* folded[0..len), NUL-terminated */
	char folded[];
};

/* Kleene's three-valued logic: the metadata pass leaves text keys UNKNOWN. */
enum tri { TRI_FALSE, TRI_TRUE, TRI_UNKNOWN };

/* What one message's evaluation has built so far (lazily). */
struct search_ctx {
	const struct imap_search_msg *msg;
	bool text_tried;
	const char *text;       /* NULL: unreadable */
	size_t len;
	bool mime_parsed;
	struct mail_mime mime;  /* the MIME tree, parsed at most once */
	bool header_built;
	struct buf header;      /* TEXT: folded "name: value" per top-level field, NUL-separated */
	bool subheaders_built;
	struct buf subheaders;  /* TEXT: the same for every part's MIME header and embedded messages' headers */
	bool body_built;
	struct buf body;        /* BODY: folded text parts, NUL-separated */
};

/* ---- case folding ------------------------------------------------------- */

/*
 * Append the Unicode case fold of s[0..n) (well-formed UTF-8) to out.  A
 * pure ASCII run folds to its lower case, which is what u8_casefold()
 * would do, only faster; that is the common case for bodies.
 */
static void fold_append(struct buf *out, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (is_ascii(s, n)) {
		buf_reserve(out, n);
		char *d = out->data + out->len;
		for (size_t i = 0; i < n; i++) {
			char c = s[i];
			d[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		out->len += n;
		out->data[out->len] = '\0';
		return;
	}
	size_t rl = 0;
	uint8_t *r = u8_casefold((const uint8_t *)s, n, NULL, NULL, NULL, &rl);
	if (!r) {
		/* EILSEQ cannot happen on the lossy-converted input this gets; be safe anyway. */
		struct buf tmp = BUF_INIT;
		mail_utf8_append_lossy(&tmp, s, n);
		r = u8_casefold((const uint8_t *)buf_cstr(&tmp), tmp.len, NULL, NULL, NULL, &rl);
		if (!r)
			buf_append(out, tmp.data ? tmp.data : "", tmp.len);
		buf_free(&tmp);
		if (!r)
			return;
	}
	buf_append(out, r, rl);
	free(r);
}

/* The folded form of a needle as typed: lossy UTF-8 first, so folding cannot fail on it. */
static void fold_needle(struct buf *out, const char *s)
{
	struct buf u = BUF_INIT;
	if (s)
		mail_utf8_append_lossy(&u, s, strlen(s));
	fold_append(out, u.data ? u.data : "", u.len);
	buf_free(&u);
}

static bool contains(const struct buf *hay, const struct buf *needle)
{
	if (needle->len == 0)
		return true;
	return hay->len >= needle->len && memmem(hay->data, hay->len, needle->data, needle->len) != NULL;
}

/* ---- key classes ------------------------------------------------------- */

static bool is_text_key(enum imap_skey_type t)
{
	switch (t) {
	case SK_HEADER:
	case SK_FROM:
	case SK_TO:
	case SK_CC:
	case SK_BCC:
	case SK_SUBJECT:
	case SK_BODY:
	case SK_TEXT:
		return true;
	default:
		return false;
	}
}

static bool is_compound(enum imap_skey_type t)
{
	return t == SK_AND || t == SK_OR || t == SK_NOT;
}

static bool list_needs_text(const struct imap_skey *k, unsigned depth)
{
	for (; k; k = k->next) {
		if (is_text_key(k->type))
			return true;
		if (is_compound(k->type) && depth < SEARCH_DEPTH_LIMIT && list_needs_text(k->child, depth + 1))
			return true;
	}
	return false;
}

bool imap_search_needs_text(const struct imap_skey *k)
{
	return list_needs_text(k, 0);
}

/* ---- prepare ----------------------------------------------------------- */

static struct skey_cache *cache_new(const char *folded, size_t len)
{
	struct skey_cache *c = xmalloc(sizeof *c + len + 1);
	c->len = len;
	if (len)
		memcpy(c->folded, folded, len);
	c->folded[len] = '\0';
	return c;
}

static void prepare_list(struct imap_skey *k, uint32_t max_seq, uint32_t max_uid,
			 const struct imap_seqset *saved, unsigned depth)
{
	for (; k; k = k->next) {
		switch (k->type) {
		case SK_SEQSET:
		case SK_UID:
			if (k->set.saved) {
				/*
				 * "$" is always the saved UIDs (RFC 5182 §2.1), whichever key
				 * it stood in: the key becomes a UID key over them.  Referred
				 * to, not copied: a search may hold a thousand "$" keys, and
				 * the saved set is already resolved.
				 */
				imap_seqset_free(&k->set);
				memset(&k->set, 0, sizeof k->set);
				k->saved_set = saved;
				k->type = SK_UID;
			} else {
				imap_seqset_resolve(&k->set, k->type == SK_SEQSET ? max_seq : max_uid);
			}
			break;
		default:
			break;
		}
		if (is_compound(k->type) && depth < SEARCH_DEPTH_LIMIT)
			prepare_list(k->child, max_seq, max_uid, saved, depth + 1);

		if (is_text_key(k->type)) {
			struct buf f = BUF_INIT;
			fold_needle(&f, k->str);
			free(k->cache);
			k->cache = cache_new(f.data, f.len);
			buf_free(&f);
		}
	}
}

void imap_search_prepare(struct imap_skey *k, uint32_t max_seq, uint32_t max_uid,
			 const struct imap_seqset *saved_uids)
{
	prepare_list(k, max_seq, max_uid, saved_uids, 0);
}

/* The folded needle of a text key: from the cache, or folded now into tmp (unprepared tree). */
static const struct buf *needle_of(const struct imap_skey *k, struct buf *tmp)
{
	const struct skey_cache *c = k->cache;
	if (c) {
		tmp->data = (char *)c->folded;
		tmp->len = c->len;
		tmp->cap = 0;   /* borrowed: never freed */
		return tmp;
	}
	fold_needle(tmp, k->str);
	return tmp;
}

static void needle_done(const struct imap_skey *k, struct buf *tmp)
{
	if (!k->cache)
		buf_free(tmp);
}

/* ---- the message text -------------------------------------------------- */

static const char *ctx_text(struct search_ctx *c, size_t *len)
{
	if (!c->text_tried) {
		c->text_tried = true;
		c->text = NULL;
		c->len = 0;
		if (c->msg->text)
			c->text = c->msg->text(c->msg->arg, &c->len);
		if (!c->text)
			c->len = 0;
	}
	*len = c->len;
	return c->text;
}

/* Append the unfolded, RFC 2047-decoded, case-folded value of f to out. */
static void field_folded(struct buf *out, const struct mail_hdr_field *f)
{
	struct buf raw = BUF_INIT, dec = BUF_INIT;
	mail_hdr_unfold(&raw, f->value, f->value_len);
	mail_rfc2047_decode(&dec, raw.data ? raw.data : "", raw.len);
	fold_append(out, dec.data ? dec.data : "", dec.len);
	buf_free(&raw);
	buf_free(&dec);
}

/* Whether some field named name in the top-level header contains needle. */
static bool header_field_match(struct search_ctx *c, const char *name, const struct buf *needle)
{
	size_t len;
	const char *text = ctx_text(c, &len);
	if (!text || !name)
		return false;
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	struct buf v = BUF_INIT;
	bool hit = false;
	mail_hdr_iter_init(&it, text, len);
	while (!hit && mail_hdr_next(&it, &f)) {
		if (!mail_hdr_is(&f, name))
			continue;
		buf_reset(&v);
		field_folded(&v, &f);
		hit = contains(&v, needle);
	}
	buf_free(&v);
	return hit;
}

/*
 * FROM, TO, CC, BCC: the field's text, or failing that one of its
 * addresses written plainly ("name local@domain"), so that comments and
 * odd spacing inside an address (<user (c)@ (c) domain.org>) do not hide
 * it, as Dovecot and imaptest's search-addresses have it.
 */
static bool address_field_match(struct search_ctx *c, const char *name, const struct buf *needle)
{
	if (header_field_match(c, name, needle))
		return true;
	size_t len;
	const char *text = ctx_text(c, &len);
	if (!text)
		return false;
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	struct buf raw = BUF_INIT, v = BUF_INIT, dec = BUF_INIT;
	bool hit = false;
	mail_hdr_iter_init(&it, text, len);
	while (!hit && mail_hdr_next(&it, &f)) {
		if (!mail_hdr_is(&f, name))
			continue;
		buf_reset(&raw);
		mail_hdr_unfold(&raw, f.value, f.value_len);
		struct mail_address *list = mail_address_parse(raw.data ? raw.data : "", raw.len);
		for (struct mail_address *a = list; a && !hit; a = a->next) {
			buf_reset(&v);
			if (a->name) {
				buf_reset(&dec);
				mail_rfc2047_decode(&dec, a->name, strlen(a->name));
				fold_append(&v, dec.data ? dec.data : "", dec.len);
				buf_putc(&v, ' ');
			}
			if (a->mailbox && a->domain) {
				fold_append(&v, a->mailbox, strlen(a->mailbox));
				buf_putc(&v, '@');
				fold_append(&v, a->domain, strlen(a->domain));
			}
			hit = contains(&v, needle);
		}
		mail_address_free(&list);
	}
	buf_free(&raw);
	buf_free(&v);
	buf_free(&dec);
	return hit;
}

/* Append every field of the header block h[0..n) as folded "name: value", NUL-separated. */
static void fields_folded(struct buf *out, const char *h, size_t n)
{
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	struct buf name = BUF_INIT;
	mail_hdr_iter_init(&it, h, n);
	while (mail_hdr_next(&it, &f)) {
		buf_reset(&name);
		mail_utf8_append_lossy(&name, f.name, f.name_len);
		buf_puts(&name, ": ");
		fold_append(out, name.data, name.len);
		field_folded(out, &f);
		buf_putc(out, '\0');
	}
	buf_free(&name);
}

/* TEXT's view of the top-level header (no MIME parse needed). */
static const struct buf *ctx_header(struct search_ctx *c)
{
	if (!c->header_built) {
		c->header_built = true;
		size_t len;
		const char *text = ctx_text(c, &len);
		if (text)
			fields_folded(&c->header, text, len);
	}
	return &c->header;
}

static const struct mail_mime *ctx_mime(struct search_ctx *c)
{
	if (!c->mime_parsed) {
		c->mime_parsed = true;
		size_t len;
		const char *text = ctx_text(c, &len);
		mail_mime_parse(text ? text : "", text ? len : 0, &c->mime);
	}
	return &c->mime;
}

/*
 * TEXT's view of the other header blocks: each body part's MIME header and
 * each embedded message's header ("the header (including MIME header
 * fields)", RFC 9051).
 */
static const struct buf *ctx_subheaders(struct search_ctx *c)
{
	if (c->subheaders_built)
		return &c->subheaders;
	c->subheaders_built = true;
	size_t len;
	const char *text = ctx_text(c, &len);
	if (!text)
		return &c->subheaders;
	const struct mail_mime *m = ctx_mime(c);
	for (size_t i = 1; i < m->nparts; i++) {
		const struct mail_part *p = &m->parts[i];
		if (p->hdr_start < p->body_start && p->body_start <= len)
			fields_folded(&c->subheaders, text + p->hdr_start, p->body_start - p->hdr_start);
	}
	return &c->subheaders;
}

/*
 * Whether part p is text to search, and its charset (copied into cs).
 * Unknown or unusable Content-Types were made text/plain by the parser;
 * parts kept opaque past the limits are not text.
 */
static bool part_is_text(const char *msg, const struct mail_part *p, char *cs, size_t cssize)
{
	snprintf(cs, cssize, "us-ascii");
	if (p->kind != MAIL_PART_LEAF)
		return false;
	if (p->ctype_src == MAIL_CTYPE_OPAQUE || p->ctype_src == MAIL_CTYPE_DIGEST)
		return false;
	if (!p->ctype.present)
		return p->ctype_src == MAIL_CTYPE_TEXT;
	struct buf v = BUF_INIT;
	char *type = NULL, *subtype = NULL;
	struct mail_params params = { 0 };
	mail_hdr_unfold(&v, msg + p->ctype.off, p->ctype.len);
	bool parsed = mail_content_type_parse(buf_cstr(&v), v.len, &type, &subtype, &params);
	bool text = p->ctype_src == MAIL_CTYPE_TEXT;
	if (parsed) {
		if (p->ctype_src == MAIL_CTYPE_GIVEN)
			text = ascii_ieq(type, strlen(type), "text");
		const struct mail_param *ch = mail_params_get(&params, "charset");
		if (ch && ch->value_len > 0 && ch->value_len < cssize && !memchr(ch->value, '\0', ch->value_len))
			snprintf(cs, cssize, "%s", ch->value);
	}
	free(type);
	free(subtype);
	mail_params_free(&params);
	buf_free(&v);
	return text;
}

/* BODY's view: the text parts, decoded, converted to UTF-8, folded, NUL-separated. */
static const struct buf *ctx_body(struct search_ctx *c)
{
	if (c->body_built)
		return &c->body;
	c->body_built = true;
	size_t len;
	const char *text = ctx_text(c, &len);
	if (!text)
		return &c->body;
	const struct mail_mime *m = ctx_mime(c);
	struct buf dec = BUF_INIT, utf = BUF_INIT;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mail_part *p = &m->parts[i];
		char cs[MAIL_CHARSET_NAME_MAX + 1];
		if (!part_is_text(text, p, cs, sizeof cs) || p->body_end <= p->body_start || p->body_end > len)
			continue;
		buf_reset(&dec);
		buf_reset(&utf);
		mail_cte_decode(p->cte, text + p->body_start, p->body_end - p->body_start, &dec);
		mail_charset_to_utf8(&utf, cs, strlen(cs), dec.data ? dec.data : "", dec.len);
		fold_append(&c->body, utf.data ? utf.data : "", utf.len);
		buf_putc(&c->body, '\0');
	}
	buf_free(&dec);
	buf_free(&utf);
	return &c->body;
}

/* ---- evaluation -------------------------------------------------------- */

static int64_t day_of(int64_t t)
{
	int64_t d = t / 86400;
	if (t % 86400 < 0)
		d--;
	return d;
}

/*
 * The day of the Date: header as written: its zone from the ENVELOPE's
 * first field ("(\"Sat, 24 Mar 2007 23:00:00 +0200\" ..."), else UTC.
 */
static int64_t sent_day(const struct store_message_data *m)
{
	const char *e = m->envelope;
	int zone = 0;
	if (e && e[0] == '(' && e[1] == '"') {
		char date[256];
		size_t n = 0;
		for (const char *p = e + 2; *p && *p != '"' && n < sizeof date - 1; p++) {
			if (*p == '\\' && p[1])
				p++;
			date[n++] = *p;
		}
		int64_t t;
		if (!mail_date_parse_zone(date, n, &t, &zone) || t != m->sent_date)
			zone = 0;
	}
	return day_of(m->sent_date + (int64_t)zone * 60);
}

static bool text_key_match(const struct imap_skey *k, struct search_ctx *c)
{
	struct buf tmp = BUF_INIT;
	const struct buf *needle = needle_of(k, &tmp);
	size_t len;
	bool hit = false;
	if (!ctx_text(c, &len)) {
		needle_done(k, &tmp);
		return false;
	}
	switch (k->type) {
	case SK_HEADER:
		hit = header_field_match(c, k->field, needle);
		break;
	case SK_FROM:
		hit = address_field_match(c, "from", needle);
		break;
	case SK_TO:
		hit = address_field_match(c, "to", needle);
		break;
	case SK_CC:
		hit = address_field_match(c, "cc", needle);
		break;
	case SK_BCC:
		hit = address_field_match(c, "bcc", needle);
		break;
	case SK_SUBJECT:
		hit = header_field_match(c, "subject", needle);
		break;
	case SK_BODY:
		hit = contains(ctx_body(c), needle);
		break;
	case SK_TEXT:
		hit = contains(ctx_header(c), needle) || contains(ctx_body(c), needle) ||
		      contains(ctx_subheaders(c), needle);
		break;
	default:
		break;
	}
	needle_done(k, &tmp);
	return hit;
}

/* The keys that read only the index row (not AND/OR/NOT, not text). */
static bool eval_meta_leaf(const struct imap_skey *k, const struct imap_search_msg *msg)
{
	const struct store_message_data *m = msg->m;
	switch (k->type) {
	case SK_ALL:
		return true;
	case SK_OLD:
		return !msg->recent;
	case SK_NEW:
		return msg->recent && !(m->flags & STORE_FLAG_SEEN);
	case SK_RECENT:
		return msg->recent;
	case SK_SEQSET:
		return !k->set.saved && imap_seqset_contains(&k->set, msg->seq);
	case SK_UID:
		return k->saved_set ? imap_seqset_contains(k->saved_set, m->uid)
				    : !k->set.saved && imap_seqset_contains(&k->set, m->uid);
	case SK_FLAG:
		return k->flag && (m->flags & k->flag) == k->flag;
	case SK_UNFLAG:
		return !(k->flag && (m->flags & k->flag) == k->flag);
	case SK_KEYWORD:
		return k->str && store_kw_has(m->keywords, k->str, strlen(k->str));
	case SK_UNKEYWORD:
		return !(k->str && store_kw_has(m->keywords, k->str, strlen(k->str)));
	case SK_BEFORE:
		return day_of(m->internaldate) < k->date;
	case SK_ON:
		return day_of(m->internaldate) == k->date;
	case SK_SINCE:
		return day_of(m->internaldate) >= k->date;
	case SK_SENTBEFORE:
		return m->sent_date != 0 && sent_day(m) < k->date;
	case SK_SENTON:
		return m->sent_date != 0 && sent_day(m) == k->date;
	case SK_SENTSINCE:
		return m->sent_date != 0 && sent_day(m) >= k->date;
	case SK_LARGER:
		return m->size > k->num;
	case SK_SMALLER:
		return m->size < k->num;
	case SK_MODSEQ:
		return m->modseq >= k->num;
	default:
		return false;
	}
}

/* Nodes past the depth limit (only a tree not made by the parser has them) do not match. */
static bool too_deep(const struct imap_skey *k, unsigned depth)
{
	return depth > SEARCH_DEPTH_LIMIT || (is_compound(k->type) && depth >= SEARCH_DEPTH_LIMIT);
}

/*
 * The first pass: the tree evaluated on the index row alone, text keys
 * UNKNOWN.  When the answer does not depend on them (most messages, for a
 * search that combines flags or dates with text) it is final and the
 * message text is never read.  Linear in the number of keys.
 */
static enum tri eval_meta(const struct imap_skey *k, const struct imap_search_msg *msg, unsigned depth)
{
	if (too_deep(k, depth))
		return TRI_FALSE;
	if (is_text_key(k->type))
		return TRI_UNKNOWN;
	enum tri r;
	switch (k->type) {
	case SK_AND:
		r = TRI_TRUE;
		for (const struct imap_skey *c = k->child; c; c = c->next) {
			enum tri x = eval_meta(c, msg, depth + 1);
			if (x == TRI_FALSE)
				return TRI_FALSE;
			if (x == TRI_UNKNOWN)
				r = TRI_UNKNOWN;
		}
		return r;
	case SK_OR:
		if (!k->child)
			return TRI_FALSE;
		r = eval_meta(k->child, msg, depth + 1);
		if (r == TRI_TRUE || !k->child->next)
			return r;
		enum tri y = eval_meta(k->child->next, msg, depth + 1);
		if (y == TRI_TRUE)
			return TRI_TRUE;
		return r == TRI_FALSE && y == TRI_FALSE ? TRI_FALSE : TRI_UNKNOWN;
	case SK_NOT:
		if (!k->child)
			return TRI_FALSE;
		r = eval_meta(k->child, msg, depth + 1);
		return r == TRI_UNKNOWN ? TRI_UNKNOWN : r == TRI_TRUE ? TRI_FALSE : TRI_TRUE;
	default:
		return eval_meta_leaf(k, msg) ? TRI_TRUE : TRI_FALSE;
	}
}

static bool eval(const struct imap_skey *k, struct search_ctx *c, unsigned depth);

/*
 * The second pass, with the text: an AND tests its metadata keys first,
 * then nested AND/OR/NOT, then its own text keys, so that the cheap
 * decoding (header fields) or none happens before the body is decoded.
 */
static bool eval_and(const struct imap_skey *first, struct search_ctx *c, unsigned depth)
{
	for (const struct imap_skey *k = first; k; k = k->next)
		if (!is_text_key(k->type) && !is_compound(k->type) && !eval(k, c, depth))
			return false;
	for (const struct imap_skey *k = first; k; k = k->next)
		if (is_compound(k->type) && !eval(k, c, depth))
			return false;
	for (const struct imap_skey *k = first; k; k = k->next)
		if (is_text_key(k->type) && !eval(k, c, depth))
			return false;
	return true;
}

static bool eval(const struct imap_skey *k, struct search_ctx *c, unsigned depth)
{
	if (too_deep(k, depth))
		return false;
	switch (k->type) {
	case SK_AND:
		return eval_and(k->child, c, depth + 1);
	case SK_OR:
		return k->child && (eval(k->child, c, depth + 1) ||
				    (k->child->next && eval(k->child->next, c, depth + 1)));
	case SK_NOT:
		return k->child && !eval(k->child, c, depth + 1);
	case SK_HEADER:
	case SK_FROM:
	case SK_TO:
	case SK_CC:
	case SK_BCC:
	case SK_SUBJECT:
	case SK_BODY:
	case SK_TEXT:
		return text_key_match(k, c);
	default:
		return eval_meta_leaf(k, c->msg);
	}
}

bool imap_search_match(const struct imap_skey *k, const struct imap_search_msg *msg)
{
	if (!k)
		return true;
	if (!msg || !msg->m)
		return false;
	/* The root is an AND; a bare list of keys is taken as one too. */
	struct imap_skey list = { .type = SK_AND, .child = (struct imap_skey *)k };
	const struct imap_skey *root = k->type == SK_AND && !k->next ? k : &list;
	enum tri t = eval_meta(root, msg, 0);
	if (t != TRI_UNKNOWN)
		return t == TRI_TRUE;
	struct search_ctx c = { .msg = msg };
	bool hit = eval(root, &c, 0);
	if (c.mime_parsed)
		mail_mime_free(&c.mime);
	buf_free(&c.header);
	buf_free(&c.subheaders);
	buf_free(&c.body);
	return hit;
}
