/* SPDX-License-Identifier: Apache-2.0 */
/* The route writer's decision (forwarding.c), on hand-built carvings. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forwarding.h"

#define MAX_HOSTS 64

struct fx {
	struct plan_group groups[4];
	struct strata_prefix gpfx[4];
	struct plan_host hosts[MAX_HOSTS];
	struct strata_prefix blocks[MAX_HOSTS];
	char names[MAX_HOSTS][16];
	struct plan_input in;
	struct plan_options po;
	struct obs_report reports[MAX_HOSTS];
	struct obs_entry entries[MAX_HOSTS][MAX_HOSTS];
	size_t n_reports;
	const char *drained[4];
	size_t n_drained;
	struct fwd_options opt;
	int64_t now;
};

static struct strata_prefix v4pfx(unsigned a, unsigned b, unsigned c,
				  unsigned len)
{
	struct strata_prefix p = { .family = STRATA_AF_INET, .len = len };

	p.addr[0] = (uint8_t)a;
	p.addr[1] = (uint8_t)b;
	p.addr[2] = (uint8_t)c;
	return p;
}

/* groups subnets of per hosts each: g0 = a1.., g1 = b1.. */
static void fx_init(struct fx *x, unsigned groups, unsigned per)
{
	static const char *paths[] = { "zone/subnet-a", "zone/subnet-b",
				       "zone/subnet-c", "zone/subnet-d" };
	unsigned h = 0;

	memset(x, 0, sizeof(*x));
	for (unsigned g = 0; g < groups; g++) {
		x->gpfx[g] = v4pfx(10, g, 0, 16);
		x->groups[g] = (struct plan_group){ .path = paths[g],
						    .prefixes = &x->gpfx[g],
						    .n_prefixes = 1 };
		for (unsigned i = 0; i < per; i++, h++) {
			struct plan_host *ph = &x->hosts[h];

			snprintf(x->names[h], sizeof(x->names[h]), "%c%u",
				 'a' + g, i + 1);
			x->blocks[h] = v4pfx(10, g, i, 24);
			ph->name = x->names[h];
			ph->group = g;
			ph->n_addrs = 1;
			ph->addrs[0].family = STRATA_AF_INET;
			ph->addrs[0].addr[0] = 192;
			ph->addrs[0].addr[1] = 168;
			ph->addrs[0].addr[2] = (uint8_t)g;
			ph->addrs[0].addr[3] = (uint8_t)(i + 1);
			ph->blocks = &x->blocks[h];
			ph->n_blocks = 1;
			ph->healthy = true;
		}
	}
	x->in = (struct plan_input){ .groups = x->groups, .n_groups = groups,
				     .hosts = x->hosts, .n_hosts = h };
	x->po.budget[PLAN_V4] = groups;
	x->po.no_per_host = true;
	x->po.no_spread = true;
	x->now = 1000000;
}

static int fx_decide(struct fx *x, const struct intent *prior,
		     struct intent *out, int64_t *next)
{
	struct fwd_input fi = { .in = &x->in, .plan = &x->po, .prior = prior,
				.reports = x->reports,
				.n_reports = x->n_reports,
				.drained = x->drained,
				.n_drained = x->n_drained,
				.writer = "a1", .term = 7, .now_ms = x->now };
	char err[256];
	int64_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = fwd_decide(&fi, &x->opt, out, next ? next : &n, err, sizeof(err));
	if (rc)
		fprintf(stderr, "fwd_decide: %s\n", err);
	return rc;
}

/* The fixture's own copy of a host's name: intents' strings go away. */
static const char *stable(const struct fx *x, const char *name)
{
	for (size_t h = 0; h < x->in.n_hosts; h++)
		if (!strcmp(x->names[h], name))
			return x->names[h];
	ck_abort_msg("no host %s", name);
	return NULL;
}

/* observer says state of target (adds or changes its entry) */
static void say(struct fx *x, const char *observer, const char *target,
		enum intent_state state)
{
	size_t i;

