/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes-file: an advertiser that writes the desired routes of its scopes
 * to a file, in BIRD's static route syntax, for a routing daemon to include:
 *
 *   # scope bgp
 *   route 10.1.0.0/24 via 10.0.0.2;
 *   route 10.2.0.0/24 via 10.0.0.2 via 10.0.0.3;
 *   route 10.3.0.0/24 via "eth0";
 *
 * The file is replaced atomically (path.tmp, fsync, rename) and only when
 * its content changes. It is built against the installed SDK alone; see
 * README.md.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strata/plugin.h>

#define RF_MAX_FILE (64u << 20) /* refuse to read back anything larger */
#define RF_MAX_LINE 1024        /* 8 IPv6 nexthops with dev and weight fit */
#define RF_MAX_WEIGHT 256u      /* BIRD's limit */

static const struct strata_cfg_key rf_config[] = {
	{ "path", STRATA_CFG_STRING, STRATA_CFG_REQUIRED, NULL, 0, 0,
	  "absolute path of the routes file" },
	{ "scopes", STRATA_CFG_STRINGS, 0, "bgp", 0, 0,
	  "scopes whose routes are written: kernel, cloud, bgp" },
	{ "family", STRATA_CFG_STRING, 0, "any", 0, 0,
	  "ipv4, ipv6 or any: a BIRD static protocol takes one family" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

struct rf_conf {
	const char *path; /* borrowed from the host until reconfigure() */
	uint32_t scopes;
	uint8_t family; /* 0: both */
};

struct rf {
	const struct strata_host *host;
	struct strata_instance *inst;
	char *path;
	char *tmp_path;
	char *dir_path;
	uint32_t scopes;
	uint8_t family;
	/* What the file holds: read at start, then as last written. */
	char *content;
	size_t content_len;
	size_t n_routes;
	bool have_file;
	struct stat file_st; /* of the file we read or wrote */
	uint64_t writes;
	int last_error; /* -errno of the last failed write, or 0 */
	const char *last_error_op;
};

struct buf {
	char *p;
	size_t len;
	size_t cap;
	bool failed;
};

struct rlist {
	struct strata_route *r;
	size_t n;
	size_t cap;
};

static const struct {
	const char *name;
	uint32_t scope;
} rf_scopes[] = {
	{ "kernel", STRATA_SCOPE_KERNEL },
	{ "cloud", STRATA_SCOPE_CLOUD },
	{ "bgp", STRATA_SCOPE_BGP },
};

#define RF_NSCOPES (sizeof(rf_scopes) / sizeof(rf_scopes[0]))

static const char *scope_name(uint32_t scope)
{
	size_t i;

	for (i = 0; i < RF_NSCOPES; i++)
		if (rf_scopes[i].scope == scope)
			return rf_scopes[i].name;
	return NULL;
}

static int scope_parse(const char *name, uint32_t *out)
{
	size_t i;

	for (i = 0; i < RF_NSCOPES; i++) {
		if (strcmp(rf_scopes[i].name, name) == 0) {
			*out = rf_scopes[i].scope;
			return 0;
		}
	}
	return -EINVAL;
}

static void buf_printf(struct buf *b, const char *fmt, ...) STRATA_PRINTF(2, 3);

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (b->len + (size_t)n + 1 > cap)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static int rlist_add(struct rlist *l, const struct strata_route *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct strata_route *p = realloc(l->r, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->r = p;
		l->cap = cap;
	}
	l->r[l->n++] = *r;
	return 0;
}

/* Routes are keyed by (scope, destination), as in strata's route model. */
static int route_key_cmp(const void *a, const void *b)
{
	const struct strata_route *x = a, *y = b;
	int c;

	if (x->scope != y->scope)
		return x->scope < y->scope ? -1 : 1;
	if (x->dst.family != y->dst.family)
		return x->dst.family < y->dst.family ? -1 : 1;
	c = memcmp(x->dst.addr, y->dst.addr, sizeof(x->dst.addr));
	if (c)
		return c;
	if (x->dst.len != y->dst.len)
		return x->dst.len < y->dst.len ? -1 : 1;
	return 0;
}

static size_t addr_bytes(uint8_t family)
{
	return family == STRATA_AF_INET ? 4 : 16;
}

static int family_to_af(uint8_t family)
{
	return family == STRATA_AF_INET ? AF_INET : AF_INET6;
}

static bool host_bits_clear(const struct strata_prefix *p)
{
	size_t i, n = addr_bytes(p->family);

	for (i = 0; i < n; i++) {
		unsigned keep = 0;

		if (p->len >= (i + 1) * 8)
			continue;
		if (p->len > i * 8)
			keep = 0xffu << (8 - (p->len - i * 8));
		if (p->addr[i] & ~keep & 0xffu)
			return false;
	}
	return true;
}

/* Interface names are written inside quotes: nothing may escape them. */
static bool ifname_ok(const char *name)
{
	const char *end = memchr(name, '\0', STRATA_IFNAMSIZ);
	const char *c;

	if (!end || end == name)
		return false;
	for (c = name; c < end; c++)
		if (*c <= ' ' || *c > '~' || *c == '"' || *c == '\\' ||
		    *c == '/')
			return false;
	return true;
}

/* Why a route cannot be written, or NULL when it can. */
static const char *route_invalid(const struct strata_route *r)
{
	uint32_t i;

	if (r->dst.family == STRATA_AF_INET) {
		if (r->dst.len > 32)
			return "prefix length";
	} else if (r->dst.family == STRATA_AF_INET6) {
		if (r->dst.len > 128)
			return "prefix length";
	} else {
		return "address family";
	}
	if (!host_bits_clear(&r->dst))
		return "host bits set";
	if (r->n_nexthops == 0 || r->n_nexthops > STRATA_MAX_NEXTHOPS)
		return "number of nexthops";
	for (i = 0; i < r->n_nexthops; i++) {
		const struct strata_nexthop *nh = &r->nh[i];

		if (nh->gw.family != 0 && nh->gw.family != STRATA_AF_INET &&
		    nh->gw.family != STRATA_AF_INET6)
			return "nexthop address family";
		if ((nh->gw.family == 0 || nh->ifname[0]) &&
		    !ifname_ok(nh->ifname))
			return "nexthop interface name";
		if (nh->weight > RF_MAX_WEIGHT)
			return "nexthop weight above 256";
	}
	return NULL;
}

/* Copy only what the file carries, so that equal routes compare equal. */
static void route_copy(struct strata_route *out, const struct strata_route *r)
{
	uint32_t i;

	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->scope = r->scope;
	out->dst.family = r->dst.family;
	out->dst.len = r->dst.len;
	memcpy(out->dst.addr, r->dst.addr, addr_bytes(r->dst.family));
	out->n_nexthops = r->n_nexthops;
	for (i = 0; i < r->n_nexthops && i < STRATA_MAX_NEXTHOPS; i++) {
		const struct strata_nexthop *nh = &r->nh[i];

		out->nh[i].gw.family = nh->gw.family;
		if (nh->gw.family)
			memcpy(out->nh[i].gw.addr, nh->gw.addr,
			       addr_bytes(nh->gw.family));
		memcpy(out->nh[i].ifname, nh->ifname, STRATA_IFNAMSIZ);
		out->nh[i].ifname[STRATA_IFNAMSIZ - 1] = '\0';
		out->nh[i].weight = nh->weight > 1 ? nh->weight : 0;
	}
}

static void format_route(struct buf *b, const struct strata_route *r)
{
	char text[INET6_ADDRSTRLEN];
	uint32_t i;

	inet_ntop(family_to_af(r->dst.family), r->dst.addr, text, sizeof(text));
	buf_printf(b, "route %s/%u", text, (unsigned)r->dst.len);
	for (i = 0; i < r->n_nexthops; i++) {
		const struct strata_nexthop *nh = &r->nh[i];

		if (nh->gw.family) {
			inet_ntop(family_to_af(nh->gw.family), nh->gw.addr,
				  text, sizeof(text));
			buf_printf(b, " via %s", text);
			if (nh->ifname[0])
				buf_printf(b, " dev \"%s\"", nh->ifname);
		} else {
			buf_printf(b, " via \"%s\"", nh->ifname);
		}
		if (nh->weight > 1)
			buf_printf(b, " weight %u", (unsigned)nh->weight);
	}
	buf_printf(b, ";\n");
}

/* The file's text for sorted routes. */
static void format_file(struct buf *b, const struct rlist *l)
{
	uint32_t scope = 0;
	size_t i;

	buf_printf(b, "# strata routes-file: replaced by stratad, do not edit\n");
	for (i = 0; i < l->n; i++) {
		if (l->r[i].scope != scope) {
			scope = l->r[i].scope;
			buf_printf(b, "# scope %s\n", scope_name(scope));
		}
		format_route(b, &l->r[i]);
	}
}

static int parse_addr(const char *text, struct strata_addr *out)
{
	bool v6 = strchr(text, ':') != NULL;

	memset(out, 0, sizeof(*out));
	if (inet_pton(v6 ? AF_INET6 : AF_INET, text, out->addr) != 1)
		return -EINVAL;
	out->family = v6 ? STRATA_AF_INET6 : STRATA_AF_INET;
	return 0;
}

static int parse_prefix(char *text, struct strata_prefix *out)
{
	struct strata_addr a;
	char *slash = strchr(text, '/'), *end;
	unsigned long len;

	if (!slash || !slash[1])
		return -EINVAL;
	*slash = '\0';
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (*end || errno || len > 128 || parse_addr(text, &a))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->family = a.family;
	out->len = (uint8_t)len;
	memcpy(out->addr, a.addr, sizeof(out->addr));
	return 0;
}

/* "\"eth0\"" into ifname */
static int parse_quoted(const char *tok, char *ifname)
{
	size_t n = strlen(tok);

	if (n < 3 || tok[0] != '"' || tok[n - 1] != '"' ||
	    n - 2 >= STRATA_IFNAMSIZ)
		return -EINVAL;
	memset(ifname, 0, STRATA_IFNAMSIZ);
	memcpy(ifname, tok + 1, n - 2);
	return 0;
}

/* One line as format_route() writes it; the line is modified. */
static bool parse_route_line(char *line, uint32_t scope,
			     struct strata_route *r)
{
	const char *sep = " \t";
	char *save = NULL, *tok;
	size_t n = strlen(line);
	unsigned long w;
	char *end;

	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
		     line[n - 1] == '\r'))
		n--;
	if (!n || line[n - 1] != ';')
		return false;
	line[n - 1] = '\0';

	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->scope = scope;
	tok = strtok_r(line, sep, &save);
	if (!tok || strcmp(tok, "route") != 0)
		return false;
	tok = strtok_r(NULL, sep, &save);
	if (!tok || parse_prefix(tok, &r->dst))
		return false;
	tok = strtok_r(NULL, sep, &save);
	while (tok) {
		struct strata_nexthop *nh;

		if (strcmp(tok, "via") != 0 ||
		    r->n_nexthops == STRATA_MAX_NEXTHOPS)
			return false;
		nh = &r->nh[r->n_nexthops++];
		tok = strtok_r(NULL, sep, &save);
		if (!tok)
			return false;
		if (tok[0] == '"' ? parse_quoted(tok, nh->ifname) :
				    parse_addr(tok, &nh->gw))
			return false;
		tok = strtok_r(NULL, sep, &save);
		if (tok && nh->gw.family && strcmp(tok, "dev") == 0) {
			tok = strtok_r(NULL, sep, &save);
			if (!tok || parse_quoted(tok, nh->ifname))
				return false;
			tok = strtok_r(NULL, sep, &save);
		}
		if (tok && strcmp(tok, "weight") == 0) {
			tok = strtok_r(NULL, sep, &save);
			if (!tok)
				return false;
			errno = 0;
			w = strtoul(tok, &end, 10);
			if (*end || errno || w < 1 || w > RF_MAX_WEIGHT)
				return false;
			nh->weight = w > 1 ? (uint32_t)w : 0;
			tok = strtok_r(NULL, sep, &save);
		}
	}
	return scope != 0 && route_invalid(r) == NULL;
}

