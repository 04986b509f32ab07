/*
 * parse.h — the IMAP command parser (RFC 9051 / RFC 3501 grammar and the
 * extensions tern announces).
 *
 * The session assembles one complete command before parsing it: the lines
 * as received, each literal's header ("{12}", "{12+}", "{12-}"... and
 * "~{12}" for literal8) left in place, followed by its CRLF, but the
 * literal's octets taken out of band into struct imap_literal — small
 * ones in memory, an APPEND message spooled to a file.  So the text the
 * parser sees is always short (IMAP_LINE_MAX per line, IMAP_COMMAND_MAX in
 * all) and a 50 MB APPEND never sits in memory.
 *
 * imap_parse() is pure: (text, literals) in, struct imap_cmd out, or a
 * reason for BAD.  Everything it returns is owned by the struct and freed
 * with imap_cmd_free().  Strings (astring, string, nstring) come back as
 * raw octets with explicit lengths; mailbox names are left undecoded
 * (modified UTF-7 or UTF-8 depends on the session's UTF8=ACCEPT state).
 */
#ifndef TERN_IMAP_PARSE_H
#define TERN_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/search.h"
#include "imap/seqset.h"

#define IMAP_TAG_MAX 64             /* octets of a tag */
#define IMAP_LINE_MAX 65536         /* one line incl. CRLF */
#define IMAP_COMMAND_MAX 262144     /* all lines and in-memory literals of one command */
#define IMAP_LITERAL_MAX 65536      /* a literal that is not an APPEND message */
#define IMAP_PRELOGIN_LITERAL_MAX 8192  /* any literal before login (LOGIN's user name and password) */

struct imap_literal {
	const char *data;           /* in memory (NULL when spooled) */
	size_t len;
	int fd;                     /* spooled APPEND message: readable fd, -1 otherwise */
	const char *path;           /* the spool file's path when spooled */
	bool binary;                /* literal8 (~{n}) */
};

struct imap_str {
	char *p;                    /* NUL-terminated copy (may contain NULs in literals) */
	size_t n;
	bool nil;                   /* nstring NIL */
};

enum imap_cmd_type {
	IMAP_CMD_CAPABILITY, IMAP_CMD_NOOP, IMAP_CMD_LOGOUT, IMAP_CMD_STARTTLS,
	IMAP_CMD_AUTHENTICATE, IMAP_CMD_LOGIN, IMAP_CMD_ENABLE, IMAP_CMD_SELECT,
	IMAP_CMD_EXAMINE, IMAP_CMD_CREATE, IMAP_CMD_DELETE, IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE, IMAP_CMD_UNSUBSCRIBE, IMAP_CMD_LIST, IMAP_CMD_LSUB,
	IMAP_CMD_NAMESPACE, IMAP_CMD_STATUS, IMAP_CMD_APPEND, IMAP_CMD_IDLE,
	IMAP_CMD_CHECK, IMAP_CMD_CLOSE, IMAP_CMD_UNSELECT, IMAP_CMD_EXPUNGE,
	IMAP_CMD_SEARCH, IMAP_CMD_FETCH, IMAP_CMD_STORE, IMAP_CMD_COPY,
	IMAP_CMD_MOVE, IMAP_CMD_ID, IMAP_CMD_COMPRESS, IMAP_CMD_GETQUOTA,
	IMAP_CMD_GETQUOTAROOT, IMAP_CMD_SETQUOTA,
	IMAP_CMD_SORT, IMAP_CMD_THREAD, IMAP_CMD_CANCELUPDATE,
	IMAP_CMD_GENURLAUTH, IMAP_CMD_RESETKEY, IMAP_CMD_URLFETCH,     /* URLAUTH, RFC 4467 */
	IMAP_CMD_NOTIFY,                                                /* RFC 5465 */
};

/* STATUS items (also LIST RETURN (STATUS (...))). */
enum {
	IMAP_STATUS_MESSAGES      = 1 << 0,
	IMAP_STATUS_UIDNEXT       = 1 << 1,
	IMAP_STATUS_UIDVALIDITY   = 1 << 2,
	IMAP_STATUS_UNSEEN        = 1 << 3,
	IMAP_STATUS_DELETED       = 1 << 4,
	IMAP_STATUS_SIZE          = 1 << 5,
	IMAP_STATUS_RECENT        = 1 << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1 << 7,
	IMAP_STATUS_APPENDLIMIT   = 1 << 8,
};

