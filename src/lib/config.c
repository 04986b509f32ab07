/*
 * config.c — tern.conf parsing and validation; see config.h.
 *
 * inih does the INI lexing; each key is handled by a row of the table below
 * (section, key, kind, field).  inih only knows ';' inline comments, while
 * tern.conf documents '#' ones, so values are cut at " #" here.
 */
#include "lib/config.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *const listen_role_names[ROLE_COUNT] = {
	"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s",
};

bool listen_role_implicit_tls(enum listen_role role)
{
	return role == ROLE_SUBMISSIONS || role == ROLE_IMAPS || role == ROLE_POP3S;
}

enum kind { K_STRING, K_SIZE, K_DURATION, K_UINT, K_BOOL, K_TRIBOOL, K_LISTEN, K_LOGLEVEL };  /* K_TRIBOOL: int, -1 unset */

struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t offset;
	size_t extra;       /* K_LISTEN: role; K_UINT: maximum */
};

#define F(field) offsetof(struct config, field)
static const struct key keys[] = {
	{ "", "hostname", K_STRING, F(hostname), 0 },
	{ "", "data_dir", K_STRING, F(data_dir), 0 },
	{ "", "user", K_STRING, F(user), 0 },
	{ "", "postmaster", K_STRING, F(postmaster), 0 },
	{ "", "threads", K_UINT, F(threads), 256 },
	{ "tls", "cert", K_STRING, F(tls.cert), 0 },
	{ "tls", "key", K_STRING, F(tls.key), 0 },
	{ "listen", "smtp", K_LISTEN, F(listen), ROLE_SMTP },
	{ "listen", "submission", K_LISTEN, F(listen), ROLE_SUBMISSION },
	{ "listen", "submissions", K_LISTEN, F(listen), ROLE_SUBMISSIONS },
	{ "listen", "imap", K_LISTEN, F(listen), ROLE_IMAP },
	{ "listen", "imaps", K_LISTEN, F(listen), ROLE_IMAPS },
	{ "listen", "pop3", K_LISTEN, F(listen), ROLE_POP3 },
	{ "listen", "pop3s", K_LISTEN, F(listen), ROLE_POP3S },
	{ "smtp", "max_message_size", K_SIZE, F(smtp.max_message_size), 0 },
	{ "smtp", "max_recipients", K_UINT, F(smtp.max_recipients), 100000 },
	{ "smtp", "max_errors", K_UINT, F(smtp.max_errors), 1000 },
	{ "smtp", "max_connections_per_ip", K_UINT, F(smtp.max_connections_per_ip), 1000000 },
	{ "smtp", "timeout", K_DURATION, F(smtp.timeout_ms), 0 },
	{ "auth", "allow_plaintext", K_BOOL, F(auth.allow_plaintext), 0 },
	{ "auth", "failure_delay", K_DURATION, F(auth.failure_delay_ms), 0 },
	{ "auth", "max_failure_delay", K_DURATION, F(auth.max_failure_delay_ms), 0 },
	{ "auth", "cache_ttl", K_DURATION, F(auth.cache_ttl_ms), 0 },
	{ "dns", "nameservers", K_STRING, F(dns.nameservers), 0 },
	{ "dns", "trust_anchor", K_STRING, F(dns.trust_anchor), 0 },
	{ "delivery", "relay", K_STRING, F(delivery.relay), 0 },
	{ "delivery", "relay_username", K_STRING, F(delivery.relay_username), 0 },
	{ "delivery", "relay_password_file", K_STRING, F(delivery.relay_password_file), 0 },
	{ "delivery", "relay_tls", K_STRING, F(delivery.relay_tls), 0 },
	{ "delivery", "smtp_port", K_UINT, F(delivery.smtp_port), 65535 },
	{ "delivery", "queue_lifetime", K_DURATION, F(delivery.queue_lifetime_ms), 0 },
	{ "delivery", "delay_warning", K_DURATION, F(delivery.delay_warning_ms), 0 },
	{ "delivery", "retry_min", K_DURATION, F(delivery.retry_min_ms), 0 },
	{ "delivery", "retry_max", K_DURATION, F(delivery.retry_max_ms), 0 },
	{ "delivery", "max_per_destination", K_UINT, F(delivery.max_per_destination), 1000 },
	{ "delivery", "max_connections", K_UINT, F(delivery.max_connections), 10000 },
	{ "delivery", "connect_timeout", K_DURATION, F(delivery.connect_timeout_ms), 0 },
	{ "delivery", "command_timeout", K_DURATION, F(delivery.command_timeout_ms), 0 },
	{ "delivery", "data_done_timeout", K_DURATION, F(delivery.data_done_timeout_ms), 0 },
	{ "delivery", "source_ip", K_STRING, F(delivery.source_ip), 0 },
	{ "delivery", "received_client_ip", K_BOOL, F(delivery.received_client_ip), 0 },
	{ "delivery", "destination_rate_delay", K_DURATION, F(delivery.destination_rate_delay_ms), 0 },
	{ "delivery", "tls_ca_file", K_STRING, F(delivery.tls_ca_file), 0 },
	{ "delivery", "dane", K_BOOL, F(delivery.dane), 0 },
	{ "delivery", "mta_sts", K_BOOL, F(delivery.mta_sts), 0 },
	{ "delivery", "mta_sts_port", K_UINT, F(delivery.mta_sts_port), 65535 },
	{ "delivery", "tlsrpt", K_BOOL, F(delivery.tlsrpt), 0 },
	{ "delivery", "tlsrpt_from", K_STRING, F(delivery.tlsrpt_from), 0 },
	{ "delivery", "tlsrpt_organization", K_STRING, F(delivery.tlsrpt_organization), 0 },
	{ "delivery", "tlsrpt_contact", K_STRING, F(delivery.tlsrpt_contact), 0 },
	{ "mailauth", "spf", K_BOOL, F(mailauth.spf), 0 },
	{ "mailauth", "dkim", K_BOOL, F(mailauth.dkim), 0 },
	{ "mailauth", "dmarc", K_BOOL, F(mailauth.dmarc), 0 },
	{ "mailauth", "arc", K_TRIBOOL, F(mailauth.arc), 0 },
	{ "mailauth", "arc_seal", K_BOOL, F(mailauth.arc_seal), 0 },
	{ "mailauth", "spf_reject", K_BOOL, F(mailauth.spf_fail_reject), 0 },
	{ "mailauth", "junk_instead", K_STRING, F(mailauth.junk_instead), 0 },
	{ "mailauth", "authserv_id", K_STRING, F(mailauth.authserv_id), 0 },
	{ "mailauth", "dmarc_reports", K_BOOL, F(mailauth.dmarc_reports), 0 },
	{ "mailauth", "dmarc_report_from", K_STRING, F(mailauth.dmarc_report_from), 0 },
	{ "mailauth", "dmarc_report_org", K_STRING, F(mailauth.dmarc_report_org), 0 },
	{ "log", "level", K_LOGLEVEL, F(log.level), 0 },
};
#undef F

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	char host[256] = "localhost";
	if (gethostname(host, sizeof host - 1) != 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	cfg->hostname = xstrdup(host);
	cfg->data_dir = xstrdup("/var/lib/tern");
	cfg->smtp.max_message_size = 50ull << 20;
	cfg->smtp.max_recipients = 100;
	cfg->smtp.max_errors = 20;
	cfg->smtp.max_connections_per_ip = 50;
	cfg->smtp.timeout_ms = 300000;
	cfg->auth.failure_delay_ms = 500;
	cfg->auth.max_failure_delay_ms = 15000;
	cfg->auth.cache_ttl_ms = 3600000;
	cfg->delivery.smtp_port = 25;
	cfg->delivery.queue_lifetime_ms = 5ull * 24 * 3600 * 1000;
	cfg->delivery.delay_warning_ms = 4ull * 3600 * 1000;
	cfg->delivery.retry_min_ms = 5ull * 60 * 1000;
	cfg->delivery.retry_max_ms = 4ull * 3600 * 1000;
	cfg->delivery.max_per_destination = 4;
	cfg->delivery.max_connections = 50;
	cfg->delivery.connect_timeout_ms = 30000;
	cfg->delivery.command_timeout_ms = 300000;
	cfg->delivery.data_done_timeout_ms = 600000;
	cfg->delivery.dane = true;
	cfg->delivery.mta_sts = true;
	cfg->delivery.mta_sts_port = 443;
	cfg->delivery.tlsrpt = true;
	cfg->mailauth.spf = cfg->mailauth.dkim = cfg->mailauth.dmarc = true;
	cfg->mailauth.spf_fail_reject = true;
	cfg->mailauth.arc = -1;
	cfg->mailauth.arc_seal = true;
	cfg->mailauth.dmarc_reports = true;
	cfg->log.level = LOG_INFO;
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->hostname);
	free(cfg->data_dir);
	free(cfg->user);
	free(cfg->postmaster);
	free(cfg->tls.cert);
	free(cfg->tls.key);
	free(cfg->dns.nameservers);
	free(cfg->dns.trust_anchor);
	free(cfg->mailauth.junk_instead);
	free(cfg->mailauth.authserv_id);
	free(cfg->mailauth.dmarc_report_from);
	free(cfg->mailauth.dmarc_report_org);
	free(cfg->delivery.relay);
	free(cfg->delivery.relay_username);
	free(cfg->delivery.relay_password_file);
	free(cfg->delivery.relay_tls);
	free(cfg->delivery.source_ip);
	free(cfg->delivery.tls_ca_file);
	free(cfg->delivery.tlsrpt_from);
	free(cfg->delivery.tlsrpt_organization);
	free(cfg->delivery.tlsrpt_contact);
	for (int r = 0; r < ROLE_COUNT; r++)
		free(cfg->listen[r].addrs);
	memset(cfg, 0, sizeof *cfg);
}

