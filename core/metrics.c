/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

const int64_t metric_bucket_ns[METRIC_BUCKETS] = {
	100000LL,     250000LL,     500000LL,	  1000000LL,	2500000LL,
	5000000LL,    10000000LL,   25000000LL,	  50000000LL,	100000000LL,
	250000000LL,  500000000LL,  1000000000LL, 2500000000LL, 5000000000LL,
	10000000000LL, 30000000000LL,
};

static const char *const bucket_le[METRIC_BUCKETS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01",	  "0.025",   "0.05",   "0.1",	"0.25",	  "0.5",
	"1",	  "2.5",     "5",      "10",	"30",
};

/* What operators see in HELP, for the series the core and the in-tree
 * plugins report (docs/architecture.md has the same list). */
static const struct {
	const char *name;
	const char *help;
} helps[] = {
	{ "bgp_prefixes_pending", "Prefixes still to announce or withdraw." },
	{ "bgp_prefixes_sent", "Prefixes announced to the peer." },
	{ "bgp_prefixes_withheld",
	  "Desired prefixes held back by the peer's max_prefixes." },
	{ "bgp_session_state",
	  "BGP FSM state: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, "
	  "5 OpenConfirm, 6 Established." },
	{ "cloud_route_budget", "Cloud route table entries allowed, by family." },
	{ "cloud_routes", "Cloud routes planned, by family." },
	{ "cni_errors_total", "CNI requests that failed, by command." },
	{ "cni_request_duration_seconds",
	  "CNI request latency from receipt to answer, by command." },
	{ "ec2_calls_total", "EC2 API calls made, by action." },
	{ "ec2_throttles_total", "EC2 API calls throttled, by action." },
	{ "forwarder_check_failures_total",
	  "Health probes of a forwarder that failed." },
	{ "forwarder_checks_total", "Health probes of a forwarder sent." },
	{ "forwarder_up", "Forwarder health as this node sees it: 1 up, 0 not." },
	{ "ipam_addresses_used", "Pod addresses in use in a carving node." },
	{ "ipam_blocks_reserved", "Blocks of a carving node never handed out." },
	{ "ipam_blocks_total", "Blocks a carving node's prefixes hold." },
	{ "ipam_blocks_used", "Blocks of a carving node held by hosts." },
	{ "ipam_pool_addresses", "Addresses a pool holds." },
	{ "ipam_pool_blocks_used", "Blocks of a pool held by hosts." },
	{ "plan_failures_total", "Route plans that failed." },
	{ "plans_total", "Route plans stated." },
	{ "policy_applies_total",
	  "NetworkPolicy changes applied as one nft transaction." },
	{ "policy_apply_errors_total", "NetworkPolicy applies that failed." },
	{ "policy_apply_seconds",
	  "Time from a NetworkPolicy change to its rules in the kernel." },
	{ "policy_chains_written_total",
	  "Policy chains whose rules were rewritten." },
	{ "policy_elements_changed_total",
	  "Policy set and map elements added or deleted." },
	{ "policy_malformed_objects",
	  "Kubernetes objects enforced as malformed (never more open)." },
	{ "policy_pods_attached", "Pods on this node under NetworkPolicy." },
	{ "policy_policies", "NetworkPolicies known." },
	{ "reconcile_duration_seconds", "Time an advertiser's reconcile took." },
	{ "reconcile_errors_total", "Reconciles that failed, by advertiser." },
	{ "routes_desired", "Routes the model hands an advertiser." },
	{ "routes_installed",
	  "Routes an advertiser has installed after its last reconcile." },
	{ "routes_planned", "Routes this node's plan states, by scope." },
};

/* ---- parsing ------------------------------------------------------------ */

static bool lower_or_us(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool label_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && digit(c));
}

/* Length of a well-formed UTF-8 sequence at s, 0 if not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

struct label {
	const char *name;
	size_t name_len;
	const char *value; /* as written, escapes kept */
	size_t value_len;
};

