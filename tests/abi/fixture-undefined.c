/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin that needs a function nothing defines: RTLD_NOW fails. */
#include "fixture.h"

int fx_missing_function(void);

static int undefined_start(void *self)
{
	(void)self;
	return fx_missing_function();
}

static const struct strata_plugin_ops undefined_ops = {
	sizeof(struct strata_plugin_ops), fx_create, undefined_start, NULL,
	NULL, fx_destroy, NULL,
};

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "undefined", "1.0",
	      "a loader test fixture", NULL, &undefined_ops, &fx_adv_ops);
