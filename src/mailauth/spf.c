/*
 * spf.c — the SPF evaluator: check_host() of RFC 7208 as a state machine
 * on the caller's event loop.  See spf.h for the interface; the record
 * grammar is spf_record.c, the macro language spf_macro.c, the trace
 * fields spf_header.c.
 *
 * One check is a stack of frames, one per check_host() in progress: the
 * identity's domain at the bottom, one more per include: being evaluated.
 * redirect= replaces the top frame (its result is the frame's result).
 * step() performs one transition; run() repeats it until DNS answers are
 * awaited (pending > 0) or the result is known (done).  Every DNS callback
 * stores what it needs (answers live only during the callback) and calls
 * run().  The phases:
 *
 *   FETCH --TXT--> FETCHED --> TERM <------------------+ (next term)
 *                    | none / error: finish            |
 *   TERM: all, ip4, ip6 decide at once;                |
 *         a, exists --A/AAAA--> MECH ------------------+
 *         mx --MX--> MX_HOSTS --A/AAAA x n--> MECH
 *         ptr --> PTR_LOOKUP --PTR--> PTR_VALIDATE --A/AAAA x n--> PTR_MATCH
 *         include: push a frame, FETCH
 *   END_OF_TERMS: redirect= (replace the frame, FETCH), else neutral
 *
 * A frame's result (frame_result) goes back into its parent's TERM for an
 * include; the bottom frame's ends the check, through EXP --TXT-->
 * EXP_FETCHED when it is a fail and the record has exp=.
 *
 * %{p} needs PTR lookups before a macro can be expanded: such a term
 * first runs PTR_LOOKUP / PTR_VALIDATE for every name (P_READY) and then
 * comes back to the phase it was in.  Errors (temperror, permerror) end
 * the whole check wherever they occur (§5.2).
 */
#include "mailauth/spf.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <idn2.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "mailauth/spf_macro.h"
#include "mailauth/spf_record.h"

#define SPF_LOOKUP_LIMIT 10      /* terms that query DNS (§4.6.4) */
#define SPF_VOID_LIMIT 2         /* NXDOMAIN / empty answers (§4.6.4) */
#define SPF_PER_ANSWER_LIMIT 10  /* MX hosts, PTR names looked at (§4.6.4) */
#define SPF_DEPTH_MAX (SPF_LOOKUP_LIMIT + 2)
#define SPF_SLOTS SPF_PER_ANSWER_LIMIT
#define SPF_EXPAND_MAX 2048      /* an expanded domain-spec before cutting to 253 */
#define SPF_EXP_EXPAND_MAX 4096  /* an expanded explanation before cutting */

enum phase {
	PH_FETCH, PH_FETCHED, PH_TERM, PH_MECH, PH_MX_HOSTS,
	PH_PTR_LOOKUP, PH_PTR_VALIDATE, PH_PTR_MATCH, PH_P_READY,
	PH_END_OF_TERMS, PH_EXP, PH_EXP_FETCHED,
};

/* What an outstanding query is for. */
enum qkind { Q_TXT, Q_EXP_TXT, Q_ADDR, Q_EXISTS, Q_MX, Q_MX_ADDR, Q_PTR, Q_PTR_ADDR };

enum ptr_valid { V_UNKNOWN, V_PENDING, V_YES, V_NO };

struct spf_slot {
	struct spf_check *c;
	struct dns_query *q;
	enum qkind kind;
	unsigned idx;
	bool busy;
};

struct spf_frame {
	char domain[SPF_NAME_MAX];
	struct spf_record rec;
	size_t next;                 /* the term being evaluated */
	bool via_redirect;           /* reached by redirect=: no record is a permerror */
};

struct spf_check {
	struct mailauth_dns dns;
	struct event *kick, *deadline;
	spf_done_cb cb;
	void *arg;
	bool done, delivering;

	uint8_t ip[16];
	bool v6;
	char ip_dotted[80];
	char timestamp[24];
	char local[SPF_NAME_MAX];    /* raw, for %{l}; the outcome's copy is printable */
	char sender_raw[SPF_ADDRESS_MAX];
	char helo_raw[SPF_ADDRESS_MAX];

	struct spf_outcome out;

	struct spf_frame frames[SPF_DEPTH_MAX];
	size_t depth;                /* frames in use; the top is frames[depth - 1] */
	unsigned lookups, voids;

