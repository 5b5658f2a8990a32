/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health checkers (tcp, icmp, http), compiled in, against the mock
 * host, each test that needs the network in its own namespace. A "peer"
 * is a shell in a namespace of its own holding v1 (10.0.0.2, fd00::2):
 * a router that answers 10.9.0.0/24 and fd09::/64 with ICMP
 * unreachable and drops 10.8.0.0/24 and fd08::/64 silently.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>

#include <strata/plugin.h>

#include "mock_host.h"
#include "netns.h"

#define MS (1000000LL)

extern const struct strata_plugin hc_tcp_plugin;
extern const struct strata_plugin hc_icmp_plugin;
extern const struct strata_plugin hc_http_plugin;

/* -- checker instances and results ------------------------------------ */

struct checker {
	const struct strata_plugin *desc;
	const struct strata_healthcheck_ops *ops;
	struct mock_host *mh;
	void *self;
};

struct result {
	int calls;
	int up;
	bool inside; /* done ran inside probe() */
	char reason[256];
};

static bool in_probe;

static void done_cb(void *arg, int up, const char *reason)
{
	struct result *r = arg;

	r->calls++;
	r->up = up;
	r->inside |= in_probe;
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
}

static bool called(void *arg)
{
	return ((struct result *)arg)->calls > 0;
}

/* create and start; payload_size < 0: the default */
static int checker_open(struct checker *c, const struct strata_plugin *desc,
			struct mock_host *peer_of)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->desc = desc;
	ck_assert_uint_eq(desc->kind, STRATA_KIND_HEALTHCHECK);
	c->ops = desc->kind_ops;
	ck_assert_uint_eq(c->ops->size, sizeof(*c->ops));
	c->mh = peer_of ? mock_host_new_peer(peer_of) : mock_host_new();
	ck_assert_ptr_nonnull(c->mh);
	ck_assert_int_eq(mock_host_set_schema(c->mh, desc->config), 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(c->mh),
					   mock_instance(c->mh), &c->self),
			 0);
	rc = desc->ops->start(c->self);
	if (rc < 0)
		desc->ops->destroy(c->self);
	return rc;
}

static void checker_new(struct checker *c, const struct strata_plugin *desc)
{
	ck_assert_int_eq(checker_open(c, desc, NULL), 0);
}

static void checker_free(struct checker *c)
{
	if (c->desc->ops->stop)
		ck_assert_int_eq(c->desc->ops->stop(c->self), 0);
	c->desc->ops->destroy(c->self);
	mock_host_free(c->mh);
}

static void target(struct strata_hc_target *t, const char *addr,
		   uint16_t port)
{
	memset(t, 0, sizeof(*t));
	t->size = sizeof(*t);
	t->port = port;
	if (inet_pton(AF_INET, addr, t->addr.addr) == 1) {
		t->addr.family = STRATA_AF_INET;
		return;
	}
	ck_assert_int_eq(inet_pton(AF_INET6, addr, t->addr.addr), 1);
	t->addr.family = STRATA_AF_INET6;
}

static int64_t probe(struct checker *c, const struct strata_hc_target *t,
		     struct result *r)
{
	int64_t id;

	memset(r, 0, sizeof(*r));
	in_probe = true;
	id = c->ops->probe(c->self, t, done_cb, r);
	in_probe = false;
	return id;
}

/* Probe and wait (generous: the machine may be busy) for the answer. */
static void probe_wait(struct checker *c, const char *addr, uint16_t port,
		       struct result *r)
{
	struct strata_hc_target t;

	target(&t, addr, port);
	ck_assert_int_gt(probe(c, &t, r), 0);
	ck_assert_int_eq(r->calls, 0);
	ck_assert_msg(mock_host_run_until(c->mh, called, r, 10000 * MS),
		      "no answer for %s", addr);
	mock_host_run(c->mh, 20 * MS); /* a second call would show now */
	ck_assert_int_eq(r->calls, 1);
	ck_assert(!r->inside);
}

static int64_t status_int(struct checker *c, const char *key)
{
	int64_t v = -1;

	c->desc->ops->status(c->self, mock_host_status(c->mh));
	ck_assert_int_eq(mock_host_status_int(c->mh, key, &v), 0);
	return v;
}

static const char *status_str(struct checker *c, const char *key)
{
	c->desc->ops->status(c->self, mock_host_status(c->mh));
	return mock_host_status_str(c->mh, key);
}

