/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "follow.h"
#include "healthview.h"
#include "log.h"
#include "loop.h"
#include "store.h"

#define MS 1000000LL
#define RETRY_NS (1000 * MS)
/* read the intent again now and then: heals a read that failed */
#define REFRESH_NS (10000 * MS)

struct probe {
	char *host;
	struct strata_addr addr;
	int64_t since_ms; /* wall clock of its last state change; 0: none */
};

struct healthview {
	struct loop *loop;
	struct store *st;
	char *node;
	char *path;
	struct healthview_options opt;
	healthview_cb cb;
	void *arg;
	struct follow *f_intent, *f_drain;
	struct loop_timer *refresh;
	bool intent_busy, intent_again;
	bool drain_busy, drain_again;
	struct intent intent;
	int64_t intent_rev; /* its mod revision */
	bool have_intent;
	bool drained;
	char bad[160]; /* the last undecodable intent's error, said once */

	struct health *health;
	struct probe *probes;
	size_t n_probes;

	/* this node's report, on its own lease */
	char key[300];
	int64_t lease;
	bool granting, writing, dirty;
	struct loop_timer *keepalive, *retry;

	unsigned pending; /* store calls whose callbacks are to come */
	bool dead;
};

int64_t healthview_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hv_destroy(struct healthview *hv)
{
	for (size_t i = 0; i < hv->n_probes; i++)
		free(hv->probes[i].host);
	free(hv->probes);
	intent_free(&hv->intent);
	free(hv->node);
	free(hv->path);
	free(hv);
}

/* A store callback came back: false when the view is gone meanwhile. */
static bool hv_back(struct healthview *hv)
{
	hv->pending--;
	if (!hv->dead)
		return true;
	if (!hv->pending)
		hv_destroy(hv);
	return false;
}

static void report_step(struct healthview *hv);

static void retry_fired(void *arg)
{
	struct healthview *hv = arg;

	loop_timer_cancel(hv->retry);
	hv->retry = NULL;
	report_step(hv);
}

static void report_retry(struct healthview *hv)
{
	hv->dirty = true;
	if (!hv->retry)
		hv->retry = loop_timer_add(hv->loop, RETRY_NS, 0, retry_fired,
					   hv);
}

static void report_written(void *arg, int err, int64_t rev, int64_t n)
{
	struct healthview *hv = arg;

	(void)rev;
	(void)n;
	if (!hv_back(hv))
		return;
	hv->writing = false;
	if (err) {
		log_msg(LOG_WARNING, "health",
			"writing this node's health report: %s; retrying",
			strerror(-err));
		if (err == -ENOENT)
			hv->lease = 0;
		report_retry(hv);
		return;
	}
	report_step(hv);
}

static void lease_granted(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct healthview *hv = arg;

	(void)ttl_ms;
	if (!hv_back(hv))
		return;
	hv->granting = false;
	if (err) {
		log_msg(LOG_WARNING, "health",
			"a lease for this node's health report: %s; retrying",
			strerror(-err));
		report_retry(hv);
		return;
	}
	hv->lease = id;
	hv->dirty = true;
	report_step(hv);
}

static void lease_renewed(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct healthview *hv = arg;

	(void)ttl_ms;
	if (!hv_back(hv))
		return;
	if (err && hv->lease == id) {
		/* lapsed (a long stall): report again on a new lease */
		hv->lease = 0;
		hv->dirty = true;
		report_step(hv);
	}
}

static void keepalive_fired(void *arg)
{
	struct healthview *hv = arg;

	if (!hv->lease || hv->granting)
		return;
	if (!store_lease_keepalive(hv->st, hv->lease, lease_renewed, hv))
		hv->pending++;
}

static enum intent_state state_of(enum health_state s)
{
	return s == HEALTH_UP ? INTENT_UP :
	       s == HEALTH_DOWN ? INTENT_DOWN : INTENT_UNKNOWN;
}

