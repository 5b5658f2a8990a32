/* SPDX-License-Identifier: Apache-2.0 */
/* A front end: its kind ops may be NULL. */
#include "fixture.h"

STRATA_PLUGIN(STRATA_KIND_FRONTEND, "frontend", "0.9", "a front end",
	      NULL, &fx_ops, NULL);
