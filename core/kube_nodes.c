/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Nodes from the Kubernetes API. One informer on /api/v1/nodes: this
 * node's labels become the facts zone and subnet, and a Node that goes
 * away (a DELETED event, or absent from a re-list) is queued for removal
 * from the IPAM. Only the cluster's route writer removes, so N nodes do
 * not race; the others keep the queue in case leadership moves to them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "daemon.h"
#include "facts.h"
#include "kube.h"
#include "kube_nodes.h"
#include "host_kube.h"
#include "kube_parse.h"
#include "log.h"
#include "loop.h"

#define FACT_SOURCE "kubernetes"
#define RM_RETRY_NS (5 * 1000000000LL)
/* Past a registration's lease (30 s) many times over: then give up. */
#define RM_GIVE_UP_NS (600 * 1000000000LL)
#define RM_MAX 4096

struct removal {
	char *name;
	int64_t since_ns;
	bool in_flight;
	bool busy_logged;
};

struct kube_nodes {
	struct daemon *d;
	struct kube *k;
	struct kube_informer *inf;
	/* the settings the client runs with, to see what a reload changed */
	char *kubeconfig, *node_name, *zone_label, *subnet_label;
	double qps;
	uint32_t burst;
	int64_t watch_timeout_ns;
	bool synced;
	bool own_seen;
	/* what each label last said, to log changes once */
	char *label_value[2];
	bool label_conflict_logged[2];
	struct removal *rm;
	size_t n_rm;
	struct loop_timer *rm_timer;
};

static const char *const fact_names[2] = { "zone", "subnet" };

/* ---- facts from this node's labels ---------------------------------------- */

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* true when the fact changed */
static bool label_to_fact(struct kube_nodes *kn, int i, const char *label,
			  const char *value)
{
	struct facts *f = kn->d->facts;
	const char *was;
	char *copy;
	int rc;

	if (same(kn->label_value[i], value))
		return false;
	copy = value ? strdup(value) : NULL;
	if (value && !copy)
		return false;
	free(kn->label_value[i]);
	kn->label_value[i] = copy;
	kn->label_conflict_logged[i] = false;
	if (!value) {
		log_warn("kube: Node %s lost its label %s; the fact %s keeps %s",
			 kn->node_name, label, fact_names[i],
			 facts_get(f, fact_names[i]) ?
				 facts_get(f, fact_names[i]) : "no value");
		return false;
	}
	was = facts_get(f, fact_names[i]);
	rc = facts_set(f, fact_names[i], value, FACT_SOURCE);
	if (rc == -EEXIST) {
		log_warn("kube: Node %s label %s=%s differs from the config's %s=%s; the config wins",
			 kn->node_name, label, value, fact_names[i], was);
		kn->label_conflict_logged[i] = true;
		return false;
	}
	if (rc) {
		log_warn("kube: Node %s label %s=%s: not a usable %s fact: %s",
			 kn->node_name, label, value, fact_names[i],
			 strerror(-rc));
		return false;
	}
	if (was && !strcmp(was, value))
		return false;
	if (was)
		log_info("kube: node fact %s changed from %s to %s (label %s)",
			 fact_names[i], was, value, label);
	else
		log_info("kube: node fact %s=%s (label %s)", fact_names[i],
			 value, label);
	return true;
}

static void own_node(struct kube_nodes *kn, yajl_val obj)
{
	const char *labels[2] = { kn->zone_label, kn->subnet_label };
	bool changed = false;

	kn->own_seen = true;
	for (int i = 0; i < 2; i++)
		changed |= label_to_fact(kn, i, labels[i],
					 kube_object_label(obj, labels[i]));
	if (changed)
		daemon_facts_changed(kn->d);
}

/* ---- removals ------------------------------------------------------------- */

static struct removal *rm_find(struct kube_nodes *kn, const char *name)
{
	for (size_t i = 0; i < kn->n_rm; i++)
		if (!strcmp(kn->rm[i].name, name))
			return &kn->rm[i];
	return NULL;
}

static void rm_drop(struct kube_nodes *kn, struct removal *r)
{
	size_t i = (size_t)(r - kn->rm);

	free(r->name);
	kn->rm[i] = kn->rm[--kn->n_rm];
}

static void rm_step(void *arg);

static void rm_arm(struct kube_nodes *kn, int64_t delay_ns)
{
	if (kn->rm_timer)
		loop_timer_reset(kn->rm_timer, delay_ns);
	else
		kn->rm_timer = loop_timer_add(kn->d->loop, delay_ns, 0, rm_step,
					      kn);
}

struct rm_call {
	struct kube_nodes *kn;
	char name[];
};

