/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The topology IPAM plugin, compiled in, against the mock host on a real
 * embedded store (a SQLite file under a temp dir): allocation, release,
 * cooldown, blocks, the carving, restarts, view, removal, and several
 * processes allocating on one store file at once.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata/plugin.h>

#include "loop.h"
#include "mock_host.h"
#include "records.h"
#include "store.h"

#define MS (1000000LL)
#define S (1000 * MS)

extern const struct strata_plugin STRATA_PLUGIN_ENTRY;

static const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;

static char dir[64];
static char db[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/strata-ipam.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/store.db", dir);
}

static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- a node: mock host, store handle, instance ------------------------- */

struct cfg {
	const char *pools[4];
	const char *levels[4];
	int64_t block_len;  /* 0: default */
	int64_t block_len6; /* 0: default */
	int64_t cooldown_ns; /* <0: default */
	int64_t grace_ns;
	const char *zone, *subnet;
	const char *address6;
};

struct node {
	struct mock_host *mh;
	struct store *st;
	void *self;
	const struct strata_ipam_ops *ipam;
	char name[64];
};

static size_t count(const char *const *v)
{
	size_t n = 0;

	while (n < 4 && v[n])
		n++;
	return n;
}

static struct node *node_new(const char *name, const struct cfg *c)
{
	struct node *n = calloc(1, sizeof(*n));
	struct store_options o = { .size = sizeof(o), .url = db };
	char err[256];
	int rc;

	ck_assert_ptr_nonnull(n);
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->mh = mock_host_new();
	ck_assert_ptr_nonnull(n->mh);
	mock_host_set_instance_name(n->mh, name);
	rc = store_open(mock_host_loop(n->mh), &o, &n->st, err, sizeof(err));
	if (rc)
		fprintf(stderr, "store_open: %s\n", err);
	ck_assert_int_eq(rc, 0);
	mock_host_set_store(n->mh, n->st);
	mock_host_set_cfg_strings(n->mh, "pools", c->pools, count(c->pools));
	if (c->levels[0])
		mock_host_set_cfg_strings(n->mh, "levels", c->levels,
					  count(c->levels));
	if (c->block_len)
		mock_host_set_cfg_int(n->mh, "block_length", c->block_len);
	if (c->block_len6)
		mock_host_set_cfg_int(n->mh, "block_length6", c->block_len6);
	if (c->cooldown_ns >= 0)
		mock_host_set_cfg_duration(n->mh, "cooldown", c->cooldown_ns);
	if (c->grace_ns)
		mock_host_set_cfg_duration(n->mh, "grace", c->grace_ns);
	ck_assert_int_eq(mock_host_set_schema(n->mh, desc->config), 0);
	mock_host_set_fact(n->mh, "name", name);
	mock_host_set_fact(n->mh, "zone", c->zone ? c->zone : "za");
	mock_host_set_fact(n->mh, "subnet", c->subnet ? c->subnet : "s1");
	mock_host_set_fact(n->mh, "address", "10.0.1.10");
	if (c->address6)
		mock_host_set_fact(n->mh, "address6", c->address6);
	n->ipam = desc->kind_ops;
	ck_assert_int_eq(desc->ops->create(mock_host_table(n->mh),
					   mock_instance(n->mh), &n->self),
			 0);
	return n;
}

static bool is_ready(void *arg)
{
	struct node *n = arg;
	const char *state;

	desc->ops->status(n->self, mock_host_status(n->mh));
	state = mock_host_status_str(n->mh, "state");
	return state && (!strcmp(state, "ready") ||
			 !strcmp(state, "carving mismatch"));
}

static void node_start(struct node *n)
{
	ck_assert_int_eq(desc->ops->start(n->self), 0);
	ck_assert(mock_host_run_until(n->mh, is_ready, n, 20 * S));
}

static struct node *node_up(const char *name, const struct cfg *c)
{
	struct node *n = node_new(name, c);

	node_start(n);
	return n;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	desc->ops->stop(n->self);
	desc->ops->destroy(n->self);
	mock_host_set_store(n->mh, NULL);
	store_close(n->st);
	mock_host_free(n->mh);
	free(n);
}

static const char *state_of(struct node *n)
{
	desc->ops->status(n->self, mock_host_status(n->mh));
	return mock_host_status_str(n->mh, "state");
}

/* ---- requests -------------------------------------------------------- */

struct res {
	bool done;
	int err;
	char text[1024];
	unsigned n;
	char addr[2][64];
	unsigned calls;
};

static void on_res(void *arg, const struct strata_ipam_result *r)
{
	struct res *out = arg;
	unsigned i;

	out->calls++;
	out->done = true;
	out->err = r->error;
	snprintf(out->text, sizeof(out->text), "%s",
		 r->error_text ? r->error_text : "");
	out->n = r->n_addrs;
	for (i = 0; i < r->n_addrs && i < 2; i++) {
		rec_prefix_fmt(&r->addrs[i], out->addr[i],
			       sizeof(out->addr[i]));
	}
}

static bool res_done(void *arg)
{
	return ((struct res *)arg)->done;
}

static int start_req(struct node *n, bool release, const char *handle,
		     uint32_t families, struct res *r)
{
	struct strata_ipam_request q = { .size = sizeof(q),
					 .families = families,
					 .handle = handle };

	memset(r, 0, sizeof(*r));
	return release ? n->ipam->release(n->self, &q, on_res, r) :
			 n->ipam->allocate(n->self, &q, on_res, r);
}

static struct res do_req(struct node *n, bool release, const char *handle,
			 uint32_t families)
{
	struct res r;

	ck_assert_int_eq(start_req(n, release, handle, families, &r), 0);
	/* never inside the call */
	ck_assert(!r.done);
	ck_assert(mock_host_run_until(n->mh, res_done, &r, 20 * S));
	ck_assert_uint_eq(r.calls, 1);
	return r;
}

static struct res alloc(struct node *n, const char *handle, uint32_t fams)
{
	return do_req(n, false, handle, fams);
}

static struct res release(struct node *n, const char *handle)
{
	return do_req(n, true, handle, 0);
}

static void alloc_ok(struct node *n, const char *handle, char *out)
{
	struct res r = alloc(n, handle, 1);

	if (r.err)
		fprintf(stderr, "allocate %s: %s\n", handle, r.text);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	strcpy(out, r.addr[0]);
}

/* ---- reading the store back ------------------------------------------ */

struct kvs {
	bool done;
	int err;
	size_t n;
	char **keys;
	char **values;
	size_t *lens;
};

