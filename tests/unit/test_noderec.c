/* SPDX-License-Identifier: Apache-2.0 */
/* The aws-vpc node record: round trips, canonical bytes, every refusal. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "noderec.h"

static uint64_t seed;

static const char canonical[] =
	"{\"instance\":\"i-0abc1234def567890\","
	"\"interface\":\"eni-0abc1234def567890\","
	"\"subnet\":\"subnet-0abc1234def567890\",\"zone\":\"us-east-1a\","
	"\"addrs\":[\"10.0.1.12\",\"2001:db8::12\"]}";

static const char *addr_text(const struct strata_addr *a, char *buf,
			     size_t len)
{
	inet_ntop(a->family == STRATA_AF_INET ? AF_INET : AF_INET6, a->addr,
		  buf, (socklen_t)len);
	return buf;
}

static void decode_ok(const char *text, size_t len, struct noderec *r)
{
	char err[256] = "";
	int rc;

	rc = noderec_decode(text, len, r, err, sizeof(err));
	ck_assert_msg(rc == 0, "decode %s: %d %s", text, rc, err);
	ck_assert_str_eq(err, "");
}

static void encode_is(const struct noderec *r, const char *expected)
{
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(noderec_encode(r, &out, &len), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, strlen(out));
	ck_assert_str_eq(out, expected);
	free(out);
}

/* -- round trips ---------------------------------------------------------- */

START_TEST(round_trip)
{
	struct noderec r;
	char buf[INET6_ADDRSTRLEN];

	decode_ok(canonical, strlen(canonical), &r);
	ck_assert_str_eq(r.instance, "i-0abc1234def567890");
	ck_assert_str_eq(r.interface, "eni-0abc1234def567890");
	ck_assert_str_eq(r.subnet, "subnet-0abc1234def567890");
	ck_assert_str_eq(r.zone, "us-east-1a");
	ck_assert_uint_eq(r.n_addrs, 2);
	ck_assert_uint_eq(r.addrs[0].family, STRATA_AF_INET);
	ck_assert_str_eq(addr_text(&r.addrs[0], buf, sizeof(buf)),
			 "10.0.1.12");
	ck_assert_uint_eq(r.addrs[1].family, STRATA_AF_INET6);
	ck_assert_str_eq(addr_text(&r.addrs[1], buf, sizeof(buf)),
			 "2001:db8::12");
	encode_is(&r, canonical);
}
END_TEST

START_TEST(canonical_bytes)
{
	static const char messy[] =
		" {\n\t\"addrs\" : [ \"2001:DB8:0:0::12\" , \"10.0.1.12\" ],"
		"\"zone\":\"us-west-2-lax-1a\",  \"subnet\":\"subnet-1\","
		"\"interface\":\"eni-\\u0061b\" } \n";
	struct noderec r;

	decode_ok(messy, strlen(messy), &r);
	/* keys in their order, the addresses in theirs, as inet_ntop */
	encode_is(&r, "{\"interface\":\"eni-ab\",\"subnet\":\"subnet-1\","
		      "\"zone\":\"us-west-2-lax-1a\","
		      "\"addrs\":[\"2001:db8::12\",\"10.0.1.12\"]}");
	/* unknown instance and zone: left out */
	memset(&r, 0, sizeof(r));
	strcpy(r.interface, "eni-0a");
	strcpy(r.subnet, "subnet-0b");
	r.n_addrs = 1;
	r.addrs[0].family = STRATA_AF_INET6;
	r.addrs[0].addr[10] = r.addrs[0].addr[11] = 0xff;
	r.addrs[0].addr[12] = 10;
	r.addrs[0].addr[15] = 1;
	encode_is(&r, "{\"interface\":\"eni-0a\",\"subnet\":\"subnet-0b\","
		      "\"addrs\":[\"::ffff:10.0.0.1\"]}");
}
END_TEST

static uint64_t next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void random_id(uint64_t *s, char *buf, const char *prefix)
{
	size_t n = strlen(prefix), len = 1 + next(s) % (EC2_ID_MAX - 1 - n);
	size_t i;

	strcpy(buf, prefix);
	for (i = 0; i < len; i++)
		buf[n + i] = "0123456789abcdef"[next(s) % 16];
	buf[n + len] = '\0';
}

