/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Passive peers and connection collisions: a session behind a listener
 * (listen.c) on the mock host's loop, against an in-test peer that both
 * listens and connects on loopback and speaks through the codec.
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

#include "listen.h"
#include "loop.h"
#include "mock_host.h"
#include "msg.h"
#include "session.h"

STRATA_PLUGIN_DECL_

#define MS 1000000LL
#define OUR_ID 0xc0000202u /* 192.0.2.2 */
#define MAX_CONNS 4

/* One of the peer's connections. */
struct conn {
	int fd;
	bool outbound; /* the peer connected (we accepted) */
	uint8_t buf[4 * BGP_MAX_MSG];
	size_t len;
	unsigned opens, keepalives, updates;
	bool notified, closed;
	bool ka_owed; /* held back: see tpeer.hold_ka */
	uint8_t code, sub;
	int64_t last_ka;
};

struct tpeer {
	int lfd;
	uint16_t port;
	uint32_t id;
	unsigned accepts;
	bool hold_ka; /* accepted connections answer OPEN without KEEPALIVE */
	struct conn c[MAX_CONNS];
	unsigned n;
};

struct fx {
	struct mock_host *mh;
	const struct strata_host *h;
	struct bgp_session *s;
	struct bgp_listener *l;
	struct tpeer p;
};

static void tsend(int fd, const uint8_t *m, size_t len)
{
	ck_assert_int_eq(send(fd, m, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_open(struct tpeer *p, struct conn *c)
{
	uint8_t out[BGP_MAX_MSG];
	struct bgp_open o = {
		.as = 65000, .hold = 9, .id = p->id,
		.families = BGP_FAM_IPV4, .route_refresh = true, .as4 = true,
	};
	int n = bgp_encode_open(out, sizeof(out), &o);

	ck_assert_int_gt(n, 0);
	tsend(c->fd, out, (size_t)n);
}

static void send_ka(struct conn *c)
{
	uint8_t ka[BGP_LEN_KEEPALIVE];
	int n = bgp_encode_keepalive(ka, sizeof(ka));

	tsend(c->fd, ka, (size_t)n);
	c->last_ka = loop_now();
}

static struct conn *add_conn(struct tpeer *p, int fd, bool outbound)
{
	struct conn *c;

	ck_assert_uint_lt(p->n, MAX_CONNS);
	c = &p->c[p->n++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->outbound = outbound;
	return c;
}

static void tpeer_init(struct tpeer *p, uint32_t id)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	memset(p, 0, sizeof(*p));
	p->id = id;
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(p->lfd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(p->lfd, 4), 0);
	getsockname(p->lfd, (struct sockaddr *)&sa, &sl);
	p->port = ntohs(sa.sin_port);
}

static void tpeer_fini(struct tpeer *p)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		if (p->c[i].fd >= 0)
			close(p->c[i].fd);
	close(p->lfd);
}

/* The peer connects from src to port and sends its OPEN at once. */
static struct conn *tpeer_connect(struct tpeer *p, const char *src,
				  uint16_t port, bool open)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct conn *c;

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, src, &sa.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	sa.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	c = add_conn(p, fd, true);
	if (open)
		send_open(p, c);
	return c;
}

static void conn_handle(struct tpeer *p, struct conn *c, uint8_t type,
			const uint8_t *m, size_t len)
{
	struct bgp_open o;
	struct bgp_notify err;

	switch (type) {
	case BGP_OPEN:
		ck_assert_int_eq(bgp_decode_open(m, len, &o, &err), 0);
		ck_assert_uint_eq(o.id, OUR_ID);
		c->opens++;
		/* an accepted connection answers with its OPEN */
		if (!c->outbound)
			send_open(p, c);
		if (!c->outbound && p->hold_ka)
			c->ka_owed = true;
		else
			send_ka(c);
		break;
	case BGP_KEEPALIVE:
		c->keepalives++;
		break;
	case BGP_UPDATE:
		c->updates++;
		break;
	case BGP_NOTIFICATION:
		c->notified = true;
		c->code = m[19];
		c->sub = m[20];
		break;
	default:
		break;
	}
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->closed = true;
}

static void tpeer_poll(struct tpeer *p)
{
	struct bgp_notify err;
	size_t msglen, off;
	uint8_t type;
	unsigned i, k;
	ssize_t r;
	int n, fd;

	fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK);
	if (fd >= 0) {
		p->accepts++;
		add_conn(p, fd, false);
	}
	for (i = 0; i < p->n; i++) {
		struct conn *c = &p->c[i];

		for (k = 0; c->fd >= 0 && k < 16; k++) {
			r = recv(c->fd, c->buf + c->len,
				 sizeof(c->buf) - c->len, 0);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				conn_close(c);
				break;
			}
			if (r < 0)
				break;
			c->len += (size_t)r;
			off = 0;
			while ((n = bgp_frame(c->buf + off, c->len - off,
					      BGP_MAX_MSG, &type, &msglen,
					      &err)) > 0) {
				conn_handle(p, c, type, c->buf + off, msglen);
				off += msglen;
			}
			ck_assert_int_ge(n, 0);
			memmove(c->buf, c->buf + off, c->len - off);
			c->len -= off;
			/* a NOTIFICATION ends the connection */
			if (c->notified) {
				conn_close(c);
				break;
			}
		}
		if (c->fd >= 0 && c->ka_owed && !p->hold_ka) {
			c->ka_owed = false;
			send_ka(c);
		}
		if (c->fd >= 0 && c->opens && !c->ka_owed &&
		    loop_now() - c->last_ka > 500 * MS)
			send_ka(c);
	}
}

