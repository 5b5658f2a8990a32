/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frontend "cni": serves strata-cni. An attachment is a pod interface,
 * keyed by (network, container id, ifname). Its whole state is two things
 * the node keeps anyway: the IPAM handle "cni/NET/CID/IF", which holds its
 * addresses durably, and the host veth, named from a hash of the same key,
 * which lives exactly as long as the pod's netns. So after a restart the
 * node knows every attachment again without a record of its own: a handle
 * whose veth exists is a live pod, one whose veth is gone is a leak.
 *
 * The loop never blocks on the kernel: veth work runs on short-lived
 * worker threads (pod.c), which may enter the pod's netns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <yajl/yajl_gen.h>

#include <strata/plugin.h>

#include "nat.h"
#include "pod.h"
#include "request.h"
#include "server.h"
#include "sysctl.h"

#define MAX_WORKERS 16
#define QUEUE_TIMEOUT_NS (10 * 1000000000LL)
#define RETRY_MIN_NS (500 * 1000000LL)
#define RETRY_MAX_NS (30 * 1000000000LL)
#define HANDLE_PREFIX "cni/"
#define MAX_POOLS 16

/* CNI error codes (SPEC.md, "Error"), and strata's own from 100. */
#define CNI_ERR_UNKNOWN_CONTAINER 3
#define CNI_ERR_IO 5
#define CNI_ERR_CONFIG 7
#define CNI_ERR_TRY_AGAIN 11
#define CNI_ERR_NOT_AVAILABLE 50
#define CNI_ERR_EXISTS 100
#define CNI_ERR_NO_ADDRESS 101

enum op_kind { OP_ADD, OP_DEL, OP_CHECK, OP_GC, OP_STATUS, OP_ORPHAN };

struct fe;

/* One request being served (or, for GC and start-up, one piece of one). */
struct op {
	struct fe *fe;
	struct op *next; /* fe->ops */
	enum op_kind kind;
	struct conn *c;    /* NULL: a piece of a GC or of start-up */
	struct op *parent; /* the GC this DEL is a piece of */
	char *handle;
	char *network;
	struct pod_link link;
	struct pod_info info;
	int netns; /* borrowed from the connection */
	char want_mac[18];
	uint32_t n_prev;
	struct strata_prefix prev[2];
	bool allocated;     /* ADD: the IPAM gave the addresses */
	bool linked;        /* ADD: pod_add made the links */
	struct policy_wait *policy; /* ADD: waiting for the pod's rules */
	bool policy_attached; /* ADD: policy_attach accepted */
	int fail_code;      /* ADD: the error being rolled back */
	char *fail_msg;
	bool found;         /* CHECK: the IPAM holds the handle */
	/* GC */
	struct cni_request *req; /* the request, for those from strata-cni */
	char **stale;
	size_t n_stale;
	unsigned pieces;
	unsigned failed;
	char details[1024];
	/* the worker */
	pthread_t thread;
	bool running;
	bool queued;
	int rc;
	char err[512];
	char rel_err[256]; /* DEL: the release's error, set on the loop */
};

/* An ADD waiting for the policy instances. Lives until the host answers
 * (which it does, unless this instance is destroyed first), so an answer
 * after the timeout lands here, with op NULL, and is dropped. */
struct policy_wait {
	struct policy_wait *next; /* fe->waits */
	struct fe *fe;
	struct op *op;
	struct strata_timer *timer;
};

/* A request that came before start-up finished. */
struct pending {
	struct pending *next;
	struct conn *c;
	struct cni_request *req;
	int64_t deadline;
};

/* An attachment known after start-up's list, or made since. */
struct att {
	struct att *next;
	char *handle;
	char host_if[POD_IFNAMSIZ];
	uint32_t n_addrs;
	struct strata_prefix addrs[2];
};

struct fe {
	const struct strata_host *h;
	struct strata_instance *inst;
	struct server *srv;
	struct op *ops;
	unsigned running;
	struct pending *pending;
	struct pending **pending_tail;
	struct strata_timer *tick;
	struct att *atts;
	struct policy_wait *waits;
	bool ready;
	bool stopping;
	int64_t retry_ns;
	struct strata_timer *retry;
	unsigned start_pieces; /* releases and orphan deletions in flight */
	char last_error[256];
	uint32_t uplink_mtu; /* at start; 0: unknown, pod_add looks */
	int links_fd; /* link events: a pod's veth gone without a DEL */
	struct strata_watch *links_watch;
	struct strata_prefix nat_pools[MAX_POOLS]; /* in strata-nat now */
	size_t n_nat_pools;
	bool nat_applied;
	unsigned ticks;
	/* status */
	int64_t adds, dels, checks, gcs, failures, reclaimed;
};

static const struct strata_cfg_key cni_config[] = {
	{ "socket", STRATA_CFG_STRING, 0, RUNDIR "/cni.sock", 0, 0,
	  "the unix socket strata-cni connects to" },
	{ "mtu", STRATA_CFG_INT, 0, "0", 0, 65535,
	  "pod interface MTU; 0: the uplink's (the default route's device)" },
	{ "masquerade", STRATA_CFG_BOOL, 0, "true", 0, 0,
	  "masquerade pod traffic leaving the cluster (table inet strata-nat)" },
	{ "no_nat", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "destinations reached without NAT besides the cluster's pools "
	  "(default: the node fact vpc-cidr, when known)" },
	{ "forwarding", STRATA_CFG_BOOL, 0, "true", 0, 0,
	  "turn IPv4 and IPv6 forwarding on" },
	{ "rp_filter", STRATA_CFG_STRING, 0, "loose", 0, 0,
	  "reverse-path filter: loose, strict, off, or keep" },
	{ "policy_timeout", STRATA_CFG_DURATION, 0, "10s", 1000000LL,
	  600000000000LL,
	  "how long an ADD waits for the pod's network policy to be in "
	  "place before it fails with CNI error 11" },
	{ "send_redirects", STRATA_CFG_BOOL, 0, "false", 0, 0,
	  "let the node send ICMP redirects (off: pods' peers are one hop "
	  "away on purpose)" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* -- small helpers ----------------------------------------------------- */

static void prefix_str(const struct strata_prefix *p, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == STRATA_AF_INET ? AF_INET : AF_INET6, p->addr,
		  a, sizeof(a));
	snprintf(out, len, "%s/%u", a, p->len);
}

static int prefix_parse(const char *s, struct strata_prefix *p)
{
	char a[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	unsigned long len;

	memset(p, 0, sizeof(*p));
	if (strlen(s) >= sizeof(a))
		return -EINVAL;
	strcpy(a, s);
	slash = strchr(a, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, a, p->addr) == 1)
		p->family = STRATA_AF_INET;
	else if (inet_pton(AF_INET6, a, p->addr) == 1)
		p->family = STRATA_AF_INET6;
	else
		return -EINVAL;
	len = p->family == STRATA_AF_INET ? 32 : 128;
	if (slash) {
		errno = 0;
		unsigned long l = strtoul(slash + 1, &end, 10);

		if (errno || *end || end == slash + 1 || l > len)
			return -EINVAL;
		len = l;
	}
	p->len = (uint8_t)len;
	return 0;
}

static bool prefix_eq(const struct strata_prefix *a,
		      const struct strata_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, a->family == STRATA_AF_INET ? 4 : 16);
}

