/* SPDX-License-Identifier: Apache-2.0 */
/* The Kubernetes client's pure parts: watch lines and events, kubeconfig,
 * base64, backoff and the token bucket. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_parse.h"

/* ---- lines ---------------------------------------------------------------- */

struct got {
	char lines[8][64];
	int n;
};

static int collect(void *arg, char *line, size_t len)
{
	struct got *g = arg;

	ck_assert_uint_eq(strlen(line), len);
	ck_assert_int_lt(g->n, 8);
	snprintf(g->lines[g->n++], sizeof(g->lines[0]), "%s", line);
	return 0;
}

START_TEST(test_lines_split)
{
	struct kube_lines l;
	struct got g = { .n = 0 };
	const char *in = "{\"a\":1}\n\n{\"b\"";

	kube_lines_init(&l, 0);
	ck_assert_int_eq(kube_lines_feed(&l, in, strlen(in), collect, &g), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.lines[0], "{\"a\":1}");
	/* the rest of a line split across chunks, byte by byte */
	ck_assert_int_eq(kube_lines_feed(&l, ":2", 2, collect, &g), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(kube_lines_feed(&l, "}", 1, collect, &g), 0);
	ck_assert_int_eq(kube_lines_feed(&l, "\nx\ny", 4, collect, &g), 0);
	ck_assert_int_eq(g.n, 3);
	ck_assert_str_eq(g.lines[1], "{\"b\":2}");
	ck_assert_str_eq(g.lines[2], "x");
	kube_lines_free(&l);
}
END_TEST

static int stop_at_first(void *arg, char *line, size_t len)
{
	(void)line;
	(void)len;
	(*(int *)arg)++;
	return -ECANCELED;
}

START_TEST(test_lines_bounded)
{
	struct kube_lines l;
	struct got g = { .n = 0 };
	char big[100];
	int calls = 0;

	memset(big, 'x', sizeof(big));
	kube_lines_init(&l, 64);
	ck_assert_int_eq(kube_lines_feed(&l, big, 60, collect, &g), 0);
	ck_assert_int_eq(kube_lines_feed(&l, big, 10, collect, &g), -EMSGSIZE);
	/* reset after the error: the next line is whole again */
	ck_assert_int_eq(kube_lines_feed(&l, "ok\n", 3, collect, &g), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.lines[0], "ok");
	/* a line of exactly the limit passes, one more byte does not */
	big[64] = '\n';
	ck_assert_int_eq(kube_lines_feed(&l, big, 65, collect, &g), 0);
	big[64] = 'x';
	big[65] = '\n';
	ck_assert_int_eq(kube_lines_feed(&l, big, 66, collect, &g), -EMSGSIZE);
	/* the callback stops the feed */
	ck_assert_int_eq(kube_lines_feed(&l, "a\nb\n", 4, stop_at_first, &calls),
			 -ECANCELED);
	ck_assert_int_eq(calls, 1);
	kube_lines_free(&l);
}
END_TEST

/* ---- events --------------------------------------------------------------- */

static int parse(const char *s, struct kube_watch_event *ev, char *err)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", s);
	return kube_watch_parse(buf, strlen(buf), ev, err, 160);
}

START_TEST(test_event_added)
{
	struct kube_watch_event ev;
	char err[160];

	ck_assert_int_eq(parse("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\","
			       "\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"42\","
			       "\"labels\":{\"topology.kubernetes.io/zone\":\"z1\"}}}}",
			       &ev, err), 0);
	ck_assert_int_eq(ev.type, KUBE_WATCH_ADDED);
	ck_assert_str_eq(ev.key, "n1");
	ck_assert_str_eq(ev.rv, "42");
	ck_assert_str_eq(kube_object_label(ev.object, "topology.kubernetes.io/zone"),
			 "z1");
	ck_assert_ptr_null(kube_object_label(ev.object, "strata.io/subnet"));
	yajl_tree_free(ev.object);

	ck_assert_int_eq(parse("{\"type\":\"DELETED\",\"object\":{\"metadata\":"
			       "{\"name\":\"p\",\"namespace\":\"ns\",\"resourceVersion\":\"7\"}}}",
			       &ev, err), 0);
	ck_assert_int_eq(ev.type, KUBE_WATCH_DELETED);
	ck_assert_str_eq(ev.key, "ns/p");
	yajl_tree_free(ev.object);
}
END_TEST

