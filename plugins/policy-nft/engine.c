/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine's state (the cluster's objects and this node's
 * attachments) and its compilation into the strata-filter table; see
 * engine.h for the table's shape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "netpol.h"

/* Room for one more in *v of n. 0 or -ENOMEM. */
static int grow(void *v, size_t n, size_t *cap, size_t size)
{
	void **pv = v;
	size_t c = *cap ? 2 * *cap : 16;
	void *nv;

	if (n < *cap)
		return 0;
	nv = realloc(*pv, c * size);
	if (!nv)
		return -ENOMEM;
	*pv = nv;
	*cap = c;
	return 0;
}

#define GROW(v, n, cap) grow(&(v), (n), &(cap), sizeof(*(v)))

/* The attachments here that are pd, by name. */
static bool attach_is(const struct np_attach *a, const struct np_pod *pd)
{
	return a->ns && !strcmp(a->ns, pd->ns) && !strcmp(a->name, pd->name);
}

struct pol *pol_new(void)
{
	return calloc(1, sizeof(struct pol));
}

static void attach_free(struct np_attach *a)
{
	if (!a)
		return;
	free(a->handle);
	free(a->ns);
	free(a->name);
	free(a->host_if);
	free(a);
}

void pol_free(struct pol *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_nss; i++)
		np_namespace_free(p->nss[i]);
	for (i = 0; i < p->n_pods; i++)
		np_pod_free(p->pods[i]);
	for (i = 0; i < p->n_pols; i++)
		np_policy_free(p->pols[i]);
	for (i = 0; i < p->n_atts; i++)
		attach_free(p->atts[i]);
	free(p->nss);
	free(p->pods);
	free(p->pols);
	free(p->atts);
	nftm_free(p->m);
	free(p->gone);
	free(p->pols_changed);
	for (i = 0; i < p->n_ifs_gone; i++)
		free(p->ifs_gone[i]);
	free(p->ifs_gone);
	free(p);
}

/*
 * What pol_update() must compile again, noted as objects change. Out of
 * memory here, it compiles the whole table.
 */
static void note_pod(struct pol *p, struct np_pod *pd)
{
	size_t i;

	pd->dirty = true;
	for (i = 0; i < p->n_atts; i++) {
		if (!p->atts[i]->ns)
			p->whole = true; /* found by address: any pod may be it */
		else if (attach_is(p->atts[i], pd))
			p->atts[i]->dirty = true;
	}
}

static void note_pod_gone(struct pol *p, struct np_pod *pd)
{
	size_t i;

	note_pod(p, pd);
	for (i = 0; i < pd->n_was; i++) {
		if (GROW(p->gone, p->n_gone, p->cap_gone)) {
			p->whole = true;
			return;
		}
		p->gone[p->n_gone++] = pd->was[i];
	}
}

/* A policy before or after a change: the attachments it selects. */
static void note_policy(struct pol *p, const struct np_policy *pl)
{
	size_t i;

	for (i = 0; i < p->n_atts; i++) {
		struct np_attach *a = p->atts[i];
		const struct np_pod *pd;

		if (!a->ns) {
			p->whole = true;
			continue;
		}
		if (strcmp(a->ns, pl->ns))
			continue;
		pd = np_find_pod(p, a->ns, a->name);
		if (pd && np_policy_selects(pl, pd))
			a->dirty = true;
	}
	for (i = 0; i < p->n_pols_changed; i++)
		if (!strcmp(p->pols_changed[i], pl->id))
			return;
	if (GROW(p->pols_changed, p->n_pols_changed, p->cap_pols_changed)) {
		p->whole = true;
		return;
	}
	memcpy(p->pols_changed[p->n_pols_changed++], pl->id, sizeof(pl->id));
}

static void note_if_gone(struct pol *p, const char *host_if)
{
	char *dup = strdup(host_if);

	if (!dup || GROW(p->ifs_gone, p->n_ifs_gone, p->cap_ifs_gone)) {
		free(dup);
		p->whole = true;
		return;
	}
	p->ifs_gone[p->n_ifs_gone++] = dup;
}

struct np_namespace *np_find_namespace(const struct pol *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_nss; i++)
		if (!strcmp(p->nss[i]->name, name))
			return p->nss[i];
	return NULL;
}

/*
 * Where key is or would go among n sorted objects, cmp(arr, i, key)
 * comparing object i with it; *found whether it is there.
 */
