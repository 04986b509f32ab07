/*
 * iplimit.h — count concurrent connections per client IP, process-wide.
 */
#ifndef TERN_NET_IPLIMIT_H
#define TERN_NET_IPLIMIT_H

#include <stdbool.h>

/* Take a slot for ip unless it already holds max (max 0 = unlimited). */
bool iplimit_acquire(const char *ip, unsigned max);
void iplimit_release(const char *ip);

#endif
