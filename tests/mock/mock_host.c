/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "http.h"
#include "loop.h"
#include "mock_host.h"
#include "nl.h"
#include "store.h"

struct mock_cfg {
	char *key;
	uint32_t type; /* STRATA_CFG_* */
	char *str;
	int64_t num;
	char **list;
	size_t n;
	bool dflt; /* from the schema */
};

struct mock_kv {
	char *key;
	char *str;
	int64_t num;
	bool is_num;
};

struct mock_watch {
	struct mock_watch *next, *prev;
	struct loop_fd *fd;
	strata_fd_cb cb;
	void *arg;
};

struct strata_instance {
	struct mock_host *mh;
};

/* A store call in flight; orphaned (mh NULL) calls complete silently. */
enum mock_kind { MK_TXN, MK_RANGE, MK_DONE, MK_LEASE };

struct mock_call {
	struct mock_host *mh;
	struct mock_call *prev, *next;
	enum mock_kind kind;
	int err; /* an unreachable store's answer */
	union {
		strata_store_txn_cb txn;
		strata_store_range_cb range;
		strata_store_done_cb done;
		strata_store_lease_cb lease;
	} cb;
	void *arg;
};

struct mock_swatch {
	struct mock_host *mh;
	struct mock_swatch *prev, *next;
	struct store_watch *w;
	strata_store_watch_cb cb;
	void *arg;
};

struct strata_status {
	struct mock_host *mh;
};

/* A Kubernetes watch: the test delivers its events (mock_host_kube_event). */
struct strata_kube_watch {
	struct strata_kube_watch *next;
	char *path;
	strata_kube_cb cb;
	void *arg;
};

/* A policy_attach to complete on the loop (no policy instance runs). */
struct mock_pattach {
	strata_done_cb cb;
	void *arg;
};

/* A call to the attached IPAM. What the IPAM answers inside its op is held
 * and delivered from the loop, as the daemon does. */
enum mock_ipam_kind { MI_ALLOCATE, MI_RELEASE, MI_LIST };

struct mock_entry {
	char *handle;
	uint32_t n_addrs;
	struct strata_prefix *addrs;
};

struct mock_icall {
	struct mock_host *mh;
	struct mock_icall *prev, *next; /* on mh->icalls until freed */
	enum mock_ipam_kind kind;
	strata_ipam_cb cb;
	strata_ipam_list_cb list_cb;
	strata_done_cb done;
	void *arg;
	bool pending;  /* the IPAM has not answered */
	bool orphan;   /* detached: completions are dropped */
	bool in_call;  /* the IPAM's op has not returned */
	bool finished; /* the answer is in */
	bool lost;     /* an entry could not be held */
	struct loop_defer *defer;
	struct mock_entry *held;
	size_t n_held, cap_held;
	struct strata_ipam_result res;
	char *text;
};

struct mock_host {
	struct strata_instance inst;
	struct strata_status status;
	struct strata_host host;
	char *name;
	struct loop *loop;
	struct http *http;
	struct nl *nl;
	struct mock_cfg *cfg;
	size_t n_cfg;
	struct mock_kv *facts, *metrics, *stat;
	size_t n_facts, n_metrics, n_stat;
	struct mock_watch *watches;
	bool owner;
	struct strata_route *routes;
	size_t n_routes, cap_routes;
	unsigned synced, resyncs, stopped, topology_changes;
	struct store *store;
	int store_err;
	struct mock_call *calls;
	struct mock_swatch *swatches;
	unsigned store_writes;
	const struct strata_ipam_ops *ipam;
	void *ipam_self;
	struct mock_icall *icalls;
	bool shared_loop; /* a peer's loop: not ours to free */
	unsigned logs[8];
	int64_t writer_remaining;
	struct strata_kube_watch *kwatches;
	bool kube_off;
	int pods_attached;
	struct mock_pattach *pattach;
	size_t n_pattach, cap_pattach;
	struct loop_defer *pattach_defer;
};

static struct mock_host *MH(struct strata_instance *inst)
{
	return inst->mh;
}

/* -- small tables ------------------------------------------------------ */

static struct mock_kv *kv_find(struct mock_kv *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].key, key))
			return &v[i];
	return NULL;
}

static struct mock_kv *kv_get(struct mock_kv **v, size_t *n, const char *key)
{
	struct mock_kv *e = kv_find(*v, *n, key), *nv;

	if (e)
		return e;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	*v = nv;
	e = &nv[*n];
	memset(e, 0, sizeof(*e));
	e->key = strdup(key);
	if (!e->key)
		return NULL;
	(*n)++;
	return e;
}

static void kv_free(struct mock_kv *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].str);
	}
	free(v);
}

static void cfg_clear(struct mock_cfg *c)
{
	size_t i;

	free(c->str);
	for (i = 0; i < c->n; i++)
		free(c->list[i]);
	free(c->list);
	c->str = NULL;
	c->list = NULL;
	c->n = 0;
	c->num = 0;
}

static struct mock_cfg *cfg_find(const struct mock_host *mh, const char *key)
{
	size_t i;

	for (i = 0; i < mh->n_cfg; i++)
		if (!strcmp(mh->cfg[i].key, key))
			return &mh->cfg[i];
	return NULL;
}

/* The entry for key, emptied, ready to take a value of type. */
static struct mock_cfg *cfg_slot(struct mock_host *mh, const char *key,
				 uint32_t type)
{
	struct mock_cfg *c = cfg_find(mh, key), *v;

	if (!c) {
		v = realloc(mh->cfg, (mh->n_cfg + 1) * sizeof(*v));
		if (!v)
			return NULL;
		mh->cfg = v;
		c = &v[mh->n_cfg];
		memset(c, 0, sizeof(*c));
		c->key = strdup(key);
		if (!c->key)
			return NULL;
		mh->n_cfg++;
	}
	cfg_clear(c);
	c->type = type;
	c->dflt = false;
	return c;
}

int mock_host_set_cfg_string(struct mock_host *mh, const char *key,
			     const char *value)
{
	struct mock_cfg *c = cfg_slot(mh, key, STRATA_CFG_STRING);

	if (!c)
		return -ENOMEM;
	c->str = strdup(value);
	return c->str ? 0 : -ENOMEM;
}

