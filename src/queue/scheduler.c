/*
 * scheduler.c — struct queue (queue.h): which queue rows go out when, and
 * what becomes of them afterwards.
 *
 * Everything here runs on the scheduler's own loop thread, with its own
 * store handle, DNS resolver and SMTP client.  A scan reads the rows that
 * are due (store_queue_due), skips those already in flight (an in-memory
 * set: the rows themselves are not marked, so a crash leaves nothing
 * stuck), and groups the rest into jobs by (destination, message).  The
 * concurrency limits are enforced here: at most max_per_destination jobs
 * per destination and max_connections in all, and destination_rate_delay
 * between two jobs to one destination; rows that do not fit wait for the
 * next scan, which every finished job triggers.
 *
 * Scans run when the writer has queued new rows (store_queue_watch), when
 * a job finishes, and on a timer: at the earliest next_attempt, and at
 * least every SCAN_POLL_S so that `tern queue retry|release`, done by
 * another process, take effect promptly.
 *
 * Outcomes are applied in durable transactions (store_queue_apply): sent
 * and bounced rows go, deferred ones get their next attempt.  The jobs
 * that finish in one turn of the loop share one transaction: a COMMIT is
 * an fsync on this thread, and one per job was what bounded small-message
 * throughput.  A finished job's rows stay in the in-flight set until their
 * COMMIT, so no scan can start them again meanwhile.  A crash between the remote 250 and that commit means the
 * message goes out once more at the next start — the price every MTA
 * pays, and the safe side of losing it.
 */
#include "queue/queue.h"
#include "queue/queue_int.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mta/mta.h"
#include "mta/dmarcrpt.h"
#include "mta/tlsrpt.h"
#include "net/loop.h"
#include "store/store.h"

#define SCAN_POLL_S 3
/* Rows read per scan: bounded memory however long the queue is. */
#define SCAN_LIMIT 2000
#define INFLIGHT_BUCKETS 1024

struct inflight {
	int64_t id;
	struct inflight *next;
};

struct destination {
	char *name;
	unsigned active;
	uint64_t last_start_ms;         /* for destination_rate_delay */
	struct destination *next;
};

struct queue {
	const struct config *cfg;
	struct store_writer *writer;
	struct loop **loops;            /* one: the scheduler's thread */
	struct event_base *base;
	struct store *store;
	struct dns_resolver *dns;
	struct mta *mta;
	struct mta_tlsrpt *tlsrpt;      /* the daily TLS-RPT reports, NULL when [delivery] tlsrpt is off */
	struct mta_dmarcrpt *dmarcrpt;  /* the daily DMARC aggregate reports, NULL when [mailauth] dmarc_reports is off */
	struct event *timer;
	struct event *kick;
	struct event *flush;            /* commits the outcomes of finished jobs */
	atomic_bool kick_posted;
	bool quiescing;
	unsigned active;                /* jobs at the MTA */
	struct qjob *jobs;              /* those jobs, for quiesce */
	struct qjob *done;              /* finished jobs whose outcomes are in batch, not yet committed */
	struct store_queue_outcome *batch;
	size_t nbatch, capbatch;
	struct destination *dests;
	struct inflight *inflight[INFLIGHT_BUCKETS];
	size_t ninflight;
	unsigned pending_bounces;       /* notifications at the writer */
	uint64_t rate_wake_ms;          /* a destination's rate delay ends then (0: none waiting) */
};

/* ---- in-flight set and destinations ------------------------------------ */

static size_t inflight_bucket(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 54) & (INFLIGHT_BUCKETS - 1);
}

static bool inflight_has(struct queue *q, int64_t id)
{
	for (struct inflight *f = q->inflight[inflight_bucket(id)]; f; f = f->next)
		if (f->id == id)
			return true;
	return false;
}

static void inflight_add(struct queue *q, int64_t id)
{
	struct inflight *f = xmalloc(sizeof *f);
	size_t b = inflight_bucket(id);
	f->id = id;
	f->next = q->inflight[b];
	q->inflight[b] = f;
	q->ninflight++;
}