static int cmp_label(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

static bool name_is(const struct label *l, const char *s)
{
	return l->name_len == strlen(s) && !memcmp(l->name, s, l->name_len);
}

/* One label at *pp: name="value". */
static int parse_label(const char **pp, bool core, struct label *l)
{
	const char *p = *pp;
	size_t k;

	l->name = p;
	if (!label_char(*p, true))
		return -EINVAL;
	while (label_char(*p, false))
		p++;
	l->name_len = (size_t)(p - l->name);
	if ((!core && name_is(l, "plugin")) || name_is(l, "le") ||
	    (l->name_len >= 2 && l->name[0] == '_' && l->name[1] == '_'))
		return -EINVAL;
	if (*p++ != '=' || *p++ != '"')
		return -EINVAL;
	l->value = p;
	while (*p != '"') {
		if (*p == '\0' || *p == '\n')
			return -EINVAL;
		if (*p == '\\') {
			if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
				return -EINVAL;
			p += 2;
			continue;
		}
		k = utf8_len((const unsigned char *)p);
		if (!k)
			return -EINVAL;
		p += k;
	}
	l->value_len = (size_t)(p - l->value);
	*pp = p + 1;
	return 0;
}

int metric_canon(const char *series, bool core, char *out, size_t outlen,
		 size_t *family_len)
{
	struct label labels[METRIC_LABELS_MAX];
	const char *p = series;
	size_t n = 0, name_len, off, i;

	if (!series || !lower_or_us(*p))
		return -EINVAL;
	while (lower_or_us(*p) || digit(*p))
		p++;
	name_len = (size_t)(p - series);
	if (name_len > METRIC_NAME_MAX)
		return -EINVAL;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (n == METRIC_LABELS_MAX ||
			    parse_label(&p, core, &labels[n]) < 0)
				return -EINVAL;
			n++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -EINVAL;
		}
		p++;
	}
	if (*p)
		return -EINVAL;
	if (n > 1)
		qsort(labels, n, sizeof(labels[0]), cmp_label);
	for (i = 1; i < n; i++)
		if (!cmp_label(&labels[i - 1], &labels[i]))
			return -EINVAL;
	if (name_len + 1 > outlen)
		return -EINVAL;
	memcpy(out, series, name_len);
	off = name_len;
	for (i = 0; i < n; i++) {
		/* sep, name, =", value, " and the closing brace */
		if (off + labels[i].name_len + labels[i].value_len + 5 >= outlen)
			return -EINVAL;
		out[off++] = i ? ',' : '{';
		memcpy(out + off, labels[i].name, labels[i].name_len);
		off += labels[i].name_len;
		out[off++] = '=';
		out[off++] = '"';
		memcpy(out + off, labels[i].value, labels[i].value_len);
		off += labels[i].value_len;
		out[off++] = '"';
	}
	if (n)
		out[off++] = '}';
	out[off] = '\0';
	*family_len = name_len;
	return 0;
}

/* ---- the set ------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void index_put(uint32_t *index, size_t n_index, const char *key,
		      uint32_t pos)
{
	size_t mask = n_index - 1, i = hash_str(key) & mask;

	while (index[i])
		i = (i + 1) & mask;
	index[i] = pos + 1;
}

static int index_rebuild(struct metric_set *s, size_t n_index)
{
	uint32_t *index = calloc(n_index, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		index_put(index, n_index, s->v[i].key, (uint32_t)i);
	free(s->index);
	s->index = index;
	s->n_index = n_index;
	return 0;
}

/* After a removal: the same slots, filled again (no allocation). */
static void index_refill(struct metric_set *s)
{
	if (!s->n_index)
		return;
	memset(s->index, 0, s->n_index * sizeof(*s->index));
	for (size_t i = 0; i < s->n; i++)
		index_put(s->index, s->n_index, s->v[i].key, (uint32_t)i);
}

static struct metric_series *lookup(const struct metric_set *s,
				    const char *key)
{
	size_t mask, i;

	if (!s->n_index)
		return NULL;
	mask = s->n_index - 1;
	/* never full: the index has at least twice the series' slots */
	for (i = hash_str(key) & mask; s->index[i]; i = (i + 1) & mask) {
		struct metric_series *m = &s->v[s->index[i] - 1];

		if (!strcmp(m->key, key))
			return m;
	}
	return NULL;
}

static int find(struct metric_set *s, const char *series,
		enum metric_type type, struct metric_series **out)
{
	char key[METRIC_KEY_MAX];
	struct metric_series *m;
	size_t family_len;

