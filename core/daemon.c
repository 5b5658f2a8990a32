/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratad: plugin instances and their lifecycle, reload, shutdown, and the
 * control commands that show what the daemon is doing.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <yajl/yajl_gen.h>

#include "cfg.h"
#include "control.h"
#include "daemon.h"
#include "facts.h"
#include "host.h"
#include "http.h"
#include "kube_nodes.h"
#include "host_policy.h"
#include "log.h"
#include "loop.h"
#include "metrics_core.h"
#include "nl.h"
#include "planner.h"
#include "healthview.h"
#include "health_commands.h"
#include "writer.h"
#include "plug.h"
#include "route.h"
#include "store.h"

#define STOP_GRACE_NS (10 * 1000000000LL)

/* ---- systemd: readiness and status ------------------------------------- */

/* One datagram per change, no answer awaited; nothing without
 * NOTIFY_SOCKET. */
static void notify(const struct daemon *d, const char *state,
		   const char *status)
{
	sd_notifyf(0, "%s\nSTATUS=%s: node %s, %zu plugin instance%s", state,
		   status, d->cfg->node_name, d->cfg->n_plugins,
		   d->cfg->n_plugins == 1 ? "" : "s");
}

/* ---- plugins ------------------------------------------------------------- */

static const char *kind_name(const struct plug *p)
{
	return plug_kind_name(p->desc->kind);
}

static struct plug *plug_by_path(struct daemon *d, const char *path)
{
	for (size_t i = 0; i < d->n_plugs; i++)
		if (!strcmp(d->plugs[i]->info->path, path))
			return d->plugs[i];
	return NULL;
}

/* Check (in the child) and load a plugin file once; later instances of the
 * same file share it. */
static int plugin_get(struct daemon *d, const struct cfg *cfg,
		      const struct cfg_plugin *cp, struct plug **out, char *err,
		      size_t errlen)
{
	struct plug_info *info = NULL, **infos;
	struct plug *p = plug_by_path(d, cp->path), **plugs;
	int rc;

	if (!p) {
		rc = plug_check(cp->path, &info, err, errlen);
		if (rc)
			return rc;
		infos = calloc(d->n_plugs + 1, sizeof(*infos));
		if (!infos) {
			plug_info_free(info);
			return -ENOMEM;
		}
		for (size_t i = 0; i < d->n_plugs; i++)
			infos[i] = d->plugs[i]->info;
		infos[d->n_plugs] = info;
		rc = plug_check_unique(infos, d->n_plugs + 1, err, errlen);
		free(infos);
		if (!rc)
			rc = plug_load(info, &p, err, errlen);
		plug_info_free(info);
		if (rc)
			return rc;
		plugs = realloc(d->plugs, (d->n_plugs + 1) * sizeof(*plugs));
		if (!plugs) {
			plug_free(p);
			return -ENOMEM;
		}
		d->plugs = plugs;
		d->plugs[d->n_plugs++] = p;
	}
	rc = cfg_check_plugin(cfg, cp, p->desc->config, err, errlen);
	if (rc)
		return rc;
	*out = p;
	return 0;
}

/* ---- instances ----------------------------------------------------------- */

struct strata_instance *daemon_instance_by_id(struct daemon *d, uint64_t id)
{
	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (i->id == id)
			return i;
	return NULL;
}

static struct strata_instance *inst_by_name(struct daemon *d, const char *name)
{
	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (!strcmp(i->name, name))
			return i;
	return NULL;
}

static void inst_link(struct daemon *d, struct strata_instance *inst)
{
	struct strata_instance **pp = &d->instances;

	while (*pp)
		pp = &(*pp)->next;
	*pp = inst;
}

static void inst_unlink(struct daemon *d, struct strata_instance *inst)
{
	for (struct strata_instance **pp = &d->instances; *pp;
	     pp = &(*pp)->next) {
		if (*pp == inst) {
			*pp = inst->next;
			break;
		}
	}
	inst->next = NULL;
}

static void inst_free(struct strata_instance *inst)
{
	metric_set_clear(&inst->metrics);
	free(inst->name);
	free(inst);
}

/*
 * Create an instance. `adopt` is the route owner of a previous incarnation
 * of the same instance: its routes stay until the new one has re-stated
 * them.
 */
static int inst_create(struct daemon *d, const struct cfg_plugin *cp,
		       struct plug *p, struct route_owner *adopt,
		       struct strata_instance **out)
{
	struct strata_instance *inst = calloc(1, sizeof(*inst));
	int rc;

	if (!inst)
		return -ENOMEM;
	inst->d = d;
	inst->id = ++d->next_id;
	inst->name = strdup(cp->instance);
	if (!inst->name) {
		free(inst);
		return -ENOMEM;
	}
	snprintf(inst->prefix, sizeof(inst->prefix), "%s[%s]", p->desc->name,
		 cp->instance);
	inst->plug = p;
	inst->cfg = cp;
	inst->owner = adopt;
	inst->state = INST_CREATED;
	inst_link(d, inst);

	rc = p->desc->ops->create(&host_table, inst, &inst->self);
	if (rc) {
		if (rc > 0)
			rc = -EINVAL;
		log_msg(LOG_ERR, inst->prefix, "create failed: %s",
			strerror(-rc));
		host_release_all(inst);
		if (inst->owner)
			route_owner_remove(inst->owner);
		inst_unlink(d, inst);
		inst_free(inst);
		return rc;
	}
	if (inst->owner && !inst->owner_claimed) {
		/* the new incarnation states no routes: the old ones go */
		route_owner_remove(inst->owner);
		inst->owner = NULL;
	}
	*out = inst;
	return 0;
}

static int adv_reconcile(void *arg, const struct strata_route *const *desired,
			 size_t n, uint32_t flags)
{
	struct strata_instance *inst = arg;
	const struct strata_advertiser_ops *ops = inst->plug->desc->kind_ops;

	if (inst->state != INST_RUNNING)
		return 0;
	return ops->reconcile(inst->self, desired, n, flags);
}

static const char *const *needs_facts(const struct strata_instance *inst)
{
	const struct strata_ipam_ops *ops;

	if (inst->plug->desc->kind != STRATA_KIND_IPAM)
		return NULL;
	ops = inst->plug->desc->kind_ops;
	if (ops->wanted_facts && inst->self)
		return ops->wanted_facts(inst->self);
	return ops->needs_facts;
}

static void health_sync(struct daemon *d);

static int inst_start(struct strata_instance *inst)
{
	const struct strata_plugin *desc = inst->plug->desc;
	const char *missing = NULL;
	const char *const *needs = needs_facts(inst);
	int rc;

	if (needs && !facts_have(inst->d->facts, needs, &missing)) {
		if (inst->state != INST_WAITING)
			log_msg(LOG_INFO, inst->prefix,
				"waiting for node fact \"%s\" before starting",
				missing);
		inst->state = INST_WAITING;
		return 0;
	}
	inst->state = INST_RUNNING;
	rc = desc->ops->start(inst->self);
	if (rc) {
		if (rc > 0)
			rc = -EINVAL;
		inst->state = INST_FAILED;
		inst->last_error = rc;
		log_msg(LOG_ERR, inst->prefix, "start failed: %s",
			strerror(-rc));
		return rc;
	}
	if (desc->kind == STRATA_KIND_ADVERTISER && !inst->adv) {
		const struct strata_advertiser_ops *ops = desc->kind_ops;

		inst->adv = route_adv_add(inst->d->routes, inst->name,
					  ops->scopes(inst->self),
					  adv_reconcile, inst);
		if (!inst->adv) {
			inst->state = INST_FAILED;
			return -ENOMEM;
		}
	}
	log_msg(LOG_INFO, inst->prefix, "started (%s %s)", desc->name,
		desc->version);
	if (desc->kind == STRATA_KIND_HEALTHCHECK)
		health_sync(inst->d);
	if (desc->kind == STRATA_KIND_POLICY)
		host_policy_started(inst);
	return 0;
}