static void inflight_del(struct queue *q, int64_t id)
{
	for (struct inflight **p = &q->inflight[inflight_bucket(id)]; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			struct inflight *f = *p;
			*p = f->next;
			free(f);
			q->ninflight--;
			return;
		}
	}
}

static struct destination *destination_get(struct queue *q, const char *name)
{
	for (struct destination *d = q->dests; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	struct destination *d = xcalloc(1, sizeof *d);
	d->name = xstrdup(name);
	d->next = q->dests;
	q->dests = d;
	return d;
}

/* Whether a destination's entry still matters: jobs running, or a rate delay still running. */
static bool destination_live(const struct queue *q, const struct destination *d, uint64_t now_ms)
{
	return d->active > 0 || (q->cfg->delivery.destination_rate_delay_ms > 0 &&
				 now_ms - d->last_start_ms < q->cfg->delivery.destination_rate_delay_ms);
}

static void destinations_prune(struct queue *q)
{
	uint64_t now = now_ms();
	for (struct destination **p = &q->dests; *p;) {
		struct destination *d = *p;
		if (destination_live(q, d, now)) {
			p = &d->next;
			continue;
		}
		*p = d->next;
		free(d->name);
		free(d);
	}
}

static void destination_release(struct queue *q, const char *name)
{
	for (struct destination *d = q->dests; d; d = d->next) {
		if (strcmp(d->name, name) == 0) {
			if (d->active > 0)
				d->active--;
			break;
		}
	}
	destinations_prune(q);
}

/*
 * Whether a new job may start for d now: the concurrency limits, and
 * destination_rate_delay (Postfix's default_destination_rate_delay: one
 * delivery per interval, which also means one at a time).
 */
static bool destination_may_start(struct queue *q, struct destination *d, size_t started)
{
	const struct config *cfg = q->cfg;
	uint64_t delay = cfg->delivery.destination_rate_delay_ms;
	if (q->active + started >= cfg->delivery.max_connections)
		return false;
	if (delay == 0)
		return d->active < cfg->delivery.max_per_destination;
	uint64_t now = now_ms();
	if (d->active > 0)
		return false;
	if (d->last_start_ms && now - d->last_start_ms < delay) {
		uint64_t wake = d->last_start_ms + delay;
		if (q->rate_wake_ms == 0 || wake < q->rate_wake_ms)
			q->rate_wake_ms = wake;
		return false;
	}
	return true;
}

/* ---- jobs --------------------------------------------------------------- */

static void qjob_free(struct qjob *j)
{
	for (size_t i = 0; i < j->n; i++)
		queue_item_clear(&j->items[i]);
	free(j->items);
	free(j->rcpts);
	free(j->dest);
	free(j);
}

static void unlink_job(struct queue *q, struct qjob *j)
{
	for (struct qjob **p = &q->jobs; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			return;
		}
	}
}

static void schedule_scan(struct queue *q);

/* Seconds until the next try after attempts failed ones: retry_min doubling, capped. */
static int64_t backoff_s(const struct config *cfg, unsigned attempts)
{
	uint64_t ms = cfg->delivery.retry_min_ms;
	for (unsigned i = 0; i < attempts && ms < cfg->delivery.retry_max_ms; i++)
		ms *= 2;
	if (ms > cfg->delivery.retry_max_ms)
		ms = cfg->delivery.retry_max_ms;
	return (int64_t)((ms + 999) / 1000);
}

static bool wants(unsigned notify, unsigned bit)
{
	/* No NOTIFY: failures and delays are reported, successes not (RFC 3461 §4.1). */
	if (notify == 0)
		return bit != MTA_NOTIFY_SUCCESS;
	return (notify & bit) != 0;
}

/*
 * Apply each recipient's outcome to its row, and tell the sender what
 * they asked to hear.  Runs for jobs the MTA finished and for jobs of
 * expired rows that never went to the MTA.  Notices are written before
 * the finished rows go: the last row naming the message frees its blob,
 * and a notice quotes the message.
 */
