/* SPDX-License-Identifier: Apache-2.0 */
/*
 * advertiser "static": the model's routes as kernel routes on this node.
 *
 * Level-triggered: every reconcile lists the routes strata installed (the
 * host's kroute_* only see and touch strata's own rtproto) and makes the
 * smallest change: add what is missing, replace what differs, and delete
 * what is no longer wanted only when the host says every owner has synced.
 * Nothing is ever flushed. A raw netlink socket on the host's loop notices
 * routes changed by hand in the managed table and asks the host for a
 * resync after `debounce`; the host's periodic resync heals the rest.
 *
 * Only the public plugin ABI is used here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <strata/plugin.h>

#define OWN_RING 256
#define OWN_WINDOW_NS (2000 * 1000000LL)

/* A change we made, so that its echo is ignored: each record matches one
 * event of its kind (RTM_NEWROUTE, RTM_DELROUTE) for its destination. */
struct own {
	int64_t at; /* 0: used */
	uint16_t type;
	uint8_t family; /* STRATA_AF_* */
	uint8_t len;
	uint8_t addr[16];
};

struct st {
	const struct strata_host *h;
	struct strata_instance *inst;
	uint32_t scopes;
	uint32_t table;
	int64_t debounce_ns;

	int fd;
	struct strata_watch *watch;
	struct strata_timer *timer;
	struct own ring[OWN_RING];
	unsigned ring_next;

	/* for status */
	int64_t installed;
	int64_t unwanted; /* kept because deleting was not allowed yet */
	int last_rc;
	int64_t reconciles;
};

