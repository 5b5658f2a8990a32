/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratad's configuration file (libconfig syntax). Every error names the
 * file, the line and what is wrong: "FILE:LINE: what".
 */
#ifndef STRATA_CORE_CFG_H
#define STRATA_CORE_CFG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/plugin.h>

struct cfg_fact {
	char *name;
	char *value;
	int line;
};

struct cfg_plugin {
	char *instance; /* unique instance name */
	char *file;     /* as written */
	char *path;     /* resolved against plugin_dir when relative */
	int line;
	const config_setting_t *config; /* its "config" group, or NULL */
	struct cfg_defaults *defaults;  /* getters' copies of schema defaults */
};

/* The health view (the top-level "health" group). */
struct cfg_health {
	char *checker;          /* a healthcheck instance; NULL: the first */
	int64_t interval_ns;    /* 500 ms */
	int64_t timeout_ns;     /* 0: half the interval */
	uint32_t fall;          /* 2 */
	uint32_t rise;          /* 2 */
	double jitter;          /* 0.1 */
	uint32_t port;          /* tcp, http; 0: none */
	char *path;             /* http; NULL: "/" */
	uint32_t expect;        /* http status; 0: any 2xx */
	uint32_t observers;     /* 3 */
	uint32_t quorum;        /* 2 */
	bool failback_return;   /* failback = "return"; default "stay" */
	int64_t hold_down_ns;   /* 30 s */
	int64_t writer_lease_ns; /* 10 s */
};

/* The Kubernetes API (the top-level "kubernetes" group). */
struct cfg_kube {
	bool enabled;           /* the group is present */
	char *kubeconfig;       /* NULL: in-cluster */
	char *node_name;        /* this node's Node; NULL until resolved */
	char *zone_label;       /* "topology.kubernetes.io/zone" */
	char *subnet_label;     /* "strata.io/subnet" */
	double qps;             /* 5 */
	uint32_t burst;         /* 10 */
	int64_t watch_timeout_ns; /* 5 min */
};

struct cfg {
	config_t lc;
	char *path;
	int log_level;          /* LOG_INFO */
	char *log_target;       /* "stderr" */
	char *control_socket;   /* RUNDIR "/stratad.sock" */
	unsigned control_mode;  /* 0600 */
	char *control_group;    /* NULL: root only */
	char *plugin_dir;       /* PLUGINDIR */
	int64_t resync_ns;      /* full route resync period; 30 s */
	uint32_t rtproto;       /* kernel route protocol for strata's routes */
	uint32_t cloud_budget[2]; /* cloud routes per family; 0: 50 */
	bool no_per_host;       /* routes.per_host = false */
	bool no_spread;         /* routes.spread = false */
	bool bgp_aggregate;     /* routes.bgp = "aggregate" */
	uint32_t bgp_announcers; /* 0: 2 */
	char *store_url;        /* STATEDIR "/store.db" */
	int64_t store_history;  /* revisions kept for watches; 10000 */
	char *store_prefix;        /* etcd: keys under it; NULL: none */
	char *store_username;      /* etcd auth; NULL: none */
	char *store_password_file; /* read at open, never logged */
	char *store_ca;            /* etcd https: PEM CA; NULL: system's */
	char *store_cert;          /* etcd https: client certificate */
	char *store_key;           /* and its key */
	struct cfg_health health;
	uint32_t metrics_port;  /* the Prometheus endpoint; 0: off */
	char *metrics_listen;   /* its address; "127.0.0.1" */
	struct cfg_kube kube;
	char *node_name;        /* hostname */
	struct cfg_fact *facts; /* from the node group */
	size_t n_facts;
	struct cfg_plugin *plugins;
	size_t n_plugins;
};

/* Parse and check the daemon's own settings. On error returns -EINVAL (or
 * -errno for I/O) and writes "FILE:LINE: what" into err. @include paths
 * are relative to the file's directory. */
int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen);
/* The same checks on text already in memory; name is the FILE of errors.
 * @include is refused. */
int cfg_load_string(const char *name, const char *text, struct cfg **out,
		    char *err, size_t errlen);
void cfg_free(struct cfg *cfg);

/* Check an instance's config group against the plugin's schema (ended by a
 * NULL name): unknown keys, types, bounds, required keys. */
int cfg_check_plugin(const struct cfg *cfg, const struct cfg_plugin *p,
		     const struct strata_cfg_key *schema, char *err,
		     size_t errlen);

/* Typed lookups of an instance's key, falling back to the schema default.
 * -ENOENT when neither is there, -EINVAL when the key is not in the
 * schema or has another type. p must come from a loaded cfg; strings
 * returned stay valid until cfg_free. Loop thread only. */
int cfg_get_bool(const struct cfg_plugin *p, const struct strata_cfg_key *schema,
		 const char *key, int *out);
int cfg_get_int(const struct cfg_plugin *p, const struct strata_cfg_key *schema,
		const char *key, int64_t *out);
int cfg_get_duration(const struct cfg_plugin *p,
		     const struct strata_cfg_key *schema, const char *key,
		     int64_t *out_ns);
const char *cfg_get_string(const struct cfg_plugin *p,
			   const struct strata_cfg_key *schema, const char *key);
int cfg_get_strings_count(const struct cfg_plugin *p,
			  const struct strata_cfg_key *schema, const char *key);
const char *cfg_get_strings_at(const struct cfg_plugin *p,
			       const struct strata_cfg_key *schema,
			       const char *key, uint32_t index);

/* "250ms", "30s", "5m", "1h", "2d" or a bare number of seconds. */
int cfg_parse_duration(const char *text, int64_t *out_ns);

#endif
