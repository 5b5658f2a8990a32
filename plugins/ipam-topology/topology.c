/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The topology IPAM plugin: its descriptor and lifecycle, pod addresses in
 * this host's blocks, and the block writes that make them durable. One
 * write per block is in flight at a time; changes made meanwhile go into
 * the next one, and every request a write covers completes with it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "topology.h"

#define LOG(t, level, ...) (t)->host->log((t)->inst, (level), __VA_ARGS__)

static const char *const family_name[2] = { "IPv4", "IPv6" };

int64_t topo_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void topo_textf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---- requests ------------------------------------------------------------ */

static void q_init(struct req_queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

static void q_push(struct req_queue *q, struct req *r)
{
	r->next = NULL;
	*q->tail = r;
	q->tail = &r->next;
}

static struct req *q_pop(struct req_queue *q)
{
	struct req *r = q->head;

	if (r) {
		q->head = r->next;
		if (!q->head)
			q->tail = &q->head;
	}
	return r;
}

static void room_push(struct topo *t, int fam, struct req *r)
{
	struct req_queue *q = &t->room[fam];

	r->next_room[fam] = NULL;
	*q->tail = r;
	q->tail = &r->next_room[fam];
}

static void req_free(struct req *r)
{
	if (r->all_prev)
		r->all_prev->all_next = r->all_next;
	else
		r->t->all = r->all_next;
	if (r->all_next)
		r->all_next->all_prev = r->all_prev;
	free(r->handle);
	free(r);
}

static void STRATA_PRINTF(3, 4)
req_fail(struct req *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->err)
		return; /* the first error says it */
	r->err = err;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static void req_hold(struct req *r)
{
	r->pending++;
}

/* One thing the request waited for is over; at zero it completes. */
static void req_drop(struct req *r)
{
	struct topo *t = r->t;

	if (--r->pending > 0)
		return;
	q_push(&t->done, r);
	topo_kick(t);
}

static int add_waiter(struct topo *t, struct blk *b, uint64_t seq,
		      struct req *r)
{
	if (t->n_w == t->cap_w) {
		size_t cap = t->cap_w ? t->cap_w * 2 : 64;
		struct waiter *w = realloc(t->w, cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		t->w = w;
		t->cap_w = cap;
	}
	t->w[t->n_w].b = b;
	t->w[t->n_w].seq = seq;
	t->w[t->n_w].r = r;
	t->n_w++;
	req_hold(r);
	return 0;
}

/* Completes (or, with err, fails) the waiters of b up to seq; all of
 * them when seq is UINT64_MAX. */
static void release_waiters(struct topo *t, struct blk *b, uint64_t seq,
			    int err, const char *text)
{
	size_t i, k;
	struct req *fired[64];
	size_t n_fired;

	do {
		n_fired = 0;
		for (i = k = 0; i < t->n_w; i++) {
			if (t->w[i].b == b && t->w[i].seq <= seq &&
			    n_fired < sizeof(fired) / sizeof(fired[0])) {
				fired[n_fired++] = t->w[i].r;
				continue;
			}
			t->w[k++] = t->w[i];
		}
		t->n_w = k;
		for (i = 0; i < n_fired; i++) {
			if (err)
				req_fail(fired[i], err, "%s", text);
			req_drop(fired[i]);
		}
	} while (n_fired == sizeof(fired) / sizeof(fired[0]));
}

static void complete(struct topo *t, struct req *r)
{
	struct strata_ipam_result res = { .size = sizeof(res) };
	int f;

	res.error = r->err;
	res.error_text = r->err ? r->text : NULL;
	if (!r->err && !r->release) {
		for (f = 0; f < 2; f++)
			if (r->have[f])
				res.addrs[res.n_addrs++] = r->addr[f];
	}
	r->cb(r->arg, &res);
	(void)t;
}

/* ---- block writes -------------------------------------------------------- */

struct write_ctx {
	struct topo *t;
	struct blk *b;
	char *value;
	size_t len;
};

struct blk *topo_block_find(const struct topo *t, const struct strata_prefix *p)
{
	struct blk *b;

	for (b = t->blocks; b; b = b->next)
		if (rec_prefix_eq(&b->prefix, p))
			return b;
	return NULL;
}

static void apply_block_value(struct topo *t, struct blk *b, const char *value,
			      size_t len, int64_t mod_rev)
{
	char key[sizeof(REC_BLOCK) + REC_PREFIX_STR];
	bool changed = false;

	state_key(key, sizeof(key), REC_BLOCK, &b->prefix);
	state_apply(&t->st, key, value, len, mod_rev, &changed);
	if (changed)
		t->host->topology_changed(t->inst);
}

void topo_block_added(struct topo *t, struct blk *b)
{
	struct blk **p = &t->blocks;

	while (*p)
		p = &(*p)->next;
	b->next = NULL;
	*p = b;
	topo_metrics(t);
}

void topo_block_lost(struct topo *t, struct blk *b)
{
	struct blk **p;
	char text[REC_PREFIX_STR];

	rec_prefix_fmt(&b->prefix, text, sizeof(text));
	LOG(t, STRATA_LOG_WARNING, "block %s is no longer this host's", text);
	release_waiters(t, b, UINT64_MAX, -ESTALE,
			"the block was taken from this host in the store");
	for (p = &t->blocks; *p; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			break;
		}
	}
	blk_free(b);
	topo_metrics(t);
}

void topo_block_adopt(struct topo *t, struct blk *b, const struct rec_block *rec,
		      int64_t mod_rev)
{
	char text[REC_PREFIX_STR];

	rec_prefix_fmt(&b->prefix, text, sizeof(text));
	release_waiters(t, b, UINT64_MAX, -EAGAIN,
			"the block changed in the store; try again");
	if (blk_load(b, rec, mod_rev) < 0) {
		LOG(t, STRATA_LOG_ERR, "block %s: out of memory", text);
		topo_block_lost(t, b);
		return;
	}
	LOG(t, STRATA_LOG_WARNING,
	    "block %s changed in the store: took its value (%zu used)", text,
	    b->n_used);
	topo_metrics(t);
}

void topo_seen(struct topo *t, int64_t rev)
{
	if (rev > t->seen_rev)
		t->seen_rev = rev;
}

static int write_block(struct topo *t, struct blk *b);

/* What topo_block_reassert() asked for, now that no write is in flight. */
static void reassert_now(struct topo *t, struct blk *b)
{
	char text[REC_PREFIX_STR];
	int action = b->reassert, rc;

	b->reassert = BLK_REASSERT_NONE;
	if (action == BLK_REASSERT_DROP) {
		topo_block_lost(t, b);
		return;
	}
	b->mod_rev = b->reassert_rev;
	rc = write_block(t, b);
	if (rc < 0) {
		rec_prefix_fmt(&b->prefix, text, sizeof(text));
		LOG(t, STRATA_LOG_ERR, "block %s: writing it back: %s", text,
		    strerror(-rc));
		release_waiters(t, b, UINT64_MAX, rc,
				"the block could not be written back");
	}
}

void topo_block_reassert(struct topo *t, struct blk *b, int64_t store_rev,
			 bool drop)
{
	b->reassert = drop ? BLK_REASSERT_DROP : BLK_REASSERT_WRITE;
	b->reassert_rev = store_rev;
	if (!b->inflight)
		reassert_now(t, b);
}

/* The store's value of b, after a failed write. */
static void block_reread(struct topo *t, struct blk *b,
			 const struct strata_kv *kv)
{
	struct rec_block rec;

	b->inflight = false;
	if (b->reassert) {
		reassert_now(t, b);
		return;
	}
	if ((!kv && b->mod_rev > 0) || (kv && kv->mod_rev < b->mod_rev)) {
		/* older than what this host wrote: the store went back
		 * (restored from a snapshot). Keep every mark; the re-list
		 * finds out and writes the block back. */
		t->suspect_back = true;
		sync_relist(t);
		return;
	}
	if (kv)
		apply_block_value(t, b, kv->value, kv->value_len, kv->mod_rev);
	else
		apply_block_value(t, b, NULL, 0, 0);
	if (!kv || rec_block_parse(kv->value, kv->value_len, &rec) < 0) {
		topo_block_lost(t, b);
		return;
	}
	if (strcmp(rec.host, t->name))
		topo_block_lost(t, b);
	else
		topo_block_adopt(t, b, &rec, kv->mod_rev);
	rec_block_free(&rec);
}

static void reread_done(void *arg, int err, int64_t rev,
			const struct strata_kv *kvs, size_t n)
{
	struct write_ctx *c = arg;

	if (err) {
		/* keep it out of use; a later watch event or restart heals */
		LOG(c->t, STRATA_LOG_ERR, "re-reading a block failed: %s",
		    strerror(-err));
		c->b->inflight = false;
		release_waiters(c->t, c->b, UINT64_MAX, err,
				"the block could not be re-read");
		if (c->b->reassert)
			reassert_now(c->t, c->b);
	} else {
		block_reread(c->t, c->b, n ? &kvs[0] : NULL);
	}
	topo_kick(c->t);
	free(c);
	(void)rev;
}

static void write_done(void *arg, int err,
		       const struct strata_store_txn_result *res)
{
	struct write_ctx *c = arg;
	struct topo *t = c->t;
	struct blk *b = c->b;
	char key[sizeof(REC_BLOCK) + REC_PREFIX_STR];

	if (!err)
		topo_seen(t, res->revision);
	if (!err && res->succeeded) {
		b->inflight = false;
		b->reassert = BLK_REASSERT_NONE; /* it holds this host's marks */
		b->seq_done = b->seq_sent;
		b->mod_rev = res->revision;
		apply_block_value(t, b, c->value, c->len, res->revision);
		release_waiters(t, b, b->seq_done, 0, NULL);
		topo_metrics(t);
		topo_kick(t);
		goto free_ctx;
	}
	if (!err) {
		const struct strata_store_op_result *r = &res->results[0];

		block_reread(t, b, r->n_kvs ? &r->kvs[0] : NULL);
		topo_kick(t);
		goto free_ctx;
	}
	/* the outcome is unknown (or the write failed): fail what it carried
	 * and everything after it, then take the store's value */
	LOG(t, STRATA_LOG_WARNING, "block write failed: %s", strerror(-err));
	release_waiters(t, b, UINT64_MAX, err, "the store write failed");
	free(c->value);
	c->value = NULL;
	state_key(key, sizeof(key), REC_BLOCK, &b->prefix);
	if (t->host->store_get(t->inst, key, 0, reread_done, c) < 0) {
		b->inflight = false;
		free(c);
	}
	return;
free_ctx:
	free(c->value);
	free(c);
}

static int write_block(struct topo *t, struct blk *b)
{
	char key[sizeof(REC_BLOCK) + REC_PREFIX_STR];
	struct rec_block rec;
	struct write_ctx *c;
	int rc;

	blk_prune(b, topo_wall_ms(), t->cooldown_ms);
	blk_record(b, t->name, &rec);
	if (!rec.host[0])
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c) {
		blk_record_free(&rec);
		return -ENOMEM;
	}
	c->t = t;
	c->b = b;
	rc = rec_block_encode(&rec, &c->value, &c->len);
	blk_record_free(&rec);
	if (rc < 0)
		goto free_ctx;
	state_key(key, sizeof(key), REC_BLOCK, &b->prefix);
	{
		struct strata_store_cmp cmp = {
			.key = key,
			.target = STRATA_CMP_MOD,
			.result = STRATA_CMP_EQUAL,
			.num = b->mod_rev,
		};
		struct strata_store_op put = {
			.type = STRATA_OP_PUT,
			.key = key,
			.value = c->value,
			.value_len = c->len,
		};
		struct strata_store_op get = {
			.type = STRATA_OP_RANGE,
			.key = key,
		};
		struct strata_store_txn txn = {
			.cmp = &cmp,
			.n_cmp = 1,
			.success = &put,
			.n_success = 1,
			.failure = &get,
			.n_failure = 1,
		};

		rc = t->host->store_txn(t->inst, &txn, write_done, c);
	}
	if (rc < 0)
		goto free_ctx;
	b->seq_sent = b->seq_marked;
	b->inflight = true;
	return 0;
free_ctx:
	free(c->value);
	free(c);
	return rc;
}

