/*
 * dns.c — `tern dns lookup TYPE NAME`: one query through tern's own
 * resolver (src/dns/, with the configured [dns] nameservers and
 * trust_anchor), so an operator sees what delivery sees, DNSSEC status
 * included.  The e2e tests drive the resolver through it.
 *
 *   status=OK secure=yes            first line: status, DNSSEC, and for a
 *   10 mx1.example.test             temporary failure bogus=yes / why="..."
 *
 * Then one record per line: MX "PREF HOST" (null MX "0 ."), A/AAAA the
 * address, TXT the text with bytes outside printable ASCII and '\' as
 * \DDD, TLSA "USAGE SELECTOR MTYPE HEX", PTR the name.  Exit 0 for
 * OK/NXDOMAIN/NODATA, 1 for bad usage or a bad name, 2 for TEMPFAIL.
 *
 * `tern dns mta-sts [--no-cache] DOMAIN...`: the domain's MTA-STS policy
 * as delivery would find it (src/mta/sts.h: TXT record, HTTPS fetch with
 * [delivery] mta_sts_port and tls_ca_file, whatever [delivery] mta_sts
 * says), through the policy cache in data_dir/mta-sts/ (read, and written
 * after a fetch, a background refresh included: the command waits for
 * it) unless --no-cache, which neither reads nor writes it:
 *
 *   status=OK mode=enforce max_age=86400 id=20240101 source=fetch
 *   mx mx1.example.org                  then one line per mx pattern
 *   mx *.example.net
 *
 * source=cache when the cached policy was used, with why="..." when that
 * was because the TXT record or the fetch failed.  status=NONE why="..."
 * when the domain has no policy (exit 0); status=TEMPFAIL (DNS) or
 * status=FAIL (the policy announced could not be fetched or is invalid,
 * and nothing valid is cached: delivery goes on without MTA-STS) with
 * why="..." exit 2.  Several domains are asked at once (the same one
 * twice shares one discovery), each block then preceded by "domain D".
 */
#include "cli/cli_int.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mta/sts.h"

static const struct {
	const char *name;
	enum dns_type type;
} types[] = {
	{ "a", DNS_A }, { "aaaa", DNS_AAAA }, { "mx", DNS_MX },
	{ "txt", DNS_TXT }, { "tlsa", DNS_TLSA }, { "ptr", DNS_PTR },
};

struct lookup {
	struct event_base *base;
	int rc;
};

static void put_escaped(const char *s, size_t n, bool quote_safe)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < ' ' || ch >= 0x7f || ch == '\\' || (quote_safe && ch == '"'))
			printf("\\%03u", ch);
		else
			putchar(ch);
	}
}

static void print_record(const struct dns_result *r, size_t i)
{
	switch (r->type) {
	case DNS_MX:
		printf("%u %s\n", r->mx[i].pref, r->mx[i].host[0] ? r->mx[i].host : ".");
		return;
	case DNS_A:
	case DNS_AAAA:
		printf("%s\n", r->addrs[i]);
		return;
	case DNS_TXT:
		put_escaped(r->txt[i].data, r->txt[i].len, false);
		putchar('\n');
		return;
	case DNS_TLSA:
		printf("%u %u %u ", r->tlsa[i].usage, r->tlsa[i].selector, r->tlsa[i].mtype);
		for (size_t k = 0; k < r->tlsa[i].len; k++)
			printf("%02x", r->tlsa[i].data[k]);
		putchar('\n');
		return;
	case DNS_PTR:
		printf("%s\n", r->names[i]);
		return;
	}
}

