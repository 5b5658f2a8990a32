/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratad's use of the Kubernetes API: this node's Node labels publish the
 * facts zone and subnet (source "kubernetes"; the config wins), and a Node
 * deleted from the API has its blocks returned by the node's IPAM, on the
 * route writer only.
 */
#ifndef STRATA_CORE_KUBE_NODES_H
#define STRATA_CORE_KUBE_NODES_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;
struct kube_nodes;

/* Nothing to do (and *out NULL) without the kubernetes group. Lives as
 * long as the daemon; kube_nodes_reload() follows the config. */
int kube_nodes_new(struct daemon *d, struct kube_nodes **out);
void kube_nodes_free(struct kube_nodes *kn);
/* After the daemon's config changed: restarts the client when the
 * kubernetes group differs. */
int kube_nodes_reload(struct daemon *d);
/* The first Node list has been seen (true without the group). */
bool kube_nodes_synced(const struct kube_nodes *kn);
/* For status: Nodes known, removals waiting. */
size_t kube_nodes_count(const struct kube_nodes *kn);
size_t kube_nodes_pending(const struct kube_nodes *kn);

#endif
