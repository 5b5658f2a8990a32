/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod address allocate + release pairs per second, three ways:
 *
 *   ipam-alloc memory SECONDS
 *	The topology allocator's in-memory work per pod, the path topology.c
 *	runs minus the store write: look the handle up, take the first free
 *	address of this host's blocks and mark it; then look the handle up,
 *	release it and prune (cooldown 0, so addresses come back). Four /26
 *	blocks hold a steady 128 pods; each pair allocates a new pod and
 *	releases one picked at random among the live ones, so the free
 *	addresses scatter and the search is not the first slot.
 *	STRATA_BENCH_SEED picks the releases (default 1).
 *
 *   ipam-alloc durable DBPATH INFLIGHT SECONDS
 *	The real plugin (its sources linked in) on the mock host with the
 *	embedded store on DBPATH (synchronous=FULL, as stratad runs it),
 *	cooldown 0, 128 resident pods, INFLIGHT slots each allocating a
 *	fresh handle and, once that is durable, releasing it.
 *
 *   ipam-alloc host-local PLUGIN DATADIR WORKERS SECONDS
 *	The anchor: the CNI reference host-local IPAM executable run per ADD
 *	and DEL as a runtime runs it (CNI_* environment, the network config
 *	on stdin, a result on stdout), a fresh container ID per pod, a /16
 *	range, its files under DATADIR; WORKERS pods at a time.
 *
 * Each prints one line: mode inflight pairs_per_s pairs store_writes
 * writes_per_pair ("-" where it does not apply). Exit status 1 on any
 * failed request.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <strata/plugin.h>

#include "blocks.h"
#include "carve.h"
#include "loop.h"
#include "mock_host.h"
#include "records.h"
#include "store.h"
#include "topology.h"

#define NS_PER_S 1000000000LL
#define WARM_NS (NS_PER_S / 2)
#define RESIDENT 128 /* pods that stay: half of four /26 blocks */
#define MEM_BLOCKS 4
#define MAX_INFLIGHT 1024
#define MAX_WORKERS 64
#define HANDLE_LEN 72 /* 64 hex digits, "/eth0" */

extern const struct strata_plugin STRATA_PLUGIN_ENTRY;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int positive(const char *s, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > max) {
		fprintf(stderr, "ipam-alloc: %s must be 1..%ld\n", what, max);
		return -1;
	}
	return (int)v;
}

/* ---- memory --------------------------------------------------------------- */

struct mem {
	struct blk *blocks[MEM_BLOCKS];
	const char *path;
	char live[RESIDENT + 1][HANDLE_LEN];
	uint64_t rng;
};

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A container ID as runtimes make them, 64 hex digits; here a function of
 * n so that each pod's differs. */
static void cid_fmt(char *out, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v;
	int i, k;

	for (i = 0; i < 4; i++) {
		v = splitmix64(n * 4 + (uint64_t)i);
		for (k = 0; k < 16; k++, v >>= 4)
			*out++ = hex[v & 15];
	}
	*out = '\0';
}

/* A handle as the CNI plugin makes one: "<container>/<if>". */
static void handle_fmt(char *out, uint64_t n)
{
	cid_fmt(out, n);
	memcpy(out + 64, "/eth0", sizeof("/eth0"));
}

/* As topology.c's find_handle: every block of the family. */
static struct blk_used *mem_find(struct mem *m, const char *handle,
				 struct blk **in)
{
	uint64_t hash = blk_handle_hash(handle);
	struct blk_used *u;
	int i;

	for (i = 0; i < MEM_BLOCKS; i++) {
		u = blk_find_hashed(m->blocks[i], handle, hash);
		if (u) {
			*in = m->blocks[i];
			return u;
		}
	}
	return NULL;
}

/* What the store write's completion would do: all of it is durable. */
static void mem_settle(struct blk *b)
{
	b->seq_sent = b->seq_done = b->seq_marked;
}

