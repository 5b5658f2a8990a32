/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's kube_watch (ABI 1.1) against tests/fixtures/kube_api.py on
 * the loopback: objects as JSON with their events, SYNCED after the list,
 * a client replaced (a reload) with what vanished meanwhile delivered as
 * DELETED, cancel inside the callback, release at destroy.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "host.h"
#include "host_kube.h"
#include "http.h"
#include "kube.h"
#include "loop.h"
#include "plug.h"

#define TOKEN "t0k3n"

static const struct strata_plugin_ops ops; /* never called here */
static const struct strata_plugin desc = {
	.magic = STRATA_PLUGIN_MAGIC,
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.size = sizeof(struct strata_plugin),
	.kind = STRATA_KIND_POLICY,
	.name = "watcher",
	.version = "1",
	.ops = &ops,
};

static struct daemon d;
static struct plug plug = { .desc = &desc };
static struct strata_instance inst;
static const struct strata_host *h = &host_table;
static char tmpdir[64], kubeconfig[128];
static pid_t server;
static int port;

/* What the watch delivered, in order: "ADDED default/a {json}" lines. */
static char seen[8192];
static int synced;
static struct strata_kube_watch *watch;

static const char *ev_name(uint32_t ev)
{
	switch (ev) {
	case STRATA_KUBE_ADDED:
		return "ADDED";
	case STRATA_KUBE_MODIFIED:
		return "MODIFIED";
	case STRATA_KUBE_DELETED:
		return "DELETED";
	case STRATA_KUBE_SYNCED:
		return "SYNCED";
	}
	return "?";
}

/* arg, when set, is the watch's own handle: cancelled at its SYNCED
 * (another watch's SYNCED may come first, so never a shared one). */
static void on_event(void *arg, uint32_t ev, const char *key,
		     const char *json, size_t len)
{
	struct strata_kube_watch **self = arg;
	size_t n = strlen(seen);

	if (ev == STRATA_KUBE_SYNCED) {
		ck_assert_ptr_null(json);
		synced++;
		if (self) {
			ck_assert_ptr_nonnull(*self);
			h->kube_watch_cancel(&inst, *self);
			*self = NULL;
		}
		return;
	}
	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(json);
	ck_assert_uint_eq(strlen(json), len);
	snprintf(seen + n, sizeof(seen) - n, "%s %s %.*s\n", ev_name(ev), key,
		 (int)len, json);
}

/* The fake API server's control API, by curl. */
static void fake(const char *what, const char *json)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "curl -sf -o /dev/null -X POST -H 'Content-Type: "
		 "application/json' --data '%s' http://127.0.0.1:%d/fake/%s",
		 json, port, what);
	ck_assert_int_eq(system(cmd), 0);
}

static void apply_pod(const char *name)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"resource\": \"pods\", \"object\": {\"metadata\": "
		 "{\"name\": \"%s\", \"namespace\": \"default\", \"labels\": "
		 "{\"app\": \"web\"}}, \"spec\": {}, \"status\": "
		 "{\"podIP\": \"10.1.0.5\"}}}", name);
	fake("apply", json);
}

static void delete_pod(const char *name)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "{\"resource\": \"pods\", \"name\": \"%s\", \"namespace\": "
		 "\"default\"}", name);
	fake("delete", json);
}

static void start_server(void)
{
	const char *src = getenv("top_srcdir");
	char script[512], line[64] = "";
	int fds[2];
	FILE *f;

	snprintf(script, sizeof(script), "%s/tests/fixtures/kube_api.py",
		 src && *src ? src : "..");
	ck_assert_int_eq(pipe(fds), 0);
	server = fork();
	ck_assert_int_ge(server, 0);
	if (!server) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, "--listen", "127.0.0.1:0",
		       "--token", TOKEN, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_int_eq(sscanf(line, "ready %d", &port), 1);
}

static void client_new(void)
{
	struct kube_options opt = { .qps = 100, .burst = 100 };
	char err[256] = "";

	opt.kubeconfig = kubeconfig;
	ck_assert_msg(kube_new(d.loop, d.http, &opt, &d.kube_client, err,
			       sizeof(err)) == 0, "%s", err);
}

static void setup(void)
{
	FILE *f;

	memset(&d, 0, sizeof(d));
	memset(&inst, 0, sizeof(inst));
	seen[0] = '\0';
	synced = 0;
	watch = NULL;
	start_server();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_host_kube.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", tmpdir);
	f = fopen(kubeconfig, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		   "clusters:\n- name: fake\n  cluster:\n"
		   "    server: http://127.0.0.1:%d\n"
		   "contexts:\n- name: t\n  context: {cluster: fake, user: u}\n"
		   "users:\n- name: u\n  user:\n    token: " TOKEN "\n",
		port);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(loop_new(&d.loop), 0);
	ck_assert_int_eq(http_new(d.loop, &d.http), 0);
	inst.d = &d;
	inst.id = 3;
	inst.name = "w";
	strcpy(inst.prefix, "watcher[w]");
	inst.plug = &plug;
	inst.state = INST_RUNNING;
	d.instances = &inst;
}

