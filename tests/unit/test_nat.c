/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frontend-cni plugin's node setup: the strata-nat table (read back
 * with nft, and a real masquerade across three namespaces) and the
 * routing sysctls. Every test runs in a network namespace of its own.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"
#include "nat.h"
#include "sysctl.h"

#define LIST "nft list table inet strata-nat"

static struct strata_prefix pfx(const char *s)
{
	struct strata_prefix p = { 0 };
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	p.len = (uint8_t)atoi(slash + 1);
	if (inet_pton(AF_INET, buf, p.addr) == 1)
		p.family = STRATA_AF_INET;
	else if (inet_pton(AF_INET6, buf, p.addr) == 1)
		p.family = STRATA_AF_INET6;
	else
		ck_abort_msg("bad prefix %s", s);
	return p;
}

/* nat_apply must succeed; its err says why not. */
#define apply_ok(cl, n_cl, nn, n_nn, err, errlen)                           \
	do {                                                                 \
		int ret_ = nat_apply(cl, n_cl, nn, n_nn, err, errlen);       \
		ck_assert_msg(ret_ == 0, "nat_apply: %d: %s", ret_, err);    \
	} while (0)

static bool table_exists(void)
{
	return sh(LIST " >/dev/null 2>&1") == 0;
}

static const char *const rule4 =
	"ip saddr @cluster4 ip daddr != @cluster4 ip daddr != @nonat4 "
	"masquerade";
static const char *const rule6 =
	"ip6 saddr @cluster6 ip6 daddr != @cluster6 ip6 daddr != @nonat6 "
	"masquerade";

START_TEST(apply_makes_sets_and_rules)
{
	/* host bits set, a duplicate and a prefix inside another */
	struct strata_prefix cl[] = {
		pfx("10.244.1.7/16"), pfx("fd10::/48"), pfx("10.244.0.0/16"),
		pfx("fd10:0:0:5::/64"),
	};
	struct strata_prefix nn[] = {
		pfx("192.168.1.0/24"), pfx("192.168.0.0/16"),
		pfx("172.16.0.0/24"), pfx("172.16.1.0/24"), pfx("2001:db8::/32"),
	};
	char err[256] = "";
	char *out;

	netns_enter();
	apply_ok(cl, 4, nn, 5, err, sizeof(err));
	out = sh_out(LIST);
	ck_assert_msg(strstr(out, "type nat hook postrouting priority srcnat"),
		      "%s", out);
	ck_assert_msg(strstr(out, rule4), "%s", out);
	ck_assert_msg(strstr(out, rule6), "%s", out);
	ck_assert_msg(strstr(out, "elements = { 10.244.0.0/16 }"), "%s", out);
	ck_assert_msg(strstr(out, "elements = { fd10::/48 }"), "%s", out);
	ck_assert_msg(strstr(out, "elements = { 2001:db8::/32 }"), "%s", out);
	ck_assert_msg(strstr(out, "172.16.0.0/24"), "%s", out);
	ck_assert_msg(strstr(out, "172.16.1.0/24"), "%s", out);
	ck_assert_msg(strstr(out, "192.168.0.0/16"), "%s", out);
	ck_assert_msg(!strstr(out, "192.168.1.0/24"), "%s", out);
	ck_assert_msg(!strstr(out, "fd10:0:0:5::/64"), "%s", out);
	free(out);
	ck_assert(sh_has("nft list set inet strata-nat nonat4",
			 "flags interval"));
	ck_assert(sh_has("nft list set inet strata-nat cluster6",
			 "type ipv6_addr"));
}
END_TEST

/* The table, sets and chain (not the rules) with their handles. */
#define SKELETON "nft -a list table inet strata-nat | " \
	"grep -E '^(table|\\s+(set|chain) )'"

