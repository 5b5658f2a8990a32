/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded store: SQLite in WAL mode, one file shared by every stratad
 * on the machine.
 *
 * Threads. Each store has two connections. Reads (txns without writes,
 * watches, lease timers) run on the loop thread's connection: in WAL mode a
 * reader never waits for a writer. Writes go to a worker thread with its
 * own connection; it takes everything queued, runs it in one transaction
 * (BEGIN IMMEDIATE .. COMMIT: one fsync for the lot, which is the group
 * commit) and hands the results back to the loop through an eventfd.
 * Writes that arrive while a commit is in flight share the next one.
 *
 * Durability: synchronous=FULL in WAL mode syncs the WAL on every commit,
 * so an acknowledged write survives a power cut; NORMAL would only survive
 * a process crash. A torn last commit fails its frame checksums and is
 * ignored at the next open.
 *
 * Other processes' writes: after each commit the worker writes one byte to
 * PATH-notify; every process keeps an inotify watch on that file and reads
 * the new history then. (An inotify on the WAL itself fires before the
 * commit is visible: the WAL index is updated through shared memory after
 * the last write, so that event can come too early and no later one
 * follows.) A slow PRAGMA data_version poll catches writers that are not
 * strata.
 *
 * Leases keep their deadline in the database, as CLOCK_REALTIME and as
 * CLOCK_BOOTTIME with the kernel's boot id: every process on the machine,
 * and every process after a restart, agrees when a lease ends. Within one
 * boot the boot clock decides, so a step of the wall clock cannot end a
 * lease early while its holder (fencing by its own monotonic clock) still
 * acts; after a reboot only the wall clock means anything, and every holder
 * of the old boot is gone anyway. Any process may expire any lease.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "loop.h"
#include "store.h"
#include "store_backend.h"

#define SQ_APP_ID 0x53545241 /* "STRA" */
#define SQ_LAYOUT 1          /* PRAGMA user_version of this layout */
#define SQ_WATCH_ROWS 4096   /* history rows per watch callback, about */

#define META_REV 1
#define META_COMPACT 2

static const char schema_sql[] =
	"CREATE TABLE meta(k INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
	"INSERT INTO meta VALUES(1, 0), (2, 0);"
	"CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL,"
	" create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL,"
	" version INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX kv_lease ON kv(lease) WHERE lease != 0;"
	"CREATE TABLE history(rev INTEGER NOT NULL, sub INTEGER NOT NULL,"
	" type INTEGER NOT NULL, key BLOB NOT NULL, value BLOB,"
	" create_rev INTEGER NOT NULL, version INTEGER NOT NULL,"
	" lease INTEGER NOT NULL, PRIMARY KEY(rev, sub)) WITHOUT ROWID;"
	"CREATE TABLE lease(id INTEGER PRIMARY KEY, ttl_ms INTEGER NOT NULL,"
	" boot_id TEXT NOT NULL, deadline_boot INTEGER NOT NULL,"
	" deadline_real INTEGER NOT NULL);"
	"PRAGMA application_id = 1398035009;" /* SQ_APP_ID */
	"PRAGMA user_version = 1;";

enum {
	S_META_GET,
	S_META_SET,
	S_KV_GET,
	S_KV_RANGE,
	S_KV_FROM,
	S_CNT_RANGE,
	S_CNT_FROM,
	S_KV_PUT,
	S_KV_DEL,
	S_HIST_ADD,
	S_HIST_READ,
	S_HIST_COMPACT,
	S_LEASE_GET,
	S_LEASE_PUT,
	S_LEASE_DEL,
	S_LEASE_KEYS,
	S_LEASE_EXPIRED,
	S_LEASE_NEXT,
	S_BEGIN,
	S_BEGIN_IMM,
	S_COMMIT,
	S_ROLLBACK,
	S_DATA_VERSION,
	N_STMT
};

#define KV_COLS "key, value, create_rev, mod_rev, version, lease"
#define EXPIRED "(boot_id = ?1 AND deadline_boot <= ?2) OR " \
		"(boot_id != ?1 AND deadline_real <= ?3)"

static const char *const stmt_sql[N_STMT] = {
	[S_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[S_META_SET] = "UPDATE meta SET v = ?2 WHERE k = ?1",
	[S_KV_GET] = "SELECT " KV_COLS " FROM kv WHERE key = ?1",
	[S_KV_RANGE] = "SELECT " KV_COLS " FROM kv WHERE key >= ?1 AND "
		       "key < ?2 ORDER BY key LIMIT ?3",
	[S_KV_FROM] = "SELECT " KV_COLS " FROM kv WHERE key >= ?1 "
		      "ORDER BY key LIMIT ?3",
	[S_CNT_RANGE] = "SELECT count(*) FROM kv WHERE key >= ?1 AND key < ?2",
	[S_CNT_FROM] = "SELECT count(*) FROM kv WHERE key >= ?1",
	[S_KV_PUT] = "INSERT OR REPLACE INTO kv VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
	[S_HIST_ADD] = "INSERT INTO history VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
		       "?7, ?8)",
	[S_HIST_READ] = "SELECT rev, type, key, value, create_rev, version, "
			"lease FROM history WHERE rev >= ?1 AND rev <= ?2 AND "
			"key >= ?3 AND (?4 IS NULL OR key < ?4) "
			"ORDER BY rev, sub LIMIT ?5",
	[S_HIST_COMPACT] = "DELETE FROM history WHERE rev < ?1",
	[S_LEASE_GET] = "SELECT ttl_ms, boot_id, deadline_boot, deadline_real "
			"FROM lease WHERE id = ?1",
	[S_LEASE_PUT] = "INSERT OR REPLACE INTO lease VALUES(?1, ?2, ?3, ?4, "
			"?5)",
	[S_LEASE_DEL] = "DELETE FROM lease WHERE id = ?1",
	[S_LEASE_KEYS] = "SELECT key, create_rev, version FROM kv "
			 "WHERE lease = ?1 ORDER BY key",
	[S_LEASE_EXPIRED] = "SELECT id FROM lease WHERE " EXPIRED
			    " ORDER BY id LIMIT 64",
	[S_LEASE_NEXT] = "SELECT min(CASE WHEN boot_id = ?1 THEN "
			 "deadline_boot - ?2 ELSE deadline_real - ?3 END) "
			 "FROM lease",
	[S_BEGIN] = "BEGIN",
	[S_BEGIN_IMM] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_DATA_VERSION] = "PRAGMA data_version",
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *s[N_STMT];
};

/* A key range [key, end): end NULL is the key alone, "" has no end. */
struct rng {
	char *key;
	char *end;
};

struct sq_cmp {
	struct rng r;
	uint32_t target;
	uint32_t result;
	void *value;
	size_t value_len;
	int64_t num;
};

struct sq_op {
	uint32_t type;
	uint32_t flags;
	struct rng r;
	void *value;
	size_t value_len;
	int64_t lease;
	int64_t limit;
};

enum req_kind {
	REQ_TXN,
	REQ_GRANT,
	REQ_KEEPALIVE,
	REQ_REVOKE,
	REQ_EXPIRE,
	REQ_COMPACT,
	REQ_CHECK,
};

struct kvvec {
	struct strata_kv *v;
	size_t n;
	size_t cap;
};

struct sq_req {
	struct sq_req *next;
	enum req_kind kind;
	union {
		store_txn_cb txn;
		store_done_cb done;
		store_lease_cb lease;
		store_check_cb check;
	} cb;
	void *arg;
	/* in */
	struct sq_cmp *cmp;
	size_t n_cmp;
	struct sq_op *ops[2]; /* success, failure */
	size_t n_ops[2];
	int64_t id;
	int64_t ttl_ms;
	int64_t rev;
	/* out */
	int err;
	bool succeeded;
	int64_t out_rev;
	int64_t out_n;
	struct strata_store_op_result *res;
	struct kvvec *res_kvs;
	size_t n_res;
	char *report;
};

