/* SPDX-License-Identifier: Apache-2.0 */
/* The owner-fixture plugin, compiled in, against the mock host. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <strata/plugin.h>

#include "mock_host.h"

#define MS (1000000LL)

extern const struct strata_plugin STRATA_PLUGIN_ENTRY;

static const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;

static struct strata_prefix pfx(const char *addr, uint8_t len)
{
	struct strata_prefix p;

	memset(&p, 0, sizeof(p));
	p.len = len;
	if (inet_pton(AF_INET, addr, p.addr) == 1) {
		p.family = STRATA_AF_INET;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, p.addr), 1);
		p.family = STRATA_AF_INET6;
	}
	return p;
}

static bool synced(void *arg)
{
	return mock_host_synced_calls(arg) > 0;
}

START_TEST(test_states_and_syncs)
{
	static const char *const routes[] = {
		"10.9.0.0/24 via 10.0.0.2 dev eth0",
		"10.8.0.0/24 dev veth1",
		"10.7.0.0/24 via 10.0.0.2 weight 3 via 10.0.0.3 metric 5 table 7",
		"fd09::/64 via fd00::2",
	};
	struct mock_host *mh = mock_host_new();
	const struct strata_route *r;
	struct strata_prefix p;
	void *self;
	int64_t t0;

	ck_assert_str_eq(desc->name, "owner-fixture");
	ck_assert_uint_eq(desc->kind, STRATA_KIND_FRONTEND);
	mock_host_set_cfg_strings(mh, "routes", routes, 4);
	mock_host_set_cfg_string(mh, "scope", "cloud");
	mock_host_set_cfg_duration(mh, "sync_delay", 200 * MS);
	ck_assert_int_eq(mock_host_set_schema(mh, desc->config), 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(mh),
					   mock_instance(mh), &self),
			 0);
	ck_assert(mock_host_is_owner(mh));
	ck_assert_int_eq(desc->ops->start(self), 0);
	t0 = mock_host_table(mh)->now();
	ck_assert_uint_eq(mock_host_route_count(mh), 4);
	ck_assert_uint_eq(mock_host_synced_calls(mh), 0);

	p = pfx("10.9.0.0", 24);
	r = mock_host_route_find(mh, STRATA_SCOPE_CLOUD, &p);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_nexthops, 1);
	ck_assert_uint_eq(r->nh[0].gw.family, STRATA_AF_INET);
	ck_assert_uint_eq(r->nh[0].gw.addr[3], 2);
	ck_assert_str_eq(r->nh[0].ifname, "eth0");
	p = pfx("10.8.0.0", 24);
	r = mock_host_route_find(mh, STRATA_SCOPE_CLOUD, &p);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->nh[0].gw.family, 0);
	ck_assert_str_eq(r->nh[0].ifname, "veth1");
	p = pfx("10.7.0.0", 24);
	r = mock_host_route_find(mh, STRATA_SCOPE_CLOUD, &p);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_nexthops, 2);
	ck_assert_uint_eq(r->nh[0].weight, 3);
	ck_assert_uint_eq(r->nh[1].gw.addr[3], 3);
	ck_assert_uint_eq(r->metric, 5);
	ck_assert_uint_eq(r->table, 7);
	p = pfx("fd09::", 64);
	ck_assert_ptr_nonnull(mock_host_route_find(mh, STRATA_SCOPE_CLOUD, &p));
	ck_assert_ptr_null(mock_host_route_find(mh, STRATA_SCOPE_KERNEL, &p));

	ck_assert(mock_host_run_until(mh, synced, mh, 2000 * MS));
	ck_assert_int_ge(mock_host_table(mh)->now() - t0, 190 * MS);
	mock_host_run(mh, 100 * MS);
	ck_assert_uint_eq(mock_host_synced_calls(mh), 1);
	ck_assert_int_eq(desc->ops->stop(self), 0);
	desc->ops->destroy(self);
	mock_host_free(mh);
}
END_TEST

START_TEST(test_bad_routes)
{
	static const char *const bad[] = {
		"10.9.0.0 via 10.0.0.2", "10.9.0.0/24", "10.9.0.0/33 dev x",
		"10.9.0.0/24 via", "10.9.0.0/24 via nope", "10.9.0.0/24 to x",
		"10.9.0.0/24 dev waytoolonganame0",
		"10.9.0.0/24 weight 2 via 10.0.0.2",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mock_host *mh = mock_host_new();
		void *self;

		mock_host_set_cfg_strings(mh, "routes", &bad[i], 1);
		ck_assert_int_eq(mock_host_set_schema(mh, desc->config), 0);
		ck_assert_int_eq(desc->ops->create(mock_host_table(mh),
						   mock_instance(mh), &self),
				 0);
		ck_assert_msg(desc->ops->start(self) == -EINVAL, "%s", bad[i]);
		ck_assert_uint_eq(mock_host_route_count(mh), 0);
		desc->ops->destroy(self);
		mock_host_free(mh);
	}
}
END_TEST

START_TEST(test_no_routes_syncs_at_once)
{
	struct mock_host *mh = mock_host_new();
	void *self;

	ck_assert_int_eq(mock_host_set_schema(mh, desc->config), 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(mh),
					   mock_instance(mh), &self),
			 0);
	ck_assert_int_eq(desc->ops->start(self), 0);
	ck_assert(mock_host_run_until(mh, synced, mh, 500 * MS));
	ck_assert_uint_eq(mock_host_route_count(mh), 0);
	desc->ops->destroy(self);
	mock_host_free(mh);
}
END_TEST

static Suite *fixture_suite(void)
{
	Suite *s = suite_create("owner-fixture");
	TCase *tc = tcase_create("owner");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_states_and_syncs);
	tcase_add_test(tc, test_bad_routes);
	tcase_add_test(tc, test_no_routes_syncs_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fixture_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