bool config_parse_size(const char *s, uint64_t *out)
{
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	uint64_t mult = 1;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': mult = 1ull << 10; end++; break;
	case 'M': mult = 1ull << 20; end++; break;
	case 'G': mult = 1ull << 30; end++; break;
	default: return false;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

bool config_parse_duration(const char *s, uint64_t *out_ms)
{
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	uint64_t mult;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else if (strcmp(end, "d") == 0)
		mult = 86400000;
	else
		return false;
	if (v > UINT64_MAX / mult)
		return false;
	*out_ms = v * mult;
	return true;
}

static bool parse_one_listen(const char *s, size_t n, struct listen_addr *a, struct buf *err)
{
	const char *host, *colon;
	size_t hostlen;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close + 1 >= s + n || close[1] != ':') {
			buf_printf(err, "'%.*s' is not [address]:port", (int)n, s);
			return false;
		}
		host = s + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = NULL;
		for (size_t i = 0; i < n; i++)
			if (s[i] == ':')
				colon = s + i;
		if (!colon) {
			buf_printf(err, "'%.*s' has no :port", (int)n, s);
			return false;
		}
		host = s;
		hostlen = (size_t)(colon - s);
	}
	if (hostlen == 0 || hostlen >= sizeof a->host) {
		buf_printf(err, "'%.*s' has no valid address", (int)n, s);
		return false;
	}
	memcpy(a->host, host, hostlen);
	a->host[hostlen] = '\0';
	unsigned char tmp[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, a->host, tmp) != 1 && inet_pton(AF_INET6, a->host, tmp) != 1) {
		buf_printf(err, "'%s' is not a numeric IPv4 or IPv6 address", a->host);
		return false;
	}
	const char *p = colon + 1;
	size_t plen = (size_t)(s + n - p);
	unsigned long port = 0;
	if (plen == 0 || plen > 5)
		goto badport;
	for (size_t i = 0; i < plen; i++) {
		if (!isdigit((unsigned char)p[i]))
			goto badport;
		port = port * 10 + (unsigned long)(p[i] - '0');
	}
	if (port == 0 || port > 65535)
		goto badport;
	a->port = (uint16_t)port;
	return true;
