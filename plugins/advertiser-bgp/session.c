/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One peer's BGP session: see session.h. Everything runs in callbacks of
 * the host's loop; nothing here frees the session, so a callback may
 * always touch it after a reset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "session.h"

#define NS 1000000000LL
/* Room for a largest UPDATE (RFC 8654) and the control messages behind */
#define OUT_CAP (2 * 65536 + 4 * BGP_MAX_MSG)
#define IN_CAP (2 * 65536)
#define READ_MAX (64 * 1024)    /* read per wake-up, then yield */
#define BATCH_MSGS 16           /* messages encoded before yielding */
#define OPEN_HOLD_NS (240 * NS) /* RFC 4271 8: a large hold in OpenSent */
#define CLOSE_NS NS /* a stop's NOTIFICATION: give up after this */

/*
 * Once everything desired went out, adj and want are equal: they share
 * one array (adj == want) rather than hold two copies of a big table. An
 * array is freed when neither points at it any more (adj_set, want_set).
 */
struct fam_rib {
	struct strata_prefix *adj; /* announced, sorted */
	size_t n_adj;
	struct strata_prefix *want; /* desired, sorted */
	size_t n_want;
	struct strata_prefix *ann; /* pending announcements */
	size_t n_ann, i_ann;
	struct strata_prefix *wd; /* pending withdrawals */
	size_t n_wd, i_wd;
	bool full;  /* announce every desired prefix again */
	bool dirty; /* want, attributes or the barrier changed */
	bool eor_sent;
};

/* An accepted connection waiting for the peer's OPEN next to our own. */
struct pending {
	int fd;
	struct strata_watch *watch;
	struct strata_timer *timer;
	uint8_t in[2 * BGP_MAX_MSG];
	size_t in_len;
};

struct bgp_session {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct bgp_session_cfg cfg;
	char *password;
	char name[64];

	enum bgp_state state;
	bool running;
	bool may_delete;
	int fd;
	bool inbound; /* fd was accepted, not connected */
	uint64_t conn_gen; /* counts connections closed */
	struct strata_watch *watch;
	uint32_t watch_ev;
	struct pending pend;
	struct strata_timer *retry_timer;
	struct strata_timer *hold_timer;
	struct strata_timer *ka_timer;
	struct strata_timer *yield_timer;
	int64_t backoff_ns;
	uint32_t rng;
	int64_t last_rx;
	int64_t hold_ns; /* in force: OpenSent's, then the negotiated one */

	struct bgp_neg neg;
	struct bgp_open peer_open;
	uint16_t hold; /* negotiated */
	uint32_t fams; /* negotiated */
	int64_t established_ns;

	struct bgp_session_attrs attrs;
	uint32_t *communities;
	struct bgp_large_community *large;

	struct fam_rib rib[2];

	uint8_t *out;
	size_t out_len;
	size_t head_rem; /* of out's first message, unsent (0: boundary) */
	bool closing;    /* stopped: sending what is left, then close */
	uint8_t *in;
	size_t in_len;

	uint64_t updates_out, updates_in, notifications_in, resets;
	char last_error[256];
	size_t withheld; /* over max_prefixes, as last logged */
	char limit_msg[128];
};

static void session_reset(struct bgp_session *s, const char *fmt, ...)
	STRATA_PRINTF(2, 3);
static void pump(struct bgp_session *s);

const char *bgp_state_name(enum bgp_state st)
{
	switch (st) {
	case BGP_ST_IDLE:
		return "Idle";
	case BGP_ST_CONNECT:
		return "Connect";
	case BGP_ST_OPENSENT:
		return "OpenSent";
	case BGP_ST_OPENCONFIRM:
		return "OpenConfirm";
	case BGP_ST_ESTABLISHED:
		return "Established";
	}
	return "?";
}

