/*
 * fuzz_dns_rdata.c — libFuzzer target for the rdata parsers of
 * src/dns/rdata.c, the mapping of a whole answer (dns_answer_build) and
 * the name helpers of name.c.  The first byte selects what the rest is:
 *
 *   0 a wire name (dns_rdata_name; the next byte limits the output size)
 *   1 MX   2 A   3 AAAA   4 TXT   5 TLSA   6 PTR
 *   7 an answer: next byte the type, then records as 2-byte length + rdata
 *
 * Whatever the selector, the bytes as a C string also go through
 * dns_name_valid() and dns_reverse_name().  What a parser accepts is
 * checked for consistency (a parsed name encodes back to the wire bytes
 * it came from, lengths add up, text fits), and everything allocated is
 * freed, so LeakSanitizer catches a parser that leaks on failure.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "dns/dns_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/*
 * A name's text without escapes back to wire form, compared with the
 * lower-cased wire bytes it came from.
 */
static void check_name_roundtrip(const uint8_t *wire, size_t used, const char *text)
{
	assert(used >= 1 && used <= 255);
	assert(strlen(text) < DNS_NAME_TEXT_MAX);
	if (strchr(text, '\\'))
		return;
	uint8_t back[256];
	size_t o = 0;
	const char *p = text;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		assert(l >= 1 && l <= 63 && o + 1 + l < sizeof back);
		back[o++] = (uint8_t)l;
		memcpy(back + o, p, l);
		o += l;
		p += l;
		if (*p == '.')
			p++;
	}
	back[o++] = 0;
	assert(o == used);
	for (size_t i = 0; i < used; i++)
		assert(back[i] == (uint8_t)tolower(wire[i]));
	/* A name that needs no escape is a valid query name unless it is the root. */
	assert(dns_name_valid(text) == (text[0] != '\0'));
}

static void fuzz_name(const uint8_t *d, size_t n)
{
	if (n < 1)
		return;
	size_t outsize = d[0] == 0xff ? DNS_NAME_TEXT_MAX : d[0];
	d++;
	n--;
	char *out = malloc(outsize ? outsize : 1);   /* exactly outsize: ASan sees any overrun */
	size_t used = 0;
	if (dns_rdata_name(d, n, &used, out, outsize)) {
		assert(used <= n);
		assert(strlen(out) < outsize);
		check_name_roundtrip(d, used, out);
	}
	free(out);
}

static void fuzz_answer(const uint8_t *d, size_t n)
{
	static const enum dns_type types[] = { DNS_A, DNS_AAAA, DNS_MX, DNS_TXT, DNS_TLSA, DNS_PTR };
	if (n < 1)
		return;
	enum dns_type t = types[d[0] % 6];
	uint8_t flags = d[0] / 6;
	d++;
	n--;
	char *data[17];
	int len[17];
	size_t k = 0;
	while (k < 16 && n >= 2) {
		size_t l = (size_t)d[0] << 8 | d[1];
		d += 2;
		n -= 2;
		if (l > n)
			l = n;
		data[k] = malloc(l ? l : 1);
		memcpy(data[k], d, l);
		len[k] = (int)l;
		k++;
		d += l;
		n -= l;
	}
	data[k] = NULL;
	len[k] = 0;
	struct ub_result u;
	memset(&u, 0, sizeof u);
	u.qname = "fuzz.example";
	u.qtype = (int)t;
	u.qclass = 1;
	u.data = data;
	u.len = len;
	u.havedata = k > 0;
	u.rcode = flags & 1 ? 3 : flags & 2 ? 2 : 0;
	u.nxdomain = u.rcode == 3;
	u.secure = (flags & 4) != 0;
	u.bogus = (flags & 8) != 0;
	u.why_bogus = u.bogus ? "fuzz" : NULL;

	struct dns_result r;
	dns_answer_build(&u, t, &r);
	assert(r.type == t);
	if (r.status == DNS_OK) {
		assert(r.n >= 1 && r.n <= k);
		assert(!r.bogus);
		for (size_t i = 0; i < r.n; i++) {
			switch (t) {
			case DNS_MX:
				assert(strlen(r.mx[i].host) < sizeof r.mx[i].host);
				if (i > 0)
					assert(r.mx[i - 1].pref <= r.mx[i].pref);
				break;
			case DNS_A:
			case DNS_AAAA:
				assert(strlen(r.addrs[i]) < 46);
				break;
			case DNS_TXT:
				assert(r.txt[i].data[r.txt[i].len] == '\0');
				break;
			case DNS_TLSA:
				assert(r.tlsa[i].data != NULL);
				break;
			case DNS_PTR:
				assert(strlen(r.names[i]) < DNS_NAME_TEXT_MAX);
				break;
			}
		}
		if (r.null_mx)
			assert(t == DNS_MX && r.n == 1 && r.mx[0].host[0] == '\0');
	} else {
		assert(r.n == 0);
		if (r.bogus)
			assert(r.status == DNS_TEMPFAIL && !r.secure);
	}
	dns_answer_free(&r);
	assert(r.n == 0 && !r.mx && !r.addrs && !r.txt && !r.tlsa && !r.names);
	for (size_t i = 0; i < k; i++)
		free(data[i]);
}

