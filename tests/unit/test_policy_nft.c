/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy-nft plugin's kernel side: scripts from nftm_diff() applied
 * through libnftables and the table read back as a model, in a network
 * namespace of each test's own.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "netns.h"
#include "nft.h"

#define T "inet strata-filter"

static void private_netns(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0,
		      "unshare(CLONE_NEWNET) failed: run the tests as root");
}

static void add_pod(struct nftm *m, int i, bool isolated)
{
	char veth[32], key[40], chain[48], verdict[64];
	struct nftm_map *mp;
	struct nftm_chain *c;

	snprintf(veth, sizeof(veth), "st%013x", i);
	snprintf(key, sizeof(key), "\"%s\"", veth);
	snprintf(chain, sizeof(chain), "pod-%s-in", veth);
	snprintf(verdict, sizeof(verdict), "goto %s", chain);
	mp = nftm_map(m, "pod-ingress", "ifname");
	ck_assert_ptr_nonnull(mp);
	ck_assert_int_eq(nftm_map_put(mp, key, isolated ? verdict : "accept"),
			 0);
	mp = nftm_map(m, "pod-egress", "ifname");
	ck_assert_ptr_nonnull(mp);
	ck_assert_int_eq(nftm_map_put(mp, key, "accept"), 0);
	if (!isolated)
		return;
	c = nftm_chain(m, chain, NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(nftm_rule(c, "jump np-1-in"), 0);
	ck_assert_int_eq(nftm_rule(c, "drop"), 0);
}

/* A table shaped like the engine's, with every kind of element. */
static struct nftm *sample(void)
{
	struct nftm *m = nftm_new();
	struct nftm_set *s;
	struct nftm_chain *c;

	ck_assert_ptr_nonnull(m);
	c = nftm_chain(m, "egress", "type filter hook forward priority -5; "
				    "policy accept;");
	ck_assert_int_eq(nftm_rule(c, "ct state established,related accept"),
			 0);
	ck_assert_int_eq(nftm_rule(c, "iifname vmap @pod-egress"), 0);
	ck_assert_int_eq(nftm_rule(c, "iifname \"st*\" drop"), 0);
	c = nftm_chain(m, "ingress", "type filter hook forward priority 0; "
				     "policy accept;");
	ck_assert_int_eq(nftm_rule(c, "ct state established,related accept"),
			 0);
	ck_assert_int_eq(nftm_rule(c, "oifname vmap @pod-ingress"), 0);
	ck_assert_int_eq(nftm_rule(c, "oifname \"st*\" drop"), 0);

	s = nftm_set(m, "np-1-in-0", "ipv4_addr", true);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.2"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.3"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.2.0.0/16"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.3.0.0-10.3.0.5"), 0);
	s = nftm_set(m, "np-1-in-0-6", "ipv6_addr", true);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(nftm_set_add(s, "fd00::2"), 0);
	ck_assert_int_eq(nftm_set_add(s, "fd01::/64"), 0);
	ck_assert_int_eq(nftm_set_add(s, "fd02::1-fd02::9"), 0);
	s = nftm_set(m, "np-1-in-p", "ipv4_addr . inet_proto . inet_service",
		     false);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.2 . tcp . 8080"), 0);
	ck_assert_int_eq(nftm_set_add(s, "10.1.0.3 . udp . 53"), 0);
	s = nftm_set(m, "np-1-in-r", "ipv4_addr . inet_proto . inet_service",
		     true);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(nftm_set_add(s, "10.9.0.0/24 . tcp . 8000-8080"), 0);

	c = nftm_chain(m, "np-1-in", NULL);
	ck_assert_int_eq(nftm_rule(c, "ip saddr @np-1-in-0 tcp dport 80 "
				      "accept"), 0);
	ck_assert_int_eq(nftm_rule(c, "ip6 saddr @np-1-in-0-6 accept"), 0);
	ck_assert_int_eq(nftm_rule(c, "ip daddr . meta l4proto . th dport "
				      "@np-1-in-p accept"), 0);
	ck_assert_int_eq(nftm_rule(c, "ip saddr . meta l4proto . th dport "
				      "@np-1-in-r accept"), 0);
	for (int i = 1; i <= 3; i++)
		add_pod(m, i, i != 3);
	return m;
}

