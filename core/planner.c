/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carving.h"
#include "intent.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "planner.h"
#include "route.h"

/* Changes come in bursts (a node joining claims nodes, blocks, a record). */
#define PLANNER_DEBOUNCE_NS (100 * 1000000LL)

struct planner {
	struct loop *loop;
	struct route_owner *owner;
	char *node;
	struct plan_options opt;
	struct loop_timer *timer;
	planner_view_fn view;
	void *view_arg;
	/* what was stated last, sorted by (scope, dst) */
	struct strata_route *stated;
	size_t n_stated;
	/* the forwarders chosen last, fed back so they stay */
	struct plan_choice *prior;
	char **prior_names;
	size_t n_prior;
	bool synced;
	/* the stored forwarding intent */
	bool have_intent, drained;
	struct strata_route *intent_routes;
	size_t n_intent_routes;
	char **unhealthy;
	size_t n_unhealthy;
	bool routed_here; /* an intent route points at this node */
	struct planner_stats stats;
	char error[256];
	struct carving last; /* the last view read, for the metrics */
};

struct route_list {
	struct strata_route *v;
	size_t n, cap;
	int err;
};

static void collect(void *arg, const struct strata_route *r)
{
	struct route_list *l = arg;

	if (l->err)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct strata_route *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->err = -ENOMEM;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
}

