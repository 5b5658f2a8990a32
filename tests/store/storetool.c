/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The processes of the store's multi-process tests
 * (tests/integration/store-crash.sh). Each command opens the store at DB
 * like a daemon would and exits 0 when what it checked held, 1 (with one
 * line saying why) when it did not, 2 on a usage or setup error.
 *
 *   writer DB ACKS ITER     txns putting a/ITER/i and b/ITER/i together,
 *                           16 in flight; "ITER i" appended to ACKS once
 *                           acknowledged. Runs until killed.
 *   verify DB ACKS          every acknowledged pair is there; no a/ key
 *                           without its b/ twin; the integrity check passes.
 *   watcher DB              watches everything; every revision holding an
 *                           a/ put holds its b/ twin. Runs until killed.
 *   reader DB               counts a/ and b/ in one read, again and again:
 *                           always equal. Runs until killed.
 *   cas DB ID ROUNDS        races: create race/r for each round, and
 *                           ROUNDS compare-and-swap increments of counter.
 *                           Prints "wins N".
 *   cas-verify DB PROCS ROUNDS   one winner per round, counter exact.
 *   elect DB ID TTL_MS LOG  campaigns; while leader, appends
 *                           "ID TERM BOOTTIME_NS" to LOG every 2 ms.
 *   elect-verify LOG        no two terms' acting intervals overlap.
 *   check DB                the full integrity check.
 *   fill DB N               N keys m/NNNNN (and m/empty, with no value),
 *                           then 3 keys strata/hosts/hI on a 10-minute
 *                           lease, left there.
 *   dump URL PREFIX         every key (under PREFIX, etcd), one per line:
 *                           "KEY leased|- VALUE", in key order.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "election.h"
#include "loop.h"
#include "store.h"

static struct loop *L;
static struct store *S;

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "storetool[%d]: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

static void open_prefixed(const char *db, const char *prefix)
{
	struct store_options o = { .size = sizeof(o), .url = db,
				   .prefix = prefix };
	char err[512];
	int rc;

	if (loop_new(&L))
		die(2, "loop_new");
	rc = store_open(L, &o, &S, err, sizeof(err));
	if (rc)
		die(1, "open: %s", err);
}

static void open_store(const char *db)
{
	open_prefixed(db, NULL);
}

static int64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs the loop until *flag or about ms; false on timeout. */
static bool wait_flag(bool *flag, int ms)
{
	int64_t end = loop_now() + (int64_t)ms * 1000000;

	while (!*flag && loop_now() < end)
		loop_run_once(L, 20);
	return *flag;
}

/* ---- writer ---- */

static int ack_fd;
static long iter;
static long next_i;
static int inflight;

static void writer_more(void);

static void writer_done(void *arg, int err, const struct strata_store_txn_result *r)
{
	long i = (long)(intptr_t)arg;
	char line[64];
	int n;

	if (err)
		die(1, "writer: txn %ld: %s", i, strerror(-err));
	inflight--;
	n = snprintf(line, sizeof(line), "%ld %ld\n", iter, i);
	if (write(ack_fd, line, (size_t)n) != n)
		die(2, "writer: ack: %s", strerror(errno));
	writer_more();
}

static void writer_more(void)
{
	char ka[64], kb[64], v[32];

	while (inflight < 16) {
		struct strata_store_op ops[2] = {
			{ .type = STRATA_OP_PUT, .key = ka, .value = v },
			{ .type = STRATA_OP_PUT, .key = kb, .value = v },
		};
		struct strata_store_txn t = { .success = ops, .n_success = 2 };

		snprintf(ka, sizeof(ka), "a/%ld/%07ld", iter, next_i);
		snprintf(kb, sizeof(kb), "b/%ld/%07ld", iter, next_i);
		snprintf(v, sizeof(v), "%ld", next_i);
		ops[0].value_len = ops[1].value_len = strlen(v);
		if (store_txn(S, &t, writer_done, (void *)(intptr_t)next_i))
			die(1, "writer: store_txn");
		next_i++;
		inflight++;
	}
}

