/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route writer's decision, a pure function: from the carving, the
 * observers' reports, the drained hosts and the intent written before, the
 * next forwarding intent.
 *
 * - A target is down when at least min(quorum, its observers) of its live
 *   observers say down and more say down than up; up by the same rule with
 *   up; otherwise it keeps the state decided before (no evidence is not
 *   evidence), so one flaky observer never moves a route.
 * - Down or drained hosts are never chosen; the prior intent's forwarders
 *   stay while healthy (plan.c's sticky choices), so a failed forwarder's
 *   routes go to their standbys, spread over the healthy hosts.
 * - A subnet left with no healthy host keeps its routes where they are and
 *   raises an alarm rather than black-holing everything.
 * - Fail-back "return": a route goes back to its home host (the choice
 *   without history) once that host has been up for hold_down.
 * - Targets: every forwarder, every standby, every home host and every host
 *   found down (so its recovery is seen); each with k observers, its subnet
 *   peers first, then other subnets', spread so no host observes many.
 */
#ifndef STRATA_CORE_FORWARDING_H
#define STRATA_CORE_FORWARDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intent.h"
#include "plan.h"

#define FWD_DEFAULT_OBSERVERS 3u
#define FWD_DEFAULT_QUORUM 2u
#define FWD_MAX_OBSERVERS 16u

struct fwd_options {
	uint32_t observers;   /* k per target; 0: 3 */
	uint32_t quorum;      /* observers that must agree; 0: 2 */
	bool failback_return; /* false: stay where moved */
	int64_t hold_down_ms; /* up this long before a route returns */
};

struct fwd_input {
	const struct plan_input *in;     /* hosts' healthy flags are ignored */
	const struct plan_options *plan; /* budgets; prior is ignored */
	const struct intent *prior;      /* NULL: none yet */
	const struct obs_report *reports; /* the live observers' */
	size_t n_reports;
	const char *const *drained;
	size_t n_drained;
	const char *writer;
	int64_t term;
	int64_t now_ms; /* wall clock */
};

/*
 * Fills out (zeroed by the caller; intent_free it). *next_ms: when to
 * decide again even if nothing changes (a hold-down ending), or 0. 0, or
 * -errno with err saying why (the plan failed; nothing to write).
 */
int fwd_decide(const struct fwd_input *fi, const struct fwd_options *opt,
	       struct intent *out, int64_t *next_ms, char *err,
	       size_t errlen);

#endif