struct sq_watch {
	struct store_watch base;
	struct sq_watch *next;
	struct rng r;
	int64_t next_rev;
	store_watch_cb cb;
	void *arg;
	bool ended; /* an error was delivered */
	bool dead;  /* cancelled while delivering */
};

struct sq {
	struct store base;
	char *path;
	char *notify_path;
	struct conn rd; /* loop thread */
	struct conn wr; /* worker thread */
	char boot_id[48];
	int64_t history;
	int64_t busy_ms;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sq_req *queue, **queue_tail;
	struct sq_req *done, **done_tail;
	bool stopping;

	int efd; /* worker -> loop */
	struct loop_fd *efd_w;
	struct loop_defer *done_defer;
	int notify_fd;
	int ino_fd;
	struct loop_fd *ino_w;
	struct loop_timer *poll_t;
	int64_t data_version;
	struct loop_timer *lease_t;
	bool expire_queued;
	struct loop_defer *poke_defer;
	struct sq_watch *watches;
	int delivering;
	bool closing;
};

static const struct store_backend_ops sq_ops;

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sq_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_TOOBIG:
		return -E2BIG;
	default:
		return -EIO;
	}
}

/* Runs a statement that returns no rows we want; resets it. */
static int run(sqlite3_stmt *s)
{
	int rc;

	do
		rc = sqlite3_step(s);
	while (rc == SQLITE_ROW);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : sq_errno(rc);
}

