/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frontend-cni's pod links: each test in a netns of its own (the "host")
 * with a second netns as the pod, reached by fd only, so nothing is named
 * and nothing outlives the test.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "netns.h"
#include "pod.h"

#define POD4 "10.112.0.5"
#define POD6 "fd10::5"

/* A fresh host netns (netns_enter) and a pod netns, returned as an fd
 * without O_CLOEXEC so that `nsenter --net=/proc/self/fd/N` reaches it. */
static int pod_netns(void)
{
	int host, pod;

	netns_enter();
	/* the pods' traffic to the world is routed: proxy ARP needs it */
	ck_assert_int_eq(sh("sysctl -qw net.ipv4.ip_forward=1"), 0);
	host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(host, 0);
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	pod = open("/proc/self/ns/net", O_RDONLY);
	ck_assert_int_ge(pod, 0);
	ck_assert_int_eq(setns(host, CLONE_NEWNET), 0);
	close(host);
	return pod;
}

/* Run a shell command in the pod netns. */
static int __attribute__((format(printf, 2, 3)))
in_pod(int pod, const char *fmt, ...)
{
	char cmd[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return sh("nsenter --net=/proc/self/fd/%d sh -c '%s' >/dev/null 2>&1",
		  pod, cmd);
}

static bool in_pod_has(int pod, const char *cmd, const char *want)
{
	char full[400];

	snprintf(full, sizeof(full),
		 "nsenter --net=/proc/self/fd/%d %s 2>/dev/null", pod, cmd);
	return sh_has(full, want);
}

static void prefix(const char *text, struct strata_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, text, p->addr) == 1) {
		p->family = STRATA_AF_INET;
		p->len = 32;
		return;
	}
	ck_assert_int_eq(inet_pton(AF_INET6, text, p->addr), 1);
	p->family = STRATA_AF_INET6;
	p->len = 128;
}

static struct pod_link mk_link(const char *cid, const char *a1,
			       const char *a2)
{
	struct pod_link l = { .pod_if = "eth0", .mtu = 1500 };

	pod_host_if_name("net", cid, "eth0", l.host_if);
	if (a1)
		prefix(a1, &l.addrs[l.n_addrs++]);
	if (a2)
		prefix(a2, &l.addrs[l.n_addrs++]);
	return l;
}

static bool link_here(const char *name)
{
	return sh("ip link show dev %s >/dev/null 2>&1", name) == 0;
}

static void read_file(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");

	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_ptr_nonnull(fgets(out, (int)n, f));
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

static void sysctl_is(const char *dir, const char *ifname, const char *leaf,
		      const char *want)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), "/proc/sys/net/%s/%s/%s", dir, ifname,
		 leaf);
	read_file(path, val, sizeof(val));
	ck_assert_msg(!strcmp(val, want), "%s: %s, want %s", path, val, want);
}

