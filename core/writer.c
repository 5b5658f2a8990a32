/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carving.h"
#include "election.h"
#include "follow.h"
#include "healthview.h"
#include "log.h"
#include "loop.h"
#include "route.h"
#include "store.h"
#include "writer.h"

#define MS 1000000LL
/* reports come in bursts (several observers see one failure) */
#define WRITER_DEBOUNCE_NS (10 * MS)
/* decide again now and then: heals anything a watch missed */
#define WRITER_RESYNC_NS (5000 * MS)
#define WRITER_RETRY_NS (500 * MS)

struct writer {
	struct loop *loop;
	struct store *st;
	char *node;
	struct writer_options opt;
	planner_view_fn view;
	void *view_arg;
	struct election *e;
	struct follow *f_obs, *f_drain;
	struct loop_timer *timer;  /* the next decision */
	struct loop_timer *resync;
	bool busy, again;
	struct writer_stats stats;
	char error[256];
	unsigned pending;
	bool dead;
};

static void schedule(struct writer *w, int64_t delay_ns);

static bool back(struct writer *w)
{
	w->pending--;
	if (!w->dead)
		return true;
	if (!w->pending) {
		free(w->node);
		free(w);
	}
	return false;
}

static void fail(struct writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct writer *w, const char *fmt, ...)
{
	char msg[sizeof(w->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->stats.failures++;
	if (strcmp(msg, w->error))
		log_msg(LOG_ERR, "writer", "%s", msg);
	snprintf(w->error, sizeof(w->error), "%s", msg);
	w->stats.error = w->error;
}

static const struct intent_target *find_target(const struct intent *in,
					       const char *host)
{
	for (size_t i = 0; in && i < in->n_targets; i++)
		if (!strcmp(in->targets[i].host, host))
			return &in->targets[i];
	return NULL;
}

static bool has_alarm(const struct intent *in, const char *text)
{
	for (size_t i = 0; in && i < in->n_alarms; i++)
		if (!strcmp(in->alarms[i], text))
			return true;
	return false;
}

/* Say what the new intent changes, once, as it is written. */
static void log_changes(const struct intent *old, const struct intent *new)
{
	char dst[64];

	for (size_t i = 0; i < new->n_targets; i++) {
		const struct intent_target *t = &new->targets[i];
		const struct intent_target *o = find_target(old, t->host);

		if (t->state != INTENT_UNKNOWN &&
		    (!o || o->state != t->state))
			log_msg(t->state == INTENT_DOWN ? LOG_WARNING :
							  LOG_INFO,
				"writer", "%s is %s by its observers",
				t->host, intent_state_name(t->state));
	}
	for (size_t i = 0; i < new->n_routes; i++) {
		const struct intent_route *r = &new->routes[i];
		const char *was = NULL;

		for (size_t j = 0; old && j < old->n_routes; j++)
			if (!memcmp(&old->routes[j].dst, &r->dst,
				    sizeof(r->dst)))
				was = old->routes[j].host;
		if (was && strcmp(was, r->host)) {
			route_prefix_format(&r->dst, dst, sizeof(dst));
			log_msg(LOG_NOTICE, "writer",
				"cloud route %s moves from %s to %s", dst, was,
				r->host);
		}
	}
	for (size_t i = 0; i < new->n_alarms; i++)
		if (!has_alarm(old, new->alarms[i]))
			log_msg(LOG_ERR, "writer", "alarm: %s",
				new->alarms[i]);
}

struct write_ctx {
	struct writer *w;
	struct intent next;
	struct intent prior;
	bool have_prior;
};

static void written(void *arg, int err,
		    const struct strata_store_txn_result *res)
{
	struct write_ctx *c = arg;
	struct writer *w = c->w;

	if (back(w)) {
		w->busy = false;
		if (err) {
			fail(w, "writing the forwarding intent: %s",
			     strerror(-err));
			schedule(w, WRITER_RETRY_NS);
		} else if (!res->succeeded) {
			/* deposed, or the intent changed under us: the
			 * election says which; decide again either way */
			schedule(w, WRITER_DEBOUNCE_NS);
		} else {
			w->stats.writes++;
			w->error[0] = '\0';
			w->stats.error = NULL;
			log_changes(c->have_prior ? &c->prior : NULL,
				    &c->next);
			if (w->again)
				schedule(w, 0);
		}
	}
	intent_free(&c->next);
	intent_free(&c->prior);
	free(c);
}

static int decode_all(struct writer *w, const struct strata_store_op_result *r,
		      struct write_ctx *c, struct obs_report **reports,
		      size_t *n_reports, char ***drained, size_t *n_drained)
{
	char err[160];

	if (r[0].n_kvs) {
		if (intent_decode(r[0].kvs[0].value, r[0].kvs[0].value_len,
				  &c->prior, err, sizeof(err)))
			log_msg(LOG_ERR, "writer",
				"the forwarding intent in the store is unreadable, deciding afresh: %s",
				err);
		else
			c->have_prior = true;
	}
	*reports = calloc(r[1].n_kvs ? r[1].n_kvs : 1, sizeof(**reports));
	*drained = calloc(r[2].n_kvs ? r[2].n_kvs : 1, sizeof(**drained));
	if (!*reports || !*drained)
		return -ENOMEM;
	for (size_t i = 0; i < r[1].n_kvs; i++) {
		if (obs_decode(r[1].kvs[i].value, r[1].kvs[i].value_len,
			       &(*reports)[*n_reports], err, sizeof(err))) {
			log_msg(LOG_WARNING, "writer",
				"ignoring the unreadable health report %s: %s",
				r[1].kvs[i].key, err);
			continue;
		}
		(*n_reports)++;
	}
	for (size_t i = 0; i < r[2].n_kvs; i++) {
		const char *name = r[2].kvs[i].key + strlen(DRAIN_PREFIX);

		if (strncmp(r[2].kvs[i].key, DRAIN_PREFIX,
			    strlen(DRAIN_PREFIX)) || !*name)
			continue;
		(*drained)[*n_drained] = strdup(name);
		if (!(*drained)[*n_drained])
			return -ENOMEM;
		(*n_drained)++;
	}
	(void)w;
	return 0;
}

static void decide_read(void *arg, int err,
			const struct strata_store_txn_result *res)
{
	struct writer *w = arg;
	struct write_ctx *c = NULL;
	struct carving cv = { 0 };
	struct strata_topo_sink sink;
	struct obs_report *reports = NULL;
	char **drained = NULL, msg[512], *buf = NULL;
	size_t n_reports = 0, n_drained = 0, len = 0;
	int64_t next_ms = 0, mod = 0;
	int rc;

	if (!back(w))
		return;
	w->busy = false;
	if (err) {
		fail(w, "reading the health reports: %s", strerror(-err));
		schedule(w, WRITER_RETRY_NS);
		return;
	}
	if (!election_is_leader(w->e))
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto no_memory;
	c->w = w;
	rc = decode_all(w, res->results, c, &reports, &n_reports, &drained,
			&n_drained);
	if (rc)
		goto no_memory;
	if (res->results[0].n_kvs)
		mod = res->results[0].kvs[0].mod_rev;
	carving_sink(&cv, &sink);
	rc = w->view(w->view_arg, &sink);
	if (rc == -EAGAIN)
		goto out; /* the IPAM is not ready; writer_changed follows */
	if (rc) {
		fail(w, "the IPAM's view failed: %s", strerror(-rc));
		goto out;
	}
	rc = carving_plan_input(&cv, msg, sizeof(msg));
	if (rc) {
		fail(w, "%s", rc == -ENOMEM ? "out of memory" : msg);
		goto out;
	}
	{
		struct fwd_input fi = {
			.in = &cv.in,
			.plan = &w->opt.plan,
			.prior = c->have_prior ? &c->prior : NULL,
			.reports = reports,
			.n_reports = n_reports,
			.drained = (const char *const *)drained,
			.n_drained = n_drained,
			.writer = w->node,
			.term = election_term(w->e),
			.now_ms = healthview_wall_ms(),
		};

		rc = fwd_decide(&fi, &w->opt.fwd, &c->next, &next_ms, msg,
				sizeof(msg));
	}
	w->stats.decisions++;
	log_msg(LOG_DEBUG, "writer", "decided on %zu reports, %zu drained",
		n_reports, n_drained);
	if (rc) {
		fail(w, "deciding the forwarding intent: %s", msg);
		goto out;
	}
	if (next_ms) {
		int64_t d = next_ms - healthview_wall_ms();

		schedule(w, (d > 0 ? d : 0) * MS);
	}
	rc = intent_encode(&c->next, &buf, &len);
	if (rc) {
		fail(w, "encoding the forwarding intent: %s", strerror(-rc));
		goto out;
	}
	if (res->results[0].n_kvs && res->results[0].kvs[0].value_len == len &&
	    !memcmp(res->results[0].kvs[0].value, buf, len))
		goto out; /* nothing new */
	{
		struct strata_store_cmp cmp = {
			.key = INTENT_KEY, .target = STRATA_CMP_MOD,
			.result = STRATA_CMP_EQUAL, .num = mod,
		};
		struct strata_store_op put = {
			.type = STRATA_OP_PUT, .key = INTENT_KEY,
			.value = buf, .value_len = len,
		};
		struct strata_store_txn txn = {
			.cmp = &cmp, .n_cmp = 1,
			.success = &put, .n_success = 1,
		};

		rc = election_txn(w->e, &txn, written, c);
	}
	if (rc) {
		if (rc != -EPERM)
			fail(w, "writing the forwarding intent: %s",
			     strerror(-rc));
		goto out;
	}
	w->pending++;
	w->busy = true;
	c = NULL;
	goto out;
no_memory:
	fail(w, "out of memory deciding the forwarding intent");
	schedule(w, WRITER_RETRY_NS);
out:
	/* a change that came while reading */
	if (!w->busy && w->again)
		schedule(w, 0);
	free(buf);
	carving_free(&cv);
	for (size_t i = 0; i < n_reports; i++)
		obs_free(&reports[i]);
	free(reports);
	for (size_t i = 0; i < n_drained; i++)
		free(drained[i]);
	free(drained);
	if (c) {
		intent_free(&c->next);
		intent_free(&c->prior);
		free(c);
	}
}

static void decide(void *arg)
{
	struct writer *w = arg;
	struct strata_store_op ops[3] = {
		{ .type = STRATA_OP_RANGE, .key = INTENT_KEY },
		{ .type = STRATA_OP_RANGE, .key = OBS_PREFIX,
		  .flags = STRATA_STORE_PREFIX },
		{ .type = STRATA_OP_RANGE, .key = DRAIN_PREFIX,
		  .flags = STRATA_STORE_PREFIX | STRATA_STORE_KEYS_ONLY },
	};
	struct strata_store_txn txn = { .success = ops, .n_success = 3 };

	loop_timer_cancel(w->timer);
	w->timer = NULL;
	if (!election_is_leader(w->e))
		return;
	if (w->busy) {
		w->again = true;
		return;
	}
	w->again = false;
	if (store_txn(w->st, &txn, decide_read, w)) {
		schedule(w, WRITER_RETRY_NS);
		return;
	}
	w->pending++;
	w->busy = true;
}

static void schedule(struct writer *w, int64_t delay_ns)
{
	if (w->dead)
		return;
	if (w->busy) {
		w->again = true;
		if (!delay_ns)
			return;
	}
	if (w->timer)
		loop_timer_cancel(w->timer);
	w->timer = loop_timer_add(w->loop, delay_ns, 0, decide, w);
}

static void changed(void *arg)
{
	schedule(arg, WRITER_DEBOUNCE_NS);
}

static void resync(void *arg)
{
	struct writer *w = arg;

	if (!w->timer)
		schedule(w, 0);
}

static void unfollow(struct writer *w)
{
	follow_stop(w->f_obs);
	follow_stop(w->f_drain);
	w->f_obs = w->f_drain = NULL;
	loop_timer_cancel(w->resync);
	w->resync = NULL;
	loop_timer_cancel(w->timer);
	w->timer = NULL;
}

static void elected(void *arg, bool leader)
{
	struct writer *w = arg;
	int rc;

	w->stats.leader = leader;
	w->stats.term = leader ? election_term(w->e) : 0;
	if (w->opt.leader_cb)
		w->opt.leader_cb(w->opt.leader_arg, leader);
	if (!leader) {
		log_msg(LOG_NOTICE, "writer", "no longer the route writer");
		unfollow(w);
		return;
	}
	log_msg(LOG_NOTICE, "writer", "%s is the route writer (term %lld)",
		w->node, (long long)w->stats.term);
	rc = follow_start(w->loop, w->st, OBS_PREFIX, STRATA_STORE_PREFIX,
			  changed, w, &w->f_obs);
	if (!rc)
		rc = follow_start(w->loop, w->st, DRAIN_PREFIX,
				  STRATA_STORE_PREFIX, changed, w,
				  &w->f_drain);
	if (rc)
		fail(w, "following the health reports: %s", strerror(-rc));
	w->resync = loop_timer_add(w->loop, WRITER_RESYNC_NS, WRITER_RESYNC_NS,
				   resync, w);
	schedule(w, 0);
}

int writer_new(struct loop *loop, struct store *st,
	       const struct writer_options *opt, planner_view_fn view,
	       void *view_arg, struct writer **out)
{
	struct writer *w = calloc(1, sizeof(*w));
	struct election_options eo = { .size = sizeof(eo) };
	int rc;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->st = st;
	w->view = view;
	w->view_arg = view_arg;
	w->node = strdup(opt->node);
	if (!w->node) {
		free(w);
		return -ENOMEM;
	}
	w->opt = *opt;
	w->opt.node = w->node;
	eo.key = WRITER_ELECTION_KEY;
	eo.value = w->node;
	eo.ttl_ms = opt->lease_ms;
	rc = election_start(st, loop, &eo, elected, w, &w->e);
	if (rc) {
		free(w->node);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void writer_free(struct writer *w)
{
	if (!w)
		return;
	election_stop(w->e);
	unfollow(w);
	w->dead = true;
	if (!w->pending) {
		free(w->node);
		free(w);
	}
}

void writer_set_options(struct writer *w, const struct writer_options *opt)
{
	const char *node = w->opt.node;
	int64_t lease = w->opt.lease_ms;

	w->opt = *opt;
	w->opt.node = node;
	w->opt.lease_ms = lease;
	w->opt.plan.prior = NULL;
	w->opt.plan.n_prior = 0;
	schedule(w, 0);
}

void writer_changed(struct writer *w)
{
	schedule(w, WRITER_DEBOUNCE_NS);
}

int64_t writer_remaining(const struct writer *w)
{
	return w ? election_remaining(w->e) : 0;
}

void writer_stats(const struct writer *w, struct writer_stats *out)
{
	*out = w->stats;
}