static size_t sorted_slot(const void *arr, size_t n, const void *key,
			  int (*cmp)(const void *, size_t, const void *),
			  bool *found)
{
	size_t lo = 0, hi = n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(arr, mid, key);

		if (!c) {
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

/* Pods and policies are sorted by namespace, then name. */
struct ns_name {
	const char *ns, *name;
};

static int ns_name_cmp(const char *ns, const char *name,
		       const struct ns_name *k)
{
	int c = strcmp(ns, k->ns);

	return c ? c : strcmp(name, k->name);
}

static int pod_cmp(const void *arr, size_t i, const void *key)
{
	const struct np_pod *pd = ((struct np_pod *const *)arr)[i];

	return ns_name_cmp(pd->ns, pd->name, key);
}

static int policy_cmp(const void *arr, size_t i, const void *key)
{
	const struct np_policy *pl = ((struct np_policy *const *)arr)[i];

	return ns_name_cmp(pl->ns, pl->name, key);
}

static size_t pod_slot(const struct pol *p, const char *ns, const char *name,
		       bool *found)
{
	struct ns_name k = { ns, name };

	return sorted_slot(p->pods, p->n_pods, &k, pod_cmp, found);
}

static size_t pod_index(const struct pol *p, const char *ns, const char *name)
{
	bool found;
	size_t i = pod_slot(p, ns, name, &found);

	return found ? i : p->n_pods;
}

struct np_pod *np_find_pod(const struct pol *p, const char *ns,
			   const char *name)
{
	size_t i = pod_index(p, ns, name);

	return i < p->n_pods ? p->pods[i] : NULL;
}

int pol_namespace_put(struct pol *p, const char *json, size_t len, char *err,
		      size_t errlen)
{
	struct np_namespace *n, *old;
	int ret = np_namespace_parse(json, len, &n, err, errlen);
	size_t i;

	if (!n)
		return ret;
	p->whole = true;
	old = np_find_namespace(p, n->name);
	if (old) {
		for (i = 0; p->nss[i] != old; i++)
			;
		p->nss[i] = n;
		np_namespace_free(old);
		return ret;
	}
	if (GROW(p->nss, p->n_nss, p->cap_nss)) {
		np_namespace_free(n);
		return -ENOMEM;
	}
	p->nss[p->n_nss++] = n;
	return ret;
}

void pol_namespace_del(struct pol *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_nss; i++)
		if (!strcmp(p->nss[i]->name, name)) {
			p->whole = true;
			np_namespace_free(p->nss[i]);
			p->nss[i] = p->nss[--p->n_nss];
			return;
		}
}

int pol_pod_put(struct pol *p, const char *json, size_t len, char *err,
		size_t errlen)
{
	struct np_pod *pd;
	int ret = np_pod_parse(json, len, &pd, err, errlen);
	bool found;
	size_t i;

	if (!pd)
		return ret;
	i = pod_slot(p, pd->ns, pd->name, &found);
	if (found) {
		memcpy(pd->was, p->pods[i]->was, sizeof(pd->was));
		pd->n_was = p->pods[i]->n_was;
		np_pod_free(p->pods[i]);
		p->pods[i] = pd;
		note_pod(p, pd);
		return ret;
	}
	if (GROW(p->pods, p->n_pods, p->cap_pods)) {
		np_pod_free(pd);
		return -ENOMEM;
	}
	memmove(&p->pods[i + 1], &p->pods[i],
		(p->n_pods - i) * sizeof(*p->pods));
	p->pods[i] = pd;
	p->n_pods++;
	note_pod(p, pd);
	return ret;
}

void pol_pod_del(struct pol *p, const char *ns, const char *name)
{
	size_t i = pod_index(p, ns, name);

	if (i == p->n_pods)
		return;
	note_pod_gone(p, p->pods[i]);
	np_pod_free(p->pods[i]);
	memmove(&p->pods[i], &p->pods[i + 1],
		(p->n_pods - i - 1) * sizeof(*p->pods));
	p->n_pods--;
}

static size_t policy_slot(const struct pol *p, const char *ns,
			  const char *name, bool *found)
{
	struct ns_name k = { ns, name };

	return sorted_slot(p->pols, p->n_pols, &k, policy_cmp, found);
}

int pol_policy_put(struct pol *p, const char *json, size_t len, char *err,
		   size_t errlen)
{
	struct np_policy *pl;
	int ret = np_policy_parse(json, len, &pl, err, errlen);
	bool found;
	size_t i;

	if (!pl)
		return ret;
	note_policy(p, pl);
	i = policy_slot(p, pl->ns, pl->name, &found);
	if (found) {
		note_policy(p, p->pols[i]);
		np_policy_free(p->pols[i]);
		p->pols[i] = pl;
		return ret;
	}
	if (GROW(p->pols, p->n_pols, p->cap_pols)) {
		np_policy_free(pl);
		return -ENOMEM;
	}
	memmove(&p->pols[i + 1], &p->pols[i],
		(p->n_pols - i) * sizeof(*p->pols));
	p->pols[i] = pl;
	p->n_pols++;
	return ret;
}

void pol_policy_del(struct pol *p, const char *ns, const char *name)
{
	bool found;
	size_t i = policy_slot(p, ns, name, &found);

	if (!found)
		return;
	note_policy(p, p->pols[i]);
	np_policy_free(p->pols[i]);
	memmove(&p->pols[i], &p->pols[i + 1],
		(p->n_pols - i - 1) * sizeof(*p->pols));
	p->n_pols--;
}

/* An interface name nft can carry quoted: what the kernel allows, less
 * quotes, backslashes and blanks. */
static bool ifname_valid(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (!n || n >= STRATA_IFNAMSIZ)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == '"' || s[i] == '\\' ||
		    s[i] == '/' || s[i] == 0x7f)
			return false;
	return true;
}

static int attach_cmp(const void *arr, size_t i, const void *key)
{
	return strcmp(((struct np_attach *const *)arr)[i]->handle, key);
}

static size_t attach_slot(const struct pol *p, const char *handle,
			  bool *found)
{
	return sorted_slot(p->atts, p->n_atts, handle, attach_cmp, found);
}

static char *dup_name(const char *s, bool *nomem)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = strdup(s);
	if (!d)
		*nomem = true;
	return d;
}

int pol_attach(struct pol *p, const struct strata_pod *pod)
{
	struct np_pod *pd;
	struct np_attach *a;
	bool found, nomem = false;
	size_t i, n;

	if (!pod->handle || !*pod->handle || !ifname_valid(pod->host_if))
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->handle = dup_name(pod->handle, &nomem);
	a->host_if = dup_name(pod->host_if, &nomem);
	if (pod->pod_namespace && *pod->pod_namespace && pod->pod_name &&
	    *pod->pod_name) {
		a->ns = dup_name(pod->pod_namespace, &nomem);
		a->name = dup_name(pod->pod_name, &nomem);
	}
	n = pod->n_addrs < 2 ? pod->n_addrs : 2;
	for (i = 0; i < n; i++)
		if (pod->addrs[i].family == STRATA_AF_INET ||
		    pod->addrs[i].family == STRATA_AF_INET6)
			a->addrs[a->n_addrs++] = pod->addrs[i];
	if (nomem)
		goto free_attach;
	a->dirty = true;
	if (!a->ns)
		p->whole = true;
	else if ((pd = np_find_pod(p, a->ns, a->name)))
		pd->dirty = true;
	i = attach_slot(p, a->handle, &found);
	if (found) {
		pol_detach(p, a->handle);
		i = attach_slot(p, a->handle, &found);
	}
	if (GROW(p->atts, p->n_atts, p->cap_atts))
		goto free_attach;
	memmove(&p->atts[i + 1], &p->atts[i],
		(p->n_atts - i) * sizeof(*p->atts));
	p->atts[i] = a;
	p->n_atts++;
	return 0;
free_attach:
	attach_free(a);
	return -ENOMEM;
}

void pol_detach(struct pol *p, const char *handle)
{
	struct np_attach *a;
	struct np_pod *pd;
	bool found;
	size_t i = attach_slot(p, handle, &found);

	if (!found)
		return;
	a = p->atts[i];
	note_if_gone(p, a->host_if);
	if (!a->ns)
		p->whole = true;
	else if ((pd = np_find_pod(p, a->ns, a->name)))
		pd->dirty = true;
	attach_free(a);
	memmove(&p->atts[i], &p->atts[i + 1],
		(p->n_atts - i - 1) * sizeof(*p->atts));
	p->n_atts--;
}

