/* SPDX-License-Identifier: Apache-2.0 */
/* advertiser-static, compiled in, against the mock host, in a netns. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <strata/plugin.h>

#include "mock_host.h"
#include "netns.h"

#define MS (1000000LL)

extern const struct strata_plugin STRATA_PLUGIN_ENTRY;

static const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;
static const struct strata_advertiser_ops *adv;

struct inst {
	struct mock_host *mh;
	void *self;
};

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

/* "10.9.0.0/24" via gateways (NULL-terminated) or a device */
static struct strata_route mk(uint32_t scope, const char *dst, const char *dev,
			      const char *gw1, const char *gw2)
{
	struct strata_route r;
	struct strata_addr a;
	char buf[64], *slash;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.scope = scope;
	snprintf(buf, sizeof(buf), "%s", dst);
	slash = strchr(buf, '/');
	*slash = '\0';
	addr(buf, &a);
	r.dst.family = a.family;
	r.dst.len = (uint8_t)atoi(slash + 1);
	memcpy(r.dst.addr, a.addr, 16);
	if (dev)
		snprintf(r.nh[0].ifname, sizeof(r.nh[0].ifname), "%s", dev);
	if (gw1)
		addr(gw1, &r.nh[0].gw);
	r.n_nexthops = 1;
	if (gw2) {
		addr(gw2, &r.nh[1].gw);
		r.n_nexthops = 2;
	}
	return r;
}

static struct inst start(const char *const *scopes, size_t n_scopes,
			 int64_t table)
{
	struct inst in;

	adv = desc->kind_ops;
	ck_assert_uint_eq(desc->kind, STRATA_KIND_ADVERTISER);
	ck_assert_str_eq(desc->name, "static");
	in.mh = mock_host_new();
	ck_assert_ptr_nonnull(in.mh);
	if (scopes)
		mock_host_set_cfg_strings(in.mh, "scopes", scopes, n_scopes);
	if (table >= 0)
		mock_host_set_cfg_int(in.mh, "table", table);
	mock_host_set_cfg_duration(in.mh, "debounce", 100 * MS);
	ck_assert_int_eq(mock_host_set_schema(in.mh, desc->config), 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(in.mh),
					   mock_instance(in.mh), &in.self),
			 0);
	ck_assert_int_eq(desc->ops->start(in.self), 0);
	return in;
}

static void finish(struct inst *in)
{
	ck_assert_int_eq(desc->ops->stop(in->self), 0);
	desc->ops->destroy(in->self);
	mock_host_free(in->mh);
}

static int reconcile(struct inst *in, const struct strata_route *routes,
		     size_t n, uint32_t flags)
{
	const struct strata_route *ptrs[8];
	size_t i;

	ck_assert_uint_le(n, 8);
	for (i = 0; i < n; i++)
		ptrs[i] = &routes[i];
	return adv->reconcile(in->self, ptrs, n, flags);
}

static int64_t status_int(struct inst *in, const char *key)
{
	int64_t v = -1;

	desc->ops->status(in->self, mock_host_status(in->mh));
	ck_assert_int_eq(mock_host_status_int(in->mh, key, &v), 0);
	return v;
}

static void count_cb(void *arg, const struct strata_route *r)
{
	(*(int *)arg)++;
}

#define K STRATA_SCOPE_KERNEL
#define MAY STRATA_RECONCILE_MAY_DELETE

START_TEST(test_add_and_idempotent)
{
	struct strata_route want[4];
	struct inst in;
	int n = 0;

	netns_enter();
	in = start(NULL, 0, -1);
	ck_assert_uint_eq(adv->scopes(in.self), K);
	want[0] = mk(K, "10.9.0.0/24", NULL, "10.0.0.2", NULL);
	want[1] = mk(K, "fd09::/64", NULL, "fd00::2", NULL);
	want[2] = mk(K, "10.8.0.0/24", "v0", NULL, NULL);
	want[3] = mk(K, "10.7.0.0/24", NULL, "10.0.0.2", "10.0.0.3");
	ck_assert_int_eq(reconcile(&in, want, 4, 0), 0);
	ck_assert(sh_has("ip route show proto 220", "10.9.0.0/24 via 10.0.0.2 dev v0"));
	ck_assert(sh_has("ip -6 route show proto 220", "fd09::/64 via fd00::2 dev v0"));
	ck_assert(sh_has("ip route show proto 220", "10.8.0.0/24 dev v0"));
	ck_assert(sh_has("ip route show proto 220", "nexthop via 10.0.0.3"));
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_added"), 4);
	ck_assert_int_eq(status_int(&in, "installed"), 4);
	ck_assert_str_eq(mock_host_status_str(in.mh, "last_reconcile"), "ok");

	/* nothing to do the second time, whatever the nexthop order */
	want[3] = mk(K, "10.7.0.0/24", NULL, "10.0.0.3", "10.0.0.2");
	ck_assert_int_eq(reconcile(&in, want, 4, MAY), 0);
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_added"), 4);
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_replaced"), 0);
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_deleted"), 0);
	ck_assert_int_eq(mock_host_metric(in.mh, "reconcile_errors"), 0);

	/* installed() is the kernel's view */
	ck_assert_int_eq(adv->installed(in.self, count_cb, &n), 0);
	ck_assert_int_eq(n, 4);
	finish(&in);
}
END_TEST

