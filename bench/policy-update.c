/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time from a NetworkPolicy change to enforcement, the way the policy-nft
 * plugin does it: the engine call (engine.h), pol_update(),
 * nftm_diff_changed() against the table applied last, nftk_apply(),
 * nftm_sync(). A cluster of 1,000 pods in
 * 10 namespaces and 500 NetworkPolicies of everyday shapes is fed to the
 * real engine as the API server's JSON; this node has pods attached. Two
 * nodes: (a) 110 of the pods (kubelet's default max-pods), (b) all 1,000.
 *
 * For each, in a network namespace of its own: the table from empty, then
 * rounds of four changes (a pod's label, one rule's port of a policy, a
 * pod of this node deleted, a new pod attached), median and p99 of each
 * kind and overall, with where the time goes. Changes that leave this
 * node's table as it is are counted but not timed (nothing to enforce).
 * The anchor, in the same run: the same table rebuilt from scratch as one
 * flat `nft -f` script (delete table, then the whole table).
 *
 *   policy-update [ROUNDS [REBUILDS]]   (defaults 50 and 5; needs root)
 *   STRATA_BENCH_SEED=N overrides the seed (printed).
 *
 * Exit status 1 when a goal is missed in (a): a change under 10 ms (the
 * median of all kinds) and at least 10x faster than the `nft -f` rebuild.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "model.h"
#include "nft.h"

#define NSS 10
#define PODS_PER_NS 100
#define PODS (NSS * PODS_PER_NS)
#define POLS_PER_NS 50
#define APPS 20 /* per namespace, 5 replicas each */
#define MAX_PODS_NODE 110
#define GOAL_MS 10.0
#define GOAL_RATIO 10.0
#define T NFTM_FAMILY " " NFTM_TABLE

enum kind { K_LABEL, K_POLICY, K_DELETE, K_ATTACH, KINDS };
static const char *const kind_name[KINDS] = {
	[K_LABEL] = "pod label change",
	[K_POLICY] = "policy port change",
	[K_DELETE] = "pod deleted",
	[K_ATTACH] = "new pod attached",
};

enum stage { S_ENGINE, S_COMPILE, S_DIFF, S_APPLY, STAGES };

static const char *const tiers[4] = { "web", "api", "cache", "db" };

struct bpod {
	int ns, app, version;
	int serial; /* the name's number; new pods get fresh ones */
	uint32_t ip; /* host byte order */
	bool live, local;
};

struct bpol {
	int ns, j;
	int port; /* the port of its first rule, the one that changes */
};

struct samples {
	double *v[STAGES + 1]; /* per stage, then the total */
	size_t n, noop;
	double elems, chains;
};

struct bench {
	struct pol *pol;
	struct nft_ctx *nft;
	struct nftm *have;
	struct bpod *pods;
	size_t n_pods, cap_pods;
	struct bpol pols[NSS * POLS_PER_NS];
	uint64_t rng;
	uint32_t next_ip;
	int next_serial;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("policy-update: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile of v[0..n) (sorted in place), nearest rank. */
static double pct(double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static uint32_t rnd(struct bench *b, uint32_t n)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return (uint32_t)(b->rng % n);
}

/* -- the cluster as the API server's JSON ---------------------------------- */

static void put(struct bench *b,
		int (*fn)(struct pol *, const char *, size_t, char *, size_t),
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put(struct bench *b,
		int (*fn)(struct pol *, const char *, size_t, char *, size_t),
		const char *fmt, ...)
{
	char *json = NULL, err[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&json, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("out of memory");
	if (fn(b->pol, json, (size_t)n, err, sizeof(err)))
		die("the engine refused %s: %s", json, err);
	free(json);
}

static void pod_name(const struct bpod *pd, char *out, size_t len)
{
	snprintf(out, len, "a%d-%d", pd->app, pd->serial);
}

static void pod_ifname(const struct bpod *pd, char *out, size_t len)
{
	snprintf(out, len, "st%013x", (unsigned)pd->serial);
}

static void pod_handle(const struct bpod *pd, char *out, size_t len)
{
	snprintf(out, len, "bench-%d", pd->serial);
}

static void ip_text(uint32_t ip, char *out, size_t len)
{
	snprintf(out, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255);
}

/* The Pod; running with its address, or pending (scheduled, no address
 * yet: what the API server holds while the CNI ADD runs). */
static void put_pod(struct bench *b, const struct bpod *pd, bool running)
{
	char name[32], ip[16], status[96];

	pod_name(pd, name, sizeof(name));
	ip_text(pd->ip, ip, sizeof(ip));
	if (running)
		snprintf(status, sizeof(status),
			 "\"phase\":\"Running\",\"podIP\":\"%s\","
			 "\"podIPs\":[{\"ip\":\"%s\"}]", ip, ip);
	else
		snprintf(status, sizeof(status), "\"phase\":\"Pending\"");
	put(b, pol_pod_put,
	    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
	    "\"name\":\"%s\",\"namespace\":\"ns-%d\",\"labels\":{"
	    "\"app\":\"a%d\",\"tier\":\"%s\",\"version\":\"v%d\","
	    "\"pod-template-hash\":\"5d%04x\"}},"
	    "\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"main\","
	    "\"ports\":[{\"name\":\"http\",\"containerPort\":%d,"
	    "\"protocol\":\"TCP\"},{\"name\":\"metrics\","
	    "\"containerPort\":9090}]},{\"name\":\"sidecar\",\"ports\":[{"
	    "\"name\":\"admin\",\"containerPort\":15000}]}]},"
	    "\"status\":{%s}}",
	    name, pd->ns, pd->app, tiers[pd->app % 4], pd->version,
	    (unsigned)pd->app * 7919u % 65536u, pd->local ? "node-a" : "node-b",
	    8080 + pd->app % 3, status);
}

static void put_namespace(struct bench *b, int i)
{
	put(b, pol_namespace_put,
	    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
	    "\"name\":\"ns-%d\",\"labels\":{\"kubernetes.io/metadata.name\":"
	    "\"ns-%d\",\"team\":\"t%d\",\"env\":\"%s\"}}}",
	    i, i, i % 4, i % 3 ? "prod" : "staging");
}

/*
 * Policy j of a namespace. j 0: default deny ingress; j 1: every pod's
 * egress to DNS and its own namespace; then six shapes in turn, each for
 * one app: ingress from pods of the namespace by label (port by number),
 * from web pods of a team's namespaces (named port and a number), from
 * ipBlocks with excepts (a port range), by matchExpressions from pods or
 * prod namespaces' api pods (named port and a number), egress to the db
 * pods of prod namespaces, and both ways at once.
 */
static void put_policy(struct bench *b, const struct bpol *pl)
{
	int a = (pl->j - 2) % APPS, p = pl->port;
	char spec[1400];

	switch (pl->j < 2 ? -1 - pl->j : pl->j % 6) {
	case -1:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{},\"policyTypes\":[\"Ingress\"]");
		break;
	case -2:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{},\"policyTypes\":[\"Egress\"],"
			 "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":"
			 "\"10.96.0.10/32\"}}],\"ports\":[{\"protocol\":"
			 "\"UDP\",\"port\":%d},{\"protocol\":\"TCP\","
			 "\"port\":53}]},{\"to\":[{\"podSelector\":{}}]}]",
			 p);
		break;
	case 0:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},"
			 "\"policyTypes\":[\"Ingress\"],\"ingress\":[{\"from\":"
			 "[{\"podSelector\":{\"matchLabels\":{\"app\":"
			 "\"a%d\"}}}],\"ports\":[{\"protocol\":\"TCP\","
			 "\"port\":%d}]}]",
			 a, (a + 1) % APPS, p);
		break;
	case 1:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},"
			 "\"ingress\":[{\"from\":[{\"namespaceSelector\":{"
			 "\"matchLabels\":{\"team\":\"t%d\"}},\"podSelector\":"
			 "{\"matchLabels\":{\"tier\":\"web\"}}}],\"ports\":[{"
			 "\"protocol\":\"TCP\",\"port\":%d},{\"port\":"
			 "\"http\"}]}]",
			 a, (pl->ns + 1) % 4, p);
		break;
	case 2:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},"
			 "\"policyTypes\":[\"Ingress\"],\"ingress\":[{\"from\":"
			 "[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":["
			 "\"10.244.0.0/16\",\"10.96.0.0/12\"]}},{\"ipBlock\":{"
			 "\"cidr\":\"192.168.%d.0/24\",\"except\":["
			 "\"192.168.%d.128/28\"]}}],\"ports\":[{\"protocol\":"
			 "\"TCP\",\"port\":%d,\"endPort\":%d}]}]",
			 a, pl->ns, pl->ns, p, p + 10);
		break;
	case 3:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{\"matchExpressions\":[{\"key\":"
			 "\"app\",\"operator\":\"In\",\"values\":[\"a%d\","
			 "\"a%d\"]}]},\"policyTypes\":[\"Ingress\"],"
			 "\"ingress\":[{\"from\":[{\"podSelector\":{"
			 "\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
			 "\"In\",\"values\":[\"web\",\"api\"]},{\"key\":"
			 "\"version\",\"operator\":\"NotIn\",\"values\":"
			 "[\"v0\"]}]}},{\"namespaceSelector\":{\"matchLabels\":"
			 "{\"env\":\"prod\"}},\"podSelector\":{\"matchLabels\":"
			 "{\"tier\":\"api\"}}}],\"ports\":[{\"protocol\":"
			 "\"TCP\",\"port\":%d},{\"port\":\"metrics\"}]}]",
			 a, (a + 5) % APPS, p);
		break;
	case 4:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},"
			 "\"policyTypes\":[\"Egress\"],\"egress\":[{\"to\":[{"
			 "\"namespaceSelector\":{\"matchLabels\":{\"env\":"
			 "\"prod\"}},\"podSelector\":{\"matchLabels\":{"
			 "\"tier\":\"db\"}}}],\"ports\":[{\"protocol\":\"TCP\","
			 "\"port\":%d}]}]",
			 a, p);
		break;
	default:
		snprintf(spec, sizeof(spec),
			 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},"
			 "\"policyTypes\":[\"Ingress\",\"Egress\"],"
			 "\"ingress\":[{\"from\":[{\"namespaceSelector\":{},"
			 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}}}],"
			 "\"ports\":[{\"protocol\":\"TCP\",\"port\":%d}]}],"
			 "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":"
			 "\"0.0.0.0/0\",\"except\":[\"169.254.169.254/32\"]}}],"
			 "\"ports\":[{\"protocol\":\"TCP\",\"port\":443}]},"
			 "{\"to\":[{\"podSelector\":{\"matchLabels\":{\"tier\":"
			 "\"cache\"}}}],\"ports\":[{\"protocol\":\"TCP\","
			 "\"port\":6379}]}]",
			 a, (a + 2) % APPS, p);
		break;
	}
	put(b, pol_policy_put,
	    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
	    "\"NetworkPolicy\",\"metadata\":{\"name\":\"np-%d\","
	    "\"namespace\":\"ns-%d\"},\"spec\":{%s}}",
	    pl->j, pl->ns, spec);
}

