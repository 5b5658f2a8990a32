/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What to change in the VPC's route tables: the cloud routes strata wants
 * (destination -> the forwarder's network interface) against the tables
 * DescribeRouteTables returned. Pure: no I/O, no clock, no logging.
 *
 * Only routes inside the cluster's CIDRs are ever touched; every other
 * route (local, gateways, peering, other tenants' routes) is left alone,
 * as are propagated routes and prefix-list routes. Inside the cluster's
 * CIDRs every route is strata's:
 * - wanted and missing: CREATE;
 * - wanted and pointing elsewhere (another interface, an instance id, a
 *   gateway, or a blackhole whatever its target): REPLACE;
 * - not wanted: DELETE, only when may_delete (every owner has synced);
 * - wanted and right (interface target, active): nothing.
 * Actions come in the order REPLACE, CREATE, DELETE (a moved forwarder is
 * traffic lost until replaced), tables in the order given, destinations
 * ascending within each kind.
 *
 * Budgets: a table's IPv4 and IPv6 routes are counted separately (EC2's
 * quota is per family), every route but propagated ones, after the
 * planned creates and deletes. A table over a family's budget gets none
 * of that family's CREATEs (its REPLACEs and DELETEs stay: they do not
 * grow it), and the diff reports it in `refused` with the numbers.
 */
#ifndef STRATA_AWS_VPC_TABLES_H
#define STRATA_AWS_VPC_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#include "ec2xml.h"

/* One cloud route strata wants. */
struct tables_want {
	struct strata_prefix dst;
	char eni[EC2_ID_MAX]; /* eni-… */
};

enum tables_op {
	TABLES_REPLACE = 1,
	TABLES_CREATE,
	TABLES_DELETE,
};

struct tables_action {
	enum tables_op op;
	char table[EC2_ID_MAX];
	struct strata_prefix dst;
	char eni[EC2_ID_MAX]; /* "" for DELETE */
	/* REPLACE: what the route pointed at, for logs: "eni-…",
	 * "blackhole eni-…", "instance i-…", "gateway igw-…" */
	char was[EC2_ID_MAX + 16];
};

struct tables_input {
	const struct ec2_route_table *tables; /* the tables to manage */
	size_t n_tables;
	const struct tables_want *want; /* unique dsts, any order */
	size_t n_want;
	const struct strata_prefix *cluster; /* the cluster's CIDRs */
	size_t n_cluster;
	uint32_t budget4, budget6; /* routes per table and family; 0: none */
	bool may_delete;
};

struct tables_diff {
	struct tables_action *actions;
	size_t n_actions;
	/* Wanted routes left out: outside every cluster CIDR (never
	 * touched), or refused by a budget. */
	size_t n_outside;
	size_t n_refused;
	/* "" or, for the first table over a budget: "route table rtb-…
	 * would hold 53 IPv4 routes, over its budget of 50 (48 for the
	 * cluster, 5 others)"; further ones are counted in n_refused. */
	char refused[256];
	/* Routes inside the cluster's CIDRs already right, all tables. */
	size_t n_ok;
};

/* 0 and *out filled (free with tables_diff_free), -EINVAL (a NULL with a
 * nonzero count, a duplicate wanted dst) or -ENOMEM. */
int tables_diff(const struct tables_input *in, struct tables_diff *out);
void tables_diff_free(struct tables_diff *d);

/* p lies inside one of the n prefixes (same family, no shorter). */
bool tables_inside(const struct strata_prefix *p,
		   const struct strata_prefix *cidrs, size_t n);

#endif