	if (metric_canon(series, s->core, key, sizeof(key), &family_len) < 0)
		return -EINVAL;
	if (type == METRIC_HISTOGRAM &&
	    (family_len < 8 || memcmp(key + family_len - 8, "_seconds", 8)))
		return -EINVAL;
	m = lookup(s, key);
	if (m) {
		if (m->type != type)
			return -EINVAL;
		*out = m;
		return 0;
	}
	if (s->n >= (s->max ? s->max : METRIC_SERIES_MAX))
		return -ENOSPC;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct metric_series *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if ((s->n + 1) * 2 > s->n_index &&
	    index_rebuild(s, s->n_index ? s->n_index * 2 : 32) < 0)
		return -ENOMEM;
	m = &s->v[s->n];
	*m = (struct metric_series){ .type = type, .family_len = family_len };
	m->key = strdup(key);
	if (!m->key)
		return -ENOMEM;
	if (type == METRIC_HISTOGRAM) {
		m->buckets = calloc(METRIC_BUCKETS + 1, sizeof(*m->buckets));
		if (!m->buckets) {
			free(m->key);
			return -ENOMEM;
		}
	}
	index_put(s->index, s->n_index, m->key, (uint32_t)s->n);
	s->n++;
	*out = m;
	return 0;
}

int metric_add(struct metric_set *s, const char *series, int64_t delta)
{
	struct metric_series *m;
	int rc = find(s, series, METRIC_COUNTER, &m);

	if (rc < 0)
		return rc;
	m->value += delta;
	return 0;
}

int metric_gauge(struct metric_set *s, const char *series, int64_t value)
{
	struct metric_series *m;
	int rc = find(s, series, METRIC_GAUGE, &m);

	if (rc < 0)
		return rc;
	m->value = value;
	m->is_double = false;
	return 0;
}

int metric_gauge_double(struct metric_set *s, const char *series, double value)
{
	struct metric_series *m;
	int rc = find(s, series, METRIC_GAUGE, &m);

	if (rc < 0)
		return rc;
	m->dvalue = value;
	m->is_double = true;
	return 0;
}

int metric_observe(struct metric_set *s, const char *series, int64_t ns)
{
	struct metric_series *m;
	int rc = find(s, series, METRIC_HISTOGRAM, &m);
	size_t b = 0;

	if (rc < 0)
		return rc;
	if (ns < 0)
		ns = 0;
	while (b < METRIC_BUCKETS && ns > metric_bucket_ns[b])
		b++;
	m->buckets[b]++;
	m->count++;
	m->sum_ns = ns > INT64_MAX - m->sum_ns ? INT64_MAX : m->sum_ns + ns;
	return 0;
}

static void series_free(struct metric_series *m)
{
	free(m->key);
	free(m->buckets);
}

static void remove_at(struct metric_set *s, size_t i)
{
	series_free(&s->v[i]);
	s->v[i] = s->v[--s->n];
}

int metric_delete(struct metric_set *s, const char *series)
{
	char key[METRIC_KEY_MAX];
	struct metric_series *m;
	size_t family_len;

	if (metric_canon(series, s->core, key, sizeof(key), &family_len) < 0)
		return -EINVAL;
	m = lookup(s, key);
	if (!m)
		return -ENOENT;
	remove_at(s, (size_t)(m - s->v));
	/* deletions are rare (a peer removed): refilling is fine */
	index_refill(s);
	return 0;
}

void metric_delete_family(struct metric_set *s, const char *family)
{
	size_t len = strlen(family), i = 0;
	bool changed = false;

	while (i < s->n) {
		if (s->v[i].family_len == len &&
		    !memcmp(s->v[i].key, family, len)) {
			remove_at(s, i);
			changed = true;
		} else {
			i++;
		}
	}
	if (changed)
		index_refill(s);
}

const struct metric_series *metric_get(const struct metric_set *s,
				       const char *series)
{
	char key[METRIC_KEY_MAX];
	size_t family_len;

	if (metric_canon(series, s->core, key, sizeof(key), &family_len) < 0)
		return NULL;
	return lookup(s, key);
}

void metric_set_clear(struct metric_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		series_free(&s->v[i]);
	free(s->v);
	free(s->index);
	s->v = NULL;
	s->index = NULL;
	s->n = s->cap = s->n_index = 0;
}

/* ---- rendering ---------------------------------------------------------- */

void metric_buf_free(struct metric_buf *b)
{
	free(b->p);
	*b = (struct metric_buf){ 0 };
}

static bool reserve(struct metric_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->err)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct metric_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void put_str(struct metric_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
putf(struct metric_buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void metric_buf_escaped(struct metric_buf *b, const char *value, bool quoted)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			put_str(b, "\\\\");
		else if (*p == '\n')
			put_str(b, "\\n");
		else if (*p == '"' && quoted)
			put_str(b, "\\\"");
		else
			put(b, p, 1);
	}
}

struct ref {
	const struct metric_series *m;
	const char *plugin;
};

