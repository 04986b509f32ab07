/*
 * dkim_keys.c — signing keys in DATA_DIR/dkim/ (see dkim_keys.h) and the
 * cache `serve` keeps of them: per domain, the key of the active
 * selector, checked against the `active` file's inode, size and mtime on
 * each use, so `tern dkim activate` takes effect with the next message
 * and without a reload.
 */
#include "mailauth/dkim_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define KEYSTORE_MAX 1024           /* cached domains; more and the cache starts over */
#define KEY_FILE_MAX (64 * 1024)

static bool labels_ok(const char *s, size_t max, bool underscore)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (underscore && c == '_') ||
			   (underscore && c >= 'A' && c <= 'Z')) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

bool dkim_keys_domain_ok(const char *domain)
{
	return labels_ok(domain, 253, false);
}

bool dkim_keys_selector_ok(const char *sel)
{
	return labels_ok(sel, DKIM_SELECTOR_MAX, true);
}

EVP_PKEY *dkim_keys_load(const char *path, const char **why)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		*why = "cannot open the key file";
		return NULL;
	}
	struct stat st;
	EVP_PKEY *k = NULL;
	if (fstat(fileno(f), &st) != 0 || st.st_size > KEY_FILE_MAX) {
		*why = "key file too big";
	} else if (!(k = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		*why = "not a PEM private key";
	}
	fclose(f);
	if (!k)
		return NULL;
	int type = EVP_PKEY_get_base_id(k), bits = EVP_PKEY_get_bits(k);
	if (type == EVP_PKEY_ED25519 || (type == EVP_PKEY_RSA && bits >= 1024 && bits <= 8192))
		return k;
	*why = type == EVP_PKEY_RSA ? "RSA key not of 1024..8192 bits" : "neither an RSA nor an Ed25519 key";
	EVP_PKEY_free(k);
	return NULL;
}

bool dkim_keys_read_active(const char *domain_dir, char sel[DKIM_SELECTOR_MAX + 1])
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/active", domain_dir) >= (int)sizeof path)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[DKIM_SELECTOR_MAX + 4];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n \t")] = '\0';
	if (!dkim_keys_selector_ok(buf))
		return false;
	memcpy(sel, buf, strlen(buf) + 1);
	return true;
}

struct keystore_entry {
	char domain[254];
	char sel[DKIM_SELECTOR_MAX + 1];
	EVP_PKEY *key;              /* NULL: unusable for this version of `active` */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct dkim_keystore {
	char *dir;                  /* DATA_DIR/dkim */
	pthread_mutex_t lock;
	struct keystore_entry *e;
	size_t n;
};

struct dkim_keystore *dkim_keystore_new(const char *data_dir)
{
	struct dkim_keystore *ks = xcalloc(1, sizeof *ks);
	size_t n = strlen(data_dir) + 6;
	ks->dir = xmalloc(n);
	snprintf(ks->dir, n, "%s/dkim", data_dir);
	pthread_mutex_init(&ks->lock, NULL);
	return ks;
}

static void clear(struct dkim_keystore *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->e[i].key);
	free(ks->e);
	ks->e = NULL;
	ks->n = 0;
}

void dkim_keystore_free(struct dkim_keystore **pks)
{
	struct dkim_keystore *ks = *pks;
	if (!ks)
		return;
	clear(ks);
	pthread_mutex_destroy(&ks->lock);
	free(ks->dir);
	free(ks);
	*pks = NULL;
}

/* (Re)load e from disk for the `active` described by st. */
static void load(struct dkim_keystore *ks, struct keystore_entry *e, const char *ddir, const struct stat *st)
{
	EVP_PKEY_free(e->key);
	e->key = NULL;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->sel[0] = '\0';
	if (!dkim_keys_read_active(ddir, e->sel)) {
		log_warn("dkim", "msg=\"no valid selector in active file, not signing\" domain=%s", e->domain);
		return;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.key", ddir, e->sel);
	const char *why = "";
	e->key = dkim_keys_load(path, &why);
	if (!e->key)
		log_warn("dkim", "msg=\"cannot load the active key, not signing\" domain=%s selector=%s path=%s error=%s",
			 e->domain, e->sel, lq(path), lq(why));
	else
		log_info("dkim", "msg=\"key loaded\" domain=%s selector=%s", e->domain, e->sel);
}

bool dkim_keystore_get(struct dkim_keystore *ks, const char *domain, EVP_PKEY **key,
		       char sel[DKIM_SELECTOR_MAX + 1])
{
	if (!dkim_keys_domain_ok(domain))
		return false;
	char ddir[4096], active[4200];
	snprintf(ddir, sizeof ddir, "%s/%s", ks->dir, domain);
	snprintf(active, sizeof active, "%s/active", ddir);
	struct stat st;
	bool have = stat(active, &st) == 0 && S_ISREG(st.st_mode);
	pthread_mutex_lock(&ks->lock);
	struct keystore_entry *e = NULL;
	for (size_t i = 0; i < ks->n && !e; i++)
		if (strcmp(ks->e[i].domain, domain) == 0)
			e = &ks->e[i];
	bool ok = false;
	if (have) {
		if (!e) {
			if (ks->n == KEYSTORE_MAX)
				clear(ks);
			ks->e = xrealloc(ks->e, (ks->n + 1) * sizeof *ks->e);
			e = &ks->e[ks->n++];
			memset(e, 0, sizeof *e);
			snprintf(e->domain, sizeof e->domain, "%s", domain);
			load(ks, e, ddir, &st);
		} else if (e->dev != st.st_dev || e->ino != st.st_ino || e->size != st.st_size ||
			   e->mtime.tv_sec != st.st_mtim.tv_sec || e->mtime.tv_nsec != st.st_mtim.tv_nsec) {
			load(ks, e, ddir, &st);
		}
		if (e->key) {
			EVP_PKEY_up_ref(e->key);
			*key = e->key;
			memcpy(sel, e->sel, sizeof e->sel);
			ok = true;
		}
	} else if (e) {
		/* `active` was removed: the domain stops signing. */
		EVP_PKEY_free(e->key);
		*e = ks->e[--ks->n];
	}
	pthread_mutex_unlock(&ks->lock);
	return ok;
}
