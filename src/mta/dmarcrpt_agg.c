/*
 * dmarcrpt_agg.c — the bounded in-memory table of DMARC report counts
 * (one per SMTP loop thread, smtp/dmarcrpt_collect.c): one entry per
 * distinct row between two flushes, at most DMARCRPT_AGG_MAX; what does
 * not fit is counted as dropped.  Strings are copied into fixed fields
 * of the store's limits, so an entry's size is bounded too.
 */
#include "mta/dmarcrpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define SLOTS (2 * DMARCRPT_AGG_MAX)

struct dmarcrpt_entry {
	bool used;
	uint64_t count;
	char day[11];
	char domain[STORE_DMARCRPT_DOMAIN_MAX + 1];
	char source_ip[STORE_DMARCRPT_IP_MAX + 1];
	char header_from[STORE_DMARCRPT_DOMAIN_MAX + 1];
	char envelope_from[STORE_DMARCRPT_DOMAIN_MAX + 1];
	char disposition[STORE_DMARCRPT_WORD_MAX + 1];
	char eval_dkim[STORE_DMARCRPT_WORD_MAX + 1];
	char eval_spf[STORE_DMARCRPT_WORD_MAX + 1];
	char dkim_domain[STORE_DMARCRPT_DOMAIN_MAX + 1];
	char dkim_result[STORE_DMARCRPT_WORD_MAX + 1];
	char spf_result[STORE_DMARCRPT_WORD_MAX + 1];
	char published[STORE_DMARCRPT_PUBLISHED_MAX + 1];
	char rua[STORE_DMARCRPT_RUA_MAX + 1];
};

void dmarcrpt_agg_init(struct dmarcrpt_agg *a)
{
	memset(a, 0, sizeof *a);
}

void dmarcrpt_agg_free(struct dmarcrpt_agg *a)
{
	free(a->slots);
	memset(a, 0, sizeof *a);
}

void dmarcrpt_agg_clear(struct dmarcrpt_agg *a)
{
	if (a->slots)
		memset(a->slots, 0, SLOTS * sizeof *a->slots);
	a->n = 0;
	a->dropped = 0;
}

#define COPY(f) snprintf(e->f, sizeof e->f, "%s", r->f ? r->f : "")

static void entry_fill(struct dmarcrpt_entry *e, const struct store_dmarcrpt_row *r)
{
	COPY(day);
	COPY(domain);
	COPY(source_ip);
	COPY(header_from);
	COPY(envelope_from);
	COPY(disposition);
	COPY(eval_dkim);
	COPY(eval_spf);
	COPY(dkim_domain);
	COPY(dkim_result);
	COPY(spf_result);
	COPY(published);
	COPY(rua);
}

/* The key fields only (published and rua follow the domain, they are not part of the row's identity). */
static bool entry_same(const struct dmarcrpt_entry *a, const struct dmarcrpt_entry *b)
{
	return !strcmp(a->day, b->day) && !strcmp(a->domain, b->domain) && !strcmp(a->source_ip, b->source_ip) &&
	       !strcmp(a->header_from, b->header_from) && !strcmp(a->envelope_from, b->envelope_from) &&
	       !strcmp(a->disposition, b->disposition) && !strcmp(a->eval_dkim, b->eval_dkim) &&
	       !strcmp(a->eval_spf, b->eval_spf) && !strcmp(a->dkim_domain, b->dkim_domain) &&
	       !strcmp(a->dkim_result, b->dkim_result) && !strcmp(a->spf_result, b->spf_result);
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (h ^ 0xff) * 1099511628211ull;   /* a field separator: "ab","c" differs from "a","bc" */
}

static uint64_t entry_hash(const struct dmarcrpt_entry *e)
{
	uint64_t h = 14695981039346656037ull;
	h = fnv(h, e->day);
	h = fnv(h, e->domain);
	h = fnv(h, e->source_ip);
	h = fnv(h, e->header_from);
	h = fnv(h, e->envelope_from);
	h = fnv(h, e->disposition);
	h = fnv(h, e->eval_dkim);
	h = fnv(h, e->eval_spf);
	h = fnv(h, e->dkim_domain);
	h = fnv(h, e->dkim_result);
	return fnv(h, e->spf_result);
}

bool dmarcrpt_agg_add(struct dmarcrpt_agg *a, const struct store_dmarcrpt_row *r)
{
	if (!a->slots)
		a->slots = xcalloc(SLOTS, sizeof *a->slots);
	struct dmarcrpt_entry key;
	entry_fill(&key, r);
	/* Linear probing in a table twice the cap: never full, probes stay short. */
	for (size_t i = (size_t)(entry_hash(&key) % SLOTS);; i = (i + 1) % SLOTS) {
		struct dmarcrpt_entry *e = &a->slots[i];
		if (e->used && entry_same(e, &key)) {
			e->count++;
			memcpy(e->published, key.published, sizeof e->published);
			memcpy(e->rua, key.rua, sizeof e->rua);
			return true;
		}
		if (!e->used) {
			if (a->n >= DMARCRPT_AGG_MAX) {
				a->dropped++;
				return false;
			}
			*e = key;
			e->used = true;
			e->count = 1;
			a->n++;
			return true;
		}
	}
}

struct store_dmarcrpt_row *dmarcrpt_agg_rows(const struct dmarcrpt_agg *a, size_t *n)
{
	*n = 0;
	if (!a->slots || a->n == 0)
		return NULL;
	struct store_dmarcrpt_row *rows = xcalloc(a->n, sizeof *rows);
	for (size_t i = 0; i < SLOTS; i++) {
		const struct dmarcrpt_entry *e = &a->slots[i];
		if (!e->used)
			continue;
		rows[(*n)++] = (struct store_dmarcrpt_row){
			.day = e->day, .domain = e->domain, .source_ip = e->source_ip, .header_from = e->header_from,
			.envelope_from = e->envelope_from, .disposition = e->disposition, .eval_dkim = e->eval_dkim,
			.eval_spf = e->eval_spf, .dkim_domain = e->dkim_domain, .dkim_result = e->dkim_result,
			.spf_result = e->spf_result, .published = e->published, .rua = e->rua, .count = e->count,
		};
	}
	return rows;
}

