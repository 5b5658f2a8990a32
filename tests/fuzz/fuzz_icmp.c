/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the ICMP checker's receive path: anyone on the
 * network can send the packets its sockets read. Each input is one message
 * read on a checker with five probes in flight (two IPv4 targets, one IPv4
 * target whose send failed, two IPv6 targets), through the plugin's own
 * on_readable(). Whatever the bytes, a probe is reported at most once, up
 * only for an echo reply from its target carrying its identifier, sequence
 * number, probe id and cookie, down only for an ICMP error about its echo,
 * neither for an ICMP message with a bad checksum on a raw IPv4 socket (the
 * kernel checks the others), and the probe list stays consistent.
 *
 * Input: byte 0 is the mode: bit 0 IPv6, bit 1 a ping socket (SOCK_DGRAM),
 * bit 2 the message is on a ping socket's error queue, bit 3 keep the ICMP
 * checksum of a packet for a raw IPv4 socket as it is (otherwise it is
 * filled in, or mutations would hardly ever get past it). Then, read with
 * recvfrom(): the source address (4 or 16 bytes) and the packet (a raw
 * IPv4 socket reads the IP header too). Or, read from the error queue: the
 * echo's destination, ee_origin, ee_type, ee_code, the offender's address,
 * then the data (the echo header the kernel returns).
 *
 * The seeds in corpus/icmp were made for the constants below (identifier
 * IDENT, cookie COOKIE, sequence numbers from SEQ0, probe ids from 1 in
 * host byte order, so little-endian): change them together.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ssize_t fake_sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *to, socklen_t tolen);
static ssize_t fake_recvfrom(int fd, void *buf, size_t len, int flags,
			     struct sockaddr *from, socklen_t *fromlen);
static ssize_t fake_recvmsg(int fd, struct msghdr *msg, int flags);

/*
 * The parsers are static and reached from the socket callbacks: the
 * plugin's source is compiled in here, its socket calls answered from the
 * fuzzer's input (every header it includes is included above, so only its
 * own calls are renamed).
 */
#define sendto fake_sendto
#define recvfrom fake_recvfrom
#define recvmsg fake_recvmsg
#include "../../plugins/healthcheck-icmp/icmp.c"
#undef sendto
#undef recvfrom
#undef recvmsg

#define FD4 1000 /* never a real descriptor: no syscall sees them */
#define FD6 1001
#define IDENT 0x5354
#define SEQ0 0x0100
static const uint8_t COOKIE[8] = { 's', 't', 'r', 'a', 't', 'a', 'f', 'z' };

#define MODE_V6 0x1
#define MODE_PING 0x2
#define MODE_ERRQUEUE 0x4
#define MODE_KEEP_SUM 0x8

struct target {
	int fam;
	const char *addr;
	bool send_fails; /* sendto() says EHOSTUNREACH: a timer is pending */
	uint8_t bin[16];
	int64_t id;
	uint16_t seq;
	bool finished, cancelled;
};

static struct target targets[] = {
	{ .fam = V4, .addr = "192.0.2.1" },
	{ .fam = V4, .addr = "192.0.2.2" },
	{ .fam = V4, .addr = "198.51.100.7", .send_fails = true },
	{ .fam = V6, .addr = "2001:db8::1" },
	{ .fam = V6, .addr = "2001:db8::2" },
};
#define N_TARGETS (sizeof(targets) / sizeof(targets[0]))

/* The message the next read returns, and what was reported. */
static struct {
	struct pinger *c;
	bool v6, errqueue, pending;
	const uint8_t *addr;     /* source, or the echo's destination */
	const uint8_t *offender; /* error queue */
	uint8_t origin, type, code;
	const uint8_t *msg;
	size_t len;
	unsigned done_calls;
	struct target *done_t;
	bool done_up;
	char reason[256];
	uint16_t sent_seq; /* of the last echo sent */
	unsigned timers;
} fz;

static int64_t fz_now(void)
{
	static int64_t t;

	return t += 1000;
}

static int fz_cfg_int(struct strata_instance *inst, const char *key,
		      int64_t *out)
{
	(void)inst;
	(void)key;
	(void)out;
	return -ENOENT; /* the schema's defaults */
}

static struct strata_timer *fz_timer_start(struct strata_instance *inst,
					   int64_t delay_ns, int64_t period_ns,
					   strata_cb cb, void *arg)
{
	(void)inst;
	(void)delay_ns;
	(void)period_ns;
	(void)cb;
	(void)arg;
	fz.timers++;
	return (struct strata_timer *)&fz; /* never fires here */
}

