/*
 * parse.c — the POP3 command-line parser; see parse.h.
 *
 * RFC 1939 §3: a keyword of three or four characters, case-insensitive,
 * then arguments separated by a single space.  Clients are not all that
 * careful, so several spaces between arguments and trailing spaces are
 * accepted, except in PASS, whose argument is the rest of the line as
 * sent (RFC 1939 §7 lets a password contain spaces).
 */
#include "pop3/parse.h"
#include "lib/util.h"

#include <string.h>

static const struct {
	const char *name;
	enum pop3_verb verb;
} verbs[] = {
	{ "USER", POP3_USER }, { "PASS", POP3_PASS }, { "APOP", POP3_APOP }, { "AUTH", POP3_AUTH },
	{ "STLS", POP3_STLS }, { "CAPA", POP3_CAPA }, { "STAT", POP3_STAT }, { "LIST", POP3_LIST },
	{ "RETR", POP3_RETR }, { "DELE", POP3_DELE }, { "NOOP", POP3_NOOP }, { "RSET", POP3_RSET },
	{ "QUIT", POP3_QUIT }, { "TOP", POP3_TOP }, { "UIDL", POP3_UIDL },
};

const char *pop3_verb_name(enum pop3_verb verb)
{
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "?";
}

/* The next space-separated token of [*p, end); false when none is left. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *toklen)
{
	const char *s = *p;
	while (s < end && *s == ' ')
		s++;
	if (s == end) {
		*p = s;
		return false;
	}
	const char *e = s;
	while (e < end && *e != ' ')
		e++;
	*tok = s;
	*toklen = (size_t)(e - s);
	*p = e;
	return true;
}

/* Decimal digits only (no sign), saturating at UINT64_MAX. */
static bool parse_number(const char *s, size_t n, uint64_t *out)
{
	if (n == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*out = v;
	return true;
}

static bool fail(struct pop3_cmd *cmd, const char *error)
{
	cmd->error = error;
	return false;
}

/* Arguments: exactly min..max numbers (message number, then TOP's line count). */
static bool parse_numbers(const char *p, const char *end, size_t min, size_t max,
			  const char *usage, struct pop3_cmd *cmd)
{
	const char *tok;
	size_t toklen, n = 0;
	uint64_t v[2] = { 0, 0 };
	while (next_token(&p, end, &tok, &toklen)) {
		if (n == max)
			return fail(cmd, usage);
		if (!parse_number(tok, toklen, &v[n]))
			return fail(cmd, n == 0 ? "Invalid message number" : "Invalid number of lines");
		n++;
	}
	if (n < min)
		return fail(cmd, usage);
	cmd->has_msg = n > 0;
	cmd->msg = v[0];
	cmd->lines = v[1];
	return true;
}

static bool user_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > POP3_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

bool pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd)
{
	memset(cmd, 0, sizeof *cmd);
	cmd->verb = POP3_UNKNOWN;
	const char *sp = memchr(line, ' ', len);
	size_t klen = sp ? (size_t)(sp - line) : len;
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
		if (ascii_ieq(line, klen, verbs[i].name)) {
			cmd->verb = verbs[i].verb;
			break;
		}
	}
	if (cmd->verb == POP3_UNKNOWN)
		return fail(cmd, "Unknown command");

	const char *args = sp ? sp + 1 : line + len;
	const char *end = line + len;
	const char *tok;
	size_t toklen;
	const char *p = args;

	switch (cmd->verb) {
	case POP3_STLS:
	case POP3_CAPA:
	case POP3_STAT:
	case POP3_NOOP:
	case POP3_RSET:
	case POP3_QUIT:
		if (next_token(&p, end, &tok, &toklen))
			return fail(cmd, "This command takes no arguments");
		return true;
	case POP3_LIST:
		return parse_numbers(p, end, 0, 1, "Syntax: LIST [message]", cmd);
	case POP3_UIDL:
		return parse_numbers(p, end, 0, 1, "Syntax: UIDL [message]", cmd);
	case POP3_RETR:
		return parse_numbers(p, end, 1, 1, "Syntax: RETR message", cmd);
	case POP3_DELE:
		return parse_numbers(p, end, 1, 1, "Syntax: DELE message", cmd);
	case POP3_TOP:
		return parse_numbers(p, end, 2, 2, "Syntax: TOP message lines", cmd);
	case POP3_USER:
		if (!next_token(&p, end, &tok, &toklen) || !user_name_valid(tok, toklen))
			return fail(cmd, "Syntax: USER name");
		cmd->arg = tok;
		cmd->arglen = toklen;
		if (next_token(&p, end, &tok, &toklen))
			return fail(cmd, "Syntax: USER name");
		return true;
	case POP3_PASS:
		if (args >= end)
			return fail(cmd, "Syntax: PASS password");
		if (memchr(args, '\0', (size_t)(end - args)))
			return fail(cmd, "Invalid character in password");
		cmd->arg = args;
		cmd->arglen = (size_t)(end - args);
		return true;
	case POP3_AUTH:
	case POP3_APOP:
		/* The mechanism and initial response are checked by the SASL code. */
		while (p < end && *p == ' ')
			p++;
		while (end > p && end[-1] == ' ')
			end--;
		cmd->arg = p;
		cmd->arglen = (size_t)(end - p);
		return true;
	case POP3_UNKNOWN:
		break;
	}
	return fail(cmd, "Unknown command");
}