/* LIST-EXTENDED selection and return options (RFC 5258, 6154, 5819). */
enum {
	IMAP_LIST_SEL_SUBSCRIBED     = 1 << 0,
	IMAP_LIST_SEL_REMOTE         = 1 << 1,
	IMAP_LIST_SEL_RECURSIVEMATCH = 1 << 2,
	IMAP_LIST_SEL_SPECIAL_USE    = 1 << 3,
	IMAP_LIST_RET_SUBSCRIBED     = 1 << 8,
	IMAP_LIST_RET_CHILDREN       = 1 << 9,
	IMAP_LIST_RET_SPECIAL_USE    = 1 << 10,
	IMAP_LIST_RET_STATUS         = 1 << 11,
};

enum imap_fetch_type {
	FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE, FA_ENVELOPE, FA_BODY,
	FA_BODYSTRUCTURE, FA_UID, FA_MODSEQ, FA_RFC822, FA_RFC822_HEADER,
	FA_RFC822_TEXT, FA_BODY_SECTION, FA_BINARY_SECTION, FA_BINARY_SIZE,
};

enum imap_section_spec {
	SEC_NONE,               /* BODY[] or BODY[1.2]: the whole (part) */
	SEC_HEADER, SEC_HEADER_FIELDS, SEC_HEADER_FIELDS_NOT, SEC_TEXT, SEC_MIME,
};

#define IMAP_SECTION_DEPTH 32

struct imap_fetch_att {
	enum imap_fetch_type type;
	bool peek;                  /* BODY.PEEK / BINARY.PEEK: no implicit \Seen */
	uint32_t part[IMAP_SECTION_DEPTH];  /* "1.2.3" */
	size_t nparts;
	enum imap_section_spec spec;
	struct imap_str *fields;    /* HEADER.FIELDS (...) names */
	size_t nfields;
	bool partial;               /* <offset.length> given */
	uint64_t offset, length;
	/*
	 * The response name, e.g. "BODY[HEADER.FIELDS (FROM TO)]<0>" (RFC 9051
	 * §7.5.2: the origin octet only, fields upper-cased as the client gave
	 * them) or "BINARY.SIZE[1]".
	 */
	char *name;
};

#define IMAP_URLAUTH_MAX_URLS 32        /* URLs in one GENURLAUTH or URLFETCH */
/* URLFETCH (url params) (RFC 5524): what is asked for one URL. */
#define IMAP_URLFETCH_EXT 1u                    /* the parenthesised form */
#define IMAP_URLFETCH_BODYPARTSTRUCTURE 2u
#define IMAP_URLFETCH_BINARY 4u
#define IMAP_URLFETCH_BODY 8u
#define IMAP_APPEND_MAX_MESSAGES 64     /* messages in one APPEND (MULTIAPPEND, RFC 3502) */
#define IMAP_CATENATE_MAX_PARTS 64      /* TEXT and URL parts of one CATENATE message (RFC 4469) */
/* One APPEND's messages add up to at most this many times the APPENDLIMIT (limit, per message). */
#define IMAP_APPEND_TOTAL_FACTOR 8
static inline uint64_t imap_append_total_limit(uint64_t limit)
{
	return limit > UINT64_MAX / IMAP_APPEND_TOTAL_FACTOR ? UINT64_MAX : limit * IMAP_APPEND_TOTAL_FACTOR;
}

/*
 * NOTIFY (RFC 5465, parse_notify.c): NOTIFY NONE, or NOTIFY SET [STATUS]
 * and its event groups.  Past the limits the command is still read to its
 * end and then refused with NO [LIMIT] (IMAP_PARSE_NO); an event tern
 * does not support makes it NO [BADEVENT (...)].
 */
#define IMAP_NOTIFY_MAX_GROUPS 32       /* event groups in one NOTIFY SET */
#define IMAP_NOTIFY_MAX_NAMES 1000      /* mailbox names in all its groups together */

