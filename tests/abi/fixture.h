/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared parts of the loader's fixture plugins: ops that do nothing but
 * leave a mark in the environment (STRATA_FIXTURE_OP), so a test can tell
 * that the loader called none of them.
 */
#ifndef STRATA_TESTS_ABI_FIXTURE_H
#define STRATA_TESTS_ABI_FIXTURE_H

#include <stdlib.h>

#include <strata/plugin.h>

#define FX_UNUSED __attribute__((unused))

static FX_UNUSED int fx_create(const struct strata_host *host,
			       struct strata_instance *inst, void **self)
{
	(void)host;
	(void)inst;
	*self = NULL;
	setenv("STRATA_FIXTURE_OP", "create", 1);
	return 0;
}

static FX_UNUSED int fx_start(void *self)
{
	(void)self;
	setenv("STRATA_FIXTURE_OP", "start", 1);
	return 0;
}

static FX_UNUSED void fx_destroy(void *self)
{
	(void)self;
	setenv("STRATA_FIXTURE_OP", "destroy", 1);
}

static FX_UNUSED const struct strata_plugin_ops fx_ops = {
	sizeof(struct strata_plugin_ops), fx_create, fx_start, NULL, NULL,
	fx_destroy, NULL,
};

static FX_UNUSED uint32_t fx_scopes(void *self)
{
	(void)self;
	setenv("STRATA_FIXTURE_OP", "scopes", 1);
	return STRATA_SCOPE_KERNEL;
}

static FX_UNUSED int fx_reconcile(void *self,
				  const struct strata_route *const *desired,
				  size_t n, uint32_t flags)
{
	(void)self;
	(void)desired;
	(void)n;
	(void)flags;
	setenv("STRATA_FIXTURE_OP", "reconcile", 1);
	return 0;
}

static FX_UNUSED const struct strata_advertiser_ops fx_adv_ops = {
	sizeof(struct strata_advertiser_ops), fx_scopes, fx_reconcile, NULL,
};

#endif
