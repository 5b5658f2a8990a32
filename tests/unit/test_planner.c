/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The planner on a live view: a view function stands in for the IPAM
 * instance; the route model is the real one. What the planner states for
 * this node, how it changes when hosts come and go, the start-up barrier,
 * and that a failing plan withdraws nothing.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "intent.h"
#include "planner.h"
#include "route.h"

#define MS 1000000LL

struct vhost {
	const char *name;
	const char *path;
	const char *addr;
	const char *blocks[3];
	bool gone;
};

struct view {
	const char *subnets[3][2]; /* path, prefix */
	struct vhost hosts[6];
	int fail; /* view() returns this when set */
	int calls;
};

static struct strata_prefix P(const char *text)
{
	struct strata_prefix p;

	ck_assert_int_eq(route_prefix_parse(text, &p), 0);
	return p;
}

static int view_fn(void *arg, const struct strata_topo_sink *sink)
{
	struct view *v = arg;
	struct strata_prefix pools[1] = { P("10.112.0.0/16") };
	struct strata_topo_node root = {
		.size = sizeof(root), .level = "cluster", .path = "",
		.n_prefixes = 1, .prefixes = pools,
	};

	v->calls++;
	if (v->fail)
		return v->fail;
	sink->node(sink->arg, &root);
	for (int i = 0; i < 3 && v->subnets[i][0]; i++) {
		struct strata_prefix p = P(v->subnets[i][1]);
		struct strata_topo_node n = {
			.size = sizeof(n), .depth = 1, .level = "subnet",
			.path = v->subnets[i][0], .routed = 1,
			.n_prefixes = 1, .prefixes = &p,
		};

		sink->node(sink->arg, &n);
	}
	for (int i = 0; i < 6 && v->hosts[i].name; i++) {
		const struct vhost *h = &v->hosts[i];
		struct strata_prefix b[3];
		struct strata_topo_blocks tb = {
			.size = sizeof(tb), .name = h->name, .path = h->path,
			.n_addrs = 1, .blocks = b,
		};

		if (h->gone)
			continue;
		ck_assert_int_eq(route_addr_parse(h->addr, &tb.addrs[0]), 0);
		for (int k = 0; k < 3 && h->blocks[k]; k++)
			b[tb.n_blocks++] = P(h->blocks[k]);
		sink->host(sink->arg, &tb);
	}
	return 0;
}

struct fix {
	struct loop *loop;
	struct route_model *m;
	struct planner *p;
	struct view v;
};

static void run_for(struct loop *loop, int64_t ns)
{
	int64_t end = loop_now() + ns;

	for (int i = 0; i < 1000 && loop_now() < end; i++)
		loop_run_once(loop, 10);
}

static void fix_init(struct fix *f, const char *node)
{
	static const struct view v0 = {
		.subnets = { { "a/s1", "10.112.0.0/20" },
			     { "a/s2", "10.112.16.0/20" } },
		.hosts = {
			{ "h1", "a/s1", "10.0.1.1", { "10.112.0.0/26" } },
			{ "h2", "a/s1", "10.0.1.2",
			  { "10.112.0.128/26", "10.112.0.192/26" } },
			{ "h3", "a/s1", "10.0.1.3", { "10.112.1.0/26" } },
			{ "h4", "a/s2", "10.0.2.4", { "10.112.16.0/26" } },
		},
	};
	struct plan_options o = { 0 };

	memset(f, 0, sizeof(*f));
	f->v = v0;
	log_set_level(LOG_WARNING);
	ck_assert_int_eq(loop_new(&f->loop), 0);
	ck_assert_int_eq(route_model_new(f->loop, 3600LL * 1000 * MS, &f->m),
			 0);
	ck_assert_int_eq(planner_new(f->loop, f->m, node, &f->p), 0);
	planner_set_options(f->p, &o);
}

static void fix_fini(struct fix *f)
{
	planner_free(f->p);
	route_model_free(f->m);
	loop_free(f->loop);
}

struct found {
	const char *dst;
	uint32_t scope;
	char via[64];
	unsigned n;
	unsigned count[8];
};

