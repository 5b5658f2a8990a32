/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's policy entries (ABI 1.1): policy_attach fanned out to every
 * running policy instance and answered from the loop, the attachments
 * kept and replayed to an instance that starts, policy_detach, explain,
 * and kube_watch without a client. Scripted policy instances on a real
 * loop, without a running daemon.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "host.h"
#include "host_policy.h"
#include "loop.h"
#include "plug.h"
#include "route.h"

#define N_POL 2

/* A scripted policy instance: answers inside its op, later, or refuses. */
enum mode { ANSWER_LATER, ANSWER_INSIDE, REFUSE };

struct fake_pol {
	enum mode mode;
	int err;          /* what it answers */
	strata_done_cb cb; /* its last pending answer */
	void *cb_arg;
	int attaches, detaches;
	char handle[64], ns[64], name[64], host_if[32];
	uint32_t n_addrs;
	bool known;       /* explain knows the pod */
};

static struct fake_pol fp[N_POL];

static int fake_attach(void *self, const struct strata_pod *pod,
		       strata_done_cb cb, void *arg)
{
	struct fake_pol *f = self;

	f->attaches++;
	snprintf(f->handle, sizeof(f->handle), "%s", pod->handle);
	snprintf(f->ns, sizeof(f->ns), "%s",
		 pod->pod_namespace ? pod->pod_namespace : "(null)");
	snprintf(f->name, sizeof(f->name), "%s",
		 pod->pod_name ? pod->pod_name : "(null)");
	snprintf(f->host_if, sizeof(f->host_if), "%s",
		 pod->host_if ? pod->host_if : "(null)");
	f->n_addrs = pod->n_addrs;
	switch (f->mode) {
	case ANSWER_INSIDE:
		cb(arg, f->err, f->err ? "said inside" : NULL);
		return 0;
	case ANSWER_LATER:
		f->cb = cb;
		f->cb_arg = arg;
		return 0;
	case REFUSE:
		break;
	}
	return -EBUSY;
}

static int fake_detach(void *self, const struct strata_pod *pod)
{
	struct fake_pol *f = self;

	f->detaches++;
	snprintf(f->handle, sizeof(f->handle), "%s", pod->handle);
	return 0;
}

static int fake_explain(void *self, const char *ns, const char *name,
			void (*line)(void *arg, const char *text), void *arg)
{
	struct fake_pol *f = self;
	char text[160];

	if (!f->known)
		return -ENOENT;
	snprintf(text, sizeof(text), "%s %s/%s", f == &fp[0] ? "a" : "b", ns,
		 name);
	line(arg, text);
	return 0;
}

static const struct strata_plugin_ops ops; /* never called here */
static const struct strata_policy_ops pol_ops = {
	.size = sizeof(struct strata_policy_ops),
	.pod_attach = fake_attach,
	.pod_detach = fake_detach,
	.explain = fake_explain,
};
static const struct strata_plugin pol_desc = {
	.magic = STRATA_PLUGIN_MAGIC,
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.size = sizeof(struct strata_plugin),
	.kind = STRATA_KIND_POLICY,
	.name = "fake-policy",
	.version = "1",
	.ops = &ops,
	.kind_ops = &pol_ops,
};
static const struct strata_plugin fe_desc = {
	.magic = STRATA_PLUGIN_MAGIC,
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.size = sizeof(struct strata_plugin),
	.kind = STRATA_KIND_FRONTEND,
	.name = "fe",
	.version = "1",
	.ops = &ops,
};

static struct daemon d;
static struct plug pol_plug = { .desc = &pol_desc };
static struct plug fe_plug = { .desc = &fe_desc };
static struct strata_instance fe, pol[N_POL];
static const struct strata_host *h = &host_table;

/* What the front end heard. */
static struct {
	int calls;
	int err;
	char text[256];
} heard;

static void heard_cb(void *arg, int err, const char *text)
{
	(void)arg;
	heard.calls++;
	heard.err = err;
	snprintf(heard.text, sizeof(heard.text), "%s", text ? text : "");
}

