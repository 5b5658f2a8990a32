/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy "policy-nft": Kubernetes NetworkPolicy, enforced at each pod's
 * veth with nftables (the table inet strata-filter).
 *
 * Namespaces, Pods and NetworkPolicies come from the host's Kubernetes
 * client; this node's pod attachments from the front end. The engine
 * (engine.h) compiles what they say into the table it wants; the model
 * (model.h) diffs it against what the kernel holds and one nft
 * transaction applies the difference. Nothing is applied before all three
 * resources have been listed once: until then the table stays as it is
 * (after a restart, the rules of the pods still running). A lost watch
 * changes nothing: the last known objects keep being enforced.
 *
 * A pod's veth drops everything from the moment it exists (the base
 * chains' "st*" rules) until an apply has put its rules in place; only
 * then does pod_attach complete, and with it the CNI ADD.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/plugin.h>

#include "engine.h"
#include "model.h"
#include "nft.h"

#define ERR_MAX 512
/* a failed apply is tried again after this, doubled each time up to max */
#define RETRY_MIN_NS 1000000000LL
#define RETRY_MAX_NS 30000000000LL

enum resource { RES_NAMESPACES, RES_PODS, RES_POLICIES, RES_N };

static const char *const res_path[RES_N] = {
	"/api/v1/namespaces",
	"/api/v1/pods",
	"/apis/networking.k8s.io/v1/networkpolicies",
};

struct pn;

struct watch_arg {
	struct pn *pn;
	enum resource res;
};

/* A pod_attach waiting for its rules. */
struct pending {
	struct pending *next;
	char *handle;
	char *ns, *name; /* NULL: found by address */
	strata_done_cb cb;
	void *arg;
	uint64_t gen;        /* an apply of this generation puts it in place */
	int64_t since_ns;
	bool waiting_pod;    /* its Pod object is not known yet */
};

struct pn {
	const struct strata_host *h;
	struct strata_instance *inst;
	int64_t pod_wait_ns;
	int64_t resync_ns;

	struct pol *pol;
	struct nft_ctx *nft;
	struct nftm *applied; /* what the kernel holds; NULL: read it again */
	bool applied_read; /* applied was read from the kernel since */

	struct watch_arg warg[RES_N];
	struct strata_kube_watch *watch[RES_N];
	bool listed[RES_N];
	bool pods_known; /* the host's pods_attached() said so */
	bool enforcing;  /* applied once */

	uint64_t gen;         /* bumped by every change to the engine */
	uint64_t applied_gen; /* the generation the kernel holds */
	bool apply_queued;
	struct pending *pending;
	struct strata_timer *tick;
	int64_t last_resync_ns;
	int64_t retry_at_ns, retry_delay_ns; /* after a failed apply */

	/* status */
	int64_t applies, apply_errors, malformed_events;
	int64_t last_apply_ns;
	struct nftm_diff_stats last_stats;
	char last_error[ERR_MAX];
};