static void apply_outcomes(struct queue *q, struct qjob *j)
{
	int64_t now = now_unix();
	int64_t lifetime = (int64_t)(q->cfg->delivery.queue_lifetime_ms / 1000);
	int64_t warn_after = (int64_t)(q->cfg->delivery.delay_warning_ms / 1000);
	struct queue_notice failed = { 0 }, delayed = { 0 }, relayed = { 0 };
	if (q->nbatch + j->n > q->capbatch) {
		q->capbatch = (q->nbatch + j->n) * 2;
		q->batch = xrealloc(q->batch, q->capbatch * sizeof *q->batch);
	}
	/* error strings point into j->rcpts: j lives until the batch is committed */
	struct store_queue_outcome *out = q->batch + q->nbatch;
	memset(out, 0, j->n * sizeof *out);
	q->nbatch += j->n;

	for (size_t i = 0; i < j->n; i++) {
		struct queue_item *it = &j->items[i];
		struct mta_rcpt *r = &j->rcpts[i];
		out[i].id = it->id;
		out[i].op = STORE_QUEUE_FINISH;
		switch (r->result) {
		case MTA_SENT:
			if (wants(it->notify, MTA_NOTIFY_SUCCESS) && !r->dsn_passed)
				queue_notice_add(&relayed, it, r, DSN_RELAYED, j->mj.relay);
			break;
		case MTA_BOUNCED:
			if (wants(it->notify, MTA_NOTIFY_FAILURE))
				queue_notice_add(&failed, it, r, DSN_FAILED, j->mj.relay);
			break;
		case MTA_DEFERRED:
			if (now - it->created >= lifetime) {
				log_info("queue", "queue_id=%s to=<%s> status=expired attempts=%u reply=%s",
					 it->message_id, it->rcpt, it->attempts + 1, lq(r->reply));
				if (wants(it->notify, MTA_NOTIFY_FAILURE))
					queue_notice_add(&failed, it, r, DSN_FAILED, j->mj.relay);
				break;
			}
			out[i].op = STORE_QUEUE_DEFER;
			out[i].next_attempt = now + backoff_s(q->cfg, it->attempts);
			out[i].error = r->reply;
			if (!it->warned && warn_after > 0 && now - it->created >= warn_after &&
			    wants(it->notify, MTA_NOTIFY_DELAY)) {
				out[i].warned = true;
				queue_notice_add(&delayed, it, r, DSN_DELAYED, j->mj.relay);
			}
			break;
		}
	}
	/* Never to <>: a notice about a notice is how loops start. */
	const struct queue_item *first = &j->items[0];
	struct queue_notice *notices[] = { &failed, &delayed, &relayed };
	for (size_t k = 0; k < ARRAY_LEN(notices); k++) {
		if (notices[k]->n == 0)
			continue;
		if (first->sender[0])
			q->pending_bounces += queue_notify_sender(q->store, q->writer, q->cfg, first, notices[k],
								  lifetime, queue_on_notice_done, q);
		else
			log_info("queue", "queue_id=%s msg=\"no notice for mail from <>\" rcpts=%zu",
				 first->message_id, notices[k]->n);
		queue_notice_clear(notices[k]);
	}
}

static void release_job(struct queue *q, struct qjob *j)
{
	for (size_t i = 0; i < j->n; i++)
		inflight_del(q, j->items[i].id);
	destination_release(q, j->dest);
	qjob_free(j);
}

/* Commit the batched outcomes, then let their rows and jobs go. */
static void flush_outcomes(struct queue *q)
{
	if (q->nbatch) {
		enum store_status st = store_queue_apply(q->store, q->batch, q->nbatch);
		if (st != STORE_OK)
			log_error("queue", "msg=\"cannot record the outcomes\" rcpts=%zu status=%s", q->nbatch,
				  store_status_str(st));
		q->nbatch = 0;
	}
	while (q->done) {
		struct qjob *j = q->done;
		q->done = j->next;
		release_job(q, j);
	}
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	flush_outcomes(q);
	schedule_scan(q);
}

static void on_job_done(struct mta_job *mj)
{
	struct qjob *j = mj->arg;
	struct queue *q = j->q;
	unlink_job(q, j);
	q->active--;
	if (q->quiescing) {
		release_job(q, j);
		return;
	}
	apply_outcomes(q, j);
	j->next = q->done;
	q->done = j;
	/* after the other events of this turn, which may finish more jobs */
	event_active(q->flush, EV_READ, 0);
}

