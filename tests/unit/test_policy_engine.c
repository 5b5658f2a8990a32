/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine: parsing and validating Namespaces, Pods and
 * NetworkPolicies (each error message checked), selectors, the
 * semantics (pol_allows truth tables: policyTypes, unions, ipBlocks,
 * named ports, endPort, SCTP, malformed objects), the compiled table's
 * content, and pol_explain.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netpol.h"
#include "policy_fixture.h"

#define TCP NP_TCP
#define UDP NP_UDP
#define SCTP NP_SCTP

static bool allows(struct pol *p, const char *src, const char *dst,
		   uint8_t proto, uint16_t port)
{
	struct strata_addr s = A(src), d = A(dst);

	return pol_allows(p, &s, &d, proto, port);
}

#define ALLOW(p, s, d, pr, po) ck_assert_msg(allows(p, s, d, pr, po), \
	"%s -> %s %u/%u should pass", s, d, pr, po)
#define DENY(p, s, d, pr, po) ck_assert_msg(!allows(p, s, d, pr, po), \
	"%s -> %s %u/%u should not pass", s, d, pr, po)

/* Namespaces default (team=a) and other (team=b); pods web (10.0.0.1,
 * app=web, port http 8080), client (10.0.0.2, app=client) in default,
 * and other-client (10.0.1.2, app=client) in other. */
static struct pol *cluster(void)
{
	struct pol *p = pol_new();

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(put_ns(p, "default", "{\"team\":\"a\"}"), 0);
	ck_assert_int_eq(put_ns(p, "other", "{\"team\":\"b\"}"), 0);
	ck_assert_int_eq(put_pod(p, "default", "web", "{\"app\":\"web\"}",
				 "10.0.0.1\",\"fd00::1",
				 "[{\"name\":\"http\",\"containerPort\":8080},"
				 "{\"name\":\"dns\",\"containerPort\":53,"
				 "\"protocol\":\"UDP\"}]"),
			 0);
	ck_assert_int_eq(put_pod(p, "default", "client",
				 "{\"app\":\"client\"}", "10.0.0.2\",\"fd00::2",
				 NULL),
			 0);
	ck_assert_int_eq(put_pod(p, "other", "other-client",
				 "{\"app\":\"client\"}", "10.0.1.2", NULL),
			 0);
	return p;
}

#define WEB "\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}"

START_TEST(no_policy_allows_all)
{
	struct pol *p = cluster();

	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	ALLOW(p, "10.0.0.1", "8.8.8.8", UDP, 53);
	ALLOW(p, "fd00::2", "fd00::1", TCP, 1);
	pol_free(p);
}
END_TEST

START_TEST(deny_all_ingress)
{
	struct pol *p = cluster();

	ck_assert_int_eq(POLICY(p, "default", "deny", "\"podSelector\":{}"),
			 0);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	DENY(p, "10.0.1.2", "10.0.0.2", TCP, 80);
	DENY(p, "192.0.2.1", "10.0.0.1", TCP, 80);
	/* egress not isolated: default pods reach other */
	ALLOW(p, "10.0.0.1", "10.0.1.2", TCP, 80);
	ALLOW(p, "10.0.0.1", "8.8.8.8", UDP, 53);
	pol_free(p);
}
END_TEST

START_TEST(policy_types_default)
{
	struct pol *p = cluster();

	/* egress rules present: both types */
	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"egress\":[{\"to\":"
				"[{\"ipBlock\":{\"cidr\":\"8.8.8.8/32\"}}]}]"),
			 0);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	DENY(p, "10.0.0.1", "10.0.0.2", TCP, 80);
	ALLOW(p, "10.0.0.1", "8.8.8.8", UDP, 53);
	/* only Egress: ingress stays open */
	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"policyTypes\":"
				"[\"Egress\"],\"ingress\":[]"),
			 0);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	DENY(p, "10.0.0.1", "8.8.8.8", UDP, 53);
	/* empty egress list: Ingress only */
	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"egress\":[]"), 0);
	ALLOW(p, "10.0.0.1", "8.8.8.8", UDP, 53);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	pol_free(p);
}
END_TEST

START_TEST(peers_and_namespaces)
{
	struct pol *p = cluster();

	/* podSelector alone: own namespace only */
	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"ingress\":[{\"from\":"
				"[{\"podSelector\":{\"matchLabels\":{\"app\":"
				"\"client\"}}}]}]"),
			 0);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	ALLOW(p, "fd00::2", "fd00::1", TCP, 80);
	DENY(p, "10.0.1.2", "10.0.0.1", TCP, 80);
	/* namespaceSelector alone: every pod of those namespaces */
	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"ingress\":[{\"from\":"
				"[{\"namespaceSelector\":{\"matchLabels\":"
				"{\"team\":\"b\"}}}]}]"),
			 0);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	ALLOW(p, "10.0.1.2", "10.0.0.1", TCP, 80);
	/* both in one peer: pods of those labels in those namespaces */
	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"ingress\":[{\"from\":"
				"[{\"namespaceSelector\":{},\"podSelector\":"
				"{\"matchLabels\":{\"app\":\"client\"}}}]}]"),
			 0);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	ALLOW(p, "10.0.1.2", "10.0.0.1", TCP, 80);
	DENY(p, "192.0.2.1", "10.0.0.1", TCP, 80);
	/* a namespace whose labels change */
	ck_assert_int_eq(put_ns(p, "other", "{\"team\":\"c\"}"), 0);
	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"ingress\":[{\"from\":"
				"[{\"namespaceSelector\":{\"matchExpressions\":"
				"[{\"key\":\"team\",\"operator\":\"NotIn\","
				"\"values\":[\"a\",\"b\"]}]}}]}]"),
			 0);
	ALLOW(p, "10.0.1.2", "10.0.0.1", TCP, 80);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	/* an unknown namespace matches only the empty selector */
	pol_namespace_del(p, "other");
	DENY(p, "10.0.1.2", "10.0.0.1", TCP, 80);
	pol_free(p);
}
END_TEST

