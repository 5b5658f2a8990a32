/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store side of the topology IPAM: list and watch strata/ipam/ and
 * strata/hosts/, record the carving, claim this host's tree nodes, its
 * host record and its blocks (each claim one compare-and-put transaction,
 * one at a time), remove hosts that are gone.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

#define LOG(t, level, ...) (t)->host->log((t)->inst, (level), __VA_ARGS__)

/* Consecutive conflicts before a claim gives up. */
#define CLAIM_ATTEMPTS 64
/* Candidates looked at for a free slot or block. */
#define SCAN_MAX (1u << 20)
/* Ops of one removal transaction (the store's bound). */
#define TXN_OPS 128
#define RETRY_NS (1000LL * 1000 * 1000)

static const char *const src_prefix[SRC_N] = { REC_ROOT, REC_HOSTS };

static void list_start(struct topo *t, int src);

/* ---- applying what the store says --------------------------------------- */

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void changed(struct topo *t)
{
	if (t->viewable)
		t->host->topology_changed(t->inst);
}

/* A block key's new value (value NULL: deleted), with this host's own
 * blocks kept in step. */
static void apply_block(struct topo *t, const char *key, const void *value,
			size_t len, int64_t mod_rev, bool *chg)
{
	struct strata_prefix p;
	struct rec_block rec;
	struct blk *b;
	bool mine;

	if (rec_prefix_parse(key + strlen(REC_BLOCK), &p) < 0) {
		state_apply(&t->st, key, value, len, mod_rev, chg);
		return;
	}
	b = topo_block_find(t, &p);
	/* our own writes (in flight or done) are already in memory */
	if (b && (b->inflight || (value && mod_rev <= b->mod_rev)))
		return;
	state_apply(&t->st, key, value, len, mod_rev, chg);
	mine = value && !rec_block_parse(value, len, &rec);
	if (mine && strcmp(rec.host, t->name)) {
		rec_block_free(&rec);
		mine = false;
	}
	if (b) {
		if (mine)
			topo_block_adopt(t, b, &rec, mod_rev);
		else
			topo_block_lost(t, b);
	} else if (mine) {
		int fi = topo_family_index(p.family);

		b = fi < 0 ? NULL :
			     blk_new(&p, fi, topo_block_addrs(&t->cfg, fi),
				     rec.path);
		if (b && blk_load(b, &rec, mod_rev) == 0) {
			topo_block_added(t, b);
		} else {
			LOG(t, STRATA_LOG_ERR, "block %s: cannot load it",
			    key + strlen(REC_BLOCK));
			blk_free(b);
		}
	}
	if (mine)
		rec_block_free(&rec);
}

static void apply(struct topo *t, const char *key, const void *value,
		  size_t len, int64_t mod_rev)
{
	bool chg = false;
	int rc;

	if (starts(key, REC_BLOCK)) {
		apply_block(t, key, value, len, mod_rev, &chg);
	} else {
		rc = state_apply(&t->st, key, value, len, mod_rev, &chg);
		if (rc == -EINVAL)
			LOG(t, STRATA_LOG_WARNING, "%s: not a valid record",
			    key);
		if (chg && !strcmp(key, REC_CARVING))
			t->carving_ok = false; /* look at it again */
	}
	if (chg)
		changed(t);
}

/* Something in the tree or a host changed: failed claims may now work. */
static void after_changes(struct topo *t)
{
	t->nodes_failed = false;
	t->block_failed[0] = t->block_failed[1] = false;
	if (t->phase == PH_MISMATCH)
		t->phase = PH_SETUP;
	sync_advance(t);
}

/* ---- list and watch ----------------------------------------------------- */

/* After a re-list: forget keys of src the list did not have. */
static void sweep(struct topo *t, int src, const struct strata_kv *kvs,
		  size_t n)
{
	struct smap *maps[4];
	struct smap seen = { 0 };
	size_t m, n_maps = 0, i, n_keys;
	void *old;

	if (src == SRC_IPAM) {
		maps[n_maps++] = &t->st.nodes;
		maps[n_maps++] = &t->st.slots;
		maps[n_maps++] = &t->st.blocks;
		maps[n_maps++] = &t->st.hosts;
	} else {
		maps[n_maps++] = &t->st.registered;
	}
	for (i = 0; i < n; i++)
		if (smap_put(&seen, kvs[i].key, (void *)1, &old) < 0)
			goto free_seen; /* keep everything: safer */
	for (m = 0; m < n_maps; m++) {
		char **keys = smap_keys(maps[m], &n_keys);

		for (i = 0; i < n_keys; i++) {
			if (!smap_get(&seen, keys[i]))
				apply(t, keys[i], NULL, 0, 0);
			free(keys[i]);
		}
		free(keys);
	}
	if (src == SRC_IPAM && t->st.have_carving &&
	    !smap_get(&seen, REC_CARVING))
		apply(t, REC_CARVING, NULL, 0, 0);
free_seen:
	smap_clear(&seen, NULL);
}

static void watch_cb(void *arg, int err, int64_t rev,
		     const struct strata_store_event *ev, size_t n);

static void retry_list(void *arg)
{
	struct list_ctx *c = arg;

	c->t->retry[c->src] = NULL;
	list_start(c->t, c->src);
}

static void list_later(struct topo *t, int src, int64_t delay_ns)
{
	if (t->retry[src])
		return;
	t->retry[src] = t->host->timer_start(t->inst, delay_ns, 0, retry_list,
					     &t->lctx[src]);
	if (!t->retry[src])
		LOG(t, STRATA_LOG_ERR, "cannot start a timer to re-list %s",
		    src_prefix[src]);
}

/* ---- the store went backwards ------------------------------------------ */

