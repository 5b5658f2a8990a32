/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine's state (the cluster's objects and this node's
 * attachments) and its compilation into the strata-filter table; see
 * engine.h for the table's shape.
 */
#include <errno.h>
#include <stdarg.h>
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
	free(p);
}

struct np_namespace *np_find_namespace(const struct pol *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_nss; i++)
		if (!strcmp(p->nss[i]->name, name))
			return p->nss[i];
	return NULL;
}

static size_t pod_index(const struct pol *p, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_pods; i++)
		if (!strcmp(p->pods[i]->name, name) &&
		    !strcmp(p->pods[i]->ns, ns))
			return i;
	return p->n_pods;
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
	size_t i;

	if (!pd)
		return ret;
	i = pod_index(p, pd->ns, pd->name);
	if (i < p->n_pods) {
		np_pod_free(p->pods[i]);
		p->pods[i] = pd;
		return ret;
	}
	if (GROW(p->pods, p->n_pods, p->cap_pods)) {
		np_pod_free(pd);
		return -ENOMEM;
	}
	p->pods[p->n_pods++] = pd;
	return ret;
}

void pol_pod_del(struct pol *p, const char *ns, const char *name)
{
	size_t i = pod_index(p, ns, name);

	if (i == p->n_pods)
		return;
	np_pod_free(p->pods[i]);
	p->pods[i] = p->pods[--p->n_pods];
}

static int policy_cmp(const char *ns1, const char *n1, const char *ns2,
		      const char *n2)
{
	int c = strcmp(ns1, ns2);

	return c ? c : strcmp(n1, n2);
}

