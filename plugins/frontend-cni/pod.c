/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's links through netlink, on libnl-3's sockets and messages.
 *
 * Requests are built and parsed by hand on libnl's message API rather than
 * through libnl-route's objects: the requests need exact attributes (the
 * veth peer made in another netns, NODAD) and a CNI ADD should cost a few
 * syscalls, not object allocations and caches. Every answer goes through
 * one callback set that keeps the kernel's own errno.
 *
 * The pod side is reached by a netlink socket opened while the calling
 * thread is in the pod's netns: the socket stays bound to that netns after
 * the thread returns to its own, so the thread is switched only for the
 * time of one socket() call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <openssl/evp.h>

#include "pod.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define POD_DUMP_TRIES 3
#define POD_LO_IFINDEX 1 /* the loopback device of every netns */

static const uint8_t gw4[4] = { 169, 254, 1, 1 };
static const uint8_t gw6[16] = { 0xfe, 0x80, [15] = 1 };

static void __attribute__((format(printf, 3, 4)))
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* -- requests ---------------------------------------------------------- */

struct nlk {
	struct nl_sock *sk;
	struct nl_cb *cb;
	bool done;
	int err;
	int (*valid)(struct nlmsghdr *h, void *arg); /* 0 or -errno */
	void *varg;
};

static int nle_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_SUCCESS:
		return 0;
	case NLE_INTR:
		return -EINTR;
	case NLE_AGAIN:
	case NLE_DUMP_INTR:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_MSGSIZE:
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	}
	return -EIO;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlk *k = arg;

	(void)who;
	k->err = e->error < 0 ? e->error : -EIO;
	k->done = true;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct nlk *k = arg;

	(void)msg;
	k->done = true;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct nlk *k = arg;

	if (!k->valid)
		return NL_OK;
	k->err = k->valid(nlmsg_hdr(msg), k->varg);
	return k->err < 0 ? NL_STOP : NL_OK;
}

static int nlk_open(struct nlk *k)
{
	int one = 1, rc;

	memset(k, 0, sizeof(*k));
	k->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!k->cb)
		return -ENOMEM;
	k->sk = nl_socket_alloc_cb(k->cb);
	if (!k->sk) {
		rc = -ENOMEM;
		goto put_cb;
	}
	rc = nl_connect(k->sk, NETLINK_ROUTE);
	if (rc < 0) {
		rc = nle_errno(rc);
		goto free_sk;
	}
	/* dumps filtered by the kernel (table, ifindex, kind) */
	(void)setsockopt(nl_socket_get_fd(k->sk), SOL_NETLINK,
			 NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	nl_cb_err(k->cb, NL_CB_CUSTOM, on_error, k);
	nl_cb_set(k->cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, k);
	nl_cb_set(k->cb, NL_CB_FINISH, NL_CB_CUSTOM, on_ack, k);
	nl_cb_set(k->cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, k);
	return 0;

free_sk:
	nl_socket_free(k->sk);
	k->sk = NULL;
put_cb:
	nl_cb_put(k->cb);
	k->cb = NULL;
	return rc;
}

static void nlk_close(struct nlk *k)
{
	if (k->sk)
		nl_socket_free(k->sk);
	if (k->cb)
		nl_cb_put(k->cb);
	k->sk = NULL;
	k->cb = NULL;
}

/* Send msg (consumed) and read until its ack, error or dump end; valid,
 * if set, sees every answer message. */
static int talk(struct nlk *k, struct nl_msg *msg,
		int (*valid)(struct nlmsghdr *h, void *arg), void *varg)
{
	int rc;

	k->done = false;
	k->err = 0;
	k->valid = valid;
	k->varg = varg;
	rc = nl_send_auto(k->sk, msg);
	nlmsg_free(msg);
	if (rc < 0)
		return nle_errno(rc);
	while (!k->done) {
		rc = nl_recvmsgs(k->sk, k->cb);
		if (k->err < 0)
			break;
		if (rc < 0)
			return nle_errno(rc);
	}
	/* a valid callback that failed stopped midway: drain the rest so
	 * the next request starts clean */
	if (!k->done) {
		k->valid = NULL;
		rc = k->err;
		while (!k->done && nl_recvmsgs(k->sk, k->cb) >= 0)
			;
		return rc;
	}
	return k->err;
}

/* Open a netlink socket that lives in netns_fd's namespace. */
static int nlk_open_in(struct nlk *k, int netns_fd, char *err, size_t errlen)
{
	int self, rc;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		rc = -errno;
		errf(err, errlen, "opening this thread's netns: %s",
		     strerror(-rc));
		return rc;
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		rc = -errno;
		errf(err, errlen, "entering the pod's netns: %s",
		     strerror(-rc));
		goto close_self;
	}
	rc = nlk_open(k);
	if (rc < 0)
		errf(err, errlen, "netlink socket in the pod's netns: %s",
		     strerror(-rc));
	if (setns(self, CLONE_NEWNET) < 0) {
		int e = -errno;

		errf(err, errlen, "returning from the pod's netns: %s",
		     strerror(-e));
		nlk_close(k);
		rc = e;
	}
close_self:
	close(self);
	return rc;
}

/* -- links ------------------------------------------------------------- */

