/* SPDX-License-Identifier: Apache-2.0 */
/* A descriptor whose magic is byte-swapped. */
#include "fixture.h"

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	0x41525453u,
	STRATA_ABI_MAJOR,
	STRATA_ABI_MINOR,
	sizeof(struct strata_plugin),
	STRATA_KIND_ADVERTISER,
	"bad-magic",
	"1.0",
	"a loader test fixture",
	NULL,
	&fx_ops,
	&fx_adv_ops,
};
