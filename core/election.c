/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leader election over the store interface. One lease per candidate, kept
 * alive every TTL/3; the campaign is a txn creating the key only if absent.
 * A candidate that lost watches the key and tries again when it goes.
 * Any doubt (lease lost, fence deadline reached, the key deleted) ends
 * leadership first and asks questions after: a new lease, a new campaign.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "election.h"
#include "log.h"
#include "loop.h"
#include "store.h"

#define MS 1000000LL

struct election {
	struct store *st;
	struct loop *loop;
	char *key;
	char *value;
	int64_t ttl_ms;
	int64_t margin_ns;
	int64_t retry_ns;
	election_cb cb;
	void *arg;

	int64_t lease;    /* 0: none */
	int64_t lease_ns; /* as granted */
	int64_t fence;    /* CLOCK_BOOTTIME ns; act only before it */
	int64_t sent;     /* when the grant or keepalive in flight was sent */
	bool leader;
	int64_t term;
	bool granting;
	bool campaigning;
	int64_t campaign_lease; /* the lease the campaign in flight used */
	bool keeping;
	struct loop_timer *ka_t;
	struct loop_timer *fence_t;
	struct loop_timer *retry_t;
	struct store_watch *w;
	int pending; /* store calls whose callbacks are to come */
	bool stopped;
};

static int64_t boot_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void grant(struct election *e);
static void campaign(struct election *e);

static void free_election(struct election *e)
{
	free(e->key);
	free(e->value);
	free(e);
}

/* A callback came back: true when the election is gone. */
static bool returned(struct election *e)
{
	e->pending--;
	if (!e->stopped)
		return false;
	if (!e->pending)
		free_election(e);
	return true;
}

static void noop_done(void *arg, int err, int64_t rev, int64_t n)
{
}

static void cancel_timer(struct loop_timer **t)
{
	if (*t) {
		loop_timer_cancel(*t);
		*t = NULL;
	}
}

static void step_down(struct election *e)
{
	cancel_timer(&e->fence_t);
	if (!e->leader)
		return;
	e->leader = false;
	e->term = 0;
	log_info("election %s: no longer leader", e->key);
	e->cb(e->arg, false);
}

static void on_retry(void *arg)
{
	struct election *e = arg;

	cancel_timer(&e->retry_t);
	if (!e->lease)
		grant(e);
	else
		campaign(e);
}

static void retry_later(struct election *e)
{
	if (e->stopped)
		return;
	if (e->retry_t)
		loop_timer_reset(e->retry_t, e->retry_ns);
	else
		e->retry_t = loop_timer_add(e->loop, e->retry_ns, 0, on_retry,
					    e);
}

/* Give the lease up (its key goes with it) and start over. */
static void drop_lease(struct election *e)
{
	step_down(e);
	cancel_timer(&e->ka_t);
	if (e->lease)
		store_lease_revoke(e->st, e->lease, noop_done, NULL);
	e->lease = 0;
	if (e->w) {
		store_watch_cancel(e->w);
		e->w = NULL;
	}
}

static void on_fence(void *arg)
{
	struct election *e = arg;
	int64_t left = e->fence - boot_now();

	if (left > 0) {
		loop_timer_reset(e->fence_t, left);
		return;
	}
	cancel_timer(&e->fence_t);
	log_warn("election %s: lease not renewed in time; stepping down",
		 e->key);
	drop_lease(e);
	grant(e);
}

static void arm_fence(struct election *e)
{
	int64_t left = e->fence - boot_now();

	if (left < 0)
		left = 0;
	if (e->fence_t)
		loop_timer_reset(e->fence_t, left);
	else
		e->fence_t = loop_timer_add(e->loop, left, 0, on_fence, e);
}