/* The route the host holds to one pod address: via its veth. */
static void pod_route(const char *host_if, const struct strata_prefix *addr,
		      struct strata_route *r)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->scope = STRATA_SCOPE_KERNEL;
	r->dst = *addr;
	r->n_nexthops = 1;
	snprintf(r->nh[0].ifname, sizeof(r->nh[0].ifname), "%s", host_if);
}

static char *handle_of(const char *net, const char *cid, const char *ifname)
{
	size_t n = strlen(HANDLE_PREFIX) + strlen(net) + strlen(cid) +
		   strlen(ifname) + 3;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, HANDLE_PREFIX "%s/%s/%s", net, cid, ifname);
	return s;
}

/* "cni/NET/CID/IF" -> its host veth name; false if it is not one of ours. */
static bool handle_host_if(const char *handle, char out[POD_IFNAMSIZ])
{
	char buf[1100];
	char *net, *cid, *ifname;

	if (strncmp(handle, HANDLE_PREFIX, strlen(HANDLE_PREFIX)) ||
	    strlen(handle) >= sizeof(buf))
		return false;
	strcpy(buf, handle + strlen(HANDLE_PREFIX));
	net = buf;
	cid = strchr(net, '/');
	if (!cid)
		return false;
	*cid++ = '\0';
	ifname = strchr(cid, '/');
	if (!ifname || !*net || cid == ifname)
		return false;
	*ifname++ = '\0';
	if (!*ifname || strchr(ifname, '/'))
		return false;
	pod_host_if_name(net, cid, ifname, out);
	return true;
}

static struct att *att_find(struct fe *fe, const char *handle)
{
	for (struct att *a = fe->atts; a; a = a->next)
		if (!strcmp(a->handle, handle))
			return a;
	return NULL;
}

static void att_drop(struct fe *fe, const char *handle)
{
	for (struct att **pp = &fe->atts; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->handle, handle)) {
			struct att *a = *pp;

			*pp = a->next;
			free(a->handle);
			free(a);
			return;
		}
	}
}

static int att_put(struct fe *fe, const char *handle, const char *host_if,
		   const struct strata_prefix *addrs, uint32_t n)
{
	struct att *a = att_find(fe, handle);

	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a || !(a->handle = strdup(handle))) {
			free(a);
			return -ENOMEM;
		}
		a->next = fe->atts;
		fe->atts = a;
	}
	snprintf(a->host_if, sizeof(a->host_if), "%s", host_if);
	a->n_addrs = n > 2 ? 2 : n;
	memcpy(a->addrs, addrs, a->n_addrs * sizeof(*addrs));
	return 0;
}

/* -- operations -------------------------------------------------------- */

static void op_free(struct op *o)
{
	struct fe *fe = o->fe;

	for (struct op **pp = &fe->ops; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	if (o->policy) {
		o->policy->op = NULL;
		if (o->policy->timer)
			fe->h->timer_stop(fe->inst, o->policy->timer);
		o->policy->timer = NULL;
	}
	for (size_t i = 0; i < o->n_stale; i++)
		free(o->stale[i]);
	free(o->stale);
	cni_request_free(o->req);
	free(o->handle);
	free(o->network);
	free(o->fail_msg);
	free(o);
}

static struct op *op_new(struct fe *fe, enum op_kind kind, struct conn *c)
{
	struct op *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->fe = fe;
	o->kind = kind;
	o->c = c;
	o->netns = -1;
	o->next = fe->ops;
	fe->ops = o;
	return o;
}

static bool handle_busy(struct fe *fe, const char *handle)
{
	for (struct op *o = fe->ops; o; o = o->next)
		if (o->handle && !strcmp(o->handle, handle))
			return true;
	return false;
}

static void maybe_stopped(struct fe *fe)
{
	if (fe->stopping && !fe->running)
		fe->h->stopped(fe->inst);
}

static void worker_start(struct op *o);
static void work_done(void *arg);

static void *worker(void *arg)
{
	struct op *o = arg;

	switch (o->kind) {
	case OP_ADD:
		if (!o->linked)
			o->rc = pod_add(&o->link, o->netns, &o->info, o->err,
					sizeof(o->err));
		else /* rolling back */
			o->rc = pod_del(o->link.host_if, o->err,
					sizeof(o->err));
		break;
	case OP_CHECK:
		o->rc = pod_check(&o->link, o->netns,
				  o->want_mac[0] ? o->want_mac : NULL, o->err,
				  sizeof(o->err));
		break;
	default:
		o->rc = pod_del(o->link.host_if, o->err, sizeof(o->err));
		break;
	}
	if (o->fe->h->post(o->fe->inst, work_done, o) < 0)
		o->fe->h->log(o->fe->inst, STRATA_LOG_ERR,
			      "%s: cannot return to the loop", o->link.host_if);
	return NULL;
}

static void worker_start(struct op *o)
{
	struct fe *fe = o->fe;
	int rc;

	if (fe->running >= MAX_WORKERS) {
		o->queued = true; /* started by work_done of another */
		return;
	}
	o->queued = false;
	o->running = true;
	fe->running++;
	rc = pthread_create(&o->thread, NULL, worker, o);
	if (rc) {
		o->running = false;
		fe->running--;
		o->rc = -rc;
		snprintf(o->err, sizeof(o->err), "starting a worker: %s",
			 strerror(rc));
		fe->h->defer(fe->inst, work_done, o);
	}
}

static void add_done(struct op *o);
static void del_done(struct op *o);
static void check_done(struct op *o);
static void orphan_done(struct op *o);

static void work_done(void *arg)
{
	struct op *o = arg;
	struct fe *fe = o->fe;

	if (o->running) {
		pthread_join(o->thread, NULL);
		o->running = false;
		fe->running--;
	}
	for (struct op *q = fe->ops; q && fe->running < MAX_WORKERS;
	     q = q->next)
		if (q->queued)
			worker_start(q);
	switch (o->kind) {
	case OP_ADD:
		add_done(o);
		break;
	case OP_CHECK:
		check_done(o);
		break;
	case OP_ORPHAN:
		orphan_done(o);
		break;
	default:
		del_done(o);
		break;
	}
	maybe_stopped(fe);
}

/* -- ADD --------------------------------------------------------------- */

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
	gen_str(g, k);
	gen_str(g, v);
}

static void reply_ok(struct conn *c)
{
	static const char ok[] = "{\"ok\":true}";

	conn_reply(c, ok, sizeof(ok) - 1);
}

