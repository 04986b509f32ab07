/*
 * dkim_sig.c — the DKIM-Signature field's tag list (RFC 6376 §3.5) into a
 * struct dkim_sig.  Required: v=1, a, b, bh, d, h, s.  Unknown tags are
 * ignored (§3.2); a tag given twice, a missing required tag, a value out
 * of its syntax or a signature that can never verify (h= without From,
 * i= outside d=, x= before t=) make it a permerror (§6.1.1).
 */
#include "mailauth/dkim_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

static bool tag_is(const struct dkim_tag *t, const char *name)
{
	size_t n = strlen(name);
	return t->name_len == n && memcmp(t->name, name, n) == 0;
}

static bool value_is(const struct dkim_tag *t, const char *s)
{
	size_t n = strlen(s);
	return t->value_len == n && strncasecmp(t->value, s, n) == 0;
}

/* A domain name of LDH labels (underscore allowed: selectors use it), copied lower-case. */
static bool copy_domain(const char *p, size_t n, char *out, size_t outsize)
{
	if (n == 0 || n >= outsize || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	if (label == 0)
		return false;   /* empty or trailing dot */
	for (size_t i = 0; i < n; i++)
		out[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] - 'A' + 'a') : p[i];
	out[n] = '\0';
	return true;
}

/* Decimal of at most maxdigits digits. */
static bool parse_number(const struct dkim_tag *t, unsigned maxdigits, uint64_t *out)
{
	if (t->value_len == 0 || t->value_len > maxdigits)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < t->value_len; i++) {
		char c = t->value[i];
		if (c < '0' || c > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*out = v;
	return true;
}

static bool parse_canon(const struct dkim_tag *t, struct dkim_sig *sig)
{
	const char *slash = memchr(t->value, '/', t->value_len);
	size_t hl = slash ? (size_t)(slash - t->value) : t->value_len;
	struct dkim_tag h = { .value = t->value, .value_len = hl };
	if (value_is(&h, "simple"))
		sig->hcanon = DKIM_CANON_SIMPLE;
	else if (value_is(&h, "relaxed"))
		sig->hcanon = DKIM_CANON_RELAXED;
	else
		return false;
	sig->bcanon = DKIM_CANON_SIMPLE;
	if (!slash)
		return true;
	struct dkim_tag b = { .value = slash + 1, .value_len = t->value_len - hl - 1 };
	if (value_is(&b, "simple"))
		sig->bcanon = DKIM_CANON_SIMPLE;
	else if (value_is(&b, "relaxed"))
		sig->bcanon = DKIM_CANON_RELAXED;
	else
		return false;
	return true;
}

/* h=: field names separated by ':' with FWS around them; From must be among them. */
static bool parse_h(const struct dkim_tag *t, struct dkim_sig *sig, const char **why)
{
	const char *p = t->value;
	size_t n = t->value_len, i = 0;
	bool from = false;
	sig->nh = 0;
	for (;;) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		size_t s = i;
		while (i < n && p[i] != ':' && (unsigned char)p[i] > ' ' && (unsigned char)p[i] < 0x7f)
			i++;
		size_t len = i - s;
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		if (len == 0 || (i < n && p[i] != ':')) {
			*why = "bad h= list";
			return false;
		}
		if (sig->nh == DKIM_MAX_H || len >= DKIM_MAX_HNAME) {
			*why = "h= list too long";
			return false;
		}
		memcpy(sig->h[sig->nh], p + s, len);
		sig->h[sig->nh][len] = '\0';
		if (strcasecmp(sig->h[sig->nh], "from") == 0)
			from = true;
		sig->nh++;
		if (i == n)
			break;
		i++;    /* ':' */
	}
	if (!from) {
		*why = "From not signed";
		return false;
	}
	return true;
}