static void fuzz_strings(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);
	memcpy(s, d, n);
	s[n] = '\0';
	if (dns_name_valid(s)) {
		size_t l = strlen(s);
		assert(l >= 1 && l <= 254);
		assert(!strchr(s, '\\') && !strstr(s, ".."));
	}
	char rev[128];
	if (dns_reverse_name(s, rev, sizeof rev)) {
		assert(dns_name_valid(rev));
		/* the exact size needed suffices, one less does not */
		size_t need = strlen(rev) + 1;
		char *exact = malloc(need);
		assert(dns_reverse_name(s, exact, need));
		assert(strcmp(exact, rev) == 0);
		assert(!dns_reverse_name(s, exact, need - 1));
		free(exact);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	uint8_t sel = d[0];
	const uint8_t *p = d + 1;
	size_t len = n - 1;
	/* Each rdata in a buffer of exactly its size, so that a read past it is caught. */
	uint8_t *rd = malloc(len ? len : 1);
	memcpy(rd, p, len);

	switch (sel % 8) {
	case 0:
		fuzz_name(rd, len);
		break;
	case 1: {
		struct dns_mx mx;
		if (dns_rdata_mx(rd, len, &mx)) {
			assert(len >= 3 && mx.pref == ((unsigned)rd[0] << 8 | rd[1]));
			assert(strlen(mx.host) <= 253 || strchr(mx.host, '\\'));
		}
		break;
	}
	case 2:
	case 3: {
		char out[46];
		enum dns_type t = sel % 8 == 2 ? DNS_A : DNS_AAAA;
		size_t outsize = sel >= 8 ? (size_t)(sel >> 3) : sizeof out;   /* small buffers too */
		if (dns_rdata_addr(rd, len, t, out, outsize)) {
			assert(len == (t == DNS_A ? 4u : 16u));
			assert(strlen(out) < outsize);
		}
		break;
	}
	case 4: {
		struct dns_txt t = { 0 };
		if (dns_rdata_txt(rd, len, &t)) {
			assert(t.len <= len && t.data[t.len] == '\0');
			free(t.data);
		} else {
			assert(t.data == NULL);
		}
		break;
	}
	case 5: {
		struct dns_tlsa t = { 0 };
		if (dns_rdata_tlsa(rd, len, &t)) {
			assert(len >= 3 && t.len == len - 3);
			assert(memcmp(t.data, rd + 3, t.len) == 0);
			free(t.data);
		} else {
			assert(len < 3 && t.data == NULL);
		}
		break;
	}
	case 6: {
		char out[DNS_NAME_TEXT_MAX];
		size_t used;
		if (dns_rdata_ptr(rd, len, out, sizeof out)) {
			assert(dns_rdata_name(rd, len, &used, out, sizeof out) && used == len);
			check_name_roundtrip(rd, used, out);
		}
		break;
	}
	case 7:
		fuzz_answer(rd, len);
		break;
	}
	free(rd);
	fuzz_strings(p, len);
	return 0;
}
