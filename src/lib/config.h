/*
 * config.h — the tern.conf model: parse (INI via inih), defaults, validation.
 *
 * One struct config holds every setting with its default filled in.
 * config_load() collects every problem it finds (not just the first) as
 * lines "tern.conf: [section] key: problem" so that `tern check-config`
 * can show them all at once.  Nothing here opens sockets or files other
 * than the config itself.
 */
#ifndef TERN_LIB_CONFIG_H
#define TERN_LIB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/log.h"

enum listen_role {
	ROLE_SMTP,          /* MX, port 25 */
	ROLE_SUBMISSION,    /* 587, STARTTLS */
	ROLE_SUBMISSIONS,   /* 465, implicit TLS */
	ROLE_IMAP,
	ROLE_IMAPS,
	ROLE_POP3,
	ROLE_POP3S,
	ROLE_COUNT
};

struct listen_addr {
	char host[64];      /* numeric address, without brackets */
	uint16_t port;
};

struct listen_list {
	struct listen_addr *addrs;
	size_t n;
};

struct config {
	char *path;
	char *hostname;
	char *data_dir;
	char *user;                 /* NULL: do not switch user */
	char *postmaster;           /* NULL: postmaster@ needs an account or alias */
	unsigned threads;           /* event loop threads; 0 = number of CPUs */

	struct {
		char *cert;
		char *key;
	} tls;

	struct listen_list listen[ROLE_COUNT];

	struct {
		uint64_t max_message_size;      /* octets */
		unsigned max_recipients;
		unsigned max_errors;            /* bad commands before 421 */
		unsigned max_connections_per_ip;
		uint64_t timeout_ms;            /* idle between commands and data chunks */
	} smtp;

	struct {
		bool allow_plaintext;
		uint64_t failure_delay_ms;      /* first failed login; doubles per failure */
		uint64_t max_failure_delay_ms;
		uint64_t cache_ttl_ms;          /* how long a verified password skips argon2id; 0: never */
	} auth;

	struct {
		char *nameservers;      /* "ip[:port], ..."; NULL: /etc/resolv.conf */
		char *trust_anchor;     /* DNSSEC trust anchor file (zone-file DS/DNSKEY lines); NULL: the root key if installed; "none": no validation */
	} dns;

	struct {
		char *relay;                    /* "[host]:port" or "host:port": every remote message goes there; NULL: MX */
		char *relay_username;           /* AUTH PLAIN to the relay when set */
		char *relay_password_file;      /* first line is the password (never in the config itself) */
		char *relay_tls;                /* "may" (NULL), "encrypt" or "verify": what the relay's TLS must be */
		unsigned smtp_port;             /* port of remote MX hosts (25; tests use another) */
		uint64_t queue_lifetime_ms;     /* bounce after this long undelivered */
		uint64_t delay_warning_ms;      /* DSN "delayed" after this long (0: never) */
		uint64_t retry_min_ms;          /* first retry after a temporary failure; doubles */
		uint64_t retry_max_ms;          /* cap of the doubling */
		unsigned max_per_destination;   /* parallel connections to one domain or relay */
		unsigned max_connections;       /* parallel outbound connections in all */
		uint64_t connect_timeout_ms;
		uint64_t command_timeout_ms;    /* the wait for each reply of the remote server */
		uint64_t data_done_timeout_ms;  /* the wait for the reply to the end of data (the longest) */
		char *source_ip;                /* bind outbound sockets to this address; NULL: any */
		bool received_client_ip;        /* submission Received names the client's IP (default no) */
		uint64_t destination_rate_delay_ms; /* least time between two jobs to one destination (0: none) */
		char *tls_ca_file;              /* CAs for verified TLS (MTA-STS, relay); NULL: the system's store */
		bool dane;                      /* enforce DNSSEC-signed TLSA records (RFC 7672), default yes */
		bool mta_sts;                   /* fetch and enforce MTA-STS policies (RFC 8461), default yes */
		unsigned mta_sts_port;          /* HTTPS port of mta-sts.<domain> (443; tests use another) */
		bool tlsrpt;                    /* collect TLS results and send daily TLS-RPT reports (RFC 8460), default yes */
		char *tlsrpt_from;              /* the reports' sender; NULL: postmaster@hostname */
		char *tlsrpt_organization;      /* organization-name of the reports; NULL: hostname */
		char *tlsrpt_contact;           /* contact-info of the reports; NULL: tlsrpt_from */
	} delivery;

	struct {
		bool spf, dkim, dmarc;          /* checked on mail from the MX port (default yes) */
		int arc;                        /* ARC chains verified (RFC 8617); -1 until loaded: then as dkim */
		bool arc_seal;                  /* forwarded MX mail gets our ARC set when the alias's domain has a key (default yes) */
		bool spf_fail_reject;           /* spf_reject: refuse an SPF fail at end of data (default yes) */
		char *junk_instead;             /* local domains whose mail is filed into Junk instead of refused */
		char *authserv_id;              /* Authentication-Results id; NULL: hostname */
		bool dmarc_reports;             /* collect DMARC results, send daily aggregate reports (RFC 7489 §7.2), default yes */
		char *dmarc_report_from;        /* the reports' sender; NULL: postmaster@hostname */
		char *dmarc_report_org;         /* org_name of the reports; NULL: hostname */
	} mailauth;

	struct {
		enum log_level level;
	} log;
};

extern const char *const listen_role_names[ROLE_COUNT];

/* Whether a role speaks TLS from the first byte. */
bool listen_role_implicit_tls(enum listen_role role);

void config_defaults(struct config *cfg);

/*
 * Read and validate path into cfg (defaults applied first).  Returns the
 * number of problems found; each is appended to errors as one line.
 * cfg is usable (with defaults in place of bad values) even on errors.
 */
int config_load(const char *path, struct config *cfg, struct buf *errors);

/* Same, from a string; name is used in messages.  For tests and fuzzing. */
int config_load_string(const char *text, const char *name, struct config *cfg,
		       struct buf *errors);

void config_free(struct config *cfg);

/* "50M" -> 52428800.  Suffixes K M G (powers of 1024), none = octets. */
bool config_parse_size(const char *s, uint64_t *out);
/* "5m" -> 300000.  Suffixes ms s m h d, none = seconds.  Result in ms. */
bool config_parse_duration(const char *s, uint64_t *out_ms);
/* "0.0.0.0:25, [::]:25" -> list.  Returns false with a reason in err. */
bool config_parse_listen(const char *s, struct listen_list *out, struct buf *err);

#endif
