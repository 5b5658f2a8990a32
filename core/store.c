/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backend-independent part of the store: choosing a backend, checking
 * arguments the same way for every backend, the helpers built on
 * store_txn(), and the schema version check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_backend.h"

void store_prefix_end(const char *prefix, char *out)
{
	size_t n = strlen(prefix);

	memcpy(out, prefix, n + 1);
	while (n > 0) {
		unsigned char c = (unsigned char)out[n - 1];

		if (c < 0xff) {
			out[n - 1] = (char)(c + 1);
			out[n] = '\0';
			return;
		}
		out[--n] = '\0';
	}
}

const char *store_range_end(const char *key, uint32_t flags, char *buf)
{
	if (!(flags & STRATA_STORE_PREFIX))
		return NULL;
	store_prefix_end(key, buf);
	return buf;
}

int store_open(struct loop *loop, const struct store_options *opt,
	       struct store **out, char *errbuf, size_t errlen)
{
	const char *url = opt ? opt->url : NULL;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!loop || !opt || opt->size < sizeof(*opt) || !url || !*url) {
		if (errbuf)
			snprintf(errbuf, errlen, "store: no location given");
		return -EINVAL;
	}
	if (!strncmp(url, "sqlite:", 7))
		return store_sqlite_open(loop, opt, url + 7, out, errbuf,
					 errlen);
	if (!strncmp(url, "etcd:", 5))
		return store_etcd_open(loop, opt, url + 5, out, errbuf,
				       errlen);
	if (strstr(url, "://")) {
		if (errbuf)
			snprintf(errbuf, errlen,
				 "store %s: not a store URL (sqlite:PATH or "
				 "etcd:http://HOST:PORT)", url);
		return -EPROTONOSUPPORT;
	}
	return store_sqlite_open(loop, opt, url, out, errbuf, errlen);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

const char *store_backend(const struct store *st)
{
	return st->ops->name;
}

static bool key_ok(const char *key, uint32_t flags)
{
	if (!key)
		return false;
	/* Only a prefix may be empty: "" then means every key. */
	return *key || (flags & STRATA_STORE_PREFIX);
}

static int check_ops(const struct strata_store_op *ops, size_t n)
{
	size_t i, j;

	if (n > STORE_MAX_TXN_OPS || (n && !ops))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const struct strata_store_op *op = &ops[i];

		switch (op->type) {
		case STRATA_OP_RANGE:
			if (op->limit < 0)
				return -EINVAL;
			break;
		case STRATA_OP_PUT:
			if (op->flags || op->lease < 0 ||
			    op->value_len > STORE_MAX_VALUE ||
			    (op->value_len && !op->value))
				return -EINVAL;
			/* etcd refuses a txn that writes one key twice */
			for (j = 0; j < i; j++)
				if (ops[j].type == STRATA_OP_PUT &&
				    !strcmp(ops[j].key, op->key))
					return -EINVAL;
			break;
		case STRATA_OP_DELETE:
			if (op->flags & ~STRATA_STORE_PREFIX)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
		if (!key_ok(op->key, op->flags))
			return -EINVAL;
	}
	return 0;
}

static int check_txn(const struct strata_store_txn *txn)
{
	size_t i;
	int err;

	if (!txn || txn->n_cmp > STORE_MAX_TXN_OPS ||
	    (txn->n_cmp && !txn->cmp))
		return -EINVAL;
	for (i = 0; i < txn->n_cmp; i++) {
		const struct strata_store_cmp *c = &txn->cmp[i];

		if (!key_ok(c->key, c->flags) || (c->flags & ~STRATA_STORE_PREFIX) ||
		    c->target > STRATA_CMP_LEASE || c->result > STRATA_CMP_GREATER ||
		    (c->target == STRATA_CMP_VALUE && c->value_len &&
		     !c->value))
			return -EINVAL;
	}
	err = check_ops(txn->success, txn->n_success);
	if (err)
		return err;
	return check_ops(txn->failure, txn->n_failure);
}

int store_txn(struct store *st, const struct strata_store_txn *txn, store_txn_cb cb,
	      void *arg)
{
	int err;

	if (!st || !cb)
		return -EINVAL;
	err = check_txn(txn);
	if (err)
		return err;
	return st->ops->txn(st, txn, cb, arg);
}

/* The helpers: one txn each, the result translated for their callback. */
struct helper {
	union {
		store_range_cb range;
		store_done_cb done;
	} cb;
	void *arg;
	int fail_err; /* err when the compare failed */
};

static void range_done(void *arg, int err, const struct strata_store_txn_result *res)
{
	struct helper *h = arg;

	if (err)
		h->cb.range(h->arg, err, 0, NULL, 0);
	else
		h->cb.range(h->arg, 0, res->revision, res->results[0].kvs,
			    res->results[0].n_kvs);
	free(h);
}