static int report_encode(struct healthview *hv, char **buf, size_t *len)
{
	struct obs_report r = { .observer = hv->node };
	int rc;

	r.entries = calloc(hv->n_probes ? hv->n_probes : 1,
			   sizeof(*r.entries));
	if (!r.entries)
		return -ENOMEM;
	for (size_t i = 0; i < hv->n_probes; i++) {
		struct obs_entry *e = &r.entries[r.n_entries];
		struct health_info info;

		if (health_target_state(hv->health, hv->probes[i].host, &info))
			continue;
		e->target = hv->probes[i].host;
		e->state = state_of(info.state);
		e->since_ms = hv->probes[i].since_ms;
		snprintf(e->reason, sizeof(e->reason), "%s",
			 info.last_reason);
		r.n_entries++;
	}
	rc = obs_encode(&r, buf, len);
	free(r.entries);
	return rc;
}

static void report_step(struct healthview *hv)
{
	char *buf;
	size_t len;
	int rc;

	if (hv->dead || !hv->health || hv->granting || hv->writing)
		return;
	if (!hv->lease) {
		rc = store_lease_grant(hv->st, HEALTHVIEW_LEASE_MS, 0,
				       lease_granted, hv);
		if (rc) {
			report_retry(hv);
			return;
		}
		hv->pending++;
		hv->granting = true;
		return;
	}
	if (!hv->dirty)
		return;
	rc = report_encode(hv, &buf, &len);
	if (rc) {
		report_retry(hv);
		return;
	}
	rc = store_put(hv->st, hv->key, buf, len, hv->lease, report_written,
		       hv);
	free(buf);
	if (rc) {
		report_retry(hv);
		return;
	}
	hv->pending++;
	hv->writing = true;
	hv->dirty = false;
}

static struct probe *probe_find(struct healthview *hv, const char *host)
{
	for (size_t i = 0; i < hv->n_probes; i++)
		if (!strcmp(hv->probes[i].host, host))
			return &hv->probes[i];
	return NULL;
}

static void state_changed(void *arg, const char *name, enum health_state state,
			  const char *reason, int64_t when)
{
	struct healthview *hv = arg;
	struct probe *p = probe_find(hv, name);

	log_msg(state == HEALTH_DOWN ? LOG_WARNING : LOG_INFO, "health",
		"%s is %s: %s", name, health_state_name(state), reason);
	if (p)
		p->since_ms = healthview_wall_ms() - (loop_now() - when) / MS;
	hv->dirty = true;
	report_step(hv);
}

static bool mine(const struct healthview *hv, const struct intent_target *t)
{
	for (size_t i = 0; i < t->n_observers; i++)
		if (!strcmp(t->observers[i], hv->node))
			return true;
	return false;
}