	observer = stable(x, observer);
	target = stable(x, target);
	for (i = 0; i < x->n_reports; i++)
		if (!strcmp(x->reports[i].observer, observer))
			break;
	if (i == x->n_reports) {
		x->reports[i] = (struct obs_report){
			.observer = (char *)observer,
			.entries = x->entries[i] };
		x->n_reports++;
	}
	for (size_t j = 0; j < x->reports[i].n_entries; j++) {
		if (!strcmp(x->reports[i].entries[j].target, target)) {
			x->reports[i].entries[j].state = state;
			return;
		}
	}
	x->entries[i][x->reports[i].n_entries++] = (struct obs_entry){
		.target = (char *)target, .state = state };
}

static void silence(struct fx *x, const char *observer)
{
	for (size_t i = 0; i < x->n_reports; i++) {
		if (strcmp(x->reports[i].observer, observer))
			continue;
		/* keep entries[] rows aligned with reports[] */
		x->reports[i].n_entries = 0;
	}
}

static const struct intent_target *target(const struct intent *in,
					  const char *host)
{
	for (size_t i = 0; i < in->n_targets; i++)
		if (!strcmp(in->targets[i].host, host))
			return &in->targets[i];
	return NULL;
}

/* The forwarder of group g's prefix. */
static const char *fwd_of(const struct intent *in, unsigned g)
{
	for (size_t i = 0; i < in->n_routes; i++)
		if (in->routes[i].dst.addr[1] == g)
			return in->routes[i].host;
	return NULL;
}

/* Every assigned observer of host says state. */
static void all_say(struct fx *x, const struct intent *in, const char *host,
		    enum intent_state state)
{
	const struct intent_target *t = target(in, host);

	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < t->n_observers; i++)
		say(x, t->observers[i], host, state);
}

static void next_round(struct fx *x, struct intent *prior)
{
	struct intent next;

	ck_assert_int_eq(fx_decide(x, prior, &next, NULL), 0);
	intent_free(prior);
	*prior = next;
}

START_TEST(first_intent)
{
	struct fx x;
	struct intent in;

	fx_init(&x, 2, 4);
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	ck_assert_int_eq(in.term, 7);
	ck_assert_str_eq(in.writer, "a1");
	ck_assert_uint_eq(in.n_routes, 2);
	ck_assert_uint_eq(in.n_unhealthy, 0);
	ck_assert_uint_eq(in.n_alarms, 0);
	/* forwarders and one standby per route: 2 per subnet */
	ck_assert_uint_eq(in.n_targets, 4);
	for (size_t i = 0; i < in.n_targets; i++) {
		const struct intent_target *t = &in.targets[i];

		ck_assert_uint_eq(t->n_observers, 3);
		ck_assert_int_eq(t->state, INTENT_UNKNOWN);
		for (size_t k = 0; k < 3; k++) {
			ck_assert_str_ne(t->observers[k], t->host);
			/* a subnet of 4 has 3 peers: all observers local */
			ck_assert_int_eq(t->observers[k][0], t->host[0]);
		}
	}
	for (size_t i = 0; i < in.n_routes; i++) {
		ck_assert_uint_eq(in.routes[i].n_via, 1);
		ck_assert_int_eq(in.routes[i].via[0].addr[2],
				 in.routes[i].dst.addr[1]);
	}
	intent_free(&in);
}
END_TEST

START_TEST(small_subnets_borrow_observers)
{
	struct fx x;
	struct intent in;

	fx_init(&x, 2, 2);
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	for (size_t i = 0; i < in.n_targets; i++) {
		const struct intent_target *t = &in.targets[i];

		ck_assert_uint_eq(t->n_observers, 3);
		/* its one peer first, then the other subnet's */
		ck_assert_int_eq(t->observers[0][0], t->host[0]);
		ck_assert_int_ne(t->observers[1][0], t->host[0]);
	}
	intent_free(&in);
}
END_TEST