static void write_done(void *arg, int err, const struct strata_store_txn_result *res)
{
	struct helper *h = arg;

	if (err)
		h->cb.done(h->arg, err, 0, 0);
	else if (!res->succeeded)
		h->cb.done(h->arg, h->fail_err, res->revision, 0);
	else
		h->cb.done(h->arg, 0, res->revision,
			   res->n_results &&
					   res->results[0].type ==
						   STRATA_OP_DELETE ?
				   res->results[0].count :
				   0);
	free(h);
}

static int helper_txn(struct store *st, const struct strata_store_txn *txn,
		      store_txn_cb tcb, struct helper *h)
{
	int err;

	err = store_txn(st, txn, tcb, h);
	if (err)
		free(h);
	return err;
}

static struct helper *helper_new(void *arg, int fail_err)
{
	struct helper *h = calloc(1, sizeof(*h));

	if (h) {
		h->arg = arg;
		h->fail_err = fail_err;
	}
	return h;
}

/* A txn of one range or delete, completed through the helper's cb. */
static int one_op(struct store *st, uint32_t type, const char *key,
		  uint32_t flags, store_txn_cb done, struct helper *h)
{
	struct strata_store_op op = { .type = type, .flags = flags,
				      .key = key };
	struct strata_store_txn txn = { .success = &op, .n_success = 1 };

	return helper_txn(st, &txn, done, h);
}

int store_get(struct store *st, const char *key, uint32_t flags,
	      store_range_cb cb, void *arg)
{
	struct helper *h;

	if (!cb)
		return -EINVAL;
	h = helper_new(arg, 0);
	if (!h)
		return -ENOMEM;
	h->cb.range = cb;
	return one_op(st, STRATA_OP_RANGE, key, flags, range_done, h);
}

static int put_if(struct store *st, const struct strata_store_cmp *cmp, int fail_err,
		  const char *key, const void *value, size_t value_len,
		  int64_t lease, store_done_cb cb, void *arg)
{
	struct strata_store_op op = { .type = STRATA_OP_PUT, .key = key,
			       .value = value, .value_len = value_len,
			       .lease = lease };
	struct strata_store_txn txn = { .cmp = cmp, .n_cmp = cmp ? 1 : 0,
				 .success = &op, .n_success = 1 };
	struct helper *h;

	if (!cb)
		return -EINVAL;
	h = helper_new(arg, fail_err);
	if (!h)
		return -ENOMEM;
	h->cb.done = cb;
	return helper_txn(st, &txn, write_done, h);
}

int store_put(struct store *st, const char *key, const void *value,
	      size_t value_len, int64_t lease, store_done_cb cb, void *arg)
{
	return put_if(st, NULL, 0, key, value, value_len, lease, cb, arg);
}

int store_create(struct store *st, const char *key, const void *value,
		 size_t value_len, int64_t lease, store_done_cb cb, void *arg)
{
	struct strata_store_cmp cmp = { .key = key, .target = STRATA_CMP_CREATE,
				 .result = STRATA_CMP_EQUAL, .num = 0 };

	return put_if(st, &cmp, -EEXIST, key, value, value_len, lease, cb,
		      arg);
}

int store_cas(struct store *st, const char *key, int64_t mod_rev,
	      const void *value, size_t value_len, int64_t lease,
	      store_done_cb cb, void *arg)
{
	struct strata_store_cmp cmp = { .key = key, .target = STRATA_CMP_MOD,
				 .result = STRATA_CMP_EQUAL, .num = mod_rev };

	return put_if(st, &cmp, -ECANCELED, key, value, value_len, lease, cb,
		      arg);
}

int store_delete(struct store *st, const char *key, uint32_t flags,
		 store_done_cb cb, void *arg)
{
	struct helper *h;

	if (!cb)
		return -EINVAL;
	h = helper_new(arg, 0);
	if (!h)
		return -ENOMEM;
	h->cb.done = cb;
	return one_op(st, STRATA_OP_DELETE, key, flags, write_done, h);
}

int store_lease_grant(struct store *st, int64_t ttl_ms, int64_t id,
		      store_lease_cb cb, void *arg)
{
	if (!st || !cb || ttl_ms <= 0 || id < 0)
		return -EINVAL;
	return st->ops->lease_grant(st, ttl_ms, id, cb, arg);
}

int store_lease_keepalive(struct store *st, int64_t id, store_lease_cb cb,
			  void *arg)
{
	if (!st || !cb || id <= 0)
		return -EINVAL;
	return st->ops->lease_keepalive(st, id, cb, arg);
}