/* Ask the instance to stop; true when it has (not pending). */
static bool inst_stop(struct strata_instance *inst)
{
	const struct strata_plugin_ops *ops = inst->plug->desc->ops;
	int rc = 0;

	if (inst->state == INST_RUNNING && ops->stop)
		rc = ops->stop(inst->self);
	if (rc == STRATA_PENDING) {
		inst->state = INST_STOPPING;
		return false;
	}
	if (rc < 0)
		log_msg(LOG_WARNING, inst->prefix, "stop: %s", strerror(-rc));
	inst->state = INST_STOPPED;
	return true;
}

/* Destroy and unlink. keep_owner: leave its routes for a successor. */
static void inst_destroy(struct strata_instance *inst, bool keep_owner)
{
	struct daemon *d = inst->d;

	if (d->checker == inst) {
		/* its probes go before it does */
		d->checker = NULL;
		inst->state = INST_STOPPED;
		health_sync(d);
	}

	if (inst->adv) {
		route_adv_remove(inst->adv);
		inst->adv = NULL;
	}
	inst->plug->desc->ops->destroy(inst->self);
	host_release_all(inst);
	if (inst->owner && !keep_owner)
		route_owner_remove(inst->owner);
	inst_unlink(d, inst);
	inst_free(inst);
}

static void gs(yajl_gen g, const char *s);

/* ---- node registration ---------------------------------------------------
 *
 * The node is written to the store as strata/hosts/NAME, on a lease kept
 * alive while stratad runs, once the store is ready and every fact the
 * node's IPAM needs is known. A lapsed lease says "not heard from", never
 * "gone": nothing is taken back because of it.
 */
#define REG_TTL_MS 30000
#define REG_RENEW_NS (10 * 1000000000LL)
#define REG_RETRY_NS (2 * 1000000000LL)

static void reg_schedule(struct daemon *d, int64_t delay_ns);

static bool facts_ready(struct daemon *d, const char **missing)
{
	/* labels may bring facts: the first Node list decides */
	if (!kube_nodes_synced(d->kube)) {
		*missing = "zone/subnet (the first Kubernetes Node list)";
		return false;
	}
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		const char *const *needs;

		if (i->plug->desc->kind != STRATA_KIND_IPAM)
			continue;
		needs = needs_facts(i);
		if (needs && !facts_have(d->facts, needs, missing))
			return false;
	}
	return true;
}

static void gen_fact_kv(void *arg, const char *name, const char *value,
			const char *source)
{
	yajl_gen g = arg;

	(void)source;
	yajl_gen_string(g, (const unsigned char *)name, strlen(name));
	yajl_gen_string(g, (const unsigned char *)value, strlen(value));
}

static void reg_written(void *arg, int err, int64_t rev, int64_t n)
{
	struct daemon *d = arg;

	(void)n;
	d->reg_busy = false;
	if (err) {
		log_warn("store: registering node %s: %s; retrying",
			 d->cfg->node_name, strerror(-err));
		reg_schedule(d, REG_RETRY_NS);
		return;
	}
	if (!d->registered)
		log_info("node %s registered in the store (revision %lld)",
			 d->cfg->node_name, (long long)rev);
	d->registered = true;
	d->reg_dirty = false;
	reg_schedule(d, REG_RENEW_NS);
}

static void reg_put(struct daemon *d)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	char key[320];
	int rc = -ENOMEM;

	if (g) {
		yajl_gen_map_open(g);
		gs(g, "name");
		gs(g, d->cfg->node_name);
		gs(g, "version");
		gs(g, PACKAGE_VERSION);
		gs(g, "facts");
		yajl_gen_map_open(g);
		facts_each(d->facts, gen_fact_kv, g);
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);
		yajl_gen_get_buf(g, &buf, &len);
		snprintf(key, sizeof(key), "strata/hosts/%s", d->cfg->node_name);
		rc = store_put(d->store, key, buf, len, d->reg_lease,
			       reg_written, d);
		yajl_gen_free(g);
	}
	if (rc)
		reg_written(d, rc, 0, 0);
	else
		d->reg_busy = true;
}

static void reg_granted(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct daemon *d = arg;

	(void)ttl_ms;
	d->reg_busy = false;
	if (err) {
		log_warn("store: lease for node %s: %s; retrying",
			 d->cfg->node_name, strerror(-err));
		reg_schedule(d, REG_RETRY_NS);
		return;
	}
	d->reg_lease = id;
	reg_put(d);
}

static void reg_renewed(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct daemon *d = arg;

	(void)id;
	(void)ttl_ms;
	d->reg_busy = false;
	if (err == -ENOENT) {
		/* the lease lapsed (a long stall): register anew */
		log_warn("store: the lease of node %s lapsed; registering again",
			 d->cfg->node_name);
		d->reg_lease = 0;
		d->registered = false;
	} else if (err) {
		log_warn("store: renewing node %s: %s", d->cfg->node_name,
			 strerror(-err));
	}
	reg_schedule(d, err && err != -ENOENT ? REG_RETRY_NS : 0);
}

/* One step of registration: grant, put, renew, or put again after the
 * facts changed. Only one store call is in flight at a time. */
static void reg_step(void *arg)
{
	struct daemon *d = arg;
	const char *missing = NULL;
	int rc;

	loop_timer_cancel(d->reg_timer);
	d->reg_timer = NULL;
	if (d->reg_busy || d->stopping || !d->store_ready)
		return;
	if (!facts_ready(d, &missing)) {
		if (!d->reg_waiting_logged)
			log_info("node %s waits for fact \"%s\" before registering",
				 d->cfg->node_name, missing);
		d->reg_waiting_logged = true;
		return;
	}
	if (!d->reg_lease) {
		rc = store_lease_grant(d->store, REG_TTL_MS, 0, reg_granted, d);
		if (rc)
			reg_granted(d, rc, 0, 0);
		else
			d->reg_busy = true;
		return;
	}
	if (!d->registered || d->reg_dirty) {
		reg_put(d);
		return;
	}
	rc = store_lease_keepalive(d->store, d->reg_lease, reg_renewed, d);
	if (rc)
		reg_renewed(d, rc, 0, 0);
	else
		d->reg_busy = true;
}

static void reg_schedule(struct daemon *d, int64_t delay_ns)
{
	if (d->stopping)
		return;
	if (d->reg_timer)
		loop_timer_reset(d->reg_timer, delay_ns);
	else
		d->reg_timer = loop_timer_add(d->loop, delay_ns, 0, reg_step, d);
}

static void start_waiting(void *arg)
{
	struct daemon *d = arg;

	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (i->state == INST_WAITING)
			inst_start(i);
	/* facts changed: the registration says so too */
	d->reg_dirty = true;
	reg_schedule(d, 0);
}

void daemon_facts_changed(struct daemon *d)
{
	/* not inside the plugin's call: start others from a clean stack */
	loop_defer(d->loop, start_waiting, d);
}

static void shutdown_done(struct daemon *d)
{
	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (i->state == INST_STOPPING)
			return;
	loop_stop(d->loop);
}

void daemon_instance_stopped(struct strata_instance *inst)
{
	if (inst->state != INST_STOPPING)
		return;
	inst->state = INST_STOPPED;
	log_msg(LOG_INFO, inst->prefix, "stopped");
	if (inst->d->stopping)
		shutdown_done(inst->d);
}

/* The IPAM instance whose view the planner plans: the first configured. */
static int ipam_view(void *arg, const struct strata_topo_sink *sink);

static struct strata_instance *ipam_instance(struct daemon *d)
{
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		const struct strata_ipam_ops *ops = i->plug->desc->kind_ops;

		if (i->plug->desc->kind == STRATA_KIND_IPAM && ops->view)
			return i;
	}
	return NULL;
}

int daemon_view(struct daemon *d, const struct strata_topo_sink *sink)
{
	return ipam_view(d, sink);
}

static int ipam_view(void *arg, const struct strata_topo_sink *sink)
{
	struct strata_instance *i = ipam_instance(arg);
	const struct strata_ipam_ops *ops;

	if (!i || i->state != INST_RUNNING)
		return -EAGAIN;
	ops = i->plug->desc->kind_ops;
	return ops->view(i->self, sink);
}

