/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's kube_watch (ABI 1.1) and what the daemon does for it: the
 * watches follow the daemon's Kubernetes client (d->kube_client) as the
 * configuration brings, changes or removes it.
 */
#ifndef STRATA_CORE_HOST_KUBE_H
#define STRATA_CORE_HOST_KUBE_H

#include <stddef.h>

#include <strata/plugin.h>

struct daemon;

/* The host table's kube_watch and kube_watch_cancel. */
int host_kube_watch(struct strata_instance *inst, const char *path,
		    strata_kube_cb cb, void *arg,
		    struct strata_kube_watch **out);
void host_kube_watch_cancel(struct strata_instance *inst,
			    struct strata_kube_watch *w);

/* Before d->kube_client is freed: every watch lets go of it. */
void host_kube_unbind(struct daemon *d);
/* d->kube_client is new: every watch lists and watches on it. */
void host_kube_bind(struct daemon *d);
/* An instance is gone (after destroy): its watches are released. */
void host_kube_gone(struct strata_instance *inst);
size_t host_kube_count(const struct daemon *d);

#endif
