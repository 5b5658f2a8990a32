/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strata-cni request, decoded and checked (docs/cni.md, "The socket
 * protocol"). Pure: no I/O, so it is fuzzed on its own.
 */
#ifndef STRATA_FRONTEND_CNI_REQUEST_H
#define STRATA_FRONTEND_CNI_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

enum cni_command { CNI_ADD, CNI_DEL, CNI_CHECK, CNI_GC, CNI_STATUS };

#define CNI_NETWORK_MAX 256
#define CNI_CONTAINER_MAX 512
#define CNI_IFNAME_MAX 15
/* Kubernetes' limits: a namespace is a DNS label, a pod's name a DNS
 * subdomain */
#define CNI_POD_NAMESPACE_MAX 63
#define CNI_POD_NAME_MAX 253

struct cni_attachment {
	char *container_id;
	char *ifname;
};

struct cni_request {
	enum cni_command command;
	char network[CNI_NETWORK_MAX + 1];
	char container_id[CNI_CONTAINER_MAX + 1]; /* ADD, DEL, CHECK */
	char ifname[CNI_IFNAME_MAX + 1];
	uint32_t mtu; /* 0: not given */
	/* ADD, DEL, CHECK: from K8S_POD_NAMESPACE, K8S_POD_NAME; "" unknown */
	char pod_namespace[CNI_POD_NAMESPACE_MAX + 1];
	char pod_name[CNI_POD_NAME_MAX + 1];
	/* CHECK: prevResult's addresses (as /32, /128) and the pod's MAC */
	uint32_t n_prev;
	struct strata_prefix prev[2];
	char prev_mac[18];
	/* GC: the attachments the runtime knows to be alive */
	struct cni_attachment *valid;
	size_t n_valid;
};

/*
 * Decode len bytes of JSON. 0 and *out (free with cni_request_free), or a
 * CNI error code (6 not JSON, 7 a bad member, 4 an unknown command, 5 out
 * of memory) with err naming what was wrong.
 */
int cni_request_parse(const char *buf, size_t len, struct cni_request **out,
		      char *err, size_t errlen);
void cni_request_free(struct cni_request *r);

#endif