int mock_host_set_cfg_int(struct mock_host *mh, const char *key, int64_t value)
{
	struct mock_cfg *c = cfg_slot(mh, key, STRATA_CFG_INT);

	if (!c)
		return -ENOMEM;
	c->num = value;
	return 0;
}

int mock_host_set_cfg_bool(struct mock_host *mh, const char *key, int value)
{
	struct mock_cfg *c = cfg_slot(mh, key, STRATA_CFG_BOOL);

	if (!c)
		return -ENOMEM;
	c->num = value != 0;
	return 0;
}

int mock_host_set_cfg_duration(struct mock_host *mh, const char *key,
			       int64_t ns)
{
	struct mock_cfg *c = cfg_slot(mh, key, STRATA_CFG_DURATION);

	if (!c)
		return -ENOMEM;
	c->num = ns;
	return 0;
}

int mock_host_set_cfg_strings(struct mock_host *mh, const char *key,
			      const char *const *values, size_t n)
{
	struct mock_cfg *c = cfg_slot(mh, key, STRATA_CFG_STRINGS);
	size_t i;

	if (!c)
		return -ENOMEM;
	c->list = calloc(n ? n : 1, sizeof(*c->list));
	if (!c->list)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		c->list[i] = strdup(values[i]);
		if (!c->list[i])
			return -ENOMEM;
		c->n++;
	}
	return 0;
}

/* "250ms", "30s", "5m", "1h", "2d" or bare seconds, as the daemon reads. */
static int parse_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
		{ "", 1000000000LL },     { "ms", 1000000LL },
		{ "s", 1000000000LL },    { "m", 60000000000LL },
		{ "h", 3600000000000LL }, { "d", 86400000000000LL },
	};
	char *end;
	long long v;
	size_t i;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			*out = v * units[i].ns;
			return 0;
		}
	}
	return -EINVAL;
}

/* A list default: `["a", "b"]` or `a, b`. */
static int parse_list(struct mock_cfg *c, const char *def)
{
	char *s = strdup(def), *p, *tok, *save = NULL;
	char **v;

	if (!s)
		return -ENOMEM;
	for (p = s; *p; p++)
		if (*p == '[' || *p == ']' || *p == '"')
			*p = ' ';
	for (tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *e;

		while (*tok == ' ')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && e[-1] == ' ')
			*--e = '\0';
		if (!*tok)
			continue;
		v = realloc(c->list, (c->n + 1) * sizeof(*v));
		if (!v)
			goto free_s;
		c->list = v;
		c->list[c->n] = strdup(tok);
		if (!c->list[c->n])
			goto free_s;
		c->n++;
	}
	free(s);
	return 0;
free_s:
	free(s);
	return -ENOMEM;
}

