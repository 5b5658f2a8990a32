/* SPDX-License-Identifier: Apache-2.0 */
/* The front end's request parser: the pod's namespace and name from
 * strata-cni (CNI_ARGS' K8S_POD_NAMESPACE, K8S_POD_NAME), checked as
 * Kubernetes names. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

static int parse(const char *pod, struct cni_request **out, char *err,
		 size_t errlen)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"command\":\"ADD\",\"network\":\"n\",\"container_id\":"
		 "\"c1\",\"ifname\":\"eth0\"%s%s}", pod ? ",\"pod\":" : "",
		 pod ? pod : "");
	return cni_request_parse(buf, strlen(buf), out, err, errlen);
}

START_TEST(pod_names_kept)
{
	struct cni_request *r;
	char err[256];

	ck_assert_int_eq(parse("{\"namespace\":\"prod\",\"name\":\"web-0.a\"}",
			       &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r->pod_namespace, "prod");
	ck_assert_str_eq(r->pod_name, "web-0.a");
	cni_request_free(r);
	ck_assert_int_eq(parse(NULL, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r->pod_namespace, "");
	ck_assert_str_eq(r->pod_name, "");
	cni_request_free(r);
	ck_assert_int_eq(parse("{\"name\":\"web\"}", &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r->pod_namespace, "");
	ck_assert_str_eq(r->pod_name, "web");
	cni_request_free(r);
}
END_TEST

START_TEST(bad_pods_refused)
{
	static const char *const bad[] = {
		"[]", "\"prod/web\"", "{\"namespace\":1}",
		"{\"namespace\":\"Prod\"}", "{\"namespace\":\"a.b\"}",
		"{\"namespace\":\"-a\"}", "{\"namespace\":\"\"}",
		"{\"name\":\"web-\"}", "{\"name\":\"w b\"}",
		"{\"name\":\"web;x\"}", "{\"name\":null}",
	};
	struct cni_request *r;
	char err[256], big[400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct cni_request *)&r;
		ck_assert_msg(parse(bad[i], &r, err, sizeof(err)) == 7,
			      "accepted %s", bad[i]);
		ck_assert_ptr_null(r);
		ck_assert_ptr_nonnull(strstr(err, "pod"));
	}
	/* 64 characters: one past a namespace's limit */
	snprintf(big, sizeof(big), "{\"namespace\":\"%064d\"}", 0);
	ck_assert_int_eq(parse(big, &r, err, sizeof(err)), 7);
	snprintf(big, sizeof(big), "{\"namespace\":\"%063d\"}", 0);
	ck_assert_int_eq(parse(big, &r, err, sizeof(err)), 0);
	cni_request_free(r);
	snprintf(big, sizeof(big), "{\"name\":\"%0254d\"}", 0);
	ck_assert_int_eq(parse(big, &r, err, sizeof(err)), 7);
	snprintf(big, sizeof(big), "{\"name\":\"%0253d\"}", 0);
	ck_assert_int_eq(parse(big, &r, err, sizeof(err)), 0);
	cni_request_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cni_request");
	TCase *tc = tcase_create("pod");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, pod_names_kept);
	tcase_add_test(tc, bad_pods_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
