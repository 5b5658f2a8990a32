/* SPDX-License-Identifier: Apache-2.0 */
/* The aws-vpc route-table diff: every rule of tables.h. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "tables.h"

/* -- helpers -------------------------------------------------------------- */

static struct strata_prefix pfx(const char *text)
{
	struct strata_prefix p = { 0 };
	char addr[64];
	const char *slash = strchr(text, '/');

	ck_assert_ptr_nonnull(slash);
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - text), text);
	if (inet_pton(AF_INET, addr, p.addr) == 1) {
		p.family = STRATA_AF_INET;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, p.addr), 1);
		p.family = STRATA_AF_INET6;
	}
	p.len = (uint8_t)atoi(slash + 1);
	return p;
}

static const char *pfx_text(const struct strata_prefix *p, char *buf,
			    size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6, p->addr,
		  addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, (unsigned)p->len);
	return buf;
}

static struct ec2_route route(const char *dst, enum ec2_target kind,
			      const char *target, enum ec2_route_state state,
			      enum ec2_route_origin origin)
{
	struct ec2_route r = {
		.target_kind = kind,
		.state = state,
		.origin = origin,
	};

	if (dst)
		r.dst = pfx(dst);
	else
		strcpy(r.prefix_list, "pl-0123abcd");
	snprintf(r.target, sizeof(r.target), "%s", target);
	return r;
}

/* A strata route: active, to an interface, created by CreateRoute. */
static struct ec2_route eni_route(const char *dst, const char *eni)
{
	return route(dst, EC2_TARGET_INTERFACE, eni, EC2_ROUTE_ACTIVE,
		     EC2_ORIGIN_CREATE_ROUTE);
}

static struct ec2_route local_route(const char *dst)
{
	return route(dst, EC2_TARGET_GATEWAY, "local", EC2_ROUTE_ACTIVE,
		     EC2_ORIGIN_CREATE_ROUTE_TABLE);
}

static struct ec2_route_table table(const char *id, struct ec2_route *routes,
				    size_t n)
{
	struct ec2_route_table t = { .routes = routes, .n_routes = n };

	snprintf(t.id, sizeof(t.id), "%s", id);
	strcpy(t.vpc_id, "vpc-0a1b2c3d");
	return t;
}

static struct tables_want want(const char *dst, const char *eni)
{
	struct tables_want w = { .dst = pfx(dst) };

	snprintf(w.eni, sizeof(w.eni), "%s", eni);
	return w;
}

static struct strata_prefix cluster[2];

static struct tables_input input(const struct ec2_route_table *t, size_t nt,
				 const struct tables_want *w, size_t nw)
{
	cluster[0] = pfx("10.100.0.0/16");
	cluster[1] = pfx("fd00:100::/56");
	return (struct tables_input){
		.tables = t,
		.n_tables = nt,
		.want = w,
		.n_want = nw,
		.cluster = cluster,
		.n_cluster = 2,
		.budget4 = 50,
		.budget6 = 50,
		.may_delete = true,
	};
}

/* "REPLACE rtb-1 10.100.1.0/24 eni-a (was eni-b)", "DELETE rtb-1 ..." */
static const char *action_text(const struct tables_action *a, char *buf,
			       size_t len)
{
	static const char *const ops[] = { "?", "REPLACE", "CREATE",
					   "DELETE" };
	char p[64];

	pfx_text(&a->dst, p, sizeof(p));
	if (a->op == TABLES_REPLACE)
		snprintf(buf, len, "%s %s %s %s (was %s)", ops[a->op],
			 a->table, p, a->eni, a->was);
	else if (a->op == TABLES_CREATE)
		snprintf(buf, len, "%s %s %s %s", ops[a->op], a->table, p,
			 a->eni);
	else
		snprintf(buf, len, "%s %s %s%s%s", ops[a->op], a->table, p,
			 a->eni[0] ? " " : "", a->eni);
	return buf;
}

/* The diff's actions, exactly these, in this order. */
static void expect(const struct tables_diff *d, const char *const *lines,
		   size_t n)
{
	char buf[256];
	size_t i;

	for (i = 0; i < d->n_actions && i < n; i++)
		ck_assert_str_eq(action_text(&d->actions[i], buf, sizeof(buf)),
				 lines[i]);
	ck_assert_msg(d->n_actions == n, "%zu actions, expected %zu",
		      d->n_actions, n);
}

