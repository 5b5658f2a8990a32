/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

#define MS 1000000LL
/* A loose upper bound only: the machine may be slow or under valgrind. */
#define SANITY_NS (5000 * MS)

static struct loop *loop;

static void setup(void)
{
	ck_assert_int_eq(loop_new(&loop), 0);
}

static void teardown(void)
{
	loop_free(loop);
	loop = NULL;
}

/* Runs the loop until *done or the deadline; fails on the deadline. */
static void run_until(const bool *done, int64_t limit_ns)
{
	int64_t end = loop_now() + limit_ns;

	while (!*done) {
		ck_assert_msg(loop_now() < end, "loop did not finish in time");
		ck_assert_int_eq(loop_run_once(loop, 50), 0);
	}
}

/* -- timers ----------------------------------------------------------- */

struct fired {
	int order[16];
	int64_t at[16];
	int n;
	bool done;
	int expect;
};

struct targ {
	struct fired *f;
	int id;
};

static void record(void *arg)
{
	struct targ *a = arg;
	struct fired *f = a->f;

	f->order[f->n] = a->id;
	f->at[f->n] = loop_now();
	if (++f->n == f->expect)
		f->done = true;
}

START_TEST(test_timer_order)
{
	static const int delays[] = { 300, 100, 200, 0, 115 };
	static const int sorted[] = { 0, 100, 115, 200, 300 };
	struct fired f = { .expect = 5 };
	struct targ a[5];
	int64_t start = loop_now();

	for (int i = 0; i < 5; i++) {
		a[i] = (struct targ){ &f, delays[i] };
		ck_assert_ptr_nonnull(loop_timer_add(loop, delays[i] * MS, 0,
						     record, &a[i]));
	}
	run_until(&f.done, SANITY_NS);

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(f.order[i], sorted[i]);
		/* never before its time, even when a close one wakes us */
		ck_assert_int_ge(f.at[i] - start, f.order[i] * MS);
		ck_assert_int_lt(f.at[i] - start, SANITY_NS);
	}
}
END_TEST

START_TEST(test_timer_same_deadline_fifo)
{
	struct fired f = { .expect = 5 };
	struct targ a[5];

	/* Equal delays: they fire in the order they were added. */
	for (int i = 0; i < 5; i++) {
		a[i] = (struct targ){ &f, i };
		ck_assert_ptr_nonnull(
			loop_timer_add(loop, 20 * MS, 0, record, &a[i]));
	}
	run_until(&f.done, SANITY_NS);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(f.order[i], i);
}
END_TEST

struct periodic {
	struct loop_timer *t;
	int64_t start;
	int64_t at[8];
	int n;
	bool done;
};

static void periodic_cb(void *arg)
{
	struct periodic *p = arg;

	p->at[p->n++] = loop_now();
	if (p->n == 5) {
		/* cancelled from inside its own callback */
		loop_timer_cancel(p->t);
		p->done = true;
	}
}

START_TEST(test_timer_periodic)
{
	struct periodic p = { 0 };

	p.start = loop_now();
	p.t = loop_timer_add(loop, 30 * MS, 50 * MS, periodic_cb, &p);
	ck_assert_ptr_nonnull(p.t);
	run_until(&p.done, SANITY_NS);
	ck_assert_int_eq(p.n, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_ge(p.at[i] - p.start, (30 + 50 * i) * MS);
		if (i > 0)
			ck_assert_int_gt(p.at[i], p.at[i - 1]);
	}
	/* Cancelled: it does not fire again. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(loop_run_once(loop, 50), 0);
	ck_assert_int_eq(p.n, 5);
}
END_TEST

struct cancel_other {
	struct loop_timer *victim;
	int victim_runs;
	int killer_runs;
};

static void victim_cb(void *arg)
{
	struct cancel_other *c = arg;

	c->victim_runs++;
}

static void killer_cb(void *arg)
{
	struct cancel_other *c = arg;

	c->killer_runs++;
	loop_timer_cancel(c->victim);
}

START_TEST(test_timer_cancel_other_in_cb)
{
	struct cancel_other c = { 0 };
	int64_t end;

	/* Both due in the same round; the first cancels the second. */
	ck_assert_ptr_nonnull(loop_timer_add(loop, 20 * MS, 0, killer_cb, &c));
	c.victim = loop_timer_add(loop, 20 * MS, 0, victim_cb, &c);
	ck_assert_ptr_nonnull(c.victim);
	end = loop_now() + 200 * MS;
	while (loop_now() < end)
		ck_assert_int_eq(loop_run_once(loop, 20), 0);
	ck_assert_int_eq(c.killer_runs, 1);
	ck_assert_int_eq(c.victim_runs, 0);
}
END_TEST

