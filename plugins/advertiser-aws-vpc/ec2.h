/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An EC2 Query API client on the host's HTTP service: each call is a
 * form-encoded POST (Action, Version=2016-11-15, the parameters), signed
 * with SigV4 (sigv4.h) with the current credentials (creds.h), never
 * blocking the loop.
 *
 * Rate: two token buckets, one for mutating calls (EC2's own bucket is 50,
 * refilled 5/s, per account and region) and one for the rest, kept below
 * EC2's so strata stays inside its limits by design. A call waits on a
 * timer for its token; it is never refused for want of one.
 *
 * Retries: throttling (RequestLimitExceeded, EC2ThrottledException, ...),
 * 5xx and transport errors (timeouts, refused or reset connections) are
 * tried again after a capped exponential backoff with full jitter
 * (uniform in [0, min(base * 2^(n-1), max)]), up to `attempts` in all.
 * Anything else EC2 says is the caller's to act on.
 *
 * Fencing: a call made with EC2_FENCED is sent only while fence() says
 * this node may still act (the route writer's lease, less a margin), and
 * each attempt's timeout is cut to what remains. fence() is asked again
 * before every attempt: a call whose next attempt would start after the
 * deadline fails with -ETIME instead.
 *
 * Secrets are never logged; the signed headers are zeroed once sent.
 */
#ifndef STRATA_AWS_VPC_EC2_H
#define STRATA_AWS_VPC_EC2_H

#include <stddef.h>
#include <stdint.h>

#include <strata/host.h>

#include "creds.h"
#include "ec2xml.h"
#include "sigv4.h"

#define EC2_API_VERSION "2016-11-15"
#define EC2_DEFAULT_TIMEOUT_NS (10 * 1000000000LL)
#define EC2_DEFAULT_ATTEMPTS 5
#define EC2_DEFAULT_BACKOFF_BASE_NS (500 * 1000000LL)
#define EC2_DEFAULT_BACKOFF_MAX_NS (20 * 1000000000LL)
/* Below EC2's buckets (mutating 50 + 5/s, describe 100 + 20/s): other
 * tools in the account share them. */
#define EC2_DEFAULT_MUTATE_BURST 40
#define EC2_DEFAULT_MUTATE_RATE 4
#define EC2_DEFAULT_DESCRIBE_BURST 50
#define EC2_DEFAULT_DESCRIBE_RATE 10
/* A fenced attempt is not started with less than this left. */
#define EC2_MIN_ATTEMPT_NS (200 * 1000000LL)

struct ec2_config {
	const char *endpoint; /* "https://ec2.us-east-1.amazonaws.com" */
	const char *region;   /* "us-east-1" */
	int64_t timeout_ns;   /* one attempt; 0: EC2_DEFAULT_TIMEOUT_NS */
	uint32_t attempts;    /* 1..20; 0: EC2_DEFAULT_ATTEMPTS */
	int64_t backoff_base_ns;
	int64_t backoff_max_ns;
	uint32_t mutate_burst, mutate_rate; /* rate per second */
	uint32_t describe_burst, describe_rate;
	/* ns this node may still act; asked before every EC2_FENCED
	 * attempt. */
	int64_t (*fence)(void *arg);
	void *fence_arg;
	uint32_t seed; /* the jitter's; 0: from the clock */
};

/* flags of ec2_call() */
#define EC2_MUTATING 0x1u /* takes a token of the mutating bucket */
#define EC2_FENCED 0x2u   /* only while fence() > 0 (see above) */

struct ec2_reply {
	/*
	 * 0: HTTP 200, body is the response (parse it with ec2xml).
	 * -EREMOTEIO: EC2 refused (ec2 set: its code and message).
	 * -EACCES: credentials or permissions (ec2 set).
	 * -ETIMEDOUT, -ECONNREFUSED, -EIO: transport, every attempt.
	 * -ETIME: the fence's deadline came first.
	 * -EPROTO: an answer that is not EC2's (status, no error XML).
	 * -EAGAIN, -EKEYEXPIRED, -ENOENT: no usable credentials (creds.h).
	 * -ECANCELED: ec2_free() with the call pending (no callback then).
	 */
	int err;
	int status; /* HTTP status of the last attempt; 0 when none */
	const char *body; /* NUL-terminated; len bytes */
	size_t len;
	const struct ec2_error *ec2; /* NULL unless EC2 said why */
	uint32_t attempts;
	int64_t elapsed_ns; /* from ec2_call() to this reply */
	const char *why; /* NULL when err is 0; names the action */
};

typedef void (*ec2_cb)(void *arg, const struct ec2_reply *r);

struct ec2;
struct ec2_call;

/* h, inst and creds must outlive it. 0, or -EINVAL with err naming the
 * setting, -ENOMEM. */
int ec2_new(const struct strata_host *h, struct strata_instance *inst,
	    const struct ec2_config *cfg, struct creds *creds,
	    struct ec2 **out, char *err, size_t errlen);
/* Cancels every call (no callbacks). */
void ec2_free(struct ec2 *c);

/*
 * Call `action` with params (borrowed for the call). cb runs on the loop,
 * exactly once unless cancelled, never inside ec2_call(). 0 and *out
 * (may be NULL), or -EINVAL / -ENOMEM with no callback to come.
 */
int ec2_call(struct ec2 *c, const char *action,
	     const struct sigv4_param *params, size_t n, uint32_t flags,
	     ec2_cb cb, void *arg, struct ec2_call **out);
void ec2_cancel(struct ec2_call *call);

/* How to treat what an attempt got. Pure, for tests. */
enum ec2_class {
	EC2_CLASS_OK,
	EC2_CLASS_RETRY,    /* 5xx, transport, RequestTimeout, ... */
	EC2_CLASS_THROTTLE, /* retried, and counted as a throttle */
	EC2_CLASS_DENIED,   /* credentials or permissions: stop */
	EC2_CLASS_FAIL,     /* EC2 said no: the caller decides */
};
/* transport_err: the HTTP layer's -errno (0 when an answer came); code:
 * EC2's error code or NULL. */
enum ec2_class ec2_classify(int transport_err, int status, const char *code);
/* The backoff before attempt n+1 (n >= 1 attempts made), given a uniform
 * random u in [0, 1). */
int64_t ec2_backoff(int64_t base_ns, int64_t max_ns, uint32_t n, double u);

struct ec2_action_stats {
	const char *action;
	uint64_t calls;     /* ec2_call()s */
	uint64_t attempts;  /* requests sent */
	uint64_t throttled; /* attempts EC2 throttled */
	uint64_t failed;    /* calls that ended with an error */
};
/* The per-action counters, in the order first called; n_max at most. */
size_t ec2_stats(const struct ec2 *c, struct ec2_action_stats *out,
		 size_t n_max);

#endif
