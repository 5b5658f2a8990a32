/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster store's data, as the host's store entries take and give it:
 * etcd v3 semantics. One global revision, raised by every transaction that
 * changes a key; each key carries its create and mod revision and a version
 * (1 at creation, +1 per put; deleting resets it). Keys are NUL-terminated
 * byte strings ordered by memcmp; values are bytes with a length.
 *
 * Arrays of these structs are laid out with the sizes of this major: they
 * carry no size field of their own.
 */
#ifndef STRATA_STORE_H
#define STRATA_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct strata_kv {
	const char *key;
	const void *value; /* NUL-terminated, value_len bytes before it */
	size_t value_len;
	int64_t create_rev;
	int64_t mod_rev;
	int64_t version;
	int64_t lease; /* 0: none */
};

/* Flags of an op or compare. */
#define STRATA_STORE_PREFIX 0x1u     /* every key starting with key ("": all) */
#define STRATA_STORE_KEYS_ONLY 0x2u  /* range: no values */
#define STRATA_STORE_COUNT_ONLY 0x4u /* range: count, no kvs */

/* What a compare looks at */
#define STRATA_CMP_VALUE 0u
#define STRATA_CMP_VERSION 1u
#define STRATA_CMP_CREATE 2u
#define STRATA_CMP_MOD 3u
#define STRATA_CMP_LEASE 4u

/* How it compares */
#define STRATA_CMP_EQUAL 0u
#define STRATA_CMP_NOT_EQUAL 1u
#define STRATA_CMP_LESS 2u
#define STRATA_CMP_GREATER 3u

/*
 * A compare holds when every key it names satisfies it. A missing key has
 * version, create, mod revision and lease 0, and fails every VALUE compare.
 */
struct strata_store_cmp {
	const char *key;
	uint32_t flags;  /* STRATA_STORE_PREFIX */
	uint32_t target; /* STRATA_CMP_VALUE .. STRATA_CMP_LEASE */
	uint32_t result; /* STRATA_CMP_EQUAL .. STRATA_CMP_GREATER */
	const void *value; /* STRATA_CMP_VALUE */
	size_t value_len;
	int64_t num; /* version, revision or lease id */
};

#define STRATA_OP_RANGE 1u
#define STRATA_OP_PUT 2u
#define STRATA_OP_DELETE 3u

struct strata_store_op {
	uint32_t type;  /* STRATA_OP_* */
	uint32_t flags; /* STRATA_STORE_PREFIX, _KEYS_ONLY, _COUNT_ONLY */
	const char *key;
	const void *value; /* put */
	size_t value_len;
	int64_t lease; /* put: attach to this lease; 0: none */
	int64_t limit; /* range: at most this many kvs; 0: all */
};

struct strata_store_op_result {
	uint32_t type;
	uint32_t more; /* range: limit cut the list */
	int64_t count; /* range: keys matched; delete: keys deleted */
	const struct strata_kv *kvs; /* range, in key order */
	size_t n_kvs;
};

/* At most 128 ops per branch; no key put twice. */
struct strata_store_txn {
	const struct strata_store_cmp *cmp;
	size_t n_cmp;
	const struct strata_store_op *success;
	size_t n_success;
	const struct strata_store_op *failure;
	size_t n_failure;
};

struct strata_store_txn_result {
	int64_t revision;   /* the store's revision after the txn */
	uint32_t succeeded; /* every compare held */
	uint32_t reserved;
	const struct strata_store_op_result *results; /* of the branch taken */
	size_t n_results;
};

#define STRATA_EVENT_PUT 1u
#define STRATA_EVENT_DELETE 2u

struct strata_store_event {
	uint32_t type;
	uint32_t reserved;
	struct strata_kv kv; /* delete: key and mod_rev (the delete's) only */
};

/*
 * Completions. err is 0 or -errno: -ENOENT (a put names a lease that does
 * not exist; a keepalive on a lease that is gone), -EINVAL, -EIO, -ENOSPC,
 * -EBUSY, -ECANCELED (the store closed). On error nothing changed and the
 * result is NULL. Results are valid during the callback only.
 */
typedef void (*strata_store_txn_cb)(void *arg, int err,
				    const struct strata_store_txn_result *res);
/* rev: revision after the write; n: keys deleted (delete), else 0. */
typedef void (*strata_store_done_cb)(void *arg, int err, int64_t rev,
				     int64_t n);
/* rev: the revision the read saw. */
typedef void (*strata_store_range_cb)(void *arg, int err, int64_t rev,
				      const struct strata_kv *kvs, size_t n);
/* ttl_ms: the TTL granted or renewed. */
typedef void (*strata_store_lease_cb)(void *arg, int err, int64_t id,
				      int64_t ttl_ms);
/*
 * A batch of events, whole revisions in order. err -ESTALE: the history
 * from the watch's next revision is compacted (rev is the compaction
 * revision): re-list, then watch again from the list's revision + 1. The
 * same when the store's revisions went backwards (etcd restored from an
 * older snapshot; rev is the store's revision now, below those seen). Any
 * err ends the watch; the handle stays until it is cancelled.
 */
typedef void (*strata_store_watch_cb)(void *arg, int err, int64_t rev,
				      const struct strata_store_event *ev,
				      size_t n);

#ifdef __cplusplus
}
#endif

#endif
