/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/plugin.h>

#include "loop.h"
#include "route.h"

#define MS (1000000LL)

/* An advertiser that records what it is handed. */
struct rec {
	int calls;
	int fail; /* fail this many calls with -EIO */
	uint32_t flags;
	size_t n;
	struct strata_route *routes;
	int64_t at[16];
	bool sorted;
	struct route_adv *self_remove;
};

static int rec_fn(void *arg, const struct strata_route *const *d, size_t n,
		  uint32_t flags)
{
	struct rec *r = arg;
	size_t i;

	if (r->calls < 16)
		r->at[r->calls] = loop_now();
	r->calls++;
	r->flags = flags;
	r->n = n;
	free(r->routes);
	r->routes = calloc(n ? n : 1, sizeof(*r->routes));
	ck_assert_ptr_nonnull(r->routes);
	r->sorted = true;
	for (i = 0; i < n; i++) {
		r->routes[i] = *d[i];
		if (i && (d[i - 1]->scope > d[i]->scope ||
			  (d[i - 1]->scope == d[i]->scope &&
			   memcmp(d[i - 1]->dst.addr, d[i]->dst.addr, 16) >= 0)))
			r->sorted = false;
	}
	if (r->self_remove) {
		route_adv_remove(r->self_remove);
		r->self_remove = NULL;
	}
	if (r->fail > 0) {
		r->fail--;
		return -EIO;
	}
	return 0;
}

static void run_for(struct loop *loop, int64_t ns)
{
	int64_t end = loop_now() + ns, left;

	while ((left = end - loop_now()) > 0)
		loop_run_once(loop, (int)((left + MS - 1) / MS));
}

static bool run_until_calls(struct loop *loop, struct rec *r, int calls,
			    int64_t timeout_ns)
{
	int64_t end = loop_now() + timeout_ns, left;

	while (r->calls < calls) {
		left = end - loop_now();
		if (left <= 0)
			return false;
		loop_run_once(loop, (int)((left + MS - 1) / MS));
	}
	return true;
}

static struct strata_route mkroute(uint32_t scope, const char *dst,
				   const char *gw, const char *dev)
{
	struct strata_route r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.scope = scope;
	ck_assert_int_eq(route_prefix_parse(dst, &r.dst), 0);
	if (gw)
		ck_assert_int_eq(route_addr_parse(gw, &r.nh[0].gw), 0);
	if (dev)
		snprintf(r.nh[0].ifname, sizeof(r.nh[0].ifname), "%s", dev);
	r.n_nexthops = 1;
	return r;
}

static void add_nh(struct strata_route *r, const char *gw)
{
	ck_assert_int_eq(route_addr_parse(gw, &r->nh[r->n_nexthops].gw), 0);
	r->n_nexthops++;
}

struct fixture {
	struct loop *loop;
	struct route_model *m;
	struct rec rec;
};

static void setup(struct fixture *f, int64_t resync_ns)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(loop_new(&f->loop), 0);
	ck_assert_int_eq(route_model_new(f->loop, resync_ns, &f->m), 0);
}

static void teardown(struct fixture *f)
{
	route_model_free(f->m);
	loop_free(f->loop);
	free(f->rec.routes);
}

/* -- text forms -------------------------------------------------------- */

