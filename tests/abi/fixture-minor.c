/* SPDX-License-Identifier: Apache-2.0 */
/* A descriptor from a newer ABI minor. */
#include "fixture.h"

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	STRATA_PLUGIN_MAGIC,
	STRATA_ABI_MAJOR,
	STRATA_ABI_MINOR + 1,
	sizeof(struct strata_plugin),
	STRATA_KIND_ADVERTISER,
	"minor",
	"1.0",
	"a loader test fixture",
	NULL,
	&fx_ops,
	&fx_adv_ops,
};
