/*
 * thread.c — the THREAD algorithms of RFC 5256 §3 over an array of
 * messages (thread.h), and the THREAD response syntax.
 *
 * ORDEREDSUBJECT: messages sorted by base subject then sent date; each
 * run of one subject is a thread whose first message is the parent of
 * all the others; threads in the order of their first message's date.
 *
 * REFERENCES, the five steps of the RFC:
 *   1. link containers by Message-ID / References (In-Reply-To when no
 *      References): each pair of consecutive references parent → child
 *      unless the child has a parent already or the link would make a
 *      loop; the message under its last reference, breaking an older
 *      parent first, again refusing a loop.  A message without an id, or
 *      with one another message already took, gets a container of its own.
 *   2. the root set: containers without a parent;
 *   3. dummies (ids only referred to) pruned: a message's parent becomes
 *      its nearest ancestor that is a message; messages whose ancestors
 *      are all dummies hang under their root dummy when there are two or
 *      more of them, else stand as a root themselves;
 *   4. roots sorted by date (a dummy takes its first child's);
 *   5. roots of one base subject merged (a dummy wins over a message, a
 *      non-reply over a reply; two messages get a new dummy parent);
 *   6. every set of siblings sorted by date.
 * Ties in date go to the lower sequence number throughout.
 *
 * Ids are found through an open-addressing hash table, so step 1 is
 * linear but for the loop checks, which walk parent chains — bounded by
 * THREAD_WALK_MAX steps (a longer walk counts as a loop and the link is
 * not made).  Nothing recurses: pruning memoises along parent chains,
 * the output is written with an explicit stack.
 */
#include "imap/thread.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define THREAD_WALK_MAX 100000  /* parent links followed by one loop check */

/* ---- the output tree ------------------------------------------------------- */

/* A node of the final tree: a message, or a dummy holding messages together. */
struct tnode {
	int32_t msg;                /* index into msgs, -1 for a dummy */
	int32_t parent;
	int32_t first, next;        /* first child, next sibling */
	int64_t date;               /* sort key: the message's date, a dummy's first child's */
	uint32_t order;             /* tie-break: the message's index, a dummy's first child's */
	bool removed;
};

struct tree {
	struct tnode *n;
	size_t len, cap;
};

static int32_t tree_add(struct tree *t, int32_t msg, const struct imap_thread_msg *msgs)
{
	if (t->len == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->n = xrealloc(t->n, t->cap * sizeof *t->n);
	}
	struct tnode *x = &t->n[t->len];
	memset(x, 0, sizeof *x);
	x->msg = msg;
	x->parent = x->first = x->next = -1;
	if (msg >= 0) {
		x->date = msgs[msg].date;
		x->order = (uint32_t)msg;
	}
	return (int32_t)t->len++;
}

/* Append child as the last child of parent (order is fixed by the final sort). */
static void tree_adopt(struct tree *t, int32_t parent, int32_t child)
{
	t->n[child].parent = parent;
	t->n[child].next = t->n[parent].first;
	t->n[parent].first = child;
}

