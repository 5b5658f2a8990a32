/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cfg.h"

#define MS 1000000LL
#define SEC 1000000000LL

/*
 * Each test runs in its own temp dir, so messages read "x.conf:LINE: ...".
 * The per-test dirs live in one base dir that the parent removes even
 * when a test fails.
 */
static char basedir[] = "/tmp/strata-test-cfg-XXXXXX";
static char tmpdir[sizeof(basedir) + 16];
static char err[512];

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void base_setup(void)
{
	strcpy(basedir, "/tmp/strata-test-cfg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(basedir));
}

static void base_teardown(void)
{
	ck_assert_int_eq(chdir("/"), 0);
	nftw(basedir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/t-XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(chdir(tmpdir), 0);
	err[0] = '\0';
}

static void teardown(void)
{
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert_int_eq(nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static struct cfg *load_ok(const char *text)
{
	struct cfg *cfg = NULL;
	int r;

	write_file("x.conf", text);
	r = cfg_load("x.conf", &cfg, err, sizeof(err));
	ck_assert_msg(r == 0, "cfg_load failed (%d): %s", r, err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* x.conf holding text must be refused with exactly msg. */
static void load_bad(const char *text, const char *msg)
{
	struct cfg *cfg = (struct cfg *)1;
	int r;

	write_file("x.conf", text);
	r = cfg_load("x.conf", &cfg, err, sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, msg);
}

static const char full_conf[] =
	"# a full configuration\n"
	"log = { level = \"debug\"; target = \"syslog\"; };\n"
	"control = {\n"
	"  socket = \"/run/test/s.sock\";\n"
	"  mode = \"0660\";\n"
	"  group = \"strata\";\n"
	"};\n"
	"routes = { resync_interval = \"5m\"; rtproto = 201; };\n"
	"node = {\n"
	"  name = \"host-a\";\n"
	"  zone = \"us-east-1a\";\n"
	"  subnet = \"subnet-0abc\";\n"
	"  address = \"10.0.1.10\";\n"
	"};\n"
	"plugin_dir = \"/opt/strata/plugins\";\n"
	"plugins = (\n"
	"  { instance = \"kernel\"; file = \"advertiser-static.so\";\n"
	"    config = { scopes = [\"kernel\"]; }; },\n"
	"  { instance = \"other-1\"; file = \"/abs/other.so\"; }\n"
	");\n";

START_TEST(test_full)
{
	struct cfg *cfg = load_ok(full_conf);

	ck_assert_str_eq(cfg->path, "x.conf");
	ck_assert_int_eq(cfg->log_level, LOG_DEBUG);
	ck_assert_str_eq(cfg->log_target, "syslog");
	ck_assert_str_eq(cfg->control_socket, "/run/test/s.sock");
	ck_assert_uint_eq(cfg->control_mode, 0660);
	ck_assert_str_eq(cfg->control_group, "strata");
	ck_assert_int_eq(cfg->resync_ns, 300 * SEC);
	ck_assert_uint_eq(cfg->rtproto, 201);
	ck_assert_str_eq(cfg->node_name, "host-a");
	ck_assert_uint_eq(cfg->n_facts, 3);
	ck_assert_str_eq(cfg->facts[0].name, "zone");
	ck_assert_str_eq(cfg->facts[0].value, "us-east-1a");
	ck_assert_int_eq(cfg->facts[0].line, 11);
	ck_assert_str_eq(cfg->facts[1].name, "subnet");
	ck_assert_str_eq(cfg->facts[2].name, "address");
	ck_assert_str_eq(cfg->facts[2].value, "10.0.1.10");
	ck_assert_str_eq(cfg->plugin_dir, "/opt/strata/plugins");
	ck_assert_uint_eq(cfg->n_plugins, 2);
	ck_assert_str_eq(cfg->plugins[0].instance, "kernel");
	ck_assert_str_eq(cfg->plugins[0].file, "advertiser-static.so");
	ck_assert_str_eq(cfg->plugins[0].path,
			 "/opt/strata/plugins/advertiser-static.so");
	ck_assert_int_eq(cfg->plugins[0].line, 17);
	ck_assert_ptr_nonnull(cfg->plugins[0].config);
	ck_assert_int_eq(config_setting_length(cfg->plugins[0].config), 1);
	ck_assert_str_eq(cfg->plugins[1].instance, "other-1");
	ck_assert_str_eq(cfg->plugins[1].path, "/abs/other.so");
	ck_assert_ptr_null(cfg->plugins[1].config);
	cfg_free(cfg);
}
END_TEST

/* The example shipped in conf/ loads, and says what it seems to. */
START_TEST(test_example)
{
	struct cfg *cfg = NULL;
	int r;

	r = cfg_load(TOP_SRCDIR "/conf/stratad.conf", &cfg, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_int_eq(cfg->log_level, LOG_INFO);
	ck_assert_uint_eq(cfg->control_mode, 0660);
	ck_assert_str_eq(cfg->control_group, "strata");
	ck_assert_int_eq(cfg->resync_ns, 30 * SEC);
	ck_assert_uint_eq(cfg->rtproto, 220);
	ck_assert_str_eq(cfg->node_name, "host-a");
	ck_assert_uint_eq(cfg->n_facts, 3);
	ck_assert_uint_eq(cfg->n_plugins, 3);
	ck_assert_str_eq(cfg->plugins[0].path,
			 "/usr/lib/x86_64-linux-gnu/strata/plugins/"
			 "advertiser-static.so");
	ck_assert_str_eq(cfg->plugins[1].path,
			 "/usr/lib/x86_64-linux-gnu/strata/plugins/"
			 "ipam-topology.so");
	ck_assert_str_eq(cfg->plugins[2].path,
			 "/usr/lib/x86_64-linux-gnu/strata/plugins/"
			 "frontend-cni.so");
	cfg_free(cfg);
}
END_TEST

START_TEST(test_defaults)
{
	char host[HOST_NAME_MAX + 1] = "";
	struct cfg *cfg = load_ok("# nothing\n");

	ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
	ck_assert_int_eq(cfg->log_level, LOG_INFO);
	ck_assert_str_eq(cfg->log_target, "stderr");
	ck_assert_str_eq(cfg->control_socket, RUNDIR "/stratad.sock");
	ck_assert_uint_eq(cfg->control_mode, 0600);
	ck_assert_ptr_null(cfg->control_group);
	ck_assert_str_eq(cfg->plugin_dir, PLUGINDIR);
	ck_assert_int_eq(cfg->resync_ns, 30 * SEC);
	ck_assert_uint_eq(cfg->rtproto, 220);
	ck_assert_str_eq(cfg->store_url, STATEDIR "/store.db");
	ck_assert_int_eq(cfg->store_history, 10000);
	ck_assert_str_eq(cfg->node_name, host);
	ck_assert_uint_eq(cfg->n_facts, 0);
	ck_assert_uint_eq(cfg->n_plugins, 0);
	cfg_free(cfg);

	/* Empty groups keep the defaults too. */
	cfg = load_ok("log = {}; control = {}; routes = {}; node = {};\n"
		      "plugins = ();\n");
	ck_assert_int_eq(cfg->log_level, LOG_INFO);
	ck_assert_str_eq(cfg->log_target, "stderr");
	ck_assert_uint_eq(cfg->control_mode, 0600);
	ck_assert_int_eq(cfg->resync_ns, 30 * SEC);
	ck_assert_str_eq(cfg->node_name, host);
	ck_assert_uint_eq(cfg->n_plugins, 0);
	cfg_free(cfg);

	/* A relative file joins plugin_dir with one slash. */
	cfg = load_ok("plugin_dir = \"/p/\";\n"
		      "plugins = ({ instance = \"a\"; file = \"d/a.so\"; });\n");
	ck_assert_str_eq(cfg->plugins[0].path, "/p/d/a.so");
	cfg_free(cfg);
	cfg = load_ok("plugins = ({ instance = \"a\"; file = \"a.so\"; });\n");
	ck_assert_str_eq(cfg->plugins[0].path, PLUGINDIR "/a.so");
	cfg_free(cfg);
}
END_TEST

START_TEST(test_io_errors)
{
	struct cfg *cfg = (struct cfg *)1;

	ck_assert_int_eq(cfg_load("nope.conf", &cfg, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "nope.conf: cannot read: No such file or directory");

	ck_assert_int_eq(mkdir("d.conf", 0700), 0);
	ck_assert_int_eq(cfg_load("d.conf", &cfg, err, sizeof(err)), -EISDIR);
	ck_assert_str_eq(err, "d.conf: cannot read: Is a directory");
}
END_TEST

START_TEST(test_syntax)
{
	load_bad("log = {\n  level = \"info\";\n  target = ;\n};\n",
		 "x.conf:3: syntax error");
	load_bad("routes = { rtproto = 5; };\nroutes = {};\n",
		 "x.conf:2: syntax error: duplicate setting name");
	load_bad("a = 1;\nb = [1, \"x\"];\n",
		 "x.conf:2: syntax error: mismatched element type in array");
}
END_TEST

START_TEST(test_nul_byte)
{
	struct cfg *cfg = NULL;
	FILE *f = fopen("x.conf", "w");

	ck_assert_ptr_nonnull(f);
	fwrite("log = {};\n\nx\0y", 1, 15, f);
	fclose(f);
	ck_assert_int_eq(cfg_load("x.conf", &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "x.conf:3: syntax error: a NUL byte");
}
END_TEST

START_TEST(test_unknown)
{
	load_bad("log = {};\n\nlogging = { level = \"info\"; };\n",
		 "x.conf:3: unknown setting \"logging\"; known settings: log, "
		 "control, routes, store, node, plugin_dir, plugins, health, "
		 "metrics, kubernetes");
	load_bad("log = {\n  lvl = \"info\";\n};\n",
		 "x.conf:2: log: unknown key \"lvl\"; known keys: level, target");
	load_bad("control = { sock = \"/x\"; };\n",
		 "x.conf:1: control: unknown key \"sock\"; known keys: socket, "
		 "mode, group");
	load_bad("routes = {\n resync = 5;\n};\n",
		 "x.conf:2: routes: unknown key \"resync\"; known keys: "
		 "resync_interval, rtproto, cloud_budget, cloud_budget6, "
		 "per_host, spread, bgp, bgp_announcers");
	load_bad("plugins = (\n {\n  instance = \"a\";\n  file = \"a.so\";\n"
		 "  cfg = {};\n }\n);\n",
		 "x.conf:5: plugins[0]: unknown key \"cfg\"; known keys: "
		 "instance, file, config");
}
END_TEST

START_TEST(test_types)
{
	load_bad("log = \"info\";\n",
		 "x.conf:1: log: expected a group { ... }, found a string");
	load_bad("log = {\n  level = 3;\n};\n",
		 "x.conf:2: log.level: expected a string, found an integer");
	load_bad("control = { socket = true; };\n",
		 "x.conf:1: control.socket: expected a string, found a boolean");
	load_bad("routes = { rtproto = \"220\"; };\n",
		 "x.conf:1: routes.rtproto: expected an integer, found a string");
	load_bad("routes = { resync_interval = [1]; };\n",
		 "x.conf:1: routes.resync_interval: expected a duration such "
		 "as \"30s\", found an array");
	load_bad("plugin_dir = 1.5;\n",
		 "x.conf:1: plugin_dir: expected a string, found a float");
	load_bad("node = { zone = 5; };\n",
		 "x.conf:1: node.zone: expected a string, found an integer");
	load_bad("node = { name = (); };\n",
		 "x.conf:1: node.name: expected a string, found a list");
}
END_TEST

START_TEST(test_log_values)
{
	load_bad("\n\nlog = {\n  level = \"loud\";\n};\n",
		 "x.conf:4: log.level: expected one of error, warning, info, "
		 "debug, found \"loud\"");
	load_bad("log = { target = \"file\"; };\n",
		 "x.conf:1: log.target: expected one of stderr, syslog, found "
		 "\"file\"");
}
END_TEST

START_TEST(test_control_values)
{
	struct cfg *cfg;

	load_bad("control = { mode = \"0800\"; };\n",
		 "x.conf:1: control.mode: expected an octal mode such as "
		 "\"0660\" (at most 0777), found \"0800\"");
	load_bad("control = { mode = \"01777\"; };\n",
		 "x.conf:1: control.mode: expected an octal mode such as "
		 "\"0660\" (at most 0777), found \"01777\"");
	load_bad("control = { mode = \"\"; };\n",
		 "x.conf:1: control.mode: expected an octal mode such as "
		 "\"0660\" (at most 0777), found \"\"");
	load_bad("control = { mode = 600; };\n",
		 "x.conf:1: control.mode: expected an octal string such as "
		 "\"0660\", found an integer");
	load_bad("control = { socket = \"run/s.sock\"; };\n",
		 "x.conf:1: control.socket: expected an absolute path, found "
		 "\"run/s.sock\"");
	load_bad("control = { socket = \"/0123456789012345678901234567890123"
		 "456789012345678901234567890123456789012345678901234567890123"
		 "45678901234567890\"; };\n",
		 "x.conf:1: control.socket: the path is longer than a unix "
		 "socket's (107 bytes)");
	load_bad("control = { group = \"a b\"; };\n",
		 "x.conf:1: control.group: expected a group name, found \"a b\"");
	cfg = load_ok("control = { mode = \"660\"; };\n");
	ck_assert_uint_eq(cfg->control_mode, 0660);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_metrics_values)
{
	struct cfg *cfg = load_ok("# nothing\n");

	/* off unless a port is set */
	ck_assert_uint_eq(cfg->metrics_port, 0);
	cfg_free(cfg);
	cfg = load_ok("metrics = { port = 9477; };\n");
	ck_assert_uint_eq(cfg->metrics_port, 9477);
	ck_assert_str_eq(cfg->metrics_listen, "127.0.0.1");
	cfg_free(cfg);
	cfg = load_ok("metrics = { listen = \"::\"; port = 1; };\n");
	ck_assert_str_eq(cfg->metrics_listen, "::");
	cfg_free(cfg);
	load_bad("metrics = { port = 0; };\n",
		 "x.conf:1: metrics.port: expected 1..65535, found 0");
	load_bad("metrics = { port = \"80\"; };\n",
		 "x.conf:1: metrics.port: expected an integer, found a string");
	load_bad("metrics = { listen = \"localhost\"; port = 80; };\n",
		 "x.conf:1: metrics.listen: expected an IPv4 or IPv6 address, "
		 "found \"localhost\"");
	load_bad("metrics = { listen = \"10.0.0.1\"; };\n",
		 "x.conf:1: metrics.listen: set without metrics.port");
	load_bad("metrics = { path = \"/m\"; };\n",
		 "x.conf:1: metrics: unknown key \"path\"; known keys: "
		 "listen, port");
}
END_TEST

START_TEST(test_store_values)
{
	struct cfg *cfg;

	load_bad("store = { url = \"db\"; };\n",
		 "x.conf:1: store.url: expected \"sqlite:PATH\", an absolute "
		 "path or \"etcd:http://HOST:PORT\", found \"db\"");
	load_bad("store = { url = \"etcd://10.0.0.1:2379\"; };\n",
		 "x.conf:1: store.url: expected \"etcd:http://HOST:PORT\" (or "
		 "https://; several separated by commas), found "
		 "\"etcd://10.0.0.1:2379\"");
	load_bad("store = { url = \"etcd:http://a:1,ftp://b\"; };\n",
		 "x.conf:1: store.url: expected \"etcd:http://HOST:PORT\" (or "
		 "https://; several separated by commas), found "
		 "\"etcd:http://a:1,ftp://b\"");
	load_bad("store = { url = \"etcd:http://a:1\"; password_file = \"p\"; "
		 "username = \"u\"; };\n",
		 "x.conf:1: store.password_file: expected an absolute path, "
		 "found \"p\"");
	load_bad("store = { url = \"etcd:http://a:1\"; "
		 "password_file = \"/p\"; };\n",
		 "x.conf:1: store.password_file: set store.username too");
	cfg = load_ok("store = { url = \"etcd:http://10.0.0.1:2379,"
		      "https://h2:2379\"; prefix = \"c1/\"; username = \"u\"; "
		      "password_file = \"/etc/strata/pw\"; ca = \"/ca.pem\"; "
		      "cert = \"/c.pem\"; key = \"/c.key\"; };\n");
	ck_assert_str_eq(cfg->store_ca, "/ca.pem");
	ck_assert_str_eq(cfg->store_cert, "/c.pem");
	ck_assert_str_eq(cfg->store_key, "/c.key");
	ck_assert_str_eq(cfg->store_url,
			 "etcd:http://10.0.0.1:2379,https://h2:2379");
	ck_assert_str_eq(cfg->store_prefix, "c1/");
	ck_assert_str_eq(cfg->store_username, "u");
	ck_assert_str_eq(cfg->store_password_file, "/etc/strata/pw");
	cfg_free(cfg);
	load_bad("store = { history = 5; };\n",
		 "x.conf:1: store.history: expected 100..10000000 revisions, "
		 "found 5");
	load_bad("store = { history = \"lots\"; };\n",
		 "x.conf:1: store.history: expected an integer, found a string");
	load_bad("store = { path = \"/x\"; };\n",
		 "x.conf:1: store: unknown key \"path\"; known keys: url, history, "
		 "prefix, username, password_file, ca, cert, key");
	load_bad("store = { url = \"etcd:https://a:1\"; ca = \"ca.pem\"; };\n",
		 "x.conf:1: store.ca: expected an absolute path, found "
		 "\"ca.pem\"");
	load_bad("store = { url = \"etcd:https://a:1\"; cert = \"/c.pem\"; };\n",
		 "x.conf:1: store.cert and store.key go together");
	cfg = load_ok("store = { url = \"sqlite:/var/x.db\"; history = 500; };\n");
	ck_assert_str_eq(cfg->store_url, "sqlite:/var/x.db");
	ck_assert_int_eq(cfg->store_history, 500);
	ck_assert_ptr_null(cfg->store_prefix);
	ck_assert_ptr_null(cfg->store_username);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_kubernetes)
{
	struct cfg *cfg = load_ok("node = { name = \"n1\"; };\n");

	ck_assert(!cfg->kube.enabled);
	cfg_free(cfg);
	cfg = load_ok("node = { name = \"n1\"; };\nkubernetes = { };\n");
	ck_assert(cfg->kube.enabled);
	ck_assert_ptr_null(cfg->kube.kubeconfig);
	ck_assert_str_eq(cfg->kube.node_name, "n1");
	ck_assert_str_eq(cfg->kube.zone_label, "topology.kubernetes.io/zone");
	ck_assert_str_eq(cfg->kube.subnet_label, "strata.io/subnet");
	ck_assert(cfg->kube.qps == 5);
	ck_assert_uint_eq(cfg->kube.burst, 10);
	ck_assert_int_eq(cfg->kube.watch_timeout_ns, 300000000000LL);
	cfg_free(cfg);
	/* the Node's name is the node's when node.name is not set */
	setenv("NODE_NAME", "from-env", 1);
	cfg = load_ok("kubernetes = { kubeconfig = \"/k/c\"; qps = 2.5;"
		      " burst = 4; watch_timeout = \"30s\";"
		      " subnet_label = \"example.com/subnet\"; };\n");
	ck_assert_str_eq(cfg->kube.node_name, "from-env");
	ck_assert_str_eq(cfg->node_name, "from-env");
	ck_assert_str_eq(cfg->kube.kubeconfig, "/k/c");
	ck_assert(cfg->kube.qps == 2.5);
	ck_assert_uint_eq(cfg->kube.burst, 4);
	ck_assert_int_eq(cfg->kube.watch_timeout_ns, 30000000000LL);
	ck_assert_str_eq(cfg->kube.subnet_label, "example.com/subnet");
	cfg_free(cfg);
	cfg = load_ok("kubernetes = { node_name = \"k1\"; };\n");
	ck_assert_str_eq(cfg->kube.node_name, "k1");
	ck_assert_str_eq(cfg->node_name, "k1");
	cfg_free(cfg);
	unsetenv("NODE_NAME");
	load_bad("kubernetes = { kubeconfig = \"rel\"; };\n",
		 "x.conf:1: kubernetes.kubeconfig: expected an absolute path, found \"rel\"");
	load_bad("kubernetes = { qps = 0; };\n",
		 "x.conf:1: kubernetes.qps: expected 0.1 to 1000 requests a second");
	load_bad("kubernetes = { burst = 0; };\n",
		 "x.conf:1: kubernetes.burst: expected 1..1000, found 0");
	load_bad("kubernetes = { zone_label = \"a b\"; };\n",
		 "x.conf:1: kubernetes.zone_label: expected a label key, found \"a b\"");
	load_bad("kubernetes = { watch = 1; };\n",
		 "x.conf:1: kubernetes: unknown key \"watch\"; known keys: kubeconfig, node_name, zone_label, subnet_label, qps, burst, watch_timeout");
}
END_TEST

START_TEST(test_routes_planning)
{
	struct cfg *cfg;

	cfg = load_ok("routes = { cloud_budget = 100; cloud_budget6 = 20; "
		      "per_host = false; spread = false; bgp = \"aggregate\"; "
		      "bgp_announcers = 3; };\n");
	ck_assert_uint_eq(cfg->cloud_budget[0], 100);
	ck_assert_uint_eq(cfg->cloud_budget[1], 20);
	ck_assert(cfg->no_per_host);
	ck_assert(cfg->no_spread);
	ck_assert(cfg->bgp_aggregate);
	ck_assert_uint_eq(cfg->bgp_announcers, 3);
	cfg_free(cfg);
	cfg = load_ok("");
	ck_assert_uint_eq(cfg->cloud_budget[0], 0);
	ck_assert(!cfg->no_per_host && !cfg->no_spread && !cfg->bgp_aggregate);
	cfg_free(cfg);
	load_bad("routes = { cloud_budget = 1001; };\n",
		 "x.conf:1: routes.cloud_budget: expected 1..1000, found 1001");
	load_bad("routes = { cloud_budget6 = 0; };\n",
		 "x.conf:1: routes.cloud_budget6: expected 1..1000, found 0");
	load_bad("routes = { cloud_budget = \"50\"; };\n",
		 "x.conf:1: routes.cloud_budget: expected an integer, found a "
		 "string");
	load_bad("routes = { per_host = 1; };\n",
		 "x.conf:1: routes.per_host: expected true or false, found an "
		 "integer");
	load_bad("routes = { bgp = \"all\"; };\n",
		 "x.conf:1: routes.bgp: expected \"blocks\" or \"aggregate\"");
}
END_TEST

START_TEST(test_routes_values)
{
	struct cfg *cfg;

	load_bad("routes = { rtproto = 4; };\n",
		 "x.conf:1: routes.rtproto: 4 is reserved by the kernel (0-4: "
		 "unspec, redirect, kernel, boot, static); use 5..255");
	load_bad("routes = { rtproto = 0; };\n",
		 "x.conf:1: routes.rtproto: 0 is reserved by the kernel (0-4: "
		 "unspec, redirect, kernel, boot, static); use 5..255");
	load_bad("routes = { rtproto = 256; };\n",
		 "x.conf:1: routes.rtproto: expected 5..255, found 256");
	load_bad("routes = { rtproto = -1; };\n",
		 "x.conf:1: routes.rtproto: expected 5..255, found -1");
	load_bad("routes = { resync_interval = \"30x\"; };\n",
		 "x.conf:1: routes.resync_interval: expected a duration such "
		 "as \"30s\" (a number with ms, s, m, h or d; bare numbers are "
		 "seconds), found \"30x\"");
	load_bad("routes = { resync_interval = -5; };\n",
		 "x.conf:1: routes.resync_interval: expected a duration such "
		 "as \"30s\" (a number with ms, s, m, h or d; bare numbers are "
		 "seconds), found -5");
	load_bad("routes = { resync_interval = \"500ms\"; };\n",
		 "x.conf:1: routes.resync_interval: must be at least 1s");
	load_bad("routes = { resync_interval = \"9999999999999d\"; };\n",
		 "x.conf:1: routes.resync_interval: \"9999999999999d\" is too "
		 "long");

	cfg = load_ok("routes = { resync_interval = 90; rtproto = 5; };\n");
	ck_assert_int_eq(cfg->resync_ns, 90 * SEC);
	ck_assert_uint_eq(cfg->rtproto, 5);
	cfg_free(cfg);
	cfg = load_ok("routes = { resync_interval = 2.5; rtproto = 255; };\n");
	ck_assert_int_eq(cfg->resync_ns, 2500 * MS);
	ck_assert_uint_eq(cfg->rtproto, 255);
	cfg_free(cfg);
	cfg = load_ok("routes = { resync_interval = 3600L; };\n");
	ck_assert_int_eq(cfg->resync_ns, 3600 * SEC);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_node_values)
{
	load_bad("node = {\n  instance_id = \"i-1\";\n};\n",
		 "x.conf:2: node.instance_id: fact names are lowercase "
		 "letters, digits and dashes; write \"instance-id\"");
	load_bad("node = { Zone = \"a\"; };\n",
		 "x.conf:1: node.Zone: fact names are lowercase letters, digits "
		 "and dashes; write \"zone\"");
	load_bad("node = { *zone = \"a\"; };\n",
		 "x.conf:1: node.*zone: fact names are lowercase letters, "
		 "digits and dashes");
	load_bad("node = { zone = \"\"; };\n",
		 "x.conf:1: node.zone: the value is empty");
	load_bad("node = { zone = \"a\\tb\"; };\n",
		 "x.conf:1: node.zone: the value has a control character");
	load_bad("node = { name = \"a b\"; };\n",
		 "x.conf:1: node.name: expected a host name (letters, digits, "
		 "'.', '-', '_'; at most 253), found \"a b\"");
}
END_TEST

START_TEST(test_node_limits)
{
	char text[2200], name[80], msg[160];
	struct cfg *cfg;

	memset(name, 'a', 65);
	name[65] = '\0';
	snprintf(text, sizeof(text), "node = { %s = \"x\"; };\n", name);
	write_file("x.conf", text);
	cfg = NULL;
	ck_assert_int_eq(cfg_load("x.conf", &cfg, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg),
		 "x.conf:1: node.%s: fact names are at most 64 characters",
		 name);
	ck_assert_str_eq(err, msg);

	/* 64 characters and a 1024-byte value are fine. */
	name[64] = '\0';
	snprintf(text, sizeof(text), "node = { %s = \"%01024d\"; };\n", name,
		 0);
	cfg = load_ok(text);
	ck_assert_uint_eq(cfg->n_facts, 1);
	ck_assert_uint_eq(strlen(cfg->facts[0].value), 1024);
	cfg_free(cfg);

	snprintf(text, sizeof(text), "node = { %s = \"%01025d\"; };\n", name,
		 0);
	write_file("x.conf", text);
	ck_assert_int_eq(cfg_load("x.conf", &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "the value is longer than 1024 bytes"));
}
END_TEST

START_TEST(test_plugins_entries)
{
	load_bad("plugins = (\n"
		 "  { instance = \"a\"; file = \"a.so\"; },\n"
		 "  {\n"
		 "    file = \"b.so\";\n"
		 "  }\n"
		 ");\n",
		 "x.conf:3: plugins[1]: \"instance\" is required");
	load_bad("plugins = (\n  { instance = \"a\"; }\n);\n",
		 "x.conf:2: plugins[0]: \"file\" is required");
	load_bad("plugins = ({ instance = \"a\"; file = \"\"; });\n",
		 "x.conf:1: plugins[0].file: expected a file name, found \"\"");
	load_bad("plugins = ({ instance = \"Kernel\"; file = \"a.so\"; });\n",
		 "x.conf:1: plugins[0].instance: \"Kernel\" is not a valid "
		 "instance name ([a-z0-9][a-z0-9-]*, at most 32 characters)");
	load_bad("plugins = ({ instance = \"-a\"; file = \"a.so\"; });\n",
		 "x.conf:1: plugins[0].instance: \"-a\" is not a valid "
		 "instance name ([a-z0-9][a-z0-9-]*, at most 32 characters)");
	load_bad("plugins = ({ instance = \"a23456789012345678901234567890123\";"
		 " file = \"a.so\"; });\n",
		 "x.conf:1: plugins[0].instance: "
		 "\"a23456789012345678901234567890123\" is not a valid instance "
		 "name ([a-z0-9][a-z0-9-]*, at most 32 characters)");
	load_bad("plugins = (\n"
		 "  { instance = \"kernel\"; file = \"a.so\"; },\n"
		 "  { instance = \"b\"; file = \"b.so\"; },\n"
		 "  { file = \"c.so\";\n"
		 "\n"
		 "\n"
		 "    instance = \"kernel\"; }\n"
		 ");\n",
		 "x.conf:7: plugins[0] and plugins[2] both name instance "
		 "\"kernel\"");
	load_bad("plugins = ({ instance = \"a\"; file = \"a.so\"; config = 1; });\n",
		 "x.conf:1: plugins[0].config: expected a group { ... }, found "
		 "an integer");
	load_bad("plugins = { a = 1; };\n",
		 "x.conf:1: plugins: expected a list ( { instance = ...; file = "
		 "...; }, ... ), found a group");
	load_bad("plugins = ( \"a.so\" );\n",
		 "x.conf:1: plugins[0]: expected a group { instance = ...; file "
		 "= ...; }, found a string");
	load_bad("plugin_dir = \"lib/plugins\";\n",
		 "x.conf:1: plugin_dir: expected an absolute path, found "
		 "\"lib/plugins\"");
}
END_TEST

START_TEST(test_include)
{
	struct cfg *cfg = NULL;
	char text[PATH_MAX + 32];

	/* Relative to the including file's directory, not the cwd. */
	ck_assert_int_eq(mkdir("sub", 0700), 0);
	write_file("sub/x.conf", "@include \"inc.conf\"\nplugins = ();\n");
	write_file("sub/inc.conf", "log = { level = \"error\"; };\n");
	ck_assert_int_eq(cfg_load("sub/x.conf", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg->log_level, LOG_ERR);
	cfg_free(cfg);

	/* Errors in an included file name that file. */
	write_file("sub/inc.conf", "\nlog = { level = \"loud\"; };\n");
	ck_assert_int_eq(cfg_load("sub/x.conf", &cfg, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "sub/inc.conf:2: log.level: expected one of "
			      "error, warning, info, debug, found \"loud\"");

	write_file("sub/inc.conf", "\n\nlog = { level = ; };\n");
	ck_assert_int_eq(cfg_load("sub/x.conf", &cfg, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "sub/inc.conf:3: syntax error");

	write_file("sub/x.conf", "@include \"missing.conf\"\n");
	ck_assert_int_eq(cfg_load("sub/x.conf", &cfg, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "sub/x.conf:1: syntax error: cannot open "
			      "include file (paths are relative to sub)");

	/* From memory, nothing is included, not even an absolute path. */
	write_file("inc.conf", "log = { level = \"error\"; };\n");
	ck_assert_int_eq(cfg_load_string("mem.conf", "@include \"inc.conf\"\n",
					 &cfg, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "mem.conf:1: @include is not allowed here");
	snprintf(text, sizeof(text), "@include \"%s/inc.conf\"\n", tmpdir);
	ck_assert_int_eq(cfg_load_string("mem.conf", text, &cfg, err,
					 sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "mem.conf:1: @include is not allowed here");
}
END_TEST

START_TEST(test_load_string)
{
	struct cfg *cfg = NULL;

	ck_assert_int_eq(cfg_load_string("mem.conf",
					 "log = { level = \"warning\"; };\n"
					 "routes = { rtproto = 250; };\n",
					 &cfg, err, sizeof(err)),
			 0);
	ck_assert_str_eq(cfg->path, "mem.conf");
	ck_assert_int_eq(cfg->log_level, LOG_WARNING);
	ck_assert_uint_eq(cfg->rtproto, 250);
	cfg_free(cfg);
	ck_assert_int_eq(cfg_load_string("mem.conf", "\nroutes = { rtproto = 2; };",
					 &cfg, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "mem.conf:2: routes.rtproto: 2 is reserved by "
			      "the kernel (0-4: unspec, redirect, kernel, "
			      "boot, static); use 5..255");
	/* A short buffer is cut, never overrun. */
	memset(err, 'Z', sizeof(err));
	ck_assert_int_eq(cfg_load_string("mem.conf", "x = 1;", &cfg, err, 10),
			 -EINVAL);
	ck_assert_str_eq(err, "mem.conf:");
	ck_assert_int_eq(err[10], 'Z');
	cfg_free(NULL);
}
END_TEST

static const struct {
	const char *text;
	int r;
	int64_t ns;
} durations[] = {
	{ "250ms", 0, 250 * MS },
	{ "30s", 0, 30 * SEC },
	{ "5m", 0, 300 * SEC },
	{ "1h", 0, 3600 * SEC },
	{ "2d", 0, 2 * 86400 * SEC },
	{ "0", 0, 0 },
	{ "0s", 0, 0 },
	{ "45", 0, 45 * SEC },
	{ "1.5", 0, 1500 * MS },
	{ "1.5s", 0, 1500 * MS },
	{ "0.25h", 0, 900 * SEC },
	{ "1.5ms", 0, 1500000 },
	{ "0.000000001", 0, 1 },
	{ "0.0000000019", 0, 1 },
	{ "9223372036", 0, 9223372036 * SEC },
	{ "9223372036.854775807", 0, INT64_MAX },
	{ "9223372036.854775808", -ERANGE, 0 },
	{ "9223372037", -ERANGE, 0 },
	{ "106752d", -ERANGE, 0 },
	{ "99999999999999999999999s", -ERANGE, 0 },
	{ "", -EINVAL, 0 },
	{ "s", -EINVAL, 0 },
	{ "-5s", -EINVAL, 0 },
	{ "+5s", -EINVAL, 0 },
	{ " 5s", -EINVAL, 0 },
	{ "5s ", -EINVAL, 0 },
	{ "5 s", -EINVAL, 0 },
	{ "5x", -EINVAL, 0 },
	{ "5S", -EINVAL, 0 },
	{ "5sec", -EINVAL, 0 },
	{ "5ns", -EINVAL, 0 },
	{ "5.s", -EINVAL, 0 },
	{ ".5s", -EINVAL, 0 },
	{ "1e3", -EINVAL, 0 },
	{ "0x10", -EINVAL, 0 },
	{ "5ms5", -EINVAL, 0 },
	{ "1.2.3", -EINVAL, 0 },
};

START_TEST(test_duration_table)
{
	int64_t ns = -1;
	int r;

	r = cfg_parse_duration(durations[_i].text, &ns);
	ck_assert_msg(r == durations[_i].r, "\"%s\": %d, expected %d",
		      durations[_i].text, r, durations[_i].r);
	if (r == 0)
		ck_assert_msg(ns == durations[_i].ns, "\"%s\": %lld, expected %lld",
			      durations[_i].text, (long long)ns,
			      (long long)durations[_i].ns);
	else
		ck_assert_int_eq(ns, -1);
}
END_TEST

START_TEST(test_duration_null)
{
	int64_t ns;

	ck_assert_int_eq(cfg_parse_duration(NULL, &ns), -EINVAL);
}
END_TEST

/* The plugin schema used by the schema tests. */
static const struct strata_cfg_key schema3[] = {
	{ "scopes", STRATA_CFG_STRINGS, 0, "kernel, cloud", 0, 0, "scopes" },
	{ "table", STRATA_CFG_INT, 0, "254", 1, 255, "routing table" },
	{ "debounce", STRATA_CFG_DURATION, 0, "100ms", 10 * MS, 3600 * SEC,
	  "wait" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct strata_cfg_key schema_all[] = {
	{ "enabled", STRATA_CFG_BOOL, 0, "true", 0, 0, NULL },
	{ "count", STRATA_CFG_INT, 0, NULL, 0, 0, NULL },
	{ "name", STRATA_CFG_STRING, 0, "strata", 0, 0, NULL },
	{ "token", STRATA_CFG_STRING, STRATA_CFG_REQUIRED, NULL, 0, 0, NULL },
	{ "peers", STRATA_CFG_STRINGS, 0, NULL, 0, 0, NULL },
	{ "empty", STRATA_CFG_STRINGS, 0, "", 0, 0, NULL },
	{ "hold", STRATA_CFG_DURATION, 0, "90s", 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

/* Load "plugins = ({ instance = "kernel"; file = "k.so"; config = ... })"
 * with the given config body, starting on line 2. */
static struct cfg *load_plugin(const char *config)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "plugins = (\n  { instance = \"kernel\"; file = \"k.so\";%s }\n);\n",
		 config);
	return load_ok(text);
}

static void check_bad(const char *config, const struct strata_cfg_key *schema,
		      const char *msg)
{
	struct cfg *cfg = load_plugin(config);

	ck_assert_int_eq(cfg_check_plugin(cfg, &cfg->plugins[0], schema, err,
					  sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, msg);
	cfg_free(cfg);
}

static void check_good(const char *config, const struct strata_cfg_key *schema)
{
	struct cfg *cfg = load_plugin(config);
	int r = cfg_check_plugin(cfg, &cfg->plugins[0], schema, err,
				 sizeof(err));

	ck_assert_msg(r == 0, "%s: %s", config, err);
	cfg_free(cfg);
}

START_TEST(test_schema_unknown_key)
{
	check_bad(" config = {\n scope = [\"kernel\"]; };", schema3,
		  "x.conf:3: plugins[0] (kernel): unknown key \"scope\"; known "
		  "keys: scopes, table, debounce");
	check_bad(" config = { x = 1; };", NULL,
		  "x.conf:2: plugins[0] (kernel): unknown key \"x\"; the plugin "
		  "takes no settings");
	check_good(" config = {};", NULL);
	check_good("", NULL);
	check_good("", schema3);
}
END_TEST

START_TEST(test_schema_types)
{
	check_bad(" config = { enabled = \"yes\"; token = \"t\"; };", schema_all,
		  "x.conf:2: plugins[0] (kernel): enabled: expected true or "
		  "false, found a string");
	check_bad(" config = { count = 1.5; token = \"t\"; };", schema_all,
		  "x.conf:2: plugins[0] (kernel): count: expected an integer, "
		  "found a float");
	check_bad(" config = { token = 5; };", schema_all,
		  "x.conf:2: plugins[0] (kernel): token: expected a string, "
		  "found an integer");
	check_bad(" config = { token = \"t\"; peers = \"a\"; };", schema_all,
		  "x.conf:2: plugins[0] (kernel): peers: expected a list of "
		  "strings, found a string");
	check_bad(" config = { token = \"t\"; peers = ( \"a\",\n 2 ); };",
		  schema_all,
		  "x.conf:3: plugins[0] (kernel): peers: expected a list of "
		  "strings, found an integer at index 1");
	check_bad(" config = { token = \"t\"; peers = [ 1, 2 ]; };", schema_all,
		  "x.conf:2: plugins[0] (kernel): peers: expected a list of "
		  "strings, found an integer at index 0");
	check_bad(" config = { token = \"t\"; hold = true; };", schema_all,
		  "x.conf:2: plugins[0] (kernel): hold: expected a duration "
		  "such as \"30s\", found a boolean");
	check_bad(" config = { token = \"t\"; hold = \"soon\"; };", schema_all,
		  "x.conf:2: plugins[0] (kernel): hold: expected a duration "
		  "such as \"30s\" (a number with ms, s, m, h or d; bare numbers "
		  "are seconds), found \"soon\"");
	check_bad(" config = { token = \"t\"; hold = \"999999999d\"; };",
		  schema_all,
		  "x.conf:2: plugins[0] (kernel): hold: \"999999999d\" is too "
		  "long");
	check_good(" config = { enabled = false; count = 5000000000L;"
		   " token = \"\"; peers = (); empty = [\"a\"]; hold = 1.5; };",
		   schema_all);
	check_good(" config = { token = \"t\"; peers = [\"a\", \"b\"]; hold = 2;"
		   " };",
		   schema_all);
}
END_TEST

START_TEST(test_schema_bounds)
{
	check_bad(" config = {\n table = 300; };", schema3,
		  "x.conf:3: plugins[0] (kernel): table: 300 is out of range "
		  "1..255");
	check_bad(" config = { table = 0; };", schema3,
		  "x.conf:2: plugins[0] (kernel): table: 0 is out of range "
		  "1..255");
	check_bad(" config = { debounce = \"5ms\"; };", schema3,
		  "x.conf:2: plugins[0] (kernel): debounce: 5ms is out of range "
		  "10ms..1h");
	check_bad(" config = { debounce = 3601; };", schema3,
		  "x.conf:2: plugins[0] (kernel): debounce: 3601s is out of "
		  "range 10ms..1h");
	check_bad(" config = { debounce = \"1.0000001h\"; };", schema3,
		  "x.conf:2: plugins[0] (kernel): debounce: 3600.00036s is out "
		  "of range 10ms..1h");
	check_good(" config = { table = 1; debounce = \"10ms\"; };", schema3);
	check_good(" config = { table = 255; debounce = \"1h\"; };", schema3);
	/* min == max: unbounded. */
	check_good(" config = { token = \"t\"; count = -7; hold = \"30d\"; };",
		   schema_all);
}
END_TEST

START_TEST(test_schema_required)
{
	/* The line of the config group, else of the instance. */
	check_bad(" config = {\n enabled = true;\n };", schema_all,
		  "x.conf:2: plugins[0] (kernel): \"token\" is required");
	check_bad("", schema_all,
		  "x.conf:2: plugins[0] (kernel): \"token\" is required");
}
END_TEST

START_TEST(test_schema_bad_defaults)
{
	static const struct strata_cfg_key bad_int[] = {
		{ "table", STRATA_CFG_INT, 0, "main", 0, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};
	static const struct strata_cfg_key bad_dur[] = {
		{ "debounce", STRATA_CFG_DURATION, 0, "5x", 0, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};
	static const struct strata_cfg_key bad_dur_range[] = {
		{ "debounce", STRATA_CFG_DURATION, 0, "2h", 10 * MS,
		  3600 * SEC, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};
	static const struct strata_cfg_key bad_int_range[] = {
		{ "table", STRATA_CFG_INT, 0, "0", 1, 255, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};
	static const struct strata_cfg_key bad_bool[] = {
		{ "on", STRATA_CFG_BOOL, 0, "yes", 0, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};
	static const struct strata_cfg_key bad_list[] = {
		{ "scopes", STRATA_CFG_STRINGS, 0, "a,,b", 0, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};
	static const struct strata_cfg_key bad_type[] = {
		{ "x", 9, 0, NULL, 0, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};
	static const struct strata_cfg_key twice[] = {
		{ "x", STRATA_CFG_INT, 0, NULL, 0, 0, NULL },
		{ "x", STRATA_CFG_BOOL, 0, NULL, 0, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL },
	};

	check_bad("", bad_int,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so has a bad "
		  "default for \"table\": expected an integer, found \"main\"");
	check_bad(" config = {\n};", bad_dur,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so has a bad "
		  "default for \"debounce\": expected a duration such as "
		  "\"30s\", found \"5x\"");
	check_bad("", bad_dur_range,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so has a bad "
		  "default for \"debounce\": \"2h\" is out of its range "
		  "10ms..1h");
	check_bad("", bad_int_range,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so has a bad "
		  "default for \"table\": \"0\" is out of its range 1..255");
	check_bad("", bad_bool,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so has a bad "
		  "default for \"on\": expected true or false, found \"yes\"");
	check_bad("", bad_list,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so has a bad "
		  "default for \"scopes\": expected a list of strings, found "
		  "\"a,,b\"");
	check_bad("", bad_type,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so gives key "
		  "\"x\" an unknown type 9");
	check_bad("", twice,
		  "x.conf:2: plugins[0] (kernel): the plugin k.so lists key "
		  "\"x\" twice");
}
END_TEST

START_TEST(test_getters_values)
{
	struct cfg *cfg = load_plugin(
		" config = { enabled = false; count = 5000000000L;"
		" name = \"n1\"; token = \"t\"; peers = (\"p1\", \"p2\");"
		" hold = \"1.5s\"; };");
	const struct cfg_plugin *p = &cfg->plugins[0];
	int64_t v;
	int b = -1;

	ck_assert_int_eq(cfg_check_plugin(cfg, p, schema_all, err, sizeof(err)),
			 0);
	ck_assert_int_eq(cfg_get_bool(p, schema_all, "enabled", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(cfg_get_int(p, schema_all, "count", &v), 0);
	ck_assert_int_eq(v, 5000000000LL);
	ck_assert_str_eq(cfg_get_string(p, schema_all, "name"), "n1");
	ck_assert_str_eq(cfg_get_string(p, schema_all, "token"), "t");
	ck_assert_int_eq(cfg_get_strings_count(p, schema_all, "peers"), 2);
	ck_assert_str_eq(cfg_get_strings_at(p, schema_all, "peers", 0), "p1");
	ck_assert_str_eq(cfg_get_strings_at(p, schema_all, "peers", 1), "p2");
	ck_assert_ptr_null(cfg_get_strings_at(p, schema_all, "peers", 2));
	ck_assert_int_eq(cfg_get_duration(p, schema_all, "hold", &v), 0);
	ck_assert_int_eq(v, 1500 * MS);
	cfg_free(cfg);

	cfg = load_plugin(" config = { token = \"t\"; hold = 7; };");
	ck_assert_int_eq(cfg_get_duration(&cfg->plugins[0], schema_all, "hold",
					  &v),
			 0);
	ck_assert_int_eq(v, 7 * SEC);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_getters_defaults)
{
	struct cfg *cfg = load_plugin("");
	const struct cfg_plugin *p = &cfg->plugins[0];
	const char *s;
	int64_t v;
	int b = -1;

	ck_assert_int_eq(cfg_get_bool(p, schema_all, "enabled", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(cfg_get_duration(p, schema_all, "hold", &v), 0);
	ck_assert_int_eq(v, 90 * SEC);
	ck_assert_str_eq(cfg_get_string(p, schema_all, "name"), "strata");
	ck_assert_int_eq(cfg_get_int(p, schema3, "table", &v), 0);
	ck_assert_int_eq(v, 254);
	ck_assert_int_eq(cfg_get_duration(p, schema3, "debounce", &v), 0);
	ck_assert_int_eq(v, 100 * MS);
	ck_assert_int_eq(cfg_get_strings_count(p, schema3, "scopes"), 2);
	ck_assert_str_eq(cfg_get_strings_at(p, schema3, "scopes", 0), "kernel");
	ck_assert_str_eq(cfg_get_strings_at(p, schema3, "scopes", 1), "cloud");
	ck_assert_ptr_null(cfg_get_strings_at(p, schema3, "scopes", 2));
	ck_assert_int_eq(cfg_get_strings_count(p, schema_all, "empty"), 0);
	ck_assert_ptr_null(cfg_get_strings_at(p, schema_all, "empty", 0));

	/* Neither set nor defaulted. */
	ck_assert_int_eq(cfg_get_int(p, schema_all, "count", &v), -ENOENT);
	ck_assert_ptr_null(cfg_get_string(p, schema_all, "token"));
	ck_assert_int_eq(cfg_get_strings_count(p, schema_all, "peers"),
			 -ENOENT);
	ck_assert_ptr_null(cfg_get_strings_at(p, schema_all, "peers", 0));

	/* Not in the schema, or of another type. */
	ck_assert_int_eq(cfg_get_int(p, schema_all, "nope", &v), -EINVAL);
	ck_assert_int_eq(cfg_get_int(p, schema_all, "enabled", &v), -EINVAL);
	ck_assert_int_eq(cfg_get_bool(p, schema_all, "count", &b), -EINVAL);
	ck_assert_int_eq(cfg_get_duration(p, schema_all, "name", &v), -EINVAL);
	ck_assert_ptr_null(cfg_get_string(p, schema_all, "peers"));
	ck_assert_int_eq(cfg_get_strings_count(p, schema_all, "name"), -EINVAL);
	ck_assert_int_eq(cfg_get_int(p, NULL, "count", &v), -EINVAL);

	s = cfg_get_string(p, schema_all, "name");
	ck_assert_ptr_eq(s, cfg_get_string(p, schema_all, "name"));
	cfg_free(cfg);

	/* A value of the wrong type (an unchecked config) is refused. */
	cfg = load_plugin(" config = { enabled = 1; peers = (1); };");
	p = &cfg->plugins[0];
	ck_assert_int_eq(cfg_get_bool(p, schema_all, "enabled", &b), -EINVAL);
	ck_assert_int_eq(cfg_get_strings_count(p, schema_all, "peers"),
			 -EINVAL);
	ck_assert_ptr_null(cfg_get_strings_at(p, schema_all, "peers", 0));
	cfg_free(cfg);
}
END_TEST

/* Default strings are copies: valid until cfg_free even when the schema
 * that held them is gone. */
START_TEST(test_getter_lifetime)
{
	struct strata_cfg_key *schema = calloc(3, sizeof(*schema));
	char *def1 = strdup("east, west"), *def2 = strdup("zone-a");
	struct cfg *cfg = load_plugin("");
	const struct cfg_plugin *p = &cfg->plugins[0];
	const char *a, *b, *c;

	schema[0] = (struct strata_cfg_key){ .name = "sides",
					     .type = STRATA_CFG_STRINGS,
					     .def = def1 };
	schema[1] = (struct strata_cfg_key){ .name = "zone",
					     .type = STRATA_CFG_STRING,
					     .def = def2 };
	a = cfg_get_strings_at(p, schema, "sides", 1);
	b = cfg_get_string(p, schema, "zone");
	ck_assert_str_eq(a, "west");
	ck_assert_str_eq(b, "zone-a");
	ck_assert_ptr_ne(b, def2);
	/* Repeated calls do not allocate again. */
	ck_assert_ptr_eq(cfg_get_strings_at(p, schema, "sides", 1), a);
	ck_assert_ptr_eq(cfg_get_string(p, schema, "zone"), b);

	/* A changed default is read anew; the old strings stay. */
	strcpy(def2, "zone-b");
	c = cfg_get_string(p, schema, "zone");
	ck_assert_str_eq(c, "zone-b");
	ck_assert_str_eq(b, "zone-a");

	memset(def1, 'x', strlen(def1));
	free(def1);
	free(def2);
	free(schema);
	ck_assert_str_eq(a, "west");
	ck_assert_str_eq(b, "zone-a");
	ck_assert_str_eq(c, "zone-b");
	cfg_free(cfg);
}
END_TEST

/* Values from the file point into libconfig's storage, valid until
 * cfg_free. */
START_TEST(test_getter_lifetime_values)
{
	struct cfg *cfg = load_plugin(" config = { name = \"n1\"; "
				      "peers = [\"p\"]; };");
	const struct cfg_plugin *p = &cfg->plugins[0];
	const char *n = cfg_get_string(p, schema_all, "name");
	const char *e = cfg_get_strings_at(p, schema_all, "peers", 0);

	ck_assert_ptr_eq(n, config_setting_get_string(
				    config_setting_get_member(p->config, "name")));
	ck_assert_str_eq(e, "p");
	ck_assert_ptr_eq(cfg_get_strings_at(p, schema_all, "peers", 0), e);
	cfg_free(cfg);
}
END_TEST

static Suite *cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc;

	tc = tcase_create("load");
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_example);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_io_errors);
	tcase_add_test(tc, test_syntax);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_kubernetes);
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_log_values);
	tcase_add_test(tc, test_control_values);
	tcase_add_test(tc, test_routes_values);
	tcase_add_test(tc, test_routes_planning);
	tcase_add_test(tc, test_store_values);
	tcase_add_test(tc, test_node_values);
	tcase_add_test(tc, test_node_limits);
	tcase_add_test(tc, test_plugins_entries);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_load_string);
	suite_add_tcase(s, tc);

	tc = tcase_create("duration");
	tcase_add_loop_test(tc, test_duration_table, 0,
			    sizeof(durations) / sizeof(durations[0]));
	tcase_add_test(tc, test_duration_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("schema");
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_schema_unknown_key);
	tcase_add_test(tc, test_schema_types);
	tcase_add_test(tc, test_schema_bounds);
	tcase_add_test(tc, test_schema_required);
	tcase_add_test(tc, test_schema_bad_defaults);
	tcase_add_test(tc, test_getters_values);
	tcase_add_test(tc, test_getters_defaults);
	tcase_add_test(tc, test_getter_lifetime);
	tcase_add_test(tc, test_getter_lifetime_values);
	tcase_add_test(tc, test_metrics_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cfg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
