/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The services stratad offers a plugin instance. The table is handed to a
 * plugin's create() and stays valid until its destroy() returns. Every call
 * takes the instance handle it was given, is made on the loop thread (post()
 * alone may be called from any thread) and borrows its arguments for the
 * duration of the call. Nothing the host returns is freed by the plugin.
 *
 * Functions that act return 0 or a negative errno. Newer minors only append
 * entries: call one added after 1.0 only when STRATA_HOST_HAS(host, entry).
 */
#ifndef STRATA_HOST_H
#define STRATA_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/store.h>
#include <strata/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define STRATA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define STRATA_PRINTF(a, b)
#endif

/* Opaque handles owned by the host. */
struct strata_instance; /* one configured instance of a plugin */
struct strata_watch;    /* an fd watch */
struct strata_timer;    /* a one-shot or periodic timer */
struct strata_http_call;
struct strata_status; /* a status writer, valid during status() */
struct strata_store_watch;
struct strata_kube_watch; /* 1.1 */

/* Log levels: syslog's numbers. */
#define STRATA_LOG_ERR 3     /* harm beyond this event */
#define STRATA_LOG_WARNING 4 /* degraded, but healing */
#define STRATA_LOG_INFO 6    /* state transitions */
#define STRATA_LOG_DEBUG 7   /* shown when debug is on for the instance */

/* fd watch events */
#define STRATA_FD_IN 0x1u
#define STRATA_FD_OUT 0x2u
#define STRATA_FD_ERR 0x4u
#define STRATA_FD_HUP 0x8u

typedef void (*strata_cb)(void *arg);
typedef void (*strata_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*strata_route_cb)(void *arg, const struct strata_route *route);

/* Kubernetes watch events (1.1) */
#define STRATA_KUBE_ADDED 1u
#define STRATA_KUBE_MODIFIED 2u
#define STRATA_KUBE_DELETED 3u
#define STRATA_KUBE_SYNCED 4u
typedef void (*strata_kube_cb)(void *arg, uint32_t event, const char *key,
			       const char *json, size_t len);

struct strata_http_request {
	uint32_t size; /* sizeof(struct strata_http_request) */
	const char *method; /* "GET", "POST", ... */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines */
	const void *body;
	size_t body_len;
	int64_t timeout_ns;   /* whole request; 0: 30 s */
	const char *unix_socket; /* non-NULL: connect to this socket path */
	uint64_t max_body; /* 0: 16 MiB; a longer response fails with -EFBIG */
	/* Non-NULL: the body is handed over as it arrives, for streams, and
	 * the final response carries no body. */
	void (*on_data)(void *arg, const void *data, size_t len);
};

struct strata_http_response {
	uint32_t size;
	int32_t error; /* 0, or -errno: -ETIMEDOUT, -ECONNREFUSED, -EFBIG, -EIO */
	const char *error_text; /* NULL when error is 0 */
	int32_t status;         /* HTTP status; 0 when no response arrived */
	const char *body;       /* NUL-terminated, body_len bytes before it */
	size_t body_len;
};

typedef void (*strata_http_cb)(void *arg, const struct strata_http_response *resp);

struct strata_host {
	uint32_t size;      /* sizeof(struct strata_host) of the host */
	uint32_t abi_major; /* the host's ABI */
	uint32_t abi_minor;

	/* Logging. Lines are prefixed "plugin[instance]" by the host. */
	void (*log)(struct strata_instance *inst, int level, const char *fmt, ...)
		STRATA_PRINTF(3, 4);
	void (*vlog)(struct strata_instance *inst, int level, const char *fmt,
		     va_list ap) STRATA_PRINTF(3, 0);
	/* The instance's name in the config; valid until destroy(). */
	const char *(*instance_name)(struct strata_instance *inst);

	/*
	 * The instance's configuration, validated against the plugin's schema,
	 * with the schema's defaults applied. -ENOENT when a key is neither set
	 * nor defaulted. Strings stay valid until reconfigure() or destroy().
	 */
	int (*cfg_bool)(struct strata_instance *inst, const char *key, int *out);
	int (*cfg_int)(struct strata_instance *inst, const char *key, int64_t *out);
	int (*cfg_duration)(struct strata_instance *inst, const char *key,
			    int64_t *out_ns);
	const char *(*cfg_string)(struct strata_instance *inst, const char *key);
	int (*cfg_strings_count)(struct strata_instance *inst, const char *key);
	const char *(*cfg_strings_at)(struct strata_instance *inst, const char *key,
				      uint32_t index);

