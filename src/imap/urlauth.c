/*
 * urlauth.c — URLAUTH (RFC 4467): GENURLAUTH, RESETKEY and URLFETCH with
 * the INTERNAL mechanism.
 *
 * A URLAUTH URL is an IMAP URL (imapurl.h) naming a message or part in
 * the mailbox of the user in its userinfo, followed by ";URLAUTH=" an
 * access identifier and ":internal:" a token: HMAC-SHA1 under the
 * mailbox's secret key (the store keeps one per mailbox, made by the first
 * GENURLAUTH, forgotten by RESETKEY) over the "rump", the URL up to and
 * including the access identifier.  Only the owner can make one
 * (GENURLAUTH); URLFETCH gives its content to whoever the access
 * identifier allows — "anonymous", "authuser" (any logged-in user),
 * "user+NAME" (that user) — and NIL for any URL that does not check out,
 * so that a fetcher learns nothing about why.  "submit+NAME" is for a
 * submission server: NIL here.  URLFETCH's parenthesised form with
 * BODYPARTSTRUCTURE, BINARY or BODY (URLAUTH=BINARY, RFC 5524) is urlmeta.c's.
 */
#include "imap/catenate.h"
#include "imap/imapurl.h"
#include "imap/session.h"
#include "imap/urlmeta.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_LEN 20    /* HMAC-SHA1 */

/* The account a URL's "imap://user@host" names: user itself when it is an address, else user@host. */
static int64_t url_owner(struct imap_session *s, const struct imap_url *u)
{
	if (!u->user || !u->host)
		return 0;
	char addr[640];
	if (strchr(u->user, '@'))
		snprintf(addr, sizeof addr, "%s", u->user);
	else
		snprintf(addr, sizeof addr, "%s@%s", u->user, u->host);
	if (strcasecmp(addr, s->user) == 0)
		return s->account_id;
	struct store_account a;
	if (store_account_get(imap_store(s), addr, &a) != STORE_OK)
		return 0;
	int64_t id = a.id;
	store_account_clear(&a);
	return id;
}

/* The URL's mailbox in owner's account, UIDVALIDITY checked. */
static bool url_mailbox(struct imap_session *s, int64_t owner, const struct imap_url *u,
			struct imap_url_mailbox *mb)
{
	memset(mb, 0, sizeof *mb);
	if (!u->mailbox || store_mailbox_info(imap_store(s), owner, u->mailbox, imap_url_got_mailbox, mb) != STORE_OK)
		return false;
	return mb->found && (!u->uidvalidity || u->uidvalidity == mb->uidvalidity);
}

static void token_of(const uint8_t *key, const char *rump, size_t n, uint8_t out[TOKEN_LEN])
{
	unsigned len = TOKEN_LEN;
	HMAC(EVP_sha1(), key, STORE_URLAUTH_KEY_LEN, (const unsigned char *)rump, n, out, &len);
}

static bool is_internal(const struct imap_str *mech)
{
	return mech->p && ascii_ieq(mech->p, mech->n, "INTERNAL");
}

void imap_cmd_genurlauth(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf out = BUF_INIT;
	buf_puts(&out, "* GENURLAUTH");
	for (size_t i = 0; i + 1 < cmd->natoms; i += 2) {
		const struct imap_str *url = &cmd->atoms[i];
		struct imap_url u;
		const char *err = NULL;
		struct imap_url_mailbox mb;
		if (!is_internal(&cmd->atoms[i + 1])) {
			imap_tagged(s, cmd->tag, "NO", "Unsupported URLAUTH mechanism");
			goto out;
		}
		if (memchr(url->p, '\0', url->n) || !imap_url_parse(url->p, url->n, &u, &err)) {
			imap_tagged(s, cmd->tag, "NO", "[BADURL] %s", err ? err : "Invalid URL");
			goto out;
		}
		bool ok = u.urlauth && !u.mech && u.host && url_owner(s, &u) == s->account_id &&
			  url_mailbox(s, s->account_id, &u, &mb);
		const char *why = !u.urlauth ? "URL without ;URLAUTH=" : u.mech ? "URL is not a rump"
				: "Not a URL of one of your mailboxes";
		if (!ok) {
			imap_url_free(&u);
			imap_tagged(s, cmd->tag, "NO", "[BADURL] %s", why);
			goto out;
		}
		uint8_t fresh[STORE_URLAUTH_KEY_LEN], key[STORE_URLAUTH_KEY_LEN], tok[TOKEN_LEN];
		if (RAND_bytes(fresh, sizeof fresh) != 1 ||
		    store_urlauth_key(imap_store(s), mb.id, fresh, key) != STORE_OK) {
			imap_url_free(&u);
			imap_store_error(s, cmd->tag, STORE_IOERR, "GENURLAUTH");
			goto out;
		}
		token_of(key, url->p, u.rump_len, tok);
		OPENSSL_cleanse(key, sizeof key);
		OPENSSL_cleanse(fresh, sizeof fresh);
		struct buf full = BUF_INIT;
		buf_append(&full, url->p, u.rump_len);
		buf_puts(&full, ":internal:");
		for (size_t k = 0; k < TOKEN_LEN; k++)
			buf_printf(&full, "%02x", tok[k]);
		buf_putc(&out, ' ');
		imap_put_string(&out, full.data, full.len);
		buf_free(&full);
		imap_url_free(&u);
	}
	buf_puts(&out, "\r\n");
	imap_write(s, out.data, out.len);
	imap_ok(s, cmd, "GENURLAUTH completed");
out:
	buf_free(&out);
}

