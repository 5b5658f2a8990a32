/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credentials chain: environment, shared file, instance role (against
 * tests/fixtures/fake_imds.py on 127.0.0.1). HOME points into a temporary
 * directory so that no real ~/.aws is read.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "fake_imds.h"
#include "imds.h"
#include "mock_host.h"

#define MS 1000000LL
#define S 1000000000LL

static const char *const aws_env[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_EC2_METADATA_DISABLED", IMDS_ENDPOINT_ENV, IMDS_ENDPOINT_MODE_ENV,
};

static char tmp[64];
static struct mock_host *mh;
static struct fake_imds fake;

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

static void clean_env(void)
{
	for (size_t i = 0; i < sizeof(aws_env) / sizeof(aws_env[0]); i++)
		unsetenv(aws_env[i]);
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
	char aws[96];

	clean_env();
	snprintf(tmp, sizeof(tmp), "/tmp/test_creds.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(aws, sizeof(aws), "%s/.aws", tmp);
	ck_assert_int_eq(mkdir(aws, 0700), 0);
	setenv("HOME", tmp, 1);
	fake_ctl(&fake, "reset", "{}");
	mh = mock_host_new();
	ck_assert_ptr_nonnull(mh);
}

static void teardown(void)
{
	char cmd[128];

	mock_host_free(mh);
	mh = NULL;
	clean_env();
	imds_wipe_hook = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}

/* -- a chain on the mock host --------------------------------------------- */

struct watch {
	int changes;
	int last_rc;
	char key[64];
	int64_t at; /* host->now() of the last change */
};

static struct creds *cr;
static struct watch w;

static void on_change(void *arg)
{
	struct watch *wt = arg;
	const struct creds_keys *k;
	int rc = creds_get(cr, &k, NULL);

	wt->changes++;
	wt->last_rc = rc;
	wt->at = mock_host_table(mh)->now();
	snprintf(wt->key, sizeof(wt->key), "%s", rc == 0 ? k->access_key_id : "");
}

static int chain(struct imds *imds, char *err, size_t errlen)
{
	struct creds_config cfg = {
		.imds = imds,
		.retry_min_ns = 100 * MS,
		.retry_max_ns = 400 * MS,
	};

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(creds_new(mock_host_table(mh), mock_instance(mh), &cfg,
				   on_change, &w, &cr), 0);
	return creds_start(cr, err, errlen);
}

static bool changed_once(void *arg)
{
	return w.changes > 0;
}

static int changes_wanted;

static bool changed_enough(void *arg)
{
	return w.changes >= changes_wanted;
}

static void wait_changes(int n, int64_t ns)
{
	changes_wanted = n;
	ck_assert_msg(mock_host_run_until(mh, changed_enough, NULL, ns),
		      "%d changes, not %d, within %lld ms", w.changes, n,
		      (long long)(ns / MS));
}

static struct imds *client_for(struct fake_imds *f)
{
	struct imds_config cfg = { .endpoint = f->url };
	struct imds *c = NULL;
	char err[256];

	ck_assert_int_eq(imds_new(mock_host_table(mh), mock_instance(mh), &cfg,
				  &c, err, sizeof(err)), 0);
	return c;
}

/* -- environment ----------------------------------------------------------- */

START_TEST(test_env)
{
	const struct creds_keys *k;
	const char *why;
	char err[256];

	setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	       1);
	setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE", 1);
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, &why), 0);
	ck_assert_int_eq(creds_source(cr), CREDS_ENV);
	ck_assert_str_eq(k->access_key_id, "AKIAIOSFODNN7EXAMPLE");
	ck_assert_str_eq(k->secret_access_key,
			 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	ck_assert_str_eq(k->session_token, "FwoGZXIvYXdzEXAMPLE");
	ck_assert_int_eq(k->expiration, 0);
	creds_free(cr);

	/* the older name of the session token, and an expiration */
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_SECURITY_TOKEN", "LegacyToken", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", "2199-01-01T00:00:00Z", 1);
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, NULL), 0);
	ck_assert_str_eq(k->session_token, "LegacyToken");
	ck_assert_int_eq(k->expiration, 7226582400LL);
	creds_free(cr);

	/* expired ones are found, and refused */
	setenv("AWS_CREDENTIAL_EXPIRATION", "2001-01-01T00:00:00Z", 1);
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, &why), -EKEYEXPIRED);
	ck_assert_msg(strstr(why, "environment") &&
		      strstr(why, "2001-01-01T00:00:00Z"), "%s", why);
	/* and said so on the loop */
	ck_assert(mock_host_run_until(mh, changed_once, NULL, 2 * S));
	ck_assert_int_eq(w.last_rc, -EKEYEXPIRED);
	creds_free(cr);
}
END_TEST

