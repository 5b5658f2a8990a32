/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster store: etcd v3 semantics behind one asynchronous interface,
 * with an embedded backend (SQLite in WAL mode, several processes on one
 * file) and etcd v3 over its JSON gateway ("etcd:http://HOST:PORT,...").
 *
 * - One global revision, raised by every transaction that changes a key;
 *   each key carries its create and mod revision and a version (1 at
 *   creation, +1 per put; deleting resets it).
 * - Every call completes through its callback on the loop thread, never
 *   from inside the call. A call that returns an error did not queue its
 *   callback. Arguments are borrowed for the call; results are valid during
 *   the callback only.
 * - Keys are NUL-terminated byte strings ordered by memcmp; values are
 *   bytes with a length (a NUL is appended in results for convenience).
 */
#ifndef STRATA_CORE_STORE_H
#define STRATA_CORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/store.h>

struct loop;
struct store;
struct store_watch;

/* The data schema this build reads and writes (store_schema_check()). */
#define STORE_SCHEMA_KEY "strata/schema"
#define STORE_SCHEMA_MIN 1u
#define STORE_SCHEMA_MAX 1u

/* Bounds shared by every backend (etcd's defaults). */
#define STORE_MAX_TXN_OPS 128
#define STORE_MAX_VALUE (1024 * 1024)

struct store_options {
	uint32_t size; /* sizeof(struct store_options) */
	/* "sqlite:PATH", or a plain PATH for the embedded backend;
	 * "etcd:URL[,URL...]" (http:// or https://, every member). */
	const char *url;
	/* Revisions of history kept for watches; 0: 10000. */
	int64_t history;
	/* Embedded: how long a writer waits for another process's lock. 0: 10 s. */
	int64_t busy_timeout_ms;
	/* Embedded: how often to look for foreign writes the notification
	 * missed (a writer that is not strata). 0: 1 s; <0: never. */
	int64_t poll_ms;
	/* etcd: every key lives under this prefix ("": none), so several
	 * clusters can share one etcd. End it with '/'. */
	const char *prefix;
	/* etcd: one attempt of a request; 0: 2 s. A request is retried on
	 * other endpoints for up to 4 times this. */
	int64_t timeout_ms;
	/* etcd: user and password for /v3/auth/authenticate (NULL: no auth).
	 * The password is never logged. */
	const char *username;
	const char *password;
	/* etcd over https://: PEM files; NULL: the system's CAs, no client
	 * certificate. */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
};

/*
 * err: 0, or -ENOENT (a put names a lease that does not exist), -EINVAL,
 * -EIO, -ENOSPC, -EBUSY (another process held the lock too long),
 * -ECANCELED (the store closed). On error res is NULL and nothing changed.
 */
typedef void (*store_txn_cb)(void *arg, int err,
			     const struct strata_store_txn_result *res);
/* rev: revision after the write; n: keys deleted (delete), else 0. */
typedef void (*store_done_cb)(void *arg, int err, int64_t rev, int64_t n);
/* rev: the revision the read saw. */
typedef void (*store_range_cb)(void *arg, int err, int64_t rev,
			       const struct strata_kv *kvs, size_t n);
/* ttl_ms: the TTL granted or renewed. err -ENOENT: lease gone. */
typedef void (*store_lease_cb)(void *arg, int err, int64_t id,
			       int64_t ttl_ms);
/* report: "ok", or what the check found; err -EBADMSG when damaged. */
typedef void (*store_check_cb)(void *arg, int err, const char *report);
/* version: the schema in effect. err -EPROTONOSUPPORT: unknown schema. */
typedef void (*store_schema_cb)(void *arg, int err, uint32_t version);

/*
 * Opens (creating if needed) the store; the embedded backend checks the
 * file's layout and integrity here. On error, errbuf (if any) says what and
 * where in one line, and the result is -errno: -EBADMSG damaged or not a
 * store, -EPROTONOSUPPORT a layout this build does not know.
 */
