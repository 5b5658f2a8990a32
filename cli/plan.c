/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratactl plan: what a topology needs before it exists. The IPAM plugin
 * carves the topology (its carve() op, run offline), the core's planner
 * computes the routes, and this prints the carving, the cloud route table
 * against its budget, the kernel routes per host, the BGP announcements
 * and how far the cluster can grow — as text, JSON or a Graphviz graph.
 * No daemon, no store.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>
#include <yajl/yajl_gen.h>

#include "../core/carving.h"
#include "../core/cfg.h"
#include "../core/log.h"
#include "../core/offline.h"
#include "../core/plan.h"
#include "../core/plug.h"
#include "../core/route.h"
#include "client.h"
#include "plan.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define MAX_HOSTS 1000000u

static const char *prog = "stratactl plan";

struct opts {
	const char *conf;     /* -c: a stratad config with an ipam instance */
	const char *topology; /* --topology FILE */
	const char *plugin;   /* --plugin FILE: the IPAM plugin */
	const char *plugin_dir;
	char *cidr;           /* quick sizing */
	const char *levels;
	long zones, subnets, hosts, pods;
	long block_len, block_len6;
	long budget[2];
	const char *bgp;
	long announcers;
	bool no_per_host, no_spread;
	bool current;         /* --current: the running cluster's hosts */
	const char *socket;
	enum { OUT_TEXT, OUT_JSON, OUT_DOT } format;
};

/* A host to carve, with everything it points at owned here. */
struct host_in {
	char *name;
	struct strata_fact facts[8];
	uint32_t n_facts;
	uint32_t pods;
	uint32_t n_addrs;
	struct strata_addr addrs[STRATA_TOPO_MAX_ADDRS];
};

static void die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die(EXIT_FAIL, "out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		die(EXIT_FAIL, "out of memory");
	return p;
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(EXIT_FAIL, "out of memory");
	return s;
}

static long parse_long(const char *opt, const char *text, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		die(EXIT_USAGE, "%s: expected a number from %ld to %ld, got \"%s\"",
		    opt, min, max, text);
	return v;
}

static unsigned bits_for(long n)
{
	unsigned b = 1;

	while (b < 24 && (1L << b) < n)
		b++;
	return b;
}

/* ---- the IPAM config, as stratad would read it ---------------------------- */

static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* libconfig has no writer for one setting into text we can embed. */
static void put_setting(FILE *f, const config_setting_t *s)
{
	int n;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		fprintf(f, "%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		fprintf(f, "%lldL", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		fprintf(f, "%.17g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		fputs(config_setting_get_bool(s) ? "true" : "false", f);
		break;
	case CONFIG_TYPE_STRING:
		put_quoted(f, config_setting_get_string(s));
		break;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		n = config_setting_length(s);
		fputc(config_setting_type(s) == CONFIG_TYPE_ARRAY ? '[' : '(', f);
		for (int i = 0; i < n; i++) {
			if (i)
				fputs(", ", f);
			put_setting(f, config_setting_get_elem(s, i));
		}
		fputc(config_setting_type(s) == CONFIG_TYPE_ARRAY ? ']' : ')', f);
		break;
	case CONFIG_TYPE_GROUP:
		n = config_setting_length(s);
		fputs("{ ", f);
		for (int i = 0; i < n; i++) {
			const config_setting_t *m = config_setting_get_elem(s, i);

			fprintf(f, "%s = ", config_setting_name(m));
			put_setting(f, m);
			fputs("; ", f);
		}
		fputc('}', f);
		break;
	default:
		break;
	}
}

static char *ipam_conf_text(const struct opts *o, const config_setting_t *ipam)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const config_setting_t *c = ipam ?
		config_setting_get_member(ipam, "config") : NULL;
	const char *file = NULL;

	if (!f)
		die(EXIT_FAIL, "out of memory");
	if (ipam)
		config_setting_lookup_string(ipam, "file", &file);
	fputs("node = { name = \"plan\"; };\n", f);
	if (o->plugin_dir) {
		fputs("plugin_dir = ", f);
		put_quoted(f, o->plugin_dir);
		fputs(";\n", f);
	}
	fputs("plugins = ( { instance = \"ipam\"; file = ", f);
	put_quoted(f, o->plugin ? o->plugin :
				  file ? file : "ipam-topology.so");
	fputs("; config = ", f);
	if (c) {
		put_setting(f, c);
	} else {
		char *p = o->cidr, *save = NULL;

		fputs("{ pools = [", f);
		for (char *t = strtok_r(p, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			if (t != p)
				fputs(", ", f);
			put_quoted(f, t);
		}
		fputs("]; levels = [", f);
		if (o->levels) {
			char *lv = xstrdup(o->levels), *s2 = NULL;
			bool first = true;

			for (char *t = strtok_r(lv, ",", &s2); t;
			     t = strtok_r(NULL, ",", &s2), first = false) {
				if (!first)
					fputs(", ", f);
				put_quoted(f, t + strspn(t, " "));
			}
			free(lv);
		} else {
			fprintf(f, "\"zone:%u\", \"subnet:%u\"",
				bits_for(o->zones), bits_for(o->subnets));
		}
		fputs("];", f);
		if (o->block_len)
			fprintf(f, " block_length = %ld;", o->block_len);
		if (o->block_len6)
			fprintf(f, " block_length6 = %ld;", o->block_len6);
		fputs(" }", f);
	}
	fputs("; } );\n", f);
	if (fclose(f))
		die(EXIT_FAIL, "out of memory");
	return text;
}

/* ---- loading the plugin --------------------------------------------------- */

struct ipam {
	struct cfg *cfg;
	const struct cfg_plugin *cp;
	struct plug *plug;
	struct strata_instance *inst;
	void *self;
	const struct strata_ipam_ops *ops;
};

static void ipam_open(struct ipam *ip, struct cfg *cfg, const char *origin)
{
	char err[1024];
	struct plug_info *info = NULL;
	int rc;

	ip->cfg = cfg;
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		rc = plug_check(cfg->plugins[i].path, &info, err, sizeof(err));
		if (rc)
			die(EXIT_FAIL, "%s", err);
		if (info->kind == STRATA_KIND_IPAM) {
			ip->cp = &cfg->plugins[i];
			break;
		}
		plug_info_free(info);
		info = NULL;
	}
	if (!ip->cp)
		die(EXIT_FAIL, "%s: no ipam plugin instance", origin);
	rc = cfg_check_plugin(cfg, ip->cp, info->config, err, sizeof(err));
	if (rc)
		die(EXIT_FAIL, "%s", err);
	rc = plug_load(info, &ip->plug, err, sizeof(err));
	plug_info_free(info);
	if (rc)
		die(EXIT_FAIL, "%s", err);
	ip->ops = ip->plug->desc->kind_ops;
	if (!ip->ops->carve)
		die(EXIT_FAIL, "%s: plugin %s cannot plan (it has no carve op)",
		    ip->cp->path, ip->plug->desc->name);
	if (offline_instance_new(ip->cp, ip->plug, &ip->inst))
		die(EXIT_FAIL, "out of memory");
	rc = ip->plug->desc->ops->create(&offline_host, ip->inst, &ip->self);
	if (rc)
		die(EXIT_FAIL, "%s: the %s plugin refused its config (%s)",
		    origin, ip->plug->desc->name, strerror(rc < 0 ? -rc : EINVAL));
}

