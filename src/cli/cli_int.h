/*
 * cli_int.h — what the command families of src/cli/ share: the command
 * context, error reporting with the right exit code, and turning what an
 * operator types (IDN in Unicode, any case) into the store's form.
 */
#ifndef TERN_CLI_CLI_INT_H
#define TERN_CLI_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "store/store.h"

struct cli {
	const struct config *cfg;
	struct store *store;    /* opened on first use */
	char cmd[32];           /* "user add", for messages */
};

/* Print "tern: <cmd>: <message>" on stderr and return code. */
int cli_fail(struct cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Wrong arguments: the command's usage line on stderr, CLI_USER_ERROR. */
int cli_usage(struct cli *c, const char *args);

/* An unknown sub-command: the group's usage on stderr, CLI_USER_ERROR. */
int cli_unknown(struct cli *c);

/*
 * Map a store status to an exit code, printing what (e.g. "domain
 * example.org") with the status's meaning on stderr.  STORE_OK is 0.
 */
int cli_status(struct cli *c, enum store_status st, const char *what);

/* The store, opened on first use; NULL after printing an error. */
struct store *cli_store(struct cli *c);

/* Domain as typed (Unicode or ASCII) -> A-labels, lower-case; malloc'd, NULL if not convertible. */
char *cli_domain(const char *in);

/*
 * "local@domain" with its domain converted as above, local part as typed;
 * with allow_catchall, "@domain" too.  malloc'd, NULL if malformed.
 */
char *cli_address(const char *in, bool allow_catchall);

/* Decimal number in [min, max] without sign, blanks or trailing garbage. */
bool cli_parse_id(const char *s, int64_t min, int64_t max, int64_t *out);

/* t as "2026-11-26T16:49:55Z". */
void cli_iso8601(int64_t t, char out[32]);

/* One field of tab-separated output: control characters (tabs, newlines) become spaces. */
void cli_put_field(const char *s);

int cli_domain_cmd(struct cli *c, int argc, char **argv);
int cli_user_cmd(struct cli *c, int argc, char **argv);
int cli_alias_cmd(struct cli *c, int argc, char **argv);
int cli_mail_cmd(struct cli *c, int argc, char **argv);
int cli_queue_cmd(struct cli *c, int argc, char **argv);
int cli_dns_cmd(struct cli *c, int argc, char **argv);
int cli_dns_records(struct cli *c, int argc, char **argv);     /* dnsrecords.c */
int cli_dkim_cmd(struct cli *c, int argc, char **argv);
int cli_tlsrpt_cmd(struct cli *c, int argc, char **argv);
int cli_dmarc_cmd(struct cli *c, int argc, char **argv);

#endif