static void plan_options_of(const struct cfg *cfg, struct plan_options *o)
{
	memset(o, 0, sizeof(*o));
	o->budget[0] = cfg->cloud_budget[0];
	/* one budget for both families unless IPv6 has its own */
	o->budget[1] = cfg->cloud_budget[1] ? cfg->cloud_budget[1] :
					      cfg->cloud_budget[0];
	o->no_per_host = cfg->no_per_host;
	o->no_spread = cfg->no_spread;
	o->bgp_mode = cfg->bgp_aggregate ? PLAN_BGP_AGGREGATE : PLAN_BGP_BLOCKS;
	o->bgp_announcers = cfg->bgp_announcers;
}

/*
 * The planner exists while an IPAM instance that reports a view is
 * configured, from before any instance starts: its owner holds the start-up
 * barrier until the first plan is stated, so a restart deletes none of the
 * routes the last run planned.
 */
static int planner_sync(struct daemon *d)
{
	struct plan_options o;
	int rc;

	if (!ipam_instance(d)) {
		planner_free(d->planner);
		d->planner = NULL;
		return 0;
	}
	if (!d->planner) {
		rc = planner_new(d->loop, d->routes, d->cfg->node_name,
				 &d->planner);
		if (rc)
			return rc;
	}
	plan_options_of(d->cfg, &o);
	planner_set_options(d->planner, &o);
	return 0;
}

void daemon_topology_changed(struct strata_instance *inst)
{
	if (inst->d->planner && ipam_instance(inst->d) == inst)
		planner_changed(inst->d->planner, ipam_view, inst->d);
	if (inst->d->writer && ipam_instance(inst->d) == inst)
		writer_changed(inst->d->writer);
}

/* ---- the health view and the route writer --------------------------------- */

static void intent_changed(void *arg, const struct intent *in, bool drained)
{
	struct daemon *d = arg;

	if (d->planner && planner_set_intent(d->planner, in, drained))
		log_warn("out of memory applying the forwarding intent");
}

static const struct strata_instance *checker_of(struct daemon *d)
{
	const char *name = d->cfg->health.checker;

	for (struct strata_instance *i = d->instances; i; i = i->next) {
		if (i->plug->desc->kind != STRATA_KIND_HEALTHCHECK ||
		    i->state != INST_RUNNING)
			continue;
		if (!name || !strcmp(i->name, name))
			return i;
	}
	return NULL;
}

static void health_options_of(struct daemon *d, struct healthview_options *o)
{
	const struct cfg_health *h = &d->cfg->health;
	const struct strata_instance *c = checker_of(d);

	memset(o, 0, sizeof(*o));
	o->node = d->cfg->node_name;
	health_timing_default(&o->timing);
	o->timing.interval_ns = h->interval_ns;
	o->timing.timeout_ns = h->timeout_ns;
	o->timing.fall = h->fall;
	o->timing.rise = h->rise;
	o->timing.jitter = h->jitter;
	o->port = (uint16_t)h->port;
	o->path = h->path;
	o->expect = (int32_t)h->expect;
	if (c) {
		o->ops = c->plug->desc->kind_ops;
		o->self = c->self;
	}
	d->checker = c;
}

/* The cloud advertisers act only while this node writes routes. */
static void writer_elected(void *arg, bool leader)
{
	struct daemon *d = arg;

	(void)leader;
	route_resync_soon(d->routes, NULL);
}

static void writer_options_of(struct daemon *d, struct writer_options *o)
{
	const struct cfg_health *h = &d->cfg->health;

	memset(o, 0, sizeof(*o));
	o->node = d->cfg->node_name;
	o->lease_ms = h->writer_lease_ns / 1000000;
	o->fwd.observers = h->observers;
	o->fwd.quorum = h->quorum;
	o->fwd.failback_return = h->failback_return;
	o->fwd.hold_down_ms = h->hold_down_ns / 1000000;
	plan_options_of(d->cfg, &o->plan);
	o->leader_cb = writer_elected;
	o->leader_arg = d;
}

/*
 * Both live beside the planner once the store is ready: the health view
 * applies the stored intent to it and probes what the intent assigns here;
 * the writer campaigns to decide that intent.
 */
static void health_sync(struct daemon *d)
{
	struct healthview_options ho;
	struct writer_options wo;
	int rc;

	if (!d->planner || !d->store_ready || d->stopping) {
		writer_free(d->writer);
		healthview_free(d->hv);
		d->writer = NULL;
		d->hv = NULL;
		d->checker = NULL;
		return;
	}
	health_options_of(d, &ho);
	rc = d->hv ? healthview_set_options(d->hv, &ho) :
		     healthview_new(d->loop, d->store, &ho, intent_changed, d,
				    &d->hv);
	if (rc)
		log_err("the health view: %s", strerror(-rc));
	else if (planner_set_intent(d->planner, healthview_intent(d->hv),
				    healthview_drained(d->hv)))
		log_warn("out of memory applying the forwarding intent");
	if (!ho.ops && d->cfg->health.checker)
		log_warn("health.checker \"%s\" is not a running healthcheck instance; this node observes nothing",
			 d->cfg->health.checker);
	writer_options_of(d, &wo);
	if (d->writer) {
		writer_set_options(d->writer, &wo);
		return;
	}
	rc = writer_new(d->loop, d->store, &wo, ipam_view, d, &d->writer);
	if (rc)
		log_err("campaigning for the route writer: %s", strerror(-rc));
}

static void stop_timeout(void *arg)
{
	struct daemon *d = arg;

	loop_timer_cancel(d->stop_timer);
	d->stop_timer = NULL;
	log_warn("instances still stopping after %lld s; exiting anyway",
		 (long long)(STOP_GRACE_NS / 1000000000LL));
	loop_stop(d->loop);
}

/* SIGTERM: stop, but leave every route in place (DESIGN.md: shutdown is
 * not withdrawal; `stratactl drain` withdraws). */
static void on_terminate(void *arg, int signo)
{
	struct daemon *d = arg;
	bool pending = false;

	if (d->stopping)
		return;
	d->stopping = true;
	notify(d, "STOPPING=1", "stopping, routes stay in place");
	log_info("%s: stopping; routes stay in place",
		 signo == SIGINT ? "SIGINT" : "SIGTERM");
	health_sync(d); /* resigns: another node writes routes at once */
	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (!inst_stop(i))
			pending = true;
	if (!pending) {
		loop_stop(d->loop);
		return;
	}
	d->stop_timer = loop_timer_add(d->loop, STOP_GRACE_NS, 0, stop_timeout,
				       d);
}

/* ---- reload -------------------------------------------------------------- */

/* A canonical text of a setting, to tell whether an instance's config
 * changed across a reload. */