static void become_leader(struct election *e, int64_t term)
{
	if (boot_now() >= e->fence) {
		/* Too late to act on this lease: start over. */
		drop_lease(e);
		retry_later(e);
		return;
	}
	e->term = term;
	arm_fence(e);
	if (e->leader)
		return;
	e->leader = true;
	log_info("election %s: leader (term %lld)", e->key, (long long)term);
	e->cb(e->arg, true);
}

static void keepalive_done(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct election *e = arg;

	if (returned(e))
		return;
	e->keeping = false;
	if (id != e->lease)
		return; /* an old lease */
	if (err == -ENOENT) {
		log_warn("election %s: lease lost", e->key);
		e->lease = 0; /* nothing to revoke */
		drop_lease(e);
		grant(e);
		return;
	}
	if (err)
		return; /* the fence ends leadership if this goes on */
	e->fence = e->sent + ttl_ms * MS - e->margin_ns;
	if (e->leader)
		arm_fence(e);
}

static void on_keepalive(void *arg)
{
	struct election *e = arg;

	if (!e->lease || e->keeping)
		return;
	e->sent = boot_now();
	if (store_lease_keepalive(e->st, e->lease, keepalive_done, e) == 0) {
		e->keeping = true;
		e->pending++;
	}
}

static void on_watch(void *arg, int err, int64_t rev,
		     const struct strata_store_event *ev, size_t n)
{
	struct election *e = arg;
	size_t i;

	if (err) {
		store_watch_cancel(e->w);
		e->w = NULL;
		campaign(e);
		return;
	}
	for (i = 0; i < n; i++) {
		if (ev[i].type == STRATA_EVENT_DELETE ||
		    (e->leader && ev[i].kv.create_rev != e->term)) {
			/* The key went (our lease too, perhaps): ask again. */
			step_down(e);
			campaign(e);
			return;
		}
	}
}

static void watch_from(struct election *e, int64_t rev)
{
	if (e->w)
		store_watch_cancel(e->w);
	e->w = NULL;
	if (store_watch(e->st, e->key, 0, rev, on_watch, e, &e->w))
		retry_later(e);
}

static void campaign_done(void *arg, int err, const struct strata_store_txn_result *res)
{
	struct election *e = arg;
	const struct strata_kv *kv;

	if (returned(e))
		return;
	e->campaigning = false;
	if (e->campaign_lease != e->lease) {
		/* the lease changed meanwhile: this answer is about the old */
		campaign(e);
		return;
	}
	if (err == -ENOENT) {
		/* our lease is gone */
		e->lease = 0;
		drop_lease(e);
		grant(e);
		return;
	}
	if (err) {
		log_warn("election %s: campaign: %s", e->key, strerror(-err));
		retry_later(e);
		return;
	}
	watch_from(e, res->revision + 1);
	if (res->succeeded) {
		become_leader(e, res->revision);
		return;
	}
	if (!res->n_results || res->results[0].n_kvs != 1) {
		campaign(e); /* gone in between */
		return;
	}
	kv = &res->results[0].kvs[0];
	if (kv->lease == e->lease) {
		become_leader(e, kv->create_rev); /* ours already */
		return;
	}
	step_down(e);
}

static void campaign(struct election *e)
{
	struct strata_store_cmp cmp = { .key = e->key, .target = STRATA_CMP_CREATE,
				 .result = STRATA_CMP_EQUAL };
	struct strata_store_op put = { .type = STRATA_OP_PUT, .key = e->key,
				.value = e->value,
				.value_len = strlen(e->value),
				.lease = e->lease };
	struct strata_store_op get = { .type = STRATA_OP_RANGE, .key = e->key };
	struct strata_store_txn txn = { .cmp = &cmp, .n_cmp = 1, .success = &put,
				 .n_success = 1, .failure = &get,
				 .n_failure = 1 };

	if (e->stopped || e->campaigning)
		return;
	if (!e->lease) {
		grant(e);
		return;
	}
	if (store_txn(e->st, &txn, campaign_done, e)) {
		retry_later(e);
		return;
	}
	e->campaigning = true;
	e->campaign_lease = e->lease;
	e->pending++;
}

