/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's policy entries (ABI 1.1): a front end's policy_attach goes to
 * every running policy instance and completes once all have answered; the
 * attachments are kept, so that a policy instance that starts (or starts
 * again) hears of every pod attached before it, whatever the order.
 *
 * Each instance's part of an attach is a leg, alive until the instance
 * answers or goes away, so a late answer never reaches freed memory. The
 * caller hears from the loop, never inside its call, and not at all once
 * it is gone.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "host.h"
#include "host_policy.h"
#include "log.h"
#include "loop.h"
#include "plug.h"
#include "route.h"

/* A copy of a pod, owned by the registry. */
struct policy_pod {
	struct strata_pod pod;
	struct policy_pod *next;
};

struct policy_call;

/* One instance's part of an attach; call NULL for a replay. */
struct policy_leg {
	struct policy_call *call;
	struct strata_instance *inst;
	struct policy_leg *prev, *next; /* on hp->legs */
};

/* An attach a front end waits for. */
struct policy_call {
	struct daemon *d;
	uint64_t caller;  /* the calling instance's id */
	strata_done_cb cb;
	void *arg;
	unsigned waiting; /* legs not answered yet */
	int err;          /* the first error */
	char *text;
	struct loop_defer *defer;
	struct policy_call *prev, *next; /* on hp->calls */
};

struct host_policy {
	struct policy_pod *pods;
	size_t n_pods;
	struct policy_leg *legs;
	struct policy_call *calls;
};

static struct host_policy *hp_of(struct daemon *d)
{
	if (!d->policy)
		d->policy = calloc(1, sizeof(*d->policy));
	return d->policy;
}

static bool policy_running(const struct strata_instance *i)
{
	return i->plug->desc->kind == STRATA_KIND_POLICY &&
	       i->state == INST_RUNNING;
}

static const struct strata_policy_ops *pol_ops(struct strata_instance *i)
{
	return i->plug->desc->kind_ops;
}

/* ---- the registry -------------------------------------------------------- */

static void pod_free(struct policy_pod *p)
{
	free((char *)p->pod.handle);
	free((char *)p->pod.pod_namespace);
	free((char *)p->pod.pod_name);
	free((char *)p->pod.host_if);
	free(p);
}

static bool dup_or_null(const char *s, const char **out)
{
	*out = NULL;
	if (!s || !*s)
		return true;
	*out = strdup(s);
	return *out != NULL;
}

static struct policy_pod *pod_copy(const struct strata_pod *pod)
{
	struct policy_pod *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pod.size = sizeof(p->pod);
	p->pod.n_addrs = pod->n_addrs;
	memcpy(p->pod.addrs, pod->addrs, pod->n_addrs * sizeof(pod->addrs[0]));
	if (!dup_or_null(pod->handle, &p->pod.handle) ||
	    !dup_or_null(pod->pod_namespace, &p->pod.pod_namespace) ||
	    !dup_or_null(pod->pod_name, &p->pod.pod_name) ||
	    !dup_or_null(pod->host_if, &p->pod.host_if)) {
		pod_free(p);
		return NULL;
	}
	return p;
}

static struct policy_pod **pod_find(struct host_policy *hp, const char *handle)
{
	struct policy_pod **pp;

	for (pp = &hp->pods; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->pod.handle, handle))
			return pp;
	return NULL;
}

/* Keep (or replace) the attachment of pod's handle. */
static int pod_register(struct host_policy *hp, const struct strata_pod *pod)
{
	struct policy_pod *p = pod_copy(pod), **old;

	if (!p)
		return -ENOMEM;
	old = pod_find(hp, pod->handle);
	if (old) {
		p->next = (*old)->next;
		pod_free(*old);
		*old = p;
		return 0;
	}
	p->next = hp->pods;
	hp->pods = p;
	hp->n_pods++;
	return 0;
}

static bool pod_unregister(struct host_policy *hp, const char *handle)
{
	struct policy_pod **pp = pod_find(hp, handle), *p;

	if (!pp)
		return false;
	p = *pp;
	*pp = p->next;
	pod_free(p);
	hp->n_pods--;
	return true;
}

