/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Health-check timing: the core owns it for every checker (keepalived's
 * knobs: interval, timeout, fall, rise, start state, jitter); a checker
 * only probes one target once (struct strata_healthcheck_ops).
 *
 * Each target gets a phase in the interval, spread evenly over it by slot
 * (the lowest free slot's van der Corput fraction), and is probed at
 * epoch + phase + k * interval, each probe moved by a random jitter of at
 * most jitter * interval either way. A probe still running at its timeout is
 * cancelled and counts as a failure. Never two probes of one target at once:
 * a slot that comes while a probe runs is skipped.
 *
 * All time is the loop's clock (loop_now()); every callback runs on the loop.
 */
#ifndef STRATA_CORE_HEALTH_H
#define STRATA_CORE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/plugin.h>

struct loop;
struct health;

enum health_state {
	HEALTH_UNKNOWN = 0, /* no result yet: the first one decides */
	HEALTH_UP = 1,
	HEALTH_DOWN = 2,
};

#define HEALTH_REASON_MAX 128

struct health_timing {
	int64_t interval_ns; /* between probes; at least 1 ms */
	int64_t timeout_ns;  /* 0: interval / 2; more than interval: interval */
	uint32_t fall;       /* consecutive failures to go down, >= 1 */
	uint32_t rise;       /* consecutive successes to come up, >= 1 */
	uint32_t start;      /* enum health_state before the first result */
	double jitter;       /* fraction of the interval, 0 to 0.5 */
};

/* Interval 1 s, timeout 500 ms, fall 3, rise 2, start unknown, jitter 10%. */
void health_timing_default(struct health_timing *t);

/* What the scheduler knows of one target, copied out. */
struct health_info {
	const char *name; /* valid while the target exists */
	enum health_state state;
	struct health_timing timing; /* as applied (timeout resolved) */
	uint32_t successes;  /* consecutive */
	uint32_t failures;   /* consecutive */
	uint64_t probes;     /* sent, since added */
	uint64_t failed;     /* probes that failed, timeouts included */
	int64_t last_change; /* loop_now() of the last state change; 0: none */
	char change_reason[HEALTH_REASON_MAX]; /* of the last state change */
	char last_reason[HEALTH_REASON_MAX];   /* of the last result */
	bool probing;        /* a probe is in flight */
	int64_t last_due;    /* when the last probe was scheduled; 0: none */
	int64_t last_sent;   /* when it was sent */
	int64_t next_due;    /* when the next probe is scheduled */
};

/*
 * A target changed state. Runs last in the scheduler's handling, so it may
 * add, remove or retime targets, or free the scheduler; name and reason are
 * borrowed until it returns or removes that target.
 */
typedef void (*health_cb)(void *arg, const char *name, enum health_state state,
			  const char *reason, int64_t when);
typedef void (*health_info_cb)(void *arg, const struct health_info *info);

/* seed: the jitter's random numbers; 0 picks one from the clock. */
int health_new(struct loop *loop, uint64_t seed, health_cb cb, void *arg,
	       struct health **out);
/* Cancels every probe in flight; no callback after it. */
void health_free(struct health *h);

/*
 * Add a target named `name` (unique), probed through ops/self (borrowed:
 * they must outlive the target) at `target` (copied). timing NULL: the
 * defaults. 0, -EEXIST, -EINVAL or -ENOMEM. The first probe comes within
 * one interval.
 */
int health_target_add(struct health *h, const char *name,
		       const struct strata_healthcheck_ops *ops, void *self,
		       const struct strata_hc_target *target,
		       const struct health_timing *timing);
/* Cancels its probe in flight; no callback for it after. 0 or -ENOENT. */
int health_target_remove(struct health *h, const char *name);
/*
 * New timing from now on: the next probe follows the new interval, a probe
 * in flight gets the new timeout (counted from when it was sent), and the new
 * fall and rise apply from the next result. The state is kept (start applies
 * only when a target is added). 0, -ENOENT or -EINVAL.
 */
int health_target_set_timing(struct health *h, const char *name,
			     const struct health_timing *timing);

/* 0 or -ENOENT. */
int health_target_state(const struct health *h, const char *name,
			struct health_info *out);
/* cb once per target, in the order they were added; cb must not add or
 * remove targets. Returns how many. */
size_t health_list(const struct health *h, health_info_cb cb, void *arg);

const char *health_state_name(enum health_state state);

#endif
