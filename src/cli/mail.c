/*
 * mail.c — `tern mail list|cat`: look at an account's messages.
 *
 *   tern mail list ADDRESS [MAILBOX]   UID, flags, size, date (internal,
 *                                      ISO 8601 UTC), from, subject; tab-separated
 *   tern mail cat ADDRESS MAILBOX UID  the raw message, byte for byte
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Resolve ADDRESS and MAILBOX to a mailbox id; CLI_OK or an exit code (message printed). */
static int find_mailbox(struct cli *c, const char *arg, const char *name, int64_t *mailbox_id)
{
	char *address = cli_address(arg, false);
	if (!address)
		return cli_fail(c, CLI_USER_ERROR, "invalid address '%.320s'", arg);
	struct store *s = cli_store(c);
	int rc = CLI_INTERNAL;
	if (!s)
		goto out;
	struct store_account a;
	enum store_status st = store_account_get(s, address, &a);
	store_account_clear(&a);
	if (st != STORE_OK) {
		char what[400];
		snprintf(what, sizeof what, "account %s", address);
		rc = st == STORE_INVALID ? cli_fail(c, CLI_USER_ERROR, "invalid address '%.320s'", arg)
					 : cli_status(c, st, what);
		goto out;
	}
	struct store_mailbox mb;
	st = store_mailbox_get(s, a.id, name, &mb);
	if (st == STORE_NOTFOUND || st == STORE_INVALID) {
		rc = cli_fail(c, CLI_USER_ERROR, "no mailbox '%.200s' in %s", name, address);
		goto out;
	}
	rc = cli_status(c, st, "mailbox");
	*mailbox_id = mb.id;
out:
	free(address);
	return rc;
}

static void print_message(void *ctx, const struct store_message *m)
{
	(void)ctx;
	static const struct {
		uint32_t bit;
		const char *name;
	} flags[] = {
		{ STORE_FLAG_SEEN, "\\Seen" },
		{ STORE_FLAG_ANSWERED, "\\Answered" },
		{ STORE_FLAG_FLAGGED, "\\Flagged" },
		{ STORE_FLAG_DELETED, "\\Deleted" },
		{ STORE_FLAG_DRAFT, "\\Draft" },
	};
	printf("%u\t", m->uid);
	const char *sep = "";
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		if (m->flags & flags[i].bit) {
			printf("%s%s", sep, flags[i].name);
			sep = " ";
		}
	}
	if (m->keywords && *m->keywords) {
		fputs(sep, stdout);
		cli_put_field(m->keywords);
	}
	char date[32];
	cli_iso8601(m->internaldate, date);
	printf("\t%llu\t%s\t", (unsigned long long)m->size, date);
	cli_put_field(m->from ? m->from : "");
	putchar('\t');
	cli_put_field(m->subject ? m->subject : "");
	putchar('\n');
}

static int mail_list(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		return cli_usage(c, "ADDRESS [MAILBOX]");
	int64_t mailbox_id;
	int rc = find_mailbox(c, argv[1], argc == 3 ? argv[2] : "INBOX", &mailbox_id);
	if (rc != CLI_OK)
		return rc;
	return cli_status(c, store_message_list(c->store, mailbox_id, print_message, NULL), "mailbox");
}

/* Copy fd to stdout until end of file, whatever read/write return short. */
static int stream(struct cli *c, int fd)
{
	char buf[65536];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cli_fail(c, CLI_INTERNAL, "cannot read the message: %s", strerror(errno));
		if (r == 0)
			return CLI_OK;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return cli_fail(c, CLI_INTERNAL, "cannot write the message: %s", strerror(errno));
			off += w;
		}
	}
}

static int mail_cat(struct cli *c, int argc, char **argv)
{
	if (argc != 4)
		return cli_usage(c, "ADDRESS MAILBOX UID");
	int64_t uid;
	if (!cli_parse_id(argv[3], 1, UINT32_MAX, &uid))
		return cli_fail(c, CLI_USER_ERROR, "invalid UID '%.40s'", argv[3]);
	int64_t mailbox_id;
	int rc = find_mailbox(c, argv[1], argv[2], &mailbox_id);
	if (rc != CLI_OK)
		return rc;
	int fd;
	uint64_t size;
	enum store_status st = store_message_open(c->store, mailbox_id, (uint32_t)uid, &fd, &size);
	if (st == STORE_NOTFOUND)
		return cli_fail(c, CLI_USER_ERROR, "no message with UID %lld in %.200s", (long long)uid, argv[2]);
	if (st != STORE_OK)
		return cli_status(c, st, "message");
	fflush(stdout);     /* the message goes out with write(2), after anything stdio holds */
	rc = stream(c, fd);
	close(fd);
	return rc;
}

int cli_mail_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	if (strcmp(sub, "list") == 0)
		return mail_list(c, argc, argv);
	if (strcmp(sub, "cat") == 0)
		return mail_cat(c, argc, argv);
	return cli_unknown(c);
}
