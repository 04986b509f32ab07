/*
 * name.c — domain names as the resolver's callers give them: the syntax
 * check of dns_lookup()'s argument, the reverse (PTR) name of an address,
 * and the status names the CLI and logs print.
 */
#include "dns/dns_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool dns_name_valid(const char *name)
{
	if (!name)
		return false;
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	/* 253 characters of text are the 255 octets of the wire form. */
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		/*
		 * Only printable ASCII: IDNs must arrive as A-labels, and a
		 * backslash would be read by libunbound as an escape, letting a
		 * name from the network (an MX host) mean something else than
		 * its text says.
		 */
		if (ch <= ' ' || ch >= 0x7f || ch == '\\')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

bool dns_reverse_name(const char *ip, char *out, size_t outsize)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1) {
		int w = snprintf(out, outsize, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return w > 0 && (size_t)w < outsize;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return false;
	static const char hex[] = "0123456789abcdef";
	/* 32 nibbles with a dot after each, then "ip6.arpa", then NUL. */
	if (outsize < 32 * 2 + sizeof "ip6.arpa")
		return false;
	size_t o = 0;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof "ip6.arpa");
	return true;
}

const char *dns_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "OK";
	case DNS_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_NODATA:
		return "NODATA";
	case DNS_TEMPFAIL:
		return "TEMPFAIL";
	case DNS_BADNAME:
		return "BADNAME";
	}
	return "?";
}