static void grant_done(void *arg, int err, int64_t id, int64_t ttl_ms)
{
	struct election *e = arg;
	int64_t period;

	if (e->stopped && !err)
		store_lease_revoke(e->st, id, noop_done, NULL);
	if (returned(e))
		return;
	e->granting = false;
	if (err) {
		log_warn("election %s: lease grant: %s", e->key,
			 strerror(-err));
		retry_later(e);
		return;
	}
	e->lease = id;
	e->lease_ns = ttl_ms * MS;
	e->fence = e->sent + e->lease_ns - e->margin_ns;
	period = e->lease_ns / 3;
	cancel_timer(&e->ka_t);
	e->ka_t = loop_timer_add(e->loop, period, period, on_keepalive, e);
	campaign(e);
}

static void grant(struct election *e)
{
	if (e->stopped || e->granting || e->lease)
		return;
	e->sent = boot_now();
	if (store_lease_grant(e->st, e->ttl_ms, 0, grant_done, e)) {
		retry_later(e);
		return;
	}
	e->granting = true;
	e->pending++;
}

int election_start(struct store *st, struct loop *loop,
		   const struct election_options *opt, election_cb cb,
		   void *arg, struct election **out)
{
	struct election *e;

	if (!st || !loop || !opt || opt->size < sizeof(*opt) || !opt->key ||
	    !*opt->key || !opt->value || !cb || !out || opt->ttl_ms < 0 ||
	    opt->margin_ms < 0 || opt->retry_ms < 0)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->st = st;
	e->loop = loop;
	e->cb = cb;
	e->arg = arg;
	e->ttl_ms = opt->ttl_ms ? opt->ttl_ms : 10000;
	e->margin_ns = (opt->margin_ms ? opt->margin_ms : e->ttl_ms / 5) * MS;
	e->retry_ns = (opt->retry_ms ? opt->retry_ms : e->ttl_ms / 4) * MS;
	if (e->margin_ns >= e->ttl_ms * MS) {
		free(e);
		return -EINVAL;
	}
	e->key = strdup(opt->key);
	e->value = strdup(opt->value);
	if (!e->key || !e->value) {
		free_election(e);
		return -ENOMEM;
	}
	grant(e);
	*out = e;
	return 0;
}

void election_stop(struct election *e)
{
	if (!e)
		return;
	e->leader = false; /* no callback now */
	drop_lease(e);
	cancel_timer(&e->retry_t);
	e->stopped = true;
	if (!e->pending)
		free_election(e);
}

bool election_is_leader(const struct election *e)
{
	return e && e->leader && boot_now() < e->fence;
}

int64_t election_remaining(const struct election *e)
{
	int64_t left;

	if (!election_is_leader(e))
		return 0;
	left = e->fence - boot_now();
	return left > 0 ? left : 0;
}

int64_t election_term(const struct election *e)
{
	return e && e->leader ? e->term : 0;
}

int election_txn(struct election *e, const struct strata_store_txn *txn,
		 store_txn_cb cb, void *arg)
{
	struct strata_store_cmp *cmp;
	struct strata_store_txn t;
	int err;

	if (!e || !txn)
		return -EINVAL;
	if (!election_is_leader(e))
		return -EPERM;
	cmp = calloc(txn->n_cmp + 1, sizeof(*cmp));
	if (!cmp)
		return -ENOMEM;
	if (txn->n_cmp)
		memcpy(cmp, txn->cmp, txn->n_cmp * sizeof(*cmp));
	cmp[txn->n_cmp] = (struct strata_store_cmp){ .key = e->key,
					      .target = STRATA_CMP_CREATE,
					      .result = STRATA_CMP_EQUAL,
					      .num = e->term };
	t = *txn;
	t.cmp = cmp;
	t.n_cmp = txn->n_cmp + 1;
	err = store_txn(e->st, &t, cb, arg);
	free(cmp);
	return err;
}
