/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control commands of the health view: `health` (what the store says:
 * the writer's intent, every observer's report, the drain marks, and this
 * node's own probes) and `drain` / `undrain`.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "carving.h"
#include "control.h"
#include "daemon.h"
#include "health_commands.h"
#include "healthview.h"
#include "intent.h"
#include "log.h"
#include "loop.h"
#include "route.h"
#include "store.h"
#include "writer.h"

#define MS 1000000LL
#define DRAIN_POLL_NS (200 * MS)
#define DRAIN_DEFAULT_MS 30000

static void gs(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gki(yajl_gen g, const char *k, long long v)
{
	gs(g, k);
	yajl_gen_integer(g, v);
}

static void gkv(yajl_gen g, const char *k, const char *v)
{
	gs(g, k);
	gs(g, v);
}

static void gen_addr(yajl_gen g, const struct strata_addr *a)
{
	char buf[64];

	route_addr_format(a, buf, sizeof(buf));
	gs(g, buf);
}

static void gen_names(yajl_gen g, const char *k, char *const *v, size_t n)
{
	gs(g, k);
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++)
		gs(g, v[i]);
	yajl_gen_array_close(g);
}

struct view {
	struct intent in;
	bool have;
	struct obs_report *reports;
	size_t n_reports;
	char **drained;
	size_t n_drained;
};

static void view_free(struct view *v)
{
	intent_free(&v->in);
	for (size_t i = 0; i < v->n_reports; i++)
		obs_free(&v->reports[i]);
	free(v->reports);
	for (size_t i = 0; i < v->n_drained; i++)
		free(v->drained[i]);
	free(v->drained);
}

/* 0, or -errno with err saying what was unreadable. */
static int view_load(struct view *v, const struct strata_store_op_result *r,
		     char *err, size_t errlen)
{
	char msg[160];

	memset(v, 0, sizeof(*v));
	if (r[0].n_kvs) {
		if (intent_decode(r[0].kvs[0].value, r[0].kvs[0].value_len,
				  &v->in, msg, sizeof(msg))) {
			snprintf(err, errlen,
				 "the forwarding intent is unreadable: %s", msg);
			return -EINVAL;
		}
		v->have = true;
	}
	v->reports = calloc(r[1].n_kvs ? r[1].n_kvs : 1, sizeof(*v->reports));
	v->drained = calloc(r[2].n_kvs ? r[2].n_kvs : 1, sizeof(*v->drained));
	if (!v->reports || !v->drained)
		return -ENOMEM;
	for (size_t i = 0; i < r[1].n_kvs; i++)
		if (!obs_decode(r[1].kvs[i].value, r[1].kvs[i].value_len,
				&v->reports[v->n_reports], msg, sizeof(msg)))
			v->n_reports++;
	for (size_t i = 0; i < r[2].n_kvs; i++) {
		v->drained[v->n_drained] =
			strdup(r[2].kvs[i].key + strlen(DRAIN_PREFIX));
		if (!v->drained[v->n_drained])
			return -ENOMEM;
		v->n_drained++;
	}
	return 0;
}

static int view_read(struct store *st, store_txn_cb cb, void *arg)
{
	static const struct strata_store_op ops[3] = {
		{ .type = STRATA_OP_RANGE, .key = INTENT_KEY },
		{ .type = STRATA_OP_RANGE, .key = OBS_PREFIX,
		  .flags = STRATA_STORE_PREFIX },
		{ .type = STRATA_OP_RANGE, .key = DRAIN_PREFIX,
		  .flags = STRATA_STORE_PREFIX | STRATA_STORE_KEYS_ONLY },
	};
	struct strata_store_txn txn = { .success = ops, .n_success = 3 };

	return store_txn(st, &txn, cb, arg);
}

static const struct obs_entry *entry_of(const struct view *v,
					const char *observer,
					const char *target)
{
	for (size_t i = 0; i < v->n_reports; i++) {
		if (strcmp(v->reports[i].observer, observer))
			continue;
		for (size_t j = 0; j < v->reports[i].n_entries; j++)
			if (!strcmp(v->reports[i].entries[j].target, target))
				return &v->reports[i].entries[j];
	}
	return NULL;
}

static bool reporting(const struct view *v, const char *observer)
{
	for (size_t i = 0; i < v->n_reports; i++)
		if (!strcmp(v->reports[i].observer, observer))
			return true;
	return false;
}

static void gen_target(yajl_gen g, const struct view *v,
		       const struct intent_target *t)
{
	char buf[64];

	yajl_gen_map_open(g);
	gkv(g, "host", t->host);
	gkv(g, "group", t->group);
	gs(g, "addrs");
	yajl_gen_array_open(g);
	for (uint32_t i = 0; i < t->n_addrs; i++)
		gen_addr(g, &t->addrs[i]);
	yajl_gen_array_close(g);
	gkv(g, "state", intent_state_name(t->state));
	gki(g, "since", t->since_ms);
	gs(g, "routes");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < v->in.n_routes; i++) {
		if (strcmp(v->in.routes[i].host, t->host))
			continue;
		route_prefix_format(&v->in.routes[i].dst, buf, sizeof(buf));
		gs(g, buf);
	}
	yajl_gen_array_close(g);
	gs(g, "observers");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < t->n_observers; i++) {
		const struct obs_entry *e =
			entry_of(v, t->observers[i], t->host);

		yajl_gen_map_open(g);
		gkv(g, "name", t->observers[i]);
		gs(g, "live");
		yajl_gen_bool(g, reporting(v, t->observers[i]));
		gkv(g, "state", intent_state_name(e ? e->state :
						      INTENT_UNKNOWN));
		gki(g, "since", e ? e->since_ms : 0);
		gkv(g, "reason", e ? e->reason : "");
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

static void gen_probe(void *arg, const struct health_info *info)
{
	yajl_gen g = arg;

	yajl_gen_map_open(g);
	gkv(g, "target", info->name);
	gkv(g, "state", health_state_name(info->state));
	gki(g, "probes", (long long)info->probes);
	gki(g, "failed", (long long)info->failed);
	gkv(g, "reason", info->last_reason);
	yajl_gen_map_close(g);
}

struct health_call {
	struct daemon *d;
	struct control_call *call;
};

static void health_read(void *arg, int err,
			const struct strata_store_txn_result *res)
{
	struct health_call *hc = arg;
	struct control_call *call = hc->call;
	struct daemon *d = hc->d;
	struct view v;
	char msg[256] = "";
	yajl_gen g;
	char buf[64];
	int rc;

	free(hc);
	if (err) {
		control_call_fail(call, "health: reading the store: %s",
				  strerror(-err));
		return;
	}
	rc = view_load(&v, res->results, msg, sizeof(msg));
	if (rc) {
		control_call_fail(call, "health: %s",
				  msg[0] ? msg : strerror(-rc));
		view_free(&v);
		return;
	}
	g = control_call_gen(call);
	yajl_gen_map_open(g);
	gs(g, "writer");
	if (v.have)
		gs(g, v.in.writer);
	else
		yajl_gen_null(g);
	gki(g, "term", v.have ? v.in.term : 0);
	if (d->writer) {
		struct writer_stats ws;

		writer_stats(d->writer, &ws);
		gs(g, "writing_here");
		yajl_gen_bool(g, ws.leader);
	}
	gs(g, "routes");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < v.in.n_routes; i++) {
		const struct intent_route *r = &v.in.routes[i];

		yajl_gen_map_open(g);
		route_prefix_format(&r->dst, buf, sizeof(buf));
		gkv(g, "dst", buf);
		gkv(g, "host", r->host);
		gs(g, "via");
		yajl_gen_array_open(g);
		for (uint32_t k = 0; k < r->n_via; k++)
			gen_addr(g, &r->via[k]);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gs(g, "targets");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < v.in.n_targets; i++)
		gen_target(g, &v, &v.in.targets[i]);
	yajl_gen_array_close(g);
	gen_names(g, "unhealthy", v.in.unhealthy, v.in.n_unhealthy);
	gen_names(g, "drained", v.drained, v.n_drained);
	gen_names(g, "alarms", v.in.alarms, v.in.n_alarms);
	gs(g, "probes");
	yajl_gen_array_open(g);
	if (d->hv)
		healthview_probes(d->hv, gen_probe, g);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	control_call_done(call);
	view_free(&v);
}

