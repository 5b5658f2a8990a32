/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy-nft plugin against the mock host, each test in a network
 * namespace of its own: nothing is enforced before the three lists; a pod
 * attachment completes only once its rules are in the kernel, waits for
 * its Pod object up to pod_wait, and is cancelled by a detach or a stop;
 * a failed apply fails the waiting attachments and is tried again; the
 * resync repairs what was changed by hand.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/plugin.h>

#include "mock_host.h"
#include "netns.h"

extern const struct strata_plugin STRATA_PLUGIN_ENTRY;
static const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;

#define MS 1000000LL
#define NS_PATH "/api/v1/namespaces"
#define POD_PATH "/api/v1/pods"
#define POL_PATH "/apis/networking.k8s.io/v1/networkpolicies"

struct t {
	struct mock_host *mh;
	void *self;
	const struct strata_policy_ops *ops;
};

/* An attachment's completion. */
struct done {
	bool called;
	int rc;
	char why[256];
};

static void on_done(void *arg, int rc, const char *why)
{
	struct done *d = arg;

	ck_assert(!d->called);
	d->called = true;
	d->rc = rc;
	snprintf(d->why, sizeof(d->why), "%s", why ? why : "");
}

static bool called(void *arg)
{
	return ((struct done *)arg)->called;
}

static bool table_has(const char *text)
{
	return sh_has("nft list table inet strata-filter 2>/dev/null", text);
}

static bool has_arg(void *arg)
{
	return table_has(arg);
}

static bool lacks_arg(void *arg)
{
	return !table_has(arg);
}

/* resync every second unless said otherwise; pod_wait 0: its default */
static void t_init_resync(struct t *t, int64_t pod_wait_ns, int64_t resync_ns)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0,
		      "unshare(CLONE_NEWNET) failed: run the tests as root");
	t->mh = mock_host_new();
	ck_assert_ptr_nonnull(t->mh);
	t->ops = desc->kind_ops;
	ck_assert_int_eq(desc->kind, STRATA_KIND_POLICY);
	ck_assert_int_eq(mock_host_set_schema(t->mh, desc->config), 0);
	ck_assert_int_eq(mock_host_set_cfg_duration(t->mh, "resync",
						    resync_ns), 0);
	if (pod_wait_ns)
		ck_assert_int_eq(mock_host_set_cfg_duration(t->mh, "pod_wait",
							    pod_wait_ns), 0);
	ck_assert_int_eq(desc->ops->create(mock_host_table(t->mh),
					   mock_instance(t->mh), &t->self), 0);
}

static void t_init(struct t *t, int64_t pod_wait_ns)
{
	t_init_resync(t, pod_wait_ns, 1000 * MS);
}

static void t_fini(struct t *t)
{
	if (t->self) {
		ck_assert_int_eq(desc->ops->stop(t->self), 0);
		desc->ops->destroy(t->self);
	}
	ck_assert_uint_eq(mock_host_kube_watches(t->mh), 0);
	mock_host_free(t->mh);
}

static void ev(struct t *t, const char *path, uint32_t event, const char *key,
	       const char *json)
{
	ck_assert_uint_eq(mock_host_kube_event(t->mh, path, event, key, json),
			  1);
}

static void put_pod(struct t *t, const char *name, const char *ip)
{
	char key[64], json[512];

	snprintf(key, sizeof(key), "default/%s", name);
	snprintf(json, sizeof(json),
		 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},"
		 "\"spec\":{\"nodeName\":\"n1\",\"containers\":[]},"
		 "\"status\":{\"phase\":\"Running\",\"podIPs\":"
		 "[{\"ip\":\"%s\"}]}}",
		 name, ip);
	ev(t, POD_PATH, STRATA_KUBE_ADDED, key, json);
}

/* Namespace default, pod default/a, a policy isolating app=web for
 * ingress but from app=web, and the three lists done. */
static void list_all(struct t *t)
{
	ev(t, NS_PATH, STRATA_KUBE_ADDED, "default",
	   "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"default\"}}");
	put_pod(t, "a", "10.0.0.5");
	ev(t, POL_PATH, STRATA_KUBE_ADDED, "default/web",
	   "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"web\","
	   "\"namespace\":\"default\"},\"spec\":{\"podSelector\":"
	   "{\"matchLabels\":{\"app\":\"web\"}},\"ingress\":[{\"from\":"
	   "[{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}]}]}}");
	ev(t, NS_PATH, STRATA_KUBE_SYNCED, NULL, NULL);
	ev(t, POD_PATH, STRATA_KUBE_SYNCED, NULL, NULL);
	ev(t, POL_PATH, STRATA_KUBE_SYNCED, NULL, NULL);
}

static int attach(struct t *t, const char *handle, const char *name,
		  const char *host_if, const char *ip, struct done *d)
{
	struct strata_pod pod = {
		.size = sizeof(pod), .n_addrs = 1, .handle = handle,
		.pod_namespace = "default", .pod_name = name,
		.host_if = host_if,
		.addrs = { { .family = STRATA_AF_INET } },
	};

	ck_assert_int_eq(sscanf(ip, "%hhu.%hhu.%hhu.%hhu", &pod.addrs[0].addr[0],
				&pod.addrs[0].addr[1], &pod.addrs[0].addr[2],
				&pod.addrs[0].addr[3]),
			 4);
	memset(d, 0, sizeof(*d));
	return t->ops->pod_attach(t->self, &pod, on_done, d);
}

