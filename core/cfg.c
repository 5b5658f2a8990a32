/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stratad's configuration: libconfig reads the syntax, this file checks
 * the meaning. Every error is one line, "FILE:LINE: what", so that
 * `stratad -t` points at the place to fix.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "cfg.h"
#include "nl.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

#define CFG_FILE_MAX (1 << 20)
#define INSTANCE_MAX 32
#define NODE_NAME_MAX 253
#define FACT_NAME_MAX 64
#define FACT_VALUE_MAX 1024
#define QUOTE_MAX 64
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* Schema defaults split for the getters, kept until cfg_free. */
struct cfg_default {
	struct cfg_default *next;
	char *name;
	char *def;   /* the text it was made from */
	char *buf;   /* def, cut at the commas */
	char **items;
	uint32_t n;
};

struct cfg_defaults {
	struct cfg_default *head;
};

struct ctx {
	const char *name;        /* FILE for settings read from the main text */
	const char *include_dir; /* NULL: includes are refused */
	char *err;
	size_t errlen;
};

struct qbuf {
	char s[QUOTE_MAX * 4 + 8];
};

static const char *const top_keys[] = { "log",	      "control", "routes",
					"store",      "node",	 "plugin_dir",
					"plugins",    "health",  "metrics",
					"kubernetes", NULL };
static const char *const store_keys[] = { "url",      "history",
					  "prefix",   "username",
					  "password_file", "ca",
					  "cert",     "key",
					  NULL };
static const char *const log_keys[] = { "level", "target", NULL };
static const char *const control_keys[] = { "socket", "mode", "group", NULL };
static const char *const routes_keys[] = { "resync_interval", "rtproto",
					   "cloud_budget", "cloud_budget6",
					   "per_host", "spread", "bgp",
					   "bgp_announcers", NULL };
static const char *const health_keys[] = { "checker", "interval", "timeout",
					   "fall", "rise", "jitter", "port",
					   "path", "expect", "observers",
					   "quorum", "failback", "hold_down",
					   "writer_lease", NULL };
static const char *const metrics_keys[] = { "listen", "port", NULL };
static const char *const kube_keys[] = { "kubeconfig", "node_name",
					 "zone_label", "subnet_label", "qps",
					 "burst", "watch_timeout", NULL };
static const char *const plugin_keys[] = { "instance", "file", "config",
					   NULL };

static const struct {
	const char *name;
	int level;
} levels[] = {
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

static const struct {
	const char *suffix;
	int64_t ns;
} units[] = {
	{ "ms", NS_PER_MS },	    { "s", NS_PER_S },
	{ "m", 60 * NS_PER_S },	    { "h", 3600 * NS_PER_S },
	{ "d", 86400 * NS_PER_S }, { "", NS_PER_S },
};

__attribute__((format(printf, 4, 0))) static int
vfailat(const struct ctx *cx, const char *file, unsigned line,
	const char *fmt, va_list ap)
{
	const char *dir = "", *sep = "";
	int n;

	if (!cx->err || !cx->errlen)
		return -EINVAL;
	/* libconfig names an included file as written; it was opened
	 * relative to the include directory. */
	if (file != cx->name && cx->include_dir &&
	    strcmp(cx->include_dir, ".")) {
		dir = cx->include_dir;
		sep = "/";
	}
	n = snprintf(cx->err, cx->errlen, "%s%s%s:%u: ", dir, sep, file, line);
	if (n >= 0 && (size_t)n < cx->errlen)
		vsnprintf(cx->err + n, cx->errlen - (size_t)n, fmt, ap);
	return -EINVAL;
}

__attribute__((format(printf, 4, 5))) static int
failat(const struct ctx *cx, const char *file, unsigned line, const char *fmt,
       ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfailat(cx, file, line, fmt, ap);
	va_end(ap);
	return r;
}

/* Where s was read: cx->name, or an included file. */
static const char *file_of(const struct ctx *cx, const config_setting_t *s)
{
	if (s && config_setting_source_file(s))
		return config_setting_source_file(s);
	return cx->name;
}

/* An error about setting s, at its file and line. */
__attribute__((format(printf, 3, 4))) static int
fail(const struct ctx *cx, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfailat(cx, file_of(cx, s), config_setting_source_line(s), fmt,
		    ap);
	va_end(ap);
	return r;
}

static int oom(const struct ctx *cx)
{
	if (cx->err && cx->errlen)
		snprintf(cx->err, cx->errlen, "%s: out of memory", cx->name);
	return -ENOMEM;
}

/* s in double quotes, escaped and cut short, for messages. */
static const char *quote(struct qbuf *q, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	q->s[o++] = '"';
	for (i = 0; s[i] && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			q->s[o++] = '\\';
			q->s[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			q->s[o++] = '\\';
			q->s[o++] = 'x';
			q->s[o++] = hex[c >> 4];
			q->s[o++] = hex[c & 0xf];
		} else {
			q->s[o++] = (char)c;
		}
	}
	q->s[o++] = '"';
	if (s[i]) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o] = '\0';
	return q->s;
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "nothing";
}

/* A scalar as written, for messages. */
static const char *value_text(struct qbuf *q, const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		return quote(q, config_setting_get_string(s));
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(q->s, sizeof(q->s), "%lld",
			 config_setting_get_int64(s));
		return q->s;
	case CONFIG_TYPE_FLOAT:
		snprintf(q->s, sizeof(q->s), "%g", config_setting_get_float(s));
		return q->s;
	case CONFIG_TYPE_BOOL:
		return config_setting_get_bool(s) ? "true" : "false";
	}
	return type_name(s);
}

static bool in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

static const char *join(char *buf, size_t len, const char *const *list)
{
	size_t o = 0;

	buf[0] = '\0';
	for (; *list && o < len; list++) {
		int n = snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
				 *list);

		if (n < 0)
			break;
		o += (size_t)n;
	}
	return buf;
}

static bool is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static bool is_duration(const config_setting_t *s)
{
	return config_setting_is_number(s) ||
	       config_setting_type(s) == CONFIG_TYPE_STRING;
}

static bool is_string_list(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_ARRAY ||
	       config_setting_type(s) == CONFIG_TYPE_LIST;
}

/* Printable: no control characters (UTF-8 passes). */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int cfg_parse_duration(const char *text, int64_t *out_ns)
{
	const char *p = text;
	int64_t whole = 0, frac = 0, place, unit = 0, ns;
	const char *fdig = NULL;
	bool over = false;
	size_t i;

	if (!text || !out_ns || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++)
		if (__builtin_mul_overflow(whole, 10, &whole) ||
		    __builtin_add_overflow(whole, *p - '0', &whole))
			over = true;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		fdig = p;
		while (isdigit((unsigned char)*p))
			p++;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(p, units[i].suffix)) {
			unit = units[i].ns;
			break;
		}
	}
	if (!unit)
		return -EINVAL;
	if (over || __builtin_mul_overflow(whole, unit, &ns))
		return -ERANGE;
	/* Digit by digit, so "1.5ms" is exactly 1500000 ns; what is finer
	 * than a nanosecond is dropped. */
	for (place = unit / 10; fdig && isdigit((unsigned char)*fdig) && place;
	     fdig++, place /= 10)
		frac += (*fdig - '0') * place;
	if (__builtin_add_overflow(ns, frac, &ns))
		return -ERANGE;
	*out_ns = ns;
	return 0;
}

/* A duration from a libconfig string or number of seconds: 0, -EINVAL
 * (garbage, negative) or -ERANGE (too long). */
