/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The topology carving: the plugin's config and the arithmetic that lays
 * the pools over the topology levels. Pure functions, shared by the live
 * allocator and carve() (stratactl plan).
 *
 * The tree: the cluster (depth 0) holds the pools. Level d (1..n_levels,
 * from `levels`, "FACT:BITS") cuts each prefix of its parent into 2^bits
 * slots; a node (one value of the level's fact under its parent) takes one
 * slot per family. The last level is routed: its prefix is what the
 * network routes, and hosts' blocks (block_length) lie inside it. With
 * several pools of a family, a node's parent may hold a slot in each pool;
 * a routed node still gets exactly one prefix per family.
 */
#ifndef STRATA_IPAM_TOPOLOGY_CARVE_H
#define STRATA_IPAM_TOPOLOGY_CARVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/plugin.h>

#define TOPO_MAX_LEVELS 4
#define TOPO_MAX_POOLS 16
#define TOPO_MAX_RESERVED 64
#define TOPO_FACT_MAX 64
/* A path is the level values joined by '/': "us-east-1a/subnet-1". */
#define TOPO_PATH_MAX (TOPO_MAX_LEVELS * 129)

/* Family index: 0 IPv4, 1 IPv6. */
#define TOPO_V4 0
#define TOPO_V6 1

struct topo_level {
	char fact[TOPO_FACT_MAX + 1]; /* the node fact naming the value */
	uint32_t bits;                /* 2^bits slots per parent prefix */
};

struct topo_config {
	struct strata_prefix pools[TOPO_MAX_POOLS]; /* in config order */
	uint32_t n_pools;
	struct topo_level levels[TOPO_MAX_LEVELS];
	uint32_t n_levels;
	uint32_t block_len[2]; /* prefix length of a block, per family */
	struct strata_prefix reserved[TOPO_MAX_RESERVED];
	uint32_t n_reserved;
	int64_t cooldown_ns; /* a released address rests this long */
	int64_t grace_ns;    /* 0: a lapsed host keeps its blocks forever */
	bool family[2];      /* a pool of the family exists */
	bool gateway;        /* no pods here: claim nothing, allocate nothing */
};

/* The plugin's config schema, ended by a NULL name. */
extern const struct strata_cfg_key topo_config_keys[];

/*
 * Reads and checks the instance's config. 0, or -EINVAL with err naming
 * the key and what is wrong ("pools[1]: 10.0.0.0/33 is not a prefix",
 * "levels: 20 bits below /16 leave no room for a /26 block").
 */
int topo_config_load(const struct strata_host *host,
		     struct strata_instance *inst, struct topo_config *c,
		     char *err, size_t errlen);

int topo_family_index(uint8_t family); /* 0, 1, or -1 */

/* The prefix length of a node at depth d (0: the pool's own) in pool p. */
uint32_t topo_len_at(const struct topo_config *c, uint32_t pool,
		     uint32_t depth);
/* Slot `index` (< 2^bits of level depth) of parent, at level depth >= 1. */
int topo_child(const struct topo_config *c, const struct strata_prefix *parent,
	       uint32_t depth, uint64_t index, struct strata_prefix *out);
/* Blocks in a routed prefix (saturating at UINT64_MAX), and block i. */
uint64_t topo_block_count(const struct topo_config *c,
			  const struct strata_prefix *routed);
int topo_block_at(const struct topo_config *c,
		  const struct strata_prefix *routed, uint64_t index,
		  struct strata_prefix *out);
/* The block's index in its routed prefix. */
uint64_t topo_block_index(const struct topo_config *c,
			  const struct strata_prefix *routed,
			  const struct strata_prefix *block);
/* A block overlapping a reserved range is never handed out. */
bool topo_block_reserved(const struct topo_config *c,
			 const struct strata_prefix *block);
/* Addresses in one block of the family (saturating). */
uint64_t topo_block_addrs(const struct topo_config *c, int family_index);

/*
 * A host's path from its facts: the level values joined by '/'. 0, or
 * -ENOENT (a level's fact is missing) / -EINVAL (a value is empty, has a
 * '/' or is longer than 128 bytes) with err saying which.
 */
typedef const char *(*topo_fact_fn)(void *arg, const char *name);
int topo_path(const struct topo_config *c, topo_fact_fn fact, void *arg,
	      char *path, size_t path_len, char *err, size_t errlen);

/*
 * Plans a topology from nothing (the carve() op): routed nodes get slots in
 * path order, hosts get max(1, ceil(pods / addresses per block)) blocks of
 * each family in name order, first free from the start of their routed
 * prefix. Reports the tree (parents first), then every host, to sink.
 * 0, or -ENOSPC with err naming the full level, the node, the numbers and
 * what to change; -EINVAL/-ENOENT for a host without a level's fact.
 */
int topo_carve(const struct topo_config *c, const struct strata_topo_host *hosts,
	       size_t n, const struct strata_topo_sink *sink, char *err,
	       size_t errlen);

#endif
