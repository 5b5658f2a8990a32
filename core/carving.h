/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an IPAM's carve() or view() reports, kept: the tree's nodes and
 * every host's blocks, copied out of the sink calls, and turned into the
 * planner's input (the routed nodes become plan groups, in path order).
 */
#ifndef STRATA_CORE_CARVING_H
#define STRATA_CORE_CARVING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/plugin.h>

#include "plan.h"

struct carving_node {
	uint32_t depth;
	char *level;
	char *path;
	bool routed;
	struct strata_prefix *prefixes;
	uint32_t n_prefixes;
	uint64_t blocks_total, blocks_used, blocks_reserved, addrs_used;
	uint32_t hosts; /* routed: hosts in it (after carving_plan_input) */
	uint32_t group; /* routed: its plan group index */
};

struct carving_host {
	char *name;
	char *path;
	struct strata_addr addrs[STRATA_TOPO_MAX_ADDRS];
	uint32_t n_addrs;
	struct strata_prefix *blocks;
	uint32_t n_blocks;
	uint64_t addrs_used;
};

struct carving {
	struct carving_node *nodes;
	size_t n_nodes, cap_nodes;
	struct carving_host *hosts;
	size_t n_hosts, cap_hosts;
	int err; /* -ENOMEM when a report could not be kept */
	/* the plan input, by carving_plan_input() */
	struct plan_group *groups;
	struct carving_node **routed; /* by group index */
	struct plan_host *plan_hosts;
	struct plan_input in;
};

/* A sink whose reports land in c (zeroed first by the caller). */
void carving_sink(struct carving *c, struct strata_topo_sink *sink);
/* Builds c->in: every host healthy. 0, -ENOMEM, or -EINVAL with err when a
 * host names a subnet the carving lacks. */
int carving_plan_input(struct carving *c, char *err, size_t errlen);
/* Frees everything; c can be used again. */
void carving_free(struct carving *c);

#endif