struct link {
	int index;
	unsigned flags;
	uint32_t mtu;
	int peer;        /* IFLA_LINK: the veth peer's ifindex; 0: none */
	int32_t netnsid; /* IFLA_LINK_NETNSID: the peer's netns; -1: here */
	bool veth;
	uint8_t mac[6];
	char name[POD_IFNAMSIZ];
};

static void link_parse(struct nlmsghdr *h, struct link *out)
{
	struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	struct ifinfomsg *ifi = nlmsg_data(h);

	memset(out, 0, sizeof(*out));
	out->netnsid = -1;
	if (nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return;
	out->index = ifi->ifi_index;
	out->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME])
		nla_strlcpy(out->name, tb[IFLA_IFNAME], sizeof(out->name));
	if (tb[IFLA_MTU])
		out->mtu = nla_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_LINK])
		out->peer = (int)nla_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_LINK_NETNSID])
		out->netnsid = (int32_t)nla_get_u32(tb[IFLA_LINK_NETNSID]);
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6)
		memcpy(out->mac, nla_data(tb[IFLA_ADDRESS]), 6);
	if (tb[IFLA_LINKINFO] &&
	    nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) >= 0 &&
	    li[IFLA_INFO_KIND])
		out->veth = !strcmp(nla_get_string(li[IFLA_INFO_KIND]), "veth");
}

static int link_valid(struct nlmsghdr *h, void *arg)
{
	if (h->nlmsg_type == RTM_NEWLINK &&
	    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		link_parse(h, arg);
	return 0;
}

static struct nl_msg *link_msg(int type, int flags, int index,
			       unsigned ifi_flags, unsigned ifi_change)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_index = index,
		.ifi_flags = ifi_flags,
		.ifi_change = ifi_change,
	};
	struct nl_msg *msg = nlmsg_alloc_simple(type, flags);

	if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

/* A link by name: 0, -ENODEV when there is none, or -errno. */
static int link_get(struct nlk *k, const char *name, struct link *out)
{
	struct nl_msg *msg = link_msg(RTM_GETLINK, 0, 0, 0, 0);
	int rc;

	if (!msg)
		return -ENOMEM;
	if (nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
	    nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	memset(out, 0, sizeof(*out));
	rc = talk(k, msg, link_valid, out);
	if (rc == 0 && out->index <= 0)
		rc = -ENODEV;
	return rc;
}

static int link_set_up(struct nlk *k, int index)
{
	struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, index, IFF_UP, IFF_UP);

	return msg ? talk(k, msg, NULL, NULL) : -ENOMEM;
}

static int link_del(struct nlk *k, int index)
{
	struct nl_msg *msg = link_msg(RTM_DELLINK, 0, index, 0, 0);

	return msg ? talk(k, msg, NULL, NULL) : -ENOMEM;
}

/* The veth pair: host end here, peer in the pod's netns, both down (a
 * peer asked to come up at creation is refused: it is not paired yet). */
static int veth_create(struct nlk *k, const struct pod_link *l, uint32_t mtu,
		       int netns_fd)
{
	struct ifinfomsg peer = { .ifi_family = AF_UNSPEC };
	struct nlattr *info, *data, *pn;
	struct nl_msg *msg;

	msg = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, 0, 0);
	if (!msg)
		return -ENOMEM;
	if (nla_put_string(msg, IFLA_IFNAME, l->host_if) < 0 ||
	    nla_put_u32(msg, IFLA_MTU, mtu) < 0)
		goto too_big;
	info = nla_nest_start(msg, IFLA_LINKINFO);
	if (!info || nla_put_string(msg, IFLA_INFO_KIND, "veth") < 0)
		goto too_big;
	data = nla_nest_start(msg, IFLA_INFO_DATA);
	if (!data)
		goto too_big;
	pn = nla_nest_start(msg, VETH_INFO_PEER);
	if (!pn || nlmsg_append(msg, &peer, sizeof(peer), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, IFLA_IFNAME, l->pod_if) < 0 ||
	    nla_put_u32(msg, IFLA_MTU, mtu) < 0 ||
	    nla_put_u32(msg, IFLA_NET_NS_FD, (uint32_t)netns_fd) < 0)
		goto too_big;
	nla_nest_end(msg, pn);
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	return talk(k, msg, NULL, NULL);

too_big:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/*
 * The host end's per-family settings the kernel takes through netlink:
 * proxy ARP (IPv4) and no automatic link-local address (IPv6). The kernel
 * has no IPv6 state for a link until it exists, so this cannot go with the
 * creation, and addr_gen_mode must be set before the link goes up.
 */
static int host_af_set(struct nlk *k, int index, bool v4, bool v6)
{
	struct nlattr *spec, *af, *conf;
	struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, index, 0, 0);

	if (!msg)
		return -ENOMEM;
	spec = nla_nest_start(msg, IFLA_AF_SPEC);
	if (!spec)
		goto too_big;
	if (v4) {
		af = nla_nest_start(msg, AF_INET);
		conf = af ? nla_nest_start(msg, IFLA_INET_CONF) : NULL;
		if (!conf || nla_put_u32(msg, IPV4_DEVCONF_PROXY_ARP, 1) < 0)
			goto too_big;
		nla_nest_end(msg, conf);
		nla_nest_end(msg, af);
	}
	if (v6) {
		af = nla_nest_start(msg, AF_INET6);
		if (!af || nla_put_u8(msg, IFLA_INET6_ADDR_GEN_MODE,
				      IN6_ADDR_GEN_MODE_NONE) < 0)
			goto too_big;
		nla_nest_end(msg, af);
	}
	nla_nest_end(msg, spec);
	return talk(k, msg, NULL, NULL);