static bool run_until(struct fx *f, bool (*done)(struct fx *f), int64_t ns)
{
	int64_t end = loop_now() + ns;

	while (loop_now() < end) {
		loop_run_once(mock_host_loop(f->mh), 5);
		tpeer_poll(&f->p);
		if (done && done(f))
			return true;
	}
	return false;
}

static int accept_fn(void *arg, const struct strata_addr *from, int fd)
{
	struct fx *f = arg;

	if (from->family != STRATA_AF_INET || from->addr[0] != 127 ||
	    from->addr[3] != 1)
		return -ENOENT;
	bgp_session_accept(f->s, fd);
	return 0;
}

static void fx_init(struct fx *f, uint32_t peer_id, bool passive)
{
	struct bgp_session_cfg c = {
		.peer = { .family = STRATA_AF_INET, .addr = { 127, 0, 0, 1 } },
		.local_as = 65001,
		.peer_as = 65000,
		.router_id = OUR_ID,
		.hold = 9,
		.families = BGP_FAM_IPV4,
		.retry_min_ns = 200 * MS,
		.retry_max_ns = 400 * MS,
		.connect_timeout_ns = 1000 * MS,
		.seed = 7,
		.passive = passive,
	};
	struct bgp_session_attrs a = {
		.nexthop4 = { .family = STRATA_AF_INET,
			      .addr = { 192, 0, 2, 2 } },
	};
	struct bgp_listener_cfg lc = {
		.addr = { .family = STRATA_AF_INET, .addr = { 127, 0, 0, 1 } },
	};
	struct strata_prefix pfx = { .family = STRATA_AF_INET, .len = 24,
				     .addr = { 10, 244, 1 } };

	memset(f, 0, sizeof(*f));
	f->mh = mock_host_new();
	ck_assert_ptr_nonnull(f->mh);
	f->h = mock_host_table(f->mh);
	tpeer_init(&f->p, peer_id);
	c.port = f->p.port;
	f->s = bgp_session_new(f->h, mock_instance(f->mh), &c);
	ck_assert_ptr_nonnull(f->s);
	ck_assert_int_eq(bgp_session_set_attrs(f->s, &a), 0);
	ck_assert_int_eq(bgp_session_set_prefixes(f->s, STRATA_AF_INET, &pfx,
						  1), 0);
	bgp_session_may_delete(f->s);
	ck_assert_int_eq(bgp_listener_open(f->h, mock_instance(f->mh), &lc,
					   accept_fn, f, &f->l), 0);
	ck_assert_uint_gt(bgp_listener_port(f->l), 0);
}

static void fx_fini(struct fx *f)
{
	bgp_listener_free(f->l);
	bgp_session_free(f->s);
	tpeer_fini(&f->p);
	mock_host_free(f->mh);
}

static struct bgp_session_info info(struct fx *f)
{
	struct bgp_session_info i;

	bgp_session_info(f->s, &i);
	return i;
}

static bool is_up(struct fx *f)
{
	return info(f).state == BGP_ST_ESTABLISHED;
}