badport:
	buf_printf(err, "'%.*s' has no valid port", (int)n, s);
	return false;
}

bool config_parse_listen(const char *s, struct listen_list *out, struct buf *err)
{
	struct listen_list l = { NULL, 0 };
	const char *p = s;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		l.addrs = xrealloc(l.addrs, (l.n + 1) * sizeof *l.addrs);
		if (!parse_one_listen(p, (size_t)(e - p), &l.addrs[l.n], err)) {
			free(l.addrs);
			return false;
		}
		l.n++;
		p = e;
	}
	if (l.n == 0) {
		buf_puts(err, "no address given");
		return false;
	}
	free(out->addrs);
	*out = l;
	return true;
}

struct load_ctx {
	struct config *cfg;
	const char *name;
	struct buf *errors;
	int problems;
};

static void problem(struct load_ctx *ctx, const char *section, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct load_ctx *ctx, const char *section, const char *key,
		    const char *fmt, ...)
{
	buf_printf(ctx->errors, "%s: ", ctx->name);
	if (section && *section)
		buf_printf(ctx->errors, "[%s] ", section);
	if (key)
		buf_printf(ctx->errors, "%s: ", key);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(ctx->errors, fmt, ap);
	va_end(ap);
	buf_putc(ctx->errors, '\n');
	ctx->problems++;
}

