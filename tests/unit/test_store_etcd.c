/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store against a real etcd: the conformance suite, then what only a
 * cluster has (failover, a watch that outlives its member across a
 * compaction, an election holder killed). tests/integration/store-etcd.sh
 * starts etcd and sets:
 *   STRATA_ETCD_ENDPOINTS  "http://A:PORT[,http://B:PORT...]" (else: skip)
 *   STRATA_ETCD_PIDS       the members' pids, in the endpoints' order
 *   STRATA_ETCD_SUITE      "conformance" (default) or "faults" (kills
 *                          members: run it last)
 *   STRATA_ETCD_CA, STRATA_ETCD_CERT, STRATA_ETCD_KEY  https:// with a
 *                          client certificate
 *   STRATA_ETCD_USER, STRATA_ETCD_PASSWORD  when etcd has auth on (run
 *                          with --auth-token-ttl 1: tokens expire fast)
 * Each test works under its own key prefix, so it starts from an empty
 * store on a shared etcd.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "election.h"
#include "loop.h"
#include "store.h"
#include "store_backend.h"
#include "store_conformance.h"

static const char *endpoints;
static char prefix[64];
static char url[1024];
static pid_t pids[8];
static size_t n_pids;
static char eps[8][128];
static size_t n_eps;
static const char *user, *password;
static const char *tls_ca, *tls_cert, *tls_key;

static void et_setup(void)
{
	static unsigned seq;

	snprintf(prefix, sizeof(prefix), "test/%d-%u/", (int)getpid(), seq++);
}

static void et_teardown(void)
{
}

static int open_url(struct loop *loop, const char *u, struct store **out)
{
	struct store_options o = { .size = sizeof(o), .url = u,
				   .prefix = prefix, .username = user,
				   .password = password, .ca_file = tls_ca,
				   .cert_file = tls_cert, .key_file = tls_key };
	char err[256];
	int rc;

	rc = store_open(loop, &o, out, err, sizeof(err));
	if (rc)
		fprintf(stderr, "store_open: %s\n", err);
	return rc;
}

static int et_open(struct loop *loop, struct store **out)
{
	return open_url(loop, url, out);
}

/* etcd keeps whole seconds, at least one with the test's flags */
static const struct store_fixture etcd_fixture = {
	.name = "store-etcd",
	.setup = et_setup,
	.teardown = et_teardown,
	.open = et_open,
	.min_ttl_ms = 1000,
};

static struct loop *L;

static void setup(void)
{
	et_setup();
	ck_assert_int_eq(loop_new(&L), 0);
}

static void teardown(void)
{
	loop_free(L);
	L = NULL;
}

static int64_t now_ms(void)
{
	return loop_now() / 1000000;
}

/* ---- what the backend adds ---- */