int bgp_prefix_cmp(const struct strata_prefix *a, const struct strata_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c < 0 ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

static unsigned fam_idx(uint8_t family)
{
	return family == STRATA_AF_INET6 ? BGP_IDX_V6 : BGP_IDX_V4;
}

static uint32_t fam_bit(unsigned idx)
{
	return idx == BGP_IDX_V6 ? BGP_FAM_IPV6 : BGP_FAM_IPV4;
}

static uint8_t fam_af(unsigned idx)
{
	return idx == BGP_IDX_V6 ? STRATA_AF_INET6 : STRATA_AF_INET;
}

static void set_error(struct bgp_session *s, const char *fmt, va_list ap)
	STRATA_PRINTF(2, 0);
static void set_error(struct bgp_session *s, const char *fmt, va_list ap)
{
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
}

/* -- Adj-RIB-Out bookkeeping ------------------------------------------- */

/* (adj | ann) - wd, all sorted, into a new array. */
static int merge_sets(const struct strata_prefix *adj, size_t n_adj,
		      const struct strata_prefix *ann, size_t na,
		      const struct strata_prefix *wd, size_t nw,
		      struct strata_prefix **res, size_t *n_res)
{
	const struct strata_prefix *src;
	struct strata_prefix *out;
	size_t i = 0, j = 0, k = 0, n = 0;
	int c;

	out = malloc((n_adj + na + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	while (i < n_adj || j < na) {
		if (i == n_adj)
			c = 1;
		else if (j == na)
			c = -1;
		else
			c = bgp_prefix_cmp(&adj[i], &ann[j]);
		if (c < 0) {
			src = &adj[i++];
		} else if (c > 0) {
			src = &ann[j++];
		} else {
			src = &adj[i++];
			j++;
		}
		while (k < nw && bgp_prefix_cmp(&wd[k], src) < 0)
			k++;
		if (k < nw && !bgp_prefix_cmp(&wd[k], src))
			continue;
		out[n++] = *src;
	}
	*res = out;
	*n_res = n;
	return 0;
}

static void adj_set(struct fam_rib *r, struct strata_prefix *v, size_t n)
{
	if (r->adj != r->want)
		free(r->adj);
	r->adj = v;
	r->n_adj = n;
}

static void want_set(struct fam_rib *r, struct strata_prefix *v, size_t n)
{
	if (r->want != r->adj)
		free(r->want);
	r->want = v;
	r->n_want = n;
}

/* (adj | ann) - wd; the result replaces adj, sharing want's array when
 * equal to it. */
static int rib_apply(struct fam_rib *r, const struct strata_prefix *ann,
		     size_t na, const struct strata_prefix *wd, size_t nw)
{
	struct strata_prefix *out;
	size_t n;
	int rc;

	if (!na && !nw)
		return 0;
	rc = merge_sets(r->adj, r->n_adj, ann, na, wd, nw, &out, &n);
	if (rc < 0)
		return rc;
	if (r->want && n == r->n_want &&
	    !memcmp(out, r->want, n * sizeof(*out))) {
		free(out);
		out = r->want;
	}
	adj_set(r, out, n);
	return 0;
}

/* What was sent of the pending lists becomes part of adj. */
static int rib_fold(struct fam_rib *r)
{
	int rc = rib_apply(r, r->ann, r->i_ann, r->wd, r->i_wd);

	if (rc < 0)
		return rc;
	free(r->ann);
	free(r->wd);
	r->ann = r->wd = NULL;
	r->n_ann = r->i_ann = r->n_wd = r->i_wd = 0;
	return 0;
}

/* a - b into a new array (NULL with *n 0 when empty). */
static int set_minus(const struct strata_prefix *a, size_t na,
		     const struct strata_prefix *b, size_t nb,
		     struct strata_prefix **out, size_t *n)
{
	size_t i, j = 0;
	int c;

	*out = NULL;
	*n = 0;
	if (!na)
		return 0;
	*out = malloc(na * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < na; i++) {
		c = 1;
		while (j < nb && (c = bgp_prefix_cmp(&b[j], &a[i])) < 0)
			j++;
		if (j < nb && !c)
			continue;
		(*out)[(*n)++] = a[i];
	}
	if (!*n) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

static bool fam_sends(const struct bgp_session *s, unsigned i);

/* How many of family i's desired prefixes may go out: max_prefixes
 * counts in bgp_prefix_cmp order, IPv4 first. */
static size_t quota(const struct bgp_session *s, unsigned i)
{
	size_t max = s->cfg.max_prefixes, before = 0, n = s->rib[i].n_want;

	if (!max)
		return n;
	if (i == BGP_IDX_V6 && fam_sends(s, BGP_IDX_V4))
		before = s->rib[BGP_IDX_V4].n_want < max ?
			 s->rib[BGP_IDX_V4].n_want : max;
	return n < max - before ? n : max - before;
}

static size_t withheld(const struct bgp_session *s)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < 2; i++)
		if (fam_sends(s, i))
			n += s->rib[i].n_want - quota(s, i);
	return n;
}

/* Before the barrier nothing is withdrawn: cut the announcements so the
 * peer never holds more than max_prefixes. */
static void cap_new(struct bgp_session *s, struct fam_rib *r)
{
	const struct fam_rib *o = &s->rib[r == &s->rib[0] ? 1 : 0];
	size_t held = r->n_adj + o->n_adj + o->n_ann, room, i, j = 0, fresh = 0;
	int c;

	room = held < s->cfg.max_prefixes ? s->cfg.max_prefixes - held : 0;
	for (i = 0; i < r->n_ann; i++) {
		c = 1;
		while (j < r->n_adj &&
		       (c = bgp_prefix_cmp(&r->adj[j], &r->ann[i])) < 0)
			j++;
		if (j < r->n_adj && !c)
			continue;
		if (fresh++ == room)
			break;
	}
	r->n_ann = i;
}

static void note_limit(struct bgp_session *s)
{
	size_t w = withheld(s), total = w;
	unsigned i;

	if (w == s->withheld)
		return;
	s->withheld = w;
	for (i = 0; i < 2; i++)
		total += fam_sends(s, i) ? quota(s, i) : 0;
	if (w)
		snprintf(s->limit_msg, sizeof(s->limit_msg),
			 "max_prefixes %u: announcing %zu of %zu prefixes",
			 s->cfg.max_prefixes, total - w, total);
	else
		s->limit_msg[0] = '\0';
	s->h->log(s->inst, w ? STRATA_LOG_WARNING : STRATA_LOG_INFO, "%s: %s",
		  s->name, w ? s->limit_msg :
		  "max_prefixes: every prefix announced again");
}

static int rib_plan(struct bgp_session *s, struct fam_rib *r, bool can_send)
{
	size_t n = quota(s, (unsigned)(r - s->rib));
	int rc = rib_fold(r);

	if (rc < 0)
		return rc;
	if (s->may_delete) {
		rc = set_minus(r->adj, r->n_adj, r->want, n, &r->wd, &r->n_wd);
		if (rc < 0)
			return rc;
	}
	if (!can_send)
		rc = 0;
	else if (r->full)
		rc = set_minus(r->want, n, NULL, 0, &r->ann, &r->n_ann);
	else
		rc = set_minus(r->want, n, r->adj, r->n_adj, &r->ann,
			       &r->n_ann);
	if (rc < 0)
		return rc;
	if (s->cfg.max_prefixes && !s->may_delete)
		cap_new(s, r);
	r->full = false;
	r->dirty = false;
	if (s->cfg.max_prefixes)
		note_limit(s);
	return 0;
}

static void rib_clear_sent(struct fam_rib *r)
{
	adj_set(r, NULL, 0);
	free(r->ann);
	free(r->wd);
	r->ann = r->wd = NULL;
	r->n_ann = r->i_ann = r->n_wd = r->i_wd = 0;
	r->eor_sent = false;
	r->full = true;
	r->dirty = true;
}

/* -- sockets and timers ------------------------------------------------ */

static void stop_timer(struct bgp_session *s, struct strata_timer **t)
{
	if (*t) {
		s->h->timer_stop(s->inst, *t);
		*t = NULL;
	}
}

static void close_fd(struct bgp_session *s)
{
	if (s->watch) {
		s->h->fd_unwatch(s->inst, s->watch);
		s->watch = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
		s->conn_gen++;
	}
	stop_timer(s, &s->hold_timer);
	stop_timer(s, &s->ka_timer);
	stop_timer(s, &s->yield_timer);
	s->out_len = 0;
	s->head_rem = 0;
	s->in_len = 0;
	s->closing = false;
}

static void want_events(struct bgp_session *s, uint32_t ev)
{
	if (s->watch && ev != s->watch_ev &&
	    s->h->fd_modify(s->inst, s->watch, ev) == 0)
		s->watch_ev = ev;
}

/* sent bytes left the buffer: where does its first message end now */
static void advance_head(struct bgp_session *s, size_t sent)
{
	size_t pos = 0, take;

	while (sent) {
		if (!s->head_rem)
			s->head_rem = (size_t)s->out[pos + 16] << 8 |
				      s->out[pos + 17];
		take = s->head_rem < sent ? s->head_rem : sent;
		s->head_rem -= take;
		sent -= take;
		pos += take;
	}
}

/* Write what the socket takes. 0, or -errno after which the caller resets. */
static int flush(struct bgp_session *s)
{
	ssize_t w;
	size_t off = 0;

	while (off < s->out_len) {
		w = send(s->fd, s->out + off, s->out_len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		off += (size_t)w;
	}
	advance_head(s, off);
	memmove(s->out, s->out + off, s->out_len - off);
	s->out_len -= off;
	want_events(s, (s->closing ? 0 : STRATA_FD_IN) |
			       (s->out_len ? STRATA_FD_OUT : 0));
	return 0;
}

/* Queue a control message; they are small and always find room, since
 * the UPDATE pump leaves 2 * 4096 bytes free. */
static int queue(struct bgp_session *s, const uint8_t *msg, size_t len)
{
	if (OUT_CAP - s->out_len < len)
		return -ENOBUFS;
	memcpy(s->out + s->out_len, msg, len);
	s->out_len += len;
	return 0;
}

static void send_notify(struct bgp_session *s, uint8_t code, uint8_t sub,
			const uint8_t *data, size_t len)
{
	uint8_t buf[BGP_MAX_MSG];
	int n = bgp_encode_notification(buf, sizeof(buf), code, sub, data, len);

	if (n > 0 && queue(s, buf, (size_t)n) == 0)
		flush(s);
}

static uint32_t rnd(struct bgp_session *s)
{
	/* xorshift32: jitter only needs to differ between peers */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 17;
	s->rng ^= s->rng << 5;
	return s->rng;
}

static void retry_cb(void *arg);

static void schedule_retry(struct bgp_session *s)
{
	int64_t d = s->backoff_ns;

	/* jitter: 75 % .. 100 % of the step */
	d -= (int64_t)((uint64_t)d / 4 * (rnd(s) % 1000) / 1000);
	s->backoff_ns *= 2;
	if (s->backoff_ns > s->cfg.retry_max_ns)
		s->backoff_ns = s->cfg.retry_max_ns;
	stop_timer(s, &s->retry_timer);
	s->retry_timer = s->h->timer_start(s->inst, d, 0, retry_cb, s);
	s->h->log(s->inst, STRATA_LOG_DEBUG, "%s: reconnect in %lld ms",
		  s->name, (long long)(d / 1000000));
}

static void session_reset(struct bgp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(s, fmt, ap);
	va_end(ap);
	s->h->log(s->inst, s->state == BGP_ST_ESTABLISHED ? STRATA_LOG_WARNING :
		  STRATA_LOG_INFO, "%s: %s -> Idle: %s", s->name,
		  bgp_state_name(s->state), s->last_error);
	close_fd(s);
	s->state = BGP_ST_IDLE;
	s->established_ns = 0;
	s->resets++;
	rib_clear_sent(&s->rib[0]);
	rib_clear_sent(&s->rib[1]);
	if (s->running && !s->cfg.passive)
		schedule_retry(s);
}

static void hold_cb(void *arg);

static void arm_hold(struct bgp_session *s, int64_t delay)
{
	stop_timer(s, &s->hold_timer);
	if (s->hold_ns > 0)
		s->hold_timer = s->h->timer_start(s->inst, delay, 0, hold_cb, s);
}

static void hold_cb(void *arg)
{
	struct bgp_session *s = arg;
	int64_t left = s->last_rx + s->hold_ns - s->h->now();

	s->hold_timer = NULL;
	if (left > 0) {
		arm_hold(s, left);
		return;
	}
	send_notify(s, BGP_ERR_HOLD, 0, NULL, 0);
	session_reset(s, "hold timer expired (%lld s)",
		      (long long)(s->hold_ns / NS));
}

static void ka_cb(void *arg)
{
	struct bgp_session *s = arg;
	uint8_t buf[BGP_LEN_KEEPALIVE];
	int n = bgp_encode_keepalive(buf, sizeof(buf));
	int rc;

	if (n > 0 && queue(s, buf, (size_t)n) == 0) {
		rc = flush(s);
		if (rc < 0)
			session_reset(s, "send: %s", strerror(-rc));
	}
}

static void set_sockopts(struct bgp_session *s, int fd, int family)
{
	int one = 1, ttl = 255;
	unsigned timeout;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	timeout = (unsigned)(s->cfg.no_hold ? 90 : s->cfg.hold) * 1000;
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout,
		   sizeof(timeout));
	/* CS6, as routers mark their control traffic */
	if (family == AF_INET) {
		int tos = 0xc0;

		setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	}
	if (!s->cfg.gtsm)
		return;
	if (family == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
		setsockopt(fd, IPPROTO_IP, IP_MINTTL, &ttl, sizeof(ttl));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl,
			   sizeof(ttl));
		setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &ttl,
			   sizeof(ttl));
	}
}

