/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route planner: from the carving (routed groups — subnets — with their
 * prefixes, and hosts with their blocks) it computes, per scope, the routes
 * the network must carry:
 *
 * - kernel: each host's route to every peer block in its group, next hop
 *   the peer's node address(es) of the block's family (ECMP over several);
 * - cloud: per family, within its budget: one route per host's blocks
 *   (aggregated) to the host itself when every host fits; otherwise one
 *   route per group prefix to a forwarder in that group, split into 2^k
 *   parts over distinct forwarders while the budget allows (spreading);
 * - BGP: each host's own blocks, or each group prefix from a few chosen
 *   announcers of that group.
 *
 * A pure function: no I/O, no allocation outside the plan. stratad runs it
 * on the IPAM's live view; stratactl plan on a carved topology. The plan
 * borrows the input: keep it alive and unchanged while the plan is used.
 */
#ifndef STRATA_CORE_PLAN_H
#define STRATA_CORE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#define PLAN_MAX_ADDRS 4
#define PLAN_DEFAULT_BUDGET 50u
#define PLAN_MAX_BUDGET 1000u

/* Family index for arrays of two: 0 IPv4, 1 IPv6. */
#define PLAN_V4 0
#define PLAN_V6 1

struct plan_group {
	const char *path; /* "zone-a/subnet-1" */
	const struct strata_prefix *prefixes; /* at most one per family */
	uint32_t n_prefixes;
};

struct plan_host {
	const char *name;
	uint32_t group; /* index into the input's groups */
	uint32_t n_addrs;
	struct strata_addr addrs[PLAN_MAX_ADDRS]; /* node addresses */
	const struct strata_prefix *blocks;
	uint32_t n_blocks;
	/* May forward for its group (the health view; false: never chosen). */
	bool healthy;
};

/* A forwarder chosen before: kept while still healthy and in its group. */
struct plan_choice {
	struct strata_prefix dst;
	const char *host;
};

enum plan_bgp_mode {
	PLAN_BGP_BLOCKS = 0,    /* each host announces its own blocks */
	PLAN_BGP_AGGREGATE = 1, /* group prefixes from chosen announcers */
};

struct plan_options {
	uint32_t budget[2]; /* cloud routes per family; 0: 50; at most 1000 */
	bool no_per_host;   /* never use one route per host */
	bool no_spread;     /* one route per group prefix at most */
	enum plan_bgp_mode bgp_mode;
	uint32_t bgp_announcers; /* per group prefix (aggregate); 0: 2 */
	const struct plan_choice *prior; /* sticky forwarders (may be NULL) */
	size_t n_prior;
};

struct plan_input {
	const struct plan_group *groups;
	size_t n_groups;
	const struct plan_host *hosts;
	size_t n_hosts;
};

enum plan_cloud_mode {
	PLAN_CLOUD_NONE = 0,     /* no prefix of the family */
	PLAN_CLOUD_PER_HOST = 1, /* routes straight to each block's host */
	PLAN_CLOUD_PER_GROUP = 2, /* group prefixes (maybe split) to forwarders */
};

struct plan_cloud_route {
	struct strata_prefix dst;
	uint32_t group;
	uint32_t host; /* the host the route points at */
	/* Per-group mode: the host it would move to if host failed (the
	 * health view watches both); PLAN_NO_HOST when none. */
	uint32_t standby;
};

#define PLAN_NO_HOST UINT32_MAX

struct plan_bgp_route {
	struct strata_prefix dst;
	uint32_t group;
	uint32_t n_hosts;   /* announcers */
	const uint32_t *hosts;
};

struct plan_group_stats {
	uint32_t hosts;
	uint32_t cloud_routes[2]; /* per family */
	uint32_t split_bits[2];   /* 2^k parts per family (per-group mode) */
	uint64_t kernel_routes_max; /* on its busiest host */
};

struct plan;

/*
 * Builds the plan. 0, or -errno with err saying why in one line, naming
 * the group, family and numbers: -ENOSPC when the cloud routes cannot fit
 * the budget (more groups than routes), -EINVAL for input that does not
 * hold together (a block outside its group's prefix, a group index out of
 * range, two blocks overlapping, a budget over 1000).
 *
 * A group with no healthy host of a family gets no cloud route for it: the
 * plan still builds and plan_problem() names it.
 */
int plan_build(const struct plan_input *in, const struct plan_options *opt,
	       struct plan **out, char *err, size_t errlen);
void plan_free(struct plan *p);

enum plan_cloud_mode plan_cloud_mode(const struct plan *p, int family_index);
uint32_t plan_cloud_budget(const struct plan *p, int family_index);
/* Sorted by destination; IPv4 first. */
const struct plan_cloud_route *plan_cloud_routes(const struct plan *p,
						 size_t *n);
const struct plan_bgp_route *plan_bgp_routes(const struct plan *p, size_t *n);
const struct plan_group_stats *plan_group_stats(const struct plan *p,
						uint32_t group);

/* Problems found while planning ("subnet X: no healthy host for IPv6"),
 * one per index; NULL past the last. */
const char *plan_problem(const struct plan *p, size_t i);

/* The forwarder choices, to feed back as the next plan's prior. */
size_t plan_choices(const struct plan *p, struct plan_choice *out,
		    size_t max);

/* Routes as struct strata_route (size set, scope set, next hops filled). */
typedef void (*plan_route_cb)(void *arg, const struct strata_route *r);
/* The kernel routes host needs inside its group. */
uint64_t plan_host_kernel_count(const struct plan *p, uint32_t host);
int plan_host_kernel_routes(const struct plan *p, uint32_t host,
			    plan_route_cb cb, void *arg);
/* The cloud route table; next hop: the chosen host's address. */
int plan_cloud_table(const struct plan *p, plan_route_cb cb, void *arg);
/* What host announces over BGP; next hop: its own address. */
int plan_host_bgp_routes(const struct plan *p, uint32_t host,
			 plan_route_cb cb, void *arg);

#endif
