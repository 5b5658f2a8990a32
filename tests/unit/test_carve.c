/* SPDX-License-Identifier: Apache-2.0 */
/* The topology carving: config, prefix arithmetic and the planner. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <strata/plugin.h>

#include "carve.h"
#include "mock_host.h"

#define S_NS 1000000000LL

/* -- helpers -------------------------------------------------------------- */

static struct strata_prefix P(const char *text)
{
	struct strata_prefix p;
	char buf[80], *slash;

	memset(&p, 0, sizeof(p));
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1) {
		p.family = STRATA_AF_INET;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, buf, p.addr), 1);
		p.family = STRATA_AF_INET6;
	}
	p.len = (uint8_t)atoi(slash + 1);
	return p;
}

static const char *T(const struct strata_prefix *p)
{
	static char bufs[8][64];
	static unsigned next;
	char *b = bufs[next++ % 8], a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6, p->addr, a,
		  sizeof(a));
	snprintf(b, 64, "%s/%u", a, (unsigned)p->len);
	return b;
}

static bool contains(const struct strata_prefix *o,
		     const struct strata_prefix *i)
{
	unsigned b, bits = i->len < o->len ? 0 : o->len;

	if (o->family != i->family || i->len < o->len)
		return false;
	for (b = 0; b < bits; b++) {
		unsigned m = 0x80u >> (b % 8);

		if ((o->addr[b / 8] & m) != (i->addr[b / 8] & m))
			return false;
	}
	return true;
}

static bool overlap(const struct strata_prefix *a,
		    const struct strata_prefix *b)
{
	return contains(a, b) || contains(b, a);
}

/*
 * Loads a config from key/value pairs ending in NULL. STRINGS values are
 * comma-separated ("" is the empty list), INT decimal, DURATION in ns.
 */
static int load(struct topo_config *c, char *err, size_t errlen, ...)
{
	struct mock_host *mh = mock_host_new();
	const struct strata_cfg_key *k;
	const char *key, *val;
	va_list ap;
	int rc;

	ck_assert_ptr_nonnull(mh);
	va_start(ap, errlen);
	while ((key = va_arg(ap, const char *))) {
		val = va_arg(ap, const char *);
		for (k = topo_config_keys; k->name; k++)
			if (!strcmp(k->name, key))
				break;
		ck_assert_ptr_nonnull(k->name);
		if (k->type == STRATA_CFG_STRINGS) {
			char *dup = strdup(val), *save = NULL, *tok;
			const char *items[100];
			size_t n = 0;

			for (tok = strtok_r(dup, ",", &save); tok && n < 100;
			     tok = strtok_r(NULL, ",", &save))
				items[n++] = tok;
			ck_assert_int_eq(mock_host_set_cfg_strings(mh, key,
								   items, n),
					 0);
			free(dup);
		} else if (k->type == STRATA_CFG_INT) {
			mock_host_set_cfg_int(mh, key, strtoll(val, NULL, 10));
		} else {
			mock_host_set_cfg_duration(mh, key,
						   strtoll(val, NULL, 10));
		}
	}
	va_end(ap);
	ck_assert_int_eq(mock_host_set_schema(mh, topo_config_keys), 0);
	err[0] = '\0';
	rc = topo_config_load(mock_host_table(mh), mock_instance(mh), c, err,
			      errlen);
	mock_host_free(mh);
	return rc;
}

#define LOAD_OK(c, ...)                                                 \
	do {                                                            \
		char err_[512];                                         \
		int rc_ = load((c), err_, sizeof(err_), __VA_ARGS__, NULL); \
		ck_assert_msg(rc_ == 0, "load: %d %s", rc_, err_);      \
	} while (0)

/* What the sink saw. */
struct rnode {
	struct strata_topo_node n;
	char level[TOPO_FACT_MAX + 1];
	char path[TOPO_PATH_MAX];
	struct strata_prefix pfx[TOPO_MAX_POOLS];
};

struct rhost {
	struct strata_topo_blocks h;
	char name[64];
	char path[TOPO_PATH_MAX];
	struct strata_prefix *blocks;
};

struct rec {
	struct rnode *nodes;
	size_t n_nodes;
	struct rhost *hosts;
	size_t n_hosts;
	bool node_after_host;
};

static void on_node(void *arg, const struct strata_topo_node *n)
{
	struct rec *r = arg;
	struct rnode *x;

	if (!(r->n_nodes & (r->n_nodes - 1))) {
		r->nodes = realloc(r->nodes,
				   (r->n_nodes ? 2 * r->n_nodes : 1) *
					   sizeof(*r->nodes));
		ck_assert_ptr_nonnull(r->nodes);
	}
	x = &r->nodes[r->n_nodes++];
	memset(x, 0, sizeof(*x));
	x->n = *n;
	snprintf(x->level, sizeof(x->level), "%s", n->level);
	snprintf(x->path, sizeof(x->path), "%s", n->path);
	ck_assert_uint_le(n->n_prefixes, TOPO_MAX_POOLS);
	memcpy(x->pfx, n->prefixes, n->n_prefixes * sizeof(*x->pfx));
	x->n.level = x->level;
	x->n.path = x->path;
	x->n.prefixes = NULL;
	if (r->n_hosts)
		r->node_after_host = true;
}

static void on_host(void *arg, const struct strata_topo_blocks *h)
{
	struct rec *r = arg;
	struct rhost *x;

	if (!(r->n_hosts & (r->n_hosts - 1))) {
		r->hosts = realloc(r->hosts,
				   (r->n_hosts ? 2 * r->n_hosts : 1) *
					   sizeof(*r->hosts));
		ck_assert_ptr_nonnull(r->hosts);
	}
	x = &r->hosts[r->n_hosts++];
	memset(x, 0, sizeof(*x));
	x->h = *h;
	snprintf(x->name, sizeof(x->name), "%s", h->name);
	snprintf(x->path, sizeof(x->path), "%s", h->path);
	x->blocks = calloc(h->n_blocks ? h->n_blocks : 1, sizeof(*x->blocks));
	ck_assert_ptr_nonnull(x->blocks);
	memcpy(x->blocks, h->blocks, h->n_blocks * sizeof(*x->blocks));
	x->h.name = x->name;
	x->h.path = x->path;
	x->h.blocks = NULL;
}

static void rec_free(struct rec *r)
{
	size_t i;

	for (i = 0; i < r->n_hosts; i++)
		free(r->hosts[i].blocks);
	free(r->hosts);
	free(r->nodes);
	memset(r, 0, sizeof(*r));
}

static const struct rnode *rec_node(const struct rec *r, const char *path)
{
	size_t i;

	for (i = 0; i < r->n_nodes; i++)
		if (!strcmp(r->nodes[i].path, path))
			return &r->nodes[i];
	ck_abort_msg("no node \"%s\"", path);
	return NULL;
}

static const struct rhost *rec_host(const struct rec *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_hosts; i++)
		if (!strcmp(r->hosts[i].name, name))
			return &r->hosts[i];
	ck_abort_msg("no host \"%s\"", name);
	return NULL;
}

/* Hosts with up to 4 facts each, built in a pool the test frees. */
struct hosts {
	struct strata_topo_host h[512];
	struct strata_fact f[512][4];
	char names[512][32];
	char vals[512][4][40];
	size_t n;
};

/* "zone=a,subnet=1" */
static void add_host(struct hosts *hs, const char *name, const char *facts,
		     uint32_t pods)
{
	struct strata_topo_host *h = &hs->h[hs->n];
	char buf[256], *save = NULL, *tok;
	uint32_t i = 0;

	ck_assert_uint_lt(hs->n, 512);
	memset(h, 0, sizeof(*h));
	h->size = sizeof(*h);
	h->pods = pods;
	snprintf(hs->names[hs->n], sizeof(hs->names[0]), "%s", name);
	h->name = hs->names[hs->n];
	snprintf(buf, sizeof(buf), "%s", facts);
	for (tok = strtok_r(buf, ",", &save); tok && i < 4;
	     tok = strtok_r(NULL, ",", &save), i++) {
		char *eq = strchr(tok, '=');
		char *slot = hs->vals[hs->n][i];

		ck_assert_ptr_nonnull(eq);
		snprintf(slot, 40, "%s", tok);
		slot[eq - tok] = '\0';
		hs->f[hs->n][i].name = slot;
		hs->f[hs->n][i].value = slot + (eq - tok) + 1;
	}
	h->facts = hs->f[hs->n];
	h->n_facts = i;
	h->n_addrs = 1;
	h->addrs[0].family = STRATA_AF_INET;
	h->addrs[0].addr[0] = 192;
	h->addrs[0].addr[1] = 168;
	h->addrs[0].addr[2] = (uint8_t)(hs->n >> 8);
	h->addrs[0].addr[3] = (uint8_t)hs->n;
	hs->n++;
}