START_TEST(test_event_bookmark_error)
{
	struct kube_watch_event ev;
	char err[160];

	ck_assert_int_eq(parse("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\","
			       "\"metadata\":{\"resourceVersion\":\"99\"}}}",
			       &ev, err), 0);
	ck_assert_int_eq(ev.type, KUBE_WATCH_BOOKMARK);
	ck_assert_str_eq(ev.rv, "99");
	yajl_tree_free(ev.object);

	ck_assert_int_eq(parse("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
			       "\"status\":\"Failure\",\"reason\":\"Expired\",\"code\":410}}",
			       &ev, err), 0);
	ck_assert_int_eq(ev.type, KUBE_WATCH_ERROR);
	ck_assert_int_eq(ev.code, 410);
	ck_assert_str_eq(ev.reason, "Expired");
	yajl_tree_free(ev.object);

	/* a bare Status instead of a stream */
	ck_assert_int_eq(parse("{\"kind\":\"Status\",\"reason\":\"Gone\",\"code\":410}",
			       &ev, err), 0);
	ck_assert_int_eq(ev.type, KUBE_WATCH_ERROR);
	ck_assert_int_eq(ev.code, 410);
	ck_assert_ptr_null(ev.object);
}
END_TEST

START_TEST(test_event_malformed)
{
	struct kube_watch_event ev;
	char err[160];

	ck_assert_int_eq(parse("not json", &ev, err), -EINVAL);
	ck_assert_int_eq(parse("[1]", &ev, err), -EINVAL);
	ck_assert_int_eq(parse("{\"type\":\"ADDED\"}", &ev, err), -EINVAL);
	ck_assert_int_eq(parse("{\"type\":\"EXPLODED\",\"object\":{}}", &ev, err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "EXPLODED"));
	ck_assert_int_eq(parse("{\"type\":\"ADDED\",\"object\":{\"metadata\":"
			       "{\"name\":\"n9\"}}}", &ev, err), -EINVAL);
	/* the error names the object */
	ck_assert_ptr_nonnull(strstr(err, "n9"));
	ck_assert_int_eq(parse("{\"type\":\"BOOKMARK\",\"object\":{}}", &ev, err),
			 -EINVAL);
	ck_assert_int_eq(parse("{\"type\":\"ADDED\",\"object\":\"x\"}", &ev, err),
			 -EINVAL);
}
END_TEST

/* ---- kubeconfig ----------------------------------------------------------- */

