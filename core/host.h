/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the plugin ABI: struct strata_host, and the instance
 * record behind each struct strata_instance handle. Every loop resource an
 * instance takes through the table is tracked here, so destroy releases
 * what a plugin forgot.
 */
#ifndef STRATA_CORE_HOST_H
#define STRATA_CORE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <strata/plugin.h>

#include "metrics.h"

struct daemon;
struct cfg_plugin;
struct plug;
struct route_owner;
struct route_adv;
struct host_res;

enum inst_state {
	INST_CREATED,  /* create() done, not started */
	INST_WAITING,  /* waiting for node facts before start() */
	INST_RUNNING,  /* start() done */
	INST_STOPPING, /* stop() returned STRATA_PENDING */
	INST_STOPPED,
	INST_FAILED,
};

struct strata_instance {
	struct daemon *d;
	uint64_t id;   /* never reused: posts for a gone instance are dropped */
	char *name;    /* the instance name from the config */
	char prefix[80]; /* "plugin[instance]" for log lines */
	struct plug *plug;
	const struct cfg_plugin *cfg;
	void *self;
	enum inst_state state;
	int last_error;
	bool debug;
	struct route_owner *owner; /* when it states routes */
	bool owner_claimed;        /* route_owner() called by this incarnation */
	struct route_adv *adv;     /* advertisers */
	struct host_res *res;      /* tracked loop resources */
	struct metric_set metrics; /* its series, served as strata_<name> */
	struct strata_instance *next;
};

extern const struct strata_host host_table;

/* Release every resource the instance still holds (after destroy()); for
 * the node's IPAM, also fail the calls it left unanswered. */
void host_release_all(struct strata_instance *inst);
/* Free the records of IPAM calls still in flight (daemon teardown). */
void host_ipam_calls_free(struct daemon *d);
const char *host_state_name(enum inst_state s);

/* A status writer that renders into a yajl map being generated. */
struct strata_status *host_status_begin(void *yajl_gen_handle);
void host_status_end(struct strata_status *st);

#endif