static int count_lines(const char *cmd, const char *want)
{
	char line[512];
	int n = 0;
	FILE *f = popen(cmd, "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			n++;
	pclose(f);
	return n;
}

static ino_t my_netns(void)
{
	struct stat st;

	ck_assert_int_eq(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

/* -- add --------------------------------------------------------------- */

START_TEST(test_add_v4_ping)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("c1", POD4, NULL);
	struct pod_info info;
	char err[256], cmd[64];
	ino_t before = my_netns();

	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), 0);
	ck_assert_msg(my_netns() == before, "the thread's netns changed");
	ck_assert_int_gt(info.host_ifindex, 0);
	ck_assert_uint_eq(info.mtu, 1500);

	/* the MACs and MTU reported are the links' */
	snprintf(cmd, sizeof(cmd), "ip link show dev %s 2>/dev/null",
		 l.host_if);
	ck_assert(sh_has(cmd, info.host_mac));
	ck_assert(in_pod_has(pod, "ip link show dev eth0", info.pod_mac));
	ck_assert(in_pod_has(pod, "ip link show dev eth0", "mtu 1500"));
	ck_assert(in_pod_has(pod, "ip link show dev eth0", "link/ether"));
	ck_assert(in_pod_has(pod, "ip link show dev lo", "UP"));

	/* host end settings */
	sysctl_is("ipv4/conf", l.host_if, "proxy_arp", "1");
	sysctl_is("ipv4/neigh", l.host_if, "proxy_delay", "0");
	/* no IPv6 for this pod, and none for a pod to play with either */
	sysctl_is("ipv6/conf", l.host_if, "addr_gen_mode", "1");
	sysctl_is("ipv6/conf", l.host_if, "accept_ra", "0");
	snprintf(cmd, sizeof(cmd), "ip -6 addr show dev %s 2>/dev/null",
		 l.host_if);
	ck_assert(!sh_has(cmd, "inet6"));

	/* the pod's side */
	ck_assert(in_pod_has(pod, "ip -4 addr show dev eth0",
			     "inet " POD4 "/32"));
	ck_assert(in_pod_has(pod, "ip -4 route",
			     "169.254.1.1 dev eth0 scope link"));
	ck_assert(in_pod_has(pod, "ip -4 route",
			     "default via 169.254.1.1 dev eth0"));

	/* both ways: stratad adds this host route in production */
	ck_assert_int_eq(sh("ip route add " POD4 "/32 dev %s", l.host_if), 0);
	ck_assert_int_eq(sh("ip route add default via 10.0.0.2 dev v0"), 0);
	ck_assert_int_eq(sh("ping -q -c1 -W1 " POD4 " >/dev/null"), 0);
	ck_assert_int_eq(in_pod(pod, "ping -q -c1 -W1 10.0.0.1"), 0);
	close(pod);
}
END_TEST

START_TEST(test_add_dual_ping6)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("c2", POD4, POD6);
	struct pod_info info;
	char err[256], cmd[128];

	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), 0);
	sysctl_is("ipv6/conf", l.host_if, "addr_gen_mode", "1");
	sysctl_is("ipv6/conf", l.host_if, "accept_ra", "0");
	sysctl_is("ipv4/conf", l.host_if, "proxy_arp", "1");

	/* fe80::1 is the host end's only IPv6 address, and usable now */
	snprintf(cmd, sizeof(cmd), "ip -6 addr show dev %s 2>/dev/null",
		 l.host_if);
	ck_assert(sh_has(cmd, "inet6 fe80::1/64 scope link"));
	ck_assert(!sh_has(cmd, "tentative"));
	ck_assert_int_eq(count_lines(cmd, "inet6"), 1);
	ck_assert(in_pod_has(pod, "ip -6 addr show dev eth0",
			     "inet6 " POD6 "/128"));
	ck_assert(in_pod_has(pod, "ip -6 route", "default via fe80::1 dev eth0"));

	ck_assert_int_eq(sh("ip -6 route add " POD6 "/128 dev %s", l.host_if),
			 0);
	ck_assert_int_eq(sh("ping -6 -q -c1 -W1 " POD6 " >/dev/null"), 0);
	ck_assert_int_eq(in_pod(pod, "ping -6 -q -c1 -W1 fd00::1"), 0);
	ck_assert_int_eq(in_pod(pod, "ping -6 -q -c1 -W1 fe80::1%%eth0"), 0);
	close(pod);
}
END_TEST

START_TEST(test_add_args)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("c3", POD4, NULL);
	struct pod_info info;
	char err[256];

	l.addrs[0].len = 24;
	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), -EINVAL);
	ck_assert(!link_here(l.host_if));
	l = mk_link("c3", POD4, "10.112.0.6");
	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), -EINVAL);
	l = mk_link("c3", POD4, NULL);
	l.pod_if[0] = '\0';
	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), -EINVAL);
	ck_assert(!link_here(l.host_if));
	close(pod);
}
END_TEST

/* -- rollback ---------------------------------------------------------- */

