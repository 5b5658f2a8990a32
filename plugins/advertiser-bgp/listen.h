/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A BGP instance's listening socket for one address family, on the host's
 * loop: connections are accepted without blocking and handed over by
 * source address; those from no configured peer are closed at once
 * (logged at most once a minute per address).
 */
#ifndef STRATA_BGP_LISTEN_H
#define STRATA_BGP_LISTEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <strata/host.h>
#include <strata/types.h>

struct bgp_listener;

/* The sockaddr of a with port (host order), and its length; the session
 * connects and sets TCP-MD5 keys with it too. */
socklen_t bgp_sockaddr(const struct strata_addr *a, uint16_t port,
		       struct sockaddr_storage *ss);

struct bgp_listener_cfg {
	struct strata_addr addr; /* family required; all zero: any */
	uint16_t port;           /* 0: the kernel's choice (tests) */
	bool gtsm;               /* minimum TTL 255 on every connection */
};

/* Take fd (the accepted connection from `from`) and return 0, or return
 * -ENOENT without touching fd: no such peer. */
typedef int (*bgp_accept_fn)(void *arg, const struct strata_addr *from,
			     int fd);

/*
 * Bind, listen and watch. 0, or -errno after logging an error that names
 * the address and the port (and CAP_NET_BIND_SERVICE when that is why).
 */
int bgp_listener_open(const struct strata_host *h, struct strata_instance *inst,
		      const struct bgp_listener_cfg *cfg, bgp_accept_fn fn,
		      void *arg, struct bgp_listener **out);
/* The TCP-MD5 key (RFC 2385) for connections from peer. 0 or -errno. */
int bgp_listener_add_key(struct bgp_listener *l, const struct strata_addr *peer,
			 const char *password);
uint16_t bgp_listener_port(const struct bgp_listener *l);
/* Connections closed because they came from no configured peer. */
uint64_t bgp_listener_refused(const struct bgp_listener *l);
void bgp_listener_free(struct bgp_listener *l);

#endif
