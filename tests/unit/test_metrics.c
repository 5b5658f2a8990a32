/* SPDX-License-Identifier: Apache-2.0 */
/* Metric series, their exposition, and the /metrics endpoint. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "metrics.h"
#include "metrics_http.h"

/* ---- series names and labels -------------------------------------------- */

static const char *canon(const char *series, bool core)
{
	static char out[METRIC_KEY_MAX];
	size_t len;

	if (metric_canon(series, core, out, sizeof(out), &len) < 0)
		return NULL;
	return out;
}

START_TEST(canon_accepts_and_sorts)
{
	size_t len;
	char out[METRIC_KEY_MAX];

	ck_assert_str_eq(canon("routes_added", false), "routes_added");
	ck_assert_str_eq(canon("x{}", false), "x");
	ck_assert_str_eq(canon("x{b=\"2\",a=\"1\"}", false),
			 "x{a=\"1\",b=\"2\"}");
	ck_assert_str_eq(canon("x{a=\"1\",}", false), "x{a=\"1\"}");
	ck_assert_str_eq(canon("x{Peer_1=\"q\\\"\\\\\\n\"}", false),
			 "x{Peer_1=\"q\\\"\\\\\\n\"}");
	ck_assert_str_eq(canon("x{z=\"caf\xc3\xa9\"}", false),
			 "x{z=\"caf\xc3\xa9\"}");
	ck_assert_str_eq(canon("x{plugin=\"a\"}", true), "x{plugin=\"a\"}");
	ck_assert_int_eq(metric_canon("ab{c=\"d\"}", false, out, sizeof(out),
				      &len), 0);
	ck_assert_uint_eq(len, 2);
}
END_TEST

START_TEST(canon_refuses)
{
	static const char *const bad[] = {
		"", "Routes", "9lives", "a-b", "a b", "a{", "a{}x",
		"a{b}", "a{b=}", "a{b=\"c}", "a{b=\"c\"", "a{b=\"c\" }",
		"a{b=\"c\"d=\"e\"}", "a{b=\"\\t\"}", "a{b=\"x\ny\"}",
		"a{1b=\"c\"}", "a{b=\"1\",b=\"2\"}", "a{plugin=\"x\"}",
		"a{le=\"1\"}", "a{__name__=\"x\"}", "a{b=\"\xc3\"}",
		"a{b=\"\xed\xa0\x80\"}", "a{b='c'}",
		"a{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\","
		"h=\"1\",i=\"1\"}",
		"a_name_that_is_far_too_long_for_any_metric_series_at_all_"
		"really_now",
	};
	char out[16];
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!canon(bad[i], false), "accepted '%s'", bad[i]);
	/* a name of exactly 64 bytes is fine */
	ck_assert_ptr_nonnull(canon("a234567890123456789012345678901234567890"
				    "123456789012345678901234", false));
	/* too long for the buffer */
	ck_assert_int_eq(metric_canon("abc{d=\"0123456789\"}", false, out,
				      sizeof(out), &len), -EINVAL);
	ck_assert_int_eq(metric_canon(NULL, false, out, sizeof(out), &len),
			 -EINVAL);
}
END_TEST

/* ---- the set ------------------------------------------------------------ */

