/*
 * throttle.h — brute-force throttling of logins, per client IP and per
 * account name.
 *
 * Each failure raises a counter for the IP and for the name tried (whether
 * or not such an account exists); the answer to a failed attempt is delayed
 * by base * 2^(n-1), capped at max, where n is the larger of the two
 * counters.  Counters decay after 15 minutes without failures.  A success
 * clears the IP's counter and the account's.  Thread-safe; memory is
 * bounded (oldest entries are dropped past a fixed table size).
 */
#ifndef TERN_AUTH_THROTTLE_H
#define TERN_AUTH_THROTTLE_H

#include <stdint.h>

void auth_throttle_configure(uint64_t base_ms, uint64_t max_ms);

/* Record a failure; returns the delay (ms) to wait before answering it. */
uint64_t auth_throttle_failure(const char *ip, const char *user);
void auth_throttle_success(const char *ip, const char *user);

/* Current delay for ip/user without recording anything (0 when clean). */
uint64_t auth_throttle_peek(const char *ip, const char *user);

/* Test hook: the millisecond clock used for decay (NULL restores now_ms). */
void auth_throttle_set_clock(uint64_t (*clock)(void));

#endif
