/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leader election on any store backend: a campaign key created only if
 * absent, attached to a lease the candidate keeps alive.
 *
 * Fencing by time: the leader may act only until the lease could have
 * expired by its own clock, less a margin. The deadline counts from the
 * moment each grant or keepalive was sent (before the store set the lease's
 * own deadline), on CLOCK_BOOTTIME, the clock the embedded store expires
 * leases by. Check election_is_leader() before every mutating call and
 * every retry, and finish each call within election_remaining().
 */
#ifndef STRATA_CORE_ELECTION_H
#define STRATA_CORE_ELECTION_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct loop;
struct election;

struct election_options {
	uint32_t size;     /* sizeof(struct election_options) */
	const char *key;   /* the campaign key */
	const char *value; /* who campaigns, e.g. the node's name */
	int64_t ttl_ms;    /* the lease; 0: 10 s */
	int64_t margin_ms; /* stop this long before the lease could end; 0: ttl/5 */
	int64_t retry_ms;  /* after a store error; 0: ttl/4 */
};

/* Leadership began (true) or ended (false). */
typedef void (*election_cb)(void *arg, bool leader);

int election_start(struct store *st, struct loop *loop,
		   const struct election_options *opt, election_cb cb,
		   void *arg, struct election **out);
/* Resigns (revokes the lease, so another takes over at once) and frees.
 * No callback after it. Stop every election before closing its store. */
void election_stop(struct election *e);

/* Leader now, and the fence deadline not passed by this process's clock. */
bool election_is_leader(const struct election *e);
/* ns until the fence deadline; 0 when not leader. */
int64_t election_remaining(const struct election *e);
/* The campaign key's create revision while leader (0 otherwise): it names
 * this term. */
int64_t election_term(const struct election *e);

/*
 * A txn that only applies while this term lasts: a compare that the
 * campaign key still has this term's create revision is added to txn's.
 * -EPERM without a call when not leader by election_is_leader(). When
 * res->succeeded is false, either compare failed: check leadership again.
 */
int election_txn(struct election *e, const struct strata_store_txn *txn,
		 store_txn_cb cb, void *arg);

#endif