/* ---- listing handles ----------------------------------------------------- */

struct list_item {
	char *handle;
	int fam;
	struct strata_prefix addr;
};

static int cmp_item(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;
	int c = strcmp(x->handle, y->handle);

	if (c)
		return c;
	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	return memcmp(x->addr.addr, y->addr.addr, sizeof(x->addr.addr));
}

static void items_free(struct list_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i].handle);
	free(items);
}

/* This host's handles beginning with prefix, sorted, copied: the callbacks
 * may allocate and release while they run. */
static int list_snapshot(const struct topo *t, const char *prefix,
			 struct list_item **out, size_t *n_out)
{
	size_t plen = strlen(prefix), n = 0, cap = 0, i;
	struct list_item *items = NULL, *v;
	const struct blk *b;

	for (b = t->blocks; b; b = b->next) {
		for (i = 0; i < b->n_used; i++) {
			const struct blk_used *u = &b->used[i];

			if (strncmp(u->handle, prefix, plen))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				v = realloc(items, cap * sizeof(*v));
				if (!v)
					goto free_items;
				items = v;
			}
			items[n].handle = strdup(u->handle);
			if (!items[n].handle)
				goto free_items;
			items[n].fam = b->fam;
			blk_addr(b, u->offset, &items[n].addr);
			n++;
		}
	}
	if (n)
		qsort(items, n, sizeof(*items), cmp_item);
	*out = items;
	*n_out = n;
	return 0;
