/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health view on one node: it follows the forwarding intent in the
 * store and hands it to the node's appliers (the planner), probes the
 * targets the intent assigns to this node through a healthcheck plugin on
 * the core's timing (health.c), and writes what it sees as this node's
 * report, on a short lease so that a dead observer stops counting.
 */
#ifndef STRATA_CORE_HEALTHVIEW_H
#define STRATA_CORE_HEALTHVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include <strata/plugin.h>

#include "health.h"
#include "intent.h"

struct loop;
struct store;
struct healthview;

#define HEALTHVIEW_LEASE_MS 3000

struct healthview_options {
	const char *node;
	/* the checker; ops NULL: this node does not observe */
	const struct strata_healthcheck_ops *ops;
	void *self;
	struct health_timing timing;
	uint16_t port;    /* tcp, http */
	const char *path; /* http */
	int32_t expect;   /* http */
};

/* The intent changed (NULL: there is none), or this node's drain mark. */
typedef void (*healthview_cb)(void *arg, const struct intent *intent,
			      bool drained);

int healthview_new(struct loop *loop, struct store *st,
		   const struct healthview_options *opt, healthview_cb cb,
		   void *arg, struct healthview **out);
/* Probes stop, the report's lease is revoked. No callback after it. */
void healthview_free(struct healthview *hv);
/* A new checker or timing (reload); targets keep their state when only
 * the timing changed. */
int healthview_set_options(struct healthview *hv,
			   const struct healthview_options *opt);

const struct intent *healthview_intent(const struct healthview *hv);
bool healthview_drained(const struct healthview *hv);
/* This node's own probes, as health_list(). */
size_t healthview_probes(const struct healthview *hv, health_info_cb cb,
			 void *arg);

/* CLOCK_REALTIME in ms: what records in the store carry. */
int64_t healthview_wall_ms(void);

#endif