void imap_cmd_resetkey(struct imap_session *s, struct imap_cmd *cmd)
{
	for (size_t i = 0; i < cmd->natoms; i++) {
		if (!is_internal(&cmd->atoms[i])) {
			imap_tagged(s, cmd->tag, "NO", "Unsupported URLAUTH mechanism");
			return;
		}
	}
	int64_t id = 0;
	if (cmd->mailbox.p) {
		struct buf name = BUF_INIT;
		if (!imap_mailbox_arg(s, cmd, &cmd->mailbox, &name))
			return;
		struct imap_url_mailbox mb = { 0 };
		enum store_status st = store_mailbox_info(imap_store(s), s->account_id, name.data, imap_url_got_mailbox, &mb);
		buf_free(&name);
		if (st != STORE_OK || !mb.found) {
			imap_store_error(s, cmd->tag, st == STORE_OK || st == STORE_INVALID ? STORE_NOTFOUND : st, "RESETKEY");
			return;
		}
		id = mb.id;
	}
	enum store_status st = store_urlauth_reset(imap_store(s), s->account_id, id);
	if (st != STORE_OK) {
		imap_store_error(s, cmd->tag, st, "RESETKEY");
		return;
	}
	log_info("imap", "session=%s msg=\"urlauth keys reset\" user=%s", s->c ? s->c->id : "-", lq(s->user));
	imap_ok(s, cmd, "RESETKEY completed");
}

/* Whether the session may read u under its access identifier, and its token is right. */
static bool url_authorised(struct imap_session *s, const struct imap_url *u, const char *url,
			   struct imap_url_mailbox *mb)
{
	if (!u->urlauth || !u->mech || !u->token || strcasecmp(u->mech, "internal") != 0)
		return false;
	if (u->expire && u->expire_time <= now_unix())
		return false;
	const char *a = u->access;
	if (strncmp(a, "user+", 5) == 0) {
		if (strcasecmp(a + 5, s->user) != 0)
			return false;
	} else if (strcmp(a, "authuser") != 0 && strcmp(a, "anonymous") != 0) {
		return false;   /* submit+: a submission server's */
	}
	int64_t owner = url_owner(s, u);
	if (owner <= 0 || !url_mailbox(s, owner, u, mb))
		return false;
	uint8_t key[STORE_URLAUTH_KEY_LEN], want[TOKEN_LEN], got[TOKEN_LEN];
	if (strlen(u->token) != 2 * TOKEN_LEN || store_urlauth_key(imap_store(s), mb->id, NULL, key) != STORE_OK)
		return false;
	token_of(key, url, u->rump_len, want);
	OPENSSL_cleanse(key, sizeof key);
	for (size_t i = 0; i < TOKEN_LEN; i++)
		got[i] = (uint8_t)(hex_digit((unsigned char)u->token[2 * i]) << 4 | hex_digit((unsigned char)u->token[2 * i + 1]));
	return CRYPTO_memcmp(want, got, TOKEN_LEN) == 0;
}

void imap_cmd_urlfetch(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < cmd->natoms; i++) {
		const struct imap_str *url = &cmd->atoms[i];
		struct imap_url u;
		const char *err = NULL;
		struct imap_url_mailbox mb;
		struct buf data = BUF_INIT;
		/* (url) with no parameter asks for nothing more than url alone. */
		unsigned params = cmd->url_params ? cmd->url_params[i] & ~IMAP_URLFETCH_EXT : 0;
		bool ok = !memchr(url->p, '\0', url->n) && imap_url_parse(url->p, url->n, &u, &err);
		if (ok) {
			ok = url_authorised(s, &u, url->p, &mb) &&
			     (params ? imap_url_meta(s, mb.id, &u, params, &data)
				     : imap_url_part(s, mb.id, &u, &data)) == IMAP_URL_PART_OK;
			imap_url_free(&u);
		}
		buf_puts(&out, "* URLFETCH ");
		imap_put_string(&out, url->p, url->n);
		if (ok && params) {
			buf_append(&out, data.data, data.len);      /* " (ITEM value)..." */
			buf_puts(&out, "\r\n");
		} else if (ok) {
			buf_printf(&out, " {%zu}\r\n", data.len);
			buf_append(&out, data.data ? data.data : "", data.len);
			buf_puts(&out, "\r\n");
		} else {
			buf_puts(&out, " NIL\r\n");
		}
		buf_free(&data);
		imap_write(s, out.data, out.len);
		buf_reset(&out);
	}
	buf_free(&out);
	imap_ok(s, cmd, "URLFETCH completed");
}
