/* SPDX-License-Identifier: Apache-2.0 */
/* An advertiser without its mandatory reconcile op. */
#include "fixture.h"

static const struct strata_advertiser_ops no_reconcile_ops = {
	sizeof(struct strata_advertiser_ops), fx_scopes, NULL, NULL,
};

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	STRATA_PLUGIN_MAGIC,
	STRATA_ABI_MAJOR,
	STRATA_ABI_MINOR,
	sizeof(struct strata_plugin),
	STRATA_KIND_ADVERTISER,
	"no-reconcile",
	"1.0",
	"a loader test fixture",
	NULL,
	&fx_ops,
	&no_reconcile_ops,
};
