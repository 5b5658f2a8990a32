/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's routing sysctls: a node that routes pod addresses must
 * forward, must not drop pod traffic by reverse-path filtering, and must
 * not tell pods (or peers) to bypass it with ICMP redirects.
 */
#ifndef STRATA_CNI_SYSCTL_H
#define STRATA_CNI_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>

struct node_sysctls {
	bool forwarding;       /* net.ipv4.ip_forward, ipv6 all.forwarding */
	const char *rp_filter; /* "loose", "strict", "off", or NULL: leave */
	bool no_redirects;     /* send_redirects 0 on all, default, uplink;
				  accept_redirects 0 on all */
	const char *uplink;    /* device name or NULL */
};

/* false members and a NULL rp_filter leave those sysctls as they are. */
int node_sysctls_apply(const struct node_sysctls *s, char *err,
		       size_t errlen);

#endif
