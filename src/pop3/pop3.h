/*
 * pop3.h — the POP3 server (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
 * RFC 5034 AUTH) in its two roles: pop3 (110, STLS) and pop3s (995,
 * implicit TLS).  The maildrop is the account's INBOX in the store, as
 * IMAP sees it.
 *
 * The server object owns one store handle per loop thread and shares the
 * process's auth pool (password checks).
 */
#ifndef TERN_POP3_POP3_H
#define TERN_POP3_POP3_H

#include <stddef.h>

#include "lib/config.h"
#include "net/conn.h"

struct store_writer;
struct auth_pool;
struct pop3_server;

/* NULL on failure (logged).  cfg must outlive the server.  writer is not used (yet). */
struct pop3_server *pop3_server_new(const struct config *cfg, struct store_writer *writer,
				    struct auth_pool *auth, size_t nloops);
/* The handler for role (pop3 or pop3s); NULL for other roles. */
const struct conn_handler *pop3_handler(struct pop3_server *srv, enum listen_role role);
void pop3_server_free(struct pop3_server **srv);

#endif
