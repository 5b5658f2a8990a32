/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

#define NO_IDX UINT32_MAX

/* ---- prefixes, the test's own bytewise arithmetic ------------------- */

static unsigned bits_of(uint8_t family)
{
	return family == STRATA_AF_INET6 ? 128 : 32;
}

static int fidx(uint8_t family)
{
	return family == STRATA_AF_INET6 ? PLAN_V6 : PLAN_V4;
}

static bool bit_get(const uint8_t *a, unsigned i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

static void bit_set(uint8_t *a, unsigned i, bool v)
{
	if (v)
		a[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	else
		a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* The first len bits of a and b are equal. */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned i;

	for (i = 0; i < len / 8; i++)
		if (a[i] != b[i])
			return false;
	for (i = len / 8 * 8; i < len; i++)
		if (bit_get(a, i) != bit_get(b, i))
			return false;
	return true;
}

static bool covers(const struct strata_prefix *a, const struct strata_prefix *b)
{
	return a->family == b->family && b->len >= a->len &&
	       bits_equal(a->addr, b->addr, a->len);
}

static bool covers_addr(const struct strata_prefix *a, uint8_t family,
			const uint8_t *addr)
{
	return a->family == family && bits_equal(a->addr, addr, a->len);
}

static bool overlap(const struct strata_prefix *a,
		    const struct strata_prefix *b)
{
	return covers(a, b) || covers(b, a);
}

static int pcmp(const struct strata_prefix *a, const struct strata_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	return (int)a->len - (int)b->len;
}

static int pcmp_q(const void *a, const void *b)
{
	return pcmp(a, b);
}

static struct strata_prefix pfx(const char *s)
{
	struct strata_prefix p = { 0 };
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	if (strchr(buf, ':')) {
		p.family = STRATA_AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, buf, p.addr), 1);
	} else {
		p.family = STRATA_AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, buf, p.addr), 1);
	}
	p.len = (uint8_t)atoi(slash + 1);
	return p;
}

static struct strata_addr addr(const char *s)
{
	struct strata_addr a = { 0 };

	if (strchr(s, ':')) {
		a.family = STRATA_AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, s, a.addr), 1);
	} else {
		a.family = STRATA_AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, s, a.addr), 1);
	}
	return a;
}

static const char *pfmt(const struct strata_prefix *p, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == STRATA_AF_INET6 ? AF_INET6 : AF_INET, p->addr,
		  a, sizeof(a));
	snprintf(buf, n, "%s/%u", a, p->len);
	return buf;
}

static bool has_problem(const struct plan *p, const char *text)
{
	const char *s;
	size_t i;

	for (i = 0; (s = plan_problem(p, i)) != NULL && i < 100000; i++)
		if (strstr(s, text))
			return true;
	return false;
}

/* ---- a hand-built topology for the unit cases ----------------------- */

#define FX_GROUPS 8
#define FX_HOSTS 40
#define FX_BLOCKS 8

struct fx {
	struct plan_group groups[FX_GROUPS];
	struct strata_prefix gp[FX_GROUPS][2];
	char paths[FX_GROUPS][32];
	struct plan_host hosts[FX_HOSTS];
	struct strata_prefix blocks[FX_HOSTS][FX_BLOCKS];
	char names[FX_HOSTS][16];
	struct plan_input in;
	struct plan_options opt;
};

static uint32_t fx_group(struct fx *x, const char *path, const char *v4,
			 const char *v6)
{
	uint32_t g = (uint32_t)x->in.n_groups++;
	struct plan_group *gr = &x->groups[g];

	ck_assert_uint_lt(g, FX_GROUPS);
	snprintf(x->paths[g], sizeof(x->paths[g]), "%s", path);
	gr->path = x->paths[g];
	gr->prefixes = x->gp[g];
	if (v4)
		x->gp[g][gr->n_prefixes++] = pfx(v4);
	if (v6)
		x->gp[g][gr->n_prefixes++] = pfx(v6);
	x->in.groups = x->groups;
	return g;
}

/* addrs and blocks: space-separated lists. */
static uint32_t fx_host(struct fx *x, const char *name, uint32_t g,
			const char *addrs, const char *blocks)
{
	uint32_t h = (uint32_t)x->in.n_hosts++;
	struct plan_host *ho = &x->hosts[h];
	char buf[512], *tok, *save;

	ck_assert_uint_lt(h, FX_HOSTS);
	snprintf(x->names[h], sizeof(x->names[h]), "%s", name);
	ho->name = x->names[h];
	ho->group = g;
	ho->healthy = true;
	ho->blocks = x->blocks[h];
	snprintf(buf, sizeof(buf), "%s", addrs);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		ho->addrs[ho->n_addrs++] = addr(tok);
	snprintf(buf, sizeof(buf), "%s", blocks);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		ck_assert_uint_lt(ho->n_blocks, FX_BLOCKS);
		x->blocks[h][ho->n_blocks++] = pfx(tok);
	}
	x->in.hosts = x->hosts;
	return h;
}

static struct plan *fx_plan(struct fx *x)
{
	struct plan *p = NULL;
	char err[256] = "";
	int r;

	r = plan_build(&x->in, &x->opt, &p, err, sizeof(err));
	ck_assert_msg(r == 0, "plan_build: %d %s", r, err);
	ck_assert_ptr_nonnull(p);
	return p;
}

static int fx_fail(struct fx *x, char *err, size_t n)
{
	struct plan *p = (struct plan *)&p;
	int r;

	err[0] = '\0';
	r = plan_build(&x->in, &x->opt, &p, err, n);
	ck_assert_ptr_null(p);
	return r;
}

/* Every route a callback is handed, copied. */
struct routes {
	struct strata_route r[256];
	size_t n;
};

static void collect(void *arg, const struct strata_route *r)
{
	struct routes *rs = arg;

	ck_assert_uint_lt(rs->n, 256);
	ck_assert_uint_eq(r->size, sizeof(*r));
	rs->r[rs->n++] = *r;
}

static const struct strata_route *find_route(const struct routes *rs,
					     const char *dst)
{
	struct strata_prefix d = pfx(dst);
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (!pcmp(&rs->r[i].dst, &d))
			return &rs->r[i];
	return NULL;
}

static const struct plan_cloud_route *find_cloud(const struct plan *p,
						 const char *dst)
{
	struct strata_prefix d = pfx(dst);
	const struct plan_cloud_route *c;
	size_t n, i;

	c = plan_cloud_routes(p, &n);
	for (i = 0; i < n; i++)
		if (!pcmp(&c[i].dst, &d))
			return &c[i];
	return NULL;
}

static size_t cloud_count(const struct plan *p, int f)
{
	const struct plan_cloud_route *c;
	size_t n, i, k = 0;

	c = plan_cloud_routes(p, &n);
	for (i = 0; i < n; i++)
		k += fidx(c[i].dst.family) == f;
	return k;
}

/* Two subnets of three hosts; hosts a1 and b1 hold two sibling blocks. */
static void fx_small(struct fx *x)
{
	uint32_t a = fx_group(x, "zone-a/subnet-1", "10.0.0.0/16", NULL);
	uint32_t b = fx_group(x, "zone-a/subnet-2", "10.1.0.0/16", NULL);

	fx_host(x, "a1", a, "192.168.0.1", "10.0.0.0/26 10.0.0.64/26");
	fx_host(x, "a2", a, "192.168.0.2", "10.0.0.128/26");
	fx_host(x, "a3", a, "192.168.0.3", "10.0.1.0/26");
	fx_host(x, "b1", b, "192.168.1.1", "10.1.0.0/26 10.1.0.64/26");
	fx_host(x, "b2", b, "192.168.1.2", "10.1.0.192/26");
	fx_host(x, "b3", b, "192.168.1.3", "10.1.1.0/26");
}

START_TEST(per_host_when_it_fits)
{
	struct fx x = { 0 };
	const struct plan_cloud_route *c;
	struct routes rs = { 0 };
	struct plan *p;
	size_t n;

	fx_small(&x);
	p = fx_plan(&x);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V4), PLAN_CLOUD_PER_HOST);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V6), PLAN_CLOUD_NONE);
	ck_assert_uint_eq(plan_cloud_budget(p, PLAN_V4), PLAN_DEFAULT_BUDGET);
	c = plan_cloud_routes(p, &n);
	/* a1's and b1's sibling /26s are one /25 each. */
	ck_assert_uint_eq(n, 6);
	ck_assert_ptr_nonnull(find_cloud(p, "10.0.0.0/25"));
	ck_assert_uint_eq(find_cloud(p, "10.0.0.0/25")->host, 0);
	ck_assert_uint_eq(find_cloud(p, "10.0.0.128/26")->host, 1);
	ck_assert_uint_eq(find_cloud(p, "10.1.0.192/26")->host, 4);
	ck_assert_ptr_null(find_cloud(p, "10.0.0.0/26"));
	for (size_t i = 1; i < n; i++)
		ck_assert_int_lt(pcmp(&c[i - 1].dst, &c[i].dst), 0);
	ck_assert_uint_eq(plan_choices(p, NULL, 0), 0);

	/* The table points straight at each owner: no extra hop. */
	ck_assert_int_eq(plan_cloud_table(p, collect, &rs), 0);
	ck_assert_uint_eq(rs.n, 6);
	ck_assert_uint_eq(rs.r[0].scope, STRATA_SCOPE_CLOUD);
	ck_assert_uint_eq(rs.r[0].n_nexthops, 1);
	ck_assert_mem_eq(find_route(&rs, "10.1.0.0/25")->nh[0].gw.addr,
			 addr("192.168.1.1").addr, 4);
	ck_assert_str_eq(find_route(&rs, "10.1.0.0/25")->nh[0].ifname, "");
	ck_assert_uint_eq(plan_group_stats(p, 0)->cloud_routes[PLAN_V4], 3);
	ck_assert_uint_eq(plan_group_stats(p, 0)->hosts, 3);
	ck_assert_ptr_null(plan_group_stats(p, 2));
	ck_assert_ptr_null(plan_problem(p, 0));
	plan_free(p);
}
END_TEST