static void add_reply(struct op *o)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	bool v4 = false, v6 = false;
	char s[64];
	size_t len;

	if (!g) {
		conn_fail(o->c, CNI_ERR_IO, NULL, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	gen_str(g, "ok");
	yajl_gen_bool(g, 1);
	gen_str(g, "interfaces");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	gen_kv(g, "name", o->link.host_if);
	gen_kv(g, "mac", o->info.host_mac);
	gen_str(g, "mtu");
	yajl_gen_integer(g, o->info.mtu);
	yajl_gen_map_close(g);
	yajl_gen_map_open(g);
	gen_kv(g, "name", o->link.pod_if);
	gen_kv(g, "mac", o->info.pod_mac);
	gen_str(g, "mtu");
	yajl_gen_integer(g, o->info.mtu);
	gen_str(g, "sandbox");
	yajl_gen_bool(g, 1);
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	gen_str(g, "ips");
	yajl_gen_array_open(g);
	for (uint32_t i = 0; i < o->link.n_addrs; i++) {
		bool is4 = o->link.addrs[i].family == STRATA_AF_INET;

		prefix_str(&o->link.addrs[i], s, sizeof(s));
		yajl_gen_map_open(g);
		gen_kv(g, "address", s);
		gen_kv(g, "gateway", is4 ? POD_GATEWAY4 : POD_GATEWAY6);
		gen_str(g, "interface");
		yajl_gen_integer(g, 1);
		yajl_gen_map_close(g);
		v4 |= is4;
		v6 |= !is4;
	}
	yajl_gen_array_close(g);
	gen_str(g, "routes");
	yajl_gen_array_open(g);
	if (v4) {
		yajl_gen_map_open(g);
		gen_kv(g, "dst", "0.0.0.0/0");
		gen_kv(g, "gw", POD_GATEWAY4);
		yajl_gen_map_close(g);
	}
	if (v6) {
		yajl_gen_map_open(g);
		gen_kv(g, "dst", "::/0");
		gen_kv(g, "gw", POD_GATEWAY6);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &buf, &len);
	conn_reply(o->c, (const char *)buf, len);
	yajl_gen_free(g);
}

/* The pod as the policy instances hear of it. */
static void op_pod(const struct op *o, struct strata_pod *pod)
{
	const struct cni_request *r = o->req;

	memset(pod, 0, sizeof(*pod));
	pod->size = sizeof(*pod);
	pod->handle = o->handle;
	pod->host_if = o->link.host_if;
	pod->pod_namespace = r && r->pod_namespace[0] ? r->pod_namespace :
							NULL;
	pod->pod_name = r && r->pod_name[0] ? r->pod_name : NULL;
	pod->n_addrs = o->link.n_addrs > 2 ? 2 : o->link.n_addrs;
	for (uint32_t i = 0; i < pod->n_addrs; i++) {
		pod->addrs[i].family = o->link.addrs[i].family;
		memcpy(pod->addrs[i].addr, o->link.addrs[i].addr,
		       sizeof(pod->addrs[i].addr));
	}
}

/* An attachment the policy instances should forget, or hear of again. */
static void att_pod(const struct att *a, struct strata_pod *pod)
{
	memset(pod, 0, sizeof(*pod));
	pod->size = sizeof(*pod);
	pod->handle = a->handle;
	pod->host_if = a->host_if;
	pod->n_addrs = a->n_addrs > 2 ? 2 : a->n_addrs;
	for (uint32_t i = 0; i < pod->n_addrs; i++) {
		pod->addrs[i].family = a->addrs[i].family;
		memcpy(pod->addrs[i].addr, a->addrs[i].addr,
		       sizeof(pod->addrs[i].addr));
	}
}

static void add_finish(struct op *o);
static void add_policy(struct op *o);

static void add_release_done(void *arg, const struct strata_ipam_result *res)
{
	struct op *o = arg;
	struct fe *fe = o->fe;

	if (res->error)
		fe->h->log(fe->inst, STRATA_LOG_WARNING,
			   "%s: releasing after a failed ADD: %s (start-up "
			   "or GC reclaims it)", o->handle,
			   res->error_text ? res->error_text :
			   strerror(-res->error));
	conn_fail(o->c, o->fail_code, NULL, "%s", o->fail_msg);
	op_free(o);
}

/* ADD failed: undo in reverse (links, then the address), then say why. */
static void add_fail(struct op *o, int code, const char *fmt, ...)
	STRATA_PRINTF(3, 4);
static void add_fail(struct op *o, int code, const char *fmt, ...)
{
	struct strata_ipam_request req = { .size = sizeof(req) };
	struct fe *fe = o->fe;
	char msg[1024];
	va_list ap;

	if (!o->fail_msg) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		o->fail_code = code;
		o->fail_msg = strdup(msg);
		fe->failures++;
		fe->h->log(fe->inst, STRATA_LOG_WARNING, "ADD %s: %s",
			   o->handle, msg);
	}
	if (o->policy) {
		o->policy->op = NULL; /* a late answer is dropped */
		if (o->policy->timer)
			fe->h->timer_stop(fe->inst, o->policy->timer);
		o->policy->timer = NULL;
		o->policy = NULL;
	}
	if (o->policy_attached) {
		struct strata_pod pod;

		o->policy_attached = false;
		op_pod(o, &pod);
		fe->h->policy_detach(fe->inst, &pod);
	}
	if (o->linked) {
		for (uint32_t i = 0; i < o->link.n_addrs; i++)
			fe->h->route_unset(fe->inst, STRATA_SCOPE_KERNEL,
					   &o->link.addrs[i]);
		worker_start(o); /* pod_del, then back here via add_done */
		return;
	}
	if (o->allocated) {
		o->allocated = false;
		req.handle = o->handle;
		if (fe->h->ipam_release(fe->inst, &req, add_release_done,
					o) == 0)
			return;
	}
	conn_fail(o->c, o->fail_code, NULL, "%s",
		  o->fail_msg ? o->fail_msg : "out of memory");
	op_free(o);
}

/* The pod is attached, its rules (if any) in place: answer. */
static void add_finish(struct op *o)
{
	struct fe *fe = o->fe;

	if (att_put(fe, o->handle, o->link.host_if, o->link.addrs,
		    o->link.n_addrs) < 0) {
		add_fail(o, CNI_ERR_IO, "out of memory");
		return;
	}
	fe->adds++;
	add_reply(o);
	op_free(o);
}

static void wait_free(struct policy_wait *w)
{
	struct fe *fe = w->fe;

	for (struct policy_wait **pp = &fe->waits; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w);
}

static void policy_answered(void *arg, int err, const char *text)
{
	struct policy_wait *w = arg;
	struct op *o = w->op;

	if (o) {
		o->policy = NULL;
		if (w->timer)
			o->fe->h->timer_stop(o->fe->inst, w->timer);
	}
	wait_free(w);
	if (!o)
		return; /* timed out already, or the ADD failed otherwise */
	if (err)
		add_fail(o, CNI_ERR_TRY_AGAIN,
			 "network policy not in place: %s",
			 text && *text ? text : strerror(err < 0 ? -err : EIO));
	else
		add_finish(o);
}

static void policy_timed_out(void *arg)
{
	struct policy_wait *w = arg;
	struct op *o = w->op;
	int64_t ns = 0;

	w->timer = NULL; /* a one-shot timer is gone once it fired */
	if (!o)
		return;
	o->fe->h->cfg_duration(o->fe->inst, "policy_timeout", &ns);
	add_fail(o, CNI_ERR_TRY_AGAIN,
		 "network policy not in place after %lld ms (policy_timeout)",
		 (long long)(ns / 1000000));
}

/* Wait for every policy instance to have the pod's rules in place. */
static void add_policy(struct op *o)
{
	struct fe *fe = o->fe;
	struct policy_wait *w = calloc(1, sizeof(*w));
	struct strata_pod pod;
	int64_t ns = 10000000000LL;
	int rc;

	if (!w) {
		add_fail(o, CNI_ERR_IO, "out of memory");
		return;
	}
	w->fe = fe;
	w->op = o;
	w->next = fe->waits;
	fe->waits = w;
	op_pod(o, &pod);
	rc = fe->h->policy_attach(fe->inst, &pod, policy_answered, w);
	if (rc) {
		wait_free(w);
		add_fail(o, CNI_ERR_TRY_AGAIN, "network policy: %s",
			 strerror(-rc));
		return;
	}
	o->policy_attached = true;
	o->policy = w;
	fe->h->cfg_duration(fe->inst, "policy_timeout", &ns);
	w->timer = fe->h->timer_start(fe->inst, ns, 0, policy_timed_out, w);
	if (!w->timer)
		add_fail(o, CNI_ERR_IO, "out of memory");
}