static void ipam_close(struct ipam *ip)
{
	if (ip->self)
		ip->plug->desc->ops->destroy(ip->self);
	offline_instance_free(ip->inst);
	plug_free(ip->plug);
	cfg_free(ip->cfg);
}

/* ---- the topology ----------------------------------------------------------- */

struct topo {
	struct host_in *hosts;
	size_t n, cap;
	struct strata_topo_host *th;
	char *levels[2]; /* facts the zone and subnet of a shape fill */
	char *all_levels[8]; /* every level's fact, outer first */
	int n_levels;
	uint32_t node_seq; /* synthesized node addresses */
};

static struct host_in *host_add(struct topo *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct host_in *h = realloc(t->hosts, cap * sizeof(*h));

		if (!h)
			die(EXIT_FAIL, "out of memory");
		t->hosts = h;
		t->cap = cap;
	}
	if (t->n >= MAX_HOSTS)
		die(EXIT_USAGE, "more than %u hosts", MAX_HOSTS);
	memset(&t->hosts[t->n], 0, sizeof(t->hosts[0]));
	return &t->hosts[t->n++];
}

static void host_fact(struct host_in *h, const char *name, const char *value)
{
	if (h->n_facts == sizeof(h->facts) / sizeof(h->facts[0]))
		die(EXIT_USAGE, "host %s: more than 8 facts", h->name);
	h->facts[h->n_facts].name = xstrdup(name);
	h->facts[h->n_facts].value = xstrdup(value);
	h->n_facts++;
}

/* Node addresses a planned host does not have yet, one per host so routes
 * have somewhere to point: from 240.0.0.0/4 (reserved, never a real
 * node's) and fd00:5::/64. */
static void host_synth_addrs(struct topo *t, struct host_in *h, bool v6)
{
	uint32_t n = ++t->node_seq;
	struct strata_addr *a = &h->addrs[h->n_addrs++];

	a->family = STRATA_AF_INET;
	a->addr[0] = (uint8_t)(240 | ((n >> 24) & 0x0f));
	a->addr[1] = (uint8_t)(n >> 16);
	a->addr[2] = (uint8_t)(n >> 8);
	a->addr[3] = (uint8_t)n;
	if (!v6)
		return;
	a = &h->addrs[h->n_addrs++];
	a->family = STRATA_AF_INET6;
	a->addr[0] = 0xfd;
	a->addr[3] = 5;
	a->addr[12] = (uint8_t)(n >> 24);
	a->addr[13] = (uint8_t)(n >> 16);
	a->addr[14] = (uint8_t)(n >> 8);
	a->addr[15] = (uint8_t)n;
}

static void shape_add(struct topo *t, const char *zone, const char *subnet,
		      long hosts, long pods, bool v6)
{
	for (long i = 0; i < hosts; i++) {
		struct host_in *h = host_add(t);

		h->name = xasprintf("%s-%s-%04ld", zone, subnet, i + 1);
		h->pods = (uint32_t)pods;
		if (t->levels[0])
			host_fact(h, t->levels[0], zone);
		if (t->levels[1])
			host_fact(h, t->levels[1], subnet);
		host_synth_addrs(t, h, v6);
	}
}

static void level_facts_from(struct topo *t, struct ipam *ip)
{
	int n = cfg_get_strings_count(ip->cp, ip->plug->desc->config,
				      "levels");

	for (int i = 0; i < n && i < 2; i++) {
		const char *l = cfg_get_strings_at(ip->cp,
						   ip->plug->desc->config,
						   "levels", (uint32_t)i);
		size_t len = l ? strcspn(l, ":") : 0;

		t->levels[i] = strndup(l ? l : "", len);
		if (!t->levels[i])
			die(EXIT_FAIL, "out of memory");
	}
	for (int i = 0; i < n && i < 8; i++) {
		const char *l = cfg_get_strings_at(ip->cp,
						   ip->plug->desc->config,
						   "levels", (uint32_t)i);

		t->all_levels[i] = strndup(l ? l : "", l ? strcspn(l, ":") : 0);
		if (!t->all_levels[i])
			die(EXIT_FAIL, "out of memory");
		t->n_levels = i + 1;
	}
	/* one level only: the subnet is that level */
	if (n == 1) {
		t->levels[1] = t->levels[0];
		t->levels[0] = NULL;
	}
}

static bool ipam_has_v6(struct ipam *ip)
{
	int n = cfg_get_strings_count(ip->cp, ip->plug->desc->config, "pools");

	for (int i = 0; i < n; i++) {
		const char *p = cfg_get_strings_at(ip->cp,
						   ip->plug->desc->config,
						   "pools", (uint32_t)i);
		if (p && strchr(p, ':'))
			return true;
	}
	return false;
}

static long setting_long(const config_setting_t *g, const char *name,
			 long def, long min, long max, const char *file)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;

	if (!s)
		return def;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		die(EXIT_FAIL, "%s:%d: %s: expected a number", file,
		    config_setting_source_line(s), name);
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		die(EXIT_FAIL, "%s:%d: %s: expected %ld to %ld, found %lld",
		    file, config_setting_source_line(s), name, min, max, v);
	return (long)v;
}

static const char *setting_str(const config_setting_t *g, const char *name,
			       const char *file)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (!s)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		die(EXIT_FAIL, "%s:%d: %s: expected a string", file,
		    config_setting_source_line(s), name);
	return config_setting_get_string(s);
}

static void check_keys(const config_setting_t *g, const char *const *known,
		       const char *what, const char *file)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, i);
		const char *name = config_setting_name(m);
		bool ok = false;

		for (const char *const *k = known; *k && name; k++)
			ok = ok || !strcmp(*k, name);
		if (!ok)
			die(EXIT_FAIL, "%s:%d: %s: unknown key \"%s\"", file,
			    config_setting_source_line(m), what,
			    name ? name : "?");
	}
}