/* Copy value without a trailing " # comment" and surrounding blanks. */
static char *clean_value(const char *v)
{
	size_t n = strlen(v);
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t')) {
			n = i;
			break;
		}
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	return xmemdup0(v, n);
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcmp(s, "1")) {
		*out = true;
		return true;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcmp(s, "0")) {
		*out = false;
		return true;
	}
	return false;
}

static void set_key(struct load_ctx *ctx, const struct key *k, const char *section,
		    const char *name, const char *value)
{
	char *base = (char *)ctx->cfg;
	void *field = base + k->offset;
	uint64_t u64;
	bool b;

	switch (k->kind) {
	case K_STRING: {
		char **sp = field;
		free(*sp);
		*sp = *value ? xstrdup(value) : NULL;
		break;
	}
	case K_SIZE:
		if (!config_parse_size(value, &u64) || u64 == 0)
			problem(ctx, section, name, "'%s' is not a size (like 50M)", value);
		else
			*(uint64_t *)field = u64;
		break;
	case K_DURATION:
		if (!config_parse_duration(value, &u64))
			problem(ctx, section, name, "'%s' is not a duration (like 5m)", value);
		else
			*(uint64_t *)field = u64;
		break;
	case K_UINT: {
		char *end;
		errno = 0;
		unsigned long v = strtoul(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end || errno || v > k->extra)
			problem(ctx, section, name, "'%s' is not a number from 0 to %zu", value, k->extra);
		else
			*(unsigned *)field = (unsigned)v;
		break;
	}
	case K_BOOL:
		if (!parse_bool(value, &b))
			problem(ctx, section, name, "'%s' is not yes or no", value);
		else
			*(bool *)field = b;
		break;
	case K_TRIBOOL:
		if (!parse_bool(value, &b))
			problem(ctx, section, name, "'%s' is not yes or no", value);
		else
			*(int *)field = b;
		break;
	case K_LISTEN: {
		struct buf err = BUF_INIT;
		struct listen_list *l = &ctx->cfg->listen[k->extra];
		if (!config_parse_listen(value, l, &err))
			problem(ctx, section, name, "%s", buf_cstr(&err));
		buf_free(&err);
		break;
	}
	case K_LOGLEVEL:
		if (!log_parse_level(value, (enum log_level *)field))
			problem(ctx, section, name, "'%s' is not one of debug, info, warn, error", value);
		break;
	}
}