/* Where ns/name is or would go in the sorted policies. */
static size_t policy_slot(const struct pol *p, const char *ns,
			  const char *name, bool *found)
{
	size_t lo = 0, hi = p->n_pols;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = policy_cmp(p->pols[mid]->ns, p->pols[mid]->name, ns,
				   name);

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

int pol_policy_put(struct pol *p, const char *json, size_t len, char *err,
		   size_t errlen)
{
	struct np_policy *pl;
	int ret = np_policy_parse(json, len, &pl, err, errlen);
	bool found;
	size_t i;

	if (!pl)
		return ret;
	i = policy_slot(p, pl->ns, pl->name, &found);
	if (found) {
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

static size_t attach_slot(const struct pol *p, const char *handle,
			  bool *found)
{
	size_t lo = 0, hi = p->n_atts;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->atts[mid]->handle, handle);

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
	i = attach_slot(p, a->handle, &found);
	if (found) {
		attach_free(p->atts[i]);
		p->atts[i] = a;
		return 0;
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
	bool found;
	size_t i = attach_slot(p, handle, &found);

	if (!found)
		return;
	attach_free(p->atts[i]);
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

/* The attachments here that are pd, by name. */
static bool attach_is(const struct np_attach *a, const struct np_pod *pd)
{
	return a->ns && !strcmp(a->ns, pd->ns) && !strcmp(a->name, pd->name);
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
};

static const char *const dir_name[2] = { "in", "eg" };

static void podx_add(struct podx *x, const struct strata_addr *a)
{
	size_t i;

	for (i = 0; i < x->n_addrs; i++)
		if (addr_eq(&x->addrs[i], a))
			return;
	if (x->n_addrs < sizeof(x->addrs) / sizeof(x->addrs[0]))
		x->addrs[x->n_addrs++] = *a;
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

		c->att_pod[i] = np_attach_pod(p, a);
		c->att_idx[i] = SIZE_MAX;
		if (!c->att_pod[i])
			continue;
		for (k = 0; p->pods[k] != c->att_pod[i]; k++)
			;
		c->att_idx[i] = k;
		for (j = 0; j < a->n_addrs; j++)
			podx_add(&c->px[k], &a->addrs[j]);
	}
	for (i = 0; i < p->n_pods; i++)
		c->px[i].eligible = pod_runs(p->pods[i]) && c->px[i].n_addrs;
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

/* The peers of a rule of family f as an interval set's elements. */
static int fill_peer_set(const struct cc *c, const struct np_rule *r,
			 const bool *sel, int f, struct nftm_set *s)
{
	struct np_ranges rs = { 0 };
	struct np_range x;
	char elem[NFTM_ELEM_MAX];
	size_t i, j;
	int ret = 0;

	for (i = 0; i < r->n_peers && !ret; i++) {
		const struct np_ranges *b =
			r->peers[i].ipb ? &r->peers[i].ipb->r : NULL;

		for (j = 0; b && j < b->n && !ret; j++)
			if (b->v[j].family == fam_of(f))
				ret = np_ranges_add(&rs, &b->v[j]);
	}
	for (i = 0; i < c->p->n_pods && !ret; i++) {
		if (!sel[i])
			continue;
		for (j = 0; j < c->px[i].n_addrs && !ret; j++) {
			if (c->px[i].addrs[j].family != fam_of(f))
				continue;
			np_addr_range(&c->px[i].addrs[j], &x);
			ret = np_ranges_add(&rs, &x);
		}
	}
	if (ret)
		goto clear_ranges;
	np_ranges_merge(&rs);
	for (i = 0; i < rs.n && !ret; i++) {
		nftm_range_elem(f, rs.v[i].lo, rs.v[i].hi, elem);
		ret = nftm_set_add(s, elem);
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
		if (!r->all_peers && !sel[i]) {
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

static struct nftm_chain *chainf(struct nftm *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct nftm_chain *chainf(struct nftm *m, const char *fmt, ...)
{
	char name[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return nftm_chain(m, name, NULL);
}

static int emit_rule(const struct cc *c, const struct np_policy *pl, int d,
		     size_t ri, struct nftm_chain *ch)
{
	const struct np_rule *r = d ? &pl->eg[ri] : &pl->in[ri];
	bool has_num = false, has_named = false;
	bool *sel = NULL;
	char *ports = NULL;
	int f, ret = 0;
	size_t i;

	for (i = 0; i < r->n_ports; i++) {
		if (r->ports[i].name)
			has_named = true;
		else
			has_num = true;
	}
	if ((ret = port_match(r, &ports)))
		return ret;
	if (!r->all_peers) {
		/* the pods the peers select, for both families */
		sel = calloc(c->p->n_pods + 1, sizeof(*sel));
		if (!sel) {
			ret = -ENOMEM;
			goto free_ports;
		}
		for (i = 0; i < c->p->n_pods; i++)
			sel[i] = c->px[i].eligible && peers_select(c, pl, r, i);
	}
	if (r->all_peers && !r->n_ports) {
		ret = nftm_rule(ch, "accept");
		goto free_ports;
	}
	if (r->all_peers && has_num &&
	    (ret = nftm_rule(ch, "%s accept", ports)))
		goto free_ports;
	for (f = 4; f <= 6; f += 2) {
		char set[96], peer[160] = "";
		struct nftm_set *s;

		if (!r->all_peers) {
			snprintf(set, sizeof(set), "np-%s-%s-%zu-%d", pl->id,
				 dir_name[d], ri, f);
			s = nftm_set(c->m, set, f == 4 ? "ipv4_addr" :
							 "ipv6_addr", true);
			if (!s || fill_peer_set(c, r, sel, f, s)) {
				ret = -ENOMEM;
				goto free_ports;
			}
			snprintf(peer, sizeof(peer), "%s %s @%s ", nft_fam(f),
				 d == NP_INGRESS ? "saddr" : "daddr", set);
			if (!r->n_ports)
				ret = nftm_rule(ch, "%saccept", peer);
			else if (has_num)
				ret = nftm_rule(ch, "%s%s accept", peer, ports);
			if (ret)
				goto free_ports;
		}
		if (!has_named)
			continue;
		snprintf(set, sizeof(set), "np-%s-%s-%zu-%dn", pl->id,
			 dir_name[d], ri, f);
		s = nftm_set(c->m, set, f == 4 ?
				"ipv4_addr . inet_proto . inet_service" :
				"ipv6_addr . inet_proto . inet_service",
			     false);
		if (!s || fill_named_set(c, pl, d, r, sel, f, s)) {
			ret = -ENOMEM;
			goto free_ports;
		}
		ret = nftm_rule(ch, "%s%s daddr . meta l4proto . th dport @%s "
			       "accept", peer, nft_fam(f), set);
		if (ret)
			goto free_ports;
	}
free_ports:
	free(sel);
	free(ports);
	return ret;
}

static int emit_policy(const struct cc *c, const struct np_policy *pl, int d)
{
	struct nftm_chain *ch = chainf(c->m, "np-%s-%s", pl->id, dir_name[d]);
	size_t i, n = d ? pl->n_eg : pl->n_in;
	int ret;

	if (!ch)
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
	char key[STRATA_IFNAMSIZ + 2], verdict[64];
	size_t i;
	int ret;

	snprintf(key, sizeof(key), "\"%s\"", a->host_if);
	if (!pd || pd->malformed)
		return nftm_map_put(mp, key, "drop");
	for (i = 0; i < c->p->n_pols; i++) {
		const struct np_policy *pl = c->p->pols[i];

		if (!(d ? pl->egress : pl->ingress) ||
		    !np_policy_selects(pl, pd))
			continue;
		if (!ch) {
			ch = chainf(c->m, "pod-%s-%s", a->host_if, dir_name[d]);
			if (!ch)
				return -ENOMEM;
		}
		if (pl->malformed)
			continue;
		c->used[i][d] = true;
		if ((ret = nftm_rule(ch, "jump np-%s-%s", pl->id, dir_name[d])))
			return ret;
	}
	if (!ch)
		return nftm_map_put(mp, key, "accept");
	if ((ret = nftm_rule(ch, "drop")))
		return ret;
	snprintf(verdict, sizeof(verdict), "goto pod-%s-%s", a->host_if,
		 dir_name[d]);
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

int pol_compile(const struct pol *p, struct nftm **out)
{
	struct nftm_map *maps[2];
	struct cc c;
	size_t i;
	int d, ret;

	*out = NULL;
	ret = cc_init(&c, p);
	if (ret)
		goto clear_cc;
	c.m = nftm_new();
	if (!c.m || (ret = emit_base(c.m))) {
		ret = -ENOMEM;
		goto free_model;
	}
	maps[NP_INGRESS] = nftm_map(c.m, "pod-ingress", "ifname");
	maps[NP_EGRESS] = nftm_map(c.m, "pod-egress", "ifname");
	for (i = 0; i < p->n_atts; i++)
		for (d = 0; d < 2; d++)
			if ((ret = emit_pod(&c, i, d, maps[d])))
				goto free_model;
	for (i = 0; i < p->n_pols; i++)
		for (d = 0; d < 2; d++)
			if (c.used[i][d] &&
			    (ret = emit_policy(&c, p->pols[i], d)))
				goto free_model;
	*out = c.m;
	cc_clear(&c);
	return 0;
free_model:
	nftm_free(c.m);
clear_cc:
	cc_clear(&c);
	return ret ? ret : -ENOMEM;
}