static int setting_duration(const config_setting_t *s, int64_t *ns)
{
	long long v;
	double d;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		return cfg_parse_duration(config_setting_get_string(s), ns);
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		if (v < 0)
			return -EINVAL;
		if (__builtin_mul_overflow((int64_t)v, NS_PER_S, ns))
			return -ERANGE;
		return 0;
	case CONFIG_TYPE_FLOAT:
		d = config_setting_get_float(s);
		if (isnan(d) || d < 0)
			return -EINVAL;
		d *= (double)NS_PER_S;
		if (!(d < 0x1p63))
			return -ERANGE;
		*ns = (int64_t)(d + 0.5);
		return 0;
	}
	return -EINVAL;
}

/* The largest unit that states ns exactly: "30s", "250ms", "1.5s". */
static const char *fmt_duration(char *buf, size_t len, int64_t ns)
{
	static const int order[] = { 4, 3, 2, 1, 0 }; /* d, h, m, s, ms */
	size_t i, n;

	if (ns == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (ns % units[order[i]].ns == 0) {
			snprintf(buf, len, "%lld%s",
				 (long long)(ns / units[order[i]].ns),
				 units[order[i]].suffix);
			return buf;
		}
	}
	snprintf(buf, len, "%s%lld.%09lld", ns < 0 ? "-" : "",
		 llabs((long long)(ns / NS_PER_S)),
		 llabs((long long)(ns % NS_PER_S)));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n + 1 < len) {
		buf[n] = 's';
		buf[n + 1] = '\0';
	}
	return buf;
}

static int set_str(char **dst, const char *v)
{
	char *c = strdup(v);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

/*
 * The group `name` under parent, or NULL when absent. Keys outside known
 * (NULL: anything goes) are errors.
 */
static int group_of(const struct ctx *cx, const config_setting_t *parent,
		    const char *name, const char *const *known,
		    const config_setting_t **out)
{
	const config_setting_t *g = config_setting_get_member(parent, name);
	char list[256];
	int i;

	*out = NULL;
	if (!g)
		return 0;
	if (!config_setting_is_group(g))
		return fail(cx, g, "%s: expected a group { ... }, found %s",
			    name, type_name(g));
	for (i = 0; known && i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, i);

		if (!in_list(known, config_setting_name(m)))
			return fail(cx, m,
				    "%s: unknown key \"%s\"; known keys: %s",
				    name, config_setting_name(m),
				    join(list, sizeof(list), known));
	}
	*out = g;
	return 0;
}

/* A string member: *out stays as it is when the key is absent. */
static int string_of(const struct ctx *cx, const config_setting_t *g,
		     const char *path, const char *key, const char **out,
		     const config_setting_t **sout)
{
	const config_setting_t *s = config_setting_get_member(g, key);

	if (sout)
		*sout = s;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(cx, s, "%s.%s: expected a string, found %s", path,
			    key, type_name(s));
	*out = config_setting_get_string(s);
	return 0;
}

static int load_log(struct cfg *cfg, const struct ctx *cx,
		    const config_setting_t *root)
{
	const config_setting_t *g, *s;
	const char *v = NULL;
	struct qbuf q;
	size_t i;
	int r;

	r = group_of(cx, root, "log", log_keys, &g);
	if (r || !g)
		return r;
	r = string_of(cx, g, "log", "level", &v, &s);
	if (r)
		return r;
	if (v) {
		for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
			if (!strcmp(v, levels[i].name))
				break;
		if (i == sizeof(levels) / sizeof(levels[0]))
			return fail(cx, s,
				    "log.level: expected one of error, warning, info, debug, found %s",
				    quote(&q, v));
		cfg->log_level = levels[i].level;
	}
	v = NULL;
	r = string_of(cx, g, "log", "target", &v, &s);
	if (r || !v)
		return r;
	if (strcmp(v, "stderr") && strcmp(v, "syslog"))
		return fail(cx, s,
			    "log.target: expected one of stderr, syslog, found %s",
			    quote(&q, v));
	return set_str(&cfg->log_target, v) ? oom(cx) : 0;
}

static int load_control(struct cfg *cfg, const struct ctx *cx,
			const config_setting_t *root)
{
	const config_setting_t *g, *s;
	const char *v = NULL, *c;
	struct qbuf q;
	int r;

	r = group_of(cx, root, "control", control_keys, &g);
	if (r || !g)
		return r;
	r = string_of(cx, g, "control", "socket", &v, &s);
	if (r)
		return r;
	if (v) {
		if (v[0] != '/')
			return fail(cx, s,
				    "control.socket: expected an absolute path, found %s",
				    quote(&q, v));
		if (strlen(v) > SOCKET_PATH_MAX)
			return fail(cx, s,
				    "control.socket: the path is longer than a unix socket's (%zu bytes)",
				    SOCKET_PATH_MAX);
		if (set_str(&cfg->control_socket, v))
			return oom(cx);
	}

	s = config_setting_get_member(g, "mode");
	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail(cx, s,
				    "control.mode: expected an octal string such as \"0660\", found %s",
				    type_name(s));
		v = config_setting_get_string(s);
		for (c = v; *c >= '0' && *c <= '7'; c++)
			;
		if (!*v || *c || c - v > 4 || strtoul(v, NULL, 8) > 0777)
			return fail(cx, s,
				    "control.mode: expected an octal mode such as \"0660\" (at most 0777), found %s",
				    quote(&q, v));
		cfg->control_mode = (unsigned)strtoul(v, NULL, 8);
	}

	v = NULL;
	r = string_of(cx, g, "control", "group", &v, &s);
	if (r || !v)
		return r;
	for (c = v; *c && isgraph((unsigned char)*c) && *c != ':'; c++)
		;
	if (!*v || *c)
		return fail(cx, s, "control.group: expected a group name, found %s",
			    quote(&q, v));
	return set_str(&cfg->control_group, v) ? oom(cx) : 0;
}

static int duration_error(const struct ctx *cx, const config_setting_t *s,
			  const char *path, int r)
{
	struct qbuf q;

	if (!is_duration(s))
		return fail(cx, s,
			    "%s: expected a duration such as \"30s\", found %s",
			    path, type_name(s));
	if (r == -ERANGE)
		return fail(cx, s, "%s: %s is too long", path,
			    value_text(&q, s));
	return fail(cx, s,
		    "%s: expected a duration such as \"30s\" (a number with ms, s, m, h or d; bare numbers are seconds), found %s",
		    path, value_text(&q, s));
}

/* An optional integer setting of g within [min, max]. */
static int int_of(const struct ctx *cx, const config_setting_t *g,
		  const char *group, const char *name, long long min,
		  long long max, uint32_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;

	if (!s)
		return 0;
	if (!is_integer(s))
		return fail(cx, s, "%s.%s: expected an integer, found %s",
			    group, name, type_name(s));
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(cx, s, "%s.%s: expected %lld..%lld, found %lld",
			    group, name, min, max, v);
	*out = (uint32_t)v;
	return 0;
}

static int int_in(const struct ctx *cx, const config_setting_t *g,
		  const char *name, long long min, long long max,
		  uint32_t *out)
{
	return int_of(cx, g, "routes", name, min, max, out);
}

static int duration_of(const struct ctx *cx, const config_setting_t *g,
		       const char *name, int64_t min_ns, int64_t max_ns,
		       int64_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	char path[64];
	int64_t ns;
	int r;

	if (!s)
		return 0;
	snprintf(path, sizeof(path), "health.%s", name);
	r = is_duration(s) ? setting_duration(s, &ns) : -EINVAL;
	if (r)
		return duration_error(cx, s, path, r);
	if (ns < min_ns || ns > max_ns)
		return fail(cx, s, "%s: expected %lld ms to %lld s",
			    path, (long long)(min_ns / 1000000),
			    (long long)(max_ns / NS_PER_S));
	*out = ns;
	return 0;
}

