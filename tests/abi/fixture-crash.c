/* SPDX-License-Identifier: Apache-2.0 */
/* A constructor that crashes; the descriptor itself is fine. */
#include <signal.h>

#include "fixture.h"

__attribute__((constructor)) static void crash_ctor(void)
{
	setenv("STRATA_FIXTURE_CRASH_CTOR", "ran", 1);
	raise(SIGSEGV);
}

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "crash", "1.0",
	      "a loader test fixture", NULL, &fx_ops, &fx_adv_ops);