static void setting_text(const config_setting_t *s, FILE *f)
{
	int type = config_setting_type(s);
	const char *name = config_setting_name(s);

	if (name)
		fprintf(f, "%s=", name);
	switch (type) {
	case CONFIG_TYPE_GROUP:
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_ARRAY:
		fputc(type == CONFIG_TYPE_GROUP ? '{' : '[', f);
		for (int i = 0; i < config_setting_length(s); i++)
			setting_text(config_setting_get_elem(s, (unsigned)i), f);
		fputc(type == CONFIG_TYPE_GROUP ? '}' : ']', f);
		break;
	case CONFIG_TYPE_INT:
		fprintf(f, "i%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		fprintf(f, "i%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		fprintf(f, "f%.17g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		fprintf(f, "b%d", config_setting_get_bool(s));
		break;
	case CONFIG_TYPE_STRING:
		fprintf(f, "s%zu:%s", strlen(config_setting_get_string(s)),
			config_setting_get_string(s));
		break;
	}
	fputc(';', f);
}

static bool config_same(const config_setting_t *a, const config_setting_t *b)
{
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;
	FILE *fa, *fb;
	bool same = false;

	if (!a || !b)
		return !a && !b;
	fa = open_memstream(&ta, &la);
	fb = open_memstream(&tb, &lb);
	if (fa && fb) {
		setting_text(a, fa);
		setting_text(b, fb);
		fflush(fa);
		fflush(fb);
		same = la == lb && !memcmp(ta, tb, la);
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	free(ta);
	free(tb);
	return same;
}

/* Stop and destroy an instance now; a pending stop is not waited for. */
static void inst_retire(struct strata_instance *inst, bool keep_owner)
{
	if (!inst_stop(inst))
		log_msg(LOG_WARNING, inst->prefix,
			"stop still pending; destroying it now");
	inst_destroy(inst, keep_owner);
}

static int inst_restart(struct daemon *d, struct strata_instance *inst,
			const struct cfg_plugin *cp, struct plug *p)
{
	struct route_owner *owner = inst->owner;
	struct strata_instance *fresh;
	int rc;

	log_msg(LOG_INFO, inst->prefix, "restarting for the new config");
	inst_retire(inst, true);
	rc = inst_create(d, cp, p, owner, &fresh);
	if (rc)
		return rc;
	return inst_start(fresh);
}

static void copy_plugin_fact(void *arg, const char *name, const char *value,
			     const char *source)
{
	if (strcmp(source, "config"))
		facts_set(arg, name, value, source);
}

static int facts_from_config(const struct cfg *cfg, const struct facts *old,
			     struct facts **out)
{
	struct facts *f;
	int rc;

	rc = facts_new(&f);
	if (rc)
		return rc;
	/* the node's name is a fact too, so plugins can read it */
	rc = facts_set(f, "name", cfg->node_name, "config");
	for (size_t i = 0; !rc && i < cfg->n_facts; i++)
		rc = facts_set(f, cfg->facts[i].name, cfg->facts[i].value,
			       "config");
	if (rc) {
		facts_free(f);
		return rc;
	}
	if (old)
		facts_each(old, copy_plugin_fact, f);
	*out = f;
	return 0;
}

static void apply_daemon_settings(struct daemon *d, const struct cfg *cfg)
{
	log_set_level(cfg->log_level);
	if (log_set_target(cfg->log_target, "stratad"))
		log_warn("log target \"%s\" unavailable; keeping the current one",
			 cfg->log_target);
	route_model_set_resync(d->routes, cfg->resync_ns);
}

/*
 * Reload: everything is checked first, so a bad config changes nothing.
 * Then removed instances go, new ones start, changed ones reconfigure in
 * place or restart, keeping their routes until they have re-stated them.
 */
static int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct cfg *cfg = NULL, *old = d->cfg;
	struct plug **plugs = NULL;
	struct facts *facts = NULL;
	unsigned failed = 0;
	int rc;

	rc = cfg_load(d->cfg_path, &cfg, err, errlen);
	if (rc)
		return rc;
	plugs = calloc(cfg->n_plugins + 1, sizeof(*plugs));
	if (!plugs) {
		rc = -ENOMEM;
		goto free_cfg;
	}
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		rc = plugin_get(d, cfg, &cfg->plugins[i], &plugs[i], err,
				errlen);
		if (rc)
			goto free_plugs;
	}
	rc = facts_from_config(cfg, d->facts, &facts);
	if (rc) {
		snprintf(err, errlen, "%s: facts: %s", d->cfg_path,
			 strerror(-rc));
		goto free_plugs;
	}
	if (strcmp(cfg->control_socket, old->control_socket) ||
	    cfg->control_mode != old->control_mode ||
	    (cfg->control_group == NULL) != (old->control_group == NULL) ||
	    (cfg->control_group &&
	     strcmp(cfg->control_group, old->control_group)))
		log_warn("control socket settings take effect at the next start");
	if (cfg->rtproto != old->rtproto)
		log_warn("routes.rtproto takes effect at the next start");

	notify(d, "RELOADING=1", "reloading");
	facts_free(d->facts);
	d->facts = facts;
	apply_daemon_settings(d, cfg);

	/* instances no longer configured: their routes are withdrawn */
	for (struct strata_instance *i = d->instances, *next; i; i = next) {
		bool found = false;

		next = i->next;
		for (size_t k = 0; k < cfg->n_plugins && !found; k++)
			found = !strcmp(cfg->plugins[k].instance, i->name);
		if (!found) {
			log_msg(LOG_INFO, i->prefix, "removed from the config");
			inst_retire(i, false);
		}
	}
	for (size_t k = 0; k < cfg->n_plugins; k++) {
		const struct cfg_plugin *cp = &cfg->plugins[k];
		struct strata_instance *i = inst_by_name(d, cp->instance);
		const struct strata_plugin_ops *ops;
		const config_setting_t *was;

		if (!i) {
			struct strata_instance *fresh;

			rc = inst_create(d, cp, plugs[k], NULL, &fresh);
			if (!rc)
				rc = inst_start(fresh);
			failed += rc != 0;
			continue;
		}
		was = i->cfg->config;
		if (i->plug != plugs[k]) {
			failed += inst_restart(d, i, cp, plugs[k]) != 0;
			continue;
		}
		i->cfg = cp;
		if (i->state == INST_FAILED) {
			/* a reload is the operator's way to try again */
			failed += inst_restart(d, i, cp, plugs[k]) != 0;
			continue;
		}
		if (config_same(was, cp->config))
			continue;
		ops = i->plug->desc->ops;
		rc = ops->reconfigure && i->state == INST_RUNNING ?
			     ops->reconfigure(i->self) :
			     STRATA_RECONF_RESTART;
		if (rc == 0) {
			log_msg(LOG_INFO, i->prefix, "reconfigured in place");
			continue;
		}
		if (rc < 0)
			log_msg(LOG_WARNING, i->prefix,
				"reconfigure failed (%s); restarting",
				strerror(-rc));
		failed += inst_restart(d, i, cp, plugs[k]) != 0;
	}
	d->cfg = cfg;
	if (kube_nodes_reload(d))
		log_err("kube: the new kubernetes settings failed; Nodes are not watched");
	cfg_free(old);
	free(plugs);
	metrics_core_sync(d);
	if (planner_sync(d))
		log_err("planner: out of memory");
	health_sync(d);
	daemon_facts_changed(d);
	notify(d, "READY=1", failed ? "running, instances failed at reload" :
				       "running");
	if (failed) {
		snprintf(err, errlen,
			 "reloaded, but %u instance(s) failed to start; see the log",
			 failed);
		return -EIO;
	}
	log_info("configuration reloaded from %s", d->cfg_path);
	return 0;

free_plugs:
	free(plugs);
free_cfg:
	cfg_free(cfg);
	return rc;
}

static void on_hangup(void *arg, int signo)
{
	struct daemon *d = arg;
	char err[1024];

	(void)signo;
	if (d->stopping)
		return;
	if (daemon_reload(d, err, sizeof(err)))
		log_err("reload: %s", err);
}

/* ---- control commands ---------------------------------------------------- */

static void gs(yajl_gen g, const char *s)
{
	if (s)
		yajl_gen_string(g, (const unsigned char *)s, strlen(s));
	else
		yajl_gen_null(g);
}

static void gkv(yajl_gen g, const char *k, const char *v)
{
	gs(g, k);
	gs(g, v);
}

static void gki(yajl_gen g, const char *k, long long v)
{
	gs(g, k);
	yajl_gen_integer(g, v);
}

static void gkb(yajl_gen g, const char *k, bool v)
{
	gs(g, k);
	yajl_gen_bool(g, v);
}

static const char *arg_str(yajl_val args, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = args ? yajl_tree_get(args, path, yajl_t_string) : NULL;

	return v ? YAJL_GET_STRING(v) : NULL;
}

static void cmd_version(void *arg, struct control_call *call, yajl_val args)
{
	yajl_gen g = control_call_gen(call);
	char abi[32];

	(void)arg;
	(void)args;
	snprintf(abi, sizeof(abi), "%d.%d", STRATA_ABI_MAJOR, STRATA_ABI_MINOR);
	yajl_gen_map_open(g);
	gkv(g, "version", PACKAGE_VERSION);
	gkv(g, "abi", abi);
	yajl_gen_map_close(g);
	control_call_done(call);
}

static void cmd_status(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	yajl_gen g = control_call_gen(call);
	unsigned n = 0, running = 0;
	char abi[32];

	(void)args;
	snprintf(abi, sizeof(abi), "%d.%d", STRATA_ABI_MAJOR, STRATA_ABI_MINOR);
	yajl_gen_map_open(g);
	gkv(g, "node", d->cfg->node_name);
	gkv(g, "state", d->stopping ? "stopping" : "running");
	gkv(g, "version", PACKAGE_VERSION);
	gkv(g, "abi", abi);
	gki(g, "pid", getpid());
	gki(g, "uptime_s", (loop_now() - d->started_ns) / 1000000000LL);
	gkv(g, "config", d->cfg_path);
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		n++;
		running += i->state == INST_RUNNING;
	}
	gki(g, "instances", n);
	gki(g, "instances_running", running);
	gkb(g, "routes_synced", route_may_delete(d->routes));
	gs(g, "routes_waiting_for");
	yajl_gen_array_open(g);
	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (i->owner && !route_owner_is_synced(i->owner))
			gs(g, i->name);
	if (d->planner) {
		struct planner_stats ps;

		planner_stats(d->planner, &ps);
		if (!ps.synced)
			gs(g, "planner");
	}
	yajl_gen_array_close(g);
	gki(g, "routes_desired", (long long)route_count(d->routes, ~0u));
	if (d->planner) {
		struct planner_stats ps;

		planner_stats(d->planner, &ps);
		gs(g, "planner");
		yajl_gen_map_open(g);
		gki(g, "plans", ps.plans);
		gki(g, "failures", ps.failures);
		gki(g, "hosts", (long long)ps.hosts);
		gki(g, "subnets", (long long)ps.groups);
		gki(g, "kernel_routes", (long long)ps.kernel);
		gki(g, "cloud_routes", (long long)ps.cloud);
		gki(g, "bgp_routes", (long long)ps.bgp);
		gki(g, "last_plan_us", ps.last_ns / 1000);
		if (ps.error)
			gkv(g, "error", ps.error);
		yajl_gen_map_close(g);
	}
	if (d->writer) {
		struct writer_stats ws;

		writer_stats(d->writer, &ws);
		gs(g, "route_writer");
		yajl_gen_map_open(g);
		gkb(g, "leader", ws.leader);
		gki(g, "term", ws.term);
		gki(g, "decisions", ws.decisions);
		gki(g, "writes", ws.writes);
		gki(g, "failures", ws.failures);
		if (ws.error)
			gkv(g, "error", ws.error);
		yajl_gen_map_close(g);
	}
	if (d->kube) {
		gs(g, "kubernetes");
		yajl_gen_map_open(g);
		gkb(g, "synced", kube_nodes_synced(d->kube));
		gki(g, "nodes", (long long)kube_nodes_count(d->kube));
		gki(g, "removals_waiting", (long long)kube_nodes_pending(d->kube));
		yajl_gen_map_close(g);
	}
	gs(g, "waiting_for_facts");
	yajl_gen_array_open(g);
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		const char *missing = NULL;

		if (i->state == INST_WAITING &&
		    !facts_have(d->facts, needs_facts(i), &missing))
			gs(g, missing);
	}
	yajl_gen_array_close(g);
	gki(g, "http_active", http_active(d->http));
	gkv(g, "store", store_backend(d->store));
	gkv(g, "store_url", d->cfg->store_url);
	gkb(g, "store_ready", d->store_ready);
	gkb(g, "registered", d->registered);
	yajl_gen_map_close(g);
	control_call_done(call);
}

