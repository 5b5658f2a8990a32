/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests routes-file through its descriptor, with a mock host table in
 * place of stratad: the way any plugin can be tested without the daemon.
 * Run by `make check`; takes no arguments and works in a temp directory.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strata/plugin.h>

extern const struct strata_plugin STRATA_PLUGIN_ENTRY;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			exit(1);                                           \
		}                                                          \
	} while (0)

/* The host side of an instance: its config and what it was told. */
struct strata_instance {
	const char *path;
	const char *scopes[4]; /* NULL-terminated; scopes[0] NULL: unset */
	const char *family;
	int warnings;
	int errors;
	int64_t routes_metric;
};

struct strata_status {
	char last_error[128];
	char path[256];
	char scopes[64];
	int64_t routes;
	int64_t writes;
};

static void mock_vlog(struct strata_instance *inst, int level,
		      const char *fmt, va_list ap)
{
	if (level <= STRATA_LOG_ERR)
		inst->errors++;
	else if (level == STRATA_LOG_WARNING)
		inst->warnings++;
	if (getenv("VERBOSE")) {
		fprintf(stderr, "routes-file[test] %d: ", level);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
}

static void mock_log(struct strata_instance *inst, int level,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mock_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static const char *mock_cfg_string(struct strata_instance *inst,
				   const char *key)
{
	if (strcmp(key, "path") == 0)
		return inst->path;
	if (strcmp(key, "family") == 0)
		return inst->family;
	return NULL;
}

static int mock_cfg_strings_count(struct strata_instance *inst,
				  const char *key)
{
	int n = 0;

	if (strcmp(key, "scopes") != 0 || !inst->scopes[0])
		return -ENOENT;
	while (inst->scopes[n])
		n++;
	return n;
}

static const char *mock_cfg_strings_at(struct strata_instance *inst,
				       const char *key, uint32_t index)
{
	if (strcmp(key, "scopes") != 0 || index >= 4)
		return NULL;
	return inst->scopes[index];
}

static int mock_metric_add(struct strata_instance *inst, const char *name,
			   int64_t delta)
{
	(void)inst;
	(void)name;
	(void)delta;
	return 0;
}

static int mock_metric_set(struct strata_instance *inst, const char *name,
			   int64_t value)
{
	if (strcmp(name, "routes") == 0)
		inst->routes_metric = value;
	return 0;
}

static void mock_status_str(struct strata_status *st, const char *key,
			    const char *value)
{
	if (strcmp(key, "last_error") == 0)
		snprintf(st->last_error, sizeof(st->last_error), "%s", value);
	else if (strcmp(key, "path") == 0)
		snprintf(st->path, sizeof(st->path), "%s", value);
	else if (strcmp(key, "scopes") == 0)
		snprintf(st->scopes, sizeof(st->scopes), "%s", value);
}

static void mock_status_int(struct strata_status *st, const char *key,
			    int64_t value)
{
	if (strcmp(key, "routes") == 0)
		st->routes = value;
	else if (strcmp(key, "writes") == 0)
		st->writes = value;
}

/* Entries routes-file does not use stay NULL: a call would crash. */
static struct strata_host host = {
	.size = sizeof(struct strata_host),
	.abi_major = STRATA_ABI_MAJOR,
	.abi_minor = STRATA_ABI_MINOR,
	.log = mock_log,
	.vlog = mock_vlog,
	.cfg_string = mock_cfg_string,
	.cfg_strings_count = mock_cfg_strings_count,
	.cfg_strings_at = mock_cfg_strings_at,
	.metric_add = mock_metric_add,
	.metric_set = mock_metric_set,
	.status_str = mock_status_str,
	.status_int = mock_status_int,
};

static const struct strata_plugin *desc = &STRATA_PLUGIN_ENTRY;
static const struct strata_advertiser_ops *adv;
static char dir[] = "/tmp/routes-file-test.XXXXXX";
static char file[256];

static void addr(struct strata_addr *a, const char *text)
{
	int v6 = strchr(text, ':') != NULL;

	memset(a, 0, sizeof(*a));
	CHECK(inet_pton(v6 ? AF_INET6 : AF_INET, text, a->addr) == 1);
	a->family = v6 ? STRATA_AF_INET6 : STRATA_AF_INET;
}

/* A route from "PREFIX" and nexthops "ADDR", "ADDR%DEV", "%DEV", each
 * optionally followed by "*WEIGHT". */
static struct strata_route route(uint32_t scope, const char *dst, ...)
{
	struct strata_route r;
	char text[64], *p;
	const char *nh;
	struct strata_addr a;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.scope = scope;
	snprintf(text, sizeof(text), "%s", dst);
	p = strchr(text, '/');
	CHECK(p);
	*p = '\0';
	addr(&a, text);
	r.dst.family = a.family;
	r.dst.len = (uint8_t)atoi(p + 1);
	memcpy(r.dst.addr, a.addr, 16);
	va_start(ap, dst);
	while ((nh = va_arg(ap, const char *))) {
		struct strata_nexthop *h = &r.nh[r.n_nexthops++];

		snprintf(text, sizeof(text), "%s", nh);
		p = strchr(text, '*');
		if (p) {
			*p = '\0';
			h->weight = (uint32_t)atoi(p + 1);
		}
		p = strchr(text, '%');
		if (p) {
			*p = '\0';
			snprintf(h->ifname, sizeof(h->ifname), "%s", p + 1);
		}
		if (text[0])
			addr(&h->gw, text);
	}
	va_end(ap);
	return r;
}

static int reconcile(void *self, const struct strata_route *routes, size_t n,
		     uint32_t flags)
{
	const struct strata_route *ptrs[16];
	size_t i;

	CHECK(n <= 16);
	for (i = 0; i < n; i++)
		ptrs[i] = &routes[i];
	return adv->reconcile(self, ptrs, n, flags);
}

static void check_file(const char *expected)
{
	static char buf[8192];
	FILE *f = fopen(file, "r");
	size_t n;

	CHECK(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strcmp(buf, expected) != 0) {
		fprintf(stderr, "file:\n%s\nexpected:\n%s\n", buf, expected);
		CHECK(!"file as expected");
	}
}

static struct strata_status status(void *self)
{
	struct strata_status st;

	memset(&st, 0, sizeof(st));
	desc->ops->status(self, &st);
	return st;
}

static void *start(struct strata_instance *inst)
{
	void *self = NULL;

	CHECK(desc->ops->create(&host, inst, &self) == 0);
	CHECK(self);
	CHECK(adv->scopes(self) != 0);
	CHECK(desc->ops->start(self) == 0);
	return self;
}

static void test_descriptor(void)
{
	const struct strata_cfg_key *k;
	int keys = 0;

	CHECK(desc->magic == STRATA_PLUGIN_MAGIC);
	CHECK(desc->abi_major == STRATA_ABI_MAJOR);
	CHECK(desc->abi_minor == STRATA_ABI_MINOR);
	CHECK(desc->size == sizeof(struct strata_plugin));
	CHECK(desc->kind == STRATA_KIND_ADVERTISER);
	CHECK(strcmp(desc->name, "routes-file") == 0);
	CHECK(desc->ops->create && desc->ops->start && desc->ops->destroy);
	adv = desc->kind_ops;
	CHECK(adv->size == sizeof(*adv) && adv->scopes && adv->reconcile);
	for (k = desc->config; k->name; k++) {
		if (strcmp(k->name, "path") == 0)
			CHECK(k->type == STRATA_CFG_STRING &&
			      (k->flags & STRATA_CFG_REQUIRED));
		if (strcmp(k->name, "scopes") == 0)
			CHECK(k->type == STRATA_CFG_STRINGS &&
			      strcmp(k->def, "bgp") == 0);
		keys++;
	}
	CHECK(keys == 3);
}

static void test_bad_config(void)
{
	struct strata_instance inst = { "relative/routes", { NULL }, NULL,
					0, 0, 0 };
	void *self = NULL;

	CHECK(desc->ops->create(&host, &inst, &self) == -EINVAL);
	inst.path = file;
	inst.scopes[0] = "bgp";
	inst.scopes[1] = "ospf";
	CHECK(desc->ops->create(&host, &inst, &self) == -EINVAL);
	inst.scopes[1] = NULL;
	inst.family = "ipx";
	CHECK(desc->ops->create(&host, &inst, &self) == -EINVAL);
	CHECK(inst.errors == 3);
	CHECK(self == NULL);
}

struct collect {
	struct strata_route r[16];
	size_t n;
};

static void collect_cb(void *arg, const struct strata_route *r)
{
	struct collect *c = arg;

	CHECK(c->n < 16);
	c->r[c->n++] = *r;
}

static const char header[] =
	"# strata routes-file: replaced by stratad, do not edit\n";

static void test_lifecycle(void)
{
	struct strata_instance inst = { file, { NULL }, NULL, 0, 0, 0 };
	struct strata_route r[6];
	struct strata_status st;
	struct collect got;
	char expected[1024];
	void *self;

	unlink(file);
	self = start(&inst);
	CHECK(adv->scopes(self) == STRATA_SCOPE_BGP); /* the default */

	r[0] = route(STRATA_SCOPE_BGP, "10.3.0.0/24", "%eth0", NULL);
	r[1] = route(STRATA_SCOPE_BGP, "10.1.0.0/24", "10.0.0.2", NULL);
	r[2] = route(STRATA_SCOPE_BGP, "10.2.0.0/24", "10.0.0.2",
		     "10.0.0.3*3", NULL);
	r[3] = route(STRATA_SCOPE_KERNEL, "10.9.0.0/24", "10.0.0.2", NULL);
	r[4] = route(STRATA_SCOPE_BGP, "10.4.0.1/24", "10.0.0.2", NULL);
	r[5] = route(STRATA_SCOPE_BGP, "fd00:1::/64", "fe80::1%eth1", NULL);
	CHECK(reconcile(self, r, 6, 0) == 0);
	CHECK(inst.warnings == 1); /* host bits of 10.4.0.1/24 */
	snprintf(expected, sizeof(expected),
		 "%s# scope bgp\n"
		 "route 10.1.0.0/24 via 10.0.0.2;\n"
		 "route 10.2.0.0/24 via 10.0.0.2 via 10.0.0.3 weight 3;\n"
		 "route 10.3.0.0/24 via \"eth0\";\n"
		 "route fd00:1::/64 via fe80::1 dev \"eth1\";\n",
		 header);
	check_file(expected);
	st = status(self);
	CHECK(st.routes == 4 && st.writes == 1);
	CHECK(inst.routes_metric == 4);
	CHECK(strcmp(st.last_error, "none") == 0);
	CHECK(strcmp(st.scopes, "bgp") == 0);

	/* Unchanged content: no rewrite, no temp file left. */
	CHECK(reconcile(self, r, 6, STRATA_RECONCILE_MAY_DELETE) == 0);
	CHECK(status(self).writes == 1);
	CHECK(access(file, F_OK) == 0);

	/* installed() reads back what was written. */
	memset(&got, 0, sizeof(got));
	CHECK(adv->installed(self, collect_cb, &got) == 0);
	CHECK(got.n == 4);
	CHECK(got.r[1].n_nexthops == 2 && got.r[1].nh[1].weight == 3);
	CHECK(memcmp(got.r[1].nh[1].gw.addr, r[2].nh[1].gw.addr, 4) == 0);
	CHECK(got.r[2].nh[0].gw.family == 0);
	CHECK(strcmp(got.r[2].nh[0].ifname, "eth0") == 0);
	CHECK(got.r[3].dst.family == STRATA_AF_INET6 &&
	      strcmp(got.r[3].nh[0].ifname, "eth1") == 0);
	CHECK(got.r[0].scope == STRATA_SCOPE_BGP);

	/* Before the barrier: what is not desired stays. */
	r[1] = route(STRATA_SCOPE_BGP, "10.1.0.0/24", "10.0.0.9", NULL);
	CHECK(reconcile(self, &r[1], 1, 0) == 0);
	snprintf(expected, sizeof(expected),
		 "%s# scope bgp\n"
		 "route 10.1.0.0/24 via 10.0.0.9;\n"
		 "route 10.2.0.0/24 via 10.0.0.2 via 10.0.0.3 weight 3;\n"
		 "route 10.3.0.0/24 via \"eth0\";\n"
		 "route fd00:1::/64 via fe80::1 dev \"eth1\";\n",
		 header);
	check_file(expected);

	/* After it: exactly what is desired. */
	CHECK(reconcile(self, &r[1], 1, STRATA_RECONCILE_MAY_DELETE) == 0);
	snprintf(expected, sizeof(expected),
		 "%s# scope bgp\nroute 10.1.0.0/24 via 10.0.0.9;\n", header);
	check_file(expected);
	CHECK(status(self).routes == 1);
	desc->ops->destroy(self);

	/* A restart finds the file and keeps it until the barrier. */
	self = start(&inst);
	CHECK(status(self).routes == 1);
	CHECK(reconcile(self, NULL, 0, 0) == 0);
	CHECK(status(self).writes == 0);
	check_file(expected);

	/* A file removed behind our back is written again. */
	CHECK(unlink(file) == 0);
	CHECK(reconcile(self, NULL, 0, 0) == 0);
	check_file(expected);
	CHECK(status(self).writes == 1);

	CHECK(reconcile(self, NULL, 0, STRATA_RECONCILE_MAY_DELETE) == 0);
	check_file(header);
	CHECK(status(self).routes == 0);
	desc->ops->destroy(self);
}

static void test_scopes_family(void)
{
	struct strata_instance inst = { file, { "kernel", "bgp", NULL },
					"ipv4", 0, 0, 0 };
	struct strata_route r[4];
	char expected[512];
	void *self;

	unlink(file);
	self = start(&inst);
	CHECK(adv->scopes(self) == (STRATA_SCOPE_KERNEL | STRATA_SCOPE_BGP));
	r[0] = route(STRATA_SCOPE_BGP, "10.1.0.0/24", "10.0.0.2", NULL);
	r[1] = route(STRATA_SCOPE_KERNEL, "10.1.0.0/24", "10.0.0.3", NULL);
	r[2] = route(STRATA_SCOPE_BGP, "fd00::/64", "fd00::1", NULL);
	r[3] = route(STRATA_SCOPE_CLOUD, "10.5.0.0/16", "10.0.0.2", NULL);
	CHECK(reconcile(self, r, 4, STRATA_RECONCILE_MAY_DELETE) == 0);
	snprintf(expected, sizeof(expected),
		 "%s# scope kernel\nroute 10.1.0.0/24 via 10.0.0.3;\n"
		 "# scope bgp\nroute 10.1.0.0/24 via 10.0.0.2;\n",
		 header);
	check_file(expected);
	CHECK(strcmp(status(self).scopes, "kernel,bgp") == 0);

	/* Same configuration: applied in place; another: restart. */
	CHECK(desc->ops->reconfigure(self) == 0);
	inst.family = NULL;
	CHECK(desc->ops->reconfigure(self) == STRATA_RECONF_RESTART);
	inst.family = "ipv4";
	inst.scopes[1] = NULL;
	CHECK(desc->ops->reconfigure(self) == STRATA_RECONF_RESTART);
	desc->ops->destroy(self);
}

static void test_write_error(void)
{
	char path[300];
	struct strata_instance inst = { path, { NULL }, NULL, 0, 0, 0 };
	struct strata_route r = route(STRATA_SCOPE_BGP, "10.1.0.0/24",
				      "10.0.0.2", NULL);
	struct strata_status st;
	char sub[280];
	void *self;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(path, sizeof(path), "%s/routes", sub);
	self = start(&inst);
	CHECK(reconcile(self, &r, 1, 0) == -ENOENT);
	st = status(self);
	CHECK(strcmp(st.last_error, "open: No such file or directory") == 0);
	CHECK(st.writes == 0 && inst.warnings == 1);

	CHECK(mkdir(sub, 0700) == 0);
	CHECK(reconcile(self, &r, 1, 0) == 0);
	st = status(self);
	CHECK(strcmp(st.last_error, "none") == 0 && st.routes == 1);
	desc->ops->destroy(self);
	CHECK(unlink(path) == 0);
	CHECK(rmdir(sub) == 0);
}

static void test_foreign_lines(void)
{
	struct strata_instance inst = { file, { NULL }, NULL, 0, 0, 0 };
	struct collect got;
	FILE *f;
	void *self;

	f = fopen(file, "w");
	CHECK(f);
	fputs("route 10.7.0.0/24 via 10.0.0.1;\n" /* no scope yet */
	      "# scope bgp\n"
	      "route 10.8.0.0/24 via 10.0.0.1 via \"eth0\" weight 2;\n"
	      "protocol static { }\n"
	      "route 10.9.0.0/24 via \"bad\"name\";\n",
	      f);
	CHECK(fclose(f) == 0);
	self = start(&inst);
	CHECK(inst.warnings == 1);
	memset(&got, 0, sizeof(got));
	CHECK(adv->installed(self, collect_cb, &got) == 0);
	CHECK(got.n == 1 && got.r[0].n_nexthops == 2);
	CHECK(got.r[0].nh[1].weight == 2);
	desc->ops->destroy(self);
}

/* Also after a failed check: leave nothing behind. */
static void cleanup(void)
{
	char path[300];

	unlink(file);
	snprintf(path, sizeof(path), "%s.tmp", file);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/routes", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	CHECK(mkdtemp(dir));
	atexit(cleanup);
	snprintf(file, sizeof(file), "%s/routes", dir);
	test_descriptor();
	test_bad_config();
	test_lifecycle();
	test_scopes_family();
	test_write_error();
	test_foreign_lines();
	printf("routes-file: all tests passed\n");
	return 0;
}
