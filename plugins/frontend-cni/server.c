/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frontend's unix socket. Everything runs on the host's loop: reads
 * and writes never block, a request must arrive within IO_TIMEOUT_NS and
 * a reply must be taken within it, and a request is at most
 * SERVER_MAX_REQUEST bytes. Only root may connect (the socket is 0600
 * too; the peer check is what cannot be raced).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "server.h"

#define IO_TIMEOUT_NS (5 * 1000000000LL)
#define MAX_CONNS 256

struct conn {
	struct server *s;
	struct conn *prev, *next;
	int sock;
	int netns;
	struct strata_watch *watch;
	struct strata_timer *timer;
	char *buf;
	size_t len, cap;
	bool handling;
	size_t sent;
	int64_t t0;          /* when the request was handed over */
	const char *command; /* for the latency metrics; NULL: not counted */
	bool failed;
};

struct server {
	const struct strata_host *h;
	struct strata_instance *inst;
	char *path;
	int sock;
	struct strata_watch *watch;
	server_request_cb cb;
	void *arg;
	struct conn *conns;
	unsigned n_conns;
};

static void conn_free(struct conn *c)
{
	struct server *s = c->s;

	if (c->watch)
		s->h->fd_unwatch(s->inst, c->watch);
	if (c->timer)
		s->h->timer_stop(s->inst, c->timer);
	if (c->sock >= 0)
		close(c->sock);
	if (c->netns >= 0)
		close(c->netns);
	free(c->buf);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	free(c);
}

static void conn_timeout(void *arg)
{
	struct conn *c = arg;

	c->timer = NULL;
	c->s->h->log(c->s->inst, STRATA_LOG_WARNING,
		     "client connection timed out %s", c->handling ?
		     "taking the reply" : "sending its request");
	conn_free(c);
}

static void conn_write(void *arg, int fd, uint32_t events)
{
	struct conn *c = arg;
	ssize_t n;

	(void)fd;
	(void)events;
	while (c->sent < c->len) {
		n = send(c->sock, c->buf + c->sent, c->len - c->sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->watch)
				c->watch = c->s->h->fd_watch(c->s->inst, c->sock,
							     STRATA_FD_OUT,
							     conn_write, c);
			if (!c->watch)
				break;
			if (!c->timer)
				c->timer = c->s->h->timer_start(
					c->s->inst, IO_TIMEOUT_NS, 0,
					conn_timeout, c);
			return;
		}
		if (n <= 0)
			break; /* the client went away: nothing to tell it */
		c->sent += (size_t)n;
	}
	conn_free(c);
}

void conn_set_command(struct conn *c, const char *command)
{
	c->command = command;
}

/* The request's latency by command, and its failure, for Prometheus. */
static void conn_count(struct conn *c)
{
	const struct strata_host *h = c->s->h;
	char series[96];

	if (!c->command ||
	    h->size < offsetof(struct strata_host, metric_observe) +
			      sizeof(h->metric_observe))
		return;
	snprintf(series, sizeof(series),
		 "cni_request_duration_seconds{command=\"%s\"}", c->command);
	h->metric_observe(c->s->inst, series, h->now() - c->t0);
	snprintf(series, sizeof(series), "cni_errors_total{command=\"%s\"}",
		 c->command);
	h->metric_add(c->s->inst, series, c->failed);
	c->command = NULL;
}

void conn_reply(struct conn *c, const char *json, size_t len)
{
	char *b = malloc(len + 1);

	conn_count(c);
	if (c->watch) {
		c->s->h->fd_unwatch(c->s->inst, c->watch);
		c->watch = NULL;
	}
	if (c->timer) {
		c->s->h->timer_stop(c->s->inst, c->timer);
		c->timer = NULL;
	}
	if (!b) {
		conn_free(c);
		return;
	}
	memcpy(b, json, len);
	b[len] = '\n';
	free(c->buf);
	c->buf = b;
	c->len = len + 1;
	c->sent = 0;
	c->handling = true;
	conn_write(c, c->sock, STRATA_FD_OUT);
}

void conn_fail(struct conn *c, int code, const char *details,
	       const char *fmt, ...)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *out;
	char msg[1024];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->failed = true;
	if (!g) {
		conn_count(c);
		conn_free(c);
		return;
	}
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"ok", 2);
	yajl_gen_bool(g, 0);
	yajl_gen_string(g, (const unsigned char *)"code", 4);
	yajl_gen_integer(g, code);
	yajl_gen_string(g, (const unsigned char *)"msg", 3);
	yajl_gen_string(g, (const unsigned char *)msg, strlen(msg));
	if (details) {
		yajl_gen_string(g, (const unsigned char *)"details", 7);
		yajl_gen_string(g, (const unsigned char *)details,
				strlen(details));
	}
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &out, &len);
	conn_reply(c, (const char *)out, len);
	yajl_gen_free(g);
}

int conn_fd(const struct conn *c)
{
	return c->netns;
}