/* The Prometheus endpoint: off unless a port is set. */
static int load_metrics(struct cfg *cfg, const struct ctx *cx,
			const config_setting_t *root)
{
	const config_setting_t *g, *s;
	const char *v = NULL;
	unsigned char addr[16];
	struct qbuf q;
	int r;

	r = group_of(cx, root, "metrics", metrics_keys, &g);
	if (r || !g)
		return r;
	r = int_of(cx, g, "metrics", "port", 1, 65535, &cfg->metrics_port);
	if (r)
		return r;
	r = string_of(cx, g, "metrics", "listen", &v, &s);
	if (r)
		return r;
	if (!v)
		v = "127.0.0.1";
	else if (inet_pton(AF_INET, v, addr) != 1 &&
		 inet_pton(AF_INET6, v, addr) != 1)
		return fail(cx, s,
			    "metrics.listen: expected an IPv4 or IPv6 address, found %s",
			    quote(&q, v));
	else if (!cfg->metrics_port)
		return fail(cx, s, "metrics.listen: set without metrics.port");
	if (set_str(&cfg->metrics_listen, v))
		return oom(cx);
	return 0;
}

static int load_health(struct cfg *cfg, const struct ctx *cx,
		       const config_setting_t *root)
{
	struct cfg_health *h = &cfg->health;
	const config_setting_t *g, *s;
	const char *v = NULL;
	int r;

	r = group_of(cx, root, "health", health_keys, &g);
	if (r || !g)
		return r;
	r = string_of(cx, g, "health", "checker", &v, &s);
	if (!r && v) {
		h->checker = strdup(v);
		if (!h->checker)
			return -ENOMEM;
	}
	v = NULL;
	if (!r)
		r = string_of(cx, g, "health", "path", &v, &s);
	if (!r && v) {
		if (v[0] != '/')
			return fail(cx, s, "health.path: must start with /");
		h->path = strdup(v);
		if (!h->path)
			return -ENOMEM;
	}
	if (!r)
		r = duration_of(cx, g, "interval", NS_PER_S / 1000,
				3600 * NS_PER_S, &h->interval_ns);
	if (!r)
		r = duration_of(cx, g, "timeout", NS_PER_S / 1000,
				3600 * NS_PER_S, &h->timeout_ns);
	if (!r)
		r = duration_of(cx, g, "hold_down", 0, 86400 * NS_PER_S,
				&h->hold_down_ns);
	if (!r)
		r = duration_of(cx, g, "writer_lease", 2 * NS_PER_S,
				600 * NS_PER_S, &h->writer_lease_ns);
	if (!r)
		r = int_of(cx, g, "health", "fall", 1, 100, &h->fall);
	if (!r)
		r = int_of(cx, g, "health", "rise", 1, 100, &h->rise);
	if (!r)
		r = int_of(cx, g, "health", "port", 1, 65535, &h->port);
	if (!r)
		r = int_of(cx, g, "health", "expect", 100, 599, &h->expect);
	if (!r)
		r = int_of(cx, g, "health", "observers", 1, 16, &h->observers);
	if (!r)
		r = int_of(cx, g, "health", "quorum", 1, 16, &h->quorum);
	if (r)
		return r;
	if (h->timeout_ns > h->interval_ns)
		return fail(cx, config_setting_get_member(g, "timeout"),
			    "health.timeout: longer than health.interval");
	s = config_setting_get_member(g, "jitter");
	if (s) {
		double j;

		if (config_setting_type(s) != CONFIG_TYPE_FLOAT &&
		    !is_integer(s))
			return fail(cx, s,
				    "health.jitter: expected a number, found %s",
				    type_name(s));
		j = config_setting_type(s) == CONFIG_TYPE_FLOAT ?
			    config_setting_get_float(s) :
			    (double)config_setting_get_int64(s);
		if (!(j >= 0 && j <= 0.5))
			return fail(cx, s,
				    "health.jitter: expected 0 to 0.5 (a fraction of the interval)");
		h->jitter = j;
	}
	s = config_setting_get_member(g, "failback");
	if (s) {
		const char *m = config_setting_get_string(s);

		if (!m || (strcmp(m, "stay") && strcmp(m, "return")))
			return fail(cx, s,
				    "health.failback: expected \"stay\" or \"return\"");
		h->failback_return = !strcmp(m, "return");
	}
	return 0;
}

static int load_routes(struct cfg *cfg, const struct ctx *cx,
		       const config_setting_t *root)
{
	const config_setting_t *g, *s;
	long long v;
	int64_t ns;
	int r;

	r = group_of(cx, root, "routes", routes_keys, &g);
	if (r || !g)
		return r;
	s = config_setting_get_member(g, "resync_interval");
	if (s) {
		r = is_duration(s) ? setting_duration(s, &ns) : -EINVAL;
		if (r)
			return duration_error(cx, s, "routes.resync_interval",
					      r);
		if (ns < NS_PER_S)
			return fail(cx, s,
				    "routes.resync_interval: must be at least 1s");
		cfg->resync_ns = ns;
	}
	s = config_setting_get_member(g, "rtproto");
	if (s) {
		if (!is_integer(s))
			return fail(cx, s,
				    "routes.rtproto: expected an integer, found %s",
				    type_name(s));
		v = config_setting_get_int64(s);
		if (v >= 0 && v <= 4)
			return fail(cx, s,
				    "routes.rtproto: %lld is reserved by the kernel (0-4: unspec, redirect, kernel, boot, static); use 5..255",
				    v);
		if (v < 0 || v > 255)
			return fail(cx, s,
				    "routes.rtproto: expected 5..255, found %lld",
				    v);
		cfg->rtproto = (uint32_t)v;
	}
	r = int_in(cx, g, "cloud_budget", 1, 1000, &cfg->cloud_budget[0]);
	if (!r)
		r = int_in(cx, g, "cloud_budget6", 1, 1000,
			   &cfg->cloud_budget[1]);
	if (!r)
		r = int_in(cx, g, "bgp_announcers", 1, 64,
			   &cfg->bgp_announcers);
	if (r)
		return r;
	s = config_setting_get_member(g, "per_host");
	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(cx, s,
				    "routes.per_host: expected true or false, found %s",
				    type_name(s));
		cfg->no_per_host = !config_setting_get_bool(s);
	}
	s = config_setting_get_member(g, "spread");
	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(cx, s,
				    "routes.spread: expected true or false, found %s",
				    type_name(s));
		cfg->no_spread = !config_setting_get_bool(s);
	}
	s = config_setting_get_member(g, "bgp");
	if (s) {
		const char *m = config_setting_get_string(s);

		if (!m || (strcmp(m, "blocks") && strcmp(m, "aggregate")))
			return fail(cx, s,
				    "routes.bgp: expected \"blocks\" or \"aggregate\"");
		cfg->bgp_aggregate = !strcmp(m, "aggregate");
	}
	return 0;
}

static bool fact_name_ok(const char *n)
{
	size_t len = strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-");

	return len > 0 && !n[len] && len <= FACT_NAME_MAX;
}