static int carve(const struct topo_config *c, const struct hosts *hs,
		 struct rec *r, char *err, size_t errlen)
{
	struct strata_topo_sink sink = {
		.size = sizeof(sink),
		.arg = r,
		.node = on_node,
		.host = on_host,
	};

	memset(r, 0, sizeof(*r));
	err[0] = '\0';
	return topo_carve(c, hs->h, hs->n, &sink, err, errlen);
}

/* -- config ----------------------------------------------------------------- */

START_TEST(test_config_defaults)
{
	struct topo_config c;

	LOAD_OK(&c, "pools", "10.112.0.0/16");
	ck_assert_uint_eq(c.n_pools, 1);
	ck_assert_str_eq(T(&c.pools[0]), "10.112.0.0/16");
	ck_assert_uint_eq(c.n_levels, 2);
	ck_assert_str_eq(c.levels[0].fact, "zone");
	ck_assert_uint_eq(c.levels[0].bits, 2);
	ck_assert_str_eq(c.levels[1].fact, "subnet");
	ck_assert_uint_eq(c.levels[1].bits, 2);
	ck_assert_uint_eq(c.block_len[TOPO_V4], 26);
	ck_assert_uint_eq(c.block_len[TOPO_V6], 122);
	ck_assert_uint_eq(c.n_reserved, 0);
	ck_assert_int_eq(c.cooldown_ns, 30 * S_NS);
	ck_assert_int_eq(c.grace_ns, 0);
	ck_assert(c.family[TOPO_V4]);
	ck_assert(!c.family[TOPO_V6]);

	LOAD_OK(&c, "pools", "10.112.0.0/16,fd00:10::/48", "levels",
		"rack:3", "block_length", "28", "block_length6", "120",
		"reserved", "10.112.0.1,fd00:10::/64", "cooldown", "0",
		"grace", "3600000000000");
	ck_assert(c.family[TOPO_V4] && c.family[TOPO_V6]);
	ck_assert_uint_eq(c.n_levels, 1);
	ck_assert_str_eq(c.levels[0].fact, "rack");
	ck_assert_uint_eq(c.block_len[TOPO_V4], 28);
	ck_assert_uint_eq(c.block_len[TOPO_V6], 120);
	ck_assert_uint_eq(c.n_reserved, 2);
	ck_assert_str_eq(T(&c.reserved[0]), "10.112.0.1/32");
	ck_assert_str_eq(T(&c.reserved[1]), "fd00:10::/64");
	ck_assert_int_eq(c.cooldown_ns, 0);
	ck_assert_int_eq(c.grace_ns, 3600 * S_NS);

	/* the schema's defaults read back as the daemon would apply them */
	ck_assert_str_eq(topo_config_keys[0].name, "pools");
	ck_assert_uint_eq(topo_config_keys[0].flags & STRATA_CFG_REQUIRED,
			  STRATA_CFG_REQUIRED);
}
END_TEST

struct bad {
	const char *k1, *v1, *k2, *v2, *k3, *v3;
	const char *want;
};

static const struct bad bad_configs[] = {
	{ "pools", "10.0.0.0/33", NULL, NULL, NULL, NULL,
	  "pools[0]: \"10.0.0.0/33\" is not a prefix" },
	{ "pools", "10.0.0.0/8,fd00::/129", NULL, NULL, NULL, NULL,
	  "pools[1]: \"fd00::/129\" is not a prefix" },
	{ "pools", "10.0.0.0", NULL, NULL, NULL, NULL,
	  "pools[0]: \"10.0.0.0\" is not a prefix" },
	{ "pools", "10.0.0.0/x", NULL, NULL, NULL, NULL,
	  "pools[0]: \"10.0.0.0/x\" is not a prefix" },
	{ "pools", "zone-a", NULL, NULL, NULL, NULL,
	  "pools[0]: \"zone-a\" is not a prefix" },
	{ "pools", "10.0.0.1/16", NULL, NULL, NULL, NULL,
	  "pools[0]: 10.0.0.1/16 has host bits set (did you mean "
	  "10.0.0.0/16?)" },
	{ "pools", "10.0.0.0/16,10.0.128.0/17", NULL, NULL, NULL, NULL,
	  "pools[1]: 10.0.128.0/17 overlaps pools[0] 10.0.0.0/16" },
	{ "pools", "fd00:1::/64,fd00::/16", NULL, NULL, NULL, NULL,
	  "pools[1]: fd00::/16 overlaps pools[0] fd00:1::/64" },
	{ "pools", "", NULL, NULL, NULL, NULL,
	  "pools: at least one pool is required" },
	{ "pools", "10.1.0.0/16,10.2.0.0/16,10.3.0.0/16,10.4.0.0/16,"
		   "10.5.0.0/16,10.6.0.0/16,10.7.0.0/16,10.8.0.0/16,"
		   "10.9.0.0/16,10.10.0.0/16,10.11.0.0/16,10.12.0.0/16,"
		   "10.13.0.0/16,10.14.0.0/16,10.15.0.0/16,10.16.0.0/16,"
		   "10.17.0.0/16",
	  NULL, NULL, NULL, NULL, "pools: 17 given, at most 16" },
	{ "pools", "10.0.0.0/8", "levels", "zone", NULL, NULL,
	  "levels[0]: \"zone\" is not FACT:BITS" },
	{ "pools", "10.0.0.0/8", "levels", "zone:", NULL, NULL,
	  "levels[0]: \"zone:\" is not FACT:BITS" },
	{ "pools", "10.0.0.0/8", "levels", "zone:2,Subnet:2", NULL, NULL,
	  "levels[1]: fact \"Subnet\" is not 1 to 64 of [a-z0-9-]" },
	{ "pools", "10.0.0.0/8", "levels", ":2", NULL, NULL,
	  "levels[0]: fact \"\" is not 1 to 64 of [a-z0-9-]" },
	{ "pools", "10.0.0.0/8", "levels",
	  "a234567890123456789012345678901234567890123456789012345678901234"
	  "5:2", NULL, NULL, "levels[0]: fact \"a2345" },
	{ "pools", "10.0.0.0/8", "levels", "zone:0", NULL, NULL,
	  "levels[0]: bits \"0\" out of 1..24" },
	{ "pools", "10.0.0.0/8", "levels", "zone:25", NULL, NULL,
	  "levels[0]: bits \"25\" out of 1..24" },
	{ "pools", "10.0.0.0/8", "levels", "zone:2x", NULL, NULL,
	  "levels[0]: bits \"2x\" out of 1..24" },
	{ "pools", "10.0.0.0/8", "levels", "zone:2,subnet:1,zone:1", NULL,
	  NULL, "levels[2]: fact \"zone\" is already levels[0]" },
	{ "pools", "10.0.0.0/8", "levels", "a:1,b:1,c:1,d:1,e:1", NULL, NULL,
	  "levels: 5 given, at most 4" },
	{ "pools", "10.0.0.0/8", "levels", "", NULL, NULL,
	  "levels: at least one level is required" },
	{ "pools", "10.112.0.0/16", "levels", "zone:8,subnet:4", NULL, NULL,
	  "levels: zone:8 + subnet:4 bits below pools[0] 10.112.0.0/16 make "
	  "/28 subnet prefixes, smaller than one /26 block (block_length)" },
	{ "pools", "10.112.0.0/16", "levels", "zone:2,subnet:2",
	  "block_length", "19",
	  "levels: zone:2 + subnet:2 bits below pools[0] 10.112.0.0/16 make "
	  "/20 subnet prefixes, smaller than one /19 block (block_length)" },
	{ "pools", "10.112.0.0/16,fd00::/112", "levels", "zone:8,subnet:8",
	  "block_length", "32",
	  "levels: zone:8 + subnet:8 bits below pools[1] fd00::/112 make "
	  "/128 subnet prefixes, smaller than one /122 block "
	  "(block_length6)" },
	{ "pools", "10.112.0.0/12", "block_length", "33", NULL, NULL,
	  "block_length: 33 out of 16..32" },
	{ "pools", "fd00::/48", "block_length6", "63", NULL, NULL,
	  "block_length6: 63 out of 64..128" },
	{ "pools", "10.0.0.0/16", "reserved", "192.168.0.1", NULL, NULL,
	  "reserved[0]: 192.168.0.1 lies in no pool" },
	{ "pools", "10.0.0.0/16", "reserved", "10.0.0.0/8", NULL, NULL,
	  "reserved[0]: 10.0.0.0/8 lies in no pool" },
	{ "pools", "10.0.0.0/16", "reserved", "10.0.0.1,10.0.0.300", NULL,
	  NULL, "reserved[1]: \"10.0.0.300\" is not an address or a prefix" },
	{ "pools", "10.0.0.0/16", "reserved", "10.0.0.1/24", NULL, NULL,
	  "reserved[0]: 10.0.0.1/24 has host bits set" },
	{ "pools", "10.0.0.0/16", "cooldown", "7200000000000", NULL, NULL,
	  "cooldown: out of 0..1h" },
	{ "pools", "10.0.0.0/16", "grace", "-1", NULL, NULL,
	  "grace: out of 0..365d" },
};