START_TEST(test_prefix_parse_format)
{
	static const char *const good[] = { "10.0.0.0/24", "0.0.0.0/0",
					    "10.1.2.3/32", "fd00::/64",
					    "::/0", "2001:db8::1/128",
					    "10.128.0.0/9" };
	static const char *const bad[] = {
		"10.0.0.1/24", "10.0.0.0/33", "fd00::/129", "fd00::1/64", "",
		"abc", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/24x",
		" 10.0.0.0/24", "10.0.0.0/ 24", "10.0.0/24", "10.0.0.0/1000",
		"/24", "10.0.0.256/32"
	};
	struct strata_prefix p;
	struct strata_addr a;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(route_prefix_parse(good[i], &p), 0);
		route_prefix_format(&p, buf, sizeof(buf));
		ck_assert_str_eq(buf, good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(route_prefix_parse(bad[i], &p) == -EINVAL,
			      "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(route_prefix_parse(NULL, &p), -EINVAL);

	/* a bare address is a host prefix */
	ck_assert_int_eq(route_prefix_parse("10.1.2.3", &p), 0);
	ck_assert_uint_eq(p.family, STRATA_AF_INET);
	ck_assert_uint_eq(p.len, 32);
	ck_assert_int_eq(route_prefix_parse("fd00::5", &p), 0);
	ck_assert_uint_eq(p.family, STRATA_AF_INET6);
	ck_assert_uint_eq(p.len, 128);

	ck_assert_int_eq(route_addr_parse("192.168.1.1", &a), 0);
	ck_assert_uint_eq(a.family, STRATA_AF_INET);
	ck_assert_uint_eq(a.addr[0], 192);
	ck_assert_uint_eq(a.addr[3], 1);
	route_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.168.1.1");
	ck_assert_int_eq(route_addr_parse("fe80::1", &a), 0);
	route_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "fe80::1");
	ck_assert_int_eq(route_addr_parse("fe80::1/64", &a), -EINVAL);
	ck_assert_int_eq(route_addr_parse("", &a), -EINVAL);
	memset(&a, 0, sizeof(a));
	route_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "none");

	/* truncation stays inside the buffer and terminated */
	ck_assert_int_eq(route_prefix_parse("10.0.0.0/24", &p), 0);
	memset(buf, 'x', sizeof(buf));
	route_prefix_format(&p, buf, 5);
	ck_assert_str_eq(buf, "10.0");
}
END_TEST

START_TEST(test_scope_and_route_format)
{
	struct strata_route r = mkroute(STRATA_SCOPE_KERNEL, "10.0.0.0/24",
					"10.1.0.2", "eth0");
	struct strata_route s;
	uint32_t scope;
	char buf[256];

	ck_assert_str_eq(route_scope_name(STRATA_SCOPE_KERNEL), "kernel");
	ck_assert_str_eq(route_scope_name(STRATA_SCOPE_CLOUD), "cloud");
	ck_assert_str_eq(route_scope_name(STRATA_SCOPE_BGP), "bgp");
	ck_assert_str_eq(route_scope_name(3), "unknown");
	ck_assert_int_eq(route_scope_parse("cloud", &scope), 0);
	ck_assert_uint_eq(scope, STRATA_SCOPE_CLOUD);
	ck_assert_int_eq(route_scope_parse("bgp", &scope), 0);
	ck_assert_uint_eq(scope, STRATA_SCOPE_BGP);
	ck_assert_int_eq(route_scope_parse("Kernel", &scope), -EINVAL);

	add_nh(&r, "10.1.0.3");
	r.nh[1].weight = 3;
	r.metric = 20;
	route_format(&r, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.0.0/24 via 10.1.0.2 dev eth0, via "
			      "10.1.0.3 weight 3 metric 20");

	/* equality ignores nexthop order and reads weight 0 as 1 */
	s = r;
	s.nh[0] = r.nh[1];
	s.nh[1] = r.nh[0];
	s.scope = STRATA_SCOPE_CLOUD;
	ck_assert(route_equal(&r, &s));
	s.nh[1].weight = 1;
	r.nh[0].weight = 0;
	ck_assert(route_equal(&r, &s));
	s.metric = 21;
	ck_assert(!route_equal(&r, &s));
	s.metric = 20;
	s.nh[0].weight = 4;
	ck_assert(!route_equal(&r, &s));
	s.nh[0].weight = 3;
	s.n_nexthops = 1;
	ck_assert(!route_equal(&r, &s));
}
END_TEST

/* -- set, unset, merge ------------------------------------------------- */

struct each {
	int n;
	struct strata_route r[4];
	char owners[4][64];
};

static void each_cb(void *arg, const struct strata_route *r,
		    const char *owners)
{
	struct each *e = arg;

	ck_assert_int_lt(e->n, 4);
	e->r[e->n] = *r;
	snprintf(e->owners[e->n], sizeof(e->owners[0]), "%s", owners);
	e->n++;
}