START_TEST(test_env_bad)
{
	static const struct {
		const char *id, *secret, *exp, *want;
	} cases[] = {
		{ "AKIAIOSFODNN7EXAMPLE", NULL, NULL,
		  "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not" },
		{ NULL, "s3cr3t", NULL,
		  "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not" },
		{ "akia-not-a-key", "s3cr3t", NULL, "$aws_access_key_id" },
		{ "AKIAIOSFODNN7EXAMPLE", "s3cr3t with spaces", NULL,
		  "$aws_secret_access_key" },
		{ "AKIAIOSFODNN7EXAMPLE", "s3cr3t", "soon",
		  "AWS_CREDENTIAL_EXPIRATION \"soon\"" },
	};
	const char *why;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clean_env();
		if (cases[i].id)
			setenv("AWS_ACCESS_KEY_ID", cases[i].id, 1);
		if (cases[i].secret)
			setenv("AWS_SECRET_ACCESS_KEY", cases[i].secret, 1);
		if (cases[i].exp)
			setenv("AWS_CREDENTIAL_EXPIRATION", cases[i].exp, 1);
		/* a good file does not rescue a broken environment */
		write_file(".aws/credentials", "[default]\n"
			   "aws_access_key_id = AKIAFILE000000000000\n"
			   "aws_secret_access_key = filesecret\n");
		err[0] = '\0';
		ck_assert_int_eq(chain(NULL, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, cases[i].want), "%zu: %s", i, err);
		ck_assert_ptr_null(strstr(err, "s3cr3t"));
		ck_assert_int_eq(creds_get(cr, NULL, &why), -EINVAL);
		ck_assert_str_eq(why, err);
		creds_free(cr);
	}
}
END_TEST

/* -- the INI parser --------------------------------------------------------- */

static const char ini[] =
	"# a comment\n"
	"; another\n"
	"[default]\n"
	"aws_access_key_id = AKIADEFAULT000000000\n"
	"aws_secret_access_key=defaultsecret\n"
	"\n"
	"[ prod ]\r\n"
	"  \r\n"
	"AWS_Access_Key_ID :   AKIAPROD000000000000   \r\n"
	"aws_secret_access_key = prod/secret+key=\r\n"
	"aws_session_token = prodtoken\r\n"
	"region = eu-west-1\n"
	"s3 =\n"
	"    max_concurrent_requests = 20\n"
	"[profile dev]\n"
	"aws_access_key_id = AKIADEV0000000000000\n"
	"aws_secret_access_key = devsecret\n"
	"[role-only]\n"
	"role_arn = arn:aws:iam::123456789012:role/x\n"
	"source_profile = default";

