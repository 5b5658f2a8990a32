/* SPDX-License-Identifier: Apache-2.0 */
/* An IPAM plugin that passes every check. */
#include "fixture.h"

static int ipam_op(void *self, const struct strata_ipam_request *req,
		   strata_ipam_cb cb, void *arg)
{
	(void)self;
	(void)req;
	(void)cb;
	(void)arg;
	return 0;
}

static const char *const ipam_facts[] = { "zone", "subnet", NULL };

static const struct strata_ipam_ops ipam_ops = {
	.size = sizeof(struct strata_ipam_ops),
	.needs_facts = ipam_facts,
	.allocate = ipam_op,
	.release = ipam_op,
};

STRATA_PLUGIN(STRATA_KIND_IPAM, "ipam", "0.9", NULL, NULL, &fx_ops,
	      &ipam_ops);
