/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One BGP peer's session on the host's loop: an advertise-only speaker
 * (RFC 4271 FSM Idle, Connect, OpenSent, OpenConfirm, Established) that
 * connects (unless passive) and takes the connections a listener hands
 * it, resolving collisions by BGP identifier (RFC 4271 6.8). Never
 * blocks: a non-blocking connect, timers for
 * connect-retry (exponential backoff with jitter), hold and keepalive,
 * and UPDATEs encoded lazily, one message at a time into a bounded
 * output buffer, yielding to the loop between batches.
 *
 * The owner states the desired prefix set per family and the attributes;
 * the session keeps what it announced (its Adj-RIB-Out) and sends the
 * difference. Withdrawals and End-of-RIB wait for bgp_session_may_delete()
 * (the start-up barrier). Received UPDATEs are validated and dropped.
 */
#ifndef STRATA_BGP_SESSION_H
#define STRATA_BGP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/host.h>
#include <strata/types.h>

#include "msg.h"

enum bgp_state {
	BGP_ST_IDLE = 0,
	BGP_ST_CONNECT,
	BGP_ST_OPENSENT,
	BGP_ST_OPENCONFIRM,
	BGP_ST_ESTABLISHED,
};

struct bgp_session_cfg {
	struct strata_addr peer;
	uint16_t port;            /* 0: 179 */
	struct strata_addr local; /* family 0: the kernel's choice */
	uint32_t local_as;
	uint32_t peer_as;         /* 0: accept any */
	uint32_t router_id;       /* host order, non-zero */
	uint16_t hold;            /* proposed: 0 or >= 3 s; 0 here means 90 */
	bool no_hold;             /* propose hold time 0 (no keepalives) */
	uint16_t gr_time;         /* graceful restart time, s; 0: no GR */
	bool gr_restarting;       /* the R bit: the daemon restarted; sent
				   until the first Established only */
	uint32_t families;        /* BGP_FAM_*; 0: IPv4 */
	const char *password;     /* TCP-MD5 key (copied); NULL: none */
	bool gtsm;                /* TTL 255 out, minimum TTL 255 in */
	int64_t retry_min_ns;     /* 0: 1 s */
	int64_t retry_max_ns;     /* 0: 60 s */
	int64_t connect_timeout_ns; /* 0: 10 s */
	uint32_t seed;            /* backoff jitter */
	bool passive;             /* never connect; only accept */
	uint32_t max_prefixes;    /* announce at most this many; 0: any */
	uint16_t max_msg;         /* largest message sent once RFC 8654 is
				     negotiated, >= 4096; 0: 65535 */
};

/* The path attributes of every announced prefix (copied). */
struct bgp_session_attrs {
	struct strata_addr nexthop4; /* family 0: IPv4 not announced */
	struct strata_addr nexthop6; /* global; family 0: IPv6 not announced */
	bool has_med;
	uint32_t med;
	uint32_t local_pref; /* iBGP only; 0: 100 */
	const uint32_t *communities;
	size_t n_communities;
	const struct bgp_large_community *large;
	size_t n_large;
};

struct bgp_session_info {
	enum bgp_state state;
	int64_t established_ns; /* host->now() when it came up; 0: not up */
	uint16_t hold;          /* negotiated */
	uint32_t peer_as;
	uint32_t peer_id;
	uint32_t families;      /* negotiated BGP_FAM_* */
	bool as4, route_refresh, gr, ibgp;
	size_t announced[2];    /* Adj-RIB-Out, [BGP_IDX_V4], [BGP_IDX_V6] */
	size_t pending;         /* prefixes still to send or withdraw */
	uint64_t updates_out, updates_in, notifications_in, resets;
	bool eor_sent[2];
	bool inbound;           /* the live connection was accepted */
	bool ext_msg;           /* extended messages negotiated */
	size_t withheld;        /* desired prefixes over max_prefixes */
	size_t rib_bytes;       /* held for the desired, announced and
				   pending sets */
	const char *last_error; /* "" when none; valid until the next call */
};

/* Order of prefixes in the sets given to bgp_session_set_prefixes():
 * family, address bytes, length. */
int bgp_prefix_cmp(const struct strata_prefix *a, const struct strata_prefix *b);

/* NULL on bad configuration or no memory. Starts in Idle; no I/O yet. */
struct bgp_session *bgp_session_new(const struct strata_host *h,
				    struct strata_instance *inst,
				    const struct bgp_session_cfg *cfg);
/* Connect now, and keep reconnecting with backoff until stopped. */
int bgp_session_start(struct bgp_session *s);
/*
 * The desired set of a family (STRATA_AF_INET/6): sorted by
 * bgp_prefix_cmp, unique (-EINVAL otherwise). Copied; the difference to
 * what was announced goes out as the loop allows.
 */
int bgp_session_set_prefixes(struct bgp_session *s, uint8_t family,
			     const struct strata_prefix *pfx, size_t n);
/*
 * A connection accepted from this peer (the listener matched its source
 * address); the session owns fd from here on, whatever it returns. With
 * no connection it becomes the session's (OPEN sent). Next to a
 * connection of our own it waits for the peer's OPEN, then the one
 * initiated by the side with the higher BGP identifier stays and the
 * other is closed with Cease/7; at most one such connection waits (a
 * newer one replaces it). 0, or -ECONNREFUSED: refused (stopped, or
 * Established: Cease/7 sent).
 */
int bgp_session_accept(struct bgp_session *s, int fd);
/* New attributes: every desired prefix is announced again. */
int bgp_session_set_attrs(struct bgp_session *s,
			  const struct bgp_session_attrs *a);
/* The start-up barrier passed: withdrawals and End-of-RIB may go out. */
void bgp_session_may_delete(struct bgp_session *s);
/*
 * Close and stay down. graceful: without a NOTIFICATION, so peers keep
 * the routes for the graceful restart time; otherwise Cease 6/2 with text.
 */
void bgp_session_stop(struct bgp_session *s, bool graceful, const char *text);
void bgp_session_free(struct bgp_session *s);
void bgp_session_info(const struct bgp_session *s,
		      struct bgp_session_info *out);
/*
 * What the peer was sent and holds of a family (STRATA_AF_INET/6): the
 * Adj-RIB-Out with the messages already encoded. A new sorted array for
 * the caller to free (valid when *n is 0 too), or -ENOMEM.
 */
int bgp_session_announced(const struct bgp_session *s, uint8_t family,
			  struct strata_prefix **out, size_t *n);
const char *bgp_state_name(enum bgp_state st);

#endif