START_TEST(random_round_trips)
{
	uint64_t s = seed;
	int iter;

	for (iter = 0; iter < 500; iter++) {
		struct noderec r, back;
		char *a, *b;
		size_t alen, blen;
		uint32_t i;

		memset(&r, 0, sizeof(r));
		if (next(&s) % 2)
			random_id(&s, r.instance, "i-");
		random_id(&s, r.interface, "eni-");
		random_id(&s, r.subnet, "subnet-");
		if (next(&s) % 2)
			snprintf(r.zone, sizeof(r.zone), "zz-%u%c",
				 (unsigned)(next(&s) % 100),
				 (char)('a' + next(&s) % 6));
		r.n_addrs = 1 + (uint32_t)(next(&s) % NODEREC_MAX_ADDRS);
		for (i = 0; i < r.n_addrs; i++) {
			uint64_t v = next(&s);

			r.addrs[i].family = v % 2 ? STRATA_AF_INET6 :
						    STRATA_AF_INET;
			/* sparse addresses: runs of zeros, "::" forms */
			if (r.addrs[i].family == STRATA_AF_INET6 &&
			    v % 3 == 0)
				r.addrs[i].addr[next(&s) % 16] = (uint8_t)v;
			else
				memcpy(r.addrs[i].addr, &v, sizeof(v));
			/* unique by the last byte */
			if (r.addrs[i].family == STRATA_AF_INET) {
				memset(r.addrs[i].addr + 4, 0, 12);
				r.addrs[i].addr[3] = (uint8_t)i;
			} else {
				r.addrs[i].addr[15] = (uint8_t)i;
			}
		}
		ck_assert_msg(noderec_encode(&r, &a, &alen) == 0,
			      "seed %" PRIu64 " iteration %d", seed, iter);
		decode_ok(a, alen, &back);
		ck_assert_int_eq(memcmp(&r, &back, sizeof(r)), 0);
		ck_assert_int_eq(noderec_encode(&back, &b, &blen), 0);
		ck_assert_uint_eq(alen, blen);
		ck_assert_int_eq(memcmp(a, b, alen), 0);
		free(a);
		free(b);
	}
}
END_TEST

/* -- refusals ------------------------------------------------------------- */

/* The record with FIELD's text (a JSON value, or NULL: left out). */
static char *with(const char *instance, const char *interface,
		  const char *subnet, const char *zone, const char *addrs)
{
	static char buf[8192];
	const char *v[] = { instance, interface, subnet, zone, addrs };
	const char *k[] = { "instance", "interface", "subnet", "zone",
			    "addrs" };
	size_t n = 0, i;

	buf[n++] = '{';
	for (i = 0; i < 5; i++) {
		if (!v[i])
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\":%s",
				      n > 1 ? "," : "", k[i], v[i]);
		ck_assert_uint_lt(n, sizeof(buf) - 2);
	}
	buf[n++] = '}';
	buf[n] = '\0';
	return buf;
}

#define I "\"i-0abc\""
#define E "\"eni-0abc\""
#define S "\"subnet-0abc\""
#define Z "\"us-east-1a\""
#define A "[\"10.0.1.12\"]"

static void refused_n(const char *text, size_t len, const char *message)
{
	struct noderec r;
	char err[256];
	int rc;

	memset(&r, 0x5a, sizeof(r));
	rc = noderec_decode(text, len, &r, err, sizeof(err));
	ck_assert_msg(rc == -EINVAL, "%s: %d", text, rc);
	ck_assert_str_eq(err, message);
	/* nothing of it left behind */
	ck_assert_str_eq(r.interface, "");
	ck_assert_uint_eq(r.n_addrs, 0);
	ck_assert_int_eq(noderec_decode(text, len, &r, NULL, 0), -EINVAL);
}

static void refused(const char *text, const char *message)
{
	refused_n(text, strlen(text), message);
}

START_TEST(refuse_shape)
{
	refused("", "empty node record");
	refused(" \n\t", "empty node record");
	refused_n("{\"a\0\":1}", 8, "NUL byte at 3");
	refused("[" E "]", "node record: not an object");
	refused("\"eni-0abc\"", "node record: not an object");
	refused("{\"interface\":\"eni-\\u0000a\"}",
		"invalid node record at byte 26: \\u0000 in a string");
	refused("[[[[[1]]]]]",
		"invalid node record at byte 5: nested deeper than 4 levels");
	refused("{\"interface\":", "invalid JSON at byte 13: "
		"premature EOF");
	refused("{\"interface\" \"eni-0abc\"}", "invalid JSON at byte 23: "
		"object key and value must be separated by a colon (':')");
}
END_TEST