static void read_topology(struct topo *t, const config_t *lc, const char *file,
			  bool v6, struct opts *o, bool hosts_optional)
{
	static const char *const top_keys[] = { "ipam", "routes", "zones",
						 "hosts", NULL };
	static const char *const route_keys[] = { "budget", "budget6", "bgp",
						  "announcers", "per_host",
						  "spread", NULL };
	static const char *const zone_keys[] = { "name", "subnets", NULL };
	static const char *const subnet_keys[] = { "name", "hosts", "pods",
						   NULL };
	static const char *const host_keys[] = { "name", "pods", "address",
						 "address6", "facts", NULL };
	const config_setting_t *root = config_root_setting(lc);
	const config_setting_t *r, *zones, *hosts;

	check_keys(root, top_keys, "topology", file);
	r = config_setting_get_member(root, "routes");
	if (r) {
		const config_setting_t *b;

		check_keys(r, route_keys, "routes", file);
		if (!o->budget[0])
			o->budget[0] = setting_long(r, "budget", 0, 1,
						    PLAN_MAX_BUDGET, file);
		if (!o->budget[1])
			o->budget[1] = setting_long(r, "budget6", 0, 1,
						    PLAN_MAX_BUDGET, file);
		if (!o->announcers)
			o->announcers = setting_long(r, "announcers", 0, 1, 64,
						     file);
		if (!o->bgp)
			o->bgp = setting_str(r, "bgp", file);
		b = config_setting_get_member(r, "per_host");
		if (b && !config_setting_get_bool(b))
			o->no_per_host = true;
		b = config_setting_get_member(r, "spread");
		if (b && !config_setting_get_bool(b))
			o->no_spread = true;
	}
	zones = config_setting_get_member(root, "zones");
	for (int i = 0; zones && i < config_setting_length(zones); i++) {
		const config_setting_t *z = config_setting_get_elem(zones, i);
		const config_setting_t *subs;
		const char *zname;

		if (config_setting_type(z) != CONFIG_TYPE_GROUP)
			die(EXIT_FAIL, "%s:%d: zones[%d]: expected a group",
			    file, config_setting_source_line(z), i);
		check_keys(z, zone_keys, "zone", file);
		zname = setting_str(z, "name", file);
		if (!zname || !zname[0])
			die(EXIT_FAIL, "%s:%d: zones[%d]: no name", file,
			    config_setting_source_line(z), i);
		subs = config_setting_get_member(z, "subnets");
		for (int j = 0; subs && j < config_setting_length(subs); j++) {
			const config_setting_t *s =
				config_setting_get_elem(subs, j);
			const char *sname;

			if (config_setting_type(s) != CONFIG_TYPE_GROUP)
				die(EXIT_FAIL,
				    "%s:%d: zone %s subnets[%d]: expected a group",
				    file, config_setting_source_line(s), zname,
				    j);
			check_keys(s, subnet_keys, "subnet", file);
			sname = setting_str(s, "name", file);
			if (!sname || !sname[0])
				die(EXIT_FAIL, "%s:%d: zone %s subnets[%d]: no name",
				    file, config_setting_source_line(s), zname,
				    j);
			shape_add(t, zname, sname,
				  setting_long(s, "hosts", 1, 0, MAX_HOSTS,
					       file),
				  setting_long(s, "pods", 0, 0, 1L << 20,
					       file),
				  v6);
		}
	}
	hosts = config_setting_get_member(root, "hosts");
	for (int i = 0; hosts && i < config_setting_length(hosts); i++) {
		const config_setting_t *hs = config_setting_get_elem(hosts, i);
		const config_setting_t *facts;
		const char *name, *a4, *a6;
		struct host_in *h;

		if (config_setting_type(hs) != CONFIG_TYPE_GROUP)
			die(EXIT_FAIL, "%s:%d: hosts[%d]: expected a group",
			    file, config_setting_source_line(hs), i);
		check_keys(hs, host_keys, "host", file);
		name = setting_str(hs, "name", file);
		if (!name || !name[0])
			die(EXIT_FAIL, "%s:%d: hosts[%d]: no name", file,
			    config_setting_source_line(hs), i);
		h = host_add(t);
		h->name = xstrdup(name);
		h->pods = (uint32_t)setting_long(hs, "pods", 0, 0, 1L << 20,
						 file);
		facts = config_setting_get_member(hs, "facts");
		for (int j = 0; facts && j < config_setting_length(facts);
		     j++) {
			const config_setting_t *f =
				config_setting_get_elem(facts, j);

			if (config_setting_type(f) != CONFIG_TYPE_STRING)
				die(EXIT_FAIL,
				    "%s:%d: host %s: facts: expected strings",
				    file, config_setting_source_line(f), name);
			host_fact(h, config_setting_name(f),
				  config_setting_get_string(f));
		}
		a4 = setting_str(hs, "address", file);
		a6 = setting_str(hs, "address6", file);
		if (!a4 && !a6) {
			host_synth_addrs(t, h, v6);
			continue;
		}
		if (a4 && (route_addr_parse(a4, &h->addrs[h->n_addrs]) ||
			   h->addrs[h->n_addrs].family != STRATA_AF_INET))
			die(EXIT_FAIL, "%s:%d: host %s: address: \"%s\" is not an IPv4 address",
			    file, config_setting_source_line(hs), name, a4);
		if (a4)
			h->n_addrs++;
		if (a6 && (route_addr_parse(a6, &h->addrs[h->n_addrs]) ||
			   h->addrs[h->n_addrs].family != STRATA_AF_INET6))
			die(EXIT_FAIL, "%s:%d: host %s: address6: \"%s\" is not an IPv6 address",
			    file, config_setting_source_line(hs), name, a6);
		if (a6)
			h->n_addrs++;
	}
	if (!t->n && !hosts_optional)
		die(EXIT_FAIL, "%s: no hosts: give zones (with subnets) or hosts",
		    file);
}

/* ---- the running cluster (--current) ------------------------------------- */

struct live_node {
	const char *path;
	uint32_t depth;
	struct strata_prefix prefixes[STRATA_TOPO_MAX_ADDRS];
	uint32_t n_prefixes;
	bool stays;
};

struct live {
	yajl_val tree;
	struct live_node *nodes;
	size_t n_nodes;
	uint8_t block_len[2]; /* per family, 0: none seen */
	uint64_t hosts_moving, addrs_moving;
	size_t stays, moves;
	bool blocks_change;
};

static yajl_val jget(yajl_val obj, const char *key, yajl_type t)
{
	const char *path[] = { key, NULL };

	return obj ? yajl_tree_get(obj, path, t) : NULL;
}

