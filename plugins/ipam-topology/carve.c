/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The topology carving: config, prefix arithmetic and the pure planner.
 *
 * Addresses are handled as 128-bit numbers with the address in the top
 * bits (an IPv4 address fills the top 32), so a prefix of length L is the
 * top L bits for both families and one set of helpers serves both.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carve.h"

#define NS_PER_S 1000000000LL
#define VALUE_MAX 128 /* bytes of one level value */
/* Blocks of a family one host may need: a plan lists them all, and a
 * host needing more is a mistake (blocks far too small), not a plan. */
#define HOST_BLOCKS_MAX 65536

const struct strata_cfg_key topo_config_keys[] = {
	{
		.name = "pools",
		.type = STRATA_CFG_STRINGS,
		.flags = STRATA_CFG_REQUIRED,
		.help = "pod address pools, IPv4 and/or IPv6 prefixes "
			"(both: dual-stack), at most 16, none overlapping",
	},
	{
		.name = "levels",
		.type = STRATA_CFG_STRINGS,
		.def = "zone:2, subnet:2",
		.help = "topology levels, outer first, as FACT:BITS (2^BITS "
			"slots per parent prefix); the last is routed; 1..4",
	},
	{
		.name = "block_length",
		.type = STRATA_CFG_INT,
		.def = "26",
		.min = 16,
		.max = 32,
		.help = "prefix length of a host's IPv4 address block",
	},
	{
		.name = "block_length6",
		.type = STRATA_CFG_INT,
		.def = "122",
		.min = 64,
		.max = 128,
		.help = "prefix length of a host's IPv6 address block",
	},
	{
		.name = "reserved",
		.type = STRATA_CFG_STRINGS,
		.help = "prefixes or addresses inside the pools never handed "
			"out; a block overlapping one is never used; at most 64",
	},
	{
		.name = "cooldown",
		.type = STRATA_CFG_DURATION,
		.def = "30s",
		.min = 0,
		.max = 3600 * NS_PER_S,
		.help = "a released pod address is not reused for this long",
	},
	{
		.name = "grace",
		.type = STRATA_CFG_DURATION,
		.def = "0",
		.min = 0,
		.max = 365 * 86400 * NS_PER_S,
		.help = "0: a lapsed host keeps its blocks until stratactl host "
			"remove; else they return to the subnet after this long",
	},
	{
		.name = "gateway",
		.type = STRATA_CFG_BOOL,
		.def = "false",
		.help = "true: a gateway with no pods (it installs the cloud "
			"routes): it reads the carving but claims no blocks "
			"and hands out no address",
	},
	{ .name = NULL },
};

/* -- 128-bit numbers ---------------------------------------------------- */

struct u128 {
	uint64_t hi, lo;
};

static const struct u128 U128_ZERO = { 0, 0 };
static const struct u128 U128_ONES = { UINT64_MAX, UINT64_MAX };

static struct u128 u128_of(uint64_t v)
{
	return (struct u128){ .hi = 0, .lo = v };
}

static struct u128 u128_shl(struct u128 v, unsigned n)
{
	if (n >= 128)
		return U128_ZERO;
	if (n >= 64)
		return (struct u128){ .hi = v.lo << (n - 64), .lo = 0 };
	if (n == 0)
		return v;
	return (struct u128){ .hi = v.hi << n | v.lo >> (64 - n),
			      .lo = v.lo << n };
}

static struct u128 u128_shr(struct u128 v, unsigned n)
{
	if (n >= 128)
		return U128_ZERO;
	if (n >= 64)
		return (struct u128){ .hi = 0, .lo = v.hi >> (n - 64) };
	if (n == 0)
		return v;
	return (struct u128){ .hi = v.hi >> n,
			      .lo = v.lo >> n | v.hi << (64 - n) };
}

static struct u128 u128_and(struct u128 a, struct u128 b)
{
	return (struct u128){ .hi = a.hi & b.hi, .lo = a.lo & b.lo };
}

static struct u128 u128_or(struct u128 a, struct u128 b)
{
	return (struct u128){ .hi = a.hi | b.hi, .lo = a.lo | b.lo };
}

static struct u128 u128_not(struct u128 a)
{
	return (struct u128){ .hi = ~a.hi, .lo = ~a.lo };
}

static struct u128 u128_add(struct u128 a, struct u128 b)
{
	struct u128 r = { .hi = a.hi + b.hi, .lo = a.lo + b.lo };

	r.hi += r.lo < a.lo;
	return r;
}

static struct u128 u128_sub(struct u128 a, struct u128 b)
{
	struct u128 r = { .hi = a.hi - b.hi, .lo = a.lo - b.lo };

	r.hi -= a.lo < b.lo;
	return r;
}