START_TEST(refuse_keys)
{
	refused("{\"interface\":\"eni-0abc\",\"subnet\":\"subnet-0abc\","
		"\"addrs\":[\"10.0.1.12\"],\"Zone\":\"us-east-1a\"}",
		"unknown key \"Zone\"");
	refused("{\"interface\":\"eni-0abc\",\"subnet\":\"subnet-0abc\","
		"\"addrs\":[\"10.0.1.12\"],\"\\\"\\n\":1}",
		"unknown key \"??\"");
	refused("{\"interface\":\"eni-0abc\",\"subnet\":\"subnet-0abc\","
		"\"interface\":\"eni-0abc\",\"addrs\":[\"10.0.1.12\"]}",
		"interface: repeated key");
	refused(with(I, NULL, S, Z, A), "interface: missing");
	refused(with(I, E, NULL, Z, A), "subnet: missing");
	refused(with(I, E, S, Z, NULL), "addrs: missing");
	refused("{}", "interface: missing");
}
END_TEST

START_TEST(refuse_ids)
{
	refused(with("1", E, S, Z, A), "instance: not a string");
	refused(with("null", E, S, Z, A), "instance: not a string");
	refused(with("\"\"", E, S, Z, A),
		"instance: \"\" is not an instance id (i-, hex digits)");
	refused(with("\"i-\"", E, S, Z, A),
		"instance: \"i-\" is not an instance id (i-, hex digits)");
	refused(with("\"i-0ABC\"", E, S, Z, A),
		"instance: \"i-0ABC\" is not an instance id (i-, hex digits)");
	refused(with("\"eni-0abc\"", E, S, Z, A),
		"instance: \"eni-0abc\" is not an instance id (i-, hex digits)");
	refused(with(I, "\"eni-xyz\"", S, Z, A),
		"interface: \"eni-xyz\" is not an interface id (eni-, hex digits)");
	refused(with(I, "[\"eni-0abc\"]", S, Z, A),
		"interface: not a string");
	refused(with(I, E, "\"subnet-0abc \"", Z, A),
		"subnet: \"subnet-0abc \" is not a subnet id (subnet-, hex digits)");
	/* long values are cut, controls and quotes shown as '?' */
	refused(with(I, E,
		     "\"subnet-0123456789abcdef0123456789abcdef0123456789\"",
		     Z, A),
		"subnet: \"subnet-0123456789abcdef0123456789abcdef0...\" "
		"is not a subnet id (subnet-, hex digits)");
	refused(with(I, E, "\"sub\\\"net\\t-0\"", Z, A),
		"subnet: \"sub?net?-0\" is not a subnet id (subnet-, hex digits)");
}
END_TEST

START_TEST(refuse_zone)
{
	refused(with(I, E, S, "\"\"", A),
		"zone: \"\" is not an availability zone");
	refused(with(I, E, S, "\"US-east-1a\"", A),
		"zone: \"US-east-1a\" is not an availability zone");
	refused(with(I, E, S, "\"us-east-1a-\"", A),
		"zone: \"us-east-1a-\" is not an availability zone");
	refused(with(I, E, S, "\"us east\"", A),
		"zone: \"us east\" is not an availability zone");
	refused(with(I, E, S, "\"abcdefghijklmnopqrstuvwxyz012345\"", A),
		"zone: \"abcdefghijklmnopqrstuvwxyz012345\" is not an "
		"availability zone");
	refused(with(I, E, S, "true", A), "zone: not a string");
}
END_TEST

START_TEST(refuse_addrs)
{
	refused(with(I, E, S, Z, "\"10.0.1.12\""), "addrs: not an array");
	refused(with(I, E, S, Z, "[]"), "addrs: empty, at least one address");
	refused(with(I, E, S, Z, "[\"10.0.1.12\",\"10.0.1\"]"),
		"addrs[1]: \"10.0.1\" is not an address");
	refused(with(I, E, S, Z, "[\"10.0.1.12/32\"]"),
		"addrs[0]: \"10.0.1.12/32\" is not an address");
	refused(with(I, E, S, Z, "[\"010.0.1.12\"]"),
		"addrs[0]: \"010.0.1.12\" is not an address");
	refused(with(I, E, S, Z, "[\"10.0.1.12\",7]"),
		"addrs[1]: not a string");
	refused(with(I, E, S, Z, "[\"10.0.1.12\",\"2001:db8::12\","
				 "\"10.0.1.12\"]"),
		"addrs[2]: \"10.0.1.12\" repeats addrs[0]");
	refused(with(I, E, S, Z, "[\"2001:db8::12\",\"2001:DB8:0::12\"]"),
		"addrs[1]: \"2001:DB8:0::12\" repeats addrs[0]");
}
END_TEST

/* -- limits --------------------------------------------------------------- */