static void on_result(const struct dns_result *r, void *arg)
{
	struct lookup *l = arg;
	printf("status=%s secure=%s", dns_status_name(r->status), r->secure ? "yes" : "no");
	if (r->bogus)
		fputs(" bogus=yes", stdout);
	if (r->status == DNS_TEMPFAIL && r->why) {
		fputs(" why=\"", stdout);
		put_escaped(r->why, strlen(r->why), true);
		putchar('"');
	}
	putchar('\n');
	for (size_t i = 0; r->status == DNS_OK && i < r->n; i++)
		print_record(r, i);
	l->rc = r->status == DNS_TEMPFAIL ? CLI_INTERNAL : CLI_OK;
	event_base_loopbreak(l->base);
}

/* What the operator typed as a name for the query, or NULL (after the error message). */
static char *query_name(struct cli *c, enum dns_type type, const char *in)
{
	if (type == DNS_PTR) {
		unsigned char a[16];
		if (inet_pton(AF_INET, in, a) != 1 && inet_pton(AF_INET6, in, a) != 1) {
			cli_fail(c, CLI_USER_ERROR, "a PTR lookup takes an IP address, not '%.255s'", in);
			return NULL;
		}
		return xstrdup(in);
	}
	/*
	 * ASCII goes as typed (IDNA would refuse the underscore labels of
	 * _25._tcp TLSA names); Unicode becomes A-labels.
	 */
	char *name = is_ascii(in, strlen(in)) ? xstrdup(in) : cli_domain(in);
	if (!name || !dns_name_valid(name)) {
		cli_fail(c, CLI_USER_ERROR, "not a valid domain name: '%.255s'", in);
		free(name);
		return NULL;
	}
	return name;
}

/* One DOMAIN of `tern dns mta-sts`: its request, then its output. */
struct sts_item {
	struct sts_cli *l;
	struct mta_sts_req *req;
	char *domain;
	struct buf out;
	bool failed;
};

struct sts_cli {
	struct event_base *base;
	struct mta_sts *s;
	struct event *poll;
	size_t pending;
};

static void on_policy(const struct mta_sts_policy *p, void *arg)
{
	struct sts_item *it = arg;
	enum mta_sts_source src;
	const char *why;
	enum mta_sts_status st = mta_sts_req_status(it->req, &src, &why);
	buf_printf(&it->out, "status=%s", mta_sts_status_name(st));
	if (p)
		buf_printf(&it->out, " mode=%s max_age=%llu id=%s source=%s", mta_sts_mode_name(p->mode),
			   (unsigned long long)p->max_age, p->id, src == MTA_STS_CACHED ? "cache" : "fetch");
	if (why[0]) {
		buf_puts(&it->out, " why=\"");
		for (const char *c = why; *c; c++) {
			unsigned char ch = (unsigned char)*c;
			if (ch < ' ' || ch >= 0x7f || ch == '\\' || ch == '"')
				buf_printf(&it->out, "\\%03u", ch);
			else
				buf_putc(&it->out, (char)ch);
		}
		buf_putc(&it->out, '"');
	}
	buf_putc(&it->out, '\n');
	for (size_t i = 0; p && i < p->nmx; i++)
		buf_printf(&it->out, "mx %s\n", p->mx[i]);
	it->failed = st == MTA_STS_TEMPFAIL || st == MTA_STS_FAILED;
	it->req = NULL;
	it->l->pending--;
}

/*
 * Every answer is in and the module has finished what it does behind
 * them (a refresh writes the cache file): stop.  The resolver's deadline
 * and the fetch's timeouts bound the wait.
 */
static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct sts_cli *l = arg;
	if (l->pending == 0 && !mta_sts_busy(l->s)) {
		event_base_loopbreak(l->base);
		return;
	}
	struct timeval tv = { 0, 20000 };
	evtimer_add(l->poll, &tv);
}

