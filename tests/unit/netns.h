/* SPDX-License-Identifier: Apache-2.0 */
/*
 * For tests that touch the network: each calls netns_enter() first, in its
 * own forked test process, so every link, address and route it makes dies
 * with that process and the host's namespace is never touched.
 */
#ifndef STRATA_TESTS_NETNS_H
#define STRATA_TESTS_NETNS_H

#include <check.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int __attribute__((format(printf, 1, 2), unused))
sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The whole output of a command. */
static __attribute__((unused)) char *sh_out(const char *cmd)
{
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *out = open_memstream(&buf, &len);
	FILE *f = popen(cmd, "r");

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, out);
	pclose(f);
	fclose(out);
	return buf;
}

/* Does the output of cmd have a line containing `want`? */
static bool __attribute__((unused))
sh_has(const char *cmd, const char *want)
{
	char line[512];
	bool found = false;
	FILE *f = popen(cmd, "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			found = true;
	pclose(f);
	return found;
}

/*
 * A namespace of our own with lo up and a veth pair v0/v1 (this kernel
 * may lack the dummy driver): v0 has 10.0.0.1/24 and fd00::1/64, so
 * 10.0.0.2-3 and fd00::2-3 are usable gateways.
 */
static void __attribute__((unused)) netns_enter(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0,
		      "unshare(CLONE_NEWNET) failed: run the tests as root");
	ck_assert_int_eq(sh("ip link set lo up"), 0);
	/* no link-local addresses or DAD: their routes would show up late,
	 * in the middle of a test watching route events */
	ck_assert_int_eq(sh("sysctl -qw net.ipv6.conf.default.addr_gen_mode=1 "
			    "net.ipv6.conf.default.accept_dad=0"), 0);
	ck_assert_int_eq(sh("ip link add v0 type veth peer name v1"), 0);
	ck_assert_int_eq(sh("ip link set v0 up && ip link set v1 up"), 0);
	ck_assert_int_eq(sh("ip addr add 10.0.0.1/24 dev v0"), 0);
	ck_assert_int_eq(sh("ip -6 addr add fd00::1/64 dev v0 nodad"), 0);
}

#endif
