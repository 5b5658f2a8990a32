/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"

struct blk *blk_new(const struct strata_prefix *prefix, int fam,
		    uint64_t size, const char *path)
{
	struct blk *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->prefix = *prefix;
	b->fam = fam;
	b->size = size;
	snprintf(b->path, sizeof(b->path), "%s", path);
	return b;
}

static void clear(struct blk *b)
{
	size_t i;

	for (i = 0; i < b->n_used; i++)
		free(b->used[i].handle);
	b->n_used = 0;
	b->n_cool = 0;
}

void blk_free(struct blk *b)
{
	if (!b)
		return;
	clear(b);
	free(b->used);
	free(b->cool);
	free(b);
}

static int reserve(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*v, n * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

/* Index of the first entry with offset >= off. */
static size_t used_pos(const struct blk *b, uint64_t off)
{
	size_t lo = 0, hi = b->n_used;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->used[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t cool_pos(const struct blk *b, uint64_t off)
{
	size_t lo = 0, hi = b->n_cool;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->cool[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int cmp_used(const void *a, const void *b)
{
	const struct blk_used *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_cool(const void *a, const void *b)
{
	const struct blk_cool *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int blk_load(struct blk *b, const struct rec_block *rec, int64_t mod_rev)
{
	size_t i, k;

	clear(b);
	if (reserve((void **)&b->used, &b->cap_used, rec->n_used,
		    sizeof(*b->used)) < 0 ||
	    reserve((void **)&b->cool, &b->cap_cool, rec->n_cooling,
		    sizeof(*b->cool)) < 0)
		return -ENOMEM;
	for (i = 0; i < rec->n_used; i++) {
		if (rec->used[i].offset >= b->size)
			continue; /* outside the block: ignore */
		b->used[b->n_used].handle = strdup(rec->used[i].handle);
		if (!b->used[b->n_used].handle)
			return -ENOMEM;
		b->used[b->n_used].hash = blk_handle_hash(rec->used[i].handle);
		b->used[b->n_used].offset = rec->used[i].offset;
		b->used[b->n_used].seq = 0;
		b->n_used++;
	}
	for (i = 0; i < rec->n_cooling; i++) {
		if (rec->cooling[i].offset >= b->size)
			continue;
		b->cool[b->n_cool].offset = rec->cooling[i].offset;
		b->cool[b->n_cool].released_ms = rec->cooling[i].released_ms;
		b->cool[b->n_cool].seq = 0;
		b->n_cool++;
	}
	if (b->n_used > 1)
		qsort(b->used, b->n_used, sizeof(*b->used), cmp_used);
	if (b->n_cool > 1)
		qsort(b->cool, b->n_cool, sizeof(*b->cool), cmp_cool);
	/* an offset listed twice is used once: keep the first handle */
	for (i = k = 0; i < b->n_used; i++) {
		if (k && b->used[k - 1].offset == b->used[i].offset) {
			free(b->used[i].handle);
			continue;
		}
		b->used[k++] = b->used[i];
	}
	b->n_used = k;
	b->mod_rev = mod_rev;
	b->seq_done = b->seq_sent = b->seq_marked = 0;
	b->inflight = false;
	return 0;
}

/* Eight bytes at a time: handles are ~70 bytes and hashed on every
 * request. Only ever compared within this process. */
uint64_t blk_handle_hash(const char *handle)
{
	size_t len = strlen(handle), i;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, handle + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, handle + i, len - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

struct blk_used *blk_find_hashed(const struct blk *b, const char *handle,
				 uint64_t hash)
{
	size_t i;

	for (i = 0; i < b->n_used; i++)
		if (b->used[i].hash == hash &&
		    !strcmp(b->used[i].handle, handle))
			return &b->used[i];
	return NULL;
}

struct blk_used *blk_find(const struct blk *b, const char *handle)
{
	return blk_find_hashed(b, handle, blk_handle_hash(handle));
}

static bool cooling(const struct blk *b, uint64_t off, int64_t now_ms,
		    int64_t cooldown_ms)
{
	size_t i;

	for (i = cool_pos(b, off); i < b->n_cool && b->cool[i].offset == off;
	     i++)
		if (b->cool[i].released_ms + cooldown_ms > now_ms)
			return true;
	return false;
}

bool blk_first_free(const struct blk *b, int64_t now_ms, int64_t cooldown_ms,
		    uint64_t *offset)
{
	uint64_t off = 0;
	size_t i = 0;

	/* walk the gaps between used offsets, skipping cooling ones */
	while (off < b->size) {
		while (i < b->n_used && b->used[i].offset < off)
			i++;
		if (i < b->n_used && b->used[i].offset == off) {
			off++;
			continue;
		}
		if (!cooling(b, off, now_ms, cooldown_ms)) {
			*offset = off;
			return true;
		}
		off++;
	}
	return false;
}

int blk_mark(struct blk *b, uint64_t offset, const char *handle, uint64_t seq)
{
	size_t pos, c;
	char *h;

	if (reserve((void **)&b->used, &b->cap_used, b->n_used + 1,
		    sizeof(*b->used)) < 0)
		return -ENOMEM;
	h = strdup(handle);
	if (!h)
		return -ENOMEM;
	/* a rested cooling entry of this offset is forgotten */
	c = cool_pos(b, offset);
	while (c < b->n_cool && b->cool[c].offset == offset) {
		memmove(&b->cool[c], &b->cool[c + 1],
			(b->n_cool - c - 1) * sizeof(*b->cool));
		b->n_cool--;
	}
	pos = used_pos(b, offset);
	memmove(&b->used[pos + 1], &b->used[pos],
		(b->n_used - pos) * sizeof(*b->used));
	b->used[pos].offset = offset;
	b->used[pos].handle = h;
	b->used[pos].hash = blk_handle_hash(h);
	b->used[pos].seq = seq;
	b->n_used++;
	if (seq > b->seq_marked)
		b->seq_marked = seq;
	return 0;
}

int blk_release(struct blk *b, struct blk_used *u, int64_t now_ms,
		uint64_t seq)
{
	size_t idx = (size_t)(u - b->used), pos;
	uint64_t off = u->offset;

	if (reserve((void **)&b->cool, &b->cap_cool, b->n_cool + 1,
		    sizeof(*b->cool)) < 0)
		return -ENOMEM;
	free(u->handle);
	memmove(&b->used[idx], &b->used[idx + 1],
		(b->n_used - idx - 1) * sizeof(*b->used));
	b->n_used--;
	pos = cool_pos(b, off);
	memmove(&b->cool[pos + 1], &b->cool[pos],
		(b->n_cool - pos) * sizeof(*b->cool));
	b->cool[pos].offset = off;
	b->cool[pos].released_ms = now_ms;
	b->cool[pos].seq = seq;
	b->n_cool++;
	if (seq > b->seq_marked)
		b->seq_marked = seq;
	return 0;
}

void blk_prune(struct blk *b, int64_t now_ms, int64_t cooldown_ms)
{
	size_t i, k;

	for (i = k = 0; i < b->n_cool; i++)
		if (b->cool[i].released_ms + cooldown_ms > now_ms)
			b->cool[k++] = b->cool[i];
	b->n_cool = k;
}

void blk_record(const struct blk *b, const char *host, struct rec_block *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	snprintf(out->host, sizeof(out->host), "%s", host);
	snprintf(out->path, sizeof(out->path), "%s", b->path);
	if (b->n_used)
		out->used = calloc(b->n_used, sizeof(*out->used));
	if (b->n_cool)
		out->cooling = calloc(b->n_cool, sizeof(*out->cooling));
	if ((b->n_used && !out->used) || (b->n_cool && !out->cooling)) {
		blk_record_free(out);
		out->host[0] = '\0';
		return;
	}
	for (i = 0; i < b->n_used; i++) {
		out->used[i].offset = b->used[i].offset;
		out->used[i].handle = b->used[i].handle;
	}
	out->n_used = b->n_used;
	for (i = 0; i < b->n_cool; i++) {
		out->cooling[i].offset = b->cool[i].offset;
		out->cooling[i].released_ms = b->cool[i].released_ms;
	}
	out->n_cooling = b->n_cool;
}

void blk_record_free(struct rec_block *rec)
{
	/* the handles are the block's */
	free(rec->used);
	free(rec->cooling);
	rec->used = NULL;
	rec->cooling = NULL;
	rec->n_used = rec->n_cooling = 0;
}

void blk_addr(const struct blk *b, uint64_t offset, struct strata_prefix *out)
{
	int i = b->prefix.family == STRATA_AF_INET ? 3 : 15;
	unsigned carry = 0;

	*out = b->prefix;
	out->len = b->prefix.family == STRATA_AF_INET ? 32 : 128;
	/* add offset to the address, big-endian */
	for (; i >= 0 && (offset || carry); i--) {
		unsigned v = out->addr[i] + (unsigned)(offset & 0xff) + carry;

		out->addr[i] = (uint8_t)v;
		carry = v >> 8;
		offset >>= 8;
	}
}

uint64_t blk_free_count(const struct blk *b, int64_t now_ms,
			int64_t cooldown_ms)
{
	uint64_t taken = b->n_used;
	size_t i;

	for (i = 0; i < b->n_cool; i++)
		if (b->cool[i].released_ms + cooldown_ms > now_ms)
			taken++;
	return taken >= b->size ? 0 : b->size - taken;
}

bool blk_dirty(const struct blk *b)
{
	return b->seq_marked > b->seq_sent;
}