static int set_md5(struct bgp_session *s, int fd)
{
	struct tcp_md5sig md = { .tcpm_keylen = 0 };
	size_t len = strlen(s->password);

	if (len > TCP_MD5SIG_MAXKEYLEN)
		return -EINVAL;
	bgp_sockaddr(&s->cfg.peer, 0, &md.tcpm_addr);
	md.tcpm_keylen = (uint16_t)len;
	memcpy(md.tcpm_key, s->password, len);
	if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &md, sizeof(md)) < 0)
		return -errno;
	return 0;
}

static void io_cb(void *arg, int fd, uint32_t events);
static bool collision_on_open(struct bgp_session *s, uint32_t peer_id);

static int encode_open(const struct bgp_session *s, uint8_t *buf, size_t cap)
{
	struct bgp_open o = {
		.version = BGP_VERSION,
		.as = s->cfg.local_as,
		.hold = s->cfg.no_hold ? 0 : s->cfg.hold,
		.id = s->cfg.router_id,
		.families = s->cfg.families,
		.route_refresh = true,
		.as4 = true,
		.ext_msg = true,
		.gr = s->cfg.gr_time > 0,
		.gr_restarting = s->cfg.gr_restarting,
		.gr_time = s->cfg.gr_time,
		.gr_families = s->cfg.families,
		.gr_forwarding = s->cfg.families,
	};

	return bgp_encode_open(buf, cap, &o);
}

static void send_open(struct bgp_session *s)
{
	uint8_t buf[BGP_MAX_MSG];
	int n = encode_open(s, buf, sizeof(buf)), rc;

	s->neg = (struct bgp_neg){ .as4 = false };
	if (n < 0) {
		session_reset(s, "encoding OPEN: %s", strerror(-n));
		return;
	}
	queue(s, buf, (size_t)n);
	rc = flush(s);
	if (rc < 0) {
		session_reset(s, "send: %s", strerror(-rc));
		return;
	}
	s->state = BGP_ST_OPENSENT;
	s->hold_ns = OPEN_HOLD_NS;
	s->last_rx = s->h->now();
	arm_hold(s, s->hold_ns);
}

static void connect_done(struct bgp_session *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		session_reset(s, "connect: %s", strerror(err));
		return;
	}
	stop_timer(s, &s->hold_timer);
	want_events(s, STRATA_FD_IN);
	s->h->log(s->inst, STRATA_LOG_DEBUG, "%s: connected", s->name);
	send_open(s);
}

static void connect_timeout_cb(void *arg)
{
	struct bgp_session *s = arg;

	s->hold_timer = NULL;
	session_reset(s, "connect: timed out after %lld ms",
		      (long long)(s->cfg.connect_timeout_ns / 1000000));
}