static void find_cb(void *arg, const struct strata_route *r,
		    const char *owners)
{
	struct found *fd = arg;
	char d[64];

	(void)owners;
	fd->count[r->scope]++;
	route_prefix_format(&r->dst, d, sizeof(d));
	if (r->scope != fd->scope || strcmp(d, fd->dst))
		return;
	fd->n++;
	route_addr_format(&r->nh[0].gw, fd->via, sizeof(fd->via));
}

/* The next hop of the route (scope, dst), "" when there is none. */
static const char *via(struct fix *f, uint32_t scope, const char *dst)
{
	static struct found fd;

	memset(&fd, 0, sizeof(fd));
	fd.dst = dst;
	fd.scope = scope;
	route_desired_each(f->m, ~0u, find_cb, &fd);
	return fd.n ? fd.via : "";
}

static unsigned count(struct fix *f, uint32_t scope)
{
	struct found fd = { .dst = "", .scope = 0 };

	route_desired_each(f->m, ~0u, find_cb, &fd);
	return fd.count[scope];
}

START_TEST(test_states_this_nodes_share)
{
	struct fix f;
	struct planner_stats st;

	fix_init(&f, "h1");
	ck_assert(!route_may_delete(f.m)); /* the barrier holds */
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	ck_assert(route_may_delete(f.m));
	/* kernel: peers' blocks in its subnet, aggregated */
	ck_assert_str_eq(via(&f, STRATA_SCOPE_KERNEL, "10.112.0.128/25"),
			 "10.0.1.2");
	ck_assert_str_eq(via(&f, STRATA_SCOPE_KERNEL, "10.112.0.0/26"), "");
	ck_assert_str_eq(via(&f, STRATA_SCOPE_KERNEL, "10.112.1.0/26"),
			 "10.0.1.3");
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_KERNEL), 2);
	/* nothing across subnets in the kernel: that goes through the VPC */
	ck_assert_str_eq(via(&f, STRATA_SCOPE_KERNEL, "10.112.16.0/26"), "");
	/* cloud: 4 hosts fit the budget, so one route per host */
	ck_assert_str_eq(via(&f, STRATA_SCOPE_CLOUD, "10.112.16.0/26"),
			 "10.0.2.4");
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 4);
	/* bgp: its own block */
	ck_assert_str_eq(via(&f, STRATA_SCOPE_BGP, "10.112.0.0/26"),
			 "10.0.1.1");
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_BGP), 1);
	planner_stats(f.p, &st);
	ck_assert(st.synced);
	ck_assert_int_eq(st.plans, 1);
	ck_assert_uint_eq(st.hosts, 4);
	ck_assert_uint_eq(st.groups, 2);
	fix_fini(&f);
}
END_TEST

START_TEST(test_follows_changes)
{
	struct fix f;

	fix_init(&f, "h1");
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	ck_assert_str_eq(via(&f, STRATA_SCOPE_KERNEL, "10.112.1.0/26"),
			 "10.0.1.3");
	/* h3 leaves, h5 joins: only those routes change */
	f.v.hosts[2].gone = true;
	f.v.hosts[4] = (struct vhost){ .name = "h5", .path = "a/s1",
				       .addr = "10.0.1.5",
				       .blocks = { "10.112.2.0/26" } };
	planner_changed(f.p, view_fn, &f.v);
	planner_changed(f.p, view_fn, &f.v); /* debounced: one plan */
	run_for(f.loop, 300 * MS);
	ck_assert_str_eq(via(&f, STRATA_SCOPE_KERNEL, "10.112.1.0/26"), "");
	ck_assert_str_eq(via(&f, STRATA_SCOPE_KERNEL, "10.112.2.0/26"),
			 "10.0.1.5");
	ck_assert_str_eq(via(&f, STRATA_SCOPE_CLOUD, "10.112.1.0/26"), "");
	ck_assert_int_eq(f.v.calls, 2);
	fix_fini(&f);
}
END_TEST

START_TEST(test_budget_per_subnet)
{
	struct fix f;
	struct plan_options o = { .budget = { 2, 2 } };

	fix_init(&f, "h4");
	planner_set_options(f.p, &o);
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	/* 5 host routes do not fit 2: one per subnet prefix */
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 2);
	ck_assert_str_eq(via(&f, STRATA_SCOPE_CLOUD, "10.112.16.0/20"),
			 "10.0.2.4");
	ck_assert_str_ne(via(&f, STRATA_SCOPE_CLOUD, "10.112.0.0/20"), "");
	fix_fini(&f);
}
END_TEST

