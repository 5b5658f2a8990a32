/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's kube_watch (ABI 1.1): an informer on the daemon's Kubernetes
 * client per watch, each object handed over as JSON. The client comes and
 * goes with the kubernetes group (a SIGHUP may change or remove it); a
 * watch outlives it, resumes on the next client with a fresh list, and
 * learns as DELETED of what vanished in between: it keeps the keys it
 * delivered.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "daemon.h"
#include "host.h"
#include "host_kube.h"
#include "kube.h"
#include "log.h"
#include "loop.h"

#define GEN_DEPTH_MAX 128

struct strata_kube_watch {
	struct daemon *d;
	struct strata_instance *inst;
	char *path;
	strata_kube_cb cb;
	void *arg;
	struct kube_informer *inf; /* NULL while there is no client */
	bool fresh;                /* inf has not synced yet */
	unsigned firing;           /* inside the informer's callback */
	bool dead;                 /* cancelled there: freed from the loop */
	char **keys;               /* delivered and not deleted, sorted */
	size_t n_keys, cap_keys;
	struct strata_kube_watch *next; /* on d->kube_watches */
};

/* ---- JSON ---------------------------------------------------------------- */

static int gen_val(yajl_gen g, yajl_val v, int depth)
{
	size_t i;
	int rc = 0;

	if (depth > GEN_DEPTH_MAX)
		return -E2BIG;
	if (!v)
		return yajl_gen_null(g) ? -EINVAL : 0;
	switch (v->type) {
	case yajl_t_string:
		return yajl_gen_string(g, (const unsigned char *)v->u.string,
				       strlen(v->u.string)) ? -EINVAL : 0;
	case yajl_t_number:
		return yajl_gen_number(g, v->u.number.r,
				       strlen(v->u.number.r)) ? -EINVAL : 0;
	case yajl_t_true:
		return yajl_gen_bool(g, 1) ? -EINVAL : 0;
	case yajl_t_false:
		return yajl_gen_bool(g, 0) ? -EINVAL : 0;
	case yajl_t_object:
		if (yajl_gen_map_open(g))
			return -EINVAL;
		for (i = 0; !rc && i < v->u.object.len; i++) {
			const char *k = v->u.object.keys[i];

			if (yajl_gen_string(g, (const unsigned char *)k,
					    strlen(k)))
				return -EINVAL;
			rc = gen_val(g, v->u.object.values[i], depth + 1);
		}
		return rc ? rc : (yajl_gen_map_close(g) ? -EINVAL : 0);
	case yajl_t_array:
		if (yajl_gen_array_open(g))
			return -EINVAL;
		for (i = 0; !rc && i < v->u.array.len; i++)
			rc = gen_val(g, v->u.array.values[i], depth + 1);
		return rc ? rc : (yajl_gen_array_close(g) ? -EINVAL : 0);
	default:
		return yajl_gen_null(g) ? -EINVAL : 0;
	}
}

static void gen_str(yajl_gen g, const char *s, size_t len)
{
	yajl_gen_string(g, (const unsigned char *)s, len);
}

/* What is left of an object known only by its key: its metadata's name
 * and namespace. */
static void gen_stub(yajl_gen g, const char *key)
{
	const char *slash = strchr(key, '/');

	yajl_gen_map_open(g);
	gen_str(g, "metadata", 8);
	yajl_gen_map_open(g);
	if (slash) {
		gen_str(g, "namespace", 9);
		gen_str(g, key, (size_t)(slash - key));
		key = slash + 1;
	}
	gen_str(g, "name", 4);
	gen_str(g, key, strlen(key));
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
}

/* ---- the keys delivered -------------------------------------------------- */

