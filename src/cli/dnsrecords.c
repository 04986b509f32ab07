/*
 * dnsrecords.c — `tern dns records DOMAIN`: the DNS records an operator
 * publishes for a local domain, in zone-file syntax, ready to paste.
 *
 * MX, SPF (the domain's and the HELO name's), DKIM (every key in
 * DATA_DIR/dkim/DOMAIN/, the active one first), DMARC, MTA-STS (the TXT
 * record and the policy file to serve), TLS-RPT, the RFC 6186 SRV records
 * mail clients look for to set themselves up, and a DANE TLSA record for
 * the MX host computed from the configured certificate.  What cannot be
 * derived from the configuration (the server's addresses, reverse DNS) is
 * said in comments.
 */
#include "cli/cli_int.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/config.h"
#include "mailauth/dkim_keys.h"

/* A TXT record's value as quoted strings of at most 255 octets each (RFC 1035 §3.3.14). */
static void print_txt(const char *name, const char *value)
{
	printf("%s.\tIN TXT\t", name);
	size_t n = strlen(value);
	for (size_t off = 0; off < n || off == 0; off += 255) {
		size_t take = n - off < 255 ? n - off : 255;
		printf("%s\"%.*s\"", off ? " " : "", (int)take, value + off);
		if (n == 0)
			break;
	}
	printf("\n");
}

/* base64 of the public half of key, as DKIM's p= wants (SubjectPublicKeyInfo for RSA, raw for Ed25519). */
static char *dkim_public_b64(EVP_PKEY *key, const char **k)
{
	unsigned char *der = NULL;
	int len;
	unsigned char raw[64];
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		size_t rl = sizeof raw;
		if (EVP_PKEY_get_raw_public_key(key, raw, &rl) != 1)
			return NULL;
		*k = "ed25519";
		der = raw;
		len = (int)rl;
	} else {
		*k = "rsa";
		len = i2d_PUBKEY(key, &der);
		if (len <= 0)
			return NULL;
	}
	char *out = malloc((size_t)(4 * ((len + 2) / 3)) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, der, len);
	if (der != raw)
		OPENSSL_free(der);
	return out;
}

static void print_dkim_key(const char *domain, const char *dir, const char *sel, bool active)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.key", dir, sel);
	const char *why = NULL;
	EVP_PKEY *key = dkim_keys_load(path, &why);
	if (!key) {
		printf("; DKIM key %s: unusable (%s)\n", path, why ? why : "unreadable");
		return;
	}
	const char *k = "rsa";
	char *p = dkim_public_b64(key, &k);
	EVP_PKEY_free(key);
	if (!p)
		return;
	char name[512], value[2048];
	snprintf(name, sizeof name, "%s._domainkey.%s", sel, domain);
	snprintf(value, sizeof value, "v=DKIM1; k=%s; p=%s", k, p);
	printf("; DKIM, selector %s%s\n", sel, active ? " (active: signs outgoing mail)" : " (not active)");
	print_txt(name, value);
	free(p);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_dkim(const struct config *cfg, const char *domain)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/dkim/%s", cfg->data_dir, domain);
	char active[DKIM_SELECTOR_MAX + 1] = "";
	bool have_active = dkim_keys_read_active(dir, active);
	DIR *d = opendir(dir);
	char *sels[64];
	size_t n = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) && n < 64) {
			size_t len = strlen(e->d_name);
			if (len <= 4 || strcmp(e->d_name + len - 4, ".key") != 0)
				continue;
			char *sel = strndup(e->d_name, len - 4);
			if (sel && dkim_keys_selector_ok(sel) && !(have_active && strcmp(sel, active) == 0))
				sels[n++] = sel;
			else
				free(sel);
		}
		closedir(d);
	}
	if (!have_active && n == 0) {
		printf("; DKIM: no key yet; `tern dkim keygen %s` makes one and prints its record\n", domain);
		return;
	}
	if (have_active)
		print_dkim_key(domain, dir, active, true);
	qsort(sels, n, sizeof *sels, compare_names);
	for (size_t i = 0; i < n; i++) {
		print_dkim_key(domain, dir, sels[i], false);
		free(sels[i]);
	}
}

