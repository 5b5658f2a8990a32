/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route model. Owners (the CNI front end for pod routes, the planner for
 * peer-block and gateway routes, ...) state the routes they want, keyed by
 * (scope, destination). Advertisers serve scopes and are handed the union
 * of what every owner wants in them, to reconcile against the world.
 *
 * The start-up barrier: every owner starts unsynced. Until each owner has
 * re-stated its routes and said so, reconciles may add and replace but
 * never delete (no STRATA_RECONCILE_MAY_DELETE). A restarted owner
 * (route_owner_restate) keeps its routes until it has synced again; then
 * those it did not re-state are dropped.
 */
#ifndef STRATA_CORE_ROUTE_H
#define STRATA_CORE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

struct loop;
struct route_model;
struct route_owner;
struct route_adv;

typedef int (*route_reconcile_fn)(void *arg,
				  const struct strata_route *const *desired,
				  size_t n, uint32_t flags);

/* resync_ns: the period of the full resync that heals missed events. */
int route_model_new(struct loop *loop, int64_t resync_ns,
		    struct route_model **out);
void route_model_free(struct route_model *m);
void route_model_set_resync(struct route_model *m, int64_t resync_ns);

struct route_owner *route_owner_add(struct route_model *m, const char *name);
/* Drops the owner and all its routes (a plugin removed from the config). */
void route_owner_remove(struct route_owner *o);
/* The owner will state its routes again (restart): mark it unsynced. */
void route_owner_restate(struct route_owner *o);
const char *route_owner_name(const struct route_owner *o);
bool route_owner_is_synced(const struct route_owner *o);

/*
 * Validate and store; -EINVAL names nothing, so callers log the route.
 * Valid: size at least 0.1's, exactly one scope bit, family 4 or 6 with
 * len <= 32 or 128 and no host bits set, 1..STRATA_MAX_NEXTHOPS nexthops
 * each with a gateway of the destination's family or a device, flags 0.
 * route_unset of a route the owner does not state is -ENOENT.
 */
int route_set(struct route_owner *o, const struct strata_route *r);
int route_unset(struct route_owner *o, uint32_t scope,
		const struct strata_prefix *dst);
int route_synced(struct route_owner *o);

/* All owners synced: deletion allowed. */
bool route_may_delete(const struct route_model *m);

struct route_adv *route_adv_add(struct route_model *m, const char *name,
				uint32_t scopes, route_reconcile_fn fn,
				void *arg);
void route_adv_remove(struct route_adv *a);
/* Ask for a reconcile of one advertiser (or all, a == NULL) soon. */
void route_resync_soon(struct route_model *m, struct route_adv *a);

/*
 * The merged desired routes of the scopes, sorted by (scope, dst). Where
 * several owners state one (scope, dst), its nexthops are the union of
 * theirs (ECMP), deduplicated by (gateway, device) with the largest weight
 * kept, sorted, at most STRATA_MAX_NEXTHOPS; table and metric are those of
 * the first owner by name. owners is "a,b". cb must not change the model.
 */
int route_desired_each(const struct route_model *m, uint32_t scopes,
		       void (*cb)(void *arg, const struct strata_route *r,
				  const char *owners),
		       void *arg);
size_t route_count(const struct route_model *m, uint32_t scopes);
uint32_t route_adv_scopes(const struct route_adv *a);
/* Told after each reconcile an advertiser ran (not one that could not be
 * set up): its name, how long fn took and what it returned. */
typedef void (*route_observe_fn)(void *arg, const char *adv, int64_t ns,
				 int rc);
void route_model_set_observer(struct route_model *m, route_observe_fn fn,
			      void *arg);
/* Distinct nexthop lists stored: routes stating the same list share it. */
size_t route_nexthop_lists(const struct route_model *m);
/* Bytes the model holds for its routes (nodes, tables, shared lists). */
size_t route_model_bytes(const struct route_model *m);

/* Text forms, for logs, config and stratactl: "10.0.0.0/24", "fd00::/64". */
int route_prefix_parse(const char *text, struct strata_prefix *out);
int route_addr_parse(const char *text, struct strata_addr *out);
void route_prefix_format(const struct strata_prefix *p, char *buf, size_t len);
void route_addr_format(const struct strata_addr *a, char *buf, size_t len);
/* "10.0.0.0/24 via 10.1.0.2 dev eth0, via ..." */
void route_format(const struct strata_route *r, char *buf, size_t len);
/* Same destination, nexthops, table and metric (nexthop order ignored). */
bool route_equal(const struct strata_route *a, const struct strata_route *b);
const char *route_scope_name(uint32_t scope); /* "kernel", "cloud", "bgp" */
int route_scope_parse(const char *name, uint32_t *out);

#endif
