/*
 * searchcmd.h — what the searching commands share (searchcmd.c: SEARCH,
 * the message scan and ESEARCH replies; sortcmd.c: SORT; threadcmd.c:
 * THREAD; searchctx.c: RETURN (UPDATE) contexts and CANCELUPDATE).  Not
 * for use outside src/imap/.
 */
#ifndef TERN_IMAP_SEARCHCMD_H
#define TERN_IMAP_SEARCHCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/session.h"

/* Called for each message of the view that matches; non-zero stops the scan. */
typedef int (*imap_search_hit_fn)(void *ctx, const struct store_message_data *m, uint32_t seq);

/*
 * Evaluate cmd->search over the selected view in UID order (resolving
 * '*' and "$" first), mapping a blob only for messages that reach a
 * text key.  m is valid only during the call.
 */
enum store_status imap_search_scan(struct imap_session *s, struct imap_cmd *cmd, imap_search_hit_fn hit,
				   void *ctx);

/* The same over the view's messages with uid_lo <= UID <= uid_hi, search already prepared. */
enum store_status imap_search_scan_range(struct imap_session *s, const struct imap_skey *search, uint32_t uid_lo,
					 uint32_t uid_hi, imap_search_hit_fn hit, void *ctx);

/*
 * The ESEARCH reply of a SEARCH or SORT with RETURN options: nums are
 * the results as the client numbers them, in result order (ascending for
 * SEARCH, sort order for SORT), modseqs[i] the modseq of nums[i] (used
 * when modseq is true: CONDSTORE's MODSEQ, RFC 7162 §3.1.5).
 */
void imap_esearch_reply(struct buf *b, const struct imap_cmd *cmd, const uint32_t *nums, const uint64_t *modseqs,
			size_t n, bool modseq);

/*
 * The result of SEARCH or SORT: "* name n n ..." (with CONDSTORE's
 * "(MODSEQ m)") or, when RETURN was given, imap_esearch_reply().
 */
void imap_search_reply(struct imap_session *s, const struct imap_cmd *cmd, const char *name, const uint32_t *nums,
		       const uint64_t *modseqs, size_t n, bool modseq);

/* A list of numbers in the order given, runs of consecutive ascending numbers as "a:b". */
void imap_put_ordered_set(struct buf *b, const uint32_t *v, size_t n);

/* SEARCHRES SAVE of the result UIDs (ascending), as RETURN options ret ask. */
void imap_search_save(struct imap_view *v, unsigned ret, const uint32_t *uids, size_t n);

/*
 * A CONDSTORE-enabling command (RFC 7162 §3.1: FETCH MODSEQ or
 * CHANGEDSINCE, SEARCH / SORT MODSEQ, STORE UNCHANGEDSINCE) turns
 * CONDSTORE on; the first one with a mailbox selected also tells the
 * client the mailbox's HIGHESTMODSEQ in an untagged OK, as it would have
 * learned from SELECT (CONDSTORE).
 */
void imap_condstore_enable(struct imap_session *s);

/* Whether the tree has a MODSEQ key (the reply then carries MODSEQ). */
bool imap_search_uses_modseq(const struct imap_skey *k);

/* The commands. */
void imap_cmd_sort(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_thread(struct imap_session *s, struct imap_cmd *cmd);
void imap_cmd_cancelupdate(struct imap_session *s, struct imap_cmd *cmd);

/*
 * RETURN (UPDATE) contexts (RFC 5267 §4, searchctx.c).  A SEARCH with
 * UPDATE keeps its criteria (taken from cmd) and result (UIDs,
 * ascending); imap_search_ctx_update(), after each command's untagged
 * updates, reports what entered and left each result as ESEARCH ADDTO /
 * REMOVEFROM; the contexts end with the selection
 * (imap_search_ctx_free_all).  false: refused (too many), NOUPDATE sent.
 */
bool imap_search_ctx_add(struct imap_session *s, struct imap_cmd *cmd, const uint32_t *uids, size_t n,
			 uint64_t modseq);
void imap_search_ctx_update(struct imap_session *s);
/* uids (ascending, still in the view) are about to be announced expunged: they leave every result first. */
void imap_search_ctx_expunging(struct imap_session *s, const uint32_t *uids, size_t n);
void imap_search_ctx_free_all(struct imap_session *s);

#endif