static int cmd_writer(char **av)
{
	open_store(av[0]);
	ack_fd = open(av[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (ack_fd < 0)
		die(2, "%s: %s", av[1], strerror(errno));
	iter = strtol(av[2], NULL, 10);
	writer_more();
	while (loop_run_once(L, 1000) >= 0)
		;
	die(2, "loop failed");
	return 2;
}

/* ---- verify ---- */

struct listing {
	bool done;
	int err;
	int64_t rev;
	char **keys;
	size_t n;
};

static void list_cb(void *arg, int err, int64_t rev, const struct strata_kv *kv,
		    size_t n)
{
	struct listing *l = arg;
	size_t i;

	l->done = true;
	l->err = err;
	l->rev = rev;
	l->keys = calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		l->keys[i] = strdup(kv[i].key);
	l->n = n;
}

static void list(const char *prefix, struct listing *l)
{
	memset(l, 0, sizeof(*l));
	if (store_get(S, prefix, STRATA_STORE_PREFIX, list_cb, l) ||
	    !wait_flag(&l->done, 30000) || l->err)
		die(1, "list %s failed", prefix);
}

static void list_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->keys[i]);
	free(l->keys);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct checked {
	bool done;
	int err;
	char report[512];
};

static void check_cb(void *arg, int err, const char *report)
{
	struct checked *c = arg;

	c->done = true;
	c->err = err;
	snprintf(c->report, sizeof(c->report), "%s", report);
}

static void full_check(void)
{
	struct checked c = { 0 };

	if (store_check(S, check_cb, &c) || !wait_flag(&c.done, 60000))
		die(1, "check did not run");
	if (c.err)
		die(1, "integrity check: %s", c.report);
}

static int cmd_verify(char **av)
{
	struct listing a, b;
	char line[128], key[80], *p;
	FILE *f;
	size_t i, acks = 0;

	open_store(av[0]);
	full_check();
	list("a/", &a);
	list("b/", &b);
	/* no half-done txn: the same suffixes on both sides */
	if (a.n != b.n)
		die(1, "verify: %zu a/ keys but %zu b/ keys", a.n, b.n);
	for (i = 0; i < a.n; i++)
		if (strcmp(a.keys[i] + 1, b.keys[i] + 1))
			die(1, "verify: %s without its twin", a.keys[i]);
	f = fopen(av[1], "r");
	if (!f)
		die(2, "%s: %s", av[1], strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		long it, n;

		/* a kill can cut the last line short: those were not acked */
		if (!strchr(line, '\n') ||
		    sscanf(line, "%ld %ld", &it, &n) != 2)
			continue;
		snprintf(key, sizeof(key), "a/%ld/%07ld", it, n);
		p = key;
		if (!bsearch(&p, a.keys, a.n, sizeof(char *), cmp_str))
			die(1, "verify: acknowledged %s is missing", key);
		acks++;
	}
	fclose(f);
	printf("verify: %zu acknowledged, %zu pairs, revision %" PRId64 "\n",
	       acks, a.n, a.rev);
	list_free(&a);
	list_free(&b);
	store_close(S);
	loop_free(L);
	return 0;
}

/* ---- watcher and reader ---- */

static struct store_watch *W;
static int64_t watch_events;

static void watcher_start(int64_t from);

static void relist_cb(void *arg, int err, int64_t rev,
		      const struct strata_kv *kv, size_t n)
{
	if (err)
		die(1, "watcher: re-list: %s", strerror(-err));
	watcher_start(rev + 1);
}

static void watch_cb(void *arg, int err, int64_t rev,
		     const struct strata_store_event *ev, size_t n)
{
	size_t i, j;

	if (err == -ESTALE) {
		/* history compacted: re-list and go on from there */
		store_watch_cancel(W);
		W = NULL;
		if (store_get(S, "a/", STRATA_STORE_PREFIX | STRATA_STORE_COUNT_ONLY,
			      relist_cb, NULL))
			die(1, "watcher: re-list");
		return;
	}
	if (err)
		die(1, "watcher: %s", strerror(-err));
	for (i = 0; i < n; i++) {
		bool twin = false;

		if (ev[i].type != STRATA_EVENT_PUT ||
		    strncmp(ev[i].kv.key, "a/", 2))
			continue;
		for (j = 0; j < n; j++)
			if (ev[j].kv.mod_rev == ev[i].kv.mod_rev &&
			    !strncmp(ev[j].kv.key, "b/", 2) &&
			    !strcmp(ev[j].kv.key + 1, ev[i].kv.key + 1))
				twin = true;
		if (!twin)
			die(1, "watcher: %s at revision %" PRId64
			       " came without its twin",
			    ev[i].kv.key, ev[i].kv.mod_rev);
	}
	watch_events += (int64_t)n;
}

static void watcher_start(int64_t from)
{
	if (store_watch(S, "", STRATA_STORE_PREFIX, from, watch_cb, NULL, &W))
		die(1, "watcher: store_watch");
}

static int cmd_watcher(char **av)
{
	open_store(av[0]);
	watcher_start(1);
	while (loop_run_once(L, 1000) >= 0)
		;
	die(2, "loop failed");
	return 2;
}

static bool read_done;

static void reader_cb(void *arg, int err, const struct strata_store_txn_result *r)
{
	read_done = true;
	if (err)
		die(1, "reader: %s", strerror(-err));
	if (r->results[0].count != r->results[1].count)
		die(1, "reader: %" PRId64 " a/ keys but %" PRId64
		       " b/ keys at revision %" PRId64,
		    r->results[0].count, r->results[1].count, r->revision);
}

static int cmd_reader(char **av)
{
	struct strata_store_op ops[2] = {
		{ .type = STRATA_OP_RANGE, .key = "a/",
		  .flags = STRATA_STORE_PREFIX | STRATA_STORE_COUNT_ONLY },
		{ .type = STRATA_OP_RANGE, .key = "b/",
		  .flags = STRATA_STORE_PREFIX | STRATA_STORE_COUNT_ONLY },
	};
	struct strata_store_txn t = { .success = ops, .n_success = 2 };

	open_store(av[0]);
	for (;;) {
		read_done = false;
		if (store_txn(S, &t, reader_cb, NULL))
			die(1, "reader: store_txn");
		wait_flag(&read_done, 30000);
		usleep(2000);
	}
	return 2;
}

/* ---- compare-and-swap races ---- */

struct casctx {
	bool done;
	int err;
	int64_t rev;
	int64_t mod;
	long value;
};

static void cas_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct casctx *c = arg;

	c->done = true;
	c->err = err;
	c->rev = rev;
}

