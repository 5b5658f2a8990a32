/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "election.h"
#include "store_conformance.h"

static const struct store_fixture *fx;
static struct loop *L;
static struct store *S;

static int64_t now_ms(void)
{
	return loop_now() / 1000000;
}

void spin(struct loop *loop, int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end)
		loop_run_once(loop, (int)(end - now_ms()) + 1);
}

void sync_wait(struct loop *loop, bool *flag, int ms)
{
	int64_t end = now_ms() + ms;

	while (!*flag && now_ms() < end)
		loop_run_once(loop, 10);
	ck_assert_msg(*flag, "store call did not complete in %d ms", ms);
}

void sync_reset(struct store_sync *s)
{
	size_t i;

	for (i = 0; i < s->n_kvs; i++) {
		free((void *)s->kvs[i].key);
		free((void *)s->kvs[i].value);
	}
	memset(s, 0, sizeof(*s));
}

static void copy_kvs(struct store_sync *s, const struct strata_kv *kvs,
		     size_t n)
{
	size_t i;

	s->n_kvs = n < 64 ? n : 64;
	for (i = 0; i < s->n_kvs; i++) {
		s->kvs[i] = kvs[i];
		s->kvs[i].key = strdup(kvs[i].key);
		s->kvs[i].value = malloc(kvs[i].value_len + 1);
		memcpy((void *)s->kvs[i].value, kvs[i].value,
		       kvs[i].value_len + 1);
	}
}

static void done_cb(void *arg, int err, int64_t rev, int64_t n)
{
	struct store_sync *s = arg;

	s->err = err;
	s->rev = rev;
	s->n = n;
	s->done = true;
}

static void range_cb(void *arg, int err, int64_t rev,
		     const struct strata_kv *kvs, size_t n)
{
	struct store_sync *s = arg;

	s->err = err;
	s->rev = rev;
	copy_kvs(s, kvs, n);
	s->done = true;
}

static void txn_cb(void *arg, int err, const struct strata_store_txn_result *res)
{
	struct store_sync *s = arg;
	size_t i;

	s->err = err;
	s->done = true;
	if (err)
		return;
	s->rev = res->revision;
	s->succeeded = res->succeeded;
	s->n = (int64_t)res->n_results;
	/* the kvs of the first range result, the count of the last op */
	for (i = 0; i < res->n_results; i++) {
		if (res->results[i].type == STRATA_OP_RANGE && !s->n_kvs)
			copy_kvs(s, res->results[i].kvs, res->results[i].n_kvs);
		s->id = res->results[i].count;
	}
}

static void lease_cb(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct store_sync *s = arg;

	s->err = err;
	s->id = id;
	s->ttl_ms = ttl_ms;
	s->done = true;
}

static void check_cb(void *arg, int err, const char *report)
{
	struct store_sync *s = arg;

	s->err = err;
	snprintf(s->report, sizeof(s->report), "%s", report);
	s->done = true;
}

#define WAIT_MS 10000

int sync_put(struct loop *loop, struct store *st, const char *key,
	     const char *value, int64_t lease, int64_t *rev)
{
	struct store_sync s = { 0 };
	int err;

	err = store_put(st, key, value, strlen(value), lease, done_cb, &s);
	if (err)
		return err;
	sync_wait(loop, &s.done, WAIT_MS);
	if (rev)
		*rev = s.rev;
	return s.err;
}

int sync_get(struct loop *loop, struct store *st, const char *key,
	     uint32_t flags, struct store_sync *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	err = store_get(st, key, flags, range_cb, out);
	if (err)
		return err;
	sync_wait(loop, &out->done, WAIT_MS);
	return out->err;
}

int sync_delete(struct loop *loop, struct store *st, const char *key,
		uint32_t flags, int64_t *n)
{
	struct store_sync s = { 0 };
	int err;

	err = store_delete(st, key, flags, done_cb, &s);
	if (err)
		return err;
	sync_wait(loop, &s.done, WAIT_MS);
	if (n)
		*n = s.n;
	return s.err;
}

int sync_txn(struct loop *loop, struct store *st, const struct strata_store_txn *t,
	     struct store_sync *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	err = store_txn(st, t, txn_cb, out);
	if (err)
		return err;
	sync_wait(loop, &out->done, WAIT_MS);
	return out->err;
}

int sync_grant(struct loop *loop, struct store *st, int64_t ttl_ms,
	       int64_t *id)
{
	struct store_sync s = { 0 };
	int err;

	err = store_lease_grant(st, ttl_ms, 0, lease_cb, &s);
	if (err)
		return err;
	sync_wait(loop, &s.done, WAIT_MS);
	*id = s.id;
	return s.err;
}

int sync_keepalive(struct loop *loop, struct store *st, int64_t id)
{
	struct store_sync s = { 0 };
	int err;

	err = store_lease_keepalive(st, id, lease_cb, &s);
	if (err)
		return err;
	sync_wait(loop, &s.done, WAIT_MS);
	return s.err;
}

