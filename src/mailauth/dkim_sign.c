/*
 * dkim_sign.c — DKIM-Signature fields for outgoing mail (RFC 6376 §5),
 * rsa-sha256 or ed25519-sha256 (RFC 8463), always relaxed/relaxed: the
 * canonicalisation that survives what relays do to whitespace and
 * folding.
 *
 * The message streams through the same header collector and body
 * canonicaliser as verification; the field is then built folded (at most
 * 78 columns, continuation lines starting with one space), its header
 * hash taken over the text up to "b=", and the signature appended.
 */
#include "mailauth/dkim.h"
#include "mailauth/dkim_int.h"

#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/xalloc.h"

#define DKIM_FOLD_AT 78

const char *const dkim_default_headers[] = {
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Sender",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe", "List-Post",
	"List-Owner", "List-Archive", NULL,
};

struct dkim_sign {
	struct dkim_headers hdr;
	bool started, finished;
	struct dkim_body body;
	bool body_ok;
	uint8_t bh[64];
	size_t bhlen;
};

struct dkim_sign *dkim_sign_new(void)
{
	return xcalloc(1, sizeof(struct dkim_sign));
}

static void start(struct dkim_sign *s)
{
	s->started = true;
	dkim_headers_split(&s->hdr);
	s->body_ok = dkim_body_init(&s->body, DKIM_CANON_RELAXED, UINT64_MAX);
}

void dkim_sign_feed(struct dkim_sign *s, const char *data, size_t len)
{
	if (s->finished)
		return;
	if (!s->started) {
		if (!dkim_headers_take(&s->hdr, &data, &len))
			return;
		start(s);
	}
	if (s->body_ok)
		dkim_body_feed(&s->body, data, len);
}

void dkim_sign_prepend_fields(struct dkim_sign *s, const char *fields, size_t len)
{
	if (!s->started)
		start(s);
	struct dkim_headers *h = &s->hdr;
	if (h->overflow || len == 0)
		return;
	if (h->raw.len + len > DKIM_MAX_HEADER) {
		h->overflow = true;
		return;
	}
	struct buf nb = BUF_INIT;
	buf_reserve(&nb, h->raw.len + len);
	buf_append(&nb, fields, len);
	buf_append(&nb, h->raw.data, h->raw.len);
	buf_free(&h->raw);
	h->raw = nb;
	dkim_headers_split(h);
}

bool dkim_sign_from_domain(struct dkim_sign *s, char *out, size_t size)
{
	if (!s->started)
		start(s);
	return dkim_headers_from_domain(&s->hdr, out, size);
}

void dkim_fold_put(struct dkim_fold *f, const char *p, size_t n, bool space)
{
	if (f->col + (space ? 1 : 0) + n > DKIM_FOLD_AT) {
		buf_puts(f->b, "\r\n ");
		f->col = 1;
	} else if (space) {
		buf_putc(f->b, ' ');
		f->col++;
	}
	buf_append(f->b, p, n);
	f->col += n;
}

void dkim_fold_tag(struct dkim_fold *f, const char *tag, const char *val)
{
	char t[320];
	int n = snprintf(t, sizeof t, "%s=%s;", tag, val);
	if (n > 0 && (size_t)n < sizeof t)
		dkim_fold_put(f, t, (size_t)n, true);
}

static bool sign_digest(EVP_PKEY *key, const uint8_t md[32], struct buf *sig)
{
	size_t len = 0;
	bool ok = false;
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		if (m && EVP_DigestSignInit(m, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestSign(m, NULL, &len, md, 32) == 1) {
			buf_reserve(sig, len);
			ok = EVP_DigestSign(m, (unsigned char *)sig->data, &len, md, 32) == 1;
		}
		EVP_MD_CTX_free(m);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
		if (c && EVP_PKEY_sign_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 && EVP_PKEY_sign(c, NULL, &len, md, 32) == 1) {
			buf_reserve(sig, len);
			ok = EVP_PKEY_sign(c, (unsigned char *)sig->data, &len, md, 32) == 1;
		}
		EVP_PKEY_CTX_free(c);
	}
	if (ok)
		sig->len = len;
	return ok;
}

const char *dkim_key_algorithm(EVP_PKEY *key)
{
	int type = EVP_PKEY_get_base_id(key);
	return type == EVP_PKEY_RSA ? "rsa-sha256" : type == EVP_PKEY_ED25519 ? "ed25519-sha256" : NULL;
}