START_TEST(union_of_policies)
{
	struct pol *p = cluster();

	ck_assert_int_eq(POLICY(p, "default", "deny", "\"podSelector\":{}"),
			 0);
	ck_assert_int_eq(POLICY(p, "default", "web80", WEB ",\"ingress\":["
				"{\"ports\":[{\"port\":80}]}]"),
			 0);
	ck_assert_int_eq(POLICY(p, "default", "web443", WEB ",\"ingress\":["
				"{\"from\":[{\"podSelector\":{}}],\"ports\":"
				"[{\"port\":443}]}]"),
			 0);
	ALLOW(p, "192.0.2.1", "10.0.0.1", TCP, 80);
	DENY(p, "192.0.2.1", "10.0.0.1", TCP, 443);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 443);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 444);
	DENY(p, "10.0.0.2", "10.0.0.1", UDP, 80);
	pol_policy_del(p, "default", "web80");
	DENY(p, "192.0.2.1", "10.0.0.1", TCP, 80);
	pol_policy_del(p, "default", "nope"); /* unknown: fine */
	pol_free(p);
}
END_TEST

START_TEST(ipblock_except)
{
	struct pol *p = cluster();

	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"ingress\":[{\"from\":"
				"[{\"ipBlock\":{\"cidr\":\"192.168.0.0/16\","
				"\"except\":[\"192.168.1.0/24\","
				"\"192.168.1.128/25\"]}},"
				"{\"ipBlock\":{\"cidr\":\"2001:db8::/32\","
				"\"except\":[\"2001:db8::/48\"]}}]}]"),
			 0);
	ALLOW(p, "192.168.0.255", "10.0.0.1", TCP, 80);
	ALLOW(p, "192.168.2.0", "10.0.0.1", TCP, 80);
	DENY(p, "192.168.1.1", "10.0.0.1", TCP, 80);
	DENY(p, "192.168.1.200", "10.0.0.1", TCP, 80);
	DENY(p, "192.169.0.1", "10.0.0.1", TCP, 80);
	ALLOW(p, "2001:db8:1::1", "fd00::1", TCP, 80);
	DENY(p, "2001:db8::1", "fd00::1", TCP, 80);
	/* a pod inside the except, but selected by another peer */
	ck_assert_int_eq(POLICY(p, "default", "b", WEB ",\"ingress\":[{\"from\":"
				"[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\","
				"\"except\":[\"10.0.0.0/24\"]}},{\"podSelector\":"
				"{\"matchLabels\":{\"app\":\"client\"}}}]}]"),
			 0);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	ALLOW(p, "10.0.1.2", "10.0.0.1", TCP, 80);
	DENY(p, "10.0.0.99", "10.0.0.1", TCP, 80);
	pol_free(p);
}
END_TEST

START_TEST(named_ports_endport_sctp)
{
	struct pol *p = cluster();

	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"ingress\":[{\"ports\":"
				"[{\"port\":\"http\"},{\"port\":\"dns\","
				"\"protocol\":\"UDP\"},{\"port\":9000,"
				"\"endPort\":9010},{\"protocol\":\"SCTP\"}]}]"),
			 0);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 8080);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	ALLOW(p, "10.0.0.2", "10.0.0.1", UDP, 53);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 53);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 9000);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 9010);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 9011);
	DENY(p, "10.0.0.2", "10.0.0.1", UDP, 9005);
	ALLOW(p, "10.0.0.2", "10.0.0.1", SCTP, 1);
	ALLOW(p, "10.0.0.2", "10.0.0.1", SCTP, 65535);
	/* egress named ports resolve at the peer */
	ck_assert_int_eq(POLICY(p, "default", "e",
				"\"podSelector\":{\"matchLabels\":{\"app\":"
				"\"client\"}},\"egress\":[{\"ports\":[{\"port\":"
				"\"http\"}]}]"),
			 0);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 8080);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 9000);
	DENY(p, "10.0.0.2", "8.8.8.8", TCP, 8080);
	pol_free(p);
}
END_TEST

START_TEST(pods_as_peers)
{
	struct pol *p = cluster();
	char json[512];
	int n;

	ck_assert_int_eq(POLICY(p, "default", "a", WEB ",\"ingress\":[{\"from\":"
				"[{\"podSelector\":{}}]}]"),
			 0);
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	/* finished pods and host-network pods are nobody's peer */
	n = snprintf(json, sizeof(json),
		     "{\"metadata\":{\"name\":\"client\",\"namespace\":"
		     "\"default\"},\"status\":{\"phase\":\"Succeeded\","
		     "\"podIP\":\"10.0.0.2\"}}");
	ck_assert_int_eq(pol_pod_put(p, json, (size_t)n, NULL, 0), 0);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	n = snprintf(json, sizeof(json),
		     "{\"metadata\":{\"name\":\"client\",\"namespace\":"
		     "\"default\"},\"spec\":{\"hostNetwork\":true},"
		     "\"status\":{\"phase\":\"Running\",\"podIP\":"
		     "\"10.0.0.2\"}}");
	ck_assert_int_eq(pol_pod_put(p, json, (size_t)n, NULL, 0), 0);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	pol_pod_del(p, "default", "client");
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	/* a pod with no address in its status, attached here */
	ck_assert_int_eq(put_pod(p, "default", "new", "{}", "", NULL), 0);
	DENY(p, "10.0.0.7", "10.0.0.1", TCP, 80);
	ck_assert_int_eq(attach(p, "h7", "default", "new", "st0000000000007",
				"10.0.0.7", NULL),
			 0);
	ALLOW(p, "10.0.0.7", "10.0.0.1", TCP, 80);
	pol_free(p);
}
END_TEST