/* i=: [local-part] "@" domain, the domain d= or below it. */
static bool parse_i(const struct dkim_tag *t, struct dkim_sig *sig, const char **why)
{
	const char *at = NULL;
	for (size_t k = t->value_len; k > 0; k--)
		if (t->value[k - 1] == '@') {
			at = t->value + k - 1;
			break;
		}
	if (!at || t->value_len >= sizeof sig->i) {
		*why = "bad i=";
		return false;
	}
	size_t dl = t->value_len - (size_t)(at + 1 - t->value);
	if (!copy_domain(at + 1, dl, sig->i_domain, sizeof sig->i_domain)) {
		*why = "bad i= domain";
		return false;
	}
	memcpy(sig->i, t->value, t->value_len);
	sig->i[t->value_len] = '\0';
	return true;
}

/* Whether sub is dom or a subdomain of it (both lower case). */
static bool domain_within(const char *sub, const char *dom)
{
	size_t s = strlen(sub), d = strlen(dom);
	if (s == d)
		return strcmp(sub, dom) == 0;
	return s > d && sub[s - d - 1] == '.' && strcmp(sub + s - d, dom) == 0;
}

/*
 * The three fields share one grammar: DKIM-Signature (v=1, i= the AUID),
 * ARC-Message-Signature (no v=, i= the instance) and ARC-Seal (i=, cv=, no
 * h= and no bh=: it signs the ARC sets, not the message, RFC 8617 §4.1.3).
 */