/*
 * Whether the list shows the store older than it was: its revision is
 * below one seen before it was asked (a list reads at or after every
 * revision committed before it), a block of this host has a lower mod
 * revision than this host's last write of it, or a failed write found one.
 */
static bool went_back(const struct topo *t, int64_t rev, int64_t floor,
		      const struct strata_kv *kvs, size_t n)
{
	const struct blk *b;
	struct strata_prefix p;
	size_t i;

	if (rev < floor || t->suspect_back)
		return true;
	for (i = 0; i < n; i++) {
		if (!starts(kvs[i].key, REC_BLOCK) ||
		    rec_prefix_parse(kvs[i].key + strlen(REC_BLOCK), &p) < 0)
			continue;
		b = topo_block_find(t, &p);
		if (b && !b->inflight && kvs[i].mod_rev < b->mod_rev)
			return true;
	}
	return false;
}

/*
 * Re-asserts what this host holds over a store restored from an older
 * snapshot. Memory is the truth for this host's blocks: each is written
 * back (created if absent, else over the store's value), so no address
 * handed out after the snapshot is handed out again. A block the store now
 * gives to another host stays that host's, unless this host has live
 * addresses in it: then this host's record is put back and the conflict
 * logged as an error (the other host drops the block when it sees the
 * write). Everything else is taken from the store as at a start.
 */
static void reassert(struct topo *t, int64_t rev, const struct strata_kv *kvs,
		     size_t n)
{
	char text[REC_PREFIX_STR];
	const struct st_block *sb;
	struct strata_prefix p;
	struct blk *b, *next;
	size_t i, n_blocks = 0;

	for (b = t->blocks; b; b = b->next)
		n_blocks++;
	t->restores++;
	LOG(t, STRATA_LOG_ERR,
	    "the store went back to revision %" PRId64 " (seen %" PRId64
	    "): restored from an older snapshot? writing back this host's "
	    "%zu blocks", rev, t->seen_rev, n_blocks);
	t->suspect_back = false;
	t->seen_rev = rev;
	/* a list asked before this answers from the restored store too */
	for (i = 0; i < SRC_N; i++)
		if (t->list_floor[i] > rev)
			t->list_floor[i] = rev;
	/* its mod revisions are lower than those seen: start over */
	state_clear_ipam(&t->st);
	t->carving_ok = false;
	for (i = 0; i < n; i++) {
		bool chg = false;

		if (starts(kvs[i].key, REC_BLOCK) &&
		    rec_prefix_parse(kvs[i].key + strlen(REC_BLOCK), &p) == 0 &&
		    topo_block_find(t, &p))
			state_apply(&t->st, kvs[i].key, kvs[i].value,
				    kvs[i].value_len, kvs[i].mod_rev, &chg);
		else
			apply(t, kvs[i].key, kvs[i].value, kvs[i].value_len,
			      kvs[i].mod_rev);
	}
	for (b = t->blocks; b; b = next) {
		next = b->next;
		sb = state_block(&t->st, &b->prefix);
		rec_prefix_fmt(&b->prefix, text, sizeof(text));
		if (!sb || !strcmp(sb->host, t->name)) {
			topo_block_reassert(t, b, sb ? sb->mod_rev : 0, false);
		} else if (b->n_used) {
			LOG(t, STRATA_LOG_ERR,
			    "block %s: the restored store gives it to host %s, "
			    "but this host has %zu live addresses in it: "
			    "writing this host's record back over it", text,
			    sb->host, b->n_used);
			topo_block_reassert(t, b, sb->mod_rev, false);
		} else {
			LOG(t, STRATA_LOG_WARNING,
			    "block %s: the restored store gives it to host "
			    "%s; no live address here: leaving it", text,
			    sb->host);
			topo_block_reassert(t, b, 0, true);
		}
	}
	changed(t);
}

void sync_relist(struct topo *t)
{
	if (t->watch[SRC_IPAM]) {
		t->host->store_watch_cancel(t->inst, t->watch[SRC_IPAM]);
		t->watch[SRC_IPAM] = NULL;
	}
	list_later(t, SRC_IPAM, 0);
}

static void list_done(void *arg, int err, int64_t rev,
		      const struct strata_kv *kvs, size_t n)
{
	struct list_ctx *c = arg;
	struct topo *t = c->t;
	int src = c->src;
	size_t i;

	if (err) {
		LOG(t, STRATA_LOG_WARNING, "listing %s failed: %s",
		    src_prefix[src], strerror(-err));
		list_later(t, src, RETRY_NS);
		return;
	}
	if (src == SRC_IPAM && t->listed[src] &&
	    went_back(t, rev, t->list_floor[src], kvs, n)) {
		reassert(t, rev, kvs, n);
	} else {
		for (i = 0; i < n; i++)
			apply(t, kvs[i].key, kvs[i].value, kvs[i].value_len,
			      kvs[i].mod_rev);
		if (t->listed[src])
			sweep(t, src, kvs, n);
	}
	topo_seen(t, rev);
	t->listed[src] = true;
	if (t->watch[src]) /* two lists crossed (sync_relist) */
		t->host->store_watch_cancel(t->inst, t->watch[src]);
	t->watch[src] = t->host->store_watch(t->inst, src_prefix[src],
					     STRATA_STORE_PREFIX, rev + 1,
					     watch_cb, c);
	if (!t->watch[src]) {
		LOG(t, STRATA_LOG_WARNING, "watching %s failed",
		    src_prefix[src]);
		list_later(t, src, RETRY_NS);
	}
	if (t->phase == PH_LISTING && t->listed[SRC_IPAM] &&
	    t->listed[SRC_HOSTS]) {
		t->viewable = true;
		t->phase = PH_SETUP;
		t->host->topology_changed(t->inst);
		topo_metrics(t);
		topo_kick(t); /* list ops waited for this */
	}
	after_changes(t);
}