static void cmd_health(void *arg, struct control_call *call, yajl_val args)
{
	struct daemon *d = arg;
	struct health_call *hc;
	int rc;

	(void)args;
	if (!d->store_ready) {
		control_call_fail(call, "health: the store is not ready yet");
		return;
	}
	hc = malloc(sizeof(*hc));
	if (!hc) {
		control_call_fail(call, "health: out of memory");
		return;
	}
	*hc = (struct health_call){ .d = d, .call = call };
	rc = view_read(d->store, health_read, hc);
	if (rc) {
		free(hc);
		control_call_fail(call, "health: reading the store: %s",
				  strerror(-rc));
	}
}

/* ---- drain ---------------------------------------------------------------- */

struct drain {
	struct daemon *d;
	struct control_call *call;
	char *node;
	bool undo;
	int64_t deadline;
	struct loop_timer *timer;
	char **before; /* the routes on node when the drain began */
	size_t n_before;
	bool started;
};

static void drain_free(struct drain *dr)
{
	loop_timer_cancel(dr->timer);
	for (size_t i = 0; i < dr->n_before; i++)
		free(dr->before[i]);
	free(dr->before);
	free(dr->node);
	free(dr);
}

static void drain_poll(void *arg);

static void drain_read(void *arg, int err, int64_t rev,
		       const struct strata_kv *kvs, size_t n)
{
	struct drain *dr = arg;
	struct intent in = { 0 };
	char msg[160], left[512] = "", buf[64];
	size_t off = 0, on = 0;
	yajl_gen g;

	(void)rev;
	if (err) {
		control_call_fail(dr->call, "drain %s: reading the intent: %s",
				  dr->node, strerror(-err));
		drain_free(dr);
		return;
	}
	if (n && intent_decode(kvs[0].value, kvs[0].value_len, &in, msg,
			       sizeof(msg))) {
		control_call_fail(dr->call,
				  "drain %s: the forwarding intent is unreadable: %s",
				  dr->node, msg);
		drain_free(dr);
		return;
	}
	for (size_t i = 0; i < in.n_routes; i++) {
		if (strcmp(in.routes[i].host, dr->node))
			continue;
		route_prefix_format(&in.routes[i].dst, buf, sizeof(buf));
		if (!dr->started) {
			char **v = realloc(dr->before, (dr->n_before + 1) *
							       sizeof(*v));

			if (v) {
				dr->before = v;
				v[dr->n_before] = strdup(buf);
				if (v[dr->n_before])
					dr->n_before++;
			}
		}
		if (off < sizeof(left))
			off += (size_t)snprintf(left + off, sizeof(left) - off,
						"%s%s", on ? ", " : "", buf);
		on++;
	}
	dr->started = true;
	intent_free(&in);
	if (on && loop_now() < dr->deadline) {
		dr->timer = loop_timer_add(dr->d->loop, DRAIN_POLL_NS, 0,
					   drain_poll, dr);
		if (dr->timer)
			return;
	}
	if (on) {
		control_call_fail(dr->call,
				  "drain %s: %zu route(s) still point at it: %s (is it the only healthy host of its subnet? see stratactl health)",
				  dr->node, on, left);
		drain_free(dr);
		return;
	}
	g = control_call_gen(dr->call);
	yajl_gen_map_open(g);
	gkv(g, "node", dr->node);
	gen_names(g, "moved", dr->before, dr->n_before);
	yajl_gen_map_close(g);
	control_call_done(dr->call);
	drain_free(dr);
}

