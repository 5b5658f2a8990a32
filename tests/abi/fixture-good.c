/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin that passes every check, with a schema of every key type. */
#include <stdlib.h>

#include "fixture.h"

static const struct strata_cfg_key good_config[] = {
	{ "enabled", STRATA_CFG_BOOL, 0, "true", 0, 0, "turn it on" },
	{ "port", STRATA_CFG_INT, STRATA_CFG_REQUIRED, NULL, 1, 65535,
	  "TCP port" },
	{ "offset", STRATA_CFG_INT, 0, "-5", INT64_MIN, INT64_MAX, NULL },
	{ "peer_name", STRATA_CFG_STRING, 0, "", 0, 0, "a name, \"quoted\"" },
	{ "neighbors", STRATA_CFG_STRINGS, 0, NULL, 0, 0, "peers" },
	{ "hold-time", STRATA_CFG_DURATION, 0, "90s", 3000000000LL,
	  65535000000000LL, "BGP hold time" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* Runs only where the object is loaded: the checking child, or the
 * process after plug_load(). */
__attribute__((constructor)) static void good_ctor(void)
{
	setenv("STRATA_FIXTURE_GOOD_CTOR", "ran", 1);
}

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "good", "1.2.3",
	      "a fixture that passes every check", good_config, &fx_ops,
	      &fx_adv_ops);