static void rm_done(void *arg, int err, const char *text)
{
	struct rm_call *c = arg;
	struct kube_nodes *kn = c->kn;
	struct removal *r = rm_find(kn, c->name);

	if (r)
		r->in_flight = false;
	if (!err || err == -ENOENT) {
		if (!err)
			log_info("kube: Node %s is gone: its blocks went back to its subnet",
				 c->name);
		else
			log_info("kube: Node %s is gone; it held no blocks",
				 c->name);
		if (r)
			rm_drop(kn, r);
	} else {
		log_warn("kube: returning the blocks of deleted Node %s: %s; retrying",
			 c->name, text ? text : strerror(-err));
		rm_arm(kn, RM_RETRY_NS);
	}
	free(c);
}

static void rm_try(struct kube_nodes *kn, struct removal *r)
{
	size_t len = strlen(r->name);
	struct rm_call *c = malloc(sizeof(*c) + len + 1);
	int rc;

	if (!c)
		return;
	c->kn = kn;
	memcpy(c->name, r->name, len + 1);
	/* in flight before the call, should its callback come at once */
	r->in_flight = true;
	rc = daemon_host_remove(kn->d, r->name, rm_done, c);
	if (!rc)
		return;
	r->in_flight = false;
	free(c);
	if (rc == -ENOENT) {
		log_info("kube: Node %s is gone; it held no blocks", r->name);
		rm_drop(kn, r);
	} else if (rc == -EBUSY) {
		if (!r->busy_logged)
			log_info("kube: Node %s is gone but its stratad's registration is still alive; waiting for it to lapse",
				 r->name);
		r->busy_logged = true;
	} else if (rc != -EAGAIN && rc != -EALREADY) {
		log_warn("kube: returning the blocks of deleted Node %s: %s; retrying",
			 r->name, strerror(-rc));
	}
}

static void rm_step(void *arg)
{
	struct kube_nodes *kn = arg;
	int64_t now = loop_now();
	size_t i = 0;

	loop_timer_cancel(kn->rm_timer);
	kn->rm_timer = NULL;
	while (i < kn->n_rm) {
		struct removal *r = &kn->rm[i];

		if (now - r->since_ns > RM_GIVE_UP_NS && !r->in_flight) {
			log_warn("kube: Node %s was deleted %lld s ago and its blocks are still held; giving up (stratactl host-remove %s returns them)",
				 r->name, (long long)(RM_GIVE_UP_NS / 1000000000LL),
				 r->name);
			rm_drop(kn, r);
			continue;
		}
		if (!r->in_flight && daemon_route_writer(kn->d)) {
			size_t n = kn->n_rm;

			rm_try(kn, r);
			if (kn->n_rm < n)
				continue; /* dropped: i now holds another */
		}
		i++;
	}
	if (kn->n_rm)
		rm_arm(kn, RM_RETRY_NS);
}

static void rm_queue(struct kube_nodes *kn, const char *name)
{
	struct removal *v;
	char *copy;

	if (!strcmp(name, kn->node_name) || rm_find(kn, name))
		return;
	if (kn->n_rm == RM_MAX) {
		log_warn("kube: %d Node removals waiting; Node %s is not queued",
			 RM_MAX, name);
		return;
	}
	v = realloc(kn->rm, (kn->n_rm + 1) * sizeof(*v));
	copy = strdup(name);
	if (v)
		kn->rm = v;
	if (!v || !copy) {
		free(copy);
		return;
	}
	kn->rm[kn->n_rm++] = (struct removal){ .name = copy,
					       .since_ns = loop_now() };
	log_info("kube: Node %s deleted from the API", name);
	rm_arm(kn, 0);
}

/* ---- the informer --------------------------------------------------------- */

static void node_event(void *arg, enum kube_event ev, const char *key,
		       yajl_val obj)
{
	struct kube_nodes *kn = arg;
	struct removal *r;

	switch (ev) {
	case KUBE_SYNCED:
		if (kn->synced)
			return;
		kn->synced = true;
		log_info("kube: Nodes listed from %s: %zu", kube_server(kn->k),
			 kube_informer_count(kn->inf));
		if (!kn->own_seen)
			log_warn("kube: no Node %s in the API; zone and subnet come from the config only",
				 kn->node_name);
		daemon_facts_changed(kn->d); /* the wait for the list is over */
		return;
	case KUBE_ADDED:
	case KUBE_MODIFIED:
		r = rm_find(kn, key);
		if (r && !r->in_flight) {
			log_info("kube: Node %s is back; its blocks stay",
				 key);
			rm_drop(kn, r);
		}
		if (!strcmp(key, kn->node_name))
			own_node(kn, obj);
		return;
	case KUBE_DELETED:
		if (!strcmp(key, kn->node_name)) {
			log_warn("kube: this node's Node %s was deleted from the API",
				 key);
			return;
		}
		rm_queue(kn, key);
		return;
	}
}

