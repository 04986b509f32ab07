/*
 * binary.c — a MIME entity with its content-transfer-encodings undone
 * (see binary.h).
 *
 * One MIME parse of the entity gives every leaf's encoding field and body
 * range in document order; the output is the input with those ranges
 * replaced, so the work is linear in the entity and the parser's limits
 * (MAIL_MAX_DEPTH, MAIL_MAX_PARTS) bound it like everything else.
 */
#include "mail/binary.h"

#include "mail/cte.h"
#include "mail/mime.h"

static bool decodable(enum mail_cte cte)
{
	return cte == MAIL_CTE_BASE64 || cte == MAIL_CTE_QP;
}

bool mail_binary_entity(const char *ent, size_t len, struct buf *out, size_t *body_off)
{
	struct mail_mime m;
	mail_mime_parse(ent, len, &m);
	const struct mail_part *top = &m.parts[0];
	if (top->kind == MAIL_PART_LEAF && top->cte == MAIL_CTE_UNKNOWN) {
		mail_mime_free(&m);
		return false;
	}
	size_t start = out->len, copied = 0;
	*body_off = top->body_start;
	for (size_t i = 0; i < m.nparts; i++) {
		const struct mail_part *p = &m.parts[i];
		if (p->kind != MAIL_PART_LEAF || !decodable(p->cte) || !p->encoding.present ||
		    p->encoding.off < copied || p->body_end < p->body_start)
			continue;
		/* The field's value (after the colon) says what the body now is. */
		buf_append(out, ent + copied, p->encoding.off - copied);
		buf_puts(out, " binary");
		buf_append(out, ent + p->encoding.off + p->encoding.len, p->body_start - (p->encoding.off + p->encoding.len));
		if (i == 0)
			*body_off = out->len - start;
		mail_cte_decode(p->cte, ent + p->body_start, p->body_end - p->body_start, out);
		copied = p->body_end;
	}
	buf_append(out, ent + copied, len - copied);
	mail_mime_free(&m);
	return true;
}