START_TEST(test_timer_cancel_before)
{
	struct fired f = { .expect = 1 };
	struct targ a = { &f, 1 }, b = { &f, 2 };
	struct loop_timer *t;

	t = loop_timer_add(loop, 10 * MS, 0, record, &a);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(loop_timer_add(loop, 60 * MS, 0, record, &b));
	loop_timer_cancel(t);
	run_until(&f.done, SANITY_NS);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.order[0], 2);
}
END_TEST

struct reset {
	struct loop_timer *target;
	int64_t start;
	int64_t fired_at[4];
	int fired;
	bool done;
};

static void reset_target_cb(void *arg)
{
	struct reset *r = arg;

	r->fired_at[r->fired++] = loop_now();
	if (r->fired == 2)
		r->done = true;
	else
		/* A fired one-shot can be re-armed, even from its callback. */
		loop_timer_reset(r->target, 100 * MS);
}

static void reset_pusher_cb(void *arg)
{
	struct reset *r = arg;

	loop_timer_reset(r->target, 300 * MS);
}

START_TEST(test_timer_reset)
{
	struct reset r = { 0 };

	r.start = loop_now();
	r.target = loop_timer_add(loop, 100 * MS, 0, reset_target_cb, &r);
	ck_assert_ptr_nonnull(r.target);
	/* At 50 ms, push the target out to 50 + 300 ms. */
	ck_assert_ptr_nonnull(
		loop_timer_add(loop, 50 * MS, 0, reset_pusher_cb, &r));
	run_until(&r.done, SANITY_NS);
	ck_assert_int_ge(r.fired_at[0] - r.start, 350 * MS);
	ck_assert_int_ge(r.fired_at[1] - r.fired_at[0], 100 * MS);
	ck_assert_int_lt(r.fired_at[1] - r.start, SANITY_NS);
}
END_TEST

static void count_cb(void *arg)
{
	(*(int *)arg)++;
}

START_TEST(test_timer_many)
{
	int count = 0;
	bool done = false;
	struct loop_timer *ts[200];

	/* Heap stress: random-ish delays, half cancelled. */
	for (int i = 0; i < 200; i++) {
		ts[i] = loop_timer_add(loop, ((i * 37) % 50) * MS, 0, count_cb,
				       &count);
		ck_assert_ptr_nonnull(ts[i]);
	}
	for (int i = 0; i < 200; i += 2)
		loop_timer_cancel(ts[i]);
	int64_t end = loop_now() + 300 * MS;
	while (loop_now() < end && !done) {
		ck_assert_int_eq(loop_run_once(loop, 20), 0);
		done = count == 100;
	}
	ck_assert_int_eq(count, 100);
	for (int i = 1; i < 200; i += 2)
		loop_timer_cancel(ts[i]);
}
END_TEST

/* -- defers ----------------------------------------------------------- */

struct dlog {
	int order[16];
	int n;
	struct loop_defer *to_cancel;
};

struct darg {
	struct dlog *l;
	int id;
};

static void defer_record(void *arg)
{
	struct darg *a = arg;

	a->l->order[a->l->n++] = a->id;
}

static void defer_cancelling(void *arg)
{
	struct darg *a = arg;

	defer_record(arg);
	loop_defer_cancel(a->l->to_cancel);
}

static struct darg chained;

static void defer_chaining(void *arg)
{
	struct darg *a = arg;

	defer_record(arg);
	chained = (struct darg){ a->l, 99 };
	ck_assert_ptr_nonnull(loop_defer(loop, defer_record, &chained));
}

