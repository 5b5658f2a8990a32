/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine's own view of Namespaces, Pods and NetworkPolicies:
 * parsed and validated objects (objects.c), label selectors
 * (selector.c), address ranges (ranges.c), the engine's state
 * (engine.c), and the decision the compiled table makes, asked directly
 * (decide.c: pol_allows, shared with pol_explain).
 */
#ifndef STRATA_POLICY_NFT_NETPOL_H
#define STRATA_POLICY_NFT_NETPOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#include "engine.h"

/* Protocols, as IP protocol numbers. */
#define NP_TCP 6
#define NP_UDP 17
#define NP_SCTP 132

struct np_label {
	char *key, *val;
};

/* Sorted by key, keys unique. */
struct np_labels {
	struct np_label *v;
	size_t n;
};

enum np_op { NP_IN, NP_NOTIN, NP_EXISTS, NP_NOT_EXISTS };

struct np_expr {
	char *key;
	enum np_op op;
	char **vals;
	size_t n_vals;
};

/* A label selector; with nothing in it, it selects everything. */
struct np_selector {
	struct np_labels match;
	struct np_expr *exprs;
	size_t n_exprs;
};

/* Addresses lo..hi of one family (4 or 6), network byte order, IPv4 in
 * the first 4 bytes and the rest zero. */
struct np_range {
	uint8_t family;
	uint8_t lo[16], hi[16];
};

struct np_ranges {
	struct np_range *v;
	size_t n, cap;
};

struct np_ipblock {
	char *cidr;      /* as written */
	char **except;   /* as written */
	size_t n_except;
	struct np_ranges r; /* cidr less excepts, merged */
};

/* One from/to entry: pods (pods or nss not NULL) or an ipBlock. */
struct np_peer {
	struct np_selector *pods; /* NULL: every pod of the namespaces */
	struct np_selector *nss;  /* NULL: the policy's own namespace */
	struct np_ipblock *ipb;
};

/* One ports entry: port 0 and no name for every port of proto. */
struct np_port {
	uint8_t proto;
	uint16_t port, end; /* end: the last port (== port without endPort) */
	char *name;         /* a named container port */
};

struct np_rule {
	bool all_peers; /* from/to absent or empty */
	struct np_peer *peers;
	size_t n_peers;
	struct np_port *ports; /* none: every port and protocol */
	size_t n_ports;
	char pset[20]; /* "ps-" and 16 hex: its peer pods' set; "" if none */
};

struct np_policy {
	char *ns, *name;
	char id[13];     /* 12 hex digits of SHA-256("ns/name") */
	bool malformed;  /* isolates what sel selects, allows nothing */
	struct np_selector sel;
	bool ingress, egress; /* policyTypes */
	struct np_rule *in, *eg;
	size_t n_in, n_eg;
};

struct np_cport {
	char *name; /* NULL when unnamed */
	uint16_t port;
	uint8_t proto;
};

struct np_pod {
	char *ns, *name;
	bool malformed; /* isolated both ways, nobody's peer */
	struct np_labels labels;
	char *node;
	bool host_network;
	bool terminal; /* phase Succeeded or Failed */
	struct strata_addr addrs[4];
	size_t n_addrs;
	struct np_cport *ports;
	size_t n_ports;
	/* pol_update(): changed since the last compile, and the addresses
	 * the table held for it then (none when it was no peer) */
	bool dirty;
	struct strata_addr was[6];
	size_t n_was;
};

struct np_namespace {
	char *name;
	bool malformed; /* matches no namespaceSelector */
	struct np_labels labels;
};

struct np_attach {
	char *handle, *ns, *name, *host_if; /* ns, name NULL when unknown */
	struct strata_addr addrs[2];
	size_t n_addrs;
	bool dirty; /* its verdicts and chains to compile again */
};

struct pol {
	struct np_namespace **nss;
	size_t n_nss, cap_nss;
	struct np_pod **pods; /* sorted by ns, then name */
	size_t n_pods, cap_pods;
	struct np_policy **pols; /* sorted by ns, then name */
	size_t n_pols, cap_pols;
	struct np_attach **atts; /* sorted by handle */
	size_t n_atts, cap_atts;
	/* pol_update(): the table as compiled last (NULL: compile it
	 * whole), and what changed since */
	struct nftm *m;
	bool whole, v6;
	struct strata_addr *gone; /* addresses of pods deleted */
	size_t n_gone, cap_gone;
	char (*pols_changed)[13]; /* ids of policies put or deleted */
	size_t n_pols_changed, cap_pols_changed;
	char **ifs_gone; /* host_if of attachments gone */
	size_t n_ifs_gone, cap_ifs_gone;
};

