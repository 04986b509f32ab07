/*
 * dmarcrpt_mail.c — a DMARC aggregate report as a mail message (RFC 7489
 * §7.2.1.1): Subject "Report Domain: D Submitter: S Report-ID: <ID>", a
 * short text part and the gzipped XML as application/gzip named
 * receiver!policy-domain!begin!end.xml.gz.  "Auto-Submitted:
 * auto-generated" (RFC 3834) keeps vacation responders quiet.  Every
 * value written here is ours or checked: host names, the address came
 * through dmarcrpt_uri_parse.
 */
#include "mta/dmarcrpt.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "mta/report.h"

void dmarcrpt_file_name(const char *submitter, const char *domain, const char *day, struct buf *out)
{
	int64_t begin = report_day_start(day);
	if (begin < 0)
		begin = 0;
	buf_printf(out, "%s!%s!%lld!%lld.xml.gz", submitter, domain, (long long)begin, (long long)(begin + 86399));
}

void dmarcrpt_mail_write(const struct dmarcrpt_mail *m, struct buf *out, size_t *return_path_len)
{
	char date[64], boundary[40], msgid_rnd[24];
	format_rfc5322_date(date, sizeof date, m->now);
	random_id(boundary, 32);
	random_id(msgid_rnd, 20);
	report_mail_head(out, m->from, m->to, date, m->domain, m->submitter, m->report_id, return_path_len);
	buf_printf(out, "Message-ID: <dmarcrpt.%s@%s>\r\n", msgid_rnd, m->submitter);
	buf_puts(out, "Auto-Submitted: auto-generated\r\n");
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n", boundary);
	buf_puts(out, "\r\nThis is a multipart message in MIME format.\r\n\r\n");
	buf_printf(out, "--%s\r\n", boundary);
	buf_puts(out, "Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
	buf_printf(out, "This is a DMARC aggregate report (RFC 7489) from %s\r\n"
		   "about mail received from %s on %s (UTC).\r\n\r\n", m->submitter, m->domain, m->day);
	struct buf name = BUF_INIT;
	dmarcrpt_file_name(m->submitter, m->domain, m->day, &name);
	report_mime_attachment(out, boundary, "application/gzip", buf_cstr(&name), m->gz, m->gzlen);
	buf_free(&name);
	buf_printf(out, "\r\n--%s--\r\n", boundary);
}