START_TEST(test_open_errors)
{
	struct store_options o = { .size = sizeof(o) };
	struct store *st;
	char err[256];

	o.url = "etcd:";
	ck_assert_int_eq(store_open(L, &o, &st, err, sizeof(err)), -EINVAL);
	o.url = "etcd:ftp://x";
	ck_assert_int_eq(store_open(L, &o, &st, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not an http://"));
	/* nobody listens there */
	o.url = "etcd:http://127.0.0.1:1";
	ck_assert_int_lt(store_open(L, &o, &st, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:1"));
}
END_TEST

/* Two prefixes on one etcd are two stores. */
START_TEST(test_prefixes_apart)
{
	struct store *a, *b;
	struct store_sync g;
	char pa[48];

	ck_assert_int_eq(et_open(L, &a), 0);
	snprintf(pa, sizeof(pa), "%.40s", prefix);
	snprintf(prefix, sizeof(prefix), "%.40sother/", pa);
	ck_assert_int_eq(et_open(L, &b), 0);
	ck_assert_str_eq(store_backend(a), "etcd");
	ck_assert_int_eq(sync_put(L, a, "k", "a", 0, NULL), 0);
	ck_assert_int_eq(sync_put(L, b, "k", "b", 0, NULL), 0);
	ck_assert_int_eq(sync_get(L, b, "", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 1);
	ck_assert_str_eq(g.kvs[0].value, "b");
	sync_reset(&g);
	/* a's "every key" includes b's, under its own prefix: keys stay
	 * keys as a sees them */
	ck_assert_int_eq(sync_get(L, a, "k", 0, &g), 0);
	ck_assert_str_eq(g.kvs[0].value, "a");
	sync_reset(&g);
	ck_assert_int_eq(sync_get(L, a, "", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 2);
	ck_assert_str_eq(g.kvs[0].key, "k");
	ck_assert_str_eq(g.kvs[1].key, "other/k");
	sync_reset(&g);
	store_close(a);
	store_close(b);
}
END_TEST

/* A lease id beyond 2^53 survives the JSON round trip exactly (a double
 * would round it). */
static void grant_cb(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct store_sync *s = arg;

	s->err = err;
	s->id = id;
	s->ttl_ms = ttl_ms;
	s->done = true;
}

START_TEST(test_big_lease_id)
{
	struct store *st;
	struct store_sync g, s = { 0 };
	int64_t id = ((int64_t)1 << 60) + 1 + 2 * (int64_t)getpid();

	ck_assert_int_eq(et_open(L, &st), 0);
	/* 1.5 s: etcd keeps whole seconds, rounded up */
	ck_assert_int_eq(store_lease_grant(st, 1500, id, grant_cb, &s), 0);
	ck_assert(!s.done);
	sync_wait(L, &s.done, 10000);
	ck_assert_int_eq(s.err, 0);
	ck_assert_int_eq(s.id, id);
	ck_assert_int_eq(s.ttl_ms, 2000);
	ck_assert_int_eq(sync_put(L, st, "l", "v", id, NULL), 0);
	ck_assert_int_eq(sync_get(L, st, "l", 0, &g), 0);
	ck_assert_int_eq(g.kvs[0].lease, id);
	sync_reset(&g);
	ck_assert_int_eq(sync_keepalive(L, st, id), 0);
	ck_assert_int_eq(sync_revoke(L, st, id), 0);
	ck_assert_int_eq(sync_keepalive(L, st, id), -ENOENT);
	store_close(st);
}
END_TEST

/* The holder of an election is killed: another process takes over after
 * its lease, and never while it lived. */
struct cand {
	bool leader;
	int became;
};

static void elect_cb(void *arg, bool leader)
{
	struct cand *c = arg;

	c->leader = leader;
	if (leader)
		c->became++;
}

START_TEST(test_election_holder_killed)
{
	struct election_options o = { .size = sizeof(o), .key = "lead",
				      .ttl_ms = 2000, .retry_ms = 50 };
	struct cand me = { 0 };
	struct election *e;
	struct store *st;
	struct store_sync g;
	int fds[2], status;
	pid_t child;
	char c = 0;
	int64_t killed, end;

	ck_assert_int_eq(pipe(fds), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct loop *cl;
		struct cand cc = { 0 };
		struct election *ce;
		struct store *cs;
		int i;

		close(fds[0]);
		if (loop_new(&cl) || et_open(cl, &cs))
			_exit(2);
		o.value = "child";
		if (election_start(cs, cl, &o, elect_cb, &cc, &ce))
			_exit(2);
		for (i = 0; i < 500 && !cc.leader; i++)
			loop_run_once(cl, 10);
		if (!cc.leader)
			_exit(3);
		if (write(fds[1], "L", 1) != 1)
			_exit(4);
		for (i = 0; i < 3000; i++) /* bounded: 30 s at most */
			loop_run_once(cl, 10);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	ck_assert_int_eq(c, 'L');

	ck_assert_int_eq(et_open(L, &st), 0);
	o.value = "parent";
	ck_assert_int_eq(election_start(st, L, &o, elect_cb, &me, &e), 0);
	/* the child holds it while it lives */
	spin(L, 2500);
	ck_assert(!me.leader);
	ck_assert_int_eq(sync_get(L, st, "lead", 0, &g), 0);
	ck_assert_str_eq(g.kvs[0].value, "child");
	sync_reset(&g);

	ck_assert_int_eq(kill(child, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	killed = now_ms();
	end = killed + 10000;
	while (!me.leader && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert(me.leader);
	/* not before the child's lease could have run out */
	ck_assert_int_ge(now_ms() - killed, 500);
	ck_assert_int_eq(sync_get(L, st, "lead", 0, &g), 0);
	ck_assert_str_eq(g.kvs[0].value, "parent");
	sync_reset(&g);
	election_stop(e);
	spin(L, 50);
	store_close(st);
}
END_TEST

/* A wrong password: refused at open, and the message does not say it. */
START_TEST(test_auth_refused)
{
	struct store_options o = { .size = sizeof(o), .url = url,
				   .username = user,
				   .password = "not-the-Pw-42" };
	struct store *st;
	char err[512];

	ck_assert_int_eq(store_open(L, &o, &st, err, sizeof(err)), -EACCES);
	ck_assert_ptr_nonnull(strstr(err, "authenticating as"));
	ck_assert_ptr_null(strstr(err, "not-the-Pw-42"));
	/* nor without any credentials */
	o.username = NULL;
	ck_assert_int_eq(store_open(L, &o, &st, err, sizeof(err)), -EHOSTUNREACH);
}
END_TEST

/* https: the server's certificate is checked against the CA, and the
 * server wants ours. */
START_TEST(test_tls_refusals)
{
	struct store_options o = { .size = sizeof(o), .url = url,
				   .ca_file = tls_ca };
	struct store *st;
	char err[512];

	/* no client certificate */
	ck_assert_int_eq(store_open(L, &o, &st, err, sizeof(err)),
			 -EHOSTUNREACH);
	/* a server we cannot verify: curl's default CAs do not know it */
	o.ca_file = NULL;
	o.cert_file = tls_cert;
	o.key_file = tls_key;
	ck_assert_int_eq(store_open(L, &o, &st, err, sizeof(err)),
			 -EHOSTUNREACH);
	ck_assert_ptr_nonnull(strstr(err, "https://"));
	/* all three: fine */
	o.ca_file = tls_ca;
	ck_assert_int_eq(store_open(L, &o, &st, err, sizeof(err)), 0);
	store_close(st);
}
END_TEST

/* The token expires (etcd's --auth-token-ttl 1): requests and watches get
 * a new one and go on. */
START_TEST(test_auth_token_expires)
{
	struct store *st;
	struct store_sync g;

	ck_assert_int_eq(et_open(L, &st), 0);
	ck_assert_int_eq(sync_put(L, st, "a", "1", 0, NULL), 0);
	spin(L, 2500);
	ck_assert_int_eq(sync_put(L, st, "a", "2", 0, NULL), 0);
	spin(L, 2500);
	ck_assert_int_eq(sync_get(L, st, "a", 0, &g), 0);
	ck_assert_str_eq(g.kvs[0].value, "2");
	sync_reset(&g);
	store_close(st);
}
END_TEST

static Suite *etcd_suite(void)
{
	Suite *s = suite_create("store-etcd-only");
	TCase *tc = tcase_create("etcd");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_prefixes_apart);
	tcase_add_test(tc, test_big_lease_id);
	tcase_add_test(tc, test_election_holder_killed);
	if (tls_ca)
		tcase_add_test(tc, test_tls_refusals);
	if (user) {
		tcase_add_test(tc, test_auth_refused);
		tcase_add_test(tc, test_auth_token_expires);
	}
	suite_add_tcase(s, tc);
	return s;
}

/* ---- faults: members die (3 members) ---- */

struct wlog {
	int calls;
	int err;
	int64_t rev;
	size_t n;
	char last[32];
};

static void watch_cb(void *arg, int err, int64_t rev,
		     const struct strata_store_event *ev, size_t n)
{
	struct wlog *l = arg;

	l->calls++;
	l->err = err;
	l->rev = rev;
	l->n += n;
	if (n)
		snprintf(l->last, sizeof(l->last), "%s",
			 (const char *)ev[n - 1].kv.value);
}

/* A write whose member stopped has an unknown outcome (-ETIMEDOUT): as a
 * client must, write again; bounded. */
static int put_retry(struct store *st, const char *key, const char *value,
		     int64_t *rev)
{
	int i, rc = -ETIMEDOUT;

	for (i = 0; i < 5 && rc == -ETIMEDOUT; i++)
		rc = sync_put(L, st, key, value, 0, rev);
	return rc;
}

static void compact_cb(void *arg, int err, int64_t rev, int64_t n)
{
	struct store_sync *s = arg;

	(void)rev;
	(void)n;
	s->err = err;
	s->done = true;
}

/*
 * A watcher's member stops (SIGSTOP: its stream stalls), the others go on
 * writing and compact; then the member dies. The watcher resumes on another
 * member from its next revision, finds it compacted and says -ESTALE; the
 * re-list fails over to a live member; a new watch from the list's
 * revision sees what follows. A handle whose first endpoint died writes
 * through the others.
 */
START_TEST(test_failover_compaction)
{
	struct store *all, *w_st, *rest;
	struct store_watch *w;
	struct wlog l = { 0 };
	struct store_sync g, s = { 0 };
	char u[512];
	int64_t rev, end;
	size_t victim, seen;
	int tries;

	ck_assert_int_ge(n_eps, 3);
	ck_assert_int_ge(n_pids, 3);
	ck_assert_int_eq(et_open(L, &all), 0);
	snprintf(u, sizeof(u), "etcd:%s,%s", eps[0], eps[1]);
	ck_assert_int_eq(open_url(L, u, &w_st), 0);
	snprintf(u, sizeof(u), "etcd:%s,%s", eps[1], eps[2]);
	ck_assert_int_eq(open_url(L, u, &rest), 0);

	ck_assert_int_eq(store_watch(w_st, "f/", STRATA_STORE_PREFIX, 0,
				     watch_cb, &l, &w),
			 0);
	ck_assert_int_eq(sync_put(L, rest, "f/a", "1", 0, NULL), 0);
	end = now_ms() + 5000;
	while (l.n < 1 && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert_int_eq(l.n, 1);

	/* the member the watch streams from: the handle's endpoint, unless
	 * a request timed out under load and the stream stayed on the
	 * other; a write the watch still sees with the member stopped says
	 * so. If the member led, the others elect another leader meanwhile. */
	victim = strcmp(store_etcd_endpoint(w_st), eps[0]) ? 1 : 0;
	seen = 1;
	for (tries = 0; tries < 2; tries++) {
		ck_assert_int_eq(kill(pids[victim], SIGSTOP), 0);
		ck_assert_int_eq(put_retry(rest, "f/a", "2", NULL), 0);
		spin(L, 1000);
		if (l.n == seen)
			break;
		ck_assert_int_eq(kill(pids[victim], SIGCONT), 0);
		seen = l.n;
		victim = 1 - victim;
	}
	ck_assert_uint_eq(l.n, seen); /* stalled with its member */
	ck_assert_int_eq(put_retry(rest, "f/a", "3", &rev), 0);
	ck_assert_int_eq(store_compact(rest, rev, compact_cb, &s), 0);
	sync_wait(L, &s.done, 10000);
	ck_assert_int_eq(s.err, 0);
	spin(L, 100);
	ck_assert_uint_eq(l.n, seen);
	ck_assert_int_eq(kill(pids[victim], SIGKILL), 0);
	kill(pids[victim], SIGCONT);

	end = now_ms() + 10000;
	while (!l.err && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert_int_eq(l.err, -ESTALE);
	ck_assert_int_eq(l.rev, rev);
	store_watch_cancel(w);

	/* re-list: the watch's endpoint is dead, the other answers */
	ck_assert_int_eq(sync_get(L, w_st, "f/", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 1);
	ck_assert_str_eq(g.kvs[0].value, "3");
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_watch(w_st, "f/", STRATA_STORE_PREFIX, g.rev + 1,
				     watch_cb, &l, &w),
			 0);
	sync_reset(&g);
	/* the handle that was using the dead member fails over */
	ck_assert_int_eq(put_retry(all, "f/a", "4", NULL), 0);
	end = now_ms() + 5000;
	while (l.n < 1 && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert_int_eq(l.err, 0);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.last, "4");
	store_watch_cancel(w);
	store_close(all);
	store_close(w_st);
	store_close(rest);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("store-etcd-faults");
	TCase *tc = tcase_create("faults");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_failover_compaction);
	suite_add_tcase(s, tc);
	return s;
}

static void parse_env(void)
{
	const char *p = getenv("STRATA_ETCD_PIDS"), *q;
	char *end;

	while (p && *p && n_pids < 8) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		pids[n_pids++] = (pid_t)v;
		p = end;
	}
	for (p = endpoints; *p && n_eps < 8; p = *q ? q + 1 : q) {
		q = strchr(p, ',');
		if (!q)
			q = p + strlen(p);
		snprintf(eps[n_eps++], sizeof(eps[0]), "%.*s", (int)(q - p), p);
	}
	snprintf(url, sizeof(url), "etcd:%s", endpoints);
	user = getenv("STRATA_ETCD_USER");
	password = getenv("STRATA_ETCD_PASSWORD");
	if (user && !*user)
		user = NULL;
	tls_ca = getenv("STRATA_ETCD_CA");
	tls_cert = getenv("STRATA_ETCD_CERT");
	tls_key = getenv("STRATA_ETCD_KEY");
	if (tls_ca && !*tls_ca)
		tls_ca = tls_cert = tls_key = NULL;
}

int main(void)
{
	const char *suite = getenv("STRATA_ETCD_SUITE");
	SRunner *sr;
	int failed;

	endpoints = getenv("STRATA_ETCD_ENDPOINTS");
	if (!endpoints || !*endpoints) {
		fprintf(stderr, "STRATA_ETCD_ENDPOINTS unset: skipped "
				"(tests/integration/store-etcd.sh runs this)\n");
		return 77;
	}
	parse_env();
	if (suite && !strcmp(suite, "faults")) {
		sr = srunner_create(faults_suite());
	} else {
		sr = srunner_create(store_conformance_suite(&etcd_fixture));
		srunner_add_suite(sr, etcd_suite());
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
