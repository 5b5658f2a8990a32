/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a store backend implements. store.c validates arguments and builds
 * the helpers on these; a backend embeds struct store (and struct
 * store_watch) first in its own state.
 */
#ifndef STRATA_CORE_STORE_BACKEND_H
#define STRATA_CORE_STORE_BACKEND_H

#include "store.h"

struct store_backend_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*txn)(struct store *st, const struct strata_store_txn *txn,
		   store_txn_cb cb, void *arg);
	int (*lease_grant)(struct store *st, int64_t ttl_ms, int64_t id,
			   store_lease_cb cb, void *arg);
	int (*lease_keepalive)(struct store *st, int64_t id, store_lease_cb cb,
			       void *arg);
	int (*lease_revoke)(struct store *st, int64_t id, store_done_cb cb,
			    void *arg);
	int (*watch)(struct store *st, const char *key, const char *end,
		     int64_t start_rev, store_watch_cb cb, void *arg,
		     struct store_watch **out);
	void (*watch_cancel)(struct store_watch *w);
	int (*compact)(struct store *st, int64_t rev, store_done_cb cb,
		       void *arg);
	int (*check)(struct store *st, store_check_cb cb, void *arg);
};

struct store {
	const struct store_backend_ops *ops;
	struct loop *loop;
};

struct store_watch {
	struct store *st;
};

int store_sqlite_open(struct loop *loop, const struct store_options *opt,
		      const char *path, struct store **out, char *errbuf,
		      size_t errlen);
int store_etcd_open(struct loop *loop, const struct store_options *opt,
		    const char *urls, struct store **out, char *errbuf,
		    size_t errlen);
/* The endpoint an etcd store's next request (or watch) goes to. */
const char *store_etcd_endpoint(const struct store *st);

/*
 * The range an op or compare names, as [key, end): end NULL for the key
 * alone, "" for no end. Returns end (in buf when a prefix) or NULL.
 */
const char *store_range_end(const char *key, uint32_t flags, char *buf);

#endif