START_TEST(test_add_pod_if_exists)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("c4", POD4, NULL);
	struct pod_info info;
	char err[256];

	ck_assert_int_eq(in_pod(pod, "ip link add eth0 type veth peer name x0"
				     " && ip addr add 10.9.9.9/32 dev eth0"),
			 0);
	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), -EEXIST);
	ck_assert_msg(strstr(err, "eth0") != NULL, "%s", err);
	ck_assert(!link_here(l.host_if));
	/* the pod's own eth0 is untouched */
	ck_assert(in_pod_has(pod, "ip addr show dev eth0", "10.9.9.9/32"));
	ck_assert(in_pod_has(pod, "ip link show dev eth0", "eth0@x0"));
	ck_assert(!in_pod_has(pod, "ip addr show dev eth0", POD4));
	close(pod);
}
END_TEST

START_TEST(test_add_host_if_exists)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("c5", POD4, NULL);
	struct pod_info info;
	char err[256];

	ck_assert_int_eq(sh("ip link add %s type veth peer name h1", l.host_if),
			 0);
	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), -EEXIST);
	ck_assert_msg(strstr(err, l.host_if) != NULL, "%s", err);
	ck_assert(link_here(l.host_if));
	ck_assert(link_here("h1"));
	ck_assert_int_ne(in_pod(pod, "ip link show dev eth0"), 0);
	close(pod);
}
END_TEST

START_TEST(test_add_bad_address_rolls_back)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("c6", POD4, "ff02::1");
	struct pod_info info;
	char err[256];
	int rc;

	rc = pod_add(&l, pod, &info, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, "ff02::1/128") != NULL, "%s", err);
	ck_assert(!link_here(l.host_if));
	ck_assert_int_ne(in_pod(pod, "ip link show dev eth0"), 0);
	/* and it can be made again afterwards */
	l = mk_link("c6", POD4, NULL);
	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), 0);
	close(pod);
}
END_TEST

/* -- del --------------------------------------------------------------- */

START_TEST(test_del)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("c7", POD4, POD6);
	struct pod_info info;
	char err[256];

	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), 0);
	ck_assert(pod_link_exists(l.host_if));
	ck_assert_int_eq(pod_del(l.host_if, err, sizeof(err)), 0);
	ck_assert(!link_here(l.host_if));
	ck_assert(!pod_link_exists(l.host_if));
	ck_assert_int_ne(in_pod(pod, "ip link show dev eth0"), 0);
	/* idempotent */
	ck_assert_int_eq(pod_del(l.host_if, err, sizeof(err)), 0);
	close(pod);
}
END_TEST

START_TEST(test_del_refuses_non_veth)
{
	char err[256];

	netns_enter();
	ck_assert_int_eq(sh("ip link add st0123456789abc type bridge || "
			    "ip link add st0123456789abc type ifb"), 0);
	ck_assert_int_eq(pod_del("st0123456789abc", err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "not a veth") != NULL, "%s", err);
	ck_assert(link_here("st0123456789abc"));
	ck_assert(!pod_link_exists("st0123456789abc"));
}
END_TEST

/* -- check ------------------------------------------------------------- */