static void setup(void)
{
	memset(&d, 0, sizeof(d));
	memset(&fe, 0, sizeof(fe));
	memset(pol, 0, sizeof(pol));
	memset(fp, 0, sizeof(fp));
	memset(&heard, 0, sizeof(heard));
	ck_assert_int_eq(loop_new(&d.loop), 0);
	fe.d = &d;
	fe.id = 1;
	fe.name = "cni";
	strcpy(fe.prefix, "cni[cni]");
	fe.plug = &fe_plug;
	fe.state = INST_RUNNING;
	for (int i = 0; i < N_POL; i++) {
		pol[i].d = &d;
		pol[i].id = 10 + (uint64_t)i;
		pol[i].name = i ? "pb" : "pa";
		snprintf(pol[i].prefix, sizeof(pol[i].prefix), "fake[%s]",
			 pol[i].name);
		pol[i].plug = &pol_plug;
		pol[i].self = &fp[i];
		pol[i].state = INST_RUNNING;
		pol[i].next = i + 1 < N_POL ? &pol[i + 1] : NULL;
	}
	fe.next = &pol[0];
	d.instances = &fe;
}

static void teardown(void)
{
	host_policy_free(&d);
	loop_free(d.loop);
}

static void run_for(int64_t ms)
{
	int64_t end = loop_now() + ms * 1000000LL;

	while (loop_now() < end)
		loop_run_once(d.loop, 5);
}

static struct strata_pod pod_of(const char *handle, const char *ns,
				const char *name)
{
	struct strata_pod p = {
		.size = sizeof(p),
		.n_addrs = 1,
		.handle = handle,
		.pod_namespace = ns,
		.pod_name = name,
		.host_if = "st0123456789abc",
	};

	p.addrs[0].family = STRATA_AF_INET;
	p.addrs[0].addr[0] = 10;
	p.addrs[0].addr[3] = 5;
	return p;
}

static void only_policy(int i)
{
	fe.next = &pol[i];
	pol[i].next = NULL;
}

START_TEST(no_policy_completes_from_the_loop)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	fe.next = NULL;
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	ck_assert_int_eq(heard.calls, 0); /* never inside the call */
	run_for(20);
	ck_assert_int_eq(heard.calls, 1);
	ck_assert_int_eq(heard.err, 0);
	ck_assert_uint_eq(host_policy_count(&d), 1);
}
END_TEST

START_TEST(waits_for_every_instance)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	for (int i = 0; i < N_POL; i++) {
		ck_assert_int_eq(fp[i].attaches, 1);
		ck_assert_str_eq(fp[i].handle, "cni/a");
		ck_assert_str_eq(fp[i].ns, "default");
		ck_assert_str_eq(fp[i].name, "web");
		ck_assert_uint_eq(fp[i].n_addrs, 1);
	}
	fp[1].cb(fp[1].cb_arg, 0, NULL);
	run_for(20);
	ck_assert_int_eq(heard.calls, 0);
	fp[0].cb(fp[0].cb_arg, 0, NULL);
	ck_assert_int_eq(heard.calls, 0);
	run_for(20);
	ck_assert_int_eq(heard.calls, 1);
	ck_assert_int_eq(heard.err, 0);
}
END_TEST

START_TEST(first_error_wins)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	fp[1].cb(fp[1].cb_arg, -EAGAIN, "pod default/web not known yet");
	fp[0].cb(fp[0].cb_arg, -EIO, "nft failed");
	run_for(20);
	ck_assert_int_eq(heard.calls, 1);
	ck_assert_int_eq(heard.err, -EAGAIN);
	ck_assert_str_eq(heard.text, "pod default/web not known yet");
}
END_TEST

START_TEST(answer_inside_goes_out_from_the_loop)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	only_policy(0);
	fp[0].mode = ANSWER_INSIDE;
	fp[0].err = -EAGAIN;
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	ck_assert_int_eq(heard.calls, 0);
	run_for(20);
	ck_assert_int_eq(heard.calls, 1);
	ck_assert_int_eq(heard.err, -EAGAIN);
	ck_assert_str_eq(heard.text, "said inside");
}
END_TEST

START_TEST(refusal_names_the_instance)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	fp[1].mode = REFUSE;
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	fp[0].cb(fp[0].cb_arg, 0, NULL);
	run_for(20);
	ck_assert_int_eq(heard.calls, 1);
	ck_assert_int_eq(heard.err, -EBUSY);
	ck_assert_ptr_nonnull(strstr(heard.text, "pb: pod_attach"));
}
END_TEST

