/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the policies allow, asked directly: pol_allows (the decision the
 * compiled table makes, for tests) and pol_explain (for operators), both
 * from the same walk over the policies that select a pod.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netpol.h"

/* Who is at an address: a pod, an attachment with no Pod known, or
 * nobody (outside). */
struct who {
	const struct np_pod *pod;
	bool unknown; /* attached here, its Pod not known */
};

static struct who who_at(const struct pol *p, const struct strata_addr *a)
{
	struct who w = { 0 };
	size_t i, j;

	for (i = 0; i < p->n_pods; i++)
		if (!p->pods[i]->host_network &&
		    np_pod_has_addr(p, p->pods[i], a)) {
			w.pod = p->pods[i];
			return w;
		}
	for (i = 0; i < p->n_atts; i++)
		for (j = 0; j < p->atts[i]->n_addrs; j++)
			if (p->atts[i]->addrs[j].family == a->family &&
			    !memcmp(p->atts[i]->addrs[j].addr, a->addr,
				    a->family == STRATA_AF_INET ? 4 : 16)) {
				w.pod = np_attach_pod(p, p->atts[i]);
				w.unknown = !w.pod;
				return w;
			}
	return w;
}

static bool peer_matches(const struct pol *p, const struct np_policy *pl,
			 const struct np_rule *r, const struct strata_addr *a,
			 const struct np_pod *peer)
{
	size_t i;

	if (r->all_peers)
		return true;
	for (i = 0; i < r->n_peers; i++) {
		const struct np_peer *pe = &r->peers[i];

		if (pe->ipb ? np_ranges_contain(&pe->ipb->r, a) :
			      peer && np_pod_eligible(p, peer) &&
				      np_peer_selects_pod(p, pl, pe, peer))
			return true;
	}
	return false;
}

static bool port_matches(const struct np_rule *r, const struct np_pod *dst,
			 uint8_t proto, uint16_t port)
{
	uint16_t lo, hi;
	size_t i;

	if (!r->n_ports)
		return true;
	for (i = 0; i < r->n_ports; i++)
		if (r->ports[i].proto == proto &&
		    np_port_at(&r->ports[i], dst, &lo, &hi) && port >= lo &&
		    port <= hi)
			return true;
	return false;
}

/* Whether self's policies of direction d let it talk with peer at a. */
static bool dir_allows(const struct pol *p, int d, struct who self,
		       const struct strata_addr *a, struct who peer,
		       uint8_t proto, uint16_t port)
{
	const struct np_pod *dst;
	bool isolated = false;
	size_t i, j;

	if (self.unknown || (self.pod && self.pod->malformed))
		return false;
	if (!self.pod)
		return true;
	/* named ports are the destination's */
	dst = d == NP_INGRESS ? self.pod :
	      peer.pod && np_pod_eligible(p, peer.pod) ? peer.pod : NULL;
	for (i = 0; i < p->n_pols; i++) {
		const struct np_policy *pl = p->pols[i];
		const struct np_rule *rs = d ? pl->eg : pl->in;
		size_t n = d ? pl->n_eg : pl->n_in;

		if (!(d ? pl->egress : pl->ingress) ||
		    !np_policy_selects(pl, self.pod))
			continue;
		isolated = true;
		for (j = 0; j < n; j++)
			if (peer_matches(p, pl, &rs[j], a, peer.pod) &&
			    port_matches(&rs[j], dst, proto, port))
				return true;
	}
	return !isolated;
}

bool pol_allows(const struct pol *p, const struct strata_addr *src,
		const struct strata_addr *dst, uint8_t proto, uint16_t port)
{
	struct who s = who_at(p, src), t = who_at(p, dst);

	return dir_allows(p, NP_EGRESS, s, dst, t, proto, port) &&
	       dir_allows(p, NP_INGRESS, t, src, s, proto, port);
}

/* Explaining. */
struct out {
	void (*line)(void *arg, const char *text);
	void *arg;
	int ret;
};

static void __attribute__((format(printf, 2, 3)))
say(struct out *o, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->ret = -ENOMEM;
		return;
	}
	o->line(o->arg, text);
	free(text);
}

static void sel_text(FILE *f, const struct np_selector *s, const char *all)
{
	char *t = np_selector_text(s);

	fputs(t && *t ? t : all, f);
	free(t);
}

static void peer_text(FILE *f, const struct np_policy *pl,
		      const struct np_peer *pe)
{
	size_t i;

	if (pe->ipb) {
		fputs(pe->ipb->cidr, f);
		for (i = 0; i < pe->ipb->n_except; i++)
			fprintf(f, "%s%s", i ? ", " : " except ",
				pe->ipb->except[i]);
		return;
	}
	if (!pe->pods || np_selector_empty(pe->pods)) {
		fputs("all pods", f);
	} else {
		fputs("pods ", f);
		sel_text(f, pe->pods, "");
	}
	if (!pe->nss) {
		fprintf(f, " in namespace %s", pl->ns);
	} else if (np_selector_empty(pe->nss)) {
		fputs(" in all namespaces", f);
	} else {
		fputs(" in namespaces ", f);
		sel_text(f, pe->nss, "");
	}
}