static void check_fails(const struct pod_link *l, int pod, const char *mac,
			const char *want)
{
	char err[256];

	ck_assert_int_lt(pod_check(l, pod, mac, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err,
		      want);
}

START_TEST(test_check)
{
	int pod = pod_netns(), other;
	struct pod_link l = mk_link("c8", POD4, POD6);
	struct pod_info info;
	char err[256], upper[18];
	size_t i;

	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), 0);
	ck_assert_msg(pod_check(&l, pod, info.pod_mac, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(pod_check(&l, pod, NULL, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(upper); i++)
		upper[i] = (char)toupper((unsigned char)info.pod_mac[i]);
	ck_assert_int_eq(pod_check(&l, pod, upper, err, sizeof(err)), 0);

	check_fails(&l, pod, "02:00:00:00:00:01", "MAC");

	/* another netns is not the pod's */
	other = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(other, 0);
	check_fails(&l, other, NULL, "not in the pod's netns");
	close(other);

	ck_assert_int_eq(in_pod(pod, "ip route del default"), 0);
	check_fails(&l, pod, NULL, "default route via 169.254.1.1");
	ck_assert_int_eq(in_pod(pod, "ip route add default via 169.254.1.1 "
				     "dev eth0"), 0);
	ck_assert_int_eq(pod_check(&l, pod, NULL, err, sizeof(err)), 0);

	ck_assert_int_eq(in_pod(pod, "ip -6 route del default"), 0);
	check_fails(&l, pod, NULL, "default route via fe80::1");
	ck_assert_int_eq(in_pod(pod, "ip -6 route add default via fe80::1 "
				     "dev eth0"), 0);
	ck_assert_int_eq(pod_check(&l, pod, NULL, err, sizeof(err)), 0);

	ck_assert_int_eq(in_pod(pod, "ip route del 169.254.1.1 dev eth0"), 0);
	check_fails(&l, pod, NULL, "169.254.1.1/32");
	ck_assert_int_eq(in_pod(pod, "ip route add 169.254.1.1 dev eth0 "
				     "scope link"), 0);
	ck_assert_int_eq(pod_check(&l, pod, NULL, err, sizeof(err)), 0);

	ck_assert_int_eq(in_pod(pod, "ip -6 addr del " POD6 "/128 dev eth0"),
			 0);
	check_fails(&l, pod, NULL, POD6 "/128");
	ck_assert_int_eq(in_pod(pod, "ip -6 addr add " POD6 "/128 dev eth0 "
				     "nodad"), 0);
	ck_assert_int_eq(pod_check(&l, pod, NULL, err, sizeof(err)), 0);

	ck_assert_int_eq(in_pod(pod, "ip addr del " POD4 "/32 dev eth0"), 0);
	check_fails(&l, pod, NULL, POD4 "/32");

	ck_assert_int_eq(in_pod(pod, "ip link set eth0 down"), 0);
	check_fails(&l, pod, NULL, "down");

	ck_assert_int_eq(in_pod(pod, "ip link set eth0 name eth1"), 0);
	check_fails(&l, pod, NULL, "eth0: no such link");

	ck_assert_int_eq(pod_del(l.host_if, err, sizeof(err)), 0);
	check_fails(&l, pod, NULL, "no such link");
	close(pod);
}
END_TEST

/* -- list, uplink, names ----------------------------------------------- */

struct seen {
	char names[8][POD_IFNAMSIZ];
	int n;
};

static void collect(void *arg, const char *name)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 8);
	snprintf(s->names[s->n++], POD_IFNAMSIZ, "%s", name);
}

static bool seen_has(const struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return true;
	return false;
}

