/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's routing sysctls, written through /proc/sys of the calling
 * thread's network namespace. A value already right is not written: some
 * writes have side effects (ip_forward resets every device's forwarding
 * and all.accept_redirects), and an unchanged node stays untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysctl.h"

#define SYSCTL_IFNAMSIZ 16

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int sysctl_read(const char *path, long *val)
{
	char buf[32], *end;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		ret = -errno;
		goto close_fd;
	}
	buf[n] = '\0';
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		ret = -EINVAL;
close_fd:
	close(fd);
	return ret;
}

static int sysctl_write(const char *path, long val)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%ld\n", val);
	if (write(fd, buf, (size_t)len) != len)
		ret = errno ? -errno : -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* path is under /proc/sys/net/, name the sysctl's name for errors. */
static int sysctl_ensure(const char *path, const char *name, long want,
			 char *err, size_t errlen)
{
	long have;
	int ret;

	ret = sysctl_read(path, &have);
	if (!ret && have == want)
		return 0;
	if (!ret) {
		errno = 0;
		ret = sysctl_write(path, want);
	}
	if (ret)
		set_err(err, errlen, "sysctl %s=%ld: %s", name, want,
			strerror(-ret));
	return ret;
}

/* net.<fam>.conf.<dev>.<key>; dev may be "all" or "default". */
static int conf_ensure(const char *fam, const char *dev, const char *key,
		       long want, char *err, size_t errlen)
{
	char path[128], name[128];

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", fam, dev,
		 key);
	snprintf(name, sizeof(name), "net.%s.conf.%s.%s", fam, dev, key);
	return sysctl_ensure(path, name, want, err, errlen);
}

/* Only raises accept_ra from 1 to 2; 0 (or 2) was someone's choice. */
static int accept_ra_keep(const char *dev, char *err, size_t errlen)
{
	char path[128];
	long have;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra",
		 dev);
	if (sysctl_read(path, &have) || have != 1)
		return 0;
	return conf_ensure("ipv6", dev, "accept_ra", 2, err, errlen);
}

static bool have_ipv6(void)
{
	return access("/proc/sys/net/ipv6/conf/all", F_OK) == 0;
}

/* A name that stays one directory under conf/. */
static bool ifname_ok(const char *name)
{
	size_t len = strlen(name);

	return len && len < SYSCTL_IFNAMSIZ && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

static int rp_filter_value(const char *mode, long *val)
{
	if (!strcmp(mode, "off"))
		*val = 0;
	else if (!strcmp(mode, "strict"))
		*val = 1;
	else if (!strcmp(mode, "loose"))
		*val = 2;
	else
		return -EINVAL;
	return 0;
}

int node_sysctls_apply(const struct node_sysctls *s, char *err,
		       size_t errlen)
{
	const char *const devs[] = { "all", "default", s->uplink };
	size_t n_devs = s->uplink ? 3 : 2;
	bool v6 = have_ipv6();
	long rp = 0;
	size_t i;
	int ret;

	/* everything checked before anything is written */
	if (s->uplink && !ifname_ok(s->uplink)) {
		set_err(err, errlen, "uplink '%s' is not a device name",
			s->uplink);
		return -EINVAL;
	}
	if (s->rp_filter && rp_filter_value(s->rp_filter, &rp)) {
		set_err(err, errlen,
			"rp_filter '%s' is not loose, strict or off",
			s->rp_filter);
		return -EINVAL;
	}
	if (s->uplink) {
		char path[128];

		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s",
			 s->uplink);
		if (access(path, F_OK)) {
			set_err(err, errlen, "uplink %s: no such device "
				"(no %s)", s->uplink, path);
			return -ENODEV;
		}
	}

	/* first: ip_forward=1 also resets all.accept_redirects */
	if (s->forwarding) {
		/* ip_forward sets every device's forwarding and default's */
		ret = sysctl_ensure("/proc/sys/net/ipv4/ip_forward",
				    "net.ipv4.ip_forward", 1, err, errlen);
		if (ret)
			return ret;
		/* all.forwarding likewise reaches every device and default */
		if (v6) {
			ret = conf_ensure("ipv6", "all", "forwarding", 1, err,
					  errlen);
			if (ret)
				return ret;
		}
		/* a forwarding device ignores RAs at accept_ra=1: keep the
		 * uplink's default route if it comes from them */
		if (v6 && s->uplink) {
			ret = accept_ra_keep(s->uplink, err, errlen);
			if (ret)
				return ret;
		}
	}

	/*
	 * The kernel filters with max(all, dev): all sets the floor for
	 * every device, default gives it to pod veths made later, and the
	 * uplink's own value must not be stricter than asked.
	 */
	if (s->rp_filter) {
		for (i = 0; i < n_devs; i++) {
			ret = conf_ensure("ipv4", devs[i], "rp_filter", rp,
					  err, errlen);
			if (ret)
				return ret;
		}
	}

	if (s->no_redirects) {
		/* sent if all OR dev says so: all, default (pod veths to
		 * come) and the uplink must all be 0 */
		for (i = 0; i < n_devs; i++) {
			ret = conf_ensure("ipv4", devs[i], "send_redirects",
					  0, err, errlen);
			if (ret)
				return ret;
		}
		/* a forwarding node accepts only if all AND dev say so */
		ret = conf_ensure("ipv4", "all", "accept_redirects", 0, err,
				  errlen);
		if (ret)
			return ret;
	}
	return 0;
}
