/*
 * dmarc.h — DMARC (RFC 7489): the policy record, organisational domains,
 * identifier alignment and the verdict on one message.
 *
 * The SMTP session runs SPF (at MAIL FROM) and DKIM (as DATA streams in)
 * first; at end of data it hands their outcomes here with the RFC5322.From
 * domain.  dmarc_check_start() looks up _dmarc.<From domain>, falling back
 * to _dmarc.<organisational domain> (libpsl), through struct mailauth_dns,
 * and calls back once with the verdict and the disposition the record
 * asks for (p / sp, sampled by pct).  Whether that disposition is carried
 * out (reject, Junk) is the session's configuration, not this file's.
 */
#ifndef TERN_MAILAUTH_DMARC_H
#define TERN_MAILAUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "mailauth/mailauth_dns.h"

struct event_base;

enum dmarc_policy {
	DMARC_POLICY_UNSET,         /* sp absent: p applies to subdomains too */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

#define DMARC_URIS_MAX 4        /* rua / ruf URIs kept; further ones are ignored */
#define DMARC_URI_MAX 256

struct dmarc_record {
	enum dmarc_policy p, sp;
	unsigned pct;               /* 0..100, default 100 */
	bool adkim_strict, aspf_strict;
	unsigned ri;                /* seconds between aggregate reports, default 86400 */
	char fo[16];                /* failure-report options, as given ("0" default) */
	char rua[DMARC_URIS_MAX][DMARC_URI_MAX];
	size_t nrua;
	char ruf[DMARC_URIS_MAX][DMARC_URI_MAX];
	size_t nruf;
};

enum dmarc_parse {
	DMARC_RECORD_OK,
	DMARC_RECORD_NOT_DMARC,     /* does not start with v=DMARC1: some other TXT record, ignored */
	DMARC_RECORD_INVALID,       /* a DMARC record without a usable p= (and no rua= to fall back on) */
};

/*
 * Parse one TXT record (len octets, need not be NUL-terminated).  Tags
 * other than v= may come in any order, unknown ones are ignored, bad
 * values of optional tags give their defaults (RFC 7489 §6.3); a missing
 * or bad p= with a valid rua= reads as p=none (§6.6.3).
 */
enum dmarc_parse dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec);

/*
 * The organisational domain of a (lower-case, no trailing dot) domain:
 * the public suffix plus one label, by the Public Suffix List that libpsl
 * loads (Debian's publicsuffix package, else libpsl's built-in copy).  A
 * domain that is itself a public suffix is its own.  False when out is too
 * small.
 */
bool dmarc_org_domain(const char *domain, char *out, size_t outsize);

enum dmarc_status {
	DMARC_NONE,                 /* no DMARC record for the From domain */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,            /* the record lookup failed for now: try again later (4xx), never a silent pass */
	DMARC_PERMERROR,            /* the From domain is not something DMARC can evaluate */
};

/* A DKIM signature that verified, by its d= domain. */
struct dmarc_dkim_pass {
	const char *domain;
};

struct dmarc_input {
	const char *from_domain;    /* RFC5322.From's domain; the caller refuses mail without exactly one */
	bool spf_pass;
	const char *spf_domain;     /* the identity SPF checked: MAIL FROM's domain, HELO's when MAIL FROM is <> */
	const struct dmarc_dkim_pass *dkim;
	size_t ndkim;
	int pct_roll;               /* 0..99 to decide pct sampling; -1: random */
};

struct dmarc_result {
	enum dmarc_status status;
	bool spf_aligned, dkim_aligned;
	enum dmarc_policy policy;       /* what the record asks for this domain (p, or sp for a subdomain) */
	enum dmarc_policy disposition;  /* what to do with this message: NONE on pass, policy or one step lower by pct */
	bool sampled_out;               /* pct made the disposition one step milder */
	const char *why;                /* for logs when temperror/permerror */
	char from_domain[256];
	char org_domain[256];
	char record_domain[256];        /* where the record was found ("" none) */
	bool have_record;
	struct dmarc_record rec;
};

typedef void (*dmarc_cb)(const struct dmarc_result *r, void *arg);

struct dmarc_check;

/* Never calls cb from inside; NULL (cb never called) only when out of the resolver's hands entirely. */
struct dmarc_check *dmarc_check_start(struct event_base *base, const struct mailauth_dns *dns,
				      const struct dmarc_input *in, dmarc_cb cb, void *arg);
/* Before cb has run: it never will.  Not after. */
void dmarc_check_cancel(struct dmarc_check *c);

/* The verdict alone, given the record found (or none): what the callback gets. */
void dmarc_evaluate(const struct dmarc_input *in, const struct dmarc_record *rec, const char *record_domain,
		    struct dmarc_result *r);

/* "dmarc=pass (p=reject dis=none) header.from=example.org" for Authentication-Results. */
void dmarc_authres(const struct dmarc_result *r, char *out, size_t outsize);

const char *dmarc_status_name(enum dmarc_status s);
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
