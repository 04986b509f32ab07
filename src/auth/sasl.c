/*
 * sasl.c — server side SASL PLAIN (RFC 4616) and LOGIN as small state
 * machines (see sasl.h).
 *
 * The protocol (SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH) owns the wire
 * syntax — "334 " / "+ " prefixes, cancellation with "*" — and hands each
 * client line here still base64 encoded.  This file decodes it strictly,
 * splits it into authzid / authcid / password and keeps them in fixed-size
 * fields, so nothing a client sends can make it allocate more than
 * SASL_MAX_INPUT bytes.  The credentials are then given to auth_pool
 * (authpool.h) by the protocol.
 *
 *   PLAIN:  START --(no initial response)--> WANT_RESPONSE  [challenge ""]
 *           START / WANT_RESPONSE --(authzid NUL authcid NUL passwd)--> DONE
 *   LOGIN:  START --(no initial response)--> WANT_USER      [challenge "Username:"]
 *           START / WANT_USER --(username)--> WANT_PASSWORD [challenge "Password:"]
 *           WANT_PASSWORD --(password)--> DONE
 *
 * Any malformed step moves to FAILED; every step after DONE or FAILED is
 * SASL_BAD.
 */
#include "auth/sasl.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "lib/xalloc.h"

/* RFC 4616: a server must accept fields of up to 255 octets; we take no more. */
#define SASL_FIELD_MAX 255

enum sasl_mech { MECH_PLAIN, MECH_LOGIN };

enum sasl_state {
	ST_START,
	ST_WANT_RESPONSE,       /* PLAIN, after the empty challenge */
	ST_WANT_USER,           /* LOGIN */
	ST_WANT_PASSWORD,       /* LOGIN */
	ST_DONE,
	ST_FAILED,
};

struct sasl {
	enum sasl_mech mech;
	enum sasl_state state;
	char authzid[SASL_FIELD_MAX + 1];
	char authcid[SASL_FIELD_MAX + 1];
	char password[SASL_FIELD_MAX + 1];
	size_t password_len;
};

struct sasl *sasl_new(const char *mech, size_t len)
{
	enum sasl_mech m;

	if (mech == NULL)
		return NULL;
	if (ascii_ieq(mech, len, "PLAIN"))
		m = MECH_PLAIN;
	else if (ascii_ieq(mech, len, "LOGIN"))
		m = MECH_LOGIN;
	else
		return NULL;
	struct sasl *s = xcalloc(1, sizeof *s);
	s->mech = m;
	s->state = ST_START;
	return s;
}

/*
 * Decode one client line into out (which must be empty and is given its
 * full size up front, so that no partial copy of a password is left behind
 * by a realloc).  "=" is an empty response only where an initial response
 * is allowed.
 */
static bool sasl_decode(const char *in, size_t len, bool initial, struct buf *out)
{
	if (len > SASL_MAX_INPUT)
		return false;
	if (initial && len == 1 && in[0] == '=')
		return true;
	buf_reserve(out, len / 4 * 3 + 1);
	return base64_decode(out, in, len);
}

