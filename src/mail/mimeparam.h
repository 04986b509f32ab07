/*
 * mimeparam.h — MIME structured fields: Content-Type, Content-Disposition,
 * Content-Language, and their parameters (RFC 2045, RFC 2183, RFC 2231).
 *
 * Parameters keep their names as written and their values unquoted.  RFC
 * 2231 continuations are merged the way Dovecot presents them in
 * BODYSTRUCTURE: name*0, name*1, ... become one "name", and when any
 * segment is charset-encoded the result is one "name*" whose value keeps
 * the charset'language'%XX form (plain segments get their '%' escaped);
 * mail_param_decode() turns such a value into UTF-8.  A continuation set
 * with gaps or duplicates is left unmerged.  Malformed parameters are
 * skipped up to the next ";".  At most MAIL_MAX_PARAMS per field.
 *
 * Used by mime.c (the tree and the multipart boundary) and bodystructure.c.
 */
#ifndef TERN_MAIL_MIMEPARAM_H
#define TERN_MAIL_MIMEPARAM_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define MAIL_MAX_PARAMS 100
#define MAIL_MAX_LANGUAGES 32

struct mail_param {
	char *name;             /* NUL-terminated token */
	char *value;            /* NUL-terminated copy; may hold NULs, value_len is the truth */
	size_t value_len;
};

struct mail_params {
	struct mail_param *v;
	size_t n;
};

struct mail_slice {
	const char *p;
	size_t len;
};

/*
 * Content-Type value s[0..n) (unfolded).  On success type and subtype are
 * set (NUL-terminated copies, case as written) and the parameters parsed;
 * on a malformed value returns false with everything NULL/empty.
 */
bool mail_content_type_parse(const char *s, size_t n, char **type, char **subtype,
			     struct mail_params *params);

/* Content-Disposition: "token *(; param)".  False (and NULL) when malformed. */
bool mail_disposition_parse(const char *s, size_t n, char **disp, struct mail_params *params);

/* Content-Language: comma-separated tags; returns how many were stored in tags[]. */
size_t mail_language_parse(const char *s, size_t n, struct mail_slice *tags, size_t max);

/* First parameter whose name equals name (ASCII case-insensitive), or NULL. */
const struct mail_param *mail_params_get(const struct mail_params *p, const char *name);
void mail_params_free(struct mail_params *p);

/*
 * Append the value of p as UTF-8: RFC 2231 charset'lang'%XX decoding for
 * names ending in "*", RFC 2047 encoded words (which mailers put in
 * filename="...") otherwise.
 */
void mail_param_decode(const struct mail_param *p, struct buf *out);

#endif