static int fact_name_error(const struct ctx *cx, const config_setting_t *s)
{
	const char *n = config_setting_name(s);
	char hint[FACT_NAME_MAX + 1];
	size_t i;

	if (strlen(n) > FACT_NAME_MAX)
		return fail(cx, s,
			    "node.%s: fact names are at most %d characters",
			    n, FACT_NAME_MAX);
	for (i = 0; n[i]; i++)
		hint[i] = n[i] == '_' ? '-' : (char)tolower((unsigned char)n[i]);
	hint[i] = '\0';
	if (fact_name_ok(hint))
		return fail(cx, s,
			    "node.%s: fact names are lowercase letters, digits and dashes; write \"%s\"",
			    n, hint);
	return fail(cx, s,
		    "node.%s: fact names are lowercase letters, digits and dashes",
		    n);
}

static int add_fact(struct cfg *cfg, const struct ctx *cx,
		    const config_setting_t *s)
{
	const char *n = config_setting_name(s), *v;
	struct cfg_fact *f = &cfg->facts[cfg->n_facts];

	if (!fact_name_ok(n))
		return fact_name_error(cx, s);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(cx, s, "node.%s: expected a string, found %s", n,
			    type_name(s));
	v = config_setting_get_string(s);
	if (!*v)
		return fail(cx, s, "node.%s: the value is empty", n);
	if (strlen(v) > FACT_VALUE_MAX)
		return fail(cx, s, "node.%s: the value is longer than %d bytes",
			    n, FACT_VALUE_MAX);
	if (!printable(v))
		return fail(cx, s, "node.%s: the value has a control character",
			    n);
	f->name = strdup(n);
	f->value = strdup(v);
	f->line = (int)config_setting_source_line(s);
	cfg->n_facts++;
	if (!f->name || !f->value)
		return oom(cx);
	return 0;
}

