/*
 * queue.c — `tern queue list|retry|hold|release|delete`: the outbound queue.
 *
 *   tern queue list            id, created, sender, recipient, size,
 *                              attempts, last error, MAIL/RCPT parameters
 *                              (notify= ret= envid= orcpt= requiretls), tern's
 *                              message id, next attempt, state (queued or
 *                              held); tab-separated
 *   tern queue show ID         one entry, one "Field: value" line each, then a
 *                              blank line and the message as it will be sent
 *                              (Postfix's postcat -q)
 *   tern queue retry ID|all    due now (the running server picks it up
 *                              within seconds)
 *   tern queue hold ID|all     not tried until released (Postfix's postsuper -h)
 *   tern queue release ID|all  back in the queue, due now
 *   tern queue delete ID       drop without a bounce
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

/* DSN (RFC 3461) parameters as key=value words, NOTIFY bits as the SMTP layer stores them; REQUIRETLS. */
static void print_dsn(const struct store_queue_entry *e)
{
	static const char *const notify_names[] = { "NEVER", "SUCCESS", "FAILURE", "DELAY" };
	const char *sep = "";
	if (e->notify) {
		fputs("notify=", stdout);
		for (unsigned i = 0; i < 4; i++) {
			if (e->notify & (1u << i)) {
				printf("%s%s", sep, notify_names[i]);
				sep = ",";
			}
		}
		sep = " ";
	}
	if (*e->ret) {
		printf("%sret=", sep);
		cli_put_field(e->ret);
		sep = " ";
	}
	if (*e->envid) {
		printf("%senvid=", sep);
		cli_put_field(e->envid);
		sep = " ";
	}
	if (*e->orcpt) {
		printf("%sorcpt=", sep);
		cli_put_field(e->orcpt);
		sep = " ";
	}
	if (e->requiretls) {
		printf("%srequiretls", sep);
		sep = " ";
	}
	if (!*sep)
		putchar('-');
}

static void print_entry(void *ctx, const struct store_queue_entry *e)
{
	(void)ctx;
	char created[32];
	cli_iso8601(e->created, created);
	printf("%lld\t%s\t", (long long)e->id, created);
	cli_put_field(*e->sender ? e->sender : "<>");
	putchar('\t');
	cli_put_field(e->rcpt);
	printf("\t%llu\t%u\t", (unsigned long long)e->size, e->attempts);
	cli_put_field(e->last_error);
	putchar('\t');
	print_dsn(e);
	putchar('\t');
	cli_put_field(e->message_id);
	char next[32];
	cli_iso8601(e->next_attempt, next);
	printf("\t%s\t%s\n", next, e->held ? "held" : "queued");
}

struct show {
	int64_t id;
	bool found;
	char blob_id[STORE_BLOB_ID_MAX];
	uint64_t offset, size;
};

static void show_field(const char *name, const char *value)
{
	printf("%s: ", name);
	cli_put_field(value);
	putchar('\n');
}

static void show_entry(void *ctx, const struct store_queue_entry *e)
{
	struct show *sh = ctx;
	if (e->id != sh->id)
		return;
	sh->found = true;
	snprintf(sh->blob_id, sizeof sh->blob_id, "%s", e->blob_id);
	sh->offset = e->queue_offset;
	sh->size = e->size;
	char created[32], next[32];
	cli_iso8601(e->created, created);
	cli_iso8601(e->next_attempt, next);
	printf("ID: %lld\n", (long long)e->id);
	show_field("Message-Id", e->message_id);
	printf("Created: %s\nNext-Attempt: %s\nState: %s\n", created, next, e->held ? "held" : "queued");
	show_field("Sender", *e->sender ? e->sender : "<>");
	show_field("Recipient", e->rcpt);
	printf("Parameters: ");
	print_dsn(e);
	printf("%s%s\n", e->body_8bit ? " body=8bitmime" : "", e->smtputf8 ? " smtputf8" : "");
	printf("Size: %llu\nAttempts: %u\n", (unsigned long long)e->size, e->attempts);
	show_field("Last-Error", *e->last_error ? e->last_error : "-");
	printf("Delay-Warning-Sent: %s\n\n", e->warned ? "yes" : "no");
}