static void on_range(void *arg, int err, int64_t rev,
		     const struct strata_kv *kv, size_t n)
{
	struct kvs *out = arg;
	size_t i;

	out->done = true;
	out->err = err;
	out->n = n;
	out->keys = calloc(n + 1, sizeof(char *));
	out->values = calloc(n + 1, sizeof(char *));
	out->lens = calloc(n + 1, sizeof(size_t));
	for (i = 0; i < n; i++) {
		out->keys[i] = strdup(kv[i].key);
		out->values[i] = malloc(kv[i].value_len + 1);
		memcpy(out->values[i], kv[i].value, kv[i].value_len + 1);
		out->lens[i] = kv[i].value_len;
	}
	(void)rev;
}

static bool kvs_done(void *arg)
{
	return ((struct kvs *)arg)->done;
}

static struct kvs read_prefix(struct node *n, const char *key, uint32_t flags)
{
	struct kvs r = { 0 };

	ck_assert_int_eq(store_get(n->st, key, flags, on_range, &r), 0);
	ck_assert(mock_host_run_until(n->mh, kvs_done, &r, 10 * S));
	ck_assert_int_eq(r.err, 0);
	return r;
}

static void kvs_free(struct kvs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->keys[i]);
		free(r->values[i]);
	}
	free(r->keys);
	free(r->values);
	free(r->lens);
}

struct wdone {
	bool done;
	int err;
};

static void on_write(void *arg, int err, int64_t rev, int64_t n)
{
	struct wdone *w = arg;

	w->done = true;
	w->err = err;
	(void)rev;
	(void)n;
}

static bool wdone_done(void *arg)
{
	return ((struct wdone *)arg)->done;
}

static void put_key(struct node *n, const char *key, const char *value)
{
	struct wdone w = { 0 };

	ck_assert_int_eq(store_put(n->st, key, value, strlen(value), 0,
				   on_write, &w),
			 0);
	ck_assert(mock_host_run_until(n->mh, wdone_done, &w, 10 * S));
	ck_assert_int_eq(w.err, 0);
}

static void del_key(struct node *n, const char *key)
{
	struct wdone w = { 0 };

	ck_assert_int_eq(store_delete(n->st, key, 0, on_write, &w), 0);
	ck_assert(mock_host_run_until(n->mh, wdone_done, &w, 10 * S));
	ck_assert_int_eq(w.err, 0);
}

/* Every used address of the store's blocks, "address handle", sorted. */
struct used {
	char **v;
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct used store_used(struct node *n)
{
	struct kvs r = read_prefix(n, REC_BLOCK, STRATA_STORE_PREFIX);
	struct used u = { NULL, 0 };
	size_t i, j;
	bool inside = true;

	for (i = 0; i < r.n; i++) {
		struct rec_block b;
		struct strata_prefix p;

		ck_assert_int_eq(rec_prefix_parse(r.keys[i] + strlen(REC_BLOCK),
						  &p),
				 0);
		ck_assert_int_eq(rec_block_parse(r.values[i], r.lens[i], &b), 0);
		u.v = realloc(u.v, (u.n + b.n_used + 1) * sizeof(*u.v));
		for (j = 0; j < b.n_used; j++) {
			struct strata_prefix a = p;
			uint64_t off = b.used[j].offset;
			char text[64];
			int byte = p.family == STRATA_AF_INET ? 3 : 15;
			unsigned carry = 0;

			a.len = p.family == STRATA_AF_INET ? 32 : 128;
			for (; byte >= 0 && (off || carry); byte--) {
				unsigned v = a.addr[byte] + (off & 0xff) + carry;

				a.addr[byte] = (uint8_t)v;
				carry = v >> 8;
				off >>= 8;
			}
			inside &= rec_prefix_in(&a, &p);
			rec_prefix_fmt(&a, text, sizeof(text));
			u.v[u.n] = malloc(strlen(text) + strlen(b.used[j].handle) + 2);
			sprintf(u.v[u.n], "%s %s", text, b.used[j].handle);
			u.n++;
		}
		rec_block_free(&b);
	}
	kvs_free(&r);
	ck_assert(inside);
	if (u.n)
		qsort(u.v, u.n, sizeof(*u.v), cmp_str);
	return u;
}

static void used_free(struct used *u)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		free(u->v[i]);
	free(u->v);
}

static bool used_has(const struct used *u, const char *addr,
		     const char *handle)
{
	char want[1200], *key = want;

	snprintf(want, sizeof(want), "%s %s", addr, handle);
	return bsearch(&key, u->v, u->n, sizeof(*u->v), cmp_str) != NULL;
}

/* The count of used addresses, none in two places; whether `addr` is used
 * by `handle`. */
static size_t store_addrs(struct node *n, const char *addr,
			  const char *handle, bool *found)
{
	struct used u = store_used(n);
	size_t i, len, n_used = u.n;
	bool dup = false;

	for (i = 1; i < u.n; i++) {
		len = strcspn(u.v[i], " ");
		dup |= len == strcspn(u.v[i - 1], " ") &&
		       !strncmp(u.v[i], u.v[i - 1], len);
	}
	if (found)
		*found = addr && used_has(&u, addr, handle);
	used_free(&u);
	ck_assert_msg(!dup, "an address is used twice");
	return n_used;
}

static struct cfg base(void)
{
	struct cfg c = {
		.pools = { "10.112.0.0/16" },
		.levels = { "zone:2", "subnet:2" },
		.cooldown_ns = 0,
	};

	return c;
}

/* ---- the tests ------------------------------------------------------- */

START_TEST(test_descriptor)
{
	struct node *n = node_new("h1", &(struct cfg){
						 .pools = { "10.112.0.0/16" },
						 .levels = { "zone:2",
							     "subnet:2" },
						 .cooldown_ns = -1 });
	const char *const *w = n->ipam->wanted_facts(n->self);

	ck_assert_uint_eq(desc->kind, STRATA_KIND_IPAM);
	ck_assert_str_eq(desc->name, "topology");
	ck_assert_str_eq(w[0], "zone");
	ck_assert_str_eq(w[1], "subnet");
	ck_assert_str_eq(w[2], "address");
	ck_assert_ptr_null(w[3]);
	ck_assert_str_eq(n->ipam->needs_facts[0], "address");
	node_free(n);
}
END_TEST

