/*
 * keywords.h — IMAP keyword lists as the store keeps them: one string of
 * space-separated atoms, compared ASCII case-insensitively, each spelled
 * as it was first used in its mailbox.
 *
 * Backend-independent and pure (no I/O).  Every list handled here is
 * bounded: a message's list by STORE_KEYWORDS_MAX octets, a mailbox's by
 * STORE_MAILBOX_KEYWORDS_MAX keywords.
 */
#ifndef TERN_STORE_KEYWORDS_H
#define TERN_STORE_KEYWORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "store/store.h"

/*
 * Check a keyword list given by a caller (NULL or "" = none): tokens
 * separated by one or more spaces, each an IMAP atom that does not start
 * with '\\'.  Writes it to out with duplicates dropped (first spelling
 * wins) and single spaces.  false when a token is not an atom or the
 * result exceeds STORE_KEYWORDS_MAX octets.
 */
bool store_kw_normalize(const char *in, struct buf *out);

/* Whether list contains keyword kw (n octets), ASCII case-insensitively. */
bool store_kw_has(const char *list, const char *kw, size_t n);

/* Number of keywords in a normalised list. */
size_t store_kw_count(const char *list);

/*
 * Add the keywords of add (normalised) that mailbox (the mailbox's list)
 * lacks: *merged receives the new mailbox list, *canon receives add with
 * each keyword in the mailbox's spelling.  Returns false when the mailbox
 * would exceed STORE_MAILBOX_KEYWORDS_MAX.  *changed: merged differs.
 */
bool store_kw_merge(const char *mailbox, const char *add, struct buf *merged, struct buf *canon, bool *changed);

/*
 * A message's new list: cur with arg added, removed, or replaced by arg.
 * false when the result exceeds STORE_KEYWORDS_MAX octets.
 */
bool store_kw_apply(const char *cur, enum store_flag_op op, const char *arg, struct buf *out);

/* Whether every keyword of list a is in list b (NULL = none). */
bool store_kw_subset(const char *a, const char *b);

/* Whether two normalised lists hold the same keywords (in any order or case). */
bool store_kw_same(const char *a, const char *b);

#endif