int mock_host_set_schema(struct mock_host *mh,
			 const struct strata_cfg_key *schema)
{
	const struct strata_cfg_key *k;
	struct mock_cfg *c;
	int rc = 0;

	for (k = schema; k && k->name; k++) {
		c = cfg_find(mh, k->name);
		if (c && !c->dflt) {
			if (c->type != k->type)
				return -EINVAL;
			continue;
		}
		if (!k->def)
			continue;
		c = cfg_slot(mh, k->name, k->type);
		if (!c)
			return -ENOMEM;
		c->dflt = true;
		switch (k->type) {
		case STRATA_CFG_BOOL:
			c->num = !strcmp(k->def, "true") || !strcmp(k->def, "1");
			break;
		case STRATA_CFG_INT:
			c->num = strtoll(k->def, NULL, 0);
			break;
		case STRATA_CFG_DURATION:
			rc = parse_duration(k->def, &c->num);
			break;
		case STRATA_CFG_STRING:
			c->str = strdup(k->def);
			rc = c->str ? 0 : -ENOMEM;
			break;
		case STRATA_CFG_STRINGS:
			rc = parse_list(c, k->def);
			break;
		default:
			rc = -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct mock_cfg *cfg_typed(struct strata_instance *inst,
					const char *key, uint32_t type,
					int *err)
{
	const struct mock_cfg *c = cfg_find(MH(inst), key);

	*err = 0;
	if (!c) {
		*err = -ENOENT;
		return NULL;
	}
	if (c->type != type) {
		*err = -EINVAL;
		return NULL;
	}
	return c;
}

static int h_cfg_bool(struct strata_instance *inst, const char *key, int *out)
{
	int err;
	const struct mock_cfg *c = cfg_typed(inst, key, STRATA_CFG_BOOL, &err);

	if (c)
		*out = (int)c->num;
	return err;
}

static int h_cfg_int(struct strata_instance *inst, const char *key,
		     int64_t *out)
{
	int err;
	const struct mock_cfg *c = cfg_typed(inst, key, STRATA_CFG_INT, &err);

	if (c)
		*out = c->num;
	return err;
}

static int h_cfg_duration(struct strata_instance *inst, const char *key,
			  int64_t *out)
{
	int err;
	const struct mock_cfg *c =
		cfg_typed(inst, key, STRATA_CFG_DURATION, &err);

	if (c)
		*out = c->num;
	return err;
}

static const char *h_cfg_string(struct strata_instance *inst, const char *key)
{
	int err;
	const struct mock_cfg *c = cfg_typed(inst, key, STRATA_CFG_STRING, &err);

	return c ? c->str : NULL;
}

static int h_cfg_strings_count(struct strata_instance *inst, const char *key)
{
	int err;
	const struct mock_cfg *c =
		cfg_typed(inst, key, STRATA_CFG_STRINGS, &err);

	return c ? (int)c->n : err;
}

static const char *h_cfg_strings_at(struct strata_instance *inst,
				    const char *key, uint32_t index)
{
	int err;
	const struct mock_cfg *c =
		cfg_typed(inst, key, STRATA_CFG_STRINGS, &err);

	return c && index < c->n ? c->list[index] : NULL;
}

/* -- logging ----------------------------------------------------------- */

static void h_vlog(struct strata_instance *inst, int level, const char *fmt,
		   va_list ap)
{
	static const char *const names[8] = { "emerg", "alert", "crit",
					      "error", "warning", "notice",
					      "info", "debug" };
	struct mock_host *mh = MH(inst);
	int l = level < 0 ? 0 : level > 7 ? 7 : level;

	mh->logs[l]++;
	fprintf(stderr, "%s mock[%s]: ", names[l], mh->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 3, 4)))
h_log(struct strata_instance *inst, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	h_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static const char *h_instance_name(struct strata_instance *inst)
{
	return MH(inst)->name;
}

unsigned mock_host_log_count(const struct mock_host *mh, int level)
{
	return level >= 0 && level < 8 ? mh->logs[level] : 0;
}

/* -- the loop ---------------------------------------------------------- */

static int64_t h_now(void)
{
	return loop_now();
}

static uint32_t to_epoll(uint32_t ev)
{
	return (ev & STRATA_FD_IN ? EPOLLIN : 0) |
	       (ev & STRATA_FD_OUT ? EPOLLOUT : 0);
}

static void watch_trampoline(void *arg, int fd, uint32_t events)
{
	struct mock_watch *w = arg;

	/* w may be freed by the callback: nothing after it */
	w->cb(w->arg, fd,
	      (events & EPOLLIN ? STRATA_FD_IN : 0) |
		      (events & EPOLLOUT ? STRATA_FD_OUT : 0) |
		      (events & EPOLLERR ? STRATA_FD_ERR : 0) |
		      (events & EPOLLHUP ? STRATA_FD_HUP : 0));
}

static struct strata_watch *h_fd_watch(struct strata_instance *inst, int fd,
				       uint32_t events, strata_fd_cb cb,
				       void *arg)
{
	struct mock_host *mh = MH(inst);
	struct mock_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cb = cb;
	w->arg = arg;
	w->fd = loop_fd_add(mh->loop, fd, to_epoll(events), watch_trampoline,
			    w);
	if (!w->fd) {
		free(w);
		return NULL;
	}
	w->next = mh->watches;
	if (w->next)
		w->next->prev = w;
	mh->watches = w;
	return (struct strata_watch *)w;
}

static int h_fd_modify(struct strata_instance *inst, struct strata_watch *sw,
		       uint32_t events)
{
	struct mock_watch *w = (struct mock_watch *)sw;

	return loop_fd_mod(w->fd, to_epoll(events));
}

static void h_fd_unwatch(struct strata_instance *inst, struct strata_watch *sw)
{
	struct mock_host *mh = MH(inst);
	struct mock_watch *w = (struct mock_watch *)sw;

	if (!w)
		return;
	loop_fd_del(w->fd);
	if (w->prev)
		w->prev->next = w->next;
	else
		mh->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

/* Timers and deferred calls take the plugin's callback as they are: a
 * strata_cb is a loop_cb. */
static struct strata_timer *h_timer_start(struct strata_instance *inst,
					  int64_t delay_ns, int64_t period_ns,
					  strata_cb cb, void *arg)
{
	return (struct strata_timer *)loop_timer_add(MH(inst)->loop, delay_ns,
						     period_ns, cb, arg);
}

static void h_timer_stop(struct strata_instance *inst, struct strata_timer *t)
{
	if (t)
		loop_timer_cancel((struct loop_timer *)t);
}

static int h_defer(struct strata_instance *inst, strata_cb cb, void *arg)
{
	return loop_defer(MH(inst)->loop, cb, arg) ? 0 : -ENOMEM;
}

static int h_post(struct strata_instance *inst, strata_cb cb, void *arg)
{
	return loop_post(MH(inst)->loop, cb, arg);
}

void mock_host_run(struct mock_host *mh, int64_t ns)
{
	int64_t end = loop_now() + ns, left;

	while ((left = end - loop_now()) > 0)
		loop_run_once(mh->loop, (int)((left + 999999) / 1000000));
}

bool mock_host_run_until(struct mock_host *mh, bool (*done)(void *arg),
			 void *arg, int64_t timeout_ns)
{
	int64_t end = loop_now() + timeout_ns, left;

	while (!done(arg)) {
		left = end - loop_now();
		if (left <= 0)
			return false;
		loop_run_once(mh->loop, (int)((left + 999999) / 1000000));
	}
	return true;
}

/* -- HTTP -------------------------------------------------------------- */

static struct strata_http_call *
h_http_start(struct strata_instance *inst, const struct strata_http_request *req,
	     strata_http_cb cb, void *arg)
{
	struct mock_host *mh = MH(inst);

	if (!mh->http && http_new(mh->loop, &mh->http) < 0)
		return NULL;
	return (struct strata_http_call *)http_start(mh->http, req, cb, arg);
}

static void h_http_cancel(struct strata_instance *inst,
			  struct strata_http_call *call)
{
	if (call)
		http_cancel((struct http_call *)call);
}

/* -- kernel routes ----------------------------------------------------- */

static int mock_nl(struct mock_host *mh)
{
	return mh->nl ? 0 : nl_open(NL_DEFAULT_RTPROTO, &mh->nl);
}

static int h_kroute_list(struct strata_instance *inst, uint32_t family,
			 uint32_t table, strata_route_cb cb, void *arg)
{
	struct mock_host *mh = MH(inst);
	int rc = mock_nl(mh);

	return rc < 0 ? rc : nl_route_list(mh->nl, family, table, cb, arg);
}

static int h_kroute_replace(struct strata_instance *inst,
			    const struct strata_route *route)
{
	struct mock_host *mh = MH(inst);
	int rc = mock_nl(mh);

	return rc < 0 ? rc : nl_route_replace(mh->nl, route);
}

static int h_kroute_delete(struct strata_instance *inst,
			   const struct strata_route *route)
{
	struct mock_host *mh = MH(inst);
	int rc = mock_nl(mh);

	return rc < 0 ? rc : nl_route_delete(mh->nl, route);
}

/* -- facts ------------------------------------------------------------- */

static const char *h_fact_get(struct strata_instance *inst, const char *name)
{
	struct mock_host *mh = MH(inst);
	struct mock_kv *e = kv_find(mh->facts, mh->n_facts, name);

	return e ? e->str : NULL;
}

int mock_host_set_fact(struct mock_host *mh, const char *name,
		       const char *value)
{
	struct mock_kv *e = kv_get(&mh->facts, &mh->n_facts, name);
	char *s;

	if (!e || !(s = strdup(value)))
		return -ENOMEM;
	free(e->str);
	e->str = s;
	return 0;
}

static int h_fact_set(struct strata_instance *inst, const char *name,
		      const char *value)
{
	if (!name || !*name || !value)
		return -EINVAL;
	return mock_host_set_fact(MH(inst), name, value);
}

/* -- the route model --------------------------------------------------- */

static bool same_key(const struct strata_route *r, uint32_t scope,
		     const struct strata_prefix *dst)
{
	return r->scope == scope && r->dst.family == dst->family &&
	       r->dst.len == dst->len &&
	       !memcmp(r->dst.addr, dst->addr, sizeof(dst->addr));
}

static struct strata_route *route_find(const struct mock_host *mh,
				       uint32_t scope,
				       const struct strata_prefix *dst)
{
	size_t i;

	for (i = 0; i < mh->n_routes; i++)
		if (same_key(&mh->routes[i], scope, dst))
			return &mh->routes[i];
	return NULL;
}

static int h_route_owner(struct strata_instance *inst)
{
	MH(inst)->owner = true;
	return 0;
}

static int h_route_set(struct strata_instance *inst,
		       const struct strata_route *r)
{
	struct mock_host *mh = MH(inst);
	struct strata_route *slot;

	if (!mh->owner)
		return -EPERM;
	if (!r || r->size < sizeof(*r) || r->flags || r->n_nexthops < 1 ||
	    r->n_nexthops > STRATA_MAX_NEXTHOPS ||
	    (r->scope != STRATA_SCOPE_KERNEL && r->scope != STRATA_SCOPE_CLOUD &&
	     r->scope != STRATA_SCOPE_BGP))
		return -EINVAL;
	slot = route_find(mh, r->scope, &r->dst);
	if (!slot) {
		if (mh->n_routes == mh->cap_routes) {
			size_t cap = mh->cap_routes ? mh->cap_routes * 2 : 16;
			struct strata_route *v =
				realloc(mh->routes, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			mh->routes = v;
			mh->cap_routes = cap;
		}
		slot = &mh->routes[mh->n_routes++];
	}
	memcpy(slot, r, sizeof(*slot));
	slot->size = sizeof(*slot);
	return 0;
}

static int h_route_unset(struct strata_instance *inst, uint32_t scope,
			 const struct strata_prefix *dst)
{
	struct mock_host *mh = MH(inst);
	struct strata_route *r;

	if (!mh->owner)
		return -EPERM;
	r = route_find(mh, scope, dst);
	if (!r)
		return -ENOENT;
	*r = mh->routes[--mh->n_routes];
	return 0;
}

static int h_route_synced(struct strata_instance *inst)
{
	struct mock_host *mh = MH(inst);

	if (!mh->owner)
		return -EPERM;
	mh->synced++;
	return 0;
}

static int h_route_resync(struct strata_instance *inst)
{
	MH(inst)->resyncs++;
	return 0;
}

bool mock_host_is_owner(const struct mock_host *mh)
{
	return mh->owner;
}

size_t mock_host_route_count(const struct mock_host *mh)
{
	return mh->n_routes;
}

const struct strata_route *mock_host_route_at(const struct mock_host *mh,
					      size_t i)
{
	return i < mh->n_routes ? &mh->routes[i] : NULL;
}

const struct strata_route *mock_host_route_find(const struct mock_host *mh,
						uint32_t scope,
						const struct strata_prefix *dst)
{
	struct strata_prefix p;

	/* the caller's prefix may carry junk past the family's bytes */
	memset(&p, 0, sizeof(p));
	p.family = dst->family;
	p.len = dst->len;
	memcpy(p.addr, dst->addr, dst->family == STRATA_AF_INET ? 4 : 16);
	return route_find(mh, scope, &p);
}

unsigned mock_host_synced_calls(const struct mock_host *mh)
{
	return mh->synced;
}

unsigned mock_host_resync_calls(const struct mock_host *mh)
{
	return mh->resyncs;
}

/* -- metrics, status, stopped ------------------------------------------ */

static int h_metric_add(struct strata_instance *inst, const char *name,
			int64_t delta)
{
	struct mock_host *mh = MH(inst);
	struct mock_kv *e = kv_get(&mh->metrics, &mh->n_metrics, name);

	if (!e)
		return -ENOMEM;
	e->num += delta;
	return 0;
}

static int h_metric_set(struct strata_instance *inst, const char *name,
			int64_t value)
{
	struct mock_host *mh = MH(inst);
	struct mock_kv *e = kv_get(&mh->metrics, &mh->n_metrics, name);

	if (!e)
		return -ENOMEM;
	e->num = value;
	return 0;
}

/* A histogram reads as its number of observations. */
static int h_metric_observe(struct strata_instance *inst, const char *name,
			    int64_t ns)
{
	struct mock_host *mh = MH(inst);
	struct mock_kv *e;

	if (ns < 0)
		return -EINVAL;
	e = kv_get(&mh->metrics, &mh->n_metrics, name);
	if (!e)
		return -ENOMEM;
	e->num++;
	return 0;
}

static int h_metric_delete(struct strata_instance *inst, const char *name)
{
	struct mock_host *mh = MH(inst);
	struct mock_kv *e = kv_find(mh->metrics, mh->n_metrics, name);

	if (!e)
		return -ENOENT;
	free(e->key);
	free(e->str);
	*e = mh->metrics[--mh->n_metrics];
	return 0;
}

int64_t mock_host_metric(const struct mock_host *mh, const char *name)
{
	const struct mock_kv *e = kv_find(mh->metrics, mh->n_metrics, name);

	return e ? e->num : 0;
}

bool mock_host_has_metric(const struct mock_host *mh, const char *name)
{
	return kv_find(mh->metrics, mh->n_metrics, name) != NULL;
}

static void h_status_str(struct strata_status *st, const char *key,
			 const char *value)
{
	struct mock_host *mh = st->mh;
	struct mock_kv *e = kv_get(&mh->stat, &mh->n_stat, key);

	if (!e)
		return;
	free(e->str);
	e->str = strdup(value ? value : "");
	e->is_num = false;
}

static void h_status_int(struct strata_status *st, const char *key,
			 int64_t value)
{
	struct mock_host *mh = st->mh;
	struct mock_kv *e = kv_get(&mh->stat, &mh->n_stat, key);

	if (!e)
		return;
	free(e->str);
	e->str = NULL;
	e->num = value;
	e->is_num = true;
}

struct strata_status *mock_host_status(struct mock_host *mh)
{
	kv_free(mh->stat, mh->n_stat);
	mh->stat = NULL;
	mh->n_stat = 0;
	return &mh->status;
}

const char *mock_host_status_str(const struct mock_host *mh, const char *key)
{
	const struct mock_kv *e = kv_find(mh->stat, mh->n_stat, key);

	return e && !e->is_num ? e->str : NULL;
}

int mock_host_status_int(const struct mock_host *mh, const char *key,
			 int64_t *out)
{
	const struct mock_kv *e = kv_find(mh->stat, mh->n_stat, key);

	if (!e || !e->is_num)
		return -ENOENT;
	*out = e->num;
	return 0;
}

static void h_stopped(struct strata_instance *inst)
{
	MH(inst)->stopped++;
}

unsigned mock_host_stopped_calls(const struct mock_host *mh)
{
	return mh->stopped;
}

static int h_topology_changed(struct strata_instance *inst)
{
	MH(inst)->topology_changes++;
	return 0;
}

unsigned mock_host_topology_changes(const struct mock_host *mh)
{
	return mh->topology_changes;
}

/* -- the store --------------------------------------------------------- */

static struct mock_call *call_new(struct mock_host *mh, void *arg)
{
	struct mock_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->mh = mh;
	c->arg = arg;
	c->next = mh->calls;
	if (c->next)
		c->next->prev = c;
	mh->calls = c;
	return c;
}

static void call_unlink(struct mock_call *c)
{
	if (!c->mh)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->mh->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* Frees the record; true when the completion is to be delivered. */
static bool call_end(struct mock_call *c, struct mock_call *copy)
{
	*copy = *c;
	call_unlink(c);
	free(c);
	return copy->mh != NULL;
}

static int call_start(struct mock_call *c, int rc)
{
	if (rc) {
		call_unlink(c);
		free(c);
	}
	return rc;
}

static void m_txn_done(void *arg, int err,
		       const struct strata_store_txn_result *res)
{
	struct mock_call c;

	if (call_end(arg, &c))
		c.cb.txn(c.arg, err, res);
}

static void m_range_done(void *arg, int err, int64_t rev,
			 const struct strata_kv *kvs, size_t n)
{
	struct mock_call c;

	if (call_end(arg, &c))
		c.cb.range(c.arg, err, rev, kvs, n);
}

static void m_write_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct mock_call c;

	if (call_end(arg, &c))
		c.cb.done(c.arg, err, rev, n);
}

static void m_lease_done(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct mock_call c;

	if (call_end(arg, &c))
		c.cb.lease(c.arg, err, id, ttl_ms);
}

static void m_fail(void *arg)
{
	struct mock_call *c = arg;
	int err = c->err;

	switch (c->kind) {
	case MK_TXN:
		m_txn_done(c, err, NULL);
		break;
	case MK_RANGE:
		m_range_done(c, err, 0, NULL, 0);
		break;
	case MK_DONE:
		m_write_done(c, err, 0, 0);
		break;
	case MK_LEASE:
		m_lease_done(c, err, 0, 0);
		break;
	}
}

/* The store cannot be reached: the call completes with the error, on the
 * loop, like a request that timed out. */
static int call_fail(struct mock_call *c, enum mock_kind kind)
{
	c->kind = kind;
	c->err = c->mh->store_err;
	return call_start(c, loop_defer(c->mh->loop, m_fail, c) ? 0 : -ENOMEM);
}

void mock_host_set_store_error(struct mock_host *mh, int err)
{
	mh->store_err = err;
}

#define MOCK_CALL(inst, field, fn, arg, kind)                             \
	struct mock_host *mh = MH(inst);                                  \
	struct mock_call *c;                                              \
	if (!(fn))                                                        \
		return -EINVAL;                                           \
	if (!mh->store)                                                   \
		return -ENOTCONN;                                         \
	c = call_new(mh, arg);                                            \
	if (!c)                                                           \
		return -ENOMEM;                                           \
	c->cb.field = (fn);                                               \
	if (mh->store_err)                                                \
		return call_fail(c, kind)

static int h_store_txn(struct strata_instance *inst,
		       const struct strata_store_txn *txn,
		       strata_store_txn_cb cb, void *arg)
{
	MOCK_CALL(inst, txn, cb, arg, MK_TXN);
	if (!txn)
		return call_start(c, -EINVAL);
	mh->store_writes++;
	return call_start(c, store_txn(mh->store, txn, m_txn_done, c));
}

static int h_store_get(struct strata_instance *inst, const char *key,
		       uint32_t flags, strata_store_range_cb cb, void *arg)
{
	MOCK_CALL(inst, range, cb, arg, MK_RANGE);
	if (!key)
		return call_start(c, -EINVAL);
	return call_start(c, store_get(mh->store, key, flags, m_range_done, c));
}

static int h_store_put(struct strata_instance *inst, const char *key,
		       const void *value, size_t value_len, int64_t lease,
		       strata_store_done_cb cb, void *arg)
{
	MOCK_CALL(inst, done, cb, arg, MK_DONE);
	if (!key || (!value && value_len))
		return call_start(c, -EINVAL);
	mh->store_writes++;
	return call_start(c, store_put(mh->store, key, value, value_len, lease,
				       m_write_done, c));
}

static int h_store_delete(struct strata_instance *inst, const char *key,
			  uint32_t flags, strata_store_done_cb cb, void *arg)
{
	MOCK_CALL(inst, done, cb, arg, MK_DONE);
	if (!key)
		return call_start(c, -EINVAL);
	mh->store_writes++;
	return call_start(c, store_delete(mh->store, key, flags, m_write_done,
					  c));
}

static int h_store_lease_grant(struct strata_instance *inst, int64_t ttl_ms,
			       strata_store_lease_cb cb, void *arg)
{
	MOCK_CALL(inst, lease, cb, arg, MK_LEASE);
	if (ttl_ms <= 0)
		return call_start(c, -EINVAL);
	return call_start(c, store_lease_grant(mh->store, ttl_ms, 0,
					       m_lease_done, c));
}

static int h_store_lease_keepalive(struct strata_instance *inst, int64_t id,
				   strata_store_lease_cb cb, void *arg)
{
	MOCK_CALL(inst, lease, cb, arg, MK_LEASE);
	return call_start(c, store_lease_keepalive(mh->store, id, m_lease_done,
						   c));
}

static int h_store_lease_revoke(struct strata_instance *inst, int64_t id,
				strata_store_done_cb cb, void *arg)
{
	MOCK_CALL(inst, done, cb, arg, MK_DONE);
	return call_start(c, store_lease_revoke(mh->store, id, m_write_done,
						c));
}

static void m_watch_events(void *arg, int err, int64_t rev,
			   const struct strata_store_event *ev, size_t n)
{
	struct mock_swatch *w = arg;

	/* w may be cancelled by the callback: nothing after it */
	w->cb(w->arg, err, rev, ev, n);
}

static struct strata_store_watch *
h_store_watch(struct strata_instance *inst, const char *key, uint32_t flags,
	      int64_t start_rev, strata_store_watch_cb cb, void *arg)
{
	struct mock_host *mh = MH(inst);
	struct mock_swatch *w;
	int rc;

	if (!key || !cb) {
		errno = EINVAL;
		return NULL;
	}
	if (!mh->store) {
		errno = ENOTCONN;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->mh = mh;
	w->cb = cb;
	w->arg = arg;
	rc = store_watch(mh->store, key, flags, start_rev, m_watch_events, w,
			 &w->w);
	if (rc) {
		free(w);
		errno = -rc;
		return NULL;
	}
	w->next = mh->swatches;
	if (w->next)
		w->next->prev = w;
	mh->swatches = w;
	return (struct strata_store_watch *)w;
}

static void h_store_watch_cancel(struct strata_instance *inst,
				 struct strata_store_watch *sw)
{
	struct mock_host *mh = MH(inst);
	struct mock_swatch *w = (struct mock_swatch *)sw;

	if (!w)
		return;
	store_watch_cancel(w->w);
	if (w->prev)
		w->prev->next = w->next;
	else
		mh->swatches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

/* Calls in flight are orphaned (their completions dropped, as the daemon
 * drops them for a destroyed instance) and watches released. */
static void store_detach(struct mock_host *mh)
{
	struct mock_call *c, *next;

	for (c = mh->calls; c; c = next) {
		next = c->next;
		c->mh = NULL;
		c->prev = c->next = NULL;
	}
	mh->calls = NULL;
	while (mh->swatches)
		h_store_watch_cancel(&mh->inst,
				     (struct strata_store_watch *)mh->swatches);
	mh->store = NULL;
}

int mock_host_set_store(struct mock_host *mh, struct store *st)
{
	if (mh->store != st)
		store_detach(mh);
	mh->store = st;
	return 0;
}

unsigned mock_host_store_writes(const struct mock_host *mh)
{
	return mh->store_writes;
}

/* -- the node's IPAM --------------------------------------------------- */

static void icall_clear(struct mock_icall *c)
{
	size_t i;

	for (i = 0; i < c->n_held; i++) {
		free(c->held[i].handle);
		free(c->held[i].addrs);
	}
	c->n_held = 0;
}

static void icall_free(struct mock_icall *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->mh->icalls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->defer)
		loop_defer_cancel(c->defer);
	icall_clear(c);
	free(c->held);
	free(c->text);
	free(c);
}

/* What is held, then (once in) the answer, which frees the record. */
static void icall_flush(struct mock_icall *c)
{
	size_t i;
	int err;

	for (i = 0; i < c->n_held; i++)
		if (!c->orphan)
			c->list_cb(c->arg, c->held[i].handle, c->held[i].addrs,
				   c->held[i].n_addrs);
	icall_clear(c);
	if (!c->finished)
		return;
	if (!c->orphan && c->kind != MI_LIST) {
		c->cb(c->arg, &c->res);
	} else if (!c->orphan) {
		err = c->res.error ? c->res.error : c->lost ? -ENOMEM : 0;
		c->done(c->arg, err,
			c->res.error ? c->res.error_text :
			err	     ? "out of memory" :
				       NULL);
	}
	icall_free(c);
}

static void icall_deferred(void *arg)
{
	struct mock_icall *c = arg;

	c->defer = NULL;
	icall_flush(c);
}

static int icall_schedule(struct mock_icall *c)
{
	if (!c->defer)
		c->defer = loop_defer(c->mh->loop, icall_deferred, c);
	return c->defer ? 0 : -ENOMEM;
}

static void icall_finish(struct mock_icall *c, int err, const char *text)
{
	c->pending = false;
	c->finished = true;
	c->res.error = err;
	free(c->text);
	c->text = err && text ? strdup(text) : NULL;
	c->res.error_text = c->text;
	if (!c->in_call)
		icall_flush(c);
}

static void m_ipam_answered(void *arg, const struct strata_ipam_result *res)
{
	struct mock_icall *c = arg;
	uint32_t n = 0;

	if (!res->error) {
		n = res->n_addrs < 2 ? res->n_addrs : 2;
		memcpy(c->res.addrs, res->addrs, n * sizeof(res->addrs[0]));
	}
	c->res.n_addrs = n;
	icall_finish(c, res->error, res->error_text);
}

static void m_ipam_listed(void *arg, const char *handle,
			  const struct strata_prefix *addrs, uint32_t n_addrs)
{
	struct mock_icall *c = arg;
	struct mock_entry *e;

	if (!c->in_call) {
		icall_flush(c);
		if (!c->orphan)
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

static void m_ipam_list_done(void *arg, int err, const char *text)
{
	icall_finish(arg, err, text);
}

static struct mock_icall *icall_new(struct mock_host *mh,
				    enum mock_ipam_kind kind, void *arg)
{
	struct mock_icall *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->mh = mh;
	c->kind = kind;
	c->arg = arg;
	c->pending = true;
	c->in_call = true;
	c->res.size = sizeof(c->res);
	c->next = mh->icalls;
	if (c->next)
		c->next->prev = c;
	mh->icalls = c;
	return c;
}

static int icall_started(struct mock_icall *c, int rc)
{
	c->in_call = false;
	if (rc > 0)
		rc = -EINVAL;
	if (!rc && (c->finished || c->n_held) && icall_schedule(c) < 0 &&
	    c->finished)
		rc = -ENOMEM;
	if (rc)
		icall_free(c);
	return rc;
}

static int h_ipam_call(struct strata_instance *inst,
		       const struct strata_ipam_request *req,
		       strata_ipam_cb cb, void *arg, bool release)
{
	struct mock_host *mh = MH(inst);
	struct mock_icall *c;
	int rc;

	if (!req || req->size < sizeof(*req) || !req->handle ||
	    !req->handle[0] || !cb)
		return -EINVAL;
	if (!mh->ipam)
		return -ENODEV;
	c = icall_new(mh, release ? MI_RELEASE : MI_ALLOCATE, arg);
	if (!c)
		return -ENOMEM;
	c->cb = cb;
	rc = release ? mh->ipam->release(mh->ipam_self, req, m_ipam_answered,
					 c) :
		       mh->ipam->allocate(mh->ipam_self, req, m_ipam_answered,
					  c);
	return icall_started(c, rc);
}

static int h_ipam_allocate(struct strata_instance *inst,
			   const struct strata_ipam_request *req,
			   strata_ipam_cb cb, void *arg)
{
	return h_ipam_call(inst, req, cb, arg, false);
}

static int h_ipam_release(struct strata_instance *inst,
			  const struct strata_ipam_request *req,
			  strata_ipam_cb cb, void *arg)
{
	return h_ipam_call(inst, req, cb, arg, true);
}

static int h_ipam_list(struct strata_instance *inst, const char *prefix,
		       strata_ipam_list_cb cb, strata_done_cb done, void *arg)
{
	struct mock_host *mh = MH(inst);
	struct mock_icall *c;

	if (!cb || !done)
		return -EINVAL;
	if (!mh->ipam)
		return -ENODEV;
	if (!mh->ipam->list)
		return -EOPNOTSUPP;
	c = icall_new(mh, MI_LIST, arg);
	if (!c)
		return -ENOMEM;
	c->list_cb = cb;
	c->done = done;
	return icall_started(c, mh->ipam->list(mh->ipam_self,
					       prefix ? prefix : "",
					       m_ipam_listed, m_ipam_list_done,
					       c));
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

static int64_t h_route_writer_remaining(struct strata_instance *inst)
{
	return MH(inst)->writer_remaining;
}

void mock_host_set_writer_remaining(struct mock_host *mh, int64_t ns)
{
	mh->writer_remaining = ns;
}

static int h_ipam_pools(struct strata_instance *inst,
			struct strata_prefix *out, size_t max)
{
	struct mock_host *mh = MH(inst);
	struct pools_sink p = { .out = out, .max = out ? max : 0 };
	struct strata_topo_sink sink = {
		.size = sizeof(sink),
		.arg = &p,
		.node = pools_node,
	};
	int rc;

	if (!out && max)
		return -EINVAL;
	if (!mh->ipam)
		return -ENODEV;
	if (!mh->ipam->view)
		return -EOPNOTSUPP;
	rc = mh->ipam->view(mh->ipam_self, &sink);
	if (rc)
		return rc > 0 ? -EINVAL : rc;
	return (int)p.n;
}

int mock_host_set_ipam(struct mock_host *mh,
		       const struct strata_ipam_ops *ops, void *self)
{
	struct mock_icall *c;

	if (ops && (!ops->allocate || !ops->release))
		return -EINVAL;
	if (mh->ipam != ops || mh->ipam_self != self) {
		/* the calls of the one before are no longer the test's */
		for (c = mh->icalls; c; c = c->next)
			c->orphan = true;
	}
	mh->ipam = ops;
	mh->ipam_self = ops ? self : NULL;
	return 0;
}

void mock_host_ipam_gone(struct mock_host *mh)
{
	struct mock_icall *c, *next;

	for (c = mh->icalls; c; c = next) {
		next = c->next;
		if (!c->pending || c->orphan)
			continue;
		c->pending = false;
		c->finished = true;
		c->res.error = -ENODEV;
		c->res.n_addrs = 0;
		free(c->text);
		c->text = strdup("the IPAM instance stopped");
		c->res.error_text = c->text;
		if (icall_schedule(c) < 0)
			c->orphan = true;
	}
	mh->ipam = NULL;
	mh->ipam_self = NULL;
}

unsigned mock_host_ipam_calls(const struct mock_host *mh)
{
	const struct mock_icall *c;
	unsigned n = 0;

	for (c = mh->icalls; c; c = c->next)
		n++;
	return n;
}

/* -- Kubernetes and policy (1.1) ---------------------------------------- */

static int h_kube_watch(struct strata_instance *inst, const char *path,
			strata_kube_cb cb, void *arg,
			struct strata_kube_watch **out)
{
	struct mock_host *mh = MH(inst);
	struct strata_kube_watch *w;

	*out = NULL;
	if (!path || path[0] != '/' || !cb)
		return -EINVAL;
	if (mh->kube_off)
		return -ENOTCONN;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return -ENOMEM;
	}
	w->cb = cb;
	w->arg = arg;
	w->next = mh->kwatches;
	mh->kwatches = w;
	*out = w;
	return 0;
}

static void h_kube_watch_cancel(struct strata_instance *inst,
				struct strata_kube_watch *w)
{
	struct strata_kube_watch **pp = &MH(inst)->kwatches;

	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = w->next;
	free(w->path);
	free(w);
}

void mock_host_set_kube(struct mock_host *mh, bool connected)
{
	mh->kube_off = !connected;
}

unsigned mock_host_kube_event(struct mock_host *mh, const char *path,
			      uint32_t event, const char *key,
			      const char *json)
{
	struct strata_kube_watch *w, *next;
	unsigned n = 0;

	for (w = mh->kwatches; w; w = next) {
		next = w->next; /* the callback may cancel its own watch */
		if (strcmp(w->path, path))
			continue;
		n++;
		w->cb(w->arg, event, key, json, json ? strlen(json) : 0);
	}
	return n;
}

unsigned mock_host_kube_watches(const struct mock_host *mh)
{
	const struct strata_kube_watch *w;
	unsigned n = 0;

	for (w = mh->kwatches; w; w = w->next)
		n++;
	return n;
}

static void pattach_run(void *arg)
{
	struct mock_host *mh = arg;
	struct mock_pattach *v = mh->pattach;
	size_t n = mh->n_pattach;

	/* callbacks may attach again: they queue anew */
	mh->pattach = NULL;
	mh->n_pattach = mh->cap_pattach = 0;
	mh->pattach_defer = NULL;
	for (size_t i = 0; i < n; i++)
		v[i].cb(v[i].arg, 0, NULL);
	free(v);
}

static int h_policy_attach(struct strata_instance *inst,
			   const struct strata_pod *pod, strata_done_cb cb,
			   void *arg)
{
	struct mock_host *mh = MH(inst);

	if (!pod || !pod->handle || !pod->host_if || !cb)
		return -EINVAL;
	if (mh->n_pattach == mh->cap_pattach) {
		size_t cap = mh->cap_pattach ? 2 * mh->cap_pattach : 4;
		struct mock_pattach *v =
			realloc(mh->pattach, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		mh->pattach = v;
		mh->cap_pattach = cap;
	}
	if (!mh->pattach_defer &&
	    !(mh->pattach_defer = loop_defer(mh->loop, pattach_run, mh)))
		return -ENOMEM;
	mh->pattach[mh->n_pattach++] = (struct mock_pattach){ cb, arg };
	return 0;
}

static int h_policy_detach(struct strata_instance *inst,
			   const struct strata_pod *pod)
{
	(void)inst;
	return pod && pod->handle ? 0 : -EINVAL;
}

static int h_pods_attached(struct strata_instance *inst)
{
	return MH(inst)->pods_attached;
}

void mock_host_set_pods_attached(struct mock_host *mh, int known)
{
	mh->pods_attached = known;
}

/* -- the host ---------------------------------------------------------- */

static const struct strata_host mock_table = {
	.size = sizeof(struct strata_host),
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.log = h_log,
	.vlog = h_vlog,
	.instance_name = h_instance_name,
	.cfg_bool = h_cfg_bool,
	.cfg_int = h_cfg_int,
	.cfg_duration = h_cfg_duration,
	.cfg_string = h_cfg_string,
	.cfg_strings_count = h_cfg_strings_count,
	.cfg_strings_at = h_cfg_strings_at,
	.now = h_now,
	.fd_watch = h_fd_watch,
	.fd_modify = h_fd_modify,
	.fd_unwatch = h_fd_unwatch,
	.timer_start = h_timer_start,
	.timer_stop = h_timer_stop,
	.defer = h_defer,
	.post = h_post,
	.http_start = h_http_start,
	.http_cancel = h_http_cancel,
	.kroute_list = h_kroute_list,
	.kroute_replace = h_kroute_replace,
	.kroute_delete = h_kroute_delete,
	.fact_get = h_fact_get,
	.fact_set = h_fact_set,
	.store_txn = h_store_txn,
	.store_get = h_store_get,
	.store_put = h_store_put,
	.store_delete = h_store_delete,
	.store_lease_grant = h_store_lease_grant,
	.store_lease_keepalive = h_store_lease_keepalive,
	.store_lease_revoke = h_store_lease_revoke,
	.store_watch = h_store_watch,
	.store_watch_cancel = h_store_watch_cancel,
	.route_owner = h_route_owner,
	.route_set = h_route_set,
	.route_unset = h_route_unset,
	.route_synced = h_route_synced,
	.route_resync = h_route_resync,
	.metric_add = h_metric_add,
	.metric_set = h_metric_set,
	.metric_observe = h_metric_observe,
	.metric_delete = h_metric_delete,
	.status_str = h_status_str,
	.status_int = h_status_int,
	.stopped = h_stopped,
	.topology_changed = h_topology_changed,
	.ipam_allocate = h_ipam_allocate,
	.ipam_release = h_ipam_release,
	.ipam_list = h_ipam_list,
	.ipam_pools = h_ipam_pools,
	.route_writer_remaining = h_route_writer_remaining,
	.kube_watch = h_kube_watch,
	.kube_watch_cancel = h_kube_watch_cancel,
	.policy_attach = h_policy_attach,
	.policy_detach = h_policy_detach,
	.pods_attached = h_pods_attached,
};

static struct mock_host *mock_host_on(struct loop *loop)
{
	struct mock_host *mh = calloc(1, sizeof(*mh));

	if (!mh)
		return NULL;
	mh->inst.mh = mh;
	mh->status.mh = mh;
	mh->host = mock_table;
	mh->name = strdup("test");
	mh->loop = loop;
	mh->shared_loop = loop != NULL;
	mh->pods_attached = 1;
	if (!mh->name || (!loop && loop_new(&mh->loop) < 0)) {
		free(mh->name);
		free(mh);
		return NULL;
	}
	return mh;
}

struct mock_host *mock_host_new(void)
{
	return mock_host_on(NULL);
}

struct mock_host *mock_host_new_peer(struct mock_host *mh)
{
	return mh ? mock_host_on(mh->loop) : NULL;
}

void mock_host_free(struct mock_host *mh)
{
	size_t i;

	if (!mh)
		return;
	store_detach(mh);
	while (mh->icalls)
		icall_free(mh->icalls);
	while (mh->watches)
		h_fd_unwatch(&mh->inst, (struct strata_watch *)mh->watches);
	while (mh->kwatches)
		h_kube_watch_cancel(&mh->inst, mh->kwatches);
	if (mh->pattach_defer)
		loop_defer_cancel(mh->pattach_defer);
	free(mh->pattach);
	if (mh->http)
		http_free(mh->http);
	nl_free(mh->nl);
	if (!mh->shared_loop)
		loop_free(mh->loop);
	for (i = 0; i < mh->n_cfg; i++) {
		cfg_clear(&mh->cfg[i]);
		free(mh->cfg[i].key);
	}
	free(mh->cfg);
	kv_free(mh->facts, mh->n_facts);
	kv_free(mh->metrics, mh->n_metrics);
	kv_free(mh->stat, mh->n_stat);
	free(mh->routes);
	free(mh->name);
	free(mh);
}

const struct strata_host *mock_host_table(struct mock_host *mh)
{
	return &mh->host;
}

struct strata_instance *mock_instance(struct mock_host *mh)
{
	return &mh->inst;
}

struct loop *mock_host_loop(struct mock_host *mh)
{
	return mh->loop;
}

void mock_host_set_instance_name(struct mock_host *mh, const char *name)
{
	char *s = strdup(name);

	if (!s)
		return;
	free(mh->name);
	mh->name = s;
}
