/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel routes through libnl-route, without caches.
 *
 * Requests are synchronous on a blocking socket: the kernel answers route
 * requests at once. Every answer is read through one callback set whose
 * error handler keeps the kernel's own errno (libnl's error codes lose
 * detail such as ENETUNREACH).
 *
 * Only routes of our rtproto are ours. Listing filters by protocol (in the
 * kernel when strict dump checking is available, here always); deleting
 * names our protocol, which the kernel matches; and replacing never
 * clobbers another protocol's route of the same key: the route is first
 * added exclusively, and only when that finds an existing route of the
 * same key and that route is ours is it replaced. That check dumps the
 * route's table, so replacing a route that exists costs a dump, adding
 * a new one does not.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "log.h"
#include "loop.h"
#include "nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NL_RING 256
#define NL_OWN_WINDOW_NS (2000 * 1000000LL)
#define NL_DUMP_TRIES 3
#define NL_WATCH_BATCHES 64

/* A change we made, so that its echo on the watch socket is ignored: each
 * record matches one event of its kind for its destination, so a change
 * by someone else to the same route soon after is still seen. */
struct nl_own {
	int64_t at; /* 0: used */
	uint16_t type; /* RTM_NEWROUTE, RTM_DELROUTE */
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
};

struct nl {
	struct nl_sock *sk;
	struct nl_cb *cb;
	uint32_t rtproto;

	/* the request in flight */
	bool done;
	int err;
	int (*valid)(struct nl *nl, struct nl_msg *msg);
	void *varg;

	struct nl_own ring[NL_RING];
	unsigned ring_next;

	/* the watch */
	struct nl_sock *wsk;
	struct nl_cb *wnlcb;
	struct loop *loop;
	struct loop_fd *wfd;
	struct loop_timer *wtimer;
	int64_t debounce_ns;
	void (*wcb)(void *arg);
	void *warg;
};

static int nle_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_SUCCESS:
		return 0;
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_DUMP_INTR:
		return -EAGAIN;
	}
	return -EIO;
}

static int af_of(uint32_t family)
{
	return family == STRATA_AF_INET ? AF_INET
	       : family == STRATA_AF_INET6 ? AF_INET6
					   : AF_UNSPEC;
}

static unsigned addr_bytes(uint32_t family)
{
	return family == STRATA_AF_INET ? 4 : 16;
}

/* -- requests ---------------------------------------------------------- */

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nl *nl = arg;

	nl->err = e->error < 0 ? e->error : -EIO;
	nl->done = true;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct nl *nl = arg;

	nl->done = true;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct nl *nl = arg;

	if (!nl->valid)
		return NL_OK;
	nl->err = nl->valid(nl, msg);
	return nl->err < 0 ? NL_STOP : NL_OK;
}

/* Send msg (consumed) and read until its ack, error or dump end. */
static int talk(struct nl *nl, struct nl_msg *msg)
{
	int rc;

	nl->done = false;
	nl->err = 0;
	rc = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (rc < 0)
		return nle_errno(rc);
	while (!nl->done) {
		rc = nl_recvmsgs(nl->sk, nl->cb);
		if (nl->err < 0)
			break;
		if (rc < 0)
			return nle_errno(rc);
	}
	/* A valid callback that failed stopped the read midway: drain the
	 * rest of the answer so the next request starts clean. */
	if (!nl->done) {
		nl->valid = NULL;
		rc = nl->err;
		while (!nl->done && nl_recvmsgs(nl->sk, nl->cb) >= 0)
			;
		return rc;
	}
	return nl->err;
}