START_TEST(aggregation_repeats_and_needs_alignment)
{
	struct fx x = { 0 };
	struct routes rs = { 0 };
	struct plan *p;
	uint32_t g = fx_group(&x, "z/s", "10.0.0.0/16", NULL);

	/* Four /26s: one /24. */
	fx_host(&x, "four", g, "192.168.0.1",
		"10.0.0.192/26 10.0.0.0/26 10.0.0.128/26 10.0.0.64/26");
	/* Adjacent but not siblings: two routes. */
	fx_host(&x, "odd", g, "192.168.0.2", "10.0.1.64/26 10.0.1.128/26");
	/* A /25 and two /26s making the other half: one /24. */
	fx_host(&x, "mixed", g, "192.168.0.3",
		"10.0.2.128/26 10.0.2.0/25 10.0.2.192/26");
	fx_host(&x, "me", g, "192.168.0.4", "");
	p = fx_plan(&x);
	ck_assert_int_eq(plan_host_kernel_routes(p, 3, collect, &rs), 0);
	ck_assert_uint_eq(rs.n, 4);
	ck_assert_uint_eq(plan_host_kernel_count(p, 3), 4);
	ck_assert_ptr_nonnull(find_route(&rs, "10.0.0.0/24"));
	ck_assert_ptr_nonnull(find_route(&rs, "10.0.1.64/26"));
	ck_assert_ptr_nonnull(find_route(&rs, "10.0.1.128/26"));
	ck_assert_ptr_nonnull(find_route(&rs, "10.0.2.0/24"));
	ck_assert_uint_eq(find_route(&rs, "10.0.0.0/24")->scope,
			  STRATA_SCOPE_KERNEL);
	ck_assert_mem_eq(find_route(&rs, "10.0.2.0/24")->nh[0].gw.addr,
			 addr("192.168.0.3").addr, 4);
	/* Everyone's but its own two. */
	ck_assert_uint_eq(plan_host_kernel_count(p, 1), 2);
	ck_assert_uint_eq(plan_group_stats(p, g)->kernel_routes_max, 4);
	plan_free(p);
}
END_TEST

START_TEST(per_group_when_it_does_not_fit)
{
	struct fx x = { 0 };
	struct plan_choice ch[8];
	struct routes rs = { 0 };
	struct plan *p;
	size_t n;

	fx_small(&x);
	x.opt.budget[PLAN_V4] = 5; /* six block routes */
	x.opt.no_spread = true;
	p = fx_plan(&x);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V4), PLAN_CLOUD_PER_GROUP);
	plan_cloud_routes(p, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_lt(find_cloud(p, "10.0.0.0/16")->host, 3);
	ck_assert_uint_ge(find_cloud(p, "10.1.0.0/16")->host, 3);
	ck_assert_uint_eq(find_cloud(p, "10.1.0.0/16")->group, 1);
	ck_assert_uint_eq(plan_choices(p, ch, 8), 2);
	ck_assert_str_eq(ch[0].host,
			 x.hosts[find_cloud(p, "10.0.0.0/16")->host].name);
	ck_assert_int_eq(plan_cloud_table(p, collect, &rs), 0);
	ck_assert_uint_eq(rs.n, 2);
	plan_free(p);

	/* Six routes fit six, unless per-host mode is off. */
	x.opt.budget[PLAN_V4] = 6;
	p = fx_plan(&x);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V4), PLAN_CLOUD_PER_HOST);
	plan_free(p);
	x.opt.no_per_host = true;
	p = fx_plan(&x);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V4), PLAN_CLOUD_PER_GROUP);
	plan_free(p);
}
END_TEST

START_TEST(more_groups_than_budget)
{
	struct fx x = { 0 };
	char err[256];
	int i;

	for (i = 0; i < 3; i++) {
		char path[32], v4[32];

		snprintf(path, sizeof(path), "zone-a/subnet-%d", i);
		snprintf(v4, sizeof(v4), "10.%d.0.0/16", i);
		fx_group(&x, path, v4, NULL);
	}
	x.opt.budget[PLAN_V4] = 2;
	x.opt.no_per_host = true;
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "IPv4: 3 subnets need 3 cloud routes at least, budget 2: raise the budget (up to 1000) or group hosts into fewer subnets");
	x.opt.budget[PLAN_V4] = 3;
	plan_free(fx_plan(&x));
}
END_TEST

/* n hosts in group g, each with a /26 spread over the group's /16. */
static void fx_fill(struct fx *x, uint32_t g, int octet, int n)
{
	char name[16], a[32], b[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "g%uh%d", g, i);
		snprintf(a, sizeof(a), "192.168.%u.%d", g, i + 1);
		snprintf(b, sizeof(b), "10.%d.%d.0/26", octet, i * 256 / n);
		fx_host(x, name, g, a, b);
	}
}

START_TEST(spreading_uses_the_budget)
{
	struct fx x = { 0 };
	const struct plan_cloud_route *c;
	struct plan *p;
	size_t n, i, j;

	fx_group(&x, "zone-a/subnet-1", "10.0.0.0/16", NULL);
	fx_group(&x, "zone-a/subnet-2", "10.1.0.0/16", NULL);
	fx_fill(&x, 0, 0, 12);
	fx_fill(&x, 1, 1, 4);
	x.opt.no_per_host = true;
	x.opt.budget[PLAN_V4] = 6;
	p = fx_plan(&x);
	/* 12 hosts: /16 -> 2 -> 4 parts; then 4 hosts: 2 parts; 8 > 6. */
	ck_assert_uint_eq(plan_group_stats(p, 0)->split_bits[PLAN_V4], 2);
	ck_assert_uint_eq(plan_group_stats(p, 1)->split_bits[PLAN_V4], 1);
	ck_assert_uint_eq(plan_group_stats(p, 0)->cloud_routes[PLAN_V4], 4);
	c = plan_cloud_routes(p, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_ptr_nonnull(find_cloud(p, "10.0.192.0/18"));
	ck_assert_ptr_nonnull(find_cloud(p, "10.1.128.0/17"));
	/* Distinct forwarders, each owning a block in its part. */
	for (i = 0; i < n; i++) {
		const struct plan_host *h = &x.hosts[c[i].host];

		ck_assert(covers(&c[i].dst, &h->blocks[0]));
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(c[i].host, c[j].host);
	}
	plan_free(p);

	/* Even budgets fill exactly; never more. */
	for (x.opt.budget[PLAN_V4] = 2; x.opt.budget[PLAN_V4] <= 40;
	     x.opt.budget[PLAN_V4]++) {
		p = fx_plan(&x);
		plan_cloud_routes(p, &n);
		ck_assert_uint_le(n, x.opt.budget[PLAN_V4]);
		/* 12 + 4 hosts: at most 8 + 4 parts. */
		if (x.opt.budget[PLAN_V4] >= 12)
			ck_assert_uint_eq(n, 12);
		else if (x.opt.budget[PLAN_V4] == 8)
			ck_assert_uint_eq(n, 8);
		plan_free(p);
	}

	/* no_spread: one route per group whatever the budget. */
	x.opt.no_spread = true;
	p = fx_plan(&x);
	plan_cloud_routes(p, &n);
	ck_assert_uint_eq(n, 2);
	plan_free(p);
}
END_TEST

START_TEST(spreading_never_splits_a_block)
{
	struct fx x = { 0 };
	struct plan *p;
	size_t n;
	uint32_t g = fx_group(&x, "z/s", "10.0.0.0/24", NULL);

	fx_host(&x, "a", g, "192.168.0.1", "10.0.0.0/25");
	fx_host(&x, "b", g, "192.168.0.2", "10.0.0.128/26");
	fx_host(&x, "c", g, "192.168.0.3", "10.0.0.192/26");
	fx_host(&x, "d", g, "192.168.0.4", "");
	x.opt.no_per_host = true;
	p = fx_plan(&x);
	plan_cloud_routes(p, &n);
	/* The /25 block bounds the parts: two /25s, not four /26s. */
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(find_cloud(p, "10.0.0.0/25")->host, 0);
	ck_assert_uint_ge(find_cloud(p, "10.0.0.128/25")->host, 1);
	ck_assert_uint_le(find_cloud(p, "10.0.0.128/25")->host, 2);
	plan_free(p);
}
END_TEST

START_TEST(families_have_their_own_budgets)
{
	struct fx x = { 0 };
	struct plan *p;
	char err[256];
	uint32_t a = fx_group(&x, "z/a", "10.0.0.0/16", "fd00:0:0:1::/64");
	uint32_t b = fx_group(&x, "z/b", "10.1.0.0/16", "fd00:0:0:2::/64");

	fx_host(&x, "a1", a, "192.168.0.1 fd99::1",
		"10.0.0.0/26 fd00:0:0:1::/122 fd00:0:0:1::100/122");
	fx_host(&x, "a2", a, "192.168.0.2 fd99::2", "fd00:0:0:1::200/122");
	fx_host(&x, "b1", b, "192.168.0.3 fd99::3",
		"10.1.0.0/26 fd00:0:0:2::/122");
	x.opt.budget[PLAN_V6] = 3; /* four v6 block routes */
	p = fx_plan(&x);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V4), PLAN_CLOUD_PER_HOST);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V6), PLAN_CLOUD_PER_GROUP);
	ck_assert_uint_eq(plan_cloud_budget(p, PLAN_V6), 3);
	ck_assert_uint_eq(cloud_count(p, PLAN_V4), 2);
	/* a's /64 splits in two (two hosts), b's cannot (one host). */
	ck_assert_uint_eq(cloud_count(p, PLAN_V6), 3);
	ck_assert_uint_eq(plan_choices(p, NULL, 0), 3);
	plan_free(p);

	x.opt.budget[PLAN_V6] = 1;
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "IPv6: 2 subnets need 2 cloud routes"));
	x.opt.budget[PLAN_V4] = 1;
	x.opt.budget[PLAN_V6] = 0;
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "IPv4: 2 subnets"));
}
END_TEST