START_TEST(test_list_links)
{
	int pod1 = pod_netns(), pod2;
	struct pod_link a = mk_link("ca", POD4, NULL);
	struct pod_link b = mk_link("cb", "10.112.0.6", NULL);
	struct pod_info info;
	struct seen s = { .n = 0 };
	char err[256];
	int host;

	/* a second pod netns beside the first */
	host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	pod2 = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(setns(host, CLONE_NEWNET), 0);
	close(host);

	ck_assert_int_eq(pod_add(&a, pod1, &info, err, sizeof(err)), 0);
	ck_assert_int_eq(pod_add(&b, pod2, &info, err, sizeof(err)), 0);
	/* not ours: a bad name, upper case, not a veth */
	ck_assert_int_eq(sh("ip link add st0123456789abx type veth peer name q1"),
			 0);
	ck_assert_int_eq(sh("ip link add stABCDEF0123456 type veth peer name q2"),
			 0);
	ck_assert_int_eq(sh("ip link add st0123456789abc type bridge || "
			    "ip link add st0123456789abc type ifb"), 0);
	ck_assert_int_eq(pod_list_links(collect, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert(seen_has(&s, a.host_if));
	ck_assert(seen_has(&s, b.host_if));
	close(pod1);
	close(pod2);
}
END_TEST

START_TEST(test_uplink_mtu)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("cm", POD4, NULL);
	struct pod_info info;
	char err[256], cmd[64];

	ck_assert_uint_eq(pod_uplink_mtu(), 1500);
	ck_assert_int_eq(sh("ip link add u0 type veth peer name u1 && "
			    "ip link set u0 mtu 1300 && ip link set u0 up && "
			    "ip link set u1 up && "
			    "ip -6 addr add fd01::1/64 dev u0 nodad && "
			    "ip -6 route add default via fd01::2 dev u0"), 0);
	ck_assert_uint_eq(pod_uplink_mtu(), 1300);
	/* IPv4's default route comes first */
	ck_assert_int_eq(sh("ip link set v0 mtu 1400 && "
			    "ip route add default via 10.0.0.2 dev v0"), 0);
	ck_assert_uint_eq(pod_uplink_mtu(), 1400);

	l.mtu = 0;
	ck_assert_int_eq(pod_add(&l, pod, &info, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.mtu, 1400);
	ck_assert(in_pod_has(pod, "ip link show dev eth0", "mtu 1400"));
	snprintf(cmd, sizeof(cmd), "ip link show dev %s 2>/dev/null",
		 l.host_if);
	ck_assert(sh_has(cmd, "mtu 1400"));
	close(pod);
}
END_TEST

START_TEST(test_host_if_name)
{
	char a[POD_IFNAMSIZ], b[POD_IFNAMSIZ], cid[601];

	/* printf %s net/cid/eth0 | sha256sum | cut -c1-13 */
	pod_host_if_name("net", "cid", "eth0", a);
	ck_assert_str_eq(a, "stf782195e25523");
	pod_host_if_name("net", "cid", "eth0", b);
	ck_assert_str_eq(a, b);
	pod_host_if_name("net", "cid", "eth1", b);
	ck_assert_str_ne(a, b);
	pod_host_if_name("net2", "cid", "eth0", b);
	ck_assert_str_ne(a, b);
	/* longer than the stack buffer */
	memset(cid, 'c', 600);
	cid[600] = '\0';
	pod_host_if_name("n", cid, "eth1", a);
	ck_assert_str_eq(a, "st2276d887bbc13");
}
END_TEST

/* -- timing (informational) -------------------------------------------- */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

START_TEST(test_time_add_del)
{
	int pod = pod_netns();
	struct pod_link l = mk_link("bench", POD4, POD6);
	struct pod_info info;
	char err[256];
	double t0, add = 0, del = 0;
	int i, n = getenv("STRATA_TEST_QUICK") ? 10 : 100;

	for (i = 0; i < n; i++) {
		t0 = now_us();
		ck_assert_msg(pod_add(&l, pod, &info, err, sizeof(err)) == 0,
			      "%s", err);
		add += now_us() - t0;
		t0 = now_us();
		ck_assert_int_eq(pod_del(l.host_if, err, sizeof(err)), 0);
		del += now_us() - t0;
	}
	printf("pod: %d pairs (IPv4+IPv6): mean pod_add %.0f us, "
	       "mean pod_del %.0f us\n", n, add / n, del / n);
	close(pod);
}
END_TEST

static Suite *pod_suite(void)
{
	Suite *s = suite_create("frontend-cni pod");
	TCase *tc = tcase_create("links");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_add_v4_ping);
	tcase_add_test(tc, test_add_dual_ping6);
	tcase_add_test(tc, test_add_args);
	tcase_add_test(tc, test_add_pod_if_exists);
	tcase_add_test(tc, test_add_host_if_exists);
	tcase_add_test(tc, test_add_bad_address_rolls_back);
	tcase_add_test(tc, test_del);
	tcase_add_test(tc, test_del_refuses_non_veth);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_list_links);
	tcase_add_test(tc, test_uplink_mtu);
	tcase_add_test(tc, test_host_if_name);
	tcase_add_test(tc, test_time_add_del);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pod_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
