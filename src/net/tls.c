/* tls.c — see tls.h. */
#include "net/tls.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *current;
static char *cert_path, *key_path;

static const char tls12_ciphers[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

static void log_ssl_error(const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char msg[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, msg, sizeof msg);
	ERR_clear_error();
	log_error("tls", "msg=%s file=%s error=%s", lq(what), lq(path), lq(msg));
}

static SSL_CTX *build_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		log_ssl_error("cannot create TLS context", "-");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_cipher_list(ctx, tls12_ciphers);
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		log_ssl_error("cannot load certificate", cert_path);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		log_ssl_error("cannot load key", key_path);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_error("key does not match certificate", key_path);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

bool tls_init(const char *cert, const char *key)
{
	free(cert_path);
	free(key_path);
	cert_path = xstrdup(cert);
	key_path = xstrdup(key);
	SSL_CTX *ctx = build_ctx();
	if (!ctx)
		return false;
	pthread_mutex_lock(&lock);
	SSL_CTX *old = current;
	current = ctx;
	pthread_mutex_unlock(&lock);
	SSL_CTX_free(old);
	return true;
}

bool tls_reload(void)
{
	if (!cert_path)
		return false;
	SSL_CTX *ctx = build_ctx();
	if (!ctx) {
		log_warn("tls", "msg=\"reload failed, keeping the previous certificate\"");
		return false;
	}
	pthread_mutex_lock(&lock);
	SSL_CTX *old = current;
	current = ctx;
	pthread_mutex_unlock(&lock);
	SSL_CTX_free(old);
	log_info("tls", "msg=\"certificate reloaded\" cert=%s", lq(cert_path));
	return true;
}

bool tls_available(void)
{
	pthread_mutex_lock(&lock);
	bool ok = current != NULL;
	pthread_mutex_unlock(&lock);
	return ok;
}

SSL *tls_new_ssl(void)
{
	pthread_mutex_lock(&lock);
	SSL *ssl = current ? SSL_new(current) : NULL;
	pthread_mutex_unlock(&lock);
	return ssl;
}

void tls_shutdown(void)
{
	pthread_mutex_lock(&lock);
	SSL_CTX_free(current);
	current = NULL;
	pthread_mutex_unlock(&lock);
	XFREE(&cert_path);
	XFREE(&key_path);
}
