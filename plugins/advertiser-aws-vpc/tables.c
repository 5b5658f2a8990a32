/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route-table diff: the wanted routes, sorted once, merged against
 * each table's own routes (those inside the cluster's CIDRs), sorted per
 * table. Actions go to three lists, one per kind, joined at the end so
 * that every REPLACE comes before every CREATE and DELETE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tables.h"

static unsigned family_bits(uint8_t family)
{
	return family == STRATA_AF_INET ? 32 : 128;
}

static bool family_ok(uint8_t family)
{
	return family == STRATA_AF_INET || family == STRATA_AF_INET6;
}

/* family, then address bytes, then length */
static int prefix_cmp(const struct strata_prefix *a,
		      const struct strata_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c < 0 ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

static bool prefix_covers(const struct strata_prefix *net,
			  const struct strata_prefix *p)
{
	unsigned full, rest;

	if (net->family != p->family || !family_ok(p->family) ||
	    net->len > p->len || net->len > family_bits(net->family))
		return false;
	full = net->len / 8;
	rest = net->len % 8;
	if (memcmp(net->addr, p->addr, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);

		if ((net->addr[full] & mask) != (p->addr[full] & mask))
			return false;
	}
	return true;
}

bool tables_inside(const struct strata_prefix *p,
		   const struct strata_prefix *cidrs, size_t n)
{
	size_t i;

	if (!p || !cidrs)
		return false;
	for (i = 0; i < n; i++)
		if (prefix_covers(&cidrs[i], p))
			return true;
	return false;
}

/* ---- sorting ------------------------------------------------------------ */

static int want_cmp(const void *x, const void *y)
{
	const struct tables_want *const *a = x, *const *b = y;

	return prefix_cmp(&(*a)->dst, &(*b)->dst);
}

static int route_cmp(const void *x, const void *y)
{
	const struct ec2_route *const *a = x, *const *b = y;
	int c = prefix_cmp(&(*a)->dst, &(*b)->dst);

	/* equal dsts keep the table's order: the first one is matched */
	if (c)
		return c;
	return *a < *b ? -1 : *a > *b;
}

/* ---- action lists ------------------------------------------------------- */

struct list {
	struct tables_action *a;
	size_t n, cap;
};

static struct tables_action *list_add(struct list *l)
{
	struct tables_action *a;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		a = realloc(l->a, cap * sizeof(*a));
		if (!a)
			return NULL;
		l->a = a;
		l->cap = cap;
	}
	a = &l->a[l->n++];
	memset(a, 0, sizeof(*a));
	return a;
}

