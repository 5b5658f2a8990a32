/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store interface's conformance suite, written once against store.h
 * and run against every backend: a backend's test program fills a fixture
 * and adds store_conformance_suite(&fixture) to its runner.
 */
#ifndef STRATA_TESTS_STORE_CONFORMANCE_H
#define STRATA_TESTS_STORE_CONFORMANCE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "store.h"

struct store_fixture {
	const char *name;
	/* Prepare an empty store, in the forked test process. */
	void (*setup)(void);
	void (*teardown)(void);
	/* One more handle on the store set up: each behaves like another
	 * daemon (its own connections). */
	int (*open)(struct loop *loop, struct store **out);
	/* Shortest lease TTL the backend keeps, in ms. */
	int64_t min_ttl_ms;
};

Suite *store_conformance_suite(const struct store_fixture *fx);

/* Helpers shared with the backends' own tests: each runs the loop until
 * the call completes (bounded) and fails the test on timeout. */
struct store_sync {
	bool done;
	int err;
	int64_t rev;
	int64_t n;
	int64_t id;
	int64_t ttl_ms;
	bool succeeded;
	size_t n_kvs;
	struct strata_kv kvs[64]; /* copies: free with sync_reset() */
	char report[256];
};

void sync_reset(struct store_sync *s);
void sync_wait(struct loop *loop, bool *flag, int ms);
int sync_put(struct loop *loop, struct store *st, const char *key,
	     const char *value, int64_t lease, int64_t *rev);
int sync_get(struct loop *loop, struct store *st, const char *key,
	     uint32_t flags, struct store_sync *out);
int sync_delete(struct loop *loop, struct store *st, const char *key,
		uint32_t flags, int64_t *n);
int sync_txn(struct loop *loop, struct store *st, const struct strata_store_txn *t,
	     struct store_sync *out);
int sync_grant(struct loop *loop, struct store *st, int64_t ttl_ms,
	       int64_t *id);
int sync_keepalive(struct loop *loop, struct store *st, int64_t id);
int sync_revoke(struct loop *loop, struct store *st, int64_t id);
int sync_check(struct loop *loop, struct store *st, char *report,
	       size_t len);
/* Runs the loop for ms. */
void spin(struct loop *loop, int ms);

#endif
