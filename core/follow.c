/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "follow.h"
#include "log.h"
#include "loop.h"
#include "store.h"

#define FOLLOW_RETRY_NS (1000 * 1000000LL)

struct follow {
	struct loop *loop;
	struct store *st;
	char *key;
	uint32_t flags;
	follow_cb cb;
	void *arg;
	struct store_watch *w;
	struct loop_timer *retry;
	struct loop_defer *kick;
};

static void reopen(void *arg);

static void kicked(void *arg)
{
	struct follow *f = arg;

	f->kick = NULL;
	f->cb(f->arg);
}

static void kick(struct follow *f)
{
	if (!f->kick)
		f->kick = loop_defer(f->loop, kicked, f);
}

static void changed(void *arg, int err, int64_t rev,
		    const struct strata_store_event *ev, size_t n)
{
	struct follow *f = arg;

	(void)rev;
	(void)ev;
	if (!err) {
		if (n)
			kick(f);
		return;
	}
	/* ended: watch again from now, and read again (events may be lost) */
	if (err != -ESTALE)
		log_msg(LOG_WARNING, "store",
			"watching %s: %s; watching again", f->key,
			strerror(-err));
	store_watch_cancel(f->w);
	f->w = NULL;
	if (!f->retry)
		f->retry = loop_timer_add(f->loop,
					  err == -ESTALE ? 0 : FOLLOW_RETRY_NS,
					  0, reopen, f);
}

static void reopen(void *arg)
{
	struct follow *f = arg;
	int rc;

	loop_timer_cancel(f->retry);
	f->retry = NULL;
	rc = store_watch(f->st, f->key, f->flags, 0, changed, f, &f->w);
	if (rc) {
		f->w = NULL;
		f->retry = loop_timer_add(f->loop, FOLLOW_RETRY_NS, 0, reopen,
					  f);
		return;
	}
	kick(f);
}

int follow_start(struct loop *loop, struct store *st, const char *key,
		 uint32_t flags, follow_cb cb, void *arg, struct follow **out)
{
	struct follow *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	*f = (struct follow){ .loop = loop, .st = st, .flags = flags,
			      .cb = cb, .arg = arg };
	f->key = strdup(key);
	if (!f->key) {
		free(f);
		return -ENOMEM;
	}
	rc = store_watch(st, key, flags, 0, changed, f, &f->w);
	if (rc) {
		free(f->key);
		free(f);
		return rc;
	}
	kick(f);
	*out = f;
	return 0;
}

void follow_stop(struct follow *f)
{
	if (!f)
		return;
	if (f->w)
		store_watch_cancel(f->w);
	loop_timer_cancel(f->retry);
	loop_defer_cancel(f->kick);
	free(f->key);
	free(f);
}
