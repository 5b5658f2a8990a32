/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The aws-vpc plugin on the mock host, no EC2 needed: a configured
 * identity becomes node facts and the node's record in the store; a node
 * that is not the route writer makes no pass; bad config is refused.
 * (EC2 itself: tests/integration/aws-vpc.sh, against moto.)
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strata/plugin.h>

#include "mock_host.h"
#include "noderec.h"
#include "store.h"

extern const struct strata_plugin STRATA_PLUGIN_ENTRY;
static const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;

#define MS 1000000LL
#define IFACE "eni-0a1b2c3d4e5f60718"
#define SUBNET "subnet-0a1b2c3d4e5f60718"

struct t {
	struct mock_host *mh;
	struct store *st;
	char db[64];
	void *self;
};

static void t_init(struct t *t, bool with_iface)
{
	struct store_options o = { .size = sizeof(o) };
	char err[256];

	snprintf(t->db, sizeof(t->db), "/tmp/strata-awsvpc-%d.db", getpid());
	unlink(t->db);
	o.url = t->db;
	t->mh = mock_host_new();
	ck_assert_ptr_nonnull(t->mh);
	ck_assert_int_eq(mock_host_set_schema(t->mh, desc->config), 0);
	ck_assert_int_eq(store_open(mock_host_loop(t->mh), &o, &t->st, err,
				    sizeof(err)), 0);
	mock_host_set_store(t->mh, t->st);
	mock_host_set_fact(t->mh, "name", "n1");
	mock_host_set_fact(t->mh, "address", "10.0.1.5");
	mock_host_set_cfg_bool(t->mh, "imds", 0);
	mock_host_set_cfg_bool(t->mh, "disable_source_dest_check", 0);
	mock_host_set_cfg_string(t->mh, "region", "us-east-1");
	mock_host_set_cfg_string(t->mh, "zone", "us-east-1a");
	mock_host_set_cfg_string(t->mh, "subnet_id", SUBNET);
	mock_host_set_cfg_string(t->mh, "ec2_endpoint", "http://127.0.0.1:9");
	if (with_iface)
		mock_host_set_cfg_string(t->mh, "interface_id", IFACE);
}

static void t_fini(struct t *t)
{
	if (t->self)
		desc->ops->destroy(t->self);
	mock_host_set_store(t->mh, NULL);
	store_close(t->st);
	mock_host_free(t->mh);
	unlink(t->db);
}

struct rec {
	struct t *t;
	bool done;
	int rc;
	struct noderec r;
};

static void got(void *arg, int err, int64_t rev, const struct strata_kv *kv,
		size_t n)
{
	struct rec *r = arg;
	char e[128];

	(void)rev;
	r->done = true;
	r->rc = err ? err : n != 1 ? -ENOENT
			  : noderec_decode(kv[0].value, kv[0].value_len,
					   &r->r, e, sizeof(e));
}

static bool rec_done(void *arg)
{
	return ((struct rec *)arg)->done;
}

START_TEST(identity_becomes_facts_and_record)
{
	const struct strata_host *h;
	struct rec r = { 0 };
	struct t t = { 0 };

	t_init(&t, true);
	h = mock_host_table(t.mh);
	ck_assert_int_eq(desc->ops->create(h, mock_instance(t.mh), &t.self), 0);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	ck_assert_str_eq(h->fact_get(mock_instance(t.mh), "subnet"), SUBNET);
	ck_assert_str_eq(h->fact_get(mock_instance(t.mh), "interface-id"),
			 IFACE);
	ck_assert_str_eq(h->fact_get(mock_instance(t.mh), "zone"),
			 "us-east-1a");
	/* the record is written after start returns: read until it is */
	for (int i = 0; i < 100; i++) {
		memset(&r, 0, sizeof(r));
		r.t = &t;
		ck_assert_int_eq(h->store_get(mock_instance(t.mh),
					      NODEREC_PREFIX "n1", 0, got, &r),
				 0);
		ck_assert(mock_host_run_until(t.mh, rec_done, &r, 2000 * MS));
		if (r.rc != -ENOENT)
			break;
		mock_host_run(t.mh, 100 * MS);
	}
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.r.interface, IFACE);
	ck_assert_str_eq(r.r.subnet, SUBNET);
	ck_assert_uint_eq(r.r.n_addrs, 1);
	ck_assert_uint_eq(r.r.addrs[0].addr[3], 5);
	t_fini(&t);
}
END_TEST

START_TEST(not_the_writer_makes_no_pass)
{
	const struct strata_advertiser_ops *adv = desc->kind_ops;
	struct strata_route route = { .size = sizeof(route),
				      .scope = STRATA_SCOPE_CLOUD,
				      .n_nexthops = 1 };
	const struct strata_route *desired[] = { &route };
	int64_t passes = -1;
	struct t t = { 0 };

	route.dst = (struct strata_prefix){ .family = STRATA_AF_INET, .len = 16,
					    .addr = { 10, 112 } };
	route.nh[0].gw = (struct strata_addr){ .family = STRATA_AF_INET,
					       .addr = { 10, 0, 1, 5 } };
	t_init(&t, true);
	mock_host_set_writer_remaining(t.mh, 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(t.mh),
					   mock_instance(t.mh), &t.self), 0);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	ck_assert_int_eq(adv->reconcile(t.self, desired, 1,
					STRATA_RECONCILE_MAY_DELETE), 0);
	mock_host_run(t.mh, 200 * MS);
	desc->ops->status(t.self, mock_host_status(t.mh));
	ck_assert_str_eq(mock_host_status_str(t.mh, "state"),
			 "standby (not the route writer)");
	ck_assert_int_eq(mock_host_status_int(t.mh, "passes", &passes), 0);
	ck_assert_int_eq(passes, 0);
	ck_assert_int_eq(mock_host_status_int(t.mh, "routes_wanted", &passes),
			 0);
	ck_assert_int_eq(passes, 1);
	t_fini(&t);
}
END_TEST

START_TEST(bad_config_refused)
{
	static const char *const bad_rtb[] = { "rtb-XYZ" };
	struct t t = { 0 };

	/* no IMDS and no interface: nothing to target */
	t_init(&t, false);
	ck_assert_int_eq(desc->ops->create(mock_host_table(t.mh),
					   mock_instance(t.mh), &t.self),
			 -EINVAL);
	t_fini(&t);
	memset(&t, 0, sizeof(t));
	t_init(&t, true);
	mock_host_set_cfg_strings(t.mh, "route_tables", bad_rtb, 1);
	ck_assert_int_eq(desc->ops->create(mock_host_table(t.mh),
					   mock_instance(t.mh), &t.self),
			 -EINVAL);
	t_fini(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_vpc");
	TCase *tc = tcase_create("plugin");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, identity_becomes_facts_and_record);
	tcase_add_test(tc, not_the_writer_makes_no_pass);
	tcase_add_test(tc, bad_config_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
