/*
 * loop.h — event-loop threads.
 *
 * tern runs a few libevent loops, each on its own thread, each owning the
 * connections it accepted.  Work finished elsewhere (a delivery committed
 * on the store writer thread, a password checked on an auth worker) comes
 * back to the connection's loop through loop_post(), so session state is
 * only ever touched by one thread.
 */
#ifndef TERN_NET_LOOP_H
#define TERN_NET_LOOP_H

#include <stddef.h>

struct event_base;
struct loop;

/* Call once, before any loop or bufferevent exists (enables libevent locking). */
void loop_global_init(void);

/* Create n loops (not yet running). */
struct loop **loops_create(size_t n);
/* Start each loop's thread. */
void loops_run(struct loop **loops, size_t n);
/* Ask every loop to exit once its work is done, then join and free them. */
void loops_stop(struct loop **loops, size_t n);

struct event_base *loop_base(struct loop *l);
unsigned loop_index(const struct loop *l);

/* Run fn(arg) on l's thread, soon.  Safe from any thread. */
void loop_post(struct loop *l, void (*fn)(void *arg), void *arg);

/* The loop whose thread is calling, or NULL on other threads. */
struct loop *loop_current(void);

/*
 * On a loop's thread: run fn(arg) there once the loop has stopped, before
 * its event base goes (what lives on the base, a resolver, is freed in
 * time).  Latest registered runs first.
 */
void loop_at_exit(void (*fn)(void *arg), void *arg);

#endif