static void add_done(struct op *o)
{
	struct fe *fe = o->fe;
	struct strata_route r;
	int rc;

	if (o->fail_msg) {
		/* the rollback's pod_del finished */
		if (o->rc < 0)
			fe->h->log(fe->inst, STRATA_LOG_ERR,
				   "ADD %s: removing %s: %s", o->handle,
				   o->link.host_if, o->err);
		o->linked = false;
		add_fail(o, 0, "%s", "");
		return;
	}
	if (o->rc < 0) {
		add_fail(o, o->rc == -EEXIST ? CNI_ERR_EXISTS : CNI_ERR_IO,
			 "%s", o->err);
		return;
	}
	o->linked = true;
	for (uint32_t i = 0; i < o->link.n_addrs; i++) {
		pod_route(o->link.host_if, &o->link.addrs[i], &r);
		rc = fe->h->route_set(fe->inst, &r);
		if (!rc)
			rc = fe->h->kroute_replace(fe->inst, &r);
		if (rc) {
			char s[64];

			prefix_str(&o->link.addrs[i], s, sizeof(s));
			add_fail(o, CNI_ERR_IO, "route %s dev %s: %s", s,
				 o->link.host_if, strerror(-rc));
			return;
		}
	}
	if (STRATA_HOST_HAS(fe->h, policy_attach))
		add_policy(o);
	else
		add_finish(o);
}

static void add_allocated(void *arg, const struct strata_ipam_result *res)
{
	struct op *o = arg;

	if (res->error) {
		const char *why = res->error_text ? res->error_text :
						    strerror(-res->error);

		if (res->error == -ENOSPC)
			add_fail(o, CNI_ERR_NO_ADDRESS, "no address left: %s",
				 why);
		else if (res->error == -ESTALE)
			add_fail(o, CNI_ERR_CONFIG, "IPAM: %s", why);
		else
			add_fail(o, CNI_ERR_TRY_AGAIN,
				 "IPAM could not allocate: %s", why);
		return;
	}
	o->allocated = true;
	o->link.n_addrs = res->n_addrs > 2 ? 2 : res->n_addrs;
	for (uint32_t i = 0; i < o->link.n_addrs; i++) {
		o->link.addrs[i] = res->addrs[i];
		/* the pod holds one address, not its block's range */
		o->link.addrs[i].len =
			res->addrs[i].family == STRATA_AF_INET ? 32 : 128;
	}
	if (!o->link.n_addrs) {
		add_fail(o, CNI_ERR_NO_ADDRESS, "the IPAM returned no address");
		return;
	}
	worker_start(o);
}

/* -- DEL (also GC's pieces) ---------------------------------------------- */

static void gc_piece_done(struct op *gc, const char *handle, const char *err);

static void del_finish(struct op *o, const char *err)
{
	struct fe *fe = o->fe;

	if (!err) {
		att_drop(fe, o->handle);
		fe->dels++;
	}
	if (o->parent)
		gc_piece_done(o->parent, o->handle, err);
	else if (err)
		conn_fail(o->c, CNI_ERR_TRY_AGAIN, NULL, "DEL %s: %s",
			  o->handle, err);
	else
		reply_ok(o->c);
	op_free(o);
}

/* Both halves of a DEL are done: the link's worker and the release. */
static void del_part_done(struct op *o)
{
	if (--o->pieces)
		return;
	if (o->rc < 0)
		del_finish(o, o->err);
	else
		del_finish(o, o->rel_err[0] ? o->rel_err : NULL);
}

static void del_released(void *arg, const struct strata_ipam_result *res)
{
	struct op *o = arg;

	if (res->error)
		snprintf(o->rel_err, sizeof(o->rel_err),
			 "IPAM could not release: %s",
			 res->error_text ? res->error_text :
			 strerror(-res->error));
	del_part_done(o);
}

static void del_done(struct op *o)
{
	del_part_done(o);
}

/*
 * The veth goes and the address is released at the same time: the
 * kernel's veth deletion takes tens of ms, the release one store write.
 * A released address cools down before the IPAM gives it again, and a
 * crash in between leaves either a handle without a veth or a veth
 * without a handle, both of which start-up removes before it serves.
 */
static void del_start(struct op *o)
{
	struct strata_ipam_request req = { .size = sizeof(req) };
	struct att *a = att_find(o->fe, o->handle);
	struct fe *fe = o->fe;
	int rc;

	/* the routes go first, so nothing re-adds them to a dying veth;
	 * the policy instances forget the pod before its veth goes */
	if (a) {
		for (uint32_t i = 0; i < a->n_addrs; i++)
			fe->h->route_unset(fe->inst, STRATA_SCOPE_KERNEL,
					   &a->addrs[i]);
		if (STRATA_HOST_HAS(fe->h, policy_detach)) {
			struct strata_pod pod;

			att_pod(a, &pod);
			fe->h->policy_detach(fe->inst, &pod);
		}
	}
	o->pieces = 1;
	req.handle = o->handle;
	rc = fe->h->ipam_release(fe->inst, &req, del_released, o);
	if (rc) {
		snprintf(o->rel_err, sizeof(o->rel_err), "IPAM: %s",
			 strerror(-rc));
		o->pieces = 0;
	}
	if (pod_link_exists(o->link.host_if)) {
		o->pieces++;
		worker_start(o);
	} else if (!o->pieces) {
		o->pieces = 1;
		del_part_done(o);
	}
}

/* -- CHECK ------------------------------------------------------------- */

static void check_fail(struct op *o, int code, const char *fmt, ...)
	STRATA_PRINTF(3, 4);
static void check_fail(struct op *o, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->fe->failures++;
	conn_fail(o->c, code, NULL, "CHECK %s: %s", o->handle, msg);
	op_free(o);
}

struct route_find {
	const struct strata_prefix *dst;
	const char *ifname;
	bool found;
};

static void route_find_cb(void *arg, const struct strata_route *r)
{
	struct route_find *f = arg;

	if (!prefix_eq(&r->dst, f->dst))
		return;
	for (uint32_t i = 0; i < r->n_nexthops && i < STRATA_MAX_NEXTHOPS;
	     i++)
		if (!strcmp(r->nh[i].ifname, f->ifname))
			f->found = true;
}

static void check_done(struct op *o)
{
	struct fe *fe = o->fe;

	if (o->rc < 0) {
		check_fail(o, CNI_ERR_IO, "%s", o->err);
		return;
	}
	for (uint32_t i = 0; i < o->link.n_addrs; i++) {
		struct route_find f = { .dst = &o->link.addrs[i],
					.ifname = o->link.host_if };
		char s[64];

		fe->h->kroute_list(fe->inst,
				   o->link.addrs[i].family, 0,
				   route_find_cb, &f);
		if (!f.found) {
			prefix_str(&o->link.addrs[i], s, sizeof(s));
			check_fail(o, CNI_ERR_IO,
				   "the host route %s dev %s is missing", s,
				   o->link.host_if);
			return;
		}
	}
	fe->checks++;
	reply_ok(o->c);
	op_free(o);
}

