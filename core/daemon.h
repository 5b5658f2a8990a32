/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratad itself: the configured plugin instances, their lifecycle
 * (create, start once the facts they need are known, reconfigure on
 * SIGHUP, stop on SIGTERM), the route model and the control commands.
 */
#ifndef STRATA_CORE_DAEMON_H
#define STRATA_CORE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host.h"

struct cfg;
struct loop;
struct http;
struct facts;
struct route_model;
struct nl;
struct control;
struct store;
struct route_owner;
struct plug;
struct host_ipam_call;
struct mhttp;
struct kube;
struct host_policy;

struct daemon {
	char *cfg_path;
	struct cfg *cfg;
	struct loop *loop;
	struct http *http;
	struct facts *facts;
	struct route_model *routes;
	struct nl *nl;
	struct control *ctl;
	struct store *store;
	struct route_owner *store_owner; /* synced once the store is read */
	struct planner *planner; /* while an IPAM instance reports a view */
	struct healthview *hv;   /* with the planner, once the store is ready */
	struct writer *writer;   /* campaigns for the route writer, likewise */
	struct kube_nodes *kube; /* with the kubernetes group */
	/* the daemon's API client, shared (kube_nodes.c starts it) */
	struct kube *kube_client;
	struct strata_kube_watch *kube_watches; /* plugins' (host_kube.c) */
	struct host_policy *policy; /* attachments (host_policy.c) */
	const struct strata_instance *checker; /* the healthview probes with */
	bool store_ready;
	/* registration of the node in the store */
	struct loop_timer *reg_timer;
	int64_t reg_lease;
	bool reg_busy, reg_dirty, registered, reg_waiting_logged;
	struct plug **plugs; /* loaded plugins, one per file */
	size_t n_plugs;
	struct strata_instance *instances;
	uint64_t next_id;
	/* front ends' calls to the node's IPAM in flight (host.c) */
	struct host_ipam_call *ipam_calls;
	int64_t started_ns;
	int64_t stop_deadline_ns;
	struct loop_timer *stop_timer;
	bool stopping;
	int exit_code;
	/* metrics (metrics_core.c): the core's counted series, the endpoint */
	struct metric_set metrics;
	struct mhttp *metrics_http;
	char *metrics_listen;
	uint32_t metrics_port;
};

/* stratad -t: check the config and every plugin it names (in the checking
 * child), print problems to err, return 0 when good. */
int daemon_check_config(const char *path, FILE *out, FILE *err);
/* stratad --plugin-info FILE: the checking child's view of a plugin. */
int daemon_plugin_info(const char *path, FILE *out, FILE *err);

int daemon_new(const char *cfg_path, struct daemon **out);
/* Runs until SIGTERM/SIGINT; returns the process exit status. */
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);

/* For the host table. */
struct strata_instance *daemon_instance_by_id(struct daemon *d, uint64_t id);
void daemon_facts_changed(struct daemon *d);
void daemon_instance_stopped(struct strata_instance *inst);
/* The node's IPAM's view (-EAGAIN: none running yet). */
struct strata_topo_sink;
int daemon_view(struct daemon *d, const struct strata_topo_sink *sink);
/* An IPAM instance's carving changed: plan the routes again, soon. */
void daemon_topology_changed(struct strata_instance *inst);
/* For kube_nodes.c: the node's IPAM's host_remove (-EAGAIN: none
 * running), and whether this node is the cluster's route writer now. */
int daemon_host_remove(struct daemon *d, const char *name, strata_done_cb cb,
		       void *arg);
bool daemon_route_writer(const struct daemon *d);

#endif