static void conn_dispatch(struct conn *c)
{
	c->s->h->fd_unwatch(c->s->inst, c->watch);
	c->watch = NULL;
	c->s->h->timer_stop(c->s->inst, c->timer);
	c->timer = NULL;
	c->handling = true;
	c->t0 = c->s->h->now();
	c->s->cb(c->s->arg, c, c->buf, c->len);
}

/* Keep the first fd that arrives; close any others. */
static int take_fds(struct conn *c, struct msghdr *m)
{
	struct cmsghdr *cm;
	int bad = 0;

	for (cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		size_t n;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)(void *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			if (c->netns < 0 && i == 0) {
				c->netns = fds[i];
			} else {
				close(fds[i]);
				bad = -EINVAL;
			}
		}
	}
	return bad;
}

static void conn_read(void *arg, int fd, uint32_t events)
{
	struct conn *c = arg;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = { 0 };
	struct iovec iov;
	ssize_t n;
	char *nl;

	(void)fd;
	(void)events;
	for (;;) {
		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 8192;
			char *b;

			if (cap > SERVER_MAX_REQUEST + 2)
				cap = SERVER_MAX_REQUEST + 2;
			if (cap <= c->len + 1) {
				conn_fail(c, 5, NULL,
					  "request too large (max %d bytes)",
					  SERVER_MAX_REQUEST);
				return;
			}
			b = realloc(c->buf, cap);
			if (!b) {
				conn_free(c);
				return;
			}
			c->buf = b;
			c->cap = cap;
		}
		iov.iov_base = c->buf + c->len;
		iov.iov_len = c->cap - c->len - 1;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(c->sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			conn_free(c);
			return;
		}
		if (take_fds(c, &m) < 0 || (m.msg_flags & MSG_CTRUNC)) {
			conn_fail(c, 5, NULL,
				  "a request carries at most one fd");
			return;
		}
		if (n == 0) {
			if (c->len == 0) {
				conn_free(c);
				return;
			}
			break; /* shut down after the request */
		}
		nl = memchr(c->buf + c->len, '\n', (size_t)n);
		c->len += (size_t)n;
		if (nl) {
			c->len = (size_t)(nl - c->buf);
			break;
		}
	}
	conn_dispatch(c);
}

static bool peer_allowed(int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void server_accept(void *arg, int fd, uint32_t events)
{
	struct server *s = arg;
	struct conn *c;
	int sock;

	(void)fd;
	(void)events;
	while ((sock = accept4(s->sock, NULL, NULL,
			       SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (s->n_conns >= MAX_CONNS || !peer_allowed(sock)) {
			s->h->log(s->inst, STRATA_LOG_WARNING, "%s",
				  s->n_conns >= MAX_CONNS ?
				  "too many connections: one refused" :
				  "connection from a non-root peer refused");
			close(sock);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(sock);
			continue;
		}
		c->s = s;
		c->sock = sock;
		c->netns = -1;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
		c->watch = s->h->fd_watch(s->inst, sock, STRATA_FD_IN,
					  conn_read, c);
		c->timer = s->h->timer_start(s->inst, IO_TIMEOUT_NS, 0,
					     conn_timeout, c);
		if (!c->watch || !c->timer)
			conn_free(c);
	}
}

/* A socket file that nobody answers on is a leftover: remove it. A live
 * one means another stratad serves it. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(a.sun_path, path, strlen(path) + 1);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another stratad is listening",
			 path);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int server_open(const struct strata_host *h, struct strata_instance *inst,
		const char *path, server_request_cb cb, void *arg,
		struct server **out, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct server *s;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "socket: path longer than %zu bytes",
			 sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	s->h = h;
	s->inst = inst;
	s->cb = cb;
	s->arg = arg;
	s->sock = -1;
	err[0] = '\0';
	rc = make_parent(path);
	if (!rc)
		rc = clear_stale(path, err, errlen);
	if (rc)
		goto fail;
	s->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (s->sock < 0) {
		rc = -errno;
		goto fail;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	/* nobody but root may connect, from the first moment */
	old = umask(0177);
	rc = bind(s->sock, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
	umask(old);
	if (!rc && listen(s->sock, 128) < 0)
		rc = -errno;
	if (rc)
		goto fail;
	s->watch = h->fd_watch(inst, s->sock, STRATA_FD_IN, server_accept, s);
	if (!s->watch) {
		rc = -ENOMEM;
		goto fail_unlink;
	}
	*out = s;
	return 0;
fail_unlink:
	unlink(path);
fail:
	if (!err[0])
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	if (s->sock >= 0)
		close(s->sock);
	free(s->path);
	free(s);
	return rc;
}

void server_close(struct server *s)
{
	struct stat st;

	if (!s || s->sock < 0)
		return;
	s->h->fd_unwatch(s->inst, s->watch);
	s->watch = NULL;
	if (stat(s->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(s->path);
	close(s->sock);
	s->sock = -1;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	server_close(s);
	while (s->conns)
		conn_free(s->conns);
	free(s->path);
	free(s);
}