/* Parts whose bits straddle the two 64-bit halves of an IPv6 address. */
START_TEST(ipv6_parts_across_the_halves)
{
	struct fx x = { 0 };
	struct plan *p;
	size_t n;
	uint32_t g = fx_group(&x, "z/s", NULL, "fd00::/63");

	fx_host(&x, "a", g, "fd99::1", "fd00::/122");
	fx_host(&x, "b", g, "fd99::2", "fd00:0:0:1::/122");
	x.opt.no_per_host = true;
	x.opt.budget[PLAN_V6] = 2;
	p = fx_plan(&x);
	plan_cloud_routes(p, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(find_cloud(p, "fd00::/64")->host, 0);
	ck_assert_uint_eq(find_cloud(p, "fd00:0:0:1::/64")->host, 1);
	plan_free(p);

	x.gp[0][0] = pfx("fd00::/62");
	x.blocks[0][0] = pfx("fd00:0:0:2::/122");
	x.blocks[1][0] = pfx("fd00:0:0:3:ffff:ffff:ffff:ffc0/122");
	fx_host(&x, "c", g, "fd99::3", "fd00::/122");
	fx_host(&x, "d", g, "fd99::4", "fd00:0:0:1::/122");
	x.opt.budget[PLAN_V6] = 4;
	p = fx_plan(&x);
	plan_cloud_routes(p, &n);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(find_cloud(p, "fd00::/64")->host, 2);
	ck_assert_uint_eq(find_cloud(p, "fd00:0:0:1::/64")->host, 3);
	ck_assert_uint_eq(find_cloud(p, "fd00:0:0:2::/64")->host, 0);
	ck_assert_uint_eq(find_cloud(p, "fd00:0:0:3::/64")->host, 1);
	plan_free(p);
}
END_TEST

START_TEST(ecmp_over_a_peers_addresses)
{
	struct fx x = { 0 };
	const struct strata_route *r;
	struct routes rs = { 0 };
	struct plan *p;
	uint32_t g = fx_group(&x, "z/s", "10.0.0.0/16", "fd00::/64");

	fx_host(&x, "two", g, "192.168.0.1 fd99::1 192.168.9.1",
		"10.0.0.0/26 fd00::/122");
	fx_host(&x, "v4only", g, "192.168.0.2", "10.0.0.64/26 fd00::40/122");
	fx_host(&x, "me", g, "192.168.0.3 fd99::3", "");
	p = fx_plan(&x);
	ck_assert_int_eq(plan_host_kernel_routes(p, 2, collect, &rs), 0);
	ck_assert_uint_eq(rs.n, 3);
	ck_assert_uint_eq(plan_host_kernel_count(p, 2), 3);
	r = find_route(&rs, "10.0.0.0/26");
	ck_assert_uint_eq(r->n_nexthops, 2);
	ck_assert_mem_eq(r->nh[0].gw.addr, addr("192.168.0.1").addr, 4);
	ck_assert_mem_eq(r->nh[1].gw.addr, addr("192.168.9.1").addr, 4);
	ck_assert_uint_eq(r->nh[0].weight, 0);
	r = find_route(&rs, "fd00::/122");
	ck_assert_uint_eq(r->n_nexthops, 1);
	ck_assert_uint_eq(r->nh[0].gw.family, STRATA_AF_INET6);
	/* v4only's v6 block has no next hop: no route, one problem. */
	ck_assert_ptr_null(find_route(&rs, "fd00::40/122"));
	ck_assert(has_problem(p, "host v4only has IPv6 blocks but no IPv6 address"));
	ck_assert_ptr_null(plan_problem(p, 1));
	ck_assert_ptr_null(find_cloud(p, "fd00::40/122"));
	plan_free(p);
}
END_TEST

START_TEST(unhealthy_hosts_are_never_chosen)
{
	struct fx x = { 0 };
	const struct plan_cloud_route *c;
	const struct plan_bgp_route *b;
	struct plan *p;
	size_t n, i;
	uint32_t g, k;

	g = fx_group(&x, "zone-a/subnet-1", "10.0.0.0/16", NULL);
	fx_group(&x, "zone-a/subnet-2", "10.1.0.0/16", NULL);
	fx_fill(&x, 0, 0, 8);
	fx_fill(&x, 1, 1, 4);
	for (i = 0; i < 8; i++)
		x.hosts[i].healthy = i == 5;
	for (i = 8; i < 12; i++)
		x.hosts[i].healthy = false;
	x.opt.no_per_host = true;
	x.opt.bgp_mode = PLAN_BGP_AGGREGATE;
	p = fx_plan(&x);
	c = plan_cloud_routes(p, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(c[0].host, 5);
	ck_assert_uint_eq(c[0].group, g);
	ck_assert_uint_eq(plan_group_stats(p, 0)->split_bits[PLAN_V4], 0);
	ck_assert(has_problem(p, "zone-a/subnet-2: no healthy host for IPv4"));
	ck_assert(!has_problem(p, "zone-a/subnet-1"));
	b = plan_bgp_routes(p, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(b[0].n_hosts, 1);
	ck_assert_uint_eq(b[0].hosts[0], 5);

	/* Health alone decides: recovered hosts spread the routes again. */
	plan_free(p);
	for (k = 0; k < 12; k++)
		x.hosts[k].healthy = k % 2;
	p = fx_plan(&x);
	c = plan_cloud_routes(p, &n);
	ck_assert_uint_gt(n, 2);
	for (i = 0; i < n; i++)
		ck_assert(x.hosts[c[i].host].healthy);
	plan_free(p);
}
END_TEST

static size_t choices(struct plan *p, struct plan_choice *ch, size_t max)
{
	size_t n = plan_choices(p, ch, max);

	ck_assert_uint_le(n, max);
	return n;
}

START_TEST(forwarders_are_sticky)
{
	struct fx x = { 0 };
	struct plan_choice ch[32], again[32], swapped[32];
	const struct plan_cloud_route *c;
	struct plan *p, *q, *s;
	const char *gone, *standby;
	size_t n, m, i, moved = 0;

	fx_group(&x, "zone-a/subnet-1", "10.0.0.0/16", NULL);
	fx_group(&x, "zone-a/subnet-2", "10.1.0.0/16", NULL);
	fx_fill(&x, 0, 0, 16);
	fx_fill(&x, 1, 1, 16);
	x.opt.no_per_host = true;
	x.opt.budget[PLAN_V4] = 8;
	p = fx_plan(&x);
	n = choices(p, ch, 32);
	ck_assert_uint_eq(n, 8);

	/* The same input and the prior: the same choices. */
	x.opt.prior = ch;
	x.opt.n_prior = n;
	q = fx_plan(&x);
	m = choices(q, again, 32);
	ck_assert_uint_eq(m, n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(pcmp(&ch[i].dst, &again[i].dst), 0);
		ck_assert_str_eq(ch[i].host, again[i].host);
	}
	plan_free(q);

	/* A prior that differs from what hashing picks is kept as it is. */
	memcpy(swapped, ch, sizeof(ch));
	swapped[0].host = ch[1].host;
	swapped[1].host = ch[0].host;
	x.opt.prior = swapped;
	s = fx_plan(&x);
	m = choices(s, again, 32);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(again[i].host, swapped[i].host);
	plan_free(s);

	/* Every route has a standby: another host of its group, never one
	 * of the group's chosen forwarders. */
	c = plan_cloud_routes(p, &m);
	for (i = 0; i < m; i++) {
		ck_assert_uint_ne(c[i].standby, PLAN_NO_HOST);
		ck_assert_uint_eq(x.hosts[c[i].standby].group, c[i].group);
		for (size_t j = 0; j < m; j++)
			ck_assert_uint_ne(c[i].standby, c[j].host);
	}

	/* One forwarder fails: only its part moves, to its standby. */
	x.opt.prior = ch;
	gone = x.hosts[c[3].host].name;
	standby = x.hosts[c[3].standby].name;
	x.hosts[c[3].host].healthy = false;
	q = fx_plan(&x);
	m = choices(q, again, 32);
	ck_assert_uint_eq(m, n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(pcmp(&ch[i].dst, &again[i].dst), 0);
		ck_assert_str_ne(again[i].host, gone);
		if (strcmp(ch[i].host, again[i].host)) {
			moved++;
			ck_assert_str_eq(ch[i].host, gone);
			ck_assert_str_eq(again[i].host, standby);
		}
	}
	ck_assert_uint_eq(moved, 1);
	plan_free(q);
	plan_free(p);
}
END_TEST

static size_t bgp_of(struct plan *p, uint32_t h, struct routes *rs)
{
	rs->n = 0;
	ck_assert_int_eq(plan_host_bgp_routes(p, h, collect, rs), 0);
	return rs->n;
}

START_TEST(bgp_blocks_and_aggregates)
{
	struct fx x = { 0 };
	const struct plan_bgp_route *b;
	struct routes rs = { 0 };
	struct plan *p;
	size_t n, i, total = 0;
	uint32_t h;

	fx_small(&x);
	p = fx_plan(&x);
	b = plan_bgp_routes(p, &n);
	ck_assert_uint_eq(n, 6);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(b[i].n_hosts, 1);
		ck_assert(covers(&b[i].dst, &x.hosts[b[i].hosts[0]].blocks[0]));
	}
	ck_assert_uint_eq(bgp_of(p, 0, &rs), 1);
	ck_assert_ptr_nonnull(find_route(&rs, "10.0.0.0/25"));
	ck_assert_uint_eq(rs.r[0].scope, STRATA_SCOPE_BGP);
	ck_assert_mem_eq(rs.r[0].nh[0].gw.addr, addr("192.168.0.1").addr, 4);
	plan_free(p);

	x.opt.bgp_mode = PLAN_BGP_AGGREGATE;
	p = fx_plan(&x);
	b = plan_bgp_routes(p, &n);
	ck_assert_uint_eq(n, 2);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(b[i].n_hosts, 2);
		ck_assert_uint_ne(b[i].hosts[0], b[i].hosts[1]);
		ck_assert_uint_eq(x.hosts[b[i].hosts[0]].group, b[i].group);
		ck_assert_uint_eq(x.hosts[b[i].hosts[1]].group, b[i].group);
	}
	ck_assert_int_eq(pcmp(&b[0].dst, &x.gp[0][0]), 0);
	for (h = 0; h < 6; h++)
		total += bgp_of(p, h, &rs);
	ck_assert_uint_eq(total, 4);
	ck_assert_uint_eq(bgp_of(p, b[1].hosts[1], &rs), 1);
	ck_assert_ptr_nonnull(find_route(&rs, "10.1.0.0/16"));
	plan_free(p);

	x.opt.bgp_announcers = 3;
	x.hosts[2].healthy = false;
	p = fx_plan(&x);
	b = plan_bgp_routes(p, &n);
	ck_assert_uint_eq(b[0].n_hosts, 2);
	ck_assert_uint_eq(b[1].n_hosts, 3);
	ck_assert_uint_eq(bgp_of(p, 2, &rs), 0);
	plan_free(p);
}
END_TEST

START_TEST(invalid_input)
{
	struct fx x = { 0 };
	char err[256];

	fx_small(&x);
	x.hosts[4].group = 7;
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "host b2: group 7 out of range (2 groups)");
	x.hosts[4].group = 1;

	x.blocks[2][0] = pfx("10.1.5.0/26");
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "host a3: block 10.1.5.0/26 lies outside"));
	ck_assert_ptr_nonnull(strstr(err, "zone-a/subnet-1"));

	x.blocks[2][0] = pfx("fd00::/122");
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "host a3"));
	ck_assert_ptr_nonnull(strstr(err, "no IPv6 prefix"));

	x.blocks[2][0] = pfx("10.0.0.1/26");
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "host a3"));

	/* Another host's block, and a block inside one's own. */
	x.blocks[2][0] = pfx("10.0.0.64/27");
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "hosts a1 and a3: blocks 10.0.0.64/26 and 10.0.0.64/27 overlap");
	x.blocks[2][0] = pfx("10.0.1.0/26");
	x.blocks[2][1] = pfx("10.0.1.0/24");
	x.hosts[2].n_blocks = 2;
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "hosts a3 and a3"));
	x.hosts[2].n_blocks = 1;

	x.opt.budget[PLAN_V6] = 1001;
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "IPv6: budget 1001"));
	x.opt.budget[PLAN_V6] = 1000;

	x.gp[1][0] = pfx("10.0.0.0/8");
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "overlap"));
	x.gp[1][0] = pfx("10.1.0.0/16");

	snprintf(x.names[3], sizeof(x.names[3]), "a2");
	ck_assert_int_eq(fx_fail(&x, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "host a2"));
	snprintf(x.names[3], sizeof(x.names[3]), "b1");

	plan_free(fx_plan(&x));
}
END_TEST

