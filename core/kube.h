/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Kubernetes API client on stratad's loop: credentials (in-cluster or a
 * kubeconfig), one token bucket for all its requests, and informers that
 * list and watch one resource path, keeping a cache and delivering what
 * changed. Nothing blocks; everything runs on the loop thread.
 */
#ifndef STRATA_CORE_KUBE_H
#define STRATA_CORE_KUBE_H

#include <stdint.h>

#include <yajl/yajl_tree.h>

struct loop;
struct http;
struct kube;
struct kube_informer;

struct kube_options {
	const char *kubeconfig; /* NULL or "": in-cluster */
	double qps;             /* 0: 5 */
	uint32_t burst;         /* 0: 10 */
	int64_t watch_timeout_ns; /* a watch's timeoutSeconds; 0: 5 min */
};

/* -EINVAL etc. with err saying what is wrong with the credentials. */
int kube_new(struct loop *loop, struct http *http,
	     const struct kube_options *opt, struct kube **out, char *err,
	     size_t errlen);
/* Frees the informers still open too. */
void kube_free(struct kube *k);
/* The API server's URL, for logs. */
const char *kube_server(const struct kube *k);

enum kube_event {
	KUBE_ADDED,
	KUBE_MODIFIED,
	KUBE_DELETED,
	KUBE_SYNCED, /* after each (re)list has been delivered; obj NULL */
};

/* obj is borrowed for the call; key is "name" or "namespace/name". The
 * callback may not free its informer. */
typedef void (*kube_event_cb)(void *arg, enum kube_event ev, const char *key,
			      yajl_val obj);

/* Lists path (e.g. "/api/v1/nodes") and watches it from then on. */
int kube_informer_new(struct kube *k, const char *path, kube_event_cb cb,
		      void *arg, struct kube_informer **out);
void kube_informer_free(struct kube_informer *inf);
/* The resourceVersion the next watch starts from ("" before a list). */
const char *kube_informer_rv(const struct kube_informer *inf);
/* Objects in the cache; the object of key, or NULL. */
size_t kube_informer_count(const struct kube_informer *inf);
yajl_val kube_informer_get(const struct kube_informer *inf, const char *key);

#endif