static bool host_name_ok(const char *v)
{
	return *v && strlen(v) <= NODE_NAME_MAX &&
	       !v[strspn(v, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")];
}

/* A label key: [prefix/]name of letters, digits, '-', '_', '.'. */
static bool label_ok(const char *v)
{
	return *v && strlen(v) <= 316 &&
	       !v[strspn(v, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/")];
}

static int kube_string(const struct ctx *cx, const config_setting_t *g,
		       const char *key, bool (*ok)(const char *),
		       const char *what, char **dst)
{
	const config_setting_t *s;
	const char *v = NULL;
	struct qbuf q;
	int r;

	r = string_of(cx, g, "kubernetes", key, &v, &s);
	if (r || !v)
		return r;
	if (!ok(v))
		return fail(cx, s, "kubernetes.%s: expected %s, found %s", key,
			    what, quote(&q, v));
	return set_str(dst, v) ? oom(cx) : 0;
}

static bool abs_path_ok(const char *v)
{
	return v[0] == '/';
}

/* Present: stratad reads its Node from the API server. */
static int load_kube(struct cfg *cfg, const struct ctx *cx,
		     const config_setting_t *root)
{
	struct cfg_kube *k = &cfg->kube;
	const config_setting_t *g, *s;
	const char *env;
	uint32_t burst = 10;
	int64_t ns;
	int r;

	r = group_of(cx, root, "kubernetes", kube_keys, &g);
	if (r || !g)
		return r;
	k->enabled = true;
	k->qps = 5;
	k->burst = 10;
	k->watch_timeout_ns = 300 * NS_PER_S;
	r = kube_string(cx, g, "kubeconfig", abs_path_ok, "an absolute path",
			&k->kubeconfig);
	if (!r)
		r = kube_string(cx, g, "node_name", host_name_ok,
				"a node name (letters, digits, '.', '-', '_')",
				&k->node_name);
	if (!r)
		r = kube_string(cx, g, "zone_label", label_ok, "a label key",
				&k->zone_label);
	if (!r)
		r = kube_string(cx, g, "subnet_label", label_ok, "a label key",
				&k->subnet_label);
	if (!r)
		r = int_of(cx, g, "kubernetes", "burst", 1, 1000, &burst);
	if (r)
		return r;
	k->burst = burst;
	if ((!k->zone_label &&
	     set_str(&k->zone_label, "topology.kubernetes.io/zone")) ||
	    (!k->subnet_label && set_str(&k->subnet_label, "strata.io/subnet")))
		return oom(cx);
	s = config_setting_get_member(g, "qps");
	if (s) {
		double v;

		if (config_setting_type(s) != CONFIG_TYPE_FLOAT &&
		    !is_integer(s))
			return fail(cx, s,
				    "kubernetes.qps: expected a number, found %s",
				    type_name(s));
		v = config_setting_type(s) == CONFIG_TYPE_FLOAT ?
			    config_setting_get_float(s) :
			    (double)config_setting_get_int64(s);
		if (!(v >= 0.1 && v <= 1000))
			return fail(cx, s,
				    "kubernetes.qps: expected 0.1 to 1000 requests a second");
		k->qps = v;
	}
	s = config_setting_get_member(g, "watch_timeout");
	if (s) {
		r = is_duration(s) ? setting_duration(s, &ns) : -EINVAL;
		if (r)
			return duration_error(cx, s, "kubernetes.watch_timeout",
					      r);
		if (ns < NS_PER_S || ns > 3600 * NS_PER_S)
			return fail(cx, s,
				    "kubernetes.watch_timeout: expected 1s to 1h");
		k->watch_timeout_ns = ns;
	}
	/* a DaemonSet hands the Node's name down as NODE_NAME */
	env = getenv("NODE_NAME");
	if (!k->node_name && env && host_name_ok(env) &&
	    set_str(&k->node_name, env))
		return oom(cx);
	return 0;
}

static int load_node(struct cfg *cfg, const struct ctx *cx,
		     const config_setting_t *root)
{
	const config_setting_t *g, *s;
	char host[HOST_NAME_MAX + 1];
	struct qbuf q;
	const char *v;
	int i, n, r;

	r = group_of(cx, root, "node", NULL, &g);
	if (r)
		return r;
	n = g ? config_setting_length(g) : 0;
	if (n > 0) {
		cfg->facts = calloc((size_t)n, sizeof(*cfg->facts));
		if (!cfg->facts)
			return oom(cx);
	}
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		if (strcmp(config_setting_name(s), "name")) {
			r = add_fact(cfg, cx, s);
			if (r)
				return r;
			continue;
		}
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail(cx, s, "node.name: expected a string, found %s",
				    type_name(s));
		v = config_setting_get_string(s);
		if (!*v || strlen(v) > NODE_NAME_MAX ||
		    v[strspn(v, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")])
			return fail(cx, s,
				    "node.name: expected a host name (letters, digits, '.', '-', '_'; at most %d), found %s",
				    NODE_NAME_MAX, quote(&q, v));
		if (set_str(&cfg->node_name, v))
			return oom(cx);
	}
	if (!cfg->node_name && cfg->kube.node_name &&
	    set_str(&cfg->node_name, cfg->kube.node_name))
		return oom(cx);
	if (cfg->kube.enabled && !cfg->kube.node_name && cfg->node_name &&
	    set_str(&cfg->kube.node_name, cfg->node_name))
		return oom(cx);
	if (cfg->node_name)
		return 0;
	if (gethostname(host, sizeof(host)) < 0) {
		r = -errno;
		if (cx->err && cx->errlen)
			snprintf(cx->err, cx->errlen,
				 "%s: node.name is not set and the host name is unknown: %s",
				 cx->name, strerror(-r));
		return r;
	}
	host[sizeof(host) - 1] = '\0';
	if (cfg->kube.enabled && set_str(&cfg->kube.node_name, host))
		return oom(cx);
	return set_str(&cfg->node_name, host) ? oom(cx) : 0;
}

static int load_plugin_dir(struct cfg *cfg, const struct ctx *cx,
			   const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root,
							       "plugin_dir");
	struct qbuf q;
	const char *v;

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(cx, s, "plugin_dir: expected a string, found %s",
			    type_name(s));
	v = config_setting_get_string(s);
	if (v[0] != '/')
		return fail(cx, s,
			    "plugin_dir: expected an absolute path, found %s",
			    quote(&q, v));
	return set_str(&cfg->plugin_dir, v) ? oom(cx) : 0;
}

static bool instance_ok(const char *n)
{
	size_t len = strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-");

	return len > 0 && !n[len] && len <= INSTANCE_MAX && n[0] != '-';
}

static int load_plugin(struct cfg *cfg, const struct ctx *cx,
		       const config_setting_t *e, unsigned i)
{
	struct cfg_plugin *p = &cfg->plugins[cfg->n_plugins];
	const config_setting_t *si, *sf, *c;
	const char *inst = NULL, *file = NULL;
	char path[32];
	struct qbuf q;
	size_t j, dl;
	int r;

	snprintf(path, sizeof(path), "plugins[%u]", i);
	if (!config_setting_is_group(e))
		return fail(cx, e,
			    "%s: expected a group { instance = ...; file = ...; }, found %s",
			    path, type_name(e));
	for (j = 0; j < (size_t)config_setting_length(e); j++) {
		const config_setting_t *m = config_setting_get_elem(e,
								     (unsigned)j);
		char list[128];

		if (!in_list(plugin_keys, config_setting_name(m)))
			return fail(cx, m,
				    "%s: unknown key \"%s\"; known keys: %s",
				    path, config_setting_name(m),
				    join(list, sizeof(list), plugin_keys));
	}
	r = string_of(cx, e, path, "instance", &inst, &si);
	if (r)
		return r;
	if (!inst)
		return fail(cx, e, "%s: \"instance\" is required", path);
	if (!instance_ok(inst))
		return fail(cx, si,
			    "%s.instance: %s is not a valid instance name ([a-z0-9][a-z0-9-]*, at most %d characters)",
			    path, quote(&q, inst), INSTANCE_MAX);
	for (j = 0; j < cfg->n_plugins; j++)
		if (!strcmp(cfg->plugins[j].instance, inst))
			return fail(cx, si,
				    "plugins[%zu] and %s both name instance \"%s\"",
				    j, path, inst);
	r = string_of(cx, e, path, "file", &file, &sf);
	if (r)
		return r;
	if (!file)
		return fail(cx, e, "%s: \"file\" is required", path);
	if (!*file)
		return fail(cx, sf, "%s.file: expected a file name, found \"\"",
			    path);
	c = config_setting_get_member(e, "config");
	if (c && !config_setting_is_group(c))
		return fail(cx, c, "%s.config: expected a group { ... }, found %s",
			    path, type_name(c));

	cfg->n_plugins++;
	p->config = c;
	p->line = (int)config_setting_source_line(e);
	p->instance = strdup(inst);
	p->file = strdup(file);
	p->defaults = calloc(1, sizeof(*p->defaults));
	if (file[0] == '/') {
		p->path = strdup(file);
	} else {
		dl = strlen(cfg->plugin_dir);
		p->path = malloc(dl + strlen(file) + 2);
		if (p->path)
			sprintf(p->path, "%s%s%s", cfg->plugin_dir,
				dl && cfg->plugin_dir[dl - 1] == '/' ? "" : "/",
				file);
	}
	if (!p->instance || !p->file || !p->defaults || !p->path)
		return oom(cx);
	return 0;
}

static int load_plugins(struct cfg *cfg, const struct ctx *cx,
			const config_setting_t *root)
{
	const config_setting_t *l = config_setting_get_member(root, "plugins");
	int i, n, r;

	if (!l)
		return 0;
	n = config_setting_length(l);
	if (config_setting_type(l) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(l) == CONFIG_TYPE_ARRAY && n == 0))
		return fail(cx, l,
			    "plugins: expected a list ( { instance = ...; file = ...; }, ... ), found %s",
			    type_name(l));
	if (n == 0)
		return 0;
	cfg->plugins = calloc((size_t)n, sizeof(*cfg->plugins));
	if (!cfg->plugins)
		return oom(cx);
	for (i = 0; i < n; i++) {
		r = load_plugin(cfg, cx, config_setting_get_elem(l, (unsigned)i),
				(unsigned)i);
		if (r)
			return r;
	}
	return 0;
}

static int check_top(const struct ctx *cx, const config_setting_t *root)
{
	char list[128];
	int i;

	for (i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root,
								     (unsigned)i);

		if (!in_list(top_keys, config_setting_name(s)))
			return fail(cx, s,
				    "unknown setting \"%s\"; known settings: %s",
				    config_setting_name(s),
				    join(list, sizeof(list), top_keys));
	}
	return 0;
}

/* "http://HOST:PORT[,https://...]": each endpoint a URL with a host */
static bool etcd_urls_ok(const char *v)
{
	const char *p = v, *q, *h;

	if (!*v)
		return false;
	for (;;) {
		q = strchr(p, ',');
		if (!q)
			q = p + strlen(p);
		if (!strncmp(p, "http://", 7))
			h = p + 7;
		else if (!strncmp(p, "https://", 8))
			h = p + 8;
		else
			return false;
		if (h >= q || *h == '/' || *h == ',')
			return false;
		if (!*q)
			return true;
		p = q + 1;
	}
}

/* An absolute path to a PEM file, for TLS to etcd */
static int store_file(struct cfg *cfg, const struct ctx *cx,
		      const config_setting_t *g, const char *key, char **out)
{
	const config_setting_t *s;
	const char *v = NULL;
	struct qbuf q;
	int r;

	(void)cfg;
	r = string_of(cx, g, "store", key, &v, &s);
	if (r || !v)
		return r;
	if (v[0] != '/')
		return fail(cx, s, "store.%s: expected an absolute path, found %s",
			    key, quote(&q, v));
	return set_str(out, v) ? oom(cx) : 0;
}

static int load_store(struct cfg *cfg, const struct ctx *cx,
		      const config_setting_t *root)
{
	const config_setting_t *g, *s;
	const char *v = NULL, *path;
	struct qbuf q;
	long long n;
	int r;

	r = group_of(cx, root, "store", store_keys, &g);
	if (r || !g)
		return r;
	r = string_of(cx, g, "store", "url", &v, &s);
	if (r)
		return r;
	if (v && !strncmp(v, "etcd:", 5)) {
		if (!etcd_urls_ok(v + 5))
			return fail(cx, s,
				    "store.url: expected \"etcd:http://HOST:PORT\" (or https://; several separated by commas), found %s",
				    quote(&q, v));
		if (set_str(&cfg->store_url, v))
			return oom(cx);
	} else if (v) {
		path = strncmp(v, "sqlite:", 7) ? v : v + 7;
		if (path[0] != '/')
			return fail(cx, s,
				    "store.url: expected \"sqlite:PATH\", an absolute path or \"etcd:http://HOST:PORT\", found %s",
				    quote(&q, v));
		if (set_str(&cfg->store_url, v))
			return oom(cx);
	}
	v = NULL;
	r = string_of(cx, g, "store", "prefix", &v, &s);
	if (r)
		return r;
	if (v && set_str(&cfg->store_prefix, v))
		return oom(cx);
	v = NULL;
	r = string_of(cx, g, "store", "username", &v, &s);
	if (r)
		return r;
	if (v && set_str(&cfg->store_username, v))
		return oom(cx);
	v = NULL;
	r = string_of(cx, g, "store", "password_file", &v, &s);
	if (r)
		return r;
	if (v) {
		if (v[0] != '/')
			return fail(cx, s,
				    "store.password_file: expected an absolute path, found %s",
				    quote(&q, v));
		if (set_str(&cfg->store_password_file, v))
			return oom(cx);
	}
	r = store_file(cfg, cx, g, "ca", &cfg->store_ca);
	if (!r)
		r = store_file(cfg, cx, g, "cert", &cfg->store_cert);
	if (!r)
		r = store_file(cfg, cx, g, "key", &cfg->store_key);
	if (r)
		return r;
	if (!cfg->store_cert != !cfg->store_key)
		return fail(cx, g, "store.cert and store.key go together");
	if (cfg->store_password_file && !cfg->store_username)
		return fail(cx, g,
			    "store.password_file: set store.username too");
	s = config_setting_get_member(g, "history");
	if (s) {
		if (!is_integer(s))
			return fail(cx, s,
				    "store.history: expected an integer, found %s",
				    type_name(s));
		n = config_setting_get_int64(s);
		if (n < 100 || n > 10000000)
			return fail(cx, s,
				    "store.history: expected 100..10000000 revisions, found %lld",
				    n);
		cfg->store_history = n;
	}
	return 0;
}

static int load_parsed(struct cfg *cfg, const struct ctx *cx)
{
	const config_setting_t *root = config_root_setting(&cfg->lc);
	int r;

	r = check_top(cx, root);
	if (!r)
		r = load_log(cfg, cx, root);
	if (!r)
		r = load_control(cfg, cx, root);
	if (!r)
		r = load_routes(cfg, cx, root);
	if (!r)
		r = load_health(cfg, cx, root);
	if (!r)
		r = load_metrics(cfg, cx, root);
	if (!r)
		r = load_store(cfg, cx, root);
	if (!r)
		r = load_kube(cfg, cx, root);
	if (!r)
		r = load_node(cfg, cx, root);
	if (!r)
		r = load_plugin_dir(cfg, cx, root);
	if (!r)
		r = load_plugins(cfg, cx, root);
	return r;
}

static int parse_error(const struct cfg *cfg, const struct ctx *cx)
{
	const char *file = config_error_file(&cfg->lc);
	const char *text = config_error_text(&cfg->lc);
	int line = config_error_line(&cfg->lc);

	if (!file)
		file = cx->name;
	if (!text || !strcmp(text, "syntax error"))
		return failat(cx, file, (unsigned)line, "syntax error");
	if (!strcmp(text, "cannot open include file")) {
		if (!cx->include_dir)
			return failat(cx, file, (unsigned)line,
				      "@include is not allowed here");
		return failat(cx, file, (unsigned)line,
			      "syntax error: cannot open include file (paths are relative to %s)",
			      cx->include_dir);
	}
	return failat(cx, file, (unsigned)line, "syntax error: %s", text);
}

/* Includes are refused by pointing them under a file that is no dir. */
#define NO_INCLUDE_DIR "/dev/null"

static int load_text(const char *name, const char *text,
		     const char *include_dir, struct cfg **out, char *err,
		     size_t errlen)
{
	struct ctx cx = { .name = name,
			  .include_dir = include_dir,
			  .err = err,
			  .errlen = errlen };
	struct cfg *cfg;
	int r;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return oom(&cx);
	config_init(&cfg->lc);
	cfg->log_level = LOG_INFO;
	cfg->control_mode = 0600;
	cfg->resync_ns = 30 * NS_PER_S;
	cfg->health.interval_ns = NS_PER_S / 2;
	cfg->health.fall = 2;
	cfg->health.rise = 2;
	cfg->health.jitter = 0.1;
	cfg->health.observers = 3;
	cfg->health.quorum = 2;
	cfg->health.hold_down_ns = 30 * NS_PER_S;
	cfg->health.writer_lease_ns = 10 * NS_PER_S;
	cfg->rtproto = NL_DEFAULT_RTPROTO;
	cfg->path = strdup(name);
	cfg->log_target = strdup("stderr");
	cfg->control_socket = strdup(RUNDIR "/stratad.sock");
	cfg->plugin_dir = strdup(PLUGINDIR);
	cfg->store_url = strdup(STATEDIR "/store.db");
	cfg->store_history = 10000;
	if (!cfg->path || !cfg->log_target || !cfg->control_socket ||
	    !cfg->plugin_dir || !cfg->store_url) {
		r = oom(&cx);
		goto free_cfg;
	}
	config_set_include_dir(&cfg->lc,
			       include_dir ? include_dir : NO_INCLUDE_DIR);
	if (!config_read_string(&cfg->lc, text)) {
		r = parse_error(cfg, &cx);
		goto free_cfg;
	}
	r = load_parsed(cfg, &cx);
	if (r)
		goto free_cfg;
	*out = cfg;
	return 0;

free_cfg:
	cfg_free(cfg);
	return r;
}

int cfg_load_string(const char *name, const char *text, struct cfg **out,
		    char *err, size_t errlen)
{
	*out = NULL;
	return load_text(name, text, NULL, out, err, errlen);
}

static int read_file(const char *path, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf, *nbuf;
	struct stat st;
	ssize_t got;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto close_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto close_fd;
	}
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto close_fd;
	}
	for (;;) {
		if (n + 1 == cap) {
			if (cap > CFG_FILE_MAX) {
				r = -EFBIG;
				goto free_buf;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				r = -ENOMEM;
				goto free_buf;
			}
			buf = nbuf;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto free_buf;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	close(fd);
	*out = buf;
	*len = n;
	return 0;

free_buf:
	free(buf);
close_fd:
	close(fd);
	return r;
}

int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
{
	struct ctx cx = { .name = path, .err = err, .errlen = errlen };
	const char *slash = strrchr(path, '/');
	char *text = NULL, *dir, *nul;
	unsigned line = 1;
	size_t len = 0;
	int r;

	*out = NULL;
	r = read_file(path, &text, &len);
	if (r) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 strerror(-r));
		return r;
	}
	nul = memchr(text, '\0', len);
	if (nul) {
		for (char *c = text; c < nul; c++)
			line += *c == '\n';
		r = failat(&cx, path, line, "syntax error: a NUL byte");
		goto free_text;
	}
	if (!slash)
		dir = strdup(".");
	else
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir) {
		r = oom(&cx);
		goto free_text;
	}
	r = load_text(path, text, dir, out, err, errlen);
	free(dir);
free_text:
	free(text);
	return r;
}

