/* SPDX-License-Identifier: Apache-2.0 */
/*
 * healthcheck "icmp": a target is up when it answers an ICMP echo (ping),
 * over IPv4 or IPv6.
 *
 * start() opens one socket per family: a raw socket (CAP_NET_RAW) or, when
 * that is not permitted, an unprivileged ping socket (SOCK_DGRAM,
 * IPPROTO_ICMP, where net.ipv4.ping_group_range allows it). Each probe is
 * one echo carrying the instance's identifier and a sequence number of its
 * own, and in its payload the probe id and a per-instance cookie; a reply
 * counts only when all of them and its source match. An ICMP error
 * (destination unreachable, time exceeded) whose embedded packet is one of
 * our echoes makes that probe down. No timers of its own: a probe nobody
 * answers waits for the host's timeout to cancel it.
 *
 * Only the public plugin ABI is used here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h>

#include <strata/plugin.h>

#ifndef ICMP_FILTER
#define ICMP_FILTER 1 /* SOL_RAW option of <linux/icmp.h> */
#endif

#define ECHO_HDR 8
#define COOKIE_LEN 16 /* probe id and instance cookie, first in the payload */
#define RECV_BUF 65536
#define READS_PER_WAKEUP 64

enum { V4, V6, NFAM };

struct sock {
	int fd;
	bool dgram; /* a ping socket: the kernel owns the echo identifier */
	int err;    /* why fd is -1 */
	struct strata_watch *watch;
};

struct probe {
	struct probe *next, *prev;
	struct pinger *c;
	int64_t id;
	int fam; /* V4, V6 */
	uint8_t addr[16];
	uint16_t seq;
	int64_t sent_ns;
	struct strata_timer *soon; /* reports a send failure */
	int err;                   /* for soon */
	strata_hc_done done;
	void *arg;
};

struct pinger {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct sock sk[NFAM];
	uint16_t ident;
	uint16_t next_seq;
	uint8_t cookie[8];
	size_t payload_size;
	uint8_t *sbuf; /* ECHO_HDR + payload_size */
	uint8_t *rbuf; /* RECV_BUF */
	struct probe *probes;
	int64_t n_probes;
	int64_t next_id;
	int64_t n_up, n_down, n_ignored;
};

