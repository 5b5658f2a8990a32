/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route model.
 *
 * Every stated route lives in one hash table keyed by (scope, dst). An
 * entry holds the contribution of each owner that states that key, kept
 * sorted by owner name. A big table costs little per route: nodes come
 * from slabs and hold only the address bytes of their family, one
 * contribution is kept in the node itself (an array only for a second
 * owner), and a contribution is a pointer to a statement (owner,
 * nexthops, table, metric) shared by every key stated alike. The desired route of a key is the merge of its
 * contributions: table and metric come from the first owner by name, and
 * the nexthops are the union of every owner's (ECMP), deduplicated by
 * (gateway, device) keeping the largest weight, sorted, and capped at
 * STRATA_MAX_NEXTHOPS. A route stated by one owner is merged the same way,
 * so advertisers always see nexthops in one canonical order.
 *
 * Advertisers are handed that union for their scopes, sorted by
 * (scope, dst), from a per-advertiser one-shot timer: a change arms it
 * (debounced), the periodic resync arms every one, a failed reconcile
 * re-arms it with a backoff. Nothing here is quadratic in the number of
 * routes: set and unset are hash operations, a reconcile sorts once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <strata/plugin.h>

#include "log.h"
#include "loop.h"
#include "route.h"

#define ROUTE_DEBOUNCE_NS (50 * 1000000LL)
#define ROUTE_RETRY_MIN_NS (1000 * 1000000LL)
#define ROUTE_RETRY_MAX_NS (60000 * 1000000LL) /* without a resync period */
#define ROUTE_SCOPES \
	(STRATA_SCOPE_KERNEL | STRATA_SCOPE_CLOUD | STRATA_SCOPE_BGP)
#define ROUTE_N_SCOPES 3

/* The route layout of ABI 0.1; later minors only append to it. */
#define ROUTE_SIZE_0_1 ((uint32_t)sizeof(struct strata_route))

/*
 * A contribution's nexthops, as stated (normalized), shared by every
 * contribution stating the same list: a big table's routes mostly have
 * one, so a route costs a pointer here instead of a struct strata_route.
 */
struct nhset {
	struct nhset *next;
	uint32_t hash;
	uint32_t refs;
	uint32_t n;
	struct strata_nexthop nh[];
};

/*
 * What an owner states for a key, shared by the keys it states alike: a
 * big table from one owner holds one. A contribution is a pointer to it,
 * with C_STALE: from before a restate, not yet stated again.
 */
struct stmt {
	struct stmt *next;
	uint32_t hash;
	uint32_t refs;
	struct route_owner *owner;
	struct nhset *nhs;
	uint32_t table;
	uint32_t metric;
};

#define C_STALE ((uintptr_t)1)
/* rnode.c: a struct cvec *, not a contribution */
#define C_VEC ((uintptr_t)2)

/* A node's contributions when there are several, sorted by owner name. */
struct cvec {
	uint32_t n, cap;
	uintptr_t c[];
};

/* Only the family's address bytes are kept: slabs by family. */
struct rnode {
	struct rnode *next;
	uintptr_t c; /* one contribution, a cvec | C_VEC, or 0: none */
	uint8_t scope;
	uint8_t family;
	uint8_t len;
	uint8_t addr[];
};

#define SLAB_NODES 1024

struct slab {
	struct slab *next;
	size_t size;
	_Alignas(struct rnode) unsigned char mem[];
};

struct route_owner {
	struct route_model *m;
	struct route_owner *next;
	char *name;
	bool synced;
};

struct route_adv {
	struct route_model *m;
	struct route_adv *next;
	char *name;
	uint32_t scopes;
	route_reconcile_fn fn;
	void *arg;
	struct loop_timer *timer; /* armed: a reconcile is due */
	int64_t backoff_ns;       /* 0 unless the last reconcile failed */
	bool busy;                /* inside fn */
	bool removed;             /* removed while busy: free after fn */
};

struct route_model {
	struct loop *loop;
	int64_t resync_ns;
	route_observe_fn observe; /* each reconcile's duration and result */
	void *observe_arg;
	struct loop_timer *resync;
	struct rnode **bucket;
	size_t n_buckets;
	size_t n_nodes;
	struct slab *slabs;
	struct rnode *free_nodes[2]; /* IPv4, IPv6 */
	struct nhset **nh_bucket;
	size_t n_nh_buckets;
	size_t n_nhsets;
	struct stmt **st_bucket;
	size_t n_st_buckets;
	size_t n_stmts;
	size_t bytes; /* allocated for routes, for route_model_bytes() */
	size_t count[ROUTE_N_SCOPES];
	struct route_owner *owners;
	size_t n_unsynced;
	struct route_adv *advs;
};

/* -- addresses and prefixes ------------------------------------------- */

static unsigned family_bytes(uint8_t family)
{
	return family == STRATA_AF_INET ? 4 : 16;
}

static unsigned family_bits(uint8_t family)
{
	return family == STRATA_AF_INET ? 32 : 128;
}

static bool family_ok(uint8_t family)
{
	return family == STRATA_AF_INET || family == STRATA_AF_INET6;
}

