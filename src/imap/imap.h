/*
 * imap.h — the IMAP server (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1) on
 * the roles imap (143, STARTTLS) and imaps (993, implicit TLS).
 *
 * Like the SMTP server it owns one store handle per loop thread, and shares
 * the process's store writer (APPEND) and auth pool (password checks).
 */
#ifndef TERN_IMAP_IMAP_H
#define TERN_IMAP_IMAP_H

#include <stddef.h>

#include "lib/config.h"
#include "net/conn.h"

struct store_writer;
struct auth_pool;
struct imap_server;

/* NULL on failure (logged).  cfg must outlive the server. */
struct imap_server *imap_server_new(const struct config *cfg, struct store_writer *writer,
				    struct auth_pool *auth, size_t nloops);
/* The handler for ROLE_IMAP or ROLE_IMAPS; NULL for other roles. */
const struct conn_handler *imap_handler(struct imap_server *srv, enum listen_role role);
void imap_server_free(struct imap_server **srv);

#endif