/* "3 1 1 <sha-256 of the certificate's public key>": DANE-EE, survives renewals that keep the key. */
static void print_tlsa(const struct config *cfg)
{
	if (!cfg->tls.cert) {
		printf("; DANE: no [tls] cert configured\n");
		return;
	}
	FILE *f = fopen(cfg->tls.cert, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	unsigned char *der = NULL;
	int len = x ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : -1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	bool ok = len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1;
	OPENSSL_free(der);
	X509_free(x);
	if (!ok) {
		printf("; DANE: cannot read the certificate %s\n", cfg->tls.cert);
		return;
	}
	printf("; DANE (RFC 7672): only in a DNSSEC-signed zone; keep the key when the certificate is renewed\n");
	printf("_25._tcp.%s.\tIN TLSA\t3 1 1 ", cfg->hostname);
	for (unsigned i = 0; i < mdlen; i++)
		printf("%02x", md[i]);
	printf("\n");
}

int cli_dns_records(struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage(c, "DOMAIN");
	char *domain = cli_domain(argv[1]);
	if (!domain)
		return cli_fail(c, CLI_USER_ERROR, "not a valid domain name: '%.255s'", argv[1]);
	struct store *s = cli_store(c);
	if (!s) {
		free(domain);
		return CLI_INTERNAL;
	}
	if (!store_domain_is_local(s, domain)) {
		int rc = cli_fail(c, CLI_USER_ERROR, "%s is not a local domain (tern domain add %s)", domain, domain);
		free(domain);
		return rc;
	}
	const struct config *cfg = c->cfg;
	const char *host = cfg->hostname;
	char name[512], value[1024];

	printf("; DNS records for %s, served by %s\n", domain, host);
	printf("; %s needs A/AAAA records for this server's addresses, and their reverse DNS (PTR) must name %s\n",
	       host, host);
	printf("%s.\tIN MX\t10 %s.\n", domain, host);

	printf("; SPF (RFC 7208): only the MX hosts send for %s; and for the HELO name\n", domain);
	print_txt(domain, "v=spf1 mx -all");
	print_txt(host, "v=spf1 a -all");

	print_dkim(cfg, domain);

	printf("; DMARC (RFC 7489): p=reject asks receivers to refuse mail from %s that neither SPF nor DKIM\n"
	       ";   vouches for; p=none only collects the reports, if some of your mail goes out elsewhere\n", domain);
	snprintf(name, sizeof name, "_dmarc.%s", domain);
	snprintf(value, sizeof value, "v=DMARC1; p=reject; rua=mailto:postmaster@%s", domain);
	print_txt(name, value);

	char id[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(id, sizeof id, "%Y%m%d%H%M%S", &tm);
	printf("; MTA-STS (RFC 8461): change id whenever the policy changes; serve the policy below at\n");
	printf(";   https://mta-sts.%s/.well-known/mta-sts.txt (a certificate valid for that name):\n", domain);
	printf(";   version: STSv1\n;   mode: enforce\n;   mx: %s\n;   max_age: 604800\n", host);
	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	snprintf(value, sizeof value, "v=STSv1; id=%s", id);
	print_txt(name, value);
	printf("mta-sts.%s.\tIN CNAME\t%s.\n", domain, host);

	printf("; TLS-RPT (RFC 8460): where senders report TLS failures\n");
	snprintf(name, sizeof name, "_smtp._tls.%s", domain);
	snprintf(value, sizeof value, "v=TLSRPTv1; rua=mailto:postmaster@%s", domain);
	print_txt(name, value);

	print_tlsa(cfg);

	printf("; Mail client set-up (RFC 6186, RFC 8314): \".\" says the plain-text service is not offered\n");
	printf("_submissions._tcp.%s.\tIN SRV\t0 1 465 %s.\n", domain, host);
	printf("_submission._tcp.%s.\tIN SRV\t0 1 587 %s.\n", domain, host);
	printf("_imaps._tcp.%s.\tIN SRV\t0 1 993 %s.\n", domain, host);
	printf("_imap._tcp.%s.\tIN SRV\t0 0 0 .\n", domain);
	printf("_pop3s._tcp.%s.\tIN SRV\t0 1 995 %s.\n", domain, host);
	printf("_pop3._tcp.%s.\tIN SRV\t0 0 0 .\n", domain);
	free(domain);
	return 0;
}
