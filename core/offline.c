/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cfg.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "offline.h"
#include "plug.h"

int offline_instance_new(const struct cfg_plugin *cp, struct plug *plug,
			 struct strata_instance **out)
{
	struct strata_instance *inst = calloc(1, sizeof(*inst));

	if (!inst)
		return -ENOMEM;
	inst->name = strdup(cp->instance);
	if (!inst->name) {
		free(inst);
		return -ENOMEM;
	}
	inst->cfg = cp;
	inst->plug = plug;
	snprintf(inst->prefix, sizeof(inst->prefix), "%s[%s]",
		 plug->desc->name, cp->instance);
	*out = inst;
	return 0;
}

void offline_instance_free(struct strata_instance *inst)
{
	if (!inst)
		return;
	free(inst->name);
	free(inst);
}

static void off_vlog(struct strata_instance *inst, int level, const char *fmt,
		     va_list ap)
{
	if (!inst || !fmt)
		return;
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_vmsg(level, inst->prefix, fmt, ap);
}

static void off_log(struct strata_instance *inst, int level, const char *fmt,
		    ...)
{
	va_list ap;

	va_start(ap, fmt);
	off_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static const char *off_instance_name(struct strata_instance *inst)
{
	return inst ? inst->name : NULL;
}

static const struct strata_cfg_key *schema_of(struct strata_instance *inst)
{
	return inst->plug->desc->config;
}

static int off_cfg_bool(struct strata_instance *inst, const char *key, int *out)
{
	if (!inst || !key || !out)
		return -EINVAL;
	return cfg_get_bool(inst->cfg, schema_of(inst), key, out);
}

static int off_cfg_int(struct strata_instance *inst, const char *key,
		       int64_t *out)
{
	if (!inst || !key || !out)
		return -EINVAL;
	return cfg_get_int(inst->cfg, schema_of(inst), key, out);
}

static int off_cfg_duration(struct strata_instance *inst, const char *key,
			    int64_t *out_ns)
{
	if (!inst || !key || !out_ns)
		return -EINVAL;
	return cfg_get_duration(inst->cfg, schema_of(inst), key, out_ns);
}

static const char *off_cfg_string(struct strata_instance *inst,
				  const char *key)
{
	if (!inst || !key)
		return NULL;
	return cfg_get_string(inst->cfg, schema_of(inst), key);
}

static int off_cfg_strings_count(struct strata_instance *inst, const char *key)
{
	if (!inst || !key)
		return -EINVAL;
	return cfg_get_strings_count(inst->cfg, schema_of(inst), key);
}

static const char *off_cfg_strings_at(struct strata_instance *inst,
				      const char *key, uint32_t index)
{
	if (!inst || !key)
		return NULL;
	return cfg_get_strings_at(inst->cfg, schema_of(inst), key, index);
}

static int64_t off_now(void)
{
	return loop_now();
}

/* Everything below needs a daemon. */

static struct strata_watch *off_fd_watch(struct strata_instance *inst, int fd,
					 uint32_t events, strata_fd_cb cb,
					 void *arg)
{
	(void)inst, (void)fd, (void)events, (void)cb, (void)arg;
	errno = ENOTCONN;
	return NULL;
}

static int off_fd_modify(struct strata_instance *inst, struct strata_watch *w,
			 uint32_t events)
{
	(void)inst, (void)w, (void)events;
	return -ENOTCONN;
}

static void off_fd_unwatch(struct strata_instance *inst, struct strata_watch *w)
{
	(void)inst, (void)w;
}

static struct strata_timer *off_timer_start(struct strata_instance *inst,
					    int64_t delay_ns, int64_t period_ns,
					    strata_cb cb, void *arg)
{
	(void)inst, (void)delay_ns, (void)period_ns, (void)cb, (void)arg;
	errno = ENOTCONN;
	return NULL;
}

static void off_timer_stop(struct strata_instance *inst, struct strata_timer *t)
{
	(void)inst, (void)t;
}

static int off_defer(struct strata_instance *inst, strata_cb cb, void *arg)
{
	(void)inst, (void)cb, (void)arg;
	return -ENOTCONN;
}

static struct strata_http_call *
off_http_start(struct strata_instance *inst,
	       const struct strata_http_request *req, strata_http_cb cb,
	       void *arg)
{
	(void)inst, (void)req, (void)cb, (void)arg;
	errno = ENOTCONN;
	return NULL;
}

static void off_http_cancel(struct strata_instance *inst,
			    struct strata_http_call *call)
{
	(void)inst, (void)call;
}

static int off_kroute_list(struct strata_instance *inst, uint32_t family,
			   uint32_t table, strata_route_cb cb, void *arg)
{
	(void)inst, (void)family, (void)table, (void)cb, (void)arg;
	return -ENOTCONN;
}

static int off_kroute(struct strata_instance *inst,
		      const struct strata_route *route)
{
	(void)inst, (void)route;
	return -ENOTCONN;
}

static const char *off_fact_get(struct strata_instance *inst, const char *name)
{
	(void)inst, (void)name;
	return NULL;
}

static int off_fact_set(struct strata_instance *inst, const char *name,
			const char *value)
{
	(void)inst, (void)name, (void)value;
	return -ENOTCONN;
}

static int off_store_txn(struct strata_instance *inst,
			 const struct strata_store_txn *txn,
			 strata_store_txn_cb cb, void *arg)
{
	(void)inst, (void)txn, (void)cb, (void)arg;
	return -ENOTCONN;
}

static int off_store_get(struct strata_instance *inst, const char *key,
			 uint32_t flags, strata_store_range_cb cb, void *arg)
{
	(void)inst, (void)key, (void)flags, (void)cb, (void)arg;
	return -ENOTCONN;
}

static int off_store_put(struct strata_instance *inst, const char *key,
			 const void *value, size_t value_len, int64_t lease,
			 strata_store_done_cb cb, void *arg)
{
	(void)inst, (void)key, (void)value, (void)value_len, (void)lease;
	(void)cb, (void)arg;
	return -ENOTCONN;
}

static int off_store_delete(struct strata_instance *inst, const char *key,
			    uint32_t flags, strata_store_done_cb cb, void *arg)
{
	(void)inst, (void)key, (void)flags, (void)cb, (void)arg;
	return -ENOTCONN;
}

static int off_lease_grant(struct strata_instance *inst, int64_t ttl_ms,
			   strata_store_lease_cb cb, void *arg)
{
	(void)inst, (void)ttl_ms, (void)cb, (void)arg;
	return -ENOTCONN;
}

static int off_lease_keepalive(struct strata_instance *inst, int64_t id,
			       strata_store_lease_cb cb, void *arg)
{
	(void)inst, (void)id, (void)cb, (void)arg;
	return -ENOTCONN;
}

static int off_lease_revoke(struct strata_instance *inst, int64_t id,
			    strata_store_done_cb cb, void *arg)
{
	(void)inst, (void)id, (void)cb, (void)arg;
	return -ENOTCONN;
}

static struct strata_store_watch *
off_store_watch(struct strata_instance *inst, const char *key, uint32_t flags,
		int64_t start_rev, strata_store_watch_cb cb, void *arg)
{
	(void)inst, (void)key, (void)flags, (void)start_rev, (void)cb;
	(void)arg;
	errno = ENOTCONN;
	return NULL;
}

static void off_store_watch_cancel(struct strata_instance *inst,
				   struct strata_store_watch *w)
{
	(void)inst, (void)w;
}

static int off_inst_only(struct strata_instance *inst)
{
	(void)inst;
	return -ENOTCONN;
}

static int off_route_unset(struct strata_instance *inst, uint32_t scope,
			   const struct strata_prefix *dst)
{
	(void)inst, (void)scope, (void)dst;
	return -ENOTCONN;
}

/* Nobody reads metrics offline: checked as the daemon would, dropped. */
static int off_metric_check(const char *name, bool histogram)
{
	char key[METRIC_KEY_MAX];
	size_t len;

	if (!name || metric_canon(name, false, key, sizeof(key), &len) < 0)
		return -EINVAL;
	if (histogram && (len < 8 || memcmp(key + len - 8, "_seconds", 8)))
		return -EINVAL;
	return 0;
}

static int off_metric(struct strata_instance *inst, const char *name,
		      int64_t value)
{
	(void)inst, (void)value;
	return off_metric_check(name, false);
}

static int off_metric_observe(struct strata_instance *inst, const char *name,
			      int64_t ns)
{
	(void)inst, (void)ns;
	return off_metric_check(name, true);
}

static int off_metric_delete(struct strata_instance *inst, const char *name)
{
	(void)inst;
	return off_metric_check(name, false);
}

static void off_status_str(struct strata_status *st, const char *key,
			   const char *value)
{
	(void)st, (void)key, (void)value;
}

static void off_status_int(struct strata_status *st, const char *key,
			   int64_t value)
{
	(void)st, (void)key, (void)value;
}

static void off_stopped(struct strata_instance *inst)
{
	(void)inst;
}

/* Offline there is no node IPAM to serve a front end. */
static int off_ipam_call(struct strata_instance *inst,
			 const struct strata_ipam_request *req,
			 strata_ipam_cb cb, void *arg)
{
	(void)inst, (void)req, (void)cb, (void)arg;
	return -ENODEV;
}

static int off_ipam_list(struct strata_instance *inst, const char *prefix,
			 strata_ipam_list_cb cb, strata_done_cb done, void *arg)
{
	(void)inst, (void)prefix, (void)cb, (void)done, (void)arg;
	return -ENODEV;
}

static int off_ipam_pools(struct strata_instance *inst,
			  struct strata_prefix *out, size_t max)
{
	(void)inst, (void)out, (void)max;
	return -ENODEV;
}

const struct strata_host offline_host = {
	.size = sizeof(struct strata_host),
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.log = off_log,
	.vlog = off_vlog,
	.instance_name = off_instance_name,
	.cfg_bool = off_cfg_bool,
	.cfg_int = off_cfg_int,
	.cfg_duration = off_cfg_duration,
	.cfg_string = off_cfg_string,
	.cfg_strings_count = off_cfg_strings_count,
	.cfg_strings_at = off_cfg_strings_at,
	.now = off_now,
	.fd_watch = off_fd_watch,
	.fd_modify = off_fd_modify,
	.fd_unwatch = off_fd_unwatch,
	.timer_start = off_timer_start,
	.timer_stop = off_timer_stop,
	.defer = off_defer,
	.post = off_defer,
	.http_start = off_http_start,
	.http_cancel = off_http_cancel,
	.kroute_list = off_kroute_list,
	.kroute_replace = off_kroute,
	.kroute_delete = off_kroute,
	.fact_get = off_fact_get,
	.fact_set = off_fact_set,
	.store_txn = off_store_txn,
	.store_get = off_store_get,
	.store_put = off_store_put,
	.store_delete = off_store_delete,
	.store_lease_grant = off_lease_grant,
	.store_lease_keepalive = off_lease_keepalive,
	.store_lease_revoke = off_lease_revoke,
	.store_watch = off_store_watch,
	.store_watch_cancel = off_store_watch_cancel,
	.route_owner = off_inst_only,
	.route_set = off_kroute,
	.route_unset = off_route_unset,
	.route_synced = off_inst_only,
	.route_resync = off_inst_only,
	.metric_add = off_metric,
	.metric_set = off_metric,
	.metric_observe = off_metric_observe,
	.metric_delete = off_metric_delete,
	.status_str = off_status_str,
	.status_int = off_status_int,
	.stopped = off_stopped,
	.topology_changed = off_inst_only,
	.ipam_allocate = off_ipam_call,
	.ipam_release = off_ipam_call,
	.ipam_list = off_ipam_list,
	.ipam_pools = off_ipam_pools,
};
