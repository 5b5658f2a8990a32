/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route planner (plan.h). Prefixes are handled as 128-bit integers
 * (IPv4 in the top 32 bits, so a prefix length means the same bits in both
 * families) in arrays sorted by family and address: overlap checks,
 * aggregation and "the blocks inside a prefix" are then a sort, scans and
 * binary searches, never a pairwise comparison.
 */
#include "plan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough to see what is wrong; the rest is counted in one last line. */
#define MAX_PROBLEMS 256
#define DEFAULT_ANNOUNCERS 2u
#define NO_HOST UINT32_MAX

struct pfx {
	uint64_t hi, lo;
	uint32_t host; /* owner (blocks) or group (group prefixes) */
	uint8_t fam;   /* PLAN_V4 or PLAN_V6 */
	uint8_t len;
};

struct plan {
	struct plan_input in;
	uint32_t budget[2];
	enum plan_cloud_mode mode[2];
	enum plan_bgp_mode bgp_mode;

	struct pfx *agg; /* every host's aggregated blocks, sorted */
	size_t n_agg;
	uint32_t *host_agg_off; /* n_hosts + 1, into host_agg */
	uint32_t *host_agg;     /* agg indices, grouped by host */
	uint32_t *grp_off;      /* n_groups + 1, into grp_hosts */
	uint32_t *grp_hosts;    /* host indices, grouped by group */
	size_t (*grp_agg)[2][2]; /* per group and family: [begin, end) of agg */
	uint32_t *own_kernel;   /* per host: its blocks its peers route */
	uint64_t *grp_kernel;   /* per group: the sum of own_kernel */

	struct plan_group_stats *stats;
	struct plan_cloud_route *cloud;
	size_t n_cloud;
	struct plan_bgp_route *bgp;
	size_t n_bgp;
	uint32_t *bgp_hosts;

	char **problems;
	size_t n_problems;
	size_t problems_dropped;
};

/* What plan_build needs only while it runs. */
struct build {
	struct plan *p;
	const struct plan_options *opt;
	struct pfx *blocks; /* every block, sorted */
	size_t n_blocks;
	struct pfx (*gpfx)[2]; /* per group and family; len 255: none */
	uint32_t *names;       /* open addressing: host index + 1, 0 empty */
	uint32_t names_mask;
	uint64_t *name_hash;
	uint32_t *elig_off[2]; /* n_groups + 1, into elig */
	uint32_t *elig[2];     /* healthy hosts with an address of the family */
	uint32_t *mark;        /* per host: stamp of the last pass using it */
	uint32_t stamp;
	struct pfx *prior;     /* sorted by dst; host: index into opt->prior */
	size_t n_prior;
};

#define NO_LEN 255

/* ---- 128-bit prefix arithmetic -------------------------------------- */

static void mask_of(unsigned len, uint64_t *mh, uint64_t *ml)
{
	if (len == 0)
		*mh = 0;
	else
		*mh = len >= 64 ? UINT64_MAX : UINT64_MAX << (64 - len);
	if (len <= 64)
		*ml = 0;
	else
		*ml = len >= 128 ? UINT64_MAX : UINT64_MAX << (128 - len);
}

static unsigned fam_bits(int f)
{
	return f == PLAN_V6 ? 128 : 32;
}

static int fam_index(uint8_t family)
{
	if (family == STRATA_AF_INET)
		return PLAN_V4;
	if (family == STRATA_AF_INET6)
		return PLAN_V6;
	return -1;
}

static const char *fam_name(int f)
{
	return f == PLAN_V6 ? "IPv6" : "IPv4";
}