/* serve_fam() for an allocate of a new handle, minus the store write. */
static int mem_allocate(struct mem *m, const char *handle,
			struct strata_prefix *addr)
{
	int64_t now = topo_wall_ms();
	struct blk *b;
	uint64_t off;
	int i, rc;

	if (mem_find(m, handle, &b))
		return -EEXIST;
	for (i = 0; i < MEM_BLOCKS; i++) {
		b = m->blocks[i];
		if (strcmp(b->path, m->path) ||
		    !blk_first_free(b, now, 0, &off))
			continue;
		rc = blk_mark(b, off, handle, b->seq_sent + 1);
		if (rc < 0)
			return rc;
		blk_addr(b, off, addr);
		mem_settle(b);
		return 0;
	}
	return -ENOSPC;
}

/* serve_fam() for a release, then write_block()'s prune. */
static int mem_release(struct mem *m, const char *handle)
{
	int64_t now = topo_wall_ms();
	struct blk_used *u;
	struct blk *b;
	int rc;

	u = mem_find(m, handle, &b);
	if (!u)
		return -ENOENT;
	rc = blk_release(b, u, now, b->seq_sent + 1);
	if (rc < 0)
		return rc;
	blk_prune(b, now, 0);
	mem_settle(b);
	return 0;
}

/* One pod in, one of the live ones out: the population stays. */
static int mem_pair(struct mem *m, uint64_t n)
{
	struct strata_prefix addr;
	size_t victim;
	int rc;

	handle_fmt(m->live[RESIDENT], n);
	rc = mem_allocate(m, m->live[RESIDENT], &addr);
	if (rc < 0)
		return rc;
	victim = (size_t)(rng_next(&m->rng) % (RESIDENT + 1));
	rc = mem_release(m, m->live[victim]);
	if (rc < 0)
		return rc;
	if (victim != RESIDENT)
		memcpy(m->live[victim], m->live[RESIDENT], HANDLE_LEN);
	return 0;
}

static int run_memory(int secs)
{
	const char *env = getenv("STRATA_BENCH_SEED");
	struct mem m = { .path = "za/s1" };
	struct strata_prefix p;
	uint64_t seed = env ? strtoull(env, NULL, 0) : 1, n = 0;
	uint64_t pairs = 0, used = 0;
	int64_t t0 = 0, t1 = 0, end;
	char text[32];
	int i, rc = 0;

	fprintf(stderr, "ipam-alloc: memory: seed %" PRIu64
			" (STRATA_BENCH_SEED)\n", seed);
	m.rng = seed ? seed : 1;
	for (i = 0; i < MEM_BLOCKS; i++) {
		snprintf(text, sizeof(text), "10.112.0.%d/26", i * 64);
		rc = rec_prefix_parse(text, &p);
		if (rc < 0)
			goto free_blocks;
		m.blocks[i] = blk_new(&p, TOPO_V4, 64, m.path);
		if (!m.blocks[i]) {
			rc = -ENOMEM;
			goto free_blocks;
		}
	}
	for (i = 0; i < RESIDENT && !rc; i++) {
		handle_fmt(m.live[i], n++);
		rc = mem_allocate(&m, m.live[i], &p);
	}
	/* warm up, then count whole batches until the time is up */
	end = mono_ns() + WARM_NS;
	while (!rc) {
		for (i = 0; i < 4096 && !rc; i++)
			rc = mem_pair(&m, n++);
		if (t0)
			pairs += (uint64_t)i;
		t1 = mono_ns();
		if (t1 < end)
			continue;
		if (t0)
			break;
		t0 = t1;
		end = t0 + (int64_t)secs * NS_PER_S;
	}
	if (rc < 0)
		goto free_blocks;
	/* the population is whole and every live pod is where it should be */
	for (i = 0; i < MEM_BLOCKS; i++)
		used += m.blocks[i]->n_used;
	for (i = 0; i < RESIDENT; i++) {
		struct blk *b;

		if (!mem_find(&m, m.live[i], &b))
			used = 0;
	}
	if (used != RESIDENT) {
		fprintf(stderr, "ipam-alloc: memory: %" PRIu64
				" addresses used at the end, not %d\n",
			used, RESIDENT);
		rc = -EPROTO;
		goto free_blocks;
	}
	printf("memory 1 %.0f %" PRIu64 " 0 0\n",
	       (double)pairs * NS_PER_S / (double)(t1 - t0), pairs);
	fprintf(stderr, "ipam-alloc: memory: %.1f ns per pair\n",
		(double)(t1 - t0) / (double)pairs);
free_blocks:
	if (rc < 0 && rc != -EPROTO)
		fprintf(stderr, "ipam-alloc: memory: pod %" PRIu64 ": %s\n", n,
			strerror(-rc));
	for (i = 0; i < MEM_BLOCKS; i++)
		blk_free(m.blocks[i]);
	return rc < 0;
}

