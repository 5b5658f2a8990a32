/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event loop: one thread, epoll, one timerfd behind a timer heap,
 * signalfd, deferred calls, and one thread-safe post queue (eventfd).
 * Callbacks run on the loop thread; none of them may block.
 */
#ifndef STRATA_CORE_LOOP_H
#define STRATA_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_fd;
struct loop_timer;
struct loop_defer;

/* epoll event bits (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP) */
typedef void (*loop_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*loop_cb)(void *arg);
typedef void (*loop_signal_cb)(void *arg, int signo);

int loop_new(struct loop **out);
/* Frees the loop and every watch, timer and pending call still in it. */
void loop_free(struct loop *loop);
/* Runs until loop_stop(); returns 0, or -errno if epoll fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);
/* Runs one iteration, waiting at most timeout_ms (-1: forever); for tests. */
int loop_run_once(struct loop *loop, int timeout_ms);

int64_t loop_now(void); /* CLOCK_MONOTONIC in ns */

struct loop_fd *loop_fd_add(struct loop *loop, int fd, uint32_t events,
			    loop_fd_cb cb, void *arg);
int loop_fd_mod(struct loop_fd *w, uint32_t events);
/* Safe from inside the watch's own callback. Does not close fd. */
void loop_fd_del(struct loop_fd *w);

/* First run after delay_ns; then every period_ns unless 0. */
struct loop_timer *loop_timer_add(struct loop *loop, int64_t delay_ns,
				  int64_t period_ns, loop_cb cb, void *arg);
/* Re-arm an existing timer (one-shot or periodic) from now. */
void loop_timer_reset(struct loop_timer *t, int64_t delay_ns);
/* Safe from inside the timer's own callback. */
void loop_timer_cancel(struct loop_timer *t);

/* Runs cb after the current callback returns, in FIFO order. */
struct loop_defer *loop_defer(struct loop *loop, loop_cb cb, void *arg);
void loop_defer_cancel(struct loop_defer *d);

/* Thread-safe: runs cb on the loop thread. 0 or -errno. */
int loop_post(struct loop *loop, loop_cb cb, void *arg);

/*
 * Handle signo through the loop's signalfd. The caller must have blocked
 * the signal in every thread (loop_block_signals() before any thread).
 */
int loop_signal(struct loop *loop, int signo, loop_signal_cb cb, void *arg);
/* Block SIGTERM, SIGINT, SIGHUP, SIGCHLD; ignore SIGPIPE. */
int loop_block_signals(void);

#endif