START_TEST(empty_input)
{
	struct plan_input in = { 0 };
	struct plan *p = NULL;
	size_t n;

	ck_assert_int_eq(plan_build(&in, NULL, &p, NULL, 0), 0);
	ck_assert_int_eq(plan_cloud_mode(p, PLAN_V4), PLAN_CLOUD_NONE);
	ck_assert_ptr_null(plan_problem(p, 0));
	plan_cloud_routes(p, &n);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(plan_host_kernel_routes(p, 0, collect, NULL), -EINVAL);
	plan_free(p);
}
END_TEST

/* ---- random topologies ----------------------------------------------- */

/*
 * Check records the place of every passing ck_assert with a write(2):
 * too slow for millions of checks, so these abort only when they fail.
 */
#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond))                                                 \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond); \
	} while (0)

static uint64_t seed;
static bool quick;
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static uint32_t below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(unsigned percent)
{
	return below(100) < percent;
}

static void rng_for(uint64_t topology)
{
	uint64_t x = seed + topology * 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	rng = (x ^ (x >> 31)) | 1;
}

#define TH_BLOCKS 6

struct th {
	char name[16];
	uint32_t group;
	bool alive, healthy;
	uint32_t n_addrs;
	struct strata_addr addrs[PLAN_MAX_ADDRS];
	uint32_t n_blocks;
	struct strata_prefix blocks[TH_BLOCKS];
	uint32_t slots[TH_BLOCKS];
};

/* A test aggregate: a host's merged blocks. */
struct tagg {
	struct strata_prefix dst;
	uint32_t host; /* plan index */
};

struct world {
	uint64_t topo;
	int round;
	uint32_t n_groups, gbits, cap, range;
	bool fam[2];
	bool sparse;
	uint8_t blen[2]; /* block length per family */
	char (*paths)[32];
	struct strata_prefix (*gp)[2];
	struct plan_group *groups;
	uint8_t *used[2]; /* n_groups * range */
	struct th *th;
	size_t n_th, cap_th;
	struct plan_options opt;
	/* this round's input */
	struct plan_host *hosts;
	uint32_t *th_of;  /* plan index -> th */
	uint32_t *in_of;  /* th -> plan index or NO_IDX */
	size_t n_in;
	struct tagg *agg;
	size_t n_agg;
	uint64_t *own, *grp_sum; /* expected kernel routes */
	uint32_t *elig[2];       /* eligible hosts per group */
	uint32_t *minlen[2];     /* the group's largest block's length */
	struct plan_choice *prior;
	size_t n_prior;
};

#define FAIL_AT(w, ...)                                                      \
	ck_abort_msg("seed %" PRIu64 " topology %" PRIu64 " round %d: %s",    \
		     seed, (w)->topo, (w)->round, (__VA_ARGS__))

/* What the random topologies covered, printed by each property test. */
static struct {
	uint64_t plans, enospc, per_host, per_group, spread, sticky, packets;
	uint64_t lost, hops;
} seen;

static void print_seen(const char *what)
{
	printf("%s: %" PRIu64 " plans (%" PRIu64 " -ENOSPC), families per host %" PRIu64
	       ", per group %" PRIu64 " (%" PRIu64 " spread), %" PRIu64
	       " kept forwarders, %" PRIu64 " packets (%" PRIu64
	       " hops, %" PRIu64 " lost in reported groups)\n",
	       what, seen.plans, seen.enospc, seen.per_host, seen.per_group,
	       seen.spread, seen.sticky, seen.packets, seen.hops, seen.lost);
	fflush(stdout);
}

static char msgbuf[512];

__attribute__((format(printf, 1, 2)))
static const char *msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msgbuf, sizeof(msgbuf), fmt, ap);
	va_end(ap);
	return msgbuf;
}

#define CHECK(w, cond, ...)                                                  \
	do {                                                                 \
		if (!(cond))                                                 \
			FAIL_AT(w, msg(__VA_ARGS__));                        \
	} while (0)

/* The block at slot s of group g: quads of adjacent slots, maybe spread. */
static struct strata_prefix block_at(const struct world *w, int f,
				     uint32_t g, uint32_t s)
{
	struct strata_prefix p = w->gp[g][f];
	uint64_t pos = s;

	unsigned j;

	if (w->sparse)
		pos = (uint64_t)(s >> 2) * (w->cap / (w->range >> 2)) + (s & 3);
	p.len = w->blen[f];
	/* pos is the block's index: the bits just above its host bits. */
	for (j = 0; j < 32 && pos >> j; j++)
		if (pos >> j & 1)
			bit_set(p.addr, p.len - 1 - j, true);
	return p;
}

static bool take_slot(struct world *w, int f, uint32_t g, const uint32_t *prev,
		      uint32_t n_prev, uint32_t *out)
{
	uint8_t *used = w->used[f] + (size_t)g * w->range;
	uint32_t s, i;

	/* Near a previous block first, so that some blocks aggregate. */
	if (n_prev && chance(60)) {
		s = prev[below(n_prev)] ^ (1 + below(3));
		if (s < w->range && !used[s])
			goto take;
	}
	for (i = 0; i < 32; i++) {
		s = below(w->range);
		if (!used[s])
			goto take;
	}
	for (s = 0; s < w->range; s++)
		if (!used[s])
			goto take;
	return false;
take:
	used[s] = 1;
	*out = s;
	return true;
}

static struct strata_addr host_addr(int f, uint32_t id, uint32_t j)
{
	struct strata_addr a = { 0 };

	if (f == PLAN_V4) {
		a.family = STRATA_AF_INET;
		a.addr[0] = (uint8_t)(100 + j);
		a.addr[1] = (uint8_t)(id >> 16);
		a.addr[2] = (uint8_t)(id >> 8);
		a.addr[3] = (uint8_t)id;
	} else {
		a.family = STRATA_AF_INET6;
		a.addr[0] = 0xfd;
		a.addr[1] = 0x99;
		a.addr[8] = (uint8_t)j;
		a.addr[13] = (uint8_t)(id >> 16);
		a.addr[14] = (uint8_t)(id >> 8);
		a.addr[15] = (uint8_t)id;
	}
	return a;
}

