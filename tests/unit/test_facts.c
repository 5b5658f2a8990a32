/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facts.h"

static struct facts *f;

static void setup(void)
{
	f = NULL;
	ck_assert_int_eq(facts_new(&f), 0);
	ck_assert_ptr_nonnull(f);
}

static void teardown(void)
{
	facts_free(f);
	f = NULL;
}

START_TEST(test_set_get)
{
	ck_assert_ptr_null(facts_get(f, "zone"));
	ck_assert_int_eq(facts_set(f, "zone", "us-east-1a", "config"), 0);
	ck_assert_int_eq(facts_set(f, "instance-id", "i-0abc", "aws"), 0);
	ck_assert_str_eq(facts_get(f, "zone"), "us-east-1a");
	ck_assert_str_eq(facts_get(f, "instance-id"), "i-0abc");
	ck_assert_ptr_null(facts_get(f, "subnet"));
	ck_assert_ptr_null(facts_get(f, NULL));
	ck_assert_ptr_null(facts_get(NULL, "zone"));
}
END_TEST

START_TEST(test_names)
{
	char name[80];

	ck_assert_int_eq(facts_set(f, "", "v", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "Zone", "v", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "instance_id", "v", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a b", "v", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a.b", "v", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, NULL, "v", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a", NULL, "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a", "v", NULL), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a", "v", ""), -EINVAL);
	ck_assert_int_eq(facts_set(NULL, "a", "v", "config"), -EINVAL);

	memset(name, 'a', 65);
	name[65] = '\0';
	ck_assert_int_eq(facts_set(f, name, "v", "config"), -EINVAL);
	name[64] = '\0';
	ck_assert_int_eq(facts_set(f, name, "v", "config"), 0);
	ck_assert_str_eq(facts_get(f, name), "v");
	ck_assert_int_eq(facts_set(f, "0-9-z", "v", "config"), 0);
	ck_assert_int_eq(facts_set(f, "-", "v", "config"), 0);
}
END_TEST

START_TEST(test_values)
{
	char v[1100];

	ck_assert_int_eq(facts_set(f, "a", "", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a", "x\ny", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a", "x\ty", "config"), -EINVAL);
	ck_assert_int_eq(facts_set(f, "a", "x\x7fy", "config"), -EINVAL);
	ck_assert_ptr_null(facts_get(f, "a"));
	ck_assert_int_eq(facts_set(f, "a", "with space, \"quotes\"", "config"),
			 0);
	ck_assert_int_eq(facts_set(f, "b", "z\xc3\xa9ro", "config"), 0);

	memset(v, 'v', 1025);
	v[1025] = '\0';
	ck_assert_int_eq(facts_set(f, "c", v, "config"), -EINVAL);
	v[1024] = '\0';
	ck_assert_int_eq(facts_set(f, "c", v, "config"), 0);
	ck_assert_uint_eq(strlen(facts_get(f, "c")), 1024);
}
END_TEST

START_TEST(test_config_wins)
{
	ck_assert_int_eq(facts_set(f, "zone", "us-east-1a", "config"), 0);
	ck_assert_int_eq(facts_set(f, "zone", "us-east-1b", "aws"), -EEXIST);
	ck_assert_str_eq(facts_get(f, "zone"), "us-east-1a");
	/* Agreeing is fine. */
	ck_assert_int_eq(facts_set(f, "zone", "us-east-1a", "aws"), 0);
	/* The config may change its own fact (a reload). */
	ck_assert_int_eq(facts_set(f, "zone", "us-east-1c", "config"), 0);
	ck_assert_str_eq(facts_get(f, "zone"), "us-east-1c");
}
END_TEST

struct source_q {
	const char *name;
	const char *source;
};

static void record_source(void *arg, const char *name, const char *value,
			  const char *source)
{
	struct source_q *q = arg;

	if (!strcmp(name, q->name))
		q->source = source;
}

static const char *source_of(const char *name)
{
	struct source_q q = { name, NULL };

	facts_each(f, record_source, &q);
	return q.source;
}