static uint32_t depth_of(const char *path)
{
	uint32_t d = path[0] ? 1 : 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static void live_read(struct live *lv, struct topo *t, const char *socket)
{
	yajl_val res, nodes, hosts;

	lv->tree = stratactl_call(socket, "topology", &res);
	nodes = jget(res, "nodes", yajl_t_array);
	hosts = jget(res, "hosts", yajl_t_array);
	if (!nodes || !hosts)
		die(EXIT_FAIL, "topology: malformed reply from stratad");
	lv->nodes = xcalloc(nodes->u.array.len, sizeof(*lv->nodes));
	for (size_t i = 0; i < nodes->u.array.len; i++) {
		yajl_val n = nodes->u.array.values[i];
		yajl_val path = jget(n, "path", yajl_t_string);
		yajl_val pf = jget(n, "prefixes", yajl_t_array);
		struct live_node *ln = &lv->nodes[lv->n_nodes];

		if (!path || !pf)
			die(EXIT_FAIL, "topology: malformed node from stratad");
		if (!path->u.string[0])
			continue; /* the cluster: its pools are the config's */
		ln->path = path->u.string;
		ln->depth = depth_of(ln->path);
		for (size_t k = 0; k < pf->u.array.len &&
				   ln->n_prefixes < STRATA_TOPO_MAX_ADDRS; k++) {
			yajl_val v = pf->u.array.values[k];

			if (YAJL_IS_STRING(v) &&
			    !route_prefix_parse(v->u.string,
						&ln->prefixes[ln->n_prefixes]))
				ln->n_prefixes++;
		}
		lv->n_nodes++;
	}
	for (size_t i = 0; i < hosts->u.array.len; i++) {
		yajl_val h = hosts->u.array.values[i];
		yajl_val name = jget(h, "name", yajl_t_string);
		yajl_val path = jget(h, "path", yajl_t_string);
		yajl_val addrs = jget(h, "addresses", yajl_t_array);
		yajl_val blocks = jget(h, "blocks", yajl_t_array);
		yajl_val used = jget(h, "addresses_used", yajl_t_number);
		struct host_in *hi;
		char *comp, *save = NULL;
		int level = 0;

		if (!name || !path || !addrs || !blocks)
			die(EXIT_FAIL, "topology: malformed host from stratad");
		if (depth_of(path->u.string) != (uint32_t)t->n_levels)
			die(EXIT_FAIL,
			    "the running cluster's paths have %u levels (%s), "
			    "the config %d: every prefix would move; plan the "
			    "new layout with --topology",
			    depth_of(path->u.string), path->u.string,
			    t->n_levels);
		hi = host_add(t);
		hi->name = xstrdup(name->u.string);
		hi->pods = used && YAJL_IS_INTEGER(used) &&
					   YAJL_GET_INTEGER(used) > 0 ?
				   (uint32_t)(YAJL_GET_INTEGER(used) > (1 << 20) ?
						      (1 << 20) :
						      YAJL_GET_INTEGER(used)) :
				   0;
		comp = xstrdup(path->u.string);
		for (char *c = strtok_r(comp, "/", &save); c;
		     c = strtok_r(NULL, "/", &save))
			host_fact(hi, t->all_levels[level++], c);
		free(comp);
		for (size_t k = 0; k < addrs->u.array.len &&
				   hi->n_addrs < STRATA_TOPO_MAX_ADDRS; k++) {
			yajl_val v = addrs->u.array.values[k];

			if (YAJL_IS_STRING(v) &&
			    !route_addr_parse(v->u.string,
					      &hi->addrs[hi->n_addrs]))
				hi->n_addrs++;
		}
		for (size_t k = 0; k < blocks->u.array.len; k++) {
			yajl_val v = blocks->u.array.values[k];
			struct strata_prefix b;

			if (YAJL_IS_STRING(v) &&
			    !route_prefix_parse(v->u.string, &b))
				lv->block_len[b.family == STRATA_AF_INET ? 0 : 1] =
					b.len;
		}
	}
}

static bool pfx_inside(const struct strata_prefix *in,
		       const struct strata_prefix *out)
{
	unsigned full = out->len / 8, rest = out->len % 8;

	if (in->family != out->family || in->len < out->len)
		return false;
	if (memcmp(in->addr, out->addr, full))
		return false;
	return !rest || ((in->addr[full] ^ out->addr[full]) &
			 (0xff << (8 - rest))) == 0;
}

/*
 * What the new carving does to the running cluster. A live prefix stays
 * when the new carving could hold it as it is: inside one of the new pools,
 * at the length the new carving gives its depth there. Blocks stay when
 * their subnet stays and the block length is the same.
 */
static void live_compare(struct live *lv, const struct carving *c)
{
	const struct carving_node *root = NULL;

	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].depth == 0)
			root = &c->nodes[i];
	for (size_t i = 0; i < c->n_hosts; i++)
		for (uint32_t k = 0; k < c->hosts[i].n_blocks; k++) {
			const struct strata_prefix *b = &c->hosts[i].blocks[k];
			int f = b->family == STRATA_AF_INET ? 0 : 1;

			if (lv->block_len[f] && lv->block_len[f] != b->len)
				lv->blocks_change = true;
		}
	for (size_t i = 0; i < lv->n_nodes; i++) {
		struct live_node *ln = &lv->nodes[i];

		ln->stays = root != NULL;
		for (uint32_t k = 0; k < ln->n_prefixes && ln->stays; k++) {
			const struct strata_prefix *p = &ln->prefixes[k];
			bool ok = false;

			for (uint32_t q = 0; root && q < root->n_prefixes && !ok;
			     q++) {
				const struct strata_prefix *pool =
					&root->prefixes[q];

				if (!pfx_inside(p, pool))
					continue;
				/* the length the new carving gives this depth
				 * in this pool, from any node it carved there */
				for (size_t j = 0; j < c->n_nodes && !ok; j++) {
					const struct carving_node *n = &c->nodes[j];

					if (n->depth != ln->depth)
						continue;
					for (uint32_t m = 0; m < n->n_prefixes; m++)
						if (pfx_inside(&n->prefixes[m], pool) &&
						    n->prefixes[m].len == p->len)
							ok = true;
				}
			}
			ln->stays = ok;
		}
		if (ln->stays)
			lv->stays++;
		else
			lv->moves++;
	}
	/* hosts and pods that must be re-addressed */
	for (size_t i = 0; i < c->n_hosts; i++) {
		bool moving = lv->blocks_change;

		for (size_t k = 0; k < lv->n_nodes && !moving; k++)
			if (!lv->nodes[k].stays &&
			    !strncmp(c->hosts[i].path, lv->nodes[k].path,
				     strlen(lv->nodes[k].path)) &&
			    (c->hosts[i].path[strlen(lv->nodes[k].path)] == '/' ||
			     !c->hosts[i].path[strlen(lv->nodes[k].path)]))
				moving = true;
		if (moving) {
			lv->hosts_moving++;
			lv->addrs_moving += c->hosts[i].addrs_used;
		}
	}
}

static void live_print_text(const struct live *lv, const char *socket)
{
	char buf[64];

	printf("change from the running cluster (%s):\n",
	       socket ? socket : "stratad");
	for (size_t i = 0; i < lv->n_nodes; i++) {
		const struct live_node *ln = &lv->nodes[i];

		printf("  %-32s", ln->path);
		for (uint32_t k = 0; k < ln->n_prefixes; k++) {
			route_prefix_format(&ln->prefixes[k], buf, sizeof(buf));
			printf(" %s", buf);
		}
		printf("  %s\n", ln->stays ? "stays" : "MOVES");
	}
	if (lv->blocks_change)
		printf("  the block length changes: every host's blocks move\n");
	if (!lv->moves && !lv->blocks_change) {
		printf("  nothing moves: every prefix and block stays where it "
		       "is\n\n");
		return;
	}
	printf("  %zu of %zu prefixes move; %" PRIu64 " hosts with %" PRIu64
	       " pod addresses in use must be drained and re-addressed.\n"
	       "  stratad refuses a changed carving on a running cluster "
	       "(appending pools is\n  the one change it takes): this is a "
	       "migration, not a reload.\n\n",
	       lv->moves, lv->moves + lv->stays, lv->hosts_moving,
	       lv->addrs_moving);
}

/* ---- output ------------------------------------------------------------------ */

struct result {
	struct carving *c;
	struct plan *plan;
	const struct opts *o;
	struct live *live; /* --current */
};

static const char *fam_name(int f)
{
	return f == PLAN_V4 ? "IPv4" : "IPv6";
}

static const char *mode_name(enum plan_cloud_mode m)
{
	switch (m) {
	case PLAN_CLOUD_PER_HOST:
		return "per-host";
	case PLAN_CLOUD_PER_GROUP:
		return "per-subnet";
	default:
		return "none";
	}
}

static void pfx(const struct strata_prefix *p, char *buf, size_t len)
{
	route_prefix_format(p, buf, len);
}

