/*
 * queue.c — `tern queue list|retry|delete`: the outbound queue.
 *
 *   tern queue list            id, created, sender, recipient, size,
 *                              attempts, last error, DSN parameters
 *                              (notify= ret= envid= orcpt=) and tern's
 *                              message id; tab-separated
 *   tern queue retry ID|all    due now (the scheduler picks it up)
 *   tern queue delete ID       drop without a bounce
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* DSN (RFC 3461) parameters as key=value words; NOTIFY bits as the SMTP layer stores them. */
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
	putchar('\n');
}

struct ids {
	int64_t *v;
	size_t n;
};

static void collect_id(void *ctx, const struct store_queue_entry *e)
{
	struct ids *ids = ctx;
	ids->v = xrealloc(ids->v, (ids->n + 1) * sizeof *ids->v);
	ids->v[ids->n++] = e->id;
}

static int retry_all(struct cli *c, struct store *s)
{
	struct ids ids = { NULL, 0 };
	enum store_status st = store_queue_list(s, collect_id, &ids);
	for (size_t i = 0; i < ids.n && st == STORE_OK; i++) {
		st = store_queue_retry(s, ids.v[i]);
		if (st == STORE_NOTFOUND)   /* delivered or deleted meanwhile */
			st = STORE_OK;
	}
	free(ids.v);
	return cli_status(c, st, "queue");
}

int cli_queue_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	bool retry = strcmp(sub, "retry") == 0, del = strcmp(sub, "delete") == 0;
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return cli_usage(c, "");
		struct store *s = cli_store(c);
		if (!s)
			return CLI_INTERNAL;
		return cli_status(c, store_queue_list(s, print_entry, NULL), "queue");
	}
	if (!retry && !del)
		return cli_unknown(c);
	if (argc != 2)
		return cli_usage(c, retry ? "ID|all" : "ID");
	int64_t id = 0;
	bool all = retry && strcmp(argv[1], "all") == 0;
	if (!all && !cli_parse_id(argv[1], 1, INT64_MAX, &id))
		return cli_fail(c, CLI_USER_ERROR, "invalid queue id '%.40s'", argv[1]);
	struct store *s = cli_store(c);
	if (!s)
		return CLI_INTERNAL;
	if (all)
		return retry_all(c, s);
	enum store_status st = retry ? store_queue_retry(s, id) : store_queue_delete(s, id);
	if (st == STORE_NOTFOUND)
		return cli_fail(c, CLI_USER_ERROR, "no queue entry %lld", (long long)id);
	return cli_status(c, st, "queue entry");
}
