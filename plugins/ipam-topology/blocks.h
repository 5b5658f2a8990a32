/* SPDX-License-Identifier: Apache-2.0 */
/*
 * This host's blocks and the pod addresses in them. Memory is the truth
 * for them (no one else writes a host's blocks): each change is marked at
 * once with the number of the block write that will carry it, and is
 * durable once that write has completed (seq <= seq_done).
 */
#ifndef STRATA_IPAM_TOPOLOGY_BLOCKS_H
#define STRATA_IPAM_TOPOLOGY_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

struct blk_used {
	uint64_t offset;
	char *handle;
	uint64_t hash; /* blk_handle_hash(handle): most misses skip strcmp */
	uint64_t seq; /* the write carrying it; durable when <= seq_done */
};

struct blk_cool {
	uint64_t offset;
	int64_t released_ms;
	uint64_t seq;
};

struct blk {
	struct strata_prefix prefix;
	int fam;       /* TOPO_V4, TOPO_V6 */
	uint64_t size; /* addresses in the block (saturating) */
	char path[TOPO_PATH_MAX];
	int64_t mod_rev;
	struct blk_used *used; /* by offset */
	size_t n_used, cap_used;
	struct blk_cool *cool; /* by offset */
	size_t n_cool, cap_cool;
	uint64_t seq_done;   /* last write completed */
	uint64_t seq_sent;   /* last write sent (== seq_done when idle) */
	uint64_t seq_marked; /* highest seq marked on an entry */
	bool inflight;
	/* the store went backwards while a write was in flight: what to do
	 * once it is back (BLK_REASSERT_*), and the store's mod revision */
	int reassert;
	int64_t reassert_rev;
	struct blk *next;
};

enum { BLK_REASSERT_NONE, BLK_REASSERT_WRITE, BLK_REASSERT_DROP };

struct blk *blk_new(const struct strata_prefix *prefix, int fam,
		    uint64_t size, const char *path);
void blk_free(struct blk *b);

/* Replaces every entry with the record's (all durable). 0 or -ENOMEM. */
int blk_load(struct blk *b, const struct rec_block *rec, int64_t mod_rev);

/* The used entry of handle, or NULL; blk_find_hashed() with the handle's
 * blk_handle_hash(), for a search over many blocks. */
struct blk_used *blk_find(const struct blk *b, const char *handle);
uint64_t blk_handle_hash(const char *handle);
struct blk_used *blk_find_hashed(const struct blk *b, const char *handle,
				 uint64_t hash);
/* The first offset neither used nor cooling at now_ms. */
bool blk_first_free(const struct blk *b, int64_t now_ms, int64_t cooldown_ms,
		    uint64_t *offset);
/* Marks offset used by handle in write seq. 0 or -ENOMEM. */
int blk_mark(struct blk *b, uint64_t offset, const char *handle,
	     uint64_t seq);
/* Moves a used entry to cooling, released at now_ms, in write seq. */
int blk_release(struct blk *b, struct blk_used *u, int64_t now_ms,
		uint64_t seq);
/* Forgets cooling entries whose rest is over. */
void blk_prune(struct blk *b, int64_t now_ms, int64_t cooldown_ms);
/* The record to write (its lists borrow the block's). */
void blk_record(const struct blk *b, const char *host, struct rec_block *out);
/* Frees what blk_record() allocated. */
void blk_record_free(struct rec_block *rec);
/* The address at offset, as a prefix of the family's full length. */
void blk_addr(const struct blk *b, uint64_t offset, struct strata_prefix *out);
/* Addresses neither used nor cooling (saturating). */
uint64_t blk_free_count(const struct blk *b, int64_t now_ms,
			int64_t cooldown_ms);
bool blk_dirty(const struct blk *b);

#endif
