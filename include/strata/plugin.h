/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strata plugin ABI, 1.1.
 *
 * A plugin is a shared object that exports exactly one symbol, the const
 * descriptor named by STRATA_PLUGIN_ENTRY (strata_plugin_v1), filled in with
 * STRATA_PLUGIN(). stratad reads the descriptor in a forked child first,
 * checks it (magic, major, minor, size, kind, mandatory ops), and only then
 * loads the plugin in its own process. See docs/plugin-abi.md.
 *
 * The rules, from 1.0 on:
 * - A host of 1.N loads plugins of 1.0 to 1.N. A plugin of a newer minor,
 *   or of another major, is refused with one line saying why.
 * - A minor only appends: entries at the end of the host table and of an
 *   ops table, members at the end of a struct that starts with its size,
 *   new kinds and constants. Nothing is removed, moved, retyped or
 *   renumbered, and every table or struct keeps at least its 1.0 size.
 * - Any other change is a new major, with a new entry symbol
 *   (strata_plugin_v2), so that no plugin is mistaken for another major's.
 * - A plugin calls a host entry added after 1.0 only when
 *   STRATA_HOST_HAS(host, entry) says the host's table holds it.
 *
 * Changelog
 *   1.0  first stable version: the descriptor (strata_plugin_v1), config
 *        schema and lifecycle ops; kind ops for ipam (with the topology
 *        types), advertiser, healthcheck and frontend; the host table
 *        (log, config, event loop, HTTP, kernel routes, node facts, the
 *        cluster store, the route model, metrics with labels and
 *        histograms, status, the node's IPAM, the route writer's
 *        fencing); <strata/types.h> and <strata/store.h>. It follows the
 *        development versions 0.1 to 0.5, which no 1.x host loads.
 *   1.1  the policy kind (STRATA_KIND_POLICY, struct strata_policy_ops,
 *        struct strata_pod in <strata/types.h>); host entries kube_watch
 *        and kube_watch_cancel (the STRATA_KUBE_* events), policy_attach,
 *        policy_detach and pods_attached.
 */
#ifndef STRATA_PLUGIN_H
#define STRATA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <strata/host.h>
#include <strata/types.h>
#include <strata/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_PLUGIN_MAGIC 0x53545241u /* "STRA" */

#define STRATA_CAT_(a, b) a##b
#define STRATA_CAT(a, b) STRATA_CAT_(a, b)
#define STRATA_STR_(a) #a
#define STRATA_STR(a) STRATA_STR_(a)
/* The entry symbol carries the ABI major. */
#define STRATA_PLUGIN_ENTRY STRATA_CAT(strata_plugin_v, STRATA_ABI_MAJOR)
#define STRATA_PLUGIN_ENTRY_NAME "strata_plugin_v" STRATA_STR(STRATA_ABI_MAJOR)

/* Plugin kinds */
#define STRATA_KIND_IPAM 1u
#define STRATA_KIND_ADVERTISER 2u
#define STRATA_KIND_HEALTHCHECK 3u
#define STRATA_KIND_FRONTEND 4u
#define STRATA_KIND_POLICY 5u /* 1.1 */

/* Positive returns of lifecycle ops */
#define STRATA_PENDING 1        /* stop(): host->stopped() follows */
#define STRATA_RECONF_RESTART 1 /* reconfigure(): stop and create anew */

/*
 * Config schema: one entry per key the plugin accepts in its instance's
 * `config` group, ended by an entry whose name is NULL. stratad -t rejects
 * unknown keys, wrong types and values out of [min, max] (when min < max).
 */
#define STRATA_CFG_BOOL 1u
#define STRATA_CFG_INT 2u
#define STRATA_CFG_STRING 3u
#define STRATA_CFG_STRINGS 4u  /* a list of strings */
#define STRATA_CFG_DURATION 5u /* "250ms", "30s", "5m", "1h", or seconds */

#define STRATA_CFG_REQUIRED 0x1u

struct strata_cfg_key {
	const char *name;
	uint32_t type;
	uint32_t flags;
	const char *def; /* default, as it would be written; NULL: none */
	int64_t min;     /* bounds for INT (value) and DURATION (ns) */
	int64_t max;
	const char *help;
};