static unsigned live_conns(const struct tpeer *p)
{
	unsigned i, n = 0;

	for (i = 0; i < p->n; i++)
		n += p->c[i].fd >= 0;
	return n;
}

/* Established, and the peer holds exactly one connection with updates. */
static bool settled(struct fx *f)
{
	unsigned i;

	if (!is_up(f) || live_conns(&f->p) != 1)
		return false;
	for (i = 0; i < f->p.n; i++)
		if (f->p.c[i].fd >= 0 && f->p.c[i].updates > 0)
			return true;
	return false;
}

static struct conn *live(struct fx *f)
{
	unsigned i;

	for (i = 0; i < f->p.n; i++)
		if (f->p.c[i].fd >= 0)
			return &f->p.c[i];
	return NULL;
}

START_TEST(test_passive_accepts)
{
	struct fx f;
	struct bgp_session_info in;

	fx_init(&f, 0x0a000001, true);
	ck_assert_int_eq(bgp_session_start(f.s), 0);
	/* passive: nothing connects to the peer */
	run_until(&f, NULL, 300 * MS);
	ck_assert_uint_eq(f.p.accepts, 0);
	ck_assert_int_eq(info(&f).state, BGP_ST_IDLE);
	tpeer_connect(&f.p, "127.0.0.1", bgp_listener_port(f.l), true);
	ck_assert(run_until(&f, settled, 3000 * MS));
	in = info(&f);
	ck_assert(in.inbound);
	ck_assert_uint_eq(in.peer_id, 0x0a000001);
	ck_assert_uint_eq(in.announced[BGP_IDX_V4], 1);
	ck_assert_uint_eq(f.p.accepts, 0);

	/* the peer goes away: a passive session waits, never connects */
	conn_close(live(&f));
	run_until(&f, NULL, 600 * MS);
	ck_assert_int_eq(info(&f).state, BGP_ST_IDLE);
	ck_assert_uint_eq(f.p.accepts, 0);
	/* and takes the next connection */
	tpeer_connect(&f.p, "127.0.0.1", bgp_listener_port(f.l), true);
	ck_assert(run_until(&f, settled, 3000 * MS));
	fx_fini(&f);
}
END_TEST

static bool closed_by_us(struct fx *f)
{
	return f->p.c[0].closed;
}

START_TEST(test_unknown_source)
{
	struct fx f;

	fx_init(&f, 0x0a000001, true);
	bgp_session_start(f.s);
	tpeer_connect(&f.p, "127.0.0.2", bgp_listener_port(f.l), true);
	ck_assert(run_until(&f, closed_by_us, 2000 * MS));
	ck_assert(!f.p.c[0].notified);
	ck_assert_uint_eq(bgp_listener_refused(f.l), 1);
	ck_assert_uint_eq(mock_host_log_count(f.mh, STRATA_LOG_WARNING), 1);
	/* a second one from the same address: closed, not logged again */
	tpeer_connect(&f.p, "127.0.0.2", bgp_listener_port(f.l), false);
	run_until(&f, NULL, 300 * MS);
	ck_assert(f.p.c[1].closed);
	ck_assert_uint_eq(bgp_listener_refused(f.l), 2);
	ck_assert_uint_eq(mock_host_log_count(f.mh, STRATA_LOG_WARNING), 1);
	ck_assert_int_eq(info(&f).state, BGP_ST_IDLE);
	fx_fini(&f);
}
END_TEST

static bool in_openconfirm(struct fx *f)
{
	return info(f).state == BGP_ST_OPENCONFIRM;
}

/*
 * Both sides connect at once; the connection initiated by the side with
 * the higher BGP identifier stays, the other gets Cease/7, and the one
 * left stays up. accept_first: the peer's connection is accepted before
 * our OPEN exchange starts (otherwise while ours is in OpenConfirm).
 */
