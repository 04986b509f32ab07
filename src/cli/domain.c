/*
 * domain.c — `tern domain add|del|list`: the local domains.  Names typed
 * in Unicode are stored as A-labels (IDNA2008, non-transitional).
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_name(void *ctx, const char *name)
{
	(void)ctx;
	printf("%s\n", name);
}

int cli_domain_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	bool add = strcmp(sub, "add") == 0, del = strcmp(sub, "del") == 0;
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return cli_usage(c, "");
		struct store *s = cli_store(c);
		if (!s)
			return CLI_INTERNAL;
		return cli_status(c, store_domain_list(s, print_name, NULL), "domain list");
	}
	if (!add && !del)
		return cli_unknown(c);
	if (argc != 2)
		return cli_usage(c, "DOMAIN");

	char *domain = cli_domain(argv[1]);
	if (!domain)
		return cli_fail(c, CLI_USER_ERROR, "invalid domain '%.255s'", argv[1]);
	struct store *s = cli_store(c);
	if (!s) {
		free(domain);
		return CLI_INTERNAL;
	}
	enum store_status st = add ? store_domain_add(s, domain) : store_domain_del(s, domain);
	char what[300];
	snprintf(what, sizeof what, "domain %s", domain);
	int rc;
	if (st == STORE_INUSE)
		rc = cli_fail(c, CLI_USER_ERROR, "domain %s still has accounts or aliases", domain);
	else if (st == STORE_INVALID)
		rc = cli_fail(c, CLI_USER_ERROR, "invalid domain '%.255s'", argv[1]);
	else
		rc = cli_status(c, st, what);
	free(domain);
	return rc;
}