int nl_open(uint32_t rtproto, struct nl **out)
{
	struct nl *nl;
	int one = 1, rc;

	if (rtproto == 0 || rtproto > 255)
		return -EINVAL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->rtproto = rtproto;
	nl->sk = nl_socket_alloc();
	nl->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!nl->sk || !nl->cb) {
		rc = -ENOMEM;
		goto free_nl;
	}
	rc = nl_connect(nl->sk, NETLINK_ROUTE);
	if (rc < 0) {
		rc = nle_errno(rc);
		goto free_nl;
	}
	/* Let the kernel filter dumps by table and protocol (4.20+);
	 * older kernels ignore the filter and we filter here anyway. */
	(void)setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK,
			 NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	nl_cb_err(nl->cb, NL_CB_CUSTOM, on_error, nl);
	nl_cb_set(nl->cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, nl);
	nl_cb_set(nl->cb, NL_CB_FINISH, NL_CB_CUSTOM, on_ack, nl);
	nl_cb_set(nl->cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, nl);
	*out = nl;
	return 0;

free_nl:
	if (nl->cb)
		nl_cb_put(nl->cb);
	if (nl->sk)
		nl_socket_free(nl->sk);
	free(nl);
	return rc;
}

void nl_free(struct nl *nl)
{
	if (!nl)
		return;
	if (nl->wtimer)
		loop_timer_cancel(nl->wtimer);
	if (nl->wfd)
		loop_fd_del(nl->wfd);
	if (nl->wsk)
		nl_socket_free(nl->wsk);
	if (nl->wnlcb)
		nl_cb_put(nl->wnlcb);
	nl_cb_put(nl->cb);
	nl_socket_free(nl->sk);
	free(nl);
}

static void own_record(struct nl *nl, const struct strata_route *r,
		       uint16_t type)
{
	struct nl_own *o = &nl->ring[nl->ring_next++ % NL_RING];

	o->at = loop_now();
	o->type = type;
	o->family = (uint8_t)af_of(r->dst.family);
	o->len = r->dst.len;
	memset(o->addr, 0, sizeof(o->addr));
	memcpy(o->addr, r->dst.addr, addr_bytes(r->dst.family));
}

static bool own_echo(struct nl *nl, uint16_t type, uint8_t family,
		     uint8_t len, const uint8_t *addr, int64_t now)
{
	int64_t window = nl->debounce_ns > NL_OWN_WINDOW_NS ? nl->debounce_ns
							    : NL_OWN_WINDOW_NS;
	unsigned i;

	for (i = 0; i < NL_RING; i++) {
		struct nl_own *o = &nl->ring[i];

		if (o->at && now - o->at <= window && o->type == type &&
		    o->family == family && o->len == len &&
		    !memcmp(o->addr, addr, sizeof(o->addr))) {
			o->at = 0;
			return true;
		}
	}
	return false;
}

/* -- dumps ------------------------------------------------------------- */

struct dump {
	int af;           /* AF_UNSPEC: both inet families */
	uint32_t table;   /* kernel id */
	uint32_t proto;   /* 0: any */
	int (*fn)(struct dump *d, struct rtnl_route *route);
	void *arg;
};

static int dump_valid(struct nl *nl, struct nl_msg *msg)
{
	struct dump *d = nl->varg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct rtnl_route *route;
	struct rtmsg *rtm;
	int rc;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return 0;
	rtm = nlmsg_data(h);
	if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    (d->af != AF_UNSPEC && rtm->rtm_family != d->af) ||
	    (d->proto && rtm->rtm_protocol != d->proto) ||
	    (rtm->rtm_flags & RTM_F_CLONED) || rtm->rtm_type != RTN_UNICAST)
		return 0;
	rc = rtnl_route_parse(h, &route);
	if (rc < 0)
		return nle_errno(rc);
	rc = 0;
	if (rtnl_route_get_table(route) == d->table)
		rc = d->fn(d, route);
	rtnl_route_put(route);
	return rc;
}

static int dump(struct nl *nl, struct dump *d)
{
	struct rtmsg rtm;
	struct nl_msg *msg;
	int rc = -EAGAIN, tries;

	for (tries = 0; tries < NL_DUMP_TRIES && rc == -EAGAIN; tries++) {
		memset(&rtm, 0, sizeof(rtm));
		rtm.rtm_family = (unsigned char)d->af;
		rtm.rtm_table = d->table < 256 ? (unsigned char)d->table
					       : RT_TABLE_UNSPEC;
		rtm.rtm_protocol = (unsigned char)d->proto;
		msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP);
		if (!msg)
			return -ENOMEM;
		if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
		    nla_put_u32(msg, RTA_TABLE, d->table) < 0) {
			nlmsg_free(msg);
			return -EMSGSIZE;
		}
		nl->valid = dump_valid;
		nl->varg = d;
		rc = talk(nl, msg);
		nl->valid = NULL;
		nl->varg = NULL;
	}
	return rc;
}