static void check_listed(void *arg, const char *handle,
			 const struct strata_prefix *addrs, uint32_t n)
{
	struct op *o = arg;

	if (strcmp(handle, o->handle))
		return;
	o->found = true;
	o->link.n_addrs = n > 2 ? 2 : n;
	for (uint32_t i = 0; i < o->link.n_addrs; i++) {
		o->link.addrs[i] = addrs[i];
		o->link.addrs[i].len = addrs[i].family == STRATA_AF_INET ? 32 :
									   128;
	}
}

static void check_list_done(void *arg, int err, const char *text)
{
	struct op *o = arg;
	char s[64];

	if (err) {
		check_fail(o, CNI_ERR_TRY_AGAIN, "IPAM: %s",
			   text ? text : strerror(-err));
		return;
	}
	if (!o->found) {
		check_fail(o, CNI_ERR_UNKNOWN_CONTAINER,
			   "no address is reserved for this attachment");
		return;
	}
	for (uint32_t i = 0; i < o->n_prev; i++) {
		bool held = false;

		for (uint32_t k = 0; k < o->link.n_addrs; k++)
			held |= prefix_eq(&o->prev[i], &o->link.addrs[k]);
		if (!held) {
			prefix_str(&o->prev[i], s, sizeof(s));
			check_fail(o, CNI_ERR_IO,
				   "%s (from prevResult) is not reserved for "
				   "this attachment", s);
			return;
		}
	}
	worker_start(o);
}

/* -- GC ---------------------------------------------------------------- */

static bool gc_valid(struct op *gc, const char *handle)
{
	const struct cni_request *r = gc->req;

	for (size_t i = 0; r && i < r->n_valid; i++) {
		char *h = handle_of(gc->network, r->valid[i].container_id,
				    r->valid[i].ifname);
		bool eq = h && !strcmp(h, handle);

		free(h);
		if (eq)
			return true;
	}
	return false;
}

static void gc_finish(struct op *gc)
{
	struct fe *fe = gc->fe;

	if (gc->pieces)
		return;
	fe->gcs++;
	if (gc->failed)
		conn_fail(gc->c, CNI_ERR_IO, gc->details,
			  "GC: %u attachment(s) could not be removed",
			  gc->failed);
	else
		reply_ok(gc->c);
	op_free(gc);
}

static void gc_piece_done(struct op *gc, const char *handle, const char *err)
{
	size_t n = strlen(gc->details);

	gc->pieces--;
	if (err) {
		gc->failed++;
		snprintf(gc->details + n, sizeof(gc->details) - n, "%s%s: %s",
			 n ? "; " : "", handle, err);
	} else {
		gc->fe->reclaimed++;
		gc->fe->h->log(gc->fe->inst, STRATA_LOG_INFO,
			       "GC removed %s", handle);
	}
	gc_finish(gc);
}

static void gc_listed(void *arg, const char *handle,
		      const struct strata_prefix *addrs, uint32_t n)
{
	struct op *gc = arg;
	char **more;

	(void)addrs;
	(void)n;
	if (gc_valid(gc, handle) || handle_busy(gc->fe, handle))
		return;
	more = realloc(gc->stale, (gc->n_stale + 1) * sizeof(*more));
	if (!more)
		return;
	gc->stale = more;
	gc->stale[gc->n_stale] = strdup(handle);
	if (gc->stale[gc->n_stale])
		gc->n_stale++;
}

/* The list is complete: give each stale handle DEL's treatment. */
static void gc_list_done(void *arg, int err, const char *text)
{
	struct op *gc = arg;
	struct fe *fe = gc->fe;

	if (err) {
		conn_fail(gc->c, CNI_ERR_TRY_AGAIN, NULL, "GC: IPAM: %s",
			  text ? text : strerror(-err));
		op_free(gc);
		return;
	}
	gc->pieces++; /* hold it while the pieces start */
	for (size_t i = 0; i < gc->n_stale; i++) {
		struct op *o = op_new(fe, OP_DEL, NULL);

		if (!o || !(o->handle = strdup(gc->stale[i])) ||
		    !handle_host_if(o->handle, o->link.host_if)) {
			if (o)
				op_free(o);
			continue;
		}
		o->parent = gc;
		gc->pieces++;
		del_start(o);
	}
	gc->pieces--;
	gc_finish(gc);
}

/* -- start-up reconcile -------------------------------------------------- */

static void serve(struct fe *fe, struct conn *c, struct cni_request *r);
static void start_list(void *arg);

static void apply_nat(struct fe *fe)
{
	struct strata_prefix pools[MAX_POOLS], no_nat[64];
	size_t n_no = 0;
	char err[512];
	int masq = 1, n, k;
	const char *vpc;

	fe->h->cfg_bool(fe->inst, "masquerade", &masq);
	if (!masq) {
		if (nat_remove(err, sizeof(err)) < 0)
			fe->h->log(fe->inst, STRATA_LOG_ERR, "nat: %s", err);
		return;
	}
	n = fe->h->ipam_pools(fe->inst, pools, MAX_POOLS);
	if (n < 0) {
		fe->h->log(fe->inst, STRATA_LOG_ERR,
			   "nat: the IPAM's pools are unknown: %s",
			   strerror(-n));
		return;
	}
	if (n > MAX_POOLS)
		n = MAX_POOLS;
	/* pools only grow (appended); the table follows them */
	if (fe->nat_applied && (size_t)n == fe->n_nat_pools &&
	    !memcmp(pools, fe->nat_pools, (size_t)n * sizeof(*pools)))
		return;
	k = fe->h->cfg_strings_count(fe->inst, "no_nat");
	for (int i = 0; i < k && n_no < 64; i++) {
		const char *s = fe->h->cfg_strings_at(fe->inst, "no_nat",
						      (uint32_t)i);

		if (s && prefix_parse(s, &no_nat[n_no]) == 0)
			n_no++;
	}
	vpc = fe->h->fact_get(fe->inst, "vpc-cidr");
	if (k <= 0 && vpc && prefix_parse(vpc, &no_nat[n_no]) == 0)
		n_no++;
	if (nat_apply(pools, (size_t)n, no_nat, n_no, err, sizeof(err)) < 0) {
		fe->h->log(fe->inst, STRATA_LOG_ERR, "nat: %s", err);
		return;
	}
	memcpy(fe->nat_pools, pools, (size_t)n * sizeof(*pools));
	fe->n_nat_pools = (size_t)n;
	fe->nat_applied = true;
}

static void start_finish(struct fe *fe)
{
	struct pending *p;

	if (fe->start_pieces || fe->ready)
		return;
	fe->ready = true;
	fe->h->route_synced(fe->inst);
	apply_nat(fe);
	fe->h->log(fe->inst, STRATA_LOG_INFO,
		   "ready: serving strata-cni (%" PRId64 " leaked "
		   "attachments reclaimed)", fe->reclaimed);
	while ((p = fe->pending)) {
		fe->pending = p->next;
		serve(fe, p->c, p->req);
		free(p);
	}
	fe->pending_tail = &fe->pending;
}