enum imap_notify_filter {
	IMAP_NF_SELECTED, IMAP_NF_SELECTED_DELAYED, IMAP_NF_INBOXES, IMAP_NF_PERSONAL,
	IMAP_NF_SUBSCRIBED, IMAP_NF_SUBTREE, IMAP_NF_MAILBOXES,
};

/* The events tern supports (the list BADEVENT names). */
enum {
	IMAP_NEV_MESSAGENEW         = 1 << 0,
	IMAP_NEV_MESSAGEEXPUNGE     = 1 << 1,
	IMAP_NEV_FLAGCHANGE         = 1 << 2,
	IMAP_NEV_MAILBOXNAME        = 1 << 3,
	IMAP_NEV_SUBSCRIPTIONCHANGE = 1 << 4,
};
#define IMAP_NEV_MESSAGE (IMAP_NEV_MESSAGENEW | IMAP_NEV_MESSAGEEXPUNGE | IMAP_NEV_FLAGCHANGE)

struct imap_notify_group {
	enum imap_notify_filter filter;
	unsigned events;            /* IMAP_NEV_*; 0 for NONE */
	struct imap_str *mailboxes; /* subtree / mailboxes: the names as sent */
	size_t nmailboxes;
};

/* One part of a CATENATE message: TEXT literal (spooled like a message) or URL. */
struct imap_catpart {
	const struct imap_literal *text;    /* TEXT, else NULL */
	struct imap_str url;                /* URL (an IMAP URL, RFC 5092) */
};

/* One message of an APPEND: a literal, or (CATENATE) parts to assemble. */
struct imap_append_msg {
	uint32_t flags;             /* STORE_FLAG_* */
	char *keywords;             /* space-separated, "" if none */
	bool has_date;
	int64_t date;               /* date-time as Unix time */
	const struct imap_literal *msg;     /* the message literal (spooled); NULL for CATENATE */
	bool utf8;                  /* UTF8 (~{n}) form of RFC 6855 */
	struct imap_catpart *parts; /* CATENATE */
	size_t nparts;
};

/* APPEND: one message, or several (MULTIAPPEND), to be stored all or none. */
struct imap_append {
	struct imap_append_msg *msgs;
	size_t n;
};

struct imap_cmd {
	char tag[IMAP_TAG_MAX + 1];
	enum imap_cmd_type type;
	bool uid;                   /* UID FETCH / SEARCH / STORE / COPY / MOVE / EXPUNGE */

	/* Mailbox argument(s): SELECT EXAMINE CREATE DELETE RENAME(from,to)
	 * SUBSCRIBE UNSUBSCRIBE STATUS APPEND COPY(to) MOVE(to) GETQUOTAROOT. */
	struct imap_str mailbox, mailbox2;

	/* AUTHENTICATE mech [initial-response]; LOGIN user pass. */
	struct imap_str mech;
	bool has_ir;
	struct imap_str ir;         /* "=" already turned into an empty string */
	struct imap_str user, pass;

	/* ENABLE atoms; ID parameters (pairs, NIL = none); SETQUOTA resource names;
	 * GENURLAUTH (url, mechanism) pairs; URLFETCH urls; RESETKEY mechanisms
	 * (its mailbox, if any, in mailbox). */
	struct imap_str *atoms;
	size_t natoms;
	uint64_t *limits;           /* SETQUOTA: limits[i] for resource atoms[i] */
	unsigned *url_params;       /* URLFETCH: IMAP_URLFETCH_* for url atoms[i] */

	/* SELECT/EXAMINE (CONDSTORE) or (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])). */
	bool condstore;
	bool qresync;
	uint32_t qr_uidvalidity;
	uint64_t qr_modseq;
	struct imap_seqset qr_known_uids;       /* n = 0 when absent */
	struct imap_seqset qr_seq_match, qr_uid_match;

	/* CREATE (USE (\Sent)): one special-use attribute or "" */
	char use[16];

	/* LIST / LSUB: reference, patterns, options; STATUS items. */
	struct imap_str reference;
	struct imap_str *patterns;
	size_t npatterns;
	unsigned list_opts;
	unsigned status_items;      /* STATUS, LIST RETURN (STATUS (...)) */

	/* APPEND */
	struct imap_append append;