static void do_connect(struct bgp_session *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int family = s->cfg.peer.family == STRATA_AF_INET6 ? AF_INET6 : AF_INET;
	int fd, rc;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		session_reset(s, "socket: %s", strerror(errno));
		return;
	}
	s->fd = fd;
	s->inbound = false;
	set_sockopts(s, fd, family);
	if (s->password && (rc = set_md5(s, fd)) < 0) {
		session_reset(s, "TCP_MD5SIG: %s", strerror(-rc));
		return;
	}
	if (s->cfg.local.family) {
		sl = bgp_sockaddr(&s->cfg.local, 0, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
			session_reset(s, "bind: %s", strerror(errno));
			return;
		}
	}
	s->watch = s->h->fd_watch(s->inst, fd, STRATA_FD_OUT, io_cb, s);
	if (!s->watch) {
		session_reset(s, "fd_watch failed");
		return;
	}
	s->watch_ev = STRATA_FD_OUT;
	s->state = BGP_ST_CONNECT;
	sl = bgp_sockaddr(&s->cfg.peer, s->cfg.port, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
		connect_done(s);
		return;
	}
	if (errno != EINPROGRESS) {
		session_reset(s, "connect: %s", strerror(errno));
		return;
	}
	s->hold_timer = s->h->timer_start(s->inst, s->cfg.connect_timeout_ns, 0,
					  connect_timeout_cb, s);
}

static void retry_cb(void *arg)
{
	struct bgp_session *s = arg;

	s->retry_timer = NULL;
	if (s->running && s->state == BGP_ST_IDLE)
		do_connect(s);
}

/* -- receiving --------------------------------------------------------- */

static void fsm_error(struct bgp_session *s, uint8_t type)
{
	char t[32];

	send_notify(s, BGP_ERR_FSM, (uint8_t)(s->state - 1), NULL, 0);
	session_reset(s, "unexpected %s in %s",
		      bgp_type_name(type, t, sizeof(t)),
		      bgp_state_name(s->state));
}

static void got_open(struct bgp_session *s, const uint8_t *msg, size_t len)
{
	struct bgp_notify err;
	struct bgp_open *o = &s->peer_open;
	uint8_t buf[BGP_LEN_KEEPALIVE];
	uint16_t ours = s->cfg.no_hold ? 0 : s->cfg.hold;
	uint32_t as;
	int n;

	if (bgp_decode_open(msg, len, o, &err) < 0) {
		send_notify(s, err.code, err.sub, err.data, err.data_len);
		session_reset(s, "bad OPEN: %s", err.text);
		return;
	}
	if (s->cfg.peer_as && o->as != s->cfg.peer_as) {
		as = htonl(o->as);
		send_notify(s, BGP_ERR_OPEN, BGP_OPEN_BAD_PEER_AS,
			    (const uint8_t *)&as, 4);
		session_reset(s, "peer AS %u, expected %u", o->as,
			      s->cfg.peer_as);
		return;
	}
	if (o->id == s->cfg.router_id) {
		send_notify(s, BGP_ERR_OPEN, BGP_OPEN_BAD_ID, NULL, 0);
		session_reset(s, "peer BGP identifier equals ours");
		return;
	}
	if (collision_on_open(s, o->id))
		return;
	s->hold = o->hold < ours ? o->hold : ours;
	s->neg = (struct bgp_neg){
		.as4 = o->as4,
		.ext_msg = o->ext_msg, /* always offered */
		.ibgp = o->as == s->cfg.local_as,
	};
	/* No multiprotocol capability at all means IPv4 unicast. */
	s->fams = s->cfg.families & (o->n_mp ? o->families : BGP_FAM_IPV4);
	n = bgp_encode_keepalive(buf, sizeof(buf));
	if (n > 0)
		queue(s, buf, (size_t)n);
	n = flush(s);
	if (n < 0) {
		session_reset(s, "send: %s", strerror(-n));
		return;
	}
	s->state = BGP_ST_OPENCONFIRM;
	s->hold_ns = (int64_t)s->hold * NS;
	stop_timer(s, &s->hold_timer);
	arm_hold(s, s->hold_ns);
}

static void established(struct bgp_session *s)
{
	unsigned timeout = (unsigned)s->hold * 1000;

	s->state = BGP_ST_ESTABLISHED;
	s->established_ns = s->h->now();
	/* later sessions of this process follow no restart */
	s->cfg.gr_restarting = false;
	s->backoff_ns = s->cfg.retry_min_ns;
	s->last_error[0] = '\0';
	if (s->hold) {
		setsockopt(s->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout,
			   sizeof(timeout));
		s->ka_timer = s->h->timer_start(s->inst, s->hold_ns / 3,
						s->hold_ns / 3, ka_cb, s);
	}
	s->h->log(s->inst, STRATA_LOG_INFO,
		  "%s: Established (AS %u, hold %u s, %s%s%s)", s->name,
		  s->peer_open.as, s->hold, s->neg.ibgp ? "iBGP" : "eBGP",
		  s->neg.as4 ? ", 4-octet AS" : "",
		  s->peer_open.gr ? ", graceful restart" : "");
	rib_clear_sent(&s->rib[0]);
	rib_clear_sent(&s->rib[1]);
	pump(s);
}

static void got_notification(struct bgp_session *s, const uint8_t *msg,
			     size_t len)
{
	struct bgp_notification n;
	char name[96];

	s->notifications_in++;
	if (bgp_decode_notification(msg, len, &n) < 0) {
		session_reset(s, "malformed NOTIFICATION received");
		return;
	}
	bgp_error_name(n.code, n.sub, name, sizeof(name));
	session_reset(s, "NOTIFICATION received: %s%s%s%s", name,
		      n.has_shutdown ? " \"" : "",
		      n.has_shutdown ? n.shutdown : "",
		      n.has_shutdown ? "\"" : "");
}

static void got_update(struct bgp_session *s, const uint8_t *msg, size_t len)
{
	struct bgp_update_info ui;

	s->updates_in++;
	if (bgp_decode_update(msg, len, &s->neg, &ui) < 0) {
		send_notify(s, ui.notify.code, ui.notify.sub, ui.notify.data,
			    ui.notify.data_len);
		session_reset(s, "malformed UPDATE: %s", ui.notify.text);
		return;
	}
	if (ui.verdict >= BGP_VERDICT_ATTR_DISCARD)
		s->h->log(s->inst, STRATA_LOG_WARNING,
			  "%s: UPDATE %s, dropped: %s", s->name,
			  ui.verdict == BGP_VERDICT_TREAT_AS_WITHDRAW ?
			  "treated as withdraw" : "with attributes discarded",
			  ui.notify.text);
}

