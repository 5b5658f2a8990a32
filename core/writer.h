/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route writer: one per cluster, elected through the store. While it
 * leads it follows the observers' reports and the drain marks, decides
 * (forwarding.c) and writes the forwarding intent, only while its term
 * lasts (election_txn), and only when the intent changes. A new writer
 * continues from the intent in the store.
 */
#ifndef STRATA_CORE_WRITER_H
#define STRATA_CORE_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "forwarding.h"
#include "planner.h"

struct loop;
struct store;
struct writer;

#define WRITER_ELECTION_KEY "strata/elect/route-writer"

struct writer_options {
	const char *node;
	int64_t lease_ms; /* the election's lease; 0: 10 s */
	struct fwd_options fwd;
	struct plan_options plan;
	/* Leadership began or ended (cloud advertisers act only while it
	 * lasts); may be NULL. */
	void (*leader_cb)(void *arg, bool leader);
	void *leader_arg;
};

int writer_new(struct loop *loop, struct store *st,
	       const struct writer_options *opt, planner_view_fn view,
	       void *view_arg, struct writer **out);
/* Resigns (another node takes over at once) and frees. */
void writer_free(struct writer *w);
/* Options other than node and lease_ms apply at the next decision. */
void writer_set_options(struct writer *w, const struct writer_options *opt);
/* The carving changed: decide again soon (when leading). */
void writer_changed(struct writer *w);

/* ns this node may still act as the route writer by its own clock (the
 * election's fence); 0 when it is not the writer. */
int64_t writer_remaining(const struct writer *w);

struct writer_stats {
	bool leader;
	int64_t term;
	int64_t decisions, writes, failures;
	const char *error; /* the last failure, or NULL */
};
void writer_stats(const struct writer *w, struct writer_stats *out);

#endif