START_TEST(test_config_errors)
{
	const struct bad *b = &bad_configs[_i];
	struct topo_config c;
	char err[512];
	int rc;

	rc = load(&c, err, sizeof(err), b->k1, b->v1, b->k2, b->v2, b->k3,
		  b->v3, NULL);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(err, b->want), "case %d: got \"%s\", want \"%s\"",
		      _i, err, b->want);
	/* a failed load leaves nothing half-read */
	ck_assert_uint_eq(c.n_pools, 0);
}
END_TEST

START_TEST(test_config_reserved_max)
{
	char list[64 * 16 + 32] = "", err[256];
	struct topo_config c;
	int i;

	for (i = 0; i < 64; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s10.0.%d.1", i ? "," : "", i);
	LOAD_OK(&c, "pools", "10.0.0.0/16", "reserved", list);
	ck_assert_uint_eq(c.n_reserved, 64);
	strcat(list, ",10.0.99.1");
	ck_assert_int_eq(load(&c, err, sizeof(err), "pools", "10.0.0.0/16",
			      "reserved", list, NULL),
			 -EINVAL);
	ck_assert_str_eq(err, "reserved: 65 given, at most 64");
}
END_TEST

/* -- arithmetic ------------------------------------------------------------ */

START_TEST(test_math_v4)
{
	struct topo_config c;
	struct strata_prefix pool, zone, subnet, b;

	LOAD_OK(&c, "pools", "10.0.0.0/12,10.112.0.0/16");
	ck_assert_int_eq(topo_family_index(STRATA_AF_INET), TOPO_V4);
	ck_assert_int_eq(topo_family_index(STRATA_AF_INET6), TOPO_V6);
	ck_assert_int_eq(topo_family_index(0), -1);
	ck_assert_uint_eq(topo_len_at(&c, 1, 0), 16);
	ck_assert_uint_eq(topo_len_at(&c, 1, 1), 18);
	ck_assert_uint_eq(topo_len_at(&c, 1, 2), 20);
	ck_assert_uint_eq(topo_len_at(&c, 0, 2), 16);

	pool = c.pools[1];
	ck_assert_int_eq(topo_child(&c, &pool, 1, 3, &zone), 0);
	ck_assert_str_eq(T(&zone), "10.112.192.0/18");
	ck_assert_int_eq(topo_child(&c, &zone, 2, 1, &subnet), 0);
	ck_assert_str_eq(T(&subnet), "10.112.208.0/20");
	ck_assert_int_eq(topo_child(&c, &pool, 1, 4, &zone), -ERANGE);
	ck_assert_int_eq(topo_child(&c, &pool, 0, 0, &zone), -EINVAL);
	ck_assert_int_eq(topo_child(&c, &pool, 3, 0, &zone), -EINVAL);

	ck_assert_uint_eq(topo_block_count(&c, &subnet), 64);
	ck_assert_uint_eq(topo_block_addrs(&c, TOPO_V4), 64);
	ck_assert_int_eq(topo_block_at(&c, &subnet, 0, &b), 0);
	ck_assert_str_eq(T(&b), "10.112.208.0/26");
	ck_assert_int_eq(topo_block_at(&c, &subnet, 63, &b), 0);
	ck_assert_str_eq(T(&b), "10.112.223.192/26");
	ck_assert_uint_eq(topo_block_index(&c, &subnet, &b), 63);
	ck_assert_int_eq(topo_block_at(&c, &subnet, 5, &b), 0);
	ck_assert_str_eq(T(&b), "10.112.209.64/26");
	ck_assert_uint_eq(topo_block_index(&c, &subnet, &b), 5);
	ck_assert_int_eq(topo_block_at(&c, &subnet, 64, &b), -ERANGE);
	/* a block outside the routed prefix has no index */
	b = P("10.112.0.0/26");
	ck_assert_uint_eq(topo_block_index(&c, &subnet, &b), UINT64_MAX);
	b = P("10.112.208.0/27");
	ck_assert_uint_eq(topo_block_index(&c, &subnet, &b), UINT64_MAX);
	/* the whole pool in blocks */
	ck_assert_uint_eq(topo_block_count(&c, &pool), 1024);
	ck_assert_uint_eq(topo_block_count(&c, &c.pools[0]), 1u << 14);
}
END_TEST

START_TEST(test_math_v4_edges)
{
	struct topo_config c;
	struct strata_prefix r, b;

	/* /32 blocks: one address each */
	LOAD_OK(&c, "pools", "10.9.0.0/16", "levels", "rack:8",
		"block_length", "32");
	ck_assert_uint_eq(topo_block_addrs(&c, TOPO_V4), 1);
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 255, &r), 0);
	ck_assert_str_eq(T(&r), "10.9.255.0/24");
	ck_assert_uint_eq(topo_block_count(&c, &r), 256);
	ck_assert_int_eq(topo_block_at(&c, &r, 255, &b), 0);
	ck_assert_str_eq(T(&b), "10.9.255.255/32");
	ck_assert_uint_eq(topo_block_index(&c, &r, &b), 255);
	ck_assert_int_eq(topo_block_at(&c, &r, 256, &b), -ERANGE);

	/* the routed prefix is one block: /16 blocks in /16 subnets */
	LOAD_OK(&c, "pools", "10.0.0.0/8", "levels", "zone:4,subnet:4",
		"block_length", "16");
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 15, &r), 0);
	ck_assert_str_eq(T(&r), "10.240.0.0/12");
	ck_assert_int_eq(topo_child(&c, &r, 2, 15, &r), 0);
	ck_assert_str_eq(T(&r), "10.255.0.0/16");
	ck_assert_uint_eq(topo_block_count(&c, &r), 1);
	ck_assert_uint_eq(topo_block_addrs(&c, TOPO_V4), 65536);
	ck_assert_int_eq(topo_block_at(&c, &r, 0, &b), 0);
	ck_assert_str_eq(T(&b), "10.255.0.0/16");
	ck_assert_int_eq(topo_block_at(&c, &r, 1, &b), -ERANGE);

	/* 0.0.0.0/0 as a pool: the top bit is the first level's */
	LOAD_OK(&c, "pools", "0.0.0.0/0", "levels", "half:1",
		"block_length", "16");
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 1, &r), 0);
	ck_assert_str_eq(T(&r), "128.0.0.0/1");
	ck_assert_uint_eq(topo_block_count(&c, &c.pools[0]), 65536);
	ck_assert_int_eq(topo_block_at(&c, &r, 32767, &b), 0);
	ck_assert_str_eq(T(&b), "255.255.0.0/16");
}
END_TEST