static void store_checked(void *arg, int err, const char *report)
{
	struct control_call *call = arg;
	yajl_gen g;

	if (err && err != -EBADMSG) {
		control_call_fail(call, "store check: %s", strerror(-err));
		return;
	}
	g = control_call_gen(call);
	yajl_gen_map_open(g);
	gkb(g, "ok", !err);
	gkv(g, "report", report);
	yajl_gen_map_close(g);
	control_call_done(call);
}

static void cmd_store_check(void *arg, struct control_call *call,
			    yajl_val args)
{
	struct daemon *d = arg;
	int rc;

	(void)args;
	rc = store_check(d->store, store_checked, call);
	if (rc)
		control_call_fail(call, "store check: %s", strerror(-rc));
}

static void host_removed(void *arg, int err, const char *text)
{
	struct control_call *call = arg;
	yajl_gen g;

	if (err) {
		control_call_fail(call, "%s", text ? text : strerror(-err));
		return;
	}
	g = control_call_gen(call);
	yajl_gen_map_open(g);
	gkb(g, "removed", true);
	yajl_gen_map_close(g);
	control_call_done(call);
}

int daemon_host_remove(struct daemon *d, const char *name, strata_done_cb cb,
		       void *arg)
{
	struct strata_instance *i = ipam_instance(d);
	const struct strata_ipam_ops *ops;

	if (!i || i->state != INST_RUNNING)
		return -EAGAIN;
	ops = i->plug->desc->kind_ops;
	if (!ops->host_remove)
		return -ENOTSUP;
	return ops->host_remove(i->self, name, cb, arg);
}

bool daemon_route_writer(const struct daemon *d)
{
	return d->writer && writer_remaining(d->writer) > 0;
}

/* stratactl host remove NAME: the host is gone for good; its blocks go
 * back to its subnet. */
static void cmd_host_remove(void *arg, struct control_call *call,
			    yajl_val args)
{
	struct daemon *d = arg;
	struct strata_instance *i = ipam_instance(d);
	const char *name = arg_str(args, "name");
	const struct strata_ipam_ops *ops;
	int rc;

	if (!name || !name[0]) {
		control_call_fail(call, "host remove: which host? (name=NAME)");
		return;
	}
	if (!i || i->state != INST_RUNNING) {
		control_call_fail(call, "host remove: no running IPAM instance");
		return;
	}
	ops = i->plug->desc->kind_ops;
	if (!ops->host_remove) {
		control_call_fail(call, "host remove: the %s plugin cannot remove hosts",
				  i->plug->desc->name);
		return;
	}
	rc = ops->host_remove(i->self, name, host_removed, call);
	if (rc == -EBUSY)
		control_call_fail(call, "host remove: %s is registered (alive); "
					"stop its stratad first", name);
	else if (rc == -ENOENT)
		control_call_fail(call, "host remove: %s holds no blocks", name);
	else if (rc)
		control_call_fail(call, "host remove: %s", strerror(-rc));
}