static struct nft_ctx *open_ok(void)
{
	struct nft_ctx *nft = nftk_open();

	ck_assert_ptr_nonnull(nft);
	return nft;
}

static struct nftm *read_ok(struct nft_ctx *nft)
{
	struct nftm *m = NULL;
	char err[512] = "";
	int ret = nftk_read(nft, &m, err, sizeof(err));

	ck_assert_msg(ret == 0, "nftk_read: %d: %s", ret, err);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* diff(have, want) applied; the script returned (free it). */
static char *converge(struct nft_ctx *nft, const struct nftm *have,
		      struct nftm *want, struct nftm_diff_stats *st)
{
	char err[512] = "", *script = NULL;
	int ret;

	ck_assert_int_eq(nftm_diff(have, want, &script, st), 0);
	ret = nftk_apply(nft, script, err, sizeof(err));
	ck_assert_msg(ret == 0, "nftk_apply: %d: %s\n%s", ret, err, script);
	return script;
}

/* What the kernel holds diffs to nothing against want. */
static void assert_in_sync(struct nft_ctx *nft, struct nftm *want)
{
	struct nftm *have = read_ok(nft);
	char *script = NULL;

	ck_assert_int_eq(nftm_diff(have, want, &script, NULL), 0);
	ck_assert_msg(!strcmp(script, ""), "not in sync:\n%s", script);
	free(script);
	nftm_free(have);
}

START_TEST(no_table_reads_empty)
{
	struct nft_ctx *nft;
	struct nftm *m;

	private_netns();
	ck_assert_int_eq(system("nft add table inet other"), 0);
	nft = open_ok();
	m = read_ok(nft);
	ck_assert_uint_eq(m->n_sets + m->n_maps + m->n_chains, 0);
	nftm_free(m);
	nftk_close(nft);
}
END_TEST

START_TEST(apply_from_empty_reads_back)
{
	struct nft_ctx *nft;
	struct nftm *want = sample(), *have, *empty;
	const struct nftm_set *s;
	const struct nftm_map *mp;
	const struct nftm_chain *c;
	char *script;

	private_netns();
	nft = open_ok();
	empty = read_ok(nft);
	script = converge(nft, empty, want, NULL);
	free(script);
	nftm_free(empty);

	have = read_ok(nft);
	ck_assert_uint_eq(have->n_sets, want->n_sets);
	ck_assert_uint_eq(have->n_maps, want->n_maps);
	ck_assert_uint_eq(have->n_chains, want->n_chains);
	for (size_t i = 0; i < want->n_sets; i++) {
		s = nftm_find_set(have, want->sets[i].name);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s->type, want->sets[i].type);
		ck_assert_int_eq(s->interval, want->sets[i].interval);
		ck_assert_uint_eq(s->n_elems, want->sets[i].n_elems);
		for (size_t e = 0; e < s->n_elems; e++)
			ck_assert_str_eq(s->elems[e], want->sets[i].elems[e]);
	}
	mp = nftm_find_map(have, "pod-ingress");
	ck_assert_ptr_nonnull(mp);
	ck_assert_str_eq(mp->type, "ifname");
	ck_assert_uint_eq(mp->n_elems, 3);
	ck_assert_str_eq(mp->elems[0].key, "\"st0000000000001\"");
	ck_assert_str_eq(mp->elems[0].verdict, "goto pod-st0000000000001-in");
	ck_assert_str_eq(mp->elems[2].verdict, "accept");
	c = nftm_find_chain(have, "egress");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->base, "type filter hook forward priority -5; "
				  "policy accept;");
	ck_assert_str_eq(c->digest, nftm_find_chain(want, "egress")->digest);
	ck_assert_ptr_null(nftm_find_chain(have, "np-1-in")->base);
	nftm_free(have);
	assert_in_sync(nft, want);
	nftm_free(want);
	nftk_close(nft);
}
END_TEST

