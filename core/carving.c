/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carving.h"

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *p;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : 64;
	p = realloc(v, c * size);
	if (p)
		*cap = c;
	return p;
}

static void sink_node(void *arg, const struct strata_topo_node *n)
{
	struct carving *c = arg;
	struct carving_node *o, *nodes;

	if (c->err)
		return;
	nodes = grow(c->nodes, &c->cap_nodes, c->n_nodes, sizeof(*nodes));
	if (!nodes)
		goto oom;
	c->nodes = nodes;
	o = &nodes[c->n_nodes];
	memset(o, 0, sizeof(*o));
	o->level = strdup(n->level ? n->level : "");
	o->path = strdup(n->path ? n->path : "");
	o->prefixes = calloc(n->n_prefixes ? n->n_prefixes : 1,
			     sizeof(*o->prefixes));
	if (!o->level || !o->path || !o->prefixes) {
		free(o->level);
		free(o->path);
		free(o->prefixes);
		goto oom;
	}
	c->n_nodes++;
	o->depth = n->depth;
	o->routed = n->routed;
	o->n_prefixes = n->n_prefixes;
	if (n->n_prefixes)
		memcpy(o->prefixes, n->prefixes,
		       n->n_prefixes * sizeof(*o->prefixes));
	o->blocks_total = n->blocks_total;
	o->blocks_used = n->blocks_used;
	o->blocks_reserved = n->blocks_reserved;
	o->addrs_used = n->addrs_used;
	return;
oom:
	c->err = -ENOMEM;
}

static void sink_host(void *arg, const struct strata_topo_blocks *h)
{
	struct carving *c = arg;
	struct carving_host *o, *hosts;

	if (c->err)
		return;
	hosts = grow(c->hosts, &c->cap_hosts, c->n_hosts, sizeof(*hosts));
	if (!hosts)
		goto oom;
	c->hosts = hosts;
	o = &hosts[c->n_hosts];
	memset(o, 0, sizeof(*o));
	o->name = strdup(h->name ? h->name : "");
	o->path = strdup(h->path ? h->path : "");
	o->blocks = calloc(h->n_blocks ? h->n_blocks : 1, sizeof(*o->blocks));
	if (!o->name || !o->path || !o->blocks || h->n_blocks > UINT32_MAX) {
		free(o->name);
		free(o->path);
		free(o->blocks);
		goto oom;
	}
	c->n_hosts++;
	o->n_addrs = h->n_addrs > STRATA_TOPO_MAX_ADDRS ?
			     STRATA_TOPO_MAX_ADDRS : h->n_addrs;
	memcpy(o->addrs, h->addrs, o->n_addrs * sizeof(o->addrs[0]));
	o->n_blocks = (uint32_t)h->n_blocks;
	if (h->n_blocks)
		memcpy(o->blocks, h->blocks, h->n_blocks * sizeof(*o->blocks));
	o->addrs_used = h->addrs_used;
	return;
oom:
	c->err = -ENOMEM;
}

void carving_sink(struct carving *c, struct strata_topo_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	sink->size = sizeof(*sink);
	sink->arg = c;
	sink->node = sink_node;
	sink->host = sink_host;
}

static int cmp_path(const void *a, const void *b)
{
	const struct carving_node *const *x = a, *const *y = b;

	return strcmp((*x)->path, (*y)->path);
}

int carving_plan_input(struct carving *c, char *err, size_t errlen)
{
	size_t n = 0;

	if (c->err)
		return c->err;
	for (size_t i = 0; i < c->n_nodes; i++)
		n += c->nodes[i].routed;
	c->groups = calloc(n ? n : 1, sizeof(*c->groups));
	c->routed = calloc(n ? n : 1, sizeof(*c->routed));
	c->plan_hosts = calloc(c->n_hosts ? c->n_hosts : 1,
			       sizeof(*c->plan_hosts));
	if (!c->groups || !c->routed || !c->plan_hosts)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].routed)
			c->routed[n++] = &c->nodes[i];
	qsort(c->routed, n, sizeof(*c->routed), cmp_path);
	for (size_t i = 0; i < n; i++) {
		c->routed[i]->group = (uint32_t)i;
		c->routed[i]->hosts = 0;
		c->groups[i].path = c->routed[i]->path;
		c->groups[i].prefixes = c->routed[i]->prefixes;
		c->groups[i].n_prefixes = c->routed[i]->n_prefixes;
	}
	for (size_t i = 0; i < c->n_hosts; i++) {
		const struct carving_host *h = &c->hosts[i];
		struct carving_node key = { .path = h->path }, *kp = &key;
		struct carving_node **found;
		struct plan_host *ph = &c->plan_hosts[i];

		found = bsearch(&kp, c->routed, n, sizeof(*c->routed),
				cmp_path);
		if (!found) {
			snprintf(err, errlen,
				 "host %s: its subnet \"%s\" is not in the carving",
				 h->name, h->path);
			return -EINVAL;
		}
		(*found)->hosts++;
		ph->name = h->name;
		ph->group = (*found)->group;
		ph->n_addrs = h->n_addrs > PLAN_MAX_ADDRS ? PLAN_MAX_ADDRS :
							    h->n_addrs;
		memcpy(ph->addrs, h->addrs, ph->n_addrs * sizeof(ph->addrs[0]));
		ph->blocks = h->blocks;
		ph->n_blocks = h->n_blocks;
		ph->healthy = true;
	}
	c->in.groups = c->groups;
	c->in.n_groups = n;
	c->in.hosts = c->plan_hosts;
	c->in.n_hosts = c->n_hosts;
	return 0;
}

void carving_free(struct carving *c)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		free(c->nodes[i].level);
		free(c->nodes[i].path);
		free(c->nodes[i].prefixes);
	}
	for (size_t i = 0; i < c->n_hosts; i++) {
		free(c->hosts[i].name);
		free(c->hosts[i].path);
		free(c->hosts[i].blocks);
	}
	free(c->nodes);
	free(c->hosts);
	free(c->groups);
	free(c->routed);
	free(c->plan_hosts);
	memset(c, 0, sizeof(*c));
}