static const struct strata_cfg_key static_config[] = {
	{ "scopes", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "scopes to install: \"kernel\" (the default) and/or \"cloud\" "
	  "(a gateway-role node standing in for the cloud's route table)" },
	{ "table", STRATA_CFG_INT, 0, "0", 0, 4294967295LL,
	  "kernel routing table to manage; 0: main" },
	{ "debounce", STRATA_CFG_DURATION, 0, "1s", 0, 60000000000LL,
	  "wait this long after a route is changed by hand before resyncing" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* -- comparing routes -------------------------------------------------- */

static unsigned addr_bytes(uint8_t family)
{
	return family == STRATA_AF_INET ? 4 : 16;
}

/* The kernel stores an IPv6 metric of 0 as 1024. */
static uint32_t eff_metric(const struct strata_route *r)
{
	return r->metric || r->dst.family != STRATA_AF_INET6 ? r->metric : 1024;
}

static int key_cmp(const struct strata_route *a, const struct strata_route *b)
{
	uint32_t ma = eff_metric(a), mb = eff_metric(b);
	int c;

	if (a->dst.family != b->dst.family)
		return a->dst.family < b->dst.family ? -1 : 1;
	c = memcmp(a->dst.addr, b->dst.addr, addr_bytes(a->dst.family));
	if (c)
		return c;
	if (a->dst.len != b->dst.len)
		return a->dst.len < b->dst.len ? -1 : 1;
	if (ma != mb)
		return ma < mb ? -1 : 1;
	return 0;
}

static int key_qcmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

/* A wanted nexthop without a device matches whatever device the kernel
 * resolved its gateway to. */
static bool nh_matches(const struct strata_nexthop *want,
		       const struct strata_nexthop *have, uint8_t family)
{
	uint32_t ww = want->weight ? want->weight : 1;
	uint32_t hw = have->weight ? have->weight : 1;

	if (want->gw.family != have->gw.family || ww != hw)
		return false;
	if (want->gw.family &&
	    memcmp(want->gw.addr, have->gw.addr, addr_bytes(family)))
		return false;
	return !want->ifname[0] ||
	       !strncmp(want->ifname, have->ifname, sizeof(want->ifname));
}

/* Same nexthops, in any order (keys are already equal). */
static bool route_same(const struct strata_route *want,
		       const struct strata_route *have)
{
	bool used[STRATA_MAX_NEXTHOPS] = { false };
	uint32_t i, j;

	if (want->n_nexthops != have->n_nexthops ||
	    want->n_nexthops > STRATA_MAX_NEXTHOPS)
		return false;
	for (i = 0; i < want->n_nexthops; i++) {
		for (j = 0; j < have->n_nexthops; j++) {
			if (!used[j] && nh_matches(&want->nh[i], &have->nh[j],
						   want->dst.family)) {
				used[j] = true;
				break;
			}
		}
		if (j == have->n_nexthops)
			return false;
	}
	return true;
}

/* -- our own changes --------------------------------------------------- */

static void own_record(struct st *s, const struct strata_route *r,
		       uint16_t type)
{
	struct own *o = &s->ring[s->ring_next++ % OWN_RING];

	o->at = s->h->now();
	o->type = type;
	o->family = r->dst.family;
	o->len = r->dst.len;
	memset(o->addr, 0, sizeof(o->addr));
	memcpy(o->addr, r->dst.addr, addr_bytes(r->dst.family));
}

static bool own_echo(struct st *s, uint16_t type, uint8_t family,
		     uint8_t len, const uint8_t *addr)
{
	int64_t now = s->h->now();
	unsigned i;

	for (i = 0; i < OWN_RING; i++) {
		struct own *o = &s->ring[i];

		if (o->at && now - o->at <= OWN_WINDOW_NS && o->type == type &&
		    o->family == family && o->len == len &&
		    !memcmp(o->addr, addr, sizeof(o->addr))) {
			o->at = 0;
			return true;
		}
	}
	return false;
}

/* -- reconcile --------------------------------------------------------- */

struct list {
	struct strata_route *v;
	size_t n, cap;
	int err;
};

static void list_add(void *arg, const struct strata_route *r)
{
	struct list *l = arg;

	if (l->err)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct strata_route *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->err = -ENOMEM;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	memcpy(&l->v[l->n++], r, sizeof(*r));
}

static void note(int rc, int *first)
{
	if (rc < 0 && !*first)
		*first = rc;
}

static void fmt_dst(const struct strata_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6, p->addr, a,
		  sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

static int change(struct st *s, const struct strata_route *r, bool del,
		  const char *what, const char *metric, int *first)
{
	int rc = del ? s->h->kroute_delete(s->inst, r)
		     : s->h->kroute_replace(s->inst, r);
	char dst[INET6_ADDRSTRLEN + 4];

	if (rc < 0) {
		fmt_dst(&r->dst, dst, sizeof(dst));
		s->h->log(s->inst, STRATA_LOG_WARNING, "cannot %s %s: %s",
			  what, dst, strerror(-rc));
		note(rc, first);
		return rc;
	}
	own_record(s, r, del ? RTM_DELROUTE : RTM_NEWROUTE);
	s->h->metric_add(s->inst, metric, 1);
	return 0;
}

static int static_reconcile(void *self,
			    const struct strata_route *const *desired,
			    size_t n, uint32_t flags)
{
	struct st *s = self;
	struct list want = { 0 }, have = { 0 };
	size_t i, j, k, skipped = 0;
	int64_t installed, unwanted = 0;
	int first = 0, rc;

	/* What we want, in our table, one route per kernel key. */
	want.v = malloc((n ? n : 1) * sizeof(*want.v));
	if (!want.v) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct strata_route *r = desired[i];

		if (!(r->scope & s->scopes))
			continue;
		if (r->table && r->table != RT_TABLE_MAIN &&
		    r->table != s->table) {
			skipped++;
			continue;
		}
		memcpy(&want.v[want.n], r, sizeof(*r));
		want.v[want.n].size = sizeof(struct strata_route);
		want.v[want.n].table = s->table;
		want.n++;
	}
	qsort(want.v, want.n, sizeof(*want.v), key_qcmp);
	for (i = 0, k = 0; i < want.n; i++)
		if (!k || key_cmp(&want.v[k - 1], &want.v[i]))
			want.v[k++] = want.v[i];
	skipped += want.n - k;
	want.n = k;
	if (skipped)
		s->h->log(s->inst, STRATA_LOG_DEBUG,
			  "%zu routes not for table %" PRIu32 " or duplicate "
			  "keys, left out", skipped, s->table);

	/* What is there. */
	rc = s->h->kroute_list(s->inst, 0, s->table, list_add, &have);
	if (rc == 0)
		rc = have.err;
	if (rc < 0) {
		s->h->log(s->inst, STRATA_LOG_WARNING,
			  "cannot list kernel routes: %s", strerror(-rc));
		goto out;
	}
	if (have.n)
		qsort(have.v, have.n, sizeof(*have.v), key_qcmp);

	installed = (int64_t)have.n;
	for (i = 0, j = 0; i < want.n || j < have.n;) {
		int c = i == want.n   ? 1
			: j == have.n ? -1
				      : key_cmp(&want.v[i], &have.v[j]);

		if (c < 0) {
			if (!change(s, &want.v[i], false, "add",
				    "routes_added", &first))
				installed++;
			i++;
		} else if (c > 0) {
			if (!(flags & STRATA_RECONCILE_MAY_DELETE))
				unwanted++;
			else if (!change(s, &have.v[j], true, "delete",
					 "routes_deleted", &first))
				installed--;
			else
				unwanted++;
			j++;
		} else {
			if (!route_same(&want.v[i], &have.v[j]))
				change(s, &want.v[i], false, "replace",
				       "routes_replaced", &first);
			i++;
			j++;
		}
	}
	rc = first;
	s->installed = installed;
	s->unwanted = unwanted;
out:
	if (rc < 0)
		s->h->metric_add(s->inst, "reconcile_errors", 1);
	s->h->metric_set(s->inst, "routes_installed", s->installed);
	s->last_rc = rc;
	s->reconciles++;
	free(want.v);
	free(have.v);
	return rc;
}

static uint32_t static_scopes(void *self)
{
	struct st *s = self;

	return s->scopes;
}

/* The kernel's view, not a memory of it. */
static int static_installed(void *self, strata_route_cb cb, void *arg)
{
	struct st *s = self;

	return s->h->kroute_list(s->inst, 0, s->table, cb, arg);
}

/* -- routes changed by hand -------------------------------------------- */

static void watch_fire(void *arg)
{
	struct st *s = arg;

	s->h->timer_stop(s->inst, s->timer);
	s->timer = NULL;
	s->h->route_resync(s->inst);
}

/* Does this route message concern us: our table, not our own echo? */
static bool event_counts(struct st *s, struct nlmsghdr *h)
{
	struct rtmsg *rtm = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rtm));
	uint32_t table = rtm->rtm_table;
	uint8_t addr[16] = { 0 };
	struct rtattr *a;

	if (len < 0 || (rtm->rtm_flags & RTM_F_CLONED) ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return false;
	for (a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= 4)
			memcpy(&table, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) <= 16)
			memcpy(addr, RTA_DATA(a), RTA_PAYLOAD(a));
	}
	if (table != (s->table ? s->table : RT_TABLE_MAIN))
		return false;
	return !own_echo(s, h->nlmsg_type,
			 rtm->rtm_family == AF_INET ? STRATA_AF_INET
						    : STRATA_AF_INET6,
			 rtm->rtm_dst_len, addr);
}