START_TEST(test_ini_profiles)
{
	struct creds_keys k;
	char err[256];

	ck_assert_int_eq(creds_parse_ini(ini, strlen(ini), "default", &k, err,
					 sizeof(err)), 0);
	ck_assert_str_eq(k.access_key_id, "AKIADEFAULT000000000");
	ck_assert_str_eq(k.secret_access_key, "defaultsecret");
	ck_assert_ptr_null(k.session_token);
	creds_keys_clear(&k);

	ck_assert_msg(creds_parse_ini(ini, strlen(ini), "prod", &k, err,
				      sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(k.access_key_id, "AKIAPROD000000000000");
	ck_assert_str_eq(k.secret_access_key, "prod/secret+key=");
	ck_assert_str_eq(k.session_token, "prodtoken");
	creds_keys_clear(&k);

	ck_assert_int_eq(creds_parse_ini(ini, strlen(ini), "profile dev", &k,
					 err, sizeof(err)), 0);
	ck_assert_str_eq(k.access_key_id, "AKIADEV0000000000000");
	creds_keys_clear(&k);

	ck_assert_int_eq(creds_parse_ini(ini, strlen(ini), "dev", &k, err,
					 sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "no [dev]"), "%s", err);
	ck_assert_int_eq(creds_parse_ini(ini, strlen(ini), "role-only", &k, err,
					 sizeof(err)), -ENODATA);
	ck_assert_msg(strstr(err, "line 18"), "%s", err);
	ck_assert_ptr_null(k.access_key_id);
}
END_TEST

static const struct {
	const char *text;
	const char *want;
} bad_ini[] = {
	{ "[default]\naws_access_key_id AKIA\n",
	  "line 2: expected [profile], key = value or a comment" },
	{ "[default\n", "line 1: a section without its ']'" },
	{ "[ ]\n", "line 1: an empty section name" },
	{ "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n[default]\n",
	  "line 1: a key before any [profile]" },
	{ "[default]\n  indented = x\n",
	  "line 2: an indented line that continues nothing" },
	{ "[default]\n= value\n", "line 2: a value without a key" },
	{ "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
	  "aws_secret_access_key = a\n\n[other]\n[default]\n",
	  "line 6: [default] again (first on line 1)" },
	{ "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
	  "aws_access_key_id = AKIAIOSFODNN7EXAMPL2\n",
	  "line 3: aws_access_key_id again (first on line 2)" },
	{ "[default]\naws_access_key_id = akia-lower\n",
	  "line 2: aws_access_key_id \"akia-lower\": want" },
	{ "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
	  "aws_secret_access_key = s3cr3t # the old one\n",
	  "line 3: aws_secret_access_key: want" },
	{ "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
	  "[default] (line 1) has aws_access_key_id but no "
	  "aws_secret_access_key" },
	{ "[default]\naws_secret_access_key = s3cr3t\n",
	  "[default] (line 1) has aws_secret_access_key but no "
	  "aws_access_key_id" },
	{ "[other]\nx = 1\ngarbage\n[default]\n",
	  "line 3: expected [profile]" },
};

START_TEST(test_ini_bad_lines)
{
	struct creds_keys k;
	char err[256] = "";
	int rc;

	rc = creds_parse_ini(bad_ini[_i].text, strlen(bad_ini[_i].text),
			     "default", &k, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(err, bad_ini[_i].want), "\"%s\" not in \"%s\"",
		      bad_ini[_i].want, err);
	ck_assert_ptr_null(strstr(err, "s3cr3t"));
	ck_assert_ptr_null(k.access_key_id);
	ck_assert_ptr_null(k.secret_access_key);
}
END_TEST

START_TEST(test_ini_nul)
{
	static const char text[] = "[default]\naws_access_key_id = A\0B\n";
	struct creds_keys k;
	char err[256];

	ck_assert_int_eq(creds_parse_ini(text, sizeof(text) - 1, "default", &k,
					 err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "line 2: a NUL byte"), "%s", err);
}
END_TEST

/* -- the file in the chain ------------------------------------------------- */

START_TEST(test_file)
{
	const struct creds_keys *k;
	char err[256], path[128];

	/* ~/.aws/credentials, the default profile */
	write_file(".aws/credentials", ini);
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, NULL), 0);
	ck_assert_int_eq(creds_source(cr), CREDS_FILE);
	ck_assert_str_eq(k->access_key_id, "AKIADEFAULT000000000");
	creds_free(cr);

	/* AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE */
	write_file("elsewhere", "[ci]\naws_access_key_id = AKIACI00000000000000\n"
		   "aws_secret_access_key = cisecret\n");
	snprintf(path, sizeof(path), "%s/elsewhere", tmp);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_PROFILE", "ci", 1);
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, NULL), 0);
	ck_assert_str_eq(k->access_key_id, "AKIACI00000000000000");
	creds_free(cr);

	/* ~/ in the variable; AWS_DEFAULT_PROFILE */
	unsetenv("AWS_PROFILE");
	setenv("AWS_DEFAULT_PROFILE", "prod", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", 1);
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, NULL), 0);
	ck_assert_str_eq(k->access_key_id, "AKIAPROD000000000000");
	ck_assert_str_eq(k->session_token, "prodtoken");
	creds_free(cr);

	/* a named profile that is not there stops the chain */
	setenv("AWS_PROFILE", "staging", 1);
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "staging") && strstr(err, "named in the "
		      "environment") && strstr(err, "/.aws/credentials"),
		      "%s", err);
	creds_free(cr);

	/* a bad line names the file and the line */
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_DEFAULT_PROFILE");
	write_file(".aws/credentials", "[default]\nbroken line\n");
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "/.aws/credentials: line 2: expected"), "%s",
		      err);
	creds_free(cr);
}
END_TEST