static void list_start(struct topo *t, int src)
{
	t->list_floor[src] = t->seen_rev;
	if (t->host->store_get(t->inst, src_prefix[src], STRATA_STORE_PREFIX,
			       list_done, &t->lctx[src]) < 0)
		list_later(t, src, RETRY_NS);
}

static void watch_cb(void *arg, int err, int64_t rev,
		     const struct strata_store_event *ev, size_t n)
{
	struct list_ctx *c = arg;
	struct topo *t = c->t;
	int src = c->src;
	size_t i;

	if (err) {
		/* the watch is over: re-list, then watch from there */
		t->host->store_watch_cancel(t->inst, t->watch[src]);
		t->watch[src] = NULL;
		list_later(t, src, err == -ESTALE ? 0 : RETRY_NS);
		return;
	}
	for (i = 0; i < n; i++) {
		const struct strata_kv *kv = &ev[i].kv;

		if (ev[i].type == STRATA_EVENT_DELETE)
			apply(t, kv->key, NULL, 0, kv->mod_rev);
		else
			apply(t, kv->key, kv->value, kv->value_len,
			      kv->mod_rev);
	}
	topo_seen(t, rev);
	if (n)
		after_changes(t);
}

/* Applies a txn's failure-branch ranges: each key's value now. */
static void apply_ranges(struct topo *t, const struct strata_store_txn_result *res,
			 const char *const *keys, size_t n_keys)
{
	size_t i;

	for (i = 0; i < res->n_results && i < n_keys; i++) {
		const struct strata_store_op_result *r = &res->results[i];

		if (r->n_kvs)
			apply(t, r->kvs[0].key, r->kvs[0].value,
			      r->kvs[0].value_len, r->kvs[0].mod_rev);
		else
			apply(t, keys[i], NULL, 0, 0);
	}
}

/* ---- claims ------------------------------------------------------------- */

/* One claim transaction: cmps, then puts of (key, value) pairs, with a
 * range of each key on failure. */
struct claim {
	struct topo *t;
	int kind; /* CL_* */
	int fam;
	size_t n;
	char *keys[2];
	char *values[2];
	size_t lens[2];
};

enum { CL_CARVING, CL_NODE, CL_HOST, CL_BLOCK };

static void claim_free(struct claim *c)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		free(c->keys[i]);
		free(c->values[i]);
	}
	free(c);
}

static void claim_failed(struct topo *t, struct claim *c, int err,
			 const char *what);

static void claim_done(void *arg, int err,
		       const struct strata_store_txn_result *res)
{
	struct claim *c = arg;
	struct topo *t = c->t;
	size_t i;

	t->busy = false;
	if (err) {
		claim_failed(t, c, err, strerror(-err));
		claim_free(c);
		return;
	}
	if (!res->succeeded) {
		apply_ranges(t, res, (const char *const *)c->keys, c->n);
		if (++t->attempts >= CLAIM_ATTEMPTS) {
			t->attempts = 0;
			claim_failed(t, c, -EAGAIN,
				     "claims kept conflicting with other hosts'");
		}
		claim_free(c);
		sync_advance(t);
		return;
	}
	t->attempts = 0;
	topo_seen(t, res->revision);
	for (i = 0; i < c->n; i++)
		apply(t, c->keys[i], c->values[i], c->lens[i], res->revision);
	if (c->kind == CL_CARVING)
		t->carving_ok = true;
	if (c->kind == CL_HOST)
		t->seen_due = false;
	if (c->kind == CL_BLOCK) {
		t->block_failed[c->fam] = false;
		/* the block arrived through apply(): serve those waiting */
		topo_room(t, c->fam, 0, NULL);
	}
	claim_free(c);
	sync_advance(t);
}

/* Compares key's mod revision with mod_rev (0: absent) for every key,
 * puts every value; ranges every key on failure. */
static int claim_send(struct topo *t, struct claim *c, const int64_t *mod_revs,
		      const struct strata_store_cmp *extra, size_t n_extra)
{
	struct strata_store_cmp cmp[4];
	struct strata_store_op put[2], get[2];
	struct strata_store_txn txn = { 0 };
	size_t i, n_cmp = 0;
	int rc;

	for (i = 0; i < c->n; i++) {
		cmp[n_cmp++] = (struct strata_store_cmp){
			.key = c->keys[i],
			.target = STRATA_CMP_MOD,
			.result = STRATA_CMP_EQUAL,
			.num = mod_revs[i],
		};
		put[i] = (struct strata_store_op){
			.type = STRATA_OP_PUT,
			.key = c->keys[i],
			.value = c->values[i],
			.value_len = c->lens[i],
		};
		get[i] = (struct strata_store_op){
			.type = STRATA_OP_RANGE,
			.key = c->keys[i],
		};
	}
	for (i = 0; i < n_extra && n_cmp < 4; i++)
		cmp[n_cmp++] = extra[i];
	txn.cmp = cmp;
	txn.n_cmp = n_cmp;
	txn.success = put;
	txn.n_success = c->n;
	txn.failure = get;
	txn.n_failure = c->n;
	rc = t->host->store_txn(t->inst, &txn, claim_done, c);
	if (rc < 0)
		return rc;
	t->busy = true;
	return 0;
}

static struct claim *claim_new(struct topo *t, int kind, int fam)
{
	struct claim *c = calloc(1, sizeof(*c));

	if (c) {
		c->t = t;
		c->kind = kind;
		c->fam = fam;
	}
	return c;
}