free_items:
	items_free(items, n);
	return -ENOMEM;
}

static void serve_list(struct topo *t, struct list_req *l)
{
	struct strata_prefix *addrs;
	struct list_item *items;
	size_t n, i, run_start;

	if (t->phase == PH_MISMATCH) {
		l->done(l->arg, -ESTALE, t->mismatch_text);
		return;
	}
	if (list_snapshot(t, l->prefix, &items, &n) < 0) {
		l->done(l->arg, -ENOMEM, "out of memory");
		return;
	}
	addrs = n ? malloc(n * sizeof(*addrs)) : NULL;
	if (n && !addrs) {
		items_free(items, n);
		l->done(l->arg, -ENOMEM, "out of memory");
		return;
	}
	/* a handle's addresses (both families) in one call */
	for (i = 0; i < n; i++)
		addrs[i] = items[i].addr;
	for (run_start = 0, i = 1; i <= n; i++) {
		if (i < n && !strcmp(items[i].handle, items[run_start].handle))
			continue;
		l->cb(l->arg, items[run_start].handle, &addrs[run_start],
		      (uint32_t)(i - run_start));
		run_start = i;
	}
	free(addrs);
	items_free(items, n);
	l->done(l->arg, 0, NULL);
}

static void list_free(struct list_req *l)
{
	free(l->prefix);
	free(l);
}

