/*
 * dkim.c — `tern dkim`: DKIM signing keys and a verifier.
 *
 *   tern dkim keygen DOMAIN [--ed25519] [--selector SEL] [--bits N]
 *       a new key (RSA 2048 by default, 1024..4096 with --bits) as
 *       DATA_DIR/dkim/DOMAIN/SEL.key (0600), made the domain's active
 *       selector; prints the TXT record to publish.  SEL defaults to
 *       "tern" + YYYYMM (UTC), so a monthly or yearly rotation needs no
 *       naming scheme.
 *   tern dkim list                       DOMAIN SELECTOR ALGORITHM active|-
 *   tern dkim activate DOMAIN SELECTOR   sign with another existing key
 *   tern dkim record DOMAIN [SELECTOR]   the TXT record of a key (default: active)
 *   tern dkim verify FILE|-              verify a message's signatures with DNS
 *                                        ([dns] nameservers); one A-R line each
 *
 * Files are created by the user the command runs as, which is the
 * configured `user` when started as root (main.c drops privileges first),
 * so `serve` can read them.  `active` is replaced atomically (temporary
 * file, fsync, rename); `serve` picks the change up with the next message.
 * Old keys are kept: their records must stay published until mail signed
 * with them has been delivered and checked (a few days).
 */
#include "cli/cli_int.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_keys.h"
#include "mailauth/mailauth_dns.h"

#define VERIFY_MAX (64 * 1024 * 1024)

static void dkim_dir(struct cli *c, const char *domain, char *out, size_t size)
{
	if (domain)
		snprintf(out, size, "%s/dkim/%s", c->cfg->data_dir, domain);
	else
		snprintf(out, size, "%s/dkim", c->cfg->data_dir);
}

/* The domain as typed, as A-labels, if it is a local domain. */
static char *local_domain(struct cli *c, const char *in, int *rc)
{
	char *d = cli_domain(in);
	if (!d || !dkim_keys_domain_ok(d)) {
		*rc = cli_fail(c, CLI_USER_ERROR, "invalid domain '%.255s'", in);
		free(d);
		return NULL;
	}
	struct store *s = cli_store(c);
	if (!s) {
		*rc = CLI_INTERNAL;
		free(d);
		return NULL;
	}
	if (!store_domain_is_local(s, d)) {
		*rc = cli_fail(c, CLI_USER_ERROR, "%s is not a local domain (tern domain add)", d);
		free(d);
		return NULL;
	}
	return d;
}

static bool sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

/* Write the selector into DIR/active: temporary file, fsync, rename. */
static bool write_active(const char *dir, const char *sel)
{
	char tmp[4200], path[4200];
	snprintf(tmp, sizeof tmp, "%s/.active.%ld", dir, (long)getpid());
	snprintf(path, sizeof path, "%s/active", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	char line[DKIM_SELECTOR_MAX + 2];
	int n = snprintf(line, sizeof line, "%s\n", sel);
	bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return false;
	}
	return sync_dir(dir);
}

/* The record text "v=DKIM1; k=...; p=..." for key. */
static bool record_text(EVP_PKEY *k, struct buf *out)
{
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		unsigned char raw[32];
		size_t len = sizeof raw;
		if (EVP_PKEY_get_raw_public_key(k, raw, &len) != 1)
			return false;
		buf_puts(out, "v=DKIM1; k=ed25519; p=");
		base64_encode(out, raw, len);
		return true;
	}
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	if (n <= 0)
		return false;
	buf_puts(out, "v=DKIM1; k=rsa; p=");
	base64_encode(out, der, (size_t)n);
	OPENSSL_free(der);
	return true;
}

/* SEL._domainkey.DOMAIN. IN TXT "..." "...", in character-strings of at most 255 octets. */
static int print_record(struct cli *c, EVP_PKEY *k, const char *domain, const char *sel)
{
	struct buf r = BUF_INIT;
	if (!record_text(k, &r)) {
		buf_free(&r);
		return cli_fail(c, CLI_INTERNAL, "cannot encode the public key");
	}
	printf("%s._domainkey.%s. IN TXT", sel, domain);
	for (size_t o = 0; o < r.len; o += 255)
		printf(" \"%.*s\"", (int)(r.len - o < 255 ? r.len - o : 255), r.data + o);
	putchar('\n');
	buf_free(&r);
	return CLI_OK;
}

static const char keygen_usage[] = "DOMAIN [--ed25519] [--selector SEL] [--bits N]";