bool dkim_fold_signature(struct dkim_fold *w, EVP_PKEY *key, const uint8_t md[32])
{
	struct buf sig = BUF_INIT, b64 = BUF_INIT;
	bool ok = sign_digest(key, md, &sig);
	if (ok) {
		base64_encode(&b64, sig.data, sig.len);
		/* The signature fills the line "b=" is on, then whole lines. */
		for (size_t o = 0; o < b64.len; ) {
			size_t room = w->col < DKIM_FOLD_AT ? DKIM_FOLD_AT - w->col : 0;
			if (room == 0) {
				buf_puts(w->b, "\r\n ");
				w->col = 1;
				continue;
			}
			size_t take = b64.len - o < room ? b64.len - o : room;
			buf_append(w->b, b64.data + o, take);
			w->col += take;
			o += take;
		}
		buf_puts(w->b, "\r\n");
	}
	buf_free(&sig);
	buf_free(&b64);
	return ok;
}

bool dkim_sign_finish(struct dkim_sign *s, EVP_PKEY *key, const char *domain, const char *selector,
		      int64_t now, const char *const *headers, struct buf *out)
{
	return dkim_sign_field(s, key, "DKIM-Signature", "v=1;", domain, selector, now, headers, out);
}

bool dkim_sign_field(struct dkim_sign *s, EVP_PKEY *key, const char *name, const char *lead, const char *domain,
		     const char *selector, int64_t now, const char *const *headers, struct buf *out)
{
	if (!s->started)
		start(s);
	if (!s->finished) {
		s->finished = true;
		if (s->body_ok)
			dkim_body_final(&s->body, s->bh, &s->bhlen);
	}
	if (!s->body_ok || s->hdr.overflow || s->bhlen != 32)
		return false;
	const char *alg = dkim_key_algorithm(key);
	if (!alg)
		return false;
	if (!headers)
		headers = dkim_default_headers;

	/* Each name as often as it occurs, From once more (oversigning). */
	char (*names)[DKIM_MAX_HNAME] = xcalloc(DKIM_MAX_H, sizeof *names);
	size_t nn = 0;
	for (size_t k = 0; headers[k]; k++) {
		size_t len = strlen(headers[k]), count = 0;
		if (len == 0 || len >= DKIM_MAX_HNAME)
			continue;
		for (size_t i = 0; i < s->hdr.nfields; i++)
			if (dkim_field_is(&s->hdr, &s->hdr.fields[i], headers[k], len))
				count++;
		if (strcasecmp(headers[k], "From") == 0)
			count++;
		for (; count && nn < DKIM_MAX_H; count--)
			memcpy(names[nn++], headers[k], len + 1);
	}

	struct buf f = BUF_INIT;
	struct dkim_fold w = { &f, 0 };
	buf_printf(&f, "%s:", name);
	w.col = f.len;
	dkim_fold_put(&w, lead, strlen(lead), true);
	dkim_fold_tag(&w, "a", alg);
	dkim_fold_put(&w, "c=relaxed/relaxed;", 18, true);
	dkim_fold_tag(&w, "d", domain);
	dkim_fold_tag(&w, "s", selector);
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)now);
	dkim_fold_tag(&w, "t", num);
	for (size_t k = 0; k < nn; k++) {
		char piece[DKIM_MAX_HNAME + 4];
		int n = snprintf(piece, sizeof piece, "%s%s%s", k ? "" : "h=", names[k], k + 1 < nn ? ":" : ";");
		dkim_fold_put(&w, piece, (size_t)n, k == 0);
	}
	struct buf b64 = BUF_INIT;
	base64_encode(&b64, s->bh, s->bhlen);
	char bh[128];
	int bn = snprintf(bh, sizeof bh, "bh=%s;", buf_cstr(&b64));
	dkim_fold_put(&w, bh, (size_t)bn, true);
	dkim_fold_put(&w, "b=", 2, true);

	uint8_t md[32];
	dkim_header_hash(&s->hdr, DKIM_CANON_RELAXED, (const char (*)[DKIM_MAX_HNAME])names, nn, f.data, f.len,
			 f.len, f.len, md);
	free(names);
	bool ok = dkim_fold_signature(&w, key, md);
	if (ok)
		buf_append(out, f.data, f.len);
	buf_free(&b64);
	buf_free(&f);
	return ok;
}

void dkim_sign_free(struct dkim_sign **ps)
{
	struct dkim_sign *s = *ps;
	if (!s)
		return;
	dkim_body_free(&s->body);
	dkim_headers_free(&s->hdr);
	free(s);
	*ps = NULL;
}