static void fz_timer_stop(struct strata_instance *inst, struct strata_timer *t)
{
	(void)inst;
	if (t != (struct strata_timer *)&fz || !fz.timers)
		abort();
	fz.timers--;
}

/* Only what the receive path and probe() use; a call to any other entry
 * crashes, which is as good as a report. */
static const struct strata_host host = {
	.size = sizeof(struct strata_host),
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.cfg_int = fz_cfg_int,
	.now = fz_now,
	.timer_start = fz_timer_start,
	.timer_stop = fz_timer_stop,
};

static ssize_t fake_sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *to, socklen_t tolen)
{
	const uint8_t *b = buf;
	size_t i;

	(void)flags;
	(void)tolen;
	if ((fd != FD4 && fd != FD6) || len < ECHO_HDR)
		abort();
	fz.sent_seq = get16(b + 6);
	for (i = 0; i < N_TARGETS; i++) {
		const struct sockaddr_in *sin = (const void *)to;

		if (targets[i].send_fails && to->sa_family == AF_INET &&
		    !memcmp(&sin->sin_addr, targets[i].bin, 4)) {
			errno = EHOSTUNREACH;
			return -1;
		}
	}
	return (ssize_t)len;
}

static void fill_addr(void *ss, socklen_t *len, const uint8_t *addr)
{
	if (fz.v6) {
		struct sockaddr_in6 *sin6 = ss;

		memset(sin6, 0, sizeof(*sin6));
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		*len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = ss;

		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		*len = sizeof(*sin);
	}
}

static ssize_t fake_recvfrom(int fd, void *buf, size_t len, int flags,
			     struct sockaddr *from, socklen_t *fromlen)
{
	size_t n;

	if (fd != (fz.v6 ? FD6 : FD4) || (flags & MSG_ERRQUEUE) ||
	    *fromlen < sizeof(struct sockaddr_in6))
		abort();
	if (!fz.pending || fz.errqueue) {
		errno = EAGAIN;
		return -1;
	}
	fz.pending = false;
	n = fz.len < len ? fz.len : len;
	memcpy(buf, fz.msg, n);
	fill_addr(from, fromlen, fz.addr);
	return (ssize_t)n;
}

/* What the kernel queues for an ICMP error on a ping socket: the echo
 * header sent, its destination, and an IP(V6)_RECVERR message. */
static ssize_t fake_recvmsg(int fd, struct msghdr *msg, int flags)
{
	size_t olen = fz.v6 ? sizeof(struct sockaddr_in6) :
			      sizeof(struct sockaddr_in);
	size_t elen = sizeof(struct sock_extended_err) + olen, n;
	struct sock_extended_err *ee;
	struct cmsghdr *cm;
	socklen_t slen;

	if (fd != (fz.v6 ? FD6 : FD4) || !(flags & MSG_ERRQUEUE) ||
	    msg->msg_namelen < sizeof(struct sockaddr_in6) ||
	    msg->msg_iovlen != 1 || msg->msg_controllen < CMSG_SPACE(elen))
		abort();
	if (!fz.pending || !fz.errqueue) {
		errno = EAGAIN;
		return -1;
	}
	fz.pending = false;
	fill_addr(msg->msg_name, &slen, fz.addr);
	msg->msg_namelen = slen;
	memset(msg->msg_control, 0, CMSG_SPACE(elen));
	cm = msg->msg_control;
	cm->cmsg_len = CMSG_LEN(elen);
	cm->cmsg_level = fz.v6 ? SOL_IPV6 : SOL_IP;
	cm->cmsg_type = fz.v6 ? IPV6_RECVERR : IP_RECVERR;
	ee = (struct sock_extended_err *)CMSG_DATA(cm);
	ee->ee_errno = EHOSTUNREACH;
	ee->ee_origin = fz.origin;
	ee->ee_type = fz.type;
	ee->ee_code = fz.code;
	fill_addr(SO_EE_OFFENDER(ee), &slen, fz.offender);
	msg->msg_controllen = CMSG_SPACE(elen);
	msg->msg_flags = MSG_ERRQUEUE;
	n = msg->msg_iov[0].iov_len;
	if (fz.len < n)
		n = fz.len;
	memcpy(msg->msg_iov[0].iov_base, fz.msg, n);
	return (ssize_t)n;
}

static bool pending(struct pinger *c, int64_t id)
{
	struct probe *p;

	for (p = c->probes; p; p = p->next)
		if (p->id == id)
			return true;
	return false;
}

