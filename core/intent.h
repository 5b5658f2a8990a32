/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health view's two records in the store, as JSON:
 *
 * - the forwarding intent (INTENT_KEY), written only by the elected route
 *   writer: which host forwards each cloud route and through which
 *   addresses, the hosts no route may point at, who observes whom, and the
 *   alarms raised; every applier applies it as it is;
 * - an observer's report (OBS_PREFIX + observer name, on the observer's
 *   lease): its current state of each target it probes.
 *
 * Both come from other nodes, so decoding checks everything and says what
 * was wrong and where. Encoding is canonical (lists in the order given,
 * no whitespace), so equal records encode to equal bytes.
 */
#ifndef STRATA_CORE_INTENT_H
#define STRATA_CORE_INTENT_H

#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#define INTENT_KEY "strata/forwarding/intent"
#define OBS_PREFIX "strata/health/obs/"
#define DRAIN_PREFIX "strata/drain/"
#define INTENT_VERSION 1
#define INTENT_MAX_ADDRS 4
#define INTENT_REASON_MAX 128

/* A target's state, as an observer sees it or as the writer decided. */
enum intent_state {
	INTENT_UNKNOWN = 0,
	INTENT_UP = 1,
	INTENT_DOWN = 2,
};

struct intent_route {
	struct strata_prefix dst;
	char *host;                   /* the forwarder */
	uint32_t n_via;               /* 1..INTENT_MAX_ADDRS */
	struct strata_addr via[INTENT_MAX_ADDRS]; /* its addresses */
};

struct intent_target {
	char *host;
	char *group;                  /* "zone/subnet" */
	uint32_t n_addrs;             /* 1..INTENT_MAX_ADDRS */
	struct strata_addr addrs[INTENT_MAX_ADDRS];
	char **observers;             /* who probes it, in order */
	size_t n_observers;
	enum intent_state state;      /* as the writer decided */
	int64_t since_ms;             /* wall clock of that decision; 0: none */
};

struct intent {
	int64_t term;                 /* the writer's election term, > 0 */
	char *writer;                 /* node name */
	struct intent_route *routes;  /* the cloud routes */
	size_t n_routes;
	struct intent_target *targets;
	size_t n_targets;
	char **unhealthy;             /* hosts no route may point at */
	size_t n_unhealthy;
	char **alarms;                /* one line each */
	size_t n_alarms;
};

struct obs_entry {
	char *target;                 /* host name */
	enum intent_state state;
	int64_t since_ms;             /* wall clock of its last change; 0: none */
	char reason[INTENT_REASON_MAX]; /* of the last result */
};

struct obs_report {
	char *observer;
	struct obs_entry *entries;
	size_t n_entries;
};

/* JSON text in *out (malloc'd, NUL-terminated; *len without the NUL).
 * 0, -ENOMEM, or -EINVAL for a record that would not decode again. */
int intent_encode(const struct intent *in, char **out, size_t *len);
/* 0, or -EINVAL (err says what and where: "routes[2].dst: ...") or
 * -ENOMEM. On error *out is left empty (zeroed). */
int intent_decode(const char *buf, size_t len, struct intent *out,
		  char *err, size_t errlen);
void intent_free(struct intent *in);

int obs_encode(const struct obs_report *r, char **out, size_t *len);
int obs_decode(const char *buf, size_t len, struct obs_report *out,
	       char *err, size_t errlen);
void obs_free(struct obs_report *r);

const char *intent_state_name(enum intent_state s); /* "up", ... */

#endif
