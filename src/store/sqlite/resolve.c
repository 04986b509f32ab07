/*
 * resolve.c — recipient resolution and the sender check (SQLite backend),
 * as store.h documents them.
 *
 * An address in a local domain is looked up as: exact alias, then account,
 * then the same two without the "+tag", then the domain's catch-all.  Alias
 * targets are resolved the same way, recursively, up to RESOLVE_MAX_DEPTH
 * levels; the aliases being expanded form a path, and meeting one of them
 * again is a loop: that branch stops there, except that an alias naming
 * itself reaches the account of the same name if there is one (the usual
 * "keep a copy" idiom, a@x -> a@x, b@y).  Targets outside the local domains
 * are remote.  Results are de-duplicated; more than STORE_MAX_EXPANSION of
 * either kind, or nesting deeper than the limit, fails the whole address
 * with STORE_INVALID (as Postfix defers on its expansion limits) rather
 * than silently dropping recipients.
 */
#include "store/sqlite/sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define RESOLVE_MAX_DEPTH 10

static const char SQL_TARGETS[] = "SELECT target FROM alias_targets WHERE alias_id = ?1 ORDER BY id";
static const char SQL_ACCOUNT_NAME[] =
	"SELECT a.localpart, d.name FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = ?1";

struct resolve {
	struct store_sq *sq;
	struct store_rcpt *out;
	const char *address;            /* what was asked, for logs */
	int64_t path[RESOLVE_MAX_DEPTH];
	size_t depth;
	enum store_status error;        /* STORE_OK until something fails */
};

static void resolve_address(struct resolve *r, const char *address);

static void fail(struct resolve *r, enum store_status st, const char *why)
{
	if (r->error == STORE_OK) {
		r->error = st;
		if (st != STORE_IOERR)
			log_warn("store", "msg=\"alias expansion refused\" rcpt=%s reason=%s", lq(r->address), lq(why));
	}
}

static void add_account(struct resolve *r, int64_t id)
{
	struct store_rcpt *o = r->out;
	for (size_t i = 0; i < o->naccounts; i++)
		if (o->account_ids[i] == id)
			return;
	if (o->naccounts == STORE_MAX_EXPANSION) {
		fail(r, STORE_INVALID, "too many local recipients");
		return;
	}
	o->account_ids[o->naccounts++] = id;
}

static void add_remote(struct resolve *r, const struct store_addr *a)
{
	struct store_rcpt *o = r->out;
	char addr[STORE_LOCAL_MAX + 1 + STORE_DOMAIN_MAX + 1];
	snprintf(addr, sizeof addr, "%s@%s", a->local, a->domain);
	for (size_t i = 0; i < o->nremote; i++)
		if (strcasecmp(o->remote[i], addr) == 0)
			return;
	if (o->nremote == STORE_MAX_EXPANSION) {
		fail(r, STORE_INVALID, "too many remote recipients");
		return;
	}
	o->remote[o->nremote++] = xstrdup(addr);
}

static bool on_path(const struct resolve *r, int64_t alias_id)
{
	for (size_t i = 0; i < r->depth; i++)
		if (r->path[i] == alias_id)
			return true;
	return false;
}

static void expand_alias(struct resolve *r, int64_t alias_id)
{
	if (r->depth == RESOLVE_MAX_DEPTH) {
		fail(r, STORE_INVALID, "aliases nested too deep");
		return;
	}
	/* Targets are read out before recursing: the recursion reuses the statement. */
	sqlite3_stmt *st = store_sq_stmt(r->sq, SQL_TARGETS);
	if (!st) {
		fail(r, STORE_IOERR, NULL);
		return;
	}
	sqlite3_bind_int64(st, 1, alias_id);
	char **targets = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < STORE_MAX_EXPANSION) {
		targets = xrealloc(targets, (n + 1) * sizeof *targets);
		targets[n++] = xstrdup(store_sq_text(st, 0));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW) {
		fail(r, STORE_INVALID, "alias has too many targets");
	} else if (rc != SQLITE_DONE) {
		store_sq_log_error(r->sq, "alias targets");
		fail(r, STORE_IOERR, NULL);
	} else {
		r->path[r->depth++] = alias_id;
		for (size_t i = 0; i < n && r->error == STORE_OK; i++)
			resolve_address(r, targets[i]);
		r->depth--;
	}
	for (size_t i = 0; i < n; i++)
		free(targets[i]);
	free(targets);
}

/* Alias, else account, for local (n octets) @ domain.  True when the name is taken care of. */
static bool resolve_name(struct resolve *r, const char *local, size_t n, const char *domain)
{
	int64_t alias = store_sq_alias_id(r->sq, local, n, domain);
	if (alias < 0) {
		fail(r, STORE_IOERR, NULL);
		return true;
	}
	if (alias > 0 && !on_path(r, alias)) {
		expand_alias(r, alias);
		return true;
	}
	int64_t account = store_sq_account_id(r->sq, local, n, domain);
	if (account < 0) {
		fail(r, STORE_IOERR, NULL);
		return true;
	}
	if (account > 0) {
		add_account(r, account);
		return true;
	}
	if (alias > 0) {
		log_warn("store", "msg=\"alias loop cut\" rcpt=%s at=%s@%s", lq(r->address), lqn(local, n), lq(domain));
		return true;
	}
	return false;
}