bool pol_pod_known(const struct pol *p, const char *ns, const char *name)
{
	return np_find_pod(p, ns, name) != NULL;
}

void pol_counts(const struct pol *p, struct pol_counts *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->namespaces = p->n_nss;
	out->pods = p->n_pods;
	out->policies = p->n_pols;
	out->attachments = p->n_atts;
	for (i = 0; i < p->n_nss; i++)
		out->malformed += p->nss[i]->malformed;
	for (i = 0; i < p->n_pods; i++)
		out->malformed += p->pods[i]->malformed;
	for (i = 0; i < p->n_pols; i++)
		out->malformed += p->pols[i]->malformed;
}

static bool addr_eq(const struct strata_addr *a, const struct strata_addr *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == STRATA_AF_INET ? 4 : 16);
}

static bool pod_status_has(const struct np_pod *pd,
			   const struct strata_addr *a)
{
	size_t i;

	for (i = 0; i < pd->n_addrs; i++)
		if (addr_eq(&pd->addrs[i], a))
			return true;
	return false;
}

struct np_pod *np_attach_pod(const struct pol *p, const struct np_attach *a)
{
	size_t i, j;

	if (a->ns)
		return np_find_pod(p, a->ns, a->name);
	for (i = 0; i < p->n_pods; i++) {
		/* a pod of the host's network shares the node's address */
		if (p->pods[i]->host_network)
			continue;
		for (j = 0; j < a->n_addrs; j++)
			if (pod_status_has(p->pods[i], &a->addrs[j]))
				return p->pods[i];
	}
	return NULL;
}

bool np_pod_has_addr(const struct pol *p, const struct np_pod *pd,
		     const struct strata_addr *a)
{
	size_t i, j;

	if (pod_status_has(pd, a))
		return true;
	for (i = 0; i < p->n_atts; i++)
		if (attach_is(p->atts[i], pd))
			for (j = 0; j < p->atts[i]->n_addrs; j++)
				if (addr_eq(&p->atts[i]->addrs[j], a))
					return true;
	return false;
}

static bool pod_runs(const struct np_pod *pd)
{
	return !pd->malformed && !pd->host_network && !pd->terminal;
}

bool np_pod_eligible(const struct pol *p, const struct np_pod *pd)
{
	size_t i;

	if (!pod_runs(pd))
		return false;
	if (pd->n_addrs)
		return true;
	for (i = 0; i < p->n_atts; i++)
		if (attach_is(p->atts[i], pd) && p->atts[i]->n_addrs)
			return true;
	return false;
}

bool np_policy_selects(const struct np_policy *pl, const struct np_pod *pd)
{
	return !strcmp(pl->ns, pd->ns) &&
	       np_selector_matches(&pl->sel, &pd->labels);
}

/* pe's selectors (not an ipBlock) select pd, its namespace ns (NULL when
 * not known). */
static bool peer_selects(const struct np_policy *pl, const struct np_peer *pe,
			 const struct np_pod *pd,
			 const struct np_namespace *ns)
{
	if (pe->ipb)
		return false;
	if (!pe->nss) {
		if (strcmp(pd->ns, pl->ns))
			return false;
	} else if (!ns) {
		/* labels unknown: only "every namespace" can mean it */
		if (!np_selector_empty(pe->nss))
			return false;
	} else if (ns->malformed ||
		   !np_selector_matches(pe->nss, &ns->labels)) {
		return false;
	}
	return !pe->pods || np_selector_matches(pe->pods, &pd->labels);
}

bool np_peer_selects_pod(const struct pol *p, const struct np_policy *pl,
			 const struct np_peer *pe, const struct np_pod *pd)
{
	return peer_selects(pl, pe, pd, np_find_namespace(p, pd->ns));
}

bool np_port_at(const struct np_port *pt, const struct np_pod *pd,
		uint16_t *lo, uint16_t *hi)
{
	size_t i;

	if (!pt->name) {
		*lo = pt->port;
		*hi = pt->port ? pt->end : 65535;
		return true;
	}
	if (!pd)
		return false;
	for (i = 0; i < pd->n_ports; i++)
		if (pd->ports[i].name && pd->ports[i].proto == pt->proto &&
		    !strcmp(pd->ports[i].name, pt->name)) {
			*lo = *hi = pd->ports[i].port;
			return true;
		}
	return false;
}

const char *np_proto_name(uint8_t proto)
{
	switch (proto) {
	case NP_UDP:
		return "udp";
	case NP_SCTP:
		return "sctp";
	default:
		return "tcp";
	}
}

/*
 * Compilation. Per compile, each pod's addresses (its status and this
 * node's attachments of it), whether it can be a peer and its namespace.
 */
struct podx {
	struct strata_addr addrs[6];
	size_t n_addrs;
	bool eligible;
	const struct np_namespace *ns;
};

struct cc {
	const struct pol *p;
	struct nftm *m;
	struct podx *px; /* by index in p->pods */
	struct np_pod **att_pod; /* by index in p->atts */
	size_t *att_idx; /* its index in p->pods, or SIZE_MAX */
	bool (*used)[2]; /* by index in p->pols, direction */
	bool v6; /* some pod that can be a peer has an IPv6 address */
};

static const char *const dir_name[2] = { "in", "eg" };

/*
 * The names of the table's objects, made here only: the incremental
 * compile finds by name what the whole one made. Each fits NP_NAME_MAX.
 */
#define NP_NAME_MAX 128

static void pod_chain_name(char *buf, const char *host_if, int d)
{
	snprintf(buf, NP_NAME_MAX, "pod-%s-%s", host_if, dir_name[d]);
}

static void policy_chain_name(char *buf, const char *id, int d)
{
	snprintf(buf, NP_NAME_MAX, "np-%s-%s", id, dir_name[d]);
}

/* An interface as a key of the verdict maps. */
static void if_key(char *buf, const char *host_if)
{
	snprintf(buf, NP_NAME_MAX, "\"%s\"", host_if);
}

/* The set of the pods rule ri's peers select, family f (named: of the
 * addresses and named ports it allows); false when it has none. */
