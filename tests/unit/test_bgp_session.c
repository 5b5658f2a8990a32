/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BGP session against an in-test peer on a loopback TCP socket that
 * speaks through the codec (msg.c), on the mock host's loop.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <strata/plugin.h>

#include "loop.h"
#include "mock_host.h"
#include "msg.h"
#include "session.h"

STRATA_PLUGIN_DECL_

#define MS 1000000LL

struct peer {
	int lfd, fd;
	uint16_t port;
	uint8_t buf[2 * BGP_MAX_MSG_EXT];
	bool ext;      /* offers extended messages (RFC 8654) */
	bool paused;   /* reads nothing */
	bool eof;      /* the session closed after its last message */
	size_t longest; /* UPDATE received */
	size_t len;
	uint16_t hold; /* proposed in its OPEN */
	bool silent;   /* no keepalives */
	bool close_on_accept;
	int64_t last_ka;
	unsigned accepts;
	int64_t accept_at[8];
	unsigned opens, keepalives, updates, notifications, eors;
	uint8_t notify_code, notify_sub;
	struct bgp_open open;
	uint64_t announced, withdrawn;
	bool closed;
};

struct fx {
	struct mock_host *mh;
	const struct strata_host *h;
	struct bgp_session *s;
	struct peer p;
};

static void peer_listen(struct peer *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->hold = 9;
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(p->lfd, 0);
	setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(p->lfd, 4), 0);
	getsockname(p->lfd, (struct sockaddr *)&sa, &sl);
	p->port = ntohs(sa.sin_port);
}

static void peer_send(struct peer *p, const uint8_t *m, size_t len)
{
	size_t off = 0;
	ssize_t w;
	int i;

	for (i = 0; off < len && i < 1000; i++) {
		w = send(p->fd, m + off, len - off, MSG_NOSIGNAL);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			return;
		else
			usleep(1000);
	}
}

static void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->len = 0;
}

static void peer_handle(struct peer *p, uint8_t type, const uint8_t *m,
			size_t len)
{
	uint8_t out[BGP_MAX_MSG];
	struct bgp_notify err;
	struct bgp_update_info ui;
	struct bgp_neg neg = { .as4 = true, .ext_msg = p->ext };
	int n;

	switch (type) {
	case BGP_OPEN: {
		struct bgp_open o = {
			.as = 65000, .hold = p->hold, .id = 0x0a000001,
			.families = BGP_FAM_IPV4 | BGP_FAM_IPV6,
			.route_refresh = true, .as4 = true, .ext_msg = p->ext,
		};

		ck_assert_int_eq(bgp_decode_open(m, len, &p->open, &err), 0);
		p->opens++;
		n = bgp_encode_open(out, sizeof(out), &o);
		peer_send(p, out, (size_t)n);
		n = bgp_encode_keepalive(out, sizeof(out));
		peer_send(p, out, (size_t)n);
		break;
	}
	case BGP_KEEPALIVE:
		p->keepalives++;
		break;
	case BGP_UPDATE:
		ck_assert_int_eq(bgp_decode_update(m, len, &neg, &ui), 0);
		p->updates++;
		if (len > p->longest)
			p->longest = len;
		if (ui.verdict == BGP_VERDICT_EOR)
			p->eors++;
		p->announced += ui.announced[0] + ui.announced[1];
		p->withdrawn += ui.withdrawn[0] + ui.withdrawn[1];
		break;
	case BGP_NOTIFICATION:
		p->notifications++;
		p->notify_code = m[19];
		p->notify_sub = m[20];
		break;
	default:
		break;
	}
}

static void peer_poll(struct peer *p)
{
	struct bgp_notify err;
	uint8_t type, ka[BGP_LEN_KEEPALIVE];
	size_t msglen, off;
	ssize_t r;
	int n, fd, i;

	if (p->paused)
		return;
	if (p->fd < 0) {
		fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (p->accepts < 8)
			p->accept_at[p->accepts] = loop_now();
		p->accepts++;
		if (p->close_on_accept) {
			close(fd);
			return;
		}
		p->fd = fd;
		p->closed = false;
		p->last_ka = loop_now();
	}
	for (i = 0; i < 64; i++) {
		r = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
		if (r == 0) {
			p->eof = p->len == 0;
			p->closed = true;
			peer_close(p);
			return;
		}
		if (r < 0)
			break;
		p->len += (size_t)r;
		off = 0;
		while ((n = bgp_frame(p->buf + off, p->len - off,
				      p->ext ? BGP_MAX_MSG_EXT : BGP_MAX_MSG,
				      &type, &msglen, &err)) > 0) {
			peer_handle(p, type, p->buf + off, msglen);
			off += msglen;
		}
		ck_assert_int_ge(n, 0);
		memmove(p->buf, p->buf + off, p->len - off);
		p->len -= off;
	}
	if (!p->silent && p->opens && loop_now() - p->last_ka > 500 * MS) {
		n = bgp_encode_keepalive(ka, sizeof(ka));
		peer_send(p, ka, (size_t)n);
		p->last_ka = loop_now();
	}
}