static const char kubeconfig[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: prod\n"
	"clusters:\n"
	"- name: other\n"
	"  cluster: {server: https://wrong:1}\n"
	"- name: c1\n"
	"  cluster:\n"
	"    server: https://10.0.0.1:6443/\n"
	"    certificate-authority-data: LS0tLS1CRUdJTg==\n"
	"contexts:\n"
	"- name: dev\n"
	"  context: {cluster: other, user: u0}\n"
	"- name: prod\n"
	"  context: {cluster: c1, user: u1}\n"
	"users:\n"
	"- name: u1\n"
	"  user:\n"
	"    token: abc.def\n"
	"    client-certificate: certs/me.crt\n"
	"    client-key: /abs/me.key\n";

START_TEST(test_kubeconfig)
{
	struct kube_config c;
	char err[256] = "";

	ck_assert_int_eq(kube_config_parse(kubeconfig, strlen(kubeconfig),
					   "/etc/k", &c, err, sizeof(err)),
			 0);
	ck_assert_str_eq(c.server, "https://10.0.0.1:6443");
	ck_assert_uint_eq(c.ca_data_len, 10);
	ck_assert_str_eq(c.ca_data, "-----BEGIN");
	ck_assert_ptr_null(c.ca_file);
	ck_assert_str_eq(c.token, "abc.def");
	ck_assert_str_eq(c.cert_file, "/etc/k/certs/me.crt");
	ck_assert_str_eq(c.key_file, "/abs/me.key");
	ck_assert(!c.insecure);
	kube_config_clear(&c);
}
END_TEST

START_TEST(test_kubeconfig_json)
{
	const char *j = "{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\","
			"\"context\":{\"cluster\":\"k\",\"user\":\"u\"}}],"
			"\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":"
			"\"http://127.0.0.1:8080\",\"insecure-skip-tls-verify\":true}}],"
			"\"users\":[{\"name\":\"u\",\"user\":{\"tokenFile\":\"t\"}}]}";
	struct kube_config c;
	char err[256] = "";

	ck_assert_int_eq(kube_config_parse(j, strlen(j), "/d", &c, err,
					   sizeof(err)), 0);
	ck_assert_str_eq(c.server, "http://127.0.0.1:8080");
	ck_assert(c.insecure);
	ck_assert_str_eq(c.token_file, "/d/t");
	kube_config_clear(&c);
}
END_TEST

static int bad(const char *text, const char *want)
{
	struct kube_config c;
	char err[256] = "";
	int rc = kube_config_parse(text, strlen(text), NULL, &c, err,
				   sizeof(err));

	ck_assert_msg(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
	ck_assert_ptr_null(c.server);
	return rc;
}

START_TEST(test_kubeconfig_bad)
{
	ck_assert_int_eq(bad("a: [", "YAML"), -EINVAL);
	ck_assert_int_eq(bad("- 1", "mapping"), -EINVAL);
	ck_assert_int_eq(bad("kind: Config", "current-context"), -EINVAL);
	ck_assert_int_eq(bad("current-context: x\ncontexts: []", "not found"),
			 -EINVAL);
	ck_assert_int_eq(bad("current-context: x\ncontexts:\n- name: x\n"
			     "  context: {cluster: k}\nclusters:\n- name: k\n"
			     "  cluster: {server: ftp://x}\n", "server"),
			 -EINVAL);
	ck_assert_int_eq(bad("current-context: x\ncontexts:\n- name: x\n"
			     "  context: {cluster: k, user: u}\nclusters:\n"
			     "- name: k\n  cluster: {server: https://x}\n"
			     "users:\n- name: u\n  user: {exec: {command: aws}}\n",
			     "exec"), -ENOTSUP);
	ck_assert_int_eq(bad("current-context: x\ncontexts:\n- name: x\n"
			     "  context: {cluster: k, user: u}\nclusters:\n"
			     "- name: k\n  cluster: {server: https://x, "
			     "certificate-authority-data: '!!'}\n", "base64"),
			 -EINVAL);
	/* an alias cycle or deep nesting stays bounded */
	ck_assert_int_eq(bad("current-context: &a x\ncontexts: *a\n",
			     "not found"), -EINVAL);
}
END_TEST

START_TEST(test_base64)
{
	char *out;
	size_t n;

	ck_assert_int_eq(kube_base64_decode("aGVsbG8=", 8, &out, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(out, "hello");
	free(out);
	ck_assert_int_eq(kube_base64_decode("aGVs\nbG8", 8, &out, &n), 0);
	ck_assert_str_eq(out, "hello");
	free(out);
	ck_assert_int_eq(kube_base64_decode("aG=Vs", 5, &out, &n), -EINVAL);
	ck_assert_int_eq(kube_base64_decode("a", 1, &out, &n), -EINVAL);
	ck_assert_int_eq(kube_base64_decode("a$==", 4, &out, &n), -EINVAL);
}
END_TEST

/* ---- pacing --------------------------------------------------------------- */

START_TEST(test_backoff)
{
	const int64_t s = 1000000000LL;

	ck_assert_int_eq(kube_backoff(0, 0), s);
	ck_assert_int_eq(kube_backoff(1, 0), 2 * s);
	ck_assert_int_eq(kube_backoff(5, 0), 32 * s);
	ck_assert_int_eq(kube_backoff(6, 0), 60 * s);
	ck_assert_int_eq(kube_backoff(1000, 0), 60 * s);
	/* jitter adds at most a fifth, never past the cap */
	ck_assert_int_eq(kube_backoff(0, 1000), s + s / 5);
	ck_assert_int_eq(kube_backoff(0, 500), s + s / 10);
	ck_assert_int_eq(kube_backoff(5, 1000), 32 * s + 32 * s / 5);
	ck_assert_int_eq(kube_backoff(6, 1000), 60 * s);
	for (uint32_t r = 0; r < 5000; r += 7) {
		int64_t d = kube_backoff(3, r);

		ck_assert_int_ge(d, 8 * s);
		ck_assert_int_le(d, 8 * s + 8 * s / 5);
	}
}
END_TEST

START_TEST(test_bucket)
{
	const int64_t s = 1000000000LL;
	struct kube_bucket b;
	int64_t t = 100 * s;

	kube_bucket_init(&b, 2, 3, t);
	/* a burst of 3 at once, then one every 500 ms */
	ck_assert_int_eq(kube_bucket_take(&b, t), 0);
	ck_assert_int_eq(kube_bucket_take(&b, t), 0);
	ck_assert_int_eq(kube_bucket_take(&b, t), 0);
	ck_assert_int_eq(kube_bucket_take(&b, t), s / 2);
	ck_assert_int_eq(kube_bucket_take(&b, t), s);
	/* reservations were paid back by t + 1 s */
	ck_assert_int_eq(kube_bucket_take(&b, t + s), s / 2);
	/* a long pause refills to the burst, not beyond */
	t += 100 * s;
	ck_assert_int_eq(kube_bucket_take(&b, t), 0);
	ck_assert_int_eq(kube_bucket_take(&b, t), 0);
	ck_assert_int_eq(kube_bucket_take(&b, t), 0);
	ck_assert_int_eq(kube_bucket_take(&b, t), s / 2);
}
END_TEST

static Suite *kube_suite(void)
{
	Suite *s = suite_create("kube");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_lines_split);
	tcase_add_test(tc, test_lines_bounded);
	tcase_add_test(tc, test_event_added);
	tcase_add_test(tc, test_event_bookmark_error);
	tcase_add_test(tc, test_event_malformed);
	tcase_add_test(tc, test_kubeconfig);
	tcase_add_test(tc, test_kubeconfig_json);
	tcase_add_test(tc, test_kubeconfig_bad);
	tcase_add_test(tc, test_base64);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_bucket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(kube_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
