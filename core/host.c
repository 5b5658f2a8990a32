/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host services table handed to every plugin instance. Each entry
 * checks its arguments, does the work through a core module, and tracks
 * what the instance holds so that it can be released at destroy.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <yajl/yajl_gen.h>

#include "cfg.h"
#include "daemon.h"
#include "facts.h"
#include "writer.h"
#include "host.h"
#include "host_kube.h"
#include "host_policy.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "nl.h"
#include "plug.h"
#include "route.h"
#include "store.h"

enum res_kind { RES_WATCH, RES_TIMER, RES_DEFER, RES_HTTP, RES_STORE_WATCH };

/* One loop resource held by an instance, on the instance's list. */
struct host_res {
	enum res_kind kind;
	struct strata_instance *inst;
	struct host_res *prev, *next;
	union {
		struct loop_fd *fd;
		struct loop_timer *timer;
		struct loop_defer *defer;
		struct http_call *http;
		struct store_watch *store;
	} h;
	union {
		strata_fd_cb fd;
		strata_cb plain;
		strata_http_cb http;
		strata_store_watch_cb store;
	} cb;
	void *arg;
	bool oneshot;
	bool firing;
	bool dead;
};

/* The public handles are the tracking records themselves. */
struct strata_watch {
	struct host_res r;
};
struct strata_timer {
	struct host_res r;
};
struct strata_http_call {
	struct host_res r;
};
struct strata_store_watch {
	struct host_res r;
};

struct strata_status {
	yajl_gen g;
};

struct host_post {
	struct daemon *d;
	uint64_t id;
	strata_cb cb;
	void *arg;
};

static void ipam_gone(struct strata_instance *ipam);

static struct host_res *res_new(struct strata_instance *inst,
				enum res_kind kind)
{
	struct host_res *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->kind = kind;
	r->inst = inst;
	r->next = inst->res;
	if (inst->res)
		inst->res->prev = r;
	inst->res = r;
	return r;
}