static int claim_add(struct claim *c, const char *key, char *value, size_t len)
{
	c->keys[c->n] = strdup(key);
	c->values[c->n] = value;
	c->lens[c->n] = len;
	c->n++;
	return c->keys[c->n - 1] ? 0 : -ENOMEM;
}

/* ---- the carving -------------------------------------------------------- */

static void carving_check(struct topo *t)
{
	struct rec_carving mine;
	char a[TOPO_TEXT / 2 - 64], b[TOPO_TEXT / 2 - 64];
	struct claim *c;
	int64_t rev = t->st.carving_rev;
	size_t len;
	char *value;
	int rc;

	rec_carving_from(&t->cfg, &mine);
	if (t->st.have_carving && rec_carving_eq(&t->st.carving, &mine)) {
		t->carving_ok = true;
		return;
	}
	if (t->st.have_carving && !rec_carving_grows(&t->st.carving, &mine)) {
		t->carving_ok = false;
		rec_carving_fmt(&t->st.carving, a, sizeof(a));
		rec_carving_fmt(&mine, b, sizeof(b));
		topo_textf(t->mismatch_text, sizeof(t->mismatch_text),
			 "the store's carving (%s) is not this instance's (%s): "
			 "changing the carving of a running cluster is a "
			 "planned migration, see stratactl plan", a, b);
		if (!t->mismatch_logged)
			LOG(t, STRATA_LOG_ERR, "%s", t->mismatch_text);
		t->mismatch_logged = true;
		t->phase = PH_MISMATCH;
		topo_ready(t); /* those waiting fail */
		return;
	}
	/* absent, or ours appends pools: write ours */
	c = claim_new(t, CL_CARVING, 0);
	if (!c)
		return;
	rc = rec_carving_encode(&t->cfg, &value, &len);
	if (rc == 0)
		rc = claim_add(c, REC_CARVING, value, len);
	if (rc == 0)
		rc = claim_send(t, c, &rev, NULL, 0);
	if (rc < 0) {
		claim_free(c);
		LOG(t, STRATA_LOG_ERR, "writing the carving: %s", strerror(-rc));
		return;
	}
	if (t->st.have_carving)
		LOG(t, STRATA_LOG_INFO, "pools appended to the carving");
}

/* ---- tree nodes --------------------------------------------------------- */

/* The first `depth` components of the path. */
static void path_upto(const char *path, uint32_t depth, char *out, size_t len)
{
	const char *p = path;
	uint32_t d = 0;

	for (; *p; p++)
		if (*p == '/' && ++d == depth)
			break;
	snprintf(out, len, "%.*s", (int)(p - path), path);
}

static int pool_of(const struct topo *t, const struct strata_prefix *p)
{
	uint32_t i;

	for (i = 0; i < t->cfg.n_pools; i++)
		if (rec_prefix_in(p, &t->cfg.pools[i]))
			return (int)i;
	return -1;
}

static bool has_family(const struct rec_node *n, int fam)
{
	uint32_t i;

	for (i = 0; i < n->n_prefixes; i++)
		if (topo_family_index(n->prefixes[i].family) == fam)
			return true;
	return false;
}

/* The parent's prefixes of a family, in pool order. */
static size_t parent_prefixes(const struct topo *t, const char *path,
			      uint32_t depth, int fam,
			      struct strata_prefix *out)
{
	const struct strata_prefix *src;
	struct st_node *parent = NULL;
	char ppath[TOPO_PATH_MAX];
	uint32_t n_src, i, p;
	size_t n = 0;

	if (depth == 1) {
		src = t->cfg.pools;
		n_src = t->cfg.n_pools;
	} else {
		path_upto(path, depth - 1, ppath, sizeof(ppath));
		parent = state_node(&t->st, ppath);
		if (!parent)
			return 0;
		src = parent->rec.prefixes;
		n_src = parent->rec.n_prefixes;
	}
	for (p = 0; p < t->cfg.n_pools; p++)
		for (i = 0; i < n_src; i++)
			if (topo_family_index(src[i].family) == fam &&
			    pool_of(t, &src[i]) == (int)p)
				out[n++] = src[i];
	return n;
}

/* The first free slot for the node in a pool it has no prefix in. */
static int find_slot(const struct topo *t, const char *path, uint32_t depth,
		     int fam, struct strata_prefix *slot, uint64_t *n_slots)
{
	struct strata_prefix pp[TOPO_MAX_POOLS];
	const struct st_node *node = state_node(&t->st, path);
	size_t n_pp = parent_prefixes(t, path, depth, fam, pp), i;
	uint32_t bits = t->cfg.levels[depth - 1].bits, k;
	uint64_t count = bits >= 64 ? UINT64_MAX : 1ULL << bits, s;

	*n_slots = 0;
	for (i = 0; i < n_pp; i++) {
		int pool = pool_of(t, &pp[i]);
		bool held = false;

		for (k = 0; node && k < node->rec.n_prefixes; k++)
			held |= pool_of(t, &node->rec.prefixes[k]) == pool;
		if (held)
			continue;
		for (s = 0; s < count && s < SCAN_MAX; s++) {
			if (topo_child(&t->cfg, &pp[i], depth, s, slot) < 0)
				break;
			if (!state_slot_taken(&t->st, slot))
				return 0;
		}
		*n_slots += s;
	}
	return -ENOSPC;
}

