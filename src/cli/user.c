/*
 * user.c — `tern user add|passwd|del|list|quota`: accounts.
 *
 * Passwords never come from the command line: with --password-stdin one
 * line is read from standard input (for scripts); otherwise the password
 * is asked twice on the controlling terminal with echo off.  The clear
 * text lives in fixed buffers that are wiped before returning; only the
 * argon2id hash (auth/password.h) reaches the store.
 *
 * `tern user quota ADDRESS` prints the account's usage and limits, one
 * line each, tab-separated: "storage USED LIMIT" (octets) and "messages
 * USED LIMIT", LIMIT being "unlimited" for 0.  With --storage SIZE (K/M/G
 * suffixes) and/or --messages N it sets those limits instead (0 =
 * unlimited), keeping the one not given.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "lib/config.h"

#define PASSWORD_MAX 1024

/* ---- reading a password -------------------------------------------------- */

/*
 * One line from fd into buf, without the line end (LF or CRLF), read a
 * byte at a time so nothing after the line is consumed.  Returns the
 * length, -1 on a read error, -2 when the line does not fit.
 */
static ssize_t read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= size) {
			/* drain the rest of the line so the caller's message is the only effect */
			while ((r = read(fd, &ch, 1)) > 0 && ch != '\n')
				;
			return -2;
		}
		buf[n++] = ch;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

/* The terminal's settings while echo is off, for the signal handler to put back. */
static int tty_fd = -1;
static struct termios tty_saved;

static void restore_tty_and_die(int sig)
{
	if (tty_fd >= 0)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static ssize_t prompt(int fd, const char *text, char *buf, size_t size)
{
	if (write(fd, text, strlen(text)) < 0)
		return -1;
	return read_line(fd, buf, size);
}

/* Ask twice on /dev/tty.  CLI_OK with pw filled, else the exit code (message printed). */
static int ask_password(struct cli *c, char *pw, size_t size)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail(c, CLI_USER_ERROR, "no terminal to ask for the password; use --password-stdin");
	struct termios t;
	if (tcgetattr(fd, &tty_saved) != 0) {
		close(fd);
		return cli_fail(c, CLI_USER_ERROR, "no terminal to ask for the password; use --password-stdin");
	}
	tty_fd = fd;
	struct sigaction sa = { .sa_handler = restore_tty_and_die }, old_int, old_term, old_quit, old_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGQUIT, &sa, &old_quit);
	sigaction(SIGHUP, &sa, &old_hup);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_lflag |= ECHONL;
	int rc = CLI_OK;
	char again[PASSWORD_MAX + 1];
	if (tcsetattr(fd, TCSAFLUSH, &t) != 0) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot turn off terminal echo: %s", strerror(errno));
		goto out;
	}
	ssize_t n1 = prompt(fd, "Password: ", pw, size);
	ssize_t n2 = n1 >= 0 ? prompt(fd, "Retype password: ", again, sizeof again) : n1;
	if (n1 == -2 || n2 == -2)
		rc = cli_fail(c, CLI_USER_ERROR, "password longer than %d octets", PASSWORD_MAX);
	else if (n1 < 0 || n2 < 0)
		rc = cli_fail(c, CLI_USER_ERROR, "cannot read the password");
	else if (n1 != n2 || memcmp(pw, again, (size_t)n1) != 0)
		rc = cli_fail(c, CLI_USER_ERROR, "passwords do not match");
out:
	explicit_bzero(again, sizeof again);
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	tty_fd = -1;
	close(fd);
	return rc;
}

/* The password (from stdin or the terminal) hashed: *hash malloc'd.  CLI_OK or an exit code. */
static int get_password_hash(struct cli *c, bool from_stdin, char **hash)
{
	char pw[PASSWORD_MAX + 1];
	int rc = CLI_OK;
	*hash = NULL;
	if (from_stdin) {
		ssize_t n = read_line(STDIN_FILENO, pw, sizeof pw);
		if (n == -2)
			rc = cli_fail(c, CLI_USER_ERROR, "password longer than %d octets", PASSWORD_MAX);
		else if (n < 0)
			rc = cli_fail(c, CLI_USER_ERROR, "cannot read the password from standard input");
	} else {
		rc = ask_password(c, pw, sizeof pw);
	}
	if (rc == CLI_OK && pw[0] == '\0')
		rc = cli_fail(c, CLI_USER_ERROR, "empty password refused");
	if (rc == CLI_OK) {
		*hash = password_hash(pw, strlen(pw));
		if (!*hash)
			rc = cli_fail(c, CLI_INTERNAL, "cannot hash the password");
	}
	explicit_bzero(pw, sizeof pw);
	return rc;
}

/* ---- commands ------------------------------------------------------------ */