static bool run_until(struct fx *f, bool (*done)(struct fx *f), int64_t ns)
{
	int64_t end = loop_now() + ns;

	while (loop_now() < end) {
		loop_run_once(mock_host_loop(f->mh), 5);
		peer_poll(&f->p);
		if (done && done(f))
			return true;
	}
	return false;
}

static struct strata_prefix pfx4(uint8_t a, uint8_t b, uint8_t c, uint8_t len)
{
	struct strata_prefix p = { .family = STRATA_AF_INET, .len = len };

	p.addr[0] = a;
	p.addr[1] = b;
	p.addr[2] = c;
	return p;
}

static struct bgp_session_cfg base_cfg(const struct peer *p)
{
	struct bgp_session_cfg c = {
		.peer = { .family = STRATA_AF_INET, .addr = { 127, 0, 0, 1 } },
		.port = p->port,
		.local_as = 65001,
		.peer_as = 65000,
		.router_id = 0xc0000202,
		.hold = 9,
		.gr_time = 5,
		.families = BGP_FAM_IPV4 | BGP_FAM_IPV6,
		.retry_min_ns = 200 * MS,
		.retry_max_ns = 2000 * MS,
		.connect_timeout_ns = 1000 * MS,
		.seed = 42,
	};
	return c;
}

static const uint32_t comms[] = { (65001u << 16) | 100 };
/* set by a test before fx_init */
static uint32_t max_prefixes;
static uint16_t max_msg;

static void fx_init(struct fx *f, bool restarting)
{
	struct bgp_session_cfg c;
	struct bgp_session_attrs a = {
		.nexthop4 = { .family = STRATA_AF_INET,
			      .addr = { 192, 0, 2, 2 } },
		.nexthop6 = { .family = STRATA_AF_INET6,
			      .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } },
		.communities = comms,
		.n_communities = 1,
	};

	f->mh = mock_host_new();
	ck_assert_ptr_nonnull(f->mh);
	f->h = mock_host_table(f->mh);
	peer_listen(&f->p);
	c = base_cfg(&f->p);
	c.gr_restarting = restarting;
	c.max_prefixes = max_prefixes;
	c.max_msg = max_msg;
	f->s = bgp_session_new(f->h, mock_instance(f->mh), &c);
	ck_assert_ptr_nonnull(f->s);
	ck_assert_int_eq(bgp_session_set_attrs(f->s, &a), 0);
}

static void fx_fini(struct fx *f)
{
	bgp_session_free(f->s);
	peer_close(&f->p);
	close(f->p.lfd);
	mock_host_free(f->mh);
}

static enum bgp_state state(struct fx *f)
{
	struct bgp_session_info i;

	bgp_session_info(f->s, &i);
	return i.state;
}

static bool is_up(struct fx *f)
{
	return state(f) == BGP_ST_ESTABLISHED;
}

static uint64_t want_ann, want_wd;
static unsigned want_eors;

static bool got_counts(struct fx *f)
{
	return f->p.announced >= want_ann && f->p.withdrawn >= want_wd &&
	       f->p.eors >= want_eors;
}

START_TEST(test_up_and_announce)
{
	struct fx f;
	struct strata_prefix set[3] = { pfx4(10, 244, 1, 24),
					pfx4(10, 244, 2, 24),
					pfx4(10, 244, 3, 24) };
	struct bgp_session_info info;

	fx_init(&f, true);
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, set, 3),
			 0);
	/* unsorted input is refused */
	struct strata_prefix bad[2] = { set[1], set[0] };
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, bad, 2),
			 -EINVAL);
	ck_assert_int_eq(bgp_session_start(f.s), 0);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	/* the OPEN carried what the codec negotiates */
	ck_assert(f.p.open.as4);
	ck_assert_uint_eq(f.p.open.as, 65001);
	ck_assert(f.p.open.gr);
	ck_assert(f.p.open.gr_restarting);
	ck_assert_uint_eq(f.p.open.gr_time, 5);
	ck_assert_uint_eq(f.p.open.families, BGP_FAM_IPV4 | BGP_FAM_IPV6);
	ck_assert(f.p.open.route_refresh);

	want_ann = 3;
	want_wd = 0;
	want_eors = 0;
	ck_assert(run_until(&f, got_counts, 2000 * MS));
	/* no End-of-RIB and no withdrawal before the barrier */
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, set, 2),
			 0);
	mock_host_run(f.mh, 0);
	run_until(&f, got_counts, 200 * MS);
	ck_assert_uint_eq(f.p.eors, 0);
	ck_assert_uint_eq(f.p.withdrawn, 0);

	bgp_session_may_delete(f.s);
	want_wd = 1;
	want_eors = 2;
	ck_assert(run_until(&f, got_counts, 2000 * MS));
	ck_assert_uint_eq(f.p.announced, 3);
	ck_assert_uint_eq(f.p.withdrawn, 1);
	/* one per negotiated family, IPv6 empty */
	ck_assert_uint_eq(f.p.eors, 2);

	bgp_session_info(f.s, &info);
	ck_assert_int_eq(info.state, BGP_ST_ESTABLISHED);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], 2);
	ck_assert_uint_eq(info.hold, 9);
	ck_assert(info.as4);
	ck_assert(!info.ibgp);
	ck_assert_str_eq(info.last_error, "");
	fx_fini(&f);
}
END_TEST