	/*
	 * The event loop. Everything is released at destroy() if not before.
	 * fd_watch() and timer_start() return NULL on failure. An fd stays
	 * the plugin's: unwatch it before closing it. fd_unwatch() and
	 * timer_stop() may be called from the handle's own callback; a
	 * one-shot timer's handle is spent once its callback has run.
	 */
	int64_t (*now)(void); /* CLOCK_MONOTONIC, ns */
	struct strata_watch *(*fd_watch)(struct strata_instance *inst, int fd,
					 uint32_t events, strata_fd_cb cb, void *arg);
	int (*fd_modify)(struct strata_instance *inst, struct strata_watch *w,
			 uint32_t events);
	void (*fd_unwatch)(struct strata_instance *inst, struct strata_watch *w);
	/* delay_ns from now; period_ns 0 for a one-shot timer */
	struct strata_timer *(*timer_start)(struct strata_instance *inst,
					    int64_t delay_ns, int64_t period_ns,
					    strata_cb cb, void *arg);
	void (*timer_stop)(struct strata_instance *inst, struct strata_timer *t);
	/* Run cb on the loop soon, after the current callback returns. */
	int (*defer)(struct strata_instance *inst, strata_cb cb, void *arg);
	/* The one thread-safe entry: run cb on the loop thread. */
	int (*post)(struct strata_instance *inst, strata_cb cb, void *arg);

	/* HTTP on the host's shared curl multi handle; never blocks. NULL for
	 * a malformed request; else the callback runs exactly once unless the
	 * call is cancelled first. The request is borrowed for the call. */
	struct strata_http_call *(*http_start)(struct strata_instance *inst,
					       const struct strata_http_request *req,
					       strata_http_cb cb, void *arg);
	void (*http_cancel)(struct strata_instance *inst,
			    struct strata_http_call *call);

	/*
	 * Kernel routes carrying strata's own rtproto, in this process's
	 * network namespace. list() calls cb for each such route of the
	 * family (0: both) in the table (0: main), before it returns.
	 */
	int (*kroute_list)(struct strata_instance *inst, uint32_t family,
			   uint32_t table, strata_route_cb cb, void *arg);
	int (*kroute_replace)(struct strata_instance *inst,
			      const struct strata_route *route);
	int (*kroute_delete)(struct strata_instance *inst,
			     const struct strata_route *route);

	/* Node facts: "zone", "subnet", "address", "instance-id", ...
	 * fact_get() returns NULL when unknown; copy what you keep.
	 * fact_set() publishes one; -EEXIST when the config set it. */
	const char *(*fact_get)(struct strata_instance *inst, const char *name);
	int (*fact_set)(struct strata_instance *inst, const char *name,
			const char *value);

	/*
	 * The cluster store (<strata/store.h>): etcd v3 semantics, the same on
	 * the embedded store and on etcd. Each call completes through its
	 * callback on the loop, never inside the call; a call that returns
	 * -errno queues nothing. Completions for an instance destroyed
	 * meanwhile are dropped. -ENOTCONN: stratad runs without a store.
	 */
	int (*store_txn)(struct strata_instance *inst,
			 const struct strata_store_txn *txn,
			 strata_store_txn_cb cb, void *arg);
	int (*store_get)(struct strata_instance *inst, const char *key,
			 uint32_t flags, strata_store_range_cb cb, void *arg);
	int (*store_put)(struct strata_instance *inst, const char *key,
			 const void *value, size_t value_len, int64_t lease,
			 strata_store_done_cb cb, void *arg);
	int (*store_delete)(struct strata_instance *inst, const char *key,
			    uint32_t flags, strata_store_done_cb cb, void *arg);
	/* Leases: revoking (or expiry) deletes the keys attached. */
	int (*store_lease_grant)(struct strata_instance *inst, int64_t ttl_ms,
				 strata_store_lease_cb cb, void *arg);
	int (*store_lease_keepalive)(struct strata_instance *inst, int64_t id,
				     strata_store_lease_cb cb, void *arg);
	int (*store_lease_revoke)(struct strata_instance *inst, int64_t id,
				  strata_store_done_cb cb, void *arg);
	/* Watch key, or every key under it with STRATA_STORE_PREFIX, from
	 * start_rev (0: the next revision). Released at destroy. */
	struct strata_store_watch *(*store_watch)(struct strata_instance *inst,
						  const char *key, uint32_t flags,
						  int64_t start_rev,
						  strata_store_watch_cb cb,
						  void *arg);
	void (*store_watch_cancel)(struct strata_instance *inst,
				   struct strata_store_watch *w);

	/*
	 * The route model. An owner calls route_owner() in create(), then
	 * states each route it wants and calls route_synced() once it has
	 * re-stated all of them; until every owner has, no advertiser deletes.
	 * Routes are keyed by (scope, dst); stating one again replaces it.
	 */
	int (*route_owner)(struct strata_instance *inst);
	int (*route_set)(struct strata_instance *inst,
			 const struct strata_route *route);
	int (*route_unset)(struct strata_instance *inst, uint32_t scope,
			   const struct strata_prefix *dst);
	int (*route_synced)(struct strata_instance *inst);
	/* An advertiser asks for a reconcile soon (say, after a route event). */
	int (*route_resync)(struct strata_instance *inst);

