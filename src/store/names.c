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

bool store_name_mailbox(const char *name, char out[STORE_MAILBOX_NAME_MAX + 1])
{
	size_t n = strnlen(name, STORE_MAILBOX_NAME_MAX + 1);
	if (n == 0 || n > STORE_MAILBOX_NAME_MAX || !utf8_valid(name, n))
		return false;
	if (name[0] == '/' || name[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < ' ' || c == 0x7f || c == '*' || c == '%')
			return false;
		if (c == '/' && name[i + 1] == '/')
			return false;
		/* C1 controls U+0080..U+009F are C2 80..C2 9F in UTF-8 */
		if (c == 0xc2 && (unsigned char)name[i + 1] >= 0x80 && (unsigned char)name[i + 1] <= 0x9f)
			return false;
	}
	memcpy(out, name, n);
	out[n] = '\0';
	/* "inbox" and "inbox/x" mean INBOX and INBOX/x: one spelling in the index. */
	if (ascii_iprefix(out, n, "INBOX") && (n == 5 || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return true;
}

bool store_name_is_inbox(const char *name)
{
	return strcmp(name, "INBOX") == 0;
}