START_TEST(test_incremental)
{
	struct fx f;
	struct strata_prefix a[3] = { pfx4(10, 1, 0, 24), pfx4(10, 2, 0, 24),
				      pfx4(10, 3, 0, 24) };
	struct strata_prefix b[4] = { pfx4(10, 1, 0, 24), pfx4(10, 3, 0, 24),
				      pfx4(10, 4, 0, 24), pfx4(10, 5, 0, 24) };
	struct bgp_session_info info;

	fx_init(&f, false);
	bgp_session_may_delete(f.s);
	bgp_session_set_prefixes(f.s, STRATA_AF_INET, a, 3);
	bgp_session_start(f.s);
	want_ann = 3;
	want_wd = 0;
	want_eors = 2;
	ck_assert(run_until(&f, got_counts, 3000 * MS));
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, b, 4),
			 0);
	want_ann = 5;
	want_wd = 1;
	ck_assert(run_until(&f, got_counts, 2000 * MS));
	run_until(&f, got_counts, 100 * MS);
	/* only the difference went out */
	ck_assert_uint_eq(f.p.announced, 5);
	ck_assert_uint_eq(f.p.withdrawn, 1);
	ck_assert_uint_eq(f.p.eors, 2);
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], 4);
	ck_assert_uint_eq(info.pending, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_ipv6)
{
	struct fx f;
	struct strata_prefix v6[2] = {
		{ .family = STRATA_AF_INET6, .len = 64,
		  .addr = { 0xfd, 0, 2, 0x44, 0, 1 } },
		{ .family = STRATA_AF_INET6, .len = 64,
		  .addr = { 0xfd, 0, 2, 0x44, 0, 2 } },
	};
	struct bgp_session_info info;

	fx_init(&f, false);
	bgp_session_may_delete(f.s);
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET6, v6, 2),
			 0);
	/* the wrong family for the set is refused */
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, v6, 2),
			 -EINVAL);
	bgp_session_start(f.s);
	want_ann = 2;
	want_wd = 0;
	want_eors = 2;
	ck_assert(run_until(&f, got_counts, 3000 * MS));
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET6, v6, 1),
			 0);
	want_wd = 1;
	ck_assert(run_until(&f, got_counts, 2000 * MS));
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.announced[BGP_IDX_V6], 1);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], 0);
	ck_assert_uint_eq(info.families, BGP_FAM_IPV4 | BGP_FAM_IPV6);
	fx_fini(&f);
}
END_TEST

static bool is_idle_with_notify(struct fx *f)
{
	return state(f) == BGP_ST_IDLE && f->p.notifications > 0;
}

START_TEST(test_hold_expiry)
{
	struct fx f;
	struct bgp_session_info info;

	fx_init(&f, false);
	f.p.hold = 3;
	f.p.silent = true;
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.hold, 3);
	/* keepalives from the session every second */
	ck_assert(run_until(&f, is_idle_with_notify, 5000 * MS));
	ck_assert_uint_eq(f.p.notify_code, BGP_ERR_HOLD);
	ck_assert_uint_ge(f.p.keepalives, 2);
	bgp_session_info(f.s, &info);
	ck_assert_ptr_nonnull(strstr(info.last_error, "hold timer"));
	fx_fini(&f);
}
END_TEST

START_TEST(test_malformed_update)
{
	struct fx f;
	struct bgp_session_info info;
	/* total path attribute length runs past the message */
	uint8_t m[BGP_MIN_UPDATE + 4];

	fx_init(&f, false);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	memset(m, 0xff, BGP_MARKER_LEN);
	m[16] = 0;
	m[17] = sizeof(m);
	m[18] = BGP_UPDATE;
	m[19] = 0;
	m[20] = 0;
	m[21] = 0;
	m[22] = 40;
	memset(m + 23, 0, 4);
	peer_send(&f.p, m, sizeof(m));
	ck_assert(run_until(&f, is_idle_with_notify, 2000 * MS));
	ck_assert_uint_eq(f.p.notify_code, BGP_ERR_UPDATE);
	bgp_session_info(f.s, &info);
	ck_assert_ptr_nonnull(strstr(info.last_error, "UPDATE"));
	ck_assert_uint_eq(info.resets, 1);
	/* and it comes back */
	ck_assert(run_until(&f, is_up, 3000 * MS));
	ck_assert_uint_eq(f.p.opens, 2);
	ck_assert(!f.p.open.gr_restarting);
	fx_fini(&f);
}
END_TEST

static bool three_accepts(struct fx *f)
{
	return f->p.accepts >= 3;
}

START_TEST(test_reconnect_backoff)
{
	struct fx f;
	int64_t g1, g2;

	fx_init(&f, false);
	f.p.close_on_accept = true;
	bgp_session_start(f.s);
	ck_assert(run_until(&f, three_accepts, 5000 * MS));
	g1 = f.p.accept_at[1] - f.p.accept_at[0];
	g2 = f.p.accept_at[2] - f.p.accept_at[1];
	/* 200 ms then 400 ms, each less up to a quarter of jitter */
	ck_assert_int_ge(g1, 140 * MS);
	ck_assert_int_ge(g2, 290 * MS);
	ck_assert_int_gt(g2, g1);
	fx_fini(&f);
}
END_TEST