/* -- order of precedence --------------------------------------------------- */

START_TEST(test_precedence)
{
	const struct creds_keys *k;
	struct imds *imds;
	char err[256];

	imds = client_for(&fake);
	write_file(".aws/credentials", ini);
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000000", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);

	/* environment first */
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, NULL), 0);
	ck_assert_str_eq(k->access_key_id, "AKIAENV0000000000000");
	creds_free(cr);

	/* then the file */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, NULL), 0);
	ck_assert_int_eq(creds_source(cr), CREDS_FILE);
	creds_free(cr);
	/* IMDS was never asked */
	mock_host_run(mh, 100 * MS);
	ck_assert_int_eq(fake_stat(&fake, "token_puts"), 0);

	/* a default profile without keys, or no file: the instance role */
	write_file(".aws/credentials", "[default]\nregion = us-east-1\n");
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, NULL), -EAGAIN);
	ck_assert(mock_host_run_until(mh, changed_once, NULL, 5 * S));
	ck_assert_int_eq(w.last_rc, 0);
	ck_assert_str_eq(w.key, "ASIAFAKEIMDS00000001");
	ck_assert_int_eq(creds_source(cr), CREDS_ROLE);
	creds_free(cr);

	/* IMDS turned off: nothing anywhere */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	ck_assert_int_eq(chain(imds, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "not in the environment") &&
		      strstr(err, "no aws_access_key_id") &&
		      strstr(err, "AWS_EC2_METADATA_DISABLED"), "%s", err);
	creds_free(cr);

	imds_free(imds);
}
END_TEST

/* -- the instance role ------------------------------------------------------ */

START_TEST(test_role_fallback)
{
	const struct creds_keys *k;
	struct imds *imds;
	const char *why;
	char err[256];
	int64_t now = (int64_t)time(NULL);

	imds = client_for(&fake);
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	ck_assert_int_eq(creds_get(cr, &k, &why), -EAGAIN);
	ck_assert_msg(strstr(why, "fetching"), "%s", why);
	ck_assert(mock_host_run_until(mh, changed_once, NULL, 5 * S));
	ck_assert_int_eq(creds_get(cr, &k, NULL), 0);
	ck_assert_str_eq(k->access_key_id, "ASIAFAKEIMDS00000001");
	ck_assert_str_eq(k->secret_access_key,
			 "fakeSecretKey/0000000000000000000000001");
	ck_assert_str_eq(k->session_token, "FakeSessionToken0001");
	ck_assert_int_ge(k->expiration, now + 6 * 3600 - 5);
	/* six hours: nothing more for a while */
	mock_host_run(mh, 300 * MS);
	ck_assert_int_eq(w.changes, 1);
	ck_assert_int_eq(fake_stat(&fake, "paths/iam/security-credentials/"
					  "strata-node"), 1);
	creds_free(cr);
	imds_free(imds);
}
END_TEST