static int dkim_keygen(struct cli *c, int argc, char **argv)
{
	const char *domain_in = NULL, *sel_in = NULL;
	bool ed = false;
	int64_t bits = 2048;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ed25519") == 0) {
			ed = true;
		} else if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc) {
			sel_in = argv[++i];
		} else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
			if (!cli_parse_id(argv[++i], 1024, 4096, &bits))
				return cli_fail(c, CLI_USER_ERROR, "--bits takes 1024..4096");
		} else if (argv[i][0] != '-' && !domain_in) {
			domain_in = argv[i];
		} else {
			return cli_usage(c, keygen_usage);
		}
	}
	if (!domain_in)
		return cli_usage(c, keygen_usage);
	char sel[DKIM_SELECTOR_MAX + 1];
	if (sel_in) {
		if (!dkim_keys_selector_ok(sel_in))
			return cli_fail(c, CLI_USER_ERROR, "invalid selector '%.64s' (letters, digits, '-', '_', '.')", sel_in);
		snprintf(sel, sizeof sel, "%s", sel_in);
	} else {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		snprintf(sel, sizeof sel, "tern%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
	}
	int rc = CLI_OK;
	char *domain = local_domain(c, domain_in, &rc);
	if (!domain)
		return rc;

	char dir[4096], path[4200], tmp[4200];
	dkim_dir(c, NULL, dir, sizeof dir);
	mkdir(dir, 0700);
	dkim_dir(c, domain, dir, sizeof dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof path, "%s/%s.key", dir, sel);
	snprintf(tmp, sizeof tmp, "%s/.%s.key.%ld", dir, sel, (long)getpid());
	if (access(path, F_OK) == 0) {
		rc = cli_fail(c, CLI_USER_ERROR, "selector %s of %s exists already; pick another with --selector", sel, domain);
		goto out;
	}
	EVP_PKEY *k = ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (!k) {
		rc = cli_fail(c, CLI_INTERNAL, "key generation failed");
		goto out;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1 && fflush(f) == 0 &&
		  fsync(fileno(f)) == 0;
	if (f)
		ok = fclose(f) == 0 && ok;
	else if (fd >= 0)
		close(fd);
	/* link(): never replaces a key someone made meanwhile under the same name. */
	if (!ok || link(tmp, path) != 0) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		EVP_PKEY_free(k);
		goto out;
	}
	unlink(tmp);
	if (!write_active(dir, sel)) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot write %s/active: %s", dir, strerror(errno));
		EVP_PKEY_free(k);
		goto out;
	}
	rc = print_record(c, k, domain, sel);
	EVP_PKEY_free(k);
out:
	free(domain);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of dir (without dot files), sorted; *n their number.  NULL-safe to free with free_names. */
static char **dir_names(const char *dir, size_t *n)
{
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	char **v = NULL;
	size_t cap = 0;
	for (struct dirent *e; (e = readdir(d)); ) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof *v, name_cmp);
	return v;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void key_description(const char *path, char *out, size_t size)
{
	const char *why;
	EVP_PKEY *k = dkim_keys_load(path, &why);
	if (!k)
		snprintf(out, size, "unusable");
	else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519)
		snprintf(out, size, "ed25519");
	else
		snprintf(out, size, "rsa-%d", EVP_PKEY_get_bits(k));
	EVP_PKEY_free(k);
}

static int dkim_list(struct cli *c, int argc)
{
	if (argc != 1)
		return cli_usage(c, "");
	char dir[4096];
	dkim_dir(c, NULL, dir, sizeof dir);
	size_t nd;
	char **domains = dir_names(dir, &nd);
	for (size_t i = 0; i < nd; i++) {
		char ddir[4200];
		snprintf(ddir, sizeof ddir, "%s/%s", dir, domains[i]);
		char active[DKIM_SELECTOR_MAX + 1] = "";
		if (!dkim_keys_read_active(ddir, active))
			active[0] = '\0';
		size_t nk;
		char **keys = dir_names(ddir, &nk);
		for (size_t k = 0; k < nk; k++) {
			size_t len = strlen(keys[k]);
			if (len < 5 || strcmp(keys[k] + len - 4, ".key") != 0)
				continue;
			keys[k][len - 4] = '\0';
			char path[4400], desc[32];
			snprintf(path, sizeof path, "%s/%s.key", ddir, keys[k]);
			key_description(path, desc, sizeof desc);
			printf("%s %s %s %s\n", domains[i], keys[k], desc, strcmp(active, keys[k]) == 0 ? "active" : "-");
		}
		free_names(keys, nk);
	}
	free_names(domains, nd);
	return CLI_OK;
}