static int64_t ticks;

static void tick_cb(void *arg)
{
	(void)arg;
	ticks++;
}

START_TEST(test_lazy_bulk)
{
	struct fx f;
	size_t n = 50000, i;
	struct strata_prefix *set = calloc(n, sizeof(*set));
	struct bgp_session_info info;
	struct strata_timer *t;

	ck_assert_ptr_nonnull(set);
	for (i = 0; i < n; i++)
		set[i] = pfx4(11, (uint8_t)(i >> 8), (uint8_t)i, 24);
	set[0] = pfx4(10, 0, 0, 24); /* keep the order strictly rising */
	fx_init(&f, false);
	bgp_session_may_delete(f.s);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	ticks = 0;
	t = f.h->timer_start(mock_instance(f.mh), MS, MS, tick_cb, NULL);
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, set, n),
			 0);
	/* set_prefixes only planned: the work happens on the loop */
	ck_assert_uint_eq(f.p.announced, 0);
	want_ann = n;
	want_wd = 0;
	want_eors = 1;
	ck_assert(run_until(&f, got_counts, 20000 * MS));
	ck_assert_uint_eq(f.p.announced, n);
	/* > 1 message per ~1000 prefixes: bounded by 4096 bytes */
	ck_assert_uint_ge(f.p.updates, n / 1020);
	/* the loop kept running other timers meanwhile */
	ck_assert_int_gt(ticks, 0);
	/* all sent: the announced and desired sets share one copy */
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], n);
	ck_assert_uint_eq(info.rib_bytes, n * sizeof(*set));
	/* one prefix less: a copy while the withdrawal is pending, then
	 * one again */
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, set,
						  n - 1), 0);
	want_wd = 1;
	ck_assert(run_until(&f, got_counts, 2000 * MS));
	mock_host_run(f.mh, 0);
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], n - 1);
	ck_assert_uint_eq(info.rib_bytes, (n - 1) * sizeof(*set));
	f.h->timer_stop(mock_instance(f.mh), t);
	free(set);
	fx_fini(&f);
}
END_TEST

static bool peer_closed(struct fx *f)
{
	return f->p.closed;
}

static bool idle(struct fx *f)
{
	return state(f) == BGP_ST_IDLE && f->p.closed;
}

START_TEST(test_stop)
{
	struct fx f;

	/* graceful: closed without a NOTIFICATION */
	fx_init(&f, false);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	bgp_session_stop(f.s, true, NULL);
	ck_assert(run_until(&f, idle, 2000 * MS));
	ck_assert_uint_eq(f.p.notifications, 0);
	/* and it stays down */
	run_until(&f, three_accepts, 500 * MS);
	ck_assert_uint_eq(f.p.accepts, 1);

	/* administrative: Cease 6/2 */
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	bgp_session_stop(f.s, false, "maintenance");
	ck_assert(run_until(&f, idle, 2000 * MS));
	ck_assert_uint_eq(f.p.notifications, 1);
	ck_assert_uint_eq(f.p.notify_code, BGP_ERR_CEASE);
	ck_assert_uint_eq(f.p.notify_sub, BGP_CEASE_ADMIN_SHUTDOWN);
	fx_fini(&f);
}
END_TEST

static struct strata_route broute(struct strata_prefix dst, uint32_t scope)
{
	struct strata_route r = {
		.size = sizeof(r), .scope = scope, .dst = dst,
	};
	return r;
}

static bool plugin_done(struct fx *f)
{
	return f->p.announced >= 2 && f->p.eors >= 1;
}

/* before the barrier: no End-of-RIB */
static bool plugin_done_noeor(struct fx *f)
{
	return f->p.announced >= 2;
}

