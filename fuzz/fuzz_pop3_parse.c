/*
 * fuzz_pop3_parse.c — the POP3 command-line parser.  Beyond not crashing:
 * an argument it returns lies inside the input, an error always comes
 * with a reason, and the same line parses the same way twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size octets, so ASan sees any read past the end. */
	char *line = malloc(size ? size : 1);
	memcpy(line, data, size);
	struct pop3_cmd a, b;
	bool ok = pop3_parse_command(line, size, &a);
	bool ok2 = pop3_parse_command(line, size, &b);
	if (ok != ok2 || a.verb != b.verb || a.msg != b.msg || a.lines != b.lines || a.arglen != b.arglen)
		abort();
	if (!ok && (!a.error || !*a.error))
		abort();
	if (ok && a.arg && (a.arg < line || a.arg + a.arglen > line + size))
		abort();
	if (ok && a.verb == POP3_USER && (a.arglen == 0 || a.arglen > POP3_USER_MAX))
		abort();
	if (ok && (a.verb == POP3_RETR || a.verb == POP3_DELE || a.verb == POP3_TOP) && !a.has_msg)
		abort();
	if (ok && a.verb == POP3_PASS && (a.arglen == 0 || memchr(a.arg, '\0', a.arglen)))
		abort();
	if (a.verb == POP3_UNKNOWN && ok)
		abort();
	(void)pop3_verb_name(a.verb);
	free(line);
	return 0;
}