/* ifindex -> name, remembered for the length of one dump */
struct ifcache {
	int index[16];
	char name[16][IF_NAMESIZE];
	unsigned n;
};

static void ifname_of(struct ifcache *c, int ifindex, char *out)
{
	unsigned i;

	out[0] = '\0';
	if (ifindex <= 0)
		return;
	for (i = 0; i < c->n && i < 16; i++) {
		if (c->index[i] == ifindex) {
			memcpy(out, c->name[i], IF_NAMESIZE);
			return;
		}
	}
	if (!if_indextoname((unsigned)ifindex, out)) {
		out[0] = '\0';
		return;
	}
	i = c->n++ % 16;
	c->index[i] = ifindex;
	memcpy(c->name[i], out, IF_NAMESIZE);
}

static void addr_from_nl(struct nl_addr *a, uint8_t family, uint8_t *out)
{
	unsigned len = nl_addr_get_len(a);

	memset(out, 0, 16);
	if (len > addr_bytes(family))
		len = addr_bytes(family);
	memcpy(out, nl_addr_get_binary_addr(a), len);
}

static bool route_from_nl(struct rtnl_route *route, uint32_t table,
			  struct ifcache *ic, struct strata_route *out)
{
	struct nl_addr *dst = rtnl_route_get_dst(route);
	int i, n = rtnl_route_get_nnexthops(route);
	uint8_t fam;

	memset(out, 0, sizeof(*out));
	fam = rtnl_route_get_family(route) == AF_INET ? STRATA_AF_INET
						      : STRATA_AF_INET6;
	out->size = sizeof(*out);
	out->scope = STRATA_SCOPE_KERNEL;
	out->dst.family = fam;
	if (dst) {
		out->dst.len = (uint8_t)nl_addr_get_prefixlen(dst);
		addr_from_nl(dst, fam, out->dst.addr);
	}
	out->table = table;
	out->metric = rtnl_route_get_priority(route);
	for (i = 0; i < n && out->n_nexthops < STRATA_MAX_NEXTHOPS; i++) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(route, i);
		struct strata_nexthop *o = &out->nh[out->n_nexthops];
		struct nl_addr *gw;
		char name[IF_NAMESIZE];

		if (!nh)
			break;
		gw = rtnl_route_nh_get_gateway(nh);
		if (gw && nl_addr_get_len(gw)) {
			o->gw.family = fam;
			addr_from_nl(gw, fam, o->gw.addr);
		}
		ifname_of(ic, rtnl_route_nh_get_ifindex(nh), name);
		memcpy(o->ifname, name, sizeof(o->ifname) - 1);
		o->weight = (uint32_t)rtnl_route_nh_get_weight(nh) + 1;
		if (o->gw.family || o->ifname[0])
			out->n_nexthops++;
	}
	return out->n_nexthops > 0;
}

struct list_acc {
	uint32_t table;
	struct ifcache ic;
	struct strata_route *v;
	size_t n, cap;
};

static int list_one(struct dump *d, struct rtnl_route *route)
{
	struct list_acc *acc = d->arg;

	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 64;
		struct strata_route *v = realloc(acc->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		acc->v = v;
		acc->cap = cap;
	}
	if (route_from_nl(route, acc->table, &acc->ic, &acc->v[acc->n]))
		acc->n++;
	return 0;
}

static uint32_t kernel_table(uint32_t table)
{
	return table ? table : RT_TABLE_MAIN;
}

