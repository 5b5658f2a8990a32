/* SPDX-License-Identifier: Apache-2.0 */
/* The host services table: resource tracking, posts, metrics, facts, the
 * route model and the node's IPAM, on a real loop, without a running
 * daemon. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "daemon.h"
#include "facts.h"
#include "host.h"
#include "offline.h"
#include "http.h"
#include "loop.h"
#include "plug.h"
#include "route.h"
#include "store.h"

static const struct strata_plugin_ops ops; /* never called here */
static const struct strata_plugin desc = {
	.magic = STRATA_PLUGIN_MAGIC,
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.size = sizeof(struct strata_plugin),
	.kind = STRATA_KIND_FRONTEND,
	.name = "test",
	.version = "1",
	.ops = &ops,
};

/* A scripted IPAM: how it answers is set per test. */
enum fake_mode { FAKE_INSIDE, FAKE_LATER, FAKE_REFUSE };

static struct {
	enum fake_mode mode;
	strata_ipam_cb cb;
	void *cb_arg;
	strata_ipam_list_cb list_cb;
	strata_done_cb done;
	void *list_arg;
	int calls;
	int view_rc;
} fake;

static void fake_result(strata_ipam_cb cb, void *arg, int err)
{
	struct strata_ipam_result res = { .size = sizeof(res), .error = err };
	char text[64];

	if (err) {
		/* the host must copy it: this buffer is gone after the call */
		snprintf(text, sizeof(text), "fake failure %d", -err);
		res.error_text = text;
	} else {
		res.n_addrs = 1;
		ck_assert_int_eq(route_prefix_parse("10.112.0.5/32",
						    &res.addrs[0]), 0);
	}
	cb(arg, &res);
	memset(text, 0, sizeof(text));
}

static int fake_op(void *self, const struct strata_ipam_request *req,
		   strata_ipam_cb cb, void *arg, int err)
{
	(void)self;
	ck_assert_str_eq(req->handle, "cni/n/c1/eth0");
	fake.calls++;
	switch (fake.mode) {
	case FAKE_INSIDE:
		fake_result(cb, arg, err);
		return 0;
	case FAKE_LATER:
		fake.cb = cb;
		fake.cb_arg = arg;
		return 0;
	case FAKE_REFUSE:
		break;
	}
	return -EBUSY;
}

static int fake_allocate(void *self, const struct strata_ipam_request *req,
			 strata_ipam_cb cb, void *arg)
{
	return fake_op(self, req, cb, arg, 0);
}

static int fake_release(void *self, const struct strata_ipam_request *req,
			strata_ipam_cb cb, void *arg)
{
	return fake_op(self, req, cb, arg, -ENOENT);
}

static void fake_entry(const char *handle)
{
	struct strata_prefix p[2];
	char buf[64];

	ck_assert_int_eq(route_prefix_parse("10.112.0.9/32", &p[0]), 0);
	ck_assert_int_eq(route_prefix_parse("fd00::9/128", &p[1]), 0);
	snprintf(buf, sizeof(buf), "%s", handle); /* gone after the call */
	fake.list_cb(fake.list_arg, buf, p, 2);
}

/* Inside the call: the first entry; the rest also, unless LATER. */
static int fake_list(void *self, const char *prefix, strata_ipam_list_cb cb,
		     strata_done_cb done, void *arg)
{
	(void)self;
	ck_assert_str_eq(prefix, "cni/");
	fake.calls++;
	if (fake.mode == FAKE_REFUSE)
		return -EBUSY;
	fake.list_cb = cb;
	fake.done = done;
	fake.list_arg = arg;
	fake_entry("cni/a");
	if (fake.mode == FAKE_LATER)
		return 0;
	fake_entry("cni/b");
	done(arg, 0, NULL);
	return 0;
}