START_TEST(bad_arguments)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	ck_assert_int_eq(h->policy_attach(&fe, NULL, heard_cb, NULL), -EINVAL);
	ck_assert_int_eq(h->policy_attach(&fe, &p, NULL, NULL), -EINVAL);
	ck_assert_int_eq(h->policy_attach(NULL, &p, heard_cb, NULL), -EINVAL);
	p.n_addrs = 3;
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), -EINVAL);
	p = pod_of("", "default", "web");
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), -EINVAL);
	ck_assert_int_eq(h->policy_detach(&fe, &p), -EINVAL);
	p = pod_of("cni/a", "default", "web");
	p.size = 8;
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), -EINVAL);
	ck_assert_int_eq(fp[0].attaches, 0);
	ck_assert_uint_eq(host_policy_count(&d), 0);
}
END_TEST

/* Attached before any policy instance ran: replayed when one starts, with
 * copies of what the front end said; detached ones are not. */
START_TEST(replayed_to_an_instance_that_starts)
{
	struct strata_pod p;
	char handle[32], ns[32];

	pol[0].state = INST_CREATED;
	pol[1].state = INST_CREATED;
	for (int i = 0; i < 3; i++) {
		/* the caller's strings are gone after the call */
		snprintf(handle, sizeof(handle), "cni/%d", i);
		snprintf(ns, sizeof(ns), "ns%d", i);
		p = pod_of(handle, ns, i == 2 ? NULL : "web");
		ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL),
				 0);
		memset(handle, 'x', sizeof(handle) - 1);
		memset(ns, 'x', sizeof(ns) - 1);
	}
	run_for(20);
	ck_assert_int_eq(heard.calls, 3);
	ck_assert_int_eq(fp[0].attaches, 0);
	p = pod_of("cni/1", NULL, NULL);
	ck_assert_int_eq(h->policy_detach(&fe, &p), 0);
	ck_assert_uint_eq(host_policy_count(&d), 2);
	ck_assert_int_eq(fp[0].detaches, 0); /* none running */

	fp[0].mode = ANSWER_INSIDE;
	fp[0].err = -EAGAIN; /* only logged */
	pol[0].state = INST_RUNNING;
	host_policy_started(&pol[0]);
	ck_assert_int_eq(fp[0].attaches, 2);
	ck_assert_int_eq(fp[1].attaches, 0);
	/* the last replayed is one of cni/0, cni/2, as it was attached */
	if (!strcmp(fp[0].handle, "cni/2")) {
		ck_assert_str_eq(fp[0].ns, "ns2");
		ck_assert_str_eq(fp[0].name, "(null)");
	} else {
		ck_assert_str_eq(fp[0].handle, "cni/0");
		ck_assert_str_eq(fp[0].ns, "ns0");
		ck_assert_str_eq(fp[0].name, "web");
	}
	ck_assert_str_eq(fp[0].host_if, "st0123456789abc");
	run_for(20);
	ck_assert_int_eq(heard.calls, 3); /* replays answer nobody */

	/* started again (a restart): all of it once more */
	host_policy_started(&pol[0]);
	ck_assert_int_eq(fp[0].attaches, 4);
	run_for(20);
}
END_TEST

START_TEST(attach_again_replaces)
{
	struct strata_pod p = pod_of("cni/a", NULL, NULL);

	fe.next = NULL;
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	p = pod_of("cni/a", "default", "web");
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	run_for(20);
	ck_assert_uint_eq(host_policy_count(&d), 1);
	only_policy(0);
	fp[0].mode = ANSWER_INSIDE;
	host_policy_started(&pol[0]);
	ck_assert_int_eq(fp[0].attaches, 1);
	ck_assert_str_eq(fp[0].name, "web");
	run_for(20);
}
END_TEST

START_TEST(detach_reaches_every_instance)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	fp[0].mode = fp[1].mode = ANSWER_INSIDE;
	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	ck_assert_int_eq(h->policy_detach(&fe, &p), 0);
	ck_assert_int_eq(fp[0].detaches, 1);
	ck_assert_int_eq(fp[1].detaches, 1);
	ck_assert_uint_eq(host_policy_count(&d), 0);
	/* unknown handles succeed */
	p = pod_of("cni/zz", NULL, NULL);
	ck_assert_int_eq(h->policy_detach(&fe, &p), 0);
	run_for(20);
	ck_assert_int_eq(heard.calls, 1);
}
END_TEST

