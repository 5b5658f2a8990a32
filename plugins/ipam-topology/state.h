/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-memory view of the store's IPAM keys (and of which hosts are
 * registered), kept by listing and watching. Entries are keyed by their
 * full store key. This host's own blocks carry more (blocks.h); here
 * every block is a summary: owner, path and how many addresses it uses.
 */
#ifndef STRATA_IPAM_TOPOLOGY_STATE_H
#define STRATA_IPAM_TOPOLOGY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

/* A string-keyed hash map. */
struct smap_ent {
	char *key;
	void *val;
	struct smap_ent *next;
};

struct smap {
	struct smap_ent **b;
	size_t n_b, n;
};

void *smap_get(const struct smap *m, const char *key);
/* Sets key's value; the old one (or NULL) in *old. 0 or -ENOMEM. */
int smap_put(struct smap *m, const char *key, void *val, void **old);
/* Removes key; its value, or NULL. */
void *smap_del(struct smap *m, const char *key);
/* Every value, in no order; the caller frees the array. NULL when empty
 * or out of memory (n says which: 0 when empty). */
void **smap_values(const struct smap *m, size_t *n);
/* Every key, copied (free each and the array); NULL when empty or out of
 * memory (n says which). */
char **smap_keys(const struct smap *m, size_t *n);
/* Empties the map, calling free_val on each value. */
void smap_clear(struct smap *m, void (*free_val)(void *));

struct st_node {
	char *path;
	uint32_t depth;
	struct rec_node rec;
	int64_t mod_rev;
};

struct st_block {
	struct strata_prefix prefix;
	char host[REC_NAME_MAX + 1];
	char path[TOPO_PATH_MAX];
	uint64_t n_used;
	int64_t mod_rev;
};

struct st_host {
	char *name;
	struct rec_host rec;
	int64_t mod_rev;
};

struct state {
	bool have_carving;
	struct rec_carving carving;
	int64_t carving_rev;
	struct smap nodes;      /* REC_NODE + path -> st_node */
	struct smap slots;      /* REC_SLOT + prefix -> path (char *) */
	struct smap blocks;     /* REC_BLOCK + prefix -> st_block */
	struct smap hosts;      /* REC_HOST + name -> st_host */
	struct smap registered; /* REC_HOSTS + name -> (void *)1 */
};

void state_clear(struct state *s);
/* Everything under strata/ipam/ forgotten; the registrations kept. */
void state_clear_ipam(struct state *s);

/*
 * Applies one key's new value (a put) or its deletion (value NULL) to the
 * view. Values that do not parse are dropped (the key is forgotten) and
 * -EINVAL returned, so one bad record never stops the rest. *changed is
 * set when what view() reports changed (not for address counts).
 */
int state_apply(struct state *s, const char *key, const void *value,
		size_t len, int64_t mod_rev, bool *changed);

/* Lookups by the parts of a key. */
struct st_node *state_node(const struct state *s, const char *path);
struct st_block *state_block(const struct state *s,
			     const struct strata_prefix *p);
struct st_host *state_host(const struct state *s, const char *name);
bool state_slot_taken(const struct state *s, const struct strata_prefix *p);
bool state_registered(const struct state *s, const char *name);

/* key = base + text of p (buf of len bytes) */
void state_key(char *buf, size_t len, const char *base,
	       const struct strata_prefix *p);

#endif