static int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static bool u128_eq(struct u128 a, struct u128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

/* The top len bits set. */
static struct u128 mask_top(unsigned len)
{
	return u128_shl(U128_ONES, 128 - len);
}

/* The low n bits set. */
static struct u128 mask_low(unsigned n)
{
	return u128_shr(U128_ONES, 128 - n);
}

static uint64_t u128_sat(struct u128 v)
{
	return v.hi ? UINT64_MAX : v.lo;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static unsigned family_bits(uint8_t family)
{
	return family == STRATA_AF_INET ? 32 : 128;
}

static struct u128 addr_load(uint8_t family, const uint8_t *addr)
{
	unsigned n = family == STRATA_AF_INET ? 4 : 16, i;
	struct u128 v = U128_ZERO;

	for (i = 0; i < 8; i++)
		v.hi = v.hi << 8 | (i < n ? addr[i] : 0);
	for (i = 8; i < 16; i++)
		v.lo = v.lo << 8 | (i < n ? addr[i] : 0);
	return v;
}

static void addr_store(struct u128 v, uint8_t family, uint8_t *addr)
{
	unsigned n = family == STRATA_AF_INET ? 4 : 16, i;

	for (i = 0; i < 16; i++) {
		uint64_t w = i < 8 ? v.hi : v.lo;

		addr[i] = i < n ? (uint8_t)(w >> (8 * (7 - i % 8))) : 0;
	}
}

static struct u128 pfx_base(const struct strata_prefix *p)
{
	return u128_and(addr_load(p->family, p->addr), mask_top(p->len));
}

static struct u128 pfx_last(const struct strata_prefix *p)
{
	return u128_or(pfx_base(p), u128_not(mask_top(p->len)));
}

static void pfx_make(struct strata_prefix *out, uint8_t family, unsigned len,
		     struct u128 v)
{
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->len = (uint8_t)len;
	addr_store(u128_and(v, mask_top(len)), family, out->addr);
}

/* inner lies inside outer (or is it). */
static bool pfx_contains(const struct strata_prefix *outer,
			 const struct strata_prefix *inner)
{
	return outer->family == inner->family && inner->len >= outer->len &&
	       u128_eq(u128_and(pfx_base(inner), mask_top(outer->len)),
		       pfx_base(outer));
}

static bool pfx_overlap(const struct strata_prefix *a,
			const struct strata_prefix *b)
{
	return pfx_contains(a, b) || pfx_contains(b, a);
}

static void pfx_text(const struct strata_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6,
		       p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, (unsigned)p->len);
}

/* -- errors --------------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Appends to a message under construction, truncating quietly. */
static void append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* -- config --------------------------------------------------------------- */

int topo_family_index(uint8_t family)
{
	if (family == STRATA_AF_INET)
		return TOPO_V4;
	if (family == STRATA_AF_INET6)
		return TOPO_V6;
	return -1;
}

/* "10.0.0.0/16", or a bare address when single is allowed. */
static int parse_prefix(const char *text, bool single,
			struct strata_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;

	if (!text || strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	memset(out, 0, sizeof(*out));
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = STRATA_AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = STRATA_AF_INET6;
	else
		return -EINVAL;
	if (!slash) {
		if (!single)
			return -EINVAL;
		out->len = (uint8_t)family_bits(out->family);
		return 0;
	}
	if (!isdigit((unsigned char)slash[1]))
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || len > family_bits(out->family))
		return -EINVAL;
	out->len = (uint8_t)len;
	return 0;
}

static bool host_bits_zero(const struct strata_prefix *p)
{
	return u128_eq(addr_load(p->family, p->addr), pfx_base(p));
}

static int load_pools(const struct strata_host *host,
		      struct strata_instance *inst, struct topo_config *c,
		      char *err, size_t errlen)
{
	char a[64], b[64];
	int n = host->cfg_strings_count(inst, "pools");
	uint32_t i, j;

	if (n <= 0) {
		seterr(err, errlen, "pools: at least one pool is required");
		return -EINVAL;
	}
	if (n > TOPO_MAX_POOLS) {
		seterr(err, errlen, "pools: %d given, at most %d", n,
		       TOPO_MAX_POOLS);
		return -EINVAL;
	}
	for (i = 0; i < (uint32_t)n; i++) {
		const char *t = host->cfg_strings_at(inst, "pools", i);
		struct strata_prefix *p = &c->pools[i];

		if (parse_prefix(t, false, p)) {
			seterr(err, errlen,
			       "pools[%u]: \"%s\" is not a prefix such as "
			       "10.112.0.0/16 or fd00:10::/48", i, t ? t : "");
			return -EINVAL;
		}
		if (!host_bits_zero(p)) {
			struct strata_prefix m = *p;

			pfx_make(&m, p->family, p->len, pfx_base(p));
			pfx_text(&m, a, sizeof(a));
			seterr(err, errlen,
			       "pools[%u]: %s has host bits set (did you mean "
			       "%s?)", i, t, a);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (!pfx_overlap(&c->pools[j], p))
				continue;
			pfx_text(p, a, sizeof(a));
			pfx_text(&c->pools[j], b, sizeof(b));
			seterr(err, errlen, "pools[%u]: %s overlaps pools[%u] %s",
			       i, a, j, b);
			return -EINVAL;
		}
		c->family[topo_family_index(p->family)] = true;
	}
	c->n_pools = (uint32_t)n;
	return 0;
}

static bool fact_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > TOPO_FACT_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

static int load_levels(const struct strata_host *host,
		       struct strata_instance *inst, struct topo_config *c,
		       char *err, size_t errlen)
{
	int n = host->cfg_strings_count(inst, "levels");
	uint32_t i, j;

	if (n <= 0) {
		seterr(err, errlen, "levels: at least one level is required");
		return -EINVAL;
	}
	if (n > TOPO_MAX_LEVELS) {
		seterr(err, errlen, "levels: %d given, at most %d", n,
		       TOPO_MAX_LEVELS);
		return -EINVAL;
	}
	for (i = 0; i < (uint32_t)n; i++) {
		const char *t = host->cfg_strings_at(inst, "levels", i);
		struct topo_level *l = &c->levels[i];
		const char *colon = t ? strchr(t, ':') : NULL;
		unsigned long bits;
		char *end;

		if (!colon || !isdigit((unsigned char)colon[1])) {
			seterr(err, errlen,
			       "levels[%u]: \"%s\" is not FACT:BITS such as "
			       "\"zone:2\"", i, t ? t : "");
			return -EINVAL;
		}
		if (!fact_name_ok(t, (size_t)(colon - t))) {
			seterr(err, errlen,
			       "levels[%u]: fact \"%.*s\" is not 1 to %d of "
			       "[a-z0-9-]", i, (int)(colon - t), t,
			       TOPO_FACT_MAX);
			return -EINVAL;
		}
		errno = 0;
		bits = strtoul(colon + 1, &end, 10);
		if (errno || *end || bits < 1 || bits > 24) {
			seterr(err, errlen,
			       "levels[%u]: bits \"%s\" out of 1..24", i,
			       colon + 1);
			return -EINVAL;
		}
		memcpy(l->fact, t, (size_t)(colon - t));
		l->fact[colon - t] = '\0';
		l->bits = (uint32_t)bits;
		for (j = 0; j < i; j++) {
			if (strcmp(c->levels[j].fact, l->fact))
				continue;
			seterr(err, errlen,
			       "levels[%u]: fact \"%s\" is already levels[%u]",
			       i, l->fact, j);
			return -EINVAL;
		}
	}
	c->n_levels = (uint32_t)n;
	return 0;
}

static int load_int(const struct strata_host *host,
		    struct strata_instance *inst, const char *key,
		    int64_t min, int64_t max, uint32_t *out, char *err,
		    size_t errlen)
{
	int64_t v;
	int rc = host->cfg_int(inst, key, &v);

	if (rc) {
		seterr(err, errlen, "%s: not set (%s)", key, strerror(-rc));
		return -EINVAL;
	}
	if (v < min || v > max) {
		seterr(err, errlen, "%s: %lld out of %lld..%lld", key,
		       (long long)v, (long long)min, (long long)max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int load_duration(const struct strata_host *host,
			 struct strata_instance *inst, const char *key,
			 int64_t max, const char *max_text, int64_t *out,
			 char *err, size_t errlen)
{
	int rc = host->cfg_duration(inst, key, out);

	if (rc == -ENOENT) {
		*out = 0;
		return 0;
	}
	if (rc) {
		seterr(err, errlen, "%s: not a duration (%s)", key,
		       strerror(-rc));
		return -EINVAL;
	}
	if (*out < 0 || *out > max) {
		seterr(err, errlen, "%s: out of 0..%s", key, max_text);
		return -EINVAL;
	}
	return 0;
}

static int load_reserved(const struct strata_host *host,
			 struct strata_instance *inst, struct topo_config *c,
			 char *err, size_t errlen)
{
	int n = host->cfg_strings_count(inst, "reserved");
	uint32_t i, j;

	if (n == -ENOENT || n == 0)
		return 0;
	if (n < 0) {
		seterr(err, errlen, "reserved: not a list of strings");
		return -EINVAL;
	}
	if (n > TOPO_MAX_RESERVED) {
		seterr(err, errlen, "reserved: %d given, at most %d", n,
		       TOPO_MAX_RESERVED);
		return -EINVAL;
	}
	for (i = 0; i < (uint32_t)n; i++) {
		const char *t = host->cfg_strings_at(inst, "reserved", i);
		struct strata_prefix *r = &c->reserved[i];

		if (parse_prefix(t, true, r)) {
			seterr(err, errlen,
			       "reserved[%u]: \"%s\" is not an address or a "
			       "prefix", i, t ? t : "");
			return -EINVAL;
		}
		if (!host_bits_zero(r)) {
			seterr(err, errlen,
			       "reserved[%u]: %s has host bits set", i, t);
			return -EINVAL;
		}
		for (j = 0; j < c->n_pools; j++)
			if (pfx_contains(&c->pools[j], r))
				break;
		if (j == c->n_pools) {
			seterr(err, errlen,
			       "reserved[%u]: %s lies in no pool", i, t);
			return -EINVAL;
		}
	}
	c->n_reserved = (uint32_t)n;
	return 0;
}

/* Every pool's routed prefixes must hold at least one block. */
static int check_room(const struct topo_config *c, char *err, size_t errlen)
{
	static const char *const key[2] = { "block_length", "block_length6" };
	char pool[64], bits[TOPO_MAX_LEVELS * (TOPO_FACT_MAX + 16)];
	uint32_t i, d, routed;

	for (i = 0; i < c->n_pools; i++) {
		int f = topo_family_index(c->pools[i].family);

		routed = topo_len_at(c, i, c->n_levels);
		if (routed <= c->block_len[f])
			continue;
		bits[0] = '\0';
		for (d = 0; d < c->n_levels; d++)
			append(bits, sizeof(bits), "%s%s:%u", d ? " + " : "",
			       c->levels[d].fact, c->levels[d].bits);
		pfx_text(&c->pools[i], pool, sizeof(pool));
		seterr(err, errlen,
		       "levels: %s bits below pools[%u] %s make /%u %s "
		       "prefixes, smaller than one /%u block (%s): give the "
		       "levels fewer bits, use a larger pool or a longer %s",
		       bits, i, pool, routed,
		       c->levels[c->n_levels - 1].fact, c->block_len[f],
		       key[f], key[f]);
		return -EINVAL;
	}
	return 0;
}

int topo_config_load(const struct strata_host *host,
		     struct strata_instance *inst, struct topo_config *c,
		     char *err, size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = load_pools(host, inst, c, err, errlen);
	if (!rc)
		rc = load_levels(host, inst, c, err, errlen);
	if (!rc)
		rc = load_int(host, inst, "block_length", 16, 32,
			      &c->block_len[TOPO_V4], err, errlen);
	if (!rc)
		rc = load_int(host, inst, "block_length6", 64, 128,
			      &c->block_len[TOPO_V6], err, errlen);
	if (!rc)
		rc = load_reserved(host, inst, c, err, errlen);
	if (!rc)
		rc = load_duration(host, inst, "cooldown", 3600 * NS_PER_S,
				   "1h", &c->cooldown_ns, err, errlen);
	if (!rc)
		rc = load_duration(host, inst, "grace",
				   365 * 86400 * NS_PER_S, "365d",
				   &c->grace_ns, err, errlen);
	if (!rc)
		rc = check_room(c, err, errlen);
	if (!rc) {
		int gw = 0;

		rc = host->cfg_bool(inst, "gateway", &gw);
		if (rc == -ENOENT)
			rc = 0;
		else if (rc)
			snprintf(err, errlen, "gateway: %s", strerror(-rc));
		c->gateway = gw;
	}
	if (rc)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* -- arithmetic ----------------------------------------------------------- */

uint32_t topo_len_at(const struct topo_config *c, uint32_t pool,
		     uint32_t depth)
{
	uint32_t len, d;

	if (pool >= c->n_pools)
		return 0;
	len = c->pools[pool].len;
	for (d = 0; d < depth && d < c->n_levels; d++)
		len += c->levels[d].bits;
	return len;
}

int topo_child(const struct topo_config *c, const struct strata_prefix *parent,
	       uint32_t depth, uint64_t index, struct strata_prefix *out)
{
	uint32_t bits, len;

	if (depth < 1 || depth > c->n_levels ||
	    topo_family_index(parent->family) < 0)
		return -EINVAL;
	bits = c->levels[depth - 1].bits;
	len = parent->len + bits;
	if (len > family_bits(parent->family) || index >> bits)
		return -ERANGE;
	pfx_make(out, parent->family, len,
		 u128_or(pfx_base(parent),
			 u128_shl(u128_of(index), 128 - len)));
	return 0;
}

/* The block length for a prefix's family, 0 for no family. */
static unsigned block_len_of(const struct topo_config *c, uint8_t family)
{
	int f = topo_family_index(family);

	return f < 0 ? 0 : c->block_len[f];
}

/* Blocks in p as a 128-bit number; only a ::/0 pool of /128 blocks would
 * hold 2^128, counted as 2^128 - 1 (routed prefixes are never /0). */
static struct u128 block_count128(const struct topo_config *c,
				  const struct strata_prefix *p)
{
	unsigned blen = block_len_of(c, p->family);

	if (!blen || p->len > blen)
		return U128_ZERO;
	if (blen - p->len >= 128)
		return U128_ONES;
	return u128_shl(u128_of(1), blen - p->len);
}

uint64_t topo_block_count(const struct topo_config *c,
			  const struct strata_prefix *routed)
{
	return u128_sat(block_count128(c, routed));
}

int topo_block_at(const struct topo_config *c,
		  const struct strata_prefix *routed, uint64_t index,
		  struct strata_prefix *out)
{
	unsigned blen = block_len_of(c, routed->family);

	if (!blen || routed->len > blen)
		return -EINVAL;
	if (blen - routed->len < 64 && index >> (blen - routed->len))
		return -ERANGE;
	pfx_make(out, routed->family, blen,
		 u128_or(pfx_base(routed),
			 u128_shl(u128_of(index), 128 - blen)));
	return 0;
}

/* The index of the block holding address v inside p. */
static struct u128 index_in(const struct strata_prefix *p, unsigned blen,
			    struct u128 v)
{
	return u128_and(u128_shr(v, 128 - blen), mask_low(blen - p->len));
}

uint64_t topo_block_index(const struct topo_config *c,
			  const struct strata_prefix *routed,
			  const struct strata_prefix *block)
{
	unsigned blen = block_len_of(c, routed->family);

	if (!blen || block->len != blen || routed->len > blen ||
	    !pfx_contains(routed, block))
		return UINT64_MAX;
	return u128_sat(index_in(routed, blen, pfx_base(block)));
}

bool topo_block_reserved(const struct topo_config *c,
			 const struct strata_prefix *block)
{
	uint32_t i;

	for (i = 0; i < c->n_reserved; i++)
		if (pfx_overlap(&c->reserved[i], block))
			return true;
	return false;
}

uint64_t topo_block_addrs(const struct topo_config *c, int family_index)
{
	unsigned host_bits;

	if (family_index != TOPO_V4 && family_index != TOPO_V6)
		return 0;
	host_bits = (family_index == TOPO_V4 ? 32 : 128) -
		    c->block_len[family_index];
	return host_bits >= 64 ? UINT64_MAX : (uint64_t)1 << host_bits;
}

/* A range of block indexes, inclusive. */
struct span {
	struct u128 lo, hi;
};

static int span_cmp(const void *a, const void *b)
{
	return u128_cmp(((const struct span *)a)->lo,
			((const struct span *)b)->lo);
}

/* The reserved blocks of p as sorted, merged spans; out holds
 * TOPO_MAX_RESERVED. */
static size_t reserved_spans(const struct topo_config *c,
			     const struct strata_prefix *p, struct span *out)
{
	unsigned blen = block_len_of(c, p->family);
	size_t n = 0, m = 0, i;

	if (!blen || p->len > blen)
		return 0;
	for (i = 0; i < c->n_reserved; i++) {
		const struct strata_prefix *r = &c->reserved[i];
		const struct strata_prefix *inner;

		if (!pfx_overlap(r, p))
			continue;
		inner = pfx_contains(r, p) ? p : r;
		out[n].lo = index_in(p, blen, pfx_base(inner));
		out[n].hi = index_in(p, blen, pfx_last(inner));
		n++;
	}
	if (n)
		qsort(out, n, sizeof(*out), span_cmp);
	for (i = 0; i < n; i++) {
		if (m && u128_cmp(out[i].lo,
				  u128_add(out[m - 1].hi, u128_of(1))) <= 0 &&
		    !u128_eq(out[m - 1].hi, U128_ONES)) {
			if (u128_cmp(out[i].hi, out[m - 1].hi) > 0)
				out[m - 1].hi = out[i].hi;
			continue;
		}
		if (m && u128_eq(out[m - 1].hi, U128_ONES))
			continue;
		out[m++] = out[i];
	}
	return m;
}

/* Blocks in the spans, at most 2^128 - 1. */
static struct u128 spans_total(const struct span *s, size_t n)
{
	struct u128 total = U128_ZERO, d;
	size_t i;

	for (i = 0; i < n; i++) {
		d = u128_add(u128_sub(s[i].hi, s[i].lo), u128_of(1));
		if (u128_eq(d, U128_ZERO) ||
		    u128_cmp(u128_add(total, d), total) < 0)
			return U128_ONES;
		total = u128_add(total, d);
	}
	return total;
}

static uint64_t reserved_count(const struct topo_config *c,
			       const struct strata_prefix *p)
{
	struct span s[TOPO_MAX_RESERVED];

	return u128_sat(spans_total(s, reserved_spans(c, p, s)));
}

/* -- paths ---------------------------------------------------------------- */

int topo_path(const struct topo_config *c, topo_fact_fn fact, void *arg,
	      char *path, size_t path_len, char *err, size_t errlen)
{
	size_t used = 0, len;
	uint32_t d;

	if (!path_len)
		return -ENAMETOOLONG;
	path[0] = '\0';
	for (d = 0; d < c->n_levels; d++) {
		const char *name = c->levels[d].fact;
		const char *v = fact(arg, name);

		if (!v) {
			seterr(err, errlen, "no fact \"%s\" (level %u of levels)",
			       name, d + 1);
			return -ENOENT;
		}
		len = strlen(v);
		if (!len || len > VALUE_MAX || strchr(v, '/')) {
			seterr(err, errlen,
			       "fact \"%s\" (level %u of levels): \"%.*s\" %s",
			       name, d + 1, VALUE_MAX, v,
			       !len ? "is empty" :
			       len > VALUE_MAX ? "is longer than 128 bytes" :
						 "has a '/'");
			return -EINVAL;
		}
		if (used + (d ? 1 : 0) + len + 1 > path_len) {
			seterr(err, errlen, "path longer than %zu bytes",
			       path_len - 1);
			return -ENAMETOOLONG;
		}
		if (d)
			path[used++] = '/';
		memcpy(path + used, v, len + 1);
		used += len;
	}
	return 0;
}

/* -- the planner ---------------------------------------------------------- */

struct cnode {
	uint32_t depth;
	struct cnode *parent;
	const char *path; /* into a host's path, path_len bytes */
	size_t path_len;
	uint32_t n_children;
	size_t n_hosts;
	bool held[TOPO_MAX_POOLS];
	struct strata_prefix pfx[TOPO_MAX_POOLS];
	uint64_t used[TOPO_MAX_POOLS]; /* child slots taken in pfx[p] */
	uint64_t blocks_used;
	uint64_t addrs_used;
};

struct chost {
	const struct strata_topo_host *h;
	char path[TOPO_PATH_MAX];
	size_t comp_end[TOPO_MAX_LEVELS]; /* path length up to level d */
	struct cnode *leaf;
	uint64_t n_blocks[2];
	struct u128 start[2]; /* first block index in the routed prefix */
};

struct carve {
	const struct topo_config *c;
	struct chost *hosts;
	struct chost **order;
	size_t n;
	struct cnode *nodes;
	size_t n_nodes;
	size_t depth_first[TOPO_MAX_LEVELS + 2]; /* nodes of depth d */
	char *err;
	size_t errlen;
};

static const char *host_fact(void *arg, const char *name)
{
	const struct strata_topo_host *h = arg;
	uint32_t i;

	for (i = 0; h->facts && i < h->n_facts; i++)
		if (h->facts[i].name && !strcmp(h->facts[i].name, name))
			return h->facts[i].value;
	return NULL;
}

/* Component by component: '/' sorts before every other byte. */
static int path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = *a == '/' ? 1 : *a ? (unsigned char)*a + 1 : 0;
		int y = *b == '/' ? 1 : *b ? (unsigned char)*b + 1 : 0;

		if (x != y)
			return x - y;
		if (!x)
			return 0;
	}
}

static int host_cmp_name(const void *a, const void *b)
{
	const struct chost *x = *(const struct chost *const *)a;
	const struct chost *y = *(const struct chost *const *)b;

	return strcmp(x->h->name, y->h->name);
}

static int host_cmp_path(const void *a, const void *b)
{
	const struct chost *x = *(const struct chost *const *)a;
	const struct chost *y = *(const struct chost *const *)b;
	int r = path_cmp(x->path, y->path);

	return r ? r : strcmp(x->h->name, y->h->name);
}

static uint64_t slots_of(const struct topo_config *c, uint32_t depth)
{
	return (uint64_t)1 << c->levels[depth - 1].bits;
}

/* node could take a prefix in pool p it does not hold yet. */
static bool can_obtain(const struct carve *cv, const struct cnode *node,
		       uint32_t p)
{
	const struct cnode *parent = node->parent;

	if (!parent)
		return false;
	if (parent->held[p])
		return parent->used[p] < slots_of(cv->c, node->depth);
	return can_obtain(cv, parent, p);
}

static int obtain(struct carve *cv, struct cnode *node, uint32_t p)
{
	struct cnode *parent = node->parent;
	int rc;

	if (!parent->held[p]) {
		rc = obtain(cv, parent, p);
		if (rc)
			return rc;
	}
	rc = topo_child(cv->c, &parent->pfx[p], node->depth,
			parent->used[p], &node->pfx[p]);
	if (rc)
		return rc;
	parent->used[p]++;
	node->held[p] = true;
	node->used[p] = 0;
	return 0;
}

static void pools_text(const struct topo_config *c, int f, char *buf,
		       size_t len)
{
	char p[64];
	uint32_t i;
	bool first = true;

	buf[0] = '\0';
	for (i = 0; i < c->n_pools; i++) {
		if (topo_family_index(c->pools[i].family) != f)
			continue;
		pfx_text(&c->pools[i], p, sizeof(p));
		append(buf, len, "%s%s", first ? "" : ", ", p);
		first = false;
	}
}

static void level_full(struct carve *cv, const struct cnode *node, int f)
{
	const struct topo_config *c = cv->c;
	const struct cnode *parent = node->parent;
	const char *lvl = c->levels[node->depth - 1].fact;
	uint32_t bits = c->levels[node->depth - 1].bits;
	char pools[TOPO_MAX_POOLS * 48];
	uint32_t p, held = 0;

	pools_text(c, f, pools, sizeof(pools));
	if (node->depth == 1) {
		seterr(cv->err, cv->errlen,
		       "level %s is full: %u %ss need %u slots but %u bits "
		       "give %llu per pool and no pool has room (pools: %s); "
		       "give %s more bits or add a pool",
		       lvl, parent->n_children, lvl, parent->n_children, bits,
		       (unsigned long long)slots_of(c, node->depth), pools,
		       lvl);
		return;
	}
	for (p = 0; p < c->n_pools; p++)
		held += parent->held[p] &&
			topo_family_index(c->pools[p].family) == f;
	seterr(cv->err, cv->errlen,
	       "level %s is full in %s %.*s: %u %ss need %u slots but %u bits "
	       "give %llu per %s prefix, it holds %u and no pool has room for "
	       "another (pools: %s); give %s more bits or add a pool",
	       lvl, c->levels[parent->depth - 1].fact,
	       (int)parent->path_len, parent->path, parent->n_children, lvl,
	       parent->n_children, bits,
	       (unsigned long long)slots_of(c, node->depth),
	       c->levels[parent->depth - 1].fact, held, pools, lvl);
}

/* node takes one slot of family f under its parent: the first pool, in
 * config order, that has room. */
static int take_slot(struct carve *cv, struct cnode *node, int f)
{
	const struct topo_config *c = cv->c;
	struct cnode *parent = node->parent;
	uint32_t p;

	for (p = 0; p < c->n_pools; p++) {
		if (topo_family_index(c->pools[p].family) != f)
			continue;
		if (parent->held[p] &&
		    parent->used[p] >= slots_of(c, node->depth))
			continue;
		if (!parent->held[p] && !can_obtain(cv, parent, p))
			continue;
		return obtain(cv, node, p);
	}
	level_full(cv, node, f);
	return -ENOSPC;
}

static uint64_t blocks_for(const struct topo_config *c, uint32_t pods, int f)
{
	uint64_t per = topo_block_addrs(c, f);
	uint64_t k = pods / per + (pods % per != 0);

	return k ? k : 1;
}

/* The routed node's prefix of family f, or NULL. */
static const struct strata_prefix *routed_pfx(const struct topo_config *c,
					      const struct cnode *node, int f)
{
	uint32_t p;

	for (p = 0; p < c->n_pools; p++)
		if (node->held[p] &&
		    topo_family_index(c->pools[p].family) == f)
			return &node->pfx[p];
	return NULL;
}

/* Moves cur past the reserved spans it stands in. */
static void skip_reserved(const struct span *s, size_t ns, size_t *j,
			  struct u128 *cur)
{
	while (*j < ns && u128_cmp(*cur, s[*j].hi) > 0)
		(*j)++;
	while (*j < ns && u128_cmp(*cur, s[*j].lo) >= 0) {
		*cur = u128_add(s[*j].hi, u128_of(1));
		(*j)++;
	}
}

/*
 * Moves cur past k free blocks (skipping the spans from *j on), writing
 * them to out when it is not NULL.
 */
static void walk_blocks(const struct topo_config *c,
			const struct strata_prefix *routed,
			const struct span *s, size_t ns, size_t *j,
			struct u128 *cur, uint64_t k,
			struct strata_prefix *out)
{
	unsigned blen = block_len_of(c, routed->family);
	uint64_t i = 0;

	while (i < k) {
		struct u128 run;
		uint64_t take, t;

		skip_reserved(s, ns, j, cur);
		take = k - i;
		if (*j < ns) {
			run = u128_sub(s[*j].lo, *cur);
			if (!run.hi && run.lo < take)
				take = run.lo;
		}
		for (t = 0; out && t < take; t++)
			pfx_make(&out[i + t], routed->family, blen,
				 u128_or(pfx_base(routed),
					 u128_shl(u128_add(*cur, u128_of(t)),
						  128 - blen)));
		*cur = u128_add(*cur, u128_of(take));
		i += take;
	}
}

/* Hosts of one routed node (name order) take their blocks of family f. */
static int place_hosts(struct carve *cv, struct cnode *node, size_t first,
		       int f)
{
	const struct topo_config *c = cv->c;
	const struct strata_prefix *r = routed_pfx(c, node, f);
	struct span s[TOPO_MAX_RESERVED];
	size_t ns, j = 0, i;
	struct u128 total, reserved, free_, need = U128_ZERO, cur = U128_ZERO;
	char rt[64];

	ns = reserved_spans(c, r, s);
	reserved = spans_total(s, ns);
	total = block_count128(c, r);
	free_ = u128_sub(total, reserved);
	for (i = 0; i < node->n_hosts; i++) {
		struct chost *h = cv->order[first + i];

		h->n_blocks[f] = blocks_for(c, h->h->pods, f);
		need = u128_add(need, u128_of(h->n_blocks[f]));
	}
	if (u128_cmp(need, free_) > 0) {
		pfx_text(r, rt, sizeof(rt));
		seterr(cv->err, cv->errlen,
		       "%s %.*s (%s) is full: %zu hosts need %llu blocks of "
		       "/%u but it holds %llu (%llu reserved); give the %s "
		       "level fewer bits (a larger prefix) or use a larger "
		       "pool",
		       c->levels[node->depth - 1].fact, (int)node->path_len,
		       node->path, rt, node->n_hosts,
		       (unsigned long long)u128_sat(need), c->block_len[f],
		       (unsigned long long)u128_sat(total),
		       (unsigned long long)u128_sat(reserved),
		       c->levels[node->depth - 1].fact);
		return -ENOSPC;
	}
	for (i = 0; i < node->n_hosts; i++) {
		struct chost *h = cv->order[first + i];
		struct cnode *a;

		skip_reserved(s, ns, &j, &cur);
		h->start[f] = cur;
		walk_blocks(c, r, s, ns, &j, &cur, h->n_blocks[f], NULL);
		for (a = node; a; a = a->parent)
			a->blocks_used = sat_add(a->blocks_used,
						 h->n_blocks[f]);
	}
	return 0;
}

static bool same_prefix(const struct chost *a, const struct chost *b,
			uint32_t d)
{
	size_t len = a->comp_end[d - 1];

	return len == b->comp_end[d - 1] && !memcmp(a->path, b->path, len);
}

/* Builds the nodes from the hosts sorted by path. */
static int build_tree(struct carve *cv)
{
	const struct topo_config *c = cv->c;
	struct cnode *cur[TOPO_MAX_LEVELS + 1];
	size_t count[TOPO_MAX_LEVELS + 1] = { 1 }, next[TOPO_MAX_LEVELS + 1];
	size_t i;
	uint32_t d;

	for (i = 0; i < cv->n; i++)
		for (d = 1; d <= c->n_levels; d++)
			if (!i || !same_prefix(cv->order[i - 1], cv->order[i],
					       d))
				count[d]++;
	cv->n_nodes = 0;
	for (d = 0; d <= c->n_levels; d++) {
		cv->depth_first[d] = cv->n_nodes;
		next[d] = cv->n_nodes;
		cv->n_nodes += count[d];
	}
	cv->depth_first[c->n_levels + 1] = cv->n_nodes;
	cv->nodes = calloc(cv->n_nodes, sizeof(*cv->nodes));
	if (!cv->nodes)
		return -ENOMEM;
	cur[0] = &cv->nodes[next[0]++];
	cur[0]->path = "";
	for (i = 0; i < c->n_pools; i++) {
		cur[0]->held[i] = true;
		cur[0]->pfx[i] = c->pools[i];
	}
	for (i = 0; i < cv->n; i++) {
		struct chost *h = cv->order[i];

		for (d = 1; d <= c->n_levels; d++) {
			struct cnode *nd;

			if (i && same_prefix(cv->order[i - 1], h, d))
				continue;
			nd = &cv->nodes[next[d]++];
			nd->depth = d;
			nd->parent = cur[d - 1];
			nd->path = h->path;
			nd->path_len = h->comp_end[d - 1];
			nd->parent->n_children++;
			cur[d] = nd;
		}
		h->leaf = cur[c->n_levels];
		for (d = 0; d <= c->n_levels; d++) {
			cur[d]->n_hosts++;
			cur[d]->addrs_used =
				sat_add(cur[d]->addrs_used, h->h->pods);
		}
	}
	return 0;
}

static void report_node(const struct carve *cv, const struct cnode *node,
			const struct strata_topo_sink *sink)
{
	const struct topo_config *c = cv->c;
	struct strata_prefix pfx[TOPO_MAX_POOLS];
	char path[TOPO_PATH_MAX];
	struct strata_topo_node out = {
		.size = sizeof(out),
		.depth = node->depth,
		.level = node->depth ? c->levels[node->depth - 1].fact :
				       "cluster",
		.path = path,
		.routed = node->depth == c->n_levels,
		.prefixes = pfx,
		.blocks_used = node->blocks_used,
		.addrs_used = node->addrs_used,
	};
	uint32_t p;

	memcpy(path, node->path, node->path_len);
	path[node->path_len] = '\0';
	for (p = 0; p < c->n_pools; p++) {
		if (!node->held[p])
			continue;
		pfx[out.n_prefixes++] = node->pfx[p];
		out.blocks_total = sat_add(out.blocks_total,
					   topo_block_count(c, &node->pfx[p]));
		out.blocks_reserved =
			sat_add(out.blocks_reserved,
				reserved_count(c, &node->pfx[p]));
	}
	if (sink->node)
		sink->node(sink->arg, &out);
}

static int report_host(const struct carve *cv, const struct chost *h,
		       const struct strata_topo_sink *sink)
{
	const struct topo_config *c = cv->c;
	struct strata_topo_blocks out = {
		.size = sizeof(out),
		.name = h->h->name,
		.path = h->path,
		.addrs_used = h->h->pods,
	};
	struct strata_prefix *blocks;
	uint64_t n = h->n_blocks[TOPO_V4] + h->n_blocks[TOPO_V6];
	size_t at = 0;
	int f;

	if (n > SIZE_MAX / sizeof(*blocks))
		return -ENOMEM;
	blocks = calloc((size_t)n, sizeof(*blocks));
	if (!blocks)
		return -ENOMEM;
	for (f = TOPO_V4; f <= TOPO_V6; f++) {
		const struct strata_prefix *r;
		struct span s[TOPO_MAX_RESERVED];
		struct u128 cur = h->start[f];
		size_t ns, j = 0;

		if (!h->n_blocks[f])
			continue;
		r = routed_pfx(c, h->leaf, f);
		ns = reserved_spans(c, r, s);
		walk_blocks(c, r, s, ns, &j, &cur, h->n_blocks[f],
			    blocks + at);
		at += (size_t)h->n_blocks[f];
	}
	out.n_addrs = h->h->n_addrs < STRATA_TOPO_MAX_ADDRS ?
			      h->h->n_addrs :
			      STRATA_TOPO_MAX_ADDRS;
	memcpy(out.addrs, h->h->addrs, sizeof(out.addrs));
	out.blocks = blocks;
	out.n_blocks = at;
	if (sink->host)
		sink->host(sink->arg, &out);
	free(blocks);
	return 0;
}

static int check_pods(struct carve *cv, const struct strata_topo_host *h)
{
	static const char *const key[2] = { "block_length", "block_length6" };
	uint64_t k;
	int f;

	for (f = TOPO_V4; f <= TOPO_V6; f++) {
		if (!cv->c->family[f])
			continue;
		k = blocks_for(cv->c, h->pods, f);
		if (k <= HOST_BLOCKS_MAX)
			continue;
		seterr(cv->err, cv->errlen,
		       "host %s: %u pods need %llu blocks of /%u, more than "
		       "%d a host; use larger blocks (a shorter %s)",
		       h->name, h->pods, (unsigned long long)k,
		       cv->c->block_len[f], HOST_BLOCKS_MAX, key[f]);
		return -EINVAL;
	}
	return 0;
}

static int read_hosts(struct carve *cv, const struct strata_topo_host *hosts)
{
	char why[256];
	size_t i;
	uint32_t d;
	int rc;

	for (i = 0; i < cv->n; i++) {
		struct chost *h = &cv->hosts[i];
		size_t at = 0;

		h->h = &hosts[i];
		cv->order[i] = h;
		if (!h->h->name || !*h->h->name) {
			seterr(cv->err, cv->errlen, "hosts[%zu]: no name", i);
			return -EINVAL;
		}
		rc = topo_path(cv->c, host_fact, (void *)h->h, h->path,
			       sizeof(h->path), why, sizeof(why));
		if (rc) {
			seterr(cv->err, cv->errlen, "host %s: %s", h->h->name,
			       why);
			return rc;
		}
		for (d = 0; d < cv->c->n_levels; d++) {
			at += strcspn(h->path + at, "/");
			h->comp_end[d] = at;
			at++;
		}
		rc = check_pods(cv, h->h);
		if (rc)
			return rc;
	}
	if (cv->n)
		qsort(cv->order, cv->n, sizeof(*cv->order), host_cmp_name);
	for (i = 1; i < cv->n; i++) {
		if (strcmp(cv->order[i - 1]->h->name, cv->order[i]->h->name))
			continue;
		seterr(cv->err, cv->errlen, "host %s: listed twice",
		       cv->order[i]->h->name);
		return -EINVAL;
	}
	if (cv->n)
		qsort(cv->order, cv->n, sizeof(*cv->order), host_cmp_path);
	return 0;
}

int topo_carve(const struct topo_config *c, const struct strata_topo_host *hosts,
	       size_t n, const struct strata_topo_sink *sink, char *err,
	       size_t errlen)
{
	struct carve cv = {
		.c = c,
		.n = n,
		.err = err,
		.errlen = errlen,
	};
	size_t i, first;
	uint32_t d;
	int rc = -ENOMEM, f;

	if (!c->n_pools || !c->n_levels || !sink || (n && !hosts)) {
		seterr(err, errlen, "no config, sink or hosts to carve");
		return -EINVAL;
	}
	cv.hosts = calloc(n ? n : 1, sizeof(*cv.hosts));
	cv.order = calloc(n ? n : 1, sizeof(*cv.order));
	if (!cv.hosts || !cv.order)
		goto free_hosts;
	rc = read_hosts(&cv, hosts);
	if (rc)
		goto free_hosts;
	rc = build_tree(&cv);
	if (rc)
		goto free_hosts;
	/* depth by depth, nodes in path order: the slots */
	for (d = 1; d <= c->n_levels; d++) {
		for (i = cv.depth_first[d]; i < cv.depth_first[d + 1]; i++) {
			for (f = TOPO_V4; f <= TOPO_V6; f++) {
				if (!c->family[f])
					continue;
				rc = take_slot(&cv, &cv.nodes[i], f);
				if (rc)
					goto free_nodes;
			}
		}
	}
	/* the hosts of each routed node, in name order: their blocks */
	first = 0;
	for (i = cv.depth_first[c->n_levels]; i < cv.n_nodes; i++) {
		struct cnode *node = &cv.nodes[i];

		for (f = TOPO_V4; f <= TOPO_V6; f++) {
			if (!c->family[f])
				continue;
			rc = place_hosts(&cv, node, first, f);
			if (rc)
				goto free_nodes;
		}
		first += node->n_hosts;
	}
	for (i = 0; i < cv.n_nodes; i++)
		report_node(&cv, &cv.nodes[i], sink);
	for (i = 0; i < n; i++) {
		rc = report_host(&cv, cv.order[i], sink);
		if (rc)
			goto free_nodes;
	}
	rc = 0;
free_nodes:
	free(cv.nodes);
free_hosts:
	free(cv.order);
	free(cv.hosts);
	if (rc == -ENOMEM)
		seterr(err, errlen, "out of memory");
	return rc;
}
