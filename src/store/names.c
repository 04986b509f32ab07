/*
 * names.c — checks for domain names, local parts, addresses and aliases
 * before they reach the index; see names.h for the rules.
 */
#include "store/names.h"

#include <string.h>

#include "lib/util.h"

bool store_name_domain(const char *domain, char out[STORE_DOMAIN_MAX + 1])
{
	size_t n = strnlen(domain, STORE_DOMAIN_MAX + 1);
	if (n == 0 || n > STORE_DOMAIN_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (c == '.') {
			/* empty label, or a label ending with '-' */
			if (label == 0 || domain[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-';
		if (!ok || (c == '-' && label == 0) || ++label > 63)
			return false;
	}
	if (label == 0 || domain[n - 1] == '-')
		return false;
	memcpy(out, domain, n);
	out[n] = '\0';
	ascii_lower(out, n);
	return true;
}

bool store_name_local_valid(const char *local, size_t n)
{
	static const char specials[] = "()<>[]:;@\\,\"";
	if (n == 0 || n > STORE_LOCAL_MAX)
		return false;
	bool ascii = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c <= ' ' || c == 0x7f || memchr(specials, c, sizeof specials - 1))
			return false;
		if (c >= 0x80)
			ascii = false;
	}
	return ascii || utf8_valid(local, n);
}

static bool split(const char *address, struct store_addr *out, bool allow_empty_local)
{
	size_t n = strnlen(address, STORE_ADDRESS_MAX + 1);
	if (n > STORE_ADDRESS_MAX)
		return false;
	const char *at = memrchr(address, '@', n);
	if (!at)
		return false;
	size_t llen = (size_t)(at - address);
	if (llen == 0) {
		if (!allow_empty_local)
			return false;
	} else if (!store_name_local_valid(address, llen)) {
		return false;
	}
	if (!store_name_domain(at + 1, out->domain))
		return false;
	memcpy(out->local, address, llen);
	out->local[llen] = '\0';
	return true;
}

bool store_name_address(const char *address, struct store_addr *out)
{
	return split(address, out, false);
}

bool store_name_alias(const char *alias, struct store_addr *out)
{
	return split(alias, out, true);
}

size_t store_name_untagged_len(const char *local)
{
	const char *plus = strchr(local, '+');
	if (!plus || plus == local)
		return 0;
	return (size_t)(plus - local);
}
