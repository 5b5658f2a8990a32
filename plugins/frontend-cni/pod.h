/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's links: the veth pair between this node and a pod's netns, its
 * addresses and routes, made, checked and removed through netlink.
 */
#ifndef STRATA_FRONTEND_CNI_POD_H
#define STRATA_FRONTEND_CNI_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#define POD_IFNAMSIZ 16

/* The pod's gateways: answered by the host veth (proxy ARP for IPv4; the
 * address itself, on the veth, for IPv6). */
#define POD_GATEWAY4 "169.254.1.1"
#define POD_GATEWAY6 "fe80::1"

struct pod_link {
	char host_if[POD_IFNAMSIZ]; /* "st" + 13 hex */
	char pod_if[POD_IFNAMSIZ];  /* CNI_IFNAME */
	uint32_t mtu;               /* 0: pod_uplink_mtu() */
	uint32_t n_addrs;
	struct strata_prefix addrs[2]; /* the pod's addresses, len 32/128 */
};

struct pod_info {
	char host_mac[18], pod_mac[18]; /* "aa:bb:cc:dd:ee:ff" */
	uint32_t mtu;
	int host_ifindex;
};

/* All of these block: call them on a worker thread, never the loop. They
 * may setns() the calling thread and restore it before returning. */
int pod_add(const struct pod_link *l, int netns_fd, struct pod_info *out,
	    char *err, size_t errlen);
int pod_del(const char *host_if, char *err, size_t errlen);
int pod_check(const struct pod_link *l, int netns_fd, const char *want_mac,
	      char *err, size_t errlen);
bool pod_link_exists(const char *host_if); /* a veth by that name, here */
int pod_list_links(void (*cb)(void *arg, const char *name), void *arg);
uint32_t pod_uplink_mtu(void);
/* The device the default route leaves by, and its MTU; -ENOENT: none. */
int pod_uplink(char name[POD_IFNAMSIZ], uint32_t *mtu);
void pod_host_if_name(const char *network, const char *container_id,
		      const char *ifname, char out[POD_IFNAMSIZ]);

#endif