/* Routes of a file's text; *bad counts the lines that are not ours. */
static int parse_file(const char *text, size_t len, struct rlist *out,
		      size_t *bad)
{
	char line[RF_MAX_LINE];
	uint32_t scope = 0;
	size_t pos = 0;

	*bad = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;
		struct strata_route r;
		uint32_t s;

		if (n >= sizeof(line)) {
			(*bad)++;
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			if (strncmp(line, "# scope ", 8) == 0) {
				if (scope_parse(line + 8, &s) == 0)
					scope = s;
				else
					(*bad)++;
			} else if (line[0] == '#' || line[0] == '\0') {
				/* comment */
			} else if (parse_route_line(line, scope, &r)) {
				if (rlist_add(out, &r))
					return -ENOMEM;
			} else {
				(*bad)++;
			}
		}
		pos += n + 1;
	}
	return 0;
}

static void rf_log(struct rf *rf, int level, const char *fmt, ...)
	STRATA_PRINTF(3, 4);

static void rf_log(struct rf *rf, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rf->host->vlog(rf->inst, level, fmt, ap);
	va_end(ap);
}

static int read_file(struct rf *rf)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, err;

	fd = open(rf->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto close_fd;
	}
	if ((uintmax_t)st.st_size > RF_MAX_FILE) {
		err = -EFBIG;
		goto close_fd;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		err = -ENOMEM;
		goto close_fd;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto free_p;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	p[got] = '\0';
	close(fd);
	free(rf->content);
	rf->content = p;
	rf->content_len = got;
	rf->file_st = st;
	rf->have_file = true;
	return 0;

free_p:
	free(p);
close_fd:
	close(fd);
	return err;
}