too_big:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* Write DIR/IFNAME/LEAF, a sysctl of this thread's netns. */
static int sysctl_write(const char *dir, const char *ifname, const char *leaf,
			const char *val)
{
	char path[128];
	size_t n = strlen(val);
	ssize_t w;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, ifname, leaf);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, val, n);
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != n)
		rc = -EIO;
	close(fd);
	return rc;
}

/* -- addresses and routes ---------------------------------------------- */

static unsigned addr_bytes(int af)
{
	return af == AF_INET ? 4 : 16;
}

static int addr_add(struct nlk *k, int index, int af, const uint8_t *addr,
		    uint8_t plen, uint8_t scope)
{
	struct ifaddrmsg ifa = {
		.ifa_family = (uint8_t)af,
		.ifa_prefixlen = plen,
		.ifa_flags = af == AF_INET6 ? IFA_F_NODAD : 0,
		.ifa_scope = scope,
		.ifa_index = (uint32_t)index,
	};
	struct nl_msg *msg;

	msg = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	    nla_put(msg, IFA_LOCAL, (int)addr_bytes(af), addr) < 0 ||
	    nla_put(msg, IFA_ADDRESS, (int)addr_bytes(af), addr) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return talk(k, msg, NULL, NULL);
}

/* A route in the main table: dst/len via gw (NULL: none) dev index. */
static int route_add(struct nlk *k, int af, const uint8_t *dst, uint8_t len,
		     const uint8_t *gw, int index, uint8_t scope)
{
	struct rtmsg rtm = {
		.rtm_family = (uint8_t)af,
		.rtm_dst_len = len,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT,
		.rtm_scope = scope,
		.rtm_type = RTN_UNICAST,
	};
	struct nl_msg *msg;

	msg = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    (len && nla_put(msg, RTA_DST, (int)addr_bytes(af), dst) < 0) ||
	    (gw && nla_put(msg, RTA_GATEWAY, (int)addr_bytes(af), gw) < 0) ||
	    nla_put_u32(msg, RTA_OIF, (uint32_t)index) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return talk(k, msg, NULL, NULL);
}

/* -- names and formats ------------------------------------------------- */

static const char *af_name(int af)
{
	return af == AF_INET ? "IPv4" : "IPv6";
}

static int af_of(uint8_t family)
{
	return family == STRATA_AF_INET ? AF_INET
	       : family == STRATA_AF_INET6 ? AF_INET6
					   : AF_UNSPEC;
}

static void mac_str(const uint8_t *mac, char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}