/* The test host a node address names. */
static uint32_t addr_host(const struct strata_addr *a)
{
	const uint8_t *b = a->addr;

	if (a->family == STRATA_AF_INET)
		return (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
}

static void add_host(struct world *w, uint32_t g)
{
	struct th *t;
	uint32_t id = (uint32_t)w->n_th, k, n, j;
	int f;

	if (w->n_th == w->cap_th) {
		w->cap_th = w->cap_th ? 2 * w->cap_th : 64;
		w->th = realloc(w->th, w->cap_th * sizeof(*w->th));
		REQUIRE(w->th);
	}
	t = &w->th[w->n_th++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "node-%u", id);
	t->group = g;
	t->alive = true;
	t->healthy = chance(85);
	for (f = 0; f < 2; f++) {
		if (!w->fam[f])
			continue;
		n = chance(10) ? 2 : 1;
		for (j = 0; j < n; j++)
			t->addrs[t->n_addrs++] = host_addr(f, id, j);
		n = 1 + below(3);
		for (k = 0, j = t->n_blocks; k < n; k++) {
			uint32_t s;

			if (!take_slot(w, f, g, t->slots + j, t->n_blocks - j,
				       &s))
				break;
			t->slots[t->n_blocks] = s;
			t->blocks[t->n_blocks++] = block_at(w, f, g, s);
		}
	}
}

static void remove_host(struct world *w, struct th *t)
{
	uint32_t i;

	for (i = 0; i < t->n_blocks; i++)
		w->used[fidx(t->blocks[i].family)]
		       [(size_t)t->group * w->range + t->slots[i]] = 0;
	t->alive = false;
}

static void world_init(struct world *w, uint64_t topo, uint32_t n_hosts)
{
	uint32_t zones = 1 + below(6), subnets = 1 + below(8), g, i, k;
	uint32_t r;
	int f;

	memset(w, 0, sizeof(*w));
	w->topo = topo;
	w->n_groups = zones * subnets;
	while ((1u << w->gbits) < w->n_groups)
		w->gbits++;
	r = below(10);
	w->fam[PLAN_V4] = r < 9;
	w->fam[PLAN_V6] = r >= 6;
	w->blen[PLAN_V4] = 26;
	w->blen[PLAN_V6] = 122;
	w->cap = 1u << (18 - w->gbits);
	/* Tight: blocks as large as a 2nd..16th of their group's prefix. */
	if (n_hosts <= 64 && chance(25)) {
		r = 1 + below(4);
		w->blen[PLAN_V4] = (uint8_t)(8 + w->gbits + r);
		w->blen[PLAN_V6] = (uint8_t)(48 + w->gbits + r);
		w->cap = 1u << r;
	}
	for (w->range = 64; w->range < 8 * n_hosts && w->range < w->cap;)
		w->range <<= 1;
	if (w->range > w->cap)
		w->range = w->cap;
	w->sparse = w->range < w->cap && chance(40);
	w->paths = calloc(w->n_groups, sizeof(*w->paths));
	w->gp = calloc(w->n_groups, sizeof(*w->gp));
	w->groups = calloc(w->n_groups, sizeof(*w->groups));
	REQUIRE(w->paths && w->gp && w->groups);
	for (g = 0; g < w->n_groups; g++) {
		struct plan_group *gr = &w->groups[g];

		snprintf(w->paths[g], sizeof(w->paths[g]), "zone-%u/subnet-%u",
			 g / subnets, g % subnets);
		gr->path = w->paths[g];
		gr->prefixes = w->gp[g];
		if (w->fam[PLAN_V4]) {
			struct strata_prefix *p = &w->gp[g][gr->n_prefixes++];
			uint32_t a = 10u << 24 | g << (24 - w->gbits);

			p->family = STRATA_AF_INET;
			p->len = (uint8_t)(8 + w->gbits);
			p->addr[0] = (uint8_t)(a >> 24);
			p->addr[1] = (uint8_t)(a >> 16);
			p->addr[2] = (uint8_t)(a >> 8);
		}
		if (w->fam[PLAN_V6]) {
			struct strata_prefix *p = &w->gp[g][gr->n_prefixes++];
			uint32_t hi = g << (16 - w->gbits);

			p->family = STRATA_AF_INET6;
			p->len = (uint8_t)(48 + w->gbits);
			p->addr[0] = 0xfd;
			p->addr[6] = (uint8_t)(hi >> 8);
			p->addr[7] = (uint8_t)hi;
		}
	}
	/* Keep the per-family index of gp equal to the family index. */
	for (g = 0; g < w->n_groups; g++)
		if (!w->fam[PLAN_V4])
			w->gp[g][PLAN_V6] = w->gp[g][0];
	for (f = 0; f < 2; f++) {
		w->used[f] = calloc((size_t)w->n_groups * w->range, 1);
		REQUIRE(w->used[f]);
	}
	for (i = 0; i < n_hosts; i++)
		add_host(w, below(w->n_groups));
	if (w->n_groups > 1 && chance(8)) {
		g = below(w->n_groups);
		for (k = 0; k < w->n_th; k++)
			if (w->th[k].group == g)
				w->th[k].healthy = false;
	}
	r = below(10);
	for (f = 0; f < 2; f++) {
		if (r < 2)
			w->opt.budget[f] = 0;
		else if (r < 5)
			w->opt.budget[f] = 1 + below(8);
		else if (r < 8)
			w->opt.budget[f] = 1 + below(60);
		else
			w->opt.budget[f] = 1 + below(1000);
		if (chance(30))
			r = below(10);
	}
	w->opt.no_per_host = chance(20);
	w->opt.no_spread = chance(10);
	w->opt.bgp_mode = chance(50) ? PLAN_BGP_AGGREGATE : PLAN_BGP_BLOCKS;
	w->opt.bgp_announcers = below(4);
}

static void free_prior(struct world *w)
{
	size_t i;

	for (i = 0; i < w->n_prior; i++)
		free((char *)w->prior[i].host);
	free(w->prior);
	w->prior = NULL;
	w->n_prior = 0;
}

static void free_round(struct world *w)
{
	free(w->hosts);
	free(w->th_of);
	free(w->in_of);
	free(w->agg);
	free(w->own);
	free(w->grp_sum);
	free(w->elig[0]);
	free(w->elig[1]);
	free(w->minlen[0]);
	free(w->minlen[1]);
	w->hosts = NULL;
	w->th_of = w->in_of = NULL;
	w->agg = NULL;
	w->own = w->grp_sum = NULL;
	w->elig[0] = w->elig[1] = w->minlen[0] = w->minlen[1] = NULL;
}

static void world_free(struct world *w)
{
	free_round(w);
	free_prior(w);
	free(w->paths);
	free(w->gp);
	free(w->groups);
	free(w->used[0]);
	free(w->used[1]);
	free(w->th);
}

static bool th_has_fam(const struct th *t, int f)
{
	uint32_t i;

	for (i = 0; i < t->n_addrs; i++)
		if (fidx(t->addrs[i].family) == f)
			return true;
	return false;
}

/* Plan host h has an address of family f. */
static bool has_fam(const struct world *w, uint32_t h, int f)
{
	return th_has_fam(&w->th[w->th_of[h]], f);
}

/* The test aggregate k has a route: its owner has an address for it. */
static bool routed(const struct world *w, size_t k)
{
	return has_fam(w, w->agg[k].host, fidx(w->agg[k].dst.family));
}

static int tagg_cmp(const void *a, const void *b)
{
	const struct tagg *x = a, *y = b;

	return pcmp(&x->dst, &y->dst);
}

/* Merges sibling pairs until none is left: the test's own aggregation. */
static size_t merge_blocks(struct strata_prefix *b, size_t n)
{
	size_t i, j, guard;
	bool merged = true;

	for (guard = 0; merged && guard < 64; guard++) {
		merged = false;
		for (i = 0; i < n && !merged; i++) {
			for (j = 0; j < n && !merged; j++) {
				unsigned L = b[i].len;

				if (i == j || b[j].family != b[i].family ||
				    b[j].len != L || L == 0 ||
				    !bits_equal(b[i].addr, b[j].addr, L - 1) ||
				    bit_get(b[i].addr, L - 1) ||
				    !bit_get(b[j].addr, L - 1))
					continue;
				b[i].len--;
				b[j] = b[--n];
				merged = true;
			}
		}
	}
	return n;
}

/* Builds the round's input and what the test expects of it. */
static void world_input(struct world *w)
{
	size_t i, cap_agg = 0;
	uint32_t h, k, g;
	int f;

	free_round(w);
	w->hosts = calloc(w->n_th + 1, sizeof(*w->hosts));
	w->th_of = calloc(w->n_th + 1, sizeof(*w->th_of));
	w->in_of = calloc(w->n_th + 1, sizeof(*w->in_of));
	REQUIRE(w->hosts && w->th_of && w->in_of);
	w->n_in = 0;
	/* Shuffled order: the plan must not depend on it. */
	for (i = 0; i < w->n_th; i++) {
		w->in_of[i] = NO_IDX;
		if (w->th[i].alive) {
			w->th_of[w->n_in++] = (uint32_t)i;
			cap_agg += w->th[i].n_blocks;
		}
	}
	for (i = w->n_in; i > 1; i--) {
		uint32_t j = below((uint32_t)i), tmp = w->th_of[i - 1];

		w->th_of[i - 1] = w->th_of[j];
		w->th_of[j] = tmp;
	}
	w->agg = calloc(cap_agg + 1, sizeof(*w->agg));
	w->own = calloc(w->n_in + 1, sizeof(*w->own));
	w->grp_sum = calloc(w->n_groups, sizeof(*w->grp_sum));
	for (f = 0; f < 2; f++) {
		w->elig[f] = calloc(w->n_groups, sizeof(*w->elig[f]));
		w->minlen[f] = calloc(w->n_groups, sizeof(*w->minlen[f]));
		REQUIRE(w->elig[f] && w->minlen[f]);
		for (g = 0; g < w->n_groups; g++)
			w->minlen[f][g] = w->gp[g][f].len;
	}
	REQUIRE(w->agg && w->own && w->grp_sum);
	w->n_agg = 0;
	for (h = 0; h < w->n_in; h++) {
		struct th *t = &w->th[w->th_of[h]];
		struct plan_host *ph = &w->hosts[h];
		struct strata_prefix m[TH_BLOCKS];
		size_t n;

		w->in_of[w->th_of[h]] = h;
		ph->name = t->name;
		ph->group = t->group;
		ph->healthy = t->healthy;
		ph->n_addrs = t->n_addrs;
		memcpy(ph->addrs, t->addrs, sizeof(t->addrs));
		ph->blocks = t->blocks;
		ph->n_blocks = t->n_blocks;
		for (f = 0; f < 2; f++)
			if (t->healthy && th_has_fam(t, f))
				w->elig[f][t->group]++;
		memcpy(m, t->blocks, sizeof(m));
		n = merge_blocks(m, t->n_blocks);
		for (k = 0; k < n; k++) {
			w->agg[w->n_agg].dst = m[k];
			w->agg[w->n_agg++].host = h;
			if (th_has_fam(t, fidx(m[k].family))) {
				w->own[h]++;
				w->grp_sum[t->group]++;
			}
		}
		for (k = 0; k < t->n_blocks; k++) {
			f = fidx(t->blocks[k].family);
			if (w->minlen[f][t->group] == w->gp[t->group][f].len ||
			    t->blocks[k].len < w->minlen[f][t->group])
				w->minlen[f][t->group] = t->blocks[k].len;
		}
	}
	qsort(w->agg, w->n_agg, sizeof(*w->agg), tagg_cmp);
}

/* The test's own check of its input: inside the group, no overlap. */
static void check_input(struct world *w)
{
	struct strata_prefix *all;
	size_t n = 0, i;
	uint32_t h, k;
	char a[64], b[64];
	int f;

	for (h = 0; h < w->n_in; h++)
		n += w->hosts[h].n_blocks;
	all = calloc(n + 1, sizeof(*all));
	REQUIRE(all);
	n = 0;
	for (h = 0; h < w->n_in; h++) {
		const struct plan_host *ph = &w->hosts[h];

		for (k = 0; k < ph->n_blocks; k++) {
			const struct strata_prefix *bl = &ph->blocks[k];

			f = fidx(bl->family);
			CHECK(w, covers(&w->gp[ph->group][f], bl),
			      "block %s outside its group",
			      pfmt(bl, a, sizeof(a)));
			all[n++] = *bl;
		}
	}
	qsort(all, n, sizeof(*all), pcmp_q);
	for (i = 1; i < n; i++)
		CHECK(w, !overlap(&all[i - 1], &all[i]),
		      "test input: blocks %s and %s overlap",
		      pfmt(&all[i - 1], a, sizeof(a)),
		      pfmt(&all[i], b, sizeof(b)));
	free(all);
}

/* ---- the forwarding simulation --------------------------------------- */

#define HOP_LIMIT 8

struct pkt {
	uint8_t family;
	uint8_t addr[16];
	uint32_t owner; /* plan index */
	uint32_t cur;
	int done;       /* 0 active, 1 delivered, 2 black hole */
};

/* A route resolved to the host its next hops name. */
struct kr {
	struct strata_prefix dst;
	uint32_t via; /* plan index */
};

struct kr_set {
	struct world *w;
	struct kr *r;
	size_t n, cap;
};

/* Every next hop of a route names one live host of the world. */
static uint32_t resolve(struct world *w, const struct strata_route *r)
{
	uint32_t i, id, via = NO_IDX;
	char a[64];

	CHECK(w, r->n_nexthops >= 1 && r->n_nexthops <= STRATA_MAX_NEXTHOPS,
	      "route %s: %u next hops", pfmt(&r->dst, a, sizeof(a)),
	      r->n_nexthops);
	for (i = 0; i < r->n_nexthops; i++) {
		CHECK(w, r->nh[i].gw.family == r->dst.family,
		      "route %s: next hop of another family",
		      pfmt(&r->dst, a, sizeof(a)));
		id = addr_host(&r->nh[i].gw);
		CHECK(w, id < w->n_th && w->in_of[id] != NO_IDX,
		      "route %s: next hop names no live host",
		      pfmt(&r->dst, a, sizeof(a)));
		CHECK(w, i == 0 || w->in_of[id] == via,
		      "route %s: next hops of several hosts",
		      pfmt(&r->dst, a, sizeof(a)));
		via = w->in_of[id];
	}
	return via;
}

static void kr_collect(void *arg, const struct strata_route *r)
{
	struct kr_set *s = arg;

	CHECK(s->w, r->size == sizeof(*r) && r->scope == STRATA_SCOPE_KERNEL,
	      "kernel route: size %u scope %u", r->size, r->scope);
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		REQUIRE(s->r);
	}
	s->r[s->n].dst = r->dst;
	s->r[s->n++].via = resolve(s->w, r);
}