/* The message's domain part, lower case, or "" when there is none. */
static const char *rcpt_domain(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	return at ? at + 1 : "";
}

static struct qjob *job_new(struct queue *q, const char *dest, const struct queue_item *first)
{
	struct qjob *j = xcalloc(1, sizeof *j);
	j->q = q;
	j->dest = xstrdup(dest);
	j->cap = QUEUE_JOB_RCPTS;
	j->items = xcalloc(j->cap, sizeof *j->items);
	(void)first;
	return j;
}

/* Fill the mta_job from the items (all of one message and destination). */
static bool job_prepare(struct queue *q, struct qjob *j)
{
	struct queue_item *it = &j->items[0];
	if (!store_blob_path(q->store, it->blob_id, j->path, sizeof j->path))
		return false;
	j->rcpts = xcalloc(j->n, sizeof *j->rcpts);
	for (size_t i = 0; i < j->n; i++) {
		j->rcpts[i].addr = j->items[i].rcpt;
		j->rcpts[i].orcpt = j->items[i].orcpt;
		j->rcpts[i].notify = j->items[i].notify;
	}
	struct mta_job *m = &j->mj;
	m->queue_id = it->message_id;
	m->domain = rcpt_domain(it->rcpt);
	m->sender = it->sender;
	m->envid = it->envid;
	m->ret = it->ret;
	m->path = j->path;
	m->offset = it->queue_offset;
	m->size = it->size;
	m->body_8bit = it->body_8bit;
	m->smtputf8 = it->smtputf8;
	m->requiretls = it->requiretls;
	if (!it->requiretls) {
		int fd = open(j->path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			m->tls_optional = queue_tls_optional(fd, it->queue_offset);
			close(fd);
		}
	}
	m->rcpts = j->rcpts;
	m->nrcpts = j->n;
	m->done = on_job_done;
	m->arg = j;
	return true;
}

/*
 * A job that never goes to the MTA, deferred with why: rows too old to
 * try again (apply_outcomes() sees they are expired and bounces them, the
 * last error saying why and giving the report its status code), or rows
 * whose message file cannot even be named, which then back off like any
 * other failure instead of failing again at every scan, and bounce when
 * they expire.
 */
static void defer_job_unattempted(struct queue *q, struct qjob *j, const char *why, const char *status)
{
	j->rcpts = xcalloc(j->n, sizeof *j->rcpts);
	for (size_t i = 0; i < j->n; i++) {
		struct mta_rcpt *r = &j->rcpts[i];
		const char *reason = why ? why : j->items[i].last_error;
		r->addr = j->items[i].rcpt;
		r->result = MTA_DEFERRED;
		snprintf(r->reply, sizeof r->reply, "%s", reason[0] ? reason : "delivery time expired");
		queue_reply_status(reason, r->status, sizeof r->status, status);
		r->remote = false;
	}
	apply_outcomes(q, j);
	flush_outcomes(q);
	release_job(q, j);
}

struct scan {
	struct queue_item *items;
	size_t n, cap;
};

static void collect(void *ctx, const struct store_queue_entry *e)
{
	struct scan *sc = ctx;
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		sc->items = xrealloc(sc->items, sc->cap * sizeof *sc->items);
	}
	queue_item_from_entry(&sc->items[sc->n++], e);
}