static void collision(uint32_t peer_id, bool accept_first)
{
	struct fx f;
	struct bgp_session_info in;
	struct conn *c;
	bool ours_wins = OUR_ID > peer_id;
	unsigned i, ceased = 0;

	fx_init(&f, peer_id, false);
	bgp_session_start(f.s);
	if (!accept_first) {
		/* ours waits in OpenConfirm: the peer's OPEN is in */
		f.p.hold_ka = true;
		ck_assert(run_until(&f, in_openconfirm, 2000 * MS));
	}
	tpeer_connect(&f.p, "127.0.0.1", bgp_listener_port(f.l), true);
	run_until(&f, NULL, 50 * MS);
	f.p.hold_ka = false;
	ck_assert(run_until(&f, settled, 3000 * MS));
	in = info(&f);
	c = live(&f);
	ck_assert_ptr_nonnull(c);
	/* ours is the peer's accepted one (not outbound) */
	ck_assert_int_eq(c->outbound, !ours_wins);
	ck_assert_int_eq(in.inbound, !ours_wins);
	for (i = 0; i < f.p.n; i++)
		if (f.p.c[i].notified && f.p.c[i].code == BGP_ERR_CEASE &&
		    f.p.c[i].sub == BGP_CEASE_COLLISION)
			ceased++;
	ck_assert_uint_eq(ceased, 1);
	/* no flapping */
	run_until(&f, NULL, 1500 * MS);
	ck_assert(settled(&f));
	ck_assert_uint_eq(info(&f).resets, 0);
	ck_assert_uint_eq(info(&f).established_ns, in.established_ns);
	fx_fini(&f);
}

START_TEST(test_collision_ours_higher)
{
	collision(0x0a000001, true);
	collision(0x0a000001, false);
}
END_TEST

START_TEST(test_collision_peer_higher)
{
	collision(0xc0000203, true);
	collision(0xc0000203, false);
}
END_TEST

START_TEST(test_established_refuses)
{
	struct fx f;
	struct conn *c;

	fx_init(&f, 0xc0000203, false);
	bgp_session_start(f.s);
	ck_assert(run_until(&f, settled, 3000 * MS));
	ck_assert(!info(&f).inbound);
	c = tpeer_connect(&f.p, "127.0.0.1", bgp_listener_port(f.l), true);
	run_until(&f, NULL, 300 * MS);
	ck_assert(c->closed);
	ck_assert(c->notified);
	ck_assert_uint_eq(c->code, BGP_ERR_CEASE);
	ck_assert_uint_eq(c->sub, BGP_CEASE_COLLISION);
	ck_assert(settled(&f));
	ck_assert_uint_eq(info(&f).resets, 0);
	fx_fini(&f);
}
END_TEST

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	return ntohs(sa.sin_port);
}

struct seen {
	unsigned n;
	struct strata_route r[4];
};

static void collect(void *arg, const struct strata_route *r)
{
	struct seen *s = arg;

	if (s->n < 4)
		s->r[s->n] = *r;
	s->n++;
}

static bool two_updates(struct fx *f)
{
	return f->p.n == 1 && f->p.c[0].updates >= 2;
}

/* The plugin: a passive peer behind the instance's listener, status,
 * installed, and the configurations it refuses. */
