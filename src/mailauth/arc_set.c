/*
 * arc_set.c — the ARC sets of a message's header section (RFC 8617 §4)
 * and the structural half of chain validation (§5.2 steps 2-3), before
 * any key is asked for: which ARC-Authentication-Results,
 * ARC-Message-Signature and ARC-Seal fields belong to which instance, and
 * whether together they can be a chain at all.
 *
 * The ARC-Message-Signature and ARC-Seal tag lists go through the DKIM
 * parser (dkim_sig.c, kinds DKIM_SIG_AMS and DKIM_SIG_AS); the AAR needs
 * only its leading i=.  Instances are bounded (1..50) before they are
 * used as an index.  Also the hash an ARC-Seal signs, which the verifier
 * and the sealer both need.
 */
#include "mailauth/arc_int.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool arc_aar_instance(const char *p, size_t n, unsigned *instance)
{
	size_t i = 0;
	while (i < n && is_fws(p[i]))
		i++;
	if (i == n || p[i] != 'i')
		return false;
	i++;
	while (i < n && is_fws(p[i]))
		i++;
	if (i == n || p[i] != '=')
		return false;
	i++;
	while (i < n && is_fws(p[i]))
		i++;
	unsigned v = 0;
	size_t digits = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
		if (digits == 9)
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	while (i < n && is_fws(p[i]))
		i++;
	if (digits == 0 || i == n || p[i] != ';')
		return false;
	*instance = v;
	return true;
}

static const struct {
	const char *name;
	size_t len;
	enum arc_member m;
} members[] = {
	{ "ARC-Authentication-Results", 26, ARC_AAR },
	{ "ARC-Message-Signature", 21, ARC_AMS },
	{ "ARC-Seal", 8, ARC_AS },
};

/* The i= of one ARC field (value: after the colon); for a seal also its cv= and d=. */
static bool field_instance(enum arc_member m, const char *value, size_t vlen, struct dkim_sig *sig,
			   unsigned *instance, const char **why)
{
	if (m == ARC_AAR) {
		if (!arc_aar_instance(value, vlen, instance)) {
			*why = "ARC-Authentication-Results without i=";
			return false;
		}
		return true;
	}
	const char *dummy;
	if (!dkim_sig_parse_arc(value, vlen, m == ARC_AS ? DKIM_SIG_AS : DKIM_SIG_AMS, sig, &dummy)) {
		*why = m == ARC_AS ? "malformed ARC-Seal" : "malformed ARC-Message-Signature";
		return false;
	}
	*instance = sig->instance;
	return true;
}

bool arc_sets_collect(const struct dkim_headers *h, struct arc_sets *s, const char **why)
{
	memset(s, 0, sizeof *s);
	struct dkim_sig *sig = xmalloc(sizeof *sig);
	const char *fail = NULL;
	bool any = false;
	for (size_t k = 0; k < h->nfields; k++) {
		const struct dkim_field *f = &h->fields[k];
		size_t j = 0;
		while (j < sizeof members / sizeof members[0] && !dkim_field_is(h, f, members[j].name, members[j].len))
			j++;
		if (j == sizeof members / sizeof members[0])
			continue;
		any = true;
		if (fail)
			continue;       /* keep looking only for the highest instance */
		enum arc_member m = members[j].m;
		const char *field = h->raw.data + f->off;
		const char *colon = memchr(field, ':', f->len);
		size_t voff = (size_t)(colon - field) + 1;
		unsigned inst;
		if (!field_instance(m, field + voff, f->len - voff, sig, &inst, &fail))
			continue;
		if (inst > s->n)
			s->n = inst;
		if (inst == 0 || inst > ARC_MAX_INSTANCE) {
			fail = "i= out of 1..50";
			continue;
		}
		if (s->field[inst][m]) {
			fail = "duplicate ARC field for one instance";
			continue;
		}
		s->field[inst][m] = k + 1;
		if (m == ARC_AS) {
			s->cv[inst] = sig->cv;
			if (inst >= s->n)
				memcpy(s->newest_d, sig->d, sizeof s->newest_d);
		}
	}
	free(sig);
	if (any && s->n == 0)
		s->n = 1;           /* ARC fields, none readable: a seal would still come after them */
	if (!fail && s->n) {
		/* RFC 8617 §5.2: the newest seal's cv=fail ends the chain; then the structure, oldest first. */
		if (s->field[s->n][ARC_AS] && s->cv[s->n] == DKIM_CV_FAIL)
			fail = "ARC-Seal says cv=fail";
		for (unsigned i = 1; i <= s->n && !fail; i++) {
			if (!s->field[i][ARC_AAR] || !s->field[i][ARC_AMS] || !s->field[i][ARC_AS])
				fail = "incomplete ARC set";
			else if (s->cv[i] == DKIM_CV_FAIL)
				fail = "ARC-Seal says cv=fail";
			else if (i == 1 && s->cv[i] != DKIM_CV_NONE)
				fail = "ARC-Seal i=1 without cv=none";
			else if (i > 1 && s->cv[i] != DKIM_CV_PASS)
				fail = "ARC-Seal without cv=pass";
		}
	}
	*why = fail;
	return fail == NULL;
}

const char *arc_sets_get(const struct dkim_headers *h, const struct arc_sets *s, unsigned i, enum arc_member m,
			 size_t *len)
{
	*len = 0;
	if (i == 0 || i > ARC_MAX_INSTANCE || i > s->n || !s->field[i][m])
		return NULL;
	const struct dkim_field *f = &h->fields[s->field[i][m] - 1];
	*len = f->len;
	return h->raw.data + f->off;
}

void arc_seal_hash(const struct arc_field *f, size_t n, size_t b_start, size_t b_end, uint8_t md[32])
{
	struct buf data = BUF_INIT;
	for (size_t k = 0; k + 1 < n; k++)
		dkim_canon_header(DKIM_CANON_RELAXED, f[k].p, f[k].len, &data);
	if (n) {
		const struct arc_field *last = &f[n - 1];
		struct buf seal = BUF_INIT;
		buf_append(&seal, last->p, b_start);
		buf_append(&seal, last->p + b_end, last->len - b_end);
		dkim_canon_header(DKIM_CANON_RELAXED, seal.data, seal.len, &data);
		buf_free(&seal);
		data.len -= 2;      /* the seal goes without its CRLF */
	}
	unsigned int l;
	EVP_Digest(data.data ? data.data : "", data.len, md, &l, EVP_sha256(), NULL);
	buf_free(&data);
}
