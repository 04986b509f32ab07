/*
 * dmarcrpt_xml.c — the DMARC aggregate feedback document (RFC 7489
 * Appendix C) from the stored rows of one day and policy domain.  Every
 * value but our own numbers came from the network (header From, SPF
 * domain, DKIM d=), so each goes through xml_text(), which leaves only
 * printable ASCII with the five XML specials as entities.
 */
#include "mta/dmarcrpt.h"

#include <stdio.h>
#include <string.h>

#include "mailauth/dmarc.h"
#include "mta/report.h"

static void xml_text(struct buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&apos;"); break;
		default: buf_putc(out, *p >= 0x20 && *p < 0x7f ? (char)*p : '?');
		}
	}
}

static void element(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "<%s>", name);
	xml_text(out, value);
	buf_printf(out, "</%s>", name);
}

/* The value of key in "k=v k=v", into v; "" when absent. */
static void published_get(const char *pub, const char *key, char *v, size_t size)
{
	v[0] = '\0';
	size_t kl = strlen(key);
	for (const char *p = pub ? pub : ""; *p;) {
		while (*p == ' ')
			p++;
		size_t wl = strcspn(p, " ");
		if (wl > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = wl - kl - 1;
			snprintf(v, size, "%.*s", (int)(vl < size ? vl : size - 1), p + kl + 1);
			return;
		}
		p += wl;
	}
}

void dmarcrpt_published(const struct dmarc_record *rec, char *out, size_t size)
{
	enum dmarc_policy sp = rec->sp == DMARC_POLICY_UNSET ? rec->p : rec->sp;
	snprintf(out, size, "adkim=%s aspf=%s p=%s sp=%s pct=%u", rec->adkim_strict ? "s" : "r",
		 rec->aspf_strict ? "s" : "r", dmarc_policy_name(rec->p), dmarc_policy_name(sp), rec->pct);
}

static void record(struct buf *out, const struct store_dmarcrpt_row *r)
{
	buf_puts(out, "<record><row>");
	element(out, "source_ip", r->source_ip);
	buf_printf(out, "<count>%llu</count>", (unsigned long long)r->count);
	buf_puts(out, "<policy_evaluated>");
	element(out, "disposition", r->disposition);
	element(out, "dkim", r->eval_dkim);
	element(out, "spf", r->eval_spf);
	buf_puts(out, "</policy_evaluated></row><identifiers>");
	element(out, "header_from", r->header_from);
	if (r->envelope_from && r->envelope_from[0])
		element(out, "envelope_from", r->envelope_from);
	buf_puts(out, "</identifiers><auth_results>");
	if (r->dkim_domain && r->dkim_domain[0]) {
		buf_puts(out, "<dkim>");
		element(out, "domain", r->dkim_domain);
		element(out, "result", r->dkim_result);
		buf_puts(out, "</dkim>");
	}
	buf_puts(out, "<spf>");
	element(out, "domain", r->envelope_from && r->envelope_from[0] ? r->envelope_from : r->header_from);
	element(out, "result", r->spf_result && r->spf_result[0] ? r->spf_result : "none");
	buf_puts(out, "</spf></auth_results></record>");
}

void dmarcrpt_xml_build(const struct dmarcrpt_report_info *info, const struct store_dmarcrpt_row *rows, size_t n,
			struct buf *out)
{
	int64_t begin = report_day_start(info->day);
	if (begin < 0)
		begin = 0;
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback><version>1.0</version><report_metadata>");
	element(out, "org_name", info->org_name);
	element(out, "email", info->email);
	element(out, "report_id", info->report_id);
	buf_printf(out, "<date_range><begin>%lld</begin><end>%lld</end></date_range></report_metadata>",
		   (long long)begin, (long long)(begin + 86399));
	buf_puts(out, "<policy_published>");
	element(out, "domain", info->domain);
	static const char *const keys[] = { "adkim", "aspf", "p", "sp", "pct" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char v[32];
		published_get(info->published, keys[i], v, sizeof v);
		if (v[0])
			element(out, keys[i], v);
	}
	buf_puts(out, "</policy_published>");
	for (size_t i = 0; i < n; i++)
		record(out, &rows[i]);
	buf_puts(out, "</feedback>\n");
}
