/*
 * parse_search.c — SEARCH arguments into the key tree of search.h
 * (RFC 9051 §6.4.4 with the RFC 3501 keys NEW OLD RECENT, CONDSTORE
 * MODSEQ, ESEARCH RETURN options and SEARCHRES "$").
 *
 * The top level is an SK_AND node; "( ... )" is another SK_AND, OR and NOT
 * nodes hold their operands as children.  Nesting is limited to
 * IMAP_SEARCH_MAX_DEPTH (the only recursion in the parser) and the whole
 * tree to IMAP_SEARCH_MAX_KEYS nodes.  Strings are converted from the
 * CHARSET to UTF-8 here, so search.c compares UTF-8 only.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/parse_priv.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/charset.h"

static struct imap_skey *key_new(struct imap_p *p, enum imap_skey_type type)
{
	if (++p->nkeys > IMAP_SEARCH_MAX_KEYS) {
		imap_p_fail(p, "Too many search keys");
		return NULL;
	}
	struct imap_skey *k = xcalloc(1, sizeof *k);
	k->type = type;
	return k;
}

/* An astring, converted to UTF-8 from the command's charset. */
static bool search_string(struct imap_p *p, char **out, const char *missing)
{
	struct imap_str s = { 0 };
	if (!imap_p_arg(p, missing) || !imap_p_astring(p, &s, missing))
		return false;
	struct buf b = BUF_INIT;
	if (p->convert)
		mail_charset_to_utf8(&b, p->cmd->charset, strlen(p->cmd->charset), s.p, s.n);
	else
		mail_utf8_append_lossy(&b, s.p, s.n);
	imap_p_str_free(&s);
	*out = buf_steal(&b);
	return true;
}

static bool is_seqset_start(int c)
{
	return (c >= '0' && c <= '9') || c == '*' || c == '$';
}

static const struct {
	const char *name;
	enum imap_skey_type type;
	uint32_t flag;
} flag_keys[] = {
	{ "ANSWERED", SK_FLAG, STORE_FLAG_ANSWERED }, { "DELETED", SK_FLAG, STORE_FLAG_DELETED },
	{ "DRAFT", SK_FLAG, STORE_FLAG_DRAFT }, { "FLAGGED", SK_FLAG, STORE_FLAG_FLAGGED },
	{ "SEEN", SK_FLAG, STORE_FLAG_SEEN }, { "UNANSWERED", SK_UNFLAG, STORE_FLAG_ANSWERED },
	{ "UNDELETED", SK_UNFLAG, STORE_FLAG_DELETED }, { "UNDRAFT", SK_UNFLAG, STORE_FLAG_DRAFT },
	{ "UNFLAGGED", SK_UNFLAG, STORE_FLAG_FLAGGED }, { "UNSEEN", SK_UNFLAG, STORE_FLAG_SEEN },
	{ "ALL", SK_ALL, 0 }, { "NEW", SK_NEW, 0 }, { "OLD", SK_OLD, 0 }, { "RECENT", SK_RECENT, 0 },
};

static const struct {
	const char *name;
	enum imap_skey_type type;
} string_keys[] = {
	{ "BCC", SK_BCC }, { "BODY", SK_BODY }, { "CC", SK_CC }, { "FROM", SK_FROM },
	{ "SUBJECT", SK_SUBJECT }, { "TEXT", SK_TEXT }, { "TO", SK_TO },
};