static void res_unlink(struct host_res *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->inst->res = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

/* Undo the loop side of a resource and free the record. */
static void res_release(struct host_res *r)
{
	res_unlink(r);
	switch (r->kind) {
	case RES_WATCH:
		loop_fd_del(r->h.fd);
		break;
	case RES_TIMER:
		loop_timer_cancel(r->h.timer);
		break;
	case RES_DEFER:
		loop_defer_cancel(r->h.defer);
		break;
	case RES_HTTP:
		http_cancel(r->h.http);
		break;
	case RES_STORE_WATCH:
		store_watch_cancel(r->h.store);
		break;
	}
	if (r->firing) {
		/* freed by the dispatcher once the callback returns */
		r->dead = true;
		return;
	}
	free(r);
}

void host_release_all(struct strata_instance *inst)
{
	unsigned n = 0;

	if (inst->d) {
		ipam_gone(inst);
		host_policy_gone(inst);
		host_kube_gone(inst);
	}

	while (inst->res) {
		res_release(inst->res);
		n++;
	}
	if (n)
		log_msg(LOG_DEBUG, inst->prefix,
			"released %u loop resources left at destroy", n);
}

static bool inst_ok(struct strata_instance *inst)
{
	return inst && inst->d;
}

/* ---- logging ---------------------------------------------------------- */

static void host_vlog(struct strata_instance *inst, int level,
		      const char *fmt, va_list ap)
{
	if (!inst_ok(inst) || !fmt)
		return;
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (level == LOG_DEBUG && inst->debug)
		log_vmsg_force(level, inst->prefix, fmt, ap);
	else
		log_vmsg(level, inst->prefix, fmt, ap);
}

static void host_log(struct strata_instance *inst, int level,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static const char *host_instance_name(struct strata_instance *inst)
{
	return inst_ok(inst) ? inst->name : NULL;
}

/* ---- configuration ------------------------------------------------------ */

static const struct strata_cfg_key *schema_of(struct strata_instance *inst)
{
	return inst->plug->desc->config;
}

static int host_cfg_bool(struct strata_instance *inst, const char *key,
			 int *out)
{
	if (!inst_ok(inst) || !key || !out)
		return -EINVAL;
	return cfg_get_bool(inst->cfg, schema_of(inst), key, out);
}

static int host_cfg_int(struct strata_instance *inst, const char *key,
			int64_t *out)
{
	if (!inst_ok(inst) || !key || !out)
		return -EINVAL;
	return cfg_get_int(inst->cfg, schema_of(inst), key, out);
}

static int host_cfg_duration(struct strata_instance *inst, const char *key,
			     int64_t *out_ns)
{
	if (!inst_ok(inst) || !key || !out_ns)
		return -EINVAL;
	return cfg_get_duration(inst->cfg, schema_of(inst), key, out_ns);
}

static const char *host_cfg_string(struct strata_instance *inst,
				   const char *key)
{
	if (!inst_ok(inst) || !key)
		return NULL;
	return cfg_get_string(inst->cfg, schema_of(inst), key);
}

static int host_cfg_strings_count(struct strata_instance *inst,
				  const char *key)
{
	if (!inst_ok(inst) || !key)
		return -EINVAL;
	return cfg_get_strings_count(inst->cfg, schema_of(inst), key);
}

static const char *host_cfg_strings_at(struct strata_instance *inst,
				       const char *key, uint32_t index)
{
	if (!inst_ok(inst) || !key)
		return NULL;
	return cfg_get_strings_at(inst->cfg, schema_of(inst), key, index);
}

/* ---- the loop ------------------------------------------------------------ */

static int64_t host_now(void)
{
	return loop_now();
}

static uint32_t to_epoll(uint32_t ev)
{
	uint32_t e = 0;

	if (ev & STRATA_FD_IN)
		e |= EPOLLIN;
	if (ev & STRATA_FD_OUT)
		e |= EPOLLOUT;
	return e;
}

static uint32_t from_epoll(uint32_t e)
{
	uint32_t ev = 0;

	if (e & EPOLLIN)
		ev |= STRATA_FD_IN;
	if (e & EPOLLOUT)
		ev |= STRATA_FD_OUT;
	if (e & EPOLLERR)
		ev |= STRATA_FD_ERR;
	if (e & (EPOLLHUP | EPOLLRDHUP))
		ev |= STRATA_FD_HUP;
	return ev;
}

static void fire_begin(struct host_res *r)
{
	r->firing = true;
}

/* After a callback: free the record if it was released meanwhile. */
static bool fire_end(struct host_res *r)
{
	r->firing = false;
	if (r->dead) {
		free(r);
		return false;
	}
	return true;
}

static void watch_fire(void *arg, int fd, uint32_t events)
{
	struct host_res *r = arg;

	fire_begin(r);
	r->cb.fd(r->arg, fd, from_epoll(events));
	fire_end(r);
}

static struct strata_watch *host_fd_watch(struct strata_instance *inst,
					  int fd, uint32_t events,
					  strata_fd_cb cb, void *arg)
{
	struct host_res *r;

	if (!inst_ok(inst) || fd < 0 || !cb) {
		errno = EINVAL;
		return NULL;
	}
	r = res_new(inst, RES_WATCH);
	if (!r)
		return NULL;
	r->cb.fd = cb;
	r->arg = arg;
	r->h.fd = loop_fd_add(inst->d->loop, fd, to_epoll(events), watch_fire, r);
	if (!r->h.fd) {
		int e = errno;

		res_unlink(r);
		free(r);
		errno = e;
		return NULL;
	}
	return (struct strata_watch *)r;
}

static int host_fd_modify(struct strata_instance *inst, struct strata_watch *w,
			  uint32_t events)
{
	if (!inst_ok(inst) || !w || w->r.inst != inst || w->r.dead)
		return -EINVAL;
	return loop_fd_mod(w->r.h.fd, to_epoll(events));
}

static void host_fd_unwatch(struct strata_instance *inst,
			    struct strata_watch *w)
{
	if (!inst_ok(inst) || !w || w->r.inst != inst || w->r.dead)
		return;
	res_release(&w->r);
}

static void timer_fire(void *arg)
{
	struct host_res *r = arg;

	fire_begin(r);
	r->cb.plain(r->arg);
	/* a fired one-shot's handle is spent (the plugin ABI says so) */
	if (fire_end(r) && r->oneshot)
		res_release(r);
}

static struct strata_timer *host_timer_start(struct strata_instance *inst,
					     int64_t delay_ns,
					     int64_t period_ns, strata_cb cb,
					     void *arg)
{
	struct host_res *r;

	if (!inst_ok(inst) || !cb || delay_ns < 0 || period_ns < 0) {
		errno = EINVAL;
		return NULL;
	}
	r = res_new(inst, RES_TIMER);
	if (!r)
		return NULL;
	r->cb.plain = cb;
	r->arg = arg;
	r->oneshot = period_ns == 0;
	r->h.timer = loop_timer_add(inst->d->loop, delay_ns, period_ns,
				    timer_fire, r);
	if (!r->h.timer) {
		int e = errno;

		res_unlink(r);
		free(r);
		errno = e;
		return NULL;
	}
	return (struct strata_timer *)r;
}

static void host_timer_stop(struct strata_instance *inst,
			    struct strata_timer *t)
{
	if (!inst_ok(inst) || !t || t->r.inst != inst || t->r.dead)
		return;
	res_release(&t->r);
}

static void defer_fire(void *arg)
{
	struct host_res *r = arg;
	strata_cb cb = r->cb.plain;
	void *cb_arg = r->arg;

	res_unlink(r);
	free(r);
	cb(cb_arg);
}

static int host_defer(struct strata_instance *inst, strata_cb cb, void *arg)
{
	struct host_res *r;

	if (!inst_ok(inst) || !cb)
		return -EINVAL;
	r = res_new(inst, RES_DEFER);
	if (!r)
		return -ENOMEM;
	r->cb.plain = cb;
	r->arg = arg;
	r->h.defer = loop_defer(inst->d->loop, defer_fire, r);
	if (!r->h.defer) {
		res_unlink(r);
		free(r);
		return -ENOMEM;
	}
	return 0;
}

static void post_fire(void *arg)
{
	struct host_post *p = arg;
	struct strata_instance *inst = daemon_instance_by_id(p->d, p->id);

	/* an instance destroyed meanwhile never sees its posts */
	if (inst)
		p->cb(p->arg);
	free(p);
}

/* Any thread, until the instance's destroy() has returned (a plugin joins
 * its threads in destroy), so inst is alive here. */
static int host_post(struct strata_instance *inst, strata_cb cb, void *arg)
{
	struct host_post *p;
	int err;

	if (!inst || !cb)
		return -EINVAL;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->d = inst->d;
	p->id = inst->id;
	p->cb = cb;
	p->arg = arg;
	err = loop_post(inst->d->loop, post_fire, p);
	if (err)
		free(p);
	return err;
}

/* ---- HTTP ------------------------------------------------------------------ */

static void http_done(void *arg, const struct strata_http_response *resp)
{
	struct host_res *r = arg;
	strata_http_cb cb = r->cb.http;
	void *cb_arg = r->arg;

	res_unlink(r);
	free(r);
	cb(cb_arg, resp);
}

static struct strata_http_call *
host_http_start(struct strata_instance *inst,
		const struct strata_http_request *req, strata_http_cb cb,
		void *arg)
{
	struct host_res *r;

	if (!inst_ok(inst) || !req || !cb) {
		errno = EINVAL;
		return NULL;
	}
	r = res_new(inst, RES_HTTP);
	if (!r)
		return NULL;
	r->cb.http = cb;
	r->arg = arg;
	r->h.http = http_start(inst->d->http, req, http_done, r);
	if (!r->h.http) {
		int e = errno;

		res_unlink(r);
		free(r);
		errno = e;
		return NULL;
	}
	return (struct strata_http_call *)r;
}

static void host_http_cancel(struct strata_instance *inst,
			     struct strata_http_call *c)
{
	if (!inst_ok(inst) || !c || c->r.inst != inst)
		return;
	res_release(&c->r);
}

/* ---- kernel routes ------------------------------------------------------- */

static int host_kroute_list(struct strata_instance *inst, uint32_t family,
			    uint32_t table, strata_route_cb cb, void *arg)
{
	if (!inst_ok(inst) || !cb)
		return -EINVAL;
	if (!inst->d->nl)
		return -ENOTCONN;
	return nl_route_list(inst->d->nl, family, table, cb, arg);
}

static int host_kroute_replace(struct strata_instance *inst,
			       const struct strata_route *route)
{
	if (!inst_ok(inst) || !route)
		return -EINVAL;
	if (!inst->d->nl)
		return -ENOTCONN;
	return nl_route_replace(inst->d->nl, route);
}

static int host_kroute_delete(struct strata_instance *inst,
			      const struct strata_route *route)
{
	if (!inst_ok(inst) || !route)
		return -EINVAL;
	if (!inst->d->nl)
		return -ENOTCONN;
	return nl_route_delete(inst->d->nl, route);
}

/* ---- the route writer ---------------------------------------------------- */

static int64_t host_route_writer_remaining(struct strata_instance *inst)
{
	if (!inst_ok(inst))
		return 0;
	return writer_remaining(inst->d->writer);
}

/* ---- node facts ---------------------------------------------------------- */

static const char *host_fact_get(struct strata_instance *inst,
				 const char *name)
{
	if (!inst_ok(inst) || !name)
		return NULL;
	return facts_get(inst->d->facts, name);
}

static int host_fact_set(struct strata_instance *inst, const char *name,
			 const char *value)
{
	int err;

	if (!inst_ok(inst) || !name || !value)
		return -EINVAL;
	err = facts_set(inst->d->facts, name, value, inst->name);
	if (err == -EEXIST) {
		log_msg(LOG_WARNING, inst->prefix,
			"fact %s=%s differs from the config's %s; the config wins",
			name, value, facts_get(inst->d->facts, name));
		return err;
	}
	if (err)
		return err;
	log_msg(LOG_INFO, inst->prefix, "node fact %s=%s", name, value);
	daemon_facts_changed(inst->d);
	return 0;
}

/* ---- the cluster store -------------------------------------------------- */

/* A store call in flight. Store calls cannot be cancelled, so the
 * completion finds its instance by id and is dropped if it is gone. */
struct store_call {
	struct daemon *d;
	uint64_t id;
	union {
		strata_store_txn_cb txn;
		strata_store_range_cb range;
		strata_store_done_cb done;
		strata_store_lease_cb lease;
	} cb;
	void *arg;
};

static struct store_call *call_new(struct strata_instance *inst, void *cb,
				   void *arg)
{
	struct store_call *c;

	if (!inst_ok(inst) || !cb)
		return NULL;
	c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	c->d = inst->d;
	c->id = inst->id;
	c->arg = arg;
	return c;
}

/* The call's record is freed here; true when its instance still lives. */
static bool call_end(struct store_call *c, struct store_call *copy)
{
	*copy = *c;
	free(c);
	return daemon_instance_by_id(copy->d, copy->id) != NULL;
}

static int call_start(struct store_call *c, int rc)
{
	if (rc)
		free(c);
	return rc;
}

static void txn_done(void *arg, int err, const struct strata_store_txn_result *res)
{
	struct store_call c;

	if (call_end(arg, &c))
		c.cb.txn(c.arg, err, res);
}

static void range_done(void *arg, int err, int64_t rev,
		       const struct strata_kv *kvs, size_t n)
{
	struct store_call c;

	if (call_end(arg, &c))
		c.cb.range(c.arg, err, rev, kvs, n);
}

static void write_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct store_call c;

	if (call_end(arg, &c))
		c.cb.done(c.arg, err, rev, n);
}

static void lease_done(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct store_call c;

	if (call_end(arg, &c))
		c.cb.lease(c.arg, err, id, ttl_ms);
}

#define STORE_CALL(inst, field, fn, arg)                                  \
	struct store_call *c;                                             \
	if (!inst_ok(inst) || !(fn))                                      \
		return -EINVAL;                                           \
	if (!(inst)->d->store)                                            \
		return -ENOTCONN;                                         \
	c = call_new(inst, (void *)(fn), arg);                            \
	if (!c)                                                           \
		return -ENOMEM;                                           \
	c->cb.field = (fn)

static int host_store_txn(struct strata_instance *inst,
			  const struct strata_store_txn *txn,
			  strata_store_txn_cb cb, void *arg)
{
	STORE_CALL(inst, txn, cb, arg);
	if (!txn)
		return call_start(c, -EINVAL);
	return call_start(c, store_txn(inst->d->store, txn, txn_done, c));
}

static int host_store_get(struct strata_instance *inst, const char *key,
			  uint32_t flags, strata_store_range_cb cb, void *arg)
{
	STORE_CALL(inst, range, cb, arg);
	if (!key)
		return call_start(c, -EINVAL);
	return call_start(c, store_get(inst->d->store, key, flags, range_done, c));
}

static int host_store_put(struct strata_instance *inst, const char *key,
			  const void *value, size_t value_len, int64_t lease,
			  strata_store_done_cb cb, void *arg)
{
	STORE_CALL(inst, done, cb, arg);
	if (!key || (!value && value_len))
		return call_start(c, -EINVAL);
	return call_start(c, store_put(inst->d->store, key, value, value_len,
				       lease, write_done, c));
}

static int host_store_delete(struct strata_instance *inst, const char *key,
			     uint32_t flags, strata_store_done_cb cb, void *arg)
{
	STORE_CALL(inst, done, cb, arg);
	if (!key)
		return call_start(c, -EINVAL);
	return call_start(c, store_delete(inst->d->store, key, flags,
					  write_done, c));
}

static int host_store_lease_grant(struct strata_instance *inst, int64_t ttl_ms,
				  strata_store_lease_cb cb, void *arg)
{
	STORE_CALL(inst, lease, cb, arg);
	if (ttl_ms <= 0)
		return call_start(c, -EINVAL);
	return call_start(c, store_lease_grant(inst->d->store, ttl_ms, 0,
					       lease_done, c));
}

static int host_store_lease_keepalive(struct strata_instance *inst,
				      int64_t id, strata_store_lease_cb cb,
				      void *arg)
{
	STORE_CALL(inst, lease, cb, arg);
	return call_start(c, store_lease_keepalive(inst->d->store, id,
						   lease_done, c));
}

static int host_store_lease_revoke(struct strata_instance *inst, int64_t id,
				   strata_store_done_cb cb, void *arg)
{
	STORE_CALL(inst, done, cb, arg);
	return call_start(c, store_lease_revoke(inst->d->store, id, write_done,
						c));
}

static void watch_events(void *arg, int err, int64_t rev,
			 const struct strata_store_event *ev, size_t n)
{
	struct host_res *r = arg;

	fire_begin(r);
	r->cb.store(r->arg, err, rev, ev, n);
	fire_end(r);
}

static struct strata_store_watch *
host_store_watch(struct strata_instance *inst, const char *key, uint32_t flags,
		 int64_t start_rev, strata_store_watch_cb cb, void *arg)
{
	struct host_res *r;
	int rc;

	if (!inst_ok(inst) || !key || !cb) {
		errno = EINVAL;
		return NULL;
	}
	if (!inst->d->store) {
		errno = ENOTCONN;
		return NULL;
	}
	r = res_new(inst, RES_STORE_WATCH);
	if (!r)
		return NULL;
	r->cb.store = cb;
	r->arg = arg;
	rc = store_watch(inst->d->store, key, flags, start_rev, watch_events, r,
			 &r->h.store);
	if (rc) {
		res_unlink(r);
		free(r);
		errno = -rc;
		return NULL;
	}
	return (struct strata_store_watch *)r;
}

static void host_store_watch_cancel(struct strata_instance *inst,
				    struct strata_store_watch *w)
{
	if (!inst_ok(inst) || !w || w->r.inst != inst || w->r.dead)
		return;
	res_release(&w->r);
}

/* ---- the route model ----------------------------------------------------- */

static int host_route_owner(struct strata_instance *inst)
{
	if (!inst_ok(inst))
		return -EINVAL;
	inst->owner_claimed = true;
	if (inst->owner) {
		/* a restarted instance states its routes again */
		route_owner_restate(inst->owner);
		return 0;
	}
	inst->owner = route_owner_add(inst->d->routes, inst->name);
	return inst->owner ? 0 : -ENOMEM;
}

static int log_route_err(struct strata_instance *inst, const char *what,
			 const struct strata_route *r, int err)
{
	char buf[512];

	if (err && r) {
		route_format(r, buf, sizeof(buf));
		log_msg(LOG_WARNING, inst->prefix, "%s %s: %s", what, buf,
			strerror(-err));
	}
	return err;
}

static int host_route_set(struct strata_instance *inst,
			  const struct strata_route *route)
{
	if (!inst_ok(inst) || !route)
		return -EINVAL;
	if (!inst->owner)
		return -EPERM;
	return log_route_err(inst, "route refused:", route,
			     route_set(inst->owner, route));
}

static int host_route_unset(struct strata_instance *inst, uint32_t scope,
			    const struct strata_prefix *dst)
{
	if (!inst_ok(inst) || !dst)
		return -EINVAL;
	if (!inst->owner)
		return -EPERM;
	return route_unset(inst->owner, scope, dst);
}

static int host_route_synced(struct strata_instance *inst)
{
	if (!inst_ok(inst))
		return -EINVAL;
	if (!inst->owner)
		return -EPERM;
	return route_synced(inst->owner);
}

static int host_route_resync(struct strata_instance *inst)
{
	if (!inst_ok(inst))
		return -EINVAL;
	if (!inst->adv)
		return -EPERM;
	route_resync_soon(inst->d->routes, inst->adv);
	return 0;
}

/* ---- metrics ------------------------------------------------------------- */

/* The plugin's own words: -EINVAL, -ENOSPC or -ENOMEM from metrics.c. */
static int host_metric_add(struct strata_instance *inst, const char *name,
			   int64_t delta)
{
	if (!inst_ok(inst) || !name)
		return -EINVAL;
	return metric_add(&inst->metrics, name, delta);
}

static int host_metric_set(struct strata_instance *inst, const char *name,
			   int64_t value)
{
	if (!inst_ok(inst) || !name)
		return -EINVAL;
	return metric_gauge(&inst->metrics, name, value);
}

static int host_metric_observe(struct strata_instance *inst, const char *name,
			       int64_t ns)
{
	if (!inst_ok(inst) || !name)
		return -EINVAL;
	return metric_observe(&inst->metrics, name, ns);
}

static int host_metric_delete(struct strata_instance *inst, const char *name)
{
	if (!inst_ok(inst) || !name)
		return -EINVAL;
	return metric_delete(&inst->metrics, name);
}

/* ---- status -------------------------------------------------------------- */

struct strata_status *host_status_begin(void *g)
{
	struct strata_status *st = calloc(1, sizeof(*st));

	if (st)
		st->g = g;
	return st;
}

void host_status_end(struct strata_status *st)
{
	free(st);
}

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void host_status_str(struct strata_status *st, const char *key,
			    const char *value)
{
	if (!st || !key)
		return;
	gen_str(st->g, key);
	if (value)
		gen_str(st->g, value);
	else
		yajl_gen_null(st->g);
}

static void host_status_int(struct strata_status *st, const char *key,
			    int64_t value)
{
	if (!st || !key)
		return;
	gen_str(st->g, key);
	yajl_gen_integer(st->g, value);
}

static void host_stopped(struct strata_instance *inst)
{
	if (inst_ok(inst))
		daemon_instance_stopped(inst);
}

static int host_topology_changed(struct strata_instance *inst)
{
	if (!inst_ok(inst))
		return -EINVAL;
	if (inst->plug->desc->kind != STRATA_KIND_IPAM)
		return -EPERM;
	daemon_topology_changed(inst);
	return 0;
}

/* ---- the node's IPAM ------------------------------------------------------
 *
 * A front end's allocate, release and list go to the first IPAM instance.
 * Each call has a record the IPAM's callbacks come back to. What arrives
 * while the IPAM's op has not returned yet is held and delivered from the
 * loop; the caller is looked up by id at each delivery, so a destroyed one
 * hears nothing; an IPAM destroyed with calls pending fails them.
 */

enum ipam_kind { IPAM_ALLOCATE, IPAM_RELEASE, IPAM_LIST };

struct ipam_entry {
	char *handle;
	uint32_t n_addrs;
	struct strata_prefix *addrs;
};

struct host_ipam_call {
	struct daemon *d;
	uint64_t id;                  /* the calling instance */
	struct strata_instance *ipam; /* serving it; NULL once answered */
	struct host_ipam_call *prev, *next; /* on d->ipam_calls */
	enum ipam_kind kind;
	strata_ipam_cb cb;
	strata_ipam_list_cb list_cb;
	strata_done_cb done;
	void *arg;
	bool in_call;  /* the IPAM's op has not returned yet */
	bool finished; /* the answer is in */
	bool lost;     /* a listed handle could not be held */
	struct loop_defer *defer;
	struct ipam_entry *held;
	size_t n_held, cap_held;
	struct strata_ipam_result res; /* allocate, release; err for list */
	char *text;
};

static struct strata_instance *node_ipam(struct daemon *d)
{
	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (i->plug->desc->kind == STRATA_KIND_IPAM)
			return i;
	return NULL;
}

/* The node's IPAM, when it is there to take calls (it queues them until
 * it has read the store). */
static struct strata_instance *ipam_serving(struct daemon *d)
{
	struct strata_instance *i = node_ipam(d);

	if (!i || (i->state != INST_CREATED && i->state != INST_WAITING &&
		   i->state != INST_RUNNING))
		return NULL;
	return i;
}

static const struct strata_ipam_ops *ipam_ops_of(struct strata_instance *i)
{
	return i->plug->desc->kind_ops;
}

static bool ipam_has_list(const struct strata_ipam_ops *ops)
{
	return ops->size >= offsetof(struct strata_ipam_ops, list) +
				    sizeof(ops->list) &&
	       ops->list;
}

static void held_clear(struct host_ipam_call *c)
{
	for (size_t i = 0; i < c->n_held; i++) {
		free(c->held[i].handle);
		free(c->held[i].addrs);
	}
	c->n_held = 0;
}

static void ipam_call_free(struct host_ipam_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->d->ipam_calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->defer)
		loop_defer_cancel(c->defer);
	held_clear(c);
	free(c->held);
	free(c->text);
	free(c);
}