static int cmp_node_ptr(const void *a, const void *b, void *arg)
{
	const struct tree *t = arg;
	const struct tnode *x = &t->n[*(const int32_t *)a], *y = &t->n[*(const int32_t *)b];
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sort the sibling list starting at *head by date; tmp has room for every node. */
static void sort_siblings(struct tree *t, int32_t *head, int32_t *tmp)
{
	size_t k = 0;
	for (int32_t c = *head; c >= 0; c = t->n[c].next)
		tmp[k++] = c;
	if (k > 1)
		qsort_r(tmp, k, sizeof *tmp, cmp_node_ptr, t);
	*head = k ? tmp[0] : -1;
	for (size_t i = 0; i < k; i++)
		t->n[tmp[i]].next = i + 1 < k ? tmp[i + 1] : -1;
}

/*
 * Step 6: every sibling set by date.  Dummies hold only messages (the
 * pruning and merging guarantee it), so sorting their children first
 * gives each dummy its date before the roots are sorted.
 */
static void sort_all(struct tree *t, int32_t *roots)
{
	int32_t *tmp = xmalloc((t->len ? t->len : 1) * sizeof *tmp);
	for (size_t i = 0; i < t->len; i++) {
		struct tnode *x = &t->n[i];
		if (x->removed || x->first < 0)
			continue;
		sort_siblings(t, &x->first, tmp);
		if (x->msg < 0) {
			x->date = t->n[x->first].date;
			x->order = t->n[x->first].order;
		}
	}
	sort_siblings(t, roots, tmp);
	free(tmp);
}

/*
 * Down the chain of only children from node: its numbers, until a leaf
 * (true) or a node with two or more children, whose first child is
 * pushed for the caller to open (false).
 */
static bool write_chain(struct buf *out, const struct tree *t, int32_t node, const struct imap_thread_msg *msgs,
			int32_t *stack, size_t *sp)
{
	bool number = false;
	for (;;) {
		const struct tnode *x = &t->n[node];
		if (x->msg >= 0) {
			buf_printf(out, number ? " %u" : "%u", msgs[x->msg].num);
			number = true;
		}
		if (x->first < 0)
			return true;
		if (t->n[x->first].next < 0) {
			node = x->first;
			continue;
		}
		if (number)
			buf_putc(out, ' ');
		stack[(*sp)++] = x->first;
		return false;
	}
}

/*
 * Write the threads of the sibling list roots: "(a b (c)(d))".  A chain
 * of only children continues in its list; two or more children each get
 * a nested list; a dummy writes no number.  Iterative: stack[k] is the
 * next child to open of the k-th branching node on the current path;
 * every level but the first has a nested list open.
 */
static void write_threads(struct buf *out, const struct tree *t, int32_t roots, const struct imap_thread_msg *msgs)
{
	int32_t *stack = xmalloc((t->len ? t->len : 1) * sizeof *stack);
	for (int32_t r = roots; r >= 0; r = t->n[r].next) {
		size_t sp = 0;
		buf_putc(out, '(');
		write_chain(out, t, r, msgs, stack, &sp);
		while (sp) {
			int32_t c = stack[sp - 1];
			if (c < 0) {
				if (--sp)
					buf_putc(out, ')');
				continue;
			}
			stack[sp - 1] = t->n[c].next;
			buf_putc(out, '(');
			if (write_chain(out, t, c, msgs, stack, &sp))
				buf_putc(out, ')');
		}
		buf_putc(out, ')');
	}
	free(stack);
}

/* ---- ORDEREDSUBJECT -------------------------------------------------------- */

static int cmp_subject(const void *a, const void *b, void *arg)
{
	const struct imap_thread_msg *msgs = arg;
	int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
	const struct imap_thread_msg *x = &msgs[i], *y = &msgs[j];
	size_t n = x->subject_len < y->subject_len ? x->subject_len : y->subject_len;
	int c = n ? memcmp(x->subject, y->subject, n) : 0;
	if (c)
		return c;
	if (x->subject_len != y->subject_len)
		return x->subject_len < y->subject_len ? -1 : 1;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return i < j ? -1 : i > j;
}

static bool same_subject(const struct imap_thread_msg *x, const struct imap_thread_msg *y)
{
	return x->subject_len == y->subject_len && (!x->subject_len || !memcmp(x->subject, y->subject, x->subject_len));
}

void imap_thread_orderedsubject(struct buf *out, const struct imap_thread_msg *msgs, size_t n)
{
	if (!n)
		return;
	int32_t *idx = xmalloc(n * sizeof *idx);
	for (size_t i = 0; i < n; i++)
		idx[i] = (int32_t)i;
	qsort_r(idx, n, sizeof *idx, cmp_subject, (void *)msgs);
	struct tree t = { 0 };
	for (size_t i = 0; i < n; i++)
		tree_add(&t, (int32_t)i, msgs);
	int32_t roots = -1, parent = -1;
	for (size_t i = 0; i < n; i++) {
		int32_t m = idx[i];
		if (parent >= 0 && same_subject(&msgs[parent], &msgs[m])) {
			tree_adopt(&t, parent, m);
		} else {
			parent = m;
			t.n[m].next = roots;
			roots = m;
		}
	}
	sort_all(&t, &roots);
	write_threads(out, &t, roots, msgs);
	free(t.n);
	free(idx);
}

/* ---- REFERENCES: step 1, the containers ---------------------------------------- */

struct container {
	int32_t msg;                /* -1: a dummy (an id only referred to) */
	int32_t parent;
};

struct idtable {
	struct { const char *p; size_t len; int32_t c; } *slots;
	size_t cap, used;
};

static uint64_t id_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void id_grow(struct idtable *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256;
	__typeof__(t->slots) ns = xcalloc(ncap, sizeof *ns);
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].p)
			continue;
		size_t j = id_hash(t->slots[i].p, t->slots[i].len) & (ncap - 1);
		while (ns[j].p)
			j = (j + 1) & (ncap - 1);
		ns[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
}

