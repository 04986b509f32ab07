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
 */
#include "cli/cli_int.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/util.h"
#include "lib/xalloc.h"

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

int cli_dns_cmd(struct cli *c, int argc, char **argv)
{
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