START_TEST(test_allocate_release)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	char a[64], b[64], a2[64];
	struct res r;
	bool found;

	ck_assert_str_eq(state_of(n), "ready");
	ck_assert_uint_ge(mock_host_topology_changes(n->mh), 1);
	alloc_ok(n, "c1/eth0", a);
	alloc_ok(n, "c2/eth0", b);
	ck_assert_str_ne(a, b);
	/* the same handle: the same address */
	alloc_ok(n, "c1/eth0", a2);
	ck_assert_str_eq(a, a2);
	/* durable before the callback */
	ck_assert_uint_eq(store_addrs(n, a, "c1/eth0", &found), 2);
	ck_assert(found);
	/* the subnet's prefix holds it: za is slot 0, s1 slot 0 */
	ck_assert_int_eq(strncmp(a, "10.112.", 7), 0);

	r = release(n, "c1/eth0");
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_uint_eq(store_addrs(n, a, "c1/eth0", &found), 1);
	ck_assert(!found);
	/* unknown handles release fine */
	r = release(n, "nope");
	ck_assert_int_eq(r.err, 0);
	/* IPv6 is not configured */
	r = alloc(n, "c3/eth0", 2);
	ck_assert_int_eq(r.err, -EAFNOSUPPORT);
	ck_assert_ptr_nonnull(strstr(r.text, "IPv6"));
	ck_assert_int_eq(mock_host_metric(n->mh, "addresses_used"), 1);
	ck_assert_int_eq(mock_host_metric(n->mh, "blocks"), 1);
	node_free(n);
}
END_TEST

START_TEST(test_dual_stack)
{
	struct cfg c = base();
	struct node *n;
	struct res r, r2;

	c.pools[1] = "fd00:10::/56";
	c.address6 = "fd00::10";
	n = node_up("h1", &c);
	r = alloc(n, "c1", 0);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_int_eq(strncmp(r.addr[0], "10.112.", 7), 0);
	ck_assert_ptr_nonnull(strstr(r.addr[0], "/32"));
	ck_assert_ptr_nonnull(strstr(r.addr[1], "fd00:10:"));
	ck_assert_ptr_nonnull(strstr(r.addr[1], "/128"));
	r2 = alloc(n, "c1", 3);
	ck_assert_str_eq(r.addr[0], r2.addr[0]);
	ck_assert_str_eq(r.addr[1], r2.addr[1]);
	r2 = alloc(n, "c2", 2);
	ck_assert_uint_eq(r2.n, 1);
	ck_assert_ptr_nonnull(strstr(r2.addr[0], "/128"));
	ck_assert_str_ne(r2.addr[0], r.addr[1]);
	/* both families durable */
	ck_assert_uint_eq(store_addrs(n, NULL, NULL, NULL), 3);
	ck_assert_int_eq(mock_host_metric(n->mh, "blocks"), 2);
	node_free(n);
}
END_TEST

START_TEST(test_cooldown)
{
	struct cfg c = base();
	struct node *n;
	char a[64], b[64], d[64];

	c.cooldown_ns = 600 * MS;
	n = node_up("h1", &c);
	alloc_ok(n, "c1", a);
	ck_assert_int_eq(release(n, "c1").err, 0);
	/* still resting: the next one is another address */
	alloc_ok(n, "c2", b);
	ck_assert_str_ne(a, b);
	mock_host_run(n->mh, 700 * MS);
	alloc_ok(n, "c3", d);
	ck_assert_str_eq(a, d);
	node_free(n);
}
END_TEST

START_TEST(test_second_block)
{
	struct cfg c = base();
	struct node *n;
	struct kvs r;
	char a[64], handle[32], first[64] = "";
	int i;

	c.block_len = 29; /* 8 addresses a block */
	n = node_up("h1", &c);
	for (i = 0; i < 12; i++) {
		snprintf(handle, sizeof(handle), "c%d", i);
		alloc_ok(n, handle, a);
		if (!i)
			strcpy(first, a);
	}
	ck_assert_int_eq(mock_host_metric(n->mh, "blocks"), 2);
	r = read_prefix(n, REC_HOST "h1", 0);
	ck_assert_uint_eq(r.n, 1);
	{
		struct rec_host h;
		struct kvs nd = read_prefix(n, REC_NODE "za/s1", 0);
		struct rec_node node;
		size_t k;

		ck_assert_uint_eq(nd.n, 1);
		ck_assert_int_eq(rec_node_parse(nd.values[0], nd.lens[0],
						&node),
				 0);
		ck_assert_int_eq(rec_host_parse(r.values[0], r.lens[0], &h), 0);
		ck_assert_uint_eq(h.n_blocks, 2);
		ck_assert_str_eq(h.path, "za/s1");
		for (k = 0; k < h.n_blocks; k++)
			ck_assert(rec_prefix_in(&h.blocks[k],
						&node.prefixes[0]));
		rec_host_free(&h);
		kvs_free(&nd);
	}
	kvs_free(&r);
	ck_assert_uint_eq(store_addrs(n, NULL, NULL, NULL), 12);
	node_free(n);
}
END_TEST

START_TEST(test_subnet_full)
{
	struct cfg c = {
		.pools = { "10.112.0.0/24" },
		.levels = { "zone:1", "subnet:1" },
		.block_len = 28,
		.cooldown_ns = 0,
	};
	struct node *n = node_up("h1", &c);
	char a[64], handle[32];
	struct res r;
	int i;

	/* za/s1 is 10.112.0.0/26: four blocks of 16 */
	for (i = 0; i < 64; i++) {
		snprintf(handle, sizeof(handle), "c%d", i);
		alloc_ok(n, handle, a);
	}
	r = alloc(n, "one-too-many", 1);
	ck_assert_int_eq(r.err, -ENOSPC);
	ck_assert_ptr_nonnull(strstr(r.text, "za/s1"));
	ck_assert_ptr_nonnull(strstr(r.text, "10.112.0.0/26"));
	ck_assert_ptr_nonnull(strstr(r.text, "4 blocks of /28"));
	ck_assert_ptr_nonnull(strstr(r.text, "4 held"));
	/* a release makes room again */
	ck_assert_int_eq(release(n, "c5").err, 0);
	alloc_ok(n, "one-more", a);
	node_free(n);
}
END_TEST

START_TEST(test_carving_mismatch)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	struct node *m;
	struct res r;

	node_free(n);
	c.levels[1] = "subnet:3";
	m = node_up("h2", &c);
	ck_assert_str_eq(state_of(m), "carving mismatch");
	ck_assert_uint_eq(mock_host_log_count(m->mh, STRATA_LOG_ERR), 1);
	r = alloc(m, "c1", 1);
	ck_assert_int_eq(r.err, -ESTALE);
	ck_assert_ptr_nonnull(strstr(r.text, "subnet:2"));
	ck_assert_ptr_nonnull(strstr(r.text, "subnet:3"));
	ck_assert_ptr_nonnull(strstr(r.text, "planned migration"));
	ck_assert_ptr_nonnull(strstr(r.text, "stratactl plan"));
	r = alloc(m, "c2", 1);
	ck_assert_int_eq(r.err, -ESTALE);
	/* logged once */
	ck_assert_uint_eq(mock_host_log_count(m->mh, STRATA_LOG_ERR), 1);
	node_free(m);
}
END_TEST