START_TEST(one_element_change)
{
	struct nft_ctx *nft;
	struct nftm *want = sample(), *have;
	struct nftm_diff_stats st;
	char *script;

	private_netns();
	nft = open_ok();
	free(converge(nft, NULL, want, NULL));
	nftm_free(want);

	/* a pod's label moved it out of one set and into another */
	want = sample();
	ck_assert_int_eq(nftm_set_add(nftm_set(want, "np-1-in-0", "ipv4_addr",
					       true), "10.1.0.4"), 0);
	have = read_ok(nft);
	script = converge(nft, have, want, &st);
	ck_assert_str_eq(script, "add element " T " np-1-in-0 { 10.1.0.4 }\n");
	ck_assert_uint_eq(st.elems_added, 1);
	free(script);
	nftm_free(have);
	assert_in_sync(nft, want);

	/* a verdict change: pod 3 becomes isolated */
	add_pod(want, 3, true);
	have = read_ok(nft);
	script = converge(nft, have, want, &st);
	ck_assert_uint_eq(st.elems_deleted, 1);
	ck_assert_uint_eq(st.elems_added, 1);
	ck_assert_uint_eq(st.objects_added, 1);
	ck_assert_uint_eq(st.chains_written, 1);
	free(script);
	nftm_free(have);
	assert_in_sync(nft, want);
	nftm_free(want);
	nftk_close(nft);
}
END_TEST

START_TEST(failed_script_changes_nothing)
{
	struct nft_ctx *nft;
	struct nftm *want = sample(), *have;
	char err[512] = "", *before, *after, *script, *bad;
	int ret;

	private_netns();
	nft = open_ok();
	free(converge(nft, NULL, want, NULL));
	before = sh_out("nft list table " T);

	/* a real change that fails at its last command, in the kernel */
	nftm_free(want);
	want = sample();
	ck_assert_int_eq(nftm_set_add(nftm_set(want, "np-1-in-0", "ipv4_addr",
					       true), "10.1.0.9"), 0);
	add_pod(want, 7, true);
	have = read_ok(nft);
	ck_assert_int_eq(nftm_diff(have, want, &script, NULL), 0);
	ck_assert_int_gt(asprintf(&bad, "%sdelete chain " T " nosuchchain\n",
				  script), 0);
	ret = nftk_apply(nft, bad, err, sizeof(err));
	ck_assert_int_eq(ret, -EINVAL);
	/* nft's own words (libnftables 1.0.6 may quote another line of a
	 * buffer than the one that failed) */
	ck_assert_msg(strstr(err, "No such file or directory"), "err: %s", err);
	after = sh_out("nft list table " T);
	ck_assert_str_eq(before, after);

	/* the context still works, and the good script applies */
	ck_assert_int_eq(nftk_apply(nft, script, err, sizeof(err)), 0);
	assert_in_sync(nft, want);
	free(bad);
	free(script);
	free(before);
	free(after);
	nftm_free(have);
	nftm_free(want);
	nftk_close(nft);
}
END_TEST