START_TEST(test_defer_order_cancel)
{
	struct dlog l = { 0 };
	struct darg a[6];
	struct loop_defer *d[6];

	for (int i = 0; i < 6; i++)
		a[i] = (struct darg){ &l, i };
	d[0] = loop_defer(loop, defer_record, &a[0]);
	d[1] = loop_defer(loop, defer_record, &a[1]);
	d[2] = loop_defer(loop, defer_cancelling, &a[2]);
	d[3] = loop_defer(loop, defer_chaining, &a[3]);
	d[4] = loop_defer(loop, defer_record, &a[4]);
	d[5] = loop_defer(loop, defer_record, &a[5]);
	for (int i = 0; i < 6; i++)
		ck_assert_ptr_nonnull(d[i]);
	loop_defer_cancel(d[1]); /* before the loop runs */
	l.to_cancel = d[4];      /* by d[2], within the same round */

	/* A long timeout: pending defers make the round not sleep. */
	int64_t start = loop_now();
	ck_assert_int_eq(loop_run_once(loop, 3000), 0);
	ck_assert_int_lt(loop_now() - start, 2000 * MS);
	ck_assert_int_eq(l.n, 4);
	ck_assert_int_eq(l.order[0], 0);
	ck_assert_int_eq(l.order[1], 2);
	ck_assert_int_eq(l.order[2], 3);
	ck_assert_int_eq(l.order[3], 5);

	/* The defer queued by a defer ran in the next round, not this one. */
	ck_assert_int_eq(loop_run_once(loop, 3000), 0);
	ck_assert_int_lt(loop_now() - start, 2000 * MS);
	ck_assert_int_eq(l.n, 5);
	ck_assert_int_eq(l.order[4], 99);
}
END_TEST

static void defer_forever(void *arg)
{
	int *n = arg;

	(*n)++;
	ck_assert_ptr_nonnull(loop_defer(loop, defer_forever, arg));
}

static void stop_cb(void *arg)
{
	bool *fired = arg;

	*fired = true;
	loop_stop(loop);
}

START_TEST(test_defer_no_starvation)
{
	int n = 0;
	bool fired = false;

	/* A defer that always queues another must not starve timers. */
	ck_assert_ptr_nonnull(loop_defer(loop, defer_forever, &n));
	ck_assert_ptr_nonnull(loop_timer_add(loop, 30 * MS, 0, stop_cb, &fired));
	ck_assert_int_eq(loop_run(loop), 0);
	ck_assert(fired);
	ck_assert_int_gt(n, 1);
}
END_TEST

/* -- posts ------------------------------------------------------------ */

#define POSTERS 4
#define POSTS 1000

struct post_state {
	int count;
	int last[POSTERS];
	bool in_order;
	bool done;
};

struct post_item {
	struct post_state *st;
	int thread;
	int seq;
};

static struct post_item items[POSTERS][POSTS];

static void post_cb(void *arg)
{
	struct post_item *it = arg;
	struct post_state *st = it->st;

	if (it->seq != st->last[it->thread] + 1)
		st->in_order = false;
	st->last[it->thread] = it->seq;
	if (++st->count == POSTERS * POSTS)
		st->done = true;
}

static void *poster(void *arg)
{
	struct post_item *mine = arg;

	for (int i = 0; i < POSTS; i++)
		if (loop_post(loop, post_cb, &mine[i]) < 0)
			return (void *)1;
	return NULL;
}

START_TEST(test_post_threads)
{
	struct post_state st = { .in_order = true };
	pthread_t th[POSTERS];

	for (int t = 0; t < POSTERS; t++) {
		st.last[t] = -1;
		for (int i = 0; i < POSTS; i++)
			items[t][i] = (struct post_item){ &st, t, i };
	}
	for (int t = 0; t < POSTERS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, poster, items[t]),
				 0);
	run_until(&st.done, 20000 * MS);
	for (int t = 0; t < POSTERS; t++) {
		void *ret;

		pthread_join(th[t], &ret);
		ck_assert_ptr_null(ret);
	}
	ck_assert_int_eq(st.count, POSTERS * POSTS);
	ck_assert(st.in_order);
	for (int t = 0; t < POSTERS; t++)
		ck_assert_int_eq(st.last[t], POSTS - 1);
}
END_TEST

static void *stopper(void *arg)
{
	usleep(50000);
	loop_stop(arg);
	return NULL;
}

START_TEST(test_stop_from_thread)
{
	pthread_t th;

	/* loop_run() with nothing to do sleeps; loop_stop() wakes it. */
	ck_assert_int_eq(pthread_create(&th, NULL, stopper, loop), 0);
	ck_assert_int_eq(loop_run(loop), 0);
	pthread_join(th, NULL);
}
END_TEST

/* -- signals ---------------------------------------------------------- */

struct sigrec {
	int signo;
	int count;
	bool done;
};

static void sig_cb(void *arg, int signo)
{
	struct sigrec *r = arg;

	r->signo = signo;
	r->count++;
	r->done = true;
}