START_TEST(one_observer_moves_nothing)
{
	struct fx x;
	struct intent in;
	const struct intent_target *t;
	char fwd[16];

	fx_init(&x, 2, 4);
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	snprintf(fwd, sizeof(fwd), "%s", fwd_of(&in, 0));
	all_say(&x, &in, fwd, INTENT_UP);
	next_round(&x, &in);
	ck_assert_int_eq(target(&in, fwd)->state, INTENT_UP);
	t = target(&in, fwd);
	say(&x, t->observers[0], fwd, INTENT_DOWN);
	next_round(&x, &in);
	ck_assert_int_eq(target(&in, fwd)->state, INTENT_UP);
	ck_assert_str_eq(fwd_of(&in, 0), fwd);
	ck_assert_uint_eq(in.n_unhealthy, 0);
	intent_free(&in);
}
END_TEST

START_TEST(quorum_moves_to_the_standby)
{
	struct fx x;
	struct intent in;
	const struct intent_target *t;
	char fwd[16], other[16];
	int64_t since;

	fx_init(&x, 2, 4);
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	snprintf(fwd, sizeof(fwd), "%s", fwd_of(&in, 0));
	snprintf(other, sizeof(other), "%s", fwd_of(&in, 1));
	all_say(&x, &in, fwd, INTENT_UP);
	next_round(&x, &in);
	t = target(&in, fwd);
	x.now += 5000;
	say(&x, t->observers[0], fwd, INTENT_DOWN);
	say(&x, t->observers[1], fwd, INTENT_DOWN);
	next_round(&x, &in);
	t = target(&in, fwd);
	ck_assert_ptr_nonnull(t); /* still watched, to see it recover */
	ck_assert_int_eq(t->state, INTENT_DOWN);
	ck_assert_int_eq(t->since_ms, x.now);
	ck_assert_str_ne(fwd_of(&in, 0), fwd);
	ck_assert_int_eq(fwd_of(&in, 0)[0], 'a');
	ck_assert_str_eq(fwd_of(&in, 1), other); /* the other subnet stays */
	ck_assert_uint_eq(in.n_unhealthy, 1);
	ck_assert_str_eq(in.unhealthy[0], fwd);
	/* the new forwarder has a standby of its own */
	ck_assert_uint_eq(in.n_targets, 5);

	/* the same reports again: nothing changes, since included */
	since = t->since_ms;
	x.now += 1000;
	next_round(&x, &in);
	ck_assert_int_eq(target(&in, fwd)->since_ms, since);

	/* reports gone (observers dead) are not evidence: still down */
	for (size_t i = 0; i < x.n_reports; i++)
		silence(&x, x.reports[i].observer);
	next_round(&x, &in);
	ck_assert_int_eq(target(&in, fwd)->state, INTENT_DOWN);

	/* back up: with failback "stay" the route stays where it went */
	all_say(&x, &in, fwd, INTENT_UP);
	next_round(&x, &in);
	ck_assert_str_ne(fwd_of(&in, 0), fwd);
	ck_assert_uint_eq(in.n_unhealthy, 0);
	intent_free(&in);
}
END_TEST

START_TEST(failback_after_hold_down)
{
	struct fx x;
	struct intent in;
	const struct intent_target *t;
	char home[16];
	int64_t next = 0;

	fx_init(&x, 2, 4);
	x.opt.failback_return = true;
	x.opt.hold_down_ms = 30000;
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	snprintf(home, sizeof(home), "%s", fwd_of(&in, 0));
	all_say(&x, &in, home, INTENT_DOWN);
	next_round(&x, &in);
	ck_assert_str_ne(fwd_of(&in, 0), home);

	x.now += 1000;
	all_say(&x, &in, home, INTENT_UP);
	next_round(&x, &in);
	t = target(&in, home);
	ck_assert_int_eq(t->state, INTENT_UP);
	ck_assert_str_ne(fwd_of(&in, 0), home); /* held down */
	{
		struct intent again;

		x.now += 10000;
		ck_assert_int_eq(fx_decide(&x, &in, &again, &next), 0);
		ck_assert_str_ne(fwd_of(&again, 0), home);
		ck_assert_int_eq(next, x.now + 20000);
		intent_free(&in);
		in = again;
	}
	x.now += 20000;
	next_round(&x, &in);
	ck_assert_str_eq(fwd_of(&in, 0), home);
	intent_free(&in);
}
END_TEST