static const char *state(struct t *t)
{
	desc->ops->status(t->self, mock_host_status(t->mh));
	return mock_host_status_str(t->mh, "state");
}

START_TEST(enforces_once_listed)
{
	struct t t = { 0 };

	t_init(&t, 0);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	ck_assert_uint_eq(mock_host_kube_watches(t.mh), 3);
	ev(&t, NS_PATH, STRATA_KUBE_SYNCED, NULL, NULL);
	ev(&t, POD_PATH, STRATA_KUBE_SYNCED, NULL, NULL);
	mock_host_run(t.mh, 400 * MS);
	/* one list missing: nothing is made */
	ck_assert(!table_has("hook forward"));
	ck_assert_str_eq(state(&t), "waiting for the API server's lists");
	ev(&t, POL_PATH, STRATA_KUBE_SYNCED, NULL, NULL);
	ck_assert(mock_host_run_until(t.mh, has_arg,
				      "oifname vmap @pod-ingress", 5000 * MS));
	ck_assert_str_eq(state(&t), "enforcing");
	ck_assert_int_eq(mock_host_metric(t.mh, "policy_applies_total"), 1);
	t_fini(&t);
}
END_TEST

/* Until the front ends have attached again the pods that outlived a
 * restart, the table left behind is not touched. */
START_TEST(waits_for_the_pods_attached)
{
	struct t t = { 0 };

	t_init(&t, 0);
	mock_host_set_pods_attached(t.mh, 0);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	list_all(&t);
	mock_host_run(t.mh, 400 * MS);
	ck_assert(!table_has("hook forward"));
	ck_assert_str_eq(state(&t), "waiting for the pods' attachments");
	mock_host_set_pods_attached(t.mh, 1);
	ck_assert(mock_host_run_until(t.mh, has_arg, "@pod-ingress",
				      5000 * MS));
	t_fini(&t);
}
END_TEST

START_TEST(attach_done_when_rules_are_in)
{
	struct t t = { 0 };
	struct done d;

	t_init(&t, 0);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	list_all(&t);
	ck_assert_int_eq(attach(&t, "h-a", "a", "sta", "10.0.0.5", &d), 0);
	ck_assert(!d.called); /* never inside the call */
	ck_assert(mock_host_run_until(t.mh, called, &d, 5000 * MS));
	ck_assert_int_eq(d.rc, 0);
	/* in the kernel by the time it is done */
	ck_assert(table_has("\"sta\" : goto pod-sta-in"));
	ck_assert(table_has("chain pod-sta-in"));
	ck_assert(table_has("10.0.0.5"));

	{
		struct strata_pod pod = { .size = sizeof(pod),
					  .handle = "h-a",
					  .host_if = "sta" };

		ck_assert_int_eq(t.ops->pod_detach(t.self, &pod), 0);
	}
	ck_assert(mock_host_run_until(t.mh, lacks_arg, "chain pod-sta-in",
				      5000 * MS));
	ck_assert(!table_has("\"sta\""));
	t_fini(&t);
}
END_TEST

START_TEST(attach_waits_for_its_pod)
{
	struct t t = { 0 };
	struct done d, e;

	t_init(&t, 800 * MS);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	list_all(&t);
	/* b comes from the API server while its attachment waits */
	ck_assert_int_eq(attach(&t, "h-b", "b", "stb", "10.0.0.6", &d), 0);
	mock_host_run(t.mh, 300 * MS);
	ck_assert(!d.called);
	put_pod(&t, "b", "10.0.0.6");
	ck_assert(mock_host_run_until(t.mh, called, &d, 5000 * MS));
	ck_assert_int_eq(d.rc, 0);
	ck_assert(table_has("\"stb\" : goto pod-stb-in"));

	/* c never does: admitted after pod_wait, isolated both ways */
	ck_assert_int_eq(attach(&t, "h-c", "c", "stc", "10.0.0.7", &e), 0);
	mock_host_run(t.mh, 400 * MS);
	ck_assert(!e.called);
	ck_assert(mock_host_run_until(t.mh, called, &e, 5000 * MS));
	ck_assert_int_eq(e.rc, 0);
	ck_assert(table_has("\"stc\" : drop"));
	ck_assert_uint_ge(mock_host_log_count(t.mh, STRATA_LOG_WARNING), 1);
	t_fini(&t);
}
END_TEST

