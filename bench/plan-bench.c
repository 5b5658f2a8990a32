/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route planner at scale: 10,000 hosts in 36 subnets (3 zones of 12),
 * 100 pods each, so two /26 blocks per host carved first-free from the
 * start of each subnet's /14 of 10.0.0.0/8: 1,000,000 pods. Plans once
 * from nothing, then RUNS times more with the previous choices fed back
 * (what stratad does on every change), and prints the time per plan
 * against the goal (50 ms), the routes, and the peak RSS against its goal
 * (64 MiB).
 *
 *   plan-bench [RUNS]   (default 50)
 *
 * Exit status 1 when a goal is missed.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "plan.h"

#define HOSTS 10000
#define ZONES 3
#define SUBNETS 12
#define GROUPS (ZONES * SUBNETS)
#define PODS_PER_HOST 100
#define BLOCK_LEN 26
#define GROUP_LEN 14 /* 10.0.0.0/8 cut in 64: room for 36 */
#define GOAL_MS 50.0
#define GOAL_MIB 64.0

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

static void v4(struct strata_prefix *p, uint32_t a, uint8_t len)
{
	memset(p, 0, sizeof(*p));
	p->family = STRATA_AF_INET;
	p->len = len;
	a = htonl(a);
	memcpy(p->addr, &a, 4);
}

static void count_route(void *arg, const struct strata_route *r)
{
	(void)r;
	(*(size_t *)arg)++;
}

int main(int argc, char **argv)
{
	static struct plan_group groups[GROUPS];
	static struct strata_prefix gp[GROUPS];
	static char paths[GROUPS][32];
	static struct plan_host hosts[HOSTS];
	static char names[HOSTS][16];
	struct strata_prefix *blocks;
	uint32_t next[GROUPS] = { 0 };
	uint32_t per_block = 1u << (32 - BLOCK_LEN), n_blocks;
	int runs = argc > 1 ? atoi(argv[1]) : 50, i;
	struct plan_input in = { .groups = groups, .n_groups = GROUPS,
				 .hosts = hosts, .n_hosts = HOSTS };
	struct plan_options opt = { 0 };
	struct plan_choice *prior = NULL;
	struct plan *p = NULL;
	struct rusage ru;
	double *ms, first, median, max, mib;
	size_t n_cloud, n_prior, kernel = 0;
	char err[256];
	uint32_t g, h;
	int r;

	if (runs < 1 || runs > 100000) {
		fprintf(stderr, "usage: plan-bench [RUNS]\n");
		return 2;
	}
	n_blocks = (PODS_PER_HOST + per_block - 1) / per_block;
	blocks = calloc((size_t)HOSTS * n_blocks, sizeof(*blocks));
	ms = calloc((size_t)runs, sizeof(*ms));
	if (!blocks || !ms)
		return 1;
	for (g = 0; g < GROUPS; g++) {
		snprintf(paths[g], sizeof(paths[g]), "zone-%c/subnet-%u",
			 'a' + g / SUBNETS, g % SUBNETS + 1);
		v4(&gp[g], 10u << 24 | g << (32 - GROUP_LEN), GROUP_LEN);
		groups[g] = (struct plan_group){ .path = paths[g],
						 .prefixes = &gp[g],
						 .n_prefixes = 1 };
	}
	for (h = 0; h < HOSTS; h++) {
		struct plan_host *ho = &hosts[h];
		uint32_t b, a;

		g = h % GROUPS;
		snprintf(names[h], sizeof(names[h]), "node-%05u", h);
		ho->name = names[h];
		ho->group = g;
		ho->healthy = true;
		ho->n_addrs = 1;
		ho->addrs[0].family = STRATA_AF_INET;
		a = htonl(172u << 24 | 16u << 16 | g << 8 | (h / GROUPS + 1));
		memcpy(ho->addrs[0].addr, &a, 4);
		ho->blocks = blocks + (size_t)h * n_blocks;
		ho->n_blocks = n_blocks;
		for (b = 0; b < n_blocks; b++)
			v4(&blocks[(size_t)h * n_blocks + b],
			   10u << 24 | g << (32 - GROUP_LEN) |
				   next[g]++ << (32 - BLOCK_LEN),
			   BLOCK_LEN);
	}

	first = now_ms();
	r = plan_build(&in, &opt, &p, err, sizeof(err));
	first = now_ms() - first;
	if (r) {
		fprintf(stderr, "plan-bench: %s\n", err);
		return 1;
	}
	for (i = 0; i < runs; i++) {
		n_prior = plan_choices(p, NULL, 0);
		free(prior);
		prior = calloc(n_prior + 1, sizeof(*prior));
		if (!prior)
			return 1;
		plan_choices(p, prior, n_prior);
		opt.prior = prior;
		opt.n_prior = n_prior;
		/* The names are the input's, which outlives the old plan. */
		plan_free(p);
		ms[i] = now_ms();
		r = plan_build(&in, &opt, &p, err, sizeof(err));
		ms[i] = now_ms() - ms[i];
		if (r) {
			fprintf(stderr, "plan-bench: %s\n", err);
			return 1;
		}
	}
	qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
	median = ms[runs / 2];
	max = ms[runs - 1];
	plan_cloud_routes(p, &n_cloud);
	plan_host_kernel_routes(p, 0, count_route, &kernel);
	getrusage(RUSAGE_SELF, &ru);
	mib = (double)ru.ru_maxrss / 1024.0;

	printf("input: %u hosts in %u subnets, %u blocks of /%u each, %u pods\n",
	       HOSTS, GROUPS, n_blocks, BLOCK_LEN, HOSTS * PODS_PER_HOST);
	printf("first plan %.2f ms; %d re-plans with the prior: median %.2f ms, max %.2f ms\n",
	       first, runs, median, max);
	printf("kernel routes on %s: %zu (busiest host of its subnet: %" PRIu64 ")\n",
	       hosts[0].name, kernel,
	       plan_group_stats(p, hosts[0].group)->kernel_routes_max);
	printf("cloud routes: %zu of budget %u (IPv4, %s)\n", n_cloud,
	       plan_cloud_budget(p, PLAN_V4),
	       plan_cloud_mode(p, PLAN_V4) == PLAN_CLOUD_PER_GROUP ?
		       "per subnet, spread" : "per host");
	printf("plan %u hosts / %u pods: median %.2f ms (goal < %.0f), peak RSS %.1f MiB (goal < %.0f)\n",
	       HOSTS, HOSTS * PODS_PER_HOST, median, GOAL_MS, mib, GOAL_MIB);
	plan_free(p);
	free(prior);
	free(blocks);
	free(ms);
	return median < GOAL_MS && max < GOAL_MS && mib < GOAL_MIB ? 0 : 1;
}
