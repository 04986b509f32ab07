/*
 * listmatch_ref.h — a reference LIST pattern matcher, obviously right and
 * quadratic (dynamic programming), for test_imap_listmatch.c and
 * fuzz_imap_listmatch.c to compare src/imap/listmatch.c against.
 */
#ifndef TERN_TESTS_LISTMATCH_REF_H
#define TERN_TESTS_LISTMATCH_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

static inline char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static inline bool ref_inbox(const char *s, size_t n)
{
	if (n < 5 || (n > 5 && s[5] != '/'))
		return false;
	for (size_t i = 0; i < 5; i++)
		if (lower(s[i]) != "inbox"[i])
			return false;
	return true;
}

static inline bool ref_match(const char *p, size_t pn, const char *s, size_t sn)
{
	bool inbox = ref_inbox(s, sn);
	bool *dp = calloc((pn + 1) * (sn + 1), sizeof *dp);
#define DP(i, j) dp[(i) * (sn + 1) + (j)]
	for (size_t i = pn + 1; i-- > 0;) {
		for (size_t j = sn + 1; j-- > 0;) {
			bool r;
			if (i == pn)
				r = j == sn;
			else if (p[i] == '*')
				r = DP(i + 1, j) || (j < sn && DP(i, j + 1));
			else if (p[i] == '%')
				r = DP(i + 1, j) || (j < sn && s[j] != '/' && DP(i, j + 1));
			else
				r = j < sn && (p[i] == s[j] || (inbox && j < 5 && lower(p[i]) == lower(s[j]))) &&
				    DP(i + 1, j + 1);
			DP(i, j) = r;
		}
	}
	bool r = DP(0, 0);
#undef DP
	free(dp);
	return r;
}

#endif