static int fake_view(void *self, const struct strata_topo_sink *sink)
{
	struct strata_prefix p[3];
	struct strata_topo_node node = { .size = sizeof(node),
					 .level = "cluster",
					 .path = "",
					 .prefixes = p,
					 .n_prefixes = 2 };

	(void)self;
	if (fake.view_rc)
		return fake.view_rc;
	ck_assert_int_eq(route_prefix_parse("10.112.0.0/12", &p[0]), 0);
	ck_assert_int_eq(route_prefix_parse("fd00:10::/48", &p[1]), 0);
	ck_assert_int_eq(route_prefix_parse("10.112.0.0/14", &p[2]), 0);
	sink->node(sink->arg, &node);
	/* a deeper node's prefixes are not pools */
	node.depth = 1;
	node.path = "za";
	node.prefixes = &p[2];
	node.n_prefixes = 1;
	sink->node(sink->arg, &node);
	return 0;
}

static const struct strata_ipam_ops fake_ipam_ops = {
	.size = sizeof(struct strata_ipam_ops),
	.allocate = fake_allocate,
	.release = fake_release,
	.view = fake_view,
	.list = fake_list,
};

static const struct strata_plugin ipam_desc = {
	.magic = STRATA_PLUGIN_MAGIC,
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.size = sizeof(struct strata_plugin),
	.kind = STRATA_KIND_IPAM,
	.name = "fake",
	.version = "1",
	.ops = &ops,
	.kind_ops = &fake_ipam_ops,
};

static struct daemon d;
static char dbdir[64], dbpath[128], cmd[128];
static struct plug plug = { .desc = &desc };
static struct strata_instance inst;
static struct plug ipam_plug = { .desc = &ipam_desc };
static struct strata_instance ipam_inst;
static const struct strata_host *h = &host_table;

