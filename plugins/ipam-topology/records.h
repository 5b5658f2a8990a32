/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store values of the topology IPAM, as JSON: encode and parse. Values
 * come from the cluster store, which any node (or an operator) may write:
 * the parsers accept only well-formed records and never trust a length.
 *
 *   strata/ipam/carving        {"pools":[...],"levels":["zone:2"],
 *                               "block_length":26,"block_length6":122}
 *   strata/ipam/node/<path>    {"prefixes":["10.112.0.0/18"]}
 *   strata/ipam/slot/<prefix>  "<path>"
 *   strata/ipam/block/<prefix> {"host":N,"path":P,"used":[[off,"handle"]],
 *                               "cooling":[[off,unix_ms]]}
 *   strata/ipam/host/<name>    {"path":P,"addrs":["10.0.1.10"],
 *                               "blocks":["10.112.0.0/26"],"seen":unix_ms}
 */
#ifndef STRATA_IPAM_TOPOLOGY_RECORDS_H
#define STRATA_IPAM_TOPOLOGY_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carve.h"

#define REC_NAME_MAX 253    /* a host name (DNS) */
#define REC_HANDLE_MAX 1024 /* an allocation's handle */
#define REC_PREFIX_STR 64   /* "ffff:...:ffff/128" with room */
/* At most this many entries in one record's list (a record is one store
 * value: 1 MiB at most). */
#define REC_LIST_MAX 65536

/* Key prefixes */
#define REC_ROOT "strata/ipam/"
#define REC_CARVING "strata/ipam/carving"
#define REC_NODE "strata/ipam/node/"
#define REC_SLOT "strata/ipam/slot/"
#define REC_BLOCK "strata/ipam/block/"
#define REC_HOST "strata/ipam/host/"
#define REC_HOSTS "strata/hosts/"

struct rec_carving {
	struct strata_prefix pools[TOPO_MAX_POOLS];
	uint32_t n_pools;
	struct topo_level levels[TOPO_MAX_LEVELS];
	uint32_t n_levels;
	uint32_t block_len[2];
};

struct rec_node {
	struct strata_prefix prefixes[TOPO_MAX_POOLS];
	uint32_t n_prefixes;
};

struct rec_used {
	uint64_t offset;
	char *handle;
};

struct rec_cool {
	uint64_t offset;
	int64_t released_ms;
};

struct rec_block {
	char host[REC_NAME_MAX + 1];
	char path[TOPO_PATH_MAX];
	struct rec_used *used;
	size_t n_used;
	struct rec_cool *cooling;
	size_t n_cooling;
};

struct rec_host {
	char path[TOPO_PATH_MAX];
	struct strata_addr addrs[STRATA_TOPO_MAX_ADDRS];
	uint32_t n_addrs;
	struct strata_prefix *blocks;
	size_t n_blocks;
	int64_t seen_ms;
};

/* Text forms. fmt: buf holds REC_PREFIX_STR bytes. parse: 0 or -EINVAL
 * (a prefix must be its network address: no host bits set). */
void rec_prefix_fmt(const struct strata_prefix *p, char *buf, size_t len);
int rec_prefix_parse(const char *s, struct strata_prefix *p);
void rec_addr_fmt(const struct strata_addr *a, char *buf, size_t len);
int rec_addr_parse(const char *s, struct strata_addr *a);
bool rec_prefix_eq(const struct strata_prefix *a,
		   const struct strata_prefix *b);
/* a lies inside b (or is b) */
bool rec_prefix_in(const struct strata_prefix *a,
		   const struct strata_prefix *b);

/*
 * Encoders: a malloc'ed NUL-terminated JSON text in *out, its length in
 * *len. 0 or -ENOMEM.
 */
int rec_carving_encode(const struct topo_config *c, char **out, size_t *len);
int rec_node_encode(const struct rec_node *n, char **out, size_t *len);
int rec_slot_encode(const char *path, char **out, size_t *len);
int rec_block_encode(const struct rec_block *b, char **out, size_t *len);
int rec_host_encode(const struct rec_host *h, char **out, size_t *len);

/*
 * Parsers of len bytes (not NUL-terminated). 0, or -EINVAL when the value
 * is not such a record, -ENOMEM. On success free with the matching
 * rec_*_free (a no-op on a zeroed record); on failure nothing is held.
 */
int rec_carving_parse(const void *buf, size_t len, struct rec_carving *c);
int rec_node_parse(const void *buf, size_t len, struct rec_node *n);
int rec_slot_parse(const void *buf, size_t len, char *path, size_t path_len);
int rec_block_parse(const void *buf, size_t len, struct rec_block *b);
void rec_block_free(struct rec_block *b);
int rec_host_parse(const void *buf, size_t len, struct rec_host *h);
void rec_host_free(struct rec_host *h);

/* The carving of a config, in the record's form. */
void rec_carving_from(const struct topo_config *c, struct rec_carving *out);
bool rec_carving_eq(const struct rec_carving *a, const struct rec_carving *b);
/* b is a with pools appended (and nothing else changed) */
bool rec_carving_grows(const struct rec_carving *a,
		       const struct rec_carving *b);
/* One line: "pools [a, b] levels [zone:2] blocks /26 /122". */
void rec_carving_fmt(const struct rec_carving *c, char *buf, size_t len);

#endif