/* add and passwd: ADDRESS [--password-stdin] in any order. */
static int set_password(struct cli *c, int argc, char **argv, bool add)
{
	const char *arg = NULL;
	bool from_stdin = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			from_stdin = true;
		else if (argv[i][0] == '-' || arg)
			return cli_usage(c, "ADDRESS [--password-stdin]");
		else
			arg = argv[i];
	}
	if (!arg)
		return cli_usage(c, "ADDRESS [--password-stdin]");
	char *address = cli_address(arg, false);
	if (!address)
		return cli_fail(c, CLI_USER_ERROR, "invalid address '%.320s'", arg);
	struct store *s = cli_store(c);
	char *hash = NULL;
	char what[400];
	int rc;
	if (!s) {
		rc = CLI_INTERNAL;
		goto out;
	}

	/* Check what can be checked before asking for a password. */
	struct store_account a;
	enum store_status st = store_account_get(s, address, &a);
	store_account_clear(&a);
	if (st == STORE_INVALID) {
		rc = cli_fail(c, CLI_USER_ERROR, "invalid address '%.320s'", arg);
		goto out;
	}
	if (add && st == STORE_NOTFOUND) {
		const char *domain = strrchr(address, '@') + 1;
		if (!store_domain_is_local(s, domain)) {
			rc = cli_fail(c, CLI_USER_ERROR, "no such domain %s", domain);
			goto out;
		}
	} else if (add && st == STORE_OK) {
		rc = cli_fail(c, CLI_USER_ERROR, "account %s already exists", address);
		goto out;
	} else if (st != STORE_OK && st != STORE_NOTFOUND) {
		snprintf(what, sizeof what, "account %s", address);
		rc = cli_status(c, st, what);
		goto out;
	} else if (!add && st == STORE_NOTFOUND) {
		rc = cli_fail(c, CLI_USER_ERROR, "no such account %s", address);
		goto out;
	}

	rc = get_password_hash(c, from_stdin, &hash);
	if (rc != CLI_OK)
		goto out;
	st = add ? store_account_add(s, address, hash) : store_account_passwd(s, address, hash);
	if (st == STORE_NOTFOUND && add) {
		rc = cli_fail(c, CLI_USER_ERROR, "no such domain %s", strrchr(address, '@') + 1);
	} else {
		snprintf(what, sizeof what, "account %s", address);
		rc = cli_status(c, st, what);
	}
out:
	free(hash);
	free(address);
	return rc;
}

static int user_del(struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage(c, "ADDRESS");
	char *address = cli_address(argv[1], false);
	if (!address)
		return cli_fail(c, CLI_USER_ERROR, "invalid address '%.320s'", argv[1]);
	struct store *s = cli_store(c);
	int rc = CLI_INTERNAL;
	if (s) {
		char what[400];
		snprintf(what, sizeof what, "account %s", address);
		rc = cli_status(c, store_account_del(s, address), what);
	}
	free(address);
	return rc;
}

static void print_account(void *ctx, const struct store_account *a)
{
	(void)ctx;
	printf("%s\n", a->address);
}

static int user_list(struct cli *c, int argc, char **argv)
{
	if (argc > 2)
		return cli_usage(c, "[DOMAIN]");
	char *domain = NULL;
	if (argc == 2 && !(domain = cli_domain(argv[1])))
		return cli_fail(c, CLI_USER_ERROR, "invalid domain '%.255s'", argv[1]);
	struct store *s = cli_store(c);
	int rc = CLI_INTERNAL;
	if (s) {
		char what[300];
		snprintf(what, sizeof what, "domain %s", domain ? domain : "");
		rc = cli_status(c, store_account_list(s, domain, print_account, NULL), what);
	}
	free(domain);
	return rc;
}

static void print_quota_line(const char *what, uint64_t used, uint64_t limit)
{
	if (limit)
		printf("%s\t%llu\t%llu\n", what, (unsigned long long)used, (unsigned long long)limit);
	else
		printf("%s\t%llu\tunlimited\n", what, (unsigned long long)used);
}

static int user_quota(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "ADDRESS [--storage SIZE] [--messages N]";
	const char *arg = NULL, *storage_arg = NULL, *messages_arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--storage") == 0 && i + 1 < argc && !storage_arg)
			storage_arg = argv[++i];
		else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc && !messages_arg)
			messages_arg = argv[++i];
		else if (argv[i][0] == '-' || arg)
			return cli_usage(c, usage);
		else
			arg = argv[i];
	}
	if (!arg)
		return cli_usage(c, usage);
	uint64_t storage = 0, messages = 0;
	if (storage_arg && (!config_parse_size(storage_arg, &storage) || storage > INT64_MAX))
		return cli_fail(c, CLI_USER_ERROR, "invalid size '%.40s' (like 500M, 0 = unlimited)", storage_arg);
	int64_t n = 0;
	if (messages_arg && !cli_parse_id(messages_arg, 0, INT64_MAX, &n))
		return cli_fail(c, CLI_USER_ERROR, "invalid number of messages '%.40s'", messages_arg);
	messages = (uint64_t)n;
	char *address = cli_address(arg, false);
	if (!address)
		return cli_fail(c, CLI_USER_ERROR, "invalid address '%.320s'", arg);
	struct store *s = cli_store(c);
	int rc = CLI_INTERNAL;
	char what[400];
	snprintf(what, sizeof what, "account %s", address);
	if (!s)
		goto out;
	struct store_account a;
	enum store_status st = store_account_get(s, address, &a);
	store_account_clear(&a);
	if (st != STORE_OK) {
		rc = st == STORE_INVALID ? cli_fail(c, CLI_USER_ERROR, "invalid address '%.320s'", arg)
					 : cli_status(c, st, what);
		goto out;
	}
	if (storage_arg || messages_arg) {
		rc = cli_status(c, store_quota_set(s, address, storage_arg ? storage : a.quota_storage,
						   messages_arg ? messages : a.quota_messages), what);
		goto out;
	}
	struct store_quota q;
	rc = cli_status(c, store_quota_get(s, a.id, &q), what);
	if (rc == CLI_OK) {
		print_quota_line("storage", q.storage_used, q.storage_limit);
		print_quota_line("messages", q.messages_used, q.messages_limit);
	}
out:
	free(address);
	return rc;
}

int cli_user_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	if (strcmp(sub, "add") == 0)
		return set_password(c, argc, argv, true);
	if (strcmp(sub, "passwd") == 0)
		return set_password(c, argc, argv, false);
	if (strcmp(sub, "del") == 0)
		return user_del(c, argc, argv);
	if (strcmp(sub, "list") == 0)
		return user_list(c, argc, argv);
	if (strcmp(sub, "quota") == 0)
		return user_quota(c, argc, argv);
	return cli_unknown(c);
}