static bool rule_set_name(char *buf, const struct np_policy *pl, int d,
			  size_t ri, int f, bool named)
{
	const struct np_rule *r = d ? &pl->eg[ri] : &pl->in[ri];

	if (named)
		snprintf(buf, NP_NAME_MAX, "np-%s-%s-%zu-%dn", pl->id,
			 dir_name[d], ri, f);
	else if (r->pset[0])
		snprintf(buf, NP_NAME_MAX, "%s-%d", r->pset, f);
	else
		return false;
	return true;
}

static void podx_add(struct podx *x, const struct strata_addr *a)
{
	size_t i;

	for (i = 0; i < x->n_addrs; i++)
		if (addr_eq(&x->addrs[i], a))
			return;
	if (x->n_addrs < sizeof(x->addrs) / sizeof(x->addrs[0]))
		x->addrs[x->n_addrs++] = *a;
}

/* The index in p->pods of the pod an attachment is, SIZE_MAX when none. */
static size_t attach_index(const struct pol *p, const struct np_attach *a)
{
	const struct np_pod *pd;
	size_t i;

	if (a->ns) {
		i = pod_index(p, a->ns, a->name);
		return i < p->n_pods ? i : SIZE_MAX;
	}
	pd = np_attach_pod(p, a);
	for (i = 0; pd && i < p->n_pods; i++)
		if (p->pods[i] == pd)
			return i;
	return SIZE_MAX;
}

static int cc_init(struct cc *c, const struct pol *p)
{
	size_t i, j, k;

	memset(c, 0, sizeof(*c));
	c->p = p;
	c->px = calloc(p->n_pods + 1, sizeof(*c->px));
	c->att_pod = calloc(p->n_atts + 1, sizeof(*c->att_pod));
	c->att_idx = calloc(p->n_atts + 1, sizeof(*c->att_idx));
	c->used = calloc(p->n_pols + 1, sizeof(*c->used));
	if (!c->px || !c->att_pod || !c->att_idx || !c->used)
		return -ENOMEM;
	for (i = 0; i < p->n_pods; i++) {
		for (j = 0; j < p->pods[i]->n_addrs; j++)
			podx_add(&c->px[i], &p->pods[i]->addrs[j]);
		c->px[i].ns = np_find_namespace(p, p->pods[i]->ns);
	}
	for (i = 0; i < p->n_atts; i++) {
		const struct np_attach *a = p->atts[i];

		k = c->att_idx[i] = attach_index(p, a);
		if (k == SIZE_MAX)
			continue;
		c->att_pod[i] = p->pods[k];
		for (j = 0; j < a->n_addrs; j++)
			podx_add(&c->px[k], &a->addrs[j]);
	}
	for (i = 0; i < p->n_pods; i++) {
		c->px[i].eligible = pod_runs(p->pods[i]) && c->px[i].n_addrs;
		for (j = 0; c->px[i].eligible && j < c->px[i].n_addrs; j++)
			c->v6 |= c->px[i].addrs[j].family == STRATA_AF_INET6;
	}
	return 0;
}

static void cc_clear(struct cc *c)
{
	free(c->px);
	free(c->att_pod);
	free(c->att_idx);
	free(c->used);
}

static uint8_t fam_of(int f)
{
	return f == 4 ? STRATA_AF_INET : STRATA_AF_INET6;
}

static const char *nft_fam(int f)
{
	return f == 4 ? "ip" : "ip6";
}

static void addr_text(const struct strata_addr *a, char *out, size_t len)
{
	inet_ntop(a->family == STRATA_AF_INET ? AF_INET : AF_INET6, a->addr,
		  out, (socklen_t)len);
}

static bool peers_select(const struct cc *c, const struct np_policy *pl,
			 const struct np_rule *r, size_t pod)
{
	size_t i;

	for (i = 0; i < r->n_peers; i++)
		if (peer_selects(pl, &r->peers[i], c->p->pods[pod],
				 c->px[pod].ns))
			return true;
	return false;
}

/* The addresses of family f of the pods sel marks, as a set's elements. */
static int fill_pod_set(const struct cc *c, const bool *sel, int f,
			struct nftm_set *s)
{
	char elem[INET6_ADDRSTRLEN];
	size_t i, j;
	int ret;

	for (i = 0; i < c->p->n_pods; i++) {
		if (!sel[i])
			continue;
		for (j = 0; j < c->px[i].n_addrs; j++) {
			if (c->px[i].addrs[j].family != fam_of(f))
				continue;
			addr_text(&c->px[i].addrs[j], elem, sizeof(elem));
			if ((ret = nftm_set_add(s, elem)))
				return ret;
		}
	}
	return 0;
}

/* The ipBlocks of a rule of family f, merged, as elements ("10.0.0.0/8",
 * "10.1.0.0-10.1.0.5") in *out of *n. 0 or -ENOMEM; free each and *out. */
static int block_elems(const struct np_rule *r, int f, char ***out, size_t *n)
{
	struct np_ranges rs = { 0 };
	char elem[NFTM_ELEM_MAX];
	size_t i, j;
	int ret = 0;

	*out = NULL;
	*n = 0;
	for (i = 0; i < r->n_peers && !ret; i++) {
		const struct np_ranges *b =
			r->peers[i].ipb ? &r->peers[i].ipb->r : NULL;

		for (j = 0; b && j < b->n && !ret; j++)
			if (b->v[j].family == fam_of(f))
				ret = np_ranges_add(&rs, &b->v[j]);
	}
	if (ret || !rs.n)
		goto clear_ranges;
	np_ranges_merge(&rs);
	*out = calloc(rs.n, sizeof(char *));
	if (!*out) {
		ret = -ENOMEM;
		goto clear_ranges;
	}
	for (i = 0; i < rs.n; i++) {
		nftm_range_elem(f, rs.v[i].lo, rs.v[i].hi, elem);
		if (!((*out)[i] = strdup(elem))) {
			ret = -ENOMEM;
			break;
		}
		(*n)++;
	}
clear_ranges:
	np_ranges_clear(&rs);
	return ret;
}

/* The named ports of rule r at pod pd's addresses of family f. */
static int add_named(const struct np_rule *r, const struct np_pod *pd,
		     const struct podx *x, int f, struct nftm_set *s)
{
	char addr[INET6_ADDRSTRLEN], elem[NFTM_ELEM_MAX + 32];
	uint16_t lo, hi;
	size_t i, j;
	int ret;

	for (i = 0; i < r->n_ports; i++) {
		if (!r->ports[i].name ||
		    !np_port_at(&r->ports[i], pd, &lo, &hi))
			continue;
		for (j = 0; j < x->n_addrs; j++) {
			if (x->addrs[j].family != fam_of(f))
				continue;
			addr_text(&x->addrs[j], addr, sizeof(addr));
			snprintf(elem, sizeof(elem), "%s . %s . %u", addr,
				 np_proto_name(r->ports[i].proto), lo);
			if ((ret = nftm_set_add(s, elem)))
				return ret;
		}
	}
	return 0;
}