static void settings_free(struct kube_nodes *kn)
{
	free(kn->kubeconfig);
	free(kn->node_name);
	free(kn->zone_label);
	free(kn->subnet_label);
	kn->kubeconfig = kn->node_name = kn->zone_label = NULL;
	kn->subnet_label = NULL;
}

static void client_stop(struct kube_nodes *kn)
{
	/* the plugins' watches let go first, and resume on the next one */
	if (kn->k && kn->d->kube_client == kn->k) {
		host_kube_unbind(kn->d);
		kn->d->kube_client = NULL;
	}
	kube_informer_free(kn->inf);
	kube_free(kn->k);
	kn->inf = NULL;
	kn->k = NULL;
}

static int client_start(struct kube_nodes *kn, const struct cfg_kube *c)
{
	struct kube_options opt = {
		.kubeconfig = c->kubeconfig,
		.qps = c->qps,
		.burst = c->burst,
		.watch_timeout_ns = c->watch_timeout_ns,
	};
	char err[512];
	int rc;

	settings_free(kn);
	kn->qps = c->qps;
	kn->burst = c->burst;
	kn->watch_timeout_ns = c->watch_timeout_ns;
	if ((c->kubeconfig && !(kn->kubeconfig = strdup(c->kubeconfig))) ||
	    !(kn->node_name = strdup(c->node_name)) ||
	    !(kn->zone_label = strdup(c->zone_label)) ||
	    !(kn->subnet_label = strdup(c->subnet_label)))
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		free(kn->label_value[i]);
		kn->label_value[i] = NULL;
	}
	kn->own_seen = false;
	err[0] = '\0';
	rc = kube_new(kn->d->loop, kn->d->http, &opt, &kn->k, err,
		      sizeof(err));
	if (rc) {
		log_err("kube: %s", err[0] ? err : strerror(-rc));
		return rc;
	}
	rc = kube_informer_new(kn->k, "/api/v1/nodes", node_event, kn,
			       &kn->inf);
	if (rc) {
		client_stop(kn);
		return rc;
	}
	log_info("kube: watching Nodes at %s as Node %s (labels %s, %s)",
		 kube_server(kn->k), kn->node_name, kn->zone_label,
		 kn->subnet_label);
	kn->d->kube_client = kn->k;
	host_kube_bind(kn->d);
	return 0;
}

int kube_nodes_new(struct daemon *d, struct kube_nodes **out)
{
	struct kube_nodes *kn;
	int rc;

	*out = NULL;
	if (!d->cfg->kube.enabled)
		return 0;
	kn = calloc(1, sizeof(*kn));
	if (!kn)
		return -ENOMEM;
	kn->d = d;
	rc = client_start(kn, &d->cfg->kube);
	if (rc) {
		kube_nodes_free(kn);
		return rc;
	}
	*out = kn;
	return 0;
}

void kube_nodes_free(struct kube_nodes *kn)
{
	if (!kn)
		return;
	client_stop(kn);
	loop_timer_cancel(kn->rm_timer);
	for (size_t i = 0; i < kn->n_rm; i++)
		free(kn->rm[i].name);
	free(kn->rm);
	for (int i = 0; i < 2; i++)
		free(kn->label_value[i]);
	settings_free(kn);
	free(kn);
}

static bool settings_same(const struct kube_nodes *kn,
			  const struct cfg_kube *c)
{
	return same(kn->kubeconfig, c->kubeconfig) &&
	       same(kn->node_name, c->node_name) &&
	       same(kn->zone_label, c->zone_label) &&
	       same(kn->subnet_label, c->subnet_label) && kn->qps == c->qps &&
	       kn->burst == c->burst &&
	       kn->watch_timeout_ns == c->watch_timeout_ns;
}

int kube_nodes_reload(struct daemon *d)
{
	const struct cfg_kube *c = &d->cfg->kube;
	struct kube_nodes *kn = d->kube;

	if (!c->enabled) {
		/* kept: a removal in flight still calls back into it */
		if (kn && kn->k)
			log_info("kube: the kubernetes group is gone; no longer watching Nodes");
		if (kn) {
			client_stop(kn);
			kn->synced = true;
		}
		return 0;
	}
	if (!kn)
		return kube_nodes_new(d, &d->kube);
	if (kn->k && settings_same(kn, c))
		return 0;
	if (kn->k)
		log_info("kube: settings changed; listing Nodes again");
	client_stop(kn);
	/* still synced: the facts already published stand meanwhile */
	return client_start(kn, c);
}

bool kube_nodes_synced(const struct kube_nodes *kn)
{
	return !kn || kn->synced;
}

size_t kube_nodes_count(const struct kube_nodes *kn)
{
	return kn && kn->inf ? kube_informer_count(kn->inf) : 0;
}

size_t kube_nodes_pending(const struct kube_nodes *kn)
{
	return kn ? kn->n_rm : 0;
}
