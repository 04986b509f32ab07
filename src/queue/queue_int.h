/*
 * queue_int.h — what the files of src/queue/ share: a queue row as the
 * scheduler holds it (item.c), a job, and the notices to senders
 * (notice.c, which formats them with dsn.h and delivers them from <>).
 */
#ifndef TERN_QUEUE_QUEUE_INT_H
#define TERN_QUEUE_QUEUE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mta/mta.h"
#include "queue/dsn.h"

struct config;
struct store;
struct store_writer;
struct store_queue_entry;
struct queue;

/* A queue row with its strings owned. */
struct queue_item {
	int64_t id;
	char *sender, *rcpt, *orcpt, *ret, *envid, *last_error, *message_id, *blob_id;
	unsigned notify, attempts;
	uint64_t size, queue_offset;
	int64_t created, next_attempt;
	bool warned, body_8bit, smtputf8, requiretls;
};
void queue_item_from_entry(struct queue_item *it, const struct store_queue_entry *e);
void queue_item_clear(struct queue_item *it);

/* One message to one destination: what the scheduler gives the MTA. */
struct qjob {
	struct mta_job mj;          /* first member not required; mj.arg points back */
	struct queue *q;
	char *dest;                 /* recipient domain, or the relay */
	struct queue_item *items;   /* the rows, rcpts[i] is items[i]'s outcome */
	size_t n, cap;
	struct mta_rcpt *rcpts;
	bool expired;               /* bounced without an attempt */
	char path[PATH_MAX];
	struct qjob *next;          /* the queue's list of jobs at the MTA */
	struct qjob *next_open;     /* during a scan: jobs still taking rows */
};

/* Recipients of one message that the sender is to hear about, with one action. */
struct queue_notice {
	struct dsn_rcpt *rcpts;
	char **strings;             /* owned copies the rcpts point into */
	size_t n, nstrings;
	int64_t created;            /* earliest arrival among them */
};
/* remote_mta: "host[ip]:port" or a host name, NULL / "" when no host was reached. */
void queue_notice_add(struct queue_notice *n, const struct queue_item *it, const struct mta_rcpt *r,
		      enum dsn_action action, const char *remote_mta);
void queue_notice_clear(struct queue_notice *n);

/*
 * Format the notice about msg (any of its items: sender, envid, ret, blob)
 * and deliver it from <> to the sender: to the sender's account when
 * local, else through the queue.  Returns 1 when a delivery went to the
 * writer (done(arg) then runs on the calling loop once it is stored), 0
 * when there was nothing to send or it failed (logged).
 */
unsigned queue_notify_sender(struct store *s, struct store_writer *w, const struct config *cfg,
			     const struct queue_item *msg, const struct queue_notice *n, int64_t lifetime,
			     void (*done)(void *arg), void *arg);
void queue_on_notice_done(void *arg);

/*
 * Whether the message at offset in fd says "TLS-Required: No" (RFC 8689
 * §5): its sender prefers delivery to the recipient's TLS policy.
 */
bool queue_tls_optional(int fd, uint64_t offset);

/* The enhanced status code at the start of a reply ("550 5.1.1 ..." or "4.4.1 ..."), else fallback. */
void queue_reply_status(const char *reply, char *out, size_t outsize, const char *fallback);

#endif
