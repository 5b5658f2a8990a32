/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carving.h"
#include "cfg.h"
#include "daemon.h"
#include "healthview.h"
#include "log.h"
#include "metrics_core.h"
#include "metrics_http.h"
#include "planner.h"
#include "route.h"

/* The core's series at a scrape: one per carving node and forwarder, so
 * more than a plugin gets. */
#define SNAPSHOT_SERIES_MAX 65536

struct keybuf {
	char s[METRIC_KEY_MAX];
	size_t len;
	bool over;
};

static void kb_put(struct keybuf *k, const char *text, bool escape)
{
	for (; *text; text++) {
		const char *rep = NULL;
		char one[2] = { *text, '\0' };

		if (escape && *text == '\\')
			rep = "\\\\";
		else if (escape && *text == '"')
			rep = "\\\"";
		else if (escape && *text == '\n')
			rep = "\\n";
		for (const char *p = rep ? rep : one; *p; p++) {
			if (k->len + 1 >= sizeof(k->s)) {
				k->over = true;
				return;
			}
			k->s[k->len++] = *p;
		}
	}
	k->s[k->len] = '\0';
}

/* family{k1="v1"[,k2="v2"]}, the values escaped; NULL if too long. */
static const char *key_of(struct keybuf *k, const char *family,
			  const char *k1, const char *v1, const char *k2,
			  const char *v2)
{
	k->len = 0;
	k->over = false;
	k->s[0] = '\0';
	kb_put(k, family, false);
	if (k1) {
		kb_put(k, "{", false);
		kb_put(k, k1, false);
		kb_put(k, "=\"", false);
		kb_put(k, v1, true);
		kb_put(k, "\"", false);
		if (k2) {
			kb_put(k, ",", false);
			kb_put(k, k2, false);
			kb_put(k, "=\"", false);
			kb_put(k, v2, true);
			kb_put(k, "\"", false);
		}
		kb_put(k, "}", false);
	}
	return k->over ? NULL : k->s;
}

/* ---- counted as they happen --------------------------------------------- */

static void on_reconcile(void *arg, const char *adv, int64_t ns, int rc)
{
	struct daemon *d = arg;
	struct keybuf k;
	const char *key;

	key = key_of(&k, "reconcile_duration_seconds", "plugin", adv, NULL,
		     NULL);
	if (key)
		metric_observe(&d->metrics, key, ns);
	/* present from the first reconcile, so rate() sees the first error */
	key = key_of(&k, "reconcile_errors_total", "plugin", adv, NULL, NULL);
	if (key)
		metric_add(&d->metrics, key, rc < 0);
}

/* Forget the reconcile series of advertisers no longer configured. */
static void prune(struct daemon *d)
{
	struct keybuf k;
	size_t i = 0;

	while (i < d->metrics.n) {
		const struct metric_series *m = &d->metrics.v[i];
		bool keep = false;

		for (struct strata_instance *in = d->instances; in && !keep;
		     in = in->next) {
			const char *key;

			if (!in->adv)
				continue;
			key = key_of(&k, m->type == METRIC_HISTOGRAM ?
					 "reconcile_duration_seconds" :
					 "reconcile_errors_total",
				     "plugin", in->name, NULL, NULL);
			keep = key && !strcmp(key, m->key);
		}
		if (keep)
			i++;
		else
			metric_delete(&d->metrics, m->key);
	}
}

/* ---- read at each scrape ------------------------------------------------ */

static void gauge(struct metric_set *s, const char *key, int64_t v)
{
	if (key)
		metric_gauge(s, key, v);
}

static void counter(struct metric_set *s, const char *key, int64_t v)
{
	if (key)
		metric_add(s, key, v);
}

static void snap_probe(void *arg, const struct health_info *info)
{
	struct metric_set *s = arg;
	struct keybuf k;

	gauge(s, key_of(&k, "forwarder_up", "target", info->name, NULL, NULL),
	      info->state == HEALTH_UP);
	counter(s, key_of(&k, "forwarder_checks_total", "target", info->name,
			  NULL, NULL), (int64_t)info->probes);
	counter(s, key_of(&k, "forwarder_check_failures_total", "target",
			  info->name, NULL, NULL), (int64_t)info->failed);
}

static bool prefix_in(const struct strata_prefix *in,
		      const struct strata_prefix *outer)
{
	unsigned bits = outer->len, full = bits / 8, rest = bits % 8;

	if (in->family != outer->family || in->len < outer->len)
		return false;
	if (memcmp(in->addr, outer->addr, full))
		return false;
	return !rest || ((in->addr[full] ^ outer->addr[full]) &
			 (0xff00u >> rest) & 0xff) == 0;
}