static void rule_text(FILE *f, const struct np_policy *pl, int d,
		      const struct np_rule *r)
{
	size_t i;

	fprintf(f, "  %s ", d == NP_INGRESS ? "from" : "to");
	if (r->all_peers)
		fputs("anywhere", f);
	for (i = 0; i < r->n_peers; i++) {
		if (i)
			fputs(" or ", f);
		peer_text(f, pl, &r->peers[i]);
	}
	fputs(", ", f);
	if (!r->n_ports)
		fputs("any port", f);
	for (i = 0; i < r->n_ports; i++) {
		const struct np_port *pt = &r->ports[i];

		fprintf(f, "%s%s", i ? ", " : "", np_proto_name(pt->proto));
		if (pt->name)
			fprintf(f, "/%s", pt->name);
		else if (pt->port && pt->end != pt->port)
			fprintf(f, "/%u-%u", pt->port, pt->end);
		else if (pt->port)
			fprintf(f, "/%u", pt->port);
	}
	fprintf(f, ": %s/%s", pl->ns, pl->name);
}

static void explain_dir(const struct pol *p, const struct np_pod *pd, int d,
			struct out *o)
{
	const char *dn = d == NP_INGRESS ? "ingress" : "egress";
	char *buf = NULL;
	size_t len = 0, i, j;
	const char *sep = "";
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f) {
		o->ret = -ENOMEM;
		return;
	}
	for (i = 0; i < p->n_pols; i++) {
		const struct np_policy *pl = p->pols[i];

		if (!(d ? pl->egress : pl->ingress) ||
		    !np_policy_selects(pl, pd))
			continue;
		fprintf(f, "%s%s/%s", sep, pl->ns, pl->name);
		sep = ", ";
	}
	if (fclose(f)) {
		o->ret = -ENOMEM;
		return;
	}
	if (!*sep) {
		say(o, "%s: not isolated (no policy selects it for %s)", dn,
		    dn);
		free(buf);
		return;
	}
	say(o, "%s: isolated by %s", dn, buf);
	free(buf);
	for (i = 0; i < p->n_pols; i++) {
		const struct np_policy *pl = p->pols[i];
		const struct np_rule *rs = d ? pl->eg : pl->in;
		size_t n = d ? pl->n_eg : pl->n_in;

		if (!(d ? pl->egress : pl->ingress) ||
		    !np_policy_selects(pl, pd))
			continue;
		if (pl->malformed) {
			say(o, "  nothing: %s/%s is malformed", pl->ns,
			    pl->name);
			continue;
		}
		for (j = 0; j < n; j++) {
			buf = NULL;
			len = 0;
			f = open_memstream(&buf, &len);
			if (!f) {
				o->ret = -ENOMEM;
				return;
			}
			rule_text(f, pl, d, &rs[j]);
			if (fclose(f)) {
				o->ret = -ENOMEM;
				return;
			}
			say(o, "%s", buf);
			free(buf);
		}
	}
}

int pol_explain(const struct pol *p, const char *ns, const char *name,
		void (*line)(void *arg, const char *text), void *arg)
{
	struct out o = { .line = line, .arg = arg };
	const struct np_pod *pd = np_find_pod(p, ns, name);
	const struct np_attach *a = NULL;
	char addr[INET6_ADDRSTRLEN];
	size_t i, j;

	for (i = 0; i < p->n_atts && !a; i++)
		if (p->atts[i]->ns && !strcmp(p->atts[i]->ns, ns) &&
		    !strcmp(p->atts[i]->name, name))
			a = p->atts[i];
	for (i = 0; i < p->n_atts && !a && pd; i++)
		if (np_attach_pod(p, p->atts[i]) == pd)
			a = p->atts[i];
	if (!pd && !a)
		return -ENOENT;
	if (a) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		if (!f)
			return -ENOMEM;
		fprintf(f, "pod %s/%s on this node at %s", ns, name,
			a->host_if);
		for (j = 0; j < a->n_addrs; j++) {
			inet_ntop(a->addrs[j].family == STRATA_AF_INET ?
					  AF_INET : AF_INET6,
				  a->addrs[j].addr, addr, sizeof(addr));
			fprintf(f, "%s%s", j ? ", " : ", address ", addr);
		}
		if (fclose(f))
			return -ENOMEM;
		say(&o, "%s", buf);
		free(buf);
	} else {
		say(&o, "pod %s/%s not on this node", ns, name);
	}
	if (!pd) {
		say(&o, "ingress: isolated: its Pod object is not known yet, "
			"nothing allowed");
		say(&o, "egress: isolated: its Pod object is not known yet, "
			"nothing allowed");
		return o.ret;
	}
	if (pd->malformed) {
		say(&o, "ingress: isolated: its Pod object is malformed, "
			"nothing allowed");
		say(&o, "egress: isolated: its Pod object is malformed, "
			"nothing allowed");
		return o.ret;
	}
	explain_dir(p, pd, NP_INGRESS, &o);
	explain_dir(p, pd, NP_EGRESS, &o);
	return o.ret;
}