/* ---- durable -------------------------------------------------------------- */

struct dur;

struct slot {
	struct dur *d;
	unsigned id;
	uint64_t n;
	char handle[HANDLE_LEN];
};

struct dur {
	struct mock_host *mh;
	struct store *st;
	void *self;
	const struct strata_ipam_ops *ipam;
	bool stop;
	unsigned busy;    /* slots with a request out */
	unsigned pending; /* resident allocations not done */
	uint64_t pairs;
	int err;
	char text[512];
};

static void dur_fail(struct dur *d, int err, const char *what,
		     const char *text)
{
	if (d->err)
		return;
	d->err = err;
	snprintf(d->text, sizeof(d->text), "%s: %s", what,
		 text ? text : strerror(-err));
	d->stop = true;
}

static void slot_next(struct slot *s);

static void slot_idle(struct slot *s)
{
	s->d->busy--;
}

static void on_release(void *arg, const struct strata_ipam_result *r)
{
	struct slot *s = arg;

	if (r->error) {
		dur_fail(s->d, r->error, s->handle, r->error_text);
		slot_idle(s);
		return;
	}
	s->d->pairs++;
	slot_next(s);
}

static void on_allocate(void *arg, const struct strata_ipam_result *r)
{
	struct slot *s = arg;
	struct strata_ipam_request q = { .size = sizeof(q),
					 .families = 1,
					 .handle = s->handle };
	int rc;

	if (r->error || r->n_addrs != 1) {
		dur_fail(s->d, r->error ? r->error : -EPROTO, s->handle,
			 r->error_text);
		slot_idle(s);
		return;
	}
	rc = s->d->ipam->release(s->d->self, &q, on_release, s);
	if (rc < 0) {
		dur_fail(s->d, rc, s->handle, NULL);
		slot_idle(s);
	}
}

static void slot_next(struct slot *s)
{
	struct strata_ipam_request q = { .size = sizeof(q), .families = 1 };
	int rc;

	if (s->d->stop) {
		slot_idle(s);
		return;
	}
	handle_fmt(s->handle, ((uint64_t)s->id << 40) + s->n++);
	q.handle = s->handle;
	rc = s->d->ipam->allocate(s->d->self, &q, on_allocate, s);
	if (rc < 0) {
		dur_fail(s->d, rc, s->handle, NULL);
		slot_idle(s);
	}
}

static void on_resident(void *arg, const struct strata_ipam_result *r)
{
	struct dur *d = arg;

	d->pending--;
	if (r->error || r->n_addrs != 1)
		dur_fail(d, r->error ? r->error : -EPROTO, "resident pod",
			 r->error_text);
}

static bool dur_ready(void *arg)
{
	const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;
	struct dur *d = arg;
	const char *state;

	desc->ops->status(d->self, mock_host_status(d->mh));
	state = mock_host_status_str(d->mh, "state");
	return state && !strcmp(state, "ready");
}

static bool dur_settled(void *arg)
{
	struct dur *d = arg;

	return !d->busy && !d->pending;
}

