/*
 * parse.h — the POP3 command-line parser (RFC 1939, RFC 2449, RFC 5034).
 *
 * Pure: takes one command line without its CRLF and says which command it
 * is and what its arguments are, or why they are wrong.  Whether the
 * command is allowed in the session's state, and whether a message number
 * exists, is the session's business (session.c, commands.c).  Fuzzed by
 * fuzz/fuzz_pop3_parse.c.
 */
#ifndef TERN_POP3_PARSE_H
#define TERN_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POP3_LINE_MAX 255           /* command line incl. CRLF, RFC 2449 §4 */
#define POP3_USER_MAX 319           /* USER argument: an address, as auth_request.user holds */

enum pop3_verb {
	POP3_UNKNOWN,
	POP3_USER,
	POP3_PASS,
	POP3_APOP,
	POP3_AUTH,
	POP3_STLS,
	POP3_CAPA,
	POP3_STAT,
	POP3_LIST,
	POP3_RETR,
	POP3_DELE,
	POP3_NOOP,
	POP3_RSET,
	POP3_QUIT,
	POP3_TOP,
	POP3_UIDL,
};

struct pop3_cmd {
	enum pop3_verb verb;
	/*
	 * USER: the name; PASS: the rest of the line after one space (a
	 * password may contain spaces, RFC 1939 §7); AUTH: everything after
	 * "AUTH " (mechanism and optional initial response); points into the
	 * line given to pop3_parse_command.
	 */
	const char *arg;
	size_t arglen;
	bool has_msg;               /* a message number was given (LIST/UIDL optional, RETR/DELE/TOP always) */
	uint64_t msg;               /* as given, saturating: 0 or too big is the session's "no such message" */
	uint64_t lines;             /* TOP: body lines (saturating at UINT64_MAX) */
	const char *error;          /* when false is returned: a reason for the client */
};

/*
 * Parse line[0..len) (no CRLF).  Returns true with cmd filled, or false
 * with cmd->verb set (POP3_UNKNOWN for an unknown keyword) and cmd->error
 * a static text saying what is wrong with the arguments.  Keywords are
 * case-insensitive.  Never reads outside line[0..len), never allocates.
 */
bool pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd);

/* The keyword of verb in upper case ("RETR"), "?" for POP3_UNKNOWN. */
const char *pop3_verb_name(enum pop3_verb verb);

#endif