START_TEST(test_math_v6)
{
	struct topo_config c;
	struct strata_prefix zone, r, b;

	LOAD_OK(&c, "pools", "fd00:10::/48", "levels", "zone:4,subnet:12");
	ck_assert(!c.family[TOPO_V4] && c.family[TOPO_V6]);
	ck_assert_uint_eq(topo_len_at(&c, 0, 2), 64);
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 0xf, &zone), 0);
	ck_assert_str_eq(T(&zone), "fd00:10:0:f000::/52");
	ck_assert_int_eq(topo_child(&c, &zone, 2, 0xabc, &r), 0);
	ck_assert_str_eq(T(&r), "fd00:10:0:fabc::/64");
	ck_assert_uint_eq(topo_block_addrs(&c, TOPO_V6), 64);
	ck_assert_uint_eq(topo_block_count(&c, &r), (uint64_t)1 << 58);
	ck_assert_int_eq(topo_block_at(&c, &r, ((uint64_t)1 << 58) - 1, &b),
			 0);
	ck_assert_str_eq(T(&b), "fd00:10:0:fabc:ffff:ffff:ffff:ffc0/122");
	ck_assert_uint_eq(topo_block_index(&c, &r, &b),
			  ((uint64_t)1 << 58) - 1);
	ck_assert_int_eq(topo_block_at(&c, &r, 1, &b), 0);
	ck_assert_str_eq(T(&b), "fd00:10:0:fabc::40/122");
	ck_assert_int_eq(topo_block_at(&c, &r, (uint64_t)1 << 58, &b),
			 -ERANGE);
	/* a /52 holds 2^70 blocks: saturated */
	ck_assert_uint_eq(topo_block_count(&c, &zone), UINT64_MAX);
	ck_assert_uint_eq(topo_block_count(&c, &c.pools[0]), UINT64_MAX);
	/* the high block index bits are not lost when they are zero */
	ck_assert_int_eq(topo_block_at(&c, &zone, 3, &b), 0);
	ck_assert_str_eq(T(&b), "fd00:10:0:f000::c0/122");
	ck_assert_uint_eq(topo_block_index(&c, &zone, &b), 3);
	b = P("fd00:10:0:f100::/122");
	ck_assert_uint_eq(topo_block_index(&c, &zone, &b), UINT64_MAX);
}
END_TEST

START_TEST(test_math_v6_edges)
{
	struct topo_config c;
	struct strata_prefix r, b;

	/* /128 blocks in a /64: 2^64 blocks, saturated; every u64 index
	 * is a block */
	LOAD_OK(&c, "pools", "fd00::/56", "levels", "subnet:8",
		"block_length6", "128");
	ck_assert_uint_eq(topo_block_addrs(&c, TOPO_V6), 1);
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 0xff, &r), 0);
	ck_assert_str_eq(T(&r), "fd00:0:0:ff::/64");
	ck_assert_uint_eq(topo_block_count(&c, &r), UINT64_MAX);
	ck_assert_int_eq(topo_block_at(&c, &r, UINT64_MAX, &b), 0);
	ck_assert_str_eq(T(&b), "fd00::ff:ffff:ffff:ffff:ffff/128");
	ck_assert_uint_eq(topo_block_index(&c, &r, &b), UINT64_MAX - 0);
	ck_assert_int_eq(topo_block_at(&c, &r, 0x1234, &b), 0);
	ck_assert_str_eq(T(&b), "fd00:0:0:ff::1234/128");
	ck_assert_uint_eq(topo_block_index(&c, &r, &b), 0x1234);

	/* routed /128: one block of one address */
	LOAD_OK(&c, "pools", "fd00::/120", "levels", "slot:8",
		"block_length6", "128");
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 255, &r), 0);
	ck_assert_str_eq(T(&r), "fd00::ff/128");
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 256, &r), -ERANGE);
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 7, &r), 0);
	ck_assert_uint_eq(topo_block_count(&c, &r), 1);
	ck_assert_int_eq(topo_block_at(&c, &r, 0, &b), 0);
	ck_assert_str_eq(T(&b), "fd00::7/128");
	ck_assert_int_eq(topo_block_at(&c, &r, 1, &b), -ERANGE);
	ck_assert_uint_eq(topo_block_count(&c, &c.pools[0]), 256);

	/* /64 blocks hold 2^64 addresses: saturated */
	LOAD_OK(&c, "pools", "fd00::/32", "levels", "zone:8,subnet:8",
		"block_length6", "64");
	ck_assert_uint_eq(topo_block_addrs(&c, TOPO_V6), UINT64_MAX);
	ck_assert_uint_eq(topo_block_count(&c, &c.pools[0]), (uint64_t)1 << 32);

	/* ::/0 as a pool */
	LOAD_OK(&c, "pools", "::/0", "levels", "half:1");
	ck_assert_int_eq(topo_child(&c, &c.pools[0], 1, 1, &r), 0);
	ck_assert_str_eq(T(&r), "8000::/1");
	ck_assert_uint_eq(topo_block_count(&c, &r), UINT64_MAX);
	ck_assert_int_eq(topo_block_at(&c, &r, 1, &b), 0);
	ck_assert_str_eq(T(&b), "8000::40/122");
}
END_TEST

START_TEST(test_reserved_blocks)
{
	struct topo_config c;
	struct strata_prefix b;

	LOAD_OK(&c, "pools", "10.0.0.0/16,fd00::/48", "reserved",
		"10.0.0.1,10.0.1.0/24,fd00::5:0/112");
	b = P("10.0.0.0/26");
	ck_assert(topo_block_reserved(&c, &b));
	b = P("10.0.0.64/26");
	ck_assert(!topo_block_reserved(&c, &b));
	b = P("10.0.1.128/26");
	ck_assert(topo_block_reserved(&c, &b));
	b = P("10.0.2.0/26");
	ck_assert(!topo_block_reserved(&c, &b));
	b = P("fd00::5:40/122");
	ck_assert(topo_block_reserved(&c, &b));
	b = P("fd00::6:0/122");
	ck_assert(!topo_block_reserved(&c, &b));
	/* a larger prefix holding a reserved range overlaps it too */
	b = P("10.0.0.0/20");
	ck_assert(topo_block_reserved(&c, &b));
}
END_TEST

/* -- paths ------------------------------------------------------------------ */