static void watch_read(void *arg, int fd, uint32_t events)
{
	struct st *s = arg;
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool hit = false;
	int round;

	for (round = 0; round < 64; round++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct nlmsghdr *h;
		int len;

		if (n < 0) {
			/* ENOBUFS: events were lost, so resync */
			if (errno == ENOBUFS)
				hit = true;
			break;
		}
		len = (int)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if ((h->nlmsg_type == RTM_NEWROUTE ||
			     h->nlmsg_type == RTM_DELROUTE) &&
			    event_counts(s, h))
				hit = true;
		}
	}
	if (hit && !s->timer) {
		s->timer = s->h->timer_start(s->inst, s->debounce_ns, 0,
					     watch_fire, s);
		if (!s->timer)
			s->h->route_resync(s->inst);
	}
}

static int watch_open(struct st *s)
{
	struct sockaddr_nl sa;
	int fd, size = 1 << 20;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	s->watch = s->h->fd_watch(s->inst, fd, STRATA_FD_IN, watch_read, s);
	if (!s->watch) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	return 0;
}

static void watch_close(struct st *s)
{
	if (s->timer)
		s->h->timer_stop(s->inst, s->timer);
	s->timer = NULL;
	if (s->watch)
		s->h->fd_unwatch(s->inst, s->watch);
	s->watch = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* -- lifecycle --------------------------------------------------------- */

static int read_config(struct st *s)
{
	const struct strata_host *h = s->h;
	int64_t table = 0, debounce = 1000000000LL;
	int i, n, rc;

	s->scopes = 0;
	n = h->cfg_strings_count(s->inst, "scopes");
	for (i = 0; i < n; i++) {
		const char *name = h->cfg_strings_at(s->inst, "scopes",
						     (uint32_t)i);

		if (name && !strcmp(name, "kernel")) {
			s->scopes |= STRATA_SCOPE_KERNEL;
		} else if (name && !strcmp(name, "cloud")) {
			s->scopes |= STRATA_SCOPE_CLOUD;
		} else {
			h->log(s->inst, STRATA_LOG_ERR,
			       "scopes: \"%s\" is not kernel or cloud",
			       name ? name : "");
			return -EINVAL;
		}
	}
	if (!s->scopes)
		s->scopes = STRATA_SCOPE_KERNEL;

	rc = h->cfg_int(s->inst, "table", &table);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (table < 0 || table > 4294967295LL || table == RT_TABLE_LOCAL) {
		h->log(s->inst, STRATA_LOG_ERR,
		       "table: %" PRId64 " is not a table strata may manage",
		       table);
		return -EINVAL;
	}
	s->table = table == RT_TABLE_MAIN ? 0 : (uint32_t)table;

	rc = h->cfg_duration(s->inst, "debounce", &debounce);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	s->debounce_ns = debounce < 0 ? 0 : debounce;
	return 0;
}

static int static_create(const struct strata_host *host,
			 struct strata_instance *inst, void **self)
{
	struct st *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->h = host;
	s->inst = inst;
	s->fd = -1;
	rc = read_config(s);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*self = s;
	return 0;
}

static int static_start(void *self)
{
	struct st *s = self;
	int rc = watch_open(s);

	/* Without the watch the periodic resync still heals. */
	if (rc < 0)
		s->h->log(s->inst, STRATA_LOG_WARNING,
			  "cannot watch kernel route events: %s",
			  strerror(-rc));
	return 0;
}

/* Only the watch's timing can change in place; scopes and table are the
 * host's business (scopes) or would strand installed routes (table). */
static int static_reconfigure(void *self)
{
	struct st *s = self;
	struct st next = *s;

	if (read_config(&next) < 0)
		return STRATA_RECONF_RESTART;
	if (next.scopes != s->scopes || next.table != s->table)
		return STRATA_RECONF_RESTART;
	s->debounce_ns = next.debounce_ns;
	return 0;
}

static int static_stop(void *self)
{
	watch_close(self);
	return 0;
}

static void static_destroy(void *self)
{
	struct st *s = self;

	watch_close(s);
	free(s);
}

static void static_status(void *self, struct strata_status *st)
{
	struct st *s = self;

	s->h->status_int(st, "table", s->table);
	s->h->status_int(st, "installed", s->installed);
	s->h->status_int(st, "unwanted", s->unwanted);
	s->h->status_int(st, "reconciles", s->reconciles);
	s->h->status_str(st, "last_reconcile",
			 !s->reconciles ? "none"
			 : s->last_rc  ? strerror(-s->last_rc)
				       : "ok");
}

static const struct strata_plugin_ops static_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = static_create,
	.start = static_start,
	.reconfigure = static_reconfigure,
	.stop = static_stop,
	.destroy = static_destroy,
	.status = static_status,
};

static const struct strata_advertiser_ops static_adv_ops = {
	.size = sizeof(struct strata_advertiser_ops),
	.scopes = static_scopes,
	.reconcile = static_reconcile,
	.installed = static_installed,
};

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "static", STRATA_VERSION,
	      "kernel routes for the route model, via the host's netlink",
	      static_config, &static_ops, &static_adv_ops);
