/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public ABI as one exported function, for abidw: its parameters reach
 * every struct, callback type and opaque handle of include/strata/, so the
 * debug info of this object describes all of them (tests/abi/abidiff.sh).
 * Reaching is all it is for: it does nothing.
 */
#include <strata/plugin.h>

#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
void strata_abi_probe(const struct strata_plugin *plugin,
		      const struct strata_host *host,
		      const struct strata_advertiser_ops *advertiser,
		      const struct strata_healthcheck_ops *healthcheck,
		      const struct strata_ipam_ops *ipam,
		      const struct strata_frontend_ops *frontend);

void strata_abi_probe(const struct strata_plugin *plugin,
		      const struct strata_host *host,
		      const struct strata_advertiser_ops *advertiser,
		      const struct strata_healthcheck_ops *healthcheck,
		      const struct strata_ipam_ops *ipam,
		      const struct strata_frontend_ops *frontend)
{
	(void)plugin;
	(void)host;
	(void)advertiser;
	(void)healthcheck;
	(void)ipam;
	(void)frontend;
}

/* 1.1: a second function rather than new parameters, so that 1.0's
 * probe stays as it was and only additions separate the two dumps. */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
void strata_abi_probe_1_1(const struct strata_policy_ops *policy,
			  const struct strata_pod *pod);

void strata_abi_probe_1_1(const struct strata_policy_ops *policy,
			  const struct strata_pod *pod)
{
	(void)policy;
	(void)pod;
}
