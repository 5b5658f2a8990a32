/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The planner on live state: asks the IPAM instance for its view (the
 * carving and every host's blocks), runs plan.c on it, and states this
 * node's share as the route owner "planner": the kernel routes to its
 * subnet peers' blocks, the cloud route table (installed by whoever serves
 * the cloud scope: the aws-vpc advertiser, a gateway-role node) and what
 * this node announces over BGP. It diffs against what it stated before —
 * never withdraws and re-adds — and keeps its forwarder choices sticky from
 * one plan to the next.
 */
#ifndef STRATA_CORE_PLANNER_H
#define STRATA_CORE_PLANNER_H

#include <stdbool.h>
#include <stdint.h>

#include <strata/plugin.h>

#include "plan.h"

struct loop;
struct route_model;
struct planner;

typedef int (*planner_view_fn)(void *arg, const struct strata_topo_sink *sink);

/* node: this node's name in the view. The owner starts unsynced: the
 * start-up barrier holds until the first plan is stated. */
int planner_new(struct loop *loop, struct route_model *routes,
		const char *node, struct planner **out);
/* Drops the owner and everything it stated. */
void planner_free(struct planner *p);
void planner_set_options(struct planner *p, const struct plan_options *opt);
/* The view changed (or appeared): plan again after a short debounce. */
void planner_changed(struct planner *p, planner_view_fn view, void *arg);

struct intent;
/*
 * The forwarding intent the route writer stored (NULL: none yet): the
 * cloud table is then exactly its routes, and its unhealthy hosts are never
 * chosen to announce. drained: this node is drained; once no route points
 * at it, it announces nothing. Plans again soon.
 */
int planner_set_intent(struct planner *p, const struct intent *in,
		       bool drained);

struct planner_stats {
	int64_t plans;      /* plans stated */
	int64_t failures;   /* views or plans that failed */
	int64_t last_ns;    /* how long the last plan took */
	size_t hosts, groups;
	size_t kernel, cloud, bgp; /* routes stated per scope */
	size_t cloud_family[2];    /* cloud routes: IPv4, IPv6 */
	uint32_t cloud_budget[2];  /* the cloud table's budget per family */
	const char *error;  /* the last failure, or NULL */
	bool synced;        /* a plan has been stated */
};
void planner_stats(const struct planner *p, struct planner_stats *out);
struct carving;
/* The last view the IPAM reported (NULL: none yet), until the next plan. */
const struct carving *planner_carving(const struct planner *p);

#endif
