/* SPDX-License-Identifier: Apache-2.0 */
/* A descriptor from the next ABI major, under this major's symbol. */
#include "fixture.h"

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	STRATA_PLUGIN_MAGIC,
	STRATA_ABI_MAJOR + 1,
	STRATA_ABI_MINOR,
	sizeof(struct strata_plugin),
	STRATA_KIND_ADVERTISER,
	"major",
	"1.0",
	"a loader test fixture",
	NULL,
	&fx_ops,
	&fx_adv_ops,
};
