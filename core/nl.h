/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel routes through libnl-route, limited to strata's own rtproto: a
 * dump is filtered by protocol, and nothing of another protocol is ever
 * replaced or deleted. One socket per thread; no caches.
 */
#ifndef STRATA_CORE_NL_H
#define STRATA_CORE_NL_H

#include <stdint.h>

#include <strata/host.h>

struct loop;
struct nl;

#define NL_DEFAULT_RTPROTO 220u

int nl_open(uint32_t rtproto, struct nl **out);
/* Not nl_close(): libnl-3 exports that name for its sockets. */
void nl_free(struct nl *nl);
/* family: 0, STRATA_AF_INET, STRATA_AF_INET6; table 0: main */
int nl_route_list(struct nl *nl, uint32_t family, uint32_t table,
		  strata_route_cb cb, void *arg);
/* -EEXIST if another protocol's route holds the key (table, dst, metric):
 * that route is never replaced. */
int nl_route_replace(struct nl *nl, const struct strata_route *r);
/* Deleting a route that is already gone succeeds. */
int nl_route_delete(struct nl *nl, const struct strata_route *r);

/*
 * Route events: cb runs (debounced by debounce_ns) after routes change in
 * the kernel by someone else; changes this process made within the window
 * are ignored. 0 or -errno.
 */
int nl_watch(struct nl *nl, struct loop *loop, int64_t debounce_ns,
	     void (*cb)(void *arg), void *arg);

#endif
