/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strata's etcd store client (core/store_etcd.c through core/store.h),
 * timed: the other half of bench/etcd-client.sh, whose minimal client is
 * bench/etcd-client.py.
 *
 *   etcd-client cas URLS INFLIGHT SECONDS TAG
 *	claims (store_create, a create-if-absent txn on a new key), N in
 *	flight; prints: strata INFLIGHT claims_per_s p50_ms p99_ms
 *   etcd-client watch URLS COUNT TAG
 *	puts through one store, watched through another; prints:
 *	watch COUNT ack_to_event_p50_ms p99_ms send_to_event_p50_ms p99_ms
 *   etcd-client failover URLS PID TAG [TIMEOUT_MS]
 *	claims one at a time; after 1 s kills PID (the leader), waits until
 *	it is gone, then times the next successful claim; TIMEOUT_MS is the
 *	store's timeout_ms (0: its default); prints:
 *	failover seconds failed_attempts
 *
 * URLS: the endpoints, comma-separated, as in "etcd:URL,URL".
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "store.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define MAX_INFLIGHT 256
#define MAX_SAMPLES 2000000
#define VALUE "value-of-some-length"

static struct loop *L;
static struct store *st;
static const char *tag;
static int64_t *lat;
static size_t n_lat;

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v and returns its q-th quantile in ms. */
static double pct(int64_t *v, size_t n, int q)
{
	qsort(v, n, sizeof(*v), cmp64);
	return n ? (double)v[n * (size_t)q / 100] / 1e6 : 0.0;
}

static int64_t timeout_ms;

static int open_store(const char *urls, struct store **out)
{
	struct store_options o = { .size = sizeof(o),
				   .timeout_ms = timeout_ms };
	char url[2048], err[512] = "";

	snprintf(url, sizeof(url), "etcd:%s", urls);
	o.url = url;
	if (store_open(L, &o, out, err, sizeof(err))) {
		fprintf(stderr, "etcd-client: %s\n", err);
		return -1;
	}
	return 0;
}

/* ---- claims, N in flight ---- */

struct slot {
	int64_t started;
	char key[96];
};

static int64_t t_warm, t_end, ops, seq;
static int running;

static void cas_go(struct slot *s);

static void cas_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct slot *s = arg;
	int64_t now = loop_now();

	(void)rev;
	(void)n;
	if (err) {
		fprintf(stderr, "etcd-client: claim %s: %s\n", s->key,
			strerror(-err));
		exit(1);
	}
	if (s->started >= t_warm) {
		ops++;
		if (n_lat < MAX_SAMPLES)
			lat[n_lat++] = now - s->started;
	}
	cas_go(s);
}

static void cas_go(struct slot *s)
{
	if (loop_now() >= t_end) {
		running--;
		return;
	}
	snprintf(s->key, sizeof(s->key), "bench/%s/strata/%" PRId64, tag,
		 seq++);
	s->started = loop_now();
	if (store_create(st, s->key, VALUE, strlen(VALUE), 0, cas_done, s)) {
		fprintf(stderr, "etcd-client: store_create failed\n");
		exit(1);
	}
}

static int run_cas(const char *urls, int inflight, int secs)
{
	struct slot *slots = calloc((size_t)inflight, sizeof(*slots));
	int i, rounds;

	if (!slots || open_store(urls, &st))
		return 1;
	t_warm = loop_now() + 500 * MS;
	t_end = t_warm + secs * SEC;
	for (i = 0; i < inflight; i++) {
		running++;
		cas_go(&slots[i]);
	}
	/* bounded: every request times out within the store's window */
	for (rounds = 0; running > 0 && rounds < 1000000; rounds++)
		loop_run_once(L, 100);
	if (running > 0) {
		fprintf(stderr, "etcd-client: claims did not finish\n");
		return 1;
	}
	printf("strata %d %.0f %.3f %.3f\n", inflight,
	       (double)ops / ((double)(t_end - t_warm) / 1e9),
	       pct(lat, n_lat, 50), pct(lat, n_lat, 99));
	store_close(st);
	free(slots);
	return 0;
}

/* ---- watch delivery ---- */

static struct store *st_w;
static int64_t w_sent, w_ack, w_ev;
static int64_t *lat_send;
static char w_key[96];
static int w_err;

static void put_done(void *arg, int err, int64_t rev, int64_t n)
{
	(void)arg;
	(void)rev;
	(void)n;
	if (err)
		w_err = err;
	w_ack = loop_now();
}

static void on_watch(void *arg, int err, int64_t rev,
		     const struct strata_store_event *ev, size_t n)
{
	size_t i;

	(void)arg;
	(void)rev;
	if (err) {
		w_err = err;
		return;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(ev[i].kv.key, w_key))
			w_ev = loop_now();
}

