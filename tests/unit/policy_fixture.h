/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Objects for the policy engine's tests, as the API server's JSON.
 */
#ifndef STRATA_TESTS_POLICY_FIXTURE_H
#define STRATA_TESTS_POLICY_FIXTURE_H

#include <arpa/inet.h>
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static char fx_err[512];

static int __attribute__((format(printf, 2, 3), unused))
put_policy(struct pol *p, const char *fmt, ...)
{
	char *json = NULL;
	va_list ap;
	int n, ret;

	va_start(ap, fmt);
	n = vasprintf(&json, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	fx_err[0] = '\0';
	ret = pol_policy_put(p, json, (size_t)n, fx_err, sizeof(fx_err));
	free(json);
	return ret;
}

/* A NetworkPolicy ns/name with spec (JSON, without braces). */
#define POLICY(p, ns, name, spec)                                            \
	put_policy(p,                                                        \
		   "{\"apiVersion\":\"networking.k8s.io/v1\","               \
		   "\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"%s\"," \
		   "\"namespace\":\"%s\"},\"spec\":{%s}}",                   \
		   name, ns, spec)

static int __attribute__((unused))
put_ns(struct pol *p, const char *name, const char *labels)
{
	char json[1024];
	int n = snprintf(json, sizeof(json),
			 "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\","
			 "\"labels\":%s}}",
			 name, labels ? labels : "{}");

	fx_err[0] = '\0';
	return pol_namespace_put(p, json, (size_t)n, fx_err, sizeof(fx_err));
}

/* A running pod; ips "10.0.0.1" or "10.0.0.1\",\"fd00::1"; ports a
 * container's ports array or NULL. */
static int __attribute__((unused))
put_pod(struct pol *p, const char *ns, const char *name, const char *labels,
	const char *ip, const char *ports)
{
	char json[2048], ips[256] = "";
	const char *a = ip;
	int n, k = 0;

	while (a && *a && k < 2) {
		const char *end = strstr(a, "\",\"");
		size_t len = end ? (size_t)(end - a) : strlen(a);

		snprintf(ips + strlen(ips), sizeof(ips) - strlen(ips),
			 "%s{\"ip\":\"%.*s\"}", k ? "," : "", (int)len, a);
		a = end ? end + 3 : NULL;
		k++;
	}
	n = snprintf(json, sizeof(json),
		     "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		     "\"namespace\":\"%s\",\"labels\":%s},\"spec\":{"
		     "\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\","
		     "\"ports\":%s}]},\"status\":{\"phase\":\"Running\","
		     "\"podIPs\":[%s]}}",
		     name, ns, labels ? labels : "{}", ports ? ports : "[]",
		     ips);
	fx_err[0] = '\0';
	return pol_pod_put(p, json, (size_t)n, fx_err, sizeof(fx_err));
}

static struct strata_addr __attribute__((unused)) A(const char *s)
{
	struct strata_addr a = { 0 };

	if (inet_pton(AF_INET, s, a.addr) == 1)
		a.family = STRATA_AF_INET;
	else if (inet_pton(AF_INET6, s, a.addr) == 1)
		a.family = STRATA_AF_INET6;
	else
		ck_abort_msg("bad address %s", s);
	return a;
}

static int __attribute__((unused))
attach(struct pol *p, const char *handle, const char *ns, const char *name,
       const char *host_if, const char *ip4, const char *ip6)
{
	struct strata_pod pod = {
		.size = sizeof(pod), .handle = handle, .pod_namespace = ns,
		.pod_name = name, .host_if = host_if,
	};

	if (ip4)
		pod.addrs[pod.n_addrs++] = A(ip4);
	if (ip6)
		pod.addrs[pod.n_addrs++] = A(ip6);
	return pol_attach(p, &pod);
}

#endif