#define EXPECT(d, ...)                                                    \
	do {                                                              \
		static const char *const lines_[] = { __VA_ARGS__ };      \
		expect((d), lines_, sizeof(lines_) / sizeof(lines_[0])); \
	} while (0)

static void run(const struct tables_input *in, struct tables_diff *d)
{
	ck_assert_int_eq(tables_diff(in, d), 0);
}

/* -- tables_inside -------------------------------------------------------- */

START_TEST(inside)
{
	struct strata_prefix c[] = { pfx("10.100.0.0/16"),
				     pfx("fd00:100::/56"),
				     pfx("192.168.7.128/25") };
	struct strata_prefix p;

	p = pfx("10.100.3.0/24");
	ck_assert(tables_inside(&p, c, 3));
	p = pfx("10.100.0.0/16");
	ck_assert(tables_inside(&p, c, 3));
	p = pfx("10.100.0.0/15");
	ck_assert(!tables_inside(&p, c, 3));
	p = pfx("10.101.0.0/24");
	ck_assert(!tables_inside(&p, c, 3));
	p = pfx("192.168.7.200/32");
	ck_assert(tables_inside(&p, c, 3));
	p = pfx("192.168.7.127/32");
	ck_assert(!tables_inside(&p, c, 3));
	p = pfx("fd00:100:0:ff::/64");
	ck_assert(tables_inside(&p, c, 3));
	p = pfx("fd00:100:0:100::/64");
	ck_assert(!tables_inside(&p, c, 3));
	/* same family only: ::/0 covers no IPv4 */
	c[1] = pfx("::/0");
	p = pfx("10.200.0.0/24");
	ck_assert(!tables_inside(&p, c, 2));
	p = pfx("2001:db8::/64");
	ck_assert(tables_inside(&p, c, 2));
	ck_assert(!tables_inside(&p, c, 0));
	ck_assert(!tables_inside(&p, NULL, 2));
}
END_TEST

/* -- the rules ------------------------------------------------------------ */

START_TEST(create_missing)
{
	struct ec2_route r[] = { local_route("10.0.0.0/16") };
	struct ec2_route_table t = table("rtb-1", r, 1);
	struct tables_want w[] = { want("10.100.2.0/24", "eni-b"),
				   want("10.100.1.0/24", "eni-a") };
	struct tables_input in = input(&t, 1, w, 2);
	struct tables_diff d;

	run(&in, &d);
	EXPECT(&d, "CREATE rtb-1 10.100.1.0/24 eni-a",
	       "CREATE rtb-1 10.100.2.0/24 eni-b");
	ck_assert_uint_eq(d.n_ok, 0);
	ck_assert_uint_eq(d.n_outside, 0);
	ck_assert_uint_eq(d.n_refused, 0);
	ck_assert_str_eq(d.refused, "");
	tables_diff_free(&d);
	ck_assert_ptr_null(d.actions);
	ck_assert_uint_eq(d.n_actions, 0);
}
END_TEST

START_TEST(right_is_left_alone)
{
	struct ec2_route r[] = { local_route("10.0.0.0/16"),
				 eni_route("10.100.1.0/24", "eni-a"),
				 eni_route("fd00:100:0:1::/64", "eni-a") };
	struct ec2_route_table t = table("rtb-1", r, 3);
	struct tables_want w[] = { want("fd00:100:0:1::/64", "eni-a"),
				   want("10.100.1.0/24", "eni-a") };
	struct tables_input in = input(&t, 1, w, 2);
	struct tables_diff d;

	run(&in, &d);
	ck_assert_uint_eq(d.n_actions, 0);
	ck_assert_ptr_null(d.actions);
	ck_assert_uint_eq(d.n_ok, 2);
	tables_diff_free(&d);
}
END_TEST

