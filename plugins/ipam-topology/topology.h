/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The topology IPAM instance, shared by topology.c (the plugin's ops, pod
 * addresses and block writes) and sync.c (listing and watching the store,
 * the carving, claims of tree nodes and blocks, host records, removal).
 */
#ifndef STRATA_IPAM_TOPOLOGY_TOPOLOGY_H
#define STRATA_IPAM_TOPOLOGY_TOPOLOGY_H

#include <stdbool.h>
#include <stdint.h>

#include <strata/plugin.h>

#include "blocks.h"
#include "carve.h"
#include "records.h"
#include "state.h"

#define TOPO_TEXT 1024

enum topo_phase {
	PH_NEW,      /* created, not started */
	PH_LISTING,  /* reading the store */
	PH_SETUP,    /* carving, nodes, host record, first blocks */
	PH_MISMATCH, /* the store's carving is not ours: no allocation */
	PH_READY,
};

/* An allocate or release in progress. */
struct req {
	struct topo *t;
	bool release;
	uint32_t fams; /* bit per family index */
	char *handle;
	strata_ipam_cb cb;
	void *arg;
	int pending; /* writes and block claims awaited */
	int err;
	char text[TOPO_TEXT];
	struct strata_prefix addr[2];
	bool have[2];
	struct req *next;         /* the waiting or done queue */
	struct req *next_room[2]; /* waiting for a new block of a family */
	struct req *all_prev, *all_next; /* every request of the instance */
};

/* A request waits for a block's write seq. */
struct waiter {
	struct blk *b;
	uint64_t seq;
	struct req *r;
};

struct req_queue {
	struct req *head;
	struct req **tail;
};

/* A list op waiting for the store to be read, or for the loop. */
struct list_req {
	char *prefix;
	strata_ipam_list_cb cb;
	strata_done_cb done;
	void *arg;
	struct list_req *next;
};

/* Which store prefix a list or watch covers. */
enum { SRC_IPAM, SRC_HOSTS, SRC_N };

struct list_ctx {
	struct topo *t;
	int src;
};

struct topo {
	const struct strata_host *host;
	struct strata_instance *inst;
	struct topo_config cfg;
	const char *wanted[TOPO_MAX_LEVELS + 2];
	char name[REC_NAME_MAX + 1];
	char path[TOPO_PATH_MAX];
	enum topo_phase phase;
	bool listed[SRC_N];
	bool viewable; /* the first list is in */
	struct state st;
	struct list_ctx lctx[SRC_N];
	struct strata_store_watch *watch[SRC_N];
	struct strata_timer *retry[SRC_N];
	struct strata_timer *grace_timer;

	/* this host's blocks */
	struct blk *blocks;
	struct waiter *w;
	size_t n_w, cap_w;

	/* claims: one store change of the tree or this host at a time */
	bool busy;
	unsigned attempts;
	bool need_block[2];
	bool seen_due;
	int claim_err; /* the last claim that could not be made */
	char claim_text[TOPO_TEXT];
	bool nodes_failed;
	bool block_failed[2];
	bool carving_ok;
	struct smap removing; /* names of hosts being removed */

	struct req_queue waiting;  /* before ready */
	struct req_queue room[2];  /* for a new block; linked by next_room */
	struct req_queue done;
	struct req *all;
	struct list_req *lists, **lists_tail; /* list ops, in order */
	bool kicked;
	bool mismatch_logged;
	char mismatch_text[TOPO_TEXT];
	int64_t cooldown_ms;

	/* the store going backwards (etcd restored from a snapshot) */
	int64_t seen_rev;          /* highest revision seen */
	int64_t list_floor[SRC_N]; /* seen_rev when the list was asked */
	bool suspect_back;         /* a block re-read found the store older */
	unsigned restores;         /* times it was found */
};

/* topology.c */
int64_t topo_wall_ms(void);
/* snprintf that may cut the text short (messages). */
void topo_textf(char *buf, size_t len, const char *fmt, ...)
	STRATA_PRINTF(3, 4);
/* Run completions, list ops (once the store is read) and block writes
 * soon, after the current callback. */
void topo_kick(struct topo *t);
/* A block of this host appeared (claimed or found at start). */
void topo_block_added(struct topo *t, struct blk *b);
/* A family got a block, or cannot get one (err): serve those waiting. */
void topo_room(struct topo *t, int fam, int err, const char *text);
/* The setup is done (or the carving refused): serve those waiting. */
void topo_ready(struct topo *t);
/* Drops a block that is no longer this host's, failing its waiters. */
void topo_block_lost(struct topo *t, struct blk *b);
/* Adopts the store's value of one of this host's blocks. */
void topo_block_adopt(struct topo *t, struct blk *b,
		      const struct rec_block *rec, int64_t mod_rev);
struct blk *topo_block_find(const struct topo *t,
			    const struct strata_prefix *p);
/* A revision the store reported. */
void topo_seen(struct topo *t, int64_t rev);
/*
 * The store went backwards: write b back over the store's value (store_rev
 * its mod revision, 0 when absent), or drop it; once its write in flight
 * is back when there is one.
 */
void topo_block_reassert(struct topo *t, struct blk *b, int64_t store_rev,
			 bool drop);
void topo_metrics(struct topo *t);

/* sync.c */
int sync_start(struct topo *t);
void sync_stop(struct topo *t);
/* Look at what is missing (nodes, host record, blocks) and claim it. */
void sync_advance(struct topo *t);
/* The routed prefixes of this host's node of a family. */
size_t sync_routed(const struct topo *t, int fam, struct strata_prefix *out);
int sync_host_remove(struct topo *t, const char *name, strata_done_cb cb,
		     void *arg);
void sync_grace_tick(void *arg);
/* Lists strata/ipam/ again now (and watches from there). */
void sync_relist(struct topo *t);

#endif
