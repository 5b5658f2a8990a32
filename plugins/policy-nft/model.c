/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strata-filter table as data, and the smallest nft transaction from
 * one model to another. Containers are sorted arrays: a lookup is a
 * binary search and a diff is a merge of two sorted lists. A pointer
 * returned by nftm_set(), nftm_map() or nftm_chain() stays valid until
 * the next object of the same kind is added to the same model.
 *
 * A chain's digest lives in the comment of a last rule, `return comment
 * "strata:DIGEST"`: a chain's own comment can neither be changed once the
 * chain exists (the kernel keeps the first one) nor be read back as JSON
 * by nft 1.0.6, and a trailing return does what the end of a chain does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define T NFTM_FAMILY " " NFTM_TABLE

struct nftm *nftm_new(void)
{
	return calloc(1, sizeof(struct nftm));
}

static void set_clear(struct nftm_set *s)
{
	for (size_t i = 0; i < s->n_elems; i++)
		free(s->elems[i]);
	free(s->elems);
	free(s->name);
	free(s->type);
}

static void map_clear(struct nftm_map *mp)
{
	for (size_t i = 0; i < mp->n_elems; i++) {
		free(mp->elems[i].key);
		free(mp->elems[i].verdict);
	}
	free(mp->elems);
	free(mp->name);
	free(mp->type);
}

static void chain_clear(struct nftm_chain *c)
{
	for (size_t i = 0; i < c->n_rules; i++)
		free(c->rules[i]);
	free(c->rules);
	free(c->name);
	free(c->base);
}

static void set_clear_v(void *s)
{
	set_clear(s);
}

static void chain_clear_v(void *c)
{
	chain_clear(c);
}

void nftm_free(struct nftm *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_sets; i++)
		set_clear(&m->sets[i]);
	for (size_t i = 0; i < m->n_maps; i++)
		map_clear(&m->maps[i]);
	for (size_t i = 0; i < m->n_chains; i++)
		chain_clear(&m->chains[i]);
	free(m->sets);
	free(m->maps);
	free(m->chains);
	free(m);
}

/* Room for one more of n items of size sz in *arr; 0 or -ENOMEM. */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/*
 * Binary search over n items of size sz whose first member is their name
 * (a char *): the index of name, or where it would go with *found false.
 */
static size_t lookup(const void *arr, size_t n, size_t sz, const char *name,
		     bool *found)
{
	size_t lo = 0, hi = n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *key = *(char *const *)((const char *)arr + mid * sz);
		int c = strcmp(key, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Open a gap at i in an array of n items; the caller fills it. */
static void *gap(void *arr, size_t n, size_t sz, size_t i)
{
	char *p = (char *)arr + i * sz;

	memmove(p + sz, p, (n - i) * sz);
	return p;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

struct nftm_set *nftm_set(struct nftm *m, const char *name, const char *type,
			  bool interval)
{
	struct nftm_set *s;
	bool found;
	size_t i = lookup(m->sets, m->n_sets, sizeof(*s), name, &found);

	if (found) {
		s = &m->sets[i];
		if (strcmp(s->type, type) || s->interval != interval)
			return NULL;
		return s;
	}
	if (grow((void **)&m->sets, m->n_sets, &m->cap_sets, sizeof(*s)))
		return NULL;
	s = gap(m->sets, m->n_sets, sizeof(*s), i);
	*s = (struct nftm_set){
		.name = strdup(name),
		.type = strdup(type),
		.interval = interval,
		.dirty = true,
	};
	if (!s->name || !s->type) {
		free(s->name);
		free(s->type);
		memmove(s, s + 1, (m->n_sets - i) * sizeof(*s));
		return NULL;
	}
	m->n_sets++;
	return s;
}

struct nftm_map *nftm_map(struct nftm *m, const char *name, const char *type)
{
	struct nftm_map *mp;
	bool found;
	size_t i = lookup(m->maps, m->n_maps, sizeof(*mp), name, &found);

	if (found) {
		mp = &m->maps[i];
		return strcmp(mp->type, type) ? NULL : mp;
	}
	if (grow((void **)&m->maps, m->n_maps, &m->cap_maps, sizeof(*mp)))
		return NULL;
	mp = gap(m->maps, m->n_maps, sizeof(*mp), i);
	*mp = (struct nftm_map){
		.name = strdup(name),
		.type = strdup(type),
		.dirty = true,
	};
	if (!mp->name || !mp->type) {
		free(mp->name);
		free(mp->type);
		memmove(mp, mp + 1, (m->n_maps - i) * sizeof(*mp));
		return NULL;
	}
	m->n_maps++;
	return mp;
}

struct nftm_chain *nftm_chain(struct nftm *m, const char *name,
			      const char *base)
{
	struct nftm_chain *c;
	bool found;
	size_t i = lookup(m->chains, m->n_chains, sizeof(*c), name, &found);

	if (found) {
		c = &m->chains[i];
		return str_eq(c->base, base) ? c : NULL;
	}
	if (grow((void **)&m->chains, m->n_chains, &m->cap_chains, sizeof(*c)))
		return NULL;
	c = gap(m->chains, m->n_chains, sizeof(*c), i);
	*c = (struct nftm_chain){
		.name = strdup(name),
		.base = base ? strdup(base) : NULL,
		.dirty = true,
	};
	if (!c->name || (base && !c->base)) {
		free(c->name);
		free(c->base);
		memmove(c, c + 1, (m->n_chains - i) * sizeof(*c));
		return NULL;
	}
	m->n_chains++;
	return c;
}

const struct nftm_set *nftm_find_set(const struct nftm *m, const char *name)
{
	bool found;
	size_t i = lookup(m->sets, m->n_sets, sizeof(*m->sets), name, &found);

	return found ? &m->sets[i] : NULL;
}

const struct nftm_map *nftm_find_map(const struct nftm *m, const char *name)
{
	bool found;
	size_t i = lookup(m->maps, m->n_maps, sizeof(*m->maps), name, &found);

	return found ? &m->maps[i] : NULL;
}

const struct nftm_chain *nftm_find_chain(const struct nftm *m,
					 const char *name)
{
	bool found;
	size_t i = lookup(m->chains, m->n_chains, sizeof(*m->chains), name,
			  &found);

	return found ? &m->chains[i] : NULL;
}

int nftm_set_add(struct nftm_set *s, const char *elem)
{
	bool found;
	size_t i = lookup(s->elems, s->n_elems, sizeof(char *), elem, &found);
	char *dup;

	if (found)
		return 0;
	if (grow((void **)&s->elems, s->n_elems, &s->cap_elems,
		 sizeof(char *)))
		return -ENOMEM;
	dup = strdup(elem);
	if (!dup)
		return -ENOMEM;
	*(char **)gap(s->elems, s->n_elems, sizeof(char *), i) = dup;
	s->n_elems++;
	s->dirty = true;
	return 0;
}

void nftm_set_del(struct nftm_set *s, const char *elem)
{
	bool found;
	size_t i = lookup(s->elems, s->n_elems, sizeof(char *), elem, &found);

	if (!found)
		return;
	free(s->elems[i]);
	memmove(&s->elems[i], &s->elems[i + 1],
		(s->n_elems - i - 1) * sizeof(char *));
	s->n_elems--;
	s->dirty = true;
}

bool nftm_set_has(const struct nftm_set *s, const char *elem)
{
	bool found;

	lookup(s->elems, s->n_elems, sizeof(char *), elem, &found);
	return found;
}

void nftm_set_flush(struct nftm_set *s)
{
	for (size_t i = 0; i < s->n_elems; i++)
		free(s->elems[i]);
	s->dirty |= s->n_elems > 0;
	s->n_elems = 0;
}

void nftm_map_del(struct nftm_map *mp, const char *key)
{
	bool found;
	size_t i = lookup(mp->elems, mp->n_elems, sizeof(*mp->elems), key,
			  &found);

	if (!found)
		return;
	free(mp->elems[i].key);
	free(mp->elems[i].verdict);
	memmove(&mp->elems[i], &mp->elems[i + 1],
		(mp->n_elems - i - 1) * sizeof(*mp->elems));
	mp->n_elems--;
	mp->dirty = true;
}

/* Drop the items of an array of n whose name (first member) starts with
 * prefix, freeing each with clear. */
static size_t drop_prefixed(void *arr, size_t n, size_t sz,
			    const char *prefix, void (*clear)(void *))
{
	bool found;
	size_t len = strlen(prefix);
	size_t i = lookup(arr, n, sz, prefix, &found), j = i;
	char *a = arr;

	while (j < n && !strncmp(*(char **)(a + j * sz), prefix, len))
		clear(a + j++ * sz);
	if (j == i)
		return n; /* nothing: arr may even be NULL */
	memmove(a + i * sz, a + j * sz, (n - j) * sz);
	return n - (j - i);
}


void nftm_drop(struct nftm *m, const char *prefix)
{
	m->n_sets = drop_prefixed(m->sets, m->n_sets, sizeof(*m->sets),
				  prefix, set_clear_v);
	m->n_chains = drop_prefixed(m->chains, m->n_chains,
				    sizeof(*m->chains), prefix, chain_clear_v);
}

int nftm_map_put(struct nftm_map *mp, const char *key, const char *verdict)
{
	bool found;
	size_t i = lookup(mp->elems, mp->n_elems, sizeof(*mp->elems), key,
			  &found);
	char *v = strdup(verdict), *k;

	if (!v)
		return -ENOMEM;
	if (found) {
		if (strcmp(mp->elems[i].verdict, v))
			mp->dirty = true;
		free(mp->elems[i].verdict);
		mp->elems[i].verdict = v;
		return 0;
	}
	k = strdup(key);
	if (!k ||
	    grow((void **)&mp->elems, mp->n_elems, &mp->cap_elems,
		 sizeof(*mp->elems))) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	*(struct nftm_map_elem *)gap(mp->elems, mp->n_elems,
				     sizeof(*mp->elems), i) =
		(struct nftm_map_elem){ .key = k, .verdict = v };
	mp->n_elems++;
	mp->dirty = true;
	return 0;
}

int nftm_rule(struct nftm_chain *c, const char *fmt, ...)
{
	va_list ap;
	char *rule;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&rule, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (grow((void **)&c->rules, c->n_rules, &c->cap_rules,
		 sizeof(char *))) {
		free(rule);
		return -ENOMEM;
	}
	c->rules[c->n_rules++] = rule;
	c->dirty = true;
	return 0;
}

static bool bit(const uint8_t *a, unsigned int i)
{
	return a[i / 8] & (0x80 >> (i % 8));
}

void nftm_range_elem(int family, const uint8_t *lo, const uint8_t *hi,
		     char *out)
{
	int af = family == 6 ? AF_INET6 : AF_INET;
	unsigned int bits = family == 6 ? 128 : 32, len = 0, i;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	bool prefix = true;

	inet_ntop(af, lo, a, sizeof(a));
	while (len < bits && bit(lo, len) == bit(hi, len))
		len++;
	if (len == bits) {
		snprintf(out, NFTM_ELEM_MAX, "%s", a);
		return;
	}
	for (i = len; i < bits && prefix; i++)
		prefix = !bit(lo, i) && bit(hi, i);
	if (prefix) {
		snprintf(out, NFTM_ELEM_MAX, "%s/%u", a, len);
		return;
	}
	inet_ntop(af, hi, b, sizeof(b));
	snprintf(out, NFTM_ELEM_MAX, "%s-%s", a, b);
}

/* ---- the digest ---------------------------------------------------------- */

/* A base chain's spec with nft's named priorities resolved, so that the
 * engine's text and a spec rebuilt from the kernel's JSON compare. */
static const struct {
	const char *name;
	int prio;
} named_prio[] = {
	{ "raw", -300 },    { "mangle", -150 }, { "dstnat", -100 },
	{ "filter", 0 },    { "security", 50 }, { "srcnat", 100 },
};

static bool parse_prio(const char *s, int *prio)
{
	char *end;
	long v = strtol(s, &end, 10);
	char name[16], sign[2];
	int n, off;

	if (end != s && *end == '\0') {
		*prio = (int)v;
		return true;
	}
	n = sscanf(s, "%15[a-z] %1[+-] %d", name, sign, &off);
	if (n != 1 && n != 3)
		return false;
	for (size_t i = 0; i < sizeof(named_prio) / sizeof(named_prio[0]);
	     i++) {
		if (strcmp(name, named_prio[i].name))
			continue;
		*prio = named_prio[i].prio;
		if (n == 3)
			*prio += sign[0] == '-' ? -off : off;
		return true;
	}
	return false;
}

/* "type T hook H priority P; policy Q;" into out; false when base does
 * not read that way (it is then compared as written). */
static bool canon_base(const char *base, char *out, size_t outlen)
{
	char type[32], hook[32], prio_s[64], policy[16] = "accept";
	const char *pol;
	int prio, n = 0;

	if (sscanf(base, " type %31s hook %31s priority %63[^;];%n", type,
		   hook, prio_s, &n) != 3 || !n)
		return false;
	pol = base + n;
	while (*pol == ' ')
		pol++;
	if (*pol && sscanf(pol, "policy %15[a-z] ;", policy) != 1)
		return false;
	if (!parse_prio(prio_s, &prio))
		return false;
	snprintf(out, outlen, "type %s hook %s priority %d; policy %s;", type,
		 hook, prio, policy);
	return true;
}

static bool base_eq(const char *a, const char *b)
{
	char ca[160], cb[160];

	if (!a || !b)
		return a == b;
	if (canon_base(a, ca, sizeof(ca)) && canon_base(b, cb, sizeof(cb)))
		return strcmp(ca, cb) == 0;
	return strcmp(a, b) == 0;
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void chain_digest(const struct nftm_chain *c, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char canon[160];

	if (c->base) {
		const char *b = canon_base(c->base, canon, sizeof(canon)) ?
					canon :
					c->base;

		h = fnv1a(h, "B", 1);
		h = fnv1a(h, b, strlen(b) + 1);
	} else {
		h = fnv1a(h, "R", 1);
	}
	for (size_t i = 0; i < c->n_rules; i++)
		h = fnv1a(h, c->rules[i], strlen(c->rules[i]) + 1);
	snprintf(out, 17, "%016" PRIx64, h);
}

/* ---- the diff ------------------------------------------------------------ */

/* Which wanted objects change how, by index into want's arrays. */
enum {
	KEEP = 0, /* same object: only its elements or rules may differ */
	ADD, /* not in the table */
	REPLACE, /* in the table with another type (set, map) or base */
	CLEAN, /* in the table and unchanged since (nftm_diff_changed) */
};

struct plan {
	const struct nftm *have, *want;
	unsigned char *set_st, *map_st, *chain_st;
	bool *write; /* want's chains whose rules are written */
	bool early; /* a replacement: every chain is flushed first */
	bool marked; /* only want's dirty objects can differ from have's */
	FILE *f;
	struct nftm_diff_stats *st;
};

/* One command per group of elements, so a large set loads in one line. */
static void elems_cmd(struct plan *p, const char *verb, const char *name,
		      char *const *elems, size_t n)
{
	if (!n)
		return;
	fprintf(p->f, "%s element " T " %s {", verb, name);
	for (size_t i = 0; i < n; i++)
		fprintf(p->f, "%s %s", i ? "," : "", elems[i]);
	fputs(" }\n", p->f);
}

/* Elements of a (sorted) and not of b, as a list of borrowed strings. */
static char **set_minus(const struct nftm_set *a, const struct nftm_set *b,
			size_t *n)
{
	char **out = malloc((a->n_elems + 1) * sizeof(char *));
	size_t i = 0, j = 0;

	*n = 0;
	if (!out)
		return NULL;
	while (i < a->n_elems) {
		int c = b && j < b->n_elems ? strcmp(a->elems[i], b->elems[j]) :
					      -1;

		if (c < 0)
			out[(*n)++] = a->elems[i++];
		else if (c > 0)
			j++;
		else
			i++, j++;
	}
	return out;
}

/* Map elements of a whose key b lacks or maps otherwise, as "k : v". */
static char **map_minus(const struct nftm_map *a, const struct nftm_map *b,
			size_t *n, bool with_verdict)
{
	char **out = calloc(a->n_elems + 1, sizeof(char *));
	size_t i = 0, j = 0;

	*n = 0;
	if (!out)
		return NULL;
	while (i < a->n_elems) {
		const struct nftm_map_elem *e = &a->elems[i];
		int c = b && j < b->n_elems ? strcmp(e->key, b->elems[j].key) :
					      -1;

		if (c > 0) {
			j++;
			continue;
		}
		if (c < 0 || strcmp(e->verdict, b->elems[j].verdict)) {
			int r = with_verdict ?
					asprintf(&out[*n], "%s : %s", e->key,
						 e->verdict) :
					asprintf(&out[*n], "%s", e->key);

			if (r < 0)
				out[*n] = NULL;
			if (!out[*n])
				goto fail;
			(*n)++;
		}
		i++;
		if (c == 0)
			j++;
	}
	return out;
fail:
	for (size_t k = 0; k < *n; k++)
		free(out[k]);
	free(out);
	return NULL;
}

static void free_strs(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int set_elems(struct plan *p, const struct nftm_set *from,
		     const struct nftm_set *to, const char *verb,
		     size_t *count)
{
	size_t n;
	char **v = set_minus(from, to, &n);

	if (!v)
		return -ENOMEM;
	elems_cmd(p, verb, from->name, v, n);
	*count += n;
	free(v);
	return 0;
}

static int map_elems(struct plan *p, const struct nftm_map *from,
		     const struct nftm_map *to, const char *verb,
		     size_t *count)
{
	bool adding = !strcmp(verb, "add");
	size_t n;
	char **v = map_minus(from, to, &n, adding);

	if (!v)
		return -ENOMEM;
	elems_cmd(p, verb, from->name, v, n);
	*count += n;
	free_strs(v, n);
	return 0;
}

static void add_set(struct plan *p, const struct nftm_set *s)
{
	fprintf(p->f, "add set " T " %s { type %s;%s }\n", s->name, s->type,
		s->interval ? " flags interval;" : "");
	p->st->objects_added++;
}

static void add_map(struct plan *p, const struct nftm_map *mp)
{
	fprintf(p->f, "add map " T " %s { type %s : verdict; }\n", mp->name,
		mp->type);
	p->st->objects_added++;
}

static void add_chain(struct plan *p, const struct nftm_chain *c)
{
	if (c->base)
		fprintf(p->f, "add chain " T " %s { %s }\n", c->name, c->base);
	else
		fprintf(p->f, "add chain " T " %s\n", c->name);
	p->st->objects_added++;
}

/* What each wanted object needs, and which chains are written. */
static void classify(struct plan *p)
{
	const struct nftm *h = p->have, *w = p->want;

	for (size_t i = 0; i < w->n_sets; i++) {
		const struct nftm_set *s = &w->sets[i];
		const struct nftm_set *o = h ? nftm_find_set(h, s->name) : NULL;

		if (!o)
			p->set_st[i] = ADD;
		else if (p->marked && !s->dirty)
			p->set_st[i] = CLEAN;
		else if (strcmp(o->type, s->type) || o->interval != s->interval)
			p->set_st[i] = REPLACE;
	}
	for (size_t i = 0; i < w->n_maps; i++) {
		const struct nftm_map *mp = &w->maps[i];
		const struct nftm_map *o = h ? nftm_find_map(h, mp->name) : NULL;

		if (!o)
			p->map_st[i] = ADD;
		else if (p->marked && !mp->dirty)
			p->map_st[i] = CLEAN;
		else if (strcmp(o->type, mp->type))
			p->map_st[i] = REPLACE;
	}
	for (size_t i = 0; i < w->n_sets; i++)
		p->early |= p->set_st[i] == REPLACE;
	for (size_t i = 0; i < w->n_maps; i++)
		p->early |= p->map_st[i] == REPLACE;
	for (size_t i = 0; i < w->n_chains; i++) {
		const struct nftm_chain *c = &w->chains[i];
		const struct nftm_chain *o =
			h ? nftm_find_chain(h, c->name) : NULL;
		char od[17];

		if (!o) {
			p->chain_st[i] = ADD;
			p->write[i] = true;
			continue;
		}
		if (p->marked && !c->dirty) {
			p->chain_st[i] = CLEAN;
			continue;
		}
		if (!base_eq(o->base, c->base)) {
			p->chain_st[i] = REPLACE;
			p->early = true;
		}
		if (o->digest[0])
			memcpy(od, o->digest, sizeof(od));
		else
			chain_digest(o, od);
		p->write[i] = p->chain_st[i] == REPLACE ||
			      strcmp(od, c->digest) != 0;
	}
	if (p->early)
		for (size_t i = 0; i < w->n_chains; i++)
			p->write[i] = true;
}

static void flush_stale(struct plan *p)
{
	const struct nftm *h = p->have;

	for (size_t i = 0; h && i < h->n_chains; i++)
		if (!nftm_find_chain(p->want, h->chains[i].name))
			fprintf(p->f, "flush chain " T " %s\n",
				h->chains[i].name);
	for (size_t i = 0; h && i < h->n_maps; i++)
		if (!nftm_find_map(p->want, h->maps[i].name) &&
		    h->maps[i].n_elems) {
			fprintf(p->f, "flush map " T " %s\n", h->maps[i].name);
			p->st->elems_deleted += h->maps[i].n_elems;
		}
}

static int diff(struct plan *p)
{
	const struct nftm *h = p->have, *w = p->want;
	struct nftm_diff_stats *st = p->st;
	bool empty_table = !h || (!h->n_sets && !h->n_maps && !h->n_chains);
	int ret;

	/* the table, then every new object, empty */
	if (empty_table && (!h || w->n_sets || w->n_maps || w->n_chains))
		fputs("add table " T "\n", p->f);
	for (size_t i = 0; i < w->n_sets; i++)
		if (p->set_st[i] == ADD)
			add_set(p, &w->sets[i]);
	for (size_t i = 0; i < w->n_maps; i++)
		if (p->map_st[i] == ADD)
			add_map(p, &w->maps[i]);
	for (size_t i = 0; i < w->n_chains; i++)
		if (p->chain_st[i] == ADD)
			add_chain(p, &w->chains[i]);

	/* elements: every delete before any add, so that an interval that
	 * is split or a key whose verdict changed never collides */
	for (size_t i = 0; h && i < w->n_sets; i++) {
		if (p->set_st[i] != KEEP)
			continue;
		ret = set_elems(p, nftm_find_set(h, w->sets[i].name),
				&w->sets[i], "delete", &st->elems_deleted);
		if (ret)
			return ret;
	}
	for (size_t i = 0; h && i < w->n_maps; i++) {
		const struct nftm_map *o;

		if (p->map_st[i] != KEEP)
			continue;
		o = nftm_find_map(h, w->maps[i].name);
		ret = map_elems(p, o, &w->maps[i], "delete",
				&st->elems_deleted);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < w->n_sets; i++) {
		if (p->set_st[i] == REPLACE || p->set_st[i] == CLEAN)
			continue;
		ret = set_elems(p, &w->sets[i],
				h ? nftm_find_set(h, w->sets[i].name) : NULL,
				"add", &st->elems_added);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < w->n_maps; i++) {
		if (p->map_st[i] == REPLACE || p->map_st[i] == CLEAN)
			continue;
		ret = map_elems(p, &w->maps[i],
				h ? nftm_find_map(h, w->maps[i].name) : NULL,
				"add", &st->elems_added);
		if (ret)
			return ret;
	}

	/* chains whose rules changed; with a set, map or base chain to
	 * replace, every chain is emptied first so nothing holds it */
	for (size_t i = 0; h && i < w->n_chains; i++)
		if (p->write[i] && p->chain_st[i] != ADD)
			fprintf(p->f, "flush chain " T " %s\n",
				w->chains[i].name);
	if (p->early) {
		flush_stale(p);
		for (size_t i = 0; i < w->n_sets; i++) {
			const struct nftm_set *s = &w->sets[i];

			if (p->set_st[i] != REPLACE)
				continue;
			fprintf(p->f, "delete set " T " %s\n", s->name);
			st->objects_deleted++;
			add_set(p, s);
			elems_cmd(p, "add", s->name, s->elems, s->n_elems);
			st->elems_added += s->n_elems;
		}
		for (size_t i = 0; i < w->n_maps; i++) {
			const struct nftm_map *mp = &w->maps[i];

			if (p->map_st[i] != REPLACE)
				continue;
			fprintf(p->f, "delete map " T " %s\n", mp->name);
			st->objects_deleted++;
			add_map(p, mp);
			ret = map_elems(p, mp, NULL, "add", &st->elems_added);
			if (ret)
				return ret;
		}
		for (size_t i = 0; i < w->n_chains; i++) {
			if (p->chain_st[i] != REPLACE)
				continue;
			fprintf(p->f, "delete chain " T " %s\n",
				w->chains[i].name);
			st->objects_deleted++;
			add_chain(p, &w->chains[i]);
		}
	}
	for (size_t i = 0; i < w->n_chains; i++) {
		const struct nftm_chain *c = &w->chains[i];

		if (!p->write[i])
			continue;
		for (size_t r = 0; r < c->n_rules; r++)
			fprintf(p->f, "add rule " T " %s %s\n", c->name,
				c->rules[r]);
		fprintf(p->f, "add rule " T " %s return comment \"strata:%s\"\n",
			c->name, c->digest);
		st->chains_written++;
	}

	/* what the table holds and want does not: nothing refers to a
	 * chain once the chains are flushed and the maps emptied */
	if (!p->early)
		flush_stale(p);
	for (size_t i = 0; h && i < h->n_chains; i++)
		if (!nftm_find_chain(w, h->chains[i].name)) {
			fprintf(p->f, "delete chain " T " %s\n",
				h->chains[i].name);
			st->objects_deleted++;
		}
	for (size_t i = 0; h && i < h->n_sets; i++)
		if (!nftm_find_set(w, h->sets[i].name)) {
			fprintf(p->f, "delete set " T " %s\n", h->sets[i].name);
			st->objects_deleted++;
		}
	for (size_t i = 0; h && i < h->n_maps; i++)
		if (!nftm_find_map(w, h->maps[i].name)) {
			fprintf(p->f, "delete map " T " %s\n", h->maps[i].name);
			st->objects_deleted++;
		}
	return 0;
}

static int diff_run(const struct nftm *have, struct nftm *want, bool marked,
		    char **script, struct nftm_diff_stats *stats)
{
	struct nftm_diff_stats local;
	struct plan p = {
		.have = have,
		.want = want,
		.marked = marked && have,
		.st = stats ? stats : &local,
	};
	char *buf = NULL;
	size_t len = 0;
	int ret = -ENOMEM;

	*script = NULL;
	*p.st = (struct nftm_diff_stats){ 0 };
	for (size_t i = 0; i < want->n_chains; i++)
		if (!p.marked || want->chains[i].dirty ||
		    !want->chains[i].digest[0])
			chain_digest(&want->chains[i], want->chains[i].digest);
	p.set_st = calloc(want->n_sets + 1, 1);
	p.map_st = calloc(want->n_maps + 1, 1);
	p.chain_st = calloc(want->n_chains + 1, 1);
	p.write = calloc(want->n_chains + 1, sizeof(bool));
	if (!p.set_st || !p.map_st || !p.chain_st || !p.write)
		goto free_plan;
	p.f = open_memstream(&buf, &len);
	if (!p.f)
		goto free_plan;
	classify(&p);
	ret = diff(&p);
	if (fclose(p.f) || !buf)
		ret = -ENOMEM;
	if (ret)
		free(buf);
	else
		*script = buf;
free_plan:
	free(p.set_st);
	free(p.map_st);
	free(p.chain_st);
	free(p.write);
	return ret;
}

int nftm_diff(const struct nftm *have, struct nftm *want, char **script,
	      struct nftm_diff_stats *stats)
{
	return diff_run(have, want, false, script, stats);
}

int nftm_diff_changed(const struct nftm *have, struct nftm *want,
		      char **script, struct nftm_diff_stats *stats)
{
	return diff_run(have, want, true, script, stats);
}

/* ---- copies ---------------------------------------------------------------- */

static char **strs_dup(char *const *v, size_t n, bool *nomem)
{
	char **out = calloc(n + 1, sizeof(char *));

	if (!out) {
		*nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(out[i] = strdup(v[i])))
			*nomem = true;
	return out;
}

static void set_copy(struct nftm_set *to, const struct nftm_set *s,
		     bool *nomem)
{
	*to = (struct nftm_set){
		.name = strdup(s->name),
		.type = strdup(s->type),
		.interval = s->interval,
		.elems = strs_dup(s->elems, s->n_elems, nomem),
		.n_elems = s->n_elems,
		.cap_elems = s->n_elems + 1,
	};
	if (!to->elems)
		to->n_elems = to->cap_elems = 0;
	*nomem |= !to->name || !to->type;
}

static void map_copy(struct nftm_map *to, const struct nftm_map *mp,
		     bool *nomem)
{
	*to = (struct nftm_map){
		.name = strdup(mp->name),
		.type = strdup(mp->type),
		.elems = calloc(mp->n_elems + 1, sizeof(*mp->elems)),
	};
	*nomem |= !to->name || !to->type || !to->elems;
	if (!to->elems)
		return;
	to->n_elems = mp->n_elems;
	to->cap_elems = mp->n_elems + 1;
	for (size_t i = 0; i < mp->n_elems; i++) {
		to->elems[i].key = strdup(mp->elems[i].key);
		to->elems[i].verdict = strdup(mp->elems[i].verdict);
		*nomem |= !to->elems[i].key || !to->elems[i].verdict;
	}
}

static void chain_copy(struct nftm_chain *to, const struct nftm_chain *c,
		       bool *nomem)
{
	*to = (struct nftm_chain){
		.name = strdup(c->name),
		.base = c->base ? strdup(c->base) : NULL,
		.rules = strs_dup(c->rules, c->n_rules, nomem),
		.n_rules = c->n_rules,
		.cap_rules = c->n_rules + 1,
	};
	if (!to->rules)
		to->n_rules = to->cap_rules = 0;
	memcpy(to->digest, c->digest, sizeof(to->digest));
	*nomem |= !to->name || (c->base && !to->base);
}

/*
 * The merge behind nftm_sync() for one kind of object: a new array for
 * `to` that holds, in want's order, to's own object where want's is clean
 * and present in `to`, else a copy of want's; to's other objects freed.
 */
#define SYNC_KIND(kind, arr, n, cap, copy, clear)                             \
	static int sync_##kind(struct nftm *to, struct nftm *want, bool all)  \
	{                                                                     \
		size_t nw = want->n, k = 0;                                   \
		__typeof__(to->arr) out = calloc(nw + 1, sizeof(*out));       \
		bool *kept = calloc(to->n + 1, sizeof(bool)), nomem = false;  \
		bool found;                                                   \
                                                                              \
		if (!out || !kept) {                                          \
			free(out);                                            \
			free(kept);                                           \
			return -ENOMEM;                                       \
		}                                                             \
		for (size_t i = 0; i < nw; i++) {                             \
			size_t j = lookup(to->arr, to->n, sizeof(*out),       \
					  want->arr[i].name, &found);         \
                                                                              \
			if (found && !all && !want->arr[i].dirty) {           \
				out[k++] = to->arr[j];                        \
				kept[j] = true;                               \
				continue;                                     \
			}                                                     \
			copy(&out[k++], &want->arr[i], &nomem);               \
		}                                                             \
		for (size_t j = 0; j < to->n; j++)                            \
			if (!kept[j])                                         \
				clear(&to->arr[j]);                           \
		free(kept);                                                   \
		free(to->arr);                                                \
		to->arr = out;                                                \
		to->n = k;                                                    \
		to->cap = nw + 1;                                             \
		return nomem ? -ENOMEM : 0;                                   \
	}

SYNC_KIND(sets, sets, n_sets, cap_sets, set_copy, set_clear)
SYNC_KIND(maps, maps, n_maps, cap_maps, map_copy, map_clear)
SYNC_KIND(chains, chains, n_chains, cap_chains, chain_copy, chain_clear)

static int sync_all(struct nftm *to, struct nftm *want, bool all)
{
	int r1 = sync_sets(to, want, all), r2 = sync_maps(to, want, all);
	int r3 = sync_chains(to, want, all);

	if (r1 || r2 || r3)
		return -ENOMEM;
	for (size_t i = 0; i < want->n_sets; i++)
		want->sets[i].dirty = false;
	for (size_t i = 0; i < want->n_maps; i++)
		want->maps[i].dirty = false;
	for (size_t i = 0; i < want->n_chains; i++)
		want->chains[i].dirty = false;
	return 0;
}

int nftm_sync(struct nftm *have, struct nftm *want)
{
	return sync_all(have, want, false);
}

struct nftm *nftm_dup(struct nftm *want)
{
	struct nftm *m = nftm_new();

	if (m && sync_all(m, want, true)) {
		nftm_free(m);
		return NULL;
	}
	return m;
}