static int pol_default_port(int j)
{
	return j == 1 ? 53 : 8000 + j;
}

static void attach(struct bench *b, const struct bpod *pd)
{
	char name[32], ns[16], ifname[STRATA_IFNAMSIZ], handle[24];
	struct strata_pod sp = {
		.size = sizeof(sp),
		.n_addrs = 1,
		.handle = handle,
		.pod_namespace = ns,
		.pod_name = name,
		.host_if = ifname,
		.addrs[0] = { .family = STRATA_AF_INET },
	};
	uint32_t ip = htonl(pd->ip);

	pod_name(pd, name, sizeof(name));
	snprintf(ns, sizeof(ns), "ns-%d", pd->ns);
	pod_ifname(pd, ifname, sizeof(ifname));
	pod_handle(pd, handle, sizeof(handle));
	memcpy(sp.addrs[0].addr, &ip, 4);
	if (pol_attach(b->pol, &sp))
		die("pol_attach: out of memory");
}

static struct bpod *new_pod(struct bench *b)
{
	if (b->n_pods == b->cap_pods) {
		size_t cap = b->cap_pods ? b->cap_pods * 2 : PODS * 2;
		struct bpod *v = realloc(b->pods, cap * sizeof(*v));

		if (!v)
			die("out of memory");
		b->pods = v;
		b->cap_pods = cap;
	}
	memset(&b->pods[b->n_pods], 0, sizeof(b->pods[0]));
	b->pods[b->n_pods].serial = b->next_serial++;
	b->pods[b->n_pods].ip = b->next_ip++;
	b->pods[b->n_pods].live = true;
	return &b->pods[b->n_pods++];
}