static const struct strata_cfg_key icmp_config[] = {
	{ "payload_size", STRATA_CFG_INT, 0, "56", COOKIE_LEN, 65000,
	  "bytes of payload in each echo request (as ping -s)" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static unsigned fam_len(int fam)
{
	return fam == V4 ? 4 : 16;
}

/* -- probes ------------------------------------------------------------ */

static void probe_unlink(struct probe *p)
{
	struct pinger *c = p->c;

	if (p->prev)
		p->prev->next = p->next;
	else
		c->probes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	c->n_probes--;
}

static void probe_free(struct probe *p)
{
	if (p->soon)
		p->c->h->timer_stop(p->c->inst, p->soon);
	free(p);
}

static void finish(struct probe *p, bool up, const char *reason)
{
	struct pinger *c = p->c;
	strata_hc_done done = p->done;
	void *arg = p->arg;

	probe_unlink(p);
	probe_free(p);
	if (up)
		c->n_up++;
	else
		c->n_down++;
	/* last: done may start or cancel probes */
	done(arg, up, reason);
}

static struct probe *find(struct pinger *c, int fam, uint16_t seq,
			  const uint8_t *addr)
{
	struct probe *p;

	for (p = c->probes; p; p = p->next)
		if (p->fam == fam && p->seq == seq && !p->soon &&
		    !memcmp(p->addr, addr, fam_len(fam)))
			return p;
	return NULL;
}

static bool seq_in_use(struct pinger *c, uint16_t seq)
{
	struct probe *p;

	for (p = c->probes; p; p = p->next)
		if (p->seq == seq)
			return true;
	return false;
}

/* -- reasons ----------------------------------------------------------- */

static const char *unreach4(uint8_t code)
{
	switch (code) {
	case ICMP_NET_UNREACH:
	case ICMP_NET_UNKNOWN:
		return "network unreachable";
	case ICMP_HOST_UNREACH:
	case ICMP_HOST_UNKNOWN:
		return "host unreachable";
	case ICMP_PROT_UNREACH:
		return "protocol unreachable";
	case ICMP_PORT_UNREACH:
		return "port unreachable";
	case ICMP_FRAG_NEEDED:
		return "fragmentation needed";
	case ICMP_NET_ANO:
	case ICMP_HOST_ANO:
	case ICMP_PKT_FILTERED:
		return "administratively prohibited";
	default:
		return "destination unreachable";
	}
}

static const char *unreach6(uint8_t code)
{
	switch (code) {
	case ICMP6_DST_UNREACH_NOROUTE:
		return "no route to destination";
	case ICMP6_DST_UNREACH_ADMIN:
		return "administratively prohibited";
	case ICMP6_DST_UNREACH_ADDR:
		return "address unreachable";
	case ICMP6_DST_UNREACH_NOPORT:
		return "port unreachable";
	case 5: /* source address failed ingress/egress policy */
	case 6: /* reject route to destination */
		return "rejected by policy";
	default:
		return "destination unreachable";
	}
}

/* An ICMP error for probe p: "host unreachable (from 10.0.0.2)". */
static void report_error(struct probe *p, const char *what, int fam,
			 const uint8_t *from)
{
	char who[INET6_ADDRSTRLEN] = "?", reason[128];

	inet_ntop(fam == V4 ? AF_INET : AF_INET6, from, who, sizeof(who));
	snprintf(reason, sizeof(reason), "%s (from %s)", what, who);
	finish(p, false, reason);
}

static void report_reply(struct probe *p)
{
	struct pinger *c = p->c;
	int64_t us = (c->h->now() - p->sent_ns) / 1000;
	char reason[64];

	snprintf(reason, sizeof(reason), "echo reply in %" PRId64 ".%03" PRId64
		 " ms", us / 1000, us % 1000);
	finish(p, true, reason);
}

/* -- receiving --------------------------------------------------------- */

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint16_t checksum(const uint8_t *b, size_t len)
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

/* An echo reply (ICMP message m of len bytes) from `from`. */
static void on_reply(struct pinger *c, int fam, const uint8_t *m, size_t len,
		     const uint8_t *from)
{
	struct probe *p;
	int64_t id;

	if (len < ECHO_HDR + COOKIE_LEN)
		goto ignore;
	if (!c->sk[fam].dgram && get16(m + 4) != c->ident)
		goto ignore;
	p = find(c, fam, get16(m + 6), from);
	if (!p)
		goto ignore;
	memcpy(&id, m + ECHO_HDR, sizeof(id));
	if (id != p->id || memcmp(m + ECHO_HDR + 8, c->cookie, 8))
		goto ignore;
	report_reply(p);
	return;
ignore:
	c->n_ignored++;
}

/*
 * The echo header embedded in an error, sent to dst: one of ours? In a
 * ping socket the kernel only queues errors for its own echoes.
 */
static struct probe *embedded(struct pinger *c, int fam, const uint8_t *echo,
			      size_t len, const uint8_t *dst)
{
	uint8_t want = fam == V4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;

	if (len < ECHO_HDR || echo[0] != want)
		return NULL;
	if (!c->sk[fam].dgram && get16(echo + 4) != c->ident)
		return NULL;
	return find(c, fam, get16(echo + 6), dst);
}

/* A raw IPv4 socket reads whole packets, IP header first. */
static void on_packet4(struct pinger *c, const uint8_t *b, size_t len)
{
	const uint8_t *m, *in;
	size_t ihl, inl, mlen;
	struct probe *p;

	if (len < 20 || (b[0] >> 4) != 4)
		return;
	ihl = (size_t)(b[0] & 0xf) * 4;
	if (ihl < 20 || len < ihl + ECHO_HDR)
		return;
	m = b + ihl;
	mlen = len - ihl;
	/* raw sockets see messages before icmp_rcv() drops a bad checksum
	 * (ping and ICMPv6 sockets never see those): drop them here too */
	if (checksum(m, mlen))
		return;
	if (m[0] == ICMP_ECHOREPLY) {
		on_reply(c, V4, m, mlen, b + 12);
		return;
	}
	if (m[0] != ICMP_DEST_UNREACH && m[0] != ICMP_TIME_EXCEEDED)
		return;
	/* the offending packet: its IP header, then our echo header */
	in = m + ECHO_HDR;
	if (mlen < ECHO_HDR + 20 || (in[0] >> 4) != 4 || in[9] != IPPROTO_ICMP)
		return;
	inl = (size_t)(in[0] & 0xf) * 4;
	if (inl < 20 || mlen < ECHO_HDR + inl)
		return;
	p = embedded(c, V4, in + inl, mlen - ECHO_HDR - inl, in + 16);
	if (p)
		report_error(p, m[0] == ICMP_TIME_EXCEEDED ? "ttl exceeded"
							  : unreach4(m[1]),
			     V4, b + 12);
}

/* A raw ICMPv6 socket reads the message alone. */
static void on_packet6(struct pinger *c, const uint8_t *m, size_t len,
		       const uint8_t *from)
{
	const uint8_t *in;
	struct probe *p;

	if (len < ECHO_HDR)
		return;
	if (m[0] == ICMP6_ECHO_REPLY) {
		on_reply(c, V6, m, len, from);
		return;
	}
	if (m[0] != ICMP6_DST_UNREACH && m[0] != ICMP6_TIME_EXCEEDED)
		return;
	/* the offending packet: its IPv6 header, then our echo header */
	in = m + ECHO_HDR;
	if (len < ECHO_HDR + 40 || (in[0] >> 4) != 6 || in[6] != IPPROTO_ICMPV6)
		return;
	p = embedded(c, V6, in + 40, len - ECHO_HDR - 40, in + 24);
	if (p)
		report_error(p, m[0] == ICMP6_TIME_EXCEEDED ?
					"hop limit exceeded" : unreach6(m[1]),
			     V6, from);
}

/* A ping socket's error queue: the kernel says which ICMP error came back
 * for which echo (the data is the echo header, msg_name its destination). */
static void read_errqueue(struct pinger *c, int fam)
{
	int i;

	for (i = 0; i < READS_PER_WAKEUP && c->sk[fam].fd >= 0; i++) {
		uint8_t ctl[512];
		struct sockaddr_storage dst;
		struct iovec iov = { .iov_base = c->rbuf, .iov_len = RECV_BUF };
		struct msghdr msg = {
			.msg_name = &dst,
			.msg_namelen = sizeof(dst),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl,
			.msg_controllen = sizeof(ctl),
		};
		const struct sock_extended_err *ee = NULL;
		const uint8_t *to, *from;
		struct cmsghdr *cm;
		struct probe *p;
		ssize_t n;

		n = recvmsg(c->sk[fam].fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0)
			return;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			if ((cm->cmsg_level == SOL_IP &&
			     cm->cmsg_type == IP_RECVERR) ||
			    (cm->cmsg_level == SOL_IPV6 &&
			     cm->cmsg_type == IPV6_RECVERR))
				ee = (const void *)CMSG_DATA(cm);
		if (!ee || (ee->ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee->ee_origin != SO_EE_ORIGIN_ICMP6))
			continue;
		if (fam == V4) {
			const struct sockaddr_in *d = (const void *)&dst;
			const struct sockaddr_in *o =
				(const void *)SO_EE_OFFENDER(ee);

			to = (const uint8_t *)&d->sin_addr;
			from = (const uint8_t *)&o->sin_addr;
		} else {
			const struct sockaddr_in6 *d = (const void *)&dst;
			const struct sockaddr_in6 *o =
				(const void *)SO_EE_OFFENDER(ee);

			to = (const uint8_t *)&d->sin6_addr;
			from = (const uint8_t *)&o->sin6_addr;
		}
		p = embedded(c, fam, c->rbuf, (size_t)n, to);
		if (!p)
			continue;
		if (fam == V4)
			report_error(p, ee->ee_type == ICMP_TIME_EXCEEDED ?
					 "ttl exceeded" : unreach4(ee->ee_code),
				     fam, from);
		else
			report_error(p, ee->ee_type == ICMP6_TIME_EXCEEDED ?
					 "hop limit exceeded" :
					 unreach6(ee->ee_code),
				     fam, from);
	}
}

static void on_readable(struct pinger *c, int fam, uint32_t events)
{
	struct sock *s = &c->sk[fam];
	int i;

	if (s->dgram && (events & STRATA_FD_ERR))
		read_errqueue(c, fam);
	for (i = 0; i < READS_PER_WAKEUP && s->fd >= 0; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n;

		n = recvfrom(s->fd, c->rbuf, RECV_BUF, MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* a ping socket's pending error, read from the
			 * error queue above */
			continue;
		}
		if (fam == V4 && !s->dgram) {
			on_packet4(c, c->rbuf, (size_t)n);
		} else if (fam == V4) {
			const struct sockaddr_in *sin = (const void *)&from;

			if (n >= ECHO_HDR && c->rbuf[0] == ICMP_ECHOREPLY)
				on_reply(c, V4, c->rbuf, (size_t)n,
					 (const uint8_t *)&sin->sin_addr);
		} else {
			const struct sockaddr_in6 *sin6 = (const void *)&from;

			on_packet6(c, c->rbuf, (size_t)n,
				   (const uint8_t *)&sin6->sin6_addr);
		}
	}
}

static void on_readable4(void *arg, int fd, uint32_t events)
{
	(void)fd;
	on_readable(arg, V4, events);
}

static void on_readable6(void *arg, int fd, uint32_t events)
{
	(void)fd;
	on_readable(arg, V6, events);
}

/* -- sending ----------------------------------------------------------- */

static int send_echo(struct pinger *c, struct probe *p)
{
	size_t len = ECHO_HDR + c->payload_size;
	struct sockaddr_storage ss;
	socklen_t slen;
	uint8_t *b = c->sbuf;
	uint16_t ck;

	memset(&ss, 0, sizeof(ss));
	if (p->fam == V4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, p->addr, 4);
		slen = sizeof(*sin);
		b[0] = ICMP_ECHO;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, p->addr, 16);
		slen = sizeof(*sin6);
		b[0] = ICMP6_ECHO_REQUEST;
	}
	b[1] = 0;
	b[2] = b[3] = 0;
	b[4] = (uint8_t)(c->ident >> 8);
	b[5] = (uint8_t)c->ident;
	b[6] = (uint8_t)(p->seq >> 8);
	b[7] = (uint8_t)p->seq;
	memcpy(b + ECHO_HDR, &p->id, 8);
	memcpy(b + ECHO_HDR + 8, c->cookie, 8);
	/* the kernel sums ICMPv6 (pseudo-header) and ping sockets itself */
	if (p->fam == V4) {
		ck = checksum(b, len);
		b[2] = (uint8_t)(ck >> 8);
		b[3] = (uint8_t)ck;
	}
	p->sent_ns = c->h->now();
	if (sendto(c->sk[p->fam].fd, b, len, 0, (struct sockaddr *)&ss,
		   slen) < 0)
		return -errno;
	return 0;
}