/* No role yet: an error after -EAGAIN, retried until one is attached. */
START_TEST(test_role_later)
{
	struct imds *imds;
	const char *why;
	char err[256];

	fake_ctl(&fake, "role", "{\"name\": null}");
	imds = client_for(&fake);
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	wait_changes(1, 5 * S);
	ck_assert_int_eq(w.last_rc, -ENOENT);
	ck_assert_int_eq(creds_get(cr, NULL, &why), -ENOENT);
	ck_assert_msg(strstr(why, "no IAM role") &&
		      strstr(why, "not in the environment"), "%s", why);
	fake_ctl(&fake, "role", "{\"name\": \"late-role\"}");
	wait_changes(2, 5 * S);
	ck_assert_int_eq(w.last_rc, 0);
	ck_assert_str_eq(w.key, "ASIAFAKEIMDS00000001");
	creds_free(cr);
	imds_free(imds);
}
END_TEST

START_TEST(test_refresh_at)
{
	const int64_t min = 60 * S, h = 3600 * S;

	/* six hours: 15 minutes before */
	ck_assert_int_eq(creds_refresh_at(1000 * S, 1000 * S + 6 * h),
			 1000 * S + 6 * h - 15 * min);
	ck_assert_int_eq(creds_refresh_at(0, 30 * min), 15 * min);
	/* shorter than 30 minutes: at half */
	ck_assert_int_eq(creds_refresh_at(0, 20 * min), 10 * min);
	ck_assert_int_eq(creds_refresh_at(5 * S, 9 * S), 7 * S);
	ck_assert_int_eq(creds_refresh_at(5 * S, 4 * S), 5 * S);
}
END_TEST

/* 4 s credentials are refreshed at about half their life. */
START_TEST(test_role_refresh)
{
	struct imds *imds;
	char err[256];
	int64_t t0, dt;

	fake_ctl(&fake, "creds", "{\"expires_in\": 4}");
	imds = client_for(&fake);
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	wait_changes(1, 5 * S);
	t0 = w.at;
	ck_assert_str_eq(w.key, "ASIAFAKEIMDS00000001");
	fake_ctl(&fake, "creds", "{\"AccessKeyId\": \"ASIAFAKEIMDS00000002\", "
		 "\"expires_in\": 600}");
	wait_changes(2, 5 * S);
	dt = w.at - t0;
	ck_assert_str_eq(w.key, "ASIAFAKEIMDS00000002");
	/* Expiration has whole seconds: the life was 3 to 4 s */
	ck_assert_msg(dt >= 1300 * MS && dt <= 2300 * MS, "refreshed after %lld ms",
		      (long long)(dt / MS));
	ck_assert_int_eq(fake_stat(&fake, "paths/iam/security-credentials/"
					  "strata-node"), 2);
	creds_free(cr);
	imds_free(imds);
}
END_TEST

/* A failing refresh keeps the old keys until they expire, backs off, and
 * recovers. */
START_TEST(test_role_refresh_fails)
{
	const struct creds_keys *k;
	struct imds *imds;
	const char *path = "iam/security-credentials/strata-node";
	const char *why;
	char err[256];
	long tries;

	fake_ctl(&fake, "creds", "{\"expires_in\": 3}");
	imds = client_for(&fake);
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	wait_changes(1, 5 * S);
	ck_assert_int_eq(w.last_rc, 0);
	fake_ctl(&fake, "fail", "{\"path\": \"%s\", \"status\": 500}", path);
	/* the refresh fails; the keys stay until they expire */
	mock_host_run(mh, 1200 * MS);
	ck_assert_int_eq(w.changes, 1);
	wait_changes(2, 4 * S);
	ck_assert_int_eq(w.last_rc, -EKEYEXPIRED);
	/* more failures change nothing but the reason */
	mock_host_run(mh, 900 * MS);
	ck_assert_int_eq(w.changes, 2);
	ck_assert_int_eq(creds_get(cr, &k, &why), -EKEYEXPIRED);
	ck_assert_msg(strstr(why, "expired at") && strstr(why, "status 500"),
		      "%s", why);
	ck_assert_int_eq(mock_host_log_count(mh, STRATA_LOG_ERR), 1);
	/* retried with backoff: 100, 200, 400, 400 ms... not more often */
	tries = fake_stat(&fake, "paths/iam/security-credentials/strata-node");
	ck_assert_msg(tries >= 4 && tries <= 24, "%ld fetches", tries);
	/* recovery */
	fake_ctl(&fake, "fail", "{\"path\": \"%s\"}", path);
	fake_ctl(&fake, "creds", "{\"AccessKeyId\": \"ASIAFAKEIMDS00000003\", "
		 "\"expires_in\": 600}");
	wait_changes(3, 3 * S);
	ck_assert_int_eq(w.last_rc, 0);
	ck_assert_str_eq(w.key, "ASIAFAKEIMDS00000003");
	creds_free(cr);
	imds_free(imds);
}
END_TEST

