/* SPDX-License-Identifier: Apache-2.0 */
/*
 * advertiser "bgp": the model's BGP-scope routes announced to BGP peers
 * by a native, advertise-only speaker (one session per peer, session.c).
 *
 * Every reconcile turns the desired routes into one sorted prefix set per
 * family and hands it to every session, which sends the difference. The
 * start-up barrier (STRATA_RECONCILE_MAY_DELETE) releases withdrawals and
 * End-of-RIB. Stopping closes the sessions without a Cease, so peers keep
 * the routes for the graceful restart time.
 *
 * Only the public plugin ABI is used here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <strata/plugin.h>

#include "listen.h"
#include "session.h"

#define MAX_PEERS 64
#define MAX_COMMS 32

struct peer {
	char name[INET6_ADDRSTRLEN];
	struct strata_addr addr;
	const char *password; /* the config's string */
	bool gtsm;
	struct bgp_session *s;
};

struct bgp {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct peer peers[MAX_PEERS];
	size_t n_peers;
	bool listen;
	struct strata_addr listen_addr; /* family 0: any, per peer family */
	uint16_t listen_port;
	struct bgp_listener *listeners[2]; /* IPv4, IPv6 */
	struct bgp_session_attrs attrs;
	uint32_t comms[MAX_COMMS];
	struct bgp_large_community large[MAX_COMMS];
	int64_t reconciles;
	int last_rc;
	bool started;
	struct strata_timer *metrics_timer;
};

#define METRICS_PERIOD_NS 1000000000LL

/* The RFC 4271 numbers of the FSM's states, as operators know them. */
static int64_t state_number(enum bgp_state st)
{
	switch (st) {
	case BGP_ST_IDLE: return 1;
	case BGP_ST_CONNECT: return 2;
	case BGP_ST_OPENSENT: return 4;
	case BGP_ST_OPENCONFIRM: return 5;
	case BGP_ST_ESTABLISHED: return 6;
	}
	return 0;
}

static const char *const peer_series[] = {
	"bgp_session_state", "bgp_prefixes_sent", "bgp_prefixes_pending",
	"bgp_prefixes_withheld",
};

static void peer_key(char *out, size_t len, const char *family,
		     const struct peer *p)
{
	snprintf(out, len, "%s{peer=\"%s\"}", family, p->name);
}

/* Each peer's state and prefixes, and what the busiest peer holds. */
static void metrics_fire(void *arg)
{
	struct bgp *b = arg;
	struct bgp_session_info in;
	int64_t v[4], most = 0;
	char key[128];
	size_t i, k;

	for (i = 0; i < b->n_peers; i++) {
		bgp_session_info(b->peers[i].s, &in);
		v[0] = state_number(in.state);
		v[1] = (int64_t)(in.announced[0] + in.announced[1]);
		v[2] = (int64_t)in.pending;
		v[3] = (int64_t)in.withheld;
		if (in.state == BGP_ST_ESTABLISHED && v[1] > most)
			most = v[1];
		for (k = 0; k < 4; k++) {
			peer_key(key, sizeof(key), peer_series[k],
				 &b->peers[i]);
			b->h->metric_set(b->inst, key, v[k]);
		}
	}
	b->h->metric_set(b->inst, "routes_installed", most);
}

