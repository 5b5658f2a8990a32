/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health view's runtime on a real embedded store: four nodes' health
 * views (each with a scripted checker) and two route-writer candidates in
 * one loop. The intent appears with observers; one observer's "down"
 * moves nothing; a quorum moves the route; the next writer continues when
 * the first resigns; a drain mark moves routes off a host.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "healthview.h"
#include "intent.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "writer.h"

#define MS 1000000LL
#define NODES 4

static const char *const names[NODES] = { "a1", "a2", "b1", "b2" };

struct node {
	int index;
	struct healthview *hv;
	int intents; /* callbacks */
	bool drained;
};

struct world {
	struct loop *loop;
	struct store *st;
	char dir[64];
	struct node nodes[NODES];
	/* down[observer][target]: what the scripted checker answers */
	bool down[NODES][NODES];
	struct writer *w[2];
};

static struct world W;

/* The carving: subnet-a (a1, a2), subnet-b (b1, b2). */
static int view_fn(void *arg, const struct strata_topo_sink *sink)
{
	struct strata_prefix pool = { .family = STRATA_AF_INET, .len = 16,
				      .addr = { 10, 112 } };
	struct strata_prefix sub[2] = {
		{ .family = STRATA_AF_INET, .len = 20, .addr = { 10, 112 } },
		{ .family = STRATA_AF_INET, .len = 20, .addr = { 10, 112, 16 } },
	};
	struct strata_topo_node root = { .size = sizeof(root),
					 .level = "cluster", .path = "",
					 .n_prefixes = 1, .prefixes = &pool };
	static const char *const paths[2] = { "subnet-a", "subnet-b" };

	(void)arg;
	sink->node(sink->arg, &root);
	for (int g = 0; g < 2; g++) {
		struct strata_topo_node n = { .size = sizeof(n), .depth = 1,
					      .level = "subnet",
					      .path = paths[g], .routed = 1,
					      .n_prefixes = 1,
					      .prefixes = &sub[g] };

		sink->node(sink->arg, &n);
	}
	for (int h = 0; h < NODES; h++) {
		struct strata_prefix blk = { .family = STRATA_AF_INET,
					     .len = 26,
					     .addr = { 10, 112,
						       (uint8_t)(h / 2 * 16),
						       (uint8_t)(h % 2 * 64) } };
		struct strata_topo_blocks tb = { .size = sizeof(tb),
						 .name = names[h],
						 .path = paths[h / 2],
						 .n_addrs = 1,
						 .blocks = &blk,
						 .n_blocks = 1 };

		tb.addrs[0].family = STRATA_AF_INET;
		tb.addrs[0].addr[0] = 192;
		tb.addrs[0].addr[1] = 0;
		tb.addrs[0].addr[2] = 2;
		tb.addrs[0].addr[3] = (uint8_t)(h + 1);
		sink->host(sink->arg, &tb);
	}
	return 0;
}

/* The scripted checker: self is the observer's node. */
static int64_t probe_id;

static int64_t fake_probe(void *self, const struct strata_hc_target *t,
			  strata_hc_done done, void *arg)
{
	struct node *n = self;
	int target = t->addr.addr[3] - 1;

	ck_assert_int_ge(target, 0);
	ck_assert_int_lt(target, NODES);
	if (W.down[n->index][target])
		done(arg, 0, "scripted down");
	else
		done(arg, 1, "scripted up");
	return ++probe_id;
}

static void fake_cancel(void *self, int64_t id)
{
	(void)self;
	(void)id;
}

static const struct strata_healthcheck_ops fake_ops = {
	.size = sizeof(fake_ops), .probe = fake_probe, .cancel = fake_cancel,
};

static void intent_cb(void *arg, const struct intent *in, bool drained)
{
	struct node *n = arg;

	(void)in;
	n->intents++;
	n->drained = drained;
}