static int cmp_dst(const struct strata_prefix *a, const struct strata_prefix *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int cmp_route(const void *a, const void *b)
{
	const struct strata_route *x = a, *y = b;

	if (x->scope != y->scope)
		return x->scope < y->scope ? -1 : 1;
	return cmp_dst(&x->dst, &y->dst);
}

static void fail(struct planner *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct planner *p, const char *fmt, ...)
{
	char msg[sizeof(p->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->stats.failures++;
	/* say it once, not on every change while it lasts */
	if (strcmp(msg, p->error))
		log_msg(LOG_ERR, "planner", "%s", msg);
	snprintf(p->error, sizeof(p->error), "%s", msg);
	p->stats.error = p->error;
}

/* State what changed: set the new and changed, unset the gone. */
static void state_diff(struct planner *p, struct strata_route *next, size_t n)
{
	size_t i = 0, j = 0;

	while (i < p->n_stated || j < n) {
		int c;

		if (i == p->n_stated)
			c = 1;
		else if (j == n)
			c = -1;
		else
			c = cmp_route(&p->stated[i], &next[j]);
		if (c < 0) {
			route_unset(p->owner, p->stated[i].scope,
				    &p->stated[i].dst);
			i++;
		} else if (c > 0 || !route_equal(&p->stated[i], &next[j])) {
			if (route_set(p->owner, &next[j])) {
				char text[256];

				route_format(&next[j], text, sizeof(text));
				log_msg(LOG_WARNING, "planner",
					"route refused by the model: %s", text);
			}
			if (c == 0)
				i++;
			j++;
		} else {
			i++;
			j++;
		}
	}
}

static void keep_choices(struct planner *p, const struct plan *plan)
{
	size_t n = plan_choices(plan, NULL, 0);
	struct plan_choice *c = calloc(n ? n : 1, sizeof(*c));
	char **names = calloc(n ? n : 1, sizeof(*names));

	if (!c || !names) {
		free(c);
		free(names);
		return; /* stickiness lost for one plan, nothing worse */
	}
	plan_choices(plan, c, n);
	for (size_t i = 0; i < n; i++) {
		names[i] = strdup(c[i].host);
		if (!names[i]) {
			for (size_t k = 0; k < i; k++)
				free(names[k]);
			free(c);
			free(names);
			return;
		}
		c[i].host = names[i];
	}
	for (size_t i = 0; i < p->n_prior; i++)
		free(p->prior_names[i]);
	free(p->prior_names);
	free(p->prior);
	p->prior = c;
	p->prior_names = names;
	p->n_prior = n;
}

static void replan(void *arg)
{
	struct planner *p = arg;
	struct carving c = { 0 };
	struct strata_topo_sink sink;
	struct plan_options opt = p->opt;
	struct route_list l = { 0 };
	struct plan *plan = NULL;
	int64_t t0 = loop_now();
	char err[512];
	uint32_t self = UINT32_MAX;
	bool viewed = false;
	int rc;

	loop_timer_cancel(p->timer);
	p->timer = NULL;
	if (!p->view)
		return;
	carving_sink(&c, &sink);
	rc = p->view(p->view_arg, &sink);
	if (rc == -EAGAIN)
		goto out; /* not read yet; topology_changed follows */
	if (rc) {
		fail(p, "the IPAM's view failed: %s", strerror(-rc));
		goto out;
	}
	viewed = !c.err;
	err[0] = '\0';
	rc = carving_plan_input(&c, err, sizeof(err));
	if (rc) {
		fail(p, "%s", rc == -ENOMEM ? "out of memory" : err);
		goto out;
	}
	opt.prior = p->prior;
	opt.n_prior = p->n_prior;
	rc = plan_build(&c.in, &opt, &plan, err, sizeof(err));
	if (rc) {
		/* keep what was stated: a plan that does not fit changes
		 * nothing rather than withdrawing working routes */
		fail(p, "%s", err);
		goto out;
	}
	for (uint32_t i = 0; i < c.in.n_hosts; i++) {
		if (!strcmp(c.in.hosts[i].name, p->node))
			self = i;
		for (size_t k = 0; k < p->n_unhealthy; k++)
			if (!strcmp(c.in.hosts[i].name, p->unhealthy[k]))
				c.plan_hosts[i].healthy = false;
	}
	if (self != UINT32_MAX) {
		plan_host_kernel_routes(plan, self, collect, &l);
		p->stats.kernel = l.n;
	} else {
		p->stats.kernel = 0;
	}
	if (p->have_intent) {
		for (size_t i = 0; i < p->n_intent_routes; i++)
			collect(&l, &p->intent_routes[i]);
	} else {
		plan_cloud_table(plan, collect, &l);
	}
	p->stats.cloud = l.n - p->stats.kernel;
	/* drained: announce nothing once no route leads here */
	if (self != UINT32_MAX && !(p->drained && !p->routed_here))
		plan_host_bgp_routes(plan, self, collect, &l);
	p->stats.bgp = l.n - p->stats.kernel - p->stats.cloud;
	p->stats.cloud_family[0] = p->stats.cloud_family[1] = 0;
	for (size_t i = p->stats.kernel; !l.err && i < l.n; i++)
		if (l.v[i].scope == STRATA_SCOPE_CLOUD)
			p->stats.cloud_family[l.v[i].dst.family ==
					      STRATA_AF_INET6]++;
	p->stats.cloud_budget[0] = plan_cloud_budget(plan, 0);
	p->stats.cloud_budget[1] = plan_cloud_budget(plan, 1);
	if (l.err) {
		fail(p, "out of memory stating %zu routes", l.n);
		goto out;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_route);
	state_diff(p, l.v, l.n);
	free(p->stated);
	p->stated = l.v;
	p->n_stated = l.n;
	l.v = NULL;
	keep_choices(p, plan);
	for (size_t i = 0; plan_problem(plan, i); i++)
		log_msg(LOG_WARNING, "planner", "%s", plan_problem(plan, i));
	if (!p->synced) {
		p->synced = true;
		route_synced(p->owner);
	}
	p->error[0] = '\0';
	p->stats.error = NULL;
	p->stats.plans++;
	p->stats.hosts = c.in.n_hosts;
	p->stats.groups = c.in.n_groups;
	p->stats.last_ns = loop_now() - t0;
	log_msg(LOG_DEBUG, "planner",
		"planned %zu hosts in %zu subnets: %zu kernel, %zu cloud, "
		"%zu bgp routes in %lld us", c.in.n_hosts, c.in.n_groups,
		p->stats.kernel, p->stats.cloud, p->stats.bgp,
		(long long)(p->stats.last_ns / 1000));
out:
	free(l.v);
	plan_free(plan);
	if (viewed) {
		carving_free(&p->last);
		p->last = c;
	} else {
		carving_free(&c);
	}
}

const struct carving *planner_carving(const struct planner *p)
{
	return p->last.n_nodes ? &p->last : NULL;
}

int planner_new(struct loop *loop, struct route_model *routes,
		const char *node, struct planner **out)
{
	struct planner *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->node = strdup(node);
	p->owner = route_owner_add(routes, "planner");
	if (!p->node || !p->owner) {
		if (p->owner)
			route_owner_remove(p->owner);
		free(p->node);
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

static void intent_clear(struct planner *p)
{
	for (size_t i = 0; i < p->n_unhealthy; i++)
		free(p->unhealthy[i]);
	free(p->unhealthy);
	free(p->intent_routes);
	p->unhealthy = NULL;
	p->intent_routes = NULL;
	p->n_unhealthy = p->n_intent_routes = 0;
	p->have_intent = p->routed_here = false;
}

int planner_set_intent(struct planner *p, const struct intent *in,
		       bool drained)
{
	int rc = 0;

	intent_clear(p);
	p->drained = drained;
	if (in) {
		p->intent_routes = calloc(in->n_routes ? in->n_routes : 1,
					  sizeof(*p->intent_routes));
		p->unhealthy = calloc(in->n_unhealthy ? in->n_unhealthy : 1,
				      sizeof(*p->unhealthy));
		if (!p->intent_routes || !p->unhealthy) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < in->n_routes; i++) {
			struct strata_route *r = &p->intent_routes[i];
			const struct intent_route *ir = &in->routes[i];

			*r = (struct strata_route){ .size = sizeof(*r),
						    .scope = STRATA_SCOPE_CLOUD,
						    .dst = ir->dst };
			for (uint32_t k = 0; k < ir->n_via &&
					     k < STRATA_MAX_NEXTHOPS; k++)
				r->nh[r->n_nexthops++].gw = ir->via[k];
			if (!strcmp(ir->host, p->node))
				p->routed_here = true;
		}
		p->n_intent_routes = in->n_routes;
		for (size_t i = 0; i < in->n_unhealthy; i++) {
			p->unhealthy[i] = strdup(in->unhealthy[i]);
			if (!p->unhealthy[i]) {
				rc = -ENOMEM;
				goto out;
			}
			p->n_unhealthy++;
		}
		p->have_intent = true;
	}
out:
	if (rc)
		intent_clear(p); /* the plan's own table until the next intent */
	/* a moved route is traffic lost until applied: no debounce */
	if (p->view) {
		if (p->timer)
			loop_timer_reset(p->timer, 0);
		else
			p->timer = loop_timer_add(p->loop, 0, 0, replan, p);
	}
	return rc;
}

void planner_free(struct planner *p)
{
	if (!p)
		return;
	intent_clear(p);
	loop_timer_cancel(p->timer);
	route_owner_remove(p->owner);
	for (size_t i = 0; i < p->n_prior; i++)
		free(p->prior_names[i]);
	free(p->prior_names);
	free(p->prior);
	free(p->stated);
	free(p->node);
	carving_free(&p->last);
	free(p);
}

void planner_set_options(struct planner *p, const struct plan_options *opt)
{
	p->opt = *opt;
	p->opt.prior = NULL;
	p->opt.n_prior = 0;
	if (p->view)
		planner_changed(p, p->view, p->view_arg);
}

void planner_changed(struct planner *p, planner_view_fn view, void *arg)
{
	p->view = view;
	p->view_arg = arg;
	if (!p->timer)
		p->timer = loop_timer_add(p->loop, PLANNER_DEBOUNCE_NS, 0,
					    replan, p);
}

void planner_stats(const struct planner *p, struct planner_stats *out)
{
	*out = p->stats;
	out->synced = p->synced;
}