/* objects.c: each returns 0, -EINVAL (err says why; *out still set
 * when the object's names are readable, then marked malformed) or
 * -ENOMEM (*out NULL). */
int np_namespace_parse(const char *json, size_t len,
		       struct np_namespace **out, char *err, size_t errlen);
int np_pod_parse(const char *json, size_t len, struct np_pod **out,
		 char *err, size_t errlen);
int np_policy_parse(const char *json, size_t len, struct np_policy **out,
		    char *err, size_t errlen);
void np_namespace_free(struct np_namespace *n);
void np_pod_free(struct np_pod *pd);
void np_policy_free(struct np_policy *pl);
void np_labels_clear(struct np_labels *l);
void np_selector_clear(struct np_selector *s);

/* selector.c */
const char *np_label_get(const struct np_labels *l, const char *key);
bool np_selector_matches(const struct np_selector *s,
			 const struct np_labels *l);
bool np_selector_empty(const struct np_selector *s);
/* "app=web,tier in (a,b),!x"; "" for the empty selector. NULL: ENOMEM. */
char *np_selector_text(const struct np_selector *s);
bool np_label_key_valid(const char *k);
bool np_label_value_valid(const char *v);

/* ranges.c */
int np_ranges_add(struct np_ranges *r, const struct np_range *x);
int np_ranges_add_all(struct np_ranges *r, const struct np_ranges *from);
/* Sorts and merges overlapping and adjacent ranges. */
void np_ranges_merge(struct np_ranges *r);
/* Removes x from every range (r merged). 0 or -ENOMEM. */
int np_ranges_subtract(struct np_ranges *r, const struct np_range *x);
bool np_ranges_contain(const struct np_ranges *r,
		       const struct strata_addr *a);
void np_ranges_clear(struct np_ranges *r);
/* "10.0.0.0/8" strictly (host bits may be set, as the API allows). */
bool np_cidr_parse(const char *s, struct np_range *out);
bool np_range_within(const struct np_range *in, const struct np_range *of);
void np_addr_range(const struct strata_addr *a, struct np_range *out);

/* engine.c: the state the decision needs. */
struct np_namespace *np_find_namespace(const struct pol *p, const char *name);
struct np_pod *np_find_pod(const struct pol *p, const char *ns,
			   const char *name);
/* The Pod an attachment is, or NULL. */
struct np_pod *np_attach_pod(const struct pol *p, const struct np_attach *a);
/* Whether a pod can be a peer: addressed, not host network, running. */
bool np_pod_eligible(const struct pol *p, const struct np_pod *pd);
/* Whether pod has address a (status or an attachment's). */
bool np_pod_has_addr(const struct pol *p, const struct np_pod *pd,
		     const struct strata_addr *a);
bool np_policy_selects(const struct np_policy *pl, const struct np_pod *pd);
/* Whether peer pd (eligible) is selected by peer pe of policy pl. */
bool np_peer_selects_pod(const struct pol *p, const struct np_policy *pl,
			 const struct np_peer *pe, const struct np_pod *pd);
/* The port a ports entry means at pod pd (named ports resolved): the
 * range *lo..*hi; false when it means none there. */
bool np_port_at(const struct np_port *pt, const struct np_pod *pd,
		uint16_t *lo, uint16_t *hi);
const char *np_proto_name(uint8_t proto);

/* decide.c */
#define NP_INGRESS 0
#define NP_EGRESS 1

/*
 * Whether a new connection from src to dst, proto/port, is allowed by
 * the policies as the compiled table enforces them at pods of the
 * cluster (as if every pod were attached): the source pod's egress and
 * the destination pod's ingress. Addresses not of a pod are outside and
 * never isolated. Malformed and unknown pods are isolated both ways.
 */
bool pol_allows(const struct pol *p, const struct strata_addr *src,
		const struct strata_addr *dst, uint8_t proto, uint16_t port);

#endif