static void ipam_done(void *arg, const struct strata_ipam_result *res)
{
	struct control_call *call = arg;
	char buf[64];
	yajl_gen g;

	if (res->error) {
		control_call_fail(call, "%s", res->error_text ?
						      res->error_text :
						      strerror(-res->error));
		return;
	}
	g = control_call_gen(call);
	yajl_gen_map_open(g);
	gs(g, "addresses");
	yajl_gen_array_open(g);
	for (uint32_t i = 0; i < res->n_addrs && i < 2; i++) {
		route_prefix_format(&res->addrs[i], buf, sizeof(buf));
		gs(g, buf);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	control_call_done(call);
}

/*
 * ipam-allocate / ipam-release handle=H [family=4|6]: the IPAM's own
 * allocate and release, for operators and tests; the CNI front end makes
 * the same calls for pods.
 */
static void ipam_call(struct daemon *d, struct control_call *call,
		      yajl_val args, bool release)
{
	struct strata_instance *i = ipam_instance(d);
	const char *handle = arg_str(args, "handle");
	const char *fam_path[] = { "family", NULL };
	yajl_val fam = args ? yajl_tree_get(args, fam_path, yajl_t_number) :
			      NULL;
	struct strata_ipam_request req = { .size = sizeof(req) };
	const struct strata_ipam_ops *ops;
	int rc;

	if (!handle || !handle[0]) {
		control_call_fail(call, "which handle? (handle=ID)");
		return;
	}
	if (fam && (!YAJL_IS_INTEGER(fam) || (YAJL_GET_INTEGER(fam) != 4 &&
					      YAJL_GET_INTEGER(fam) != 6))) {
		control_call_fail(call, "family: expected 4 or 6");
		return;
	}
	if (!i || i->state != INST_RUNNING) {
		control_call_fail(call, "no running IPAM instance");
		return;
	}
	req.handle = handle;
	req.families = !fam ? 0 : YAJL_GET_INTEGER(fam) == 4 ? 1u : 2u;
	ops = i->plug->desc->kind_ops;
	rc = release ? ops->release(i->self, &req, ipam_done, call) :
		       ops->allocate(i->self, &req, ipam_done, call);
	if (rc)
		control_call_fail(call, "%s", strerror(-rc));
}

static void cmd_ipam_allocate(void *arg, struct control_call *call,
			      yajl_val args)
{
	ipam_call(arg, call, args, false);
}

static void cmd_ipam_release(void *arg, struct control_call *call,
			     yajl_val args)
{
	ipam_call(arg, call, args, true);
}

struct topo_gen {
	yajl_gen g;
	bool hosts_open;
};

static void gen_prefixes(yajl_gen g, const struct strata_prefix *p, size_t n)
{
	char buf[64];

	gs(g, "prefixes");
	yajl_gen_array_open(g);
	for (size_t k = 0; k < n; k++) {
		route_prefix_format(&p[k], buf, sizeof(buf));
		gs(g, buf);
	}
	yajl_gen_array_close(g);
}

static void topo_node(void *arg, const struct strata_topo_node *n)
{
	struct topo_gen *t = arg;

	yajl_gen_map_open(t->g);
	gkv(t->g, "path", n->path);
	gkv(t->g, "level", n->level);
	gkb(t->g, "routed", n->routed);
	gen_prefixes(t->g, n->prefixes, n->n_prefixes);
	gki(t->g, "blocks_total", n->blocks_total > INT64_MAX ?
					  INT64_MAX : (long long)n->blocks_total);
	gki(t->g, "blocks_used", (long long)n->blocks_used);
	gki(t->g, "addresses_used", (long long)n->addrs_used);
	yajl_gen_map_close(t->g);
}

static void topo_host(void *arg, const struct strata_topo_blocks *h)
{
	struct topo_gen *t = arg;
	char buf[64];

	if (!t->hosts_open) {
		yajl_gen_array_close(t->g);
		gs(t->g, "hosts");
		yajl_gen_array_open(t->g);
		t->hosts_open = true;
	}
	yajl_gen_map_open(t->g);
	gkv(t->g, "name", h->name);
	gkv(t->g, "path", h->path);
	gs(t->g, "addresses");
	yajl_gen_array_open(t->g);
	for (uint32_t k = 0; k < h->n_addrs && k < STRATA_TOPO_MAX_ADDRS; k++) {
		route_addr_format(&h->addrs[k], buf, sizeof(buf));
		gs(t->g, buf);
	}
	yajl_gen_array_close(t->g);
	gs(t->g, "blocks");
	yajl_gen_array_open(t->g);
	for (size_t k = 0; k < h->n_blocks; k++) {
		route_prefix_format(&h->blocks[k], buf, sizeof(buf));
		gs(t->g, buf);
	}
	yajl_gen_array_close(t->g);
	gki(t->g, "addresses_used", (long long)h->addrs_used);
	yajl_gen_map_close(t->g);
}

/* stratactl topology: the IPAM's live carving and every host's blocks. */
static void cmd_topology(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	struct topo_gen t = { .g = control_call_gen(call) };
	struct strata_topo_sink sink = {
		.size = sizeof(sink),
		.arg = &t,
		.node = topo_node,
		.host = topo_host,
	};
	int rc;

	(void)args;
	yajl_gen_map_open(t.g);
	gs(t.g, "nodes");
	yajl_gen_array_open(t.g);
	rc = ipam_view(d, &sink);
	if (rc) {
		control_call_fail(call, "topology: %s",
				  rc == -EAGAIN ? "the IPAM has not read the store yet" :
						  strerror(-rc));
		return;
	}
	if (!t.hosts_open) {
		yajl_gen_array_close(t.g);
		gs(t.g, "hosts");
		yajl_gen_array_open(t.g);
	}
	yajl_gen_array_close(t.g);
	yajl_gen_map_close(t.g);
	control_call_done(call);
}

static void cmd_plugins(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	yajl_gen g = control_call_gen(call);
	char abi[32];

	(void)args;
	yajl_gen_map_open(g);
	gs(g, "plugins");
	yajl_gen_array_open(g);
	for (size_t k = 0; k < d->n_plugs; k++) {
		const struct plug *p = d->plugs[k];

		snprintf(abi, sizeof(abi), "%u.%u", p->info->abi_major,
			 p->info->abi_minor);
		yajl_gen_map_open(g);
		gkv(g, "name", p->desc->name);
		gkv(g, "kind", kind_name(p));
		gkv(g, "version", p->desc->version);
		gkv(g, "abi", abi);
		gkv(g, "file", p->info->path);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gs(g, "instances");
	yajl_gen_array_open(g);
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		const struct strata_plugin_ops *ops = i->plug->desc->ops;

		yajl_gen_map_open(g);
		gkv(g, "instance", i->name);
		gkv(g, "plugin", i->plug->desc->name);
		gkv(g, "kind", kind_name(i->plug));
		gkv(g, "state", host_state_name(i->state));
		gs(g, "status");
		yajl_gen_map_open(g);
		if (ops->status && i->state == INST_RUNNING) {
			struct strata_status *st = host_status_begin(g);

			if (st) {
				ops->status(i->self, st);
				host_status_end(st);
			}
		}
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	control_call_done(call);
}

static void gen_fact(void *arg, const char *name, const char *value,
		     const char *source)
{
	yajl_gen g = arg;

	yajl_gen_map_open(g);
	gkv(g, "name", name);
	gkv(g, "value", value);
	gkv(g, "source", source);
	yajl_gen_map_close(g);
}

static void cmd_facts(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	yajl_gen g = control_call_gen(call);

	(void)args;
	yajl_gen_map_open(g);
	gkv(g, "node", d->cfg->node_name);
	gs(g, "facts");
	yajl_gen_array_open(g);
	facts_each(d->facts, gen_fact, g);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	control_call_done(call);
}

static void gen_nexthops(yajl_gen g, const struct strata_route *r)
{
	char buf[INET6_ADDRSTRLEN + 64], addr[64];
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t k = 0; k < r->n_nexthops && off < sizeof(buf); k++) {
		const struct strata_nexthop *nh = &r->nh[k];

		addr[0] = '\0';
		if (nh->gw.family)
			route_addr_format(&nh->gw, addr, sizeof(addr));
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s%s%s%s%s", k ? ", " : "",
					addr[0] ? "via " : "", addr,
					nh->ifname[0] ? (addr[0] ? " dev " : "dev ") : "",
					nh->ifname);
	}
	gs(g, buf);
}

struct routes_ctx {
	yajl_gen g;
	const char *advertiser;
	uint32_t scopes;
};

static void gen_route(yajl_gen g, const struct strata_route *r)
{
	char dst[64];

	route_prefix_format(&r->dst, dst, sizeof(dst));
	gkv(g, "scope", route_scope_name(r->scope));
	gkv(g, "dst", dst);
	gs(g, "via");
	gen_nexthops(g, r);
}

static void gen_desired(void *arg, const struct strata_route *r,
			const char *owners)
{
	struct routes_ctx *c = arg;

	yajl_gen_map_open(c->g);
	gen_route(c->g, r);
	gkv(c->g, "owners", owners);
	yajl_gen_map_close(c->g);
}

static void gen_installed(void *arg, const struct strata_route *r)
{
	struct routes_ctx *c = arg;

	if (!(r->scope & c->scopes))
		return;
	yajl_gen_map_open(c->g);
	gkv(c->g, "advertiser", c->advertiser);
	gen_route(c->g, r);
	yajl_gen_map_close(c->g);
}

static void cmd_routes(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	const char *scope = arg_str(args, "scope");
	struct routes_ctx c = { .scopes = ~0u };

	if (scope && route_scope_parse(scope, &c.scopes)) {
		control_call_fail(call,
				  "scope \"%s\": expected kernel, cloud or bgp",
				  scope);
		return;
	}
	c.g = control_call_gen(call);
	yajl_gen_map_open(c.g);
	gkb(c.g, "may_delete", route_may_delete(d->routes));
	gs(c.g, "desired");
	yajl_gen_array_open(c.g);
	route_desired_each(d->routes, c.scopes, gen_desired, &c);
	yajl_gen_array_close(c.g);
	gs(c.g, "installed");
	yajl_gen_array_open(c.g);
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		const struct strata_advertiser_ops *ops;

		if (i->plug->desc->kind != STRATA_KIND_ADVERTISER ||
		    i->state != INST_RUNNING)
			continue;
		ops = i->plug->desc->kind_ops;
		if (!ops->installed)
			continue;
		c.advertiser = i->name;
		ops->installed(i->self, gen_installed, &c);
	}
	yajl_gen_array_close(c.g);
	yajl_gen_map_close(c.g);
	control_call_done(call);
}