/* The full rule for an address in a local domain; false when nothing matches. */
static bool resolve_local(struct resolve *r, const struct store_addr *a)
{
	if (resolve_name(r, a->local, strlen(a->local), a->domain))
		return true;
	size_t base = store_name_untagged_len(a->local);
	if (base && resolve_name(r, a->local, base, a->domain))
		return true;
	int64_t catchall = store_sq_alias_id(r->sq, "", 0, a->domain);
	if (catchall < 0) {
		fail(r, STORE_IOERR, NULL);
		return true;
	}
	if (catchall == 0)
		return false;
	if (on_path(r, catchall))
		log_warn("store", "msg=\"alias loop cut\" rcpt=%s at=@%s", lq(r->address), lq(a->domain));
	else
		expand_alias(r, catchall);
	return true;
}

static void resolve_address(struct resolve *r, const char *address)
{
	struct store_addr a;
	if (!store_name_address(address, &a)) {
		log_warn("store", "msg=\"invalid alias target skipped\" rcpt=%s target=%s", lq(r->address), lq(address));
		return;
	}
	int64_t domain = store_sq_domain_id(r->sq, a.domain);
	if (domain < 0) {
		fail(r, STORE_IOERR, NULL);
	} else if (domain == 0) {
		add_remote(r, &a);
	} else if (!resolve_local(r, &a)) {
		log_warn("store", "msg=\"alias target does not exist\" rcpt=%s target=%s", lq(r->address), lq(address));
	}
}

/* Run the lookups of one resolution in one read transaction: a consistent view, and faster. */
static bool read_begin(struct store_sq *sq)
{
	return store_sq_exec(sq, "BEGIN");
}

static void read_end(struct store_sq *sq)
{
	if (!sqlite3_get_autocommit(sq->db))
		store_sq_exec(sq, "COMMIT");
}

enum store_status store_sq_resolve_rcpt(struct store *s, const char *address, struct store_rcpt *out)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	memset(out, 0, sizeof *out);
	struct store_addr a;
	if (!address || !store_name_address(address, &a))
		return STORE_INVALID;
	if (!read_begin(sq))
		return STORE_IOERR;
	struct resolve r = { .sq = sq, .out = out, .address = address, .error = STORE_OK };
	enum store_status status = STORE_NOTFOUND;
	int64_t domain = store_sq_domain_id(sq, a.domain);
	if (domain < 0)
		status = STORE_IOERR;
	else if (domain > 0 && resolve_local(&r, &a))
		status = r.error != STORE_OK ? r.error
			: out->naccounts + out->nremote > 0 ? STORE_OK : STORE_NOTFOUND;
	read_end(sq);
	if (status != STORE_OK)
		store_rcpt_clear(out);
	return status;
}

bool store_sq_sender_allowed(struct store *s, int64_t account_id, const char *address)
{
	struct store_sq *sq = (struct store_sq *)(void *)s;
	struct store_addr a;
	if (!address || !store_name_address(address, &a))
		return false;
	if (!read_begin(sq))
		return false;
	bool allowed = false;
	char own_local[STORE_LOCAL_MAX + 1] = "", own_domain[STORE_DOMAIN_MAX + 1] = "";
	sqlite3_stmt *st = store_sq_stmt(sq, SQL_ACCOUNT_NAME);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(own_local, sizeof own_local, "%s", store_sq_text(st, 0));
		snprintf(own_domain, sizeof own_domain, "%s", store_sq_text(st, 1));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		goto out;

	size_t n = strlen(a.local), base = store_name_untagged_len(a.local);
	if (strcmp(a.domain, own_domain) == 0) {
		if (strcasecmp(a.local, own_local) == 0 ||
		    (base == strlen(own_local) && strncasecmp(a.local, own_local, base) == 0)) {
			allowed = true;
			goto out;
		}
	}
	/* An alias (never the catch-all: n and base are > 0) that reaches this account. */
	int64_t alias = store_sq_alias_id(sq, a.local, n, a.domain);
	if (alias == 0 && base)
		alias = store_sq_alias_id(sq, a.local, base, a.domain);
	if (alias <= 0)
		goto out;
	struct store_rcpt rcpt;
	memset(&rcpt, 0, sizeof rcpt);
	struct resolve r = { .sq = sq, .out = &rcpt, .address = address, .error = STORE_OK };
	expand_alias(&r, alias);
	if (r.error == STORE_OK) {
		for (size_t i = 0; i < rcpt.naccounts; i++)
			if (rcpt.account_ids[i] == account_id)
				allowed = true;
	}
	store_rcpt_clear(&rcpt);
out:
	read_end(sq);
	return allowed;
}
