/* SPDX-License-Identifier: Apache-2.0 */
/*
 * advertiser "aws-vpc": the cloud table as routes in the VPC's route
 * tables, each targeting its forwarder's network interface.
 *
 * Every node runs it. At start it learns who it is (IMDSv2, or the
 * config), publishes zone, subnet and ids as node facts, writes its
 * record (noderec.h: its interface and addresses) to the store, and
 * turns off the source/destination check on its interface: every node
 * sends and receives pod addresses that are not its own.
 *
 * Only the elected route writer touches the route tables, and only while
 * its lease is safely live (host->route_writer_remaining). A pass reads
 * the node records, describes the managed tables (one DescribeRouteTables
 * in the steady state: the tables found by subnet association are then
 * described by id), diffs (tables.h) and makes the smallest set of calls,
 * one after the other, each fenced by the lease. A failed pass is tried
 * again with backoff; the host's periodic resync heals the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/plugin.h>

#include "creds.h"
#include "ec2.h"
#include "ec2xml.h"
#include "imds.h"
#include "noderec.h"
#include "tables.h"

#define RETRY_MIN_NS (1000 * 1000000LL)
#define RETRY_MAX_NS (60 * 1000000000LL)
#define MAX_PAGES 100
#define MAX_FILTER_VALUES 200
#define MAX_TABLES 200 /* route tables per VPC */

struct want {
	struct strata_prefix dst;
	struct strata_addr via;
};

enum phase {
	P_IDLE,
	P_NODES,    /* reading the node records */
	P_DISCOVER, /* DescribeRouteTables by subnet association */
	P_MAIN,     /* ... the VPC's main table */
	P_DESCRIBE, /* ... by table id */
	P_APPLY,    /* the diff's calls */
};

struct vpc {
	const struct strata_host *h;
	struct strata_instance *inst;

	/* config */
	char endpoint[512];
	char region[IMDS_NAME_MAX];
	struct noderec cfg_id; /* configured identity, "" where not */
	char cfg_vpc[EC2_ID_MAX];
	bool use_imds, sdc_off;
	char **tables_cfg, **ignore;
	size_t n_tables_cfg, n_ignore;
	struct strata_prefix *cidrs_cfg;
	size_t n_cidrs_cfg;
	uint32_t budget4, budget6;
	int64_t rediscover_ns;
	struct ec2_config ecfg;

	struct imds *imds;
	struct creds *creds;
	struct ec2 *ec2;
	struct imds_op *discover;
	struct strata_timer *discover_timer;
	int64_t discover_retry;

	/* who this node is */
	bool have_id;
	struct noderec self;
	char vpc_id[EC2_ID_MAX];
	bool published, publishing;

	/* the source/destination check */
	struct strata_timer *sdc_timer;
	int64_t sdc_retry;
	const char *sdc_state;
	char sdc_error[256];

	/* desired */
	struct want *want;
	size_t n_want;
	bool may_delete;
	bool have_desired;

	/* the pass */
	enum phase phase;
	bool again;
	struct ec2_call *call;
	struct strata_timer *retry_timer;
	int64_t retry_ns;
	struct noderec *nodes;
	size_t n_nodes;
	char (*subnets)[EC2_ID_MAX];
	size_t n_subnets;
	char (*tables)[EC2_ID_MAX]; /* the managed tables, by id */
	size_t n_tables;
	int64_t tables_at; /* when found; 0: find them again */
	char *token;
	struct ec2_route_table *got; /* described this pass */
	size_t n_got;
	struct tables_diff diff;
	size_t next;
	int pass_err;
	char refused_table[EC2_ID_MAX]; /* RouteLimitExceeded: no creates */

	/* status */
	const char *state;
	char error[512];
	int64_t passes, mutations, last_describes, last_mutations;
	int64_t last_pass_ns;
	size_t installed_ok;
};