static bool caller_alive(const struct host_ipam_call *c)
{
	return daemon_instance_by_id(c->d, c->id) != NULL;
}

/* Deliver what is held and, once the answer is in, the answer (which
 * frees the record). Never inside the IPAM's op. */
static void ipam_flush(struct host_ipam_call *c)
{
	int err;

	for (size_t i = 0; i < c->n_held; i++) {
		struct ipam_entry *e = &c->held[i];

		if (caller_alive(c))
			c->list_cb(c->arg, e->handle, e->addrs, e->n_addrs);
	}
	held_clear(c);
	if (!c->finished)
		return;
	if (caller_alive(c)) {
		if (c->kind != IPAM_LIST) {
			c->cb(c->arg, &c->res);
		} else {
			err = c->res.error;
			if (!err && c->lost)
				err = -ENOMEM;
			c->done(c->arg, err,
				err && !c->res.error ? "out of memory" :
						       c->res.error_text);
		}
	}
	ipam_call_free(c);
}

static void ipam_deferred(void *arg)
{
	struct host_ipam_call *c = arg;

	c->defer = NULL;
	ipam_flush(c);
}

static int ipam_schedule(struct host_ipam_call *c)
{
	if (!c->defer)
		c->defer = loop_defer(c->d->loop, ipam_deferred, c);
	return c->defer ? 0 : -ENOMEM;
}