/* Reported: the next target's probe is cancelled from inside done, as the
 * host may do. */
static void on_done(void *arg, int up, const char *reason)
{
	struct target *t = arg, *next;

	if (t->finished || t->cancelled || !reason)
		abort();
	t->finished = true;
	fz.done_calls++;
	fz.done_t = t;
	fz.done_up = up;
	snprintf(fz.reason, sizeof(fz.reason), "%s", reason);

	next = &targets[(size_t)(t - targets + 1) % N_TARGETS];
	if (pending(fz.c, next->id)) {
		icmp_cancel(fz.c, next->id);
		next->cancelled = true;
	}
}

static struct pinger *pinger_new(bool dgram, size_t rlen)
{
	struct pinger *c = calloc(1, sizeof(*c));
	int f;

	if (!c)
		abort();
	c->h = &host;
	c->sk[V4].fd = FD4;
	c->sk[V6].fd = FD6;
	for (f = 0; f < NFAM; f++)
		c->sk[f].dgram = dgram;
	c->ident = IDENT;
	c->next_seq = SEQ0;
	memcpy(c->cookie, COOKIE, sizeof(COOKIE));
	if (read_config(c))
		abort();
	/* just the message's size, so a read past its end is caught */
	c->rbuf = malloc(rlen ? rlen : 1);
	if (!c->rbuf)
		abort();
	return c;
}

static void probes_start(struct pinger *c)
{
	size_t i;

	for (i = 0; i < N_TARGETS; i++) {
		struct target *t = &targets[i];
		struct strata_hc_target tg = { .size = sizeof(tg) };
		bool v4 = t->fam == V4;

		tg.addr.family = v4 ? STRATA_AF_INET : STRATA_AF_INET6;
		if (inet_pton(v4 ? AF_INET : AF_INET6, t->addr, t->bin) != 1)
			abort();
		memcpy(tg.addr.addr, t->bin, fam_len(t->fam));
		t->finished = t->cancelled = false;
		t->id = icmp_probe(c, &tg, on_done, t);
		t->seq = fz.sent_seq;
		/* the seeds count on these */
		if (t->id != (int64_t)i + 1 || t->seq != SEQ0 + i)
			abort();
	}
	if (fz.timers != 1)
		abort();
}

static bool reason_names(const uint8_t *who_bin)
{
	char who[INET6_ADDRSTRLEN], from[INET6_ADDRSTRLEN + 16];

	inet_ntop(fz.v6 ? AF_INET6 : AF_INET, who_bin, who, sizeof(who));
	snprintf(from, sizeof(from), " (from %s)", who);
	return strstr(fz.reason, from) != NULL;
}

/* An echo header (at least ECHO_HDR bytes) of t's, of type `type`? On a
 * ping socket the kernel owns the identifier. */
static bool our_echo(const uint8_t *e, uint8_t type, const struct target *t)
{
	return e[0] == type && get16(e + 6) == t->seq &&
	       (fz.c->sk[t->fam].dgram || get16(e + 4) == IDENT);
}

static void check_up(const struct target *t)
{
	const uint8_t *m = fz.msg, *src = fz.addr;
	size_t len = fz.len;

	if (fz.errqueue || strncmp(fz.reason, "echo reply in ", 14))
		abort();
	if (!fz.v6 && !fz.c->sk[V4].dgram) {
		size_t ihl;

		if (len < 20)
			abort();
		ihl = (size_t)(m[0] & 0xf) * 4;
		if (ihl < 20 || ihl > len)
			abort();
		src = m + 12;
		m += ihl;
		len -= ihl;
		if (checksum(m, len))
			abort();
	}
	if (len < ECHO_HDR + COOKIE_LEN ||
	    memcmp(src, t->bin, fam_len(t->fam)) ||
	    !our_echo(m, fz.v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY, t) ||
	    memcmp(m + ECHO_HDR, &t->id, 8) ||
	    memcmp(m + ECHO_HDR + 8, COOKIE, 8))
		abort();
}

