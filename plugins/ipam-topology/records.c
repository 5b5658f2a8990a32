/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "records.h"

/* ---- addresses and prefixes --------------------------------------------- */

static size_t family_bytes(uint8_t family)
{
	return family == STRATA_AF_INET ? 4 : 16;
}

void rec_addr_fmt(const struct strata_addr *a, char *buf, size_t len)
{
	int af = a->family == STRATA_AF_INET ? AF_INET : AF_INET6;

	if (!inet_ntop(af, a->addr, buf, (socklen_t)len) && len)
		buf[0] = '\0';
}

int rec_addr_parse(const char *s, struct strata_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = STRATA_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = STRATA_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

void rec_prefix_fmt(const struct strata_prefix *p, char *buf, size_t len)
{
	struct strata_addr a = { .family = p->family };
	char text[INET6_ADDRSTRLEN];

	memcpy(a.addr, p->addr, sizeof(a.addr));
	rec_addr_fmt(&a, text, sizeof(text));
	snprintf(buf, len, "%s/%u", text, p->len);
}

static bool host_bits_clear(const uint8_t *addr, size_t bytes, unsigned len)
{
	size_t i;

	for (i = 0; i < bytes; i++) {
		unsigned first = (unsigned)i * 8;
		uint8_t mask;

		if (first + 8 <= len)
			continue;
		mask = first >= len ? 0xff : (uint8_t)(0xffu >> (len - first));
		if (addr[i] & mask)
			return false;
	}
	return true;
}

int rec_prefix_parse(const char *s, struct strata_prefix *p)
{
	char text[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct strata_addr a;
	unsigned long len;
	size_t n = strlen(s);

	if (n >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, n + 1);
	slash = strchr(text, '/');
	if (!slash || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	*slash = '\0';
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (*end || errno || rec_addr_parse(text, &a) < 0)
		return -EINVAL;
	if (len > family_bytes(a.family) * 8 ||
	    !host_bits_clear(a.addr, family_bytes(a.family), (unsigned)len))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->family = a.family;
	p->len = (uint8_t)len;
	memcpy(p->addr, a.addr, sizeof(p->addr));
	return 0;
}

bool rec_prefix_eq(const struct strata_prefix *a, const struct strata_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, family_bytes(a->family));
}

bool rec_prefix_in(const struct strata_prefix *a, const struct strata_prefix *b)
{
	unsigned i, full;

	if (a->family != b->family || a->len < b->len)
		return false;
	full = b->len / 8;
	for (i = 0; i < full; i++)
		if (a->addr[i] != b->addr[i])
			return false;
	if (b->len % 8) {
		uint8_t mask = (uint8_t)(0xff00u >> (b->len % 8));

		if ((a->addr[full] & mask) != (b->addr[full] & mask))
			return false;
	}
	return true;
}

/* ---- encoding ------------------------------------------------------------ */

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_int(yajl_gen g, int64_t v)
{
	yajl_gen_integer(g, (long long)v);
}

static void gen_prefixes(yajl_gen g, const struct strata_prefix *p, size_t n)
{
	char buf[REC_PREFIX_STR];
	size_t i;

	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		rec_prefix_fmt(&p[i], buf, sizeof(buf));
		gen_str(g, buf);
	}
	yajl_gen_array_close(g);
}

/* Hands the generator's text over as a malloc'ed string. */
static int gen_finish(yajl_gen g, char **out, size_t *len)
{
	const unsigned char *buf;
	size_t n;
	char *s;

	if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		return -ENOMEM;
	}
	s = malloc(n + 1);
	if (!s) {
		yajl_gen_free(g);
		return -ENOMEM;
	}
	memcpy(s, buf, n);
	s[n] = '\0';
	yajl_gen_free(g);
	*out = s;
	*len = n;
	return 0;
}

void rec_carving_from(const struct topo_config *c, struct rec_carving *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->pools, c->pools, sizeof(out->pools));
	out->n_pools = c->n_pools;
	memcpy(out->levels, c->levels, sizeof(out->levels));
	out->n_levels = c->n_levels;
	out->block_len[0] = c->block_len[0];
	out->block_len[1] = c->block_len[1];
}

int rec_carving_encode(const struct topo_config *c, char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char buf[TOPO_FACT_MAX + 16];
	uint32_t i;

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_str(g, "pools");
	gen_prefixes(g, c->pools, c->n_pools);
	gen_str(g, "levels");
	yajl_gen_array_open(g);
	for (i = 0; i < c->n_levels; i++) {
		snprintf(buf, sizeof(buf), "%s:%u", c->levels[i].fact,
			 c->levels[i].bits);
		gen_str(g, buf);
	}
	yajl_gen_array_close(g);
	gen_str(g, "block_length");
	gen_int(g, c->block_len[TOPO_V4]);
	gen_str(g, "block_length6");
	gen_int(g, c->block_len[TOPO_V6]);
	yajl_gen_map_close(g);
	return gen_finish(g, out, len);
}