static int kr_cmp(const void *a, const void *b)
{
	return pcmp(&((const struct kr *)a)->dst, &((const struct kr *)b)->dst);
}

/* Longest (here: the only) prefix of sorted disjoint routes holding x. */
static const struct kr *kr_lookup(const struct kr *r, size_t n,
				  uint8_t family, const uint8_t *x)
{
	size_t a = 0, b = n, m;

	while (a < b) {
		m = a + (b - a) / 2;
		if (r[m].dst.family < family ||
		    (r[m].dst.family == family &&
		     memcmp(r[m].dst.addr, x, 16) <= 0))
			a = m + 1;
		else
			b = m;
	}
	if (a && covers_addr(&r[a - 1].dst, family, x))
		return &r[a - 1];
	return NULL;
}

/* The host's kernel routes, sorted, checked against the counts. */
static void host_routes(struct world *w, const struct plan *p, uint32_t h,
			struct kr_set *s)
{
	uint64_t want = w->grp_sum[w->hosts[h].group] - w->own[h];
	size_t i;
	char a[64], b[64];

	s->n = 0;
	REQUIRE(plan_host_kernel_routes(p, h, kr_collect, s) == 0);
	CHECK(w, s->n == want && plan_host_kernel_count(p, h) == want,
	      "host %s: %zu kernel routes, count %" PRIu64 ", want %" PRIu64,
	      w->hosts[h].name, s->n, plan_host_kernel_count(p, h), want);
	for (i = 1; i < s->n && kr_cmp(&s->r[i - 1], &s->r[i]) < 0; i++)
		;
	if (i < s->n)
		qsort(s->r, s->n, sizeof(*s->r), kr_cmp);
	for (i = 0; i < s->n; i++) {
		CHECK(w, w->hosts[s->r[i].via].group == w->hosts[h].group &&
			      s->r[i].via != h,
		      "host %s: route %s via %s, not a peer in its group",
		      w->hosts[h].name, pfmt(&s->r[i].dst, a, sizeof(a)),
		      w->hosts[s->r[i].via].name);
		CHECK(w, !i || !overlap(&s->r[i - 1].dst, &s->r[i].dst),
		      "host %s: kernel routes %s and %s overlap",
		      w->hosts[h].name, pfmt(&s->r[i - 1].dst, a, sizeof(a)),
		      pfmt(&s->r[i].dst, b, sizeof(b)));
	}
}

/* Orders the packets by the host they are at (counting sort). */
static void by_host(struct pkt **act, size_t n, struct pkt **tmp,
		    uint32_t *count, size_t n_hosts)
{
	size_t i;

	memset(count, 0, (n_hosts + 1) * sizeof(*count));
	for (i = 0; i < n; i++)
		count[act[i]->cur + 1]++;
	for (i = 0; i < n_hosts; i++)
		count[i + 1] += count[i];
	for (i = 0; i < n; i++)
		tmp[count[act[i]->cur]++] = act[i];
	memcpy(act, tmp, n * sizeof(*act));
}

static bool no_healthy_reported(const struct plan *p, const char *path, int f)
{
	char want[96];

	snprintf(want, sizeof(want), "%s: no healthy host for %s", path,
		 f == PLAN_V6 ? "IPv6" : "IPv4");
	return has_problem(p, want);
}

/*
 * Moves every packet hop by hop: at its owner it is delivered; else the
 * current host's kernel routes send it to a peer; else the cloud table
 * sends it to a host; else it is lost. Packets are moved in waves, sorted
 * by host, so each host's routes are listed once per hop.
 */
static void simulate(struct world *w, const struct plan *p, struct kr *cloud,
		     size_t n_cloud, struct pkt *pk, size_t n)
{
	struct pkt **act = calloc(n + 1, sizeof(*act));
	struct pkt **tmp = calloc(n + 1, sizeof(*tmp));
	uint32_t *count = calloc(w->n_in + 1, sizeof(*count));
	struct kr_set s = { .w = w };
	size_t n_act = 0, i, j, k;
	int hop;

	REQUIRE(act && tmp && count);
	for (i = 0; i < n; i++)
		act[n_act++] = &pk[i];
	for (hop = 0; hop <= HOP_LIMIT && n_act; hop++) {
		for (i = k = 0; i < n_act; i++) {
			if (act[i]->cur == act[i]->owner)
				act[i]->done = 1;
			else
				act[k++] = act[i];
		}
		n_act = k;
		if (!n_act)
			break;
		CHECK(w, hop < HOP_LIMIT, "a packet for %s loops (%zu packets)",
		      w->hosts[act[0]->owner].name, n_act);
		by_host(act, n_act, tmp, count, w->n_in);
		for (i = 0; i < n_act; i = j) {
			uint32_t cur = act[i]->cur;

			host_routes(w, p, cur, &s);
			for (j = i; j < n_act && act[j]->cur == cur; j++) {
				struct pkt *x = act[j];
				const struct kr *r;
				uint32_t g;

				r = kr_lookup(s.r, s.n, x->family, x->addr);
				seen.hops++;
				if (r) {
					x->cur = r->via;
					continue;
				}
				r = kr_lookup(cloud, n_cloud, x->family,
					      x->addr);
				if (r) {
					x->cur = r->via;
					continue;
				}
				g = w->hosts[x->owner].group;
				CHECK(w, no_healthy_reported(p, w->paths[g],
							     fidx(x->family)),
				      "black hole: no route to %s's block from %s",
				      w->hosts[x->owner].name,
				      w->hosts[cur].name);
				CHECK(w, w->elig[fidx(x->family)][g] == 0,
				      "group %s reported without cause",
				      w->paths[g]);
				x->done = 2;
				seen.lost++;
			}
		}
		for (i = k = 0; i < n_act; i++)
			if (!act[i]->done)
				act[k++] = act[i];
		n_act = k;
	}
	free(s.r);
	free(count);
	free(tmp);
	free(act);
}

