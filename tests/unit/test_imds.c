/* SPDX-License-Identifier: Apache-2.0 */
/* The IMDSv2 client, against tests/fixtures/fake_imds.py on 127.0.0.1. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_imds.h"
#include "imds.h"
#include "mock_host.h"

#define MS 1000000LL
#define S 1000000000LL

static struct fake_imds fake;
static struct mock_host *mh;

/* One fake for the test case (python takes half a second to start),
 * reset before each test. */
static void fake_up(void)
{
	fake_start(&fake);
}

static void fake_down(void)
{
	fake_stop(&fake);
}

static void setup(void)
{
	unsetenv(IMDS_ENDPOINT_ENV);
	unsetenv(IMDS_ENDPOINT_MODE_ENV);
	fake_ctl(&fake, "reset", "{}");
	mh = mock_host_new();
	ck_assert_ptr_nonnull(mh);
}

static void teardown(void)
{
	mock_host_free(mh);
	mh = NULL;
}

static struct imds *client(int64_t ttl_s, int64_t timeout_ns,
			   uint32_t attempts)
{
	struct imds_config cfg = {
		.endpoint = fake.url,
		.token_ttl_s = ttl_s,
		.timeout_ns = timeout_ns,
		.attempts = attempts,
	};
	struct imds *c = NULL;
	char err[256] = "";

	ck_assert_msg(imds_new(mock_host_table(mh), mock_instance(mh), &cfg,
			       &c, err, sizeof(err)) == 0, "%s", err);
	return c;
}

/* -- results -------------------------------------------------------------- */

struct result {
	bool done;
	int calls;
	int err;
	char why[512];
	char value[512];
	struct imds_identity id;
	struct imds_role_creds creds;
};

static bool result_done(void *arg)
{
	return ((struct result *)arg)->done;
}

static void note(struct result *r, int err, const char *why)
{
	r->done = true;
	r->calls++;
	r->err = err;
	snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
}

static void on_get(void *arg, int err, const char *value, size_t len,
		   const char *why)
{
	struct result *r = arg;

	note(r, err, why);
	if (!err)
		snprintf(r->value, sizeof(r->value), "%.*s", (int)len, value);
}

static void on_identity(void *arg, int err, const struct imds_identity *id,
			const char *why)
{
	struct result *r = arg;

	note(r, err, why);
	ck_assert(err ? id == NULL : id != NULL);
	if (id)
		r->id = *id;
}

static void on_role(void *arg, int err, const struct imds_role_creds *c,
		    const char *why)
{
	struct result *r = arg;

	note(r, err, why);
	if (!c)
		return;
	snprintf(r->creds.role, sizeof(r->creds.role), "%s", c->role);
	r->creds.access_key_id = strdup(c->access_key_id);
	r->creds.secret_access_key = strdup(c->secret_access_key);
	r->creds.session_token = strdup(c->session_token);
	r->creds.expiration = c->expiration;
}

static void wait_for(struct result *r, int64_t ns)
{
	ck_assert_msg(mock_host_run_until(mh, result_done, r, ns),
		      "no answer within %lld ms", (long long)(ns / MS));
}

static void get(struct imds *c, const char *path, struct result *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(imds_get(c, path, on_get, r, NULL), 0);
	ck_assert(!r->done); /* never inside the call */
	wait_for(r, 5 * S);
}

static void discover(struct imds *c, struct result *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(imds_discover(c, on_identity, r, NULL), 0);
	ck_assert(!r->done);
	wait_for(r, 10 * S);
}

static void addr_is(const struct strata_addr *a, const char *want)
{
	char buf[INET_ADDRSTRLEN];

	ck_assert_int_eq(a->family, STRATA_AF_INET);
	inet_ntop(AF_INET, a->addr, buf, sizeof(buf));
	ck_assert_str_eq(buf, want);
}

static void prefix_is(const struct strata_prefix *p, const char *want)
{
	char buf[INET_ADDRSTRLEN + 4];

	ck_assert_int_eq(p->family, STRATA_AF_INET);
	inet_ntop(AF_INET, p->addr, buf, INET_ADDRSTRLEN);
	snprintf(buf + strlen(buf), 5, "/%u", p->len);
	ck_assert_str_eq(buf, want);
}

/* -- discovery ------------------------------------------------------------ */

