/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOOP_MAX_EVENTS 64
#define LOOP_MAX_SIGNALS 65

/* An intrusive circular list: unlinking needs no head. */
struct loop_list {
	struct loop_list *next, *prev;
};

#define loop_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static void list_init(struct loop_list *l)
{
	l->next = l->prev = l;
}

static bool list_empty(const struct loop_list *l)
{
	return l->next == l;
}

static void list_add_tail(struct loop_list *head, struct loop_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void list_del(struct loop_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

/* Moves every entry of from to the empty list to. */
static void list_splice_init(struct loop_list *from, struct loop_list *to)
{
	list_init(to);
	if (list_empty(from))
		return;
	to->next = from->next;
	to->prev = from->prev;
	to->next->prev = to;
	to->prev->next = to;
	list_init(from);
}

struct loop_fd {
	struct loop *loop;
	struct loop_list link; /* loop->fds, or loop->dead_fds */
	int fd;
	uint32_t events;
	loop_fd_cb cb;
	void *arg;
	bool dead;
};

struct loop_timer {
	struct loop *loop;
	struct loop_list link; /* loop->timers */
	int64_t when;
	int64_t period;
	uint64_t seq; /* ties in the heap fire in arming order */
	size_t idx;   /* in loop->heap, or LOOP_NOT_ARMED */
	loop_cb cb;
	void *arg;
	bool dead;
};

#define LOOP_NOT_ARMED SIZE_MAX

struct loop_defer {
	struct loop *loop;
	struct loop_list link; /* loop->defers, or a running batch */
	loop_cb cb;
	void *arg;
	bool running;
	bool dead;
};

struct loop_post {
	struct loop_post *next;
	loop_cb cb;
	void *arg;
};

struct loop_sig {
	loop_signal_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	int tfd;
	int efd;
	int sfd; /* -1 until the first loop_signal() */
	struct loop_fd *tfd_watch, *efd_watch, *sfd_watch;

	struct loop_list fds;
	struct loop_list dead_fds;
	bool dispatching;

	struct loop_list timers;
	struct loop_timer **heap;
	size_t n_heap, cap_heap;
	uint64_t timer_seq;
	struct loop_timer *running_timer;
	int64_t armed; /* absolute expiry programmed in tfd, 0: none */

	struct loop_list defers;

	pthread_mutex_t post_lock;
	struct loop_post *post_head, **post_tail;

	sigset_t sigmask;
	struct loop_sig sigs[LOOP_MAX_SIGNALS];

	atomic_bool stop;
};

int64_t loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* -- timers: a binary min-heap on (when, seq) ------------------------- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return a->seq < b->seq;
}

static void heap_set(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct loop_timer *best = t;

		if (l < loop->n_heap && timer_before(loop->heap[l], best)) {
			m = l;
			best = loop->heap[l];
		}
		if (r < loop->n_heap && timer_before(loop->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(loop, i, loop->heap[m]);
		i = m;
	}
	heap_set(loop, i, t);
}

static int heap_insert(struct loop *loop, struct loop_timer *t)
{
	if (loop->n_heap == loop->cap_heap) {
		size_t cap = loop->cap_heap ? loop->cap_heap * 2 : 16;
		struct loop_timer **h = realloc(loop->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		loop->heap = h;
		loop->cap_heap = cap;
	}
	t->seq = loop->timer_seq++;
	heap_set(loop, loop->n_heap++, t);
	heap_up(loop, t->idx);
	return 0;
}

static void heap_remove(struct loop *loop, struct loop_timer *t)
{
	size_t i = t->idx;
	struct loop_timer *last;

	if (i == LOOP_NOT_ARMED)
		return;
	t->idx = LOOP_NOT_ARMED;
	last = loop->heap[--loop->n_heap];
	if (last == t)
		return;
	heap_set(loop, i, last);
	if (i > 0 && timer_before(last, loop->heap[(i - 1) / 2]))
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

static void timer_arm(struct loop *loop)
{
	struct itimerspec its = { 0 };
	int64_t when = loop->n_heap ? loop->heap[0]->when : 0;

	if (when == loop->armed)
		return;
	if (when > 0) {
		its.it_value.tv_sec = when / 1000000000;
		its.it_value.tv_nsec = when % 1000000000;
	} else if (when < 0) {
		/* A zero it_value would disarm: use the earliest instant. */
		its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(loop->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_err("loop: timerfd_settime: %s", strerror(errno));
		return;
	}
	loop->armed = when;
}

static void timer_free(struct loop_timer *t)
{
	list_del(&t->link);
	free(t);
}

struct loop_timer *loop_timer_add(struct loop *loop, int64_t delay_ns,
				  int64_t period_ns, loop_cb cb, void *arg)
{
	struct loop_timer *t;

	if (!loop || !cb || period_ns < 0) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->period = period_ns;
	t->when = loop_now() + (delay_ns > 0 ? delay_ns : 0);
	t->idx = LOOP_NOT_ARMED;
	if (heap_insert(loop, t) < 0) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	list_add_tail(&loop->timers, &t->link);
	return t;
}

void loop_timer_reset(struct loop_timer *t, int64_t delay_ns)
{
	struct loop *loop;

	if (!t || t->dead)
		return;
	loop = t->loop;
	heap_remove(loop, t);
	t->when = loop_now() + (delay_ns > 0 ? delay_ns : 0);
	/* Only growth can fail, and only for a timer that had fired. */
	if (heap_insert(loop, t) < 0)
		log_err("loop: timer reset: out of memory");
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (!t || t->dead)
		return;
	heap_remove(t->loop, t);
	t->dead = true;
	/* The dispatcher frees the timer it is running once it returns. */
	if (t->loop->running_timer != t)
		timer_free(t);
}

static void timers_run(struct loop *loop)
{
	int64_t now = loop_now();
	/* Timers armed from now on (periodic re-arms included) wait for the
	 * next round, so none can starve the loop. */
	uint64_t round = loop->timer_seq;

	while (loop->n_heap) {
		struct loop_timer *t = loop->heap[0];

		if (t->when > now || t->seq >= round)
			break;
		heap_remove(loop, t);
		if (t->period > 0) {
			int64_t next = t->when + t->period;

			/* Far behind (a suspended machine): skip, no burst. */
			if (next <= now)
				next = now + t->period;
			t->when = next;
			heap_insert(loop, t);
		}
		loop->running_timer = t;
		t->cb(t->arg);
		loop->running_timer = NULL;
		if (t->dead)
			timer_free(t);
	}
}

static void tfd_cb(void *arg, int fd, uint32_t events)
{
	struct loop *loop = arg;
	uint64_t n;

	/* Consume the expiry; timers_run() does the work each round. */
	if (read(fd, &n, sizeof(n)) == sizeof(n))
		loop->armed = 0;
}

/* -- defers ----------------------------------------------------------- */

struct loop_defer *loop_defer(struct loop *loop, loop_cb cb, void *arg)
{
	struct loop_defer *d;

	if (!loop || !cb) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->loop = loop;
	d->cb = cb;
	d->arg = arg;
	list_add_tail(&loop->defers, &d->link);
	return d;
}

void loop_defer_cancel(struct loop_defer *d)
{
	if (!d || d->dead)
		return;
	d->dead = true;
	if (d->running)
		return;
	list_del(&d->link);
	free(d);
}

/* Runs the defers queued so far; those they queue wait for the next round. */
static void defers_run(struct loop *loop)
{
	struct loop_list batch;

	list_splice_init(&loop->defers, &batch);
	while (!list_empty(&batch)) {
		struct loop_defer *d =
			loop_entry(batch.next, struct loop_defer, link);

		list_del(&d->link);
		d->running = true;
		d->cb(d->arg);
		free(d);
	}
}

/* -- posts ------------------------------------------------------------ */

int loop_post(struct loop *loop, loop_cb cb, void *arg)
{
	struct loop_post *p;
	uint64_t one = 1;

	if (!loop || !cb)
		return -EINVAL;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->cb = cb;
	p->arg = arg;
	pthread_mutex_lock(&loop->post_lock);
	*loop->post_tail = p;
	loop->post_tail = &p->next;
	pthread_mutex_unlock(&loop->post_lock);
	/* Fails only if the counter would overflow: then it is readable. */
	while (write(loop->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	return 0;
}

static struct loop_post *posts_take(struct loop *loop)
{
	struct loop_post *head;

	pthread_mutex_lock(&loop->post_lock);
	head = loop->post_head;
	loop->post_head = NULL;
	loop->post_tail = &loop->post_head;
	pthread_mutex_unlock(&loop->post_lock);
	return head;
}

static void efd_cb(void *arg, int fd, uint32_t events)
{
	struct loop *loop = arg;
	struct loop_post *p;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("loop: eventfd read: %s", strerror(errno));
	p = posts_take(loop);
	while (p) {
		struct loop_post *next = p->next;

		p->cb(p->arg);
		free(p);
		p = next;
	}
}

/* -- signals ---------------------------------------------------------- */

static void sfd_cb(void *arg, int fd, uint32_t events)
{
	struct loop *loop = arg;
	struct signalfd_siginfo si;

	/* Bounded: a signal storm cannot hold the loop. */
	for (int i = 0; i < 32; i++) {
		ssize_t n = read(fd, &si, sizeof(si));
		struct loop_sig *h;

		if (n != sizeof(si))
			break;
		if (si.ssi_signo >= LOOP_MAX_SIGNALS)
			continue;
		h = &loop->sigs[si.ssi_signo];
		if (h->cb)
			h->cb(h->arg, (int)si.ssi_signo);
	}
}

int loop_signal(struct loop *loop, int signo, loop_signal_cb cb, void *arg)
{
	sigset_t mask;
	int fd;

	if (!loop || signo <= 0 || signo >= LOOP_MAX_SIGNALS ||
	    signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	mask = loop->sigmask;
	if (cb)
		sigaddset(&mask, signo);
	else
		sigdelset(&mask, signo);
	fd = signalfd(loop->sfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (loop->sfd < 0) {
		loop->sfd_watch = loop_fd_add(loop, fd, EPOLLIN, sfd_cb, loop);
		if (!loop->sfd_watch) {
			int err = -errno;

			close(fd);
			return err;
		}
		loop->sfd = fd;
	}
	loop->sigmask = mask;
	loop->sigs[signo].cb = cb;
	loop->sigs[signo].arg = arg;
	return 0;
}

int loop_block_signals(void)
{
	struct sigaction sa;
	sigset_t set;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	err = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (err)
		return -err;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* -- fd watches ------------------------------------------------------- */

struct loop_fd *loop_fd_add(struct loop *loop, int fd, uint32_t events,
			    loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct loop_fd *w;

	if (!loop || fd < 0 || !cb) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->loop = loop;
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		free(w);
		errno = err;
		return NULL;
	}
	list_add_tail(&loop->fds, &w->link);
	return w;
}

int loop_fd_mod(struct loop_fd *w, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	if (!w || w->dead)
		return -EINVAL;
	ev.data.ptr = w;
	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void loop_fd_del(struct loop_fd *w)
{
	struct loop *loop;

	if (!w || w->dead)
		return;
	loop = w->loop;
	/* Now, so the caller may close the fd as soon as we return. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
	list_del(&w->link);
	/* The events of this round may still point at it. */
	if (loop->dispatching)
		list_add_tail(&loop->dead_fds, &w->link);
	else
		free(w);
}

static void fds_reap(struct loop *loop)
{
	while (!list_empty(&loop->dead_fds)) {
		struct loop_fd *w =
			loop_entry(loop->dead_fds.next, struct loop_fd, link);

		list_del(&w->link);
		free(w);
	}
}

/* -- the loop --------------------------------------------------------- */

int loop_new(struct loop **out)
{
	struct loop *loop;
	int err;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	list_init(&loop->fds);
	list_init(&loop->dead_fds);
	list_init(&loop->timers);
	list_init(&loop->defers);
	loop->post_tail = &loop->post_head;
	loop->tfd = loop->efd = loop->sfd = -1;
	sigemptyset(&loop->sigmask);
	atomic_init(&loop->stop, false);
	err = pthread_mutex_init(&loop->post_lock, NULL);
	if (err) {
		free(loop);
		return -err;
	}

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto fail;
	loop->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->tfd < 0)
		goto fail;
	loop->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->efd < 0)
		goto fail;
	loop->tfd_watch = loop_fd_add(loop, loop->tfd, EPOLLIN, tfd_cb, loop);
	if (!loop->tfd_watch)
		goto fail;
	loop->efd_watch = loop_fd_add(loop, loop->efd, EPOLLIN, efd_cb, loop);
	if (!loop->efd_watch)
		goto fail;
	*out = loop;
	return 0;

fail:
	err = -errno;
	loop_free(loop);
	return err;
}

void loop_free(struct loop *loop)
{
	struct loop_post *p;

	if (!loop)
		return;
	while (!list_empty(&loop->fds)) {
		struct loop_fd *w =
			loop_entry(loop->fds.next, struct loop_fd, link);

		list_del(&w->link);
		free(w);
	}
	fds_reap(loop);
	while (!list_empty(&loop->timers)) {
		struct loop_timer *t =
			loop_entry(loop->timers.next, struct loop_timer, link);

		timer_free(t);
	}
	free(loop->heap);
	while (!list_empty(&loop->defers)) {
		struct loop_defer *d =
			loop_entry(loop->defers.next, struct loop_defer, link);

		list_del(&d->link);
		free(d);
	}
	p = posts_take(loop);
	while (p) {
		struct loop_post *next = p->next;

		free(p);
		p = next;
	}
	if (loop->sfd >= 0)
		close(loop->sfd);
	if (loop->efd >= 0)
		close(loop->efd);
	if (loop->tfd >= 0)
		close(loop->tfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop);
}

int loop_run_once(struct loop *loop, int timeout_ms)
{
	struct epoll_event events[LOOP_MAX_EVENTS];
	int n;

	if (!list_empty(&loop->defers))
		timeout_ms = 0;
	timer_arm(loop);
	n = epoll_wait(loop->epfd, events, LOOP_MAX_EVENTS, timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}

	loop->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct loop_fd *w = events[i].data.ptr;

		if (w->dead)
			continue;
		w->cb(w->arg, w->fd, events[i].events);
	}
	loop->dispatching = false;
	fds_reap(loop);

	timers_run(loop);
	defers_run(loop);
	return 0;
}

int loop_run(struct loop *loop)
{
	int err = 0;

	while (!atomic_load(&loop->stop)) {
		err = loop_run_once(loop, -1);
		if (err < 0)
			break;
	}
	atomic_store(&loop->stop, false);
	return err;
}

void loop_stop(struct loop *loop)
{
	uint64_t one = 1;

	atomic_store(&loop->stop, true);
	/* Wake a loop sleeping in epoll_wait (another thread called us). */
	while (write(loop->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}
