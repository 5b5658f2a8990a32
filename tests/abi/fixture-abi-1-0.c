/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A plugin of ABI 1.0, built against the frozen headers of tests/abi/1.0
 * alone. It must load and run, unchanged, in every 1.x host: test_plug
 * drives it through its ops with a host table of the live headers. Never
 * edit it for a newer minor; that is the point of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <strata/plugin.h>

_Static_assert(STRATA_ABI_MAJOR == 1 && STRATA_ABI_MINOR == 0,
	       "built against the 1.0 snapshot only");

struct fx10 {
	const struct strata_host *host;
	struct strata_instance *inst;
	int64_t answer;
	int64_t period_ns;
	uint32_t reconciled;
};

static const struct strata_cfg_key fx10_config[] = {
	{ "answer", STRATA_CFG_INT, STRATA_CFG_REQUIRED, NULL, 0, 100,
	  "a number the host hands back" },
	{ "period", STRATA_CFG_DURATION, 0, "30s", 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* 10.1.0.0/16 via 192.0.2.1 on eth0, the route it owns. */
static void fx10_route(struct strata_route *r)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->scope = STRATA_SCOPE_KERNEL;
	r->dst.family = STRATA_AF_INET;
	r->dst.len = 16;
	r->dst.addr[0] = 10;
	r->dst.addr[1] = 1;
	r->table = 7;
	r->metric = 20;
	r->n_nexthops = 1;
	r->nh[0].gw.family = STRATA_AF_INET;
	r->nh[0].gw.addr[0] = 192;
	r->nh[0].gw.addr[2] = 2;
	r->nh[0].gw.addr[3] = 1;
	strcpy(r->nh[0].ifname, "eth0");
	r->nh[0].weight = 3;
}

static int fx10_create(const struct strata_host *host,
		       struct strata_instance *inst, void **self)
{
	struct fx10 *f;
	int rc;

	/* A 1.x host's table holds every entry of 1.0. */
	if (host->abi_major != 1 || host->size < sizeof(struct strata_host))
		return -ENOTSUP;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->host = host;
	f->inst = inst;
	if ((rc = host->cfg_int(inst, "answer", &f->answer)) ||
	    (rc = host->cfg_duration(inst, "period", &f->period_ns)) ||
	    (rc = host->route_owner(inst))) {
		free(f);
		return rc;
	}
	host->log(inst, STRATA_LOG_INFO, "%s: answer %lld, period %lld ns",
		  host->instance_name(inst), (long long)f->answer,
		  (long long)f->period_ns);
	*self = f;
	return 0;
}

static int fx10_start(void *self)
{
	struct fx10 *f = self;
	struct strata_route r;
	int rc;

	fx10_route(&r);
	if ((rc = f->host->route_set(f->inst, &r)))
		return rc;
	return f->host->route_synced(f->inst);
}

static int fx10_stop(void *self)
{
	struct fx10 *f = self;

	/* The last entries of the 1.0 table. */
	f->host->metric_observe(f->inst, "fixture_run_seconds", 1500000);
	f->host->metric_delete(f->inst, "fixture_reconciles");
	return 0;
}

static void fx10_destroy(void *self)
{
	free(self);
}

static void fx10_status(void *self, struct strata_status *st)
{
	struct fx10 *f = self;

	f->host->status_str(st, "state", "running");
	f->host->status_int(st, "reconciled", f->reconciled);
}

static const struct strata_plugin_ops fx10_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = fx10_create,
	.start = fx10_start,
	.stop = fx10_stop,
	.destroy = fx10_destroy,
	.status = fx10_status,
};

static uint32_t fx10_scopes(void *self)
{
	(void)self;
	return STRATA_SCOPE_KERNEL;
}

/* Installs what it is given, as a kernel advertiser would. */
static int fx10_reconcile(void *self, const struct strata_route *const *desired,
			  size_t n, uint32_t flags)
{
	struct fx10 *f = self;
	size_t i;
	int rc;

	(void)flags;
	for (i = 0; i < n; i++)
		if ((rc = f->host->kroute_replace(f->inst, desired[i])))
			return rc;
	f->reconciled += (uint32_t)n;
	return f->host->metric_add(f->inst, "fixture_reconciles", (int64_t)n);
}

static const struct strata_advertiser_ops fx10_adv_ops = {
	.size = sizeof(struct strata_advertiser_ops),
	.scopes = fx10_scopes,
	.reconcile = fx10_reconcile,
};

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "abi-1-0", "1.0",
	      "a plugin built against the frozen 1.0 headers", fx10_config,
	      &fx10_ops, &fx10_adv_ops);