struct strata_plugin_ops {
	uint32_t size; /* sizeof(struct strata_plugin_ops) */
	/* Mandatory. Read the config, allocate the instance; no I/O yet.
	 * *self is the instance's state, passed back to every op. 0, or
	 * -errno with nothing left allocated. */
	int (*create)(const struct strata_host *host,
		      struct strata_instance *inst, void **self);
	/* Mandatory. Begin work: open sockets, start timers. 0 or -errno. */
	int (*start)(void *self);
	/* Optional. The configuration changed (SIGHUP) and the host's config
	 * getters return the new values: 0 when applied in place,
	 * STRATA_RECONF_RESTART to be stopped and created anew, or -errno.
	 * NULL means always restart. */
	int (*reconfigure)(void *self);
	/* Optional. Finish work: 0 when done, STRATA_PENDING when it will
	 * call host->stopped() later. Routes are not withdrawn on stop. */
	int (*stop)(void *self);
	/* Mandatory. Free everything; the host then releases what the
	 * instance still holds of its own. Called after stop(), and after a
	 * start() that failed. */
	void (*destroy)(void *self);
	/* Optional. Describe the instance's state for stratactl, with the
	 * host's status_str() and status_int() on st, during the call. */
	void (*status)(void *self, struct strata_status *st);
};

/* Advertisers make a scope of the network carry the model's routes. */
#define STRATA_RECONCILE_MAY_DELETE 0x1u /* every owner has synced */

struct strata_advertiser_ops {
	uint32_t size;
	/* Mandatory. The scopes (STRATA_SCOPE_*) this instance serves; read
	 * once after create(). */
	uint32_t (*scopes)(void *self);
	/*
	 * Mandatory. Make the scope carry exactly `desired` (the union of all
	 * owners' routes for the instance's scopes): add what is missing,
	 * replace what differs and, only when flags has MAY_DELETE, remove
	 * what strata installed that is no longer desired. Idempotent; called
	 * after changes (debounced) and on every periodic resync. The array is
	 * borrowed for the call.
	 */
	int (*reconcile)(void *self, const struct strata_route *const *desired,
			 size_t n, uint32_t flags);
	/* Optional. What the instance believes is installed, for stratactl:
	 * cb once per route, before it returns. 0 or -errno. */
	int (*installed)(void *self, strata_route_cb cb, void *arg);
};

/* Health checkers probe one target once; timing belongs to the host. */
struct strata_hc_target {
	uint32_t size;
	struct strata_addr addr;
	uint16_t port;     /* tcp, http */
	uint16_t reserved;
	const char *path;  /* http; NULL: "/" */
	int32_t expect;    /* http status; 0: any 2xx */
	int32_t reserved2;
};

typedef void (*strata_hc_done)(void *arg, int up, const char *reason);

struct strata_healthcheck_ops {
	uint32_t size;
	/* Mandatory. Start one probe; `done` runs exactly once, from the loop
	 * and never inside probe(), unless the probe is cancelled first.
	 * Returns a probe id > 0 or -errno (then `done` never runs). The
	 * target is borrowed for the call. */
	int64_t (*probe)(void *self, const struct strata_hc_target *target,
			 strata_hc_done done, void *arg);
	/* Mandatory. Abandon a probe (the host's timeout ran out): release
	 * what it holds; its `done` must not run. */
	void (*cancel)(void *self, int64_t probe_id);
};

/* IPAM strategies hand out pod addresses (the request and result types
 * are in <strata/types.h>, shared with the host table). */

/*
 * The carving: how an IPAM strategy lays its address pools over the
 * network's topology. A tree of nodes (the cluster, then one node per value
 * of each topology level: zone, subnet, ...) each holding prefixes; hosts
 * hold blocks inside the prefixes of the node they belong to. The nodes
 * marked `routed` are what the network routes (one route per prefix, or
 * fewer than one per host).
 */
struct strata_fact {
	const char *name;
	const char *value;
};