	enum phase phase;
	size_t pending;
	struct spf_slot slots[SPF_SLOTS];

	/* the mechanism being evaluated */
	char target[SPF_EXPAND_MAX];
	enum dns_status st;          /* of its (first) query */
	bool matched, temp;
	size_t n_mx;
	bool mx_too_many;
	char mx_hosts[SPF_PER_ANSWER_LIMIT][SPF_NAME_MAX];

	/* the TXT answer of FETCH */
	char *txt;
	size_t txt_len, n_spf;

	/* the reverse names of the client, shared by ptr and %{p} */
	bool ptr_looked_up, ptr_count_void, ptr_for_mech, ptr_want_all, ptr_all_validated;
	enum dns_status ptr_st;
	size_t n_ptr;
	char ptr_names[SPF_PER_ANSWER_LIMIT][SPF_NAME_MAX];
	enum ptr_valid ptr_valid[SPF_PER_ANSWER_LIMIT];
	enum phase p_return;
	char p_value[SPF_NAME_MAX];

	char *exp_txt;
	size_t exp_len;
};

static void run(struct spf_check *c);

const char *spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "?";
}

/* Text for the outcome: printable ASCII only, cut to size. */
static void copy_printable(char *dst, size_t size, const char *src, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && src[i] && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[o] = '\0';
}

