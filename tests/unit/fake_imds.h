/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/fixtures/fake_imds.py for the unit tests: started on 127.0.0.1 on
 * a free port, driven through its control endpoint (blocking libcurl: the
 * tests' own side channel, not the code under test), stopped by pid. Every
 * wait is bounded.
 */
#ifndef STRATA_TESTS_FAKE_IMDS_H
#define STRATA_TESTS_FAKE_IMDS_H

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#ifndef FIXTURES_DIR
#error "FIXTURES_DIR must name tests/fixtures"
#endif

struct fake_imds {
	pid_t pid;
	int port;
	char url[64]; /* http://127.0.0.1:PORT */
};

/* Start the fake with extra arguments (NULL-terminated). */
static void __attribute__((unused))
fake_start_args(struct fake_imds *f, const char *const *extra)
{
	const char *argv[32] = { "/usr/bin/python3",
				 FIXTURES_DIR "/fake_imds.py", "--port", "0" };
	char line[64] = "";
	size_t n = 4, got = 0;
	int out[2];

	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	ck_assert_int_eq(pipe(out), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	/* "port N\n" within 10 s */
	while (got < sizeof(line) - 1 && !strchr(line, '\n')) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		ssize_t r;

		ck_assert_msg(poll(&p, 1, 10000) == 1,
			      "fake_imds.py did not start within 10 s");
		r = read(out[0], line + got, sizeof(line) - 1 - got);
		ck_assert_msg(r > 0, "fake_imds.py exited at start");
		got += (size_t)r;
		line[got] = '\0';
	}
	close(out[0]);
	ck_assert_int_eq(sscanf(line, "port %d", &f->port), 1);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
}

static void __attribute__((unused)) fake_start(struct fake_imds *f)
{
	fake_start_args(f, NULL);
}

static void __attribute__((unused)) fake_stop(struct fake_imds *f)
{
	int st, i;

	if (f->pid <= 0)
		return;
	kill(f->pid, SIGTERM);
	for (i = 0; i < 200; i++) {
		if (waitpid(f->pid, &st, WNOHANG) == f->pid)
			break;
		usleep(10000);
	}
	if (i == 200) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, &st, 0);
	}
	f->pid = 0;
}

struct fake_buf {
	char data[8192];
	size_t len;
};

static size_t fake_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct fake_buf *b = ud;
	size_t n = sz * nm;

	if (n > sizeof(b->data) - 1 - b->len)
		n = sizeof(b->data) - 1 - b->len;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return sz * nm;
}

/* POST (json non-NULL) or GET /control/WHAT; the answer in b. */
static void fake_ctl_raw(struct fake_imds *f, const char *what,
			 const char *json, struct fake_buf *b)
{
	char url[128];
	long status = 0;
	CURL *e = curl_easy_init();

	ck_assert_ptr_nonnull(e);
	b->len = 0;
	b->data[0] = '\0';
	snprintf(url, sizeof(url), "%s/control/%s", f->url, what);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fake_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
	if (json)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
	ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	ck_assert_msg(status == 200, "control %s: status %ld", what, status);
}

static void __attribute__((format(printf, 3, 4), unused))
fake_ctl(struct fake_imds *f, const char *what, const char *fmt, ...)
{
	struct fake_buf b;
	char json[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	fake_ctl_raw(f, what, json, &b);
}

/* A counter of /control/stats: "token_puts", "unauthorized", "gets", or
 * a path's GETs with "paths/PATH". */
static long __attribute__((unused))
fake_stat(struct fake_imds *f, const char *name)
{
	const char *path[3] = { name, NULL, NULL };
	char key[256];
	struct fake_buf b;
	yajl_val tree, v;
	long n = 0;

	if (strncmp(name, "paths/", 6) == 0) {
		snprintf(key, sizeof(key), "%s", name + 6);
		path[0] = "paths";
		path[1] = key;
	}
	fake_ctl_raw(f, "stats", NULL, &b);
	tree = yajl_tree_parse(b.data, NULL, 0);
	ck_assert_ptr_nonnull(tree);
	v = yajl_tree_get(tree, path, yajl_t_number);
	if (v)
		n = (long)YAJL_GET_INTEGER(v);
	yajl_tree_free(tree);
	return n;
}

#endif
