/* SPDX-License-Identifier: Apache-2.0 */
/*
 * healthcheck "tcp": a target is up when a TCP connection to addr:port
 * completes.
 *
 * Each probe is one non-blocking connect() watched on the host's loop for
 * OUT; SO_ERROR then says how it went. The socket is closed at once, with
 * a reset rather than a FIN, so that checking leaves no TIME_WAIT behind.
 * A connect() that fails on the spot (a local unreachable route) is
 * reported from a zero-delay timer: never inside probe(). Timing is the
 * host's: a probe that never completes is cancelled by its timeout.
 *
 * Only the public plugin ABI is used here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strata/plugin.h>

struct probe {
	struct probe *next, *prev;
	struct tcp *t;
	int64_t id;
	int fd;
	struct strata_watch *watch;
	struct strata_timer *soon; /* reports an immediate result */
	int err;                   /* for soon: 0 connected, else errno */
	strata_hc_done done;
	void *arg;
};

struct tcp {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct probe *probes;
	int64_t next_id;
	int64_t n_up, n_down;
};

static void probe_unlink(struct probe *p)
{
	struct tcp *t = p->t;

	if (p->prev)
		p->prev->next = p->next;
	else
		t->probes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
}

/* Releases what the probe holds; it must be unlinked already. */
static void probe_free(struct probe *p)
{
	struct tcp *t = p->t;

	if (p->soon)
		t->h->timer_stop(t->inst, p->soon);
	if (p->watch)
		t->h->fd_unwatch(t->inst, p->watch);
	if (p->fd >= 0) {
		/* reset, not FIN: no TIME_WAIT per probe */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(p->fd);
	}
	free(p);
}

/* Short operator words for the errors a connect() ends with. */
static const char *reason_of(int err)
{
	switch (err) {
	case 0:
		return "connected";
	case ECONNREFUSED:
		return "connection refused";
	case ENETUNREACH:
		return "network unreachable";
	case EHOSTUNREACH:
		return "host unreachable";
	case ETIMEDOUT:
		return "connection timed out";
	case ECONNRESET:
		return "connection reset";
	case EACCES:
	case EPERM:
		return "prohibited";
	case EINVAL:
		/* what connect() says for a blackhole route */
		return "no route (blackhole)";
	default:
		return strerror(err);
	}
}

static void finish(struct probe *p, int err)
{
	struct tcp *t = p->t;
	strata_hc_done done = p->done;
	void *arg = p->arg;

	probe_unlink(p);
	probe_free(p);
	if (err)
		t->n_down++;
	else
		t->n_up++;
	/* last: done may start or cancel probes */
	done(arg, !err, reason_of(err));
}

static void on_soon(void *arg)
{
	struct probe *p = arg;

	p->soon = NULL; /* spent */
	finish(p, p->err);
}

static void on_writable(void *arg, int fd, uint32_t events)
{
	struct probe *p = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	/* a spurious wakeup: still connecting */
	if (err == EINPROGRESS || err == EALREADY)
		return;
	finish(p, err);
}

static int to_sockaddr(const struct strata_hc_target *tg,
		       struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (tg->addr.family == STRATA_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(tg->port);
		memcpy(&sin->sin_addr, tg->addr.addr, 4);
		*len = sizeof(*sin);
		return 0;
	}
	if (tg->addr.family == STRATA_AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(tg->port);
		memcpy(&sin6->sin6_addr, tg->addr.addr, 16);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int64_t tcp_probe(void *self, const struct strata_hc_target *tg,
			 strata_hc_done done, void *arg)
{
	struct tcp *t = self;
	struct sockaddr_storage ss;
	struct probe *p;
	socklen_t len;
	int rc;

	if (!tg || !done)
		return -EINVAL;
	if (tg->port == 0)
		return -EINVAL;
	rc = to_sockaddr(tg, &ss, &len);
	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->t = t;
	p->done = done;
	p->arg = arg;
	p->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (p->fd < 0) {
		rc = -errno;
		goto free_probe;
	}
	rc = connect(p->fd, (struct sockaddr *)&ss, len);
	if (rc == 0 || errno != EINPROGRESS) {
		/* decided on the spot; report it from the loop */
		p->err = rc == 0 ? 0 : errno;
		p->soon = t->h->timer_start(t->inst, 0, 0, on_soon, p);
		if (!p->soon) {
			rc = -ENOMEM;
			goto free_probe;
		}
	} else {
		p->watch = t->h->fd_watch(t->inst, p->fd, STRATA_FD_OUT,
					  on_writable, p);
		if (!p->watch) {
			rc = -ENOMEM;
			goto free_probe;
		}
	}
	p->id = ++t->next_id;
	p->next = t->probes;
	if (p->next)
		p->next->prev = p;
	t->probes = p;
	return p->id;

free_probe:
	probe_free(p);
	return rc;
}

static void tcp_cancel(void *self, int64_t id)
{
	struct tcp *t = self;
	struct probe *p;

	for (p = t->probes; p; p = p->next) {
		if (p->id == id) {
			probe_unlink(p);
			probe_free(p);
			return;
		}
	}
}

static int tcp_create(const struct strata_host *host,
		      struct strata_instance *inst, void **self)
{
	struct tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->h = host;
	t->inst = inst;
	*self = t;
	return 0;
}

static int tcp_start(void *self)
{
	(void)self;
	return 0;
}

static int tcp_reconfigure(void *self)
{
	(void)self;
	return 0; /* no keys */
}

static void tcp_destroy(void *self)
{
	struct tcp *t = self;
	struct probe *p;

	while ((p = t->probes)) {
		probe_unlink(p);
		probe_free(p);
	}
	free(t);
}

static void tcp_status(void *self, struct strata_status *st)
{
	struct tcp *t = self;
	int64_t pending = 0;
	struct probe *p;

	for (p = t->probes; p; p = p->next)
		pending++;
	t->h->status_int(st, "pending", pending);
	t->h->status_int(st, "up", t->n_up);
	t->h->status_int(st, "down", t->n_down);
}

static const struct strata_plugin_ops tcp_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = tcp_create,
	.start = tcp_start,
	.reconfigure = tcp_reconfigure,
	.destroy = tcp_destroy,
	.status = tcp_status,
};

static const struct strata_healthcheck_ops tcp_hc_ops = {
	.size = sizeof(struct strata_healthcheck_ops),
	.probe = tcp_probe,
	.cancel = tcp_cancel,
};

STRATA_PLUGIN(STRATA_KIND_HEALTHCHECK, "tcp", STRATA_VERSION,
	      "health check: a TCP connection to addr:port completes",
	      NULL, &tcp_ops, &tcp_hc_ops);
