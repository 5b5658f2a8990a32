/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The listening socket of a BGP instance: see listen.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

#define NS 1000000000LL
#define ACCEPTS_PER_WAKE 16
#define UNKNOWN_SLOTS 16
#define UNKNOWN_LOG_NS (60 * NS)

struct unknown {
	struct strata_addr addr;
	int64_t logged; /* 0: slot free */
	uint64_t count; /* since the last line */
};

struct bgp_listener {
	const struct strata_host *h;
	struct strata_instance *inst;
	int fd;
	int family; /* AF_INET, AF_INET6 */
	uint16_t port;
	struct strata_watch *watch;
	bgp_accept_fn fn;
	void *arg;
	uint64_t refused;
	struct unknown unknown[UNKNOWN_SLOTS];
};

socklen_t bgp_sockaddr(const struct strata_addr *a, uint16_t port,
		       struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == STRATA_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->addr, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	memcpy(&s4->sin_addr, a->addr, 4);
	return sizeof(*s4);
}

static void from_sockaddr(const struct sockaddr_storage *ss,
			  struct strata_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		a->family = STRATA_AF_INET6;
		memcpy(a->addr, &s6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		a->family = STRATA_AF_INET;
		memcpy(a->addr, &s4->sin_addr, 4);
	}
}

static const char *addr_str(const struct strata_addr *a, char *buf,
			    size_t len)
{
	if (!inet_ntop(a->family == STRATA_AF_INET6 ? AF_INET6 : AF_INET,
		       a->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* Log an unknown source at most once a minute; the table is bounded, the
 * slot logged longest ago makes room. */
static void unknown_source(struct bgp_listener *l, const struct strata_addr *a)
{
	struct unknown *u = NULL, *old = &l->unknown[0];
	int64_t now = l->h->now();
	char buf[INET6_ADDRSTRLEN];
	unsigned i;

	l->refused++;
	for (i = 0; i < UNKNOWN_SLOTS; i++) {
		struct unknown *x = &l->unknown[i];

		if (x->logged && x->addr.family == a->family &&
		    !memcmp(x->addr.addr, a->addr, 16)) {
			u = x;
			break;
		}
		if (x->logged < old->logged)
			old = x;
	}
	if (u && now - u->logged < UNKNOWN_LOG_NS) {
		u->count++;
		return;
	}
	if (!u) {
		u = old;
		u->addr = *a;
		u->count = 1;
	}
	l->h->log(l->inst, STRATA_LOG_WARNING,
		  "connection from %s, which is no configured peer: closed "
		  "(%llu in the last minute)", addr_str(a, buf, sizeof(buf)),
		  (unsigned long long)u->count);
	u->logged = now;
	u->count = 0;
}

static void accept_cb(void *arg, int fd, uint32_t events)
{
	struct bgp_listener *l = arg;
	struct sockaddr_storage ss;
	struct strata_addr from;
	socklen_t sl;
	int c, i;

	(void)events;
	for (i = 0; i < ACCEPTS_PER_WAKE; i++) {
		sl = sizeof(ss);
		c = accept4(fd, (struct sockaddr *)&ss, &sl,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			l->h->log(l->inst, STRATA_LOG_WARNING, "accept: %s",
				  strerror(errno));
			return;
		}
		from_sockaddr(&ss, &from);
		if (l->fn(l->arg, &from, c) == -ENOENT) {
			unknown_source(l, &from);
			close(c);
		}
	}
}

int bgp_listener_open(const struct strata_host *h, struct strata_instance *inst,
		      const struct bgp_listener_cfg *cfg, bgp_accept_fn fn,
		      void *arg, struct bgp_listener **out)
{
	struct bgp_listener *l;
	struct sockaddr_storage ss;
	socklen_t sl;
	char buf[INET6_ADDRSTRLEN];
	int one = 1, ttl = 255, rc;

	*out = NULL;
	if (cfg->addr.family != STRATA_AF_INET &&
	    cfg->addr.family != STRATA_AF_INET6)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->h = h;
	l->inst = inst;
	l->fn = fn;
	l->arg = arg;
	l->family = cfg->addr.family == STRATA_AF_INET6 ? AF_INET6 : AF_INET;
	l->fd = socket(l->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (l->fd < 0) {
		rc = -errno;
		goto fail;
	}
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			   sizeof(one));
	if (cfg->gtsm && l->family == AF_INET)
		setsockopt(l->fd, IPPROTO_IP, IP_MINTTL, &ttl, sizeof(ttl));
	else if (cfg->gtsm)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &ttl,
			   sizeof(ttl));
	sl = bgp_sockaddr(&cfg->addr, cfg->port, &ss);
	if (bind(l->fd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(l->fd, 16) < 0) {
		rc = -errno;
		goto fail;
	}
	sl = sizeof(ss);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0)
		l->port = ntohs(l->family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
	l->watch = h->fd_watch(inst, l->fd, STRATA_FD_IN, accept_cb, l);
	if (!l->watch) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = l;
	return 0;
fail:
	h->log(inst, STRATA_LOG_ERR, "cannot listen on %s%s%s port %u: %s%s",
	       l->family == AF_INET6 ? "[" : "",
	       addr_str(&cfg->addr, buf, sizeof(buf)),
	       l->family == AF_INET6 ? "]" : "", cfg->port, strerror(-rc),
	       rc == -EACCES && cfg->port < 1024 ?
	       " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)" :
	       rc == -EADDRINUSE ? " (another BGP speaker listens there?)" :
	       "");
	if (l->fd >= 0)
		close(l->fd);
	free(l);
	return rc;
}

int bgp_listener_add_key(struct bgp_listener *l, const struct strata_addr *peer,
			 const char *password)
{
	struct tcp_md5sig md = { .tcpm_keylen = 0 };
	size_t len = strlen(password);
	int rc;

	if (len > TCP_MD5SIG_MAXKEYLEN)
		return -EINVAL;
	if ((peer->family == STRATA_AF_INET6) != (l->family == AF_INET6))
		return -EAFNOSUPPORT;
	bgp_sockaddr(peer, 0, &md.tcpm_addr);
	md.tcpm_keylen = (uint16_t)len;
	memcpy(md.tcpm_key, password, len);
	rc = setsockopt(l->fd, IPPROTO_TCP, TCP_MD5SIG, &md, sizeof(md)) < 0 ?
	     -errno : 0;
	explicit_bzero(&md, sizeof(md));
	return rc;
}

uint16_t bgp_listener_port(const struct bgp_listener *l)
{
	return l->port;
}

uint64_t bgp_listener_refused(const struct bgp_listener *l)
{
	return l->refused;
}

void bgp_listener_free(struct bgp_listener *l)
{
	if (!l)
		return;
	if (l->watch)
		l->h->fd_unwatch(l->inst, l->watch);
	close(l->fd);
	free(l);
}