/* The slot of id p[0..n): its container, or -1 in a free slot *slot where it would go. */
static int32_t id_find(struct idtable *t, const char *p, size_t n, size_t *slot)
{
	if (t->used * 2 >= t->cap)
		id_grow(t);
	size_t j = id_hash(p, n) & (t->cap - 1);
	while (t->slots[j].p) {
		if (t->slots[j].len == n && memcmp(t->slots[j].p, p, n) == 0) {
			*slot = j;
			return t->slots[j].c;
		}
		j = (j + 1) & (t->cap - 1);
	}
	*slot = j;
	return -1;
}

struct refs_run {
	struct container *c;
	size_t n, cap;
	struct idtable ids;
};

static int32_t container_new(struct refs_run *r, int32_t msg)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->c = xrealloc(r->c, r->cap * sizeof *r->c);
	}
	r->c[r->n].msg = msg;
	r->c[r->n].parent = -1;
	return (int32_t)r->n++;
}

/* The container of id p[0..n), a new dummy when the id is new. */
static int32_t container_of(struct refs_run *r, const char *p, size_t n)
{
	size_t slot;
	int32_t c = id_find(&r->ids, p, n, &slot);
	if (c >= 0)
		return c;
	c = container_new(r, -1);
	r->ids.slots[slot].p = p;
	r->ids.slots[slot].len = n;
	r->ids.slots[slot].c = c;
	r->ids.used++;
	return c;
}

/* Whether linking child under parent would make a loop (or the chain is too long to tell). */
static bool would_loop(const struct refs_run *r, int32_t parent, int32_t child)
{
	size_t steps = 0;
	for (int32_t a = parent; a >= 0; a = r->c[a].parent)
		if (a == child || ++steps > THREAD_WALK_MAX)
			return true;
	return false;
}

static void link_message(struct refs_run *r, const struct imap_thread_msg *m, int32_t idx)
{
	int32_t self = -1;
	if (m->msgid && m->msgid_len) {
		size_t slot;
		int32_t c = id_find(&r->ids, m->msgid, m->msgid_len, &slot);
		if (c < 0) {
			self = container_new(r, idx);
			r->ids.slots[slot].p = m->msgid;
			r->ids.slots[slot].len = m->msgid_len;
			r->ids.slots[slot].c = self;
			r->ids.used++;
		} else if (r->c[c].msg < 0) {
			self = c;       /* referred to before: the dummy becomes this message */
			r->c[c].msg = idx;
		}
		/* else a duplicate id: the message gets a container of its own, below */
	}
	if (self < 0)
		self = container_new(r, idx);
	int32_t prev = -1;
	for (size_t i = 0; i < m->nrefs; i++) {
		int32_t c = container_of(r, m->refs[i].p, m->refs[i].len);
		if (prev >= 0 && c != prev && r->c[c].parent < 0 && !would_loop(r, prev, c))
			r->c[c].parent = prev;
		prev = c;
	}
	/* step 1C: under the last reference, an older (truncated-References) parent broken first */
	r->c[self].parent = -1;
	if (prev >= 0 && prev != self && !would_loop(r, prev, self))
		r->c[self].parent = prev;
}

/* ---- REFERENCES: steps 2-3, the pruned tree --------------------------------------- */

/*
 * For a dummy container: its nearest ancestor holding a message (-1:
 * none) and, when there is none, the root of its tree.  Memoised along
 * each walked chain so that the whole pass is linear.
 */
