/*
 * dkim_keyrec.c — the key record of a selector (RFC 6376 §3.6.1, k=ed25519
 * from RFC 8463): "v=DKIM1; k=rsa; p=..." in the TXT record at
 * SELECTOR._domainkey.DOMAIN.
 *
 * v=, when present, must be first and DKIM1.  p= is required; empty means
 * the key was revoked.  h= (hashes allowed) and s= (service types), when
 * present, must allow sha256 and email.  t= flags y (testing) and s
 * (strict i=); unknown flags, n= and unknown tags are ignored.
 */
#include "mailauth/dkim_int.h"

#include <string.h>
#include <strings.h>

static bool tag_is(const struct dkim_tag *t, const char *name)
{
	size_t n = strlen(name);
	return t->name_len == n && memcmp(t->name, name, n) == 0;
}

/* Whether the colon-separated list in t contains item (case-insensitive, FWS trimmed). */
static bool list_has(const struct dkim_tag *t, const char *item)
{
	size_t il = strlen(item);
	for (size_t o = 0; o <= t->value_len; ) {
		const char *c = memchr(t->value + o, ':', t->value_len - o);
		size_t e = c ? (size_t)(c - t->value) : t->value_len;
		size_t s = o;
		while (s < e && (t->value[s] == ' ' || t->value[s] == '\t' || t->value[s] == '\r' || t->value[s] == '\n'))
			s++;
		size_t f = e;
		while (f > s && (t->value[f - 1] == ' ' || t->value[f - 1] == '\t' || t->value[f - 1] == '\r' ||
				 t->value[f - 1] == '\n'))
			f--;
		if (f - s == il && strncasecmp(t->value + s, item, il) == 0)
			return true;
		o = e + 1;
	}
	return false;
}

bool dkim_keyrec_parse(const char *p, size_t n, struct dkim_keyrec *key, const char **why)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	size_t nt;
	memset(key, 0, sizeof *key);
	if (n > DKIM_MAX_KEY_RECORD) {
		*why = "key record too long";
		return false;
	}
	enum dkim_taglist_status st = dkim_taglist_parse(p, n, tags, DKIM_MAX_TAGS, &nt);
	if (st != DKIM_TAGS_OK) {
		*why = st == DKIM_TAGS_DUPLICATE ? "duplicate tag in key record" : "bad key record syntax";
		return false;
	}
	key->k = DKIM_KEY_RSA;
	const struct dkim_tag *pt = NULL;
	for (size_t i = 0; i < nt; i++) {
		const struct dkim_tag *t = &tags[i];
		if (tag_is(t, "v")) {
			if (i != 0 || t->value_len != 5 || memcmp(t->value, "DKIM1", 5) != 0) {
				*why = "bad key record version";
				return false;
			}
		} else if (tag_is(t, "k")) {
			if (t->value_len == 3 && strncasecmp(t->value, "rsa", 3) == 0) {
				key->k = DKIM_KEY_RSA;
			} else if (t->value_len == 7 && strncasecmp(t->value, "ed25519", 7) == 0) {
				key->k = DKIM_KEY_ED25519;
			} else {
				*why = "unknown key type";
				return false;
			}
		} else if (tag_is(t, "h")) {
			if (!list_has(t, "sha256")) {
				*why = "key does not allow sha256";
				return false;
			}
		} else if (tag_is(t, "s")) {
			if (!list_has(t, "*") && !list_has(t, "email")) {
				*why = "key not for email";
				return false;
			}
		} else if (tag_is(t, "t")) {
			key->testing = list_has(t, "y");
			key->strict = list_has(t, "s");
		} else if (tag_is(t, "p")) {
			pt = t;
		}
	}
	if (!pt) {
		*why = "key record without p=";
		return false;
	}
	if (pt->value_len == 0) {
		key->revoked = true;
		return true;
	}
	if (!dkim_base64_decode(pt->value, pt->value_len, key->p, sizeof key->p, &key->plen) || key->plen == 0) {
		*why = "bad p=";
		return false;
	}
	return true;
}
