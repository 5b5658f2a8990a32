/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metric series and their Prometheus text rendering (format 0.0.4).
 *
 * A series is written as Prometheus writes it, `name` or
 * `name{label="value",...}`: the name [a-z_][a-z0-9_]* of at most
 * METRIC_NAME_MAX bytes, label names [a-zA-Z_][a-zA-Z0-9_]* (neither
 * "plugin", which the host adds, nor "le", nor starting "__"), values
 * quoted with \\ \" \n as the only escapes, no label twice, no spaces. A set
 * keys its series by a canonical form with the labels sorted by name, so
 * label order does not make a new series.
 *
 * A set holds the series of one plugin instance or of the core; rendering
 * merges several sets into families (HELP and TYPE once each), the sets of
 * instances gaining plugin="<instance>".
 */
#ifndef STRATA_CORE_METRICS_H
#define STRATA_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRIC_NAME_MAX 64
#define METRIC_LABELS_MAX 8
#define METRIC_KEY_MAX 512     /* the whole canonical series */
#define METRIC_SERIES_MAX 1024 /* per set: a plugin cannot grow it forever */
#define METRIC_BUCKETS 17      /* 100 us .. 30 s, then +Inf */

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metric_series {
	char *key;         /* canonical "name{labels}" */
	size_t family_len; /* key[0..family_len) is the name */
	enum metric_type type;
	bool is_double;    /* gauge held in dvalue (core's large totals) */
	int64_t value;
	double dvalue;
	/* histograms: per bucket, not cumulative; [METRIC_BUCKETS] is +Inf */
	uint64_t *buckets;
	uint64_t count;
	int64_t sum_ns;
};

struct metric_set {
	struct metric_series *v;
	size_t n, cap;
	uint32_t *index; /* open addressing: 0 empty, else position + 1 */
	size_t n_index;
	bool core; /* the core's own: may use the label "plugin" */
	size_t max; /* series at most; 0: METRIC_SERIES_MAX */
};

/* The buckets' upper bounds, ns, ascending. */
extern const int64_t metric_bucket_ns[METRIC_BUCKETS];

/*
 * Check a series and write its canonical form into out (outlen bytes);
 * *family_len: the length of its name. core: the label "plugin" is
 * allowed. 0, or -EINVAL (malformed, or too long for out).
 */
int metric_canon(const char *series, bool core, char *out, size_t outlen,
		 size_t *family_len);

/* Every setter: 0, -EINVAL (malformed series, or the series exists with
 * another type), -ENOSPC past the set's bound, -ENOMEM. */
int metric_add(struct metric_set *s, const char *series, int64_t delta);
int metric_gauge(struct metric_set *s, const char *series, int64_t value);
int metric_gauge_double(struct metric_set *s, const char *series,
			double value);
/* Histogram series only (the name ends in "_seconds"); ns < 0 counts as 0. */
int metric_observe(struct metric_set *s, const char *series, int64_t ns);
/* 0, -EINVAL, or -ENOENT when the set has no such series. */
int metric_delete(struct metric_set *s, const char *series);
/* Drop every series whose name is `family` (any labels). */
void metric_delete_family(struct metric_set *s, const char *family);
const struct metric_series *metric_get(const struct metric_set *s,
				       const char *series);
/* Frees every series; the set can be used again. */
void metric_set_clear(struct metric_set *s);

/* A growable text buffer; err is -ENOMEM once an append failed. */
struct metric_buf {
	char *p;
	size_t len, cap;
	int err;
};
void metric_buf_free(struct metric_buf *b);

struct metric_source {
	const struct metric_set *set;
	const char *plugin; /* added as plugin="..."; NULL: none (the core) */
};

/*
 * Render the sets as one exposition, families sorted by name, each with
 * HELP (when known) and TYPE once, every name prefixed "strata_". Series
 * of a family whose type differs from the family's first are left out.
 * 0 or -ENOMEM.
 */
int metrics_render(const struct metric_source *src, size_t n,
		   struct metric_buf *out);

/* Append value with the exposition's escapes (\\, \n, and \" if quoted). */
void metric_buf_escaped(struct metric_buf *b, const char *value, bool quoted);

#endif