static int probe_add(struct healthview *hv, const struct intent_target *t)
{
	struct strata_hc_target ht = { .size = sizeof(ht),
				       .addr = t->addrs[0],
				       .port = hv->opt.port,
				       .path = hv->path,
				       .expect = hv->opt.expect };
	struct probe *v;
	int rc;

	v = realloc(hv->probes, (hv->n_probes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	hv->probes = v;
	v = &hv->probes[hv->n_probes];
	*v = (struct probe){ .addr = t->addrs[0] };
	v->host = strdup(t->host);
	if (!v->host)
		return -ENOMEM;
	rc = health_target_add(hv->health, t->host, hv->opt.ops, hv->opt.self,
			       &ht, &hv->opt.timing);
	if (rc) {
		free(v->host);
		return rc;
	}
	hv->n_probes++;
	return 0;
}

static void probe_remove(struct healthview *hv, size_t i)
{
	health_target_remove(hv->health, hv->probes[i].host);
	free(hv->probes[i].host);
	hv->probes[i] = hv->probes[--hv->n_probes];
}

/* Probe exactly the targets the intent gives this node. */
static void sync_probes(struct healthview *hv)
{
	const struct intent *in = hv->have_intent ? &hv->intent : NULL;
	bool changed = false;

	if (!hv->health)
		return;
	for (size_t i = hv->n_probes; i-- > 0;) {
		const struct intent_target *t = NULL;

		for (size_t j = 0; in && j < in->n_targets; j++)
			if (!strcmp(in->targets[j].host, hv->probes[i].host))
				t = &in->targets[j];
		if (t && mine(hv, t) &&
		    !memcmp(&t->addrs[0], &hv->probes[i].addr,
			    sizeof(t->addrs[0])))
			continue;
		probe_remove(hv, i);
		changed = true;
	}
	for (size_t j = 0; in && j < in->n_targets; j++) {
		const struct intent_target *t = &in->targets[j];
		int rc;

		if (!mine(hv, t) || probe_find(hv, t->host))
			continue;
		rc = probe_add(hv, t);
		if (rc)
			log_msg(LOG_ERR, "health", "cannot probe %s: %s",
				t->host, strerror(-rc));
		changed = true;
	}
	if (changed) {
		hv->dirty = true;
		report_step(hv);
	}
}

static void intent_read(void *arg, int err, int64_t rev,
			const struct strata_kv *kvs, size_t n);

static void read_intent(struct healthview *hv)
{
	if (hv->intent_busy) {
		hv->intent_again = true;
		return;
	}
	if (store_get(hv->st, INTENT_KEY, 0, intent_read, hv))
		return; /* the refresh reads it again */
	hv->pending++;
	hv->intent_busy = true;
}

static void intent_read(void *arg, int err, int64_t rev,
			const struct strata_kv *kvs, size_t n)
{
	struct healthview *hv = arg;
	struct intent next = { 0 };
	char msg[160];

	(void)rev;
	if (!hv_back(hv))
		return;
	hv->intent_busy = false;
	if (hv->intent_again) {
		hv->intent_again = false;
		read_intent(hv);
		return;
	}
	if (err) {
		log_msg(LOG_WARNING, "health", "reading the forwarding intent: %s",
			strerror(-err));
		return; /* the follower's next change or reopen reads again */
	}
	if (n ? hv->have_intent && kvs[0].mod_rev == hv->intent_rev :
		!hv->have_intent)
		return; /* as before */
	if (n) {
		if (intent_decode(kvs[0].value, kvs[0].value_len, &next, msg,
				  sizeof(msg))) {
			if (strcmp(msg, hv->bad))
				log_msg(LOG_ERR, "health",
					"the forwarding intent in the store is unreadable, kept the last one: %s",
					msg);
			snprintf(hv->bad, sizeof(hv->bad), "%s", msg);
			return;
		}
		hv->bad[0] = '\0';
	}
	intent_free(&hv->intent);
	hv->intent = next;
	hv->have_intent = n > 0;
	hv->intent_rev = n ? kvs[0].mod_rev : 0;
	sync_probes(hv);
	hv->cb(hv->arg, hv->have_intent ? &hv->intent : NULL, hv->drained);
}

static void intent_changed(void *arg)
{
	read_intent(arg);
}

static void drain_changed(void *arg);

static void drain_read(void *arg, int err, int64_t rev,
		       const struct strata_kv *kvs, size_t n)
{
	struct healthview *hv = arg;

	(void)rev;
	(void)kvs;
	if (!hv_back(hv))
		return;
	hv->drain_busy = false;
	if (hv->drain_again) {
		hv->drain_again = false;
		drain_changed(hv);
		return;
	}
	if (err)
		return;
	if (hv->drained != (n > 0)) {
		hv->drained = n > 0;
		log_msg(LOG_NOTICE, "health", "node %s is %s", hv->node,
			hv->drained ? "drained: the route writer moves its routes away" :
				      "no longer drained");
		hv->cb(hv->arg, hv->have_intent ? &hv->intent : NULL,
		       hv->drained);
	}
}

static void drain_changed(void *arg)
{
	struct healthview *hv = arg;
	char key[300];

	if (hv->drain_busy) {
		hv->drain_again = true;
		return;
	}
	snprintf(key, sizeof(key), "%s%s", DRAIN_PREFIX, hv->node);
	if (store_get(hv->st, key, STRATA_STORE_KEYS_ONLY, drain_read, hv))
		return;
	hv->pending++;
	hv->drain_busy = true;
}

static int observe(struct healthview *hv, const struct healthview_options *o)
{
	int rc;

	free(hv->path);
	hv->path = o->path ? strdup(o->path) : NULL;
	if (o->path && !hv->path)
		return -ENOMEM;
	hv->opt = *o;
	hv->opt.node = hv->node;
	hv->opt.path = hv->path;
	if (!o->ops)
		return 0;
	rc = health_new(hv->loop, 0, state_changed, hv, &hv->health);
	if (rc)
		return rc;
	hv->keepalive = loop_timer_add(hv->loop, HEALTHVIEW_LEASE_MS * MS / 3,
				       HEALTHVIEW_LEASE_MS * MS / 3,
				       keepalive_fired, hv);
	if (!hv->keepalive)
		return -ENOMEM;
	sync_probes(hv);
	report_step(hv);
	return 0;
}

static void revoked(void *arg, int err, int64_t rev, int64_t n)
{
	(void)err;
	(void)rev;
	(void)n;
	hv_back(arg);
}

static void unobserve(struct healthview *hv)
{
	while (hv->n_probes)
		probe_remove(hv, hv->n_probes - 1);
	health_free(hv->health);
	hv->health = NULL;
	loop_timer_cancel(hv->keepalive);
	hv->keepalive = NULL;
	loop_timer_cancel(hv->retry);
	hv->retry = NULL;
	/* a report that outlives its observer would still count */
	if (hv->lease && !store_lease_revoke(hv->st, hv->lease, revoked, hv))
		hv->pending++;
	hv->lease = 0;
}

static void refreshed(void *arg)
{
	struct healthview *hv = arg;

	read_intent(hv);
	drain_changed(hv);
}

int healthview_new(struct loop *loop, struct store *st,
		   const struct healthview_options *opt, healthview_cb cb,
		   void *arg, struct healthview **out)
{
	struct healthview *hv = calloc(1, sizeof(*hv));
	char key[300];
	int rc = -ENOMEM;

	if (!hv)
		return -ENOMEM;
	hv->loop = loop;
	hv->st = st;
	hv->cb = cb;
	hv->arg = arg;
	hv->node = strdup(opt->node);
	if (!hv->node)
		goto fail;
	snprintf(hv->key, sizeof(hv->key), "%s%s", OBS_PREFIX, hv->node);
	snprintf(key, sizeof(key), "%s%s", DRAIN_PREFIX, hv->node);
	rc = follow_start(loop, st, INTENT_KEY, 0, intent_changed, hv,
			  &hv->f_intent);
	if (!rc)
		rc = follow_start(loop, st, key, 0, drain_changed, hv,
				  &hv->f_drain);
	if (!rc)
		rc = observe(hv, opt);
	if (!rc) {
		hv->refresh = loop_timer_add(loop, REFRESH_NS, REFRESH_NS,
					     refreshed, hv);
		if (!hv->refresh)
			rc = -ENOMEM;
	}
	if (rc)
		goto fail;
	*out = hv;
	return 0;
fail:
	healthview_free(hv);
	return rc;
}

int healthview_set_options(struct healthview *hv,
			   const struct healthview_options *opt)
{
	if (hv->health && opt->ops == hv->opt.ops &&
	    opt->self == hv->opt.self && opt->port == hv->opt.port &&
	    opt->expect == hv->opt.expect &&
	    !strcmp(opt->path ? opt->path : "", hv->path ? hv->path : "")) {
		hv->opt.timing = opt->timing;
		for (size_t i = 0; i < hv->n_probes; i++)
			health_target_set_timing(hv->health,
						 hv->probes[i].host,
						 &opt->timing);
		return 0;
	}
	unobserve(hv);
	return observe(hv, opt);
}

void healthview_free(struct healthview *hv)
{
	if (!hv)
		return;
	follow_stop(hv->f_intent);
	follow_stop(hv->f_drain);
	hv->f_intent = hv->f_drain = NULL;
	loop_timer_cancel(hv->refresh);
	hv->refresh = NULL;
	unobserve(hv);
	hv->dead = true;
	if (!hv->pending)
		hv_destroy(hv);
}

const struct intent *healthview_intent(const struct healthview *hv)
{
	return hv->have_intent ? &hv->intent : NULL;
}

bool healthview_drained(const struct healthview *hv)
{
	return hv->drained;
}

size_t healthview_probes(const struct healthview *hv, health_info_cb cb,
			 void *arg)
{
	return hv->health ? health_list(hv->health, cb, arg) : 0;
}
