/*
 * tlsrpt_json.c — the aggregate report of RFC 8460 §4 as JSON, built
 * from one day's stored rows for one policy domain, and its gzip
 * (§5.3: application/tlsrpt+gzip).  Also the UTC day arithmetic the
 * reporter and the file names share.
 *
 *   { "organization-name", "date-range": { "start-datetime", "end-datetime" },
 *     "contact-info", "report-id",
 *     "policies": [ { "policy": { "policy-type", "policy-string": [..], "policy-domain", "mx-host": [..] },
 *                     "summary": { "total-successful-session-count", "total-failure-session-count" },
 *                     "failure-details": [ { "result-type", "sending-mta-ip", "receiving-mx-hostname",
 *                                            "receiving-ip", "failed-session-count" } ] } ] }
 *
 * The stored strings came from the network (policy text, host names);
 * every string goes through json_string(), which escapes '"' and '\' and
 * turns control and non-ASCII octets into '?', so no input can break the
 * document's structure.
 */
#include "mta/tlsrpt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void json_string(struct buf *out, const char *s, size_t n)
{
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, (char)c);
		} else if (c < 0x20 || c >= 0x7f) {
			buf_putc(out, '?');
		} else {
			buf_putc(out, (char)c);
		}
	}
	buf_putc(out, '"');
}

static void json_cstr(struct buf *out, const char *s)
{
	json_string(out, s ? s : "", s ? strlen(s) : 0);
}

/* "key": */
static void json_key(struct buf *out, const char *key)
{
	json_cstr(out, key);
	buf_putc(out, ':');
}

/* The lines of s ('\n'-separated, empty ones skipped) as a JSON array. */
static void json_lines(struct buf *out, const char *s)
{
	buf_putc(out, '[');
	bool first = true;
	while (s && *s) {
		size_t n = strcspn(s, "\n");
		if (n > 0) {
			if (!first)
				buf_putc(out, ',');
			json_string(out, s, n);
			first = false;
		}
		s += n;
		if (*s == '\n')
			s++;
	}
	buf_putc(out, ']');
}

static bool same_policy(const struct store_tlsrpt_result *a, const struct store_tlsrpt_result *b)
{
	return strcmp(a->policy_type, b->policy_type) == 0 && strcmp(a->policy_strings, b->policy_strings) == 0;
}

static void json_policy(struct buf *out, const char *domain, const struct store_tlsrpt_result *rows, size_t n)
{
	const struct store_tlsrpt_result *p = &rows[0];
	uint64_t ok = 0, failed = 0;
	const char *mx = "";
	for (size_t i = 0; i < n; i++) {
		if (rows[i].result_type[0])
			failed += rows[i].count;
		else
			ok += rows[i].count;
		if (rows[i].mx_hosts[0])
			mx = rows[i].mx_hosts;
	}
	buf_puts(out, "{\"policy\":{");
	json_key(out, "policy-type");
	json_cstr(out, p->policy_type);
	if (p->policy_strings[0]) {
		buf_putc(out, ',');
		json_key(out, "policy-string");
		json_lines(out, p->policy_strings);
	}
	buf_putc(out, ',');
	json_key(out, "policy-domain");
	json_cstr(out, domain);
	if (mx[0]) {
		buf_putc(out, ',');
		json_key(out, "mx-host");
		json_lines(out, mx);
	}
	buf_puts(out, "},\"summary\":{");
	buf_printf(out, "\"total-successful-session-count\":%llu,\"total-failure-session-count\":%llu",
		   (unsigned long long)ok, (unsigned long long)failed);
	buf_puts(out, "},\"failure-details\":[");
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		const struct store_tlsrpt_result *r = &rows[i];
		if (!r->result_type[0])
			continue;
		if (!first)
			buf_putc(out, ',');
		first = false;
		buf_putc(out, '{');
		json_key(out, "result-type");
		json_cstr(out, r->result_type);
		const char *keys[] = { "sending-mta-ip", "receiving-mx-hostname", "receiving-ip" };
		const char *vals[] = { r->sending_ip, r->receiving_mx, r->receiving_ip };
		for (size_t k = 0; k < 3; k++) {
			if (!vals[k] || !vals[k][0])
				continue;
			buf_putc(out, ',');
			json_key(out, keys[k]);
			json_cstr(out, vals[k]);
		}
		buf_printf(out, ",\"failed-session-count\":%llu}", (unsigned long long)r->count);
	}
	buf_puts(out, "]}");
}

void tlsrpt_json_build(const struct tlsrpt_report_info *info, const struct store_tlsrpt_result *rows, size_t n,
		       struct buf *out)
{
	char start[32], end[32];
	snprintf(start, sizeof start, "%.10sT00:00:00Z", info->day);
	snprintf(end, sizeof end, "%.10sT23:59:59Z", info->day);
	buf_putc(out, '{');
	json_key(out, "organization-name");
	json_cstr(out, info->organization);
	buf_puts(out, ",\"date-range\":{");
	json_key(out, "start-datetime");
	json_cstr(out, start);
	buf_putc(out, ',');
	json_key(out, "end-datetime");
	json_cstr(out, end);
	buf_puts(out, "},");
	json_key(out, "contact-info");
	json_cstr(out, info->contact);
	buf_putc(out, ',');
	json_key(out, "report-id");
	json_cstr(out, info->report_id);
	buf_puts(out, ",\"policies\":[");
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && same_policy(&rows[i], &rows[j]))
			j++;
		if (i > 0)
			buf_putc(out, ',');
		json_policy(out, info->domain, rows + i, j - i);
		i = j;
	}
	buf_puts(out, "]}");
}
