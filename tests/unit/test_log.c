/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Built with LOG_RATE_WINDOW_MS=1000 (see subdir.am). */
#define WINDOW_MS 1000

static char cap_path[] = "/tmp/strata-test-log-XXXXXX";
static int cap_fd = -1;
static int saved_stderr = -1;

static void capture_start(void)
{
	strcpy(cap_path, "/tmp/strata-test-log-XXXXXX");
	cap_fd = mkstemp(cap_path);
	ck_assert_int_ge(cap_fd, 0);
	/* Gone from /tmp even if an assertion ends the test early. */
	unlink(cap_path);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(cap_fd, STDERR_FILENO), 0);
}

/* Restores stderr and returns what was written (caller frees). */
static char *capture_end(void)
{
	char *buf;
	off_t len;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	len = lseek(cap_fd, 0, SEEK_END);
	ck_assert_int_ge(len, 0);
	buf = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(cap_fd, buf, (size_t)len, 0), len);
	close(cap_fd);
	return buf;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

static void setup(void)
{
	log_set_target("stderr", NULL);
	log_set_level(LOG_DEBUG);
}

START_TEST(test_level_names)
{
	ck_assert_int_eq(log_level_parse("error"), LOG_ERR);
	ck_assert_int_eq(log_level_parse("warning"), LOG_WARNING);
	ck_assert_int_eq(log_level_parse("warn"), LOG_WARNING);
	ck_assert_int_eq(log_level_parse("info"), LOG_INFO);
	ck_assert_int_eq(log_level_parse("DEBUG"), LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("loud"), -EINVAL);
	ck_assert_int_eq(log_level_parse(""), -EINVAL);
	ck_assert_int_eq(log_level_parse(NULL), -EINVAL);
	ck_assert_str_eq(log_level_name(LOG_ERR), "error");
	ck_assert_str_eq(log_level_name(LOG_WARNING), "warning");
	ck_assert_str_eq(log_level_name(LOG_INFO), "info");
	ck_assert_str_eq(log_level_name(LOG_DEBUG), "debug");
	log_set_level(LOG_WARNING);
	ck_assert_int_eq(log_get_level(), LOG_WARNING);
	log_set_level(LOG_DEBUG);
	ck_assert_int_eq(log_get_level(), LOG_DEBUG);
}
END_TEST

START_TEST(test_targets)
{
	ck_assert_int_eq(log_set_target("bogus", NULL), -EINVAL);
	ck_assert_int_eq(log_set_target(NULL, NULL), -EINVAL);
	ck_assert_int_eq(log_set_target("syslog", "strata-test"), 0);
	ck_assert_int_eq(log_set_target("stderr", NULL), 0);

	/* Back on stderr after syslog. */
	capture_start();
	log_info("back");
	char *out = capture_end();
	ck_assert_str_eq(out, "info back\n");
	free(out);
}
END_TEST

START_TEST(test_format)
{
	char *out;

	capture_start();
	log_msg(LOG_ERR, "static[main]", "failed %d times: %s", 3, "boom");
	log_warn("core %s", "warning");
	log_msg(LOG_INFO, "bgp[peer1]", "state %s", "up");
	log_debug("x=%d", 42);
	out = capture_end();
	ck_assert_str_eq(out, "error static[main]: failed 3 times: boom\n"
			      "warning core warning\n"
			      "info bgp[peer1]: state up\n"
			      "debug x=42\n");
	free(out);
}
END_TEST

START_TEST(test_one_line)
{
	char *out;

	capture_start();
	log_info("first\nsecond\r\nthird\n");
	log_msg(LOG_INFO, "p", "%s", "a\nb");
	out = capture_end();
	ck_assert_str_eq(out, "info first second  third\ninfo p: a b\n");
	free(out);
}
END_TEST

START_TEST(test_long_message)
{
	char big[5000];
	char *out;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start();
	log_msg(LOG_INFO, "p", "<%s>", big);
	out = capture_end();
	ck_assert_uint_eq(strlen(out), strlen("info p: <>\n") + sizeof(big) - 1);
	ck_assert_int_eq(strncmp(out, "info p: <xxx", 12), 0);
	ck_assert_str_eq(out + strlen(out) - 3, "x>\n");
	free(out);
}
END_TEST

