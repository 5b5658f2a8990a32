/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strata-filter table the policy engine compiles for two pods of this
 * node, a client and a server, as the nft script that builds it from
 * nothing (for bench/policy-throughput.sh):
 *
 *   policy-script allow|none CLIENT_IF CLIENT_IP SERVER_IF SERVER_IP PORT
 *
 * allow: a NetworkPolicy lets app=client reach app=server on TCP PORT,
 * and another lets the client's egress reach it; every other connection
 * of the two pods is dropped. none: no NetworkPolicy (both pods accept).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "model.h"

static int fail(const char *what, const char *err)
{
	fprintf(stderr, "policy-script: %s%s%s\n", what, err ? ": " : "",
		err ? err : "");
	return 1;
}

static int put(struct pol *p,
	       int (*fn)(struct pol *, const char *, size_t, char *, size_t),
	       const char *json)
{
	char err[512];

	if (fn(p, json, strlen(json), err, sizeof(err)))
		return fail(json, err);
	return 0;
}

static int pod(struct pol *p, const char *name, const char *ifname,
	       const char *ip)
{
	struct strata_pod sp = {
		.size = sizeof(sp),
		.n_addrs = 1,
		.handle = name,
		.pod_namespace = "bench",
		.pod_name = name,
		.host_if = ifname,
		.addrs[0] = { .family = STRATA_AF_INET },
	};
	char json[512];

	if (inet_pton(AF_INET, ip, sp.addrs[0].addr) != 1)
		return fail("not an IPv4 address", ip);
	snprintf(json, sizeof(json),
		 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"bench\",\"labels\":{\"app\":\"%s\"}},"
		 "\"spec\":{\"nodeName\":\"node\",\"containers\":[{"
		 "\"name\":\"iperf3\"}]},\"status\":{\"phase\":\"Running\","
		 "\"podIPs\":[{\"ip\":\"%s\"}]}}",
		 name, name, ip);
	if (put(p, pol_pod_put, json))
		return 1;
	if (pol_attach(p, &sp))
		return fail("pol_attach", "out of memory");
	return 0;
}

int main(int argc, char **argv)
{
	struct pol *p;
	struct nftm *m = NULL;
	char json[1024], *script = NULL;
	int port, ret = 1;

	if (argc != 7 || (strcmp(argv[1], "allow") && strcmp(argv[1], "none")))
		return fail("usage: policy-script allow|none CLIENT_IF "
			    "CLIENT_IP SERVER_IF SERVER_IP PORT", NULL);
	port = atoi(argv[6]);
	if (port < 1 || port > 65535)
		return fail("not a port", argv[6]);
	p = pol_new();
	if (!p)
		return fail("out of memory", NULL);
	if (put(p, pol_namespace_put,
		"{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench\","
		"\"labels\":{\"kubernetes.io/metadata.name\":\"bench\"}}}") ||
	    pod(p, "client", argv[2], argv[3]) ||
	    pod(p, "server", argv[4], argv[5]))
		goto free_pol;
	if (!strcmp(argv[1], "allow")) {
		snprintf(json, sizeof(json),
			 "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":"
			 "\"server-from-client\",\"namespace\":\"bench\"},"
			 "\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":"
			 "\"server\"}},\"policyTypes\":[\"Ingress\"],"
			 "\"ingress\":[{\"from\":[{\"podSelector\":{"
			 "\"matchLabels\":{\"app\":\"client\"}}}],\"ports\":[{"
			 "\"protocol\":\"TCP\",\"port\":%d}]}]}}",
			 port);
		if (put(p, pol_policy_put, json))
			goto free_pol;
		snprintf(json, sizeof(json),
			 "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":"
			 "\"client-to-server\",\"namespace\":\"bench\"},"
			 "\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":"
			 "\"client\"}},\"policyTypes\":[\"Egress\"],"
			 "\"egress\":[{\"to\":[{\"podSelector\":{"
			 "\"matchLabels\":{\"app\":\"server\"}}}],\"ports\":[{"
			 "\"protocol\":\"TCP\",\"port\":%d}]}]}}",
			 port);
		if (put(p, pol_policy_put, json))
			goto free_pol;
	}
	if (pol_compile(p, &m) || nftm_diff(NULL, m, &script, NULL)) {
		fail("out of memory", NULL);
		goto free_model;
	}
	ret = fputs(script, stdout) < 0 || fflush(stdout);
	free(script);
free_model:
	nftm_free(m);
free_pol:
	pol_free(p);
	return ret;
}
