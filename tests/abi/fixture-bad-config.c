/* SPDX-License-Identifier: Apache-2.0 */
/* A config schema with a type nobody knows. */
#include "fixture.h"

static const struct strata_cfg_key bad_config[] = {
	{ "port", STRATA_CFG_INT, 0, "80", 1, 65535, NULL },
	{ "mode", 42u, 0, NULL, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	STRATA_PLUGIN_MAGIC,
	STRATA_ABI_MAJOR,
	STRATA_ABI_MINOR,
	sizeof(struct strata_plugin),
	STRATA_KIND_ADVERTISER,
	"bad-config",
	"1.0",
	"a loader test fixture",
	bad_config,
	&fx_ops,
	&fx_adv_ops,
};
