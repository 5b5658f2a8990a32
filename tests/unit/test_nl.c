/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "loop.h"
#include "netns.h"
#include "nl.h"

#define MS (1000000LL)

struct got {
	int n;
	struct strata_route r[16];
};

static void got_cb(void *arg, const struct strata_route *r)
{
	struct got *g = arg;

	ck_assert_int_lt(g->n, 16);
	g->r[g->n++] = *r;
}

static struct got list(struct nl *nl, uint32_t family, uint32_t table)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(nl_route_list(nl, family, table, got_cb, &g), 0);
	return g;
}

static void addr(const char *text, struct strata_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, a->addr) == 1) {
		a->family = STRATA_AF_INET;
		return;
	}
	ck_assert_int_eq(inet_pton(AF_INET6, text, a->addr), 1);
	a->family = STRATA_AF_INET6;
}

/* "10.9.0.0/24" with nexthops given as "via GW", "dev IF" or "via GW dev IF" */
static struct strata_route mk(const char *dst, int n, const char *const *nhs)
{
	struct strata_route r;
	struct strata_addr a;
	char buf[64], *slash;
	int i;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.scope = STRATA_SCOPE_KERNEL;
	snprintf(buf, sizeof(buf), "%s", dst);
	slash = strchr(buf, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	addr(buf, &a);
	r.dst.family = a.family;
	memcpy(r.dst.addr, a.addr, sizeof(a.addr));
	r.dst.len = (uint8_t)atoi(slash + 1);
	for (i = 0; i < n; i++) {
		char gw[64] = "", dev[16] = "";

		if (sscanf(nhs[i], "via %63s dev %15s", gw, dev) < 1)
			ck_assert_int_eq(sscanf(nhs[i], "dev %15s", dev), 1);
		if (gw[0])
			addr(gw, &r.nh[i].gw);
		memcpy(r.nh[i].ifname, dev, sizeof(dev));
	}
	r.n_nexthops = (uint32_t)n;
	return r;
}

static struct strata_route mk1(const char *dst, const char *nh)
{
	return mk(dst, 1, &nh);
}

static struct nl *open_nl(void)
{
	struct nl *nl;

	ck_assert_int_eq(nl_open(NL_DEFAULT_RTPROTO, &nl), 0);
	return nl;
}

START_TEST(test_v4)
{
	struct strata_route r;
	struct nl *nl;
	struct got g;
	char want[16];

	netns_enter();
	nl = open_nl();
	g = list(nl, 0, 0);
	ck_assert_int_eq(g.n, 0); /* the kernel's own routes are not ours */

	r = mk1("10.9.0.0/24", "via 10.0.0.2");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert(sh_has("ip route show proto 220",
			 "10.9.0.0/24 via 10.0.0.2 dev v0"));
	g = list(nl, STRATA_AF_INET, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].dst.family, STRATA_AF_INET);
	ck_assert_uint_eq(g.r[0].dst.len, 24);
	ck_assert_mem_eq(g.r[0].dst.addr, r.dst.addr, 16);
	ck_assert_uint_eq(g.r[0].scope, STRATA_SCOPE_KERNEL);
	ck_assert_uint_eq(g.r[0].table, 0);
	ck_assert_uint_eq(g.r[0].n_nexthops, 1);
	ck_assert_mem_eq(g.r[0].nh[0].gw.addr, r.nh[0].gw.addr, 4);
	ck_assert_str_eq(g.r[0].nh[0].ifname, "v0");
	ck_assert_uint_eq(g.r[0].nh[0].weight, 1);

	/* replace in place */
	r = mk1("10.9.0.0/24", "via 10.0.0.3 dev v0");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	g = list(nl, 0, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].nh[0].gw.addr[3], 3);

	/* a device route, a metric, another table */
	r = mk1("10.8.0.0/24", "dev v0");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert(sh_has("ip route show proto 220", "10.8.0.0/24 dev v0 scope link"));
	r = mk1("10.7.0.0/24", "via 10.0.0.2");
	r.metric = 50;
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert(sh_has("ip route show proto 220", "10.7.0.0/24 via 10.0.0.2 dev v0 metric 50"));
	r = mk1("10.6.0.0/24", "via 10.0.0.2");
	r.table = 100;
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	r.table = 1000; /* beyond the 8-bit field */
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	g = list(nl, 0, 0);
	ck_assert_int_eq(g.n, 3);
	g = list(nl, 0, 100);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].table, 100);
	g = list(nl, 0, 1000);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].table, 1000);
	g = list(nl, STRATA_AF_INET6, 0);
	ck_assert_int_eq(g.n, 0);

	/* delete, and delete again */
	r = mk1("10.9.0.0/24", "via 10.0.0.3");
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert(!sh_has("ip route show", "10.9.0.0/24"));
	r = mk1("10.7.0.0/24", "via 10.0.0.2");
	r.metric = 50;
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	r = mk1("10.6.0.0/24", "via 10.0.0.2");
	r.table = 1000;
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert_int_eq(list(nl, 0, 1000).n, 0);
	ck_assert_int_eq(list(nl, 0, 100).n, 1);
	g = list(nl, 0, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.r[0].nh[0].ifname, "v0");
	ck_assert_uint_eq(g.r[0].nh[0].gw.family, 0);

	/* the default route is a prefix like any other */
	r = mk1("0.0.0.0/0", "via 10.0.0.2");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert(sh_has("ip route show proto 220", "default via 10.0.0.2"));
	g = list(nl, STRATA_AF_INET, 0);
	ck_assert_int_eq(g.n, 2);
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert(!sh_has("ip route show", "default"));
	snprintf(want, sizeof(want), "%s", "10.8.0.0/24");
	ck_assert(sh_has("ip route show", want));
	nl_free(nl);
}
END_TEST