static int fill_named_set(const struct cc *c, const struct np_policy *pl,
			  int d, const struct np_rule *r, const bool *sel,
			  int f, struct nftm_set *s)
{
	const struct pol *p = c->p;
	size_t i;
	int ret;

	if (d == NP_INGRESS) {
		/* the ports of this node's pods the policy selects */
		for (i = 0; i < p->n_atts; i++) {
			const struct np_pod *pd = c->att_pod[i];

			if (!pd || pd->malformed || !np_policy_selects(pl, pd))
				continue;
			ret = add_named(r, pd, &c->px[c->att_idx[i]], f, s);
			if (ret)
				return ret;
		}
		return 0;
	}
	/* the ports of the peers */
	for (i = 0; i < p->n_pods; i++) {
		if (!c->px[i].eligible)
			continue;
		if (!r->all_peers && (!sel || !sel[i])) {
			size_t j, k;
			bool in = false;

			/* a pod inside an ipBlock is a peer too */
			for (j = 0; j < r->n_peers && !in; j++)
				for (k = 0; r->peers[j].ipb &&
					    k < c->px[i].n_addrs && !in;
				     k++)
					in = np_ranges_contain(
						&r->peers[j].ipb->r,
						&c->px[i].addrs[k]);
			if (!in)
				continue;
		}
		if ((ret = add_named(r, p->pods[i], &c->px[i], f, s)))
			return ret;
	}
	return 0;
}

static int port_cmp(const void *a, const void *b)
{
	const struct np_port *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return 0;
}

/* The numeric ports of a rule as a match ("" when it has none): the
 * ranges of each protocol merged, so the anonymous set has no overlaps. */
static int port_match(const struct np_rule *r, char **out)
{
	struct np_port *v = calloc(r->n_ports + 1, sizeof(*v));
	char *buf = NULL;
	size_t len = 0, i, n = 0;
	bool all_full = true;
	const char *sep = "";
	FILE *f;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	for (i = 0; i < r->n_ports; i++) {
		if (r->ports[i].name)
			continue;
		v[n] = r->ports[i];
		v[n].name = NULL;
		if (!v[n].port)
			v[n].end = 65535;
		n++;
	}
	qsort(v, n, sizeof(*v), port_cmp);
	/* merge: v[i] into the previous when same protocol and touching */
	for (i = 1, len = n ? 1 : 0; i < n; i++) {
		struct np_port *last = &v[len - 1];

		if (v[i].proto == last->proto &&
		    (unsigned)v[i].port <= (unsigned)last->end + 1) {
			if (v[i].end > last->end)
				last->end = v[i].end;
			continue;
		}
		v[len++] = v[i];
	}
	n = len;
	for (i = 0; i < n; i++)
		if (v[i].port || v[i].end != 65535)
			all_full = false;
	f = open_memstream(&buf, &len);
	if (!f) {
		free(v);
		return -ENOMEM;
	}
	if (n && all_full) {
		fputs("meta l4proto { ", f);
		for (i = 0; i < n; i++, sep = ", ")
			fprintf(f, "%s%s", sep, np_proto_name(v[i].proto));
		fputs(" }", f);
	} else if (n) {
		fputs("meta l4proto . th dport { ", f);
		for (i = 0; i < n; i++, sep = ", ") {
			fprintf(f, "%s%s . %u", sep, np_proto_name(v[i].proto),
				v[i].port);
			if (v[i].end != v[i].port)
				fprintf(f, "-%u", v[i].end);
		}
		fputs(" }", f);
	}
	free(v);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}

/* Whether a rule has a peer that selects pods (not an ipBlock). */
static bool has_pod_peers(const struct np_rule *r)
{
	size_t i;

	for (i = 0; i < r->n_peers; i++)
		if (!r->peers[i].ipb)
			return true;
	return false;
}

static bool has_named_ports(const struct np_rule *r)
{
	size_t i;

	for (i = 0; i < r->n_ports; i++)
		if (r->ports[i].name)
			return true;
	return false;
}

/* The pods rule r's peers select, by index in p->pods, for both families;
 * *sel NULL when none are pods (every peer, or ipBlocks only). */
static int select_peers(const struct cc *c, const struct np_policy *pl,
			const struct np_rule *r, bool **sel)
{
	size_t i;

	*sel = NULL;
	if (r->all_peers || !has_pod_peers(r))
		return 0;
	*sel = calloc(c->p->n_pods + 1, sizeof(**sel));
	if (!*sel)
		return -ENOMEM;
	for (i = 0; i < c->p->n_pods; i++)
		(*sel)[i] = c->px[i].eligible && peers_select(c, pl, r, i);
	return 0;
}

/* The rules of one peer match ("ip saddr @set ", "ip daddr 10.0.0.0/8 ",
 * "" for every peer): what its ports allow. named: the set of named
 * ports, NULL when none. */
static int emit_peer(struct nftm_chain *ch, const struct np_rule *r,
		     const char *peer, const char *ports, const char *fam,
		     const char *named)
{
	int ret = 0;

	if (!r->n_ports)
		return nftm_rule(ch, "%saccept", peer);
	if (*ports)
		ret = nftm_rule(ch, "%s%s accept", peer, ports);
	if (!ret && named)
		ret = nftm_rule(ch, "%s%s daddr . meta l4proto . th dport @%s "
			       "accept", peer, fam, named);
	return ret;
}

/*
 * The rules of rule ri of a policy, family by family: peers that are pods
 * match through a set of their addresses (elements move as pods and labels
 * do), ipBlocks as address ranges written in the rules (they change only
 * with the policy), named ports through a set of address . protocol . port.
 * Sets are plain hashes: libnftables reads every interval set's elements
 * back before each transaction, which would make each change cost as much
 * as the whole table. IPv6 sets exist only once some pod has an IPv6
 * address.
 */