static bool host_bits_zero(const uint8_t *addr, unsigned len, unsigned bits)
{
	unsigned i;

	for (i = len; i < bits; i++)
		if (addr[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

/*
 * Copy p into out in canonical form (unused bytes zero). A prefix with
 * host bits set is refused rather than masked: "10.0.0.1/24" is more
 * likely a mistake than a way to say "10.0.0.0/24".
 */
static bool prefix_norm(const struct strata_prefix *p,
			struct strata_prefix *out)
{
	memset(out, 0, sizeof(*out));
	if (!family_ok(p->family) || p->len > family_bits(p->family))
		return false;
	out->family = p->family;
	out->len = p->len;
	memcpy(out->addr, p->addr, family_bytes(p->family));
	return host_bits_zero(out->addr, out->len, family_bits(out->family));
}

int route_addr_parse(const char *text, struct strata_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return -EINVAL;
	if (inet_pton(AF_INET, text, out->addr) == 1) {
		out->family = STRATA_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->addr) == 1) {
		out->family = STRATA_AF_INET6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* "ADDR/LEN", or a bare address for a host prefix. */
int route_prefix_parse(const char *text, struct strata_prefix *out)
{
	struct strata_addr a;
	char buf[INET6_ADDRSTRLEN];
	const char *slash, *s;
	unsigned len;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!text)
		return -EINVAL;
	slash = strchr(text, '/');
	n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (route_addr_parse(buf, &a) < 0)
		return -EINVAL;
	len = family_bits(a.family);
	if (slash) {
		s = slash + 1;
		if (*s == '\0' || strlen(s) > 3)
			return -EINVAL;
		len = 0;
		for (; *s; s++) {
			if (*s < '0' || *s > '9')
				return -EINVAL;
			len = len * 10 + (unsigned)(*s - '0');
		}
		if (len > family_bits(a.family))
			return -EINVAL;
	}
	if (!host_bits_zero(a.addr, len, family_bits(a.family)))
		return -EINVAL;
	out->family = a.family;
	out->len = (uint8_t)len;
	memcpy(out->addr, a.addr, sizeof(out->addr));
	return 0;
}

void route_addr_format(const struct strata_addr *a, char *buf, size_t len)
{
	if (!len)
		return;
	if (!family_ok(a->family) ||
	    !inet_ntop(a->family == STRATA_AF_INET ? AF_INET : AF_INET6,
		       a->addr, buf, (socklen_t)len))
		snprintf(buf, len, "%s", a->family ? "invalid" : "none");
}

void route_prefix_format(const struct strata_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!len)
		return;
	if (!family_ok(p->family) ||
	    !inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6,
		       p->addr, a, sizeof(a))) {
		snprintf(buf, len, "invalid");
		return;
	}
	snprintf(buf, len, "%s/%u", a, p->len);
}

/* snprintf that appends and never runs past the end. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

void route_format(const struct strata_route *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 4];
	size_t off = 0;
	uint32_t i, n;

	if (!len)
		return;
	buf[0] = '\0';
	route_prefix_format(&r->dst, a, sizeof(a));
	append(buf, len, &off, "%s", a);
	n = r->n_nexthops <= STRATA_MAX_NEXTHOPS ? r->n_nexthops
						 : STRATA_MAX_NEXTHOPS;
	for (i = 0; i < n; i++) {
		const struct strata_nexthop *nh = &r->nh[i];

		append(buf, len, &off, "%s", i ? "," : "");
		if (nh->gw.family) {
			route_addr_format(&nh->gw, a, sizeof(a));
			append(buf, len, &off, " via %s", a);
		}
		if (nh->ifname[0])
			append(buf, len, &off, " dev %.*s",
			       (int)sizeof(nh->ifname), nh->ifname);
		if (nh->weight > 1)
			append(buf, len, &off, " weight %" PRIu32, nh->weight);
	}
	if (r->table)
		append(buf, len, &off, " table %" PRIu32, r->table);
	if (r->metric)
		append(buf, len, &off, " metric %" PRIu32, r->metric);
}

const char *route_scope_name(uint32_t scope)
{
	switch (scope) {
	case STRATA_SCOPE_KERNEL:
		return "kernel";
	case STRATA_SCOPE_CLOUD:
		return "cloud";
	case STRATA_SCOPE_BGP:
		return "bgp";
	}
	return "unknown";
}

int route_scope_parse(const char *name, uint32_t *out)
{
	static const uint32_t scopes[] = { STRATA_SCOPE_KERNEL,
					   STRATA_SCOPE_CLOUD,
					   STRATA_SCOPE_BGP };
	size_t i;

	for (i = 0; name && i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		if (!strcmp(name, route_scope_name(scopes[i]))) {
			*out = scopes[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* -- nexthops ---------------------------------------------------------- */

static int nh_cmp(const struct strata_nexthop *a,
		  const struct strata_nexthop *b)
{
	int c;

	if (a->gw.family != b->gw.family)
		return a->gw.family < b->gw.family ? -1 : 1;
	c = memcmp(a->gw.addr, b->gw.addr, sizeof(a->gw.addr));
	if (c)
		return c;
	return strncmp(a->ifname, b->ifname, sizeof(a->ifname));
}

static int nh_qcmp(const void *a, const void *b)
{
	return nh_cmp(a, b);
}

/* Canonical form: unused bytes zero, weight 0 written as 1. */
static bool nh_norm(const struct strata_nexthop *in, uint8_t family,
		    struct strata_nexthop *out)
{
	size_t n = strnlen(in->ifname, sizeof(in->ifname));

	memset(out, 0, sizeof(*out));
	if (n == sizeof(in->ifname))
		return false;
	memcpy(out->ifname, in->ifname, n);
	if (in->gw.family) {
		/* strict: no IPv4 over an IPv6 gateway, nor the reverse */
		if (in->gw.family != family)
			return false;
		out->gw.family = family;
		memcpy(out->gw.addr, in->gw.addr, family_bytes(family));
	} else if (!n) {
		return false;
	}
	out->weight = in->weight ? in->weight : 1;
	return true;
}

/* Sort and merge duplicates (same gateway and device): the largest
 * weight wins. Returns the new count. */
static uint32_t nh_sort_dedup(struct strata_nexthop *nh, uint32_t n)
{
	uint32_t i, k = 0;

	qsort(nh, n, sizeof(*nh), nh_qcmp);
	for (i = 0; i < n; i++) {
		if (k && !nh_cmp(&nh[k - 1], &nh[i])) {
			if (nh[i].weight > nh[k - 1].weight)
				nh[k - 1].weight = nh[i].weight;
			continue;
		}
		nh[k++] = nh[i];
	}
	return k;
}

bool route_equal(const struct strata_route *a, const struct strata_route *b)
{
	struct strata_nexthop na[STRATA_MAX_NEXTHOPS], nb[STRATA_MAX_NEXTHOPS];
	uint32_t i, n = a->n_nexthops;

	if (a->dst.family != b->dst.family || a->dst.len != b->dst.len ||
	    !family_ok(a->dst.family) ||
	    memcmp(a->dst.addr, b->dst.addr, family_bytes(a->dst.family)) ||
	    a->table != b->table || a->metric != b->metric ||
	    n != b->n_nexthops || n > STRATA_MAX_NEXTHOPS)
		return false;
	for (i = 0; i < n; i++) {
		if (!nh_norm(&a->nh[i], a->dst.family, &na[i]) ||
		    !nh_norm(&b->nh[i], b->dst.family, &nb[i]))
			return false;
	}
	qsort(na, n, sizeof(na[0]), nh_qcmp);
	qsort(nb, n, sizeof(nb[0]), nh_qcmp);
	for (i = 0; i < n; i++)
		if (nh_cmp(&na[i], &nb[i]) || na[i].weight != nb[i].weight)
			return false;
	return true;
}

/* -- validation -------------------------------------------------------- */

static bool scope_ok(uint32_t scope)
{
	return scope == STRATA_SCOPE_KERNEL || scope == STRATA_SCOPE_CLOUD ||
	       scope == STRATA_SCOPE_BGP;
}

static unsigned scope_index(uint32_t scope)
{
	return scope == STRATA_SCOPE_KERNEL ? 0
	       : scope == STRATA_SCOPE_CLOUD ? 1
					     : 2;
}

/* Check r and write its canonical form to out; false if invalid. */
static bool route_norm(const struct strata_route *r, struct strata_route *out)
{
	uint32_t i;

	memset(out, 0, sizeof(*out));
	if (r->size < ROUTE_SIZE_0_1 || !scope_ok(r->scope) || r->flags ||
	    r->n_nexthops < 1 || r->n_nexthops > STRATA_MAX_NEXTHOPS)
		return false;
	if (!prefix_norm(&r->dst, &out->dst))
		return false;
	for (i = 0; i < r->n_nexthops; i++)
		if (!nh_norm(&r->nh[i], out->dst.family, &out->nh[i]))
			return false;
	out->size = sizeof(*out);
	out->scope = r->scope;
	out->table = r->table;
	out->metric = r->metric;
	out->n_nexthops = r->n_nexthops;
	return true;
}

/* -- shared nexthop lists ---------------------------------------------- */

static uint32_t fnv(uint32_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t nh_hash(const struct strata_nexthop *nh, uint32_t n)
{
	return fnv(2166136261u, nh, n * sizeof(*nh));
}

static int nh_table_grow(struct route_model *m)
{
	size_t nb = m->n_nh_buckets ? m->n_nh_buckets * 2 : 16, i;
	struct nhset **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (i = 0; i < m->n_nh_buckets; i++) {
		struct nhset *s = m->nh_bucket[i], *next;

		for (; s; s = next) {
			next = s->next;
			s->next = b[s->hash & (nb - 1)];
			b[s->hash & (nb - 1)] = s;
		}
	}
	free(m->nh_bucket);
	m->bytes += (nb - m->n_nh_buckets) * sizeof(*b);
	m->nh_bucket = b;
	m->n_nh_buckets = nb;
	return 0;
}

/* The shared list equal to nh[0..n) (normalized), with a reference taken;
 * NULL without memory. */
static struct nhset *nhset_get(struct route_model *m,
			       const struct strata_nexthop *nh, uint32_t n)
{
	uint32_t h = nh_hash(nh, n);
	struct nhset *s;

	if (m->n_nhsets >= m->n_nh_buckets && nh_table_grow(m) < 0 &&
	    !m->n_nh_buckets)
		return NULL;
	for (s = m->nh_bucket[h & (m->n_nh_buckets - 1)]; s; s = s->next) {
		if (s->hash == h && s->n == n &&
		    !memcmp(s->nh, nh, n * sizeof(*nh))) {
			s->refs++;
			return s;
		}
	}
	s = malloc(sizeof(*s) + n * sizeof(*nh));
	if (!s)
		return NULL;
	s->hash = h;
	s->refs = 1;
	s->n = n;
	memcpy(s->nh, nh, n * sizeof(*nh));
	s->next = m->nh_bucket[h & (m->n_nh_buckets - 1)];
	m->nh_bucket[h & (m->n_nh_buckets - 1)] = s;
	m->n_nhsets++;
	m->bytes += sizeof(*s) + n * sizeof(*nh);
	return s;
}

static void nhset_put(struct route_model *m, struct nhset *s)
{
	struct nhset **pp;

	if (--s->refs)
		return;
	for (pp = &m->nh_bucket[s->hash & (m->n_nh_buckets - 1)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	m->n_nhsets--;
	m->bytes -= sizeof(*s) + s->n * sizeof(s->nh[0]);
	free(s);
}

/* -- statements -------------------------------------------------------- */

static uint32_t stmt_hash(const struct route_owner *o, const struct nhset *nhs,
			  uint32_t table, uint32_t metric)
{
	uint32_t h = 2166136261u;

	h = fnv(h, &o, sizeof(o));
	h = fnv(h, &nhs, sizeof(nhs));
	h = fnv(h, &table, sizeof(table));
	return fnv(h, &metric, sizeof(metric));
}

static int st_table_grow(struct route_model *m)
{
	size_t nb = m->n_st_buckets ? m->n_st_buckets * 2 : 16, i;
	struct stmt **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (i = 0; i < m->n_st_buckets; i++) {
		struct stmt *s = m->st_bucket[i], *next;

		for (; s; s = next) {
			next = s->next;
			s->next = b[s->hash & (nb - 1)];
			b[s->hash & (nb - 1)] = s;
		}
	}
	free(m->st_bucket);
	m->bytes += (nb - m->n_st_buckets) * sizeof(*b);
	m->st_bucket = b;
	m->n_st_buckets = nb;
	return 0;
}

/* The shared statement of o for the normalized r, with a reference
 * taken; NULL without memory. */
static struct stmt *stmt_get(struct route_model *m, struct route_owner *o,
			     const struct strata_route *r)
{
	struct nhset *nhs;
	struct stmt *s;
	uint32_t h;

	if (m->n_stmts >= m->n_st_buckets && st_table_grow(m) < 0 &&
	    !m->n_st_buckets)
		return NULL;
	nhs = nhset_get(m, r->nh, r->n_nexthops);
	if (!nhs)
		return NULL;
	h = stmt_hash(o, nhs, r->table, r->metric);
	for (s = m->st_bucket[h & (m->n_st_buckets - 1)]; s; s = s->next) {
		if (s->owner == o && s->nhs == nhs && s->table == r->table &&
		    s->metric == r->metric) {
			nhset_put(m, nhs); /* s holds one already */
			s->refs++;
			return s;
		}
	}
	s = malloc(sizeof(*s));
	if (!s) {
		nhset_put(m, nhs);
		return NULL;
	}
	*s = (struct stmt){
		.next = m->st_bucket[h & (m->n_st_buckets - 1)],
		.hash = h,
		.refs = 1,
		.owner = o,
		.nhs = nhs,
		.table = r->table,
		.metric = r->metric,
	};
	m->st_bucket[h & (m->n_st_buckets - 1)] = s;
	m->n_stmts++;
	m->bytes += sizeof(*s);
	return s;
}

static void stmt_put(struct route_model *m, struct stmt *s)
{
	struct stmt **pp;

	if (--s->refs)
		return;
	for (pp = &m->st_bucket[s->hash & (m->n_st_buckets - 1)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	m->n_stmts--;
	m->bytes -= sizeof(*s);
	nhset_put(m, s->nhs);
	free(s);
}

static struct stmt *c_stmt(uintptr_t c)
{
	return (struct stmt *)(c & ~C_STALE);
}

/* -- the table --------------------------------------------------------- */

static unsigned node_fam(uint8_t family)
{
	return family == STRATA_AF_INET6 ? 1 : 0;
}

static size_t node_size(uint8_t family)
{
	size_t n = offsetof(struct rnode, addr) + family_bytes(family);
	size_t a = _Alignof(struct rnode);

	return (n + a - 1) / a * a;
}

/* A node for a key of the family, from its slabs; NULL without memory. */
static struct rnode *node_alloc(struct route_model *m, uint8_t family)
{
	struct rnode **fl = &m->free_nodes[node_fam(family)], *n;
	size_t size = node_size(family), i;
	struct slab *sl;

	if (!*fl) {
		sl = malloc(sizeof(*sl) + SLAB_NODES * size);
		if (!sl)
			return NULL;
		sl->next = m->slabs;
		sl->size = SLAB_NODES * size;
		m->slabs = sl;
		m->bytes += sizeof(*sl) + sl->size;
		for (i = SLAB_NODES; i-- > 0;) {
			n = (struct rnode *)(sl->mem + i * size);
			n->next = *fl;
			*fl = n;
		}
	}
	n = *fl;
	*fl = n->next;
	memset(n, 0, size);
	return n;
}

static void node_key(const struct rnode *n, struct strata_prefix *out)
{
	memset(out, 0, sizeof(*out));
	out->family = n->family;
	out->len = n->len;
	memcpy(out->addr, n->addr, family_bytes(n->family));
}

static uint32_t key_hash(uint32_t scope, const struct strata_prefix *dst)
{
	uint8_t k[2 + 16 + 1];

	k[0] = dst->family;
	k[1] = dst->len;
	memcpy(k + 2, dst->addr, 16);
	k[18] = (uint8_t)scope;
	return fnv(2166136261u, k, sizeof(k));
}

static uint32_t node_hash(const struct rnode *n)
{
	struct strata_prefix p;

	node_key(n, &p);
	return key_hash(n->scope, &p);
}

static bool key_eq(const struct rnode *n, uint32_t scope,
		   const struct strata_prefix *dst)
{
	return n->scope == scope && n->family == dst->family &&
	       n->len == dst->len &&
	       !memcmp(n->addr, dst->addr, family_bytes(dst->family));
}

/* The link pointing at the node with this key, or at the chain's end. */
static struct rnode **node_slot(const struct route_model *m, uint32_t scope,
				const struct strata_prefix *dst, uint32_t h)
{
	struct rnode **pp = &m->bucket[h & (m->n_buckets - 1)];

	while (*pp && !key_eq(*pp, scope, dst))
		pp = &(*pp)->next;
	return pp;
}

static int table_grow(struct route_model *m)
{
	size_t nb = m->n_buckets * 2, i;
	struct rnode **b = calloc(nb, sizeof(*b));
	uint32_t h;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < m->n_buckets; i++) {
		struct rnode *n = m->bucket[i], *next;

		for (; n; n = next) {
			next = n->next;
			h = node_hash(n);
			n->next = b[h & (nb - 1)];
			b[h & (nb - 1)] = n;
		}
	}
	free(m->bucket);
	m->bytes += (nb - m->n_buckets) * sizeof(*b);
	m->bucket = b;
	m->n_buckets = nb;
	return 0;
}

static uint32_t node_n(const struct rnode *n)
{
	if (n->c & C_VEC)
		return ((const struct cvec *)(n->c & ~C_VEC))->n;
	return n->c ? 1 : 0;
}

/* Contribution i of the node (i < node_n()). */
static uintptr_t *node_at(struct rnode *n, uint32_t i)
{
	if (n->c & C_VEC)
		return &((struct cvec *)(n->c & ~C_VEC))->c[i];
	return &n->c;
}

static uintptr_t node_get(const struct rnode *n, uint32_t i)
{
	return *node_at((struct rnode *)n, i);
}

static void node_clear(struct route_model *m, struct rnode *n)
{
	struct cvec *v;

	if (n->c & C_VEC) {
		v = (struct cvec *)(n->c & ~C_VEC);
		m->bytes -= sizeof(*v) + v->cap * sizeof(v->c[0]);
		free(v);
	}
	n->c = 0;
}

static void node_unlink(struct route_model *m, struct rnode **pp)
{
	struct rnode *n = *pp;

	*pp = n->next;
	m->n_nodes--;
	m->count[scope_index(n->scope)]--;
	node_clear(m, n);
	n->next = m->free_nodes[node_fam(n->family)];
	m->free_nodes[node_fam(n->family)] = n;
}

static uintptr_t *node_find_owner(struct rnode *n, const struct route_owner *o)
{
	uint32_t i, k = node_n(n);

	for (i = 0; i < k; i++)
		if (c_stmt(node_get(n, i))->owner == o)
			return node_at(n, i);
	return NULL;
}

static void contrib_remove(struct route_model *m, struct rnode *n,
			   uintptr_t *c)
{
	struct cvec *v;
	size_t i;

	stmt_put(m, c_stmt(*c));
	if (!(n->c & C_VEC)) {
		n->c = 0;
		return;
	}
	v = (struct cvec *)(n->c & ~C_VEC);
	i = (size_t)(c - v->c);
	memmove(c, c + 1, (v->n - i - 1) * sizeof(*c));
	v->n--;
	if (v->n == 1) {
		/* back to the common case: one, in the node */
		uintptr_t one = v->c[0];

		node_clear(m, n);
		n->c = one;
	}
}

/* Add c at its place by owner name; -ENOMEM leaves the node as it was. */
static int contrib_insert(struct route_model *m, struct rnode *n,
			  uintptr_t c)
{
	const char *name = c_stmt(c)->owner->name;
	struct cvec *v;
	uint32_t i, k = node_n(n);

	if (!k) {
		n->c = c;
		return 0;
	}
	if (!(n->c & C_VEC)) {
		v = malloc(sizeof(*v) + 2 * sizeof(v->c[0]));
		if (!v)
			return -ENOMEM;
		m->bytes += sizeof(*v) + 2 * sizeof(v->c[0]);
		v->n = 1;
		v->cap = 2;
		v->c[0] = n->c;
		n->c = (uintptr_t)v | C_VEC;
	}
	v = (struct cvec *)(n->c & ~C_VEC);
	if (v->n == v->cap) {
		struct cvec *g = realloc(v, sizeof(*v) +
					 2 * v->cap * sizeof(v->c[0]));

		if (!g)
			return -ENOMEM;
		m->bytes += g->cap * sizeof(g->c[0]);
		g->cap *= 2;
		v = g;
		n->c = (uintptr_t)v | C_VEC;
	}
	for (i = 0; i < v->n; i++)
		if (strcmp(name, c_stmt(v->c[i])->owner->name) < 0)
			break;
	memmove(&v->c[i + 1], &v->c[i], (v->n - i) * sizeof(v->c[0]));
	v->c[i] = c;
	v->n++;
	return 0;
}

/* -- advertisers ------------------------------------------------------- */

static void adv_reconcile(struct route_adv *a);

static void adv_fire(void *arg)
{
	struct route_adv *a = arg;

	loop_timer_cancel(a->timer);
	a->timer = NULL;
	adv_reconcile(a);
}

/* Arm the advertiser's timer unless a reconcile (or retry) is due. */
static void adv_schedule(struct route_adv *a, int64_t delay_ns)
{
	if (a->timer || a->removed)
		return;
	a->timer = loop_timer_add(a->m->loop, delay_ns, 0, adv_fire, a);
	if (!a->timer)
		log_err("route: %s: cannot arm a reconcile timer; waiting for "
			"the periodic resync", a->name);
}

static void changed(struct route_model *m, uint32_t scopes)
{
	struct route_adv *a;

	for (a = m->advs; a; a = a->next)
		if (a->scopes & scopes)
			adv_schedule(a, ROUTE_DEBOUNCE_NS);
}

static void barrier_check(struct route_model *m)
{
	if (m->n_unsynced)
		return;
	log_info("route: every owner has synced; stale routes may be deleted");
	changed(m, ROUTE_SCOPES);
}

static void adv_free(struct route_adv *a)
{
	if (a->timer)
		loop_timer_cancel(a->timer);
	free(a->name);
	free(a);
}

static int node_qcmp(const void *pa, const void *pb)
{
	const struct rnode *a = *(const struct rnode *const *)pa;
	const struct rnode *b = *(const struct rnode *const *)pb;
	int c;

	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, family_bytes(a->family));
	if (c)
		return c;
	return (int)a->len - (int)b->len;
}

/* The model's nodes in the scopes into v (route_count() of them), sorted;
 * their number. */
static size_t nodes_fill(const struct route_model *m, uint32_t scopes,
			 struct rnode **v)
{
	size_t i, k = 0;

	for (i = 0; i < m->n_buckets; i++) {
		struct rnode *nd;

		for (nd = m->bucket[i]; nd; nd = nd->next)
			if (nd->scope & scopes)
				v[k++] = nd;
	}
	qsort(v, k, sizeof(*v), node_qcmp);
	return k;
}

/* The model's nodes in the scopes, sorted; NULL with *n 0 if none. */
static int nodes_sorted(const struct route_model *m, uint32_t scopes,
			struct rnode ***out, size_t *n)
{
	size_t total = route_count(m, scopes);
	struct rnode **v;

	*out = NULL;
	*n = 0;
	if (!total)
		return 0;
	v = malloc(total * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*n = nodes_fill(m, scopes, v);
	*out = v;
	return 0;
}

/* The desired route of a node: see the comment at the top. */
static void node_merge(const struct rnode *n, struct strata_route *out)
{
	struct strata_nexthop all[STRATA_MAX_NEXTHOPS * 4];
	const struct stmt *st = c_stmt(node_get(n, 0));
	uint32_t i, j, k = 0, nc = node_n(n);
	char buf[64];

	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->scope = n->scope;
	node_key(n, &out->dst);
	out->table = st->table;
	out->metric = st->metric;
	for (i = 0; i < nc; i++) {
		const struct nhset *nhs = c_stmt(node_get(n, i))->nhs;

		for (j = 0; j < nhs->n; j++) {
			if (k == sizeof(all) / sizeof(all[0])) {
				k = nh_sort_dedup(all, k);
				if (k == sizeof(all) / sizeof(all[0]))
					continue;
			}
			all[k++] = nhs->nh[j];
		}
	}
	k = nh_sort_dedup(all, k);
	if (k > STRATA_MAX_NEXTHOPS) {
		route_prefix_format(&out->dst, buf, sizeof(buf));
		log_warn("route: %s: %" PRIu32
			 " nexthops, keeping the first %d",
			 buf, k, STRATA_MAX_NEXTHOPS);
		k = STRATA_MAX_NEXTHOPS;
	}
	memcpy(out->nh, all, k * sizeof(all[0]));
	out->n_nexthops = k;
}

/*
 * The routes handed to an advertiser, their pointers and the sorted nodes
 * they come from, in one anonymous mapping: a reconcile of a big table
 * needs hundreds of bytes per route for a moment, and a mapping goes back
 * to the kernel when unmapped, where malloc could keep those pages in its
 * heap for good.
 */
struct batch {
	void *map;
	size_t len;
	struct rnode **nodes;
	const struct strata_route **ptrs;
	struct strata_route *routes;
};

static int batch_alloc(struct batch *b, size_t n)
{
	size_t off_p = n * sizeof(*b->nodes);
	size_t off_r = off_p + n * sizeof(*b->ptrs);

	/* both offsets are multiples of 8, as is struct strata_route's
	 * alignment */
	*b = (struct batch){ .len = off_r + n * sizeof(*b->routes) };
	if (!n)
		return 0;
	b->map = mmap(NULL, b->len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		return -ENOMEM;
	}
	b->nodes = b->map;
	b->ptrs = (const struct strata_route **)((char *)b->map + off_p);
	b->routes = (struct strata_route *)((char *)b->map + off_r);
	return 0;
}

static void batch_free(struct batch *b)
{
	if (b->map)
		munmap(b->map, b->len);
	b->map = NULL;
}

static void adv_reconcile(struct route_adv *a)
{
	struct route_model *m = a->m;
	struct batch b = { 0 };
	size_t i, n;
	uint32_t flags;
	int64_t cap, t0;
	int rc;

	rc = batch_alloc(&b, route_count(m, a->scopes));
	if (rc < 0)
		goto failed;
	/* Copies, so an fn that changes the model cannot pull the routes
	 * from under itself. */
	n = b.map ? nodes_fill(m, a->scopes, b.nodes) : 0;
	for (i = 0; i < n; i++) {
		node_merge(b.nodes[i], &b.routes[i]);
		b.ptrs[i] = &b.routes[i];
	}
	flags = route_may_delete(m) ? STRATA_RECONCILE_MAY_DELETE : 0;
	a->busy = true;
	t0 = loop_now();
	rc = a->fn(a->arg, n ? b.ptrs : NULL, n, flags);
	a->busy = false;
	batch_free(&b);
	if (a->removed) {
		adv_free(a);
		return;
	}
	if (m->observe)
		m->observe(m->observe_arg, a->name, loop_now() - t0, rc);
	if (rc >= 0) {
		if (a->backoff_ns)
			log_info("route: %s: reconcile recovered", a->name);
		a->backoff_ns = 0;
		return;
	}
failed:
	batch_free(&b);
	/* up to the resync period, which would retry anyway */
	cap = !m->resync_ns ? ROUTE_RETRY_MAX_NS
	      : m->resync_ns > ROUTE_RETRY_MIN_NS ? m->resync_ns
						  : ROUTE_RETRY_MIN_NS;
	a->backoff_ns = a->backoff_ns ? a->backoff_ns * 2 : ROUTE_RETRY_MIN_NS;
	if (a->backoff_ns > cap)
		a->backoff_ns = cap;
	log_warn("route: %s: reconcile failed: %s; retrying in %" PRId64 " ms",
		 a->name, strerror(-rc), a->backoff_ns / 1000000);
	if (a->timer) {
		loop_timer_cancel(a->timer);
		a->timer = NULL;
	}
	adv_schedule(a, a->backoff_ns);
}

static void resync_fire(void *arg)
{
	struct route_model *m = arg;
	struct route_adv *a;

	for (a = m->advs; a; a = a->next)
		adv_schedule(a, 0);
}

/* -- the model --------------------------------------------------------- */

int route_model_new(struct loop *loop, int64_t resync_ns,
		    struct route_model **out)
{
	struct route_model *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->n_buckets = 256;
	m->bucket = calloc(m->n_buckets, sizeof(*m->bucket));
	if (!m->bucket) {
		free(m);
		return -ENOMEM;
	}
	m->bytes = m->n_buckets * sizeof(*m->bucket);
	route_model_set_resync(m, resync_ns);
	*out = m;
	return 0;
}

void route_model_set_resync(struct route_model *m, int64_t resync_ns)
{
	if (m->resync) {
		loop_timer_cancel(m->resync);
		m->resync = NULL;
	}
	m->resync_ns = resync_ns > 0 ? resync_ns : 0;
	if (!m->resync_ns)
		return;
	m->resync = loop_timer_add(m->loop, m->resync_ns, m->resync_ns,
				   resync_fire, m);
	if (!m->resync)
		log_err("route: cannot arm the periodic resync timer");
}

void route_model_free(struct route_model *m)
{
	size_t i;

	if (!m)
		return;
	if (m->resync)
		loop_timer_cancel(m->resync);
	while (m->advs) {
		struct route_adv *a = m->advs;

		m->advs = a->next;
		adv_free(a);
	}
	while (m->owners) {
		struct route_owner *o = m->owners;

		m->owners = o->next;
		free(o->name);
		free(o);
	}
	for (i = 0; i < m->n_buckets; i++) {
		struct rnode *n;

		for (n = m->bucket[i]; n; n = n->next)
			node_clear(m, n);
	}
	free(m->bucket);
	while (m->slabs) {
		struct slab *sl = m->slabs;

		m->slabs = sl->next;
		free(sl);
	}
	for (i = 0; i < m->n_st_buckets; i++) {
		struct stmt *s = m->st_bucket[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(m->st_bucket);
	for (i = 0; i < m->n_nh_buckets; i++) {
		struct nhset *s = m->nh_bucket[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(m->nh_bucket);
	free(m);
}

struct route_owner *route_owner_add(struct route_model *m, const char *name)
{
	struct route_owner *o;

	for (o = m->owners; o; o = o->next) {
		if (!strcmp(o->name, name)) {
			errno = EEXIST;
			return NULL;
		}
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->name = strdup(name);
	if (!o->name) {
		free(o);
		return NULL;
	}
	o->m = m;
	o->next = m->owners;
	m->owners = o;
	m->n_unsynced++;
	return o;
}

/* Drop the owner's contributions (only stale ones if stale_only). */
static void owner_drop(struct route_owner *o, bool stale_only)
{
	struct route_model *m = o->m;
	uint32_t scopes = 0;
	size_t i;

	for (i = 0; i < m->n_buckets; i++) {
		struct rnode **pp = &m->bucket[i];

		while (*pp) {
			struct rnode *n = *pp;
			uintptr_t *c = node_find_owner(n, o);

			if (c && (!stale_only || (*c & C_STALE))) {
				contrib_remove(m, n, c);
				scopes |= n->scope;
				if (!node_n(n)) {
					node_unlink(m, pp);
					continue;
				}
			}
			pp = &n->next;
		}
	}
	if (scopes)
		changed(m, scopes);
}

void route_owner_remove(struct route_owner *o)
{
	struct route_model *m;
	struct route_owner **pp;

	if (!o)
		return;
	m = o->m;
	owner_drop(o, false);
	for (pp = &m->owners; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	if (!o->synced) {
		m->n_unsynced--;
		barrier_check(m);
	}
	free(o->name);
	free(o);
}

void route_owner_restate(struct route_owner *o)
{
	struct route_model *m = o->m;
	size_t i;

	if (o->synced) {
		o->synced = false;
		m->n_unsynced++;
	}
	for (i = 0; i < m->n_buckets; i++) {
		struct rnode *n;

		for (n = m->bucket[i]; n; n = n->next) {
			uintptr_t *c = node_find_owner(n, o);

			if (c)
				*c |= C_STALE;
		}
	}
}

const char *route_owner_name(const struct route_owner *o)
{
	return o->name;
}

bool route_owner_is_synced(const struct route_owner *o)
{
	return o->synced;
}

static bool stmt_same(const struct stmt *c, const struct strata_route *r)
{
	return c->table == r->table && c->metric == r->metric &&
	       c->nhs->n == r->n_nexthops &&
	       !memcmp(c->nhs->nh, r->nh, r->n_nexthops * sizeof(r->nh[0]));
}

int route_set(struct route_owner *o, const struct strata_route *r)
{
	struct route_model *m = o->m;
	struct strata_route nr;
	struct rnode **pp, *n;
	struct stmt *st;
	uintptr_t *c;
	uint32_t h;

	if (!r || !route_norm(r, &nr))
		return -EINVAL;
	h = key_hash(nr.scope, &nr.dst);
	pp = node_slot(m, nr.scope, &nr.dst, h);
	n = *pp;
	c = n ? node_find_owner(n, o) : NULL;
	if (c) {
		*c &= ~C_STALE;
		if (stmt_same(c_stmt(*c), &nr))
			return 0;
	}
	st = stmt_get(m, o, &nr);
	if (!st)
		return -ENOMEM;
	if (c) {
		stmt_put(m, c_stmt(*c));
		*c = (uintptr_t)st;
		changed(m, nr.scope);
		return 0;
	}
	if (!n) {
		if (m->n_nodes >= 2 * m->n_buckets && table_grow(m) == 0)
			pp = node_slot(m, nr.scope, &nr.dst, h);
		n = node_alloc(m, nr.dst.family);
		if (!n) {
			stmt_put(m, st);
			return -ENOMEM;
		}
		n->scope = (uint8_t)nr.scope;
		n->family = nr.dst.family;
		n->len = nr.dst.len;
		memcpy(n->addr, nr.dst.addr, family_bytes(nr.dst.family));
		*pp = n;
		m->n_nodes++;
		m->count[scope_index(n->scope)]++;
	}
	if (contrib_insert(m, n, (uintptr_t)st) < 0) {
		stmt_put(m, st);
		if (!node_n(n))
			node_unlink(m, node_slot(m, nr.scope, &nr.dst, h));
		return -ENOMEM;
	}
	changed(m, nr.scope);
	return 0;
}

int route_unset(struct route_owner *o, uint32_t scope,
		const struct strata_prefix *dst)
{
	struct route_model *m = o->m;
	struct strata_prefix p;
	struct rnode **pp;
	uintptr_t *c;

	if (!dst || !scope_ok(scope) || !prefix_norm(dst, &p))
		return -EINVAL;
	pp = node_slot(m, scope, &p, key_hash(scope, &p));
	if (!*pp)
		return -ENOENT;
	c = node_find_owner(*pp, o);
	if (!c)
		return -ENOENT;
	contrib_remove(m, *pp, c);
	if (!node_n(*pp))
		node_unlink(m, pp);
	changed(m, scope);
	return 0;
}

int route_synced(struct route_owner *o)
{
	struct route_model *m = o->m;

	if (o->synced)
		return 0;
	owner_drop(o, true);
	o->synced = true;
	m->n_unsynced--;
	barrier_check(m);
	return 0;
}

bool route_may_delete(const struct route_model *m)
{
	return m->n_unsynced == 0;
}

struct route_adv *route_adv_add(struct route_model *m, const char *name,
				uint32_t scopes, route_reconcile_fn fn,
				void *arg)
{
	struct route_adv *a, **pp;

	if (!scopes || (scopes & ~ROUTE_SCOPES) || !fn || !name) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->name = strdup(name);
	if (!a->name) {
		free(a);
		return NULL;
	}
	a->m = m;
	a->scopes = scopes;
	a->fn = fn;
	a->arg = arg;
	for (pp = &m->advs; *pp; pp = &(*pp)->next)
		;
	*pp = a;
	/* The first reconcile adds what is already known, barrier or not. */
	adv_schedule(a, ROUTE_DEBOUNCE_NS);
	return a;
}

void route_adv_remove(struct route_adv *a)
{
	struct route_adv **pp;

	if (!a)
		return;
	for (pp = &a->m->advs; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	if (a->busy) {
		if (a->timer) {
			loop_timer_cancel(a->timer);
			a->timer = NULL;
		}
		a->removed = true;
		return;
	}
	adv_free(a);
}

void route_resync_soon(struct route_model *m, struct route_adv *a)
{
	if (a) {
		adv_schedule(a, ROUTE_DEBOUNCE_NS);
		return;
	}
	for (a = m->advs; a; a = a->next)
		adv_schedule(a, ROUTE_DEBOUNCE_NS);
}

int route_desired_each(const struct route_model *m, uint32_t scopes,
		       void (*cb)(void *arg, const struct strata_route *r,
				  const char *owners),
		       void *arg)
{
	struct rnode **nodes;
	struct strata_route r;
	char *owners = NULL;
	size_t i, n, cap = 0;
	int rc;

	rc = nodes_sorted(m, scopes, &nodes, &n);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		size_t need = 1, off = 0;
		uint32_t j, nc = node_n(nodes[i]);

		for (j = 0; j < nc; j++)
			need += strlen(c_stmt(node_get(nodes[i], j))->owner->name)
				+ 1;
		if (need > cap) {
			char *s = realloc(owners, need);

			if (!s) {
				rc = -ENOMEM;
				break;
			}
			owners = s;
			cap = need;
		}
		owners[0] = '\0';
		for (j = 0; j < nc; j++)
			append(owners, cap, &off, "%s%s", j ? "," : "",
			       c_stmt(node_get(nodes[i], j))->owner->name);
		node_merge(nodes[i], &r);
		cb(arg, &r, owners);
	}
	free(owners);
	free(nodes);
	return rc;
}

size_t route_count(const struct route_model *m, uint32_t scopes)
{
	size_t n = 0;

	if (scopes & STRATA_SCOPE_KERNEL)
		n += m->count[0];
	if (scopes & STRATA_SCOPE_CLOUD)
		n += m->count[1];
	if (scopes & STRATA_SCOPE_BGP)
		n += m->count[2];
	return n;
}

void route_model_set_observer(struct route_model *m, route_observe_fn fn,
			      void *arg)
{
	m->observe = fn;
	m->observe_arg = arg;
}

uint32_t route_adv_scopes(const struct route_adv *a)
{
	return a->scopes;
}

size_t route_nexthop_lists(const struct route_model *m)
{
	return m->n_nhsets;
}

size_t route_model_bytes(const struct route_model *m)
{
	return m->bytes;
}
