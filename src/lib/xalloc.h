/*
 * xalloc.h — allocation that never returns NULL.
 *
 * Out of memory is not a condition tern can serve through meaningfully, so
 * these log and abort instead of making every caller check.  Limits on what a
 * client may make us allocate are enforced by the parsers, before allocating.
 */
#ifndef TERN_LIB_XALLOC_H
#define TERN_LIB_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xmemdup0(const void *p, size_t n);   /* copy of n bytes plus a NUL */

/* Free *pp and set it to NULL. */
#define XFREE(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

#endif