static int emit_rule(const struct cc *c, const struct np_policy *pl, int d,
		     size_t ri, struct nftm_chain *ch)
{
	const struct np_rule *r = d ? &pl->eg[ri] : &pl->in[ri];
	const char *dir = d == NP_INGRESS ? "saddr" : "daddr";
	bool has_named = has_named_ports(r);
	bool *sel = NULL;
	char **blocks = NULL, *ports = NULL;
	size_t i, n_blocks = 0;
	int f, ret = 0;

	if ((ret = port_match(r, &ports)))
		return ret;
	if ((ret = select_peers(c, pl, r, &sel)))
		goto free_ports;
	if (r->all_peers && !has_named) {
		ret = emit_peer(ch, r, "", ports, "", NULL);
		goto free_ports;
	}
	if (r->all_peers && *ports &&
	    (ret = nftm_rule(ch, "%s accept", ports)))
		goto free_ports;
	for (f = 4; f <= 6 && !ret; f += 2) {
		const char *fam = nft_fam(f);
		bool sets = f == 4 || c->v6;
		char set[NP_NAME_MAX], named[NP_NAME_MAX], peer[192];
		struct nftm_set *s;

		if (has_named && sets) {
			rule_set_name(named, pl, d, ri, f, true);
			s = nftm_set(c->m, named, f == 4 ?
				"ipv4_addr . inet_proto . inet_service" :
				"ipv6_addr . inet_proto . inet_service",
				     false);
			if (!s || fill_named_set(c, pl, d, r, sel, f, s)) {
				ret = -ENOMEM;
				break;
			}
		}
		if (r->all_peers) {
			if (has_named && sets)
				ret = nftm_rule(ch, "%s daddr . meta l4proto . "
					       "th dport @%s accept", fam, named);
			continue;
		}
		if (sel && sets) {
			/* shared by the rules whose peers select alike:
			 * filled afresh, so that it is exact whoever
			 * filled it before */
			rule_set_name(set, pl, d, ri, f, false);
			s = nftm_set(c->m, set, f == 4 ? "ipv4_addr" :
							 "ipv6_addr", false);
			if (s)
				nftm_set_flush(s);
			if (!s || fill_pod_set(c, sel, f, s)) {
				ret = -ENOMEM;
				break;
			}
			snprintf(peer, sizeof(peer), "%s %s @%s ", fam, dir,
				 set);
			ret = emit_peer(ch, r, peer, ports, fam,
					has_named && sets ? named : NULL);
		}
		if (ret || (ret = block_elems(r, f, &blocks, &n_blocks)))
			break;
		for (i = 0; i < n_blocks && !ret; i++) {
			snprintf(peer, sizeof(peer), "%s %s %s ", fam, dir,
				 blocks[i]);
			ret = emit_peer(ch, r, peer, ports, fam,
					has_named && sets ? named : NULL);
		}
		for (i = 0; i < n_blocks; i++)
			free(blocks[i]);
		free(blocks);
		blocks = NULL;
	}
free_ports:
	free(sel);
	free(ports);
	return ret;
}

static int emit_policy(const struct cc *c, const struct np_policy *pl, int d)
{
	struct nftm_chain *ch;
	char name[NP_NAME_MAX];
	size_t i, n = d ? pl->n_eg : pl->n_in;
	int ret;

	policy_chain_name(name, pl->id, d);
	if (!(ch = nftm_chain(c->m, name, NULL)))
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((ret = emit_rule(c, pl, d, i, ch)))
			return ret;
	return 0;
}

/* The verdict for attachment i in direction d, its chain made. */
static int emit_pod(struct cc *c, size_t ai, int d, struct nftm_map *mp)
{
	const struct np_attach *a = c->p->atts[ai];
	const struct np_pod *pd = c->att_pod[ai];
	struct nftm_chain *ch = NULL;
	char key[NP_NAME_MAX], chain[NP_NAME_MAX], target[NP_NAME_MAX];
	char verdict[NP_NAME_MAX + 8];
	size_t i;
	int ret;

	if_key(key, a->host_if);
	pod_chain_name(chain, a->host_if, d);
	if (!pd || pd->malformed)
		return nftm_map_put(mp, key, "drop");
	for (i = 0; i < c->p->n_pols; i++) {
		const struct np_policy *pl = c->p->pols[i];

		if (!(d ? pl->egress : pl->ingress) ||
		    !np_policy_selects(pl, pd))
			continue;
		if (!ch && !(ch = nftm_chain(c->m, chain, NULL)))
			return -ENOMEM;
		if (pl->malformed)
			continue;
		c->used[i][d] = true;
		policy_chain_name(target, pl->id, d);
		if ((ret = nftm_rule(ch, "jump %s", target)))
			return ret;
	}
	if (!ch)
		return nftm_map_put(mp, key, "accept");
	if ((ret = nftm_rule(ch, "drop")))
		return ret;
	snprintf(verdict, sizeof(verdict), "goto %s", chain);
	return nftm_map_put(mp, key, verdict);
}

/* A pointer to a chain lasts until the next chain is made: each is
 * filled before the next. */
static int emit_base(struct nftm *m)
{
	struct nftm_chain *ch;

	ch = nftm_chain(m, "egress",
			"type filter hook forward priority -5; policy accept;");
	if (!ch || nftm_rule(ch, "ct state established,related accept") ||
	    nftm_rule(ch, "iifname vmap @pod-egress") ||
	    nftm_rule(ch, "iifname \"st*\" drop"))
		return -ENOMEM;
	ch = nftm_chain(m, "ingress",
			"type filter hook forward priority 0; policy accept;");
	if (!ch || nftm_rule(ch, "ct state established,related accept") ||
	    nftm_rule(ch, "oifname vmap @pod-ingress") ||
	    nftm_rule(ch, "oifname \"st*\" drop"))
		return -ENOMEM;
	if (!nftm_map(m, "pod-egress", "ifname") ||
	    !nftm_map(m, "pod-ingress", "ifname"))
		return -ENOMEM;
	return 0;
}

/* The whole table into c->m, c left for the caller to clear (c->m NULL
 * on failure). */