/* The plugin: config, reconcile of BGP-scope routes only, status. */
START_TEST(test_plugin)
{
	struct fx f;
	const struct strata_plugin *pl = &STRATA_PLUGIN_ENTRY;
	const struct strata_advertiser_ops *adv = pl->kind_ops;
	char peer[32], port[48];
	const char *peers[1] = { peer }, *ports[1] = { port };
	const char *comm[1] = { "65001:100" };
	struct strata_route r[3];
	const struct strata_route *rp[3] = { &r[0], &r[1], &r[2] };
	const char *v;
	int64_t n;
	void *self;

	memset(&f, 0, sizeof(f));
	f.mh = mock_host_new();
	f.h = mock_host_table(f.mh);
	peer_listen(&f.p);
	snprintf(peer, sizeof(peer), "127.0.0.1 65000");
	snprintf(port, sizeof(port), "127.0.0.1 %u", f.p.port);
	ck_assert_str_eq(pl->name, "bgp");
	ck_assert_int_eq(mock_host_set_schema(f.mh, pl->config), 0);
	mock_host_set_cfg_int(f.mh, "local_as", 65001);
	mock_host_set_cfg_strings(f.mh, "peers", peers, 1);
	mock_host_set_cfg_strings(f.mh, "ports", ports, 1);
	mock_host_set_cfg_strings(f.mh, "communities", comm, 1);
	mock_host_set_fact(f.mh, "address", "192.0.2.2");
	ck_assert_int_eq(pl->ops->create(f.h, mock_instance(f.mh), &self), 0);
	ck_assert_uint_eq(adv->scopes(self), STRATA_SCOPE_BGP);
	r[0] = broute(pfx4(10, 244, 2, 24), STRATA_SCOPE_BGP);
	r[1] = broute(pfx4(10, 244, 1, 24), STRATA_SCOPE_BGP);
	r[2] = broute(pfx4(10, 9, 9, 24), STRATA_SCOPE_KERNEL);
	ck_assert_int_eq(adv->reconcile(self, rp, 3,
					 STRATA_RECONCILE_MAY_DELETE), 0);
	ck_assert_int_eq(pl->ops->start(self), 0);
	ck_assert(run_until(&f, plugin_done, 3000 * MS));
	run_until(&f, plugin_done, 100 * MS);
	ck_assert_uint_eq(f.p.announced, 2); /* not the kernel-scope one */
	ck_assert_uint_eq(f.p.open.as, 65001);
	ck_assert_uint_eq(f.p.open.gr_time, 120);

	pl->ops->status(self, mock_host_status(f.mh));
	v = mock_host_status_str(f.mh, "peer 127.0.0.1 state");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "Established");
	ck_assert_int_eq(mock_host_status_int(f.mh, "peer 127.0.0.1 prefixes",
					      &n), 0);
	ck_assert_int_eq(n, 2);
	v = mock_host_status_str(f.mh, "peer 127.0.0.1 capabilities");
	ck_assert_ptr_nonnull(strstr(v, "as4"));

	/* stop: no Cease, so the peer keeps the routes */
	ck_assert_int_eq(pl->ops->stop(self), 0);
	ck_assert(run_until(&f, peer_closed, 2000 * MS));
	ck_assert_uint_eq(f.p.notifications, 0);
	ck_assert_uint_eq(f.p.withdrawn, 0);
	pl->ops->destroy(self);
	peer_close(&f.p);
	close(f.p.lfd);
	mock_host_free(f.mh);
}
END_TEST

static bool peer_connected(struct fx *f)
{
	return f->p.fd >= 0;
}

/* Started before the first reconcile, the plugin connects only once it
 * has the table, so the session comes up with all of it to send. */
START_TEST(test_plugin_waits_for_table)
{
	struct fx f;
	const struct strata_plugin *pl = &STRATA_PLUGIN_ENTRY;
	const struct strata_advertiser_ops *adv = pl->kind_ops;
	char port[48];
	const char *peers[1] = { "127.0.0.1 65000" }, *ports[1] = { port };
	struct strata_route r[2];
	const struct strata_route *rp[2] = { &r[0], &r[1] };
	void *self;

	memset(&f, 0, sizeof(f));
	f.mh = mock_host_new();
	f.h = mock_host_table(f.mh);
	peer_listen(&f.p);
	snprintf(port, sizeof(port), "127.0.0.1 %u", f.p.port);
	ck_assert_int_eq(mock_host_set_schema(f.mh, pl->config), 0);
	mock_host_set_cfg_int(f.mh, "local_as", 65001);
	mock_host_set_cfg_strings(f.mh, "peers", peers, 1);
	mock_host_set_cfg_strings(f.mh, "ports", ports, 1);
	mock_host_set_fact(f.mh, "address", "192.0.2.2");
	ck_assert_int_eq(pl->ops->create(f.h, mock_instance(f.mh), &self), 0);
	ck_assert_int_eq(pl->ops->start(self), 0);
	ck_assert(!run_until(&f, peer_connected, 300 * MS));
	ck_assert_uint_eq(f.p.opens, 0);

	r[0] = broute(pfx4(10, 244, 2, 24), STRATA_SCOPE_BGP);
	r[1] = broute(pfx4(10, 244, 1, 24), STRATA_SCOPE_BGP);
	ck_assert_int_eq(adv->reconcile(self, rp, 2, 0), 0);
	ck_assert(run_until(&f, peer_connected, 2000 * MS));
	ck_assert(run_until(&f, plugin_done_noeor, 3000 * MS));
	ck_assert_uint_eq(f.p.announced, 2);
	ck_assert_uint_eq(f.p.opens, 1);

	ck_assert_int_eq(pl->ops->stop(self), 0);
	ck_assert(run_until(&f, peer_closed, 2000 * MS));
	pl->ops->destroy(self);
	peer_close(&f.p);
	close(f.p.lfd);
	mock_host_free(f.mh);
}
END_TEST

static struct strata_prefix pfx6(uint8_t a)
{
	struct strata_prefix p = { .family = STRATA_AF_INET6, .len = 64,
				   .addr = { 0xfd, 0, 2, 0x44, 0, a } };
	return p;
}