START_TEST(test_set_unset_merge)
{
	struct fixture f;
	struct route_owner *a, *b;
	struct strata_route ra, rb;
	struct each e;
	char buf[256];

	setup(&f, 0);
	a = route_owner_add(f.m, "b-owner");
	b = route_owner_add(f.m, "a-owner");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(route_owner_name(a), "b-owner");
	ck_assert_ptr_null(route_owner_add(f.m, "a-owner"));
	ck_assert_int_eq(errno, EEXIST);

	ra = mkroute(STRATA_SCOPE_KERNEL, "10.1.0.0/24", "10.0.0.3", NULL);
	ra.metric = 7;
	rb = mkroute(STRATA_SCOPE_KERNEL, "10.1.0.0/24", "10.0.0.2", NULL);
	add_nh(&rb, "10.0.0.3"); /* the same nexthop as a's */
	rb.nh[1].weight = 2;
	ck_assert_int_eq(route_set(a, &ra), 0);
	ck_assert_int_eq(route_set(b, &rb), 0);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_KERNEL), 1);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_CLOUD), 0);

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(route_desired_each(f.m, STRATA_SCOPE_KERNEL, each_cb,
					    &e), 0);
	ck_assert_int_eq(e.n, 1);
	/* owners by name; table and metric of the first ("a-owner") */
	ck_assert_str_eq(e.owners[0], "a-owner,b-owner");
	route_format(&e.r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.1.0.0/24 via 10.0.0.2, via 10.0.0.3 weight 2");

	/* a scope of its own */
	ra.scope = STRATA_SCOPE_CLOUD;
	ck_assert_int_eq(route_set(a, &ra), 0);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_CLOUD), 1);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_KERNEL |
						   STRATA_SCOPE_CLOUD),
			  2);

	/* b leaves the kernel route: a's alone remains */
	ck_assert_int_eq(route_unset(b, STRATA_SCOPE_KERNEL, &rb.dst), 0);
	ck_assert_int_eq(route_unset(b, STRATA_SCOPE_KERNEL, &rb.dst), -ENOENT);
	memset(&e, 0, sizeof(e));
	route_desired_each(f.m, STRATA_SCOPE_KERNEL, each_cb, &e);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.owners[0], "b-owner");
	route_format(&e.r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.1.0.0/24 via 10.0.0.3 metric 7");

	/* stating again replaces */
	ra.scope = STRATA_SCOPE_KERNEL;
	ra.metric = 0;
	ck_assert_int_eq(route_set(a, &ra), 0);
	memset(&e, 0, sizeof(e));
	route_desired_each(f.m, STRATA_SCOPE_KERNEL, each_cb, &e);
	route_format(&e.r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.1.0.0/24 via 10.0.0.3");

	ck_assert_int_eq(route_unset(a, STRATA_SCOPE_KERNEL, &ra.dst), 0);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_KERNEL), 0);
	ck_assert_int_eq(route_unset(a, 5, &ra.dst), -EINVAL);

	/* removing an owner drops its routes */
	route_owner_remove(a);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_CLOUD), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_merge_cap)
{
	struct fixture f;
	struct route_owner *o[3];
	struct strata_route r;
	struct each e;
	char gw[32], name[8];
	int i, j;

	setup(&f, 0);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		o[i] = route_owner_add(f.m, name);
		r = mkroute(STRATA_SCOPE_BGP, "fd00::/64", "fe80::1", NULL);
		r.n_nexthops = 0;
		for (j = 0; j < 4; j++) {
			/* 12 gateways, given from the highest down */
			snprintf(gw, sizeof(gw), "fe80::%x", 12 - (i * 4 + j));
			add_nh(&r, gw);
		}
		ck_assert_int_eq(route_set(o[i], &r), 0);
	}
	memset(&e, 0, sizeof(e));
	route_desired_each(f.m, STRATA_SCOPE_BGP, each_cb, &e);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.owners[0], "o0,o1,o2");
	/* sorted, and only the first STRATA_MAX_NEXTHOPS kept */
	ck_assert_uint_eq(e.r[0].n_nexthops, STRATA_MAX_NEXTHOPS);
	for (j = 0; j < STRATA_MAX_NEXTHOPS; j++)
		ck_assert_uint_eq(e.r[0].nh[j].gw.addr[15], j + 1);
	teardown(&f);
}
END_TEST

