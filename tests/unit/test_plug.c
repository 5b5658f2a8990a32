/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin loader against the fixture plugins of tests/abi/, checked by
 * tests/abi/plugcheck. Needs root: the loader accepts only root-owned
 * files, and the permission tests chown.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plug.h"

static char checker[PATH_MAX];
static char tmpdir[1024];

static const char *builddir(void)
{
	const char *d = getenv("top_builddir");

	return d && *d ? d : ".";
}

/* The built shared object of tests/abi/fixture-NAME.la. */
static const char *fixture(const char *name)
{
	static char path[4][PATH_MAX];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, PATH_MAX, "%s/tests/abi/.libs/fixture-%s.so", builddir(),
		 name);
	ck_assert_msg(access(p, R_OK) == 0,
		      "%s is not built: build the check targets first", p);
	return p;
}

static const char *tmp(const char *name)
{
	static char path[4][PATH_MAX];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

/* A sanitizer build's checker would catch the fixture's SIGSEGV itself
 * and exit 1: let the signal kill it, as it does outside sanitizers. */
static void sanitizers_let_crash(void)
{
	static const char *const vars[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS" };
	char opts[1024];
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *old = getenv(vars[i]);

		if (old && strstr(old, "handle_segv=0"))
			continue;
		snprintf(opts, sizeof(opts), "%s%shandle_segv=0",
			 old ? old : "", old && *old ? ":" : "");
		setenv(vars[i], opts, 1);
	}
}

static void setup(void)
{
	snprintf(checker, sizeof(checker), "%s/tests/abi/plugcheck",
		 builddir());
	plug_checker = checker;
	sanitizers_let_crash();
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_plug.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = open(from, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(out, 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(fchmod(out, mode), 0);
	close(out);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* plug_check() refuses path with exactly "PATH: rest". */
static int expect_refused(const char *path, const char *rest)
{
	struct plug_info *info = (struct plug_info *)&info;
	char err[1024], want[2048];
	int r;

	r = plug_check(path, &info, err, sizeof(err));
	ck_assert_int_lt(r, 0);
	ck_assert_ptr_null(info);
	snprintf(want, sizeof(want), "%s: %s", path, rest);
	ck_assert_str_eq(err, want);
	return r;
}

static struct plug_info *expect_pass(const char *path)
{
	struct plug_info *info = NULL;
	char err[1024] = "";
	int r;

	r = plug_check(path, &info, err, sizeof(err));
	ck_assert_msg(r == 0, "%s refused (%d): %s", path, r, err);
	ck_assert_ptr_nonnull(info);
	ck_assert_str_eq(info->path, path);
	return info;
}

static bool loaded_here(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (!h)
		return false;
	dlclose(h);
	return true;
}

/* -- plugins that pass ------------------------------------------------- */

static const struct strata_cfg_key good_config[] = {
	{ "enabled", STRATA_CFG_BOOL, 0, "true", 0, 0, "turn it on" },
	{ "port", STRATA_CFG_INT, STRATA_CFG_REQUIRED, NULL, 1, 65535,
	  "TCP port" },
	{ "offset", STRATA_CFG_INT, 0, "-5", INT64_MIN, INT64_MAX, NULL },
	{ "peer_name", STRATA_CFG_STRING, 0, "", 0, 0, "a name, \"quoted\"" },
	{ "neighbors", STRATA_CFG_STRINGS, 0, NULL, 0, 0, "peers" },
	{ "hold-time", STRATA_CFG_DURATION, 0, "90s", 3000000000LL,
	  65535000000000LL, "BGP hold time" },
};

static void expect_str_or_null(const char *got, const char *want)
{
	if (!want)
		ck_assert_ptr_null(got);
	else
		ck_assert_str_eq(got, want);
}

static void expect_good_info(const struct plug_info *info)
{
	size_t i, n = sizeof(good_config) / sizeof(good_config[0]);

	ck_assert_uint_eq(info->abi_major, STRATA_ABI_MAJOR);
	ck_assert_uint_eq(info->abi_minor, STRATA_ABI_MINOR);
	ck_assert_uint_eq(info->size, sizeof(struct strata_plugin));
	ck_assert_uint_eq(info->kind, STRATA_KIND_ADVERTISER);
	ck_assert_str_eq(info->name, "good");
	ck_assert_str_eq(info->version, "1.2.3");
	ck_assert_str_eq(info->description,
			 "a fixture that passes every check");
	ck_assert_uint_eq(info->n_config, n);
	for (i = 0; i < n; i++) {
		const struct strata_cfg_key *k = &info->config[i];
		const struct strata_cfg_key *w = &good_config[i];

		ck_assert_str_eq(k->name, w->name);
		ck_assert_uint_eq(k->type, w->type);
		ck_assert_uint_eq(k->flags, w->flags);
		expect_str_or_null(k->def, w->def);
		ck_assert_int_eq(k->min, w->min);
		ck_assert_int_eq(k->max, w->max);
		expect_str_or_null(k->help, w->help);
	}
	ck_assert_ptr_null(info->config[n].name);
}

START_TEST(test_good_check_then_load)
{
	const char *path = fixture("good");
	struct plug_info *info;
	struct plug *p = NULL;
	char err[1024] = "";

	info = expect_pass(path);
	expect_good_info(info);
	/* Checked in the child only: nothing of it ran here. */
	ck_assert(!loaded_here(path));
	ck_assert_ptr_null(getenv("STRATA_FIXTURE_GOOD_CTOR"));

	ck_assert_msg(plug_load(info, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(p);
	ck_assert(loaded_here(path));
	ck_assert_str_eq(getenv("STRATA_FIXTURE_GOOD_CTOR"), "ran");
	/* Loaded, but not one op called. */
	ck_assert_ptr_null(getenv("STRATA_FIXTURE_OP"));
	ck_assert_ptr_eq(p->desc, dlsym(p->handle, STRATA_PLUGIN_ENTRY_NAME));
	ck_assert_str_eq(p->desc->name, "good");
	ck_assert_ptr_nonnull(p->desc->ops->create);
	/* The record owns a copy of the info. */
	ck_assert_ptr_ne(p->info, info);
	plug_info_free(info);
	expect_good_info(p->info);
	plug_free(p);
}
END_TEST

START_TEST(test_other_kinds_pass)
{
	static const struct {
		const char *fixture;
		uint32_t kind;
		const char *description;
		size_t n_config;
	} cases[] = {
		{ "cxx", STRATA_KIND_HEALTHCHECK, "a fixture written in C++",
		  1 },
		{ "ipam", STRATA_KIND_IPAM, NULL, 0 },
		{ "frontend", STRATA_KIND_FRONTEND, "a front end", 0 },
		{ "policy", STRATA_KIND_POLICY, "a policy plugin", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct plug_info *info = expect_pass(fixture(cases[i].fixture));
		struct plug *p = NULL;
		char err[1024] = "";

		ck_assert_str_eq(info->name, cases[i].fixture);
		ck_assert_uint_eq(info->kind, cases[i].kind);
		expect_str_or_null(info->description, cases[i].description);
		ck_assert_uint_eq(info->n_config, cases[i].n_config);
		ck_assert_msg(plug_load(info, &p, err, sizeof(err)) == 0,
			      "%s", err);
		ck_assert_str_eq(p->desc->name, cases[i].fixture);
		plug_free(p);
		plug_info_free(info);
	}
}
END_TEST

START_TEST(test_cxx_config)
{
	struct plug_info *info = expect_pass(fixture("cxx"));

	ck_assert_str_eq(info->config[0].name, "timeout");
	ck_assert_uint_eq(info->config[0].type, STRATA_CFG_DURATION);
	ck_assert_str_eq(info->config[0].def, "1s");
	ck_assert_str_eq(plug_kind_name(info->kind), "healthcheck");
	plug_info_free(info);
}
END_TEST

/* -- a plugin of ABI 1.0 in this core ---------------------------------- */

/*
 * tests/abi/fixture-abi-1-0 is built against the frozen 1.0 headers alone.
 * It must pass the checks, load, and run on a host table of the live
 * headers, reaching its entries at the offsets of 1.0 up to the last one.
 */
struct strata_instance {
	const char *name;
};

static struct {
	char log[256];
	int64_t answer;
	int owner, synced, status_int;
	struct strata_route set, replaced;
	char status_str[32];
	int64_t metric_added, observed_ns;
	char observed[64], deleted[64];
} seen;

static const char *v10_instance_name(struct strata_instance *inst)
{
	return inst->name;
}

static void v10_vlog(struct strata_instance *inst, int level,
		     const char *fmt, va_list ap)
{
	(void)inst;
	(void)level;
	vsnprintf(seen.log, sizeof(seen.log), fmt, ap);
}

__attribute__((format(printf, 3, 4))) static void
v10_log(struct strata_instance *inst, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	v10_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static int v10_cfg_int(struct strata_instance *inst, const char *key,
		       int64_t *out)
{
	(void)inst;
	if (strcmp(key, "answer") != 0)
		return -ENOENT;
	*out = 42;
	return 0;
}

static int v10_cfg_duration(struct strata_instance *inst, const char *key,
			    int64_t *out_ns)
{
	(void)inst;
	if (strcmp(key, "period") != 0)
		return -ENOENT;
	*out_ns = 30000000000LL;
	return 0;
}

static int v10_route_owner(struct strata_instance *inst)
{
	(void)inst;
	seen.owner++;
	return 0;
}

static int v10_route_set(struct strata_instance *inst,
			 const struct strata_route *route)
{
	(void)inst;
	ck_assert_uint_ge(route->size, sizeof(*route));
	seen.set = *route;
	return 0;
}

static int v10_route_synced(struct strata_instance *inst)
{
	(void)inst;
	seen.synced++;
	return 0;
}

static int v10_kroute_replace(struct strata_instance *inst,
			      const struct strata_route *route)
{
	(void)inst;
	seen.replaced = *route;
	return 0;
}

static int v10_metric_add(struct strata_instance *inst, const char *name,
			  int64_t delta)
{
	(void)inst;
	ck_assert_str_eq(name, "fixture_reconciles");
	seen.metric_added += delta;
	return 0;
}

static int v10_metric_observe(struct strata_instance *inst, const char *name,
			      int64_t ns)
{
	(void)inst;
	snprintf(seen.observed, sizeof(seen.observed), "%s", name);
	seen.observed_ns = ns;
	return 0;
}

static int v10_metric_delete(struct strata_instance *inst, const char *name)
{
	(void)inst;
	snprintf(seen.deleted, sizeof(seen.deleted), "%s", name);
	return 0;
}

static void v10_status_str(struct strata_status *st, const char *key,
			   const char *value)
{
	(void)st;
	ck_assert_str_eq(key, "state");
	snprintf(seen.status_str, sizeof(seen.status_str), "%s", value);
}

static void v10_status_int(struct strata_status *st, const char *key,
			   int64_t value)
{
	(void)st;
	ck_assert_str_eq(key, "reconciled");
	seen.status_int = (int)value;
}

/* Only what the fixture calls; a call elsewhere crashes the test. */
static const struct strata_host v10_host = {
	.size = sizeof(struct strata_host),
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.log = v10_log,
	.vlog = v10_vlog,
	.instance_name = v10_instance_name,
	.cfg_int = v10_cfg_int,
	.cfg_duration = v10_cfg_duration,
	.kroute_replace = v10_kroute_replace,
	.route_owner = v10_route_owner,
	.route_set = v10_route_set,
	.route_synced = v10_route_synced,
	.metric_add = v10_metric_add,
	.status_str = v10_status_str,
	.status_int = v10_status_int,
	.metric_observe = v10_metric_observe,
	.metric_delete = v10_metric_delete,
};

START_TEST(test_abi_1_0_plugin_runs)
{
	const char *path = fixture("abi-1-0");
	struct strata_instance inst = { "old" };
	const struct strata_advertiser_ops *adv;
	const struct strata_route *desired[1];
	const struct strata_plugin *d;
	struct strata_route r;
	struct plug_info *info;
	struct plug *p = NULL;
	char err[1024] = "";
	void *self = NULL;

	info = expect_pass(path);
	ck_assert_uint_eq(info->abi_major, 1);
	ck_assert_uint_eq(info->abi_minor, 0);
	ck_assert_uint_eq(info->size, 64);
	ck_assert_uint_eq(info->kind, STRATA_KIND_ADVERTISER);
	ck_assert_str_eq(info->name, "abi-1-0");
	ck_assert_uint_eq(info->n_config, 2);
	ck_assert_str_eq(info->config[0].name, "answer");
	ck_assert_uint_eq(info->config[0].type, STRATA_CFG_INT);
	ck_assert_int_eq(info->config[0].max, 100);
	ck_assert_str_eq(info->config[1].def, "30s");
	ck_assert_msg(plug_load(info, &p, err, sizeof(err)) == 0, "%s", err);
	plug_info_free(info);
	d = p->desc;
	adv = d->kind_ops;
	ck_assert_uint_eq(d->ops->size, 56);
	ck_assert_uint_eq(adv->size, 32);

	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(d->ops->create(&v10_host, &inst, &self), 0);
	ck_assert_ptr_nonnull(self);
	ck_assert_str_eq(seen.log, "old: answer 42, period 30000000000 ns");
	ck_assert_int_eq(seen.owner, 1);

	ck_assert_int_eq(d->ops->start(self), 0);
	ck_assert_int_eq(seen.synced, 1);
	ck_assert_uint_eq(seen.set.size, sizeof(struct strata_route));
	ck_assert_uint_eq(seen.set.scope, STRATA_SCOPE_KERNEL);
	ck_assert_uint_eq(seen.set.dst.family, STRATA_AF_INET);
	ck_assert_uint_eq(seen.set.dst.len, 16);
	ck_assert_uint_eq(seen.set.dst.addr[1], 1);
	ck_assert_uint_eq(seen.set.table, 7);
	ck_assert_uint_eq(seen.set.metric, 20);
	ck_assert_uint_eq(seen.set.n_nexthops, 1);
	ck_assert_uint_eq(seen.set.nh[0].gw.addr[3], 1);
	ck_assert_str_eq(seen.set.nh[0].ifname, "eth0");
	ck_assert_uint_eq(seen.set.nh[0].weight, 3);

	ck_assert_uint_eq(adv->scopes(self), STRATA_SCOPE_KERNEL);
	r = seen.set;
	r.dst.addr[1] = 2;
	r.nh[0].weight = 9;
	desired[0] = &r;
	ck_assert_int_eq(adv->reconcile(self, desired, 1,
					STRATA_RECONCILE_MAY_DELETE),
			 0);
	ck_assert_int_eq(memcmp(&seen.replaced, &r, sizeof(r)), 0);
	ck_assert_int_eq(seen.metric_added, 1);

	d->ops->status(self, NULL);
	ck_assert_str_eq(seen.status_str, "running");
	ck_assert_int_eq(seen.status_int, 1);

	ck_assert_int_eq(d->ops->stop(self), 0);
	ck_assert_str_eq(seen.observed, "fixture_run_seconds");
	ck_assert_int_eq(seen.observed_ns, 1500000);
	ck_assert_str_eq(seen.deleted, "fixture_reconciles");
	d->ops->destroy(self);
	plug_free(p);
}
END_TEST

/* -- a plugin of ABI 1.1 in a core of 1.0 ------------------------------ */

/*
 * tests/abi/plugcheck-abi-1-0 is the loader of the last 1.0 commit (tag
 * abi-1.0, kept verbatim in tests/abi/1.0/loader) built against the 1.0
 * headers alone: the whole load path of a 1.0 core, its checking child
 * included. Run as --check-load FILE, it prints what the daemon would
 * have logged.
 */
static void run_1_0_core(const char *plugin, char *out, size_t len,
			 int *status)
{
	char cmd[2 * PATH_MAX + 64];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s/tests/abi/plugcheck-abi-1-0' "
		 "--check-load '%s'", builddir(), plugin);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	ck_assert(WIFEXITED(st));
	*status = WEXITSTATUS(st);
}

START_TEST(test_1_0_core_loads_1_0)
{
	char out[2048], want[PATH_MAX + 64];
	int status;

	/* The old core works: a 1.0 plugin loads. */
	run_1_0_core(fixture("abi-1-0"), out, sizeof(out), &status);
	ck_assert_int_eq(status, 0);
	snprintf(want, sizeof(want), "loaded abi-1-0 advertiser\n");
	ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(test_1_0_core_refuses_1_1_policy)
{
	const char *path = fixture("policy");
	char out[2048], want[PATH_MAX + 128];
	int status;

	/* This core runs it ... */
	plug_info_free(expect_pass(path));
	/* ... a 1.0 core refuses it, in one line, before its kind. */
	run_1_0_core(path, out, sizeof(out), &status);
	ck_assert_int_eq(status, 1);
	snprintf(want, sizeof(want),
		 "refused %s: abi minor: expected at most 0, found 1\n", path);
	ck_assert_str_eq(out, want);
}
END_TEST

/* -- refusals, one fixture each ---------------------------------------- */

static const struct {
	const char *fixture;
	const char *line;
} refusals[] = {
	{ "bad-magic", "magic: expected 0x53545241, found 0x41525453" },
	{ "major", "abi major: expected 1, found 2" },
	/* A plugin of 1.2 in a host of 1.1. */
	{ "minor", "abi minor: expected at most 1, found 2" },
	{ "short", "size: expected at least 64, found 40" },
	{ "no-create", "ops create: expected a function, found NULL" },
	{ "no-symbol", "symbol: expected strata_plugin_v1, found none" },
	{ "bad-kind", "kind: expected ipam, advertiser, healthcheck, "
		      "frontend or policy, found 9" },
	{ "bad-name", "name: expected [a-z0-9][a-z0-9-]* of at most 32 "
		      "characters, found \"Bad_Name\"" },
	{ "no-reconcile",
	  "advertiser ops reconcile: expected a function, found NULL" },
	{ "no-kind-ops",
	  "kind ops: expected struct strata_healthcheck_ops, found NULL" },
	{ "bad-config", "config[1] type: expected 1 to 5, found 42" },
	{ "cfg-unnamed", "config[1] name: expected a key name (or an "
			 "all-zero end), found NULL with type 3" },
	{ "cfg-unterminated", "config: expected at most 256 keys ended by a "
			      "NULL name, found more" },
	{ "crash", "check: crashed with signal 11 while loading" },
	{ "policy-no-attach",
	  "policy ops pod_attach: expected a function, found NULL" },
	{ "policy-short", "policy ops size: expected at least 32, found 16" },
};

START_TEST(test_refusal)
{
	_Static_assert(STRATA_ABI_MAJOR == 1 && STRATA_ABI_MINOR == 1,
		       "the expected lines are written for ABI 1.1");
	ck_assert_int_eq(expect_refused(fixture(refusals[_i].fixture),
					refusals[_i].line),
			 -EINVAL);
}
END_TEST

START_TEST(test_undefined_symbol)
{
	const char *path = fixture("undefined");
	struct plug_info *info = NULL;
	char err[1024], want[PATH_MAX + 128];

	ck_assert_int_eq(plug_check(path, &info, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(info);
	snprintf(want, sizeof(want),
		 "%s: dlopen: expected a loadable shared object, found \"",
		 path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "undefined symbol: "
					  "fx_missing_function\""));
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(test_crash_leaves_daemon_alone)
{
	const char *path = fixture("crash");
	struct plug_info *info = NULL;
	char err[1024];

	ck_assert_int_eq(plug_check(path, &info, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "crashed with signal 11"));
	/* Its constructor ran in the child only, and it is not mapped here. */
	ck_assert_ptr_null(getenv("STRATA_FIXTURE_CRASH_CTOR"));
	ck_assert(!loaded_here(path));
	/* And the loader still works. */
	info = expect_pass(fixture("ipam"));
	plug_info_free(info);
}
END_TEST

START_TEST(test_hang_times_out)
{
	struct timespec a, b;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(expect_refused(fixture("hang"),
					"check: timed out after 5 s while "
					"loading"),
			 -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_msg(s > 4.5 && s < 9, "took %.1f s", s);
	ck_assert(!loaded_here(fixture("hang")));
}
END_TEST

START_TEST(test_duplicate_name)
{
	struct plug_info *infos[3];
	char err[1024], want[2 * PATH_MAX];

	infos[0] = expect_pass(fixture("dup-a"));
	infos[1] = expect_pass(fixture("dup-b"));
	infos[2] = expect_pass(fixture("good"));
	ck_assert_str_eq(infos[0]->name, "dup");
	ck_assert_str_eq(infos[1]->name, "dup");

	ck_assert_int_eq(plug_check_unique(infos, 3, err, sizeof(err)),
			 -EEXIST);
	snprintf(want, sizeof(want),
		 "%s: unique name: expected a name no other plugin has, "
		 "found \"dup\" also in %s",
		 infos[1]->path, infos[0]->path);
	ck_assert_str_eq(err, want);

	/* Different names, or the same file twice, are fine. */
	ck_assert_int_eq(plug_check_unique(infos + 1, 2, err, sizeof(err)), 0);
	plug_info_free(infos[1]);
	infos[1] = infos[0];
	ck_assert_int_eq(plug_check_unique(infos, 2, err, sizeof(err)), 0);
	plug_info_free(infos[0]);
	plug_info_free(infos[2]);
}
END_TEST

START_TEST(test_duplicate_through_symlink)
{
	struct plug_info *infos[2];
	char err[1024];

	ck_assert_int_eq(symlink(fixture("dup-a"), tmp("link.so")), 0);
	infos[0] = expect_pass(fixture("dup-a"));
	infos[1] = expect_pass(tmp("link.so"));
	/* Two names for one file: one plugin, not two. */
	ck_assert_int_eq(plug_check_unique(infos, 2, err, sizeof(err)), 0);
	plug_info_free(infos[0]);
	plug_info_free(infos[1]);
}
END_TEST

/* -- files ------------------------------------------------------------- */

START_TEST(test_not_elf)
{
	const char *path = tmp("text.so");
	struct plug_info *info = NULL;
	char err[1024];

	write_file(path,
		   "This is not a shared object, though its name says so;\n"
		   "it is long enough to be read as far as an ELF header.\n",
		   0644);
	ck_assert_int_eq(plug_check(path, &info, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(info);
	ck_assert_msg(strstr(err, ": dlopen: expected a loadable shared "
				  "object, found \"") != NULL,
		      "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "invalid ELF header"));
	ck_assert_int_eq(strncmp(err, path, strlen(path)), 0);
}
END_TEST

START_TEST(test_missing_file)
{
	expect_refused(tmp("nothing.so"),
		       "open: expected a readable file, found No such file or "
		       "directory");
}
END_TEST

START_TEST(test_not_regular)
{
	ck_assert_int_eq(mkdir(tmp("dir.so"), 0755), 0);
	expect_refused(tmp("dir.so"),
		       "type: expected a regular file, found a directory");
	/* A fifo must not block the open. */
	ck_assert_int_eq(mkfifo(tmp("fifo.so"), 0644), 0);
	expect_refused(tmp("fifo.so"),
		       "type: expected a regular file, found a fifo");
}
END_TEST

START_TEST(test_owner)
{
	const char *path = tmp("owned.so");
	struct plug_info *info;

	copy_file(fixture("good"), path, 0644);
	info = expect_pass(path);
	plug_info_free(info);
	ck_assert_int_eq(chown(path, 65534, 0), 0);
	expect_refused(path, "owner: expected uid 0, found uid 65534");
}
END_TEST

START_TEST(test_mode)
{
	const char *path = tmp("mode.so");

	copy_file(fixture("good"), path, 0664);
	expect_refused(path, "mode: expected not group- or world-writable, "
			     "found 0664");
	ck_assert_int_eq(chmod(path, 0646), 0);
	expect_refused(path, "mode: expected not group- or world-writable, "
			     "found 0646");
	ck_assert_int_eq(chmod(path, 0755), 0);
	plug_info_free(expect_pass(path));
}
END_TEST

START_TEST(test_symlink)
{
	struct plug_info *info;

	/* The file a link leads to is what is checked, under the link's
	 * name. */
	copy_file(fixture("good"), tmp("target.so"), 0644);
	ck_assert_int_eq(symlink(tmp("target.so"), tmp("ok-link.so")), 0);
	info = expect_pass(tmp("ok-link.so"));
	ck_assert_str_eq(info->name, "good");
	plug_info_free(info);

	ck_assert_int_eq(chown(tmp("target.so"), 65534, 0), 0);
	expect_refused(tmp("ok-link.so"),
		       "owner: expected uid 0, found uid 65534");

	ck_assert_int_eq(symlink(tmp("gone.so"), tmp("dangling.so")), 0);
	expect_refused(tmp("dangling.so"),
		       "open: expected a readable file, found No such file or "
		       "directory");
}
END_TEST

/* -- plug_load() checks again ----------------------------------------- */

static void swap_str(char **s, const char *v)
{
	free(*s);
	*s = strdup(v);
	ck_assert_ptr_nonnull(*s);
}

START_TEST(test_load_rechecks_identity)
{
	const char *path = fixture("ipam");
	struct plug_info *info = expect_pass(path);
	struct plug *p = (struct plug *)&p;
	char err[1024], want[PATH_MAX + 256];

	swap_str(&info->name, "other");
	ck_assert_int_eq(plug_load(info, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(p);
	snprintf(want, sizeof(want),
		 "%s: recheck name: expected \"other\" as checked, found "
		 "\"ipam\"",
		 path);
	ck_assert_str_eq(err, want);

	swap_str(&info->name, "ipam");
	info->kind = STRATA_KIND_FRONTEND;
	ck_assert_int_eq(plug_load(info, &p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s: recheck kind: expected frontend as checked, found ipam",
		 path);
	ck_assert_str_eq(err, want);

	info->kind = STRATA_KIND_IPAM;
	swap_str(&info->version, "1.0");
	ck_assert_int_eq(plug_load(info, &p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s: recheck version: expected \"1.0\" as checked, found "
		 "\"0.9\"",
		 path);
	ck_assert_str_eq(err, want);

	swap_str(&info->version, "0.9");
	ck_assert_int_eq(plug_load(info, &p, err, sizeof(err)), 0);
	plug_free(p);
	plug_info_free(info);
}
END_TEST

START_TEST(test_load_rechecks_file)
{
	struct plug_info *info = expect_pass(fixture("frontend"));
	struct plug *p = NULL;
	char err[1024], want[PATH_MAX + 256];

	/* The file changed hands after the check: refused before dlopen. */
	swap_str(&info->path, tmp("frontend.so"));
	copy_file(fixture("frontend"), info->path, 0644);
	ck_assert_int_eq(chown(info->path, 65534, 0), 0);
	ck_assert_int_eq(plug_load(info, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(p);
	snprintf(want, sizeof(want),
		 "%s: owner: expected uid 0, found uid 65534", info->path);
	ck_assert_str_eq(err, want);
	ck_assert(!loaded_here(info->path));

	/* The checked file replaced by another under the same path: refused
	 * before dlopen, so its constructors never run here. */
	plug_info_free(info);
	copy_file(fixture("frontend"), tmp("swapped.so"), 0644);
	info = expect_pass(tmp("swapped.so"));
	ck_assert_int_eq(unlink(tmp("swapped.so")), 0);
	copy_file(fixture("crash"), tmp("swapped.so"), 0644);
	ck_assert_int_eq(plug_load(info, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err, ": recheck file: expected the file checked") != NULL,
		      "%s", err);
	ck_assert(!loaded_here(tmp("swapped.so")));

	/* Another plugin under the checked path: the identity check refuses
	 * it before its descriptor is even read. */
	swap_str(&info->path, fixture("minor"));
	ck_assert_int_eq(plug_load(info, &p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: recheck file: expected the file checked",
		 info->path);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "%s", err);
	plug_info_free(info);
}
END_TEST

/* -- a checker that lies ----------------------------------------------- */

static void fake_checker(const char *script)
{
	static char path[PATH_MAX];
	char text[4096];

	snprintf(path, sizeof(path), "%s", tmp("checker.sh"));
	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", script);
	write_file(path, text, 0755);
	plug_checker = path;
}

static void report_field(FILE *f, const char *key, const char *val)
{
	if (val)
		fprintf(f, "%s %zu:%s\n", key, strlen(val), val);
	else
		fprintf(f, "%s -\n", key);
}

/* A report as the child writes it, with a kind of our choosing. */
static void fake_report(const char *path, const char *kind,
			const char *trailer)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	report_field(f, "report", "1");
	report_field(f, "result", "pass");
	report_field(f, "abi_major", STRATA_STR(STRATA_ABI_MAJOR));
	report_field(f, "abi_minor", STRATA_STR(STRATA_ABI_MINOR));
	report_field(f, "size", "64");
	report_field(f, "kind", kind);
	report_field(f, "file_dev", "1");
	report_field(f, "file_ino", "1");
	report_field(f, "file_size", "1");
	report_field(f, "file_mtime", "1");
	report_field(f, "file_ctime", "1");
	report_field(f, "name", "liar");
	report_field(f, "version", "1");
	report_field(f, "description", NULL);
	report_field(f, "config", "1");
	report_field(f, "key_name", "port");
	report_field(f, "key_type", "2");
	report_field(f, "key_flags", "1");
	report_field(f, "key_def", NULL);
	report_field(f, "key_min", "-9223372036854775808");
	report_field(f, "key_max", "9223372036854775807");
	report_field(f, "key_help", "a port");
	report_field(f, "end", "");
	fputs(trailer, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_checker_report_parsed)
{
	const char *plugin = fixture("good");
	struct plug_info *info;
	char script[PATH_MAX + 64];

	fake_report(tmp("report"), "2", "");
	snprintf(script, sizeof(script), "cat '%s' >&3", tmp("report"));
	fake_checker(script);
	info = expect_pass(plugin);
	ck_assert_str_eq(info->name, "liar");
	ck_assert_ptr_null(info->description);
	ck_assert_uint_eq(info->n_config, 1);
	ck_assert_int_eq(info->config[0].min, INT64_MIN);
	ck_assert_int_eq(info->config[0].max, INT64_MAX);
	ck_assert_ptr_null(info->config[0].def);
	ck_assert_str_eq(info->config[0].help, "a port");
	plug_info_free(info);
}
END_TEST

START_TEST(test_checker_lies)
{
	const char *plugin = fixture("good");
	char script[PATH_MAX + 64];

	/* What the child says passed must pass here too. */
	fake_report(tmp("report"), "9", "");
	snprintf(script, sizeof(script), "cat '%s' >&3", tmp("report"));
	fake_checker(script);
	expect_refused(plugin, "kind: expected ipam, advertiser, healthcheck, "
			       "frontend or policy, found 9");

	fake_report(tmp("report"), "2", "x");
	expect_refused(plugin, "check: expected a valid report, found data "
			       "after its end at byte 332");

	fake_report(tmp("report"), "02", "");
	expect_refused(plugin, "check: expected a valid report, found a bad "
			       "\"kind\" field at byte 63");

	fake_report(tmp("report"), "2", "");
	snprintf(script, sizeof(script), "cat '%s' >&3; exit 1",
		 tmp("report"));
	fake_checker(script);
	expect_refused(plugin, "check: expected exit status 0 after a pass, "
			       "found 1");

	fake_checker("echo garbage >&3");
	expect_refused(plugin, "check: expected a valid report, found a bad "
			       "\"report\" field at byte 0");

	fake_checker("exit 3");
	expect_refused(plugin, "check: expected a report, found none and exit "
			       "status 3");

	fake_checker("head -c 1100000 /dev/zero >&3");
	expect_refused(plugin, "check: expected a report of at most 1048576 "
			       "bytes, found more");

	fake_checker("printf 'report 1:1\\nresult 7:refused\\n"
		     "error 11:/other: bad\\nend 0:\\n' >&3; exit 1");
	expect_refused(plugin, "check: /other: bad");

	fake_checker("printf 'report 1:1\\nresult 7:refused\\nerror 99999999:"
		     "\\nend 0:\\n' >&3; exit 1");
	expect_refused(plugin, "check: expected a valid report, found a bad "
			       "\"error\" field at byte 28");

	fake_checker("kill -9 $$");
	expect_refused(plugin, "check: crashed with signal 9 while loading");
}
END_TEST

START_TEST(test_checker_missing)
{
	char want[PATH_MAX + 64];

	plug_checker = tmp("no-checker");
	snprintf(want, sizeof(want),
		 "check: expected to run %s, found No such file or directory",
		 tmp("no-checker"));
	ck_assert_int_eq(expect_refused(fixture("good"), want), -ENOENT);
}
END_TEST

/* -- plug_check_desc() in-process ------------------------------------- */

static int t_create(const struct strata_host *host,
		    struct strata_instance *inst, void **self)
{
	return 0;
}

static int t_start(void *self)
{
	return 0;
}

static void t_destroy(void *self)
{
}

static uint32_t t_scopes(void *self)
{
	return 0;
}

static int t_reconcile(void *self, const struct strata_route *const *desired,
		       size_t n, uint32_t flags)
{
	return 0;
}

static int64_t t_probe(void *self, const struct strata_hc_target *target,
		       strata_hc_done done, void *arg)
{
	return 1;
}

static void t_cancel(void *self, int64_t id)
{
}

static int t_ipam(void *self, const struct strata_ipam_request *req,
		  strata_ipam_cb cb, void *arg)
{
	return 0;
}

static int t_pod_attach(void *self, const struct strata_pod *pod,
			strata_done_cb cb, void *arg)
{
	return 0;
}

static int t_pod_detach(void *self, const struct strata_pod *pod)
{
	return 0;
}

static int t_explain(void *self, const char *ns, const char *name,
		     void (*line)(void *arg, const char *text), void *arg)
{
	return 0;
}

static struct strata_plugin_ops t_ops;
static struct strata_advertiser_ops t_adv;
static struct strata_healthcheck_ops t_hc;
static struct strata_ipam_ops t_ipam_ops;
static struct strata_frontend_ops t_fe;
static struct strata_policy_ops t_pol;
static struct strata_cfg_key t_cfg[4];
static struct strata_plugin t_desc;

static void desc_reset(void)
{
	t_ops = (struct strata_plugin_ops){ sizeof(t_ops), t_create, t_start,
					    NULL, NULL, t_destroy, NULL };
	t_adv = (struct strata_advertiser_ops){ sizeof(t_adv), t_scopes,
						t_reconcile, NULL };
	t_hc = (struct strata_healthcheck_ops){ sizeof(t_hc), t_probe,
						t_cancel };
	t_ipam_ops = (struct strata_ipam_ops){ sizeof(t_ipam_ops), NULL,
					       t_ipam, t_ipam, NULL, NULL, NULL,
					       NULL, NULL };
	t_fe = (struct strata_frontend_ops){ sizeof(t_fe), 0 };
	t_pol = (struct strata_policy_ops){
		.size = sizeof(t_pol),
		.pod_attach = t_pod_attach,
		.pod_detach = t_pod_detach,
		.explain = t_explain,
	};
	memset(t_cfg, 0, sizeof(t_cfg));
	t_cfg[0] = (struct strata_cfg_key){ "a", STRATA_CFG_INT, 0, NULL,
					    0, 0, NULL };
	t_cfg[1] = (struct strata_cfg_key){ "b", STRATA_CFG_BOOL, 0, NULL,
					    0, 0, NULL };
	t_desc = (struct strata_plugin){
		STRATA_PLUGIN_MAGIC, STRATA_ABI_MAJOR, STRATA_ABI_MINOR,
		sizeof(t_desc), STRATA_KIND_ADVERTISER, "t", "1", NULL,
		t_cfg, &t_ops, &t_adv,
	};
}

static void desc_refused(const char *rest)
{
	char err[1024], want[1024];

	ck_assert_int_eq(plug_check_desc("P", &t_desc, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "P: %s", rest);
	ck_assert_str_eq(err, want);
	desc_reset();
}

static void desc_passes(void)
{
	char err[1024] = "";

	ck_assert_msg(plug_check_desc("P", &t_desc, err, sizeof(err)) == 0,
		      "%s", err);
	desc_reset();
}

START_TEST(test_desc_header)
{
	char err[256];

	desc_reset();
	desc_passes();
	ck_assert_int_eq(plug_check_desc("P", NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "P: symbol: expected strata_plugin_v1, found "
			      "NULL");
	/* 1.0 on: the same major, a minor up to the host's. */
	t_desc.abi_major = 0;
	desc_refused("abi major: expected 1, found 0");
	t_desc.abi_major = 2;
	desc_refused("abi major: expected 1, found 2");
	t_desc.abi_minor = STRATA_ABI_MINOR + 1;
	desc_refused("abi minor: expected at most 1, found 2");
	t_desc.abi_minor = 0;
	desc_passes();
	t_desc.abi_minor = 1;
	desc_passes();
	t_desc.size = 63;
	desc_refused("size: expected at least 64, found 63");
	t_desc.size = 200; /* a newer, longer descriptor */
	desc_passes();
	t_desc.kind = 0;
	desc_refused("kind: expected ipam, advertiser, healthcheck, "
		     "frontend or policy, found 0");
	t_desc.kind = 6;
	desc_refused("kind: expected ipam, advertiser, healthcheck, "
		     "frontend or policy, found 6");
}
END_TEST

START_TEST(test_desc_texts)
{
	desc_reset();
	t_desc.name = "abcdefghijklmnopqrstuvwxyz012345"; /* 32 */
	desc_passes();
	t_desc.name = "abcdefghijklmnopqrstuvwxyz0123456";
	desc_refused("name: expected [a-z0-9][a-z0-9-]* of at most 32 "
		     "characters, found \"abcdefghijklmnopqrstuvwxyz0123456\"");
	t_desc.name = "-x";
	desc_refused("name: expected [a-z0-9][a-z0-9-]* of at most 32 "
		     "characters, found \"-x\"");
	t_desc.name = "";
	desc_refused("name: expected [a-z0-9][a-z0-9-]* of at most 32 "
		     "characters, found \"\"");
	t_desc.name = NULL;
	desc_refused("name: expected [a-z0-9][a-z0-9-]* of at most 32 "
		     "characters, found NULL");
	t_desc.name = "a-9";
	desc_passes();
	t_desc.version = NULL;
	desc_refused("version: expected one line of 1 to 64 bytes, found NULL");
	t_desc.version = "1\n2";
	desc_refused("version: expected one line of 1 to 64 bytes, found "
		     "\"1\\x0a2\"");
	t_desc.description = "two\nlines";
	desc_refused("description: expected one line of at most 1024 bytes, "
		     "found \"two\\x0alines\"");
}
END_TEST

START_TEST(test_desc_ops)
{
	desc_reset();
	t_desc.ops = NULL;
	desc_refused("ops: expected struct strata_plugin_ops, found NULL");
	t_ops.size = 8;
	desc_refused("ops size: expected at least 56, found 8");
	t_ops.start = NULL;
	desc_refused("ops start: expected a function, found NULL");
	t_ops.destroy = NULL;
	desc_refused("ops destroy: expected a function, found NULL");

	t_adv.scopes = NULL;
	desc_refused("advertiser ops scopes: expected a function, found NULL");
	t_adv.size = 24;
	desc_refused("advertiser ops size: expected at least 32, found 24");
	t_desc.kind_ops = NULL;
	desc_refused("kind ops: expected struct strata_advertiser_ops, found "
		     "NULL");

	t_desc.kind = STRATA_KIND_HEALTHCHECK;
	t_desc.kind_ops = &t_hc;
	desc_passes();
	t_desc.kind = STRATA_KIND_HEALTHCHECK;
	t_desc.kind_ops = &t_hc;
	t_hc.cancel = NULL;
	desc_refused("healthcheck ops cancel: expected a function, found NULL");
	t_desc.kind = STRATA_KIND_HEALTHCHECK;
	t_desc.kind_ops = &t_hc;
	t_hc.probe = NULL;
	desc_refused("healthcheck ops probe: expected a function, found NULL");

	t_desc.kind = STRATA_KIND_IPAM;
	t_desc.kind_ops = &t_ipam_ops;
	t_ipam_ops.release = NULL;
	desc_refused("ipam ops release: expected a function, found NULL");
	t_desc.kind = STRATA_KIND_IPAM;
	t_desc.kind_ops = &t_ipam_ops;
	t_ipam_ops.allocate = NULL;
	desc_refused("ipam ops allocate: expected a function, found NULL");
	t_desc.kind = STRATA_KIND_IPAM;
	t_desc.kind_ops = &t_ipam_ops;
	t_ipam_ops.size = offsetof(struct strata_ipam_ops, carve);
	desc_refused("ipam ops size: expected at least 72, found 32");
	t_desc.kind = STRATA_KIND_IPAM;
	t_desc.kind_ops = &t_ipam_ops;
	t_ipam_ops.needs_facts = (const char *const[]){ "zone", "", NULL };
	desc_refused("ipam ops needs_facts: expected fact names of 1 to 64 "
		     "bytes, found \"\"");

	t_desc.kind = STRATA_KIND_FRONTEND;
	t_desc.kind_ops = NULL;
	desc_passes();
	t_desc.kind = STRATA_KIND_FRONTEND;
	t_desc.kind_ops = &t_fe;
	desc_passes();
	t_desc.kind = STRATA_KIND_FRONTEND;
	t_desc.kind_ops = &t_fe;
	t_fe.size = 4;
	desc_refused("frontend ops size: expected at least 8, found 4");

	t_desc.kind = STRATA_KIND_POLICY;
	t_desc.kind_ops = &t_pol;
	desc_passes();
	t_desc.kind = STRATA_KIND_POLICY;
	t_desc.kind_ops = NULL;
	desc_refused("kind ops: expected struct strata_policy_ops, found NULL");
	t_desc.kind = STRATA_KIND_POLICY;
	t_desc.kind_ops = &t_pol;
	t_pol.size = 24; /* explain is part of 1.1's table */
	desc_refused("policy ops size: expected at least 32, found 24");
	t_desc.kind = STRATA_KIND_POLICY;
	t_desc.kind_ops = &t_pol;
	t_pol.pod_detach = NULL;
	desc_refused("policy ops pod_detach: expected a function, found NULL");
	t_desc.kind = STRATA_KIND_POLICY;
	t_desc.kind_ops = &t_pol;
	t_pol.explain = NULL; /* optional */
	desc_passes();
}
END_TEST

START_TEST(test_desc_config)
{
	desc_reset();
	t_desc.config = NULL;
	desc_passes();
	t_cfg[1].name = "a";
	desc_refused("config[1] name: expected a key not declared before, "
		     "found \"a\" again");
	t_cfg[1].name = "9lives";
	desc_refused("config[1] name: expected [A-Za-z][A-Za-z0-9_-]* of at "
		     "most 64 characters, found \"9lives\"");
	t_cfg[0].flags = 6;
	desc_refused("config[0] flags: expected 0x1 or less, found 0x6");
	t_cfg[0].type = 0;
	desc_refused("config[0] type: expected 1 to 5, found 0");
	t_cfg[1].help = "a\tb";
	desc_refused("config[1] help: expected one line of at most 1024 "
		     "bytes, found \"a\\x09b\"");
	t_cfg[1].def = "\x7f";
	desc_refused("config[1] default: expected one line of at most 1024 "
		     "bytes, found \"\\x7f\"");
}
END_TEST

START_TEST(test_kind_names)
{
	ck_assert_str_eq(plug_kind_name(STRATA_KIND_IPAM), "ipam");
	ck_assert_str_eq(plug_kind_name(STRATA_KIND_ADVERTISER), "advertiser");
	ck_assert_str_eq(plug_kind_name(STRATA_KIND_HEALTHCHECK),
			 "healthcheck");
	ck_assert_str_eq(plug_kind_name(STRATA_KIND_FRONTEND), "frontend");
	ck_assert_str_eq(plug_kind_name(STRATA_KIND_POLICY), "policy");
	ck_assert_str_eq(plug_kind_name(0), "unknown");
	ck_assert_str_eq(plug_kind_name(6), "unknown");
}
END_TEST

static Suite *plug_suite(void)
{
	Suite *s = suite_create("plug");
	TCase *tc;

	tc = tcase_create("desc");
	tcase_add_test(tc, test_desc_header);
	tcase_add_test(tc, test_desc_texts);
	tcase_add_test(tc, test_desc_ops);
	tcase_add_test(tc, test_desc_config);
	tcase_add_test(tc, test_kind_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("fixtures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_good_check_then_load);
	tcase_add_test(tc, test_other_kinds_pass);
	tcase_add_test(tc, test_cxx_config);
	tcase_add_test(tc, test_abi_1_0_plugin_runs);
	tcase_add_test(tc, test_1_0_core_loads_1_0);
	tcase_add_test(tc, test_1_0_core_refuses_1_1_policy);
	tcase_add_loop_test(tc, test_refusal, 0,
			    sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(tc, test_undefined_symbol);
	tcase_add_test(tc, test_crash_leaves_daemon_alone);
	tcase_add_test(tc, test_duplicate_name);
	tcase_add_test(tc, test_duplicate_through_symlink);
	tcase_add_test(tc, test_load_rechecks_identity);
	tcase_add_test(tc, test_load_rechecks_file);
	suite_add_tcase(s, tc);

	/* Five seconds of it are the loader's own timeout. */
	tc = tcase_create("timeout");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hang_times_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_not_elf);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_not_regular);
	tcase_add_test(tc, test_owner);
	tcase_add_test(tc, test_mode);
	tcase_add_test(tc, test_symlink);
	suite_add_tcase(s, tc);

	tc = tcase_create("checker");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_checker_report_parsed);
	tcase_add_test(tc, test_checker_lies);
	tcase_add_test(tc, test_checker_missing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		/* Only root-owned plugins load, and the tests chown. */
		printf("test_plug: needs root, skipped\n");
		return 77;
	}
	sr = srunner_create(plug_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
