/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratad's metrics: the endpoint as configured (group "metrics"), the
 * core's own series (reconciles counted as they happen; pools, routes,
 * the cloud budget and forwarder health read from memory at each scrape)
 * and every instance's series.
 */
#ifndef STRATA_CORE_METRICS_CORE_H
#define STRATA_CORE_METRICS_CORE_H

#include "metrics.h"

struct daemon;

/* Open, move or close the endpoint to match d->cfg; count reconciles.
 * A port that cannot be opened is logged, not fatal: routing goes on. */
void metrics_core_sync(struct daemon *d);
void metrics_core_free(struct daemon *d);
/* The whole exposition, as a scrape sees it. 0 or -ENOMEM. */
int metrics_core_render(struct daemon *d, struct metric_buf *out);

#endif