#define STRATA_TOPO_MAX_ADDRS 4

/* A host as carve() is asked to place it. */
struct strata_topo_host {
	uint32_t size;
	uint32_t pods;     /* pods to make room for; 0: one block per family */
	const char *name;
	const struct strata_fact *facts; /* its facts: zone, subnet, ... */
	uint32_t n_facts;
	uint32_t n_addrs;
	struct strata_addr addrs[STRATA_TOPO_MAX_ADDRS]; /* node addresses */
};

/* One node of the carving tree; parents are reported before children. */
struct strata_topo_node {
	uint32_t size;
	uint32_t depth;   /* 0: the cluster (its prefixes are the pools) */
	const char *level; /* "cluster", or the level's fact name */
	const char *path;  /* "" for the cluster, else "zone-a/subnet-1" */
	uint32_t routed;   /* 1: the network routes this node's prefixes */
	uint32_t n_prefixes;
	const struct strata_prefix *prefixes;
	uint64_t blocks_total;    /* blocks its prefixes hold (saturating) */
	uint64_t blocks_used;     /* held by hosts */
	uint64_t blocks_reserved; /* never handed out (reserved ranges) */
	uint64_t addrs_used;      /* pod addresses in use (view) or planned */
};

/* One host with its blocks, reported after the tree. */
struct strata_topo_blocks {
	uint32_t size;
	uint32_t n_addrs;
	const char *name;
	const char *path; /* the routed node it belongs to */
	struct strata_addr addrs[STRATA_TOPO_MAX_ADDRS];
	const struct strata_prefix *blocks;
	size_t n_blocks;
	uint64_t addrs_used;
};

struct strata_topo_sink {
	uint32_t size;
	uint32_t reserved;
	void *arg;
	void (*node)(void *arg, const struct strata_topo_node *node);
	void (*host)(void *arg, const struct strata_topo_blocks *host);
};

struct strata_ipam_ops {
	uint32_t size;
	/* Facts (host->fact_get names) that must be known before start. */
	const char *const *needs_facts;
	/* Mandatory. 0 when accepted, then cb runs exactly once; or -errno
	 * and cb never runs. Allocation is durable before cb reports
	 * success. */
	int (*allocate)(void *self, const struct strata_ipam_request *req,
			strata_ipam_cb cb, void *arg);
	/* Mandatory. The same calling rules as allocate(); releasing an
	 * unknown handle succeeds. */
	int (*release)(void *self, const struct strata_ipam_request *req,
		       strata_ipam_cb cb, void *arg);
	/*
	 * Optional. Plan a topology that does not exist: a pure function of
	 * the instance's config and `hosts` (no store, no I/O; callable
	 * without start()). Reports the tree, then each host's blocks, to
	 * sink. 0, or -errno with err (errlen bytes) saying which level is
	 * full or what is wrong, with the numbers.
	 */
	int (*carve)(void *self, const struct strata_topo_host *hosts,
		     size_t n, const struct strata_topo_sink *sink, char *err,
		     size_t errlen);
	/*
	 * Optional. The live carving as the instance knows it from the store,
	 * reported like carve(). -EAGAIN until the instance has read the
	 * store; host->topology_changed() says when to ask again.
	 */
	int (*view)(void *self, const struct strata_topo_sink *sink);
	/*
	 * Optional. The host `name` is gone for good (stratactl host
	 * remove): return its blocks to their subnet. -EBUSY while the host
	 * is registered (alive), -ENOENT when it holds nothing.
	 */
	int (*host_remove)(void *self, const char *name, strata_done_cb cb,
			   void *arg);
	/* Optional. The facts this instance needs, when its config names
	 * them (topology levels); replaces needs_facts. NULL-terminated,
	 * valid until destroy(). */
	const char *const *(*wanted_facts)(void *self);
	/*
	 * Optional (mandatory for an IPAM a front end uses). Every handle
	 * this node holds whose name begins with `prefix` ("" for all): cb
	 * once per handle with its addresses, then done once. Answers only
	 * after the instance has read the store, so the list is the durable
	 * truth; done runs on the loop, never inside the call.
	 */
	int (*list)(void *self, const char *prefix, strata_ipam_list_cb cb,
		    strata_done_cb done, void *arg);
};