static void copy_id(char *dst, const char *src)
{
	size_t n = strnlen(src, EC2_ID_MAX - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *target_word(enum ec2_target t)
{
	switch (t) {
	case EC2_TARGET_INTERFACE:
		return "";
	case EC2_TARGET_GATEWAY:
		return "gateway";
	case EC2_TARGET_INSTANCE:
		return "instance";
	case EC2_TARGET_NAT_GATEWAY:
		return "nat-gateway";
	case EC2_TARGET_TRANSIT_GATEWAY:
		return "transit-gateway";
	case EC2_TARGET_PEERING:
		return "peering";
	case EC2_TARGET_EGRESS_ONLY:
		return "egress-only";
	case EC2_TARGET_LOCAL_GATEWAY:
		return "local-gateway";
	case EC2_TARGET_CARRIER_GATEWAY:
		return "carrier-gateway";
	case EC2_TARGET_UNKNOWN:
		break;
	}
	return "target";
}

/* "eni-…", "blackhole eni-…", "instance i-…", "gateway igw-…"; cut to fit */
static void describe(const struct ec2_route *r, char *buf, size_t len)
{
	const char *words[3];
	size_t n = 0, used = 0, i;

	if (r->state == EC2_ROUTE_BLACKHOLE)
		words[n++] = "blackhole";
	if (target_word(r->target_kind)[0])
		words[n++] = target_word(r->target_kind);
	words[n++] = r->target[0] ? r->target : "unknown";
	buf[0] = '\0';
	for (i = 0; i < n && used + 1 < len; i++) {
		size_t w = strnlen(words[i], EC2_ID_MAX - 1);

		if (i)
			buf[used++] = ' ';
		if (w > len - 1 - used)
			w = len - 1 - used;
		memcpy(buf + used, words[i], w);
		used += w;
		buf[used] = '\0';
	}
}

static bool route_right(const struct ec2_route *r, const struct tables_want *w)
{
	return r->target_kind == EC2_TARGET_INTERFACE &&
	       r->state == EC2_ROUTE_ACTIVE &&
	       !strncmp(r->target, w->eni, EC2_ID_MAX);
}

/* ---- one table ---------------------------------------------------------- */

/* Routes of one family in one table, after the plan. */
struct count {
	size_t cluster; /* strata's, before the plan */
	size_t others;  /* every other counted route */
	size_t creates, deletes;
};

static struct count *count_of(struct count c[2], uint8_t family)
{
	return &c[family == STRATA_AF_INET6];
}

struct ctx {
	const struct tables_input *in;
	const struct tables_want **want; /* inside the cluster, sorted */
	size_t n_want;
	const struct ec2_route **routes; /* scratch, one table's */
	struct list replace, create, del;
	struct tables_diff *out;
};

/* A wanted dst that is also the table's local route's: left alone. */
static bool is_local_dst(const struct ec2_route_table *t,
			 const struct strata_prefix *dst)
{
	size_t i;

	for (i = 0; i < t->n_routes; i++)
		if (t->routes[i].origin == EC2_ORIGIN_CREATE_ROUTE_TABLE &&
		    !prefix_cmp(&t->routes[i].dst, dst))
			return true;
	return false;
}

static int add(struct list *l, enum tables_op op, const char *table,
	       const struct strata_prefix *dst, const char *eni,
	       const struct ec2_route *was)
{
	struct tables_action *a = list_add(l);

	if (!a)
		return -ENOMEM;
	a->op = op;
	copy_id(a->table, table);
	a->dst = *dst;
	if (eni)
		copy_id(a->eni, eni);
	if (was)
		describe(was, a->was, sizeof(a->was));
	return 0;
}

static void refuse(struct ctx *c, const struct ec2_route_table *t,
		   uint8_t family, uint32_t budget, const struct count *n)
{
	size_t cluster = n->cluster + n->creates - n->deletes;

	c->out->n_refused += n->creates;
	if (c->out->refused[0])
		return;
	snprintf(c->out->refused, sizeof(c->out->refused),
		 "route table %s would hold %zu IPv%u routes, over its budget of %u (%zu for the cluster, %zu others)",
		 t->id, cluster + n->others, (unsigned)family,
		 (unsigned)budget, cluster, n->others);
}

static int diff_table(struct ctx *c, const struct ec2_route_table *t)
{
	const struct tables_input *in = c->in;
	struct count cnt[2] = { { 0 }, { 0 } };
	size_t i, j, n = 0, first_create = c->create.n;
	int r;

	for (i = 0; i < t->n_routes; i++) {
		const struct ec2_route *rt = &t->routes[i];

		/* EC2's quota leaves propagated routes out; a prefix
		 * list's family and size are not known here */
		if (rt->origin == EC2_ORIGIN_VGW_PROPAGATION ||
		    !family_ok(rt->dst.family))
			continue;
		/* the local route counts but is never touched */
		if (rt->origin == EC2_ORIGIN_CREATE_ROUTE_TABLE ||
		    !tables_inside(&rt->dst, in->cluster, in->n_cluster)) {
			count_of(cnt, rt->dst.family)->others++;
			continue;
		}
		count_of(cnt, rt->dst.family)->cluster++;
		c->routes[n++] = rt;
	}
	qsort(c->routes, n, sizeof(*c->routes), route_cmp);

	for (i = 0, j = 0; i < c->n_want || j < n;) {
		const struct tables_want *w = i < c->n_want ? c->want[i] : NULL;
		const struct ec2_route *rt = j < n ? c->routes[j] : NULL;
		int cmp = !w ? 1 : !rt ? -1 : prefix_cmp(&w->dst, &rt->dst);

		if (cmp < 0) {
			if (!is_local_dst(t, &w->dst)) {
				r = add(&c->create, TABLES_CREATE, t->id,
					&w->dst, w->eni, NULL);
				if (r)
					return r;
				count_of(cnt, w->dst.family)->creates++;
			}
			i++;
			continue;
		}
		if (cmp > 0) {
			if (in->may_delete) {
				r = add(&c->del, TABLES_DELETE, t->id,
					&rt->dst, NULL, NULL);
				if (r)
					return r;
				count_of(cnt, rt->dst.family)->deletes++;
			}
			j++;
		} else {
			if (route_right(rt, w)) {
				c->out->n_ok++;
			} else {
				r = add(&c->replace, TABLES_REPLACE, t->id,
					&w->dst, w->eni, rt);
				if (r)
					return r;
			}
			i++;
			j++;
		}
		/* a repeated dst (EC2 sends none) is one route: skip it */
		while (rt && j < n && !prefix_cmp(&c->routes[j]->dst,
						  &rt->dst))
			j++;
	}

	/* over budget: this table's creates of that family are dropped */
	for (i = 0; i < 2; i++) {
		uint8_t fam = i ? STRATA_AF_INET6 : STRATA_AF_INET;
		uint32_t budget = i ? in->budget6 : in->budget4;
		struct count *k = &cnt[i];
		size_t from, to;

		if (!budget || !k->creates ||
		    k->others + k->cluster + k->creates - k->deletes <= budget)
			continue;
		refuse(c, t, fam, budget, k);
		for (from = to = first_create; from < c->create.n; from++)
			if (c->create.a[from].dst.family != fam)
				c->create.a[to++] = c->create.a[from];
		c->create.n = to;
	}
	return 0;
}

/* ---- the diff ----------------------------------------------------------- */

static int check_input(const struct tables_input *in)
{
	size_t i;

	if (!in || (!in->tables && in->n_tables) ||
	    (!in->want && in->n_want) || (!in->cluster && in->n_cluster))
		return -EINVAL;
	for (i = 0; i < in->n_tables; i++)
		if (!in->tables[i].routes && in->tables[i].n_routes)
			return -EINVAL;
	for (i = 0; i < in->n_want; i++)
		if (!family_ok(in->want[i].dst.family) ||
		    in->want[i].dst.len > family_bits(in->want[i].dst.family))
			return -EINVAL;
	return 0;
}

static int join_lists(struct ctx *c)
{
	size_t n = c->replace.n + c->create.n + c->del.n;
	struct tables_action *a;

	if (!n)
		return 0;
	a = malloc(n * sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (c->replace.n)
		memcpy(a, c->replace.a, c->replace.n * sizeof(*a));
	if (c->create.n)
		memcpy(a + c->replace.n, c->create.a,
		       c->create.n * sizeof(*a));
	if (c->del.n)
		memcpy(a + c->replace.n + c->create.n, c->del.a,
		       c->del.n * sizeof(*a));
	c->out->actions = a;
	c->out->n_actions = n;
	return 0;
}

int tables_diff(const struct tables_input *in, struct tables_diff *out)
{
	struct ctx c = { .in = in, .out = out };
	size_t i, most = 0;
	int r;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	r = check_input(in);
	if (r)
		return r;
	for (i = 0; i < in->n_tables; i++)
		if (in->tables[i].n_routes > most)
			most = in->tables[i].n_routes;

	r = -ENOMEM;
	c.want = malloc((in->n_want ? in->n_want : 1) * sizeof(*c.want));
	c.routes = malloc((most ? most : 1) * sizeof(*c.routes));
	if (!c.want || !c.routes)
		goto free_scratch;
	for (i = 0; i < in->n_want; i++)
		c.want[i] = &in->want[i];
	qsort(c.want, in->n_want, sizeof(*c.want), want_cmp);
	r = -EINVAL;
	for (i = 1; i < in->n_want; i++)
		if (!prefix_cmp(&c.want[i - 1]->dst, &c.want[i]->dst))
			goto free_scratch;
	/* outside every cluster CIDR: counted once, never in a table */
	for (i = 0; i < in->n_want; i++) {
		if (tables_inside(&c.want[i]->dst, in->cluster, in->n_cluster))
			c.want[c.n_want++] = c.want[i];
		else
			out->n_outside++;
	}

	for (i = 0; i < in->n_tables; i++) {
		r = diff_table(&c, &in->tables[i]);
		if (r)
			goto free_scratch;
	}
	r = join_lists(&c);
free_scratch:
	free(c.replace.a);
	free(c.create.a);
	free(c.del.a);
	free(c.routes);
	free(c.want);
	if (r)
		memset(out, 0, sizeof(*out));
	return r;
}

void tables_diff_free(struct tables_diff *d)
{
	if (!d)
		return;
	free(d->actions);
	memset(d, 0, sizeof(*d));
}