static void cas_read(void *arg, int err, int64_t rev,
		     const struct strata_kv *kv, size_t n)
{
	struct casctx *c = arg;

	c->done = true;
	c->err = err;
	c->mod = n ? kv[0].mod_rev : 0;
	c->value = n ? strtol(kv[0].value, NULL, 10) : 0;
}

static int cmd_cas(char **av)
{
	const char *id = av[1];
	long rounds = strtol(av[2], NULL, 10), r, wins = 0, incs = 0;
	struct casctx c;
	char key[64], v[32];

	open_store(av[0]);
	for (r = 0; r < rounds; r++) {
		memset(&c, 0, sizeof(c));
		snprintf(key, sizeof(key), "race/%06ld", r);
		if (store_create(S, key, id, strlen(id), 0, cas_done, &c) ||
		    !wait_flag(&c.done, 30000))
			die(1, "cas: create %s", key);
		if (c.err == 0)
			wins++;
		else if (c.err != -EEXIST)
			die(1, "cas: create %s: %s", key, strerror(-c.err));
		/* one increment of the shared counter, retried until it wins */
		for (;;) {
			struct casctx rd = { 0 };

			if (store_get(S, "counter", 0, cas_read, &rd) ||
			    !wait_flag(&rd.done, 30000) || rd.err)
				die(1, "cas: read counter");
			snprintf(v, sizeof(v), "%ld", rd.value + 1);
			memset(&c, 0, sizeof(c));
			if (store_cas(S, "counter", rd.mod, v, strlen(v), 0,
				      cas_done, &c) ||
			    !wait_flag(&c.done, 30000))
				die(1, "cas: counter");
			if (c.err == 0)
				break;
			if (c.err != -ECANCELED)
				die(1, "cas: counter: %s", strerror(-c.err));
		}
		incs++;
	}
	printf("%s wins %ld increments %ld\n", id, wins, incs);
	store_close(S);
	loop_free(L);
	return 0;
}

