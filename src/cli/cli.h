/*
 * cli.h — the `tern` admin commands: domain, user, alias, mail, queue.
 *
 * main.c loads the config, prepares the data directory, drops privileges
 * and handles serve, check-config and version itself; every other command
 * group comes here.  The commands work on the store directly (store.h), so
 * they run while `serve` runs (SQLite WAL, busy timeout).
 */
#ifndef TERN_CLI_CLI_H
#define TERN_CLI_CLI_H

#include "lib/config.h"

/* Exit codes (CONTRACT.md). */
enum {
	CLI_OK = 0,
	CLI_USER_ERROR = 1,     /* with a one-line message on stderr */
	CLI_INTERNAL = 2,
};

/*
 * Run one command: argv[0] is the group ("domain", "user", "alias",
 * "mail", "queue"), the rest its arguments.  Results go to stdout, errors
 * to stderr as "tern: GROUP SUB: message".  Returns an exit code above.
 */
int cli_run(int argc, char **argv, const struct config *cfg);

#endif