/* dst holds SPF_NAME_MAX; names reaching here were checked to fit. */
static void copy_name(char *dst, const char *src)
{
	size_t n = strlen(src);
	if (n >= SPF_NAME_MAX)
		n = SPF_NAME_MAX - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static struct spf_frame *top(struct spf_check *c)
{
	return &c->frames[c->depth - 1];
}

static void cancel_queries(struct spf_check *c)
{
	for (size_t i = 0; i < SPF_SLOTS; i++) {
		struct spf_slot *s = &c->slots[i];
		if (s->busy) {
			c->dns.cancel(c->dns.ctx, s->q);
			s->busy = false;
			s->q = NULL;
		}
	}
	c->pending = 0;
}

static void finish(struct spf_check *c, enum spf_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void finish(struct spf_check *c, enum spf_result r, const char *fmt, ...)
{
	if (c->done)
		return;
	c->out.result = r;
	if (fmt) {
		char tmp[SPF_PROBLEM_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(tmp, sizeof tmp, fmt, ap);
		va_end(ap);
		copy_printable(c->out.problem, sizeof c->out.problem, tmp, sizeof tmp);
	}
	c->out.dns_lookups = c->lookups;
	c->out.void_lookups = c->voids;
	c->done = true;
	cancel_queries(c);
}

/* ---- addresses ---------------------------------------------------------- */

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	size_t whole = bits / 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	unsigned rest = bits % 8;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* Does a textual A/AAAA answer fall in the client's prefix of bits? */
static bool addr_matches(const struct spf_check *c, const char *text, unsigned bits)
{
	uint8_t a[16];
	if (inet_pton(c->v6 ? AF_INET6 : AF_INET, text, a) != 1)
		return false;
	return prefix_match(a, c->ip, bits);
}

static enum dns_type addr_type(const struct spf_check *c)
{
	return c->v6 ? DNS_AAAA : DNS_A;
}

/* name equals domain or is a subdomain of it (case-insensitive) */
static bool name_in_domain(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);
	if (n < d || strcasecmp(name + n - d, domain) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

/* ---- DNS ---------------------------------------------------------------- */

static bool any_addr_matches(const struct spf_check *c, const struct dns_result *r, unsigned bits)
{
	if (r->status != DNS_OK)
		return false;
	for (size_t i = 0; i < r->n; i++)
		if (addr_matches(c, r->addrs[i], bits))
			return true;
	return false;
}

/* Take what the check needs from an answer (valid only now). */
static void handle_answer(struct spf_check *c, enum qkind kind, unsigned idx, const struct dns_result *r)
{
	switch (kind) {
	case Q_TXT:
		c->st = r->status;
		c->n_spf = 0;
		for (size_t i = 0; r->status == DNS_OK && i < r->n; i++) {
			if (!spf_record_is_spf1(r->txt[i].data, r->txt[i].len))
				continue;
			if (++c->n_spf == 1) {
				/* One byte more than a record may have: the parser then says "too long". */
				size_t n = r->txt[i].len > SPF_RECORD_MAX ? SPF_RECORD_MAX + 1 : r->txt[i].len;
				c->txt = xmemdup0(r->txt[i].data, n);
				c->txt_len = n;
			}
		}
		break;
	case Q_EXP_TXT:
		/* §6.2: anything but exactly one record means no explanation. */
		if (r->status == DNS_OK && r->n == 1 && r->txt[0].len <= SPF_RECORD_MAX) {
			c->exp_txt = xmemdup0(r->txt[0].data, r->txt[0].len);
			c->exp_len = r->txt[0].len;
		}
		break;
	case Q_ADDR: {
		const struct spf_term *t = &top(c)->rec.terms[top(c)->next];
		c->st = r->status;
		c->matched = any_addr_matches(c, r, c->v6 ? t->cidr6 : t->cidr4);
		break;
	}
	case Q_EXISTS:
		c->st = r->status;
		c->matched = r->status == DNS_OK && r->n > 0;
		break;
	case Q_MX:
		c->st = r->status;
		c->n_mx = 0;
		c->mx_too_many = r->status == DNS_OK && r->n > SPF_PER_ANSWER_LIMIT;
		for (size_t i = 0; r->status == DNS_OK && !r->null_mx && i < r->n && i < SPF_PER_ANSWER_LIMIT; i++) {
			if (r->mx[i].host[0] == '\0')
				continue;
			snprintf(c->mx_hosts[c->n_mx++], SPF_NAME_MAX, "%s", r->mx[i].host);
		}
		break;
	case Q_MX_ADDR: {
		const struct spf_term *t = &top(c)->rec.terms[top(c)->next];
		if (any_addr_matches(c, r, c->v6 ? t->cidr6 : t->cidr4)) {
			c->matched = true;
			cancel_queries(c);    /* one match decides; the others do not matter */
		} else if (r->status == DNS_TEMPFAIL) {
			c->temp = true;
		}
		break;
	}
	case Q_PTR:
		c->ptr_looked_up = true;
		c->ptr_st = r->status;
		c->n_ptr = 0;
		/* §4.6.4: only the first 10 names are looked at. */
		for (size_t i = 0; r->status == DNS_OK && i < r->n && c->n_ptr < SPF_PER_ANSWER_LIMIT; i++) {
			if (strlen(r->names[i]) >= SPF_NAME_MAX)
				continue;
			snprintf(c->ptr_names[c->n_ptr], SPF_NAME_MAX, "%s", r->names[i]);
			c->ptr_valid[c->n_ptr++] = V_UNKNOWN;
		}
		break;
	case Q_PTR_ADDR:
		/* §5.5: an error only skips the name. */
		c->ptr_valid[idx] = any_addr_matches(c, r, c->v6 ? 128 : 32) ? V_YES : V_NO;
		break;
	}
}

static void on_answer(const struct dns_result *r, void *arg)
{
	struct spf_slot *s = arg;
	struct spf_check *c = s->c;
	s->busy = false;
	s->q = NULL;
	c->pending--;
	handle_answer(c, s->kind, s->idx, r);
	run(c);
}

static void query(struct spf_check *c, const char *name, enum dns_type type, enum qkind kind, unsigned idx)
{
	struct spf_slot *s = NULL;
	for (size_t i = 0; i < SPF_SLOTS && !s; i++)
		if (!c->slots[i].busy)
			s = &c->slots[i];
	if (!s) {
		finish(c, SPF_TEMPERROR, "internal: no query slot");
		return;
	}
	s->c = c;
	s->kind = kind;
	s->idx = idx;
	s->q = c->dns.lookup(c->dns.ctx, name, type, on_answer, s);
	if (!s->q) {
		/* Not even started: a name DNS cannot carry does not exist; else try later. */
		struct dns_result r = { .type = type, .why = "query not started" };
		r.status = dns_name_valid(name) ? DNS_TEMPFAIL : DNS_BADNAME;
		handle_answer(c, kind, idx, &r);
		return;
	}
	s->busy = true;
	c->pending++;
}

/* ---- limits and macros -------------------------------------------------- */

static bool count_lookup(struct spf_check *c)
{
	if (++c->lookups > SPF_LOOKUP_LIMIT) {
		finish(c, SPF_PERMERROR, "more than %d DNS lookups", SPF_LOOKUP_LIMIT);
		return false;
	}
	return true;
}

/* A lookup that found nothing; false (and permerror) past the limit. */
static bool count_void(struct spf_check *c, enum dns_status st)
{
	if (st != DNS_NXDOMAIN && st != DNS_NODATA)
		return true;
	if (++c->voids > SPF_VOID_LIMIT) {
		finish(c, SPF_PERMERROR, "more than %d void lookups", SPF_VOID_LIMIT);
		return false;
	}
	return true;
}

static void macro_vars(struct spf_check *c, const char *domain, struct spf_macro_vars *v)
{
	*v = (struct spf_macro_vars){
		.sender = c->sender_raw,
		.local = c->local,
		.sender_domain = c->out.domain,
		.domain = domain,
		.ip_dotted = c->ip_dotted,
		.ptr_name = c->p_value,
		.helo = c->helo_raw,
		.ip_text = c->out.client_ip,
		.receiver = c->out.receiver,
		.timestamp = c->timestamp,
		.ipv6 = c->v6,
	};
}

/*
 * The target-name of a term (§4.8): its domain-spec expanded, or the
 * current domain.  false when no usable name results (the caller decides
 * what a name that cannot exist means for the term).
 */
static bool expand_target(struct spf_check *c, const struct spf_record *rec, size_t off, size_t len)
{
	const char *domain = top(c)->domain;
	if (len == 0) {
		snprintf(c->target, sizeof c->target, "%s", domain);
		return true;
	}
	struct spf_macro_vars v;
	macro_vars(c, domain, &v);
	if (spf_macro_expand(rec->text + off, len, SPF_MACRO_DOMAIN, &v, c->target, sizeof c->target,
			     NULL, NULL) != SPF_MACRO_OK)
		return false;
	return spf_macro_domain_finish(c->target) && strlen(c->target) < SPF_NAME_MAX;
}

/* %{p} for the current domain (§7.3): itself, else a subdomain, else any validated name. */
static void choose_p(struct spf_check *c)
{
	const char *domain = top(c)->domain;
	const char *pick = NULL;
	for (int pass = 0; pass < 3 && !pick; pass++) {
		for (size_t i = 0; i < c->n_ptr && !pick; i++) {
			if (c->ptr_valid[i] != V_YES)
				continue;
			const char *n = c->ptr_names[i];
			if ((pass == 0 && strcasecmp(n, domain) == 0) || (pass == 1 && name_in_domain(n, domain)) ||
			    pass == 2)
				pick = n;
		}
	}
	snprintf(c->p_value, sizeof c->p_value, "%s", pick ? pick : "unknown");
}

/* true when %{p} can be expanded now; else the PTR work starts and comes back to ret. */
static bool ensure_p(struct spf_check *c, bool needed, enum phase ret)
{
	if (!needed)
		return true;
	if (c->ptr_all_validated) {
		choose_p(c);
		return true;
	}
	c->p_return = ret;
	c->ptr_want_all = true;
	c->ptr_for_mech = false;
	c->phase = PH_PTR_LOOKUP;
	return false;
}

/* ---- frames ------------------------------------------------------------- */

static enum spf_result qualifier_result(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	default: return SPF_PASS;
	}
}

static void pop_frame(struct spf_check *c)
{
	spf_record_free(&top(c)->rec);
	c->depth--;
}

/*
 * The top frame's check_host() ended with r, matched by term t (NULL: no
 * mechanism matched).  An include frame hands it to the include in its
 * parent (§5.2); the bottom frame ends the check.
 */
static void frame_result(struct spf_check *c, enum spf_result r, const struct spf_term *t)
{
	if (c->depth > 1) {
		pop_frame(c);
		struct spf_frame *parent = top(c);
		const struct spf_term *inc = &parent->rec.terms[parent->next];
		if (r == SPF_PASS) {
			frame_result(c, qualifier_result(inc->qualifier), inc);
			return;
		}
		parent->next++;
		c->phase = PH_TERM;
		return;
	}
	struct spf_frame *f = top(c);
	if (t)
		copy_printable(c->out.mechanism, sizeof c->out.mechanism, f->rec.text + t->text_off, t->text_len);
	else
		snprintf(c->out.mechanism, sizeof c->out.mechanism, "default");
	c->out.result = r;
	if (r == SPF_FAIL && t && f->rec.has_exp) {
		c->phase = PH_EXP;
		return;
	}
	finish(c, r, NULL);
}

static void mechanism_done(struct spf_check *c, bool matched)
{
	struct spf_frame *f = top(c);
	if (matched) {
		const struct spf_term *t = &f->rec.terms[f->next];
		frame_result(c, qualifier_result(t->qualifier), t);
		return;
	}
	f->next++;
	c->phase = PH_TERM;
}

static void push_frame(struct spf_check *c, const char *domain, bool via_redirect)
{
	if (c->depth == SPF_DEPTH_MAX) {
		finish(c, SPF_PERMERROR, "includes nested too deeply");
		return;
	}
	struct spf_frame *f = &c->frames[c->depth++];
	memset(f, 0, sizeof *f);
	copy_name(f->domain, domain);
	f->via_redirect = via_redirect;
	c->phase = PH_FETCH;
}

/* ---- the phases --------------------------------------------------------- */

static void step_fetched(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	bool inner = c->depth > 1 || f->via_redirect;
	if (c->st == DNS_TEMPFAIL) {
		finish(c, SPF_TEMPERROR, "DNS error looking up TXT %s", f->domain);
	} else if (c->st != DNS_OK || c->n_spf == 0) {
		/* §4.3/§4.5: none; for include and redirect §5.2/§6.1: permerror. */
		if (inner)
			finish(c, SPF_PERMERROR, "no SPF record at %s", f->domain);
		else
			finish(c, SPF_NONE, "no SPF record at %s", f->domain);
	} else if (c->n_spf > 1) {
		finish(c, SPF_PERMERROR, "more than one SPF record at %s", f->domain);
	} else {
		char why[128];
		if (!spf_record_parse(c->txt, c->txt_len, &f->rec, why, sizeof why)) {
			finish(c, SPF_PERMERROR, "%s in the record of %s", why, f->domain);
		} else {
			f->next = 0;
			c->phase = PH_TERM;
		}
	}
	XFREE(&c->txt);
}

static void step_term(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	if (f->next >= f->rec.n_terms) {
		c->phase = PH_END_OF_TERMS;
		return;
	}
	const struct spf_term *t = &f->rec.terms[f->next];
	switch (t->mech) {
	case SPF_MECH_ALL:
		mechanism_done(c, true);
		return;
	case SPF_MECH_IP4:
		mechanism_done(c, !c->v6 && prefix_match(c->ip, t->addr, t->cidr4));
		return;
	case SPF_MECH_IP6:
		mechanism_done(c, c->v6 && prefix_match(c->ip, t->addr, t->cidr6));
		return;
	default:
		break;
	}
	if (!ensure_p(c, t->spec_uses_p, PH_TERM) || !count_lookup(c))
		return;
	bool ok = expand_target(c, &f->rec, t->spec_off, t->spec_len);
	c->matched = c->temp = false;
	c->st = DNS_OK;
	if (!ok) {
		/* A target that cannot be a DNS name does not exist (§4.3 by analogy). */
		if (t->mech == SPF_MECH_INCLUDE)
			finish(c, SPF_PERMERROR, "include target of '%.*s' is not a domain name",
			       (int)t->text_len, f->rec.text + t->text_off);
		else
			mechanism_done(c, false);
		return;
	}
	switch (t->mech) {
	case SPF_MECH_A:
		query(c, c->target, addr_type(c), Q_ADDR, 0);
		c->phase = PH_MECH;
		break;
	case SPF_MECH_EXISTS:
		query(c, c->target, DNS_A, Q_EXISTS, 0);
		c->phase = PH_MECH;
		break;
	case SPF_MECH_MX:
		query(c, c->target, DNS_MX, Q_MX, 0);
		c->phase = PH_MX_HOSTS;
		break;
	case SPF_MECH_PTR:
		c->ptr_for_mech = true;
		c->ptr_want_all = false;
		c->phase = PH_PTR_LOOKUP;
		break;
	case SPF_MECH_INCLUDE: {
		push_frame(c, c->target, false);
		break;
	}
	default:
		break;
	}
}

/* After the query of a, exists, or the hosts of mx. */
static void step_mech(struct spf_check *c)
{
	if (c->matched) {
		mechanism_done(c, true);
		return;
	}
	if (c->st == DNS_TEMPFAIL || c->temp) {
		finish(c, SPF_TEMPERROR, "DNS error in '%.*s' at %s", (int)top(c)->rec.terms[top(c)->next].text_len,
		       top(c)->rec.text + top(c)->rec.terms[top(c)->next].text_off, top(c)->domain);
		return;
	}
	if (!count_void(c, c->st))
		return;
	mechanism_done(c, false);
}

static void step_mx_hosts(struct spf_check *c)
{
	if (c->st == DNS_TEMPFAIL) {
		c->phase = PH_MECH;
		return;
	}
	if (!count_void(c, c->st))
		return;
	if (c->mx_too_many) {
		finish(c, SPF_PERMERROR, "more than %d MX records for %s", SPF_PER_ANSWER_LIMIT, c->target);
		return;
	}
	c->st = DNS_OK;       /* the MX answer is dealt with; only the hosts matter now */
	for (size_t i = 0; i < c->n_mx && !c->done && !c->matched; i++)
		query(c, c->mx_hosts[i], addr_type(c), Q_MX_ADDR, (unsigned)i);
	c->phase = PH_MECH;
}

static void step_ptr_lookup(struct spf_check *c)
{
	if (!c->ptr_looked_up) {
		/* Q_PTR's answer sets ptr_looked_up; then this phase runs again. */
		c->ptr_count_void = c->ptr_for_mech;
		query(c, c->out.client_ip, DNS_PTR, Q_PTR, 0);
		return;
	}
	/* Only the ptr mechanism's own lookup counts as void, not one for %{p}. */
	if (c->ptr_count_void) {
		c->ptr_count_void = false;
		if (!count_void(c, c->ptr_st))
			return;
	}
	c->phase = PH_PTR_VALIDATE;
}

static void step_ptr_validate(struct spf_check *c)
{
	for (size_t i = 0; i < c->n_ptr && !c->done; i++) {
		if (c->ptr_valid[i] != V_UNKNOWN)
			continue;
		if (!c->ptr_want_all && !name_in_domain(c->ptr_names[i], c->target))
			continue;
		c->ptr_valid[i] = V_PENDING;
		query(c, c->ptr_names[i], addr_type(c), Q_PTR_ADDR, (unsigned)i);
	}
	if (c->pending)
		return;         /* back here when they are in; nothing new is then issued */
	c->phase = c->ptr_want_all ? PH_P_READY : PH_PTR_MATCH;
}

static void step_ptr_match(struct spf_check *c)
{
	bool m = false;
	for (size_t i = 0; i < c->n_ptr && !m; i++)
		m = c->ptr_valid[i] == V_YES && name_in_domain(c->ptr_names[i], c->target);
	mechanism_done(c, m);
}

static void step_end_of_terms(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	/* §6.1: redirect= is ignored when the record has an "all". */
	if (!f->rec.has_redirect || f->rec.has_all) {
		frame_result(c, SPF_NEUTRAL, NULL);
		return;
	}
	if (!ensure_p(c, f->rec.redirect_uses_p, PH_END_OF_TERMS) || !count_lookup(c))
		return;
	if (!expand_target(c, &f->rec, f->rec.redirect_off, f->rec.redirect_len)) {
		finish(c, SPF_PERMERROR, "redirect target of %s is not a domain name", f->domain);
		return;
	}
	spf_record_free(&f->rec);
	memset(f, 0, sizeof *f);
	copy_name(f->domain, c->target);
	f->via_redirect = true;
	c->phase = PH_FETCH;
}

static void step_exp(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	if (!ensure_p(c, f->rec.exp_uses_p, PH_EXP))
		return;
	/* §6.2: whatever goes wrong with exp= just leaves the explanation out. */
	if (!expand_target(c, &f->rec, f->rec.exp_off, f->rec.exp_len)) {
		finish(c, SPF_FAIL, NULL);
		return;
	}
	query(c, c->target, DNS_TXT, Q_EXP_TXT, 0);
	c->phase = PH_EXP_FETCHED;
}

static void step_exp_fetched(struct spf_check *c)
{
	bool uses_p = false;
	if (!c->exp_txt ||
	    spf_macro_expand(c->exp_txt, c->exp_len, SPF_MACRO_EXPLAIN, NULL, NULL, 0, NULL, &uses_p) != SPF_MACRO_OK) {
		finish(c, SPF_FAIL, NULL);
		return;
	}
	if (!ensure_p(c, uses_p, PH_EXP_FETCHED))
		return;
	struct spf_macro_vars v;
	macro_vars(c, top(c)->domain, &v);
	char *buf = xmalloc(SPF_EXP_EXPAND_MAX);
	size_t n;
	if (spf_macro_expand(c->exp_txt, c->exp_len, SPF_MACRO_EXPLAIN, &v, buf, SPF_EXP_EXPAND_MAX, &n, NULL) ==
	    SPF_MACRO_OK)
		copy_printable(c->out.explanation, sizeof c->out.explanation, buf, n);
	free(buf);
	finish(c, SPF_FAIL, NULL);
}

static void step(struct spf_check *c)
{
	switch (c->phase) {
	case PH_FETCH:
		query(c, top(c)->domain, DNS_TXT, Q_TXT, 0);
		c->phase = PH_FETCHED;
		break;
	case PH_FETCHED: step_fetched(c); break;
	case PH_TERM: step_term(c); break;
	case PH_MECH: step_mech(c); break;
	case PH_MX_HOSTS: step_mx_hosts(c); break;
	case PH_PTR_LOOKUP: step_ptr_lookup(c); break;
	case PH_PTR_VALIDATE: step_ptr_validate(c); break;
	case PH_PTR_MATCH: step_ptr_match(c); break;
	case PH_P_READY:
		c->ptr_all_validated = true;
		c->phase = c->p_return;
		break;
	case PH_END_OF_TERMS: step_end_of_terms(c); break;
	case PH_EXP: step_exp(c); break;
	case PH_EXP_FETCHED: step_exp_fetched(c); break;
	}
}

static void check_free(struct spf_check *c)
{
	cancel_queries(c);
	while (c->depth)
		pop_frame(c);
	if (c->kick)
		event_free(c->kick);
	if (c->deadline)
		event_free(c->deadline);
	free(c->txt);
	free(c->exp_txt);
	free(c);
}

static void run(struct spf_check *c)
{
	while (!c->done && c->pending == 0)
		step(c);
	if (!c->done)
		return;
	log_debug("spf", "identity=%s domain=%s ip=%s result=%s mechanism=%s lookups=%u voids=%u problem=%s",
		  c->out.identity == SPF_IDENTITY_HELO ? "helo" : "mailfrom", lq(c->out.domain), c->out.client_ip,
		  spf_result_name(c->out.result), lq(c->out.mechanism), c->out.dns_lookups, c->out.void_lookups,
		  lq(c->out.problem));
	c->delivering = true;
	c->cb(&c->out, c->arg);
	check_free(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	run(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct spf_check *c = arg;
	finish(c, SPF_TEMPERROR, "SPF check timed out");
	run(c);
}

/* ---- start -------------------------------------------------------------- */

static bool client_address(struct spf_check *c, const struct spf_request *rq)
{
	uint8_t a[16];
	if (rq->ip) {
		if (inet_pton(AF_INET, rq->ip, a) == 1) {
			memcpy(c->ip, a, 4);
			c->v6 = false;
		} else if (inet_pton(AF_INET6, rq->ip, a) == 1) {
			memcpy(c->ip, a, 16);
			c->v6 = true;
		} else {
			return false;
		}
	} else if (rq->addr && rq->addr->sa_family == AF_INET) {
		memcpy(c->ip, &((const struct sockaddr_in *)(const void *)rq->addr)->sin_addr, 4);
		c->v6 = false;
	} else if (rq->addr && rq->addr->sa_family == AF_INET6) {
		memcpy(c->ip, &((const struct sockaddr_in6 *)(const void *)rq->addr)->sin6_addr, 16);
		c->v6 = true;
	} else {
		return false;
	}
	/* §5: an IPv4-mapped IPv6 address is the IPv4 address. */
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (c->v6 && memcmp(c->ip, mapped, 12) == 0) {
		memmove(c->ip, c->ip + 12, 4);
		c->v6 = false;
	}
	inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->ip, c->out.client_ip, sizeof c->out.client_ip);
	if (!c->v6) {
		snprintf(c->ip_dotted, sizeof c->ip_dotted, "%s", c->out.client_ip);
	} else {
		/*
		 * 32 dot-separated nibbles (§7.3).  Upper case, as the RFC 7208
		 * test suite expects in explanations; DNS does not care.
		 */
		static const char hex[] = "0123456789ABCDEF";
		size_t o = 0;
		for (int i = 0; i < 16; i++) {
			c->ip_dotted[o++] = hex[c->ip[i] >> 4];
			c->ip_dotted[o++] = '.';
			c->ip_dotted[o++] = hex[c->ip[i] & 15];
			c->ip_dotted[o++] = i < 15 ? '.' : '\0';
		}
	}
	return true;
}

/*
 * §4.3: the <domain> must be a multi-label domain name with labels of
 * 1..63 octets, at most 253 in all; an address literal is none.
 */
static bool initial_domain_valid(const char *d)
{
	if (d[0] == '[' || !dns_name_valid(d))
		return false;
	const char *dot = strchr(d, '.');
	return dot && dot[1] != '\0';
}

struct spf_check *spf_check_start(const struct mailauth_dns *dns, struct event_base *base,
				  const struct spf_request *rq, spf_done_cb cb, void *arg)
{
	struct spf_check *c = xcalloc(1, sizeof *c);
	c->dns = *dns;
	c->cb = cb;
	c->arg = arg;
	c->kick = evtimer_new(base, on_kick, c);
	c->deadline = evtimer_new(base, on_deadline, c);
	if (!c->kick || !c->deadline) {
		log_error("spf", "msg=\"cannot create timer\"");
		abort();
	}
	snprintf(c->timestamp, sizeof c->timestamp, "%lld", (long long)time(NULL));
	snprintf(c->p_value, sizeof c->p_value, "unknown");

	struct spf_outcome *o = &c->out;
	o->identity = rq->identity;
	const char *helo = rq->helo ? rq->helo : "";
	const char *from = rq->mail_from ? rq->mail_from : "";
	snprintf(c->helo_raw, sizeof c->helo_raw, "%s", helo);
	copy_printable(o->helo, sizeof o->helo, helo, strlen(helo));
	copy_printable(o->envelope_from, sizeof o->envelope_from, from, strlen(from));
	const char *recv = rq->receiver && rq->receiver[0] ? rq->receiver : "unknown";
	copy_printable(o->receiver, sizeof o->receiver, recv, strlen(recv));

	/* §4.3 and §2.4: the <sender>; the null sender and HELO check postmaster@helo. */
	const char *domain = helo;
	snprintf(c->local, sizeof c->local, "postmaster");
	if (rq->identity == SPF_IDENTITY_MAILFROM && from[0]) {
		const char *at = strrchr(from, '@');
		domain = at ? at + 1 : from;
		if (at && at > from)
			snprintf(c->local, sizeof c->local, "%.*s", (int)(at - from), from);
	}
	char *alabel = NULL;
	bool ascii = true;
	for (const char *p = domain; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	/* §4.3: internationalized names are checked in their A-label form. */
	if (!ascii && idn2_to_ascii_8z(domain, &alabel, IDN2_NONTRANSITIONAL) == IDN2_OK)
		domain = alabel;
	copy_printable(o->domain, sizeof o->domain, domain, strlen(domain));
	size_t dl = strlen(o->domain);
	if (dl > 1 && o->domain[dl - 1] == '.')
		o->domain[dl - 1] = '\0';
	/* What is looked up must be what was given: no '?' stand-ins for control bytes. */
	char domain_checked[SPF_NAME_MAX];
	snprintf(domain_checked, sizeof domain_checked, "%.*s", (int)strnlen(domain, SPF_NAME_MAX - 1), domain);
	dl = strlen(domain_checked);
	if (dl > 1 && domain_checked[dl - 1] == '.')
		domain_checked[dl - 1] = '\0';
	snprintf(c->sender_raw, sizeof c->sender_raw, "%s@%s", c->local, o->domain);
	copy_printable(o->sender, sizeof o->sender, c->sender_raw, sizeof c->sender_raw);
	bool domain_ok = (ascii || alabel) && strlen(domain) < SPF_NAME_MAX &&
			 strcmp(domain_checked, o->domain) == 0 && initial_domain_valid(o->domain);
	idn2_free(alabel);

	struct timeval tv = { 0, 0 };
	evtimer_add(c->kick, &tv);
	unsigned ms = rq->timeout_ms ? rq->timeout_ms : SPF_TIMEOUT_MS_DEFAULT;
	struct timeval dl_tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->deadline, &dl_tv);

	if (!client_address(c, rq)) {
		finish(c, SPF_PERMERROR, "client address is not an IP address");
	} else if (!domain_ok) {
		finish(c, SPF_NONE, "'%s' is not a domain name", o->domain);
	} else {
		push_frame(c, o->domain, false);
	}
	return c;
}

void spf_check_cancel(struct spf_check **cp)
{
	struct spf_check *c = *cp;
	*cp = NULL;
	/* From inside its own callback the check is freed on return anyway. */
	if (!c || c->delivering)
		return;
	check_free(c);
}