START_TEST(test_replace_hand_changed)
{
	struct strata_route want[2];
	struct inst in;

	netns_enter();
	in = start(NULL, 0, -1);
	want[0] = mk(K, "10.9.0.0/24", NULL, "10.0.0.2", NULL);
	want[1] = mk(K, "fd09::/64", NULL, "fd00::2", NULL);
	ck_assert_int_eq(reconcile(&in, want, 2, MAY), 0);
	ck_assert_int_eq(sh("ip route replace 10.9.0.0/24 via 10.0.0.3 proto 220"), 0);
	ck_assert_int_eq(sh("ip -6 route replace fd09::/64 via fd00::3 proto 220"), 0);
	ck_assert_int_eq(reconcile(&in, want, 2, 0), 0);
	ck_assert(sh_has("ip route show proto 220", "10.9.0.0/24 via 10.0.0.2 dev v0"));
	ck_assert(sh_has("ip -6 route show proto 220", "fd09::/64 via fd00::2 dev v0"));
	ck_assert(!sh_has("ip route show", "10.0.0.3"));
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_replaced"), 2);

	/* the model changes its mind: replaced too */
	want[0] = mk(K, "10.9.0.0/24", "v0", "10.0.0.3", NULL);
	want[0].metric = 0;
	ck_assert_int_eq(reconcile(&in, want, 1, 0), 0);
	ck_assert(sh_has("ip route show proto 220", "10.9.0.0/24 via 10.0.0.3 dev v0"));
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_replaced"), 3);
	finish(&in);
}
END_TEST

START_TEST(test_delete_only_when_allowed)
{
	struct strata_route want[2];
	struct inst in;

	netns_enter();
	in = start(NULL, 0, -1);
	want[0] = mk(K, "10.9.0.0/24", NULL, "10.0.0.2", NULL);
	want[1] = mk(K, "fd08::/64", NULL, "fd00::2", NULL);
	ck_assert_int_eq(reconcile(&in, want, 2, 0), 0);

	/* not wanted any more, but not every owner has synced */
	ck_assert_int_eq(reconcile(&in, want, 1, 0), 0);
	ck_assert(sh_has("ip -6 route show proto 220", "fd08::/64"));
	ck_assert_int_eq(status_int(&in, "unwanted"), 1);
	ck_assert_int_eq(status_int(&in, "installed"), 2);
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_deleted"), 0);

	ck_assert_int_eq(reconcile(&in, want, 1, MAY), 0);
	ck_assert(!sh_has("ip -6 route show", "fd08::/64"));
	ck_assert(sh_has("ip route show proto 220", "10.9.0.0/24"));
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_deleted"), 1);
	ck_assert_int_eq(status_int(&in, "unwanted"), 0);
	ck_assert_int_eq(status_int(&in, "installed"), 1);

	ck_assert_int_eq(reconcile(&in, NULL, 0, MAY), 0);
	ck_assert(!sh_has("ip route show", "10.9.0.0/24"));
	ck_assert_int_eq(status_int(&in, "installed"), 0);
	finish(&in);
}
END_TEST

START_TEST(test_other_protocols_untouched)
{
	struct strata_route want[2];
	struct inst in;

	netns_enter();
	in = start(NULL, 0, -1);
	ck_assert_int_eq(sh("ip route add 10.4.0.0/24 via 10.0.0.2 proto static"), 0);
	ck_assert_int_eq(sh("ip route add 10.5.0.0/24 via 10.0.0.2"), 0);
	ck_assert_int_eq(reconcile(&in, NULL, 0, MAY), 0);
	ck_assert(sh_has("ip route show proto static", "10.4.0.0/24 via 10.0.0.2"));
	ck_assert(sh_has("ip route show", "10.5.0.0/24 via 10.0.0.2"));
	ck_assert_int_eq(status_int(&in, "installed"), 0);

	/* a wanted route that collides with another protocol's fails, and
	 * the rest still gets done */
	want[0] = mk(K, "10.4.0.0/24", NULL, "10.0.0.3", NULL);
	want[1] = mk(K, "10.6.0.0/24", NULL, "10.0.0.3", NULL);
	ck_assert_int_eq(reconcile(&in, want, 2, MAY), -EEXIST);
	ck_assert(sh_has("ip route show proto static", "10.4.0.0/24 via 10.0.0.2"));
	ck_assert(sh_has("ip route show proto 220", "10.6.0.0/24 via 10.0.0.3"));
	ck_assert_int_eq(mock_host_metric(in.mh, "reconcile_errors"), 1);
	desc->ops->status(in.self, mock_host_status(in.mh));
	ck_assert_str_ne(mock_host_status_str(in.mh, "last_reconcile"), "ok");
	finish(&in);
}
END_TEST