START_TEST(test_pools_appended)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	struct rec_carving rc;
	struct kvs r;
	char a[64];

	node_free(n);
	c.pools[1] = "10.113.0.0/16";
	n = node_up("h2", &c);
	ck_assert_str_eq(state_of(n), "ready");
	alloc_ok(n, "c1", a);
	r = read_prefix(n, REC_CARVING, 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_int_eq(rec_carving_parse(r.values[0], r.lens[0], &rc), 0);
	ck_assert_uint_eq(rc.n_pools, 2);
	kvs_free(&r);
	/* and the first instance's config, now a prefix of the store's, is
	 * a mismatch */
	node_free(n);
	c.pools[1] = NULL;
	n = node_up("h1", &c);
	ck_assert_str_eq(state_of(n), "carving mismatch");
	node_free(n);
}
END_TEST

START_TEST(test_restart)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	char a[10][64], b[64], handle[32];
	bool found;
	int i, j;

	c.cooldown_ns = 3600 * S;
	node_free(n);
	n = node_up("h1", &c);
	for (i = 0; i < 10; i++) {
		snprintf(handle, sizeof(handle), "c%d", i);
		alloc_ok(n, handle, a[i]);
	}
	ck_assert_int_eq(release(n, "c9").err, 0);
	node_free(n);

	n = node_up("h1", &c);
	for (i = 0; i < 9; i++) {
		snprintf(handle, sizeof(handle), "c%d", i);
		alloc_ok(n, handle, b);
		ck_assert_str_eq(a[i], b);
	}
	/* nothing handed out twice, the cooling one neither */
	for (i = 0; i < 5; i++) {
		snprintf(handle, sizeof(handle), "new%d", i);
		alloc_ok(n, handle, b);
		for (j = 0; j < 10; j++)
			ck_assert_str_ne(a[j], b);
	}
	ck_assert_int_eq(mock_host_metric(n->mh, "blocks"), 1);
	ck_assert_uint_eq(store_addrs(n, a[0], "c0", &found), 14);
	ck_assert(found);
	node_free(n);
}
END_TEST

struct seen {
	unsigned nodes, hosts;
	char paths[8][64];
	unsigned depth[8], routed[8];
	uint64_t used[8], total[8], addrs[8];
	char host[4][32];
	size_t host_blocks[4];
	uint64_t host_addrs[4];
	uint32_t host_n_addrs[4];
};

static void on_node(void *arg, const struct strata_topo_node *nd)
{
	struct seen *s = arg;

	if (s->nodes >= 8)
		return;
	snprintf(s->paths[s->nodes], 64, "%s", nd->path);
	s->depth[s->nodes] = nd->depth;
	s->routed[s->nodes] = nd->routed;
	s->used[s->nodes] = nd->blocks_used;
	s->total[s->nodes] = nd->blocks_total;
	s->addrs[s->nodes] = nd->addrs_used;
	s->nodes++;
}

static void on_host(void *arg, const struct strata_topo_blocks *h)
{
	struct seen *s = arg;

	if (s->hosts >= 4)
		return;
	snprintf(s->host[s->hosts], 32, "%s", h->name);
	s->host_blocks[s->hosts] = h->n_blocks;
	s->host_addrs[s->hosts] = h->addrs_used;
	s->host_n_addrs[s->hosts] = h->n_addrs;
	s->hosts++;
}

START_TEST(test_view)
{
	struct cfg c = base();
	struct node *n = node_new("h1", &c), *m;
	struct strata_topo_sink sink = { .size = sizeof(sink),
					 .node = on_node,
					 .host = on_host };
	struct seen s;
	char a[64];

	memset(&s, 0, sizeof(s));
	sink.arg = &s;
	ck_assert_int_eq(n->ipam->view(n->self, &sink), -EAGAIN);
	node_start(n);
	alloc_ok(n, "c1", a);
	alloc_ok(n, "c2", a);
	c.subnet = "s2";
	m = node_up("h2", &c);
	alloc_ok(m, "c1", a);
	/* n hears of m through its watch */
	mock_host_run(n->mh, 300 * MS);
	ck_assert_int_eq(n->ipam->view(n->self, &sink), 0);
	ck_assert_uint_eq(s.nodes, 4);
	ck_assert_str_eq(s.paths[0], "");
	ck_assert_uint_eq(s.depth[0], 0);
	ck_assert_uint_eq(s.total[0], 1024);
	ck_assert_uint_eq(s.used[0], 2);
	ck_assert_uint_eq(s.addrs[0], 3);
	ck_assert_str_eq(s.paths[1], "za");
	ck_assert_uint_eq(s.depth[1], 1);
	ck_assert_uint_eq(s.routed[1], 0);
	ck_assert_str_eq(s.paths[2], "za/s1");
	ck_assert_uint_eq(s.routed[2], 1);
	ck_assert_uint_eq(s.total[2], 64);
	ck_assert_uint_eq(s.addrs[2], 2);
	ck_assert_str_eq(s.paths[3], "za/s2");
	ck_assert_uint_eq(s.addrs[3], 1);
	ck_assert_uint_eq(s.hosts, 2);
	ck_assert_str_eq(s.host[0], "h1");
	ck_assert_uint_eq(s.host_blocks[0], 1);
	ck_assert_uint_eq(s.host_addrs[0], 2);
	ck_assert_uint_eq(s.host_n_addrs[0], 1);
	ck_assert_str_eq(s.host[1], "h2");
	node_free(m);
	node_free(n);
}
END_TEST

/* Someone else writes this host's block: a write in flight fails and the
 * store's value is taken; a block given to another host is dropped. */
