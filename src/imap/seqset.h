/*
 * seqset.h — IMAP sequence sets (RFC 9051 §9 sequence-set): "1:5,7,9:*".
 *
 * Parsed once into ranges where '*' is kept symbolic (IMAP_SEQ_STAR), so
 * the same set can be resolved against the mailbox as it is when the
 * command runs.  A hostile set ("1:4294967295", thousands of ranges) costs
 * memory proportional to its text only, and every operation is linear in
 * the number of ranges, never in the numbers they span.
 */
#ifndef TERN_IMAP_SEQSET_H
#define TERN_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_SEQ_STAR 0u        /* '*' (0 is not a valid number in a set) */

struct imap_range {
	uint32_t lo, hi;        /* lo <= hi after resolve; either may be IMAP_SEQ_STAR before */
};

struct imap_seqset {
	bool saved;             /* "$" (RFC 5182 SEARCHRES): the ranges are empty */
	size_t n;
	struct imap_range *r;   /* owned */
};

/*
 * Parse s[0..len) as a sequence-set (or "$" when allow_saved).  false on
 * any syntax error (0, overflow, empty element); out is then empty.
 */
bool imap_seqset_parse(const char *s, size_t len, bool allow_saved, struct imap_seqset *out);
void imap_seqset_free(struct imap_seqset *set);
void imap_seqset_copy(struct imap_seqset *dst, const struct imap_seqset *src);

/*
 * Replace '*' by star (the largest number in use; 0 for an empty mailbox,
 * which makes '*'-ranges match nothing), order each range, sort and merge.
 * After this r[] is ascending and non-overlapping.
 */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);
/* After resolve: is v in the set (binary search). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t v);
/* Append "lo:hi,..." of a resolved set to b (for COPYUID, ESEARCH ALL). */
struct buf;
void imap_seqset_format(const struct imap_seqset *set, struct buf *b);
/* Build a resolved set from ascending values (runs become ranges). */
void imap_seqset_from_sorted(struct imap_seqset *set, const uint32_t *v, size_t n);

#endif
