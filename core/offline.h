/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An offline host: configuration and logging, nothing else. It lets a tool
 * (stratactl plan) create a plugin instance and call its pure ops — an
 * IPAM's carve() — without a daemon, a loop or a store. Every other entry
 * of the table fails: -ENOTCONN, or NULL.
 */
#ifndef STRATA_CORE_OFFLINE_H
#define STRATA_CORE_OFFLINE_H

#include <strata/plugin.h>

struct cfg_plugin;
struct plug;

extern const struct strata_host offline_host;

/* An instance of plug configured by cp (checked against the plugin's
 * schema by the caller), named after cp. 0 or -ENOMEM. */
int offline_instance_new(const struct cfg_plugin *cp, struct plug *plug,
			 struct strata_instance **out);
void offline_instance_free(struct strata_instance *inst);

#endif
