/*
 * submission.c — what a submission server does to the message of an
 * authenticated client at end of data (RFC 6409 §8), as Postfix and
 * Dovecot set-ups do for clients that are not full MUAs (scripts, cron,
 * some phones): a Message-ID and a Date when the message has none, and no
 * Bcc field, so that the blind copies stay blind.  Then the DKIM
 * signature (dkimsign.c), which covers the added fields.  The envelope
 * says who gets a copy; the Bcc field only ever told the client.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static bool drop_bcc(const char *name, size_t nlen, const char *value, size_t vlen, void *ctx)
{
	while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
		nlen--;
	return nlen == 3 && strncasecmp(name, "Bcc", 3) == 0;
}

bool smtp_submission_finish(struct smtp_session *s)
{
	struct smtp_spool *sp = &s->spool;
	const struct config *cfg = s->srv->cfg;
	unsigned seen = sp->hdr.seen;
	struct buf added = BUF_INIT, insert = BUF_INIT;
	int64_t now = now_unix();
	if (!(seen & SMTP_HDR_MESSAGE_ID)) {
		char stamp[32], rnd[13];
		time_t t = (time_t)now;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
		random_id(rnd, sizeof rnd - 1);
		rnd[sizeof rnd - 1] = '\0';
		buf_printf(&added, "Message-ID: <%s.%s.%s@%s>\r\n", stamp, s->msgid, rnd, cfg->hostname);
	}
	if (!(seen & SMTP_HDR_DATE)) {
		char date[64];
		format_rfc5322_date(date, sizeof date, now);
		buf_printf(&added, "Date: %s\r\n", date);
	}
	smtp_dkim_sign(s, &added, &insert);
	buf_append(&insert, added.data, added.len);
	bool ok = true;
	if (insert.len || (seen & SMTP_HDR_BCC))
		ok = smtp_spool_rewrite(s, &insert, (seen & SMTP_HDR_BCC) ? drop_bcc : NULL, NULL);
	if (ok && (added.len || (seen & SMTP_HDR_BCC)))
		log_info("smtp", "session=%s msg=\"submission fix-up\" id=%s added_message_id=%s added_date=%s "
			 "removed_bcc=%s", s->c ? s->c->id : "-", s->msgid, seen & SMTP_HDR_MESSAGE_ID ? "no" : "yes",
			 seen & SMTP_HDR_DATE ? "no" : "yes", seen & SMTP_HDR_BCC ? "yes" : "no");
	buf_free(&added);
	buf_free(&insert);
	return ok;
}
