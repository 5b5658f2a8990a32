/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Health-check timing on the loop. One timer per target: armed at the next
 * probe's due time while idle, at the probe's deadline while one is in
 * flight. Slots are anchored to the scheduler's epoch, so jitter and late
 * timers never make the phases drift together.
 */
#include "config.h"

#include "health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

#define MS 1000000LL

struct health_target {
	struct health_target *next; /* in the order added */
	struct health *h;
	char *name;
	const struct strata_healthcheck_ops *ops;
	void *self;
	struct strata_hc_target target;
	char *path; /* target.path's copy */
	struct health_timing timing;
	uint32_t slot;  /* its place in the spread */
	int64_t phase;  /* ns into the interval */
	int64_t k;      /* the slot index of the next probe */
	struct loop_timer *timer;

	enum health_state state;
	uint32_t successes, failures;
	uint64_t probes, failed;
	int64_t last_change;
	char change_reason[HEALTH_REASON_MAX];
	char last_reason[HEALTH_REASON_MAX];
	int64_t last_due, last_sent, next_due;

	bool probing;
	int64_t probe_id;
	int64_t deadline;
	/* A checker that answers inside probe(): held until probe() returns. */
	bool in_probe;
	bool early;
	bool early_up;
	char early_reason[HEALTH_REASON_MAX];
};

struct health {
	struct loop *loop;
	health_cb cb;
	void *arg;
	int64_t epoch;
	uint64_t rng;
	struct health_target *targets;
	size_t n;
};

void health_timing_default(struct health_timing *t)
{
	*t = (struct health_timing){
		.interval_ns = 1000 * MS,
		.timeout_ns = 0,
		.fall = 3,
		.rise = 2,
		.start = HEALTH_UNKNOWN,
		.jitter = 0.1,
	};
}

const char *health_state_name(enum health_state state)
{
	switch (state) {
	case HEALTH_UP:
		return "up";
	case HEALTH_DOWN:
		return "down";
	case HEALTH_UNKNOWN:
		break;
	}
	return "unknown";
}

/* Checks `in` and resolves its timeout into *out. */
static int timing_resolve(const struct health_timing *in,
			  struct health_timing *out)
{
	struct health_timing t;

	if (in)
		t = *in;
	else
		health_timing_default(&t);
	if (t.interval_ns < MS || t.timeout_ns < 0 || t.fall < 1 ||
	    t.rise < 1 || t.start > HEALTH_DOWN ||
	    !(t.jitter >= 0 && t.jitter <= 0.5))
		return -EINVAL;
	if (t.timeout_ns == 0)
		t.timeout_ns = t.interval_ns / 2;
	if (t.timeout_ns > t.interval_ns)
		t.timeout_ns = t.interval_ns;
	*out = t;
	return 0;
}

