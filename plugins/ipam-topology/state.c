/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

/* ---- the map ------------------------------------------------------------- */

static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (uint8_t)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct smap_ent **slot_of(const struct smap *m, const char *key)
{
	struct smap_ent **e = &m->b[hash(key) % m->n_b];

	while (*e && strcmp((*e)->key, key))
		e = &(*e)->next;
	return e;
}

void *smap_get(const struct smap *m, const char *key)
{
	struct smap_ent **e;

	if (!m->n_b)
		return NULL;
	e = slot_of(m, key);
	return *e ? (*e)->val : NULL;
}

static int grow(struct smap *m)
{
	size_t n_b = m->n_b ? m->n_b * 2 : 64, i;
	struct smap_ent **b = calloc(n_b, sizeof(*b)), *e, *next;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < m->n_b; i++) {
		for (e = m->b[i]; e; e = next) {
			size_t h = hash(e->key) % n_b;

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->n_b = n_b;
	return 0;
}

int smap_put(struct smap *m, const char *key, void *val, void **old)
{
	struct smap_ent **e, *n;

	*old = NULL;
	if (m->n >= m->n_b && grow(m) < 0)
		return -ENOMEM;
	e = slot_of(m, key);
	if (*e) {
		*old = (*e)->val;
		(*e)->val = val;
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->key = strdup(key);
	if (!n->key) {
		free(n);
		return -ENOMEM;
	}
	n->val = val;
	*e = n;
	m->n++;
	return 0;
}

void *smap_del(struct smap *m, const char *key)
{
	struct smap_ent **e, *d;
	void *val;

	if (!m->n_b)
		return NULL;
	e = slot_of(m, key);
	if (!*e)
		return NULL;
	d = *e;
	*e = d->next;
	val = d->val;
	free(d->key);
	free(d);
	m->n--;
	return val;
}

void **smap_values(const struct smap *m, size_t *n)
{
	void **v;
	struct smap_ent *e;
	size_t i, k = 0;

	*n = 0;
	if (!m->n)
		return NULL;
	v = malloc(m->n * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < m->n_b; i++)
		for (e = m->b[i]; e; e = e->next)
			v[k++] = e->val;
	*n = k;
	return v;
}

char **smap_keys(const struct smap *m, size_t *n)
{
	struct smap_ent *e;
	size_t i, k = 0;
	char **v;

	*n = 0;
	if (!m->n)
		return NULL;
	v = calloc(m->n, sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < m->n_b; i++) {
		for (e = m->b[i]; e; e = e->next) {
			v[k] = strdup(e->key);
			if (!v[k]) {
				while (k--)
					free(v[k]);
				free(v);
				return NULL;
			}
			k++;
		}
	}
	*n = k;
	return v;
}

void smap_clear(struct smap *m, void (*free_val)(void *))
{
	struct smap_ent *e, *next;
	size_t i;

	for (i = 0; i < m->n_b; i++) {
		for (e = m->b[i]; e; e = next) {
			next = e->next;
			if (free_val)
				free_val(e->val);
			free(e->key);
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- the view ------------------------------------------------------------ */

static void node_free(void *v)
{
	struct st_node *n = v;

	if (n)
		free(n->path);
	free(n);
}

static void host_free(void *v)
{
	struct st_host *h = v;

	if (!h)
		return;
	rec_host_free(&h->rec);
	free(h->name);
	free(h);
}

static void plain_free(void *v)
{
	free(v);
}

static void no_free(void *v)
{
	(void)v;
}

void state_clear_ipam(struct state *s)
{
	smap_clear(&s->nodes, node_free);
	smap_clear(&s->slots, plain_free);
	smap_clear(&s->blocks, plain_free);
	smap_clear(&s->hosts, host_free);
	s->have_carving = false;
	s->carving_rev = 0;
}

void state_clear(struct state *s)
{
	state_clear_ipam(s);
	smap_clear(&s->registered, no_free);
}

void state_key(char *buf, size_t len, const char *base,
	       const struct strata_prefix *p)
{
	char text[REC_PREFIX_STR];

	rec_prefix_fmt(p, text, sizeof(text));
	snprintf(buf, len, "%s%s", base, text);
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool nodes_eq(const struct rec_node *a, const struct rec_node *b)
{
	uint32_t i;

	if (a->n_prefixes != b->n_prefixes)
		return false;
	for (i = 0; i < a->n_prefixes; i++)
		if (!rec_prefix_eq(&a->prefixes[i], &b->prefixes[i]))
			return false;
	return true;
}

static bool hosts_eq(const struct rec_host *a, const struct rec_host *b)
{
	size_t i;

	if (strcmp(a->path, b->path) || a->n_addrs != b->n_addrs ||
	    a->n_blocks != b->n_blocks)
		return false;
	for (i = 0; i < a->n_addrs; i++)
		if (a->addrs[i].family != b->addrs[i].family ||
		    memcmp(a->addrs[i].addr, b->addrs[i].addr, 16))
			return false;
	for (i = 0; i < a->n_blocks; i++)
		if (!rec_prefix_eq(&a->blocks[i], &b->blocks[i]))
			return false;
	return true;
}

/* Replace (or, val NULL, remove) key's entry in m, freeing the old one. */
static int replace(struct smap *m, const char *key, void *val,
		   void (*free_val)(void *))
{
	void *old = NULL;
	int rc = 0;

	if (val)
		rc = smap_put(m, key, val, &old);
	else
		old = smap_del(m, key);
	if (rc < 0)
		free_val(val);
	free_val(old);
	return rc;
}

static uint32_t path_depth(const char *path)
{
	uint32_t d = 1;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static int apply_node(struct state *s, const char *key, const void *value,
		      size_t len, int64_t mod_rev, bool *changed)
{
	struct st_node *old = smap_get(&s->nodes, key), *n;
	const char *path = key + strlen(REC_NODE);
	int rc;

	if (!value) {
		*changed |= old != NULL;
		return replace(&s->nodes, key, NULL, node_free);
	}
	if (old && mod_rev < old->mod_rev)
		return 0; /* an older event than what we know */
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	rc = *path && strlen(path) < TOPO_PATH_MAX ?
		     rec_node_parse(value, len, &n->rec) : -EINVAL;
	n->path = strdup(path);
	if (rc < 0 || !n->path) {
		node_free(n);
		*changed |= old != NULL;
		replace(&s->nodes, key, NULL, node_free);
		return rc < 0 ? rc : -ENOMEM;
	}
	n->depth = path_depth(path);
	n->mod_rev = mod_rev;
	*changed |= !old || !nodes_eq(&old->rec, &n->rec);
	return replace(&s->nodes, key, n, node_free);
}

static int apply_slot(struct state *s, const char *key, const void *value,
		      size_t len)
{
	char *path;
	int rc;

	if (!value)
		return replace(&s->slots, key, NULL, plain_free);
	path = malloc(TOPO_PATH_MAX);
	if (!path)
		return -ENOMEM;
	rc = rec_slot_parse(value, len, path, TOPO_PATH_MAX);
	if (rc < 0) {
		/* a slot that does not parse is still taken */
		snprintf(path, TOPO_PATH_MAX, "?");
	}
	replace(&s->slots, key, path, plain_free);
	return rc;
}

static int apply_block(struct state *s, const char *key, const void *value,
		       size_t len, int64_t mod_rev, bool *changed)
{
	struct st_block *old = smap_get(&s->blocks, key), *b;
	struct rec_block rec;
	int rc;

	if (!value) {
		*changed |= old != NULL;
		return replace(&s->blocks, key, NULL, plain_free);
	}
	if (old && mod_rev < old->mod_rev)
		return 0;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	rc = rec_prefix_parse(key + strlen(REC_BLOCK), &b->prefix);
	if (!rc)
		rc = rec_block_parse(value, len, &rec);
	if (rc < 0) {
		/* keep it as taken by nobody we know: never claimed again */
		snprintf(b->host, sizeof(b->host), "?");
		b->mod_rev = mod_rev;
		*changed |= !old;
		if (b->prefix.family)
			replace(&s->blocks, key, b, plain_free);
		else
			free(b);
		return rc;
	}
	memcpy(b->host, rec.host, sizeof(b->host));
	memcpy(b->path, rec.path, sizeof(b->path));
	b->n_used = rec.n_used;
	b->mod_rev = mod_rev;
	rec_block_free(&rec);
	*changed |= !old || strcmp(old->host, b->host) ||
		    strcmp(old->path, b->path);
	return replace(&s->blocks, key, b, plain_free);
}

static int apply_host(struct state *s, const char *key, const void *value,
		      size_t len, int64_t mod_rev, bool *changed)
{
	struct st_host *old = smap_get(&s->hosts, key), *h;
	const char *name = key + strlen(REC_HOST);
	int rc;

	if (!value) {
		*changed |= old != NULL;
		return replace(&s->hosts, key, NULL, host_free);
	}
	if (old && mod_rev < old->mod_rev)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	rc = *name && strlen(name) <= REC_NAME_MAX ?
		     rec_host_parse(value, len, &h->rec) : -EINVAL;
	h->name = strdup(name);
	if (rc < 0 || !h->name) {
		host_free(h);
		*changed |= old != NULL;
		replace(&s->hosts, key, NULL, host_free);
		return rc < 0 ? rc : -ENOMEM;
	}
	h->mod_rev = mod_rev;
	*changed |= !old || !hosts_eq(&old->rec, &h->rec);
	return replace(&s->hosts, key, h, host_free);
}

int state_apply(struct state *s, const char *key, const void *value,
		size_t len, int64_t mod_rev, bool *changed)
{
	if (!strcmp(key, REC_CARVING)) {
		struct rec_carving c;
		int rc;

		if (!value) {
			*changed |= s->have_carving;
			s->have_carving = false;
			s->carving_rev = 0;
			return 0;
		}
		if (s->have_carving && mod_rev < s->carving_rev)
			return 0;
		rc = rec_carving_parse(value, len, &c);
		if (rc < 0) {
			/* unreadable: keep it as present and unequal to any */
			memset(&s->carving, 0, sizeof(s->carving));
			s->carving.n_pools = TOPO_MAX_POOLS + 1;
		} else {
			*changed |= !s->have_carving ||
				    !rec_carving_eq(&s->carving, &c);
			s->carving = c;
		}
		s->have_carving = true;
		s->carving_rev = mod_rev;
		return rc;
	}
	if (starts(key, REC_NODE))
		return apply_node(s, key, value, len, mod_rev, changed);
	if (starts(key, REC_SLOT))
		return apply_slot(s, key, value, len);
	if (starts(key, REC_BLOCK))
		return apply_block(s, key, value, len, mod_rev, changed);
	if (starts(key, REC_HOST))
		return apply_host(s, key, value, len, mod_rev, changed);
	if (starts(key, REC_HOSTS)) {
		const char *name = key + strlen(REC_HOSTS);
		void *old = NULL;

		if (!*name)
			return 0;
		if (!value) {
			smap_del(&s->registered, key);
			return 0;
		}
		return smap_put(&s->registered, key, (void *)1, &old);
	}
	return 0;
}

struct st_node *state_node(const struct state *s, const char *path)
{
	char key[sizeof(REC_NODE) + TOPO_PATH_MAX];

	snprintf(key, sizeof(key), "%s%s", REC_NODE, path);
	return smap_get(&s->nodes, key);
}

struct st_block *state_block(const struct state *s,
			     const struct strata_prefix *p)
{
	char key[sizeof(REC_BLOCK) + REC_PREFIX_STR];

	state_key(key, sizeof(key), REC_BLOCK, p);
	return smap_get(&s->blocks, key);
}

struct st_host *state_host(const struct state *s, const char *name)
{
	char key[sizeof(REC_HOST) + REC_NAME_MAX + 1];

	snprintf(key, sizeof(key), "%s%s", REC_HOST, name);
	return smap_get(&s->hosts, key);
}

bool state_slot_taken(const struct state *s, const struct strata_prefix *p)
{
	char key[sizeof(REC_SLOT) + REC_PREFIX_STR];

	state_key(key, sizeof(key), REC_SLOT, p);
	return smap_get(&s->slots, key) != NULL;
}

bool state_registered(const struct state *s, const char *name)
{
	char key[sizeof(REC_HOSTS) + REC_NAME_MAX + 1];

	snprintf(key, sizeof(key), "%s%s", REC_HOSTS, name);
	return smap_get(&s->registered, key) != NULL;
}