START_TEST(test_signal)
{
	struct sigrec r = { 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	ck_assert_int_eq(loop_signal(loop, SIGUSR1, sig_cb, &r), 0);
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	run_until(&r.done, SANITY_NS);
	ck_assert_int_eq(r.signo, SIGUSR1);
	ck_assert_int_eq(r.count, 1);

	/* A second signal on the same signalfd. */
	sigaddset(&set, SIGUSR2);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	ck_assert_int_eq(loop_signal(loop, SIGUSR2, sig_cb, &r), 0);
	r.done = false;
	ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
	run_until(&r.done, SANITY_NS);
	ck_assert_int_eq(r.signo, SIGUSR2);
	ck_assert_int_eq(r.count, 2);

	ck_assert_int_eq(loop_signal(loop, SIGKILL, sig_cb, &r), -EINVAL);
	ck_assert_int_eq(loop_signal(loop, 0, sig_cb, &r), -EINVAL);
	ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
}
END_TEST

START_TEST(test_block_signals)
{
	struct sigaction sa;
	sigset_t cur;

	ck_assert_int_eq(loop_block_signals(), 0);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	ck_assert(sigismember(&cur, SIGTERM));
	ck_assert(sigismember(&cur, SIGINT));
	ck_assert(sigismember(&cur, SIGHUP));
	ck_assert(sigismember(&cur, SIGCHLD));
	ck_assert(!sigismember(&cur, SIGUSR2));
	ck_assert_int_eq(sigaction(SIGPIPE, NULL, &sa), 0);
	ck_assert_ptr_eq(sa.sa_handler, SIG_IGN);
}
END_TEST

/* -- fd watches ------------------------------------------------------- */

struct pipe_watch {
	int fds[2];
	struct loop_fd *w;
	char got[16];
	int n;
	uint32_t events;
	int calls;
};

static void pipe_read_cb(void *arg, int fd, uint32_t events)
{
	struct pipe_watch *p = arg;
	ssize_t n;

	p->calls++;
	p->events |= events;
	n = read(fd, p->got + p->n, sizeof(p->got) - 1 - (size_t)p->n);
	if (n > 0)
		p->n += (int)n;
}

static void pipe_open(struct pipe_watch *p)
{
	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(pipe2(p->fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void pipe_close(struct pipe_watch *p)
{
	close(p->fds[0]);
	close(p->fds[1]);
}

START_TEST(test_fd_watch_pipe)
{
	struct pipe_watch p;

	pipe_open(&p);
	p.w = loop_fd_add(loop, p.fds[0], EPOLLIN, pipe_read_cb, &p);
	ck_assert_ptr_nonnull(p.w);
	/* Nothing to read: no call. */
	ck_assert_int_eq(loop_run_once(loop, 20), 0);
	ck_assert_int_eq(p.calls, 0);

	ck_assert_int_eq(write(p.fds[1], "abc", 3), 3);
	for (int i = 0; i < 10 && p.n < 3; i++)
		ck_assert_int_eq(loop_run_once(loop, 100), 0);
	ck_assert_int_eq(p.n, 3);
	ck_assert_str_eq(p.got, "abc");
	ck_assert(p.events & EPOLLIN);

	/* Watching no events: data stays unread. */
	ck_assert_int_eq(loop_fd_mod(p.w, 0), 0);
	ck_assert_int_eq(write(p.fds[1], "d", 1), 1);
	int calls = p.calls;
	ck_assert_int_eq(loop_run_once(loop, 20), 0);
	ck_assert_int_eq(p.calls, calls);
	ck_assert_int_eq(loop_fd_mod(p.w, EPOLLIN), 0);
	ck_assert_int_eq(loop_run_once(loop, 100), 0);
	ck_assert_int_eq(p.n, 4);

	/* The same fd twice is refused. */
	ck_assert_ptr_null(loop_fd_add(loop, p.fds[0], EPOLLIN, pipe_read_cb,
				       &p));
	ck_assert_int_eq(errno, EEXIST);

	loop_fd_del(p.w);
	ck_assert_int_eq(write(p.fds[1], "e", 1), 1);
	calls = p.calls;
	ck_assert_int_eq(loop_run_once(loop, 20), 0);
	ck_assert_int_eq(p.calls, calls);
	/* loop_fd_del() left the fd open. */
	ck_assert_int_eq(fcntl(p.fds[0], F_GETFD), FD_CLOEXEC);
	pipe_close(&p);
}
END_TEST

START_TEST(test_fd_hup)
{
	struct pipe_watch p;

	pipe_open(&p);
	p.w = loop_fd_add(loop, p.fds[0], EPOLLIN, pipe_read_cb, &p);
	ck_assert_ptr_nonnull(p.w);
	close(p.fds[1]);
	for (int i = 0; i < 10 && !(p.events & EPOLLHUP); i++)
		ck_assert_int_eq(loop_run_once(loop, 100), 0);
	ck_assert(p.events & EPOLLHUP);
	loop_fd_del(p.w);
	close(p.fds[0]);
}
END_TEST

struct two {
	struct pipe_watch a, b;
	int calls;
	bool self;
};

static void del_other_cb(void *arg, int fd, uint32_t events)
{
	struct two *t = arg;
	char c;

	t->calls++;
	ck_assert_int_eq(read(fd, &c, 1), 1);
	/* Whichever runs first removes both: the other, whose event may
	 * already be in this round's batch, and then itself. */
	loop_fd_del(fd == t->a.fds[0] ? t->b.w : t->a.w);
	loop_fd_del(fd == t->a.fds[0] ? t->a.w : t->b.w);
	/* Closing a deleted watch's fd at once is fine too. */
	close(t->b.fds[0]);
	t->b.fds[0] = -1;
}

START_TEST(test_fd_del_in_cb)
{
	struct two t = { 0 };

	pipe_open(&t.a);
	pipe_open(&t.b);
	t.a.w = loop_fd_add(loop, t.a.fds[0], EPOLLIN, del_other_cb, &t);
	t.b.w = loop_fd_add(loop, t.b.fds[0], EPOLLIN, del_other_cb, &t);
	ck_assert_ptr_nonnull(t.a.w);
	ck_assert_ptr_nonnull(t.b.w);
	/* Both readable before the loop wakes: one batch holds both. */
	ck_assert_int_eq(write(t.a.fds[1], "x", 1), 1);
	ck_assert_int_eq(write(t.b.fds[1], "y", 1), 1);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(loop_run_once(loop, 20), 0);
	ck_assert_int_eq(t.calls, 1);
	close(t.a.fds[0]);
	close(t.a.fds[1]);
	close(t.b.fds[1]);
}
END_TEST

/* -- loop_free with everything still in it ---------------------------- */

static void never_cb(void *arg)
{
	ck_abort_msg("must not run");
}

static void never_fd_cb(void *arg, int fd, uint32_t events)
{
	ck_abort_msg("must not run");
}

START_TEST(test_free_leftovers)
{
	struct pipe_watch p;
	struct sigrec r = { 0 };
	struct loop *l2;
	sigset_t set;

	ck_assert_int_eq(loop_new(&l2), 0);
	pipe_open(&p);
	ck_assert_ptr_nonnull(loop_fd_add(l2, p.fds[0], EPOLLIN, never_fd_cb,
					  NULL));
	ck_assert_ptr_nonnull(loop_timer_add(l2, 10000 * MS, 0, never_cb, NULL));
	ck_assert_ptr_nonnull(loop_timer_add(l2, 0, 5 * MS, never_cb, NULL));
	ck_assert_ptr_nonnull(loop_defer(l2, never_cb, NULL));
	ck_assert_int_eq(loop_post(l2, never_cb, NULL), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	ck_assert_int_eq(loop_signal(l2, SIGUSR2, sig_cb, &r), 0);
	loop_free(l2);
	/* The watched fd is the caller's: still open. */
	ck_assert_int_ne(fcntl(p.fds[0], F_GETFD), -1);
	pipe_close(&p);
}
END_TEST

START_TEST(test_invalid)
{
	ck_assert_ptr_null(loop_timer_add(loop, 0, 0, NULL, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(loop_fd_add(loop, -1, EPOLLIN, never_fd_cb, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(loop_defer(loop, NULL, NULL));
	ck_assert_int_eq(loop_post(loop, NULL, NULL), -EINVAL);
	/* NULL handles are ignored. */
	loop_timer_cancel(NULL);
	loop_defer_cancel(NULL);
	loop_fd_del(NULL);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timer_order);
	tcase_add_test(tc, test_timer_same_deadline_fifo);
	tcase_add_test(tc, test_timer_periodic);
	tcase_add_test(tc, test_timer_cancel_other_in_cb);
	tcase_add_test(tc, test_timer_cancel_before);
	tcase_add_test(tc, test_timer_reset);
	tcase_add_test(tc, test_timer_many);
	tcase_add_test(tc, test_defer_order_cancel);
	tcase_add_test(tc, test_defer_no_starvation);
	tcase_add_test(tc, test_post_threads);
	tcase_add_test(tc, test_stop_from_thread);
	tcase_add_test(tc, test_signal);
	tcase_add_test(tc, test_block_signals);
	tcase_add_test(tc, test_fd_watch_pipe);
	tcase_add_test(tc, test_fd_hup);
	tcase_add_test(tc, test_fd_del_in_cb);
	tcase_add_test(tc, test_free_leftovers);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(loop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