/* The list ops queued so far; those queued meanwhile wait for the next
 * run. */
static void serve_lists(struct topo *t)
{
	struct list_req *l = t->lists, *next;

	t->lists = NULL;
	t->lists_tail = &t->lists;
	for (; l; l = next) {
		next = l->next;
		serve_list(t, l);
		list_free(l);
	}
}

static int topo_list(void *self, const char *prefix, strata_ipam_list_cb cb,
		     strata_done_cb done, void *arg)
{
	struct topo *t = self;
	struct list_req *l;

	if (!cb || !done)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->prefix = strdup(prefix ? prefix : "");
	if (!l->prefix) {
		free(l);
		return -ENOMEM;
	}
	l->cb = cb;
	l->done = done;
	l->arg = arg;
	*t->lists_tail = l;
	t->lists_tail = &l->next;
	/* answered from the loop, once the store has been read */
	if (t->viewable)
		topo_kick(t);
	return 0;
}

static void run(void *arg)
{
	struct topo *t = arg;
	struct blk *b;
	struct req *r;
	int rc;

	t->kicked = false;
	for (b = t->blocks; b; b = b->next) {
		if (b->inflight || !blk_dirty(b))
			continue;
		rc = write_block(t, b);
		if (rc < 0) {
			/* nothing was sent: what it would carry fails */
			LOG(t, STRATA_LOG_ERR, "block write not sent: %s",
			    strerror(-rc));
			b->seq_sent = b->seq_marked;
			release_waiters(t, b, b->seq_sent, rc,
					"the store write could not be sent");
		}
	}
	while ((r = q_pop(&t->done))) {
		complete(t, r);
		req_free(r);
	}
	if (t->viewable)
		serve_lists(t);
}

void topo_kick(struct topo *t)
{
	if (t->kicked)
		return;
	if (t->host->defer(t->inst, run, t) == 0)
		t->kicked = true;
}

/* ---- serving a request --------------------------------------------------- */

static struct blk_used *find_handle(const struct topo *t, int fam,
				    const char *handle, struct blk **in)
{
	uint64_t hash = blk_handle_hash(handle);
	struct blk *b;
	struct blk_used *u;

	for (b = t->blocks; b; b = b->next) {
		if (b->fam != fam)
			continue;
		u = blk_find_hashed(b, handle, hash);
		if (u) {
			*in = b;
			return u;
		}
	}
	return NULL;
}

