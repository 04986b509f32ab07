/*
 * sts_cache.c — the MTA-STS cache rules as one pure function
 * (sts_cache_decide, RFC 8461 §3.3 and §5.1), and the cache files that
 * keep policies across restarts (data_dir/mta-sts/<domain>).  sts.c holds
 * the in-memory cache and calls these; the unit tests drive them with
 * their own clock.
 *
 * A cache file is small text, the policy as a body again after one line
 * of our own:
 *
 *   tern-mta-sts-cache 1 id=20240101T000000 fetched=1767225600
 *   version: STSv1
 *   mode: enforce
 *   mx: *.example.com
 *   max_age: 604800
 *
 * It is only a cache: written without fsync (a crash at worst loses a
 * policy, which the next delivery fetches again), read back through the
 * same parser as a fetched body, and ignored when anything is off.
 */
#include "mta/sts_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#define CACHE_MAGIC "tern-mta-sts-cache 1 "

bool sts_cache_valid(const struct mta_sts_policy *p, int64_t now)
{
	return p && now < p->expires;
}

enum sts_step sts_cache_decide(const struct sts_cache_view *c, enum sts_txt_answer txt,
			       const char *id, int64_t now)
{
	bool valid = sts_cache_valid(c->policy, now);
	switch (txt) {
	case STS_ANSWER_TEMPFAIL:
		/* §5.1: no live policy discoverable, a valid cached one applies. */
		return valid ? STS_STEP_CACHE : STS_STEP_TEMPFAIL;
	case STS_ANSWER_NONE:
		/* §3.1: a missing TXT record does not remove a cached policy. */
		return valid ? STS_STEP_CACHE : STS_STEP_NONE;
	case STS_ANSWER_ID:
		break;
	}
	bool failed_recently = c->fail_id && c->fail_id[0] && strcmp(c->fail_id, id) == 0
			       && now < c->fail_until;
	if (valid && strcmp(c->policy->id, id) == 0) {
		/* §3.3: the id is unchanged, no fetch; but refresh a policy a day old. */
		if (now - c->policy->fetched >= STS_REFRESH_AFTER_S && !failed_recently)
			return STS_STEP_REFRESH;
		return STS_STEP_CACHE;
	}
	/* A new id, or nothing valid cached: fetch, unless that failed a moment ago (§3.3). */
	if (failed_recently)
		return valid ? STS_STEP_CACHE : STS_STEP_FAILED;
	return STS_STEP_FETCH;
}

/* dir/name into out; false when it does not fit. */
static bool cache_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);
	return n > 0 && (size_t)n < size;
}

bool sts_cache_store(const char *dir, const char *domain, const struct mta_sts_policy *p)
{
	char dom[STS_DOMAIN_MAX + 1], path[4096], tmp[4096], rnd[9];
	if (!sts_domain_normalize(domain, dom))
		return false;
	random_id(rnd, 8);
	char tmpname[STS_DOMAIN_MAX + 32];
	snprintf(tmpname, sizeof tmpname, ".tmp-%s-%s", rnd, dom);
	if (!cache_path(path, sizeof path, dir, dom) || !cache_path(tmp, sizeof tmp, dir, tmpname)) {
		log_warn("mta", "msg=\"mta-sts cache: path too long\" dir=%s", lq(dir));
		return false;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_warn("mta", "msg=\"mta-sts cache: cannot create the directory\" dir=%s err=%s",
			 lq(dir), lq(strerror(errno)));
		return false;
	}
	struct buf b = BUF_INIT;
	buf_printf(&b, CACHE_MAGIC "id=%s fetched=%lld\n", p->id, (long long)p->fetched);
	sts_policy_format(p, &b);

	bool ok = false;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("mta", "msg=\"mta-sts cache: cannot write\" path=%s err=%s", lq(tmp), lq(strerror(errno)));
		goto out;
	}
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int err = off == b.len ? 0 : errno;
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err) {
		log_warn("mta", "msg=\"mta-sts cache: cannot write\" path=%s err=%s", lq(path), lq(strerror(err)));
		unlink(tmp);
		goto out;
	}
	ok = true;
out:
	buf_free(&b);
	return ok;
}

/* "id=ID fetched=UNIX\n" after the magic; true with both. */
static bool parse_header(const char *s, size_t n, char id[MTA_STS_ID_MAX + 1], int64_t *fetched, size_t *used)
{
	const char *nl = memchr(s, '\n', n);
	if (!nl || n < 3 || memcmp(s, "id=", 3) != 0)
		return false;
	const char *p = s + 3;
	size_t idn = 0;
	while (p + idn < nl && p[idn] != ' ')
		idn++;
	if (idn == 0 || idn > MTA_STS_ID_MAX)
		return false;
	for (size_t i = 0; i < idn; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	memcpy(id, p, idn);
	id[idn] = '\0';
	p += idn;
	static const char f[] = " fetched=";
	if ((size_t)(nl - p) < sizeof f || memcmp(p, f, sizeof f - 1) != 0)
		return false;
	p += sizeof f - 1;
	if (nl - p > 18)
		return false;
	int64_t v = 0;
	for (; p < nl; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*fetched = v;
	*used = (size_t)(nl + 1 - s);
	return true;
}

struct mta_sts_policy *sts_cache_load(const char *dir, const char *domain, int64_t now)
{
	char dom[STS_DOMAIN_MAX + 1], path[4096];
	if (!sts_domain_normalize(domain, dom) || !cache_path(path, sizeof path, dir, dom))
		return NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("mta", "msg=\"mta-sts cache: cannot read\" path=%s err=%s", lq(path), lq(strerror(errno)));
		return NULL;
	}
	char *data = xmalloc(STS_CACHE_MAX + 1);
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, data + len, STS_CACHE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len > STS_CACHE_MAX)
			break;
	}
	close(fd);

	struct mta_sts_policy *p = NULL;
	const char *why = "malformed first line";
	size_t magic = sizeof CACHE_MAGIC - 1, used = 0;
	char id[MTA_STS_ID_MAX + 1];
	int64_t fetched = 0;
	if (len > STS_CACHE_MAX) {
		why = "too large";
	} else if (len >= magic && memcmp(data, CACHE_MAGIC, magic) == 0
		   && parse_header(data + magic, len - magic, id, &fetched, &used)) {
		struct mta_sts_policy tmp;
		if (sts_policy_parse(data + magic + used, len - magic - used, &tmp, &why)) {
			p = xmalloc(sizeof *p);
			*p = tmp;
			memcpy(p->id, id, sizeof p->id);
			p->fetched = fetched;
			p->expires = fetched + (int64_t)p->max_age;
		}
	}
	free(data);
	if (!p) {
		log_warn("mta", "msg=\"mta-sts cache: ignoring a malformed file\" path=%s why=%s", lq(path), lq(why));
		return NULL;
	}
	if (!sts_cache_valid(p, now)) {
		log_debug("mta", "msg=\"mta-sts cache: expired\" path=%s", lq(path));
		unlink(path);
		mta_sts_policy_free(&p);
	}
	return p;
}