static const struct strata_cfg_key bgp_config[] = {
	{ "local_as", STRATA_CFG_INT, STRATA_CFG_REQUIRED, NULL, 1,
	  4294967295LL, "this node's AS number" },
	{ "peers", STRATA_CFG_STRINGS, STRATA_CFG_REQUIRED, NULL, 0, 0,
	  "peers as \"ADDRESS AS\" strings; connected to unless passive" },
	{ "passive", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "peers (addresses) never connected to, only accepted" },
	{ "listen", STRATA_CFG_BOOL, 0, NULL, 0, 0,
	  "accept connections from every peer; default: when one is passive" },
	{ "listen_address", STRATA_CFG_STRING, 0, NULL, 0, 0,
	  "address to listen on; default: local_address, or any" },
	{ "listen_port", STRATA_CFG_INT, 0, "179", 1, 65535,
	  "TCP port to listen on (below 1024: root or CAP_NET_BIND_SERVICE)" },
	{ "router_id", STRATA_CFG_STRING, 0, NULL, 0, 0,
	  "BGP identifier (an IPv4 address); default: the node's address" },
	{ "next_hop", STRATA_CFG_STRING, 0, NULL, 0, 0,
	  "IPv4 next hop; default: the node's address" },
	{ "next_hop6", STRATA_CFG_STRING, 0, NULL, 0, 0,
	  "global IPv6 next hop; without it IPv6 routes are not announced" },
	{ "local_address", STRATA_CFG_STRING, 0, NULL, 0, 0,
	  "source address of the sessions; default: the kernel's choice" },
	{ "med", STRATA_CFG_INT, 0, "-1", -1, 4294967295LL,
	  "MULTI_EXIT_DISC; -1: not sent" },
	{ "local_pref", STRATA_CFG_INT, 0, "100", 0, 4294967295LL,
	  "LOCAL_PREF, sent to iBGP peers only" },
	{ "communities", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "standard communities, \"ASN:VALUE\"" },
	{ "large_communities", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "large communities, \"GLOBAL:LOCAL1:LOCAL2\"" },
	{ "hold_time", STRATA_CFG_DURATION, 0, "90s", 0, 65535000000000LL,
	  "hold time proposed: 0 or at least 3 s" },
	{ "graceful_restart_time", STRATA_CFG_DURATION, 0, "120s", 0,
	  4095000000000LL, "how long peers keep the routes after a restart" },
	{ "passwords", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "TCP-MD5 keys, \"ADDRESS SECRET\"" },
	{ "ports", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "peer ports other than 179, \"ADDRESS PORT\"" },
	{ "ttl_security", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "peers with GTSM (RFC 5082): TTL 255 both ways" },
	{ "max_prefixes", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "most prefixes announced to a peer, \"ADDRESS N\"" },
	{ "max_message_size", STRATA_CFG_INT, 0, "65535", 4096, 65535,
	  "largest UPDATE sent when extended messages (RFC 8654) are agreed" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static int parse_addr(const char *s, struct strata_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = STRATA_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = STRATA_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* The value after "ADDRESS " in key's list for this peer, or NULL. */
static const char *per_peer(struct bgp *b, const char *key, const char *peer)
{
	int i, n = b->h->cfg_strings_count(b->inst, key);
	size_t len = strlen(peer);
	const char *v;

	for (i = 0; i < n; i++) {
		v = b->h->cfg_strings_at(b->inst, key, (uint32_t)i);
		if (v && !strncmp(v, peer, len) && (v[len] == ' ' || !v[len]))
			return v[len] ? v + len + 1 : v + len;
	}
	return NULL;
}

static int read_attrs(struct bgp *b)
{
	const char *v, *addr = b->h->fact_get(b->inst, "address");
	int64_t i64;
	unsigned a, c, d;
	int i, n;

	memset(&b->attrs, 0, sizeof(b->attrs));
	v = b->h->cfg_string(b->inst, "next_hop");
	if (!v)
		v = addr;
	if (v && (parse_addr(v, &b->attrs.nexthop4) < 0 ||
		  b->attrs.nexthop4.family != STRATA_AF_INET))
		return -EINVAL;
	v = b->h->cfg_string(b->inst, "next_hop6");
	if (v && (parse_addr(v, &b->attrs.nexthop6) < 0 ||
		  b->attrs.nexthop6.family != STRATA_AF_INET6))
		return -EINVAL;
	if (b->h->cfg_int(b->inst, "med", &i64) == 0 && i64 >= 0) {
		b->attrs.has_med = true;
		b->attrs.med = (uint32_t)i64;
	}
	if (b->h->cfg_int(b->inst, "local_pref", &i64) == 0)
		b->attrs.local_pref = (uint32_t)i64;
	n = b->h->cfg_strings_count(b->inst, "communities");
	for (i = 0; i < n && i < MAX_COMMS; i++) {
		v = b->h->cfg_strings_at(b->inst, "communities", (uint32_t)i);
		if (!v || sscanf(v, "%u:%u", &a, &c) != 2 || a > 65535 ||
		    c > 65535)
			return -EINVAL;
		b->comms[i] = a << 16 | c;
	}
	b->attrs.communities = b->comms;
	b->attrs.n_communities = n > 0 ? (size_t)i : 0;
	n = b->h->cfg_strings_count(b->inst, "large_communities");
	for (i = 0; i < n && i < MAX_COMMS; i++) {
		v = b->h->cfg_strings_at(b->inst, "large_communities",
					 (uint32_t)i);
		if (!v || sscanf(v, "%u:%u:%u", &a, &c, &d) != 3)
			return -EINVAL;
		b->large[i] = (struct bgp_large_community){ a, c, d };
	}
	b->attrs.large = b->large;
	b->attrs.n_large = n > 0 ? (size_t)i : 0;
	return 0;
}

/* Whether key's list of addresses holds a (in any spelling). */
static bool in_list(struct bgp *b, const char *key, const struct strata_addr *a)
{
	int i, n = b->h->cfg_strings_count(b->inst, key);
	struct strata_addr x;
	const char *v;

	for (i = 0; i < n; i++) {
		v = b->h->cfg_strings_at(b->inst, key, (uint32_t)i);
		if (v && parse_addr(v, &x) == 0 && x.family == a->family &&
		    !memcmp(x.addr, a->addr, 16))
			return true;
	}
	return false;
}

static int add_peer(struct bgp *b, const char *spec,
		    const struct bgp_session_cfg *base)
{
	struct bgp_session_cfg c = *base;
	struct peer *p;
	char addr[INET6_ADDRSTRLEN];
	const char *v;
	unsigned long as, port, max;
	char *end;

	if (b->n_peers == MAX_PEERS ||
	    sscanf(spec, "%45s %lu", addr, &as) != 2 || !as ||
	    as > 4294967295UL || parse_addr(addr, &c.peer) < 0)
		return -EINVAL;
	c.peer_as = (uint32_t)as;
	p = &b->peers[b->n_peers];
	snprintf(p->name, sizeof(p->name), "%s", addr);
	v = per_peer(b, "ports", addr);
	if (v) {
		port = strtoul(v, NULL, 10);
		if (!port || port > 65535)
			return -EINVAL;
		c.port = (uint16_t)port;
	}
	v = per_peer(b, "max_prefixes", addr);
	if (v) {
		max = strtoul(v, &end, 10);
		if (!*v || *end || !max || max > 4294967295UL) {
			b->h->log(b->inst, STRATA_LOG_ERR,
				  "max_prefixes \"%s %s\": want \"ADDRESS N\", "
				  "N > 0", addr, v);
			return -EINVAL;
		}
		c.max_prefixes = (uint32_t)max;
	}
	c.password = per_peer(b, "passwords", addr);
	c.gtsm = per_peer(b, "ttl_security", addr) != NULL;
	c.passive = in_list(b, "passive", &c.peer);
	p->addr = c.peer;
	p->password = c.password;
	p->gtsm = c.gtsm;
	c.seed = (uint32_t)b->n_peers * 2654435761u ^
		 (uint32_t)b->h->now();
	p->s = bgp_session_new(b->h, b->inst, &c);
	if (!p->s)
		return -EINVAL;
	b->n_peers++;
	return bgp_session_set_attrs(p->s, &b->attrs);
}

static struct peer *find_peer(struct bgp *b, const struct strata_addr *a)
{
	size_t i;

	for (i = 0; i < b->n_peers; i++)
		if (b->peers[i].addr.family == a->family &&
		    !memcmp(b->peers[i].addr.addr, a->addr, 16))
			return &b->peers[i];
	return NULL;
}

/* passive, listen, listen_address, listen_port. */
static int read_listen(struct bgp *b, const struct bgp_session_cfg *base)
{
	struct strata_addr a;
	const char *v;
	int64_t i64;
	int on, i, n, any_passive = 0;

	n = b->h->cfg_strings_count(b->inst, "passive");
	for (i = 0; i < n; i++) {
		v = b->h->cfg_strings_at(b->inst, "passive", (uint32_t)i);
		if (!v || parse_addr(v, &a) < 0 || !find_peer(b, &a)) {
			b->h->log(b->inst, STRATA_LOG_ERR,
				  "passive \"%s\": not the address of a peer",
				  v ? v : "");
			return -EINVAL;
		}
		any_passive = 1;
	}
	if (b->h->cfg_bool(b->inst, "listen", &on) < 0)
		on = any_passive;
	if (any_passive && !on) {
		b->h->log(b->inst, STRATA_LOG_ERR,
			  "listen = false, but passive peers need it");
		return -EINVAL;
	}
	b->listen = on;
	v = b->h->cfg_string(b->inst, "listen_address");
	if (v && parse_addr(v, &b->listen_addr) < 0) {
		b->h->log(b->inst, STRATA_LOG_ERR,
			  "listen_address \"%s\": not an address", v);
		return -EINVAL;
	}
	if (!v)
		b->listen_addr = base->local;
	for (i = 0; on && b->listen_addr.family && i < (int)b->n_peers; i++) {
		if (b->peers[i].addr.family == b->listen_addr.family ||
		    !in_list(b, "passive", &b->peers[i].addr))
			continue;
		b->h->log(b->inst, STRATA_LOG_ERR,
			  "passive peer %s: the listener's address is of the "
			  "other family", b->peers[i].name);
		return -EINVAL;
	}
	b->listen_port = 179;
	if (b->h->cfg_int(b->inst, "listen_port", &i64) == 0) {
		if (i64 < 1 || i64 > 65535)
			return -EINVAL;
		b->listen_port = (uint16_t)i64;
	}
	return 0;
}

static int accept_peer(void *arg, const struct strata_addr *from, int fd)
{
	struct peer *p = find_peer(arg, from);

	if (!p)
		return -ENOENT;
	/* a peer may connect before the first reconcile starts the
	 * sessions: it is let in rather than refused */
	if (((struct bgp *)arg)->started)
		bgp_session_start(p->s);
	bgp_session_accept(p->s, fd);
	return 0;
}

static void close_listeners(struct bgp *b)
{
	unsigned f;

	for (f = 0; f < 2; f++) {
		bgp_listener_free(b->listeners[f]);
		b->listeners[f] = NULL;
	}
}

/* One listener per family with peers (or the listen address's family);
 * each peer's TCP-MD5 key on it, GTSM when every peer of it asks. */
static int open_listeners(struct bgp *b)
{
	struct bgp_listener_cfg lc;
	uint8_t fam;
	unsigned f;
	size_t i, n, n_gtsm;
	int rc;

	for (f = 0; f < 2; f++) {
		fam = f ? STRATA_AF_INET6 : STRATA_AF_INET;
		if (b->listen_addr.family && b->listen_addr.family != fam)
			continue;
		for (i = n = n_gtsm = 0; i < b->n_peers; i++) {
			if (b->peers[i].addr.family != fam)
				continue;
			n++;
			n_gtsm += b->peers[i].gtsm;
		}
		if (!n)
			continue;
		lc = (struct bgp_listener_cfg){
			.addr = b->listen_addr,
			.port = b->listen_port,
			.gtsm = n_gtsm == n,
		};
		lc.addr.family = fam;
		rc = bgp_listener_open(b->h, b->inst, &lc, accept_peer, b,
				       &b->listeners[f]);
		if (rc < 0)
			goto fail;
		for (i = 0; i < b->n_peers; i++) {
			const struct peer *p = &b->peers[i];

			if (p->addr.family != fam || !p->password)
				continue;
			rc = bgp_listener_add_key(b->listeners[f], &p->addr,
						  p->password);
			if (rc < 0) {
				b->h->log(b->inst, STRATA_LOG_ERR,
					  "TCP_MD5SIG on the listener for %s: "
					  "%s", p->name, strerror(-rc));
				goto fail;
			}
		}
	}
	return 0;
fail:
	close_listeners(b);
	return rc;
}

static int read_config(struct bgp *b)
{
	/* A new instance is a restart as far as peers can tell (stratad
	 * restarted, or the config was reloaded): the R bit goes out on
	 * each session's first OPEN. */
	struct bgp_session_cfg base = {
		.families = BGP_FAM_IPV4,
		.gr_restarting = true,
	};
	struct strata_addr id;
	const char *v;
	int64_t i64;
	int i, n, rc;

	if (b->h->cfg_int(b->inst, "local_as", &i64) < 0)
		return -EINVAL;
	base.local_as = (uint32_t)i64;
	v = b->h->cfg_string(b->inst, "router_id");
	if (!v)
		v = b->h->fact_get(b->inst, "address");
	if (!v || parse_addr(v, &id) < 0 || id.family != STRATA_AF_INET) {
		b->h->log(b->inst, STRATA_LOG_ERR,
			  "router_id: an IPv4 address is needed");
		return -EINVAL;
	}
	base.router_id = (uint32_t)id.addr[0] << 24 | id.addr[1] << 16 |
			 id.addr[2] << 8 | id.addr[3];
	if (b->h->cfg_duration(b->inst, "hold_time", &i64) == 0) {
		i64 /= 1000000000LL;
		if (i64 > 0 && i64 < 3)
			return -EINVAL;
		base.no_hold = i64 == 0;
		base.hold = (uint16_t)(i64 > 65535 ? 65535 : i64);
	}
	if (b->h->cfg_duration(b->inst, "graceful_restart_time", &i64) == 0)
		base.gr_time = (uint16_t)(i64 / 1000000000LL);
	v = b->h->cfg_string(b->inst, "local_address");
	if (v && parse_addr(v, &base.local) < 0)
		return -EINVAL;
	if (b->h->cfg_int(b->inst, "max_message_size", &i64) == 0) {
		if (i64 < 4096 || i64 > 65535)
			return -EINVAL;
		base.max_msg = (uint16_t)i64;
	}
	rc = read_attrs(b);
	if (rc < 0) {
		b->h->log(b->inst, STRATA_LOG_ERR, "bad next hop or community");
		return rc;
	}
	if (b->attrs.nexthop6.family)
		base.families |= BGP_FAM_IPV6;
	n = b->h->cfg_strings_count(b->inst, "peers");
	for (i = 0; i < n; i++) {
		v = b->h->cfg_strings_at(b->inst, "peers", (uint32_t)i);
		rc = v ? add_peer(b, v, &base) : -EINVAL;
		if (rc < 0) {
			b->h->log(b->inst, STRATA_LOG_ERR,
				  "peer \"%s\": want \"ADDRESS AS\"",
				  v ? v : "");
			return rc;
		}
	}
	return read_listen(b, &base);
}

static void free_peers(struct bgp *b)
{
	/* metric_delete came with ABI 0.5 */
	bool can_delete = b->h->size >= offsetof(struct strata_host,
						 metric_delete) +
					 sizeof(b->h->metric_delete);
	char key[128];
	size_t i, k;

	for (i = 0; i < b->n_peers; i++) {
		bgp_session_free(b->peers[i].s);
		/* a peer gone: its series go too */
		for (k = 0; k < 4 && can_delete; k++) {
			peer_key(key, sizeof(key), peer_series[k],
				 &b->peers[i]);
			b->h->metric_delete(b->inst, key);
		}
	}
	b->n_peers = 0;
}

static int bgp_create(const struct strata_host *host,
		      struct strata_instance *inst, void **self)
{
	struct bgp *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return -ENOMEM;
	b->h = host;
	b->inst = inst;
	rc = read_config(b);
	if (rc < 0) {
		free_peers(b);
		free(b);
		return rc;
	}
	*self = b;
	return 0;
}

/*
 * Sessions connect once started and handed the table (the first
 * reconcile), so that a session comes up with everything to send rather
 * than waiting for it while Established.
 */
static void start_sessions(struct bgp *b)
{
	size_t i;

	if (!b->started || !b->reconciles)
		return;
	for (i = 0; i < b->n_peers; i++)
		bgp_session_start(b->peers[i].s);
}

static int bgp_start(void *self)
{
	struct bgp *b = self;
	int rc;

	if (b->listen && !b->listeners[0] && !b->listeners[1]) {
		rc = open_listeners(b);
		if (rc < 0)
			return rc;
	}
	b->started = true;
	start_sessions(b);
	if (!b->metrics_timer)
		b->metrics_timer = b->h->timer_start(b->inst, 0,
						     METRICS_PERIOD_NS,
						     metrics_fire, b);
	return 0;
}

/* Peers keep the routes under graceful restart: no Cease, no withdraw. */
static int bgp_stop(void *self)
{
	struct bgp *b = self;
	size_t i;

	b->started = false;
	close_listeners(b);
	if (b->metrics_timer) {
		b->h->timer_stop(b->inst, b->metrics_timer);
		b->metrics_timer = NULL;
	}
	for (i = 0; i < b->n_peers; i++)
		bgp_session_stop(b->peers[i].s, true, NULL);
	return 0;
}

static void bgp_destroy(void *self)
{
	struct bgp *b = self;

	close_listeners(b);
	free_peers(b);
	free(b);
}

static uint32_t bgp_scopes(void *self)
{
	(void)self;
	return STRATA_SCOPE_BGP;
}

static int cmp_prefix(const void *x, const void *y)
{
	return bgp_prefix_cmp(x, y);
}

/* Sort and drop duplicates; the new count. */
static size_t sort_unique(struct strata_prefix *p, size_t n)
{
	size_t i, k = 0;

	qsort(p, n, sizeof(*p), cmp_prefix);
	for (i = 0; i < n; i++)
		if (!k || bgp_prefix_cmp(&p[k - 1], &p[i]))
			p[k++] = p[i];
	return k;
}

static int bgp_reconcile(void *self, const struct strata_route *const *desired,
			 size_t n, uint32_t flags)
{
	struct bgp *b = self;
	struct strata_prefix *v4, *v6;
	size_t i, n4 = 0, n6 = 0;
	int rc = 0, r;

	for (i = 0; i < n; i++)
		if (desired[i]->dst.family == STRATA_AF_INET6)
			n6++;
	/* no room for a family that is absent: 20 bytes a route */
	v4 = malloc((n - n6 + 1) * sizeof(*v4));
	v6 = malloc((n6 + 1) * sizeof(*v6));
	n6 = 0;
	if (!v4 || !v6) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct strata_prefix *d = &desired[i]->dst;

		if (!(desired[i]->scope & STRATA_SCOPE_BGP))
			continue;
		if (d->family == STRATA_AF_INET && d->len <= 32)
			v4[n4++] = *d;
		else if (d->family == STRATA_AF_INET6 && d->len <= 128)
			v6[n6++] = *d;
	}
	n4 = sort_unique(v4, n4);
	n6 = sort_unique(v6, n6);
	for (i = 0; i < b->n_peers; i++) {
		r = bgp_session_set_prefixes(b->peers[i].s, STRATA_AF_INET, v4,
					     n4);
		if (r == 0)
			r = bgp_session_set_prefixes(b->peers[i].s,
						     STRATA_AF_INET6, v6, n6);
		if (r < 0)
			rc = r;
		if (flags & STRATA_RECONCILE_MAY_DELETE)
			bgp_session_may_delete(b->peers[i].s);
	}
out:
	free(v4);
	free(v6);
	b->reconciles++;
	b->last_rc = rc;
	start_sessions(b);
	return rc;
}

/* The union of the sessions' Adj-RIB-Out, as BGP-scope routes via the
 * next hop announced. */
static int bgp_installed(void *self, strata_route_cb cb, void *arg)
{
	struct bgp *b = self;
	struct strata_prefix *all = NULL, *one, *grown;
	struct strata_route r;
	size_t i, k, n_all = 0, n;
	unsigned f;
	int rc;

	for (i = 0; i < b->n_peers; i++) {
		for (f = 0; f < 2; f++) {
			rc = bgp_session_announced(b->peers[i].s,
						   f ? STRATA_AF_INET6 :
						   STRATA_AF_INET, &one, &n);
			if (rc < 0)
				goto fail;
			if (!n) {
				free(one);
				continue;
			}
			grown = realloc(all, (n_all + n) * sizeof(*all));
			if (!grown) {
				free(one);
				rc = -ENOMEM;
				goto fail;
			}
			all = grown;
			memcpy(all + n_all, one, n * sizeof(*one));
			n_all += n;
			free(one);
		}
	}
	if (n_all)
		n_all = sort_unique(all, n_all);
	for (k = 0; k < n_all; k++) {
		const struct strata_addr *nh =
			all[k].family == STRATA_AF_INET6 ? &b->attrs.nexthop6 :
							   &b->attrs.nexthop4;

		r = (struct strata_route){
			.size = sizeof(r),
			.scope = STRATA_SCOPE_BGP,
			.dst = all[k],
			.n_nexthops = nh->family ? 1 : 0,
		};
		r.nh[0].gw = *nh;
		cb(arg, &r);
	}
	rc = 0;
fail:
	free(all);
	return rc;
}

static void bgp_status(void *self, struct strata_status *st)
{
	struct bgp *b = self;
	struct bgp_session_info in;
	char key[96], caps[96];
	size_t i;

	b->h->status_int(st, "peers", (int64_t)b->n_peers);
	b->h->status_int(st, "reconciles", b->reconciles);
	for (i = 0; i < b->n_peers; i++) {
		const char *p = b->peers[i].name;

		bgp_session_info(b->peers[i].s, &in);
		snprintf(key, sizeof(key), "peer %s state", p);
		b->h->status_str(st, key, bgp_state_name(in.state));
		snprintf(key, sizeof(key), "peer %s uptime_s", p);
		b->h->status_int(st, key, in.established_ns ?
				 (b->h->now() - in.established_ns) /
				 1000000000LL : 0);
		snprintf(caps, sizeof(caps), "%s%s%s%s%s%s hold %u",
			 in.families & BGP_FAM_IPV4 ? "ipv4 " : "",
			 in.families & BGP_FAM_IPV6 ? "ipv6 " : "",
			 in.as4 ? "as4 " : "",
			 in.route_refresh ? "route-refresh " : "",
			 in.ext_msg ? "extended-message " : "",
			 in.gr ? "graceful-restart" : "", in.hold);
		snprintf(key, sizeof(key), "peer %s capabilities", p);
		b->h->status_str(st, key, caps);
		snprintf(key, sizeof(key), "peer %s prefixes", p);
		b->h->status_int(st, key, (int64_t)(in.announced[0] +
						    in.announced[1]));
		snprintf(key, sizeof(key), "peer %s prefixes_withheld", p);
		b->h->status_int(st, key, (int64_t)in.withheld);
		snprintf(key, sizeof(key), "peer %s direction", p);
		b->h->status_str(st, key, in.state == BGP_ST_IDLE ? "none" :
				 in.inbound ? "passive" : "active");
		snprintf(key, sizeof(key), "peer %s last_error", p);
		b->h->status_str(st, key, in.last_error[0] ? in.last_error :
				 "none");
	}
}

static const struct strata_plugin_ops bgp_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = bgp_create,
	.start = bgp_start,
	.stop = bgp_stop,
	.destroy = bgp_destroy,
	.status = bgp_status,
};

static const struct strata_advertiser_ops bgp_adv_ops = {
	.size = sizeof(struct strata_advertiser_ops),
	.scopes = bgp_scopes,
	.reconcile = bgp_reconcile,
	.installed = bgp_installed,
};

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "bgp", STRATA_VERSION,
	      "announces the model's BGP routes to BGP peers",
	      bgp_config, &bgp_ops, &bgp_adv_ops);
