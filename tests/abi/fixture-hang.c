/* SPDX-License-Identifier: Apache-2.0 */
/* A constructor that never finishes in time. */
#include <unistd.h>

#include "fixture.h"

__attribute__((constructor)) static void hang_ctor(void)
{
	sleep(60);
}

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "hang", "1.0",
	      "a loader test fixture", NULL, &fx_ops, &fx_adv_ops);