/* At most max_prefixes go out, the first in bgp_prefix_cmp order. */
START_TEST(test_max_prefixes)
{
	struct fx f;
	struct strata_prefix v4[5], v6[2] = { pfx6(1), pfx6(2) };
	struct bgp_session_info info;
	unsigned i, warnings;

	for (i = 0; i < 5; i++)
		v4[i] = pfx4(10, 244, (uint8_t)i, 24);
	max_prefixes = 3;
	max_msg = 0;
	fx_init(&f, false);
	max_prefixes = 0;
	bgp_session_may_delete(f.s);
	bgp_session_set_prefixes(f.s, STRATA_AF_INET, v4, 5);
	bgp_session_set_prefixes(f.s, STRATA_AF_INET6, v6, 2);
	bgp_session_start(f.s);
	want_ann = 3;
	want_wd = 0;
	want_eors = 2;
	ck_assert(run_until(&f, got_counts, 3000 * MS));
	run_until(&f, got_counts, 200 * MS);
	ck_assert_uint_eq(f.p.announced, 3);
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], 3);
	ck_assert_uint_eq(info.announced[BGP_IDX_V6], 0);
	ck_assert_uint_eq(info.withheld, 4);
	ck_assert_ptr_nonnull(strstr(info.last_error, "max_prefixes 3"));
	ck_assert_ptr_nonnull(strstr(info.last_error, "3 of 7"));
	warnings = mock_host_log_count(f.mh, STRATA_LOG_WARNING);
	ck_assert_uint_eq(warnings, 1); /* once, not per message */

	/* two IPv4 prefixes fewer: both IPv6 ones fit now */
	bgp_session_set_prefixes(f.s, STRATA_AF_INET, v4, 1);
	want_ann = 5;
	want_wd = 2;
	ck_assert(run_until(&f, got_counts, 2000 * MS));
	run_until(&f, got_counts, 200 * MS);
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], 1);
	ck_assert_uint_eq(info.announced[BGP_IDX_V6], 2);
	ck_assert_uint_eq(info.withheld, 0);
	ck_assert_str_eq(info.last_error, "");
	ck_assert_uint_eq(f.p.announced, 5);
	ck_assert_uint_eq(f.p.withdrawn, 2);
	fx_fini(&f);
}
END_TEST

/* Before the barrier nothing is withdrawn, so a changed set may not push
 * the peer over the limit either. */
START_TEST(test_max_prefixes_before_barrier)
{
	struct fx f;
	struct strata_prefix a[2] = { pfx4(10, 1, 0, 24), pfx4(10, 2, 0, 24) };
	struct strata_prefix b[2] = { pfx4(10, 0, 0, 24), pfx4(10, 3, 0, 24) };
	struct bgp_session_info info;

	max_prefixes = 2;
	max_msg = 0;
	fx_init(&f, false);
	max_prefixes = 0;
	bgp_session_set_prefixes(f.s, STRATA_AF_INET, a, 2);
	bgp_session_start(f.s);
	want_ann = 2;
	want_wd = 0;
	want_eors = 0;
	ck_assert(run_until(&f, got_counts, 3000 * MS));
	bgp_session_set_prefixes(f.s, STRATA_AF_INET, b, 2);
	run_until(&f, got_counts, 300 * MS);
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(f.p.announced, 2);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], 2);
	/* the barrier: the old ones go, the new ones come */
	bgp_session_may_delete(f.s);
	want_ann = 4;
	want_wd = 2;
	ck_assert(run_until(&f, got_counts, 2000 * MS));
	bgp_session_info(f.s, &info);
	ck_assert_uint_eq(info.announced[BGP_IDX_V4], 2);
	fx_fini(&f);
}
END_TEST

static bool all_in(struct fx *f)
{
	return f->p.announced >= want_ann && f->p.eors >= 1;
}

/* RFC 8654: UPDATEs beyond 4096 bytes only when both offered it, and
 * never beyond max_msg. */
START_TEST(test_extended_messages)
{
	struct fx f;
	size_t n = 3000, i;
	struct strata_prefix *set = calloc(n, sizeof(*set));
	struct bgp_session_info info;
	unsigned round;

	ck_assert_ptr_nonnull(set);
	for (i = 0; i < n; i++)
		set[i] = pfx4(11, (uint8_t)(i >> 8), (uint8_t)i, 24);
	for (round = 0; round < 3; round++) {
		max_prefixes = 0;
		max_msg = round == 2 ? 8192 : 0;
		fx_init(&f, false);
		max_msg = 0;
		f.p.ext = round > 0;
		bgp_session_may_delete(f.s);
		bgp_session_set_prefixes(f.s, STRATA_AF_INET, set, n);
		bgp_session_start(f.s);
		want_ann = n;
		ck_assert(run_until(&f, all_in, 5000 * MS));
		ck_assert(f.p.open.ext_msg); /* always offered */
		bgp_session_info(f.s, &info);
		ck_assert_int_eq(info.ext_msg, round > 0);
		if (round == 0)
			ck_assert_uint_le(f.p.longest, BGP_MAX_MSG);
		else if (round == 1)
			ck_assert_uint_gt(f.p.longest, 8192);
		else
			ck_assert(f.p.longest > BGP_MAX_MSG &&
				  f.p.longest <= 8192);
		fx_fini(&f);
	}
	free(set);
}
END_TEST

/* A withdraw-only UPDATE of len bytes (/24s), as a peer may send one. */
static size_t big_update(uint8_t *m, size_t len)
{
	size_t wl = len - BGP_MIN_UPDATE, i;

	memset(m, 0xff, BGP_MARKER_LEN);
	m[16] = (uint8_t)(len >> 8);
	m[17] = (uint8_t)len;
	m[18] = BGP_UPDATE;
	m[19] = (uint8_t)(wl >> 8);
	m[20] = (uint8_t)wl;
	for (i = 0; i < wl / 4; i++) {
		m[21 + 4 * i] = 24;
		m[22 + 4 * i] = 10;
		m[23 + 4 * i] = (uint8_t)(i >> 8);
		m[24 + 4 * i] = (uint8_t)i;
	}
	m[len - 2] = 0; /* no path attributes */
	m[len - 1] = 0;
	return len;
}

