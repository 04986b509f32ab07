/*
 * parse_list.c — the arguments of the mailbox commands that take options:
 * SELECT/EXAMINE parameters (CONDSTORE, QRESYNC: RFC 7162), CREATE (USE)
 * (SPECIAL-USE: RFC 6154), LIST with selection and return options
 * (LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE), LSUB and
 * STATUS (with SIZE RFC 8438, HIGHESTMODSEQ, APPENDLIMIT RFC 7889).
 *
 * Mailbox names and patterns are returned as sent; the session decodes
 * them (modified UTF-7 or UTF-8) and applies the hierarchy rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parse_priv.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const struct {
	const char *name;
	unsigned bit;
} status_items[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES }, { "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY }, { "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "DELETED", IMAP_STATUS_DELETED }, { "SIZE", IMAP_STATUS_SIZE }, { "RECENT", IMAP_STATUS_RECENT },
	{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ }, { "APPENDLIMIT", IMAP_STATUS_APPENDLIMIT },
};

bool imap_p_status_atts(struct imap_p *p, unsigned *items)
{
	if (!imap_p_char(p, '(', "Expected a list of status items"))
		return false;
	for (;;) {
		const char *a;
		size_t n, i;
		if (!imap_p_atom(p, &a, &n, "Missing status item"))
			return false;
		for (i = 0; i < ARRAY_LEN(status_items); i++)
			if (ascii_ieq(a, n, status_items[i].name))
				break;
		if (i == ARRAY_LEN(status_items))
			return imap_p_fail(p, "Unknown status item");
		*items |= status_items[i].bit;
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	return imap_p_char(p, ')', "Invalid status item list");
}

/* A sequence set of QRESYNC (no "$", and no "*": RFC 7162 §3.2.5). */
static bool qresync_set(struct imap_p *p, struct imap_seqset *set)
{
	if (!imap_p_seqset(p, set, false))
		return false;
	for (size_t i = 0; i < set->n; i++)
		if (set->r[i].lo == IMAP_SEQ_STAR || set->r[i].hi == IMAP_SEQ_STAR)
			return imap_p_fail(p, "\"*\" is not allowed in QRESYNC parameters");
	return true;
}

/*
 * "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
 * [SP seq-match-data] ")", seq-match-data = "(" known-sequence-set SP
 * known-uid-set ")"; the cursor is after "QRESYNC".
 */
static bool qresync(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing QRESYNC parameters") || !imap_p_char(p, '(', "Expected ( after QRESYNC") ||
	    !imap_p_number(p, &c->qr_uidvalidity, true, "Invalid UIDVALIDITY") ||
	    !imap_p_arg(p, "Missing MODSEQ in QRESYNC") ||
	    !imap_p_number64(p, &c->qr_modseq, true, "Invalid MODSEQ in QRESYNC"))
		return false;
	if (imap_p_opt_arg(p) && imap_p_peek(p) != '(') {
		if (!qresync_set(p, &c->qr_known_uids))
			return false;
		if (!imap_p_opt_arg(p))
			return imap_p_char(p, ')', "Invalid QRESYNC parameters");
	}
	if (imap_p_peek(p) == '(') {
		p->pos++;
		if (!qresync_set(p, &c->qr_seq_match) || !imap_p_arg(p, "Missing known UIDs") ||
		    !qresync_set(p, &c->qr_uid_match) || !imap_p_char(p, ')', "Invalid QRESYNC sequence match data"))
			return false;
	}
	return imap_p_char(p, ')', "Invalid QRESYNC parameters");
}

/* [SP "(" select-param *(SP select-param) ")"] after SELECT / EXAMINE mailbox */
bool imap_p_select_params(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_opt_arg(p))
		return true;
	if (!imap_p_char(p, '(', "Unexpected characters after command"))
		return false;
	for (;;) {
		if (imap_p_keyword(p, "CONDSTORE")) {
			if (c->condstore)
				return imap_p_fail(p, "Duplicate CONDSTORE");
			c->condstore = true;
		} else if (imap_p_keyword(p, "QRESYNC")) {
			if (c->qresync)
				return imap_p_fail(p, "Duplicate QRESYNC");
			c->qresync = true;
			if (!qresync(p))
				return false;
		} else {
			return imap_p_fail(p, "Unknown SELECT parameter");
		}
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	return imap_p_char(p, ')', "Invalid SELECT parameters");
}

static const char *const special_uses[] = {
	"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash",
};

/*
 * CREATE mailbox [SP "(" "USE" SP "(" [use-attr] ")" ")"]: one attribute at
 * most (use[] holds one); a known one is stored in its canonical spelling.
 */
bool imap_p_cmd_create(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing mailbox name") || !imap_p_astring(p, &c->mailbox, "Missing mailbox name"))
		return false;
	if (!imap_p_opt_arg(p))
		return true;
	if (!imap_p_char(p, '(', "Unexpected characters after command"))
		return false;
	if (!imap_p_keyword(p, "USE"))
		return imap_p_fail(p, "Unknown CREATE parameter");
	if (!imap_p_arg(p, "Missing special-use list") || !imap_p_char(p, '(', "Expected a special-use list"))
		return false;
	if (imap_p_peek(p) != ')') {
		const char *a;
		size_t n, i;
		if (!imap_p_char(p, '\\', "Invalid special-use attribute") ||
		    !imap_p_atom(p, &a, &n, "Invalid special-use attribute"))
			return false;
		for (i = 0; i < ARRAY_LEN(special_uses); i++)
			if (ascii_ieq(a, n, special_uses[i] + 1))
				break;
		/*
		 * An attribute tern does not know is passed on as given (cut to
		 * fit, which can never turn it into a known one), so the session
		 * can answer NO [USEATTR] as RFC 6154 §3 asks.
		 */
		if (i < ARRAY_LEN(special_uses))
			snprintf(c->use, sizeof c->use, "%s", special_uses[i]);
		else
			snprintf(c->use, sizeof c->use, "\\%.*s", (int)n, a);
		if (imap_p_peek(p) == ' ')
			return imap_p_fail(p, "Only one special-use attribute per mailbox");
	}
	return imap_p_char(p, ')', "Invalid special-use list") && imap_p_char(p, ')', "Invalid CREATE parameters");
}