static void node_prefixes(const struct carving_node *n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < n->n_prefixes && off + 2 < len; i++) {
		char p[64];

		pfx(&n->prefixes[i], p, sizeof(p));
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? " " : "", p);
	}
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* Blocks a host of the shape takes, to say how many more hosts fit. */
static uint64_t blocks_per_host(const struct result *r, uint32_t group)
{
	uint64_t most = 0;

	for (size_t i = 0; i < r->c->in.n_hosts; i++)
		if (r->c->plan_hosts[i].group == group &&
		    r->c->plan_hosts[i].n_blocks > most)
			most = r->c->plan_hosts[i].n_blocks;
	return most ? most : 1;
}

static void kernel_range(const struct result *r, uint64_t *lo, uint64_t *hi,
			 uint32_t *busiest)
{
	*lo = UINT64_MAX;
	*hi = 0;
	*busiest = 0;
	for (uint32_t i = 0; i < r->c->in.n_hosts; i++) {
		uint64_t k = plan_host_kernel_count(r->plan, i);

		if (k < *lo)
			*lo = k;
		if (k > *hi) {
			*hi = k;
			*busiest = i;
		}
	}
	if (*lo == UINT64_MAX)
		*lo = 0;
}

static uint64_t bgp_total(const struct result *r)
{
	size_t n;
	const struct plan_bgp_route *b = plan_bgp_routes(r->plan, &n);
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += b[i].n_hosts;
	return total;
}

/* Paths in tree order: a parent right before its children. */
static int cmp_tree(const void *a, const void *b)
{
	const struct carving_node *const *x = a, *const *y = b;
	const unsigned char *p = (const unsigned char *)(*x)->path;
	const unsigned char *q = (const unsigned char *)(*y)->path;

	for (; *p && *p == *q; p++, q++)
		;
	return (*p == '/' ? 1 : *p) - (*q == '/' ? 1 : *q);
}

static bool child_of(const struct carving_node *parent,
		     const struct carving_node *n)
{
	size_t len = strlen(parent->path);

	if (n->depth != parent->depth + 1)
		return false;
	if (parent->depth == 0)
		return true;
	return !strncmp(n->path, parent->path, len) && n->path[len] == '/';
}

/* How many more children a node has room for, in its first family's
 * prefixes, from the length its children's prefixes have. */
static bool room_for(const struct carving *c, const struct carving_node *n,
		     uint64_t *room, const char **level)
{
	const struct carving_node *child = NULL;
	uint64_t slots = 0, used = 0;
	uint8_t fam, clen = 0;

	for (size_t i = 0; i < c->n_nodes; i++)
		if (child_of(n, &c->nodes[i])) {
			if (!child)
				child = &c->nodes[i];
			used++;
		}
	if (!child || !child->n_prefixes || !n->n_prefixes)
		return false;
	fam = child->prefixes[0].family;
	clen = child->prefixes[0].len;
	for (uint32_t k = 0; k < n->n_prefixes; k++) {
		const struct strata_prefix *p = &n->prefixes[k];

		if (p->family != fam || clen < p->len)
			continue;
		slots += clen - p->len >= 63 ? UINT64_MAX / 2 :
					       1ull << (clen - p->len);
	}
	*room = slots > used ? slots - used : 0;
	*level = child->level;
	return true;
}

static void print_text(const struct result *r)
{
	const struct carving *c = r->c;
	size_t n_cloud;
	const struct plan_cloud_route *cr = plan_cloud_routes(r->plan, &n_cloud);
	const struct carving_node **tree;
	uint64_t pods = 0, lo, hi;
	uint32_t busiest;
	char buf[512], p[64];

	for (size_t i = 0; i < c->n_hosts; i++)
		pods += c->hosts[i].addrs_used;
	if (r->live)
		live_print_text(r->live, r->o->socket);
	printf("plan: %zu subnets, %zu hosts, %" PRIu64 " pods\n",
	       r->c->in.n_groups, c->n_hosts, pods);
	printf("\ncarving\n");
	tree = calloc(c->n_nodes ? c->n_nodes : 1, sizeof(*tree));
	if (!tree)
		die(EXIT_FAIL, "out of memory");
	for (size_t i = 0; i < c->n_nodes; i++)
		tree[i] = &c->nodes[i];
	qsort(tree, c->n_nodes, sizeof(*tree), cmp_tree);
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct carving_node *n = tree[i];
		int indent = (int)n->depth * 2 + 2;
		const char *level;
		uint64_t room;

		node_prefixes(n, buf, sizeof(buf));
		if (n->depth == 0) {
			printf("  pools %s: %" PRIu64 " of %" PRIu64
			       " blocks used (%.1f%%)", buf, n->blocks_used,
			       n->blocks_total, pct(n->blocks_used,
						    n->blocks_total));
			if (room_for(c, n, &room, &level))
				printf(", room for %" PRIu64 " more %s%s",
				       room, level, room == 1 ? "" : "s");
			printf("\n");
			continue;
		}
		printf("%*s%s %s  %s", indent, "", n->level, n->path, buf);
		if (!n->routed && room_for(c, n, &room, &level))
			printf("  room for %" PRIu64 " more %s%s", room, level,
			       room == 1 ? "" : "s");
		if (n->routed) {
			uint64_t bph = blocks_per_host(r, n->group);
			uint64_t free_blocks = n->blocks_total - n->blocks_used -
					       n->blocks_reserved;

			printf("  %u hosts, %" PRIu64 "/%" PRIu64
			       " blocks (%.1f%%), room for %" PRIu64
			       " more hosts", n->hosts, n->blocks_used,
			       n->blocks_total,
			       pct(n->blocks_used, n->blocks_total),
			       free_blocks / bph);
		}
		printf("\n");
	}
	free(tree);
	for (int f = PLAN_V4; f <= PLAN_V6; f++) {
		enum plan_cloud_mode m = plan_cloud_mode(r->plan, f);
		uint32_t used = 0;

		if (m == PLAN_CLOUD_NONE)
			continue;
		for (size_t i = 0; i < n_cloud; i++)
			used += (cr[i].dst.family == STRATA_AF_INET) ==
				(f == PLAN_V4);
		printf("\ncloud route table, %s: %u of %u routes (%s)\n",
		       fam_name(f), used, plan_cloud_budget(r->plan, f),
		       mode_name(m));
		for (size_t i = 0; i < n_cloud; i++) {
			const struct plan_host *h = &r->c->plan_hosts[cr[i].host];
			char a[64] = "";

			if ((cr[i].dst.family == STRATA_AF_INET) !=
			    (f == PLAN_V4))
				continue;
			for (uint32_t k = 0; k < h->n_addrs; k++)
				if (h->addrs[k].family == cr[i].dst.family) {
					route_addr_format(&h->addrs[k], a,
							  sizeof(a));
					break;
				}
			pfx(&cr[i].dst, p, sizeof(p));
			printf("  %-24s -> %s (%s)  %s\n", p, h->name, a,
			       r->c->groups[cr[i].group].path);
		}
	}
	kernel_range(r, &lo, &hi, &busiest);
	printf("\nkernel routes per host (peers' blocks in its subnet): "
	       "%" PRIu64 " to %" PRIu64, lo, hi);
	if (r->c->in.n_hosts)
		printf(" (most on %s)", r->c->plan_hosts[busiest].name);
	printf("\n");
	printf("bgp (%s): %" PRIu64 " announcements\n",
	       r->o->bgp && !strcmp(r->o->bgp, "aggregate") ? "aggregate" :
							      "blocks",
	       bgp_total(r));
	for (size_t i = 0; plan_problem(r->plan, i); i++)
		printf("%s%s\n", i ? "  " : "\nproblems:\n  ",
		       plan_problem(r->plan, i));
}

