/*
 * parse_notify.c — the arguments of NOTIFY (RFC 5465 §3.1, §8):
 *
 *   notify       = "NOTIFY" SP ("NONE" / "SET" [SP "STATUS"] 1*(SP event-group))
 *   event-group  = "(" filter-mailboxes SP events ")"
 *   filter-mailboxes = "selected" / "selected-delayed" / "inboxes" / "personal" /
 *                  "subscribed" / ("subtree" / "mailboxes") SP one-or-more-mailbox
 *   events       = "(" event *(SP event) ")" / "NONE"
 *   event        = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"] / atom
 *
 * What is refused and how:
 *  - BAD: anything off the grammar; "selected" and "selected-delayed"
 *    together or twice (§6.1: only one of them); a mailbox event
 *    (MailboxName, SubscriptionChange, MailboxMetadataChange,
 *    ServerMetadataChange) with a selected filter (§6.1); fetch-atts after
 *    MessageNew of a group that is not for the selected mailbox (they
 *    describe FETCH responses, which only the selected mailbox gets).
 *  - NO [BADEVENT (...)]: a well-formed command naming an event tern does
 *    not support (AnnotationChange, the METADATA events, any other atom),
 *    with the list of the supported ones (§3.1: NO, not BAD).
 *  - NO [LIMIT]: more than IMAP_NOTIFY_MAX_GROUPS groups or
 *    IMAP_NOTIFY_MAX_NAMES mailbox names.  The rest of the command is
 *    still parsed (it is at most IMAP_COMMAND_MAX long), but not kept.
 *
 * Like Dovecot, and as imaptest's "notify" script expects, the pairing
 * rules of §5 (MessageNew with MessageExpunge, FlagChange with both) are
 * not enforced: "(MessageExpunge)" alone is a fine request.
 *
 * Mailbox names are returned as sent; the session decodes them.  The
 * selected group's MessageNew fetch-atts go to cmd->atts (parse_fetch.c
 * parses them), so FETCH's own code produces the responses.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/parse_priv.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define BADEVENT_LIST "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"

static const struct {
	const char *name;
	enum imap_notify_filter filter;
} filters[] = {
	{ "SELECTED", IMAP_NF_SELECTED }, { "SELECTED-DELAYED", IMAP_NF_SELECTED_DELAYED },
	{ "INBOXES", IMAP_NF_INBOXES }, { "PERSONAL", IMAP_NF_PERSONAL },
	{ "SUBSCRIBED", IMAP_NF_SUBSCRIBED }, { "SUBTREE", IMAP_NF_SUBTREE },
	{ "MAILBOXES", IMAP_NF_MAILBOXES },
};

static const struct {
	const char *name;
	unsigned bit;
} events[] = {
	{ "MessageNew", IMAP_NEV_MESSAGENEW }, { "MessageExpunge", IMAP_NEV_MESSAGEEXPUNGE },
	{ "FlagChange", IMAP_NEV_FLAGCHANGE }, { "MailboxName", IMAP_NEV_MAILBOXNAME },
	{ "SubscriptionChange", IMAP_NEV_SUBSCRIPTIONCHANGE },
};

/* Events RFC 5465 defines that tern does not support: NO [BADEVENT]; mailbox-level ones are BAD with selected. */
static const struct {
	const char *name;
	bool message;           /* a message-event (allowed with selected) */
} unsupported[] = {
	{ "AnnotationChange", true }, { "MailboxMetadataChange", false }, { "ServerMetadataChange", false },
};

/* What one NOTIFY SET has seen so far, beyond what goes into the command. */
struct notify_parse {
	size_t names;           /* mailbox names seen, kept or not */
	bool over_limit;        /* past a limit: parse on, keep nothing more */
	bool badevent;          /* an unsupported event: NO [BADEVENT] once the syntax is known good */
	bool have_selected;
};