static const char *facts_fn(void *arg, const char *name)
{
	const char *const *kv = arg;

	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

START_TEST(test_path)
{
	struct topo_config c;
	char path[TOPO_PATH_MAX], err[256], longv[200];
	const char *ok[] = { "subnet", "subnet-1", "zone", "us-east-1a",
			     NULL };
	const char *none[] = { "subnet", "subnet-1", NULL };
	const char *slash[] = { "zone", "a/b", "subnet", "s", NULL };
	const char *empty[] = { "zone", "a", "subnet", "", NULL };
	const char *toolong[] = { "zone", longv, "subnet", "s", NULL };

	LOAD_OK(&c, "pools", "10.112.0.0/16");
	ck_assert_int_eq(topo_path(&c, facts_fn, (void *)ok, path,
				   sizeof(path), err, sizeof(err)),
			 0);
	ck_assert_str_eq(path, "us-east-1a/subnet-1");
	ck_assert_int_eq(topo_path(&c, facts_fn, (void *)none, path,
				   sizeof(path), err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "no fact \"zone\" (level 1 of levels)");
	ck_assert_int_eq(topo_path(&c, facts_fn, (void *)slash, path,
				   sizeof(path), err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "has a '/'"));
	ck_assert_int_eq(topo_path(&c, facts_fn, (void *)empty, path,
				   sizeof(path), err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "fact \"subnet\" (level 2"));
	ck_assert_ptr_nonnull(strstr(err, "is empty"));
	memset(longv, 'x', 129);
	longv[129] = '\0';
	ck_assert_int_eq(topo_path(&c, facts_fn, (void *)toolong, path,
				   sizeof(path), err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "longer than 128 bytes"));
	longv[128] = '\0';
	ck_assert_int_eq(topo_path(&c, facts_fn, (void *)toolong, path,
				   sizeof(path), err, sizeof(err)),
			 0);
	ck_assert_uint_eq(strlen(path), 130);
	/* a buffer too short is refused, not overrun */
	ck_assert_int_eq(topo_path(&c, facts_fn, (void *)ok, path, 10, err,
				   sizeof(err)),
			 -ENAMETOOLONG);
}
END_TEST

/* -- carving ---------------------------------------------------------------- */

START_TEST(test_carve_dual_stack)
{
	struct topo_config c;
	struct hosts *hs = calloc(1, sizeof(*hs));
	const struct rnode *n;
	const struct rhost *h;
	struct rec r;
	char err[512];

	LOAD_OK(&c, "pools", "10.112.0.0/16,fd00:10::/48");
	add_host(hs, "h3", "zone=b,subnet=1", 10);
	add_host(hs, "h2", "zone=a,subnet=1", 64);
	add_host(hs, "h1", "zone=a,subnet=1", 65);
	add_host(hs, "h4", "subnet=2,zone=a", 0);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	ck_assert(!r.node_after_host);
	ck_assert_uint_eq(r.n_nodes, 1 + 2 + 3);
	ck_assert_uint_eq(r.n_hosts, 4);

	n = &r.nodes[0];
	ck_assert_uint_eq(n->n.depth, 0);
	ck_assert_str_eq(n->level, "cluster");
	ck_assert_str_eq(n->path, "");
	ck_assert_uint_eq(n->n.routed, 0);
	ck_assert_uint_eq(n->n.n_prefixes, 2);
	ck_assert_str_eq(T(&n->pfx[0]), "10.112.0.0/16");
	ck_assert_str_eq(T(&n->pfx[1]), "fd00:10::/48");
	ck_assert_uint_eq(n->n.blocks_total, UINT64_MAX);
	/* h1 2+2, the others 1+1 */
	ck_assert_uint_eq(n->n.blocks_used, 10);
	ck_assert_uint_eq(n->n.addrs_used, 139);

	ck_assert_str_eq(r.nodes[1].path, "a");
	ck_assert_str_eq(r.nodes[2].path, "b");
	ck_assert_str_eq(r.nodes[3].path, "a/1");
	ck_assert_str_eq(r.nodes[4].path, "a/2");
	ck_assert_str_eq(r.nodes[5].path, "b/1");
	n = rec_node(&r, "a");
	ck_assert_uint_eq(n->n.depth, 1);
	ck_assert_str_eq(n->level, "zone");
	ck_assert_uint_eq(n->n.routed, 0);
	ck_assert_uint_eq(n->n.n_prefixes, 2);
	ck_assert_str_eq(T(&n->pfx[0]), "10.112.0.0/18");
	ck_assert_str_eq(T(&n->pfx[1]), "fd00:10::/50");
	ck_assert_uint_eq(n->n.blocks_used, 8);
	ck_assert_uint_eq(n->n.addrs_used, 129);
	n = rec_node(&r, "b");
	ck_assert_str_eq(T(&n->pfx[0]), "10.112.64.0/18");
	ck_assert_str_eq(T(&n->pfx[1]), "fd00:10:0:4000::/50");
	n = rec_node(&r, "a/1");
	ck_assert_uint_eq(n->n.depth, 2);
	ck_assert_str_eq(n->level, "subnet");
	ck_assert_uint_eq(n->n.routed, 1);
	ck_assert_uint_eq(n->n.n_prefixes, 2);
	ck_assert_str_eq(T(&n->pfx[0]), "10.112.0.0/20");
	ck_assert_str_eq(T(&n->pfx[1]), "fd00:10::/52");
	ck_assert_uint_eq(n->n.blocks_total, UINT64_MAX);
	ck_assert_uint_eq(n->n.blocks_used, 6);
	ck_assert_uint_eq(n->n.blocks_reserved, 0);
	n = rec_node(&r, "a/2");
	ck_assert_str_eq(T(&n->pfx[0]), "10.112.16.0/20");
	ck_assert_str_eq(T(&n->pfx[1]), "fd00:10:0:1000::/52");

	/* hosts in tree order, name order inside a routed node */
	ck_assert_str_eq(r.hosts[0].name, "h1");
	ck_assert_str_eq(r.hosts[1].name, "h2");
	ck_assert_str_eq(r.hosts[2].name, "h4");
	ck_assert_str_eq(r.hosts[3].name, "h3");
	h = rec_host(&r, "h1");
	ck_assert_str_eq(h->path, "a/1");
	ck_assert_uint_eq(h->h.addrs_used, 65);
	ck_assert_uint_eq(h->h.n_addrs, 1);
	ck_assert_uint_eq(h->h.addrs[0].addr[3], 2); /* the third added */
	ck_assert_uint_eq(h->h.n_blocks, 4);
	ck_assert_str_eq(T(&h->blocks[0]), "10.112.0.0/26");
	ck_assert_str_eq(T(&h->blocks[1]), "10.112.0.64/26");
	ck_assert_str_eq(T(&h->blocks[2]), "fd00:10::/122");
	ck_assert_str_eq(T(&h->blocks[3]), "fd00:10::40/122");
	h = rec_host(&r, "h2");
	ck_assert_uint_eq(h->h.n_blocks, 2);
	ck_assert_str_eq(T(&h->blocks[0]), "10.112.0.128/26");
	ck_assert_str_eq(T(&h->blocks[1]), "fd00:10::80/122");
	h = rec_host(&r, "h4");
	ck_assert_str_eq(h->path, "a/2");
	ck_assert_uint_eq(h->h.n_blocks, 2);
	ck_assert_str_eq(T(&h->blocks[0]), "10.112.16.0/26");
	ck_assert_str_eq(T(&h->blocks[1]), "fd00:10:0:1000::/122");
	h = rec_host(&r, "h3");
	ck_assert_str_eq(T(&h->blocks[0]), "10.112.64.0/26");
	rec_free(&r);
	free(hs);
}
END_TEST

START_TEST(test_carve_reserved)
{
	struct topo_config c;
	struct hosts *hs = calloc(1, sizeof(*hs));
	const struct rnode *n;
	const struct rhost *h;
	struct rec r;
	char err[512];

	/* the first block, blocks 2..5 and the last of subnet a/1 */
	LOAD_OK(&c, "pools", "10.112.0.0/16", "reserved",
		"10.112.0.1,10.112.0.128/25,10.112.1.0/25,10.112.0.130,"
		"10.112.15.255");
	add_host(hs, "h1", "zone=a,subnet=1", 100);
	add_host(hs, "h2", "zone=a,subnet=1", 10);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	n = rec_node(&r, "a/1");
	ck_assert_uint_eq(n->n.blocks_total, 64);
	ck_assert_uint_eq(n->n.blocks_reserved, 6);
	ck_assert_uint_eq(n->n.blocks_used, 3);
	ck_assert_uint_eq(rec_node(&r, "")->n.blocks_reserved, 6);
	ck_assert_uint_eq(rec_node(&r, "a")->n.blocks_reserved, 6);
	h = rec_host(&r, "h1");
	ck_assert_uint_eq(h->h.n_blocks, 2);
	ck_assert_str_eq(T(&h->blocks[0]), "10.112.0.64/26");
	ck_assert_str_eq(T(&h->blocks[1]), "10.112.1.128/26");
	h = rec_host(&r, "h2");
	ck_assert_str_eq(T(&h->blocks[0]), "10.112.1.192/26");
	rec_free(&r);

	/* 58 free blocks: 29 hosts of 2 fit, 30 do not, and the error
	 * counts the reserved ones */
	hs->n = 0;
	for (int i = 0; i < 29; i++) {
		char name[16];

		snprintf(name, sizeof(name), "h%02d", i);
		add_host(hs, name, "zone=a,subnet=1", 128);
	}
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(T(&rec_host(&r, "h28")->blocks[1]),
			 "10.112.15.128/26");
	rec_free(&r);
	add_host(hs, "h29", "zone=a,subnet=1", 1);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err,
			 "subnet a/1 (10.112.0.0/20) is full: 30 hosts need 59 "
			 "blocks of /26 but it holds 64 (6 reserved); give the "
			 "subnet level fewer bits (a larger prefix) or use a "
			 "larger pool");
	rec_free(&r);
	free(hs);
}
END_TEST

/* Reserved ranges far larger than 2^64 blocks still count and skip. */
START_TEST(test_carve_reserved_huge)
{
	struct topo_config c;
	struct hosts *hs = calloc(1, sizeof(*hs));
	const struct rnode *n;
	const struct rhost *h;
	struct rec r;
	char err[512];

	LOAD_OK(&c, "pools", "fd00::/47", "levels", "subnet:1",
		"block_length6", "128", "reserved",
		"fd00::/64,fd00:0:0:1::5");
	add_host(hs, "h1", "subnet=s0", 3);
	add_host(hs, "h2", "subnet=s0", 3);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	n = rec_node(&r, "s0");
	ck_assert_str_eq(T(&n->pfx[0]), "fd00::/48");
	ck_assert_uint_eq(n->n.blocks_total, UINT64_MAX);
	ck_assert_uint_eq(n->n.blocks_reserved, UINT64_MAX);
	ck_assert_uint_eq(n->n.blocks_used, 6);
	h = rec_host(&r, "h1");
	ck_assert_uint_eq(h->h.n_blocks, 3);
	ck_assert_str_eq(T(&h->blocks[0]), "fd00:0:0:1::/128");
	ck_assert_str_eq(T(&h->blocks[2]), "fd00:0:0:1::2/128");
	h = rec_host(&r, "h2");
	ck_assert_str_eq(T(&h->blocks[0]), "fd00:0:0:1::3/128");
	ck_assert_str_eq(T(&h->blocks[1]), "fd00:0:0:1::4/128");
	ck_assert_str_eq(T(&h->blocks[2]), "fd00:0:0:1::6/128");
	/* beyond 2^64 the index saturates */
	ck_assert_uint_eq(topo_block_index(&c, &n->pfx[0], &h->blocks[0]),
			  UINT64_MAX);
	rec_free(&r);

	/* a routed prefix reserved whole has no room, however large */
	LOAD_OK(&c, "pools", "fd00::/47", "levels", "subnet:1",
		"block_length6", "128", "reserved", "fd00:0:1::1,fd00::/48");
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err,
			 "subnet s0 (fd00::/48) is full: 2 hosts need 6 blocks "
			 "of /128 but it holds 18446744073709551615 "
			 "(18446744073709551615 reserved); give the subnet "
			 "level fewer bits (a larger prefix) or use a larger "
			 "pool");
	rec_free(&r);
	free(hs);
}
END_TEST