static void done_stmt(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static int meta_get(struct conn *c, int k, int64_t *out)
{
	sqlite3_stmt *s = c->s[S_META_GET];
	int rc;

	sqlite3_bind_int(s, 1, k);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	done_stmt(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -EBADMSG : sq_errno(rc);
}

static int meta_set(struct conn *c, int k, int64_t v)
{
	sqlite3_stmt *s = c->s[S_META_SET];

	sqlite3_bind_int(s, 1, k);
	sqlite3_bind_int64(s, 2, v);
	return run(s);
}

static void conn_close(struct conn *c)
{
	int i;

	for (i = 0; i < N_STMT; i++)
		sqlite3_finalize(c->s[i]);
	if (c->db)
		sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

static int conn_prepare(struct conn *c, char *errbuf, size_t errlen,
			const char *path)
{
	int i, rc;

	for (i = 0; i < N_STMT; i++) {
		rc = sqlite3_prepare_v3(c->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &c->s[i],
					NULL);
		if (rc != SQLITE_OK) {
			snprintf(errbuf, errlen,
				 "store %s: damaged or not a strata store: %s",
				 path, sqlite3_errmsg(c->db));
			return sq_errno(rc) ? sq_errno(rc) : -EIO;
		}
	}
	return 0;
}

/* ---- requests: copies of the caller's arguments, and their results ---- */

static void kvvec_free(struct kvvec *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		free((void *)v->v[i].key);
		free((void *)v->v[i].value);
	}
	free(v->v);
	memset(v, 0, sizeof(*v));
}

static void rng_free(struct rng *r)
{
	free(r->key);
	free(r->end);
}

static void req_free(struct sq_req *r)
{
	size_t i, b;

	for (i = 0; i < r->n_cmp; i++) {
		rng_free(&r->cmp[i].r);
		free(r->cmp[i].value);
	}
	free(r->cmp);
	for (b = 0; b < 2; b++) {
		for (i = 0; i < r->n_ops[b]; i++) {
			rng_free(&r->ops[b][i].r);
			free(r->ops[b][i].value);
		}
		free(r->ops[b]);
	}
	if (r->res_kvs)
		for (i = 0; i < r->n_res; i++)
			kvvec_free(&r->res_kvs[i]);
	free(r->res_kvs);
	free(r->res);
	free(r->report);
	free(r);
}

static void *memdup0(const void *p, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		if (n)
			memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

static int rng_set(struct rng *r, const char *key, uint32_t flags)
{
	size_t n = strlen(key);

	r->key = memdup0(key, n);
	if (!r->key)
		return -ENOMEM;
	if (flags & STRATA_STORE_PREFIX) {
		r->end = malloc(n + 1);
		if (!r->end)
			return -ENOMEM;
		store_prefix_end(key, r->end);
	}
	return 0;
}

static int copy_ops(struct sq_op **out, const struct strata_store_op *ops, size_t n)
{
	struct sq_op *o;
	size_t i;
	int err;

	if (!n)
		return 0;
	o = calloc(n, sizeof(*o));
	if (!o)
		return -ENOMEM;
	*out = o;
	for (i = 0; i < n; i++) {
		o[i].type = ops[i].type;
		o[i].flags = ops[i].flags;
		o[i].lease = ops[i].lease;
		o[i].limit = ops[i].limit;
		err = rng_set(&o[i].r, ops[i].key, ops[i].flags);
		if (err)
			return err;
		if (ops[i].type == STRATA_OP_PUT) {
			o[i].value = memdup0(ops[i].value, ops[i].value_len);
			if (!o[i].value)
				return -ENOMEM;
			o[i].value_len = ops[i].value_len;
		}
	}
	return 0;
}

static int copy_txn(struct sq_req *r, const struct strata_store_txn *t)
{
	size_t i;
	int err;

	if (t->n_cmp) {
		r->cmp = calloc(t->n_cmp, sizeof(*r->cmp));
		if (!r->cmp)
			return -ENOMEM;
		r->n_cmp = t->n_cmp;
	}
	for (i = 0; i < t->n_cmp; i++) {
		const struct strata_store_cmp *c = &t->cmp[i];

		r->cmp[i].target = c->target;
		r->cmp[i].result = c->result;
		r->cmp[i].num = c->num;
		err = rng_set(&r->cmp[i].r, c->key, c->flags);
		if (err)
			return err;
		if (c->target == STRATA_CMP_VALUE) {
			r->cmp[i].value = memdup0(c->value, c->value_len);
			if (!r->cmp[i].value)
				return -ENOMEM;
			r->cmp[i].value_len = c->value_len;
		}
	}
	r->n_ops[0] = t->n_success;
	err = copy_ops(&r->ops[0], t->success, t->n_success);
	if (err)
		return err;
	r->n_ops[1] = t->n_failure;
	return copy_ops(&r->ops[1], t->failure, t->n_failure);
}

static int kvvec_push(struct kvvec *v, sqlite3_stmt *s, bool keys_only)
{
	struct strata_kv *kv;
	const void *p;
	size_t n;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4;
		struct strata_kv *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	kv = &v->v[v->n];
	memset(kv, 0, sizeof(*kv));
	p = sqlite3_column_blob(s, 0);
	n = (size_t)sqlite3_column_bytes(s, 0);
	kv->key = memdup0(p, n);
	p = keys_only ? NULL : sqlite3_column_blob(s, 1);
	n = keys_only ? 0 : (size_t)sqlite3_column_bytes(s, 1);
	kv->value = memdup0(p, n);
	if (!kv->key || !kv->value) {
		free((void *)kv->key);
		free((void *)kv->value);
		return -ENOMEM;
	}
	kv->value_len = n;
	kv->create_rev = sqlite3_column_int64(s, 2);
	kv->mod_rev = sqlite3_column_int64(s, 3);
	kv->version = sqlite3_column_int64(s, 4);
	kv->lease = sqlite3_column_int64(s, 5);
	v->n++;
	return 0;
}

/* ---- reading and writing keys (either connection) ---- */

/* Selects the range's kvs; limit 0 means all. Caller steps and resets. */
static sqlite3_stmt *range_stmt(struct conn *c, const struct rng *r,
				int64_t limit)
{
	sqlite3_stmt *s;

	if (!r->end) {
		s = c->s[S_KV_GET];
	} else if (!*r->end) {
		s = c->s[S_KV_FROM];
		sqlite3_bind_int64(s, 3, limit > 0 ? limit : -1);
	} else {
		s = c->s[S_KV_RANGE];
		sqlite3_bind_blob(s, 2, r->end, (int)strlen(r->end),
				  SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, limit > 0 ? limit : -1);
	}
	sqlite3_bind_blob(s, 1, r->key, (int)strlen(r->key), SQLITE_STATIC);
	return s;
}

static int range_count(struct conn *c, const struct rng *r, int64_t *out)
{
	sqlite3_stmt *s;
	int rc;

	if (!r->end)
		return -EINVAL;
	s = c->s[*r->end ? S_CNT_RANGE : S_CNT_FROM];
	sqlite3_bind_blob(s, 1, r->key, (int)strlen(r->key), SQLITE_STATIC);
	if (*r->end)
		sqlite3_bind_blob(s, 2, r->end, (int)strlen(r->end),
				  SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	done_stmt(s);
	return rc == SQLITE_ROW ? 0 : sq_errno(rc);
}

static int op_range(struct conn *c, const struct sq_op *op,
		    struct strata_store_op_result *res, struct kvvec *kvs)
{
	bool count_only = op->flags & STRATA_STORE_COUNT_ONLY;
	int64_t limit = op->limit;
	sqlite3_stmt *s;
	int rc, err = 0;

	res->type = STRATA_OP_RANGE;
	if (count_only && op->r.end)
		return range_count(c, &op->r, &res->count);
	s = range_stmt(c, &op->r, limit > 0 ? limit + 1 : 0);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (limit > 0 && (int64_t)kvs->n == limit) {
			res->more = true;
			break;
		}
		err = kvvec_push(kvs, s, op->flags & STRATA_STORE_KEYS_ONLY);
		if (err)
			break;
	}
	done_stmt(s);
	if (err)
		return err;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_errno(rc);
	res->count = (int64_t)kvs->n;
	if (res->more) {
		err = range_count(c, &op->r, &res->count);
		if (err)
			return err;
	}
	if (count_only) {
		kvvec_free(kvs);
		res->more = false;
	}
	return 0;
}

static int cmp_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	int d = memcmp(a, b, an < bn ? an : bn);

	if (d)
		return d;
	return an < bn ? -1 : an > bn;
}

/* One row (or a missing key: s NULL) against a compare. */
static bool cmp_holds(const struct sq_cmp *c, sqlite3_stmt *s)
{
	int64_t v = 0;
	int d;

	if (c->target == STRATA_CMP_VALUE) {
		if (!s)
			return false;
		d = cmp_bytes(sqlite3_column_blob(s, 1),
			      (size_t)sqlite3_column_bytes(s, 1), c->value,
			      c->value_len);
	} else {
		if (s) {
			int col = c->target == STRATA_CMP_VERSION ? 4 :
				  c->target == STRATA_CMP_CREATE	 ? 2 :
				  c->target == STRATA_CMP_MOD	 ? 3 :
								   5;

			v = sqlite3_column_int64(s, col);
		}
		d = v < c->num ? -1 : v > c->num;
	}
	switch (c->result) {
	case STRATA_CMP_EQUAL:
		return d == 0;
	case STRATA_CMP_NOT_EQUAL:
		return d != 0;
	case STRATA_CMP_LESS:
		return d < 0;
	default:
		return d > 0;
	}
}

static int eval_cmp(struct conn *c, const struct sq_cmp *cmp, bool *ok)
{
	sqlite3_stmt *s = range_stmt(c, &cmp->r, 0);
	bool any = false;
	int rc;

	*ok = true;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		any = true;
		if (!cmp_holds(cmp, s)) {
			*ok = false;
			break;
		}
	}
	done_stmt(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_errno(rc);
	if (!any)
		*ok = cmp_holds(cmp, NULL);
	return 0;
}

static int hist_add(struct conn *c, int64_t rev, int64_t *sub, int type,
		    const char *key, const void *value, size_t value_len,
		    int64_t create_rev, int64_t version, int64_t lease)
{
	sqlite3_stmt *s = c->s[S_HIST_ADD];

	sqlite3_bind_int64(s, 1, rev);
	sqlite3_bind_int64(s, 2, (*sub)++);
	sqlite3_bind_int(s, 3, type);
	sqlite3_bind_blob(s, 4, key, (int)strlen(key), SQLITE_STATIC);
	if (value)
		sqlite3_bind_blob(s, 5, value, (int)value_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_int64(s, 6, create_rev);
	sqlite3_bind_int64(s, 7, version);
	sqlite3_bind_int64(s, 8, lease);
	return run(s);
}

static bool lease_exists(struct conn *c, int64_t id, int *err)
{
	sqlite3_stmt *s = c->s[S_LEASE_GET];
	int rc;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	done_stmt(s);
	*err = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_errno(rc);
	return rc == SQLITE_ROW;
}

static int op_put(struct conn *c, const struct sq_op *op, int64_t rev,
		  int64_t *sub)
{
	sqlite3_stmt *s = c->s[S_KV_GET];
	int64_t create = rev, version = 1;
	int rc, err;

	sqlite3_bind_blob(s, 1, op->r.key, (int)strlen(op->r.key),
			  SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		create = sqlite3_column_int64(s, 2);
		version = sqlite3_column_int64(s, 4) + 1;
	}
	done_stmt(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_errno(rc);
	s = c->s[S_KV_PUT];
	sqlite3_bind_blob(s, 1, op->r.key, (int)strlen(op->r.key),
			  SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, op->value, (int)op->value_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, create);
	sqlite3_bind_int64(s, 4, rev);
	sqlite3_bind_int64(s, 5, version);
	sqlite3_bind_int64(s, 6, op->lease);
	err = run(s);
	if (err)
		return err;
	return hist_add(c, rev, sub, STRATA_EVENT_PUT, op->r.key, op->value,
			op->value_len, create, version, op->lease);
}

/* Deletes every key of kvs (a list the caller selected) at rev. */
static int delete_keys(struct conn *c, const struct kvvec *kvs, int64_t rev,
		       int64_t *sub)
{
	sqlite3_stmt *s = c->s[S_KV_DEL];
	size_t i;
	int err;

	for (i = 0; i < kvs->n; i++) {
		sqlite3_bind_blob(s, 1, kvs->v[i].key,
				  (int)strlen(kvs->v[i].key), SQLITE_STATIC);
		err = run(s);
		if (!err)
			err = hist_add(c, rev, sub, STRATA_EVENT_DELETE,
				       kvs->v[i].key, NULL, 0, 0, 0, 0);
		if (err)
			return err;
	}
	return 0;
}

static int op_delete(struct conn *c, const struct sq_op *op, int64_t rev,
		     int64_t *sub, int64_t *count)
{
	struct kvvec kvs = { 0 };
	sqlite3_stmt *s = range_stmt(c, &op->r, 0);
	int rc, err = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = kvvec_push(&kvs, s, true);
		if (err)
			break;
	}
	done_stmt(s);
	if (!err && rc != SQLITE_DONE)
		err = sq_errno(rc);
	if (!err)
		err = delete_keys(c, &kvs, rev, sub);
	*count = (int64_t)kvs.n;
	kvvec_free(&kvs);
	return err;
}

/*
 * A txn against c, inside a transaction the caller opened; *rev is the
 * store's revision, raised when the txn changed something.
 */
static int exec_txn(struct conn *c, struct sq_req *r, int64_t *rev)
{
	int64_t wrev = *rev + 1, sub = 0, n;
	struct sq_op *ops;
	size_t i, nops;
	bool ok = true, wrote = false;
	int err;

	for (i = 0; i < r->n_cmp && ok; i++) {
		err = eval_cmp(c, &r->cmp[i], &ok);
		if (err)
			return err;
	}
	r->succeeded = ok;
	ops = r->ops[ok ? 0 : 1];
	nops = r->n_ops[ok ? 0 : 1];
	/* A put on a missing lease fails the whole txn, before any write. */
	for (i = 0; i < nops; i++) {
		if (ops[i].type != STRATA_OP_PUT || !ops[i].lease)
			continue;
		if (!lease_exists(c, ops[i].lease, &err))
			return err ? err : -ENOENT;
	}
	if (nops) {
		r->res = calloc(nops, sizeof(*r->res));
		r->res_kvs = calloc(nops, sizeof(*r->res_kvs));
		if (!r->res || !r->res_kvs)
			return -ENOMEM;
		r->n_res = nops;
	}
	for (i = 0; i < nops; i++) {
		switch (ops[i].type) {
		case STRATA_OP_RANGE:
			err = op_range(c, &ops[i], &r->res[i], &r->res_kvs[i]);
			break;
		case STRATA_OP_PUT:
			r->res[i].type = STRATA_OP_PUT;
			err = op_put(c, &ops[i], wrev, &sub);
			wrote = true;
			break;
		default:
			r->res[i].type = STRATA_OP_DELETE;
			err = op_delete(c, &ops[i], wrev, &sub, &n);
			r->res[i].count = n;
			wrote = wrote || n > 0;
			break;
		}
		if (err)
			return err;
	}
	if (wrote)
		*rev = wrev;
	r->out_rev = *rev;
	return 0;
}

static bool txn_writes(const struct strata_store_txn *t)
{
	size_t i;

	for (i = 0; i < t->n_success; i++)
		if (t->success[i].type != STRATA_OP_RANGE)
			return true;
	for (i = 0; i < t->n_failure; i++)
		if (t->failure[i].type != STRATA_OP_RANGE)
			return true;
	return false;
}

/* ---- leases ---- */

struct lease_row {
	int64_t ttl_ms;
	bool expired;
};

static int lease_get(struct sq *sq, struct conn *c, int64_t id,
		     struct lease_row *out)
{
	sqlite3_stmt *s = c->s[S_LEASE_GET];
	int rc;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *boot = (const char *)sqlite3_column_text(s, 1);

		out->ttl_ms = sqlite3_column_int64(s, 0);
		if (boot && !strcmp(boot, sq->boot_id))
			out->expired = sqlite3_column_int64(s, 2) <=
				       clock_ns(CLOCK_BOOTTIME);
		else
			out->expired = sqlite3_column_int64(s, 3) <=
				       clock_ns(CLOCK_REALTIME);
	}
	done_stmt(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : sq_errno(rc);
}

static int lease_put(struct sq *sq, struct conn *c, int64_t id, int64_t ttl)
{
	sqlite3_stmt *s = c->s[S_LEASE_PUT];
	int64_t ttl_ns = ttl * 1000000;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, ttl);
	sqlite3_bind_text(s, 3, sq->boot_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, clock_ns(CLOCK_BOOTTIME) + ttl_ns);
	sqlite3_bind_int64(s, 5, clock_ns(CLOCK_REALTIME) + ttl_ns);
	return run(s);
}

/* Deletes the lease and its keys, the keys at one new revision. */
static int lease_drop(struct conn *c, int64_t id, int64_t *rev)
{
	sqlite3_stmt *s = c->s[S_LEASE_KEYS];
	struct kvvec kvs = { 0 };
	int64_t sub = 0;
	int rc, err = 0;

	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = kvvec_push(&kvs, s, true);
		if (err)
			break;
	}
	done_stmt(s);
	if (!err && rc != SQLITE_DONE)
		err = sq_errno(rc);
	if (!err && kvs.n)
		err = delete_keys(c, &kvs, *rev + 1, &sub);
	if (!err && kvs.n)
		(*rev)++;
	kvvec_free(&kvs);
	if (err)
		return err;
	s = c->s[S_LEASE_DEL];
	sqlite3_bind_int64(s, 1, id);
	return run(s);
}

static int random_id(int64_t *out)
{
	uint64_t v = 0;

	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			return -errno ? -errno : -EIO;
		v &= INT64_MAX;
	}
	*out = (int64_t)v;
	return 0;
}

