/*
 * password.h — password hashes.
 *
 * New hashes are argon2id (RFC 9106) in the PHC string format.  For
 * accounts imported from elsewhere, crypt(3) formats that libxcrypt knows
 * ($6$, $5$, $2b$/$2y$, $y$ ...) verify too.  Verification is slow on
 * purpose (tens of ms): never call it on an event-loop thread, use
 * auth_pool (authpool.h).
 */
#ifndef TERN_AUTH_PASSWORD_H
#define TERN_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* argon2id PHC string, malloc'd; NULL on failure (logged). */
char *password_hash(const char *password, size_t len);

/* Constant-time comparison inside; false for unknown formats. */
bool password_verify(const char *encoded, const char *password, size_t len);

/*
 * Costs what a real verification costs and always fails: used for unknown
 * accounts so that timing does not reveal whether an account exists.
 */
void password_verify_dummy(const char *password, size_t len);

#endif