static int dur_open(struct dur *d, const char *dbpath)
{
	const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;
	struct store_options o = { .size = sizeof(o), .url = dbpath };
	const char *pools[] = { "10.112.0.0/12" };
	char err[256];
	int rc;

	d->mh = mock_host_new();
	if (!d->mh)
		return -ENOMEM;
	mock_host_set_instance_name(d->mh, "topology");
	rc = store_open(mock_host_loop(d->mh), &o, &d->st, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "ipam-alloc: store: %s\n", err);
		return rc;
	}
	mock_host_set_store(d->mh, d->st);
	if (mock_host_set_cfg_strings(d->mh, "pools", pools, 1) < 0 ||
	    mock_host_set_cfg_duration(d->mh, "cooldown", 0) < 0 ||
	    mock_host_set_schema(d->mh, desc->config) < 0 ||
	    mock_host_set_fact(d->mh, "name", "bench-node") < 0 ||
	    mock_host_set_fact(d->mh, "zone", "za") < 0 ||
	    mock_host_set_fact(d->mh, "subnet", "s1") < 0 ||
	    mock_host_set_fact(d->mh, "address", "10.0.1.10") < 0)
		return -ENOMEM;
	d->ipam = desc->kind_ops;
	rc = desc->ops->create(mock_host_table(d->mh), mock_instance(d->mh),
			       &d->self);
	if (rc < 0) {
		d->self = NULL;
		return rc;
	}
	rc = desc->ops->start(d->self);
	if (rc < 0)
		return rc;
	if (!mock_host_run_until(d->mh, dur_ready, d, 30 * NS_PER_S)) {
		fprintf(stderr, "ipam-alloc: the instance did not get ready\n");
		return -ETIMEDOUT;
	}
	return 0;
}

static void dur_close(struct dur *d)
{
	const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;

	if (d->self) {
		desc->ops->stop(d->self);
		desc->ops->destroy(d->self);
	}
	if (d->mh)
		mock_host_set_store(d->mh, NULL);
	if (d->st)
		store_close(d->st);
	mock_host_free(d->mh);
}

static int run_durable(const char *dbpath, int inflight, int secs)
{
	struct dur d = { .mh = NULL };
	struct slot *slots = NULL;
	uint64_t pairs0, pairs1;
	unsigned w0, w1;
	int64_t t0, t1;
	char handle[HANDLE_LEN];
	int i, rc;

	rc = dur_open(&d, dbpath);
	if (rc < 0)
		goto close;
	for (i = 0; i < RESIDENT; i++) {
		struct strata_ipam_request q = { .size = sizeof(q),
						 .families = 1,
						 .handle = handle };

		handle_fmt(handle, (uint64_t)MAX_INFLIGHT << 40 | (uint64_t)i);
		rc = d.ipam->allocate(d.self, &q, on_resident, &d);
		if (rc < 0)
			goto close;
		d.pending++;
	}
	if (!mock_host_run_until(d.mh, dur_settled, &d, 30 * NS_PER_S) ||
	    d.err) {
		rc = d.err ? d.err : -ETIMEDOUT;
		goto close;
	}
	slots = calloc((size_t)inflight, sizeof(*slots));
	if (!slots) {
		rc = -ENOMEM;
		goto close;
	}
	for (i = 0; i < inflight; i++) {
		slots[i].d = &d;
		slots[i].id = (unsigned)i;
		d.busy++;
		slot_next(&slots[i]);
	}
	mock_host_run(d.mh, WARM_NS);
	t0 = loop_now();
	pairs0 = d.pairs;
	w0 = mock_host_store_writes(d.mh);
	mock_host_run(d.mh, (int64_t)secs * NS_PER_S);
	t1 = loop_now();
	pairs1 = d.pairs;
	w1 = mock_host_store_writes(d.mh);
	d.stop = true;
	if (!mock_host_run_until(d.mh, dur_settled, &d, 30 * NS_PER_S)) {
		rc = -ETIMEDOUT;
		goto close;
	}
	if (d.err) {
		rc = d.err;
		goto close;
	}
	/* only the residents are left */
	dur_ready(&d);
	{
		int64_t used = -1;

		mock_host_status_int(d.mh, "addresses_used", &used);
		if (used != RESIDENT) {
			snprintf(d.text, sizeof(d.text),
				 "%" PRId64 " addresses used at the end, not %d",
				 used, RESIDENT);
			rc = -EPROTO;
			goto close;
		}
	}
	printf("durable %d %.0f %" PRIu64 " %u %.3f\n", inflight,
	       (double)(pairs1 - pairs0) * NS_PER_S / (double)(t1 - t0),
	       pairs1 - pairs0, w1 - w0,
	       pairs1 > pairs0 ? (double)(w1 - w0) / (double)(pairs1 - pairs0) :
				 0.0);
close:
	if (rc < 0)
		fprintf(stderr, "ipam-alloc: durable: %s\n",
			d.text[0] ? d.text : strerror(-rc));
	dur_close(&d);
	free(slots);
	return rc < 0;
}