static void on_soon(void *arg)
{
	struct probe *p = arg;
	char reason[96];

	p->soon = NULL; /* spent */
	switch (p->err) {
	case ENETUNREACH:
		snprintf(reason, sizeof(reason), "network unreachable");
		break;
	case EHOSTUNREACH:
		snprintf(reason, sizeof(reason), "host unreachable");
		break;
	case EINVAL:
		/* what sendto() says for a blackhole route */
		snprintf(reason, sizeof(reason), "no route (blackhole)");
		break;
	case EACCES:
	case EPERM:
		snprintf(reason, sizeof(reason), "prohibited");
		break;
	default:
		snprintf(reason, sizeof(reason), "send: %s", strerror(p->err));
	}
	finish(p, false, reason);
}

static int64_t icmp_probe(void *self, const struct strata_hc_target *tg,
			  strata_hc_done done, void *arg)
{
	struct pinger *c = self;
	struct probe *p;
	int fam, rc, i;

	if (!tg || !done)
		return -EINVAL;
	if (tg->addr.family == STRATA_AF_INET)
		fam = V4;
	else if (tg->addr.family == STRATA_AF_INET6)
		fam = V6;
	else
		return -EAFNOSUPPORT;
	if (c->sk[fam].fd < 0)
		return -c->sk[fam].err;
	if (c->n_probes >= 65535)
		return -EBUSY;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	p->fam = fam;
	memcpy(p->addr, tg->addr.addr, fam_len(fam));
	p->done = done;
	p->arg = arg;
	p->id = ++c->next_id;
	/* fewer than 65535 pending: a free number is found in bounds */
	for (i = 0; i < 65536 && seq_in_use(c, c->next_seq); i++)
		c->next_seq++;
	p->seq = c->next_seq++;

	rc = send_echo(c, p);
	if (rc < 0) {
		/* the local route said no: that is down, from the loop */
		p->err = -rc;
		p->soon = c->h->timer_start(c->inst, 0, 0, on_soon, p);
		if (!p->soon) {
			free(p);
			return -ENOMEM;
		}
	}
	p->next = c->probes;
	if (p->next)
		p->next->prev = p;
	c->probes = p;
	c->n_probes++;
	return p->id;
}