static void cmd_metrics(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	yajl_gen g = control_call_gen(call);
	char name[METRIC_KEY_MAX + 64];

	(void)args;
	yajl_gen_map_open(g);
	gs(g, "metrics");
	yajl_gen_array_open(g);
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		for (size_t k = 0; k < i->metrics.n; k++) {
			const struct metric_series *m = &i->metrics.v[k];

			snprintf(name, sizeof(name), "%s_%s",
				 i->plug->desc->name, m->key);
			yajl_gen_map_open(g);
			gkv(g, "name", name);
			gkv(g, "instance", i->name);
			gkv(g, "type", m->type == METRIC_COUNTER ? "counter"
				       : m->type == METRIC_GAUGE ? "gauge"
								 : "histogram");
			if (m->type == METRIC_HISTOGRAM) {
				gki(g, "value", (int64_t)m->count);
				gki(g, "sum_ns", m->sum_ns);
			} else {
				gki(g, "value", m->value);
			}
			yajl_gen_map_close(g);
		}
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	control_call_done(call);
}

static void cmd_log_level(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	const char *level = arg_str(args, "level");
	const char *instance = arg_str(args, "instance");
	struct strata_instance *inst = NULL;
	yajl_gen g;
	int lv;

	if (!level) {
		control_call_fail(call, "level=LEVEL is required (error, warning, info, debug)");
		return;
	}
	lv = log_level_parse(level);
	if (lv < 0) {
		control_call_fail(call, "level \"%s\": expected error, warning, info or debug",
				  level);
		return;
	}
	if (instance) {
		inst = inst_by_name(d, instance);
		if (!inst) {
			control_call_fail(call, "no instance \"%s\"", instance);
			return;
		}
		inst->debug = lv == LOG_DEBUG;
	} else {
		log_set_level(lv);
	}
	g = control_call_gen(call);
	yajl_gen_map_open(g);
	gkv(g, "level", log_level_name(lv));
	gkv(g, "instance", instance);
	yajl_gen_map_close(g);
	control_call_done(call);
}

static void cmd_reload(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	char err[1024];
	yajl_gen g;

	(void)args;
	if (daemon_reload(d, err, sizeof(err))) {
		log_err("reload: %s", err);
		control_call_fail(call, "%s", err);
		return;
	}
	g = control_call_gen(call);
	yajl_gen_map_open(g);
	gkv(g, "config", d->cfg_path);
	yajl_gen_map_close(g);
	control_call_done(call);
}

/* ---- policy: what a policy instance says of a pod ------------------------ */

struct explained {
	char **lines;
	size_t n, cap;
	bool lost;
};

static void explained_line(void *arg, const char *text)
{
	struct explained *e = arg;
	char *copy;

	if (!text || e->lost)
		return;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		char **l = realloc(e->lines, cap * sizeof(*l));

		if (!l) {
			e->lost = true;
			return;
		}
		e->lines = l;
		e->cap = cap;
	}
	copy = strdup(text);
	if (!copy) {
		e->lost = true;
		return;
	}
	e->lines[e->n++] = copy;
}

static void cmd_policy(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	const char *ns = arg_str(args, "namespace");
	const char *name = arg_str(args, "name");
	struct explained e = { 0 };
	yajl_gen g;
	int rc;

	if (!ns || !ns[0])
		ns = "default";
	if (!name || !name[0]) {
		control_call_fail(call, "policy: which pod? ([NAMESPACE/]POD)");
		return;
	}
	rc = host_policy_explain(d, ns, name, explained_line, &e);
	if (!rc && e.lost)
		rc = -ENOMEM;
	if (rc == -ENODEV)
		control_call_fail(call, "policy: no policy plugin instance is running");
	else if (rc == -ENOENT)
		control_call_fail(call, "policy: pod %s/%s is not known to the policy plugin",
				  ns, name);
	else if (rc)
		control_call_fail(call, "policy: %s/%s: %s", ns, name,
				  strerror(-rc));
	if (!rc) {
		g = control_call_gen(call);
		yajl_gen_map_open(g);
		gkv(g, "namespace", ns);
		gkv(g, "name", name);
		gs(g, "lines");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < e.n; i++)
			gs(g, e.lines[i]);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		control_call_done(call);
	}
	for (size_t i = 0; i < e.n; i++)
		free(e.lines[i]);
	free(e.lines);
}

static int register_commands(struct daemon *d)
{
	static const struct {
		const char *name;
		control_handler fn;
	} cmds[] = {
		{ "version", cmd_version }, { "status", cmd_status },
		{ "plugins", cmd_plugins }, { "facts", cmd_facts },
		{ "routes", cmd_routes },   { "metrics", cmd_metrics },
		{ "log-level", cmd_log_level }, { "reload", cmd_reload },
		{ "store-check", cmd_store_check },
		{ "host-remove", cmd_host_remove },
		{ "topology", cmd_topology },
		{ "ipam-allocate", cmd_ipam_allocate },
		{ "ipam-release", cmd_ipam_release },
		{ "policy", cmd_policy },
	};
	int rc;

	rc = health_commands_register(d);
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		rc = control_register(d->ctl, cmds[i].name, cmds[i].fn, d);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- -t and --plugin-info ------------------------------------------------ */

int daemon_check_config(const char *path, FILE *out, FILE *errf)
{
	struct plug_info **infos = NULL;
	struct cfg *cfg = NULL;
	char err[1024];
	size_t n = 0;
	int rc;

	rc = cfg_load(path, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(errf, "%s\n", err);
		return 1;
	}
	infos = calloc(cfg->n_plugins + 1, sizeof(*infos));
	if (!infos) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		const struct cfg_plugin *cp = &cfg->plugins[i];
		struct plug_info *info = NULL;
		bool seen = false;

		for (size_t k = 0; k < n && !seen; k++) {
			if (!strcmp(infos[k]->path, cp->path)) {
				info = infos[k];
				seen = true;
			}
		}
		if (!seen) {
			rc = plug_check(cp->path, &info, err, sizeof(err));
			if (rc) {
				fprintf(errf, "%s:%d: plugins[%zu] (%s): %s\n",
					cfg->path, cp->line, i, cp->instance, err);
				goto out;
			}
			infos[n++] = info;
			rc = plug_check_unique(infos, n, err, sizeof(err));
			if (rc) {
				fprintf(errf, "%s:%d: %s\n", cfg->path,
					cp->line, err);
				goto out;
			}
		}
		rc = cfg_check_plugin(cfg, cp, info->config, err, sizeof(err));
		if (rc) {
			fprintf(errf, "%s\n", err);
			goto out;
		}
	}
	fprintf(out, "%s: configuration OK (%zu plugin instance%s)\n",
		cfg->path, cfg->n_plugins, cfg->n_plugins == 1 ? "" : "s");
out:
	for (size_t k = 0; k < n; k++)
		plug_info_free(infos[k]);
	free(infos);
	cfg_free(cfg);
	return rc ? 1 : 0;
}

static const char *cfg_type_name(uint32_t type)
{
	switch (type) {
	case STRATA_CFG_BOOL:
		return "bool";
	case STRATA_CFG_INT:
		return "int";
	case STRATA_CFG_STRING:
		return "string";
	case STRATA_CFG_STRINGS:
		return "strings";
	case STRATA_CFG_DURATION:
		return "duration";
	}
	return "?";
}

