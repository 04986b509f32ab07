/*
 * password.c — password hashing and verification (see password.h).
 *
 * New hashes are argon2id with OWASP's parameters (t=2, m=19 MiB, p=1):
 * tens of milliseconds per guess, which is nothing for one login and a lot
 * for a brute-force run.  Verification also takes argon2 hashes made by
 * other tools (argon2i/argon2d/argon2id, any version and parameters) and,
 * for imported accounts, every crypt(3) format libxcrypt knows.
 *
 * The stored hash is read as hostile too: an imported or tampered hash
 * could ask for terabytes of memory or days of CPU, so its cost parameters
 * are bounded before any work is done (see the *_MAX constants).
 *
 * Callers: auth_pool (authpool.c) on its worker threads, and the CLI when
 * setting a password.  Everything here is slow on purpose and must never
 * run on an event-loop thread.
 */
#include "auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define PASSWORD_T_COST 2
#define PASSWORD_M_COST 19456           /* KiB */
#define PASSWORD_PARALLELISM 1
#define PASSWORD_SALT_LEN 16
#define PASSWORD_HASH_LEN 32

/*
 * Bounds on the cost a stored hash may ask for.  Generous enough for every
 * published recommendation (RFC 9106's first option is m=2 GiB), tight
 * enough that a bad hash cannot stall a worker for minutes.
 */
#define ARGON2_M_MAX (UINT32_C(1) << 21)        /* KiB = 2 GiB */
#define ARGON2_T_MAX 64
#define ARGON2_P_MAX 64
#define BCRYPT_COST_MAX 16
#define SHACRYPT_ROUNDS_MAX 2000000
#define ENCODED_MAX 512                         /* longest stored hash accepted */

/*
 * A fixed argon2id hash with the same parameters as new hashes (of a random
 * password nobody knows), so that a login for a missing account costs what
 * a real one costs.
 */
static const char dummy_hash[] =
	"$argon2id$v=19$m=19456,t=2,p=1$"
	"hWNxZS2mPcQlWflOych9wA$0W53UTiLIhP0ftjkucb1amFqkaPNRCLAsTYSmhS/5qY";

char *password_hash(const char *password, size_t len)
{
	unsigned char salt[PASSWORD_SALT_LEN];

	if (len > ARGON2_MAX_PWD_LENGTH) {
		log_error("auth", "msg=\"password too long to hash\" len=%zu", len);
		return NULL;
	}
	if (RAND_bytes(salt, sizeof salt) != 1) {
		log_error("auth", "msg=\"RAND_bytes failed, cannot salt password hash\"");
		return NULL;
	}
	size_t enclen = argon2_encodedlen(PASSWORD_T_COST, PASSWORD_M_COST, PASSWORD_PARALLELISM,
					  sizeof salt, PASSWORD_HASH_LEN, Argon2_id);
	char *encoded = xmalloc(enclen);
	int rc = argon2id_hash_encoded(PASSWORD_T_COST, PASSWORD_M_COST, PASSWORD_PARALLELISM,
				       len ? password : NULL, len, salt, sizeof salt,
				       PASSWORD_HASH_LEN, encoded, enclen);
	if (rc != ARGON2_OK) {
		log_error("auth", "msg=\"argon2id hashing failed\" error=%s", lq(argon2_error_message(rc)));
		free(encoded);
		return NULL;
	}
	return encoded;
}

/* Parse a decimal number at *p (before end) that fits a uint32_t; advances *p. */
static bool parse_u32(const char **p, const char *end, uint32_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
		s++;
	}
	*p = s;
	*out = (uint32_t)v;
	return true;
}

