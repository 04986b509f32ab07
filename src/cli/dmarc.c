/*
 * dmarc.c — `tern dmarc report list|send`: the DMARC aggregate report
 * rows (RFC 7489 §7.2) the SMTP receiver collected, and a report run on
 * demand.
 *
 *   tern dmarc report list            one line per UTC day and policy domain not yet
 *                                     reported: day, domain, messages; tab-separated
 *   tern dmarc report send [--day YYYY-MM-DD]
 *                                     ask the running server to report now: that day, or
 *                                     every day with rows (today's so far included)
 *
 * As `tern tlsrpt send`: a request file in data_dir (mta_dmarcrpt_request)
 * that the server's scheduler takes within seconds; this waits until the
 * run is over.  The SMTP loops flush their counts to the store every
 * minute, so the last minute's mail may be in the next report.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/util.h"
#include "mta/dmarcrpt.h"
#include "mta/report.h"

#define TAKE_WAIT_S 15
#define SEND_WAIT_S 60

static void print_pending(void *ctx, const struct store_dmarcrpt_pending *p)
{
	(void)ctx;
	printf("%s\t", p->day);
	cli_put_field(p->domain);
	printf("\t%llu\n", (unsigned long long)p->messages);
}

struct count_ctx {
	const char *day;
	size_t n;
};

static void count_pending(void *ctx, const struct store_dmarcrpt_pending *p)
{
	struct count_ctx *c = ctx;
	if (!c->day || strcmp(p->day, c->day) == 0)
		c->n++;
}

static void wait_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int report_send(struct cli *c, const char *day)
{
	if (day && report_day_start(day) < 0)
		return cli_fail(c, CLI_USER_ERROR, "invalid day '%.20s' (YYYY-MM-DD)", day);
	struct store *s = cli_store(c);
	if (!s)
		return CLI_INTERNAL;
	struct count_ctx cc = { .day = day };
	if (store_dmarcrpt_pending(s, 0, count_pending, &cc) != STORE_OK)
		return cli_fail(c, CLI_INTERNAL, "cannot read the report rows");
	/* Rows may still sit in the server's memory (flushed every minute): ask anyway. */
	const char *dir = c->cfg->data_dir;
	if (!mta_dmarcrpt_request(dir, day))
		return cli_fail(c, CLI_INTERNAL, "cannot write the request into %s", dir);
	unsigned waited = 0;
	for (; mta_dmarcrpt_request_pending(dir) && waited < TAKE_WAIT_S * 1000; waited += 100)
		wait_ms(100);
	if (mta_dmarcrpt_request_pending(dir)) {
		printf("requested: %zu report(s); no server took the request yet, the next one to start will\n", cc.n);
		return 0;
	}
	char summary[64];
	for (waited = 0; waited < SEND_WAIT_S * 1000; waited += 100) {
		if (mta_dmarcrpt_request_done(dir, summary, sizeof summary)) {
			printf("done: %s day/domain report(s) sent or dropped (see the server's log)\n", summary);
			return 0;
		}
		wait_ms(100);
	}
	printf("requested: %zu report(s); the server is still at it (see its log)\n", cc.n);
	return 0;
}

int cli_dmarc_cmd(struct cli *c, int argc, char **argv)
{
	if (strcmp(argv[0], "report") != 0 || argc < 2)
		return cli_unknown(c);
	const char *sub = argv[1];
	if (strcmp(sub, "list") == 0) {
		if (argc != 2)
			return cli_usage(c, "");
		struct store *s = cli_store(c);
		if (!s)
			return CLI_INTERNAL;
		return cli_status(c, store_dmarcrpt_pending(s, 0, print_pending, NULL), "dmarc report rows");
	}
	if (strcmp(sub, "send") == 0) {
		if (argc == 4 && strcmp(argv[2], "--day") == 0)
			return report_send(c, argv[3]);
		if (argc != 2)
			return cli_usage(c, "[--day YYYY-MM-DD]");
		return report_send(c, NULL);
	}
	return cli_unknown(c);
}