/* The message as it goes out: the blob from the queue offset (our Return-Path skipped). */
static int show_message(struct cli *c, struct store *s, const struct show *sh)
{
	int fd = -1;
	enum store_status st = store_blob_open(s, sh->blob_id, &fd);
	if (st != STORE_OK)
		return cli_status(c, st, "queue message file");
	fflush(stdout);
	char buf[65536];
	off_t off = (off_t)sh->offset;
	uint64_t left = sh->size;
	int rc = 0;
	while (left > 0) {
		ssize_t n = pread(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = cli_fail(c, CLI_INTERNAL, "message file shorter than its queue entry says");
			break;
		}
		if (!write_full(STDOUT_FILENO, buf, (size_t)n)) {
			rc = cli_fail(c, CLI_INTERNAL, "cannot write the message: %s", strerror(errno));
			break;
		}
		off += n;
		left -= (uint64_t)n;
	}
	close(fd);
	return rc;
}

static int queue_show(struct cli *c, int argc, char **argv)
{
	struct show sh = { 0 };
	if (argc != 2)
		return cli_usage(c, "ID");
	if (!cli_parse_id(argv[1], 1, INT64_MAX, &sh.id))
		return cli_fail(c, CLI_USER_ERROR, "not a queue id: '%.64s'", argv[1]);
	struct store *s = cli_store(c);
	if (!s)
		return CLI_INTERNAL;
	enum store_status st = store_queue_list(s, show_entry, &sh);
	if (st != STORE_OK)
		return cli_status(c, st, "queue");
	if (!sh.found)
		return cli_fail(c, CLI_USER_ERROR, "no queue entry %lld", (long long)sh.id);
	return show_message(c, s, &sh);
}

enum action { RETRY, HOLD, RELEASE, DELETE };

static enum store_status apply(struct store *s, enum action a, int64_t id)
{
	enum store_status st;
	switch (a) {
	case RETRY:
		return store_queue_retry(s, id);
	case HOLD:
		return store_queue_hold(s, id, true);
	case RELEASE:
		st = store_queue_hold(s, id, false);
		return st == STORE_OK ? store_queue_retry(s, id) : st;
	case DELETE:
		break;
	}
	return store_queue_delete(s, id);
}

/*
 * One statement for the whole queue: a loop of single-row commits takes
 * seconds on a long queue and holds the write lock against the running
 * server's scheduler all that time.
 */
static int apply_all(struct cli *c, struct store *s, enum action a)
{
	uint64_t changed;
	enum store_queue_all_op op = a == RETRY ? STORE_QUEUE_RETRY_ALL : a == HOLD ? STORE_QUEUE_HOLD_ALL
				     : STORE_QUEUE_RELEASE_ALL;
	return cli_status(c, store_queue_all(s, op, &changed), "queue");
}

int cli_queue_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return cli_usage(c, "");
		struct store *s = cli_store(c);
		if (!s)
			return CLI_INTERNAL;
		return cli_status(c, store_queue_list(s, print_entry, NULL), "queue");
	}
	if (strcmp(sub, "show") == 0)
		return queue_show(c, argc, argv);
	static const struct {
		const char *name;
		enum action a;
	} actions[] = { { "retry", RETRY }, { "hold", HOLD }, { "release", RELEASE }, { "delete", DELETE } };
	size_t k = 0;
	while (k < ARRAY_LEN(actions) && strcmp(sub, actions[k].name) != 0)
		k++;
	if (k == ARRAY_LEN(actions))
		return cli_unknown(c);
	enum action a = actions[k].a;
	/* Deleting everything at once is not offered: one typo away from losing mail. */
	bool all_allowed = a != DELETE;
	if (argc != 2)
		return cli_usage(c, all_allowed ? "ID|all" : "ID");
	int64_t id = 0;
	bool all = all_allowed && strcmp(argv[1], "all") == 0;
	if (!all && !cli_parse_id(argv[1], 1, INT64_MAX, &id))
		return cli_fail(c, CLI_USER_ERROR, "invalid queue id '%.40s'", argv[1]);
	struct store *s = cli_store(c);
	if (!s)
		return CLI_INTERNAL;
	if (all)
		return apply_all(c, s, a);
	enum store_status st = apply(s, a, id);
	if (st == STORE_NOTFOUND)
		return cli_fail(c, CLI_USER_ERROR, "no queue entry %lld", (long long)id);
	return cli_status(c, st, "queue entry");
}