static void setup(void)
{
	memset(&d, 0, sizeof(d));
	memset(&inst, 0, sizeof(inst));
	memset(&ipam_inst, 0, sizeof(ipam_inst));
	memset(&fake, 0, sizeof(fake));
	ck_assert_int_eq(loop_new(&d.loop), 0);
	ck_assert_int_eq(http_new(d.loop, &d.http), 0);
	ck_assert_int_eq(facts_new(&d.facts), 0);
	ck_assert_int_eq(route_model_new(d.loop, 60000000000LL, &d.routes), 0);
	snprintf(dbdir, sizeof(dbdir), "/tmp/strata-test-host.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dbdir));
	snprintf(dbpath, sizeof(dbpath), "%s/store.db", dbdir);
	{
		struct store_options opt = { .size = sizeof(opt), .url = dbpath };
		char err[256];

		ck_assert_int_eq(store_open(d.loop, &opt, &d.store, err,
					    sizeof(err)), 0);
	}
	inst.d = &d;
	inst.id = 7;
	inst.name = strdup("t");
	strcpy(inst.prefix, "test[t]");
	inst.plug = &plug;
	inst.state = INST_RUNNING;
	d.instances = &inst;
}

static void teardown(void)
{
	host_release_all(&inst);
	host_ipam_calls_free(&d);
	if (inst.owner)
		route_owner_remove(inst.owner);
	metric_set_clear(&inst.metrics);
	free(inst.name);
	store_close(d.store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dbdir);
	ck_assert_int_eq(system(cmd), 0);
	route_model_free(d.routes);
	http_free(d.http);
	facts_free(d.facts);
	loop_free(d.loop);
}

static void run_for(int64_t ms)
{
	int64_t end = loop_now() + ms * 1000000LL;

	while (loop_now() < end)
		loop_run_once(d.loop, 10);
}

static bool holds_resources(void)
{
	return inst.res != NULL;
}

static int fired;
static struct strata_timer *self_stopping;

static void count_cb(void *arg)
{
	(void)arg;
	fired++;
}

static void count_fd_cb(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	count_cb(arg);
}

static void stop_self_cb(void *arg)
{
	(void)arg;
	fired++;
	h->timer_stop(&inst, self_stopping);
}

START_TEST(oneshot_timer_fires_once_and_lets_go)
{
	fired = 0;
	ck_assert_ptr_nonnull(h->timer_start(&inst, 1000000, 0, count_cb, NULL));
	run_for(50);
	ck_assert_int_eq(fired, 1);
	ck_assert(!holds_resources()); /* the record is gone */
}
END_TEST

START_TEST(periodic_timer_stopped_in_its_callback)
{
	fired = 0;
	self_stopping = h->timer_start(&inst, 1000000, 1000000, stop_self_cb,
				       NULL);
	ck_assert_ptr_nonnull(self_stopping);
	run_for(50);
	ck_assert_int_eq(fired, 1);
	ck_assert(!holds_resources());
}
END_TEST

START_TEST(release_all_cancels_what_was_forgotten)
{
	int fds[2];

	fired = 0;
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_ptr_nonnull(h->timer_start(&inst, 5000000, 5000000, count_cb, NULL));
	ck_assert_ptr_nonnull(h->timer_start(&inst, 5000000, 0, count_cb, NULL));
	ck_assert_int_eq(h->defer(&inst, count_cb, NULL), 0);
	ck_assert_ptr_nonnull(h->fd_watch(&inst, fds[0], STRATA_FD_IN,
					  count_fd_cb, NULL));
	ck_assert(holds_resources());
	host_release_all(&inst);
	ck_assert(!holds_resources());
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	run_for(30);
	ck_assert_int_eq(fired, 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static uint32_t seen_events;

static void fd_cb(void *arg, int fd, uint32_t events)
{
	char c;

	(void)arg;
	seen_events |= events;
	ck_assert_int_eq(read(fd, &c, 1), 1);
}

START_TEST(fd_watch_reports_strata_events)
{
	struct strata_watch *w;
	int fds[2];

	seen_events = 0;
	ck_assert_int_eq(pipe(fds), 0);
	w = h->fd_watch(&inst, fds[0], STRATA_FD_IN, fd_cb, NULL);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	run_for(20);
	ck_assert_uint_eq(seen_events & STRATA_FD_IN, STRATA_FD_IN);
	h->fd_unwatch(&inst, w);
	ck_assert(!holds_resources());
	ck_assert_ptr_null(h->fd_watch(&inst, -1, STRATA_FD_IN, fd_cb, NULL));
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static int posted;
static pthread_mutex_t posted_lock = PTHREAD_MUTEX_INITIALIZER;

static void post_cb(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&posted_lock);
	posted++;
	pthread_mutex_unlock(&posted_lock);
}

static void *poster(void *arg)
{
	(void)arg;
	for (int i = 0; i < 500; i++)
		ck_assert_int_eq(h->post(&inst, post_cb, NULL), 0);
	return NULL;
}

START_TEST(posts_from_threads_all_arrive)
{
	pthread_t t[4];

	posted = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, poster, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	run_for(100);
	ck_assert_int_eq(posted, 2000);
}
END_TEST

START_TEST(posts_for_a_gone_instance_are_dropped)
{
	posted = 0;
	ck_assert_int_eq(h->post(&inst, post_cb, NULL), 0);
	d.instances = NULL; /* destroyed before the loop ran */
	run_for(30);
	ck_assert_int_eq(posted, 0);
	d.instances = &inst;
}
END_TEST

START_TEST(metrics_are_named_and_bounded)
{
	const struct metric_series *m;
	char name[48];

	ck_assert_int_eq(h->metric_add(&inst, "routes_added", 2), 0);
	ck_assert_int_eq(h->metric_add(&inst, "routes_added", 3), 0);
	ck_assert_int_eq(h->metric_set(&inst, "installed", 9), 0);
	ck_assert_uint_eq(inst.metrics.n, 2);
	m = metric_get(&inst.metrics, "routes_added");
	ck_assert_int_eq(m->value, 5);
	ck_assert_int_eq(m->type, METRIC_COUNTER);
	ck_assert_int_eq(metric_get(&inst.metrics, "installed")->type,
			 METRIC_GAUGE);
	ck_assert_int_eq(h->metric_add(&inst, "Bad-Name", 1), -EINVAL);
	ck_assert_int_eq(h->metric_add(&inst, "", 1), -EINVAL);
	ck_assert_int_eq(h->metric_add(&inst, NULL, 1), -EINVAL);
	/* a counter is not a gauge */
	ck_assert_int_eq(h->metric_set(&inst, "routes_added", 1), -EINVAL);
	for (int i = 0; i < METRIC_SERIES_MAX + 10; i++) {
		snprintf(name, sizeof(name), "m{i=\"%d\"}", i);
		h->metric_add(&inst, name, 1);
	}
	ck_assert_uint_eq(inst.metrics.n, METRIC_SERIES_MAX);
	ck_assert_int_eq(h->metric_add(&inst, "one_more", 1), -ENOSPC);
}
END_TEST

START_TEST(metrics_labels_observe_delete)
{
	const struct metric_series *m;

	ck_assert_int_eq(h->metric_set(&inst,
				       "bgp_session_state{peer=\"192.0.2.1\"}",
				       6), 0);
	ck_assert_int_eq(h->metric_set(&inst, "x{plugin=\"other\"}", 1),
			 -EINVAL);
	ck_assert_int_eq(h->metric_set(&inst, "x{a=\"1\",a=\"2\"}", 1),
			 -EINVAL);
	ck_assert_int_eq(h->metric_set(&inst, "x{a=\"\\q\"}", 1), -EINVAL);
	ck_assert_int_eq(h->metric_observe(&inst,
					   "req_seconds{cmd=\"ADD\"}", 1500000),
			 0);
	ck_assert_int_eq(h->metric_observe(&inst, "req_ms", 1), -EINVAL);
	m = metric_get(&inst.metrics, "req_seconds{cmd=\"ADD\"}");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->count, 1);
	ck_assert_int_eq(m->sum_ns, 1500000);
	ck_assert_int_eq(h->metric_delete(&inst,
					  "bgp_session_state{peer=\"192.0.2.1\"}"),
			 0);
	ck_assert_int_eq(h->metric_delete(&inst,
					  "bgp_session_state{peer=\"192.0.2.1\"}"),
			 -ENOENT);
	ck_assert_ptr_null(metric_get(&inst.metrics,
				      "bgp_session_state{peer=\"192.0.2.1\"}"));
	ck_assert_int_eq(h->metric_delete(&inst, "Bad"), -EINVAL);
}
END_TEST

/* Offline (stratad -t, plan tools): checked the same way, then dropped. */
START_TEST(metrics_offline_checked_and_dropped)
{
	const struct strata_host *o = &offline_host;

	ck_assert_int_eq(o->metric_add(NULL, "a_total{k=\"v\"}", 1), 0);
	ck_assert_int_eq(o->metric_set(NULL, "a{k=v}", 1), -EINVAL);
	ck_assert_int_eq(o->metric_observe(NULL, "d_seconds", 1), 0);
	ck_assert_int_eq(o->metric_observe(NULL, "d", 1), -EINVAL);
	ck_assert_int_eq(o->metric_delete(NULL, "a{plugin=\"x\"}"), -EINVAL);
	ck_assert_int_eq(o->metric_delete(NULL, "gone"), 0);
}
END_TEST

START_TEST(config_facts_win_over_plugins)
{
	ck_assert_int_eq(facts_set(d.facts, "zone", "zone-a", "config"), 0);
	ck_assert_int_eq(h->fact_set(&inst, "zone", "zone-b"), -EEXIST);
	ck_assert_str_eq(h->fact_get(&inst, "zone"), "zone-a");
	ck_assert_int_eq(h->fact_set(&inst, "instance-id", "i-123"), 0);
	ck_assert_str_eq(h->fact_get(&inst, "instance-id"), "i-123");
	ck_assert_ptr_null(h->fact_get(&inst, "subnet"));
}
END_TEST

START_TEST(routes_need_an_owner)
{
	struct strata_route r = { .size = sizeof(r), .scope = STRATA_SCOPE_KERNEL,
				  .n_nexthops = 1 };

	ck_assert_int_eq(route_prefix_parse("10.9.0.0/24", &r.dst), 0);
	ck_assert_int_eq(route_addr_parse("10.0.0.2", &r.nh[0].gw), 0);
	ck_assert_int_eq(h->route_set(&inst, &r), -EPERM);
	ck_assert_int_eq(h->route_synced(&inst), -EPERM);
	ck_assert_int_eq(h->route_owner(&inst), 0);
	ck_assert(!route_may_delete(d.routes));
	ck_assert_int_eq(h->route_set(&inst, &r), 0);
	ck_assert_uint_eq(route_count(d.routes, STRATA_SCOPE_KERNEL), 1);
	ck_assert_int_eq(h->route_synced(&inst), 0);
	ck_assert(route_may_delete(d.routes));
	/* a restart re-states: the barrier closes again, routes stay */
	ck_assert_int_eq(h->route_owner(&inst), 0);
	ck_assert(!route_may_delete(d.routes));
	ck_assert_uint_eq(route_count(d.routes, STRATA_SCOPE_KERNEL), 1);
	ck_assert_int_eq(h->route_unset(&inst, STRATA_SCOPE_KERNEL, &r.dst), 0);
	ck_assert_uint_eq(route_count(d.routes, STRATA_SCOPE_KERNEL), 0);
}
END_TEST

START_TEST(status_writer_builds_json)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	struct strata_status *st;
	const unsigned char *buf;
	size_t len;

	yajl_gen_map_open(g);
	st = host_status_begin(g);
	h->status_str(st, "path", "/run/x");
	h->status_int(st, "routes", 42);
	h->status_str(st, "error", NULL);
	host_status_end(st);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &buf, &len);
	ck_assert_str_eq((const char *)buf,
			 "{\"path\":\"/run/x\",\"routes\":42,\"error\":null}");
	yajl_gen_free(g);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
	ck_assert_ptr_null(h->timer_start(&inst, -1, 0, count_cb, NULL));
	ck_assert_ptr_null(h->timer_start(&inst, 0, 0, NULL, NULL));
	ck_assert_int_eq(h->defer(NULL, count_cb, NULL), -EINVAL);
	ck_assert_int_eq(h->post(&inst, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(h->http_start(&inst, NULL, NULL, NULL));
	ck_assert_int_eq(h->route_resync(&inst), -EPERM);
	ck_assert_str_eq(h->instance_name(&inst), "t");
	ck_assert_uint_eq(h->size, sizeof(struct strata_host));
}
END_TEST

static int store_calls;
static int64_t seen_rev;
static char seen_value[32];

static void put_done(void *arg, int err, int64_t rev, int64_t n)
{
	(void)arg;
	(void)n;
	ck_assert_int_eq(err, 0);
	seen_rev = rev;
	store_calls++;
}

static void got(void *arg, int err, int64_t rev, const struct strata_kv *kvs,
		size_t n)
{
	(void)arg;
	(void)rev;
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(n, 1);
	snprintf(seen_value, sizeof(seen_value), "%s", (const char *)kvs[0].value);
	store_calls++;
}

static void txn_done_cb(void *arg, int err, const struct strata_store_txn_result *res)
{
	(void)arg;
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(res->succeeded, 0);
	store_calls++;
}

static int watch_events_seen;

static void watched(void *arg, int err, int64_t rev,
		    const struct strata_store_event *ev, size_t n)
{
	(void)arg;
	(void)rev;
	(void)ev;
	ck_assert_int_eq(err, 0);
	watch_events_seen += (int)n;
}

static void run_until_calls(int want)
{
	for (int i = 0; i < 500 && store_calls < want; i++)
		loop_run_once(d.loop, 10);
	ck_assert_int_eq(store_calls, want);
}

START_TEST(store_entries_reach_the_store)
{
	struct strata_store_cmp cmp = { .key = "t/a", .target = STRATA_CMP_VERSION,
					.result = STRATA_CMP_EQUAL, .num = 0 };
	struct strata_store_op op = { .type = STRATA_OP_PUT, .key = "t/b",
				      .value = "2", .value_len = 1 };
	struct strata_store_txn txn = { .cmp = &cmp, .n_cmp = 1,
					.success = &op, .n_success = 1 };

	store_calls = 0;
	ck_assert_ptr_nonnull(h->store_watch(&inst, "t/", STRATA_STORE_PREFIX,
					     0, watched, NULL));
	ck_assert_int_eq(h->store_put(&inst, "t/a", "one", 3, 0, put_done, NULL), 0);
	run_until_calls(1);
	ck_assert_int_gt(seen_rev, 0);
	ck_assert_int_eq(h->store_get(&inst, "t/a", 0, got, NULL), 0);
	run_until_calls(2);
	ck_assert_str_eq(seen_value, "one");
	/* t/a exists now, so the compare fails and t/b is not written */
	ck_assert_int_eq(h->store_txn(&inst, &txn, NULL, NULL), -EINVAL);
	ck_assert_int_eq(h->store_txn(&inst, &txn, txn_done_cb, NULL), 0);
	run_until_calls(3);
	ck_assert_int_eq(h->store_delete(&inst, NULL, 0, put_done, NULL), -EINVAL);
	for (int i = 0; i < 200 && watch_events_seen < 1; i++)
		loop_run_once(d.loop, 10);
	ck_assert_int_eq(watch_events_seen, 1);
	ck_assert(holds_resources());
	host_release_all(&inst); /* the watch goes with the instance */
	ck_assert(!holds_resources());
}
END_TEST

START_TEST(store_completions_for_a_gone_instance_are_dropped)
{
	store_calls = 0;
	ck_assert_int_eq(h->store_put(&inst, "t/x", "1", 1, 0, put_done, NULL), 0);
	d.instances = NULL;
	for (int i = 0; i < 50; i++)
		loop_run_once(d.loop, 10);
	ck_assert_int_eq(store_calls, 0);
	d.instances = &inst;
	ck_assert_int_eq(h->store_get(&inst, "t/x", 0, got, NULL), 0);
	run_until_calls(1); /* the write itself happened */
	ck_assert_str_eq(seen_value, "1");
}
END_TEST

/* ---- the node's IPAM ------------------------------------------------- */

/* The IPAM instance joins the daemon, after the caller. */
static void ipam_join(enum inst_state state)
{
	ipam_inst.d = &d;
	ipam_inst.id = 8;
	strcpy(ipam_inst.prefix, "fake[ipam]");
	ipam_inst.plug = &ipam_plug;
	ipam_inst.state = state;
	inst.next = &ipam_inst;
}

struct answer {
	int calls;
	int err;
	char text[64];
	char addr[64];
	char list[256]; /* "handle=a,b;..." then "done" */
};

static void on_answer(void *arg, const struct strata_ipam_result *res)
{
	struct answer *a = arg;

	a->calls++;
	a->err = res->error;
	snprintf(a->text, sizeof(a->text), "%s",
		 res->error_text ? res->error_text : "");
	if (res->n_addrs == 1)
		route_prefix_format(&res->addrs[0], a->addr, sizeof(a->addr));
}

static void on_entry(void *arg, const char *handle,
		     const struct strata_prefix *addrs, uint32_t n)
{
	struct answer *a = arg;
	char buf[64];
	size_t len = strlen(a->list);

	snprintf(a->list + len, sizeof(a->list) - len, "%s=", handle);
	for (uint32_t i = 0; i < n; i++) {
		route_prefix_format(&addrs[i], buf, sizeof(buf));
		len = strlen(a->list);
		snprintf(a->list + len, sizeof(a->list) - len, "%s%s",
			 i ? "," : "", buf);
	}
	len = strlen(a->list);
	snprintf(a->list + len, sizeof(a->list) - len, ";");
}

static void on_list_done(void *arg, int err, const char *text)
{
	struct answer *a = arg;
	size_t len = strlen(a->list);

	a->calls++;
	a->err = err;
	snprintf(a->text, sizeof(a->text), "%s", text ? text : "");
	snprintf(a->list + len, sizeof(a->list) - len, "done");
}

static const struct strata_ipam_request req1 = {
	.size = sizeof(req1),
	.families = 1,
	.handle = "cni/n/c1/eth0",
};

START_TEST(ipam_services_need_a_running_ipam)
{
	struct answer a = { 0 };
	struct strata_prefix p[2];
	struct strata_ipam_request bad = req1;

	ck_assert_uint_ge(h->size, offsetof(struct strata_host, ipam_pools) +
					   sizeof(h->ipam_pools));
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a),
			 -ENODEV);
	ck_assert_int_eq(h->ipam_release(&inst, &req1, on_answer, &a),
			 -ENODEV);
	ck_assert_int_eq(h->ipam_list(&inst, "cni/", on_entry, on_list_done,
				      &a),
			 -ENODEV);
	ck_assert_int_eq(h->ipam_pools(&inst, p, 2), -ENODEV);
	ipam_join(INST_STOPPING);
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a),
			 -ENODEV);
	ck_assert_int_eq(h->ipam_pools(&inst, p, 2), -ENODEV);
	ipam_join(INST_RUNNING);
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, NULL, &a), -EINVAL);
	ck_assert_int_eq(h->ipam_allocate(&inst, NULL, on_answer, &a),
			 -EINVAL);
	bad.handle = "";
	ck_assert_int_eq(h->ipam_release(&inst, &bad, on_answer, &a),
			 -EINVAL);
	bad.size = 4;
	bad.handle = "x";
	ck_assert_int_eq(h->ipam_release(&inst, &bad, on_answer, &a),
			 -EINVAL);
	ck_assert_int_eq(h->ipam_list(&inst, "cni/", NULL, on_list_done, &a),
			 -EINVAL);
	ck_assert_int_eq(h->ipam_pools(&inst, NULL, 2), -EINVAL);
	ck_assert_int_eq(fake.calls, 0);
	/* what the IPAM refuses queues nothing */
	fake.mode = FAKE_REFUSE;
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a),
			 -EBUSY);
	ck_assert_int_eq(h->ipam_list(&inst, "cni/", on_entry, on_list_done,
				      &a),
			 -EBUSY);
	ck_assert_int_eq(fake.calls, 2);
	ck_assert_ptr_null(d.ipam_calls);
	run_for(20);
	ck_assert_int_eq(a.calls, 0);
}
END_TEST