/* The request's address of family fam, now or once a block is claimed. */
static void serve_fam(struct topo *t, struct req *r, int fam)
{
	int64_t now = topo_wall_ms();
	struct blk_used *u;
	struct blk *b;
	uint64_t off;

	if (r->err)
		return;
	u = find_handle(t, fam, r->handle, &b);
	if (r->release) {
		if (!u)
			return; /* unknown: released already */
		if (blk_release(b, u, now, b->seq_sent + 1) < 0 ||
		    add_waiter(t, b, b->seq_sent + 1, r) < 0)
			req_fail(r, -ENOMEM, "out of memory");
		topo_kick(t);
		return;
	}
	if (u) {
		/* the same handle again: the same address, once durable */
		blk_addr(b, u->offset, &r->addr[fam]);
		r->have[fam] = true;
		if (u->seq <= b->seq_done)
			return;
		if (!b->inflight && u->seq <= b->seq_sent) {
			/* the write that carried it failed and the block could
			 * not be re-read: no write is due, so make one */
			u->seq = b->seq_sent + 1;
			if (u->seq > b->seq_marked)
				b->seq_marked = u->seq;
			topo_kick(t);
		}
		if (add_waiter(t, b, u->seq, r) < 0)
			req_fail(r, -ENOMEM, "out of memory");
		return;
	}
	for (b = t->blocks; b; b = b->next) {
		if (b->fam != fam || strcmp(b->path, t->path) ||
		    !blk_first_free(b, now, t->cooldown_ms, &off))
			continue;
		if (blk_mark(b, off, r->handle, b->seq_sent + 1) < 0 ||
		    add_waiter(t, b, b->seq_sent + 1, r) < 0) {
			req_fail(r, -ENOMEM, "out of memory");
			return;
		}
		blk_addr(b, off, &r->addr[fam]);
		r->have[fam] = true;
		topo_kick(t);
		return;
	}
	/* no room: wait for a new block of this subnet */
	req_hold(r);
	room_push(t, fam, r);
	t->need_block[fam] = true;
	sync_advance(t);
}

static void serve(struct topo *t, struct req *r)
{
	int f;

	req_hold(r);
	if (t->phase == PH_MISMATCH && !r->release)
		req_fail(r, -ESTALE, "%s", t->mismatch_text);
	for (f = 0; f < 2; f++)
		if (r->fams & (1u << f))
			serve_fam(t, r, f);
	req_drop(r);
}

void topo_room(struct topo *t, int fam, int err, const char *text)
{
	struct req *r;
	struct req_queue q = { NULL, &q.head };

	t->need_block[fam] = false;
	/* take the queue as it is: serving may queue again */
	q.head = t->room[fam].head;
	if (q.head)
		q.tail = t->room[fam].tail;
	t->room[fam].head = NULL;
	t->room[fam].tail = &t->room[fam].head;
	while ((r = q.head)) {
		q.head = r->next_room[fam];
		if (err)
			req_fail(r, err, "%s", text);
		else
			serve_fam(t, r, fam);
		req_drop(r);
	}
}

void topo_ready(struct topo *t)
{
	struct req *r;

	while ((r = q_pop(&t->waiting)))
		serve(t, r);
}

static int new_req(struct topo *t, const struct strata_ipam_request *in,
		   bool release, strata_ipam_cb cb, void *arg)
{
	uint32_t want, f;
	struct req *r;

	if (!in || in->size < sizeof(*in) || !in->handle || !*in->handle ||
	    strlen(in->handle) > REC_HANDLE_MAX || !cb || (in->families & ~3u))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->handle = strdup(in->handle);
	if (!r->handle) {
		free(r);
		return -ENOMEM;
	}
	r->t = t;
	r->all_next = t->all;
	if (t->all)
		t->all->all_prev = r;
	t->all = r;
	r->release = release;
	r->cb = cb;
	r->arg = arg;
	want = in->families ? in->families : 3u;
	for (f = 0; f < 2; f++) {
		if (!(want & (1u << f)))
			continue;
		if (t->cfg.family[f])
			r->fams |= 1u << f;
		else if (in->families)
			req_fail(r, -EAFNOSUPPORT,
				 "%s is not configured: no pool of the family",
				 family_name[f]);
	}
	if (!r->fams && !r->err)
		req_fail(r, -EAFNOSUPPORT, "no address family configured");
	if (t->cfg.gateway && !r->err && !release)
		req_fail(r, -EOPNOTSUPP,
			 "this node is a gateway (gateway = true): it has no "
			 "pods and hands out no address");
	if (r->err || release) {
		/* a release never waits for the setup: memory knows */
		if (release && !r->err && t->phase < PH_READY &&
		    t->phase != PH_MISMATCH) {
			q_push(&t->waiting, r);
			return 0;
		}
		req_hold(r);
		if (!r->err)
			for (f = 0; f < 2; f++)
				if (r->fams & (1u << f))
					serve_fam(t, r, (int)f);
		req_drop(r);
		return 0;
	}
	if (t->phase == PH_READY || t->phase == PH_MISMATCH)
		serve(t, r);
	else
		q_push(&t->waiting, r);
	return 0;
}