int nl_route_list(struct nl *nl, uint32_t family, uint32_t table,
		  strata_route_cb cb, void *arg)
{
	struct list_acc acc;
	struct dump d;
	size_t i;
	int rc;

	if (family && family != STRATA_AF_INET && family != STRATA_AF_INET6)
		return -EINVAL;
	memset(&acc, 0, sizeof(acc));
	acc.table = table;
	d.af = af_of(family);
	d.table = kernel_table(table);
	d.proto = nl->rtproto;
	d.fn = list_one;
	d.arg = &acc;
	rc = dump(nl, &d);
	/* Callbacks run after the dump, so they may use this socket. */
	for (i = 0; rc == 0 && i < acc.n; i++)
		cb(arg, &acc.v[i]);
	free(acc.v);
	return rc;
}

/* -- changes ----------------------------------------------------------- */

static bool route_ok(const struct strata_route *r)
{
	uint32_t i;

	if (r->dst.family != STRATA_AF_INET && r->dst.family != STRATA_AF_INET6)
		return false;
	if (r->dst.len > addr_bytes(r->dst.family) * 8)
		return false;
	if (r->n_nexthops < 1 || r->n_nexthops > STRATA_MAX_NEXTHOPS)
		return false;
	for (i = 0; i < r->n_nexthops; i++) {
		const struct strata_nexthop *nh = &r->nh[i];

		if (nh->gw.family && nh->gw.family != r->dst.family)
			return false;
		if (!nh->gw.family && !nh->ifname[0])
			return false;
		if (strnlen(nh->ifname, sizeof(nh->ifname)) ==
		    sizeof(nh->ifname))
			return false;
		if (nh->weight > 256)
			return false;
	}
	return true;
}

static int build_route(struct nl *nl, const struct strata_route *r,
		       struct rtnl_route **out)
{
	int af = af_of(r->dst.family);
	struct rtnl_route *route;
	struct nl_addr *a;
	bool any_gw = false;
	uint32_t i;
	int rc;