START_TEST(test_carve_pools_spill)
{
	struct topo_config c;
	struct hosts *hs = calloc(1, sizeof(*hs));
	const struct rnode *n;
	struct rec r;
	char err[512];

	LOAD_OK(&c, "pools", "10.0.0.0/16,fd00::/48,10.1.0.0/16,fd01::/48",
		"levels", "zone:1,subnet:1");
	add_host(hs, "a1", "zone=a,subnet=1", 0);
	add_host(hs, "a2", "zone=a,subnet=2", 0);
	add_host(hs, "a3", "zone=a,subnet=3", 0);
	add_host(hs, "b1", "zone=b,subnet=1", 0);
	add_host(hs, "c1", "zone=c,subnet=1", 0);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	/* zones a and b fill the first pools, c spills into the next ones */
	n = rec_node(&r, "c");
	ck_assert_uint_eq(n->n.n_prefixes, 2);
	ck_assert_str_eq(T(&n->pfx[0]), "10.1.0.0/17");
	ck_assert_str_eq(T(&n->pfx[1]), "fd01::/49");
	/* a's third subnet makes a take a slot in the later pools too */
	n = rec_node(&r, "a");
	ck_assert_uint_eq(n->n.n_prefixes, 4);
	ck_assert_str_eq(T(&n->pfx[0]), "10.0.0.0/17");
	ck_assert_str_eq(T(&n->pfx[1]), "fd00::/49");
	ck_assert_str_eq(T(&n->pfx[2]), "10.1.128.0/17");
	ck_assert_str_eq(T(&n->pfx[3]), "fd01:0:0:8000::/49");
	ck_assert_uint_eq(n->n.blocks_used, 6);
	n = rec_node(&r, "a/2");
	ck_assert_uint_eq(n->n.n_prefixes, 2);
	ck_assert_str_eq(T(&n->pfx[0]), "10.0.64.0/18");
	ck_assert_str_eq(T(&n->pfx[1]), "fd00:0:0:4000::/50");
	n = rec_node(&r, "a/3");
	ck_assert_uint_eq(n->n.n_prefixes, 2);
	ck_assert_str_eq(T(&n->pfx[0]), "10.1.128.0/18");
	ck_assert_str_eq(T(&n->pfx[1]), "fd01:0:0:8000::/50");
	ck_assert_str_eq(T(&rec_host(&r, "a3")->blocks[0]), "10.1.128.0/26");
	ck_assert_str_eq(T(&rec_host(&r, "a3")->blocks[1]),
			 "fd01:0:0:8000::/122");
	ck_assert_str_eq(T(&rec_node(&r, "b/1")->pfx[0]), "10.0.128.0/18");
	/* the cluster's pools are reported in config order */
	n = rec_node(&r, "");
	ck_assert_uint_eq(n->n.n_prefixes, 4);
	ck_assert_str_eq(T(&n->pfx[2]), "10.1.0.0/16");
	rec_free(&r);
	free(hs);
}
END_TEST

START_TEST(test_carve_level_full)
{
	struct topo_config c;
	struct hosts *hs = calloc(1, sizeof(*hs));
	struct rec r;
	char err[512];
	int i;

	LOAD_OK(&c, "pools", "10.112.0.0/16");
	for (i = 0; i < 5; i++) {
		char name[16], facts[64];

		snprintf(name, sizeof(name), "h%d", i);
		snprintf(facts, sizeof(facts), "zone=z%d,subnet=s", i);
		add_host(hs, name, facts, 0);
	}
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err,
			 "level zone is full: 5 zones need 5 slots but 2 bits "
			 "give 4 per pool and no pool has room (pools: "
			 "10.112.0.0/16); give zone more bits or add a pool");
	ck_assert_uint_eq(r.n_nodes, 0);
	ck_assert_uint_eq(r.n_hosts, 0);
	rec_free(&r);

	/* a second pool takes the fifth zone */
	LOAD_OK(&c, "pools", "10.112.0.0/16,10.113.0.0/16");
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(T(&rec_node(&r, "z4")->pfx[0]), "10.113.0.0/18");
	rec_free(&r);

	/* subnets: five in one zone, one pool */
	LOAD_OK(&c, "pools", "10.112.0.0/16");
	hs->n = 0;
	for (i = 0; i < 5; i++) {
		char name[16], facts[64];

		snprintf(name, sizeof(name), "h%d", i);
		snprintf(facts, sizeof(facts), "zone=us-east-1a,subnet=s%d", i);
		add_host(hs, name, facts, 0);
	}
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err,
			 "level subnet is full in zone us-east-1a: 5 subnets "
			 "need 5 slots but 2 bits give 4 per zone prefix, it "
			 "holds 1 and no pool has room for another (pools: "
			 "10.112.0.0/16); give subnet more bits or add a pool");
	rec_free(&r);

	/* the IPv6 side names its own pools */
	LOAD_OK(&c, "pools", "10.112.0.0/16,10.113.0.0/16,fd00::/48");
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "(pools: fd00::/48)"));
	rec_free(&r);
	free(hs);
}
END_TEST

START_TEST(test_carve_subnet_full)
{
	struct topo_config c;
	struct hosts *hs = calloc(1, sizeof(*hs));
	struct rec r;
	char err[512];
	int i;

	LOAD_OK(&c, "pools", "10.112.0.0/16,fd00::/56", "levels",
		"zone:2,subnet:2", "block_length6", "64");
	for (i = 0; i < 40; i++) {
		char name[16];

		snprintf(name, sizeof(name), "h%02d", i);
		add_host(hs, name, "zone=us-east-1a,subnet=subnet-1", 100);
	}
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err,
			 "subnet us-east-1a/subnet-1 (10.112.0.0/20) is full: "
			 "40 hosts need 80 blocks of /26 but it holds 64 "
			 "(0 reserved); give the subnet level fewer bits (a "
			 "larger prefix) or use a larger pool");
	rec_free(&r);

	/* IPv6: /60 subnets hold 16 /64 blocks, one a host */
	hs->n = 17;
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err,
			 "subnet us-east-1a/subnet-1 (fd00::/60) is full: 17 "
			 "hosts need 17 blocks of /64 but it holds 16 "
			 "(0 reserved); give the subnet level fewer bits (a "
			 "larger prefix) or use a larger pool");
	rec_free(&r);
	hs->n = 16;
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(rec_host(&r, "h15")->h.n_blocks, 3);
	ck_assert_str_eq(T(&rec_host(&r, "h15")->blocks[2]),
			 "fd00:0:0:f::/64");
	rec_free(&r);
	free(hs);
}
END_TEST