START_TEST(replace_elsewhere)
{
	struct ec2_route r[] = {
		eni_route("10.100.1.0/24", "eni-b"),
		route("10.100.2.0/24", EC2_TARGET_INSTANCE, "i-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
		route("10.100.3.0/24", EC2_TARGET_GATEWAY, "igw-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
		/* blackhole on the very interface wanted */
		route("10.100.4.0/24", EC2_TARGET_INTERFACE, "eni-a",
		      EC2_ROUTE_BLACKHOLE, EC2_ORIGIN_CREATE_ROUTE),
		route("10.100.5.0/24", EC2_TARGET_INSTANCE, "i-0dead",
		      EC2_ROUTE_BLACKHOLE, EC2_ORIGIN_CREATE_ROUTE),
		route("10.100.6.0/24", EC2_TARGET_NAT_GATEWAY, "nat-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
		route("10.100.7.0/24", EC2_TARGET_PEERING, "pcx-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_UNKNOWN),
		route("10.100.8.0/24", EC2_TARGET_UNKNOWN, "",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
		route("10.100.9.0/24", EC2_TARGET_TRANSIT_GATEWAY, "tgw-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
	};
	struct ec2_route_table t = table("rtb-1", r, 9);
	struct tables_want w[] = {
		want("10.100.9.0/24", "eni-a"), want("10.100.8.0/24", "eni-a"),
		want("10.100.7.0/24", "eni-a"), want("10.100.6.0/24", "eni-a"),
		want("10.100.5.0/24", "eni-a"), want("10.100.4.0/24", "eni-a"),
		want("10.100.3.0/24", "eni-a"), want("10.100.2.0/24", "eni-a"),
		want("10.100.1.0/24", "eni-a"),
	};
	struct tables_input in = input(&t, 1, w, 9);
	struct tables_diff d;

	run(&in, &d);
	EXPECT(&d, "REPLACE rtb-1 10.100.1.0/24 eni-a (was eni-b)",
	       "REPLACE rtb-1 10.100.2.0/24 eni-a (was instance i-0abc)",
	       "REPLACE rtb-1 10.100.3.0/24 eni-a (was gateway igw-0abc)",
	       "REPLACE rtb-1 10.100.4.0/24 eni-a (was blackhole eni-a)",
	       "REPLACE rtb-1 10.100.5.0/24 eni-a (was blackhole instance i-0dead)",
	       "REPLACE rtb-1 10.100.6.0/24 eni-a (was nat-gateway nat-0abc)",
	       "REPLACE rtb-1 10.100.7.0/24 eni-a (was peering pcx-0abc)",
	       "REPLACE rtb-1 10.100.8.0/24 eni-a (was target unknown)",
	       "REPLACE rtb-1 10.100.9.0/24 eni-a (was transit-gateway tgw-0abc)");
	ck_assert_uint_eq(d.n_ok, 0);
	tables_diff_free(&d);
}
END_TEST

START_TEST(was_fits)
{
	struct ec2_route r[] = {
		route("10.100.1.0/24", EC2_TARGET_CARRIER_GATEWAY,
		      "cagw-0123456789abcdef0123456789abcdef0123456789",
		      EC2_ROUTE_BLACKHOLE, EC2_ORIGIN_CREATE_ROUTE),
	};
	struct ec2_route_table t = table("rtb-1", r, 1);
	struct tables_want w[] = { want("10.100.1.0/24", "eni-a") };
	struct tables_input in = input(&t, 1, w, 1);
	struct tables_diff d;

	ck_assert_uint_eq(strlen(r[0].target), EC2_ID_MAX - 1);
	run(&in, &d);
	ck_assert_uint_eq(d.n_actions, 1);
	ck_assert_uint_eq(strlen(d.actions[0].was),
			  sizeof(d.actions[0].was) - 1);
	ck_assert(!strncmp(d.actions[0].was,
			   "blackhole carrier-gateway cagw-0123", 35));
	tables_diff_free(&d);
}
END_TEST

START_TEST(delete_only_when_may_delete)
{
	struct ec2_route r[] = { local_route("10.0.0.0/16"),
				 eni_route("10.100.1.0/24", "eni-a"),
				 eni_route("10.100.2.0/24", "eni-b"),
				 eni_route("fd00:100:0:2::/64", "eni-b") };
	struct ec2_route_table t = table("rtb-1", r, 4);
	struct tables_want w[] = { want("10.100.1.0/24", "eni-a") };
	struct tables_input in = input(&t, 1, w, 1);
	struct tables_diff d;

	run(&in, &d);
	EXPECT(&d, "DELETE rtb-1 10.100.2.0/24",
	       "DELETE rtb-1 fd00:100:0:2::/64");
	ck_assert_str_eq(d.actions[0].eni, "");
	ck_assert_str_eq(d.actions[0].was, "");
	ck_assert_uint_eq(d.n_ok, 1);
	tables_diff_free(&d);

	in.may_delete = false;
	run(&in, &d);
	ck_assert_uint_eq(d.n_actions, 0);
	ck_assert_uint_eq(d.n_ok, 1);
	tables_diff_free(&d);
}
END_TEST

START_TEST(outside_untouched)
{
	struct ec2_route r[] = {
		local_route("10.0.0.0/16"),
		route("0.0.0.0/0", EC2_TARGET_GATEWAY, "igw-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
		/* another tenant's, even to an interface, even blackholed */
		route("10.200.0.0/24", EC2_TARGET_INTERFACE, "eni-other",
		      EC2_ROUTE_BLACKHOLE, EC2_ORIGIN_CREATE_ROUTE),
		/* wider than the cluster: not inside it */
		eni_route("10.100.0.0/15", "eni-x"),
		route("::/0", EC2_TARGET_EGRESS_ONLY, "eigw-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
	};
	struct ec2_route_table t = table("rtb-1", r, 5);
	struct tables_want w[] = { want("10.200.0.0/24", "eni-a"),
				   want("0.0.0.0/0", "eni-a"),
				   want("2001:db8::/64", "eni-a"),
				   want("10.100.3.0/24", "eni-a") };
	struct tables_input in = input(&t, 1, w, 4);
	struct tables_diff d;

	run(&in, &d);
	EXPECT(&d, "CREATE rtb-1 10.100.3.0/24 eni-a");
	ck_assert_uint_eq(d.n_outside, 3);
	ck_assert_uint_eq(d.n_ok, 0);
	tables_diff_free(&d);

	/* no cluster CIDR: nothing is strata's */
	in.n_cluster = 0;
	run(&in, &d);
	ck_assert_uint_eq(d.n_actions, 0);
	ck_assert_uint_eq(d.n_outside, 4);
	tables_diff_free(&d);
}
END_TEST

START_TEST(local_propagated_prefix_list_untouched)
{
	struct ec2_route r[] = {
		/* the VPC's local route, inside a cluster CIDR this wide */
		local_route("10.100.0.0/16"),
		route("10.100.8.0/24", EC2_TARGET_GATEWAY, "vgw-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_VGW_PROPAGATION),
		route("10.100.9.0/24", EC2_TARGET_GATEWAY, "vgw-0abc",
		      EC2_ROUTE_BLACKHOLE, EC2_ORIGIN_VGW_PROPAGATION),
		route(NULL, EC2_TARGET_GATEWAY, "vpce-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
		route(NULL, EC2_TARGET_GATEWAY, "vpce-0def",
		      EC2_ROUTE_BLACKHOLE, EC2_ORIGIN_CREATE_ROUTE),
	};
	struct ec2_route_table t = table("rtb-1", r, 5);
	/* a static route beats a propagated one with the same dst */
	struct tables_want w[] = { want("10.100.0.0/16", "eni-a"),
				   want("10.100.8.0/24", "eni-a") };
	struct tables_input in = input(&t, 1, w, 2);
	struct tables_diff d;

	run(&in, &d);
	EXPECT(&d, "CREATE rtb-1 10.100.8.0/24 eni-a");
	ck_assert_uint_eq(d.n_ok, 0);
	tables_diff_free(&d);

	in.n_want = 0;
	run(&in, &d);
	ck_assert_uint_eq(d.n_actions, 0);
	tables_diff_free(&d);
}
END_TEST

/* -- budgets -------------------------------------------------------------- */

/* 46 strata routes all right, 5 others, 2 wanted new: 53 over 50. */
START_TEST(budget_refusal_message)
{
	struct ec2_route r[64];
	struct tables_want w[64];
	struct ec2_route_table t;
	struct tables_input in;
	struct tables_diff d;
	char dst[32];
	size_t n = 0, nw = 0, i;

	r[n++] = local_route("10.0.0.0/16");
	r[n++] = route("0.0.0.0/0", EC2_TARGET_GATEWAY, "igw-0abc",
		       EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE);
	r[n++] = eni_route("172.16.0.0/24", "eni-x");
	r[n++] = eni_route("172.16.1.0/24", "eni-x");
	r[n++] = eni_route("172.16.2.0/24", "eni-x");
	r[n++] = route(NULL, EC2_TARGET_GATEWAY, "vpce-0abc",
		       EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE);
	r[n++] = route("172.17.0.0/24", EC2_TARGET_GATEWAY, "vgw-0abc",
		       EC2_ROUTE_ACTIVE, EC2_ORIGIN_VGW_PROPAGATION);
	r[n++] = local_route("2001:db8::/56");
	for (i = 0; i < 46; i++) {
		snprintf(dst, sizeof(dst), "10.100.%zu.0/24", i);
		/* one moved forwarder among them */
		r[n++] = eni_route(dst, i == 7 ? "eni-b" : "eni-a");
		w[nw++] = want(dst, "eni-a");
	}
	w[nw++] = want("10.100.200.0/24", "eni-a");
	w[nw++] = want("10.100.201.0/24", "eni-a");
	w[nw++] = want("fd00:100::/64", "eni-a");
	t = table("rtb-0123456789abcdef0", r, n);
	in = input(&t, 1, w, nw);

	run(&in, &d);
	ck_assert_str_eq(d.refused,
			 "route table rtb-0123456789abcdef0 would hold 53 IPv4 routes, over its budget of 50 (48 for the cluster, 5 others)");
	ck_assert_uint_eq(d.n_refused, 2);
	ck_assert_uint_eq(d.n_ok, 45);
	/* the replace stays, IPv6 has its own room */
	EXPECT(&d,
	       "REPLACE rtb-0123456789abcdef0 10.100.7.0/24 eni-a (was eni-b)",
	       "CREATE rtb-0123456789abcdef0 fd00:100::/64 eni-a");
	tables_diff_free(&d);

	/* exactly at the budget: everything goes */
	in.budget4 = 53;
	run(&in, &d);
	ck_assert_str_eq(d.refused, "");
	ck_assert_uint_eq(d.n_refused, 0);
	ck_assert_uint_eq(d.n_actions, 4);
	tables_diff_free(&d);

	/* deletes make room: three routes no longer wanted */
	in.budget4 = 50;
	w[0] = want("10.1.0.0/24", "eni-a");
	w[1] = want("10.1.1.0/24", "eni-a");
	w[2] = want("10.1.2.0/24", "eni-a");
	run(&in, &d);
	ck_assert_str_eq(d.refused, "");
	ck_assert_uint_eq(d.n_refused, 0);
	ck_assert_uint_eq(d.n_outside, 3);
	ck_assert_uint_eq(d.n_actions, 1 + 3 + 3);
	ck_assert_int_eq(d.actions[6].op, TABLES_DELETE);
	tables_diff_free(&d);

	/* but only when deletes are allowed */
	in.may_delete = false;
	run(&in, &d);
	ck_assert_str_eq(d.refused,
			 "route table rtb-0123456789abcdef0 would hold 53 IPv4 routes, over its budget of 50 (48 for the cluster, 5 others)");
	ck_assert_uint_eq(d.n_refused, 2);
	EXPECT(&d,
	       "REPLACE rtb-0123456789abcdef0 10.100.7.0/24 eni-a (was eni-b)",
	       "CREATE rtb-0123456789abcdef0 fd00:100::/64 eni-a");
	tables_diff_free(&d);

	/* a budget of 0 is no budget */
	in.budget4 = 0;
	run(&in, &d);
	ck_assert_str_eq(d.refused, "");
	ck_assert_uint_eq(d.n_actions, 4);
	tables_diff_free(&d);
}
END_TEST

START_TEST(ipv6_own_budget)
{
	struct ec2_route r[] = {
		local_route("10.0.0.0/16"),
		local_route("2001:db8:1::/56"),
		route("::/0", EC2_TARGET_EGRESS_ONLY, "eigw-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_CREATE_ROUTE),
		eni_route("fd00:100:0:1::/64", "eni-a"),
		/* propagated: not counted */
		route("fd00:200::/64", EC2_TARGET_GATEWAY, "vgw-0abc",
		      EC2_ROUTE_ACTIVE, EC2_ORIGIN_VGW_PROPAGATION),
	};
	struct ec2_route_table tb[] = { table("rtb-1", r, 5),
					table("rtb-2", r, 5) };
	struct tables_want w[] = { want("fd00:100:0:1::/64", "eni-a"),
				   want("fd00:100:0:2::/64", "eni-a"),
				   want("10.100.1.0/24", "eni-a"),
				   want("10.100.2.0/24", "eni-a") };
	struct tables_input in = input(tb, 2, w, 4);
	struct tables_diff d;

	in.budget4 = 3;
	in.budget6 = 3;
	run(&in, &d);
	EXPECT(&d, "CREATE rtb-1 10.100.1.0/24 eni-a",
	       "CREATE rtb-1 10.100.2.0/24 eni-a",
	       "CREATE rtb-2 10.100.1.0/24 eni-a",
	       "CREATE rtb-2 10.100.2.0/24 eni-a");
	/* the first table named, the second counted */
	ck_assert_str_eq(d.refused,
			 "route table rtb-1 would hold 4 IPv6 routes, over its budget of 3 (2 for the cluster, 2 others)");
	ck_assert_uint_eq(d.n_refused, 2);
	ck_assert_uint_eq(d.n_ok, 2);
	tables_diff_free(&d);

	in.budget4 = 2;
	in.budget6 = 4;
	run(&in, &d);
	EXPECT(&d, "CREATE rtb-1 fd00:100:0:2::/64 eni-a",
	       "CREATE rtb-2 fd00:100:0:2::/64 eni-a");
	ck_assert_str_eq(d.refused,
			 "route table rtb-1 would hold 3 IPv4 routes, over its budget of 2 (2 for the cluster, 1 others)");
	ck_assert_uint_eq(d.n_refused, 4);
	tables_diff_free(&d);
}
END_TEST

/* -- order, tables, input ------------------------------------------------- */

START_TEST(replaces_first)
{
	struct ec2_route r1[] = { eni_route("10.100.9.0/24", "eni-old"),
				  eni_route("10.100.5.0/24", "eni-gone"),
				  eni_route("10.100.1.0/24", "eni-old") };
	struct ec2_route r2[] = { eni_route("fd00:100::/64", "eni-old"),
				  eni_route("10.100.8.0/24", "eni-gone"),
				  eni_route("10.100.2.0/24", "eni-a") };
	struct ec2_route_table tb[] = { table("rtb-b", r1, 3),
					table("rtb-a", r2, 3) };
	struct tables_want w[] = { want("fd00:100::/64", "eni-a"),
				   want("10.100.9.0/24", "eni-a"),
				   want("10.100.2.0/24", "eni-a"),
				   want("10.100.1.0/24", "eni-a"),
				   /* a /16 and a /24 of one address */
				   want("10.100.0.0/24", "eni-a"),
				   want("10.100.0.0/20", "eni-a") };
	struct tables_input in = input(tb, 2, w, 6);
	struct tables_diff d;

	run(&in, &d);
	/* tables in the order given, not by id */
	EXPECT(&d, "REPLACE rtb-b 10.100.1.0/24 eni-a (was eni-old)",
	       "REPLACE rtb-b 10.100.9.0/24 eni-a (was eni-old)",
	       "REPLACE rtb-a fd00:100::/64 eni-a (was eni-old)",
	       "CREATE rtb-b 10.100.0.0/20 eni-a",
	       "CREATE rtb-b 10.100.0.0/24 eni-a",
	       "CREATE rtb-b 10.100.2.0/24 eni-a",
	       "CREATE rtb-b fd00:100::/64 eni-a",
	       "CREATE rtb-a 10.100.0.0/20 eni-a",
	       "CREATE rtb-a 10.100.0.0/24 eni-a",
	       "CREATE rtb-a 10.100.1.0/24 eni-a",
	       "CREATE rtb-a 10.100.9.0/24 eni-a",
	       "DELETE rtb-b 10.100.5.0/24",
	       "DELETE rtb-a 10.100.8.0/24");
	ck_assert_uint_eq(d.n_ok, 1);
	tables_diff_free(&d);
}
END_TEST

START_TEST(several_tables)
{
	struct ec2_route r1[] = { local_route("10.0.0.0/16"),
				  eni_route("10.100.1.0/24", "eni-a"),
				  eni_route("10.100.2.0/24", "eni-b") };
	struct ec2_route r2[] = { local_route("10.0.0.0/16") };
	struct ec2_route r3[] = { eni_route("10.100.1.0/24", "eni-a"),
				  eni_route("10.100.2.0/24", "eni-b") };
	struct ec2_route_table tb[] = { table("rtb-1", r1, 3),
					table("rtb-2", r2, 1),
					table("rtb-3", r3, 2),
					table("rtb-4", NULL, 0) };
	struct tables_want w[] = { want("10.100.1.0/24", "eni-a"),
				   want("10.100.2.0/24", "eni-b") };
	struct tables_input in = input(tb, 4, w, 2);
	struct tables_diff d;

	run(&in, &d);
	EXPECT(&d, "CREATE rtb-2 10.100.1.0/24 eni-a",
	       "CREATE rtb-2 10.100.2.0/24 eni-b",
	       "CREATE rtb-4 10.100.1.0/24 eni-a",
	       "CREATE rtb-4 10.100.2.0/24 eni-b");
	ck_assert_uint_eq(d.n_ok, 4);
	tables_diff_free(&d);

	/* the forwarder of 10.100.2.0/24 moved */
	w[1] = want("10.100.2.0/24", "eni-c");
	in.n_tables = 3;
	run(&in, &d);
	EXPECT(&d, "REPLACE rtb-1 10.100.2.0/24 eni-c (was eni-b)",
	       "REPLACE rtb-3 10.100.2.0/24 eni-c (was eni-b)",
	       "CREATE rtb-2 10.100.1.0/24 eni-a",
	       "CREATE rtb-2 10.100.2.0/24 eni-c");
	ck_assert_uint_eq(d.n_ok, 2);
	tables_diff_free(&d);
}
END_TEST

START_TEST(no_tables)
{
	struct tables_want w[] = { want("10.100.1.0/24", "eni-a"),
				   want("10.1.0.0/24", "eni-a") };
	struct tables_input in = input(NULL, 0, w, 2);
	struct tables_diff d;

	run(&in, &d);
	ck_assert_uint_eq(d.n_actions, 0);
	ck_assert_ptr_null(d.actions);
	ck_assert_uint_eq(d.n_ok, 0);
	ck_assert_uint_eq(d.n_outside, 1);
	tables_diff_free(&d);

	in = input(NULL, 0, NULL, 0);
	run(&in, &d);
	ck_assert_uint_eq(d.n_actions, 0);
	tables_diff_free(&d);
}
END_TEST

START_TEST(bad_input)
{
	struct ec2_route r[] = { eni_route("10.100.1.0/24", "eni-a") };
	struct ec2_route_table t = table("rtb-1", r, 1);
	struct tables_want w[] = { want("10.100.1.0/24", "eni-a"),
				   want("10.100.2.0/24", "eni-a"),
				   want("10.100.1.0/24", "eni-b") };
	struct tables_input in = input(&t, 1, w, 3);
	struct tables_diff d;

	memset(&d, 0x5a, sizeof(d));
	ck_assert_int_eq(tables_diff(&in, &d), -EINVAL);
	ck_assert_ptr_null(d.actions);
	ck_assert_uint_eq(d.n_actions, 0);
	/* the same dst is a duplicate even outside the cluster */
	w[0] = want("10.1.0.0/24", "eni-a");
	w[2] = want("10.1.0.0/24", "eni-a");
	ck_assert_int_eq(tables_diff(&in, &d), -EINVAL);
	/* same address, other length: not a duplicate */
	w[2] = want("10.1.0.0/25", "eni-a");
	run(&in, &d);
	tables_diff_free(&d);

	in = input(NULL, 1, w, 1);
	ck_assert_int_eq(tables_diff(&in, &d), -EINVAL);
	in = input(&t, 1, NULL, 1);
	ck_assert_int_eq(tables_diff(&in, &d), -EINVAL);
	in = input(&t, 1, w, 1);
	in.cluster = NULL;
	ck_assert_int_eq(tables_diff(&in, &d), -EINVAL);
	t.routes = NULL;
	in = input(&t, 1, w, 1);
	ck_assert_int_eq(tables_diff(&in, &d), -EINVAL);
	ck_assert_int_eq(tables_diff(NULL, &d), -EINVAL);
	in = input(NULL, 0, NULL, 0);
	ck_assert_int_eq(tables_diff(&in, NULL), -EINVAL);
	tables_diff_free(NULL);
}
END_TEST

/* A thousand wanted routes against a table of 1500 routes, twice. */
START_TEST(thousand_routes)
{
	enum { N = 1000, EXTRA = 500 };
	struct ec2_route *r = calloc(N + EXTRA, sizeof(*r));
	struct tables_want *w = calloc(N, sizeof(*w));
	struct ec2_route_table tb[2];
	struct tables_input in;
	struct tables_diff d;
	char dst[32], eni[32];
	size_t i, n = 0, kinds[4] = { 0 };

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(w);
	for (i = 0; i < N; i++) {
		/* wanted in reverse order, 10.100.x.y/30 */
		size_t k = N - 1 - i;

		snprintf(dst, sizeof(dst), "10.100.%zu.%zu/30", k / 64,
			 (k % 64) * 4);
		snprintf(eni, sizeof(eni), "eni-%04zx", k % 97);
		w[i] = want(dst, eni);
		/* a third right, a third moved, a third missing */
		if (k % 3 == 0)
			r[n++] = eni_route(dst, eni);
		else if (k % 3 == 1)
			r[n++] = eni_route(dst, "eni-moved");
	}
	for (i = 0; i < EXTRA; i++) {
		snprintf(dst, sizeof(dst), "10.100.%zu.%zu/30", 100 + i / 64,
			 (i % 64) * 4);
		r[n++] = eni_route(dst, "eni-stale");
	}
	tb[0] = table("rtb-1", r, n);
	tb[1] = table("rtb-2", NULL, 0);
	in = input(tb, 2, w, N);
	in.budget4 = 0;
	run(&in, &d);
	for (i = 0; i < d.n_actions; i++) {
		ck_assert_int_ge(d.actions[i].op, TABLES_REPLACE);
		ck_assert_int_le(d.actions[i].op, TABLES_DELETE);
		kinds[d.actions[i].op]++;
		/* kinds in order, dsts ascending within a kind and table */
		if (i) {
			const struct tables_action *a = &d.actions[i - 1],
						   *b = &d.actions[i];

			ck_assert_int_le(a->op, b->op);
			if (a->op == b->op && !strcmp(a->table, b->table))
				ck_assert_int_lt(memcmp(a->dst.addr,
							b->dst.addr, 4), 0);
		}
	}
	ck_assert_uint_eq(kinds[TABLES_REPLACE], 333);
	ck_assert_uint_eq(kinds[TABLES_CREATE], 333 + N);
	ck_assert_uint_eq(kinds[TABLES_DELETE], EXTRA);
	ck_assert_uint_eq(d.n_ok, 334);
	tables_diff_free(&d);

	/* with deletes: 1000 routes, exactly the budget */
	in.budget4 = 1000;
	run(&in, &d);
	ck_assert_uint_eq(d.n_refused, 0);
	ck_assert_uint_eq(d.n_actions, 333 + 333 + N + EXTRA);
	tables_diff_free(&d);

	/* without: only the empty table fits */
	in.may_delete = false;
	run(&in, &d);
	ck_assert_uint_eq(d.n_refused, 333);
	ck_assert_uint_eq(d.n_actions, 333 + N);
	ck_assert_str_eq(d.refused,
			 "route table rtb-1 would hold 1500 IPv4 routes, over its budget of 1000 (1500 for the cluster, 0 others)");
	tables_diff_free(&d);
	free(r);
	free(w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tables");
	TCase *tc = tcase_create("diff");

	tcase_add_test(tc, inside);
	tcase_add_test(tc, create_missing);
	tcase_add_test(tc, right_is_left_alone);
	tcase_add_test(tc, replace_elsewhere);
	tcase_add_test(tc, was_fits);
	tcase_add_test(tc, delete_only_when_may_delete);
	tcase_add_test(tc, outside_untouched);
	tcase_add_test(tc, local_propagated_prefix_list_untouched);
	tcase_add_test(tc, budget_refusal_message);
	tcase_add_test(tc, ipv6_own_budget);
	tcase_add_test(tc, replaces_first);
	tcase_add_test(tc, several_tables);
	tcase_add_test(tc, no_tables);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, thousand_routes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