static void claim_node(struct topo *t, const char *path, uint32_t depth,
		       int fam)
{
	char key[sizeof(REC_NODE) + TOPO_PATH_MAX];
	char skey[sizeof(REC_SLOT) + REC_PREFIX_STR];
	struct strata_prefix slot;
	struct st_node *node;
	struct rec_node rec;
	struct claim *c;
	int64_t revs[2];
	uint64_t n_slots;
	char ppath[TOPO_PATH_MAX];
	size_t len;
	char *value;
	int rc;

	if (find_slot(t, path, depth, fam, &slot, &n_slots) < 0) {
		if (depth > 1) {
			/* the parent takes a slot in another pool first */
			path_upto(path, depth - 1, ppath, sizeof(ppath));
			claim_node(t, ppath, depth - 1, fam);
			return;
		}
		t->nodes_failed = true;
		t->claim_err = -ENOSPC;
		topo_textf(t->claim_text, sizeof(t->claim_text),
			 "%s %s: no free %s slot left for it (%" PRIu64
			 " slots of %u bits looked at, all taken); add a pool "
			 "or plan a larger carving (stratactl plan)",
			 t->cfg.levels[depth - 1].fact, path,
			 fam ? "IPv6" : "IPv4", n_slots,
			 t->cfg.levels[depth - 1].bits);
		LOG(t, STRATA_LOG_ERR, "%s", t->claim_text);
		return;
	}
	node = state_node(&t->st, path);
	memset(&rec, 0, sizeof(rec));
	if (node)
		rec = node->rec;
	if (rec.n_prefixes >= TOPO_MAX_POOLS)
		return;
	rec.prefixes[rec.n_prefixes++] = slot;
	c = claim_new(t, CL_NODE, fam);
	if (!c)
		return;
	snprintf(key, sizeof(key), "%s%s", REC_NODE, path);
	state_key(skey, sizeof(skey), REC_SLOT, &slot);
	revs[0] = node ? node->mod_rev : 0;
	revs[1] = 0;
	rc = rec_node_encode(&rec, &value, &len);
	if (rc == 0)
		rc = claim_add(c, key, value, len);
	if (rc == 0) {
		rc = rec_slot_encode(path, &value, &len);
		if (rc == 0)
			rc = claim_add(c, skey, value, len);
	}
	if (rc == 0)
		rc = claim_send(t, c, revs, NULL, 0);
	if (rc < 0) {
		LOG(t, STRATA_LOG_ERR, "claiming %s: %s", path, strerror(-rc));
		claim_free(c);
	}
}

/* ---- the host record ---------------------------------------------------- */

static void my_addrs(struct topo *t, struct rec_host *h)
{
	static const char *const names[] = { "address", "address6" };
	const char *v;
	size_t i;

	for (i = 0; i < 2; i++) {
		v = t->host->fact_get(t->inst, names[i]);
		if (!v || !*v)
			continue;
		if (rec_addr_parse(v, &h->addrs[h->n_addrs]) < 0) {
			LOG(t, STRATA_LOG_WARNING, "fact %s=%s: not an address",
			    names[i], v);
			continue;
		}
		h->n_addrs++;
	}
}

static bool host_current(struct topo *t, const struct st_host *me)
{
	struct rec_host want;
	struct blk *b;
	uint32_t i;
	size_t k;

	if (!me || t->seen_due || strcmp(me->rec.path, t->path))
		return false;
	memset(&want, 0, sizeof(want));
	my_addrs(t, &want);
	if (want.n_addrs != me->rec.n_addrs)
		return false;
	for (i = 0; i < want.n_addrs; i++)
		if (want.addrs[i].family != me->rec.addrs[i].family ||
		    memcmp(want.addrs[i].addr, me->rec.addrs[i].addr, 16))
			return false;
	for (b = t->blocks; b; b = b->next) {
		for (k = 0; k < me->rec.n_blocks; k++)
			if (rec_prefix_eq(&me->rec.blocks[k], &b->prefix))
				break;
		if (k == me->rec.n_blocks)
			return false;
	}
	return true;
}

/* The record this host should have, with `extra` appended to its blocks. */
static int host_record(struct topo *t, const struct strata_prefix *extra,
		       char **value, size_t *len)
{
	const struct st_host *me = state_host(&t->st, t->name);
	struct rec_host h;
	struct blk *b;
	size_t n = 0, k, cap;
	int rc;

	memset(&h, 0, sizeof(h));
	snprintf(h.path, sizeof(h.path), "%s", t->path);
	my_addrs(t, &h);
	h.seen_ms = topo_wall_ms();
	cap = (me ? me->rec.n_blocks : 0) + 1;
	for (b = t->blocks; b; b = b->next)
		cap++;
	h.blocks = calloc(cap, sizeof(*h.blocks));
	if (!h.blocks)
		return -ENOMEM;
	for (k = 0; me && k < me->rec.n_blocks; k++)
		h.blocks[n++] = me->rec.blocks[k];
	for (b = t->blocks; b; b = b->next) {
		for (k = 0; k < n; k++)
			if (rec_prefix_eq(&h.blocks[k], &b->prefix))
				break;
		if (k == n)
			h.blocks[n++] = b->prefix;
	}
	if (extra)
		h.blocks[n++] = *extra;
	h.n_blocks = n;
	rc = rec_host_encode(&h, value, len);
	rec_host_free(&h);
	return rc;
}

static void write_host(struct topo *t)
{
	char key[sizeof(REC_HOST) + REC_NAME_MAX + 1];
	const struct st_host *me = state_host(&t->st, t->name);
	int64_t rev = me ? me->mod_rev : 0;
	struct claim *c = claim_new(t, CL_HOST, 0);
	size_t len;
	char *value;
	int rc;

	if (!c)
		return;
	snprintf(key, sizeof(key), "%s%s", REC_HOST, t->name);
	rc = host_record(t, NULL, &value, &len);
	if (rc == 0)
		rc = claim_add(c, key, value, len);
	if (rc == 0)
		rc = claim_send(t, c, &rev, NULL, 0);
	if (rc < 0) {
		LOG(t, STRATA_LOG_ERR, "writing the host record: %s",
		    strerror(-rc));
		claim_free(c);
	}
}