START_TEST(test_v6)
{
	struct strata_route r;
	struct nl *nl;
	struct got g;

	netns_enter();
	nl = open_nl();
	r = mk1("fd09::/64", "via fd00::2");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert(sh_has("ip -6 route show proto 220", "fd09::/64 via fd00::2 dev v0"));
	g = list(nl, STRATA_AF_INET6, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].dst.family, STRATA_AF_INET6);
	ck_assert_uint_eq(g.r[0].dst.len, 64);
	ck_assert_uint_eq(g.r[0].metric, 1024);
	ck_assert_mem_eq(g.r[0].nh[0].gw.addr, r.nh[0].gw.addr, 16);
	ck_assert_int_eq(list(nl, STRATA_AF_INET, 0).n, 0);

	/* replacing an existing route of ours, metric 0 meaning 1024 */
	r = mk1("fd09::/64", "via fd00::3");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	g = list(nl, 0, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].nh[0].gw.addr[15], 3);

	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert_int_eq(list(nl, 0, 0).n, 0);
	nl_free(nl);
}
END_TEST

START_TEST(test_ecmp)
{
	static const char *const v4[] = { "via 10.0.0.2", "via 10.0.0.3" };
	static const char *const v6[] = { "via fd00::2", "via fd00::3 dev v0" };
	struct strata_route r;
	struct nl *nl;
	struct got g;
	int i;

	netns_enter();
	nl = open_nl();
	r = mk("10.5.0.0/24", 2, v4);
	r.nh[0].weight = 2;
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert(sh_has("ip route show proto 220", "nexthop via 10.0.0.2 dev v0 weight 2"));
	ck_assert(sh_has("ip route show proto 220", "nexthop via 10.0.0.3 dev v0 weight 1"));
	g = list(nl, 0, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].n_nexthops, 2);
	for (i = 0; i < 2; i++)
		ck_assert_uint_eq(g.r[0].nh[i].weight,
				  g.r[0].nh[i].gw.addr[3] == 2 ? 2 : 1);

	/* shrink to one nexthop, grow again */
	r.n_nexthops = 1;
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	g = list(nl, 0, 0);
	ck_assert_uint_eq(g.r[0].n_nexthops, 1);
	r.n_nexthops = 2;
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert_uint_eq(list(nl, 0, 0).r[0].n_nexthops, 2);
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert_int_eq(list(nl, 0, 0).n, 0);

	r = mk("fd05::/64", 2, v6);
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	g = list(nl, STRATA_AF_INET6, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.r[0].n_nexthops, 2);
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert_int_eq(list(nl, 0, 0).n, 0);
	ck_assert(!sh_has("ip -6 route show", "fd05::"));
	nl_free(nl);
}
END_TEST