START_TEST(set_types_and_labels)
{
	struct metric_set s = { 0 };
	const struct metric_series *m;

	ck_assert_int_eq(metric_add(&s, "c_total{b=\"2\",a=\"1\"}", 2), 0);
	ck_assert_int_eq(metric_add(&s, "c_total{a=\"1\",b=\"2\"}", 3), 0);
	ck_assert_uint_eq(s.n, 1);
	m = metric_get(&s, "c_total{b=\"2\",a=\"1\"}");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->value, 5);
	ck_assert_int_eq(m->type, METRIC_COUNTER);
	/* the same series as another type */
	ck_assert_int_eq(metric_gauge(&s, "c_total{a=\"1\",b=\"2\"}", 1),
			 -EINVAL);
	ck_assert_int_eq(metric_observe(&s, "c_total{a=\"1\",b=\"2\"}", 1),
			 -EINVAL);
	ck_assert_int_eq(metric_gauge(&s, "g", 7), 0);
	ck_assert_int_eq(metric_gauge(&s, "g", -3), 0);
	ck_assert_int_eq(metric_get(&s, "g")->value, -3);
	ck_assert_int_eq(metric_add(&s, "Bad", 1), -EINVAL);
	ck_assert_int_eq(metric_observe(&s, "latency", 1), -EINVAL);
	ck_assert_int_eq(metric_observe(&s, "latency_seconds{op=\"x\"}", 1),
			 0);
	ck_assert_int_eq(metric_delete(&s, "g"), 0);
	ck_assert_int_eq(metric_delete(&s, "g"), -ENOENT);
	ck_assert_ptr_null(metric_get(&s, "g"));
	ck_assert_int_eq(metric_delete(&s, "g{"), -EINVAL);
	ck_assert_int_eq(metric_get(&s, "c_total{a=\"1\",b=\"2\"}")->value, 5);
	metric_set_clear(&s);
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(set_bounded_and_lookups_survive_deletes)
{
	struct metric_set s = { 0 };
	char name[64];
	int i;

	for (i = 0; i < METRIC_SERIES_MAX; i++) {
		snprintf(name, sizeof(name), "m{i=\"%d\"}", i);
		ck_assert_int_eq(metric_add(&s, name, i), 0);
	}
	ck_assert_int_eq(metric_add(&s, "one_more", 1), -ENOSPC);
	/* an existing series still counts */
	ck_assert_int_eq(metric_add(&s, "m{i=\"7\"}", 1), 0);
	for (i = 0; i < METRIC_SERIES_MAX; i += 2) {
		snprintf(name, sizeof(name), "m{i=\"%d\"}", i);
		ck_assert_int_eq(metric_delete(&s, name), 0);
	}
	ck_assert_uint_eq(s.n, METRIC_SERIES_MAX / 2);
	for (i = 0; i < METRIC_SERIES_MAX; i++) {
		const struct metric_series *m;

		snprintf(name, sizeof(name), "m{i=\"%d\"}", i);
		m = metric_get(&s, name);
		if (i % 2 == 0) {
			ck_assert_ptr_null(m);
			continue;
		}
		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(m->value, i + (i == 7));
	}
	ck_assert_int_eq(metric_add(&s, "one_more", 1), 0);
	metric_delete_family(&s, "m");
	ck_assert_uint_eq(s.n, 1);
	ck_assert_int_eq(metric_get(&s, "one_more")->value, 1);
	metric_set_clear(&s);
}
END_TEST

START_TEST(observe_buckets)
{
	struct metric_set s = { 0 };
	const struct metric_series *m;

	/* on a bound: that bucket; past the last: +Inf; negative: 0 */
	ck_assert_int_eq(metric_observe(&s, "d_seconds", 100000), 0);
	ck_assert_int_eq(metric_observe(&s, "d_seconds", 100001), 0);
	ck_assert_int_eq(metric_observe(&s, "d_seconds", -5), 0);
	ck_assert_int_eq(metric_observe(&s, "d_seconds", 31000000000LL), 0);
	m = metric_get(&s, "d_seconds");
	ck_assert_uint_eq(m->buckets[0], 2);
	ck_assert_uint_eq(m->buckets[1], 1);
	ck_assert_uint_eq(m->buckets[METRIC_BUCKETS], 1);
	ck_assert_uint_eq(m->count, 4);
	ck_assert_int_eq(m->sum_ns, 31000200001LL);
	metric_set_clear(&s);
}
END_TEST

/* ---- rendering ---------------------------------------------------------- */

