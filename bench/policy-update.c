/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy-nft rule-update cost at scale: a strata-filter table shaped
 * like the engine's (engine.h) for 1,000 pods and 500 policies: the two
 * base chains, the two verdict maps keyed by 1,000 veths, a chain per pod
 * and direction jumping to the chains of the policies selecting it, a
 * chain per policy and direction, and 1,000 interval address sets (each
 * policy's peers: two pods and an ipBlock less an except).
 *
 * strata's way: one change at a time, alternating a pod's label change
 * (its address moves between policies' peer sets: four elements) and a
 * policy change (one policy chain rewritten), each as nftm_diff() from the
 * model in memory plus nftk_apply(). The anchor: the same table as one
 * flat script rebuilt from scratch (the table, its sets and maps
 * flushed, then everything added again), run by `nft -f` as a rebuilder
 * would, and through libnftables in-process too, to show what the process
 * start costs. All in a network namespace of its own; needs root.
 *
 *   policy-update [CHANGES [REBUILDS]]   (defaults 200 and 10)
 *
 * Exit status 1 when a goal is missed: a change (diff + apply) under
 * 10 ms at the median and at least 10x faster than `nft -f`.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "nft.h"

#define PODS 1000
#define POLICIES 500
#define GOAL_MS 10.0
#define GOAL_RATIO 10.0
#define T NFTM_FAMILY " " NFTM_TABLE

/* What the synthetic cluster looks like now: each pod's label group (the
 * policy whose peer it is) and each policy's port. */
struct cluster {
	int group[PODS];
	int port[POLICIES];
};

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

static double pct(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void die(const char *what)
{
	fprintf(stderr, "policy-update: %s\n", what);
	exit(2);
}

static void veth(int pod, char *out, size_t len)
{
	snprintf(out, len, "st%013x", pod + 1);
}

static void pod_addr(int pod, char *out, size_t len)
{
	snprintf(out, len, "10.244.%d.%d", pod / 250, pod % 250 + 1);
}

#define CHECK(x)                                                            \
	do {                                                                 \
		if (!(x))                                                    \
			die("out of memory building the model");            \
	} while (0)

static void add_base(struct nftm *m, const char *name, const char *base,
		     const char *dir, const char *map)
{
	struct nftm_chain *c = nftm_chain(m, name, base);

	CHECK(c);
	CHECK(!nftm_rule(c, "ct state established,related accept"));
	CHECK(!nftm_rule(c, "%s vmap @%s", dir, map));
	CHECK(!nftm_rule(c, "%s \"st*\" drop", dir));
}

static struct nftm *build(const struct cluster *cl)
{
	struct nftm *m = nftm_new();
	struct nftm_map *in, *eg;
	char name[64], key[40], addr[32], v[80];

	CHECK(m);
	add_base(m, "egress",
		 "type filter hook forward priority -5; policy accept;",
		 "iifname", "pod-egress");
	add_base(m, "ingress",
		 "type filter hook forward priority 0; policy accept;",
		 "oifname", "pod-ingress");
	/* both first: a model's pointers move as objects of a kind are added */
	CHECK(nftm_map(m, "pod-ingress", "ifname"));
	CHECK(nftm_map(m, "pod-egress", "ifname"));
	in = (struct nftm_map *)nftm_find_map(m, "pod-ingress");
	eg = (struct nftm_map *)nftm_find_map(m, "pod-egress");

	/* per policy: its chains, its peers (pods of its group and an
	 * ipBlock less an except) */
	for (int j = 0; j < POLICIES; j++) {
		static const char *const dirs[] = { "in", "eg" };

		for (int d = 0; d < 2; d++) {
			struct nftm_set *s;
			struct nftm_chain *c;
			const char *sel = d ? "daddr" : "saddr";

			snprintf(name, sizeof(name), "np-%d-%s-0", j, dirs[d]);
			s = nftm_set(m, name, "ipv4_addr", true);
			CHECK(s);
			snprintf(addr, sizeof(addr), "172.%d.%d.0/24",
				 16 + j / 256, j % 256);
			CHECK(!nftm_set_add(s, addr));
			snprintf(addr, sizeof(addr), "192.168.%d.0-192.168.%d.9",
				 j % 256, j % 256);
			CHECK(!nftm_set_add(s, addr));
			snprintf(name, sizeof(name), "np-%d-%s", j, dirs[d]);
			c = nftm_chain(m, name, NULL);
			CHECK(c);
			CHECK(!nftm_rule(c, "ip %s @%s-0 tcp dport %d accept",
					 sel, name, d ? 443 : cl->port[j]));
			CHECK(!nftm_rule(c, "ip %s @%s-0 udp dport 53 accept",
					 sel, name));
		}
	}
	for (int i = 0; i < PODS; i++) {
		struct nftm_set *s;

		pod_addr(i, addr, sizeof(addr));
		for (int d = 0; d < 2; d++) {
			snprintf(name, sizeof(name), "np-%d-%s-0", cl->group[i],
				 d ? "eg" : "in");
			s = (struct nftm_set *)nftm_find_set(m, name);
			CHECK(s && !nftm_set_add(s, addr));
		}
	}

	/* per pod: isolated for ingress by two policies; every other pod
	 * for egress by one; the rest accept */
	for (int i = 0; i < PODS; i++) {
		struct nftm_chain *c;
		char vn[24];

		veth(i, vn, sizeof(vn));
		snprintf(key, sizeof(key), "\"%s\"", vn);
		snprintf(name, sizeof(name), "pod-%s-in", vn);
		c = nftm_chain(m, name, NULL);
		CHECK(c);
		CHECK(!nftm_rule(c, "jump np-%d-in", i % POLICIES));
		CHECK(!nftm_rule(c, "jump np-%d-in", (i * 7 + 3) % POLICIES));
		CHECK(!nftm_rule(c, "drop"));
		snprintf(v, sizeof(v), "goto %s", name);
		CHECK(!nftm_map_put(in, key, v));
		if (i % 2) {
			CHECK(!nftm_map_put(eg, key, "accept"));
			continue;
		}
		snprintf(name, sizeof(name), "pod-%s-eg", vn);
		c = nftm_chain(m, name, NULL);
		CHECK(c);
		CHECK(!nftm_rule(c, "jump np-%d-eg", (i / 2) % POLICIES));
		CHECK(!nftm_rule(c, "drop"));
		snprintf(v, sizeof(v), "goto %s", name);
		CHECK(!nftm_map_put(eg, key, v));
	}
	return m;
}

/* The anchor: everything flushed and added again, one transaction. */
static char *flat_script(struct nftm *want)
{
	char *body = NULL, *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (nftm_diff(NULL, want, &body, NULL))
		die("out of memory");
	f = open_memstream(&buf, &len);
	if (!f)
		die("out of memory");
	fputs("add table " T "\nflush table " T "\n", f);
	for (size_t i = 0; i < want->n_sets; i++)
		fprintf(f, "flush set " T " %s\n", want->sets[i].name);
	for (size_t i = 0; i < want->n_maps; i++)
		fprintf(f, "flush map " T " %s\n", want->maps[i].name);
	fputs(body, f);
	if (fclose(f))
		die("out of memory");
	free(body);
	return buf;
}

static void apply(struct nft_ctx *nft, const char *script)
{
	char err[512];

	if (nftk_apply(nft, script, err, sizeof(err))) {
		fprintf(stderr, "policy-update: nft: %s\n", err);
		exit(2);
	}
}

static void in_sync(struct nft_ctx *nft, struct nftm *want)
{
	struct nftm *have = NULL;
	char err[512], *script = NULL;

	if (nftk_read(nft, &have, err, sizeof(err))) {
		fprintf(stderr, "policy-update: read: %s\n", err);
		exit(2);
	}
	if (nftm_diff(have, want, &script, NULL))
		die("out of memory");
	if (script[0]) {
		fprintf(stderr, "policy-update: table not as wanted:\n%.2000s",
			script);
		exit(2);
	}
	free(script);
	nftm_free(have);
}

int main(int argc, char **argv)
{
	int changes = argc > 1 ? atoi(argv[1]) : 200;
	int rebuilds = argc > 2 ? atoi(argv[2]) : 10;
	struct cluster cl;
	struct nftm *have, *want;
	struct nft_ctx *nft;
	struct nftm_diff_stats st;
	double *t_diff, *t_apply, *t_total, *t_nft, *t_lib, *t_kind[2], t0, t1;
	double lbl_elems = 0, pol_chains = 0;
	char dir[] = "/tmp/strata-bench-XXXXXX", path[64], cmd[128];
	char *script;
	size_t full_len, full_lines = 0;
	FILE *f;
	bool ok;

	if (changes < 2 || rebuilds < 1)
		die("usage: policy-update [CHANGES>=2 [REBUILDS>=1]]");
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET) failed: run as root");
	for (int i = 0; i < PODS; i++)
		cl.group[i] = i % POLICIES;
	for (int j = 0; j < POLICIES; j++)
		cl.port[j] = 80;
	nft = nftk_open();
	if (!nft)
		die("nftk_open failed");

	/* the table from nothing */
	want = build(&cl);
	t0 = now_ms();
	if (nftm_diff(NULL, want, &script, &st))
		die("out of memory");
	t1 = now_ms();
	full_len = strlen(script);
	for (const char *c = script; *c; c++)
		full_lines += *c == '\n';
	apply(nft, script);
	printf("# table: %zu sets, %zu maps (%zu + %zu keys), %zu chains; "
	       "script %zu lines, %zu bytes\n",
	       want->n_sets, want->n_maps, want->maps[0].n_elems,
	       want->maps[1].n_elems, want->n_chains,
	       full_lines, full_len);
	printf("# from empty: diff %.1f ms, apply %.1f ms\n", t1 - t0,
	       now_ms() - t1);
	free(script);
	in_sync(nft, want);
	have = want;

	t_diff = calloc((size_t)changes, sizeof(double));
	t_apply = calloc((size_t)changes, sizeof(double));
	t_total = calloc((size_t)changes, sizeof(double));
	t_nft = calloc((size_t)rebuilds, sizeof(double));
	t_lib = calloc((size_t)rebuilds, sizeof(double));
	t_kind[0] = calloc((size_t)changes, sizeof(double));
	t_kind[1] = calloc((size_t)changes, sizeof(double));
	if (!t_diff || !t_apply || !t_total || !t_nft || !t_lib ||
	    !t_kind[0] || !t_kind[1])
		die("out of memory");

	/* strata's way: one change at a time */
	for (int k = 0; k < changes; k++) {
		if (k % 2 == 0) {
			int pod = (k / 2 * 37) % PODS;

			cl.group[pod] = (cl.group[pod] + 1) % POLICIES;
		} else {
			int pol = (k / 2 * 13) % POLICIES;

			cl.port[pol] = cl.port[pol] == 80 ? 8080 : 80;
		}
		want = build(&cl);
		t0 = now_ms();
		if (nftm_diff(have, want, &script, &st))
			die("out of memory");
		t1 = now_ms();
		apply(nft, script);
		t_diff[k] = t1 - t0;
		t_apply[k] = now_ms() - t1;
		t_total[k] = t_diff[k] + t_apply[k];
		t_kind[k % 2][k / 2] = t_total[k];
		if (k % 2 == 0)
			lbl_elems += (double)(st.elems_added + st.elems_deleted);
		else
			pol_chains += (double)st.chains_written;
		free(script);
		nftm_free(have);
		have = want;
	}
	in_sync(nft, have);

	/* the anchor: the whole table again, as nft -f and in-process */
	script = flat_script(have);
	if (!mkdtemp(dir))
		die("mkdtemp failed");
	snprintf(path, sizeof(path), "%s/table.nft", dir);
	f = fopen(path, "w");
	if (!f || fputs(script, f) < 0 || fclose(f))
		die("cannot write the flat script");
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	for (int k = 0; k < rebuilds; k++) {
		t0 = now_ms();
		if (system(cmd))
			die("nft -f of the flat script failed");
		t_nft[k] = now_ms() - t0;
		t0 = now_ms();
		apply(nft, script);
		t_lib[k] = now_ms() - t0;
	}
	in_sync(nft, have);
	unlink(path);
	rmdir(dir);

	{
		double d50 = pct(t_diff, (size_t)changes, 0.5);
		double d99 = pct(t_diff, (size_t)changes, 0.99);
		double a50 = pct(t_apply, (size_t)changes, 0.5);
		double a99 = pct(t_apply, (size_t)changes, 0.99);
		double c50 = pct(t_total, (size_t)changes, 0.5);
		double c99 = pct(t_total, (size_t)changes, 0.99);
		double n50 = pct(t_nft, (size_t)rebuilds, 0.5);
		double l50 = pct(t_lib, (size_t)rebuilds, 0.5);

		printf("# %d changes (label: %.1f elements each, policy: %.1f "
		       "chains each); %d rebuilds of a %zu-byte script\n",
		       changes, lbl_elems / (changes - changes / 2),
		       pol_chains / (changes / 2), rebuilds, strlen(script));
		printf("strata diff only:      p50 %7.3f ms  p99 %7.3f ms\n",
		       d50, d99);
		printf("strata apply only:     p50 %7.3f ms  p99 %7.3f ms\n",
		       a50, a99);
		printf("strata per change:     p50 %7.3f ms  p99 %7.3f ms "
		       "(goal < %.0f ms)\n", c50, c99, GOAL_MS);
		printf("  label change:        p50 %7.3f ms  p99 %7.3f ms\n",
		       pct(t_kind[0], (size_t)(changes - changes / 2), 0.5),
		       pct(t_kind[0], (size_t)(changes - changes / 2), 0.99));
		printf("  policy change:       p50 %7.3f ms  p99 %7.3f ms\n",
		       pct(t_kind[1], (size_t)(changes / 2), 0.5),
		       pct(t_kind[1], (size_t)(changes / 2), 0.99));
		printf("rebuild, nft -f:       p50 %7.1f ms\n", n50);
		printf("rebuild, libnftables:  p50 %7.1f ms\n", l50);
		printf("ratio nft -f / strata: %.0fx (goal >= %.0fx); "
		       "in-process rebuild / strata: %.0fx\n",
		       n50 / c50, GOAL_RATIO, l50 / c50);
		ok = c50 < GOAL_MS && n50 / c50 >= GOAL_RATIO;
	}
	free(script);
	free(t_diff);
	free(t_apply);
	free(t_total);
	free(t_nft);
	free(t_lib);
	free(t_kind[0]);
	free(t_kind[1]);
	nftm_free(have);
	nftk_close(nft);
	return ok ? 0 : 1;
}
