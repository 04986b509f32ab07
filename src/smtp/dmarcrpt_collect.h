/*
 * dmarcrpt_collect.h — what smtp/mailauth.c records for DMARC aggregate
 * reports (mta/dmarcrpt.h): one call per message whose DMARC record was
 * found.  Counted in memory on the calling loop thread (no store write
 * per message), flushed to the store in one transaction every
 * DMARCRPT_FLUSH_S seconds and when the loop stops.
 */
#ifndef TERN_SMTP_DMARCRPT_COLLECT_H
#define TERN_SMTP_DMARCRPT_COLLECT_H

#include <stddef.h>

struct config;
struct store;
struct dmarc_result;
struct spf_outcome;
struct dkim_verdict;

#define DMARCRPT_FLUSH_S 60

/*
 * On a loop thread: count one message (dm->have_record) for the report of
 * its policy domain, when [mailauth] dmarc_reports is on and the record
 * has a mailto: rua.  store is this loop's handle (it must outlive the
 * loop).  Never blocks.
 */
void smtp_dmarcrpt_note(struct store *store, const struct config *cfg, const char *source_ip,
			const struct dmarc_result *dm, const struct spf_outcome *spf, const struct dkim_verdict *dv,
			size_t nd);

#endif