static void scan(struct queue *q)
{
	if (q->quiescing)
		return;
	struct scan sc = { 0 };
	int64_t now = now_unix();
	q->rate_wake_ms = 0;
	/*
	 * Enough rows to fill the free connections even when every row in
	 * flight comes first (they are due too), not the whole due queue:
	 * each finished job scans again.
	 */
	unsigned max = q->cfg->delivery.max_connections;
	size_t free_slots = q->active < max ? max - q->active : 0;
	size_t limit = q->ninflight + free_slots * QUEUE_JOB_RCPTS;
	if (limit > SCAN_LIMIT)
		limit = SCAN_LIMIT;
	if (free_slots == 0)
		limit = 0;
	if (limit && store_queue_due(q->store, now, limit, collect, &sc) != STORE_OK)
		log_error("queue", "msg=\"cannot read the queue\"");
	int64_t lifetime = (int64_t)(q->cfg->delivery.queue_lifetime_ms / 1000);
	const struct config *cfg = q->cfg;
	/* Jobs built by this scan, still open for more recipients. */
	struct qjob *open = NULL;
	size_t started = 0;

	for (size_t i = 0; i < sc.n; i++) {
		struct queue_item *it = &sc.items[i];
		if (inflight_has(q, it->id))
			continue;
		bool expired = now - it->created >= lifetime;
		const char *dest = cfg->delivery.relay ? cfg->delivery.relay : rcpt_domain(it->rcpt);
		struct qjob *j = NULL;
		for (struct qjob *o = open; o && !j; o = o->next_open)
			if (o->expired == expired && o->n < o->cap && strcmp(o->dest, dest) == 0 &&
			    strcmp(o->items[0].blob_id, it->blob_id) == 0 && o->items[0].queue_offset == it->queue_offset)
				j = o;
		if (!j) {
			struct destination *d = destination_get(q, dest);
			if (!expired && !destination_may_start(q, d, started))
				continue;
			d->active++;
			if (!expired)
				d->last_start_ms = now_ms();
			j = job_new(q, dest, it);
			j->expired = expired;
			j->next_open = open;
			open = j;
			if (!expired)
				started++;
		}
		j->items[j->n++] = *it;
		memset(it, 0, sizeof *it);      /* moved */
		inflight_add(q, j->items[j->n - 1].id);
	}
	for (size_t i = 0; i < sc.n; i++)
		queue_item_clear(&sc.items[i]);
	free(sc.items);
	destinations_prune(q);      /* the entries made for rows that had to wait */

	while (open) {
		struct qjob *j = open;
		open = j->next_open;
		if (j->expired) {
			defer_job_unattempted(q, j, NULL, "4.4.7");
			continue;
		}
		if (!job_prepare(q, j)) {
			log_error("queue", "msg=\"bad blob id in the queue\" queue_id=%s blob=%s",
				  j->items[0].message_id, lq(j->items[0].blob_id));
			defer_job_unattempted(q, j, "message file unknown (bad blob id)", "4.3.0");
			continue;
		}
		j->next = q->jobs;
		q->jobs = j;
		q->active++;
		mta_deliver(q->mta, &j->mj);
	}
}

/* ---- timers and wake-ups ------------------------------------------------ */

