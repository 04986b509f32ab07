/*
 * sortcmd.c — SORT and UID SORT (RFC 5256), SORT=DISPLAY (RFC 5957) and
 * ESORT (RFC 5267: RETURN options answered with ESEARCH).
 *
 * The search is searchcmd.c's scan; every sort key comes from the index
 * row of a matching message (INTERNALDATE, size, the Date: time, the
 * decoded Subject, the ENVELOPE's addresses), computed once per message
 * while the row is at hand, so a SORT never opens a blob unless its
 * search criteria need the text.  Keys are then compared with qsort_r:
 * O(n log n) comparisons of integers or byte strings already in
 * i;unicode-casemap form (sort.h).
 *
 * Keys: ARRIVAL = INTERNALDATE; DATE = the Date: field, INTERNALDATE
 * when it is missing or unparsable; SIZE = RFC822.SIZE; SUBJECT = the
 * base subject; FROM, TO, CC = the mailbox (local part) of the field's
 * first address (a group's name for a group); DISPLAYFROM, DISPLAYTO =
 * its decoded display name, else its addr-spec.  REVERSE turns one key
 * around; messages equal on every key stay in sequence order (RFC 5256
 * §3: the final tie-breaker is the sequence number, never reversed).
 */
#include "imap/searchcmd.h"
#include "imap/sort.h"
#include "lib/xalloc.h"
#include "mail/rfc2047.h"

#include <stdlib.h>
#include <string.h>

/* One key of one message: a number, or a string in the arena. */
struct sort_val {
	int64_t n;
	size_t off, len;
};

struct sort_rec {
	uint32_t seq, uid;
	uint64_t modseq;
	size_t vals;            /* index of its first struct sort_val */
};

struct sort_run {
	const struct imap_cmd *cmd;
	struct sort_rec *recs;
	size_t n, cap;
	struct sort_val *vals;
	size_t nvals, capvals;
	struct buf arena;       /* every string key, back to back */
	struct imap_env_str name, mailbox, host;
	struct buf tmp;
};

static bool is_address_key(enum imap_sort_key k)
{
	return k == IMAP_SORT_FROM || k == IMAP_SORT_TO || k == IMAP_SORT_CC || k == IMAP_SORT_DISPLAYFROM ||
	       k == IMAP_SORT_DISPLAYTO;
}

static enum imap_env_field address_field(enum imap_sort_key k)
{
	switch (k) {
	case IMAP_SORT_TO:
	case IMAP_SORT_DISPLAYTO:
		return IMAP_ENV_TO;
	case IMAP_SORT_CC:
		return IMAP_ENV_CC;
	default:
		return IMAP_ENV_FROM;
	}
}

/* The string key of an address criterion, appended to the arena in comparison form. */
static void address_key(struct sort_run *r, const struct store_message_data *m, enum imap_sort_key k)
{
	if (!imap_env_first_address(m->envelope, address_field(k), &r->name, &r->mailbox, &r->host))
		return;
	buf_reset(&r->tmp);
	if (k == IMAP_SORT_DISPLAYFROM || k == IMAP_SORT_DISPLAYTO) {
		if (!r->name.nil && r->name.v.len)
			mail_rfc2047_decode(&r->tmp, buf_cstr(&r->name.v), r->name.v.len);
		if (r->tmp.len == 0 && !r->mailbox.nil) {
			/* RFC 5957 §2: no display name: the addr-spec. */
			buf_append(&r->tmp, buf_cstr(&r->mailbox.v), r->mailbox.v.len);
			if (!r->host.nil) {
				buf_putc(&r->tmp, '@');
				buf_append(&r->tmp, buf_cstr(&r->host.v), r->host.v.len);
			}
		}
	} else if (!r->mailbox.nil) {
		buf_append(&r->tmp, buf_cstr(&r->mailbox.v), r->mailbox.v.len);
	}
	imap_sort_casemap(&r->arena, buf_cstr(&r->tmp), r->tmp.len);
}

