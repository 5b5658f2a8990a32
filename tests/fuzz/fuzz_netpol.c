/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine's parsers of API server JSON, and the compilation of
 * whatever they keep. The first byte picks the parser; after a policy,
 * a fixed pod and attachment make the compile reach the policy's rules.
 * The table kept by pol_update() must equal the one compiled whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char pod[] =
	"{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
	"\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"ports\":"
	"[{\"name\":\"http\",\"containerPort\":80}]}]},\"status\":{\"podIPs\":"
	"[{\"ip\":\"10.0.0.1\"},{\"ip\":\"fd00::1\"}]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strata_pod att = {
		.size = sizeof(att), .handle = "h", .pod_namespace = "default",
		.pod_name = "a", .host_if = "st0000000000001", .n_addrs = 1,
		.addrs = { { .family = STRATA_AF_INET,
			     .addr = { 10, 0, 0, 1 } } },
	};
	struct pol *p;
	struct nftm *m, *kept;
	char err[256];
	char *script;

	if (!size)
		return 0;
	p = pol_new();
	if (!p)
		return 0;
	pol_pod_put(p, pod, strlen(pod), NULL, 0);
	pol_attach(p, &att);
	pol_update(p, &kept);
	switch (data[0] % 3) {
	case 0:
		pol_namespace_put(p, (const char *)data + 1, size - 1, err,
				  sizeof(err));
		break;
	case 1:
		pol_pod_put(p, (const char *)data + 1, size - 1, err,
			    sizeof(err));
		break;
	default:
		pol_policy_put(p, (const char *)data + 1, size - 1, err,
			       sizeof(err));
		break;
	}
	if (!pol_compile(p, &m)) {
		if (!nftm_diff(NULL, m, &script, NULL))
			free(script);
		if (!pol_update(p, &kept) &&
		    !nftm_diff(kept, m, &script, NULL)) {
			if (*script) {
				fprintf(stderr, "kept table differs:\n%s",
					script);
				abort();
			}
			free(script);
		}
		nftm_free(m);
	}
	pol_free(p);
	return 0;
}
