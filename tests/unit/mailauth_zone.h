/*
 * mailauth_zone.h — the DNS of the mail authentication unit tests
 * (test_dkim.c, test_arc.c): an in-process table of TXT records behind
 * struct mailauth_dns, answering from a zero timer on a real event loop,
 * as the resolver does (never from inside lookup()).  A name not in the
 * table is NXDOMAIN; an entry without text answers its status.
 */
#ifndef TERN_TESTS_MAILAUTH_ZONE_H
#define TERN_TESTS_MAILAUTH_ZONE_H

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailauth/mailauth_dns.h"

#define MAX_ZONE 16

struct zone_entry {
	const char *name;
	const char *txt;            /* NULL: the answer is status */
	enum dns_status status;
};

struct zone {
	struct event_base *base;
	struct zone_entry e[MAX_ZONE];
	size_t n;
	unsigned lookups;
};

struct dns_query {
	struct zone *z;
	struct event *ev;
	char name[300];
	dns_cb cb;
	void *arg;
};

static void answer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_result r = { .type = DNS_TXT, .status = DNS_NXDOMAIN };
	struct dns_txt txt;
	for (size_t i = 0; i < q->z->n; i++) {
		if (strcasecmp(q->z->e[i].name, q->name) != 0)
			continue;
		if (q->z->e[i].txt) {
			txt.data = (char *)q->z->e[i].txt;
			txt.len = strlen(txt.data);
			r.status = DNS_OK;
			r.n = 1;
			r.txt = &txt;
		} else {
			r.status = q->z->e[i].status;
		}
	}
	dns_cb cb = q->cb;
	void *cbarg = q->arg;
	event_free(q->ev);
	free(q);
	cb(&r, cbarg);
}

static struct dns_query *zone_lookup(void *ctx, const char *name, enum dns_type type, dns_cb cb, void *arg)
{
	struct zone *z = ctx;
	struct dns_query *q = calloc(1, sizeof *q);
	q->z = z;
	snprintf(q->name, sizeof q->name, "%s", name);
	q->cb = cb;
	q->arg = arg;
	q->ev = evtimer_new(z->base, answer, q);
	struct timeval tv = { 0, 0 };
	evtimer_add(q->ev, &tv);
	z->lookups++;
	return q;
}

static void zone_cancel(void *ctx, struct dns_query *q)
{
	event_free(q->ev);
	free(q);
}

static void zone_add(struct zone *z, const char *name, const char *txt, enum dns_status st)
{
	z->e[z->n++] = (struct zone_entry){ name, txt, st };
}

#endif