/* The cluster; local_pods of its pods (spread over the namespaces) on
 * this node, attached. */
static void cluster(struct bench *b, int local_pods)
{
	int i, k, stride = PODS / local_pods;

	b->next_ip = 10u << 24 | 244u << 16 | 1u << 8 | 2u;
	b->next_serial = 1;
	for (i = 0; i < NSS; i++)
		put_namespace(b, i);
	for (i = 0; i < PODS; i++) {
		struct bpod *pd = new_pod(b);

		pd->ns = i / PODS_PER_NS;
		pd->app = i % PODS_PER_NS % APPS;
		pd->version = 1 + i % 2;
		pd->local = i % stride == 0 && i / stride < local_pods;
		put_pod(b, pd, true);
		if (pd->local)
			attach(b, pd);
	}
	for (i = 0; i < NSS; i++)
		for (k = 0; k < POLS_PER_NS; k++) {
			struct bpol *pl = &b->pols[i * POLS_PER_NS + k];

			pl->ns = i;
			pl->j = k;
			pl->port = pol_default_port(k);
			put_policy(b, pl);
		}
}

/* -- applying -------------------------------------------------------------- */

static void apply_script(struct nft_ctx *nft, const char *script)
{
	char err[1024];

	if (nftk_apply(nft, script, err, sizeof(err)))
		die("nft: %s", err);
}