START_TEST(apply_again_changes_elements_only)
{
	struct strata_prefix a[] = { pfx("10.1.0.0/16"), pfx("fd01::/64") };
	struct strata_prefix b[] = { pfx("10.2.0.0/16") };
	struct strata_prefix nn[] = { pfx("198.51.100.0/24") };
	char err[256] = "";
	char *skel1, *skel2, *out1, *out2;

	netns_enter();
	apply_ok(a, 2, NULL, 0, err, sizeof(err));
	skel1 = sh_out(SKELETON);
	ck_assert_msg(strstr(skel1, "set cluster4 { # handle"), "%s", skel1);

	apply_ok(b, 1, nn, 1, err, sizeof(err));
	skel2 = sh_out(SKELETON);
	ck_assert_str_eq(skel1, skel2);
	out1 = sh_out(LIST);
	ck_assert_msg(strstr(out1, "10.2.0.0/16"), "%s", out1);
	ck_assert_msg(strstr(out1, "198.51.100.0/24"), "%s", out1);
	ck_assert_msg(!strstr(out1, "10.1.0.0/16"), "%s", out1);
	ck_assert_msg(!strstr(out1, "fd01::/64"), "%s", out1);
	/* exactly one rule per family */
	ck_assert_msg(strstr(out1, rule4) && strstr(out1, rule6), "%s", out1);
	ck_assert_ptr_eq(strstr(strstr(out1, rule4) + 1, rule4), NULL);
	ck_assert_ptr_eq(strstr(strstr(out1, rule6) + 1, rule6), NULL);

	/* idempotent */
	apply_ok(b, 1, nn, 1, err, sizeof(err));
	out2 = sh_out(LIST);
	ck_assert_str_eq(out1, out2);
	free(skel1);
	free(skel2);
	free(out1);
	free(out2);
}
END_TEST

START_TEST(empty_lists)
{
	struct strata_prefix a[] = { pfx("10.1.0.0/16") };
	char err[256] = "";
	char *out;

	netns_enter();
	apply_ok(NULL, 0, NULL, 0, err, sizeof(err));
	ck_assert(sh_has(LIST, rule4));
	apply_ok(a, 1, NULL, 0, err, sizeof(err));
	ck_assert(sh_has(LIST, "10.1.0.0/16"));
	/* back to empty: the old elements go */
	apply_ok(NULL, 0, NULL, 0, err, sizeof(err));
	out = sh_out(LIST);
	ck_assert_msg(!strstr(out, "elements"), "%s", out);
	ck_assert_msg(strstr(out, rule6), "%s", out);
	free(out);
}
END_TEST

START_TEST(other_tables_survive)
{
	struct strata_prefix a[] = { pfx("10.1.0.0/16") };
	char err[256] = "";

	netns_enter();
	ck_assert_int_eq(sh("nft add table ip other && "
			    "nft add chain ip other c && "
			    "nft add rule ip other c ip daddr 10.9.9.9 counter"),
			 0);
	apply_ok(a, 1, NULL, 0, err, sizeof(err));
	ck_assert(sh_has("nft list table ip other", "ip daddr 10.9.9.9"));
	ck_assert_int_eq(nat_remove(err, sizeof(err)), 0);
	ck_assert(!table_exists());
	ck_assert(sh_has("nft list table ip other", "ip daddr 10.9.9.9"));
	/* no table is fine */
	ck_assert_int_eq(nat_remove(err, sizeof(err)), 0);
	ck_assert(sh_has("nft list ruleset", "table ip other"));
}
END_TEST

START_TEST(bad_prefixes_change_nothing)
{
	struct strata_prefix bad_len[] = { pfx("10.1.0.0/16") };
	struct strata_prefix bad_family[] = { pfx("10.1.0.0/16") };
	char err[256] = "";

	netns_enter();
	bad_len[0].len = 33;
	ck_assert_int_eq(nat_apply(bad_len, 1, NULL, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "length 33"), "%s", err);
	bad_family[0].family = 5;
	ck_assert_int_eq(nat_apply(NULL, 0, bad_family, 1, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "no_nat"), "%s", err);
	ck_assert(!table_exists());
}
END_TEST