static const struct strata_cfg_key vpc_config[] = {
	{ "ec2_endpoint", STRATA_CFG_STRING, 0, "", 0, 0,
	  "EC2's URL; \"\": $AWS_ENDPOINT_URL_EC2, $AWS_ENDPOINT_URL, else "
	  "https://ec2.REGION.amazonaws.com" },
	{ "imds_endpoint", STRATA_CFG_STRING, 0, "", 0, 0,
	  "instance metadata URL; \"\": http://169.254.169.254" },
	{ "imds", STRATA_CFG_BOOL, 0, "true", 0, 0,
	  "learn the instance, zone, subnet and interface from IMDSv2" },
	{ "region", STRATA_CFG_STRING, 0, "", 0, 0,
	  "\"\": IMDS, else $AWS_REGION or $AWS_DEFAULT_REGION" },
	{ "vpc_id", STRATA_CFG_STRING, 0, "", 0, 0, "\"\": from IMDS" },
	{ "instance_id", STRATA_CFG_STRING, 0, "", 0, 0, "\"\": from IMDS" },
	{ "interface_id", STRATA_CFG_STRING, 0, "", 0, 0,
	  "the interface cloud routes to this node target; \"\": IMDS" },
	{ "subnet_id", STRATA_CFG_STRING, 0, "", 0, 0, "\"\": from IMDS" },
	{ "zone", STRATA_CFG_STRING, 0, "", 0, 0, "\"\": from IMDS" },
	{ "role", STRATA_CFG_STRING, 0, "", 0, 0,
	  "the instance role for credentials; \"\": the attached one" },
	{ "route_tables", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "route tables to manage; empty: those of the nodes' subnets" },
	{ "ignore_route_tables", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "route tables never to touch" },
	{ "cluster_cidrs", STRATA_CFG_STRINGS, 0, NULL, 0, 0,
	  "the only routes ever touched lie inside these; empty: the IPAM's "
	  "pools" },
	{ "route_budget", STRATA_CFG_INT, 0, "50", 1, 1000,
	  "IPv4 routes a table may hold (EC2's quota: 50 unless raised)" },
	{ "route_budget_ipv6", STRATA_CFG_INT, 0, "50", 1, 1000,
	  "IPv6 routes a table may hold" },
	{ "disable_source_dest_check", STRATA_CFG_BOOL, 0, "true", 0, 0,
	  "turn off this node's interface's source/destination check" },
	{ "rediscover", STRATA_CFG_DURATION, 0, "5m", 1000000000LL,
	  86400000000000LL,
	  "look for the subnets' route tables again this often" },
	{ "call_timeout", STRATA_CFG_DURATION, 0, "10s", 100000000LL,
	  120000000000LL, "one EC2 request" },
	{ "attempts", STRATA_CFG_INT, 0, "5", 1, 20,
	  "tries per EC2 call (throttling, 5xx, timeouts)" },
	{ "backoff_max", STRATA_CFG_DURATION, 0, "20s", 1000000LL,
	  300000000000LL, "the longest wait between tries" },
	{ "mutations_burst", STRATA_CFG_INT, 0, "40", 1, 50,
	  "mutating calls at once (EC2's bucket: 50)" },
	{ "mutations_per_second", STRATA_CFG_INT, 0, "4", 1, 5,
	  "mutating calls per second after the burst (EC2 refills 5/s)" },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static void pass_start(struct vpc *v);
static void pass_end(struct vpc *v, int err);

static void vlogf(struct vpc *v, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void vlogf(struct vpc *v, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	v->h->vlog(v->inst, level, fmt, ap);
	va_end(ap);
}

/* The pass's error: kept for status, logged when it changes. */
static void set_error(struct vpc *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct vpc *v, const char *fmt, ...)
{
	char buf[sizeof(v->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, v->error))
		vlogf(v, STRATA_LOG_ERR, "%s", buf);
	memcpy(v->error, buf, sizeof(buf));
}

static char *fmt_prefix(const struct strata_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == STRATA_AF_INET6 ? AF_INET6 : AF_INET, p->addr,
		  a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
	return buf;
}

static char *fmt_addr(const struct strata_addr *p, char *buf, size_t len)
{
	inet_ntop(p->family == STRATA_AF_INET6 ? AF_INET6 : AF_INET, p->addr,
		  buf, (socklen_t)len);
	return buf;
}

static bool addr_eq(const struct strata_addr *a, const struct strata_addr *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == STRATA_AF_INET6 ? 16 : 4);
}

static bool id_ok(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) || !s[n] || strlen(s) >= EC2_ID_MAX)
		return false;
	for (s += n; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* -- config ----------------------------------------------------------------- */

static int cfg_str(struct vpc *v, const char *key, char *out, size_t len,
		   const char *id_prefix)
{
	const char *s = v->h->cfg_string(v->inst, key);

	if (!s)
		s = "";
	if (strlen(s) >= len) {
		vlogf(v, STRATA_LOG_ERR, "%s: too long", key);
		return -EINVAL;
	}
	if (*s && id_prefix && !id_ok(s, id_prefix)) {
		vlogf(v, STRATA_LOG_ERR, "%s: \"%s\" is not a %s… id", key, s,
		      id_prefix);
		return -EINVAL;
	}
	snprintf(out, len, "%s", s);
	return 0;
}

static int cfg_list(struct vpc *v, const char *key, char ***out, size_t *n)
{
	int count = v->h->cfg_strings_count(v->inst, key);

	*out = NULL;
	*n = 0;
	if (count <= 0)
		return 0;
	*out = calloc((size_t)count, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < count; i++) {
		const char *s = v->h->cfg_strings_at(v->inst, key, (uint32_t)i);

		if (!s || !id_ok(s, "rtb-")) {
			vlogf(v, STRATA_LOG_ERR, "%s[%d]: \"%s\" is not a rtb-… id",
			      key, i, s ? s : "");
			return -EINVAL;
		}
		(*out)[i] = strdup(s);
		if (!(*out)[i])
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int parse_prefix(const char *s, struct strata_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;
	int af;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	memset(p, 0, sizeof(*p));
	af = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, buf, p->addr) != 1)
		return -EINVAL;
	len = strtoul(slash + 1, &end, 10);
	if (*end || end == slash + 1 || len > (af == AF_INET6 ? 128u : 32u))
		return -EINVAL;
	p->family = af == AF_INET6 ? STRATA_AF_INET6 : STRATA_AF_INET;
	p->len = (uint8_t)len;
	for (unsigned b = p->len; b < (af == AF_INET6 ? 128u : 32u); b++)
		if (p->addr[b / 8] & (0x80 >> (b % 8)))
			return -EINVAL;
	return 0;
}

static int read_config(struct vpc *v)
{
	int64_t i64;
	int b, rc, n;
	const char *s;

	if ((rc = cfg_str(v, "ec2_endpoint", v->endpoint, sizeof(v->endpoint),
			  NULL)) ||
	    (rc = cfg_str(v, "region", v->region, sizeof(v->region), NULL)) ||
	    (rc = cfg_str(v, "vpc_id", v->cfg_vpc, EC2_ID_MAX, "vpc-")) ||
	    (rc = cfg_str(v, "instance_id", v->cfg_id.instance, EC2_ID_MAX,
			  "i-")) ||
	    (rc = cfg_str(v, "interface_id", v->cfg_id.interface, EC2_ID_MAX,
			  "eni-")) ||
	    (rc = cfg_str(v, "subnet_id", v->cfg_id.subnet, EC2_ID_MAX,
			  "subnet-")) ||
	    (rc = cfg_str(v, "zone", v->cfg_id.zone, EC2_AZ_MAX, NULL)))
		return rc;
	if (!v->endpoint[0]) {
		s = getenv("AWS_ENDPOINT_URL_EC2");
		if (!s || !*s)
			s = getenv("AWS_ENDPOINT_URL");
		if (s && strlen(s) < sizeof(v->endpoint))
			snprintf(v->endpoint, sizeof(v->endpoint), "%s", s);
	}
	if (!v->region[0]) {
		s = getenv("AWS_REGION");
		if (!s || !*s)
			s = getenv("AWS_DEFAULT_REGION");
		if (s && strlen(s) < sizeof(v->region))
			snprintf(v->region, sizeof(v->region), "%s", s);
	}
	v->h->cfg_bool(v->inst, "imds", &b);
	v->use_imds = b;
	v->h->cfg_bool(v->inst, "disable_source_dest_check", &b);
	v->sdc_off = b;
	if ((rc = cfg_list(v, "route_tables", &v->tables_cfg,
			   &v->n_tables_cfg)) ||
	    (rc = cfg_list(v, "ignore_route_tables", &v->ignore, &v->n_ignore)))
		return rc;
	n = v->h->cfg_strings_count(v->inst, "cluster_cidrs");
	if (n > 0) {
		v->cidrs_cfg = calloc((size_t)n, sizeof(*v->cidrs_cfg));
		if (!v->cidrs_cfg)
			return -ENOMEM;
		for (int i = 0; i < n; i++) {
			s = v->h->cfg_strings_at(v->inst, "cluster_cidrs",
						 (uint32_t)i);
			if (!s || parse_prefix(s, &v->cidrs_cfg[i])) {
				vlogf(v, STRATA_LOG_ERR,
				      "cluster_cidrs[%d]: \"%s\" is not a prefix",
				      i, s ? s : "");
				return -EINVAL;
			}
		}
		v->n_cidrs_cfg = (size_t)n;
	}
	v->h->cfg_int(v->inst, "route_budget", &i64);
	v->budget4 = (uint32_t)i64;
	v->h->cfg_int(v->inst, "route_budget_ipv6", &i64);
	v->budget6 = (uint32_t)i64;
	v->h->cfg_duration(v->inst, "rediscover", &v->rediscover_ns);
	v->h->cfg_duration(v->inst, "call_timeout", &v->ecfg.timeout_ns);
	v->h->cfg_int(v->inst, "attempts", &i64);
	v->ecfg.attempts = (uint32_t)i64;
	v->h->cfg_duration(v->inst, "backoff_max", &v->ecfg.backoff_max_ns);
	v->h->cfg_int(v->inst, "mutations_burst", &i64);
	v->ecfg.mutate_burst = (uint32_t)i64;
	v->h->cfg_int(v->inst, "mutations_per_second", &i64);
	v->ecfg.mutate_rate = (uint32_t)i64;
	if (!v->use_imds && (!v->cfg_id.interface[0] || !v->cfg_id.subnet[0] ||
			     !v->region[0])) {
		vlogf(v, STRATA_LOG_ERR,
		      "without imds, interface_id, subnet_id and region must be set");
		return -EINVAL;
	}
	return 0;
}

/* -- the fence ---------------------------------------------------------------- */

static int64_t fence(void *arg)
{
	struct vpc *v = arg;

	return v->h->route_writer_remaining(v->inst);
}

/* -- identity: IMDS or config, then facts, record, EC2 client ------------------ */

static void sdc_check(void *arg);

static void fact(struct vpc *v, const char *name, const char *value)
{
	if (value && *value && !v->h->fact_get(v->inst, name))
		v->h->fact_set(v->inst, name, value);
}

static void published(void *arg, int err, int64_t rev, int64_t n)
{
	struct vpc *v = arg;

	(void)rev;
	(void)n;
	v->publishing = false;
	if (err) {
		vlogf(v, STRATA_LOG_ERR,
		      "writing this node's record to the store: %s (tried again at the next reconcile)",
		      strerror(-err));
		return;
	}
	v->published = true;
	v->h->route_resync(v->inst);
}

static void publish(struct vpc *v)
{
	const char *name = v->h->fact_get(v->inst, "name");
	char key[sizeof(NODEREC_PREFIX) + 256];
	char *json = NULL;
	size_t len;
	int rc;

	if (!name || strlen(name) > 253)
		return;
	snprintf(key, sizeof(key), NODEREC_PREFIX "%s", name);
	rc = noderec_encode(&v->self, &json, &len);
	if (!rc)
		rc = v->h->store_put(v->inst, key, json, len, 0, published, v);
	free(json);
	v->publishing = !rc;
	if (rc)
		vlogf(v, STRATA_LOG_ERR,
		      "writing this node's record to the store: %s",
		      strerror(-rc));
}

static void self_addr(struct vpc *v, const struct strata_addr *a)
{
	for (uint32_t i = 0; i < v->self.n_addrs; i++)
		if (addr_eq(&v->self.addrs[i], a))
			return;
	if (a->family && v->self.n_addrs < NODEREC_MAX_ADDRS)
		v->self.addrs[v->self.n_addrs++] = *a;
}

/* The configured value, else the discovered one. */
static bool pick(struct vpc *v, char *dst, size_t len, const char *cfgv,
		 const char *idv)
{
	const char *s = cfgv[0] ? cfgv : idv;

	if (strlen(s) >= len) {
		set_error(v, "instance metadata: \"%.64s\" is too long", s);
		return false;
	}
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

/* The identity is known: facts, the node record, the EC2 client. */
static void identified(struct vpc *v, const struct imds_identity *id)
{
	char err[256];
	const char *s;
	int rc;

	if (!pick(v, v->self.instance, sizeof(v->self.instance),
		  v->cfg_id.instance, id ? id->instance_id : "") ||
	    !pick(v, v->self.interface, sizeof(v->self.interface),
		  v->cfg_id.interface, id ? id->interface_id : "") ||
	    !pick(v, v->self.subnet, sizeof(v->self.subnet), v->cfg_id.subnet,
		  id ? id->subnet_id : "") ||
	    !pick(v, v->self.zone, sizeof(v->self.zone), v->cfg_id.zone,
		  id ? id->zone : "") ||
	    !pick(v, v->vpc_id, sizeof(v->vpc_id), v->cfg_vpc,
		  id ? id->vpc_id : ""))
		return;
	if (!v->region[0] && id)
		snprintf(v->region, sizeof(v->region), "%s", id->region);
	v->self.n_addrs = 0;
	s = v->h->fact_get(v->inst, "address");
	if (s) {
		struct strata_addr a = { 0 };

		if (inet_pton(AF_INET, s, a.addr) == 1)
			a.family = STRATA_AF_INET;
		else if (inet_pton(AF_INET6, s, a.addr) == 1)
			a.family = STRATA_AF_INET6;
		self_addr(v, &a);
	}
	for (uint32_t i = 0; id && i < id->n_local_ipv4s; i++)
		self_addr(v, &id->local_ipv4s[i]);
	fact(v, "zone", v->self.zone);
	fact(v, "subnet", v->self.subnet);
	fact(v, "instance-id", v->self.instance);
	fact(v, "interface-id", v->self.interface);
	fact(v, "vpc-id", v->vpc_id);
	fact(v, "region", v->region);
	if (!v->h->fact_get(v->inst, "address") && v->self.n_addrs) {
		char a[INET6_ADDRSTRLEN];

		fact(v, "address", fmt_addr(&v->self.addrs[0], a, sizeof(a)));
	}
	v->have_id = true;
	vlogf(v, STRATA_LOG_INFO, "instance %s, interface %s in %s (%s), %s",
	      v->self.instance[0] ? v->self.instance : "-", v->self.interface,
	      v->self.subnet, v->self.zone[0] ? v->self.zone : "-",
	      v->vpc_id[0] ? v->vpc_id : "VPC not known");
	if (!v->self.n_addrs)
		vlogf(v, STRATA_LOG_WARNING,
		      "no address known for this node: no cloud route can target it");
	else
		publish(v);
	if (!v->endpoint[0])
		snprintf(v->endpoint, sizeof(v->endpoint),
			 "https://ec2.%s.amazonaws.com", v->region);
	v->ecfg.endpoint = v->endpoint;
	v->ecfg.region = v->region;
	v->ecfg.fence = fence;
	v->ecfg.fence_arg = v;
	rc = ec2_new(v->h, v->inst, &v->ecfg, v->creds, &v->ec2, err,
		     sizeof(err));
	if (rc) {
		set_error(v, "the EC2 client: %s", err);
		return;
	}
	if (v->sdc_off)
		sdc_check(v);
	else
		v->sdc_state = "left as it is";
	v->h->route_resync(v->inst);
}

static int discover_start(struct vpc *v);

static void discover_retry(void *arg)
{
	struct vpc *v = arg;

	v->discover_timer = NULL;
	if (discover_start(v))
		set_error(v, "cannot ask IMDS again");
}

static void discovered(void *arg, int err, const struct imds_identity *id,
		       const char *why)
{
	struct vpc *v = arg;

	v->discover = NULL;
	if (err) {
		set_error(v, "instance metadata (%s): %s", imds_endpoint(v->imds),
			  why ? why : strerror(-err));
		v->discover_retry = v->discover_retry ? v->discover_retry * 2
						      : RETRY_MIN_NS;
		if (v->discover_retry > RETRY_MAX_NS)
			v->discover_retry = RETRY_MAX_NS;
		v->discover_timer = v->h->timer_start(v->inst, v->discover_retry,
						      0, discover_retry, v);
		return;
	}
	v->error[0] = '\0';
	identified(v, id);
}

static int discover_start(struct vpc *v)
{
	return imds_discover(v->imds, discovered, v, &v->discover);
}

/* -- the source/destination check ------------------------------------------------ */

static void sdc_again(struct vpc *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sdc_again(struct vpc *v, const char *fmt, ...)
{
	char buf[sizeof(v->sdc_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, v->sdc_error))
		vlogf(v, STRATA_LOG_ERR,
		      "source/destination check of %s: %s (pod traffic through this node is dropped until it is off)",
		      v->self.interface, buf);
	memcpy(v->sdc_error, buf, sizeof(buf));
	v->sdc_state = "error";
	v->sdc_retry = v->sdc_retry ? v->sdc_retry * 2 : 5 * RETRY_MIN_NS;
	if (v->sdc_retry > 5 * RETRY_MAX_NS)
		v->sdc_retry = 5 * RETRY_MAX_NS;
	v->sdc_timer = v->h->timer_start(v->inst, v->sdc_retry, 0, sdc_check,
					 v);
}

static void sdc_modified(void *arg, const struct ec2_reply *r)
{
	struct vpc *v = arg;
	struct ec2_return ret;
	char err[256];

	if (r->err) {
		sdc_again(v, "%s", r->why);
		return;
	}
	if (ec2xml_return(r->body, r->len, "ModifyNetworkInterfaceAttribute",
			  &ret, NULL, err, sizeof(err))) {
		sdc_again(v, "%s", err);
		return;
	}
	v->sdc_state = "off";
	v->sdc_error[0] = '\0';
	v->sdc_retry = 0;
	vlogf(v, STRATA_LOG_INFO, "source/destination check of %s turned off",
	      v->self.interface);
}

static void sdc_described(void *arg, const struct ec2_reply *r)
{
	static const struct sigv4_param off = { "SourceDestCheck.Value",
						"false" };
	struct vpc *v = arg;
	struct ec2_interfaces ifs;
	struct sigv4_param p[2];
	char err[256];
	int rc;

	if (r->err) {
		sdc_again(v, "%s", r->why);
		return;
	}
	rc = ec2xml_interfaces(r->body, r->len, &ifs, NULL, err, sizeof(err));
	if (rc) {
		sdc_again(v, "DescribeNetworkInterfaces: %s", err);
		return;
	}
	if (ifs.n_interfaces != 1 ||
	    strcmp(ifs.interfaces[0].id, v->self.interface)) {
		sdc_again(v, "DescribeNetworkInterfaces did not return %s",
			  v->self.interface);
		ec2xml_interfaces_free(&ifs);
		return;
	}
	rc = ifs.interfaces[0].source_dest_check;
	ec2xml_interfaces_free(&ifs);
	if (rc == 0) {
		v->sdc_state = "off";
		v->sdc_error[0] = '\0';
		return;
	}
	p[0] = (struct sigv4_param){ "NetworkInterfaceId", v->self.interface };
	p[1] = off;
	v->sdc_state = "turning off";
	rc = ec2_call(v->ec2, "ModifyNetworkInterfaceAttribute", p, 2,
		      EC2_MUTATING, sdc_modified, v, NULL);
	if (rc)
		sdc_again(v, "%s", strerror(-rc));
}

static void sdc_check(void *arg)
{
	struct vpc *v = arg;
	struct sigv4_param p = { "NetworkInterfaceId.1", v->self.interface };
	int rc;

	v->sdc_timer = NULL;
	v->sdc_state = "checking";
	rc = ec2_call(v->ec2, "DescribeNetworkInterfaces", &p, 1, 0,
		      sdc_described, v, NULL);
	if (rc)
		sdc_again(v, "%s", strerror(-rc));
}

/* -- a pass: node records --------------------------------------------------------- */

static void got_free(struct vpc *v)
{
	for (size_t i = 0; i < v->n_got; i++) {
		free(v->got[i].assocs);
		free(v->got[i].routes);
	}
	free(v->got);
	v->got = NULL;
	v->n_got = 0;
}

static bool subnet_known(const struct vpc *v, const char *s)
{
	for (size_t i = 0; i < v->n_subnets; i++)
		if (!strcmp(v->subnets[i], s))
			return true;
	return false;
}

static void describe(struct vpc *v);
static void discover_tables(struct vpc *v);

static void nodes_read(void *arg, int err, int64_t rev,
		       const struct strata_kv *kvs, size_t n)
{
	struct vpc *v = arg;
	char (*subnets)[EC2_ID_MAX];
	size_t n_sub = 0, bad = 0, k;
	char why[256] = "";
	bool changed;

	(void)rev;
	if (err) {
		set_error(v, "reading the node records: %s", strerror(-err));
		pass_end(v, err);
		return;
	}
	free(v->nodes);
	v->nodes = calloc(n ? n : 1, sizeof(*v->nodes));
	subnets = calloc(n ? n : 1, sizeof(*subnets));
	v->n_nodes = 0;
	if (!v->nodes || !subnets) {
		free(subnets);
		set_error(v, "out of memory reading %zu node records", n);
		pass_end(v, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct noderec *r = &v->nodes[v->n_nodes];
		char e[200];

		if (noderec_decode(kvs[i].value, kvs[i].value_len, r, e,
				   sizeof(e))) {
			if (!bad++)
				snprintf(why, sizeof(why), "%s: %s",
					 kvs[i].key, e);
			continue;
		}
		v->n_nodes++;
		for (k = 0; k < n_sub && strcmp(subnets[k], r->subnet); k++)
			;
		if (k == n_sub)
			memcpy(subnets[n_sub++], r->subnet, EC2_ID_MAX);
	}
	if (bad)
		vlogf(v, STRATA_LOG_WARNING,
		      "%zu node record(s) ignored, first %s", bad, why);
	changed = n_sub != v->n_subnets;
	for (size_t i = 0; !changed && i < n_sub; i++)
		changed = !subnet_known(v, subnets[i]);
	free(v->subnets);
	v->subnets = subnets;
	v->n_subnets = n_sub;
	if (changed)
		v->tables_at = 0;
	if (v->n_tables_cfg || (v->tables_at && v->h->now() - v->tables_at <
							v->rediscover_ns))
		describe(v);
	else
		discover_tables(v);
}

/* -- a pass: DescribeRouteTables, page by page ----------------------------------- */

static void described(void *arg, const struct ec2_reply *r);

/* One page: filter f1 with its values (strided strings), and f2 = val2. */
static void describe_page(struct vpc *v, const char *f1, const char *vals,
			  size_t stride, size_t n_vals, const char *f2,
			  const char *val2)
{
	struct sigv4_param *p;
	char (*names)[32];
	size_t n = 0, i;
	int rc;

	p = calloc(n_vals + 6, sizeof(*p));
	names = calloc(n_vals + 6, sizeof(*names));
	if (!p || !names) {
		free(p);
		free(names);
		set_error(v, "out of memory describing route tables");
		pass_end(v, -ENOMEM);
		return;
	}
	p[n++] = (struct sigv4_param){ "Filter.1.Name", f1 };
	for (i = 0; i < n_vals; i++) {
		snprintf(names[i], sizeof(names[i]), "Filter.1.Value.%u",
			 (unsigned)(i + 1));
		p[n++] = (struct sigv4_param){ names[i], vals + i * stride };
	}
	if (f2) {
		p[n++] = (struct sigv4_param){ "Filter.2.Name", f2 };
		p[n++] = (struct sigv4_param){ "Filter.2.Value.1", val2 };
	}
	if (v->token)
		p[n++] = (struct sigv4_param){ "NextToken", v->token };
	v->last_describes++;
	rc = ec2_call(v->ec2, "DescribeRouteTables", p, n, 0, described, v,
		      &v->call);
	free(p);
	free(names);
	if (rc) {
		set_error(v, "DescribeRouteTables: %s", strerror(-rc));
		pass_end(v, rc);
	}
}

static void next_page(struct vpc *v)
{
	switch (v->phase) {
	case P_DISCOVER:
		describe_page(v, "association.subnet-id", v->subnets[0],
			      EC2_ID_MAX, v->n_subnets,
			      v->vpc_id[0] ? "vpc-id" : NULL, v->vpc_id);
		break;
	case P_MAIN:
		describe_page(v, "association.main", "true", 0, 1, "vpc-id",
			      v->vpc_id);
		break;
	default:
		describe_page(v, "route-table-id", v->tables[0], EC2_ID_MAX,
			      v->n_tables, NULL, NULL);
		break;
	}
}

static void discover_tables(struct vpc *v)
{
	if (!v->n_subnets) {
		set_error(v, "no node has published its subnet yet (%s*)",
			  NODEREC_PREFIX);
		pass_end(v, -EAGAIN);
		return;
	}
	if (v->n_subnets > MAX_FILTER_VALUES) {
		set_error(v, "%zu subnets: more than one filter takes (%d)",
			  v->n_subnets, MAX_FILTER_VALUES);
		pass_end(v, -E2BIG);
		return;
	}
	v->phase = P_DISCOVER;
	next_page(v);
}

static void describe(struct vpc *v)
{
	size_t i;

	if (v->n_tables_cfg) {
		free(v->tables);
		v->tables = calloc(v->n_tables_cfg, sizeof(*v->tables));
		if (!v->tables) {
			pass_end(v, -ENOMEM);
			return;
		}
		for (i = 0; i < v->n_tables_cfg; i++)
			snprintf(v->tables[i], EC2_ID_MAX, "%s",
				 v->tables_cfg[i]);
		v->n_tables = v->n_tables_cfg;
	}
	if (!v->n_tables) {
		set_error(v, "no route table to manage");
		pass_end(v, -ENOENT);
		return;
	}
	v->phase = P_DESCRIBE;
	next_page(v);
}

static bool ignored(const struct vpc *v, const char *id)
{
	for (size_t i = 0; i < v->n_ignore; i++)
		if (!strcmp(v->ignore[i], id))
			return true;
	return false;
}

/* Keep a described table (moved out of the page). */
static int keep_table(struct vpc *v, struct ec2_route_table *t)
{
	struct ec2_route_table *g;

	for (size_t i = 0; i < v->n_got; i++)
		if (!strcmp(v->got[i].id, t->id))
			return 0; /* main and explicit: described twice */
	if (v->n_got >= MAX_TABLES)
		return -E2BIG;
	g = realloc(v->got, (v->n_got + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	v->got = g;
	v->got[v->n_got++] = *t;
	memset(t, 0, sizeof(*t));
	return 0;
}

static bool assoc_subnet(const struct ec2_route_table *t, const char *subnet)
{
	for (size_t i = 0; i < t->n_assocs; i++)
		if (!strcmp(t->assocs[i].subnet_id, subnet))
			return true;
	return false;
}

static bool assoc_main(const struct ec2_route_table *t)
{
	for (size_t i = 0; i < t->n_assocs; i++)
		if (t->assocs[i].main)
			return true;
	return false;
}

static void plan_and_apply(struct vpc *v);

/* After the last page of discovery: the subnets that no table names use
 * the main table. */
static bool need_main(const struct vpc *v)
{
	for (size_t s = 0; s < v->n_subnets; s++) {
		size_t i;

		for (i = 0; i < v->n_got && !assoc_subnet(&v->got[i],
							   v->subnets[s]);
		     i++)
			;
		if (i == v->n_got)
			return true;
	}
	return false;
}

/* The tables found: their ids for the steady state's describe. */
static int remember_tables(struct vpc *v)
{
	char (*t)[EC2_ID_MAX] = calloc(v->n_got ? v->n_got : 1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_got; i++)
		memcpy(t[i], v->got[i].id, EC2_ID_MAX);
	free(v->tables);
	v->tables = t;
	v->n_tables = v->n_got;
	v->tables_at = v->h->now();
	return 0;
}

/* Described by id: does every subnet still sit where it did? */
static bool tables_moved(const struct vpc *v)
{
	if (v->n_tables_cfg)
		return false;
	if (v->n_got != v->n_tables)
		return true;
	for (size_t s = 0; s < v->n_subnets; s++) {
		bool found = false;

		for (size_t i = 0; i < v->n_got && !found; i++)
			found = assoc_subnet(&v->got[i], v->subnets[s]) ||
				assoc_main(&v->got[i]);
		if (!found)
			return true;
	}
	return false;
}

static void described(void *arg, const struct ec2_reply *r)
{
	struct vpc *v = arg;
	struct ec2_route_tables page;
	char err[256];
	int rc;

	v->call = NULL;
	if (r->err) {
		set_error(v, "%s", r->why);
		pass_end(v, r->err);
		return;
	}
	rc = ec2xml_route_tables(r->body, r->len, &page, NULL, err,
				 sizeof(err));
	if (rc) {
		set_error(v, "DescribeRouteTables: %s", err);
		pass_end(v, rc);
		return;
	}
	for (size_t i = 0; !rc && i < page.n_tables; i++)
		rc = keep_table(v, &page.tables[i]);
	free(v->token);
	v->token = page.next_token;
	page.next_token = NULL;
	ec2xml_route_tables_free(&page);
	if (rc) {
		set_error(v, "DescribeRouteTables: %s", strerror(-rc));
		pass_end(v, rc);
		return;
	}
	if (v->token) {
		if (v->last_describes >= MAX_PAGES) {
			set_error(v, "DescribeRouteTables: more than %d pages",
				  MAX_PAGES);
			pass_end(v, -E2BIG);
			return;
		}
		next_page(v);
		return;
	}
	if (v->phase == P_DISCOVER && need_main(v)) {
		if (!v->vpc_id[0]) {
			set_error(v, "a node's subnet uses the VPC's main route table, and the VPC id is not known (vpc_id)");
			pass_end(v, -ENOENT);
			return;
		}
		v->phase = P_MAIN;
		next_page(v);
		return;
	}
	if (v->phase == P_DISCOVER || v->phase == P_MAIN) {
		if (remember_tables(v)) {
			pass_end(v, -ENOMEM);
			return;
		}
	} else if (tables_moved(v)) {
		/* a subnet's association changed: find the tables again */
		vlogf(v, STRATA_LOG_INFO,
		      "subnet associations changed; looking for the route tables again");
		got_free(v);
		v->tables_at = 0;
		discover_tables(v);
		return;
	}
	plan_and_apply(v);
}

/* -- a pass: the diff and its calls ----------------------------------------------- */

static const struct noderec *node_of(const struct vpc *v,
				     const struct strata_addr *a)
{
	for (size_t i = 0; i < v->n_nodes; i++)
		for (uint32_t k = 0; k < v->nodes[i].n_addrs; k++)
			if (addr_eq(&v->nodes[i].addrs[k], a))
				return &v->nodes[i];
	return NULL;
}

static void apply_next(struct vpc *v);

static int cluster_cidrs(struct vpc *v, struct strata_prefix **out,
			 size_t *n)
{
	struct strata_prefix pools[64];
	int rc;

	if (v->n_cidrs_cfg) {
		*out = calloc(v->n_cidrs_cfg, sizeof(**out));
		if (!*out)
			return -ENOMEM;
		memcpy(*out, v->cidrs_cfg, v->n_cidrs_cfg * sizeof(**out));
		*n = v->n_cidrs_cfg;
		return 0;
	}
	rc = v->h->ipam_pools(v->inst, pools, 64);
	if (rc < 0)
		return rc;
	if (rc > 64)
		rc = 64;
	*out = calloc(rc ? (size_t)rc : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, pools, (size_t)rc * sizeof(**out));
	*n = (size_t)rc;
	return 0;
}

static void plan_and_apply(struct vpc *v)
{
	struct ec2_route_table *managed;
	struct tables_want *want;
	struct strata_prefix *cidrs = NULL;
	size_t n_managed = 0, n_want = 0, n_cidrs = 0, unmapped = 0;
	char first[160] = "";
	int rc;

	rc = cluster_cidrs(v, &cidrs, &n_cidrs);
	if (rc) {
		set_error(v, "the cluster's CIDRs are not known (the IPAM's pools: %s); set cluster_cidrs",
			  strerror(-rc));
		pass_end(v, rc);
		return;
	}
	managed = calloc(v->n_got ? v->n_got : 1, sizeof(*managed));
	want = calloc(v->n_want ? v->n_want : 1, sizeof(*want));
	if (!managed || !want) {
		free(managed);
		free(want);
		free(cidrs);
		pass_end(v, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < v->n_got; i++)
		if (!ignored(v, v->got[i].id))
			managed[n_managed++] = v->got[i];
	for (size_t i = 0; i < v->n_want; i++) {
		const struct noderec *nr = node_of(v, &v->want[i].via);

		if (!nr) {
			if (!unmapped++) {
				char d[64], a[INET6_ADDRSTRLEN];

				snprintf(first, sizeof(first), "%s via %s",
					 fmt_prefix(&v->want[i].dst, d,
						    sizeof(d)),
					 fmt_addr(&v->want[i].via, a,
						  sizeof(a)));
			}
			continue;
		}
		want[n_want].dst = v->want[i].dst;
		memcpy(want[n_want].eni, nr->interface, EC2_ID_MAX);
		n_want++;
	}
	tables_diff_free(&v->diff);
	{
		struct tables_input in = {
			.tables = managed,
			.n_tables = n_managed,
			.want = want,
			.n_want = n_want,
			.cluster = cidrs,
			.n_cluster = n_cidrs,
			.budget4 = v->budget4,
			.budget6 = v->budget6,
			/* an unmapped route's old target stays until known */
			.may_delete = v->may_delete && !unmapped,
		};

		rc = tables_diff(&in, &v->diff);
	}
	free(managed);
	free(want);
	free(cidrs);
	if (rc) {
		set_error(v, "planning the route tables: %s", strerror(-rc));
		pass_end(v, rc);
		return;
	}
	v->installed_ok = v->diff.n_ok;
	v->pass_err = 0;
	if (unmapped) {
		set_error(v, "%zu cloud route(s) wait for their forwarder's node record, first %s",
			  unmapped, first);
		v->pass_err = -EAGAIN;
	}
	if (v->diff.refused[0]) {
		set_error(v, "%s: raise route_budget with EC2's quota (docs/aws.md), or plan fewer routes",
			  v->diff.refused);
		v->pass_err = -ENOSPC;
	}
	v->phase = P_APPLY;
	v->next = 0;
	v->refused_table[0] = '\0';
	apply_next(v);
}

static void applied(void *arg, const struct ec2_reply *r);

static int send_action(struct vpc *v, const struct tables_action *a)
{
	char dst[64];
	struct sigv4_param p[3];
	size_t n = 0;
	const char *action;
	bool v6 = a->dst.family == STRATA_AF_INET6;

	fmt_prefix(&a->dst, dst, sizeof(dst));
	p[n++] = (struct sigv4_param){ "RouteTableId", a->table };
	p[n++] = (struct sigv4_param){ v6 ? "DestinationIpv6CidrBlock"
					  : "DestinationCidrBlock",
				       dst };
	switch (a->op) {
	case TABLES_CREATE:
		action = "CreateRoute";
		p[n++] = (struct sigv4_param){ "NetworkInterfaceId", a->eni };
		break;
	case TABLES_REPLACE:
		action = "ReplaceRoute";
		p[n++] = (struct sigv4_param){ "NetworkInterfaceId", a->eni };
		break;
	default:
		action = "DeleteRoute";
		break;
	}
	return ec2_call(v->ec2, action, p, n, EC2_MUTATING | EC2_FENCED,
			applied, v, &v->call);
}

static void apply_next(struct vpc *v)
{
	int rc;

	while (v->next < v->diff.n_actions) {
		const struct tables_action *a = &v->diff.actions[v->next];

		if (a->op == TABLES_CREATE &&
		    !strcmp(a->table, v->refused_table)) {
			v->next++;
			continue;
		}
		rc = send_action(v, a);
		if (rc) {
			set_error(v, "EC2 call: %s", strerror(-rc));
			pass_end(v, rc);
		}
		return;
	}
	pass_end(v, v->pass_err);
}

static bool code_is(const struct ec2_reply *r, const char *code)
{
	return r->ec2 && !strcmp(r->ec2->code, code);
}

static void applied(void *arg, const struct ec2_reply *r)
{
	struct vpc *v = arg;
	struct tables_action *a = &v->diff.actions[v->next];
	char dst[64];
	int rc;

	v->call = NULL;
	fmt_prefix(&a->dst, dst, sizeof(dst));
	if (!r->err) {
		v->mutations++;
		v->last_mutations++;
		vlogf(v, STRATA_LOG_INFO, "%s %s %s%s%s%s%s",
		      a->op == TABLES_CREATE ? "created"
		      : a->op == TABLES_REPLACE ? "replaced" : "deleted",
		      a->table, dst, a->eni[0] ? " -> " : "", a->eni,
		      a->was[0] ? ", was " : "", a->was);
		v->next++;
		apply_next(v);
		return;
	}
	if (a->op == TABLES_CREATE && code_is(r, "RouteAlreadyExists")) {
		a->op = TABLES_REPLACE; /* made meanwhile: point it right */
	} else if (a->op == TABLES_REPLACE &&
		   (code_is(r, "InvalidRoute.NotFound") ||
		    code_is(r, "InvalidParameterValue"))) {
		a->op = TABLES_CREATE; /* gone meanwhile */
	} else if (a->op == TABLES_DELETE &&
		   code_is(r, "InvalidRoute.NotFound")) {
		v->next++;
		apply_next(v);
		return;
	} else {
		if (code_is(r, "RouteLimitExceeded")) {
			set_error(v, "route table %s is full (RouteLimitExceeded) adding %s; route_budget is %u: EC2's quota is lower than the budget, raise it (docs/aws.md)",
				  a->table, dst,
				  a->dst.family == STRATA_AF_INET6 ? v->budget6
								   : v->budget4);
			memcpy(v->refused_table, a->table, EC2_ID_MAX);
			v->pass_err = -ENOSPC;
			v->next++;
			apply_next(v);
			return;
		}
		set_error(v, "%s", r->why);
		if (r->err == -ETIME || r->err == -EACCES) {
			pass_end(v, r->err); /* no more calls this pass */
			return;
		}
		v->pass_err = r->err;
		v->next++;
		apply_next(v);
		return;
	}
	/* the same route again with the other call, once */
	if (strstr(a->was, "(again)")) {
		set_error(v, "%s", r->why);
		v->pass_err = r->err;
		v->next++;
		apply_next(v);
		return;
	}
	snprintf(a->was, sizeof(a->was), "(again)");
	rc = send_action(v, a);
	if (rc) {
		set_error(v, "EC2 call: %s", strerror(-rc));
		pass_end(v, rc);
	}
}

/* -- the pass itself ----------------------------------------------------------- */

static void retry_fire(void *arg)
{
	struct vpc *v = arg;

	v->retry_timer = NULL;
	pass_start(v);
}

static void pass_end(struct vpc *v, int err)
{
	free(v->token);
	v->token = NULL;
	got_free(v);
	v->phase = P_IDLE;
	v->passes++;
	v->last_pass_ns = v->h->now();
	if (!err) {
		v->state = "in sync";
		v->error[0] = '\0';
		v->retry_ns = 0;
	} else {
		v->state = err == -ETIME ? "lost the lease" : "error";
		v->retry_ns = v->retry_ns ? v->retry_ns * 2 : RETRY_MIN_NS;
		if (v->retry_ns > RETRY_MAX_NS)
			v->retry_ns = RETRY_MAX_NS;
		if (!v->retry_timer && !v->again)
			v->retry_timer = v->h->timer_start(v->inst, v->retry_ns,
							   0, retry_fire, v);
	}
	v->h->metric_set(v->inst, "routes_ok", (int64_t)v->installed_ok);
	/* the name every advertiser reports, next to the core's desired */
	v->h->metric_set(v->inst, "routes_installed", (int64_t)v->installed_ok);
	v->h->metric_set(v->inst, "mutations", v->mutations);
	if (v->again) {
		v->again = false;
		pass_start(v);
	}
}

static void pass_start(struct vpc *v)
{
	int rc;

	if (v->phase != P_IDLE) {
		v->again = true;
		return;
	}
	if (v->retry_timer) {
		v->h->timer_stop(v->inst, v->retry_timer);
		v->retry_timer = NULL;
	}
	if (!v->have_desired)
		return;
	if (!v->ec2) {
		v->state = "waiting for the instance's identity";
		return;
	}
	if (v->h->route_writer_remaining(v->inst) <= 0) {
		v->state = "standby (not the route writer)";
		return;
	}
	v->last_describes = v->last_mutations = 0;
	v->phase = P_NODES;
	rc = v->h->store_get(v->inst, NODEREC_PREFIX, STRATA_STORE_PREFIX,
			     nodes_read, v);
	if (rc) {
		set_error(v, "reading the node records: %s", strerror(-rc));
		pass_end(v, rc);
	}
}

/* -- ops ---------------------------------------------------------------------- */

static void vpc_destroy(void *self);

/* New keys (or expired ones): try what waited for them. */
static void creds_changed(void *arg)
{
	struct vpc *v = arg;

	v->h->route_resync(v->inst);
}

static int vpc_create(const struct strata_host *h, struct strata_instance *inst,
		      void **self)
{
	struct vpc *v = calloc(1, sizeof(*v));
	struct creds_config cc = { 0 };
	struct imds_config ic = { 0 };
	char err[256];
	const char *s;
	int rc;

	if (!v)
		return -ENOMEM;
	v->h = h;
	v->inst = inst;
	v->state = "starting";
	v->sdc_state = "not checked yet";
	*self = v;
	if (h->size < offsetof(struct strata_host, route_writer_remaining) +
			      sizeof(h->route_writer_remaining))
		return -ENOTSUP;
	rc = read_config(v);
	if (rc)
		return rc;
	if (v->use_imds) {
		s = h->cfg_string(inst, "imds_endpoint");
		ic.endpoint = s && *s ? s : NULL;
		rc = imds_new(h, inst, &ic, &v->imds, err, sizeof(err));
		if (rc) {
			vlogf(v, STRATA_LOG_ERR, "imds: %s", err);
			return rc;
		}
	}
	cc.imds = v->imds;
	s = h->cfg_string(inst, "role");
	cc.role = s && *s ? s : NULL;
	return creds_new(h, inst, &cc, creds_changed, v, &v->creds);
}

static int vpc_start(void *self)
{
	struct vpc *v = self;
	char err[256] = "";
	int rc;

	rc = creds_start(v->creds, err, sizeof(err));
	if (rc)
		vlogf(v, STRATA_LOG_ERR,
		      "AWS credentials: %s (route tables stay as they are)",
		      err[0] ? err : strerror(-rc));
	if (v->use_imds && (!v->cfg_id.interface[0] || !v->cfg_id.subnet[0] ||
			    !v->region[0] || !v->cfg_id.zone[0] ||
			    !v->cfg_vpc[0]))
		return discover_start(v);
	identified(v, NULL);
	return 0;
}

static int vpc_stop(void *self)
{
	(void)self;
	return 0; /* routes stay: shutdown is not withdrawal */
}

static void vpc_destroy(void *self)
{
	struct vpc *v = self;

	if (!v)
		return;
	ec2_free(v->ec2);
	creds_free(v->creds);
	imds_free(v->imds);
	tables_diff_free(&v->diff);
	got_free(v);
	free(v->token);
	free(v->nodes);
	free(v->subnets);
	free(v->tables);
	free(v->want);
	free(v->cidrs_cfg);
	for (size_t i = 0; i < v->n_tables_cfg; i++)
		free(v->tables_cfg[i]);
	for (size_t i = 0; i < v->n_ignore; i++)
		free(v->ignore[i]);
	free(v->tables_cfg);
	free(v->ignore);
	free(v);
}

static void vpc_status(void *self, struct strata_status *st)
{
	struct vpc *v = self;
	struct ec2_action_stats as[24];
	size_t n = v->ec2 ? ec2_stats(v->ec2, as, 24) : 0;
	char key[96];

	v->h->status_str(st, "state", v->state);
	v->h->status_str(st, "error", v->error[0] ? v->error : "");
	v->h->status_int(st, "route_writer",
			 v->h->route_writer_remaining(v->inst) > 0);
	v->h->status_str(st, "interface", v->self.interface);
	v->h->status_str(st, "subnet", v->self.subnet);
	v->h->status_str(st, "vpc", v->vpc_id);
	v->h->status_str(st, "region", v->region);
	v->h->status_str(st, "endpoint", v->endpoint);
	v->h->status_str(st, "credentials",
			 creds_source_name(creds_source(v->creds)));
	v->h->status_str(st, "source_dest_check", v->sdc_state);
	v->h->status_int(st, "tables", (int64_t)v->n_tables);
	v->h->status_int(st, "routes_wanted", (int64_t)v->n_want);
	v->h->status_int(st, "routes_ok", (int64_t)v->installed_ok);
	v->h->status_int(st, "passes", v->passes);
	v->h->status_int(st, "mutations", v->mutations);
	v->h->status_int(st, "last_pass_describes", v->last_describes);
	v->h->status_int(st, "last_pass_mutations", v->last_mutations);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "calls_%s", as[i].action);
		v->h->status_int(st, key, (int64_t)as[i].calls);
		if (as[i].throttled) {
			snprintf(key, sizeof(key), "throttled_%s",
				 as[i].action);
			v->h->status_int(st, key, (int64_t)as[i].throttled);
		}
		if (as[i].failed) {
			snprintf(key, sizeof(key), "failed_%s", as[i].action);
			v->h->status_int(st, key, (int64_t)as[i].failed);
		}
	}
}

static uint32_t vpc_scopes(void *self)
{
	(void)self;
	return STRATA_SCOPE_CLOUD;
}

static int vpc_reconcile(void *self, const struct strata_route *const *desired,
			 size_t n, uint32_t flags)
{
	struct vpc *v = self;
	struct want *w = calloc(n ? n : 1, sizeof(*w));
	size_t k = 0;

	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct strata_route *r = desired[i];

		/* a cloud route has one target: its first gateway */
		if (r->scope != STRATA_SCOPE_CLOUD || !r->n_nexthops ||
		    !r->nh[0].gw.family)
			continue;
		w[k].dst = r->dst;
		w[k].via = r->nh[0].gw;
		k++;
	}
	free(v->want);
	v->want = w;
	v->n_want = k;
	v->may_delete = flags & STRATA_RECONCILE_MAY_DELETE;
	v->have_desired = true;
	if (v->have_id && v->self.n_addrs && !v->published && !v->publishing)
		publish(v);
	pass_start(v);
	return 0;
}

static const struct strata_plugin_ops vpc_ops = {
	.size = sizeof(vpc_ops),
	.create = vpc_create,
	.start = vpc_start,
	.stop = vpc_stop,
	.destroy = vpc_destroy,
	.status = vpc_status,
};

static const struct strata_advertiser_ops vpc_adv_ops = {
	.size = sizeof(vpc_adv_ops),
	.scopes = vpc_scopes,
	.reconcile = vpc_reconcile,
};

STRATA_PLUGIN(STRATA_KIND_ADVERTISER, "aws-vpc", STRATA_VERSION,
	      "cloud routes in AWS VPC route tables, targeting interfaces",
	      vpc_config, &vpc_ops, &vpc_adv_ops);
