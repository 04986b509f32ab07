/*
 * item.c — queue rows as the scheduler keeps them between the scan and the
 * outcome (struct queue_item owns copies of the row's strings), the status
 * code of a stored reply, and the one header field delivery looks at.
 */
#include "queue/queue_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mail/header.h"
#include "store/store.h"

/* How much of a message is read to find its TLS-Required field. */
#define HEADER_SCAN_MAX (64 * 1024)

void queue_item_from_entry(struct queue_item *it, const struct store_queue_entry *e)
{
	memset(it, 0, sizeof *it);
	it->id = e->id;
	it->sender = xstrdup(e->sender);
	it->rcpt = xstrdup(e->rcpt);
	it->orcpt = xstrdup(e->orcpt);
	it->ret = xstrdup(e->ret);
	it->envid = xstrdup(e->envid);
	it->last_error = xstrdup(e->last_error);
	it->message_id = xstrdup(e->message_id);
	it->blob_id = xstrdup(e->blob_id);
	it->notify = e->notify;
	it->attempts = e->attempts;
	it->size = e->size;
	it->queue_offset = e->queue_offset;
	it->created = e->created;
	it->next_attempt = e->next_attempt;
	it->warned = e->warned;
	it->body_8bit = e->body_8bit;
	it->smtputf8 = e->smtputf8;
	it->requiretls = e->requiretls;
}

void queue_item_clear(struct queue_item *it)
{
	free(it->sender);
	free(it->rcpt);
	free(it->orcpt);
	free(it->ret);
	free(it->envid);
	free(it->last_error);
	free(it->message_id);
	free(it->blob_id);
	memset(it, 0, sizeof *it);
}

/* "4.4.1" / "5.1.10": class digit, 1-3 digits, 1-3 digits (RFC 3463). */
static size_t status_len(const char *p)
{
	if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	size_t i = 2, d = 0;
	while (p[i] >= '0' && p[i] <= '9' && d < 3) {
		i++;
		d++;
	}
	if (d == 0 || p[i] != '.')
		return 0;
	i++;
	d = 0;
	while (p[i] >= '0' && p[i] <= '9' && d < 3) {
		i++;
		d++;
	}
	if (d == 0 || (p[i] != '\0' && p[i] != ' '))
		return 0;
	return i;
}

void queue_reply_status(const char *reply, char *out, size_t outsize, const char *fallback)
{
	const char *p = reply ? reply : "";
	/* Skip a basic reply code: "550 5.1.1 ..." or "550-5.1.1 ...". */
	if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	    (p[3] == ' ' || p[3] == '-'))
		p += 4;
	size_t n = status_len(p);
	if (n == 0 || n >= outsize)
		snprintf(out, outsize, "%s", fallback);
	else
		snprintf(out, outsize, "%.*s", (int)n, p);
}

bool queue_tls_optional(int fd, uint64_t offset)
{
	char *head = xmalloc(HEADER_SCAN_MAX);
	size_t got = 0;
	while (got < HEADER_SCAN_MAX) {
		ssize_t r = pread(fd, head + got, HEADER_SCAN_MAX - got, (off_t)(offset + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	bool optional = false;
	struct mail_hdr_iter it;
	struct mail_hdr_field f;
	mail_hdr_iter_init(&it, head, got);
	while (!optional && mail_hdr_next(&it, &f)) {
		if (!mail_hdr_is(&f, "TLS-Required"))
			continue;
		struct buf v = BUF_INIT;
		mail_hdr_unfold(&v, f.value, f.value_len);
		optional = strcasecmp(buf_cstr(&v), "No") == 0;
		buf_free(&v);
	}
	free(head);
	return optional;
}