static void got_refresh(struct bgp_session *s, const uint8_t *msg, size_t len)
{
	struct bgp_route_refresh rr;
	struct bgp_notify err;
	unsigned i;

	if (bgp_decode_route_refresh(msg, len, &rr, &err) < 0) {
		send_notify(s, err.code, err.sub, err.data, err.data_len);
		session_reset(s, "bad ROUTE-REFRESH: %s", err.text);
		return;
	}
	if (rr.subtype != 0 || rr.safi != BGP_SAFI_UNICAST)
		return;
	i = rr.afi == BGP_AFI_IPV6 ? BGP_IDX_V6 : BGP_IDX_V4;
	if (rr.afi != BGP_AFI_IPV4 && rr.afi != BGP_AFI_IPV6)
		return;
	s->h->log(s->inst, STRATA_LOG_INFO, "%s: route refresh for %s",
		  s->name, i == BGP_IDX_V6 ? "IPv6" : "IPv4");
	s->rib[i].full = true;
	s->rib[i].dirty = true;
	pump(s);
}

/* One framed message; false when the session was reset. */
static bool dispatch(struct bgp_session *s, uint8_t type, const uint8_t *msg,
		     size_t len)
{
	uint64_t gen = s->conn_gen;

	s->last_rx = s->h->now();
	if (type == BGP_NOTIFICATION) {
		got_notification(s, msg, len);
		return false;
	}
	switch (s->state) {
	case BGP_ST_OPENSENT:
		if (type != BGP_OPEN)
			fsm_error(s, type);
		else
			got_open(s, msg, len);
		break;
	case BGP_ST_OPENCONFIRM:
		if (type == BGP_KEEPALIVE)
			established(s);
		else
			fsm_error(s, type);
		break;
	case BGP_ST_ESTABLISHED:
		if (type == BGP_UPDATE)
			got_update(s, msg, len);
		else if (type == BGP_ROUTE_REFRESH)
			got_refresh(s, msg, len);
		else if (type != BGP_KEEPALIVE)
			fsm_error(s, type);
		break;
	default:
		fsm_error(s, type);
		break;
	}
	return s->conn_gen == gen;
}

/* Dispatch the whole messages in the input buffer. */
static void process_in(struct bgp_session *s)
{
	struct bgp_notify err;
	size_t off, msglen;
	uint8_t type;
	int n;

	off = 0;
	for (;;) {
		n = bgp_frame(s->in + off, s->in_len - off, bgp_neg_max(&s->neg),
			      &type, &msglen, &err);
		if (n < 0) {
			send_notify(s, err.code, err.sub, err.data,
				    err.data_len);
			session_reset(s, "bad message header: %s", err.text);
			return;
		}
		if (n == 0)
			break;
		if (!dispatch(s, type, s->in + off, msglen))
			return;
		off += msglen;
	}
	memmove(s->in, s->in + off, s->in_len - off);
	s->in_len -= off;
}

static void on_readable(struct bgp_session *s)
{
	ssize_t r;

	/* a flooding peer gets READ_MAX per turn of the loop */
	r = recv(s->fd, s->in + s->in_len,
		 IN_CAP - s->in_len < READ_MAX ? IN_CAP - s->in_len : READ_MAX,
		 0);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			session_reset(s, "recv: %s", strerror(errno));
		return;
	}
	if (r == 0) {
		session_reset(s, "connection closed by peer%s",
			      s->in_len ? " mid-message" : "");
		return;
	}
	s->in_len += (size_t)r;
	process_in(s);
}

/* Unread input would make close() send a RST and drop what is queued:
 * read it (bounded), then close. */
static void finish_close(struct bgp_session *s)
{
	uint8_t buf[4096];
	int i;

	for (i = 0; s->fd >= 0 && i < 64; i++)
		if (recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_WR);
	close_fd(s);
}

static void close_timeout_cb(void *arg)
{
	struct bgp_session *s = arg;

	s->hold_timer = NULL;
	s->h->log(s->inst, STRATA_LOG_INFO,
		  "%s: the Cease did not go out within %lld ms: closing",
		  s->name, (long long)(CLOSE_NS / 1000000));
	finish_close(s);
}

static void io_cb(void *arg, int fd, uint32_t events)
{
	struct bgp_session *s = arg;
	int rc;

	(void)fd;
	if (s->closing) {
		rc = flush(s);
		if (rc < 0 || !s->out_len)
			finish_close(s);
		return;
	}
	if (s->state == BGP_ST_CONNECT) {
		connect_done(s);
		return;
	}
	if (events & STRATA_FD_OUT) {
		rc = flush(s);
		if (rc < 0) {
			session_reset(s, "send: %s", strerror(-rc));
			return;
		}
		if (s->out_len == 0)
			pump(s);
		if (s->state == BGP_ST_IDLE)
			return;
	}
	if (events & (STRATA_FD_IN | STRATA_FD_HUP | STRATA_FD_ERR))
		on_readable(s);
}

/* -- accepted connections and collisions (RFC 4271 6.8) ------------------ */

/* Best effort on a connection being given up: the socket is fresh or
 * idle, so one small message fits its buffer. */
static void notify_fd(int fd, uint8_t code, uint8_t sub)
{
	uint8_t buf[BGP_MIN_NOTIFICATION];
	int n = bgp_encode_notification(buf, sizeof(buf), code, sub, NULL, 0);

	if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return;
}

static void pend_close(struct bgp_session *s, uint8_t code, uint8_t sub)
{
	struct pending *p = &s->pend;

	if (p->watch) {
		s->h->fd_unwatch(s->inst, p->watch);
		p->watch = NULL;
	}
	stop_timer(s, &p->timer);
	if (p->fd >= 0) {
		if (code)
			notify_fd(p->fd, code, sub);
		close(p->fd);
		p->fd = -1;
	}
	p->in_len = 0;
}

static void take_fd(struct bgp_session *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	stop_timer(s, &s->retry_timer);
	s->fd = fd;
	s->inbound = true;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		set_sockopts(s, fd, ss.ss_family);
	s->watch = s->h->fd_watch(s->inst, fd, STRATA_FD_IN, io_cb, s);
	s->watch_ev = STRATA_FD_IN;
}

/* The waiting connection wins: it becomes the session's, with the OPEN
 * it brought (msglen bytes; 0: none yet) and whatever followed. */
static void pend_promote(struct bgp_session *s, size_t msglen)
{
	struct pending *p = &s->pend;
	uint8_t open[BGP_MAX_MSG];
	size_t rest = p->in_len - msglen;
	int fd = p->fd;

	close_fd(s);
	memcpy(open, p->in, msglen);
	memcpy(s->in, p->in + msglen, rest);
	s->h->fd_unwatch(s->inst, p->watch);
	p->watch = NULL;
	stop_timer(s, &p->timer);
	p->fd = -1;
	p->in_len = 0;
	take_fd(s, fd);
	if (!s->watch) {
		session_reset(s, "fd_watch failed");
		return;
	}
	s->in_len = rest;
	s->neg = (struct bgp_neg){ .as4 = false };
	s->state = BGP_ST_OPENSENT; /* our OPEN went out on it */
	s->hold_ns = OPEN_HOLD_NS;
	s->last_rx = s->h->now();
	arm_hold(s, s->hold_ns);
	if (msglen)
		got_open(s, open, msglen);
	if (s->state != BGP_ST_IDLE)
		process_in(s);
}