START_TEST(test_foreign_change)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	char a[64], b[64], key[128], value[256];
	struct kvs r;
	struct res q;
	struct wdone w = { 0 };

	alloc_ok(n, "c1", a);
	r = read_prefix(n, REC_BLOCK, STRATA_STORE_PREFIX);
	ck_assert_uint_eq(r.n, 1);
	snprintf(key, sizeof(key), "%s", r.keys[0]);
	kvs_free(&r);
	snprintf(value, sizeof(value),
		 "{\"host\":\"h1\",\"path\":\"za/s1\",\"used\":[[5,\"op\"]],"
		 "\"cooling\":[]}");
	/* the allocation's write goes out after this put: its CAS fails */
	ck_assert_int_eq(start_req(n, false, "c2", 1, &q), 0);
	ck_assert_int_eq(store_put(n->st, key, value, strlen(value), 0,
				   on_write, &w),
			 0);
	ck_assert(mock_host_run_until(n->mh, res_done, &q, 10 * S));
	ck_assert_int_eq(q.err, -EAGAIN);
	ck_assert(mock_host_run_until(n->mh, wdone_done, &w, 10 * S));
	/* the store's value is memory now: "op" holds offset 5, c1 is gone */
	q = alloc(n, "op", 1);
	ck_assert_int_eq(q.err, 0);
	{
		struct strata_prefix p;
		char want[64];

		ck_assert_int_eq(rec_prefix_parse(key + strlen(REC_BLOCK), &p),
				 0);
		p.addr[3] += 5;
		p.len = 32;
		rec_prefix_fmt(&p, want, sizeof(want));
		ck_assert_str_eq(q.addr[0], want);
	}
	alloc_ok(n, "c3", b);
	ck_assert_str_eq(a, b);
	/* given to another host while idle: dropped, a new block is claimed */
	snprintf(value, sizeof(value),
		 "{\"host\":\"h9\",\"path\":\"za/s1\",\"used\":[],"
		 "\"cooling\":[]}");
	put_key(n, key, value);
	mock_host_run(n->mh, 300 * MS);
	alloc_ok(n, "c4", b);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(mock_host_metric(n->mh, "blocks"), 1);
	node_free(n);
}
END_TEST

struct done {
	bool done;
	int err;
	char text[512];
};

static void on_done(void *arg, int err, const char *text)
{
	struct done *d = arg;

	d->done = true;
	d->err = err;
	snprintf(d->text, sizeof(d->text), "%s", text ? text : "");
}

static bool done_done(void *arg)
{
	return ((struct done *)arg)->done;
}

START_TEST(test_host_remove)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c), *m;
	struct done d = { 0 };
	struct kvs r;
	char a[64], gone[64];

	m = node_up("h2", &c);
	alloc_ok(m, "x1", gone);
	node_free(m);
	mock_host_run(n->mh, 300 * MS);
	ck_assert_int_eq(n->ipam->host_remove(n->self, "nobody", on_done, &d),
			 -ENOENT);
	put_key(n, REC_HOSTS "h2", "{}");
	mock_host_run(n->mh, 300 * MS);
	ck_assert_int_eq(n->ipam->host_remove(n->self, "h2", on_done, &d),
			 -EBUSY);
	del_key(n, REC_HOSTS "h2");
	mock_host_run(n->mh, 300 * MS);
	ck_assert_int_eq(n->ipam->host_remove(n->self, "h2", on_done, &d), 0);
	ck_assert(!d.done);
	ck_assert(mock_host_run_until(n->mh, done_done, &d, 10 * S));
	ck_assert_int_eq(d.err, 0);
	r = read_prefix(n, REC_HOST, STRATA_STORE_PREFIX);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.keys[0], REC_HOST "h1");
	kvs_free(&r);
	r = read_prefix(n, REC_BLOCK, STRATA_STORE_PREFIX);
	ck_assert_uint_eq(r.n, 1);
	kvs_free(&r);
	/* the subnet keeps its prefix */
	r = read_prefix(n, REC_NODE "za/s1", 0);
	ck_assert_uint_eq(r.n, 1);
	kvs_free(&r);
	ck_assert_int_eq(n->ipam->host_remove(n->self, "h2", on_done, &d),
			 -ENOENT);
	/* a new host gets the address space back */
	m = node_up("h2", &c);
	alloc_ok(m, "y1", a);
	ck_assert_str_eq(a, gone);
	node_free(m);
	node_free(n);
}
END_TEST

START_TEST(test_grace)
{
	struct cfg c = base();
	struct node *n, *m;
	struct kvs r;
	char a[64];

	m = node_up("h2", &c);
	alloc_ok(m, "x1", a);
	node_free(m);
	c.grace_ns = 400 * MS;
	n = node_up("h1", &c);
	r = read_prefix(n, REC_HOST, STRATA_STORE_PREFIX);
	ck_assert_uint_eq(r.n, 2);
	kvs_free(&r);
	/* bounded: 400 ms of grace, then the removal's writes */
	for (int i = 0; i < 100; i++) {
		mock_host_run(n->mh, 100 * MS);
		r = read_prefix(n, REC_HOST, STRATA_STORE_PREFIX);
		if (r.n == 1)
			break;
		kvs_free(&r);
	}
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.keys[0], REC_HOST "h1");
	kvs_free(&r);
	r = read_prefix(n, REC_BLOCK, STRATA_STORE_PREFIX);
	ck_assert_uint_eq(r.n, 1);
	kvs_free(&r);
	node_free(n);
}
END_TEST

START_TEST(test_thousand)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	struct res *r = calloc(1000, sizeof(*r));
	unsigned writes, i, done = 0;
	char handle[32];

	writes = mock_host_store_writes(n->mh);
	for (i = 0; i < 1000; i++) {
		snprintf(handle, sizeof(handle), "pod%u", i);
		ck_assert_int_eq(start_req(n, false, handle, 1, &r[i]), 0);
	}
	for (i = 0; i < 200 && done < 1000; i++) {
		unsigned k;

		mock_host_run(n->mh, 50 * MS);
		for (done = k = 0; k < 1000; k++)
			done += r[k].done;
	}
	ck_assert_uint_eq(done, 1000);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(r[i].err, 0);
		ck_assert_uint_eq(r[i].calls, 1);
	}
	writes = mock_host_store_writes(n->mh) - writes;
	fprintf(stderr, "1000 allocations: %u store writes\n", writes);
	ck_assert_uint_lt(writes, 100);
	/* all distinct (store_addrs checks) and all durable */
	ck_assert_uint_eq(store_addrs(n, NULL, NULL, NULL), 1000);
	{
		struct used u = store_used(n);
		unsigned missing = 0;

		for (i = 0; i < 1000; i++) {
			snprintf(handle, sizeof(handle), "pod%u", i);
			missing += !used_has(&u, r[i].addr[0], handle);
		}
		used_free(&u);
		ck_assert_uint_eq(missing, 0);
	}
	free(r);
	node_free(n);
}
END_TEST

/*
 * A block write fails and so does the re-read after it (the store cannot
 * be reached, as from a host cut off from etcd): the handle stays marked
 * in memory with no write due. Asking for the same handle again, once the
 * store answers, must make that write rather than wait for one that never
 * comes.
 */