START_TEST(a_lost_subnet_keeps_its_route)
{
	struct fx x;
	struct intent in;
	char fwd[16];

	fx_init(&x, 2, 2);
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	snprintf(fwd, sizeof(fwd), "%s", fwd_of(&in, 0));
	all_say(&x, &in, "a1", INTENT_DOWN);
	all_say(&x, &in, "a2", INTENT_DOWN);
	next_round(&x, &in);
	/* one of them went down first in this round: both are down now,
	 * and the route stays on whichever held it */
	next_round(&x, &in);
	ck_assert_int_eq(target(&in, "a1")->state, INTENT_DOWN);
	ck_assert_int_eq(target(&in, "a2")->state, INTENT_DOWN);
	ck_assert_ptr_nonnull(fwd_of(&in, 0));
	ck_assert_uint_eq(in.n_alarms, 1);
	ck_assert_ptr_nonnull(strstr(in.alarms[0], "zone/subnet-a"));
	ck_assert_ptr_nonnull(strstr(in.alarms[0], fwd_of(&in, 0)));
	ck_assert_uint_eq(in.n_unhealthy, 2);
	/* one comes back: the route goes to it, the alarm ends */
	all_say(&x, &in, "a2", INTENT_UP);
	next_round(&x, &in);
	ck_assert_str_eq(fwd_of(&in, 0), "a2");
	ck_assert_uint_eq(in.n_alarms, 0);
	intent_free(&in);
	(void)fwd;
}
END_TEST

START_TEST(drained_hosts_forward_nothing)
{
	struct fx x;
	struct intent in;
	char fwd[16];

	fx_init(&x, 2, 3);
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	snprintf(fwd, sizeof(fwd), "%s", fwd_of(&in, 0));
	x.drained[x.n_drained++] = fwd;
	next_round(&x, &in);
	ck_assert_str_ne(fwd_of(&in, 0), fwd);
	ck_assert_uint_eq(in.n_unhealthy, 1);
	ck_assert_uint_eq(in.n_alarms, 0);
	/* undrained: it is a candidate again, the route stays */
	x.n_drained = 0;
	next_round(&x, &in);
	ck_assert_str_ne(fwd_of(&in, 0), fwd);
	ck_assert_uint_eq(in.n_unhealthy, 0);
	intent_free(&in);
}
END_TEST

START_TEST(observers_are_spread)
{
	struct fx x;
	struct intent in;
	unsigned load[MAX_HOSTS] = { 0 };

	fx_init(&x, 4, 8);
	x.po.no_spread = false;
	x.po.budget[PLAN_V4] = 16; /* 4 parts per subnet */
	ck_assert_int_eq(fx_decide(&x, NULL, &in, NULL), 0);
	ck_assert_uint_eq(in.n_routes, 16);
	ck_assert_uint_ge(in.n_targets, 16);
	for (size_t i = 0; i < in.n_targets; i++) {
		ck_assert_uint_eq(in.targets[i].n_observers, 3);
		for (size_t k = 0; k < 3; k++) {
			const char *o = in.targets[i].observers[k];

			load[(o[0] - 'a') * 8 + (o[1] - '1')]++;
		}
	}
	/* 3 observations per target over 32 hosts: a few each at most */
	for (size_t h = 0; h < 32; h++)
		ck_assert_uint_le(load[h],
				  (in.n_targets * 3 + 30) / 31 + 1);
	intent_free(&in);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("forwarding");
	TCase *tc = tcase_create("decide");

	tcase_add_test(tc, first_intent);
	tcase_add_test(tc, small_subnets_borrow_observers);
	tcase_add_test(tc, one_observer_moves_nothing);
	tcase_add_test(tc, quorum_moves_to_the_standby);
	tcase_add_test(tc, failback_after_hold_down);
	tcase_add_test(tc, a_lost_subnet_keeps_its_route);
	tcase_add_test(tc, drained_hosts_forward_nothing);
	tcase_add_test(tc, observers_are_spread);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