struct bad {
	const char *spec;
	const char *err;
};

START_TEST(policy_errors)
{
	static const struct bad bad[] = {
		{ WEB ",\"ingress\":[{\"from\":[{},{\"ipBlock\":{\"cidr\":"
		  "\"10.0.0.0/33\"}}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].from[0]: needs "
		  "podSelector, namespaceSelector or ipBlock" },
		{ WEB ",\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
		  "\"10.0.0.0/33\"}}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].from[0].ipBlock."
		  "cidr: \"10.0.0.0/33\" is not a CIDR" },
		{ WEB ",\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":"
		  "\"10.0.0.0/8\",\"except\":[\"11.0.0.0/24\"]}}]}]",
		  "NetworkPolicy default/web: spec.egress[0].to[0].ipBlock."
		  "except[0]: \"11.0.0.0/24\" is not inside 10.0.0.0/8" },
		{ WEB ",\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
		  "\"10.0.0.0/8\"},\"podSelector\":{}}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].from[0]: ipBlock "
		  "may not be combined with a selector" },
		{ WEB ",\"ingress\":[{\"ports\":[{\"port\":0}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].ports[0].port: 0 "
		  "is not a port (1-65535)" },
		{ WEB ",\"ingress\":[{\"ports\":[{\"port\":80,\"endPort\":79}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].ports[0].endPort: "
		  "79 is not a port from 80 to 65535" },
		{ WEB ",\"ingress\":[{\"ports\":[{\"port\":\"http\","
		  "\"endPort\":90}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].ports[0].endPort: "
		  "only with a numeric port" },
		{ WEB ",\"ingress\":[{\"ports\":[{\"protocol\":\"ICMP\"}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].ports[0].protocol: "
		  "\"ICMP\" is not TCP, UDP or SCTP" },
		{ WEB ",\"ingress\":[{\"ports\":[{\"port\":\"-http\"}]}]",
		  "NetworkPolicy default/web: spec.ingress[0].ports[0].port: "
		  "\"-http\" is not a port name" },
		{ "\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\","
		  "\"operator\":\"In\"}]}",
		  "NetworkPolicy default/web: spec.podSelector.matchExpressions"
		  "[0].values: In needs values" },
		{ "\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\","
		  "\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
		  "NetworkPolicy default/web: spec.podSelector.matchExpressions"
		  "[0].values: Exists takes no values" },
		{ "\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\","
		  "\"operator\":\"Like\"}]}",
		  "NetworkPolicy default/web: spec.podSelector.matchExpressions"
		  "[0].operator: \"Like\" is not In, NotIn, Exists or "
		  "DoesNotExist" },
		{ "\"podSelector\":{\"matchLabels\":{\"a b\":\"x\"}}",
		  "NetworkPolicy default/web: spec.podSelector.matchLabels: "
		  "\"a b\" is not a valid label key" },
		{ "\"podSelector\":{\"matchLabels\":{\"app\":\"-x\"}}",
		  "NetworkPolicy default/web: spec.podSelector.matchLabels: app: "
		  "\"-x\" is not a valid label value" },
		{ WEB ",\"policyTypes\":[\"Sideways\"]",
		  "NetworkPolicy default/web: spec.policyTypes[0]: \"Sideways\" "
		  "is not Ingress or Egress" },
		{ WEB ",\"ingress\":{}",
		  "NetworkPolicy default/web: spec.ingress: not an array" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pol *p = pol_new();
		struct pol_counts c;

		ck_assert_int_eq(POLICY(p, "default", "web", bad[i].spec),
				 -EINVAL);
		ck_assert_str_eq(fx_err, bad[i].err);
		pol_counts(p, &c);
		ck_assert_uint_eq(c.policies, 1);
		ck_assert_uint_eq(c.malformed, 1);
		pol_free(p);
	}
}
END_TEST

START_TEST(object_errors)
{
	struct pol *p = pol_new();
	char err[256];
	struct pol_counts c;
	static const char nameless[] = "{\"metadata\":{\"namespace\":\"x\"}}";
	static const char notjson[] = "{\"metadata\":";
	static const char badip[] =
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"},"
		"\"status\":{\"podIP\":\"10.0.0.300\"}}";
	static const char badport[] =
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"},"
		"\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":"
		"70000}]}]}}";
	static const char badns[] =
		"{\"metadata\":{\"name\":\"x\",\"labels\":{\"k\":7}}}";

	ck_assert_int_eq(pol_pod_put(p, nameless, strlen(nameless), err,
				     sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "Pod: metadata.name: missing or not a name");
	ck_assert_int_eq(pol_policy_put(p, notjson, strlen(notjson), err,
					sizeof(err)),
			 -EINVAL);
	ck_assert_msg(!strncmp(err, "NetworkPolicy: (json): ", 23), "%s", err);
	ck_assert_int_eq(pol_pod_put(p, badip, strlen(badip), err,
				     sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "Pod x/a: status.podIP: \"10.0.0.300\" is not "
			      "an IP address");
	ck_assert_int_eq(pol_pod_put(p, badport, strlen(badport), err,
				     sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "Pod x/a: spec.containers[0].ports[0]."
			      "containerPort: 70000 is not a port (1-65535)");
	ck_assert_int_eq(pol_namespace_put(p, badns, strlen(badns), err,
					   sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "Namespace x: metadata.labels: k: 7 is not a "
			      "valid label value");
	pol_counts(p, &c);
	ck_assert_uint_eq(c.pods, 1);
	ck_assert_uint_eq(c.namespaces, 1);
	ck_assert_uint_eq(c.policies, 0);
	ck_assert_uint_eq(c.malformed, 2);
	ck_assert(pol_pod_known(p, "x", "a"));
	ck_assert(!pol_pod_known(p, "x", "b"));
	pol_free(p);
}
END_TEST

START_TEST(malformed_is_stricter)
{
	struct pol *p = cluster();

	/* a bad rule: the pods it selects are isolated both ways */
	ck_assert_int_eq(POLICY(p, "default", "bad", WEB ",\"ingress\":[{"
				"\"ports\":[{\"port\":\"80\"}]}]"),
			 -EINVAL);
	DENY(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	DENY(p, "10.0.0.1", "10.0.0.2", TCP, 80);
	ALLOW(p, "10.0.0.2", "10.0.1.2", TCP, 80);
	/* a bad podSelector: every pod of the namespace */
	ck_assert_int_eq(POLICY(p, "default", "bad", "\"podSelector\":{"
				"\"matchLabels\":{\"app\":[]}},\"ingress\":[{}]"),
			 -EINVAL);
	DENY(p, "10.0.0.2", "10.0.1.2", TCP, 80);
	DENY(p, "10.0.1.2", "10.0.0.2", TCP, 80);
	ALLOW(p, "10.0.1.2", "8.8.8.8", TCP, 80);
	pol_policy_del(p, "default", "bad");
	ALLOW(p, "10.0.0.2", "10.0.0.1", TCP, 80);
	/* a pod with bad labels: isolated, and nobody's peer */
	ck_assert_int_eq(put_pod(p, "default", "client", "{\"app\":1}",
				 "10.0.0.2", NULL),
			 -EINVAL);
	ck_assert_str_eq(fx_err, "Pod default/client: metadata.labels: app: 1 "
				 "is not a valid label value");
	DENY(p, "10.0.0.2", "10.0.1.2", TCP, 80);
	DENY(p, "10.0.1.2", "10.0.0.2", TCP, 80);
	ck_assert_int_eq(POLICY(p, "other", "a", "\"podSelector\":{},"
				"\"ingress\":[{\"from\":[{\"namespaceSelector\":"
				"{}}]}]"),
			 0);
	ALLOW(p, "10.0.0.1", "10.0.1.2", TCP, 80);
	DENY(p, "10.0.0.2", "10.0.1.2", TCP, 80);
	/* a namespace with bad labels matches no namespaceSelector */
	ck_assert_int_eq(put_ns(p, "default", "{\"a\":\"-\"}"), -EINVAL);
	DENY(p, "10.0.0.1", "10.0.1.2", TCP, 80);
	pol_free(p);
}
END_TEST

START_TEST(selector_truth_table)
{
	static const struct {
		const char *sel;
		const char *labels;
		bool match;
	} t[] = {
		{ "{}", "{}", true },
		{ "{\"matchLabels\":{\"a\":\"1\"}}", "{\"a\":\"1\"}", true },
		{ "{\"matchLabels\":{\"a\":\"1\"}}", "{\"a\":\"2\"}", false },
		{ "{\"matchLabels\":{\"a\":\"1\",\"b\":\"\"}}",
		  "{\"a\":\"1\",\"b\":\"\"}", true },
		{ "{\"matchLabels\":{\"a\":\"1\",\"b\":\"2\"}}", "{\"a\":\"1\"}",
		  false },
#define EXPR(op, vals) "{\"matchExpressions\":[{\"key\":\"example.com/a\"," \
	"\"operator\":\"" op "\"" vals "}]}"
		{ EXPR("In", ",\"values\":[\"1\",\"2\"]"),
		  "{\"example.com/a\":\"2\"}", true },
		{ EXPR("In", ",\"values\":[\"1\"]"), "{\"example.com/a\":\"2\"}",
		  false },
		{ EXPR("In", ",\"values\":[\"1\"]"), "{}", false },
		{ EXPR("NotIn", ",\"values\":[\"1\"]"), "{}", true },
		{ EXPR("NotIn", ",\"values\":[\"1\"]"),
		  "{\"example.com/a\":\"1\"}", false },
		{ EXPR("NotIn", ",\"values\":[\"1\"]"),
		  "{\"example.com/a\":\"3\"}", true },
		{ EXPR("Exists", ""), "{\"example.com/a\":\"\"}", true },
		{ EXPR("Exists", ""), "{\"a\":\"1\"}", false },
		{ EXPR("DoesNotExist", ""), "{\"a\":\"1\"}", true },
		{ EXPR("DoesNotExist", ""), "{\"example.com/a\":\"x\"}", false },
		{ "{\"matchLabels\":{\"b\":\"1\"},\"matchExpressions\":[{"
		  "\"key\":\"a\",\"operator\":\"Exists\"}]}",
		  "{\"a\":\"x\",\"b\":\"1\"}", true },
		{ "{\"matchLabels\":{\"b\":\"1\"},\"matchExpressions\":[{"
		  "\"key\":\"a\",\"operator\":\"Exists\"}]}", "{\"b\":\"1\"}",
		  false },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pol *p = pol_new();
		char spec[512];

		ck_assert_int_eq(put_pod(p, "d", "x", t[i].labels, "10.0.0.1",
					 NULL),
				 0);
		snprintf(spec, sizeof(spec), "\"podSelector\":%s", t[i].sel);
		ck_assert_msg(POLICY(p, "d", "p", spec) == 0, "%s", fx_err);
		ck_assert_msg(allows(p, "10.9.9.9", "10.0.0.1", TCP, 1) ==
				      !t[i].match,
			      "case %zu: %s on %s", i, t[i].sel, t[i].labels);
		pol_free(p);
	}
}
END_TEST

static bool has_rule(const struct nftm *m, const char *chain,
		     const char *rule)
{
	const struct nftm_chain *c = nftm_find_chain(m, chain);
	size_t i;

	for (i = 0; c && i < c->n_rules; i++)
		if (!strcmp(c->rules[i], rule))
			return true;
	return false;
}

static bool has_elem(const struct nftm *m, const char *set, const char *e)
{
	const struct nftm_set *s = nftm_find_set(m, set);
	size_t i;

	for (i = 0; s && i < s->n_elems; i++)
		if (!strcmp(s->elems[i], e))
			return true;
	return false;
}

static const char *verdict(const struct nftm *m, const char *map,
			   const char *key)
{
	const struct nftm_map *mp = nftm_find_map(m, map);
	size_t i;

	for (i = 0; mp && i < mp->n_elems; i++)
		if (!strcmp(mp->elems[i].key, key))
			return mp->elems[i].verdict;
	return "(none)";
}

#define WEBIF "st0000000000001"
#define CLIF "st0000000000002"

START_TEST(compile_small)
{
	struct pol *p = cluster();
	struct nftm *m, *again;
	char *script;
	const char *id = NULL;

	ck_assert_int_eq(attach(p, "h1", "default", "web", WEBIF, "10.0.0.1",
				"fd00::1"),
			 0);
	ck_assert_int_eq(attach(p, "h2", "default", "client", CLIF,
				"10.0.0.2", "fd00::2"),
			 0);
	ck_assert_int_eq(attach(p, "h3", NULL, NULL, "st0000000000003",
				"10.0.0.3", NULL),
			 0);
	ck_assert_int_eq(POLICY(p, "default", "allow-web", WEB ",\"ingress\":"
				"[{\"from\":[{\"podSelector\":{\"matchLabels\":"
				"{\"app\":\"client\"}}},{\"ipBlock\":{\"cidr\":"
				"\"192.168.0.0/16\",\"except\":"
				"[\"192.168.1.0/24\"]}}],\"ports\":[{\"port\":80},"
				"{\"port\":\"http\"},{\"protocol\":\"UDP\","
				"\"port\":5000,\"endPort\":5010},{\"port\":81}]}]"),
			 0);
	/* selects no pod here: no chain */
	ck_assert_int_eq(POLICY(p, "other", "elsewhere", "\"podSelector\":{}"),
			 0);
	ck_assert_int_eq(pol_compile(p, &m), 0);
	id = p->pols[0]->id;
	ck_assert_str_eq(p->pols[0]->name, "allow-web");
	ck_assert_uint_eq(strlen(id), 12);

	ck_assert_str_eq(verdict(m, "pod-ingress", "\"" WEBIF "\""),
			 "goto pod-" WEBIF "-in");
	ck_assert_str_eq(verdict(m, "pod-egress", "\"" WEBIF "\""), "accept");
	ck_assert_str_eq(verdict(m, "pod-ingress", "\"" CLIF "\""), "accept");
	/* no Pod object known for it: dropped both ways */
	ck_assert_str_eq(verdict(m, "pod-ingress", "\"st0000000000003\""),
			 "drop");
	ck_assert_str_eq(verdict(m, "pod-egress", "\"st0000000000003\""),
			 "drop");
	ck_assert(has_rule(m, "egress", "iifname vmap @pod-egress"));
	ck_assert(has_rule(m, "ingress", "oifname \"st*\" drop"));
	{
		char chain[64], set4[64], rule[256];
		const struct nftm_chain *pc;

		snprintf(chain, sizeof(chain), "np-%s-in", id);
		pc = nftm_find_chain(m, "pod-" WEBIF "-in");
		ck_assert_ptr_nonnull(pc);
		ck_assert_uint_eq(pc->n_rules, 2);
		snprintf(rule, sizeof(rule), "jump %s", chain);
		ck_assert_str_eq(pc->rules[0], rule);
		ck_assert_str_eq(pc->rules[1], "drop");
		/* the set of the pods the peers select, named after them:
		 * SHA-256 of "pods app=client\nnamespace =default\n" */
		ck_assert_str_eq(p->pols[0]->in[0].pset,
				 "ps-2de0e2917a8faf30");
		snprintf(set4, sizeof(set4), "%s-4", p->pols[0]->in[0].pset);
		snprintf(rule, sizeof(rule),
			 "ip saddr @%s meta l4proto . th dport { tcp . 80-81, "
			 "udp . 5000-5010 } accept", set4);
		ck_assert_msg(has_rule(m, chain, rule), "%s", rule);
		ck_assert(has_elem(m, set4, "10.0.0.2"));
		ck_assert(!has_elem(m, set4, "10.0.1.2"));
		ck_assert_uint_eq(nftm_find_set(m, set4)->n_elems, 1);
		ck_assert(!nftm_find_set(m, set4)->interval);
		/* ipBlocks less their excepts: ranges in the rules */
		ck_assert(has_rule(m, chain, "ip saddr 192.168.0.0/24 meta "
				   "l4proto . th dport { tcp . 80-81, udp . "
				   "5000-5010 } accept"));
		ck_assert(has_rule(m, chain, "ip saddr 192.168.2.0-192.168."
				   "255.255 meta l4proto . th dport { tcp . "
				   "80-81, udp . 5000-5010 } accept"));
		snprintf(set4, sizeof(set4), "np-%s-in-0-4n", id);
		ck_assert(has_elem(m, set4, "10.0.0.1 . tcp . 8080"));
		ck_assert_uint_eq(nftm_find_set(m, set4)->n_elems, 1);
		snprintf(set4, sizeof(set4), "%s-6", p->pols[0]->in[0].pset);
		ck_assert(has_elem(m, set4, "fd00::2"));
	}
	ck_assert_ptr_null(nftm_find_chain(m, "pod-" CLIF "-in"));
	ck_assert_uint_eq(m->n_chains, 4);

	/* the same state compiles to the same table */
	ck_assert_int_eq(pol_compile(p, &again), 0);
	ck_assert_int_eq(nftm_diff(m, again, &script, NULL), 0);
	ck_assert_str_eq(script, "");
	free(script);
	nftm_free(again);

	/* a label change moves set elements only */
	ck_assert_int_eq(put_pod(p, "default", "client", "{\"app\":\"x\"}",
				 "10.0.0.2\",\"fd00::2", NULL),
			 0);
	ck_assert_int_eq(pol_compile(p, &again), 0);
	{
		struct nftm_diff_stats st;

		ck_assert_int_eq(nftm_diff(m, again, &script, &st), 0);
		ck_assert_uint_eq(st.chains_written, 0);
		ck_assert_uint_eq(st.elems_deleted, 2);
		ck_assert_uint_eq(st.elems_added, 0);
		free(script);
	}
	nftm_free(again);
	nftm_free(m);
	pol_free(p);
}
END_TEST

START_TEST(compile_all_peers_and_egress)
{
	struct pol *p = cluster();
	struct nftm *m;
	char chain[64], rule[256];

	ck_assert_int_eq(attach(p, "h2", "default", "client", CLIF,
				"10.0.0.2", NULL),
			 0);
	ck_assert_int_eq(POLICY(p, "default", "e", "\"podSelector\":{},"
				"\"policyTypes\":[\"Egress\"],\"egress\":["
				"{\"ports\":[{\"protocol\":\"UDP\"},"
				"{\"protocol\":\"TCP\"}]},"
				"{\"ports\":[{\"port\":\"http\"}]},{}]"),
			 0);
	ck_assert_int_eq(pol_compile(p, &m), 0);
	snprintf(chain, sizeof(chain), "np-%s-eg", p->pols[0]->id);
	ck_assert(has_rule(m, chain, "meta l4proto { tcp, udp } accept"));
	snprintf(rule, sizeof(rule), "ip daddr . meta l4proto . th dport "
		 "@np-%s-eg-1-4n accept", p->pols[0]->id);
	ck_assert_msg(has_rule(m, chain, rule), "%s", rule);
	snprintf(rule, sizeof(rule), "np-%s-eg-1-4n", p->pols[0]->id);
	ck_assert(has_elem(m, rule, "10.0.0.1 . tcp . 8080"));
	ck_assert(has_rule(m, chain, "accept"));
	ck_assert_str_eq(verdict(m, "pod-egress", "\"" CLIF "\""),
			 "goto pod-" CLIF "-eg");
	ck_assert_str_eq(verdict(m, "pod-ingress", "\"" CLIF "\""), "accept");
	nftm_free(m);
	/* detached: nothing of the pod or its policy is left */
	pol_detach(p, "h2");
	ck_assert_int_eq(pol_compile(p, &m), 0);
	ck_assert_uint_eq(m->n_chains, 2);
	ck_assert_uint_eq(m->n_sets, 0);
	nftm_free(m);
	pol_free(p);
}
END_TEST

struct lines {
	char text[16][256];
	size_t n;
};

static void collect(void *arg, const char *text)
{
	struct lines *l = arg;

	ck_assert_uint_lt(l->n, 16);
	snprintf(l->text[l->n++], sizeof(l->text[0]), "%s", text);
}

START_TEST(explain)
{
	struct pol *p = cluster();
	struct lines l = { .n = 0 };

	ck_assert_int_eq(attach(p, "h1", "default", "web", WEBIF, "10.0.0.1",
				NULL),
			 0);
	ck_assert_int_eq(POLICY(p, "default", "deny-all", "\"podSelector\":{}"),
			 0);
	ck_assert_int_eq(POLICY(p, "default", "allow-web", WEB ",\"ingress\":"
				"[{\"from\":[{\"podSelector\":{\"matchLabels\":"
				"{\"app\":\"client\"}}}],\"ports\":[{\"port\":"
				"80}]},{\"from\":[{\"ipBlock\":{\"cidr\":"
				"\"10.0.0.0/8\",\"except\":[\"10.1.0.0/16\"]}},"
				"{\"namespaceSelector\":{\"matchLabels\":"
				"{\"team\":\"b\"}}}],\"ports\":[{\"port\":"
				"\"http\"},{\"protocol\":\"UDP\",\"port\":5000,"
				"\"endPort\":5010}]}]"),
			 0);
	ck_assert_int_eq(pol_explain(p, "default", "web", collect, &l), 0);
	ck_assert_uint_eq(l.n, 5);
	ck_assert_str_eq(l.text[0], "pod default/web on this node at " WEBIF
				    ", address 10.0.0.1");
	ck_assert_str_eq(l.text[1], "ingress: isolated by default/allow-web, "
				    "default/deny-all");
	ck_assert_str_eq(l.text[2], "  from pods app=client in namespace "
				    "default, tcp/80: default/allow-web");
	ck_assert_str_eq(l.text[3], "  from 10.0.0.0/8 except 10.1.0.0/16 or "
				    "all pods in namespaces team=b, tcp/http, "
				    "udp/5000-5010: default/allow-web");
	ck_assert_str_eq(l.text[4], "egress: not isolated (no policy selects "
				    "it for egress)");
	ck_assert_int_eq(pol_explain(p, "default", "nope", collect, &l),
			 -ENOENT);
	pol_free(p);
}
END_TEST

START_TEST(attach_checks)
{
	struct pol *p = pol_new();
	struct pol_counts c;

	ck_assert_int_eq(attach(p, "h", "d", "a", "bad\"name", NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(attach(p, "h", "d", "a", "st1", "10.0.0.1", NULL), 0);
	ck_assert_int_eq(attach(p, "h", "d", "a", "st2", "10.0.0.1", NULL), 0);
	pol_counts(p, &c);
	ck_assert_uint_eq(c.attachments, 1);
	pol_detach(p, "h");
	pol_detach(p, "h");
	pol_counts(p, &c);
	ck_assert_uint_eq(c.attachments, 0);
	pol_free(p);
}
END_TEST


static size_t pod_sets(const struct nftm *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->n_sets; i++)
		n += !strncmp(m->sets[i].name, "ps-", 3);
	return n;
}

/* Rules whose peers select alike share one set of pods, in any policy;
 * it goes with the last rule using it. */
START_TEST(pod_sets_shared)
{
	struct pol *p = cluster();
	struct nftm *m;
	const char *from_client = "\"ingress\":[{\"from\":[{\"podSelector\":"
				  "{\"matchLabels\":{\"app\":\"client\"}}}]";

	ck_assert_int_eq(attach(p, "h1", "default", "web", WEBIF, "10.0.0.1",
				NULL),
			 0);
	ck_assert_int_eq(put_policy(p, "{\"metadata\":{\"name\":\"a\","
				    "\"namespace\":\"default\"},\"spec\":{%s,"
				    "%s,\"ports\":[{\"port\":80}]}]}}",
				    WEB, from_client),
			 0);
	ck_assert_int_eq(put_policy(p, "{\"metadata\":{\"name\":\"b\","
				    "\"namespace\":\"default\"},\"spec\":{%s,"
				    "%s,\"ports\":[{\"port\":443}]}]}}",
				    WEB, from_client),
			 0);
	ck_assert_str_eq(p->pols[0]->in[0].pset, p->pols[1]->in[0].pset);
	/* the same selector in another namespace selects other pods */
	ck_assert_int_eq(put_policy(p, "{\"metadata\":{\"name\":\"c\","
				    "\"namespace\":\"other\"},\"spec\":{%s,"
				    "%s}]}}", WEB, from_client),
			 0);
	ck_assert_str_ne(p->pols[0]->in[0].pset, p->pols[2]->in[0].pset);
	ck_assert_int_eq(pol_update(p, &m), 0);
	ck_assert_uint_eq(pod_sets(m), 2); /* IPv4 and IPv6 */
	pol_policy_del(p, "default", "a");
	ck_assert_int_eq(pol_update(p, &m), 0);
	ck_assert_uint_eq(pod_sets(m), 2);
	pol_policy_del(p, "default", "b");
	ck_assert_int_eq(pol_update(p, &m), 0);
	ck_assert_uint_eq(pod_sets(m), 0);
	pol_free(p);
}
END_TEST

/*
 * pol_update() against pol_compile(): random changes to namespaces, pods,
 * attachments and policies (malformed ones too), and after each batch the
 * table kept incrementally, and a copy kept by nftm_diff_changed() and
 * nftm_sync() the way the plugin keeps what it applied, must both equal
 * the table compiled whole.
 */
static uint32_t rnd_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static const char *const shapes[] = {
	"\"podSelector\":{}",
	"\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{"
	"\"from\":[{\"podSelector\":{\"matchLabels\":{\"tier\":\"x\"}}}],"
	"\"ports\":[{\"port\":80}]}]",
	"\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}},\"ingress\":[{"
	"\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"t1\"}}"
	"},{\"ipBlock\":{\"cidr\":\"10.0.0.0/24\",\"except\":["
	"\"10.0.0.4/30\"]}}],\"ports\":[{\"port\":\"http\"},{\"port\":81}]}]",
	"\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":"
	"\"In\",\"values\":[\"a\",\"c\"]}]},\"policyTypes\":[\"Egress\"],"
	"\"egress\":[{\"to\":[{\"namespaceSelector\":{},\"podSelector\":{"
	"\"matchLabels\":{\"tier\":\"y\"}}}],\"ports\":[{\"port\":\"http\"}]}]",
	"\"podSelector\":{\"matchLabels\":{\"tier\":\"y\"}},\"policyTypes\":["
	"\"Ingress\",\"Egress\"],\"ingress\":[{}],\"egress\":[{\"to\":[{"
	"\"ipBlock\":{\"cidr\":\"fd00::/112\"}},{\"podSelector\":{}}]}]",
	"\"podSelector\":{\"matchLabels\":{\"app\":\"c\"}},\"egress\":[{"
	"\"ports\":[{\"port\":\"http\"}]}],\"policyTypes\":[\"Egress\"]",
	"\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{"
	"\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}}},{"
	"\"ipBlock\":{\"cidr\":\"10.0.0.0/28\"}}],\"ports\":[{\"port\":"
	"\"http\"}]}]",
	/* malformed: isolates what it selects */
	"\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}},\"ingress\":[{"
	"\"ports\":[{\"port\":70000}]}]",
};

static void random_change(struct pol *p, uint32_t *x)
{
	static const char *const apps[] = { "a", "b", "c" };
	static const char *const tiers[] = { "x", "y" };
	char ns[8], name[16], labels[96], ip[64], handle[8], ifn[20];
	uint32_t k = rnd_next(x) % 12, op = rnd_next(x) % 10;

	snprintf(ns, sizeof(ns), "ns%u", k % 3);
	snprintf(name, sizeof(name), "p%u", k);
	snprintf(handle, sizeof(handle), "h%u", k);
	snprintf(ifn, sizeof(ifn), "st00000000000%02u", k);
	switch (op) {
	case 0: case 1: case 2: /* a pod: labels, addresses, ports */
		snprintf(labels, sizeof(labels),
			 "{\"app\":\"%s\",\"tier\":\"%s\"}",
			 apps[rnd_next(x) % 3], tiers[rnd_next(x) % 2]);
		if (rnd_next(x) % 3 == 0)
			snprintf(ip, sizeof(ip), "10.0.0.%u\",\"fd00::%u",
				 k + rnd_next(x) % 2 * 16, k);
		else
			snprintf(ip, sizeof(ip), "10.0.0.%u",
				 k + rnd_next(x) % 2 * 16);
		ck_assert_int_eq(put_pod(p, ns, name, labels,
					 rnd_next(x) % 8 ? ip : NULL,
					 rnd_next(x) % 2 ?
					 "[{\"name\":\"http\","
					 "\"containerPort\":8080}]" :
					 NULL),
				 0);
		break;
	case 3:
		pol_pod_del(p, ns, name);
		break;
	case 4: case 5:
		snprintf(ip, sizeof(ip), "10.0.0.%u", k);
		ck_assert_int_eq(attach(p, handle, ns, name, ifn, ip, NULL), 0);
		break;
	case 6:
		pol_detach(p, handle);
		break;
	case 7: case 8: {
		char pname[8];
		uint32_t j = rnd_next(x) % 8;

		snprintf(pname, sizeof(pname), "np%u", j);
		snprintf(ns, sizeof(ns), "ns%u", j % 3);
		POLICY(p, ns, pname,
		       shapes[rnd_next(x) % (sizeof(shapes) / sizeof(*shapes))]);
		if (rnd_next(x) % 4 == 0)
			pol_policy_del(p, ns, pname);
		break;
	}
	default:
		snprintf(labels, sizeof(labels), "{\"team\":\"t%u\"}",
			 rnd_next(x) % 2);
		if (rnd_next(x) % 8)
			ck_assert_int_eq(put_ns(p, ns, labels), 0);
		else
			pol_namespace_del(p, ns);
	}
}

START_TEST(update_matches_compile)
{
	uint32_t x = 0x9e3779b9u + (uint32_t)_i * 7919u;
	struct nftm *have = NULL, *inc, *whole;
	char *script;
	int step;

	struct pol *p = pol_new();

	ck_assert_ptr_nonnull(p);
	for (step = 0; step < 300; step++) {
		int n = 1 + (int)(rnd_next(&x) % 3);

		while (n--)
			random_change(p, &x);
		ck_assert_int_eq(pol_update(p, &inc), 0);
		ck_assert_int_eq(pol_compile(p, &whole), 0);
		if (!have) {
			have = nftm_dup(inc);
			ck_assert_ptr_nonnull(have);
		} else {
			ck_assert_int_eq(nftm_diff_changed(have, inc, &script,
							   NULL),
					 0);
			free(script);
			ck_assert_int_eq(nftm_sync(have, inc), 0);
		}
		ck_assert_int_eq(nftm_diff(inc, whole, &script, NULL), 0);
		ck_assert_msg(!*script, "seed %d step %d: kept table differs:"
			      "\n%s", _i, step, script);
		free(script);
		ck_assert_int_eq(nftm_diff(have, whole, &script, NULL), 0);
		ck_assert_msg(!*script, "seed %d step %d: synced copy "
			      "differs:\n%s", _i, step, script);
		free(script);
		nftm_free(whole);
	}
	nftm_free(have);
	pol_free(p);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("policy_engine");
	TCase *tc = tcase_create("semantics");
	TCase *tp = tcase_create("parse");
	TCase *tk = tcase_create("compile");

	tcase_add_test(tc, no_policy_allows_all);
	tcase_add_test(tc, deny_all_ingress);
	tcase_add_test(tc, policy_types_default);
	tcase_add_test(tc, peers_and_namespaces);
	tcase_add_test(tc, union_of_policies);
	tcase_add_test(tc, ipblock_except);
	tcase_add_test(tc, named_ports_endport_sctp);
	tcase_add_test(tc, pods_as_peers);
	tcase_add_test(tc, malformed_is_stricter);
	tcase_add_test(tc, selector_truth_table);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, policy_errors);
	tcase_add_test(tp, object_errors);
	tcase_add_test(tp, attach_checks);
	suite_add_tcase(s, tp);
	tcase_add_test(tk, compile_small);
	tcase_add_test(tk, compile_all_peers_and_egress);
	tcase_add_test(tk, explain);
	tcase_add_test(tk, pod_sets_shared);
	tcase_add_loop_test(tk, update_matches_compile, 0, 8);
	suite_add_tcase(s, tk);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(engine_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