/* The kernel's table, the one applied and one compiled whole agree. */
static void in_sync(struct bench *b)
{
	struct nftm *k = NULL, *whole = NULL;
	char err[512], *script = NULL;

	if (nftk_read(b->nft, &k, err, sizeof(err)))
		die("read: %s", err);
	if (nftm_diff(k, b->have, &script, NULL))
		die("out of memory");
	if (script[0])
		die("the table is not as compiled:\n%.2000s", script);
	free(script);
	nftm_free(k);
	if (pol_compile(b->pol, &whole) ||
	    nftm_diff(b->have, whole, &script, NULL))
		die("out of memory");
	if (script[0])
		die("the table kept is not the one compiled whole:\n%.2000s",
		    script);
	free(script);
	nftm_free(whole);
}

/* What the plugin does after an engine call: compile what changed, diff
 * it, apply (when anything differs), keep a copy of what was applied.
 * t[] gets compile, diff (with the copy) and apply times; false when the
 * table stays as it is. */
static bool enforce(struct bench *b, double *t, struct nftm_diff_stats *st)
{
	struct nftm *want = NULL;
	char *script = NULL;
	double t0 = now_ms(), t1, t2, t3;
	bool changed;

	if (pol_update(b->pol, &want))
		die("pol_update: out of memory");
	t1 = now_ms();
	if (nftm_diff_changed(b->have, want, &script, st))
		die("out of memory");
	t2 = now_ms();
	changed = script[0];
	if (changed)
		apply_script(b->nft, script);
	t3 = now_ms();
	if (nftm_sync(b->have, want))
		die("out of memory");
	t[S_COMPILE] = t1 - t0;
	t[S_DIFF] = t2 - t1 + now_ms() - t3;
	t[S_APPLY] = t3 - t2;
	free(script);
	return changed;
}

static size_t pick_local(struct bench *b)
{
	size_t i, n = 0, k;

	for (i = 0; i < b->n_pods; i++)
		n += b->pods[i].live && b->pods[i].local;
	if (!n)
		die("no pod on this node");
	k = rnd(b, (uint32_t)n);
	for (i = 0; i < b->n_pods; i++)
		if (b->pods[i].live && b->pods[i].local && !k--)
			return i;
	die("unreachable");
}

static size_t pick_live(struct bench *b)
{
	size_t i;

	for (;;) {
		i = rnd(b, (uint32_t)b->n_pods);
		if (b->pods[i].live)
			return i;
	}
}

/* One change of kind k: the engine calls it takes, timed into t[S_ENGINE].
 * A deleted pod of this node is replaced by the next attach. */
static void change(struct bench *b, enum kind k, double *t, size_t *gone)
{
	char ns[16], name[32], handle[24];
	struct bpod *pd;
	struct bpol *pl;
	double t0;

	switch (k) {
	case K_LABEL:
		pd = &b->pods[pick_live(b)];
		pd->app ^= 1; /* another app, and so another tier */
		t0 = now_ms();
		/* the pod's name stays; only its labels move */
		put_pod(b, pd, true);
		break;
	case K_POLICY:
		pl = &b->pols[rnd(b, NSS * POLS_PER_NS)];
		if (pl->j == 0)
			pl = &b->pols[pl->ns * POLS_PER_NS + 2];
		pl->port = pl->port == pol_default_port(pl->j) ?
				   pl->port + 1000 :
				   pol_default_port(pl->j);
		t0 = now_ms();
		put_policy(b, pl);
		break;
	case K_DELETE:
		*gone = pick_local(b);
		pd = &b->pods[*gone];
		pod_name(pd, name, sizeof(name));
		snprintf(ns, sizeof(ns), "ns-%d", pd->ns);
		pod_handle(pd, handle, sizeof(handle));
		t0 = now_ms();
		/* the CNI DEL, then the API server's delete */
		pol_detach(b->pol, handle);
		pol_pod_del(b->pol, ns, name);
		pd->live = false;
		break;
	default: {
		struct bpod old = b->pods[*gone];

		/* the replacement, scheduled here: its Pod (pending, no
		 * address) known before the CNI ADD attaches it */
		pd = new_pod(b);
		pd->ns = old.ns;
		pd->app = old.app;
		pd->version = old.version;
		pd->local = true;
		put_pod(b, pd, false);
		t0 = now_ms();
		attach(b, pd);
		break;
	}
	}
	t[S_ENGINE] = now_ms() - t0;
}

/* -- the anchor ------------------------------------------------------------ */

static char *flat_script(struct nftm *m)
{
	char *body = NULL, *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (nftm_diff(NULL, m, &body, NULL))
		die("out of memory");
	f = open_memstream(&buf, &len);
	if (!f)
		die("out of memory");
	fputs("delete table " T "\n", f);
	fputs(body, f);
	if (fclose(f))
		die("out of memory");
	free(body);
	return buf;
}

/* A transaction that changes nothing strata holds, to see libnftables'
 * fixed cost: an element added to and deleted from the ingress map. */
static double probe_ms(struct bench *b, int n)
{
	double *v = calloc((size_t)n, sizeof(double)), r, t0;

	if (!v)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		t0 = now_ms();
		apply_script(b->nft,
			     "add element " T " pod-ingress "
			     "{ \"stprobe\" : drop }\n"
			     "delete element " T " pod-ingress { \"stprobe\" }\n");
		v[i] = now_ms() - t0;
	}
	r = pct(v, (size_t)n, 0.5);
	free(v);
	return r;
}