static int exec_grant(struct sq *sq, struct conn *c, struct sq_req *r)
{
	struct lease_row row;
	int tries = 0, err;

	for (;;) {
		if (!r->id) {
			err = random_id(&r->out_n);
			if (err)
				return err;
		} else {
			r->out_n = r->id;
		}
		err = lease_get(sq, c, r->out_n, &row);
		if (err == -ENOENT)
			break;
		if (err)
			return err;
		if (r->id || ++tries > 8)
			return -EEXIST;
	}
	return lease_put(sq, c, r->out_n, r->ttl_ms);
}

static int exec_keepalive(struct sq *sq, struct conn *c, struct sq_req *r)
{
	struct lease_row row;
	int err;

	err = lease_get(sq, c, r->id, &row);
	if (err)
		return err;
	if (row.expired)
		return -ENOENT; /* the next expiry pass deletes it */
	r->ttl_ms = row.ttl_ms;
	return lease_put(sq, c, r->id, row.ttl_ms);
}

static int exec_expire(struct sq *sq, struct conn *c, int64_t *rev)
{
	sqlite3_stmt *s = c->s[S_LEASE_EXPIRED];
	int64_t ids[64];
	size_t n = 0, i;
	int rc, err;

	sqlite3_bind_text(s, 1, sq->boot_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, clock_ns(CLOCK_BOOTTIME));
	sqlite3_bind_int64(s, 3, clock_ns(CLOCK_REALTIME));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < 64)
		ids[n++] = sqlite3_column_int64(s, 0);
	done_stmt(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_errno(rc);
	for (i = 0; i < n; i++) {
		err = lease_drop(c, ids[i], rev);
		if (err)
			return err;
	}
	return 0;
}

static int compact(struct conn *c, int64_t to, int64_t *compact_rev)
{
	sqlite3_stmt *s = c->s[S_HIST_COMPACT];
	int err;

	sqlite3_bind_int64(s, 1, to);
	err = run(s);
	if (err)
		return err;
	*compact_rev = to;
	return 0;
}

/* ---- the worker: one transaction per batch ---- */

static int exec_req(struct sq *sq, struct conn *c, struct sq_req *r,
		    int64_t *rev, int64_t *compact_rev)
{
	struct lease_row row;
	int err;

	switch (r->kind) {
	case REQ_TXN:
		return exec_txn(c, r, rev);
	case REQ_GRANT:
		return exec_grant(sq, c, r);
	case REQ_KEEPALIVE:
		return exec_keepalive(sq, c, r);
	case REQ_REVOKE:
		err = lease_get(sq, c, r->id, &row);
		if (!err)
			err = lease_drop(c, r->id, rev);
		r->out_rev = *rev;
		return err;
	case REQ_EXPIRE:
		return exec_expire(sq, c, rev);
	case REQ_COMPACT:
		if (r->rev > *rev)
			return -EINVAL; /* a future revision */
		if (r->rev <= *compact_rev)
			return -ESTALE;
		r->out_rev = *rev;
		return compact(c, r->rev, compact_rev);
	default:
		return -EINVAL;
	}
}