static void defaults_free(struct cfg_defaults *d)
{
	struct cfg_default *e, *next;

	if (!d)
		return;
	for (e = d->head; e; e = next) {
		next = e->next;
		free(e->name);
		free(e->def);
		free(e->buf);
		free(e->items);
		free(e);
	}
	free(d);
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_plugins; i++) {
		free(cfg->plugins[i].instance);
		free(cfg->plugins[i].file);
		free(cfg->plugins[i].path);
		defaults_free(cfg->plugins[i].defaults);
	}
	free(cfg->plugins);
	for (i = 0; i < cfg->n_facts; i++) {
		free(cfg->facts[i].name);
		free(cfg->facts[i].value);
	}
	free(cfg->facts);
	free(cfg->path);
	free(cfg->log_target);
	free(cfg->control_socket);
	free(cfg->metrics_listen);
	free(cfg->control_group);
	free(cfg->health.checker);
	free(cfg->health.path);
	free(cfg->store_url);
	free(cfg->store_prefix);
	free(cfg->store_username);
	free(cfg->store_password_file);
	free(cfg->store_ca);
	free(cfg->store_cert);
	free(cfg->store_key);
	free(cfg->plugin_dir);
	free(cfg->node_name);
	free(cfg->kube.kubeconfig);
	free(cfg->kube.node_name);
	free(cfg->kube.zone_label);
	free(cfg->kube.subnet_label);
	config_destroy(&cfg->lc);
	free(cfg);
}

