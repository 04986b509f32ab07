/*
 * main.c — the `tern` command: argument parsing and dispatch.
 *
 *   tern [-c FILE] serve | check-config | version | domain … | user … |
 *                  alias … | mail … | queue …
 *
 * The config is $TERN_CONFIG or /etc/tern/tern.conf unless -c says
 * otherwise (-c may stand anywhere on the line).  Admin commands run as
 * the configured user, like serve, so the data directory keeps one owner.
 * Exit codes: 0 success, 1 user error, 2 internal error.
 */
#include "cli/cli.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/privs.h"
#include "lib/xalloc.h"
#include "net/tls.h"
#include "serve.h"

#include <event2/event.h>
#include <stdbool.h>
#include <idn2.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static void usage(FILE *f)
{
	fputs("usage: tern [-c FILE] COMMAND [ARGS]\n"
	      "\n"
	      "  serve                          run the server in the foreground\n"
	      "  check-config                   validate the config file\n"
	      "  version                        version and linked libraries\n"
	      "  domain add|del|list [DOMAIN]\n"
	      "  user add|passwd ADDRESS [--password-stdin]\n"
	      "  user del|list [ADDRESS|DOMAIN]\n"
	      "  user quota ADDRESS [--storage SIZE] [--messages N]\n"
	      "  alias add ALIAS TARGET[,TARGET...] | alias del ALIAS | alias list\n"
	      "  mail list ADDRESS [MAILBOX] | mail cat ADDRESS MAILBOX UID\n"
	      "  queue list | queue show ID | queue retry|hold|release ID|all | queue delete ID\n"
	      "  dns lookup a|aaaa|mx|txt|tlsa|ptr NAME\n"
	      "  dns mta-sts [--no-cache] DOMAIN...\n"
	      "  dns records DOMAIN\n"
	      "  dkim keygen DOMAIN [--ed25519] [--selector SEL] [--bits N]\n"
	      "  dkim list | dkim activate DOMAIN SELECTOR | dkim record DOMAIN [SELECTOR]\n"
	      "  dkim verify FILE|-\n"
	      "  tlsrpt list | tlsrpt send [--day YYYY-MM-DD]\n"
	      "  dmarc report list | dmarc report send [--day YYYY-MM-DD]\n"
	      "\n"
	      "The config file is -c FILE, else $TERN_CONFIG, else /etc/tern/tern.conf.\n", f);
}

static int version(void)
{
	printf("tern %s\n", TERN_VERSION);
	printf("libevent %s\n", event_get_version());
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("SQLite %s\n", sqlite3_libversion());
	printf("libidn2 %s\n", idn2_check_version(NULL));
	printf("zlib %s\n", zlibVersion());
	return 0;
}

/* Beyond syntax: what serve would trip over. */
static int check_environment(const struct config *cfg)
{
	int problems = 0;
	if (!privs_user_exists(cfg)) {
		fprintf(stderr, "%s: user: no such user '%s'\n", cfg->path, cfg->user);
		problems++;
	}
	if (cfg->tls.cert && !tls_init(cfg->tls.cert, cfg->tls.key)) {
		fprintf(stderr, "%s: [tls]: cannot load certificate '%s' with key '%s'\n",
			cfg->path, cfg->tls.cert, cfg->tls.key);
		problems++;
	}
	tls_shutdown();
	return problems;
}

int main(int argc, char **argv)
{
	const char *config_path = getenv("TERN_CONFIG");
	if (!config_path || !*config_path)
		config_path = "/etc/tern/tern.conf";

	/* Take -c FILE out of the arguments wherever it stands. */
	char **args = xcalloc((size_t)argc + 1, sizeof *args);
	int nargs = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tern: -c needs a file\n");
				free(args);
				return 1;
			}
			config_path = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			free(args);
			return 0;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (nargs == 0) {
		usage(stderr);
		free(args);
		return 1;
	}
	const char *cmd = args[0];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		free(args);
		return version();
	}

	struct config cfg;
	struct buf errors = BUF_INIT;
	int problems = config_load(config_path, &cfg, &errors);
	int rc;
	if (strcmp(cmd, "check-config") == 0) {
		if (!problems)
			problems = check_environment(&cfg);
		fputs(buf_cstr(&errors), stderr);
		if (!problems)
			printf("%s: ok\n", config_path);
		rc = problems ? 1 : 0;
		goto out;
	}
	if (problems) {
		fputs(buf_cstr(&errors), stderr);
		fprintf(stderr, "tern: %d problem%s in %s\n", problems, problems == 1 ? "" : "s", config_path);
		rc = 1;
		goto out;
	}
	log_set_level(cfg.log.level);

	if (strcmp(cmd, "serve") == 0) {
		rc = serve_main(&cfg);
		goto out;
	}
	static const char *const groups[] = { "domain", "user", "alias", "mail", "queue", "dns", "tlsrpt", "dkim", "dmarc" };
	bool known = false;
	for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
		known = known || strcmp(cmd, groups[i]) == 0;
	if (!known) {
		fprintf(stderr, "tern: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 1;
		goto out;
	}
	if (!privs_prepare_data_dir(&cfg) || !privs_drop(&cfg)) {
		rc = 2;
		goto out;
	}
	rc = cli_run(nargs, args, &cfg);
out:
	buf_free(&errors);
	config_free(&cfg);
	free(args);
	return rc;
}
