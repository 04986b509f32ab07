/*
 * log.h — one line per event on stderr, as key=value pairs.
 *
 *   level=info sys=smtp ts=2026-11-26T16:49:55.123Z session=S3Q7 msg=accepted ...
 *
 * Every line starts with the level and the subsystem.  The format string
 * supplies the rest; values that came from the network must go through lq()
 * so that a client cannot forge keys or lines.  Each line is written with a
 * single write(2), so lines from different threads never interleave.
 */
#ifndef TERN_LIB_LOG_H
#define TERN_LIB_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
bool log_parse_level(const char *name, enum log_level *out);
bool log_enabled(enum log_level level);
void log_write(enum log_level level, const char *sys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(sys, ...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, sys, __VA_ARGS__); } while (0)
#define log_info(sys, ...)  log_write(LOG_INFO, sys, __VA_ARGS__)
#define log_warn(sys, ...)  log_write(LOG_WARN, sys, __VA_ARGS__)
#define log_error(sys, ...) log_write(LOG_ERROR, sys, __VA_ARGS__)

/*
 * Quote a value for a log line: returned as is when it is a plain token,
 * else in double quotes with \" \\ and control bytes escaped; cut at 300
 * bytes.  The result lives in a per-thread ring of 8 buffers, so up to 8
 * may be used in one log call.
 */
const char *lq(const char *s);
const char *lqn(const char *s, size_t n);

#endif