/* An instance destroyed without answering fails its part. */
START_TEST(instance_gone_fails_its_part)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	fp[0].cb(fp[0].cb_arg, 0, NULL);
	pol[1].state = INST_STOPPED;
	host_release_all(&pol[1]);
	run_for(20);
	ck_assert_int_eq(heard.calls, 1);
	ck_assert_int_eq(heard.err, -ENODEV);
	ck_assert_str_eq(heard.text, "the policy instance pb stopped");
}
END_TEST

/* A caller gone hears nothing; the late answers land safely. */
START_TEST(caller_gone_hears_nothing)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	d.instances = &pol[0];
	fp[0].cb(fp[0].cb_arg, 0, NULL);
	fp[1].cb(fp[1].cb_arg, 0, NULL);
	run_for(20);
	ck_assert_int_eq(heard.calls, 0);
}
END_TEST

/* Pending legs and calls are freed with the daemon (valgrind checks). */
START_TEST(freed_while_pending)
{
	struct strata_pod p = pod_of("cni/a", "default", "web");

	ck_assert_int_eq(h->policy_attach(&fe, &p, heard_cb, NULL), 0);
	ck_assert_int_eq(heard.calls, 0);
}
END_TEST

static char lines[512];

static void line_cb(void *arg, const char *text)
{
	(void)arg;
	strncat(lines, text, sizeof(lines) - strlen(lines) - 2);
	strcat(lines, "\n");
}

START_TEST(explain_asks_every_instance)
{
	lines[0] = '\0';
	ck_assert_int_eq(host_policy_explain(&d, "default", "web", line_cb,
					     NULL),
			 -ENOENT);
	fp[1].known = true;
	ck_assert_int_eq(host_policy_explain(&d, "default", "web", line_cb,
					     NULL),
			 0);
	fp[0].known = true;
	ck_assert_int_eq(host_policy_explain(&d, "prod", "db", line_cb, NULL),
			 0);
	ck_assert_str_eq(lines, "b default/web\na prod/db\nb prod/db\n");
	fe.next = NULL;
	ck_assert_int_eq(host_policy_explain(&d, "default", "web", line_cb,
					     NULL),
			 -ENODEV);
}
END_TEST

static void kube_cb(void *arg, uint32_t event, const char *key,
		    const char *json, size_t len)
{
	(void)arg;
	(void)event;
	(void)key;
	(void)json;
	(void)len;
	ck_abort_msg("no events without a client");
}

/* The route model's barrier: front ends re-attach before route_synced. */
START_TEST(pods_attached_follows_the_route_barrier)
{
	struct route_owner *o;

	ck_assert_int_eq(h->pods_attached(&pol[0]), 0); /* no model yet */
	ck_assert_int_eq(route_model_new(d.loop, 0, &d.routes), 0);
	o = route_owner_add(d.routes, "cni");
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(h->pods_attached(&pol[0]), 0);
	ck_assert_int_eq(route_synced(o), 0);
	ck_assert_int_eq(h->pods_attached(&pol[0]), 1);
	route_model_free(d.routes);
	d.routes = NULL;
}
END_TEST

START_TEST(kube_watch_needs_the_group)
{
	struct strata_kube_watch *w = (struct strata_kube_watch *)&w;

	ck_assert_int_eq(h->kube_watch(&pol[0], "/api/v1/pods", kube_cb, NULL,
				       &w),
			 -ENOTCONN);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(h->kube_watch(&pol[0], NULL, kube_cb, NULL, &w),
			 -EINVAL);
	ck_assert_int_eq(h->kube_watch(&pol[0], "/api/v1/pods", NULL, NULL,
				       &w),
			 -EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("host_policy");
	TCase *tc = tcase_create("policy");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, no_policy_completes_from_the_loop);
	tcase_add_test(tc, waits_for_every_instance);
	tcase_add_test(tc, first_error_wins);
	tcase_add_test(tc, answer_inside_goes_out_from_the_loop);
	tcase_add_test(tc, refusal_names_the_instance);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, replayed_to_an_instance_that_starts);
	tcase_add_test(tc, attach_again_replaces);
	tcase_add_test(tc, detach_reaches_every_instance);
	tcase_add_test(tc, instance_gone_fails_its_part);
	tcase_add_test(tc, caller_gone_hears_nothing);
	tcase_add_test(tc, freed_while_pending);
	tcase_add_test(tc, explain_asks_every_instance);
	tcase_add_test(tc, kube_watch_needs_the_group);
	tcase_add_test(tc, pods_attached_follows_the_route_barrier);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
