/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health scheduler (core/health.c) on a real loop with short intervals,
 * against a fake checker whose answers each test scripts: up, down, never,
 * after N ms, an error from probe(), or an answer inside probe(). A target's
 * port is its index in the fake; its name is "t<port>".
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "loop.h"

#define MS 1000000LL
/* Generous: the machine may be loaded or running valgrind. */
#define LIMIT_MS 10000

static uint64_t seed;

enum answer_kind {
	A_UP,
	A_DOWN,
	A_NEVER,
	A_ERROR,   /* probe() fails with -ECONNREFUSED */
	A_SYNC_UP, /* done() runs inside probe() */
};

struct answer {
	enum answer_kind kind;
	int delay_ms; /* A_UP, A_DOWN: 0 answers from a deferred call */
};

#define MAX_T 128
#define MAX_SCRIPT 32
#define MAX_REC 4096
#define MAX_EV 256
#define MAX_IDS 64

struct fake_target {
	struct answer script[MAX_SCRIPT];
	int n_script, pos;
	struct answer dflt;
	int inflight, max_inflight, overlaps;
	int sent, answered, cancelled;
	int64_t ids[MAX_IDS]; /* ids handed out, in order */
	int64_t cancelled_ids[MAX_IDS];
};

struct pending {
	struct pending *next;
	int64_t id;
	int port;
	bool up;
	strata_hc_done done;
	void *arg;
	struct loop_timer *timer;
	struct loop_defer *defer;
};

struct rec {
	int port;
	int64_t at;  /* when probe() was called */
	int64_t due; /* when the scheduler had planned it */
};

struct ev {
	int port;
	enum health_state state;
	char reason[HEALTH_REASON_MAX];
	int64_t when;
	uint64_t probes; /* the target's probes sent at the callback */
};

static struct {
	struct fake_target t[MAX_T];
	struct pending *pending;
	int64_t next_id;
	int unknown_cancels;
	struct rec rec[MAX_REC];
	int n_rec;
	struct ev ev[MAX_EV];
	int n_ev;
	int remove_on_event; /* port whose event removes it; -1: none */
	int free_on_event;   /* port whose event frees the scheduler */
} fake;

static struct loop *loop;
static struct health *hs;

static int port_of(const char *name)
{
	return atoi(name + 1);
}

static void name_of(int port, char *buf, size_t len)
{
	snprintf(buf, len, "t%d", port);
}

/* -- the fake checker ------------------------------------------------- */

