/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the frontend-cni socket's requests: whatever a
 * client sends is decoded; a decoded request must hold only what the
 * checks allow (names safe inside a handle, an MTU in range, at most one
 * previous address per family).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max || strchr(s, '/'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_request *r;
	char err[512];
	int code;

	code = cni_request_parse((const char *)data, size, &r, err,
				 sizeof(err));
	if (code) {
		if (r || !err[0] || strlen(err) >= sizeof(err))
			abort();
		return 0;
	}
	check_name(r->network, CNI_NETWORK_MAX);
	if (r->command == CNI_ADD || r->command == CNI_DEL ||
	    r->command == CNI_CHECK) {
		check_name(r->container_id, CNI_CONTAINER_MAX);
		check_name(r->ifname, CNI_IFNAME_MAX);
	}
	if ((r->mtu && (r->mtu < 68 || r->mtu > 65535)) || r->n_prev > 2)
		abort();
	for (uint32_t i = 0; i < r->n_prev; i++)
		if (r->prev[i].len != (r->prev[i].family == STRATA_AF_INET ?
				       32 : 128))
			abort();
	cni_request_free(r);
	return 0;
}