static bool key_find(const struct strata_kube_watch *w, const char *key,
		     size_t *at)
{
	size_t lo = 0, hi = w->n_keys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(w->keys[mid], key);

		if (!c) {
			*at = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

static void key_add(struct strata_kube_watch *w, const char *key)
{
	size_t at;
	char *copy;

	if (key_find(w, key, &at))
		return;
	if (w->n_keys == w->cap_keys) {
		size_t cap = w->cap_keys ? w->cap_keys * 2 : 64;
		char **k = realloc(w->keys, cap * sizeof(*k));

		if (!k)
			return;
		w->keys = k;
		w->cap_keys = cap;
	}
	copy = strdup(key);
	if (!copy)
		return;
	memmove(&w->keys[at + 1], &w->keys[at],
		(w->n_keys - at) * sizeof(*w->keys));
	w->keys[at] = copy;
	w->n_keys++;
}

static void key_drop_at(struct strata_kube_watch *w, size_t at)
{
	free(w->keys[at]);
	memmove(&w->keys[at], &w->keys[at + 1],
		(w->n_keys - at - 1) * sizeof(*w->keys));
	w->n_keys--;
}

static void key_del(struct strata_kube_watch *w, const char *key)
{
	size_t at;

	if (key_find(w, key, &at))
		key_drop_at(w, at);
}

/* ---- delivery ------------------------------------------------------------ */

static void deliver(struct strata_kube_watch *w, uint32_t ev, const char *key,
		    yajl_val obj, bool stub)
{
	const unsigned char *buf;
	size_t len;
	yajl_gen g;

	if (w->dead)
		return;
	g = yajl_gen_alloc(NULL);
	if (!g) {
		log_msg(LOG_ERR, w->inst->prefix,
			"kube %s: out of memory; %s not delivered", w->path,
			key);
		return;
	}
	if (stub) {
		gen_stub(g, key);
	} else if (gen_val(g, obj, 0)) {
		log_msg(LOG_WARNING, w->inst->prefix,
			"kube %s: %s could not be serialised; not delivered",
			w->path, key);
		yajl_gen_free(g);
		return;
	}
	yajl_gen_get_buf(g, &buf, &len);
	w->cb(w->arg, ev, key, (const char *)buf, len);
	yajl_gen_free(g);
}

/* After a new client's first list: what it no longer has is gone. */
static void drop_vanished(struct strata_kube_watch *w)
{
	size_t i = 0;

	while (!w->dead && i < w->n_keys) {
		char *key = w->keys[i];

		if (kube_informer_get(w->inf, key)) {
			i++;
			continue;
		}
		w->keys[i] = NULL;
		key_drop_at(w, i);
		deliver(w, STRATA_KUBE_DELETED, key, NULL, true);
		free(key);
	}
}

static void watch_event(void *arg, enum kube_event ev, const char *key,
			yajl_val obj)
{
	struct strata_kube_watch *w = arg;

	w->firing++;
	switch (ev) {
	case KUBE_ADDED:
		key_add(w, key);
		deliver(w, STRATA_KUBE_ADDED, key, obj, false);
		break;
	case KUBE_MODIFIED:
		key_add(w, key);
		deliver(w, STRATA_KUBE_MODIFIED, key, obj, false);
		break;
	case KUBE_DELETED:
		key_del(w, key);
		deliver(w, STRATA_KUBE_DELETED, key, obj, !obj);
		break;
	case KUBE_SYNCED:
		if (w->fresh) {
			w->fresh = false;
			drop_vanished(w);
		}
		if (!w->dead)
			w->cb(w->arg, STRATA_KUBE_SYNCED, NULL, NULL, 0);
		break;
	}
	w->firing--;
}

static int bind(struct strata_kube_watch *w)
{
	int rc;

	if (w->inf || !w->d->kube_client)
		return 0;
	w->fresh = true;
	rc = kube_informer_new(w->d->kube_client, w->path, watch_event, w,
			       &w->inf);
	if (rc)
		log_msg(LOG_ERR, w->inst->prefix, "kube %s: %s", w->path,
			strerror(-rc));
	return rc;
}

static void unbind(struct strata_kube_watch *w)
{
	kube_informer_free(w->inf);
	w->inf = NULL;
}

/* ---- the host table's entries -------------------------------------------- */

static void watch_release(struct strata_kube_watch *w)
{
	unbind(w);
	for (size_t i = 0; i < w->n_keys; i++)
		free(w->keys[i]);
	free(w->keys);
	free(w->path);
	free(w);
}

static void watch_release_later(void *arg)
{
	watch_release(arg);
}

/* Off the list at once; freed from the loop when cancelled inside its
 * own callback, where its informer may not be freed. */
static void watch_free(struct strata_kube_watch *w)
{
	struct strata_kube_watch **pp;

	for (pp = &w->d->kube_watches; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	if (!w->firing) {
		watch_release(w);
		return;
	}
	w->dead = true;
	if (!loop_defer(w->d->loop, watch_release_later, w))
		log_msg(LOG_ERR, w->inst->prefix,
			"kube %s: out of memory; a cancelled watch is kept",
			w->path);
}

int host_kube_watch(struct strata_instance *inst, const char *path,
		    strata_kube_cb cb, void *arg, struct strata_kube_watch **out)
{
	struct strata_kube_watch *w;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!inst || !inst->d || !path || path[0] != '/' || !cb)
		return -EINVAL;
	if (!inst->d->kube_client)
		return -ENOTCONN;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->d = inst->d;
	w->inst = inst;
	w->cb = cb;
	w->arg = arg;
	w->path = strdup(path);
	w->next = inst->d->kube_watches;
	inst->d->kube_watches = w;
	if (!w->path) {
		watch_free(w);
		return -ENOMEM;
	}
	rc = bind(w);
	if (rc) {
		watch_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void host_kube_watch_cancel(struct strata_instance *inst,
			    struct strata_kube_watch *w)
{
	if (!inst || !w || w->inst != inst || w->dead)
		return;
	watch_free(w);
}

/* ---- for the daemon ------------------------------------------------------ */

void host_kube_unbind(struct daemon *d)
{
	for (struct strata_kube_watch *w = d->kube_watches; w; w = w->next)
		unbind(w);
}

void host_kube_bind(struct daemon *d)
{
	for (struct strata_kube_watch *w = d->kube_watches; w; w = w->next)
		bind(w);
}

void host_kube_gone(struct strata_instance *inst)
{
	struct strata_kube_watch *w, *next;
	unsigned n = 0;

	if (!inst->d)
		return;
	for (w = inst->d->kube_watches; w; w = next) {
		next = w->next;
		if (w->inst == inst) {
			watch_free(w);
			n++;
		}
	}
	if (n)
		log_msg(LOG_DEBUG, inst->prefix,
			"released %u Kubernetes watches left at destroy", n);
}

size_t host_kube_count(const struct daemon *d)
{
	size_t n = 0;

	for (const struct strata_kube_watch *w = d->kube_watches; w;
	     w = w->next)
		n++;
	return n;
}