static void orphan_done(struct op *o)
{
	struct fe *fe = o->fe;

	if (o->rc < 0)
		fe->h->log(fe->inst, STRATA_LOG_ERR,
			   "removing stale link %s: %s", o->link.host_if,
			   o->err);
	fe->start_pieces--;
	op_free(o);
	start_finish(fe);
}

static void start_released(void *arg, const struct strata_ipam_result *res)
{
	struct op *o = arg;
	struct fe *fe = o->fe;

	if (res->error)
		fe->h->log(fe->inst, STRATA_LOG_WARNING,
			   "releasing %s (its pod is gone): %s", o->handle,
			   res->error_text ? res->error_text :
			   strerror(-res->error));
	else
		fe->reclaimed++;
	fe->start_pieces--;
	op_free(o);
	start_finish(fe);
}

static void start_listed(void *arg, const char *handle,
			 const struct strata_prefix *addrs, uint32_t n)
{
	struct fe *fe = arg;
	struct strata_prefix pod[2];
	char host_if[POD_IFNAMSIZ];
	uint32_t k = n > 2 ? 2 : n;

	if (!handle_host_if(handle, host_if)) {
		if (!strncmp(handle, HANDLE_PREFIX, strlen(HANDLE_PREFIX)))
			fe->h->log(fe->inst, STRATA_LOG_WARNING,
				   "ignoring malformed handle %s", handle);
		return;
	}
	for (uint32_t i = 0; i < k; i++) {
		pod[i] = addrs[i];
		pod[i].len = addrs[i].family == STRATA_AF_INET ? 32 : 128;
	}
	att_put(fe, handle, host_if, pod, k);
}

/* A host link of ours that no handle explains would carry an address
 * that may be given to another pod: remove it. */
static void start_orphan(void *arg, const char *name)
{
	struct fe *fe = arg;
	struct op *o;

	for (struct att *a = fe->atts; a; a = a->next)
		if (!strcmp(a->host_if, name))
			return;
	o = op_new(fe, OP_ORPHAN, NULL);
	if (!o)
		return;
	snprintf(o->link.host_if, sizeof(o->link.host_if), "%s", name);
	fe->h->log(fe->inst, STRATA_LOG_WARNING,
		   "removing %s: no address is reserved for it", name);
	fe->start_pieces++;
	worker_start(o);
}

static void reattached(void *arg, int err, const char *text)
{
	(void)arg;
	(void)err;
	(void)text;
}

/* After a restart: the policy instances hear of the pods still attached,
 * by address (the names are not known here); the answers do not matter,
 * each pod's rules stay as they were meanwhile. */
static void start_reattach(struct fe *fe, const struct att *a)
{
	struct strata_pod pod;
	int rc;

	if (!STRATA_HOST_HAS(fe->h, policy_attach))
		return;
	att_pod(a, &pod);
	rc = fe->h->policy_attach(fe->inst, &pod, reattached, NULL);
	if (rc)
		fe->h->log(fe->inst, STRATA_LOG_WARNING,
			   "re-attaching %s to the network policy: %s",
			   a->handle, strerror(-rc));
}

static void start_list_done(void *arg, int err, const char *text)
{
	struct fe *fe = arg;
	struct strata_route r;

	if (err) {
		snprintf(fe->last_error, sizeof(fe->last_error), "IPAM: %s",
			 text ? text : strerror(-err));
		fe->h->log(fe->inst, STRATA_LOG_WARNING,
			   "listing attachments: %s; retrying",
			   fe->last_error);
		fe->retry = fe->h->timer_start(fe->inst, fe->retry_ns, 0,
					       start_list, fe);
		fe->retry_ns = fe->retry_ns * 2 > RETRY_MAX_NS ?
				       RETRY_MAX_NS : fe->retry_ns * 2;
		return;
	}
	fe->last_error[0] = '\0';
	fe->start_pieces++; /* held while the pieces start */
	for (struct att **pp = &fe->atts; *pp;) {
		struct att *a = *pp;
		struct op *o;

		if (pod_link_exists(a->host_if)) {
			for (uint32_t i = 0; i < a->n_addrs; i++) {
				pod_route(a->host_if, &a->addrs[i], &r);
				fe->h->route_set(fe->inst, &r);
			}
			start_reattach(fe, a);
			pp = &a->next;
			continue;
		}
		if (STRATA_HOST_HAS(fe->h, policy_detach)) {
			struct strata_pod pod;

			att_pod(a, &pod);
			fe->h->policy_detach(fe->inst, &pod);
		}
		/* the pod's netns is gone, and its veth with it */
		*pp = a->next;
		o = op_new(fe, OP_DEL, NULL);
		if (o && (o->handle = strdup(a->handle))) {
			struct strata_ipam_request req = {
				.size = sizeof(req), .handle = o->handle,
			};

			fe->start_pieces++;
			if (fe->h->ipam_release(fe->inst, &req,
						start_released, o) < 0) {
				fe->start_pieces--;
				op_free(o);
			}
		} else if (o) {
			op_free(o);
		}
		free(a->handle);
		free(a);
	}
	if (pod_list_links(start_orphan, fe) < 0)
		fe->h->log(fe->inst, STRATA_LOG_WARNING,
			   "cannot list host links: stale ones stay");
	fe->start_pieces--;
	start_finish(fe);
}

static void start_list(void *arg)
{
	struct fe *fe = arg;
	int rc;

	fe->retry = NULL;
	rc = fe->h->ipam_list(fe->inst, HANDLE_PREFIX, start_listed,
			      start_list_done, fe);
	if (rc)
		start_list_done(fe, rc, NULL);
}

/* -- requests ------------------------------------------------------------ */

static int op_prepare(struct op *o, struct cni_request *r)
{
	o->req = r;
	o->network = strdup(r->network);
	if (!o->network)
		return -ENOMEM;
	if (r->command == CNI_GC || r->command == CNI_STATUS)
		return 0;
	o->handle = handle_of(r->network, r->container_id, r->ifname);
	if (!o->handle)
		return -ENOMEM;
	pod_host_if_name(r->network, r->container_id, r->ifname,
			 o->link.host_if);
	snprintf(o->link.pod_if, sizeof(o->link.pod_if), "%s", r->ifname);
	return 0;
}

static void serve_add(struct fe *fe, struct op *o)
{
	struct strata_ipam_request ireq = { .size = sizeof(ireq) };
	int64_t cfg_mtu = 0;
	int rc;

	o->netns = conn_fd(o->c);
	if (o->netns < 0) {
		conn_fail(o->c, CNI_ERR_IO, NULL,
			  "ADD needs the pod's netns fd with the request");
		op_free(o);
		return;
	}
	if (pod_link_exists(o->link.host_if)) {
		conn_fail(o->c, CNI_ERR_EXISTS, NULL,
			  "%s is attached already (host interface %s)",
			  o->handle, o->link.host_if);
		op_free(o);
		return;
	}
	fe->h->cfg_int(fe->inst, "mtu", &cfg_mtu);
	o->link.mtu = o->req->mtu ? o->req->mtu :
		      cfg_mtu ? (uint32_t)cfg_mtu : fe->uplink_mtu;
	ireq.handle = o->handle;
	rc = fe->h->ipam_allocate(fe->inst, &ireq, add_allocated, o);
	if (rc) {
		conn_fail(o->c, rc == -ENODEV ? CNI_ERR_CONFIG :
			  CNI_ERR_TRY_AGAIN, NULL, "IPAM: %s", strerror(-rc));
		op_free(o);
	}
}

