/* SPDX-License-Identifier: Apache-2.0 */
/* Lifecycle ops without the mandatory create. */
#include "fixture.h"

static const struct strata_plugin_ops no_create_ops = {
	sizeof(struct strata_plugin_ops), NULL, fx_start, NULL, NULL,
	fx_destroy, NULL,
};

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	STRATA_PLUGIN_MAGIC,
	STRATA_ABI_MAJOR,
	STRATA_ABI_MINOR,
	sizeof(struct strata_plugin),
	STRATA_KIND_ADVERTISER,
	"no-create",
	"1.0",
	"a loader test fixture",
	NULL,
	&no_create_ops,
	&fx_adv_ops,
};