int store_lease_revoke(struct store *st, int64_t id, store_done_cb cb,
		       void *arg)
{
	if (!st || !cb || id <= 0)
		return -EINVAL;
	return st->ops->lease_revoke(st, id, cb, arg);
}

int store_watch(struct store *st, const char *key, uint32_t flags,
		int64_t start_rev, store_watch_cb cb, void *arg,
		struct store_watch **out)
{
	char *buf;
	const char *end;
	int err;

	if (!st || !cb || !out || start_rev < 0 || !key_ok(key, flags) ||
	    (flags & ~STRATA_STORE_PREFIX))
		return -EINVAL;
	buf = malloc(strlen(key) + 1);
	if (!buf)
		return -ENOMEM;
	end = store_range_end(key, flags, buf);
	err = st->ops->watch(st, key, end, start_rev, cb, arg, out);
	free(buf);
	return err;
}

void store_watch_cancel(struct store_watch *w)
{
	if (w)
		w->st->ops->watch_cancel(w);
}

int store_compact(struct store *st, int64_t rev, store_done_cb cb, void *arg)
{
	if (!st || !cb || rev <= 0)
		return -EINVAL;
	return st->ops->compact(st, rev, cb, arg);
}

int store_check(struct store *st, store_check_cb cb, void *arg)
{
	if (!st || !cb)
		return -EINVAL;
	return st->ops->check(st, cb, arg);
}

/* Schema: read the key; create it if absent (racing daemons: one wins and
 * the others read what it wrote). */
struct schema_ctx {
	struct store *st;
	store_schema_cb cb;
	void *arg;
	char value[16];
};

static int parse_schema(const struct strata_kv *kv, uint32_t *out)
{
	char buf[16], *end;
	unsigned long v;

	if (kv->value_len == 0 || kv->value_len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, kv->value, kv->value_len);
	buf[kv->value_len] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || *end || buf[0] == '-' || v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void schema_txn_done(void *arg, int err,
			    const struct strata_store_txn_result *res)
{
	struct schema_ctx *c = arg;
	const struct strata_store_op_result *r;
	uint32_t v = STORE_SCHEMA_MAX;

	if (err) {
		log_err("store: cannot read schema key %s: %s",
			STORE_SCHEMA_KEY, strerror(-err));
		goto out;
	}
	if (res->succeeded)
		goto out; /* we wrote ours */
	r = &res->results[0];
	if (r->n_kvs != 1) {
		err = -EIO;
		goto out;
	}
	if (parse_schema(&r->kvs[0], &v)) {
		log_err("store: schema key %s holds \"%.*s\", not a version "
			"number; refusing the store",
			STORE_SCHEMA_KEY, (int)(r->kvs[0].value_len > 32 ?
						32 : r->kvs[0].value_len),
			(const char *)r->kvs[0].value);
		err = -EPROTONOSUPPORT;
		v = 0;
		goto out;
	}
	if (v < STORE_SCHEMA_MIN || v > STORE_SCHEMA_MAX) {
		log_err("store: schema version %" PRIu32 " in %s is not one "
			"this stratad knows (%u..%u); %s",
			v, STORE_SCHEMA_KEY, STORE_SCHEMA_MIN,
			STORE_SCHEMA_MAX,
			v > STORE_SCHEMA_MAX ?
				"upgrade stratad to a version that reads it" :
				"the store is older than this stratad reads; "
				"migrate it with the release that wrote it");
		err = -EPROTONOSUPPORT;
	}
out:
	c->cb(c->arg, err, err ? (err == -EPROTONOSUPPORT ? v : 0) : v);
	free(c);
}

int store_schema_check(struct store *st, store_schema_cb cb, void *arg)
{
	struct schema_ctx *c;
	struct strata_store_cmp cmp = { .key = STORE_SCHEMA_KEY,
				 .target = STRATA_CMP_CREATE,
				 .result = STRATA_CMP_EQUAL };
	struct strata_store_op put = { .type = STRATA_OP_PUT, .key = STORE_SCHEMA_KEY };
	struct strata_store_op get = { .type = STRATA_OP_RANGE,
				.key = STORE_SCHEMA_KEY };
	struct strata_store_txn txn = { .cmp = &cmp, .n_cmp = 1, .success = &put,
				 .n_success = 1, .failure = &get,
				 .n_failure = 1 };
	int err;

	if (!st || !cb)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->st = st;
	c->cb = cb;
	c->arg = arg;
	snprintf(c->value, sizeof(c->value), "%u", STORE_SCHEMA_MAX);
	put.value = c->value;
	put.value_len = strlen(c->value);
	err = store_txn(st, &txn, schema_txn_done, c);
	if (err)
		free(c);
	return err;
}
