/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus endpoint: a minimal HTTP/1.x server on the loop. One
 * request per connection (answered, then closed), GET and HEAD of
 * /metrics only, the request head bounded, a slow or idle client closed
 * after a timeout, connections bounded.
 */
#ifndef STRATA_CORE_METRICS_HTTP_H
#define STRATA_CORE_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define MHTTP_HEAD_MAX 8192      /* request line and headers */
#define MHTTP_CONNS_MAX 16
#ifndef MHTTP_TIMEOUT_NS
#define MHTTP_TIMEOUT_NS (10 * 1000000000LL) /* a request's whole life */
#endif

struct loop;
struct mhttp;

enum mhttp_method {
	MHTTP_GET,
	MHTTP_HEAD,
	MHTTP_OTHER,
};

struct mhttp_request {
	enum mhttp_method method;
	char path[256]; /* without the query; "" when too long */
	size_t head_len; /* bytes of the head, final blank line included */
};

/*
 * Parse the head of a request from the len bytes received so far: 0 while
 * it is incomplete, 1 when complete (out filled), -EINVAL when it is not
 * HTTP/1.x, -EPROTONOSUPPORT for another HTTP version, -E2BIG when the
 * head is longer than MHTTP_HEAD_MAX.
 */
int mhttp_parse(const char *buf, size_t len, struct mhttp_request *out);

/* The status a parsed request gets: 200, 404 or 405. */
int mhttp_status(const struct mhttp_request *req);

/* Render the exposition into out: 0 or -errno. */
typedef int (*mhttp_render_fn)(void *arg, struct metric_buf *out);

/* Listen on addr (an IPv4 or IPv6 literal) and port; port 0 picks one
 * (mhttp_port says which). 0 or -errno. */
int mhttp_new(struct loop *loop, const char *addr, uint16_t port,
	      mhttp_render_fn render, void *arg, struct mhttp **out);
/* Closes the listener and every connection. */
void mhttp_free(struct mhttp *h);
uint16_t mhttp_port(const struct mhttp *h);

#endif