static const struct {
	const char *name;
	unsigned bit;
} select_opts[] = {
	{ "SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED }, { "REMOTE", IMAP_LIST_SEL_REMOTE },
	{ "RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH }, { "SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE },
}, return_opts[] = {
	{ "SUBSCRIBED", IMAP_LIST_RET_SUBSCRIBED }, { "CHILDREN", IMAP_LIST_RET_CHILDREN },
	{ "SPECIAL-USE", IMAP_LIST_RET_SPECIAL_USE },
};

/* "(" [list-select-opt *(SP list-select-opt)] ")" */
static bool list_select_opts(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	p->pos++;
	if (imap_p_peek(p) != ')') {
		for (;;) {
			const char *a;
			size_t n, i;
			if (!imap_p_atom(p, &a, &n, "Missing selection option"))
				return false;
			for (i = 0; i < ARRAY_LEN(select_opts); i++)
				if (ascii_ieq(a, n, select_opts[i].name))
					break;
			if (i == ARRAY_LEN(select_opts))
				return imap_p_fail(p, "Unknown LIST selection option");
			c->list_opts |= select_opts[i].bit;
			if (imap_p_peek(p) != ' ')
				break;
			p->pos++;
		}
	}
	if (!imap_p_char(p, ')', "Invalid LIST selection options"))
		return false;
	/* RFC 5258 §3: RECURSIVEMATCH needs an option that selects something. */
	if ((c->list_opts & IMAP_LIST_SEL_RECURSIVEMATCH) &&
	    !(c->list_opts & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)))
		return imap_p_fail(p, "RECURSIVEMATCH needs another selection option");
	/* SUBSCRIBED selection implies the SUBSCRIBED return option. */
	if (c->list_opts & IMAP_LIST_SEL_SUBSCRIBED)
		c->list_opts |= IMAP_LIST_RET_SUBSCRIBED;
	return true;
}

/* "RETURN" SP "(" [return-option *(SP return-option)] ")" */
static bool list_return_opts(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_keyword(p, "RETURN"))
		return imap_p_fail(p, "Unexpected characters after command");
	if (!imap_p_arg(p, "Missing LIST return options") || !imap_p_char(p, '(', "Expected ( after RETURN"))
		return false;
	if (imap_p_peek(p) != ')') {
		for (;;) {
			const char *a;
			size_t n, i;
			if (!imap_p_atom(p, &a, &n, "Missing return option"))
				return false;
			if (ascii_ieq(a, n, "STATUS")) {
				if (!imap_p_arg(p, "Missing status items") || !imap_p_status_atts(p, &c->status_items))
					return false;
				c->list_opts |= IMAP_LIST_RET_STATUS;
			} else {
				for (i = 0; i < ARRAY_LEN(return_opts); i++)
					if (ascii_ieq(a, n, return_opts[i].name))
						break;
				if (i == ARRAY_LEN(return_opts))
					return imap_p_fail(p, "Unknown LIST return option");
				c->list_opts |= return_opts[i].bit;
			}
			if (imap_p_peek(p) != ' ')
				break;
			p->pos++;
		}
	}
	return imap_p_char(p, ')', "Invalid LIST return options");
}

static bool add_pattern(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (c->npatterns == IMAP_LIST_MAX_PATTERNS)
		return imap_p_fail(p, "Too many mailbox patterns");
	struct imap_str *s = &c->patterns[c->npatterns++];
	memset(s, 0, sizeof *s);
	return imap_p_list_mailbox(p, s, "Missing mailbox pattern");
}

/* LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts] */
bool imap_p_cmd_list(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing reference name"))
		return false;
	if (imap_p_peek(p) == '(') {
		if (!list_select_opts(p) || !imap_p_arg(p, "Missing reference name"))
			return false;
	}
	if (!imap_p_astring(p, &c->reference, "Missing reference name") || !imap_p_arg(p, "Missing mailbox pattern"))
		return false;
	c->patterns = xcalloc(IMAP_LIST_MAX_PATTERNS, sizeof *c->patterns);
	if (imap_p_peek(p) == '(') {
		p->pos++;
		for (;;) {
			if (!add_pattern(p))
				return false;
			if (imap_p_peek(p) != ' ')
				break;
			p->pos++;
		}
		if (!imap_p_char(p, ')', "Invalid mailbox pattern list"))
			return false;
	} else if (!add_pattern(p)) {
		return false;
	}
	if (imap_p_opt_arg(p))
		return list_return_opts(p);
	return true;
}

bool imap_p_cmd_lsub(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing reference name") || !imap_p_astring(p, &c->reference, "Missing reference name") ||
	    !imap_p_arg(p, "Missing mailbox pattern"))
		return false;
	c->patterns = xcalloc(1, sizeof *c->patterns);
	c->npatterns = 1;
	return imap_p_list_mailbox(p, &c->patterns[0], "Missing mailbox pattern");
}

bool imap_p_cmd_status(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	return imap_p_arg(p, "Missing mailbox name") && imap_p_astring(p, &c->mailbox, "Missing mailbox name") &&
	       imap_p_arg(p, "Missing status items") && imap_p_status_atts(p, &c->status_items);
}