static int compile_whole(struct cc *c, const struct pol *p)
{
	struct nftm_map *maps[2];
	size_t i;
	int d, ret;

	if ((ret = cc_init(c, p)))
		return ret;
	c->m = nftm_new();
	if (!c->m || emit_base(c->m)) {
		ret = -ENOMEM;
		goto free_model;
	}
	maps[NP_INGRESS] = nftm_map(c->m, "pod-ingress", "ifname");
	maps[NP_EGRESS] = nftm_map(c->m, "pod-egress", "ifname");
	for (i = 0; i < p->n_atts; i++)
		for (d = 0; d < 2; d++)
			if ((ret = emit_pod(c, i, d, maps[d])))
				goto free_model;
	for (i = 0; i < p->n_pols; i++)
		for (d = 0; d < 2; d++)
			if (c->used[i][d] &&
			    (ret = emit_policy(c, p->pols[i], d)))
				goto free_model;
	return 0;
free_model:
	nftm_free(c->m);
	c->m = NULL;
	return ret ? ret : -ENOMEM;
}

int pol_compile(const struct pol *p, struct nftm **out)
{
	struct cc c;
	int ret = compile_whole(&c, p);

	*out = ret ? NULL : c.m;
	cc_clear(&c);
	return ret;
}

/* ---- incremental compilation --------------------------------------------- */

/* The addresses the table holds for each pod from now on. */
static void note_was(const struct cc *c, size_t k)
{
	struct np_pod *pd = c->p->pods[k];
	const struct podx *x = &c->px[k];

	pd->n_was = x->eligible ? x->n_addrs : 0;
	memcpy(pd->was, x->addrs, pd->n_was * sizeof(pd->was[0]));
	pd->dirty = false;
}

static void changes_clear(struct pol *p)
{
	size_t i;

	for (i = 0; i < p->n_atts; i++)
		p->atts[i]->dirty = false;
	for (i = 0; i < p->n_ifs_gone; i++)
		free(p->ifs_gone[i]);
	p->n_ifs_gone = p->n_gone = p->n_pols_changed = 0;
	p->whole = false;
}

static int update_whole(struct pol *p, struct nftm **out)
{
	struct cc c;
	size_t i;
	int ret = compile_whole(&c, p);

	if (!ret) {
		for (i = 0; i < p->n_pods; i++)
			note_was(&c, i);
		p->v6 = c.v6;
		nftm_free(p->m);
		p->m = c.m;
		changes_clear(p);
		*out = c.m;
	}
	cc_clear(&c);
	return ret;
}

/* Remove address a from the pod set s of rule r unless another pod the
 * rule selects has it too. */
static void unset_addr(const struct cc *c, const struct np_policy *pl,
		       const struct np_rule *r, const struct strata_addr *a,
		       size_t except, struct nftm_set *s)
{
	char text[INET6_ADDRSTRLEN];
	size_t i, j;

	addr_text(a, text, sizeof(text));
	if (!nftm_set_has(s, text))
		return;
	for (i = 0; i < c->p->n_pods; i++) {
		if (i == except || !c->px[i].eligible)
			continue;
		for (j = 0; j < c->px[i].n_addrs; j++)
			if (addr_eq(&c->px[i].addrs[j], a) &&
			    peers_select(c, pl, r, i))
				return;
	}
	nftm_set_del(s, text);
}

static bool has_addr(const struct podx *x, const struct strata_addr *a)
{
	size_t i;

	for (i = 0; i < x->n_addrs; i++)
		if (addr_eq(&x->addrs[i], a))
			return true;
	return false;
}

/* The set of the pods rule ri's peers select (named: of its named
 * ports), family f; NULL when it has none. */
static struct nftm_set *rule_set(struct nftm *m, const struct np_policy *pl,
				 int d, size_t ri, int f, bool named)
{
	char name[NP_NAME_MAX];

	if (!rule_set_name(name, pl, d, ri, f, named))
		return NULL;
	return (struct nftm_set *)nftm_find_set(m, name);
}

/* The pod sets of one rule of a compiled policy, after the pods in
 * dirty[] changed and the pods whose addresses are in p->gone went. */
static int update_rule(const struct cc *c, const struct np_policy *pl, int d,
		       size_t ri, const size_t *dirty, size_t n_dirty,
		       bool peers_moved, bool locals_moved)
{
	const struct pol *p = c->p;
	const struct np_rule *r = d ? &pl->eg[ri] : &pl->in[ri];
	bool *sel = NULL;
	size_t i, j, k;
	int f, ret = 0;

	for (f = 4; f <= 6; f += 2) {
		struct nftm_set *s = rule_set(c->m, pl, d, ri, f, false);

		for (i = 0; s && i < n_dirty; i++) {
			const struct np_pod *pd = p->pods[dirty[i]];
			const struct podx *x = &c->px[dirty[i]];
			bool now = x->eligible &&
				   peers_select(c, pl, r, dirty[i]);
			char text[INET6_ADDRSTRLEN];

			for (j = 0; j < pd->n_was; j++)
				if (pd->was[j].family == fam_of(f) &&
				    (!now || !has_addr(x, &pd->was[j])))
					unset_addr(c, pl, r, &pd->was[j],
						   dirty[i], s);
			for (j = 0; now && j < x->n_addrs; j++) {
				if (x->addrs[j].family != fam_of(f))
					continue;
				addr_text(&x->addrs[j], text, sizeof(text));
				if ((ret = nftm_set_add(s, text)))
					return ret;
			}
		}
		for (k = 0; s && k < p->n_gone; k++)
			if (p->gone[k].family == fam_of(f))
				unset_addr(c, pl, r, &p->gone[k], SIZE_MAX, s);
	}
	if (!has_named_ports(r) ||
	    !(d == NP_INGRESS ? locals_moved : peers_moved))
		return 0;
	/* ingress: this node's pods, whoever the peers */
	if (d == NP_EGRESS && (ret = select_peers(c, pl, r, &sel)))
		return ret;
	for (f = 4; f <= 6 && !ret; f += 2) {
		struct nftm_set *s = rule_set(c->m, pl, d, ri, f, true);

		if (!s)
			continue;
		nftm_set_flush(s);
		ret = fill_named_set(c, pl, d, r, sel, f, s);
	}
	free(sel);
	return ret;
}