START_TEST(test_plugin_facts)
{
	ck_assert_int_eq(facts_set(f, "subnet", "subnet-1", "aws"), 0);
	/* A plugin updates its own fact. */
	ck_assert_int_eq(facts_set(f, "subnet", "subnet-2", "aws"), 0);
	ck_assert_str_eq(facts_get(f, "subnet"), "subnet-2");
	/* Another plugin does not change it. */
	ck_assert_int_eq(facts_set(f, "subnet", "subnet-3", "k8s"), -EEXIST);
	ck_assert_str_eq(facts_get(f, "subnet"), "subnet-2");
	ck_assert_int_eq(facts_set(f, "subnet", "subnet-2", "k8s"), 0);
	ck_assert_str_eq(source_of("subnet"), "aws");
	/* The config takes it over, and then keeps it. */
	ck_assert_int_eq(facts_set(f, "subnet", "subnet-9", "config"), 0);
	ck_assert_str_eq(facts_get(f, "subnet"), "subnet-9");
	ck_assert_str_eq(source_of("subnet"), "config");
	ck_assert_int_eq(facts_set(f, "subnet", "subnet-2", "aws"), -EEXIST);
	ck_assert_str_eq(facts_get(f, "subnet"), "subnet-9");
}
END_TEST

struct seen {
	char text[256];
	int n;
};

static void collect(void *arg, const char *name, const char *value,
		    const char *source)
{
	struct seen *s = arg;
	size_t o = strlen(s->text);

	snprintf(s->text + o, sizeof(s->text) - o, "%s=%s(%s);", name, value,
		 source);
	s->n++;
}

START_TEST(test_each)
{
	struct seen s = { "", 0 };

	facts_each(f, collect, &s);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(facts_set(f, "zone", "z1", "config"), 0);
	ck_assert_int_eq(facts_set(f, "address", "10.0.0.1", "aws"), 0);
	ck_assert_int_eq(facts_set(f, "subnet", "s1", "aws"), 0);
	ck_assert_int_eq(facts_set(f, "address", "10.0.0.2", "aws"), 0);
	facts_each(f, collect, &s);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.text,
			 "zone=z1(config);address=10.0.0.2(aws);subnet=s1(aws);");
	facts_each(f, NULL, &s);
	facts_each(NULL, collect, &s);
	ck_assert_int_eq(s.n, 3);
}
END_TEST

START_TEST(test_have)
{
	static const char *const need[] = { "zone", "subnet", "address",
					    NULL };
	static const char *const none[] = { NULL };
	const char *missing = "x";

	ck_assert(!facts_have(f, need, &missing));
	ck_assert_str_eq(missing, "zone");
	ck_assert_int_eq(facts_set(f, "zone", "z1", "config"), 0);
	ck_assert_int_eq(facts_set(f, "address", "a1", "aws"), 0);
	ck_assert(!facts_have(f, need, &missing));
	ck_assert_str_eq(missing, "subnet");
	ck_assert(!facts_have(f, need, NULL));
	ck_assert_int_eq(facts_set(f, "subnet", "s1", "aws"), 0);
	ck_assert(facts_have(f, need, &missing));
	ck_assert_ptr_null(missing);
	ck_assert(facts_have(f, none, &missing));
	ck_assert(facts_have(f, NULL, NULL));
}
END_TEST

START_TEST(test_many)
{
	char name[16];
	int i;

	for (i = 0; i < 1024; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(facts_set(f, name, "v", "p"), 0);
	}
	ck_assert_int_eq(facts_set(f, "one-more", "v", "p"), -ENOSPC);
	ck_assert_int_eq(facts_set(f, "f1023", "w", "p"), 0);
	ck_assert_str_eq(facts_get(f, "f1023"), "w");
	ck_assert_str_eq(facts_get(f, "f0"), "v");
	facts_free(NULL);
}
END_TEST

static Suite *facts_suite(void)
{
	Suite *s = suite_create("facts");
	TCase *tc = tcase_create("facts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_set_get);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_config_wins);
	tcase_add_test(tc, test_plugin_facts);
	tcase_add_test(tc, test_each);
	tcase_add_test(tc, test_have);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(facts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