static int run_watch(const char *urls, int count)
{
	struct store_watch *w;
	char prefix[64];
	int i, rounds;

	lat_send = malloc((size_t)count * sizeof(*lat_send));
	if (!lat_send || open_store(urls, &st) || open_store(urls, &st_w))
		return 1;
	snprintf(prefix, sizeof(prefix), "bench/%s/watch/", tag);
	if (store_watch(st_w, prefix, STRATA_STORE_PREFIX, 0, on_watch, NULL,
			&w)) {
		fprintf(stderr, "etcd-client: store_watch failed\n");
		return 1;
	}
	/* let the watch stream open before the first put */
	for (rounds = 0; rounds < 50; rounds++)
		loop_run_once(L, 10);
	for (i = 0; i < count && !w_err; i++) {
		snprintf(w_key, sizeof(w_key), "%s%d", prefix, i);
		w_ack = w_ev = 0;
		w_sent = loop_now();
		if (store_put(st, w_key, VALUE, strlen(VALUE), 0, put_done,
			      NULL)) {
			fprintf(stderr, "etcd-client: store_put failed\n");
			return 1;
		}
		for (rounds = 0; (!w_ack || !w_ev) && !w_err && rounds < 1000;
		     rounds++)
			loop_run_once(L, 10);
		if (!w_ack || !w_ev) {
			fprintf(stderr, "etcd-client: put %d: no %s (%s)\n", i,
				w_ack ? "event" : "ack",
				w_err ? strerror(-w_err) : "timeout");
			return 1;
		}
		lat[n_lat++] = w_ev - w_ack;
		lat_send[i] = w_ev - w_sent;
	}
	if (w_err) {
		fprintf(stderr, "etcd-client: watch: %s\n", strerror(-w_err));
		return 1;
	}
	printf("watch %d %.3f %.3f", count, pct(lat, n_lat, 50),
	       pct(lat, n_lat, 99));
	printf(" %.3f %.3f\n", pct(lat_send, n_lat, 50),
	       pct(lat_send, n_lat, 99));
	store_watch_cancel(w);
	store_close(st_w);
	store_close(st);
	free(lat_send);
	return 0;
}

/* ---- time from killing the leader to the next claim ---- */

static int f_done, f_err;

static void f_cb(void *arg, int err, int64_t rev, int64_t n)
{
	(void)arg;
	(void)rev;
	(void)n;
	f_err = err;
	f_done = 1;
}

/* One claim, waited for (bounded by the store's own window). */
static int claim_once(void)
{
	char key[96];
	int rounds;

	snprintf(key, sizeof(key), "bench/%s/failover/%" PRId64, tag, seq++);
	f_done = 0;
	if (store_create(st, key, VALUE, strlen(VALUE), 0, f_cb, NULL))
		return -EIO;
	for (rounds = 0; !f_done && rounds < 100000; rounds++)
		loop_run_once(L, 100);
	return f_done ? f_err : -ETIMEDOUT;
}

static bool gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool dead;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	dead = !fgets(buf, sizeof(buf), f);
	fclose(f);
	p = dead ? NULL : strrchr(buf, ')');
	return dead || (p && (p[2] == 'Z' || p[2] == 'X'));
}

static int run_failover(const char *urls, pid_t pid)
{
	struct timespec ms = { .tv_nsec = MS };
	int64_t t_kill, end;
	int i, failed = 0, err;

	if (open_store(urls, &st))
		return 1;
	end = loop_now() + SEC;
	while (loop_now() < end)
		if ((err = claim_once())) {
			fprintf(stderr, "etcd-client: claim before the kill: "
					"%s\n", strerror(-err));
			return 1;
		}
	t_kill = loop_now();
	if (kill(pid, SIGKILL)) {
		perror("etcd-client: kill");
		return 1;
	}
	for (i = 0; i < 2000 && !gone(pid); i++)
		nanosleep(&ms, NULL);
	end = t_kill + 30 * SEC;
	while ((err = claim_once()) && loop_now() < end)
		failed++;
	if (err) {
		fprintf(stderr, "etcd-client: no claim within 30 s\n");
		return 1;
	}
	printf("failover %.3f %d\n", (double)(loop_now() - t_kill) / 1e9,
	       failed);
	store_close(st);
	return 0;
}

int main(int argc, char **argv)
{
	int n, rc;

	if (argc < 5) {
		fprintf(stderr, "usage: etcd-client cas URLS INFLIGHT SECONDS "
				"TAG | watch URLS COUNT TAG | failover URLS "
				"PID TAG\n");
		return 2;
	}
	lat = malloc(MAX_SAMPLES * sizeof(*lat));
	if (!lat || loop_new(&L))
		return 1;
	n = atoi(argv[3]);
	if (!strcmp(argv[1], "cas") && argc == 6 && n >= 1 &&
	    n <= MAX_INFLIGHT && atoi(argv[4]) >= 1) {
		tag = argv[5];
		rc = run_cas(argv[2], n, atoi(argv[4]));
	} else if (!strcmp(argv[1], "watch") && n >= 1 && n <= MAX_SAMPLES) {
		tag = argv[4];
		rc = run_watch(argv[2], n);
	} else if (!strcmp(argv[1], "failover") && n > 1 && argc <= 6) {
		tag = argv[4];
		timeout_ms = argc == 6 ? atoi(argv[5]) : 0;
		rc = run_failover(argv[2], (pid_t)n);
	} else {
		fprintf(stderr, "etcd-client: bad arguments\n");
		rc = 2;
	}
	loop_free(L);
	free(lat);
	return rc;
}