static void serve_check(struct fe *fe, struct op *o)
{
	int rc;

	o->netns = conn_fd(o->c);
	if (o->netns < 0) {
		check_fail(o, CNI_ERR_IO,
			   "CHECK needs the pod's netns fd with the request");
		return;
	}
	o->n_prev = o->req->n_prev;
	memcpy(o->prev, o->req->prev, sizeof(o->prev));
	snprintf(o->want_mac, sizeof(o->want_mac), "%s", o->req->prev_mac);
	rc = fe->h->ipam_list(fe->inst, o->handle, check_listed,
			      check_list_done, o);
	if (rc)
		check_list_done(o, rc, NULL);
}

static void status_done(void *arg, int err, const char *text)
{
	struct op *o = arg;

	if (err)
		conn_fail(o->c, CNI_ERR_NOT_AVAILABLE, NULL,
			  "the IPAM cannot serve: %s",
			  text ? text : strerror(-err));
	else
		reply_ok(o->c);
	op_free(o);
}

static void status_listed(void *arg, const char *handle,
			  const struct strata_prefix *addrs, uint32_t n)
{
	(void)arg;
	(void)handle;
	(void)addrs;
	(void)n;
}

/* Serve r (owned from here on). */
static void serve(struct fe *fe, struct conn *c, struct cni_request *r)
{
	static const enum op_kind kinds[] = {
		[CNI_ADD] = OP_ADD, [CNI_DEL] = OP_DEL, [CNI_CHECK] = OP_CHECK,
		[CNI_GC] = OP_GC, [CNI_STATUS] = OP_STATUS,
	};
	struct op *o = op_new(fe, kinds[r->command], c);
	char prefix[CNI_NETWORK_MAX + 8];
	int rc;

	if (!o || op_prepare(o, r) < 0) {
		if (o)
			op_free(o);
		else
			cni_request_free(r);
		conn_fail(c, CNI_ERR_IO, NULL, "out of memory");
		return;
	}
	if (o->handle) {
		/* one operation per attachment: o itself is one */
		unsigned same = 0;

		for (struct op *q = fe->ops; q; q = q->next)
			same += q->handle && !strcmp(q->handle, o->handle);
		if (same > 1) {
			conn_fail(c, CNI_ERR_TRY_AGAIN, NULL,
				  "%s: another operation on this attachment "
				  "is in progress", o->handle);
			op_free(o);
			return;
		}
	}
	snprintf(prefix, sizeof(prefix), HANDLE_PREFIX "%s/", o->network);
	switch (o->kind) {
	case OP_ADD:
		serve_add(fe, o);
		return;
	case OP_DEL:
		del_start(o);
		return;
	case OP_CHECK:
		serve_check(fe, o);
		return;
	case OP_GC:
		rc = fe->h->ipam_list(fe->inst, prefix, gc_listed,
				      gc_list_done, o);
		if (rc)
			gc_list_done(o, rc, NULL);
		return;
	default:
		rc = fe->h->ipam_list(fe->inst, prefix, status_listed,
				      status_done, o);
		if (rc)
			status_done(o, rc, NULL);
		return;
	}
}

static void on_request(void *arg, struct conn *c, const char *buf,
		       size_t len)
{
	struct fe *fe = arg;
	struct cni_request *r;
	struct pending *p;
	char err[512];
	int code;

	static const char *const commands[] = { "ADD", "DEL", "CHECK", "GC",
						"STATUS" };

	code = cni_request_parse(buf, len, &r, err, sizeof(err));
	if (code) {
		conn_set_command(c, "invalid");
		conn_fail(c, code, NULL, "%s", err);
		return;
	}
	conn_set_command(c, commands[r->command]);
	if (fe->stopping) {
		cni_request_free(r);
		conn_fail(c, CNI_ERR_TRY_AGAIN, NULL, "stratad is stopping");
		return;
	}
	if (fe->ready) {
		serve(fe, c, r);
		return;
	}
	if (r->command == CNI_STATUS) {
		cni_request_free(r);
		conn_fail(c, CNI_ERR_NOT_AVAILABLE, NULL,
			  "stratad is starting%s%s",
			  fe->last_error[0] ? ": " : "", fe->last_error);
		return;
	}
	/* start-up is still sorting out which attachments live */
	p = calloc(1, sizeof(*p));
	if (!p) {
		cni_request_free(r);
		conn_fail(c, CNI_ERR_IO, NULL, "out of memory");
		return;
	}
	p->c = c;
	p->req = r;
	p->deadline = fe->h->now() + QUEUE_TIMEOUT_NS;
	*fe->pending_tail = p;
	fe->pending_tail = &p->next;
}

/* Requests that waited too long for start-up: try again later. */
static void on_tick(void *arg)
{
	struct fe *fe = arg;
	int64_t now = fe->h->now();
	struct pending **pp = &fe->pending;

	if (fe->ready && ++fe->ticks % 10 == 0)
		apply_nat(fe);
	while (*pp) {
		struct pending *p = *pp;

		if (p->deadline > now) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		conn_fail(p->c, CNI_ERR_TRY_AGAIN, NULL,
			  "stratad is starting: the IPAM has not answered "
			  "yet%s%s", fe->last_error[0] ? ": " : "",
			  fe->last_error);
		cni_request_free(p->req);
		free(p);
	}
	fe->pending_tail = pp;
}

/* -- link events --------------------------------------------------------- */

/* A pod's netns went away before its DEL: the kernel took the veth and
 * its routes, so take them out of the model too, lest an advertiser try
 * to put them back on a device that is gone. The address stays reserved
 * until the runtime's DEL (or GC) releases it. */
static void link_gone(struct fe *fe, const char *name)
{
	for (struct att *a = fe->atts; a; a = a->next) {
		if (strcmp(a->host_if, name))
			continue;
		for (uint32_t i = 0; i < a->n_addrs; i++)
			fe->h->route_unset(fe->inst, STRATA_SCOPE_KERNEL,
					   &a->addrs[i]);
		fe->h->log(fe->inst, STRATA_LOG_DEBUG,
			   "%s went away before its DEL: routes unstated",
			   name);
		return;
	}
}

static void on_links(void *arg, int fd, uint32_t events)
{
	struct fe *fe = arg;
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t n;

	(void)events;
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct nlmsghdr *h = (struct nlmsghdr *)(void *)buf;
		int len = (int)n;

		for (; NLMSG_OK(h, (unsigned)len); h = NLMSG_NEXT(h, len)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			struct rtattr *rta;
			int alen;

			if (h->nlmsg_type != RTM_DELLINK ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
				continue;
			rta = IFLA_RTA(ifi);
			alen = (int)IFLA_PAYLOAD(h);
			for (; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
				char name[POD_IFNAMSIZ];
				size_t l = RTA_PAYLOAD(rta);

				if (rta->rta_type != IFLA_IFNAME || !l ||
				    l > sizeof(name))
					continue;
				memcpy(name, RTA_DATA(rta), l);
				name[l - 1] = '\0';
				link_gone(fe, name);
			}
		}
	}
	/* ENOBUFS (events lost): only a stale route can remain, and the
	 * runtime's DEL or GC removes it */
}