struct upinfo {
	int32_t msg_anc;
	int32_t top;
	bool known;
};

static void resolve_dummy(const struct refs_run *r, struct upinfo *up, int32_t d, int32_t *path)
{
	size_t k = 0;
	int32_t a = d, anc = -1, top = -1;
	for (;;) {
		if (up[a].known) {
			anc = up[a].msg_anc;
			top = up[a].top;
			break;
		}
		path[k++] = a;
		int32_t p = r->c[a].parent;
		if (p < 0) {
			top = a;
			break;
		}
		if (r->c[p].msg >= 0) {
			anc = p;
			break;
		}
		a = p;
	}
	for (size_t i = 0; i < k; i++) {
		up[path[i]].msg_anc = anc;
		up[path[i]].top = anc >= 0 ? -1 : top;
		up[path[i]].known = true;
	}
}

/* ---- REFERENCES: step 5, subjects of the roots ------------------------------------- */

/* The message whose subject a root stands for: its own, or a dummy's first child's. */
static int32_t root_msg(const struct tree *t, int32_t node)
{
	return t->n[node].msg >= 0 ? t->n[node].msg : t->n[node].first >= 0 ? t->n[t->n[node].first].msg : -1;
}

struct subjtable {
	struct { int32_t msg; int32_t node; } *slots;   /* msg: whose subject is the key */
	size_t cap;
};

static size_t subj_slot(struct subjtable *st, const struct imap_thread_msg *msgs, int32_t msg)
{
	const struct imap_thread_msg *m = &msgs[msg];
	size_t j = id_hash(m->subject, m->subject_len) & (st->cap - 1);
	while (st->slots[j].msg >= 0 && !same_subject(&msgs[st->slots[j].msg], m))
		j = (j + 1) & (st->cap - 1);
	return j;
}

static void group_subjects(struct tree *t, int32_t *roots, const struct imap_thread_msg *msgs)
{
	size_t nroots = 0;
	for (int32_t r = *roots; r >= 0; r = t->n[r].next)
		nroots++;
	int32_t *in = xmalloc((nroots ? nroots : 1) * sizeof *in);
	int32_t *outv = xmalloc((nroots ? nroots : 1) * sizeof *outv);
	/* where each node stands in outv; every merge adds at most one node */
	int32_t *pos = xmalloc((t->len + nroots + 1) * sizeof *pos);
	for (size_t i = 0; i < t->len + nroots + 1; i++)
		pos[i] = -1;
	nroots = 0;
	for (int32_t r = *roots; r >= 0; r = t->n[r].next)
		in[nroots++] = r;
	struct subjtable st = { 0 };
	st.cap = 16;
	while (st.cap < nroots * 2)
		st.cap *= 2;
	st.slots = xmalloc(st.cap * sizeof *st.slots);
	for (size_t i = 0; i < st.cap; i++)
		st.slots[i].msg = st.slots[i].node = -1;

	/* A: the table of subjects, each naming the root that will hold them */
	for (size_t i = 0; i < nroots; i++) {
		int32_t r = in[i], m = root_msg(t, r);
		if (m < 0 || msgs[m].subject_len == 0)
			continue;
		size_t j = subj_slot(&st, msgs, m);
		int32_t old = st.slots[j].node;
		if (old < 0 || (t->n[r].msg < 0 && t->n[old].msg >= 0) ||
		    (t->n[old].msg >= 0 && msgs[t->n[old].msg].reply && t->n[r].msg >= 0 && !msgs[m].reply)) {
			st.slots[j].msg = m;
			st.slots[j].node = r;
		}
	}
	/* B: every other root of a subject merged into the table's; outv is the new root list */
	size_t nout = 0;
	for (size_t i = 0; i < nroots; i++) {
		int32_t r = in[i], m = root_msg(t, r);
		if (t->n[r].parent >= 0)
			continue;       /* already put under another root */
		size_t j = 0;
		int32_t tn = -1;
		if (m >= 0 && msgs[m].subject_len) {
			j = subj_slot(&st, msgs, m);
			tn = st.slots[j].node;
		}
		if (tn < 0 || tn == r) {
			pos[r] = (int32_t)nout;
			outv[nout++] = r;
			continue;
		}
		struct tnode *T = &t->n[tn], *R = &t->n[r];
		if (T->msg < 0 && R->msg < 0) {
			/* both dummies: r's children join the table's */
			for (int32_t c = R->first, cn; c >= 0; c = cn) {
				cn = t->n[c].next;
				tree_adopt(t, tn, c);
			}
			R->first = -1;
			R->removed = true;
		} else if (T->msg < 0 || (R->msg >= 0 && msgs[R->msg].reply && !msgs[T->msg].reply)) {
			tree_adopt(t, tn, r);
		} else {
			/*
			 * The table's root is a message: a dummy r takes it in
			 * (never in practice: a dummy always wins the table), two
			 * messages of one subject, neither a reply to the other,
			 * get a new dummy holding both.  Either takes the table
			 * root's place in the list.
			 */
			int32_t holder = R->msg < 0 ? r : tree_add(t, -1, msgs);
			tree_adopt(t, holder, tn);
			if (holder != r)
				tree_adopt(t, holder, r);
			if (pos[tn] >= 0) {
				outv[pos[tn]] = holder;
				pos[holder] = pos[tn];
			} else {
				pos[holder] = (int32_t)nout;
				outv[nout++] = holder;
			}
			st.slots[j].node = holder;
			continue;
		}
	}
	*roots = -1;
	for (size_t k = nout; k-- > 0;) {
		t->n[outv[k]].next = *roots;
		*roots = outv[k];
	}
	free(st.slots);
	free(pos);
	free(outv);
	free(in);
}