/* A failed request must leave nothing behind. */
static void req_reset_out(struct sq_req *r)
{
	size_t i;

	if (r->res_kvs)
		for (i = 0; i < r->n_res; i++)
			kvvec_free(&r->res_kvs[i]);
	free(r->res_kvs);
	free(r->res);
	r->res_kvs = NULL;
	r->res = NULL;
	r->n_res = 0;
	r->succeeded = false;
}

static void run_check(struct sq *sq, struct sq_req *r)
{
	sqlite3_stmt *s;
	size_t len = 0, cap = 0;
	char *rep = NULL;
	int rc;

	rc = sqlite3_prepare_v2(sq->wr.db, "PRAGMA integrity_check", -1, &s,
				NULL);
	if (rc != SQLITE_OK) {
		r->err = sq_errno(rc) ? sq_errno(rc) : -EIO;
		r->report = strdup(sqlite3_errmsg(sq->wr.db));
		return;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(s, 0);
		size_t n = line ? strlen(line) : 0;

		if (len + n + 2 > cap) {
			char *nr;

			cap = (len + n + 2) * 2;
			nr = realloc(rep, cap);
			if (!nr)
				break;
			rep = nr;
		}
		if (len)
			rep[len++] = '\n';
		memcpy(rep + len, line ? line : "", n);
		len += n;
		rep[len] = '\0';
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(rep);
		rep = strdup(sqlite3_errmsg(sq->wr.db));
		r->err = -EBADMSG;
	}
	sqlite3_finalize(s);
	r->report = rep ? rep : strdup("out of memory");
	if (!rep)
		r->err = -ENOMEM;
	else if (!r->err && strcmp(rep, "ok"))
		r->err = -EBADMSG;
}

static void run_batch(struct sq *sq, struct sq_req *list)
{
	struct conn *c = &sq->wr;
	int64_t rev = 0, rev0, crev = 0, crev0;
	struct sq_req *r;
	int err;

	err = run(c->s[S_BEGIN_IMM]);
	if (!err)
		err = meta_get(c, META_REV, &rev);
	if (!err)
		err = meta_get(c, META_COMPACT, &crev);
	rev0 = rev;
	crev0 = crev;
	for (r = list; r && !err; r = r->next) {
		int64_t save = rev;

		if (r->kind == REQ_CHECK)
			continue;
		r->err = exec_req(sq, c, r, &rev, &crev);
		if (!r->err)
			continue;
		req_reset_out(r);
		if (r->err == -ENOENT || r->err == -EEXIST ||
		    r->err == -EINVAL || r->err == -ESTALE) {
			/* refused before it wrote anything */
			rev = save;
			continue;
		}
		err = r->err;
	}
	/* Keep `history` revisions; compact in steps, not every commit. */
	if (!err && rev - crev > sq->history + sq->history / 8 + 1)
		err = compact(c, rev - sq->history + 1, &crev);
	if (!err && rev != rev0)
		err = meta_set(c, META_REV, rev);
	if (!err && crev != crev0)
		err = meta_set(c, META_COMPACT, crev);
	if (!err)
		err = run(c->s[S_COMMIT]);
	if (err) {
		if (!sqlite3_get_autocommit(c->db))
			run(c->s[S_ROLLBACK]);
		for (r = list; r; r = r->next) {
			if (r->kind == REQ_CHECK)
				continue;
			req_reset_out(r);
			r->err = err;
		}
	} else if (rev != rev0 && sq->notify_fd >= 0) {
		/* Tell the other processes; the byte means nothing. */
		if (pwrite(sq->notify_fd, "", 1, 0) < 0)
			log_debug("store %s: notify: %s", sq->path,
				  strerror(errno));
	}
	for (r = list; r; r = r->next)
		if (r->kind == REQ_CHECK)
			run_check(sq, r);
}

