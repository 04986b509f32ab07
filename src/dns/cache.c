/*
 * cache.c — the answers a resolver got lately, kept on its own loop (see
 * dns_int.h).
 *
 * libunbound caches too, but reaching its cache costs a round trip to its
 * thread: the query is written into a pipe, its thread wakes, answers, and
 * writes back, about twenty system calls and two context switches.  The MX
 * port asks the same few names for every message from a sender (SPF,
 * DMARC, DKIM keys), so that trip was a third of the CPU a message cost.
 *
 * Only plain answers are kept: NOERROR (with data or without) and
 * NXDOMAIN, not bogus, with a TTL, and small.  An entry lives as long as
 * libunbound said its TTL still runs (capped), so nothing is answered
 * longer than libunbound itself would.  Direct-mapped: a name's slot is
 * its hash, a newer answer takes the slot, which bounds the memory to
 * slots x DNS_CACHE_ENTRY_MAX without any eviction bookkeeping.
 */
#include "dns/dns_int.h"

#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "lib/xalloc.h"

#define DNS_CACHE_TTL_MAX_S 3600
#define DNS_CACHE_ENTRY_MAX 4096        /* rdata octets of one answer */

struct dns_cache_entry {
	uint64_t expires_ms;
	enum dns_type type;
	int rcode;
	bool havedata, nxdomain, secure;
	size_t count;
	int *len;               /* count lengths, into this allocation */
	char **data;            /* count + 1 pointers (NULL-terminated, as ub_result has it) */
	char name[];            /* key: lower case, no trailing dot; the rdata follows it */
};

struct dns_cache {
	size_t mask;
	struct dns_cache_entry **slots;
};

struct dns_cache *dns_cache_new(size_t slots)
{
	size_t n = 1;
	while (n < slots && n < 65536)
		n <<= 1;
	struct dns_cache *c = xcalloc(1, sizeof *c);
	c->mask = n - 1;
	c->slots = xcalloc(n, sizeof *c->slots);
	return c;
}

void dns_cache_free(struct dns_cache **cp)
{
	struct dns_cache *c = *cp;
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		free(c->slots[i]);
	free(c->slots);
	free(c);
	*cp = NULL;
}

/* name as the key: lower case, one trailing dot off; false when too long. */
static bool key_of(const char *name, char key[DNS_NAME_TEXT_MAX])
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n >= DNS_NAME_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		key[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
	}
	key[n] = '\0';
	return true;
}

/* FNV-1a over the key and the type. */
static size_t slot_of(const struct dns_cache *c, const char *key, enum dns_type t)
{
	uint64_t h = 14695981039346656037u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211u;
	h = (h ^ (uint64_t)t) * 1099511628211u;
	return (size_t)(h ^ (h >> 32)) & c->mask;
}

void dns_cache_put(struct dns_cache *c, const char *name, enum dns_type t, const struct ub_result *u,
		   uint64_t now_ms)
{
	char key[DNS_NAME_TEXT_MAX];
	if (!c || !u || u->bogus || u->ttl <= 0 || !key_of(name, key))
		return;
	if (u->rcode != RCODE_NOERROR && u->rcode != RCODE_NXDOMAIN)
		return;
	size_t count = 0, octets = 0;
	if (u->data) {
		for (; u->data[count]; count++) {
			if (u->len[count] < 0)
				return;
			octets += (size_t)u->len[count];
			if (octets > DNS_CACHE_ENTRY_MAX || count >= 256)
				return;
		}
	}
	size_t klen = strlen(key) + 1;
	/* entry, key, padding to pointer alignment, data pointers, lengths, rdata */
	size_t head = sizeof(struct dns_cache_entry) + klen;
	head = (head + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	size_t total = head + (count + 1) * sizeof(char *) + count * sizeof(int) + octets;
	struct dns_cache_entry *e = xmalloc(total);
	memset(e, 0, sizeof *e);
	memcpy(e->name, key, klen);
	e->data = (char **)((char *)e + head);
	e->len = (int *)(e->data + count + 1);
	char *p = (char *)(e->len + count);
	for (size_t i = 0; i < count; i++) {
		e->len[i] = u->len[i];
		memcpy(p, u->data[i], (size_t)u->len[i]);
		e->data[i] = p;
		p += u->len[i];
	}
	e->data[count] = NULL;
	e->count = count;
	e->type = t;
	e->rcode = u->rcode;
	e->havedata = u->havedata != 0;
	e->nxdomain = u->nxdomain != 0;
	e->secure = u->secure != 0;
	uint64_t ttl = u->ttl > DNS_CACHE_TTL_MAX_S ? DNS_CACHE_TTL_MAX_S : (uint64_t)u->ttl;
	e->expires_ms = now_ms + ttl * 1000;
	size_t i = slot_of(c, key, t);
	free(c->slots[i]);
	c->slots[i] = e;
}

bool dns_cache_get(struct dns_cache *c, const char *name, enum dns_type t, uint64_t now_ms,
		   struct dns_result *out)
{
	char key[DNS_NAME_TEXT_MAX];
	if (!c || !key_of(name, key))
		return false;
	size_t i = slot_of(c, key, t);
	struct dns_cache_entry *e = c->slots[i];
	if (!e || e->type != t || strcmp(e->name, key) != 0)
		return false;
	if (now_ms >= e->expires_ms) {
		free(e);
		c->slots[i] = NULL;
		return false;
	}
	/* The same mapping as a fresh answer, so a cached one cannot differ. */
	struct ub_result u = {
		.qname = e->name,
		.qtype = (int)t,
		.data = e->data,
		.len = e->len,
		.rcode = e->rcode,
		.havedata = e->havedata,
		.nxdomain = e->nxdomain,
		.secure = e->secure,
	};
	dns_answer_build(&u, t, out);
	return true;
}
