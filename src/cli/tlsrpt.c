/*
 * tlsrpt.c — `tern tlsrpt list|send`: the TLS reporting results (RFC
 * 8460) the SMTP client collected, and a report run on demand.
 *
 *   tern tlsrpt list                  one line per UTC day and policy domain with results
 *                                     not yet reported: day, domain, successful and failed
 *                                     sessions; tab-separated
 *   tern tlsrpt send [--day YYYY-MM-DD]
 *                                     ask the running server to report now: that day, or
 *                                     every day with results (today's so far included)
 *
 * `send` does not report by itself: the reports go out through the
 * server's queue, resolver and writer, like the daily run.  It leaves a
 * request in the data directory (mta_tlsrpt_request), which the server's
 * scheduler takes within seconds, then waits (up to SEND_WAIT_S) until
 * the run is over, so that a script can read the reports when it
 * returns.  Without a running
 * server the request stays, and the next `serve` carries it out.
 * The server answers with a file of its own once the run is over
 * (mta_tlsrpt_request_done); reports are then handed over (to the
 * queue, or an HTTPS upload under way).
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mta/tlsrpt.h"

#define TAKE_WAIT_S 15      /* for the server to take the request (its timer runs every few seconds) */
#define SEND_WAIT_S 60      /* then for the results to be reported */

static void print_pending(void *ctx, const struct store_tlsrpt_pending *p)
{
	(void)ctx;
	printf("%s\t", p->day);
	cli_put_field(p->domain);
	printf("\t%llu\t%llu\n", (unsigned long long)p->successes, (unsigned long long)p->failures);
}

struct count_ctx {
	const char *day;    /* NULL: every day up to today */
	char today[11];
	size_t n;
};

static void count_pending(void *ctx, const struct store_tlsrpt_pending *p)
{
	struct count_ctx *c = ctx;
	if (c->day ? strcmp(p->day, c->day) == 0 : strcmp(p->day, c->today) <= 0)
		c->n++;
}

static size_t pending_count(struct store *s, const char *day)
{
	struct count_ctx c = { .day = day };
	tlsrpt_day_of(now_unix(), c.today);
	if (store_tlsrpt_pending(s, 0, count_pending, &c) != STORE_OK)
		return (size_t)-1;
	return c.n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int cmd_send(struct cli *c, int argc, char **argv)
{
	const char *day = NULL;
	if (argc == 3 && strcmp(argv[1], "--day") == 0)
		day = argv[2];
	else if (argc != 1)
		return cli_usage(c, "[--day YYYY-MM-DD]");
	if (day && tlsrpt_day_start(day) < 0)
		return cli_fail(c, CLI_USER_ERROR, "invalid day '%.20s' (YYYY-MM-DD)", day);
	struct store *s = cli_store(c);
	if (!s)
		return CLI_INTERNAL;
	size_t before = pending_count(s, day);
	if (before == (size_t)-1)
		return cli_fail(c, CLI_INTERNAL, "cannot read the results");
	if (before == 0) {
		printf("nothing to report\n");
		return 0;
	}
	if (!mta_tlsrpt_request(c->cfg->data_dir, day))
		return cli_fail(c, CLI_INTERNAL, "cannot write the request into %s", c->cfg->data_dir);
	unsigned waited = 0;
	while (mta_tlsrpt_request_pending(c->cfg->data_dir) && waited < TAKE_WAIT_S * 1000) {
		sleep_ms(100);
		waited += 100;
	}
	if (mta_tlsrpt_request_pending(c->cfg->data_dir)) {
		printf("requested: %zu report(s); no server took the request yet, the next one to start will\n", before);
		return 0;
	}
	char summary[64];
	for (waited = 0; waited < SEND_WAIT_S * 1000; waited += 100) {
		if (mta_tlsrpt_request_done(c->cfg->data_dir, summary, sizeof summary)) {
			printf("done: %s day/domain result set(s) reported or dropped (see the server's log)\n", summary);
			return 0;
		}
		sleep_ms(100);
	}
	printf("requested: %zu report(s); the server is still at it (see its log)\n", before);
	return 0;
}

int cli_tlsrpt_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return cli_usage(c, "");
		struct store *s = cli_store(c);
		if (!s)
			return CLI_INTERNAL;
		return cli_status(c, store_tlsrpt_pending(s, 0, print_pending, NULL), "tlsrpt results");
	}
	if (strcmp(sub, "send") == 0)
		return cmd_send(c, argc, argv);
	return cli_unknown(c);
}