/* Longer than negotiated: NOTIFICATION 1/2; with RFC 8654 it is fine. */
START_TEST(test_message_length)
{
	struct fx f;
	static uint8_t m[5023];
	struct bgp_session_info info;
	unsigned round;

	big_update(m, sizeof(m));
	for (round = 0; round < 2; round++) {
		max_prefixes = 0;
		max_msg = 0;
		fx_init(&f, false);
		f.p.ext = round == 1;
		bgp_session_start(f.s);
		ck_assert(run_until(&f, is_up, 3000 * MS));
		peer_send(&f.p, m, sizeof(m));
		run_until(&f, is_idle_with_notify, 500 * MS);
		bgp_session_info(f.s, &info);
		if (round == 0) {
			ck_assert_uint_eq(f.p.notifications, 1);
			ck_assert_uint_eq(f.p.notify_code, BGP_ERR_HEADER);
			ck_assert_uint_eq(f.p.notify_sub, BGP_HDR_BAD_LENGTH);
			ck_assert_uint_eq(info.resets, 1);
		} else {
			ck_assert_uint_eq(f.p.notifications, 0);
			ck_assert_int_eq(info.state, BGP_ST_ESTABLISHED);
			ck_assert_uint_eq(info.updates_in, 1);
		}
		fx_fini(&f);
	}
}
END_TEST

/* A peer flooding UPDATEs is read 64 KiB per turn of the loop: timers
 * run in between, and the session stays up. */