START_TEST(detach_and_stop_cancel_waiting)
{
	struct t t = { 0 };
	struct strata_pod pod = { .size = sizeof(pod), .handle = "h-x",
				  .host_if = "stx" };
	struct done d, e;

	t_init(&t, 60000 * MS);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	list_all(&t);
	ck_assert_int_eq(attach(&t, "h-x", "x", "stx", "10.0.0.8", &d), 0);
	mock_host_run(t.mh, 300 * MS);
	ck_assert(!d.called);
	ck_assert_int_eq(t.ops->pod_detach(t.self, &pod), 0);
	ck_assert(d.called);
	ck_assert_int_eq(d.rc, -ECANCELED);

	ck_assert_int_eq(attach(&t, "h-y", "y", "sty", "10.0.0.9", &e), 0);
	mock_host_run(t.mh, 300 * MS);
	ck_assert(!e.called);
	ck_assert_int_eq(desc->ops->stop(t.self), 0);
	desc->ops->destroy(t.self);
	t.self = NULL;
	ck_assert(e.called);
	ck_assert_int_eq(e.rc, -ECANCELED);
	ck_assert_str_eq(e.why, "stratad is stopping");
	/* the rules stay for the next start */
	ck_assert(table_has("@pod-ingress"));
	t_fini(&t);
}
END_TEST

/* An element the kernel refuses: the attachment waiting on that apply
 * fails with the reason, and the apply is tried again until it takes. */
START_TEST(failed_apply_fails_then_retries)
{
	struct t t = { 0 };
	struct done d;
	int64_t errors = 0;

	t_init_resync(&t, 0, 3600000 * MS); /* no resync: the retry */
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	list_all(&t);
	ck_assert(mock_host_run_until(t.mh, has_arg, "@pod-ingress",
				      5000 * MS));
	/* a key the plugin will add with another verdict: EEXIST */
	ck_assert_int_eq(sh("nft add element inet strata-filter pod-ingress "
			    "'{ \"sta\" : accept }'"), 0);
	ck_assert_int_eq(attach(&t, "h-a", "a", "sta", "10.0.0.5", &d), 0);
	ck_assert(mock_host_run_until(t.mh, called, &d, 5000 * MS));
	ck_assert_int_eq(d.rc, -EIO);
	ck_assert_msg(strstr(d.why, "applying the rules: Error: Could not "
				 "process rule: File exists"),
		      "%s", d.why);
	desc->ops->status(t.self, mock_host_status(t.mh));
	ck_assert_int_eq(mock_host_status_int(t.mh, "apply_errors", &errors),
			 0);
	ck_assert_int_eq(errors, 1);
	/* the retry reads the kernel's table and puts it right */
	ck_assert(mock_host_run_until(t.mh, has_arg,
				      "\"sta\" : goto pod-sta-in", 5000 * MS));
	ck_assert_int_eq(mock_host_metric(t.mh, "policy_apply_errors_total"),
			 1);
	t_fini(&t);
}
END_TEST

START_TEST(resync_repairs_changes_by_hand)
{
	struct t t = { 0 };
	struct done d;

	t_init(&t, 0);
	ck_assert_int_eq(desc->ops->start(t.self), 0);
	list_all(&t);
	ck_assert_int_eq(attach(&t, "h-a", "a", "sta", "10.0.0.5", &d), 0);
	ck_assert(mock_host_run_until(t.mh, called, &d, 5000 * MS));
	ck_assert_int_eq(d.rc, 0);
	ck_assert_int_eq(sh("nft add element inet strata-filter pod-ingress "
			    "'{ \"stz\" : accept }' && "
			    "nft flush chain inet strata-filter pod-sta-in"),
			 0);
	ck_assert(!table_has("jump np-"));
	/* resync every second here */
	ck_assert(mock_host_run_until(t.mh, lacks_arg, "\"stz\"",
				      5000 * MS));
	ck_assert(mock_host_run_until(t.mh, has_arg, "jump np-", 5000 * MS));
	t_fini(&t);
}
END_TEST

START_TEST(needs_the_api_and_abi_1_1)
{
	struct t t = { 0 };
	struct strata_host old;
	void *self = NULL;

	t_init(&t, 0);
	mock_host_set_kube(t.mh, false);
	ck_assert_int_eq(desc->ops->start(t.self), -ENOTCONN);
	ck_assert_uint_ge(mock_host_log_count(t.mh, STRATA_LOG_ERR), 1);

	/* a 1.0 host has no kube_watch: refused at create */
	old = *mock_host_table(t.mh);
	old.size = offsetof(struct strata_host, kube_watch);
	old.abi_minor = 0;
	ck_assert_int_eq(desc->ops->create(&old, mock_instance(t.mh), &self),
			 -ENOTSUP);
	ck_assert_uint_ge(mock_host_log_count(t.mh, STRATA_LOG_ERR), 2);
	ck_assert_ptr_null(self);
	t_fini(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_plugin");
	TCase *tc = tcase_create("plugin");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, enforces_once_listed);
	tcase_add_test(tc, waits_for_the_pods_attached);
	tcase_add_test(tc, attach_done_when_rules_are_in);
	tcase_add_test(tc, attach_waits_for_its_pod);
	tcase_add_test(tc, detach_and_stop_cancel_waiting);
	tcase_add_test(tc, failed_apply_fails_then_retries);
	tcase_add_test(tc, resync_repairs_changes_by_hand);
	tcase_add_test(tc, needs_the_api_and_abi_1_1);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