static void *worker(void *arg)
{
	struct sq *sq = arg;
	struct sq_req *list, *last;
	uint64_t one = 1;

	for (;;) {
		pthread_mutex_lock(&sq->mu);
		while (!sq->queue && !sq->stopping)
			pthread_cond_wait(&sq->cv, &sq->mu);
		list = sq->queue;
		sq->queue = NULL;
		sq->queue_tail = &sq->queue;
		pthread_mutex_unlock(&sq->mu);
		if (!list)
			break; /* stopping, and nothing left */
		run_batch(sq, list);
		for (last = list; last->next; last = last->next)
			;
		pthread_mutex_lock(&sq->mu);
		*sq->done_tail = list;
		sq->done_tail = &last->next;
		pthread_mutex_unlock(&sq->mu);
		if (write(sq->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_err("store %s: eventfd: %s", sq->path,
				strerror(errno));
	}
	return NULL;
}

/* ---- the loop side ---- */

static void poke(struct sq *sq);
static void lease_rearm(struct sq *sq);

static void complete(struct sq *sq, struct sq_req *r)
{
	struct strata_store_txn_result tr;
	size_t i;

	switch (r->kind) {
	case REQ_TXN:
		if (r->err) {
			r->cb.txn(r->arg, r->err, NULL);
			break;
		}
		for (i = 0; i < r->n_res; i++) {
			r->res[i].kvs = r->res_kvs[i].v;
			r->res[i].n_kvs = r->res_kvs[i].n;
		}
		tr.revision = r->out_rev;
		tr.succeeded = r->succeeded;
		tr.results = r->res;
		tr.n_results = r->n_res;
		r->cb.txn(r->arg, 0, &tr);
		break;
	case REQ_GRANT:
		r->cb.lease(r->arg, r->err, r->err ? 0 : r->out_n,
			    r->err ? 0 : r->ttl_ms);
		break;
	case REQ_KEEPALIVE:
		r->cb.lease(r->arg, r->err, r->id, r->err ? 0 : r->ttl_ms);
		break;
	case REQ_REVOKE:
	case REQ_COMPACT:
		r->cb.done(r->arg, r->err, r->err ? 0 : r->out_rev, 0);
		break;
	case REQ_CHECK:
		r->cb.check(r->arg, r->err, r->report ? r->report : "");
		break;
	case REQ_EXPIRE:
		sq->expire_queued = false;
		if (r->err && r->err != -ECANCELED)
			log_warn("store %s: expiring leases: %s", sq->path,
				 strerror(-r->err));
		break;
	}
}

static void process_done(struct sq *sq)
{
	struct sq_req *list, *r;

	pthread_mutex_lock(&sq->mu);
	list = sq->done;
	sq->done = NULL;
	sq->done_tail = &sq->done;
	pthread_mutex_unlock(&sq->mu);
	if (!list)
		return;
	while ((r = list)) {
		list = r->next;
		complete(sq, r);
		req_free(r);
	}
	if (!sq->closing) {
		poke(sq);
		lease_rearm(sq);
	}
}

static void on_efd(void *arg, int fd, uint32_t events)
{
	struct sq *sq = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("store %s: eventfd: %s", sq->path, strerror(errno));
	process_done(sq);
}

static void on_done_defer(void *arg)
{
	struct sq *sq = arg;

	sq->done_defer = NULL;
	process_done(sq);
}

/* A request finished on the loop thread: its callback runs later. */
static int finish_local(struct sq *sq, struct sq_req *r)
{
	if (!sq->done_defer) {
		sq->done_defer = loop_defer(sq->base.loop, on_done_defer, sq);
		if (!sq->done_defer)
			return -ENOMEM;
	}
	r->next = NULL;
	pthread_mutex_lock(&sq->mu);
	*sq->done_tail = r;
	sq->done_tail = &r->next;
	pthread_mutex_unlock(&sq->mu);
	return 0;
}

static int submit(struct sq *sq, struct sq_req *r)
{
	if (sq->closing) {
		req_free(r);
		return -ECANCELED;
	}
	r->next = NULL;
	pthread_mutex_lock(&sq->mu);
	*sq->queue_tail = r;
	sq->queue_tail = &r->next;
	pthread_cond_signal(&sq->cv);
	pthread_mutex_unlock(&sq->mu);
	return 0;
}

static struct sq_req *req_new(enum req_kind kind, void *arg)
{
	struct sq_req *r = calloc(1, sizeof(*r));

	if (r) {
		r->kind = kind;
		r->arg = arg;
	}
	return r;
}

/* A read-only txn runs at once on the loop's connection. */
static int read_txn(struct sq *sq, struct sq_req *r)
{
	struct conn *c = &sq->rd;
	int64_t rev = 0;
	int err;

	err = run(c->s[S_BEGIN]);
	if (err)
		return err;
	err = meta_get(c, META_REV, &rev);
	if (!err)
		err = exec_txn(c, r, &rev);
	if (err)
		run(c->s[S_ROLLBACK]);
	else
		err = run(c->s[S_COMMIT]);
	return err;
}

static int sq_txn(struct store *st, const struct strata_store_txn *txn,
		  store_txn_cb cb, void *arg)
{
	struct sq *sq = (struct sq *)st;
	struct sq_req *r;
	int err;

	if (sq->closing)
		return -ECANCELED;
	r = req_new(REQ_TXN, arg);
	if (!r)
		return -ENOMEM;
	r->cb.txn = cb;
	err = copy_txn(r, txn);
	if (err)
		goto free_req;
	if (txn_writes(txn))
		return submit(sq, r);
	r->err = read_txn(sq, r);
	if (r->err)
		req_reset_out(r);
	err = finish_local(sq, r);
	if (err)
		goto free_req;
	return 0;
free_req:
	req_free(r);
	return err;
}

static int sq_lease_grant(struct store *st, int64_t ttl_ms, int64_t id,
			  store_lease_cb cb, void *arg)
{
	struct sq_req *r = req_new(REQ_GRANT, arg);

	if (!r)
		return -ENOMEM;
	r->cb.lease = cb;
	r->ttl_ms = ttl_ms;
	r->id = id;
	return submit((struct sq *)st, r);
}

static int sq_lease_keepalive(struct store *st, int64_t id, store_lease_cb cb,
			      void *arg)
{
	struct sq_req *r = req_new(REQ_KEEPALIVE, arg);

	if (!r)
		return -ENOMEM;
	r->cb.lease = cb;
	r->id = id;
	return submit((struct sq *)st, r);
}

static int sq_lease_revoke(struct store *st, int64_t id, store_done_cb cb,
			   void *arg)
{
	struct sq_req *r = req_new(REQ_REVOKE, arg);

	if (!r)
		return -ENOMEM;
	r->cb.done = cb;
	r->id = id;
	return submit((struct sq *)st, r);
}

static int sq_compact(struct store *st, int64_t rev, store_done_cb cb,
		      void *arg)
{
	struct sq_req *r = req_new(REQ_COMPACT, arg);

	if (!r)
		return -ENOMEM;
	r->cb.done = cb;
	r->rev = rev;
	return submit((struct sq *)st, r);
}

static int sq_check(struct store *st, store_check_cb cb, void *arg)
{
	struct sq_req *r = req_new(REQ_CHECK, arg);

	if (!r)
		return -ENOMEM;
	r->cb.check = cb;
	return submit((struct sq *)st, r);
}

/* Leases: a timer at the earliest deadline queues an expiry pass. */
static void on_lease_timer(void *arg)
{
	struct sq *sq = arg;
	struct sq_req *r;

	/* One-shot: dropped here, added again by lease_rearm(). */
	loop_timer_cancel(sq->lease_t);
	sq->lease_t = NULL;
	if (sq->expire_queued || sq->closing)
		return;
	r = req_new(REQ_EXPIRE, NULL);
	if (!r)
		return;
	sq->expire_queued = true;
	if (submit(sq, r))
		sq->expire_queued = false;
}

static void lease_rearm(struct sq *sq)
{
	sqlite3_stmt *s = sq->rd.s[S_LEASE_NEXT];
	int64_t left = -1;
	bool any = false;
	int rc;

	sqlite3_bind_text(s, 1, sq->boot_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, clock_ns(CLOCK_BOOTTIME));
	sqlite3_bind_int64(s, 3, clock_ns(CLOCK_REALTIME));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		any = true;
		left = sqlite3_column_int64(s, 0);
	}
	done_stmt(s);
	if (!any || sq->expire_queued)
		return; /* the expiry's completion rearms */
	if (left < 0)
		left = 0;
	/* A little late, so the deadline has surely passed. */
	left += 1000000;
	if (sq->lease_t)
		loop_timer_reset(sq->lease_t, left);
	else
		sq->lease_t = loop_timer_add(sq->base.loop, left, 0,
					     on_lease_timer, sq);
}

/* Watches: read new history for each; deliver whole revisions. */
struct evvec {
	struct strata_store_event *v;
	size_t n;
	size_t cap;
};

static void evvec_free(struct evvec *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free((void *)e->v[i].kv.key);
		free((void *)e->v[i].kv.value);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static int evvec_push(struct evvec *e, sqlite3_stmt *s)
{
	struct strata_store_event *ev;
	const void *p;
	size_t n;

	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct strata_store_event *nv = realloc(e->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		e->v = nv;
		e->cap = cap;
	}
	ev = &e->v[e->n];
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint32_t)sqlite3_column_int(s, 1);
	ev->kv.mod_rev = sqlite3_column_int64(s, 0);
	ev->kv.key = memdup0(sqlite3_column_blob(s, 2),
			     (size_t)sqlite3_column_bytes(s, 2));
	p = sqlite3_column_blob(s, 3);
	n = (size_t)sqlite3_column_bytes(s, 3);
	ev->kv.value = memdup0(p, n);
	if (!ev->kv.key || !ev->kv.value) {
		free((void *)ev->kv.key);
		free((void *)ev->kv.value);
		return -ENOMEM;
	}
	ev->kv.value_len = n;
	if (ev->type == STRATA_EVENT_PUT) {
		ev->kv.create_rev = sqlite3_column_int64(s, 4);
		ev->kv.version = sqlite3_column_int64(s, 5);
		ev->kv.lease = sqlite3_column_int64(s, 6);
	}
	e->n++;
	return 0;
}

static int hist_read(struct conn *c, const struct sq_watch *w, int64_t from,
		     int64_t to, int64_t limit, struct evvec *e)
{
	sqlite3_stmt *s = c->s[S_HIST_READ];
	int rc, err = 0;

	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	sqlite3_bind_blob(s, 3, w->r.key, (int)strlen(w->r.key),
			  SQLITE_STATIC);
	if (!w->r.end) /* the key alone: [key, key "\0") */
		sqlite3_bind_blob(s, 4, w->r.key, (int)strlen(w->r.key) + 1,
				  SQLITE_STATIC);
	else if (*w->r.end)
		sqlite3_bind_blob(s, 4, w->r.end, (int)strlen(w->r.end),
				  SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = evvec_push(e, s);
		if (err)
			break;
	}
	done_stmt(s);
	if (!err && rc != SQLITE_DONE)
		err = sq_errno(rc);
	return err;
}

/*
 * Reads what w has not seen. Returns 0 with events in e (maybe none), or
 * -ESTALE with *crev, or -errno. *more: call again for the rest.
 */
static int watch_read(struct sq *sq, struct sq_watch *w, struct evvec *e,
		      int64_t *crev, bool *more)
{
	struct conn *c = &sq->rd;
	int64_t head = 0, last;
	size_t keep;
	int err;

	*more = false;
	err = run(c->s[S_BEGIN]);
	if (err)
		return err;
	err = meta_get(c, META_REV, &head);
	if (!err)
		err = meta_get(c, META_COMPACT, crev);
	if (err || w->next_rev > head)
		goto out;
	if (w->next_rev < *crev) {
		err = -ESTALE;
		goto out;
	}
	err = hist_read(c, w, w->next_rev, head, SQ_WATCH_ROWS, e);
	if (err || e->n < SQ_WATCH_ROWS) {
		if (!err)
			w->next_rev = head + 1;
		goto out;
	}
	/* Cut at a revision boundary; one huge revision is read whole. */
	last = e->v[e->n - 1].kv.mod_rev;
	for (keep = e->n; keep > 0 && e->v[keep - 1].kv.mod_rev == last;)
		keep--;
	if (keep == 0) {
		evvec_free(e);
		err = hist_read(c, w, last, last, -1, e);
		w->next_rev = last + 1;
	} else {
		struct evvec tail = { .v = e->v + keep, .n = e->n - keep };
		size_t i;

		for (i = 0; i < tail.n; i++) {
			free((void *)tail.v[i].kv.key);
			free((void *)tail.v[i].kv.value);
		}
		e->n = keep;
		w->next_rev = last;
	}
	*more = w->next_rev <= head;
out:
	run(c->s[err && err != -ESTALE ? S_ROLLBACK : S_COMMIT]);
	if (err)
		evvec_free(e);
	return err;
}

static void watch_unlink(struct sq *sq, struct sq_watch *w)
{
	struct sq_watch **p;

	for (p = &sq->watches; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	rng_free(&w->r);
	free(w);
}

static void on_poke(void *arg);

static void schedule_poke(struct sq *sq)
{
	if (!sq->poke_defer && !sq->closing)
		sq->poke_defer = loop_defer(sq->base.loop, on_poke, sq);
}

static void deliver(struct sq *sq)
{
	struct sq_watch *w, *next;
	bool again = false;

	sq->delivering++;
	for (w = sq->watches; w; w = w->next) {
		struct evvec e = { 0 };
		int64_t crev = 0;
		bool more;
		int err;

		if (w->ended || w->dead)
			continue;
		err = watch_read(sq, w, &e, &crev, &more);
		again = again || more;
		if (err) {
			w->ended = true;
			w->cb(w->arg, err, err == -ESTALE ? crev : 0, NULL, 0);
		} else if (e.n) {
			w->cb(w->arg, 0, e.v[e.n - 1].kv.mod_rev, e.v, e.n);
		}
		evvec_free(&e);
	}
	sq->delivering--;
	if (!sq->delivering)
		for (w = sq->watches; w; w = next) {
			next = w->next;
			if (w->dead)
				watch_unlink(sq, w);
		}
	if (again)
		schedule_poke(sq);
}

static void on_poke(void *arg)
{
	struct sq *sq = arg;

	sq->poke_defer = NULL;
	deliver(sq);
}

static void poke(struct sq *sq)
{
	if (sq->watches)
		schedule_poke(sq);
}

/* Something changed the file: another process, or ourselves. */
static void external_change(struct sq *sq)
{
	poke(sq);
	lease_rearm(sq);
}

static bool data_changed(struct sq *sq)
{
	sqlite3_stmt *s = sq->rd.s[S_DATA_VERSION];
	int64_t v = sq->data_version;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	done_stmt(s);
	if (v == sq->data_version)
		return false;
	sq->data_version = v;
	return true;
}

static void on_inotify(void *arg, int fd, uint32_t events)
{
	struct sq *sq = arg;
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (data_changed(sq))
		external_change(sq);
}

static void on_poll(void *arg)
{
	struct sq *sq = arg;

	if (data_changed(sq))
		external_change(sq);
}

static int sq_watch(struct store *st, const char *key, const char *end,
		    int64_t start_rev, store_watch_cb cb, void *arg,
		    struct store_watch **out)
{
	struct sq *sq = (struct sq *)st;
	struct sq_watch *w;
	int64_t head = 0;
	int err;

	if (sq->closing)
		return -ECANCELED;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->base.st = st;
	w->cb = cb;
	w->arg = arg;
	w->r.key = strdup(key);
	w->r.end = end ? strdup(end) : NULL;
	if (!w->r.key || (end && !w->r.end)) {
		err = -ENOMEM;
		goto free_w;
	}
	if (!start_rev) {
		err = meta_get(&sq->rd, META_REV, &head);
		if (err)
			goto free_w;
		start_rev = head + 1;
	}
	w->next_rev = start_rev;
	w->next = sq->watches;
	sq->watches = w;
	schedule_poke(sq);
	*out = &w->base;
	return 0;
free_w:
	rng_free(&w->r);
	free(w);
	return err;
}

static void sq_watch_cancel(struct store_watch *base)
{
	struct sq_watch *w = (struct sq_watch *)base;
	struct sq *sq = (struct sq *)base->st;

	if (sq->delivering)
		w->dead = true;
	else
		watch_unlink(sq, w);
}

/* ---- open and close ---- */

static void read_boot_id(struct sq *sq)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int64_t r = 0;

	if (f) {
		if (fgets(sq->boot_id, sizeof(sq->boot_id), f))
			sq->boot_id[strcspn(sq->boot_id, "\n")] = '\0';
		fclose(f);
	}
	if (!sq->boot_id[0]) {
		/* No boot id: only the wall clock then, as after a reboot. */
		random_id(&r);
		snprintf(sq->boot_id, sizeof(sq->boot_id), "unknown-%" PRIx64,
			 (uint64_t)r);
	}
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Waiting for another process's write lock: SQLite's own busy handler
 * backs off to sleeps of up to 100 ms, so one commit of a few ms elsewhere
 * can delay a write by tens of ms. Poll every half millisecond instead
 * (commits are short), until the timeout. Each connection is used by one
 * thread, and a thread waits for one lock at a time.
 */
static _Thread_local int64_t busy_since_ns;

static int busy_wait(void *arg, int n)
{
	int64_t limit_ns = (int64_t)(intptr_t)arg * 1000000;
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (n == 0)
		busy_since_ns = now;
	if (now - busy_since_ns >= limit_ns)
		return 0;
	ts.tv_sec = 0;
	ts.tv_nsec = 500000;
	nanosleep(&ts, NULL);
	return 1;
}

static int open_db(const char *path, bool create, int64_t busy_ms,
		   sqlite3 **out, char *errbuf, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		    (create ? SQLITE_OPEN_CREATE : 0);
	int rc;

	rc = sqlite3_open_v2(path, out, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errlen, "store %s: cannot open: %s", path,
			 *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		sqlite3_close(*out);
		*out = NULL;
		return sq_errno(rc) ? sq_errno(rc) : -EIO;
	}
	sqlite3_extended_result_codes(*out, 1);
	sqlite3_busy_handler(*out, busy_wait, (void *)(intptr_t)busy_ms);
	return 0;
}

static int fail_db(sqlite3 *db, int rc, const char *path, const char *what,
		   char *errbuf, size_t errlen)
{
	int err = sq_errno(rc) ? sq_errno(rc) : -EIO;

	if (err == -EBADMSG)
		snprintf(errbuf, errlen,
			 "store %s: damaged or not a database (%s: %s); "
			 "restore it from a backup or move it away",
			 path, what, sqlite3_errmsg(db));
	else
		snprintf(errbuf, errlen, "store %s: %s: %s", path, what,
			 sqlite3_errmsg(db));
	return err;
}

/* Layout, integrity and WAL mode, on the worker's connection. */
static int setup_db(struct sq *sq, char *errbuf, size_t errlen)
{
	sqlite3 *db = sq->wr.db;
	int64_t app = 0, layout = 0, tables = 0;
	sqlite3_stmt *s;
	const char *mode;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
					: NULL;
		if (rc == SQLITE_ROW && (!mode || strcmp(mode, "wal")))
			rc = SQLITE_CANTOPEN;
		else if (rc == SQLITE_ROW)
			rc = SQLITE_OK;
		sqlite3_finalize(s);
	}
	if (rc != SQLITE_OK)
		return fail_db(db, rc, sq->path, "WAL mode", errbuf, errlen);
	/* FULL: the WAL is synced at every commit (see the top). The size
	 * limit gives the disk back after a burst once a checkpoint ran. */
	rc = sqlite3_exec(db, "PRAGMA synchronous = FULL; "
			  "PRAGMA journal_size_limit = 16777216", NULL, NULL,
			  NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = pragma_int(db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = pragma_int(db, "PRAGMA user_version", &layout);
	if (rc == SQLITE_OK)
		rc = pragma_int(db, "SELECT count(*) FROM sqlite_master",
				&tables);
	if (rc == SQLITE_OK && tables == 0 && app == 0 && layout == 0)
		rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
	else if (rc == SQLITE_OK && app != SQ_APP_ID) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(errbuf, errlen,
			 "store %s: a SQLite database, but not a strata store "
			 "(application id %#" PRIx64 ")", sq->path, app);
		return -EBADMSG;
	} else if (rc == SQLITE_OK && layout != SQ_LAYOUT) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(errbuf, errlen,
			 "store %s: on-disk layout %" PRId64 " is not one this "
			 "stratad knows (%d)%s", sq->path, layout, SQ_LAYOUT,
			 layout > SQ_LAYOUT ? ": upgrade stratad" : "");
		return -EPROTONOSUPPORT;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int err = fail_db(db, rc, sq->path, "reading the layout",
				  errbuf, errlen);

		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	/* Cheap enough at open for a store of this size; the full check is
	 * store_check(). */
	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			const char *res = (const char *)sqlite3_column_text(s,
									    0);

			if (!res || strcmp(res, "ok")) {
				snprintf(errbuf, errlen,
					 "store %s: damaged (integrity check: "
					 "%s); restore it from a backup or "
					 "move it away",
					 sq->path, res ? res : "?");
				sqlite3_finalize(s);
				return -EBADMSG;
			}
			rc = SQLITE_OK;
		}
		sqlite3_finalize(s);
	}
	if (rc != SQLITE_OK)
		return fail_db(db, rc, sq->path, "integrity check", errbuf,
			       errlen);
	return 0;
}

