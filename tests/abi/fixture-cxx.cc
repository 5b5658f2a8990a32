// SPDX-License-Identifier: Apache-2.0
// A plugin written in C++: STRATA_PLUGIN must give the descriptor C
// linkage and external visibility from here too.
#include <cstddef>

#include <strata/plugin.h>

namespace {

int cxx_create(const struct strata_host *, struct strata_instance *,
	       void **self)
{
	*self = nullptr;
	return 0;
}

int cxx_start(void *)
{
	return 0;
}

void cxx_destroy(void *)
{
}

int64_t cxx_probe(void *, const struct strata_hc_target *, strata_hc_done,
		  void *)
{
	return 1;
}

void cxx_cancel(void *, int64_t)
{
}

const struct strata_plugin_ops cxx_ops = {
	sizeof(struct strata_plugin_ops), cxx_create, cxx_start, nullptr,
	nullptr, cxx_destroy, nullptr,
};

const struct strata_healthcheck_ops cxx_hc_ops = {
	sizeof(struct strata_healthcheck_ops), cxx_probe, cxx_cancel,
};

const struct strata_cfg_key cxx_config[] = {
	{ "timeout", STRATA_CFG_DURATION, 0, "1s", 0, 0, "probe timeout" },
	{ nullptr, 0, 0, nullptr, 0, 0, nullptr },
};

} // namespace

STRATA_PLUGIN(STRATA_KIND_HEALTHCHECK, "cxx", "0.0.1",
	      "a fixture written in C++", cxx_config, &cxx_ops, &cxx_hc_ops);