static bool policy_changed(const struct pol *p, const struct np_policy *pl)
{
	size_t i;

	for (i = 0; i < p->n_pols_changed; i++)
		if (!strcmp(p->pols_changed[i], pl->id))
			return true;
	return false;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The key, a set's name and a blank, against a rule's text from the
 * name on. */
static int prefix_cmp(const void *a, const void *b)
{
	const char *k = *(char *const *)a, *t = *(char *const *)b;

	return strncmp(k, t, strlen(k));
}

/* What the rules of the chains named prefix* name right after token
 * (its first in each rule), sorted; borrowed from the rules, valid while
 * they stay as they are. NULL when out of memory. */
static const char **rule_refs(const struct nftm *m, const char *prefix,
			      const char *token, size_t *n)
{
	size_t i, j, cap = 1, plen = strlen(prefix), tlen = strlen(token);
	const char **v;

	*n = 0;
	for (i = 0; i < m->n_chains; i++)
		if (!strncmp(m->chains[i].name, prefix, plen))
			cap += m->chains[i].n_rules;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < m->n_chains; i++) {
		const struct nftm_chain *ch = &m->chains[i];

		if (strncmp(ch->name, prefix, plen))
			continue;
		for (j = 0; j < ch->n_rules; j++) {
			const char *at = strstr(ch->rules[j], token);

			if (at)
				v[(*n)++] = at + tlen;
		}
	}
	qsort(v, *n, sizeof(*v), str_cmp);
	return v;
}

/* Drop the shared pod sets ("ps-") no policy chain refers to any more. */
static int drop_unused_pod_sets(struct nftm *m)
{
	char name[32];
	size_t i, n;
	const char **used = rule_refs(m, "np-", "@ps-", &n);

	if (!used)
		return -ENOMEM;
	for (i = 0; i < m->n_sets;) {
		const char *key = name + 3;

		if (strncmp(m->sets[i].name, "ps-", 3) ||
		    strlen(m->sets[i].name) + 2 > sizeof(name)) {
			i++;
			continue;
		}
		/* rules name it "@ps-HEX-4 ...": compare up to the blank */
		snprintf(name, sizeof(name), "%s ", m->sets[i].name);
		if (bsearch(&key, used, n, sizeof(*used), prefix_cmp)) {
			i++;
			continue;
		}
		name[strlen(name) - 1] = '\0';
		nftm_drop(m, name);
	}
	free(used);
	return 0;
}

static int update_changes(struct cc *c)
{
	struct pol *p = (struct pol *)c->p;
	struct nftm_map *maps[2];
	size_t *dirty, n_dirty = 0, i, ri, n_targets = 0;
	const char **targets = NULL, *key;
	bool locals_moved = p->n_ifs_gone > 0;
	/* a policy chain dropped or made: shared pod sets may be unused */
	bool rechained = p->n_pols_changed > 0;
	char name[NP_NAME_MAX];
	int d, ret = 0;

	dirty = calloc(p->n_pods + 1, sizeof(*dirty));
	if (!dirty)
		return -ENOMEM;
	for (i = 0; i < p->n_pods; i++)
		if (p->pods[i]->dirty)
			dirty[n_dirty++] = i;
	maps[NP_INGRESS] = (struct nftm_map *)nftm_find_map(c->m,
							    "pod-ingress");
	maps[NP_EGRESS] = (struct nftm_map *)nftm_find_map(c->m, "pod-egress");
	if (!maps[0] || !maps[1]) {
		ret = -ENOMEM;
		goto free_dirty;
	}

	/* this node's pods: verdicts and their chains */
	for (i = 0; i < p->n_ifs_gone; i++) {
		if_key(name, p->ifs_gone[i]);
		for (d = 0; d < 2; d++)
			nftm_map_del(maps[d], name);
		for (d = 0; d < 2; d++) {
			pod_chain_name(name, p->ifs_gone[i], d);
			nftm_drop(c->m, name);
		}
	}
	for (i = 0; i < p->n_atts && !ret; i++) {
		if (!p->atts[i]->dirty)
			continue;
		locals_moved = true;
		for (d = 0; d < 2 && !ret; d++) {
			pod_chain_name(name, p->atts[i]->host_if, d);
			nftm_drop(c->m, name);
			ret = emit_pod(c, i, d, maps[d]);
		}
	}

	/* the policies: a chain for each one some pod here jumps to, its
	 * sets following the pods that changed */
	targets = rule_refs(c->m, "pod-", "jump ", &n_targets);
	if (!targets)
		ret = -ENOMEM;
	for (i = 0; i < p->n_pols && !ret; i++) {
		const struct np_policy *pl = p->pols[i];
		bool changed = policy_changed(p, pl);

		for (d = 0; d < 2 && !ret; d++) {
			bool have, want;

			policy_chain_name(name, pl->id, d);
			have = nftm_find_chain(c->m, name) != NULL;
			key = name;
			want = !pl->malformed &&
			       bsearch(&key, targets, n_targets,
				       sizeof(*targets), str_cmp);
			if (have && (!want || changed)) {
				nftm_drop(c->m, name);
				rechained = true;
			}
			if (want && (!have || changed)) {
				ret = emit_policy(c, pl, d);
				rechained = true;
				continue;
			}
			for (ri = 0; want && ri < (d ? pl->n_eg : pl->n_in) &&
				     !ret;
			     ri++)
				ret = update_rule(c, pl, d, ri, dirty, n_dirty,
						  n_dirty || p->n_gone,
						  locals_moved);
		}
	}
	/* the chains of policies gone */
	for (i = 0; i < p->n_pols_changed && !ret; i++) {
		bool gone = true;
		size_t k;

		for (k = 0; k < p->n_pols && gone; k++)
			gone = strcmp(p->pols[k]->id, p->pols_changed[i]) != 0;
		for (d = 0; gone && d < 2; d++) {
			policy_chain_name(name, p->pols_changed[i], d);
			nftm_drop(c->m, name);
		}
	}
	if (!ret && rechained)
		ret = drop_unused_pod_sets(c->m);
	for (i = 0; i < n_dirty && !ret; i++)
		note_was(c, dirty[i]);
free_dirty:
	free(targets);
	free(dirty);
	return ret;
}

int pol_update(struct pol *p, struct nftm **out)
{
	struct cc c;
	int ret;

	*out = NULL;
	if (p->whole || !p->m)
		return update_whole(p, out);
	if ((ret = cc_init(&c, p)))
		goto fail;
	if (c.v6 != p->v6) {
		cc_clear(&c);
		return update_whole(p, out);
	}
	c.m = p->m;
	if ((ret = update_changes(&c)))
		goto fail;
	cc_clear(&c);
	changes_clear(p);
	*out = p->m;
	return 0;
fail:
	cc_clear(&c);
	/* a table half updated: compile it whole next time */
	nftm_free(p->m);
	p->m = NULL;
	p->whole = true;
	return ret;
}
