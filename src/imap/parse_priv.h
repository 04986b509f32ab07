/*
 * parse_priv.h — what the pieces of the IMAP command parser share:
 * parse.c (the cursor, tokens, strings, literals, numbers, dates, the
 * command table and the simple commands), parse_fetch.c (FETCH, STORE,
 * flag lists), parse_search.c (SEARCH keys), parse_list.c (SELECT,
 * CREATE, LIST, LSUB, STATUS) and parse_notify.c (NOTIFY).  Not for use
 * outside those files.
 *
 * Every imap_p_* function returns false after recording a reason with
 * imap_p_fail(); the first reason recorded is the one the client sees.
 */
#ifndef TERN_IMAP_PARSE_PRIV_H
#define TERN_IMAP_PARSE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parse.h"
#include "lib/buf.h"

#define IMAP_FETCH_MAX_ATTS 256     /* fetch-atts in one FETCH */
#define IMAP_FETCH_MAX_FIELDS 256   /* names in one HEADER.FIELDS list */
#define IMAP_FLAGS_MAX 128          /* flags in one STORE / APPEND */
#define IMAP_LIST_MAX_PATTERNS 64   /* LIST (pattern ...) */
#define IMAP_ENABLE_MAX 32          /* ENABLE capabilities */
#define IMAP_ID_MAX_PAIRS 30        /* RFC 2971 */
#define IMAP_ID_KEY_MAX 30
#define IMAP_ID_VALUE_MAX 1024
#define IMAP_QUOTA_MAX_RESOURCES 16

struct imap_p {
	const char *s;
	size_t len, pos;
	const struct imap_literal *lits;
	size_t nlits, lit;          /* lit: the next literal to take */
	bool utf8;
	bool probe;                 /* imap_parse_literal_is_message(): literals have no octets yet */
	bool probe_end;             /* ... and the probe reached the literal header at the end */
	bool probe_message;         /* ... which is an APPEND message / CATENATE TEXT part */
	const char *err;
	enum imap_parse_result res;
	struct imap_cmd *cmd;
	size_t nkeys;               /* SEARCH keys so far */
	bool convert;               /* SEARCH strings need conversion from cmd->charset */
};

bool imap_p_fail(struct imap_p *p, const char *err);
int imap_p_peek(const struct imap_p *p);
int imap_p_peek_at(const struct imap_p *p, size_t off);
bool imap_p_is_atom_char(int c);
bool imap_p_at_eol(const struct imap_p *p);
/* One SP before a required argument; missing = the reason when there is none. */
bool imap_p_arg(struct imap_p *p, const char *missing);
/* One SP, if one follows and an argument after it (for optional arguments). */
bool imap_p_opt_arg(struct imap_p *p);
bool imap_p_char(struct imap_p *p, char c, const char *err);
/* The final line end, and nothing after it. */
bool imap_p_end(struct imap_p *p);

/* 1*ATOM-CHAR, as a view into the text. */
bool imap_p_atom(struct imap_p *p, const char **a, size_t *n, const char *missing);
/* The next atom equals kw (ASCII case-insensitive): consume it. */
bool imap_p_keyword(struct imap_p *p, const char *kw);

bool imap_p_astring(struct imap_p *p, struct imap_str *out, const char *missing);
bool imap_p_string(struct imap_p *p, struct imap_str *out, const char *missing);
bool imap_p_nstring(struct imap_p *p, struct imap_str *out, const char *missing);
/* list-mailbox: 1*(ATOM-CHAR / "%" / "*" / "]") or string. */
bool imap_p_list_mailbox(struct imap_p *p, struct imap_str *out, const char *missing);
void imap_p_str_free(struct imap_str *s);

bool imap_p_number(struct imap_p *p, uint32_t *v, bool nz, const char *err);
/* number64 (RFC 9051: at most 2^63 - 1). */
bool imap_p_number64(struct imap_p *p, uint64_t *v, bool nz, const char *err);
bool imap_p_seqset(struct imap_p *p, struct imap_seqset *set, bool allow_saved);

/* flag-list "(...)" or, when bare, flag *(SP flag); \Recent and \* refused. */
bool imap_p_flags(struct imap_p *p, bool bare, uint32_t *flags, char **keywords);
/* STATUS "(" status-att *(SP status-att) ")" */
bool imap_p_status_atts(struct imap_p *p, unsigned *items);
/* SEARCH date: date-text or DQUOTE date-text DQUOTE, as days since 1970-01-01. */
bool imap_p_search_date(struct imap_p *p, int64_t *days);

/* "(" fetch-att *(SP fetch-att) ")", appended to cmd->atts; the cursor is on the '('. */
bool imap_p_fetch_att_list(struct imap_p *p);
/* NOTIFY arguments (parse_notify.c); cmd_clear frees them with imap_p_notify_free. */
bool imap_p_cmd_notify(struct imap_p *p);
void imap_p_notify_free(struct imap_cmd *c);

bool imap_p_cmd_fetch(struct imap_p *p);
bool imap_p_cmd_store(struct imap_p *p);
bool imap_p_cmd_search(struct imap_p *p);
bool imap_p_cmd_sort(struct imap_p *p);
bool imap_p_cmd_thread(struct imap_p *p);
bool imap_p_cmd_cancelupdate(struct imap_p *p);
bool imap_p_select_params(struct imap_p *p);
bool imap_p_cmd_create(struct imap_p *p);
bool imap_p_cmd_list(struct imap_p *p);
bool imap_p_cmd_lsub(struct imap_p *p);
bool imap_p_cmd_status(struct imap_p *p);

#endif