/* ---- host-local ----------------------------------------------------------- */

struct worker {
	unsigned id;
	uint64_t n;
	bool add; /* the step running: ADD, else DEL */
	pid_t pid;
	int out;
	char cid[HANDLE_LEN];
};

struct anchor {
	const char *plugin;
	char conf[1024];
	char cni_path[512];
	bool stop;
	int failed;
	uint64_t pairs;
};

/* Runs one CNI command as a runtime does: environment, config on stdin. */
static int cni_spawn(struct anchor *a, struct worker *w)
{
	char cmd[32], cid[96], netns[128], path[600];
	char *envp[] = { cmd, cid, netns, "CNI_IFNAME=eth0", path,
			 "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char *argv[] = { (char *)a->plugin, NULL };
	posix_spawn_file_actions_t fa;
	int in[2], out[2], rc;
	size_t len = strlen(a->conf), off = 0;
	ssize_t k;

	snprintf(cmd, sizeof(cmd), "CNI_COMMAND=%s", w->add ? "ADD" : "DEL");
	snprintf(cid, sizeof(cid), "CNI_CONTAINERID=%s", w->cid);
	/* host-local never opens the namespace: any path will do */
	snprintf(netns, sizeof(netns), "CNI_NETNS=/var/run/netns/%s", w->cid);
	snprintf(path, sizeof(path), "CNI_PATH=%s", a->cni_path);
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		rc = -errno;
		goto close_in;
	}
	rc = -posix_spawn_file_actions_init(&fa);
	if (rc < 0)
		goto close_out;
	rc = -posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (!rc)
		rc = -posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (!rc)
		rc = -posix_spawn(&w->pid, a->plugin, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc < 0)
		goto close_out;
	close(in[0]);
	close(out[1]);
	/* the config fits in the pipe: this never waits for the child */
	while (off < len) {
		k = write(in[1], a->conf + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break; /* the child's exit status tells */
		off += (size_t)k;
	}
	close(in[1]);
	w->out = out[0];
	return 0;
close_out:
	close(out[0]);
	close(out[1]);
close_in:
	close(in[0]);
	close(in[1]);
	return rc;
}

static int worker_start(struct anchor *a, struct worker *w)
{
	if (w->add)
		cid_fmt(w->cid, ((uint64_t)w->id << 40) + w->n++);
	return cni_spawn(a, w);
}

/* The child is gone: its output is all in the pipe. */
static bool worker_ok(struct worker *w, int status)
{
	char buf[4096];
	size_t len = 0;
	ssize_t k;

	while (len < sizeof(buf) - 1) {
		k = read(w->out, buf + len, sizeof(buf) - 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	close(w->out);
	w->out = -1;
	w->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) ||
	    (w->add && !strstr(buf, "\"ips\""))) {
		fprintf(stderr, "ipam-alloc: host-local %s %s: %s %d: %s\n",
			w->add ? "ADD" : "DEL", w->cid,
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) :
					    WTERMSIG(status),
			buf);
		return false;
	}
	return true;
}