/*
 * A STRINGS default, "kernel, cloud", cut into items (spaces around them
 * dropped). "" is the empty list; an empty item is an error.
 */
static int split_list(const char *def, char **bufp, char ***itemsp,
		      uint32_t *np)
{
	char *buf, **items, *s, *e, *next;
	uint32_t n = 0, cap = 1;
	const char *c;

	for (c = def; *c; c++)
		cap += *c == ',';
	buf = strdup(def);
	items = calloc(cap, sizeof(*items));
	if (!buf || !items) {
		free(buf);
		free(items);
		return -ENOMEM;
	}
	for (s = buf; *s == ' '; s++)
		;
	if (*s) {
		for (; s; s = next) {
			next = strchr(s, ',');
			if (next)
				*next++ = '\0';
			while (*s == ' ')
				s++;
			e = s + strlen(s);
			while (e > s && e[-1] == ' ')
				*--e = '\0';
			if (!*s) {
				free(buf);
				free(items);
				return -EINVAL;
			}
			items[n++] = s;
		}
	}
	*bufp = buf;
	*itemsp = items;
	*np = n;
	return 0;
}

static int parse_bool(const char *t, int *out)
{
	if (!strcmp(t, "true"))
		*out = 1;
	else if (!strcmp(t, "false"))
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

static int parse_int(const char *t, int64_t *out)
{
	char *end;
	long long v;

	if (!*t || isspace((unsigned char)*t))
		return -EINVAL;
	errno = 0;
	v = strtoll(t, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno)
		return -ERANGE;
	*out = v;
	return 0;
}

static const struct strata_cfg_key *key_of(const struct strata_cfg_key *schema,
					   const char *key)
{
	for (; schema && schema->name; schema++)
		if (!strcmp(schema->name, key))
			return schema;
	return NULL;
}

static bool bounded(const struct strata_cfg_key *k)
{
	return k->min < k->max;
}

static const char *schema_type_text(uint32_t type)
{
	switch (type) {
	case STRATA_CFG_BOOL:
		return "expected true or false";
	case STRATA_CFG_INT:
		return "expected an integer";
	case STRATA_CFG_STRING:
		return "expected a string";
	case STRATA_CFG_STRINGS:
		return "expected a list of strings";
	case STRATA_CFG_DURATION:
		return "expected a duration such as \"30s\"";
	}
	return "unknown type";
}

/* 0 when the schema's own default reads as its type and bounds. */
static int default_ok(const struct strata_cfg_key *k)
{
	char *buf, **items;
	int64_t v;
	uint32_t n;
	int b;

	switch (k->type) {
	case STRATA_CFG_BOOL:
		return parse_bool(k->def, &b);
	case STRATA_CFG_INT:
		if (parse_int(k->def, &v))
			return -EINVAL;
		break;
	case STRATA_CFG_DURATION:
		if (cfg_parse_duration(k->def, &v))
			return -EINVAL;
		break;
	case STRATA_CFG_STRING:
		return 0;
	case STRATA_CFG_STRINGS:
		if (split_list(k->def, &buf, &items, &n))
			return -EINVAL;
		free(buf);
		free(items);
		return 0;
	default:
		return -EINVAL;
	}
	if (bounded(k) && (v < k->min || v > k->max))
		return -ERANGE;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path ? path : "?";
}

static int check_schema(const struct ctx *cx, const char *file, unsigned line,
			const char *pre, const struct cfg_plugin *p,
			const struct strata_cfg_key *schema)
{
	const struct strata_cfg_key *k;
	const char *plugin = base_name(p->path ? p->path : p->file);
	char lo[32], hi[32];
	struct qbuf q;
	int r;

	for (k = schema; k && k->name; k++) {
		if (k->type < STRATA_CFG_BOOL || k->type > STRATA_CFG_DURATION)
			return failat(cx, file, line,
				      "%sthe plugin %s gives key \"%s\" an unknown type %u",
				      pre, plugin, k->name, k->type);
		if (key_of(schema, k->name) != k)
			return failat(cx, file, line,
				      "%sthe plugin %s lists key \"%s\" twice",
				      pre, plugin, k->name);
		if (!k->def)
			continue;
		r = default_ok(k);
		if (r == -ERANGE && k->type == STRATA_CFG_DURATION)
			return failat(cx, file, line,
				      "%sthe plugin %s has a bad default for \"%s\": %s is out of its range %s..%s",
				      pre, plugin, k->name, quote(&q, k->def),
				      fmt_duration(lo, sizeof(lo), k->min),
				      fmt_duration(hi, sizeof(hi), k->max));
		if (r == -ERANGE)
			return failat(cx, file, line,
				      "%sthe plugin %s has a bad default for \"%s\": %s is out of its range %lld..%lld",
				      pre, plugin, k->name, quote(&q, k->def),
				      (long long)k->min, (long long)k->max);
		if (r)
			return failat(cx, file, line,
				      "%sthe plugin %s has a bad default for \"%s\": %s, found %s",
				      pre, plugin, k->name,
				      schema_type_text(k->type),
				      quote(&q, k->def));
	}
	return 0;
}

static int check_value(const struct ctx *cx, const char *pre,
		       const struct strata_cfg_key *k,
		       const config_setting_t *s)
{
	const char *want = schema_type_text(k->type);
	char lo[32], hi[32], v[32];
	struct qbuf q;
	int64_t ns;
	long long iv;
	int i, r;

	switch (k->type) {
	case STRATA_CFG_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			break;
		return 0;
	case STRATA_CFG_STRING:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			break;
		return 0;
	case STRATA_CFG_INT:
		if (!is_integer(s))
			break;
		iv = config_setting_get_int64(s);
		if (bounded(k) && (iv < k->min || iv > k->max))
			return fail(cx, s, "%s%s: %lld is out of range %lld..%lld",
				    pre, k->name, iv, (long long)k->min,
				    (long long)k->max);
		return 0;
	case STRATA_CFG_STRINGS:
		if (!is_string_list(s))
			break;
		for (i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e =
				config_setting_get_elem(s, (unsigned)i);

			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return fail(cx, e,
					    "%s%s: expected a list of strings, found %s at index %d",
					    pre, k->name, type_name(e), i);
		}
		return 0;
	case STRATA_CFG_DURATION:
		if (!is_duration(s))
			break;
		r = setting_duration(s, &ns);
		if (r == -ERANGE)
			return fail(cx, s, "%s%s: %s is too long", pre, k->name,
				    value_text(&q, s));
		if (r)
			return fail(cx, s,
				    "%s%s: expected a duration such as \"30s\" (a number with ms, s, m, h or d; bare numbers are seconds), found %s",
				    pre, k->name, value_text(&q, s));
		if (bounded(k) && (ns < k->min || ns > k->max))
			return fail(cx, s, "%s%s: %s is out of range %s..%s",
				    pre, k->name, fmt_duration(v, sizeof(v), ns),
				    fmt_duration(lo, sizeof(lo), k->min),
				    fmt_duration(hi, sizeof(hi), k->max));
		return 0;
	}
	return fail(cx, s, "%s%s: %s, found %s", pre, k->name, want,
		    type_name(s));
}

int cfg_check_plugin(const struct cfg *cfg, const struct cfg_plugin *p,
		     const struct strata_cfg_key *schema, char *err,
		     size_t errlen)
{
	struct ctx cx = { .name = cfg && cfg->path ? cfg->path : "config",
			  .include_dir = cfg ? config_get_include_dir(&cfg->lc) :
					       NULL,
			  .err = err,
			  .errlen = errlen };
	const struct strata_cfg_key *k;
	const config_setting_t *g = p->config;
	char pre[96], list[512];
	size_t idx, o;
	unsigned line;
	int i, r;

	for (idx = 0; cfg && idx < cfg->n_plugins; idx++)
		if (&cfg->plugins[idx] == p ||
		    (p->instance &&
		     !strcmp(cfg->plugins[idx].instance, p->instance)))
			break;
	if (cfg && idx < cfg->n_plugins)
		snprintf(pre, sizeof(pre), "plugins[%zu] (%s): ", idx,
			 p->instance);
	else
		snprintf(pre, sizeof(pre), "plugin instance %s: ",
			 p->instance ? p->instance : "?");
	line = g ? config_setting_source_line(g) : (unsigned)p->line;

	r = check_schema(&cx, g ? file_of(&cx, g) : cx.name, line, pre, p,
			 schema);
	if (r)
		return r;
	for (i = 0; g && i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g,
								     (unsigned)i);

		k = key_of(schema, config_setting_name(s));
		if (k) {
			r = check_value(&cx, pre, k, s);
			if (r)
				return r;
			continue;
		}
		if (!schema || !schema->name)
			return fail(&cx, s,
				    "%sunknown key \"%s\"; the plugin takes no settings",
				    pre, config_setting_name(s));
		list[0] = '\0';
		for (o = 0, k = schema; k->name && o < sizeof(list); k++) {
			int n = snprintf(list + o, sizeof(list) - o, "%s%s",
					 o ? ", " : "", k->name);

			if (n < 0)
				break;
			o += (size_t)n;
		}
		return fail(&cx, s, "%sunknown key \"%s\"; known keys: %s", pre,
			    config_setting_name(s), list);
	}
	for (k = schema; k && k->name; k++)
		if ((k->flags & STRATA_CFG_REQUIRED) &&
		    !(g && config_setting_get_member(g, k->name)))
			return failat(&cx, g ? file_of(&cx, g) : cx.name, line,
				      "%s\"%s\" is required", pre, k->name);
	return 0;
}

