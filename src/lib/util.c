/* util.c — see util.h. */
#include "lib/util.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool ascii_ieq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z') x += 32;
		if (y >= 'A' && y <= 'Z') y += 32;
		if (x != y)
			return false;
	}
	return true;
}

bool ascii_iprefix(const char *s, size_t n, const char *prefix)
{
	size_t plen = strlen(prefix);
	return n >= plen && ascii_ieq(s, plen, prefix);
}

void ascii_lower(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] + 32);
}

bool is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

bool utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
		else return false;
		if (i + len > n)
			return false;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/*
 * Random octets for ids, taken from a per-thread pool refilled from
 * RAND_bytes 512 at a time: one call per message and connection cost
 * OpenSSL's fork check (a getpid) and DRBG set-up each time.
 */
static void random_octets(unsigned char *out, size_t n)
{
	static __thread unsigned char pool[512];
	static __thread size_t avail;
	while (n) {
		if (!avail) {
			if (RAND_bytes(pool, (int)sizeof pool) != 1) {
				/* RAND_bytes only fails when the OS has no entropy: ids need uniqueness, not secrecy. */
				static __thread uint64_t fallback;
				fallback += now_ms() ^ (uint64_t)(uintptr_t)out;
				for (size_t i = 0; i < sizeof pool; i++)
					pool[i] = (unsigned char)(fallback >> ((i % 8) * 8)) ^ (unsigned char)i;
			}
			avail = sizeof pool;
		}
		size_t take = n < avail ? n : avail;
		memcpy(out, pool + sizeof pool - avail, take);
		memset(pool + sizeof pool - avail, 0, take);
		avail -= take;
		out += take;
		n -= take;
	}
}

void random_id(char *out, size_t n)
{
	static const char alphabet[] = "0123456789BCDFGHJKLMNPQRSTVWXYZ"; /* 31, no vowels but Y */
	unsigned char rnd[64];
	if (n > sizeof rnd)
		n = sizeof rnd;
	random_octets(rnd, n);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
	out[n] = '\0';
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int64_t now_unix(void)
{
	return (int64_t)time(NULL);
}

void format_rfc5322_date(char *out, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

bool write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return false;
		}
		c += w;
		n -= (size_t)w;
	}
	return true;
}