static void icmp_cancel(void *self, int64_t id)
{
	struct pinger *c = self;
	struct probe *p;

	for (p = c->probes; p; p = p->next) {
		if (p->id == id) {
			probe_unlink(p);
			probe_free(p);
			return;
		}
	}
}

/* -- sockets ----------------------------------------------------------- */

static int sock_open(struct pinger *c, int fam)
{
	struct sock *s = &c->sk[fam];
	int af = fam == V4 ? AF_INET : AF_INET6;
	int proto = fam == V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int flags = SOCK_NONBLOCK | SOCK_CLOEXEC, one = 1, rc;

	s->dgram = false;
	s->fd = socket(af, SOCK_RAW | flags, proto);
	if (s->fd < 0 && (errno == EPERM || errno == EACCES)) {
		s->dgram = true;
		s->fd = socket(af, SOCK_DGRAM | flags, proto);
		if (s->fd < 0 && errno == EACCES)
			errno = EPERM; /* outside ping_group_range */
	}
	if (s->fd < 0)
		return -errno;

	if (s->dgram) {
		/* which echo an ICMP error was about */
		if (fam == V4)
			rc = setsockopt(s->fd, SOL_IP, IP_RECVERR, &one,
					sizeof(one));
		else
			rc = setsockopt(s->fd, SOL_IPV6, IPV6_RECVERR, &one,
					sizeof(one));
	} else if (fam == V4) {
		uint32_t pass = 1u << ICMP_ECHOREPLY | 1u << ICMP_DEST_UNREACH |
				1u << ICMP_TIME_EXCEEDED;
		uint32_t block = ~pass;

		rc = setsockopt(s->fd, SOL_RAW, ICMP_FILTER, &block,
				sizeof(block));
	} else {
		struct icmp6_filter f;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
		ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
		rc = setsockopt(s->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f,
				sizeof(f));
	}
	if (rc < 0) {
		rc = -errno;
		goto close_fd;
	}
	s->watch = c->h->fd_watch(c->inst, s->fd, STRATA_FD_IN,
				  fam == V4 ? on_readable4 : on_readable6, c);
	if (!s->watch) {
		rc = -ENOMEM;
		goto close_fd;
	}
	return 0;

close_fd:
	close(s->fd);
	s->fd = -1;
	return rc;
}