/* Runs the workers until the deadline; waits for every child. */
static int anchor_run(struct anchor *a, struct worker *ws, int n,
		      int64_t end)
{
	int i, running = 0, status, rc;
	pid_t pid;

	for (i = 0; i < n; i++) {
		ws[i].add = true;
		rc = worker_start(a, &ws[i]);
		if (rc < 0) {
			fprintf(stderr, "ipam-alloc: spawn: %s\n",
				strerror(-rc));
			a->failed = 1;
			break;
		}
		running++;
	}
	while (running > 0) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			return -errno;
		for (i = 0; i < n && ws[i].pid != pid; i++)
			;
		if (i == n)
			continue; /* not ours */
		running--;
		if (!worker_ok(&ws[i], status)) {
			a->failed = 1;
			continue;
		}
		if (!ws[i].add) {
			a->pairs++;
			if (a->failed || mono_ns() >= end)
				continue;
		} else if (a->failed) {
			continue;
		}
		ws[i].add = !ws[i].add;
		rc = worker_start(a, &ws[i]);
		if (rc < 0) {
			fprintf(stderr, "ipam-alloc: spawn: %s\n",
				strerror(-rc));
			a->failed = 1;
			continue;
		}
		running++;
	}
	return a->failed ? -EIO : 0;
}

static int run_host_local(const char *plugin, const char *datadir,
			  int workers, int secs)
{
	struct worker ws[MAX_WORKERS];
	struct anchor a = { .plugin = plugin };
	const char *slash = strrchr(plugin, '/');
	int64_t t0, t1;
	int i, rc;

	if (!slash || access(plugin, X_OK) < 0) {
		fprintf(stderr, "ipam-alloc: %s: not an executable path\n",
			plugin);
		return 1;
	}
	snprintf(a.cni_path, sizeof(a.cni_path), "%.*s",
		 (int)(slash - plugin), plugin);
	snprintf(a.conf, sizeof(a.conf),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"bench\","
		 "\"type\":\"host-local\",\"ipam\":{\"type\":\"host-local\","
		 "\"ranges\":[[{\"subnet\":\"10.200.0.0/16\"}]],"
		 "\"dataDir\":\"%s\"}}",
		 datadir);
	memset(ws, 0, sizeof(ws));
	for (i = 0; i < workers; i++) {
		ws[i].id = (unsigned)i;
		ws[i].out = -1;
	}
	/* one pod first, untimed: the executable and its files are cached */
	rc = anchor_run(&a, ws, 1, 0);
	if (rc < 0)
		return 1;
	a.pairs = 0;
	t0 = mono_ns();
	rc = anchor_run(&a, ws, workers, t0 + (int64_t)secs * NS_PER_S);
	t1 = mono_ns();
	if (rc < 0)
		return 1;
	printf("host-local %d %.0f %" PRIu64 " - -\n", workers,
	       (double)a.pairs * NS_PER_S / (double)(t1 - t0), a.pairs);
	return 0;
}

/* ---- main ----------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"usage: ipam-alloc memory SECONDS\n"
		"       ipam-alloc durable DBPATH INFLIGHT SECONDS\n"
		"       ipam-alloc host-local PLUGIN DATADIR WORKERS SECONDS\n");
	return 2;
}

int main(int argc, char **argv)
{
	int secs, n;

	if (argc == 3 && !strcmp(argv[1], "memory")) {
		secs = positive(argv[2], 3600, "SECONDS");
		return secs < 0 ? 2 : run_memory(secs);
	}
	if (argc == 5 && !strcmp(argv[1], "durable")) {
		n = positive(argv[3], MAX_INFLIGHT, "INFLIGHT");
		secs = positive(argv[4], 3600, "SECONDS");
		if (n < 0 || secs < 0)
			return 2;
		return run_durable(argv[2], n, secs);
	}
	if (argc == 6 && !strcmp(argv[1], "host-local")) {
		n = positive(argv[4], MAX_WORKERS, "WORKERS");
		secs = positive(argv[5], 3600, "SECONDS");
		if (n < 0 || secs < 0)
			return 2;
		return run_host_local(argv[2], argv[3], n, secs);
	}
	return usage();
}
