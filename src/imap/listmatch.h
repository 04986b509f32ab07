/*
 * listmatch.h — the pure part of LIST and LSUB (RFC 9051 §6.3.9, RFC 5258
 * LIST-EXTENDED, RFC 3501 §6.3.9 LSUB): matching mailbox names against
 * patterns, and choosing which mailboxes a listing returns.  No I/O, no
 * session: mailboxes.c feeds it the store's mailboxes and formats the
 * responses; tests/unit/test_imap_listmatch.c and fuzz/fuzz_imap_listmatch.c
 * exercise it directly.
 *
 * Names and patterns are UTF-8 as the store keeps them, '/' the hierarchy
 * delimiter.  In a pattern '*' matches any run of octets, '%' any run
 * without '/'.  INBOX is case-insensitive (RFC 9051 §5.1): the first five
 * octets of a name "INBOX" or "INBOX/..." match a pattern's letters in
 * either case, so "inbox", "Inbox/%" and "i*" all see INBOX.
 *
 * Cost: compiling is linear in the pattern; matching one name is
 * O(name length × pattern states / 64) — a bit-parallel simulation of the
 * pattern's automaton (Shift-And with self-loops for the wildcards), so
 * hostile patterns like "%*%*%*a" cannot backtrack.  Runs of wildcards are
 * folded ("*%*" is "*"), and a pattern with more than
 * IMAP_LISTMATCH_LITERALS_MAX literal octets matches nothing (no mailbox
 * name is that long), so states stay below 2 × that limit.
 */
#ifndef TERN_IMAP_LISTMATCH_H
#define TERN_IMAP_LISTMATCH_H

#include <stdbool.h>
#include <stddef.h>

#define IMAP_LISTMATCH_LITERALS_MAX 1024

struct imap_listmatch;

/* Compile p[0..n) (may contain any octet).  Never NULL; free with imap_listmatch_free. */
struct imap_listmatch *imap_listmatch_new(const char *p, size_t n);
void imap_listmatch_free(struct imap_listmatch **m);
/* Whether name[0..n) matches.  Thread-safe on a shared compiled pattern. */
bool imap_listmatch(const struct imap_listmatch *m, const char *name, size_t n);

/*
 * Which mailboxes a listing returns.  Selection criteria (RFC 5258 §3.1):
 * IMAP_LISTSEL_SUBSCRIBED (subscribed mailboxes only) and
 * IMAP_LISTSEL_SPECIAL_USE (RFC 6154 §3: only those with a special use);
 * IMAP_LISTSEL_RECURSIVE (RECURSIVEMATCH) also returns a matching mailbox
 * that fails the criteria when one of its descendants meets them, marked
 * childinfo — but only if such a descendant is not itself returned
 * (RFC 5258 §3.1 note 3: no redundant CHILDINFO).  A mailbox that meets
 * the criteria gets childinfo whenever a descendant meets them too
 * (RFC 5258 §5 example 9).  LSUB is SUBSCRIBED | RECURSIVE, its
 * childinfo-only entries being its \Noselect lines (RFC 3501 §6.3.9).
 */
enum {
	IMAP_LISTSEL_SUBSCRIBED  = 1 << 0,
	IMAP_LISTSEL_SPECIAL_USE = 1 << 1,
	IMAP_LISTSEL_RECURSIVE   = 1 << 2,
};

struct imap_list_entry {
	/* in */
	const char *name;           /* store name: INBOX spelled so, no empty levels */
	bool subscribed;
	bool special_use;           /* has a special-use attribute */
	void *data;                 /* the caller's */
	/* out */
	bool show;                  /* returned */
	bool selected;              /* meets the criteria itself (false: returned for childinfo only) */
	bool childinfo;             /* return CHILDINFO (only with IMAP_LISTSEL_RECURSIVE) */
	/* internal */
	bool matched, desc_sel, desc_hidden;
};

/*
 * Sort e[0..n) into listing order — INBOX and its children first, then by
 * octets with every name directly followed by its descendants — and set
 * the out fields.  A name matches when any of the npats patterns does.
 * O(n log n) comparisons plus n × npats matches.
 */
void imap_list_select(struct imap_list_entry *e, size_t n, struct imap_listmatch *const *pats, size_t npats,
		      unsigned sel);

#endif
