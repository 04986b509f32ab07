/*
 * search.h — IMAP SEARCH keys (RFC 9051 §6.4.4, CONDSTORE MODSEQ, ESEARCH
 * return options) as a tree, and their evaluation against one message.
 *
 * parse.c builds the tree from a command; search.c evaluates it.  Keys
 * that need the message's text (HEADER, BODY, TEXT and the address and
 * subject keys) read the blob through the accessor in struct
 * imap_search_msg, decoding RFC 2047 words, transfer encodings and
 * charsets to UTF-8 and comparing case-insensitively (Unicode case
 * folding), as RFC 9051 asks.  Cheap keys are tested before expensive ones
 * so most messages never have their blob opened.
 */
#ifndef TERN_IMAP_SEARCH_H
#define TERN_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/seqset.h"
#include "store/store.h"

#define IMAP_SEARCH_MAX_DEPTH 32    /* nesting of (), NOT, OR */
#define IMAP_SEARCH_MAX_KEYS 1000   /* keys in one command */
#define IMAP_CONTEXT_MAX 32         /* RETURN (UPDATE) searches alive in one session (RFC 5267) */

enum imap_skey_type {
	SK_AND,             /* children: all must match (the top level, and "( ... )") */
	SK_OR,              /* children: exactly two, either */
	SK_NOT,             /* children: one */
	SK_ALL,
	SK_SEQSET,          /* set: message sequence numbers */
	SK_UID,             /* set: UIDs */
	SK_FLAG,            /* flag: has this STORE_FLAG_* */
	SK_UNFLAG,          /* flag: lacks it */
	SK_KEYWORD,         /* str */
	SK_UNKEYWORD,       /* str */
	SK_NEW,             /* RECENT and UNSEEN */
	SK_OLD,             /* NOT RECENT */
	SK_RECENT,
	SK_BEFORE,          /* date: INTERNALDATE day < date */
	SK_ON,
	SK_SINCE,           /* >= */
	SK_SENTBEFORE,      /* date: Date: header */
	SK_SENTON,
	SK_SENTSINCE,
	SK_LARGER,          /* num: RFC822.SIZE > num */
	SK_SMALLER,         /* < */
	SK_HEADER,          /* field: header name, str: substring ("" = field present) */
	SK_FROM,            /* str, in the header of that name */
	SK_TO,
	SK_CC,
	SK_BCC,
	SK_SUBJECT,
	SK_BODY,            /* str: in the decoded body text */
	SK_TEXT,            /* str: in header or body */
	SK_MODSEQ,          /* num: modseq >= num (entry name/type accepted and ignored) */
};

struct imap_skey {
	enum imap_skey_type type;
	struct imap_skey *child;    /* SK_AND / SK_OR / SK_NOT: first child */
	struct imap_skey *next;     /* sibling */
	char *str;                  /* UTF-8 (converted from CHARSET by the parser) */
	char *field;                /* SK_HEADER */
	struct imap_seqset set;     /* SK_SEQSET / SK_UID (may be "$") */
	const struct imap_seqset *saved_set;    /* "$" after imap_search_prepare: the caller's saved
						   UIDs, referred to (not copied) while the search runs */
	int64_t date;               /* days since 1970-01-01 */
	uint64_t num;
	uint32_t flag;
	void *cache;                /* private to search.c (prepared needle); one malloc block,
				       imap_skey_free() releases it with free() */
};

void imap_skey_free(struct imap_skey *k);   /* the key, its children and its siblings */

/* ESEARCH return options (RFC 4731, SEARCHRES RFC 5182). */
enum {
	IMAP_RET_MIN   = 1 << 0,
	IMAP_RET_MAX   = 1 << 1,
	IMAP_RET_ALL   = 1 << 2,
	IMAP_RET_COUNT = 1 << 3,
	IMAP_RET_SAVE  = 1 << 4,
	IMAP_RET_PARTIAL = 1 << 5,  /* RFC 9394 / RFC 5267: a window of the results */
	IMAP_RET_UPDATE  = 1 << 6,  /* RFC 5267 CONTEXT: ADDTO / REMOVEFROM as the mailbox changes */
	IMAP_RET_CONTEXT = 1 << 7,  /* RFC 5267: accepted, a hint only */
};

/* SORT criteria (RFC 5256, SORT=DISPLAY RFC 5957). */
enum imap_sort_key {
	IMAP_SORT_ARRIVAL, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM, IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT, IMAP_SORT_TO, IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO,
};

#define IMAP_SORT_MAX_CRIT 16       /* criteria in one SORT (each may be given once) */

struct imap_sort_crit {
	enum imap_sort_key key;
	bool reverse;
};

enum imap_thread_alg { IMAP_THREAD_ORDEREDSUBJECT, IMAP_THREAD_REFERENCES };

/* One message as the evaluator sees it. */
struct imap_search_msg {
	uint32_t seq;
	const struct store_message_data *m;
	/*
	 * The raw message (CRLF lines), mapped on first need by the caller's
	 * accessor; NULL return = unreadable (text keys then do not match).
	 */
	const char *(*text)(void *arg, size_t *len);
	void *arg;
	bool recent;        /* \Recent for the searching session */
};

/*
 * Resolve the '*' of every set in the tree (max_seq for SK_SEQSET, max_uid
 * for SK_UID) and substitute "$" with saved (a resolved UID set; NULL =
 * empty).  Call once before evaluating messages.
 */
void imap_search_prepare(struct imap_skey *k, uint32_t max_seq, uint32_t max_uid,
			 const struct imap_seqset *saved_uids);

/* Whether msg matches key (SK_AND root: all children). */
bool imap_search_match(const struct imap_skey *k, const struct imap_search_msg *msg);

/* Whether the tree has a key needing the message text (so callers can skip mapping). */
bool imap_search_needs_text(const struct imap_skey *k);

#endif
