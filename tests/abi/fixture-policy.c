/* SPDX-License-Identifier: Apache-2.0 */
/* A policy plugin of ABI 1.1: loads in a 1.1 core, refused by a 1.0 one. */
#include "fixture.h"

static int fx_pod_attach(void *self, const struct strata_pod *pod,
			 strata_done_cb cb, void *arg)
{
	(void)self;
	(void)pod;
	(void)cb;
	(void)arg;
	setenv("STRATA_FIXTURE_OP", "pod_attach", 1);
	return 0;
}

static int fx_pod_detach(void *self, const struct strata_pod *pod)
{
	(void)self;
	(void)pod;
	setenv("STRATA_FIXTURE_OP", "pod_detach", 1);
	return 0;
}

static const struct strata_policy_ops fx_policy_ops = {
	.size = sizeof(struct strata_policy_ops),
	.pod_attach = fx_pod_attach,
	.pod_detach = fx_pod_detach,
};

STRATA_PLUGIN(STRATA_KIND_POLICY, "policy", "1.1", "a policy plugin", NULL,
	      &fx_ops, &fx_policy_ops);