START_TEST(test_failure_keeps_routes)
{
	struct fix f;
	struct plan_options o = { .budget = { 1, 1 } };
	struct planner_stats st;

	fix_init(&f, "h1");
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 4);
	/* 2 subnets cannot fit 1 route: the plan fails, nothing withdrawn */
	planner_set_options(f.p, &o);
	run_for(f.loop, 300 * MS);
	planner_stats(f.p, &st);
	ck_assert_int_eq(st.failures, 1);
	ck_assert_ptr_nonnull(st.error);
	ck_assert_ptr_nonnull(strstr(st.error, "budget"));
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 4);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_KERNEL), 2);
	/* a view that fails changes nothing either */
	f.v.fail = -EIO;
	planner_set_options(f.p, &(struct plan_options){ 0 });
	run_for(f.loop, 300 * MS);
	planner_stats(f.p, &st);
	ck_assert_int_eq(st.failures, 2);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_KERNEL), 2);
	fix_fini(&f);
}
END_TEST

START_TEST(test_not_read_yet_holds_barrier)
{
	struct fix f;

	fix_init(&f, "h1");
	f.v.fail = -EAGAIN;
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	ck_assert(!route_may_delete(f.m));
	f.v.fail = 0;
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	ck_assert(route_may_delete(f.m));
	fix_fini(&f);
}
END_TEST

START_TEST(test_unknown_node)
{
	struct fix f;

	/* a node not in the view yet: no kernel or BGP routes, still the
	 * cloud table, and the barrier lifts */
	fix_init(&f, "h9");
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	ck_assert(route_may_delete(f.m));
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_KERNEL), 0);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_BGP), 0);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 4);
	fix_fini(&f);
}
END_TEST

START_TEST(test_applies_the_intent)
{
	struct intent in = { .term = 3 };
	struct intent_route r = { .host = "h3", .n_via = 1 };
	char *unhealthy[] = { "h1" };
	struct fix f;

	fix_init(&f, "h1");
	planner_changed(f.p, view_fn, &f.v);
	run_for(f.loop, 300 * MS);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 4);
	/* the stored intent is the cloud table, exactly */
	r.dst = P("10.112.0.0/20");
	ck_assert_int_eq(route_addr_parse("10.0.1.3", &r.via[0]), 0);
	in.writer = "h4";
	in.routes = &r;
	in.n_routes = 1;
	in.unhealthy = unhealthy;
	in.n_unhealthy = 1;
	ck_assert_int_eq(planner_set_intent(f.p, &in, false), 0);
	run_for(f.loop, 50 * MS);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 1);
	ck_assert_str_eq(via(&f, STRATA_SCOPE_CLOUD, "10.112.0.0/20"),
			 "10.0.1.3");
	ck_assert_str_eq(via(&f, STRATA_SCOPE_BGP, "10.112.0.0/26"),
			 "10.0.1.1");
	/* drained, with no route leading here: it announces nothing */
	ck_assert_int_eq(planner_set_intent(f.p, &in, true), 0);
	run_for(f.loop, 50 * MS);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_BGP), 0);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 1);
	/* while a route still leads here, it keeps announcing */
	r.host = "h1";
	ck_assert_int_eq(planner_set_intent(f.p, &in, true), 0);
	run_for(f.loop, 50 * MS);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_BGP), 1);
	/* no intent: the planner's own table again */
	ck_assert_int_eq(planner_set_intent(f.p, NULL, false), 0);
	run_for(f.loop, 50 * MS);
	ck_assert_uint_eq(count(&f, STRATA_SCOPE_CLOUD), 4);
	fix_fini(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("planner");
	TCase *tc = tcase_create("live");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_states_this_nodes_share);
	tcase_add_test(tc, test_follows_changes);
	tcase_add_test(tc, test_budget_per_subnet);
	tcase_add_test(tc, test_failure_keeps_routes);
	tcase_add_test(tc, test_not_read_yet_holds_barrier);
	tcase_add_test(tc, test_unknown_node);
	tcase_add_test(tc, test_applies_the_intent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