static void sq_close(struct store *st)
{
	struct sq *sq = (struct sq *)st;
	struct sq_watch *w;

	sq->closing = true;
	if (sq->thread_started) {
		pthread_mutex_lock(&sq->mu);
		sq->stopping = true;
		pthread_cond_signal(&sq->cv);
		pthread_mutex_unlock(&sq->mu);
		pthread_join(sq->thread, NULL);
	}
	process_done(sq);
	if (sq->done_defer)
		loop_defer_cancel(sq->done_defer);
	if (sq->poke_defer)
		loop_defer_cancel(sq->poke_defer);
	if (sq->lease_t)
		loop_timer_cancel(sq->lease_t);
	if (sq->poll_t)
		loop_timer_cancel(sq->poll_t);
	if (sq->efd_w)
		loop_fd_del(sq->efd_w);
	if (sq->ino_w)
		loop_fd_del(sq->ino_w);
	while ((w = sq->watches)) {
		sq->watches = w->next;
		rng_free(&w->r);
		free(w);
	}
	conn_close(&sq->rd);
	conn_close(&sq->wr);
	if (sq->efd >= 0)
		close(sq->efd);
	if (sq->ino_fd >= 0)
		close(sq->ino_fd);
	if (sq->notify_fd >= 0)
		close(sq->notify_fd);
	pthread_mutex_destroy(&sq->mu);
	pthread_cond_destroy(&sq->cv);
	free(sq->path);
	free(sq->notify_path);
	free(sq);
}