START_TEST(test_carve_host_errors)
{
	struct topo_config c;
	struct hosts *hs = calloc(1, sizeof(*hs));
	struct rec r;
	char err[512];

	LOAD_OK(&c, "pools", "10.112.0.0/16");
	add_host(hs, "h0", "zone=a,subnet=1", 0);
	add_host(hs, "h1", "subnet=1", 0);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "host h1: no fact \"zone\" (level 1 of levels)");
	rec_free(&r);

	hs->n = 1;
	add_host(hs, "h2", "zone=a,subnet=x/y", 0);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "host h2: fact \"subnet\""));
	rec_free(&r);

	hs->n = 1;
	add_host(hs, "h0", "zone=b,subnet=1", 0);
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "host h0: listed twice");
	rec_free(&r);

	/* a host needing more blocks than a plan can list */
	hs->n = 0;
	add_host(hs, "big", "zone=a,subnet=1", 65536);
	LOAD_OK(&c, "pools", "10.0.0.0/8,fd00::/48", "levels",
		"zone:1,subnet:1", "block_length6", "128");
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(rec_host(&r, "big")->h.n_blocks, 1024 + 65536);
	rec_free(&r);
	hs->h[0].pods = 65537;
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "host big: 65537 pods need 65537 blocks of /128, "
			      "more than 65536 a host; use larger blocks (a "
			      "shorter block_length6)");
	rec_free(&r);
	LOAD_OK(&c, "pools", "10.112.0.0/16");

	/* no hosts: the cluster alone */
	hs->n = 0;
	ck_assert_int_eq(carve(&c, hs, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.n_nodes, 1);
	ck_assert_uint_eq(r.nodes[0].n.blocks_total, 1024);
	ck_assert_uint_eq(r.n_hosts, 0);
	rec_free(&r);
	free(hs);
}
END_TEST

/* -- properties over random topologies -------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static uint64_t test_seed(void)
{
	const char *s = getenv("STRATA_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed2024u;

	fprintf(stderr, "test_carve: seed %" PRIu64
			" (set STRATA_TEST_SEED to change)\n",
		seed);
	return seed ? seed : 1;
}

/* A text rendering of everything the sink saw, for determinism. */
static void render(const struct rec *r, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);
	size_t i, j;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < r->n_nodes; i++) {
		const struct rnode *n = &r->nodes[i];

		fprintf(f, "node %u %s %s %u %" PRIu64 " %" PRIu64 " %" PRIu64
			   " %" PRIu64,
			n->n.depth, n->level, n->path, n->n.routed,
			n->n.blocks_total, n->n.blocks_used,
			n->n.blocks_reserved, n->n.addrs_used);
		for (j = 0; j < n->n.n_prefixes; j++)
			fprintf(f, " %s", T(&n->pfx[j]));
		fputc('\n', f);
	}
	for (i = 0; i < r->n_hosts; i++) {
		const struct rhost *h = &r->hosts[i];

		fprintf(f, "host %s %s %" PRIu64, h->name, h->path,
			h->h.addrs_used);
		for (j = 0; j < h->h.n_blocks; j++)
			fprintf(f, " %s", T(&h->blocks[j]));
		fputc('\n', f);
	}
	fclose(f);
}

static const struct rnode *node_by_path(const struct rec *r,
					const char *path, uint32_t depth)
{
	size_t i;

	for (i = 0; i < r->n_nodes; i++)
		if (r->nodes[i].n.depth == depth &&
		    !strcmp(r->nodes[i].path, path))
			return &r->nodes[i];
	return NULL;
}