START_TEST(ipam_answers_come_from_the_loop)
{
	struct answer a = { 0 }, r = { 0 };

	ipam_join(INST_RUNNING);
	fake.mode = FAKE_INSIDE; /* the fake answers inside its op */
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a), 0);
	ck_assert_int_eq(h->ipam_release(&inst, &req1, on_answer, &r), 0);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(r.calls, 0);
	run_for(20);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, 0);
	ck_assert_str_eq(a.addr, "10.112.0.5/32");
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.err, -ENOENT);
	ck_assert_str_eq(r.text, "fake failure 2");
	ck_assert_ptr_null(d.ipam_calls);

	/* an answer from the loop later goes straight through */
	memset(&a, 0, sizeof(a));
	fake.mode = FAKE_LATER;
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a), 0);
	run_for(10);
	ck_assert_int_eq(a.calls, 0);
	fake_result(fake.cb, fake.cb_arg, 0);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_str_eq(a.addr, "10.112.0.5/32");
	ck_assert_ptr_null(d.ipam_calls);
	/* an IPAM still being created takes calls (it queues them) */
	ipam_join(INST_CREATED);
	fake.mode = FAKE_INSIDE;
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a), 0);
	run_for(10);
	ck_assert_int_eq(a.calls, 2);
}
END_TEST