START_TEST(test_retry_after_failed_write)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	char a[64], b[64];
	struct res r;
	bool found;

	alloc_ok(n, "c1/eth0", a);
	mock_host_set_store_error(n->mh, -ETIMEDOUT);
	r = alloc(n, "c2/eth0", 1);
	ck_assert_int_eq(r.err, -ETIMEDOUT);
	/* the re-read fails too */
	mock_host_run(n->mh, 100 * MS);
	ck_assert_uint_ge(mock_host_log_count(n->mh, STRATA_LOG_ERR), 1);
	ck_assert_uint_eq(store_addrs(n, NULL, NULL, NULL), 1);
	/* the held handle answers without the store */
	alloc_ok(n, "c1/eth0", b);
	ck_assert_str_eq(a, b);

	mock_host_set_store_error(n->mh, 0);
	ck_assert_int_eq(start_req(n, false, "c2/eth0", 1, &r), 0);
	ck_assert(mock_host_run_until(n->mh, res_done, &r, 5 * S));
	ck_assert_int_eq(r.err, 0);
	ck_assert_str_ne(r.addr[0], a);
	ck_assert_uint_eq(store_addrs(n, r.addr[0], "c2/eth0", &found), 2);
	ck_assert(found);
	node_free(n);
}
END_TEST

/* ---- several processes on one store file -------------------------------- */

#define CHILDREN 4
#define PER_CHILD 200

/* One child: allocate PER_CHILD addresses, up to 16 at a time, writing
 * each one reported to its file as "handle address". */
static void child(int idx, const char *out)
{
	struct cfg c = base();
	struct node *n;
	struct res *r = calloc(PER_CHILD, sizeof(*r));
	char name[32], handle[48];
	unsigned next = 0, done = 0, i, loops = 0;
	FILE *f = fopen(out, "w");

	c.block_len = 28;
	snprintf(name, sizeof(name), "child%d", idx);
	n = node_up(name, &c);
	setvbuf(f, NULL, _IONBF, 0);
	while (done < PER_CHILD && loops++ < 20000) {
		while (next < PER_CHILD && next - done < 16) {
			snprintf(handle, sizeof(handle), "%s/pod%u", name,
				 next);
			if (start_req(n, false, handle, 1, &r[next]))
				_exit(3);
			next++;
		}
		loop_run_once(mock_host_loop(n->mh), 50);
		for (i = done; i < next && r[i].done; i++) {
			if (r[i].err)
				_exit(4);
			fprintf(f, "%s/pod%u %s\n", name, i, r[i].addr[0]);
			done++;
		}
	}
	fclose(f);
	node_free(n);
	free(r);
	_exit(done == PER_CHILD ? 0 : 5);
}

/* What a child's file says it was given, all in the store. */
static unsigned check_reported(struct node *n, const char *file)
{
	FILE *f = fopen(file, "r");
	struct used u = store_used(n);
	char handle[64], addr[64];
	unsigned k = 0, missing = 0;

	ck_assert_ptr_nonnull(f);
	while (k < PER_CHILD && fscanf(f, "%63s %63s", handle, addr) == 2) {
		if (!used_has(&u, addr, handle)) {
			fprintf(stderr, "%s %s not in the store\n", handle,
				addr);
			missing++;
		}
		k++;
	}
	fclose(f);
	used_free(&u);
	ck_assert_uint_eq(missing, 0);
	return k;
}

static void check_store(struct node *n)
{
	struct kvs blocks = read_prefix(n, REC_BLOCK, STRATA_STORE_PREFIX);
	struct kvs hosts = read_prefix(n, REC_HOST, STRATA_STORE_PREFIX);
	struct kvs node = read_prefix(n, REC_NODE "za/s1", 0);
	struct rec_node subnet;
	size_t i, j, k, owners;

	ck_assert_uint_eq(node.n, 1);
	ck_assert_int_eq(rec_node_parse(node.values[0], node.lens[0], &subnet),
			 0);
	for (i = 0; i < blocks.n; i++) {
		struct strata_prefix p;
		struct rec_block b;

		rec_prefix_parse(blocks.keys[i] + strlen(REC_BLOCK), &p);
		ck_assert(rec_prefix_in(&p, &subnet.prefixes[0]));
		ck_assert_int_eq(rec_block_parse(blocks.values[i],
						 blocks.lens[i], &b),
				 0);
		/* exactly one host record lists it, its owner's */
		owners = 0;
		for (j = 0; j < hosts.n; j++) {
			struct rec_host h;

			ck_assert_int_eq(rec_host_parse(hosts.values[j],
							hosts.lens[j], &h),
					 0);
			for (k = 0; k < h.n_blocks; k++) {
				if (!rec_prefix_eq(&h.blocks[k], &p))
					continue;
				owners++;
				ck_assert_str_eq(hosts.keys[j] +
							 strlen(REC_HOST),
						 b.host);
			}
			rec_host_free(&h);
		}
		ck_assert_uint_eq(owners, 1);
		rec_block_free(&b);
	}
	/* no address in two blocks */
	store_addrs(n, NULL, NULL, NULL);
	kvs_free(&blocks);
	kvs_free(&hosts);
	kvs_free(&node);
}

static pid_t spawn(int idx)
{
	char out[160];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/child%d.txt", dir, idx);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid)
		child(idx, out);
	return pid;
}

START_TEST(test_processes)
{
	struct cfg c = base();
	struct node *n;
	pid_t pid[CHILDREN];
	char out[160];
	int i, status;
	unsigned total = 0;

	/* set up the carving and the tree first, then fork with no store
	 * open in this process */
	c.block_len = 28;
	n = node_up("parent", &c);
	node_free(n);
	for (i = 0; i < CHILDREN; i++)
		pid[i] = spawn(i);
	for (i = 0; i < CHILDREN; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "child %d: status %d", i, status);
	}
	n = node_up("parent", &c);
	check_store(n);
	for (i = 0; i < CHILDREN; i++) {
		snprintf(out, sizeof(out), "%s/child%d.txt", dir, i);
		total += check_reported(n, out);
	}
	ck_assert_uint_eq(total, CHILDREN * PER_CHILD);
	ck_assert_uint_eq(store_addrs(n, NULL, NULL, NULL),
			  CHILDREN * PER_CHILD);
	node_free(n);
}
END_TEST

