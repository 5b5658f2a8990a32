/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Acknowledged compare-and-swap writes per second, with N in flight.
 * Slot j owns key bench/j and keeps its mod revision; each CAS puts the key
 * only if the mod revision is still the one it saw (no contention: every
 * CAS should win, so this measures the write path, not retries).
 *
 *   store-cas sqlite PATH INFLIGHT SECONDS
 *   store-cas etcd URL INFLIGHT SECONDS   (the v3 JSON gateway, curl multi)
 *
 * Prints one line: backend inflight ops_per_s p50_ms p99_ms.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "loop.h"
#include "store.h"

#define MAX_INFLIGHT 1024
#define MAX_SAMPLES 2000000

static int64_t *lat;
static size_t n_lat;
static int64_t t_start, t_end, t_warm;
static int64_t ops;

static void record(int64_t started)
{
	int64_t now = loop_now();

	if (started < t_warm)
		return;
	ops++;
	if (n_lat < MAX_SAMPLES)
		lat[n_lat++] = now - started;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *backend, int inflight)
{
	double secs = (double)(t_end - t_warm) / 1e9;

	qsort(lat, n_lat, sizeof(*lat), cmp64);
	printf("%s %d %.0f %.3f %.3f\n", backend, inflight, (double)ops / secs,
	       n_lat ? (double)lat[n_lat / 2] / 1e6 : 0.0,
	       n_lat ? (double)lat[n_lat * 99 / 100] / 1e6 : 0.0);
}

/* ---- the embedded store ---- */

struct sq_slot {
	struct store *st;
	char key[32];
	int64_t mod;
	int64_t started;
	bool stop;
};

static struct loop *L;
static int running;

static void sq_go(struct sq_slot *s);

static void sq_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct sq_slot *s = arg;

	if (err) {
		fprintf(stderr, "store-cas: cas %s: %s\n", s->key,
			strerror(-err));
		exit(1);
	}
	s->mod = rev;
	record(s->started);
	sq_go(s);
}

static void sq_go(struct sq_slot *s)
{
	if (loop_now() >= t_end) {
		running--;
		return;
	}
	s->started = loop_now();
	if (store_cas(s->st, s->key, s->mod, "value-of-some-length", 20, 0,
		      sq_done, s)) {
		fprintf(stderr, "store-cas: store_cas failed\n");
		exit(1);
	}
}

static int run_sqlite(const char *path, int inflight, int secs)
{
	struct store_options o = { .size = sizeof(o), .url = path };
	struct sq_slot *slots = calloc((size_t)inflight, sizeof(*slots));
	struct store *st;
	char err[512];
	int i;

	if (loop_new(&L) || store_open(L, &o, &st, err, sizeof(err))) {
		fprintf(stderr, "store-cas: %s\n", err);
		return 1;
	}
	t_start = loop_now();
	t_warm = t_start + 500000000LL;
	t_end = t_warm + (int64_t)secs * 1000000000LL;
	for (i = 0; i < inflight; i++) {
		slots[i].st = st;
		snprintf(slots[i].key, sizeof(slots[i].key), "bench/%d/%d",
			 inflight, i);
		running++;
		sq_go(&slots[i]);
	}
	while (running > 0)
		loop_run_once(L, 100);
	report("strata-sqlite", inflight);
	store_close(st);
	loop_free(L);
	free(slots);
	return 0;
}

/* ---- etcd over its JSON gateway ---- */

struct et_slot {
	CURL *h;
	char key64[64];
	int64_t mod;
	int64_t started;
	char body[512];
	char resp[4096];
	size_t resp_len;
};

static size_t et_write(char *p, size_t size, size_t n, void *arg)
{
	struct et_slot *s = arg;
	size_t len = size * n;

	if (s->resp_len + len >= sizeof(s->resp))
		len = sizeof(s->resp) - 1 - s->resp_len;
	memcpy(s->resp + s->resp_len, p, len);
	s->resp_len += len;
	s->resp[s->resp_len] = '\0';
	return size * n;
}

static void b64(const char *in, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in,
			(int)strlen(in));
}

