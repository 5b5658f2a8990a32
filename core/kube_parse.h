/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure parts of the Kubernetes client, kept apart so they are tested
 * and fuzzed without a loop: watch-stream lines, watch events, kubeconfig
 * files, backoff and the client's token bucket.
 */
#ifndef STRATA_CORE_KUBE_PARSE_H
#define STRATA_CORE_KUBE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

/* A watch event line longer than this is an error, not an allocation. */
#define KUBE_LINE_MAX (4u << 20)
#define KUBE_KEY_MAX 320 /* "namespace/name" */
#define KUBE_RV_MAX 64

/* ---- watch streams: newline-delimited JSON ----------------------------- */

struct kube_lines {
	char *buf;
	size_t len, cap, max;
};

void kube_lines_init(struct kube_lines *l, size_t max);
void kube_lines_free(struct kube_lines *l);
void kube_lines_reset(struct kube_lines *l);
/* Calls cb for each complete line (without its newline; empty lines are
 * skipped). cb returns 0 to go on or -errno to stop; that is returned.
 * -EMSGSIZE when a line outgrows max (the buffer is then reset). */
int kube_lines_feed(struct kube_lines *l, const void *data, size_t len,
		    int (*cb)(void *arg, char *line, size_t len), void *arg);

/* ---- watch events and objects ------------------------------------------ */

enum kube_watch_type {
	KUBE_WATCH_ADDED,
	KUBE_WATCH_MODIFIED,
	KUBE_WATCH_DELETED,
	KUBE_WATCH_BOOKMARK,
	KUBE_WATCH_ERROR,
};

struct kube_watch_event {
	enum kube_watch_type type;
	yajl_val object; /* owned: yajl_tree_free() it */
	char key[KUBE_KEY_MAX];  /* "name" or "namespace/name"; not ERROR */
	char rv[KUBE_RV_MAX];    /* metadata.resourceVersion; not ERROR */
	int code;                /* ERROR: the Status's code (0 if none) */
	char reason[64];         /* ERROR: the Status's reason */
};

/* One line of a watch stream: {"type": ..., "object": {...}}. A line that
 * is itself a Status object (what a server sends instead of a stream) is
 * reported as an ERROR. -EINVAL with err naming what is wrong. */
int kube_watch_parse(const char *line, size_t len,
		     struct kube_watch_event *ev, char *err, size_t errlen);
/* An object's "namespace/name" (or "name") and resourceVersion: -EINVAL
 * when metadata or name is missing or too long; rv may be NULL. */
int kube_object_key(yajl_val obj, char *key, size_t keylen, char *rv,
		    size_t rvlen);
/* metadata.labels[name] when a string, else NULL. */
const char *kube_object_label(yajl_val obj, const char *name);

/* ---- credentials --------------------------------------------------------- */

struct kube_config {
	char *server;      /* https://HOST:PORT */
	char *ca_file;
	char *ca_data;     /* decoded PEM */
	size_t ca_data_len;
	char *cert_file;
	char *cert_data;
	size_t cert_data_len;
	char *key_file;
	char *key_data;
	size_t key_data_len;
	char *token;
	char *token_file;
	bool insecure;     /* insecure-skip-tls-verify */
};

/* A kubeconfig file's text (YAML, so JSON too): the current context's
 * cluster and user. Relative file paths are resolved against dir (NULL:
 * as they are). */
int kube_config_parse(const char *text, size_t len, const char *dir,
		      struct kube_config *out, char *err, size_t errlen);
void kube_config_clear(struct kube_config *c);
/* Standard base64 (padding optional) into a new NUL-terminated buffer. */
int kube_base64_decode(const char *in, size_t len, char **out,
		       size_t *outlen);

/* ---- pacing -------------------------------------------------------------- */

#define KUBE_BACKOFF_MIN_NS 1000000000LL
#define KUBE_BACKOFF_MAX_NS 60000000000LL

/* The delay before retry number attempt (0 first): 1 s doubling to 60 s,
 * plus up to 20% jitter from rnd, never above 60 s. */
int64_t kube_backoff(unsigned attempt, uint32_t rnd);

/* A token bucket: burst tokens, refilled at qps per second. */
struct kube_bucket {
	double qps;
	double tokens;
	uint32_t burst;
	int64_t last_ns;
};

void kube_bucket_init(struct kube_bucket *b, double qps, uint32_t burst,
		      int64_t now_ns);
/* Reserves a token for a request at now_ns; returns how long to wait
 * before sending it (0: at once). Reservations queue up in order. */
int64_t kube_bucket_take(struct kube_bucket *b, int64_t now_ns);

#endif
