/*
 * rdata.c — wire-format rdata of the types tern asks for (MX, A, AAAA,
 * TXT, TLSA, PTR) into struct dns_* (dns.h).  See dns_int.h for the rules
 * every parser keeps; fuzz/fuzz_dns_rdata.c and tests/unit/test_dns.c call
 * these directly.
 */
#include "dns/dns_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* RFC 1035 §3.1: 255 octets on the wire, labels of 63. */
#define WIRE_NAME_MAX 255
#define LABEL_MAX 63

/* Append one label byte in presentation form; false when out is full. */
static bool put_label_byte(char *out, size_t outsize, size_t *o, uint8_t ch)
{
	char esc[5];
	size_t n;
	if (ch >= 'A' && ch <= 'Z') {
		esc[0] = (char)(ch - 'A' + 'a');
		n = 1;
	} else if (ch == '.' || ch == '\\') {
		esc[0] = '\\';
		esc[1] = (char)ch;
		n = 2;
	} else if (ch > ' ' && ch < 0x7f) {
		esc[0] = (char)ch;
		n = 1;
	} else {
		snprintf(esc, sizeof esc, "\\%03u", (unsigned)ch);
		n = 4;
	}
	/* Keep room for the NUL. */
	if (outsize - *o <= n)
		return false;
	memcpy(out + *o, esc, n);
	*o += n;
	return true;
}

bool dns_rdata_name(const uint8_t *p, size_t len, size_t *used, char *out, size_t outsize)
{
	size_t i = 0, o = 0;
	if (outsize == 0)
		return false;
	out[0] = '\0';
	for (;;) {
		if (i >= len)
			return false;           /* ran off the rdata before the root label */
		uint8_t l = p[i++];
		if (l == 0)
			break;
		/* 0xC0: a compression pointer; 0x40/0x80: obsolete extended labels. */
		if (l > LABEL_MAX)
			return false;
		if (l > len - i)
			return false;
		/* i is now the wire length so far minus the final root byte. */
		if (i + l + 1 > WIRE_NAME_MAX)
			return false;
		if (o > 0) {
			if (outsize - o <= 1)
				return false;
			out[o++] = '.';
		}
		for (size_t k = 0; k < l; k++)
			if (!put_label_byte(out, outsize, &o, p[i + k]))
				return false;
		i += l;
	}
	out[o] = '\0';
	*used = i;
	return true;
}

bool dns_rdata_mx(const uint8_t *p, size_t len, struct dns_mx *out)
{
	size_t used;
	if (len < 3)
		return false;
	if (!dns_rdata_name(p + 2, len - 2, &used, out->host, sizeof out->host) || used != len - 2)
		return false;
	out->pref = (unsigned)p[0] << 8 | p[1];
	return true;
}

bool dns_rdata_addr(const uint8_t *p, size_t len, enum dns_type type, char *out, size_t outsize)
{
	int af;
	if (type == DNS_A && len == 4)
		af = AF_INET;
	else if (type == DNS_AAAA && len == 16)
		af = AF_INET6;
	else
		return false;
	if (outsize > (size_t)INT32_MAX)
		outsize = INT32_MAX;
	return inet_ntop(af, p, out, (socklen_t)outsize) != NULL;
}

bool dns_rdata_txt(const uint8_t *p, size_t len, struct dns_txt *out)
{
	/* Check the whole record first, so that nothing is allocated for a bad one. */
	size_t i = 0, total = 0;
	while (i < len) {
		size_t l = p[i++];
		if (l > len - i)
			return false;
		i += l;
		total += l;
	}
	/* total < len <= the rdata's 16-bit length: bounded by what arrived. */
	char *d = xmalloc(total + 1);
	size_t o = 0;
	for (i = 0; i < len;) {
		size_t l = p[i++];
		memcpy(d + o, p + i, l);
		o += l;
		i += l;
	}
	d[o] = '\0';
	out->len = o;
	out->data = d;
	return true;
}

bool dns_rdata_tlsa(const uint8_t *p, size_t len, struct dns_tlsa *out)
{
	if (len < 3)
		return false;
	out->usage = p[0];
	out->selector = p[1];
	out->mtype = p[2];
	out->len = len - 3;
	/* Empty association data is well-formed wire and simply never matches. */
	out->data = xmalloc(out->len ? out->len : 1);
	memcpy(out->data, p + 3, out->len);
	return true;
}

bool dns_rdata_ptr(const uint8_t *p, size_t len, char *out, size_t outsize)
{
	size_t used;
	return dns_rdata_name(p, len, &used, out, outsize) && used == len;
}
