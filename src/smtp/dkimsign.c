/*
 * dkimsign.c — DKIM signing of mail submitted by an authenticated user
 * (submission and submissions ports; never mail received on the MX port).
 *
 * The signer is started when DATA/BDAT opens the spool and sees every
 * message octet as it is written (data.c's emit()), so the body hash is
 * done when the data ends and the message is never read twice.  At end
 * of data the domain of the From field — not the envelope sender: the
 * author domain is what receivers (and DMARC) check, as OpenDKIM and
 * Postfix set-ups sign — picks the key: a local domain with an active
 * key in DATA_DIR/dkim/ (mailauth/dkim_keys.h) gets a DKIM-Signature
 * placed right after our Received field, before the message's own
 * header, for local and remote recipients alike.
 *
 * Most messages are still wholly in the spool's write buffer then, and
 * the field is inserted there.  A message big enough to have been
 * flushed already is copied once into a new spool file behind our trace
 * fields and the signature (copy_file_range: inside the kernel, from the
 * page cache).  Signing is a few hundred microseconds of CPU (RSA-2048;
 * Ed25519 much less), done inline on the loop.  A key that cannot be
 * used is logged and the message goes out unsigned rather than not at
 * all.
 */
#include "smtp/session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void smtp_dkim_begin(struct smtp_session *s)
{
	if (smtp_is_submission(s) && s->authenticated)
		s->spool.dkim = dkim_sign_new();
}

void smtp_dkim_feed(struct smtp_session *s, const char *p, size_t n)
{
	if (s->spool.dkim)
		dkim_sign_feed(s->spool.dkim, p, n);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Copy from[off..off+n) to the end of to. */
static bool copy_rest(int from, off_t off, int to, uint64_t n)
{
	while (n) {
		ssize_t c = copy_file_range(from, &off, to, NULL, n > (1u << 30) ? (1u << 30) : (size_t)n, 0);
		if (c > 0) {
			n -= (uint64_t)c;
			continue;
		}
		if (c < 0 && errno == EINTR)
			continue;
		if (c == 0 || (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP))
			return false;
		/* No copy_file_range here: plain reads and writes. */
		char buf[65536];
		while (n) {
			ssize_t r = pread(from, buf, n < sizeof buf ? (size_t)n : sizeof buf, off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0 || !write_all(to, buf, (size_t)r))
				return false;
			off += r;
			n -= (uint64_t)r;
		}
	}
	return true;
}

/* The message was partly written out: a new spool file with sig after our trace fields. */
static bool respool(struct smtp_session *s, const struct buf *sig)
{
	struct smtp_spool *sp = &s->spool;
	if (!smtp_spool_finish(s))
		return false;
	char id[STORE_BLOB_ID_MAX];
	char *path = NULL;
	int fd = store_blob_create(smtp_store(s), id, sizeof id, &path);
	if (fd < 0)
		return false;
	char *prefix = xmalloc(sp->prefix_size ? sp->prefix_size : 1);
	bool ok = pread(sp->fd, prefix, sp->prefix_size, 0) == (ssize_t)sp->prefix_size &&
		  write_all(fd, prefix, sp->prefix_size) && write_all(fd, sig->data, sig->len) &&
		  copy_rest(sp->fd, (off_t)sp->prefix_size, fd, sp->size);
	free(prefix);
	if (!ok) {
		log_error("smtp", "session=%s msg=\"cannot rewrite the spool file for DKIM\" error=%s",
			  s->c ? s->c->id : "-", lq(strerror(errno)));
		close(fd);
		unlink(path);
		free(path);
		return false;
	}
	close(sp->fd);
	unlink(sp->path);
	free(sp->path);
	sp->fd = fd;
	sp->path = path;
	memcpy(sp->blob_id, id, sizeof sp->blob_id);
	sp->flushed = sp->prefix_size + sig->len + sp->size;
	return true;
}

bool smtp_dkim_end(struct smtp_session *s)
{
	struct smtp_spool *sp = &s->spool;
	if (!sp->dkim)
		return true;
	const char *id = s->c ? s->c->id : "-";
	char domain[254], sel[DKIM_SELECTOR_MAX + 1];
	EVP_PKEY *key = NULL;
	bool ok = true;
	struct buf sig = BUF_INIT;
	if (!dkim_sign_from_domain(sp->dkim, domain, sizeof domain) ||
	    !store_domain_is_local(smtp_store(s), domain) ||
	    !dkim_keystore_get(s->srv->dkim_keys, domain, &key, sel))
		goto out;
	if (!dkim_sign_finish(sp->dkim, key, domain, sel, now_unix(), NULL, &sig)) {
		log_warn("smtp", "session=%s msg=\"DKIM signing failed, sent unsigned\" id=%s domain=%s selector=%s",
			 id, s->msgid, domain, sel);
		goto out;
	}
	if (sp->flushed == 0) {
		/* Still all in memory: insert the field after our Received. */
		struct buf *o = &sp->out;
		buf_reserve(o, sig.len);
		memmove(o->data + sp->prefix_size + sig.len, o->data + sp->prefix_size, o->len - sp->prefix_size);
		memcpy(o->data + sp->prefix_size, sig.data, sig.len);
		o->len += sig.len;
		o->data[o->len] = '\0';
	} else if (!respool(s, &sig)) {
		ok = false;
		goto out;
	}
	sp->prefix_size += sig.len;
	log_info("smtp", "session=%s msg=\"DKIM signed\" id=%s domain=%s selector=%s", id, s->msgid, domain, sel);
out:
	EVP_PKEY_free(key);
	buf_free(&sig);
	dkim_sign_free(&sp->dkim);
	return ok;
}