int daemon_plugin_info(const char *path, FILE *out, FILE *errf)
{
	struct plug_info *info = NULL;
	char err[1024];

	if (plug_check(path, &info, err, sizeof(err))) {
		fprintf(errf, "%s\n", err);
		return 1;
	}
	fprintf(out, "file:        %s\n", info->path);
	fprintf(out, "name:        %s\n", info->name);
	fprintf(out, "kind:        %s\n", plug_kind_name(info->kind));
	fprintf(out, "version:     %s\n", info->version);
	fprintf(out, "abi:         %u.%u\n", info->abi_major, info->abi_minor);
	fprintf(out, "description: %s\n",
		info->description ? info->description : "");
	fprintf(out, "config keys:%s\n", info->n_config ? "" : " none");
	for (size_t i = 0; i < info->n_config; i++) {
		const struct strata_cfg_key *k = &info->config[i];

		fprintf(out, "  %-20s %-8s %s%s%s%s%s\n", k->name,
			cfg_type_name(k->type),
			k->flags & STRATA_CFG_REQUIRED ? "required " : "",
			k->def ? "default \"" : "", k->def ? k->def : "",
			k->def ? "\" " : "", k->help ? k->help : "");
	}
	plug_info_free(info);
	return 0;
}

/* ---- start and stop ------------------------------------------------------ */

/* The store's directory is made (0700) if missing: it holds cluster state. */
static int make_parent(const char *path)
{
	char *dir = strdup(path), *p;
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			rc = -errno;
		*p = '/';
	}
	free(dir);
	return rc;
}

/* The etcd password: the file's first line. Never logged. */
static int read_password(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		buf[0] = '\0';
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return 0;
}

static int open_store(struct daemon *d)
{
	const char *url = d->cfg->store_url;
	const char *path = strncmp(url, "sqlite:", 7) ? url : url + 7;
	bool etcd = !strncmp(url, "etcd:", 5);
	char password[512] = "";
	struct store_options opt = {
		.size = sizeof(opt),
		.url = url,
		.history = d->cfg->store_history,
		.prefix = d->cfg->store_prefix,
		.username = d->cfg->store_username,
		.password = password,
		.ca_file = d->cfg->store_ca,
		.cert_file = d->cfg->store_cert,
		.key_file = d->cfg->store_key,
	};
	char err[1024];
	int rc;

	if (!etcd) {
		rc = make_parent(path);
		if (rc) {
			log_err("store %s: cannot make its directory: %s",
				path, strerror(-rc));
			return rc;
		}
	}
	if (etcd && d->cfg->store_password_file) {
		rc = read_password(d->cfg->store_password_file, password,
				   sizeof(password));
		if (rc) {
			log_err("store: password file %s: %s",
				d->cfg->store_password_file, strerror(-rc));
			return rc;
		}
	}
	rc = store_open(d->loop, &opt, &d->store, err, sizeof(err));
	explicit_bzero(password, sizeof(password));
	if (rc) {
		log_err("store: %s", err);
		return rc;
	}
	/* the store is one more owner the route barrier waits for */
	d->store_owner = route_owner_add(d->routes, "store");
	return d->store_owner ? 0 : -ENOMEM;
}

static void schema_checked(void *arg, int err, uint32_t version)
{
	struct daemon *d = arg;

	if (err) {
		log_err("store %s: %s; stopping", d->cfg->store_url,
			err == -EPROTONOSUPPORT ?
				"its schema is not one this stratad knows" :
				strerror(-err));
		d->exit_code = 1;
		loop_stop(d->loop);
		return;
	}
	d->store_ready = true;
	log_info("store %s (%s) ready, schema %u", d->cfg->store_url,
		 store_backend(d->store), version);
	route_synced(d->store_owner);
	reg_schedule(d, 0);
	health_sync(d);
}

int daemon_new(const char *cfg_path, struct daemon **out)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[1024];
	int rc;

	if (!d)
		return -ENOMEM;
	d->cfg_path = strdup(cfg_path);
	if (!d->cfg_path) {
		free(d);
		return -ENOMEM;
	}
	rc = cfg_load(cfg_path, &d->cfg, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		goto fail;
	}
	log_set_level(d->cfg->log_level);
	if (log_set_target(d->cfg->log_target, "stratad"))
		log_warn("log target \"%s\" unavailable; logging to stderr",
			 d->cfg->log_target);
	rc = loop_new(&d->loop);
	if (!rc)
		rc = http_new(d->loop, &d->http);
	if (!rc)
		rc = facts_from_config(d->cfg, NULL, &d->facts);
	if (!rc)
		rc = route_model_new(d->loop, d->cfg->resync_ns, &d->routes);
	if (rc) {
		log_err("cannot set up the core: %s", strerror(-rc));
		goto fail;
	}
	rc = kube_nodes_new(d, &d->kube);
	if (rc)
		goto fail;
	rc = open_store(d);
	if (rc)
		goto fail;
	rc = nl_open(d->cfg->rtproto, &d->nl);
	if (rc) {
		log_err("netlink: %s", strerror(-rc));
		goto fail;
	}
	d->started_ns = loop_now();

	for (size_t i = 0; i < d->cfg->n_plugins; i++) {
		const struct cfg_plugin *cp = &d->cfg->plugins[i];
		struct strata_instance *inst;
		struct plug *p;

		rc = plugin_get(d, d->cfg, cp, &p, err, sizeof(err));
		if (rc) {
			log_err("%s:%d: plugins[%zu] (%s): %s", d->cfg->path,
				cp->line, i, cp->instance, err);
			goto fail;
		}
		rc = inst_create(d, cp, p, NULL, &inst);
		if (rc)
			goto fail;
	}
	rc = planner_sync(d);
	if (rc) {
		log_err("planner: %s", strerror(-rc));
		goto fail;
	}

	rc = control_new(d->loop, d->cfg->control_socket, d->cfg->control_mode,
			 d->cfg->control_group, &d->ctl, err, sizeof(err));
	if (rc) {
		log_err("control socket: %s", err);
		goto fail;
	}
	metrics_core_sync(d);
	rc = register_commands(d);
	if (!rc)
		rc = loop_signal(d->loop, SIGTERM, on_terminate, d);
	if (!rc)
		rc = loop_signal(d->loop, SIGINT, on_terminate, d);
	if (!rc)
		rc = loop_signal(d->loop, SIGHUP, on_hangup, d);
	if (rc) {
		log_err("cannot set up signals and commands: %s", strerror(-rc));
		goto fail;
	}
	*out = d;
	return 0;
fail:
	daemon_free(d);
	return rc ? rc : -EINVAL;
}

int daemon_run(struct daemon *d)
{
	int rc;

	for (struct strata_instance *i = d->instances; i; i = i->next) {
		rc = inst_start(i);
		if (rc)
			return 1;
	}
	rc = store_schema_check(d->store, schema_checked, d);
	if (rc) {
		log_err("store: %s", strerror(-rc));
		return 1;
	}
	log_info("stratad %s running: node %s, %zu plugin instance%s, control at %s",
		 PACKAGE_VERSION, d->cfg->node_name, d->cfg->n_plugins,
		 d->cfg->n_plugins == 1 ? "" : "s", d->cfg->control_socket);
	/* every instance started, the control socket listens: ready, without
	 * waiting for the store, which the status command reports */
	notify(d, "READY=1", "running");
	rc = loop_run(d->loop);
	if (rc) {
		log_err("event loop: %s", strerror(-rc));
		return 1;
	}
	log_info("stopped");
	return d->exit_code;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	d->stopping = true;
	health_sync(d);
	/* advertisers first, so no owner's removal triggers a reconcile */
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		if (i->adv) {
			route_adv_remove(i->adv);
			i->adv = NULL;
		}
	}
	while (d->instances)
		inst_destroy(d->instances, false);
	host_ipam_calls_free(d);
	host_policy_free(d);
	planner_free(d->planner);
	if (d->stop_timer)
		loop_timer_cancel(d->stop_timer);
	if (d->reg_timer)
		loop_timer_cancel(d->reg_timer);
	metrics_core_free(d);
	control_free(d->ctl);
	kube_nodes_free(d->kube);
	if (d->store)
		store_close(d->store);
	http_free(d->http);
	route_model_free(d->routes);
	nl_free(d->nl);
	facts_free(d->facts);
	loop_free(d->loop);
	for (size_t i = 0; i < d->n_plugs; i++)
		plug_free(d->plugs[i]);
	free(d->plugs);
	cfg_free(d->cfg);
	free(d->cfg_path);
	free(d);
}