START_TEST(ipam_list_keeps_its_order)
{
	struct answer a = { 0 };

	ipam_join(INST_RUNNING);
	fake.mode = FAKE_INSIDE; /* every entry and done inside the op */
	ck_assert_int_eq(h->ipam_list(&inst, "cni/", on_entry, on_list_done,
				      &a),
			 0);
	ck_assert_str_eq(a.list, "");
	run_for(20);
	ck_assert_str_eq(a.list, "cni/a=10.112.0.9/32,fd00::9/128;"
				 "cni/b=10.112.0.9/32,fd00::9/128;done");
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, 0);

	/* one entry inside, the rest from the loop: still in order */
	memset(&a, 0, sizeof(a));
	fake.mode = FAKE_LATER;
	ck_assert_int_eq(h->ipam_list(&inst, "cni/", on_entry, on_list_done,
				      &a),
			 0);
	ck_assert_str_eq(a.list, "");
	fake_entry("cni/b"); /* before the host's defer ran */
	ck_assert_str_eq(a.list, "cni/a=10.112.0.9/32,fd00::9/128;"
				 "cni/b=10.112.0.9/32,fd00::9/128;");
	fake.done(fake.list_arg, -ESTALE, "carving mismatch");
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, -ESTALE);
	ck_assert_str_eq(a.text, "carving mismatch");
	run_for(20);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_ptr_null(d.ipam_calls);
}
END_TEST

