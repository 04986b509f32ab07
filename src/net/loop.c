/*
 * loop.c — event-loop threads and cross-thread posting; see loop.h.
 *
 * A post is a small task appended under a mutex to the loop's list; an
 * internal event made active with event_active() wakes the loop, which
 * runs all tasks in order.  libevent's pthread support makes
 * event_active() safe from other threads.
 */
#include "net/loop.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct task {
	struct task *next;
	void (*fn)(void *arg);
	void *arg;
};

struct loop {
	unsigned index;
	struct event_base *base;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	struct task *head, *tail;
	struct event *wake;
	struct task *at_exit;           /* only ever touched by the loop's own thread */
};

static __thread struct loop *current;

void loop_global_init(void)
{
	if (evthread_use_pthreads() != 0) {
		log_error("net", "msg=\"libevent has no pthread support\"");
		abort();
	}
}

static void run_tasks(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	pthread_mutex_lock(&l->lock);
	struct task *t = l->head;
	l->head = l->tail = NULL;
	pthread_mutex_unlock(&l->lock);
	while (t) {
		struct task *next = t->next;
		t->fn(t->arg);
		free(t);
		t = next;
	}
}

struct loop **loops_create(size_t n)
{
	struct loop **loops = xcalloc(n, sizeof *loops);
	for (size_t i = 0; i < n; i++) {
		struct loop *l = xcalloc(1, sizeof *l);
		l->index = (unsigned)i;
		l->base = event_base_new();
		if (!l->base) {
			log_error("net", "msg=\"cannot create event base\"");
			abort();
		}
		pthread_mutex_init(&l->lock, NULL);
		l->wake = event_new(l->base, -1, 0, run_tasks, l);
		loops[i] = l;
	}
	return loops;
}

static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	current = l;
	event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
	run_tasks(-1, 0, l);  /* tasks posted during shutdown still run */
	while (l->at_exit) {
		struct task *t = l->at_exit;
		l->at_exit = t->next;
		t->fn(t->arg);
		free(t);
	}
	return NULL;
}

void loops_run(struct loop **loops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&loops[i]->thread, NULL, loop_thread, loops[i]) != 0) {
			log_error("net", "msg=\"cannot start loop thread\"");
			abort();
		}
		loops[i]->running = true;
	}
}

static void break_loop(void *arg)
{
	struct loop *l = arg;
	event_base_loopbreak(l->base);
}

void loops_stop(struct loop **loops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (loops[i]->running)
			loop_post(loops[i], break_loop, loops[i]);
	for (size_t i = 0; i < n; i++) {
		struct loop *l = loops[i];
		if (l->running)
			pthread_join(l->thread, NULL);
		event_free(l->wake);
		event_base_free(l->base);
		pthread_mutex_destroy(&l->lock);
		free(l);
	}
	free(loops);
}

struct event_base *loop_base(struct loop *l)
{
	return l->base;
}

unsigned loop_index(const struct loop *l)
{
	return l->index;
}

struct loop *loop_current(void)
{
	return current;
}

void loop_at_exit(void (*fn)(void *arg), void *arg)
{
	struct loop *l = current;
	if (!l)
		return;
	struct task *t = xmalloc(sizeof *t);
	t->fn = fn;
	t->arg = arg;
	t->next = l->at_exit;
	l->at_exit = t;
}

void loop_post(struct loop *l, void (*fn)(void *arg), void *arg)
{
	struct task *t = xmalloc(sizeof *t);
	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&l->lock);
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	pthread_mutex_unlock(&l->lock);
	event_active(l->wake, EV_READ, 0);
}