/* The answer is in: keep a copy, then deliver unless inside the op. */
static void ipam_finish(struct host_ipam_call *c, int err, const char *text)
{
	c->ipam = NULL;
	c->finished = true;
	c->res.error = err;
	free(c->text);
	c->text = err && text ? strdup(text) : NULL;
	c->res.error_text = c->text;
	if (!c->in_call)
		ipam_flush(c);
}

static void ipam_answered(void *arg, const struct strata_ipam_result *res)
{
	struct host_ipam_call *c = arg;
	uint32_t n = 0;

	if (!res) {
		ipam_finish(c, -EIO, "the IPAM answered nothing");
		return;
	}
	if (!res->error) {
		n = res->n_addrs < 2 ? res->n_addrs : 2;
		memcpy(c->res.addrs, res->addrs, n * sizeof(res->addrs[0]));
	}
	c->res.n_addrs = n;
	ipam_finish(c, res->error, res->error_text);
}

static void ipam_listed(void *arg, const char *handle,
			const struct strata_prefix *addrs, uint32_t n_addrs)
{
	struct host_ipam_call *c = arg;
	struct ipam_entry *e;

	if (!handle || (n_addrs && !addrs))
		return;
	if (!c->in_call) {
		ipam_flush(c); /* what was held inside the op goes first */
		if (caller_alive(c))
			c->list_cb(c->arg, handle, addrs, n_addrs);
		return;
	}
	if (c->n_held == c->cap_held) {
		size_t cap = c->cap_held ? c->cap_held * 2 : 16;

		e = realloc(c->held, cap * sizeof(*e));
		if (!e) {
			c->lost = true;
			return;
		}
		c->held = e;
		c->cap_held = cap;
	}
	e = &c->held[c->n_held];
	e->handle = strdup(handle);
	e->n_addrs = n_addrs;
	e->addrs = n_addrs ? malloc(n_addrs * sizeof(*addrs)) : NULL;
	if (!e->handle || (n_addrs && !e->addrs)) {
		free(e->handle);
		free(e->addrs);
		c->lost = true;
		return;
	}
	if (n_addrs)
		memcpy(e->addrs, addrs, n_addrs * sizeof(*addrs));
	c->n_held++;
}