static int on_key(void *user, const char *section, const char *name, const char *raw)
{
	struct load_ctx *ctx = user;
	char *value = clean_value(raw ? raw : "");
	const struct key *k = NULL;
	bool section_known = false;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strcmp(keys[i].section, section) == 0) {
			section_known = true;
			if (strcmp(keys[i].name, name) == 0)
				k = &keys[i];
		}
	}
	if (!section_known)
		problem(ctx, section, NULL, "unknown section");
	else if (!k)
		problem(ctx, section, name, "unknown key");
	else
		set_key(ctx, k, section, name, value);
	free(value);
	return 1;
}

/* The TLS reports' sender goes into headers and MAIL FROM: one local@domain, printable, no brackets. */
static bool tlsrpt_from_valid(const char *a)
{
	size_t n = strlen(a), ats = 0;
	if (n < 3 || n > 320)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
		ats += c == '@';
	}
	return ats == 1 && a[0] != '@' && a[n - 1] != '@';
}

/* Text that goes into a JSON report as it is: printable ASCII, bounded. */
static bool header_text_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 200)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* relay is "[address]" or "[IPv6:address]" (with a port or not): no name a certificate could be checked against. */
static bool relay_is_address(const char *relay)
{
	if (!relay || relay[0] != '[')
		return false;
	const char *host = relay + 1, *close = strchr(host, ']');
	if (close && strncasecmp(host, "IPv6:", 5) == 0)
		host += 5;
	char text[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	if (!close || close <= host || (size_t)(close - host) >= sizeof text)
		return false;
	memcpy(text, host, (size_t)(close - host));
	text[close - host] = '\0';
	return inet_pton(AF_INET, text, bin) == 1 || inet_pton(AF_INET6, text, bin) == 1;
}

static void validate(struct load_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	if (!cfg->hostname || !*cfg->hostname || strchr(cfg->hostname, ' '))
		problem(ctx, "", "hostname", "must be a host name");
	if (!cfg->data_dir || cfg->data_dir[0] != '/')
		problem(ctx, "", "data_dir", "must be an absolute path");
	if (cfg->postmaster && !strchr(cfg->postmaster, '@'))
		problem(ctx, "", "postmaster", "'%s' is not an address", cfg->postmaster);
	if ((cfg->tls.cert == NULL) != (cfg->tls.key == NULL))
		problem(ctx, "tls", NULL, "cert and key must be given together");
	for (int r = 0; r < ROLE_COUNT; r++) {
		if (cfg->listen[r].n && listen_role_implicit_tls(r) && !cfg->tls.cert)
			problem(ctx, "listen", listen_role_names[r], "needs [tls] cert and key");
	}
	if (cfg->smtp.max_recipients == 0)
		problem(ctx, "smtp", "max_recipients", "must be at least 1");
	if (cfg->smtp.timeout_ms < 1000)
		problem(ctx, "smtp", "timeout", "must be at least 1s");
	if (cfg->delivery.smtp_port == 0)
		problem(ctx, "delivery", "smtp_port", "must be a port number");
	if (cfg->delivery.mta_sts_port == 0)
		problem(ctx, "delivery", "mta_sts_port", "must be a port number");
	if (cfg->delivery.retry_min_ms < 1000)
		problem(ctx, "delivery", "retry_min", "must be at least 1s");
	if (cfg->delivery.retry_max_ms < cfg->delivery.retry_min_ms)
		problem(ctx, "delivery", "retry_max", "must not be below retry_min");
	if (cfg->delivery.max_per_destination == 0 || cfg->delivery.max_connections == 0)
		problem(ctx, "delivery", NULL, "max_per_destination and max_connections must be at least 1");
	if (cfg->delivery.connect_timeout_ms < 1000 || cfg->delivery.command_timeout_ms < 1000)
		problem(ctx, "delivery", NULL, "connect_timeout and command_timeout must be at least 1s");
	if ((cfg->delivery.relay_username == NULL) != (cfg->delivery.relay_password_file == NULL))
		problem(ctx, "delivery", NULL, "relay_username and relay_password_file must be given together");
	const char *relay_tls = cfg->delivery.relay_tls;
	if (relay_tls && strcmp(relay_tls, "may") && strcmp(relay_tls, "encrypt") && strcmp(relay_tls, "verify"))
		problem(ctx, "delivery", "relay_tls", "must be may, encrypt or verify");
	else if (relay_tls && strcmp(relay_tls, "verify") == 0 && relay_is_address(cfg->delivery.relay))
		problem(ctx, "delivery", "relay_tls", "verify needs the relay's host name, not an address (%s)",
			cfg->delivery.relay);
	if (cfg->auth.max_failure_delay_ms < cfg->auth.failure_delay_ms)
		problem(ctx, "auth", "max_failure_delay", "must not be below failure_delay");
	if (cfg->delivery.tlsrpt_from && !tlsrpt_from_valid(cfg->delivery.tlsrpt_from))
		problem(ctx, "delivery", "tlsrpt_from", "'%s' is not a plain address (local@domain)",
			cfg->delivery.tlsrpt_from);
	if (cfg->delivery.tlsrpt_organization && !header_text_valid(cfg->delivery.tlsrpt_organization))
		problem(ctx, "delivery", "tlsrpt_organization", "must be printable ASCII, at most 200 characters");
	if (cfg->delivery.tlsrpt_contact && !header_text_valid(cfg->delivery.tlsrpt_contact))
		problem(ctx, "delivery", "tlsrpt_contact", "must be printable ASCII, at most 200 characters");
	if (cfg->mailauth.dmarc_report_from && !tlsrpt_from_valid(cfg->mailauth.dmarc_report_from))
		problem(ctx, "mailauth", "dmarc_report_from", "'%s' is not a plain address (local@domain)",
			cfg->mailauth.dmarc_report_from);
	if (cfg->mailauth.dmarc_report_org && !header_text_valid(cfg->mailauth.dmarc_report_org))
		problem(ctx, "mailauth", "dmarc_report_org", "must be printable ASCII, at most 200 characters");
	if (cfg->mailauth.arc < 0)
		cfg->mailauth.arc = cfg->mailauth.dkim;    /* ARC is DKIM's kin: on when DKIM is, unless said */
	/* It goes into every Authentication-Results field as a token (RFC 8601 §2.2). */
	const char *id = cfg->mailauth.authserv_id;
	bool id_ok = !id || (id[0] && strlen(id) <= 253);
	for (const char *p = id; id_ok && p && *p; p++)
		id_ok = *p > ' ' && *p < 0x7f && !strchr(";()<>@,:\\\"/[]?=", *p);
	if (!id_ok)
		problem(ctx, "mailauth", "authserv_id", "must be a host name or similar token, at most 253 characters");
}

static int finish(struct load_ctx *ctx, int rc)
{
	if (rc == -1)
		problem(ctx, NULL, NULL, "cannot open: %s", strerror(errno));
	else if (rc == -2)
		problem(ctx, NULL, NULL, "out of memory");
	else if (rc > 0)
		problem(ctx, NULL, NULL, "line %d: not 'key = value' or '[section]'", rc);
	validate(ctx);
	return ctx->problems;
}

int config_load(const char *path, struct config *cfg, struct buf *errors)
{
	config_defaults(cfg);
	cfg->path = xstrdup(path);
	struct load_ctx ctx = { cfg, path, errors, 0 };
	return finish(&ctx, ini_parse(path, on_key, &ctx));
}

int config_load_string(const char *text, const char *name, struct config *cfg,
		       struct buf *errors)
{
	config_defaults(cfg);
	cfg->path = xstrdup(name);
	struct load_ctx ctx = { cfg, name, errors, 0 };
	return finish(&ctx, ini_parse_string(text, on_key, &ctx));
}