static void addr_list(char *buf, size_t len, unsigned n)
{
	size_t used = 0;
	unsigned i;

	buf[used++] = '[';
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, len - used,
					 "%s\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:%x\"",
					 i ? "," : "", i);
	snprintf(buf + used, len - used, "]");
}

START_TEST(limits)
{
	char list[2048], *text, *out;
	struct noderec r;
	size_t len, out_len;

	addr_list(list, sizeof(list), NODEREC_MAX_ADDRS);
	decode_ok(with(I, E, S, Z, list), strlen(with(I, E, S, Z, list)),
		  &r);
	ck_assert_uint_eq(r.n_addrs, NODEREC_MAX_ADDRS);
	addr_list(list, sizeof(list), NODEREC_MAX_ADDRS + 1);
	refused(with(I, E, S, Z, list), "addrs: 17 addresses, at most 16");
	addr_list(list, sizeof(list), NODEREC_MAX_ADDRS + 2);
	text = with(I, E, S, Z, list);
	refused(text, "invalid node record at byte 799: more values than a "
		      "node record holds");

	/* the longest ids and zone that fit */
	text = with("\"i-0123456789abcdef0123456789abcdef0123456789abc\"",
		    "\"eni-0123456789abcdef0123456789abcdef0123456789a\"",
		    "\"subnet-0123456789abcdef0123456789abcdef01234567\"",
		    "\"abcdefghijklmnopqrstuvwxyz01234\"", A);
	decode_ok(text, strlen(text), &r);
	ck_assert_uint_eq(strlen(r.instance), EC2_ID_MAX - 1);
	ck_assert_uint_eq(strlen(r.interface), EC2_ID_MAX - 1);
	ck_assert_uint_eq(strlen(r.subnet), EC2_ID_MAX - 1);
	ck_assert_uint_eq(strlen(r.zone), EC2_AZ_MAX - 1);
	ck_assert_int_eq(noderec_encode(&r, &out, &out_len), 0);
	free(out);
	refused(with("\"i-0123456789abcdef0123456789abcdef0123456789abcd\"",
		     E, S, Z, A),
		"instance: \"i-0123456789abcdef0123456789abcdef012345...\" "
		"is not an instance id (i-, hex digits)");

	/* NODEREC_MAX_BYTES with spaces, and one more */
	text = malloc(NODEREC_MAX_BYTES + 2);
	ck_assert_ptr_nonnull(text);
	memset(text, ' ', NODEREC_MAX_BYTES + 1);
	len = strlen(canonical);
	memcpy(text, canonical, len);
	decode_ok(text, NODEREC_MAX_BYTES, &r);
	refused_n(text, NODEREC_MAX_BYTES + 1,
		  "node record of 4097 bytes, at most 4096");
	free(text);
}
END_TEST

START_TEST(encode_refusals)
{
	struct noderec good, r;
	char *out = (char *)1;
	size_t len = 7;

	decode_ok(canonical, strlen(canonical), &good);

	r = good;
	r.interface[0] = '\0';
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	r = good;
	r.subnet[0] = 'S';
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	r = good;
	strcpy(r.instance, "i-xyz");
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	r = good;
	strcpy(r.zone, "us east");
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	r = good;
	memset(r.interface, 'a', sizeof(r.interface));
	memcpy(r.interface, "eni-", 4);
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	r = good;
	r.n_addrs = 0;
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	r = good;
	r.n_addrs = NODEREC_MAX_ADDRS + 1;
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	r = good;
	r.addrs[1].family = 0;
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	r = good;
	r.addrs[1] = r.addrs[0];
	ck_assert_int_eq(noderec_encode(&r, &out, &len), -EINVAL);
	ck_assert_int_eq(noderec_encode(NULL, &out, &len), -EINVAL);
	ck_assert_int_eq(noderec_encode(&good, NULL, &len), -EINVAL);
	ck_assert_ptr_null(out);
	encode_is(&good, canonical);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("noderec");
	TCase *tc = tcase_create("noderec");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, canonical_bytes);
	tcase_add_test(tc, random_round_trips);
	tcase_add_test(tc, refuse_shape);
	tcase_add_test(tc, refuse_keys);
	tcase_add_test(tc, refuse_ids);
	tcase_add_test(tc, refuse_zone);
	tcase_add_test(tc, refuse_addrs);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, encode_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *env = getenv("STRATA_TEST_SEED");
	SRunner *sr;
	int failed;

	seed = env ? strtoull(env, NULL, 0) : 20240607;
	printf("test_noderec: seed %" PRIu64 " (STRATA_TEST_SEED)\n", seed);
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
