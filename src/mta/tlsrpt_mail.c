/*
 * tlsrpt_mail.c — a TLS report as a mail message (RFC 8460 §5.3): a
 * multipart/report; report-type="tlsrpt" with a short text part for
 * people and the gzipped JSON as application/tlsrpt+gzip, base64, named
 * submitter!policy-domain!begin!end!unique.json.gz (§5.1).  Subject,
 * TLS-Report-Domain and TLS-Report-Submitter as §5.3 asks.
 *
 * "TLS-Required: No" (RFC 8689 §5) is what makes tern's own queue send
 * the report whatever TLS the destination's policy asks for — §5.3: a
 * report MUST be delivered despite TLS failures — and keeps the session
 * out of the next report (mta.c records nothing for such mail).
 * "Auto-Submitted: auto-generated" (RFC 3834) keeps vacation responders
 * quiet.  Every value written here is either ours or checked: the
 * domain and submitter are host names, the address came through
 * tlsrpt_record_parse (printable ASCII, no brackets, no separators).
 */
#include "mta/tlsrpt.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

void tlsrpt_file_name(const char *submitter, const char *domain, const char *day, const char *unique,
		      struct buf *out)
{
	int64_t begin = tlsrpt_day_start(day);
	if (begin < 0)
		begin = 0;
	buf_printf(out, "%s!%s!%lld!%lld!%s.json.gz", submitter, domain, (long long)begin,
		   (long long)(begin + 86399), unique);
}

void tlsrpt_mail_write(const struct tlsrpt_mail *m, struct buf *out, size_t *return_path_len)
{
	char date[64], boundary[40], msgid_rnd[24];
	format_rfc5322_date(date, sizeof date, m->now);
	random_id(boundary, 32);
	random_id(msgid_rnd, 20);
	report_mail_head(out, m->from, m->to, date, m->domain, m->submitter, m->report_id, return_path_len);
	buf_printf(out, "TLS-Report-Domain: %s\r\n", m->domain);
	buf_printf(out, "TLS-Report-Submitter: %s\r\n", m->submitter);
	buf_printf(out, "Message-ID: <tlsrpt.%s@%s>\r\n", msgid_rnd, m->submitter);
	buf_puts(out, "Auto-Submitted: auto-generated\r\n");
	buf_puts(out, "TLS-Required: No\r\n");
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n boundary=\"%s\"\r\n", boundary);
	buf_puts(out, "\r\nThis is a multipart message in MIME format.\r\n\r\n");

	buf_printf(out, "--%s\r\n", boundary);
	buf_puts(out, "Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
	buf_printf(out, "This is an aggregate TLS report (RFC 8460) from %s\r\n"
		   "about mail delivered to %s on %s (UTC).\r\n\r\n", m->submitter, m->domain, m->day);

	struct buf name = BUF_INIT;
	tlsrpt_file_name(m->submitter, m->domain, m->day, m->unique, &name);
	report_mime_attachment(out, boundary, "application/tlsrpt+gzip", buf_cstr(&name), m->gz, m->gzlen);
	buf_free(&name);
	buf_printf(out, "\r\n--%s--\r\n", boundary);
}
