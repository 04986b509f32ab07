/*
 * iplimit.c — per-IP connection counting; see iplimit.h.
 *
 * A chained hash table under one mutex: taken once per accept and once per
 * close, never while doing I/O.  Entries disappear when their count drops
 * to zero, so memory is bounded by the number of open connections.
 */
#include "net/iplimit.h"
#include "lib/xalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct entry {
	struct entry *next;
	unsigned count;
	char ip[64];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];

static unsigned bucket_of(const char *ip)
{
	uint32_t h = 2166136261u;
	for (; *ip; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % BUCKETS;
}

bool iplimit_acquire(const char *ip, unsigned max)
{
	unsigned b = bucket_of(ip);
	bool ok = true;
	pthread_mutex_lock(&lock);
	struct entry *e = table[b];
	while (e && strcmp(e->ip, ip) != 0)
		e = e->next;
	if (!e) {
		e = xcalloc(1, sizeof *e);
		strncpy(e->ip, ip, sizeof e->ip - 1);
		e->next = table[b];
		table[b] = e;
	}
	if (max && e->count >= max)
		ok = false;
	else
		e->count++;
	if (e->count == 0) {   /* just created and refused */
		table[b] = e->next;
		free(e);
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

void iplimit_release(const char *ip)
{
	unsigned b = bucket_of(ip);
	pthread_mutex_lock(&lock);
	struct entry **pp = &table[b];
	while (*pp && strcmp((*pp)->ip, ip) != 0)
		pp = &(*pp)->next;
	if (*pp && --(*pp)->count == 0) {
		struct entry *e = *pp;
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&lock);
}