START_TEST(test_validation)
{
	struct fixture f;
	struct route_owner *o;
	struct strata_route good, r;

	setup(&f, 0);
	o = route_owner_add(f.m, "o");
	good = mkroute(STRATA_SCOPE_KERNEL, "10.1.0.0/24", "10.0.0.2", "eth0");
	ck_assert_int_eq(route_set(o, &good), 0);
	ck_assert_int_eq(route_unset(o, STRATA_SCOPE_KERNEL, &good.dst), 0);

#define BAD(stmt)                                                  \
	do {                                                       \
		r = good;                                          \
		stmt;                                              \
		ck_assert_msg(route_set(o, &r) == -EINVAL, #stmt); \
	} while (0)

	BAD(r.size = sizeof(r) - 1);
	BAD(r.scope = 0);
	BAD(r.scope = STRATA_SCOPE_KERNEL | STRATA_SCOPE_CLOUD);
	BAD(r.scope = 8);
	BAD(r.flags = 1);
	BAD(r.dst.family = 5);
	BAD(r.dst.family = 0);
	BAD(r.dst.len = 33);
	BAD(r.dst.addr[3] = 1); /* host bits */
	BAD(r.n_nexthops = 0);
	BAD(r.n_nexthops = STRATA_MAX_NEXTHOPS + 1);
	BAD(memset(&r.nh[0], 0, sizeof(r.nh[0]))); /* no gateway, no device */
	BAD(r.nh[0].gw.family = STRATA_AF_INET6);   /* family mismatch */
	BAD(memset(r.nh[0].ifname, 'x', sizeof(r.nh[0].ifname)));
	BAD(r.n_nexthops = 2); /* the second one is empty */

	r = mkroute(STRATA_SCOPE_BGP, "fd00::/64", "10.0.0.2", NULL);
	ck_assert_int_eq(route_set(o, &r), -EINVAL);
	r = mkroute(STRATA_SCOPE_BGP, "fd00::/64", "fe80::1", "eth0");
	ck_assert_int_eq(route_set(o, &r), 0);
	r.dst.len = 129;
	ck_assert_int_eq(route_set(o, &r), -EINVAL);
	r.dst.len = 7; /* fd00:: has a bit set past /7 */
	ck_assert_int_eq(route_set(o, &r), -EINVAL);
	/* a device route is fine */
	r = mkroute(STRATA_SCOPE_CLOUD, "10.2.0.0/16", NULL, "eth1");
	ck_assert_int_eq(route_set(o, &r), 0);
	ck_assert_int_eq(route_set(o, NULL), -EINVAL);

	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_KERNEL), 0);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_BGP), 1);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_CLOUD), 1);
	teardown(&f);
#undef BAD
}
END_TEST

/* -- barrier ----------------------------------------------------------- */

START_TEST(test_barrier)
{
	struct fixture f;
	struct route_owner *a, *b;
	struct strata_route r;

	setup(&f, 0);
	a = route_owner_add(f.m, "a");
	b = route_owner_add(f.m, "b");
	ck_assert(!route_may_delete(f.m));
	r = mkroute(STRATA_SCOPE_KERNEL, "10.1.0.0/24", "10.0.0.2", NULL);
	ck_assert_int_eq(route_set(a, &r), 0);
	ck_assert_ptr_nonnull(route_adv_add(f.m, "adv", STRATA_SCOPE_KERNEL,
					    rec_fn, &f.rec));

	/* the first reconcile comes promptly, without deletion */
	ck_assert(run_until_calls(f.loop, &f.rec, 1, 1000 * MS));
	ck_assert_uint_eq(f.rec.flags, 0);
	ck_assert_uint_eq(f.rec.n, 1);

	ck_assert_int_eq(route_synced(a), 0);
	ck_assert(route_owner_is_synced(a));
	ck_assert(!route_may_delete(f.m));
	run_for(f.loop, 150 * MS);
	ck_assert_int_eq(f.rec.calls, 1);

	/* the last owner opens the barrier: a reconcile that may delete */
	ck_assert_int_eq(route_synced(b), 0);
	ck_assert_int_eq(route_synced(b), 0);
	ck_assert(route_may_delete(f.m));
	ck_assert(run_until_calls(f.loop, &f.rec, 2, 1000 * MS));
	ck_assert_uint_eq(f.rec.flags, STRATA_RECONCILE_MAY_DELETE);
	run_for(f.loop, 150 * MS);
	ck_assert_int_eq(f.rec.calls, 2);

	/* a new owner closes it again */
	a = route_owner_add(f.m, "c");
	ck_assert(!route_may_delete(f.m));
	route_set(a, &r);
	ck_assert(run_until_calls(f.loop, &f.rec, 3, 1000 * MS));
	ck_assert_uint_eq(f.rec.flags, 0);
	/* and removing the unsynced owner opens it */
	route_owner_remove(a);
	ck_assert(route_may_delete(f.m));
	ck_assert(run_until_calls(f.loop, &f.rec, 4, 1000 * MS));
	ck_assert_uint_eq(f.rec.flags, STRATA_RECONCILE_MAY_DELETE);
	teardown(&f);
}
END_TEST