/* -- where libnftables' time goes ------------------------------------------ */

/* Whether every @reference of a rule names a set kept (or a map). */
static bool refs_kept(const struct nftm *m, const char *rule,
		      bool (*keep)(const struct nftm_set *))
{
	const char *at = rule;
	char name[128];

	while ((at = strchr(at, '@'))) {
		size_t n = strcspn(++at, " ;}");
		const struct nftm_set *s;

		if (n >= sizeof(name))
			return false;
		memcpy(name, at, n);
		name[n] = '\0';
		s = nftm_find_set(m, name);
		if (s && !keep(s))
			return false;
	}
	return true;
}

/* A copy of m with the sets keep() says and the rules that refer to no
 * other; without its regular chains when chains is false (the maps then
 * accept). */
static struct nftm *variant(const struct nftm *m,
			    bool (*keep)(const struct nftm_set *), bool chains)
{
	struct nftm *v = nftm_new();
	size_t i, k;

	if (!v)
		die("out of memory");
	for (i = 0; i < m->n_sets; i++) {
		const struct nftm_set *s = &m->sets[i];
		struct nftm_set *c;

		if (!keep(s))
			continue;
		c = nftm_set(v, s->name, s->type, s->interval);
		for (k = 0; c && k < s->n_elems; k++)
			if (nftm_set_add(c, s->elems[k]))
				c = NULL;
		if (!c)
			die("out of memory");
	}
	for (i = 0; i < m->n_maps; i++) {
		const struct nftm_map *mp = &m->maps[i];
		struct nftm_map *c = nftm_map(v, mp->name, mp->type);

		for (k = 0; c && k < mp->n_elems; k++)
			if (nftm_map_put(c, mp->elems[k].key,
					 chains ? mp->elems[k].verdict :
						  "accept"))
				c = NULL;
		if (!c)
			die("out of memory");
	}
	for (i = 0; i < m->n_chains; i++) {
		const struct nftm_chain *ch = &m->chains[i];
		struct nftm_chain *c;

		if (!chains && !ch->base)
			continue;
		c = nftm_chain(v, ch->name, ch->base);
		for (k = 0; c && k < ch->n_rules; k++)
			if (refs_kept(m, ch->rules[k], keep) &&
			    nftm_rule(c, "%s", ch->rules[k]))
				c = NULL;
		if (!c)
			die("out of memory");
	}
	return v;
}

static bool keep_all(const struct nftm_set *s)
{
	(void)s;
	return true;
}

static bool keep_nonempty(const struct nftm_set *s)
{
	return s->n_elems > 0;
}

static bool keep_none(const struct nftm_set *s)
{
	(void)s;
	return false;
}

static bool keep_plain(const struct nftm_set *s)
{
	return !s->interval;
}

/* The addresses of an IPv4 element ("a", "a/len", "a-b") as lo..hi, host
 * order; false when it is not one. */
static bool v4_range(const char *e, uint32_t *lo, uint32_t *hi)
{
	char a[64], *sep;
	struct in_addr x, y;
	int len;

	snprintf(a, sizeof(a), "%s", e);
	if ((sep = strchr(a, '-'))) {
		*sep = '\0';
		if (inet_pton(AF_INET, a, &x) != 1 ||
		    inet_pton(AF_INET, sep + 1, &y) != 1)
			return false;
		*lo = ntohl(x.s_addr);
		*hi = ntohl(y.s_addr);
		return true;
	}
	len = 32;
	if ((sep = strchr(a, '/'))) {
		*sep = '\0';
		len = atoi(sep + 1);
	}
	if (inet_pton(AF_INET, a, &x) != 1 || len < 0 || len > 32)
		return false;
	*lo = ntohl(x.s_addr);
	*hi = *lo | (len ? (uint32_t)((1ull << (32 - len)) - 1) : 0xffffffffu);
	return true;
}

/*
 * Each non-empty IPv4 interval set as a plain set of its single addresses
 * (ranges of up to 256 addresses spelled out: the pods) and an interval
 * set of the rest (the ipBlocks), each rule using it split in two; empty
 * sets and their rules left out. The same matches, fewer interval sets.
 */
static struct nftm *variant_split(const struct nftm *m)
{
	struct nftm *v = nftm_new();
	char name[160], elem[20], *rule, *at;
	size_t i, k;

