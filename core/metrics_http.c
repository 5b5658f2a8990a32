/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "metrics_http.h"

#define ACCEPT_BATCH 16
#define ACCEPT_PAUSE_NS (100 * 1000000LL)

/* ---- the request head --------------------------------------------------- */

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* The end of the head (past its blank line) within buf, or 0. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		/* a blank line: "\n\n" or "\n\r\n" */
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Length of the line at p (up to end), without its \r\n or \n. */
static size_t line_len(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n = (size_t)(nl - p);

	*next = nl + 1;
	return n && p[n - 1] == '\r' ? n - 1 : n;
}

static int parse_request_line(const char *p, size_t n,
			      struct mhttp_request *out)
{
	const char *end = p + n, *m = p, *t, *v;
	size_t mlen, tlen, plen;

	while (p < end && tchar(*p))
		p++;
	mlen = (size_t)(p - m);
	if (!mlen || p == end || *p++ != ' ')
		return -EINVAL;
	t = p;
	while (p < end && *p != ' ') {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return -EINVAL;
		p++;
	}
	tlen = (size_t)(p - t);
	if (!tlen || p == end || *p++ != ' ')
		return -EINVAL;
	v = p;
	if ((size_t)(end - v) != 8 || memcmp(v, "HTTP/", 5) ||
	    v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
	    v[7] > '9')
		return -EINVAL;
	if (v[5] != '1')
		return -EPROTONOSUPPORT;
	if (mlen == 3 && !memcmp(m, "GET", 3))
		out->method = MHTTP_GET;
	else if (mlen == 4 && !memcmp(m, "HEAD", 4))
		out->method = MHTTP_HEAD;
	else
		out->method = MHTTP_OTHER;
	plen = 0;
	while (plen < tlen && t[plen] != '?')
		plen++;
	out->path[0] = '\0';
	if (plen < sizeof(out->path)) {
		memcpy(out->path, t, plen);
		out->path[plen] = '\0';
	}
	return 0;
}

static bool header_ok(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && tchar(p[i]))
		i++;
	if (!i || i == n || p[i] != ':')
		return false;
	for (i++; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return false;
	return true;
}

int mhttp_parse(const char *buf, size_t len, struct mhttp_request *out)
{
	const char *p = buf, *end, *next;
	size_t full = len, hlen, n;
	int rc;

	/* clients may send blank lines before the request line */
	while (len && (*p == '\r' || *p == '\n')) {
		p++;
		len--;
	}
	hlen = head_end(p, len < MHTTP_HEAD_MAX ? len : MHTTP_HEAD_MAX);
	if (!hlen)
		return full >= MHTTP_HEAD_MAX ? -E2BIG : 0;
	end = p + hlen;
	n = line_len(p, end, &next);
	rc = parse_request_line(p, n, out);
	if (rc < 0)
		return rc;
	for (p = next; p < end; p = next) {
		n = line_len(p, end, &next);
		if (!n)
			break; /* the blank line */
		if (!header_ok(p, n))
			return -EINVAL;
	}
	out->head_len = (size_t)(end - buf);
	return 1;
}

int mhttp_status(const struct mhttp_request *req)
{
	if (strcmp(req->path, "/metrics"))
		return 404;
	return req->method == MHTTP_OTHER ? 405 : 200;
}

/* ---- the server --------------------------------------------------------- */

struct conn {
	struct mhttp *h;
	struct conn *next;
	int fd;
	struct loop_fd *watch;
	struct loop_timer *timer;
	char in[MHTTP_HEAD_MAX];
	size_t in_len;
	struct metric_buf out; /* the response, from off on unsent */
	size_t off;
};

struct mhttp {
	struct loop *loop;
	int fd;
	uint16_t port;
	struct loop_fd *watch;
	struct loop_timer *pause;
	mhttp_render_fn render;
	void *arg;
	struct conn *conns;
	size_t n_conns;
};

static void conn_close(struct conn *c)
{
	struct mhttp *h = c->h;

	for (struct conn **pp = &h->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	h->n_conns--;
	loop_fd_del(c->watch);
	if (c->timer)
		loop_timer_cancel(c->timer);
	close(c->fd);
	metric_buf_free(&c->out);
	free(c);
	/* a slot is free again */
	if (h->n_conns + 1 == MHTTP_CONNS_MAX && !h->pause)
		loop_fd_mod(h->watch, EPOLLIN);
}

static void conn_timeout(void *arg)
{
	/* conn_close cancels the timer, which frees it */
	conn_close(arg);
}

static void conn_flush(struct conn *c)
{
	while (c->off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->off, c->out.len - c->off,
				 MSG_NOSIGNAL);

		if (n > 0) {
			c->off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			loop_fd_mod(c->watch, EPOLLOUT);
			return;
		}
		break; /* the client is gone */
	}
	conn_close(c);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	default: return "HTTP Version Not Supported";
	}
}