static int cmd_cas_verify(char **av)
{
	long procs = strtol(av[1], NULL, 10), rounds = strtol(av[2], NULL, 10);
	struct listing l;
	struct casctx c = { 0 };

	open_store(av[0]);
	list("race/", &l);
	if ((long)l.n != rounds)
		die(1, "cas-verify: %zu races decided, %ld run", l.n, rounds);
	if (store_get(S, "counter", 0, cas_read, &c) ||
	    !wait_flag(&c.done, 30000) || c.err)
		die(1, "cas-verify: read counter");
	if (c.value != procs * rounds)
		die(1, "cas-verify: counter %ld, expected %ld: an update was "
		       "lost or doubled",
		    c.value, procs * rounds);
	printf("cas-verify: %zu races, counter %ld\n", l.n, c.value);
	list_free(&l);
	store_close(S);
	loop_free(L);
	return 0;
}

/* ---- election ---- */

static struct election *E;
static int log_fd;
static const char *my_id;

static void elect_cb(void *arg, bool leader)
{
	char line[128];
	int n;

	n = snprintf(line, sizeof(line), "# %s %s %" PRId64 "\n", my_id,
		     leader ? "leader" : "follower", boot_ns());
	if (write(log_fd, line, (size_t)n) != n)
		die(2, "elect: log");
}

static void act(void *arg)
{
	char line[128];
	int n;

	/* what a writer does before each mutating call */
	if (!election_is_leader(E))
		return;
	n = snprintf(line, sizeof(line), "%s %" PRId64 " %" PRId64 "\n", my_id,
		     election_term(E), boot_ns());
	if (write(log_fd, line, (size_t)n) != n)
		die(2, "elect: log");
}

static int cmd_elect(char **av)
{
	struct election_options o = { .size = sizeof(o), .key = "leader" };

	open_store(av[0]);
	my_id = av[1];
	o.value = av[1];
	o.ttl_ms = strtol(av[2], NULL, 10);
	o.retry_ms = 50;
	log_fd = open(av[3], O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (log_fd < 0)
		die(2, "%s: %s", av[3], strerror(errno));
	if (election_start(S, L, &o, elect_cb, NULL, &E))
		die(1, "election_start");
	if (!loop_timer_add(L, 2000000, 2000000, act, NULL))
		die(2, "timer");
	while (loop_run_once(L, 1000) >= 0)
		;
	die(2, "loop failed");
	return 2;
}

struct term {
	char id[32];
	int64_t term;
	int64_t first;
	int64_t last;
};

static int cmp_term(const void *a, const void *b)
{
	const struct term *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int cmd_elect_verify(char **av)
{
	struct term *t = NULL;
	size_t n = 0, cap = 0, i;
	char line[128], id[32];
	int64_t term, ts, gap_max = 0;
	FILE *f = fopen(av[0], "r");

	if (!f)
		die(2, "%s: %s", av[0], strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strchr(line, '\n') ||
		    sscanf(line, "%31s %" SCNd64 " %" SCNd64, id, &term,
			   &ts) != 3)
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(t[i].id, id) && t[i].term == term)
				break;
		if (i == n) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				t = realloc(t, cap * sizeof(*t));
			}
			snprintf(t[n].id, sizeof(t[n].id), "%s", id);
			t[n].term = term;
			t[n].first = t[n].last = ts;
			n++;
		}
		if (ts < t[i].first)
			t[i].first = ts;
		if (ts > t[i].last)
			t[i].last = ts;
	}
	fclose(f);
	if (n < 2)
		die(1, "elect-verify: only %zu terms acted", n);
	qsort(t, n, sizeof(*t), cmp_term);
	for (i = 1; i < n; i++) {
		if (t[i].first <= t[i - 1].last)
			die(1, "elect-verify: %s (term %" PRId64 ") acted at "
			       "%" PRId64 " while %s (term %" PRId64 ") acted "
			       "until %" PRId64,
			    t[i].id, t[i].term, t[i].first, t[i - 1].id,
			    t[i - 1].term, t[i - 1].last);
		if (t[i].first - t[i - 1].last > gap_max)
			gap_max = t[i].first - t[i - 1].last;
	}
	printf("elect-verify: %zu terms, none overlapping; longest handover "
	       "%" PRId64 " ms\n",
	       n, gap_max / 1000000);
	free(t);
	return 0;
}