	if (!v)
		die("out of memory");
	for (i = 0; i < m->n_sets; i++) {
		const struct nftm_set *s = &m->sets[i];
		struct nftm_set *c;

		if (!s->n_elems)
			continue;
		if (!s->interval || strcmp(s->type, "ipv4_addr")) {
			c = nftm_set(v, s->name, s->type, s->interval);
			for (k = 0; c && k < s->n_elems; k++)
				if (nftm_set_add(c, s->elems[k]))
					c = NULL;
			if (!c)
				die("out of memory");
			continue;
		}
		for (k = 0; k < s->n_elems; k++) {
			uint32_t lo, hi;
			bool wide;

			if (!v4_range(s->elems[k], &lo, &hi))
				die("not an IPv4 element: %s", s->elems[k]);
			wide = hi - lo >= 256;
			snprintf(name, sizeof(name), "%s-%c", s->name,
				 wide ? 'r' : 'p');
			c = nftm_set(v, name, "ipv4_addr", wide);
			if (!c)
				die("out of memory");
			if (wide) {
				if (nftm_set_add(c, s->elems[k]))
					die("out of memory");
				continue;
			}
			for (uint64_t a = lo; a <= hi; a++) {
				ip_text((uint32_t)a, elem, sizeof(elem));
				if (nftm_set_add(c, elem))
					die("out of memory");
			}
		}
	}
	for (i = 0; i < m->n_maps; i++) {
		const struct nftm_map *mp = &m->maps[i];
		struct nftm_map *c = nftm_map(v, mp->name, mp->type);

		for (k = 0; c && k < mp->n_elems; k++)
			if (nftm_map_put(c, mp->elems[k].key,
					 mp->elems[k].verdict))
				c = NULL;
		if (!c)
			die("out of memory");
	}
	for (i = 0; i < m->n_chains; i++) {
		const struct nftm_chain *ch = &m->chains[i];
		struct nftm_chain *c = nftm_chain(v, ch->name, ch->base);

		if (!c)
			die("out of memory");
		for (k = 0; k < ch->n_rules; k++) {
			const struct nftm_set *s = NULL;
			size_t n = 0;

			at = strchr(ch->rules[k], '@');
			if (at) {
				n = strcspn(at + 1, " ;}");
				snprintf(name, sizeof(name), "%.*s", (int)n,
					 at + 1);
				s = nftm_find_set(m, name);
			}
			/* a rule with an empty set never matches */
			if (!refs_kept(m, ch->rules[k], keep_nonempty))
				continue;
			if (!s || !s->interval ||
			    strcmp(s->type, "ipv4_addr")) {
				if (nftm_rule(c, "%s", ch->rules[k]))
					die("out of memory");
				continue;
			}
			for (int w = 0; w < 2; w++) {
				char suffix[3] = { '-', w ? 'r' : 'p', 0 };

				snprintf(name, sizeof(name), "%.*s%s", (int)n,
					 at + 1, suffix);
				if (!nftm_find_set(v, name))
					continue;
				if (asprintf(&rule, "%.*s%s%s",
					     (int)(at + 1 + n - ch->rules[k]),
					     ch->rules[k], suffix,
					     at + 1 + n) < 0)
					die("out of memory");
				if (nftm_rule(c, "%s", rule))
					die("out of memory");
				free(rule);
			}
		}
	}
	return v;
}

/* The no-op transaction's cost with variants of the table in place. */
static void anatomy(struct bench *b)
{
	static const struct {
		const char *what;
		bool (*keep)(const struct nftm_set *);
		bool chains;
	} vs[] = {
		{ "as compiled", keep_all, true },
		{ "no empty sets, pods plain, ipBlocks interval", NULL,
		  true },
		{ "without its empty sets (and their rules)", keep_nonempty,
		  true },
		{ "without its interval sets (and their rules)", keep_plain,
		  true },
		{ "chains only (no sets, no rules using one)", keep_none,
		  true },
		{ "sets only (base chains, maps accept)", keep_all, false },
	};
	struct nftm *saved = b->have;
	char *script;
	double t0;

	printf("# libnftables' no-op transaction with variants of the table "
	       "(sets, interval sets, elements, chains):\n");
	for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		struct nftm *v = vs[i].keep ?
					 variant(saved, vs[i].keep, vs[i].chains) :
					 variant_split(saved);
		size_t ns = 0, ni = 0, ne = 0;

		for (size_t k = 0; k < v->n_sets; k++) {
			ns++;
			ni += v->sets[k].interval;
			ne += v->sets[k].n_elems;
		}
		apply_script(b->nft, "delete table " T "\n");
		if (nftm_diff(NULL, v, &script, NULL))
			die("out of memory");
		t0 = now_ms();
		apply_script(b->nft, script);
		t0 = now_ms() - t0;
		free(script);
		printf("  %-44s %4zu sets (%4zu interval, %5zu elements), "
		       "%4zu chains: no-op %6.2f ms (from empty %.0f ms)\n",
		       vs[i].what, ns, ni, ne, v->n_chains, probe_ms(b, 11),
		       t0);
		nftm_free(v);
	}
	apply_script(b->nft, "delete table " T "\n");
	apply_script(b->nft, "add table " T "\nadd map " T " pod-ingress "
			     "{ type ifname : verdict; }\n");
	printf("  %-44s    0 sets, 0 chains: no-op %6.2f ms\n",
	       "an empty table (one map)", probe_ms(b, 11));
	apply_script(b->nft, "delete table " T "\n");
	/* back as it was, for whatever follows */
	if (nftm_diff(NULL, saved, &script, NULL))
		die("out of memory");
	apply_script(b->nft, script);
	free(script);
	in_sync(b);
}

