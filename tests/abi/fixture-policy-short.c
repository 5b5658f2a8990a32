/* SPDX-License-Identifier: Apache-2.0 */
/* A policy plugin whose ops table ends before the members of 1.1. */
#include "fixture.h"

static const struct strata_policy_ops short_ops = {
	.size = offsetof(struct strata_policy_ops, pod_detach),
};

STRATA_PLUGIN(STRATA_KIND_POLICY, "policy-short", "1.1",
	      "a loader test fixture", NULL, &fx_ops, &short_ops);