	/*
	 * Metrics, served by the host's Prometheus endpoint. A series is a
	 * name, [a-z_][a-z0-9_]* of at most 64 bytes, with optional labels
	 * in Prometheus's own syntax: bgp_prefixes_sent{peer="192.0.2.1"}.
	 * The host prefixes the name with "strata_" and adds the label
	 * plugin="<instance name>". metric_add grows a counter, metric_set
	 * sets a gauge; -EINVAL for a malformed series, -ENOSPC past the
	 * host's bound on series per instance.
	 */
	int (*metric_add)(struct strata_instance *inst, const char *name,
			  int64_t delta);
	int (*metric_set)(struct strata_instance *inst, const char *name,
			  int64_t value);

	/* Status writer, only inside status(), on the st it was given. */
	void (*status_str)(struct strata_status *st, const char *key,
			   const char *value);
	void (*status_int)(struct strata_status *st, const char *key,
			   int64_t value);

	/* stop() returned STRATA_PENDING and has now finished. */
	void (*stopped)(struct strata_instance *inst);

	/* An IPAM instance's carving or blocks changed: the host asks its
	 * view() again (debounced) and re-plans the routes. */
	int (*topology_changed)(struct strata_instance *inst);

	/*
	 * The node's IPAM (the first ipam instance in the config), for front
	 * ends: its allocate, release and list ops, completing on the loop,
	 * never inside the call; completions for an instance destroyed
	 * meanwhile are dropped. -ENODEV: no IPAM instance is running.
	 */
	int (*ipam_allocate)(struct strata_instance *inst,
			     const struct strata_ipam_request *req,
			     strata_ipam_cb cb, void *arg);
	int (*ipam_release)(struct strata_instance *inst,
			    const struct strata_ipam_request *req,
			    strata_ipam_cb cb, void *arg);
	int (*ipam_list)(struct strata_instance *inst, const char *prefix,
			 strata_ipam_list_cb cb, strata_done_cb done, void *arg);
	/* The IPAM's pools (the cluster's address ranges): up to max into
	 * out, returning how many there are; -EAGAIN until the IPAM has read
	 * the store, -ENODEV without an IPAM. */
	int (*ipam_pools)(struct strata_instance *inst, struct strata_prefix *out,
			  size_t max);
	/*
	 * The cluster has one route writer, elected through the store:
	 * the ns for which this node may still act as that writer by its own
	 * clock (the lease deadline less a margin), 0 when it is not the
	 * writer. An advertiser of a shared scope (the cloud's route table)
	 * changes it only while this is above zero, finishes every call,
	 * retries included, within it, and asks again before each retry.
	 * Every advertiser is resynced when leadership begins or ends.
	 */
	int64_t (*route_writer_remaining)(struct strata_instance *inst);

	/*
	 * A duration observed into a histogram series (named *_seconds;
	 * the host's buckets, from 100 us to 30 s), and forgetting a series
	 * whose subject is gone (a peer removed), of any type.
	 */
	int (*metric_observe)(struct strata_instance *inst, const char *name,
			      int64_t ns);
	int (*metric_delete)(struct strata_instance *inst, const char *name);

	/*
	 * 1.1. Kubernetes objects from the host's API client (the config's
	 * kubernetes group): the resource at path ("/api/v1/pods",
	 * "/apis/networking.k8s.io/v1/networkpolicies", ...) is listed, then
	 * watched; cb gets each object as JSON (borrowed for the call) with
	 * key "name" or "namespace/name", as STRATA_KUBE_ADDED, _MODIFIED
	 * or _DELETED, and STRATA_KUBE_SYNCED (json NULL) once each list or
	 * re-list has been delivered. Objects gone while the watch was down
	 * come as DELETED after the re-list. -ENOTCONN without a kubernetes
	 * group. Released at destroy.
	 */
	int (*kube_watch)(struct strata_instance *inst, const char *path,
			  strata_kube_cb cb, void *arg,
			  struct strata_kube_watch **out);
	void (*kube_watch_cancel)(struct strata_instance *inst,
				  struct strata_kube_watch *w);
	/*
	 * 1.1. For front ends: a pod's interface exists (its traffic
	 * dropped) or is going away. attach completes once every policy
	 * instance has its rules in place (cb with 0 at once when none
	 * runs), or with the first error, on the loop, never inside the call.
	 */
	int (*policy_attach)(struct strata_instance *inst,
			     const struct strata_pod *pod, strata_done_cb cb,
			     void *arg);
	int (*policy_detach)(struct strata_instance *inst,
			     const struct strata_pod *pod);
	/*
	 * 1.1. For policy plugins: 1 once every front end has attached again
	 * the pods that outlived a restart (a front end does so before its
	 * route_synced()), 0 before. Until then the attachments known are
	 * not all there are: nothing should be taken from a pod not seen.
	 */
	int (*pods_attached)(struct strata_instance *inst);
};

/* Whether the host's table holds `entry`: test it before calling an entry
 * added after 1.0 (every entry of 1.0 is always there). */
#define STRATA_HOST_HAS(host, entry)                           \
	((host)->size >= offsetof(struct strata_host, entry) + \
				 sizeof((host)->entry))

#ifdef __cplusplus
}
#endif

#endif