static void drain_poll(void *arg)
{
	struct drain *dr = arg;
	int rc;

	loop_timer_cancel(dr->timer);
	dr->timer = NULL;
	rc = store_get(dr->d->store, INTENT_KEY, 0, drain_read, dr);
	if (rc) {
		control_call_fail(dr->call, "drain %s: %s", dr->node,
				  strerror(-rc));
		drain_free(dr);
	}
}

static void drain_marked(void *arg, int err, int64_t rev, int64_t n)
{
	struct drain *dr = arg;
	yajl_gen g;

	(void)rev;
	(void)n;
	if (err) {
		control_call_fail(dr->call, "%s %s: writing the store: %s",
				  dr->undo ? "undrain" : "drain", dr->node,
				  strerror(-err));
		drain_free(dr);
		return;
	}
	if (!dr->undo) {
		/* the routes it had, then wait for the writer to move them */
		dr->started = false;
		drain_poll(dr);
		return;
	}
	g = control_call_gen(dr->call);
	yajl_gen_map_open(g);
	gkv(g, "node", dr->node);
	yajl_gen_map_close(g);
	control_call_done(dr->call);
	drain_free(dr);
}

struct find_host {
	const char *name;
	bool found;
};

static void find_host(void *arg, const struct strata_topo_blocks *h)
{
	struct find_host *f = arg;

	if (h->name && !strcmp(h->name, f->name))
		f->found = true;
}

