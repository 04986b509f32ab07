/*
 * alias.c — `tern alias add|del|list`: aliases and catch-alls.
 *
 *   tern alias add ALIAS TARGET[,TARGET...]    (more target arguments may follow)
 *   tern alias del ALIAS
 *   tern alias list                            one "alias -> t1, t2" per line
 *
 * "@domain" as ALIAS is the domain's catch-all.  Domains typed in Unicode
 * become A-labels, in the alias and in every target.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store/names.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int alias_add(struct cli *c, int argc, char **argv)
{
	if (argc < 3)
		return cli_usage(c, "ALIAS TARGET[,TARGET...]");
	char *alias = cli_address(argv[1], true);
	struct store_addr parsed;
	if (!alias || !store_name_alias(alias, &parsed)) {
		free(alias);
		return cli_fail(c, CLI_USER_ERROR, "invalid alias '%.320s'", argv[1]);
	}

	char **targets = NULL;
	size_t n = 0;
	int rc = CLI_OK;
	for (int i = 2; i < argc && rc == CLI_OK; i++) {
		char *list = xstrdup(argv[i]);
		/* an empty item (a typo like "a,,b") is reported, not skipped */
		for (char *p = list, *comma; p && rc == CLI_OK; p = comma ? comma + 1 : NULL) {
			comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			char *item = trim(p);
			char *t = *item ? cli_address(item, false) : NULL;
			if (!t || !store_name_address(t, &parsed)) {
				rc = cli_fail(c, CLI_USER_ERROR, "invalid target '%.320s'", item);
				free(t);
			} else if (n == STORE_MAX_EXPANSION) {
				rc = cli_fail(c, CLI_USER_ERROR, "more than %d targets", STORE_MAX_EXPANSION);
				free(t);
			} else {
				targets = xrealloc(targets, (n + 1) * sizeof *targets);
				targets[n++] = t;
			}
		}
		free(list);
	}
	if (rc == CLI_OK) {
		struct store *s = cli_store(c);
		if (!s) {
			rc = CLI_INTERNAL;
		} else {
			enum store_status st = store_alias_add(s, alias, (const char *const *)targets, n);
			const char *domain = strrchr(alias, '@') + 1;
			if (st == STORE_NOTFOUND)
				rc = cli_fail(c, CLI_USER_ERROR, "no such domain %s", domain);
			else if (st == STORE_EXISTS)
				rc = cli_fail(c, CLI_USER_ERROR, "alias %s already has these targets", alias);
			else if (st == STORE_INVALID)
				rc = cli_fail(c, CLI_USER_ERROR, "alias %s would have more than %d targets", alias,
					      STORE_MAX_EXPANSION);
			else
				rc = cli_status(c, st, "alias");
		}
	}
	for (size_t i = 0; i < n; i++)
		free(targets[i]);
	free(targets);
	free(alias);
	return rc;
}

static int alias_del(struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage(c, "ALIAS");
	char *alias = cli_address(argv[1], true);
	if (!alias)
		return cli_fail(c, CLI_USER_ERROR, "invalid alias '%.320s'", argv[1]);
	struct store *s = cli_store(c);
	int rc = CLI_INTERNAL;
	if (s) {
		char what[400];
		snprintf(what, sizeof what, "alias %s", alias);
		enum store_status st = store_alias_del(s, alias);
		rc = st == STORE_INVALID ? cli_fail(c, CLI_USER_ERROR, "invalid alias '%.320s'", argv[1])
					 : cli_status(c, st, what);
	}
	free(alias);
	return rc;
}

static void print_alias(void *ctx, const char *alias, const char *const *targets, size_t n)
{
	(void)ctx;
	printf("%s ->", alias);
	for (size_t i = 0; i < n; i++)
		printf("%s %s", i ? "," : "", targets[i]);
	putchar('\n');
}

int cli_alias_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	if (strcmp(sub, "add") == 0)
		return alias_add(c, argc, argv);
	if (strcmp(sub, "del") == 0)
		return alias_del(c, argc, argv);
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return cli_usage(c, "");
		struct store *s = cli_store(c);
		if (!s)
			return CLI_INTERNAL;
		return cli_status(c, store_alias_list(s, print_alias, NULL), "alias list");
	}
	return cli_unknown(c);
}