void imap_thread_references(struct buf *out, const struct imap_thread_msg *msgs, size_t n)
{
	if (!n)
		return;
	struct refs_run r = { 0 };
	for (size_t i = 0; i < n; i++)
		link_message(&r, &msgs[i], (int32_t)i);

	/* steps 2-3: the message nodes under their nearest message ancestor, dummies pruned */
	struct upinfo *up = xcalloc(r.n, sizeof *up);
	int32_t *path = xmalloc(r.n * sizeof *path);
	int32_t *members = xcalloc(r.n, sizeof *members);      /* per root dummy: messages under it */
	int32_t *dummy_node = xmalloc(r.n * sizeof *dummy_node);
	for (size_t i = 0; i < r.n; i++)
		dummy_node[i] = -1;
	struct tree t = { 0 };
	for (size_t i = 0; i < n; i++)
		tree_add(&t, (int32_t)i, msgs);
	int32_t *top_of = xmalloc(n * sizeof *top_of);
	for (size_t c = 0; c < r.n; c++) {
		int32_t m = r.c[c].msg;
		if (m < 0)
			continue;
		top_of[m] = -1;
		int32_t p = r.c[c].parent;
		if (p < 0)
			continue;
		if (r.c[p].msg >= 0) {
			tree_adopt(&t, r.c[p].msg, m);
			continue;
		}
		resolve_dummy(&r, up, p, path);
		if (up[p].msg_anc >= 0) {
			tree_adopt(&t, r.c[up[p].msg_anc].msg, m);
		} else {
			top_of[m] = up[p].top;
			members[up[p].top]++;
		}
	}
	int32_t roots = -1;
	for (size_t i = 0; i < n; i++) {
		if (t.n[i].parent >= 0)
			continue;
		int32_t top = top_of[i];
		if (top >= 0 && members[top] >= 2) {
			if (dummy_node[top] < 0) {
				dummy_node[top] = tree_add(&t, -1, msgs);
				t.n[dummy_node[top]].next = roots;
				roots = dummy_node[top];
			}
			tree_adopt(&t, dummy_node[top], (int32_t)i);
		} else {
			t.n[i].next = roots;
			roots = (int32_t)i;
		}
	}
	/* step 4, then 5 and 6 */
	sort_all(&t, &roots);
	group_subjects(&t, &roots, msgs);
	sort_all(&t, &roots);
	write_threads(out, &t, roots, msgs);

	free(top_of);
	free(dummy_node);
	free(members);
	free(path);
	free(up);
	free(t.n);
	free(r.c);
	free(r.ids.slots);
}