/* ---- blocks ------------------------------------------------------------- */

size_t sync_routed(const struct topo *t, int fam, struct strata_prefix *v)
{
	const struct strata_prefix *src;
	const struct st_node *node;
	uint32_t i, n_src;
	size_t n = 0;

	if (t->cfg.n_levels == 0) {
		src = t->cfg.pools;
		n_src = t->cfg.n_pools;
	} else {
		node = state_node(&t->st, t->path);
		if (!node)
			return 0;
		src = node->rec.prefixes;
		n_src = node->rec.n_prefixes;
	}
	for (i = 0; i < n_src; i++)
		if (topo_family_index(src[i].family) == fam)
			v[n++] = src[i];
	return n;
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (uint8_t)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool holds_block(const struct topo *t, int fam)
{
	const struct blk *b;

	for (b = t->blocks; b; b = b->next)
		if (b->fam == fam && !strcmp(b->path, t->path))
			return true;
	return false;
}

/* The first free block from this host's own offset, or -ENOSPC with the
 * numbers in claim_text. */
static int find_block(struct topo *t, int fam, struct strata_prefix *out)
{
	struct strata_prefix rp[TOPO_MAX_POOLS];
	size_t n_rp = sync_routed(t, fam, rp), i;
	uint64_t count = 0, held = 0, reserved = 0, k, start, idx;
	char text[REC_PREFIX_STR] = "", *p;
	const char *level = t->cfg.n_levels ?
				    t->cfg.levels[t->cfg.n_levels - 1].fact :
				    "cluster";

	for (i = 0; i < n_rp; i++) {
		uint64_t c = topo_block_count(&t->cfg, &rp[i]);

		if (!c)
			continue;
		start = fnv1a64(t->name) % c;
		for (k = 0; k < c && k < SCAN_MAX; k++) {
			idx = (start + k) % c;
			if (topo_block_at(&t->cfg, &rp[i], idx, out) < 0)
				break;
			if (topo_block_reserved(&t->cfg, out)) {
				reserved++;
				continue;
			}
			if (state_block(&t->st, out)) {
				held++;
				continue;
			}
			return 0;
		}
		count += c;
	}
	if (!n_rp) {
		if (!t->claim_err)
			topo_textf(t->claim_text, sizeof(t->claim_text),
				 "%s %s has no %s prefix", level, t->path,
				 fam ? "IPv6" : "IPv4");
		return t->claim_err ? t->claim_err : -ENOSPC;
	}
	p = text;
	for (i = 0; i < n_rp && (size_t)(p - text) < sizeof(text) / 2; i++) {
		rec_prefix_fmt(&rp[i], p, sizeof(text) - (size_t)(p - text));
		p += strlen(p);
	}
	topo_textf(t->claim_text, sizeof(t->claim_text),
		 "%s %s (%s) is full: %" PRIu64 " blocks of /%u, %" PRIu64
		 " held by hosts, %" PRIu64 " reserved; plan a larger "
		 "carving (stratactl plan)",
		 level, *t->path ? t->path : "(cluster)", text, count,
		 t->cfg.block_len[fam], held, reserved);
	return -ENOSPC;
}

static void claim_block(struct topo *t, int fam)
{
	char key[sizeof(REC_BLOCK) + REC_PREFIX_STR];
	char hkey[sizeof(REC_HOST) + REC_NAME_MAX + 1];
	const struct st_host *me = state_host(&t->st, t->name);
	struct strata_prefix p;
	struct rec_block rec;
	struct claim *c;
	int64_t revs[2];
	size_t len;
	char *value;
	int rc;

	rc = find_block(t, fam, &p);
	if (rc < 0) {
		t->block_failed[fam] = true;
		LOG(t, STRATA_LOG_WARNING, "%s", t->claim_text);
		topo_room(t, fam, rc, t->claim_text);
		return;
	}
	c = claim_new(t, CL_BLOCK, fam);
	if (!c)
		return;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.host, sizeof(rec.host), "%s", t->name);
	snprintf(rec.path, sizeof(rec.path), "%s", t->path);
	state_key(key, sizeof(key), REC_BLOCK, &p);
	snprintf(hkey, sizeof(hkey), "%s%s", REC_HOST, t->name);
	revs[0] = 0;
	revs[1] = me ? me->mod_rev : 0;
	rc = rec_block_encode(&rec, &value, &len);
	if (rc == 0)
		rc = claim_add(c, key, value, len);
	if (rc == 0) {
		rc = host_record(t, &p, &value, &len);
		if (rc == 0)
			rc = claim_add(c, hkey, value, len);
	}
	if (rc == 0)
		rc = claim_send(t, c, revs, NULL, 0);
	if (rc < 0) {
		claim_free(c);
		topo_textf(t->claim_text, sizeof(t->claim_text),
			 "claiming a block: %s", strerror(-rc));
		t->block_failed[fam] = true;
		topo_room(t, fam, rc, t->claim_text);
	}
}

static void claim_failed(struct topo *t, struct claim *c, int err,
			 const char *what)
{
	char text[TOPO_TEXT];

	topo_textf(text, sizeof(text), "%s of %s: %s",
		 c->kind == CL_BLOCK ? "a block claim" :
		 c->kind == CL_NODE ? "a tree node claim" :
		 c->kind == CL_HOST ? "the host record" : "the carving",
		 c->n ? c->keys[0] : "?", what);
	LOG(t, STRATA_LOG_WARNING, "%s", text);
	if (c->kind == CL_BLOCK) {
		t->block_failed[c->fam] = true;
		topo_room(t, c->fam, err, text);
	} else if (c->kind == CL_NODE) {
		t->nodes_failed = true;
		t->claim_err = err;
		topo_textf(t->claim_text, sizeof(t->claim_text), "%s", text);
	}
	/* later changes (a watch event) or the next request try again */
}

