/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the topology IPAM's store records: any node (or an
 * operator) may write the values under strata/ipam/. The bytes go through
 * every parser (carving, tree node, slot, block, host) and the prefix and
 * address parsers; whatever parses is encoded again and must parse back
 * to the same record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void carving(const uint8_t *data, size_t size)
{
	struct rec_carving c, back;
	struct topo_config cfg;
	char *out, text[512];
	size_t len;

	if (rec_carving_parse(data, size, &c))
		return;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.pools, c.pools, sizeof(cfg.pools));
	cfg.n_pools = c.n_pools;
	memcpy(cfg.levels, c.levels, sizeof(cfg.levels));
	cfg.n_levels = c.n_levels;
	cfg.block_len[0] = c.block_len[0];
	cfg.block_len[1] = c.block_len[1];
	rec_carving_fmt(&c, text, sizeof(text));
	if (rec_carving_encode(&cfg, &out, &len))
		return;
	if (rec_carving_parse(out, len, &back) || !rec_carving_eq(&c, &back))
		abort();
	free(out);
}

static void node(const uint8_t *data, size_t size)
{
	struct rec_node n, back;
	char *out;
	size_t len;
	uint32_t i;

	if (rec_node_parse(data, size, &n) || rec_node_encode(&n, &out, &len))
		return;
	if (rec_node_parse(out, len, &back) ||
	    back.n_prefixes != n.n_prefixes)
		abort();
	for (i = 0; i < n.n_prefixes; i++)
		if (!rec_prefix_eq(&n.prefixes[i], &back.prefixes[i]))
			abort();
	free(out);
}

static void slot(const uint8_t *data, size_t size)
{
	char path[TOPO_PATH_MAX], back[TOPO_PATH_MAX], *out;
	size_t len;

	if (rec_slot_parse(data, size, path, sizeof(path)) ||
	    rec_slot_encode(path, &out, &len))
		return;
	if (rec_slot_parse(out, len, back, sizeof(back)) || strcmp(path, back))
		abort();
	free(out);
}

static void block(const uint8_t *data, size_t size)
{
	struct rec_block b, back;
	char *out;
	size_t len, i;

	if (rec_block_parse(data, size, &b))
		return;
	if (rec_block_encode(&b, &out, &len)) {
		rec_block_free(&b);
		return;
	}
	if (rec_block_parse(out, len, &back) || back.n_used != b.n_used ||
	    back.n_cooling != b.n_cooling || strcmp(back.host, b.host) ||
	    strcmp(back.path, b.path))
		abort();
	for (i = 0; i < b.n_used; i++)
		if (back.used[i].offset != b.used[i].offset ||
		    strcmp(back.used[i].handle, b.used[i].handle))
			abort();
	for (i = 0; i < b.n_cooling; i++)
		if (back.cooling[i].offset != b.cooling[i].offset ||
		    back.cooling[i].released_ms != b.cooling[i].released_ms)
			abort();
	rec_block_free(&back);
	rec_block_free(&b);
	free(out);
}

static void host(const uint8_t *data, size_t size)
{
	struct rec_host h, back;
	char *out;
	size_t len, i;

	if (rec_host_parse(data, size, &h))
		return;
	if (rec_host_encode(&h, &out, &len)) {
		rec_host_free(&h);
		return;
	}
	if (rec_host_parse(out, len, &back) || back.n_blocks != h.n_blocks ||
	    back.n_addrs != h.n_addrs || back.seen_ms != h.seen_ms ||
	    strcmp(back.path, h.path))
		abort();
	for (i = 0; i < h.n_blocks; i++)
		if (!rec_prefix_eq(&h.blocks[i], &back.blocks[i]))
			abort();
	for (i = 0; i < h.n_addrs; i++)
		if (memcmp(&h.addrs[i], &back.addrs[i], sizeof(h.addrs[i])))
			abort();
	rec_host_free(&back);
	rec_host_free(&h);
	free(out);
}

/* The bytes as a prefix and an address text (key suffixes, facts). */
static void texts(const uint8_t *data, size_t size)
{
	struct strata_prefix p, back;
	struct strata_addr a;
	char s[80], out[REC_PREFIX_STR];

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!rec_prefix_parse(s, &p)) {
		rec_prefix_fmt(&p, out, sizeof(out));
		if (rec_prefix_parse(out, &back) || !rec_prefix_eq(&p, &back) ||
		    !rec_prefix_in(&p, &back))
			abort();
	}
	if (!rec_addr_parse(s, &a))
		rec_addr_fmt(&a, out, sizeof(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	carving(data, size);
	node(data, size);
	slot(data, size);
	block(data, size);
	host(data, size);
	texts(data, size);
	return 0;
}