static void ipam_list_done(void *arg, int err, const char *text)
{
	ipam_finish(arg, err, text);
}

static struct host_ipam_call *ipam_call_new(struct strata_instance *inst,
					    struct strata_instance *ipam,
					    enum ipam_kind kind, void *arg)
{
	struct host_ipam_call *c = calloc(1, sizeof(*c));
	struct daemon *d = inst->d;

	if (!c)
		return NULL;
	c->d = d;
	c->id = inst->id;
	c->ipam = ipam;
	c->kind = kind;
	c->arg = arg;
	c->res.size = sizeof(c->res);
	c->next = d->ipam_calls;
	if (c->next)
		c->next->prev = c;
	d->ipam_calls = c;
	c->in_call = true;
	return c;
}

/* After the IPAM's op returned rc: what it answered inside goes out from
 * the loop. A refused call queues nothing. */
static int ipam_call_started(struct host_ipam_call *c, int rc)
{
	c->in_call = false;
	if (rc > 0)
		rc = -EINVAL;
	/* without a defer, held entries still go out before the next one;
	 * an answer held could not */
	if (!rc && (c->finished || c->n_held) && ipam_schedule(c) < 0 &&
	    c->finished)
		rc = -ENOMEM;
	if (rc)
		ipam_call_free(c);
	return rc;
}

