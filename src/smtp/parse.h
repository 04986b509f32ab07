/*
 * parse.h — SMTP command-line grammar (RFC 5321 §4.1, with the ESMTP
 * parameters of SIZE, 8BITMIME, SMTPUTF8 (RFC 6531), DSN (RFC 3461), AUTH
 * (RFC 4954)).  Pure functions over (pointer, length): no session state,
 * no allocation beyond the result structs, fuzzed in fuzz/.
 *
 * Errors come back as a ready SMTP reply (code, enhanced code, text) so the
 * session only has to send it.
 */
#ifndef TERN_SMTP_PARSE_H
#define TERN_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_MAX_LOCALPART 64     /* RFC 5321 §4.5.3.1.1 */
#define SMTP_MAX_DOMAIN 255       /* §4.5.3.1.2 */
#define SMTP_MAX_PATH 256         /* §4.5.3.1.3, including the <> */

enum smtp_verb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_BDAT, SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN,
	SMTP_HELP, SMTP_STARTTLS, SMTP_AUTH,
};

struct smtp_error {
	int code;                 /* 501, 553, 555 ... */
	const char *enhanced;     /* "5.5.4" */
	const char *text;         /* static */
};

/*
 * Split a command line (without CRLF) into verb and arguments: the verb is
 * matched case-insensitively; *args points past the single space after it
 * (or at the end), trailing blanks removed.
 */
enum smtp_verb smtp_parse_verb(const char *line, size_t len, const char **args, size_t *argslen);

/* A reverse-path or forward-path. */
struct smtp_path {
	bool null;                /* <> */
	bool postmaster;          /* RCPT TO:<Postmaster> without a domain */
	bool source_route;        /* had "@a,@b:" (discarded, RFC 5321 §4.1.2 / C) */
	bool quoted;              /* local part was a quoted-string */
	bool relay_hack;          /* local part holds '%', '!' or '@': routing tricks */
	bool utf8;                /* non-ASCII in local part or domain */
	bool address_literal;     /* domain is [a.b.c.d] or [IPv6:...] */
	char localpart[SMTP_MAX_LOCALPART * 2 + 3];  /* unquoted (escapes removed) */
	char domain[SMTP_MAX_DOMAIN + 1];            /* lower-case; IDN converted to A-labels */
	char address[SMTP_MAX_PATH * 2 + 8];         /* "localpart@domain", local part re-quoted if needed */
};

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS };

enum {
	SMTP_NOTIFY_NEVER   = 1 << 0,
	SMTP_NOTIFY_SUCCESS = 1 << 1,
	SMTP_NOTIFY_FAILURE = 1 << 2,
	SMTP_NOTIFY_DELAY   = 1 << 3,
};

struct smtp_mail_args {
	struct smtp_path path;
	bool size_given;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	bool requiretls;          /* RFC 8689: every hop must be verified TLS */
	enum smtp_ret ret;
	char envid[101];          /* xtext decoded; "" if absent */
	char auth[SMTP_MAX_PATH * 2 + 8];  /* AUTH= value decoded; "" if absent or <> */
};

struct smtp_rcpt_args {
	struct smtp_path path;
	unsigned notify;          /* SMTP_NOTIFY_* bits; 0 if absent */
	char orcpt[SMTP_MAX_PATH * 2 + 16];  /* "rfc822;addr" xtext decoded; "" if absent */
};

/*
 * Parse the arguments of MAIL ("FROM:<path> [params]").  Returns true, or
 * false with *err set: 501 5.5.4 syntax, 501 5.1.7 bad address, 555 5.5.4
 * unknown parameter, 553 5.6.7 non-ASCII address without SMTPUTF8 ...
 */
bool smtp_parse_mail(const char *args, size_t len, struct smtp_mail_args *out, struct smtp_error *err);

/*
 * Parse the arguments of RCPT ("TO:<path> [params]").  smtputf8 tells whether
 * the transaction's MAIL had SMTPUTF8 (else a UTF-8 address is 553 5.6.7).
 * Errors as for MAIL, with 501 5.1.3 for a bad address.
 */
bool smtp_parse_rcpt(const char *args, size_t len, bool smtputf8, struct smtp_rcpt_args *out, struct smtp_error *err);

/* "BDAT <size> [LAST]".  false on syntax error (501 5.5.4). */
bool smtp_parse_bdat(const char *args, size_t len, uint64_t *size, bool *last, struct smtp_error *err);

/* The argument of HELO / EHLO: a domain or address literal.  false: 501 5.5.4. */
bool smtp_parse_helo(const char *args, size_t len, struct smtp_error *err);

/* xtext (RFC 3461 §4): decode into out (size incl. NUL); false if malformed or too long. */
bool smtp_xtext_decode(const char *s, size_t len, char *out, size_t outsize);

#endif