static int dns_mta_sts(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "[--no-cache] DOMAIN...";
	size_t n = 0;
	bool no_cache = false;
	struct sts_item *items = xcalloc((size_t)argc, sizeof *items);
	int rc = CLI_OK;
	for (int i = 1; i < argc && rc == CLI_OK; i++) {
		if (strcmp(argv[i], "--no-cache") == 0) {
			no_cache = true;
			continue;
		}
		if (argv[i][0] == '-') {
			rc = cli_usage(c, usage);
			break;
		}
		char *name = cli_domain(argv[i]);
		size_t len = name ? strlen(name) : 0;
		if (len > 1 && name[len - 1] == '.')
			name[len - 1] = '\0';
		if (!name || !dns_name_valid(name)) {
			rc = cli_fail(c, CLI_USER_ERROR, "not a valid domain name: '%.255s'", argv[i]);
			free(name);
			break;
		}
		items[n++].domain = name;
	}
	if (rc == CLI_OK && n == 0)
		rc = cli_usage(c, usage);
	if (rc != CLI_OK)
		goto out;

	/* The operator asks: the answer comes whatever [delivery] mta_sts says. */
	struct config cfg = *c->cfg;
	cfg.delivery.mta_sts = true;
	if (no_cache)
		cfg.data_dir = NULL;
	struct sts_cli l = { .base = event_base_new() };
	struct dns_resolver *r = l.base ? dns_resolver_new(l.base, cfg.dns.nameservers, cfg.dns.trust_anchor) : NULL;
	l.s = r ? mta_sts_new(l.base, &cfg, r) : NULL;
	l.poll = l.s ? evtimer_new(l.base, on_poll, &l) : NULL;
	if (!l.poll) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot start the resolver or libcurl (details in the log above)");
	} else {
		/* All at once: requests for one domain share its lookups and fetch. */
		for (size_t i = 0; i < n; i++) {
			items[i].l = &l;
			items[i].req = mta_sts_get(l.s, items[i].domain, on_policy, &items[i]);
			l.pending++;
		}
		on_poll(-1, 0, &l);
		event_base_dispatch(l.base);
		for (size_t i = 0; i < n; i++) {
			if (n > 1)
				printf("domain %s\n", items[i].domain);
			fputs(buf_cstr(&items[i].out), stdout);
			if (items[i].failed)
				rc = CLI_INTERNAL;
		}
	}
	if (l.poll)
		event_free(l.poll);
	mta_sts_free(&l.s);
	dns_resolver_free(&r);
	if (l.base)
		event_base_free(l.base);
out:
	for (size_t i = 0; i < n; i++) {
		free(items[i].domain);
		buf_free(&items[i].out);
	}
	free(items);
	return rc;
}

int cli_dns_cmd(struct cli *c, int argc, char **argv)
{
	if (strcmp(argv[0], "mta-sts") == 0)
		return dns_mta_sts(c, argc, argv);
	if (strcmp(argv[0], "records") == 0)
		return cli_dns_records(c, argc, argv);
	if (strcmp(argv[0], "lookup") != 0)
		return cli_unknown(c);
	if (argc != 3)
		return cli_usage(c, "a|aaaa|mx|txt|tlsa|ptr NAME");
	enum dns_type type = 0;
	bool found = false;
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		if (strcasecmp(argv[1], types[i].name) == 0) {
			type = types[i].type;
			found = true;
		}
	}
	if (!found)
		return cli_usage(c, "a|aaaa|mx|txt|tlsa|ptr NAME");
	char *name = query_name(c, type, argv[2]);
	if (!name)
		return CLI_USER_ERROR;

	int rc;
	struct lookup l = { .base = event_base_new(), .rc = CLI_INTERNAL };
	struct dns_resolver *r = l.base ? dns_resolver_new(l.base, c->cfg->dns.nameservers,
							    c->cfg->dns.trust_anchor) : NULL;
	if (!r) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot start the resolver (details in the log above)");
	} else if (!dns_lookup(r, name, type, on_result, &l)) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot start the query for %s (details in the log above)", name);
	} else {
		/* The resolver's deadline guarantees that on_result runs. */
		event_base_dispatch(l.base);
		rc = l.rc;
	}
	dns_resolver_free(&r);
	if (l.base)
		event_base_free(l.base);
	free(name);
	return rc;
}