START_TEST(test_read_bounded)
{
	struct fx f;
	uint8_t eor[BGP_MIN_UPDATE];
	static uint8_t flood[1 << 20];
	struct bgp_session_info before, after;
	struct strata_timer *t;
	size_t off = 0, sent = 0;
	ssize_t w;
	int i;

	max_prefixes = 0;
	max_msg = 0;
	fx_init(&f, false);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	ck_assert_int_eq(bgp_encode_eor(eor, sizeof(eor), STRATA_AF_INET),
			 BGP_MIN_UPDATE);
	for (off = 0; off + sizeof(eor) <= sizeof(flood); off += sizeof(eor))
		memcpy(flood + off, eor, sizeof(eor));
	/* as much as the socket takes, without the loop running */
	for (i = 0; i < 1000 && sent < off; i++) {
		w = send(f.p.fd, flood + sent, off - sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	ck_assert_uint_gt(sent, 256 * 1024);
	bgp_session_info(f.s, &before);
	loop_run_once(mock_host_loop(f.mh), 100);
	bgp_session_info(f.s, &after);
	ck_assert_uint_gt(after.updates_in, before.updates_in);
	ck_assert_uint_le(after.updates_in - before.updates_in,
			  64 * 1024 / BGP_MIN_UPDATE + 1);
	/* the rest follows over further turns, timers running between */
	ticks = 0;
	t = f.h->timer_start(mock_instance(f.mh), MS, MS, tick_cb, NULL);
	for (i = 0; i < 2000; i++) {
		bgp_session_info(f.s, &after);
		if (after.updates_in - before.updates_in ==
		    sent / BGP_MIN_UPDATE)
			break;
		loop_run_once(mock_host_loop(f.mh), 5);
	}
	ck_assert_uint_eq(after.updates_in - before.updates_in,
			  sent / BGP_MIN_UPDATE);
	ck_assert_int_gt(ticks, 0);
	ck_assert_int_eq(after.state, BGP_ST_ESTABLISHED);
	f.h->timer_stop(mock_instance(f.mh), t);
	fx_fini(&f);
}
END_TEST

/* A small receive window, so that the session's socket fills up. */
static void small_window(struct peer *p)
{
	int sz = 4096;

	setsockopt(p->lfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* And a small send buffer on the session's socket (same process: found
 * by its address), so that it fills up without megabytes queued. */
static void small_sndbuf(struct peer *p)
{
	struct sockaddr_in want, got;
	socklen_t sl = sizeof(want);
	int fd, sz = 4096, found = 0;

	ck_assert_int_eq(getpeername(p->fd, (struct sockaddr *)&want, &sl), 0);
	for (fd = 3; fd < 1024; fd++) {
		sl = sizeof(got);
		if (fd == p->fd || getsockname(fd, (struct sockaddr *)&got,
					       &sl) < 0 ||
		    got.sin_family != AF_INET || got.sin_port != want.sin_port)
			continue;
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz,
					    sizeof(sz)), 0);
		found++;
	}
	ck_assert_int_eq(found, 1);
}

static bool closed_after_notify(struct fx *f)
{
	return f->p.closed;
}

/*
 * stop(false) with the socket full and an UPDATE half written: the peer
 * still reads a clean stream that ends with the Cease, then the close.
 */
START_TEST(test_stop_full_socket)
{
	struct fx f;
	size_t n = 100000, i;
	struct strata_prefix *set = calloc(n, sizeof(*set));
	struct bgp_session_info info;

	ck_assert_ptr_nonnull(set);
	for (i = 0; i < n; i++)
		set[i] = pfx4((uint8_t)(11 + (i >> 16)), (uint8_t)(i >> 8),
			      (uint8_t)i, 24);
	max_prefixes = 0;
	max_msg = 0;
	fx_init(&f, false);
	small_window(&f.p);
	bgp_session_may_delete(f.s);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	small_sndbuf(&f.p);
	f.p.paused = true;
	ck_assert_int_eq(bgp_session_set_prefixes(f.s, STRATA_AF_INET, set, n),
			 0);
	/* the socket fills up; the session keeps the rest queued */
	run_until(&f, NULL, 300 * MS);
	bgp_session_info(f.s, &info);
	ck_assert_uint_gt(info.pending, 0);
	bgp_session_stop(f.s, false, "maintenance");
	ck_assert_int_eq(state(&f), BGP_ST_IDLE);
	f.p.paused = false;
	/* peer_poll fails the test on a broken stream */
	ck_assert(run_until(&f, closed_after_notify, 3000 * MS));
	ck_assert_uint_eq(f.p.notifications, 1);
	ck_assert_uint_eq(f.p.notify_code, BGP_ERR_CEASE);
	ck_assert_uint_eq(f.p.notify_sub, BGP_CEASE_ADMIN_SHUTDOWN);
	ck_assert(f.p.eof); /* nothing after it, nothing cut */
	/* the two End-of-RIBs, what the small buffers held, the one in
	 * flight; not the UPDATEs queued behind it (16 per pump) */
	ck_assert_uint_le(f.p.updates, 12);
	ck_assert_uint_lt(f.p.announced, n);
	free(set);
	fx_fini(&f);
}
END_TEST

/* A peer that never reads again: the stop gives up after a second. */
START_TEST(test_stop_gives_up)
{
	struct fx f;
	size_t n = 100000, i;
	struct strata_prefix *set = calloc(n, sizeof(*set));
	int64_t t0;

	ck_assert_ptr_nonnull(set);
	for (i = 0; i < n; i++)
		set[i] = pfx4((uint8_t)(11 + (i >> 16)), (uint8_t)(i >> 8),
			      (uint8_t)i, 24);
	max_prefixes = 0;
	max_msg = 0;
	fx_init(&f, false);
	small_window(&f.p);
	bgp_session_may_delete(f.s);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	small_sndbuf(&f.p);
	f.p.paused = true;
	bgp_session_set_prefixes(f.s, STRATA_AF_INET, set, n);
	run_until(&f, NULL, 300 * MS);
	bgp_session_stop(f.s, false, NULL);
	t0 = loop_now();
	/* the timer fires at 1 s; the loop has nothing else to do */
	while (loop_now() - t0 < 1500 * MS)
		loop_run_once(mock_host_loop(f.mh), 50);
	ck_assert_uint_ge(mock_host_log_count(f.mh, STRATA_LOG_INFO), 1);
	/* a new start works from a clean slate */
	f.p.paused = false;
	peer_close(&f.p);
	f.p.opens = 0;
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	free(set);
	fx_fini(&f);
}
END_TEST

/* Stopped and freed at once (the loop will not run again): no block. */
START_TEST(test_free_while_closing)
{
	struct fx f;
	size_t n = 100000, i;
	struct strata_prefix *set = calloc(n, sizeof(*set));
	int64_t t0;

	ck_assert_ptr_nonnull(set);
	for (i = 0; i < n; i++)
		set[i] = pfx4((uint8_t)(11 + (i >> 16)), (uint8_t)(i >> 8),
			      (uint8_t)i, 24);
	max_prefixes = 0;
	max_msg = 0;
	fx_init(&f, false);
	small_window(&f.p);
	bgp_session_may_delete(f.s);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, is_up, 3000 * MS));
	small_sndbuf(&f.p);
	f.p.paused = true;
	bgp_session_set_prefixes(f.s, STRATA_AF_INET, set, n);
	run_until(&f, NULL, 300 * MS);
	bgp_session_stop(f.s, false, NULL);
	t0 = loop_now();
	bgp_session_free(f.s);
	f.s = NULL;
	ck_assert_int_lt(loop_now() - t0, 100 * MS);
	free(set);
	peer_close(&f.p);
	close(f.p.lfd);
	mock_host_free(f.mh);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bgp_session");
	TCase *tc = tcase_create("session");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_up_and_announce);
	tcase_add_test(tc, test_incremental);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_hold_expiry);
	tcase_add_test(tc, test_malformed_update);
	tcase_add_test(tc, test_reconnect_backoff);
	tcase_add_test(tc, test_lazy_bulk);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_plugin);
	tcase_add_test(tc, test_plugin_waits_for_table);
	tcase_add_test(tc, test_max_prefixes);
	tcase_add_test(tc, test_max_prefixes_before_barrier);
	tcase_add_test(tc, test_extended_messages);
	tcase_add_test(tc, test_message_length);
	tcase_add_test(tc, test_read_bounded);
	tcase_add_test(tc, test_stop_full_socket);
	tcase_add_test(tc, test_stop_gives_up);
	tcase_add_test(tc, test_free_while_closing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