START_TEST(test_process_killed)
{
	struct cfg c = base();
	struct node *n;
	pid_t pid[CHILDREN];
	char out[160];
	int i, status;
	unsigned k = 0, tries;

	c.block_len = 28;
	n = node_up("parent", &c);
	node_free(n);
	for (i = 0; i < CHILDREN; i++)
		pid[i] = spawn(i);
	/* kill child 0 once it has reported some addresses */
	snprintf(out, sizeof(out), "%s/child0.txt", dir);
	for (tries = 0; tries < 2000; tries++) {
		FILE *f = fopen(out, "r");
		int ch;

		k = 0;
		if (f) {
			while ((ch = fgetc(f)) != EOF)
				k += ch == '\n';
			fclose(f);
		}
		if (k >= 20)
			break;
		usleep(5000);
	}
	kill(pid[0], SIGKILL);
	for (i = 0; i < CHILDREN; i++)
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
	n = node_up("parent", &c);
	check_store(n);
	/* what child 0 reported before it died is all there */
	k = check_reported(n, out);
	fprintf(stderr, "killed child had reported %u addresses\n", k);
	node_free(n);
}
END_TEST

/* ---- list ------------------------------------------------------------ */

#define LIST_MAX 16

struct listed {
	bool done;
	int err;
	char text[1024];
	unsigned n;
	char handle[LIST_MAX][64];
	char addrs[LIST_MAX][128]; /* "a,b" */
	unsigned dones;
	struct node *release_in; /* release each handle as it is listed */
};

static void on_listed(void *arg, const char *handle,
		      const struct strata_prefix *addrs, uint32_t n_addrs)
{
	struct listed *l = arg;
	char one[64];
	uint32_t i;

	ck_assert(!l->done);
	ck_assert_uint_lt(l->n, LIST_MAX);
	snprintf(l->handle[l->n], sizeof(l->handle[0]), "%s", handle);
	l->addrs[l->n][0] = '\0';
	for (i = 0; i < n_addrs; i++) {
		rec_prefix_fmt(&addrs[i], one, sizeof(one));
		if (i)
			strcat(l->addrs[l->n], ",");
		strcat(l->addrs[l->n], one);
	}
	l->n++;
	if (l->release_in) {
		struct strata_ipam_request q = { .size = sizeof(q),
						 .handle = handle };
		static struct res ignored;

		ck_assert_int_eq(l->release_in->ipam->release(
					 l->release_in->self, &q, on_res,
					 &ignored),
				 0);
	}
}

static void on_list_done(void *arg, int err, const char *text)
{
	struct listed *l = arg;

	l->done = true;
	l->dones++;
	l->err = err;
	snprintf(l->text, sizeof(l->text), "%s", text ? text : "");
}

static bool no_calls(void *arg)
{
	return mock_host_ipam_calls(arg) == 0;
}

static bool list_done_p(void *arg)
{
	return ((struct listed *)arg)->done;
}

static int list_start(struct node *n, const char *prefix, struct listed *l)
{
	struct node *rel = l->release_in;

	memset(l, 0, sizeof(*l));
	l->release_in = rel;
	return n->ipam->list(n->self, prefix, on_listed, on_list_done, l);
}

static void list_wait(struct node *n, struct listed *l)
{
	ck_assert(mock_host_run_until(n->mh, list_done_p, l, 20 * S));
	mock_host_run(n->mh, 20 * MS); /* nothing follows done */
	ck_assert_uint_eq(l->dones, 1);
}

static void list_of(struct node *n, const char *prefix, struct listed *l)
{
	ck_assert_int_eq(list_start(n, prefix, l), 0);
	/* never inside the call */
	ck_assert(!l->done);
	ck_assert_uint_eq(l->n, 0);
	list_wait(n, l);
}

START_TEST(test_list)
{
	struct cfg c = base();
	struct node *n;
	struct listed *l = calloc(1, sizeof(*l));
	struct res a, b, other;
	char both[128];

	ck_assert_ptr_nonnull(l);
	c.pools[1] = "fd00:10::/56";
	c.address6 = "fd00::10";
	n = node_up("h1", &c);
	ck_assert_ptr_nonnull(n->ipam->list);
	ck_assert_int_eq(n->ipam->list(n->self, "", NULL, on_list_done, l),
			 -EINVAL);
	ck_assert_int_eq(n->ipam->list(n->self, "", on_listed, NULL, l),
			 -EINVAL);
	/* nothing held yet */
	list_of(n, "", l);
	ck_assert_int_eq(l->err, 0);
	ck_assert_uint_eq(l->n, 0);

	/* allocated out of order: the list is sorted by handle */
	b = alloc(n, "cni/net/b/eth0", 1);
	ck_assert_int_eq(b.err, 0);
	a = alloc(n, "cni/net/a/eth0", 0);
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(a.n, 2);
	other = alloc(n, "other/x", 2);
	ck_assert_int_eq(other.err, 0);
	ck_assert_int_eq(alloc(n, "cni/net/c/eth0", 0).err, 0);
	ck_assert_int_eq(release(n, "cni/net/c/eth0").err, 0);

	list_of(n, "cni/", l);
	ck_assert_int_eq(l->err, 0);
	ck_assert_uint_eq(l->n, 2); /* the released one is absent */
	ck_assert_str_eq(l->handle[0], "cni/net/a/eth0");
	/* both families of a handle in one call, IPv4 first */
	snprintf(both, sizeof(both), "%s,%s", a.addr[0], a.addr[1]);
	ck_assert_str_eq(l->addrs[0], both);
	ck_assert_str_eq(l->handle[1], "cni/net/b/eth0");
	ck_assert_str_eq(l->addrs[1], b.addr[0]);

	list_of(n, "cni/net/b", l);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->handle[0], "cni/net/b/eth0");
	list_of(n, "cni/net/bb", l);
	ck_assert_uint_eq(l->n, 0);
	list_of(n, NULL, l); /* every handle */
	ck_assert_uint_eq(l->n, 3);
	ck_assert_str_eq(l->handle[2], "other/x");
	ck_assert_str_eq(l->addrs[2], other.addr[0]);

	/* the callbacks may release what they are shown */
	l->release_in = n;
	list_of(n, "cni/", l);
	ck_assert_uint_eq(l->n, 2);
	l->release_in = NULL;
	mock_host_run(n->mh, 200 * MS);
	list_of(n, "", l);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->handle[0], "other/x");
	node_free(n);
	free(l);
}
END_TEST