/* The file is still the one we wrote (or read) last. */
static bool file_unchanged(const struct rf *rf)
{
	struct stat st;

	if (!rf->have_file || stat(rf->path, &st) < 0)
		return false;
	return st.st_dev == rf->file_st.st_dev &&
	       st.st_ino == rf->file_st.st_ino &&
	       st.st_size == rf->file_st.st_size &&
	       st.st_mtim.tv_sec == rf->file_st.st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == rf->file_st.st_mtim.tv_nsec;
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Replace the file atomically: readers see the old or the new content,
 * never a part. Records which step failed, for status().
 */
static int write_file(struct rf *rf, const char *data, size_t len,
		      struct stat *st)
{
	int fd, dfd, err;

	rf->last_error_op = "open";
	fd = open(rf->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rf->last_error_op = "write";
	err = write_all(fd, data, len);
	if (err)
		goto unlink_tmp;
	rf->last_error_op = "fsync";
	if (fsync(fd) < 0 || fstat(fd, st) < 0) {
		err = -errno;
		goto unlink_tmp;
	}
	rf->last_error_op = "close";
	err = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (err)
		goto unlink_tmp;
	rf->last_error_op = "rename";
	if (rename(rf->tmp_path, rf->path) < 0) {
		err = -errno;
		goto unlink_tmp;
	}
	/* Make the rename itself durable; the new content is in place
	 * either way, so a failure here is only worth a warning. */
	dfd = open(rf->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		rf_log(rf, STRATA_LOG_WARNING, "fsync %s: %s", rf->dir_path,
		       strerror(errno));
	if (dfd >= 0)
		close(dfd);
	rf->last_error_op = NULL;
	return 0;

unlink_tmp:
	if (fd >= 0)
		close(fd);
	unlink(rf->tmp_path);
	return err;
}

static bool family_served(const struct rf *rf, uint8_t family)
{
	return rf->family == 0 || rf->family == family;
}

static void log_skipped(struct rf *rf, const struct strata_route *r,
			const char *why)
{
	const char *scope = scope_name(r->scope);
	char text[INET6_ADDRSTRLEN] = "?";

	if (r->dst.family == STRATA_AF_INET || r->dst.family == STRATA_AF_INET6)
		inet_ntop(family_to_af(r->dst.family), r->dst.addr, text,
			  sizeof(text));
	rf_log(rf, STRATA_LOG_WARNING, "not writing %s/%u (%s): %s", text,
	       (unsigned)r->dst.len, scope ? scope : "?", why);
}

static int rf_reconcile(void *self, const struct strata_route *const *desired,
			size_t n, uint32_t flags)
{
	struct rf *rf = self;
	struct rlist next = { NULL, 0, 0 }, cur = { NULL, 0, 0 };
	struct buf text = { NULL, 0, 0, false };
	struct strata_route r;
	size_t i, n_desired, bad;
	struct stat st;
	int err = 0;

	for (i = 0; i < n; i++) {
		const struct strata_route *d = desired[i];
		const char *why;

		/* An older writer's route lacks fields we would read. */
		if (d->size < sizeof(*d)) {
			rf_log(rf, STRATA_LOG_WARNING,
			       "route of size %u, expected %zu",
			       (unsigned)d->size, sizeof(*d));
			continue;
		}
		if (!(d->scope & rf->scopes) || !scope_name(d->scope) ||
		    !family_served(rf, d->dst.family))
			continue;
		why = route_invalid(d);
		if (why) {
			log_skipped(rf, d, why);
			continue;
		}
		route_copy(&r, d);
		err = rlist_add(&next, &r);
		if (err)
			goto free_lists;
	}
	if (next.n)
		qsort(next.r, next.n, sizeof(*next.r), route_key_cmp);
	n_desired = next.n;

	/*
	 * The start-up barrier. Until every owner of routes has re-stated
	 * them after a restart, `desired` may lack routes that are still in
	 * use: dropping them from the file now would make the routing daemon
	 * withdraw them, and cut traffic to running pods until their owner
	 * syncs. So keep what the file holds for destinations that are not
	 * desired; they go once the host passes MAY_DELETE.
	 */
	if (!(flags & STRATA_RECONCILE_MAY_DELETE) && rf->content) {
		err = parse_file(rf->content, rf->content_len, &cur, &bad);
		if (err)
			goto free_lists;
		for (i = 0; i < cur.n; i++) {
			if (n_desired && bsearch(&cur.r[i], next.r, n_desired,
						 sizeof(*next.r),
						 route_key_cmp))
				continue;
			err = rlist_add(&next, &cur.r[i]);
			if (err)
				goto free_lists;
		}
		if (next.n)
			qsort(next.r, next.n, sizeof(*next.r), route_key_cmp);
	}

	format_file(&text, &next);
	if (text.failed) {
		err = -ENOMEM;
		goto free_lists;
	}
	if (rf->content && text.len == rf->content_len &&
	    memcmp(text.p, rf->content, text.len) == 0 && file_unchanged(rf))
		goto free_lists;

	err = write_file(rf, text.p, text.len, &st);
	if (err) {
		if (err != rf->last_error)
			rf_log(rf, STRATA_LOG_WARNING, "%s %s: %s",
			       rf->last_error_op, rf->tmp_path, strerror(-err));
		rf->last_error = err;
		rf->host->metric_add(rf->inst, "write_errors", 1);
		goto free_lists;
	}
	if (rf->last_error)
		rf_log(rf, STRATA_LOG_INFO, "%s written again", rf->path);
	rf->last_error = 0;
	free(rf->content);
	rf->content = text.p;
	rf->content_len = text.len;
	text.p = NULL;
	rf->file_st = st;
	rf->have_file = true;
	rf->n_routes = next.n;
	rf->writes++;
	rf->host->metric_set(rf->inst, "routes", (int64_t)next.n);
	rf_log(rf, STRATA_LOG_DEBUG, "wrote %zu routes to %s", next.n, rf->path);

free_lists:
	free(text.p);
	free(cur.r);
	free(next.r);
	return err;
}

static int rf_installed(void *self, strata_route_cb cb, void *arg)
{
	struct rf *rf = self;
	struct rlist l = { NULL, 0, 0 };
	size_t i, bad;
	int err;

	if (!rf->content)
		return 0;
	err = parse_file(rf->content, rf->content_len, &l, &bad);
	for (i = 0; !err && i < l.n; i++)
		cb(arg, &l.r[i]);
	free(l.r);
	return err;
}

static uint32_t rf_get_scopes(void *self)
{
	struct rf *rf = self;

	return rf->scopes;
}

/* Read and check the instance's configuration. */
static int rf_read_conf(const struct strata_host *host,
			struct strata_instance *inst, struct rf_conf *c)
{
	const char *family, *name;
	int i, count;
	uint32_t s;

	memset(c, 0, sizeof(*c));
	c->path = host->cfg_string(inst, "path");
	if (!c->path || c->path[0] != '/' ||
	    c->path[strlen(c->path) - 1] == '/') {
		host->log(inst, STRATA_LOG_ERR,
			  "path: expected an absolute file name, found \"%s\"",
			  c->path ? c->path : "");
		return -EINVAL;
	}

	count = host->cfg_strings_count(inst, "scopes");
	if (count == -ENOENT) {
		c->scopes = STRATA_SCOPE_BGP;
	} else if (count <= 0) {
		host->log(inst, STRATA_LOG_ERR, "scopes: expected at least one");
		return -EINVAL;
	}
	for (i = 0; i < count; i++) {
		name = host->cfg_strings_at(inst, "scopes", (uint32_t)i);
		if (!name || scope_parse(name, &s)) {
			host->log(inst, STRATA_LOG_ERR,
				  "scopes: expected kernel, cloud or bgp, found \"%s\"",
				  name ? name : "");
			return -EINVAL;
		}
		c->scopes |= s;
	}

	family = host->cfg_string(inst, "family");
	if (!family || strcmp(family, "any") == 0) {
		c->family = 0;
	} else if (strcmp(family, "ipv4") == 0) {
		c->family = STRATA_AF_INET;
	} else if (strcmp(family, "ipv6") == 0) {
		c->family = STRATA_AF_INET6;
	} else {
		host->log(inst, STRATA_LOG_ERR,
			  "family: expected ipv4, ipv6 or any, found \"%s\"",
			  family);
		return -EINVAL;
	}
	return 0;
}

static void rf_free(struct rf *rf)
{
	free(rf->content);
	free(rf->dir_path);
	free(rf->tmp_path);
	free(rf->path);
	free(rf);
}

static int rf_create(const struct strata_host *host,
		     struct strata_instance *inst, void **self)
{
	struct rf_conf c;
	struct rf *rf;
	char *slash;
	size_t len;
	int err;

	err = rf_read_conf(host, inst, &c);
	if (err)
		return err;
	rf = calloc(1, sizeof(*rf));
	if (!rf)
		return -ENOMEM;
	rf->host = host;
	rf->inst = inst;
	rf->scopes = c.scopes;
	rf->family = c.family;
	/* Configuration strings are the host's until reconfigure(): copy. */
	len = strlen(c.path);
	rf->path = strdup(c.path);
	rf->tmp_path = malloc(len + sizeof(".tmp"));
	rf->dir_path = strdup(c.path);
	if (!rf->path || !rf->tmp_path || !rf->dir_path) {
		rf_free(rf);
		return -ENOMEM;
	}
	memcpy(rf->tmp_path, c.path, len);
	memcpy(rf->tmp_path + len, ".tmp", sizeof(".tmp"));
	slash = strrchr(rf->dir_path, '/'); /* there: the path is absolute */
	if (slash == rf->dir_path)
		slash++; /* "/x" lives in "/" */
	*slash = '\0';
	*self = rf;
	return 0;
}

static int rf_start(void *self)
{
	struct rlist l = { NULL, 0, 0 };
	struct rf *rf = self;
	size_t bad = 0;
	int err;

	/* What a previous run wrote is what the first reconciles keep. */
	err = read_file(rf);
	if (err) {
		rf_log(rf, STRATA_LOG_ERR, "read %s: %s", rf->path,
		       strerror(-err));
		return err;
	}
	if (rf->content) {
		err = parse_file(rf->content, rf->content_len, &l, &bad);
		free(l.r);
		if (err)
			return err;
		rf->n_routes = l.n;
		if (bad)
			rf_log(rf, STRATA_LOG_WARNING,
			       "%s: %zu lines not written by routes-file will be dropped",
			       rf->path, bad);
	}
	rf_log(rf, STRATA_LOG_INFO, "writing to %s (%zu routes there)",
	       rf->path, rf->n_routes);
	return 0;
}

static int rf_reconfigure(void *self)
{
	struct rf *rf = self;
	struct rf_conf c;
	int err;

	err = rf_read_conf(rf->host, rf->inst, &c);
	if (err)
		return err;
	if (strcmp(c.path, rf->path) == 0 && c.scopes == rf->scopes &&
	    c.family == rf->family)
		return 0;
	/* A new file must be read back before its first reconcile, and the
	 * host reads scopes() once: a fresh instance does both. */
	return STRATA_RECONF_RESTART;
}

static void rf_destroy(void *self)
{
	rf_free(self);
}

static void rf_status(void *self, struct strata_status *st)
{
	struct rf *rf = self;
	char scopes[32] = "";
	char err[128] = "none";
	size_t i;

	for (i = 0; i < RF_NSCOPES; i++) {
		if (!(rf->scopes & rf_scopes[i].scope))
			continue;
		if (scopes[0])
			strcat(scopes, ",");
		strcat(scopes, rf_scopes[i].name);
	}
	if (rf->last_error)
		snprintf(err, sizeof(err), "%s: %s", rf->last_error_op,
			 strerror(-rf->last_error));
	rf->host->status_str(st, "path", rf->path);
	rf->host->status_str(st, "scopes", scopes);
	rf->host->status_int(st, "routes", (int64_t)rf->n_routes);
	rf->host->status_int(st, "writes", (int64_t)rf->writes);
	rf->host->status_str(st, "last_error", err);
}

static const struct strata_plugin_ops rf_ops = {
	.size = sizeof(struct strata_plugin_ops),
	.create = rf_create,
	.start = rf_start,
	.reconfigure = rf_reconfigure,
	/* No stop(): nothing is pending, and the file stays as it is
	 * (shutting down is not withdrawing). */
	.destroy = rf_destroy,
	.status = rf_status,
};

static const struct strata_advertiser_ops rf_advertiser_ops = {
	.size = sizeof(struct strata_advertiser_ops),
	.scopes = rf_get_scopes,
	.reconcile = rf_reconcile,
	.installed = rf_installed,
};

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "routes-file", "1.0",
	      "writes the routes of its scopes to a file in BIRD syntax",
	      rf_config, &rf_ops, &rf_advertiser_ops);