static char *render(const struct metric_source *src, size_t n)
{
	struct metric_buf b = { 0 };

	ck_assert_int_eq(metrics_render(src, n, &b), 0);
	ck_assert_ptr_nonnull(b.p);
	return b.p;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

START_TEST(render_groups_families)
{
	struct metric_set a = { 0 }, b = { 0 }, core = { .core = true };
	struct metric_source src[] = {
		{ &a, "bgp-1" }, { &core, NULL }, { &b, "odd\"name\\" },
	};
	char *text;

	ck_assert_int_eq(metric_gauge(&a, "bgp_session_state{peer=\"p\\\"1\"}",
				      6), 0);
	ck_assert_int_eq(metric_add(&a, "x_total", 1), 0);
	ck_assert_int_eq(metric_gauge(&b, "bgp_session_state{peer=\"q\"}", 1),
			 0);
	ck_assert_int_eq(metric_add(&b, "x_total", 2), 0);
	ck_assert_int_eq(metric_gauge(&core, "routes_desired{plugin=\"s\"}", 4),
			 0);
	ck_assert_int_eq(metric_gauge(&core, "plain", 9), 0);
	ck_assert_int_eq(metric_gauge_double(&core, "big", 1.8446744073709552e19),
			 0);
	/* the same family with another type is left out */
	ck_assert_int_eq(metric_gauge(&b, "x_total{k=\"v\"}", 5), 0);
	text = render(src, 3);

	ck_assert_int_eq(count_of(text, "# TYPE strata_bgp_session_state gauge\n"),
			 1);
	ck_assert_int_eq(count_of(text, "# HELP strata_bgp_session_state "), 1);
	ck_assert_int_eq(count_of(text, "# TYPE strata_x_total counter\n"), 1);
	ck_assert_int_eq(count_of(text, "# TYPE "), 5);
	ck_assert_int_eq(count_of(text, "# HELP strata_x_total"), 0);
	ck_assert_ptr_nonnull(strstr(text,
		"strata_bgp_session_state{plugin=\"bgp-1\",peer=\"p\\\"1\"} 6\n"
		"strata_bgp_session_state{plugin=\"odd\\\"name\\\\\",peer=\"q\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nstrata_plain 9\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nstrata_big 1.8446744073709552e+19\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"\nstrata_routes_desired{plugin=\"s\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"strata_x_total{plugin=\"bgp-1\"} 1\n"
		"strata_x_total{plugin=\"odd\\\"name\\\\\"} 2\n"));
	ck_assert_ptr_null(strstr(text, "strata_x_total{plugin=\"odd\\\"name\\\\\",k="));
	/* families sorted: bgp_session_state < big < plain < routes < x */
	ck_assert_ptr_nonnull(strstr(text, "# TYPE strata_big"));
	ck_assert(strstr(text, "# TYPE strata_bgp_session_state") <
		  strstr(text, "# TYPE strata_big"));
	ck_assert(strstr(text, "# TYPE strata_plain") <
		  strstr(text, "# TYPE strata_x_total"));
	free(text);
	metric_set_clear(&a);
	metric_set_clear(&b);
	metric_set_clear(&core);
}
END_TEST

START_TEST(render_histogram_cumulative)
{
	struct metric_set a = { 0 };
	struct metric_source src = { &a, "cni" };
	char *text;

	metric_observe(&a, "cni_request_duration_seconds{command=\"ADD\"}",
		       200000);
	metric_observe(&a, "cni_request_duration_seconds{command=\"ADD\"}",
		       2000000);
	metric_observe(&a, "cni_request_duration_seconds{command=\"ADD\"}",
		       40000000000LL);
	text = render(&src, 1);
	ck_assert_int_eq(count_of(text,
		"# TYPE strata_cni_request_duration_seconds histogram\n"), 1);
	ck_assert_int_eq(count_of(text, "_bucket{"), METRIC_BUCKETS + 1);
#define B "strata_cni_request_duration_seconds_bucket{plugin=\"cni\",command=\"ADD\","
	ck_assert_ptr_nonnull(strstr(text, B "le=\"0.0001\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(text, B "le=\"0.00025\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, B "le=\"0.001\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, B "le=\"0.0025\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, B "le=\"30\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, B "le=\"+Inf\"} 3\n"));
#undef B
	ck_assert_ptr_nonnull(strstr(text,
		"strata_cni_request_duration_seconds_sum{plugin=\"cni\","
		"command=\"ADD\"} 40.002200000\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"strata_cni_request_duration_seconds_count{plugin=\"cni\","
		"command=\"ADD\"} 3\n"));
	free(text);
	metric_set_clear(&a);
}
END_TEST

START_TEST(render_empty)
{
	struct metric_set a = { 0 };
	struct metric_source src = { &a, "x" };
	char *text = render(&src, 1);

	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

/* ---- the request parser ------------------------------------------------- */

START_TEST(parse_complete_and_partial)
{
	static const char req[] = "GET /metrics?x=1 HTTP/1.1\r\n"
				  "Host: a\r\nAccept: */*\r\n\r\n";
	struct mhttp_request r;

	for (size_t n = 0; n < sizeof(req) - 1; n++)
		ck_assert_int_eq(mhttp_parse(req, n, &r), 0);
	ck_assert_int_eq(mhttp_parse(req, sizeof(req) - 1, &r), 1);
	ck_assert_int_eq(r.method, MHTTP_GET);
	ck_assert_str_eq(r.path, "/metrics");
	ck_assert_uint_eq(r.head_len, sizeof(req) - 1);
	ck_assert_int_eq(mhttp_status(&r), 200);

	ck_assert_int_eq(mhttp_parse("\r\nHEAD /metrics HTTP/1.0\n\n", 26, &r),
			 1);
	ck_assert_int_eq(r.method, MHTTP_HEAD);
	ck_assert_int_eq(mhttp_status(&r), 200);
	ck_assert_int_eq(mhttp_parse("POST /metrics HTTP/1.1\r\n\r\n", 26, &r),
			 1);
	ck_assert_int_eq(mhttp_status(&r), 405);
	ck_assert_int_eq(mhttp_parse("GET /other HTTP/1.1\r\n\r\n", 23, &r), 1);
	ck_assert_int_eq(mhttp_status(&r), 404);
	ck_assert_int_eq(mhttp_parse("GET /metricsx HTTP/1.1\r\n\r\n", 26, &r),
			 1);
	ck_assert_int_eq(mhttp_status(&r), 404);
}
END_TEST

START_TEST(parse_refuses)
{
	static const char *const bad[] = {
		"GET /metrics\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1 \r\n\r\n",
		"GET /metrics FTP/1.1\r\n\r\n",
		"GET /met\x01rics HTTP/1.1\r\n\r\n",
		"G(T /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
		"GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\n: empty\r\n\r\n",
	};
	struct mhttp_request r;
	char *big;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mhttp_parse(bad[i], strlen(bad[i]), &r) == -EINVAL,
			      "accepted '%s'", bad[i]);
	ck_assert_int_eq(mhttp_parse("GET /metrics HTTP/2.0\r\n\r\n", 25, &r),
			 -EPROTONOSUPPORT);
	big = malloc(MHTTP_HEAD_MAX);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', MHTTP_HEAD_MAX);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	ck_assert_int_eq(mhttp_parse(big, MHTTP_HEAD_MAX - 1, &r), 0);
	ck_assert_int_eq(mhttp_parse(big, MHTTP_HEAD_MAX, &r), -E2BIG);
	free(big);
}
END_TEST

/* ---- the server --------------------------------------------------------- */

static struct loop *loop;
static struct mhttp *srv;
static int renders;

static int render_cb(void *arg, struct metric_buf *out)
{
	struct metric_set *s = arg;
	struct metric_source src = { s, "t" };

	renders++;
	return metrics_render(&src, 1, out);
}

static int client(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(mhttp_port(srv)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_all(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Run the loop until the server closes fd; what it sent, or NULL if it
 * did not close within limit_ms. */
static char *response(int fd, int limit_ms)
{
	char *buf = calloc(1, 1 << 16);
	size_t len = 0;
	int64_t end = loop_now() + (int64_t)limit_ms * 1000000;

	ck_assert_ptr_nonnull(buf);
	while (loop_now() < end) {
		ssize_t n = recv(fd, buf + len, (1 << 16) - 1 - len, 0);

		if (n == 0)
			return buf;
		if (n > 0) {
			len += (size_t)n;
			ck_assert_uint_lt(len, (1 << 16) - 1);
			continue;
		}
		ck_assert_int_eq(loop_run_once(loop, 10), 0);
	}
	free(buf);
	return NULL;
}

static struct metric_set served;

static void srv_setup(void)
{
	ck_assert_int_eq(loop_new(&loop), 0);
	ck_assert_int_eq(metric_add(&served, "hits_total{path=\"/\"}", 3), 0);
	ck_assert_int_eq(mhttp_new(loop, "127.0.0.1", 0, render_cb, &served,
				   &srv), 0);
	ck_assert_uint_gt(mhttp_port(srv), 0);
	renders = 0;
}

static void srv_teardown(void)
{
	mhttp_free(srv);
	loop_free(loop);
	metric_set_clear(&served);
}

START_TEST(serve_get_head_and_errors)
{
	int fd = client();
	char *r;

	/* the request in two pieces, with the loop in between */
	send_all(fd, "GET /metrics HT");
	ck_assert_int_eq(loop_run_once(loop, 20), 0);
	send_all(fd, "TP/1.1\r\nHost: x\r\n\r\n");
	r = response(fd, 3000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(r,
		"\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(r,
		"\r\n\r\n# TYPE strata_hits_total counter\n"
		"strata_hits_total{plugin=\"t\",path=\"/\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(r, "Content-Length: 74\r\n"));
	ck_assert_uint_eq(strlen(strstr(r, "\r\n\r\n") + 4), 74);
	free(r);
	close(fd);

	fd = client();
	send_all(fd, "HEAD /metrics HTTP/1.0\r\n\r\n");
	r = response(fd, 3000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "Content-Length: 74\r\n"));
	ck_assert_ptr_null(strstr(r, "strata_hits_total"));
	free(r);
	close(fd);

	fd = client();
	send_all(fd, "DELETE /metrics HTTP/1.1\r\n\r\n");
	r = response(fd, 3000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 405 Method Not Allowed\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "Allow: GET, HEAD\r\n"));
	free(r);
	close(fd);

	fd = client();
	send_all(fd, "GET / HTTP/1.1\r\n\r\n");
	r = response(fd, 3000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 404 Not Found\r\n"));
	free(r);
	close(fd);

	fd = client();
	send_all(fd, "hello\r\n\r\n");
	r = response(fd, 3000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 400 Bad Request\r\n"));
	free(r);
	close(fd);
	/* only the GET and the HEAD rendered */
	ck_assert_int_eq(renders, 2);
}
END_TEST

START_TEST(serve_oversize_head)
{
	int fd = client();
	char *big = malloc(MHTTP_HEAD_MAX + 1), *r;

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', MHTTP_HEAD_MAX);
	big[MHTTP_HEAD_MAX] = '\0';
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	send_all(fd, big);
	r = response(fd, 3000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 431 "));
	free(r);
	free(big);
	close(fd);
	ck_assert_int_eq(renders, 0);
}
END_TEST

START_TEST(serve_idle_closed_and_bounded)
{
	int idle[MHTTP_CONNS_MAX], fd;
	char *r;

	for (int i = 0; i < MHTTP_CONNS_MAX; i++) {
		idle[i] = client();
		send_all(idle[i], "GET /metrics"); /* and nothing more */
	}
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(loop_run_once(loop, 10), 0);
	/* one too many waits in the backlog, unanswered */
	fd = client();
	send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n");
	r = response(fd, 150);
	ck_assert_ptr_null(r);
	/* the idle ones are closed at the timeout, then it is served */
	for (int i = 0; i < MHTTP_CONNS_MAX; i++) {
		r = response(idle[i], 5000);
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(r, "");
		free(r);
		close(idle[i]);
	}
	r = response(fd, 5000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 200 OK\r\n"));
	free(r);
	close(fd);
}
END_TEST

START_TEST(serve_bad_address)
{
	struct mhttp *h;

	ck_assert_int_eq(mhttp_new(loop, "not-an-address", 0, render_cb,
				   &served, &h), -EINVAL);
	ck_assert_int_eq(mhttp_new(loop, "127.0.0.1", mhttp_port(srv),
				   render_cb, &served, &h), -EADDRINUSE);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("series");
	TCase *ts = tcase_create("server");

	tcase_add_test(tc, canon_accepts_and_sorts);
	tcase_add_test(tc, canon_refuses);
	tcase_add_test(tc, set_types_and_labels);
	tcase_add_test(tc, set_bounded_and_lookups_survive_deletes);
	tcase_add_test(tc, observe_buckets);
	tcase_add_test(tc, render_groups_families);
	tcase_add_test(tc, render_histogram_cumulative);
	tcase_add_test(tc, render_empty);
	tcase_add_test(tc, parse_complete_and_partial);
	tcase_add_test(tc, parse_refuses);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(ts, srv_setup, srv_teardown);
	tcase_add_test(ts, serve_get_head_and_errors);
	tcase_add_test(ts, serve_oversize_head);
	tcase_add_test(ts, serve_idle_closed_and_bounded);
	tcase_add_test(ts, serve_bad_address);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