/* -- the peer router -------------------------------------------------- */

struct peer {
	pid_t pid;
	int to; /* closing it ends the peer */
};

/* Run as `sh` in a namespace of its own (exec'd, so that nothing of this
 * process, valgrind included, lives on in the peer). */
static const char peer_script[] =
	"echo n; read x || exit 1; "
	"ip link set lo up && ip link set v1 up && "
	"ip addr add 10.0.0.2/24 dev v1 && "
	"ip -6 addr add fd00::2/64 dev v1 nodad && "
	"sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
	"ip route add unreachable 10.9.0.0/24 && "
	"ip route add blackhole 10.8.0.0/24 && "
	"ip -6 route add unreachable fd09::/64 && "
	"ip -6 route add blackhole fd08::/64 && echo y || echo f; "
	/* until the test closes its end */
	"while read x; do :; done";

/* One line from the peer: its first character. */
static char peer_line(int fd)
{
	char c = 0, first = 0;
	int i;

	for (i = 0; i < 64 && read(fd, &c, 1) == 1 && c != '\n'; i++)
		if (!first)
			first = c;
	return first;
}

static struct peer peer_start(void)
{
	int up[2], down[2];
	struct peer p;

	/* close-on-exec: the peer must see EOF once the test closes */
	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
	p.pid = fork();
	ck_assert_int_ge(p.pid, 0);
	if (p.pid == 0) {
		if (dup2(down[0], 0) < 0 || dup2(up[1], 1) < 0)
			_exit(1);
		execl("/usr/bin/unshare", "unshare", "--net", "sh", "-c",
		      peer_script, (char *)NULL);
		_exit(127);
	}
	close(up[1]);
	close(down[0]);
	ck_assert_int_eq(peer_line(up[0]), 'n');
	ck_assert_int_eq(sh("ip link set v1 netns %d", (int)p.pid), 0);
	ck_assert_int_eq(write(down[1], "go\n", 3), 3);
	ck_assert_msg(peer_line(up[0]) == 'y', "peer setup failed");
	close(up[0]);
	p.to = down[1];
	ck_assert_int_eq(sh("ip route add 10.9.0.0/24 via 10.0.0.2 && "
			    "ip route add 10.8.0.0/24 via 10.0.0.2 && "
			    "ip -6 route add fd09::/64 via fd00::2 && "
			    "ip -6 route add fd08::/64 via fd00::2"),
			 0);
	return p;
}