static bool expect(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/*
 * Check the cost fields of "$argon2X$[v=N$]m=M,t=T,p=P$..." (p points just
 * past the type).  libargon2 validates the rest while decoding.
 */
static bool argon2_params_sane(const char *p, const char *end)
{
	uint32_t v, m, t, par;

	if (expect(&p, end, "v=")) {
		if (!parse_u32(&p, end, &v) || !expect(&p, end, "$"))
			return false;
	}
	if (!expect(&p, end, "m=") || !parse_u32(&p, end, &m) ||
	    !expect(&p, end, ",t=") || !parse_u32(&p, end, &t) ||
	    !expect(&p, end, ",p=") || !parse_u32(&p, end, &par))
		return false;
	return m <= ARGON2_M_MAX && t <= ARGON2_T_MAX && par >= 1 && par <= ARGON2_P_MAX;
}

static bool verify_argon2(const char *encoded, size_t enclen, const char *password, size_t len)
{
	const char *end = encoded + enclen;
	const char *p = encoded;
	argon2_type type;

	if (expect(&p, end, "$argon2id$"))
		type = Argon2_id;
	else if (expect(&p, end, "$argon2i$"))
		type = Argon2_i;
	else if (expect(&p, end, "$argon2d$"))
		type = Argon2_d;
	else
		return false;
	if (!argon2_params_sane(p, end)) {
		log_warn("auth", "msg=\"argon2 hash with unsupported or excessive parameters\"");
		return false;
	}
	if (len > ARGON2_MAX_PWD_LENGTH)
		return false;
	/* argon2_verify compares the tags in constant time itself. */
	int rc = argon2_verify(encoded, len ? password : NULL, len, type);
	if (rc == ARGON2_OK)
		return true;
	if (rc != ARGON2_VERIFY_MISMATCH && rc != ARGON2_DECODING_FAIL)
		log_warn("auth", "msg=\"argon2 verification error\" error=%s", lq(argon2_error_message(rc)));
	return false;
}

/* Bound the work factor of the crypt(3) formats that carry one. */
static bool crypt_params_sane(const char *encoded, size_t enclen)
{
	const char *end = encoded + enclen;
	const char *p = encoded;
	uint32_t cost;

	/* bcrypt: $2a$ $2b$ $2x$ $2y$, two-digit log2 cost */
	if (enclen >= 7 && encoded[1] == '2' && encoded[3] == '$') {
		p = encoded + 4;
		if (!parse_u32(&p, end, &cost))
			return false;
		return cost <= BCRYPT_COST_MAX;
	}
	/* SHA-crypt: $5$ / $6$ with optional rounds=N$ */
	if (expect(&p, end, "$5$") || expect(&p, end, "$6$")) {
		if (expect(&p, end, "rounds=")) {
			if (!parse_u32(&p, end, &cost))
				return false;
			return cost <= SHACRYPT_ROUNDS_MAX;
		}
	}
	return true;
}

static bool verify_crypt(const char *encoded, size_t enclen, const char *password, size_t len)
{
	/* crypt_r takes a C string: a NUL inside would silently shorten the password. */
	if (memchr(password, '\0', len) != NULL)
		return false;
	if (enclen >= CRYPT_OUTPUT_SIZE)
		return false;
	if (!crypt_params_sane(encoded, enclen)) {
		log_warn("auth", "msg=\"crypt hash with malformed or excessive cost\"");
		return false;
	}

	char *phrase = xmemdup0(password, len);
	/* struct crypt_data is ~32 KiB: too big for a worker's stack. */
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	bool ok = false;

	const char *out = crypt_r(phrase, encoded, cd);
	/* libxcrypt reports failure as NULL or a "*0"/"*1" token, never a valid hash. */
	if (out != NULL && out[0] != '*' && strlen(out) == enclen)
		ok = CRYPTO_memcmp(out, encoded, enclen) == 0;

	OPENSSL_cleanse(phrase, len);
	free(phrase);
	OPENSSL_cleanse(cd, sizeof *cd);
	free(cd);
	return ok;
}

bool password_verify(const char *encoded, const char *password, size_t len)
{
	if (encoded == NULL || (password == NULL && len != 0))
		return false;
	if (password == NULL)
		password = "";

	size_t enclen = strnlen(encoded, ENCODED_MAX + 1);
	if (enclen > ENCODED_MAX || enclen < 2 || encoded[0] != '$')
		return false;
	if (strncmp(encoded, "$argon2", 7) == 0)
		return verify_argon2(encoded, enclen, password, len);
	return verify_crypt(encoded, enclen, password, len);
}

void password_verify_dummy(const char *password, size_t len)
{
	if (password == NULL || len > ARGON2_MAX_PWD_LENGTH)
		len = 0;
	int rc = argon2_verify(dummy_hash, len ? password : NULL, len, Argon2_id);
	if (rc != ARGON2_VERIFY_MISMATCH && rc != ARGON2_OK)
		log_error("auth", "msg=\"dummy argon2 verification error\" error=%s",
			  lq(argon2_error_message(rc)));
}