static void prefix_str(const struct strata_prefix *p, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(af_of(p->family), p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(out, n, "%s/%u", a, p->len);
}

static bool ifname_ok(const char *name)
{
	size_t n = strnlen(name, POD_IFNAMSIZ);

	return n > 0 && n < POD_IFNAMSIZ && strcmp(name, ".") &&
	       strcmp(name, "..") && !strpbrk(name, "/: \t\n");
}

static bool host_if_pattern(const char *name)
{
	int i;

	if (strncmp(name, "st", 2))
		return false;
	for (i = 2; i < 15; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return name[15] == '\0';
}

/* At most one address per family, each a host prefix. */
static int link_check_args(const struct pod_link *l, char *err, size_t errlen)
{
	bool seen4 = false, seen6 = false;
	uint32_t i;

	if (!ifname_ok(l->host_if) || !ifname_ok(l->pod_if)) {
		errf(err, errlen, "invalid interface name");
		return -EINVAL;
	}
	if (l->n_addrs > 2) {
		errf(err, errlen, "%u addresses: at most 2", l->n_addrs);
		return -EINVAL;
	}
	for (i = 0; i < l->n_addrs; i++) {
		const struct strata_prefix *p = &l->addrs[i];
		bool *seen = p->family == STRATA_AF_INET ? &seen4 : &seen6;

		if ((p->family != STRATA_AF_INET &&
		     p->family != STRATA_AF_INET6) ||
		    p->len != (p->family == STRATA_AF_INET ? 32 : 128) ||
		    *seen) {
			errf(err, errlen, "address %u: not one /32 or /128 "
			     "per family", i);
			return -EINVAL;
		}
		*seen = true;
	}
	return 0;
}

static bool has_family(const struct pod_link *l, uint8_t family)
{
	uint32_t i;

	for (i = 0; i < l->n_addrs; i++)
		if (l->addrs[i].family == family)
			return true;
	return false;
}

/* -- uplink MTU -------------------------------------------------------- */

struct uplink {
	int oif;
};

static int uplink_valid(struct nlmsghdr *h, void *arg)
{
	struct uplink *u = arg;
	struct nlattr *tb[RTA_MAX + 1];
	struct rtmsg *rtm;

	if (u->oif || h->nlmsg_type != RTM_NEWROUTE ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return 0;
	rtm = nlmsg_data(h);
	if (rtm->rtm_dst_len || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_flags & RTM_F_CLONED) ||
	    nlmsg_parse(h, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return 0;
	if (tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) != RT_TABLE_MAIN
			  : rtm->rtm_table != RT_TABLE_MAIN)
		return 0;
	if (tb[RTA_OIF]) {
		u->oif = (int)nla_get_u32(tb[RTA_OIF]);
	} else if (tb[RTA_MULTIPATH] &&
		   nla_len(tb[RTA_MULTIPATH]) >= (int)sizeof(struct rtnexthop)) {
		struct rtnexthop *nh = nla_data(tb[RTA_MULTIPATH]);

		u->oif = nh->rtnh_ifindex;
	}
	return 0;
}

/* The device of the default route of af in the main table, or 0. */
static int default_oif(struct nlk *k, int af)
{
	struct rtmsg rtm = {
		.rtm_family = (uint8_t)af,
		.rtm_table = RT_TABLE_MAIN,
	};
	struct uplink u;
	struct nl_msg *msg;
	int rc = -EAGAIN, tries;

	for (tries = 0; tries < POD_DUMP_TRIES && rc == -EAGAIN; tries++) {
		u.oif = 0;
		msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP);
		if (!msg)
			return 0;
		if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0) {
			nlmsg_free(msg);
			return 0;
		}
		rc = talk(k, msg, uplink_valid, &u);
	}
	return rc < 0 ? 0 : u.oif;
}

/* The device the default route leaves by (IPv4's, else IPv6's). */
static int uplink_get(struct nlk *k, struct link *out)
{
	static const int afs[] = { AF_INET, AF_INET6 };
	struct nl_msg *msg;
	unsigned i;
	int oif;

	for (i = 0; i < 2; i++) {
		oif = default_oif(k, afs[i]);
		if (oif <= 0)
			continue;
		msg = link_msg(RTM_GETLINK, 0, oif, 0, 0);
		if (!msg || nla_put_u32(msg, IFLA_EXT_MASK,
					RTEXT_FILTER_SKIP_STATS) < 0) {
			nlmsg_free(msg);
			continue;
		}
		memset(out, 0, sizeof(*out));
		if (talk(k, msg, link_valid, out) == 0 && out->mtu)
			return 0;
	}
	return -ENOENT;
}

static uint32_t uplink_mtu(struct nlk *k)
{
	struct link lk;

	return uplink_get(k, &lk) == 0 ? lk.mtu : 1500;
}

uint32_t pod_uplink_mtu(void)
{
	struct nlk k;
	uint32_t mtu;

	if (nlk_open(&k) < 0)
		return 1500;
	mtu = uplink_mtu(&k);
	nlk_close(&k);
	return mtu;
}

int pod_uplink(char name[POD_IFNAMSIZ], uint32_t *mtu)
{
	struct link lk;
	struct nlk k;
	int rc;

	rc = nlk_open(&k);
	if (rc < 0)
		return rc;
	rc = uplink_get(&k, &lk);
	nlk_close(&k);
	if (rc < 0)
		return rc;
	memcpy(name, lk.name, POD_IFNAMSIZ);
	name[POD_IFNAMSIZ - 1] = '\0';
	*mtu = lk.mtu;
	return 0;
}

/* -- add --------------------------------------------------------------- */

/* The host end, made and still down: its settings, then up. */
/*
 * The host end, made and still down: its settings, then up. Whatever the
 * pod's families, a kernel with IPv6 gets no automatic address and no
 * router advertisements on it: a pod must not be able to give this node
 * a route by sending one.
 */
static int host_setup(struct nlk *k, const struct pod_link *l, int index,
		      char *err, size_t errlen)
{
	bool v4 = has_family(l, STRATA_AF_INET);
	bool v6 = has_family(l, STRATA_AF_INET6);
	bool ip6 = v6 || access("/proc/sys/net/ipv6", F_OK) == 0;
	int rc;

	if (v4 || ip6) {
		rc = host_af_set(k, index, v4, ip6);
		if (rc < 0) {
			errf(err, errlen, "%s: setting %s: %s", l->host_if,
			     !ip6 ? "proxy_arp"
			     : v4 ? "proxy_arp and addr_gen_mode"
				  : "addr_gen_mode",
			     strerror(-rc));
			return rc;
		}
	}
	/* answer ARP for the gateway at once, not after up to 0.8 s */
	if (v4) {
		rc = sysctl_write("/proc/sys/net/ipv4/neigh", l->host_if,
				  "proxy_delay", "0");
		if (rc < 0) {
			errf(err, errlen, "%s: setting proxy_delay: %s",
			     l->host_if, strerror(-rc));
			return rc;
		}
	}
	if (ip6) {
		rc = sysctl_write("/proc/sys/net/ipv6/conf", l->host_if,
				  "accept_ra", "0");
		if (rc < 0) {
			errf(err, errlen, "%s: setting accept_ra: %s",
			     l->host_if, strerror(-rc));
			return rc;
		}
	}
	rc = link_set_up(k, index);
	if (rc < 0) {
		errf(err, errlen, "%s: setting the link up: %s", l->host_if,
		     strerror(-rc));
		return rc;
	}
	/* the pod's IPv6 gateway, usable at once: no DAD */
	if (v6) {
		rc = addr_add(k, index, AF_INET6, gw6, 64, RT_SCOPE_LINK);
		if (rc < 0) {
			errf(err, errlen, "%s: adding fe80::1/64: %s",
			     l->host_if, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int pod_setup(struct nlk *k, const struct pod_link *l,
		     const struct link *pl, char *err, size_t errlen)
{
	static const uint8_t any[16];
	char a[64];
	uint32_t i;
	int rc;

	rc = link_set_up(k, POD_LO_IFINDEX);
	if (rc < 0) {
		errf(err, errlen, "lo: setting the link up in the pod's netns: "
		     "%s", strerror(-rc));
		return rc;
	}
	rc = link_set_up(k, pl->index);
	if (rc < 0) {
		errf(err, errlen, "%s: setting the link up: %s", l->pod_if,
		     strerror(-rc));
		return rc;
	}
	for (i = 0; i < l->n_addrs; i++) {
		const struct strata_prefix *p = &l->addrs[i];

		rc = addr_add(k, pl->index, af_of(p->family), p->addr, p->len,
			      RT_SCOPE_UNIVERSE);
		if (rc < 0) {
			prefix_str(p, a, sizeof(a));
			errf(err, errlen, "%s: adding %s: %s", l->pod_if, a,
			     strerror(-rc));
			return rc;
		}
	}
	if (has_family(l, STRATA_AF_INET)) {
		rc = route_add(k, AF_INET, gw4, 32, NULL, pl->index,
			       RT_SCOPE_LINK);
		if (rc < 0) {
			errf(err, errlen, "%s: adding route 169.254.1.1/32: %s",
			     l->pod_if, strerror(-rc));
			return rc;
		}
		rc = route_add(k, AF_INET, any, 0, gw4, pl->index,
			       RT_SCOPE_UNIVERSE);
		if (rc < 0) {
			errf(err, errlen, "%s: adding default route via "
			     "169.254.1.1: %s", l->pod_if, strerror(-rc));
			return rc;
		}
	}
	if (has_family(l, STRATA_AF_INET6)) {
		rc = route_add(k, AF_INET6, any, 0, gw6, pl->index,
			       RT_SCOPE_UNIVERSE);
		if (rc < 0) {
			errf(err, errlen, "%s: adding default route via "
			     "fe80::1: %s", l->pod_if, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int pod_add(const struct pod_link *l, int netns_fd, struct pod_info *out,
	    char *err, size_t errlen)
{
	struct nlk host, pod;
	struct link hl, pl;
	uint32_t mtu;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	rc = link_check_args(l, err, errlen);
	if (rc < 0)
		return rc;
	if (netns_fd < 0) {
		errf(err, errlen, "no netns");
		return -EBADF;
	}
	rc = nlk_open(&host);
	if (rc < 0) {
		errf(err, errlen, "netlink socket: %s", strerror(-rc));
		return rc;
	}
	rc = link_get(&host, l->host_if, &hl);
	if (rc == 0) {
		errf(err, errlen, "%s: exists already", l->host_if);
		rc = -EEXIST;
		goto close_host;
	} else if (rc != -ENODEV) {
		errf(err, errlen, "%s: looking it up: %s", l->host_if,
		     strerror(-rc));
		goto close_host;
	}
	rc = nlk_open_in(&pod, netns_fd, err, errlen);
	if (rc < 0)
		goto close_host;
	rc = link_get(&pod, l->pod_if, &pl);
	if (rc == 0) {
		errf(err, errlen, "%s: exists already in the pod's netns",
		     l->pod_if);
		rc = -EEXIST;
		goto close_pod;
	} else if (rc != -ENODEV) {
		errf(err, errlen, "%s: looking it up in the pod's netns: %s",
		     l->pod_if, strerror(-rc));
		goto close_pod;
	}

	mtu = l->mtu ? l->mtu : uplink_mtu(&host);
	rc = veth_create(&host, l, mtu, netns_fd);
	if (rc < 0) {
		errf(err, errlen, "%s: creating veth in the pod's netns "
		     "(host end %s): %s", l->pod_if, l->host_if,
		     strerror(-rc));
		goto close_pod;
	}
	rc = link_get(&host, l->host_if, &hl);
	if (rc < 0) {
		errf(err, errlen, "%s: looking it up after creating it: %s",
		     l->host_if, strerror(-rc));
		goto del_veth;
	}
	rc = host_setup(&host, l, hl.index, err, errlen);
	if (rc < 0)
		goto del_veth;
	rc = link_get(&pod, l->pod_if, &pl);
	if (rc < 0) {
		errf(err, errlen, "%s: looking it up in the pod's netns "
		     "after creating it: %s", l->pod_if, strerror(-rc));
		goto del_veth;
	}
	rc = pod_setup(&pod, l, &pl, err, errlen);
	if (rc < 0)
		goto del_veth;

	memset(out, 0, sizeof(*out));
	mac_str(hl.mac, out->host_mac);
	mac_str(pl.mac, out->pod_mac);
	out->mtu = mtu;
	out->host_ifindex = hl.index;
	nlk_close(&pod);
	nlk_close(&host);
	return 0;

del_veth:
	/* the peer goes with it; hl may not be filled yet, the name is ours */
	if (hl.index <= 0 || link_del(&host, hl.index) < 0) {
		struct link again;

		if (link_get(&host, l->host_if, &again) == 0 && again.veth)
			(void)link_del(&host, again.index);
	}
close_pod:
	nlk_close(&pod);
close_host:
	nlk_close(&host);
	return rc;
}

/* -- del, exists, list ------------------------------------------------- */

int pod_del(const char *host_if, char *err, size_t errlen)
{
	struct nlk k;
	struct link lk;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!ifname_ok(host_if)) {
		errf(err, errlen, "invalid interface name");
		return -EINVAL;
	}
	rc = nlk_open(&k);
	if (rc < 0) {
		errf(err, errlen, "netlink socket: %s", strerror(-rc));
		return rc;
	}
	rc = link_get(&k, host_if, &lk);
	if (rc == -ENODEV) {
		rc = 0;
		goto close_k;
	} else if (rc < 0) {
		errf(err, errlen, "%s: looking it up: %s", host_if,
		     strerror(-rc));
		goto close_k;
	}
	if (!lk.veth) {
		errf(err, errlen, "%s: not a veth, not deleting it", host_if);
		rc = -EINVAL;
		goto close_k;
	}
	/* by index: exactly the link just checked */
	rc = link_del(&k, lk.index);
	if (rc == -ENODEV)
		rc = 0;
	else if (rc < 0)
		errf(err, errlen, "%s: deleting it: %s", host_if,
		     strerror(-rc));
close_k:
	nlk_close(&k);
	return rc;
}

bool pod_link_exists(const char *host_if)
{
	struct nlk k;
	struct link lk;
	bool yes;

	if (!ifname_ok(host_if) || nlk_open(&k) < 0)
		return false;
	yes = link_get(&k, host_if, &lk) == 0 && lk.veth;
	nlk_close(&k);
	return yes;
}

struct names {
	char (*name)[POD_IFNAMSIZ];
	size_t n, cap;
	int err;
};

static int list_valid(struct nlmsghdr *h, void *arg)
{
	struct names *ns = arg;
	struct link lk;
	void *grown;

	if (h->nlmsg_type != RTM_NEWLINK ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return 0;
	link_parse(h, &lk);
	if (!lk.veth || !host_if_pattern(lk.name))
		return 0;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 16;

		grown = realloc(ns->name, cap * sizeof(*ns->name));
		if (!grown)
			return -ENOMEM;
		ns->name = grown;
		ns->cap = cap;
	}
	memcpy(ns->name[ns->n++], lk.name, POD_IFNAMSIZ);
	return 0;
}

/* The names are collected first, so cb may itself use netlink. */
int pod_list_links(void (*cb)(void *arg, const char *name), void *arg)
{
	struct names ns = { 0 };
	struct nlattr *info;
	struct nl_msg *msg;
	struct nlk k;
	size_t i;
	int rc, tries;

	rc = nlk_open(&k);
	if (rc < 0)
		return rc;
	rc = -EAGAIN;
	for (tries = 0; tries < POD_DUMP_TRIES && rc == -EAGAIN; tries++) {
		ns.n = 0;
		msg = link_msg(RTM_GETLINK, NLM_F_DUMP, 0, 0, 0);
		if (!msg) {
			rc = -ENOMEM;
			break;
		}
		/* the kind filter is the kernel's (4.20+); link_parse
		 * checks it anyway */
		info = nla_nest_start(msg, IFLA_LINKINFO);
		if (!info || nla_put_string(msg, IFLA_INFO_KIND, "veth") < 0 ||
		    (nla_nest_end(msg, info),
		     nla_put_u32(msg, IFLA_EXT_MASK,
				 RTEXT_FILTER_SKIP_STATS) < 0)) {
			nlmsg_free(msg);
			rc = -EMSGSIZE;
			break;
		}
		rc = talk(&k, msg, list_valid, &ns);
	}
	nlk_close(&k);
	if (rc == 0)
		for (i = 0; i < ns.n; i++)
			cb(arg, ns.name[i]);
	free(ns.name);
	return rc;
}

/* -- check ------------------------------------------------------------- */

static int nsid_valid(struct nlmsghdr *h, void *arg)
{
	struct nlattr *tb[NETNSA_MAX + 1];

	if (h->nlmsg_type == RTM_NEWNSID &&
	    nlmsg_parse(h, sizeof(struct rtgenmsg), tb, NETNSA_MAX, NULL) >= 0 &&
	    tb[NETNSA_NSID])
		*(int32_t *)arg = (int32_t)nla_get_u32(tb[NETNSA_NSID]);
	return 0;
}

/* The id this netns gives netns_fd's, or -1 (none assigned). */
static int nsid_get(struct nlk *k, int netns_fd, int32_t *out)
{
	struct rtgenmsg g = { .rtgen_family = AF_UNSPEC };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETNSID, 0);

	*out = -1;
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &g, sizeof(g), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, NETNSA_FD, (uint32_t)netns_fd) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return talk(k, msg, nsid_valid, out);
}

struct addr_seen {
	int index;
	const struct pod_link *l;
	bool seen[2];
};

static int addr_valid(struct nlmsghdr *h, void *arg)
{
	struct addr_seen *s = arg;
	struct nlattr *tb[IFA_MAX + 1], *a;
	struct ifaddrmsg *ifa;
	uint32_t i;

	if (h->nlmsg_type != RTM_NEWADDR ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return 0;
	ifa = nlmsg_data(h);
	if ((int)ifa->ifa_index != s->index ||
	    nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return 0;
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a)
		return 0;
	for (i = 0; i < s->l->n_addrs; i++) {
		const struct strata_prefix *p = &s->l->addrs[i];
		int af = af_of(p->family);

		if (ifa->ifa_family == af && ifa->ifa_prefixlen == p->len &&
		    nla_len(a) == (int)addr_bytes(af) &&
		    !memcmp(nla_data(a), p->addr, addr_bytes(af)))
			s->seen[i] = true;
	}
	return 0;
}

struct route_seen {
	int index;
	bool link4, default4, default6;
};

static int route_valid(struct nlmsghdr *h, void *arg)
{
	struct route_seen *s = arg;
	struct nlattr *tb[RTA_MAX + 1];
	struct rtmsg *rtm;
	const void *dst = NULL, *gw = NULL;
	int oif = 0;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return 0;
	rtm = nlmsg_data(h);
	if (rtm->rtm_type != RTN_UNICAST || (rtm->rtm_flags & RTM_F_CLONED) ||
	    nlmsg_parse(h, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return 0;
	if (tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) != RT_TABLE_MAIN
			  : rtm->rtm_table != RT_TABLE_MAIN)
		return 0;
	if (tb[RTA_OIF])
		oif = (int)nla_get_u32(tb[RTA_OIF]);
	if (tb[RTA_DST] &&
	    nla_len(tb[RTA_DST]) == (int)addr_bytes(rtm->rtm_family))
		dst = nla_data(tb[RTA_DST]);
	if (tb[RTA_GATEWAY] &&
	    nla_len(tb[RTA_GATEWAY]) == (int)addr_bytes(rtm->rtm_family))
		gw = nla_data(tb[RTA_GATEWAY]);
	if (oif != s->index)
		return 0;
	if (rtm->rtm_family == AF_INET) {
		if (rtm->rtm_dst_len == 32 && dst && !memcmp(dst, gw4, 4) &&
		    !gw && rtm->rtm_scope == RT_SCOPE_LINK)
			s->link4 = true;
		if (rtm->rtm_dst_len == 0 && gw && !memcmp(gw, gw4, 4))
			s->default4 = true;
	} else if (rtm->rtm_family == AF_INET6) {
		if (rtm->rtm_dst_len == 0 && gw && !memcmp(gw, gw6, 16))
			s->default6 = true;
	}
	return 0;
}

static void addr_reset(void *arg)
{
	struct addr_seen *s = arg;

	s->seen[0] = s->seen[1] = false;
}

static void route_reset(void *arg)
{
	struct route_seen *s = arg;

	s->link4 = s->default4 = s->default6 = false;
}

/* Dump addresses of one link (RTM_GETADDR) or the main table's routes
 * (RTM_GETROUTE) of af; an interrupted dump starts again from reset. */
static int dump(struct nlk *k, int type, int af, int index,
		int (*valid)(struct nlmsghdr *h, void *arg),
		void (*reset)(void *arg), void *arg)
{
	struct ifaddrmsg ifa = {
		.ifa_family = (uint8_t)af,
		.ifa_index = (uint32_t)index,
	};
	struct rtmsg rtm = {
		.rtm_family = (uint8_t)af,
		.rtm_table = RT_TABLE_MAIN,
	};
	struct nl_msg *msg;
	int rc = -EAGAIN, tries;

	for (tries = 0; tries < POD_DUMP_TRIES && rc == -EAGAIN; tries++) {
		reset(arg);
		msg = nlmsg_alloc_simple(type, NLM_F_DUMP);
		if (!msg)
			return -ENOMEM;
		if (type == RTM_GETADDR)
			rc = nlmsg_append(msg, &ifa, sizeof(ifa),
					  NLMSG_ALIGNTO);
		else
			rc = nlmsg_append(msg, &rtm, sizeof(rtm),
					  NLMSG_ALIGNTO);
		if (rc < 0) {
			nlmsg_free(msg);
			return -EMSGSIZE;
		}
		rc = talk(k, msg, valid, arg);
	}
	return rc;
}

static int check_pod_side(struct nlk *k, const struct pod_link *l,
			  const struct link *hl, const char *want_mac,
			  char *err, size_t errlen)
{
	struct addr_seen as = { .l = l };
	struct route_seen rs = { 0 };
	struct link pl;
	char mac[18], a[64];
	uint32_t i;
	int rc;

	rc = link_get(k, l->pod_if, &pl);
	if (rc == -ENODEV) {
		errf(err, errlen, "%s: no such link in the pod's netns",
		     l->pod_if);
		return -ENOENT;
	} else if (rc < 0) {
		errf(err, errlen, "%s: looking it up in the pod's netns: %s",
		     l->pod_if, strerror(-rc));
		return rc;
	}
	if (!pl.veth) {
		errf(err, errlen, "%s: not a veth", l->pod_if);
		return -EINVAL;
	}
	if (pl.index != hl->peer) {
		errf(err, errlen, "%s: not the peer of %s", l->pod_if,
		     l->host_if);
		return -EINVAL;
	}
	if (!(pl.flags & IFF_UP)) {
		errf(err, errlen, "%s: down", l->pod_if);
		return -ENETDOWN;
	}
	mac_str(pl.mac, mac);
	if (want_mac && strcasecmp(want_mac, mac)) {
		errf(err, errlen, "%s: MAC %s, not %s", l->pod_if, mac,
		     want_mac);
		return -EINVAL;
	}

	as.index = pl.index;
	rc = dump(k, RTM_GETADDR, AF_UNSPEC, pl.index, addr_valid,
		  addr_reset, &as);
	if (rc < 0) {
		errf(err, errlen, "%s: listing addresses: %s", l->pod_if,
		     strerror(-rc));
		return rc;
	}
	for (i = 0; i < l->n_addrs; i++) {
		if (!as.seen[i]) {
			prefix_str(&l->addrs[i], a, sizeof(a));
			errf(err, errlen, "%s: address %s missing", l->pod_if,
			     a);
			return -ENOENT;
		}
	}

	rs.index = pl.index;
	if (has_family(l, STRATA_AF_INET))
		rc = dump(k, RTM_GETROUTE, AF_INET, 0, route_valid,
			  route_reset, &rs);
	if (rc == 0 && has_family(l, STRATA_AF_INET6)) {
		bool link4 = rs.link4, default4 = rs.default4;

		rc = dump(k, RTM_GETROUTE, AF_INET6, 0, route_valid,
			  route_reset, &rs);
		rs.link4 = link4;
		rs.default4 = default4;
	}
	if (rc < 0) {
		errf(err, errlen, "%s: listing routes: %s", l->pod_if,
		     strerror(-rc));
		return rc;
	}
	if (has_family(l, STRATA_AF_INET) && !rs.link4) {
		errf(err, errlen, "%s: no route 169.254.1.1/32 scope link",
		     l->pod_if);
		return -ENOENT;
	}
	if (has_family(l, STRATA_AF_INET) && !rs.default4) {
		errf(err, errlen, "%s: no %s default route via 169.254.1.1",
		     l->pod_if, af_name(AF_INET));
		return -ENOENT;
	}
	if (has_family(l, STRATA_AF_INET6) && !rs.default6) {
		errf(err, errlen, "%s: no %s default route via fe80::1",
		     l->pod_if, af_name(AF_INET6));
		return -ENOENT;
	}
	return 0;
}

int pod_check(const struct pod_link *l, int netns_fd, const char *want_mac,
	      char *err, size_t errlen)
{
	struct nlk host, pod;
	struct link hl;
	int32_t nsid;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	rc = link_check_args(l, err, errlen);
	if (rc < 0)
		return rc;
	rc = nlk_open(&host);
	if (rc < 0) {
		errf(err, errlen, "netlink socket: %s", strerror(-rc));
		return rc;
	}
	rc = link_get(&host, l->host_if, &hl);
	if (rc == -ENODEV) {
		errf(err, errlen, "%s: no such link", l->host_if);
		rc = -ENOENT;
		goto close_host;
	} else if (rc < 0) {
		errf(err, errlen, "%s: looking it up: %s", l->host_if,
		     strerror(-rc));
		goto close_host;
	}
	if (!hl.veth) {
		errf(err, errlen, "%s: not a veth", l->host_if);
		rc = -EINVAL;
		goto close_host;
	}
	rc = nsid_get(&host, netns_fd, &nsid);
	if (rc < 0) {
		errf(err, errlen, "the pod's netns id: %s", strerror(-rc));
		goto close_host;
	}
	if (hl.netnsid < 0 || hl.netnsid != nsid) {
		errf(err, errlen, "%s: its peer is not in the pod's netns",
		     l->host_if);
		rc = -EINVAL;
		goto close_host;
	}
	rc = nlk_open_in(&pod, netns_fd, err, errlen);
	if (rc < 0)
		goto close_host;
	rc = check_pod_side(&pod, l, &hl, want_mac, err, errlen);
	nlk_close(&pod);
close_host:
	nlk_close(&host);
	return rc;
}

/* -- names ------------------------------------------------------------- */

void pod_host_if_name(const char *network, const char *container_id,
		      const char *ifname, char out[POD_IFNAMSIZ])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char small[512], *buf = small;
	size_t n;
	int i;

	out[0] = '\0';
	n = strlen(network) + strlen(container_id) + strlen(ifname) + 3;
	if (n > sizeof(small)) {
		buf = malloc(n);
		if (!buf)
			return;
	}
	n = (size_t)snprintf(buf, n, "%s/%s/%s", network, container_id,
			     ifname);
	if (EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen >= 7) {
		out[0] = 's';
		out[1] = 't';
		for (i = 0; i < 13; i++)
			out[2 + i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
		out[15] = '\0';
	}
	if (buf != small)
		free(buf);
}