START_TEST(test_discovery)
{
	struct imds *c = client(0, 0, 0);
	struct result r;

	discover(c, &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_str_eq(r.id.instance_id, "i-1234567890abcdef0");
	ck_assert_str_eq(r.id.zone, "us-east-1a");
	ck_assert_str_eq(r.id.region, "us-east-1");
	ck_assert_str_eq(r.id.mac, "0e:49:61:0f:c3:11");
	ck_assert_str_eq(r.id.interface_id, "eni-0f1e2d3c4b5a69788");
	ck_assert_str_eq(r.id.subnet_id, "subnet-0123456789abcdef0");
	ck_assert_str_eq(r.id.vpc_id, "vpc-0a1b2c3d4e5f60718");
	ck_assert_uint_eq(r.id.n_vpc_cidrs, 2);
	prefix_is(&r.id.vpc_cidrs[0], "10.0.0.0/16");
	prefix_is(&r.id.vpc_cidrs[1], "100.64.0.0/16");
	ck_assert_uint_eq(r.id.n_local_ipv4s, 2);
	addr_is(&r.id.local_ipv4s[0], "10.0.1.12");
	addr_is(&r.id.local_ipv4s[1], "10.0.1.13");
	/* one token for all nine GETs, each path asked once */
	ck_assert_int_eq(fake_stat(&fake, "token_puts"), 1);
	ck_assert_int_eq(fake_stat(&fake, "gets"), 9);
	ck_assert_int_eq(fake_stat(&fake, "unauthorized"), 0);
	ck_assert_int_eq(fake_stat(&fake, "paths/network/interfaces/macs/"
					  "0e:49:61:0f:c3:11/vpc-id"), 1);
	ck_assert_uint_eq(imds_token_fetches(c), 1);
	imds_free(c);
}
END_TEST

/* The values a real IMDS gives with another shape: 8-digit ids, a local
 * zone, a single CIDR with a final newline. */
START_TEST(test_discovery_variants)
{
	struct imds *c = client(0, 0, 0);
	const char *net = "network/interfaces/macs/0e:49:61:0f:c3:11/";
	struct result r;

	fake_ctl(&fake, "set", "{\"path\": \"instance-id\", "
		 "\"value\": \"i-0a1b2c3d\"}");
	fake_ctl(&fake, "set", "{\"path\": \"placement/availability-zone\", "
		 "\"value\": \"us-west-2-lax-1a\"}");
	fake_ctl(&fake, "set", "{\"path\": \"placement/region\", "
		 "\"value\": \"us-west-2\"}");
	fake_ctl(&fake, "set", "{\"path\": \"%svpc-ipv4-cidr-blocks\", "
		 "\"value\": \"172.31.0.0/16\\n\"}", net);
	fake_ctl(&fake, "set", "{\"path\": \"%slocal-ipv4s\", "
		 "\"value\": \"172.31.5.9\"}", net);
	discover(c, &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_str_eq(r.id.instance_id, "i-0a1b2c3d");
	ck_assert_str_eq(r.id.zone, "us-west-2-lax-1a");
	ck_assert_str_eq(r.id.region, "us-west-2");
	ck_assert_uint_eq(r.id.n_vpc_cidrs, 1);
	prefix_is(&r.id.vpc_cidrs[0], "172.31.0.0/16");
	ck_assert_uint_eq(r.id.n_local_ipv4s, 1);
	addr_is(&r.id.local_ipv4s[0], "172.31.5.9");
	imds_free(c);
}
END_TEST

/* Each bad value fails discovery with the path and the value named. */
static const struct {
	const char *path; /* below meta-data/; N: the interface's */
	const char *value;
	const char *want; /* in the reason */
} bad_values[] = {
	{ "instance-id", "i-XYZ", "\"i-XYZ\"" },
	{ "instance-id", "i-1234567890abcdef0; rm", "i-1234567890abcdef0; rm" },
	{ "placement/availability-zone", "US-EAST-1A", "\"US-EAST-1A\"" },
	{ "placement/region", "us-west-2", "is not in region \"us-west-2\"" },
	{ "placement/region", "us-east-1\\u0000", "\\x00" },
	{ "mac", "0e:49:61:0f:c3", "\"0e:49:61:0f:c3\"" },
	{ "Ninterface-id", "eth-0f1e2d3c4b5a69788", "eth-0f1e2d3c4b5a69788" },
	{ "Nsubnet-id", "subnet-12", "\"subnet-12\"" },
	{ "Nvpc-id", "subnet-0123456789abcdef0", "vpc-id: bad value" },
	{ "Nvpc-ipv4-cidr-blocks", "10.0.0.1/16", "\"10.0.0.1/16\"" },
	{ "Nvpc-ipv4-cidr-blocks", "10.0.0.0/16\\n\\n10.1.0.0/16",
	  "bad entry 2" },
	{ "Nlocal-ipv4s", "10.0.1.300", "\"10.0.1.300\"" },
	{ "Nlocal-ipv4s", "", "local-ipv4s: empty" },
};

START_TEST(test_discovery_bad_value)
{
	const char *net = "network/interfaces/macs/0e:49:61:0f:c3:11/";
	const char *path = bad_values[_i].path;
	struct imds *c = client(0, 0, 0);
	char full[256];
	struct result r;

	snprintf(full, sizeof(full), "%s%s", path[0] == 'N' ? net : "",
		 path[0] == 'N' ? path + 1 : path);
	fake_ctl(&fake, "set", "{\"path\": \"%s\", \"value\": \"%s\"}", full,
		 bad_values[_i].value);
	discover(c, &r);
	ck_assert_int_eq(r.err, -EINVAL);
	ck_assert_msg(strstr(r.why, full) != NULL, "path not named: %s", r.why);
	ck_assert_msg(strstr(r.why, bad_values[_i].want) != NULL,
		      "\"%s\" not in: %s", bad_values[_i].want, r.why);
	imds_free(c);
}
END_TEST

/* -- tokens --------------------------------------------------------------- */

START_TEST(test_stale_token)
{
	struct imds *c = client(0, 0, 0);
	struct result r;

	get(c, "instance-id", &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	/* the fake forgets its tokens (a reboot, a stop and start) */
	fake_ctl(&fake, "expire-tokens", "{}");
	get(c, "placement/region", &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_str_eq(r.value, "us-east-1");
	ck_assert_int_eq(fake_stat(&fake, "unauthorized"), 1);
	ck_assert_int_eq(fake_stat(&fake, "token_puts"), 2);
	ck_assert_int_eq(fake_stat(&fake, "paths/placement/region"), 1);
	imds_free(c);
}
END_TEST

/* Several GETs waiting for the same new token after it went stale. */
START_TEST(test_stale_token_many)
{
	struct imds *c = client(0, 0, 0);
	struct result r[4];
	const char *paths[4] = { "instance-id", "mac", "placement/region",
				 "ami-id" };

	get(c, "instance-id", &r[0]);
	fake_ctl(&fake, "expire-tokens", "{}");
	for (int i = 0; i < 4; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		ck_assert_int_eq(imds_get(c, paths[i], on_get, &r[i], NULL), 0);
	}
	for (int i = 0; i < 4; i++) {
		wait_for(&r[i], 5 * S);
		ck_assert_msg(r[i].err == 0, "%s", r[i].why);
		ck_assert_int_eq(r[i].calls, 1);
	}
	ck_assert_str_eq(r[1].value, "0e:49:61:0f:c3:11");
	/* the four 401s share one new token: at most one more per GET in
	 * flight when it went stale, here exactly one */
	ck_assert_int_eq(fake_stat(&fake, "unauthorized"), 4);
	ck_assert_int_eq(fake_stat(&fake, "token_puts"), 2);
	imds_free(c);
}
END_TEST

/* A 2 s token is replaced after 1.5 s, before the fake would refuse it. */
START_TEST(test_token_refresh_before_ttl)
{
	struct imds *c = client(2, 0, 0);
	struct result r;

	get(c, "instance-id", &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	mock_host_run(mh, 800 * MS);
	get(c, "mac", &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_int_eq(fake_stat(&fake, "token_puts"), 1);
	mock_host_run(mh, 900 * MS); /* 1.7 s: inside the last quarter */
	get(c, "mac", &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_int_eq(fake_stat(&fake, "token_puts"), 2);
	ck_assert_int_eq(fake_stat(&fake, "unauthorized"), 0);
	ck_assert_uint_eq(imds_token_fetches(c), 2);
	imds_free(c);
}
END_TEST

START_TEST(test_fake_refuses_bad_ttl)
{
	static const char *const ttls[] = { "0", "21601", "x", "-5" };
	char url[128], hdr[96];

	snprintf(url, sizeof(url), "%s/latest/api/token", fake.url);
	for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
		CURL *e = curl_easy_init();
		struct curl_slist *h;
		struct fake_buf b = { .len = 0 };
		long status = 0;

		snprintf(hdr, sizeof(hdr),
			 "X-aws-ec2-metadata-token-ttl-seconds: %s", ttls[i]);
		h = curl_slist_append(NULL, hdr);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fake_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
		ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		ck_assert_int_eq(status, 400);
		curl_slist_free_all(h);
		curl_easy_cleanup(e);
	}
	ck_assert_int_eq(fake_stat(&fake, "bad_ttl"), 4);
	ck_assert_int_eq(fake_stat(&fake, "token_puts"), 0);
}
END_TEST

START_TEST(test_token_refused)
{
	struct imds *c = client(0, 300 * MS, 2);
	struct result r;

	/* IMDS turned off for the instance answers the PUT with 403 */
	fake_ctl(&fake, "fail", "{\"path\": \"api/token\", \"status\": 403}");
	get(c, "instance-id", &r);
	ck_assert_int_eq(r.err, -EACCES);
	ck_assert_msg(strstr(r.why, "api/token") && strstr(r.why, "403"), "%s",
		      r.why);
	ck_assert_int_eq(fake_stat(&fake, "gets"), 0);
	imds_free(c);
}
END_TEST

/* -- failures ------------------------------------------------------------- */

START_TEST(test_slow_endpoint_times_out)
{
	struct imds *c = client(0, 300 * MS, 2);
	struct result r;
	int64_t t0;

	fake_ctl(&fake, "fail", "{\"path\": \"placement/region\", "
		 "\"delay\": 1.5}");
	t0 = mock_host_table(mh)->now();
	discover(c, &r);
	ck_assert_int_eq(r.err, -ETIMEDOUT);
	ck_assert_msg(strstr(r.why, "placement/region") &&
		      strstr(r.why, "2 attempts"), "%s", r.why);
	/* two attempts of 300 ms, not the fake's 1.5 s */
	ck_assert_int_lt(mock_host_table(mh)->now() - t0, 1400 * MS);
	ck_assert_int_eq(fake_stat(&fake, "paths/placement/region"), 2);
	imds_free(c);
}
END_TEST

START_TEST(test_5xx_retried_404_not)
{
	struct imds *c = client(0, 0, 2);
	struct result r;

	fake_ctl(&fake, "fail", "{\"path\": \"mac\", \"status\": 500, "
		 "\"count\": 1}");
	get(c, "mac", &r);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_int_eq(fake_stat(&fake, "paths/mac"), 2);

	fake_ctl(&fake, "fail", "{\"path\": \"mac\", \"status\": 503}");
	get(c, "mac", &r);
	ck_assert_int_eq(r.err, -EIO);
	ck_assert_msg(strstr(r.why, "503"), "%s", r.why);
	ck_assert_int_eq(fake_stat(&fake, "paths/mac"), 4);

	get(c, "no/such/path", &r);
	ck_assert_int_eq(r.err, -ENOENT);
	ck_assert_int_eq(fake_stat(&fake, "paths/no/such/path"), 1);
	imds_free(c);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct imds_config cfg = { .endpoint = "http://127.0.0.1:1",
				   .timeout_ns = 500 * MS };
	struct imds *c = NULL;
	struct result r = { .done = false };
	char err[128];

	ck_assert_int_eq(imds_new(mock_host_table(mh), mock_instance(mh), &cfg,
				  &c, err, sizeof(err)), 0);
	ck_assert_int_eq(imds_discover(c, on_identity, &r, NULL), 0);
	wait_for(&r, 5 * S);
	ck_assert_int_eq(r.err, -ECONNREFUSED);
	ck_assert_msg(strstr(r.why, "PUT http://127.0.0.1:1/latest/api/token"),
		      "%s", r.why);
	imds_free(c);
}
END_TEST

/* -- configuration ------------------------------------------------------- */

START_TEST(test_endpoint_choice)
{
	const struct strata_host *h = mock_host_table(mh);
	struct imds_config cfg = { 0 };
	struct imds *c;
	char err[256];

	ck_assert_int_eq(imds_new(h, NULL, &cfg, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(imds_endpoint(c), "http://169.254.169.254");
	imds_free(c);

	setenv(IMDS_ENDPOINT_MODE_ENV, "IPv6", 1);
	ck_assert_int_eq(imds_new(h, NULL, &cfg, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(imds_endpoint(c), "http://[fd00:ec2::254]");
	imds_free(c);
	unsetenv(IMDS_ENDPOINT_MODE_ENV);

	setenv(IMDS_ENDPOINT_ENV, "http://[fd00:ec2::253]/", 1);
	ck_assert_int_eq(imds_new(h, NULL, &cfg, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(imds_endpoint(c), "http://[fd00:ec2::253]");
	imds_free(c);

	/* the config wins over the environment */
	cfg.endpoint = "https://10.0.0.1:8443";
	ck_assert_int_eq(imds_new(h, NULL, &cfg, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(imds_endpoint(c), "https://10.0.0.1:8443");
	imds_free(c);
	unsetenv(IMDS_ENDPOINT_ENV);

	static const char *const bad[] = {
		"ftp://169.254.169.254", "http://", "169.254.169.254",
		"http://a b", "http://h/latest", "http://user@h",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.endpoint = bad[i];
		c = NULL;
		ck_assert_int_eq(imds_new(h, NULL, &cfg, &c, err, sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_null(c);
		ck_assert_msg(strstr(err, "endpoint"), "%s", err);
	}
	cfg.endpoint = NULL;
	cfg.token_ttl_s = 21601;
	ck_assert_int_eq(imds_new(h, NULL, &cfg, &c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "21601"), "%s", err);
}
END_TEST

/* -- the role's credentials ------------------------------------------------ */

START_TEST(test_role_creds)
{
	struct imds *c = client(0, 0, 0);
	struct result r = { .done = false };
	int64_t now = (int64_t)time(NULL);

	ck_assert_int_eq(imds_role_creds(c, NULL, on_role, &r, NULL), 0);
	wait_for(&r, 5 * S);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_str_eq(r.creds.role, "strata-node");
	ck_assert_str_eq(r.creds.access_key_id, "ASIAFAKEIMDS00000001");
	ck_assert_str_eq(r.creds.secret_access_key,
			 "fakeSecretKey/0000000000000000000000001");
	ck_assert_str_eq(r.creds.session_token, "FakeSessionToken0001");
	ck_assert_int_ge(r.creds.expiration, now + 6 * 3600 - 5);
	ck_assert_int_le(r.creds.expiration, now + 6 * 3600 + 5);
	imds_role_creds_clear(&r.creds);

	/* a named role skips the listing */
	fake_ctl(&fake, "reset-stats", "{}");
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(imds_role_creds(c, "strata-node", on_role, &r, NULL),
			 0);
	wait_for(&r, 5 * S);
	ck_assert_msg(r.err == 0, "%s", r.why);
	ck_assert_int_eq(fake_stat(&fake, "paths/iam/security-credentials/"),
			 0);
	imds_role_creds_clear(&r.creds);
	ck_assert_int_eq(imds_role_creds(c, "bad role", on_role, &r, NULL),
			 -EINVAL);
	imds_free(c);
}
END_TEST

START_TEST(test_role_errors)
{
	struct imds *c = client(0, 0, 0);
	struct result r = { .done = false };

	fake_ctl(&fake, "creds", "{\"Code\": \"AssumeRoleUnauthorizedAccess\"}");
	ck_assert_int_eq(imds_role_creds(c, NULL, on_role, &r, NULL), 0);
	wait_for(&r, 5 * S);
	ck_assert_int_eq(r.err, -EACCES);
	ck_assert_msg(strstr(r.why, "AssumeRoleUnauthorizedAccess") &&
		      strstr(r.why, "strata-node"), "%s", r.why);

	fake_ctl(&fake, "role", "{\"name\": null}");
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(imds_role_creds(c, NULL, on_role, &r, NULL), 0);
	wait_for(&r, 5 * S);
	ck_assert_int_eq(r.err, -ENOENT);
	ck_assert_msg(strstr(r.why, "no IAM role"), "%s", r.why);

	fake_ctl(&fake, "role", "{\"name\": \"x\"}");
	fake_ctl(&fake, "raw", "{\"path\": \"iam/security-credentials/x\", "
		 "\"body\": \"{\\\"Code\\\": \\\"Success\\\"}\"}");
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(imds_role_creds(c, NULL, on_role, &r, NULL), 0);
	wait_for(&r, 5 * S);
	ck_assert_int_eq(r.err, -EINVAL);
	ck_assert_msg(strstr(r.why, "no AccessKeyId"), "%s", r.why);
	imds_free(c);
}
END_TEST

/* -- cancel and free ---------------------------------------------------- */

START_TEST(test_cancel)
{
	struct imds *c = client(0, 0, 0);
	struct result r1 = { .done = false }, r2 = { .done = false };
	struct result r3 = { .done = false };
	struct imds_op *op;

	/* waiting for the token */
	ck_assert_int_eq(imds_discover(c, on_identity, &r1, &op), 0);
	ck_assert_int_eq(imds_get(c, "mac", on_get, &r2, NULL), 0);
	imds_cancel(op);
	wait_for(&r2, 5 * S);
	ck_assert_msg(r2.err == 0, "%s", r2.why);
	/* a GET on the wire */
	ck_assert_int_eq(imds_get(c, "mac", on_get, &r3, &op), 0);
	imds_cancel(op);
	mock_host_run(mh, 200 * MS);
	ck_assert(!r1.done && !r3.done);
	/* freed with operations in flight: no callback, nothing leaks */
	ck_assert_int_eq(imds_discover(c, on_identity, &r1, NULL), 0);
	ck_assert_int_eq(imds_role_creds(c, NULL, on_role, &r3, NULL), 0);
	imds_free(c);
	mock_host_run(mh, 200 * MS);
	ck_assert(!r1.done && !r3.done);
}
END_TEST

/* -- the pure parsers ----------------------------------------------------- */

START_TEST(test_identity_set)
{
	static const struct {
		const char *key, *value;
		int rc;
	} cases[] = {
		{ "instance-id", "i-0123abcd", 0 },
		{ "instance-id", "i-0123abcd\n", 0 },
		{ "instance-id", "i-0123ABCD", -EINVAL },
		{ "instance-id", "i-0123abcd0", -EINVAL },
		{ "instance-id", "", -EINVAL },
		{ "interface-id", "eni-12345678", 0 },
		{ "subnet-id", "subnet-12345678901234567", 0 },
		{ "subnet-id", "subnet-123456789012345678", -EINVAL },
		{ "vpc-id", "vpc-1234567g", -EINVAL },
		{ "mac", "0E:49:61:0F:C3:11", 0 },
		{ "mac", "0e-49-61-0f-c3-11", -EINVAL },
		{ "mac", "0e:49:61:0f:c3:1", -EINVAL },
		{ "region", "eu-central-2", 0 },
		{ "region", "eu-central", -EINVAL },
		{ "region", "-eu-1", -EINVAL },
		{ "availability-zone", "eu-central-2b", 0 },
		{ "availability-zone", "eu-central-2", -EINVAL }, /* = region */
		{ "availability-zone", "eu-west-1a", -EINVAL },
		{ "vpc-ipv4-cidr-blocks", "10.0.0.0/8\n192.168.0.0/24", 0 },
		{ "vpc-ipv4-cidr-blocks", "10.0.0.0/33", -EINVAL },
		{ "vpc-ipv4-cidr-blocks", "10.0.0.0/", -EINVAL },
		{ "vpc-ipv4-cidr-blocks", "10.0.0.0", -EINVAL },
		{ "vpc-ipv4-cidr-blocks", "fd00::/8", -EINVAL },
		{ "local-ipv4s", "10.0.0.1\n10.0.0.2\n", 0 },
		{ "local-ipv4s", "10.0.0.1\n\n10.0.0.2", -EINVAL },
		{ "local-ipv4s", "10.0.0.1 ", -EINVAL },
		{ "hostname", "x", -EINVAL },
	};
	struct imds_identity id;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		memset(&id, 0, sizeof(id));
		/* the zone is checked against this region */
		ck_assert_int_eq(imds_identity_set(&id, "region", "eu-central-2",
						   12, err, sizeof(err)), 0);
		err[0] = '\0';
		rc = imds_identity_set(&id, cases[i].key, cases[i].value,
				       strlen(cases[i].value), err, sizeof(err));
		ck_assert_msg(rc == cases[i].rc, "%s=\"%s\": %d (%s)",
			      cases[i].key, cases[i].value, rc, err);
		if (rc)
			ck_assert_msg(strstr(err, cases[i].key), "%s", err);
	}
	/* a list longer than the cap */
	{
		char many[IMDS_MAX_ADDRS * 16 + 32] = "";

		for (int i = 0; i <= IMDS_MAX_ADDRS; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many),
				 "10.0.0.%d\n", i + 1);
		ck_assert_int_eq(imds_identity_set(&id, "local-ipv4s", many,
						   strlen(many), err,
						   sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "more than 64"), "%s", err);
	}
}
END_TEST

START_TEST(test_parse_time)
{
	int64_t t = 0;

	ck_assert_int_eq(imds_parse_time("2024-05-01T12:00:00Z", 20, &t), 0);
	ck_assert_int_eq(t, 1714564800);
	ck_assert_int_eq(imds_parse_time("2024-05-01T12:00:00.123Z", 24, &t), 0);
	ck_assert_int_eq(t, 1714564800);
	ck_assert_int_eq(imds_parse_time("2024-05-01T12:00:00+00:00", 25, &t),
			 0);
	ck_assert_int_eq(t, 1714564800);
	ck_assert_int_eq(imds_parse_time("2024-02-29T00:00:00Z", 20, &t), 0);
	ck_assert_int_eq(imds_parse_time("2023-02-29T00:00:00Z", 20, &t),
			 -EINVAL);
	ck_assert_int_eq(imds_parse_time("2024-05-01T12:00:00", 19, &t),
			 -EINVAL);
	ck_assert_int_eq(imds_parse_time("2024-05-01T12:00:00+02:00", 25, &t),
			 -EINVAL);
	ck_assert_int_eq(imds_parse_time("2024-05-01 12:00:00Z", 20, &t),
			 -EINVAL);
	ck_assert_int_eq(imds_parse_time("2024-13-01T12:00:00Z", 20, &t),
			 -EINVAL);
	ck_assert_int_eq(imds_parse_time("2024-05-01T24:00:00Z", 20, &t),
			 -EINVAL);
	ck_assert_int_eq(imds_parse_time("2024-05-01T12:00:00.Z", 21, &t),
			 -EINVAL);
}
END_TEST

static const char good_doc[] =
	"{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : "
	"\"2024-05-01T06:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n"
	"  \"AccessKeyId\" : \"ASIAIOSFODNN7EXAMPLE\",\n"
	"  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\",\n"
	"  \"Token\" : \"IQoJb3JpZ2luX2VjEXAMPLETOKEN\\/+=\",\n"
	"  \"Expiration\" : \"2024-05-01T12:00:00Z\"\n}";

START_TEST(test_parse_role_creds)
{
	struct imds_role_creds rc;
	char err[256];

	ck_assert_int_eq(imds_parse_role_creds(good_doc, strlen(good_doc), &rc,
					       err, sizeof(err)), 0);
	ck_assert_str_eq(rc.access_key_id, "ASIAIOSFODNN7EXAMPLE");
	ck_assert_str_eq(rc.secret_access_key,
			 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
	ck_assert_str_eq(rc.session_token, "IQoJb3JpZ2luX2VjEXAMPLETOKEN/+=");
	ck_assert_int_eq(rc.expiration, 1714564800);
	imds_role_creds_clear(&rc);
	ck_assert_ptr_null(rc.secret_access_key);
}
END_TEST

static const struct {
	const char *doc;
	int rc;
	const char *want;
} bad_docs[] = {
	{ "", -EINVAL, "not JSON" },
	{ "[]", -EINVAL, "not a JSON object" },
	{ "\"Success\"", -EINVAL, "not a JSON object" },
	{ "{\"Code\":\"Success\",", -EINVAL, "not JSON" },
	{ "{\"AccessKeyId\":\"ASIAIOSFODNN7EXAMPLE\"}", -EINVAL, "no Code" },
	{ "{\"Code\":\"Failure\",\"Message\":\"no role\"}", -EACCES,
	  "\"Failure\": \"no role\"" },
	{ "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAIOSFODNN7EXAMPLE\","
	  "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"t0k3n\"}",
	  -EINVAL, "no Expiration" },
	{ "{\"Code\":\"Success\",\"AccessKeyId\":\"asia-lower-case-key\"}",
	  -EINVAL, "want [A-Z0-9]" },
	{ "{\"Code\":\"Success\",\"SecretAccessKey\":\"s3cr3t with space\"}",
	  -EINVAL, "SecretAccessKey: want" },
	{ "{\"Code\":\"Success\",\"Token\":\"t0k\\u0000en\"}", -EINVAL,
	  "Token: want" },
	{ "{\"Code\":\"Success\",\"Token\":7}", -EINVAL,
	  "Token is not a string" },
	{ "{\"Code\":\"Success\",\"Token\":{\"a\":1}}", -EINVAL,
	  "Token is not a string" },
	{ "{\"Code\":\"Success\",\"Expiration\":\"tomorrow\"}", -EINVAL,
	  "Expiration \"tomorrow\"" },
	{ "{\"Code\":\"Success\",\"Code\":\"Success\"}", -EINVAL,
	  "Code given twice" },
	{ "{\"Code\":\"Success\",\"SecretAccessKey\":\"s3cr3t\","
	  "\"SecretAccessKey\":\"s3cr3t2\"}", -EINVAL,
	  "SecretAccessKey given twice" },
	{ "{\"Code\":\"Success\"} {}", -EINVAL, "not JSON" },
};

START_TEST(test_parse_role_creds_bad)
{
	struct imds_role_creds rc;
	char err[256] = "";
	int got;

	got = imds_parse_role_creds(bad_docs[_i].doc, strlen(bad_docs[_i].doc),
				    &rc, err, sizeof(err));
	ck_assert_msg(got == bad_docs[_i].rc, "%s: %d (%s)", bad_docs[_i].doc,
		      got, err);
	ck_assert_msg(strstr(err, bad_docs[_i].want), "\"%s\" not in \"%s\"",
		      bad_docs[_i].want, err);
	/* secrets never in a message */
	ck_assert_ptr_null(strstr(err, "s3cr3t"));
	ck_assert_ptr_null(strstr(err, "t0k"));
	ck_assert_ptr_null(rc.access_key_id);
	ck_assert_ptr_null(rc.secret_access_key);
	ck_assert_ptr_null(rc.session_token);
}
END_TEST

/* Every buffer the parser and the result used is zeroed before free. */
static size_t wiped, wiped_dirty, secret_seen;

static void wipe_hook(const void *p, size_t len)
{
	const unsigned char *b = p;

	wiped++;
	for (size_t i = 0; i < len; i++)
		if (b[i]) {
			wiped_dirty++;
			break;
		}
	if (len == strlen("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"))
		secret_seen++;
}

START_TEST(test_parse_role_creds_wipes)
{
	struct imds_role_creds rc;
	char err[256];

	wiped = wiped_dirty = secret_seen = 0;
	imds_wipe_hook = wipe_hook;
	ck_assert_int_eq(imds_parse_role_creds(good_doc, strlen(good_doc), &rc,
					       err, sizeof(err)), 0);
	/* yajl's own buffers went through the wiping allocator */
	ck_assert_uint_gt(wiped, 0);
	imds_role_creds_clear(&rc);
	imds_wipe_hook = NULL;
	ck_assert_uint_eq(wiped_dirty, 0);
	ck_assert_uint_ge(secret_seen, 1);
}
END_TEST

static Suite *imds_suite(void)
{
	Suite *s = suite_create("imds");
	TCase *net = tcase_create("fake");
	TCase *pure = tcase_create("parsers");

	tcase_add_unchecked_fixture(net, fake_up, fake_down);
	tcase_add_checked_fixture(net, setup, teardown);
	tcase_set_timeout(net, 30);
	tcase_add_test(net, test_discovery);
	tcase_add_test(net, test_discovery_variants);
	tcase_add_loop_test(net, test_discovery_bad_value, 0,
			    sizeof(bad_values) / sizeof(bad_values[0]));
	tcase_add_test(net, test_stale_token);
	tcase_add_test(net, test_stale_token_many);
	tcase_add_test(net, test_token_refresh_before_ttl);
	tcase_add_test(net, test_fake_refuses_bad_ttl);
	tcase_add_test(net, test_token_refused);
	tcase_add_test(net, test_slow_endpoint_times_out);
	tcase_add_test(net, test_5xx_retried_404_not);
	tcase_add_test(net, test_connection_refused);
	tcase_add_test(net, test_endpoint_choice);
	tcase_add_test(net, test_role_creds);
	tcase_add_test(net, test_role_errors);
	tcase_add_test(net, test_cancel);
	suite_add_tcase(s, net);

	tcase_add_test(pure, test_identity_set);
	tcase_add_test(pure, test_parse_time);
	tcase_add_test(pure, test_parse_role_creds);
	tcase_add_loop_test(pure, test_parse_role_creds_bad, 0,
			    sizeof(bad_docs) / sizeof(bad_docs[0]));
	tcase_add_test(pure, test_parse_role_creds_wipes);
	suite_add_tcase(s, pure);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(imds_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
