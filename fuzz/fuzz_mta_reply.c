/*
 * fuzz_mta_reply.c — libFuzzer target for src/mta/reply.c.
 *
 * The input is what a hostile SMTP server sends.  It is parsed as a
 * stream of replies twice: fed whole, and fed in pieces whose sizes come
 * from the input's first octets; both must give the same replies and the
 * same final status.  Each complete reply also goes through the EHLO
 * capability parser and the joiner.  Besides the sanitizers, the target
 * aborts when a reply breaks an invariant: code range, enhanced code
 * syntax and class, line and size limits, NUL termination, control
 * characters in the joined text.  The input is also xtext-encoded and
 * decoded again by the SMTP server's decoder (when it has no control
 * characters, which that decoder refuses).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/reply.h"
#include "smtp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

#define MAX_REPLIES 64

struct seen {
	int code;
	char enhanced[16];
	char text[MTA_REPLY_TEXT_MAX];
	size_t nlines;
};

static void check_enhanced(const struct mta_reply *r)
{
	const char *e = r->enhanced;
	CHECK(memchr(e, '\0', sizeof r->enhanced));
	CHECK(e[0] - '0' == r->code / 100);
	CHECK(e[1] == '.');
	size_t i = 2, k = 0;
	while (e[i] >= '0' && e[i] <= '9') i++, k++;
	CHECK(k >= 1 && k <= 3 && e[i] == '.');
	i++;
	k = 0;
	while (e[i] >= '0' && e[i] <= '9') i++, k++;
	CHECK(k >= 1 && k <= 3 && e[i] == '\0');
}

static void check_reply(const struct mta_reply *r, struct seen *out)
{
	CHECK(r->code >= 200 && r->code <= 599);
	CHECK(r->nlines >= 1 && r->nlines <= MTA_REPLY_LINES_MAX);
	CHECK(r->lines.len <= MTA_REPLY_TOTAL_MAX);
	check_enhanced(r);
	size_t join = mta_reply_join(r, out->text, sizeof out->text);
	CHECK(join < sizeof out->text && out->text[join] == '\0' && strlen(out->text) == join);
	for (size_t i = 0; i < join; i++)
		CHECK((unsigned char)out->text[i] >= 0x20 && out->text[i] != 0x7f);
	size_t pos = 0, lines = 0, len;
	const char *t;
	while (mta_reply_text_line(r, &pos, &t, &len)) {
		CHECK(len <= MTA_REPLY_LINE_MAX);
		lines++;
	}
	CHECK(lines == r->nlines);
	struct mta_caps caps;
	mta_caps_parse(r, &caps);
	CHECK(!(caps.auth && !(caps.flags & MTA_CAP_AUTH)));
	CHECK(!(caps.size_limit && !(caps.flags & MTA_CAP_SIZE)));
	out->code = r->code;
	memcpy(out->enhanced, r->enhanced, sizeof out->enhanced);
	out->nlines = r->nlines;
}

/* Parse everything; chunk sizes from sizes[] (cycled), or all at once when nsizes is 0. */
static enum mta_reply_status run(const char *data, size_t n, const uint8_t *sizes, size_t nsizes,
				 struct seen *seen, size_t *nseen)
{
	struct mta_reply_parser p;
	mta_reply_parser_init(&p);
	size_t off = 0, k = 0;
	*nseen = 0;
	while (off < n && *nseen < MAX_REPLIES) {
		size_t len = n - off;
		if (nsizes) {
			size_t want = (size_t)sizes[k++ % nsizes] + 1;
			if (want < len)
				len = want;
		}
		size_t used = mta_reply_feed(&p, data + off, len);
		CHECK(used <= len);
		off += used;
		if (p.status == MTA_REPLY_ERROR)
			break;
		if (p.status == MTA_REPLY_DONE) {
			check_reply(&p.reply, &seen[(*nseen)++]);
			mta_reply_parser_next(&p);
		} else {
			CHECK(used == len);
		}
	}
	enum mta_reply_status st = p.status;
	mta_reply_parser_free(&p);
	return st;
}

static struct seen a[MAX_REPLIES], b[MAX_REPLIES];

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	/* First 4 octets: chunk sizes for the second pass. */
	size_t nsizes = n < 4 ? n : 4;
	const uint8_t *sizes = d;
	const char *data = (const char *)d + nsizes;
	size_t len = n - nsizes;

	size_t na, nb;
	enum mta_reply_status sa = run(data, len, NULL, 0, a, &na);
	enum mta_reply_status sb = run(data, len, sizes, nsizes, b, &nb);
	CHECK(na == nb);
	if (na < MAX_REPLIES)
		CHECK(sa == sb);
	for (size_t i = 0; i < na; i++) {
		CHECK(a[i].code == b[i].code && a[i].nlines == b[i].nlines);
		CHECK(strcmp(a[i].enhanced, b[i].enhanced) == 0);
		CHECK(strcmp(a[i].text, b[i].text) == 0);
	}

	/* xtext round trip through the server's decoder. */
	/* (The decoder refuses control characters, so only inputs without them.) */
	bool ctl = false;
	for (size_t i = 0; i < len; i++)
		ctl |= (unsigned char)data[i] < 0x20 || data[i] == 0x7f;
	if (len < 200 && !ctl) {
		struct buf x = BUF_INIT;
		mta_xtext_append(&x, data, len);
		for (size_t i = 0; i < x.len; i++)
			CHECK(x.data[i] > 32 && x.data[i] < 127 && x.data[i] != '=');
		char back[201];
		CHECK(smtp_xtext_decode(buf_cstr(&x), x.len, back, sizeof back));
		CHECK(strlen(back) == len && memcmp(back, data, len) == 0);
		buf_free(&x);
	}
	return 0;
}