static bool pod_valid(const struct strata_pod *pod)
{
	return pod && pod->size >= sizeof(*pod) && pod->handle &&
	       pod->handle[0] && pod->n_addrs <= 2;
}

/* ---- calls and legs ------------------------------------------------------ */

static void call_free(struct host_policy *hp, struct policy_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		hp->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->defer)
		loop_defer_cancel(c->defer);
	free(c->text);
	free(c);
}

static void call_deliver(void *arg)
{
	struct policy_call *c = arg;
	struct daemon *d = c->d;

	c->defer = NULL;
	if (daemon_instance_by_id(d, c->caller))
		c->cb(c->arg, c->err, c->err ? c->text : NULL);
	call_free(d->policy, c);
}

/* Every leg has answered: tell the caller from the loop. */
static void call_finish(struct policy_call *c)
{
	if (c->waiting || c->defer)
		return;
	c->defer = loop_defer(c->d->loop, call_deliver, c);
	if (!c->defer) {
		log_msg(LOG_ERR, "policy",
			"out of memory: an attach is left unanswered");
		call_free(c->d->policy, c);
	}
}

static void call_error(struct policy_call *c, int err, const char *text)
{
	if (c->err || !err)
		return;
	c->err = err < 0 ? err : -EINVAL;
	c->text = strdup(text && *text ? text : strerror(-c->err));
}

static void leg_free(struct host_policy *hp, struct policy_leg *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		hp->legs = l->next;
	if (l->next)
		l->next->prev = l->prev;
	free(l);
}

static struct policy_leg *leg_new(struct host_policy *hp,
				  struct policy_call *c,
				  struct strata_instance *inst)
{
	struct policy_leg *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->call = c;
	l->inst = inst;
	l->next = hp->legs;
	if (l->next)
		l->next->prev = l;
	hp->legs = l;
	if (c)
		c->waiting++;
	return l;
}

/* A leg is answered (or its instance gone): err and text go to its call. */
static void leg_end(struct host_policy *hp, struct policy_leg *l, int err,
		    const char *text)
{
	struct policy_call *c = l->call;

	leg_free(hp, l);
	if (!c)
		return;
	call_error(c, err, text);
	c->waiting--;
	call_finish(c);
}

static void leg_answered(void *arg, int err, const char *text)
{
	struct policy_leg *l = arg;
	struct daemon *d = l->inst->d;

	if (err && !l->call)
		log_msg(LOG_WARNING, l->inst->prefix,
			"re-attaching a pod: %s",
			text && *text ? text : strerror(err < 0 ? -err : EINVAL));
	leg_end(d->policy, l, err, text);
}

/* Ask one instance; its refusal ends the leg at once. */
static void leg_start(struct host_policy *hp, struct policy_call *c,
		      struct strata_instance *inst,
		      const struct strata_pod *pod)
{
	struct policy_leg *l = leg_new(hp, c, inst);
	int rc;

	if (!l) {
		if (c)
			call_error(c, -ENOMEM, "out of memory");
		return;
	}
	rc = pol_ops(inst)->pod_attach(inst->self, pod, leg_answered, l);
	if (rc > 0)
		rc = -EINVAL;
	if (rc) {
		char text[160];

		snprintf(text, sizeof(text), "%s: pod_attach: %s",
			 inst->name, strerror(-rc));
		leg_end(hp, l, rc, text);
	}
}

/* ---- the host table's entries -------------------------------------------- */