int store_sqlite_open(struct loop *loop, const struct store_options *opt,
		      const char *path, struct store **out, char *errbuf,
		      size_t errlen)
{
	char dummy[8];
	struct sq *sq;
	int64_t poll_ms;
	int err;

	if (!errbuf || !errlen) {
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	if (!*path) {
		snprintf(errbuf, errlen, "store: no path given");
		return -EINVAL;
	}
	sq = calloc(1, sizeof(*sq));
	if (!sq)
		return -ENOMEM;
	sq->base.ops = &sq_ops;
	sq->base.loop = loop;
	sq->efd = sq->ino_fd = sq->notify_fd = -1;
	pthread_mutex_init(&sq->mu, NULL);
	pthread_cond_init(&sq->cv, NULL);
	sq->queue_tail = &sq->queue;
	sq->done_tail = &sq->done;
	sq->history = opt->history > 0 ? opt->history : 10000;
	sq->busy_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 10000;
	poll_ms = opt->poll_ms ? opt->poll_ms : 1000;
	read_boot_id(sq);
	sq->path = strdup(path);
	if (!sq->path || asprintf(&sq->notify_path, "%s-notify", path) < 0) {
		sq->notify_path = NULL;
		err = -ENOMEM;
		goto close_sq;
	}

	err = open_db(path, true, sq->busy_ms, &sq->wr.db, errbuf, errlen);
	if (err)
		goto close_sq;
	err = setup_db(sq, errbuf, errlen);
	if (err)
		goto close_sq;
	err = conn_prepare(&sq->wr, errbuf, errlen, path);
	if (err)
		goto close_sq;
	/* The loop's reads must not stall the loop for long. */
	err = open_db(path, false, sq->busy_ms < 1000 ? sq->busy_ms : 1000,
		      &sq->rd.db, errbuf, errlen);
	if (err)
		goto close_sq;
	err = conn_prepare(&sq->rd, errbuf, errlen, path);
	if (err)
		goto close_sq;
	data_changed(sq);

	sq->notify_fd = open(sq->notify_path, O_RDWR | O_CREAT | O_CLOEXEC,
			     0644);
	sq->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sq->notify_fd < 0 || sq->ino_fd < 0 ||
	    inotify_add_watch(sq->ino_fd, sq->notify_path, IN_MODIFY) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "store %s: notification file %s: %s",
			 path, sq->notify_path, strerror(errno));
		goto close_sq;
	}
	sq->ino_w = loop_fd_add(loop, sq->ino_fd, EPOLLIN,
				on_inotify, sq);
	sq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sq->efd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "store %s: eventfd: %s", path,
			 strerror(errno));
		goto close_sq;
	}
	sq->efd_w = loop_fd_add(loop, sq->efd, EPOLLIN, on_efd, sq);
	if (poll_ms > 0)
		sq->poll_t = loop_timer_add(loop, poll_ms * 1000000,
					    poll_ms * 1000000, on_poll, sq);
	if (!sq->ino_w || !sq->efd_w || (poll_ms > 0 && !sq->poll_t)) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "store %s: cannot watch the loop",
			 path);
		goto close_sq;
	}
	err = -pthread_create(&sq->thread, NULL, worker, sq);
	if (err) {
		snprintf(errbuf, errlen, "store %s: worker thread: %s", path,
			 strerror(-err));
		goto close_sq;
	}
	sq->thread_started = true;
	lease_rearm(sq);
	*out = &sq->base;
	return 0;
close_sq:
	sq_close(&sq->base);
	return err;
}

static const struct store_backend_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.txn = sq_txn,
	.lease_grant = sq_lease_grant,
	.lease_keepalive = sq_lease_keepalive,
	.lease_revoke = sq_lease_revoke,
	.watch = sq_watch,
	.watch_cancel = sq_watch_cancel,
	.compact = sq_compact,
	.check = sq_check,
};
