/* SPDX-License-Identifier: Apache-2.0 */
/* The EC2 client's pure parts: what is retried, what stops, the backoff. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "ec2.h"

#define MS 1000000LL
#define S 1000000000LL

START_TEST(classify_answers)
{
	static const struct {
		int terr, status;
		const char *code;
		enum ec2_class want;
	} c[] = {
		{ 0, 200, NULL, EC2_CLASS_OK },
		{ -ETIMEDOUT, 0, NULL, EC2_CLASS_RETRY },
		{ -ECONNREFUSED, 0, NULL, EC2_CLASS_RETRY },
		{ -EIO, 0, NULL, EC2_CLASS_RETRY },
		{ 0, 503, "RequestLimitExceeded", EC2_CLASS_THROTTLE },
		{ 0, 400, "EC2ThrottledException", EC2_CLASS_THROTTLE },
		{ 0, 400, "Throttling", EC2_CLASS_THROTTLE },
		{ 0, 429, NULL, EC2_CLASS_THROTTLE },
		{ 0, 500, "InternalError", EC2_CLASS_RETRY },
		{ 0, 503, "Unavailable", EC2_CLASS_RETRY },
		{ 0, 502, NULL, EC2_CLASS_RETRY },
		{ 0, 504, NULL, EC2_CLASS_RETRY },
		{ 0, 400, "RequestTimeout", EC2_CLASS_RETRY },
		{ 0, 403, "UnauthorizedOperation", EC2_CLASS_DENIED },
		{ 0, 401, "AuthFailure", EC2_CLASS_DENIED },
		{ 0, 403, "AccessDenied", EC2_CLASS_DENIED },
		{ 0, 403, NULL, EC2_CLASS_DENIED },
		{ 0, 400, "RequestExpired", EC2_CLASS_DENIED },
		{ 0, 400, "RouteAlreadyExists", EC2_CLASS_FAIL },
		{ 0, 400, "InvalidRoute.NotFound", EC2_CLASS_FAIL },
		{ 0, 400, "RouteLimitExceeded", EC2_CLASS_FAIL },
		{ 0, 400, "InvalidParameterValue", EC2_CLASS_FAIL },
		{ 0, 404, NULL, EC2_CLASS_FAIL },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(ec2_classify(c[i].terr, c[i].status, c[i].code) ==
				      c[i].want,
			      "case %zu (%d, %d, %s)", i, c[i].terr,
			      c[i].status, c[i].code ? c[i].code : "-");
}
END_TEST

START_TEST(backoff_grows_capped_jittered)
{
	/* the cap doubles per attempt from the base up to the maximum */
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 1, 0.5), 250 * MS);
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 2, 0.5), 500 * MS);
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 3, 0.5), 1 * S);
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 6, 0.5), 8 * S);
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 7, 0.5), 10 * S);
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 60, 0.5), 10 * S);
	/* full jitter: anywhere from 0 to the cap, never beyond */
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 4, 0), 0);
	ck_assert_int_lt(ec2_backoff(500 * MS, 20 * S, 4, 0.9999999), 4 * S);
	ck_assert_int_lt(ec2_backoff(500 * MS, 20 * S, 4, 7.0), 4 * S);
	ck_assert_int_eq(ec2_backoff(500 * MS, 20 * S, 4, -1.0), 0);
	/* a maximum under the base holds */
	ck_assert_int_le(ec2_backoff(2 * S, 1 * S, 1, 0.999), 1 * S);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ec2");
	TCase *tc = tcase_create("pure");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, classify_answers);
	tcase_add_test(tc, backoff_grows_capped_jittered);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
