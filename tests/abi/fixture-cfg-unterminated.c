/* SPDX-License-Identifier: Apache-2.0 */
/* A config schema of 257 keys, one more than a schema may have. */
#include "fixture.h"

#define K(n) { "k" #n, STRATA_CFG_INT, 0, NULL, 0, 0, NULL },
#define K4(n) K(n##0) K(n##1) K(n##2) K(n##3)
#define K16(n) K4(n##0) K4(n##1) K4(n##2) K4(n##3)
#define K64(n) K16(n##0) K16(n##1) K16(n##2) K16(n##3)
#define K256(n) K64(n##0) K64(n##1) K64(n##2) K64(n##3)

static const struct strata_cfg_key long_config[] = {
	K256(a) K(b) { NULL, 0, 0, NULL, 0, 0, NULL },
};

/* By hand, not with STRATA_PLUGIN(), to get it wrong on purpose. */
STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {
	STRATA_PLUGIN_MAGIC,
	STRATA_ABI_MAJOR,
	STRATA_ABI_MINOR,
	sizeof(struct strata_plugin),
	STRATA_KIND_ADVERTISER,
	"cfg-unterminated",
	"1.0",
	"a loader test fixture",
	long_config,
	&fx_ops,
	&fx_adv_ops,
};