static void teardown(void)
{
	char cmd[128];

	host_release_all(&inst);
	ck_assert_uint_eq(host_kube_count(&d), 0);
	kube_free(d.kube_client);
	http_free(d.http);
	loop_free(d.loop);
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run the loop until cond holds, 10 s at most. */
#define RUN_UNTIL(cond)                                                  \
	do {                                                             \
		int64_t end_ = loop_now() + 10000000000LL;               \
		while (!(cond) && loop_now() < end_)                     \
			loop_run_once(d.loop, 20);                       \
		ck_assert_msg((cond), "timed out waiting for " #cond     \
			      "; seen:\n%s", seen);                      \
	} while (0)

START_TEST(objects_as_json)
{
	apply_pod("a");
	ck_assert_int_eq(h->kube_watch(&inst, "/api/v1/pods", on_event, NULL,
				       &watch), 0);
	ck_assert_ptr_nonnull(watch);
	RUN_UNTIL(synced == 1);
	ck_assert_ptr_nonnull(strstr(seen, "ADDED default/a {"));
	ck_assert_ptr_nonnull(strstr(seen, "\"name\":\"a\""));
	ck_assert_ptr_nonnull(strstr(seen, "\"podIP\":\"10.1.0.5\""));

	seen[0] = '\0';
	apply_pod("b");
	RUN_UNTIL(strstr(seen, "ADDED default/b"));
	apply_pod("b");
	RUN_UNTIL(strstr(seen, "MODIFIED default/b"));
	delete_pod("a");
	RUN_UNTIL(strstr(seen, "DELETED default/a {"));
	ck_assert_uint_eq(host_kube_count(&d), 1);
	h->kube_watch_cancel(&inst, watch);
	ck_assert_uint_eq(host_kube_count(&d), 0);
}
END_TEST

/* A reload replaces the client: the watch lists again on the new one, and
 * what vanished in between comes as DELETED. */
START_TEST(follows_a_new_client)
{
	apply_pod("a");
	apply_pod("b");
	ck_assert_int_eq(h->kube_watch(&inst, "/api/v1/pods", on_event, NULL,
				       &watch), 0);
	RUN_UNTIL(synced == 1);
	host_kube_unbind(&d);
	kube_free(d.kube_client);
	d.kube_client = NULL;
	delete_pod("a");
	apply_pod("c");
	seen[0] = '\0';
	client_new();
	host_kube_bind(&d);
	RUN_UNTIL(synced == 2);
	ck_assert_ptr_nonnull(strstr(seen, "ADDED default/c {"));
	ck_assert_ptr_nonnull(strstr(seen, "ADDED default/b {"));
	ck_assert_ptr_nonnull(strstr(
		seen, "DELETED default/a {\"metadata\":{\"namespace\":"
		      "\"default\",\"name\":\"a\"}}"));
	/* watching goes on on the new client */
	seen[0] = '\0';
	delete_pod("b");
	RUN_UNTIL(strstr(seen, "DELETED default/b {"));
}
END_TEST

/* Cancelled from inside its own callback; the rest is released with the
 * instance (valgrind sees both). */
START_TEST(cancel_inside_and_release)
{
	struct strata_kube_watch *other;

	apply_pod("a");
	ck_assert_int_eq(h->kube_watch(&inst, "/api/v1/pods", on_event, &watch,
				       &watch), 0);
	ck_assert_int_eq(h->kube_watch(&inst, "/api/v1/namespaces", on_event,
				       NULL, &other), 0);
	RUN_UNTIL(synced == 2);
	ck_assert_ptr_nonnull(strstr(seen, "ADDED default/a {"));
	ck_assert_ptr_null(watch);
	/* the other is left for host_release_all (teardown checks) */
	ck_assert_uint_eq(host_kube_count(&d), 1);
	/* the deferred free */
	loop_run_once(d.loop, 20);
}
END_TEST

START_TEST(no_client)
{
	kube_free(d.kube_client);
	d.kube_client = NULL;
	ck_assert_int_eq(h->kube_watch(&inst, "/api/v1/pods", on_event, NULL,
				       &watch), -ENOTCONN);
	ck_assert_ptr_null(watch);
	ck_assert_int_eq(h->kube_watch(&inst, "api/v1/pods", on_event, NULL,
				       &watch), -EINVAL);
}
END_TEST

static void client_setup(void)
{
	setup();
	client_new();
}

int main(void)
{
	Suite *s = suite_create("host_kube");
	TCase *tc = tcase_create("watch");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, client_setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, objects_as_json);
	tcase_add_test(tc, follows_a_new_client);
	tcase_add_test(tc, cancel_inside_and_release);
	tcase_add_test(tc, no_client);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