START_TEST(test_restate)
{
	struct fixture f;
	struct route_owner *a;
	struct strata_route r1, r2, r3;

	setup(&f, 0);
	a = route_owner_add(f.m, "a");
	r1 = mkroute(STRATA_SCOPE_KERNEL, "10.1.0.0/24", "10.0.0.2", NULL);
	r2 = mkroute(STRATA_SCOPE_KERNEL, "10.2.0.0/24", "10.0.0.2", NULL);
	r3 = mkroute(STRATA_SCOPE_KERNEL, "10.3.0.0/24", "10.0.0.2", NULL);
	route_set(a, &r1);
	route_set(a, &r2);
	route_synced(a);
	route_adv_add(f.m, "adv", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	ck_assert(run_until_calls(f.loop, &f.rec, 1, 1000 * MS));
	ck_assert_uint_eq(f.rec.n, 2);

	/* the owner restarts: old routes stay until it has synced */
	route_owner_restate(a);
	ck_assert(!route_owner_is_synced(a));
	ck_assert(!route_may_delete(f.m));
	ck_assert_int_eq(route_set(a, &r1), 0);
	ck_assert_int_eq(route_set(a, &r3), 0);
	ck_assert(run_until_calls(f.loop, &f.rec, 2, 1000 * MS));
	ck_assert_uint_eq(f.rec.flags, 0);
	ck_assert_uint_eq(f.rec.n, 3);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_KERNEL), 3);

	/* synced: what it did not restate goes */
	ck_assert_int_eq(route_synced(a), 0);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_KERNEL), 2);
	ck_assert(run_until_calls(f.loop, &f.rec, 3, 1000 * MS));
	ck_assert_uint_eq(f.rec.flags, STRATA_RECONCILE_MAY_DELETE);
	ck_assert_uint_eq(f.rec.n, 2);
	ck_assert_mem_eq(f.rec.routes[0].dst.addr, r1.dst.addr, 4);
	ck_assert_mem_eq(f.rec.routes[1].dst.addr, r3.dst.addr, 4);
	teardown(&f);
}
END_TEST

/* -- scheduling -------------------------------------------------------- */