static void gs(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gkv(yajl_gen g, const char *k, const char *v)
{
	gs(g, k);
	gs(g, v);
}

static void gki(yajl_gen g, const char *k, long long v)
{
	gs(g, k);
	yajl_gen_integer(g, v);
}

static void print_json(const struct result *r)
{
	const struct carving *c = r->c;
	yajl_gen g = yajl_gen_alloc(NULL);
	size_t n_cloud, n_bgp;
	const struct plan_cloud_route *cr = plan_cloud_routes(r->plan, &n_cloud);
	const struct plan_bgp_route *br = plan_bgp_routes(r->plan, &n_bgp);
	const unsigned char *buf;
	uint64_t lo, hi;
	uint32_t busiest;
	size_t len;
	char p[64];

	if (!g)
		die(EXIT_FAIL, "out of memory");
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_map_open(g);
	gki(g, "subnets", (long long)r->c->in.n_groups);
	gki(g, "hosts", (long long)c->n_hosts);
	gs(g, "nodes");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct carving_node *n = &c->nodes[i];

		yajl_gen_map_open(g);
		gkv(g, "path", n->path);
		gkv(g, "level", n->level);
		gki(g, "depth", n->depth);
		gs(g, "routed");
		yajl_gen_bool(g, n->routed);
		gs(g, "prefixes");
		yajl_gen_array_open(g);
		for (uint32_t k = 0; k < n->n_prefixes; k++) {
			pfx(&n->prefixes[k], p, sizeof(p));
			gs(g, p);
		}
		yajl_gen_array_close(g);
		gki(g, "blocks_total", (long long)(n->blocks_total > INT64_MAX ?
						   INT64_MAX : n->blocks_total));
		gki(g, "blocks_used", (long long)n->blocks_used);
		gki(g, "blocks_reserved", (long long)n->blocks_reserved);
		gki(g, "addresses_used", (long long)n->addrs_used);
		if (n->routed) {
			uint64_t free_blocks = n->blocks_total -
					       n->blocks_used -
					       n->blocks_reserved;

			gki(g, "hosts", n->hosts);
			gki(g, "room_for_hosts",
			    (long long)((free_blocks /
					 blocks_per_host(r, n->group)) >
						 INT64_MAX ?
					INT64_MAX :
					free_blocks /
						blocks_per_host(r, n->group)));
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gs(g, "cloud");
	yajl_gen_map_open(g);
	for (int f = PLAN_V4; f <= PLAN_V6; f++) {
		enum plan_cloud_mode m = plan_cloud_mode(r->plan, f);
		long long used = 0;

		if (m == PLAN_CLOUD_NONE)
			continue;
		gs(g, f == PLAN_V4 ? "ipv4" : "ipv6");
		yajl_gen_map_open(g);
		gkv(g, "mode", mode_name(m));
		gki(g, "budget", plan_cloud_budget(r->plan, f));
		gs(g, "routes");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < n_cloud; i++) {
			if ((cr[i].dst.family == STRATA_AF_INET) !=
			    (f == PLAN_V4))
				continue;
			used++;
			yajl_gen_map_open(g);
			pfx(&cr[i].dst, p, sizeof(p));
			gkv(g, "dst", p);
			gkv(g, "subnet", r->c->groups[cr[i].group].path);
			gkv(g, "host", r->c->plan_hosts[cr[i].host].name);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		gki(g, "used", used);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	kernel_range(r, &lo, &hi, &busiest);
	gs(g, "kernel_routes_per_host");
	yajl_gen_map_open(g);
	gki(g, "min", (long long)lo);
	gki(g, "max", (long long)hi);
	yajl_gen_map_close(g);
	gs(g, "bgp");
	yajl_gen_map_open(g);
	gkv(g, "mode", r->o->bgp && !strcmp(r->o->bgp, "aggregate") ?
			       "aggregate" : "blocks");
	gki(g, "prefixes", (long long)n_bgp);
	gki(g, "announcements", (long long)bgp_total(r));
	yajl_gen_map_close(g);
	gs(g, "problems");
	yajl_gen_array_open(g);
	for (size_t i = 0; plan_problem(r->plan, i); i++)
		gs(g, plan_problem(r->plan, i));
	yajl_gen_array_close(g);
	if (r->live) {
		const struct live *lv = r->live;

		gs(g, "change");
		yajl_gen_map_open(g);
		gs(g, "nodes");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < lv->n_nodes; i++) {
			yajl_gen_map_open(g);
			gkv(g, "path", lv->nodes[i].path);
			gs(g, "prefixes");
			yajl_gen_array_open(g);
			for (uint32_t k = 0; k < lv->nodes[i].n_prefixes; k++) {
				pfx(&lv->nodes[i].prefixes[k], p, sizeof(p));
				gs(g, p);
			}
			yajl_gen_array_close(g);
			gs(g, "stays");
			yajl_gen_bool(g, lv->nodes[i].stays);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		gki(g, "prefixes_moving", (long long)lv->moves);
		gs(g, "blocks_change");
		yajl_gen_bool(g, lv->blocks_change);
		gki(g, "hosts_moving", (long long)lv->hosts_moving);
		gki(g, "addresses_moving", (long long)lv->addrs_moving);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	(void)br;
	yajl_gen_get_buf(g, &buf, &len);
	fwrite(buf, 1, len, stdout);
	yajl_gen_free(g);
}

static void dot_id(const char *kind, const char *path)
{
	printf("\"%s:", kind);
	for (; *path; path++) {
		if (*path == '"' || *path == '\\')
			putchar('\\');
		putchar(*path);
	}
	putchar('"');
}

static void dot_text(const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
}

static void print_dot(const struct result *r)
{
	const struct carving *c = r->c;
	size_t n_cloud;
	const struct plan_cloud_route *cr = plan_cloud_routes(r->plan, &n_cloud);
	char buf[512], p[64];

	printf("digraph strata_plan {\n"
	       "\trankdir=LR;\n"
	       "\tnode [shape=box, fontname=\"monospace\"];\n");
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct carving_node *n = &c->nodes[i];
		const char *slash = strrchr(n->path, '/');

		node_prefixes(n, buf, sizeof(buf));
		printf("\t");
		dot_id("n", n->path);
		printf(" [label=\"");
		if (n->depth == 0)
			printf("cluster");
		else {
			dot_text(n->level);
			printf(" ");
			dot_text(slash ? slash + 1 : n->path);
		}
		printf("\\n");
		dot_text(buf);
		if (n->routed)
			printf("\\n%u hosts, %" PRIu64 "/%" PRIu64 " blocks\", "
			       "style=filled, fillcolor=\"#dbe9f6\"];\n",
			       n->hosts, n->blocks_used, n->blocks_total);
		else
			printf("\"];\n");
		if (n->depth > 0) {
			char parent[1024];
			size_t plen = slash ? (size_t)(slash - n->path) : 0;

			if (plen >= sizeof(parent))
				plen = sizeof(parent) - 1;
			memcpy(parent, n->path, plen);
			parent[plen] = '\0';
			printf("\t");
			dot_id("n", parent);
			printf(" -> ");
			dot_id("n", n->path);
			printf(";\n");
		}
	}
	for (size_t i = 0; i < n_cloud; i++) {
		char id[32];

		snprintf(id, sizeof(id), "%zu", i);
		pfx(&cr[i].dst, p, sizeof(p));
		printf("\t");
		dot_id("r", id);
		printf(" [shape=ellipse, label=\"%s\\nvia ", p);
		dot_text(r->c->plan_hosts[cr[i].host].name);
		printf("\"];\n\t");
		dot_id("n", r->c->groups[cr[i].group].path);
		printf(" -> ");
		dot_id("r", id);
		printf(" [style=dashed, label=\"cloud route\"];\n");
	}
	printf("}\n");
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: stratactl plan [OPTIONS] --topology FILE\n"
		"       stratactl plan [OPTIONS] --cidr CIDR[,CIDR6] --zones N "
		"--subnets-per-zone M\n"
		"                      --hosts-per-subnet H --pods-per-host P\n"
		"What a topology needs before it exists: the carving, the cloud "
		"route table\nagainst its budget, kernel routes per host, BGP "
		"announcements, room to grow.\n"
		"\n"
		"  -c, --config FILE        take the IPAM config from stratad's "
		"config file\n"
		"      --topology FILE      zones, subnets and hosts to plan "
		"(docs/planning.md)\n"
		"      --cidr CIDRS         quick sizing: the pod pools "
		"(comma-separated)\n"
		"      --zones N, --subnets-per-zone M, --hosts-per-subnet H, "
		"--pods-per-host P\n"
		"      --levels L           \"zone:BITS,subnet:BITS\" (default: "
		"sized to fit)\n"
		"      --block-length N     IPv4 block prefix length "
		"(--block-length6 for IPv6)\n"
		"      --route-budget R     cloud routes per family (default 50, "
		"at most 1000;\n"
		"                           --route-budget6 for IPv6 alone)\n"
		"      --bgp MODE           blocks (default) or aggregate\n"
		"      --announcers N       aggregate: hosts announcing each "
		"subnet (default 2)\n"
		"      --no-per-host        never one route per host\n"
		"      --no-spread          one cloud route per subnet prefix\n"
		"      --plugin FILE        the IPAM plugin (default "
		"ipam-topology.so)\n"
		"      --plugin-dir DIR     where plugins are (default %s)\n"
		"      --current            plan the hosts of the running cluster "
		"(stratad at -s\n"
		"                           SOCKET) with this config, and say "
		"what would move\n"
		"      --json               JSON output\n"
		"      --format FORMAT      text (default), json or dot "
		"(Graphviz)\n",
		PLUGINDIR);
}

enum {
	OPT_TOPOLOGY = 256,
	OPT_CIDR,
	OPT_ZONES,
	OPT_SUBNETS,
	OPT_HOSTS,
	OPT_PODS,
	OPT_LEVELS,
	OPT_BLOCK,
	OPT_BLOCK6,
	OPT_BUDGET,
	OPT_BUDGET6,
	OPT_BGP,
	OPT_ANNOUNCERS,
	OPT_NO_PER_HOST,
	OPT_NO_SPREAD,
	OPT_PLUGIN,
	OPT_PLUGIN_DIR,
	OPT_JSON,
	OPT_FORMAT,
	OPT_CURRENT,
};

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "topology", required_argument, NULL, OPT_TOPOLOGY },
		{ "cidr", required_argument, NULL, OPT_CIDR },
		{ "zones", required_argument, NULL, OPT_ZONES },
		{ "subnets-per-zone", required_argument, NULL, OPT_SUBNETS },
		{ "hosts-per-subnet", required_argument, NULL, OPT_HOSTS },
		{ "pods-per-host", required_argument, NULL, OPT_PODS },
		{ "levels", required_argument, NULL, OPT_LEVELS },
		{ "block-length", required_argument, NULL, OPT_BLOCK },
		{ "block-length6", required_argument, NULL, OPT_BLOCK6 },
		{ "route-budget", required_argument, NULL, OPT_BUDGET },
		{ "route-budget6", required_argument, NULL, OPT_BUDGET6 },
		{ "bgp", required_argument, NULL, OPT_BGP },
		{ "announcers", required_argument, NULL, OPT_ANNOUNCERS },
		{ "no-per-host", no_argument, NULL, OPT_NO_PER_HOST },
		{ "no-spread", no_argument, NULL, OPT_NO_SPREAD },
		{ "plugin", required_argument, NULL, OPT_PLUGIN },
		{ "plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "current", no_argument, NULL, OPT_CURRENT },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long budget6 = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_CURRENT:
			o->current = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->conf = optarg;
			break;
		case OPT_TOPOLOGY:
			o->topology = optarg;
			break;
		case OPT_CIDR:
			o->cidr = xstrdup(optarg);
			break;
		case OPT_ZONES:
			o->zones = parse_long("--zones", optarg, 1, 4096);
			break;
		case OPT_SUBNETS:
			o->subnets = parse_long("--subnets-per-zone", optarg, 1,
						4096);
			break;
		case OPT_HOSTS:
			o->hosts = parse_long("--hosts-per-subnet", optarg, 1,
					      MAX_HOSTS);
			break;
		case OPT_PODS:
			o->pods = parse_long("--pods-per-host", optarg, 0,
					     1L << 20);
			break;
		case OPT_LEVELS:
			o->levels = optarg;
			break;
		case OPT_BLOCK:
			o->block_len = parse_long("--block-length", optarg, 16,
						  32);
			break;
		case OPT_BLOCK6:
			o->block_len6 = parse_long("--block-length6", optarg,
						   64, 128);
			break;
		case OPT_BUDGET:
			o->budget[0] = parse_long("--route-budget", optarg, 1,
						  PLAN_MAX_BUDGET);
			break;
		case OPT_BUDGET6:
			budget6 = parse_long("--route-budget6", optarg, 1,
					     PLAN_MAX_BUDGET);
			break;
		case OPT_BGP:
			if (strcmp(optarg, "blocks") &&
			    strcmp(optarg, "aggregate"))
				die(EXIT_USAGE,
				    "--bgp: expected blocks or aggregate, got \"%s\"",
				    optarg);
			o->bgp = optarg;
			break;
		case OPT_ANNOUNCERS:
			o->announcers = parse_long("--announcers", optarg, 1,
						   64);
			break;
		case OPT_NO_PER_HOST:
			o->no_per_host = true;
			break;
		case OPT_NO_SPREAD:
			o->no_spread = true;
			break;
		case OPT_PLUGIN:
			/* a path is the user's, relative to here; a bare
			 * name is looked up in the plugin directory */
			o->plugin = optarg;
			if (strchr(optarg, '/')) {
				o->plugin = realpath(optarg, NULL);
				if (!o->plugin)
					die(EXIT_USAGE, "--plugin %s: %s", optarg,
					    strerror(errno));
			}
			break;
		case OPT_PLUGIN_DIR:
			o->plugin_dir = optarg;
			break;
		case OPT_JSON:
			o->format = OUT_JSON;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "text"))
				o->format = OUT_TEXT;
			else if (!strcmp(optarg, "json"))
				o->format = OUT_JSON;
			else if (!strcmp(optarg, "dot"))
				o->format = OUT_DOT;
			else
				die(EXIT_USAGE,
				    "--format: expected text, json or dot, got \"%s\"",
				    optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'stratactl plan --help'.\n");
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument \"%s\"", argv[optind]);
	/* one budget for both families unless IPv6 has its own */
	o->budget[1] = budget6 ? budget6 : o->budget[0];
	if (o->topology && o->cidr)
		die(EXIT_USAGE, "--topology and --cidr exclude each other");
	if (o->current && !o->conf && !o->topology)
		die(EXIT_USAGE, "--current plans the running cluster's hosts "
				"with a new IPAM config: give it with --config "
				"or a topology file's ipam group");
	if (o->current && o->cidr)
		die(EXIT_USAGE, "--current takes its hosts from stratad: "
				"give the new config with --config, not --cidr");
	if (!o->topology && !o->cidr && !o->current)
		die(EXIT_USAGE, "give --topology FILE, or --cidr with --zones, "
				"--subnets-per-zone, --hosts-per-subnet and "
				"--pods-per-host");
	if (o->cidr && (!o->zones || !o->subnets || !o->hosts || !o->pods))
		die(EXIT_USAGE, "--cidr needs --zones, --subnets-per-zone, "
				"--hosts-per-subnet and --pods-per-host");
	if (o->cidr && o->conf)
		die(EXIT_USAGE, "--cidr and --config exclude each other");
}

