/*
 * queue.h — the outbound queue's scheduler.
 *
 * The queue itself is rows in the store (one per remote recipient, written
 * durably with the message before the 250).  The scheduler runs on a loop
 * thread of its own: it picks the rows that are due, groups them into jobs
 * (one message, one destination, up to QUEUE_JOB_RCPTS recipients), hands
 * the jobs to the SMTP client (src/mta/) within the configured concurrency
 * limits, and applies each outcome: delivered rows go, temporary failures
 * come back later (retry_min doubling up to retry_max), permanent failures
 * and entries older than queue_lifetime bounce, and senders who asked get a
 * delay warning.  Notifications are RFC 3464 reports (dsn.h) delivered
 * from <> like any other mail.
 */
#ifndef TERN_QUEUE_QUEUE_H
#define TERN_QUEUE_QUEUE_H

struct config;
struct store_writer;
struct queue;

/* Recipients per job (one SMTP transaction), as Postfix's default. */
#define QUEUE_JOB_RCPTS 50

/* Starts the scheduler's thread; NULL (logged) on failure. */
struct queue *queue_start(const struct config *cfg, struct store_writer *writer);
/*
 * Stop in two steps around the writer's stop: queue_quiesce() ends all
 * outbound work (connections closed, jobs abandoned: their rows stay and
 * are tried again at the next start) and starts nothing new; then, once
 * the writer is stopped (its last reports are in), queue_free().
 */
void queue_quiesce(struct queue *q);
void queue_free(struct queue **q);

#endif