/* A strata-nat table in a shape the declarations cannot be added to. */
START_TEST(replaces_a_foreign_shape)
{
	struct strata_prefix a[] = { pfx("10.1.0.0/16") };
	char err[256] = "";

	netns_enter();
	ck_assert_int_eq(sh("nft add table inet strata-nat && "
			    "nft add set inet strata-nat cluster4 "
			    "'{ type ipv6_addr; }' && "
			    "nft add chain inet strata-nat stale"), 0);
	apply_ok(a, 1, NULL, 0, err, sizeof(err));
	ck_assert(sh_has("nft list set inet strata-nat cluster4",
			 "type ipv4_addr"));
	ck_assert(sh_has(LIST, "10.1.0.0/16"));
	ck_assert(!sh_has(LIST, "chain stale"));
}
END_TEST

/* Without CAP_NET_ADMIN over the namespace, libnftables' error comes back. */
START_TEST(nft_errors_reach_err)
{
	int fds[2], status;
	char msg[300] = "";
	ssize_t n;
	pid_t pid;

	netns_enter();
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[256] = "";
		int ret;

		close(fds[0]);
		/* libnftables also prints this one to stderr itself */
		if (!freopen("/dev/null", "w", stderr) ||
		    unshare(CLONE_NEWUSER))
			_exit(2);
		ret = nat_apply(NULL, 0, NULL, 0, err, sizeof(err));
		if (write(fds[1], err, strlen(err)) < 0)
			_exit(2);
		_exit(ret == -EIO ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_ge(n, 0);
	msg[n] = '\0';
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status %d: %s", status, msg);
	ck_assert_msg(strstr(msg, "Operation not permitted"), "%s", msg);
}
END_TEST

/* A process that keeps a fresh network namespace alive while we live. */
static pid_t ns_holder(void)
{
	int fds[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) || write(fds[1], "x", 1) != 1)
			_exit(1);
		for (int i = 0; i < 600; i++)
			sleep(1);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

static void ns_holder_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static bool ping(pid_t from, const char *fam, const char *dst, int wait_s)
{
	return sh("nsenter -t %d -n ping %s -c1 -W%d %s >/dev/null 2>&1",
		  (int)from, fam, wait_s, dst) == 0;
}

/*
 * pod (10.244.0.5, fd10::5) - this namespace, the node - internet
 * (192.0.2.2, 2001:db8::2). The internet knows only the node's own link
 * (192.0.2.1, 2001:db8::1), so a reply arrives only when masqueraded.
 */
START_TEST(masquerade_across_namespaces)
{
	struct strata_prefix cl[] = { pfx("10.244.0.0/16"), pfx("fd10::/48") };
	struct strata_prefix cl_inet[] = { pfx("10.244.0.0/16"),
					   pfx("192.0.2.0/24") };
	struct strata_prefix nn[] = { pfx("192.0.2.0/24"),
				      pfx("2001:db8::/64") };
	char err[256] = "";
	pid_t pod, inet;

	netns_enter();
	pod = ns_holder();
	inet = ns_holder();
	ck_assert_int_eq(sh("sysctl -qw net.ipv4.ip_forward=1 "
			    "net.ipv6.conf.all.forwarding=1"), 0);
	ck_assert_int_eq(sh("ip link add hpod type veth peer name eth0 "
			    "netns %d", (int)pod), 0);
	ck_assert_int_eq(sh("ip link add hup type veth peer name eth0 "
			    "netns %d", (int)inet), 0);
	ck_assert_int_eq(sh("ip link set hpod up && ip link set hup up && "
			    "ip addr add 10.244.0.1/24 dev hpod && "
			    "ip addr add fd10::1/64 dev hpod nodad && "
			    "ip addr add 192.0.2.1/24 dev hup && "
			    "ip addr add 2001:db8::1/64 dev hup nodad"), 0);
	ck_assert_int_eq(sh("nsenter -t %d -n sh -c '"
			    "ip link set lo up && ip link set eth0 up && "
			    "ip addr add 10.244.0.5/24 dev eth0 && "
			    "ip addr add fd10::5/64 dev eth0 nodad && "
			    "ip route add default via 10.244.0.1 && "
			    "ip -6 route add default via fd10::1'", (int)pod),
			 0);
	ck_assert_int_eq(sh("nsenter -t %d -n sh -c '"
			    "ip link set lo up && ip link set eth0 up && "
			    "ip addr add 192.0.2.2/24 dev eth0 && "
			    "ip addr add 2001:db8::2/64 dev eth0 nodad'",
			    (int)inet), 0);

	/* the path works at all: the node reaches the internet */
	ck_assert(sh("ping -c1 -W2 192.0.2.2 >/dev/null 2>&1") == 0);
	/* no NAT, no reply */
	ck_assert(!ping(pod, "-4", "192.0.2.2", 1));

	apply_ok(cl, 2, NULL, 0, err, sizeof(err));
	ck_assert_msg(ping(pod, "-4", "192.0.2.2", 2), "no IPv4 reply");
	ck_assert_msg(ping(pod, "-6", "2001:db8::2", 2), "no IPv6 reply");

	/* no_nat and cluster destinations keep the pod's address */
	apply_ok(cl, 2, nn, 2, err, sizeof(err));
	ck_assert(!ping(pod, "-4", "192.0.2.2", 1));
	ck_assert(!ping(pod, "-6", "2001:db8::2", 1));
	apply_ok(cl_inet, 2, NULL, 0, err, sizeof(err));
	ck_assert(!ping(pod, "-4", "192.0.2.2", 1));

	ck_assert_int_eq(nat_remove(err, sizeof(err)), 0);
	ck_assert(!ping(pod, "-4", "192.0.2.2", 1));

	ns_holder_end(pod);
	ns_holder_end(inet);
}
END_TEST

static long rd(const char *name)
{
	char path[160], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	f = fopen(path, "r");
	ck_assert_msg(f, "%s", path);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	return atol(buf);
}

START_TEST(sysctls_apply_and_read_back)
{
	static const char *const modes[] = { "loose", "strict", "off" };
	struct node_sysctls s = {
		.forwarding = true,
		.no_redirects = true,
		.uplink = "v0",
	};
	char err[256] = "";

	netns_enter();
	/* v1 set explicitly: writes to default reach devices that were not */
	ck_assert_int_eq(sh("sysctl -qw net.ipv4.conf.v0.send_redirects=1 "
			    "net.ipv4.conf.v1.send_redirects=1 "
			    "net.ipv4.conf.all.rp_filter=1 "
			    "net.ipv6.conf.v0.accept_ra=1"), 0);
	for (int i = 0; i < 3; i++) {
		long want = 2 - i;

		s.rp_filter = modes[i];
		ck_assert_msg(node_sysctls_apply(&s, err, sizeof(err)) == 0,
			      "%s", err);
		ck_assert_int_eq(rd("ipv4/conf/all/rp_filter"), want);
		ck_assert_int_eq(rd("ipv4/conf/default/rp_filter"), want);
		ck_assert_int_eq(rd("ipv4/conf/v0/rp_filter"), want);
	}
	ck_assert_int_eq(rd("ipv4/ip_forward"), 1);
	ck_assert_int_eq(rd("ipv4/conf/v0/forwarding"), 1);
	ck_assert_int_eq(rd("ipv6/conf/all/forwarding"), 1);
	ck_assert_int_eq(rd("ipv6/conf/v0/forwarding"), 1);
	ck_assert_int_eq(rd("ipv6/conf/v0/accept_ra"), 2);
	ck_assert_int_eq(rd("ipv4/conf/all/send_redirects"), 0);
	ck_assert_int_eq(rd("ipv4/conf/default/send_redirects"), 0);
	ck_assert_int_eq(rd("ipv4/conf/v0/send_redirects"), 0);
	ck_assert_int_eq(rd("ipv4/conf/all/accept_redirects"), 0);
	/* not the uplink: left alone */
	ck_assert_int_eq(rd("ipv4/conf/v1/send_redirects"), 1);
}
END_TEST

START_TEST(sysctls_leave)
{
	struct node_sysctls s = { .uplink = "v0" };
	char err[256] = "";

	netns_enter();
	ck_assert_int_eq(sh("sysctl -qw net.ipv4.conf.all.rp_filter=1 "
			    "net.ipv4.conf.v0.rp_filter=2 "
			    "net.ipv4.conf.all.accept_redirects=1 "
			    "net.ipv6.conf.v0.accept_ra=1"), 0);
	ck_assert_int_eq(node_sysctls_apply(&s, err, sizeof(err)), 0);
	ck_assert_int_eq(rd("ipv4/ip_forward"), 0);
	ck_assert_int_eq(rd("ipv6/conf/all/forwarding"), 0);
	ck_assert_int_eq(rd("ipv4/conf/all/rp_filter"), 1);
	ck_assert_int_eq(rd("ipv4/conf/v0/rp_filter"), 2);
	ck_assert_int_eq(rd("ipv4/conf/all/send_redirects"), 1);
	ck_assert_int_eq(rd("ipv4/conf/all/accept_redirects"), 1);
	ck_assert_int_eq(rd("ipv6/conf/v0/accept_ra"), 1);
}
END_TEST

START_TEST(sysctls_bad_names)
{
	struct node_sysctls s = { .forwarding = true, .uplink = "nosuch0" };
	char err[256] = "";

	netns_enter();
	ck_assert_int_eq(node_sysctls_apply(&s, err, sizeof(err)), -ENODEV);
	ck_assert_msg(strstr(err, "nosuch0"), "%s", err);
	s.uplink = "../all";
	ck_assert_int_eq(node_sysctls_apply(&s, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "../all"), "%s", err);
	s.uplink = "v0";
	s.rp_filter = "medium";
	ck_assert_int_eq(node_sysctls_apply(&s, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "rp_filter 'medium'"), "%s", err);
	/* nothing was written on the way */
	ck_assert_int_eq(rd("ipv4/ip_forward"), 0);
}
END_TEST

/* A read-only bind mount over a sysctl file makes any write to it fail. */
static void make_read_only(const char *path)
{
	ck_assert_int_eq(mount(path, path, "none", MS_BIND, NULL), 0);
	ck_assert_int_eq(mount("none", path, "none",
			       MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
}

START_TEST(sysctls_write_only_what_differs)
{
	static const char *const fwd = "/proc/sys/net/ipv4/ip_forward";
	static const char *const rp = "/proc/sys/net/ipv4/conf/all/rp_filter";
	struct node_sysctls s = { .forwarding = true };
	char err[256] = "";

	netns_enter();
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL),
			 0);
	ck_assert_int_eq(sh("sysctl -qw net.ipv4.conf.all.rp_filter=0"), 0);
	ck_assert_int_eq(node_sysctls_apply(&s, err, sizeof(err)), 0);
	make_read_only(fwd);
	make_read_only(rp);

	/* all already right: nothing written, so nothing fails */
	s.rp_filter = "off";
	ck_assert_msg(node_sysctls_apply(&s, err, sizeof(err)) == 0, "%s",
		      err);
	/* a change that cannot be written names its sysctl */
	s.rp_filter = "strict";
	ck_assert_int_eq(node_sysctls_apply(&s, err, sizeof(err)), -EROFS);
	ck_assert_msg(strstr(err, "net.ipv4.conf.all.rp_filter"), "%s", err);

	ck_assert_int_eq(umount2(rp, 0), 0);
	ck_assert_int_eq(umount2(fwd, 0), 0);
}
END_TEST

static Suite *nat_suite(void)
{
	Suite *s = suite_create("nat");
	TCase *tc = tcase_create("nat");
	TCase *ts = tcase_create("sysctl");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, apply_makes_sets_and_rules);
	tcase_add_test(tc, apply_again_changes_elements_only);
	tcase_add_test(tc, empty_lists);
	tcase_add_test(tc, other_tables_survive);
	tcase_add_test(tc, bad_prefixes_change_nothing);
	tcase_add_test(tc, replaces_a_foreign_shape);
	tcase_add_test(tc, nft_errors_reach_err);
	tcase_add_test(tc, masquerade_across_namespaces);
	suite_add_tcase(s, tc);
	tcase_add_test(ts, sysctls_apply_and_read_back);
	tcase_add_test(ts, sysctls_leave);
	tcase_add_test(ts, sysctls_bad_names);
	tcase_add_test(ts, sysctls_write_only_what_differs);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(nat_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
