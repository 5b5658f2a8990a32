/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine's compiled table is nft that nftables accepts: every
 * kind of rule and set, applied with libnftables in a network namespace
 * of the test's own, then changed incrementally.
 */
#include <check.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netns.h"
#include "netpol.h"
#include "policy_fixture.h"

/* Applies script as one transaction; nft's error on failure. */
static void apply(const char *script)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	ck_assert_ptr_nonnull(nft);
	nft_ctx_buffer_error(nft);
	nft_ctx_buffer_output(nft);
	ret = nft_run_cmd_from_buffer(nft, script);
	ck_assert_msg(ret == 0, "nft: %s\nscript:\n%s",
		      nft_ctx_get_error_buffer(nft), script);
	nft_ctx_free(nft);
}

/* Every kind of peer, port and policy type. */
static struct pol *everything(void)
{
	struct pol *p = pol_new();

	ck_assert_int_eq(put_ns(p, "default", "{\"team\":\"a\"}"), 0);
	ck_assert_int_eq(put_ns(p, "other", "{\"team\":\"b\"}"), 0);
	ck_assert_int_eq(put_pod(p, "default", "web", "{\"app\":\"web\"}",
				 "10.0.0.1\",\"fd00::1",
				 "[{\"name\":\"http\",\"containerPort\":8080},"
				 "{\"name\":\"assoc\",\"containerPort\":9,"
				 "\"protocol\":\"SCTP\"}]"),
			 0);
	ck_assert_int_eq(put_pod(p, "default", "client",
				 "{\"app\":\"client\"}", "10.0.0.2\",\"fd00::2",
				 NULL),
			 0);
	ck_assert_int_eq(put_pod(p, "other", "o", "{\"app\":\"client\"}",
				 "10.0.1.2\",\"fd00:1::2", NULL),
			 0);
	ck_assert_int_eq(attach(p, "h1", "default", "web", "st0000000000001",
				"10.0.0.1", "fd00::1"),
			 0);
	ck_assert_int_eq(attach(p, "h2", "default", "client",
				"st0000000000002", "10.0.0.2", "fd00::2"),
			 0);
	ck_assert_int_eq(attach(p, "h3", NULL, NULL, "st0000000000003",
				"10.0.0.3", NULL),
			 0);
	ck_assert_msg(POLICY(p, "default", "web",
			     "\"podSelector\":{\"matchLabels\":{\"app\":"
			     "\"web\"}},\"ingress\":[{\"from\":[{\"podSelector\":"
			     "{\"matchLabels\":{\"app\":\"client\"}},"
			     "\"namespaceSelector\":{}},{\"ipBlock\":{\"cidr\":"
			     "\"192.168.0.0/16\",\"except\":[\"192.168.1.0/24\","
			     "\"192.168.4.0/22\"]}},{\"ipBlock\":{\"cidr\":"
			     "\"2001:db8::/32\",\"except\":[\"2001:db8::/48\"]}}],"
			     "\"ports\":[{\"port\":80},{\"port\":\"http\"},"
			     "{\"protocol\":\"UDP\",\"port\":5000,\"endPort\":"
			     "5010},{\"protocol\":\"SCTP\",\"port\":\"assoc\"}]},"
			     "{\"ports\":[{\"protocol\":\"SCTP\"}]},{}]") == 0,
		      "%s", fx_err);
	ck_assert_msg(POLICY(p, "default", "client",
			     "\"podSelector\":{\"matchLabels\":{\"app\":"
			     "\"client\"}},\"policyTypes\":[\"Ingress\","
			     "\"Egress\"],\"egress\":[{\"to\":[{\"podSelector\":"
			     "{}}],\"ports\":[{\"port\":\"http\"},{\"port\":"
			     "443}]},{\"ports\":[{\"protocol\":\"UDP\","
			     "\"port\":53}]}]") == 0,
		      "%s", fx_err);
	ck_assert_int_eq(POLICY(p, "default", "bad",
				"\"podSelector\":{\"matchLabels\":{\"app\":"
				"\"web\"}},\"ingress\":[{\"from\":[{}]}]"),
			 -EINVAL);
	return p;
}

START_TEST(compiled_table_applies)
{
	struct pol *p = everything();
	struct nftm *m, *next;
	char *script;

	netns_enter();
	ck_assert_int_eq(pol_compile(p, &m), 0);
	ck_assert_int_eq(nftm_diff(NULL, m, &script, NULL), 0);
	apply(script);
	free(script);
	if (getenv("POLICY_SHOW"))
		sh("nft list table inet strata-filter >&2");
	ck_assert(sh_has("nft list table inet strata-filter",
			 "meta l4proto . th dport { tcp . 80, udp . "
			 "5000-5010 } accept"));
	ck_assert(sh_has("nft list table inet strata-filter",
			 "192.168.2.0/23"));
	ck_assert(sh_has("nft list table inet strata-filter",
			 "192.168.8.0-192.168.255.255"));
	ck_assert(sh_has("nft list table inet strata-filter",
			 "10.0.0.1 . sctp . 9"));
	ck_assert(sh_has("nft list chain inet strata-filter egress",
			 "iifname vmap @pod-egress"));

	/* changes apply incrementally */
	ck_assert_int_eq(put_pod(p, "default", "client", "{\"app\":\"x\"}",
				 "10.0.0.2", NULL),
			 0);
	ck_assert_int_eq(POLICY(p, "default", "web",
				"\"podSelector\":{\"matchLabels\":{\"app\":"
				"\"web\"}},\"ingress\":[{\"ports\":[{\"port\":"
				"\"http\"}]}]"),
			 0);
	pol_detach(p, "h3");
	ck_assert_int_eq(pol_compile(p, &next), 0);
	ck_assert_int_eq(nftm_diff(m, next, &script, NULL), 0);
	ck_assert_str_ne(script, "");
	apply(script);
	free(script);
	ck_assert(!sh_has("nft list table inet strata-filter",
			  "st0000000000003"));
	ck_assert(sh_has("nft list table inet strata-filter",
			 "ip daddr . meta l4proto . th dport"));
	nftm_free(m);
	nftm_free(next);
	pol_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_nftsyntax");
	TCase *tc = tcase_create("nft");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, compiled_table_applies);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