START_TEST(other_tables_untouched)
{
	struct nft_ctx *nft;
	struct nftm *want = sample(), *have, *none = nftm_new();
	char *before, *after, *script;

	private_netns();
	ck_assert_int_eq(system("nft 'add table inet other; "
				"add set inet other np-1-in-0 { type ipv4_addr; "
				"elements = { 10.1.0.2 } }; "
				"add chain inet other egress { type filter hook "
				"forward priority -5; policy accept; }; "
				"add rule inet other egress ip saddr @np-1-in-0 "
				"counter accept'"), 0);
	before = sh_out("nft list table inet other");
	nft = open_ok();
	free(converge(nft, NULL, want, NULL));
	have = read_ok(nft);
	ck_assert_ptr_null(nftm_find_chain(have, "other"));
	ck_assert_uint_eq(have->n_chains, want->n_chains);
	/* and everything of ours removed again */
	script = converge(nft, have, none, NULL);
	ck_assert_ptr_null(strstr(script, "other"));
	free(script);
	nftm_free(have);
	have = read_ok(nft);
	ck_assert_uint_eq(have->n_sets + have->n_maps + have->n_chains, 0);
	after = sh_out("nft list table inet other");
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	nftm_free(have);
	nftm_free(none);
	nftm_free(want);
	nftk_close(nft);
}
END_TEST

START_TEST(restart_converges)
{
	struct nft_ctx *nft;
	struct nftm *want = sample(), *have;
	struct nftm_diff_stats st;
	struct nftm_chain *c;
	struct nftm_set *s;
	char *script;

	private_netns();
	nft = open_ok();
	free(converge(nft, NULL, want, NULL));
	nftk_close(nft);
	nftm_free(want);

	/* a new process: what it wants moved on while it was away */
	want = sample();
	for (int i = 4; i <= 6; i++)
		add_pod(want, i, true);
	c = nftm_chain(want, "np-1-in", NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(nftm_rule(c, "udp dport 53 accept"), 0);
	s = nftm_set(want, "np-2-in-0", "ipv4_addr", true);
	ck_assert_int_eq(nftm_set_add(s, "192.168.0.0/24"), 0);
	nft = open_ok();
	have = read_ok(nft);
	script = converge(nft, have, want, &st);
	/* the three new pod chains and np-1-in, nothing else */
	ck_assert_msg(st.chains_written == 4, "%zu chains:\n%s",
		      st.chains_written, script);
	ck_assert_ptr_null(strstr(script, "flush chain " T " egress"));
	free(script);
	nftm_free(have);
	assert_in_sync(nft, want);
	nftm_free(want);

	/* and back, with what is stale removed */
	want = sample();
	have = read_ok(nft);
	script = converge(nft, have, want, &st);
	ck_assert_uint_eq(st.objects_deleted, 4);
	free(script);
	nftm_free(have);
	assert_in_sync(nft, want);
	nftm_free(want);
	nftk_close(nft);
}
END_TEST

START_TEST(foreign_rule_rewrites_chain)
{
	struct nft_ctx *nft;
	struct nftm *want = sample(), *have;
	struct nftm_diff_stats st;
	char *script, *list;

	private_netns();
	nft = open_ok();
	free(converge(nft, NULL, want, NULL));
	ck_assert_int_eq(system("nft add rule " T " np-1-in accept"), 0);
	have = read_ok(nft);
	ck_assert_str_eq(nftm_find_chain(have, "np-1-in")->digest, "");
	script = converge(nft, have, want, &st);
	ck_assert_uint_eq(st.chains_written, 1);
	ck_assert_int_eq(strncmp(script, "flush chain " T " np-1-in\n", 32),
			 0);
	free(script);
	nftm_free(have);
	assert_in_sync(nft, want);
	list = sh_out("nft list chain " T " np-1-in");
	ck_assert_ptr_null(strstr(list, "\t\taccept\n"));
	free(list);
	nftm_free(want);
	nftk_close(nft);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_nft");
	TCase *tc = tcase_create("nft");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, no_table_reads_empty);
	tcase_add_test(tc, apply_from_empty_reads_back);
	tcase_add_test(tc, one_element_change);
	tcase_add_test(tc, failed_script_changes_nothing);
	tcase_add_test(tc, other_tables_untouched);
	tcase_add_test(tc, restart_converges);
	tcase_add_test(tc, foreign_rule_rewrites_chain);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