static int topo_allocate(void *self, const struct strata_ipam_request *req,
			 strata_ipam_cb cb, void *arg)
{
	return new_req(self, req, false, cb, arg);
}

static int topo_release(void *self, const struct strata_ipam_request *req,
			strata_ipam_cb cb, void *arg)
{
	return new_req(self, req, true, cb, arg);
}

/* ---- what the instance reports ------------------------------------------- */

void topo_metrics(struct topo *t)
{
	int64_t now = topo_wall_ms();
	uint64_t used = 0, free_ = 0, n = 0, f;
	struct blk *b;

	for (b = t->blocks; b; b = b->next) {
		n++;
		used += b->n_used;
		if (strcmp(b->path, t->path))
			continue;
		f = blk_free_count(b, now, t->cooldown_ms);
		free_ = free_ + f < free_ ? UINT64_MAX : free_ + f;
	}
	t->host->metric_set(t->inst, "addresses_used", (int64_t)used);
	t->host->metric_set(t->inst, "addresses_free",
			    free_ > INT64_MAX ? INT64_MAX : (int64_t)free_);
	t->host->metric_set(t->inst, "blocks", (int64_t)n);
}

static const char *phase_text(const struct topo *t)
{
	switch (t->phase) {
	case PH_NEW:
		return "stopped";
	case PH_LISTING:
		return "listing";
	case PH_SETUP:
		return "setting up";
	case PH_MISMATCH:
		return "carving mismatch";
	case PH_READY:
		break;
	}
	return "ready";
}