static uint64_t be_load(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

static void be_store(uint8_t *b, unsigned n, uint64_t v)
{
	while (n--) {
		b[n] = (uint8_t)v;
		v >>= 8;
	}
}

/* -EINVAL for a family, length or host bits that make no prefix. */
static int pfx_load(const struct strata_prefix *in, struct pfx *out)
{
	uint64_t mh, ml;
	int f = fam_index(in->family);

	if (f < 0 || in->len > fam_bits(f))
		return -EINVAL;
	out->fam = (uint8_t)f;
	out->len = in->len;
	if (f == PLAN_V4) {
		out->hi = be_load(in->addr, 4) << 32;
		out->lo = 0;
	} else {
		out->hi = be_load(in->addr, 8);
		out->lo = be_load(in->addr + 8, 8);
	}
	mask_of(out->len, &mh, &ml);
	return (out->hi & ~mh) || (out->lo & ~ml) ? -EINVAL : 0;
}

static void pfx_store(const struct pfx *x, struct strata_prefix *out)
{
	memset(out, 0, sizeof(*out));
	out->len = x->len;
	if (x->fam == PLAN_V4) {
		out->family = STRATA_AF_INET;
		be_store(out->addr, 4, x->hi >> 32);
	} else {
		out->family = STRATA_AF_INET6;
		be_store(out->addr, 8, x->hi);
		be_store(out->addr + 8, 8, x->lo);
	}
}

static const char *pfx_fmt(const struct pfx *x, char *buf, size_t len)
{
	struct strata_prefix sp;
	char a[INET6_ADDRSTRLEN];

	pfx_store(x, &sp);
	if (!inet_ntop(x->fam == PLAN_V4 ? AF_INET : AF_INET6, sp.addr, a,
		       sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, x->len);
	return buf;
}

/* b lies inside a (or is a). */
static bool pfx_contains(const struct pfx *a, const struct pfx *b)
{
	uint64_t mh, ml;

	if (a->fam != b->fam || b->len < a->len)
		return false;
	mask_of(a->len, &mh, &ml);
	return (b->hi & mh) == a->hi && (b->lo & ml) == a->lo;
}

/* The bit that tells the two halves of a prefix of length len - 1 apart. */
static void len_bit(unsigned len, uint64_t *bh, uint64_t *bl)
{
	*bh = len >= 1 && len <= 64 ? 1ull << (64 - len) : 0;
	*bl = len > 64 ? 1ull << (128 - len) : 0;
}

/* a and b are the two halves of one prefix, a the lower, same owner. */
static bool pfx_siblings(const struct pfx *a, const struct pfx *b)
{
	uint64_t bh, bl;

	if (a->fam != b->fam || a->len != b->len || a->len == 0 ||
	    a->host != b->host)
		return false;
	len_bit(a->len, &bh, &bl);
	return !(a->hi & bh) && !(a->lo & bl) && b->hi == (a->hi | bh) &&
	       b->lo == (a->lo | bl);
}

/* Part i of 2^k of prefix x. */
static struct pfx pfx_part(const struct pfx *x, unsigned k, uint64_t i)
{
	struct pfx r = *x;
	unsigned s = 128 - x->len - k;

	r.len = (uint8_t)(x->len + k);
	if (k == 0)
		return r;
	if (s >= 64) {
		r.hi |= i << (s - 64);
	} else if (s == 0) {
		r.lo |= i;
	} else {
		r.hi |= i >> (64 - s);
		r.lo |= i << s;
	}
	return r;
}

static int pfx_cmp(const struct pfx *a, const struct pfx *b)
{
	if (a->fam != b->fam)
		return a->fam < b->fam ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

static int pfx_qcmp(const void *a, const void *b)
{
	return pfx_cmp(a, b);
}

/* The first of arr[0..n) at or after (fam, hi, lo) in address order. */
static size_t pfx_lower(const struct pfx *arr, size_t n, uint8_t fam,
			uint64_t hi, uint64_t lo)
{
	size_t a = 0, b = n, m;

	while (a < b) {
		m = a + (b - a) / 2;
		if (arr[m].fam < fam ||
		    (arr[m].fam == fam &&
		     (arr[m].hi < hi || (arr[m].hi == hi && arr[m].lo < lo))))
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* [*begin, *end): the entries of a sorted, disjoint array inside x. */
static void pfx_range(const struct pfx *arr, size_t n, const struct pfx *x,
		      size_t *begin, size_t *end)
{
	size_t i = pfx_lower(arr, n, x->fam, x->hi, x->lo);

	*begin = i;
	while (i < n && pfx_contains(x, &arr[i]))
		i++;
	*end = i;
}

/* ---- hashing --------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const uint8_t *b = data;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_BASIS 0xcbf29ce484222325ull

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t dst_hash(const struct pfx *x)
{
	struct strata_prefix sp;

	pfx_store(x, &sp);
	return fnv1a(FNV_BASIS, &sp, sizeof(sp));
}

/* Rendezvous: the host with the highest weight for a destination wins. */
static uint64_t weight(uint64_t dst, uint64_t name)
{
	return mix64(dst ^ mix64(name));
}

static bool weight_beats(uint64_t w, const char *name, uint64_t best_w,
			 const char *best_name)
{
	if (w != best_w)
		return w > best_w;
	return strcmp(name, best_name) < 0;
}

/* ---- messages -------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static int problem(struct plan *p, const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	char **np;

	if (p->n_problems >= MAX_PROBLEMS) {
		p->problems_dropped++;
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	np = realloc(p->problems, (p->n_problems + 2) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	p->problems = np;
	np[p->n_problems] = strdup(buf);
	if (!np[p->n_problems])
		return -ENOMEM;
	np[++p->n_problems] = NULL;
	return 0;
}

/* ---- hosts ----------------------------------------------------------- */

static const struct plan_host *host_at(const struct plan *p, uint32_t h)
{
	return &p->in.hosts[h];
}

static uint32_t host_addrs(const struct plan_host *h, int f,
			   struct strata_nexthop *nh, uint32_t max)
{
	uint32_t i, n = 0;

	for (i = 0; i < h->n_addrs && i < PLAN_MAX_ADDRS; i++) {
		if (fam_index(h->addrs[i].family) != f)
			continue;
		if (nh && n < max)
			nh[n].gw = h->addrs[i];
		n++;
	}
	return n < max ? n : max;
}

static bool host_has_fam(const struct plan_host *h, int f)
{
	return host_addrs(h, f, NULL, 1) > 0;
}

static bool host_eligible(const struct plan_host *h, int f)
{
	return h->healthy && host_has_fam(h, f);
}

static uint32_t name_slot(const struct build *b, const char *name)
{
	return (uint32_t)fnv1a(FNV_BASIS, name, strlen(name)) & b->names_mask;
}

/* The host named name, or NO_HOST. */
static uint32_t name_find(const struct build *b, const char *name)
{
	const struct plan_host *hosts = b->p->in.hosts;
	uint32_t i = name_slot(b, name), v;

	while ((v = b->names[i]) != 0) {
		if (!strcmp(hosts[v - 1].name, name))
			return v - 1;
		i = (i + 1) & b->names_mask;
	}
	return NO_HOST;
}

/* ---- validation ------------------------------------------------------ */

static int check_options(const struct plan_options *opt, char *err,
			 size_t errlen)
{
	int f;

	for (f = 0; f < 2; f++) {
		if (opt->budget[f] > PLAN_MAX_BUDGET) {
			set_err(err, errlen,
				"%s: budget %u over the maximum of %u",
				fam_name(f), opt->budget[f], PLAN_MAX_BUDGET);
			return -EINVAL;
		}
	}
	if (opt->bgp_mode != PLAN_BGP_BLOCKS &&
	    opt->bgp_mode != PLAN_BGP_AGGREGATE) {
		set_err(err, errlen, "bgp mode %d unknown", (int)opt->bgp_mode);
		return -EINVAL;
	}
	return 0;
}

static const char *group_path(const struct plan *p, uint32_t g)
{
	const char *s = p->in.groups[g].path;

	return s ? s : "(unnamed)";
}

static int check_groups(struct build *b, char *err, size_t errlen)
{
	const struct plan *p = b->p;
	size_t g, n = p->in.n_groups, m = 0, i;
	struct pfx *all;
	char x[64], y[64];
	uint32_t j;
	int f;

	b->gpfx = calloc(n ? n : 1, sizeof(*b->gpfx));
	all = calloc(n ? 2 * n : 1, sizeof(*all));
	if (!b->gpfx || !all) {
		free(all);
		return -ENOMEM;
	}
	for (g = 0; g < n; g++) {
		const struct plan_group *gr = &p->in.groups[g];

		b->gpfx[g][0].len = b->gpfx[g][1].len = NO_LEN;
		if (gr->n_prefixes && !gr->prefixes) {
			set_err(err, errlen, "group %s: no prefix array",
				group_path(p, (uint32_t)g));
			goto invalid;
		}
		for (j = 0; j < gr->n_prefixes; j++) {
			struct pfx v;

			if (pfx_load(&gr->prefixes[j], &v)) {
				set_err(err, errlen,
					"group %s: prefix %u is not a valid prefix",
					group_path(p, (uint32_t)g), j);
				goto invalid;
			}
			f = v.fam;
			if (b->gpfx[g][f].len != NO_LEN) {
				set_err(err, errlen,
					"group %s: more than one %s prefix",
					group_path(p, (uint32_t)g),
					fam_name(f));
				goto invalid;
			}
			v.host = (uint32_t)g;
			b->gpfx[g][f] = v;
			all[m++] = v;
		}
	}
	if (m)
		qsort(all, m, sizeof(*all), pfx_qcmp);
	for (i = 1; i < m; i++) {
		if (!pfx_contains(&all[i - 1], &all[i]))
			continue;
		set_err(err, errlen,
			"groups %s and %s: prefixes %s and %s overlap",
			group_path(p, all[i - 1].host),
			group_path(p, all[i].host),
			pfx_fmt(&all[i - 1], x, sizeof(x)),
			pfx_fmt(&all[i], y, sizeof(y)));
		goto invalid;
	}
	free(all);
	return 0;
invalid:
	free(all);
	return -EINVAL;
}

static int check_host(struct build *b, uint32_t h, char *err, size_t errlen)
{
	const struct plan *p = b->p;
	const struct plan_host *ho = host_at(p, h);
	uint32_t i, slot;

	if (!ho->name) {
		set_err(err, errlen, "host %u: no name", h);
		return -EINVAL;
	}
	if (name_find(b, ho->name) != NO_HOST) {
		set_err(err, errlen, "host %s: the name is used twice",
			ho->name);
		return -EINVAL;
	}
	slot = name_slot(b, ho->name);
	while (b->names[slot])
		slot = (slot + 1) & b->names_mask;
	b->names[slot] = h + 1;
	b->name_hash[h] = fnv1a(FNV_BASIS, ho->name, strlen(ho->name));

	if (ho->group >= p->in.n_groups) {
		set_err(err, errlen,
			"host %s: group %u out of range (%zu groups)", ho->name,
			ho->group, p->in.n_groups);
		return -EINVAL;
	}
	if (ho->n_addrs > PLAN_MAX_ADDRS) {
		set_err(err, errlen, "host %s: %u addresses, at most %d",
			ho->name, ho->n_addrs, PLAN_MAX_ADDRS);
		return -EINVAL;
	}
	for (i = 0; i < ho->n_addrs; i++) {
		if (ho->addrs[i].family && fam_index(ho->addrs[i].family) < 0) {
			set_err(err, errlen, "host %s: address %u of family %u",
				ho->name, i, ho->addrs[i].family);
			return -EINVAL;
		}
	}
	if (ho->n_blocks && !ho->blocks) {
		set_err(err, errlen, "host %s: no block array", ho->name);
		return -EINVAL;
	}
	return 0;
}

static int check_block(struct build *b, uint32_t h, uint32_t i, char *err,
		       size_t errlen)
{
	const struct plan *p = b->p;
	const struct plan_host *ho = host_at(p, h);
	const struct pfx *gp;
	struct pfx v;
	char x[64], y[64];

	if (pfx_load(&ho->blocks[i], &v)) {
		set_err(err, errlen, "host %s: block %u is not a valid prefix",
			ho->name, i);
		return -EINVAL;
	}
	v.host = h;
	gp = &b->gpfx[ho->group][v.fam];
	if (gp->len == NO_LEN) {
		set_err(err, errlen,
			"host %s: block %s is %s but group %s has no %s prefix",
			ho->name, pfx_fmt(&v, x, sizeof(x)), fam_name(v.fam),
			group_path(p, ho->group), fam_name(v.fam));
		return -EINVAL;
	}
	if (!pfx_contains(gp, &v)) {
		set_err(err, errlen,
			"host %s: block %s lies outside %s, the prefix of group %s",
			ho->name, pfx_fmt(&v, x, sizeof(x)),
			pfx_fmt(gp, y, sizeof(y)), group_path(p, ho->group));
		return -EINVAL;
	}
	b->blocks[b->n_blocks++] = v;
	return 0;
}

static int check_input(struct build *b, char *err, size_t errlen)
{
	struct plan *p = b->p;
	size_t n = p->in.n_hosts, total = 0, i, cap = 4;
	char x[64], y[64];
	uint32_t h, j;
	int r;

	if ((p->in.n_groups && !p->in.groups) || (n && !p->in.hosts)) {
		set_err(err, errlen, "no group or host array");
		return -EINVAL;
	}
	if (n >= UINT32_MAX / 4 || p->in.n_groups >= UINT32_MAX / 4) {
		set_err(err, errlen, "%zu hosts in %zu groups: too many", n,
			p->in.n_groups);
		return -EINVAL;
	}
	r = check_groups(b, err, errlen);
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		total += p->in.hosts[i].n_blocks;
		if (total >= UINT32_MAX / 2) {
			set_err(err, errlen, "more than %u blocks",
				UINT32_MAX / 2);
			return -EINVAL;
		}
	}
	while (cap < 2 * n)
		cap <<= 1;
	b->names = calloc(cap, sizeof(*b->names));
	b->names_mask = (uint32_t)cap - 1;
	b->name_hash = calloc(n ? n : 1, sizeof(*b->name_hash));
	b->blocks = calloc(total ? total : 1, sizeof(*b->blocks));
	if (!b->names || !b->name_hash || !b->blocks)
		return -ENOMEM;
	for (h = 0; h < n; h++) {
		r = check_host(b, h, err, errlen);
		if (r)
			return r;
		for (j = 0; j < p->in.hosts[h].n_blocks; j++) {
			r = check_block(b, h, j, err, errlen);
			if (r)
				return r;
		}
	}
	if (b->n_blocks)
		qsort(b->blocks, b->n_blocks, sizeof(*b->blocks), pfx_qcmp);
	/* Sorted prefixes overlap only if one holds the next one. */
	for (i = 1; i < b->n_blocks; i++) {
		const struct pfx *a = &b->blocks[i - 1], *c = &b->blocks[i];

		if (!pfx_contains(a, c))
			continue;
		set_err(err, errlen,
			"hosts %s and %s: blocks %s and %s overlap",
			host_at(p, a->host)->name, host_at(p, c->host)->name,
			pfx_fmt(a, x, sizeof(x)), pfx_fmt(c, y, sizeof(y)));
		return -EINVAL;
	}
	return 0;
}

/* ---- aggregation and indexes ----------------------------------------- */

/*
 * In address order, a stack merges the top two entries while they are
 * sibling halves of one owner: whole aligned runs of a host's blocks
 * collapse into their parent, repeatedly, and the result stays sorted.
 */
static int aggregate(struct build *b)
{
	struct plan *p = b->p;
	size_t i, n = 0;

	p->agg = calloc(b->n_blocks ? b->n_blocks : 1, sizeof(*p->agg));
	if (!p->agg)
		return -ENOMEM;
	for (i = 0; i < b->n_blocks; i++) {
		p->agg[n++] = b->blocks[i];
		while (n >= 2 && pfx_siblings(&p->agg[n - 2], &p->agg[n - 1])) {
			n--;
			p->agg[n - 1].len--;
		}
	}
	p->n_agg = n;
	return 0;
}

/* Counting sort: idx of items by key, offsets off[0..nkeys]. */
static int bucket(size_t nkeys, size_t nitems,
		  uint32_t (*key)(const struct plan *, size_t),
		  const struct plan *p, uint32_t **off_out, uint32_t **idx_out)
{
	uint32_t *off = calloc(nkeys + 1, sizeof(*off));
	uint32_t *idx = calloc(nitems ? nitems : 1, sizeof(*idx));
	uint32_t *pos;
	size_t i;

	if (!off || !idx)
		goto free_arrays;
	for (i = 0; i < nitems; i++)
		off[key(p, i) + 1]++;
	for (i = 0; i < nkeys; i++)
		off[i + 1] += off[i];
	pos = malloc((nkeys ? nkeys : 1) * sizeof(*pos));
	if (!pos)
		goto free_arrays;
	memcpy(pos, off, nkeys * sizeof(*pos));
	for (i = 0; i < nitems; i++)
		idx[pos[key(p, i)]++] = (uint32_t)i;
	free(pos);
	*off_out = off;
	*idx_out = idx;
	return 0;
free_arrays:
	free(off);
	free(idx);
	return -ENOMEM;
}

static uint32_t key_agg_host(const struct plan *p, size_t i)
{
	return p->agg[i].host;
}

static uint32_t key_host_group(const struct plan *p, size_t i)
{
	return p->in.hosts[i].group;
}

static int index_plan(struct build *b)
{
	struct plan *p = b->p;
	size_t ng = p->in.n_groups, nh = p->in.n_hosts, g, i;
	uint32_t h, k, min_own;
	int f, r;

	r = bucket(nh, p->n_agg, key_agg_host, p, &p->host_agg_off,
		   &p->host_agg);
	if (r)
		return r;
	r = bucket(ng, nh, key_host_group, p, &p->grp_off, &p->grp_hosts);
	if (r)
		return r;
	p->grp_agg = calloc(ng ? ng : 1, sizeof(*p->grp_agg));
	p->own_kernel = calloc(nh ? nh : 1, sizeof(*p->own_kernel));
	p->grp_kernel = calloc(ng ? ng : 1, sizeof(*p->grp_kernel));
	p->stats = calloc(ng ? ng : 1, sizeof(*p->stats));
	if (!p->grp_agg || !p->own_kernel || !p->grp_kernel || !p->stats)
		return -ENOMEM;
	for (i = 0; i < p->n_agg; i++) {
		h = p->agg[i].host;
		if (host_has_fam(host_at(p, h), p->agg[i].fam)) {
			p->own_kernel[h]++;
			p->grp_kernel[host_at(p, h)->group]++;
		}
	}
	for (g = 0; g < ng; g++) {
		for (f = 0; f < 2; f++) {
			if (b->gpfx[g][f].len == NO_LEN)
				continue;
			pfx_range(p->agg, p->n_agg, &b->gpfx[g][f],
				  &p->grp_agg[g][f][0], &p->grp_agg[g][f][1]);
		}
		p->stats[g].hosts = p->grp_off[g + 1] - p->grp_off[g];
		min_own = UINT32_MAX;
		for (k = p->grp_off[g]; k < p->grp_off[g + 1]; k++) {
			h = p->grp_hosts[k];
			if (p->own_kernel[h] < min_own)
				min_own = p->own_kernel[h];
		}
		if (p->stats[g].hosts)
			p->stats[g].kernel_routes_max =
				p->grp_kernel[g] - min_own;
	}
	for (f = 0; f < 2; f++) {
		b->elig_off[f] = calloc(ng + 1, sizeof(*b->elig_off[f]));
		b->elig[f] = calloc(nh ? nh : 1, sizeof(*b->elig[f]));
		if (!b->elig_off[f] || !b->elig[f])
			return -ENOMEM;
		k = 0;
		for (g = 0; g < ng; g++) {
			for (i = p->grp_off[g]; i < p->grp_off[g + 1]; i++) {
				h = p->grp_hosts[i];
				if (host_eligible(host_at(p, h), f))
					b->elig[f][k++] = h;
			}
			b->elig_off[f][g + 1] = k;
		}
	}
	b->mark = calloc(nh ? nh : 1, sizeof(*b->mark));
	return b->mark ? 0 : -ENOMEM;
}

static int load_prior(struct build *b)
{
	const struct plan_options *opt = b->opt;
	size_t i;

	if (!opt->prior || !opt->n_prior)
		return 0;
	b->prior = calloc(opt->n_prior, sizeof(*b->prior));
	if (!b->prior)
		return -ENOMEM;
	for (i = 0; i < opt->n_prior; i++) {
		struct pfx v;

		if (!opt->prior[i].host || pfx_load(&opt->prior[i].dst, &v))
			continue;
		v.host = (uint32_t)i;
		b->prior[b->n_prior++] = v;
	}
	if (b->n_prior)
		qsort(b->prior, b->n_prior, sizeof(*b->prior), pfx_qcmp);
	return 0;
}

/* The host the prior plan chose for exactly dst, or NO_HOST. */
static uint32_t prior_host(const struct build *b, const struct pfx *dst)
{
	const struct pfx *x;
	size_t i = pfx_lower(b->prior, b->n_prior, dst->fam, dst->hi, dst->lo);

	for (; i < b->n_prior; i++) {
		x = &b->prior[i];
		if (x->fam != dst->fam || x->hi != dst->hi || x->lo != dst->lo)
			break;
		if (x->len == dst->len)
			return name_find(b, b->opt->prior[x->host].host);
	}
	return NO_HOST;
}

/* ---- cloud scope ----------------------------------------------------- */

struct cand {
	uint32_t group;
	uint32_t hosts;    /* the group's hosts: what its parts carry */
	uint32_t eligible; /* healthy hosts with an address of the family */
	uint32_t k;
	uint32_t limit; /* parts never longer than this (the largest block) */
	bool open;
	struct pfx prefix;
};

static int add_cloud(struct plan *p, const struct pfx *dst, uint32_t group,
		     uint32_t host)
{
	struct plan_cloud_route *r;

	r = realloc(p->cloud, (p->n_cloud + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	p->cloud = r;
	r = &p->cloud[p->n_cloud++];
	pfx_store(dst, &r->dst);
	r->group = group;
	r->host = host;
	r->standby = PLAN_NO_HOST;
	p->stats[group].cloud_routes[dst->fam]++;
	return 0;
}

static int cloud_per_host(struct plan *p, int f)
{
	size_t i;
	int r;

	for (i = 0; i < p->n_agg; i++) {
		const struct pfx *a = &p->agg[i];

		if (a->fam != f || !host_has_fam(host_at(p, a->host), f))
			continue;
		r = add_cloud(p, a, host_at(p, a->host)->group, a->host);
		if (r)
			return r;
	}
	return 0;
}

/* More hosts per current part than b; ties go to the first path. */
static bool cand_before(const struct plan *p, const struct cand *a,
			const struct cand *b)
{
	uint64_t x = (uint64_t)a->hosts << b->k, y = (uint64_t)b->hosts << a->k;
	int c;

	if (x != y)
		return x > y;
	c = strcmp(group_path(p, a->group), group_path(p, b->group));
	return c ? c < 0 : a->group < b->group;
}

/* Raise k one group at a time while the budget and the group allow. */
static void spread(const struct plan *p, struct cand *c, size_t n,
		   uint32_t used, uint32_t budget)
{
	size_t i, best, iter;

	for (iter = 0; iter < n + budget + 1; iter++) {
		best = n;
		for (i = 0; i < n; i++) {
			if (c[i].open &&
			    (best == n || cand_before(p, &c[i], &c[best])))
				best = i;
		}
		if (best == n)
			return;
		if (used + (1u << c[best].k) > budget ||
		    c[best].eligible < (2u << c[best].k) ||
		    c[best].prefix.len + c[best].k + 1 > c[best].limit) {
			c[best].open = false;
			continue;
		}
		used += 1u << c[best].k;
		c[best].k++;
	}
}

/* The best unused eligible host for part, preferring its blocks' owners. */
static uint32_t rendezvous(const struct build *b, const struct cand *c,
			   const struct pfx *part, int f)
{
	const struct plan *p = b->p;
	uint64_t dh = dst_hash(part), w, best_w = 0;
	uint32_t best = NO_HOST, h, k;
	size_t i, end;

	pfx_range(b->blocks, b->n_blocks, part, &i, &end);
	for (; i < end; i++) {
		h = b->blocks[i].host;
		if (b->mark[h] == b->stamp || !host_eligible(host_at(p, h), f))
			continue;
		w = weight(dh, b->name_hash[h]);
		if (best == NO_HOST ||
		    weight_beats(w, host_at(p, h)->name, best_w,
				 host_at(p, best)->name)) {
			best = h;
			best_w = w;
		}
	}
	if (best != NO_HOST)
		return best;
	for (k = b->elig_off[f][c->group]; k < b->elig_off[f][c->group + 1];
	     k++) {
		h = b->elig[f][k];
		if (b->mark[h] == b->stamp)
			continue;
		w = weight(dh, b->name_hash[h]);
		if (best == NO_HOST ||
		    weight_beats(w, host_at(p, h)->name, best_w,
				 host_at(p, best)->name)) {
			best = h;
			best_w = w;
		}
	}
	return best;
}

/* Each part of the group to a different host: the prior's first. */
static int assign_parts(struct build *b, const struct cand *c, int f,
			uint32_t *chosen)
{
	struct plan *p = b->p;
	uint32_t n = 1u << c->k, i, h;
	size_t first = p->n_cloud;
	struct pfx part;
	int r;

	b->stamp++;
	for (i = 0; i < n; i++) {
		chosen[i] = NO_HOST;
		if (!b->n_prior)
			continue;
		part = pfx_part(&c->prefix, c->k, i);
		h = prior_host(b, &part);
		if (h == NO_HOST || host_at(p, h)->group != c->group ||
		    !host_eligible(host_at(p, h), f) || b->mark[h] == b->stamp)
			continue;
		chosen[i] = h;
		b->mark[h] = b->stamp;
	}
	for (i = 0; i < n; i++) {
		part = pfx_part(&c->prefix, c->k, i);
		if (chosen[i] == NO_HOST) {
			chosen[i] = rendezvous(b, c, &part, f);
			if (chosen[i] == NO_HOST)
				continue; /* no eligible host: named later */
			b->mark[chosen[i]] = b->stamp;
		}
		r = add_cloud(p, &part, c->group, chosen[i]);
		if (r)
			return r;
	}
	/* every chosen host is marked now: each part's runner-up is where
	 * it goes when its host fails and the others stay */
	for (size_t j = first; j < p->n_cloud; j++) {
		if (pfx_load(&p->cloud[j].dst, &part))
			continue;
		h = rendezvous(b, c, &part, f);
		p->cloud[j].standby = h == NO_HOST ? PLAN_NO_HOST : h;
	}
	p->stats[c->group].split_bits[f] = c->k;
	return 0;
}

static int cloud_per_group(struct build *b, int f, char *err, size_t errlen)
{
	struct plan *p = b->p;
	uint32_t budget = p->budget[f], used = 0, *chosen = NULL;
	size_t g, n = 0, i;
	struct cand *c;
	int r = 0;

	for (g = 0; g < p->in.n_groups; g++)
		n += b->gpfx[g][f].len != NO_LEN;
	if (n > budget) {
		set_err(err, errlen,
			"%s: %zu subnets need %zu cloud routes at least, budget %u: raise the budget (up to %u) or group hosts into fewer subnets",
			fam_name(f), n, n, budget, PLAN_MAX_BUDGET);
		return -ENOSPC;
	}
	c = calloc(n ? n : 1, sizeof(*c));
	chosen = calloc(budget + 1, sizeof(*chosen));
	if (!c || !chosen) {
		r = -ENOMEM;
		goto free_cands;
	}
	n = 0;
	for (g = 0; g < p->in.n_groups; g++) {
		struct cand *x = &c[n];
		size_t bb, be;

		if (b->gpfx[g][f].len == NO_LEN)
			continue;
		x->group = (uint32_t)g;
		x->prefix = b->gpfx[g][f];
		x->hosts = p->grp_off[g + 1] - p->grp_off[g];
		x->eligible = b->elig_off[f][g + 1] - b->elig_off[f][g];
		x->limit = x->prefix.len;
		pfx_range(b->blocks, b->n_blocks, &x->prefix, &bb, &be);
		if (bb < be)
			x->limit = fam_bits(f);
		for (; bb < be; bb++) {
			if (b->blocks[bb].len < x->limit)
				x->limit = b->blocks[bb].len;
		}
		x->open = x->eligible >= 2;
		used += x->eligible > 0;
		n++;
	}
	if (!b->opt->no_spread)
		spread(p, c, n, used, budget);
	for (i = 0; i < n; i++) {
		r = assign_parts(b, &c[i], f, chosen);
		if (r)
			break;
	}
free_cands:
	free(chosen);
	free(c);
	return r;
}

static int plan_cloud(struct build *b, char *err, size_t errlen)
{
	struct plan *p = b->p;
	size_t g, i, routable;
	bool prefixes;
	int f, r;

	for (f = 0; f < 2; f++) {
		prefixes = false;
		for (g = 0; g < p->in.n_groups && !prefixes; g++)
			prefixes = b->gpfx[g][f].len != NO_LEN;
		if (!prefixes) {
			p->mode[f] = PLAN_CLOUD_NONE;
			continue;
		}
		routable = 0;
		for (i = 0; i < p->n_agg; i++) {
			if (p->agg[i].fam == f &&
			    host_has_fam(host_at(p, p->agg[i].host), f))
				routable++;
		}
		if (!b->opt->no_per_host && routable <= p->budget[f]) {
			p->mode[f] = PLAN_CLOUD_PER_HOST;
			r = cloud_per_host(p, f);
		} else {
			p->mode[f] = PLAN_CLOUD_PER_GROUP;
			r = cloud_per_group(b, f, err, errlen);
		}
		if (r)
			return r;
	}
	return 0;
}

/* ---- BGP scope ------------------------------------------------------- */

struct ranked {
	uint64_t w;
	const char *name;
	uint32_t host;
};

static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int add_bgp(struct plan *p, size_t *cap, const struct pfx *dst,
		   uint32_t group, const uint32_t *hosts, uint32_t n_hosts)
{
	struct plan_bgp_route *r;

	if (p->n_bgp == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		r = realloc(p->bgp, *cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		p->bgp = r;
	}
	r = &p->bgp[p->n_bgp++];
	pfx_store(dst, &r->dst);
	r->group = group;
	r->n_hosts = n_hosts;
	r->hosts = hosts;
	return 0;
}

static int bgp_aggregate(struct build *b, size_t *cap, uint32_t *nh_used)
{
	struct plan *p = b->p;
	uint32_t want = b->opt->bgp_announcers ? b->opt->bgp_announcers :
						 DEFAULT_ANNOUNCERS;
	struct ranked *rk;
	uint32_t k, n, i;
	size_t g;
	int f, r;

	rk = calloc(p->in.n_hosts ? p->in.n_hosts : 1, sizeof(*rk));
	if (!rk)
		return -ENOMEM;
	for (f = 0; f < 2; f++) {
		for (g = 0; g < p->in.n_groups; g++) {
			const struct pfx *gp = &b->gpfx[g][f];
			uint64_t dh;

			if (gp->len == NO_LEN)
				continue;
			dh = dst_hash(gp);
			n = 0;
			for (k = b->elig_off[f][g]; k < b->elig_off[f][g + 1];
			     k++) {
				uint32_t h = b->elig[f][k];

				rk[n].w = weight(dh, b->name_hash[h]);
				rk[n].name = host_at(p, h)->name;
				rk[n++].host = h;
			}
			if (!n)
				continue; /* named with the cloud's problems */
			qsort(rk, n, sizeof(*rk), ranked_cmp);
			if (n > want)
				n = want;
			r = add_bgp(p, cap, gp, (uint32_t)g,
				    p->bgp_hosts + *nh_used, n);
			if (r)
				goto free_ranked;
			for (i = 0; i < n; i++)
				p->bgp_hosts[(*nh_used)++] = rk[i].host;
		}
	}
	r = 0;
free_ranked:
	free(rk);
	return r;
}

static int plan_bgp(struct build *b)
{
	struct plan *p = b->p;
	size_t cap = 0, i;
	uint32_t used = 0;
	int r = 0;

	/*
	 * Sized once, so routes can point into it: at most one announcer
	 * per host and family, or one per block.
	 */
	p->bgp_hosts = calloc(2 * p->in.n_hosts + p->n_agg + 1,
			      sizeof(*p->bgp_hosts));
	if (!p->bgp_hosts)
		return -ENOMEM;
	p->bgp_mode = b->opt->bgp_mode;
	if (p->bgp_mode == PLAN_BGP_AGGREGATE)
		return bgp_aggregate(b, &cap, &used);
	for (i = 0; i < p->n_agg && !r; i++) {
		const struct pfx *a = &p->agg[i];
		const struct plan_host *h = host_at(p, a->host);

		if (!host_has_fam(h, a->fam))
			continue;
		p->bgp_hosts[used] = a->host;
		r = add_bgp(p, &cap, a, h->group, p->bgp_hosts + used, 1);
		used++;
	}
	return r;
}

/* ---- problems -------------------------------------------------------- */

static int find_problems(struct build *b)
{
	struct plan *p = b->p;
	size_t g, i;
	uint32_t h;
	int f, r;

	for (g = 0; g < p->in.n_groups; g++) {
		for (f = 0; f < 2; f++) {
			if (b->gpfx[g][f].len == NO_LEN ||
			    b->elig_off[f][g + 1] > b->elig_off[f][g])
				continue;
			if (p->mode[f] != PLAN_CLOUD_PER_GROUP &&
			    b->opt->bgp_mode != PLAN_BGP_AGGREGATE)
				continue;
			r = problem(p, "%s: no healthy host for %s",
				    group_path(p, (uint32_t)g), fam_name(f));
			if (r)
				return r;
		}
	}
	for (h = 0; h < p->in.n_hosts; h++) {
		bool seen[2] = { false, false };

		for (i = p->host_agg_off[h]; i < p->host_agg_off[h + 1]; i++) {
			f = p->agg[p->host_agg[i]].fam;
			if (seen[f] || host_has_fam(host_at(p, h), f))
				continue;
			seen[f] = true;
			r = problem(p, "%s: host %s has %s blocks but no %s address: nothing routes to them",
				    group_path(p, host_at(p, h)->group),
				    host_at(p, h)->name, fam_name(f),
				    fam_name(f));
			if (r)
				return r;
		}
	}
	if (p->problems_dropped) {
		p->n_problems--;
		free(p->problems[p->n_problems]);
		p->problems[p->n_problems] = NULL;
		p->problems_dropped++;
		r = problem(p, "and %zu more problems", p->problems_dropped);
		if (r)
			return r;
	}
	return 0;
}

/* ---- the plan -------------------------------------------------------- */

static int strata_prefix_cmp(const struct strata_prefix *a,
			     const struct strata_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int cloud_qcmp(const void *a, const void *b)
{
	const struct plan_cloud_route *x = a, *y = b;

	return strata_prefix_cmp(&x->dst, &y->dst);
}

static int bgp_qcmp(const void *a, const void *b)
{
	const struct plan_bgp_route *x = a, *y = b;

	return strata_prefix_cmp(&x->dst, &y->dst);
}

static void build_free(struct build *b)
{
	free(b->blocks);
	free(b->gpfx);
	free(b->names);
	free(b->name_hash);
	free(b->elig_off[0]);
	free(b->elig_off[1]);
	free(b->elig[0]);
	free(b->elig[1]);
	free(b->mark);
	free(b->prior);
}

int plan_build(const struct plan_input *in, const struct plan_options *opt,
	       struct plan **out, char *err, size_t errlen)
{
	static const struct plan_options defaults;
	struct build b = { .opt = opt ? opt : &defaults };
	struct plan *p;
	int f, r;

	if (!in || !out) {
		set_err(err, errlen, "no input");
		return -EINVAL;
	}
	*out = NULL;
	r = check_options(b.opt, err, errlen);
	if (r)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	b.p = p;
	p->in = *in;
	for (f = 0; f < 2; f++)
		p->budget[f] = b.opt->budget[f] ? b.opt->budget[f] :
						  PLAN_DEFAULT_BUDGET;
	r = check_input(&b, err, errlen);
	if (!r)
		r = aggregate(&b);
	if (!r)
		r = index_plan(&b);
	if (!r)
		r = load_prior(&b);
	if (!r)
		r = plan_cloud(&b, err, errlen);
	if (!r)
		r = plan_bgp(&b);
	if (!r)
		r = find_problems(&b);
	build_free(&b);
	if (r) {
		if (r == -ENOMEM)
			set_err(err, errlen, "out of memory");
		plan_free(p);
		return r;
	}
	/* Routes made from the sorted blocks are in order already. */
	if (p->n_cloud && (p->mode[PLAN_V4] == PLAN_CLOUD_PER_GROUP ||
			   p->mode[PLAN_V6] == PLAN_CLOUD_PER_GROUP))
		qsort(p->cloud, p->n_cloud, sizeof(*p->cloud), cloud_qcmp);
	if (p->n_bgp && p->bgp_mode == PLAN_BGP_AGGREGATE)
		qsort(p->bgp, p->n_bgp, sizeof(*p->bgp), bgp_qcmp);
	*out = p;
	return 0;
}

void plan_free(struct plan *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_problems; i++)
		free(p->problems[i]);
	free(p->problems);
	free(p->agg);
	free(p->host_agg_off);
	free(p->host_agg);
	free(p->grp_off);
	free(p->grp_hosts);
	free(p->grp_agg);
	free(p->own_kernel);
	free(p->grp_kernel);
	free(p->stats);
	free(p->cloud);
	free(p->bgp);
	free(p->bgp_hosts);
	free(p);
}

enum plan_cloud_mode plan_cloud_mode(const struct plan *p, int family_index)
{
	if (!p || family_index < 0 || family_index > 1)
		return PLAN_CLOUD_NONE;
	return p->mode[family_index];
}

uint32_t plan_cloud_budget(const struct plan *p, int family_index)
{
	if (!p || family_index < 0 || family_index > 1)
		return 0;
	return p->budget[family_index];
}

const struct plan_cloud_route *plan_cloud_routes(const struct plan *p,
						 size_t *n)
{
	*n = p ? p->n_cloud : 0;
	return p ? p->cloud : NULL;
}

const struct plan_bgp_route *plan_bgp_routes(const struct plan *p, size_t *n)
{
	*n = p ? p->n_bgp : 0;
	return p ? p->bgp : NULL;
}

const struct plan_group_stats *plan_group_stats(const struct plan *p,
						uint32_t group)
{
	if (!p || group >= p->in.n_groups)
		return NULL;
	return &p->stats[group];
}

const char *plan_problem(const struct plan *p, size_t i)
{
	if (!p || i >= p->n_problems)
		return NULL;
	return p->problems[i];
}

/* Returns how many choices there are; fills at most max of them. */
size_t plan_choices(const struct plan *p, struct plan_choice *out,
		    size_t max)
{
	size_t i, n = 0;

	if (!p)
		return 0;
	for (i = 0; i < p->n_cloud; i++) {
		const struct plan_cloud_route *r = &p->cloud[i];
		int f = fam_index(r->dst.family);

		if (f < 0 || p->mode[f] != PLAN_CLOUD_PER_GROUP)
			continue;
		if (out && n < max) {
			out[n].dst = r->dst;
			out[n].host = host_at(p, r->host)->name;
		}
		n++;
	}
	return n;
}

uint64_t plan_host_kernel_count(const struct plan *p, uint32_t host)
{
	if (!p || host >= p->in.n_hosts)
		return 0;
	return p->grp_kernel[host_at(p, host)->group] - p->own_kernel[host];
}

static void route_init(struct strata_route *r, uint32_t scope)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->scope = scope;
}

/* dst with next hops: host's addresses of the family; false if none. */
static bool route_fill(struct strata_route *r, const struct pfx *dst,
		       const struct plan_host *h, uint32_t max)
{
	memset(r->nh, 0, sizeof(r->nh));
	pfx_store(dst, &r->dst);
	r->n_nexthops = host_addrs(h, dst->fam, r->nh, max);
	return r->n_nexthops > 0;
}

int plan_host_kernel_routes(const struct plan *p, uint32_t host,
			    plan_route_cb cb, void *arg)
{
	struct strata_route r;
	size_t i;
	uint32_t g;
	int f;

	if (!p || !cb || host >= p->in.n_hosts)
		return -EINVAL;
	g = host_at(p, host)->group;
	route_init(&r, STRATA_SCOPE_KERNEL);
	for (f = 0; f < 2; f++) {
		for (i = p->grp_agg[g][f][0]; i < p->grp_agg[g][f][1]; i++) {
			const struct pfx *a = &p->agg[i];

			if (a->host == host ||
			    !route_fill(&r, a, host_at(p, a->host),
					STRATA_MAX_NEXTHOPS))
				continue;
			cb(arg, &r);
		}
	}
	return 0;
}

int plan_cloud_table(const struct plan *p, plan_route_cb cb, void *arg)
{
	struct strata_route r;
	struct pfx dst;
	size_t i;

	if (!p || !cb)
		return -EINVAL;
	route_init(&r, STRATA_SCOPE_CLOUD);
	for (i = 0; i < p->n_cloud; i++) {
		if (pfx_load(&p->cloud[i].dst, &dst) ||
		    !route_fill(&r, &dst, host_at(p, p->cloud[i].host), 1))
			continue;
		cb(arg, &r);
	}
	return 0;
}

int plan_host_bgp_routes(const struct plan *p, uint32_t host,
			 plan_route_cb cb, void *arg)
{
	struct strata_route r;
	struct pfx dst;
	size_t i;
	uint32_t k;

	if (!p || !cb || host >= p->in.n_hosts)
		return -EINVAL;
	route_init(&r, STRATA_SCOPE_BGP);
	if (p->bgp_mode == PLAN_BGP_BLOCKS) {
		for (k = p->host_agg_off[host]; k < p->host_agg_off[host + 1];
		     k++) {
			if (route_fill(&r, &p->agg[p->host_agg[k]],
				       host_at(p, host), 1))
				cb(arg, &r);
		}
		return 0;
	}
	for (i = 0; i < p->n_bgp; i++) {
		const struct plan_bgp_route *b = &p->bgp[i];

		for (k = 0; k < b->n_hosts && b->hosts[k] != host; k++)
			;
		if (k == b->n_hosts || pfx_load(&b->dst, &dst) ||
		    !route_fill(&r, &dst, host_at(p, host), 1))
			continue;
		cb(arg, &r);
	}
	return 0;
}
