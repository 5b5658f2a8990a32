/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A mock host table, so a plugin can be unit-tested without the daemon.
 *
 * Every entry of struct strata_host is implemented: logging goes to stderr,
 * configuration comes from a table the test fills (with the defaults of the
 * plugin's schema, as the daemon applies them), the loop entries run on a
 * real core/loop.c, HTTP on core/http.c, kernel routes on core/nl.c with
 * the default rtproto (opened at first use, so in the test's namespace),
 * facts live in a small table, the store entries run on a core store the
 * test opens (mock_host_set_store), the ipam_* entries on an IPAM instance
 * the test attaches (mock_host_set_ipam), kube_watch on events the test
 * delivers (mock_host_kube_event), policy_attach as when no policy
 * instance runs (done with 0 on the loop), and route_*, metrics and status
 * are recorded for the test to assert on. There is one instance per mock
 * host; peers (mock_host_new_peer) share a loop.
 */
#ifndef STRATA_TESTS_MOCK_HOST_H
#define STRATA_TESTS_MOCK_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/plugin.h>

struct loop;
struct mock_host;
struct store;

struct mock_host *mock_host_new(void); /* NULL on failure */
/* Another mock host (another instance, its own config, facts, store and
 * records) on mh's loop, so that two plugins run side by side: say a front
 * end on mh and the IPAM it calls on the peer. Free it before mh. */
struct mock_host *mock_host_new_peer(struct mock_host *mh);
void mock_host_free(struct mock_host *mh);

const struct strata_host *mock_host_table(struct mock_host *mh);
struct strata_instance *mock_instance(struct mock_host *mh);
struct loop *mock_host_loop(struct mock_host *mh);
void mock_host_set_instance_name(struct mock_host *mh, const char *name);

/* Run the loop for about ns nanoseconds. */
void mock_host_run(struct mock_host *mh, int64_t ns);
/* Run the loop until done(arg) is true or timeout_ns passed; done's value. */
bool mock_host_run_until(struct mock_host *mh, bool (*done)(void *arg),
			 void *arg, int64_t timeout_ns);

/*
 * Configuration. The schema supplies defaults for keys the test does not
 * set and the types cfg_* check against; without one any key set here is
 * accepted with the type it was set with. 0 or -ENOMEM / -EINVAL.
 */
int mock_host_set_schema(struct mock_host *mh,
			 const struct strata_cfg_key *schema);
int mock_host_set_cfg_string(struct mock_host *mh, const char *key,
			     const char *value);
int mock_host_set_cfg_int(struct mock_host *mh, const char *key,
			  int64_t value);
int mock_host_set_cfg_bool(struct mock_host *mh, const char *key, int value);
int mock_host_set_cfg_duration(struct mock_host *mh, const char *key,
			       int64_t ns);
int mock_host_set_cfg_strings(struct mock_host *mh, const char *key,
			      const char *const *values, size_t n);

/* Facts */
int mock_host_set_fact(struct mock_host *mh, const char *name,
		       const char *value);

/*
 * The store entries work on st (a core store the test opened with
 * store_open on mock_host_loop(mh)), like the daemon's: completions on the
 * loop, never inside the call. Without a store they return -ENOTCONN.
 * Setting another store (or NULL) first detaches the old one: its watches
 * are released and completions still in flight are dropped, as the daemon
 * drops them for a destroyed instance; do that before store_close() when
 * the plugin instance is gone. mock_host_free() detaches too.
 */
int mock_host_set_store(struct mock_host *mh, struct store *st);
/*
 * While err is nonzero every store call but a watch is accepted and
 * completes with err on the loop without reaching the store: a store that
 * cannot be reached (no quorum, cut off). 0 ends it.
 */
void mock_host_set_store_error(struct mock_host *mh, int err);
/* Store writes (txn, put, delete) made through the table. */
unsigned mock_host_store_writes(const struct mock_host *mh);

/*
 * The node's IPAM for the ipam_* entries: the ops and instance (self) of
 * an IPAM plugin the test created, say the topology IPAM on a peer mock
 * host (mock_host_new_peer) or on this one. Calls are forwarded as the
 * daemon forwards them: what the IPAM answers inside its op is delivered
 * from the loop, never inside the call; ipam_pools reports the view's
 * cluster node. Without an IPAM (ops NULL) they return -ENODEV.
 * Attaching another (or NULL) drops the completions of calls still in
 * flight, as the daemon drops them for a destroyed caller: do that once
 * the calling plugin instance is gone. Every record is freed by
 * mock_host_free(), so destroy the IPAM instance before it.
 */
int mock_host_set_ipam(struct mock_host *mh,
		       const struct strata_ipam_ops *ops, void *self);
/* The attached IPAM instance was destroyed: the calls it left unanswered
 * fail with -ENODEV from the loop (as in the daemon) and it is detached.
 * Unlike the daemon, the mock host does not cancel the timers and deferred
 * calls a destroyed plugin forgot: on a shared loop, destroy the IPAM when
 * none is due (or detach its store first so no answer comes back). */
void mock_host_ipam_gone(struct mock_host *mh);
/* IPAM calls whose records are still held (in flight or orphaned). */
unsigned mock_host_ipam_calls(const struct mock_host *mh);

/* What route_writer_remaining answers: ns, 0 when not the writer. The
 * default is 0. */
void mock_host_set_writer_remaining(struct mock_host *mh, int64_t ns);

/* What the plugin did with the route model. */
bool mock_host_is_owner(const struct mock_host *mh);
size_t mock_host_route_count(const struct mock_host *mh);
const struct strata_route *mock_host_route_at(const struct mock_host *mh,
					      size_t i);
const struct strata_route *mock_host_route_find(const struct mock_host *mh,
						uint32_t scope,
						const struct strata_prefix *dst);
unsigned mock_host_synced_calls(const struct mock_host *mh);
unsigned mock_host_resync_calls(const struct mock_host *mh);
unsigned mock_host_stopped_calls(const struct mock_host *mh);
unsigned mock_host_topology_changes(const struct mock_host *mh);

/* Metrics, by the series as the plugin wrote it: the value (a histogram's
 * observations), 0 if never touched or deleted. */
int64_t mock_host_metric(const struct mock_host *mh, const char *name);
bool mock_host_has_metric(const struct mock_host *mh, const char *name);

/*
 * Kubernetes (1.1): kube_watch fails with -ENOTCONN while not connected
 * (as without a kubernetes group; connected by default).
 * mock_host_kube_event() hands an event to every watch on path, as the
 * host's client would (json NULL for STRATA_KUBE_SYNCED), and says to how
 * many; a callback may cancel its own watch. pods_attached() answers
 * known (1 by default).
 */
void mock_host_set_kube(struct mock_host *mh, bool connected);
unsigned mock_host_kube_event(struct mock_host *mh, const char *path,
			      uint32_t event, const char *key,
			      const char *json);
unsigned mock_host_kube_watches(const struct mock_host *mh);
void mock_host_set_pods_attached(struct mock_host *mh, int known);

/* Messages logged at a level (STRATA_LOG_*). */
unsigned mock_host_log_count(const struct mock_host *mh, int level);

/*
 * Status: mock_host_status() gives a fresh writer to hand to the plugin's
 * status op; then look up what it wrote (NULL / -ENOENT if it did not).
 */
struct strata_status *mock_host_status(struct mock_host *mh);
const char *mock_host_status_str(const struct mock_host *mh, const char *key);
int mock_host_status_int(const struct mock_host *mh, const char *key,
			 int64_t *out);

#endif
