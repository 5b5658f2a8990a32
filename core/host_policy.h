/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's policy entries (ABI 1.1) and what the daemon and the control
 * socket need of them: the attachments front ends made, replayed to each
 * policy instance that starts, and a pod's explanation.
 */
#ifndef STRATA_CORE_HOST_POLICY_H
#define STRATA_CORE_HOST_POLICY_H

#include <stddef.h>

#include <strata/plugin.h>

struct daemon;

/* The host table's policy_attach and policy_detach. */
int host_policy_attach(struct strata_instance *inst,
		       const struct strata_pod *pod, strata_done_cb cb,
		       void *arg);
int host_policy_detach(struct strata_instance *inst,
		       const struct strata_pod *pod);
/* The host table's pods_attached: the route model's start-up barrier. */
int host_policy_pods_attached(struct strata_instance *inst);

/* A policy instance started: every attachment kept goes to it, its
 * answers only logged. */
void host_policy_started(struct strata_instance *inst);
/* An instance is gone (after destroy): what it never answered fails. */
void host_policy_gone(struct strata_instance *inst);
/* Attachments kept. */
size_t host_policy_count(const struct daemon *d);
/*
 * Every running policy instance's explain() of the pod, line by line.
 * -ENODEV when none runs, -ENOENT when none knows the pod.
 */
int host_policy_explain(struct daemon *d, const char *pod_namespace,
			const char *pod_name,
			void (*line)(void *arg, const char *text), void *arg);
void host_policy_free(struct daemon *d);

#endif