/* Give up our connection for the waiting one (Cease/7 on ours). */
static void yield_to_pending(struct bgp_session *s, size_t msglen)
{
	s->h->log(s->inst, STRATA_LOG_INFO, "%s: connection collision: %s",
		  s->name, s->state == BGP_ST_IDLE ? "taking the peer's" :
		  "the peer's BGP identifier is higher: taking the peer's");
	if (s->state >= BGP_ST_OPENSENT)
		send_notify(s, BGP_ERR_CEASE, BGP_CEASE_COLLISION, NULL, 0);
	pend_promote(s, msglen);
}

/*
 * Our connection's OPEN told the peer's identifier while an accepted one
 * waits: resolve now. True when our connection was given up (the
 * caller's message belongs to a closed connection).
 */
static bool collision_on_open(struct bgp_session *s, uint32_t peer_id)
{
	if (s->pend.fd < 0)
		return false;
	if (s->cfg.router_id > peer_id) {
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: connection collision: our BGP identifier is "
			  "higher: keeping ours", s->name);
		pend_close(s, BGP_ERR_CEASE, BGP_CEASE_COLLISION);
		return false;
	}
	yield_to_pending(s, 0);
	return true;
}

/* The peer's OPEN on the waiting connection: its identifier decides. */
static void pend_open(struct bgp_session *s, size_t msglen)
{
	struct pending *p = &s->pend;
	struct bgp_notify err;
	struct bgp_open o;
	const char *why;

	if (bgp_decode_open(p->in, msglen, &o, &err) < 0) {
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: accepted connection: bad OPEN: %s", s->name,
			  err.text);
		pend_close(s, err.code, err.sub);
		return;
	}
	if ((s->cfg.peer_as && o.as != s->cfg.peer_as) ||
	    o.id == s->cfg.router_id) {
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: accepted connection: %s", s->name,
			  o.id == s->cfg.router_id ? "same BGP identifier" :
			  "wrong peer AS");
		pend_close(s, BGP_ERR_OPEN, o.id == s->cfg.router_id ?
			   BGP_OPEN_BAD_ID : BGP_OPEN_BAD_PEER_AS);
		return;
	}
	if (s->state == BGP_ST_ESTABLISHED) {
		why = "already Established";
	} else if (s->state != BGP_ST_IDLE && s->cfg.router_id > o.id) {
		why = "our BGP identifier is higher: keeping ours";
	} else {
		yield_to_pending(s, msglen);
		return;
	}
	s->h->log(s->inst, STRATA_LOG_INFO, "%s: connection collision: %s",
		  s->name, why);
	pend_close(s, BGP_ERR_CEASE, BGP_CEASE_COLLISION);
}

static void pend_io_cb(void *arg, int fd, uint32_t events)
{
	struct bgp_session *s = arg;
	struct pending *p = &s->pend;
	struct bgp_notify err;
	size_t msglen;
	uint8_t type;
	ssize_t r;
	int n;

	(void)events;
	r = recv(fd, p->in + p->in_len, sizeof(p->in) - p->in_len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (r <= 0) {
		pend_close(s, 0, 0);
		return;
	}
	p->in_len += (size_t)r;
	n = bgp_frame(p->in, p->in_len, BGP_MAX_MSG, &type, &msglen, &err);
	if (n == 0)
		return;
	if (n < 0) {
		pend_close(s, err.code, err.sub);
		return;
	}
	if (type == BGP_OPEN)
		pend_open(s, msglen);
	else
		pend_close(s, type == BGP_NOTIFICATION ? 0 : BGP_ERR_FSM,
			   BGP_ST_OPENSENT - 1);
}

static void pend_timeout_cb(void *arg)
{
	struct bgp_session *s = arg;

	s->pend.timer = NULL;
	s->h->log(s->inst, STRATA_LOG_INFO,
		  "%s: accepted connection sent no OPEN in time", s->name);
	pend_close(s, BGP_ERR_HOLD, 0);
}

int bgp_session_accept(struct bgp_session *s, int fd)
{
	struct pending *p = &s->pend;
	uint8_t buf[BGP_MAX_MSG];
	int n;

	if (!s->running) {
		close(fd);
		return -ECONNREFUSED;
	}
	if (s->state == BGP_ST_ESTABLISHED) {
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: connection collision: already Established, "
			  "refusing the new one", s->name);
		notify_fd(fd, BGP_ERR_CEASE, BGP_CEASE_COLLISION);
		close(fd);
		return -ECONNREFUSED;
	}
	if (s->state == BGP_ST_OPENCONFIRM && !s->inbound &&
	    s->cfg.router_id > s->peer_open.id) {
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: connection collision: our BGP identifier is "
			  "higher: keeping ours", s->name);
		notify_fd(fd, BGP_ERR_CEASE, BGP_CEASE_COLLISION);
		close(fd);
		return -ECONNREFUSED;
	}
	if (s->state == BGP_ST_OPENCONFIRM && !s->inbound) {
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: connection collision: the peer's BGP identifier "
			  "is higher: taking the peer's", s->name);
		send_notify(s, BGP_ERR_CEASE, BGP_CEASE_COLLISION, NULL, 0);
		close_fd(s);
		s->state = BGP_ST_IDLE;
	}
	if (s->state != BGP_ST_IDLE && s->inbound) {
		/* the peer gave up its earlier connection */
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: a new connection from the peer replaces its "
			  "earlier one", s->name);
		close_fd(s);
		s->state = BGP_ST_IDLE;
	}
	if (s->state == BGP_ST_IDLE) {
		pend_close(s, 0, 0);
		take_fd(s, fd);
		if (!s->watch) {
			session_reset(s, "fd_watch failed");
			return 0;
		}
		s->h->log(s->inst, STRATA_LOG_DEBUG, "%s: accepted", s->name);
		send_open(s);
		return 0;
	}
	/* Next to our own connection: send our OPEN, wait for the peer's. */
	pend_close(s, 0, 0);
	n = encode_open(s, buf, sizeof(buf));
	if (n < 0 || send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		close(fd);
		return 0;
	}
	p->fd = fd;
	p->watch = s->h->fd_watch(s->inst, fd, STRATA_FD_IN, pend_io_cb, s);
	if (!p->watch) {
		pend_close(s, 0, 0);
		return 0;
	}
	p->timer = s->h->timer_start(s->inst, s->cfg.no_hold ? OPEN_HOLD_NS :
				     (int64_t)s->cfg.hold * NS, 0,
				     pend_timeout_cb, s);
	return 0;
}

/* -- sending UPDATEs --------------------------------------------------- */

static void yield_cb(void *arg)
{
	struct bgp_session *s = arg;

	s->yield_timer = NULL;
	pump(s);
}