static bool resynced(void *arg)
{
	return mock_host_resync_calls(arg) > 0;
}

START_TEST(test_hand_deleted_comes_back)
{
	struct strata_route want[1];
	struct inst in;

	netns_enter();
	in = start(NULL, 0, -1);
	want[0] = mk(K, "10.9.0.0/24", NULL, "10.0.0.2", NULL);
	ck_assert_int_eq(reconcile(&in, want, 1, MAY), 0);
	/* our own change is no reason to resync */
	mock_host_run(in.mh, 300 * MS);
	ck_assert_uint_eq(mock_host_resync_calls(in.mh), 0);

	ck_assert_int_eq(sh("ip route del 10.9.0.0/24 proto 220"), 0);
	ck_assert(!sh_has("ip route show", "10.9.0.0/24"));
	/* the watch asks the host for a resync ... */
	ck_assert(mock_host_run_until(in.mh, resynced, in.mh, 2000 * MS));
	ck_assert_uint_eq(mock_host_resync_calls(in.mh), 1);
	/* ... and the next reconcile puts the route back */
	ck_assert_int_eq(reconcile(&in, want, 1, MAY), 0);
	ck_assert(sh_has("ip route show proto 220", "10.9.0.0/24 via 10.0.0.2"));
	ck_assert_int_eq(mock_host_metric(in.mh, "routes_added"), 2);

	/* another table's events are not ours */
	ck_assert_int_eq(sh("ip route add 10.1.0.0/24 via 10.0.0.2 table 7"), 0);
	mock_host_run(in.mh, 300 * MS);
	ck_assert_uint_eq(mock_host_resync_calls(in.mh), 1);
	finish(&in);
}
END_TEST

START_TEST(test_config)
{
	static const char *const cloud[] = { "cloud" };
	static const char *const both[] = { "kernel", "cloud" };
	static const char *const bad[] = { "bgp" };
	struct strata_route want[2];
	struct mock_host *mh;
	struct inst in;
	void *self;

	netns_enter();
	/* a gateway-role node: cloud routes in its own kernel, table 100 */
	in = start(cloud, 1, 100);
	ck_assert_uint_eq(adv->scopes(in.self), STRATA_SCOPE_CLOUD);
	want[0] = mk(STRATA_SCOPE_CLOUD, "10.112.0.0/16", NULL, "10.0.0.2", NULL);
	want[1] = mk(K, "10.113.0.0/16", NULL, "10.0.0.2", NULL);
	ck_assert_int_eq(reconcile(&in, want, 2, MAY), 0);
	ck_assert(sh_has("ip route show table 100 proto 220", "10.112.0.0/16 via 10.0.0.2"));
	ck_assert(!sh_has("ip route show table all", "10.113.0.0"));
	ck_assert_int_eq(status_int(&in, "table"), 100);
	finish(&in);

	in = start(both, 2, 254); /* main, named by number */
	ck_assert_uint_eq(adv->scopes(in.self), K | STRATA_SCOPE_CLOUD);
	ck_assert_int_eq(reconcile(&in, want, 2, MAY), 0);
	ck_assert(sh_has("ip route show proto 220", "10.112.0.0/16"));
	ck_assert(sh_has("ip route show proto 220", "10.113.0.0/16"));
	/* the table-100 route belongs to table 100: left alone */
	ck_assert(sh_has("ip route show table 100 proto 220", "10.112.0.0/16"));
	finish(&in);

	mh = mock_host_new();
	mock_host_set_cfg_strings(mh, "scopes", bad, 1);
	ck_assert_int_eq(mock_host_set_schema(mh, desc->config), 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(mh),
					   mock_instance(mh), &self),
			 -EINVAL);
	ck_assert_uint_eq(mock_host_log_count(mh, STRATA_LOG_ERR), 1);
	mock_host_free(mh);
	mh = mock_host_new();
	mock_host_set_cfg_int(mh, "table", 255);
	ck_assert_int_eq(mock_host_set_schema(mh, desc->config), 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(mh),
					   mock_instance(mh), &self),
			 -EINVAL);
	mock_host_free(mh);
}
END_TEST

static Suite *static_suite(void)
{
	Suite *s = suite_create("advertiser-static");
	TCase *tc = tcase_create("reconcile");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_add_and_idempotent);
	tcase_add_test(tc, test_replace_hand_changed);
	tcase_add_test(tc, test_delete_only_when_allowed);
	tcase_add_test(tc, test_other_protocols_untouched);
	tcase_add_test(tc, test_hand_deleted_comes_back);
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(static_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