START_TEST(test_level_filter)
{
	char *out;

	log_set_level(LOG_WARNING);
	capture_start();
	log_info("hidden info");
	log_debug("hidden debug");
	/* Below the level the arguments are never formatted: a bad pointer
	 * would crash this forked test if they were. */
	log_debug("%s", (const char *)16);
	log_warn("shown warning");
	log_err("shown error");
	out = capture_end();
	ck_assert_str_eq(out, "warning shown warning\nerror shown error\n");
	free(out);

	log_set_level(LOG_ERR);
	capture_start();
	log_warn("hidden");
	log_err("only");
	out = capture_end();
	ck_assert_str_eq(out, "error only\n");
	free(out);
}
END_TEST

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

START_TEST(test_rate_limit)
{
	char *out, *line;

	capture_start();
	for (int i = 0; i < 25; i++)
		log_msg(LOG_WARNING, "p[i]", "flapping %d", i);
	/* Another format and another prefix are separate messages. */
	for (int i = 0; i < 3; i++) {
		log_msg(LOG_WARNING, "p[i]", "other %d", i);
		log_msg(LOG_WARNING, "q[i]", "flapping %d", i);
	}
	out = capture_end();
	ck_assert_uint_eq(count_lines(out), 10 + 6);
	ck_assert_ptr_nonnull(strstr(out, "warning p[i]: flapping 9\n"));
	ck_assert_ptr_null(strstr(out, "flapping 10\n"));
	ck_assert_ptr_null(strstr(out, "suppressed"));
	ck_assert_ptr_nonnull(strstr(out, "warning p[i]: other 2\n"));
	ck_assert_ptr_nonnull(strstr(out, "warning q[i]: flapping 2\n"));
	free(out);

	/* Still inside the window: dropped, and counted. */
	capture_start();
	log_msg(LOG_WARNING, "p[i]", "flapping %d", 99);
	out = capture_end();
	ck_assert_str_eq(out, "");
	free(out);

	sleep_ms(WINDOW_MS + 100);
	capture_start();
	log_msg(LOG_WARNING, "p[i]", "flapping %d", 100);
	log_msg(LOG_WARNING, "p[i]", "flapping %d", 101);
	out = capture_end();
	line = strtok(out, "\n");
	ck_assert_str_eq(line, "warning p[i]: flapping 100 "
			       "(16 similar messages suppressed)");
	line = strtok(NULL, "\n");
	ck_assert_str_eq(line, "warning p[i]: flapping 101");
	free(out);
}
END_TEST

START_TEST(test_rate_limit_many_keys)
{
	char *out;

	/* The key is the format, not the formatted text. */
	capture_start();
	for (int i = 0; i < 200; i++)
		log_msg(LOG_INFO, NULL, "message %d", i);
	out = capture_end();
	ck_assert_uint_eq(count_lines(out), 10);
	free(out);

	/* More distinct messages than table slots: each passes, and the
	 * table stays bounded (checked under valgrind). */
	capture_start();
	for (int i = 0; i < 200; i++) {
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "k[%d]", i);
		log_msg(LOG_INFO, prefix, "message %d", i);
	}
	out = capture_end();
	ck_assert_uint_eq(count_lines(out), 200);
	free(out);
}
END_TEST

#define THREADS 4
#define PER_THREAD 200

static void *log_thread(void *arg)
{
	long id = (long)arg;

	/* One prefix per message, so the rate limit lets all through. */
	for (int i = 0; i < PER_THREAD; i++) {
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "t%ld[%d]", id, i);
		log_msg(LOG_INFO, prefix, "line %ld %d end", id, i);
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t th[THREADS];
	char *out, *save = NULL;
	unsigned n = 0;

	capture_start();
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, log_thread,
						(void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	out = capture_end();
	for (char *l = strtok_r(out, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		long id;
		int i, j, used = 0;

		/* Every line whole: no interleaving between threads. */
		ck_assert_int_eq(sscanf(l, "info t%ld[%d]: line %*d %d end%n",
					&id, &i, &j, &used), 3);
		ck_assert_int_eq(used, (int)strlen(l));
		ck_assert_int_eq(i, j);
		n++;
	}
	ck_assert_uint_eq(n, THREADS * PER_THREAD);
	free(out);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_targets);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_one_line);
	tcase_add_test(tc, test_long_message);
	tcase_add_test(tc, test_level_filter);
	tcase_add_test(tc, test_rate_limit);
	tcase_add_test(tc, test_rate_limit_many_keys);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