static int cmd_check(char **av)
{
	open_store(av[0]);
	full_check();
	printf("check: ok\n");
	store_close(S);
	loop_free(L);
	return 0;
}

/* ---- fill and dump (tests/integration/store-etcd.sh, migrate) ---- */

struct filled {
	bool done;
	int err;
	int64_t lease;
};

static void fill_done(void *arg, int err, const struct strata_store_txn_result *r)
{
	struct filled *f = arg;

	f->done = true;
	f->err = err;
}

static void fill_lease(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct filled *f = arg;

	f->done = true;
	f->err = err;
	f->lease = id;
}

static void fill_txn(struct strata_store_op *ops, size_t n)
{
	struct strata_store_txn t = { .success = ops, .n_success = n };
	struct filled f = { 0 };

	if (store_txn(S, &t, fill_done, &f) || !wait_flag(&f.done, 30000) ||
	    f.err)
		die(1, "fill: txn failed");
}

static int cmd_fill(char **av)
{
	long n = strtol(av[1], NULL, 10), i;
	struct strata_store_op ops[100];
	char keys[100][32], vals[100][64];
	struct filled f = { 0 };
	size_t k = 0;

	open_store(av[0]);
	for (i = 0; i <= n; i++) {
		if (i == n)
			snprintf(keys[k], sizeof(keys[k]), "m/empty");
		else
			snprintf(keys[k], sizeof(keys[k]), "m/%05ld", i);
		snprintf(vals[k], sizeof(vals[k]), "value %ld of %ld", i, n);
		ops[k] = (struct strata_store_op){
			.type = STRATA_OP_PUT, .key = keys[k], .value = vals[k],
			.value_len = i == n ? 0 : strlen(vals[k]),
		};
		if (++k == 100 || i == n) {
			fill_txn(ops, k);
			k = 0;
		}
	}
	if (store_lease_grant(S, 600000, 0, fill_lease, &f) ||
	    !wait_flag(&f.done, 30000) || f.err)
		die(1, "fill: lease grant failed");
	for (i = 0; i < 3; i++) {
		snprintf(keys[i], sizeof(keys[i]), "strata/hosts/h%ld", i);
		ops[i] = (struct strata_store_op){
			.type = STRATA_OP_PUT, .key = keys[i], .value = "up",
			.value_len = 2, .lease = f.lease,
		};
	}
	fill_txn(ops, 3);
	printf("fill: %ld keys, 3 leased\n", n + 1);
	store_close(S);
	loop_free(L);
	return 0;
}

static void dump_cb(void *arg, int err, int64_t rev, const struct strata_kv *kv,
		    size_t n)
{
	bool *done = arg;
	size_t i;

	*done = true;
	if (err)
		die(1, "dump: %s", strerror(-err));
	for (i = 0; i < n; i++)
		printf("%s %s %.*s\n", kv[i].key, kv[i].lease ? "leased" : "-",
		       (int)kv[i].value_len, (const char *)kv[i].value);
}

static int cmd_dump(char **av)
{
	bool done = false;

	open_prefixed(av[0], av[1]);
	if (store_get(S, "", STRATA_STORE_PREFIX, dump_cb, &done) ||
	    !wait_flag(&done, 30000))
		die(1, "dump: no answer");
	store_close(S);
	loop_free(L);
	return 0;
}

static const struct {
	const char *name;
	int args;
	int (*fn)(char **av);
} cmds[] = {
	{ "writer", 3, cmd_writer },
	{ "verify", 2, cmd_verify },
	{ "watcher", 1, cmd_watcher },
	{ "reader", 1, cmd_reader },
	{ "cas", 3, cmd_cas },
	{ "cas-verify", 3, cmd_cas_verify },
	{ "elect", 4, cmd_elect },
	{ "elect-verify", 1, cmd_elect_verify },
	{ "check", 1, cmd_check },
	{ "fill", 2, cmd_fill },
	{ "dump", 2, cmd_dump },
};

int main(int argc, char **argv)
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name) && argc - 2 == cmds[i].args)
			return cmds[i].fn(argv + 2);
	fprintf(stderr, "usage: storetool writer|verify|watcher|reader|cas|"
			"cas-verify|elect|elect-verify|check|fill|dump ARGS\n");
	return 2;
}
