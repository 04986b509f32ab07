/*
 * dmarcrpt_collect.c — the per-loop counts of DMARC results for the
 * aggregate reports (RFC 7489 §7.2).
 *
 *   smtp_dmarcrpt_note ─► this thread's collector (made on first use:
 *        table, a 60 s timer on the loop, an at-exit flush)
 *        └─► dmarcrpt_agg_add (mta/dmarcrpt_agg.c): one entry per distinct row, count += 1
 *   timer / loop exit ─► store_dmarcrpt_record(all rows, one transaction) ─► clear
 *
 * Intake must not pay an fsync per message, so nothing here touches the
 * store per message.  The table is capped (DMARCRPT_AGG_MAX distinct
 * rows between two flushes): a flood of distinct sources loses counts,
 * logged at the flush, never memory.
 */
#include "smtp/dmarcrpt_collect.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"
#include "mta/dmarcrpt.h"
#include "mta/report.h"
#include "net/loop.h"

/* ---- the collector of one loop thread ---------------------------------------------------- */

struct collector {
	struct dmarcrpt_agg agg;
	struct store *store;
	struct event *timer;
};

static __thread struct collector *collector;

static void flush(struct collector *c)
{
	size_t n = 0;
	struct store_dmarcrpt_row *rows = dmarcrpt_agg_rows(&c->agg, &n);
	if (c->agg.dropped)
		log_warn("dmarcrpt", "msg=\"report table full, messages not counted\" dropped=%llu max=%d",
			 (unsigned long long)c->agg.dropped, DMARCRPT_AGG_MAX);
	if (n) {
		enum store_status st = store_dmarcrpt_record(c->store, rows, n);
		if (st != STORE_OK)
			log_error("dmarcrpt", "msg=\"cannot store the report counts\" rows=%zu status=%s", n,
				  store_status_str(st));
		else
			log_debug("dmarcrpt", "msg=\"report counts stored\" rows=%zu", n);
	}
	free(rows);
	dmarcrpt_agg_clear(&c->agg);
}

static void on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

static void on_loop_exit(void *arg)
{
	struct collector *c = arg;
	flush(c);
	if (c->timer)
		event_free(c->timer);
	dmarcrpt_agg_free(&c->agg);
	free(c);
	collector = NULL;
}

static struct collector *collector_get(struct store *store)
{
	if (collector)
		return collector;
	struct loop *l = loop_current();
	if (!l || !store)
		return NULL;
	struct collector *c = xcalloc(1, sizeof *c);
	dmarcrpt_agg_init(&c->agg);
	c->store = store;
	c->timer = event_new(loop_base(l), -1, EV_PERSIST, on_flush_timer, c);
	struct timeval tv = { DMARCRPT_FLUSH_S, 0 };
	if (!c->timer || event_add(c->timer, &tv) != 0)
		log_error("dmarcrpt", "msg=\"no flush timer: counts are stored when the loop stops\"");
	loop_at_exit(on_loop_exit, c);
	collector = c;
	return c;
}

/* ---- what one message counts as ------------------------------------------------------------ */

static bool has_mailto(const struct dmarc_record *rec)
{
	for (size_t i = 0; i < rec->nrua; i++)
		if (strncasecmp(rec->rua[i], "mailto:", 7) == 0)
			return true;
	return false;
}

void smtp_dmarcrpt_note(struct store *store, const struct config *cfg, const char *source_ip,
			const struct dmarc_result *dm, const struct spf_outcome *spf, const struct dkim_verdict *dv,
			size_t nd)
{
	if (!cfg->mailauth.dmarc_reports || !dm || !dm->have_record || !has_mailto(&dm->rec) || !dm->record_domain[0])
		return;
	/* A 451 for now: the message comes again and is counted then. */
	if (dm->status == DMARC_TEMPERROR || (spf && spf->result == SPF_TEMPERROR))
		return;
	/* Our own reports coming back through a relay: a report about reports would never end. */
	const char *own = cfg->mailauth.dmarc_report_from;
	char postmaster[300];
	if (!own) {
		snprintf(postmaster, sizeof postmaster, "postmaster@%s", cfg->hostname);
		own = postmaster;
	}
	if (spf && strcasecmp(spf->envelope_from, own) == 0)
		return;
	struct collector *c = collector_get(store);
	if (!c)
		return;
	char day[11], published[STORE_DMARCRPT_PUBLISHED_MAX + 1], rua[STORE_DMARCRPT_RUA_MAX + 1] = "";
	report_day_of(now_unix(), day);
	dmarcrpt_published(&dm->rec, published, sizeof published);
	size_t ol = 0;
	for (size_t i = 0; i < dm->rec.nrua; i++) {
		int w = snprintf(rua + ol, sizeof rua - ol, "%s%s", i ? "," : "", dm->rec.rua[i]);
		if (w < 0 || (size_t)w >= sizeof rua - ol)
			break;
		ol += (size_t)w;
	}
	/* One signature per row: the first that passed, else the first at all. */
	const struct dkim_verdict *sig = nd ? &dv[0] : NULL;
	for (size_t i = 0; i < nd; i++)
		if (dv[i].result == DKIM_RESULT_PASS) {
			sig = &dv[i];
			break;
		}
	enum dmarc_policy disposition = dm->disposition == DMARC_POLICY_UNSET ? DMARC_POLICY_NONE : dm->disposition;
	struct store_dmarcrpt_row r = {
		.day = day,
		.domain = dm->record_domain,
		.source_ip = source_ip ? source_ip : "",
		.header_from = dm->from_domain,
		.envelope_from = spf ? spf->domain : "",
		.disposition = dmarc_policy_name(disposition),
		.eval_dkim = dm->dkim_aligned ? "pass" : "fail",
		.eval_spf = dm->spf_aligned ? "pass" : "fail",
		.dkim_domain = sig ? sig->domain : "",
		.dkim_result = sig ? dkim_result_name(sig->result) : "",
		.spf_result = spf ? spf_result_name(spf->result) : "none",
		.published = published,
		.rua = rua,
		.count = 1,
	};
	dmarcrpt_agg_add(&c->agg, &r);
}