static void respond_error(struct conn *c, int status)
{
	char body[64], head[256];
	int nb, nh;

	nb = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	nh = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d %s\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Length: %d\r\n"
		      "%s"
		      "Connection: close\r\n\r\n",
		      status, reason(status), nb,
		      status == 405 ? "Allow: GET, HEAD\r\n" : "");
	metric_buf_free(&c->out);
	c->out = (struct metric_buf){ 0 };
	if (nh > 0 && nb > 0) {
		struct metric_buf *b = &c->out;

		b->p = malloc((size_t)nh + (size_t)nb + 1);
		if (b->p) {
			memcpy(b->p, head, (size_t)nh);
			memcpy(b->p + nh, body, (size_t)nb + 1);
			b->len = (size_t)nh + (size_t)nb;
			b->cap = b->len + 1;
		}
	}
	c->off = 0;
	conn_flush(c);
}

static void respond(struct conn *c, const struct mhttp_request *req)
{
	struct metric_buf body = { 0 };
	char head[256];
	int status = mhttp_status(req), nh;
	size_t blen;

	if (status != 200) {
		respond_error(c, status);
		return;
	}
	if (c->h->render(c->h->arg, &body) < 0 || body.err) {
		metric_buf_free(&body);
		respond_error(c, 500);
		return;
	}
	blen = body.len;
	nh = snprintf(head, sizeof(head),
		      "HTTP/1.1 200 OK\r\n"
		      "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		      "Content-Length: %zu\r\n"
		      "Connection: close\r\n\r\n", blen);
	metric_buf_free(&c->out);
	c->out = (struct metric_buf){ 0 };
	if (nh <= 0 || !(c->out.p = malloc((size_t)nh + 1 +
				     (req->method == MHTTP_GET ? blen : 0)))) {
		metric_buf_free(&body);
		conn_close(c);
		return;
	}
	memcpy(c->out.p, head, (size_t)nh);
	c->out.len = (size_t)nh;
	if (req->method == MHTTP_GET && blen) {
		memcpy(c->out.p + nh, body.p, blen);
		c->out.len += blen;
	}
	c->out.cap = c->out.len + 1;
	metric_buf_free(&body);
	c->off = 0;
	conn_flush(c);
}

static void conn_event(void *arg, int fd, uint32_t events)
{
	struct conn *c = arg;
	struct mhttp_request req;
	ssize_t n;
	int rc;

	if (c->out.p) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_flush(c);
		return;
	}
	n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	rc = mhttp_parse(c->in, c->in_len, &req);
	if (rc == 0)
		return;
	loop_fd_mod(c->watch, 0); /* nothing more is read */
	if (rc == 1)
		respond(c, &req);
	else
		respond_error(c, rc == -E2BIG ? 431
				 : rc == -EPROTONOSUPPORT ? 505 : 400);
}

static void accept_resume(void *arg)
{
	struct mhttp *h = arg;

	loop_timer_cancel(h->pause);
	h->pause = NULL;
	if (h->n_conns < MHTTP_CONNS_MAX)
		loop_fd_mod(h->watch, EPOLLIN);
}

static void conn_accept(struct mhttp *h, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		goto close_fd;
	c->h = h;
	c->fd = fd;
	c->watch = loop_fd_add(h->loop, fd, EPOLLIN, conn_event, c);
	if (!c->watch)
		goto free_conn;
	c->timer = loop_timer_add(h->loop, MHTTP_TIMEOUT_NS, 0, conn_timeout,
				  c);
	if (!c->timer)
		goto del_watch;
	c->next = h->conns;
	h->conns = c;
	h->n_conns++;
	return;
del_watch:
	loop_fd_del(c->watch);
free_conn:
	free(c);
close_fd:
	close(fd);
}

static void on_accept(void *arg, int fd, uint32_t events)
{
	struct mhttp *h = arg;
	int cfd;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		if (h->n_conns >= MHTTP_CONNS_MAX) {
			/* bounded: the backlog waits until one closes */
			loop_fd_mod(h->watch, 0);
			return;
		}
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			conn_accept(h, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_warn("metrics: accept: %s", strerror(errno));
		if (h->pause)
			return;
		h->pause = loop_timer_add(h->loop, ACCEPT_PAUSE_NS,
					  ACCEPT_PAUSE_NS, accept_resume, h);
		if (h->pause)
			loop_fd_mod(h->watch, 0);
		return;
	}
}

static int listen_on(const char *addr, uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	int fd, one = 1, zero = 0, rc;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" serves IPv4 too */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*bound = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	return fd;
}

int mhttp_new(struct loop *loop, const char *addr, uint16_t port,
	      mhttp_render_fn render, void *arg, struct mhttp **out)
{
	struct mhttp *h;
	int fd;

	if (!addr || !render)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	fd = listen_on(addr, port, &h->port);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->loop = loop;
	h->fd = fd;
	h->render = render;
	h->arg = arg;
	h->watch = loop_fd_add(loop, fd, EPOLLIN, on_accept, h);
	if (!h->watch) {
		close(fd);
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void mhttp_free(struct mhttp *h)
{
	if (!h)
		return;
	while (h->conns)
		conn_close(h->conns);
	if (h->pause)
		loop_timer_cancel(h->pause);
	loop_fd_del(h->watch);
	close(h->fd);
	free(h);
}

uint16_t mhttp_port(const struct mhttp *h)
{
	return h->port;
}