/* -- one node -------------------------------------------------------------- */

static void samples_init(struct samples *s, size_t n)
{
	for (int i = 0; i <= STAGES; i++) {
		s->v[i] = calloc(n, sizeof(double));
		if (!s->v[i])
			die("out of memory");
	}
}

static void samples_free(struct samples *s)
{
	for (int i = 0; i <= STAGES; i++)
		free(s->v[i]);
}

static void print_row(const char *what, struct samples *s)
{
	double st[STAGES];

	for (int i = 0; i < STAGES; i++)
		st[i] = pct(s->v[i], s->n, 0.5);
	printf("  %-20s %4zu (+%3zu no-op)  p50 %7.2f  p99 %7.2f ms   "
	       "[engine %.2f compile %.2f diff %.2f apply %.2f]\n",
	       what, s->n, s->noop, pct(s->v[STAGES], s->n, 0.5),
	       pct(s->v[STAGES], s->n, 0.99), st[S_ENGINE], st[S_COMPILE],
	       st[S_DIFF], st[S_APPLY]);
}

static bool node(const char *label, int local_pods, int rounds, int rebuilds,
		 uint64_t seed, bool anat)
{
	struct bench b = { .rng = seed };
	struct samples s[KINDS], all;
	struct nftm_diff_stats st;
	size_t n_sets = 0, n_interval = 0, n_elems = 0, n_rules = 0, gone = 0;
	double t0, t1, t2, t3, t[STAGES], *reb, *reb_lib, c50, c99, r50, l50;
	double probe, probe_tiny;
	char dir[] = "/tmp/strata-bench-XXXXXX", path[64], cmd[128];
	char *script;
	struct pol_counts pc;
	bool ok;
	FILE *f;
	int i;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET): %s (run as root)", strerror(errno));
	b.nft = nftk_open();
	b.pol = pol_new();
	if (!b.nft || !b.pol)
		die("out of memory");

	t0 = now_ms();
	cluster(&b, local_pods);
	t1 = now_ms();
	{
		struct nftm *want;

		if (pol_update(b.pol, &want) || !(b.have = nftm_dup(want)))
			die("pol_update: out of memory");
	}
	t2 = now_ms();
	if (nftm_diff(NULL, b.have, &script, &st))
		die("out of memory");
	t3 = now_ms();
	pol_counts(b.pol, &pc);
	for (size_t k = 0; k < b.have->n_sets; k++) {
		n_sets++;
		n_interval += b.have->sets[k].interval;
		n_elems += b.have->sets[k].n_elems;
	}
	for (size_t k = 0; k < b.have->n_chains; k++)
		n_rules += b.have->chains[k].n_rules;
	printf("\n== (%s) %zu namespaces, %zu pods, %zu policies; "
	       "%zu pods on this node ==\n", label, pc.namespaces, pc.pods,
	       pc.policies, pc.attachments);
	printf("# table: %zu chains (%zu rules), %zu sets (%zu interval) with "
	       "%zu elements, maps of %zu + %zu keys; script %zu bytes\n",
	       b.have->n_chains, n_rules, n_sets, n_interval, n_elems,
	       b.have->maps[0].n_elems, b.have->maps[1].n_elems,
	       strlen(script));
	printf("# from empty: objects in %.0f ms, compile %.1f ms, diff "
	       "%.1f ms, ", t1 - t0, t2 - t1, t3 - t2);
	t0 = now_ms();
	apply_script(b.nft, script);
	printf("apply %.1f ms\n", now_ms() - t0);
	free(script);
	in_sync(&b);

	/* what libnftables costs before it does anything: a no-op pair in
	 * this table, and the same in a table of one map beside it */
	probe = probe_ms(&b, 21);
	apply_script(b.nft, "add table inet strata-probe\n"
			    "add map inet strata-probe m { type ifname : "
			    "verdict; }\n");
	{
		double *v = calloc(21, sizeof(double));

		if (!v)
			die("out of memory");
		for (i = 0; i < 21; i++) {
			t0 = now_ms();
			apply_script(b.nft,
				     "add element inet strata-probe m "
				     "{ \"stprobe\" : drop }\n"
				     "delete element inet strata-probe m "
				     "{ \"stprobe\" }\n");
			v[i] = now_ms() - t0;
		}
		probe_tiny = pct(v, 21, 0.5);
		free(v);
	}
	apply_script(b.nft, "delete table inet strata-probe\n");

	/* the changes, in rounds of the four kinds */
	for (i = 0; i < KINDS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		samples_init(&s[i], (size_t)rounds);
	}
	memset(&all, 0, sizeof(all));
	samples_init(&all, (size_t)rounds * KINDS);
	for (int r = 0; r < rounds; r++) {
		for (enum kind k = 0; k < KINDS; k++) {
			change(&b, k, t, &gone);
			if (!enforce(&b, t, &st)) {
				s[k].noop++;
				continue;
			}
			s[k].elems += (double)(st.elems_added +
					       st.elems_deleted);
			s[k].chains += (double)st.chains_written;
			for (i = 0; i < STAGES; i++) {
				s[k].v[i][s[k].n] = t[i];
				all.v[i][all.n] = t[i];
			}
			s[k].v[STAGES][s[k].n++] = all.v[STAGES][all.n++] =
				t[S_ENGINE] + t[S_COMPILE] + t[S_DIFF] +
				t[S_APPLY];
			if (k == K_ATTACH) {
				/* later, the API server reports its address:
				 * an update of its own, not timed */
				put_pod(&b, &b.pods[b.n_pods - 1], true);
				enforce(&b, t, &st);
			}
		}
	}
	in_sync(&b);

	/* the anchor: the whole table again, by nft -f and in-process */
	reb = calloc((size_t)rebuilds, sizeof(double));
	reb_lib = calloc((size_t)rebuilds, sizeof(double));
	if (!reb || !reb_lib)
		die("out of memory");
	script = flat_script(b.have);
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/table.nft", dir);
	f = fopen(path, "w");
	if (!f || fputs(script, f) < 0 || fclose(f))
		die("cannot write %s", path);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	for (i = 0; i < rebuilds; i++) {
		t0 = now_ms();
		if (system(cmd))
			die("%s failed", cmd);
		reb[i] = now_ms() - t0;
		t0 = now_ms();
		apply_script(b.nft, script);
		reb_lib[i] = now_ms() - t0;
	}
	in_sync(&b);
	unlink(path);
	rmdir(dir);

	printf("# libnftables' floor: a no-op transaction in this table "
	       "%.2f ms, in a one-map table beside it %.2f ms\n", probe,
	       probe_tiny);
	printf("# changes (timed when the table changed; per kind: "
	       "elements, chains written on average)\n");
	for (i = 0; i < KINDS; i++) {
		char what[64];

		snprintf(what, sizeof(what), "%s", kind_name[i]);
		print_row(what, &s[i]);
	}
	for (i = 0; i < KINDS; i++)
		printf("  %-20s %.1f elements, %.2f chains per change\n",
		       kind_name[i], s[i].n ? s[i].elems / (double)s[i].n : 0,
		       s[i].n ? s[i].chains / (double)s[i].n : 0);
	print_row("all", &all);
	c50 = pct(all.v[STAGES], all.n, 0.5);
	c99 = pct(all.v[STAGES], all.n, 0.99);
	r50 = pct(reb, (size_t)rebuilds, 0.5);
	l50 = pct(reb_lib, (size_t)rebuilds, 0.5);
	printf("rebuild (delete table + the whole table), nft -f: p50 %.1f ms;"
	       " in-process libnftables: p50 %.1f ms\n", r50, l50);
	printf("goal: per change < %.0f ms: p50 %.2f ms %s (p99 %.2f ms %s)\n",
	       GOAL_MS, c50, c50 < GOAL_MS ? "PASS" : "MISS", c99,
	       c99 < GOAL_MS ? "under" : "over");
	printf("goal: >= %.0fx faster than the rebuild: %.1fx %s\n",
	       GOAL_RATIO, r50 / c50, r50 / c50 >= GOAL_RATIO ? "PASS" :
								"MISS");
	ok = c50 < GOAL_MS && r50 / c50 >= GOAL_RATIO;
	if (!ok && anat)
		anatomy(&b);

	free(script);
	free(reb);
	free(reb_lib);
	for (i = 0; i < KINDS; i++)
		samples_free(&s[i]);
	samples_free(&all);
	nftm_free(b.have);
	pol_free(b.pol);
	nftk_close(b.nft);
	free(b.pods);
	return ok;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	int rebuilds = argc > 2 ? atoi(argv[2]) : 5;
	const char *env = getenv("STRATA_BENCH_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 12;
	bool ok;

	if (rounds < 1 || rebuilds < 1)
		die("usage: policy-update [ROUNDS>=1 [REBUILDS>=1]]");
	if (!seed)
		seed = 1; /* xorshift needs a bit set */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# policy-update: %d rounds of 4 changes, %d rebuilds, "
	       "seed %llu (STRATA_BENCH_SEED)\n", rounds, rebuilds,
	       (unsigned long long)seed);
	ok = node("a", MAX_PODS_NODE, rounds, rebuilds, seed, true);
	node("b", PODS, rounds, rebuilds, seed, false);
	return ok ? 0 : 1;
}