int store_open(struct loop *loop, const struct store_options *opt,
	       struct store **out, char *errbuf, size_t errlen);
/*
 * Waits for writes already queued, runs their callbacks, then frees the
 * store. Watches still open are freed without a callback. Not to be called
 * from a store callback.
 */
void store_close(struct store *st);
/* "sqlite" or "etcd" */
const char *store_backend(const struct store *st);

int store_txn(struct store *st, const struct strata_store_txn *txn, store_txn_cb cb,
	      void *arg);

/* Helpers over store_txn(). */
int store_get(struct store *st, const char *key, uint32_t flags,
	      store_range_cb cb, void *arg);
int store_put(struct store *st, const char *key, const void *value,
	      size_t value_len, int64_t lease, store_done_cb cb, void *arg);
int store_delete(struct store *st, const char *key, uint32_t flags,
		 store_done_cb cb, void *arg);
/* Put only if key is absent; err -EEXIST when it is there. */
int store_create(struct store *st, const char *key, const void *value,
		 size_t value_len, int64_t lease, store_done_cb cb, void *arg);
/* Put only if key's mod revision is mod_rev (0: absent); else -ECANCELED. */
int store_cas(struct store *st, const char *key, int64_t mod_rev,
	      const void *value, size_t value_len, int64_t lease,
	      store_done_cb cb, void *arg);

/*
 * Leases. ttl_ms is rounded up to what the backend keeps (etcd: whole
 * seconds, with a minimum); the callback says what was granted. id 0 lets
 * the store choose. Revoking (or expiry) deletes the keys attached in one
 * revision. Keepalive on a lease that expired or never was: -ENOENT.
 */
int store_lease_grant(struct store *st, int64_t ttl_ms, int64_t id,
		      store_lease_cb cb, void *arg);
int store_lease_keepalive(struct store *st, int64_t id, store_lease_cb cb,
			  void *arg);
int store_lease_revoke(struct store *st, int64_t id, store_done_cb cb,
		       void *arg);

/*
 * A batch of events, whole revisions in order. err -ESTALE: the history
 * from the watch's next revision is compacted (rev is the compaction
 * revision): re-list, then watch again from the list's revision + 1.
 * Also when the store's revisions went backwards (etcd restored from an
 * older snapshot; rev is the store's revision now, below those seen).
 * Any err ends the watch; the handle stays until store_watch_cancel().
 */
typedef void (*store_watch_cb)(void *arg, int err, int64_t rev,
			       const struct strata_store_event *ev, size_t n);

/* From start_rev (0: the next revision), for key or (STRATA_STORE_PREFIX) all
 * keys under it. */
int store_watch(struct store *st, const char *key, uint32_t flags,
		int64_t start_rev, store_watch_cb cb, void *arg,
		struct store_watch **out);
/* Safe from inside the watch's callback; no callback after it. */
void store_watch_cancel(struct store_watch *w);

/* Drop history before rev; watches from before it get -ESTALE. */
int store_compact(struct store *st, int64_t rev, store_done_cb cb,
		  void *arg);
/* A full integrity check (stratactl store check). */
int store_check(struct store *st, store_check_cb cb, void *arg);

/*
 * Reads the schema key; writes STORE_SCHEMA_MAX there if absent. A schema
 * outside [STORE_SCHEMA_MIN, STORE_SCHEMA_MAX] is refused (-EPROTONOSUPPORT)
 * with an error logged saying which versions this build knows. The daemon
 * keeps writing the version found until every daemon knows a newer one.
 */
int store_schema_check(struct store *st, store_schema_cb cb, void *arg);

/* Smallest key after every key that starts with prefix; "" when none
 * (prefix "" or all 0xff): then the range has no end. out has
 * strlen(prefix) + 1 bytes. For backends and tests. */
void store_prefix_end(const char *prefix, char *out);

#endif
