/*
 * fuzz_smtp_parse.c — libFuzzer target for src/smtp/parse.c.
 *
 * The input is one SMTP command line (without CRLF).  It goes through the
 * verb splitter, then through every argument parser (MAIL, RCPT with and
 * without SMTPUTF8, BDAT, HELO, xtext), whatever the verb was.  Besides the
 * sanitizers, the target aborts when an output is not NUL-terminated inside
 * its array, when an error reply is incomplete, or when an address the
 * parser produced does not parse again to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)
#define TERMINATED(arr) CHECK(memchr((arr), '\0', sizeof(arr)) != NULL)

static void check_error(const struct smtp_error *err)
{
	CHECK(err->code >= 500 && err->code <= 599);
	CHECK(err->enhanced != NULL && err->text != NULL && err->text[0] != '\0');
	CHECK(strlen(err->enhanced) == 5 && err->enhanced[0] == '5');
}

/* Nothing that came out of the parser may carry a control character into headers or logs. */
static void check_clean(const char *s)
{
	for (; *s; s++) {
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
		CHECK(!((unsigned char)s[0] == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] < 0xa0));
	}
}

static void check_path(const struct smtp_path *p, bool smtputf8)
{
	TERMINATED(p->localpart);
	TERMINATED(p->domain);
	TERMINATED(p->address);
	check_clean(p->localpart);
	check_clean(p->address);
	CHECK(strlen(p->localpart) <= SMTP_MAX_LOCALPART);
	CHECK(strlen(p->domain) <= SMTP_MAX_DOMAIN);
	/* lower-case ASCII, A-labels only; literals keep the "IPv6:" tag as RFC 5321 spells it */
	for (const char *c = p->domain + (p->address_literal ? 6 : 0); *c; c++)
		CHECK(!(*c >= 'A' && *c <= 'Z') && (unsigned char)*c < 0x80);
	if (!smtputf8)
		for (const char *c = p->address; *c; c++)
			CHECK((unsigned char)*c < 0x80);
	if (p->null) {
		CHECK(p->address[0] == '\0');
		return;
	}
	CHECK(p->address[0] != '\0');
	CHECK(p->postmaster == (p->domain[0] == '\0'));

	/* The address we hand out must itself be a valid path, and the same one. */
	char line[SMTP_MAX_PATH * 2 + 16];
	int len = snprintf(line, sizeof line, "TO:<%s>", p->address);
	CHECK(len > 0 && (size_t)len < sizeof line);
	if (strlen(p->address) + 2 > SMTP_MAX_PATH)
		return;         /* IDN conversion can lengthen the domain past the path limit */
	struct smtp_rcpt_args again;
	struct smtp_error err;
	CHECK(smtp_parse_rcpt(line, (size_t)len, true, &again, &err));
	CHECK(strcmp(again.path.address, p->address) == 0);
	CHECK(strcmp(again.path.localpart, p->localpart) == 0);
	CHECK(strcmp(again.path.domain, p->domain) == 0);
	CHECK(again.path.relay_hack == p->relay_hack);
}

static void run_args(const char *a, size_t n)
{
	struct smtp_error err;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;

	memset(&err, 0, sizeof err);
	if (smtp_parse_mail(a, n, &m, &err)) {
		check_path(&m.path, m.smtputf8);
		CHECK(m.path.null || m.path.address[0]);
	} else {
		check_error(&err);
	}
	TERMINATED(m.envid);
	TERMINATED(m.auth);
	check_clean(m.envid);
	check_clean(m.auth);

	for (int utf8 = 0; utf8 <= 1; utf8++) {
		memset(&err, 0, sizeof err);
		if (smtp_parse_rcpt(a, n, utf8, &r, &err)) {
			check_path(&r.path, utf8);
			CHECK(!r.path.null);
			CHECK(!(r.notify & SMTP_NOTIFY_NEVER) || r.notify == SMTP_NOTIFY_NEVER);
		} else {
			check_error(&err);
		}
		TERMINATED(r.orcpt);
		check_clean(r.orcpt);
	}

	uint64_t size;
	bool last;
	memset(&err, 0, sizeof err);
	if (!smtp_parse_bdat(a, n, &size, &last, &err))
		check_error(&err);

	memset(&err, 0, sizeof err);
	if (!smtp_parse_helo(a, n, &err))
		check_error(&err);

	char out[101];
	memset(out, 'X', sizeof out);
	smtp_xtext_decode(a, n, out, sizeof out);
	TERMINATED(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *line = (const char *)d;
	const char *args;
	size_t argslen;

	enum smtp_verb v = smtp_parse_verb(line, n, &args, &argslen);
	CHECK(v >= SMTP_UNKNOWN && v <= SMTP_AUTH);
	CHECK(args >= line && args + argslen <= line + n);

	run_args(args, argslen);
	return 0;
}