static int pfx_cmp(const void *a, const void *b)
{
	const struct strata_prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* ck_assert_msg formats its message even when it passes: too slow for
 * the inner loops under valgrind */
#define CHECK(cond, ...)                          \
	do {                                      \
		if (!(cond))                      \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* host path lies under node path */
static bool under(const char *host_path, const char *node_path)
{
	size_t len = strlen(node_path);

	return !len || (!strncmp(host_path, node_path, len) &&
			(host_path[len] == '/' || !host_path[len]));
}

/*
 * A node's counts are its hosts' sums; a routed node's blocks are the
 * first free ones from the start of its prefix, in host name order, and
 * its reserved count is what a block-by-block scan finds.
 */
static void check_node_sums(const struct topo_config *c, const struct rec *r,
			    const struct rnode *n)
{
	uint64_t blocks = 0, addrs = 0, reserved = 0;
	bool scanned = true;
	size_t i, j, p;

	for (i = 0; i < r->n_hosts; i++) {
		if (!under(r->hosts[i].path, n->path))
			continue;
		blocks += r->hosts[i].h.n_blocks;
		addrs += r->hosts[i].h.addrs_used;
	}
	ck_assert_uint_eq(n->n.blocks_used, blocks);
	ck_assert_uint_eq(n->n.addrs_used, addrs);
	if (!n->n.routed)
		return;
	for (p = 0; p < n->n.n_prefixes; p++) {
		const struct strata_prefix *rp = &n->pfx[p];
		uint64_t total = topo_block_count(c, rp), next = 0, idx;
		struct strata_prefix b;

		ck_assert_uint_le(total, 1u << 16);
		/* scan the small ones: valgrind makes the large ones slow */
		if (total > 512)
			scanned = false;
		for (idx = 0; scanned && idx < total; idx++) {
			CHECK(!topo_block_at(c, rp, idx, &b), "block %" PRIu64,
			      idx);
			reserved += topo_block_reserved(c, &b);
		}
		/* hosts come in name order inside a routed node */
		for (i = 0; i < r->n_hosts; i++) {
			const struct rhost *h = &r->hosts[i];

			if (strcmp(h->path, n->path))
				continue;
			for (j = 0; j < h->h.n_blocks; j++) {
				if (h->blocks[j].family != rp->family)
					continue;
				idx = topo_block_index(c, rp, &h->blocks[j]);
				/* every block skipped is reserved */
				for (; next < idx; next++) {
					CHECK(!topo_block_at(c, rp, next, &b),
					      "block %" PRIu64, next);
					CHECK(topo_block_reserved(c,
									  &b),
						      "%s: %s left free before "
						      "%s", n->path, T(&b),
						      T(&h->blocks[j]));
				}
				CHECK(idx == next, "%s: %s out of order",
				      n->path, T(&h->blocks[j]));
				next++;
			}
		}
	}
	if (scanned)
		ck_assert_uint_eq(n->n.blocks_reserved, reserved);
}

/* Checks one successful carving against the rules. */
static void check_carving(const struct topo_config *c, const struct hosts *hs,
			  const struct rec *r)
{
	struct strata_prefix *all;
	size_t n_all = 0, i, j, k;
	uint64_t used = 0, pods = 0;

	ck_assert(!r->node_after_host);
	ck_assert_uint_eq(r->n_hosts, hs->n);
	ck_assert_uint_eq(r->nodes[0].n.depth, 0);
	ck_assert_uint_eq(r->nodes[0].n.n_prefixes, c->n_pools);
	for (i = 1; i < r->n_nodes; i++) {
		const struct rnode *n = &r->nodes[i];
		char parent_path[TOPO_PATH_MAX];
		const struct rnode *p;
		char *slash;
		bool fam[2] = { false, false };

		/* parents first, depth by depth */
		ck_assert_uint_ge(n->n.depth, r->nodes[i - 1].n.depth);
		snprintf(parent_path, sizeof(parent_path), "%s", n->path);
		slash = strrchr(parent_path, '/');
		if (slash)
			*slash = '\0';
		else
			parent_path[0] = '\0';
		p = node_by_path(r, parent_path, n->n.depth - 1);
		ck_assert_ptr_nonnull(p);
		ck_assert(p < n);
		ck_assert_uint_eq(n->n.routed, n->n.depth == c->n_levels);
		for (j = 0; j < n->n.n_prefixes; j++) {
			const struct strata_prefix *x = &n->pfx[j];
			bool in = false;
			int f = topo_family_index(x->family);

			ck_assert_int_ge(f, 0);
			if (n->n.routed) {
				CHECK(!fam[f], "%s: two of a family",
					      n->path);
			}
			fam[f] = true;
			for (k = 0; k < p->n.n_prefixes; k++)
				in |= contains(&p->pfx[k], x) &&
				      x->len == p->pfx[k].len +
							c->levels[n->n.depth - 1]
								.bits;
			CHECK(in, "%s %s is in no prefix of its parent",
				      n->path, T(x));
		}
		for (k = 0; k < 2; k++)
			ck_assert(fam[k] == c->family[k]);
		/* no two nodes of a depth overlap */
		for (k = 1; k < i; k++) {
			const struct rnode *o = &r->nodes[k];
			size_t a, b;

			if (o->n.depth != n->n.depth)
				continue;
			for (a = 0; a < n->n.n_prefixes; a++)
				for (b = 0; b < o->n.n_prefixes; b++)
					CHECK(!overlap(&n->pfx[a],
							       &o->pfx[b]),
						      "%s and %s overlap",
						      T(&n->pfx[a]),
						      T(&o->pfx[b]));
		}
	}
	for (i = 0; i < r->n_hosts; i++)
		n_all += r->hosts[i].h.n_blocks;
	all = calloc(n_all ? n_all : 1, sizeof(*all));
	ck_assert_ptr_nonnull(all);
	n_all = 0;
	for (i = 0; i < r->n_hosts; i++) {
		const struct rhost *h = &r->hosts[i];
		const struct rnode *leaf = node_by_path(r, h->path,
							c->n_levels);
		uint64_t per[2] = { 0, 0 };
		const struct strata_topo_host *in = NULL;

		for (j = 0; j < hs->n; j++)
			if (!strcmp(hs->h[j].name, h->name))
				in = &hs->h[j];
		ck_assert_ptr_nonnull(in);
		ck_assert_ptr_nonnull(leaf);
		ck_assert_uint_eq(h->h.addrs_used, in->pods);
		pods += in->pods;
		for (j = 0; j < h->h.n_blocks; j++) {
			const struct strata_prefix *b = &h->blocks[j];
			int f = topo_family_index(b->family);
			bool in_leaf = false;

			CHECK(b->len == c->block_len[f], "%s: %s", h->name,
			      T(b));
			CHECK(!topo_block_reserved(c, b), "%s: %s reserved",
			      h->name, T(b));
			for (k = 0; k < leaf->n.n_prefixes; k++)
				in_leaf |= contains(&leaf->pfx[k], b);
			CHECK(in_leaf, "%s: block %s outside %s",
				      h->name, T(b), h->path);
			per[f]++;
			all[n_all++] = *b;
		}
		for (k = 0; k < 2; k++) {
			uint64_t a = topo_block_addrs(c, (int)k), want;

			want = in->pods / a + (in->pods % a != 0);
			if (!want)
				want = 1;
			ck_assert_uint_eq(per[k], c->family[k] ? want : 0);
		}
		used += h->h.n_blocks;
	}
	/* the blocks of a family share one length: overlapping is equal */
	qsort(all, n_all, sizeof(*all), pfx_cmp);
	for (i = 1; i < n_all; i++)
		CHECK(pfx_cmp(&all[i - 1], &all[i]),
			      "block %s taken twice", T(&all[i]));
	ck_assert_uint_eq(r->nodes[0].n.blocks_used, used);
	ck_assert_uint_eq(r->nodes[0].n.addrs_used, pods);
	free(all);
	for (i = 0; i < r->n_nodes; i++)
		check_node_sums(c, r, &r->nodes[i]);
}

struct rpool {
	const char *pool, *reserved;
};

START_TEST(test_carve_random)
{
	static const struct rpool v4[] = {
		{ "10.0.0.0/16", "10.0.0.1,10.0.0.64/30,10.0.3.0/24" },
		{ "10.1.0.0/17", "10.1.0.1" },
		{ "172.16.0.0/18", "172.16.0.0/20" },
		{ "192.168.0.0/16", "192.168.0.1,192.168.0.2" },
	};
	static const struct rpool v6[] = {
		{ "fd00::/112", "fd00::1,fd00::40/122" },
		{ "fd01::/116", "fd01::1" },
	};
	static const char *const names[] = { "zone", "subnet", "rack" };
	struct hosts *hs = calloc(1, sizeof(*hs));
	uint64_t seed = test_seed();
	unsigned round, ok = 0, full = 0;

	rng_state = seed;
	for (round = 0; round < 150; round++) {
		char pools[256] = "", levels[64] = "", reserved[256] = "";
		char bl[8], bl6[8], err[512];
		unsigned n_levels = 1 + rnd_below(3), i, n_pools = 0, nv4;
		unsigned nv6 = rnd_below(3), bits_total = 0, first;
		unsigned zones, subnets;
		bool res = rnd_below(2);
		struct topo_config c;
		struct rec r1, r2;
		char *t1 = NULL, *t2 = NULL;
		size_t l1, l2;
		int rc;

		nv4 = rnd_below(3) + (nv6 ? 0 : 1);
		first = rnd_below(4);
		for (i = 0; i < nv4 + nv6; i++, n_pools++) {
			const struct rpool *p = i < nv4 ? &v4[(first + i) % 4] :
							  &v6[i - nv4];

			snprintf(pools + strlen(pools),
				 sizeof(pools) - strlen(pools), "%s%s",
				 n_pools ? "," : "", p->pool);
			if (res)
				snprintf(reserved + strlen(reserved),
					 sizeof(reserved) - strlen(reserved),
					 "%s%s", reserved[0] ? "," : "",
					 p->reserved);
		}
		for (i = 0; i < n_levels; i++) {
			unsigned b = 1 + rnd_below(2);

			bits_total += b;
			snprintf(levels + strlen(levels),
				 sizeof(levels) - strlen(levels), "%s%s:%u",
				 i ? "," : "", names[i], b);
		}
		/* the longest pools are /18 and /116 */
		snprintf(bl, sizeof(bl), "%u", 18 + bits_total + rnd_below(6));
		snprintf(bl6, sizeof(bl6), "%u",
			 116 + bits_total + rnd_below(128 - 116 - 6 + 1));
		rc = load(&c, err, sizeof(err), "pools", pools, "levels",
			  levels, "block_length", bl, "block_length6", bl6,
			  "reserved", reserved, NULL);
		ck_assert_msg(rc == 0, "seed %" PRIu64 " round %u: %s", seed,
			      round, err);

		zones = 1 + rnd_below(5);
		subnets = 1 + rnd_below(4);
		hs->n = 0;
		for (i = 0, l1 = 1 + rnd_below(40); i < l1; i++) {
			char name[16], facts[96];

			snprintf(name, sizeof(name), "n%03u", rnd_below(1000));
			snprintf(facts, sizeof(facts),
				 "zone=z%u,subnet=s%u,rack=r%u",
				 rnd_below(zones), rnd_below(subnets),
				 rnd_below(3));
			for (l2 = 0; l2 < hs->n; l2++)
				if (!strcmp(hs->names[l2], name))
					break;
			if (l2 < hs->n)
				continue;
			add_host(hs, name, facts,
				 rnd_below(4) ? rnd_below(100) : 0);
		}
		rc = carve(&c, hs, &r1, err, sizeof(err));
		if (rc == -ENOSPC) {
			ck_assert_msg(strstr(err, " is full"),
				      "seed %" PRIu64 " round %u: %s", seed,
				      round, err);
			ck_assert_uint_eq(r1.n_nodes + r1.n_hosts, 0);
			full++;
			rec_free(&r1);
			continue;
		}
		ck_assert_msg(rc == 0, "seed %" PRIu64 " round %u: %d %s",
			      seed, round, rc, err);
		ok++;
		check_carving(&c, hs, &r1);
		/* the same input carves the same */
		ck_assert_int_eq(carve(&c, hs, &r2, err, sizeof(err)), 0);
		render(&r1, &t1, &l1);
		render(&r2, &t2, &l2);
		ck_assert_str_eq(t1, t2);
		free(t1);
		free(t2);
		rec_free(&r1);
		rec_free(&r2);
	}
	fprintf(stderr, "test_carve: %u carved, %u full\n", ok, full);
	/* both outcomes are exercised */
	ck_assert_uint_gt(ok, 20);
	ck_assert_uint_gt(full, 5);
	free(hs);
}
END_TEST

static Suite *carve_suite(void)
{
	Suite *s = suite_create("ipam-topology-carve");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, test_config_defaults);
	tcase_add_loop_test(tc, test_config_errors, 0,
			    (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
	tcase_add_test(tc, test_config_reserved_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("math");
	tcase_add_test(tc, test_math_v4);
	tcase_add_test(tc, test_math_v4_edges);
	tcase_add_test(tc, test_math_v6);
	tcase_add_test(tc, test_math_v6_edges);
	tcase_add_test(tc, test_reserved_blocks);
	tcase_add_test(tc, test_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("carve");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_carve_dual_stack);
	tcase_add_test(tc, test_carve_reserved);
	tcase_add_test(tc, test_carve_reserved_huge);
	tcase_add_test(tc, test_carve_pools_spill);
	tcase_add_test(tc, test_carve_level_full);
	tcase_add_test(tc, test_carve_subnet_full);
	tcase_add_test(tc, test_carve_host_errors);
	tcase_add_test(tc, test_carve_random);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(carve_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