START_TEST(test_list_after_restart)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	struct listed *l = calloc(1, sizeof(*l));
	char a[3][64], handle[32];
	int i;

	ck_assert_ptr_nonnull(l);
	for (i = 0; i < 3; i++) {
		snprintf(handle, sizeof(handle), "cni/n/c%d/eth0", i);
		alloc_ok(n, handle, a[i]);
	}
	ck_assert_int_eq(release(n, "cni/n/c1/eth0").err, 0);
	node_free(n);

	/* a list made before the instance has read the store waits */
	n = node_new("h1", &c);
	ck_assert_int_eq(list_start(n, "cni/", l), 0);
	mock_host_run(n->mh, 100 * MS);
	ck_assert(!l->done);
	node_start(n);
	list_wait(n, l);
	ck_assert_int_eq(l->err, 0);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_str_eq(l->handle[0], "cni/n/c0/eth0");
	ck_assert_str_eq(l->addrs[0], a[0]);
	ck_assert_str_eq(l->handle[1], "cni/n/c2/eth0");
	ck_assert_str_eq(l->addrs[1], a[2]);
	node_free(n);

	/* one still waiting at destroy is dropped, unanswered */
	n = node_new("h1", &c);
	ck_assert_int_eq(list_start(n, "", l), 0);
	mock_host_run(n->mh, 20 * MS);
	node_free(n);
	ck_assert(!l->done);
	free(l);
}
END_TEST

START_TEST(test_list_mismatch)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	struct listed *l = calloc(1, sizeof(*l));

	ck_assert_ptr_nonnull(l);
	node_free(n);
	c.levels[1] = "subnet:3";
	n = node_up("h2", &c);
	ck_assert_str_eq(state_of(n), "carving mismatch");
	list_of(n, "", l);
	ck_assert_int_eq(l->err, -ESTALE);
	ck_assert_uint_eq(l->n, 0);
	ck_assert_ptr_nonnull(strstr(l->text, "planned migration"));
	node_free(n);
	free(l);
}
END_TEST

/* The mock host's ipam_* entries, as a front end's tests use them: the
 * front end on a peer of the IPAM's mock host, sharing its loop. */
START_TEST(test_mock_host_ipam)
{
	struct cfg c = base();
	struct node *n = node_up("h1", &c);
	struct mock_host *fe = mock_host_new_peer(n->mh);
	const struct strata_host *h;
	struct strata_instance *fi;
	struct strata_ipam_request q = { .size = sizeof(q),
					 .handle = "cni/net/c1/eth0" };
	struct listed *l = calloc(1, sizeof(*l));
	struct strata_prefix pools[2];
	char a[64], pool[64];
	struct res r;

	ck_assert_ptr_nonnull(fe);
	ck_assert_ptr_nonnull(l);
	h = mock_host_table(fe);
	fi = mock_instance(fe);
	ck_assert_uint_ge(h->size, sizeof(struct strata_host));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(h->ipam_allocate(fi, &q, on_res, &r), -ENODEV);
	ck_assert_int_eq(h->ipam_pools(fi, pools, 2), -ENODEV);
	ck_assert_int_eq(mock_host_set_ipam(fe, n->ipam, n->self), 0);

	ck_assert_int_eq(h->ipam_allocate(fi, &q, on_res, &r), 0);
	ck_assert(!r.done);
	ck_assert(mock_host_run_until(fe, res_done, &r, 20 * S));
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	strcpy(a, r.addr[0]);

	ck_assert_int_eq(h->ipam_list(fi, "cni/net/", on_listed, on_list_done,
				      l),
			 0);
	ck_assert(!l->done);
	ck_assert(mock_host_run_until(fe, list_done_p, l, 20 * S));
	ck_assert_int_eq(l->err, 0);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->handle[0], "cni/net/c1/eth0");
	ck_assert_str_eq(l->addrs[0], a);

	ck_assert_int_eq(h->ipam_pools(fi, pools, 2), 1);
	rec_prefix_fmt(&pools[0], pool, sizeof(pool));
	ck_assert_str_eq(pool, "10.112.0.0/16");

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(h->ipam_release(fi, &q, on_res, &r), 0);
	ck_assert(mock_host_run_until(fe, res_done, &r, 20 * S));
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(store_addrs(n, a, NULL, NULL), 0);

	/* detached with a call in flight: its completion is dropped */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(h->ipam_allocate(fi, &q, on_res, &r), 0);
	ck_assert_int_eq(mock_host_set_ipam(fe, NULL, NULL), 0);
	ck_assert_uint_eq(mock_host_ipam_calls(fe), 1);
	ck_assert(mock_host_run_until(fe, no_calls, fe, 20 * S));
	ck_assert(!r.done);

	/* an IPAM destroyed with a call it never answered: the call fails
	 * (a fresh instance, not started: it holds the request, nothing
	 * else is due on the loop) */
	desc->ops->stop(n->self);
	desc->ops->destroy(n->self);
	ck_assert_int_eq(desc->ops->create(mock_host_table(n->mh),
					   mock_instance(n->mh), &n->self),
			 0);
	ck_assert_int_eq(mock_host_set_ipam(fe, n->ipam, n->self), 0);
	memset(&r, 0, sizeof(r));
	q.handle = "cni/net/c2/eth0";
	ck_assert_int_eq(h->ipam_allocate(fi, &q, on_res, &r), 0);
	mock_host_run(fe, 50 * MS);
	ck_assert(!r.done);
	desc->ops->destroy(n->self);
	mock_host_ipam_gone(fe);
	ck_assert(!r.done);
	ck_assert(mock_host_run_until(fe, res_done, &r, 20 * S));
	ck_assert_int_eq(r.err, -ENODEV);
	ck_assert_str_eq(r.text, "the IPAM instance stopped");
	ck_assert_int_eq(h->ipam_allocate(fi, &q, on_res, &r), -ENODEV);

	mock_host_free(fe);
	mock_host_set_store(n->mh, NULL);
	store_close(n->st);
	mock_host_free(n->mh);
	free(n);
	free(l);
}
END_TEST

static Suite *ipam_suite(void)
{
	Suite *s = suite_create("ipam-topology");
	TCase *tc = tcase_create("alloc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_allocate_release);
	tcase_add_test(tc, test_dual_stack);
	tcase_add_test(tc, test_cooldown);
	tcase_add_test(tc, test_second_block);
	tcase_add_test(tc, test_subnet_full);
	tcase_add_test(tc, test_carving_mismatch);
	tcase_add_test(tc, test_pools_appended);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_foreign_change);
	tcase_add_test(tc, test_view);
	tcase_add_test(tc, test_host_remove);
	tcase_add_test(tc, test_grace);
	tcase_add_test(tc, test_thousand);
	tcase_add_test(tc, test_retry_after_failed_write);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_list_after_restart);
	tcase_add_test(tc, test_list_mismatch);
	tcase_add_test(tc, test_mock_host_ipam);
	suite_add_tcase(s, tc);
	tc = tcase_create("processes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_processes);
	tcase_add_test(tc, test_process_killed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ipam_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