static bool fam_sends(const struct bgp_session *s, unsigned i)
{
	const struct strata_addr *nh = i == BGP_IDX_V6 ? &s->attrs.nexthop6 :
							 &s->attrs.nexthop4;

	return (s->fams & fam_bit(i)) && nh->family == fam_af(i);
}

static void fill_attrs(const struct bgp_session *s, unsigned i,
		       struct bgp_attrs *a)
{
	*a = (struct bgp_attrs){
		.local_as = s->cfg.local_as,
		.nexthop = i == BGP_IDX_V6 ? s->attrs.nexthop6 :
					     s->attrs.nexthop4,
		.has_med = s->attrs.has_med,
		.med = s->attrs.med,
		.local_pref = s->attrs.local_pref ? s->attrs.local_pref : 100,
		.communities = s->communities,
		.n_communities = s->attrs.n_communities,
		.large = s->large,
		.n_large = s->attrs.n_large,
	};
}

/* Encode one message of family i's pending work into the output buffer:
 * 1 when one was, 0 when the family has nothing left, -errno. */
/* The largest UPDATE we send: 4096, or max_msg once RFC 8654 is agreed. */
static size_t send_max(const struct bgp_session *s)
{
	return s->neg.ext_msg ? s->cfg.max_msg : BGP_MAX_MSG;
}

static int encode_one(struct bgp_session *s, unsigned i)
{
	struct fam_rib *r = &s->rib[i];
	uint8_t *buf = s->out + s->out_len;
	size_t cap = OUT_CAP - s->out_len, used = 0;
	struct bgp_attrs a;
	int n, rc;

	if (cap > send_max(s))
		cap = send_max(s);
	if (r->dirty) {
		rc = rib_plan(s, r, fam_sends(s, i));
		if (rc < 0)
			return rc;
	}
	if (r->i_wd < r->n_wd) {
		n = bgp_encode_withdraw(buf, cap, &s->neg, r->wd + r->i_wd,
					r->n_wd - r->i_wd, &used);
		if (n < 0)
			return n;
		r->i_wd += used;
	} else if (r->i_ann < r->n_ann) {
		fill_attrs(s, i, &a);
		n = bgp_encode_announce(buf, cap, &s->neg, &a,
					r->ann + r->i_ann, r->n_ann - r->i_ann,
					&used);
		if (n < 0)
			return n;
		r->i_ann += used;
	} else {
		if (r->ann || r->wd) {
			rc = rib_fold(r);
			if (rc < 0)
				return rc;
		}
		if (r->eor_sent || !s->may_delete)
			return 0;
		n = bgp_encode_eor(buf, cap, fam_af(i));
		if (n < 0)
			return n;
		r->eor_sent = true;
		s->h->log(s->inst, STRATA_LOG_INFO,
			  "%s: End-of-RIB for %s, %zu prefixes", s->name,
			  i == BGP_IDX_V6 ? "IPv6" : "IPv4", r->n_adj);
	}
	s->out_len += (size_t)n;
	s->updates_out++;
	return 1;
}

static void pump(struct bgp_session *s)
{
	/* one more UPDATE, and the control messages that may follow it */
	size_t room = send_max(s) + 2 * BGP_MAX_MSG;
	unsigned i, msgs = 0;
	bool more = false;
	int rc;

	if (s->state != BGP_ST_ESTABLISHED)
		return;
	for (i = 0; i < 2; i++) {
		if (!(s->fams & fam_bit(i)))
			continue;
		while (msgs < BATCH_MSGS &&
		       OUT_CAP - s->out_len >= room) {
			rc = encode_one(s, i);
			if (rc < 0) {
				send_notify(s, BGP_ERR_CEASE,
					    BGP_CEASE_OUT_OF_RESOURCES, NULL, 0);
				session_reset(s, "encoding UPDATE: %s",
					      strerror(-rc));
				return;
			}
			if (rc == 0)
				break;
			msgs++;
		}
		if (msgs >= BATCH_MSGS || OUT_CAP - s->out_len < room)
			more = true;
	}
	rc = flush(s);
	if (rc < 0) {
		session_reset(s, "send: %s", strerror(-rc));
		return;
	}
	/* Continue on writability when the socket is full, else after the
	 * loop has run everything else that is due. */
	if (more && !s->out_len && !s->yield_timer)
		s->yield_timer = s->h->timer_start(s->inst, 0, 0, yield_cb, s);
}

/* -- API --------------------------------------------------------------- */

struct bgp_session *bgp_session_new(const struct strata_host *h,
				    struct strata_instance *inst,
				    const struct bgp_session_cfg *cfg)
{
	struct bgp_session *s;
	char addr[INET6_ADDRSTRLEN];

	if (!cfg->local_as || !cfg->router_id ||
	    (cfg->peer.family != STRATA_AF_INET &&
	     cfg->peer.family != STRATA_AF_INET6) ||
	    (!cfg->no_hold && cfg->hold && cfg->hold < 3) ||
	    cfg->gr_time > BGP_GR_TIME_MAX ||
	    (cfg->max_msg && cfg->max_msg < BGP_MAX_MSG) ||
	    (cfg->password && strlen(cfg->password) > TCP_MD5SIG_MAXKEYLEN))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->h = h;
	s->inst = inst;
	s->cfg = *cfg;
	s->fd = -1;
	s->pend.fd = -1;
	if (!s->cfg.port)
		s->cfg.port = 179;
	if (!s->cfg.hold)
		s->cfg.hold = 90;
	if (!s->cfg.families)
		s->cfg.families = BGP_FAM_IPV4;
	if (s->cfg.retry_min_ns <= 0)
		s->cfg.retry_min_ns = NS;
	if (s->cfg.retry_max_ns < s->cfg.retry_min_ns)
		s->cfg.retry_max_ns = 60 * NS > s->cfg.retry_min_ns ?
				      60 * NS : s->cfg.retry_min_ns;
	if (!s->cfg.max_msg)
		s->cfg.max_msg = BGP_MAX_MSG_EXT;
	if (s->cfg.connect_timeout_ns <= 0)
		s->cfg.connect_timeout_ns = 10 * NS;
	s->backoff_ns = s->cfg.retry_min_ns;
	s->rng = cfg->seed ? cfg->seed : 0x9e3779b9u;
	s->out = malloc(OUT_CAP);
	s->in = malloc(IN_CAP);
	if (cfg->password)
		s->password = strdup(cfg->password);
	if (!s->out || !s->in || (cfg->password && !s->password)) {
		bgp_session_free(s);
		return NULL;
	}
	s->cfg.password = NULL;
	inet_ntop(cfg->peer.family == STRATA_AF_INET6 ? AF_INET6 : AF_INET,
		  cfg->peer.addr, addr, sizeof(addr));
	snprintf(s->name, sizeof(s->name), "peer %s", addr);
	return s;
}