/* -- secrets ----------------------------------------------------------- */

/* lengths no other buffer of the test has */
#define WIPE_SECRET "fakeSecretKey/000000000000000000000000000000001"
#define WIPE_TOKEN "FakeSessionTokenOfAnUnusualLength00001"

static size_t wiped_dirty, wiped_secret, wiped_token;

static void wipe_hook(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i]) {
			wiped_dirty++;
			break;
		}
	/* the buffers that held them, by their length */
	if (len == strlen(WIPE_SECRET))
		wiped_secret++;
	if (len == strlen(WIPE_TOKEN))
		wiped_token++;
}

START_TEST(test_secrets_zeroed)
{
	struct imds *imds;
	char err[256];

	fake_ctl(&fake, "creds", "{\"expires_in\": 2, \"SecretAccessKey\": "
		 "\"%s\", \"Token\": \"%s\"}", WIPE_SECRET, WIPE_TOKEN);
	imds = client_for(&fake);
	wiped_dirty = wiped_secret = wiped_token = 0;
	imds_wipe_hook = wipe_hook;
	ck_assert_int_eq(chain(imds, err, sizeof(err)), 0);
	wait_changes(1, 5 * S);
	/* the parser's copies are gone already */
	ck_assert_uint_ge(wiped_secret, 1);
	wiped_secret = wiped_token = 0;
	/* replaced: the old ones are wiped */
	fake_ctl(&fake, "creds", "{\"expires_in\": 600}");
	wait_changes(2, 5 * S);
	ck_assert_uint_ge(wiped_secret, 2); /* the old keys and the parser's */
	ck_assert_uint_ge(wiped_token, 2);
	wiped_secret = wiped_token = 0;
	creds_free(cr);
	ck_assert_uint_eq(wiped_secret, 1);
	ck_assert_uint_eq(wiped_token, 1);
	ck_assert_uint_eq(wiped_dirty, 0);
	imds_free(imds);

	/* the file's buffer and its keys */
	write_file(".aws/credentials", "[default]\n"
		   "aws_access_key_id = AKIAFILE000000000000\n"
		   "aws_secret_access_key = " WIPE_SECRET "\n");
	wiped_secret = 0;
	ck_assert_int_eq(chain(NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(wiped_secret, 0);
	creds_free(cr);
	ck_assert_uint_eq(wiped_secret, 1);
	ck_assert_uint_eq(wiped_dirty, 0);
}
END_TEST

static Suite *creds_suite(void)
{
	Suite *s = suite_create("creds");
	TCase *t = tcase_create("chain");

	tcase_add_unchecked_fixture(t, fake_up, fake_down);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, test_env);
	tcase_add_test(t, test_env_bad);
	tcase_add_test(t, test_ini_profiles);
	tcase_add_loop_test(t, test_ini_bad_lines, 0,
			    sizeof(bad_ini) / sizeof(bad_ini[0]));
	tcase_add_test(t, test_ini_nul);
	tcase_add_test(t, test_file);
	tcase_add_test(t, test_precedence);
	tcase_add_test(t, test_role_fallback);
	tcase_add_test(t, test_role_later);
	tcase_add_test(t, test_refresh_at);
	tcase_add_test(t, test_role_refresh);
	tcase_add_test(t, test_role_refresh_fails);
	tcase_add_test(t, test_secrets_zeroed);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(creds_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