static void snap_carving(struct metric_set *s, const struct carving *c)
{
	char pool[64];
	struct keybuf k;

	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct carving_node *n = &c->nodes[i];

		gauge(s, key_of(&k, "ipam_blocks_total", "level", n->level,
				"node", n->path), (int64_t)n->blocks_total);
		gauge(s, key_of(&k, "ipam_blocks_used", "level", n->level,
				"node", n->path), (int64_t)n->blocks_used);
		gauge(s, key_of(&k, "ipam_blocks_reserved", "level", n->level,
				"node", n->path), (int64_t)n->blocks_reserved);
		gauge(s, key_of(&k, "ipam_addresses_used", "level", n->level,
				"node", n->path), (int64_t)n->addrs_used);
		if (n->depth)
			continue;
		/* the cluster's prefixes are the pools */
		for (uint32_t p = 0; p < n->n_prefixes; p++) {
			const struct strata_prefix *pp = &n->prefixes[p];
			unsigned bits = pp->family == STRATA_AF_INET6 ? 128 : 32;
			const char *key;
			int64_t used = 0;

			route_prefix_format(pp, pool, sizeof(pool));
			for (size_t h = 0; h < c->n_hosts; h++)
				for (uint32_t b = 0; b < c->hosts[h].n_blocks;
				     b++)
					used += prefix_in(&c->hosts[h].blocks[b],
							  pp);
			gauge(s, key_of(&k, "ipam_pool_blocks_used", "pool",
					pool, NULL, NULL), used);
			key = key_of(&k, "ipam_pool_addresses", "pool", pool,
				     NULL, NULL);
			if (key)
				metric_gauge_double(s, key,
						    ldexp(1.0, (int)(bits -
								     pp->len)));
		}
	}
}

static void snap_planner(struct metric_set *s, const struct planner *p)
{
	static const char *const fam[2] = { "ipv4", "ipv6" };
	struct planner_stats st;
	const struct carving *c;
	struct keybuf k;

	planner_stats(p, &st);
	counter(s, "plans_total", st.plans);
	counter(s, "plan_failures_total", st.failures);
	gauge(s, key_of(&k, "routes_planned", "scope", "kernel", NULL, NULL),
	      (int64_t)st.kernel);
	gauge(s, key_of(&k, "routes_planned", "scope", "cloud", NULL, NULL),
	      (int64_t)st.cloud);
	gauge(s, key_of(&k, "routes_planned", "scope", "bgp", NULL, NULL),
	      (int64_t)st.bgp);
	for (int f = 0; f < 2 && st.plans; f++) {
		gauge(s, key_of(&k, "cloud_routes", "family", fam[f], NULL,
				NULL), (int64_t)st.cloud_family[f]);
		gauge(s, key_of(&k, "cloud_route_budget", "family", fam[f],
				NULL, NULL), st.cloud_budget[f]);
	}
	c = planner_carving(p);
	if (c)
		snap_carving(s, c);
}

static void snapshot(struct daemon *d, struct metric_set *s)
{
	struct keybuf k;

	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (i->adv)
			gauge(s, key_of(&k, "routes_desired", "plugin", i->name,
					NULL, NULL),
			      (int64_t)route_count(d->routes,
						   route_adv_scopes(i->adv)));
	if (d->planner)
		snap_planner(s, d->planner);
	if (d->hv)
		healthview_probes(d->hv, snap_probe, s);
}

int metrics_core_render(struct daemon *d, struct metric_buf *out)
{
	struct metric_set snap = { .core = true, .max = SNAPSHOT_SERIES_MAX };
	struct metric_source *src;
	size_t n = 2;
	int rc;

	prune(d);
	for (struct strata_instance *i = d->instances; i; i = i->next)
		n++;
	src = calloc(n, sizeof(*src));
	if (!src)
		return -ENOMEM;
	snapshot(d, &snap);
	src[0] = (struct metric_source){ &d->metrics, NULL };
	src[1] = (struct metric_source){ &snap, NULL };
	n = 2;
	for (struct strata_instance *i = d->instances; i; i = i->next)
		src[n++] = (struct metric_source){ &i->metrics, i->name };
	rc = metrics_render(src, n, out);
	free(src);
	metric_set_clear(&snap);
	return rc;
}

/* ---- the endpoint ------------------------------------------------------- */

static int render_cb(void *arg, struct metric_buf *out)
{
	return metrics_core_render(arg, out);
}

void metrics_core_sync(struct daemon *d)
{
	const struct cfg *cfg = d->cfg;
	int rc;

	d->metrics.core = true;
	route_model_set_observer(d->routes, on_reconcile, d);
	if (d->metrics_http && cfg->metrics_port == d->metrics_port &&
	    !strcmp(cfg->metrics_listen, d->metrics_listen))
		return;
	if (d->metrics_http)
		log_info("metrics: no longer listening on %s port %u",
			 d->metrics_listen, d->metrics_port);
	mhttp_free(d->metrics_http);
	d->metrics_http = NULL;
	free(d->metrics_listen);
	d->metrics_listen = NULL;
	d->metrics_port = 0;
	if (!cfg->metrics_port)
		return;
	d->metrics_listen = strdup(cfg->metrics_listen);
	if (!d->metrics_listen) {
		log_err("metrics: out of memory");
		return;
	}
	rc = mhttp_new(d->loop, cfg->metrics_listen,
		       (uint16_t)cfg->metrics_port, render_cb, d,
		       &d->metrics_http);
	if (rc < 0) {
		log_err("metrics: cannot listen on %s port %u: %s",
			cfg->metrics_listen, cfg->metrics_port, strerror(-rc));
		return;
	}
	d->metrics_port = cfg->metrics_port;
	log_info("metrics: serving /metrics on %s port %u",
		 cfg->metrics_listen, cfg->metrics_port);
}

void metrics_core_free(struct daemon *d)
{
	if (d->routes)
		route_model_set_observer(d->routes, NULL, NULL);
	mhttp_free(d->metrics_http);
	d->metrics_http = NULL;
	free(d->metrics_listen);
	d->metrics_listen = NULL;
	metric_set_clear(&d->metrics);
}