/* ---- the state machine -------------------------------------------------- */

void sync_advance(struct topo *t)
{
	char sub[TOPO_PATH_MAX];
	uint32_t d;
	int f;

	if (t->busy || (t->phase != PH_SETUP && t->phase != PH_READY))
		return;
	if (!t->carving_ok) {
		carving_check(t);
		if (!t->carving_ok)
			return;
	}
	if (t->cfg.gateway)
		goto out; /* it claims nothing: no tree node, record or block */
	for (d = 1; d <= t->cfg.n_levels && !t->nodes_failed; d++) {
		const struct st_node *n;

		path_upto(t->path, d, sub, sizeof(sub));
		n = state_node(&t->st, sub);
		for (f = 0; f < 2; f++) {
			if (!t->cfg.family[f] || (n && has_family(&n->rec, f)))
				continue;
			claim_node(t, sub, d, f);
			if (t->busy || t->nodes_failed)
				goto out;
		}
	}
	if (!t->nodes_failed)
		t->claim_err = 0;
	if (!host_current(t, state_host(&t->st, t->name))) {
		write_host(t);
		if (t->busy)
			return;
	}
	for (f = 0; f < 2; f++) {
		if (!t->cfg.family[f])
			continue;
		if (t->need_block[f] ||
		    (!holds_block(t, f) && !t->block_failed[f])) {
			claim_block(t, f);
			if (t->busy)
				return;
		}
	}
out:
	if (t->busy || t->phase != PH_SETUP)
		return;
	t->phase = PH_READY;
	LOG(t, STRATA_LOG_INFO, "ready: %s", *t->path ? t->path : "(cluster)");
	t->host->topology_changed(t->inst);
	topo_metrics(t);
	topo_ready(t);
}

/* ---- removal ------------------------------------------------------------ */

struct removal {
	struct topo *t;
	char *name;
	strata_done_cb cb;
	void *arg;
	char **keys; /* block keys, then the host key */
	size_t n_keys, pos, chunk;
	int64_t host_rev;
};

static void removal_free(struct removal *rm)
{
	size_t i;

	if (rm->name)
		smap_del(&rm->t->removing, rm->name);
	for (i = 0; i < rm->n_keys; i++)
		free(rm->keys[i]);
	free(rm->keys);
	free(rm->name);
	free(rm);
}

static int removal_step(struct removal *rm);

static void removal_end(struct removal *rm, int err, const char *text)
{
	struct topo *t = rm->t;

	if (err)
		LOG(t, STRATA_LOG_WARNING, "removing host %s: %s", rm->name,
		    text);
	else
		LOG(t, STRATA_LOG_INFO, "host %s removed, %zu blocks returned",
		    rm->name, rm->n_keys - 1);
	if (rm->cb)
		rm->cb(rm->arg, err, err ? text : NULL);
	removal_free(rm);
}

static void removal_done(void *arg, int err,
			 const struct strata_store_txn_result *res)
{
	struct removal *rm = arg;
	struct topo *t = rm->t;
	char text[TOPO_TEXT];
	size_t i;

	if (err) {
		topo_textf(text, sizeof(text), "the store: %s", strerror(-err));
		removal_end(rm, err, text);
		return;
	}
	if (!res->succeeded) {
		topo_textf(text, sizeof(text),
			 "host %s registered again or its record changed "
			 "meanwhile", rm->name);
		removal_end(rm, -EBUSY, text);
		return;
	}
	for (i = rm->pos; i < rm->pos + rm->chunk; i++)
		apply(t, rm->keys[i], NULL, 0, res->revision);
	rm->pos += rm->chunk;
	if (rm->pos >= rm->n_keys) {
		removal_end(rm, 0, NULL);
		return;
	}
	err = removal_step(rm);
	if (err < 0) {
		topo_textf(text, sizeof(text), "the store: %s", strerror(-err));
		removal_end(rm, err, text);
	}
}

static int removal_step(struct removal *rm)
{
	struct topo *t = rm->t;
	char hkey[sizeof(REC_HOST) + REC_NAME_MAX + 1];
	char rkey[sizeof(REC_HOSTS) + REC_NAME_MAX + 1];
	struct strata_store_op ops[TXN_OPS];
	struct strata_store_cmp cmp[2];
	struct strata_store_txn txn = { 0 };
	size_t i;

	snprintf(hkey, sizeof(hkey), "%s%s", REC_HOST, rm->name);
	snprintf(rkey, sizeof(rkey), "%s%s", REC_HOSTS, rm->name);
	cmp[0] = (struct strata_store_cmp){
		.key = hkey,
		.target = STRATA_CMP_MOD,
		.result = STRATA_CMP_EQUAL,
		.num = rm->host_rev,
	};
	cmp[1] = (struct strata_store_cmp){
		.key = rkey,
		.target = STRATA_CMP_MOD,
		.result = STRATA_CMP_EQUAL,
		.num = 0,
	};
	/* the host key goes last, in the last chunk: every chunk compares it */
	rm->chunk = rm->n_keys - rm->pos;
	if (rm->chunk > TXN_OPS)
		rm->chunk = TXN_OPS;
	if (rm->pos + rm->chunk == rm->n_keys - 1)
		rm->chunk--; /* never leave the host key alone past the bound */
	if (!rm->chunk)
		rm->chunk = 1;
	for (i = 0; i < rm->chunk; i++)
		ops[i] = (struct strata_store_op){
			.type = STRATA_OP_DELETE,
			.key = rm->keys[rm->pos + i],
		};
	txn.cmp = cmp;
	txn.n_cmp = 2;
	txn.success = ops;
	txn.n_success = rm->chunk;
	return t->host->store_txn(t->inst, &txn, removal_done, rm);
}