static void skip_node(void *arg, const struct strata_topo_node *n)
{
	(void)arg;
	(void)n;
}

static void drain_call(struct daemon *d, struct control_call *call,
		       yajl_val args, bool undo)
{
	const char *what = undo ? "undrain" : "drain";
	const char *path[] = { "node", NULL }, *tpath[] = { "timeout_ms", NULL };
	yajl_val v = args ? yajl_tree_get(args, path, yajl_t_string) : NULL;
	yajl_val t = args ? yajl_tree_get(args, tpath, yajl_t_number) : NULL;
	struct find_host fh = { 0 };
	struct strata_topo_sink sink = { .size = sizeof(sink), .arg = &fh,
					 .node = skip_node,
					 .host = find_host };
	int64_t timeout_ms = DRAIN_DEFAULT_MS;
	char key[300];
	struct drain *dr;
	int rc;

	if (!v || !*YAJL_GET_STRING(v)) {
		control_call_fail(call, "%s: give the node's name (node=NAME)",
				  what);
		return;
	}
	if (t) {
		if (!YAJL_IS_INTEGER(t) || YAJL_GET_INTEGER(t) < 1 ||
		    YAJL_GET_INTEGER(t) > 3600000) {
			control_call_fail(call,
					  "%s: timeout_ms must be 1..3600000",
					  what);
			return;
		}
		timeout_ms = YAJL_GET_INTEGER(t);
	}
	if (!d->store_ready || !d->writer) {
		control_call_fail(call,
				  "%s: this node has no store or IPAM view yet",
				  what);
		return;
	}
	fh.name = YAJL_GET_STRING(v);
	if (!undo) {
		rc = daemon_view(d, &sink);
		if (rc) {
			control_call_fail(call, "drain: the IPAM's view: %s",
					  strerror(-rc));
			return;
		}
		if (!fh.found) {
			control_call_fail(call,
					  "drain: no host \"%s\" in the topology (stratactl topology lists them)",
					  fh.name);
			return;
		}
	}
	dr = calloc(1, sizeof(*dr));
	if (!dr || !(dr->node = strdup(fh.name))) {
		free(dr);
		control_call_fail(call, "%s: out of memory", what);
		return;
	}
	dr->d = d;
	dr->call = call;
	dr->undo = undo;
	dr->deadline = loop_now() + timeout_ms * MS;
	snprintf(key, sizeof(key), "%s%s", DRAIN_PREFIX, dr->node);
	if (undo)
		rc = store_delete(d->store, key, 0, drain_marked, dr);
	else
		rc = store_put(d->store, key, "stratactl drain", 15, 0,
			       drain_marked, dr);
	if (rc) {
		control_call_fail(call, "%s %s: %s", what, dr->node,
				  strerror(-rc));
		drain_free(dr);
	}
	log_msg(LOG_NOTICE, "health", "%s %s requested", what, fh.name);
}

static void cmd_drain(void *arg, struct control_call *call, yajl_val args)
{
	drain_call(arg, call, args, false);
}

static void cmd_undrain(void *arg, struct control_call *call, yajl_val args)
{
	drain_call(arg, call, args, true);
}

int health_commands_register(struct daemon *d)
{
	int rc = control_register(d->ctl, "health", cmd_health, d);

	if (!rc)
		rc = control_register(d->ctl, "drain", cmd_drain, d);
	if (!rc)
		rc = control_register(d->ctl, "undrain", cmd_undrain, d);
	return rc;
}