static bool ipam_request_ok(const struct strata_ipam_request *req)
{
	return req && req->size >= sizeof(*req) && req->handle &&
	       req->handle[0];
}

static int host_ipam_call(struct strata_instance *inst,
			  const struct strata_ipam_request *req,
			  strata_ipam_cb cb, void *arg, bool release)
{
	struct strata_instance *ipam;
	const struct strata_ipam_ops *ops;
	struct host_ipam_call *c;
	int rc;

	if (!inst_ok(inst) || !ipam_request_ok(req) || !cb)
		return -EINVAL;
	ipam = ipam_serving(inst->d);
	if (!ipam)
		return -ENODEV;
	ops = ipam_ops_of(ipam);
	c = ipam_call_new(inst, ipam,
			  release ? IPAM_RELEASE : IPAM_ALLOCATE, arg);
	if (!c)
		return -ENOMEM;
	c->cb = cb;
	rc = release ? ops->release(ipam->self, req, ipam_answered, c) :
		       ops->allocate(ipam->self, req, ipam_answered, c);
	return ipam_call_started(c, rc);
}

static int host_ipam_allocate(struct strata_instance *inst,
			      const struct strata_ipam_request *req,
			      strata_ipam_cb cb, void *arg)
{
	return host_ipam_call(inst, req, cb, arg, false);
}