/* The key DOMAIN/SEL (SEL NULL: the active one), after checking both names. */
static EVP_PKEY *open_key(struct cli *c, const char *domain, const char *sel_in, char sel[DKIM_SELECTOR_MAX + 1],
			  int *rc)
{
	char ddir[4096], path[4200];
	dkim_dir(c, domain, ddir, sizeof ddir);
	if (sel_in) {
		if (!dkim_keys_selector_ok(sel_in)) {
			*rc = cli_fail(c, CLI_USER_ERROR, "invalid selector '%.64s'", sel_in);
			return NULL;
		}
		snprintf(sel, DKIM_SELECTOR_MAX + 1, "%s", sel_in);
	} else if (!dkim_keys_read_active(ddir, sel)) {
		*rc = cli_fail(c, CLI_USER_ERROR, "%s has no active DKIM key (tern dkim keygen)", domain);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s.key", ddir, sel);
	if (access(path, F_OK) != 0) {
		*rc = cli_fail(c, CLI_USER_ERROR, "no key %s for %s", sel, domain);
		return NULL;
	}
	const char *why;
	EVP_PKEY *k = dkim_keys_load(path, &why);
	if (!k)
		*rc = cli_fail(c, CLI_INTERNAL, "%s: %s", path, why);
	return k;
}

static int dkim_activate_or_record(struct cli *c, int argc, char **argv, bool activate)
{
	if (activate ? argc != 3 : (argc != 2 && argc != 3))
		return cli_usage(c, activate ? "DOMAIN SELECTOR" : "DOMAIN [SELECTOR]");
	int rc = CLI_OK;
	char *domain = local_domain(c, argv[1], &rc);
	if (!domain)
		return rc;
	char sel[DKIM_SELECTOR_MAX + 1];
	EVP_PKEY *k = open_key(c, domain, argc == 3 ? argv[2] : NULL, sel, &rc);
	if (k && activate) {
		char ddir[4096];
		dkim_dir(c, domain, ddir, sizeof ddir);
		if (!write_active(ddir, sel))
			rc = cli_fail(c, CLI_INTERNAL, "cannot write %s/active: %s", ddir, strerror(errno));
		else
			printf("%s signs with %s now\n", domain, sel);
	} else if (k) {
		rc = print_record(c, k, domain, sel);
	}
	EVP_PKEY_free(k);
	free(domain);
	return rc;
}

/* ---- verify ----------------------------------------------------------------- */

struct verify_run {
	struct event_base *base;
	bool done;
};

static void print_verdicts(const struct dkim_verdict *v, size_t n)
{
	if (n == 0)
		puts("dkim=none");
	for (size_t i = 0; i < n; i++) {
		struct buf b = BUF_INIT;
		dkim_format_results(&v[i], 1, &b);
		puts(buf_cstr(&b));
		buf_free(&b);
	}
}

static void on_verified(void *arg, const struct dkim_verdict *v, size_t n)
{
	struct verify_run *r = arg;
	print_verdicts(v, n);
	r->done = true;
	event_base_loopbreak(r->base);
}

/* The file with every bare LF made CRLF (files on disk are often LF-only). */
static bool read_message(const char *name, struct buf *out)
{
	FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
	if (!f)
		return false;
	char chunk[65536];
	size_t n;
	char prev = 0;
	bool ok = true;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (chunk[i] == '\n' && prev != '\r')
				buf_putc(out, '\r');
			buf_putc(out, chunk[i]);
			prev = chunk[i];
		}
		if (out->len > VERIFY_MAX) {
			ok = false;
			break;
		}
	}
	if (ferror(f))
		ok = false;
	if (f != stdin)
		fclose(f);
	return ok;
}

static int dkim_verify_file(struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage(c, "FILE|-");
	struct buf msg = BUF_INIT;
	if (!read_message(argv[1], &msg)) {
		buf_free(&msg);
		return cli_fail(c, CLI_USER_ERROR, "cannot read %s (or over 64 MiB)", argv[1]);
	}
	int rc = CLI_OK;
	struct verify_run r = { .base = event_base_new() };
	struct dns_resolver *res = r.base ? dns_resolver_new(r.base, c->cfg->dns.nameservers, c->cfg->dns.trust_anchor)
					  : NULL;
	if (!res) {
		rc = cli_fail(c, CLI_INTERNAL, "cannot start the resolver (details in the log above)");
	} else {
		struct mailauth_dns dns = mailauth_dns_resolver(res);
		struct dkim_verify *v = dkim_verify_new(&dns, (int64_t)time(NULL));
		dkim_verify_feed(v, msg.data ? msg.data : "", msg.len);
		if (dkim_verify_finish(v, on_verified, &r)) {
			size_t n;
			const struct dkim_verdict *vd = dkim_verify_results(v, &n);
			print_verdicts(vd, n);
		} else {
			/* The resolver's deadline guarantees the callback. */
			event_base_dispatch(r.base);
			if (!r.done)
				rc = cli_fail(c, CLI_INTERNAL, "no answer from DNS");
		}
		dkim_verify_free(&v);
	}
	dns_resolver_free(&res);
	if (r.base)
		event_base_free(r.base);
	buf_free(&msg);
	return rc;
}

int cli_dkim_cmd(struct cli *c, int argc, char **argv)
{
	const char *sub = argv[0];
	if (strcmp(sub, "keygen") == 0)
		return dkim_keygen(c, argc, argv);
	if (strcmp(sub, "list") == 0)
		return dkim_list(c, argc);
	if (strcmp(sub, "activate") == 0)
		return dkim_activate_or_record(c, argc, argv, true);
	if (strcmp(sub, "record") == 0)
		return dkim_activate_or_record(c, argc, argv, false);
	if (strcmp(sub, "verify") == 0)
		return dkim_verify_file(c, argc, argv);
	return cli_unknown(c);
}
