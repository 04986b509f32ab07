/*
 * fuzz_mta_tlsname.c — libFuzzer target for the host-name matcher of
 * src/mta/tls.c (mta_tls_name_match, mta_tls_policy_add_name), which sees
 * names from hostile certificates and MTA-STS policies.
 *
 * The input is split at its first NUL into a pattern and a name.  Besides
 * the sanitizers, the target aborts when an invariant breaks: a match must
 * survive adding a trailing dot and changing ASCII case on either side; a
 * name that is not a pattern matches itself exactly when it is accepted as
 * a reference name; a name never matches a pattern-looking name; and a
 * reference name is stored normalised (lower case, no trailing dot, no '*').
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/mta_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > 600)
		return 0;
	char *buf = malloc(n + 2);
	memcpy(buf, d, n);
	buf[n] = '\0';
	buf[n + 1] = '\0';
	const char *pattern = buf;
	const char *name = buf + strlen(buf) + (strlen(buf) < n ? 1 : 0);
	if (name > buf + n)
		name = buf + n;

	bool m = mta_tls_name_match(pattern, name);
	char p2[700], n2[700];
	size_t pl = strlen(pattern), nl = strlen(name);
	if (m) {
		/* One trailing dot more on each side, when there was none. */
		if (pl && pattern[pl - 1] != '.' && nl && name[nl - 1] != '.') {
			snprintf(p2, sizeof p2, "%s.", pattern);
			snprintf(n2, sizeof n2, "%s.", name);
			CHECK(mta_tls_name_match(p2, n2));
		}
		snprintf(p2, sizeof p2, "%s", pattern);
		snprintf(n2, sizeof n2, "%s", name);
		upper(p2);
		upper(n2);
		CHECK(mta_tls_name_match(p2, n2));
		CHECK(strchr(name, '*') == NULL);
	}

	struct mta_tls_policy *p = mta_tls_policy_new(MTA_TLS_VERIFY, "fuzz", "");
	bool added = mta_tls_policy_add_name(p, name);
	if (added) {
		const char *s = p->names[0];
		size_t l = strlen(s);
		CHECK(l > 0 && l <= 253 && s[l - 1] != '.' && !strchr(s, '*'));
		for (size_t i = 0; i < l; i++)
			CHECK(!(s[i] >= 'A' && s[i] <= 'Z'));
		CHECK(mta_tls_name_match(s, name));
		CHECK(mta_tls_name_match(name, s));
	} else if (!strchr(name, '*')) {
		CHECK(!mta_tls_name_match(name, name));
	}
	mta_tls_policy_unref(&p);
	free(buf);
	return 0;
}