static int host_ipam_release(struct strata_instance *inst,
			     const struct strata_ipam_request *req,
			     strata_ipam_cb cb, void *arg)
{
	return host_ipam_call(inst, req, cb, arg, true);
}

static int host_ipam_list(struct strata_instance *inst, const char *prefix,
			  strata_ipam_list_cb cb, strata_done_cb done, void *arg)
{
	struct strata_instance *ipam;
	const struct strata_ipam_ops *ops;
	struct host_ipam_call *c;

	if (!inst_ok(inst) || !cb || !done)
		return -EINVAL;
	ipam = ipam_serving(inst->d);
	if (!ipam)
		return -ENODEV;
	ops = ipam_ops_of(ipam);
	if (!ipam_has_list(ops))
		return -EOPNOTSUPP;
	c = ipam_call_new(inst, ipam, IPAM_LIST, arg);
	if (!c)
		return -ENOMEM;
	c->list_cb = cb;
	c->done = done;
	return ipam_call_started(c, ops->list(ipam->self, prefix ? prefix : "",
					      ipam_listed, ipam_list_done, c));
}

struct pools_sink {
	struct strata_prefix *out;
	size_t max;
	uint32_t n;
	bool seen;
};

static void pools_node(void *arg, const struct strata_topo_node *node)
{
	struct pools_sink *p = arg;

	if (node->depth != 0 || p->seen)
		return;
	p->seen = true;
	p->n = node->n_prefixes;
	if (p->out && node->prefixes)
		memcpy(p->out, node->prefixes,
		       (p->n < p->max ? p->n : p->max) * sizeof(*p->out));
}