static const struct strata_cfg_key pn_config[] = {
	{ "pod_wait", STRATA_CFG_DURATION, 0, "5s", 0, 60000000000LL,
	  "how long a new pod's attachment waits for its Pod object from the "
	  "API server; then it is admitted isolated both ways until the "
	  "object arrives" },
	{ "resync", STRATA_CFG_DURATION, 0, "60s", 1000000000LL,
	  3600000000000LL,
	  "how often the table is read back from the kernel and repaired" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static bool all_listed(const struct pn *pn)
{
	for (int i = 0; i < RES_N; i++)
		if (!pn->listed[i])
			return false;
	return true;
}

/* Whether the table may be made to match what is known: the objects are
 * listed, and the front ends have attached again every pod that outlived
 * a restart (until then a pod's rules would be taken away). */
static bool ready(struct pn *pn)
{
	if (!pn->pods_known)
		pn->pods_known = pn->h->pods_attached(pn->inst) > 0;
	return pn->pods_known && all_listed(pn);
}

/* -- completing attachments ---------------------------------------------- */

static void pending_free(struct pending *p)
{
	free(p->handle);
	free(p->ns);
	free(p->name);
	free(p);
}

/* Complete (and free) every pending attachment for which done() says so. */
static void complete_where(struct pn *pn,
			   int (*done)(struct pn *pn, struct pending *p,
				       const char **why))
{
	struct pending **pp = &pn->pending;

	while (*pp) {
		struct pending *p = *pp;
		const char *why = NULL;
		int rc = done(pn, p, &why);

		if (rc > 0) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->cb(p->arg, rc, why);
		pending_free(p);
	}
}

/* > 0: keep waiting; 0: in place; -errno: failed. */
static int pending_after_apply(struct pn *pn, struct pending *p,
			       const char **why)
{
	(void)why;
	if (p->waiting_pod || p->gen > pn->applied_gen)
		return 1;
	return 0;
}

static int pending_failed(struct pn *pn, struct pending *p, const char **why)
{
	(void)p;
	*why = pn->last_error;
	return -EIO;
}

/* -- applying -------------------------------------------------------------- */

static void apply_now(void *arg);

static void apply_soon(struct pn *pn)
{
	if (pn->apply_queued)
		return;
	if (pn->h->defer(pn->inst, apply_now, pn) == 0)
		pn->apply_queued = true;
}

static void changed(struct pn *pn)
{
	pn->gen++;
	apply_soon(pn);
}

static void set_error(struct pn *pn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct pn *pn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pn->last_error, sizeof(pn->last_error), fmt, ap);
	va_end(ap);
	pn->h->log(pn->inst, STRATA_LOG_ERR, "%s", pn->last_error);
}

static int read_kernel(struct pn *pn)
{
	char err[ERR_MAX];
	struct nftm *m = NULL;
	int rc = nftk_read(pn->nft, &m, err, sizeof(err));

	if (rc < 0) {
		set_error(pn, "reading table inet strata-filter: %s", err);
		return rc;
	}
	nftm_free(pn->applied);
	pn->applied = m;
	pn->applied_read = true;
	return 0;
}

static void set_gauges(struct pn *pn)
{
	struct pol_counts c;

	pol_counts(pn->pol, &c);
	pn->h->metric_set(pn->inst, "policy_pods_attached",
			  (int64_t)c.attachments);
	pn->h->metric_set(pn->inst, "policy_policies", (int64_t)c.policies);
	pn->h->metric_set(pn->inst, "policy_malformed_objects",
			  (int64_t)c.malformed);
}

static void apply_now(void *arg)
{
	struct pn *pn = arg;
	struct nftm *want = NULL;
	struct nftm_diff_stats stats = { 0 };
	char *script = NULL;
	char err[ERR_MAX];
	uint64_t gen = pn->gen;
	int64_t t0;
	int rc;

	pn->apply_queued = false;
	if (!ready(pn))
		return; /* the table stays as it is until we know enough */
	if (!pn->applied && read_kernel(pn) < 0)
		goto failed;
	t0 = pn->h->now();
	/* the engine's table, compiled again where objects changed */
	rc = pol_update(pn->pol, &want);
	if (rc < 0) {
		set_error(pn, "compiling the rules: %s", strerror(-rc));
		goto failed;
	}
	/* against a table read from the kernel, compare all of it; else
	 * only what the engine marked changed since the last apply */
	rc = pn->applied_read ?
		     nftm_diff(pn->applied, want, &script, &stats) :
		     nftm_diff_changed(pn->applied, want, &script, &stats);
	if (rc < 0) {
		set_error(pn, "comparing the rules: %s", strerror(-rc));
		goto failed;
	}
	if (*script) {
		rc = nftk_apply(pn->nft, script, err, sizeof(err));
		if (rc < 0) {
			set_error(pn, "applying the rules: %s", err);
			/* what the kernel holds is the old table: read it
			 * again before the next try */
			nftm_free(pn->applied);
			pn->applied = NULL;
			goto failed;
		}
		pn->applies++;
		pn->last_stats = stats;
		pn->h->metric_add(pn->inst, "policy_applies_total", 1);
		pn->h->metric_add(pn->inst, "policy_elements_changed_total",
				  (int64_t)(stats.elems_added +
					    stats.elems_deleted));
		pn->h->metric_add(pn->inst, "policy_chains_written_total",
				  (int64_t)stats.chains_written);
	}
	pn->last_apply_ns = pn->h->now() - t0;
	pn->h->metric_observe(pn->inst, "policy_apply_seconds",
			      pn->last_apply_ns);
	if (pn->applied_read) {
		nftm_free(pn->applied);
		pn->applied = nftm_dup(want);
	} else if (nftm_sync(pn->applied, want) < 0) {
		nftm_free(pn->applied);
		pn->applied = NULL;
	}
	/* out of memory there: read the kernel's table next time */
	pn->applied_read = false;
	pn->applied_gen = gen;
	pn->retry_at_ns = pn->retry_delay_ns = 0;
	free(script);
	set_gauges(pn);
	if (!pn->enforcing) {
		pn->enforcing = true;
		pn->h->log(pn->inst, STRATA_LOG_INFO,
			   "enforcing: objects listed, pods attached; %zu "
			   "elements and %zu chains changed", stats.elems_added +
			   stats.elems_deleted, stats.chains_written);
	}
	complete_where(pn, pending_after_apply);
	return;

failed:
	free(script);
	pn->retry_delay_ns = pn->retry_delay_ns ?
		pn->retry_delay_ns * 2 : RETRY_MIN_NS;
	if (pn->retry_delay_ns > RETRY_MAX_NS)
		pn->retry_delay_ns = RETRY_MAX_NS;
	pn->retry_at_ns = pn->h->now() + pn->retry_delay_ns;
	pn->apply_errors++;
	pn->h->metric_add(pn->inst, "policy_apply_errors_total", 1);
	complete_where(pn, pending_failed);
}

/* -- objects from the API server ------------------------------------------ */

static void split_key(const char *key, char *ns, size_t nslen,
		      const char **name)
{
	const char *slash = strchr(key, '/');

	*name = key;
	ns[0] = '\0';
	if (slash && (size_t)(slash - key) < nslen) {
		memcpy(ns, key, (size_t)(slash - key));
		ns[slash - key] = '\0';
		*name = slash + 1;
	}
}

static int pending_pod_known(struct pn *pn, struct pending *p,
			     const char **why)
{
	(void)why;
	if (p->waiting_pod && pol_pod_known(pn->pol, p->ns, p->name))
		p->waiting_pod = false;
	return 1; /* the apply that follows completes it */
}

static void on_object(void *arg, uint32_t event, const char *key,
		      const char *json, size_t len)
{
	struct watch_arg *wa = arg;
	struct pn *pn = wa->pn;
	char err[ERR_MAX], ns[256];
	const char *name;
	int rc = 0;

	if (event == STRATA_KUBE_SYNCED) {
		if (!pn->listed[wa->res])
			pn->h->log(pn->inst, STRATA_LOG_INFO, "listed %s",
				   res_path[wa->res]);
		pn->listed[wa->res] = true;
		changed(pn);
		return;
	}
	err[0] = '\0';
	if (event == STRATA_KUBE_DELETED) {
		split_key(key, ns, sizeof(ns), &name);
		switch (wa->res) {
		case RES_NAMESPACES:
			pol_namespace_del(pn->pol, key);
			break;
		case RES_PODS:
			pol_pod_del(pn->pol, ns, name);
			break;
		case RES_POLICIES:
			pol_policy_del(pn->pol, ns, name);
			break;
		default:
			break;
		}
	} else {
		switch (wa->res) {
		case RES_NAMESPACES:
			rc = pol_namespace_put(pn->pol, json, len, err,
					       sizeof(err));
			break;
		case RES_PODS:
			rc = pol_pod_put(pn->pol, json, len, err, sizeof(err));
			break;
		case RES_POLICIES:
			rc = pol_policy_put(pn->pol, json, len, err,
					    sizeof(err));
			break;
		default:
			break;
		}
	}
	if (rc == -EINVAL) {
		pn->malformed_events++;
		pn->h->log(pn->inst, STRATA_LOG_WARNING,
			   "%s (enforced as strictly as it can be read)", err);
	} else if (rc < 0) {
		set_error(pn, "%s: %s", key, strerror(-rc));
	}
	if (wa->res == RES_PODS)
		complete_where(pn, pending_pod_known);
	changed(pn);
}

/* -- the periodic tick: waits that ran out, retries, the resync ------------ */

static int pending_expired(struct pn *pn, struct pending *p, const char **why)
{
	(void)why;
	if (p->waiting_pod && pn->h->now() - p->since_ns >= pn->pod_wait_ns) {
		pn->h->log(pn->inst, STRATA_LOG_WARNING,
			   "pod %s/%s is not known from the API server after "
			   "%" PRId64 " ms: admitted, isolated both ways until "
			   "it is", p->ns, p->name, pn->pod_wait_ns / 1000000);
		p->waiting_pod = false;
		p->gen = pn->gen;
		apply_soon(pn);
	}
	return 1;
}

static void on_tick(void *arg)
{
	struct pn *pn = arg;
	int64_t now = pn->h->now();

	complete_where(pn, pending_expired);
	if (!pn->enforcing && ready(pn))
		apply_soon(pn);
	if (pn->retry_at_ns && now >= pn->retry_at_ns && ready(pn)) {
		pn->retry_at_ns = 0;
		apply_soon(pn);
	}
	if (ready(pn) && now - pn->last_resync_ns >= pn->resync_ns) {
		pn->last_resync_ns = now;
		/* the kernel's own view: repairs changes made by hand */
		nftm_free(pn->applied);
		pn->applied = NULL;
		apply_soon(pn);
	}
}

/* -- the policy ops -------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static int pn_pod_attach(void *self, const struct strata_pod *pod,
			 strata_done_cb cb, void *arg)
{
	struct pn *pn = self;
	struct pending *p;
	int rc;

	if (!pod || !pod->handle || !pod->host_if)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->handle = strdup(pod->handle);
	p->ns = dup_or_null(pod->pod_namespace);
	p->name = dup_or_null(pod->pod_name);
	if (!p->handle || (pod->pod_namespace && *pod->pod_namespace &&
			   (!p->ns || (pod->pod_name && !p->name)))) {
		pending_free(p);
		return -ENOMEM;
	}
	rc = pol_attach(pn->pol, pod);
	if (rc < 0) {
		pending_free(p);
		return rc;
	}
	p->cb = cb;
	p->arg = arg;
	p->since_ns = pn->h->now();
	p->waiting_pod = p->ns && p->name &&
			 !pol_pod_known(pn->pol, p->ns, p->name);
	p->next = pn->pending;
	pn->pending = p;
	changed(pn);
	p->gen = pn->gen;
	return 0;
}

static int pending_detached(struct pn *pn, struct pending *p, const char **why)
{
	(void)pn;
	(void)p;
	*why = "the pod was detached before its rules were in place";
	return -ECANCELED;
}

static int pn_pod_detach(void *self, const struct strata_pod *pod)
{
	struct pn *pn = self;
	struct pending **pp = &pn->pending;

	if (!pod || !pod->handle)
		return -EINVAL;
	while (*pp) {
		struct pending *p = *pp;
		const char *why = NULL;
		int rc;

		if (strcmp(p->handle, pod->handle)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		rc = pending_detached(pn, p, &why);
		p->cb(p->arg, rc, why);
		pending_free(p);
	}
	pol_detach(pn->pol, pod->handle);
	changed(pn);
	return 0;
}

static int pn_explain(void *self, const char *ns, const char *name,
		      void (*line)(void *arg, const char *text), void *arg)
{
	struct pn *pn = self;

	return pol_explain(pn->pol, ns, name, line, arg);
}

/* -- lifecycle ------------------------------------------------------------- */

static int read_config(struct pn *pn)
{
	int rc = pn->h->cfg_duration(pn->inst, "pod_wait", &pn->pod_wait_ns);

	if (!rc)
		rc = pn->h->cfg_duration(pn->inst, "resync", &pn->resync_ns);
	return rc;
}

static int pn_create(const struct strata_host *h, struct strata_instance *inst,
		     void **self)
{
	struct pn *pn;
	int rc;

	if (!STRATA_HOST_HAS(h, kube_watch)) {
		h->log(inst, STRATA_LOG_ERR,
		       "this stratad has plugin ABI %" PRIu32 ".%" PRIu32
		       ": the policy kind needs 1.1", h->abi_major,
		       h->abi_minor);
		return -ENOTSUP;
	}
	pn = calloc(1, sizeof(*pn));
	if (!pn)
		return -ENOMEM;
	pn->h = h;
	pn->inst = inst;
	rc = read_config(pn);
	if (rc < 0)
		goto free_pn;
	pn->pol = pol_new();
	pn->nft = nftk_open();
	if (!pn->pol || !pn->nft) {
		rc = -ENOMEM;
		goto free_all;
	}
	*self = pn;
	return 0;

free_all:
	pol_free(pn->pol);
	if (pn->nft)
		nftk_close(pn->nft);
free_pn:
	free(pn);
	return rc;
}

static int pn_start(void *self)
{
	struct pn *pn = self;
	int rc;

	/* the table as a previous run left it: the base of every diff */
	rc = read_kernel(pn);
	if (rc < 0)
		return rc;
	for (int i = 0; i < RES_N; i++) {
		pn->warg[i] = (struct watch_arg){ .pn = pn, .res = i };
		rc = pn->h->kube_watch(pn->inst, res_path[i], on_object,
				       &pn->warg[i], &pn->watch[i]);
		if (rc == -ENOTCONN) {
			pn->h->log(pn->inst, STRATA_LOG_ERR,
				   "NetworkPolicy needs the Kubernetes API: "
				   "configure the kubernetes group");
			return rc;
		}
		if (rc < 0) {
			pn->h->log(pn->inst, STRATA_LOG_ERR,
				   "watching %s: %s", res_path[i],
				   strerror(-rc));
			return rc;
		}
	}
	pn->last_resync_ns = pn->h->now();
	pn->tick = pn->h->timer_start(pn->inst, 250000000LL, 250000000LL,
				      on_tick, pn);
	if (!pn->tick)
		return -ENOMEM;
	return 0;
}

static int pn_reconfigure(void *self)
{
	struct pn *pn = self;

	return read_config(pn) < 0 ? STRATA_RECONF_RESTART : 0;
}

static int pn_stop(void *self)
{
	struct pn *pn = self;

	/* the rules stay: the pods keep their isolation while stratad is
	 * down, and the next start reconciles from them */
	for (int i = 0; i < RES_N; i++) {
		if (pn->watch[i])
			pn->h->kube_watch_cancel(pn->inst, pn->watch[i]);
		pn->watch[i] = NULL;
	}
	if (pn->tick)
		pn->h->timer_stop(pn->inst, pn->tick);
	pn->tick = NULL;
	return 0;
}

static void pn_destroy(void *self)
{
	struct pn *pn = self;

	while (pn->pending) {
		struct pending *p = pn->pending;

		pn->pending = p->next;
		p->cb(p->arg, -ECANCELED, "stratad is stopping");
		pending_free(p);
	}
	nftm_free(pn->applied);
	pol_free(pn->pol);
	nftk_close(pn->nft);
	free(pn);
}

static void pn_status(void *self, struct strata_status *st)
{
	struct pn *pn = self;
	struct pol_counts c;
	int64_t waiting = 0;

	pol_counts(pn->pol, &c);
	for (struct pending *p = pn->pending; p; p = p->next)
		waiting++;
	pn->h->status_str(st, "state", ready(pn) ? "enforcing" :
				       !all_listed(pn) ?
				       "waiting for the API server's lists" :
				       "waiting for the pods' attachments");
	pn->h->status_int(st, "namespaces", (int64_t)c.namespaces);
	pn->h->status_int(st, "pods", (int64_t)c.pods);
	pn->h->status_int(st, "policies", (int64_t)c.policies);
	pn->h->status_int(st, "attachments", (int64_t)c.attachments);
	pn->h->status_int(st, "attachments_waiting", waiting);
	pn->h->status_int(st, "malformed", (int64_t)c.malformed);
	pn->h->status_int(st, "applies", pn->applies);
	pn->h->status_int(st, "apply_errors", pn->apply_errors);
	pn->h->status_int(st, "last_apply_us", pn->last_apply_ns / 1000);
	pn->h->status_int(st, "last_elements_changed",
			  (int64_t)(pn->last_stats.elems_added +
				    pn->last_stats.elems_deleted));
	pn->h->status_int(st, "last_chains_written",
			  (int64_t)pn->last_stats.chains_written);
	if (pn->last_error[0])
		pn->h->status_str(st, "last_error", pn->last_error);
}

static const struct strata_plugin_ops pn_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = pn_create,
	.start = pn_start,
	.reconfigure = pn_reconfigure,
	.stop = pn_stop,
	.destroy = pn_destroy,
	.status = pn_status,
};

static const struct strata_policy_ops pn_policy_ops = {
	.size = sizeof(struct strata_policy_ops),
	.pod_attach = pn_pod_attach,
	.pod_detach = pn_pod_detach,
	.explain = pn_explain,
};

STRATA_PLUGIN(STRATA_KIND_POLICY, "policy-nft", "0.1.0",
	      "Kubernetes NetworkPolicy, enforced at each pod's veth with "
	      "nftables",
	      pn_config, &pn_ops, &pn_policy_ops);
