/*
 * tls.h — the server's TLS context (OpenSSL 3).
 *
 * TLS 1.2 and 1.3 only, forward-secret AEAD ciphers (Mozilla "intermediate"),
 * no renegotiation, no compression, buffers released while idle.  The
 * context can be rebuilt from the same files on SIGHUP; connections already
 * up keep the context they started with (OpenSSL reference counts it).
 */
#ifndef TERN_NET_TLS_H
#define TERN_NET_TLS_H

#include <stdbool.h>
#include <openssl/ssl.h>

/* Load cert (chain) and key; false with a logged reason. */
bool tls_init(const char *cert, const char *key);
/* Reload the same files; on failure the old context stays.  Thread-safe. */
bool tls_reload(void);
bool tls_available(void);
/* A new server-side SSL from the current context, or NULL. */
SSL *tls_new_ssl(void);
void tls_shutdown(void);

#endif