/* The schema entry and, when the instance sets it, its setting. */
static int lookup(const struct cfg_plugin *p,
		  const struct strata_cfg_key *schema, const char *key,
		  uint32_t type, const struct strata_cfg_key **k,
		  const config_setting_t **s)
{
	if (!p || !key)
		return -EINVAL;
	*k = key_of(schema, key);
	if (!*k || (*k)->type != type)
		return -EINVAL;
	*s = p->config ? config_setting_get_member(p->config, key) : NULL;
	if (!*s && !(*k)->def)
		return -ENOENT;
	return 0;
}

/* The cached copy of k's default, made on first use. */
static int default_of(const struct cfg_plugin *p,
		      const struct strata_cfg_key *k,
		      const struct cfg_default **out)
{
	struct cfg_default *e;
	int r = -ENOMEM;

	if (!p->defaults)
		return -EINVAL;
	for (e = p->defaults->head; e; e = e->next) {
		if (!strcmp(e->name, k->name) && !strcmp(e->def, k->def)) {
			*out = e;
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->name = strdup(k->name);
	e->def = strdup(k->def);
	if (!e->name || !e->def)
		goto free_e;
	if (k->type == STRATA_CFG_STRINGS) {
		r = split_list(k->def, &e->buf, &e->items, &e->n);
		if (r)
			goto free_e;
	} else {
		e->buf = strdup(k->def);
		if (!e->buf)
			goto free_e;
	}
	e->next = p->defaults->head;
	p->defaults->head = e;
	*out = e;
	return 0;

free_e:
	free(e->name);
	free(e->def);
	free(e);
	return r;
}

int cfg_get_bool(const struct cfg_plugin *p, const struct strata_cfg_key *schema,
		 const char *key, int *out)
{
	const struct strata_cfg_key *k;
	const config_setting_t *s;
	int r;

	r = lookup(p, schema, key, STRATA_CFG_BOOL, &k, &s);
	if (r)
		return r;
	if (!s)
		return parse_bool(k->def, out);
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return -EINVAL;
	*out = config_setting_get_bool(s);
	return 0;
}

int cfg_get_int(const struct cfg_plugin *p, const struct strata_cfg_key *schema,
		const char *key, int64_t *out)
{
	const struct strata_cfg_key *k;
	const config_setting_t *s;
	int r;

	r = lookup(p, schema, key, STRATA_CFG_INT, &k, &s);
	if (r)
		return r;
	if (!s)
		return parse_int(k->def, out) ? -EINVAL : 0;
	if (!is_integer(s))
		return -EINVAL;
	*out = config_setting_get_int64(s);
	return 0;
}

int cfg_get_duration(const struct cfg_plugin *p,
		     const struct strata_cfg_key *schema, const char *key,
		     int64_t *out_ns)
{
	const struct strata_cfg_key *k;
	const config_setting_t *s;
	int r;

	r = lookup(p, schema, key, STRATA_CFG_DURATION, &k, &s);
	if (r)
		return r;
	if (!s)
		return cfg_parse_duration(k->def, out_ns) ? -EINVAL : 0;
	if (!is_duration(s))
		return -EINVAL;
	return setting_duration(s, out_ns) ? -EINVAL : 0;
}

const char *cfg_get_string(const struct cfg_plugin *p,
			   const struct strata_cfg_key *schema, const char *key)
{
	const struct strata_cfg_key *k;
	const struct cfg_default *d;
	const config_setting_t *s;

	if (lookup(p, schema, key, STRATA_CFG_STRING, &k, &s))
		return NULL;
	if (s)
		return config_setting_type(s) == CONFIG_TYPE_STRING ?
			       config_setting_get_string(s) :
			       NULL;
	return default_of(p, k, &d) ? NULL : d->buf;
}

/* The instance's list, checked to hold only strings. */
static const config_setting_t *string_list(const config_setting_t *s)
{
	int i;

	if (!is_string_list(s))
		return NULL;
	for (i = 0; i < config_setting_length(s); i++)
		if (config_setting_type(config_setting_get_elem(
			    s, (unsigned)i)) != CONFIG_TYPE_STRING)
			return NULL;
	return s;
}

int cfg_get_strings_count(const struct cfg_plugin *p,
			  const struct strata_cfg_key *schema, const char *key)
{
	const struct strata_cfg_key *k;
	const struct cfg_default *d;
	const config_setting_t *s;
	int r;

	r = lookup(p, schema, key, STRATA_CFG_STRINGS, &k, &s);
	if (r)
		return r;
	if (s)
		return string_list(s) ? config_setting_length(s) : -EINVAL;
	r = default_of(p, k, &d);
	return r ? r : (int)d->n;
}

const char *cfg_get_strings_at(const struct cfg_plugin *p,
			       const struct strata_cfg_key *schema,
			       const char *key, uint32_t index)
{
	const struct strata_cfg_key *k;
	const struct cfg_default *d;
	const config_setting_t *s;

	if (lookup(p, schema, key, STRATA_CFG_STRINGS, &k, &s))
		return NULL;
	if (s) {
		const config_setting_t *e;

		if (!is_string_list(s) ||
		    index >= (uint32_t)config_setting_length(s))
			return NULL;
		e = config_setting_get_elem(s, index);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return NULL;
		return config_setting_get_string(e);
	}
	if (default_of(p, k, &d) || index >= d->n)
		return NULL;
	return d->items[index];
}