static void arm_timer(struct queue *q)
{
	int64_t when = 0, now = now_unix();
	uint64_t wait_ms = SCAN_POLL_S * 1000;
	if (store_queue_next_due(q->store, &when) == STORE_OK && when > now &&
	    (uint64_t)(when - now) * 1000 < wait_ms)
		wait_ms = (uint64_t)(when - now) * 1000;
	if (q->rate_wake_ms) {
		uint64_t t = now_ms();
		uint64_t rate = q->rate_wake_ms > t ? q->rate_wake_ms - t : 1;
		if (rate < wait_ms)
			wait_ms = rate;
	}
	struct timeval tv = { (time_t)(wait_ms / 1000), (suseconds_t)(wait_ms % 1000) * 1000 };
	evtimer_add(q->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	scan(q);
	if (!q->quiescing) {
		mta_tlsrpt_tick(q->tlsrpt);    /* cheap unless a UTC day ended or `tern tlsrpt send` asked */
		mta_dmarcrpt_tick(q->dmarcrpt);
		arm_timer(q);
	}
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	atomic_store(&q->kick_posted, false);
	scan(q);
	if (!q->quiescing) {
		mta_tlsrpt_tick(q->tlsrpt);
		mta_dmarcrpt_tick(q->dmarcrpt);
		evtimer_del(q->timer);
		arm_timer(q);
	}
}

/* On the loop: a scan soon, once however many asked. */
static void schedule_scan(struct queue *q)
{
	if (!q->quiescing)
		event_active(q->kick, EV_READ, 0);
}

static void kick_on_loop(void *arg)
{
	schedule_scan(arg);
}

/* From the writer's thread: new rows are durable. */
static void on_rows_queued(void *arg)
{
	struct queue *q = arg;
	if (!atomic_exchange(&q->kick_posted, true))
		loop_post(q->loops[0], kick_on_loop, q);
}

void queue_on_notice_done(void *arg)
{
	struct queue *q = arg;
	if (q->pending_bounces > 0)
		q->pending_bounces--;
}

static void start_on_loop(void *arg)
{
	struct queue *q = arg;
	q->base = loop_base(q->loops[0]);
	q->store = store_open(q->cfg->data_dir);
	q->dns = q->store ? dns_resolver_new(q->base, q->cfg->dns.nameservers, q->cfg->dns.trust_anchor) : NULL;
	q->mta = q->dns ? mta_new(q->base, q->cfg, q->dns) : NULL;
	if (!q->mta) {
		log_error("queue", "msg=\"outbound delivery not started\"");
		q->quiescing = true;
		return;
	}
	q->tlsrpt = mta_tlsrpt_new(q->base, q->cfg, q->store, q->writer, q->dns);
	mta_set_tlsrpt_store(q->mta, q->tlsrpt ? q->store : NULL);
	q->dmarcrpt = mta_dmarcrpt_new(q->base, q->cfg, q->store, q->writer, q->dns);
	q->timer = evtimer_new(q->base, on_timer, q);
	q->kick = event_new(q->base, -1, 0, on_kick, q);
	q->flush = event_new(q->base, -1, 0, on_flush, q);
	store_queue_watch(on_rows_queued, q);
	log_info("queue", "msg=started relay=%s", lq(q->cfg->delivery.relay ? q->cfg->delivery.relay : "-"));
	schedule_scan(q);
}

struct queue *queue_start(const struct config *cfg, struct store_writer *writer)
{
	struct queue *q = xcalloc(1, sizeof *q);
	q->cfg = cfg;
	q->writer = writer;
	q->loops = loops_create(1);
	loops_run(q->loops, 1);
	loop_post(q->loops[0], start_on_loop, q);
	return q;
}

static void quiesce_on_loop(void *arg)
{
	struct queue *q = arg;
	if (q->flush) {
		event_del(q->flush);
		flush_outcomes(q);      /* those went out: recorded, not sent again at the next start */
	}
	q->quiescing = true;
	store_queue_watch(NULL, NULL);
	if (q->timer)
		evtimer_del(q->timer);
	if (q->kick)
		event_del(q->kick);
	/* Jobs abandoned: their rows stay due and go out at the next start. */
	mta_free(&q->mta);
	mta_tlsrpt_free(&q->tlsrpt);
	mta_dmarcrpt_free(&q->dmarcrpt);
	while (q->jobs) {
		struct qjob *j = q->jobs;
		q->jobs = j->next;
		q->active--;
		release_job(q, j);
	}
	dns_resolver_free(&q->dns);
}

void queue_quiesce(struct queue *q)
{
	if (q)
		loop_post(q->loops[0], quiesce_on_loop, q);
}

static void finish_on_loop(void *arg)
{
	struct queue *q = arg;
	if (q->pending_bounces)
		log_warn("queue", "msg=\"notifications still at the writer at stop\" count=%u", q->pending_bounces);
	if (q->timer)
		event_free(q->timer);
	if (q->kick)
		event_free(q->kick);
	if (q->flush)
		event_free(q->flush);
	q->timer = q->kick = q->flush = NULL;
	free(q->batch);
	while (q->dests) {
		struct destination *d = q->dests;
		q->dests = d->next;
		free(d->name);
		free(d);
	}
	for (size_t b = 0; b < INFLIGHT_BUCKETS; b++) {
		while (q->inflight[b]) {
			struct inflight *f = q->inflight[b];
			q->inflight[b] = f->next;
			free(f);
		}
	}
	store_close(&q->store);
}

void queue_free(struct queue **qp)
{
	struct queue *q = *qp;
	if (!q)
		return;
	*qp = NULL;
	loop_post(q->loops[0], quiesce_on_loop, q);   /* harmless when already quiesced */
	loop_post(q->loops[0], finish_on_loop, q);
	loops_stop(q->loops, 1);
	free(q);
}
