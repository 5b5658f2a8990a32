/* SPDX-License-Identifier: Apache-2.0 */
/* A descriptor that claims to be shorter than 1.0's. */
#include "fixture.h"

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	STRATA_PLUGIN_MAGIC,
	STRATA_ABI_MAJOR,
	STRATA_ABI_MINOR,
	40,
	STRATA_KIND_ADVERTISER,
	"short",
	"1.0",
	"a loader test fixture",
	NULL,
	&fx_ops,
	&fx_adv_ops,
};