int host_policy_attach(struct strata_instance *inst,
		       const struct strata_pod *pod, strata_done_cb cb,
		       void *arg)
{
	struct daemon *d = inst ? inst->d : NULL;
	struct host_policy *hp;
	struct policy_call *c;
	int rc;

	if (!d || !pod_valid(pod) || !cb)
		return -EINVAL;
	hp = hp_of(d);
	if (!hp)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = pod_register(hp, pod);
	if (rc) {
		free(c);
		return rc;
	}
	c->d = d;
	c->caller = inst->id;
	c->cb = cb;
	c->arg = arg;
	c->next = hp->calls;
	if (c->next)
		c->next->prev = c;
	hp->calls = c;
	/* held open while the legs start, so none can finish it early */
	c->waiting++;
	for (struct strata_instance *i = d->instances; i; i = i->next)
		if (policy_running(i))
			leg_start(hp, c, i, pod);
	c->waiting--;
	call_finish(c);
	return 0;
}

int host_policy_detach(struct strata_instance *inst,
		       const struct strata_pod *pod)
{
	struct daemon *d = inst ? inst->d : NULL;
	int rc, first = 0;

	if (!d || !pod_valid(pod))
		return -EINVAL;
	if (d->policy)
		pod_unregister(d->policy, pod->handle);
	for (struct strata_instance *i = d->instances; i; i = i->next) {
		if (!policy_running(i))
			continue;
		rc = pol_ops(i)->pod_detach(i->self, pod);
		if (rc > 0)
			rc = -EINVAL;
		if (rc) {
			log_msg(LOG_WARNING, i->prefix, "pod_detach %s: %s",
				pod->handle, strerror(-rc));
			if (!first)
				first = rc;
		}
	}
	return first;
}

/* Front ends attach the pods that outlived a restart before they call
 * route_synced(), so the route model's barrier covers them too. */
int host_policy_pods_attached(struct strata_instance *inst)
{
	struct daemon *d = inst ? inst->d : NULL;

	return d && d->routes && route_may_delete(d->routes) ? 1 : 0;
}

/* ---- for the daemon ------------------------------------------------------ */

void host_policy_started(struct strata_instance *inst)
{
	struct host_policy *hp = inst->d->policy;
	size_t n = 0;

	if (!hp || !policy_running(inst))
		return;
	for (struct policy_pod *p = hp->pods; p; p = p->next, n++)
		leg_start(hp, NULL, inst, &p->pod);
	if (n)
		log_msg(LOG_INFO, inst->prefix, "re-attached %zu pods", n);
}

void host_policy_gone(struct strata_instance *inst)
{
	struct host_policy *hp = inst->d ? inst->d->policy : NULL;
	struct policy_leg *l, *next;
	char text[160];

	if (!hp)
		return;
	snprintf(text, sizeof(text), "the policy instance %s stopped",
		 inst->name);
	for (l = hp->legs; l; l = next) {
		next = l->next;
		if (l->inst == inst)
			leg_end(hp, l, -ENODEV, text);
	}
}

size_t host_policy_count(const struct daemon *d)
{
	return d->policy ? d->policy->n_pods : 0;
}

int host_policy_explain(struct daemon *d, const char *pod_namespace,
			const char *pod_name,
			void (*line)(void *arg, const char *text), void *arg)
{
	bool any = false, known = false;
	int rc, first = 0;

	for (struct strata_instance *i = d->instances; i; i = i->next) {
		const struct strata_policy_ops *ops;

		if (!policy_running(i))
			continue;
		any = true;
		ops = pol_ops(i);
		if (!ops->explain)
			continue;
		rc = ops->explain(i->self, pod_namespace, pod_name, line, arg);
		if (rc > 0)
			rc = -EINVAL;
		if (!rc)
			known = true;
		else if (rc != -ENOENT && !first)
			first = rc;
	}
	if (!any)
		return -ENODEV;
	if (known)
		return 0;
	return first ? first : -ENOENT;
}

void host_policy_free(struct daemon *d)
{
	struct host_policy *hp = d->policy;

	if (!hp)
		return;
	while (hp->legs)
		leg_free(hp, hp->legs);
	while (hp->calls)
		call_free(hp, hp->calls);
	while (hp->pods) {
		struct policy_pod *p = hp->pods;

		hp->pods = p->next;
		pod_free(p);
	}
	free(hp);
	d->policy = NULL;
}
