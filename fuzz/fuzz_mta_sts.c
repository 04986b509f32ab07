/*
 * fuzz_mta_sts.c — libFuzzer target for the MTA-STS parsers
 * (src/mta/sts_policy.c, the cache file reader of src/mta/sts_cache.c).
 *
 * The input is what a hostile policy host serves, a hostile DNS server
 * puts in the TXT record, or a damaged cache file holds.  It goes through
 * the policy parser, the TXT parser, the mx pattern parser, the pattern
 * matcher (split at its first NUL into pattern and host), and, when it
 * starts with "tern" like a cache file, the cache file reader.  Besides the sanitizers, the target aborts when a result
 * breaks an invariant: limits, lower case, patterns that do not parse
 * again to themselves or do not match a host made from them, a policy
 * that does not survive sts_policy_format() and parsing again, a TXT id
 * that is not 1..32 letters and digits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "mta/sts.h"
#include "mta/sts_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void check_pattern(const char *pat)
{
	size_t n = strlen(pat);
	CHECK(n > 0 && n <= 255);
	CHECK(pat[n - 1] != '.');
	for (const char *c = pat; *c; c++)
		CHECK(!(*c >= 'A' && *c <= 'Z') && (unsigned char)*c > ' ' && (unsigned char)*c < 0x7f);
	char again[256];
	CHECK(sts_pattern_parse(pat, n, again));
	CHECK(strcmp(again, pat) == 0);
	/* A host the pattern stands for matches it, in upper case and with a dot too. */
	char host[300];
	snprintf(host, sizeof host, "%s%s", pat[0] == '*' ? "x" : "", pat[0] == '*' ? pat + 1 : pat);
	CHECK(mta_sts_pattern_match(pat, host));
	for (char *c = host; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	strcat(host, ".");
	CHECK(mta_sts_pattern_match(pat, host));
	if (pat[0] == '*') {
		/* Not the bare suffix, nor two labels deep. */
		CHECK(!mta_sts_pattern_match(pat, pat + 2));
		snprintf(host, sizeof host, "a.b%s", pat + 1);
		CHECK(!mta_sts_pattern_match(pat, host));
	}
}

static void check_policy(const struct mta_sts_policy *p)
{
	CHECK(p->mode == STS_NONE || p->mode == STS_TESTING || p->mode == STS_ENFORCE);
	CHECK(p->max_age <= MTA_STS_MAX_AGE_MAX);
	CHECK(p->nmx <= STS_MX_MAX);
	CHECK(p->nmx > 0 || p->mode == STS_NONE);
	for (size_t i = 0; i < p->nmx; i++)
		check_pattern(p->mx[i]);
}

static void run_policy(const char *s, size_t n)
{
	struct mta_sts_policy p;
	const char *why = NULL;
	if (!sts_policy_parse(s, n, &p, &why)) {
		CHECK(why && why[0]);
		CHECK(p.nmx == 0 && p.mx == NULL);
		return;
	}
	check_policy(&p);
	struct buf b = BUF_INIT;
	sts_policy_format(&p, &b);
	struct mta_sts_policy q;
	CHECK(sts_policy_parse(b.data, b.len, &q, &why));
	CHECK(q.mode == p.mode && q.max_age == p.max_age && q.nmx == p.nmx);
	for (size_t i = 0; i < p.nmx; i++)
		CHECK(strcmp(q.mx[i], p.mx[i]) == 0);
	struct mta_sts_policy *dup = mta_sts_policy_dup(&p);
	for (size_t i = 0; i < p.nmx; i++)
		if (dup->mx[i][0] != '*')
			CHECK(mta_sts_mx_match(dup, dup->mx[i]));
	mta_sts_policy_free(&dup);
	sts_policy_clear(&q);
	sts_policy_clear(&p);
	buf_free(&b);
}

static void run_txt(const char *s, size_t n)
{
	char id[MTA_STS_ID_MAX + 1];
	memset(id, 'Z', sizeof id);
	enum sts_txt_kind k = sts_txt_parse(s, n, id);
	CHECK(memchr(id, '\0', sizeof id) != NULL);
	if (k != STS_TXT_VALID) {
		CHECK(id[0] == '\0');
	} else {
		size_t len = strlen(id);
		CHECK(len >= 1 && len <= MTA_STS_ID_MAX);
		for (size_t i = 0; i < len; i++)
			CHECK((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9'));
	}
	bool sts = n >= 7 && memcmp(s, "v=STSv1", 7) == 0 && (n == 7 || s[7] == ';' || s[7] == ' ' || s[7] == '\t');
	CHECK((k != STS_TXT_OTHER) == sts);
}

static void run_match(const char *s, size_t n)
{
	char out[256];
	memset(out, 'Z', sizeof out);
	if (sts_pattern_parse(s, n, out))
		check_pattern(out);
	/* pattern NUL host */
	const char *nul = memchr(s, '\0', n);
	if (!nul)
		return;
	char *host = strndup(nul + 1, n - (size_t)(nul - s) - 1);
	bool m = mta_sts_pattern_match(s, host);
	if (m && s[0] != '*') {
		size_t hn = strlen(host);
		CHECK(hn == strlen(s) || (hn == strlen(s) + 1 && host[hn - 1] == '.'));
	}
	free(host);
}

static char cache_dir[64], cache_path[128];

static void cache_cleanup(void)
{
	unlink(cache_path);
	rmdir(cache_dir);
}

/* Only inputs that look like a cache file go to disk: the file system is slow. */
static void run_cache_file(const char *s, size_t n)
{
	if (n < 4 || memcmp(s, "tern", 4) != 0)
		return;
	if (!cache_dir[0]) {
		snprintf(cache_dir, sizeof cache_dir, "/tmp/fuzz-mta-sts-%d", (int)getpid());
		snprintf(cache_path, sizeof cache_path, "%s/fuzz.example", cache_dir);
		mkdir(cache_dir, 0700);
		atexit(cache_cleanup);
	}
	const char *path = cache_path;
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fwrite(s, 1, n, f);
	fclose(f);
	struct mta_sts_policy *p = sts_cache_load(cache_dir, "fuzz.example", 0);
	if (p) {
		check_policy(p);
		CHECK(p->id[0] != '\0');
		CHECK(p->expires == p->fetched + (int64_t)p->max_age);
		mta_sts_policy_free(&p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	log_set_level(LOG_ERROR);
	const char *s = (const char *)d;
	run_policy(s, n);
	run_txt(s, n);
	run_match(s, n);
	run_cache_file(s, n);
	return 0;
}