START_TEST(test_plugin_passive)
{
	struct fx f;
	const struct strata_plugin *pl = &STRATA_PLUGIN_ENTRY;
	const struct strata_advertiser_ops *adv = pl->kind_ops;
	const char *peers[1] = { "127.0.0.1 65000" };
	const char *passive[1] = { "127.0.0.1" }, *bad[1] = { "127.0.0.9" };
	struct strata_route r[2] = {
		{ .size = sizeof(r[0]), .scope = STRATA_SCOPE_BGP,
		  .dst = { .family = STRATA_AF_INET, .len = 24,
			   .addr = { 10, 244, 2 } } },
		{ .size = sizeof(r[0]), .scope = STRATA_SCOPE_BGP,
		  .dst = { .family = STRATA_AF_INET, .len = 24,
			   .addr = { 10, 244, 1 } } },
	};
	const struct strata_route *rp[2] = { &r[0], &r[1] };
	struct seen seen = { 0 };
	struct mock_host *other;
	uint16_t port = free_port();
	void *self, *self2;
	const char *v;

	memset(&f, 0, sizeof(f));
	f.mh = mock_host_new();
	f.h = mock_host_table(f.mh);
	tpeer_init(&f.p, 0x0a000001);
	ck_assert_int_eq(mock_host_set_schema(f.mh, pl->config), 0);
	mock_host_set_cfg_int(f.mh, "local_as", 65001);
	mock_host_set_cfg_strings(f.mh, "peers", peers, 1);
	mock_host_set_fact(f.mh, "address", "192.0.2.2");
	mock_host_set_cfg_int(f.mh, "listen_port", port);
	/* a passive address that is no peer */
	mock_host_set_cfg_strings(f.mh, "passive", bad, 1);
	ck_assert_int_eq(pl->ops->create(f.h, mock_instance(f.mh), &self),
			 -EINVAL);
	/* passive without listening */
	mock_host_set_cfg_strings(f.mh, "passive", passive, 1);
	mock_host_set_cfg_bool(f.mh, "listen", 0);
	ck_assert_int_eq(pl->ops->create(f.h, mock_instance(f.mh), &self),
			 -EINVAL);
	mock_host_set_cfg_bool(f.mh, "listen", 1);
	/* a passive IPv4 peer, a listener on an IPv6 address */
	mock_host_set_cfg_string(f.mh, "listen_address", "::1");
	ck_assert_int_eq(pl->ops->create(f.h, mock_instance(f.mh), &self),
			 -EINVAL);
	mock_host_set_cfg_string(f.mh, "listen_address", "127.0.0.1");
	ck_assert_int_eq(pl->ops->create(f.h, mock_instance(f.mh), &self), 0);
	ck_assert_int_eq(adv->reconcile(self, rp, 2,
					 STRATA_RECONCILE_MAY_DELETE), 0);
	ck_assert_int_eq(pl->ops->start(self), 0);
	/* a second instance on the same port cannot listen */
	other = mock_host_new_peer(f.mh);
	ck_assert_int_eq(mock_host_set_schema(other, pl->config), 0);
	mock_host_set_cfg_int(other, "local_as", 65001);
	mock_host_set_cfg_strings(other, "peers", peers, 1);
	mock_host_set_cfg_strings(other, "passive", passive, 1);
	mock_host_set_fact(other, "address", "192.0.2.3");
	mock_host_set_cfg_int(other, "listen_port", port);
	ck_assert_int_eq(pl->ops->create(mock_host_table(other),
					 mock_instance(other), &self2), 0);
	ck_assert_int_eq(pl->ops->start(self2), -EADDRINUSE);
	ck_assert_uint_eq(mock_host_log_count(other, STRATA_LOG_ERR), 1);
	pl->ops->destroy(self2);
	mock_host_free(other);

	/* nothing announced yet: nothing installed */
	ck_assert_ptr_nonnull(adv->installed);
	ck_assert_int_eq(adv->installed(self, collect, &seen), 0);
	ck_assert_uint_eq(seen.n, 0);
	tpeer_connect(&f.p, "127.0.0.1", port, true);
	ck_assert(run_until(&f, two_updates, 3000 * MS));
	ck_assert_uint_eq(f.p.accepts, 0);
	pl->ops->status(self, mock_host_status(f.mh));
	v = mock_host_status_str(f.mh, "peer 127.0.0.1 state");
	ck_assert_str_eq(v, "Established");
	v = mock_host_status_str(f.mh, "peer 127.0.0.1 direction");
	ck_assert_str_eq(v, "passive");
	ck_assert_int_eq(adv->installed(self, collect, &seen), 0);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_uint_eq(seen.r[0].scope, STRATA_SCOPE_BGP);
	ck_assert_uint_eq(seen.r[0].dst.addr[2], 1); /* sorted */
	ck_assert_uint_eq(seen.r[1].dst.addr[2], 2);
	ck_assert_uint_eq(seen.r[0].n_nexthops, 1);
	ck_assert_uint_eq(seen.r[0].nh[0].gw.addr[3], 2);
	/* one route less: withdrawn, and no longer installed */
	ck_assert_int_eq(adv->reconcile(self, rp, 1,
					 STRATA_RECONCILE_MAY_DELETE), 0);
	run_until(&f, NULL, 200 * MS);
	seen.n = 0;
	ck_assert_int_eq(adv->installed(self, collect, &seen), 0);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(seen.r[0].dst.addr[2], 2);
	ck_assert_int_eq(pl->ops->stop(self), 0);
	pl->ops->destroy(self);
	tpeer_fini(&f.p);
	mock_host_free(f.mh);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bgp_listen");
	TCase *tc = tcase_create("listen");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_passive_accepts);
	tcase_add_test(tc, test_unknown_source);
	tcase_add_test(tc, test_collision_ours_higher);
	tcase_add_test(tc, test_collision_peer_higher);
	tcase_add_test(tc, test_established_refuses);
	tcase_add_test(tc, test_plugin_passive);
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
