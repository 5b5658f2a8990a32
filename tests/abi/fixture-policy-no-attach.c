/* SPDX-License-Identifier: Apache-2.0 */
/* A policy plugin without its mandatory pod_attach op. */
#include "fixture.h"

static int fx_pod_detach(void *self, const struct strata_pod *pod)
{
	(void)self;
	(void)pod;
	return 0;
}

static const struct strata_policy_ops no_attach_ops = {
	.size = sizeof(struct strata_policy_ops),
	.pod_detach = fx_pod_detach,
};

STRATA_PLUGIN(STRATA_KIND_POLICY, "policy-no-attach", "1.1",
	      "a loader test fixture", NULL, &fx_ops, &no_attach_ops);