static void links_open(struct fe *fe)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK,
				 .nl_groups = RTMGRP_LINK };

	fe->links_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK |
					  SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fe->links_fd < 0 ||
	    bind(fe->links_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    !(fe->links_watch = fe->h->fd_watch(fe->inst, fe->links_fd,
						STRATA_FD_IN, on_links, fe))) {
		fe->h->log(fe->inst, STRATA_LOG_WARNING,
			   "no link events (%s): a pod's routes stay until "
			   "its DEL", strerror(errno));
		if (fe->links_fd >= 0)
			close(fe->links_fd);
		fe->links_fd = -1;
	}
}

/* -- lifecycle ----------------------------------------------------------- */

static int cni_create(const struct strata_host *h, struct strata_instance *inst,
		      void **self)
{
	struct fe *fe = calloc(1, sizeof(*fe));
	int rc;

	if (!fe)
		return -ENOMEM;
	fe->h = h;
	fe->inst = inst;
	fe->pending_tail = &fe->pending;
	fe->retry_ns = RETRY_MIN_NS;
	fe->links_fd = -1;
	if (h->size < offsetof(struct strata_host, ipam_pools) +
			      sizeof(h->ipam_pools)) {
		h->log(inst, STRATA_LOG_ERR, "the host lacks IPAM services");
		free(fe);
		return -ENOTSUP;
	}
	rc = h->route_owner(inst);
	if (rc) {
		free(fe);
		return rc;
	}
	*self = fe;
	return 0;
}

static int apply_sysctls(struct fe *fe)
{
	struct node_sysctls s = { 0 };
	char uplink[POD_IFNAMSIZ] = "";
	int fwd = 1, redirects = 0, rc;
	const char *rp = fe->h->cfg_string(fe->inst, "rp_filter");
	char err[512];

	fe->h->cfg_bool(fe->inst, "forwarding", &fwd);
	fe->h->cfg_bool(fe->inst, "send_redirects", &redirects);
	if (rp && strcmp(rp, "loose") && strcmp(rp, "strict") &&
	    strcmp(rp, "off") && strcmp(rp, "keep")) {
		fe->h->log(fe->inst, STRATA_LOG_ERR,
			   "rp_filter: expected loose, strict, off or keep, "
			   "found \"%s\"", rp);
		return -EINVAL;
	}
	s.forwarding = fwd;
	s.rp_filter = rp && strcmp(rp, "keep") ? rp : NULL;
	s.no_redirects = !redirects;
	if (pod_uplink(uplink, &fe->uplink_mtu) == 0)
		s.uplink = uplink;
	rc = node_sysctls_apply(&s, err, sizeof(err));
	if (rc)
		fe->h->log(fe->inst, STRATA_LOG_ERR, "sysctl: %s", err);
	return rc;
}

static int check_no_nat(struct fe *fe)
{
	int k = fe->h->cfg_strings_count(fe->inst, "no_nat");
	struct strata_prefix p;

	if (k > 64) {
		fe->h->log(fe->inst, STRATA_LOG_ERR,
			   "no_nat: at most 64 prefixes, found %d", k);
		return -EINVAL;
	}
	for (int i = 0; i < k; i++) {
		const char *v = fe->h->cfg_strings_at(fe->inst, "no_nat",
						      (uint32_t)i);

		if (!v || prefix_parse(v, &p) < 0) {
			fe->h->log(fe->inst, STRATA_LOG_ERR,
				   "no_nat[%d]: \"%s\" is not a prefix "
				   "(ADDRESS/LENGTH)", i, v ? v : "");
			return -EINVAL;
		}
	}
	return 0;
}

static int cni_start(void *self)
{
	struct fe *fe = self;
	const char *path = fe->h->cfg_string(fe->inst, "socket");
	struct strata_prefix pools[1];
	char err[512];
	int rc;

	if (fe->h->ipam_pools(fe->inst, pools, 1) == -ENODEV) {
		fe->h->log(fe->inst, STRATA_LOG_ERR,
			   "no IPAM instance: configure one (plugin "
			   "\"topology\") for the front end to serve");
		return -ENODEV;
	}
	rc = check_no_nat(fe);
	if (!rc)
		rc = apply_sysctls(fe);
	if (rc)
		return rc;
	rc = server_open(fe->h, fe->inst, path, on_request, fe, &fe->srv, err,
			 sizeof(err));
	if (rc) {
		fe->h->log(fe->inst, STRATA_LOG_ERR, "socket: %s", err);
		return rc;
	}
	fe->tick = fe->h->timer_start(fe->inst, 1000000000LL, 1000000000LL,
				      on_tick, fe);
	links_open(fe);
	start_list(fe);
	return 0;
}

static int cni_stop(void *self)
{
	struct fe *fe = self;
	struct pending *p;

	fe->stopping = true;
	server_close(fe->srv);
	while ((p = fe->pending)) {
		fe->pending = p->next;
		conn_fail(p->c, CNI_ERR_TRY_AGAIN, NULL, "stratad is stopping");
		cni_request_free(p->req);
		free(p);
	}
	fe->pending_tail = &fe->pending;
	return fe->running ? STRATA_PENDING : 0;
}

static void cni_destroy(void *self)
{
	struct fe *fe = self;

	/* workers post back to the loop; join them before freeing */
	for (struct op *o = fe->ops; o; o = o->next)
		if (o->running)
			pthread_join(o->thread, NULL);
	while (fe->ops)
		op_free(fe->ops);
	server_free(fe->srv);
	if (fe->links_watch)
		fe->h->fd_unwatch(fe->inst, fe->links_watch);
	if (fe->links_fd >= 0)
		close(fe->links_fd);
	while (fe->pending) {
		struct pending *p = fe->pending;

		fe->pending = p->next;
		cni_request_free(p->req);
		free(p);
	}
	while (fe->atts) {
		struct att *a = fe->atts;

		fe->atts = a->next;
		free(a->handle);
		free(a);
	}
	/* the host answers no destroyed caller: nothing comes back here */
	while (fe->waits) {
		struct policy_wait *w = fe->waits;

		fe->waits = w->next;
		free(w);
	}
	free(fe);
}

static void cni_status(void *self, struct strata_status *st)
{
	struct fe *fe = self;
	int64_t n = 0;

	for (struct att *a = fe->atts; a; a = a->next)
		n++;
	fe->h->status_str(st, "state", fe->ready ? "ready" : "starting");
	if (fe->last_error[0])
		fe->h->status_str(st, "last_error", fe->last_error);
	fe->h->status_int(st, "attachments", n);
	fe->h->status_int(st, "adds", fe->adds);
	fe->h->status_int(st, "dels", fe->dels);
	fe->h->status_int(st, "checks", fe->checks);
	fe->h->status_int(st, "gcs", fe->gcs);
	fe->h->status_int(st, "failures", fe->failures);
	fe->h->status_int(st, "reclaimed", fe->reclaimed);
}

static const struct strata_plugin_ops cni_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = cni_create,
	.start = cni_start,
	.stop = cni_stop,
	.destroy = cni_destroy,
	.status = cni_status,
};

static const struct strata_frontend_ops cni_frontend_ops = {
	.size = sizeof(struct strata_frontend_ops),
};

STRATA_PLUGIN(STRATA_KIND_FRONTEND, "cni", STRATA_VERSION,
	      "serves strata-cni: pod addresses, veths and pod routes",
	      cni_config, &cni_ops, &cni_frontend_ops);