static bool parse_any(const char *p, size_t n, enum dkim_sig_kind kind, struct dkim_sig *sig, const char **why)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	size_t nt;
	memset(sig, 0, sizeof *sig);
	*why = "bad tag list";
	if (n > DKIM_MAX_SIG_FIELD) {
		*why = "signature too long";
		return false;
	}
	enum dkim_taglist_status st = dkim_taglist_parse(p, n, tags, DKIM_MAX_TAGS, &nt);
	if (st != DKIM_TAGS_OK) {
		*why = st == DKIM_TAGS_DUPLICATE ? "duplicate tag" : st == DKIM_TAGS_TOO_MANY ? "too many tags" : "bad tag list";
		return false;
	}
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	const struct dkim_tag *v = NULL, *a = NULL, *b = NULL, *bh = NULL, *d = NULL, *h = NULL, *s = NULL, *i = NULL;
	const struct dkim_tag *cv = NULL;
	for (size_t k = 0; k < nt; k++) {
		const struct dkim_tag *t = &tags[k];
		uint64_t num;
		if (tag_is(t, "v")) {
			v = t;
		} else if (tag_is(t, "a")) {
			a = t;
		} else if (tag_is(t, "b")) {
			b = t;
		} else if (tag_is(t, "bh")) {
			bh = t;
		} else if (tag_is(t, "d")) {
			d = t;
		} else if (tag_is(t, "h")) {
			h = t;
		} else if (tag_is(t, "s")) {
			s = t;
		} else if (tag_is(t, "i")) {
			i = t;
		} else if (tag_is(t, "cv") && kind == DKIM_SIG_AS) {
			cv = t;
		} else if (tag_is(t, "c") && kind != DKIM_SIG_AS) {
			if (!parse_canon(t, sig)) {
				*why = "unknown canonicalization";
				return false;
			}
		} else if (tag_is(t, "l")) {
			if (!parse_number(t, 76, &num)) {
				*why = "bad l=";
				return false;
			}
			sig->has_l = true;
			sig->l = num;
		} else if (tag_is(t, "t") || tag_is(t, "x")) {
			if (!parse_number(t, 12, &num)) {
				*why = "bad t= or x=";
				return false;
			}
			if (tag_is(t, "t")) {
				sig->has_t = true;
				sig->t = (int64_t)num;
			} else {
				sig->has_x = true;
				sig->x = (int64_t)num;
			}
		} else if (tag_is(t, "q")) {
			/* A colon-separated list of methods; dns/txt is the only one there is. */
			bool dns = false;
			for (size_t o = 0; o < t->value_len; ) {
				const char *c = memchr(t->value + o, ':', t->value_len - o);
				size_t e = c ? (size_t)(c - t->value) : t->value_len;
				struct dkim_tag m = { .value = t->value + o, .value_len = e - o };
				while (m.value_len && (m.value[0] == ' ' || m.value[0] == '\t')) {
					m.value++;
					m.value_len--;
				}
				while (m.value_len && (m.value[m.value_len - 1] == ' ' || m.value[m.value_len - 1] == '\t'))
					m.value_len--;
				if (value_is(&m, "dns/txt"))
					dns = true;
				o = e + 1;
			}
			if (!dns) {
				*why = "no supported query method";
				return false;
			}
		}
		/* z= and unknown tags: ignored. */
	}
	if (kind == DKIM_SIG_AS) {
		/* Always relaxed (§5.1.1); it signs no header list and no body. */
		sig->hcanon = DKIM_CANON_RELAXED;
		if (h || bh) {
			*why = h ? "h= in ARC-Seal" : "bh= in ARC-Seal";
			return false;
		}
		if (!cv || !i || !a || !b || !d || !s) {
			*why = "required tag missing";
			return false;
		}
		if (value_is(cv, "none"))
			sig->cv = DKIM_CV_NONE;
		else if (value_is(cv, "pass"))
			sig->cv = DKIM_CV_PASS;
		else if (value_is(cv, "fail"))
			sig->cv = DKIM_CV_FAIL;
		else {
			*why = "bad cv=";
			return false;
		}
	} else if (!a || !b || !bh || !d || !h || !s || (kind == DKIM_SIG_DKIM ? !v : !i)) {
		*why = "required tag missing";
		return false;
	}
	if (kind == DKIM_SIG_DKIM && !value_is(v, "1")) {
		*why = "unknown version";
		return false;
	}
	if (kind != DKIM_SIG_DKIM) {
		uint64_t num;
		if (!parse_number(i, 9, &num) || num == 0) {
			*why = "bad i= instance";
			return false;
		}
		sig->instance = (unsigned)num;
	}
	if (value_is(a, "rsa-sha256")) {
		sig->alg = DKIM_ALG_RSA_SHA256;
	} else if (value_is(a, "ed25519-sha256")) {
		sig->alg = DKIM_ALG_ED25519_SHA256;
	} else if (value_is(a, "rsa-sha1")) {
		sig->alg = DKIM_ALG_RSA_SHA1;
	} else {
		*why = "unknown algorithm";
		return false;
	}
	if (!dkim_base64_decode(b->value, b->value_len, sig->b, sizeof sig->b, &sig->blen) || sig->blen == 0) {
		*why = "bad b=";
		return false;
	}
	size_t k = 0;
	for (size_t o = 0; o < b->value_len && k < 8; o++)
		if ((unsigned char)b->value[o] > ' ')
			sig->b_prefix[k++] = b->value[o];
	sig->b_prefix[k] = '\0';
	sig->b_raw_start = b->raw_start;
	sig->b_raw_end = b->raw_end;
	if (bh && (!dkim_base64_decode(bh->value, bh->value_len, sig->bh, sizeof sig->bh, &sig->bhlen) || sig->bhlen == 0)) {
		*why = "bad bh=";
		return false;
	}
	if (!copy_domain(d->value, d->value_len, sig->d, sizeof sig->d)) {
		*why = "bad d=";
		return false;
	}
	if (!copy_domain(s->value, s->value_len, sig->s, sizeof sig->s)) {
		*why = "bad s=";
		return false;
	}
	if (h && !parse_h(h, sig, why))
		return false;
	if (i && kind == DKIM_SIG_DKIM) {
		if (!parse_i(i, sig, why))
			return false;
		if (!domain_within(sig->i_domain, sig->d)) {
			*why = "i= not within d=";
			return false;
		}
	} else {
		snprintf(sig->i, sizeof sig->i, "@%s", sig->d);
		snprintf(sig->i_domain, sizeof sig->i_domain, "%s", sig->d);
	}
	if (sig->has_t && sig->has_x && sig->x < sig->t) {
		*why = "x= before t=";
		return false;
	}
	return true;
}

bool dkim_sig_parse(const char *p, size_t n, struct dkim_sig *sig, const char **why)
{
	return parse_any(p, n, DKIM_SIG_DKIM, sig, why);
}

bool dkim_sig_parse_arc(const char *p, size_t n, enum dkim_sig_kind kind, struct dkim_sig *sig, const char **why)
{
	return parse_any(p, n, kind, sig, why);
}
