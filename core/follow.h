/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Following a key (or every key under a prefix) in the store: the callback
 * runs once at the start and again after every change, so its owner simply
 * reads what it needs anew. A watch ended by compaction, a restore or an
 * error is opened again (after a second when it failed), with one more
 * callback since changes may have been missed meanwhile.
 */
#ifndef STRATA_CORE_FOLLOW_H
#define STRATA_CORE_FOLLOW_H

#include <stdint.h>

struct loop;
struct store;
struct follow;

typedef void (*follow_cb)(void *arg);

/* flags: STRATA_STORE_PREFIX or 0. */
int follow_start(struct loop *loop, struct store *st, const char *key,
		 uint32_t flags, follow_cb cb, void *arg, struct follow **out);
/* No callback after it; safe from inside the callback. */
void follow_stop(struct follow *f);

#endif