static void setup(void)
{
	struct store_options so = { .size = sizeof(so) };
	char path[128], err[256];

	memset(&W, 0, sizeof(W));
	snprintf(W.dir, sizeof(W.dir), "/tmp/strata-writer.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(W.dir));
	snprintf(path, sizeof(path), "%s/store.db", W.dir);
	so.url = path;
	ck_assert_int_eq(loop_new(&W.loop), 0);
	ck_assert_int_eq(store_open(W.loop, &so, &W.st, err, sizeof(err)), 0);
	for (int i = 0; i < NODES; i++) {
		struct healthview_options o = { .node = names[i],
						.ops = &fake_ops,
						.self = &W.nodes[i] };

		W.nodes[i].index = i;
		health_timing_default(&o.timing);
		o.timing.interval_ns = 20 * MS;
		o.timing.fall = 2;
		o.timing.rise = 2;
		ck_assert_int_eq(healthview_new(W.loop, W.st, &o, intent_cb,
						&W.nodes[i], &W.nodes[i].hv),
				 0);
	}
}

static void teardown(void)
{
	char cmd[128];

	for (int i = 0; i < 2; i++)
		writer_free(W.w[i]);
	for (int i = 0; i < NODES; i++)
		healthview_free(W.nodes[i].hv);
	store_close(W.st);
	loop_free(W.loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", W.dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void start_writer(int i, const char *node)
{
	struct writer_options o = { .node = node, .lease_ms = 2000 };

	o.plan.budget[0] = 2;
	o.plan.no_per_host = true;
	o.plan.no_spread = true;
	ck_assert_int_eq(writer_new(W.loop, W.st, &o, view_fn, NULL, &W.w[i]),
			 0);
	writer_changed(W.w[i]);
}

static const struct intent *intent_of(int node)
{
	return healthview_intent(W.nodes[node].hv);
}

static const char *forwarder(int node, int subnet)
{
	const struct intent *in = intent_of(node);

	for (size_t i = 0; in && i < in->n_routes; i++)
		if (in->routes[i].dst.addr[2] == subnet * 16)
			return in->routes[i].host;
	return NULL;
}

static const struct intent_target *target_of(int node, const char *host)
{
	const struct intent *in = intent_of(node);

	for (size_t i = 0; in && i < in->n_targets; i++)
		if (!strcmp(in->targets[i].host, host))
			return &in->targets[i];
	return NULL;
}

static int index_of(const char *name)
{
	for (int i = 0; i < NODES; i++)
		if (!strcmp(names[i], name))
			return i;
	ck_abort_msg("no node %s", name);
	return -1;
}

/* Run the loop until pred holds, for at most 10 s. */
static bool run_until(bool (*pred)(void *), void *arg)
{
	int64_t end = loop_now() + 10000 * MS;

	while (loop_now() < end) {
		if (pred(arg))
			return true;
		loop_run_once(W.loop, 10);
	}
	return pred(arg);
}

static void run_for(int64_t ns)
{
	int64_t end = loop_now() + ns;

	while (loop_now() < end)
		loop_run_once(W.loop, 10);
}

/* every node sees an intent whose targets are all up */
static bool all_up(void *arg)
{
	(void)arg;
	for (int n = 0; n < NODES; n++) {
		const struct intent *in = intent_of(n);

		if (!in || in->n_routes != 2 || !in->n_targets)
			return false;
		for (size_t i = 0; i < in->n_targets; i++)
			if (in->targets[i].state != INTENT_UP)
				return false;
	}
	return true;
}

struct move {
	int subnet;
	const char *from;
};

/* every node sees the subnet's route on another host than from */
static bool moved_off(void *arg)
{
	const struct move *m = arg;

	for (int n = 0; n < NODES; n++) {
		const char *f = forwarder(n, m->subnet);

		if (!f || !strcmp(f, m->from))
			return false;
	}
	return true;
}

static bool drained_seen(void *arg)
{
	return W.nodes[index_of(arg)].drained;
}

START_TEST(failover)
{
	const struct intent_target *t;
	char fwd[16];
	int f;

	start_writer(0, "a1");
	ck_assert(run_until(all_up, NULL));
	ck_assert_str_eq(intent_of(2)->writer, "a1");
	snprintf(fwd, sizeof(fwd), "%s", forwarder(0, 0));
	f = index_of(fwd);
	t = target_of(0, fwd);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->n_observers, 3);

	/* one observer says down: nothing moves */
	W.down[index_of(t->observers[0])][f] = true;
	run_for(500 * MS);
	ck_assert_str_eq(forwarder(0, 0), fwd);
	ck_assert_int_eq(target_of(0, fwd)->state, INTENT_UP);

	/* a quorum: the route moves to the other host of the subnet */
	for (int o = 0; o < NODES; o++)
		W.down[o][f] = true;
	ck_assert(run_until(moved_off, &(struct move){ 0, fwd }));
	ck_assert_int_eq(target_of(3, fwd)->state, INTENT_DOWN);
	ck_assert_uint_eq(intent_of(3)->n_unhealthy, 1);
	ck_assert_str_eq(intent_of(3)->unhealthy[0], fwd);
}
END_TEST

static bool writer_is(void *arg)
{
	const struct intent *in = intent_of(0);

	return in && !strcmp(in->writer, arg);
}

START_TEST(next_writer_continues)
{
	char fwd[16];
	int f;

	start_writer(0, "a1");
	start_writer(1, "b1");
	ck_assert(run_until(all_up, NULL));
	ck_assert_str_eq(intent_of(0)->writer, "a1");
	snprintf(fwd, sizeof(fwd), "%s", forwarder(0, 1));
	f = index_of(fwd);
	/* the writer resigns as the forwarder fails: b1 takes over and
	 * finishes the failover from the stored intent */
	writer_free(W.w[0]);
	W.w[0] = NULL;
	for (int o = 0; o < NODES; o++)
		W.down[o][f] = true;
	ck_assert(run_until(writer_is, "b1"));
	ck_assert(run_until(moved_off, &(struct move){ 1, fwd }));
}
END_TEST

static bool alarmed(void *arg)
{
	const struct intent *in = intent_of(0);

	(void)arg;
	return in && in->n_alarms == 1;
}

static void marked(void *arg, int err, int64_t rev, int64_t n)
{
	(void)rev;
	(void)n;
	*(int *)arg = err ? err : 1;
}

START_TEST(drain_moves_routes)
{
	char fwd[16], key[64];
	int done = 0;

	start_writer(0, "b2");
	ck_assert(run_until(all_up, NULL));
	snprintf(fwd, sizeof(fwd), "%s", forwarder(0, 0));
	snprintf(key, sizeof(key), "%s%s", DRAIN_PREFIX, fwd);
	ck_assert_int_eq(store_put(W.st, key, "x", 1, 0, marked, &done), 0);
	ck_assert(run_until(moved_off, &(struct move){ 0, fwd }));
	ck_assert_int_eq(done, 1);
	ck_assert(run_until(drained_seen, fwd));
	for (int n = 0; n < NODES; n++)
		ck_assert(W.nodes[n].drained == !strcmp(names[n], fwd));
	/* both hosts of the subnet drained: the route stays, an alarm */
	{
		char other[16], okey[64];

		snprintf(other, sizeof(other), "%s", forwarder(0, 0));
		snprintf(okey, sizeof(okey), "%s%s", DRAIN_PREFIX, other);
		done = 0;
		ck_assert_int_eq(store_put(W.st, okey, "x", 1, 0, marked,
					   &done), 0);
		ck_assert(run_until(alarmed, NULL));
		run_for(100 * MS);
		ck_assert_int_eq(done, 1);
		ck_assert_str_eq(forwarder(0, 0), other);
		ck_assert_uint_eq(intent_of(0)->n_alarms, 1);
		ck_assert_ptr_nonnull(strstr(intent_of(0)->alarms[0],
					     "subnet-a"));
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("runtime");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, failover);
	tcase_add_test(tc, next_writer_continues);
	tcase_add_test(tc, drain_moves_routes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	log_set_level(LOG_WARNING);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