static void sock_close(struct pinger *c, int fam)
{
	struct sock *s = &c->sk[fam];

	if (s->watch)
		c->h->fd_unwatch(c->inst, s->watch);
	s->watch = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->err = ENOTCONN;
}

/* -- lifecycle --------------------------------------------------------- */

static int read_config(struct pinger *c)
{
	int64_t size = 56;
	uint8_t *b;
	size_t i;
	int rc;

	rc = c->h->cfg_int(c->inst, "payload_size", &size);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (size < COOKIE_LEN || size > 65000) {
		c->h->log(c->inst, STRATA_LOG_ERR,
			  "payload_size: %" PRId64 " is not in [%d, 65000]",
			  size, COOKIE_LEN);
		return -EINVAL;
	}
	b = realloc(c->sbuf, ECHO_HDR + (size_t)size);
	if (!b)
		return -ENOMEM;
	c->sbuf = b;
	c->payload_size = (size_t)size;
	memset(b + ECHO_HDR, 0, c->payload_size);
	/* after the id and cookie, ping's pattern: 0x10, 0x11, ... */
	for (i = COOKIE_LEN; i < c->payload_size; i++)
		b[ECHO_HDR + i] = (uint8_t)(0x10 + i);
	return 0;
}

static int icmp_create(const struct strata_host *host,
		       struct strata_instance *inst, void **self)
{
	struct pinger *c = calloc(1, sizeof(*c));
	uint8_t rnd[12];
	int rc, f;