static void unlink_pending(struct pending *p)
{
	struct pending **pp;

	for (pp = &fake.pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

static void answer_now(struct pending *p)
{
	strata_hc_done done = p->done;
	void *arg = p->arg;
	bool up = p->up;

	unlink_pending(p);
	fake.t[p->port].inflight--;
	fake.t[p->port].answered++;
	free(p);
	/* Last: done may free the scheduler. */
	done(arg, up, up ? "fake up" : "fake down");
}

static void answer_timer(void *arg)
{
	struct pending *p = arg;

	loop_timer_cancel(p->timer);
	answer_now(p);
}

static void answer_defer(void *arg)
{
	answer_now(arg);
}

static int64_t fake_probe(void *self, const struct strata_hc_target *target,
			  strata_hc_done done, void *arg)
{
	struct fake_target *ft;
	struct health_info info;
	struct answer a;
	struct pending *p;
	char name[16];
	int port = target->port;
	int64_t id;

	(void)self;
	ck_assert_int_lt(port, MAX_T);
	ck_assert_uint_eq(target->size, sizeof(*target));
	ft = &fake.t[port];
	name_of(port, name, sizeof(name));
	ck_assert_int_eq(health_target_state(hs, name, &info), 0);
	if (fake.n_rec < MAX_REC)
		fake.rec[fake.n_rec++] = (struct rec){
			.port = port,
			.at = loop_now(),
			.due = info.last_due,
		};
	if (ft->inflight > 0)
		ft->overlaps++;
	a = ft->pos < ft->n_script ? ft->script[ft->pos++] : ft->dflt;
	if (a.kind == A_ERROR)
		return -ECONNREFUSED;
	id = ++fake.next_id;
	if (ft->sent < MAX_IDS)
		ft->ids[ft->sent] = id;
	ft->sent++;
	if (a.kind == A_SYNC_UP) {
		ft->answered++;
		done(arg, 1, "sync up");
		return id;
	}
	p = calloc(1, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	p->id = id;
	p->port = port;
	p->up = a.kind == A_UP;
	p->done = done;
	p->arg = arg;
	if (a.kind != A_NEVER) {
		if (a.delay_ms > 0)
			p->timer = loop_timer_add(loop, a.delay_ms * MS, 0,
						  answer_timer, p);
		else
			p->defer = loop_defer(loop, answer_defer, p);
		ck_assert(p->timer || p->defer);
	}
	p->next = fake.pending;
	fake.pending = p;
	ft->inflight++;
	if (ft->inflight > ft->max_inflight)
		ft->max_inflight = ft->inflight;
	return id;
}

static void fake_cancel(void *self, int64_t id)
{
	struct pending *p;

	(void)self;
	for (p = fake.pending; p; p = p->next)
		if (p->id == id)
			break;
	if (!p) {
		fake.unknown_cancels++;
		return;
	}
	unlink_pending(p);
	loop_timer_cancel(p->timer);
	loop_defer_cancel(p->defer);
	if (fake.t[p->port].cancelled < MAX_IDS)
		fake.t[p->port].cancelled_ids[fake.t[p->port].cancelled] = id;
	fake.t[p->port].cancelled++;
	fake.t[p->port].inflight--;
	free(p);
}

static const struct strata_healthcheck_ops fake_ops = {
	.size = sizeof(struct strata_healthcheck_ops),
	.probe = fake_probe,
	.cancel = fake_cancel,
};

/* -- the scheduler's callback ----------------------------------------- */

static void on_change(void *arg, const char *name, enum health_state state,
		      const char *reason, int64_t when)
{
	struct health_info info;
	struct ev *e;
	int port = port_of(name);

	ck_assert_ptr_eq(arg, &fake);
	ck_assert_int_lt(fake.n_ev, MAX_EV);
	ck_assert_int_eq(health_target_state(hs, name, &info), 0);
	ck_assert_int_eq(info.state, state);
	e = &fake.ev[fake.n_ev++];
	e->port = port;
	e->state = state;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	e->when = when;
	e->probes = info.probes;
	if (port == fake.remove_on_event)
		ck_assert_int_eq(health_target_remove(hs, name), 0);
	if (port == fake.free_on_event) {
		health_free(hs);
		hs = NULL;
	}
}

/* -- helpers ---------------------------------------------------------- */

static void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.remove_on_event = -1;
	fake.free_on_event = -1;
	ck_assert_int_eq(loop_new(&loop), 0);
	ck_assert_int_eq(health_new(loop, seed, on_change, &fake, &hs), 0);
}

static void teardown(void)
{
	health_free(hs);
	hs = NULL;
	while (fake.pending) {
		struct pending *p = fake.pending;

		fake.pending = p->next;
		free(p);
	}
	loop_free(loop);
	loop = NULL;
}

#define RUN_UNTIL(cond)                                                     \
	do {                                                                \
		int64_t end_ = loop_now() + LIMIT_MS * MS;                  \
		while (!(cond)) {                                           \
			ck_assert_msg(loop_now() < end_,                    \
				      "gave up waiting for " #cond);        \
			ck_assert_int_eq(loop_run_once(loop, 5), 0);        \
		}                                                           \
	} while (0)

static void run_for(int64_t ms)
{
	int64_t end = loop_now() + ms * MS;

	while (loop_now() < end)
		ck_assert_int_eq(loop_run_once(loop, 5), 0);
}

static struct health_timing timing(int64_t interval_ms, int64_t timeout_ms,
				   uint32_t fall, uint32_t rise,
				   enum health_state start, double jitter)
{
	return (struct health_timing){
		.interval_ns = interval_ms * MS,
		.timeout_ns = timeout_ms * MS,
		.fall = fall,
		.rise = rise,
		.start = start,
		.jitter = jitter,
	};
}

static int add(int port, const struct health_timing *tm)
{
	struct strata_hc_target target = {
		.size = sizeof(target),
		.addr = { .family = 2 },
		.port = (uint16_t)port,
		.path = "/healthz",
	};
	char name[16];

	name_of(port, name, sizeof(name));
	return health_target_add(hs, name, &fake_ops, NULL, &target, tm);
}

static struct health_info info_of(int port)
{
	struct health_info info;
	char name[16];

	name_of(port, name, sizeof(name));
	ck_assert_int_eq(health_target_state(hs, name, &info), 0);
	return info;
}

/* Probes whose result is in. */
static uint64_t results(int port)
{
	struct health_info info = info_of(port);

	return info.probes - (info.probing ? 1 : 0);
}

static void script(int port, const char *answers)
{
	struct fake_target *ft = &fake.t[port];

	for (const char *c = answers; *c; c++) {
		ck_assert_int_lt(ft->n_script, MAX_SCRIPT);
		ft->script[ft->n_script++] = (struct answer){
			.kind = *c == 'U' ? A_UP : A_DOWN,
		};
	}
}

static int events_of(int port)
{
	int n = 0;

	for (int i = 0; i < fake.n_ev; i++)
		n += fake.ev[i].port == port;
	return n;
}

static const struct ev *event_of(int port, int nth)
{
	for (int i = 0; i < fake.n_ev; i++)
		if (fake.ev[i].port == port && nth-- == 0)
			return &fake.ev[i];
	ck_abort_msg("t%d has no event %d", port, nth);
	return NULL;
}

/* -- fall and rise ---------------------------------------------------- */

START_TEST(test_fall_counts_exactly)
{
	struct health_timing tm = timing(20, 0, 3, 2, HEALTH_UP, 0);

	/* 2 downs stay up; an up resets; 3 downs go down; 1 up stays down;
	 * 2 ups come up. */
	script(0, "DDUDDDUU");
	fake.t[0].dflt = (struct answer){ .kind = A_UP };
	ck_assert_int_eq(add(0, &tm), 0);
	RUN_UNTIL(results(0) >= 2);
	ck_assert_int_eq(fake.n_ev, 0);
	ck_assert_int_eq(info_of(0).state, HEALTH_UP);
	ck_assert_uint_eq(info_of(0).failures, 2);
	RUN_UNTIL(results(0) >= 5);
	ck_assert_int_eq(fake.n_ev, 0);
	ck_assert_uint_eq(info_of(0).failures, 2);
	RUN_UNTIL(results(0) >= 8);
	ck_assert_int_eq(fake.n_ev, 2);
	ck_assert_int_eq(event_of(0, 0)->state, HEALTH_DOWN);
	ck_assert_uint_eq(event_of(0, 0)->probes, 6);
	ck_assert_str_eq(event_of(0, 0)->reason, "fake down");
	ck_assert_int_eq(event_of(0, 1)->state, HEALTH_UP);
	ck_assert_uint_eq(event_of(0, 1)->probes, 8);
	ck_assert_str_eq(event_of(0, 1)->reason, "fake up");
	ck_assert_int_eq(info_of(0).state, HEALTH_UP);
	ck_assert_uint_eq(info_of(0).successes, 2);
	ck_assert_uint_eq(info_of(0).failures, 0);
	ck_assert_uint_eq(info_of(0).failed, 5);
	ck_assert_int_eq(info_of(0).last_change, event_of(0, 1)->when);
	ck_assert_str_eq(info_of(0).change_reason, "fake up");
}
END_TEST

START_TEST(test_rise_counts_exactly)
{
	struct health_timing tm = timing(20, 0, 2, 3, HEALTH_DOWN, 0);

	/* From down: 2 ups stay down; a down resets; 3 ups come up. */
	script(0, "UUDUUU");
	fake.t[0].dflt = (struct answer){ .kind = A_UP };
	ck_assert_int_eq(add(0, &tm), 0);
	RUN_UNTIL(results(0) >= 5);
	ck_assert_int_eq(fake.n_ev, 0);
	ck_assert_int_eq(info_of(0).state, HEALTH_DOWN);
	ck_assert_uint_eq(info_of(0).successes, 2);
	RUN_UNTIL(results(0) >= 6);
	ck_assert_int_eq(fake.n_ev, 1);
	ck_assert_int_eq(event_of(0, 0)->state, HEALTH_UP);
	ck_assert_uint_eq(event_of(0, 0)->probes, 6);
}
END_TEST

START_TEST(test_start_states)
{
	struct health_timing unknown = timing(20, 0, 3, 2, HEALTH_UNKNOWN, 0);
	struct health_timing up = timing(20, 0, 3, 2, HEALTH_UP, 0);
	struct health_timing down = timing(20, 0, 3, 2, HEALTH_DOWN, 0);

	fake.t[0].dflt = (struct answer){ .kind = A_DOWN };
	fake.t[1].dflt = (struct answer){ .kind = A_UP };
	fake.t[2].dflt = (struct answer){ .kind = A_UP };
	fake.t[3].dflt = (struct answer){ .kind = A_DOWN };
	ck_assert_int_eq(add(0, &unknown), 0);
	ck_assert_int_eq(add(1, &unknown), 0);
	ck_assert_int_eq(add(2, &up), 0);
	ck_assert_int_eq(add(3, &down), 0);
	ck_assert_int_eq(info_of(0).state, HEALTH_UNKNOWN);
	ck_assert_int_eq(info_of(2).state, HEALTH_UP);
	ck_assert_int_eq(info_of(3).state, HEALTH_DOWN);
	ck_assert_int_eq(info_of(0).last_change, 0);

	RUN_UNTIL(results(0) >= 4 && results(1) >= 4 && results(2) >= 4 &&
		  results(3) >= 4);
	/* Unknown: the first result decides, whatever fall and rise say. */
	ck_assert_int_eq(events_of(0), 1);
	ck_assert_int_eq(event_of(0, 0)->state, HEALTH_DOWN);
	ck_assert_uint_eq(event_of(0, 0)->probes, 1);
	ck_assert_int_eq(events_of(1), 1);
	ck_assert_int_eq(event_of(1, 0)->state, HEALTH_UP);
	ck_assert_uint_eq(event_of(1, 0)->probes, 1);
	/* Up or down already: only a change calls back. */
	ck_assert_int_eq(events_of(2), 0);
	ck_assert_int_eq(events_of(3), 0);
	ck_assert_int_eq(info_of(3).state, HEALTH_DOWN);
}
END_TEST

/* -- timeouts and overlap --------------------------------------------- */

START_TEST(test_timeout_cancels)
{
	struct health_timing t0 = timing(40, 10, 1, 1, HEALTH_UP, 0);
	struct health_timing t2 = timing(40, 40, 1, 1, HEALTH_UP, 0);

	fake.t[0].dflt = (struct answer){ .kind = A_NEVER };
	/* answers, but after its timeout */
	fake.t[1].dflt = (struct answer){ .kind = A_UP, .delay_ms = 30 };
	/* answers in time */
	fake.t[2].dflt = (struct answer){ .kind = A_UP, .delay_ms = 1 };
	ck_assert_int_eq(add(0, &t0), 0);
	ck_assert_int_eq(add(1, &t0), 0);
	ck_assert_int_eq(add(2, &t2), 0);
	RUN_UNTIL(results(0) >= 2 && results(1) >= 2 && results(2) >= 2);

	for (int p = 0; p < 2; p++) {
		struct health_info info = info_of(p);

		ck_assert_int_eq(fake.t[p].answered, 0);
		ck_assert_int_ge(fake.t[p].cancelled, 2);
		ck_assert_int_eq(fake.t[p].cancelled_ids[0], fake.t[p].ids[0]);
		ck_assert_int_eq(fake.t[p].cancelled_ids[1], fake.t[p].ids[1]);
		ck_assert_uint_ge(info.failed, 2);
		ck_assert_str_eq(info.last_reason, "timed out after 10 ms");
		ck_assert_int_eq(events_of(p), 1);
		ck_assert_int_eq(event_of(p, 0)->state, HEALTH_DOWN);
		ck_assert_str_eq(event_of(p, 0)->reason,
				 "timed out after 10 ms");
	}
	ck_assert_int_eq(fake.t[2].cancelled, 0);
	ck_assert_int_ge(fake.t[2].answered, 2);
	ck_assert_uint_eq(info_of(2).failed, 0);
	ck_assert_int_eq(events_of(2), 0);
	ck_assert_int_eq(fake.unknown_cancels, 0);
}
END_TEST

START_TEST(test_no_overlapping_probes)
{
	/* Timeout clamped to the interval, and the most jitter: the next slot
	 * can come before the probe's deadline. */
	struct health_timing tm = timing(20, 50, 3, 2, HEALTH_UNKNOWN, 0.5);

	fake.t[0].dflt = (struct answer){ .kind = A_UP, .delay_ms = 30 };
	fake.t[1].dflt = (struct answer){ .kind = A_UP, .delay_ms = 15 };
	fake.t[2].dflt = (struct answer){ .kind = A_NEVER };
	for (int p = 0; p < 3; p++)
		ck_assert_int_eq(add(p, &tm), 0);
	ck_assert_int_eq(info_of(0).timing.timeout_ns, 20 * MS);
	RUN_UNTIL(results(0) >= 15 && results(1) >= 15 && results(2) >= 15);
	for (int p = 0; p < 3; p++) {
		ck_assert_int_eq(fake.t[p].overlaps, 0);
		ck_assert_int_eq(fake.t[p].max_inflight, 1);
	}
	/* and one target's due times only go forward */
	for (int i = 0; i < fake.n_rec; i++)
		for (int j = i + 1; j < fake.n_rec; j++)
			if (fake.rec[j].port == fake.rec[i].port) {
				ck_assert_int_gt(fake.rec[j].due,
						 fake.rec[i].due);
				break;
			}
	ck_assert_int_eq(fake.unknown_cancels, 0);
}
END_TEST

/* -- the spread and the jitter ---------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The most probes any window of `width` holds. */
static int max_in_window(int64_t *t, int n, int64_t width)
{
	int best = 0;

	qsort(t, (size_t)n, sizeof(*t), cmp_i64);
	for (int i = 0, j = 0; i < n; i++) {
		while (t[i] - t[j] >= width)
			j++;
		if (i - j + 1 > best)
			best = i - j + 1;
	}
	return best;
}

START_TEST(test_spread)
{
	struct health_timing tm;
	static int64_t due[MAX_REC];
	int64_t start;
	int n = 0, max;

	health_timing_default(&tm);
	tm.interval_ns = 200 * MS;
	for (int p = 0; p < 100; p++) {
		fake.t[p].dflt = (struct answer){ .kind = A_UP };
		ck_assert_int_eq(add(p, &tm), 0);
	}
	start = loop_now();
	for (int p = 0; p < 100; p++) {
		int64_t d = info_of(p).next_due - start;

		/* the first probe within one interval (plus jitter) */
		ck_assert_int_ge(d, -20 * MS);
		ck_assert_int_le(d, 220 * MS);
	}
	for (int p = 0; p < 100; p++)
		RUN_UNTIL(results(p) >= 3);
	for (int i = 0; i < fake.n_rec; i++) {
		/* the loop never runs a timer early */
		ck_assert_int_ge(fake.rec[i].at, fake.rec[i].due);
		due[n++] = fake.rec[i].due;
	}
	ck_assert_int_ge(n, 300);
	max = max_in_window(due, n, 10 * MS);
	printf("test_spread: %d probes, at most %d in any 10 ms\n", n, max);
	ck_assert_int_le(max, 15);
	/* and none of them forgotten: every 200 ms holds about 100 */
	ck_assert_int_ge(max_in_window(due, n, 200 * MS), 80);
}
END_TEST

START_TEST(test_jitter_bounds)
{
	struct health_timing jit = timing(20, 0, 3, 2, HEALTH_UNKNOWN, 0.2);
	struct health_timing none = timing(20, 0, 3, 2, HEALTH_UNKNOWN, 0);
	const int64_t iv = 20 * MS, span = 4 * MS;

	fake.t[0].dflt = (struct answer){ .kind = A_UP };
	fake.t[1].dflt = (struct answer){ .kind = A_UP };
	ck_assert_int_eq(add(0, &jit), 0);
	ck_assert_int_eq(add(1, &none), 0);
	RUN_UNTIL(results(0) >= 30 && results(1) >= 30);

	for (int p = 0; p < 2; p++) {
		int64_t d0 = -1, lo = INT64_MAX, hi = INT64_MIN;

		for (int i = 0; i < fake.n_rec; i++) {
			int64_t off, k;

			if (fake.rec[i].port != p)
				continue;
			if (d0 < 0)
				d0 = fake.rec[i].due;
			/* the slot (robust to one skipped by a stalled loop),
			 * then how far the jitter moved the probe from it */
			k = (fake.rec[i].due - d0 + iv / 2) / iv;
			off = fake.rec[i].due - d0 - k * iv;
			lo = off < lo ? off : lo;
			hi = off > hi ? off : hi;
		}
		printf("test_jitter_bounds: t%d offsets %" PRId64
		       "..%" PRId64 " ns\n",
		       p, lo, hi);
		if (p == 0) {
			ck_assert_int_ge(lo, -2 * span);
			ck_assert_int_le(hi, 2 * span);
			/* it does move them */
			ck_assert_int_ge(hi - lo, span);
			ck_assert_int_le(hi - lo, 2 * span);
		} else {
			ck_assert_int_eq(lo, 0);
			ck_assert_int_eq(hi, 0);
		}
	}
}
END_TEST

/* -- adding, removing, retiming, freeing ------------------------------ */

START_TEST(test_remove_while_probing)
{
	struct health_timing tm = timing(50, 40, 1, 1, HEALTH_UP, 0);
	struct health_timing quick = timing(20, 0, 1, 1, HEALTH_UNKNOWN, 0);
	struct health_info info;
	int sent;

	/* Its answer would take it down: removal must silence it. */
	fake.t[0].dflt = (struct answer){ .kind = A_DOWN, .delay_ms = 30 };
	ck_assert_int_eq(add(0, &tm), 0);
	RUN_UNTIL(fake.t[0].inflight == 1);
	ck_assert(info_of(0).probing);
	ck_assert_int_eq(health_target_remove(hs, "t0"), 0);
	ck_assert_int_eq(fake.t[0].cancelled, 1);
	ck_assert_int_eq(fake.t[0].cancelled_ids[0], fake.t[0].ids[0]);
	ck_assert_int_eq(fake.t[0].inflight, 0);
	ck_assert_int_eq(health_target_remove(hs, "t0"), -ENOENT);
	ck_assert_int_eq(health_target_state(hs, "t0", &info), -ENOENT);

	/* Added while running: probed and reported; removes itself from
	 * inside its own callback. */
	fake.t[1].dflt = (struct answer){ .kind = A_UP };
	fake.remove_on_event = 1;
	ck_assert_int_eq(add(1, &quick), 0);
	RUN_UNTIL(events_of(1) == 1);
	sent = fake.t[1].sent;
	ck_assert_int_eq(health_target_remove(hs, "t1"), -ENOENT);

	run_for(120);
	ck_assert_int_eq(events_of(0), 0);
	ck_assert_int_eq(fake.t[0].sent, 1);
	ck_assert_int_eq(events_of(1), 1);
	ck_assert_int_eq(fake.t[1].sent, sent);
	ck_assert_int_eq(fake.t[1].cancelled, 0);
	ck_assert_uint_eq(health_list(hs, NULL, NULL), 0);

	/* A name is free again once removed. */
	fake.t[0].dflt = (struct answer){ .kind = A_UP };
	ck_assert_int_eq(add(0, &quick), 0);
	RUN_UNTIL(events_of(0) == 1);
	ck_assert_int_eq(event_of(0, 0)->state, HEALTH_UP);
	ck_assert_int_eq(fake.unknown_cancels, 0);
}
END_TEST

START_TEST(test_change_timing)
{
	struct health_timing slow = timing(100, 0, 3, 2, HEALTH_UP, 0);
	struct health_timing fall5 = timing(20, 0, 5, 2, HEALTH_UP, 0);
	struct health_timing tm;
	int first, exact = 0, gaps = 0;
	int64_t prev = -1;

	/* interval: 100 ms, then 20 ms */
	fake.t[0].dflt = (struct answer){ .kind = A_UP };
	ck_assert_int_eq(add(0, &slow), 0);
	RUN_UNTIL(results(0) >= 1);
	first = fake.n_rec;
	tm = slow;
	tm.interval_ns = 20 * MS;
	ck_assert_int_eq(health_target_set_timing(hs, "t0", &tm), 0);
	ck_assert_int_eq(info_of(0).timing.interval_ns, 20 * MS);
	ck_assert_int_eq(info_of(0).timing.timeout_ns, 10 * MS);
	RUN_UNTIL(results(0) >= 8);
	for (int i = first; i < fake.n_rec; i++) {
		if (fake.rec[i].port != 0)
			continue;
		if (prev >= 0) {
			int64_t gap = fake.rec[i].due - prev;

			ck_assert_int_eq(gap % (20 * MS), 0);
			exact += gap == 20 * MS;
			gaps++;
		}
		prev = fake.rec[i].due;
	}
	ck_assert_int_ge(gaps, 6);
	ck_assert_int_ge(exact, gaps / 2);

	/* fall: 5, then 1 after two failures; the next one goes down */
	fake.t[1].dflt = (struct answer){ .kind = A_DOWN };
	ck_assert_int_eq(add(1, &fall5), 0);
	RUN_UNTIL(results(1) >= 2);
	ck_assert_int_eq(events_of(1), 0);
	tm = fall5;
	tm.fall = 1;
	ck_assert_int_eq(health_target_set_timing(hs, "t1", &tm), 0);
	RUN_UNTIL(events_of(1) == 1);
	ck_assert_int_eq(event_of(1, 0)->state, HEALTH_DOWN);
	ck_assert_uint_eq(event_of(1, 0)->probes, 3);

	/* timeout: shortened under a probe in flight */
	fake.t[2].dflt = (struct answer){ .kind = A_NEVER };
	tm = timing(1000, 900, 1, 1, HEALTH_UP, 0);
	ck_assert_int_eq(add(2, &tm), 0);
	RUN_UNTIL(fake.t[2].inflight == 1);
	tm.timeout_ns = 5 * MS;
	ck_assert_int_eq(health_target_set_timing(hs, "t2", &tm), 0);
	RUN_UNTIL(events_of(2) == 1);
	ck_assert_str_eq(event_of(2, 0)->reason, "timed out after 5 ms");
	ck_assert_int_eq(fake.t[2].cancelled, 1);

	/* refused */
	tm.interval_ns = 0;
	ck_assert_int_eq(health_target_set_timing(hs, "t2", &tm), -EINVAL);
	tm = slow;
	tm.fall = 0;
	ck_assert_int_eq(health_target_set_timing(hs, "t2", &tm), -EINVAL);
	tm = slow;
	tm.jitter = 0.7;
	ck_assert_int_eq(health_target_set_timing(hs, "t2", &tm), -EINVAL);
	ck_assert_int_eq(health_target_set_timing(hs, "t9", &slow), -ENOENT);
	ck_assert_int_eq(info_of(2).timing.interval_ns, 1000 * MS);
}
END_TEST

START_TEST(test_free_with_probes_in_flight)
{
	/* Timeout as long as the interval: all five in flight at once. */
	struct health_timing tm = timing(100, 100, 1, 1, HEALTH_UP, 0);
	int n_ev;

	for (int p = 0; p < 5; p++) {
		fake.t[p].dflt = (struct answer){ .kind = A_NEVER };
		ck_assert_int_eq(add(p, &tm), 0);
	}
	RUN_UNTIL(fake.t[0].inflight && fake.t[1].inflight &&
		  fake.t[2].inflight && fake.t[3].inflight &&
		  fake.t[4].inflight);
	health_free(hs);
	hs = NULL;
	n_ev = fake.n_ev;
	for (int p = 0; p < 5; p++) {
		struct fake_target *ft = &fake.t[p];

		ck_assert_int_eq(ft->inflight, 0);
		ck_assert_int_eq(ft->cancelled_ids[ft->cancelled - 1],
				 ft->ids[ft->sent - 1]);
	}
	ck_assert_ptr_null(fake.pending);
	run_for(60);
	ck_assert_int_eq(fake.n_ev, n_ev);
	ck_assert_int_eq(fake.unknown_cancels, 0);
}
END_TEST

START_TEST(test_free_from_callback)
{
	struct health_timing tm = timing(20, 0, 1, 1, HEALTH_UNKNOWN, 0);
	struct health_timing slow = timing(20, 20, 1, 1, HEALTH_UNKNOWN, 0);

	/* t1 and t2 hold probes in flight when t0's first result comes. */
	fake.t[1].dflt = (struct answer){ .kind = A_NEVER };
	fake.t[2].dflt = (struct answer){ .kind = A_NEVER };
	ck_assert_int_eq(add(1, &slow), 0);
	ck_assert_int_eq(add(2, &slow), 0);
	RUN_UNTIL(fake.t[1].inflight && fake.t[2].inflight);
	fake.t[0].dflt = (struct answer){ .kind = A_DOWN, .delay_ms = 1 };
	fake.free_on_event = 0;
	ck_assert_int_eq(add(0, &tm), 0);
	RUN_UNTIL(hs == NULL);
	ck_assert_ptr_null(fake.pending);
	ck_assert_int_eq(events_of(0), 1);
	run_for(60);
	ck_assert_int_eq(events_of(0), 1);
	ck_assert_int_eq(fake.unknown_cancels, 0);
}
END_TEST

/* -- checkers that fail or answer at once, and the arguments ----------- */

static void collect(void *arg, const struct health_info *info)
{
	char *names = arg;

	strcat(names, info->name);
	strcat(names, " ");
}

START_TEST(test_probe_error_and_sync_answer)
{
	struct health_timing tm = timing(20, 0, 3, 2, HEALTH_UNKNOWN, 0);
	char expect[HEALTH_REASON_MAX];

	fake.t[0].dflt = (struct answer){ .kind = A_ERROR };
	fake.t[1].dflt = (struct answer){ .kind = A_SYNC_UP };
	ck_assert_int_eq(add(0, &tm), 0);
	ck_assert_int_eq(add(1, &tm), 0);
	RUN_UNTIL(results(0) >= 3 && results(1) >= 3);
	snprintf(expect, sizeof(expect), "probe failed: %s",
		 strerror(ECONNREFUSED));
	ck_assert_int_eq(events_of(0), 1);
	ck_assert_int_eq(event_of(0, 0)->state, HEALTH_DOWN);
	ck_assert_str_eq(event_of(0, 0)->reason, expect);
	ck_assert(!info_of(0).probing);
	ck_assert_uint_eq(info_of(0).failures, info_of(0).probes);
	ck_assert_int_eq(events_of(1), 1);
	ck_assert_int_eq(event_of(1, 0)->state, HEALTH_UP);
	ck_assert_str_eq(event_of(1, 0)->reason, "sync up");
	ck_assert(!info_of(1).probing);
	ck_assert_uint_eq(info_of(1).successes, info_of(1).probes);
	ck_assert_int_eq(fake.t[1].overlaps, 0);
	ck_assert_int_eq(fake.unknown_cancels, 0);
}
END_TEST

START_TEST(test_arguments_and_list)
{
	struct strata_hc_target target = { .size = sizeof(target) };
	struct strata_healthcheck_ops no_cancel = fake_ops;
	struct health_timing tm;
	char names[64] = "";

	health_timing_default(&tm);
	ck_assert_int_eq(tm.interval_ns, 1000 * MS);
	ck_assert_uint_eq(tm.fall, 3);
	ck_assert_uint_eq(tm.rise, 2);
	ck_assert_int_eq(tm.start, HEALTH_UNKNOWN);
	ck_assert(tm.jitter > 0.099 && tm.jitter < 0.101);

	ck_assert_int_eq(add(3, NULL), 0);
	ck_assert_int_eq(info_of(3).timing.timeout_ns, 500 * MS);
	ck_assert_int_eq(add(3, NULL), -EEXIST);
	ck_assert_int_eq(add(1, &tm), 0);
	no_cancel.cancel = NULL;
	ck_assert_int_eq(health_target_add(hs, "x", &no_cancel, NULL, &target,
					   NULL),
			 -EINVAL);
	ck_assert_int_eq(health_target_add(hs, "", &fake_ops, NULL, &target,
					   NULL),
			 -EINVAL);
	tm.rise = 0;
	ck_assert_int_eq(add(4, &tm), -EINVAL);
	tm.rise = 2;
	tm.start = 7;
	ck_assert_int_eq(add(4, &tm), -EINVAL);
	tm.start = HEALTH_UP;
	tm.timeout_ns = -1;
	ck_assert_int_eq(add(4, &tm), -EINVAL);
	tm.timeout_ns = 0;
	tm.interval_ns = MS / 2;
	ck_assert_int_eq(add(4, &tm), -EINVAL);
	ck_assert_int_eq(add(2, NULL), 0);

	ck_assert_uint_eq(health_list(hs, collect, names), 3);
	ck_assert_str_eq(names, "t3 t1 t2 ");
	ck_assert_str_eq(health_state_name(HEALTH_UP), "up");
	ck_assert_str_eq(health_state_name(HEALTH_DOWN), "down");
	ck_assert_str_eq(health_state_name(HEALTH_UNKNOWN), "unknown");
}
END_TEST

static Suite *health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("scheduler");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fall_counts_exactly);
	tcase_add_test(tc, test_rise_counts_exactly);
	tcase_add_test(tc, test_start_states);
	tcase_add_test(tc, test_timeout_cancels);
	tcase_add_test(tc, test_no_overlapping_probes);
	tcase_add_test(tc, test_spread);
	tcase_add_test(tc, test_jitter_bounds);
	tcase_add_test(tc, test_remove_while_probing);
	tcase_add_test(tc, test_change_timing);
	tcase_add_test(tc, test_free_with_probes_in_flight);
	tcase_add_test(tc, test_free_from_callback);
	tcase_add_test(tc, test_probe_error_and_sync_answer);
	tcase_add_test(tc, test_arguments_and_list);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *env = getenv("STRATA_TEST_SEED");
	SRunner *sr;
	int failed;

	seed = env && *env ? strtoull(env, NULL, 0) : 20260611;
	printf("test_health: seed %" PRIu64 " (STRATA_TEST_SEED overrides)\n",
	       seed);
	fflush(stdout);
	sr = srunner_create(health_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