	/* FETCH / STORE / COPY / MOVE / UID EXPUNGE / SEARCH (no set there) */
	struct imap_seqset set;
	struct imap_fetch_att *atts;
	size_t natts;
	bool fetch_all_macro;       /* ALL/FAST/FULL expanded into atts; nothing else to do */
	uint64_t changedsince;      /* FETCH (CHANGEDSINCE n) */
	bool vanished;              /* FETCH (VANISHED) */

	/* STORE */
	enum store_flag_op store_op;
	bool silent;
	uint32_t flags;
	char *keywords;             /* space-separated */
	bool has_unchangedsince;    /* (UNCHANGEDSINCE n) given; n may be 0 */
	uint64_t unchangedsince;

	/* SEARCH */
	struct imap_skey *search;   /* SK_AND root */
	unsigned search_ret;        /* IMAP_RET_*; esearch true when RETURN was given */
	bool esearch;
	char charset[32];
	/* SORT criteria; THREAD algorithm; RETURN (PARTIAL lo:hi), negative = from the end (RFC 9394) */
	struct imap_sort_crit sort[IMAP_SORT_MAX_CRIT];
	size_t nsort;
	enum imap_thread_alg thread_alg;
	int32_t partial_lo, partial_hi;

	/* NOTIFY; the selected group's MessageNew fetch-atts are in atts */
	bool notify_none;           /* NOTIFY NONE (else SET) */
	bool notify_status;         /* SET STATUS */
	struct imap_notify_group *notify_groups;
	size_t notify_ngroups;

	/* COMPRESS mechanism; GETQUOTA / SETQUOTA root */
	struct imap_str arg;
};

enum imap_parse_result {
	IMAP_PARSE_OK,
	IMAP_PARSE_BAD,             /* *err says why; tag is valid when tag[0] != '\0' */
	IMAP_PARSE_BADCHARSET,      /* SEARCH CHARSET unknown: reply NO with *err ("[BADCHARSET (...)] ...") */
	IMAP_PARSE_NO,              /* well-formed but over a limit: reply NO with *err ("[LIMIT] ...") */
};

/*
 * Parse one assembled command.  utf8 = the session has ENABLEd
 * UTF8=ACCEPT (quoted strings may then carry UTF-8).  On BAD, err points to
 * a static reason for the client ("Missing mailbox name", ...).
 *
 * text is every line of the command, each ending in "\r\n" (a bare "\n"
 * is accepted too); the command must end with its final line end.  lits
 * are the command's literals in order: each literal header in text must
 * have one, of the same length and kind (literal8 or not), and every one
 * must be used.  Only the APPEND message may be spooled (fd >= 0, data
 * NULL); its octets are not checked here (NUL in a non-binary message is
 * for the APPEND code to refuse), every other literal is.  On anything but
 * IMAP_PARSE_OK everything but tag and type has been freed already (a
 * further imap_cmd_free() is harmless).
 */
enum imap_parse_result imap_parse(const char *text, size_t len, const struct imap_literal *lits, size_t nlits,
				  bool utf8, struct imap_cmd *out, const char **err);
void imap_cmd_free(struct imap_cmd *c);

/*
 * For the session's literal handling: text[0..len) is the command so far,
 * ending just after a literal header (without its CRLF).  Returns true when
 * this literal is an APPEND message or a CATENATE TEXT part (to be
 * spooled, limit APPENDLIMIT), false for any other literal (kept in
 * memory, limit IMAP_LITERAL_MAX).
 */
bool imap_parse_literal_is_message(const char *text, size_t len);

/*
 * Recognise a literal header at the end of a line (without CRLF):
 * "{123}" (synchronising), "{123+}" (LITERAL+/LITERAL-), "~{123}" and
 * "~{123+}" (literal8).
 * Returns true and sets *size, *nonsync, *binary.  false: no literal, or
 * a malformed/overflowing count (*bad set then).  A bad header still sets
 * *nonsync (it ended in "+}": octets may be on their way) and *size:
 * UINT64_MAX for a count over 64 bits (or 20 digits), 0 otherwise.
 */
bool imap_parse_literal_header(const char *line, size_t len, uint64_t *size, bool *nonsync, bool *binary,
			       bool *bad);

/* The tag of a line, for BAD replies on unparsable input ("*" when none can be found). */
void imap_parse_tag(const char *line, size_t len, char out[IMAP_TAG_MAX + 1]);

#endif