static int sort_hit(void *ctx, const struct store_message_data *m, uint32_t seq)
{
	struct sort_run *r = ctx;
	const struct imap_cmd *cmd = r->cmd;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->recs = xrealloc(r->recs, r->cap * sizeof *r->recs);
	}
	if (r->nvals + cmd->nsort > r->capvals) {
		r->capvals = r->capvals ? r->capvals * 2 : 256 * cmd->nsort;
		r->vals = xrealloc(r->vals, r->capvals * sizeof *r->vals);
	}
	struct sort_rec *rec = &r->recs[r->n++];
	rec->seq = seq;
	rec->uid = m->uid;
	rec->modseq = m->modseq;
	rec->vals = r->nvals;
	for (size_t i = 0; i < cmd->nsort; i++) {
		struct sort_val *v = &r->vals[r->nvals++];
		enum imap_sort_key k = cmd->sort[i].key;
		memset(v, 0, sizeof *v);
		v->off = r->arena.len;
		switch (k) {
		case IMAP_SORT_ARRIVAL:
			v->n = m->internaldate;
			break;
		case IMAP_SORT_DATE:
			v->n = m->sent_date ? m->sent_date : m->internaldate;
			break;
		case IMAP_SORT_SIZE:
			v->n = (int64_t)m->size;
			break;
		case IMAP_SORT_SUBJECT:
			imap_sort_base_subject(&r->arena, m->subject ? m->subject : "", m->subject ? strlen(m->subject) : 0,
					       NULL);
			break;
		default:
			if (is_address_key(k))
				address_key(r, m, k);
			break;
		}
		v->len = r->arena.len - v->off;
	}
	return 0;
}

static int cmp_val(const struct sort_run *r, enum imap_sort_key k, const struct sort_val *a,
		   const struct sort_val *b)
{
	if (k == IMAP_SORT_ARRIVAL || k == IMAP_SORT_DATE || k == IMAP_SORT_SIZE)
		return a->n < b->n ? -1 : a->n > b->n;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(r->arena.data + a->off, r->arena.data + b->off, n) : 0;
	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int cmp_rec(const void *pa, const void *pb, void *arg)
{
	const struct sort_run *r = arg;
	const struct sort_rec *a = pa, *b = pb;
	for (size_t i = 0; i < r->cmd->nsort; i++) {
		int c = cmp_val(r, r->cmd->sort[i].key, &r->vals[a->vals + i], &r->vals[b->vals + i]);
		if (c)
			return r->cmd->sort[i].reverse ? -c : c;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void sort_run_free(struct sort_run *r)
{
	free(r->recs);
	free(r->vals);
	buf_free(&r->arena);
	buf_free(&r->name.v);
	buf_free(&r->mailbox.v);
	buf_free(&r->host.v);
	buf_free(&r->tmp);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void imap_cmd_sort(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *what = cmd->uid ? "UID SORT" : "SORT";
	bool modseq = imap_search_uses_modseq(cmd->search);
	if (modseq)
		imap_condstore_enable(s);
	struct sort_run r = { .cmd = cmd };
	enum store_status st = imap_search_scan(s, cmd, sort_hit, &r);
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, what);
		sort_run_free(&r);
		return;
	}
	if (r.n > 1)
		qsort_r(r.recs, r.n, sizeof *r.recs, cmp_rec, &r);

	uint32_t *nums = xmalloc((r.n ? r.n : 1) * sizeof *nums);
	uint64_t *modseqs = xmalloc((r.n ? r.n : 1) * sizeof *modseqs);
	for (size_t i = 0; i < r.n; i++) {
		nums[i] = cmd->uid ? r.recs[i].uid : r.recs[i].seq;
		modseqs[i] = r.recs[i].modseq;
	}
	if (cmd->search_ret & IMAP_RET_SAVE) {
		/* SEARCHRES keeps a set of UIDs: the order does not survive (RFC 5182 §2.4). */
		uint32_t *uids = xmalloc((r.n ? r.n : 1) * sizeof *uids);
		for (size_t i = 0; i < r.n; i++)
			uids[i] = r.recs[i].uid;
		qsort(uids, r.n, sizeof *uids, cmp_u32);
		imap_search_save(s->view, cmd->search_ret, uids, r.n);
		free(uids);
	}
	imap_search_reply(s, cmd, "SORT", nums, modseqs, r.n, modseq);
	if (cmd->search_ret & IMAP_RET_UPDATE)
		imap_search_ctx_add(s, cmd, NULL, 0, 0);       /* refused: NOUPDATE */
	free(nums);
	free(modseqs);
	sort_run_free(&r);
	imap_ok(s, cmd, "%s completed", what);
}