static void peer_stop(struct peer *p)
{
	int st = 0;

	close(p->to);
	ck_assert_int_eq(waitpid(p->pid, &st, 0), p->pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* -- sockets the tests serve ------------------------------------------ */

/* A TCP socket bound to addr (port 0: any free one), listening or not. */
static int tcp_socket(const char *addr, bool listening, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	len = sizeof(ss);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(ss.ss_family == AF_INET ?
			      ((struct sockaddr_in *)&ss)->sin_port :
			      ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/*
 * A tiny HTTP server in a thread: answers each of n connections with the
 * next status of its list, and keeps each request line.
 */
struct server {
	int fd;
	uint16_t port;
	int n;
	const int *status;
	char lines[8][256];
	int served;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int i;

	for (i = 0; i < s->n && i < 8; i++) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		char req[2048], resp[256], *eol;
		size_t got = 0;
		int c, len;

		if (poll(&pfd, 1, 15000) != 1)
			break;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		/* read the request head, bounded */
		while (got < sizeof(req) - 1) {
			struct pollfd cp = { .fd = c, .events = POLLIN };
			ssize_t r;

			if (poll(&cp, 1, 15000) != 1)
				break;
			r = read(c, req + got, sizeof(req) - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[got] = '\0';
		eol = strstr(req, "\r\n");
		if (eol)
			*eol = '\0';
		snprintf(s->lines[i], sizeof(s->lines[i]), "%.200s", req);
		len = snprintf(resp, sizeof(resp),
			       "HTTP/1.1 %d Whatever\r\nContent-Length: 2\r\n"
			       "Connection: close\r\n\r\nok",
			       s->status[i]);
		if (write(c, resp, (size_t)len) != len)
			break;
		close(c);
		s->served++;
	}
	return NULL;
}

static void server_start(struct server *s, const char *addr,
			 const int *status, int n)
{
	memset(s, 0, sizeof(*s));
	s->fd = tcp_socket(addr, true, &s->port);
	s->status = status;
	s->n = n;
	ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	ck_assert_int_eq(pthread_join(s->thread, NULL), 0);
	close(s->fd);
}

/* -- descriptors and arguments ---------------------------------------- */

START_TEST(test_descriptors)
{
	ck_assert_str_eq(hc_tcp_plugin.name, "tcp");
	ck_assert_str_eq(hc_icmp_plugin.name, "icmp");
	ck_assert_str_eq(hc_http_plugin.name, "http");
	ck_assert_uint_eq(hc_tcp_plugin.kind, STRATA_KIND_HEALTHCHECK);
	ck_assert_uint_eq(hc_icmp_plugin.kind, STRATA_KIND_HEALTHCHECK);
	ck_assert_uint_eq(hc_http_plugin.kind, STRATA_KIND_HEALTHCHECK);
	/* only icmp has a key */
	ck_assert_ptr_null(hc_tcp_plugin.config);
	ck_assert_ptr_null(hc_http_plugin.config);
	ck_assert_str_eq(hc_icmp_plugin.config[0].name, "payload_size");
	ck_assert_ptr_null(hc_icmp_plugin.config[1].name);
}
END_TEST

START_TEST(test_bad_targets)
{
	const struct strata_plugin *all[] = { &hc_tcp_plugin, &hc_icmp_plugin,
					      &hc_http_plugin };
	struct strata_hc_target t;
	struct result r;
	struct checker c;
	size_t i;

	netns_enter();
	for (i = 0; i < 3; i++) {
		checker_new(&c, all[i]);
		target(&t, "10.0.0.1", 80);
		t.addr.family = 0;
		ck_assert_int_eq(probe(&c, &t, &r), -EAFNOSUPPORT);
		/* cancelling what never was is harmless */
		c.ops->cancel(c.self, 1);
		c.ops->cancel(c.self, 12345);
		mock_host_run(c.mh, 20 * MS);
		ck_assert_int_eq(r.calls, 0);
		checker_free(&c);
	}
	checker_new(&c, &hc_tcp_plugin);
	target(&t, "10.0.0.1", 0);
	ck_assert_int_eq(probe(&c, &t, &r), -EINVAL);
	checker_free(&c);

	checker_new(&c, &hc_http_plugin);
	target(&t, "10.0.0.1", 80);
	t.path = "healthz";
	ck_assert_int_eq(probe(&c, &t, &r), -EINVAL);
	t.path = "/a b";
	ck_assert_int_eq(probe(&c, &t, &r), -EINVAL);
	t.path = "/";
	t.expect = -1;
	ck_assert_int_eq(probe(&c, &t, &r), -EINVAL);
	mock_host_run(c.mh, 20 * MS);
	ck_assert_int_eq(r.calls, 0);
	checker_free(&c);
}
END_TEST

/* -- tcp ---------------------------------------------------------------- */

START_TEST(test_tcp_up)
{
	struct checker c;
	struct result r;
	uint16_t p4, p6;
	int l4, l6;

	netns_enter();
	l4 = tcp_socket("10.0.0.1", true, &p4);
	l6 = tcp_socket("fd00::1", true, &p6);
	checker_new(&c, &hc_tcp_plugin);
	probe_wait(&c, "10.0.0.1", p4, &r);
	ck_assert_int_eq(r.up, 1);
	ck_assert_str_eq(r.reason, "connected");
	probe_wait(&c, "fd00::1", p6, &r);
	ck_assert_int_eq(r.up, 1);
	probe_wait(&c, "::1", p6, &r); /* bound to fd00::1 only: refused */
	ck_assert_int_eq(r.up, 0);
	ck_assert_int_eq(status_int(&c, "up"), 2);
	ck_assert_int_eq(status_int(&c, "down"), 1);
	ck_assert_int_eq(status_int(&c, "pending"), 0);
	checker_free(&c);
	close(l4);
	close(l6);
}
END_TEST

START_TEST(test_tcp_refused)
{
	struct checker c;
	struct result r;
	uint16_t port;
	int fd;

	netns_enter();
	/* bound, not listening: the port answers with a reset */
	fd = tcp_socket("10.0.0.1", false, &port);
	checker_new(&c, &hc_tcp_plugin);
	probe_wait(&c, "10.0.0.1", port, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "connection refused");
	checker_free(&c);
	close(fd);
}
END_TEST

START_TEST(test_tcp_unreachable)
{
	struct checker c;
	struct result r;
	struct peer p;

	netns_enter();
	ck_assert_int_eq(sh("ip route add unreachable 10.7.0.0/24 && "
			    "ip route add blackhole 10.6.0.0/24"),
			 0);
	checker_new(&c, &hc_tcp_plugin);
	/* decided by the local route, still reported from the loop */
	probe_wait(&c, "10.7.0.1", 80, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "host unreachable");
	probe_wait(&c, "10.6.0.1", 80, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "no route (blackhole)");

	/* a router further on says so with ICMP */
	p = peer_start();
	probe_wait(&c, "10.9.0.1", 80, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "host unreachable");
	probe_wait(&c, "fd09::1", 80, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_msg(strstr(r.reason, "unreachable"), "%s", r.reason);
	checker_free(&c);
	peer_stop(&p);
}
END_TEST

START_TEST(test_tcp_drop_cancel)
{
	struct strata_hc_target t;
	struct result r, r2;
	struct checker c;
	struct peer p;
	int64_t id, id2;

	netns_enter();
	p = peer_start();
	checker_new(&c, &hc_tcp_plugin);
	target(&t, "10.8.0.1", 80);
	id = probe(&c, &t, &r);
	ck_assert_int_gt(id, 0);
	id2 = probe(&c, &t, &r2);
	ck_assert_int_gt(id2, 0);
	ck_assert_int_ne(id, id2);
	/* the SYN is dropped: nothing comes back */
	mock_host_run(c.mh, 300 * MS);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(status_int(&c, "pending"), 2);
	/* the host's timeout */
	c.ops->cancel(c.self, id);
	c.ops->cancel(c.self, id); /* twice: harmless */
	ck_assert_int_eq(status_int(&c, "pending"), 1);
	mock_host_run(c.mh, 100 * MS);
	ck_assert_int_eq(r.calls, 0);

	/* cancelled before its immediate answer was delivered */
	ck_assert_int_eq(sh("ip route add unreachable 10.7.0.0/24"), 0);
	target(&t, "10.7.0.1", 80);
	id = probe(&c, &t, &r);
	ck_assert_int_gt(id, 0);
	c.ops->cancel(c.self, id);
	mock_host_run(c.mh, 100 * MS);
	ck_assert_int_eq(r.calls, 0);

	/* destroy cancels the one left (id2) and the one due now */
	id = probe(&c, &t, &r);
	ck_assert_int_gt(id, 0);
	checker_free(&c);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(r2.calls, 0);
	peer_stop(&p);
}
END_TEST

/* -- icmp --------------------------------------------------------------- */

START_TEST(test_icmp_up)
{
	struct checker c;
	struct result r;

	netns_enter();
	checker_new(&c, &hc_icmp_plugin);
	ck_assert_str_eq(status_str(&c, "ipv4"), "raw socket");
	ck_assert_str_eq(status_str(&c, "ipv6"), "raw socket");
	probe_wait(&c, "10.0.0.1", 0, &r);
	ck_assert_int_eq(r.up, 1);
	ck_assert_msg(!strncmp(r.reason, "echo reply in ", 14), "%s", r.reason);
	probe_wait(&c, "::1", 0, &r);
	ck_assert_int_eq(r.up, 1);
	probe_wait(&c, "fd00::1", 0, &r);
	ck_assert_int_eq(r.up, 1);
	ck_assert_int_eq(status_int(&c, "up"), 3);
	ck_assert_int_eq(status_int(&c, "pending"), 0);
	checker_free(&c);
}
END_TEST

START_TEST(test_icmp_payload_size)
{
	struct checker c;
	struct result r;

	netns_enter();
	/* a payload of 1400 bytes still comes back whole and matched */
	memset(&c, 0, sizeof(c));
	c.desc = &hc_icmp_plugin;
	c.ops = c.desc->kind_ops;
	c.mh = mock_host_new();
	ck_assert_ptr_nonnull(c.mh);
	ck_assert_int_eq(mock_host_set_cfg_int(c.mh, "payload_size", 1400), 0);
	ck_assert_int_eq(mock_host_set_schema(c.mh, c.desc->config), 0);
	ck_assert_int_eq(c.desc->ops->create(mock_host_table(c.mh),
					     mock_instance(c.mh), &c.self),
			 0);
	ck_assert_int_eq(c.desc->ops->start(c.self), 0);
	probe_wait(&c, "10.0.0.1", 0, &r);
	ck_assert_int_eq(r.up, 1);
	probe_wait(&c, "fd00::1", 0, &r);
	ck_assert_int_eq(r.up, 1);
	checker_free(&c);
}
END_TEST

START_TEST(test_icmp_unreachable)
{
	struct checker c;
	struct result r;
	struct peer p;

	netns_enter();
	p = peer_start();
	checker_new(&c, &hc_icmp_plugin);
	probe_wait(&c, "10.9.0.1", 0, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "host unreachable (from 10.0.0.2)");
	probe_wait(&c, "fd09::1", 0, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "no route to destination (from fd00::2)");
	/* the router itself answers */
	probe_wait(&c, "10.0.0.2", 0, &r);
	ck_assert_int_eq(r.up, 1);
	probe_wait(&c, "fd00::2", 0, &r);
	ck_assert_int_eq(r.up, 1);

	/* a local unreachable route: down, from the loop */
	ck_assert_int_eq(sh("ip route add unreachable 10.7.0.0/24"), 0);
	probe_wait(&c, "10.7.0.1", 0, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "host unreachable");
	checker_free(&c);
	peer_stop(&p);
}
END_TEST

START_TEST(test_icmp_drop_cancel)
{
	struct strata_hc_target t;
	struct result r4, r6, rl;
	struct checker c;
	struct peer p;
	int64_t id4, id6;

	netns_enter();
	p = peer_start();
	checker_new(&c, &hc_icmp_plugin);
	target(&t, "10.8.0.1", 0);
	id4 = probe(&c, &t, &r4);
	ck_assert_int_gt(id4, 0);
	target(&t, "fd08::1", 0);
	id6 = probe(&c, &t, &r6);
	ck_assert_int_gt(id6, 0);
	/* replies to other echoes (a probe of 10.0.0.1 meanwhile) are not
	 * taken for theirs */
	probe_wait(&c, "10.0.0.1", 0, &rl);
	ck_assert_int_eq(rl.up, 1);
	mock_host_run(c.mh, 300 * MS);
	ck_assert_int_eq(r4.calls, 0);
	ck_assert_int_eq(r6.calls, 0);
	ck_assert_int_eq(status_int(&c, "pending"), 2);
	c.ops->cancel(c.self, id4);
	c.ops->cancel(c.self, id4);
	c.ops->cancel(c.self, id6);
	ck_assert_int_eq(status_int(&c, "pending"), 0);
	mock_host_run(c.mh, 100 * MS);
	ck_assert_int_eq(r4.calls, 0);
	ck_assert_int_eq(r6.calls, 0);

	/* cancelled between the reply's arrival and reading it */
	target(&t, "10.0.0.1", 0);
	id4 = probe(&c, &t, &r4);
	ck_assert_int_gt(id4, 0);
	usleep(50 * 1000);
	c.ops->cancel(c.self, id4);
	mock_host_run(c.mh, 100 * MS);
	ck_assert_int_eq(r4.calls, 0);
	ck_assert_int_ge(status_int(&c, "ignored"), 1);

	/* destroy with one pending */
	target(&t, "10.8.0.1", 0);
	ck_assert_int_gt(probe(&c, &t, &r4), 0);
	checker_free(&c);
	ck_assert_int_eq(r4.calls, 0);
	peer_stop(&p);
}
END_TEST

/* Two instances see each other's replies on their raw sockets: each takes
 * only its own. */
START_TEST(test_icmp_two_instances)
{
	struct strata_hc_target t;
	struct checker a, b;
	struct result ra[4], rb[4];
	int i;

	netns_enter();
	checker_new(&a, &hc_icmp_plugin);
	ck_assert_int_eq(checker_open(&b, &hc_icmp_plugin, a.mh), 0);
	target(&t, "10.0.0.1", 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_gt(probe(&a, &t, &ra[i]), 0);
		ck_assert_int_gt(probe(&b, &t, &rb[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert(mock_host_run_until(a.mh, called, &ra[i], 10000 * MS));
		ck_assert(mock_host_run_until(a.mh, called, &rb[i], 10000 * MS));
	}
	mock_host_run(a.mh, 50 * MS);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(ra[i].calls, 1);
		ck_assert_int_eq(ra[i].up, 1);
		ck_assert_int_eq(rb[i].calls, 1);
		ck_assert_int_eq(rb[i].up, 1);
	}
	ck_assert_int_ge(status_int(&a, "ignored"), 4);
	ck_assert_int_ge(status_int(&b, "ignored"), 4);
	checker_free(&b);
	checker_free(&a);
}
END_TEST

/* -- forged replies ------------------------------------------------------ */

static uint16_t csum(const uint8_t *b, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The echo request leaving v0 for dst: its ICMP message into m. */
static size_t sniff_echo(int pfd, const char *dst, uint8_t *m, size_t max)
{
	uint8_t b[2048];
	struct in_addr d;
	int i;

	ck_assert_int_eq(inet_pton(AF_INET, dst, &d), 1);
	for (i = 0; i < 50; i++) {
		struct pollfd pf = { .fd = pfd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		ssize_t n;
		size_t ihl;

		ck_assert_int_eq(poll(&pf, 1, 5000), 1);
		n = recvfrom(pfd, b, sizeof(b), 0, (struct sockaddr *)&from,
			     &flen);
		ck_assert_int_gt(n, 0);
		if (from.sll_protocol != htons(ETH_P_IP))
			continue;
		ihl = (size_t)(b[0] & 0xf) * 4;
		if ((size_t)n < ihl + 8 || b[9] != IPPROTO_ICMP ||
		    memcmp(b + 16, &d, 4) || b[ihl] != 8)
			continue;
		ck_assert_uint_le((size_t)n - ihl, max);
		memcpy(m, b + ihl, (size_t)n - ihl);
		return (size_t)n - ihl;
	}
	ck_abort_msg("no echo request for %s seen", dst);
	return 0;
}

/* Deliver an ICMP message m to 10.0.0.1 as if from `from`. */
static void forge(int rfd, const char *from, uint8_t *m, size_t len)
{
	uint8_t b[2048];
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint16_t ck;

	ck_assert_uint_le(len + 20, sizeof(b));
	m[2] = m[3] = 0;
	ck = csum(m, len);
	m[2] = (uint8_t)(ck >> 8);
	m[3] = (uint8_t)ck;
	memset(b, 0, 20);
	b[0] = 0x45;
	b[2] = (uint8_t)((len + 20) >> 8);
	b[3] = (uint8_t)(len + 20);
	b[8] = 64;
	b[9] = IPPROTO_ICMP;
	ck_assert_int_eq(inet_pton(AF_INET, from, b + 12), 1);
	ck_assert_int_eq(inet_pton(AF_INET, "10.0.0.1", b + 16), 1);
	ck_assert_int_eq(inet_pton(AF_INET, "10.0.0.1", &to.sin_addr), 1);
	memcpy(b + 20, m, len);
	ck_assert_int_eq(sendto(rfd, b, len + 20, 0, (struct sockaddr *)&to,
				sizeof(to)),
			 (ssize_t)(len + 20));
}

/*
 * Replies and errors that are not about a probe are ignored, whatever
 * they share with it: only identifier, sequence, payload and source
 * together make its reply, and only our echo embedded makes its error.
 */
START_TEST(test_icmp_forged)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	uint8_t echo[256], m[512];
	struct strata_hc_target t;
	struct checker c;
	struct result r;
	struct peer p;
	int pfd, rfd, one = 1;
	size_t n;

	netns_enter();
	p = peer_start();
	/* outgoing packets reach ETH_P_ALL taps only */
	pfd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	ck_assert_int_ge(pfd, 0);
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = (int)if_nametoindex("v0");
	ck_assert_int_eq(bind(pfd, (struct sockaddr *)&ll, sizeof(ll)), 0);
	rfd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(setsockopt(rfd, IPPROTO_IP, IP_HDRINCL, &one,
				    sizeof(one)), 0);

	checker_new(&c, &hc_icmp_plugin);
	target(&t, "10.8.0.1", 0); /* dropped by the peer */
	ck_assert_int_gt(probe(&c, &t, &r), 0);
	n = sniff_echo(pfd, "10.8.0.1", echo, sizeof(echo));
	ck_assert_uint_eq(n, 8 + 56);

	/* another identifier */
	memcpy(m, echo, n);
	m[0] = 0;
	m[4] ^= 0x5a;
	forge(rfd, "10.8.0.1", m, n);
	/* another payload (not our probe id and cookie) */
	memcpy(m, echo, n);
	m[0] = 0;
	m[8] ^= 1;
	forge(rfd, "10.8.0.1", m, n);
	/* from another address */
	memcpy(m, echo, n);
	m[0] = 0;
	forge(rfd, "10.8.0.2", m, n);
	/* an unreachable about an echo of another sequence number */
	memset(m, 0, 8);
	m[0] = 3;
	m[1] = 1;
	m[8] = 0x45;
	m[17] = IPPROTO_ICMP;
	inet_pton(AF_INET, "10.0.0.1", m + 20);
	inet_pton(AF_INET, "10.8.0.1", m + 24);
	memcpy(m + 28, echo, 8);
	m[35] ^= 1;
	forge(rfd, "10.0.0.2", m, 36);
	mock_host_run(c.mh, 200 * MS);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(status_int(&c, "ignored"), 3);

	/* the echo's own: up */
	memcpy(m, echo, n);
	m[0] = 0;
	forge(rfd, "10.8.0.1", m, n);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 1);

	/* and its error: down */
	ck_assert_int_gt(probe(&c, &t, &r), 0);
	n = sniff_echo(pfd, "10.8.0.1", echo, sizeof(echo));
	memset(m, 0, 8);
	m[0] = 3;
	m[1] = 13;
	m[8] = 0x45;
	m[17] = IPPROTO_ICMP;
	inet_pton(AF_INET, "10.0.0.1", m + 20);
	inet_pton(AF_INET, "10.8.0.1", m + 24);
	memcpy(m + 28, echo, 8);
	forge(rfd, "10.0.0.2", m, 36);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "administratively prohibited (from 10.0.0.2)");
	checker_free(&c);
	close(pfd);
	close(rfd);
	peer_stop(&p);
}
END_TEST

/* Drop CAP_NET_RAW from the effective set (and back). */
static void cap_net_raw(bool on)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	ck_assert_int_eq(syscall(SYS_capget, &hdr, data), 0);
	if (on)
		data[0].effective |= 1u << CAP_NET_RAW;
	else
		data[0].effective &= ~(1u << CAP_NET_RAW);
	ck_assert_int_eq(syscall(SYS_capset, &hdr, data), 0);
}

START_TEST(test_icmp_unprivileged)
{
	struct checker c;
	struct result r;
	struct peer p;
	unsigned errs;

	netns_enter();
	p = peer_start();
	cap_net_raw(false);

	/* no raw sockets, no ping sockets: said clearly */
	ck_assert_int_eq(checker_open(&c, &hc_icmp_plugin, NULL), -EPERM);
	errs = mock_host_log_count(c.mh, STRATA_LOG_ERR);
	ck_assert_uint_eq(errs, 2);
	mock_host_free(c.mh);

	/* ping sockets, where ping_group_range lets root's group have them */
	ck_assert_int_eq(sh("sysctl -qw net.ipv4.ping_group_range='0 0'"), 0);
	checker_new(&c, &hc_icmp_plugin);
	ck_assert_str_eq(status_str(&c, "ipv4"), "ping socket");
	ck_assert_str_eq(status_str(&c, "ipv6"), "ping socket");
	probe_wait(&c, "10.0.0.1", 0, &r);
	ck_assert_int_eq(r.up, 1);
	probe_wait(&c, "fd00::1", 0, &r);
	ck_assert_int_eq(r.up, 1);
	probe_wait(&c, "10.9.0.1", 0, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "host unreachable (from 10.0.0.2)");
	probe_wait(&c, "fd09::1", 0, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "no route to destination (from fd00::2)");
	/* and errors about echoes still pending stay theirs */
	probe_wait(&c, "10.0.0.2", 0, &r);
	ck_assert_int_eq(r.up, 1);
	checker_free(&c);
	cap_net_raw(true);
	peer_stop(&p);
}
END_TEST

/* -- http --------------------------------------------------------------- */

START_TEST(test_http_status)
{
	static const int status[] = { 200, 503, 204, 301, 404, 200 };
	struct strata_hc_target t;
	struct server s;
	struct checker c;
	struct result r;

	netns_enter();
	server_start(&s, "10.0.0.1", status, 6);
	checker_new(&c, &hc_http_plugin);
	target(&t, "10.0.0.1", s.port);

	/* expect 0: any 2xx */
	ck_assert_int_gt(probe(&c, &t, &r), 0);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 1);
	ck_assert_str_eq(r.reason, "status 200");
	ck_assert(!r.inside);

	t.path = "/healthz?full=1";
	ck_assert_int_gt(probe(&c, &t, &r), 0);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "status 503");

	ck_assert_int_gt(probe(&c, &t, &r), 0);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 1);
	ck_assert_str_eq(r.reason, "status 204");

	/* redirects are not followed: a 301 is not a 2xx */
	ck_assert_int_gt(probe(&c, &t, &r), 0);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "status 301");

	/* expect an exact status */
	t.expect = 404;
	ck_assert_int_gt(probe(&c, &t, &r), 0);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 1);
	ck_assert_str_eq(r.reason, "status 404");

	t.expect = 204;
	ck_assert_int_gt(probe(&c, &t, &r), 0);
	ck_assert(mock_host_run_until(c.mh, called, &r, 10000 * MS));
	ck_assert_int_eq(r.up, 0);
	ck_assert_str_eq(r.reason, "status 200");
	mock_host_run(c.mh, 20 * MS);
	ck_assert_int_eq(r.calls, 1);

	server_stop(&s);
	ck_assert_int_eq(s.served, 6);
	ck_assert_str_eq(s.lines[0], "GET / HTTP/1.1");
	ck_assert_str_eq(s.lines[1], "GET /healthz?full=1 HTTP/1.1");
	ck_assert_int_eq(status_int(&c, "up"), 3);
	ck_assert_int_eq(status_int(&c, "down"), 3);
	checker_free(&c);
}
END_TEST

START_TEST(test_http_ipv6)
{
	static const int status[] = { 200 };
	struct server s;
	struct checker c;
	struct result r;

	netns_enter();
	server_start(&s, "fd00::1", status, 1);
	checker_new(&c, &hc_http_plugin);
	probe_wait(&c, "fd00::1", s.port, &r);
	ck_assert_int_eq(r.up, 1);
	ck_assert_str_eq(r.reason, "status 200");
	server_stop(&s);
	ck_assert_str_eq(s.lines[0], "GET / HTTP/1.1");
	checker_free(&c);
}
END_TEST

START_TEST(test_http_refused)
{
	struct checker c;
	struct result r;
	uint16_t port;
	int fd;

	netns_enter();
	fd = tcp_socket("10.0.0.1", false, &port);
	checker_new(&c, &hc_http_plugin);
	probe_wait(&c, "10.0.0.1", port, &r);
	ck_assert_int_eq(r.up, 0);
	ck_assert_msg(strstr(r.reason, "onnect"), "%s", r.reason);
	ck_assert(strncmp(r.reason, "status", 6));
	checker_free(&c);
	close(fd);
}
END_TEST

START_TEST(test_http_cancel)
{
	struct strata_hc_target t;
	struct result r, r2;
	struct checker c;
	uint16_t port;
	int64_t id;
	int fd;

	netns_enter();
	/* listening, never answering: the request hangs */
	fd = tcp_socket("10.0.0.1", true, &port);
	checker_new(&c, &hc_http_plugin);
	target(&t, "10.0.0.1", port);
	id = probe(&c, &t, &r);
	ck_assert_int_gt(id, 0);
	ck_assert_int_gt(probe(&c, &t, &r2), 0);
	mock_host_run(c.mh, 300 * MS);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(status_int(&c, "pending"), 2);
	c.ops->cancel(c.self, id);
	c.ops->cancel(c.self, id);
	ck_assert_int_eq(status_int(&c, "pending"), 1);
	mock_host_run(c.mh, 100 * MS);
	ck_assert_int_eq(r.calls, 0);
	/* destroy cancels the other */
	checker_free(&c);
	ck_assert_int_eq(r2.calls, 0);
	close(fd);
}
END_TEST

static Suite *hc_suite(void)
{
	Suite *s = suite_create("healthcheck");
	TCase *tc = tcase_create("hc");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_descriptors);
	tcase_add_test(tc, test_bad_targets);
	tcase_add_test(tc, test_tcp_up);
	tcase_add_test(tc, test_tcp_refused);
	tcase_add_test(tc, test_tcp_unreachable);
	tcase_add_test(tc, test_tcp_drop_cancel);
	tcase_add_test(tc, test_icmp_up);
	tcase_add_test(tc, test_icmp_payload_size);
	tcase_add_test(tc, test_icmp_unreachable);
	tcase_add_test(tc, test_icmp_drop_cancel);
	tcase_add_test(tc, test_icmp_two_instances);
	tcase_add_test(tc, test_icmp_forged);
	tcase_add_test(tc, test_icmp_unprivileged);
	tcase_add_test(tc, test_http_status);
	tcase_add_test(tc, test_http_ipv6);
	tcase_add_test(tc, test_http_refused);
	tcase_add_test(tc, test_http_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* probes go straight to their targets, never through a proxy */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(hc_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