START_TEST(test_debounce)
{
	struct fixture f;
	struct route_owner *o;
	struct rec cloud;
	struct strata_route r;
	int i;

	setup(&f, 0);
	memset(&cloud, 0, sizeof(cloud));
	o = route_owner_add(f.m, "o");
	route_synced(o);
	route_adv_add(f.m, "k", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	route_adv_add(f.m, "c", STRATA_SCOPE_CLOUD, rec_fn, &cloud);
	ck_assert(run_until_calls(f.loop, &f.rec, 1, 1000 * MS));
	ck_assert(run_until_calls(f.loop, &cloud, 1, 1000 * MS));
	ck_assert_uint_eq(f.rec.n, 0);

	/* many changes, one reconcile */
	r = mkroute(STRATA_SCOPE_KERNEL, "10.0.0.0/32", "192.168.0.1", NULL);
	for (i = 0; i < 1000; i++) {
		r.dst.addr[2] = (uint8_t)(i >> 8);
		r.dst.addr[3] = (uint8_t)i;
		ck_assert_int_eq(route_set(o, &r), 0);
	}
	ck_assert_int_eq(f.rec.calls, 1); /* not synchronously */
	run_for(f.loop, 300 * MS);
	ck_assert_int_eq(f.rec.calls, 2);
	ck_assert_uint_eq(f.rec.n, 1000);
	ck_assert(f.rec.sorted);
	/* the cloud advertiser was not bothered */
	ck_assert_int_eq(cloud.calls, 1);

	/* setting what is already there changes nothing */
	route_set(o, &r);
	run_for(f.loop, 150 * MS);
	ck_assert_int_eq(f.rec.calls, 2);

	/* an explicit resync of every advertiser */
	route_resync_soon(f.m, NULL);
	run_for(f.loop, 150 * MS);
	ck_assert_int_eq(f.rec.calls, 3);
	ck_assert_int_eq(cloud.calls, 2);
	free(cloud.routes);
	teardown(&f);
}
END_TEST

START_TEST(test_periodic_resync)
{
	struct fixture f;
	struct route_owner *o;

	setup(&f, 200 * MS);
	o = route_owner_add(f.m, "o");
	route_synced(o);
	route_adv_add(f.m, "k", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	run_for(f.loop, 1100 * MS);
	/* the first at 50 ms, then one each 200 ms */
	ck_assert_int_ge(f.rec.calls, 4);
	ck_assert_int_le(f.rec.calls, 7);

	route_model_set_resync(f.m, 0);
	f.rec.calls = 0;
	run_for(f.loop, 500 * MS);
	ck_assert_int_eq(f.rec.calls, 0);
	teardown(&f);
}
END_TEST

START_TEST(test_retry)
{
	struct fixture f;

	setup(&f, 0);
	f.rec.fail = 2;
	route_adv_add(f.m, "k", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	ck_assert(run_until_calls(f.loop, &f.rec, 1, 1000 * MS));
	/* retried after 1 s, then 2 s */
	ck_assert(run_until_calls(f.loop, &f.rec, 3, 5000 * MS));
	ck_assert_int_ge(f.rec.at[1] - f.rec.at[0], 900 * MS);
	ck_assert_int_ge(f.rec.at[2] - f.rec.at[1], 1900 * MS);
	ck_assert_int_lt(f.rec.at[2] - f.rec.at[1], 3000 * MS);
	/* succeeded: no more retries */
	run_for(f.loop, 1200 * MS);
	ck_assert_int_eq(f.rec.calls, 3);
	teardown(&f);
}
END_TEST

/* A failed reconcile of a non-empty desired set frees its copies once. */
START_TEST(test_retry_with_routes)
{
	struct fixture f;
	struct route_owner *o;
	struct strata_route r = mkroute(STRATA_SCOPE_KERNEL, "10.1.0.0/24",
					"192.0.2.1", NULL);

	setup(&f, 0);
	o = route_owner_add(f.m, "o");
	ck_assert_int_eq(route_set(o, &r), 0);
	f.rec.fail = 1;
	route_adv_add(f.m, "k", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	ck_assert(run_until_calls(f.loop, &f.rec, 2, 3000 * MS));
	teardown(&f);
}
END_TEST

START_TEST(test_adv_remove)
{
	struct fixture f;
	struct route_adv *a;

	setup(&f, 100 * MS);
	a = route_adv_add(f.m, "k", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(route_adv_add(f.m, "x", 0, rec_fn, &f.rec));
	ck_assert_ptr_null(route_adv_add(f.m, "x", 16, rec_fn, &f.rec));
	/* removed from inside its own reconcile */
	f.rec.self_remove = a;
	ck_assert(run_until_calls(f.loop, &f.rec, 1, 1000 * MS));
	run_for(f.loop, 400 * MS);
	ck_assert_int_eq(f.rec.calls, 1);

	/* removed while a reconcile is due */
	a = route_adv_add(f.m, "k", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	route_adv_remove(a);
	run_for(f.loop, 300 * MS);
	ck_assert_int_eq(f.rec.calls, 1);
	teardown(&f);
}
END_TEST

/* Routes stating the same nexthop list share one copy; a change or an
 * unset of one route leaves the others' as they were. */
START_TEST(test_shared_nexthops)
{
	struct fixture f;
	struct route_owner *o, *p;
	struct strata_route r, q;
	struct each e;
	char buf[256];
	int i;

	setup(&f, 0);
	o = route_owner_add(f.m, "o");
	p = route_owner_add(f.m, "p");
	r = mkroute(STRATA_SCOPE_BGP, "10.0.0.0/24", "192.168.0.1", NULL);
	for (i = 0; i < 3; i++) {
		r.dst.addr[2] = (uint8_t)i;
		ck_assert_int_eq(route_set(o, &r), 0);
	}
	ck_assert_uint_eq(route_nexthop_lists(f.m), 1);
	/* the same list from another owner, and in another scope */
	ck_assert_int_eq(route_set(p, &r), 0);
	r.scope = STRATA_SCOPE_KERNEL;
	ck_assert_int_eq(route_set(o, &r), 0);
	ck_assert_uint_eq(route_nexthop_lists(f.m), 1);

	/* one route's list changes: a second list, the others keep theirs */
	q = mkroute(STRATA_SCOPE_BGP, "10.0.1.0/24", "192.168.0.1", NULL);
	add_nh(&q, "192.168.0.2");
	ck_assert_int_eq(route_set(o, &q), 0);
	ck_assert_uint_eq(route_nexthop_lists(f.m), 2);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(route_desired_each(f.m, STRATA_SCOPE_BGP, each_cb,
					    &e), 0);
	ck_assert_int_eq(e.n, 3);
	route_format(&e.r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.0.0/24 via 192.168.0.1");
	route_format(&e.r[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.1.0/24 via 192.168.0.1, via 192.168.0.2");
	route_format(&e.r[2], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.2.0/24 via 192.168.0.1");
	ck_assert_str_eq(e.owners[2], "o,p");

	/* back to the shared list: the second one is freed */
	q.n_nexthops = 1;
	ck_assert_int_eq(route_set(o, &q), 0);
	ck_assert_uint_eq(route_nexthop_lists(f.m), 1);
	/* table and metric are the contribution's own, not the list's */
	q.metric = 9;
	ck_assert_int_eq(route_set(o, &q), 0);
	memset(&e, 0, sizeof(e));
	route_desired_each(f.m, STRATA_SCOPE_BGP, each_cb, &e);
	route_format(&e.r[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.1.0/24 via 192.168.0.1 metric 9");
	route_format(&e.r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.0.0/24 via 192.168.0.1");

	/* the last reference goes with the last route */
	route_owner_remove(p);
	ck_assert_uint_eq(route_nexthop_lists(f.m), 1);
	for (i = 0; i < 3; i++) {
		r.scope = STRATA_SCOPE_BGP;
		r.dst.addr[2] = (uint8_t)i;
		ck_assert_int_eq(route_unset(o, STRATA_SCOPE_BGP, &r.dst), 0);
	}
	ck_assert_uint_eq(route_nexthop_lists(f.m), 1);
	r.dst.addr[2] = 0;
	ck_assert_int_eq(route_unset(o, STRATA_SCOPE_KERNEL, &r.dst), -ENOENT);
	r.dst.addr[2] = 2;
	ck_assert_int_eq(route_unset(o, STRATA_SCOPE_KERNEL, &r.dst), 0);
	ck_assert_uint_eq(route_nexthop_lists(f.m), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_100k)
{
	struct fixture f;
	struct route_owner *o, *p;
	struct strata_route r;
	int i;

	setup(&f, 0);
	o = route_owner_add(f.m, "o");
	p = route_owner_add(f.m, "p");
	route_synced(o);
	route_synced(p);
	route_adv_add(f.m, "k", STRATA_SCOPE_KERNEL, rec_fn, &f.rec);
	r = mkroute(STRATA_SCOPE_KERNEL, "10.0.0.0/32", "192.168.0.1", NULL);
	for (i = 0; i < 100000; i++) {
		r.dst.addr[1] = (uint8_t)(i >> 16);
		r.dst.addr[2] = (uint8_t)(i >> 8);
		r.dst.addr[3] = (uint8_t)i;
		ck_assert_int_eq(route_set(o, &r), 0);
		/* every tenth also stated by p, with another nexthop */
		if (i % 10 == 0) {
			struct strata_route q = r;

			q.nh[0].gw.addr[3] = 2;
			ck_assert_int_eq(route_set(p, &q), 0);
		}
	}
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_KERNEL), 100000);
	ck_assert(run_until_calls(f.loop, &f.rec, 1, 30000 * MS));
	ck_assert_uint_eq(f.rec.n, 100000);
	ck_assert(f.rec.sorted);
	ck_assert_uint_eq(f.rec.routes[0].n_nexthops, 2);
	ck_assert_uint_eq(f.rec.routes[1].n_nexthops, 1);
	ck_assert_uint_eq(f.rec.routes[10].n_nexthops, 2);

	/* p leaves: every route back to one nexthop */
	route_owner_remove(p);
	ck_assert(run_until_calls(f.loop, &f.rec, 2, 30000 * MS));
	ck_assert_uint_eq(f.rec.n, 100000);
	ck_assert_uint_eq(f.rec.routes[0].n_nexthops, 1);
	route_owner_remove(o);
	ck_assert(run_until_calls(f.loop, &f.rec, 3, 30000 * MS));
	ck_assert_uint_eq(f.rec.n, 0);
	teardown(&f);
}
END_TEST

/*
 * A big table from one owner costs little per route: the node from a
 * slab, one shared statement, no per-route arrays. A second owner on a
 * key costs an array, given back when it leaves; IPv6 keys work alike.
 */
START_TEST(test_compact)
{
	struct fixture f;
	struct route_owner *o, *p;
	struct strata_route r, q;
	struct each e;
	size_t base, full, i, n = 20000;
	char buf[256];

	setup(&f, 0);
	o = route_owner_add(f.m, "o");
	p = route_owner_add(f.m, "p");
	base = route_model_bytes(f.m);
	r = mkroute(STRATA_SCOPE_BGP, "10.0.0.0/24", "192.168.0.1", NULL);
	for (i = 0; i < n; i++) {
		r.dst.addr[1] = (uint8_t)(i >> 8);
		r.dst.addr[2] = (uint8_t)i;
		ck_assert_int_eq(route_set(o, &r), 0);
	}
	full = route_model_bytes(f.m);
	printf("model: %.1f bytes per IPv4 route\n",
	       (double)(full - base) / (double)n);
	ck_assert_uint_le(full - base, n * 40);

	/* p joins one key with a metric of its own, then leaves it */
	q = r;
	q.metric = 7;
	add_nh(&q, "192.168.0.9");
	ck_assert_int_eq(route_set(p, &q), 0);
	ck_assert_uint_gt(route_model_bytes(f.m), full);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_BGP), n);
	ck_assert_int_eq(route_unset(p, STRATA_SCOPE_BGP, &q.dst), 0);
	ck_assert_int_eq(route_unset(p, STRATA_SCOPE_BGP, &q.dst), -ENOENT);
	ck_assert_uint_eq(route_model_bytes(f.m), full);
	route_owner_remove(o);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_BGP), 0);

	/* a second owner first by name: its table and metric, then back to
	 * p's alone when its stale contribution goes */
	ck_assert_int_eq(route_set(p, &q), 0);
	o = route_owner_add(f.m, "n");
	ck_assert_int_eq(route_set(o, &r), 0);
	memset(&e, 0, sizeof(e));
	route_desired_each(f.m, STRATA_SCOPE_BGP, each_cb, &e);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.owners[0], "n,p");
	route_format(&e.r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.78.31.0/24 via 192.168.0.1, via 192.168.0.9");
	route_synced(o);
	route_owner_restate(o);
	route_synced(o);
	memset(&e, 0, sizeof(e));
	route_desired_each(f.m, STRATA_SCOPE_BGP, each_cb, &e);
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.owners[0], "p");
	route_format(&e.r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.78.31.0/24 via 192.168.0.1, via 192.168.0.9 "
			 "metric 7");

	/* IPv6 keys sort and merge like IPv4 ones */
	r = mkroute(STRATA_SCOPE_BGP, "fd00:0:0:2::/64", "fe80::1", "eth0");
	ck_assert_int_eq(route_set(o, &r), 0);
	r = mkroute(STRATA_SCOPE_BGP, "fd00:0:0:1::/64", "fe80::1", "eth0");
	ck_assert_int_eq(route_set(o, &r), 0);
	ck_assert_int_eq(route_set(p, &r), 0);
	memset(&e, 0, sizeof(e));
	route_desired_each(f.m, STRATA_SCOPE_BGP, each_cb, &e);
	ck_assert_int_eq(e.n, 3);
	route_format(&e.r[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "fd00:0:0:1::/64 via fe80::1 dev eth0");
	ck_assert_str_eq(e.owners[1], "n,p");
	route_format(&e.r[2], buf, sizeof(buf));
	ck_assert_str_eq(buf, "fd00:0:0:2::/64 via fe80::1 dev eth0");
	route_owner_remove(p);
	route_owner_remove(o);
	ck_assert_uint_eq(route_count(f.m, STRATA_SCOPE_BGP), 0);
	ck_assert_uint_eq(route_nexthop_lists(f.m), 0);
	teardown(&f);
}
END_TEST

static Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("model");
	TCase *big = tcase_create("big");

	/* some tests wait for timers for seconds */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_prefix_parse_format);
	tcase_add_test(tc, test_scope_and_route_format);
	tcase_add_test(tc, test_set_unset_merge);
	tcase_add_test(tc, test_merge_cap);
	tcase_add_test(tc, test_validation);
	tcase_add_test(tc, test_barrier);
	tcase_add_test(tc, test_restate);
	tcase_add_test(tc, test_debounce);
	tcase_add_test(tc, test_periodic_resync);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_retry_with_routes);
	tcase_add_test(tc, test_adv_remove);
	tcase_add_test(tc, test_shared_nexthops);
	tcase_add_test(tc, test_compact);
	suite_add_tcase(s, tc);
	/* correctness at scale; the timeout only allows for valgrind */
	tcase_set_timeout(big, 300);
	tcase_add_test(big, test_100k);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