static void topo_status(void *self, struct strata_status *st)
{
	struct topo *t = self;
	int64_t now = topo_wall_ms(), blocks[2] = { 0, 0 };
	uint64_t used = 0, free_ = 0, f;
	struct blk *b;

	for (b = t->blocks; b; b = b->next) {
		blocks[b->fam]++;
		used += b->n_used;
		if (strcmp(b->path, t->path))
			continue;
		f = blk_free_count(b, now, t->cooldown_ms);
		free_ = free_ + f < free_ ? UINT64_MAX : free_ + f;
	}
	t->host->status_str(st, "state", phase_text(t));
	t->host->status_str(st, "path", t->path);
	t->host->status_int(st, "blocks_v4", blocks[TOPO_V4]);
	t->host->status_int(st, "blocks_v6", blocks[TOPO_V6]);
	t->host->status_int(st, "addresses_used", (int64_t)used);
	t->host->status_int(st, "addresses_free",
			    free_ > INT64_MAX ? INT64_MAX : (int64_t)free_);
	if (t->claim_err)
		t->host->status_str(st, "error", t->claim_text);
	if (t->phase == PH_MISMATCH)
		t->host->status_str(st, "error", t->mismatch_text);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t pow2_sat(uint32_t k)
{
	return k >= 64 ? UINT64_MAX : 1ULL << k;
}

/* Blocks of prefix p (of family fi) that overlap a reserved range. */
static uint64_t reserved_in(const struct topo *t, const struct strata_prefix *p,
			    int fi)
{
	const struct topo_config *c = &t->cfg;
	uint64_t total = topo_block_count(c, p), n = 0;
	uint32_t i, j;

	for (i = 0; i < c->n_reserved; i++) {
		const struct strata_prefix *r = &c->reserved[i];
		bool inner = false;

		if (r->family != p->family)
			continue;
		if (rec_prefix_in(p, r))
			return total;
		if (!rec_prefix_in(r, p))
			continue;
		/* a range inside another reserved range counts once */
		for (j = 0; j < c->n_reserved && !inner; j++)
			inner = j != i && rec_prefix_in(r, &c->reserved[j]) &&
				(!rec_prefix_eq(r, &c->reserved[j]) || j < i);
		if (inner)
			continue;
		n = sat_add(n, r->len >= c->block_len[fi] ?
				       1 : pow2_sat(c->block_len[fi] - r->len));
	}
	return n > total ? total : n;
}

static int cmp_node(const void *a, const void *b)
{
	const struct st_node *x = *(const struct st_node *const *)a;
	const struct st_node *y = *(const struct st_node *const *)b;

	return strcmp(x->path, y->path);
}

static int cmp_host(const void *a, const void *b)
{
	const struct st_host *x = *(const struct st_host *const *)a;
	const struct st_host *y = *(const struct st_host *const *)b;

	return strcmp(x->name, y->name);
}

/* Counts of the blocks inside any of the prefixes. */
static void node_counts(const struct topo *t, const struct strata_prefix *p,
			uint32_t n_p, struct st_block **blocks, size_t n_blocks,
			struct strata_topo_node *out)
{
	uint32_t i;
	size_t k;

	for (i = 0; i < n_p; i++) {
		int fi = topo_family_index(p[i].family);

		if (fi < 0)
			continue;
		out->blocks_total =
			sat_add(out->blocks_total, topo_block_count(&t->cfg, &p[i]));
		out->blocks_reserved =
			sat_add(out->blocks_reserved, reserved_in(t, &p[i], fi));
	}
	for (k = 0; k < n_blocks; k++) {
		for (i = 0; i < n_p; i++) {
			if (rec_prefix_in(&blocks[k]->prefix, &p[i])) {
				out->blocks_used++;
				out->addrs_used += blocks[k]->n_used;
				break;
			}
		}
	}
}

static int topo_view(void *self, const struct strata_topo_sink *sink)
{
	struct topo *t = self;
	struct strata_topo_node node;
	struct st_block **blocks;
	struct st_node **nodes;
	struct st_host **hosts;
	size_t n_blocks, n_nodes, n_hosts, i, k;
	int rc = 0;

	if (!sink || sink->size < sizeof(*sink))
		return -EINVAL;
	if (!t->viewable)
		return -EAGAIN;
	blocks = (struct st_block **)smap_values(&t->st.blocks, &n_blocks);
	nodes = (struct st_node **)smap_values(&t->st.nodes, &n_nodes);
	hosts = (struct st_host **)smap_values(&t->st.hosts, &n_hosts);
	if ((!blocks && t->st.blocks.n) || (!nodes && t->st.nodes.n) ||
	    (!hosts && t->st.hosts.n)) {
		rc = -ENOMEM;
		goto free_lists;
	}
	if (n_nodes)
		qsort(nodes, n_nodes, sizeof(*nodes), cmp_node);
	if (n_hosts)
		qsort(hosts, n_hosts, sizeof(*hosts), cmp_host);

	memset(&node, 0, sizeof(node));
	node.size = sizeof(node);
	node.level = "cluster";
	node.path = "";
	node.routed = t->cfg.n_levels == 0;
	node.prefixes = t->cfg.pools;
	node.n_prefixes = t->cfg.n_pools;
	node_counts(t, t->cfg.pools, t->cfg.n_pools, blocks, n_blocks, &node);
	if (sink->node)
		sink->node(sink->arg, &node);
	for (i = 0; i < n_nodes; i++) {
		const struct st_node *n = nodes[i];

		if (n->depth < 1 || n->depth > t->cfg.n_levels)
			continue;
		memset(&node, 0, sizeof(node));
		node.size = sizeof(node);
		node.depth = n->depth;
		node.level = t->cfg.levels[n->depth - 1].fact;
		node.path = n->path;
		node.routed = n->depth == t->cfg.n_levels;
		node.prefixes = n->rec.prefixes;
		node.n_prefixes = n->rec.n_prefixes;
		node_counts(t, n->rec.prefixes, n->rec.n_prefixes, blocks,
			    n_blocks, &node);
		if (sink->node)
			sink->node(sink->arg, &node);
	}
	for (i = 0; i < n_hosts; i++) {
		const struct st_host *h = hosts[i];
		struct strata_topo_blocks hb = {
			.size = sizeof(hb),
			.name = h->name,
			.path = h->rec.path,
			.n_addrs = h->rec.n_addrs,
			.blocks = h->rec.blocks,
			.n_blocks = h->rec.n_blocks,
		};

		memcpy(hb.addrs, h->rec.addrs, sizeof(hb.addrs));
		for (k = 0; k < h->rec.n_blocks; k++) {
			struct st_block *sb =
				state_block(&t->st, &h->rec.blocks[k]);

			if (sb && !strcmp(sb->host, h->name))
				hb.addrs_used += sb->n_used;
		}
		if (sink->host)
			sink->host(sink->arg, &hb);
	}
free_lists:
	free(blocks);
	free(nodes);
	free(hosts);
	return rc;
}

static int topo_carve_op(void *self, const struct strata_topo_host *hosts,
			 size_t n, const struct strata_topo_sink *sink, char *err,
			 size_t errlen)
{
	struct topo *t = self;

	return topo_carve(&t->cfg, hosts, n, sink, err, errlen);
}

static int topo_host_remove(void *self, const char *name, strata_done_cb cb,
			    void *arg)
{
	return sync_host_remove(self, name, cb, arg);
}

static const char *const *topo_wanted(void *self)
{
	struct topo *t = self;

	return t->wanted;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int topo_create(const struct strata_host *host,
		       struct strata_instance *inst, void **self)
{
	char err[TOPO_TEXT];
	struct topo *t;
	uint32_t i, n = 0;
	int rc;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->host = host;
	t->inst = inst;
	rc = topo_config_load(host, inst, &t->cfg, err, sizeof(err));
	if (rc < 0) {
		host->log(inst, STRATA_LOG_ERR, "config: %s", err);
		free(t);
		return rc;
	}
	/* a gateway only reads the carving: it needs no facts */
	for (i = 0; i < t->cfg.n_levels && !t->cfg.gateway; i++)
		t->wanted[n++] = t->cfg.levels[i].fact;
	if (!t->cfg.gateway)
		t->wanted[n++] = "address";
	t->wanted[n] = NULL;
	t->cooldown_ms = t->cfg.cooldown_ns / 1000000;
	q_init(&t->waiting);
	q_init(&t->done);
	q_init(&t->room[0]);
	q_init(&t->room[1]);
	t->lists_tail = &t->lists;
	for (i = 0; i < SRC_N; i++) {
		t->lctx[i].t = t;
		t->lctx[i].src = (int)i;
	}
	*self = t;
	return 0;
}

static const char *fact(void *arg, const char *name)
{
	struct topo *t = arg;

	return t->host->fact_get(t->inst, name);
}

static int topo_start(void *self)
{
	struct topo *t = self;
	char err[TOPO_TEXT];
	const char *name;
	int rc;

	name = t->host->fact_get(t->inst, "name");
	if (!name || !*name || strlen(name) > REC_NAME_MAX ||
	    strchr(name, '/')) {
		LOG(t, STRATA_LOG_ERR,
		    "the node's name (fact \"name\") is missing or invalid");
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	rc = t->cfg.gateway ? 0 :
			      topo_path(&t->cfg, fact, t, t->path,
					sizeof(t->path), err, sizeof(err));
	if (rc < 0) {
		LOG(t, STRATA_LOG_ERR, "%s", err);
		return rc;
	}
	return sync_start(t);
}

static int topo_stop(void *self)
{
	sync_stop(self);
	return 0;
}

static void topo_destroy(void *self)
{
	struct topo *t = self;
	struct blk *b, *next;

	sync_stop(t);
	/* requests never completed are dropped with the instance */
	while (t->all)
		req_free(t->all);
	while (t->lists) {
		struct list_req *l = t->lists;

		t->lists = l->next;
		list_free(l);
	}
	free(t->w);
	for (b = t->blocks; b; b = next) {
		next = b->next;
		blk_free(b);
	}
	state_clear(&t->st);
	free(t);
}

static void topo_status_op(void *self, struct strata_status *st)
{
	topo_status(self, st);
}

static const char *const needs[] = { "address", NULL };

static const struct strata_plugin_ops topo_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = topo_create,
	.start = topo_start,
	.stop = topo_stop,
	.destroy = topo_destroy,
	.status = topo_status_op,
};

static const struct strata_ipam_ops topo_ipam_ops = {
	.size = sizeof(struct strata_ipam_ops),
	.needs_facts = needs,
	.allocate = topo_allocate,
	.release = topo_release,
	.carve = topo_carve_op,
	.view = topo_view,
	.host_remove = topo_host_remove,
	.wanted_facts = topo_wanted,
	.list = topo_list,
};

STRATA_PLUGIN(STRATA_KIND_IPAM, "topology", STRATA_VERSION,
	      "pod addresses in blocks laid over the network's topology",
	      topo_config_keys, &topo_ops, &topo_ipam_ops);