START_TEST(test_foreign)
{
	struct strata_route r;
	struct nl *nl;

	netns_enter();
	nl = open_nl();
	ck_assert_int_eq(sh("ip route add 10.4.0.0/24 via 10.0.0.2 proto static"), 0);
	ck_assert_int_eq(sh("ip -6 route add fd04::/64 via fd00::2 proto static"), 0);
	ck_assert_int_eq(list(nl, 0, 0).n, 0);

	/* never replaced */
	r = mk1("10.4.0.0/24", "via 10.0.0.3");
	ck_assert_int_eq(nl_route_replace(nl, &r), -EEXIST);
	ck_assert(sh_has("ip route show proto static", "10.4.0.0/24 via 10.0.0.2"));
	r = mk1("fd04::/64", "via fd00::3");
	ck_assert_int_eq(nl_route_replace(nl, &r), -EEXIST);
	ck_assert(sh_has("ip -6 route show proto static", "fd04::/64 via fd00::2"));

	/* never deleted */
	r = mk1("10.4.0.0/24", "via 10.0.0.2");
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert(sh_has("ip route show proto static", "10.4.0.0/24 via 10.0.0.2"));
	r = mk1("fd04::/64", "via fd00::2");
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert(sh_has("ip -6 route show proto static", "fd04::/64 via fd00::2"));

	/* another metric is another route: that one is ours to make */
	r = mk1("10.4.0.0/24", "via 10.0.0.3");
	r.metric = 10;
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert_int_eq(list(nl, 0, 0).n, 1);
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	ck_assert(sh_has("ip route show proto static", "10.4.0.0/24 via 10.0.0.2"));
	ck_assert_int_eq(list(nl, 0, 0).n, 0);
	nl_free(nl);
}
END_TEST

START_TEST(test_errors)
{
	struct strata_route r;
	struct nl *nl;

	ck_assert_int_eq(nl_open(0, &nl), -EINVAL);
	ck_assert_int_eq(nl_open(256, &nl), -EINVAL);
	netns_enter();
	nl = open_nl();
	r = mk1("10.3.0.0/24", "dev nope0");
	ck_assert_int_eq(nl_route_replace(nl, &r), -ENODEV);
	/* the kernel's own errno comes through */
	r = mk1("10.3.0.0/24", "via 192.168.77.1");
	ck_assert_int_eq(nl_route_replace(nl, &r), -ENETUNREACH);
	r.n_nexthops = 0;
	ck_assert_int_eq(nl_route_replace(nl, &r), -EINVAL);
	r = mk1("10.3.0.0/24", "via fd00::2");
	ck_assert_int_eq(nl_route_replace(nl, &r), -EINVAL);
	r.dst.family = 7;
	ck_assert_int_eq(nl_route_delete(nl, &r), -EINVAL);
	ck_assert_int_eq(nl_route_list(nl, 5, 0, got_cb, NULL), -EINVAL);
	/* the socket is still in step after the errors */
	r = mk1("10.3.0.0/24", "via 10.0.0.2");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert_int_eq(list(nl, 0, 0).n, 1);
	nl_free(nl);
}
END_TEST

static void count_cb(void *arg)
{
	(*(int *)arg)++;
}

static void run_for(struct loop *loop, int64_t ns)
{
	int64_t end = loop_now() + ns, left;

	while ((left = end - loop_now()) > 0)
		loop_run_once(loop, (int)((left + MS - 1) / MS));
}

START_TEST(test_watch)
{
	static const char *const two[] = { "via 10.0.0.2", "via 10.0.0.3" };
	struct strata_route r;
	struct loop *loop;
	struct nl *nl;
	int n = 0;

	netns_enter();
	ck_assert_int_eq(loop_new(&loop), 0);
	nl = open_nl();
	ck_assert_int_eq(nl_watch(nl, loop, 100 * MS, count_cb, &n), 0);
	ck_assert_int_eq(nl_watch(nl, loop, 100 * MS, count_cb, &n), -EBUSY);
	run_for(loop, 150 * MS);
	ck_assert_int_eq(n, 0);

	/* our own changes are not news */
	r = mk1("10.2.0.0/24", "via 10.0.0.2");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	r = mk("10.2.0.0/24", 2, two);
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	r = mk1("fd02::/64", "via fd00::2");
	ck_assert_int_eq(nl_route_replace(nl, &r), 0);
	ck_assert_int_eq(nl_route_delete(nl, &r), 0);
	run_for(loop, 300 * MS);
	ck_assert_int_eq(n, 0);

	/* someone else's are, once per burst */
	ck_assert_int_eq(sh("ip route add 10.1.0.0/24 via 10.0.0.2"), 0);
	ck_assert_int_eq(sh("ip route add 10.1.1.0/24 via 10.0.0.2"), 0);
	ck_assert_int_eq(sh("ip route del 10.2.0.0/24"), 0);
	run_for(loop, 400 * MS);
	ck_assert_int_eq(n, 1);
	run_for(loop, 200 * MS);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(sh("ip -6 route add fd01::/64 via fd00::2"), 0);
	run_for(loop, 400 * MS);
	ck_assert_int_eq(n, 2);
	nl_free(nl);
	loop_free(loop);
}
END_TEST

static Suite *nl_suite(void)
{
	Suite *s = suite_create("nl");
	TCase *tc = tcase_create("routes");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_v4);
	tcase_add_test(tc, test_v6);
	tcase_add_test(tc, test_ecmp);
	tcase_add_test(tc, test_foreign);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_watch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(nl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
