/*
 * listener.h — the listening sockets of [listen].
 *
 * Sockets are bound in the main thread before privileges are dropped;
 * then every loop accepts on every socket (the kernel hands each new
 * connection to whichever loop gets to it first), so load spreads across
 * loop threads without a dispatcher.
 */
#ifndef TERN_NET_LISTENER_H
#define TERN_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "net/conn.h"

struct loop;
struct listeners;

/* Bind every address of cfg->listen for the roles in role_mask (bit 1 << role).  NULL (logged) if any fails. */
struct listeners *listeners_bind(const struct config *cfg, unsigned role_mask);
/* Start accepting on all loops; handlers[role] serves that role (NULL: role not served). */
void listeners_start(struct listeners *ls, struct loop **loops, size_t nloops,
		     const struct conn_handler *const handlers[ROLE_COUNT]);
/* Stop accepting (waits until every loop has let go of the sockets), close the sockets. */
void listeners_stop(struct listeners *ls);
size_t listeners_count(const struct listeners *ls);

#endif