int rec_node_encode(const struct rec_node *n, char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_str(g, "prefixes");
	gen_prefixes(g, n->prefixes, n->n_prefixes);
	yajl_gen_map_close(g);
	return gen_finish(g, out, len);
}

int rec_slot_encode(const char *path, char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return -ENOMEM;
	gen_str(g, path);
	return gen_finish(g, out, len);
}

int rec_block_encode(const struct rec_block *b, char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	size_t i;

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_str(g, "host");
	gen_str(g, b->host);
	gen_str(g, "path");
	gen_str(g, b->path);
	gen_str(g, "used");
	yajl_gen_array_open(g);
	for (i = 0; i < b->n_used; i++) {
		yajl_gen_array_open(g);
		gen_int(g, (int64_t)b->used[i].offset);
		gen_str(g, b->used[i].handle);
		yajl_gen_array_close(g);
	}
	yajl_gen_array_close(g);
	gen_str(g, "cooling");
	yajl_gen_array_open(g);
	for (i = 0; i < b->n_cooling; i++) {
		yajl_gen_array_open(g);
		gen_int(g, (int64_t)b->cooling[i].offset);
		gen_int(g, b->cooling[i].released_ms);
		yajl_gen_array_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return gen_finish(g, out, len);
}

int rec_host_encode(const struct rec_host *h, char **out, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char buf[INET6_ADDRSTRLEN];
	uint32_t i;

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gen_str(g, "path");
	gen_str(g, h->path);
	gen_str(g, "addrs");
	yajl_gen_array_open(g);
	for (i = 0; i < h->n_addrs; i++) {
		rec_addr_fmt(&h->addrs[i], buf, sizeof(buf));
		gen_str(g, buf);
	}
	yajl_gen_array_close(g);
	gen_str(g, "blocks");
	gen_prefixes(g, h->blocks, h->n_blocks);
	gen_str(g, "seen");
	gen_int(g, h->seen_ms);
	yajl_gen_map_close(g);
	return gen_finish(g, out, len);
}

/* ---- parsing ------------------------------------------------------------- */

/* The value as a yajl tree; NULL when it is not JSON (or has a NUL). */
static yajl_val tree(const void *buf, size_t len)
{
	yajl_val v;
	char *s;

	if (len > 16 * 1024 * 1024 || memchr(buf, '\0', len))
		return NULL;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	memcpy(s, buf, len);
	s[len] = '\0';
	v = yajl_tree_parse(s, NULL, 0);
	free(s);
	return v;
}

static yajl_val field(yajl_val obj, const char *name)
{
	const char *path[] = { name, NULL };

	return yajl_tree_get(obj, path, yajl_t_any);
}

static bool get_int(yajl_val v, int64_t min, int64_t max, int64_t *out)
{
	long long n;

	if (!v || !YAJL_IS_INTEGER(v))
		return false;
	n = YAJL_GET_INTEGER(v);
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
}

/* A string field copied into buf (len bytes with the NUL); must not be
 * empty when nonempty is set. */
static bool get_str(yajl_val v, char *buf, size_t len, bool nonempty)
{
	size_t n;

	if (!v || !YAJL_IS_STRING(v))
		return false;
	n = strlen(v->u.string);
	if (n >= len || (nonempty && !n))
		return false;
	memcpy(buf, v->u.string, n + 1);
	return true;
}

static bool is_array(yajl_val v, size_t max)
{
	return v && YAJL_IS_ARRAY(v) && v->u.array.len <= max;
}

static bool get_prefix(yajl_val v, struct strata_prefix *p)
{
	return v && YAJL_IS_STRING(v) && !rec_prefix_parse(v->u.string, p);
}

int rec_carving_parse(const void *buf, size_t len, struct rec_carving *c)
{
	yajl_val root = tree(buf, len), a;
	int64_t n;
	size_t i;
	int rc = -EINVAL;

	memset(c, 0, sizeof(*c));
	if (!root || !YAJL_IS_OBJECT(root))
		goto free_root;
	a = field(root, "pools");
	if (!is_array(a, TOPO_MAX_POOLS))
		goto free_root;
	for (i = 0; i < a->u.array.len; i++)
		if (!get_prefix(a->u.array.values[i], &c->pools[i]))
			goto free_root;
	c->n_pools = (uint32_t)a->u.array.len;
	a = field(root, "levels");
	if (!is_array(a, TOPO_MAX_LEVELS))
		goto free_root;
	for (i = 0; i < a->u.array.len; i++) {
		char text[TOPO_FACT_MAX + 16], *colon, *end;
		unsigned long bits;

		if (!get_str(a->u.array.values[i], text, sizeof(text), true))
			goto free_root;
		colon = strrchr(text, ':');
		if (!colon || colon == text || colon - text > TOPO_FACT_MAX ||
		    colon[1] < '0' || colon[1] > '9')
			goto free_root;
		errno = 0;
		bits = strtoul(colon + 1, &end, 10);
		if (*end || errno || bits > 128)
			goto free_root;
		*colon = '\0';
		memcpy(c->levels[i].fact, text, (size_t)(colon - text) + 1);
		c->levels[i].bits = (uint32_t)bits;
	}
	c->n_levels = (uint32_t)a->u.array.len;
	if (!get_int(field(root, "block_length"), 0, 32, &n))
		goto free_root;
	c->block_len[TOPO_V4] = (uint32_t)n;
	if (!get_int(field(root, "block_length6"), 0, 128, &n))
		goto free_root;
	c->block_len[TOPO_V6] = (uint32_t)n;
	rc = 0;
free_root:
	yajl_tree_free(root);
	if (rc)
		memset(c, 0, sizeof(*c));
	return rc;
}

int rec_node_parse(const void *buf, size_t len, struct rec_node *n)
{
	yajl_val root = tree(buf, len), a;
	size_t i;
	int rc = -EINVAL;

	memset(n, 0, sizeof(*n));
	if (!root || !YAJL_IS_OBJECT(root))
		goto free_root;
	a = field(root, "prefixes");
	if (!is_array(a, TOPO_MAX_POOLS))
		goto free_root;
	for (i = 0; i < a->u.array.len; i++)
		if (!get_prefix(a->u.array.values[i], &n->prefixes[i]))
			goto free_root;
	n->n_prefixes = (uint32_t)a->u.array.len;
	rc = 0;
free_root:
	yajl_tree_free(root);
	if (rc)
		memset(n, 0, sizeof(*n));
	return rc;
}

int rec_slot_parse(const void *buf, size_t len, char *path, size_t path_len)
{
	yajl_val root = tree(buf, len);
	int rc = -EINVAL;

	if (root && get_str(root, path, path_len, true))
		rc = 0;
	yajl_tree_free(root);
	return rc;
}

void rec_block_free(struct rec_block *b)
{
	size_t i;

	for (i = 0; i < b->n_used; i++)
		free(b->used[i].handle);
	free(b->used);
	free(b->cooling);
	b->used = NULL;
	b->cooling = NULL;
	b->n_used = b->n_cooling = 0;
}

/* [offset, x] pairs */
static yajl_val pair(yajl_val v, int64_t *offset)
{
	if (!is_array(v, 2) || v->u.array.len != 2 ||
	    !get_int(v->u.array.values[0], 0, INT64_MAX, offset))
		return NULL;
	return v->u.array.values[1];
}

int rec_block_parse(const void *buf, size_t len, struct rec_block *b)
{
	yajl_val root = tree(buf, len), a, x;
	int64_t off, ms;
	size_t i;
	int rc = -EINVAL;

	memset(b, 0, sizeof(*b));
	if (!root || !YAJL_IS_OBJECT(root) ||
	    !get_str(field(root, "host"), b->host, sizeof(b->host), true) ||
	    !get_str(field(root, "path"), b->path, sizeof(b->path), false))
		goto free_root;
	a = field(root, "used");
	if (!is_array(a, REC_LIST_MAX))
		goto free_root;
	if (a->u.array.len) {
		b->used = calloc(a->u.array.len, sizeof(*b->used));
		if (!b->used) {
			rc = -ENOMEM;
			goto free_root;
		}
	}
	for (i = 0; i < a->u.array.len; i++) {
		x = pair(a->u.array.values[i], &off);
		if (!x || !YAJL_IS_STRING(x) ||
		    strlen(x->u.string) > REC_HANDLE_MAX)
			goto free_root;
		b->used[i].handle = strdup(x->u.string);
		if (!b->used[i].handle) {
			rc = -ENOMEM;
			goto free_root;
		}
		b->used[i].offset = (uint64_t)off;
		b->n_used++;
	}
	a = field(root, "cooling");
	if (!is_array(a, REC_LIST_MAX))
		goto free_root;
	if (a->u.array.len) {
		b->cooling = calloc(a->u.array.len, sizeof(*b->cooling));
		if (!b->cooling) {
			rc = -ENOMEM;
			goto free_root;
		}
	}
	for (i = 0; i < a->u.array.len; i++) {
		x = pair(a->u.array.values[i], &off);
		if (!x || !get_int(x, 0, INT64_MAX, &ms))
			goto free_root;
		b->cooling[i].offset = (uint64_t)off;
		b->cooling[i].released_ms = ms;
		b->n_cooling++;
	}
	rc = 0;
free_root:
	yajl_tree_free(root);
	if (rc)
		rec_block_free(b);
	return rc;
}

void rec_host_free(struct rec_host *h)
{
	free(h->blocks);
	h->blocks = NULL;
	h->n_blocks = 0;
}

int rec_host_parse(const void *buf, size_t len, struct rec_host *h)
{
	yajl_val root = tree(buf, len), a;
	size_t i;
	int rc = -EINVAL;

	memset(h, 0, sizeof(*h));
	if (!root || !YAJL_IS_OBJECT(root) ||
	    !get_str(field(root, "path"), h->path, sizeof(h->path), false) ||
	    !get_int(field(root, "seen"), 0, INT64_MAX, &h->seen_ms))
		goto free_root;
	a = field(root, "addrs");
	if (!is_array(a, STRATA_TOPO_MAX_ADDRS))
		goto free_root;
	for (i = 0; i < a->u.array.len; i++) {
		yajl_val s = a->u.array.values[i];

		if (!YAJL_IS_STRING(s) ||
		    rec_addr_parse(s->u.string, &h->addrs[i]) < 0)
			goto free_root;
	}
	h->n_addrs = (uint32_t)a->u.array.len;
	a = field(root, "blocks");
	if (!is_array(a, REC_LIST_MAX))
		goto free_root;
	if (a->u.array.len) {
		h->blocks = calloc(a->u.array.len, sizeof(*h->blocks));
		if (!h->blocks) {
			rc = -ENOMEM;
			goto free_root;
		}
	}
	for (i = 0; i < a->u.array.len; i++)
		if (!get_prefix(a->u.array.values[i], &h->blocks[i]))
			goto free_root;
	h->n_blocks = a->u.array.len;
	rc = 0;
free_root:
	yajl_tree_free(root);
	if (rc)
		rec_host_free(h);
	return rc;
}

/* ---- the carving --------------------------------------------------------- */

static bool levels_eq(const struct rec_carving *a, const struct rec_carving *b)
{
	uint32_t i;

	if (a->n_levels != b->n_levels || a->block_len[0] != b->block_len[0] ||
	    a->block_len[1] != b->block_len[1])
		return false;
	for (i = 0; i < a->n_levels; i++)
		if (a->levels[i].bits != b->levels[i].bits ||
		    strcmp(a->levels[i].fact, b->levels[i].fact))
			return false;
	return true;
}

static bool pools_start_with(const struct rec_carving *a,
			     const struct rec_carving *b)
{
	uint32_t i;

	if (b->n_pools < a->n_pools)
		return false;
	for (i = 0; i < a->n_pools; i++)
		if (!rec_prefix_eq(&a->pools[i], &b->pools[i]))
			return false;
	return true;
}

bool rec_carving_eq(const struct rec_carving *a, const struct rec_carving *b)
{
	return levels_eq(a, b) && a->n_pools == b->n_pools &&
	       pools_start_with(a, b);
}

bool rec_carving_grows(const struct rec_carving *a, const struct rec_carving *b)
{
	return levels_eq(a, b) && b->n_pools > a->n_pools &&
	       pools_start_with(a, b);
}

void rec_carving_fmt(const struct rec_carving *c, char *buf, size_t len)
{
	char p[REC_PREFIX_STR];
	size_t used = 0;
	uint32_t i;

#define PUT(...)                                                          \
	do {                                                              \
		int n_ = snprintf(buf + used, len - used, __VA_ARGS__);   \
		if (n_ < 0 || (size_t)n_ >= len - used)                   \
			return;                                           \
		used += (size_t)n_;                                       \
	} while (0)
	if (!len)
		return;
	buf[0] = '\0';
	PUT("pools [");
	for (i = 0; i < c->n_pools; i++) {
		rec_prefix_fmt(&c->pools[i], p, sizeof(p));
		PUT("%s%s", i ? ", " : "", p);
	}
	PUT("] levels [");
	for (i = 0; i < c->n_levels; i++)
		PUT("%s%s:%u", i ? ", " : "", c->levels[i].fact,
		    c->levels[i].bits);
	PUT("] blocks /%u /%u", c->block_len[TOPO_V4], c->block_len[TOPO_V6]);
#undef PUT
}