static const struct {
	const char *name;
	enum imap_skey_type type;
} date_keys[] = {
	{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
	{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON }, { "SENTSINCE", SK_SENTSINCE },
};

static bool search_key(struct imap_p *p, struct imap_skey **out, unsigned depth);

/* key *(SP key) into parent's children, up to (not including) ')' or the line end. */
static bool key_list(struct imap_p *p, struct imap_skey *parent, unsigned depth, bool top)
{
	struct imap_skey **tail = &parent->child;
	for (;;) {
		if (!search_key(p, tail, depth))
			return false;
		tail = &(*tail)->next;
		if (top ? !imap_p_opt_arg(p) : imap_p_peek(p) != ' ')
			return true;
		if (!top)
			p->pos++;
	}
}

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer */
static bool modseq_key(struct imap_p *p, struct imap_skey *k)
{
	if (!imap_p_arg(p, "Missing MODSEQ value"))
		return false;
	int c = imap_p_peek(p);
	if (c == '"' || c == '{') {
		struct imap_str name = { 0 };
		bool ok = imap_p_string(p, &name, "Missing MODSEQ entry name");
		imap_p_str_free(&name);
		if (!ok || !imap_p_arg(p, "Missing MODSEQ entry type"))
			return false;
		if (!imap_p_keyword(p, "priv") && !imap_p_keyword(p, "shared") && !imap_p_keyword(p, "all"))
			return imap_p_fail(p, "Invalid MODSEQ entry type");
		if (!imap_p_arg(p, "Missing MODSEQ value"))
			return false;
	}
	return imap_p_number64(p, &k->num, false, "Invalid MODSEQ value");
}

static bool search_key(struct imap_p *p, struct imap_skey **out, unsigned depth)
{
	struct imap_skey *k;
	int c = imap_p_peek(p);
	if (c == '(') {
		if (depth >= IMAP_SEARCH_MAX_DEPTH)
			return imap_p_fail(p, "Search keys nested too deeply");
		if (!(k = *out = key_new(p, SK_AND)))
			return false;
		p->pos++;
		return key_list(p, k, depth + 1, false) && imap_p_char(p, ')', "Invalid search key list");
	}
	if (is_seqset_start(c)) {
		if (!(k = *out = key_new(p, SK_SEQSET)))
			return false;
		return imap_p_seqset(p, &k->set, true);
	}
	const char *a;
	size_t n;
	if (!imap_p_atom(p, &a, &n, "Missing search key"))
		return false;
	for (size_t i = 0; i < ARRAY_LEN(flag_keys); i++) {
		if (ascii_ieq(a, n, flag_keys[i].name)) {
			if (!(k = *out = key_new(p, flag_keys[i].type)))
				return false;
			k->flag = flag_keys[i].flag;
			return true;
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(string_keys); i++) {
		if (ascii_ieq(a, n, string_keys[i].name)) {
			if (!(k = *out = key_new(p, string_keys[i].type)))
				return false;
			return search_string(p, &k->str, "Missing search string");
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(date_keys); i++) {
		if (ascii_ieq(a, n, date_keys[i].name)) {
			if (!(k = *out = key_new(p, date_keys[i].type)))
				return false;
			return imap_p_arg(p, "Missing date") && imap_p_search_date(p, &k->date);
		}
	}
	if (ascii_ieq(a, n, "KEYWORD") || ascii_ieq(a, n, "UNKEYWORD")) {
		if (!(k = *out = key_new(p, n == 7 ? SK_KEYWORD : SK_UNKEYWORD)))
			return false;
		const char *kw;
		size_t kn;
		if (!imap_p_arg(p, "Missing keyword") || !imap_p_atom(p, &kw, &kn, "Missing keyword"))
			return false;
		k->str = xmemdup0(kw, kn);
		return true;
	}
	if (ascii_ieq(a, n, "HEADER")) {
		if (!(k = *out = key_new(p, SK_HEADER)))
			return false;
		struct imap_str f = { 0 };
		if (!imap_p_arg(p, "Missing header field name") || !imap_p_astring(p, &f, "Missing header field name"))
			return imap_p_str_free(&f), false;
		k->field = f.p;
		if (f.n == 0 || memchr(f.p, ':', f.n) || memchr(f.p, '\0', f.n) || !is_ascii(f.p, f.n))
			return imap_p_fail(p, "Invalid header field name");
		return search_string(p, &k->str, "Missing search string");
	}
	if (ascii_ieq(a, n, "LARGER") || ascii_ieq(a, n, "SMALLER")) {
		if (!(k = *out = key_new(p, n == 6 ? SK_LARGER : SK_SMALLER)))
			return false;
		return imap_p_arg(p, "Missing size") && imap_p_number64(p, &k->num, false, "Invalid size");
	}
	if (ascii_ieq(a, n, "UID")) {
		if (!(k = *out = key_new(p, SK_UID)))
			return false;
		return imap_p_arg(p, "Missing sequence set") && imap_p_seqset(p, &k->set, true);
	}
	if (ascii_ieq(a, n, "NOT")) {
		if (depth >= IMAP_SEARCH_MAX_DEPTH)
			return imap_p_fail(p, "Search keys nested too deeply");
		if (!(k = *out = key_new(p, SK_NOT)))
			return false;
		return imap_p_arg(p, "Missing search key after NOT") && search_key(p, &k->child, depth + 1);
	}
	if (ascii_ieq(a, n, "OR")) {
		if (depth >= IMAP_SEARCH_MAX_DEPTH)
			return imap_p_fail(p, "Search keys nested too deeply");
		if (!(k = *out = key_new(p, SK_OR)))
			return false;
		return imap_p_arg(p, "Missing search key after OR") && search_key(p, &k->child, depth + 1) &&
		       imap_p_arg(p, "Missing second search key after OR") &&
		       search_key(p, &k->child->next, depth + 1);
	}
	if (ascii_ieq(a, n, "MODSEQ")) {
		if (!(k = *out = key_new(p, SK_MODSEQ)))
			return false;
		return modseq_key(p, k);
	}
	return imap_p_fail(p, "Unknown search key");
}

/*
 * partial-range = nz-number ":" nz-number / "-" nz-number ":" "-" nz-number
 * (RFC 9394); the two ends may come in either order.
 */
static bool partial_range(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	int32_t v[2];
	for (int i = 0; i < 2; i++) {
		if (i && !imap_p_char(p, ':', "Invalid PARTIAL range"))
			return false;
		bool neg = imap_p_peek(p) == '-';
		if (neg)
			p->pos++;
		uint32_t n;
		if (!imap_p_number(p, &n, true, "Invalid PARTIAL range") || n > INT32_MAX)
			return imap_p_fail(p, "Invalid PARTIAL range");
		v[i] = neg ? -(int32_t)n : (int32_t)n;
	}
	if ((v[0] < 0) != (v[1] < 0))
		return imap_p_fail(p, "Invalid PARTIAL range");
	c->partial_lo = v[0] < v[1] ? v[0] : v[1];
	c->partial_hi = v[0] < v[1] ? v[1] : v[0];
	return true;
}

/* RETURN ( [MIN / MAX / ALL / COUNT / SAVE / PARTIAL range / UPDATE / CONTEXT ...] ) */
static bool return_opts(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{ "MIN", IMAP_RET_MIN }, { "MAX", IMAP_RET_MAX }, { "ALL", IMAP_RET_ALL },
		{ "COUNT", IMAP_RET_COUNT }, { "SAVE", IMAP_RET_SAVE }, { "PARTIAL", IMAP_RET_PARTIAL },
		{ "UPDATE", IMAP_RET_UPDATE }, { "CONTEXT", IMAP_RET_CONTEXT },
	};
	if (!imap_p_arg(p, "Missing RETURN options") || !imap_p_char(p, '(', "Expected ( after RETURN"))
		return false;
	c->esearch = true;
	if (imap_p_peek(p) != ')') {
		for (;;) {
			const char *a;
			size_t n, i;
			if (!imap_p_atom(p, &a, &n, "Missing RETURN option"))
				return false;
			for (i = 0; i < ARRAY_LEN(opts); i++)
				if (ascii_ieq(a, n, opts[i].name))
					break;
			if (i == ARRAY_LEN(opts))
				return imap_p_fail(p, "Unknown RETURN option");
			if (c->search_ret & opts[i].bit & (IMAP_RET_PARTIAL | IMAP_RET_UPDATE))
				return imap_p_fail(p, "Duplicate RETURN option");
			c->search_ret |= opts[i].bit;
			if (opts[i].bit == IMAP_RET_PARTIAL &&
			    (!imap_p_arg(p, "Missing PARTIAL range") || !partial_range(p)))
				return false;
			if (imap_p_peek(p) != ' ')
				break;
			p->pos++;
		}
	}
	/* RFC 9394 §3.1: PARTIAL replaces ALL; both at once make no sense. */
	if ((c->search_ret & IMAP_RET_PARTIAL) && (c->search_ret & IMAP_RET_ALL))
		return imap_p_fail(p, "PARTIAL and ALL are exclusive");
	return imap_p_char(p, ')', "Invalid RETURN option list");
}

static bool charset(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	struct imap_str cs = { 0 };
	if (!imap_p_arg(p, "Missing charset") || !imap_p_astring(p, &cs, "Missing charset"))
		return imap_p_str_free(&cs), false;
	bool known = cs.n < sizeof c->charset && !memchr(cs.p, '\0', cs.n);
	if (known) {
		memcpy(c->charset, cs.p, cs.n + 1);
		if (ascii_ieq(cs.p, cs.n, "US-ASCII") || ascii_ieq(cs.p, cs.n, "UTF-8")) {
			p->convert = false;
		} else {
			/* Ask the converter whether it knows the name at all. */
			struct buf probe = BUF_INIT;
			known = mail_charset_to_utf8(&probe, cs.p, cs.n, "", 0);
			buf_free(&probe);
			p->convert = true;
		}
	}
	imap_p_str_free(&cs);
	if (!known) {
		c->charset[0] = '\0';
		p->res = IMAP_PARSE_BADCHARSET;
		return imap_p_fail(p, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
	}
	return true;
}

bool imap_p_cmd_search(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing search criteria"))
		return false;
	if (imap_p_keyword(p, "RETURN")) {
		if (!return_opts(p) || !imap_p_arg(p, "Missing search criteria"))
			return false;
	}
	if (imap_p_keyword(p, "CHARSET")) {
		if (!charset(p) || !imap_p_arg(p, "Missing search criteria"))
			return false;
	}
	if (!(c->search = key_new(p, SK_AND)))
		return false;
	return key_list(p, c->search, 0, true);
}

/* SORT [RETURN (...)] (sort-criteria) charset search-key *(SP search-key)  (RFC 5256, 5267, 5957) */
bool imap_p_cmd_sort(struct imap_p *p)
{
	static const struct {
		const char *name;
		enum imap_sort_key key;
	} keys[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC }, { "DATE", IMAP_SORT_DATE },
		{ "FROM", IMAP_SORT_FROM }, { "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO }, { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM }, { "DISPLAYTO", IMAP_SORT_DISPLAYTO },
	};
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing sort criteria"))
		return false;
	if (imap_p_keyword(p, "RETURN") && (!return_opts(p) || !imap_p_arg(p, "Missing sort criteria")))
		return false;
	if (!imap_p_char(p, '(', "Expected ( before sort criteria"))
		return false;
	for (;;) {
		bool reverse = imap_p_keyword(p, "REVERSE");
		if (reverse && !imap_p_arg(p, "Missing sort key after REVERSE"))
			return false;
		const char *a;
		size_t n, i;
		if (!imap_p_atom(p, &a, &n, "Missing sort key"))
			return false;
		for (i = 0; i < ARRAY_LEN(keys); i++)
			if (ascii_ieq(a, n, keys[i].name))
				break;
		if (i == ARRAY_LEN(keys))
			return imap_p_fail(p, "Unknown sort key");
		if (c->nsort == IMAP_SORT_MAX_CRIT)
			return imap_p_fail(p, "Too many sort criteria");
		c->sort[c->nsort].key = keys[i].key;
		c->sort[c->nsort].reverse = reverse;
		c->nsort++;
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	if (!imap_p_char(p, ')', "Invalid sort criteria") || !charset(p) || !imap_p_arg(p, "Missing search criteria"))
		return false;
	if (!(c->search = key_new(p, SK_AND)))
		return false;
	return key_list(p, c->search, 0, true);
}

/* THREAD algorithm charset search-key *(SP search-key)  (RFC 5256) */
bool imap_p_cmd_thread(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing thread algorithm"))
		return false;
	if (imap_p_keyword(p, "ORDEREDSUBJECT"))
		c->thread_alg = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_p_keyword(p, "REFERENCES"))
		c->thread_alg = IMAP_THREAD_REFERENCES;
	else
		return imap_p_fail(p, "Unknown thread algorithm");
	if (!charset(p) || !imap_p_arg(p, "Missing search criteria"))
		return false;
	if (!(c->search = key_new(p, SK_AND)))
		return false;
	return key_list(p, c->search, 0, true);
}

/* CANCELUPDATE tag-string *(SP tag-string)  (RFC 5267 §4.2); the tags go to cmd->atoms. */
bool imap_p_cmd_cancelupdate(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing tag"))
		return false;
	for (;;) {
		if (c->natoms == IMAP_CONTEXT_MAX)
			return imap_p_fail(p, "Too many tags");
		c->atoms = xrealloc(c->atoms, (c->natoms + 1) * sizeof *c->atoms);
		memset(&c->atoms[c->natoms], 0, sizeof *c->atoms);
		if (!imap_p_string(p, &c->atoms[c->natoms++], "Missing tag"))
			return false;
		if (!imap_p_opt_arg(p))
			return true;
	}
}