/* Copy a field that has been checked for length; NUL-terminates. */
static void sasl_set(char dst[SASL_FIELD_MAX + 1], const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool field_ok(const char *p, size_t n, bool may_be_empty)
{
	if (n > SASL_FIELD_MAX || (n == 0 && !may_be_empty))
		return false;
	if (memchr(p, '\0', n) != NULL)
		return false;
	return utf8_valid(p, n);
}

/* message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616, section 2). */
static bool sasl_plain_parse(struct sasl *s, const char *d, size_t n)
{
	const char *end = d + n;
	const char *nul1 = memchr(d, '\0', n);
	if (nul1 == NULL)
		return false;
	const char *cid = nul1 + 1;
	const char *nul2 = memchr(cid, '\0', (size_t)(end - cid));
	if (nul2 == NULL)
		return false;
	const char *pw = nul2 + 1;

	size_t zlen = (size_t)(nul1 - d), clen = (size_t)(nul2 - cid), plen = (size_t)(end - pw);
	/* field_ok also rejects a third NUL inside the password */
	if (!field_ok(d, zlen, true) || !field_ok(cid, clen, false) || !field_ok(pw, plen, false))
		return false;
	sasl_set(s->authzid, d, zlen);
	sasl_set(s->authcid, cid, clen);
	sasl_set(s->password, pw, plen);
	s->password_len = plen;
	return true;
}

static void challenge_set(struct buf *challenge, const char *text)
{
	if (challenge == NULL)
		return;
	buf_reset(challenge);
	base64_encode(challenge, text, strlen(text));
}

static enum sasl_result sasl_step_plain(struct sasl *s, const char *in, size_t len,
					struct buf *challenge, struct buf *dec)
{
	bool initial = s->state == ST_START;

	if (initial && in == NULL) {
		challenge_set(challenge, "");
		s->state = ST_WANT_RESPONSE;
		return SASL_CHALLENGE;
	}
	if (!sasl_decode(in, len, initial, dec) || !sasl_plain_parse(s, dec->data ? dec->data : "", dec->len))
		return SASL_BAD;
	s->state = ST_DONE;
	return SASL_DONE;
}

/*
 * LOGIN has no specification (only draft-murchison-sasl-login).  The user
 * name must be UTF-8 like every address here; the password may be in
 * whatever charset the client uses (old clients send their locale's), but
 * never contains a NUL.
 */
static enum sasl_result sasl_step_login(struct sasl *s, const char *in, size_t len,
					struct buf *challenge, struct buf *dec)
{
	bool initial = s->state == ST_START;

	if (initial && in == NULL) {
		challenge_set(challenge, "Username:");
		s->state = ST_WANT_USER;
		return SASL_CHALLENGE;
	}
	if (!sasl_decode(in, len, initial, dec))
		return SASL_BAD;
	const char *d = dec->data ? dec->data : "";
	if (s->state == ST_START || s->state == ST_WANT_USER) {
		if (!field_ok(d, dec->len, false))
			return SASL_BAD;
		sasl_set(s->authcid, d, dec->len);
		challenge_set(challenge, "Password:");
		s->state = ST_WANT_PASSWORD;
		return SASL_CHALLENGE;
	}
	/* ST_WANT_PASSWORD */
	if (dec->len == 0 || dec->len > SASL_FIELD_MAX || memchr(d, '\0', dec->len) != NULL)
		return SASL_BAD;
	sasl_set(s->password, d, dec->len);
	s->password_len = dec->len;
	s->state = ST_DONE;
	return SASL_DONE;
}

enum sasl_result sasl_step(struct sasl *s, const char *in, size_t len, struct buf *challenge)
{
	if (s == NULL)
		return SASL_BAD;
	if (s->state == ST_DONE || s->state == ST_FAILED) {
		s->state = ST_FAILED;
		return SASL_BAD;
	}
	/* Only the initial response may be absent. */
	if (in == NULL && s->state != ST_START) {
		s->state = ST_FAILED;
		return SASL_BAD;
	}

	struct buf dec = BUF_INIT;
	enum sasl_result r = s->mech == MECH_PLAIN
		? sasl_step_plain(s, in, len, challenge, &dec)
		: sasl_step_login(s, in, len, challenge, &dec);
	if (dec.data != NULL) {
		OPENSSL_cleanse(dec.data, dec.cap);
		buf_free(&dec);
	}
	if (r == SASL_BAD) {
		s->state = ST_FAILED;
		OPENSSL_cleanse(s->password, sizeof s->password);
		s->password_len = 0;
	}
	return r;
}

const char *sasl_authzid(const struct sasl *s)
{
	return s != NULL && s->state == ST_DONE ? s->authzid : "";
}

const char *sasl_authcid(const struct sasl *s)
{
	return s != NULL && s->state == ST_DONE ? s->authcid : "";
}

const char *sasl_password(const struct sasl *s)
{
	return s != NULL && s->state == ST_DONE ? s->password : "";
}

size_t sasl_password_len(const struct sasl *s)
{
	return s != NULL && s->state == ST_DONE ? s->password_len : 0;
}

void sasl_free(struct sasl **s)
{
	if (s == NULL || *s == NULL)
		return;
	OPENSSL_cleanse(*s, sizeof **s);
	free(*s);
	*s = NULL;
}
