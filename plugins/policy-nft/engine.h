/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NetworkPolicy semantics (networking.k8s.io/v1): what the cluster's
 * Namespaces, Pods and NetworkPolicies say, and this node's pod
 * attachments, compiled into the strata-filter table (model.h). Pure: no
 * I/O, no clock; the plugin feeds it objects and applies what it compiles.
 *
 * The table:
 *   base chains "egress" (forward, priority -5) and "ingress" (forward,
 *   priority 0), each: replies of allowed connections (ct state
 *   established,related) accept; the veth's entry in the verdict map
 *   "pod-egress" (by iifname) or "pod-ingress" (by oifname); any other
 *   strata veth ("st*", a pod not attached yet) drop. Traffic to and from
 *   the node itself never crosses the forward hook, so it always passes.
 *   A pod no policy selects (for that direction) maps to accept; an
 *   isolated pod to "goto pod-<host_if>-in|eg", a chain that jumps to the
 *   chain of each policy selecting it, then drops. A policy's chain
 *   np-<id>-in|eg holds the rules of each rule of the policy and family,
 *   matching peers by a set of the addresses of the pods selected (one
 *   "ps-<hash>" set for every rule whose peers select alike) and by
 *   ipBlocks (less their excepts) as ranges written in the rules, and
 *   ports by number, range or, through sets of address . protocol . port,
 *   by name; a match accepts. So a label or pod change moves set
 *   elements; rules change only with policies.
 *
 * Malformed objects never loosen isolation: a policy that does not parse
 * isolates the pods its podSelector selects (every pod of its namespace
 * when that does not parse either) in both directions and allows nothing;
 * a pod whose labels do not parse is isolated both ways and is nobody's
 * peer; a namespace whose labels do not parse matches no namespaceSelector.
 */
#ifndef STRATA_POLICY_NFT_ENGINE_H
#define STRATA_POLICY_NFT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include <strata/types.h>

#include "model.h"

struct pol;

struct pol *pol_new(void);
void pol_free(struct pol *p);

/*
 * Objects from the API server, as the JSON of one object. 0 when taken;
 * -EINVAL when malformed, with err naming the object ("NetworkPolicy
 * ns/name") and what is wrong, the object then kept as described above
 * (when at least its name is readable); -ENOMEM. Deleting an unknown
 * object succeeds.
 */
int pol_namespace_put(struct pol *p, const char *json, size_t len, char *err,
		      size_t errlen);
void pol_namespace_del(struct pol *p, const char *name);
int pol_pod_put(struct pol *p, const char *json, size_t len, char *err,
		size_t errlen);
void pol_pod_del(struct pol *p, const char *ns, const char *name);
int pol_policy_put(struct pol *p, const char *json, size_t len, char *err,
		   size_t errlen);
void pol_policy_del(struct pol *p, const char *ns, const char *name);

/* This node's pod attachments, keyed by pod->handle. An attachment
 * without a namespace and name is the Pod whose status.podIPs hold its
 * address. One without a Pod object known for it is isolated both ways
 * until one is. 0 or -ENOMEM. */
int pol_attach(struct pol *p, const struct strata_pod *pod);
void pol_detach(struct pol *p, const char *handle);
/* Whether the Pod object of an attachment is known (its labels). */
bool pol_pod_known(const struct pol *p, const char *ns, const char *name);

/* The whole table as it should be now. 0 or -ENOMEM; nftm_free(*out). */
int pol_compile(const struct pol *p, struct nftm **out);

/*
 * The same table, kept by the engine and compiled again only where
 * objects changed since the last call: a pod's addresses move in the sets
 * of the rules that select it, a policy's chain is made again when it
 * changes, a pod's verdicts when it or a policy selecting it does. What
 * changed is marked dirty (model.h: nftm_diff_changed(), nftm_sync()).
 * *out stays the engine's, valid until the next call or pol_free(). 0, or
 * -ENOMEM (the next call compiles the whole table).
 */
int pol_update(struct pol *p, struct nftm **out);

/* For stratactl policy: what may reach pod ns/name and what it may
 * reach, and which policy allows each; line() once per line. -ENOENT
 * when neither a Pod object nor an attachment is known by that name. */
int pol_explain(const struct pol *p, const char *ns, const char *name,
		void (*line)(void *arg, const char *text), void *arg);

/* Counts, for status and metrics. */
struct pol_counts {
	size_t namespaces, pods, policies, attachments;
	size_t malformed; /* objects kept as malformed */
};
void pol_counts(const struct pol *p, struct pol_counts *out);

#endif