int sync_revoke(struct loop *loop, struct store *st, int64_t id)
{
	struct store_sync s = { 0 };
	int err;

	err = store_lease_revoke(st, id, done_cb, &s);
	if (err)
		return err;
	sync_wait(loop, &s.done, WAIT_MS);
	return s.err;
}

int sync_check(struct loop *loop, struct store *st, char *report, size_t len)
{
	struct store_sync s = { 0 };
	int err;

	err = store_check(st, check_cb, &s);
	if (err)
		return err;
	sync_wait(loop, &s.done, WAIT_MS);
	snprintf(report, len, "%s", s.report);
	return s.err;
}

static void setup(void)
{
	fx->setup();
	ck_assert_int_eq(loop_new(&L), 0);
	ck_assert_int_eq(fx->open(L, &S), 0);
}

static void teardown(void)
{
	store_close(S);
	S = NULL;
	loop_free(L);
	L = NULL;
	fx->teardown();
}

static const char *val(const struct strata_kv *kv)
{
	return kv->value;
}

/* ---- revisions ---- */

START_TEST(test_revisions)
{
	struct store_sync g;
	int64_t r1, r2, r3, r4, n;

	ck_assert_int_eq(sync_put(L, S, "a", "1", 0, &r1), 0);
	ck_assert_int_gt(r1, 0);
	ck_assert_int_eq(sync_put(L, S, "a", "2", 0, &r2), 0);
	ck_assert_int_eq(r2, r1 + 1);
	ck_assert_int_eq(sync_get(L, S, "a", 0, &g), 0);
	ck_assert_int_eq(g.n_kvs, 1);
	ck_assert_str_eq(val(&g.kvs[0]), "2");
	ck_assert_int_eq(g.kvs[0].create_rev, r1);
	ck_assert_int_eq(g.kvs[0].mod_rev, r2);
	ck_assert_int_eq(g.kvs[0].version, 2);
	ck_assert_int_eq(g.kvs[0].lease, 0);
	ck_assert_int_eq(g.rev, r2);
	sync_reset(&g);

	/* another key: the global revision moves on */
	ck_assert_int_eq(sync_put(L, S, "b", "x", 0, &r3), 0);
	ck_assert_int_eq(r3, r2 + 1);
	ck_assert_int_eq(sync_delete(L, S, "a", 0, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(sync_get(L, S, "a", 0, &g), 0);
	ck_assert_int_eq(g.n_kvs, 0);
	ck_assert_int_eq(g.rev, r3 + 1);
	sync_reset(&g);

	/* deleting nothing changes nothing */
	ck_assert_int_eq(sync_delete(L, S, "a", 0, &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(sync_get(L, S, "b", 0, &g), 0);
	ck_assert_int_eq(g.rev, r3 + 1);
	sync_reset(&g);

	/* re-created: a new life, version 1 */
	ck_assert_int_eq(sync_put(L, S, "a", "3", 0, &r4), 0);
	ck_assert_int_eq(r4, r3 + 2);
	ck_assert_int_eq(sync_get(L, S, "a", 0, &g), 0);
	ck_assert_int_eq(g.kvs[0].create_rev, r4);
	ck_assert_int_eq(g.kvs[0].version, 1);
	sync_reset(&g);
}
END_TEST

START_TEST(test_binary_values)
{
	static const char v[] = { 'a', 0, 'b', (char)0xff };
	struct store_sync s = { 0 }, g;

	ck_assert_int_eq(store_put(S, "bin", v, sizeof(v), 0, done_cb, &s),
			 0);
	/* the callback never runs inside the call */
	ck_assert(!s.done);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, 0);
	ck_assert_int_eq(sync_get(L, S, "bin", 0, &g), 0);
	ck_assert_int_eq(g.kvs[0].value_len, sizeof(v));
	ck_assert(!memcmp(g.kvs[0].value, v, sizeof(v)));
	sync_reset(&g);
}
END_TEST

/* ---- ranges ---- */

START_TEST(test_range_prefix)
{
	const char *keys[] = { "p/3", "p/1", "q/1", "p0", "p/2", "p", "p/\xff" };
	struct strata_store_op op = { .type = STRATA_OP_RANGE, .flags = STRATA_STORE_PREFIX,
			       .key = "p/", .limit = 2 };
	struct strata_store_txn t = { .success = &op, .n_success = 1 };
	struct store_sync g;
	size_t i;
	int64_t n;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_int_eq(sync_put(L, S, keys[i], keys[i], 0, NULL), 0);
	ck_assert_int_eq(sync_get(L, S, "p/", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 4);
	ck_assert_str_eq(g.kvs[0].key, "p/1");
	ck_assert_str_eq(g.kvs[1].key, "p/2");
	ck_assert_str_eq(g.kvs[2].key, "p/3");
	ck_assert_str_eq(g.kvs[3].key, "p/\xff");
	ck_assert_str_eq(val(&g.kvs[1]), "p/2");
	sync_reset(&g);

	/* limit: two, more, and the full count */
	ck_assert_int_eq(sync_txn(L, S, &t, &g), 0);
	ck_assert_int_eq(g.n_kvs, 2);
	ck_assert_int_eq(g.id, 4);
	sync_reset(&g);

	/* keys only, count only */
	op.limit = 0;
	op.flags = STRATA_STORE_PREFIX | STRATA_STORE_KEYS_ONLY;
	ck_assert_int_eq(sync_txn(L, S, &t, &g), 0);
	ck_assert_int_eq(g.n_kvs, 4);
	ck_assert_int_eq(g.kvs[0].value_len, 0);
	ck_assert_int_gt(g.kvs[0].mod_rev, 0);
	sync_reset(&g);
	op.flags = STRATA_STORE_PREFIX | STRATA_STORE_COUNT_ONLY;
	ck_assert_int_eq(sync_txn(L, S, &t, &g), 0);
	ck_assert_int_eq(g.n_kvs, 0);
	ck_assert_int_eq(g.id, 4);
	sync_reset(&g);

	/* "" is every key */
	ck_assert_int_eq(sync_get(L, S, "", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 7);
	ck_assert_str_eq(g.kvs[0].key, "p");
	sync_reset(&g);

	ck_assert_int_eq(sync_delete(L, S, "p/", STRATA_STORE_PREFIX, &n), 0);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(sync_get(L, S, "", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 3);
	sync_reset(&g);
	/* an empty key names nothing */
	ck_assert_int_eq(store_get(S, "", 0, range_cb, &g), -EINVAL);
}
END_TEST

START_TEST(test_prefix_end)
{
	char buf[8];

	store_prefix_end("ab", buf);
	ck_assert_str_eq(buf, "ac");
	store_prefix_end("a\xff", buf);
	ck_assert_str_eq(buf, "b");
	store_prefix_end("\xff\xff", buf);
	ck_assert_str_eq(buf, "");
	store_prefix_end("", buf);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* ---- compares and transactions ---- */

static bool cmp1(const struct strata_store_cmp *c)
{
	struct strata_store_txn t = { .cmp = c, .n_cmp = 1 };
	struct store_sync s;

	ck_assert_int_eq(sync_txn(L, S, &t, &s), 0);
	return s.succeeded;
}

START_TEST(test_compares)
{
	struct store_sync g;
	int64_t lease;
	struct strata_store_cmp c = { .key = "k" };

	ck_assert_int_eq(sync_grant(L, S, 60000, &lease), 0);
	ck_assert_int_eq(sync_put(L, S, "k", "m", lease, NULL), 0);
	ck_assert_int_eq(sync_put(L, S, "k", "m", lease, NULL), 0);
	ck_assert_int_eq(sync_get(L, S, "k", 0, &g), 0);

	c.target = STRATA_CMP_VALUE;
	c.value = "m";
	c.value_len = 1;
	c.result = STRATA_CMP_EQUAL;
	ck_assert(cmp1(&c));
	c.result = STRATA_CMP_NOT_EQUAL;
	ck_assert(!cmp1(&c));
	c.value = "a";
	c.result = STRATA_CMP_GREATER;
	ck_assert(cmp1(&c));
	c.result = STRATA_CMP_LESS;
	ck_assert(!cmp1(&c));
	c.value = "mm"; /* a prefix is less */
	c.value_len = 2;
	ck_assert(cmp1(&c));

	c.target = STRATA_CMP_VERSION;
	c.result = STRATA_CMP_EQUAL;
	c.num = 2;
	ck_assert(cmp1(&c));
	c.num = 1;
	ck_assert(!cmp1(&c));
	c.result = STRATA_CMP_GREATER;
	ck_assert(cmp1(&c));

	c.target = STRATA_CMP_CREATE;
	c.result = STRATA_CMP_EQUAL;
	c.num = g.kvs[0].create_rev;
	ck_assert(cmp1(&c));
	c.target = STRATA_CMP_MOD;
	c.num = g.kvs[0].mod_rev;
	ck_assert(cmp1(&c));
	c.num = g.kvs[0].create_rev;
	ck_assert(!cmp1(&c));
	c.target = STRATA_CMP_LEASE;
	c.num = lease;
	ck_assert(cmp1(&c));
	sync_reset(&g);

	/* a missing key: zero numbers, and every VALUE compare fails */
	c.key = "missing";
	c.target = STRATA_CMP_CREATE;
	c.result = STRATA_CMP_EQUAL;
	c.num = 0;
	ck_assert(cmp1(&c));
	c.target = STRATA_CMP_VALUE;
	c.value = "";
	c.value_len = 0;
	ck_assert(!cmp1(&c));
	c.result = STRATA_CMP_NOT_EQUAL;
	ck_assert(!cmp1(&c));

	/* a prefix compare holds when every key under it does */
	ck_assert_int_eq(sync_put(L, S, "r/1", "x", 0, NULL), 0);
	ck_assert_int_eq(sync_put(L, S, "r/2", "x", 0, NULL), 0);
	c.key = "r/";
	c.flags = STRATA_STORE_PREFIX;
	c.value = "x";
	c.value_len = 1;
	c.result = STRATA_CMP_EQUAL;
	ck_assert(cmp1(&c));
	ck_assert_int_eq(sync_put(L, S, "r/3", "y", 0, NULL), 0);
	ck_assert(!cmp1(&c));
	/* "this prefix is empty" */
	c.key = "none/";
	c.target = STRATA_CMP_CREATE;
	c.num = 0;
	ck_assert(cmp1(&c));
}
END_TEST

START_TEST(test_txn_branches)
{
	struct strata_store_cmp cmp = { .key = "t/a", .target = STRATA_CMP_CREATE,
				 .result = STRATA_CMP_EQUAL };
	struct strata_store_op ok[] = {
		{ .type = STRATA_OP_PUT, .key = "t/a", .value = "1",
		  .value_len = 1 },
		{ .type = STRATA_OP_PUT, .key = "t/b", .value = "2",
		  .value_len = 1 },
		{ .type = STRATA_OP_RANGE, .key = "t/", .flags = STRATA_STORE_PREFIX },
	};
	struct strata_store_op bad[] = {
		{ .type = STRATA_OP_RANGE, .key = "t/a" },
		{ .type = STRATA_OP_DELETE, .key = "t/b" },
	};
	struct strata_store_txn t = { .cmp = &cmp, .n_cmp = 1, .success = ok,
			       .n_success = 3, .failure = bad,
			       .n_failure = 2 };
	struct store_sync s, g;
	int64_t rev;

	ck_assert_int_eq(sync_txn(L, S, &t, &s), 0);
	ck_assert(s.succeeded);
	ck_assert_int_eq(s.n, 3);
	/* the range in the txn sees the txn's own puts */
	ck_assert_int_eq(s.n_kvs, 2);
	/* one revision for the whole txn */
	ck_assert_int_eq(s.kvs[0].mod_rev, s.rev);
	ck_assert_int_eq(s.kvs[1].mod_rev, s.rev);
	rev = s.rev;
	sync_reset(&s);

	ck_assert_int_eq(sync_txn(L, S, &t, &s), 0);
	ck_assert(!s.succeeded);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(s.n_kvs, 1);
	ck_assert_str_eq(s.kvs[0].key, "t/a");
	ck_assert_int_eq(s.id, 1); /* deleted t/b */
	ck_assert_int_eq(s.rev, rev + 1);
	sync_reset(&s);
	ck_assert_int_eq(sync_get(L, S, "t/b", 0, &g), 0);
	ck_assert_int_eq(g.n_kvs, 0);
	sync_reset(&g);

	/* refused up front: a key put twice, too many ops */
	ok[1].key = "t/a";
	ck_assert_int_eq(store_txn(S, &t, txn_cb, &s), -EINVAL);
	t.n_success = STORE_MAX_TXN_OPS + 1;
	ck_assert_int_eq(store_txn(S, &t, txn_cb, &s), -EINVAL);
}
END_TEST

START_TEST(test_create_and_cas)
{
	struct store_sync s = { 0 };
	int64_t r1, r2;

	ck_assert_int_eq(store_create(S, "c", "1", 1, 0, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, 0);
	r1 = s.rev;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_create(S, "c", "2", 1, 0, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, -EEXIST);

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_cas(S, "c", r1, "3", 1, 0, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, 0);
	r2 = s.rev;
	ck_assert_int_gt(r2, r1);
	/* a stale mod revision loses */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_cas(S, "c", r1, "4", 1, 0, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, -ECANCELED);
	/* 0 means absent */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_cas(S, "d", 0, "1", 1, 0, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, 0);
}
END_TEST

/* Many writes at once, from two handles, all on one key: exactly one CAS
 * wins per mod revision. */
struct racer {
	struct store *st;
	int64_t seen;
	int wins;
	int losses;
	int active;
	int left;
};

static void race_step(struct racer *r);

static void race_done(void *arg, int err, int64_t rev, int64_t n)
{
	struct racer *r = arg;

	r->active--;
	if (err == 0) {
		r->wins++;
		r->seen = rev;
	} else {
		ck_assert_int_eq(err, -ECANCELED);
		r->losses++;
	}
	race_step(r);
}

static void race_read(void *arg, int err, int64_t rev,
		      const struct strata_kv *kvs, size_t n)
{
	struct racer *r = arg;

	r->active--;
	ck_assert_int_eq(err, 0);
	r->seen = n ? kvs[0].mod_rev : 0;
	race_step(r);
}

static void race_step(struct racer *r)
{
	if (r->left <= 0 || r->active)
		return;
	r->left--;
	r->active++;
	if (r->left % 2)
		ck_assert_int_eq(store_get(r->st, "race", 0, race_read, r), 0);
	else
		ck_assert_int_eq(store_cas(r->st, "race", r->seen, "v", 1, 0,
					   race_done, r),
				 0);
}

START_TEST(test_cas_race)
{
	struct store *s2;
	struct racer r[2] = { { .st = S, .left = 200 }, { .left = 200 } };
	struct store_sync g;
	int64_t end = now_ms() + 20000;

	ck_assert_int_eq(fx->open(L, &s2), 0);
	r[1].st = s2;
	race_step(&r[0]);
	race_step(&r[1]);
	while ((r[0].left || r[0].active || r[1].left || r[1].active) &&
	       now_ms() < end)
		loop_run_once(L, 10);
	ck_assert_int_eq(r[0].left + r[0].active + r[1].left + r[1].active,
			 0);
	ck_assert_int_eq(sync_get(L, S, "race", 0, &g), 0);
	/* every win made exactly one version */
	ck_assert_int_eq(g.kvs[0].version, r[0].wins + r[1].wins);
	ck_assert_int_gt(r[0].wins, 0);
	sync_reset(&g);
	store_close(s2);
}
END_TEST

/* ---- leases ---- */

START_TEST(test_lease_attach_revoke)
{
	struct store_sync g;
	int64_t id, rev;

	ck_assert_int_eq(sync_grant(L, S, 60000, &id), 0);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(sync_put(L, S, "l/1", "a", id, NULL), 0);
	ck_assert_int_eq(sync_put(L, S, "l/2", "b", id, &rev), 0);
	ck_assert_int_eq(sync_put(L, S, "l/3", "c", 0, NULL), 0);
	ck_assert_int_eq(sync_get(L, S, "l/1", 0, &g), 0);
	ck_assert_int_eq(g.kvs[0].lease, id);
	sync_reset(&g);

	/* a put on a lease that does not exist changes nothing */
	ck_assert_int_eq(sync_put(L, S, "l/4", "d", id + 1, NULL), -ENOENT);
	ck_assert_int_eq(sync_get(L, S, "l/4", 0, &g), 0);
	ck_assert_int_eq(g.n_kvs, 0);
	ck_assert_int_eq(g.rev, rev + 1);
	sync_reset(&g);

	ck_assert_int_eq(sync_keepalive(L, S, id), 0);
	ck_assert_int_eq(sync_revoke(L, S, id), 0);
	ck_assert_int_eq(sync_get(L, S, "l/", STRATA_STORE_PREFIX, &g), 0);
	ck_assert_int_eq(g.n_kvs, 1);
	ck_assert_str_eq(g.kvs[0].key, "l/3");
	/* both keys went in one revision */
	ck_assert_int_eq(g.rev, rev + 2);
	sync_reset(&g);
	ck_assert_int_eq(sync_keepalive(L, S, id), -ENOENT);
	ck_assert_int_eq(sync_revoke(L, S, id), -ENOENT);
}
END_TEST

static bool key_exists(struct store *st, const char *key)
{
	struct store_sync g;
	bool there;

	ck_assert_int_eq(sync_get(L, st, key, 0, &g), 0);
	there = g.n_kvs == 1;
	sync_reset(&g);
	return there;
}

START_TEST(test_lease_expiry)
{
	int64_t ttl = fx->min_ttl_ms, a, b, end;

	ck_assert_int_eq(sync_grant(L, S, ttl, &a), 0);
	ck_assert_int_eq(sync_grant(L, S, ttl, &b), 0);
	ck_assert_int_eq(sync_put(L, S, "e/a", "a", a, NULL), 0);
	ck_assert_int_eq(sync_put(L, S, "e/b", "b", b, NULL), 0);
	/* b is kept alive, a is not */
	end = now_ms() + ttl * 2;
	while (now_ms() < end) {
		ck_assert_int_eq(sync_keepalive(L, S, b), 0);
		spin(L, (int)(ttl / 4));
	}
	end = now_ms() + ttl * 3;
	while (key_exists(S, "e/a") && now_ms() < end)
		spin(L, 20);
	ck_assert(!key_exists(S, "e/a"));
	ck_assert(key_exists(S, "e/b"));
	ck_assert_int_eq(sync_keepalive(L, S, a), -ENOENT);
}
END_TEST

/* ---- watches ---- */

struct wlog {
	int calls;
	int err;
	int64_t rev;
	size_t n;
	struct {
		uint32_t type;
		char key[32];
		char value[32];
		int64_t mod_rev;
		int64_t version;
	} ev[256];
	int64_t batch_rev[64];
	size_t batch_n[64];
	struct store_watch *w;
	bool cancel_in_cb;
};

static void watch_cb(void *arg, int err, int64_t rev,
		     const struct strata_store_event *ev, size_t n)
{
	struct wlog *l = arg;
	size_t i;

	if (l->calls < 64) {
		l->batch_rev[l->calls] = rev;
		l->batch_n[l->calls] = n;
	}
	l->calls++;
	l->err = err;
	l->rev = rev;
	for (i = 0; i < n && l->n < 256; i++, l->n++) {
		l->ev[l->n].type = ev[i].type;
		snprintf(l->ev[l->n].key, 32, "%s", ev[i].kv.key);
		snprintf(l->ev[l->n].value, 32, "%s",
			 (const char *)ev[i].kv.value);
		l->ev[l->n].mod_rev = ev[i].kv.mod_rev;
		l->ev[l->n].version = ev[i].kv.version;
		ck_assert(i == 0 || ev[i].kv.mod_rev >= ev[i - 1].kv.mod_rev);
	}
	if (l->cancel_in_cb) {
		store_watch_cancel(l->w);
		l->w = NULL;
	}
}

static void wait_events(struct wlog *l, size_t n, int ms)
{
	int64_t end = now_ms() + ms;

	while (l->n < n && !l->err && now_ms() < end)
		loop_run_once(L, 10);
}

START_TEST(test_watch_prefix)
{
	struct wlog *l = calloc(1, sizeof(*l));
	struct strata_store_op ops[] = {
		{ .type = STRATA_OP_PUT, .key = "w/x", .value = "2",
		  .value_len = 1 },
		{ .type = STRATA_OP_DELETE, .key = "w/a" },
	};
	struct strata_store_txn t = { .success = ops, .n_success = 2 };
	struct store_sync s;
	int64_t r1;
	int calls;

	ck_assert_int_eq(store_watch(S, "w/", STRATA_STORE_PREFIX, 0, watch_cb, l,
				     &l->w),
			 0);
	ck_assert_int_eq(sync_put(L, S, "w/a", "1", 0, &r1), 0);
	ck_assert_int_eq(sync_put(L, S, "other", "1", 0, NULL), 0);
	ck_assert_int_eq(sync_put(L, S, "w/a", "1b", 0, NULL), 0);
	ck_assert_int_eq(sync_txn(L, S, &t, &s), 0);
	wait_events(l, 4, 5000);
	ck_assert_int_eq(l->err, 0);
	ck_assert_int_eq(l->n, 4);
	ck_assert_int_eq(l->ev[0].type, STRATA_EVENT_PUT);
	ck_assert_str_eq(l->ev[0].key, "w/a");
	ck_assert_int_eq(l->ev[0].mod_rev, r1);
	ck_assert_int_eq(l->ev[1].version, 2);
	ck_assert_str_eq(l->ev[1].value, "1b");
	ck_assert_int_eq(l->ev[2].type, STRATA_EVENT_PUT);
	ck_assert_str_eq(l->ev[2].key, "w/x");
	ck_assert_int_eq(l->ev[3].type, STRATA_EVENT_DELETE);
	ck_assert_str_eq(l->ev[3].key, "w/a");
	/* the txn's two events share its revision */
	ck_assert_int_eq(l->ev[2].mod_rev, s.rev);
	ck_assert_int_eq(l->ev[3].mod_rev, s.rev);
	ck_assert_int_eq(l->ev[1].mod_rev, r1 + 2);

	/* from a past revision: the same history again */
	store_watch_cancel(l->w);
	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(store_watch(S, "w/a", 0, r1 + 1, watch_cb, l, &l->w),
			 0);
	wait_events(l, 2, 5000);
	ck_assert_int_eq(l->n, 2);
	ck_assert_str_eq(l->ev[0].value, "1b");
	ck_assert_int_eq(l->ev[1].type, STRATA_EVENT_DELETE);
	/* a watch on one key does not see its neighbours */
	ck_assert_int_eq(sync_put(L, S, "w/ab", "z", 0, NULL), 0);
	ck_assert_int_eq(sync_put(L, S, "w/a", "3", 0, NULL), 0);
	wait_events(l, 3, 5000);
	ck_assert_int_eq(l->n, 3);
	ck_assert_str_eq(l->ev[2].value, "3");

	/* cancelled from its own callback: no more calls */
	calls = l->calls;
	l->cancel_in_cb = true;
	ck_assert_int_eq(sync_put(L, S, "w/a", "4", 0, NULL), 0);
	wait_events(l, 4, 5000);
	ck_assert_int_eq(l->calls, calls + 1);
	ck_assert_ptr_null(l->w);
	ck_assert_int_eq(sync_put(L, S, "w/a", "5", 0, NULL), 0);
	spin(L, 100);
	ck_assert_int_eq(l->calls, calls + 1);
	free(l);
}
END_TEST

/* A second handle (another daemon) sees the first one's writes. */
START_TEST(test_watch_other_handle)
{
	struct wlog *l = calloc(1, sizeof(*l));
	struct store *s2;
	int64_t t0, i;

	ck_assert_int_eq(fx->open(L, &s2), 0);
	ck_assert_int_eq(store_watch(s2, "o/", STRATA_STORE_PREFIX, 0, watch_cb, l,
				     &l->w),
			 0);
	spin(L, 20);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(sync_put(L, S, "o/k", "v", 0, NULL), 0);
	t0 = now_ms(); /* the puts' commits are not the watch's doing */
	wait_events(l, 5, 5000);
	ck_assert_int_eq(l->n, 5);
	ck_assert_int_eq(l->ev[4].version, 5);
	/* promptly, not at some poll interval */
	ck_assert_int_lt(now_ms() - t0, 900);
	store_watch_cancel(l->w);
	store_close(s2);
	free(l);
}
END_TEST

/* ---- compaction ---- */

START_TEST(test_compaction)
{
	struct wlog *l = calloc(1, sizeof(*l));
	struct store_sync s = { 0 };
	int64_t r1, r2, r3;
	int i;

	ck_assert_int_eq(sync_put(L, S, "c/a", "1", 0, &r1), 0);
	ck_assert_int_eq(sync_put(L, S, "c/a", "2", 0, &r2), 0);
	ck_assert_int_eq(sync_put(L, S, "c/a", "3", 0, &r3), 0);
	ck_assert_int_eq(store_compact(S, r2, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, 0);

	/* from before the compaction: re-list */
	ck_assert_int_eq(store_watch(S, "c/", STRATA_STORE_PREFIX, r1, watch_cb, l,
				     &l->w),
			 0);
	/* etcd finds it in its next sync of watchers, up to 100 ms later */
	for (i = 0; i < 200 && !l->calls; i++)
		loop_run_once(L, 10);
	spin(L, 50);
	ck_assert_int_eq(l->calls, 1);
	ck_assert_int_eq(l->err, -ESTALE);
	ck_assert_int_eq(l->rev, r2);
	/* an ended watch stays quiet until cancelled */
	ck_assert_int_eq(sync_put(L, S, "c/a", "4", 0, NULL), 0);
	spin(L, 50);
	ck_assert_int_eq(l->calls, 1);
	store_watch_cancel(l->w);

	/* from the compaction revision on: fine */
	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(store_watch(S, "c/", STRATA_STORE_PREFIX, r2, watch_cb, l,
				     &l->w),
			 0);
	wait_events(l, 3, 5000);
	ck_assert_int_eq(l->err, 0);
	ck_assert_int_eq(l->n, 3);
	ck_assert_str_eq(l->ev[0].value, "2");
	store_watch_cancel(l->w);

	/* a future revision, or one already compacted, is refused */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_compact(S, r3 + 100, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, -EINVAL);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_compact(S, r1, done_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, -ESTALE);
	free(l);
}
END_TEST

/* ---- schema ---- */

struct schema_res {
	bool done;
	int err;
	uint32_t version;
};

static void schema_cb(void *arg, int err, uint32_t version)
{
	struct schema_res *r = arg;

	r->done = true;
	r->err = err;
	r->version = version;
}

static struct schema_res schema(void)
{
	struct schema_res r = { 0 };

	ck_assert_int_eq(store_schema_check(S, schema_cb, &r), 0);
	sync_wait(L, &r.done, WAIT_MS);
	return r;
}

START_TEST(test_schema)
{
	struct store_sync g;
	struct schema_res r;

	r = schema();
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.version, STORE_SCHEMA_MAX);
	ck_assert_int_eq(sync_get(L, S, STORE_SCHEMA_KEY, 0, &g), 0);
	ck_assert_int_eq(g.n_kvs, 1);
	sync_reset(&g);
	r = schema(); /* found, not rewritten */
	ck_assert_int_eq(r.err, 0);

	ck_assert_int_eq(sync_put(L, S, STORE_SCHEMA_KEY, "99", 0, NULL), 0);
	r = schema();
	ck_assert_int_eq(r.err, -EPROTONOSUPPORT);
	ck_assert_uint_eq(r.version, 99);
	ck_assert_int_eq(sync_put(L, S, STORE_SCHEMA_KEY, "junk", 0, NULL), 0);
	r = schema();
	ck_assert_int_eq(r.err, -EPROTONOSUPPORT);
}
END_TEST

START_TEST(test_check)
{
	char rep[256];

	ck_assert_int_eq(sync_put(L, S, "x", "y", 0, NULL), 0);
	ck_assert_int_eq(sync_check(L, S, rep, sizeof(rep)), 0);
	ck_assert_str_eq(rep, "ok");
}
END_TEST

/* ---- election ---- */

struct cand {
	struct election *e;
	int became;
	int lost;
	bool leader;
};

static void elect_cb(void *arg, bool leader)
{
	struct cand *c = arg;

	c->leader = leader;
	if (leader)
		c->became++;
	else
		c->lost++;
}

static void wait_leader(struct cand *c, int n, int ms)
{
	int64_t end = now_ms() + ms;
	int i;

	for (;;) {
		for (i = 0; i < n; i++)
			if (c[i].leader)
				return;
		if (now_ms() >= end)
			break;
		loop_run_once(L, 10);
	}
	ck_abort_msg("no leader after %d ms", ms);
}

START_TEST(test_election)
{
	struct election_options o = { .size = sizeof(o), .key = "elect/lead",
				      .ttl_ms = fx->min_ttl_ms * 2,
				      .retry_ms = 50 };
	struct cand c[2] = { { 0 } };
	struct store *s2;
	struct strata_store_op put = { .type = STRATA_OP_PUT, .key = "elect/data",
				.value = "w", .value_len = 1 };
	struct strata_store_txn t = { .success = &put, .n_success = 1 };
	struct store_sync s;
	struct store_sync g;
	int lead, other, i;
	int64_t end;

	ck_assert_int_eq(fx->open(L, &s2), 0);
	o.value = "one";
	ck_assert_int_eq(election_start(S, L, &o, elect_cb, &c[0], &c[0].e),
			 0);
	o.value = "two";
	ck_assert_int_eq(election_start(s2, L, &o, elect_cb, &c[1], &c[1].e),
			 0);
	wait_leader(c, 2, 5000);
	/* give the loser time to see it lost: still one leader */
	spin(L, (int)o.ttl_ms);
	ck_assert_int_eq(c[0].leader + c[1].leader, 1);
	lead = c[0].leader ? 0 : 1;
	other = 1 - lead;
	ck_assert(election_is_leader(c[lead].e));
	ck_assert(!election_is_leader(c[other].e));
	ck_assert_int_gt(election_remaining(c[lead].e), 0);
	ck_assert_int_le(election_remaining(c[lead].e), o.ttl_ms * 1000000);
	ck_assert_int_gt(election_term(c[lead].e), 0);
	ck_assert_int_eq(sync_get(L, S, "elect/lead", 0, &g), 0);
	ck_assert_str_eq(val(&g.kvs[0]), lead ? "two" : "one");
	ck_assert_int_eq(g.kvs[0].create_rev, election_term(c[lead].e));
	ck_assert_int_ne(g.kvs[0].lease, 0);
	sync_reset(&g);

	/* fenced writes: the leader's apply, the other's are refused */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(election_txn(c[lead].e, &t, txn_cb, &s), 0);
	sync_wait(L, &s.done, WAIT_MS);
	ck_assert_int_eq(s.err, 0);
	ck_assert(s.succeeded);
	ck_assert_int_eq(election_txn(c[other].e, &t, txn_cb, &s), -EPERM);

	/* the leader stays leader across several lease periods */
	spin(L, (int)o.ttl_ms * 2);
	ck_assert(election_is_leader(c[lead].e));
	ck_assert_int_eq(c[lead].lost, 0);

	/* resigning hands over at once, not after the lease */
	election_stop(c[lead].e);
	c[lead].e = NULL;
	c[lead].leader = false;
	end = now_ms() + 5000;
	while (!c[other].leader && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert(c[other].leader);
	ck_assert(election_is_leader(c[other].e));

	/* someone else takes the key away: the leader stops at once */
	ck_assert_int_eq(sync_delete(L, S, "elect/lead", 0, NULL), 0);
	end = now_ms() + 2000;
	while (!c[other].lost && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert_int_eq(c[other].lost, 1);
	/* and campaigns again, and wins: nobody else is left */
	for (i = 0; i < 100 && !c[other].leader; i++)
		loop_run_once(L, 20);
	ck_assert(c[other].leader);
	election_stop(c[other].e);
	/* let the revoke complete before the store goes */
	spin(L, 50);
	store_close(s2);
}
END_TEST

/* The holder's lease is revoked behind its back: it stops acting. */
START_TEST(test_election_lease_lost)
{
	struct election_options o = { .size = sizeof(o), .key = "elect/l",
				      .value = "me",
				      .ttl_ms = fx->min_ttl_ms * 2,
				      .retry_ms = 50 };
	struct cand c = { 0 };
	struct store_sync g;
	int64_t end;

	ck_assert_int_eq(election_start(S, L, &o, elect_cb, &c, &c.e), 0);
	wait_leader(&c, 1, 5000);
	ck_assert_int_eq(sync_get(L, S, "elect/l", 0, &g), 0);
	ck_assert_int_eq(sync_revoke(L, S, g.kvs[0].lease), 0);
	sync_reset(&g);
	end = now_ms() + 3000;
	while (!c.lost && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert_int_eq(c.lost, 1);
	/* it comes back with a new lease */
	end = now_ms() + 5000;
	while (!c.leader && now_ms() < end)
		loop_run_once(L, 10);
	ck_assert(c.leader);
	ck_assert_int_eq(c.became, 2);
	election_stop(c.e);
	spin(L, 50);
}
END_TEST

Suite *store_conformance_suite(const struct store_fixture *f)
{
	Suite *s = suite_create(f->name);
	TCase *tc = tcase_create("conformance");

	fx = f;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_revisions);
	tcase_add_test(tc, test_binary_values);
	tcase_add_test(tc, test_range_prefix);
	tcase_add_test(tc, test_prefix_end);
	tcase_add_test(tc, test_compares);
	tcase_add_test(tc, test_txn_branches);
	tcase_add_test(tc, test_create_and_cas);
	tcase_add_test(tc, test_cas_race);
	tcase_add_test(tc, test_lease_attach_revoke);
	tcase_add_test(tc, test_lease_expiry);
	tcase_add_test(tc, test_watch_prefix);
	tcase_add_test(tc, test_watch_other_handle);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_schema);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_election);
	tcase_add_test(tc, test_election_lease_lost);
	suite_add_tcase(s, tc);
	return s;
}