int bgp_session_start(struct bgp_session *s)
{
	if (s->running)
		return 0;
	if (s->closing)
		finish_close(s);
	s->running = true;
	s->backoff_ns = s->cfg.retry_min_ns;
	if (s->state == BGP_ST_IDLE && !s->cfg.passive)
		do_connect(s);
	return 0;
}

int bgp_session_set_prefixes(struct bgp_session *s, uint8_t family,
			     const struct strata_prefix *pfx, size_t n)
{
	struct fam_rib *r;
	struct strata_prefix *copy = NULL;
	size_t i;
	int rc;

	if (family != STRATA_AF_INET && family != STRATA_AF_INET6)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (pfx[i].family != family ||
		    pfx[i].len > (family == STRATA_AF_INET ? 32 : 128) ||
		    (i && bgp_prefix_cmp(&pfx[i - 1], &pfx[i]) >= 0))
			return -EINVAL;
	r = &s->rib[fam_idx(family)];
	if (n == r->n_want && (!n || !memcmp(pfx, r->want, n * sizeof(*pfx))))
		return 0;
	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, pfx, n * sizeof(*copy));
	}
	/* keep what was sent of the old plan before planning anew */
	rc = rib_fold(r);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	want_set(r, copy, n);
	r->dirty = true;
	/* the other family's share of max_prefixes may change */
	if (s->cfg.max_prefixes)
		s->rib[0].dirty = s->rib[1].dirty = true;
	pump(s);
	return 0;
}

int bgp_session_set_attrs(struct bgp_session *s,
			  const struct bgp_session_attrs *a)
{
	uint32_t *c = NULL;
	struct bgp_large_community *l = NULL;
	unsigned i;

	if (a->n_communities) {
		c = malloc(a->n_communities * sizeof(*c));
		if (!c)
			return -ENOMEM;
		memcpy(c, a->communities, a->n_communities * sizeof(*c));
	}
	if (a->n_large) {
		l = malloc(a->n_large * sizeof(*l));
		if (!l) {
			free(c);
			return -ENOMEM;
		}
		memcpy(l, a->large, a->n_large * sizeof(*l));
	}
	free(s->communities);
	free(s->large);
	s->communities = c;
	s->large = l;
	s->attrs = *a;
	s->attrs.communities = NULL;
	s->attrs.large = NULL;
	for (i = 0; i < 2; i++) {
		s->rib[i].full = true;
		s->rib[i].dirty = true;
	}
	pump(s);
	return 0;
}

void bgp_session_may_delete(struct bgp_session *s)
{
	if (s->may_delete)
		return;
	s->may_delete = true;
	s->rib[0].dirty = true;
	s->rib[1].dirty = true;
	pump(s);
}

void bgp_session_stop(struct bgp_session *s, bool graceful, const char *text)
{
	uint8_t buf[BGP_MAX_MSG];
	bool linger = false;
	int n;

	s->running = false;
	stop_timer(s, &s->retry_timer);
	pend_close(s, graceful ? 0 : BGP_ERR_CEASE, BGP_CEASE_ADMIN_SHUTDOWN);
	if (s->state == BGP_ST_IDLE)
		return;
	if (!graceful && s->state >= BGP_ST_OPENSENT) {
		/* Finish the message on the wire, drop the UPDATEs queued
		 * behind it: the Cease goes next. */
		s->out_len = s->head_rem;
		n = bgp_encode_cease(buf, sizeof(buf), BGP_CEASE_ADMIN_SHUTDOWN,
				     text);
		if (n > 0 && queue(s, buf, (size_t)n) == 0 && flush(s) == 0 &&
		    s->out_len)
			linger = true;
	}
	s->h->log(s->inst, STRATA_LOG_INFO, "%s: stopped%s", s->name,
		  graceful ? " (graceful: no Cease)" : "");
	if (linger) {
		/* the rest on writability, within CLOSE_NS */
		stop_timer(s, &s->hold_timer);
		stop_timer(s, &s->ka_timer);
		stop_timer(s, &s->yield_timer);
		s->closing = true;
		want_events(s, STRATA_FD_OUT);
		s->hold_timer = s->h->timer_start(s->inst, CLOSE_NS, 0,
						  close_timeout_cb, s);
	} else if (!graceful) {
		finish_close(s);
	} else {
		close_fd(s);
	}
	s->state = BGP_ST_IDLE;
	s->established_ns = 0;
	rib_clear_sent(&s->rib[0]);
	rib_clear_sent(&s->rib[1]);
}

void bgp_session_free(struct bgp_session *s)
{
	unsigned i;

	if (!s)
		return;
	s->running = false;
	stop_timer(s, &s->retry_timer);
	pend_close(s, 0, 0);
	/* The loop may not run again: one last try, never blocking; what
	 * the socket took still goes out after close(). */
	if (s->closing) {
		flush(s);
		finish_close(s);
	}
	close_fd(s);
	for (i = 0; i < 2; i++) {
		rib_clear_sent(&s->rib[i]);
		want_set(&s->rib[i], NULL, 0);
	}
	free(s->communities);
	free(s->large);
	free(s->password);
	free(s->out);
	free(s->in);
	free(s);
}

void bgp_session_info(const struct bgp_session *s,
		      struct bgp_session_info *out)
{
	bool up = s->state == BGP_ST_ESTABLISHED;
	unsigned i;

	*out = (struct bgp_session_info){
		.state = s->state,
		.established_ns = s->established_ns,
		.hold = up ? s->hold : 0,
		.peer_as = up ? s->peer_open.as : 0,
		.peer_id = up ? s->peer_open.id : 0,
		.families = up ? s->fams : 0,
		.as4 = up && s->neg.as4,
		.route_refresh = up && s->peer_open.route_refresh,
		.gr = up && s->peer_open.gr,
		.ibgp = up && s->neg.ibgp,
		.updates_out = s->updates_out,
		.updates_in = s->updates_in,
		.notifications_in = s->notifications_in,
		.resets = s->resets,
		.inbound = s->state != BGP_ST_IDLE && s->inbound,
		.ext_msg = up && s->neg.ext_msg,
		.withheld = s->withheld,
		.last_error = s->last_error[0] ? s->last_error : s->limit_msg,
	};
	for (i = 0; i < 2; i++) {
		const struct fam_rib *r = &s->rib[i];

		out->announced[i] = r->n_adj;
		out->rib_bytes += (r->n_want + r->n_ann + r->n_wd +
				   (r->adj != r->want ? r->n_adj : 0)) *
				  sizeof(struct strata_prefix);
		out->pending += (r->n_ann - r->i_ann) + (r->n_wd - r->i_wd);
		out->eor_sent[i] = r->eor_sent;
	}
}

int bgp_session_announced(const struct bgp_session *s, uint8_t family,
			  struct strata_prefix **out, size_t *n)
{
	const struct fam_rib *r = &s->rib[fam_idx(family)];

	return merge_sets(r->adj, r->n_adj, r->ann, r->i_ann, r->wd, r->i_wd,
			  out, n);
}
