/*
 * fuzz_tlsrpt_record.c — libFuzzer target for the TLSRPT record parser
 * (src/mta/tlsrpt_record.c, RFC 8460 §3), which reads hostile
 * _smtp._tls TXT records.
 *
 * The input is the record as given (no NUL needed, NULs allowed).  Besides
 * the sanitizers, the target aborts when a promise breaks: an accepted
 * record has 1..TLSRPT_RUA_MAX URIs; a mailto: address is printable
 * ASCII with exactly one '@' and none of the characters that could break
 * a header or a command (so the report's To: and RCPT TO are safe); an
 * https: host is a lower-case name with a non-zero port; and the answer
 * does not depend on the bytes after len.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void check_record(const struct tlsrpt_record *r)
{
	CHECK(r->nrua >= 1 && r->nrua <= TLSRPT_RUA_MAX);
	for (size_t i = 0; i < r->nrua; i++) {
		const struct tlsrpt_uri *u = &r->rua[i];
		CHECK(strlen(u->uri) <= TLSRPT_URI_MAX);
		if (u->kind == TLSRPT_MAILTO) {
			size_t ats = 0;
			for (const char *p = u->addr; *p; p++) {
				unsigned char c = (unsigned char)*p;
				CHECK(c > 0x20 && c < 0x7f && !strchr("<>,;:\"()\\", c));
				ats += c == '@';
			}
			CHECK(ats == 1 && u->addr[0] != '@');
		} else {
			CHECK(u->kind == TLSRPT_HTTPS);
			CHECK(u->host[0] && u->port != 0);
			for (const char *p = u->host; *p; p++)
				CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.');
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > TLSRPT_TXT_MAX + 16)
		return 0;
	/* An exact-size copy: ASan catches any read past len. */
	char *exact = malloc(n ? n : 1);
	memcpy(exact, d, n);
	static struct tlsrpt_record r1, r2;
	char why[128];
	enum tlsrpt_parse_result a = tlsrpt_record_parse(exact, n, &r1, why, sizeof why);
	if (a == TLSRPT_PARSE_OK)
		check_record(&r1);
	/* The same bytes followed by more: the same answer. */
	char *longer = malloc(n + 8);
	memcpy(longer, d, n);
	memcpy(longer + n, ";rua=x", 7);
	enum tlsrpt_parse_result b = tlsrpt_record_parse(longer, n, &r2, NULL, 0);
	CHECK(a == b);
	if (a == TLSRPT_PARSE_OK) {
		CHECK(r1.nrua == r2.nrua);
		for (size_t i = 0; i < r1.nrua; i++)
			CHECK(r1.rua[i].kind == r2.rua[i].kind && strcmp(r1.rua[i].uri, r2.rua[i].uri) == 0 &&
			      strcmp(r1.rua[i].addr, r2.rua[i].addr) == 0 && strcmp(r1.rua[i].host, r2.rua[i].host) == 0 &&
			      r1.rua[i].port == r2.rua[i].port);
	}
	free(longer);
	free(exact);
	return 0;
}