static void random_addr_in(const struct strata_prefix *b, struct pkt *x)
{
	unsigned i;

	x->family = b->family;
	memcpy(x->addr, b->addr, 16);
	for (i = b->len; i < bits_of(b->family); i++)
		bit_set(x->addr, i, chance(50));
}

struct cloud_set {
	struct world *w;
	struct kr *r;
	size_t n;
};

static void cloud_collect(void *arg, const struct strata_route *r)
{
	struct cloud_set *s = arg;

	CHECK(s->w, r->scope == STRATA_SCOPE_CLOUD && r->n_nexthops == 1,
	      "cloud route: scope %u, %u next hops", r->scope, r->n_nexthops);
	s->r[s->n].dst = r->dst;
	s->r[s->n++].via = resolve(s->w, r);
}

/* ---- the properties of one plan -------------------------------------- */

static uint64_t agg_routable(const struct world *w, int f)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < w->n_agg; i++)
		if (fidx(w->agg[i].dst.family) == f && routed(w, i))
			n++;
	return n;
}

static uint32_t budget_of(const struct world *w, int f)
{
	return w->opt.budget[f] ? w->opt.budget[f] : PLAN_DEFAULT_BUDGET;
}

/* Would plan_build have to fail with -ENOSPC? */
static bool expect_enospc(const struct world *w)
{
	int f;

	for (f = 0; f < 2; f++) {
		if (!w->fam[f])
			continue;
		if (w->n_groups <= budget_of(w, f))
			continue;
		if (w->opt.no_per_host || agg_routable(w, f) > budget_of(w, f))
			return true;
	}
	return false;
}

static void check_cloud(struct world *w, const struct plan *p, int f)
{
	const struct plan_cloud_route *c;
	uint32_t *per_group, *mine, budget = budget_of(w, f), used = 0, g;
	bool spread = false;
	size_t n, i, k = 0;
	char a[64];

	c = plan_cloud_routes(p, &n);
	per_group = calloc(w->n_groups, sizeof(*per_group));
	mine = calloc(w->n_in + 1, sizeof(*mine));
	REQUIRE(per_group && mine);
	CHECK(w, plan_cloud_budget(p, f) == budget, "budget %u, want %u",
	      plan_cloud_budget(p, f), budget);
	for (i = 0; i < n; i++) {
		if (fidx(c[i].dst.family) != f)
			continue;
		used++;
		CHECK(w, c[i].host < w->n_in && c[i].group < w->n_groups,
		      "cloud route %zu: host or group out of range", i);
		CHECK(w, w->hosts[c[i].host].group == c[i].group &&
			      covers(&w->gp[c[i].group][f], &c[i].dst),
		      "cloud route %s outside the group of its host",
		      pfmt(&c[i].dst, a, sizeof(a)));
		per_group[c[i].group]++;
		if (plan_cloud_mode(p, f) == PLAN_CLOUD_PER_HOST) {
			/* The same list as the test's aggregation. */
			while (k < w->n_agg &&
			       (fidx(w->agg[k].dst.family) != f ||
				!routed(w, k)))
				k++;
			CHECK(w, k < w->n_agg &&
				      !pcmp(&w->agg[k].dst, &c[i].dst) &&
				      w->agg[k].host == c[i].host,
			      "per-host route %s is not a block of its host",
			      pfmt(&c[i].dst, a, sizeof(a)));
			k++;
		} else {
			CHECK(w, w->hosts[c[i].host].healthy &&
				      has_fam(w, c[i].host, f),
			      "route %s to %s: unhealthy or no address",
			      pfmt(&c[i].dst, a, sizeof(a)),
			      w->hosts[c[i].host].name);
			CHECK(w, c[i].dst.len <= w->minlen[f][c[i].group],
			      "part %s is finer than a block of its group",
			      pfmt(&c[i].dst, a, sizeof(a)));
			CHECK(w, mine[c[i].host] != (uint32_t)f + 1,
			      "host %s forwards two parts",
			      w->hosts[c[i].host].name);
			mine[c[i].host] = (uint32_t)f + 1;
		}
	}
	CHECK(w, used <= budget, "%s: %u cloud routes over budget %u",
	      f ? "IPv6" : "IPv4", used, budget);
	if (plan_cloud_mode(p, f) == PLAN_CLOUD_PER_HOST) {
		seen.per_host++;
		CHECK(w, !w->opt.no_per_host && used == agg_routable(w, f),
		      "per-host mode: %u routes, want %" PRIu64, used,
		      agg_routable(w, f));
	} else {
		CHECK(w, plan_cloud_mode(p, f) == PLAN_CLOUD_PER_GROUP &&
			      (w->opt.no_per_host ||
			       agg_routable(w, f) > budget),
		      "per-group mode though %" PRIu64 " block routes fit %u",
		      agg_routable(w, f), budget);
		seen.per_group++;
		for (g = 0; g < w->n_groups; g++) {
			const struct plan_group_stats *st;
			uint32_t kk, want;
			bool can;

			st = plan_group_stats(p, g);
			kk = st->split_bits[f];
			want = w->elig[f][g] ? 1u << kk : 0;
			CHECK(w, per_group[g] == want &&
				      st->cloud_routes[f] == per_group[g],
			      "group %s: %u routes, split %u, %u eligible",
			      w->paths[g], per_group[g], kk, w->elig[f][g]);
			if (!w->elig[f][g])
				continue;
			spread |= kk > 0;
			/* Spreading stopped only for a reason. */
			can = used + (1u << kk) <= budget &&
			      w->elig[f][g] >= 2u << kk &&
			      w->gp[g][f].len + kk + 1 <= w->minlen[f][g];
			CHECK(w, w->opt.no_spread ? kk == 0 : !can,
			      "group %s: split %u could grow (used %u of %u)",
			      w->paths[g], kk, used, budget);
		}
	}
	seen.spread += spread;
	free(per_group);
	free(mine);
}

/* Each routed block from its owner alone. */
static void check_bgp_blocks(struct world *w, const struct plan_bgp_route *b,
			     size_t n)
{
	size_t i, k = 0;
	char a[64];

	for (i = 0; i < n; i++, k++) {
		while (k < w->n_agg && !routed(w, k))
			k++;
		CHECK(w, k < w->n_agg && !pcmp(&w->agg[k].dst, &b[i].dst) &&
			      b[i].n_hosts == 1 &&
			      b[i].hosts[0] == w->agg[k].host,
		      "bgp route %s is not a block of its host",
		      pfmt(&b[i].dst, a, sizeof(a)));
	}
	while (k < w->n_agg && !routed(w, k))
		k++;
	CHECK(w, k == w->n_agg, "bgp: %zu block routes missing", w->n_agg - k);
}

/* Each group prefix from distinct healthy hosts of the group. */
static void check_bgp_aggregate(struct world *w, const struct plan_bgp_route *b,
				size_t n)
{
	uint32_t want = w->opt.bgp_announcers ? w->opt.bgp_announcers : 2;
	uint32_t g, j, m, elig;
	size_t i, n_want = 0;
	char a[64];
	int f;

	for (f = 0; f < 2; f++)
		for (g = 0; g < w->n_groups; g++)
			n_want += w->fam[f] && w->elig[f][g];
	CHECK(w, n == n_want, "bgp: %zu group routes, want %zu", n, n_want);
	for (i = 0; i < n; i++) {
		f = fidx(b[i].dst.family);
		elig = w->elig[f][b[i].group];
		CHECK(w, !pcmp(&b[i].dst, &w->gp[b[i].group][f]) &&
			      b[i].n_hosts == (elig < want ? elig : want),
		      "bgp route %s: %u announcers",
		      pfmt(&b[i].dst, a, sizeof(a)), b[i].n_hosts);
		for (j = 0; j < b[i].n_hosts; j++) {
			const struct plan_host *h = &w->hosts[b[i].hosts[j]];

			CHECK(w, h->group == b[i].group && h->healthy &&
				      has_fam(w, b[i].hosts[j], f),
			      "bgp route %s: bad announcer %s",
			      pfmt(&b[i].dst, a, sizeof(a)), h->name);
			for (m = 0; m < j; m++)
				CHECK(w, b[i].hosts[m] != b[i].hosts[j],
				      "bgp route %s: %s twice",
				      pfmt(&b[i].dst, a, sizeof(a)), h->name);
		}
	}
}

static void check_bgp(struct world *w, struct plan *p)
{
	const struct plan_bgp_route *b;
	size_t n;

	b = plan_bgp_routes(p, &n);
	if (w->opt.bgp_mode == PLAN_BGP_BLOCKS)
		check_bgp_blocks(w, b, n);
	else
		check_bgp_aggregate(w, b, n);
}