static int host_ipam_pools(struct strata_instance *inst,
			   struct strata_prefix *out, size_t max)
{
	struct pools_sink p = { .out = out, .max = out ? max : 0 };
	struct strata_topo_sink sink = {
		.size = sizeof(sink),
		.arg = &p,
		.node = pools_node,
	};
	struct strata_instance *ipam;
	const struct strata_ipam_ops *ops;
	int rc;

	if (!inst_ok(inst) || (!out && max))
		return -EINVAL;
	ipam = ipam_serving(inst->d);
	if (!ipam)
		return -ENODEV;
	ops = ipam_ops_of(ipam);
	if (!ops->view)
		return -EOPNOTSUPP;
	/* a view needs the store read, which needs start() */
	if (ipam->state != INST_RUNNING)
		return -EAGAIN;
	rc = ops->view(ipam->self, &sink);
	if (rc > 0)
		rc = -EINVAL;
	if (rc)
		return rc;
	return p.n > INT32_MAX ? INT32_MAX : (int)p.n;
}

/* The IPAM instance is gone (after its destroy): what it never answered
 * fails, from the loop. */
static void ipam_gone(struct strata_instance *ipam)
{
	struct host_ipam_call *c;

	for (c = ipam->d->ipam_calls; c; c = c->next) {
		if (c->ipam != ipam)
			continue;
		c->ipam = NULL;
		c->finished = true;
		c->res.error = -ENODEV;
		c->res.n_addrs = 0;
		free(c->text);
		c->text = strdup("the IPAM instance stopped");
		c->res.error_text = c->text;
		if (ipam_schedule(c) < 0)
			log_msg(LOG_ERR, ipam->prefix,
				"out of memory: an IPAM call is left "
				"unanswered");
	}
}

void host_ipam_calls_free(struct daemon *d)
{
	while (d->ipam_calls)
		ipam_call_free(d->ipam_calls);
}

const char *host_state_name(enum inst_state s)
{
	switch (s) {
	case INST_CREATED:
		return "created";
	case INST_WAITING:
		return "waiting";
	case INST_RUNNING:
		return "running";
	case INST_STOPPING:
		return "stopping";
	case INST_STOPPED:
		return "stopped";
	case INST_FAILED:
		return "failed";
	}
	return "unknown";
}

const struct strata_host host_table = {
	.size = sizeof(struct strata_host),
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.log = host_log,
	.vlog = host_vlog,
	.instance_name = host_instance_name,
	.cfg_bool = host_cfg_bool,
	.cfg_int = host_cfg_int,
	.cfg_duration = host_cfg_duration,
	.cfg_string = host_cfg_string,
	.cfg_strings_count = host_cfg_strings_count,
	.cfg_strings_at = host_cfg_strings_at,
	.now = host_now,
	.fd_watch = host_fd_watch,
	.fd_modify = host_fd_modify,
	.fd_unwatch = host_fd_unwatch,
	.timer_start = host_timer_start,
	.timer_stop = host_timer_stop,
	.defer = host_defer,
	.post = host_post,
	.http_start = host_http_start,
	.http_cancel = host_http_cancel,
	.kroute_list = host_kroute_list,
	.kroute_replace = host_kroute_replace,
	.kroute_delete = host_kroute_delete,
	.fact_get = host_fact_get,
	.fact_set = host_fact_set,
	.store_txn = host_store_txn,
	.store_get = host_store_get,
	.store_put = host_store_put,
	.store_delete = host_store_delete,
	.store_lease_grant = host_store_lease_grant,
	.store_lease_keepalive = host_store_lease_keepalive,
	.store_lease_revoke = host_store_lease_revoke,
	.store_watch = host_store_watch,
	.store_watch_cancel = host_store_watch_cancel,
	.route_owner = host_route_owner,
	.route_set = host_route_set,
	.route_unset = host_route_unset,
	.route_synced = host_route_synced,
	.route_resync = host_route_resync,
	.metric_add = host_metric_add,
	.metric_set = host_metric_set,
	.metric_observe = host_metric_observe,
	.metric_delete = host_metric_delete,
	.status_str = host_status_str,
	.status_int = host_status_int,
	.stopped = host_stopped,
	.topology_changed = host_topology_changed,
	.ipam_allocate = host_ipam_allocate,
	.ipam_release = host_ipam_release,
	.ipam_list = host_ipam_list,
	.ipam_pools = host_ipam_pools,
	.route_writer_remaining = host_route_writer_remaining,
	.kube_watch = host_kube_watch,
	.kube_watch_cancel = host_kube_watch_cancel,
	.policy_attach = host_policy_attach,
	.policy_detach = host_policy_detach,
	.pods_attached = host_policy_pods_attached,
};