	route = rtnl_route_alloc();
	if (!route)
		return -ENOMEM;
	rtnl_route_set_family(route, (uint8_t)af);
	rtnl_route_set_table(route, kernel_table(r->table));
	rtnl_route_set_protocol(route, (uint8_t)nl->rtproto);
	rtnl_route_set_priority(route, r->metric);
	rtnl_route_set_type(route, RTN_UNICAST);
	a = nl_addr_build(af, r->dst.addr, addr_bytes(r->dst.family));
	if (!a) {
		rc = -ENOMEM;
		goto put_route;
	}
	nl_addr_set_prefixlen(a, r->dst.len);
	rc = rtnl_route_set_dst(route, a);
	nl_addr_put(a);
	if (rc < 0) {
		rc = nle_errno(rc);
		goto put_route;
	}
	for (i = 0; i < r->n_nexthops; i++) {
		const struct strata_nexthop *snh = &r->nh[i];
		struct rtnl_nexthop *nh = rtnl_route_nh_alloc();

		if (!nh) {
			rc = -ENOMEM;
			goto put_route;
		}
		if (snh->ifname[0]) {
			char name[STRATA_IFNAMSIZ];
			unsigned idx;

			memcpy(name, snh->ifname, sizeof(name));
			idx = if_nametoindex(name);
			if (!idx) {
				rtnl_route_nh_free(nh);
				rc = -ENODEV;
				goto put_route;
			}
			rtnl_route_nh_set_ifindex(nh, (int)idx);
		}
		if (snh->gw.family) {
			a = nl_addr_build(af, snh->gw.addr,
					  addr_bytes(r->dst.family));
			if (!a) {
				rtnl_route_nh_free(nh);
				rc = -ENOMEM;
				goto put_route;
			}
			rtnl_route_nh_set_gateway(nh, a);
			nl_addr_put(a);
			any_gw = true;
		}
		/* the kernel counts hops: weight - 1 */
		rtnl_route_nh_set_weight(
			nh, (uint8_t)(snh->weight ? snh->weight - 1 : 0));
		rtnl_route_add_nexthop(route, nh);
	}
	rtnl_route_set_scope(route, any_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	*out = route;
	return 0;

put_route:
	rtnl_route_put(route);
	return rc;
}

static int send_route(struct nl *nl, struct rtnl_route *route, int flags)
{
	struct nl_msg *msg;
	int rc;

	rc = rtnl_route_build_add_request(route, flags, &msg);
	if (rc < 0)
		return nle_errno(rc);
	return talk(nl, msg);
}

/* What holds the key (table, dst, metric) of the route we want. */
struct holder {
	const struct strata_route *want;
	uint32_t rtproto;
	uint32_t metric;
	bool foreign;
};

static int holder_one(struct dump *d, struct rtnl_route *route)
{
	struct holder *h = d->arg;
	struct nl_addr *dst = rtnl_route_get_dst(route);
	uint8_t addr[16];

	if (!dst || rtnl_route_get_tos(route) ||
	    nl_addr_get_prefixlen(dst) != h->want->dst.len ||
	    rtnl_route_get_priority(route) != h->metric)
		return 0;
	addr_from_nl(dst, h->want->dst.family, addr);
	if (memcmp(addr, h->want->dst.addr, addr_bytes(h->want->dst.family)))
		return 0;
	if (rtnl_route_get_protocol(route) != h->rtproto)
		h->foreign = true;
	return 0;
}

int nl_route_replace(struct nl *nl, const struct strata_route *r)
{
	struct rtnl_route *route = NULL;
	struct holder h;
	struct dump d;
	int rc;

	if (!r || !route_ok(r))
		return -EINVAL;
	rc = build_route(nl, r, &route);
	if (rc < 0)
		return rc;
	rc = send_route(nl, route, NLM_F_EXCL);
	if (rc != -EEXIST)
		goto done;

	memset(&h, 0, sizeof(h));
	h.want = r;
	h.rtproto = nl->rtproto;
	/* IPv6 stores metric 0 as the kernel's default, 1024 */
	h.metric = r->metric || r->dst.family == STRATA_AF_INET ? r->metric
								 : 1024;
	d.af = af_of(r->dst.family);
	d.table = kernel_table(r->table);
	d.proto = 0;
	d.fn = holder_one;
	d.arg = &h;
	rc = dump(nl, &d);
	if (rc < 0)
		goto done;
	if (h.foreign) {
		rc = -EEXIST;
		goto done;
	}
	rc = send_route(nl, route, NLM_F_REPLACE);
done:
	if (rc == 0)
		own_record(nl, r, RTM_NEWROUTE);
	rtnl_route_put(route);
	return rc;
}

int nl_route_delete(struct nl *nl, const struct strata_route *r)
{
	struct nl_msg *msg;
	struct rtmsg rtm;
	uint32_t table;
	int rc;

	if (!r || (r->dst.family != STRATA_AF_INET &&
		   r->dst.family != STRATA_AF_INET6) ||
	    r->dst.len > addr_bytes(r->dst.family) * 8)
		return -EINVAL;
	/* Built by hand: libnl would guess a scope, and the kernel matches
	 * the scope of a delete unless it is RT_SCOPE_NOWHERE. */
	table = kernel_table(r->table);
	memset(&rtm, 0, sizeof(rtm));
	rtm.rtm_family = (unsigned char)af_of(r->dst.family);
	rtm.rtm_dst_len = r->dst.len;
	rtm.rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	rtm.rtm_protocol = (unsigned char)nl->rtproto;
	rtm.rtm_scope = RT_SCOPE_NOWHERE;
	rtm.rtm_type = RTN_UNICAST;
	msg = nlmsg_alloc_simple(RTM_DELROUTE, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, RTA_TABLE, table) < 0 ||
	    (r->dst.len && nla_put(msg, RTA_DST, (int)addr_bytes(r->dst.family),
				   r->dst.addr) < 0) ||
	    (r->metric && nla_put_u32(msg, RTA_PRIORITY, r->metric) < 0)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	rc = talk(nl, msg);
	if (rc == -ESRCH || rc == -ENOENT)
		return 0;
	if (rc == 0)
		own_record(nl, r, RTM_DELROUTE);
	return rc;
}

/* -- the watch --------------------------------------------------------- */

static void watch_fire(void *arg)
{
	struct nl *nl = arg;

	loop_timer_cancel(nl->wtimer);
	nl->wtimer = NULL;
	nl->wcb(nl->warg);
}

static void watch_arm(struct nl *nl)
{
	if (nl->wtimer)
		return;
	nl->wtimer = loop_timer_add(nl->loop, nl->debounce_ns, 0, watch_fire,
				    nl);
	if (!nl->wtimer)
		log_warn("nl: cannot arm the route event timer");
}

static int watch_msg(struct nl_msg *msg, void *arg)
{
	struct nl *nl = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[RTA_MAX + 1];
	uint8_t addr[16];
	struct rtmsg *rtm;

	if ((h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_DELROUTE) ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return NL_OK;
	rtm = nlmsg_data(h);
	if (rtm->rtm_flags & RTM_F_CLONED)
		return NL_OK;
	if (rtm->rtm_protocol == nl->rtproto &&
	    nlmsg_parse(h, sizeof(*rtm), tb, RTA_MAX, NULL) == 0) {
		memset(addr, 0, sizeof(addr));
		if (tb[RTA_DST])
			nla_memcpy(addr, tb[RTA_DST], sizeof(addr));
		if (own_echo(nl, h->nlmsg_type, rtm->rtm_family,
			     rtm->rtm_dst_len, addr, loop_now()))
			return NL_OK;
	}
	watch_arm(nl);
	return NL_OK;
}

static int watch_noseq(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

static void watch_read(void *arg, int fd, uint32_t events)
{
	struct nl *nl = arg;
	int i, rc;

	for (i = 0; i < NL_WATCH_BATCHES; i++) {
		rc = nl_recvmsgs_report(nl->wsk, nl->wnlcb);
		if (rc == 0 || rc == -NLE_AGAIN)
			return;
		if (rc < 0) {
			/* overrun (ENOBUFS) or worse: events were lost */
			watch_arm(nl);
			return;
		}
	}
}

int nl_watch(struct nl *nl, struct loop *loop, int64_t debounce_ns,
	     void (*cb)(void *arg), void *arg)
{
	int rc;

	if (nl->wsk)
		return -EBUSY;
	if (!cb || debounce_ns < 0)
		return -EINVAL;
	nl->wsk = nl_socket_alloc();
	nl->wnlcb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!nl->wsk || !nl->wnlcb) {
		rc = -NLE_NOMEM;
		goto free_sock;
	}
	nl_socket_disable_seq_check(nl->wsk);
	nl_cb_set(nl->wnlcb, NL_CB_VALID, NL_CB_CUSTOM, watch_msg, nl);
	/* events carry sequence numbers of other senders */
	nl_cb_set(nl->wnlcb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, watch_noseq, NULL);
	rc = nl_connect(nl->wsk, NETLINK_ROUTE);
	if (rc < 0)
		goto free_sock;
	rc = nl_socket_add_memberships(nl->wsk, RTNLGRP_IPV4_ROUTE,
				       RTNLGRP_IPV6_ROUTE, 0);
	if (rc < 0)
		goto free_sock;
	rc = nl_socket_set_nonblocking(nl->wsk);
	if (rc < 0)
		goto free_sock;
	(void)nl_socket_set_buffer_size(nl->wsk, 1 << 20, 0);
	nl->loop = loop;
	nl->debounce_ns = debounce_ns;
	nl->wcb = cb;
	nl->warg = arg;
	nl->wfd = loop_fd_add(loop, nl_socket_get_fd(nl->wsk), EPOLLIN,
			      watch_read, nl);
	if (!nl->wfd) {
		rc = -NLE_NOMEM;
		goto free_sock;
	}
	return 0;

free_sock:
	if (nl->wsk)
		nl_socket_free(nl->wsk);
	if (nl->wnlcb)
		nl_cb_put(nl->wnlcb);
	nl->wsk = NULL;
	nl->wnlcb = NULL;
	return nle_errno(rc);
}
