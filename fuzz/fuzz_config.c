/* fuzz_config.c — the tern.conf parser and its value parsers on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct config cfg;
	struct buf err = BUF_INIT;
	config_load_string(text, "fuzz.conf", &cfg, &err);
	config_free(&cfg);

	uint64_t v;
	config_parse_size(text, &v);
	config_parse_duration(text, &v);
	struct listen_list l = { NULL, 0 };
	config_parse_listen(text, &l, &err);
	free(l.addrs);
	buf_free(&err);
	free(text);
	return 0;
}