static void et_go(CURLM *m, struct et_slot *s, const char *value64)
{
	snprintf(s->body, sizeof(s->body),
		 "{\"compare\":[{\"key\":\"%s\",\"target\":\"MOD\","
		 "\"result\":\"EQUAL\",\"mod_revision\":\"%" PRId64 "\"}],"
		 "\"success\":[{\"request_put\":{\"key\":\"%s\","
		 "\"value\":\"%s\"}}]}",
		 s->key64, s->mod, s->key64, value64);
	s->resp_len = 0;
	s->started = loop_now();
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
	curl_multi_add_handle(m, s->h);
}

static int et_done(struct et_slot *s)
{
	const char *rev_path[] = { "header", "revision", NULL };
	const char *ok_path[] = { "succeeded", NULL };
	char errbuf[128];
	yajl_val v, r;

	v = yajl_tree_parse(s->resp, errbuf, sizeof(errbuf));
	if (!v)
		return -EBADMSG;
	r = yajl_tree_get(v, rev_path, yajl_t_string);
	if (!yajl_tree_get(v, ok_path, yajl_t_true) || !r) {
		fprintf(stderr, "store-cas: etcd: %s\n", s->resp);
		yajl_tree_free(v);
		return -ECANCELED;
	}
	s->mod = strtoll(r->u.string, NULL, 10);
	yajl_tree_free(v);
	return 0;
}

static int run_etcd(const char *url, int inflight, int secs)
{
	struct et_slot *slots = calloc((size_t)inflight, sizeof(*slots));
	struct curl_slist *hdr = NULL;
	char value64[64], key[32], txn_url[512];
	CURLM *m;
	CURLMsg *msg;
	int i, still, active = 0, left;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)inflight + 4);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	snprintf(txn_url, sizeof(txn_url), "%s/v3/kv/txn", url);
	b64("value-of-some-length", value64);
	t_start = loop_now();
	t_warm = t_start + 500000000LL;
	t_end = t_warm + (int64_t)secs * 1000000000LL;
	for (i = 0; i < inflight; i++) {
		struct et_slot *s = &slots[i];

		s->h = curl_easy_init();
		curl_easy_setopt(s->h, CURLOPT_URL, txn_url);
		curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, et_write);
		curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, 10000L);
		snprintf(key, sizeof(key), "bench/%d/%d", inflight, i);
		b64(key, s->key64);
		et_go(m, s, value64);
		active++;
	}
	while (active > 0) {
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct et_slot *s;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&s);
			curl_multi_remove_handle(m, s->h);
			if (msg->data.result != CURLE_OK) {
				fprintf(stderr, "store-cas: etcd: %s\n",
					curl_easy_strerror(msg->data.result));
				return 1;
			}
			if (et_done(s))
				return 1;
			record(s->started);
			if (loop_now() < t_end)
				et_go(m, s, value64);
			else
				active--;
		}
		if (active > 0)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	report("etcd", inflight);
	for (i = 0; i < inflight; i++)
		curl_easy_cleanup(slots[i].h);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	curl_global_cleanup();
	free(slots);
	return 0;
}

int main(int argc, char **argv)
{
	int inflight, secs;

	if (argc != 5) {
		fprintf(stderr, "usage: store-cas sqlite PATH|etcd URL "
				"INFLIGHT SECONDS\n");
		return 2;
	}
	inflight = atoi(argv[3]);
	secs = atoi(argv[4]);
	if (inflight < 1 || inflight > MAX_INFLIGHT || secs < 1) {
		fprintf(stderr, "store-cas: bad INFLIGHT or SECONDS\n");
		return 2;
	}
	lat = malloc(MAX_SAMPLES * sizeof(*lat));
	if (!lat)
		return 1;
	if (!strcmp(argv[1], "sqlite"))
		return run_sqlite(argv[2], inflight, secs);
	if (!strcmp(argv[1], "etcd"))
		return run_etcd(argv[2], inflight, secs);
	fprintf(stderr, "store-cas: unknown backend %s\n", argv[1]);
	return 2;
}