START_TEST(ipam_answers_for_a_gone_caller_are_dropped)
{
	struct answer a = { 0 }, l = { 0 };

	ipam_join(INST_RUNNING);
	fake.mode = FAKE_LATER;
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a), 0);
	fake.mode = FAKE_INSIDE;
	ck_assert_int_eq(h->ipam_list(&inst, "cni/", on_entry, on_list_done,
				      &l),
			 0);
	d.instances = &ipam_inst; /* the caller is destroyed */
	fake_result(fake.cb, fake.cb_arg, 0);
	run_for(20);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(l.calls, 0);
	ck_assert_str_eq(l.list, "");
	ck_assert_ptr_null(d.ipam_calls);
	d.instances = &inst;
}
END_TEST

START_TEST(ipam_destroyed_fails_what_it_held)
{
	struct answer a = { 0 }, l = { 0 };

	ipam_join(INST_RUNNING);
	fake.mode = FAKE_LATER;
	ck_assert_int_eq(h->ipam_allocate(&inst, &req1, on_answer, &a), 0);
	ck_assert_int_eq(h->ipam_list(&inst, "cni/", on_entry, on_list_done,
				      &l),
			 0);
	/* the caller's own release leaves the IPAM's calls alone */
	host_release_all(&inst);
	run_for(10);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(l.calls, 0);
	host_release_all(&ipam_inst); /* after the IPAM's destroy */
	ck_assert_int_eq(a.calls, 0); /* from the loop, not inside */
	run_for(20);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, -ENODEV);
	ck_assert_str_eq(a.text, "the IPAM instance stopped");
	/* what it listed before is kept, then the failure */
	ck_assert_str_eq(l.list, "cni/a=10.112.0.9/32,fd00::9/128;done");
	ck_assert_int_eq(l.err, -ENODEV);
	ck_assert_ptr_null(d.ipam_calls);
}
END_TEST