static void check_down(const struct target *t)
{
	const uint8_t *m = fz.msg, *in, *from = fz.addr;
	size_t len = fz.len, inl;

	if (fz.errqueue) {
		if ((fz.origin != SO_EE_ORIGIN_ICMP &&
		     fz.origin != SO_EE_ORIGIN_ICMP6) || len < ECHO_HDR ||
		    memcmp(fz.addr, t->bin, fam_len(t->fam)) ||
		    !our_echo(m, fz.v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO, t) ||
		    !reason_names(fz.offender))
			abort();
		return;
	}
	if (fz.v6) {
		if (len < ECHO_HDR + 40 + ECHO_HDR ||
		    (m[0] != ICMP6_DST_UNREACH && m[0] != ICMP6_TIME_EXCEEDED))
			abort();
		in = m + ECHO_HDR;
		inl = 40;
		if ((in[0] >> 4) != 6 || in[6] != IPPROTO_ICMPV6 ||
		    memcmp(in + 24, t->bin, 16))
			abort();
	} else {
		size_t ihl;

		if (fz.c->sk[V4].dgram || len < 20)
			abort();
		ihl = (size_t)(m[0] & 0xf) * 4;
		if (ihl < 20 || ihl > len)
			abort();
		from = m + 12;
		m += ihl;
		len -= ihl;
		if (checksum(m, len) || len < ECHO_HDR + 20 ||
		    (m[0] != ICMP_DEST_UNREACH && m[0] != ICMP_TIME_EXCEEDED))
			abort();
		in = m + ECHO_HDR;
		inl = (size_t)(in[0] & 0xf) * 4;
		if ((in[0] >> 4) != 4 || in[9] != IPPROTO_ICMP || inl < 20 ||
		    len < ECHO_HDR + inl + ECHO_HDR ||
		    memcmp(in + 16, t->bin, 4))
			abort();
	}
	if (!our_echo(in + inl, fz.v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO, t) ||
	    !reason_names(from))
		abort();
}

static void check(struct pinger *c)
{
	int64_t n_pending = 0, n = 0;
	struct probe *p;
	size_t i;

	if (fz.done_calls > 1 || c->n_up + c->n_down != fz.done_calls)
		abort();
	if (fz.done_calls) {
		const struct target *t = fz.done_t;

		if (t->send_fails || t->fam != (fz.v6 ? V6 : V4))
			abort();
		if (fz.done_up)
			check_up(t);
		else
			check_down(t);
	}
	for (i = 0; i < N_TARGETS; i++)
		if (!targets[i].finished && !targets[i].cancelled) {
			n_pending++;
			if (!pending(c, targets[i].id))
				abort();
		}
	for (p = c->probes; p && n <= (int64_t)N_TARGETS; p = p->next)
		n++;
	if (n != n_pending || c->n_probes != n_pending)
		abort();
}

/* The ICMP checksum of IPv4 packet b, filled in where it fits. */
static void fill_sum4(uint8_t *b, size_t len)
{
	size_t ihl;
	uint16_t ck;

	if (len < 20)
		return;
	ihl = (size_t)(b[0] & 0xf) * 4;
	if (ihl < 20 || len < ihl + 4)
		return;
	b[ihl + 2] = b[ihl + 3] = 0;
	ck = checksum(b + ihl, len - ihl);
	b[ihl + 2] = (uint8_t)(ck >> 8);
	b[ihl + 3] = (uint8_t)ck;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t alen, head;
	struct pinger *c;
	uint8_t mode, *msg;
	int f;

	if (size < 1)
		return 0;
	mode = data[0];
	memset(&fz, 0, sizeof(fz));
	fz.v6 = mode & MODE_V6;
	fz.errqueue = mode & MODE_ERRQUEUE;
	alen = fz.v6 ? 16 : 4;
	head = 1 + (fz.errqueue ? 2 * alen + 3 : alen);
	if (size < head)
		return 0;
	fz.addr = data + 1;
	if (fz.errqueue) {
		fz.origin = data[1 + alen];
		fz.type = data[2 + alen];
		fz.code = data[3 + alen];
		fz.offender = data + 4 + alen;
	}
	fz.len = size - head;
	msg = malloc(fz.len ? fz.len : 1);
	if (!msg)
		abort();
	memcpy(msg, data + head, fz.len);
	if (!(mode & (MODE_V6 | MODE_PING | MODE_ERRQUEUE | MODE_KEEP_SUM)))
		fill_sum4(msg, fz.len);
	fz.msg = msg;

	c = pinger_new(mode & (MODE_PING | MODE_ERRQUEUE), fz.len);
	fz.c = c;
	probes_start(c);
	fz.pending = true;
	on_readable(c, fz.v6 ? V6 : V4,
		    STRATA_FD_IN | (fz.errqueue ? STRATA_FD_ERR : 0));
	if (fz.pending)
		abort(); /* the message was not read */
	check(c);

	/* no socket to close */
	for (f = 0; f < NFAM; f++)
		c->sk[f].fd = -1;
	icmp_destroy(c);
	free(msg);
	if (fz.timers)
		abort();
	return 0;
}
