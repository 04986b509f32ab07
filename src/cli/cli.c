/*
 * cli.c — dispatch of the admin commands (cli.h) and the helpers the
 * command families share (cli_int.h): error messages with exit codes,
 * IDN conversion of what the operator typed, number and date formatting.
 *
 * The CLI talks to the operator through stdout (results) and one line on
 * stderr per error; the store's info-level log lines are meant for the
 * daemon's log, so at the default level the CLI only lets warnings through.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

static const struct group {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *usage;
} groups[] = {
	{ "domain", cli_domain_cmd, "domain add|del DOMAIN | domain list" },
	{ "user", cli_user_cmd, "user add|passwd ADDRESS [--password-stdin] | user del ADDRESS | user list [DOMAIN]"
				" | user quota ADDRESS [--storage SIZE] [--messages N]" },
	{ "alias", cli_alias_cmd, "alias add ALIAS TARGET[,TARGET...] | alias del ALIAS | alias list" },
	{ "mail", cli_mail_cmd, "mail list ADDRESS [MAILBOX] | mail cat ADDRESS MAILBOX UID" },
	{ "queue", cli_queue_cmd, "queue list | queue show ID | queue retry|hold|release ID|all | queue delete ID" },
	{ "dns", cli_dns_cmd, "dns lookup a|aaaa|mx|txt|tlsa|ptr NAME | dns mta-sts [--no-cache] DOMAIN... | dns records DOMAIN" },
	{ "dkim", cli_dkim_cmd, "dkim keygen DOMAIN [--ed25519] [--selector SEL] [--bits N] | dkim list | dkim activate DOMAIN SELECTOR | dkim record DOMAIN [SELECTOR] | dkim verify FILE|-" },
	{ "tlsrpt", cli_tlsrpt_cmd, "tlsrpt list | tlsrpt send [--day YYYY-MM-DD]" },
	{ "dmarc", cli_dmarc_cmd, "dmarc report list | dmarc report send [--day YYYY-MM-DD]" },
};

int cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One line, whatever the arguments contained. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	fflush(stdout);
	fprintf(stderr, "tern: %s: %s\n", c->cmd, msg);
	return code;
}

int cli_usage(struct cli *c, const char *args)
{
	return cli_fail(c, CLI_USER_ERROR, "usage: tern %s %s", c->cmd, args);
}

int cli_status(struct cli *c, enum store_status st, const char *what)
{
	switch (st) {
	case STORE_OK:
		return CLI_OK;
	case STORE_NOTFOUND:
		return cli_fail(c, CLI_USER_ERROR, "no such %s", what);
	case STORE_EXISTS:
		return cli_fail(c, CLI_USER_ERROR, "%s already exists", what);
	case STORE_INVALID:
		return cli_fail(c, CLI_USER_ERROR, "invalid %s", what);
	case STORE_INUSE:
		return cli_fail(c, CLI_USER_ERROR, "%s is still in use", what);
	case STORE_QUOTA:
		return cli_fail(c, CLI_USER_ERROR, "%s is over quota", what);
	case STORE_IOERR:
		break;
	}
	return cli_fail(c, CLI_INTERNAL, "%s: store error (details in the log above)", what);
}

int cli_unknown(struct cli *c)
{
	for (size_t i = 0; i < ARRAY_LEN(groups); i++) {
		size_t n = strlen(groups[i].name);
		if (strncmp(c->cmd, groups[i].name, n) == 0 && c->cmd[n] == ' ')
			return cli_fail(c, CLI_USER_ERROR, "unknown command; usage: tern %s", groups[i].usage);
	}
	return cli_fail(c, CLI_USER_ERROR, "unknown command");
}

struct store *cli_store(struct cli *c)
{
	if (!c->store) {
		c->store = store_open(c->cfg->data_dir);
		if (!c->store)
			cli_fail(c, CLI_INTERNAL, "cannot open the store in %s", c->cfg->data_dir);
	}
	return c->store;
}

char *cli_domain(const char *in)
{
	char *out = NULL;
	if (!in || !*in || strlen(in) > 1024)
		return NULL;
	if (idn2_to_ascii_8z(in, &out, IDN2_NONTRANSITIONAL) != IDN2_OK)
		return NULL;
	char *d = xstrdup(out);
	idn2_free(out);
	ascii_lower(d, strlen(d));
	return d;
}

char *cli_address(const char *in, bool allow_catchall)
{
	const char *at = in ? strrchr(in, '@') : NULL;
	if (!at || (at == in && !allow_catchall))
		return NULL;
	char *domain = cli_domain(at + 1);
	if (!domain)
		return NULL;
	size_t llen = (size_t)(at - in);
	size_t n = llen + 1 + strlen(domain) + 1;
	char *addr = xmalloc(n);
	snprintf(addr, n, "%.*s@%s", (int)llen, in, domain);
	free(domain);
	return addr;
}

bool cli_parse_id(const char *s, int64_t min, int64_t max, int64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno || v < min || v > max)
		return false;
	*out = v;
	return true;
}

void cli_iso8601(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", (long long)t);
}

void cli_put_field(const char *s)
{
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		putchar(ch < ' ' || ch == 0x7f ? ' ' : ch);
	}
}

int cli_run(int argc, char **argv, const struct config *cfg)
{
	struct cli c = { .cfg = cfg };
	clearerr(stdout);
	if (log_enabled(LOG_INFO) && !log_enabled(LOG_DEBUG))
		log_set_level(LOG_WARN);
	if (argc < 1) {
		snprintf(c.cmd, sizeof c.cmd, "cli");
		return cli_fail(&c, CLI_USER_ERROR, "no command given");
	}
	const struct group *g = NULL;
	for (size_t i = 0; i < ARRAY_LEN(groups); i++)
		if (strcmp(argv[0], groups[i].name) == 0)
			g = &groups[i];
	if (!g) {
		snprintf(c.cmd, sizeof c.cmd, "cli");
		return cli_fail(&c, CLI_USER_ERROR, "unknown command '%.40s'", argv[0]);
	}
	if (argc < 2) {
		snprintf(c.cmd, sizeof c.cmd, "%s", g->name);
		return cli_fail(&c, CLI_USER_ERROR, "usage: tern %s", g->usage);
	}
	snprintf(c.cmd, sizeof c.cmd, "%s %.20s", g->name, argv[1]);
	int rc = g->run(&c, argc - 1, argv + 1);
	store_close(&c.store);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == CLI_OK)
			rc = cli_fail(&c, CLI_INTERNAL, "cannot write the output: %s", strerror(errno));
	}
	return rc;
}