/* splitmix64: small, and good enough for jitter. */
static uint64_t rng_next(struct health *h)
{
	uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Slot s's place in [0, 1): van der Corput, so any number of slots in use
 * from 0 up lie evenly over the interval. */
static double slot_fraction(uint32_t s)
{
	uint32_t r = 0;

	for (int i = 0; i < 32; i++) {
		r = (r << 1) | (s & 1);
		s >>= 1;
	}
	return (double)r / 4294967296.0;
}

static void set_phase(struct health_target *t)
{
	t->phase = (int64_t)(slot_fraction(t->slot) *
			     (double)t->timing.interval_ns);
}

/* The lowest slot no target holds. */
static int free_slot(const struct health *h, uint32_t *out)
{
	const struct health_target *t;
	bool *used;
	size_t s;

	used = calloc(h->n + 1, sizeof(*used));
	if (!used)
		return -ENOMEM;
	for (t = h->targets; t; t = t->next)
		if (t->slot <= h->n)
			used[t->slot] = true;
	for (s = 0; s <= h->n && used[s]; s++)
		;
	free(used);
	*out = (uint32_t)s;
	return 0;
}

static int64_t slot_time(const struct health_target *t, int64_t k)
{
	return t->h->epoch + t->phase + k * t->timing.interval_ns;
}

/* Picks the next probe: slot min_k or the first one not before now,
 * whichever is later, moved by the jitter, and never in the past. */
static void schedule(struct health_target *t, int64_t now, int64_t min_k)
{
	int64_t iv = t->timing.interval_ns;
	int64_t base = slot_time(t, 0);
	int64_t k = 0, span, due;

	if (now > base)
		k = (now - base + iv - 1) / iv;
	if (k < min_k)
		k = min_k;
	due = slot_time(t, k);
	span = (int64_t)(t->timing.jitter * (double)iv);
	if (span > 0)
		due += (int64_t)(rng_next(t->h) % (uint64_t)(2 * span + 1)) -
		       span;
	if (due < now)
		due = now;
	t->k = k;
	t->next_due = due;
}

static void arm(struct health_target *t, int64_t when)
{
	loop_timer_reset(t->timer, when - loop_now());
}

static void copy_reason(char *dst, const char *src)
{
	snprintf(dst, HEALTH_REASON_MAX, "%s", src);
}

/*
 * One result in: counts, state, the next probe armed, and then, last, the
 * callback, which may free the target or the whole scheduler.
 */
static void result(struct health_target *t, bool up, const char *reason,
		   int64_t now)
{
	struct health *h = t->h;
	enum health_state old = t->state;

	if (!reason)
		reason = up ? "up" : "down";
	copy_reason(t->last_reason, reason);
	if (up) {
		t->successes++;
		t->failures = 0;
	} else {
		t->failures++;
		t->successes = 0;
		t->failed++;
	}
	if (t->state == HEALTH_UNKNOWN)
		t->state = up ? HEALTH_UP : HEALTH_DOWN;
	else if (t->state == HEALTH_UP && !up &&
		 t->failures >= t->timing.fall)
		t->state = HEALTH_DOWN;
	else if (t->state == HEALTH_DOWN && up &&
		 t->successes >= t->timing.rise)
		t->state = HEALTH_UP;

	/* The slot planned at send time passed while the probe ran. */
	if (t->next_due < now)
		schedule(t, now, t->k + 1);
	arm(t, t->next_due);

	if (t->state == old)
		return;
	t->last_change = now;
	copy_reason(t->change_reason, reason);
	if (h->cb)
		h->cb(h->arg, t->name, t->state, t->change_reason, now);
}

static void probe_done(void *arg, int up, const char *reason)
{
	struct health_target *t = arg;

	/* Late or repeated answers are the checker's bug: ignore them. */
	if (!t->probing || t->early)
		return;
	if (t->in_probe) {
		t->early = true;
		t->early_up = up != 0;
		copy_reason(t->early_reason, reason ? reason
					    : up ? "up" : "down");
		return;
	}
	t->probing = false;
	result(t, up != 0, reason, loop_now());
}

static void send_probe(struct health_target *t, int64_t now)
{
	char reason[HEALTH_REASON_MAX];
	int64_t id;

	t->last_due = t->next_due;
	t->last_sent = now;
	t->probes++;
	schedule(t, now, t->k + 1);
	t->probing = true;
	t->probe_id = 0;
	t->deadline = now + t->timing.timeout_ns;
	arm(t, t->deadline);

	t->in_probe = true;
	t->early = false;
	id = t->ops->probe(t->self, &t->target, probe_done, t);
	t->in_probe = false;
	if (id < 0) {
		t->probing = false;
		snprintf(reason, sizeof(reason), "probe failed: %s",
			 strerror((int)-id));
		result(t, false, reason, loop_now());
		return;
	}
	t->probe_id = id;
	if (t->early) {
		t->probing = false;
		result(t, t->early_up, t->early_reason, loop_now());
	}
}

static void timer_cb(void *arg)
{
	struct health_target *t = arg;
	char reason[HEALTH_REASON_MAX];
	int64_t now = loop_now();

	if (!t->probing) {
		send_probe(t, now);
		return;
	}
	if (now < t->deadline) {
		arm(t, t->deadline);
		return;
	}
	t->probing = false;
	t->ops->cancel(t->self, t->probe_id);
	snprintf(reason, sizeof(reason), "timed out after %lld ms",
		 (long long)(t->timing.timeout_ns / MS));
	result(t, false, reason, now);
}

static struct health_target *find(const struct health *h, const char *name,
				  struct health_target ***link)
{
	struct health_target **p;

	for (p = (struct health_target **)&h->targets; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

static void target_free(struct health_target *t)
{
	if (t->probing)
		t->ops->cancel(t->self, t->probe_id);
	loop_timer_cancel(t->timer);
	free(t->path);
	free(t->name);
	free(t);
}

int health_new(struct loop *loop, uint64_t seed, health_cb cb, void *arg,
	       struct health **out)
{
	struct health *h;

	if (!loop || !out)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->cb = cb;
	h->arg = arg;
	h->epoch = loop_now();
	h->rng = seed ? seed : (uint64_t)h->epoch ^ ((uint64_t)getpid() << 32);
	*out = h;
	return 0;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	while (h->targets) {
		struct health_target *t = h->targets;

		h->targets = t->next;
		target_free(t);
	}
	free(h);
}

int health_target_add(struct health *h, const char *name,
		      const struct strata_healthcheck_ops *ops, void *self,
		      const struct strata_hc_target *target,
		      const struct health_timing *timing)
{
	struct health_target *t, **tail;
	int err;

	if (!h || !name || !*name || !ops || !ops->probe || !ops->cancel ||
	    !target)
		return -EINVAL;
	if (find(h, name, NULL))
		return -EEXIST;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = timing_resolve(timing, &t->timing);
	if (err < 0)
		goto free_target;
	err = free_slot(h, &t->slot);
	if (err < 0)
		goto free_target;
	err = -ENOMEM;
	t->name = strdup(name);
	if (!t->name)
		goto free_target;
	t->target = *target;
	t->target.size = sizeof(t->target);
	if (target->path) {
		t->path = strdup(target->path);
		if (!t->path)
			goto free_name;
		t->target.path = t->path;
	}
	t->h = h;
	t->ops = ops;
	t->self = self;
	t->state = (enum health_state)t->timing.start;
	set_phase(t);
	schedule(t, loop_now(), 0);
	t->timer = loop_timer_add(h->loop, t->next_due - loop_now(), 0,
				  timer_cb, t);
	if (!t->timer)
		goto free_path;

	for (tail = &h->targets; *tail; tail = &(*tail)->next)
		;
	*tail = t;
	h->n++;
	return 0;

free_path:
	free(t->path);
free_name:
	free(t->name);
free_target:
	free(t);
	return err;
}

int health_target_remove(struct health *h, const char *name)
{
	struct health_target *t, **link;

	if (!h || !name)
		return -EINVAL;
	t = find(h, name, &link);
	if (!t)
		return -ENOENT;
	*link = t->next;
	h->n--;
	target_free(t);
	return 0;
}

int health_target_set_timing(struct health *h, const char *name,
			     const struct health_timing *timing)
{
	struct health_timing nt;
	struct health_target *t;
	bool regrid;
	int err;

	if (!h || !name)
		return -EINVAL;
	t = find(h, name, NULL);
	if (!t)
		return -ENOENT;
	err = timing_resolve(timing, &nt);
	if (err < 0)
		return err;
	regrid = nt.interval_ns != t->timing.interval_ns;
	nt.start = t->timing.start;
	t->timing = nt;
	if (regrid) {
		set_phase(t);
		schedule(t, loop_now(), 0);
	}
	if (t->probing) {
		t->deadline = t->last_sent + t->timing.timeout_ns;
		arm(t, t->deadline);
	} else {
		arm(t, t->next_due);
	}
	return 0;
}

static void fill_info(const struct health_target *t, struct health_info *out)
{
	*out = (struct health_info){
		.name = t->name,
		.state = t->state,
		.timing = t->timing,
		.successes = t->successes,
		.failures = t->failures,
		.probes = t->probes,
		.failed = t->failed,
		.last_change = t->last_change,
		.probing = t->probing,
		.last_due = t->last_due,
		.last_sent = t->last_sent,
		.next_due = t->next_due,
	};
	memcpy(out->change_reason, t->change_reason,
	       sizeof(out->change_reason));
	memcpy(out->last_reason, t->last_reason, sizeof(out->last_reason));
}

int health_target_state(const struct health *h, const char *name,
			struct health_info *out)
{
	const struct health_target *t;

	if (!h || !name || !out)
		return -EINVAL;
	t = find(h, name, NULL);
	if (!t)
		return -ENOENT;
	fill_info(t, out);
	return 0;
}

size_t health_list(const struct health *h, health_info_cb cb, void *arg)
{
	const struct health_target *t;
	struct health_info info;
	size_t n = 0;

	if (!h)
		return 0;
	for (t = h->targets; t; t = t->next) {
		if (cb) {
			fill_info(t, &info);
			cb(arg, &info);
		}
		n++;
	}
	return n;
}