/* Only the final line end is left (what imap_p_end will take). */
static bool at_command_end(const struct imap_p *p)
{
	size_t left = p->len - p->pos;
	const char *t = p->s + p->pos;
	return (left == 1 && t[0] == '\n') || (left == 2 && t[0] == '\r' && t[1] == '\n');
}

void imap_p_notify_free(struct imap_cmd *c)
{
	for (size_t i = 0; i < c->notify_ngroups; i++) {
		struct imap_notify_group *g = &c->notify_groups[i];
		for (size_t j = 0; j < g->nmailboxes; j++)
			imap_p_str_free(&g->mailboxes[j]);
		free(g->mailboxes);
	}
	XFREE(&c->notify_groups);
	c->notify_ngroups = 0;
}

/* One mailbox name of a subtree / mailboxes filter, kept in g when within the limits. */
static bool one_mailbox(struct imap_p *p, struct notify_parse *np, struct imap_notify_group *g)
{
	struct imap_str name = { 0 };
	if (!imap_p_astring(p, &name, "Missing mailbox name")) {
		imap_p_str_free(&name);
		return false;
	}
	if (++np->names > IMAP_NOTIFY_MAX_NAMES)
		np->over_limit = true;
	if (np->over_limit || !g) {
		imap_p_str_free(&name);
		return true;
	}
	/* Capacity doubles at each power of two. */
	if (g->nmailboxes == 0 || (g->nmailboxes >= 4 && (g->nmailboxes & (g->nmailboxes - 1)) == 0))
		g->mailboxes = xrealloc(g->mailboxes, (g->nmailboxes ? g->nmailboxes * 2 : 4) * sizeof *g->mailboxes);
	g->mailboxes[g->nmailboxes++] = name;
	return true;
}