static int cmp_family(const struct metric_series *a,
		      const struct metric_series *b)
{
	size_t n = a->family_len < b->family_len ? a->family_len : b->family_len;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->family_len < b->family_len ? -1
	       : a->family_len > b->family_len;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c = cmp_family(x->m, y->m);

	if (c)
		return c;
	if (!x->plugin != !y->plugin)
		return x->plugin ? 1 : -1;
	if (x->plugin && (c = strcmp(x->plugin, y->plugin)))
		return c;
	return strcmp(x->m->key + x->m->family_len,
		      y->m->key + y->m->family_len);
}

static const char *help_of(const char *family, size_t len)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strlen(helps[i].name) == len &&
		    !memcmp(helps[i].name, family, len))
			return helps[i].help;
	return NULL;
}

static const char *type_name(enum metric_type t)
{
	return t == METRIC_COUNTER ? "counter"
	       : t == METRIC_GAUGE ? "gauge"
				   : "histogram";
}

/* "strata_NAME" SUFFIX "{plugin=...,LABELS,EXTRA}" */
static void put_name(struct metric_buf *b, const struct ref *r,
		     const char *suffix, const char *extra)
{
	const struct metric_series *m = r->m;
	/* the labels without their braces */
	const char *labels = m->key + m->family_len;
	size_t labels_len = strlen(labels);
	bool any = false;

	put_str(b, "strata_");
	put(b, m->key, m->family_len);
	put_str(b, suffix);
	if (!r->plugin && !labels_len && !extra)
		return;
	put(b, "{", 1);
	if (r->plugin) {
		put_str(b, "plugin=\"");
		metric_buf_escaped(b, r->plugin, true);
		put(b, "\"", 1);
		any = true;
	}
	if (labels_len) {
		if (any)
			put(b, ",", 1);
		put(b, labels + 1, labels_len - 2);
		any = true;
	}
	if (extra) {
		if (any)
			put(b, ",", 1);
		put_str(b, extra);
	}
	put(b, "}", 1);
}

static void put_series(struct metric_buf *b, const struct ref *r)
{
	const struct metric_series *m = r->m;
	char le[32];
	uint64_t cum = 0;

	if (m->type != METRIC_HISTOGRAM) {
		put_name(b, r, "", NULL);
		if (!m->is_double)
			putf(b, " %" PRId64 "\n", m->value);
		else if (isnan(m->dvalue))
			put_str(b, " NaN\n");
		else if (isinf(m->dvalue))
			put_str(b, m->dvalue > 0 ? " +Inf\n" : " -Inf\n");
		else
			putf(b, " %.17g\n", m->dvalue);
		return;
	}
	for (size_t i = 0; i <= METRIC_BUCKETS; i++) {
		cum += m->buckets[i];
		snprintf(le, sizeof(le), "le=\"%s\"",
			 i < METRIC_BUCKETS ? bucket_le[i] : "+Inf");
		put_name(b, r, "_bucket", le);
		putf(b, " %" PRIu64 "\n", cum);
	}
	put_name(b, r, "_sum", NULL);
	putf(b, " %" PRId64 ".%09" PRId64 "\n", m->sum_ns / 1000000000,
	     m->sum_ns % 1000000000);
	put_name(b, r, "_count", NULL);
	putf(b, " %" PRIu64 "\n", m->count);
}

int metrics_render(const struct metric_source *src, size_t n,
		   struct metric_buf *out)
{
	const struct metric_series *first = NULL;
	struct ref *refs;
	size_t total = 0, k = 0, i, j;

	for (i = 0; i < n; i++)
		total += src[i].set->n;
	refs = calloc(total ? total : 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		for (j = 0; j < src[i].set->n; j++)
			refs[k++] = (struct ref){ &src[i].set->v[j],
						  src[i].plugin };
	if (total > 1)
		qsort(refs, total, sizeof(*refs), cmp_ref);
	for (i = 0; i < total; i++) {
		const struct metric_series *m = refs[i].m;
		const char *help;

		if (!first || cmp_family(first, m)) {
			first = m;
			help = help_of(m->key, m->family_len);
			if (help) {
				put_str(out, "# HELP strata_");
				put(out, m->key, m->family_len);
				put(out, " ", 1);
				metric_buf_escaped(out, help, false);
				put(out, "\n", 1);
			}
			put_str(out, "# TYPE strata_");
			put(out, m->key, m->family_len);
			putf(out, " %s\n", type_name(m->type));
		}
		if (m->type != first->type)
			continue;
		put_series(out, &refs[i]);
	}
	free(refs);
	if (!out->p && reserve(out, 0))
		out->p[0] = '\0';
	return out->err;
}