/* Front ends serve requests from outside (strata-cni) with the host's
 * services; they have no kind ops beyond the table's size yet, and their
 * kind_ops may be NULL. */
struct strata_frontend_ops {
	uint32_t size;
	uint32_t reserved;
};

/*
 * Policy plugins (1.1) decide what may reach a pod and what a pod may
 * reach, and enforce it on this node. They learn of pod attachments from
 * the front end through the host (policy_attach and policy_detach), and
 * of the cluster's objects through the host's Kubernetes client
 * (kube_watch). A pod's traffic is dropped from the moment its interface
 * exists until its policy instance says its rules are in place.
 */
struct strata_policy_ops {
	uint32_t size;
	uint32_t reserved;
	/*
	 * Mandatory. The pod's interface exists: enforce its rules, then run
	 * cb(arg, 0, NULL) once they are in place, or cb(arg, -errno, why)
	 * when they cannot be (-EAGAIN: the pod or its policies are not known
	 * yet; the caller may try again). cb runs exactly once, on the loop,
	 * never inside the call; 0, or -errno and cb never runs. Attaching
	 * a pod attached already replaces what is known of it.
	 */
	int (*pod_attach)(void *self, const struct strata_pod *pod,
			  strata_done_cb cb, void *arg);
	/* Mandatory. The pod's interface is going away: forget the pod and
	 * what was enforced for it. Unknown handles succeed. */
	int (*pod_detach)(void *self, const struct strata_pod *pod);
	/*
	 * Optional. What may reach the pod NAMESPACE/NAME on this node, what
	 * it may reach, and which policy allows each: line() once per line of
	 * text, before it returns. -ENOENT when the pod is not known here.
	 */
	int (*explain)(void *self, const char *pod_namespace,
		       const char *pod_name,
		       void (*line)(void *arg, const char *text), void *arg);
};

/* The descriptor. Its layout up to `kind_ops` is fixed for a major. */
struct strata_plugin {
	uint32_t magic;
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t size; /* sizeof(struct strata_plugin) */
	uint32_t kind;
	const char *name; /* [a-z0-9-]+, unique among loaded plugins */
	const char *version;
	const char *description;
	const struct strata_cfg_key *config; /* may be NULL: no keys */
	const struct strata_plugin_ops *ops;
	const void *kind_ops; /* struct strata_<kind>_ops */
};

#if defined(__GNUC__)
#define STRATA_EXPORT_ __attribute__((visibility("default")))
#else
#define STRATA_EXPORT_
#endif
#ifdef __cplusplus
#define STRATA_EXPORT extern "C" STRATA_EXPORT_
#define STRATA_PLUGIN_DECL_                                          \
	extern "C" {                                                 \
	extern STRATA_EXPORT_ const struct strata_plugin STRATA_PLUGIN_ENTRY; \
	}
#else
#define STRATA_EXPORT STRATA_EXPORT_
#define STRATA_PLUGIN_DECL_ \
	extern STRATA_EXPORT_ const struct strata_plugin STRATA_PLUGIN_ENTRY;
#endif

/* Define the plugin's descriptor (declared first, so that warnings about
 * globals without a prior declaration stay quiet). */
#define STRATA_PLUGIN(kind_, name_, version_, description_, config_, ops_, \
		      kind_ops_)                                           \
	STRATA_PLUGIN_DECL_                                                \
	STRATA_EXPORT const struct strata_plugin STRATA_PLUGIN_ENTRY = {   \
		STRATA_PLUGIN_MAGIC,                                       \
		STRATA_ABI_MAJOR,                                          \
		STRATA_ABI_MINOR,                                          \
		sizeof(struct strata_plugin),                              \
		(kind_),                                                   \
		(name_),                                                   \
		(version_),                                                \
		(description_),                                            \
		(config_),                                                 \
		(ops_),                                                    \
		(kind_ops_),                                               \
	}

#ifdef __cplusplus
}
#endif

#endif
