/*
 * cte.h — Content-Transfer-Encoding: recognising the token and decoding
 * base64 / quoted-printable bodies (for IMAP BINARY, RFC 3516).
 *
 * Decoders take (pointer, length) and never fail: malformed input decodes
 * best effort (stray characters in base64 are skipped, a bad "=" sequence
 * in quoted-printable is kept literally).  Output is at most as long as
 * the input.
 */
#ifndef TERN_MAIL_CTE_H
#define TERN_MAIL_CTE_H

#include <stddef.h>

#include "lib/buf.h"

enum mail_cte {
	MAIL_CTE_NONE,          /* no Content-Transfer-Encoding field: 7bit */
	MAIL_CTE_7BIT,
	MAIL_CTE_8BIT,
	MAIL_CTE_BINARY,
	MAIL_CTE_BASE64,
	MAIL_CTE_QP,
	MAIL_CTE_UNKNOWN,       /* BINARY must answer [UNKNOWN-CTE] */
};

/* The encoding named by a field value s[0..n) (whitespace and comments around the token allowed). */
enum mail_cte mail_cte_parse(const char *s, size_t n);

/* One character per encoding, for the part map; and back ('?' / MAIL_CTE_UNKNOWN for junk). */
char mail_cte_char(enum mail_cte cte);
enum mail_cte mail_cte_from_char(char c);

/* Append the decoded body to out: identity for none/7bit/8bit/binary/unknown. */
void mail_cte_decode(enum mail_cte cte, const char *s, size_t n, struct buf *out);
void mail_qp_decode(const char *s, size_t n, struct buf *out);

#endif
