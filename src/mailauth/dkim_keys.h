/*
 * dkim_keys.h — the signing keys in the data directory, for `serve` (a
 * cache of each domain's active key) and `tern dkim` (the file layout).
 *
 *   DATA_DIR/dkim/DOMAIN/SELECTOR.key   PEM private key (RSA or Ed25519), mode 0600
 *   DATA_DIR/dkim/DOMAIN/active         the selector that signs, one line
 *
 * A key file is written once and never changed; rotating is a new
 * selector and a new `active` (written to a temporary file and renamed),
 * so the cache only has to notice that `active` is another file or was
 * touched.  Old keys stay until the operator removes them, so they can
 * stay published while mail signed with them is still around.
 */
#ifndef TERN_MAILAUTH_DKIM_KEYS_H
#define TERN_MAILAUTH_DKIM_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#define DKIM_SELECTOR_MAX 63

/* A domain name (lower-case LDH labels) that is safe as a directory name. */
bool dkim_keys_domain_ok(const char *domain);
/* A selector (LDH labels, '_' allowed, at most 63 octets) that is safe as a file name. */
bool dkim_keys_selector_ok(const char *sel);

/* Read a PEM private key, RSA of 1024..8192 bits or Ed25519; NULL (with *why) otherwise. */
EVP_PKEY *dkim_keys_load(const char *path, const char **why);
/* The selector in DIR/active; false when there is none or it is not a valid selector. */
bool dkim_keys_read_active(const char *domain_dir, char sel[DKIM_SELECTOR_MAX + 1]);

struct dkim_keystore;

struct dkim_keystore *dkim_keystore_new(const char *data_dir);
void dkim_keystore_free(struct dkim_keystore **ks);

/*
 * The active key of domain: *key is a new reference (EVP_PKEY_free it),
 * sel the selector.  false when the domain has no active key or it is
 * unusable (logged once per change of `active`).  One stat() per call;
 * the key file is read only when `active` changed.  Thread-safe.
 */
bool dkim_keystore_get(struct dkim_keystore *ks, const char *domain, EVP_PKEY **key,
		       char sel[DKIM_SELECTOR_MAX + 1]);

#endif
