/*
 * smtp.h — the SMTP server (RFC 5321) in its three roles: smtp (MX, 25),
 * submission (587, STARTTLS) and submissions (465, implicit TLS).
 *
 * The server object owns one store handle per loop thread for recipient
 * lookups and shares the process's store writer (deliveries) and auth pool
 * (password checks).
 */
#ifndef TERN_SMTP_SMTP_H
#define TERN_SMTP_SMTP_H

#include <stddef.h>

#include "lib/config.h"
#include "net/conn.h"

struct store_writer;
struct auth_pool;
struct smtp_server;

/* NULL on failure (logged).  cfg must outlive the server. */
struct smtp_server *smtp_server_new(const struct config *cfg, struct store_writer *writer,
				    struct auth_pool *auth, size_t nloops);
/* The handler for role (smtp, submission or submissions); NULL for other roles. */
const struct conn_handler *smtp_handler(struct smtp_server *srv, enum listen_role role);
void smtp_server_free(struct smtp_server **srv);

#endif
