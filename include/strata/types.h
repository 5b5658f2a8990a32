/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain data that crosses the plugin ABI: addresses, prefixes, routes.
 * Fixed-width integers only; enums travel as uint32_t; times as int64_t ns.
 */
#ifndef STRATA_TYPES_H
#define STRATA_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Address families, numbered for people, not for the kernel. */
#define STRATA_AF_INET 4u
#define STRATA_AF_INET6 6u

struct strata_addr {
	uint8_t family; /* 0 (none), STRATA_AF_INET or STRATA_AF_INET6 */
	uint8_t reserved[3];
	uint8_t addr[16]; /* network byte order; IPv4 uses the first 4 */
};

struct strata_prefix {
	uint8_t family;
	uint8_t len;
	uint8_t reserved[2];
	uint8_t addr[16];
};

/* Where a route is carried. Advertisers serve one or more scopes. */
#define STRATA_SCOPE_KERNEL 1u /* this node's kernel routing table */
#define STRATA_SCOPE_CLOUD 2u  /* the cloud's route table (VPC) */
#define STRATA_SCOPE_BGP 4u    /* announced to BGP peers */

#define STRATA_MAX_NEXTHOPS 8
#define STRATA_IFNAMSIZ 16

struct strata_nexthop {
	struct strata_addr gw;        /* family 0: a device route */
	char ifname[STRATA_IFNAMSIZ]; /* empty: resolved through gw */
	uint32_t weight;              /* ECMP weight; 0 means 1 */
	uint32_t reserved;
};

struct strata_route {
	uint32_t size; /* sizeof(struct strata_route) of the writer */
	uint32_t scope;
	struct strata_prefix dst;
	uint32_t table;  /* kernel table; 0: main */
	uint32_t metric; /* 0: the kernel's default */
	uint32_t flags;  /* none defined yet; must be 0 */
	uint32_t n_nexthops;
	struct strata_nexthop nh[STRATA_MAX_NEXTHOPS];
};

/* An IPAM request and its result (IPAM kind ops, host ipam_* services). */
struct strata_ipam_request {
	uint32_t size;
	uint32_t families; /* bit 0: IPv4, bit 1: IPv6 */
	const char *handle; /* stable per attachment, e.g. "<container>/<if>" */
};

struct strata_ipam_result {
	uint32_t size;
	int32_t error; /* 0 or -errno */
	const char *error_text;
	uint32_t n_addrs;
	uint32_t reserved;
	struct strata_prefix addrs[2]; /* address and its on-link length */
};

typedef void (*strata_ipam_cb)(void *arg, const struct strata_ipam_result *res);

/* One handle an IPAM holds, with its addresses (list). */
typedef void (*strata_ipam_list_cb)(void *arg, const char *handle,
				    const struct strata_prefix *addrs,
				    uint32_t n_addrs);

/* An operation finished: err 0, or -errno with a reason. */
typedef void (*strata_done_cb)(void *arg, int err, const char *error_text);

/* A pod's interface on this node, as a front end attached it (1.1). */
struct strata_pod {
	uint32_t size;
	uint32_t n_addrs;
	const char *handle;        /* the IPAM handle: one per attachment */
	/* NULL or "" when not known: a front end re-attaching its pods
	 * after a restart may not know them; the pod is then the one the
	 * cluster reports at its addresses. */
	const char *pod_namespace;
	const char *pod_name;
	const char *host_if;       /* the host end of its veth */
	struct strata_addr addrs[2];
};

#ifdef __cplusplus
}
#endif

#endif
