/*
 * fuzz_store_resolve.c — alias graphs from the input, then resolution and
 * the sender check over them: no crash, bounded work, results within the
 * limits.  Input: lines "alias target" / "account name" / "?address".
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static struct store *s;
static char dir[64];

static void fresh(void)
{
	if (s) {
		store_close(&s);
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			abort();
	}
	strcpy(dir, "/dev/shm/fz-resolve-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	s = store_open(dir);
	store_domain_add(s, "a.example");
	store_domain_add(s, "b.example");
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static int runs;
	log_set_level(LOG_ERROR);
	if (!s || ++runs % 200 == 0)
		fresh();
	if (n > 4000)
		return 0;
	char *text = malloc(n + 1);
	memcpy(text, d, n);
	text[n] = '\0';
	/* the same fixed handle accumulates state: fine, it only makes graphs richer */
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (line[0] == '?') {
			struct store_rcpt r;
			enum store_status st = store_resolve_rcpt(s, line + 1, &r);
			if (st == STORE_OK) {
				assert(r.naccounts + r.nremote > 0);
				assert(r.naccounts <= STORE_MAX_EXPANSION && r.nremote <= STORE_MAX_EXPANSION);
				for (size_t i = 0; i < r.naccounts; i++)
					store_sender_allowed(s, r.account_ids[i], line + 1);
				store_rcpt_clear(&r);
			} else {
				assert(r.naccounts == 0 && r.nremote == 0);
			}
		} else if (sp && strncmp(line, "account ", 8) == 0) {
			store_account_add(s, sp + 1, "h");
		} else if (sp) {
			*sp = '\0';
			const char *t[] = { sp + 1 };
			store_alias_add(s, line, t, 1);
		}
	}
	free(text);
	return 0;
}
