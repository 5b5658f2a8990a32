/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forwarding.h"

struct host_view {
	enum intent_state state; /* decided */
	int64_t since_ms;
	bool drained;
	bool healthy; /* may be chosen */
	bool target;
	uint32_t load; /* targets it observes */
};

struct decide {
	const struct fwd_input *fi;
	const struct fwd_options *opt;
	const struct plan_input *in;
	struct host_view *hv;
	struct plan_host *hosts; /* a copy with healthy flags set */
	struct intent *out;
	char *err;
	size_t errlen;
};

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static bool listed(const char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

static const struct intent_target *prior_target(const struct intent *prior,
						const char *host)
{
	for (size_t i = 0; prior && i < prior->n_targets; i++)
		if (!strcmp(prior->targets[i].host, host))
			return &prior->targets[i];
	return NULL;
}

static const struct obs_entry *report_of(const struct fwd_input *fi,
					 const char *observer,
					 const char *target)
{
	for (size_t i = 0; i < fi->n_reports; i++) {
		const struct obs_report *r = &fi->reports[i];

		if (strcmp(r->observer, observer))
			continue;
		for (size_t j = 0; j < r->n_entries; j++)
			if (!strcmp(r->entries[j].target, target))
				return &r->entries[j];
	}
	return NULL;
}

/* What a target's assigned observers say now, against what was decided. */
static void judge(struct decide *d, size_t h)
{
	const struct fwd_input *fi = d->fi;
	const struct intent_target *t =
		prior_target(fi->prior, d->in->hosts[h].name);
	struct host_view *v = &d->hv[h];
	uint32_t up = 0, down = 0, need;

	v->state = t ? t->state : INTENT_UNKNOWN;
	v->since_ms = t ? t->since_ms : 0;
	if (!t || !t->n_observers)
		return;
	for (size_t i = 0; i < t->n_observers; i++) {
		const struct obs_entry *e =
			report_of(fi, t->observers[i], t->host);

		if (e && e->state == INTENT_UP)
			up++;
		else if (e && e->state == INTENT_DOWN)
			down++;
	}
	need = d->opt->quorum;
	if (need > t->n_observers)
		need = (uint32_t)t->n_observers;
	if (down >= need && down > up && v->state != INTENT_DOWN) {
		v->state = INTENT_DOWN;
		v->since_ms = fi->now_ms;
	} else if (up >= need && up > down && v->state != INTENT_UP) {
		v->state = INTENT_UP;
		v->since_ms = fi->now_ms;
	}
}

static int add_alarm(struct intent *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_alarm(struct intent *out, const char *fmt, ...)
{
	char buf[256], **v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v = realloc(out->alarms, (out->n_alarms + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	out->alarms = v;
	v[out->n_alarms] = strdup(buf);
	if (!v[out->n_alarms])
		return -ENOMEM;
	out->n_alarms++;
	return 0;
}

static bool prior_forwarder(const struct intent *prior, const char *host)
{
	for (size_t i = 0; prior && i < prior->n_routes; i++)
		if (!strcmp(prior->routes[i].host, host))
			return true;
	return false;
}

/*
 * A subnet with no host that may forward keeps its routes on the hosts
 * that carried them, and says so: black-holing every pod of the subnet
 * helps no one.
 */
static int keep_lost_groups(struct decide *d)
{
	const struct plan_input *in = d->in;

	for (uint32_t g = 0; g < in->n_groups; g++) {
		char kept[200] = "";
		size_t hosts = 0, healthy = 0, len = 0;
		int r;

		for (size_t h = 0; h < in->n_hosts; h++) {
			if (in->hosts[h].group != g)
				continue;
			hosts++;
			healthy += d->hosts[h].healthy;
		}
		if (!hosts || healthy)
			continue;
		for (size_t h = 0; h < in->n_hosts; h++) {
			if (in->hosts[h].group != g ||
			    !prior_forwarder(d->fi->prior, in->hosts[h].name))
				continue;
			d->hosts[h].healthy = true;
			if (len < sizeof(kept))
				len += (size_t)snprintf(kept + len,
					sizeof(kept) - len, "%s%s",
					len ? ", " : "", in->hosts[h].name);
		}
		if (len)
			r = add_alarm(d->out,
				      "%s: no healthy host to forward; its routes stay on %s",
				      in->groups[g].path, kept);
		else
			r = add_alarm(d->out,
				      "%s: no healthy host to forward; it has no route",
				      in->groups[g].path);
		if (r)
			return r;
	}
	return 0;
}

static int add_name(char ***v, size_t *n, const char *name)
{
	char **x = realloc(*v, (*n + 1) * sizeof(*x));

	if (!x)
		return -ENOMEM;
	*v = x;
	x[*n] = strdup(name);
	if (!x[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int build(struct decide *d, const struct plan_choice *prior,
		 size_t n_prior, struct plan **out)
{
	struct plan_input in = *d->in;
	struct plan_options po = *d->fi->plan;

	in.hosts = d->hosts;
	po.prior = prior;
	po.n_prior = n_prior;
	return plan_build(&in, &po, out, d->err, d->errlen);
}

static bool same_dst(const struct strata_prefix *a,
		     const struct strata_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static const struct plan_cloud_route *route_for(const struct plan *p,
						const struct strata_prefix *dst)
{
	size_t n;
	const struct plan_cloud_route *r = plan_cloud_routes(p, &n);

	for (size_t i = 0; i < n; i++)
		if (same_dst(&r[i].dst, dst))
			return &r[i];
	return NULL;
}

/* The prior intent's choices, less those fail-back takes home. */
static int prior_choices(struct decide *d, struct plan_choice **out,
			 size_t *n_out, int64_t *next_ms)
{
	const struct intent *prior = d->fi->prior;
	struct plan *home = NULL;
	struct plan_choice *c;
	size_t n = 0;
	int r;

	*out = NULL;
	*n_out = 0;
	if (!prior || !prior->n_routes)
		return 0;
	c = calloc(prior->n_routes, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (d->opt->failback_return) {
		r = build(d, NULL, 0, &home);
		if (r) {
			free(c);
			return r;
		}
	}
	for (size_t i = 0; i < prior->n_routes; i++) {
		const struct intent_route *ir = &prior->routes[i];
		const struct plan_cloud_route *hr =
			home ? route_for(home, &ir->dst) : NULL;

		if (hr && strcmp(d->in->hosts[hr->host].name, ir->host)) {
			const struct host_view *v = &d->hv[hr->host];
			int64_t due = v->since_ms + d->opt->hold_down_ms;

			d->hv[hr->host].target = true; /* watch its recovery */
			if (v->state == INTENT_UP && due <= d->fi->now_ms)
				continue; /* back home */
			if (v->state == INTENT_UP &&
			    (!*next_ms || due < *next_ms))
				*next_ms = due;
		}
		c[n].dst = ir->dst;
		c[n].host = ir->host;
		n++;
	}
	plan_free(home);
	*out = c;
	*n_out = n;
	return 0;
}

/* Ranks observers for target t: its subnet's hosts first, by hash. */
struct rank {
	size_t host;
	bool same_group;
	uint64_t w;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->same_group != y->same_group)
		return x->same_group ? -1 : 1;
	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	return x->host < y->host ? -1 : x->host > y->host;
}

static int assign_observers(struct decide *d, struct intent_target *t,
			    size_t th, struct rank *rk, uint32_t cap)
{
	const struct plan_input *in = d->in;
	uint32_t k = d->opt->observers;
	uint64_t base = hash_str(0xcbf29ce484222325ULL, t->host);
	size_t n = 0;

	for (size_t h = 0; h < in->n_hosts; h++) {
		if (h == th)
			continue;
		rk[n].host = h;
		rk[n].same_group = in->hosts[h].group == in->hosts[th].group;
		rk[n].w = mix(base ^ hash_str(0x84222325cbf29ce4ULL,
					      in->hosts[h].name));
		n++;
	}
	qsort(rk, n, sizeof(*rk), rank_cmp);
	t->observers = calloc(k, sizeof(*t->observers));
	if (!t->observers)
		return -ENOMEM;
	/* healthy and under the cap first; then anyone, so k are found */
	for (int pass = 0; pass < 3 && t->n_observers < k; pass++) {
		for (size_t i = 0; i < n && t->n_observers < k; i++) {
			struct host_view *v = &d->hv[rk[i].host];
			bool taken = false;

			for (size_t j = 0; j < t->n_observers; j++)
				if (!strcmp(t->observers[j],
					    in->hosts[rk[i].host].name))
					taken = true;
			if (taken)
				continue;
			if (pass < 2 && v->state == INTENT_DOWN)
				continue;
			if (pass < 1 && v->load >= cap)
				continue;
			t->observers[t->n_observers] =
				strdup(in->hosts[rk[i].host].name);
			if (!t->observers[t->n_observers])
				return -ENOMEM;
			t->n_observers++;
			v->load++;
		}
	}
	return 0;
}

static int fill_addrs(const struct plan_host *h, int family,
		      struct strata_addr *out, uint32_t *n)
{
	*n = 0;
	for (uint32_t i = 0; i < h->n_addrs && *n < INTENT_MAX_ADDRS; i++)
		if (!family || h->addrs[i].family == family)
			out[(*n)++] = h->addrs[i];
	return *n ? 0 : -EINVAL;
}

static int emit(struct decide *d, const struct plan *p)
{
	const struct plan_input *in = d->in;
	struct intent *out = d->out;
	const struct plan_cloud_route *cr;
	size_t n, targets = 0;
	struct rank *rk;
	uint32_t cap;
	int r;

	cr = plan_cloud_routes(p, &n);
	out->routes = calloc(n ? n : 1, sizeof(*out->routes));
	if (!out->routes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct intent_route *ir = &out->routes[out->n_routes];
		const struct plan_host *h = &in->hosts[cr[i].host];

		ir->dst = cr[i].dst;
		if (fill_addrs(h, cr[i].dst.family, ir->via, &ir->n_via))
			continue;
		ir->host = strdup(h->name);
		if (!ir->host)
			return -ENOMEM;
		out->n_routes++;
		if (plan_cloud_mode(p, cr[i].dst.family == STRATA_AF_INET ? PLAN_V4 :
						PLAN_V6) != PLAN_CLOUD_PER_GROUP)
			continue;
		d->hv[cr[i].host].target = true;
		if (cr[i].standby != PLAN_NO_HOST)
			d->hv[cr[i].standby].target = true;
	}
	for (size_t h = 0; h < in->n_hosts; h++) {
		if (d->hv[h].state == INTENT_DOWN && !d->hv[h].drained)
			d->hv[h].target = true;
		targets += d->hv[h].target;
	}
	if (!targets)
		return 0;
	cap = in->n_hosts > 1 ?
		      (uint32_t)((targets * d->opt->observers +
				  in->n_hosts - 2) / (in->n_hosts - 1)) + 1 :
		      1;
	out->targets = calloc(targets, sizeof(*out->targets));
	rk = calloc(in->n_hosts, sizeof(*rk));
	if (!out->targets || !rk) {
		free(rk);
		return -ENOMEM;
	}
	r = 0;
	for (size_t h = 0; h < in->n_hosts && !r; h++) {
		struct intent_target *t = &out->targets[out->n_targets];
		const struct plan_host *ph = &in->hosts[h];

		if (!d->hv[h].target)
			continue;
		if (fill_addrs(ph, 0, t->addrs, &t->n_addrs))
			continue;
		out->n_targets++;
		t->host = strdup(ph->name);
		t->group = strdup(in->groups[ph->group].path ?
					  in->groups[ph->group].path : "");
		if (!t->host || !t->group) {
			r = -ENOMEM;
			break;
		}
		t->state = d->hv[h].state;
		t->since_ms = d->hv[h].since_ms;
		r = assign_observers(d, t, h, rk, cap);
	}
	free(rk);
	return r;
}

int fwd_decide(const struct fwd_input *fi, const struct fwd_options *o,
	       struct intent *out, int64_t *next_ms, char *err,
	       size_t errlen)
{
	struct fwd_options opt = *o;
	const struct plan_input *in = fi->in;
	struct decide d = { .fi = fi, .opt = &opt, .in = in, .out = out,
			    .err = err, .errlen = errlen };
	struct plan_choice *prior = NULL;
	struct plan *p = NULL;
	size_t n_prior = 0;
	int r = -ENOMEM;

	if (!opt.observers)
		opt.observers = FWD_DEFAULT_OBSERVERS;
	if (opt.observers > FWD_MAX_OBSERVERS)
		opt.observers = FWD_MAX_OBSERVERS;
	if (!opt.quorum)
		opt.quorum = FWD_DEFAULT_QUORUM;
	*next_ms = 0;
	err[0] = '\0';
	d.hv = calloc(in->n_hosts ? in->n_hosts : 1, sizeof(*d.hv));
	d.hosts = calloc(in->n_hosts ? in->n_hosts : 1, sizeof(*d.hosts));
	if (!d.hv || !d.hosts)
		goto free_hosts;
	memcpy(d.hosts, in->hosts, in->n_hosts * sizeof(*d.hosts));
	out->term = fi->term;
	out->writer = strdup(fi->writer);
	if (!out->writer)
		goto free_hosts;
	for (size_t h = 0; h < in->n_hosts; h++) {
		judge(&d, h);
		d.hv[h].drained = listed(fi->drained, fi->n_drained,
					 in->hosts[h].name);
		d.hosts[h].healthy = d.hv[h].state != INTENT_DOWN &&
				     !d.hv[h].drained;
		if (!d.hosts[h].healthy &&
		    add_name(&out->unhealthy, &out->n_unhealthy,
			     in->hosts[h].name))
			goto free_hosts;
	}
	r = keep_lost_groups(&d);
	if (r)
		goto free_hosts;
	r = prior_choices(&d, &prior, &n_prior, next_ms);
	if (r)
		goto free_hosts;
	r = build(&d, prior, n_prior, &p);
	if (r)
		goto free_prior;
	r = emit(&d, p);
	plan_free(p);
free_prior:
	free(prior);
free_hosts:
	if (r && !err[0])
		snprintf(err, errlen, "%s", strerror(-r));
	free(d.hosts);
	free(d.hv);
	if (r)
		intent_free(out);
	return r;
}