	if (!c)
		return -ENOMEM;
	c->h = host;
	c->inst = inst;
	for (f = 0; f < NFAM; f++) {
		c->sk[f].fd = -1;
		c->sk[f].err = ENOTCONN;
	}
	/* a random identifier and cookie keep instances and processes apart */
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^
			     (uint64_t)(uintptr_t)c;

		memcpy(rnd, &x, 8);
		memcpy(rnd + 4, &x, 8);
	}
	c->ident = (uint16_t)(rnd[0] << 8 | rnd[1]);
	c->next_seq = (uint16_t)(rnd[2] << 8 | rnd[3]);
	memcpy(c->cookie, rnd + 4, 8);
	rc = read_config(c);
	if (rc < 0)
		goto free_c;
	c->rbuf = malloc(RECV_BUF);
	if (!c->rbuf) {
		rc = -ENOMEM;
		goto free_c;
	}
	*self = c;
	return 0;

free_c:
	free(c->sbuf);
	free(c);
	return rc;
}

static int icmp_start(void *self)
{
	struct pinger *c = self;
	const char *name[NFAM] = { "IPv4", "IPv6" };
	int f, rc, opened = 0, first = 0;

	for (f = 0; f < NFAM; f++) {
		rc = sock_open(c, f);
		if (rc == 0) {
			opened++;
			if (c->sk[f].dgram)
				c->h->log(c->inst, STRATA_LOG_INFO,
					  "%s: no CAP_NET_RAW, using an "
					  "unprivileged ping socket", name[f]);
			continue;
		}
		c->sk[f].err = -rc;
		if (!first)
			first = rc;
		if (rc == -EPERM)
			c->h->log(c->inst, STRATA_LOG_ERR,
				  "%s ICMP socket: %s: the icmp checker needs "
				  "CAP_NET_RAW (or net.ipv4.ping_group_range "
				  "covering gid %u)",
				  name[f], strerror(-rc), (unsigned)getgid());
		else
			c->h->log(c->inst, STRATA_LOG_WARNING,
				  "%s ICMP socket: %s; %s targets cannot be "
				  "probed", name[f], strerror(-rc), name[f]);
	}
	return opened ? 0 : first;
}

static int icmp_reconfigure(void *self)
{
	return read_config(self) < 0 ? STRATA_RECONF_RESTART : 0;
}

static int icmp_stop(void *self)
{
	struct pinger *c = self;
	int f;

	for (f = 0; f < NFAM; f++)
		sock_close(c, f);
	return 0;
}

static void icmp_destroy(void *self)
{
	struct pinger *c = self;
	struct probe *p;

	while ((p = c->probes)) {
		probe_unlink(p);
		probe_free(p);
	}
	icmp_stop(c);
	free(c->sbuf);
	free(c->rbuf);
	free(c);
}

static void icmp_status(void *self, struct strata_status *st)
{
	struct pinger *c = self;
	const char *key[NFAM] = { "ipv4", "ipv6" };
	int f;

	for (f = 0; f < NFAM; f++)
		c->h->status_str(st, key[f],
				 c->sk[f].fd < 0   ? strerror(c->sk[f].err)
				 : c->sk[f].dgram ? "ping socket"
						  : "raw socket");
	c->h->status_int(st, "pending", c->n_probes);
	c->h->status_int(st, "up", c->n_up);
	c->h->status_int(st, "down", c->n_down);
	c->h->status_int(st, "ignored", c->n_ignored);
}

static const struct strata_plugin_ops icmp_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = icmp_create,
	.start = icmp_start,
	.reconfigure = icmp_reconfigure,
	.stop = icmp_stop,
	.destroy = icmp_destroy,
	.status = icmp_status,
};

static const struct strata_healthcheck_ops icmp_hc_ops = {
	.size = sizeof(struct strata_healthcheck_ops),
	.probe = icmp_probe,
	.cancel = icmp_cancel,
};

STRATA_PLUGIN(STRATA_KIND_HEALTHCHECK, "icmp", STRATA_VERSION,
	      "health check: the target answers an ICMP echo (IPv4, IPv6)",
	      icmp_config, &icmp_ops, &icmp_hc_ops);
