/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the config file: libconfig's parser, stratad's own
 * checks (the same as cfg_load, @include refused), a plugin schema check
 * of every instance and the typed getters. The bytes are also tried as a
 * duration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5's scanner leaks the token it holds when parsing stops on
 * an error (a string left open at the end, a string where a name should
 * be); those leaks are libconfig's, not ours. */
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

#define MS 1000000LL
#define SEC 1000000000LL

static const struct strata_cfg_key schema[] = {
	{ "scopes", STRATA_CFG_STRINGS, 0, "kernel,cloud", 0, 0, NULL },
	{ "table", STRATA_CFG_INT, 0, "254", 1, 255, NULL },
	{ "debounce", STRATA_CFG_DURATION, 0, "100ms", 10 * MS, 3600 * SEC,
	  NULL },
	{ "enabled", STRATA_CFG_BOOL, 0, "true", 0, 0, NULL },
	{ "name", STRATA_CFG_STRING, 0, "strata", 0, 0, NULL },
	{ "token", STRATA_CFG_STRING, STRATA_CFG_REQUIRED, NULL, 0, 0, NULL },
	{ "peers", STRATA_CFG_STRINGS, 0, NULL, 0, 0, NULL },
	{ "count", STRATA_CFG_INT, 0, NULL, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static void use_getters(const struct cfg_plugin *p)
{
	static const char *const lists[] = { "scopes", "peers" };
	const char *s;
	int64_t v;
	int b, n, i;
	size_t k;

	cfg_get_bool(p, schema, "enabled", &b);
	cfg_get_int(p, schema, "table", &v);
	cfg_get_int(p, schema, "count", &v);
	cfg_get_duration(p, schema, "debounce", &v);
	s = cfg_get_string(p, schema, "name");
	if (s)
		(void)strlen(s);
	s = cfg_get_string(p, schema, "token");
	if (s)
		(void)strlen(s);
	for (k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		n = cfg_get_strings_count(p, schema, lists[k]);
		for (i = 0; i <= n && i < 64; i++) {
			s = cfg_get_strings_at(p, schema, lists[k],
					       (uint32_t)i);
			if (s)
				(void)strlen(s);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *cfg = NULL;
	char err[512];
	int64_t ns;
	char *text;
	size_t i;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	cfg_parse_duration(text, &ns);
	if (cfg_load_string("fuzz.conf", text, &cfg, err, sizeof(err)) == 0) {
		for (i = 0; i < cfg->n_plugins; i++) {
			const struct cfg_plugin *p = &cfg->plugins[i];

			if (cfg_check_plugin(cfg, p, schema, err,
					     sizeof(err)) == 0)
				use_getters(p);
			cfg_check_plugin(cfg, p, NULL, err, sizeof(err));
		}
		cfg_free(cfg);
	}
	free(text);
	return 0;
}