START_TEST(ipam_pools_are_the_cluster_prefixes)
{
	struct strata_prefix p[3];
	char buf[64];

	memset(p, 0, sizeof(p));
	ipam_join(INST_RUNNING);
	ck_assert_int_eq(h->ipam_pools(&inst, p, 3), 2);
	route_prefix_format(&p[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.112.0.0/12");
	route_prefix_format(&p[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "fd00:10::/48");
	ck_assert_uint_eq(p[2].family, 0);
	/* a short array: as many as fit, and the count */
	memset(p, 0, sizeof(p));
	ck_assert_int_eq(h->ipam_pools(&inst, p, 1), 2);
	ck_assert_uint_eq(p[1].family, 0);
	ck_assert_int_eq(h->ipam_pools(&inst, NULL, 0), 2);
	fake.view_rc = -EAGAIN;
	ck_assert_int_eq(h->ipam_pools(&inst, p, 3), -EAGAIN);
	fake.view_rc = 0;
	ipam_join(INST_WAITING); /* not started: the store is not read */
	ck_assert_int_eq(h->ipam_pools(&inst, p, 3), -EAGAIN);
}
END_TEST

static Suite *host_suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, oneshot_timer_fires_once_and_lets_go);
	tcase_add_test(tc, periodic_timer_stopped_in_its_callback);
	tcase_add_test(tc, release_all_cancels_what_was_forgotten);
	tcase_add_test(tc, fd_watch_reports_strata_events);
	tcase_add_test(tc, posts_from_threads_all_arrive);
	tcase_add_test(tc, posts_for_a_gone_instance_are_dropped);
	tcase_add_test(tc, metrics_are_named_and_bounded);
	tcase_add_test(tc, metrics_labels_observe_delete);
	tcase_add_test(tc, metrics_offline_checked_and_dropped);
	tcase_add_test(tc, config_facts_win_over_plugins);
	tcase_add_test(tc, routes_need_an_owner);
	tcase_add_test(tc, status_writer_builds_json);
	tcase_add_test(tc, bad_arguments_are_refused);
	tcase_add_test(tc, store_entries_reach_the_store);
	tcase_add_test(tc, store_completions_for_a_gone_instance_are_dropped);
	tcase_add_test(tc, ipam_services_need_a_running_ipam);
	tcase_add_test(tc, ipam_answers_come_from_the_loop);
	tcase_add_test(tc, ipam_list_keeps_its_order);
	tcase_add_test(tc, ipam_answers_for_a_gone_caller_are_dropped);
	tcase_add_test(tc, ipam_destroyed_fails_what_it_held);
	tcase_add_test(tc, ipam_pools_are_the_cluster_prefixes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(host_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
