/*
 * fuzz_spf_record.c — libFuzzer target for the SPF record parser
 * (spf_record.c) and the macro expander (spf_macro.c) on hostile input.
 * The first byte selects what the rest is:
 *
 *   sel % 3 == 0  a record (with "v=spf1 " put in front when sel & 8):
 *                 parsed, then every domain-spec of it expanded and made
 *                 into a DNS name
 *   sel % 3 == 1  an explain-string, expanded into a buffer of
 *                 (sel >> 2) bytes with the input's own bytes as the
 *                 macro values (so transformers split hostile text)
 *   sel % 3 == 2  a domain-spec: checked, expanded, finished
 *
 * What is accepted is checked for consistency (offsets inside the
 * record, expansions within their buffer, finished names <= 253 with
 * labels <= 63), and buffers are exactly sized so ASan sees overruns.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf_macro.h"
#include "mailauth/spf_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void check_name(const char *name)
{
	size_t len = strlen(name);
	assert(len >= 1 && len <= 253);
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			assert(label >= 1);
			label = 0;
		} else {
			assert(++label <= 63);
		}
	}
	assert(label >= 1);
}

static void expand_spec(const char *s, size_t len, const struct spf_macro_vars *v)
{
	char out[600];
	size_t olen = 0;
	enum spf_macro_status st = spf_macro_expand(s, len, SPF_MACRO_DOMAIN, v, out, sizeof out, &olen, NULL);
	/* a valid domain-spec is a valid macro-string */
	assert(st != SPF_MACRO_SYNTAX);
	if (st == SPF_MACRO_OK) {
		assert(olen < sizeof out && out[olen] == '\0' && strlen(out) == olen);
		if (spf_macro_domain_finish(out))
			check_name(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	uint8_t sel = d[0];
	const char *p = (const char *)d + 1;
	size_t len = n - 1;

	/* the input as a C string serves as every macro value */
	char *val = malloc(len + 1);
	memcpy(val, p, len);
	val[len] = '\0';
	struct spf_macro_vars v = {
		.sender = val, .local = val, .sender_domain = "example.org", .domain = val,
		.ip_dotted = "192.0.2.1", .ptr_name = "unknown", .helo = val, .ip_text = "192.0.2.1",
		.receiver = "mx.example.net", .timestamp = "1700000000", .ipv6 = sel & 16,
	};

	switch (sel % 3) {
	case 0: {
		size_t pre = sel & 8 ? 7 : 0;
		char *rec = malloc(pre + len + 1);
		memcpy(rec, "v=spf1 ", pre);
		memcpy(rec + pre, p, len);
		struct spf_record r;
		char why[96];
		if (spf_record_parse(rec, pre + len, &r, why, sizeof why)) {
			assert(r.len == pre + len && r.n_terms <= SPF_TERMS_MAX);
			for (size_t i = 0; i < r.n_terms; i++) {
				const struct spf_term *t = &r.terms[i];
				assert(t->text_off + t->text_len <= r.len && t->text_len > 0);
				assert(t->cidr4 <= 32 && t->cidr6 <= 128);
				assert(strchr("+-~?", t->qualifier));
				if (t->spec_len) {
					assert(t->spec_off >= t->text_off &&
					       t->spec_off + t->spec_len <= t->text_off + t->text_len);
					assert(spf_domain_spec_valid(r.text + t->spec_off, t->spec_len, NULL));
					expand_spec(r.text + t->spec_off, t->spec_len, &v);
				}
			}
			if (r.has_redirect)
				expand_spec(r.text + r.redirect_off, r.redirect_len, &v);
			if (r.has_exp)
				expand_spec(r.text + r.exp_off, r.exp_len, &v);
			spf_record_free(&r);
		} else {
			assert(strlen(why) < sizeof why);
		}
		free(rec);
		break;
	}
	case 1: {
		size_t outsize = sel >> 2;
		char *out = malloc(outsize ? outsize : 1);
		size_t olen = 12345;
		bool uses_p;
		enum spf_macro_status st =
			spf_macro_expand(p, len, SPF_MACRO_EXPLAIN, &v, outsize ? out : NULL, outsize, &olen, &uses_p);
		if (outsize) {
			assert(olen < outsize && out[olen] == '\0');
		}
		/* checking alone agrees with expanding about the syntax */
		enum spf_macro_status chk = spf_macro_expand(p, len, SPF_MACRO_EXPLAIN, NULL, NULL, 0, NULL, NULL);
		assert((st == SPF_MACRO_SYNTAX) == (chk == SPF_MACRO_SYNTAX));
		free(out);
		break;
	}
	case 2: {
		bool uses_p;
		if (spf_domain_spec_valid(p, len, &uses_p))
			expand_spec(p, len, &v);
		char *name = malloc(len + 1);
		memcpy(name, p, len);
		name[len] = '\0';
		if (spf_macro_domain_finish(name))
			check_name(name);
		free(name);
		break;
	}
	}
	free(val);
	return 0;
}