int plan_main(int argc, char **argv)
{
	struct opts o = { .format = OUT_TEXT };
	struct ipam ip = { 0 };
	struct topo t = { 0 };
	struct carving c = { 0 };
	struct live live = { 0 };
	struct result r = { .c = &c, .o = &o };
	struct plan_options po = { 0 };
	config_t lc;
	const config_setting_t *ipam_group = NULL;
	struct cfg *cfg = NULL;
	char err[1024];
	bool v6;
	int rc;

	log_set_level(LOG_WARNING);
	parse_args(argc, argv, &o);
	config_init(&lc);
	if (o.topology) {
		if (!config_read_file(&lc, o.topology))
			die(EXIT_FAIL, "%s:%d: %s",
			    config_error_file(&lc) ? config_error_file(&lc) :
						     o.topology,
			    config_error_line(&lc), config_error_text(&lc));
		ipam_group = config_lookup(&lc, "ipam");
		if (ipam_group && o.conf)
			die(EXIT_USAGE, "%s has an ipam group: drop --config",
			    o.topology);
	}
	if (o.conf) {
		rc = cfg_load(o.conf, &cfg, err, sizeof(err));
		if (rc)
			die(EXIT_FAIL, "%s", err);
		ipam_open(&ip, cfg, o.conf);
	} else {
		char *text;

		if (o.topology && !ipam_group)
			die(EXIT_USAGE, "%s has no ipam group: give --config "
					"with stratad's config file",
			    o.topology);
		text = ipam_conf_text(&o, ipam_group);
		rc = cfg_load_string(o.topology ? o.topology : "--cidr", text,
				     &cfg, err, sizeof(err));
		free(text);
		if (rc)
			die(EXIT_FAIL, "%s", err);
		ipam_open(&ip, cfg, o.topology ? o.topology : "--cidr");
	}

	level_facts_from(&t, &ip);
	v6 = ipam_has_v6(&ip);
	if (o.current)
		live_read(&live, &t, o.socket);
	if (o.topology) {
		read_topology(&t, &lc, o.topology, v6, &o, o.current);
	} else if (!o.current) {
		for (long z = 0; z < o.zones; z++)
			for (long s = 0; s < o.subnets; s++) {
				char zn[32], sn[32];

				snprintf(zn, sizeof(zn), "zone-%ld", z + 1);
				snprintf(sn, sizeof(sn), "subnet-%ld", s + 1);
				shape_add(&t, zn, sn, o.hosts, o.pods, v6);
			}
	}

	t.th = xcalloc(t.n, sizeof(*t.th));
	for (size_t i = 0; i < t.n; i++) {
		struct strata_topo_host *th = &t.th[i];

		th->size = sizeof(*th);
		th->pods = t.hosts[i].pods;
		th->name = t.hosts[i].name;
		th->facts = t.hosts[i].facts;
		th->n_facts = t.hosts[i].n_facts;
		th->n_addrs = t.hosts[i].n_addrs;
		memcpy(th->addrs, t.hosts[i].addrs, sizeof(th->addrs));
	}
	{
		struct strata_topo_sink sink;

		carving_sink(&c, &sink);
		err[0] = '\0';
		rc = ip.ops->carve(ip.self, t.th, t.n, &sink, err, sizeof(err));
		if (rc)
			die(EXIT_FAIL, "%s", err[0] ? err : strerror(-rc));
	}
	rc = carving_plan_input(&c, err, sizeof(err));
	if (rc)
		die(EXIT_FAIL, "%s", rc == -ENOMEM ? "out of memory" : err);
	if (o.current) {
		live_compare(&live, &c);
		r.live = &live;
	}
	po.budget[0] = (uint32_t)o.budget[0];
	po.budget[1] = (uint32_t)o.budget[1];
	po.no_per_host = o.no_per_host;
	po.no_spread = o.no_spread;
	po.bgp_mode = o.bgp && !strcmp(o.bgp, "aggregate") ?
			      PLAN_BGP_AGGREGATE : PLAN_BGP_BLOCKS;
	po.bgp_announcers = (uint32_t)o.announcers;
	rc = plan_build(&c.in, &po, &r.plan, err, sizeof(err));
	if (rc)
		die(EXIT_FAIL, "%s", err);

	switch (o.format) {
	case OUT_JSON:
		print_json(&r);
		break;
	case OUT_DOT:
		print_dot(&r);
		break;
	default:
		print_text(&r);
		break;
	}
	if (fflush(stdout) || ferror(stdout))
		die(EXIT_FAIL, "writing output: %s", strerror(errno));

	plan_free(r.plan);
	carving_free(&c);
	if (live.tree)
		yajl_tree_free(live.tree);
	free(live.nodes);
	for (size_t i = 0; i < t.n; i++) {
		free(t.hosts[i].name);
		for (uint32_t k = 0; k < t.hosts[i].n_facts; k++) {
			free((char *)t.hosts[i].facts[k].name);
			free((char *)t.hosts[i].facts[k].value);
		}
	}
	free(t.hosts);
	free(t.th);
	if (t.levels[0] != t.levels[1])
		free(t.levels[0]);
	free(t.levels[1]);
	for (int i = 0; i < t.n_levels; i++)
		free(t.all_levels[i]);
	ipam_close(&ip);
	config_destroy(&lc);
	free(o.cidr);
	if (o.plugin && strchr(o.plugin, '/'))
		free((char *)o.plugin);
	return 0;
}