int sync_host_remove(struct topo *t, const char *name, strata_done_cb cb,
		     void *arg)
{
	char **keys;
	const struct st_host *h;
	struct st_block **blocks;
	struct removal *rm;
	size_t n_blocks, n = 0, i, k;
	void *old;
	int rc = -ENOMEM;

	if (!name || !*name || strlen(name) > REC_NAME_MAX)
		return -EINVAL;
	if (!t->viewable)
		return -EAGAIN;
	if (state_registered(&t->st, name) || !strcmp(name, t->name))
		return -EBUSY;
	h = state_host(&t->st, name);
	if (!h)
		return -ENOENT;
	if (smap_get(&t->removing, name))
		return -EALREADY;
	blocks = (struct st_block **)smap_values(&t->st.blocks, &n_blocks);
	if (!blocks && t->st.blocks.n)
		return -ENOMEM;
	keys = calloc(h->rec.n_blocks + n_blocks + 1, sizeof(*keys));
	rm = calloc(1, sizeof(*rm));
	if (!keys || !rm)
		goto free_all;
	rm->t = t;
	rm->keys = keys;
	rm->cb = cb;
	rm->arg = arg;
	rm->host_rev = h->mod_rev;
	/* the blocks it holds: by its record, and by the blocks' own word */
	for (i = 0; i < h->rec.n_blocks + n_blocks; i++) {
		char key[sizeof(REC_BLOCK) + REC_PREFIX_STR];
		const struct strata_prefix *p;

		if (i < h->rec.n_blocks) {
			p = &h->rec.blocks[i];
			if (!state_block(&t->st, p) ||
			    strcmp(state_block(&t->st, p)->host, name))
				continue; /* someone else's now */
		} else {
			p = &blocks[i - h->rec.n_blocks]->prefix;
			if (strcmp(blocks[i - h->rec.n_blocks]->host, name))
				continue;
		}
		state_key(key, sizeof(key), REC_BLOCK, p);
		for (k = 0; k < n; k++)
			if (!strcmp(keys[k], key))
				break;
		if (k < n)
			continue;
		keys[n] = strdup(key);
		if (!keys[n])
			goto free_all;
		n++;
	}
	keys[n] = malloc(sizeof(REC_HOST) + strlen(name));
	if (!keys[n])
		goto free_all;
	sprintf(keys[n++], "%s%s", REC_HOST, name);
	rm->n_keys = n;
	rm->name = strdup(name);
	if (!rm->name || smap_put(&t->removing, name, (void *)1, &old) < 0)
		goto free_all;
	rc = removal_step(rm);
	if (rc < 0)
		goto free_all;
	free(blocks);
	return 0;
free_all:
	for (i = 0; keys && i < h->rec.n_blocks + n_blocks + 1; i++)
		free(keys[i]);
	free(keys);
	if (rm) {
		if (rm->name)
			smap_del(&t->removing, rm->name);
		free(rm->name);
		free(rm);
	}
	free(blocks);
	return rc;
}

void sync_grace_tick(void *arg)
{
	struct topo *t = arg;
	int64_t now = topo_wall_ms(), grace_ms = t->cfg.grace_ns / 1000000;
	struct st_host **hosts;
	size_t n, i;
	char **names;

	if (t->phase == PH_READY) {
		t->seen_due = true;
		sync_advance(t);
	}
	if (!t->viewable)
		return;
	hosts = (struct st_host **)smap_values(&t->st.hosts, &n);
	if (!hosts)
		return;
	/* names first: removal changes the map */
	names = calloc(n, sizeof(*names));
	for (i = 0; names && i < n; i++) {
		const struct st_host *h = hosts[i];

		if (!strcmp(h->name, t->name) ||
		    state_registered(&t->st, h->name) ||
		    h->rec.seen_ms + grace_ms >= now)
			continue;
		names[i] = strdup(h->name);
	}
	free(hosts);
	for (i = 0; names && i < n; i++) {
		if (!names[i])
			continue;
		LOG(t, STRATA_LOG_INFO,
		    "host %s not seen for longer than the grace: removing it",
		    names[i]);
		sync_host_remove(t, names[i], NULL, NULL);
		free(names[i]);
	}
	free(names);
}

/* ---- start and stop ----------------------------------------------------- */

int sync_start(struct topo *t)
{
	int64_t period;

	t->phase = PH_LISTING;
	list_start(t, SRC_IPAM);
	list_start(t, SRC_HOSTS);
	if (t->cfg.grace_ns > 0) {
		period = t->cfg.grace_ns / 4;
		if (period > 3600LL * 1000000000LL)
			period = 3600LL * 1000000000LL;
		if (period < 1000000)
			period = 1000000;
		t->grace_timer = t->host->timer_start(t->inst, period, period,
						      sync_grace_tick, t);
		if (!t->grace_timer)
			return -ENOMEM;
	}
	return 0;
}

void sync_stop(struct topo *t)
{
	int i;

	for (i = 0; i < SRC_N; i++) {
		if (t->watch[i]) {
			t->host->store_watch_cancel(t->inst, t->watch[i]);
			t->watch[i] = NULL;
		}
		if (t->retry[i]) {
			t->host->timer_stop(t->inst, t->retry[i]);
			t->retry[i] = NULL;
		}
	}
	if (t->grace_timer) {
		t->host->timer_stop(t->inst, t->grace_timer);
		t->grace_timer = NULL;
	}
	smap_clear(&t->removing, NULL);
}