/* one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")" */
static bool mailbox_list(struct imap_p *p, struct notify_parse *np, struct imap_notify_group *g)
{
	if (!imap_p_arg(p, "Missing mailbox name"))
		return false;
	if (imap_p_peek(p) != '(')
		return one_mailbox(p, np, g);
	p->pos++;
	for (;;) {
		if (!one_mailbox(p, np, g))
			return false;
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	return imap_p_char(p, ')', "Invalid mailbox list");
}

/* SP "(" fetch-att *(SP fetch-att) ")" after MessageNew; the cursor is on the '('. */
static bool fetch_atts(struct imap_p *p, bool selected)
{
	if (!selected)
		return imap_p_fail(p, "MessageNew fetch attributes are only for the selected mailbox");
	return imap_p_fetch_att_list(p);
}

/* One event of a list; the bit for a supported one goes to *ev. */
static bool one_event(struct imap_p *p, struct notify_parse *np, bool selected, unsigned *ev)
{
	const char *a;
	size_t n;
	if (!imap_p_atom(p, &a, &n, "Missing event"))
		return false;
	for (size_t i = 0; i < ARRAY_LEN(events); i++) {
		if (!ascii_ieq(a, n, events[i].name))
			continue;
		if (selected && !(events[i].bit & IMAP_NEV_MESSAGE))
			return imap_p_fail(p, "Only message events are allowed for the selected mailbox");
		*ev |= events[i].bit;
		if (events[i].bit == IMAP_NEV_MESSAGENEW && imap_p_peek(p) == ' ' && imap_p_peek_at(p, 1) == '(') {
			p->pos++;
			return fetch_atts(p, selected);
		}
		return true;
	}
	for (size_t i = 0; i < ARRAY_LEN(unsupported); i++)
		if (ascii_ieq(a, n, unsupported[i].name) && selected && !unsupported[i].message)
			return imap_p_fail(p, "Only message events are allowed for the selected mailbox");
	np->badevent = true;
	return true;
}

/* events = "(" event *(SP event) ")" / "NONE" */
static bool event_list(struct imap_p *p, struct notify_parse *np, bool selected, unsigned *ev)
{
	*ev = 0;
	if (imap_p_keyword(p, "NONE"))
		return true;
	if (!imap_p_char(p, '(', "Expected an event list or NONE"))
		return false;
	for (;;) {
		if (!one_event(p, np, selected, ev))
			return false;
		if (imap_p_peek(p) != ' ')
			break;
		p->pos++;
	}
	return imap_p_char(p, ')', "Invalid event list");
}

/* event-group = "(" filter-mailboxes SP events ")"; the cursor is on the '('. */
static bool event_group(struct imap_p *p, struct notify_parse *np)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_char(p, '(', "Expected an event group"))
		return false;
	const char *a;
	size_t n, i;
	if (!imap_p_atom(p, &a, &n, "Missing mailbox filter"))
		return false;
	for (i = 0; i < ARRAY_LEN(filters); i++)
		if (ascii_ieq(a, n, filters[i].name))
			break;
	if (i == ARRAY_LEN(filters))
		return imap_p_fail(p, "Unknown mailbox filter");
	enum imap_notify_filter f = filters[i].filter;
	bool selected = f == IMAP_NF_SELECTED || f == IMAP_NF_SELECTED_DELAYED;
	if (selected) {
		if (np->have_selected)
			return imap_p_fail(p, "Only one of selected and selected-delayed, once");
		np->have_selected = true;
	}
	struct imap_notify_group *g = NULL;
	if (c->notify_ngroups == IMAP_NOTIFY_MAX_GROUPS)
		np->over_limit = true;
	if (!np->over_limit) {
		if (c->notify_ngroups == 0 || (c->notify_ngroups >= 4 && (c->notify_ngroups & (c->notify_ngroups - 1)) == 0))
			c->notify_groups = xrealloc(c->notify_groups, (c->notify_ngroups ? c->notify_ngroups * 2 : 4) *
								     sizeof *c->notify_groups);
		g = &c->notify_groups[c->notify_ngroups++];
		memset(g, 0, sizeof *g);
		g->filter = f;
	}
	if ((f == IMAP_NF_SUBTREE || f == IMAP_NF_MAILBOXES) && !mailbox_list(p, np, g))
		return false;
	unsigned ev;
	if (!imap_p_arg(p, "Missing events") || !event_list(p, np, selected, &ev))
		return false;
	if (g)
		g->events = ev;
	return imap_p_char(p, ')', "Invalid event group");
}

bool imap_p_cmd_notify(struct imap_p *p)
{
	struct imap_cmd *c = p->cmd;
	if (!imap_p_arg(p, "Missing NONE or SET"))
		return false;
	if (imap_p_keyword(p, "NONE")) {
		c->notify_none = true;
		return true;
	}
	if (!imap_p_keyword(p, "SET"))
		return imap_p_fail(p, "Expected NONE or SET");
	struct notify_parse np = { 0 };
	if (!imap_p_arg(p, "Missing event groups"))
		return false;
	if (imap_p_keyword(p, "STATUS")) {
		c->notify_status = true;
		if (!imap_p_arg(p, "Missing event groups"))
			return false;
	}
	for (;;) {
		if (!event_group(p, &np))
			return false;
		if (!imap_p_opt_arg(p))
			break;
	}
	/* Good syntax so far; what follows must be the end, or it is BAD after all. */
	if (!at_command_end(p))
		return imap_p_fail(p, "Unexpected characters after command");
	if (np.over_limit) {
		p->res = IMAP_PARSE_NO;
		return imap_p_fail(p, np.names > IMAP_NOTIFY_MAX_NAMES
					      ? "[LIMIT] Too many mailboxes in one NOTIFY"
					      : "[LIMIT] Too many event groups in one NOTIFY");
	}
	if (np.badevent) {
		p->res = IMAP_PARSE_NO;
		return imap_p_fail(p, "[BADEVENT (" BADEVENT_LIST ")] Unsupported event");
	}
	return true;
}