/* A prior forwarder still healthy, for the same part, stays. */
static void check_sticky(struct world *w, const struct plan *p)
{
	const struct plan_cloud_route *c;
	size_t n, i, j = 0;

	c = plan_cloud_routes(p, &n);
	for (i = 0; i < w->n_prior; i++) {
		const struct plan_choice *pc = &w->prior[i];
		uint32_t id = (uint32_t)atoi(pc->host + 5);
		const struct th *t = &w->th[id];

		while (j < n && pcmp(&c[j].dst, &pc->dst) < 0)
			j++;
		if (j == n || pcmp(&c[j].dst, &pc->dst) ||
		    plan_cloud_mode(p, fidx(pc->dst.family)) !=
			    PLAN_CLOUD_PER_GROUP ||
		    !t->alive || !t->healthy ||
		    !th_has_fam(t, fidx(pc->dst.family)))
			continue;
		CHECK(w, !strcmp(w->hosts[c[j].host].name, pc->host),
		      "forwarder of a part moved from %s to %s", pc->host,
		      w->hosts[c[j].host].name);
		seen.sticky++;
	}
}

/* Packets: all pairs, or about `sample` random ones. */
static void check_forwarding(struct world *w, struct plan *p, size_t sample)
{
	struct cloud_set cs = { .w = w };
	struct pkt *pk;
	size_t n_blocks = 0, n = 0, i, cap;
	const struct plan_cloud_route *c;
	uint32_t h, k, a;

	c = plan_cloud_routes(p, &i);
	cs.r = calloc(i + 1, sizeof(*cs.r));
	REQUIRE(cs.r);
	REQUIRE(plan_cloud_table(p, cloud_collect, &cs) == 0);
	CHECK(w, cs.n == i, "cloud table: %zu routes, %zu planned", cs.n, i);
	for (k = 0; k < cs.n; k++) {
		CHECK(w, cs.r[k].via == c[k].host &&
			      !pcmp(&cs.r[k].dst, &c[k].dst),
		      "cloud table differs from the routes at %u", k);
		CHECK(w, !k || (pcmp(&cs.r[k - 1].dst, &cs.r[k].dst) < 0 &&
				!overlap(&cs.r[k - 1].dst, &cs.r[k].dst)),
		      "cloud routes unsorted or overlapping at %u", k);
	}
	for (h = 0; h < w->n_in; h++)
		n_blocks += w->hosts[h].n_blocks;
	cap = sample ? sample : n_blocks * w->n_in;
	pk = calloc(cap + 1, sizeof(*pk));
	REQUIRE(pk);
	if (!sample) {
		for (a = 0; a < w->n_in; a++) {
			for (h = 0; h < w->n_in; h++) {
				for (k = 0; k < w->hosts[h].n_blocks; k++) {
					random_addr_in(&w->hosts[h].blocks[k],
						       &pk[n]);
					pk[n].owner = h;
					pk[n++].cur = a;
				}
			}
		}
	} else if (w->n_in && n_blocks) {
		/* Few sources, many packets each: every hop lists routes. */
		for (a = below((uint32_t)w->n_in); n < sample; n++) {
			if (n % 16 == 0)
				a = below((uint32_t)w->n_in);
			h = below((uint32_t)w->n_in);
			/* Half to the same group, which kernel routes serve. */
			for (k = 0; k < 64 && (!w->hosts[h].n_blocks ||
					       (n % 2 && w->hosts[h].group !=
							 w->hosts[a].group));
			     k++)
				h = below((uint32_t)w->n_in);
			if (!w->hosts[h].n_blocks) {
				n--;
				continue;
			}
			k = below(w->hosts[h].n_blocks);
			random_addr_in(&w->hosts[h].blocks[k], &pk[n]);
			pk[n].owner = h;
			pk[n].cur = a;
		}
	}
	seen.packets += n;
	simulate(w, p, cs.r, cs.n, pk, n);
	free(pk);
	free(cs.r);
}

static void check_plan(struct world *w, struct plan *p, size_t sample)
{
	const struct plan_group_stats *st;
	uint64_t max;
	uint32_t g, h;
	int f;

	for (f = 0; f < 2; f++) {
		if (!w->fam[f]) {
			CHECK(w, plan_cloud_mode(p, f) == PLAN_CLOUD_NONE,
			      "family %d: mode without prefixes", f);
			continue;
		}
		check_cloud(w, p, f);
	}
	for (g = 0; g < w->n_groups; g++) {
		st = plan_group_stats(p, g);
		REQUIRE(st);
		max = 0;
		for (h = 0; h < w->n_in; h++) {
			if (w->hosts[h].group != g)
				continue;
			if (w->grp_sum[g] - w->own[h] > max)
				max = w->grp_sum[g] - w->own[h];
		}
		CHECK(w, st->kernel_routes_max == max,
		      "group %s: kernel max %" PRIu64 ", want %" PRIu64,
		      w->paths[g], st->kernel_routes_max, max);
	}
	for (h = 0; h < w->n_in; h++)
		CHECK(w, plan_host_kernel_count(p, h) ==
			      w->grp_sum[w->hosts[h].group] - w->own[h],
		      "host %s: kernel count", w->hosts[h].name);
	check_bgp(w, p);
	check_sticky(w, p);
	check_forwarding(w, p, sample);
}

/* Hosts leave and join, health flips; the plan's choices come back. */
static void churn(struct world *w)
{
	size_t i, n = w->n_th;
	uint32_t joins;

	for (i = 0; i < n; i++) {
		if (!w->th[i].alive)
			continue;
		if (chance(10))
			remove_host(w, &w->th[i]);
		else if (chance(5))
			w->th[i].healthy = !w->th[i].healthy;
	}
	joins = below((uint32_t)(n / 8 + 2));
	for (i = 0; i < joins; i++)
		add_host(w, below(w->n_groups));
}

/* feasible: spreading on, budgets of at least one route per group. */
static void run_world(uint64_t topo, uint32_t n_hosts, int rounds,
		      size_t sample, bool feasible)
{
	struct world w;
	struct plan *p;
	char err[256];
	size_t n;
	int r, f;

	rng_for(topo);
	world_init(&w, topo, n_hosts);
	if (feasible)
		w.opt.no_spread = false;
	for (f = 0; f < 2 && feasible; f++)
		if (budget_of(&w, f) < w.n_groups)
			w.opt.budget[f] = w.n_groups + below(1001 - w.n_groups);
	for (w.round = 0; w.round < rounds; w.round++) {
		struct plan_input in;

		if (w.round)
			churn(&w);
		world_input(&w);
		check_input(&w);
		in = (struct plan_input){
			.groups = w.groups,
			.n_groups = w.n_groups,
			.hosts = w.hosts,
			.n_hosts = w.n_in,
		};
		w.opt.prior = w.prior;
		w.opt.n_prior = w.n_prior;
		p = NULL;
		r = plan_build(&in, &w.opt, &p, err, sizeof(err));
		seen.plans++;
		if (expect_enospc(&w)) {
			seen.enospc++;
			CHECK(&w, r == -ENOSPC && strstr(err, "subnets need"),
			      "want -ENOSPC, got %d %s", r, err);
			continue;
		}
		CHECK(&w, r == 0, "plan_build: %d %s", r, err);
		check_plan(&w, p, sample);
		free_prior(&w);
		n = plan_choices(p, NULL, 0);
		w.prior = calloc(n + 1, sizeof(*w.prior));
		REQUIRE(w.prior);
		w.n_prior = plan_choices(p, w.prior, n);
		for (size_t i = 0; i < w.n_prior; i++) {
			w.prior[i].host = strdup(w.prior[i].host);
			REQUIRE(w.prior[i].host);
		}
		plan_free(p);
	}
	world_free(&w);
}

START_TEST(random_small_topologies)
{
	uint64_t t, n = quick ? 300 : 1500;

	for (t = 0; t < n; t++) {
		rng_for(~t);
		run_world(t, 1 + below(24), 3, 0, false);
	}
	print_seen("small topologies");
}
END_TEST

START_TEST(random_medium_topologies)
{
	uint64_t t, n = quick ? 6 : 30;

	for (t = 0; t < n; t++) {
		rng_for(~(t + 100000));
		run_world(100000 + t, 25 + below(2000), 3, quick ? 200 : 400,
			  t % 2);
	}
	print_seen("medium topologies");
}
END_TEST

START_TEST(random_large_topologies)
{
	uint64_t t, n = quick ? 1 : 2;

	for (t = 0; t < n; t++)
		run_world(200000 + t, 10000, 2, quick ? 200 : 400, true);
	print_seen("10,000-host topologies");
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("unit");
	TCase *pr = tcase_create("properties");

	tcase_add_test(tc, per_host_when_it_fits);
	tcase_add_test(tc, aggregation_repeats_and_needs_alignment);
	tcase_add_test(tc, per_group_when_it_does_not_fit);
	tcase_add_test(tc, more_groups_than_budget);
	tcase_add_test(tc, spreading_uses_the_budget);
	tcase_add_test(tc, spreading_never_splits_a_block);
	tcase_add_test(tc, families_have_their_own_budgets);
	tcase_add_test(tc, ipv6_parts_across_the_halves);
	tcase_add_test(tc, ecmp_over_a_peers_addresses);
	tcase_add_test(tc, unhealthy_hosts_are_never_chosen);
	tcase_add_test(tc, forwarders_are_sticky);
	tcase_add_test(tc, bgp_blocks_and_aggregates);
	tcase_add_test(tc, invalid_input);
	tcase_add_test(tc, empty_input);
	suite_add_tcase(s, tc);
	tcase_add_test(pr, random_small_topologies);
	tcase_add_test(pr, random_medium_topologies);
	tcase_add_test(pr, random_large_topologies);
	tcase_set_timeout(pr, 120);
	suite_add_tcase(s, pr);
	return s;
}

int main(void)
{
	const char *env = getenv("STRATA_TEST_SEED");
	SRunner *sr;
	int failed;

	seed = env && *env ? strtoull(env, NULL, 0) : 20261126;
	env = getenv("STRATA_TEST_QUICK");
	quick = env && *env && strcmp(env, "0");
	printf("test_plan: seed %" PRIu64 " (STRATA_TEST_SEED overrides)%s\n",
	       seed, quick ? ", quick" : "");
	fflush(stdout);
	sr = srunner_create(plan_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
